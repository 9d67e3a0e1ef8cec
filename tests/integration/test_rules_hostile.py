#!/usr/bin/env python3
"""test_rules_hostile: brand rule sets from a hostile or careless client.

- Hostile rule sets (unknown kinds, wrong types, negative numbers, lists
  and tier maps over the 1000-entry limit, strings over 128 bytes, deeply
  nested values, non-object and malformed bodies) get 400 invalid_input
  naming the field, never change the rules in force, and never crash the
  daemon (GET /healthz answers after each one).
- Contradictory rules (allow only excluded categories, an empty allow
  list, min price above max price, a tier's floor above the maximum) are
  accepted, and recommendations come back 200 with an empty list and a
  reason.
- A rule change applies to the very next recommendation; versions go up
  by one per PUT; GET returns the current version.
- ?explain=rules reports exact per-rule removal counts and the version.
- Canonical rules put back give the same rules; concurrent PUTs get
  distinct, consecutive versions.
- The frequency cap holds for a client shown more than 512 items a day
  and over a restart.
- Rules survive a restart (SIGTERM, start again): same versions, same
  rules, and recommendations still obey them, also on a daemon whose
  clients have attributes.
Takes about 5 s.
"""

import json
import sys
import threading
import time
import urllib.parse

import maison_test as mt
from maison_test import check, check_eq, check_error, test

SRV = None
DAY = 86400
NOW = int(time.time())
ITEMS = []          # every item this test put, in order


def rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def item(item_id, brand, category, price, **over):
    doc = {"item_id": item_id, "brand": brand, "category": category,
           "price": price, "available": True}
    doc.update(over)
    return doc


def catalog():
    items = []
    # "xplain": one item removed by each rule, ten allowed (x01..x10).
    for i in range(1, 9):
        items.append(item("x%02d" % i, "xplain", "bags", 100.0 + 100 * i))
    items.append(item("x09", "xplain", "shoes", 300.0))
    items.append(item("x10", "xplain", "shoes", 400.0))
    items += [
        item("x11", "xplain", "bags", 300.0, available=False),
        item("x12", "xplain", "bags", 300.0, stock=0),
        item("x13", "xplain", "bags", 300.0,
             launch_at=rfc3339(NOW + 30 * DAY)),
        item("x14", "xplain", "bags", 300.0,
             launch_at=rfc3339(NOW - 300 * DAY),
             end_at=rfc3339(NOW - 3 * DAY)),
        item("x15", "xplain", "bags", 300.0, regions=["JP"]),
        item("x16", "xplain", "bags", 300.0, reserved_tiers=["vip"]),
        item("x17", "xplain", "jewelry", 300.0),
        item("x18", "xplain", "outlet", 300.0),
        item("x19", "xplain", "bags", 50.0),
        item("x20", "xplain", "bags", 5000.0),
        item("x21", "xplain", "bags", 300.0),      # purchased
        item("x22", "xplain", "bags", 300.0),      # dismissed
    ]
    for i in range(1, 11):
        items.append(item("s%02d" % i, "swift",
                          "bags" if i % 2 else "shoes", 100.0 * i))
    for i in range(1, 9):
        items.append(item("k%02d" % i, "contra",
                          ["bags", "shoes"][i % 2], 100.0 * i))
    for i in range(1, 6):
        items.append(item("o%02d" % i, "other", "bags", 100.0 * i))
    # "capx": more items than a client's impression list keeps (512).
    for i in range(600):
        items.append(item("cap%03d" % i, "capx", "bags", 10.0 + i))
    return items


def recs(client, brand=None, k=10, explain=False, region=None):
    q = [("k", str(k))]
    if brand:
        q.append(("brand", brand))
    if region:
        q.append(("region", region))
    if explain:
        q.append(("explain", "rules"))
    r = SRV.get("/v1/clients/%s/recommendations?%s"
                % (client, urllib.parse.urlencode(q)))
    check(r.status == 200,
          "recommendations for %s/%s: %r" % (client, brand, r))
    return r.json()


def ids(doc):
    return [e["item_id"] for e in doc["items"]]


def put_rules(brand, rules):
    r = SRV.put("/v1/brands/%s/rules" % urllib.parse.quote(brand, safe=""),
                rules)
    check(r.status == 200, "PUT rules %s %r: %r" % (brand, rules, r))
    doc = r.json()
    check(doc.get("brand") == brand and isinstance(doc.get("version"), int)
          and isinstance(doc.get("rules"), dict),
          "PUT rules reply must be {brand, version, rules}: %r" % doc)
    return doc


