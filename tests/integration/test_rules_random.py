#!/usr/bin/env python3
"""test_rules_random: thousands of random recommendations, each checked
against every brand rule by an independent checker.

A seeded generator (seed printed; MAISON_TEST_SEED overrides it) builds a
catalog of 12,000 items over 7 brands and 10 categories (sold out,
unavailable, not yet launched, ended, region-limited and tier-reserved
items among them), a random valid rule set for most brands (every kind of
rule appears; two brands have none), 300 clients with random attributes
(tier, region, consent) and event streams (views, clicks, purchases and
returns, dismissals recent and old; some clients withdraw consent between
their first events and their returns), then asks for more than 10,000
recommendations (random client, brand or none, region or none, k 1..30,
sometimes a context item, sometimes ?explain=rules) over one keep-alive
connection. A third of the way it changes 400 items (brand, category,
price, stock, dates, regions, tiers) and deletes about 150; half-way it
changes two brands' rules. Takes about 15 s.

The server runs with --model cand_max=64: every personalised request then
reaches more candidates than that (the popular list alone is 512), so
every one is cut to 64 (the request's brands first, docs/scoring.md) and
the rules run on the cut list, falling back to the whole catalog when it
leaves fewer than k; the checks below hold for that path too.

MAISON_TEST_VIOLATIONS_FILE=path writes every violation found there, one
JSON object a line.

The checker re-implements every rule of model/rules.h in Python from the
test's own records only: the catalog it sent, the rule sets it put, the
attributes and events it posted, and the impressions it has itself
observed (every item a response returned counts once for that client).
It checks each returned item against each rule, the shape of the list
(no duplicates, len <= k, max_per_category, brand, scores non-increasing,
reasons), that a list shorter than k is as long as the allowed items
permit (a server returning too little fails too), that a response is
personalised exactly when the client consents and has events, and the
per-rule counts and version of ?explain=rules. The rules that read a
client's facts (purchases, dismissals, frequency cap) are checked for
every client, consent or not: they protect the client and are not
personalisation.
"""

import calendar
import http.client
import json
import os
import random
import sys
import time
import urllib.parse
from collections import defaultdict

import maison_test as mt
from maison_test import check, test

DEFAULT_SEED = 20261123
N_ITEMS = 12000
N_CLIENTS = 300
N_REQUESTS = 10400
DAY = 86400

# "gaspard" is small (about 100 items): its lists often run short or
# empty, which exercises the completeness check.
BRANDS = ["atelier", "belmont", "corvo", "dunmore", "estelle", "fauve",
          "gaspard"]
CATEGORIES = ["bags", "shoes", "fragrance", "jewelry", "watches",
              "ready_to_wear", "accessories", "beauty", "outlet", "home"]
ITEM_REGIONS = ["FR", "US", "JP", "CN", "AE"]
# "BR" is never in an item's regions: region-limited items are never
# shown for it.
CLIENT_REGIONS = ITEM_REGIONS + ["BR"]
TIERS = ["prospect", "client", "vip"]
ROUND_PRICES = [50.0, 100.0, 200.0, 250.0, 500.0, 1000.0, 1500.0, 2000.0,
                3000.0]
RULE_KINDS = ["categories.allow", "categories.exclude", "price.min",
              "price.max", "price.min_by_tier", "price.max_by_tier",
              "max_per_category", "frequency_cap", "exclude_purchased",
              "exclude_dismissed_days"]
# The order in which model/rules.c attributes a removed item to a rule.
RULE_ORDER = ["retired", "brand", "exclude_items", "available", "stock",
              "launch_at", "end_at", "region", "reserved_tiers",
              "categories.allow", "categories.exclude", "price.min",
              "price.max", "exclude_purchased", "exclude_dismissed",
              "frequency_cap"]

SRV = None
STATE = None      # everything the run observed, filled by run_workload()


def rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# ---------------------------------------------------------------- HTTP


class KeepAlive:
    """One keep-alive connection; reconnects once when the server closed
    it between two requests."""

    def __init__(self, port, auth_headers=None):
        self.port = port
        self.auth_headers = auth_headers or {}
        self.conn = None

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(
            body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        headers.update(self.auth_headers)
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=60)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, payload
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, want=200):
        status, payload = self.request(method, path, body)
        try:
            doc = json.loads(payload.decode("utf-8"))
        except ValueError:
            raise mt.TestFailure("%s %s: HTTP %d, body not JSON: %r"
                                 % (method, path, status, payload[:300]))
        if status != want:
            raise mt.TestFailure("%s %s: expected HTTP %d, got %d: %r"
                                 % (method, path, want, status, payload[:500]))
        return doc

    def close(self):
        if self.conn is not None:
            self.conn.close()


