/*-------------------------------------------------------------------------
 * test_timefmt.c
 *    Unit tests of model/timefmt.c: offsets, fractions, calendar edges,
 *    strictness, and format/parse round trips.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "model/timefmt.h"

static int64_t parse_ok(const char *text)
{
    int64_t t = -1;
    ck_assert_msg(mz_time_parse_rfc3339(text, &t), "rejected %s", text);
    return t;
}

START_TEST(test_parse_utc_and_offsets_agree)
{
    ck_assert_int_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(parse_ok("2026-11-23T10:00:00Z"), 1795428000);
    ck_assert_int_eq(parse_ok("2026-11-23T12:00:00+02:00"), 1795428000);
    ck_assert_int_eq(parse_ok("2026-11-23T05:30:00-04:30"), 1795428000);
    ck_assert_int_eq(parse_ok("2026-11-23t10:00:00z"), 1795428000);
    ck_assert_int_eq(parse_ok("2026-11-23T10:00:00+00:00"), 1795428000);
}
END_TEST

START_TEST(test_parse_fraction_truncates_to_the_earlier_second)
{
    ck_assert_int_eq(parse_ok("2026-11-23T10:00:00.999999Z"), 1795428000);
    ck_assert_int_eq(parse_ok("1969-12-31T23:59:59.5Z"), -1);
}
END_TEST

START_TEST(test_parse_calendar_edges)
{
    ck_assert_int_eq(parse_ok("2024-02-29T00:00:00Z"), 1709164800);
    ck_assert_int_eq(parse_ok("2000-02-29T00:00:00Z"), 951782400);
    ck_assert_int_eq(parse_ok("1969-12-31T23:59:59Z"), -1);
    ck_assert_int_eq(parse_ok("2016-12-31T23:59:60Z"), 1483228800);
    parse_ok("0000-01-01T00:00:00Z");
    parse_ok("9999-12-31T23:59:59Z");
}
END_TEST

START_TEST(test_parse_rejects_malformed)
{
    static const char *const bad[] = {
        "",
        "2026-11-23",
        "2026-11-23T10:00:00",
        "2026-11-23 10:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T10:60:00Z",
        "2026-11-23T10:00:61Z",
        "2026-11-23T10:00:00.Z",
        "2026-11-23T10:00:00+0200",
        "2026-11-23T10:00:00+24:00",
        "2026-11-23T10:00:00+02:60",
        "2026-11-23T10:00:00Zjunk",
        "+2026-11-23T10:00:00Z",
        "26-11-23T10:00:00Z",
        "2026-1-23T10:00:00Z",
        "2026-11-23T10:00:00 Z",
        "２026-11-23T10:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t t = 42;
        ck_assert_msg(!mz_time_parse_rfc3339(bad[i], &t), "accepted %s",
                      bad[i]);
        ck_assert_int_eq(t, 42);
    }
    int64_t t = 42;
    ck_assert(!mz_time_parse_rfc3339(NULL, &t));
}
END_TEST

START_TEST(test_format_round_trips)
{
    char buf[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(1795428000, buf);
    ck_assert_str_eq(buf, "2026-11-23T10:00:00Z");
    mz_time_format_rfc3339(-1, buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
    for (int64_t t = -5000000000LL; t < 200000000000LL; t += 987654321) {
        int64_t back = 0;
        mz_time_format_rfc3339(t, buf);
        ck_assert(mz_time_parse_rfc3339(buf, &back));
        ck_assert_int_eq(back, t);
    }
}
END_TEST

START_TEST(test_format_clamps_out_of_range)
{
    char buf[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(INT64_MAX, buf);
    ck_assert_str_eq(buf, "9999-12-31T23:59:59Z");
    mz_time_format_rfc3339(INT64_MIN, buf);
    ck_assert_str_eq(buf, "0000-01-01T00:00:00Z");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("timefmt");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_utc_and_offsets_agree);
    tcase_add_test(tc, test_parse_fraction_truncates_to_the_earlier_second);
    tcase_add_test(tc, test_parse_calendar_edges);
    tcase_add_test(tc, test_parse_rejects_malformed);
    tcase_add_test(tc, test_format_round_trips);
    tcase_add_test(tc, test_format_clamps_out_of_range);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
