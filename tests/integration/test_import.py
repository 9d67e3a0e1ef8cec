#!/usr/bin/env python3
"""test_import: POST /v1/events:import and `maisond import`.

- Bad lines (malformed JSON, wrong types, an unknown item, a line over
  64 KiB, a NUL byte, not an object) are rejected by line number while the
  other lines are applied; blank lines are skipped but numbered; the last
  line may lack its newline; a body far over the 1 MiB cap of JSON bodies
  streams, with Content-Length or chunked.
- A re-import gives all duplicates; 415 without application/x-ndjson, 401
  without a key, 403 with a key of another role; a key of one brand gets
  the lines of another brand rejected alone ("forbidden").
- PostgreSQL stopped during an import: the batches before are committed,
  the answer is 503 with the settled lines, and the rest sent again is
  accepted.
- Equivalence: the Diginetica raw sample (or the generated stream of
  test_recovery.py) imported into server B gives every client the same
  profile and the same recommendations as the same events posted through
  POST /v1/events in batches of 100 into server A on another database.
- `maisond import --events FILE` (ndjson and csv) and `--catalog FILE`:
  counts, rejected lines by file line, exit status.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import maison_test as mt
from maison_test import check, check_eq, check_error, test
from test_recovery import load_stream

SRV = None
NDJSON = "application/x-ndjson"
TOLERANCE = 1e-4


def uid(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def item(item_id, brand="atelier", category="bags", price=100.0):
    return {"item_id": item_id, "brand": brand, "category": category,
            "price": price, "currency": "EUR", "available": True}


def event(client, item_id="imp-bag", etype="view", ts=1700000000, **kw):
    e = {"event_id": uid("e"), "client_id": client, "item_id": item_id,
         "type": etype, "ts": ts}
    e.update(kw)
    return e


def ndjson(events):
    return "".join(json.dumps(e) + "\n" for e in events).encode()


def import_body(srv, body, key="admin", content_type=NDJSON, timeout=120):
    return srv.req("POST", "/v1/events:import", body, key=key,
                   content_type=content_type, timeout=timeout)


def chunked_import(port, key, pieces, timeout=60):
    """Sends pieces (bytes) as the chunks of one chunked import, calling
    a piece when it is a function (between chunks); returns the
    Response."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        head = ("POST /v1/events:import HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s\r\nContent-Type: %s\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                % (key, NDJSON))
        sock.sendall(head.encode())
        for p in pieces:
            if callable(p):
                p()
                continue
            sock.sendall(b"%x\r\n" % len(p) + p + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        import http.client
        resp = http.client.HTTPResponse(sock, method="POST")
        resp.begin()
        body = resp.read()
        return mt.Response(resp.status, resp.reason,
                           {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        sock.close()


def profile(srv, client):
    r = srv.get("/v1/clients/%s/profile" % client)
    check_eq(r.status, 200, "profile of %s: %r" % (client, r))
    return r.json()


def learned_events(srv, client):
    r = srv.get("/v1/clients/%s/profile" % client)
    return r.json()["events_learned"] if r.status == 200 else 0


# ---------------------------------------------------------------- the route


@test
def bad_lines_are_rejected_by_line_number_and_the_others_applied():
    client = uid("c")
    good = [event(client, ts=1700000000 + i) for i in range(3)]
    long_line = json.dumps(event(client, channel="x" * 70000))
    lines = [
        json.dumps(good[0]),                                    # 1
        "",                                                     # 2 blank
        '{"event_id": "broken", ',                              # 3
        json.dumps(event(client, quantity="two")),              # 4
        json.dumps(event(client, item_id="no-such-item")),      # 5
        long_line,                                              # 6
        '{"event_id":"nul\x00","client_id":"c","type":"view"}',  # 7
        "   \t",                                                # 8 blank
        json.dumps(good[1]) + "\r",                             # 9 CRLF
        "[1, 2]",                                               # 10
        json.dumps(good[2]),                                    # 11, no \n
    ]
    r = import_body(SRV, "\n".join(lines).encode())
    check_eq(r.status, 200, "import: %r" % r)
    doc = r.json()
    check_eq({k: doc[k] for k in ("accepted", "duplicates", "rejected",
                                  "lines")},
             {"accepted": 3, "duplicates": 0, "rejected": 6, "lines": 11},
             "counts")
    got = [(x["line"], x["error"]["code"]) for x in doc["rejected_lines"]]
    check_eq(got, [(3, "invalid_input"), (4, "invalid_input"),
                   (5, "unknown_item"), (6, "payload_too_large"),
                   (7, "invalid_input"), (10, "invalid_input")],
             "rejected lines")
    messages = {x["line"]: x["error"]["message"]
                for x in doc["rejected_lines"]}
    check("quantity" in messages[4], "line 4 names quantity: %r" % messages)
    check("item_id" in messages[5], "line 5 names item_id: %r" % messages)
    check("65536" in messages[6], "line 6 names the limit: %r" % messages)
    check("NUL" in messages[7], "line 7 says NUL: %r" % messages)
    check_eq(profile(SRV, client)["events_learned"], 3, "events learned")


@test
def a_line_of_64_kib_is_read_with_either_line_end_one_byte_more_is_not():
    at_limit = b"x" * 65536
    body = (at_limit + b"\n" + at_limit + b"\r\n" + at_limit + b"x\n" +
            at_limit + b"x\r\n" + at_limit + b"x")
    doc = import_body(SRV, body).json()
    check_eq([(x["line"], x["error"]["code"]) for x in doc["rejected_lines"]],
             [(1, "invalid_input"), (2, "invalid_input"),
              (3, "payload_too_large"), (4, "payload_too_large"),
              (5, "payload_too_large")], "rejected lines")


@test
def a_reimport_gives_all_duplicates():
    events = [event(uid("c"), ts=1700000000 + i) for i in range(2500)]
    body = ndjson(events)
    first = import_body(SRV, body).json()
    check_eq((first["accepted"], first["duplicates"], first["rejected"]),
             (2500, 0, 0), "first import")
    again = import_body(SRV, body).json()
    check_eq((again["accepted"], again["duplicates"], again["rejected"],
              again["lines"]), (0, 2500, 0, 2500), "second import")


@test
def a_body_far_over_the_json_cap_streams_with_length_or_chunked():
    events = [event(uid("c"), ts=1700000000 + i, channel="web" * 20)
              for i in range(20000)]
    body = ndjson(events)
    check(len(body) > 3 * 1024 * 1024,
          "the body is over 3 MiB (%d)" % len(body))
    doc = import_body(SRV, body[:len(body) // 2]).json()
    check_eq((doc["accepted"], doc["rejected"]), (10000, 0), "first half")
    rest = body[len(body) // 2:]
    pieces = [rest[i:i + 7777] for i in range(0, len(rest), 7777)]
    r = chunked_import(SRV.port, SRV.admin_key, pieces)
    check_eq(r.status, 200, "chunked: %r" % r)
    check_eq((r.json()["accepted"], r.json()["rejected"]), (10000, 0),
             "second half, chunked in pieces cutting lines")


@test
def no_ndjson_content_type_is_415():
    body = ndjson([event(uid("c"))])
    for ct in ("application/json", None, "text/plain"):
        check_error(import_body(SRV, body, content_type=ct), 415,
                    "unsupported_media_type", "application/x-ndjson")
    check_eq(import_body(SRV, body,
                         content_type="application/x-ndjson; charset=utf-8")
             .status, 200, "with a parameter")


@test
def no_key_is_401_a_key_of_another_role_is_403():
    body = ndjson([event(uid("c"))])
    r = import_body(SRV, body, key=None)
    check_error(r, 401, "unauthorized")
    check_eq(r.header("WWW-Authenticate"), "Bearer", "WWW-Authenticate")
    for role in ("merchandising", "privacy", "ops"):
        check_error(import_body(SRV, body, key=SRV.new_key([role])), 403,
                    "forbidden")
    for role in ("ingest", "clienteling"):
        r = import_body(SRV, ndjson([event(uid("c"))]),
                        key=SRV.new_key([role]))
        check_eq(r.status, 200, "%s key: %r" % (role, r))
    r = SRV.get("/v1/events:import")
    check_error(r, 405, "method_not_allowed")
    check_eq(r.header("Allow"), "POST", "Allow")


@test
def a_key_of_one_brand_gets_lines_of_another_brand_rejected_alone():
    key = SRV.new_key(["ingest"], ["atelier"])
    client = uid("c")
    body = ndjson([event(client), event(client, item_id="imp-other"),
                   event(client)])
    r = import_body(SRV, body, key=key)
    check_eq(r.status, 200, "import: %r" % r)
    doc = r.json()
    check_eq((doc["accepted"], doc["rejected"]), (2, 1), "counts")
    check_eq([(x["line"], x["error"]["code"]) for x in doc["rejected_lines"]],
             [(2, "forbidden")], "rejected lines")
    # An event's own brand: outside the scope, or not its item's.
    body = ndjson([event(client, etype="store_visit", item_id=None,
                         brand="other"),
                   event(client, brand="other"), event(client)])
    doc = import_body(SRV, body, key=key).json()
    got = [(x["line"], x["error"]["code"], x["error"]["message"])
           for x in doc["rejected_lines"]]
    check_eq(got, [(1, "forbidden", "brand: of a brand outside this key's "
                    "scope"),
                   (2, "forbidden", "brand: of a brand outside this key's "
                    "scope")], "rejected lines with a brand")
    doc = import_body(SRV, ndjson([event(client, brand="other")])).json()
    check_eq([(x["line"], x["error"]["message"])
              for x in doc["rejected_lines"]],
             [(1, "brand: not the brand of the item")], "another house")


@test
def at_most_100_rejected_lines_are_listed_all_are_counted():
    body = b"not json\n" * 250 + ndjson([event(uid("c"))])
    doc = import_body(SRV, body).json()
    check_eq((doc["accepted"], doc["rejected"], doc["lines"]), (1, 250, 251),
             "counts")
    check_eq([x["line"] for x in doc["rejected_lines"]], list(range(1, 101)),
             "listed lines")


# ---------------------------------------------------------------- equivalence

EQ = {}


def equivalence_servers():
    """live (POST /v1/events), bulk (POST /v1/events:import) and csv
    (`maisond import --format csv`), each on its own database with the
    stream's catalog."""
    if EQ:
        return EQ["servers"], EQ["events"]
    source, items, events = load_stream()
    print("# equivalence stream: %s, %d events, %d items"
          % (source, len(events), len(items)))
    servers = {}
    for name in ("live", "bulk", "csv"):
        servers[name] = mt.Maisond(
            database_url=mt.create_database("mz_import_" + name),
            name="maisond-" + name)
    EQ.update(servers=servers, events=events)
    for srv in servers.values():
        srv.start()
        for i in range(0, len(items), 1000):
            r = srv.put("/v1/catalog/items", {"items": items[i:i + 1000]})
            check_eq(r.status, 200, "catalog: %r" % r)
    return servers, events


def write_csv(path, events):
    with open(path, "w") as f:
        f.write("event_id,client_id,item_id,type,ts\n")
        for e in events:
            f.write("%s,%s,%s,%s,%d\n" % (e["event_id"], e["client_id"],
                                          e["item_id"], e["type"], e["ts"]))


def differences(a, b, clients):
    """What differs between servers a and b: every client's profile and
    recommendations, and the non-personalised rankings."""
    bad = []
    for c in clients:
        d = mt.json_diff(profile(a, c), profile(b, c), TOLERANCE,
                         skip_key=lambda k: k.endswith("_at"))
        if d:
            bad.append("profile %s: %s" % (c, d))
        path = "/v1/clients/%s/recommendations?k=20" % c
        ra, rb = a.get(path), b.get(path)
        check_eq((ra.status, rb.status), (200, 200), path)
        d = mt.ranking_diff(ra.json(), rb.json(), TOLERANCE, whole_items=True)
        if d:
            bad.append("recommendations %s: %s" % (c, d))
    for q in ("k=50", "k=20&brand=dg1"):
        path = "/v1/clients/nobody-at-all/recommendations?" + q
        d = mt.ranking_diff(a.get(path).json(), b.get(path).json(),
                            TOLERANCE, whole_items=True)
        if d:
            bad.append("non-personalised %s: %s" % (q, d))
    return bad


@test
def an_import_leaves_every_client_as_live_batches_of_100_do():
    servers, events = equivalence_servers()
    live, bulk, by_csv = servers["live"], servers["bulk"], servers["csv"]
    t0 = time.monotonic()
    for i in range(0, len(events), 100):
        r = live.post("/v1/events", {"events": events[i:i + 100]})
        check_eq(r.status, 200, "live batch %d: %r" % (i, r))
        check_eq(r.json()["rejected"], [], "live batch %d rejected" % i)
    t_live = time.monotonic() - t0
    t0 = time.monotonic()
    r = import_body(bulk, ndjson(events))
    t_bulk = time.monotonic() - t0
    check_eq(r.status, 200, "import: %r" % r)
    doc = r.json()
    check_eq((doc["accepted"], doc["rejected"], doc["lines"]),
             (len(events), 0, len(events)), "import counts")
    print("# %d events: live batches of 100 %.2f s, import %.2f s"
          % (len(events), t_live, t_bulk))
    path = os.path.join(SRV.data_dir, "stream.csv")
    write_csv(path, events)
    cli_expect(("--events", path, "--format", "csv", "--lines-per-request",
                "5000"), 0, "%d lines, %d accepted, 0 duplicates, 0 rejected"
               % (len(events) + 1, len(events)), srv=by_csv)
    clients = sorted({e["client_id"] for e in events})
    for name, srv in (("import", bulk), ("CSV import", by_csv)):
        bad = differences(live, srv, clients)
        check(not bad, "%s: %d differences over %d clients, e.g.:\n%s"
              % (name, len(bad), len(clients), "\n".join(bad[:8])))


@test
def the_cli_imports_the_same_stream_again_as_duplicates():
    servers, events = equivalence_servers()
    path = write_file("stream.ndjson", ndjson(events))
    cli_expect(("--events", path), 0,
               "%d lines, 0 accepted, %d duplicates, 0 rejected"
               % (len(events), len(events)), srv=servers["bulk"])


# ---------------------------------------------------------------- the CLI


def cli(*args, key="admin", srv=None, timeout=300):
    """`maisond import ARGS` against srv (SRV by default) with its admin
    key (or key, or none); returns (exit status, stdout, stderr)."""
    srv = srv or SRV
    env = dict(os.environ)
    env.pop("MAISON_API_KEY", None)
    if key:
        env["MAISON_API_KEY"] = srv.admin_key if key == "admin" else key
    p = subprocess.run([srv.binary, "import", "--url",
                        "http://127.0.0.1:%d" % srv.port] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def cli_expect(args, status, summary, srv=None):
    """Runs `maisond import ARGS` and checks its exit status and that its
    summary line holds summary; returns its stderr."""
    rc, out, err = cli(*args, srv=srv)
    check_eq(rc, status, "maisond import %s: exit status (stderr %s)"
             % (" ".join(args), err))
    check(summary in out, "summary: want %r, got %r" % (summary, out))
    return err


def write_file(name, data):
    path = os.path.join(SRV.data_dir, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


@test
def the_cli_imports_ndjson_naming_bad_lines_by_file_line():
    client = uid("c")
    events = [event(client, ts=1700000000 + i) for i in range(3000)]
    lines = [json.dumps(e) for e in events]
    bad = list(lines)
    bad.insert(1499, '{"event_id": ')                       # line 1500
    bad.insert(1999, json.dumps(event(client, channel="x" * 70000)))  # 2000
    path = write_file("bad.ndjson", ("\n".join(bad) + "\n").encode())
    err = cli_expect(("--events", path, "--lines-per-request", "700"), 1,
                     "3002 lines, 3000 accepted, 0 duplicates, 2 rejected")
    check("%s:1500: invalid_input: malformed JSON" % path in err,
          "line 1500 named: %r" % err)
    check("%s:2000: payload_too_large: line over 65536 bytes" % path in err,
          "line 2000 named: %r" % err)
    check("\r" not in err, "no terminal redraws when stderr is a file")
    check_eq(profile(SRV, client)["events_learned"], 3000, "events learned")
    path = write_file("good.ndjson", ("\n".join(lines) + "\n").encode())
    cli_expect(("--events", path, "--format", "ndjson"), 0,
               "3000 lines, 0 accepted, 3000 duplicates, 0 rejected")


@test
def the_cli_imports_csv_rows_as_the_same_events():
    client = uid("c")
    rows = ["event_id,client_id,item_id,type,ts,channel,quantity,value"]
    for i in range(1200):
        rows.append('%s-%d,%s,imp-bag,view,%d,"web, eu",1,2.5'
                    % (client, i, client, 1700000000 + i))
    rows[100] = "%s-x,%s,imp-bag,purchase,1700000000,web,two," % (client,
                                                                   client)
    rows[200] = "%s-y,%s,imp-bag" % (client, client)
    rows[300] = ""
    path = write_file("events.csv", ("\n".join(rows) + "\n").encode())
    err = cli_expect(("--events", path, "--format", "csv",
                      "--lines-per-request", "500"), 1,
                     "1201 lines, 1197 accepted, 0 duplicates, 2 rejected")
    check("%s:101: invalid_input: quantity" % path in err,
          "row 101 named by the server: %r" % err)
    check("%s:201: invalid_input: 3 fields, the header has 8" % path in err,
          "row 201 named: %r" % err)
    check_eq(profile(SRV, client)["events_learned"], 1197, "events learned")
    r = SRV.get("/v1/clients/%s/recommendations?k=3" % client)
    check_eq(r.status, 200, "recommendations")
    for header, what in (("event_id,client,type", "not an event field"),
                         ("event_id,client_id", "no column type")):
        path = write_file("bad.csv", (header + "\n").encode())
        rc, out, err = cli("--events", path, "--format", "csv")
        check_eq(rc, 1, "exit status for header %r" % header)
        check(what in err, "header %r: %r" % (header, err))


@test
def the_cli_needs_a_key_with_the_role_and_a_server():
    path = write_file("one.ndjson", ndjson([event(uid("c"))]))
    rc, out, err = cli("--events", path, key=None)
    check_eq(rc, 2, "no key")
    check("MAISON_API_KEY" in err, "says how to give a key: %r" % err)
    rc, out, err = cli("--events", path, key=SRV.new_key(["merchandising"]))
    check_eq(rc, 1, "a key without the role")
    check("HTTP 403" in err and "--skip-lines 0" in err, "403: %r" % err)
    rc, out, err = cli("--events", path, "--format", "xml")
    check_eq(rc, 2, "unknown format")
    p = subprocess.run([SRV.binary, "import", "--events", path, "--url",
                        "http://127.0.0.1:%d" % mt.free_port()],
                       env=dict(os.environ, MAISON_API_KEY="k"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check_eq(p.returncode, 1, "no server")
    check(b"--skip-lines 0" in p.stderr, "no server: %r" % p.stderr)


@test
def the_cli_imports_a_catalog_naming_the_bad_items():
    items = [item(uid("cat")) for _ in range(2500)]
    lines = [json.dumps(x) for x in items]
    lines[1199] = json.dumps(dict(items[1199], price=-1))
    lines[1799] = "{not json"
    path = write_file("items.ndjson", ("\n".join(lines) + "\n").encode())
    err = cli_expect(("--catalog", path), 1,
                     "2500 lines, 2498 items stored, 2 rejected")
    check("%s:1200: invalid_input: items[0].price" % path in err,
          "line 1200 named: %r" % err)
    check("%s:1800: invalid_input: malformed JSON" % path in err,
          "line 1800 named: %r" % err)
    for n in (0, 1198, 1200, 2499):
        r = SRV.get("/v1/catalog/items/%s" % items[n]["item_id"])
        check_eq(r.status, 200, "item of line %d stored" % (n + 1))
    check_eq(SRV.get("/v1/catalog/items/%s" % items[1199]["item_id"]).status,
             404, "the bad item is not stored")


# ---------------------------------------------------------------- outage
# Last: the cluster restarts under the other tests' server.


@test
def a_database_outage_midway_answers_503_with_the_lines_committed():
    client = uid("c")
    # Two whole batches (MZ_IMPORT_BATCH_EVENTS, 4000) before the outage.
    events = [event(client, ts=1700000000 + i) for i in range(11000)]
    first, rest = ndjson(events[:8000]), ndjson(events[8000:])
    learned = {}

    def wait_committed():
        deadline = time.monotonic() + 30
        while learned_events(SRV, client) < 8000:
            check(time.monotonic() < deadline, "first 8000 never learned")
            time.sleep(0.05)
        learned["before"] = True
        mt.pg_stop()
    try:
        r = chunked_import(SRV.port, SRV.admin_key,
                           [first, wait_committed, rest])
    finally:
        if learned:
            mt.pg_start()
    check_error(r, 503, "database_unavailable", "resend from line 8001")
    doc = r.json()
    check_eq((doc["accepted"], doc["lines"]), (8000, 8000),
             "settled before the outage")
    deadline = time.monotonic() + 30
    while True:
        r = import_body(SRV, rest)
        if r.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    check_eq(r.status, 200, "the rest after the outage: %r" % r)
    check_eq((r.json()["accepted"], r.json()["duplicates"]), (3000, 0),
             "the rest, sent again")


@test
def imports_waiting_for_their_commit_leave_the_http_threads_free():
    """While the events table is locked, more imports than SRV has HTTP
    threads wait for their commits; health, recommendations and a brand's
    popular list are answered meanwhile, and every import lands
    once the lock goes."""
    imports = 2 * SRV.threads + 1
    clients = [uid("c") for _ in range(imports)]

    def send(client):
        return import_body(
            SRV, ndjson([event(client, ts=1700000000 + i) for i in range(5)]),
            timeout=60)

    answers = mt.ask_while_locked(
        SRV.database_url, "events", send, clients, lambda: mt.check_prompt(
            SRV, ("/healthz",
                  "/v1/clients/%s/recommendations?k=5" % clients[0],
                  "/v1/brands/atelier/popular?k=5"),
            "%d imports waited on %d HTTP threads" % (imports, SRV.threads)))
    for c in clients:
        check(c in answers, "import for %s: no answer after the lock" % c)
        check_eq((answers[c].status, answers[c].json()["accepted"]), (200, 5),
                 "import for %s: %r" % (c, answers[c]))
        check_eq(learned_events(SRV, c), 5, "events learned for %s" % c)


# ---------------------------------------------------------------- main


def main():
    global SRV
    mt.require_environment()
    SRV = mt.Maisond()
    try:
        try:
            SRV.start()
        except mt.StartError as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1
        r = SRV.put("/v1/catalog/items", {"items": [
            item("imp-bag"), item("imp-other", brand="other")]})
        if r.status != 200:
            print("FAIL setup: catalog %r" % r)
            print("0 passed, 1 failed")
            return 1
        # Only this file's tests (test_recovery's registered theirs too).
        rc = mt.run_tests([t for t in mt.TESTS if t.__module__ == __name__])
        if rc:
            print("# log tail:\n" + SRV.log_tail(15))
        return rc
    finally:
        SRV.cleanup()
        for srv in EQ.get("servers", {}).values():
            srv.cleanup()


if __name__ == "__main__":
    sys.exit(main())