# ---------------------------------------------------------------- generation


def gen_catalog(rng, now):
    items = []
    brand_weights = [3, 2, 2, 2, 1, 1, 0.1]
    for i in range(N_ITEMS):
        brand = rng.choices(BRANDS, brand_weights)[0]
        doc = {"item_id": "it-%05d" % i, "brand": brand,
               "category": rng.choice(CATEGORIES), "currency": "EUR"}
        if rng.random() < 0.12:
            doc["price"] = rng.choice(ROUND_PRICES)
        else:
            doc["price"] = round(rng.uniform(5.0, 5000.0), 2)
        r = rng.random()
        if r < 0.06:
            doc["available"] = False
        elif r < 0.12:
            doc["available"] = True
        r = rng.random()
        if r < 0.08:
            doc["stock"] = 0
        elif r < 0.50:
            doc["stock"] = rng.randint(1, 100)
        r = rng.random()
        if r < 0.05:        # not launched yet
            doc["launch_at"] = rfc3339(now + rng.randint(2, 60) * DAY)
        elif r < 0.10:      # ended
            doc["end_at"] = rfc3339(now - rng.randint(2, 60) * DAY)
            if rng.random() < 0.5:
                doc["launch_at"] = rfc3339(now - rng.randint(90, 400) * DAY)
        elif r < 0.25:      # in its window
            doc["launch_at"] = rfc3339(now - rng.randint(2, 400) * DAY)
            doc["end_at"] = rfc3339(now + rng.randint(2, 400) * DAY)
        if rng.random() < 0.15:
            doc["regions"] = rng.sample(ITEM_REGIONS, rng.randint(1, 3))
        if rng.random() < 0.07:
            doc["reserved_tiers"] = rng.choice(
                [["vip"], ["vip"], ["client", "vip"], ["platinum"]])
        items.append(doc)
    return items


def gen_catalog_changes(rng, items, now):
    """Replacements for some existing items (new brand, category, price,
    stock, availability, dates, regions or tiers) and ids to delete."""
    fresh = gen_catalog(random.Random(rng.random()), now)
    changed = []
    for i in rng.sample(range(len(items)), 400):
        doc = dict(items[i])
        for field in rng.sample(["brand", "category", "price", "stock",
                                 "available", "dates", "regions",
                                 "reserved_tiers"], rng.randint(1, 3)):
            src = fresh[i]
            if field == "dates":
                keys = ("launch_at", "end_at")
            else:
                keys = (field,)
            for key in keys:
                doc.pop(key, None)
                if key in src:
                    doc[key] = src[key]
            if field == "brand" and doc["brand"] == items[i]["brand"]:
                doc["brand"] = rng.choice(BRANDS)
        if parse_time(doc.get("launch_at"), float("-inf")) >= \
                parse_time(doc.get("end_at"), float("inf")):
            doc.pop("launch_at")
        changed.append(doc)
    changed_ids = {d["item_id"] for d in changed}
    deleted = [items[i]["item_id"] for i in rng.sample(range(len(items)), 150)
               if items[i]["item_id"] not in changed_ids]
    return changed, deleted


