#!/usr/bin/env python3
"""test_brand_isolation: a brand that keeps its clients' signals to itself.

Two brands: "abrand" says "signals": {"share_with_other_brands": false},
"bbrand" shares (the default). A seeded generator (seed printed;
MAISON_TEST_SEED overrides it) makes 200 clients with random event streams
(views, clicks, wishlist, cart, purchases, returns, dismissals, and store
visits, appointments and private events naming abrand, bbrand or no
brand): some only at abrand, some only at bbrand, some at both, some with
none. Each client has a reference client that received only its events
that are not abrand's: its bbrand events and its visits that name no
brand (the same times, the same order). Then, for every client, with a
key scoped to bbrand:
  - recommendations with brand=bbrand,
  - recommendations without a brand,
  - the profile,
must be the reference's bodies exactly (client id aside: same items, same
order, same scores, same reasons, same "personalized" flag, the same 404
when neither has anything bbrand may see), and no body may name anything
of abrand (an item id, its category or its brand). The same holds after a
restart (client records with private memories read back, the log replayed
after them) and after a refused checkpoint (the whole log replayed). Sanity checks show that abrand's memory is still used for
abrand, and that a key of every brand still sees everything.

Also: the flag is read through the rules reader (a bad value is 400 and
GET echoes it), and an event's "brand" is checked against the key's scope
and the item's brand.
"""

import json
import os
import random
import sys
import time

import maison_test as mt
from maison_test import check, check_eq, check_error, test

DEFAULT_SEED = 20261201
N_CLIENTS = 200
N_ITEMS_PER_BRAND = 60
DAY = 86400
# Substrings that name abrand: its brand, its items' ids, its categories.
A_MARKS = ("abrand", "aaitem", "acat")

SRV = None
STATE = {}


def item(item_id, brand, category, price):
    return {"item_id": item_id, "brand": brand, "category": category,
            "price": price, "currency": "EUR", "available": True,
            "stock": 50, "launch_at": "2020-01-01T00:00:00Z",
            "end_at": "2099-01-01T00:00:00Z", "tags": [category, brand]}


def catalog(rng):
    items = []
    for n in range(N_ITEMS_PER_BRAND):
        items.append(item("aaitem-%d" % n, "abrand", "acat-%d" % (n % 4),
                          float(100 + 10 * (n % 7))))
        items.append(item("bbitem-%d" % n, "bbrand", "bcat-%d" % (n % 4),
                          float(100 + 10 * (n % 7))))
    rng.shuffle(items)
    return items


def event_stream(rng, cid, houses, now):
    """A random stream of cid's events at the houses ("a", "b"), oldest
    first; visits may name a house or none."""
    if not houses:
        return []
    item_types = ["view"] * 6 + ["click"] * 2 + [
        "wishlist", "add_to_cart", "remove_from_cart", "purchase", "return",
        "dismiss"]
    visit_types = ["store_visit", "appointment", "event_attendance"]
    n = rng.randint(1, 45)
    ts = now - 9 * DAY + rng.randint(0, DAY)
    events = []
    for k in range(n):
        ts += rng.randint(20, 4000)
        house = rng.choice(houses)
        ev = {"client_id": cid, "ts": ts}
        if rng.random() < 0.12:
            ev["type"] = rng.choice(visit_types)
            brand = rng.choice([house + "brand", None])
            if brand:
                ev["brand"] = brand
        else:
            ev["type"] = rng.choice(item_types)
            # A small pool per client, so the stream repeats items.
            ev["item_id"] = "%s%sitem-%d" % (house, house,
                                              rng.randint(0, 14) * 4 % 60)
            if rng.random() < 0.2:
                ev["brand"] = house + "brand"
            if ev["type"] in ("add_to_cart", "remove_from_cart"):
                ev["quantity"] = rng.randint(1, 3)
        events.append(ev)
    return events


def of_abrand(ev):
    return ev.get("brand") == "abrand" or \
        ev.get("item_id", "").startswith("aaitem")


def post_events(events, prefix):
    for start in range(0, len(events), 500):
        batch = []
        for n, ev in enumerate(events[start:start + 500]):
            one = dict(ev)
            one["event_id"] = "%s-%d" % (prefix, start + n)
            batch.append(one)
        r = SRV.post("/v1/events", {"events": batch})
        check_eq(r.status, 200, "POST /v1/events: %r" % r)
        doc = r.json()
        check_eq(doc["rejected"], [], "rejected events")
        check_eq(doc["accepted"], len(batch), "accepted events")


def key(roles, brands):
    r = SRV.post("/v1/keys", {"name": "isolation", "roles": roles,
                              "brands": brands})
    check_eq(r.status, 201, "POST /v1/keys: %r" % r)
    return r.json()["key"]


