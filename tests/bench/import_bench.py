#!/usr/bin/env python3
"""import_bench.py: the bulk import rate next to the live ingestion rate,
in the same run (import_bench.sh puts it under tests/harness/with_pg.sh).

Starts maisond against the temporary cluster, loads BENCH_ITEMS items
with `maisond import --catalog`, then measures, on 127.0.0.1:
  (1) `maisond import --events FILE`: BENCH_IMPORT_EVENTS (200,000) new
      events over BENCH_CLIENTS clients, one NDJSON file; events/s =
      accepted / wall time of the command (reading the file included);
  (2) the live path: wrk with events.lua, 64 connections, batches of 100,
      BENCH_EVENTS_S seconds (as bench.py's (a)); events/s = growth of
      maison_events_accepted_total / duration;
  (3) POST /v1/events:import of another such file by curl (the server
      alone, one request, no CLI), after the live run.
Prints one line per measurement and the ratio import / live. Exit status
0 when every measurement ran and every event was accepted.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import time

import bench
import maison_test as mt

EVENTS = int(os.environ.get("BENCH_IMPORT_EVENTS", "200000"))
TYPES = ["view", "view", "view", "view", "click", "click", "add_to_cart",
         "wishlist"]


def log(msg):
    print(msg)
    sys.stdout.flush()


def write_events(path, run):
    """EVENTS new events (ids unique per run), random clients and items
    like events.lua's, in time order."""
    rnd = random.Random(run)
    now = int(time.time()) - EVENTS
    with open(path, "w") as f:
        for n in range(EVENTS):
            f.write(json.dumps({
                "event_id": "imp%s-%d" % (run, n),
                "client_id": "c%d" % rnd.randrange(bench.CLIENTS),
                "item_id": "i%d" % rnd.randrange(bench.ITEMS),
                "type": rnd.choice(TYPES), "ts": now + n},
                separators=(",", ":")) + "\n")


def cli(srv, *args):
    env = dict(os.environ, MAISON_API_KEY=srv.admin_key)
    t0 = time.monotonic()
    p = subprocess.run([srv.binary, "import", "--url",
                        "http://127.0.0.1:%d" % srv.port] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=3600)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError("maisond import %s: exit %d: %s"
                           % (" ".join(args), p.returncode,
                              p.stderr.decode()[-2000:]))
    return dt, p.stdout.decode().strip()


def import_with_curl(srv, path):
    t0 = time.monotonic()
    p = subprocess.run(["curl", "-sS", "-X", "POST",
                        "-H", "Authorization: Bearer " + srv.admin_key,
                        "-H", "Content-Type: application/x-ndjson",
                        "-H", "Expect:", "--data-binary", "@" + path,
                        "http://127.0.0.1:%d/v1/events:import" % srv.port],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=3600)
    dt = time.monotonic() - t0
    doc = json.loads(p.stdout.decode() or "{}")
    if p.returncode != 0 or doc.get("accepted") != EVENTS:
        raise RuntimeError("curl import: exit %d, %r %s"
                           % (p.returncode, doc, p.stderr.decode()))
    return dt


def main():
    if not os.environ.get("MAISON_TEST_DATABASE_URL"):
        print("import_bench.py runs under tests/harness/with_pg.sh (see "
              "import_bench.sh)")
        return 2
    tmp = bench.TMP
    srv = mt.Maisond(name="maisond-import-bench",
                     threads=int(os.environ.get("BENCH_THREADS", "2")))
    bench.SRV = srv     # bench.wrk sends its admin key
    try:
        srv.start(timeout_s=120)
        items = os.path.join(tmp, "items.ndjson")
        with open(items, "w") as f:
            for n in range(bench.ITEMS):
                f.write(json.dumps(bench.item_doc(n)) + "\n")
        dt, out = cli(srv, "--catalog", items)
        log("catalog: %s" % out)
        run = int(time.time())
        files = [os.path.join(tmp, "events-%d.ndjson" % k)
                 for k in (1, 2, 3)]
        for k, path in enumerate(files):
            write_events(path, "%d%d" % (run, k))
        log("events: 3 files of %d events, %d clients, %d items (%.1f MB "
            "each)" % (EVENTS, bench.CLIENTS, bench.ITEMS,
                       os.path.getsize(files[0]) / 1e6))

        dt, out = cli(srv, "--events", files[0])
        cli_eps = EVENTS / dt
        log("(1) maisond import --events: %d events in %.1f s: %.0f "
            "events/s  [%s]" % (EVENTS, dt, cli_eps, out))
        dt = import_with_curl(srv, files[1])
        curl_eps = EVENTS / dt
        log("(2) curl POST /v1/events:import, one request: %d events in "
            "%.1f s: %.0f events/s" % (EVENTS, dt, curl_eps))

        acc0 = srv.metric("maison_events_accepted_total") or 0
        w = bench.wrk("http://127.0.0.1:%d/v1/events" % srv.port,
                      bench.EVENTS_S,
                      script=os.path.join(bench.HERE, "events.lua"),
                      env={"BENCH_CLIENTS": str(bench.CLIENTS),
                           "BENCH_ITEMS": str(bench.ITEMS),
                           "BENCH_BATCH": "100", "BENCH_RUN": str(run)})
        acc1 = srv.metric("maison_events_accepted_total") or 0
        live_eps = (acc1 - acc0) / bench.EVENTS_S
        log("(3) live POST /v1/events, wrk %d connections, batches of 100, "
            "%d s: %d events accepted: %.0f events/s (non-2xx %d, socket "
            "errors %d)" % (bench.CONNS, bench.EVENTS_S, acc1 - acc0,
                            live_eps, w["non2xx"], w["socket_errors"]))

        dt, out = cli(srv, "--events", files[2])
        after_eps = EVENTS / dt
        log("(4) maisond import --events again, after the live run: %d "
            "events in %.1f s: %.0f events/s" % (EVENTS, dt, after_eps))
        log("import / live: CLI %.2f, curl %.2f, CLI after the live run %.2f"
            % tuple(x / live_eps if live_eps else 0
                    for x in (cli_eps, curl_eps, after_eps)))
        if not srv.alive():
            log("maisond died; log tail:\n" + srv.log_tail())
            return 1
        return 0
    except (RuntimeError, mt.StartError, OSError) as e:
        log("FAILED: %s" % e)
        return 1
    finally:
        srv.stop()
        srv.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
