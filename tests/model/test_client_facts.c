/*-------------------------------------------------------------------------
 * test_client_facts.c
 *    Unit tests of model/client_facts.c: what each event type records,
 *    list caps, consent, the rolling impression window, determinism of a
 *    replay, and save/load (including catalogs in another order and
 *    hostile bytes).
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bytes.h"
#include "model/client_facts.h"

#define DAY 86400

static struct mz_catalog *catalog_of(int n, bool reversed)
{
    struct mz_catalog *cat = mz_catalog_new();
    for (int k = 0; k < n; k++) {
        int i = reversed ? n - 1 - k : k;
        char id[32];
        snprintf(id, sizeof(id), "sku-%d", i);
        struct mz_item *item = mz_item_new();
        item->item_id = strdup(id);
        item->brand = strdup("b");
        item->category = strdup("c");
        ck_assert_int_ge(mz_catalog_upsert(cat, item, NULL), 0);
    }
    return cat;
}

static void observe(struct mz_client_facts *f, enum mz_event_type type,
                    int32_t item, int64_t ts)
{
    static int64_t seq;
    struct mz_event_obs ev = {.item = item, .type = type, .ts = ts,
                              .seq = ++seq, .quantity = 1};
    ck_assert_int_eq(mz_client_facts_observe(f, &ev), MZ_OK);
}

START_TEST(test_purchase_recorded_once_latest_last)
{
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_PURCHASE, 1, 100);
    observe(f, MZ_EV_PURCHASE, 2, 200);
    observe(f, MZ_EV_PURCHASE, 1, 300);
    size_t n;
    const struct mz_item_time *p = mz_client_facts_purchases(f, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(p[0].item, 2);
    ck_assert_int_eq(p[1].item, 1);
    int64_t ts = 0;
    ck_assert(mz_client_facts_purchased_at(f, 1, &ts));
    ck_assert_int_eq(ts, 300);
    ck_assert(!mz_client_facts_purchased_at(f, 3, &ts));
    ck_assert_int_eq(ts, 300);
    observe(f, MZ_EV_RETURN, 1, 400);
    ck_assert(!mz_client_facts_purchased_at(f, 1, NULL));
    mz_client_facts_free(f);
    mz_client_facts_free(NULL);
}
END_TEST

START_TEST(test_purchase_clears_cart_and_wishlist)
{
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_WISHLIST, 5, 10);
    observe(f, MZ_EV_ADD_TO_CART, 5, 20);
    observe(f, MZ_EV_ADD_TO_CART, 6, 30);
    ck_assert(mz_client_facts_in_wishlist(f, 5));
    ck_assert(mz_client_facts_in_cart(f, 5));
    observe(f, MZ_EV_PURCHASE, 5, 40);
    ck_assert(!mz_client_facts_in_wishlist(f, 5));
    ck_assert(!mz_client_facts_in_cart(f, 5));
    ck_assert(mz_client_facts_in_cart(f, 6));
    mz_client_facts_free(f);
}
END_TEST

START_TEST(test_cart_quantities)
{
    struct mz_client_facts *f = mz_client_facts_new();
    struct mz_event_obs ev = {.item = 3, .type = MZ_EV_ADD_TO_CART, .ts = 1,
                              .quantity = 2};
    mz_client_facts_observe(f, &ev);
    observe(f, MZ_EV_ADD_TO_CART, 3, 2);
    size_t n;
    const struct mz_cart_line *cart = mz_client_facts_cart(f, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(cart[0].quantity, 3);
    ck_assert_int_eq(cart[0].ts, 2);
    observe(f, MZ_EV_REMOVE_FROM_CART, 3, 3);
    cart = mz_client_facts_cart(f, &n);
    ck_assert_int_eq(cart[0].quantity, 2);
    ev.type = MZ_EV_REMOVE_FROM_CART;
    ev.quantity = 0; /* absent: one */
    mz_client_facts_observe(f, &ev);
    mz_client_facts_observe(f, &ev);
    ck_assert(!mz_client_facts_in_cart(f, 3));
    observe(f, MZ_EV_REMOVE_FROM_CART, 9, 4); /* not in the cart: no-op */
    mz_client_facts_cart(f, &n);
    ck_assert_uint_eq(n, 0);
    mz_client_facts_free(f);
}
END_TEST

