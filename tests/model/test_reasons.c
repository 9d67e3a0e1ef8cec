/*-------------------------------------------------------------------------
 * test_reasons.c
 *    Unit tests of model/reasons.c: source names, catalog reasons for a
 *    non-personalised request, and that personal reasons only state facts
 *    (the evidence item, event and time come from the client's facts);
 *    the reasons of similar and popular items.
 *    Their JSON: tests/api/test_json_reasons.c.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/reasons.h"
#include "tests/model/reasons_fixture.h"

#define NOW REASONS_NOW
#define DAY REASONS_DAY

START_TEST(test_source_names)
{
    ck_assert_str_eq(mz_reasons_source_name(MZ_SOURCE_SESSION, 3), "session");
    ck_assert_str_eq(mz_reasons_source_name(MZ_SOURCE_LEVEL0, 3), "session");
    ck_assert_str_eq(mz_reasons_source_name(MZ_SOURCE_LEVEL0 + 1, 3), "recent");
    ck_assert_str_eq(mz_reasons_source_name(MZ_SOURCE_LEVEL0 + 2, 3),
                     "long_term");
    ck_assert_str_eq(mz_reasons_source_name(MZ_SOURCE_LEVEL0 + 1, 2),
                     "long_term");
    ck_assert_str_eq(mz_reasons_source_name(MZ_SOURCE_LEVEL0 + 3, 3),
                     "catalog");
    ck_assert_str_eq(mz_reasons_source_name(MZ_SOURCE_CATALOG, 3), "catalog");
}
END_TEST

START_TEST(test_non_personalised_reasons_come_from_the_catalog)
{
    struct reasons_fixture fx;
    reasons_fixture_setup(&fx);
    struct mz_reasons_request req = {.model = fx.model,
                                     .catalog = fx.catalog,
                                     .context_item = -1,
                                     .now = NOW};
    struct mz_reason r[MZ_REASONS_MAX];
    ck_assert_int_eq(mz_reasons_build(&req, 0, r), 1);
    ck_assert_int_eq(r[0].source, MZ_SOURCE_CATALOG);
    ck_assert_str_eq(r[0].level, "catalog");
    ck_assert_str_eq(r[0].text, "Popular in bags right now.");
    ck_assert_ptr_null(r[0].because_item);
    ck_assert(!r[0].has_event);

    ck_assert_int_eq(mz_reasons_build(&req, 2, r), 1); /* launched 3 days ago */
    ck_assert_str_eq(r[0].text, "New arrival.");
    ck_assert_int_eq(mz_reasons_build(&req, 99, r), 0);
    ck_assert_int_eq(mz_reasons_build(NULL, 0, r), 0);
    reasons_fixture_teardown(&fx);
}
END_TEST

/* Every reason has a known level and a sentence; evidence, when given,
 * names a catalog item and matches what the facts recorded. */
static void assert_reasons_are_facts(const struct reasons_fixture *fx,
                                     const struct mz_reason *r, int n)
{
    ck_assert_int_ge(n, 1);
    ck_assert_int_le(n, MZ_REASONS_MAX);
    for (int i = 0; i < n; i++) {
        const char *level = r[i].level;
        const char *text = r[i].text;
        ck_assert_ptr_nonnull(level);
        ck_assert(
            strcmp(level, "session") == 0 || strcmp(level, "recent") == 0 ||
            strcmp(level, "long_term") == 0 || strcmp(level, "catalog") == 0);
        ck_assert_int_eq(text[strlen(text) - 1], '.');
        const char *because = r[i].because_item;
        if (!because) {
            ck_assert(!r[i].has_event);
            continue;
        }
        int32_t item = mz_catalog_find(fx->catalog, because);
        ck_assert_int_ge(item, 0);
        ck_assert_ptr_nonnull(strstr(text, because));
        if (r[i].has_event) {
            /* The latest event with the item, or (for a long-term level
             * whose evidence is older than the recent events) its
             * purchase. */
            struct mz_item_event ev;
            int64_t bought_at;
            if (!mz_client_facts_last_event_of(fx->facts, item, &ev)) {
                ck_assert(
                    mz_client_facts_purchased_at(fx->facts, item, &bought_at));
                ev = (struct mz_item_event){item, MZ_EV_PURCHASE, bought_at};
            }
            ck_assert_int_eq(r[i].event, ev.type);
            ck_assert_int_eq(r[i].at, ev.ts);
        }
    }
}

