/*-------------------------------------------------------------------------
 * test_json_reasons.c
 *    Unit tests of api/json_reasons.c: the reasons of model/reasons.c as
 *    the API writes them (catalog reasons for a non-personalised request,
 *    personal reasons stating only facts, the keys and their order).
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_reasons.h"
#include "model/timefmt.h"
#include "tests/model/reasons_fixture.h"

#define NOW REASONS_NOW
#define DAY REASONS_DAY

/* reasons[0..n-1] as the API writes them (caller frees). */
static char *reasons_text(const struct mz_reason *reasons, int n)
{
    struct mz_json_out out;
    size_t len;
    mz_json_out_init(&out);
    mz_json_out_reasons(&out, reasons, n);
    char *text = mz_json_out_finish(&out, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    return text;
}

/* The reasons for item as the API writes them, parsed back (caller
 * decrefs). */
static json_t *reasons_json(const struct mz_reasons_request *req, int32_t item)
{
    struct mz_reason why[MZ_REASONS_MAX];
    char *text = reasons_text(why, mz_reasons_build(req, item, why));
    json_error_t error;
    json_t *doc = json_loads(text, 0, &error);
    ck_assert_msg(doc != NULL, "%s: %s", text, error.text);
    free(text);
    return doc;
}

START_TEST(test_non_personalised_reasons_come_from_the_catalog)
{
    struct reasons_fixture fx;
    reasons_fixture_setup(&fx);
    struct mz_reasons_request req = {.model = fx.model,
                                     .catalog = fx.catalog,
                                     .context_item = -1,
                                     .now = NOW};
    json_t *r = reasons_json(&req, 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(json_array_size(r), 1);
    json_t *first = json_array_get(r, 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "level")),
                     "catalog");
    ck_assert_str_eq(json_string_value(json_object_get(first, "text")),
                     "Popular in bags right now.");
    ck_assert_ptr_null(json_object_get(first, "because_item"));
    json_decref(r);

    r = reasons_json(&req, 2); /* launched three days ago */
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(r, 0), "text")),
        "New arrival.");
    json_decref(r);
    /* No reasons (item not in the catalog): an empty array. */
    r = reasons_json(&req, 99);
    ck_assert_uint_eq(json_array_size(r), 0);
    json_decref(r);
    r = reasons_json(NULL, 0);
    ck_assert_uint_eq(json_array_size(r), 0);
    json_decref(r);
    reasons_fixture_teardown(&fx);
}
END_TEST

/* Every reason has a known level and a sentence; evidence, when given,
 * names a catalog item and matches what the facts recorded. */