def get_rules(brand):
    r = SRV.get("/v1/brands/%s/rules" % brand)
    check(r.status == 200, "GET rules %s: %r" % (brand, r))
    return r.json()


def healthy(after):
    check(SRV.alive(), "maisond died after %s; log:\n%s"
          % (after, SRV.log_tail()))
    r = SRV.get("/healthz")
    check(r.status == 200, "GET /healthz after %s: %r" % (after, r))


def post_events(events):
    r = SRV.post("/v1/events", {"events": events})
    check(r.status == 200 and r.json().get("accepted") == len(events),
          "POST /v1/events: %r" % r)


def same_rules(a, b):
    """Canonical rule documents compare equal (numbers as floats)."""
    return json.dumps(a, sort_keys=True, default=float) == \
        json.dumps(b, sort_keys=True, default=float)


def nested(depth, leaf):
    doc = leaf
    for _ in range(depth):
        doc = {"a": doc}
    return doc


def nested_list(depth):
    return "[" * depth + "]" * depth


# Each: (description, body (JSON value or raw bytes), field the 400 must
# name). The brand's rules in force must not change.
HOSTILE = [
    ("unknown kind", {"per_week_cap": 3}, "per_week_cap"),
    ("unknown kind next to valid ones",
     {"max_per_category": 2, "exclude_brands": ["x"]}, "exclude_brands"),
    ("unknown sub-field", {"frequency_cap": {"per_week": 1}},
     "frequency_cap.per_week"),
    ("unknown price field", {"price": {"floor": 10}}, "price.floor"),
    ("unknown categories field", {"categories": {"only": ["bags"]}},
     "categories.only"),
    ("unknown exclude_purchased field",
     {"exclude_purchased": {"enabled": True, "days": 3}},
     "exclude_purchased.days"),
    ("categories not an object", {"categories": ["bags"]}, "categories"),
    ("categories null", {"categories": None}, "categories"),
    ("allow a string", {"categories": {"allow": "bags"}}, "categories.allow"),
    ("allow of numbers", {"categories": {"allow": [1, 2]}},
     "categories.allow[0]"),
    ("exclude with null", {"categories": {"exclude": ["bags", None]}},
     "categories.exclude[1]"),
    ("empty category name", {"categories": {"exclude": [""]}},
     "categories.exclude[0]"),
    ("category name over 128 bytes",
     {"categories": {"allow": ["b" * 129]}}, "categories.allow[0]"),
    ("category name of 65 two-byte characters (130 bytes)",
     {"categories": {"allow": ["\u00e9" * 65]}}, "categories.allow[0]"),
    ("allow list over 1000 entries",
     {"categories": {"allow": ["c%d" % i for i in range(1001)]}},
     "categories.allow"),
    ("exclude list over 1000 entries",
     {"categories": {"exclude": ["c%d" % i for i in range(5000)]}},
     "categories.exclude"),
    ("price not an object", {"price": 100}, "price"),
    ("negative price.min", {"price": {"min": -1}}, "price.min"),
    ("price.min a string", {"price": {"min": "100"}}, "price.min"),
    ("price.min null", {"price": {"min": None}}, "price.min"),
    ("negative price.max", {"price": {"max": -0.01}}, "price.max"),
    ("price.max a bool", {"price": {"max": True}}, "price.max"),
    ("min_by_tier an array", {"price": {"min_by_tier": [100]}},
     "price.min_by_tier"),
    ("negative min_by_tier", {"price": {"min_by_tier": {"vip": -5}}},
     "price.min_by_tier.vip"),
    ("max_by_tier a string value",
     {"price": {"max_by_tier": {"client": "900"}}},
     "price.max_by_tier.client"),
    ("min_by_tier over 1000 tiers",
     {"price": {"min_by_tier": {"t%d" % i: 1 for i in range(1001)}}},
     "price.min_by_tier"),
    ("tier name over 128 bytes",
     {"price": {"max_by_tier": {"t" * 129: 10}}}, "price.max_by_tier"),
    ("empty tier name", {"price": {"min_by_tier": {"": 10}}},
     "price.min_by_tier"),
    ("negative max_per_category", {"max_per_category": -1},
     "max_per_category"),
    ("zero max_per_category", {"max_per_category": 0}, "max_per_category"),
    ("fractional max_per_category", {"max_per_category": 1.5},
     "max_per_category"),
    ("max_per_category a string", {"max_per_category": "3"},
     "max_per_category"),
    ("max_per_category a bool", {"max_per_category": True},
     "max_per_category"),
    ("huge max_per_category", {"max_per_category": 10 ** 15},
     "max_per_category"),
    ("max_per_category beyond int64",
     b'{"max_per_category": 99999999999999999999999}', None),
    ("frequency_cap a number", {"frequency_cap": 3}, "frequency_cap"),
    ("frequency_cap empty", {"frequency_cap": {}},
     "frequency_cap.max_per_item_per_day"),
    ("frequency_cap zero", {"frequency_cap": {"max_per_item_per_day": 0}},
     "frequency_cap.max_per_item_per_day"),
    ("frequency_cap negative",
     {"frequency_cap": {"max_per_item_per_day": -3}},
     "frequency_cap.max_per_item_per_day"),
    ("frequency_cap a float",
     {"frequency_cap": {"max_per_item_per_day": 2.5}},
     "frequency_cap.max_per_item_per_day"),
    ("exclude_purchased a bool", {"exclude_purchased": True},
     "exclude_purchased"),
    ("exclude_purchased.enabled a string",
     {"exclude_purchased": {"enabled": "yes"}}, "exclude_purchased.enabled"),
    ("repurchasable_categories of objects",
     {"exclude_purchased": {"repurchasable_categories": [{"a": 1}]}},
     "exclude_purchased.repurchasable_categories[0]"),
    ("repurchasable_categories over 1000",
     {"exclude_purchased": {"repurchasable_categories":
                            ["r%d" % i for i in range(1001)]}},
     "exclude_purchased.repurchasable_categories"),
    ("negative exclude_dismissed_days", {"exclude_dismissed_days": -1},
     "exclude_dismissed_days"),
    ("huge exclude_dismissed_days", {"exclude_dismissed_days": 10 ** 9},
     "exclude_dismissed_days"),
    ("exclude_dismissed_days a string", {"exclude_dismissed_days": "30"},
     "exclude_dismissed_days"),
    ("exclude_dismissed_days null", {"exclude_dismissed_days": None},
     "exclude_dismissed_days"),
    ("exclude_dismissed_days fractional", {"exclude_dismissed_days": 1.5},
     "exclude_dismissed_days"),
    ("unknown key over 128 bytes", {"k" * 5000: 1}, "k" * 64),
    ("deeply nested value in price.min",
     {"price": {"min": nested(200, 1)}}, "price.min"),
    ("deeply nested value in allow",
     {"categories": {"allow": [nested(200, "bags")]}},
     "categories.allow[0]"),
    ("deeply nested value in a tier map",
     {"price": {"min_by_tier": {"vip": nested(300, 5)}}},
     "price.min_by_tier.vip"),
    ("100,000 nested arrays", nested_list(100000).encode(), None),
    ("100,000 nested objects in a kind",
     ('{"categories":' + '{"a":' * 100000 + '1' + '}' * 100001).encode(),
     None),
    ("an array body", [], None),
    ("a string body", "rules", None),
    ("a number body", 42, None),
    ("a null body", None, None),
    ("a bool body", True, None),
    ("an empty body", b"", None),
    ("malformed JSON", b'{"max_per_category": 2', None),
    ("trailing garbage", b'{"max_per_category": 2} {"x":1}', None),
    ("duplicate keys", b'{"max_per_category": 2, "max_per_category": 3}',
     None),
    ("NUL in a category", b'{"categories":{"allow":["ba\\u0000gs"]}}', None),
    ("invalid UTF-8 in a category", b'{"categories":{"allow":["\xff\xfe"]}}',
     None),
    ("number overflowing a double", b'{"price":{"min":1e400}}', None),
]