START_TEST(test_personal_reasons_state_facts)
{
    struct reasons_fixture fx;
    reasons_fixture_setup(&fx);
    reasons_fixture_observe(&fx, MZ_EV_PURCHASE, 3, NOW - 200 * DAY);
    for (int i = 0; i < 40; i++)
        reasons_fixture_observe(&fx, MZ_EV_VIEW, i % 2, NOW - 600 + i * 10);
    reasons_fixture_observe(&fx, MZ_EV_ADD_TO_CART, 0, NOW - 30);
    struct mz_reasons_request req = {.model = fx.model,
                                     .catalog = fx.catalog,
                                     .client = fx.client,
                                     .facts = fx.facts,
                                     .context_item = -1,
                                     .now = NOW};
    for (int32_t item = 0; item < 4; item++) {
        struct mz_reason r[MZ_REASONS_MAX], again[MZ_REASONS_MAX];
        int n = mz_reasons_build(&req, item, r);
        assert_reasons_are_facts(&fx, r, n);
        /* The same inputs give the same reasons. */
        ck_assert_int_eq(mz_reasons_build(&req, item, again), n);
        for (int i = 0; i < n; i++) {
            ck_assert_str_eq(again[i].level, r[i].level);
            ck_assert_str_eq(again[i].text, r[i].text);
            ck_assert_ptr_eq(again[i].because_item, r[i].because_item);
            ck_assert_int_eq(again[i].has_event, r[i].has_event);
        }
    }
    /* Without facts there is no event or time to state. */
    req.facts = NULL;
    struct mz_reason r[MZ_REASONS_MAX];
    int n = mz_reasons_build(&req, 0, r);
    for (int i = 0; i < n; i++)
        ck_assert(!r[i].has_event);
    reasons_fixture_teardown(&fx);
}
END_TEST

/* A list's shared explainer gives every item the reasons it gets alone,
 * with and without a context item, and the same contributions. */
START_TEST(test_explainer_gives_the_reasons_each_item_gets_alone)
{
    struct reasons_fixture fx;
    reasons_fixture_setup(&fx);
    reasons_fixture_observe(&fx, MZ_EV_PURCHASE, 3, NOW - 200 * DAY);
    for (int i = 0; i < 30; i++)
        reasons_fixture_observe(&fx, MZ_EV_VIEW, i % 3,
                                NOW - 9 * DAY + i * 600);
    reasons_fixture_observe(&fx, MZ_EV_ADD_TO_CART, 1, NOW - 30);
    struct mz_explainer *explainer = mz_explainer_new();
    ck_assert_ptr_nonnull(explainer);
    for (int32_t context = -1; context < 2; context++) {
        struct mz_reasons_request alone = {.model = fx.model,
                                           .catalog = fx.catalog,
                                           .client = fx.client,
                                           .facts = fx.facts,
                                           .context_item = context,
                                           .now = NOW};
        struct mz_reasons_request shared = alone;
        ck_assert(
            mz_explainer_prepare(explainer, fx.model, fx.client, context, NOW));
        shared.explainer = explainer;
        for (int32_t item = 0; item < 4; item++) {
            float a[MZ_SOURCE_COUNT], b[MZ_SOURCE_COUNT];
            mz_model_explain(fx.model, fx.client, context, NOW, item, a);
            mz_explainer_contrib(explainer, item, b);
            ck_assert_mem_eq(a, b, sizeof a);
            struct mz_reason ra[MZ_REASONS_MAX], rb[MZ_REASONS_MAX];
            int na = mz_reasons_build(&alone, item, ra);
            int nb = mz_reasons_build(&shared, item, rb);
            ck_assert_int_eq(na, nb);
            for (int i = 0; i < na; i++) {
                ck_assert_str_eq(ra[i].text, rb[i].text);
                ck_assert_str_eq(ra[i].level, rb[i].level);
                ck_assert(ra[i].because_item == rb[i].because_item);
                ck_assert_int_eq(ra[i].has_event, rb[i].has_event);
            }
        }
    }
    mz_explainer_free(explainer);
    mz_explainer_free(NULL);
    reasons_fixture_teardown(&fx);
}
END_TEST

START_TEST(test_revisited_item_names_the_session_event)
{
    struct reasons_fixture fx;
    reasons_fixture_setup(&fx);
    for (int i = 0; i < 5; i++)
        reasons_fixture_observe(&fx, MZ_EV_VIEW, 1, NOW - 120 + i * 10);
    struct mz_reasons_request req = {.model = fx.model,
                                     .catalog = fx.catalog,
                                     .client = fx.client,
                                     .facts = fx.facts,
                                     .context_item = -1,
                                     .now = NOW};
    struct mz_reason r[MZ_REASONS_MAX];
    int n = mz_reasons_build(&req, 1, r);
    assert_reasons_are_facts(&fx, r, n);
    if (strcmp(r[0].level, "session") == 0) {
        ck_assert_str_eq(r[0].because_item, "bag-2");
        ck_assert_str_eq(r[0].text, "Viewed bag-2 in this session.");
        ck_assert(r[0].has_event);
        ck_assert_int_eq(r[0].event, MZ_EV_VIEW);
        ck_assert_int_eq(r[0].at, NOW - 80); /* 2026-11-23T09:58:40Z */
    }
    reasons_fixture_teardown(&fx);
}
END_TEST

