/*-------------------------------------------------------------------------
 * test_json_item.c
 *    Unit tests of api/json_item.c: item validation (every field, hostile
 *    input, limits), the JSON written back (key order, byte for byte),
 *    round trips, and the tokens of an item read from JSON.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_item.h"

static struct mz_item *item_from(const char *text, enum mz_status *status,
                                 char *err, size_t err_len)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    ck_assert_msg(obj != NULL, "bad test JSON: %s", jerr.text);
    struct mz_json_error e;
    struct mz_item *item = mz_json_read_item(obj, "items[3]", &e);
    *status = item ? MZ_OK : e.status;
    snprintf(err, err_len, "%s", item ? "" : e.message);
    json_decref(obj);
    return item;
}

/* Asserts that text is rejected with exactly message. */
static void assert_rejected(const char *text, const char *message)
{
    char err[256] = "";
    enum mz_status status = MZ_OK;
    struct mz_item *item = item_from(text, &status, err, sizeof(err));
    ck_assert_msg(item == NULL, "accepted %s", text);
    ck_assert_int_eq(status, MZ_ERR_INVALID);
    ck_assert_str_eq(err, message);
}

static struct mz_item *make_item(const char *id, const char *brand,
                                 const char *category, double price)
{
    char text[512];
    snprintf(text, sizeof(text),
             "{\"item_id\":\"%s\",\"brand\":\"%s\",\"category\":\"%s\","
             "\"price\":%g}",
             id, brand, category, price);
    enum mz_status status;
    char err[256];
    struct mz_item *item = item_from(text, &status, err, sizeof(err));
    ck_assert_msg(item != NULL, "%s", err);
    return item;
}

START_TEST(test_item_full_object_parses)
{
    enum mz_status status;
    char err[256] = "";
    struct mz_item *item = item_from(
        "{\"item_id\":\"sku-1\",\"brand\":\"maison-a\",\"category\":\"bags\","
        "\"price\":1250.5,\"currency\":\"EUR\",\"available\":false,"
        "\"stock\":3,\"launch_at\":\"2026-03-01T09:00:00+01:00\","
        "\"end_at\":\"2026-12-31T23:59:59.5Z\",\"regions\":[\"FR\",\"IT\"],"
        "\"reserved_tiers\":[\"vip\"],\"tags\":[\"leather\"],"
        "\"attributes\":{\"color\":\"black\",\"size\":42,\"limited\":true}}",
        &status, err, sizeof(err));
    ck_assert_msg(item != NULL, "%s", err);
    ck_assert_int_eq(status, MZ_OK);
    ck_assert_str_eq(item->item_id, "sku-1");
    ck_assert_str_eq(item->currency, "EUR");
    ck_assert(!item->available);
    ck_assert_int_eq(item->stock, 3);
    ck_assert_int_eq(item->launch_at, 1772352000);
    ck_assert(item->has_regions);
    ck_assert_uint_eq(item->regions.count, 2);
    ck_assert(item->has_reserved_tiers);
    ck_assert_str_eq(item->tags.items[0], "leather");
    ck_assert_uint_eq(item->attributes.count, 3);
    ck_assert_str_eq(item->attributes.v[0].key, "color");
    ck_assert_int_eq(item->attributes.v[0].kind, MZ_ATTRIBUTE_STRING);
    ck_assert_str_eq(item->attributes.v[0].value.string, "black");
    ck_assert_int_eq(item->attributes.v[1].kind, MZ_ATTRIBUTE_INTEGER);
    ck_assert_int_eq(item->attributes.v[1].value.integer, 42);
    ck_assert_int_eq(item->attributes.v[2].kind, MZ_ATTRIBUTE_BOOLEAN);
    ck_assert(item->attributes.v[2].value.boolean);
    mz_item_free(item);
}
END_TEST

START_TEST(test_item_defaults_for_absent_fields)
{
    struct mz_item *item = make_item("a", "b", "c", 0);
    ck_assert(item->available);
    ck_assert_int_eq(item->stock, -1);
    ck_assert_int_eq(item->launch_at, MZ_TIME_NONE_BEFORE);
    ck_assert_int_eq(item->end_at, MZ_TIME_NONE_AFTER);
    ck_assert(!item->has_regions);
    ck_assert(!item->has_reserved_tiers);
    ck_assert_str_eq(item->currency, "");
    mz_item_free(item);
}
END_TEST