def send_raw(brand, body):
    path = "/v1/brands/%s/rules" % brand
    if isinstance(body, bytes):
        return SRV.put(path, body)
    return SRV.put(path, json.dumps(body).encode())


# ---------------------------------------------------------------- tests


@test
def test_hostile_rule_sets_get_400_naming_the_field_and_change_nothing():
    before = put_rules("swift", {"max_per_category": 3})
    problems = []
    for what, body, field in HOSTILE:
        try:
            r = send_raw("swift", body)
        except OSError as e:
            problems.append("%s: no answer (%s)" % (what, e))
            healthy(what)
            continue
        if r.status != 400:
            problems.append("%s: expected 400, got %r" % (what, r))
        else:
            try:
                check_error(r, 400, "invalid_input", field)
            except mt.TestFailure as e:
                problems.append("%s: %s" % (what, e))
        healthy(what)
    now = get_rules("swift")
    check(now["version"] == before["version"] and
          same_rules(now["rules"], before["rules"]),
          "a rejected PUT changed the rules: before %r, after %r"
          % (before, now))
    check(not problems, "%d of %d hostile rule sets mishandled:\n%s"
          % (len(problems), len(HOSTILE), "\n".join(problems)))


@test
def test_oversized_rule_body_is_refused_and_the_daemon_lives():
    body = {"categories": {"allow": ["c" * 100] * 20000}}  # ~2 MiB
    r = SRV.put("/v1/brands/swift/rules", body)
    check(r.status in (400, 413), "2 MiB rule set: expected 413 or 400, got %r"
          % r)
    healthy("a 2 MiB rule set")


