/*-------------------------------------------------------------------------
 * test_json_rules.c
 *    Unit tests of api/json_rules.c: rule-set validation (unknown keys,
 *    wrong types, huge lists, long strings), the canonical JSON (byte for
 *    byte) and its round trip, and a selection's per-rule counts.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_item.h"
#include "api/json_rules.h"

#define NOW 1795428000LL /* 2026-11-23T10:00:00Z */

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(obj != NULL, "bad test JSON: %s (%s)", jerr.text, text);
    return obj;
}

static struct mz_rules *rules_of(const char *text)
{
    json_t *obj = parse(text);
    struct mz_json_error err;
    struct mz_rules *rules = mz_json_read_rules(obj, &err);
    ck_assert_msg(rules != NULL, "rejected %s: %s", text, err.message);
    json_decref(obj);
    return rules;
}

static void assert_rules_rejected(const char *text, const char *message)
{
    json_t *obj = parse(text);
    struct mz_json_error err;
    struct mz_rules *rules = mz_json_read_rules(obj, &err);
    ck_assert_msg(rules == NULL, "accepted %s", text);
    ck_assert_int_eq(err.status, MZ_ERR_INVALID);
    ck_assert_str_eq(err.message, message);
    json_decref(obj);
}

/* The canonical text of the rule set text. */
static char *canonical(const char *text)
{
    struct mz_rules *rules = rules_of(text);
    json_t *out = mz_json_write_rules(rules);
    char *dump = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    mz_rules_free(rules);
    return dump;
}

START_TEST(test_full_rule_set_round_trips)
{
    struct mz_rules *rules = rules_of(
        "{\"categories\":{\"allow\":[\"bags\",\"shoes\"],"
        "\"exclude\":[\"outlet\"]},"
        "\"price\":{\"min\":0,\"max\":null,\"min_by_tier\":{\"prospect\":500},"
        "\"max_by_tier\":{\"vip\":100000}},"
        "\"max_per_category\":3,"
        "\"frequency_cap\":{\"max_per_item_per_day\":3},"
        "\"exclude_purchased\":{\"enabled\":true,"
        "\"repurchasable_categories\":[\"fragrance\"]},"
        "\"exclude_dismissed_days\":30}");
    json_t *out = mz_json_write_rules(rules);
    ck_assert_ptr_nonnull(out);
    struct mz_json_error err;
    struct mz_rules *again = mz_json_read_rules(out, &err);
    ck_assert_msg(again != NULL, "%s", err.message);
    json_t *out2 = mz_json_write_rules(again);
    ck_assert(json_equal(out, out2));
    ck_assert(
        json_is_null(json_object_get(json_object_get(out, "price"), "max")));
    ck_assert_int_eq(
        json_integer_value(json_object_get(out, "max_per_category")), 3);
    json_decref(out);
    json_decref(out2);
    mz_rules_free(rules);
    mz_rules_free(again);
    mz_rules_free(NULL);

    rules = rules_of("{}");
    out = mz_json_write_rules(rules);
    ck_assert_uint_eq(json_object_size(out), 0);
    json_decref(out);
    mz_rules_free(rules);
}
END_TEST

START_TEST(test_unknown_rule_kinds_rejected)
{
    assert_rules_rejected("{\"max_per_brand\":2}",
                          "max_per_brand: unknown field");
    assert_rules_rejected("{\"price\":{\"floor\":2}}",
                          "price.floor: unknown field");
    assert_rules_rejected("{\"categories\":{\"only\":[]}}",
                          "categories.only: unknown field");
    assert_rules_rejected("{\"frequency_cap\":{\"max_per_item_per_day\":1,"
                          "\"per_week\":3}}",
                          "frequency_cap.per_week: unknown field");
    assert_rules_rejected("{\"exclude_purchased\":{\"days\":3}}",
                          "exclude_purchased.days: unknown field");
}
END_TEST