START_TEST(test_item_errors_name_the_field)
{
    assert_rejected("{\"brand\":\"b\",\"category\":\"c\",\"price\":1}",
                    "items[3].item_id: is required");
    assert_rejected("{\"item_id\":\"\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1}",
                    "items[3].item_id: must be a string of 1..128 bytes");
    assert_rejected("{\"item_id\":\"a\",\"brand\":7,\"category\":\"c\","
                    "\"price\":1}",
                    "items[3].brand: must be a string of 1..128 bytes");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"price\":1}",
                    "items[3].category: is required");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":-1}",
                    "items[3].price: must be a number >= 0");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":\"12\"}",
                    "items[3].price: must be a number >= 0");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\"}",
                    "items[3].price: is required");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"currency\":\"eur\"}",
                    "items[3].currency: must be 3 upper-case letters "
                    "(ISO 4217)");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"available\":1}",
                    "items[3].available: must be a boolean");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"stock\":1.5}",
                    "items[3].stock: must be an integer >= 0");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"stock\":-2}",
                    "items[3].stock: must be an integer >= 0");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"regions\":[\"FR\",3]}",
                    "items[3].regions[1]: must be a string of 1..128 bytes");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"tags\":\"x\"}",
                    "items[3].tags: must be an array of strings");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"attributes\":{\"k\":{\"a\":1}}}",
                    "items[3].attributes.k: must be a string, number, "
                    "boolean, or a list of strings or of numbers");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"attributes\":{\"k\":null}}",
                    "items[3].attributes.k: must be a string, number, "
                    "boolean, or a list of strings or of numbers");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"colour\":\"red\"}",
                    "items[3].colour: unknown field");
}
END_TEST

START_TEST(test_item_dates_are_strict)
{
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"launch_at\":\"2026-02-30T00:00:00Z\"}",
                    "items[3].launch_at: must be an RFC 3339 date-time, e.g. "
                    "\"2026-03-01T09:00:00+01:00\"");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"end_at\":1700000000}",
                    "items[3].end_at: must be an RFC 3339 date-time, e.g. "
                    "\"2026-03-01T09:00:00+01:00\"");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"launch_at\":\"2026-03-01T00:00:00Z\","
                    "\"end_at\":\"2026-03-01T01:00:00+01:00\"}",
                    "items[3].end_at: must be after launch_at");
}
END_TEST

START_TEST(test_item_limits)
{
    char id[300];
    memset(id, 'x', 129);
    id[129] = '\0';
    char text[4096];
    snprintf(text, sizeof(text),
             "{\"item_id\":\"%s\",\"brand\":\"b\",\"category\":\"c\","
             "\"price\":1}",
             id);
    assert_rejected(text, "items[3].item_id: must be a string of 1..128 bytes");
    id[128] = '\0';
    snprintf(text, sizeof(text),
             "{\"item_id\":\"%s\",\"brand\":\"b\",\"category\":\"c\","
             "\"price\":1}",
             id);
    enum mz_status status;
    char err[256];
    struct mz_item *item = item_from(text, &status, err, sizeof(err));
    ck_assert_msg(item != NULL, "%s", err);
    mz_item_free(item);

    /* 65 regions, 65 attributes. */
    size_t pos = (size_t)snprintf(text, sizeof(text),
                                  "{\"item_id\":\"a\",\"brand\":\"b\","
                                  "\"category\":\"c\",\"price\":1,"
                                  "\"regions\":[");
    for (int i = 0; i < 65; i++)
        pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "%s\"R%d\"",
                                i ? "," : "", i);
    snprintf(text + pos, sizeof(text) - pos, "]}");
    assert_rejected(text, "items[3].regions: must have at most 64 entries");
    pos = (size_t)snprintf(text, sizeof(text),
                           "{\"item_id\":\"a\",\"brand\":\"b\","
                           "\"category\":\"c\",\"price\":1,"
                           "\"attributes\":{");
    for (int i = 0; i < 65; i++)
        pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "%s\"k%d\":1",
                                i ? "," : "", i);
    snprintf(text + pos, sizeof(text) - pos, "}}");
    assert_rejected(text, "items[3].attributes: must have at most 64 keys");
}
END_TEST

START_TEST(test_item_rejects_non_objects_and_nul)
{
    struct mz_json_error err;
    json_t *array = json_array();
    ck_assert_ptr_null(mz_json_read_item(array, "", &err));
    ck_assert_int_eq(err.status, MZ_ERR_INVALID);
    ck_assert_str_eq(err.message, "item: must be an object");
    json_decref(array);
    ck_assert_ptr_null(mz_json_read_item(NULL, "x", &err));
    ck_assert_str_eq(err.message, "x: must be an object");

    json_t *obj = json_pack("{s:s#, s:s, s:s, s:i}", "item_id", "a\0b", 3,
                            "brand", "b", "category", "c", "price", 1);
    ck_assert_ptr_null(mz_json_read_item(obj, "", &err));
    ck_assert_str_eq(err.message, "item_id: must be a string of 1..128 bytes");
    json_decref(obj);
}
END_TEST

