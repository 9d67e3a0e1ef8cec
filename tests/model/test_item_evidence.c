/*-------------------------------------------------------------------------
 * test_item_evidence.c
 *    Unit tests of model/item_evidence.c: what the facts records hold
 *    about one item, merged over several records, and the phrase said
 *    about it (only facts, in a fixed order).
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "model/item_evidence.h"
#include "model/timefmt.h"

static void observe(struct mz_client_facts *f, enum mz_event_type type,
                    int32_t item, const char *at)
{
    static int64_t seq;
    int64_t ts = 0;
    ck_assert(mz_time_parse_rfc3339(at, &ts));
    struct mz_event_obs ev = {
        .item = item, .type = type, .ts = ts, .seq = ++seq, .quantity = 1};
    ck_assert_int_eq(mz_client_facts_observe(f, &ev), MZ_OK);
}

START_TEST(test_counts_and_dates_per_event_type)
{
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_VIEW, 3, "2026-11-21T10:00:00Z");
    observe(f, MZ_EV_VIEW, 3, "2026-11-22T10:00:00Z");
    observe(f, MZ_EV_VIEW, 4, "2026-11-22T11:00:00Z");
    observe(f, MZ_EV_VIEW, 3, "2026-11-23T10:00:00Z");
    observe(f, MZ_EV_ADD_TO_CART, 3, "2026-11-23T10:05:00Z");
    const struct mz_client_facts *facts[] = {f};
    struct mz_item_evidence ev;
    char text[MZ_ITEM_EVIDENCE_TEXT_BYTES];

    ck_assert(mz_item_evidence_gather(facts, 1, 3, &ev));
    ck_assert_int_eq(ev.count[MZ_EV_VIEW], 3);
    ck_assert_int_eq(ev.count[MZ_EV_ADD_TO_CART], 1);
    ck_assert(ev.cart_at > 0);
    mz_item_evidence_text(&ev, text, sizeof text);
    /* The cart line is the ring's add: said once. */
    ck_assert_str_eq(text, "viewed 3 times, last on 2026-11-23, added to the "
                           "cart on 2026-11-23");
    ck_assert(!mz_item_evidence_gather(facts, 1, 5, &ev));
    mz_client_facts_free(f);
}
END_TEST

START_TEST(test_records_merge_and_commerce_outlives_the_ring)
{
    struct mz_client_facts *a = mz_client_facts_new();
    struct mz_client_facts *b = mz_client_facts_new();
    observe(a, MZ_EV_PURCHASE, 7, "2026-10-01T09:00:00Z");
    observe(b, MZ_EV_WISHLIST, 8, "2026-10-02T09:00:00Z");
    /* Push both out of a's and b's rings. */
    for (int i = 0; i < MZ_FACTS_RING; i++) {
        observe(a, MZ_EV_VIEW, 100 + i, "2026-11-01T09:00:00Z");
        observe(b, MZ_EV_VIEW, 100 + i, "2026-11-01T09:00:00Z");
    }
    const struct mz_client_facts *facts[] = {a, NULL, b};
    struct mz_item_evidence ev;
    char text[MZ_ITEM_EVIDENCE_TEXT_BYTES];

    ck_assert(mz_item_evidence_gather(facts, 3, 7, &ev));
    ck_assert_int_eq(ev.count[MZ_EV_PURCHASE], 0);
    mz_item_evidence_text(&ev, text, sizeof text);
    ck_assert_str_eq(text, "bought on 2026-10-01");
    ck_assert(mz_item_evidence_gather(facts, 3, 8, &ev));
    mz_item_evidence_text(&ev, text, sizeof text);
    ck_assert_str_eq(text, "in the wishlist since 2026-10-02");
    /* Seen in both records: the counts add up. */
    ck_assert(mz_item_evidence_gather(facts, 3, 100, &ev));
    ck_assert_int_eq(ev.count[MZ_EV_VIEW], 2);
    mz_client_facts_free(a);
    mz_client_facts_free(b);
}
END_TEST

START_TEST(test_text_is_truncated_to_fit)
{
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_VIEW, 1, "2026-11-21T10:00:00Z");
    observe(f, MZ_EV_CLICK, 1, "2026-11-21T10:01:00Z");
    const struct mz_client_facts *facts[] = {f};
    struct mz_item_evidence ev;
    char text[12];

    ck_assert(mz_item_evidence_gather(facts, 1, 1, &ev));
    mz_item_evidence_text(&ev, text, sizeof text);
    ck_assert_uint_lt(strlen(text), sizeof text);
    ck_assert(strncmp(text, "viewed on", 9) == 0);
    mz_client_facts_free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("item_evidence");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_counts_and_dates_per_event_type);
    tcase_add_test(tc, test_records_merge_and_commerce_outlives_the_ring);
    tcase_add_test(tc, test_text_is_truncated_to_fit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