def setup():
    seed = int(os.environ.get("MAISON_TEST_SEED", DEFAULT_SEED))
    print("seed %d" % seed)
    rng = random.Random(seed)
    check_eq(SRV.put("/v1/catalog/items", {"items": catalog(rng)}).status,
             200, "catalog")
    check_eq(SRV.put("/v1/brands/abrand/rules", {
        "signals": {"share_with_other_brands": False},
        "exclude_purchased": {"enabled": True}}).status, 200, "abrand rules")
    check_eq(SRV.put("/v1/brands/bbrand/rules", {
        "exclude_purchased": {"enabled": True},
        "max_per_category": 4}).status, 200, "bbrand rules")
    now = int(time.time())
    kinds = [["a"], ["b"], ["a", "b"], []]
    clients = []
    real, ref = [], []
    for c in range(N_CLIENTS):
        cid = "client-%03d" % c
        houses = kinds[c % 4]
        stream = event_stream(rng, cid, houses, now)
        clients.append((cid, houses, stream))
        real.extend(stream)
        for ev in stream:
            if not of_abrand(ev):
                ref.append(dict(ev, client_id="ref-" + cid))
    # Interleave clients as live traffic would; each client's order holds.
    post_events(real, "e")
    post_events(ref, "r")
    STATE["clients"] = clients
    STATE["b_key"] = key(["clienteling"], ["bbrand"])
    STATE["a_key"] = key(["clienteling"], ["abrand"])


def without_client_id(r):
    """(status, body without its client id) of a response."""
    try:
        doc = r.json()
    except ValueError:
        return r.status, r.text
    if isinstance(doc, dict):
        doc.pop("client_id", None)
        if "error" in doc:  # a 404 names the client
            doc["error"].pop("message", None)
    return r.status, doc


def b_paths(cid):
    base = "/v1/clients/%s" % cid
    return [base + "/recommendations?k=12&brand=bbrand",
            base + "/recommendations?k=12",
            base + "/profile"]


def check_no_abrand(text, what):
    for mark in A_MARKS:
        check(mark not in text, "%s names %r: %s" % (what, mark, text[:600]))


def same_second_pair(path, cid):
    """The responses for cid and its reference to path with bbrand's key,
    both asked within one second (scores fade with the request time). The
    server reads time(2), a coarse clock that may lag a few milliseconds
    behind ours: the pair keeps clear of the edges of a second."""
    for _ in range(5):
        frac = time.time() % 1.0
        if frac < 0.05 or frac > 0.8:
            time.sleep(1.07 - frac if frac > 0.8 else 0.05)
        t0 = int(time.time())
        real = SRV.get(path % cid, key=STATE["b_key"])
        ref = SRV.get(path % ("ref-" + cid), key=STATE["b_key"])
        if int(time.time()) == t0:
            return real, ref
    raise AssertionError("no two requests within one second")


def check_isolation(label):
    compared = personalized = found = 0
    for cid, houses, stream in STATE["clients"]:
        for path in b_paths("%s"):
            real, ref = same_second_pair(path, cid)
            what = "%s %s %s (houses %s)" % (label, path % cid, real.status,
                                           houses)
            check_no_abrand(real.text, what)
            got, want = without_client_id(real), without_client_id(ref)
            check(got == want, "%s differs from its reference:\n  %s\n  %s"
                  % (what, json.dumps(got)[:900], json.dumps(want)[:900]))
            compared += 1
            if real.status == 200 and "profile" not in path:
                personalized += bool(real.json()["personalized"])
            found += real.status == 200
    print("%s: %d bodies compared (%d found, %d personalized)"
          % (label, compared, found, personalized))
    check(personalized > 20, "some bbrand lists are personalized")


@test
def bbrand_sees_of_each_client_what_a_client_who_never_met_abrand_sees():
    check_isolation("live")


@test
def abrand_still_learns_from_its_own_events():
    personal = 0
    for cid, houses, stream in STATE["clients"]:
        if "a" not in houses:
            continue
        r = SRV.get("/v1/clients/%s/recommendations?k=5&brand=abrand" % cid,
                    key=STATE["a_key"])
        check_eq(r.status, 200, "abrand recommendations")
        check("bbitem" not in r.text and "bbrand" not in r.text,
              "abrand's list names bbrand: %s" % r.text)
        personal += bool(r.json()["personalized"])
        # An abrand-only client is a stranger to bbrand.
        if houses == ["a"]:
            r = SRV.get("/v1/clients/%s/recommendations?k=5&brand=bbrand"
                        % cid, key=STATE["b_key"])
            check_eq(r.json()["personalized"], False,
                     "bbrand list of an abrand-only client")
    check(personal > 20, "abrand lists are personalized (%d)" % personal)


@test
def a_key_of_every_brand_still_sees_both_houses():
    seen_a = seen_b = 0
    for cid, houses, stream in STATE["clients"]:
        if houses != ["a", "b"]:
            continue
        r = SRV.get("/v1/clients/%s/profile" % cid)
        check_eq(r.status, 200, "profile with the admin key")
        doc = r.json()
        check("events_logged" in doc, "events_logged for every brand")
        check_eq(doc["events_logged"], len(stream), "events logged")
        seen_a += "aaitem" in r.text
        seen_b += "bbitem" in r.text
    check(seen_a > 20 and seen_b > 20,
          "the admin profile shows both houses (%d, %d)" % (seen_a, seen_b))