static void assert_reasons_are_facts(const struct reasons_fixture *fx,
                                     json_t *r)
{
    size_t i;
    json_t *reason;
    ck_assert_uint_ge(json_array_size(r), 1);
    ck_assert_uint_le(json_array_size(r), MZ_REASONS_MAX);
    json_array_foreach(r, i, reason)
    {
        const char *level = json_string_value(json_object_get(reason, "level"));
        const char *text = json_string_value(json_object_get(reason, "text"));
        ck_assert_ptr_nonnull(level);
        ck_assert_ptr_nonnull(text);
        ck_assert(
            strcmp(level, "session") == 0 || strcmp(level, "recent") == 0 ||
            strcmp(level, "long_term") == 0 || strcmp(level, "catalog") == 0);
        ck_assert_int_eq(text[strlen(text) - 1], '.');
        const char *because =
            json_string_value(json_object_get(reason, "because_item"));
        if (!because) {
            ck_assert_ptr_null(json_object_get(reason, "event"));
            continue;
        }
        int32_t item = mz_catalog_find(fx->catalog, because);
        ck_assert_int_ge(item, 0);
        ck_assert_ptr_nonnull(strstr(text, because));
        json_t *event = json_object_get(reason, "event");
        if (event) {
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
            ck_assert_str_eq(json_string_value(event),
                             mz_event_type_name(ev.type));
            char when[MZ_TIME_RFC3339_BYTES];
            mz_time_format_rfc3339(ev.ts, when);
            ck_assert_str_eq(json_string_value(json_object_get(reason, "at")),
                             when);
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
        json_t *r = reasons_json(&req, item);
        ck_assert_ptr_nonnull(r);
        assert_reasons_are_facts(&fx, r);
        /* The same inputs give the same reasons. */
        json_t *again = reasons_json(&req, item);
        ck_assert(json_equal(r, again));
        json_decref(r);
        json_decref(again);
    }
    /* Without facts there is no event or time to state. */
    req.facts = NULL;
    json_t *r = reasons_json(&req, 0);
    size_t i;
    json_t *reason;
    json_array_foreach(r, i, reason)
    {
        ck_assert_ptr_null(json_object_get(reason, "event"));
        ck_assert_ptr_null(json_object_get(reason, "at"));
    }
    json_decref(r);
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
    json_t *r = reasons_json(&req, 1);
    ck_assert_ptr_nonnull(r);
    assert_reasons_are_facts(&fx, r);
    char *dump = json_dumps(r, JSON_COMPACT);
    fprintf(stderr, "reasons for a re-viewed item: %s\n", dump);
    free(dump);
    json_t *first = json_array_get(r, 0);
    if (strcmp(json_string_value(json_object_get(first, "level")), "session") ==
        0) {
        ck_assert_str_eq(
            json_string_value(json_object_get(first, "because_item")), "bag-2");
        ck_assert_str_eq(json_string_value(json_object_get(first, "text")),
                         "Viewed bag-2 in this session.");
        ck_assert_str_eq(json_string_value(json_object_get(first, "at")),
                         "2026-11-23T09:58:40Z");
    }
    json_decref(r);
    reasons_fixture_teardown(&fx);
}
END_TEST

START_TEST(test_keys_in_the_order_the_api_shows)
{
    struct mz_reason r[3] = {
        {.source = MZ_SOURCE_LEVEL0,
         .level = "session",
         .because_item = "bag-2",
         .has_event = true,
         .event = MZ_EV_VIEW,
         .at = NOW - 80,
         .text = "Viewed bag-2 in this session."},
        {.source = MZ_SOURCE_CATALOG,
         .level = "catalog",
         .because_item = "bag-1",
         .text = "Shoppers who looked at bag-1 also looked at this."},
        {.source = MZ_SOURCE_CATALOG,
         .level = "catalog",
         .text = "New arrival."},
    };
    char *text = reasons_text(r, 3);
    ck_assert_str_eq(text,
                     "[{\"level\":\"session\",\"text\":\"Viewed bag-2 in "
                     "this session.\",\"because_item\":\"bag-2\",\"event\":"
                     "\"view\",\"at\":\"2026-11-23T09:58:40Z\"},{\"level\":"
                     "\"catalog\",\"because_item\":\"bag-1\",\"text\":"
                     "\"Shoppers who looked at bag-1 also looked at this.\"},"
                     "{\"level\":\"catalog\",\"text\":\"New arrival.\"}]");
    free(text);
    /* A personal reason without evidence names no item. */
    struct mz_reason taste = {.source = MZ_SOURCE_LEVEL0 + 2,
                              .level = "long_term",
                              .text = "Matches the client's long-standing "
                                      "taste."};
    text = reasons_text(&taste, 1);
    ck_assert_str_eq(text, "[{\"level\":\"long_term\",\"text\":\"Matches "
                           "the client's long-standing taste.\"}]");
    free(text);
    text = reasons_text(NULL, 0);
    ck_assert_str_eq(text, "[]");
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_reasons");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_non_personalised_reasons_come_from_the_catalog);
    tcase_add_test(tc, test_personal_reasons_state_facts);
    tcase_add_test(tc, test_revisited_item_names_the_session_event);
    tcase_add_test(tc, test_keys_in_the_order_the_api_shows);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