@test
def test_bad_brand_in_the_path_is_refused():
    r = SRV.put("/v1/brands/%s/rules" % ("b" * 129), {"max_per_category": 1})
    check_error(r, 400, "invalid_input", "brand")
    healthy("a 129-byte brand")
    r = SRV.get("/v1/brands/no-such-brand-rules/rules")
    check_error(r, 404, "not_found")


@test
def test_valid_edge_values_are_accepted():
    cases = [
        {},
        {"price": {"max": None}},
        {"max_per_category": 1000000},
        {"frequency_cap": None},
        {"frequency_cap": {"max_per_item_per_day": 1000000}},
        {"exclude_dismissed_days": 0},
        {"exclude_dismissed_days": 3650},
        {"categories": {"allow": ["c%d" % i for i in range(1000)]}},
        {"categories": {"allow": ["b" * 128]}},
        {"price": {"min_by_tier": {"t" * 128: 0}}},
        {"exclude_purchased": {}},
    ]
    for body in cases:
        put_rules("edge", body)
        healthy("edge rules %s" % json.dumps(body)[:80])


@test
def test_versions_increment_and_get_returns_the_current_one():
    first = put_rules("swift", {"max_per_category": 1})
    second = put_rules("swift", {"max_per_category": 2})
    third = put_rules("swift", {"categories": {"exclude": ["shoes"]},
                                "price": {"min": 100}})
    check_eq([second["version"] - first["version"],
              third["version"] - second["version"]], [1, 1],
             "version steps of three PUTs")
    got = get_rules("swift")
    check_eq(got["version"], third["version"], "GET version")
    check(same_rules(got["rules"], third["rules"]),
          "GET rules %r, expected the last PUT %r" % (got, third))
    check_eq(got["rules"].get("categories"), {"exclude": ["shoes"]},
             "GET categories")
    check_eq(float(got["rules"]["price"]["min"]), 100.0, "GET price.min")
    # Versions are per brand.
    other = put_rules("other", {"max_per_category": 5})
    again = put_rules("other", {"max_per_category": 4})
    check_eq(again["version"], other["version"] + 1, "other brand's version")
    check_eq(get_rules("swift")["version"], third["version"],
             "swift's version after other's PUTs")


@test
def test_canonical_rules_put_back_give_the_same_rules():
    rules = {"categories": {"allow": [], "exclude": ["outlet", "b\u00e9"]},
             "price": {"min": 0, "max": None, "min_by_tier": {"vip": 12.5},
                       "max_by_tier": {}},
             "max_per_category": 7,
             "frequency_cap": {"max_per_item_per_day": 2},
             "exclude_purchased": {"enabled": False,
                                   "repurchasable_categories": []},
             "exclude_dismissed_days": 0}
    first = put_rules("roundtrip", rules)
    second = put_rules("roundtrip", first["rules"])
    check(same_rules(first["rules"], second["rules"]),
          "canonical rules changed when put back: %r -> %r"
          % (first["rules"], second["rules"]))
    check_eq(second["version"], first["version"] + 1, "version")
    got = first["rules"]
    check_eq(got["categories"]["allow"], [], "an empty allow list is kept")
    check_eq(got["exclude_purchased"]["enabled"], False,
             "exclude_purchased.enabled")
    check_eq(got["exclude_dismissed_days"], 0, "exclude_dismissed_days 0")


