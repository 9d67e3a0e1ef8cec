/*-------------------------------------------------------------------------
 * test_json_attributes.c
 *    Unit tests of api/json_attributes.c: tier, tiers per brand, region
 *    and consent read into the C struct, null and absent alike, the tiers
 *    bounded and written back, each wrong type named,
 *    unknown keys, the first problem as written reported first, and no
 *    leak on failure.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_attributes.h"

static enum mz_status read_text(const char *text,
                                struct mz_client_attributes *out,
                                struct mz_json_error *err)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(obj != NULL, "bad test JSON: %s", jerr.text);
    enum mz_status status = mz_json_read_attributes(obj, out, err);
    json_decref(obj);
    return status;
}

static void assert_refused(const char *text, const char *message)
{
    struct mz_client_attributes a;
    struct mz_json_error err;
    ck_assert_int_eq(read_text(text, &a, &err), MZ_ERR_INVALID);
    ck_assert_str_eq(err.message, message);
    ck_assert_ptr_null(a.tier);
    ck_assert_ptr_null(a.region);
    ck_assert_uint_eq(a.tiers.count, 0);
    ck_assert_int_eq(a.consent, -1);
}

START_TEST(test_attributes_read_into_the_struct)
{
    struct mz_client_attributes a;
    struct mz_json_error err;
    ck_assert_int_eq(read_text("{\"tier\":\"vip\",\"region\":\"FR\","
                               "\"consent\":{\"personalization\":false}}",
                               &a, &err),
                     MZ_OK);
    ck_assert_str_eq(a.tier, "vip");
    ck_assert_str_eq(a.region, "FR");
    ck_assert_int_eq(a.consent, 0);
    mz_client_attributes_clear(&a);
    ck_assert_ptr_null(a.tier);
    ck_assert_int_eq(a.consent, -1);
    mz_client_attributes_clear(NULL);

    ck_assert_int_eq(read_text("{}", &a, &err), MZ_OK);
    ck_assert_ptr_null(a.tier);
    ck_assert_int_eq(a.consent, -1);
    ck_assert_int_eq(read_text("{\"tier\":null,\"region\":\"JP\","
                               "\"consent\":{\"personalization\":true}}",
                               &a, &err),
                     MZ_OK);
    ck_assert_ptr_null(a.tier);
    ck_assert_str_eq(a.region, "JP");
    ck_assert_int_eq(a.consent, 1);
    mz_client_attributes_clear(&a);
}
END_TEST

START_TEST(test_each_field_named_with_its_limits)
{
    char message[256];
    snprintf(message, sizeof message, "tier: must be a string of 1 to %d bytes",
             MZ_ID_MAX_BYTES);
    assert_refused("{\"tier\":3}", message);
    assert_refused("{\"tier\":\"\"}", message);
    char text[512], tier[MZ_ID_MAX_BYTES + 2];
    memset(tier, 't', sizeof tier - 1);
    tier[sizeof tier - 1] = '\0';
    snprintf(text, sizeof text, "{\"tier\":\"%s\"}", tier);
    assert_refused(text, message);
    snprintf(message, sizeof message,
             "region: must be a string of 1 to %d bytes", MZ_ID_MAX_BYTES);
    assert_refused("{\"region\":[\"FR\"]}", message);
    const char *consent = "consent: must be {\"personalization\": true|false}";
    assert_refused("{\"consent\":{\"personalization\":\"yes\"}}", consent);
    assert_refused("{\"consent\":true}", consent);
    assert_refused("{\"consent\":null}", consent);
    assert_refused("{\"consent\":{}}", consent);
    assert_refused("{\"consent\":{\"personalization\":true,\"x\":1}}", consent);
    assert_refused("[]", "body must be a JSON object");
    struct mz_client_attributes a;
    struct mz_json_error err;
    ck_assert_int_eq(mz_json_read_attributes(NULL, &a, &err), MZ_ERR_INVALID);
    ck_assert_str_eq(err.message, "body must be a JSON object");
}
END_TEST

START_TEST(test_first_problem_as_written_and_unknown_keys)
{
    char message[256];
    assert_refused("{\"vip\":true}", "vip: unknown field");
    /* The keys are read in the order written: an unknown key after a bad
     * one is not what is reported, and the other way round. */
    snprintf(message, sizeof message,
             "region: must be a string of 1 to %d bytes", MZ_ID_MAX_BYTES);
    assert_refused("{\"region\":5,\"colour\":1,\"tier\":6}", message);
    assert_refused("{\"colour\":1,\"region\":5}", "colour: unknown field");
    /* Copies made before the failure are released (ASan checks). */
    assert_refused("{\"tier\":\"vip\",\"region\":\"FR\",\"consent\":1}",
                   "consent: must be {\"personalization\": true|false}");
    assert_refused("{\"consent\":{\"personalization\":true},\"tier\":\"vip\","
                   "\"zone\":1}",
                   "zone: unknown field");
    /* An unknown key shows 64 bytes of itself. */
    char key[200], text[256];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    snprintf(text, sizeof text, "{\"%s\":1}", key);
    key[64] = '\0';
    snprintf(message, sizeof message, "%s: unknown field", key);
    assert_refused(text, message);
}
END_TEST

