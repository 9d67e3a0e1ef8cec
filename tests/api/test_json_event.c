/*-------------------------------------------------------------------------
 * test_json_event.c
 *    Unit tests of api/json_event.c: one event read into a record
 *    (borrowed strings, defaults, ts as RFC 3339, integer seconds or
 *    "now"), every field's message, unknown keys, public types only, and
 *    the item an event type needs.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "api/json_event.h"

#define NOW 1795428000LL /* 2026-11-23T10:00:00Z */

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(obj != NULL, "bad test JSON: %s (%s)", jerr.text, text);
    return obj;
}

static void assert_refused(const char *text, const char *message)
{
    json_t *obj = parse(text);
    struct mz_event_record rec;
    struct mz_json_error err;
    ck_assert_msg(!mz_json_read_event(obj, NOW, &rec, &err), "accepted %s",
                  text);
    ck_assert_str_eq(err.code, "invalid_input");
    ck_assert_str_eq(err.message, message);
    ck_assert_ptr_null(rec.event_id);
    ck_assert_ptr_null(rec.client_id);
    json_decref(obj);
}

static void assert_accepted(const char *text)
{
    json_t *obj = parse(text);
    struct mz_event_record rec;
    struct mz_json_error err;
    ck_assert_msg(mz_json_read_event(obj, NOW, &rec, &err), "refused %s: %s",
                  text, err.message);
    json_decref(obj);
}

START_TEST(test_full_event_and_defaults)
{
    json_t *obj = parse("{\"event_id\":\"e-1\",\"client_id\":\"c-42\","
                        "\"item_id\":\"bag-1\",\"type\":\"add_to_cart\","
                        "\"ts\":\"2026-11-23T11:00:00+01:00\",\"channel\":"
                        "\"web\",\"value\":2400.5,\"quantity\":2,"
                        "\"dwell_ms\":1500}");
    struct mz_event_record rec;
    struct mz_json_error err;
    ck_assert_msg(mz_json_read_event(obj, NOW + 99, &rec, &err), "%s",
                  err.message);
    ck_assert_str_eq(rec.event_id, "e-1");
    ck_assert_ptr_eq(rec.client_id,
                     json_string_value(json_object_get(obj, "client_id")));
    ck_assert_str_eq(rec.item_id, "bag-1");
    ck_assert_str_eq(rec.channel, "web");
    ck_assert_int_eq(rec.type, MZ_EV_ADD_TO_CART);
    ck_assert_int_eq(rec.ts, NOW);
    ck_assert(rec.value == 2400.5);
    ck_assert_int_eq(rec.quantity, 2);
    ck_assert_int_eq(rec.dwell_ms, 1500);
    ck_assert_int_eq(rec.item_index, -1);
    json_decref(obj);

    /* Absent: ts is now, quantity 1, the rest 0 or NULL; null ids are
     * absent; integer seconds are taken as they are. */
    obj = parse("{\"event_id\":\"e-2\",\"client_id\":\"c\",\"type\":"
                "\"store_visit\",\"item_id\":null,\"channel\":null}");
    ck_assert_msg(mz_json_read_event(obj, NOW, &rec, &err), "%s", err.message);
    ck_assert_int_eq(rec.ts, NOW);
    ck_assert_int_eq(rec.quantity, 1);
    ck_assert_int_eq(rec.dwell_ms, 0);
    ck_assert(rec.value == 0);
    ck_assert_ptr_null(rec.item_id);
    ck_assert_ptr_null(rec.channel);
    json_decref(obj);
    obj = parse("{\"event_id\":\"e\",\"client_id\":\"c\",\"type\":\"view\","
                "\"item_id\":\"i\",\"ts\":0}");
    ck_assert(mz_json_read_event(obj, NOW, &rec, &err));
    ck_assert_int_eq(rec.ts, 0);
    json_decref(obj);
}
END_TEST

