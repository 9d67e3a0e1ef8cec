#!/usr/bin/env python3
"""test_cache: a server with a small --memory-limit evicts clients and reads
them back from PostgreSQL, and answers exactly like a server without one.

--memory-limit first: on an empty database, 1G, 1024M, 1048576K, 1073741824
and MAISON_MEMORY_LIMIT=1G give the same maison_clients_max, 2G twice
that, 0 gives 0 (no limit), no setting a quarter of physical memory (all
derived from the 1G figure: the per-client estimate is not hard-coded);
bad values (abc, -5, 12X, ...) make maisond exit non-zero at once, naming
the option.

Then server A runs with a limit that allows about 40 clients and
--checkpoint-interval-s 1, server B on another database of the same
cluster with --memory-limit 0. Both take the same catalog, the same
brand rule (a frequency cap, so impressions matter), the same event
batches in the same order (clients active in sessions spread over the
stream, 5 times as many clients as A may keep), and the same attribute
and consent changes at the same points of the stream (tiers and regions
that open vip-only and FR-only items, consent withdrawn and granted
again, a client with attributes only, one with a withdrawal only). A
must evict (down to about its maximum, the limit being soft), and every
client must then have the same profile (same JSON, numbers within 1e-4)
and the same recommendations (same items, same order, scores within
1e-4) on A and B, A reading evicted clients back
(maison_clients_loaded_total grows). The same holds after more events,
attribute and consent changes for evicted clients and catalog changes
while they are out of memory, after a graceful restart of A (which loads
at most its maximum at start-up) and after A is killed -9 during
ingestion and the unacknowledged batches are posted again. An evicted
client erased with DELETE stays erased across checkpoints, evictions and
restarts, and so do evicted clients erased while recommendations for
them are in flight. Reads of evicted clients wait off A's HTTP threads
(A runs with 2): while client_state is locked, more of them than A has
threads wait and the memory-only routes still answer; each such read
counts once against the key's rate limit.

Batches are posted one at a time, A then B, so both logs hold the events
in the same order.
"""

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import http.client

import maison_test as mt
from maison_test import check, check_eq, test

BATCH = 100
TOLERANCE = 1e-4
TARGET_MAX = 40              # clients A may keep, about
CLIENTS_PER_MAX = 5          # clients in the stream per client A may keep
N_ITEMS = 240
BASE_TS = 1700000000
QUERIES = ("k=20", "k=10&brand=dg1")
A_THREADS = 2                # A's HTTP threads (--threads)
RULES_DG1 = {"frequency_cap": {"max_per_item_per_day": 2}}

A = B = None
URLS = {}
ITEMS = []
CLIENTS = []           # every client of the stream
ORDER = []             # the order clients are compared in (special first)
SPECIAL = {}           # role -> client id
STREAM = []            # phase 1 batches
ACTIONS = {}           # batch index -> [(client, attributes body)]
DELETED = set()
STATE = {"per_client": None, "max_a": None, "ingested": False,
         "next_ts": BASE_TS, "next_event": 0, "kills": 0, "interrupted": 0,
         "lru_taken": 0}


# ---------------------------------------------------------------- metrics


def metric_required(srv, name, metrics=None):
    v = mt.metric_sum(metrics if metrics is not None else srv.metrics(), name)
    check(v is not None, "%s: /metrics has no %s" % (srv.name, name))
    return v


def cache_state(srv):
    m = srv.metrics()
    return {k: metric_required(srv, "maison_clients_" + k, m)
            for k in ("max", "in_memory", "evicted_total", "loaded_total")}


def soft_bound(max_clients):
    """What the soft limit allows once A is quiet: max + 1/8 + a few."""
    return max_clients * 9 // 8 + 3


def wait_evicted(srv, evicted_before, timeout_s=25.0):
    """Waits until srv has evicted more than evicted_before clients in all
    and holds at most soft_bound(max) clients; returns cache_state."""
    deadline = time.monotonic() + timeout_s
    st = cache_state(srv)
    while time.monotonic() < deadline:
        if (st["evicted_total"] > evicted_before and
                st["in_memory"] <= soft_bound(st["max"])):
            return st
        time.sleep(0.2)
        st = cache_state(srv)
    raise mt.TestFailure(
        "%s did not evict down to its maximum within %.0f s: %r (want "
        "evicted_total > %d and in_memory <= %d)"
        % (srv.name, timeout_s, st, evicted_before, soft_bound(st["max"])))