@test
def test_concurrent_rule_writes_get_distinct_consecutive_versions():
    start = put_rules("race", {"max_per_category": 1})["version"]
    versions = []
    errors = []
    lock = threading.Lock()

    def writer(t):
        for i in range(15):
            try:
                r = SRV.put("/v1/brands/race/rules",
                            {"max_per_category": 1 + t * 100 + i})
                with lock:
                    if r.status == 200:
                        versions.append((r.json()["version"],
                                         1 + t * 100 + i))
                    else:
                        errors.append(repr(r))
            except Exception as e:      # reported below
                with lock:
                    errors.append(repr(e))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    check(not errors, "concurrent PUTs failed: %s" % errors[:3])
    got = sorted(v for v, _ in versions)
    check_eq(got, list(range(start + 1, start + 61)),
             "versions of 60 concurrent PUTs")
    last = max(versions)
    now = get_rules("race")
    check(now["version"] == last[0] and
          now["rules"].get("max_per_category") == last[1],
          "GET after concurrent PUTs: %r, expected version %d with "
          "max_per_category %d" % (now, last[0], last[1]))


@test
def test_rules_apply_to_the_very_next_recommendation():
    categories = {"s%02d" % i: "bags" if i % 2 else "shoes"
                  for i in range(1, 11)}
    client = "cl-swift"
    for round_ in range(6):
        shown_cat = "bags" if round_ % 2 else "shoes"
        hidden = "shoes" if shown_cat == "bags" else "bags"
        put_rules("swift", {"categories": {"exclude": [hidden]}})
        got = ids(recs(client, "swift", k=10))
        check(got, "round %d: no items at all" % round_)
        wrong = [i for i in got if categories[i] == hidden]
        check(not wrong, "round %d: %s excluded, yet the next "
              "recommendation had %r" % (round_, hidden, wrong))
    put_rules("swift", {"price": {"max": 300}})
    got = ids(recs(client, "swift", k=10))
    check(sorted(got) == ["s01", "s02", "s03"],
          "price.max 300 at once: expected s01..s03, got %r" % got)
    put_rules("swift", {"price": {"min": 800}})
    got = ids(recs(client, "swift", k=10))
    check(sorted(got) == ["s08", "s09", "s10"],
          "price.min 800 at once: expected s08..s10, got %r" % got)


def check_empty_with_reason(doc, what, words):
    check(doc["items"] == [], "%s: expected no items, got %r"
          % (what, ids(doc)))
    reason = doc.get("empty_reason")
    check(isinstance(reason, str) and reason,
          "%s: an empty list must say why (empty_reason), got %r"
          % (what, doc))
    check(any(w in reason for w in words),
          "%s: reason %r should mention one of %r" % (what, reason, words))


@test
def test_contradictory_rules_are_accepted_and_give_empty_lists_with_a_reason():
    client = "cl-contra"
    r = SRV.put("/v1/clients/%s/attributes" % client, {"tier": "client"})
    check(r.status == 200, "attributes: %r" % r)
    check(len(recs(client, "contra")["items"]) == 8,
          "before any rule all 8 contra items are shown")
    cases = [
        ({"categories": {"allow": ["bags"], "exclude": ["bags"]}},
         ["categories.allow", "categories"]),
        ({"categories": {"allow": ["bags", "shoes"],
                         "exclude": ["shoes", "bags"]}},
         ["categories"]),
        ({"categories": {"allow": []}}, ["categories.allow", "categories"]),
        ({"price": {"min": 500, "max": 100}}, ["price", "minimum"]),
        ({"price": {"min_by_tier": {"client": 900}, "max": 800}},
         ["price", "minimum"]),
    ]
    for rules, words in cases:
        put_rules("contra", rules)
        what = "rules %s" % json.dumps(rules)
        check_empty_with_reason(recs(client, "contra"), what, words)
        ex = recs(client, "contra", explain=True)
        check_empty_with_reason(ex, what + " (explain)", words)
        check(isinstance(ex.get("rules"), dict) and ex["rules"].get("reason"),
              "%s: explain=rules must carry the reason: %r" % (what, ex))
        healthy(what)
    # A tier's contradiction hits only that tier.
    put_rules("contra", {"price": {"min_by_tier": {"vip": 900}, "max": 800}})
    check(len(recs(client, "contra")["items"]) == 8,
          "a vip-only contradiction must not empty a client-tier list")
    vip = "cl-contra-vip"
    SRV.put("/v1/clients/%s/attributes" % vip, {"tier": "vip"})
    check_empty_with_reason(recs(vip, "contra"), "vip floor above max",
                            ["price", "minimum"])


