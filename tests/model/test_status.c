/*-------------------------------------------------------------------------
 * test_status.c
 *    Unit tests of model/status.c: every status has a code and an HTTP
 *    status, codes are unique and stable, values outside the enum fall
 *    back to "internal"/500.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <ctype.h>
#include <string.h>

#include "model/status.h"

START_TEST(test_every_status_has_a_code_and_an_http_status)
{
    for (int s = 0; s < MZ_STATUS_COUNT; s++) {
        const char *code = mz_status_code((enum mz_status)s);
        int http = mz_status_http((enum mz_status)s);

        ck_assert_ptr_nonnull(code);
        ck_assert_msg(code[0] != '\0', "status %d has an empty code", s);
        /* internal is also the fallback: only MZ_ERR_INTERNAL may give it. */
        ck_assert_msg(strcmp(code, "internal") != 0 || s == MZ_ERR_INTERNAL,
                      "status %d has no row of its own", s);
        for (const char *p = code; *p; p++)
            ck_assert_msg(islower((unsigned char)*p) || *p == '_',
                          "code %s is not lower_case", code);
        ck_assert_msg(http >= 200 && http <= 599, "status %d: HTTP %d", s,
                      http);
        ck_assert_msg((s == MZ_OK) == (http < 400), "status %d: HTTP %d", s,
                      http);
    }
}
END_TEST

START_TEST(test_codes_are_unique)
{
    for (int a = 0; a < MZ_STATUS_COUNT; a++)
        for (int b = a + 1; b < MZ_STATUS_COUNT; b++)
            ck_assert_msg(strcmp(mz_status_code((enum mz_status)a),
                                 mz_status_code((enum mz_status)b)) != 0,
                          "statuses %d and %d share code %s", a, b,
                          mz_status_code((enum mz_status)a));
}
END_TEST

/* The codes are the API contract: error bodies must not change. */
START_TEST(test_codes_and_http_statuses_are_the_contract)
{
    static const struct {
        enum mz_status status;
        const char *code;
        int http;
    } want[] = {
        {MZ_OK, "ok", 200},
        {MZ_ERR_NOMEM, "out_of_memory", 503},
        {MZ_ERR_INVALID, "invalid_input", 400},
        {MZ_ERR_NOT_FOUND, "not_found", 404},
        {MZ_ERR_CONFLICT, "conflict", 409},
        {MZ_ERR_TOO_LARGE, "payload_too_large", 413},
        {MZ_ERR_UNSUPPORTED_MEDIA, "unsupported_media_type", 415},
        {MZ_ERR_METHOD, "method_not_allowed", 405},
        {MZ_ERR_DB_UNAVAILABLE, "database_unavailable", 503},
        {MZ_ERR_DB, "database_error", 500},
        {MZ_ERR_SHUTTING_DOWN, "shutting_down", 503},
        {MZ_ERR_INTERNAL, "internal", 500},
        {MZ_ERR_UNKNOWN_ITEM, "unknown_item", 400},
        {MZ_ERR_NOT_READY, "not_ready", 503},
        {MZ_ERR_UNAUTHORIZED, "unauthorized", 401},
        {MZ_ERR_FORBIDDEN, "forbidden", 403},
        {MZ_ERR_RATE_LIMITED, "rate_limited", 429},
        {MZ_ERR_NOT_CAUGHT_UP, "not_caught_up", 503},
    };

    ck_assert_int_eq(sizeof want / sizeof *want, MZ_STATUS_COUNT);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        ck_assert_str_eq(mz_status_code(want[i].status), want[i].code);
        ck_assert_int_eq(mz_status_http(want[i].status), want[i].http);
    }
}
END_TEST

START_TEST(test_values_outside_the_enum_are_internal)
{
    ck_assert_str_eq(mz_status_code(MZ_STATUS_COUNT), "internal");
    ck_assert_int_eq(mz_status_http(MZ_STATUS_COUNT), 500);
    ck_assert_str_eq(mz_status_code((enum mz_status) - 1), "internal");
    ck_assert_int_eq(mz_status_http((enum mz_status) - 1), 500);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_status_has_a_code_and_an_http_status);
    tcase_add_test(tc, test_codes_are_unique);
    tcase_add_test(tc, test_codes_and_http_statuses_are_the_contract);
    tcase_add_test(tc, test_values_outside_the_enum_are_internal);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