def gen_rules(rng, kinds):
    """A valid, non-contradictory rule set holding at least kinds."""
    rules = {}
    cats = {}
    for kind in kinds:
        if kind == "categories.allow":
            cats["allow"] = rng.sample(CATEGORIES, rng.randint(5, 8))
        elif kind == "categories.exclude":
            cats["exclude"] = rng.sample(CATEGORIES, rng.randint(1, 2))
        elif kind == "price.min":
            rules.setdefault("price", {})["min"] = rng.choice(
                [50.0, 100.0, 200.0, 250.0])
        elif kind == "price.max":
            rules.setdefault("price", {})["max"] = rng.choice(
                [1500.0, 2000.0, 3000.0])
        elif kind == "price.min_by_tier":
            rules.setdefault("price", {})["min_by_tier"] = {
                "vip": rng.choice([500.0, 1000.0]),
                "prospect": rng.choice([0, 50.0])}
        elif kind == "price.max_by_tier":
            rules.setdefault("price", {})["max_by_tier"] = {
                "prospect": rng.choice([500.0, 1000.0]),
                "client": rng.choice([2000.0, 3000.0])}
        elif kind == "max_per_category":
            rules["max_per_category"] = rng.randint(1, 4)
        elif kind == "frequency_cap":
            rules["frequency_cap"] = {"max_per_item_per_day":
                                      rng.randint(1, 3)}
        elif kind == "exclude_purchased":
            ep = {"enabled": rng.random() < 0.85}
            if rng.random() < 0.7:
                ep["repurchasable_categories"] = rng.sample(
                    CATEGORIES, rng.randint(0, 2))
            rules["exclude_purchased"] = ep
        elif kind == "exclude_dismissed_days":
            rules["exclude_dismissed_days"] = rng.choice([0, 7, 14, 60])
    if cats:
        if "allow" in cats and "exclude" in cats and \
                not set(cats["allow"]) - set(cats["exclude"]):
            cats["exclude"] = []
        rules["categories"] = cats
    return rules


def gen_rule_sets(rng):
    """Brand -> rule set (or None); every kind appears on some brand."""
    ruled = rng.sample(BRANDS, 5)
    kinds = RULE_KINDS[:]
    rng.shuffle(kinds)
    per_brand = {b: set() for b in ruled}
    for i, kind in enumerate(kinds):
        per_brand[ruled[i % len(ruled)]].add(kind)
    for b in ruled:
        for kind in RULE_KINDS:
            if rng.random() < 0.25:
                per_brand[b].add(kind)
    out = {b: None for b in BRANDS}
    for b in ruled:
        out[b] = gen_rules(rng, sorted(per_brand[b]))
    return out


def gen_clients(rng):
    clients = {}
    for i in range(N_CLIENTS):
        cid = "c-%03d" % i
        c = {"tier": None, "region": None, "consent": True, "put": False}
        if rng.random() < 0.9:
            c["put"] = True
            c["tier"] = rng.choice(TIERS + [None])
            c["region"] = rng.choice(CLIENT_REGIONS + [None])
            c["consent"] = rng.random() >= 0.06
        clients[cid] = c
    return clients


DISMISS_AGE_DAYS = [(0.01, 6.0), (8.0, 13.0), (15.0, 29.0), (31.0, 59.0),
                    (61.0, 90.0)]


def gen_events(rng, clients, items, by_brand, now):
    """Two batches-in-order lists of events (returns come after their
    purchases) and, per client, the facts the checker needs."""
    first, second = [], []
    facts = {}
    n = 0
    for cid in sorted(clients):
        f = {"purchased": {}, "returned": set(), "dismissed": {},
             "events": 0}
        facts[cid] = f
        if rng.random() < 0.1:
            continue                      # a client with no events at all
        fav = rng.choice(BRANDS)
        pool = by_brand[fav]

        def pick():
            if rng.random() < 0.7:
                return items[rng.choice(pool)]["item_id"]
            return items[rng.randrange(len(items))]["item_id"]

        for _ in range(rng.randint(1, 30)):
            n += 1
            first.append({"event_id": "ev-%06d" % n, "client_id": cid,
                          "item_id": pick(),
                          "type": rng.choice(["view", "view", "click",
                                              "wishlist", "add_to_cart"])})
            f["events"] += 1
        for _ in range(rng.randint(0, 5)):
            iid = pick()
            if iid in f["purchased"]:
                continue
            ts = now - rng.randint(0, 100 * DAY)
            n += 1
            first.append({"event_id": "ev-%06d" % n, "client_id": cid,
                          "item_id": iid, "type": "purchase", "ts": ts})
            f["purchased"][iid] = ts
            f["events"] += 1
            if rng.random() < 0.2:
                n += 1
                second.append({"event_id": "ev-%06d" % n, "client_id": cid,
                               "item_id": iid, "type": "return"})
                f["returned"].add(iid)
                f["events"] += 1
        for _ in range(rng.randint(0, 8)):
            iid = pick()
            if iid in f["dismissed"]:
                continue
            lo, hi = rng.choice(DISMISS_AGE_DAYS)
            ts = int(now - rng.uniform(lo, hi) * DAY)
            n += 1
            first.append({"event_id": "ev-%06d" % n, "client_id": cid,
                          "item_id": iid, "type": "dismiss", "ts": ts})
            f["dismissed"][iid] = ts
            f["events"] += 1
    return first, second, facts


