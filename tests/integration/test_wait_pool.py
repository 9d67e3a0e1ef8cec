#!/usr/bin/env python3
"""test_wait_pool: a request that waits never holds up the others.

A write waits for its commit and learning, a read with after= for its
position. maisond runs such requests on its wait pool with their connection
suspended (server/wait_pool.c), so the HTTP threads keep answering the
other connections. The server here has one HTTP thread: before the pool,
every connection waited behind the one that waits.
"""

import sys
import threading
import time
import uuid

import maison_test as mt
from maison_test import check, check_eq, check_error, test

SRV = mt.Maisond(threads=1)
FAR = 10 ** 15          # a log position no test reaches: waited for 2 s


def uid(p):
    return "%s-%s" % (p, uuid.uuid4().hex[:10])


def setup():
    SRV.load_catalog([{"item_id": "w%02d" % i, "brand": "wait",
                       "category": "bags", "price": 100.0 + i,
                       "currency": "EUR", "available": True,
                       "attributes": {}, "tags": []} for i in range(20)])
    r = SRV.post("/v1/events", {"events": [
        {"event_id": uid("ev"), "client_id": "w-client", "item_id": "w01",
         "type": "view", "ts": int(time.time())}]})
    check_eq(r.status, 200, "the first event")


class Waiting(threading.Thread):
    """One request in its own thread and connection; .resp once answered,
    .done_at its monotonic time."""

    def __init__(self, method, path, body=None):
        super().__init__(daemon=True)
        self.args = (method, path, body)
        self.resp = None
        self.error = None
        self.done_at = None
        self.start()

    def run(self):
        try:
            self.resp = SRV.req(*self.args, timeout=30)
        except Exception as e:          # reported by the test
            self.error = e
        self.done_at = time.monotonic()


@test
def a_read_is_answered_while_another_waits_for_its_position():
    waiting = Waiting("GET", "/v1/clients/w-client/recommendations?k=3"
                      "&after=%d" % FAR)
    time.sleep(0.3)             # the wait has begun (it lasts 2 s)
    check(waiting.done_at is None, "the after= read waits")
    for _ in range(3):
        r = SRV.get("/v1/clients/w-client/recommendations?k=3")
        check_eq(r.status, 200, "a read beside the wait")
        r = SRV.get("/healthz")
        check_eq(r.status, 200, "/healthz beside the wait")
    answered_at = time.monotonic()
    waiting.join(30)
    check(waiting.error is None, "the waiting read failed: %r"
          % (waiting.error,))
    check_error(waiting.resp, 503, "not_caught_up")
    check(answered_at < waiting.done_at,
          "the other reads were answered before the waiting one")


@test
def writes_are_answered_while_a_read_waits():
    waiting = Waiting("GET", "/v1/clients/w-client/profile?after=%d" % FAR)
    time.sleep(0.3)
    check(waiting.done_at is None, "the after= profile waits")
    r = SRV.post("/v1/events", {"events": [
        {"event_id": uid("ev"), "client_id": "w-other", "item_id": "w02",
         "type": "add_to_cart", "ts": int(time.time())}]})
    check_eq(r.status, 200, "a write beside the wait")
    check_eq(r.json()["accepted"], 1, "accepted")
    # The write's own position is applied, so a read after it is served.
    r = SRV.get("/v1/clients/w-other/profile?after=%d" % r.json()["position"])
    check_eq(r.status, 200, "the write read back with its position")
    answered_at = time.monotonic()
    waiting.join(30)
    check_error(waiting.resp, 503, "not_caught_up")
    check(answered_at < waiting.done_at,
          "the write and its read back came before the waiting read")


@test
def a_stop_answers_the_requests_that_wait_and_exits_cleanly():
    waiting = [Waiting("GET", "/v1/clients/w-client/recommendations?k=3"
                       "&after=%d" % FAR) for _ in range(4)]
    time.sleep(0.3)
    check(all(w.done_at is None for w in waiting), "the reads wait")
    rc = SRV.stop()
    check_eq(rc, 0, "exit status after SIGTERM with waiting requests")
    for w in waiting:
        w.join(30)
        check(w.error is None, "a waiting read got no answer: %r"
              % (w.error,))
        check_error(w.resp, 503, "not_caught_up")
    SRV.start()                 # for run_with_server's own stop


if __name__ == "__main__":
    mt.require_environment()
    sys.exit(mt.run_with_server(SRV, setup=setup))
