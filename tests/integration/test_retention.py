#!/usr/bin/env python3
"""test_retention: --retention-days drops old rows of the event log, and
only those every node's checkpoint has passed.

maisond runs with --retention-days 30 and a checkpoint every second (a
retention pass follows every tenth checkpoint, the first one at once).
The test makes rows old by setting their received_at 40 days back in
PostgreSQL, and holds retention back with the checkpoint row of a node
that is not running ("retired"), as a node that stopped would:

- rows older than the setting below the retired node's checkpoint go,
  old rows above it stay, and maison_log_rows_dropped_total counts them;
- once the retired node's row is deleted, the old rows below the live
  node's checkpoint go too; young rows always stay;
- after a kill -9 and a restart, every client's profile and
  recommendations are what they were: the checkpoint holds what the
  dropped rows taught;
- bad values of --retention-days stop the start, naming the option.
Takes about 40 s.
"""

import subprocess
import sys
import time

import maison_test as mt
from maison_test import check, check_eq, test

SRV = mt.Maisond(checkpoint_interval_s=1,
                 extra_args=["--node-id", "live", "--retention-days", "30"])
CLIENTS = ["ret-%02d" % i for i in range(12)]
ITEMS = ["ri%02d" % i for i in range(30)]
STATE = {}


def sql(query):
    return mt.psql(query, conninfo=SRV.database_url).strip()


def post(batch_no, n=120):
    events = [{"event_id": "ret-%d-%d" % (batch_no, i),
               "client_id": CLIENTS[(i * 7 + batch_no) % len(CLIENTS)],
               "item_id": ITEMS[(i * 5 + batch_no) % len(ITEMS)],
               "type": ["view", "add_to_cart", "view", "wishlist"][i % 4]}
              for i in range(n)]
    r = SRV.post("/v1/events", {"events": events})
    check(r.status == 200, "POST /v1/events: %r" % r)
    return r.json()["position"]


def wait_checkpoint_past(position, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if SRV.metric("maison_checkpoint_log_seq") >= position:
            return
        time.sleep(0.2)
    raise mt.TestFailure("no checkpoint reached position %d" % position)


def wait_dropped(at_least, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if SRV.metric("maison_log_rows_dropped_total") >= at_least:
            return
        time.sleep(0.25)
    raise mt.TestFailure("maison_log_rows_dropped_total stayed at %s, "
                         "wanted %d" % (SRV.metric(
                             "maison_log_rows_dropped_total"), at_least))


def snapshot():
    out = {}
    for c in CLIENTS:
        p = SRV.get("/v1/clients/%s/profile" % c)
        r = SRV.get("/v1/clients/%s/recommendations?k=8" % c)
        check(p.status == 200 and r.status == 200,
              "reads of %s: %r %r" % (c, p, r))
        out[c] = (p.json(), r.json())
    return out


def setup():
    SRV.load_catalog([{"item_id": i, "brand": "ret", "category": "bags",
                       "price": 100 + n} for n, i in enumerate(ITEMS)])
    STATE["p1"] = post(1)
    STATE["p2"] = post(2)
    wait_checkpoint_past(STATE["p2"])


@test
def test_old_rows_below_every_checkpoint_go_and_others_stay():
    p1, p2 = STATE["p1"], STATE["p2"]
    # A node that stopped after batch 1: its checkpoint holds retention
    # back to there.
    sql("INSERT INTO checkpoint (node, seq) VALUES ('retired', %d)" % p1)
    sql("UPDATE events SET received_at = now() - interval '40 days' "
        "WHERE seq <= %d" % p2)
    old_below = int(sql("SELECT count(*) FROM events WHERE seq < %d" % p1))
    check(old_below > 100, "rows below the retired checkpoint: %d"
          % old_below)
    young = post(3)
    before = SRV.metric("maison_log_rows_dropped_total")
    wait_dropped(before + old_below)
    check_eq(int(sql("SELECT count(*) FROM events WHERE seq < %d" % p1)), 0,
             "old rows below every checkpoint")
    check_eq(int(sql("SELECT count(*) FROM events WHERE seq >= %d AND "
                     "seq <= %d" % (p1, p2))),
             p2 - p1 + 1, "old rows above the retired node's checkpoint")
    check(int(sql("SELECT count(*) FROM events WHERE seq > %d" % p2)) >= 120,
          "young rows (batch 3, up to %d) kept" % young)
    check_eq(SRV.metric("maison_log_rows_dropped_total") - before,
             old_below, "rows counted as dropped")


@test
def test_without_the_retired_node_the_live_checkpoint_bounds_it():
    p2 = STATE["p2"]
    sql("DELETE FROM checkpoint WHERE node = 'retired'")
    old = int(sql("SELECT count(*) FROM events WHERE seq <= %d AND "
                  "received_at < now() - interval '30 days'" % p2))
    check(old > 100, "old rows left: %d" % old)
    before = SRV.metric("maison_log_rows_dropped_total")
    wait_dropped(before + old)
    check_eq(int(sql("SELECT count(*) FROM events WHERE "
                     "received_at < now() - interval '30 days'")), 0,
             "old rows below the live checkpoint")
    check(int(sql("SELECT count(*) FROM events")) >= 120,
          "the young rows stay")


@test
def test_a_restart_after_retention_gives_the_same_answers():
    before = snapshot()
    SRV.kill9()
    SRV.start()
    after = snapshot()
    for c in CLIENTS:
        diff = mt.json_diff(before[c][0], after[c][0], 1e-4)
        check(diff is None, "profile of %s after restart: %s" % (c, diff))
        diff = mt.ranking_diff(before[c][1], after[c][1], 1e-4,
                               whole_items=True)
        check(diff is None, "recommendations of %s: %s" % (c, diff))


@test
def test_bad_retention_values_stop_the_start():
    for bad in ("-1", "abc", "36501", "1.5", ""):
        proc = subprocess.run([mt.maisond_path(), "--retention-days", bad,
                               "--listen", "127.0.0.1:1"],
                              stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=30)
        check(proc.returncode == 2, "--retention-days %r: exit %d"
              % (bad, proc.returncode))
        check(b"retention-days" in proc.stderr,
              "the message names the option: %r" % proc.stderr[:200])


if __name__ == "__main__":
    mt.require_environment()
    sys.exit(mt.run_with_server(SRV, setup=setup))