/* One source's reason (the profile's inferred items) names the client's
 * item behind it, unless the reader may not see that item. */
START_TEST(test_source_reason_names_only_allowed_items)
{
    struct reasons_fixture fx;
    reasons_fixture_setup(&fx);
    for (int i = 0; i < 5; i++)
        reasons_fixture_observe(&fx, MZ_EV_VIEW, 0, NOW - 120 + i * 10);
    struct mz_reasons_request req = {.model = fx.model,
                                     .catalog = fx.catalog,
                                     .client = fx.client,
                                     .facts = fx.facts,
                                     .context_item = -1,
                                     .now = NOW};
    struct mz_reason r;
    ck_assert(mz_reasons_for_source(&req, 0, MZ_SOURCE_LEVEL0, &r));
    ck_assert_str_eq(r.level, "session");
    ck_assert_ptr_nonnull(r.because_item);
    ck_assert_str_eq(r.because_item, "bag-1");
    ck_assert_ptr_nonnull(strstr(r.text, "bag-1"));
    uint8_t allowed[4] = {0, 1, 1, 1}; /* bag-1 is another brand's */
    req.allowed = allowed;
    ck_assert(mz_reasons_for_source(&req, 0, MZ_SOURCE_LEVEL0, &r));
    ck_assert_ptr_null(r.because_item);
    ck_assert_ptr_null(strstr(r.text, "bag-1"));
    ck_assert(!r.has_event);
    ck_assert(!mz_reasons_for_source(&req, 99, MZ_SOURCE_LEVEL0, &r));
    reasons_fixture_teardown(&fx);
}
END_TEST

/* Similar items: the co-viewed one says so, one of the same category
 * names it; popular items name the brand; unknown items get none. */
START_TEST(test_similar_and_popular_reasons_name_what_the_items_share)
{
    struct reasons_fixture fx;
    reasons_fixture_setup(&fx);
    for (int i = 0; i < 30; i++) {
        struct mz_client *c = mz_client_new(fx.model);
        struct mz_event_obs a = {
            .item = 0, .type = MZ_EV_VIEW, .ts = NOW + i, .quantity = 1};
        struct mz_event_obs b = a;
        b.item = 3;
        mz_model_observe(fx.model, c, &a, true);
        mz_model_observe(fx.model, c, &b, true);
        mz_client_free(c);
    }
    struct mz_reason why[MZ_REASONS_MAX];
    ck_assert_int_ge(mz_reasons_build_similar(fx.model, fx.catalog, 0, 3, why),
                     1);
    ck_assert_str_eq(why[0].text, "Often viewed with bag-1.");
    ck_assert_str_eq(why[0].because_item, "bag-1");
    ck_assert_str_eq(why[0].level, "catalog");
    ck_assert_int_eq(mz_reasons_build_similar(fx.model, fx.catalog, 0, 1, why),
                     1);
    ck_assert_str_eq(why[0].text, "Also in bags, like bag-1.");
    ck_assert_int_eq(mz_reasons_build_similar(fx.model, fx.catalog, 0, 99, why),
                     0);
    ck_assert_int_eq(mz_reasons_build_popular(fx.catalog, 2, "maison", why), 1);
    ck_assert_str_eq(why[0].text, "Popular at maison right now.");
    ck_assert_ptr_null(why[0].because_item);
    ck_assert_int_eq(mz_reasons_build_popular(fx.catalog, -1, "maison", why),
                     0);
    reasons_fixture_teardown(&fx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reasons");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_source_names);
    tcase_add_test(tc, test_non_personalised_reasons_come_from_the_catalog);
    tcase_add_test(tc, test_personal_reasons_state_facts);
    tcase_add_test(tc, test_revisited_item_names_the_session_event);
    tcase_add_test(tc, test_explainer_gives_the_reasons_each_item_gets_alone);
    tcase_add_test(tc, test_source_reason_names_only_allowed_items);
    tcase_add_test(tc,
                   test_similar_and_popular_reasons_name_what_the_items_share);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