START_TEST(test_lists_are_capped_oldest_dropped)
{
    struct mz_client_facts *f = mz_client_facts_new();
    enum { N = MZ_FACTS_MAX_PURCHASES + 36 };
    for (int i = 0; i < N; i++) {
        observe(f, MZ_EV_PURCHASE, i, 1000 + i);
        observe(f, MZ_EV_DISMISS, i, 1000 + i);
        observe(f, MZ_EV_STORE_VISIT, -1, 1000 + i);
    }
    size_t n;
    const struct mz_item_time *p = mz_client_facts_purchases(f, &n);
    ck_assert_uint_eq(n, MZ_FACTS_MAX_PURCHASES);
    ck_assert_int_eq(p[0].item, N - MZ_FACTS_MAX_PURCHASES);
    ck_assert_int_eq(p[n - 1].item, N - 1);
    mz_client_facts_dismissals(f, &n);
    ck_assert_uint_eq(n, MZ_FACTS_MAX_DISMISSALS);
    const int64_t *v = mz_client_facts_visits(f, MZ_VISIT_STORE, &n);
    ck_assert_uint_eq(n, MZ_FACTS_MAX_VISITS);
    ck_assert_int_eq(v[n - 1], 1000 + N - 1);
    mz_client_facts_visits(f, MZ_VISIT_APPOINTMENT, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(mz_client_facts_visits(f, MZ_VISIT_KIND_COUNT, &n));
    const struct mz_item_event *ring = mz_client_facts_recent_events(f, &n);
    ck_assert_uint_eq(n, MZ_FACTS_RING);
    ck_assert_int_eq(ring[n - 1].item, N - 1);
    ck_assert_int_eq(ring[n - 1].type, MZ_EV_DISMISS);
    ck_assert_int_eq(mz_client_facts_event_count(f), 3 * N);
    mz_client_facts_free(f);
}
END_TEST

START_TEST(test_ring_last_event_of_item)
{
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_VIEW, 7, 10);
    observe(f, MZ_EV_ADD_TO_CART, 7, 20);
    observe(f, MZ_EV_VIEW, 8, 30);
    struct mz_item_event ev;
    ck_assert(mz_client_facts_last_event_of(f, 7, &ev));
    ck_assert_int_eq(ev.type, MZ_EV_ADD_TO_CART);
    ck_assert_int_eq(ev.ts, 20);
    ck_assert(!mz_client_facts_last_event_of(f, 9, &ev));
    /* Item events without an item are ignored. */
    observe(f, MZ_EV_VIEW, -1, 40);
    size_t n;
    mz_client_facts_recent_events(f, &n);
    ck_assert_uint_eq(n, 3);
    mz_client_facts_free(f);
}
END_TEST

START_TEST(test_consent_withdrawn_forgets_and_pauses)
{
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_PURCHASE, 1, 10);
    observe(f, MZ_EV_APPOINTMENT, -1, 11);
    observe(f, MZ_EV_CONSENT_WITHDRAWN, -1, 12);
    ck_assert(mz_client_facts_paused(f));
    ck_assert(!mz_client_facts_purchased_at(f, 1, NULL));
    observe(f, MZ_EV_PURCHASE, 2, 13);
    ck_assert(!mz_client_facts_purchased_at(f, 2, NULL));
    observe(f, MZ_EV_CONSENT_GRANTED, -1, 14);
    ck_assert(!mz_client_facts_paused(f));
    observe(f, MZ_EV_PURCHASE, 3, 15);
    ck_assert(mz_client_facts_purchased_at(f, 3, NULL));
    size_t n;
    mz_client_facts_visits(f, MZ_VISIT_APPOINTMENT, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_gt(mz_client_facts_last_seq(f), 0);
    mz_client_facts_free(f);
}
END_TEST

