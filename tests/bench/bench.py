#!/usr/bin/env python3
"""bench.py: Maison's end-to-end benchmark (run by run_bench.sh, which puts
it under tests/harness/with_pg.sh).

Starts maisond against the temporary cluster, loads a catalog of
BENCH_ITEMS items (5 brands x 10 categories) and BENCH_CLIENTS clients with
a few events each, then measures, all on 127.0.0.1:
  (a) events/s accepted durably: wrk, 64 connections, 100-event batches;
  (b) recommendations: p50/p99/p99.9 at a fixed 1,000 req/s (loadgen, open
      loop) and maximum req/s (wrk, 64 connections);
  (c) heap bytes per client (and RSS bytes per client);
  (d) baselines in the same run: pgbench 64 clients inserting 100 rows per
      transaction into a copy of the events table; nginx serving a static
      file vs GET /healthz, same wrk settings;
  (e) recommendation latency with a 20-rule brand rule set vs none;
  (f) start to ready after kill -9 with a long event log;
  (g) recommendation latency at a fixed rate, quiet vs beside ingestion;
  (h) recommendations, 16 closed-loop connections: maximum req/s against
      the full-scan limit cores / t_sgemv (sgemv_baseline, same run),
      p50 / p99;
  (i) growth: recommendation latency and maximum at 10k, 50k and 200k
      items (a second maisond), with the sgemv time at each size;
and prints a summary table. Each section that fails prints n/a and the
reason; the rest still runs. Exit status 0 when every section ran.
"""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import maison_test as mt

ITEMS = int(os.environ.get("BENCH_ITEMS", "50000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "10000"))
EVENTS_PER_CLIENT = 5
BRANDS = 5
CATEGORIES = 10
CONNS = 64
WRK_THREADS = 2
EVENTS_S = int(os.environ.get("BENCH_EVENTS_S", "20"))
WRK_S = int(os.environ.get("BENCH_WRK_S", "10"))
FIXED_RATE = int(os.environ.get("BENCH_RATE", "1000"))
FIXED_S = int(os.environ.get("BENCH_FIXED_S", "15"))
PGBENCH_S = int(os.environ.get("BENCH_PGBENCH_S", "15"))
# (g): recommendations at a fixed rate, quiet and beside ingestion at a
# fixed rate, for long enough to hold a checkpoint (30 s by default).
STALL_RATE = int(os.environ.get("BENCH_STALL_RATE", "500"))
STALL_EVENTS_S = int(os.environ.get("BENCH_STALL_EVENTS_S", "5000"))
STALL_S = int(os.environ.get("BENCH_STALL_S", "35"))
# (f): clients and events in the log before the kill -9 (0: skip).
RESTART_CLIENTS = int(os.environ.get("BENCH_RESTART_CLIENTS", "100000"))
RESTART_EVENTS = int(os.environ.get("BENCH_RESTART_EVENTS", "2000000"))
# (h), (i): the embedding size of maisond's default model
# (model/model_config.c), given to sgemv_baseline and, when not 64, to
# maisond (--dim).
DIM = int(os.environ.get("BENCH_DIM", "64"))
# (h) scan: closed loop over the loaded catalog and clients.
SCAN_CONNS = int(os.environ.get("BENCH_SCAN_CONNS", "16"))
SCAN_S = int(os.environ.get("BENCH_SCAN_S", str(WRK_S)))
SCAN_P99_TARGET_MS = 2.0
# (i) growth: a second maisond with its own database, its catalog grown
# through these sizes.
GROWTH_ITEMS = [int(n) for n in os.environ.get(
    "BENCH_GROWTH_ITEMS", "10000,50000,200000").split(",")]
GROWTH_CLIENTS = int(os.environ.get("BENCH_GROWTH_CLIENTS", "10000"))
GROWTH_RATE = int(os.environ.get("BENCH_GROWTH_RATE", "500"))
GROWTH_S = int(os.environ.get("BENCH_GROWTH_S", "10"))
HERE = os.path.dirname(os.path.abspath(__file__))
LOADGEN = os.environ.get("LOADGEN", "./tests/bench/loadgen")
# loadgen's CPU slice (loadgen.c, -S; maisond's --request-slice-us does
# the same for its HTTP threads): 100 us, so that its own wait for a CPU
# beside the server's learner and PostgreSQL on the shared cores is not
# counted as the server's latency (docs/durability.md, part (g)); 0: the
# kernel's default.
LOADGEN_SLICE_US = int(os.environ.get("BENCH_LOADGEN_SLICE_US", "100"))
SGEMV = os.environ.get("SGEMV_BASELINE", "./tests/bench/sgemv_baseline")
CORES = os.cpu_count() or 1

RESULTS = {}
FAILED = []
TMP = tempfile.mkdtemp(prefix="mzbench.")


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg))
    sys.stdout.flush()


def section(name):
    """Decorator: runs the section, records n/a and the reason on error."""
    def wrap(fn):
        def run(*a, **kw):
            log("== %s" % name)
            t0 = time.monotonic()
            try:
                fn(*a, **kw)
            except Exception as e:          # report and go on
                FAILED.append(name)
                log("   %s: FAILED: %s: %s" % (name, type(e).__name__, e))
            log("   (%.1f s)" % (time.monotonic() - t0))
        return run
    return wrap


def run(cmd, timeout, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, **kw)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        raise RuntimeError("%s exited %d:\n%s" % (cmd[0], p.returncode,
                                                  out[-2000:]))
    return out


# ---------------------------------------------------------------- wrk


def _seconds(tok):
    m = re.match(r"([0-9.]+)(us|ms|s|m)$", tok)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0,
                                "m": 60.0}[m.group(2)]


def authorization(srv=None):
    """The Authorization value of srv (the bench's maisond by default):
    its admin key, or None before it runs."""
    srv = srv or SRV
    if srv is not None and srv.admin_key:
        return "Bearer " + srv.admin_key
    return None


def wrk(url, seconds, script=None, env=None, conns=CONNS,
        threads=WRK_THREADS, srv=None):
    """wrk, closed loop; its lua scripts send authorization(srv)
    (BENCH_AUTHORIZATION)."""
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
           "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    e = dict(os.environ)
    if authorization(srv):
        e["BENCH_AUTHORIZATION"] = authorization(srv)
    e.update(env or {})
    out = run(cmd, timeout=seconds + 60, env=e)
    res = {"raw": out}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([0-9.]+)(\w+)", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    res["socket_errors"] = sum(map(int, m.groups())) if m else 0
    for q in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % q, out, re.M)
        res["p" + q] = _seconds(m.group(1)) if m else None
    return res


def loadgen(port, path, rate, seconds, conns=32, ids=None,
            latency_file=None, srv=None):
    """loadgen, open loop; sends authorization(srv)."""
    cmd = [LOADGEN, "-p", str(port), "-r", str(rate), "-d", str(seconds),
           "-c", str(conns), "-n", str(ids or CLIENTS)]
    if latency_file:
        cmd += ["-o", latency_file]
    if authorization(srv):
        cmd += ["-H", "Authorization: " + authorization(srv)]
    if LOADGEN_SLICE_US:
        cmd += ["-S", str(LOADGEN_SLICE_US)]
    cmd.append(path)
    out = run(cmd, timeout=seconds + 60)
    m = re.search(r"loadgen: (.*)$", out, re.M)
    if not m:
        raise RuntimeError("loadgen printed no result:\n" + out)
    res = {k: float(v) for k, v in
           (kv.split("=") for kv in m.group(1).split())}
    res["line"] = out.splitlines()[0]
    return res


# ---------------------------------------------------------------- data