# ---------------------------------------------------------------- checker


class Checker:
    """Re-implements model/rules.h from the test's own records."""

    def __init__(self, items, rules, clients, facts):
        self.items = items                              # index -> doc
        self.index = {d["item_id"]: i for i, d in enumerate(items)}
        self.by_brand = defaultdict(list)
        for i, d in enumerate(items):
            self.by_brand[d["brand"]].append(i)
        self.rules = rules                              # brand -> doc/None
        self.versions = {}                              # brand -> version
        self.clients = clients
        self.facts = facts
        self.shown = defaultdict(lambda: defaultdict(int))  # cid -> iid -> n
        self.static_cache = {}
        self.retired = set()
        self.times = [self.item_times(d) for d in items]

    @staticmethod
    def item_times(d):
        return (parse_time(d.get("launch_at"), float("-inf")),
                parse_time(d.get("end_at"), float("inf")))

    def replace_item(self, doc):
        """An upsert of an existing id: same index, new fields (a retired
        id comes back to life)."""
        i = self.index[doc["item_id"]]
        old = self.items[i]
        if old["brand"] != doc["brand"]:
            self.by_brand[old["brand"]].remove(i)
            self.by_brand[doc["brand"]].append(i)
            self.by_brand[doc["brand"]].sort()
        self.items[i] = doc
        self.times[i] = self.item_times(doc)
        self.retired.discard(i)
        self.static_cache = {}

    def retire(self, item_id):
        self.retired.add(self.index[item_id])
        self.static_cache = {}

    def set_rules(self, brand, doc, version):
        self.rules[brand] = doc
        self.versions[brand] = version
        self.static_cache = {k: v for k, v in self.static_cache.items()
                             if k[0] != brand}

    # -- the rules, one function each -----------------------------------
    @staticmethod
    def price_bounds(rules, tier):
        price = (rules or {}).get("price") or {}
        lo = price.get("min")
        hi = price.get("max")
        if tier is not None and tier in (price.get("min_by_tier") or {}):
            lo = price["min_by_tier"][tier]
        if tier is not None and tier in (price.get("max_by_tier") or {}):
            hi = price["max_by_tier"][tier]
        return lo, hi

    def item_failures(self, i, ctx, first_only=False):
        """Rules (names of RULE_ORDER) that remove item i for ctx, in the
        server's order."""
        d = self.items[i]
        out = []

        def fail(name):
            out.append(name)
            return first_only

        # A brand request never looks at other brands' items, retired or
        # not: they all count under "brand".
        if ctx["brand"] is not None and d["brand"] != ctx["brand"]:
            if fail("brand"):
                return out
        if i in self.retired:
            if fail("retired"):
                return out
        if d["item_id"] == ctx["context_item"]:
            if fail("exclude_items"):
                return out
        if d.get("available") is False:
            if fail("available"):
                return out
        if d.get("stock") == 0:
            if fail("stock"):
                return out
        lo, hi = self.times[i]
        if lo > ctx["now"]:
            if fail("launch_at"):
                return out
        if ctx["now"] >= hi:
            if fail("end_at"):
                return out
        if "regions" in d and (ctx["region"] is None
                               or ctx["region"] not in d["regions"]):
            if fail("region"):
                return out
        if "reserved_tiers" in d and (ctx["tier"] is None or
                                      ctx["tier"] not in d["reserved_tiers"]):
            if fail("reserved_tiers"):
                return out
        rules = ctx["rules"] or {}
        cats = rules.get("categories") or {}
        if "allow" in cats and d["category"] not in cats["allow"]:
            if fail("categories.allow"):
                return out
        if d["category"] in (cats.get("exclude") or []):
            if fail("categories.exclude"):
                return out
        pmin, pmax = ctx["price"]
        if pmin is not None and d["price"] < pmin:
            if fail("price.min"):
                return out
        if pmax is not None and d["price"] > pmax:
            if fail("price.max"):
                return out
        iid = d["item_id"]
        f = ctx["facts"]
        if f is not None:
            ep = rules.get("exclude_purchased")
            if ep is not None and ep.get("enabled", True) and \
                    iid in f["purchased"] and iid not in f["returned"] and \
                    d["category"] not in (ep.get("repurchasable_categories")
                                          or []):
                if fail("exclude_purchased"):
                    return out
            days = rules.get("exclude_dismissed_days", 30)
            ts = f["dismissed"].get(iid)
            if days > 0 and ts is not None and ts > ctx["now"] - days * DAY:
                if fail("exclude_dismissed"):
                    return out
            cap = (rules.get("frequency_cap") or {}).get(
                "max_per_item_per_day")
            if cap and ctx["shown"].get(iid, 0) >= cap:
                if fail("frequency_cap"):
                    return out
        return out

    def context(self, cid, brand, region, context_item, now):
        c = self.clients[cid]
        rules = self.rules.get(brand) if brand is not None else None
        return {
            "cid": cid, "brand": brand, "rules": rules,
            "region": region if region is not None else c["region"],
            "tier": c["tier"], "context_item": context_item, "now": now,
            "price": self.price_bounds(rules, c["tier"]),
            # The rules protect every client, consent or not: the
            # purchases, dismissals and impressions they need are kept
            # and used without consent too (only personalisation stops).
            "facts": self.facts[cid],
            "shown": self.shown[cid],
        }

    def allowed_by_category(self, ctx):
        """Category -> number of items passing every item rule."""
        key = (ctx["brand"], ctx["region"], ctx["tier"])
        static = self.static_cache.get(key)
        if static is None:
            # The rules that depend neither on the client's facts nor on
            # the context item, cached per brand/region/tier.
            sctx = dict(ctx, facts=None, context_item=None)
            cand = self.by_brand[ctx["brand"]] if ctx["brand"] is not None \
                else range(len(self.items))
            ok = {i for i in cand
                  if not self.item_failures(i, sctx, first_only=True)}
            counts = defaultdict(int)
            for i in ok:
                counts[self.items[i]["category"]] += 1
            static = (ok, counts)
            self.static_cache[key] = static
        ok, counts = static
        counts = defaultdict(int, counts)
        # Then the few items the client's facts or the context item may
        # remove.
        maybe = set()
        if ctx["context_item"] is not None:
            maybe.add(ctx["context_item"])
        f = ctx["facts"]
        if f is not None:
            maybe.update(f["purchased"])
            maybe.update(f["dismissed"])
            maybe.update(ctx["shown"])
        for iid in maybe:
            i = self.index[iid]
            if i in ok and self.item_failures(i, ctx, first_only=True):
                counts[self.items[i]["category"]] -= 1
        return counts

    def explain_counts(self, ctx):
        removed = defaultdict(int)
        allowed = 0
        for i in range(len(self.items)):
            f = self.item_failures(i, ctx, first_only=True)
            if f:
                removed[f[0]] += 1
            else:
                allowed += 1
        return allowed, dict(removed)

    def record_shown(self, cid, item_ids):
        for iid in item_ids:
            self.shown[cid][iid] += 1


