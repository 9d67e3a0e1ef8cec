#!/usr/bin/env python3
"""test_rate_limit: per-key rate limits (token buckets) over HTTP.

A key with rate_limit {requests_per_s: 5, burst: 5} gets its burst, then
429 rate_limited with a whole-second Retry-After and the JSON error body;
another key is not slowed by it; maison_rate_limited_total{key_id} counts
each 429; the key recovers after the refill; a reload of the keys (after
each checkpoint) does not refill a bucket; a revoked key's series goes
away. A second daemon, started with MAISON_RATE_LIMIT, limits the keys
without a rate_limit of their own, and a key's own setting wins over it.
"""

import os
import subprocess
import sys
import time
import uuid

import maison_test as mt
from maison_test import check, check_eq, check_error, test

SRV = None       # no default limit
LIMITED = None   # MAISON_RATE_LIMIT=20:10
DEFAULT_RATE, DEFAULT_BURST = 20, 10


def new_key(srv, roles, rate=None, name="rate-test"):
    body = {"name": name, "roles": roles}
    if rate is not None:
        body["rate_limit"] = {"requests_per_s": rate[0], "burst": rate[1]}
    r = call_patiently(lambda: srv.post("/v1/keys", body))
    check_eq(r.status, 201, "POST /v1/keys %r: %r" % (body, r))
    return r.json()


def call_patiently(fn):
    """fn() again after its Retry-After while it answers 429 (the admin key
    of the limited daemon is limited too)."""
    for _ in range(20):
        r = fn()
        if r.status != 429:
            return r
        time.sleep(int(r.header("Retry-After")))
    raise mt.TestFailure("still 429 after 20 tries: %r" % r)


def probe(srv, token):
    """One cheap authenticated request (404: no such item)."""
    return srv.get("/v1/catalog/items/none", key=token)


def until_429(srv, token, most=200):
    """Requests as fast as they go until the first 429; returns (the
    answers before it, the 429, the seconds it took)."""
    t0 = time.monotonic()
    passed = 0
    for _ in range(most):
        r = probe(srv, token)
        if r.status == 429:
            return passed, r, time.monotonic() - t0
        check_eq(r.status, 404, "a request under the limit")
        passed += 1
    raise mt.TestFailure("no 429 after %d requests" % most)


def check_429(r, key_id):
    err = check_error(r, 429, "rate_limited", key_id)
    retry = r.header("Retry-After")
    check(retry is not None and retry.isdigit() and int(retry) >= 1,
          "Retry-After must be whole seconds >= 1, got %r" % retry)
    check("WWW-Authenticate" not in r.headers, "429 is not a 401")
    return int(retry), err


def rate_limited_total(srv, key_id):
    metrics = mt.parse_metrics(call_patiently(lambda: srv.get("/metrics")).text)
    return metrics.get(("maison_rate_limited_total",
                        frozenset({("key_id", key_id)})))


def check_burst(passed, seconds, rate, burst, what):
    """passed requests before the first 429 in seconds: the burst, plus
    what the bucket earned meanwhile."""
    check(burst <= passed <= burst + rate * seconds + 1,
          "%s: %d requests passed in %.3f s before the 429 (burst %d, "
          "%g/s)" % (what, passed, seconds, burst, rate))


@test
def a_key_over_its_burst_gets_429_with_retry_after():
    key = new_key(SRV, ["merchandising"], rate=(5, 5))
    passed, r, seconds = until_429(SRV, key["key"])
    check_burst(passed, seconds, 5, 5, "5/s burst 5")
    retry, err = check_429(r, key["key_id"])
    # 5 a second: a token is at most 200 ms away.
    check_eq(retry, 1, "Retry-After at 5/s")
    check("5 requests/s" in err["message"] and "burst 5" in err["message"],
          "the message names the limit: %r" % err["message"])
    check(key["key"].split("_")[2] not in r.text, "no secret in the body")


@test
def another_key_is_not_slowed_by_a_limited_one():
    limited = new_key(SRV, ["merchandising"], rate=(5, 5))
    free = new_key(SRV, ["merchandising"])
    until_429(SRV, limited["key"])
    for i in range(40):
        r = probe(SRV, free["key"])
        check_eq(r.status, 404, "request %d of the other key" % i)
    check_eq(probe(SRV, limited["key"]).status, 429,
             "the limited key is still limited")


@test
def the_metric_counts_each_429_per_key():
    key = new_key(SRV, ["merchandising", "ops"], rate=(5, 5))
    other = new_key(SRV, ["merchandising"])
    check_eq(rate_limited_total(SRV, key["key_id"]), 0.0, "before any 429")
    refused = 0
    for _ in range(30):
        refused += probe(SRV, key["key"]).status == 429
    check(refused >= 10, "most of 30 quick requests refused: %d" % refused)
    probe(SRV, other["key"])
    check_eq(rate_limited_total(SRV, key["key_id"]), float(refused),
             "maison_rate_limited_total of the limited key")
    check_eq(rate_limited_total(SRV, other["key_id"]), 0.0,
             "maison_rate_limited_total of the other key")
    # The key's own /metrics request is limited like any other.
    time.sleep(1.1)
    r = SRV.get("/metrics", key=key["key"])
    check_eq(r.status, 200, "GET /metrics with the refilled key")