START_TEST(test_each_field_named)
{
    char message[128], text[256];
    snprintf(message, sizeof message,
             "event_id: must be a string of 1 to %d bytes", MZ_ID_MAX_BYTES);
    assert_refused("{\"event_id\":\"\",\"client_id\":\"c\",\"type\":\"view\"}",
                   message);
    assert_refused("{\"event_id\":7,\"client_id\":\"c\",\"type\":\"view\"}",
                   message);
    assert_refused("{\"client_id\":\"c\",\"type\":\"view\"}",
                   "event_id: required");
    assert_refused("{\"event_id\":null,\"client_id\":\"c\",\"type\":\"view\"}",
                   "event_id: required");
    assert_refused("{\"event_id\":\"e\",\"type\":\"view\"}",
                   "client_id: required");
    snprintf(message, sizeof message,
             "channel: must be a string of 1 to %d bytes", MZ_ID_MAX_BYTES);
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"channel\":"
                   "\"a\\u0001\",\"type\":\"view\"}",
                   message);
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"ts\":-1,"
                   "\"type\":\"view\"}",
                   "ts: seconds since the epoch out of range");
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"ts\":"
                   "253402300800,\"type\":\"view\"}",
                   "ts: seconds since the epoch out of range");
    snprintf(message, sizeof message,
             "ts: more than %d hours ahead of the server's clock",
             MZ_EVENT_MAX_FUTURE_S / 3600);
    snprintf(text, sizeof text,
             "{\"event_id\":\"e\",\"client_id\":\"c\",\"ts\":%lld,"
             "\"type\":\"view\"}",
             (long long)NOW + MZ_EVENT_MAX_FUTURE_S + 1);
    assert_refused(text, message);
    /* (a view needs an item: the accepted one names it) */
    snprintf(text, sizeof text,
             "{\"event_id\":\"e\",\"client_id\":\"c\",\"item_id\":\"i\","
             "\"ts\":%lld,\"type\":\"view\"}",
             (long long)NOW + MZ_EVENT_MAX_FUTURE_S);
    assert_accepted(text);
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"ts\":1.5,"
                   "\"type\":\"view\"}",
                   "ts: must be an RFC 3339 date-time or integer seconds");
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"ts\":"
                   "\"1969-12-31T23:59:59Z\",\"type\":\"view\"}",
                   "ts: must be an RFC 3339 date-time or integer seconds");
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"ts\":null,"
                   "\"type\":\"view\"}",
                   "ts: must be an RFC 3339 date-time or integer seconds");
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"quantity\":0,"
                   "\"type\":\"view\"}",
                   "quantity: must be an integer in range");
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"dwell_ms\":"
                   "86400001,\"type\":\"view\"}",
                   "dwell_ms: must be an integer in range");
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\"}",
                   "type: required, a string");
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"type\":3}",
                   "type: required, a string");
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"type\":\"nope\"}",
                   "type: unknown event type");
    /* The service's own consent markers cannot be posted. */
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"type\":"
                   "\"consent_withdrawn\"}",
                   "type: unknown event type");
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"type\":\"view\","
                   "\"item_id\":\"i\",\"value\":-1}",
                   "value: must be a number >= 0");
    assert_refused("{\"event_id\":\"e\",\"client_id\":\"c\",\"type\":\"view\"}",
                   "item_id: required for this event type");
    assert_refused("[1]", "event must be a JSON object");
}
END_TEST

START_TEST(test_unknown_keys_first_and_cut)
{
    /* Unknown keys are refused before any field is looked at. */
    assert_refused("{\"event_id\":7,\"colour\":1}", "colour: unknown field");
    char key[100], text[256], message[128];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    snprintf(text, sizeof text, "{\"%s\":1}", key);
    key[48] = '\0';
    snprintf(message, sizeof message, "%s: unknown field", key);
    assert_refused(text, message);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_event");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_full_event_and_defaults);
    tcase_add_test(tc, test_each_field_named);
    tcase_add_test(tc, test_unknown_keys_first_and_cut);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