def parse_time(text, default):
    if text is None:
        return default
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


# ---------------------------------------------------------------- workload


def put_rules(conn, checker, brand, doc):
    reply = conn.json("PUT", "/v1/brands/%s/rules" % brand, doc)
    check(reply.get("brand") == brand and
          isinstance(reply.get("version"), int),
          "PUT rules of %s: unexpected reply %r" % (brand, reply))
    checker.set_rules(brand, doc, reply["version"])


def run_workload():
    seed = int(os.environ.get("MAISON_TEST_SEED", DEFAULT_SEED))
    print("seed=%d (set MAISON_TEST_SEED to replay)" % seed)
    sys.stdout.flush()
    rng = random.Random(seed)
    now = int(time.time())
    t0 = time.monotonic()
    conn = KeepAlive(SRV.port, SRV.auth_headers())

    items = gen_catalog(rng, now)
    for start in range(0, len(items), 1000):
        conn.json("PUT", "/v1/catalog/items",
                  {"items": items[start:start + 1000]})
    by_brand = defaultdict(list)
    for i, d in enumerate(items):
        by_brand[d["brand"]].append(i)

    rule_sets = gen_rule_sets(rng)
    clients = gen_clients(rng)
    first, second, facts = gen_events(rng, clients, items, by_brand, now)
    checker = Checker(items, {b: None for b in BRANDS}, clients, facts)
    for brand in BRANDS:
        if rule_sets[brand] is not None:
            put_rules(conn, checker, brand, rule_sets[brand])
    print("rules: %s" % json.dumps({b: r for b, r in rule_sets.items()},
                                   sort_keys=True))

    for cid in sorted(clients):
        c = clients[cid]
        if c["put"]:
            conn.json("PUT", "/v1/clients/%s/attributes" % cid,
                      {"tier": c["tier"], "region": c["region"],
                       "consent": {"personalization": c["consent"]}})
    withdraw_rng = random.Random(seed + 1)
    for batch_source in (first, second):
        if batch_source is second:
            # Some consenting clients withdraw consent after their first
            # events: what they bought and dismissed before still counts
            # for the rules, and so do the returns that follow.
            for cid in sorted(clients):
                c = clients[cid]
                if c["consent"] and facts[cid]["events"] > 0 and \
                        withdraw_rng.random() < 0.08:
                    conn.json("PUT", "/v1/clients/%s/attributes" % cid,
                              {"tier": c["tier"], "region": c["region"],
                               "consent": {"personalization": False}})
                    c["consent"] = False
                    c["put"] = True
        for start in range(0, len(batch_source), 1000):
            batch = batch_source[start:start + 1000]
            reply = conn.json("POST", "/v1/events", {"events": batch})
            check(reply.get("accepted") == len(batch) and
                  not reply.get("rejected"),
                  "POST /v1/events: expected %d accepted, got %r"
                  % (len(batch), {k: reply.get(k) for k in
                                  ("accepted", "duplicates", "rejected")}))
    setup_s = time.monotonic() - t0
    print("setup: %d items, %d clients, %d events in %.1fs"
          % (len(items), len(clients), len(first) + len(second), setup_s))
    sys.stdout.flush()

    # Some clients ask much more often than others, as in a real shop.
    cids = sorted(clients)
    weights = [6 if rng.random() < 0.1 else 1 for _ in cids]
    st = {"requests": 0, "nonempty": 0, "explained": 0,
          "violations": defaultdict(list), "personalized": 0,
          "short_checked": 0, "rules_changed_at": None}

    def violation(kind, detail):
        st["violations"][kind].append(detail)

    t1 = time.monotonic()
    for n in range(N_REQUESTS):
        if n == N_REQUESTS // 3:
            # A third of the way, the catalog changes under the traffic:
            # the very next request must see it.
            changed, deleted = gen_catalog_changes(rng, items, now)
            conn.json("PUT", "/v1/catalog/items", {"items": changed})
            for doc in changed:
                checker.replace_item(doc)
            for iid in deleted:
                status, payload = conn.request("DELETE",
                                               "/v1/catalog/items/" + iid)
                check(status == 204, "DELETE %s: HTTP %d %r"
                      % (iid, status, payload[:200]))
                checker.retire(iid)
            items = checker.items
            by_brand = checker.by_brand
            print("catalog: %d items changed, %d deleted at request %d"
                  % (len(changed), len(deleted), n))
        if n == N_REQUESTS // 2:
            # Half-way, two brands change their rules; the very next
            # request must obey the new ones.
            for brand in rng.sample(BRANDS, 2):
                kinds = rng.sample(RULE_KINDS, rng.randint(2, 5))
                put_rules(conn, checker, brand, gen_rules(rng, kinds))
            st["rules_changed_at"] = n
        cid = rng.choices(cids, weights)[0]
        brand = rng.choice(BRANDS) if rng.random() < 0.75 else None
        region = rng.choice(CLIENT_REGIONS) if rng.random() < 0.3 else None
        k = rng.randint(1, 30)
        context_item = None
        if rng.random() < 0.1:
            pool = by_brand[brand] if brand else range(len(items))
            context_item = items[rng.choice(pool)]["item_id"]
        explain = rng.random() < 0.02
        q = [("k", str(k))]
        if brand:
            q.append(("brand", brand))
        if region:
            q.append(("region", region))
        if context_item:
            q.append(("context_item", context_item))
        if explain:
            q.append(("explain", "rules"))
        path = "/v1/clients/%s/recommendations?%s" % (
            cid, urllib.parse.urlencode(q))
        req_now = time.time()
        status, payload = conn.request("GET", path)
        st["requests"] += 1
        where = {"n": n, "path": path}
        if status != 200:
            violation("http", dict(where, status=status, body=payload[:300]))
            continue
        try:
            doc = json.loads(payload.decode("utf-8"))
        except ValueError:
            violation("http", dict(where, body=payload[:300]))
            continue
        ctx = checker.context(cid, brand, region, context_item, req_now)
        check_response(checker, ctx, doc, k, explain, where, violation, st)
        returned = [e.get("item_id") for e in doc.get("items") or []
                    if isinstance(e, dict)]
        checker.record_shown(cid, returned)
        if returned:
            st["nonempty"] += 1
    conn.close()
    st["requests_s"] = time.monotonic() - t1
    st["seed"] = seed
    print("requests: %d in %.1fs (%.0f/s), %d non-empty, %d explained, "
          "%d short lists checked for completeness, %d personalized"
          % (st["requests"], st["requests_s"],
             st["requests"] / max(st["requests_s"], 1e-9), st["nonempty"],
             st["explained"], st["short_checked"], st["personalized"]))
    for kind, found in sorted(st["violations"].items()):
        print("violations %s: %d" % (kind, len(found)))
    dump = os.environ.get("MAISON_TEST_VIOLATIONS_FILE")
    if dump:
        with open(dump, "w") as f:
            for kind, found in sorted(st["violations"].items()):
                for detail in found:
                    f.write(json.dumps(dict(detail, kind=kind), default=str,
                                       sort_keys=True) + "\n")
    sys.stdout.flush()
    return st


