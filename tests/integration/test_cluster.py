#!/usr/bin/env python3
"""test_cluster: three maisond nodes behind nginx follow the one event log,
so each answers for every client as a single node fed that log would
(issue 12; docs/several-nodes.md).

Three nodes (--node-id n1, n2, n3; --checkpoint-interval-s 1; 2 threads)
run on loopback against the test database, with nginx in front running
deploy/nginx-maison.conf as shipped (nginx_front.py). The catalog goes in
through node 1 and must reach nodes 2 and 3 by the log. A click stream
(the Diginetica raw sample from ../shared/data when present, else a
generated one, loaded as test_recovery.py does) is posted through nginx by
four threads, in mixed batches that nginx spreads over the nodes; node 3
is killed -9 while batches are in flight, and a batch that is not
answered 200 is posted again until it is (event ids make that safe). Each
200 carries the log position covering its batch.

A fourth maisond on its own database is the reference: the same catalog,
then the cluster's log read from PostgreSQL in seq order (client events
only, not the internal markers), one batch at a time. Nodes 1 and 2,
asked directly with after=<the highest position seen>, must answer every
sampled client's profile and recommendations as the reference does
(numbers within 1e-4, *_at receive times skipped, as test_recovery.py
compares). Then an item change, a rule change, an attribute change and a
key made and revoked through node 1 must be in force on nodes 2 and 3
within a second of the reply; a client erased through node 2 right after
node 1 took new events of it must, after two checkpoints of every node,
be gone from every node and from PostgreSQL (no row naming it in events,
client_state, client_attributes, audit); each node checkpoints under its
own id; node 3 restarts, gets ready, and all three answer as the
reference given the same changes.

Frequency caps count impressions per node, outside the log: the rules here
have none. Skipped (77) without nginx or openssl. About a minute on two
cores.
"""

import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import uuid

import maison_test as mt
import nginx_front as nf
import tls_helpers as th
from maison_test import check, check_eq, test
from test_recovery import load_stream, wait_quiet

BATCH = 100
TOLERANCE = 1e-4
POSTERS = 4
CHANGE_BOUND_S = 1.0          # issue 12: changes everywhere within 1 s
# Event types a client may post (model/event.c); the log's other rows are
# the service's own markers and reach the reference by its own changes.
PUBLIC_TYPES = ("view", "click", "add_to_cart", "remove_from_cart",
                "wishlist", "purchase", "return", "dismiss", "store_visit",
                "appointment", "event_attendance")
ERASED = "erase-me-%s" % uuid.uuid4().hex[:12]

NODES = []            # n1, n2, n3 (mt.Maisond)
REF = None            # the single-node reference, on its own database
FRONT = None          # nginx_front.Front
DIR = None
ITEMS = []
ITEM_BY_ID = {}
STREAM = []           # batches of event dicts, in the order they are taken
STATE = {"positions": {}, "max_position": None, "ingested": False,
         "reference_fed": False, "killed": None, "kill_at": None,
         "changes": []}


