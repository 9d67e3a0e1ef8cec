#!/usr/bin/env python3
"""test_discovery: similar items, popular items and ?exclude= over HTTP.

GET /v1/items/{id}/similar: after a strong co-view pattern (25 visitors
view the page's item, then one other item) that item comes first with
"Often viewed with <item>", a twin sharing the page item's line comes
with "Same line as ...", the item itself never comes, and every item
returned obeys the brand's rules (categories, price floors by tier with a
visitor seen as "prospect", VIP-only items, regions, stock, availability)
by the independent checker of test_rules_random.py; a list shorter than
k holds every allowed item. GET /v1/brands/{b}/popular: the most-bought
item first, with its decayed weighted count as the score; 20 purchases 70
days old (ten 7-day half-lives) count less than 10 views today; items of
a category, under the rules; the list survives a graceful restart (the
popularity is saved with the global level) and a kill -9 (relearned at
replay). ?exclude= on recommendations, similar and popular: excluded ids
never come back and the list still holds k items (the cut happens after
the exclusion); unknown ids are ignored; 101 ids, an empty entry, a bad k
are 400; an unknown or deleted item is 404. Roles and brand scope: 401
without a key, 403 for a role the route does not name or a brand outside
the key's scope, and a scoped key sees only its brands' items.

One maisond against the temporary cluster of tests/harness/with_pg.sh.
Each test uses its own brands, so the popularity one test teaches does
not reach another's lists.
"""

import sys
import time
import urllib.parse
import uuid

import maison_test as mt
from maison_test import check, check_eq, check_error, test
from test_rules_random import Checker  # registers its tests too: see main

SRV = None
DAY = 86400
HALF_LIFE_S = 7 * DAY