START_TEST(test_item_json_round_trip)
{
    enum mz_status status;
    char err[256];
    struct mz_item *item = item_from(
        "{\"item_id\":\"sku-1\",\"brand\":\"a\",\"category\":\"bags\","
        "\"price\":10,\"currency\":\"EUR\",\"stock\":0,"
        "\"launch_at\":\"2026-03-01T09:00:00+01:00\",\"regions\":[],"
        "\"tags\":[\"t\"],\"attributes\":{\"c\":\"red\"}}",
        &status, err, sizeof(err));
    ck_assert_msg(item != NULL, "%s", err);
    json_t *out = mz_json_write_item(item);
    ck_assert_str_eq(json_string_value(json_object_get(out, "launch_at")),
                     "2026-03-01T08:00:00Z");
    ck_assert_ptr_null(json_object_get(out, "end_at"));
    /* An empty regions list restricts nothing, like an absent one. */
    ck_assert(!item->has_regions);
    ck_assert_ptr_null(json_object_get(out, "reserved_tiers"));
    struct mz_json_error e;
    struct mz_item *again = mz_json_read_item(out, "", &e);
    ck_assert_msg(again != NULL, "%s", e.message);
    json_t *out2 = mz_json_write_item(again);
    ck_assert(json_equal(out, out2));
    ck_assert(!again->has_regions);
    ck_assert_int_eq(again->stock, 0);
    json_decref(out);
    json_decref(out2);
    mz_item_free(item);
    mz_item_free(again);
}
END_TEST

START_TEST(test_item_written_back_byte_for_byte)
{
    /* The text PostgreSQL stores and the API returns: keys in a fixed
     * order, dates in UTC, the price a real, attributes as given. */
    enum mz_status status;
    char err[256];
    struct mz_item *item = item_from(
        "{\"attributes\":{\"color\":\"black\",\"size\":42,\"limited\":true,"
        "\"ratio\":2.0},\"tags\":[\"leather\"],\"reserved_tiers\":[\"vip\"],"
        "\"regions\":[\"FR\",\"IT\"],\"end_at\":\"2026-12-31T23:59:59.5Z\","
        "\"launch_at\":\"2026-03-01T09:00:00+01:00\",\"stock\":3,"
        "\"available\":false,\"currency\":\"EUR\",\"price\":1250.5,"
        "\"category\":\"bags\",\"brand\":\"maison-a\",\"item_id\":\"sku-1\"}",
        &status, err, sizeof(err));
    ck_assert_msg(item != NULL, "%s", err);
    json_t *out = mz_json_write_item(item);
    char *text = json_dumps(out, JSON_COMPACT);
    ck_assert_str_eq(text,
                     "{\"item_id\":\"sku-1\",\"brand\":\"maison-a\","
                     "\"category\":\"bags\",\"price\":1250.5,"
                     "\"currency\":\"EUR\",\"available\":false,\"stock\":3,"
                     "\"launch_at\":\"2026-03-01T08:00:00Z\","
                     "\"end_at\":\"2026-12-31T23:59:59Z\","
                     "\"regions\":[\"FR\",\"IT\"],\"reserved_tiers\":[\"vip\"],"
                     "\"tags\":[\"leather\"],\"attributes\":{\"color\":"
                     "\"black\",\"size\":42,\"limited\":true,\"ratio\":2.0}}");
    free(text);
    json_decref(out);
    mz_item_free(item);

    item = make_item("a", "b", "c", 3);
    out = mz_json_write_item(item);
    text = json_dumps(out, JSON_COMPACT);
    ck_assert_str_eq(text, "{\"item_id\":\"a\",\"brand\":\"b\",\"category\":"
                           "\"c\",\"price\":3.0,\"available\":true,"
                           "\"tags\":[],\"attributes\":{}}");
    free(text);
    json_decref(out);
    mz_item_free(item);
}
END_TEST