@test
def a_key_recovers_after_the_refill():
    key = new_key(SRV, ["merchandising"], rate=(5, 5))
    _, r, _ = until_429(SRV, key["key"])
    retry, _ = check_429(r, key["key_id"])
    time.sleep(retry)
    check_eq(probe(SRV, key["key"]).status, 404, "after Retry-After")
    # A whole burst again once the bucket is full (5 tokens: 1 s).
    time.sleep(1.2)
    passed, r, seconds = until_429(SRV, key["key"])
    check_burst(passed, seconds, 5, 5, "after the refill")


def retry_after_past_one_token(rate, idle_s=0.0):
    """A key of rate and burst 1 takes its token, waits idle_s, and asks
    again: the Retry-After of the 429."""
    key = new_key(SRV, ["merchandising"], rate=(rate, 1))
    check_eq(probe(SRV, key["key"]).status, 404, "the one token")
    time.sleep(idle_s)
    retry, _ = check_429(probe(SRV, key["key"]), key["key_id"])
    return retry


@test
def retry_after_is_the_wait_in_whole_seconds():
    retry = retry_after_past_one_token(0.1)
    # One token every 10 s, the last one just taken.
    check(9 <= retry <= 10, "Retry-After %d, expected 10" % retry)


@test
def a_reload_of_the_keys_does_not_refill_a_bucket():
    # Checkpoints, and so key reloads, run every second here.
    retry = retry_after_past_one_token(0.05, idle_s=2.5)
    check(16 <= retry <= 18, "Retry-After %d after 2.5 s of 20" % retry)


@test
def a_revoked_key_is_401_and_leaves_the_metrics():
    key = new_key(SRV, ["merchandising"], rate=(5, 5))
    until_429(SRV, key["key"])
    check(rate_limited_total(SRV, key["key_id"]) >= 1, "counted")
    r = SRV.delete("/v1/keys/" + key["key_id"])
    check_eq(r.status, 204, "revoke: %r" % r)
    r = probe(SRV, key["key"])
    check_error(r, 401, "unauthorized")
    check_eq(rate_limited_total(SRV, key["key_id"]), None,
             "a revoked key's series")


@test
def open_routes_are_not_limited():
    for i in range(30):
        check_eq(mt.request(SRV.port, "GET", "/healthz").status, 200,
                 "healthz %d" % i)


@test
def the_server_default_limits_keys_without_their_own():
    key = new_key(LIMITED, ["merchandising"])
    passed, r, seconds = until_429(LIMITED, key["key"])
    check_burst(passed, seconds, DEFAULT_RATE, DEFAULT_BURST,
                "the default %d:%d" % (DEFAULT_RATE, DEFAULT_BURST))
    _, err = check_429(r, key["key_id"])
    check("%d requests/s" % DEFAULT_RATE in err["message"],
          "the message names the default: %r" % err["message"])
    check_eq(rate_limited_total(LIMITED, key["key_id"]), 1.0,
             "the default's 429 is counted")


@test
def a_keys_own_limit_wins_over_the_default():
    generous = new_key(LIMITED, ["merchandising"], rate=(1000, 1000))
    for i in range(3 * DEFAULT_BURST):
        check_eq(probe(LIMITED, generous["key"]).status, 404,
                 "request %d of a key with its own 1000/s" % i)
    strict = new_key(LIMITED, ["merchandising"], rate=(5, 2))
    passed, r, seconds = until_429(LIMITED, strict["key"])
    check_burst(passed, seconds, 5, 2, "own 5:2 under a default of 20:10")


@test
def bad_rate_limit_values_are_refused_at_start():
    for value in ["abc", "5:0", "5:x", "-1", "0.0001", "5:2000000", "5:"]:
        p = subprocess.run([SRV.binary, "--rate-limit", value],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=30)
        check_eq(p.returncode, 2, "--rate-limit %s: exit status" % value)
        check("--rate-limit" in p.stderr.decode(),
              "--rate-limit %s: the message names the flag: %r"
              % (value, p.stderr))
    p = subprocess.run([SRV.binary, "--help"], stdout=subprocess.PIPE,
                       timeout=30)
    check(b"--rate-limit" in p.stdout and b"MAISON_RATE_LIMIT" in p.stdout,
          "--help documents --rate-limit")


@test
def a_key_with_a_rate_out_of_range_is_refused():
    for rate in [{"requests_per_s": 0, "burst": 1},
                 {"requests_per_s": 5, "burst": 0},
                 {"requests_per_s": "5", "burst": 1}]:
        r = SRV.post("/v1/keys", {"roles": ["ops"], "rate_limit": rate})
        check_error(r, 400, "invalid_input", "rate_limit")


def main():
    global SRV, LIMITED
    mt.require_environment()
    # Checkpoints every second: keys are reloaded after each.
    SRV = mt.Maisond(name="maisond-rate", checkpoint_interval_s=1)
    LIMITED = mt.Maisond(
        name="maisond-rate-default",
        database_url=mt.create_database("rate_default_%s"
                                        % uuid.uuid4().hex[:8]))
    try:
        try:
            SRV.start()
            env = dict(os.environ,
                       MAISON_RATE_LIMIT="%d:%d" % (DEFAULT_RATE,
                                                    DEFAULT_BURST))
            LIMITED.start(env=env)
        except mt.StartError as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1
        return mt.run_tests()
    finally:
        for srv in (SRV, LIMITED):
            srv.stop()
            srv.cleanup()


if __name__ == "__main__":
    sys.exit(main())
