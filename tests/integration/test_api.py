#!/usr/bin/env python3
"""test_api: the HTTP/JSON contract of maisond, endpoint by endpoint.

One maisond against the temporary cluster of tests/harness/with_pg.sh. Every
test names the behaviour it pins down. After each test the daemon must still
be running (a crash fails that test and the daemon is restarted so the rest
of the run still means something).
"""

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import maison_test as mt
from maison_test import check, check_eq, check_error, test

SRV = None
REASON_LEVELS = {"session", "recent", "long_term", "catalog"}
LEVEL_NAMES = {"now", "recent days", "recent weeks", "long term",
               "catalog-wide"}
CATEGORIES = ["bags", "shoes", "fragrance", "jewelry"]


def uid(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def item(item_id, brand, category, price, **over):
    doc = {
        "item_id": item_id, "brand": brand, "category": category,
        "price": price, "currency": "EUR", "available": True, "stock": 5,
        "launch_at": "2020-01-01T00:00:00Z", "end_at": "2099-01-01T00:00:00Z",
        "attributes": {"color": "black"}, "tags": ["test"],
    }
    # No "regions"/"reserved_tiers": sold everywhere, to everyone. Tests of
    # those restrictions set them explicitly.
    doc.update(over)
    return doc


def catalog():
    items = []
    for i in range(24):
        items.append(item("a%02d" % i, "atelier", CATEGORIES[i % 4],
                          100.0 + 50 * i))
    for i in range(12):
        items.append(item("b%02d" % i, "bolt", CATEGORIES[i % 4],
                          80.0 + 40 * i))
    for i in range(20):
        items.append(item("c%02d" % i, "cirque", CATEGORIES[i % 4],
                          100.0 * (i + 1)))
    items += [
        item("a-unavailable", "atelier", "bags", 500.0, available=False),
        item("a-nostock", "atelier", "bags", 500.0, stock=0),
        item("a-jp-only", "atelier", "shoes", 500.0, regions=["JP"]),
        item("a-vip-only", "atelier", "jewelry", 900.0,
             reserved_tiers=["vip"]),
        item("a-embargo", "atelier", "bags", 700.0,
             launch_at="2099-06-01T00:00:00Z", end_at="2100-01-01T00:00:00Z"),
        item("a-ended", "atelier", "bags", 700.0,
             end_at="2021-01-01T00:00:00Z"),
    ]
    return items


PRICES = {it["item_id"]: it["price"] for it in catalog()}
CATEGORY_OF = {it["item_id"]: it["category"] for it in catalog()}
NEVER_RECOMMENDABLE = {"a-unavailable", "a-nostock", "a-embargo", "a-ended"}


def ev(client_id, item_id, type_="view", ts=None, event_id=None, **extra):
    doc = {"event_id": event_id if event_id is not None else uid("ev"),
           "client_id": client_id,
           "type": type_, "ts": ts if ts is not None else int(time.time())}
    if item_id is not None:
        doc["item_id"] = item_id
    doc.update(extra)
    return doc


def post_events(events, **kw):
    return SRV.post("/v1/events", {"events": events}, **kw)


LAST_POSITION = [0]


def post_ok(events):
    """The reply of an accepted batch, without its log position, which is
    checked here: an integer that never goes back."""
    r = post_events(events)
    check(r.status == 200, "POST /v1/events: %r" % r)
    doc = r.json()
    position = doc.pop("position", None)
    check(isinstance(position, int) and position >= LAST_POSITION[0],
          "position %r after %r" % (position, LAST_POSITION[0]))
    LAST_POSITION[0] = position
    return doc


def recs(client_id, **params):
    q = "&".join("%s=%s" % (k, v) for k, v in params.items())
    return SRV.get("/v1/clients/%s/recommendations%s"
                   % (client_id, "?" + q if q else ""))


def recs_ok(client_id, nonempty=True, **params):
    """GET recommendations, 200 and well-formed; by default also non-empty
    (so a check that something is never recommended cannot pass because
    nothing is)."""
    r = recs(client_id, **params)
    check(r.status == 200, "GET recommendations: %r" % r)
    doc = r.json()
    check_recommendation_shape(doc, client_id)
    if nonempty:
        check(doc["items"], "no items recommended (%r): %r" % (params, doc))
    return doc


def ids(doc):
    return [it["item_id"] for it in doc["items"]]


def check_recommendation_shape(doc, client_id):
    check_eq(doc.get("client_id"), client_id, "client_id")
    check(isinstance(doc.get("personalized"), bool),
          "personalized must be a bool: %r" % doc)
    check(isinstance(doc.get("items"), list), "items must be a list: %r" % doc)
    last = None
    for it in doc["items"]:
        for f in ("item_id", "brand", "category"):
            check(isinstance(it.get(f), str), "item.%s must be a string: %r"
                  % (f, it))
        check(isinstance(it.get("score"), (int, float))
              and not isinstance(it.get("score"), bool),
              "item.score must be a number: %r" % it)
        check(isinstance(it.get("reasons"), list), "item.reasons: %r" % it)
        for rs in it["reasons"]:
            check(rs.get("level") in REASON_LEVELS and
                  isinstance(rs.get("text"), str) and rs["text"],
                  "reason must be {level in %s, text}: %r"
                  % (sorted(REASON_LEVELS), rs))
        if last is not None:
            check(it["score"] <= last + 1e-9,
                  "items must be best first (score non-increasing): %r"
                  % [x["score"] for x in doc["items"]])
        last = it["score"]
    check(len(set(ids(doc))) == len(doc["items"]),
          "an item appears twice: %r" % ids(doc))


def alive():
    check(SRV.alive(), "maisond died; log tail:\n%s" % SRV.log_tail())


def mentions(value, item_id):
    return ('"%s"' % item_id) in json.dumps(value)


# ================================================================ process


@test
def help_lists_every_option_and_env_variable():
    p = subprocess.run([SRV.binary, "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    out = p.stdout.decode("utf-8", "replace")
    check_eq(p.returncode, 0, "maisond --help exit status")
    for word in ("--listen", "--database-url", "--data-dir", "--threads",
                 "--dim", "--levels", "--checkpoint-interval-s", "--model",
                 "MAISON_LISTEN", "MAISON_DATABASE_URL", "MAISON_DATA_DIR",
                 "MAISON_THREADS"):
        check(word in out, "--help does not mention %s:\n%s" % (word, out))


@test
def bad_model_settings_stop_the_server_with_the_reason():
    for value, reason in (("w_recall=x", "'w_recall': 'x' is not a valid"),
                          ("no_such=1", "unknown model parameter 'no_such'"),
                          ("level_chunk.0=4", "level_chunk[0] must be 1"),
                          ("w_recall", "expected NAME=VALUE")):
        p = subprocess.run([SRV.binary, "--model", value],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10)
        out = p.stdout.decode("utf-8", "replace")
        check_eq(p.returncode, 2, "exit status for --model %s" % value)
        check(reason in out, "--model %s: %r" % (value, out))


@test
def environment_variables_configure_the_server():
    conninfo = mt.create_database("mz_env_%s" % uuid.uuid4().hex[:8])
    other = mt.Maisond(database_url=conninfo, name="maisond-env")
    other.port = mt.free_port()
    env = dict(os.environ)
    env.update({"MAISON_LISTEN": "127.0.0.1:%d" % other.port,
                "MAISON_DATABASE_URL": conninfo,
                "MAISON_DATA_DIR": other.data_dir,
                "MAISON_THREADS": "1",
                "MAISON_MODEL": "w_recall=0.5,level_lr.2=0.4"})
    try:
        other.start(env=env, argv=[other.binary])
        check_eq(other.get("/healthz").status, 200, "GET /healthz")
        check_eq(other.stop(), 0, "exit status after SIGTERM")
    finally:
        other.cleanup()


def kernel_has_custom_slices():
    """Linux 6.12 or later: a SCHED_OTHER thread's sched_runtime sets its
    slice, shown as se.slice in /proc/<pid>/task/<tid>/sched."""
    parts = os.uname().release.split(".")
    try:
        version = (int(parts[0]), int(parts[1].split("-")[0]))
    except (ValueError, IndexError):
        return False
    try:
        with open("/proc/self/sched") as f:
            shown = "se.slice" in f.read()
    except OSError:
        shown = False
    return version >= (6, 12) and shown


def thread_slices(pid):
    """{tid: (name, se.slice in ns)} of a process's threads."""
    out = {}
    task = "/proc/%d/task" % pid
    for tid in os.listdir(task):
        try:
            with open(os.path.join(task, tid, "comm")) as f:
                name = f.read().strip()
            with open(os.path.join(task, tid, "sched")) as f:
                text = f.read()
        except OSError:
            continue                    # the thread ended
        for line in text.splitlines():
            if line.startswith("se.slice"):
                out[int(tid)] = (name, int(line.split(":")[1]))
    return out


@test
def http_threads_ask_for_the_configured_cpu_slice():
    for bad in ("50", "100001", "-1", "x"):
        p = subprocess.run([SRV.binary, "--request-slice-us", bad],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10)
        out = p.stdout.decode("utf-8", "replace")
        check_eq(p.returncode, 2, "exit status for --request-slice-us %s"
                 % bad)
        check("request-slice-us" in out, "no option named: %r" % out)
    if not kernel_has_custom_slices():
        print("   (Linux %s has no custom slices: only the option's bounds "
              "are checked)" % os.uname().release)
        return
    other = mt.Maisond(threads=2, name="maisond-slice",
                       extra_args=["--request-slice-us", "250"])
    try:
        other.start()
        for _ in range(20):             # new connections: both threads
            check_eq(other.get("/healthz").status, 200, "GET /healthz")
        with open(other.log_path, "rb") as f:
            refusals = f.read().count(b"refused the HTTP threads' CPU slice")
        if refusals:
            # Best effort: a sandbox may forbid sched_setattr; maisond
            # then says so, once, and serves as before.
            check_eq(refusals, 1, "refusal warnings logged")
            print("   (sched_setattr refused here: the warning is checked)")
            return
        for _ in range(20):
            other.get("/healthz")
        slices = thread_slices(other.proc.pid)
        asked = [n for n, ns in slices.values() if ns == 250000]
        check(asked and all(n == "MHD-worker" for n in asked),
              "threads with a 250 us slice: %r (all: %r)"
              % (asked, sorted(slices.values())))
        learner = [ns for n, ns in slices.values() if n == "mz-learner"]
        check(learner and learner[0] != 250000,
              "the learner keeps the kernel's slice: %r" % learner)
        # By default every thread keeps the kernel's slice.
        for _ in range(20):
            SRV.get("/healthz")
        kinds = set(ns for _, ns in thread_slices(SRV.proc.pid).values())
        check(len(kinds) == 1, "slices of the default server: %r" % kinds)
    finally:
        other.stop()
        other.cleanup()


# ================================================================ ops


@test
def healthz_returns_ok():
    r = SRV.get("/healthz")
    check_eq(r.status, 200, "status")
    check_eq(r.json(), {"status": "ok"}, "body")
    check(r.header("content-type", "").startswith("application/json"),
          "Content-Type: %r" % r.header("content-type"))


@test
def readyz_returns_ready():
    r = SRV.get("/readyz")
    check_eq(r.status, 200, "status")
    check_eq(r.json(), {"status": "ready"}, "body")


@test
def metrics_expose_every_documented_family():
    SRV.get("/healthz")
    r = SRV.get("/metrics")
    check_eq(r.status, 200, "status")
    check(r.header("content-type", "").startswith("text/plain"),
          "Content-Type: %r" % r.header("content-type"))
    text = r.text
    for name, kind in (("maison_http_requests_total", "counter"),
                       ("maison_http_request_duration_seconds", "histogram"),
                       ("maison_events_accepted_total", "counter"),
                       ("maison_events_duplicate_total", "counter"),
                       ("maison_events_rejected_total", "counter"),
                       ("maison_clients_in_memory", "gauge"),
                       ("maison_consolidations_total", "counter"),
                       ("maison_db_flush_lag_seconds", "gauge"),
                       ("maison_db_errors_total", "counter"),
                       ("maison_heap_allocated_bytes", "gauge"),
                       ("maison_stderr_lines_dropped_total", "counter")):
        check("# TYPE %s %s" % (name, kind) in text,
              "missing '# TYPE %s %s'" % (name, kind))
    m = mt.parse_metrics(text)
    got = mt.metric_sum(m, "maison_http_requests_total", route="/healthz",
                        method="GET", status="200")
    check(got is not None and got >= 1,
          "maison_http_requests_total{route=\"/healthz\",method=\"GET\","
          "status=\"200\"} missing or 0")
    check(mt.metric_sum(m, "maison_http_request_duration_seconds_count",
                        route="/healthz") is not None,
          "histogram maison_http_request_duration_seconds{route} has no "
          "_count sample for /healthz")
    check(any(n == "maison_http_request_duration_seconds_bucket"
              and dict(l).get("le") == "+Inf" for (n, l) in m),
          "histogram has no le=\"+Inf\" bucket")
    # The heap holds at least the catalog and the model (several MiB).
    heap = mt.metric_sum(m, "maison_heap_allocated_bytes")
    check(heap is not None and heap > 2**20,
          "maison_heap_allocated_bytes %r: not the process's heap" % heap)


@test
def the_start_logs_how_long_each_step_of_loading_took():
    with open(SRV.log_path, "rb") as f:
        lines = f.read().decode("utf-8", "replace").splitlines()
    loaded = [json.loads(l) for l in lines if '"msg":"state loaded"' in l]
    check(len(loaded) >= 1, "no 'state loaded' line in the log")
    for key in ("catalog_and_rules_ms", "checkpoint_ms", "global_level_ms",
                "attributes_ms", "replay_ms"):
        check(isinstance(loaded[-1].get(key), (int, float))
              and loaded[-1][key] >= 0,
              "state loaded: %s is %r" % (key, loaded[-1].get(key)))
    check(isinstance(loaded[-1].get("replayed"), int),
          "state loaded: replayed is %r" % loaded[-1].get("replayed"))


@test
def stderr_log_is_one_json_line_per_request():
    marker = uid("/nope-logged")
    for _ in range(3):
        SRV.get(marker)
    deadline = time.monotonic() + 5
    while True:
        with open(SRV.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        lines = [l for l in text.splitlines()
                 if l.strip() and not l.startswith("--- start")]
        hits = [l for l in lines if marker in l]
        if len(hits) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    check_eq(len(hits), 3, "log lines naming %s" % marker)
    for l in lines:
        try:
            check(isinstance(json.loads(l), dict), "log line not an object")
        except ValueError:
            raise mt.TestFailure("stderr line is not JSON: %r" % l[:200])


# ================================================================ catalog


@test
def catalog_put_upserts_items_and_get_returns_them():
    it = item(uid("cat"), "atelier", "bags", 1234.5,
              attributes={"color": "red", "size": "M"}, tags=["new", "red"],
              regions=["FR", "JP"], reserved_tiers=["vip"])
    r = SRV.put("/v1/catalog/items", {"items": [it]})
    check_eq(r.status, 200, "PUT status (%r)" % r)
    check_eq(r.json(), {"upserted": 1}, "PUT body")
    r = SRV.get("/v1/catalog/items/%s" % it["item_id"])
    check_eq(r.status, 200, "GET status")
    got = r.json()
    for k in ("item_id", "brand", "category", "currency", "available",
              "stock", "regions", "reserved_tiers", "attributes", "tags"):
        check_eq(got.get(k), it[k], "item field %s" % k)
    check(abs(float(got.get("price", -1)) - 1234.5) < 1e-9,
          "price: %r" % got.get("price"))
    it["price"] = 99.0
    r = SRV.put("/v1/catalog/items", {"items": [it]})
    check_eq(r.json(), {"upserted": 1}, "second PUT body")
    got = SRV.get("/v1/catalog/items/%s" % it["item_id"]).json()
    check(abs(float(got["price"]) - 99.0) < 1e-9,
          "upsert did not replace the price: %r" % got)


@test
def catalog_put_is_all_or_nothing_and_names_the_field():
    items = [item(uid("aon"), "atelier", "bags", 100.0) for _ in range(5)]
    items[3]["price"] = "expensive"
    r = SRV.put("/v1/catalog/items", {"items": items})
    check_error(r, 400, "invalid_input", "items[3].price")
    for it in items:
        check_eq(SRV.get("/v1/catalog/items/%s" % it["item_id"]).status, 404,
                 "item %s of a rejected batch must not exist" % it["item_id"])


@test
def catalog_put_rejects_missing_and_mistyped_fields():
    cases = [
        ({"items": [{"brand": "x", "category": "y", "price": 1}]},
         "items[0].item_id"),
        ({"items": [item("ok1", "atelier", "bags", 1.0),
                    dict(item("ok2", "atelier", "bags", 1.0), available="yes")]},
         "items[1].available"),
        ({"items": [dict(item("ok3", "atelier", "bags", 1.0), regions="FR")]},
         "items[0].regions"),
        ({"items": [dict(item("ok4", "atelier", "bags", 1.0), stock=-1)]},
         "items[0].stock"),
        ({"items": [dict(item("ok5", "atelier", "bags", 1.0), price=-5)]},
         "items[0].price"),
        ({"items": [item("x" * 129, "atelier", "bags", 1.0)]},
         "items[0].item_id"),
        ({"items": "a01"}, "items"),
        ({}, "items"),
    ]
    for body, field in cases:
        check_error(SRV.put("/v1/catalog/items", body), 400, "invalid_input",
                    field)
        alive()


@test
def catalog_put_with_no_items_is_400_and_1001_items_is_413():
    check_error(SRV.put("/v1/catalog/items", {"items": []}), 400,
                "invalid_input")
    many = [item("bulk%04d" % i, "atelier", "bags", 1.0) for i in range(1001)]
    check_error(SRV.put("/v1/catalog/items", {"items": many}), 413,
                "payload_too_large")
    check_eq(SRV.get("/v1/catalog/items/bulk0000").status, 404,
             "item of a 413 batch")


@test
def catalog_put_of_1000_items_is_accepted():
    many = [item("k1000-%04d" % i, "kilo", CATEGORIES[i % 4], 10.0 + i)
            for i in range(1000)]
    r = SRV.put("/v1/catalog/items", {"items": many})
    check_eq(r.status, 200, "status (%r)" % r)
    check_eq(r.json(), {"upserted": 1000}, "body")


@test
def catalog_get_unknown_item_is_404():
    check_error(SRV.get("/v1/catalog/items/%s" % uid("nope")), 404,
                "not_found")


@test
def catalog_delete_returns_204_then_404():
    it = item(uid("del"), "atelier", "bags", 10.0)
    SRV.put("/v1/catalog/items", {"items": [it]})
    r = SRV.delete("/v1/catalog/items/%s" % it["item_id"])
    check_eq(r.status, 204, "DELETE status (%r)" % r)
    check_eq(r.body, b"", "204 body")
    check_error(SRV.get("/v1/catalog/items/%s" % it["item_id"]), 404,
                "not_found")
    check_error(SRV.delete("/v1/catalog/items/%s" % it["item_id"]), 404,
                "not_found")


@test
def deleted_item_is_never_recommended():
    it = item(uid("gone"), "ephem", "bags", 10.0)
    SRV.put("/v1/catalog/items", {"items": [it]})
    doc = recs_ok(uid("cl"), brand="ephem", k=10, explain="rules")
    check(it["item_id"] in ids(doc),
          "a new item of a one-item brand must be recommendable at once: %r"
          % doc)
    check_eq(SRV.delete("/v1/catalog/items/%s" % it["item_id"]).status, 204,
             "DELETE")
    check(it["item_id"] not in ids(recs_ok(uid("cl"), nonempty=False,
                                           brand="ephem", k=10)),
          "a deleted item was recommended")


@test
def deleted_item_never_shows_in_a_profile():
    # The model scores a deleted item like any other (retirement is the
    # catalog's alone); the profile leaves it out by the catalog's flag.
    it = item(uid("gone-pf"), "ephem-pf", "bags", 10.0)
    SRV.put("/v1/catalog/items", {"items": [it]})
    c = uid("pf-gone")
    post_ok([ev(c, it["item_id"]) for _ in range(3)])

    def top_items():
        r = SRV.get("/v1/clients/%s/profile" % c)
        check_eq(r.status, 200, "profile (%r)" % r)
        return [t["item_id"] for level in r.json()["levels"]
                for t in level["raw"]["top_items"]]

    check(it["item_id"] in top_items(),
          "an item viewed three times is in the profile: %r" % top_items())
    check_eq(SRV.delete("/v1/catalog/items/%s" % it["item_id"]).status, 204,
             "DELETE")
    check(it["item_id"] not in top_items(),
          "a deleted item shows in the profile: %r" % top_items())


# ================================================================ events


@test
def events_valid_batch_is_accepted():
    c = uid("cl")
    evs = [ev(c, "a01"), ev(c, "a02", "click"), ev(c, "a03", "add_to_cart",
                                                   quantity=2, value=250.0),
           ev(c, None, "store_visit", channel="boutique"),
           ev(c, "a04", "view", dwell_ms=3000,
              ts="2026-01-02T03:04:05Z")]
    check_eq(post_ok(evs), {"accepted": 5, "duplicates": 0, "rejected": []},
             "reply")


@test
def accepted_events_are_committed_before_the_reply():
    c = uid("cl")
    evs = [ev(c, "a01"), ev(c, "a02", "click"), ev(c, None, "appointment")]
    check_eq(post_ok(evs)["accepted"], 3, "accepted")
    # Right after the reply, with no wait: the rows are visible to another
    # connection, so they were committed before the server answered.
    got = mt.psql("SELECT count(*) FROM events WHERE event_id IN (%s)"
                  % ",".join("'%s'" % e["event_id"] for e in evs)).strip()
    check_eq(got, "3", "committed rows in the events table")


@test
def every_event_type_is_accepted():
    c = uid("cl")
    types = ["view", "click", "add_to_cart", "remove_from_cart", "wishlist",
             "purchase", "return", "dismiss", "store_visit", "appointment",
             "event_attendance"]
    evs = [ev(c, "b%02d" % (i % 12), t) for i, t in enumerate(types)]
    evs += [ev(c, None, t) for t in ("store_visit", "appointment",
                                     "event_attendance")]
    doc = post_ok(evs)
    check_eq(doc["rejected"], [], "rejected")
    check_eq(doc["accepted"], len(evs), "accepted")


@test
def retried_event_ids_are_duplicates_and_not_applied_twice():
    c = uid("cl")
    evs = [ev(c, "a05"), ev(c, "a06", "click"), ev(c, "a07", "wishlist")]
    post_ok(evs)
    before = SRV.get("/v1/clients/%s/profile" % c).json()
    dup0 = SRV.metric("maison_events_duplicate_total") or 0
    check_eq(post_ok(evs), {"accepted": 0, "duplicates": 3, "rejected": []},
             "retry reply")
    check_eq(post_ok(evs[1:]), {"accepted": 0, "duplicates": 2,
                                "rejected": []}, "partial retry reply")
    after = SRV.get("/v1/clients/%s/profile" % c).json()
    check_eq([l.get("events") for l in after["levels"]],
             [l.get("events") for l in before["levels"]],
             "per-level event counts after the retries")
    dup1 = SRV.metric("maison_events_duplicate_total")
    check_eq(dup1 - dup0, 5, "maison_events_duplicate_total delta")


@test
def duplicate_event_id_within_one_batch_is_applied_once():
    c = uid("cl")
    e = ev(c, "a08")
    check_eq(post_ok([e, dict(e)]), {"accepted": 1, "duplicates": 1,
                                     "rejected": []}, "reply")


@test
def mixed_batch_rejects_exactly_the_bad_events_and_accepts_the_rest():
    c = uid("cl")
    evs = [
        ev(c, "a01"),                                        # 0 ok
        ev(c, "a01", "teleport"),                            # 1 unknown type
        ev(c, "a02", "click"),                               # 2 ok
        {k: v for k, v in ev(c, "a01").items() if k != "client_id"},  # 3
        ev(c, "no-such-item-" + uid("x")),                   # 4 unknown item
        ev(c, "a01", event_id="e" * 129),                    # 5 id too long
        ev(c, None, "store_visit"),                          # 6 ok
        ev(c, None, "view"),                                 # 7 view w/o item
        ev(c, "a01", ts="yesterday"),                        # 8 bad ts
        ev(c, "a03", "purchase", ts="2026-03-01T10:00:00+01:00",
           channel="web", value=120.5, quantity=1, dwell_ms=10),  # 9 ok
        ev(c, "a01", event_id=""),                           # 10 empty id
        ev("c" * 128, "a01", event_id=(uid("ev") + "e" * 128)[:128]),  # 11
        dict(ev(c, "a01"), type=5),                          # 12 type number
        ev(c, "a04", ts=1767225600),                         # 13 ok
        {k: v for k, v in ev(c, "a01").items() if k != "event_id"},  # 14
        dict(ev(c, "a01"), ts=-5),                           # 15 bad ts
        dict(ev(c, "a01"), quantity="two"),                  # 16 bad type
        ev("", "a01"),                                       # 17 empty id
        "not an object",                                     # 18
    ]
    acc0 = SRV.metric("maison_events_accepted_total") or 0
    rej0 = SRV.metric("maison_events_rejected_total") or 0
    doc = post_ok(evs)
    bad = {1, 3, 4, 5, 7, 8, 10, 12, 14, 15, 16, 17, 18}
    got = [r.get("index") for r in doc.get("rejected", [])]
    check_eq(sorted(got), sorted(bad), "rejected indices")
    check_eq(doc["accepted"], len(evs) - len(bad), "accepted")
    check_eq(doc["duplicates"], 0, "duplicates")
    for r in doc["rejected"]:
        err = r.get("error", {})
        want = "unknown_item" if r["index"] == 4 else "invalid_input"
        check_eq(err.get("code"), want, "rejected[index=%d].error.code"
                 % r["index"])
        check(isinstance(err.get("message"), str) and err["message"],
              "rejected[index=%d].error.message" % r["index"])
    check_eq((SRV.metric("maison_events_accepted_total") or 0) - acc0,
             len(evs) - len(bad), "maison_events_accepted_total delta")
    check_eq((SRV.metric("maison_events_rejected_total") or 0) - rej0,
             len(bad), "maison_events_rejected_total delta")
    # The accepted ones are really in the log: a retry reports them as
    # duplicates, and the rejected ones stay rejected.
    retry = post_ok(evs)
    check_eq(retry["duplicates"], len(evs) - len(bad), "retry duplicates")
    check_eq(retry["accepted"], 0, "retry accepted")


@test
def empty_event_batch_is_400():
    check_error(post_events([]), 400, "invalid_input")


@test
def batch_of_1000_events_is_accepted_and_1001_is_413():
    c = uid("cl")
    evs = [ev(c, "b%02d" % (i % 12)) for i in range(1001)]
    check_error(post_events(evs), 413, "payload_too_large")
    alive()
    doc = post_ok(evs[:1000])
    check_eq(doc["accepted"], 1000, "accepted of a 1000-event batch")


@test
def events_body_of_2_mib_is_413():
    body = json.dumps({"events": [ev(uid("cl"), "a01")],
                       "padding": "x" * (2 * 1024 * 1024)})
    check_error(SRV.post("/v1/events", body), 413, "payload_too_large")
    alive()


@test
def chunked_body_over_1_mib_is_413():
    # No Content-Length: the cap must hold for chunked uploads too.
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=30)
    try:
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        chunk = b" " * 65536
        import select as sel
        for _ in range(40):                      # 2.5 MiB at most
            if sel.select([s], [], [], 0)[0]:
                break
            try:
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
        else:
            s.sendall(b"0\r\n\r\n")
        data = b""
        while True:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            data += b
    finally:
        s.close()
    check(data.startswith(b"HTTP/1.1 413"), "expected 413, got %r" % data[:200])
    alive()


@test
def post_without_json_content_type_is_415():
    body = {"events": [ev(uid("cl"), "a01")]}
    check_error(SRV.post("/v1/events", body, content_type="text/plain"), 415,
                "unsupported_media_type")
    check_error(SRV.post("/v1/events", body, content_type=None), 415,
                "unsupported_media_type")
    check_error(SRV.post("/v1/events", body,
                         content_type="application/x-www-form-urlencoded"),
                415, "unsupported_media_type")
    check_error(SRV.put("/v1/catalog/items", {"items": [item("z", "a", "b",
                                                             1.0)]},
                        content_type=None), 415, "unsupported_media_type")
    check_error(SRV.put("/v1/brands/atelier/rules", {}, content_type="text/xml"),
                415, "unsupported_media_type")
    check_error(SRV.put("/v1/clients/x/attributes", {"tier": "vip"},
                        content_type=None), 415, "unsupported_media_type")


@test
def json_content_type_with_charset_is_accepted():
    r = SRV.post("/v1/events", {"events": [ev(uid("cl"), "a01")]},
                 content_type="application/json; charset=utf-8")
    check_eq(r.status, 200, "status (%r)" % r)
    check_eq(r.json()["accepted"], 1, "accepted")


@test
def malformed_json_is_400():
    for body in (b"", b"not json", b'{"events":[', b'{"events":[{]}',
                 b'{"events":[]}}', b"{'events':[]}", b'{"events":[1,]}',
                 b"\xef\xbb\xbf{\"events\":[]}x"):
        check_error(SRV.post("/v1/events", body), 400, "invalid_input")
        alive()
    check_error(SRV.put("/v1/catalog/items", b'{"items":'), 400,
                "invalid_input")
    check_error(SRV.put("/v1/brands/atelier/rules", b"{"), 400,
                "invalid_input")
    check_error(SRV.put("/v1/clients/x/attributes", b"[}"), 400,
                "invalid_input")


@test
def deeply_nested_json_is_400_and_harmless():
    for body in (b"[" * 100000, b'{"a":' * 50000, b'{"events":' + b"[" * 200000,
                 b"[" * 100000 + b"]" * 100000):
        check_error(SRV.post("/v1/events", body), 400, "invalid_input")
        alive()
    check_error(SRV.put("/v1/catalog/items", b"[" * 100000), 400,
                "invalid_input")
    alive()


@test
def wrong_top_level_types_are_400():
    for body in ([], {"events": {}}, {"events": "x"}, {"events": None},
                 {"events": 3}, "events", 42, None, {"evnts": []}):
        check_error(SRV.post("/v1/events", json.dumps(body)), 400,
                    "invalid_input")
        alive()


@test
def event_ids_longer_than_128_bytes_are_rejected():
    c = uid("cl")
    # 128 bytes made of 64 two-byte characters is fine; 129 bytes is not.
    doc = post_ok([ev(c, "a01", event_id="é" * 64),
                   ev(c, "a01", event_id="é" * 64 + "x"),
                   ev("d" * 129, "a01")])
    check_eq(doc["accepted"], 1, "accepted")
    check_eq(sorted(r["index"] for r in doc["rejected"]), [1, 2],
             "rejected indices")


@test
def nul_characters_in_ids_never_reach_the_log():
    c = uid("cl")
    for e in (ev(c + "\u0000evil", "a01"),
              ev(c, "a01", event_id=uid("ev") + "\u0000x"),
              ev(c, "a01\u0000")):
        r = post_events([e])
        check(r.status in (200, 400), "NUL: %r" % r)
        if r.status == 200:
            d = r.json()
            check_eq(d["accepted"], 0, "accepted with a NUL in an id")
            check_eq([x["index"] for x in d["rejected"]], [0], "rejected")
        else:
            check_error(r, 400, "invalid_input")
        alive()
    check_error(SRV.put("/v1/catalog/items",
                        {"items": [item("nul\u0000id", "atelier", "bags",
                                        1.0)]}),
                400, "invalid_input")
    alive()
    r = SRV.put("/v1/brands/atel%00ier/rules", {"max_per_category": 2})
    check(r.status in (400, 404), "NUL in a path: %r" % r)
    alive()


@test
def invalid_utf8_bodies_are_400():
    for body in (b'{"events":[{"event_id":"\xff\xfe","client_id":"c",'
                 b'"item_id":"a01","type":"view","ts":1}]}',
                 b'{"events":[{"event_id":"e","client_id":"\xc3\x28",'
                 b'"item_id":"a01","type":"view","ts":1}]}',
                 b'{"events":[{"event_id":"e","client_id":"\xed\xa0\x80",'
                 b'"item_id":"a01","type":"view","ts":1}]}',
                 b'{"events":[{"event_id":"\\udc00","client_id":"c",'
                 b'"item_id":"a01","type":"view","ts":1}]}'):
        r = SRV.post("/v1/events", body)
        if r.status == 200:     # the lone surrogate may be rejected per event
            check_eq(r.json()["accepted"], 0, "accepted with bad UTF-8")
        else:
            check_error(r, 400, "invalid_input")
        alive()


@test
def huge_numbers_are_rejected_not_fatal():
    c = uid("cl")
    for e in (ev(c, "a01", ts=10 ** 30),
              ev(c, "a01", quantity=10 ** 30),
              ev(c, "a01", dwell_ms=2 ** 63),
              ev(c, "a01", value=-(10 ** 40)),
              ev(c, "a01", ts=-(2 ** 63)),
              ev(c, "a01", quantity=-1)):
        r = post_events([e])
        if r.status == 200:
            check_eq(r.json()["accepted"], 0, "accepted %r" % e)
        else:
            check_error(r, 400, "invalid_input")
        alive()
    for raw in (b'{"events":[{"event_id":"h1","client_id":"c","item_id":'
                b'"a01","type":"view","ts":1e400}]}',
                b'{"events":[{"event_id":"h2","client_id":"c","item_id":'
                b'"a01","type":"view","ts":-1e400}]}',
                b'{"events":[{"event_id":"h3","client_id":"c","item_id":'
                b'"a01","type":"view","ts":NaN}]}'):
        r = SRV.post("/v1/events", raw)
        if r.status == 200:
            check_eq(r.json()["accepted"], 0, "accepted %r" % raw)
        else:
            check_error(r, 400, "invalid_input")
        alive()
    check_error(SRV.put("/v1/catalog/items",
                        b'{"items":[{"item_id":"hp","brand":"a","category":'
                        b'"b","price":1e400}]}'), 400, "invalid_input")
    for k in ("99999999999999999999999", "-1", "1e3", "0x10", "NaN"):
        check_error(recs(uid("cl"), k=k), 400, "invalid_input")
        alive()


@test
def garbage_on_the_wire_does_not_kill_the_server():
    for raw in (b"GARBAGE\r\n\r\n",
                b"GET / HTTP/9.9\r\n\r\n",
                b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: -5"
                b"\r\nContent-Type: application/json\r\n\r\n{}",
                b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100"
                b"\r\nContent-Type: application/json\r\n\r\n{\"ev",
                b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /healthz HTTP/1.1\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n",
                b"\x00\x01\x02\xff" * 1000):
        mt.raw_exchange(SRV.port, raw, timeout=3)
        time.sleep(0.05)
        alive()
    check_eq(SRV.get("/healthz").status, 200, "healthz after garbage")


@test
def hostile_path_segments_are_handled():
    for path in ("/v1/clients/%s/recommendations" % ("x" * 129),
                 "/v1/clients/%s/profile" % ("x" * 129)):
        check_error(SRV.get(path), 400, "invalid_input")
        alive()
    r = SRV.get("/v1/catalog/items/%s" % ("y" * 129))
    check_error(r, r.status if r.status in (400, 404) else 400,
                "invalid_input" if r.status != 404 else "not_found")
    for path in ("/v1/clients/%2e%2e/profile", "/v1/clients/a%2Fb/profile",
                 "/v1/clients/%ff%fe/recommendations",
                 "/v1/clients/../../etc/passwd/profile",
                 "/v1/catalog/items/%00", "/v1/clients//recommendations",
                 "/v1/clients/x/recommendations?k=5&k=6&brand",
                 "/v1/clients/x/recommendations?" + "a=b&" * 600):
        try:
            r = SRV.get(path, timeout=5)
        except OSError as e:
            raise mt.TestFailure("GET %s... (%d bytes): no answer (%s)"
                                 % (path[:50], len(path), e))
        check(r.status in (200, 400, 404, 414),
              "GET %s: unexpected %r" % (path[:60], r))
        if r.status in (400, 404):
            check_error(r, r.status, "invalid_input" if r.status == 400
                        else "not_found")
        alive()


# ================================================================ routing


@test
def unknown_routes_are_404():
    for method, path in (("GET", "/"), ("GET", "/v1"), ("GET", "/v1/nope"),
                         ("GET", "/v2/events"), ("GET", "/healthz/extra"),
                         ("GET", "/v1/clients/x/unknown"),
                         ("GET", "/v1/catalog/items/a01/extra"),
                         ("POST", "/v1/nope")):
        check_error(SRV.req(method, path, b"{}" if method == "POST" else None),
                    404, "not_found")


@test
def wrong_methods_are_405_with_allow():
    for method, path, allowed in (
            ("DELETE", "/v1/events", {"POST"}),
            ("GET", "/v1/events", {"POST"}),
            ("POST", "/healthz", {"GET"}),
            ("PUT", "/readyz", {"GET"}),
            ("POST", "/metrics", {"GET"}),
            ("PATCH", "/v1/catalog/items/a01", {"GET", "DELETE"}),
            ("POST", "/v1/catalog/items/a01", {"GET", "DELETE"}),
            ("DELETE", "/v1/catalog/items", {"GET", "PUT"}),
            ("POST", "/v1/clients/x/recommendations", {"GET"}),
            ("PUT", "/v1/clients/x/profile", {"GET"}),
            ("POST", "/v1/clients/x", {"DELETE"}),
            ("POST", "/v1/brands/atelier/rules", {"GET", "PUT"}),
            ("GET", "/v1/clients/x/attributes", {"PUT"})):
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        r = SRV.req(method, path, body)
        check_error(r, 405, "method_not_allowed")
        allow = {m.strip() for m in (r.header("allow") or "").split(",")
                 if m.strip()}
        check(allowed <= allow, "%s %s: Allow %r must list %s"
              % (method, path, r.header("allow"), sorted(allowed)))


# ================================================================ recommendations


@test
def unknown_client_gets_unpersonalized_recommendations():
    c = uid("never-seen")
    doc = recs_ok(c, k=10)
    check_eq(doc["personalized"], False, "personalized")
    check(0 < len(doc["items"]) <= 10, "1..10 items: %r" % ids(doc))


@test
def k_bounds_the_result_and_out_of_range_k_is_400():
    c = uid("cl")
    check(len(recs_ok(c, k=1)["items"]) == 1, "k=1 must give one item")
    check(len(recs_ok(c, k=3)["items"]) == 3, "k=3 must give three items")
    check(len(recs_ok(c, k=100)["items"]) <= 100, "k=100")
    check(len(recs_ok(c)["items"]) <= 10, "default k is 10")
    for k in ("0", "101", "-3", "abc", "", "1.5"):
        check_error(recs(c, k=k), 400, "invalid_input", "k")


@test
def unavailable_out_of_stock_embargoed_and_ended_items_are_never_recommended():
    c = uid("cl")
    post_ok([ev(c, "a-unavailable"), ev(c, "a-nostock"), ev(c, "a-embargo"),
             ev(c, "a-ended"), ev(c, "a00")])
    for params in ({"k": 100}, {"k": 100, "brand": "atelier"},
                   {"k": 100, "brand": "atelier", "context_item":
                    "a-unavailable"}):
        got = set(ids(recs_ok(c, **params)))
        check(not (got & NEVER_RECOMMENDABLE),
              "recommended %s" % sorted(got & NEVER_RECOMMENDABLE))


@test
def brand_filter_returns_only_that_brand():
    c = uid("cl")
    post_ok([ev(c, "a01"), ev(c, "b01"), ev(c, "c01", "add_to_cart")])
    for brand in ("atelier", "bolt", "cirque"):
        doc = recs_ok(c, k=100, brand=brand)
        check(doc["items"], "no items for brand %s" % brand)
        other = [it for it in doc["items"] if it["brand"] != brand]
        check(not other, "brand=%s returned %r" % (brand, other))
    doc = recs_ok(c, nonempty=False, k=10, brand="no-such-brand")
    check_eq(doc["items"], [], "items of an unknown brand")


@test
def region_filter_hides_items_not_sold_there():
    c = uid("cl")
    post_ok([ev(c, "a-jp-only"), ev(c, "a-jp-only", "click")])
    check("a-jp-only" not in ids(recs_ok(c, k=100, brand="atelier",
                                          region="FR")),
          "a JP-only item was recommended for region FR")
    check("a-jp-only" in ids(recs_ok(c, k=100, brand="atelier",
                                      region="JP")),
          "a JP-only item was not recommended for region JP (k=100)")


@test
def empty_region_and_tier_lists_mean_unrestricted():
    brand = uid("open")
    SRV.put("/v1/catalog/items", {"items": [
        item("%s-%d" % (brand, i), brand, "bags", 10.0 + i, regions=[],
             reserved_tiers=[]) for i in range(3)]})
    got = ids(recs_ok(uid("cl"), nonempty=False, k=10, brand=brand))
    check(len(got) == 3, "items with \"regions\": [] and "
          "\"reserved_tiers\": [] must be recommendable like items without "
          "those fields; got %r" % got)


@test
def vip_reserved_items_are_only_for_vip_clients():
    c = uid("cl")
    SRV.put("/v1/clients/%s/attributes" % c, {"tier": "prospect",
                                              "region": "FR"})
    post_ok([ev(c, "a-vip-only")])
    check("a-vip-only" not in ids(recs_ok(c, k=100, brand="atelier")),
          "a VIP-only item was recommended to a prospect")


@test
def dismissed_items_are_never_recommended():
    c = uid("cl")
    post_ok([ev(c, "a09"), ev(c, "a09", "click"), ev(c, "a13")])
    post_ok([ev(c, "a09", "dismiss")])
    for params in ({"k": 100}, {"k": 100, "brand": "atelier"},
                   {"k": 100, "context_item": "a09"}):
        check("a09" not in ids(recs_ok(c, **params)),
              "a dismissed item was recommended (%r)" % params)


@test
def a_view_changes_the_next_recommendations_at_once():
    c = uid("rt")
    before = recs_ok(c, k=10, brand="atelier")
    check_eq(before["personalized"], False, "personalized before any event")
    post_ok([ev(c, "a07")])
    after = recs_ok(c, k=10, brand="atelier")
    check_eq(after["personalized"], True, "personalized after one view")
    check([(x["item_id"], round(x["score"], 6)) for x in after["items"]] !=
          [(x["item_id"], round(x["score"], 6)) for x in before["items"]],
          "recommendations did not change after a view")
    post_ok([ev(c, "a20", "add_to_cart")])
    again = recs_ok(c, k=10, brand="atelier")
    check([(x["item_id"], round(x["score"], 6)) for x in again["items"]] !=
          [(x["item_id"], round(x["score"], 6)) for x in after["items"]],
          "recommendations did not change after an add_to_cart")
    check(any(r["level"] != "catalog" for it in again["items"]
              for r in it["reasons"]),
          "no item carries a personal (non-catalog) reason after two events")


@test
def context_item_is_accepted_and_unknown_context_item_is_rejected():
    c = uid("cl")
    recs_ok(c, k=5, context_item="a02")
    r = recs(c, k=5, context_item="no-such-item-" + uid("x"))
    check(r.status in (200, 400, 404), "unknown context_item: %r" % r)
    if r.status != 200:
        r.json()


@test
def explain_rules_reports_version_and_removed_counts():
    c = uid("cl")
    doc = recs_ok(c, k=5, brand="bolt", explain="rules")
    check("rules" in doc, "explain=rules must add 'rules': %r" % doc)
    check("version" in doc["rules"] and doc["rules"]["version"] is None,
          "bolt has no rules, version must be null: %r" % doc["rules"])
    check(isinstance(doc["rules"].get("removed"), dict),
          "rules.removed must be an object: %r" % doc["rules"])
    check("rules" not in recs_ok(c, k=5, brand="bolt"),
          "'rules' must only appear with explain=rules")


@test
def clients_without_consent_get_unpersonalized_results():
    c = uid("cl")
    r = SRV.put("/v1/clients/%s/attributes" % c,
                {"consent": {"personalization": False}})
    check_eq(r.status, 200, "PUT attributes (%r)" % r)
    post_ok([ev(c, "a01"), ev(c, "a02")])
    check_eq(recs_ok(c, k=10)["personalized"], False,
             "personalized without consent")


# ================================================================ profile


@test
def profile_shows_levels_and_commerce_state():
    c = uid("pf")
    r = SRV.put("/v1/clients/%s/attributes" % c,
                {"tier": "vip", "region": "FR",
                 "consent": {"personalization": True}})
    check_eq(r.status, 200, "PUT attributes (%r)" % r)
    post_ok([ev(c, "a01"), ev(c, "a02"), ev(c, "a01", "add_to_cart"),
             ev(c, "a05", "wishlist"), ev(c, "a02", "purchase"),
             ev(c, None, "store_visit")])
    r = SRV.get("/v1/clients/%s/profile" % c)
    check_eq(r.status, 200, "status")
    p = r.json()
    check_eq(p.get("client_id"), c, "client_id")
    check_eq(p.get("tier"), "vip", "tier")
    check_eq(p.get("region"), "FR", "region")
    check(isinstance(p.get("consent"), dict) and
          p["consent"].get("personalization") is True, "consent: %r"
          % p.get("consent"))
    levels = p.get("levels")
    check(isinstance(levels, list) and levels, "levels: %r" % levels)
    names = [l.get("name") for l in levels]
    check(set(names) <= LEVEL_NAMES, "level names %r" % names)
    check_eq(len(set(names)), len(names), "distinct level names")
    check({"recent days", "recent weeks", "long term"} <= set(names),
          "client levels recent days/weeks/long term missing: %r" % names)
    for l in levels:
        for f in ("top_categories", "top_items"):
            check(isinstance(l["raw"].get(f), list), "levels[%s].raw.%s: %r"
                  % (l.get("name"), f, l["raw"].get(f)))
    for name in ("recent days", "recent weeks", "long term"):
        check(any(isinstance(l.get("events"), int) and
                  "last_consolidated_at" in l
                  for l in levels if l["name"] == name),
              "no %s level with events and last_consolidated_at: %r"
              % (name, [l for l in levels if l["name"] == name]))
    session = max(l.get("events") or 0 for l in levels
                  if l["name"] == "recent days")
    check(session >= 5, "session level counts %r events, want >= 5"
          % session)
    check(mentions(p.get("wishlist"), "a05"), "wishlist: %r" % p.get("wishlist"))
    check(mentions(p.get("cart"), "a01"), "cart: %r" % p.get("cart"))
    check(mentions(p.get("purchases"), "a02"), "purchases: %r"
          % p.get("purchases"))
    visits = p.get("visits", p.get("store_visits"))
    check(visits not in (None, 0, []), "visits: %r" % visits)


def level_items(level):
    return level["items"]["interacted"] + level["items"]["inferred"]


@test
def profile_levels_speak_in_shares_that_sum_to_one():
    c = uid("ps")
    post_ok([ev(c, "a01"), ev(c, "a02"), ev(c, "a01"), ev(c, "a03", "click"),
             ev(c, "b01"), ev(c, "a02", "add_to_cart")])
    p = SRV.get("/v1/clients/%s/profile" % c).json()
    names = [l["name"] for l in p["levels"]]
    check_eq(len(set(names)), len(names), "distinct level names %r" % names)
    check_eq(names[0], "now", "the session context first")
    check_eq(names[-1], "catalog-wide", "the catalog last")
    for l in p["levels"]:
        check(isinstance(l.get("description"), str) and
              len(l["description"]) > 20, "a description: %r" % l)
        for what, entries in (("items", level_items(l)),
                              ("categories", l["categories"]),
                              ("brands", l["brands"])):
            if not entries:
                continue
            total = sum(e["share"] for e in entries)
            check(abs(total - 1.0) <= 0.001, "%s %s shares sum to %r: %r"
                  % (l["name"], what, total, entries))
            for e in entries:
                check(0 <= e["share"] <= 1 and
                      abs(e["share"] * 1000 - round(e["share"] * 1000)) < 1e-6,
                      "%s share %r in thousandths" % (what, e["share"]))


@test
def profile_tells_interacted_items_from_inferred_ones():
    c = uid("pi")
    post_ok([ev(c, "a01"), ev(c, "a01"), ev(c, "a01"),
             ev(c, "a01", "add_to_cart", ts="2026-11-23T10:00:00Z"),
             ev(c, "a02", "purchase", ts="2026-11-24T09:00:00Z")])
    p = SRV.get("/v1/clients/%s/profile" % c).json()
    touched = {e["item_id"] for e in p["recent_events"]}
    check_eq(touched, {"a01", "a02"}, "recent events")
    seen_a01 = False
    for l in p["levels"]:
        inter = {e["item_id"]: e for e in l["items"]["interacted"]}
        for e in l["items"]["inferred"]:
            check(e["item_id"] not in touched,
                  "%s infers %s, which the client touched" %
                  (l["name"], e["item_id"]))
            check(isinstance(e.get("reason"), str) and e["reason"],
                  "an inferred item says why: %r" % e)
        check(set(inter) <= touched, "%s interacted %r" % (l["name"], inter))
        if "a01" in inter:
            seen_a01 = True
            e = inter["a01"]
            check_eq(e["events"], {"view": 3, "add_to_cart": 1},
                     "a01's events")
            check("viewed 3 times" in e["evidence"] and
                  "added to the cart on 2026-11-23" in e["evidence"],
                  "a01's evidence: %r" % e["evidence"])
        if "a02" in inter:
            check("bought on 2026-11-24" in inter["a02"]["evidence"],
                  "a02's evidence: %r" % inter["a02"]["evidence"])
    check(seen_a01, "a01 under interacted in some level: %r" % p["levels"])


@test
def profile_summary_names_only_true_facts():
    c = uid("pm")
    r = SRV.put("/v1/clients/%s/attributes" % c,
                {"tier": "vip", "region": "FR",
                 "consent": {"personalization": True}})
    check_eq(r.status, 200, "PUT attributes (%r)" % r)
    post_ok([ev(c, "a01", ts="2026-11-20T10:00:00Z"),
             ev(c, "a02", "purchase", ts="2026-11-21T10:00:00Z")])
    s = SRV.get("/v1/clients/%s/profile" % c).json()["summary"]
    check("vip" in s and "FR" in s, "tier and region: %r" % s)
    check("last seen on 2026-11-21" in s, "last seen: %r" % s)
    check("Bought a02 (%s) on 2026-11-21" % CATEGORY_OF["a02"] in s,
          "the purchase and its category: %r" % s)
    others = {cat for cat in CATEGORY_OF.values()
              if cat not in (CATEGORY_OF["a01"], CATEGORY_OF["a02"])}
    check(not any(cat in s for cat in others),
          "a category the client never touched: %r" % s)
    r = SRV.put("/v1/clients/%s/attributes" % c,
                {"consent": {"personalization": False}})
    check_eq(r.status, 200, "withdraw consent (%r)" % r)
    p = SRV.get("/v1/clients/%s/profile" % c).json()
    check_eq(p["levels"], [], "no levels without consent")
    check("a02" not in p["summary"] and "no consent" in p["summary"],
          "summary without consent: %r" % p["summary"])


@test
def export_embeds_the_same_profile():
    c = uid("px")
    post_ok([ev(c, "a01"), ev(c, "a01", "wishlist"), ev(c, "a04")])
    prof = SRV.get("/v1/clients/%s/profile" % c).json()
    exp = SRV.get("/v1/clients/%s/export" % c)
    check_eq(exp.status, 200, "export (%r)" % exp)
    exp = exp.json()
    check_eq(exp["summary"], prof["summary"], "the export's summary")

    def shape(doc):  # scores fade between the two reads: no order
        return [(l["name"], l["source"], l["description"],
                 sorted((e["item_id"], e["evidence"])
                        for e in l["items"]["interacted"]))
                for l in doc["levels"]]
    check_eq(shape(exp), shape(prof), "the export's levels")


@test
def profile_of_a_client_never_seen_is_404():
    check_error(SRV.get("/v1/clients/%s/profile" % uid("ghost")), 404,
                "not_found")


@test
def remove_from_cart_empties_the_cart():
    c = uid("pf")
    post_ok([ev(c, "b03", "add_to_cart")])
    check(mentions(SRV.get("/v1/clients/%s/profile" % c).json().get("cart"),
                   "b03"), "cart after add_to_cart")
    post_ok([ev(c, "b03", "remove_from_cart")])
    check(not mentions(SRV.get("/v1/clients/%s/profile" % c).json()
                       .get("cart"), "b03"), "cart after remove_from_cart")


@test
def deleted_client_is_forgotten():
    c = uid("del")
    post_ok([ev(c, "a01"), ev(c, "a02", "click")])
    check_eq(SRV.get("/v1/clients/%s/profile" % c).status, 200,
             "profile before delete")
    r = SRV.delete("/v1/clients/%s" % c)
    check_eq(r.status, 204, "DELETE status (%r)" % r)
    check_error(SRV.get("/v1/clients/%s/profile" % c), 404, "not_found")
    check_eq(recs_ok(c, k=10)["personalized"], False,
             "personalized after delete")


# ================================================================ attributes


@test
def attributes_put_validates_fields():
    c = uid("at")
    check_eq(SRV.put("/v1/clients/%s/attributes" % c,
                     {"tier": "vip", "region": "FR",
                      "consent": {"personalization": True}}).status,
             200, "valid attributes")
    for body, field in (({"tier": 3}, "tier"), ({"region": ["FR"]}, "region"),
                        ({"consent": {"personalization": "yes"}},
                         "consent"),
                        ({"consent": True}, "consent"), ([], None)):
        check_error(SRV.put("/v1/clients/%s/attributes" % c, body), 400,
                    "invalid_input", field)


# ================================================================ brand rules

RULES = {"categories": {"allow": ["bags", "shoes", "fragrance", "jewelry"],
                        "exclude": ["shoes"]},
         "price": {"min": 250, "max": None, "min_by_tier": {"prospect": 500}},
         "max_per_category": 2,
         "frequency_cap": {"max_per_item_per_day": 100},
         "exclude_purchased": {"enabled": True,
                               "repurchasable_categories": ["fragrance"]},
         "exclude_dismissed_days": 30}


@test
def rules_put_versions_and_get_returns_current():
    brand = uid("rb")
    r = SRV.put("/v1/brands/%s/rules" % brand, RULES)
    check_eq(r.status, 200, "PUT status (%r)" % r)
    d1 = r.json()
    check_eq(d1.get("brand"), brand, "brand")
    check(isinstance(d1.get("version"), int), "version: %r" % d1)
    check_eq(d1.get("rules", {}).get("max_per_category"), 2, "rules echoed")
    d2 = SRV.put("/v1/brands/%s/rules" % brand,
                 dict(RULES, max_per_category=3)).json()
    check(d2["version"] > d1["version"], "version must grow: %r -> %r"
          % (d1["version"], d2["version"]))
    g = SRV.get("/v1/brands/%s/rules" % brand)
    check_eq(g.status, 200, "GET status")
    check_eq(g.json().get("version"), d2["version"], "GET version")
    check_eq(g.json().get("rules", {}).get("max_per_category"), 3,
             "GET returns the current rules")


@test
def rules_get_of_brand_without_rules_is_404():
    check_error(SRV.get("/v1/brands/%s/rules" % uid("norules")), 404,
                "not_found")


@test
def bad_rules_are_400_naming_the_field():
    brand = uid("rb")
    for body, field in (
            ({"price": {"min": "cheap"}}, "price.min"),
            ({"price": {"min_by_tier": {"prospect": "x"}}},
             "price.min_by_tier"),
            ({"max_per_category": -1}, "max_per_category"),
            ({"max_per_category": "3"}, "max_per_category"),
            ({"categories": {"allow": "bags"}}, "categories.allow"),
            ({"categories": {"exclude": [1]}}, "categories.exclude"),
            ({"frequency_cap": {"max_per_item_per_day": 0.5}},
             "frequency_cap.max_per_item_per_day"),
            ({"exclude_purchased": {"enabled": "yes"}},
             "exclude_purchased.enabled"),
            ({"exclude_dismissed_days": -2}, "exclude_dismissed_days"),
            ({"no_such_rule": 1}, "no_such_rule"),
            ([], None)):
        check_error(SRV.put("/v1/brands/%s/rules" % brand, body), 400,
                    "invalid_input", field)
    check_error(SRV.get("/v1/brands/%s/rules" % brand), 404, "not_found")


@test
def rules_hold_on_every_recommendation():
    r = SRV.put("/v1/brands/cirque/rules", RULES)
    check_eq(r.status, 200, "PUT rules (%r)" % r)
    version = r.json()["version"]
    c = uid("cl")
    post_ok([ev(c, "c01"), ev(c, "c05", "click"), ev(c, "c03")])
    doc = recs_ok(c, k=100, brand="cirque", explain="rules")
    check(doc["items"], "no items at all under the rules")
    per_cat = {}
    for it in doc["items"]:
        check(it["category"] != "shoes", "excluded category: %r" % it)
        check(PRICES[it["item_id"]] >= 250, "below price.min: %r" % it)
        per_cat[it["category"]] = per_cat.get(it["category"], 0) + 1
    check(max(per_cat.values()) <= 2, "max_per_category 2 broken: %r"
          % per_cat)
    check_eq(doc["rules"]["version"], version, "rules.version")
    removed = doc["rules"]["removed"]
    check(isinstance(removed, dict) and sum(removed.values()) > 0,
          "rules.removed must count removed items: %r" % removed)


@test
def rule_changes_apply_at_once():
    SRV.put("/v1/brands/cirque/rules", RULES)
    c = uid("cl")
    check(all(it["category"] != "shoes"
              for it in recs_ok(c, k=100, brand="cirque")["items"]),
          "shoes excluded by v1")
    r = SRV.put("/v1/brands/cirque/rules",
                {"categories": {"allow": ["shoes"]}})
    check_eq(r.status, 200, "PUT v2 (%r)" % r)
    doc = recs_ok(c, k=100, brand="cirque")
    check(doc["items"] and all(it["category"] == "shoes"
                               for it in doc["items"]),
          "after allow=[shoes] only shoes: %r"
          % [it["category"] for it in doc["items"]])
    SRV.put("/v1/brands/cirque/rules", RULES)


@test
def tier_price_floor_applies_to_prospects():
    SRV.put("/v1/brands/cirque/rules", RULES)
    c = uid("cl")
    SRV.put("/v1/clients/%s/attributes" % c, {"tier": "prospect"})
    post_ok([ev(c, "c02")])
    for it in recs_ok(c, k=100, brand="cirque")["items"]:
        check(PRICES[it["item_id"]] >= 500, "prospect saw %r" % it)


@test
def purchased_items_are_excluded_unless_repurchasable():
    SRV.put("/v1/brands/cirque/rules", RULES)
    c = uid("cl")
    # c04 is a bag (price 500), c02 fragrance (300, repurchasable).
    post_ok([ev(c, "c04", "purchase"), ev(c, "c08", "view")])
    check("c04" not in ids(recs_ok(c, k=100, brand="cirque")),
          "a purchased bag was recommended")


@test
def frequency_cap_limits_repeats_of_an_item():
    brand = "fcap"
    SRV.put("/v1/catalog/items", {"items": [
        item("fc%02d" % i, brand, CATEGORIES[i % 4], 100.0 + i)
        for i in range(12)]})
    r = SRV.put("/v1/brands/%s/rules" % brand,
                {"frequency_cap": {"max_per_item_per_day": 1}})
    check_eq(r.status, 200, "PUT rules (%r)" % r)
    c = uid("cl")
    first = set(ids(recs_ok(c, k=4, brand=brand)))
    second = set(ids(recs_ok(c, k=4, brand=brand)))
    check(first, "no items")
    check(not (first & second), "items shown twice in a day with cap 1: %s"
          % sorted(first & second))


# ================================================================ metrics


@test
def event_counters_move_with_the_traffic():
    c = uid("mx")
    m0 = SRV.metrics()
    e = ev(c, "a01")
    post_ok([e, ev(c, "a02"), ev(c, "teleport-item-" + uid("x"))])
    post_ok([e])
    m1 = SRV.metrics()

    def delta(name, **labels):
        return ((mt.metric_sum(m1, name, **labels) or 0) -
                (mt.metric_sum(m0, name, **labels) or 0))
    check_eq(delta("maison_events_accepted_total"), 2, "accepted delta")
    check_eq(delta("maison_events_duplicate_total"), 1, "duplicate delta")
    check_eq(delta("maison_events_rejected_total"), 1, "rejected delta")
    check(delta("maison_http_requests_total", route="/v1/events",
                method="POST", status="200") >= 2,
          "maison_http_requests_total{route=\"/v1/events\",method=\"POST\","
          "status=\"200\"} did not move")
    check((mt.metric_sum(m1, "maison_clients_in_memory") or 0) >= 1,
          "maison_clients_in_memory")


# ================================================================ shutdown


@test
def sigterm_exits_zero_and_a_restart_keeps_the_data():
    c = uid("keep")
    post_ok([ev(c, "a01"), ev(c, "a10", "wishlist")])
    rc = SRV.stop()
    check_eq(rc, 0, "exit status after SIGTERM")
    SRV.start()
    check_eq(SRV.get("/v1/catalog/items/a01").status, 200, "catalog kept")
    p = SRV.get("/v1/clients/%s/profile" % c)
    check_eq(p.status, 200, "profile kept (%r)" % p)
    check(mentions(p.json().get("wishlist"), "a10"), "wishlist kept")
    check_eq(recs_ok(c, k=5)["personalized"], True, "personalized kept")


def threads_not_blocking(pid, signo):
    """The threads of process pid, other than its main thread, whose
    signal mask lets signo through (/proc/PID/task/TID/status SigBlk)."""
    tids = []
    for name in os.listdir("/proc/%d/task" % pid):
        tid = int(name)
        with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
            blocked = next(int(line.split()[1], 16) for line in f
                           if line.startswith("SigBlk:"))
        if tid != pid and not blocked & (1 << (signo - 1)):
            tids.append(tid)
    return tids


@test
def a_stop_signal_that_reaches_a_library_thread_still_stops_gracefully():
    # The kernel hands a process-directed SIGTERM to any thread that does
    # not block it whenever the main thread is not in sigwait (busy
    # starting or stopping). OpenBLAS's workers start before main() and
    # do not block it: sent to them straight, the signal must still give
    # the orderly stop, not the default action's death by signal.
    c = uid("forward")
    post_ok([ev(c, "a01", "wishlist")])
    pid = SRV.proc.pid
    tids = threads_not_blocking(pid, signal.SIGTERM)
    print("# threads of maisond not blocking SIGTERM besides main: %d"
          % len(tids))
    libc = ctypes.CDLL(None, use_errno=True)
    for tid in tids:
        check_eq(libc.tgkill(pid, tid, int(signal.SIGTERM)), 0,
                 "tgkill(%d, %d, SIGTERM)" % (pid, tid))
    if not tids:
        SRV.proc.send_signal(signal.SIGTERM)
    try:
        rc = SRV.proc.wait(60)
    except subprocess.TimeoutExpired:
        rc = None
    check_eq(rc, 0, "exit status after SIGTERM to a library thread")
    this_run = SRV.log_text().rsplit("--- start ", 1)[-1]
    check("state written to PostgreSQL" in this_run,
          "maisond logged its orderly stop")
    SRV.start()
    p = SRV.get("/v1/clients/%s/profile" % c)
    check_eq(p.status, 200, "profile kept (%r)" % p)
    check(mentions(p.json().get("wishlist"), "a01"), "wishlist kept")


@test
def a_deleted_item_keeps_what_clients_remember_across_a_restart():
    # Client records address items by catalog position; a deleted item
    # must keep its position at the next start, or every item after it
    # would shift by one in every client's memory.
    prefix = uid("shift")
    ids = ["%s-%d" % (prefix, i) for i in range(10)]
    r = SRV.put("/v1/catalog/items", {"items": [
        item(i, "atelier", CATEGORIES[n % 4], 100.0 + n)
        for n, i in enumerate(ids)]})
    check_eq(r.status, 200, "catalog upsert")
    c = uid("shift-client")
    post_ok([ev(c, ids[5], "wishlist")] + [ev(c, ids[5]) for _ in range(3)]
            + [ev(c, ids[7])])
    check_eq(SRV.delete("/v1/catalog/items/%s" % ids[2]).status, 204,
             "delete")

    def memory():
        p = SRV.get("/v1/clients/%s/profile" % c)
        check_eq(p.status, 200, "profile (%r)" % p)
        doc = p.json()
        return ([[t["item_id"] for t in level["raw"]["top_items"]]
                 for level in doc["levels"]],
                [w["item_id"] for w in doc.get("wishlist", [])],
                [e["item_id"] for e in doc.get("recent_events", [])])

    before = memory()
    check(ids[5] in before[1], "wishlist holds %s: %r" % (ids[5], before))
    check_eq(SRV.stop(), 0, "exit status after SIGTERM")
    SRV.start()
    check_eq(memory(), before, "the client's memory after a restart")
    check_eq(SRV.get("/v1/catalog/items/%s" % ids[2]).status, 404,
             "a deleted item stays deleted")
    check_eq(SRV.get("/v1/catalog/items/%s" % ids[3]).status, 200,
             "the item after it is still there")
    # Put back, it is an item again, and nothing moved.
    r = SRV.put("/v1/catalog/items", {"items": [
        item(ids[2], "atelier", "bags", 90.0)]})
    check_eq(r.status, 200, "re-insert")
    check_eq(SRV.get("/v1/catalog/items/%s" % ids[2]).status, 200,
             "a re-inserted item is back")
    check_eq(SRV.stop(), 0, "exit status after SIGTERM")
    SRV.start()
    check_eq(SRV.get("/v1/catalog/items/%s" % ids[2]).status, 200,
             "a re-inserted item is back after a restart")
    check_eq(memory(), before, "the client's memory after a second restart")


@test
def stderr_stays_json_lines_across_a_restart():
    # Runs after the restart above: what maisond (and libpq inside it)
    # writes to stderr at a second start must be JSON lines too.
    with open(SRV.log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    bad = [l for l in text.splitlines()
           if l.strip() and not l.startswith("--- start")
           and not _is_json_object(l)]
    check(not bad, "%d stderr lines are not JSON, e.g. %r"
          % (len(bad), bad[:3]))


def _is_json_object(line):
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


# ================================================================ main


def after_each(name):
    if not SRV.alive():
        tail = SRV.log_tail()
        try:
            SRV.start()
        except mt.StartError as e:
            tail += "\n(restart failed: %s)" % e
        raise mt.TestFailure("maisond died during %s; log tail:\n%s"
                             % (name, tail))


def main():
    global SRV
    mt.require_environment()
    SRV = mt.Maisond(name="maisond-api")
    try:
        try:
            SRV.start()
            r = SRV.put("/v1/catalog/items", {"items": catalog()})
            if r.status != 200:
                raise mt.StartError("loading the test catalog: %r" % r)
        except mt.StartError as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1
        return mt.run_tests(after_each=after_each)
    finally:
        rc = SRV.stop()
        if rc not in (0, None):
            print("note: maisond exited %s at the end" % rc)
        SRV.cleanup()


if __name__ == "__main__":
    sys.exit(main())