START_TEST(test_wrong_types_rejected_naming_the_field)
{
    assert_rules_rejected("[]", "rules: must be an object");
    assert_rules_rejected("{\"categories\":[\"bags\"]}",
                          "categories: must be an object");
    assert_rules_rejected("{\"categories\":{\"allow\":\"bags\"}}",
                          "categories.allow: must be an array of strings");
    assert_rules_rejected("{\"categories\":{\"exclude\":[\"a\",7]}}",
                          "categories.exclude[1]: must be a string of 1..128 "
                          "bytes");
    assert_rules_rejected("{\"price\":{\"min_by_tier\":{\"vip\":-1}}}",
                          "price.min_by_tier.vip: must be a number >= 0");
    assert_rules_rejected("{\"price\":{\"max_by_tier\":{\"vip\":\"9\"}}}",
                          "price.max_by_tier.vip: must be a number >= 0");
    assert_rules_rejected("{\"price\":{\"min\":\"0\"}}",
                          "price.min: must be a number >= 0");
    assert_rules_rejected("{\"price\":{\"max\":-5}}",
                          "price.max: must be a number >= 0 or null");
    assert_rules_rejected("{\"price\":{\"min_by_tier\":[1]}}",
                          "price.min_by_tier: must be an object of tier: "
                          "number");
    assert_rules_rejected("{\"max_per_category\":0}",
                          "max_per_category: must be an integer 1..1000000");
    assert_rules_rejected("{\"max_per_category\":2.5}",
                          "max_per_category: must be an integer 1..1000000");
    assert_rules_rejected("{\"frequency_cap\":3}",
                          "frequency_cap: must be an object or null");
    assert_rules_rejected("{\"frequency_cap\":{}}",
                          "frequency_cap.max_per_item_per_day: is required");
    assert_rules_rejected("{\"exclude_purchased\":{\"enabled\":\"yes\"}}",
                          "exclude_purchased.enabled: must be a boolean");
    assert_rules_rejected("{\"exclude_dismissed_days\":-1}",
                          "exclude_dismissed_days: must be an integer "
                          "0..3650");
    assert_rules_rejected("{\"exclude_dismissed_days\":null}",
                          "exclude_dismissed_days: must be an integer "
                          "0..3650");
    struct mz_json_error err;
    ck_assert_ptr_null(mz_json_read_rules(NULL, &err));
    ck_assert_int_eq(err.status, MZ_ERR_INVALID);
    ck_assert_str_eq(err.message, "rules: must be an object");
}
END_TEST

START_TEST(test_huge_lists_and_long_strings_rejected)
{
    size_t cap = 1001 * 12 + 64;
    char *text = malloc(cap);
    size_t pos = (size_t)snprintf(text, cap, "{\"categories\":{\"allow\":[");
    for (int i = 0; i < 1001; i++)
        pos += (size_t)snprintf(text + pos, cap - pos, "%s\"c%d\"",
                                i ? "," : "", i);
    snprintf(text + pos, cap - pos, "]}}");
    assert_rules_rejected(text,
                          "categories.allow: must have at most 1000 entries");
    /* Exactly 1000 is fine. */
    pos = (size_t)snprintf(text, cap, "{\"categories\":{\"allow\":[");
    for (int i = 0; i < 1000; i++)
        pos += (size_t)snprintf(text + pos, cap - pos, "%s\"c%d\"",
                                i ? "," : "", i);
    snprintf(text + pos, cap - pos, "]}}");
    mz_rules_free(rules_of(text));
    free(text);

    char name[200];
    memset(name, 'n', 129);
    name[129] = '\0';
    char buf[512];
    snprintf(buf, sizeof(buf), "{\"categories\":{\"allow\":[\"%s\"]}}", name);
    assert_rules_rejected(buf, "categories.allow[0]: must be a string of "
                               "1..128 bytes");
    snprintf(buf, sizeof(buf), "{\"price\":{\"min_by_tier\":{\"%s\":1}}}",
             name);
    assert_rules_rejected(buf, "price.min_by_tier: tier names must be 1..128 "
                               "bytes");
    snprintf(buf, sizeof(buf), "{\"%s\":1}", name);
    json_t *obj = parse(buf);
    struct mz_json_error err;
    ck_assert_ptr_null(mz_json_read_rules(obj, &err));
    ck_assert(strstr(err.message, "nnnn") == err.message); /* terminated */
    /* The key is shown cut to MZ_RULES_MAX_STRING_BYTES. */
    name[MZ_RULES_MAX_STRING_BYTES] = '\0';
    snprintf(buf, sizeof(buf), "%s: unknown field", name);
    ck_assert_str_eq(err.message, buf);
    json_decref(obj);
}
END_TEST