def item_doc(n):
    return {"item_id": "i%d" % n, "brand": "br%d" % (n % BRANDS),
            "category": "cat%d" % ((n // BRANDS) % CATEGORIES),
            "price": float(20 + (n * 37) % 2000), "currency": "EUR",
            "available": True, "stock": 1 + n % 50,
            "launch_at": "2020-01-01T00:00:00Z",
            "end_at": "2099-01-01T00:00:00Z",
            "attributes": {"color": "c%d" % (n % 7)},
            "tags": ["t%d" % (n % 13)]}


def sgemv_baseline(items):
    """One single-threaded sgemv over an items x DIM matrix, timed by
    tests/bench/sgemv_baseline (hot: back to back; cold: caches evicted
    before each): {"best_us", "median_us", "cold_median_us", ...}."""
    out = run([SGEMV, "-n", str(items), "-d", str(DIM)], timeout=300)
    m = re.search(r"^sgemv_baseline: (.*)$", out, re.M)
    if not m:
        raise RuntimeError("sgemv_baseline printed no result:\n" + out)
    return {k: float(v) for k, v in
            (kv.split("=") for kv in m.group(1).split())}


def parallel(jobs, fn, threads):
    """Runs fn(job) for every job on threads threads; raises the first
    error."""
    errors = []
    lock = threading.Lock()
    it = iter(jobs)

    def worker():
        while True:
            with lock:
                job = next(it, None)
            if job is None or errors:
                return
            try:
                fn(job)
            except Exception as e:
                errors.append(e)
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


def expect_200(r, what):
    if r.status != 200:
        raise RuntimeError("%s: %r" % (what, r))
    return r.json()


RULES_20 = {
    # 20 constraints: allow (1), exclude x4, price min, max, 4 tier floors,
    # max_per_category, frequency cap, exclude_purchased, 5 repurchasable
    # categories, exclude_dismissed_days.
    "categories": {"allow": ["cat%d" % i for i in range(CATEGORIES)],
                   "exclude": ["cat6", "cat7", "cat8", "cat9"]},
    "price": {"min": 30, "max": 1900,
              "min_by_tier": {"prospect": 100, "client": 50, "vip": 0,
                              "vic": 0}},
    "max_per_category": 3,
    "frequency_cap": {"max_per_item_per_day": 3},
    "exclude_purchased": {"enabled": True,
                          "repurchasable_categories": ["cat0", "cat1",
                                                       "cat2", "cat3",
                                                       "cat4"]},
    "exclude_dismissed_days": 30,
}


# ---------------------------------------------------------------- sections

SRV = None


@section("prepare PostgreSQL (max_connections for 64 pgbench clients)")
def prepare_pg():
    mt.psql("ALTER SYSTEM SET max_connections = 200")
    mt.pg_stop()
    mt.pg_start()
    log("   max_connections = %s" % mt.psql("SHOW max_connections").strip())


def put_items(srv, first, last):
    """Upserts items i<first>..i<last - 1> into srv's catalog (PUTs of
    1,000, the most one request takes, on 2 threads); returns the
    seconds it took."""
    t0 = time.monotonic()
    chunks = [list(range(i, min(i + 1000, last)))
              for i in range(first, last, 1000)]
    parallel(chunks, lambda ch: expect_200(
        srv.put("/v1/catalog/items", {"items": [item_doc(n) for n in ch]},
                timeout=120), "PUT catalog"), threads=2)
    return time.monotonic() - t0


def post_client_events(srv, clients, items):
    """Posts EVENTS_PER_CLIENT events for each of clients c0.. over items
    i0..i<items - 1> (batches of 1,000 on 4 threads); returns (events,
    seconds)."""
    types = ["view", "view", "click", "add_to_cart", "view"]
    events = []
    now = int(time.time()) - 3600
    for c in range(clients):
        for j in range(EVENTS_PER_CLIENT):
            events.append({"event_id": "load-%d-%d" % (c, j),
                           "client_id": "c%d" % c,
                           "item_id": "i%d" % ((c * 7919 + j * 104729)
                                               % items),
                           "type": types[j], "ts": now + j})
    batches = [events[i:i + 1000] for i in range(0, len(events), 1000)]
    t0 = time.monotonic()
    parallel(batches, lambda b: expect_200(
        srv.post("/v1/events", {"events": b}, timeout=120), "POST events"),
        threads=4)
    return len(events), time.monotonic() - t0


@section("load catalog")
def load_catalog():
    dt = put_items(SRV, 0, ITEMS)
    RESULTS["catalog_items_per_s"] = ITEMS / dt
    log("   %d items in %.1f s (%.0f items/s)" % (ITEMS, dt, ITEMS / dt))


@section("load clients; resident bytes per client")
def load_clients():
    time.sleep(1)
    rss0 = SRV.rss_bytes()
    heap0 = SRV.metric("maison_heap_allocated_bytes") or 0
    mem0 = SRV.metric("maison_clients_in_memory") or 0
    n_events, dt = post_client_events(SRV, CLIENTS, ITEMS)
    time.sleep(2)
    rss1 = SRV.rss_bytes()
    heap1 = SRV.metric("maison_heap_allocated_bytes") or 0
    mem1 = SRV.metric("maison_clients_in_memory") or 0
    RESULTS["rss_after_catalog"] = rss0
    RESULTS["rss_after_clients"] = rss1
    RESULTS["clients_in_memory"] = mem1
    n = max(1, mem1 - mem0) if mem1 > mem0 else CLIENTS
    # The heap's growth is the measure: the RSS also moves with how the
    # allocator's per-thread arenas happen to reuse what the catalog load
    # freed (with the HTTP layer's wait pool it grew by less than the
    # clients take), so it is printed beside it.
    RESULTS["bytes_per_client"] = (heap1 - heap0) / n
    RESULTS["rss_bytes_per_client"] = (rss1 - rss0) / n
    log("   %d events for %d clients in %.1f s; maison_clients_in_memory "
        "%d -> %d; heap %.1f -> %.1f MiB: %.0f bytes/client; RSS %.1f -> "
        "%.1f MiB: %.0f bytes/client"
        % (n_events, CLIENTS, dt, mem0, mem1, heap0 / 2**20, heap1 / 2**20,
           RESULTS["bytes_per_client"], rss0 / 2**20, rss1 / 2**20,
           RESULTS["rss_bytes_per_client"]))


@section("(b) recommendations at a fixed rate (loadgen) and max (wrk)")
def bench_recommendations():
    path = "/v1/clients/c{}/recommendations?k=10"
    loadgen(SRV.port, path, FIXED_RATE, 3)              # warm-up
    r = loadgen(SRV.port, path, FIXED_RATE, FIXED_S)
    log("   " + r["line"])
    RESULTS["recs_fixed"] = r
    w = wrk("http://127.0.0.1:%d/" % SRV.port, WRK_S,
            script=os.path.join(HERE, "recs.lua"),
            env={"BENCH_CLIENTS": str(CLIENTS)})
    log("   wrk: %.0f req/s, non-2xx %d, socket errors %d, p50 %s ms, "
        "p99 %s ms" % (w["rps"], w["non2xx"], w["socket_errors"],
                       fmt(w["p50"] and w["p50"] * 1e3, "%.2f"),
                       fmt(w["p99"] and w["p99"] * 1e3, "%.2f")))
    RESULTS["recs_max"] = w


RULES_NONE = {}       # a rule set without constraints


def log_offset(srv):
    """Where srv's log ends now, for logged_percentiles."""
    try:
        return os.path.getsize(srv.log_path)
    except OSError:
        return 0


def logged_percentiles(srv, offset, route_part):
    """p50 / p99 in ms of duration_ms over srv's request log lines after
    offset whose route contains route_part: the time inside maisond."""
    lat = []
    try:
        with open(srv.log_path, "rb") as f:
            f.seek(offset)
            for line in f:
                if b'"msg":"request"' not in line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if route_part in rec.get("route", ""):
                    lat.append(float(rec.get("duration_ms", 0.0)))
    except OSError:
        return {}
    lat.sort()
    if not lat:
        return {}
    return {"requests": len(lat),
            "p50_ms": lat[int(0.50 * (len(lat) - 1) + 0.5)],
            "p99_ms": lat[int(0.99 * (len(lat) - 1) + 0.5)]}


def pooled_percentiles(files):
    """p50 / p99 / p99.9 in ms over the latencies (us, one per line) of
    several loadgen -o files."""
    lat = []
    for path in files:
        with open(path) as f:
            lat += [int(line) for line in f if line.strip()]
    lat.sort()
    if not lat:
        return {}

    def pct(q):
        return lat[int(q * (len(lat) - 1) + 0.5)] / 1000.0
    return {"requests": len(lat), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "p999_ms": pct(0.999)}


@section("(e) recommendation latency, 20-rule set vs none")
def bench_rules():
    path = "/v1/clients/c{}/recommendations?k=10&brand=br1"
    # Compare latencies below saturation: at a rate the server cannot
    # sustain both runs measure queueing, not the cost of the rules.
    max_rps = RESULTS.get("recs_max", {}).get("rps") or 0
    rate = FIXED_RATE
    if max_rps and max_rps * 0.5 < rate:
        rate = max(50, int(max_rps * 0.5))
    RESULTS["rules_rate"] = rate
    log("   rate %d req/s (half the measured maximum when that is below "
        "%d)" % (rate, FIXED_RATE))
    # The two conditions alternate in three slices each, so that what
    # runs beside the requests (checkpoints every 30 s, PostgreSQL's own
    # work) falls on both alike: one 15 s run after the other put a
    # checkpoint in one and not the other, and the tail measured that.
    slice_s = max(3, FIXED_S // 3)
    files = {"none": [], "rules": []}
    tmp = tempfile.mkdtemp(prefix="mz-bench-rules-")
    loadgen(SRV.port, path, rate, 3)                    # warm-up
    for n in range(3):
        for name, doc in (("none", RULES_NONE), ("rules", RULES_20)):
            expect_200(SRV.put("/v1/brands/br1/rules", doc), "PUT rules")
            out = os.path.join(tmp, "%s-%d" % (name, n))
            res = loadgen(SRV.port, path, rate, slice_s, latency_file=out)
            log("   %-5s slice %d: %s" % (name, n + 1, res["line"]))
            files[name].append(out)
    none = pooled_percentiles(files["none"])
    rules = pooled_percentiles(files["rules"])
    shutil.rmtree(tmp, ignore_errors=True)
    log("   no rules, pooled: %s" % none)
    log("   20 rules, pooled: %s" % rules)
    RESULTS["rules_none"] = none
    RESULTS["rules_20"] = rules


@section("(d) GET /healthz vs nginx static file (wrk)")
def bench_healthz_vs_nginx():
    w = wrk("http://127.0.0.1:%d/healthz" % SRV.port, WRK_S)
    RESULTS["healthz"] = w
    log("   maisond /healthz: %.0f req/s (non-2xx %d)" % (w["rps"],
                                                         w["non2xx"]))
    port = mt.free_port()
    root = os.path.join(TMP, "nginx")
    os.makedirs(os.path.join(root, "www"))
    with open(os.path.join(root, "www", "healthz"), "w") as f:
        f.write('{"status":"ok"}')
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 2;
daemon off;
%s
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  server {
    listen 127.0.0.1:%d;
    root %s/www;
    default_type application/json;
  }
}
""" % ("user root;" if os.getuid() == 0 else "", root, root, root, root,
            root, root, root, port, root))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    p = subprocess.Popen([nginx, "-c", conf, "-p", root],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                if mt.request(port, "GET", "/healthz").status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        n = wrk("http://127.0.0.1:%d/healthz" % port, WRK_S)
    finally:
        p.send_signal(signal.SIGQUIT)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    RESULTS["nginx"] = n
    log("   nginx static file: %.0f req/s" % n["rps"])


def events_in_log():
    try:
        return int(mt.psql("SELECT count(*) FROM events").strip())
    except Exception:
        return None


@section("(a) durable ingestion: wrk, 64 connections, 100-event batches")
def bench_events():
    acc0 = SRV.metric("maison_events_accepted_total") or 0
    rows0 = events_in_log()
    t0 = time.monotonic()
    w = wrk("http://127.0.0.1:%d/v1/events" % SRV.port, EVENTS_S,
            script=os.path.join(HERE, "events.lua"),
            env={"BENCH_CLIENTS": str(CLIENTS), "BENCH_ITEMS": str(ITEMS),
                 "BENCH_BATCH": "100", "BENCH_RUN": str(int(time.time()))})
    dt = time.monotonic() - t0
    acc1 = SRV.metric("maison_events_accepted_total") or 0
    rows1 = events_in_log()
    eps = (acc1 - acc0) / EVENTS_S
    RESULTS["events_per_s"] = eps
    RESULTS["events_wrk"] = w
    log("   %d requests (%.0f req/s), non-2xx %d, socket errors %d; "
        "accepted %d events -> %.0f events/s (wall %.1f s)"
        % (w["requests"], w["rps"], w["non2xx"], w["socket_errors"],
           acc1 - acc0, eps, dt))
    if rows0 is not None and rows1 is not None:
        log("   rows added to the events table: %d" % (rows1 - rows0))
        RESULTS["events_rows_added"] = rows1 - rows0


@section("(d) pgbench baseline: 64 clients, 100-row INSERT per transaction")
def bench_pgbench():
    kv = mt.parse_conninfo(os.environ["MAISON_TEST_DATABASE_URL"])
    mt.psql('DROP DATABASE IF EXISTS mz_pgbench')
    mt.psql('CREATE DATABASE mz_pgbench')
    db = mt.conninfo_for_db(os.environ["MAISON_TEST_DATABASE_URL"],
                            "mz_pgbench")
    # The same shape as store/sql/0001-init.sql's events table.
    mt.psql("""CREATE TABLE bench_events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id text NOT NULL UNIQUE, client_id text NOT NULL,
        item_id text, type text NOT NULL, ts timestamptz NOT NULL,
        channel text, value double precision NOT NULL DEFAULT 0,
        quantity integer NOT NULL DEFAULT 1,
        dwell_ms integer NOT NULL DEFAULT 0,
        received_at timestamptz NOT NULL DEFAULT now());
        CREATE INDEX bench_events_client_seq ON bench_events (client_id, seq);
        """, db)
    # One variable per row (pgbench allows at most 255 per statement); the
    # other values are literals, as a client would send them.
    rows = ",\n".join(
        "(:r || '-%d', 'c%d', 'i%d', 'view', now())"
        % (i, (i * 7919) % CLIENTS, (i * 104729) % ITEMS) for i in range(100))
    script = os.path.join(TMP, "insert100.sql")
    with open(script, "w") as f:
        f.write("\\set r random(1, 1000000000000000)\n")
        f.write("INSERT INTO bench_events (event_id, client_id, item_id, "
                "type, ts) VALUES\n%s;\n" % rows)
    exe = os.path.join(mt.pg_bindir(), "pgbench")
    if not os.access(exe, os.X_OK):
        exe = "pgbench"
    # 64 clients as specified; 8 clients as well, because on 2 cores 64
    # backends contend and PostgreSQL itself does better with fewer.
    for clients, key, seconds in ((CONNS, "pgbench_rows_per_s", PGBENCH_S),
                                  (8, "pgbench8_rows_per_s",
                                   max(5, PGBENCH_S // 2))):
        out = run([exe, "-n", "-c", str(clients), "-j", str(WRK_THREADS),
                   "-T", str(seconds), "-M", "prepared", "-f", script,
                   "-h", kv.get("host", "127.0.0.1"),
                   "-p", kv.get("port", "5432"),
                   "-U", kv.get("user", "postgres"), "mz_pgbench"],
                  timeout=seconds + 120)
        m = re.search(r"tps = ([0-9.]+) \(without initial connection "
                      r"time\)", out)
        if not m:
            raise RuntimeError("no tps in pgbench output:\n" + out[-1500:])
        tps = float(m.group(1))
        RESULTS[key] = tps * 100
        log("   pgbench -c %d: %.1f tps -> %.0f rows/s"
            % (clients, tps, tps * 100))


# ---------------------------------------------------------------- summary


def fmt(v, spec="%.0f"):
    return "n/a" if v is None else spec % v


@section("(f) start to ready after kill -9, %d clients, %d events in the log"
         % (RESTART_CLIENTS, RESTART_EVENTS))
def bench_restart():
    """Grows the log to RESTART_EVENTS events over RESTART_CLIENTS
    clients (the earlier sections' events count), kills maisond -9 right
    after the last batch is acknowledged (so the log tail since the last
    checkpoint must be replayed), and times the start until /readyz 200,
    then a graceful stop and start (checkpoint at stop, no replay)."""
    if RESTART_CLIENTS <= 0 or RESTART_EVENTS <= 0:
        log("   skipped (BENCH_RESTART_EVENTS=0)")
        return
    have = events_in_log() or 0
    need = max(0, RESTART_EVENTS - have)
    types = ["view", "view", "click", "add_to_cart", "view", "wishlist"]
    now = int(time.time()) - 7200
    run_id = int(time.time())

    def batch(b):
        return [{"event_id": "rs-%d-%d-%d" % (run_id, b, j),
                 "client_id": "r%d" % ((b * 1000 + j) % RESTART_CLIENTS),
                 "item_id": "i%d" % ((b * 7919 + j * 104729) % ITEMS),
                 "type": types[j % len(types)], "ts": now + b}
                for j in range(1000)]
    t0 = time.monotonic()
    parallel(range((need + 999) // 1000), lambda b: expect_200(
        SRV.post("/v1/events", {"events": batch(b)}, timeout=120),
        "POST events"), threads=4)
    dt = time.monotonic() - t0
    clients = int(SRV.metric("maison_clients_in_memory") or 0)
    applied = int(SRV.metric("maison_event_log_seq") or 0)
    checkpoint = int(SRV.metric("maison_checkpoint_log_seq") or 0)
    total = events_in_log()
    log("   posted %d events in %.1f s; log %s events, %s clients in "
        "memory; last checkpoint at %d of %d (%d to replay)"
        % (need, dt, total, clients, checkpoint, applied,
           applied - checkpoint))
    SRV.kill9()
    t0 = time.monotonic()
    SRV.start(timeout_s=1800)
    after_kill = time.monotonic() - t0
    loaded = int(SRV.metric("maison_clients_in_memory") or 0)
    SRV.stop()
    t0 = time.monotonic()
    SRV.start(timeout_s=1800)
    after_stop = time.monotonic() - t0
    RESULTS["restart"] = {"events_in_log": total, "replayed":
                          applied - checkpoint, "after_kill_s": after_kill,
                          "after_stop_s": after_stop,
                          "clients_loaded": loaded}
    log("   ready %.1f s after kill -9 (%s clients in memory), %.1f s "
        "after a graceful stop" % (after_kill, loaded, after_stop))


class PacedIngestion:
    """Posts 100-event batches for the bench's clients at a fixed total
    rate (events/s) from 4 threads, each on its own schedule, until
    stopped; counts what was accepted."""

    def __init__(self, events_per_s):
        self.period = 4 * 100.0 / events_per_s     # seconds per batch
        self.stop_flag = threading.Event()
        self.accepted = 0
        self.failed = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(n,),
                                         daemon=True) for n in range(4)]
        self.run_id = int(time.time())

    def run(self, n):
        types = ["view", "view", "click", "add_to_cart", "wishlist"]
        next_at = time.monotonic() + n * self.period / 4
        b = 0
        while not self.stop_flag.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at += self.period
            batch = [{"event_id": "st-%d-%d-%d-%d" % (self.run_id, n, b, j),
                      "client_id": "c%d" % ((n * 7919 + b * 100 + j)
                                            % CLIENTS),
                      "item_id": "i%d" % ((b * 104729 + j * 7919 + n)
                                          % ITEMS),
                      "type": types[j % len(types)]} for j in range(100)]
            b += 1
            try:
                r = SRV.post("/v1/events", {"events": batch}, timeout=60)
                ok = r.status == 200
            except OSError:
                ok = False
            with self.lock:
                if ok:
                    self.accepted += 100
                else:
                    self.failed += 1

    def start(self):
        self.t0 = time.monotonic()
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(60)
        return self.accepted / (time.monotonic() - self.t0)


@section("(g) stalls: recommendations at a fixed rate, quiet vs beside "
         "ingestion at a fixed rate")
def bench_stalls():
    """Open-loop recommendations (loadgen: latency from each request's
    scheduled time) at STALL_RATE for STALL_S seconds, once alone and
    once while PacedIngestion posts STALL_EVENTS_S events/s for the same
    clients; both windows are longer than the checkpoint interval, so
    each holds a checkpoint writing the changed clients."""
    path = "/v1/clients/c{}/recommendations?k=10"
    tmp = tempfile.mkdtemp(prefix="mz-bench-stalls-")
    quiet_file = os.path.join(tmp, "quiet")
    busy_file = os.path.join(tmp, "busy")
    at = log_offset(SRV)
    loadgen(SRV.port, path, STALL_RATE, STALL_S, latency_file=quiet_file)
    quiet = pooled_percentiles([quiet_file])
    quiet_inside = logged_percentiles(SRV, at, "/recommendations")
    ingest = PacedIngestion(STALL_EVENTS_S)
    at = log_offset(SRV)
    ingest.start()
    try:
        loadgen(SRV.port, path, STALL_RATE, STALL_S, latency_file=busy_file)
    finally:
        eps = ingest.stop()
    busy = pooled_percentiles([busy_file])
    busy_inside = logged_percentiles(SRV, at, "/recommendations")
    if os.environ.get("BENCH_KEEP_LOG"):
        shutil.copy(busy_file, os.environ["BENCH_KEEP_LOG"] + ".busy")
        shutil.copy(quiet_file, os.environ["BENCH_KEEP_LOG"] + ".quiet")
    shutil.rmtree(tmp, ignore_errors=True)
    RESULTS["stalls"] = {"quiet": quiet, "busy": busy,
                         "quiet_inside": quiet_inside,
                         "busy_inside": busy_inside,
                         "events_per_s": eps, "failed": ingest.failed}
    log("   quiet: p50 %.2f / p99 %.2f / p99.9 %.2f ms; beside %.0f "
        "events/s (%d batches failed): p50 %.2f / p99 %.2f / p99.9 %.2f ms"
        % (quiet["p50_ms"], quiet["p99_ms"], quiet["p999_ms"], eps,
           ingest.failed, busy["p50_ms"], busy["p99_ms"], busy["p999_ms"]))
    # Where a slow answer spent its time: inside maisond (from its request
    # line to its answer, as its log says: locks, scoring) or before it
    # (waiting for a CPU or for its HTTP thread).
    log("   inside maisond (its request log): quiet p50 %s / p99 %s ms; "
        "beside ingestion p50 %s / p99 %s ms"
        % (fmt(quiet_inside.get("p50_ms"), "%.2f"),
           fmt(quiet_inside.get("p99_ms"), "%.2f"),
           fmt(busy_inside.get("p50_ms"), "%.2f"),
           fmt(busy_inside.get("p99_ms"), "%.2f")))


def closed_loop_recs(srv, clients, seconds):
    """Recommendations for random clients with wrk, closed loop, SCAN_CONNS
    connections on one wrk thread (one thread drives far more than
    maisond answers here, and a second would take CPU from it on a
    2-core machine), after a 2 s warm-up: wrk()'s dict."""
    url = "http://127.0.0.1:%d/" % srv.port
    env = {"BENCH_CLIENTS": str(clients)}
    script = os.path.join(HERE, "recs.lua")
    wrk(url, 2, script=script, env=env, conns=SCAN_CONNS, threads=1, srv=srv)
    return wrk(url, seconds, script=script, env=env, conns=SCAN_CONNS,
               threads=1, srv=srv)


def full_scan_limit(sgemv):
    """cores / t_sgemv in req/s, from sgemv_baseline()'s hot median and
    its cold median: (hot, cold)."""
    return (CORES / (sgemv["median_us"] * 1e-6),
            CORES / (sgemv["cold_median_us"] * 1e-6)
            if sgemv.get("cold_median_us") else None)


def ms(v):
    return None if v is None else v * 1e3


@section("(h) recommendations vs the full-scan limit: closed loop, %d "
         "connections" % SCAN_CONNS)
def bench_scan():
    """Maximum recommendation rate of SCAN_CONNS closed-loop connections
    over the loaded catalog and clients, against the rate a design that
    scores the whole catalog with one sgemv per request could reach on
    this machine: cores / t_sgemv, t_sgemv measured now, single-threaded,
    over an ITEMS x DIM matrix."""
    sg = sgemv_baseline(ITEMS)
    hot, cold = full_scan_limit(sg)
    log("   sgemv %d x %d: hot median %.1f us (best %.1f), cold median "
        "%.1f us" % (ITEMS, DIM, sg["median_us"], sg["best_us"],
                     sg["cold_median_us"]))
    log("   full-scan limit = cores / t_sgemv = %d / %.1f us = %.0f req/s "
        "(cache-cold sgemv: %.0f req/s)" % (CORES, sg["median_us"], hot,
                                            cold or 0))
    w = closed_loop_recs(SRV, CLIENTS, SCAN_S)
    if w["requests"] == 0 or w["non2xx"] or w["socket_errors"]:
        raise RuntimeError("wrk: %d requests, non-2xx %d, socket errors %d"
                           % (w["requests"], w["non2xx"],
                              w["socket_errors"]))
    RESULTS["scan"] = {"sgemv": sg, "limit_rps": hot, "limit_cold_rps": cold,
                       "rps": w["rps"], "p50": w["p50"], "p99": w["p99"],
                       "requests": w["requests"]}
    log("   maisond: %.0f req/s (%.2fx the full-scan limit, %.2fx the "
        "cache-cold one), p50 %s ms, p99 %s ms (target <= %.0f ms)"
        % (w["rps"], w["rps"] / hot, w["rps"] / cold if cold else 0,
           fmt(ms(w["p50"]), "%.2f"), fmt(ms(w["p99"]), "%.2f"),
           SCAN_P99_TARGET_MS))


def growth_point(srv, items, rate):
    """The figures of (i) at one catalog size: sgemv over items x DIM,
    closed-loop maximum (wrk, SCAN_CONNS connections), then open loop at
    rate req/s; None for rate: GROWTH_RATE, or half the closed-loop
    maximum when that is lower (above saturation the latencies would
    measure the queue)."""
    sg = sgemv_baseline(items)
    w = closed_loop_recs(srv, GROWTH_CLIENTS, GROWTH_S)
    if rate is None:
        rate = GROWTH_RATE
        if w["rps"] and w["rps"] * 0.5 < rate:
            rate = max(20, int(w["rps"] * 0.5))
    path = "/v1/clients/c{}/recommendations?k=10"
    o = loadgen(srv.port, path, rate, GROWTH_S, ids=GROWTH_CLIENTS, srv=srv)
    point = {"items": items, "sgemv_us": sg["median_us"],
             "sgemv_cold_us": sg["cold_median_us"], "max_rps": w["rps"],
             "closed_p50_ms": ms(w["p50"]), "closed_p99_ms": ms(w["p99"]),
             "closed_non2xx": w["non2xx"], "rate": rate,
             "achieved_rate": o["rate"], "errors": o["errors"],
             "p50_ms": o["p50_ms"], "p99_ms": o["p99_ms"]}
    log("   %d items: sgemv %.1f us; closed loop %.0f req/s, p50 %s / p99 "
        "%s ms; open loop: %s"
        % (items, sg["median_us"], w["rps"], fmt(point["closed_p50_ms"],
                                                  "%.2f"),
           fmt(point["closed_p99_ms"], "%.2f"), o["line"]))
    return point


def growth_server(items, event_items):
    """A started maisond on a fresh database of its own, with items
    i0..i<items - 1> and GROWTH_CLIENTS clients whose events fall on the
    first event_items items (the same histories at every size)."""
    db = mt.create_database("mz_growth_%d_%d" % (items, int(time.time())))
    srv = mt.Maisond(database_url=db, name="maisond-growth-%d" % items,
                     threads=SRV.threads, extra_args=SRV.extra_args)
    srv.start(timeout_s=120)
    dt = put_items(srv, 0, items)
    n, dt_events = post_client_events(srv, GROWTH_CLIENTS, event_items)
    log("   %d items in %.1f s (%.0f items/s), %d events for %d clients "
        "in %.1f s" % (items, dt, items / dt, n, GROWTH_CLIENTS, dt_events))
    waited = wait_checkpointed(srv, timeout_s=90)
    log("   the load checkpointed %.1f s later" % waited)
    return srv, db


def wait_checkpointed(srv, timeout_s):
    """Waits until srv's last checkpoint covers its whole event log, so
    that a measurement after it times recommendations and not the first
    checkpoint of what was just loaded ((g) measures that); returns the
    seconds waited. Raises RuntimeError after timeout_s."""
    t0 = time.monotonic()
    while True:
        m = srv.metrics()
        applied = mt.metric_sum(m, "maison_event_log_seq") or 0
        done = mt.metric_sum(m, "maison_checkpoint_log_seq") or 0
        if applied and done >= applied:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout_s:
            raise RuntimeError(
                "no checkpoint of the loaded events in %.0f s: log at %d, "
                "checkpoint at %d, %d checkpoint errors; log tail:\n%s"
                % (timeout_s, applied, done, mt.metric_sum(
                    m, "maison_checkpoint_errors_total") or 0,
                   srv.log_tail(10)))
        time.sleep(0.5)


@section("(i) growth: recommendations at %s items"
         % ", ".join(str(n) for n in GROWTH_ITEMS))
def bench_growth():
    """One maisond per size, each on its own database (so the sizes do
    not depend on what the other parts loaded, and each server has the
    same history), one at a time, the largest first: its closed-loop
    maximum sets the open-loop rate of every size (GROWTH_RATE, or half
    that maximum when lower), so the latencies compare at one rate."""
    sizes = sorted(GROWTH_ITEMS, reverse=True)
    points = []
    rate = None
    try:
        for items in sizes:
            srv, db = growth_server(items, sizes[-1])
            try:
                points.append(growth_point(srv, items, rate))
                rate = points[0]["rate"]
            finally:
                srv.stop()
                srv.cleanup()
                mt.psql('DROP DATABASE IF EXISTS "%s"'
                        % mt.parse_conninfo(db).get("dbname"),
                        check_rc=False)
    finally:
        RESULTS["growth"] = sorted(points, key=lambda p: p["items"])


def growth_of(points, key, inverse=False):
    """Per point: (value at that size / value at the first size) divided
    by (size / first size), i.e. how cost grows against the catalog; 1/x
    of the value when inverse (for rates). None where a value is
    missing."""
    first = points[0]
    out = []
    for p in points:
        a, b = p.get(key), first.get(key)
        if not a or not b:
            out.append(None)
            continue
        cost = (b / a) if inverse else (a / b)
        out.append(cost / (p["items"] / first["items"]))
    return out


GROWTH_MEASURES = [
    ("p50 ms, open loop", "p50_ms", False),
    ("p99 ms, open loop", "p99_ms", False),
    ("p50 ms, closed loop", "closed_p50_ms", False),
    ("p99 ms, closed loop", "closed_p99_ms", False),
    ("max req/s, closed loop", "max_rps", True),
    ("sgemv us (hot)", "sgemv_us", False),
    ("sgemv us (cold)", "sgemv_cold_us", False),
]


def print_growth():
    """The growth table: each measure at each size, side by side, and
    (cost at size / cost at the first size) / (size / first size): below
    1 the cost grows slower than the catalog."""
    points = RESULTS.get("growth") or []
    if not points:
        return
    head = ["measure"] + ["%d items" % p["items"] for p in points]
    rows = [head, ["open-loop rate req/s (achieved, errors)"] +
            ["%d (%.0f, %d)" % (p["rate"], p["achieved_rate"], p["errors"])
             for p in points]]
    for label, key, inverse in GROWTH_MEASURES:
        rows.append([label] + [fmt(p.get(key), "%.0f" if inverse else
                                   "%.2f") for p in points])
    for label, key, inverse in GROWTH_MEASURES:
        rows.append(["  cost growth / catalog growth, " + label] +
                    [fmt(g, "%.2f") for g in growth_of(points, key,
                                                       inverse)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    print()
    print("GROWTH (%d clients; recommendations k=10; closed loop = wrk %d "
          "connections; open loop at %d req/s, or half the largest size's "
          "closed-loop max when lower)"
          % (GROWTH_CLIENTS, SCAN_CONNS, GROWTH_RATE))
    for n, r in enumerate(rows):
        print("  ".join("%-*s" % (widths[i], r[i]) for i in range(len(r))))
        if n == 0:
            print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    sys.stdout.flush()


# ---------------------------------------------------------------- nodes

# (j): the same database served by 1, 2 and 3 nodes on this machine.
NODES_S = int(os.environ.get("BENCH_NODES_S", "10"))
LAG_SAMPLES = int(os.environ.get("BENCH_LAG_SAMPLES", "300"))
LAG_EVENTS_S = int(os.environ.get("BENCH_LAG_EVENTS_S", "2000"))


def start_follower_nodes(first, count):
    """count more maisond nodes on the bench's database, named n<first>,
    n<first+1>, ... (--node-id, when maisond has the option), with the
    model shape of SRV, started one after the other; returns them (the
    caller stops and cleans them up)."""
    p = subprocess.run([mt.maisond_path(), "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    has_node_id = b"--node-id" in p.stdout
    nodes = []
    for n in range(first, first + count):
        args = list(SRV.extra_args)         # its --dim
        if has_node_id:
            args += ["--node-id", "n%d" % n]
        node = mt.Maisond(name="maisond-bench-n%d" % n, threads=SRV.threads,
                          extra_args=args)
        nodes.append(node)
        node.start(timeout_s=600)
    return nodes


def on_every_node(nodes, fn):
    """fn(node, share) on one thread per node, share = 1 / len(nodes);
    returns the results in node order, or raises the first error."""
    out = [None] * len(nodes)

    def one(i):
        out[i] = fn(nodes[i], 1.0 / len(nodes))
    parallel(range(len(nodes)), one, threads=len(nodes))
    return out


def nodes_throughput(nodes):
    """Durable events/s (rows the events table gained) with wrk's 64
    connections shared by the nodes, then recommendations/s summed over
    them, each for NODES_S seconds."""
    rows0 = events_in_log()
    t0 = time.monotonic()
    run_id = str(int(time.time() * 1000))
    ev = on_every_node(nodes, lambda node, share: wrk(
        "http://127.0.0.1:%d/v1/events" % node.port, NODES_S,
        script=os.path.join(HERE, "events.lua"),
        env={"BENCH_CLIENTS": str(CLIENTS), "BENCH_ITEMS": str(ITEMS),
             "BENCH_BATCH": "100", "BENCH_RUN": "%s%s" % (run_id, node.port)},
        conns=max(1, int(CONNS * share)), threads=1, srv=node))
    dt = time.monotonic() - t0
    rows1 = events_in_log()
    recs = on_every_node(nodes, lambda node, share: wrk(
        "http://127.0.0.1:%d/" % node.port, NODES_S,
        script=os.path.join(HERE, "recs.lua"),
        env={"BENCH_CLIENTS": str(CLIENTS)},
        conns=max(1, int(CONNS * share)), threads=1, srv=node))
    return {"events_per_s": (rows1 - rows0) / NODES_S,
            "events_wall_s": dt,
            "events_non2xx": sum(w["non2xx"] + w["socket_errors"]
                                 for w in ev),
            "recs_per_s": sum(w["rps"] for w in recs),
            "recs_non2xx": sum(w["non2xx"] + w["socket_errors"]
                               for w in recs)}


def percentile(sorted_values, q):
    return sorted_values[int(q * (len(sorted_values) - 1) + 0.5)]


def follow_lag(a, b):
    """LAG_SAMPLES pairs of samples, each one event posted to node a and
    timed from a's reply: (1) until node b's /metrics shows
    maison_log_applied_position at a's position (b follows by itself:
    its poll, about every 100 ms), (2) until b answers a profile read
    with after=<a's position> (the read wakes b's follower at once). Also
    b's round trip for a plain read, the floor of (2). Returns ms
    figures."""
    run_id = int(time.time() * 1000)
    polled, reads, rtts = [], [], []
    late = 0
    rnd = random.Random(17)
    for i in range(2 * LAG_SAMPLES):
        client = "c%d" % (i % CLIENTS)
        doc = expect_200(a.post("/v1/events", {"events": [{
            "event_id": "lag-%d-%d" % (run_id, i), "client_id": client,
            "item_id": "i%d" % ((i * 7919) % ITEMS), "type": "view"}]}),
            "POST events on a")
        pos = doc.get("position")
        if not isinstance(pos, int):
            raise RuntimeError("POST /v1/events reply has no position: %r"
                               % doc)
        t0 = time.monotonic()
        if i % 2 == 0:
            while (b.metric("maison_log_applied_position") or 0) < pos:
                if time.monotonic() - t0 > 30:
                    raise RuntimeError("b did not apply %d in 30 s" % pos)
            polled.append((time.monotonic() - t0) * 1e3)
        else:
            r = b.get("/v1/clients/%s/profile?after=%d" % (client, pos),
                      timeout=60)
            reads.append((time.monotonic() - t0) * 1e3)
            if r.status == 503:
                late += 1
            elif r.status not in (200, 404):
                raise RuntimeError("profile after=%d on b: %r" % (pos, r))
            t0 = time.monotonic()
            b.get("/v1/clients/%s/profile" % client)
            rtts.append((time.monotonic() - t0) * 1e3)
        # Land anywhere in the follower's poll period.
        time.sleep(rnd.uniform(0.0, 0.12))
    for v in (polled, reads, rtts):
        v.sort()
    return {"samples": LAG_SAMPLES,
            "p50_ms": percentile(polled, 0.5),
            "p99_ms": percentile(polled, 0.99), "max_ms": polled[-1],
            "after_p50_ms": percentile(reads, 0.5),
            "after_p99_ms": percentile(reads, 0.99),
            "rtt_p50_ms": percentile(rtts, 0.5), "not_caught_up": late}


@section("(j) nodes: ingestion and recommendations with 1, 2 and 3 nodes on "
         "one database; lag from a commit on one node to its application "
         "on another")
def bench_nodes():
    """With 1, then 2, then 3 nodes on the bench's database (all on this
    machine, so they share its cores): durable events/s and
    recommendations/s with the load spread over the nodes; then, with
    three, the lag between a commit on node 2 and its application on
    node 3 (p50, p99), quiet and while node 1 takes LAG_EVENTS_S
    events/s."""
    extra = []
    out = {}
    try:
        for count in (1, 2, 3):
            if count > 1:
                extra += start_follower_nodes(2 + len(extra), 1)
            nodes = [SRV] + extra
            res = nodes_throughput(nodes)
            out[count] = res
            log("   %d node(s): %.0f events/s (wrk non-2xx/errors %d), "
                "%.0f recs/s (non-2xx/errors %d)"
                % (count, res["events_per_s"], res["events_non2xx"],
                   res["recs_per_s"], res["recs_non2xx"]))
        RESULTS["nodes"] = out
        for key, what in (("nodes_lag", "quiet"),
                          ("nodes_lag_busy", "beside %d events/s on node 1"
                           % LAG_EVENTS_S)):
            ingest = PacedIngestion(LAG_EVENTS_S) if key.endswith("busy") \
                else None
            if ingest:
                ingest.start()
            try:
                lag = follow_lag(extra[0], extra[1])
            finally:
                eps = ingest.stop() if ingest else None
            lag["events_per_s"] = eps
            RESULTS[key] = lag
            log("   lag commit on node 2 -> applied on node 3, %s, %d "
                "samples each: by itself (its /metrics polled) p50 %.2f ms, "
                "p99 %.2f ms, max %.2f ms; a read with after= p50 %.2f ms, "
                "p99 %.2f ms (a plain read's round trip: p50 %.2f ms), %d "
                "not caught up in the bounded wait"
                % (what, lag["samples"], lag["p50_ms"], lag["p99_ms"],
                   lag["max_ms"], lag["after_p50_ms"], lag["after_p99_ms"],
                   lag["rtt_p50_ms"], lag["not_caught_up"]))
    finally:
        RESULTS.setdefault("nodes", out)
        for node in extra:
            node.stop()
            node.cleanup()


def nodes_rows():
    """(j)'s summary rows: each count of nodes against one node."""
    nodes = RESULTS.get("nodes", {})
    one = nodes.get(1, {})
    rows = []
    for count in (2, 3):
        res = nodes.get(count, {})
        rows.append(("(j) events/s durable, %d nodes (64 conn shared)"
                     % count, fmt(res.get("events_per_s")), "1 node",
                     fmt(one.get("events_per_s")),
                     fmt(ratio(res.get("events_per_s"),
                               one.get("events_per_s")), "%.2f")))
    for count in (2, 3):
        res = nodes.get(count, {})
        rows.append(("(j) recs/s, %d nodes (64 conn shared)" % count,
                     fmt(res.get("recs_per_s")), "1 node",
                     fmt(one.get("recs_per_s")),
                     fmt(ratio(res.get("recs_per_s"),
                               one.get("recs_per_s")), "%.2f")))
    for key, what in (("nodes_lag", "quiet"), ("nodes_lag_busy",
                                               "beside ingestion")):
        lag = RESULTS.get(key, {})
        rows.append(("(j) lag commit -> applied on another node, %s, "
                     "p50 / p99 ms" % what,
                     "%s / %s" % (fmt(lag.get("p50_ms"), "%.2f"),
                                  fmt(lag.get("p99_ms"), "%.2f")),
                     "a read with after=, p50 / p99 ms",
                     "%s / %s" % (fmt(lag.get("after_p50_ms"), "%.2f"),
                                  fmt(lag.get("after_p99_ms"), "%.2f")),
                     ""))
    return rows


def ratio(a, b):
    return None if a is None or not b else a / b


def scan_rows():
    """(h)'s summary rows: the closed-loop maximum against the full-scan
    limits, and the closed-loop latencies against the 2 ms target."""
    sc = RESULTS.get("scan", {})
    sg = sc.get("sgemv", {})
    return [
        ("(h) recs max req/s, closed loop %d conn (target >= 1.0x)"
         % SCAN_CONNS, fmt(sc.get("rps")),
         "full-scan limit %d cores / t_sgemv %s us" % (
             CORES, fmt(sg.get("median_us"), "%.0f")),
         fmt(sc.get("limit_rps")),
         fmt(ratio(sc.get("rps"), sc.get("limit_rps")), "%.2f")),
        ("(h) same, vs a full scan with the matrix out of cache",
         fmt(sc.get("rps")),
         "%d cores / cold t_sgemv %s us" % (
             CORES, fmt(sg.get("cold_median_us"), "%.0f")),
         fmt(sc.get("limit_cold_rps")),
         fmt(ratio(sc.get("rps"), sc.get("limit_cold_rps")), "%.2f")),
        ("(h) recs p50 / p99 ms, closed loop %d conn (target p99 <= %.0f)"
         % (SCAN_CONNS, SCAN_P99_TARGET_MS),
         "%s / %s" % (fmt(ms(sc.get("p50")), "%.2f"),
                      fmt(ms(sc.get("p99")), "%.2f")),
         "target p99 ms", "%.2f" % SCAN_P99_TARGET_MS,
         fmt(ratio(ms(sc.get("p99")), SCAN_P99_TARGET_MS), "%.2f")),
    ]


def growth_rows():
    """(i)'s summary rows: first and last size side by side, the ratio of
    cost growth to catalog growth (target < 1; the sgemv row is the
    full-scan baseline's own)."""
    points = RESULTS.get("growth") or []
    if len(points) < 2:
        return [("(i) growth", "n/a", "", "", "")]
    a, b = points[0], points[-1]
    label = "%dk -> %dk items" % (a["items"] // 1000, b["items"] // 1000)
    catalog = "catalog x%.0f" % (b["items"] / a["items"])
    rows = []
    for what, key, inverse in GROWTH_MEASURES:
        if key == "sgemv_cold_us":
            continue
        if key in ("p50_ms", "p99_ms"):
            what += " at %d req/s" % b["rate"]
        target = ("the full-scan baseline's" if key.startswith("sgemv")
                  else "cost vs catalog growth, target < 1")
        spec = "%.0f" if inverse else "%.2f"
        rows.append(("(i) %s, %s (%s)" % (what, label, target),
                     "%s -> %s" % (fmt(a.get(key), spec),
                                   fmt(b.get(key), spec)),
                     catalog, "%.0f" % (b["items"] / a["items"]),
                     fmt(growth_of(points, key, inverse)[-1], "%.2f")))
    return rows


def summary():
    r = RESULTS
    fixed = r.get("recs_fixed", {})
    none, rules = r.get("rules_none", {}), r.get("rules_20", {})
    rows = [
        ("(a) events/s accepted durably (64 conn, 100/batch)",
         fmt(r.get("events_per_s")),
         "pgbench 100-row INSERT rows/s", fmt(r.get("pgbench_rows_per_s")),
         fmt(ratio(r.get("events_per_s"), r.get("pgbench_rows_per_s")),
             "%.2f")),
        ("(a) same, vs pgbench at 8 clients",
         fmt(r.get("events_per_s")),
         "pgbench -c 8 rows/s", fmt(r.get("pgbench8_rows_per_s")),
         fmt(ratio(r.get("events_per_s"), r.get("pgbench8_rows_per_s")),
             "%.2f")),
        ("(b) recs p50 / p99 / p99.9 ms at %d req/s" % FIXED_RATE,
         "%s / %s / %s" % (fmt(fixed.get("p50_ms"), "%.2f"),
                           fmt(fixed.get("p99_ms"), "%.2f"),
                           fmt(fixed.get("p999_ms"), "%.2f")),
         "achieved req/s, errors",
         "%s, %s" % (fmt(fixed.get("rate"), "%.0f"),
                     fmt(fixed.get("errors"))), ""),
        ("(b) recs max req/s (wrk 64 conn)",
         fmt(r.get("recs_max", {}).get("rps")), "non-2xx",
         fmt(r.get("recs_max", {}).get("non2xx")), ""),
        ("(c) heap bytes per client (target <= 2048)",
         fmt(r.get("bytes_per_client")), "RSS bytes per client",
         fmt(r.get("rss_bytes_per_client")), ""),
        ("(d) GET /healthz req/s (wrk 64 conn)",
         fmt(r.get("healthz", {}).get("rps")), "nginx static file req/s",
         fmt(r.get("nginx", {}).get("rps")),
         fmt(ratio(r.get("healthz", {}).get("rps"),
                   r.get("nginx", {}).get("rps")), "%.2f")),
        ("(e) recs p50 ms at %s req/s, 20 rules vs none (target <= 1.25)"
         % fmt(r.get("rules_rate")),
         fmt(rules.get("p50_ms"), "%.2f"), "no rules",
         fmt(none.get("p50_ms"), "%.2f"),
         fmt(ratio(rules.get("p50_ms"), none.get("p50_ms")), "%.2f")),
        ("(e) recs p99 ms at %s req/s, 20 rules vs none (target <= 1.25)"
         % fmt(r.get("rules_rate")),
         fmt(rules.get("p99_ms"), "%.2f"), "no rules",
         fmt(none.get("p99_ms"), "%.2f"),
         fmt(ratio(rules.get("p99_ms"), none.get("p99_ms")), "%.2f")),
        ("(g) recs p99 ms at %d req/s beside %s events/s (target <= 1.5)"
         % (STALL_RATE, fmt(r.get("stalls", {}).get("events_per_s"))),
         fmt(r.get("stalls", {}).get("busy", {}).get("p99_ms"), "%.2f"),
         "quiet", fmt(r.get("stalls", {}).get("quiet", {}).get("p99_ms"),
                      "%.2f"),
         fmt(ratio(r.get("stalls", {}).get("busy", {}).get("p99_ms"),
                   r.get("stalls", {}).get("quiet", {}).get("p99_ms")),
             "%.2f")),
        ("(f) start to ready after kill -9, s (%s events in the log)"
         % fmt(r.get("restart", {}).get("events_in_log")),
         fmt(r.get("restart", {}).get("after_kill_s"), "%.1f"),
         "after a graceful stop, s",
         fmt(r.get("restart", {}).get("after_stop_s"), "%.1f"), ""),
    ]
    rows += scan_rows() + growth_rows()
    rows += nodes_rows()
    print_growth()
    print()
    print("SUMMARY (%d items, %d clients, %d cores)"
          % (ITEMS, CLIENTS, os.cpu_count() or 0))
    head = ("measure", "maisond", "baseline", "baseline value", "ratio")
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(5)]
    line = "  ".join("%-*s" % (widths[i], head[i]) for i in range(5))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join("%-*s" % (widths[i], row[i]) for i in range(5)))
    if FAILED:
        print("sections that failed: %s" % ", ".join(FAILED))
    with open(os.path.join(os.environ.get("BENCH_OUT", os.getcwd()),
                           "bench.json"), "w") as f:
        json.dump({k: v for k, v in r.items()}, f, default=str, indent=1)
    sys.stdout.flush()


# Sections by short name, in the order they run. The catalog is loaded
# whatever is chosen (every section needs it), and the clients when a
# section that reads them runs.
PARTS = [("clients", "load clients; resident bytes per client (c)"),
         ("recs", "recommendations at a fixed rate and max (b)"),
         ("scan", "recs, %d closed-loop conn, vs cores / t_sgemv (h)"
          % SCAN_CONNS),
         ("rules", "recommendation latency, 20-rule set vs none (e)"),
         ("healthz", "GET /healthz vs nginx static file (d)"),
         ("events", "durable ingestion with wrk (a)"),
         ("pgbench", "pgbench 100-row INSERT baseline (a, d)"),
         ("nodes", "events/s, recs/s with 1, 2, 3 nodes; follow lag (j)"),
         ("restart", "start to ready after kill -9 (f)"),
         ("stalls", "recommendations quiet vs beside ingestion (g)"),
         ("growth", "recs p50 / p99 / max at 10k, 50k, 200k items, own "
                    "server (i)")]
NEEDS_CLIENTS = ("recs", "rules", "stalls", "scan", "nodes")
# Parts that bring their own server and data: alone they skip the main
# catalog load.
OWN_SERVER = ("growth",)

USAGE = """usage: tests/bench/run_bench.sh [MAISOND]   (or: make bench)

Runs every part in order against a throw-away PostgreSQL cluster and
prints a summary with each figure's same-run baseline and ratio. Run it
alone on the machine. To run some parts only, name them in BENCH_ONLY
(comma-separated), e.g.

    BENCH_ONLY=events,pgbench sh tests/bench/run_bench.sh build/maisond

Parts:
%s

Each part alone, e.g. (scan about 20 s, growth about 3 minutes on 2
cores):

    BENCH_ONLY=scan sh tests/bench/run_bench.sh build/maisond
    BENCH_ONLY=growth sh tests/bench/run_bench.sh build/maisond

(clients loads the clients; recs, rules, stalls and scan load them too;
growth starts its own maisond on its own database and needs neither.)

Sizes and durations: BENCH_ITEMS (50000), BENCH_CLIENTS (10000),
BENCH_EVENTS_S (20), BENCH_WRK_S (10), BENCH_RATE (1000), BENCH_FIXED_S
(15), BENCH_PGBENCH_S (15), BENCH_RESTART_CLIENTS (100000),
BENCH_RESTART_EVENTS (2000000), BENCH_STALL_RATE (500),
BENCH_STALL_EVENTS_S (5000), BENCH_STALL_S (35), BENCH_THREADS (maisond's
default, one per core), BENCH_DIM (64, maisond's default; the sgemv matrix's
width and maisond --dim), BENCH_SCAN_CONNS (16), BENCH_SCAN_S
(BENCH_WRK_S), BENCH_GROWTH_ITEMS (10000,50000,200000),
BENCH_GROWTH_CLIENTS (10000), BENCH_GROWTH_RATE (500), BENCH_GROWTH_S
(10); nodes: BENCH_NODES_S (10, each measurement), BENCH_LAG_SAMPLES
(300), BENCH_LAG_EVENTS_S (2000); SGEMV_BASELINE: the sgemv_baseline
program (default next to LOADGEN); BENCH_OUT: where bench.json goes;
BENCH_KEEP_LOG=path: keep maisond's log there (and, for stalls, the
latencies of both windows, in completion order, at path.quiet and
path.busy).
README.md in this directory says what each part does and the targets.
""" % "\n".join("    %-8s %s" % p for p in PARTS)


def chosen_parts():
    """The parts BENCH_ONLY names (every part when unset); exits with the
    usage on an unknown name."""
    names = [n for n, _ in PARTS]
    only = os.environ.get("BENCH_ONLY", "").strip()
    if not only:
        return set(names)
    picked = {n.strip() for n in only.split(",") if n.strip()}
    unknown = picked - set(names)
    if unknown:
        sys.stderr.write("BENCH_ONLY: unknown part(s) %s\n\n%s"
                         % (", ".join(sorted(unknown)), USAGE))
        sys.exit(2)
    if picked & set(NEEDS_CLIENTS):
        picked.add("clients")
    return picked


def main():
    global SRV
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    parts = chosen_parts()
    if not os.environ.get("MAISON_TEST_DATABASE_URL"):
        print("bench.py runs under tests/harness/with_pg.sh (see "
              "run_bench.sh)")
        return 2
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            log("warning: %s not found; its sections will fail" % tool)
    if not os.access(LOADGEN, os.X_OK):
        log("warning: loadgen not found at %s (set LOADGEN)" % LOADGEN)
    if not os.access(SGEMV, os.X_OK):
        log("warning: sgemv_baseline not found at %s (set SGEMV_BASELINE)"
            % SGEMV)
    t_start = time.monotonic()
    prepare_pg()
    # maisond's own default: one HTTP thread per core, 2 to 64.
    default_threads = min(64, max(2, os.cpu_count() or 1))
    SRV = mt.Maisond(name="maisond-bench", threads=int(os.environ.get(
        "BENCH_THREADS", str(default_threads))),
        extra_args=["--dim", str(DIM)] if DIM != 64 else [])
    try:
        try:
            SRV.start(timeout_s=120)
        except mt.StartError as e:
            log("maisond did not start: %s" % e)
            FAILED.append("start maisond")
            bench_pgbench()
            summary()
            return 1
        if parts - set(OWN_SERVER):
            load_catalog()
        steps = {"clients": load_clients, "recs": bench_recommendations,
                 "rules": bench_rules, "healthz": bench_healthz_vs_nginx,
                 "events": bench_events, "pgbench": bench_pgbench,
                 "restart": bench_restart, "stalls": bench_stalls,
                 "scan": bench_scan, "growth": bench_growth,
                 "nodes": bench_nodes}
        for name, _ in PARTS:
            if name in parts:
                steps[name]()
        if not SRV.alive():
            FAILED.append("maisond died")
            log("maisond died; log tail:\n" + SRV.log_tail())
        summary()
        log("total %.0f s" % (time.monotonic() - t_start))
        return 1 if FAILED else 0
    finally:
        SRV.stop()
        if os.environ.get("BENCH_KEEP_LOG"):
            shutil.copy(SRV.log_path, os.environ["BENCH_KEEP_LOG"])
        SRV.cleanup()
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