def abrand_lists():
    """abrand's lists of the first 40 clients: {client: [item ids]}, or
    their status when not 200, and the personalized flag."""
    lists = {}
    for cid, houses, stream in STATE["clients"][:40]:
        r = SRV.get("/v1/clients/%s/recommendations?k=8&brand=abrand" % cid,
                    key=STATE["a_key"])
        doc = r.json()
        lists[cid] = (r.status, doc.get("personalized"),
                      [i["item_id"] for i in doc.get("items", [])])
    return lists


@test
def after_a_restart_the_houses_are_still_apart():
    before = abrand_lists()
    time.sleep(2.5)  # a checkpoint (every second) holds the records
    SRV.restart()
    # Scores fade with the request time: the items and the flag must hold.
    check_eq(abrand_lists(), before, "abrand's lists after the restart")
    check_isolation("restarted")


@test
def a_refused_checkpoint_rebuilds_the_private_memories_from_the_log():
    # Client records of an older format are refused like corrupt ones (a
    # flipped version byte fails the checksum first): the checkpoint is
    # discarded and the whole log replayed, which must rebuild each
    # client's private memory of abrand from the items' and visits' brands.
    before = abrand_lists()
    check_eq(SRV.stop(), 0, "exit status (final checkpoint)")
    mt.psql("UPDATE client_state SET state = set_byte(state, 4, 1)",
            conninfo=SRV.database_url)
    SRV.start()
    log = SRV.log_tail(400).split("--- start")[-1]
    check("checkpoint refused" in log, "no refused checkpoint:\n%s" % log)
    check_eq(abrand_lists(), before, "abrand's lists after the rebuild")
    check_isolation("rebuilt")


@test
def the_flag_is_read_checked_and_echoed():
    r = SRV.get("/v1/brands/abrand/rules")
    check_eq(r.status, 200, "GET rules")
    check_eq(r.json()["rules"]["signals"], {"share_with_other_brands": False},
             "signals echoed: %s" % r.text)
    for bad, field in ([{"signals": {"share_with_other_brands": "no"}},
                        "signals.share_with_other_brands"],
                       [{"signals": {"share": False}}, "signals.share"],
                       [{"signals": False}, "signals"]):
        check_error(SRV.put("/v1/brands/cbrand/rules", bad), 400,
                    "invalid_input")
    check_eq(SRV.get("/v1/brands/cbrand/rules").status, 404,
             "nothing applied")


@test
def an_events_brand_is_checked_against_the_scope_and_the_item():
    ingest_a = key(["ingest"], ["abrand"])
    r = SRV.post("/v1/events", {"events": [
        {"event_id": "scope-1", "client_id": "visitor", "type": "store_visit",
         "brand": "bbrand"},
        {"event_id": "scope-2", "client_id": "visitor", "type": "store_visit",
         "brand": "abrand"},
        {"event_id": "scope-3", "client_id": "visitor", "type": "view",
         "item_id": "aaitem-1", "brand": "bbrand"},
        {"event_id": "scope-4", "client_id": "visitor", "type": "view",
         "brand": "x" * 200, "item_id": "aaitem-1"}]}, key=ingest_a)
    check_eq(r.status, 200, "batch")
    doc = r.json()
    check_eq(doc["accepted"], 1, "only the visit at abrand: %s" % r.text)
    codes = {e["index"]: e["error"]["code"] for e in doc["rejected"]}
    check_eq(codes, {0: "forbidden", 2: "forbidden", 3: "invalid_input"},
             "rejections: %s" % r.text)
    # A key of every brand: the brand must still be the item's.
    r = SRV.post("/v1/events", {"events": [
        {"event_id": "scope-5", "client_id": "visitor", "type": "view",
         "item_id": "aaitem-1", "brand": "bbrand"}]})
    check_eq(r.status, 200, "batch")
    check_eq([e["error"]["code"] for e in r.json()["rejected"]],
             ["invalid_input"], "a brand that is not the item's: %s" % r.text)
    # The visit at abrand is abrand's: bbrand's key does not see it.
    r = SRV.get("/v1/clients/visitor/profile", key=STATE["b_key"])
    check_eq(r.status, 404, "bbrand's key knows nothing of the visitor")
    r = SRV.get("/v1/clients/visitor/profile", key=STATE["a_key"])
    check_eq(r.status, 200, "abrand's key sees its visit")
    check_eq(len(r.json()["store_visits"]), 1, "the visit")


def main():
    global SRV
    mt.require_environment()
    SRV = mt.Maisond(name="maisond-isolation", checkpoint_interval_s=1)
    try:
        try:
            SRV.start()
            setup()
        except Exception as e:
            print("ERROR: setup: %s\n%s" % (e, SRV.log_tail()))
            return 1
        return mt.run_tests()
    finally:
        SRV.stop()
        SRV.cleanup()


if __name__ == "__main__":
    sys.exit(main())