def check_response(checker, ctx, doc, k, explain, where, violation, st):
    cid = ctx["cid"]
    client = checker.clients[cid]
    items = doc.get("items")
    if doc.get("client_id") != cid or not isinstance(items, list) or \
            not isinstance(doc.get("personalized"), bool):
        violation("shape", dict(where, doc=str(doc)[:300]))
        return
    if doc["personalized"]:
        st["personalized"] += 1
    # Personalised exactly when the client consents and has events to
    # learn from (recommendations.c).
    want = client["consent"] and checker.facts[cid]["events"] > 0
    if doc["personalized"] != want:
        violation("consent", dict(where, personalized=doc["personalized"],
                                  consent=client["consent"],
                                  events=checker.facts[cid]["events"]))
    if len(items) > k:
        violation("k", dict(where, k=k, got=len(items)))
    seen = set()
    per_category = defaultdict(int)
    last_score = None
    rules = ctx["rules"] or {}
    for pos, e in enumerate(items):
        iid = e.get("item_id") if isinstance(e, dict) else None
        i = checker.index.get(iid)
        if i is None:
            violation("unknown_item", dict(where, entry=str(e)[:200]))
            continue
        d = checker.items[i]
        if iid in seen:
            violation("duplicate", dict(where, item=iid))
        seen.add(iid)
        if e.get("brand") != d["brand"] or e.get("category") != d["category"]:
            violation("item_fields", dict(where, item=iid, got=e,
                                          want=(d["brand"], d["category"])))
        score = e.get("score")
        if not isinstance(score, (int, float)):
            violation("score", dict(where, item=iid, score=score))
        else:
            if last_score is not None and score > last_score:
                violation("score_order", dict(where, pos=pos, item=iid,
                                              score=score,
                                              previous=last_score))
            last_score = score
        reasons = e.get("reasons")
        if not isinstance(reasons, list) or not reasons or not all(
                isinstance(r, dict) and isinstance(r.get("level"), str)
                and r["level"] and isinstance(r.get("text"), str)
                and r["text"] for r in reasons):
            violation("reasons", dict(where, item=iid, reasons=reasons))
        per_category[d["category"]] += 1
        for rule in checker.item_failures(i, ctx):
            detail = dict(where, item=iid, rule=rule,
                          item_doc=d, client=client, rules=ctx["rules"],
                          region=ctx["region"])
            if rule == "frequency_cap":
                detail["shown_before"] = ctx["shown"].get(iid, 0)
                detail["client_impressions_before"] = sum(
                    ctx["shown"].values())
            if rule == "exclude_dismissed":
                detail["dismissed_age_days"] = round(
                    (ctx["now"] - ctx["facts"]["dismissed"][iid]) / DAY, 2)
            violation("rule:" + rule, detail)
    mpc = rules.get("max_per_category")
    if mpc:
        for cat, n in per_category.items():
            if n > mpc:
                violation("rule:max_per_category",
                          dict(where, category=cat, count=n, limit=mpc))
    if len(items) < k:
        # Every allowed item was considered: the list must be as long as
        # k, the allowed items and max_per_category permit.
        st["short_checked"] += 1
        counts = checker.allowed_by_category(ctx)
        possible = sum(min(n, mpc) if mpc else n for n in counts.values())
        want = min(k, possible)
        if len(items) != want:
            violation("short_list", dict(
                where, k=k, got=len(items), expected=want,
                allowed_by_category=dict(counts),
                empty_reason=doc.get("empty_reason")))
    if not items and not (isinstance(doc.get("empty_reason"), str)
                          and doc["empty_reason"]):
        violation("empty_reason", dict(where, doc=str(doc)[:300]))
    if explain:
        st["explained"] += 1
        check_explain(checker, ctx, doc, where, violation)


