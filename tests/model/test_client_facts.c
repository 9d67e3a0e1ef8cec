/*-------------------------------------------------------------------------
 * test_client_facts.c
 *    Unit tests of model/client_facts.c: what each event type records,
 *    list caps, consent, and the rolling impression window. (The saved
 *    form: test_client_facts_io.c; the profile's JSON:
 *    tests/api/test_json_facts.c.)
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/client_facts.h"

#define DAY 86400

static void observe(struct mz_client_facts *f, enum mz_event_type type,
                    int32_t item, int64_t ts)
{
    static int64_t seq;
    struct mz_event_obs ev = {
        .item = item, .type = type, .ts = ts, .seq = ++seq, .quantity = 1};
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
    struct mz_event_obs ev = {
        .item = 3, .type = MZ_EV_ADD_TO_CART, .ts = 1, .quantity = 2};
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

START_TEST(test_consent_withdrawn_keeps_what_the_rules_need)
{
    struct mz_client_facts *f = mz_client_facts_new();
    int32_t shown[] = {4};
    observe(f, MZ_EV_PURCHASE, 1, 10);
    observe(f, MZ_EV_DISMISS, 5, 10);
    observe(f, MZ_EV_WISHLIST, 6, 10);
    observe(f, MZ_EV_ADD_TO_CART, 7, 10);
    observe(f, MZ_EV_APPOINTMENT, -1, 11);
    ck_assert_int_eq(mz_client_facts_record_impressions(f, shown, 1, 11),
                     MZ_OK);
    observe(f, MZ_EV_CONSENT_WITHDRAWN, -1, 12);
    ck_assert(mz_client_facts_paused(f));
    /* Kept: what the exclusions and the frequency cap read. */
    ck_assert(mz_client_facts_purchased_at(f, 1, NULL));
    size_t n;
    mz_client_facts_dismissals(f, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(mz_client_facts_impressions_since(f, 4, 0), 1);
    /* Forgotten: what only personalisation and the profile use. */
    ck_assert(!mz_client_facts_in_wishlist(f, 6));
    ck_assert(!mz_client_facts_in_cart(f, 7));
    mz_client_facts_visits(f, MZ_VISIT_APPOINTMENT, &n);
    ck_assert_uint_eq(n, 0);
    mz_client_facts_recent_events(f, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mz_client_facts_record_impressions(f, shown, 1, 12),
                     MZ_OK);
    ck_assert_int_eq(mz_client_facts_impressions_since(f, 4, 0), 2);
    mz_client_facts_free(f);
}
END_TEST

START_TEST(test_without_consent_only_rule_facts_are_recorded)
{
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_CONSENT_WITHDRAWN, -1, 1);
    int64_t counted = mz_client_facts_event_count(f);
    observe(f, MZ_EV_PURCHASE, 2, 13);
    observe(f, MZ_EV_PURCHASE, 3, 13);
    observe(f, MZ_EV_RETURN, 3, 14);
    observe(f, MZ_EV_DISMISS, 8, 14);
    observe(f, MZ_EV_WISHLIST, 6, 14);
    observe(f, MZ_EV_ADD_TO_CART, 7, 14);
    observe(f, MZ_EV_VIEW, 9, 14);
    observe(f, MZ_EV_STORE_VISIT, -1, 14);
    int64_t ts = 0;
    ck_assert(mz_client_facts_purchased_at(f, 2, &ts));
    ck_assert_int_eq(ts, 13);
    ck_assert(!mz_client_facts_purchased_at(f, 3, NULL)); /* returned */
    size_t n;
    const struct mz_item_time *gone = mz_client_facts_dismissals(f, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(gone[0].item, 8);
    ck_assert(!mz_client_facts_in_wishlist(f, 6));
    ck_assert(!mz_client_facts_in_cart(f, 7));
    mz_client_facts_recent_events(f, &n);
    ck_assert_uint_eq(n, 0);
    mz_client_facts_visits(f, MZ_VISIT_STORE, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mz_client_facts_event_count(f), counted);
    /* Consent again: everything is recorded again. */
    observe(f, MZ_EV_CONSENT_GRANTED, -1, 15);
    ck_assert(!mz_client_facts_paused(f));
    observe(f, MZ_EV_WISHLIST, 6, 16);
    ck_assert(mz_client_facts_in_wishlist(f, 6));
    ck_assert(mz_client_facts_purchased_at(f, 2, NULL));
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
    ck_assert_int_eq(mz_client_facts_record_impressions(f, items, 1, t0 + 3600),
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

/* A visit keeps the brand it names (NULL: none), beside its time: the
 * oldest visit and its brand leave together when the list is full, the
 * brands are forgotten with the visits at a consent withdrawal, and they
 * survive the saved form. */
START_TEST(test_visits_keep_their_brands)
{
    struct mz_client_facts *f = mz_client_facts_new();
    for (int i = 0; i < MZ_FACTS_MAX_VISITS + 3; i++) {
        struct mz_event_obs ev = {.item = -1,
                                  .type = MZ_EV_STORE_VISIT,
                                  .ts = 5000 + i,
                                  .seq = 9000 + i,
                                  .brand = i % 2 ? "house-a" : NULL};
        ck_assert_int_eq(mz_client_facts_observe(f, &ev), MZ_OK);
    }
    size_t n, nb;
    const int64_t *v = mz_client_facts_visits(f, MZ_VISIT_STORE, &n);
    const char *const *b = mz_client_facts_visit_brands(f, MZ_VISIT_STORE, &nb);
    ck_assert_uint_eq(n, MZ_FACTS_MAX_VISITS);
    ck_assert_uint_eq(nb, n);
    ck_assert_int_eq(v[0], 5003);
    for (size_t i = 0; i < n; i++) {
        if ((v[i] - 5000) % 2)
            ck_assert_str_eq(b[i], "house-a");
        else
            ck_assert_ptr_null(b[i]);
    }
    struct mz_catalog *cat = mz_catalog_new();
    size_t len = 0;
    void *bytes = mz_client_facts_save(f, cat, &len);
    ck_assert_ptr_nonnull(bytes);
    enum mz_status status;
    char err[128];
    struct mz_client_facts *back =
        mz_client_facts_load(cat, bytes, len, &status, err, sizeof err);
    ck_assert_msg(back != NULL, "%s", err);
    b = mz_client_facts_visit_brands(back, MZ_VISIT_STORE, &nb);
    ck_assert_uint_eq(nb, MZ_FACTS_MAX_VISITS);
    ck_assert_ptr_null(b[nb - 1]); /* the last visit, 18, named none */
    ck_assert_str_eq(b[nb - 2], "house-a");
    ck_assert_ptr_null(
        mz_client_facts_visit_brands(back, MZ_VISIT_KIND_COUNT, &nb));
    struct mz_event_obs withdrawn = {.item = -1,
                                     .type = MZ_EV_CONSENT_WITHDRAWN};
    ck_assert_int_eq(mz_client_facts_observe(back, &withdrawn), MZ_OK);
    mz_client_facts_visit_brands(back, MZ_VISIT_STORE, &nb);
    ck_assert_uint_eq(nb, 0);
    free(bytes);
    mz_client_facts_free(back);
    mz_catalog_free(cat);
    mz_client_facts_free(f);
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
    tcase_add_test(tc, test_consent_withdrawn_keeps_what_the_rules_need);
    tcase_add_test(tc, test_without_consent_only_rule_facts_are_recorded);
    tcase_add_test(tc, test_impressions_roll_over_24h);
    tcase_add_test(tc, test_visits_keep_their_brands);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