START_TEST(test_canonical_text_byte_for_byte)
{
    /* What PostgreSQL stores and the API returns: the parts given, in a
     * fixed order, numbers of prices as reals, "max" always present. */
    char *text = canonical(
        "{\"exclude_dismissed_days\":30,\"exclude_purchased\":"
        "{\"repurchasable_categories\":[\"fragrance\"],\"enabled\":true},"
        "\"frequency_cap\":{\"max_per_item_per_day\":3},"
        "\"max_per_category\":3,"
        "\"price\":{\"max_by_tier\":{\"vip\":100000,\"client\":9.5},"
        "\"min_by_tier\":{\"prospect\":500},\"max\":null,\"min\":0},"
        "\"categories\":{\"exclude\":[\"outlet\"],\"allow\":[\"bags\","
        "\"shoes\"]}}");
    ck_assert_str_eq(text, "{\"categories\":{\"allow\":[\"bags\",\"shoes\"],"
                           "\"exclude\":[\"outlet\"]},\"price\":{\"min\":0.0,"
                           "\"max\":null,\"min_by_tier\":{\"prospect\":500.0},"
                           "\"max_by_tier\":{\"vip\":100000.0,\"client\":9.5}},"
                           "\"max_per_category\":3,\"frequency_cap\":"
                           "{\"max_per_item_per_day\":3},\"exclude_purchased\":"
                           "{\"enabled\":true,\"repurchasable_categories\":"
                           "[\"fragrance\"]},\"exclude_dismissed_days\":30}");
    free(text);
    /* Nulls and defaults are not written back; an empty object is. */
    text = canonical("{\"max_per_category\":null,\"frequency_cap\":null,"
                     "\"price\":{},\"exclude_purchased\":{}}");
    ck_assert_str_eq(text, "{\"price\":{\"max\":null},"
                           "\"exclude_purchased\":{\"enabled\":true}}");
    free(text);
    text = canonical("{\"categories\":{\"allow\":[]},\"price\":{\"max\":5}}");
    ck_assert_str_eq(text, "{\"categories\":{\"allow\":[]},"
                           "\"price\":{\"max\":5.0}}");
    free(text);
}
END_TEST

START_TEST(test_failures_leave_nothing_allocated)
{
    /* Lists and tier maps read before the bad field are released
     * (AddressSanitizer reports a leak otherwise). */
    assert_rules_rejected("{\"categories\":{\"allow\":[\"a\"],"
                          "\"exclude\":[\"b\"]},\"price\":{\"min_by_tier\":"
                          "{\"vip\":1},\"max_by_tier\":{\"vip\":2}},"
                          "\"exclude_purchased\":{\"repurchasable_categories\":"
                          "[\"f\"]},\"exclude_dismissed_days\":\"30\"}",
                          "exclude_dismissed_days: must be an integer "
                          "0..3650");
    assert_rules_rejected("{\"price\":{\"min_by_tier\":{\"vip\":1},"
                          "\"max_by_tier\":{\"vip\":2,\"x\":null}}}",
                          "price.max_by_tier.x: must be a number >= 0");
}
END_TEST