def check_explain(checker, ctx, doc, where, violation):
    ex = doc.get("rules")
    if not isinstance(ex, dict):
        violation("explain", dict(where, rules=ex))
        return
    want_version = checker.versions.get(ctx["brand"]) \
        if ctx["rules"] is not None else None
    if ex.get("version") != want_version:
        violation("explain", dict(where, what="version",
                                  got=ex.get("version"), want=want_version))
    allowed, removed = checker.explain_counts(ctx)
    got_removed = dict(ex.get("removed") or {})
    got_removed.pop("max_per_category", None)
    if ex.get("candidates") != len(checker.items) or \
            ex.get("allowed") != allowed or got_removed != removed:
        violation("explain", dict(where, what="counts",
                                  got={"candidates": ex.get("candidates"),
                                       "allowed": ex.get("allowed"),
                                       "removed": got_removed},
                                  want={"candidates": len(checker.items),
                                        "allowed": allowed,
                                        "removed": removed}))


# ---------------------------------------------------------------- tests


def state():
    """Runs the workload once; a failure fails every test with it."""
    global STATE
    if STATE is None:
        try:
            STATE = run_workload()
        except Exception as e:      # every test reports the same failure
            STATE = e
    if isinstance(STATE, Exception):
        raise mt.TestFailure("the workload did not complete: %s: %s"
                             % (type(STATE).__name__, STATE))
    return STATE


