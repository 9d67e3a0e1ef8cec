#!/usr/bin/env python3
"""test_catalog: list-valued item attributes and the catalog listing.

Attributes may be lists of strings or of numbers: they come back from GET
as given (also after a restart, read back from PostgreSQL), each entry is
an attribute token of the cold start, and a bad list (nested, objects,
mixed, too long, an oversized entry) refuses its whole batch.

GET /v1/catalog/items pages the live catalog in item id order with an
opaque keyset cursor: every item exactly once, filters by brand, category
and availability, a scoped key sees only its brands, and a change between
two pages shows at its place.

One maisond against the temporary cluster of tests/harness/with_pg.sh
(a fresh cluster per script, so this file knows every item it holds).
"""

import base64
import sys
import urllib.parse
import uuid

import maison_test as mt
from maison_test import check, check_eq, check_error, test

SRV = None
LIVE = {}            # item_id -> document, every live item of the daemon
MAX_ENTRIES = 64     # MZ_ATTRIBUTE_MAX_ENTRIES
MAX_VALUES = 256     # MZ_ITEM_MAX_ATTRIBUTE_VALUES


def uid(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def item(item_id, brand="lst-a", category="bags", price=100.0, **over):
    doc = {"item_id": item_id, "brand": brand, "category": category,
           "price": price, "currency": "EUR", "available": True,
           "stock": 5, "launch_at": "2020-01-01T00:00:00Z",
           "end_at": "2099-01-01T00:00:00Z"}
    doc.update(over)
    return doc


def put_ok(items):
    r = SRV.put("/v1/catalog/items", {"items": items})
    check_eq(r.status, 200, "PUT %d items: %r" % (len(items), r))
    for it in items:
        LIVE[it["item_id"]] = it
    return r


def listing(key="admin", **params):
    path = "/v1/catalog/items"
    if params:
        path += "?" + urllib.parse.urlencode(params)
    return SRV.get(path, key=key)


def list_ok(key="admin", **params):
    r = listing(key=key, **params)
    check_eq(r.status, 200, "GET listing %r: %r" % (params, r))
    doc = r.json()
    check_eq(sorted(doc), ["items", "next_cursor"], "listing keys")
    return doc


def list_all(key="admin", **params):
    """Every page of a listing; returns (ids in order, pages)."""
    ids, pages, cursor = [], 0, None
    while True:
        p = dict(params)
        if cursor is not None:
            p["cursor"] = cursor
        doc = list_ok(key=key, **p)
        pages += 1
        ids += [it["item_id"] for it in doc["items"]]
        cursor = doc["next_cursor"]
        if cursor is None:
            return ids, pages
        check(pages < 1000, "listing does not end")


def byte_order(ids):
    return sorted(ids, key=lambda i: i.encode())


def in_stock(doc):
    return doc.get("available", True) and doc.get("stock", -1) != 0


def new_key(roles, brands=None):
    body = {"name": "catalog-test", "roles": roles}
    if brands is not None:
        body["brands"] = brands
    r = SRV.post("/v1/keys", body)
    check_eq(r.status, 201, "POST /v1/keys: %r" % r)
    return r.json()["key"]


def recs(client_id, **params):
    path = "/v1/clients/%s/recommendations" % client_id
    r = SRV.get(path + "?" + urllib.parse.urlencode(params))
    check_eq(r.status, 200, "recommendations: %r" % r)
    return r.json()


# ------------------------------------------------------ list attributes


@test
def list_attributes_come_back_as_given_also_after_a_restart():
    attrs = {"materials": ["leather", "gold"], "sizes": [38, 40.5, 42],
             "none": [], "color": "black", "limited": True, "weight": 1.5}
    doc = item(uid("attr"), brand="attrs", attributes=attrs)
    put_ok([doc])
    path = "/v1/catalog/items/" + doc["item_id"]
    for when in ("after PUT", "after a restart"):
        r = SRV.get(path)
        check_eq(r.status, 200, "GET %s: %r" % (when, r))
        got = r.json()["attributes"]
        check_eq(got, attrs, "attributes %s" % when)
        # Entries keep their order; keys keep theirs until a restart
        # (PostgreSQL stores the document as jsonb, which orders keys).
        if when == "after PUT":
            check_eq(list(got), list(attrs), "attribute order")
        # 40.5 stays a real, 38 an integer: as written.
        check('"sizes":[38,40.5,42]' in r.text.replace(" ", ""),
              "numbers as given %s: %s" % (when, r.text))
        if when == "after PUT":
            SRV.restart()


@test
def list_entries_steer_the_cold_start_like_scalar_attributes():
    # Two clients, each viewing one item of a fresh brand; the items
    # differ only in their materials. Of two unseen candidates, also
    # alike but for one material, each client ranks first the one that
    # shares its item's material, in both directions, so neither the
    # ids nor the catalog order can make this pass.
    # A fixed brand (the cluster is fresh): the tokens, so the model's
    # cold rows, are the same at every run.
    brand = "goldsmith"
    base = dict(brand=brand, category="jewelry", price=800.0)
    put_ok([
        item(brand + "-seen-gold",
             attributes={"materials": ["gold", "enamel"]}, **base),
        item(brand + "-seen-silver",
             attributes={"materials": ["silver", "enamel"]}, **base),
        item(brand + "-cand-gold", attributes={"materials": ["gold"]},
             **base),
        item(brand + "-cand-silver", attributes={"materials": ["silver"]},
             **base),
    ])
    for metal, other in (("gold", "silver"), ("silver", "gold")):
        client = "c-" + metal
        r = SRV.post("/v1/events", {"events": [{
            "event_id": uid("ev"), "client_id": client, "type": "view",
            "item_id": "%s-seen-%s" % (brand, metal)}]})
        check_eq(r.status, 200, "view: %r" % r)
        doc = recs(client, brand=brand, k=10)
        check_eq(doc["personalized"], True, "personalized after a view")
        scores = {it["item_id"]: it["score"] for it in doc["items"]}
        mine, theirs = brand + "-cand-" + metal, brand + "-cand-" + other
        check(mine in scores and theirs in scores,
              "both candidates recommended: %r" % scores)
        print("    %s viewer: %s %.6f, %s %.6f" % (
            metal, mine, scores[mine], theirs, scores[theirs]))
        check(scores[mine] > scores[theirs],
              "%s viewer: %s (%r) must outrank %s (%r)"
              % (metal, mine, scores[mine], theirs, scores[theirs]))


def check_refused(attributes, field, limit_text):
    good = item(uid("good"))
    bad = item(uid("bad"), attributes=attributes)
    r = SRV.put("/v1/catalog/items", {"items": [good, bad]})
    err = check_error(r, 400, "invalid_input", "items[1].attributes" + field)
    check(limit_text in err["message"],
          "message must say %r: %r" % (limit_text, err["message"]))
    check_eq(SRV.get("/v1/catalog/items/" + good["item_id"]).status, 404,
             "the good item of a refused batch is not stored")


@test
def bad_lists_refuse_the_whole_batch_naming_field_and_limit():
    check_refused({"m": ["a", ["b"]]}, ".m[1]", "string or a number")
    check_refused({"m": [{"k": "v"}]}, ".m[0]", "not a list, object")
    check_refused({"m": [True]}, ".m[0]", "boolean")
    check_refused({"m": [None]}, ".m[0]", "null")
    check_refused({"m": ["a", 1]}, ".m[1]", "not both")
    check_refused({"m": [1, "a"]}, ".m[1]", "not both")
    check_refused({"m": list(range(MAX_ENTRIES + 1))}, ".m",
                  "at most %d entries" % MAX_ENTRIES)
    check_refused({"m": ["ok", "x" * 129]}, ".m[1]", "at most 128 bytes")
    check_refused({"k%d" % k: list(range(60)) for k in range(5)}, ":",
                  "at most %d values" % MAX_VALUES)
    check_refused({"m": {"nested": 1}}, ".m", "a list of strings or of "
                  "numbers")
    # At the limits exactly (4 lists of 64: 256 values): accepted.
    put_ok([item(uid("edge"), brand="attrs", attributes={
        "m": ["x" * 128] + ["e%d" % i for i in range(MAX_ENTRIES - 1)],
        "n": list(range(MAX_ENTRIES)),
        **{"k%d" % k: list(range(MAX_ENTRIES)) for k in range(2)}})])


# ------------------------------------------------------------- listing


@test
def listing_pages_every_item_exactly_once_in_id_order():
    ids, pages = list_all(limit=100)
    check_eq(len(ids), len(set(ids)), "no item twice")
    check_eq(ids, byte_order(LIVE), "every live item, in id order")
    check(len(ids) >= 250, "the listing catalog holds 250+ items")
    check_eq(pages, (len(ids) + 99) // 100, "pages of 100")
    # The default page is 100; limit=1000 takes all in one page.
    check_eq(len(list_ok()["items"]), 100, "default limit")
    doc = list_ok(limit=1000)
    check_eq([it["item_id"] for it in doc["items"]], ids, "one big page")
    check_eq(doc["next_cursor"], None, "no cursor after the last page")


@test
def listing_items_are_the_stored_documents():
    doc = list_ok(brand="lst-b", limit=3)
    for listed in doc["items"]:
        r = SRV.get("/v1/catalog/items/" + listed["item_id"])
        check_eq(listed, r.json(), "listed as GET shows it")


@test
def listing_filters_by_brand_category_and_availability():
    cases = [
        ({"brand": "lst-a"}, lambda d: d["brand"] == "lst-a"),
        ({"brand": "lst-b", "category": "shoes"},
         lambda d: d["brand"] == "lst-b" and d["category"] == "shoes"),
        ({"category": "bags"}, lambda d: d["category"] == "bags"),
        ({"available": "true"}, in_stock),
        ({"available": "false"}, lambda d: not in_stock(d)),
        ({"brand": "lst-a", "available": "false"},
         lambda d: d["brand"] == "lst-a" and not in_stock(d)),
    ]
    for params, keep in cases:
        want = byte_order(i for i, d in LIVE.items() if keep(d))
        check(want, "case %r selects something" % params)
        got, _ = list_all(limit=7, **params)
        check_eq(got, want, "listing %r" % params)
    for params in ({"brand": "no-such-brand"}, {"category": "no-such"}):
        doc = list_ok(**params)
        check_eq(doc, {"items": [], "next_cursor": None}, repr(params))


@test
def scoped_key_lists_only_its_brands():
    key = new_key(["merchandising"], ["lst-b"])
    got, _ = list_all(key=key, limit=40)
    check_eq(got, byte_order(i for i, d in LIVE.items()
                             if d["brand"] == "lst-b"), "scoped listing")
    got, _ = list_all(key=key, brand="lst-b", category="bags")
    check(got and all(LIVE[i]["brand"] == "lst-b" for i in got),
          "its own brand by name")
    check_error(listing(key=key, brand="lst-a"), 403, "forbidden", "lst-a")
    check_error(listing(key=new_key(["ingest"])), 403, "forbidden")
    check_error(listing(key=None), 401, "unauthorized")


@test
def bad_cursor_limit_or_available_is_400():
    for limit in ("0", "1001", "-1", "ten", "", "1e2"):
        check_error(listing(limit=limit), 400, "invalid_input", "limit")

    def b64(raw):
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    for cursor in ("", "!!!", "not-a-cursor", b64(b"lst-a-0001"),
                   b64(b"id:"), b64(b"id:" + b"x" * 129),
                   b64(b"id:a\x00b"), b64(b"id:\xff"),
                   b64(b"id:abc") + "=", "A" * 300):
        check_error(listing(cursor=cursor), 400, "invalid_input", "cursor")
    for available in ("yes", "1", "TRUE", ""):
        check_error(listing(available=available), 400, "invalid_input",
                    "available")
    check_error(listing(brand="x" * 129), 400, "invalid_input", "brand")
    r = SRV.post("/v1/catalog/items", {"items": []})
    check_eq(r.status, 405, "POST on the listing")
    check_eq(r.header("Allow"), "GET, PUT", "Allow")


@test
def changes_between_pages_show_at_their_place():
    first = list_ok(brand="lst-a", limit=100)
    cursor = first["next_cursor"]
    last = first["items"][-1]["item_id"]
    check(cursor is not None, "lst-a has more than one page")
    ahead = last + "-new"          # sorts right after the last id shown
    behind = "lst-a-0000-new"      # sorts before the cursor
    put_ok([item(ahead), item(behind)])
    gone = byte_order(i for i in LIVE
                      if i > last and LIVE[i]["brand"] == "lst-a")[3]
    check_eq(SRV.delete("/v1/catalog/items/" + gone).status, 204, "delete")
    del LIVE[gone]
    rest, seen = [], first["items"]
    while cursor is not None:
        doc = list_ok(brand="lst-a", limit=100, cursor=cursor)
        rest += [it["item_id"] for it in doc["items"]]
        cursor = doc["next_cursor"]
    check_eq(rest[0], ahead, "the new item after the cursor comes first")
    check(behind not in rest, "an item behind the cursor is not shown")
    check(gone not in rest, "a deleted item is not listed")
    check_eq([it["item_id"] for it in seen] + rest,
             [i for i in byte_order(i for i, d in LIVE.items()
                                    if d["brand"] == "lst-a")
              if i != behind],
             "the pages together")
    # The cursor of an item deleted since still marks its place.
    check_eq(SRV.delete("/v1/catalog/items/" + last).status, 204, "delete")
    del LIVE[last]
    doc = list_ok(brand="lst-a", limit=1, cursor=first["next_cursor"])
    check_eq(doc["items"][0]["item_id"], ahead, "cursor reused")


def load_listing_catalog():
    # 250 items for the listing, written in an order that is not the id
    # order; some unavailable, some sold out.
    docs = []
    for n in range(250):
        i = (n * 97) % 250
        brand = "lst-a" if i % 5 < 3 else "lst-b"
        doc = item("%s-%04d" % (brand, i), brand,
                   ["bags", "shoes", "scarves"][i % 3], 100.0 + i)
        if i % 11 == 0:
            doc["available"] = False
        if i % 13 == 0:
            doc["stock"] = 0
        if i % 17 == 0:
            del doc["stock"]           # stock not tracked
        docs.append(doc)
    for start in (0, 125):
        SRV.load_catalog(docs[start:start + 125])
    for d in docs:
        LIVE[d["item_id"]] = d


def main():
    global SRV
    mt.require_environment()
    SRV = mt.Maisond(name="maisond-catalog")
    return mt.run_with_server(SRV, load_listing_catalog)


if __name__ == "__main__":
    sys.exit(main())
