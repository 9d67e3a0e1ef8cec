/*-------------------------------------------------------------------------
 * test_csv_events.c
 *    Unit tests of server/csv_events.c: the header, quoting, numbers
 *    where a field takes one, absent fields, and the rows refused.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "server/csv_events.h"

static struct mz_csv_events *open_ok(const char *header)
{
    char err[256] = "";
    struct mz_csv_events *csv =
        mz_csv_events_open(header, strlen(header), err, sizeof err);
    ck_assert_msg(csv != NULL, "header %s refused: %s", header, err);
    return csv;
}

/* Returns the JSON of row (caller frees) and fails the test if refused. */
static char *row_ok(const struct mz_csv_events *csv, const char *row)
{
    char err[256] = "";
    char *json = mz_csv_events_row(csv, row, strlen(row), err, sizeof err);
    ck_assert_msg(json != NULL, "row %s refused: %s", row, err);
    return json;
}

static void row_refused(const struct mz_csv_events *csv, const char *row,
                        const char *why)
{
    char err[256] = "";
    char *json = mz_csv_events_row(csv, row, strlen(row), err, sizeof err);
    ck_assert_msg(json == NULL, "row %s taken: %s", row, json);
    ck_assert_msg(strstr(err, why), "row %s: %s, not %s", row, err, why);
}

START_TEST(test_columns_in_any_order_become_the_event_fields)
{
    struct mz_csv_events *csv =
        open_ok("type,ts,client_id,event_id,item_id,value,quantity,dwell_ms,"
                "channel");
    char *json = row_ok(csv, "view,1700000000,c-1,e-1,bag-1,2.5,2,1500,web");
    ck_assert_str_eq(json, "{\"type\":\"view\",\"ts\":1700000000,"
                           "\"client_id\":\"c-1\",\"event_id\":\"e-1\","
                           "\"item_id\":\"bag-1\",\"value\":2.5,"
                           "\"quantity\":2,\"dwell_ms\":1500,"
                           "\"channel\":\"web\"}");
    free(json);
    mz_csv_events_close(csv);
}
END_TEST

START_TEST(test_empty_fields_are_absent_and_text_stays_text)
{
    struct mz_csv_events *csv = open_ok("event_id,client_id,type,ts,quantity");
    char *json = row_ok(csv, "e-1,c-1,store_visit,,");
    ck_assert_str_eq(json, "{\"event_id\":\"e-1\",\"client_id\":\"c-1\","
                           "\"type\":\"store_visit\"}");
    free(json);
    /* Not numbers: sent as text, for the server to refuse by name. */
    json = row_ok(csv, "e-2,c-1,view,2026-11-23T10:00:00Z,two");
    ck_assert_str_eq(json, "{\"event_id\":\"e-2\",\"client_id\":\"c-1\","
                           "\"type\":\"view\",\"ts\":"
                           "\"2026-11-23T10:00:00Z\",\"quantity\":\"two\"}");
    free(json);
    mz_csv_events_close(csv);
}
END_TEST

START_TEST(test_quoted_fields_hold_commas_and_quotes)
{
    struct mz_csv_events *csv = open_ok("event_id,client_id,type,channel");
    char *json = row_ok(csv, "\"e,1\",c-1,view,\"say \"\"hi\"\", ok\"");
    ck_assert_str_eq(json, "{\"event_id\":\"e,1\",\"client_id\":\"c-1\","
                           "\"type\":\"view\",\"channel\":\"say "
                           "\\\"hi\\\", ok\"}");
    free(json);
    json = row_ok(csv, "e-1,c-1,view,\"\"");
    ck_assert_ptr_null(strstr(json, "channel"));
    free(json);
    mz_csv_events_close(csv);
}
END_TEST

START_TEST(test_malformed_rows_are_refused_with_the_reason)
{
    struct mz_csv_events *csv = open_ok("event_id,client_id,type");
    row_refused(csv, "e-1,c-1", "2 fields, the header has 3");
    row_refused(csv, "e-1,c-1,view,extra", "4 fields, the header has 3");
    row_refused(csv, "e-1,c-1,\"view", "malformed quoting");
    row_refused(csv, "e-1,c-1,\"view\"x", "malformed quoting");
    row_refused(csv, "e-1,c-1,vi\"ew", "malformed quoting");
    const char nul[] = "e-1,c\0-1,view";
    char err[256] = "";
    ck_assert_ptr_null(
        mz_csv_events_row(csv, nul, sizeof nul - 1, err, sizeof err));
    ck_assert_str_eq(err, "line holds a NUL byte");
    row_refused(csv, "e-1,c-1,\xff\xfe", "type: not valid UTF-8");
    mz_csv_events_close(csv);
}
END_TEST

START_TEST(test_bad_headers_are_refused)
{
    static const struct {
        const char *header, *why;
    } cases[] = {
        {"event_id,client,type", "\"client\" is not an event field"},
        {"event_id,client_id,type,type", "\"type\" is named twice"},
        {"event_id,client_id", "no column type"},
        {"", "not an event field"},
        {"event_id,client_id,type,ts,channel,value,quantity,dwell_ms,item_id,"
         "brand,x,y",
         "at most 10 event fields"},
        {"event_id,client_id,type,x", "\"x\" is not an event field"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        ck_assert_ptr_null(mz_csv_events_open(
            cases[i].header, strlen(cases[i].header), err, sizeof err));
        ck_assert_msg(strstr(err, cases[i].why), "%s: %s", cases[i].header,
                      err);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("csv_events");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_columns_in_any_order_become_the_event_fields);
    tcase_add_test(tc, test_empty_fields_are_absent_and_text_stays_text);
    tcase_add_test(tc, test_quoted_fields_hold_commas_and_quotes);
    tcase_add_test(tc, test_malformed_rows_are_refused_with_the_reason);
    tcase_add_test(tc, test_bad_headers_are_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
