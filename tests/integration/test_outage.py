#!/usr/bin/env python3
"""test_outage: PostgreSQL goes away and comes back.

While the database is down, writes fail fast with 503 database_unavailable
and nothing is accepted; reads are served from memory; /readyz says 503 and
why. Once PostgreSQL is back, the server recovers by itself within a bounded
time, without a restart.
"""

import re
import sys
import time
import uuid

import maison_test as mt
from maison_test import check, check_eq, check_error, test

SRV = None
RECOVERY_S = 30         # the server must be writable again within this
DOWN_ANSWER_S = 15      # a write while the database is down answers within
STATE = {"down": False}
OUTAGE_EVENTS = []


def uid(p):
    return "%s-%s" % (p, uuid.uuid4().hex[:10])


def ev(client, item, type_="view"):
    return {"event_id": uid("ev"), "client_id": client, "item_id": item,
            "type": type_, "ts": int(time.time())}


def items():
    return [{"item_id": "o%02d" % i, "brand": "outage",
             "category": ["bags", "shoes", "jewelry"][i % 3],
             "price": 100.0 + i, "currency": "EUR", "available": True,
             "stock": 3,
             "attributes": {}, "tags": []} for i in range(30)]


CLIENT = "outage-client"


@test
def before_the_outage_everything_works():
    r = SRV.post("/v1/events", {"events": [ev(CLIENT, "o01"),
                                           ev(CLIENT, "o02", "click")]})
    check_eq(r.status, 200, "POST events (%r)" % r)
    check_eq(r.json()["accepted"], 2, "accepted")
    check_eq(SRV.get("/readyz").status, 200, "/readyz")


@test
def events_are_refused_with_503_while_postgres_is_down():
    mt.pg_stop()
    STATE["down"] = True
    accepted0 = SRV.metric("maison_events_accepted_total")
    for n in range(3):
        batch = [ev(CLIENT, "o03"), ev(uid("new"), "o04")]
        OUTAGE_EVENTS.extend(batch)
        t0 = time.monotonic()
        r = SRV.post("/v1/events", {"events": batch},
                     timeout=DOWN_ANSWER_S + 30)
        took = time.monotonic() - t0
        check_error(r, 503, "database_unavailable")
        check(took <= DOWN_ANSWER_S, "503 took %.1f s (bound %d s)"
              % (took, DOWN_ANSWER_S))
    check_eq(SRV.metric("maison_events_accepted_total"), accepted0,
             "maison_events_accepted_total moved during the outage")
    check((SRV.metric("maison_db_errors_total") or 0) > 0,
          "maison_db_errors_total still 0 during an outage")


@test
def readyz_is_503_with_a_reason_while_postgres_is_down():
    check(STATE["down"], "database not stopped")
    deadline = time.monotonic() + 10
    while True:
        r = SRV.get("/readyz")
        if r.status == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # The contract's 503 code is database_unavailable; "not_ready" is
    # tolerated for /readyz as long as the reason names the database.
    check(r.status == 503, "/readyz while down: %r" % r)
    err = r.json().get("error", {})
    check(err.get("code") in ("database_unavailable", "not_ready"),
          "/readyz error.code: %r" % err.get("code"))
    check(re.search(r"database|postgres", err.get("message", ""), re.I),
          "/readyz reason must name the database: %r" % err.get("message"))
    check_eq(SRV.get("/healthz").status, 200, "/healthz (liveness) "
             "must stay 200")


@test
def recommendations_and_profiles_are_served_from_memory_while_down():
    check(STATE["down"], "database not stopped")
    r = SRV.get("/v1/clients/%s/recommendations?k=5" % CLIENT)
    check_eq(r.status, 200, "recommendations (%r)" % r)
    doc = r.json()
    check_eq(doc.get("personalized"), True, "personalized")
    check(doc.get("items"), "no items")
    r = SRV.get("/v1/clients/%s/recommendations?k=5" % uid("unknown"))
    check_eq(r.status, 200, "recommendations for an unknown client (%r)" % r)
    r = SRV.get("/v1/clients/%s/profile" % CLIENT)
    check_eq(r.status, 200, "profile (%r)" % r)