def report(kinds):
    st = state()
    lines = []
    total = 0
    for kind in kinds:
        found = st["violations"].get(kind, [])
        total += len(found)
        for detail in found[:5]:
            lines.append("%s: %s" % (kind, json.dumps(detail, default=str,
                                                      sort_keys=True)[:900]))
    check(total == 0, "%d violation(s) (seed %d); first ones:\n%s"
          % (total, st["seed"], "\n".join(lines)))


@test
def test_every_response_is_well_formed():
    st = state()
    check(st["requests"] >= 10000, "only %d requests made" % st["requests"])
    report(["http", "shape", "k", "unknown_item", "duplicate", "item_fields",
            "score", "score_order", "reasons", "empty_reason"])


@test
def test_every_returned_item_obeys_every_rule():
    st = state()
    report(sorted(kind for kind in st["violations"]
                  if kind.startswith("rule:")))


@test
def test_short_lists_hold_every_allowed_item():
    report(["short_list"])


@test
def test_personalized_only_with_consent_and_events():
    st = state()
    report(["consent"])
    check(st["personalized"] > 0,
          "no response was personalized at all: the consent check means "
          "nothing")


@test
def test_explain_rules_counts_match_the_checker():
    st = state()
    check(st["explained"] >= 50, "only %d explained requests"
          % st["explained"])
    report(["explain"])


@test
def test_lists_are_not_trivially_empty():
    st = state()
    share = st["nonempty"] / max(st["requests"], 1)
    check(share > 0.5, "only %.1f%% of the responses had items"
          % (100 * share))


def main():
    global SRV
    mt.require_environment()
    SRV = mt.Maisond(name="maisond-rules-random",
                     extra_args=["--model", "cand_max=64"])
    t0 = time.monotonic()
    try:
        try:
            SRV.start()
        except mt.StartError as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1
        rc = mt.run_tests()
        if not SRV.alive():
            print("maisond died during the run; log:\n%s" % SRV.log_tail())
            rc = 1
        return rc
    finally:
        SRV.stop()
        SRV.cleanup()
        print("total %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main())