START_TEST(test_tokens_ignore_attribute_order)
{
    enum mz_status status;
    char err[256];
    struct mz_item *a =
        item_from("{\"item_id\":\"a\",\"brand\":\"m\",\"category\":\"bags\","
                  "\"price\":1000,\"tags\":[\"x\"],"
                  "\"attributes\":{\"z\":1,\"a\":\"s\",\"m\":true}}",
                  &status, err, sizeof(err));
    struct mz_item *b =
        item_from("{\"item_id\":\"b\",\"brand\":\"m\",\"category\":\"bags\","
                  "\"price\":1000,\"tags\":[\"x\"],"
                  "\"attributes\":{\"m\":true,\"z\":1,\"a\":\"s\"}}",
                  &status, err, sizeof(err));
    struct mz_string_list ta = {0}, tb = {0};
    ck_assert_int_eq(mz_item_tokens(a, &ta), MZ_OK);
    ck_assert_int_eq(mz_item_tokens(b, &tb), MZ_OK);
    ck_assert_uint_eq(ta.count, 7);
    ck_assert_uint_eq(ta.count, tb.count);
    for (size_t i = 0; i < ta.count; i++)
        ck_assert_str_eq(ta.items[i], tb.items[i]);
    ck_assert_str_eq(ta.items[0], "brand=m");
    ck_assert_str_eq(ta.items[1], "category=bags");
    ck_assert_str_eq(ta.items[2], "tag=x");
    ck_assert_str_eq(ta.items[3], "price_band=10");
    ck_assert_str_eq(ta.items[4], "attr:a=s");
    ck_assert_str_eq(ta.items[5], "attr:m=true");
    ck_assert_str_eq(ta.items[6], "attr:z=1");
    mz_string_list_clear(&ta);
    mz_string_list_clear(&tb);
    mz_item_free(a);
    mz_item_free(b);
}
END_TEST

START_TEST(test_item_failures_leave_nothing_allocated)
{
    /* Strings, lists and attributes read before the bad field are
     * released (AddressSanitizer reports a leak otherwise). */
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"regions\":[\"FR\"],\"tags\":[\"t\"],"
                    "\"attributes\":{\"k\":\"v\",\"n\":{}}}",
                    "items[3].attributes.n: must be a string, number, "
                    "boolean, or a list of strings or of numbers");
    /* A list refused half way is released with what it held. */
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"attributes\":{\"k\":[\"v\",\"w\",[1]]}}",
                    "items[3].attributes.k[2]: a list entry must be a string "
                    "or a number (not a list, object, boolean or null)");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"attributes\":{\"k\":\"v\",\"\":1}}",
                    "items[3].attributes: keys must be 1..128 bytes");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"attributes\":{\"k\":1e308,\"s\":\"x\","
                    "\"t\":\"" /* 129 bytes */
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxx\"}}",
                    "items[3].attributes.t: must be a string of at most 128 "
                    "bytes");
    assert_rejected("{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
                    "\"price\":1,\"tags\":[\"t\"],\"available\":null}",
                    "items[3].available: must be a boolean");
}
END_TEST

/* Writes an item whose attributes are body (the text inside {}) into
 * text. */
static void item_with_attributes(char *text, size_t len, const char *body)
{
    snprintf(text, len,
             "{\"item_id\":\"a\",\"brand\":\"b\",\"category\":\"c\","
             "\"price\":1,\"attributes\":{%s}}",
             body);
}

START_TEST(test_list_attributes_read_and_written_as_given)
{
    enum mz_status status;
    char err[256];
    char text[1024];
    item_with_attributes(text, sizeof text,
                         "\"materials\":[\"leather\",\"gold\"],"
                         "\"sizes\":[38,40.5],\"none\":[],\"k\":\"v\"");
    struct mz_item *item = item_from(text, &status, err, sizeof(err));
    ck_assert_msg(item != NULL, "%s", err);
    const struct mz_item_attribute *m = &item->attributes.v[0];
    ck_assert_int_eq(m->kind, MZ_ATTRIBUTE_LIST);
    ck_assert_uint_eq(m->value.list.count, 2);
    ck_assert_ptr_null(m->value.list.entries[0].key);
    ck_assert_str_eq(m->value.list.entries[1].value.string, "gold");
    const struct mz_item_attribute *sizes = &item->attributes.v[1];
    ck_assert_int_eq(sizes->value.list.entries[0].kind, MZ_ATTRIBUTE_INTEGER);
    ck_assert_int_eq(sizes->value.list.entries[1].kind, MZ_ATTRIBUTE_REAL);
    ck_assert_uint_eq(item->attributes.v[2].value.list.count, 0);
    json_t *out = mz_json_write_item(item);
    char *written =
        json_dumps(json_object_get(out, "attributes"), JSON_COMPACT);
    ck_assert_str_eq(written, "{\"materials\":[\"leather\",\"gold\"],"
                              "\"sizes\":[38,40.5],\"none\":[],\"k\":\"v\"}");
    free(written);
    json_decref(out);
    mz_item_free(item);
}
END_TEST