@test
def catalog_and_rule_writes_are_503_while_down():
    check(STATE["down"], "database not stopped")
    check_error(SRV.put("/v1/catalog/items",
                        {"items": [dict(items()[0], item_id="o-down")]}),
                503, "database_unavailable")
    check_error(SRV.put("/v1/brands/outage/rules", {"max_per_category": 2}),
                503, "database_unavailable")
    check_error(SRV.get("/v1/catalog/items/o-down"), 404, "not_found")


@test
def server_recovers_by_itself_when_postgres_is_back():
    mt.pg_start()
    STATE["down"] = False
    deadline = time.monotonic() + RECOVERY_S
    last = None
    while time.monotonic() < deadline:
        try:
            last = SRV.post("/v1/events",
                            {"events": [ev(CLIENT, "o05")]}, timeout=10)
            if last.status == 200:
                break
        except OSError as e:
            last = e
        time.sleep(0.25)
    check(getattr(last, "status", None) == 200,
          "events still refused %d s after PostgreSQL came back: %r"
          % (RECOVERY_S, last))
    while time.monotonic() < deadline:
        r = SRV.get("/readyz")
        if r.status == 200:
            break
        time.sleep(0.25)
    check_eq(SRV.get("/readyz").status, 200,
             "/readyz %d s after PostgreSQL came back" % RECOVERY_S)


@test
def events_refused_during_the_outage_were_not_stored():
    check(not STATE["down"], "database still down")
    r = SRV.post("/v1/events", {"events": OUTAGE_EVENTS})
    check_eq(r.status, 200, "POST (%r)" % r)
    doc = r.json()
    check_eq((doc["accepted"], doc["duplicates"]), (len(OUTAGE_EVENTS), 0),
             "re-posting the refused events: accepted/duplicates")


@test
def writes_work_again_after_recovery():
    r = SRV.put("/v1/catalog/items",
                {"items": [dict(items()[0], item_id="o-after")]})
    check_eq(r.status, 200, "PUT catalog (%r)" % r)
    check_eq(SRV.get("/v1/catalog/items/o-after").status, 200, "GET item")
    check_eq(SRV.put("/v1/brands/outage/rules",
                     {"max_per_category": 2}).status, 200, "PUT rules")


@test
def a_second_outage_is_survived_too():
    mt.pg_stop()
    STATE["down"] = True
    check_error(SRV.post("/v1/events", {"events": [ev(CLIENT, "o06")]},
                         timeout=DOWN_ANSWER_S + 30),
                503, "database_unavailable")
    mt.pg_start()
    STATE["down"] = False
    deadline = time.monotonic() + RECOVERY_S
    status = None
    while time.monotonic() < deadline:
        status = SRV.post("/v1/events", {"events": [ev(CLIENT, "o07")]},
                          timeout=10).status
        if status == 200:
            break
        time.sleep(0.25)
    check_eq(status, 200, "events after the second outage")


@test
def server_exits_zero_on_sigterm_after_outages():
    check_eq(SRV.stop(), 0, "exit status")


def after_each(name):
    if SRV.proc is not None and SRV.proc.returncode is None and \
            not SRV.alive():
        raise mt.TestFailure("maisond died; log tail:\n%s" % SRV.log_tail())


def main():
    global SRV
    mt.require_environment()
    SRV = mt.Maisond(checkpoint_interval_s=1, name="maisond-outage")
    try:
        try:
            SRV.start()
            r = SRV.put("/v1/catalog/items", {"items": items()})
            if r.status != 200:
                raise mt.StartError("catalog: %r" % r)
        except mt.StartError as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1
        return mt.run_tests(after_each=after_each)
    finally:
        if STATE["down"]:
            try:
                mt.pg_start()
            except mt.TestFailure:
                pass
        SRV.cleanup()


if __name__ == "__main__":
    sys.exit(main())