START_TEST(test_impressions_roll_over_24h)
{
    struct mz_client_facts *f = mz_client_facts_new();
    int32_t items[] = {1, 2, -1};
    int64_t t0 = 1000000;
    ck_assert_int_eq(mz_client_facts_record_impressions(f, items, 3, t0),
                     MZ_OK);
    ck_assert_int_eq(mz_client_facts_record_impressions(f, items, 1,
                                                        t0 + 3600),
                     MZ_OK);
    ck_assert_int_eq(mz_client_facts_impressions_since(f, 1, t0 - DAY), 2);
    ck_assert_int_eq(mz_client_facts_impressions_since(f, 2, t0 - DAY), 1);
    ck_assert_int_eq(mz_client_facts_impressions_since(f, 1, t0), 1);
    size_t n;
    mz_client_facts_impressions(f, &n);
    ck_assert_uint_eq(n, 3);
    /* A day after the first showing, the first one is gone. */
    mz_client_facts_record_impressions(f, items, 1, t0 + DAY);
    ck_assert_int_eq(mz_client_facts_impressions_since(f, 1, 0), 2);
    ck_assert_int_eq(mz_client_facts_impressions_since(f, 2, 0), 0);
    /* Never more than the cap. */
    int32_t many[100];
    for (int i = 0; i < 100; i++)
        many[i] = i;
    for (int r = 0; r < MZ_FACTS_MAX_IMPRESSIONS / 100 + 10; r++)
        mz_client_facts_record_impressions(f, many, 100, t0 + DAY + r);
    mz_client_facts_impressions(f, &n);
    ck_assert_uint_eq(n, MZ_FACTS_MAX_IMPRESSIONS);
    mz_client_facts_free(f);
}
END_TEST

/* A fixed pseudo-random event stream (xorshift), the same every run. */
static void replay(struct mz_client_facts *f, int n_events, int n_items)
{
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < n_events; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        struct mz_event_obs ev = {
            .item = (int32_t)(x % (uint64_t)n_items),
            .type = (enum mz_event_type)((x >> 20) % MZ_EV_STORE_VISIT + 0),
            .ts = 1700000000 + i * 60,
            .seq = i + 1,
            .quantity = (int32_t)((x >> 40) % 3),
        };
        if ((x >> 50) % 17 == 0)
            ev.type = MZ_EV_EVENT_ATTENDANCE;
        mz_client_facts_observe(f, &ev);
        if (i % 10 == 0) {
            int32_t shown[3] = {ev.item, (ev.item + 1) % n_items, 0};
            mz_client_facts_record_impressions(f, shown, 3, ev.ts);
        }
    }
}

START_TEST(test_replay_is_deterministic_and_round_trips)
{
    struct mz_catalog *cat = catalog_of(50, false);
    struct mz_client_facts *a = mz_client_facts_new();
    struct mz_client_facts *b = mz_client_facts_new();
    replay(a, 3000, 50);
    replay(b, 3000, 50);
    size_t la, lb;
    void *sa = mz_client_facts_save(a, cat, &la);
    void *sb = mz_client_facts_save(b, cat, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(sa, sb, la) == 0);

    enum mz_status status;
    char err[128];
    struct mz_client_facts *c = mz_client_facts_load(cat, sa, la, &status,
                                                     err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(status, MZ_OK);
    size_t lc;
    void *sc = mz_client_facts_save(c, cat, &lc);
    ck_assert_uint_eq(lc, la);
    ck_assert(memcmp(sa, sc, la) == 0);
    ck_assert_int_eq(mz_client_facts_last_seq(c), 3000);
    free(sa);
    free(sb);
    free(sc);
    mz_client_facts_free(a);
    mz_client_facts_free(b);
    mz_client_facts_free(c);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_load_maps_ids_onto_another_catalog)
{
    struct mz_catalog *cat = catalog_of(10, false);
    struct mz_catalog *reversed = catalog_of(8, true); /* no sku-8, sku-9 */
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_PURCHASE, 2, 10);
    observe(f, MZ_EV_PURCHASE, 9, 20);
    observe(f, MZ_EV_VIEW, 3, 30);
    size_t len;
    void *bytes = mz_client_facts_save(f, cat, &len);
    enum mz_status status;
    char err[128];
    struct mz_client_facts *g = mz_client_facts_load(reversed, bytes, len,
                                                     &status, err, sizeof(err));
    ck_assert_msg(g != NULL, "%s", err);
    int32_t sku2 = mz_catalog_find(reversed, "sku-2");
    ck_assert_int_eq(sku2, 5);
    ck_assert(mz_client_facts_purchased_at(g, sku2, NULL));
    size_t n;
    mz_client_facts_purchases(g, &n);
    ck_assert_uint_eq(n, 1); /* sku-9 is not in the catalog */
    struct mz_item_event ev;
    ck_assert(mz_client_facts_last_event_of(g, mz_catalog_find(reversed,
                                                               "sku-3"),
                                            &ev));
    free(bytes);
    mz_client_facts_free(f);
    mz_client_facts_free(g);
    mz_catalog_free(cat);
    mz_catalog_free(reversed);
}
END_TEST