START_TEST(test_explain_counts)
{
    struct mz_select_result res = {.count = 0, .candidates = 6, .allowed = 0};
    res.removed[MZ_RULE_PRICE_MIN] = 6;
    snprintf(res.reason, sizeof(res.reason), "no item satisfies every rule");
    json_t *explain = mz_json_write_select_explain(&res);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(explain, "removed"), "price.min")),
                     6);
    ck_assert_int_eq(json_integer_value(json_object_get(explain, "allowed")),
                     0);
    ck_assert_str_eq(json_string_value(json_object_get(explain, "reason")),
                     res.reason);
    json_decref(explain);

    /* Only the rules that removed something; no reason for a list. */
    memset(&res, 0, sizeof(res));
    res.count = 2;
    res.candidates = 9;
    res.allowed = 5;
    res.removed[MZ_RULE_BRAND] = 3;
    res.removed[MZ_RULE_MAX_PER_CATEGORY] = 1;
    explain = mz_json_write_select_explain(&res);
    char *text = json_dumps(explain, JSON_COMPACT);
    ck_assert_str_eq(text, "{\"candidates\":9,\"allowed\":5,\"removed\":"
                           "{\"brand\":3,\"max_per_category\":1}}");
    free(text);
    json_decref(explain);
}
END_TEST

/* The selection of test_rules_select.c's contradictory-rules case, its
 * counts as ?explain=rules shows them. */
START_TEST(test_explain_of_an_empty_selection)
{
    static const char *const items[] = {
        "{\"item_id\":\"bag1\",\"brand\":\"x\",\"category\":\"bags\","
        "\"price\":300}",
        "{\"item_id\":\"bag2\",\"brand\":\"x\",\"category\":\"bags\","
        "\"price\":900}",
        "{\"item_id\":\"shoe1\",\"brand\":\"x\",\"category\":\"shoes\","
        "\"price\":700}",
        "{\"item_id\":\"out1\",\"brand\":\"x\",\"category\":\"outlet\","
        "\"price\":50}",
        "{\"item_id\":\"frag1\",\"brand\":\"x\",\"category\":"
        "\"fragrance\",\"price\":120}",
        "{\"item_id\":\"bag3\",\"brand\":\"x\",\"category\":\"bags\","
        "\"price\":5000}",
    };
    struct mz_catalog *cat = mz_catalog_new();
    for (size_t i = 0; i < 6; i++) {
        json_t *obj = parse(items[i]);
        struct mz_json_error err;
        struct mz_item *item = mz_json_read_item(obj, "", &err);
        ck_assert_msg(item != NULL, "%s", err.message);
        mz_catalog_upsert(cat, item, NULL);
        json_decref(obj);
    }
    float scores[6] = {6, 5, 4, 3, 2, 1};
    struct mz_rules *rules = rules_of("{\"price\":{\"min\":100000}}");
    struct mz_select_request req = {
        .now = NOW, .k = 5, .brand = "x", .rules = rules, .skip_counts = true};
    struct mz_select_result res;
    ck_assert_int_eq(mz_rules_select(cat, scores, 6, &req, &res), MZ_OK);
    ck_assert_int_eq(res.count, 0);
    json_t *explain = mz_json_write_select_explain(&res);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(explain, "removed"), "price.min")),
                     6);
    ck_assert_int_eq(json_integer_value(json_object_get(explain, "allowed")),
                     0);
    ck_assert_str_eq(json_string_value(json_object_get(explain, "reason")),
                     res.reason);
    ck_assert_str_eq(res.reason, "no item satisfies every rule: \"price.min\" "
                                 "removed 6 of 6 candidate items");
    json_decref(explain);
    mz_rules_free(rules);
    mz_catalog_free(cat);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_rules");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_full_rule_set_round_trips);
    tcase_add_test(tc, test_unknown_rule_kinds_rejected);
    tcase_add_test(tc, test_wrong_types_rejected_naming_the_field);
    tcase_add_test(tc, test_huge_lists_and_long_strings_rejected);
    tcase_add_test(tc, test_canonical_text_byte_for_byte);
    tcase_add_test(tc, test_failures_leave_nothing_allocated);
    tcase_add_test(tc, test_explain_counts);
    tcase_add_test(tc, test_explain_of_an_empty_selection);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