@test
def test_empty_reason_names_the_rule_that_emptied_the_brand():
    # Not a contradiction: the brand's items all fail one rule. The reason
    # must name that rule, not "brand" (the other brands' items, which a
    # brand request never looks at).
    client = "cl-contra"
    cases = [
        ({"categories": {"allow": ["no-such-category"]}}, "categories.allow"),
        ({"categories": {"exclude": ["bags", "shoes"]}}, "categories.exclude"),
        ({"price": {"min": 100000}}, "price.min"),
    ]
    problems = []
    for rules, rule in cases:
        put_rules("contra", rules)
        doc = recs(client, "contra")
        reason = doc.get("empty_reason") or ""
        if doc["items"] or '"%s"' % rule not in reason:
            problems.append("rules %s: expected no items and a reason naming "
                            "%r, got items %r, reason %r"
                            % (json.dumps(rules), rule, ids(doc), reason))
    check(not problems, "\n".join(problems))


@test
def test_explain_rules_reports_per_rule_counts_and_the_version():
    client = "cl-xplain"
    r = SRV.put("/v1/clients/%s/attributes" % client,
                {"tier": "client", "region": "FR"})
    check(r.status == 200, "attributes: %r" % r)
    post_events([
        {"event_id": "hx-1", "client_id": client, "item_id": "x21",
         "type": "purchase", "ts": NOW - 2 * DAY},
        {"event_id": "hx-2", "client_id": client, "item_id": "x22",
         "type": "dismiss", "ts": NOW - 2 * DAY},
        {"event_id": "hx-3", "client_id": client, "item_id": "x01",
         "type": "view"},
    ])
    rules = {"categories": {"allow": ["bags", "shoes", "outlet"],
                            "exclude": ["outlet"]},
             "price": {"min": 100, "max": 2000},
             "exclude_purchased": {"enabled": True},
             "exclude_dismissed_days": 30,
             "frequency_cap": {"max_per_item_per_day": 1}}
    v1 = put_rules("xplain", rules)["version"]
    n_total = len(ITEMS)
    n_brand = sum(1 for d in ITEMS if d["brand"] == "xplain")
    want = {"brand": n_total - n_brand, "available": 1, "stock": 1,
            "launch_at": 1, "end_at": 1, "region": 1, "reserved_tiers": 1,
            "categories.allow": 1, "categories.exclude": 1, "price.min": 1,
            "price.max": 1, "exclude_purchased": 1, "exclude_dismissed": 1}
    doc = recs(client, "xplain", k=2, explain=True)
    ex = doc.get("rules")
    check(isinstance(ex, dict), "explain=rules gave no rules object: %r" % doc)
    check_eq(ex.get("version"), v1, "explain version")
    check_eq(ex.get("candidates"), n_total, "explain candidates")
    check_eq(ex.get("allowed"), 10, "explain allowed")
    check_eq(ex.get("removed"), want, "explain removed (first request)")
    first = ids(doc)
    check(len(first) == 2, "k=2 gave %r" % first)
    # The two items just shown hit the frequency cap of 1.
    doc = recs(client, "xplain", k=2, explain=True)
    ex = doc["rules"]
    check_eq(ex.get("allowed"), 8, "explain allowed after a capped list")
    check_eq(ex.get("removed"), dict(want, frequency_cap=2),
             "explain removed (second request)")
    check(not set(first) & set(ids(doc)),
          "capped items %r shown again: %r" % (first, ids(doc)))
    # max_per_category counts what the limit skipped; a new version shows.
    v2 = put_rules("xplain", dict(rules, max_per_category=1))["version"]
    fresh = "cl-xplain-2"
    SRV.put("/v1/clients/%s/attributes" % fresh,
            {"tier": "client", "region": "FR"})
    doc = recs(fresh, "xplain", k=5, explain=True)
    ex = doc["rules"]
    check_eq(ex.get("version"), v2, "explain version after a PUT")
    got = ids(doc)
    check_eq(len(got), 2, "max_per_category 1 over bags and shoes")
    check_eq(ex.get("allowed"), 12, "explain allowed (no client facts)")
    removed = {k: v for k, v in want.items()
               if k not in ("exclude_purchased", "exclude_dismissed")}
    removed["max_per_category"] = 10
    check_eq(ex.get("removed"), removed, "explain removed with the limit")
    # Without a brand there is no rule set: version null.
    doc = recs(fresh, None, k=3, explain=True)
    check(doc["rules"].get("version", "absent") is None,
          "explain without a brand: version must be null, got %r"
          % doc["rules"])
    # Without explain there is no "rules" object.
    check("rules" not in recs(fresh, "xplain", k=3),
          "rules object present without explain=rules")