START_TEST(test_load_rejects_garbage_safely)
{
    struct mz_catalog *cat = catalog_of(20, false);
    struct mz_client_facts *f = mz_client_facts_new();
    replay(f, 500, 20);
    size_t len;
    uint8_t *bytes = mz_client_facts_save(f, cat, &len);
    enum mz_status status;
    char err[128];

    for (size_t cut = 0; cut < len; cut++) {
        status = MZ_OK;
        ck_assert_ptr_null(mz_client_facts_load(cat, bytes, cut, &status, err,
                                                sizeof(err)));
        ck_assert_int_eq(status, MZ_ERR_INVALID);
    }
    uint8_t *copy = malloc(len);
    for (size_t i = 0; i < len; i += 3) {
        memcpy(copy, bytes, len);
        copy[i] ^= 0x5a;
        ck_assert_ptr_null(mz_client_facts_load(cat, copy, len, &status, err,
                                                sizeof(err)));
    }
    free(copy);
    ck_assert_ptr_null(mz_client_facts_load(cat, NULL, 0, &status, err,
                                            sizeof(err)));

    /* A well-formed record of an unknown version. */
    struct mz_wbuf w;
    mz_wbuf_init(&w);
    mz_wbuf_u32(&w, 0x46435a4du);
    mz_wbuf_u32(&w, 99);
    size_t vlen;
    void *v = mz_wbuf_finish(&w, &vlen);
    ck_assert_ptr_null(mz_client_facts_load(cat, v, vlen, &status, err,
                                            sizeof(err)));
    ck_assert_str_eq(err, "client facts: unsupported format version");
    free(v);

    /* A list that claims more entries than its cap. */
    mz_wbuf_init(&w);
    mz_wbuf_u32(&w, 0x46435a4du);
    mz_wbuf_u32(&w, 1);
    mz_wbuf_u64(&w, 0);
    mz_wbuf_u64(&w, 0);
    mz_wbuf_u64(&w, 0);
    mz_wbuf_u8(&w, 0);
    mz_wbuf_u32(&w, 1000000);
    v = mz_wbuf_finish(&w, &vlen);
    ck_assert_ptr_null(mz_client_facts_load(cat, v, vlen, &status, err,
                                            sizeof(err)));
    ck_assert_str_eq(err, "client facts: list longer than its cap");
    free(v);
    free(bytes);
    mz_client_facts_free(f);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_to_json_most_recent_first)
{
    struct mz_catalog *cat = catalog_of(5, false);
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_PURCHASE, 1, 1795428000);
    observe(f, MZ_EV_PURCHASE, 2, 1795428060);
    observe(f, MZ_EV_ADD_TO_CART, 3, 1795428120);
    observe(f, MZ_EV_STORE_VISIT, -1, 1795428180);
    json_t *obj = mz_client_facts_to_json(f, cat);
    ck_assert_ptr_nonnull(obj);
    json_t *p = json_object_get(obj, "purchases");
    ck_assert_uint_eq(json_array_size(p), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(p, 0),
                                                       "item_id")),
                     "sku-2");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(p, 1),
                                                       "at")),
                     "2026-11-23T10:00:00Z");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(json_object_get(obj, "cart"), 0),
                         "quantity")),
                     1);
    ck_assert_uint_eq(json_array_size(json_object_get(obj, "store_visits")), 1);
    json_t *recent = json_object_get(obj, "recent_events");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(recent, 0),
                                                       "event")),
                     "add_to_cart");
    json_decref(obj);
    mz_client_facts_free(f);
    mz_catalog_free(cat);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_facts");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_purchase_recorded_once_latest_last);
    tcase_add_test(tc, test_purchase_clears_cart_and_wishlist);
    tcase_add_test(tc, test_cart_quantities);
    tcase_add_test(tc, test_lists_are_capped_oldest_dropped);
    tcase_add_test(tc, test_ring_last_event_of_item);
    tcase_add_test(tc, test_consent_withdrawn_forgets_and_pauses);
    tcase_add_test(tc, test_impressions_roll_over_24h);
    tcase_add_test(tc, test_replay_is_deterministic_and_round_trips);
    tcase_add_test(tc, test_load_maps_ids_onto_another_catalog);
    tcase_add_test(tc, test_load_rejects_garbage_safely);
    tcase_add_test(tc, test_to_json_most_recent_first);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