#define NOT_AN_ENTRY                                                           \
    "a list entry must be a string or a number (not a list, object, "          \
    "boolean or null)"
#define NOT_BOTH                                                               \
    "like the list's first entry (a list holds strings or numbers, not both)"

START_TEST(test_list_attributes_refused_with_the_limit)
{
    static const struct {
        const char *attributes, *message;
    } refused[] = {
        {"\"m\":[\"a\",[\"b\"]]", "m[1]: " NOT_AN_ENTRY},
        {"\"m\":[{\"a\":1}]", "m[0]: " NOT_AN_ENTRY},
        {"\"m\":[true]", "m[0]: " NOT_AN_ENTRY},
        {"\"m\":[\"a\",1]", "m[1]: must be a string " NOT_BOTH},
        {"\"m\":[1,2.5,\"a\"]", "m[2]: must be a number " NOT_BOTH},
    };
    char text[16384];
    char message[256];
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        item_with_attributes(text, sizeof text, refused[i].attributes);
        snprintf(message, sizeof message, "items[3].attributes.%s",
                 refused[i].message);
        assert_rejected(text, message);
    }
    char big[200];
    memset(big, 'x', 129);
    big[129] = '\0';
    char body[2048];
    snprintf(body, sizeof body, "\"m\":[\"ok\",\"%s\"]", big);
    item_with_attributes(text, sizeof text, body);
    assert_rejected(text, "items[3].attributes.m[1]: must be a string of at "
                          "most 128 bytes");

    /* 65 entries in one list; then 5 lists of 60 (300 values > 256). */
    char list[1024];
    size_t pos = 0;
    for (int i = 0; i < 65; i++)
        pos += (size_t)snprintf(list + pos, sizeof list - pos, "%s%d",
                                i ? "," : "", i);
    snprintf(body, sizeof body, "\"m\":[%s]", list);
    item_with_attributes(text, sizeof text, body);
    assert_rejected(text, "items[3].attributes.m: a list holds at most 64 "
                          "entries, got 65");
    char many[8192];
    pos = 0;
    list[strlen(list) - strlen(",60,61,62,63,64")] = '\0'; /* 0..59 */
    for (int k = 0; k < 5; k++)
        pos += (size_t)snprintf(many + pos, sizeof many - pos, "%s\"k%d\":[%s]",
                                k ? "," : "", k, list);
    item_with_attributes(text, sizeof text, many);
    assert_rejected(text, "items[3].attributes: at most 256 values in all "
                          "(each list entry counts as one)");
}
END_TEST

START_TEST(test_list_entries_give_the_tokens_of_scalars)
{
    enum mz_status status;
    char err[256];
    char text[1024];
    item_with_attributes(text, sizeof text,
                         "\"materials\":[\"leather\",\"gold\",\"gold\"],"
                         "\"sizes\":[38]");
    struct mz_item *listed = item_from(text, &status, err, sizeof(err));
    ck_assert_msg(listed != NULL, "%s", err);
    struct mz_string_list tokens = {0};
    ck_assert_int_eq(mz_item_tokens(listed, &tokens), MZ_OK);
    /* brand, category, price band, then the attribute tokens sorted, the
     * repeated "gold" once. */
    ck_assert_uint_eq(tokens.count, 6);
    ck_assert_str_eq(tokens.items[3], "attr:materials=gold");
    ck_assert_str_eq(tokens.items[4], "attr:materials=leather");
    ck_assert_str_eq(tokens.items[5], "attr:sizes=38");
    mz_string_list_clear(&tokens);
    mz_item_free(listed);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_item");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_item_full_object_parses);
    tcase_add_test(tc, test_item_defaults_for_absent_fields);
    tcase_add_test(tc, test_item_errors_name_the_field);
    tcase_add_test(tc, test_item_dates_are_strict);
    tcase_add_test(tc, test_item_limits);
    tcase_add_test(tc, test_item_rejects_non_objects_and_nul);
    tcase_add_test(tc, test_item_json_round_trip);
    tcase_add_test(tc, test_item_written_back_byte_for_byte);
    tcase_add_test(tc, test_tokens_ignore_attribute_order);
    tcase_add_test(tc, test_item_failures_leave_nothing_allocated);
    tcase_add_test(tc, test_list_attributes_read_and_written_as_given);
    tcase_add_test(tc, test_list_attributes_refused_with_the_limit);
    tcase_add_test(tc, test_list_entries_give_the_tokens_of_scalars);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