@test
def test_frequency_cap_holds_for_a_client_shown_over_512_items_a_day():
    # frequency_cap 1: an item is shown to a client at most once a day.
    # Seven lists of 100 from 600 items: the first six show every item
    # once, the seventh must be empty. A client reloading a page with 100
    # recommendations seven times is not unusual.
    put_rules("capx", {"frequency_cap": {"max_per_item_per_day": 1}})
    client = "cl-cap"
    seen = {}
    repeats = []
    for n in range(7):
        doc = recs(client, "capx", k=100)
        for iid in ids(doc):
            if iid in seen:
                repeats.append((iid, seen[iid], n))
            seen.setdefault(iid, n)
    check(len(seen) == 600, "expected all 600 items shown once, saw %d"
          % len(seen))
    check(not repeats, "frequency_cap 1 broken: %d item(s) shown twice "
          "within a day, e.g. %s (item, first list, repeated in list)"
          % (len(repeats), repeats[:5]))


@test
def test_purchased_and_dismissed_items_stay_excluded_past_64_of_them():
    # A client who bought 70 items (over a few years, common for a
    # boutique's best clients) or dismissed 70 this month: every one of
    # them stays excluded.
    put_rules("capx", {"exclude_purchased": {"enabled": True},
                       "exclude_dismissed_days": 30})
    bought = ["cap%03d" % i for i in range(100, 170)]
    dismissed = ["cap%03d" % i for i in range(200, 270)]
    events = []
    for n, iid in enumerate(bought):
        events.append({"event_id": "hb-%d" % n, "client_id": "cl-buyer",
                       "item_id": iid, "type": "purchase",
                       "ts": NOW - (700 - 10 * n) * DAY})
    for n, iid in enumerate(dismissed):
        events.append({"event_id": "hd-%d" % n, "client_id": "cl-dismisser",
                       "item_id": iid, "type": "dismiss",
                       "ts": NOW - DAY - 60 * (70 - n)})
    post_events(events)
    problems = []
    for client, rule, items in (("cl-buyer", "exclude_purchased", bought),
                                ("cl-dismisser", "exclude_dismissed",
                                 dismissed)):
        doc = recs(client, "capx", k=100, explain=True)
        removed = doc["rules"]["removed"].get(rule, 0)
        if removed != len(items):
            problems.append("%s: %r removed %d items, expected %d"
                            % (client, rule, removed, len(items)))
        shown = sorted(set(ids(doc)) & set(items))
        if shown:
            problems.append("%s: %d item(s) under %r shown: %s"
                            % (client, len(shown), rule, shown[:5]))
    check(not problems, "\n".join(problems))


def restart_and_compare(srv_brands_before):
    for b, doc in srv_brands_before.items():
        after = get_rules(b)
        check(after["version"] == doc["version"] and
              same_rules(after["rules"], doc["rules"]),
              "%s rules changed over a restart: %r -> %r" % (b, doc, after))


@test
def test_rules_survive_a_restart():
    """Rules alone (catalog, rules, one client without attributes) on a
    second daemon with its own database: SIGTERM, start, same rules."""
    global SRV
    main_srv = SRV
    srv = mt.Maisond(database_url=mt.create_database("rules_restart"),
                     name="maisond-rules-restart")
    SRV = srv
    try:
        srv.start()
        r = srv.put("/v1/catalog/items", {"items": ITEMS})
        check(r.status == 200, "catalog: %r" % r)
        put_rules("swift", {"max_per_category": 1})
        put_rules("swift", {"categories": {"exclude": ["bags"]},
                            "max_per_category": 2})
        put_rules("contra", {"price": {"min": 500, "max": 100}})
        put_rules("xplain", {"price": {"min_by_tier": {"vip": 10}, "max": 350},
                             "frequency_cap": {"max_per_item_per_day": 2},
                             "exclude_purchased": {
                                 "enabled": True,
                                 "repurchasable_categories": ["shoes"]},
                             "exclude_dismissed_days": 7})
        before = {b: get_rules(b) for b in ("swift", "contra", "xplain")}
        check_eq(srv.stop(), 0, "maisond exit status after SIGTERM")
        srv.start()
        restart_and_compare(before)
        got = recs("cl-restart", "swift", k=10)
        check(got["items"], "swift gave nothing after the restart")
        cats = [e["category"] for e in got["items"]]
        check("bags" not in cats and len(got["items"]) <= 2,
              "swift rules (no bags, max 2 per category) not obeyed after "
              "the restart: %r" % cats)
        check_empty_with_reason(recs("cl-restart", "contra"),
                                "contradiction after restart",
                                ["price", "minimum"])
        got = ids(recs("cl-restart", "xplain", k=20))
        check(got and all(d["price"] <= 350 for d in ITEMS
                          if d["item_id"] in got),
              "xplain price.max 350 not obeyed after the restart: %r" % got)
        nxt = put_rules("swift", {"max_per_category": 1})
        check_eq(nxt["version"], before["swift"]["version"] + 1,
                 "version after a restart continues")
    finally:
        SRV = main_srv
        srv.stop()
        srv.cleanup()


