#!/usr/bin/env python3
"""test_auth: API keys, roles and brand scopes, route by route.

A key scoped to some brands: rules, items and recommendations of another
brand are 403 (a catalog batch with one such item is refused whole), and
an event on another brand's item is rejected alone with code "forbidden";
a profile read shows only what comes from the key's brands.

One maisond against the temporary cluster of tests/harness/with_pg.sh; it
makes its admin key at the first start (<data-dir>/admin.key). Other keys
are made over HTTP or with `maisond keys`.
"""

import os
import stat
import subprocess
import sys
import time
import uuid

import maison_test as mt
from maison_test import check, check_eq, check_error, test

SRV = None
TOKENS = []          # every secret seen, for the log and listing checks
ROLES = ["admin", "merchandising", "clienteling", "ingest", "privacy", "ops"]
UNKNOWN_KEY = "mz_0123456789abcdef_" + "0" * 64


def uid(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def item(item_id, brand="atelier", category="bags", price=100.0):
    return {"item_id": item_id, "brand": brand, "category": category,
            "price": price, "currency": "EUR", "available": True, "stock": 5,
            "launch_at": "2020-01-01T00:00:00Z",
            "end_at": "2099-01-01T00:00:00Z"}


def new_key(roles, brands=None, name="test"):
    body = {"name": name, "roles": roles}
    if brands is not None:
        body["brands"] = brands
    r = SRV.post("/v1/keys", body)
    check_eq(r.status, 201, "POST /v1/keys %r: %r" % (body, r))
    doc = r.json()
    TOKENS.append(doc["key"])
    return doc


def check_401(r, what):
    check_error(r, 401, "unauthorized")
    check_eq(r.header("WWW-Authenticate"), "Bearer",
             "%s: WWW-Authenticate" % what)


def eventually(fn, what, timeout_s=10.0):
    """Polls fn() until it is true (the daemon reloads keys after each
    checkpoint, every second here)."""
    deadline = time.monotonic() + timeout_s
    while not fn():
        check(time.monotonic() < deadline, what)
        time.sleep(0.1)


def cli(*args):
    p = subprocess.run([SRV.binary, "keys"] + list(args) +
                       ["--database-url", SRV.database_url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


# Each route: method, path maker, body maker, the roles that may call it
# (admin always may), and the status of a success.
def routes():
    def put_items():
        return {"items": [item(uid("it"))]}

    def existing_item():
        i = uid("it")
        check_eq(SRV.put("/v1/catalog/items", {"items": [item(i)]}).status,
                 200, "seed item")
        return i

    def event():
        return {"events": [{"event_id": uid("e"), "client_id": "c-auth",
                            "item_id": "seed", "type": "view"}]}
    return [
        ("PUT", lambda: "/v1/catalog/items", put_items,
         {"merchandising"}, 200),
        ("GET", lambda: "/v1/catalog/items/seed", None,
         {"merchandising"}, 200),
        ("GET", lambda: "/v1/catalog/items?limit=2", None,
         {"merchandising"}, 200),
        ("DELETE", lambda: "/v1/catalog/items/" + existing_item(), None,
         {"merchandising"}, 204),
        ("POST", lambda: "/v1/events", event,
         {"ingest", "clienteling"}, 200),
        ("GET", lambda: "/v1/clients/c-auth/recommendations?k=3", None,
         {"clienteling"}, 200),
        ("GET", lambda: "/v1/clients/c-auth/profile", None,
         {"clienteling"}, 200),
        ("PUT", lambda: "/v1/clients/c-auth/attributes",
         lambda: {"tier": "vip", "consent": {"personalization": True}},
         {"clienteling", "privacy"}, 200),
        ("DELETE", lambda: "/v1/clients/" + uid("gone"), None,
         {"privacy"}, 204),
        ("GET", lambda: "/v1/clients/c-auth/export", None, {"privacy"}, 200),
        ("PUT", lambda: "/v1/brands/atelier/rules", lambda: {},
         {"merchandising"}, 200),
        ("GET", lambda: "/v1/brands/atelier/rules", None,
         {"merchandising"}, 200),
        ("POST", lambda: "/v1/keys", lambda: {"roles": ["ops"]},
         set(), 201),
        ("GET", lambda: "/v1/keys", None, set(), 200),
        ("DELETE", lambda: "/v1/keys/0000000000000000", None, set(), 404),
        ("GET", lambda: "/v1/audit?limit=5", None, set(), 200),
        ("GET", lambda: "/metrics", None, {"ops"}, 200),
    ]


def call(method, path, body, key):
    r = SRV.req(method, path, body, key=key)
    if r.status == 201 and path == "/v1/keys":
        TOKENS.append(r.json()["key"])
    return r


@test
def admin_key_is_written_at_first_start_with_mode_0600():
    path = os.path.join(SRV.data_dir, "admin.key")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    check_eq(mode, 0o600, "admin.key mode")
    check(SRV.admin_key.startswith("mz_"), "admin.key holds a token")
    check_eq(SRV.get("/v1/keys").status, 200, "admin key lists keys")
    with open(SRV.log_path) as f:
        log = f.read()
    check("admin.key" in log, "the log says where the admin key went")


@test
def admin_key_is_not_rewritten_at_the_next_start():
    path = os.path.join(SRV.data_dir, "admin.key")
    before = open(path).read()
    mtime = os.stat(path).st_mtime_ns
    SRV.stop()
    SRV.start()
    check_eq(open(path).read(), before, "admin.key after a restart")
    check_eq(os.stat(path).st_mtime_ns, mtime, "admin.key mtime")
    check_eq(SRV.get("/v1/keys").status, 200, "same admin key works")


@test
def every_protected_route_is_401_without_a_key_or_with_a_wrong_one():
    for method, path, body, _, _ in routes():
        p = path()
        b = body() if body else None
        for key in (None, "nope", UNKNOWN_KEY, SRV.admin_key + "0",
                    SRV.admin_key[:-1] + ("0" if SRV.admin_key[-1] != "0"
                                          else "1")):
            r = SRV.req(method, p, b, key=key)
            check_401(r, "%s %s with key %r" % (method, p, key))


@test
def basic_scheme_or_bare_token_is_401():
    for header in ("Basic " + SRV.admin_key, SRV.admin_key, "Bearer"):
        r = SRV.get("/v1/keys", key=None, headers={"Authorization": header})
        check_401(r, "Authorization: %s" % header[:12])


@test
def health_and_readiness_stay_open():
    check_eq(SRV.get("/healthz", key=None).status, 200, "/healthz")
    check_eq(SRV.get("/readyz", key=None).status, 200, "/readyz")


@test
def each_route_is_403_without_its_role_and_allowed_with_it():
    keys = {role: new_key([role])["key"] for role in ROLES}
    for method, path, body, allowed, ok in routes():
        for role in ROLES:
            p = path()
            r = call(method, p, body() if body else None, keys[role])
            if role == "admin" or role in allowed:
                check_eq(r.status, ok, "%s %s as %s: %r" % (method, p, role,
                                                             r))
            else:
                check_error(r, 403, "forbidden")


@test
def a_key_with_two_roles_has_both():
    k = new_key(["ingest", "ops"])["key"]
    check_eq(SRV.get("/metrics", key=k).status, 200, "ops part")
    r = SRV.post("/v1/events", {"events": [
        {"event_id": uid("e"), "client_id": "c2", "item_id": "seed",
         "type": "view"}]}, key=k)
    check_eq(r.status, 200, "ingest part: %r" % r)
    check_error(SRV.get("/v1/keys", key=k), 403, "forbidden")


@test
def keys_are_created_listed_and_revoked_over_http():
    doc = new_key(["clienteling"], brands=["atelier"], name="boutique")
    for field in ("key_id", "key", "name", "roles", "brands", "created_at"):
        check(field in doc, "create reply has %s: %r" % (field, doc))
    check_eq(doc["roles"], ["clienteling"], "roles")
    check_eq(doc["brands"], ["atelier"], "brands")
    check_eq(doc["name"], "boutique", "name")
    check(doc["key"].startswith("mz_%s_" % doc["key_id"]), "token format")
    listed = SRV.get("/v1/keys")
    check_eq(listed.status, 200, "GET /v1/keys")
    keys = {k["key_id"]: k for k in listed.json()["keys"]}
    check(doc["key_id"] in keys, "new key listed")
    check("key" not in keys[doc["key_id"]], "no secret in the listing")
    for token in TOKENS + [SRV.admin_key]:
        check(token not in listed.text, "a secret appears in GET /v1/keys")
        check(token.split("_")[2] not in listed.text,
              "a secret's hex appears in GET /v1/keys")
    k = doc["key"]
    check_eq(SRV.get("/v1/clients/cx/recommendations?k=2&brand=atelier",
                     key=k).status, 200, "key works")
    check_eq(SRV.delete("/v1/keys/" + doc["key_id"]).status, 204, "revoke")
    check_401(SRV.get("/v1/clients/cx/recommendations?k=2", key=k),
              "revoked key")
    check_error(SRV.delete("/v1/keys/" + doc["key_id"]), 404, "not_found")
    listed = SRV.get("/v1/keys").json()["keys"]
    check(doc["key_id"] not in [x["key_id"] for x in listed],
          "revoked key not listed")


@test
def a_rate_limit_is_accepted_and_stored():
    r = SRV.post("/v1/keys", {"roles": ["ingest"], "rate_limit": {
        "requests_per_s": 50, "burst": 100}})
    check_eq(r.status, 201, "create: %r" % r)
    TOKENS.append(r.json()["key"])
    SRV.stop()
    SRV.start()
    keys = {k["key_id"]: k for k in SRV.get("/v1/keys").json()["keys"]}
    rl = keys[r.json()["key_id"]]["rate_limit"]
    check_eq(rl, {"requests_per_s": 50.0, "burst": 100}, "rate_limit")


@test
def bad_key_requests_are_400():
    for body, field in (({}, "roles"), ({"roles": []}, "roles"),
                        ({"roles": ["root"]}, "roles[0]"),
                        ({"roles": ["ops"], "brands": ["*", "a"]}, "brands"),
                        ({"roles": ["ops"], "colour": 1}, "colour"),
                        ({"roles": ["ops"], "rate_limit": {"burst": 2}},
                         "requests_per_s"),
                        ({"roles": ["admin"], "brands": ["atelier"]},
                         "brands")):
        check_error(SRV.post("/v1/keys", body), 400, "invalid_input", field)


@test
def keys_survive_a_restart():
    doc = new_key(["privacy"])
    SRV.stop()
    SRV.start()
    check_eq(SRV.delete("/v1/clients/" + uid("c"), key=doc["key"]).status,
             204, "key after restart")


@test
def cli_creates_lists_and_revokes_keys():
    rc, out, err = cli("create", "--role", "merchandising,ops",
                       "--brands", "atelier,bolt", "--name", "cli-key")
    check_eq(rc, 0, "keys create exit status (%s)" % err)
    token = out.strip().splitlines()[-1]
    TOKENS.append(token)
    check(token.startswith("mz_"), "last line is the secret: %r" % out)
    key_id = token.split("_")[1]
    rc, out, err = cli("list")
    check_eq(rc, 0, "keys list exit status (%s)" % err)
    check(key_id in out and "cli-key" in out, "listed: %r" % out)
    check(token not in out, "no secret in keys list")
    # The running daemon picks it up when it reloads its keys.
    eventually(lambda: SRV.put("/v1/brands/atelier/rules", {},
                               key=token).status == 200,
               "the CLI key works as a bearer key without a restart")
    check_eq(SRV.get("/metrics", key=token).status, 200, "its second role")
    check_error(SRV.put("/v1/brands/cirque/rules", {}, key=token), 403,
                "forbidden")
    rc, out, err = cli("revoke", key_id)
    check_eq(rc, 0, "keys revoke exit status (%s)" % err)
    rc, _, _ = cli("revoke", key_id)
    check_eq(rc, 1, "revoking twice fails")
    eventually(lambda: SRV.get("/v1/brands/atelier/rules",
                               key=token).status == 401,
               "the CLI revocation reaches the running daemon")
    check_401(SRV.get("/v1/brands/atelier/rules", key=token), "revoked key")
    SRV.stop()
    SRV.start()
    check_401(SRV.get("/v1/brands/atelier/rules", key=token),
              "revoked key after a restart")


@test
def cli_refuses_bad_arguments():
    check_eq(cli("create")[0], 2, "create without --role")
    check_eq(cli("create", "--role", "root")[0], 2, "unknown role")
    check_eq(cli("revoke")[0], 2, "revoke without an id")
    check_eq(cli("create", "--role", "admin", "--brands", "atelier")[0], 2,
             "a scoped admin key")


@test
def rules_of_another_brand_are_403():
    k = new_key(["merchandising"], brands=["atelier"])["key"]
    check_eq(SRV.put("/v1/brands/atelier/rules", {}, key=k).status, 200,
             "own brand")
    check_eq(SRV.get("/v1/brands/atelier/rules", key=k).status, 200,
             "own brand read")
    check_error(SRV.put("/v1/brands/bolt/rules", {}, key=k), 403, "forbidden")
    check_error(SRV.get("/v1/brands/bolt/rules", key=k), 403, "forbidden")


@test
def a_catalog_batch_with_an_item_of_another_brand_is_refused_whole():
    k = new_key(["merchandising"], brands=["atelier"])["key"]
    mine, theirs = uid("mine"), uid("theirs")
    r = SRV.put("/v1/catalog/items", {"items": [
        item(mine), item(theirs, brand="bolt")]}, key=k)
    check_error(r, 403, "forbidden")
    check_eq(SRV.get("/v1/catalog/items/" + mine).status, 404,
             "nothing of the refused batch applied")
    # Taking over another brand's item by its id is refused too.
    check_error(SRV.put("/v1/catalog/items", {"items": [item("seed-bolt")]},
                        key=k), 403, "forbidden")
    check_eq(SRV.get("/v1/catalog/items/seed-bolt").json()["brand"], "bolt",
             "seed-bolt unchanged")
    check_eq(SRV.put("/v1/catalog/items", {"items": [item(mine)]},
                     key=k).status, 200, "own brand only")


@test
def an_item_of_another_brand_cannot_be_read_or_deleted():
    k = new_key(["merchandising"], brands=["atelier"])["key"]
    check_eq(SRV.get("/v1/catalog/items/seed", key=k).status, 200, "own")
    check_error(SRV.get("/v1/catalog/items/seed-bolt", key=k), 403,
                "forbidden")
    check_error(SRV.delete("/v1/catalog/items/seed-bolt", key=k), 403,
                "forbidden")
    check_eq(SRV.get("/v1/catalog/items/seed-bolt").status, 200,
             "still there")


@test
def scoped_recommendations_show_only_the_scope():
    k = new_key(["clienteling"], brands=["atelier"])["key"]
    check_error(SRV.get("/v1/clients/c-scope/recommendations?brand=bolt",
                        key=k), 403, "forbidden")
    r = SRV.get("/v1/clients/c-scope/recommendations?brand=atelier&k=50",
                key=k)
    check_eq(r.status, 200, "own brand: %r" % r)
    r = SRV.get("/v1/clients/c-scope/recommendations?k=50", key=k)
    check_eq(r.status, 200, "no brand: %r" % r)
    brands = {i["brand"] for i in r.json()["items"]}
    check(brands == {"atelier"}, "scoped key sees only atelier: %r" % brands)
    everyone = SRV.get("/v1/clients/c-scope/recommendations?k=50").json()
    check("bolt" in {i["brand"] for i in everyone["items"]},
          "an all-brands key sees bolt")


@test
def an_event_on_another_brands_item_is_rejected_forbidden():
    k = new_key(["ingest"], brands=["atelier"])["key"]
    r = SRV.post("/v1/events", {"events": [
        {"event_id": uid("e"), "client_id": "c-ev", "item_id": "seed",
         "type": "view"},
        {"event_id": uid("e"), "client_id": "c-ev", "item_id": "seed-bolt",
         "type": "view"}]}, key=k)
    check_eq(r.status, 200, "batch: %r" % r)
    doc = r.json()
    check_eq(doc["accepted"], 1, "accepted")
    check_eq(len(doc["rejected"]), 1, "rejected: %r" % doc)
    check_eq(doc["rejected"][0]["index"], 1, "rejected index: %r" % doc)
    check_eq(doc["rejected"][0]["error"]["code"], "forbidden",
             "rejection code")


@test
def a_scoped_key_reads_profiles_kept_to_its_brands():
    # The client viewed atelier's "seed" and has attributes: a key of
    # another house sees the profile, and nothing of atelier in it.
    client = uid("c-scoped")
    path = "/v1/clients/%s/profile" % client
    check_eq(SRV.post("/v1/events", {"events": [
        {"event_id": uid("e"), "client_id": client, "item_id": "seed",
         "type": "view"}]}).status, 200, "event")
    check_eq(SRV.put("/v1/clients/%s/attributes" % client,
                     {"tiers": {"atelier": "vip"}}).status, 200, "tiers")
    full = SRV.get(path)
    check_eq(full.status, 200, "profile with the admin key")
    check("seed" in full.text, "the admin key sees atelier's item")
    k = new_key(["clienteling"], brands=["maison-x"])["key"]
    r = SRV.get(path, key=k)
    check_eq(r.status, 200, "profile with a key of another brand")
    check("seed" not in r.text and "atelier" not in r.text,
          "nothing of atelier in the scoped profile: %s" % r.text)
    check("events_logged" not in r.json(),
          "the count of every house's events is not shown")
    own = new_key(["clienteling"], brands=["atelier"])["key"]
    r = SRV.get(path, key=own)
    check_eq(r.status, 200, "profile with atelier's key")
    check("seed" in r.text, "atelier's key sees its item")


@test
def no_secret_appears_in_the_log_or_the_metrics():
    metrics = SRV.get("/metrics").text
    with open(SRV.log_path) as f:
        log = f.read()
    check(len(TOKENS) > 5, "the tests made keys")
    for token in TOKENS + [SRV.admin_key]:
        secret = token.split("_")[2]
        check(secret not in log, "a secret is in the log")
        check(secret not in metrics, "a secret is in /metrics")


def main():
    global SRV
    mt.require_environment()
    # Checkpoints every second: the keys the CLI makes are reloaded then.
    SRV = mt.Maisond(name="maisond-auth", checkpoint_interval_s=1)
    return mt.run_with_server(SRV, lambda: SRV.load_catalog(
        [item("seed"), item("seed-bolt", brand="bolt")] +
        [item("a%d" % i, price=100.0 + i) for i in range(6)] +
        [item("b%d" % i, brand="bolt", price=90.0 + i) for i in range(6)]))


if __name__ == "__main__":
    sys.exit(main())