def settle(seconds=2.5):
    """Lets a checkpoint pass (--checkpoint-interval-s 1): changes made
    before are saved and, unused for a second, clean. The checkpoint
    counter moves only when something was written, so time it is."""
    time.sleep(seconds)


# ---------------------------------------------------------------- probes


def probe_max(args=(), env_limit=None, name="probe"):
    """Starts maisond on the (empty) probe database with args and
    MAISON_MEMORY_LIMIT=env_limit (None: unset), returns its
    maison_clients_max and stops it."""
    env = dict(os.environ)
    env.pop("MAISON_MEMORY_LIMIT", None)
    if env_limit is not None:
        env["MAISON_MEMORY_LIMIT"] = env_limit
    srv = mt.Maisond(database_url=URLS["probe"], extra_args=list(args),
                     name=name)
    try:
        try:
            srv.start(timeout_s=30, env=env)
        except mt.StartError as e:
            raise mt.TestFailure("maisond %s (MAISON_MEMORY_LIMIT=%s) did "
                                 "not start: %s" % (" ".join(args),
                                                    env_limit, e))
        v = metric_required(srv, "maison_clients_max")
        check_eq(srv.stop(), 0, "exit status of %s" % " ".join(args))
        return v
    finally:
        srv.cleanup()


def run_bad(args, env_limit=None):
    """Runs maisond with args that must be refused; returns (rc, stderr)."""
    env = dict(os.environ)
    env.pop("MAISON_MEMORY_LIMIT", None)
    if env_limit is not None:
        env["MAISON_MEMORY_LIMIT"] = env_limit
    data_dir = tempfile.mkdtemp(prefix="mzd.bad.")
    argv = [mt.maisond_path(), "--listen", "127.0.0.1:%d" % mt.free_port(),
            "--database-url", URLS["probe"], "--data-dir", data_dir,
            "--dim", "64", "--levels", "3"] + list(args)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=env)
    try:
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise mt.TestFailure("maisond %s (MAISON_MEMORY_LIMIT=%r) was "
                                 "still running after 10 s: the value was "
                                 "accepted" % (" ".join(args), env_limit))
        return proc.returncode, (out + err).decode("utf-8", "replace")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def physical_memory():
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- the data


def make_items():
    items = []
    for i in range(N_ITEMS):
        doc = {"item_id": "i%03d" % i, "brand": "dg%d" % (i % 3),
               "category": "cat%d" % (i % 12),
               "price": 50.0 + (i * 37) % 900, "currency": "EUR",
               "available": True, "stock": 10, "attributes": {},
               "tags": ["t%d" % (i % 5)]}
        if i % 20 == 0:
            doc["regions"] = ["FR"]
        if i % 25 == 7:
            doc["reserved_tiers"] = ["vip"]
        items.append(doc)
    return items