@test
def test_frequency_cap_survives_a_restart():
    """Impressions are part of the client's facts: a restart must not let
    an item capped today be shown again."""
    global SRV
    main_srv = SRV
    srv = mt.Maisond(database_url=mt.create_database("cap_restart"),
                     name="maisond-cap-restart", checkpoint_interval_s=1)
    SRV = srv
    try:
        srv.start()
        r = srv.put("/v1/catalog/items", {"items": ITEMS})
        check(r.status == 200, "catalog: %r" % r)
        put_rules("capx", {"frequency_cap": {"max_per_item_per_day": 1}})
        # cl-cap-quiet has no events; cl-cap-checkpointed had one, which a
        # checkpoint (every second) has saved before it is shown anything.
        post_events([{"event_id": "cr-1", "client_id": "cl-cap-checkpointed",
                      "item_id": "cap001", "type": "view"}])
        time.sleep(2.5)
        first = {c: ids(recs(c, "capx", k=20))
                 for c in ("cl-cap-quiet", "cl-cap-checkpointed")}
        check_eq(srv.stop(), 0, "maisond exit status after SIGTERM")
        srv.start()
        problems = []
        for client, shown in first.items():
            again = set(ids(recs(client, "capx", k=20))) & set(shown)
            if again:
                problems.append("%s: %d of the %d items shown before the "
                                "restart shown again, e.g. %s"
                                % (client, len(again), len(shown),
                                   sorted(again)[:3]))
        check(not problems, "frequency_cap 1 forgotten over a restart:\n%s"
              % "\n".join(problems))
    finally:
        SRV = main_srv
        srv.stop()
        srv.cleanup()


@test
def test_rules_survive_a_restart_of_a_daemon_with_client_attributes():
    """The same on the main daemon, whose clients have tiers and regions
    (PUT /v1/clients/{id}/attributes) as any real deployment's do."""
    put_rules("swift", {"categories": {"exclude": ["bags"]},
                        "max_per_category": 2})
    put_rules("contra", {"price": {"min": 500, "max": 100}})
    before = {}
    for b in ("swift", "contra", "xplain", "other", "edge"):
        r = SRV.get("/v1/brands/%s/rules" % b)
        if r.status == 200:
            before[b] = r.json()
    check(len(before) >= 4, "rules known before the restart: %r"
          % sorted(before))
    check_eq(SRV.stop(), 0, "maisond exit status after SIGTERM")
    try:
        SRV.start()
    except mt.StartError as e:
        raise mt.TestFailure("maisond does not start again after SIGTERM "
                             "(clients with attributes, rules): %s" % e)
    restart_and_compare(before)
    got = recs("cl-contra", "swift", k=10)
    cats = [e["category"] for e in got["items"]]
    check(got["items"] and "bags" not in cats and len(cats) <= 2,
          "swift rules not obeyed after the restart: %r" % cats)
    check_empty_with_reason(recs("cl-contra", "contra"),
                            "contradiction after restart",
                            ["price", "minimum"])


def main():
    global SRV
    mt.require_environment()
    SRV = mt.Maisond(name="maisond-rules-hostile")
    t0 = time.monotonic()
    try:
        try:
            SRV.start()
            ITEMS.extend(catalog())
            r = SRV.put("/v1/catalog/items", {"items": ITEMS})
            if r.status != 200:
                raise mt.StartError("loading the test catalog: %r" % r)
        except mt.StartError as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1

        def after_each(name):
            if not SRV.alive():
                log = SRV.log_tail()
                try:
                    SRV.start()
                except mt.StartError:
                    pass
                raise mt.TestFailure("maisond died during %s; log:\n%s"
                                     % (name, log))
        return mt.run_tests(after_each=after_each)
    finally:
        SRV.stop()
        SRV.cleanup()
        print("total %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main())