START_TEST(test_tiers_per_brand_read_bounded_and_written_back)
{
    struct mz_client_attributes a;
    struct mz_json_error err;
    ck_assert_int_eq(read_text("{\"tier\":\"client\",\"tiers\":"
                               "{\"maison-a\":\"vip\",\"maison-b\":"
                               "\"prospect\"}}",
                               &a, &err),
                     MZ_OK);
    ck_assert_str_eq(a.tier, "client");
    ck_assert_uint_eq(a.tiers.count, 2);
    ck_assert_str_eq(mz_brand_tiers_at(&a.tiers, "maison-a", a.tier), "vip");
    ck_assert_str_eq(mz_brand_tiers_at(&a.tiers, "maison-b", a.tier),
                     "prospect");
    ck_assert_str_eq(mz_brand_tiers_at(&a.tiers, "maison-c", a.tier), "client");
    ck_assert_str_eq(mz_brand_tiers_at(&a.tiers, NULL, a.tier), "client");
    json_t *back = mz_json_write_brand_tiers(&a.tiers);
    char *text = json_dumps(back, JSON_COMPACT);
    ck_assert_str_eq(text, "{\"maison-a\":\"vip\",\"maison-b\":"
                           "\"prospect\"}");
    free(text);
    json_decref(back);
    mz_client_attributes_clear(&a);
    ck_assert_uint_eq(a.tiers.count, 0);
    ck_assert_ptr_null(a.tiers.v);

    /* null and {} are no tier per brand; the writer gives {}. */
    ck_assert_int_eq(read_text("{\"tiers\":null}", &a, &err), MZ_OK);
    ck_assert_uint_eq(a.tiers.count, 0);
    ck_assert_int_eq(read_text("{\"tiers\":{}}", &a, &err), MZ_OK);
    ck_assert_uint_eq(a.tiers.count, 0);
    back = mz_json_write_brand_tiers(NULL);
    ck_assert_uint_eq(json_object_size(back), 0);
    json_decref(back);

    /* Bounds: the number of brands, the length of ids and tiers. */
    char message[256], body[64 * 32 + 64];
    size_t used = (size_t)snprintf(body, sizeof body, "{\"tiers\":{");
    for (int i = 0; i <= MZ_BRAND_TIERS_MAX; i++)
        used += (size_t)snprintf(body + used, sizeof body - used,
                                 "%s\"b%d\":\"vip\"", i ? "," : "", i);
    snprintf(body + used, sizeof body - used, "}}");
    snprintf(message, sizeof message, "tiers: must have at most %d brands",
             MZ_BRAND_TIERS_MAX);
    assert_refused(body, message);
    char id[MZ_ID_MAX_BYTES + 2], text2[512];
    memset(id, 'b', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    snprintf(text2, sizeof text2, "{\"tiers\":{\"%s\":\"vip\"}}", id);
    snprintf(message, sizeof message, "tiers: brand ids must be 1..%d bytes",
             MZ_ID_MAX_BYTES);
    assert_refused(text2, message);
    assert_refused("{\"tiers\":{\"\":\"vip\"}}", message);
    snprintf(text2, sizeof text2, "{\"tiers\":{\"a\":\"%s\"}}", id);
    snprintf(message, sizeof message,
             "tiers.a: must be a string of 1 to %d bytes", MZ_ID_MAX_BYTES);
    assert_refused(text2, message);
    assert_refused("{\"tiers\":{\"a\":\"\"}}", message);
    assert_refused("{\"tiers\":{\"a\":null}}", message);
    assert_refused("{\"tiers\":{\"a\":\"vip\",\"b\":3}}",
                   "tiers.b: must be a string of 1 to 128 bytes");
    assert_refused("{\"tiers\":[\"vip\"]}",
                   "tiers: must be an object of brand: tier, or null");
    assert_refused("{\"tiers\":\"vip\"}",
                   "tiers: must be an object of brand: tier, or null");
    /* Copies made before a later failure are released (ASan checks). */
    assert_refused("{\"tiers\":{\"a\":\"vip\"},\"region\":5}",
                   "region: must be a string of 1 to 128 bytes");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_attributes");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_attributes_read_into_the_struct);
    tcase_add_test(tc, test_each_field_named_with_its_limits);
    tcase_add_test(tc, test_first_problem_as_written_and_unknown_keys);
    tcase_add_test(tc, test_tiers_per_brand_read_bounded_and_written_back);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
