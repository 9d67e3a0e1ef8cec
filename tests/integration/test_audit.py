#!/usr/bin/env python3
"""test_audit: the audit log (GET /v1/audit) and a client's export
(GET /v1/clients/{id}/export), over HTTP.

- Every kind of change (catalog upsert and delete, rules, attributes,
  consent, erasure, keys over HTTP and with `maisond keys`) leaves its
  audit rows with the caller's key id, the action, the target and the
  version; a refused change (400, 403, 404) leaves none.
- An erased client's id is nowhere in GET /v1/audit nor in the audit
  table, but its keyed digest is, the same for the same id (also after a
  restart), different for another id.
- Only admin reads the audit log; only privacy (of every brand) exports.
- Paging with next_cursor returns every row once, in id order; bad
  since/limit/cursor are 400.
- The export holds the events in log order, the attributes, the consent
  history, the facts and the audit rows that name the client; an unknown
  or erased client is 404; past 10,000 events it holds the first ones
  and says truncated.
Takes about 15 s.
"""

import json
import subprocess
import sys
import uuid

import maison_test as mt
from maison_test import check, check_eq, check_error, test

SRV = None
DB = None
ROLES = ["admin", "merchandising", "clienteling", "ingest", "privacy", "ops"]


def uid(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def item(item_id, brand="atelier", price=100.0):
    return {"item_id": item_id, "brand": brand, "category": "bags",
            "price": price, "available": True}


def new_key(roles, brands=None):
    body = {"name": "audit-test", "roles": roles}
    if brands is not None:
        body["brands"] = brands
    r = SRV.post("/v1/keys", body)
    check_eq(r.status, 201, "POST /v1/keys %r: %r" % (body, r))
    return r.json()


def last_id():
    return int(mt.psql("SELECT coalesce(max(id), 0) FROM audit", DB).strip())


def audit_after(mark):
    """Every row after audit id mark, through the API, following cursors."""
    rows, cursor = [], None
    while True:
        path = "/v1/audit?since=%d&limit=1000" % mark
        if cursor:
            path += "&cursor=" + cursor
        r = SRV.get(path)
        check_eq(r.status, 200, "GET %s: %r" % (path, r))
        doc = r.json()
        rows += doc["entries"]
        cursor = doc["next_cursor"]
        if cursor is None:
            return rows


def one_row(rows, what):
    check_eq(len(rows), 1, "%s: one audit row, got %r" % (what, rows))
    return rows[0]


def check_row(row, key_id, action, target, version=None, what=""):
    check_eq(row["key_id"], key_id, "%s key_id" % what)
    check_eq(row["action"], action, "%s action" % what)
    check_eq(row["target"], target, "%s target" % what)
    check_eq(row["version"], version, "%s version" % what)
    check(row["at"].endswith("Z") and "T" in row["at"], "%s at" % what)


def cli(*args):
    p = subprocess.run([SRV.binary, "keys"] + list(args) +
                       ["--database-url", DB],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    check_eq(p.returncode, 0, "maisond keys %s: %s" % (args, p.stderr))
    return p.stdout.decode()


def post_events(client, events, key="admin"):
    body = {"events": [dict(e, client_id=client) for e in events]}
    r = SRV.post("/v1/events", body, key=key)
    check_eq(r.status, 200, "POST /v1/events: %r" % r)
    return r.json()


@test
def every_change_leaves_one_audit_row_with_key_action_target_version():
    merch = new_key(["merchandising"])
    clienteling = new_key(["clienteling"])
    privacy = new_key(["privacy"])

    mark = last_id()
    i1, i2, i3 = uid("it"), uid("it"), uid("it")
    r = SRV.put("/v1/catalog/items", {"items": [item(i1)]}, key=merch["key"])
    check_eq(r.status, 200, "upsert: %r" % r)
    row = one_row(audit_after(mark), "upsert of one item")
    check_row(row, merch["key_id"], "catalog.upsert", i1, what="upsert")
    check_eq(row["detail"], {"batch_items": 1}, "upsert detail")

    mark = last_id()
    r = SRV.put("/v1/catalog/items", {"items": [item(i2), item(i3)]},
                key=merch["key"])
    check_eq(r.status, 200, "upsert of two: %r" % r)
    rows = audit_after(mark)
    check_eq(sorted(x["target"] for x in rows), sorted([i2, i3]),
             "one row per item of a batch")
    for x in rows:
        check_row(x, merch["key_id"], "catalog.upsert", x["target"])
        check_eq(x["detail"], {"batch_items": 2}, "batch detail")

    mark = last_id()
    r = SRV.delete("/v1/catalog/items/" + i1, key=merch["key"])
    check_eq(r.status, 204, "delete: %r" % r)
    check_row(one_row(audit_after(mark), "delete"), merch["key_id"],
              "catalog.delete", i1, what="delete")

    mark = last_id()
    r = SRV.put("/v1/brands/atelier/rules", {}, key=merch["key"])
    check_eq(r.status, 200, "rules: %r" % r)
    check_row(one_row(audit_after(mark), "rules"), merch["key_id"],
              "rules.put", "atelier", r.json()["version"], what="rules")

    client = uid("c")
    mark = last_id()
    r = SRV.put("/v1/clients/%s/attributes" % client, {"tier": "vip"},
                key=clienteling["key"])
    check_eq(r.status, 200, "attributes: %r" % r)
    check_row(one_row(audit_after(mark), "attributes"),
              clienteling["key_id"], "client.attributes", client,
              what="attributes")

    mark = last_id()
    r = SRV.put("/v1/clients/%s/attributes" % client,
                {"tier": "vip", "consent": {"personalization": False}},
                key=privacy["key"])
    check_eq(r.status, 200, "consent: %r" % r)
    rows = audit_after(mark)
    check_eq([x["action"] for x in rows],
             ["client.consent", "client.attributes"],
             "a consent change: its marker's row, then the attributes")
    seq = int(mt.psql("SELECT max(seq) FROM events WHERE client_id = '%s' "
                      "AND type = 'consent_withdrawn'" % client, DB))
    check_row(rows[0], privacy["key_id"], "client.consent", client, seq,
              what="consent")
    check_eq(rows[0]["detail"], {"personalization": False}, "consent detail")

    mark = last_id()
    made = new_key(["ops"], None)
    row = one_row(audit_after(mark), "key create")
    check_row(row, SRV_ADMIN_KEY_ID, "key.create", made["key_id"],
              what="key create")
    check_eq(row["detail"]["roles"], ["ops"], "key create detail roles")
    check_eq(row["detail"]["brands"], ["*"], "key create detail brands")
    secret = made["key"].split("_")[2]
    check(secret not in json.dumps(row), "no secret in the audit row")
    check(secret not in mt.psql("SELECT detail::text FROM audit", DB),
          "no secret in the audit table")

    mark = last_id()
    check_eq(SRV.delete("/v1/keys/" + made["key_id"]).status, 204, "revoke")
    check_row(one_row(audit_after(mark), "key revoke"), SRV_ADMIN_KEY_ID,
              "key.revoke", made["key_id"], what="key revoke")

    mark = last_id()
    out = cli("create", "--role", "ingest", "--name", "from-cli")
    cli_key_id = out.split()[1]
    check_row(one_row(audit_after(mark), "cli create"), "cli", "key.create",
              cli_key_id, what="cli create")
    mark = last_id()
    cli("revoke", cli_key_id)
    check_row(one_row(audit_after(mark), "cli revoke"), "cli", "key.revoke",
              cli_key_id, what="cli revoke")

    mark = last_id()
    check_eq(SRV.delete("/v1/clients/" + client, key=privacy["key"]).status,
             204, "erase")
    row = one_row(audit_after(mark), "erase")
    check_eq(row["key_id"], privacy["key_id"], "erase key_id")
    check_eq(row["action"], "client.erase", "erase action")
    check(row["target"].startswith("digest:"), "erase target is a digest")


@test
def a_refused_change_leaves_no_audit_row():
    scoped = new_key(["merchandising"], ["atelier"])
    mark = last_id()
    bad = item(uid("it"))
    bad["price"] = "free"
    check_error(SRV.put("/v1/catalog/items",
                        {"items": [item(uid("it")), bad]}), 400,
                "invalid_input")
    check_error(SRV.put("/v1/catalog/items",
                        {"items": [item(uid("it")),
                                   item(uid("it"), brand="bolt")]},
                        key=scoped["key"]), 403, "forbidden")
    check_error(SRV.put("/v1/brands/bolt/rules", {}, key=scoped["key"]), 403,
                "forbidden")
    check_error(SRV.put("/v1/brands/atelier/rules", {"bogus": 1}), 400,
                "invalid_input")
    check_eq(SRV.delete("/v1/catalog/items/" + uid("none")).status, 404,
             "delete of an unknown item")
    check_eq(SRV.delete("/v1/keys/0000000000000000").status, 404,
             "revoke of an unknown key")
    check_error(SRV.put("/v1/clients/%s/attributes" % uid("c"),
                        {"tier": 7}), 400, "invalid_input")
    check_error(SRV.post("/v1/keys", {"roles": ["wizard"]}), 400,
                "invalid_input")
    check_eq(last_id(), mark, "audit rows after refused changes")
    check_eq(audit_after(mark), [], "GET /v1/audit after refused changes")


def audit_table_text():
    return mt.psql("SELECT key_id || ' ' || action || ' ' || target || ' ' "
                   "|| coalesce(detail::text, '') FROM audit", DB)


def all_audit_text():
    return json.dumps(audit_after(0))


def make_and_erase(client):
    """Gives client attributes and a consent change, erases it, and
    returns the digest its erasure row names."""
    SRV.put("/v1/clients/%s/attributes" % client,
            {"tier": "gold", "consent": {"personalization": False}})
    post_events(client, [{"event_id": uid("e"), "item_id": "seed",
                          "type": "view"}])
    check(client in all_audit_text(), "the live client's id is shown")
    mark = last_id()
    check_eq(SRV.delete("/v1/clients/" + client).status, 204, "erase")
    row = one_row(audit_after(mark), "erase")
    check(row["target"].startswith("digest:") and len(row["target"]) == 71,
          "digest form: %r" % row["target"])
    return row["target"]


@test
def an_erased_client_appears_only_as_its_digest_the_same_for_the_same_id():
    client = uid("erased")
    digest = make_and_erase(client)
    check(client not in all_audit_text(), "id in GET /v1/audit")
    check(client not in audit_table_text(), "id in the audit table")
    n = int(mt.psql("SELECT count(*) FROM audit WHERE target = '%s'" %
                    digest, DB))
    check_eq(n, 3, "attributes, consent and erase rows under the digest")
    actions = mt.psql("SELECT action FROM audit WHERE target = '%s' "
                      "ORDER BY id" % digest, DB).split()
    check_eq(actions, ["client.consent", "client.attributes",
                       "client.erase"], "the digest's rows")
    check(digest in all_audit_text(), "the digest is in GET /v1/audit")
    # The same id again, after a restart: the same digest (the key is in
    # PostgreSQL, not in the process); another id: another digest.
    SRV.restart()
    check_eq(make_and_erase(client), digest, "the same id's digest")
    check(make_and_erase(uid("other")) != digest, "another id's digest")
    check(client not in audit_table_text(), "id in the audit table")
    check_eq(SRV.get("/v1/clients/%s/export" % client).status, 404,
             "export of an erased client")
    check(digest[7:] not in mt.psql("SELECT encode(key, 'hex') "
                                    "FROM audit_key", DB),
          "the digest is not the key")


@test
def only_admin_reads_the_audit_log_and_only_privacy_of_every_brand_exports():
    keys = {role: new_key([role])["key"] for role in ROLES}
    client = uid("c")
    post_events(client, [{"event_id": uid("e"), "item_id": "seed",
                          "type": "view"}])
    for role in ROLES:
        r = SRV.get("/v1/audit", key=keys[role])
        if role == "admin":
            check_eq(r.status, 200, "audit as admin")
        else:
            check_error(r, 403, "forbidden")
        r = SRV.get("/v1/clients/%s/export" % client, key=keys[role])
        if role in ("admin", "privacy"):
            check_eq(r.status, 200, "export as %s: %r" % (role, r))
        else:
            check_error(r, 403, "forbidden")
    scoped = new_key(["privacy"], ["atelier"])
    check_error(SRV.get("/v1/clients/%s/export" % client, key=scoped["key"]),
                403, "forbidden")
    for path in ("/v1/audit", "/v1/clients/%s/export" % client):
        r = SRV.get(path, key=None)
        check_error(r, 401, "unauthorized")


@test
def paging_with_the_cursor_returns_every_row_once_in_id_order():
    mark = last_id()
    ids = [uid("pg") for _ in range(23)]
    for i in ids:
        check_eq(SRV.put("/v1/catalog/items", {"items": [item(i)]}).status,
                 200, "upsert")
    want = [int(x) for x in mt.psql(
        "SELECT id FROM audit WHERE id > %d ORDER BY id" % mark, DB).split()]
    check_eq(len(want), 23, "rows made")
    got, cursor, pages = [], None, 0
    while True:
        path = "/v1/audit?since=%d&limit=5" % mark
        if cursor:
            path += "&cursor=" + cursor
        doc = SRV.get(path).json()
        check(len(doc["entries"]) <= 5, "page bounded by limit")
        got += [e["id"] for e in doc["entries"]]
        pages += 1
        cursor = doc["next_cursor"]
        if cursor is None:
            break
    check_eq(got, want, "every row once, in id order")
    check_eq(pages, 5, "pages of 5")
    check_eq([e["target"] for e in audit_after(mark)], ids, "targets")
    # A time: rows at or after it; the far future has none.
    r = SRV.get("/v1/audit?since=2999-01-01T00:00:00Z")
    check_eq(r.json(), {"entries": [], "next_cursor": None}, "future")
    r = SRV.get("/v1/audit?since=2000-01-01T00:00:00Z&limit=1")
    check_eq(r.status, 200, "a past time")
    check_eq(len(r.json()["entries"]), 1, "limit 1")
    check(r.json()["next_cursor"] is not None, "more after one row")
    batch = [item(uid("pg")) for _ in range(101)]
    check_eq(SRV.put("/v1/catalog/items", {"items": batch}).status, 200,
             "a batch of 101")
    r = SRV.get("/v1/audit?since=%d" % want[-1])
    check_eq([e["target"] for e in r.json()["entries"]],
             [i["item_id"] for i in batch[:100]], "default limit 100")


@test
def bad_since_limit_or_cursor_is_400():
    for query in ("since=yesterday", "since=2026-13-01T00:00:00Z",
                  "since=-5", "since=1e3", "limit=0", "limit=1001",
                  "limit=ten", "cursor=abc", "cursor=-1", "cursor=",
                  "cursor=12345678901234567890"):
        check_error(SRV.get("/v1/audit?" + query), 400, "invalid_input")


@test
def the_export_holds_events_in_order_attributes_consent_history_and_audit():
    client = uid("exp")
    check_eq(SRV.get("/v1/clients/%s/export" % client).status, 404,
             "unknown client")
    privacy = new_key(["privacy"])
    events = [{"event_id": uid("e"), "item_id": "seed", "type": "view",
               "ts": "2026-11-20T10:00:%02dZ" % i} for i in range(5)]
    events.append({"event_id": uid("e"), "item_id": "seed",
                   "type": "purchase", "value": 1200,
                   "ts": "2026-11-20T10:01:00Z"})
    post_events(client, events[:3])
    SRV.put("/v1/clients/%s/attributes" % client,
            {"tier": "vip", "tiers": {"bolt": "prospect"}, "region": "FR",
             "consent": {"personalization": False}}, key=privacy["key"])
    SRV.put("/v1/clients/%s/attributes" % client,
            {"tier": "vip", "tiers": {"bolt": "prospect"}, "region": "FR",
             "consent": {"personalization": True}}, key=privacy["key"])
    post_events(client, events[3:])
    r = SRV.get("/v1/clients/%s/export" % client, key=privacy["key"])
    check_eq(r.status, 200, "export: %r" % r)
    doc = r.json()
    check_eq(doc["client_id"], client, "client_id")
    check_eq((doc["tier"], doc["tiers"], doc["region"]),
             ("vip", {"bolt": "prospect"}, "FR"), "attributes")
    check_eq(doc["consent"], {"personalization": True}, "consent in force")
    logged = [e for e in doc["events"] if not e["type"].startswith("consent")]
    check_eq([e["event_id"] for e in logged], [e["event_id"] for e in events],
             "the client's events, in log order")
    seqs = [e["seq"] for e in doc["events"]]
    check_eq(seqs, sorted(seqs), "log order")
    check_eq([e["type"] for e in doc["events"]],
             ["view"] * 3 + ["consent_withdrawn", "consent_granted"] +
             ["view"] * 2 + ["purchase"], "markers in their place")
    check_eq(doc["events_total"], 8, "events_total")
    check_eq(doc["truncated"], False, "not truncated")
    check_eq([h["personalization"] for h in doc["consent_history"]],
             [False, True], "consent history")
    for h in doc["consent_history"]:
        check(h["at"].endswith("Z") and h["seq"] > 0, "history entry %r" % h)
    check_eq([p["item_id"] for p in doc["purchases"]], ["seed"], "facts")
    check(isinstance(doc["levels"], list) and doc["levels"], "levels")
    check(all("name" in lv for lv in doc["levels"]), "levels in words")
    check_eq([(a["action"], a["key_id"]) for a in doc["audit"]],
             [("client.consent", privacy["key_id"]),
              ("client.attributes", privacy["key_id"])] * 2,
             "the audit rows that name the client")
    check(all(a["target"] == client for a in doc["audit"]), "audit targets")
    check_eq(SRV.delete("/v1/clients/" + client).status, 204, "erase")
    r = SRV.get("/v1/clients/%s/export" % client, key=privacy["key"])
    check_error(r, 404, "not_found")


@test
def an_export_past_its_bound_is_cut_in_log_order_and_says_truncated():
    client = uid("many")
    ids = []
    for b in range(11):
        batch = [{"event_id": "%s-%05d" % (client, b * 1000 + i),
                  "item_id": "seed", "type": "view"} for i in range(1000)]
        ids += [e["event_id"] for e in batch]
        post_events(client, batch)
    doc = SRV.get("/v1/clients/%s/export" % client).json()
    check_eq(doc["events_total"], 11000, "every event counted")
    check_eq(len(doc["events"]), 10000, "the bound")
    check_eq([e["event_id"] for e in doc["events"]], ids[:10000],
             "the first ones, in log order")
    check_eq(doc["truncated"], True, "truncated")


SRV_ADMIN_KEY_ID = None


def load_catalog():
    global SRV_ADMIN_KEY_ID
    r = SRV.put("/v1/catalog/items", {"items": [
        item("seed"), item("seed-bolt", brand="bolt")]})
    if r.status != 200:
        raise mt.StartError("loading the test catalog: %r" % r)
    SRV_ADMIN_KEY_ID = SRV.admin_key.split("_")[1]


def main():
    global SRV, DB
    mt.require_environment()
    DB = mt.create_database("audit")
    SRV = mt.Maisond(database_url=DB, name="maisond-audit")
    return mt.run_with_server(SRV, load_catalog)


if __name__ == "__main__":
    sys.exit(main())
