/*-------------------------------------------------------------------------
 * test_text.c
 *    Unit tests of model/text.c: each routine writes the bytes snprintf
 *    writes for the format it replaces, truncation included.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model/text.h"

START_TEST(test_join_writes_what_snprintf_of_s_writes_at_every_length)
{
    const char *a = "Similar to ";
    const char *b = "sku-\xc3\xa9t\xc3\xa9";
    const char *c = ", seen recently.";
    char want[64];
    char got[64];
    int whole = snprintf(want, sizeof want, "%s%s%s", a, b, c);

    for (size_t len = 0; len <= (size_t)whole + 2; len++) {
        memset(want, 'x', sizeof want);
        memset(got, 'x', sizeof got);
        snprintf(want, len, "%s%s%s", a, b, c);
        size_t n = mz_text_join(got, len, a, b, c, NULL);
        ck_assert_uint_eq(n, (size_t)whole);
        ck_assert_msg(memcmp(want, got, sizeof got) == 0,
                      "len %zu: \"%.*s\" against \"%.*s\"", len, (int)len,
                      got, (int)len, want);
    }
}
END_TEST

START_TEST(test_join_of_nothing_and_of_empty_strings_is_empty)
{
    char got[8] = "xxxxxxx";
    ck_assert_uint_eq(mz_text_join(got, sizeof got, NULL), 0);
    ck_assert_str_eq(got, "");
    ck_assert_uint_eq(mz_text_join(got, sizeof got, "", "ab", "", NULL), 2);
    ck_assert_str_eq(got, "ab");
}
END_TEST

START_TEST(test_int64_matches_prid64_at_the_edges)
{
    static const int64_t values[] = {0,  1,         -1,        9,
                                     10, -10,       123456789, INT64_MAX,
                                     INT64_MIN, INT64_MIN + 1, 1000000};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char want[32];
        char got[MZ_TEXT_INT64_BYTES];
        int n = snprintf(want, sizeof want, "%" PRId64, values[i]);
        ck_assert_uint_eq(mz_text_int64(got, values[i]), (size_t)n);
        ck_assert_str_eq(got, want);
    }
}
END_TEST

START_TEST(test_real_matches_g_formats_over_many_magnitudes)
{
    /* Scores, prices and timings: tiny to huge, negative, integers,
     * subnormals, and the values that round up a digit. */
    static const double special[] = {0.0,     -0.0,     1.0,  0.1,
                                     1e-300,  4.9e-324, 1e21, 999999999.5,
                                     0.99999999995, -123.456, 1e15, INFINITY,
                                     -INFINITY, NAN};
    static const int digits[] = {1, 9, 15, 17};
    uint64_t state = 88172645463325252ULL;

    for (size_t d = 0; d < sizeof digits / sizeof digits[0]; d++) {
        char format[8];
        snprintf(format, sizeof format, "%%.%dg", digits[d]);
        for (int i = 0; i < 20000; i++) {
            double v;
            if (i < (int)(sizeof special / sizeof special[0])) {
                v = special[i];
            } else {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                memcpy(&v, &state, sizeof v); /* any bit pattern */
            }
            char want[40];
            char got[40];
            int n = snprintf(want, sizeof want, format, v);
            ck_assert_int_eq(mz_text_real(got, sizeof got, v, digits[d]), n);
            ck_assert_str_eq(got, want);
        }
    }
}
END_TEST

START_TEST(test_real_refuses_bad_digits_and_short_room)
{
    char got[4];
    ck_assert_int_eq(mz_text_real(got, sizeof got, 1.5, 0), -1);
    ck_assert_int_eq(mz_text_real(got, sizeof got, 1.5, 18), -1);
    ck_assert_int_eq(mz_text_real(got, 0, 1.5, 9), -1);
    ck_assert_int_eq(mz_text_real(got, sizeof got, 12345.0, 9), -1);
    ck_assert_int_eq(mz_text_real(got, sizeof got, 1.5, 9), 3);
    ck_assert_str_eq(got, "1.5");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc,
                   test_join_writes_what_snprintf_of_s_writes_at_every_length);
    tcase_add_test(tc, test_join_of_nothing_and_of_empty_strings_is_empty);
    tcase_add_test(tc, test_int64_matches_prid64_at_the_edges);
    tcase_add_test(tc, test_real_matches_g_formats_over_many_magnitudes);
    tcase_add_test(tc, test_real_refuses_bad_digits_and_short_room);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