def uid(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def item(item_id, brand, category="bags", price=1000.0, **extra):
    doc = {"item_id": item_id, "brand": brand, "category": category,
           "price": price, "currency": "EUR"}
    doc.update(extra)
    return doc


def put_items(docs):
    for i in range(0, len(docs), 500):
        r = SRV.put("/v1/catalog/items", {"items": docs[i:i + 500]})
        check_eq(r.status, 200, "PUT items: %r" % r)


def post_events(events):
    for i in range(0, len(events), 1000):
        r = SRV.post("/v1/events", {"events": events[i:i + 1000]})
        check_eq(r.status, 200, "POST events: %r" % r)
        check_eq(r.json()["accepted"], len(events[i:i + 1000]), "accepted")


def event(client, item_id, kind="view", ts=None):
    ev = {"event_id": uid("e"), "client_id": client, "item_id": item_id,
          "type": kind}
    if ts is not None:
        ev["ts"] = int(ts)
    return ev


def put_rules(brand, doc):
    r = SRV.put("/v1/brands/%s/rules" % brand, doc)
    check_eq(r.status, 200, "PUT rules: %r" % r)


def get_json(path, key="admin"):
    r = SRV.get(path, key=key)
    check_eq(r.status, 200, "GET %s: %r" % (path, r))
    return r.json()


def ids(doc):
    return [e["item_id"] for e in doc["items"]]


def query(**args):
    return urllib.parse.urlencode({k: v for k, v in args.items()
                                   if v is not None})


def similar(item_id, key="admin", **args):
    return get_json("/v1/items/%s/similar?%s" % (item_id, query(**args)),
                    key=key)


def popular(brand, key="admin", **args):
    return get_json("/v1/brands/%s/popular?%s" % (brand, query(**args)),
                    key=key)


def co_view(page, neighbour, visitors=25, ts=None):
    """visitors distinct clients each view page, then neighbour."""
    events = []
    for _ in range(visitors):
        c = uid("v")
        events += [event(c, page, ts=ts), event(c, neighbour, ts=ts)]
    post_events(events)


def brand_with_rules(prefix):
    """A new brand whose rules exclude outlet and set a price floor of 100,
    500 for prospects; returns (brand, rules)."""
    b = uid(prefix)
    rules = {"categories": {"exclude": ["outlet"]},
             "price": {"min": 100.0, "min_by_tier": {"prospect": 500.0}}}
    put_rules(b, rules)
    return b, rules


def check_list_shape(doc, k):
    got = ids(doc)
    check(len(got) <= k, "at most k=%d items: %r" % (k, got))
    check_eq(len(set(got)), len(got), "no item twice")
    scores = [e["score"] for e in doc["items"]]
    check(all(a >= b for a, b in zip(scores, scores[1:])),
          "scores do not increase: %r" % scores)
    check(all(s > 0 for s in scores), "every score is above 0: %r" % scores)
    for e in doc["items"]:
        check(e["reasons"] and all(r["text"] for r in e["reasons"]),
              "every item has a reason: %r" % e)


# ---------------------------------------------------------------- similar


@test
def similar_puts_the_co_viewed_item_first_and_never_the_item_itself():
    b = uid("sim")
    docs = [item("%s-page" % b, b, tags=["canvas"],
                 attributes={"line": "horsebit"}),
            item("%s-next" % b, b, category="shoes"),
            item("%s-twin" % b, b, tags=["canvas"],
                 attributes={"line": "horsebit"})]
    docs += [item("%s-x%d" % (b, i), b, category="shoes") for i in range(6)]
    other = uid("other")
    docs += [item("%s-o%d" % (other, i), other) for i in range(6)]
    put_items(docs)
    page = "%s-page" % b
    co_view(page, "%s-next" % b)

    for args in ({"brand": b}, {}):
        doc = similar(page, k=5, **args)
        check_eq(doc["item_id"], page, "the page's item is named")
        check_list_shape(doc, 5)
        got = ids(doc)
        check(page not in got, "the item itself is never returned: %r" % got)
        check_eq(got[0], "%s-next" % b, "the co-viewed item first (%r)"
                 % (args,))
        first = doc["items"][0]["reasons"][0]
        check_eq(first["text"], "Often viewed with %s." % page, "reason")
        check_eq(first["because_item"], page, "because_item")
        check_eq(got[1], "%s-twin" % b, "the twin second: %r" % got)
        check_eq(doc["items"][1]["reasons"][0]["text"],
                 "Same line as %s: horsebit." % page, "the twin's reason")
    # With ?brand= only that brand; without it every brand may come.
    check(all(i.startswith(b) for i in ids(similar(page, k=20, brand=b))),
          "only the brand asked for")
    check(any(i.startswith(other) for i in ids(similar(page, k=20))),
          "without ?brand= other brands may come")


@test
def similar_obeys_every_brand_rule_for_visitors_and_clients():
    b, rules = brand_with_rules("simr")
    now = time.time()
    page = "%s-page" % b
    docs = [item(page, b, price=800.0)]
    variants = [
        {}, {"category": "outlet"}, {"price": 50.0}, {"price": 300.0},
        {"reserved_tiers": ["vip"]}, {"regions": ["FR"]},
        {"regions": ["US"]}, {"stock": 0}, {"available": False},
        {"launch_at": mt_time(now + 30 * DAY)},
        {"end_at": mt_time(now - DAY)}, {"price": 2000.0},
    ]
    for n, v in enumerate(variants):
        for copy in range(2):
            d = item("%s-%02d-%d" % (b, n, copy), b)
            d.update(v)
            docs.append(d)
    put_items(docs)
    for d in docs[1:]:
        co_view(page, d["item_id"], visitors=2)
    vip = uid("vip")
    r = SRV.put("/v1/clients/%s/attributes" % vip,
                {"tier": "vip", "region": "FR"})
    check_eq(r.status, 200, "attributes: %r" % r)

    checker = Checker(docs, {b: rules}, {}, {})
    cases = [(None, "prospect", "US", 30), (None, "prospect", "FR", 30),
             (None, "prospect", None, 5), (vip, "vip", "FR", 30),
             (vip, "vip", None, 30), (vip, "vip", "JP", 3)]
    for client, tier, region, k in cases:
        doc = similar(page, brand=b, client_id=client, region=region, k=k)
        check_list_shape(doc, k)
        ctx = {"brand": b, "rules": rules, "now": time.time(),
               "region": region if region or not client else "FR",
               "tier": tier, "context_item": page,
               "price": Checker.price_bounds(rules, tier),
               "facts": None, "shown": {}}
        allowed = [d["item_id"] for i, d in enumerate(docs)
                   if not checker.item_failures(i, ctx)]
        got = ids(doc)
        for i in got:
            failures = checker.item_failures(checker.index[i], ctx)
            check(not failures, "%s (client %s, region %s) breaks %r"
                  % (i, client, region, failures))
        check_eq(len(got), min(k, len(allowed)),
                 "a short list holds every allowed item (client %s, region "
                 "%s)" % (client, region))
    # A visitor pays the prospect floor (500): the 300-priced items only
    # reach the VIP, the VIP-only ones only the VIP.
    visitor = ids(similar(page, brand=b, region="FR", k=30))
    member = ids(similar(page, brand=b, client_id=vip, k=30))
    check(not any(i.startswith("%s-03" % b) for i in visitor),
          "price 300 is below the prospect floor")
    check(any(i.startswith("%s-03" % b) for i in member),
          "the VIP (no tier floor) gets price 300")
    check(any(i.startswith("%s-04" % b) for i in member) and
          not any(i.startswith("%s-04" % b) for i in visitor),
          "VIP-only items for the VIP only")


def mt_time(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@test
def similar_of_an_unknown_or_deleted_item_is_404():
    b = uid("simd")
    put_items([item("%s-a" % b, b), item("%s-b" % b, b)])
    check_error(SRV.get("/v1/items/%s-none/similar" % b), 404, "not_found")
    r = SRV.delete("/v1/catalog/items/%s-a" % b)
    check_eq(r.status, 204, "delete: %r" % r)
    check_error(SRV.get("/v1/items/%s-a/similar" % b), 404, "not_found")
    check("%s-a" % b not in ids(similar("%s-b" % b, k=10)),
          "a deleted item is never similar")


# ---------------------------------------------------------------- popular


@test
def popular_ranks_the_most_bought_first_and_forgets_old_events():
    b = uid("pop")
    now = time.time()
    docs = [item("%s-%s" % (b, n), b) for n in ("bought", "viewed", "old",
                                                "cold")]
    put_items(docs)
    old = now - 70 * DAY
    events = [event(uid("c"), "%s-old" % b, "purchase", ts=old)
              for _ in range(20)]
    events += [event(uid("c"), "%s-bought" % b, "purchase") for _ in range(5)]
    events += [event(uid("c"), "%s-viewed" % b, "view") for _ in range(10)]
    post_events(events)

    doc = popular(b, k=10)
    check_eq(doc["brand"], b, "brand")
    check_eq(doc["half_life_s"], HALF_LIFE_S, "half-life")
    check_list_shape(doc, 10)
    check_eq(ids(doc), ["%s-bought" % b, "%s-viewed" % b, "%s-old" % b],
             "bought (5 x 5), viewed (10 x 1), then 20 old purchases; the "
             "item nobody touched is not popular")
    scores = [e["score"] for e in doc["items"]]
    check(abs(scores[0] - 25.0) < 0.5, "5 purchases weigh 25: %r" % scores)
    check(abs(scores[1] - 10.0) < 0.2, "10 views weigh 10: %r" % scores)
    check(abs(scores[2] - 100.0 / 1024) < 0.02,
          "20 purchases ten half-lives ago weigh 100/1024: %r" % scores)
    reason = doc["items"][0]["reasons"][0]
    check_eq(reason["text"], "Popular at %s right now." % b, "reason")
    empty = popular(uid("nobrand"))
    check_eq(empty["items"], [], "an unknown brand has no popular items")
    check("empty_reason" in empty, "an empty list says why")


@test
def popular_obeys_the_category_and_the_brand_rules():
    b, rules = brand_with_rules("popr")
    now = time.time()
    variants = [{}, {"category": "outlet"}, {"price": 300.0},
                {"reserved_tiers": ["vip"]}, {"regions": ["FR"]},
                {"stock": 0}, {"available": False},
                {"end_at": mt_time(now - DAY)}, {"category": "shoes"}]
    docs = []
    for n, v in enumerate(variants):
        d = item("%s-%02d" % (b, n), b)
        d.update(v)
        docs.append(d)
    put_items(docs)
    events = []
    for n, d in enumerate(docs):
        events += [event(uid("c"), d["item_id"], "purchase")
                   for _ in range(n + 1)]
    post_events(events)
    checker = Checker(docs, {b: rules}, {}, {})
    for region, category in ((None, None), ("FR", None), ("US", "bags"),
                             ("FR", "shoes")):
        doc = popular(b, k=20, region=region, category=category)
        check_list_shape(doc, 20)
        ctx = {"brand": b, "rules": rules, "now": time.time(),
               "region": region, "tier": "prospect", "context_item": None,
               "price": Checker.price_bounds(rules, "prospect"),
               "facts": None, "shown": {}}
        allowed = [d["item_id"] for i, d in enumerate(docs)
                   if not checker.item_failures(i, ctx) and
                   (category is None or d["category"] == category)]
        # Bought n + 1 times: the later variants first.
        check_eq(ids(doc), sorted(allowed, reverse=True),
                 "region %s, category %s" % (region, category))


# ---------------------------------------------------------------- exclude


@test
def exclude_keeps_k_items_on_all_three_lists():
    b = uid("exc")
    docs = [item("%s-%02d" % (b, i), b) for i in range(12)]
    put_items(docs)
    page = "%s-00" % b
    events = []
    for i in range(1, 12):
        # Each item co-viewed with the page and bought (i times).
        for _ in range(i):
            c = uid("c")
            events += [event(c, page), event(c, "%s-%02d" % (b, i)),
                       event(c, "%s-%02d" % (b, i), "purchase")]
    client = uid("me")
    events += [event(client, "%s-%02d" % (b, i)) for i in (3, 5, 7)]
    post_events(events)

    lists = {
        "similar": lambda **a: similar(page, brand=b, **a),
        "popular": lambda **a: popular(b, **a),
        "recommendations": lambda **a: get_json(
            "/v1/clients/%s/recommendations?%s" % (client,
                                                   query(brand=b, **a))),
    }
    for name, fetch in lists.items():
        full = ids(fetch(k=6))
        check_eq(len(full), 6, "%s: 6 items" % name)
        gone = full[:3]
        doc = fetch(k=6, exclude=",".join(gone + ["%s-nope" % b]))
        got = ids(doc)
        check_eq(len(got), 6, "%s: still k items with 3 excluded" % name)
        check(not set(got) & set(gone), "%s: excluded ids never come: %r"
              % (name, got))
        check_eq(got[:3], full[3:], "%s: the next items move up" % name)
        check_eq(ids(fetch(k=6, exclude="")), full,
                 "%s: an empty exclude excludes nothing" % name)


@test
def bad_arguments_are_400_with_the_limit_in_the_message():
    b = uid("bad")
    put_items([item("%s-a" % b, b), item("%s-b" % b, b)])
    paths = ["/v1/items/%s-a/similar" % b, "/v1/brands/%s/popular" % b,
             "/v1/clients/c-bad/recommendations"]
    many = ",".join("x%d" % i for i in range(101))
    hundred = ",".join("x%d" % i for i in range(100))
    for p in paths:
        for bad in ("k=0", "k=101", "k=abc", "exclude=a,,b", "exclude=a,",
                    "region=" + "r" * 200):
            check_error(SRV.get(p + "?" + bad), 400, "invalid_input")
        r = SRV.get(p + "?exclude=" + many)
        check_error(r, 400, "invalid_input")
        check("100" in r.json()["error"]["message"],
              "the limit is in the message: %r" % r)
        check_eq(SRV.get(p + "?exclude=" + hundred).status, 200,
                 "100 ids are fine")
    check_error(SRV.get(paths[0] + "?client_id="), 400, "invalid_input")
    check_eq(SRV.get(paths[0] + "?client_id=" + uid("nobody")).status, 200,
             "a client the service does not know is a client without facts")
    check_error(SRV.get("/v1/brands/%s/popular?category=" % b), 400,
                "invalid_input")


# ---------------------------------------------------------------- keys


@test
def roles_and_brand_scope_are_enforced():
    a, z = uid("keya"), uid("keyz")
    put_items([item("%s-%d" % (a, i), a) for i in range(3)] +
              [item("%s-%d" % (z, i), z) for i in range(3)])
    # a-0 is co-viewed with z-0 as much as with a-1.
    co_view("%s-0" % a, "%s-0" % z, visitors=5)
    co_view("%s-0" % a, "%s-1" % a, visitors=5)

    def key(roles, brands=None):
        body = {"name": "discovery", "roles": roles}
        if brands is not None:
            body["brands"] = brands
        r = SRV.post("/v1/keys", body)
        check_eq(r.status, 201, "POST /v1/keys: %r" % r)
        return r.json()["key"]

    sim = "/v1/items/%s-0/similar" % a
    pop = "/v1/brands/%s/popular" % a
    for path in (sim, pop):
        r = SRV.get(path, key=None)
        check_error(r, 401, "unauthorized")
        check_error(SRV.get(path, key=key(["ingest"])), 403, "forbidden")
    check_error(SRV.get(sim, key=key(["merchandising"])), 403, "forbidden")
    check_eq(SRV.get(pop, key=key(["merchandising"])).status, 200,
             "merchandising may read popular")

    scoped = key(["clienteling"], [a])
    got = ids(similar("%s-0" % a, key=scoped, k=10))
    check(got and all(i.startswith(a) for i in got),
          "a scoped key sees only its brands: %r" % got)
    check(any(i.startswith(z) for i in ids(similar("%s-0" % a, k=10))),
          "an admin key sees the other brand's co-viewed item")
    check_error(SRV.get(sim + "?brand=" + z, key=scoped), 403, "forbidden")
    check_error(SRV.get("/v1/items/%s-0/similar" % z, key=scoped), 403,
                "forbidden")
    check_error(SRV.get("/v1/brands/%s/popular" % z, key=scoped), 403,
                "forbidden")
    check_eq(SRV.get(pop, key=scoped).status, 200, "own brand's popular")


# ---------------------------------------------------------------- restart


@test
def popular_and_similar_survive_a_restart_and_a_replay():
    b = uid("keep")
    put_items([item("%s-%d" % (b, i), b) for i in range(5)])
    events = []
    for i in range(1, 5):
        events += [event(uid("c"), "%s-%d" % (b, i), "add_to_cart")
                   for _ in range(i)]
    post_events(events)
    co_view("%s-0" % b, "%s-2" % b, visitors=3)
    before_pop = popular(b)
    before_sim = similar("%s-0" % b, brand=b)
    check_eq(ids(before_pop)[0], "%s-4" % b, "most carted first")

    def same(doc, want, what):
        check_eq(ids(doc), ids(want), what)
        for g, w in zip(doc["items"], want["items"]):
            check(abs(g["score"] - w["score"]) < 1e-3 * max(1, w["score"]),
                  "%s: score %r vs %r" % (what, g["score"], w["score"]))

    check_eq(SRV.stop(), 0, "graceful stop")
    SRV.start()     # from the checkpoint written at the stop
    same(popular(b), before_pop, "popular after a restart")
    same(similar("%s-0" % b, brand=b), before_sim, "similar after a restart")
    post_events([event(uid("c"), "%s-1" % b, "purchase")
                 for _ in range(3)])
    after = popular(b)
    SRV.kill9()
    SRV.start()     # the last purchases come back from the log
    same(popular(b), after, "popular after a kill -9 and a replay")


def main():
    global SRV
    mt.require_environment()
    SRV = mt.Maisond(name="maisond-discovery")
    # Only this file's tests, not those of the module Checker is from.
    return mt.run_with_server(
        SRV, tests=[t for t in mt.TESTS if t.__module__ == __name__])


if __name__ == "__main__":
    sys.exit(main())