def node_id_supported():
    p = subprocess.run([mt.maisond_path(), "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    return "--node-id" in p.stdout.decode("utf-8", "replace")


def make_node(n):
    args = ["--max-connections-per-ip", "0"]
    if node_id_supported():
        args += ["--node-id", "n%d" % n]
    return mt.Maisond(name="n%d" % n, threads=2, checkpoint_interval_s=1,
                      extra_args=args)


def after(path):
    """path with after=<the highest position seen>, when there is one."""
    pos = STATE["max_position"]
    if pos is None:
        return path
    return path + ("&" if "?" in path else "?") + "after=%d" % pos


def put_catalog(srv, items):
    for i in range(0, len(items), 1000):
        r = srv.put("/v1/catalog/items", {"items": items[i:i + 1000]},
                    timeout=120)
        check_eq(r.status, 200, "PUT catalog on %s: %r" % (srv.name, r))


def diff_json(a, b):
    return mt.json_diff(a, b, TOLERANCE, skip_key=lambda k: k.endswith("_at"))


def sample_clients():
    counts = {}
    for b in STREAM:
        for e in b:
            counts[e["client_id"]] = counts.get(e["client_id"], 0) + 1
    busiest = sorted(counts, key=lambda c: (-counts[c], c))[:100]
    rest = sorted(set(counts) - set(busiest) - {ERASED})
    picked = busiest + random.Random(5).sample(rest, min(220, len(rest)))
    # The clients of the batches around the kill.
    k = STATE["kill_at"]
    if k is not None:
        for j in range(max(0, k - 4), min(len(STREAM), k + 4)):
            picked += [e["client_id"] for e in STREAM[j][:10]]
    return sorted(set(picked) - {ERASED})


QUERIES = ("k=20", "k=10&brand=dg1")


def answers(srv, clients, with_after):
    """{(client, what): (status, JSON body)} of srv's profile and
    recommendations of clients (and of an unknown client: the global
    level), with after= when with_after."""
    out = {}
    paths = []
    for c in clients + ["nobody-at-all"]:
        paths.append((c, "profile", "/v1/clients/%s/profile" % c))
        for q in QUERIES:
            paths.append((c, q, "/v1/clients/%s/recommendations?%s" % (c, q)))
    for c, what, path in paths:
        r = srv.get(after(path) if with_after else path)
        out[(c, what)] = (r.status, r.json())
    return out


def compare_with_reference(nodes, clients):
    """Fails naming the first differences between each node's answers
    (asked with after=) and the reference's. The servers are asked at
    the same time, one thread each."""
    got = {}

    def ask(srv, with_after):
        got[srv.name] = answers(srv, clients, with_after)
    threads = [threading.Thread(target=ask, args=(REF, False))] + [
        threading.Thread(target=ask, args=(n, True)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ref = got.get(REF.name)
    check(ref is not None and all(n.name in got for n in nodes),
          "a server did not answer every request (see above)")
    bad = []
    for node in nodes:
        for key, (status, body) in sorted(ref.items()):
            s2, b2 = got[node.name][key]
            if s2 != status:
                bad.append("%s %s %s: HTTP %d, reference %d: %r"
                           % (node.name, key[0], key[1], s2, status, b2))
                continue
            if status != 200:
                continue
            if key[1] == "profile":
                d = diff_json(body, b2)
            else:
                d = mt.ranking_diff(body, b2, TOLERANCE)
            if d:
                bad.append("%s %s %s: %s" % (node.name, key[0], key[1], d))
    check(not bad, "%d of %d answers differ from the reference, e.g.:\n%s"
          % (len(bad), len(ref) * len(nodes), "\n".join(bad[:10])))


def wait_all_quiet(servers):
    ts = [threading.Thread(target=wait_quiet, args=(s,)) for s in servers]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def poll_until(what, fn, bound_s, deadline_s=10.0):
    """Calls fn() every 10 ms until it is true; returns the seconds it took
    from now. Fails when it took bound_s or more (waiting up to deadline_s
    to say how long it did take)."""
    t0 = time.monotonic()
    while not fn():
        if time.monotonic() - t0 > deadline_s:
            raise mt.TestFailure("%s: not after %.0f s" % (what, deadline_s))
        time.sleep(0.01)
    took = time.monotonic() - t0
    check(took < bound_s, "%s took %.3f s (bound %.1f s)"
          % (what, took, bound_s))
    return took


def in_force_on_the_others(what, t_reply, in_force, deadline_s=10.0):
    """Polls in_force(node) every 10 ms on nodes 2 and 3 (those alive) at
    once until it holds on each; fails unless each took under
    CHANGE_BOUND_S from t_reply (the change's reply, time.monotonic()),
    waiting up to deadline_s to say how long it did take."""
    waiting = [n for n in NODES[1:] if n is not STATE["killed"]]
    took = {}
    while waiting:
        for node in list(waiting):
            if in_force(node):
                took[node.name] = time.monotonic() - t_reply
                waiting.remove(node)
        if time.monotonic() - t_reply > deadline_s:
            raise mt.TestFailure("%s: not on %s after %.0f s" % (
                what, ", ".join(n.name for n in waiting), deadline_s))
        time.sleep(0.01)
    print("# %s in force after %s" % (what, ", ".join(
        "%.3f s on %s" % (t, name) for name, t in sorted(took.items()))))
    slow = {name: t for name, t in took.items() if t >= CHANGE_BOUND_S}
    check(not slow, "%s took %r (bound %.1f s)" % (what, slow,
                                                    CHANGE_BOUND_S))


def checkpoints(node):
    return node.metric("maison_checkpoints_total") or 0


# ---------------------------------------------------------------- tests


@test
def every_node_takes_its_own_node_id():
    check(node_id_supported(), "maisond --help lists no --node-id")
    for n, node in enumerate(NODES, 1):
        check("--node-id" in node.argv() and ("n%d" % n) in node.argv(),
              "%s runs with --node-id n%d" % (node.name, n))


@test
def the_catalog_loaded_on_node_1_reaches_nodes_2_and_3():
    put_catalog(NODES[0], ITEMS)
    probe = [ITEMS[0], ITEMS[-1]] + random.Random(2).sample(ITEMS, 30)

    def everywhere():
        for node in NODES[1:]:
            for it in probe:
                r = node.get("/v1/catalog/items/%s" % it["item_id"])
                if r.status != 200:
                    return False
        return True
    # A whole catalog is a few thousand changes; the one-second bound is
    # checked on a single change below.
    took = poll_until("%d items on nodes 2 and 3" % len(ITEMS), everywhere,
                      bound_s=10.0, deadline_s=10.0)
    print("# catalog of %d items on nodes 2 and 3 %.3f s after node 1's "
          "last reply" % (len(ITEMS), took))


def post_until_acked(batch, idx, errors):
    """Posts batch through nginx until it is answered 200 (at most 100
    tries); records its position. Non-200 answers other than 502/503 and
    connection errors are errors."""
    body = json.dumps({"events": batch}, separators=(",", ":"))
    for _ in range(100):
        try:
            status, _, reply = FRONT.https("POST", "/v1/events",
                                           key=NODES[0].admin_key, body=body,
                                           timeout=60)
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
            continue
        if status in (502, 503):
            time.sleep(0.1)
            continue
        if status != 200:
            errors.append("batch %d: HTTP %d %r" % (idx, status, reply[:300]))
            return
        doc = json.loads(reply.decode())
        if doc.get("rejected"):
            errors.append("batch %d: rejected %r" % (idx,
                                                     doc["rejected"][:3]))
            return
        STATE["positions"][idx] = doc.get("position")
        return
    errors.append("batch %d: not answered 200 in 100 tries" % idx)


@test
def a_click_stream_through_nginx_with_a_kill_9_keeps_every_acked_event():
    todo = queue.Queue()
    for i in range(len(STREAM)):
        todo.put(i)
    errors = []

    def poster():
        while not errors:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            post_until_acked(STREAM[i], i, errors)
    threads = [threading.Thread(target=poster) for _ in range(POSTERS)]
    for t in threads:
        t.start()
    # Kill node 3 in the middle, while the posters have batches in flight.
    while len(STATE["positions"]) < len(STREAM) * 0.4 and not errors and \
            any(t.is_alive() for t in threads):
        time.sleep(0.005)
    STATE["kill_at"] = len(STATE["positions"])
    NODES[2].kill9()
    STATE["killed"] = NODES[2]
    for t in threads:
        t.join(300)
    check(not errors, "posting the stream: %s" % "; ".join(errors[:5]))
    check_eq(len(STATE["positions"]), len(STREAM), "batches answered 200")
    check(STATE["kill_at"] < len(STREAM),
          "the kill fell after the last batch")
    for node in NODES:      # node 3 before it was killed
        with open(node.log_path) as f:
            check('"path":"/v1/events"' in f.read(),
                  "nginx gave %s event batches" % node.name)
    # Every event once in the log.
    rows = mt.psql("SELECT event_id || ' ' || seq FROM events WHERE "
                   "client_id <> ''").split()
    seq = dict(zip(rows[0::2], map(int, rows[1::2])))
    events = [e["event_id"] for b in STREAM for e in b]
    lost = [e for e in events if e not in seq]
    check(not lost, "%d acknowledged events not in the log, e.g. %s"
          % (len(lost), lost[:3]))
    check_eq(len(seq), len(events), "client events in the log")
    STATE["ingested"] = True
    # Each reply's position covers its batch's events.
    positions = STATE["positions"]
    missing = [i for i, p in positions.items() if not isinstance(p, int)
               or isinstance(p, bool)]
    check(not missing, "%d replies without an integer \"position\", e.g. "
          "batch %d" % (len(missing), missing[0] if missing else -1))
    STATE["max_position"] = max(positions.values())
    late = [i for i, b in enumerate(STREAM)
            if max(seq[e["event_id"]] for e in b) > positions[i]]
    check(not late, "%d replies gave a position before some of their "
          "batch's events, e.g. batch %d" % (len(late),
                                             late[0] if late else -1))
    print("# %d batches, node 3 killed after %d; highest position %d"
          % (len(STREAM), STATE["kill_at"], STATE["max_position"]))


def read_log():
    """The cluster's client events in log order, as POST /v1/events takes
    them."""
    sql = ("SELECT row_to_json(e) FROM (SELECT event_id, client_id, "
           "item_id, type, CASE WHEN ts = date_trunc('second', ts) THEN "
           "to_json(extract(epoch FROM ts)::bigint) ELSE to_json(ts) END "
           "AS ts, channel, brand, value, quantity, dwell_ms FROM events "
           "WHERE client_id <> '' AND type IN (%s) ORDER BY seq) e"
           % ", ".join("'%s'" % t for t in PUBLIC_TYPES))
    out = []
    for line in mt.psql(sql).splitlines():
        if line.strip():
            e = json.loads(line)
            out.append({k: v for k, v in e.items() if v is not None})
    return out


@test
def the_reference_takes_the_same_catalog_then_the_clusters_log():
    check(STATE["ingested"], "the stream was not ingested")
    put_catalog(REF, ITEMS)
    log = read_log()
    check_eq(len(log), sum(len(b) for b in STREAM), "events read back")
    for i in range(0, len(log), BATCH):
        r = REF.post("/v1/events", {"events": log[i:i + BATCH]}, timeout=60)
        check_eq(r.status, 200, "POST to the reference: %r" % r)
        check_eq(r.json().get("rejected"), [], "rejected by the reference")
    STATE["reference_fed"] = True


@test
def surviving_nodes_answer_every_client_as_the_reference():
    check(STATE["reference_fed"], "the reference was not fed")
    wait_all_quiet([REF] + NODES[:2])
    clients = sample_clients()
    check(len(clients) >= 300, "only %d clients sampled" % len(clients))
    compare_with_reference(NODES[:2], clients)
    print("# %d clients: nodes 1 and 2 answer as the reference"
          % len(clients))


@test
def the_log_position_and_lag_are_in_the_metrics():
    check(STATE["max_position"] is not None, "no position seen")
    for node in NODES[:2]:
        m = node.metrics()
        applied = mt.metric_sum(m, "maison_log_applied_position")
        lag = mt.metric_sum(m, "maison_log_lag_events")
        check(applied is not None and applied >= STATE["max_position"],
              "%s maison_log_applied_position %r, positions seen up to %d"
              % (node.name, applied, STATE["max_position"]))
        check(lag is not None and 0 <= lag < 1000,
              "%s maison_log_lag_events %r" % (node.name, lag))


@test
def after_a_position_not_yet_in_the_log_is_503_not_caught_up():
    check(STATE["max_position"] is not None, "no position seen")
    far = STATE["max_position"] + 10 ** 9
    for path in ("/v1/clients/s1/recommendations?k=5&after=%d" % far,
                 "/v1/clients/s1/profile?after=%d" % far):
        t0 = time.monotonic()
        r = NODES[0].get(path, timeout=60)
        took = time.monotonic() - t0
        mt.check_error(r, 503, "not_caught_up")
        check(r.header("retry-after", "").isdigit(),
              "Retry-After on %s: %r" % (path, r.headers))
        check(took < 30, "the wait is bounded: %.1f s" % took)


def item_with(item_id, **change):
    doc = dict(ITEM_BY_ID[item_id])
    doc.update(change)
    return doc


@test
def an_item_change_on_node_1_is_in_force_on_nodes_2_and_3_within_a_second():
    check(STATE["ingested"], "the stream was not ingested")
    client = sample_clients()[0]
    path = "/v1/clients/%s/recommendations?k=20" % client
    top = NODES[1].get(after(path)).json()["items"][0]["item_id"]
    new_id = "new-%s" % uuid.uuid4().hex[:8]
    new = dict(ITEMS[0], item_id=new_id, price=777.0)
    change = [item_with(top, available=False), new]
    r = NODES[0].put("/v1/catalog/items", {"items": change})
    t_reply = time.monotonic()
    check_eq(r.status, 200, "PUT items on node 1: %r" % r)
    STATE["changes"].append(("PUT", "/v1/catalog/items", {"items": change}))
    ITEM_BY_ID[new_id] = new

    def in_force(node):
        recs = node.get(path).json()["items"]
        if any(x["item_id"] == top for x in recs):
            return False
        return node.get("/v1/catalog/items/%s" % new_id).status == 200
    in_force_on_the_others("item change (%s unavailable, %s new)"
                           % (top, new_id), t_reply, in_force)


@test
def a_rule_change_on_node_1_is_in_force_on_nodes_2_and_3_within_a_second():
    check(STATE["ingested"], "the stream was not ingested")
    client = sample_clients()[1]
    path = "/v1/clients/%s/recommendations?k=10&brand=dg1" % client
    items = NODES[1].get(after(path)).json()["items"]
    check(items, "%s has dg1 recommendations" % client)
    cat = ITEM_BY_ID[items[0]["item_id"]]["category"]
    rules = {"categories": {"exclude": [cat]}, "max_per_category": 4}
    r = NODES[0].put("/v1/brands/dg1/rules", rules)
    t_reply = time.monotonic()
    check_eq(r.status, 200, "PUT rules on node 1: %r" % r)
    version = r.json().get("version")
    STATE["changes"].append(("PUT", "/v1/brands/dg1/rules", rules))

    def in_force(node):
        got = node.get("/v1/brands/dg1/rules").json()
        if got.get("version") != version:
            return False
        recs = node.get(path).json()["items"]
        return all(ITEM_BY_ID[x["item_id"]]["category"] != cat
                   for x in recs)
    in_force_on_the_others("rule change (dg1 v%s, no %s)" % (version, cat),
                           t_reply, in_force)


@test
def an_attribute_change_on_node_1_is_in_force_on_nodes_2_and_3_within_a_second():
    check(STATE["ingested"], "the stream was not ingested")
    client = sample_clients()[2]
    body = {"tier": "vip", "region": "FR"}
    path = "/v1/clients/%s/attributes" % client
    r = NODES[0].put(path, body)
    t_reply = time.monotonic()
    check_eq(r.status, 200, "PUT attributes on node 1: %r" % r)
    STATE["changes"].append(("PUT", path, body))

    def in_force(node):
        doc = node.get("/v1/clients/%s/profile" % client).json()
        return doc.get("tier") == "vip" and doc.get("region") == "FR"
    in_force_on_the_others("attribute change (%s vip, FR)" % client,
                           t_reply, in_force)


@test
def a_key_made_and_revoked_on_node_1_holds_on_nodes_2_and_3_within_a_second():
    r = NODES[0].post("/v1/keys", {"name": "cluster", "roles": ["admin"]})
    t_reply = time.monotonic()
    check_eq(r.status, 201, "POST /v1/keys on node 1: %r" % r)
    doc = r.json()
    in_force_on_the_others(
        "new key %s" % doc["key_id"], t_reply,
        lambda node: node.get("/v1/keys", key=doc["key"]).status == 200)
    r = NODES[0].delete("/v1/keys/%s" % doc["key_id"])
    t_reply = time.monotonic()
    check_eq(r.status, 204, "DELETE /v1/keys on node 1: %r" % r)
    in_force_on_the_others(
        "revoked key %s" % doc["key_id"], t_reply,
        lambda node: node.get("/v1/keys", key=doc["key"]).status == 401)


def last_ts():
    """The stream's last event time: later events get it rather than the
    server's clock, so the reference, fed them later, learns the same."""
    return STREAM[-1][-1]["ts"]


def post_direct(node, events):
    """Posts events to node directly (the reference takes them later, in
    the same order); the highest position seen follows its reply."""
    body = {"events": events}
    r = node.post("/v1/events", body)
    check_eq(r.status, 200, "POST /v1/events on %s: %r" % (node.name, r))
    STATE["changes"].append(("POST", "/v1/events", body))
    pos = r.json().get("position")
    if isinstance(pos, int) and STATE["max_position"] is not None:
        STATE["max_position"] = max(STATE["max_position"], pos)


def rows_naming(client_id):
    """{table: rows naming client_id} in the cluster's database."""
    lit = "'%s'" % client_id          # ERASED: letters, digits and '-'
    queries = {
        "events": "SELECT count(*) FROM events e WHERE e.client_id = %s OR "
                  "strpos(e::text, %s) > 0" % (lit, lit),
        "client_state": "SELECT count(*) FROM client_state WHERE "
                        "client_id = %s" % lit,
        "client_attributes": "SELECT count(*) FROM client_attributes a "
                             "WHERE a.client_id = %s OR strpos(a::text, %s)"
                             " > 0" % (lit, lit),
        "audit": "SELECT count(*) FROM audit a WHERE a.target = %s OR "
                 "strpos(a::text, %s) > 0" % (lit, lit),
    }
    return {t: int(mt.psql(q).strip()) for t, q in queries.items()}


@test
def an_erasure_on_node_2_leaves_nothing_on_any_node_nor_in_postgresql():
    check(STATE["ingested"], "the stream was not ingested")
    path = "/v1/clients/%s/attributes" % ERASED
    body = {"tier": "client", "region": "IT"}
    r = NODES[0].put(path, body)
    check_eq(r.status, 200, "PUT attributes of %s on node 1: %r"
             % (ERASED, r))
    STATE["changes"].append(("PUT", path, body))
    live = [n for n in NODES if n is not STATE["killed"]]
    for node in live:
        r = node.get(after("/v1/clients/%s/profile" % ERASED))
        check_eq(r.status, 200, "%s's profile on %s before" % (ERASED,
                                                               node.name))
    before = rows_naming(ERASED)
    check(before["events"] > 0 and before["client_attributes"] > 0,
          "%s is in PostgreSQL before: %r" % (ERASED, before))
    # New events of the client just before its erasure: with them every
    # node holds the client changed since its last checkpoint, the state
    # a checkpoint would write back.
    post_direct(NODES[0], [{"event_id": "erase-last-%d" % n,
                            "client_id": ERASED, "item_id": ITEMS[n][
                                "item_id"], "type": "view",
                            "ts": last_ts()} for n in range(3)])
    r = NODES[1].delete("/v1/clients/%s" % ERASED)
    check(r.status in (200, 204), "DELETE on node 2: %r" % r)
    STATE["changes"].append(("DELETE", "/v1/clients/%s" % ERASED, None))
    # Two checkpoints of every live node after the erasure (the first may
    # have begun before it). A node checkpoints only what changed: an
    # event of another client through each keeps them coming.
    start = {node.name: checkpoints(node) for node in live}
    deadline = time.monotonic() + 20
    n = 0
    while any(checkpoints(x) < start[x.name] + 2 for x in live):
        check(time.monotonic() < deadline,
              "two checkpoints of every node within 20 s: %r"
              % {x.name: (start[x.name], checkpoints(x)) for x in live})
        for node in live:
            n += 1
            post_direct(node, [{"event_id": "nudge-%d" % n,
                                "client_id": "nudge-%d" % (n % 7),
                                "item_id": ITEMS[n % len(ITEMS)]["item_id"],
                                "type": "click", "ts": last_ts()}])
        time.sleep(0.3)
    for node in live:
        r = node.get("/v1/clients/%s/profile" % ERASED)
        check_eq(r.status, 404, "%s's profile on %s after the erasure and "
                 "two checkpoints: %r" % (ERASED, node.name, r))
    check_eq(rows_naming(ERASED), {"events": 0, "client_state": 0,
                                   "client_attributes": 0, "audit": 0},
             "rows naming %s in PostgreSQL" % ERASED)


@test
def each_node_checkpoints_under_its_own_id():
    nodes = set(mt.psql("SELECT node FROM checkpoint").split())
    check({"n1", "n2"} <= nodes, "checkpoint rows of nodes %s" % nodes)
    nodes = set(mt.psql("SELECT DISTINCT node FROM client_state").split())
    check({"n1", "n2"} <= nodes, "client_state rows of nodes %s" % nodes)


@test
def the_killed_node_restarts_catches_up_and_answers_the_same():
    check(STATE["reference_fed"], "the reference was not fed")
    killed = STATE["killed"]
    check(killed is not None, "no node was killed")
    killed.start()
    STATE["killed"] = None
    r = killed.get("/v1/clients/%s/profile" % ERASED)
    check_eq(r.status, 404, "the erased client on the restarted %s: %r"
             % (killed.name, r))
    # The reference takes the same changes, in the same order.
    for method, path, body in STATE["changes"]:
        r = REF.req(method, path, body)
        check(r.status in (200, 204), "%s %s on the reference: %r"
              % (method, path, r))
    STATE["changes"] = []
    wait_all_quiet([REF] + NODES)
    compare_with_reference([killed], sample_clients())
    check_eq(rows_naming(ERASED)["client_state"], 0,
             "client_state rows of %s after the restart" % ERASED)


@test
def nodes_1_and_2_answer_as_the_reference_after_the_changes_and_erasure():
    # The reference took the changes above; nodes 1 and 2 took them live.
    # Node 2 erased a client whose last events node 1 had just taken: the
    # erasure deletes the client's rows from the log, so a node that had
    # not read them yet never learns them in its global level, and node 1
    # did. Every node must still answer the same.
    check(STATE["reference_fed"] and not STATE["changes"],
          "the reference has not taken the changes")
    compare_with_reference(NODES[:2], sample_clients())


@test
def every_node_exits_zero_on_sigterm():
    for node in NODES:
        check_eq(node.stop(), 0, "%s exit status" % node.name)


def main():
    global REF, FRONT, DIR, ITEMS, STREAM
    if not nf.binary() or not th.have_openssl():
        print("SKIP: nginx or openssl is not installed")
        return mt.SKIP
    mt.require_environment()
    t0 = time.monotonic()
    source, ITEMS, events = load_stream()
    for it in ITEMS:
        ITEM_BY_ID[it["item_id"]] = it
    # The client to erase: an id no other row contains, with events spread
    # over the stream.
    rnd = random.Random(13)
    for n in range(24):
        at = (n + 1) * len(events) // 25
        events.insert(at, {"event_id": "erase-%d" % n, "client_id": ERASED,
                           "item_id": rnd.choice(ITEMS)["item_id"],
                           "type": "view", "ts": events[at]["ts"]})
    STREAM = [events[i:i + BATCH] for i in range(0, len(events), BATCH)]
    print("# stream: %s, %d events, %d items, %d batches"
          % (source, len(events), len(ITEMS), len(STREAM)))
    DIR = tempfile.mkdtemp(prefix="mzcluster.")
    os.chmod(DIR, 0o755)
    try:
        try:
            ref_url = mt.create_database("mz_cluster_ref")
            cert, key = th.self_signed(DIR, "front")
            for n in (1, 2, 3):
                NODES.append(make_node(n))
                NODES[-1].start()
            FRONT = nf.Front(DIR, [node.port for node in NODES], cert, key)
            FRONT.start()
            REF = mt.Maisond(database_url=ref_url, name="reference",
                             threads=2, checkpoint_interval_s=1)
            REF.start()
        except (mt.StartError, mt.TestFailure, subprocess.CalledProcessError,
                OSError) as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1
        # Only this file's tests (importing test_recovery registers its).
        rc = mt.run_tests([t for t in mt.TESTS if t.__module__ == __name__])
        if rc:
            for node in NODES:
                print("# %s log tail:\n%s" % (node.name, node.log_tail(8)))
        return rc
    finally:
        if FRONT:
            FRONT.stop()
        for srv in NODES + [REF]:
            if srv:
                srv.stop()
                srv.cleanup()
        shutil.rmtree(DIR, ignore_errors=True)
        print("total %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main())