class Taste:
    """A client's taste: favourite categories, else the popular items."""

    def __init__(self, rnd):
        self.rnd = rnd
        self.cats = rnd.sample(range(12), 2)

    def item(self):
        rnd = self.rnd
        if rnd.random() < 0.6:
            cat = rnd.choice(self.cats)
            k = min(int(rnd.expovariate(1 / 4.0)), N_ITEMS // 12 - 1)
            return "i%03d" % (cat + 12 * k)
        return "i%03d" % min(int(rnd.expovariate(1 / 30.0)), N_ITEMS - 1)


TYPES = (["view"] * 14 + ["click"] * 4 + ["add_to_cart"] * 2 +
         ["wishlist", "purchase", "dismiss", "remove_from_cart"])
TASTES = {}


def new_event(client, ts, rnd):
    n = STATE["next_event"]
    STATE["next_event"] += 1
    if rnd.random() < 0.02:
        return {"event_id": "cache-%d" % n, "client_id": client,
                "type": "store_visit", "ts": ts}
    return {"event_id": "cache-%d" % n, "client_id": client,
            "item_id": TASTES[client].item(), "type": rnd.choice(TYPES),
            "ts": ts}


def make_stream(n_clients):
    """Clients active in 2 to 4 sessions of 4 to 12 events spread over the
    stream, so a client goes quiet (and may be evicted) between two."""
    rnd = random.Random(5)
    clients = ["c%04d" % i for i in range(n_clients)]
    for c in clients:
        TASTES[c] = Taste(random.Random(int(c[1:])))
    slots = []
    for c in clients:
        for _ in range(rnd.randint(2, 4)):
            start = rnd.random()
            for j in range(rnd.randint(4, 12)):
                slots.append((start + j * 0.0004, c))
    slots.sort()
    events = []
    for pos, c in slots:
        ts = BASE_TS + int(pos * 20 * 86400)
        events.append(new_event(c, ts, rnd))
    STATE["next_ts"] = events[-1]["ts"] + 60
    return clients, [events[i:i + BATCH] for i in range(0, len(events),
                                                        BATCH)]


def more_events(clients, per_client, seed):
    """Events for clients after everything so far, in batches."""
    rnd = random.Random(seed)
    events = []
    ts = STATE["next_ts"]
    order = [c for c in clients for _ in range(per_client)]
    rnd.shuffle(order)
    for c in order:
        ts += rnd.randint(1, 40)
        events.append(new_event(c, ts, rnd))
    STATE["next_ts"] = ts + 60
    return [events[i:i + BATCH] for i in range(0, len(events), BATCH)]


def plan_actions(n_batches):
    """Attribute and consent changes at fixed points of the stream."""
    s = SPECIAL
    at = lambda f: int(n_batches * f)
    ACTIONS.setdefault(at(0.25), []).extend([
        (s["vip_fr_1"], {"tier": "vip", "region": "FR"}),
        (s["vip_fr_2"], {"tier": "vip", "region": "FR"}),
        (s["client_it"], {"tier": "client", "region": "IT"}),
        (s["fr_only"], {"region": "FR"}),
        (s["attributes_only"], {"tier": "vip", "region": "FR"}),
        (s["withdrawn_only"], {"consent": {"personalization": False}}),
    ])
    ACTIONS.setdefault(at(0.5), []).extend([
        (s["withdrawn"], {"consent": {"personalization": False}}),
        (s["regranted"], {"consent": {"personalization": False}}),
    ])
    ACTIONS.setdefault(at(0.75), []).extend([
        (s["regranted"], {"consent": {"personalization": True}}),
    ])


# ---------------------------------------------------------------- requests


def post_batch(srv, batch, timeout=60):
    r = srv.post("/v1/events", {"events": batch}, timeout=timeout)
    check(r.status == 200, "%s POST /v1/events: %r" % (srv.name, r))
    doc = r.json()
    check_eq(doc.get("rejected"), [], "%s rejected events of a valid batch"
             % srv.name)
    return doc


def put_attributes_both(client, body):
    """Same attribute change on A and B; the answers must be equal."""
    ra = A.put("/v1/clients/%s/attributes" % client, body)
    rb = B.put("/v1/clients/%s/attributes" % client, body)
    check_eq(ra.status, 200, "A PUT attributes of %s (%r)" % (client, ra))
    check_eq(rb.status, 200, "B PUT attributes of %s (%r)" % (client, rb))
    d = diff(ra.json(), rb.json())
    check(d is None, "PUT attributes of %s answered differently on A and "
          "B: %s\nA: %s\nB: %s" % (client, d, ra.text, rb.text))
    return ra.json()


def load_catalog(srv):
    for i in range(0, len(ITEMS), 1000):
        r = srv.put("/v1/catalog/items", {"items": ITEMS[i:i + 1000]})
        check(r.status == 200, "%s PUT catalog: %r" % (srv.name, r))
    r = srv.put("/v1/brands/dg1/rules", RULES_DG1)
    check(r.status == 200, "%s PUT rules: %r" % (srv.name, r))


def ingest(srv, batches, start, stop_event, acked, pace_s):
    """mt.ingest of batches into srv (no kill expected)."""
    return mt.ingest(batches, start, lambda batch: post_batch(srv, batch),
                     stop_event, acked, pace_s, state=STATE)


# ---------------------------------------------------------------- comparison


def diff(a, b):
    """First difference between two JSON values (numbers within
    TOLERANCE, everything else exact, no key skipped), or None."""
    return mt.json_diff(a, b, TOLERANCE)


def diff_ranking(a, b):
    """Also the items' descriptions (brand, reasons, ...), empty_reason and
    client_id."""
    return mt.ranking_diff(a, b, TOLERANCE, whole_items=True)


def compare_profile(c, bad):
    ppath = "/v1/clients/%s/profile" % c
    ra, rb = A.get(ppath), B.get(ppath)
    if c in DELETED:
        if (ra.status, rb.status) != (404, 404):
            bad.append("%s (erased): profile status A %d B %d"
                       % (c, ra.status, rb.status))
        return
    if (ra.status, rb.status) != (200, 200):
        bad.append("%s: profile status A %r B %r" % (c, ra, rb))
        return
    d = diff(ra.json(), rb.json())
    if d:
        bad.append("%s profile: %s" % (c, d))


def compare_recommendations(c, bad):
    if c in DELETED:
        return
    for q in QUERIES:
        path = "/v1/clients/%s/recommendations?%s" % (c, q)
        ra, rb = A.get(path), B.get(path)
        if (ra.status, rb.status) != (200, 200):
            bad.append("%s?%s: status A %r B %r" % (c, q, ra, rb))
            continue
        d = diff_ranking(ra.json(), rb.json())
        if d:
            bad.append("%s?%s: %s" % (c, q, d))


def compare_all(label):
    """Profiles and recommendations of every client, A against B, in
    ORDER (so the first clients of ORDER are the least recently used
    afterwards). Every other client is asked for recommendations first,
    so both kinds of request read evicted clients back."""
    bad = []
    n = 0
    for i, c in enumerate(ORDER):
        n += c not in DELETED
        if i % 2:
            compare_recommendations(c, bad)
            compare_profile(c, bad)
        else:
            compare_profile(c, bad)
            compare_recommendations(c, bad)
    check(not bad, "%s: %d differences between A (--memory-limit) and B "
          "(no limit) over %d clients, e.g.:\n%s"
          % (label, len(bad), n, "\n".join(bad[:10])))
    # Clients with events asked about (whether reading back a client with
    # attributes only counts as a load is left open).
    return n - 2


# ---------------------------------------------------------------- tests


@test
def memory_limit_sizes_accept_k_m_g_suffixes_in_powers_of_1024():
    m1g = probe_max(["--memory-limit", "1G"])
    check(m1g > 0, "maison_clients_max with --memory-limit 1G: %r" % m1g)
    for spelled in ("1024M", "1048576K", "1073741824"):
        check_eq(probe_max(["--memory-limit", spelled]), m1g,
                 "maison_clients_max with --memory-limit %s (1G gives %d)"
                 % (spelled, m1g))
    check_eq(probe_max([], env_limit="1G"), m1g,
             "maison_clients_max with MAISON_MEMORY_LIMIT=1G")
    m2g = probe_max(["--memory-limit", "2G"], env_limit="1G")
    check(abs(m2g - 2 * m1g) <= 1,
          "--memory-limit 2G (over MAISON_MEMORY_LIMIT=1G) gives "
          "maison_clients_max %d, want 2 x %d" % (m2g, m1g))
    check_eq(probe_max(["--memory-limit", "0"]), 0,
             "maison_clients_max with --memory-limit 0 (no limit)")
    per_client = float(1 << 30) / m1g
    STATE["per_client"] = per_client
    default = probe_max([])
    want = physical_memory() / 4.0 / per_client
    check(abs(default - want) <= max(2.0, 0.01 * want),
          "maison_clients_max without --memory-limit: %d, want about %d "
          "(a quarter of %d bytes of physical memory / %.0f bytes a "
          "client)" % (default, want, physical_memory(), per_client))
    print("# per-client estimate: %.0f bytes (1G -> %d clients, "
          "default -> %d)" % (per_client, m1g, default))


@test
def bad_memory_limit_values_stop_maisond_at_start():
    bad = []
    cases = [(["--memory-limit", v], None)
             for v in ("abc", "-5", "12X", "", "1.5M", "10KB", "M", "1 G")]
    cases += [(["--memory-limit=-5"], None), ([], "abc"), ([], "12X")]
    for args, env_limit in cases:
        rc, err = run_bad(args, env_limit)
        what = ("%s" % " ".join(args) if args
                else "MAISON_MEMORY_LIMIT=%s" % env_limit)
        if rc == 0:
            bad.append("%s: exit status 0" % what)
        elif not re.search(r"memory[-_]limit", err, re.I):
            bad.append("%s: exit %d, stderr does not name the option: %r"
                       % (what, rc, err[-300:]))
    check(not bad, "bad --memory-limit values:\n" + "\n".join(bad))


@test
def memory_limit_that_overflows_is_refused():
    bad = []
    for v in ("99999999999999999999", "17179869184G", "18446744073709551616"):
        rc, err = run_bad(["--memory-limit", v])
        if rc == 0:
            bad.append("%s: exit status 0" % v)
        elif not re.search(r"memory[-_]limit", err, re.I):
            bad.append("%s: exit %d, stderr does not name the option: %r"
                       % (v, rc, err[-300:]))
    check(not bad, "--memory-limit values beyond 64 bits:\n" + "\n".join(bad))


@test
def limited_and_unlimited_servers_ingest_the_same_stream():
    global A, B, CLIENTS, ORDER, STREAM
    check(STATE["per_client"], "no per-client estimate (first test failed)")
    limit = int(STATE["per_client"] * (TARGET_MAX + 0.5))
    A = mt.Maisond(database_url=URLS["a"], checkpoint_interval_s=1,
                   extra_args=["--memory-limit", str(limit),
                               "--threads", str(A_THREADS)],
                   name="maisond-a")
    B = mt.Maisond(database_url=URLS["b"], checkpoint_interval_s=1,
                   extra_args=["--memory-limit", "0"], name="maisond-b")
    A.start()
    B.start()
    max_a = metric_required(A, "maison_clients_max")
    check(8 <= max_a <= 120, "maison_clients_max of A with --memory-limit "
          "%d: %d (want about %d)" % (limit, max_a, TARGET_MAX))
    check_eq(metric_required(B, "maison_clients_max"), 0,
             "maison_clients_max of B (--memory-limit 0)")
    STATE["max_a"] = int(max_a)
    CLIENTS, STREAM = make_stream(CLIENTS_PER_MAX * int(max_a))
    roles = ("vip_fr_1", "vip_fr_2", "client_it", "fr_only", "withdrawn",
             "regranted")
    for i, role in enumerate(roles):
        SPECIAL[role] = CLIENTS[i * 7 + 3]
    SPECIAL["attributes_only"] = "attributes-only"    # never an event
    SPECIAL["withdrawn_only"] = "withdrawn-only"      # only the marker
    roles += ("attributes_only", "withdrawn_only")
    ORDER[:] = ([SPECIAL[r] for r in roles] +
                [c for c in CLIENTS if c not in SPECIAL.values()])
    plan_actions(len(STREAM))
    print("# A: --memory-limit %d -> maison_clients_max %d; %d clients, "
          "%d events, %d batches" % (limit, max_a, len(CLIENTS),
                                     sum(map(len, STREAM)), len(STREAM)))
    load_catalog(A)
    load_catalog(B)
    for i, batch in enumerate(STREAM):
        post_batch(A, batch)
        post_batch(B, batch)
        for client, body in ACTIONS.get(i, []):
            put_attributes_both(client, body)
        time.sleep(0.03)
    STATE["ingested"] = True
    st = cache_state(A)
    print("# A after ingestion: %r" % st)


@test
def the_limited_server_evicts_down_to_its_maximum():
    check(STATE["ingested"], "ingestion failed")
    st = wait_evicted(A, 0)
    check(st["evicted_total"] > 0, "maison_clients_evicted_total: %r" % st)
    sb = cache_state(B)
    check_eq(sb["evicted_total"], 0, "B (no limit) maison_clients_evicted_"
             "total")
    check(sb["in_memory"] >= len(CLIENTS),
          "B (no limit) holds %d clients, the stream has %d"
          % (sb["in_memory"], len(CLIENTS)))
    check(st["in_memory"] < len(CLIENTS) // 2,
          "A holds %d of %d clients" % (st["in_memory"], len(CLIENTS)))
    print("# A quiet: %r" % st)


@test
def evicted_clients_answer_like_the_unlimited_server():
    check(STATE["ingested"], "ingestion failed")
    before = wait_evicted(A, 0)
    n = compare_all("after ingestion")
    after = cache_state(A)
    missing = n - before["in_memory"]
    check(after["loaded_total"] - before["loaded_total"] >= missing,
          "A held %d clients and was asked about %d, but "
          "maison_clients_loaded_total grew by %d only (%r -> %r)"
          % (before["in_memory"], n,
             after["loaded_total"] - before["loaded_total"], before, after))


def least_recently_used(n):
    """n clients A has evicted: after compare_all (which asks about ORDER
    in order, so its first clients are the least recently used) and once
    A is back at its maximum, the first clients of ORDER not taken by an
    earlier call since."""
    wait_evicted(A, cache_state(A)["evicted_total"] - 1)
    free = [c for c in ORDER[len(SPECIAL):] if c not in DELETED]
    taken = STATE["lru_taken"]
    STATE["lru_taken"] += n
    return free[taken:taken + n]


@test
def reads_of_evicted_clients_wait_off_the_http_threads():
    """Recommendations, profiles and similar items for evicted clients
    read them back from PostgreSQL; while those reads wait (client_state
    locked), more of them than A has HTTP threads leave the memory-only
    routes answered at once, and each gets its right answer afterwards."""
    check(STATE["ingested"], "ingestion failed")
    clients = least_recently_used(3 * A_THREADS + 3)
    item = ITEMS[0]["item_id"]
    paths = []
    for i, c in enumerate(clients):
        paths.append(["/v1/clients/%s/recommendations?k=20" % c,
                      "/v1/clients/%s/profile" % c,
                      "/v1/items/%s/similar?client_id=%s" % (item, c)][i % 3])
    loaded_before = cache_state(A)["loaded_total"]
    answers = mt.ask_while_locked(
        URLS["a"], "client_state", lambda path: A.get(path, timeout=60),
        paths, lambda: mt.check_prompt(
            A, ("/healthz", "/v1/brands/dg1/popular?k=5",
                "/v1/items/%s/similar?k=5" % item),
            "%d reads of evicted clients waited on %d HTTP threads"
            % (len(paths), A_THREADS)))
    for path in paths:
        check(path in answers, "%s: no answer after the lock" % path)
        check_eq(answers[path].status, 200, "%s: %r" % (path, answers[path]))
    loaded = cache_state(A)["loaded_total"] - loaded_before
    check(loaded > A_THREADS, "only %d of the %d clients asked about were "
          "read back (the test needs more than the %d HTTP threads)"
          % (loaded, len(paths), A_THREADS))
    bad = []
    for c, path in zip(clients, paths):
        if "/recommendations" in path:
            rb = B.get(path)
            d = diff_ranking(answers[path].json(), rb.json())
            if d:
                bad.append("%s: %s" % (path, d))
    check(not bad, "answers read back under the lock differ from B's:\n%s"
          % "\n".join(bad))


@test
def a_read_back_counts_once_against_the_rate_limit():
    """The HTTP thread checks the key, then hands a request for an
    evicted client to a thread that may wait: the key's rate limit must
    count it once, not once per thread."""
    check(STATE["ingested"], "ingestion failed")
    burst = 3
    r = A.post("/v1/keys", {"name": "cache-rate", "roles": ["clienteling"],
                            "rate_limit": {"requests_per_s": 0.05,
                                           "burst": burst}})
    check_eq(r.status, 201, "POST /v1/keys: %r" % r)
    secret = r.json()["key"]
    clients = least_recently_used(burst + 1)
    loaded_before = cache_state(A)["loaded_total"]
    statuses = [A.get("/v1/clients/%s/recommendations?k=5" % c,
                      key=secret).status for c in clients]
    loaded = cache_state(A)["loaded_total"] - loaded_before
    check_eq(statuses, [200] * burst + [429],
             "statuses of %d requests for evicted clients with a burst of "
             "%d" % (len(clients), burst))
    check(loaded >= burst, "only %d of the first %d clients were read back "
          "(the test needs evicted clients)" % (loaded, burst))
    # ORDER back in least-recently-used order, for the tests below.
    compare_all("after reading evicted clients back")


@test
def evicted_clients_go_on_learning_from_their_saved_state():
    check(STATE["ingested"], "ingestion failed")
    before = wait_evicted(A, cache_state(A)["evicted_total"] - 1)
    # ORDER was just walked: its first clients are the least recently used
    # and, with 5 clients per place, certainly evicted.
    n_old = min(40, len(ORDER) - soft_bound(STATE["max_a"]) - 5)
    old = [c for c in ORDER if c not in (SPECIAL["attributes_only"],
                                         SPECIAL["withdrawn_only"])][:n_old]
    check(n_old >= 10, "too few clients to be sure of evictions")
    answer = put_attributes_both(SPECIAL["withdrawn"], {"tier": "prospect"})
    check_eq(answer.get("consent"), {"personalization": False},
             "consent of an evicted client who withdrew it, after a PUT "
             "without consent: %r" % answer)
    put_attributes_both(SPECIAL["vip_fr_1"], {"tier": "client",
                                              "region": "FR"})
    answer = put_attributes_both(SPECIAL["client_it"], {
        "tier": "client", "region": "IT",
        "consent": {"personalization": False}})
    check_eq(answer.get("consent"), {"personalization": False},
             "consent after withdrawing it while evicted: %r" % answer)
    # The catalog changes while they are out of memory: new items, one
    # item no longer available.
    new_items = [dict(ITEMS[i % 12], item_id="i%03d" % (N_ITEMS + i),
                      price=75.0 + 10 * i) for i in range(10)]
    changed = [dict(ITEMS[2], available=False)]
    for srv in (A, B):
        r = srv.put("/v1/catalog/items", {"items": new_items + changed})
        check(r.status == 200, "%s PUT catalog: %r" % (srv.name, r))
    batches = more_events(old, 4, seed=21)
    ts = STATE["next_ts"]
    batches.append([{"event_id": "cache-new-%d" % n, "client_id": c,
                     "item_id": new_items[n % len(new_items)]["item_id"],
                     "type": "view", "ts": ts + n}
                    for n, c in enumerate(old)])
    STATE["next_ts"] = ts + len(old) + 60
    for batch in batches:
        post_batch(A, batch)
        post_batch(B, batch)
    mid = cache_state(A)
    check(mid["loaded_total"] - before["loaded_total"] >= n_old,
          "%d evicted clients got events, but maison_clients_loaded_total "
          "grew by %d (%r -> %r)" % (n_old, mid["loaded_total"] -
                                     before["loaded_total"], before, mid))
    compare_all("after events for evicted clients")


@test
def an_erased_evicted_client_stays_erased():
    check(STATE["ingested"], "ingestion failed")
    wait_evicted(A, cache_state(A)["evicted_total"] - 1)
    # ORDER was just walked: its first clients are the least recently used.
    # The victim is not read on A before its erasure (that would load it);
    # that it was evicted shows by its neighbour, used just after it,
    # having to be read back.
    victim = ORDER[len(SPECIAL) + 3]
    neighbour = ORDER[len(SPECIAL) + 4]
    check_eq(B.get("/v1/clients/%s/profile" % victim).status, 200,
             "B profile of %s before erasure" % victim)
    before = cache_state(A)
    check_eq(A.get("/v1/clients/%s/profile" % neighbour).status, 200,
             "A profile of %s" % neighbour)
    after = cache_state(A)
    check(after["loaded_total"] - before["loaded_total"] >= 1,
          "clients read back for the profile of %s, used just after %s "
          "and long ago (%r -> %r)" % (neighbour, victim, before, after))
    ra = A.delete("/v1/clients/%s" % victim)
    rb = B.delete("/v1/clients/%s" % victim)
    check_eq(ra.status, 204, "A DELETE of evicted %s (%r)" % (victim, ra))
    check_eq(rb.status, 204, "B DELETE of %s (%r)" % (victim, rb))
    DELETED.add(victim)
    mt.check_error(A.get("/v1/clients/%s/profile" % victim), 404,
                   "not_found")
    # A checkpoint/eviction cycle: read back more clients than A may keep
    # (not the victim), let them be saved and evicted.
    ev0 = cache_state(A)["evicted_total"]
    for c in ORDER[len(SPECIAL) + 5:len(SPECIAL) + 5 + STATE["max_a"] + 10]:
        check_eq(A.get("/v1/clients/%s/profile" % c).status, 200,
                 "A profile of %s" % c)
    settle()
    wait_evicted(A, ev0)
    mt.check_error(A.get("/v1/clients/%s/profile" % victim), 404,
                   "not_found")
    r = A.get("/v1/clients/%s/recommendations?k=20" % victim)
    check_eq(r.status, 200, "recommendations for an erased client")
    check_eq(r.json().get("personalized"), False,
             "personalized after erasure")
    settle()
    mt.check_error(A.get("/v1/clients/%s/profile" % victim), 404,
                   "not_found")


@test
def a_restarted_limited_server_loads_its_maximum_and_answers_the_same():
    check(STATE["ingested"], "ingestion failed")
    check_eq(A.stop(), 0, "A exit status (SIGTERM)")
    A.start()
    st = cache_state(A)
    check(st["in_memory"] <= st["max"],
          "A loaded %d clients at start-up, maison_clients_max is %d"
          % (st["in_memory"], st["max"]))
    n = compare_all("after a graceful restart of A")
    after = cache_state(A)
    check(after["loaded_total"] - st["loaded_total"] >= n - st["in_memory"],
          "after restart A held %d clients and was asked about %d, but "
          "maison_clients_loaded_total grew by %d (%r -> %r)"
          % (st["in_memory"], n, after["loaded_total"] - st["loaded_total"],
             st, after))


@test
def a_limited_server_killed_during_ingestion_replays_to_the_same_state():
    check(STATE["ingested"], "ingestion failed")
    # Impressions of the comparison just made live in the next checkpoint.
    settle()
    wait_evicted(A, cache_state(A)["evicted_total"] - 1)
    batches = more_events([c for c in CLIENTS if c not in DELETED], 2,
                          seed=33)
    acked = []
    target = len(batches) * 2 // 5
    nxt = mt.kill_during_ingest(A, batches, 0,
                                lambda batch: post_batch(A, batch), acked,
                                target, pace_s=0.05, state=STATE)
    check(STATE["interrupted"] >= 1, "the kill landed between batches, not "
          "during one (the test did not exercise what it should)")
    A.start()
    events = [e for b in acked for e in batches[b]]
    for i in range(0, len(events), 1000):
        chunk = events[i:i + 1000]
        doc = post_batch(A, chunk)
        check(doc["accepted"] == 0 and doc["duplicates"] == len(chunk),
              "after kill -9, acknowledged events came back as accepted=%d "
              "duplicates=%d (want 0/%d)" % (doc["accepted"],
                                             doc["duplicates"], len(chunk)))
    nxt = ingest(A, batches, nxt, threading.Event(), acked, pace_s=0.0)
    check_eq(nxt, len(batches), "batches ingested into A")
    for batch in batches:
        post_batch(B, batch)
    compare_all("after kill -9 during ingestion and replay")
    st = cache_state(A)
    print("# A after the kill and the comparison: %r" % st)


@test
def evicted_clients_erased_while_requested_stay_erased():
    """DELETE of evicted clients while recommendations for them are in
    flight: a request that read a client back just before its erasure
    must not put it back in memory (nor, through a checkpoint, in
    PostgreSQL). A only; B is not compared any more."""
    check(A is not None and A.alive(), "A is not running")
    n_victims, readers = 1000, 4
    victims = ["race-%d" % i for i in range(n_victims)]
    fillers = ["race-fill-%d" % i for i in range(STATE["max_a"] + 10)]
    rnd = random.Random(44)
    ts = STATE["next_ts"]
    events = []
    for c in victims + fillers:          # victims used first: evicted first
        for j in range(3):
            ts += 1
            events.append({"event_id": "race-%s-%d" % (c, j), "client_id": c,
                           "item_id": ITEMS[rnd.randrange(N_ITEMS)]["item_id"],
                           "type": "view", "ts": ts})
    STATE["next_ts"] = ts + 60
    ev0 = cache_state(A)["evicted_total"]
    for i in range(0, len(events), 1000):
        post_batch(A, events[i:i + 1000])
    settle()
    wait_evicted(A, ev0)
    statuses = {}
    lock = threading.Lock()

    def read(c, delay):
        time.sleep(delay)
        try:
            st = A.get("/v1/clients/%s/recommendations?k=5" % c).status
        except (OSError, http.client.HTTPException) as e:
            st = str(e)
        with lock:
            statuses[st] = statuses.get(st, 0) + 1

    def erase(c, out):
        ts_ = [threading.Thread(target=read, args=(c, i * 0.0004))
               for i in range(readers)]
        for t in ts_:
            t.start()
        out[c] = A.delete("/v1/clients/%s" % c).status
        for t in ts_:
            t.join()
    deleted = {}
    for k in range(0, len(victims), 10):
        group = [threading.Thread(target=erase, args=(c, deleted))
                 for c in victims[k:k + 10]]
        for t in group:
            t.start()
        for t in group:
            t.join()
    not_204 = {c: st for c, st in deleted.items() if st != 204}
    check(not not_204, "DELETE of evicted clients: %d not 204, e.g. %r"
          % (len(not_204), sorted(not_204.items())[:5]))
    check_eq(set(statuses), {200}, "statuses of the recommendations asked "
             "during the erasures (status: count)")
    settle()
    back = [c for c in victims
            if A.get("/v1/clients/%s/profile" % c).status != 404]
    check(not back, "%d of %d clients erased while requests for them were "
          "in flight are back (profile not 404 after a checkpoint), e.g. "
          "%s: %s" % (len(back), n_victims, back[:5],
                      A.get("/v1/clients/%s/profile" % back[0]).text[:300]
                      if back else ""))


@test
def both_servers_exit_zero_on_sigterm():
    check(A is not None and B is not None, "servers never started")
    check_eq(A.stop(), 0, "A exit status")
    check_eq(B.stop(), 0, "B exit status")


def main():
    global ITEMS
    mt.require_environment()
    ITEMS = make_items()
    try:
        URLS["a"] = mt.create_database("mz_cache_a")
        URLS["b"] = mt.create_database("mz_cache_b")
        URLS["probe"] = mt.create_database("mz_cache_probe")
    except mt.TestFailure as e:
        print("FAIL setup: %s" % e)
        print("0 passed, 1 failed")
        return 1
    try:
        rc = mt.run_tests()
        print("# kills: %d, requests interrupted by a kill: %d"
              % (STATE["kills"], STATE["interrupted"]))
        if rc:
            for srv in (A, B):
                if srv is not None:
                    print("# %s log tail:\n%s" % (srv.name, srv.log_tail(15)))
        return rc
    finally:
        for srv in (A, B):
            if srv is not None:
                srv.cleanup()


if __name__ == "__main__":
    sys.exit(main())
