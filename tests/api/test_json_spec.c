/*-------------------------------------------------------------------------
 * test_json_spec.c
 *    Unit tests of api/json_spec.c: every kind of field, unknown keys,
 *    required and missing fields, bounds, wrong types, null, defaults,
 *    nested objects and their paths, callbacks, the nesting limit, and
 *    that a failed parse leaves nothing allocated (the suite also runs
 *    under AddressSanitizer, which reports leaks).
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_spec.h"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(obj != NULL, "bad test JSON: %s (%s)", jerr.text, text);
    return obj;
}

/* Parses text through spec; returns whether it was accepted, with err. */
static bool run(const char *text, const struct mz_json_field *spec,
                const char *prefix, struct mz_json_error *err)
{
    json_t *obj = parse(text);
    bool ok = mz_json_parse(obj, spec, prefix, err);
    json_decref(obj);
    return ok;
}

static void assert_refused(const char *text, const struct mz_json_field *spec,
                           const char *prefix, const char *message)
{
    struct mz_json_error err;
    ck_assert_msg(!run(text, spec, prefix, &err), "accepted %s", text);
    ck_assert_int_eq(err.status, MZ_ERR_INVALID);
    ck_assert_str_eq(err.code, "invalid_input");
    ck_assert_str_eq(err.message, message);
}

START_TEST(test_scalars_defaults_and_presence)
{
    const char *id = "x", *name = "x";
    int64_t stock = 0;
    int32_t quantity = 0;
    double price = -1;
    bool available = false, has_price = true, has_stock = false;
    struct mz_json_field spec[] = {
        mz_json_id("id", &id),
        mz_json_string("name", 2, 4, &name),
        mz_json_present(mz_json_int64("stock", 0, INT64_MAX, -1, &stock),
                        &has_stock),
        mz_json_int32("quantity", 1, 10, 1, &quantity),
        mz_json_present(mz_json_number("price", 0, INFINITY, 7.5, &price),
                        &has_price),
        mz_json_boolean("available", true, &available),
        mz_json_end(0),
    };
    struct mz_json_error err;
    json_t *obj = parse("{\"id\":\"sku-1\",\"name\":\"abcd\",\"stock\":12,"
                        "\"quantity\":10}");
    ck_assert(mz_json_parse(obj, spec, "", &err));
    ck_assert_int_eq(err.status, MZ_OK);
    ck_assert_str_eq(err.message, "");
    ck_assert_str_eq(id, "sku-1");
    /* Borrowed: the string lives in obj. */
    ck_assert_ptr_eq(name, json_string_value(json_object_get(obj, "name")));
    ck_assert_int_eq(stock, 12);
    ck_assert(has_stock);
    ck_assert_int_eq(quantity, 10);
    ck_assert(price == 7.5);
    ck_assert(!has_price);
    ck_assert(available);
    json_decref(obj);

    /* Everything absent: the defaults. */
    ck_assert(run("{}", spec, "", &err));
    ck_assert_ptr_null(id);
    ck_assert_ptr_null(name);
    ck_assert_int_eq(stock, -1);
    ck_assert(!has_stock);
    ck_assert_int_eq(quantity, 1);

    /* Integers and reals are numbers; -0.0 and 0 are >= 0. */
    ck_assert(run("{\"price\":3}", spec, "", &err));
    ck_assert(price == 3.0);
    ck_assert(has_price);
    ck_assert(run("{\"price\":1250.5,\"available\":false}", spec, "", &err));
    ck_assert(price == 1250.5);
    ck_assert(!available);
}
END_TEST

START_TEST(test_bounds_and_wrong_types_name_the_field)
{
    const char *id = NULL, *name = NULL;
    int64_t stock = 0;
    int32_t quantity = 0;
    double price = 0;
    bool available = false;
    struct mz_json_field spec[] = {
        mz_json_id("id", &id),
        mz_json_string("name", 2, 4, &name),
        mz_json_int64("stock", 0, INT64_MAX, -1, &stock),
        mz_json_int32("quantity", 1, 10, 1, &quantity),
        mz_json_number("price", 0, INFINITY, 0, &price),
        mz_json_number("ratio", 0, 1, 0, &price),
        mz_json_boolean("available", true, &available),
        mz_json_end(0),
    };
    char message[256];
    snprintf(message, sizeof message,
             "items[3].id: must be a string of 1 to %d bytes", MZ_ID_MAX_BYTES);
    assert_refused("{\"id\":\"\"}", spec, "items[3]", message);
    assert_refused("{\"id\":7}", spec, "items[3]", message);
    assert_refused("{\"id\":\"a\\tb\"}", spec, "items[3]", message);
    char text[512], long_id[MZ_ID_MAX_BYTES + 2];
    memset(long_id, 'x', MZ_ID_MAX_BYTES + 1);
    long_id[MZ_ID_MAX_BYTES + 1] = '\0';
    snprintf(text, sizeof text, "{\"id\":\"%s\"}", long_id);
    assert_refused(text, spec, "items[3]", message);
    long_id[MZ_ID_MAX_BYTES] = '\0';
    snprintf(text, sizeof text, "{\"id\":\"%s\"}", long_id);
    struct mz_json_error err;
    ck_assert(run(text, spec, "", &err));

    assert_refused("{\"name\":\"a\"}", spec, "",
                   "name: must be a string of 2..4 bytes");
    assert_refused("{\"name\":\"abcde\"}", spec, "",
                   "name: must be a string of 2..4 bytes");
    assert_refused("{\"name\":[\"ab\"]}", spec, "",
                   "name: must be a string of 2..4 bytes");
    assert_refused("{\"stock\":-1}", spec, "",
                   "stock: must be an integer 0..9223372036854775807");
    assert_refused("{\"stock\":1.5}", spec, "",
                   "stock: must be an integer 0..9223372036854775807");
    assert_refused("{\"quantity\":11}", spec, "",
                   "quantity: must be an integer 1..10");
    assert_refused("{\"quantity\":\"3\"}", spec, "",
                   "quantity: must be an integer 1..10");
    assert_refused("{\"price\":-0.01}", spec, "",
                   "price: must be a number >= 0");
    assert_refused("{\"price\":\"12\"}", spec, "",
                   "price: must be a number >= 0");
    assert_refused("{\"price\":true}", spec, "",
                   "price: must be a number >= 0");
    assert_refused("{\"ratio\":1.5}", spec, "", "ratio: must be a number 0..1");
    assert_refused("{\"available\":1}", spec, "",
                   "available: must be a boolean");
    /* Null is a wrong type unless the field is nullable. */
    assert_refused("{\"quantity\":null}", spec, "",
                   "quantity: must be an integer 1..10");
    /* A deeply nested value where a scalar belongs is a wrong type. */
    char deep[2100];
    size_t pos = (size_t)snprintf(deep, sizeof deep, "{\"price\":");
    for (int i = 0; i < 1000; i++)
        deep[pos++] = '[';
    for (int i = 0; i < 1000; i++)
        deep[pos++] = ']';
    snprintf(deep + pos, sizeof deep - pos, "}");
    json_error_t jerr;
    json_t *obj = json_loads(deep, 0, &jerr);
    if (obj) { /* jansson may refuse the depth itself, also fine */
        ck_assert(!mz_json_parse(obj, spec, "", &err));
        ck_assert_str_eq(err.message, "price: must be a number >= 0");
        json_decref(obj);
    }
}
END_TEST

START_TEST(test_required_nullable_and_messages)
{
    const char *event_id = NULL, *channel = "x";
    int32_t quantity = 0;
    bool has_channel = true;
    struct mz_json_field spec[] = {
        mz_json_says_missing(mz_json_required(mz_json_nullable(
                                 mz_json_id("event_id", &event_id))),
                             "required"),
        mz_json_present(mz_json_nullable(mz_json_id("channel", &channel)),
                        &has_channel),
        mz_json_says(mz_json_int32("quantity", 1, 100, 1, &quantity),
                     "must be an integer in range"),
        mz_json_end(0),
    };
    assert_refused("{}", spec, "", "event_id: required");
    assert_refused("{\"event_id\":null}", spec, "", "event_id: required");
    assert_refused("{\"event_id\":\"e\",\"quantity\":0}", spec, "",
                   "quantity: must be an integer in range");
    struct mz_json_error err;
    ck_assert(run("{\"event_id\":\"e\",\"channel\":null}", spec, "", &err));
    ck_assert_ptr_null(channel);
    ck_assert(!has_channel);

    /* The default missing message, and {min} {max} in a message. */
    int64_t days = 0;
    struct mz_json_field days_spec[] = {
        mz_json_required(mz_json_says(mz_json_int64("days", 0, 3650, 30, &days),
                                      "must be {min} to {max} days, not "
                                      "{nothing}")),
        mz_json_end(0),
    };
    assert_refused("{}", days_spec, "rules", "rules.days: is required");
    assert_refused("{\"days\":-1}", days_spec, "",
                   "days: must be 0 to 3650 days, not {nothing}");
}
END_TEST

START_TEST(test_unknown_keys_first_and_cut)
{
    int32_t a = 0, b = 0;
    struct mz_json_field spec[] = {
        mz_json_int32("a", 0, 1, 0, &a),
        mz_json_int32("b", 0, 1, 0, &b),
        mz_json_end(0),
    };
    /* Unknown keys are looked at before any field, in object order. */
    assert_refused("{\"a\":7,\"colour\":1,\"size\":2}", spec, "items[3]",
                   "items[3].colour: unknown field");
    /* Then the fields in table order, not in object order. */
    assert_refused("{\"b\":7,\"a\":7}", spec, "", "a: must be an integer 0..1");

    char key[MZ_JSON_SHOWN_KEY_BYTES + 40], text[512], message[512];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    snprintf(text, sizeof text, "{\"%s\":1}", key);
    key[MZ_JSON_SHOWN_KEY_BYTES] = '\0';
    snprintf(message, sizeof message, "%s: unknown field", key);
    assert_refused(text, spec, "", message);

    /* The terminator can show less of a key. */
    struct mz_json_field short_spec[] = {
        mz_json_int32("a", 0, 1, 0, &a),
        mz_json_end(8),
    };
    assert_refused(text, short_spec, "", "kkkkkkkk: unknown field");
}
END_TEST

START_TEST(test_not_an_object)
{
    int32_t a = 0;
    struct mz_json_field spec[] = {
        mz_json_int32("a", 0, 1, 0, &a),
        mz_json_end(0),
    };
    struct mz_json_error err;
    ck_assert(!run("[]", spec, "items[3]", &err));
    ck_assert_str_eq(err.message, "items[3]: must be an object");
    ck_assert(!run("\"x\"", spec, "", &err));
    ck_assert_str_eq(err.message, "must be an object");
    ck_assert(!mz_json_parse(NULL, spec, NULL, &err));
    ck_assert_int_eq(err.status, MZ_ERR_INVALID);
}
END_TEST

START_TEST(test_copies_belong_to_the_caller_or_are_released)
{
    char *tier = NULL, *region = NULL;
    struct mz_string_list tags = {0};
    int32_t n = 0;
    struct mz_json_field spec[] = {
        mz_json_string_copy("tier", 1, MZ_ID_MAX_BYTES, &tier),
        mz_json_id_copy("region", &region),
        mz_json_string_list("tags", 1, MZ_ID_MAX_BYTES, 3, &tags),
        mz_json_int32("n", 0, 1, 0, &n),
        mz_json_end(0),
    };
    struct mz_json_error err;
    json_t *obj = parse("{\"tier\":\"vip\",\"region\":\"FR\","
                        "\"tags\":[\"a\",\"b\"]}");
    ck_assert(mz_json_parse(obj, spec, "", &err));
    json_decref(obj); /* copies outlive the document */
    ck_assert_str_eq(tier, "vip");
    ck_assert_str_eq(region, "FR");
    ck_assert_uint_eq(tags.count, 2);
    ck_assert_str_eq(tags.items[1], "b");
    /* The caller may keep them; here it releases them all at once. */
    mz_json_spec_free(spec);
    ck_assert_ptr_null(tier);
    ck_assert_ptr_null(region);
    ck_assert_uint_eq(tags.count, 0);
    ck_assert_ptr_null(tags.items);
    mz_json_spec_free(NULL);

    /* A failure after the copies releases them (ASan checks for leaks). */
    ck_assert(!run("{\"tier\":\"vip\",\"region\":\"FR\",\"tags\":[\"a\"],"
                   "\"n\":5}",
                   spec, "", &err));
    ck_assert_str_eq(err.message, "n: must be an integer 0..1");
    ck_assert_ptr_null(tier);
    ck_assert_ptr_null(region);
    ck_assert_uint_eq(tags.count, 0);
}
END_TEST

START_TEST(test_string_lists)
{
    struct mz_string_list list = {0};
    struct mz_json_field spec[] = {
        mz_json_string_list("regions", 1, 4, 2, &list),
        mz_json_end(0),
    };
    assert_refused("{\"regions\":\"FR\"}", spec, "items[3]",
                   "items[3].regions: must be an array of strings");
    assert_refused("{\"regions\":[\"FR\",\"IT\",\"JP\"]}", spec, "",
                   "regions: must have at most 2 entries");
    assert_refused("{\"regions\":[\"FR\",3]}", spec, "",
                   "regions[1]: must be a string of 1..4 bytes");
    assert_refused("{\"regions\":[\"\"]}", spec, "",
                   "regions[0]: must be a string of 1..4 bytes");
    assert_refused("{\"regions\":[\"toolong\"]}", spec, "",
                   "regions[0]: must be a string of 1..4 bytes");
    assert_refused("{\"regions\":[null]}", spec, "",
                   "regions[0]: must be a string of 1..4 bytes");
    struct mz_json_error err;
    ck_assert(run("{\"regions\":[]}", spec, "", &err));
    ck_assert_uint_eq(list.count, 0);
    ck_assert(run("{\"regions\":[\"FR\",\"IT\"]}", spec, "", &err));
    ck_assert_uint_eq(list.count, 2);
    mz_string_list_clear(&list);

    /* A string with a NUL in it (json_pack can make one). */
    json_t *obj = json_pack("{s:[s#]}", "regions", "F\0R", (size_t)3);
    ck_assert(!mz_json_parse(obj, spec, "", &err));
    ck_assert_str_eq(err.message, "regions[0]: must be a string of 1..4 bytes");
    json_decref(obj);
}
END_TEST

/* The callbacks of the tests: a pair of numbers, and a list that
 * allocates as it goes and fails on a negative entry. */
struct pair {
    double lo, hi;
};

static bool parse_pair(const json_t *value, const char *path, void *dst,
                       struct mz_json_error *err)
{
    struct pair *p = dst;
    if (json_array_size(value) != 2 ||
        !json_is_number(json_array_get(value, 0)) ||
        !json_is_number(json_array_get(value, 1)))
        return mz_json_fail(err, MZ_ERR_INVALID, path, "must be [lo, hi]");
    p->lo = json_number_value(json_array_get(value, 0));
    p->hi = json_number_value(json_array_get(value, 1));
    return true;
}

struct numbers {
    int *v;
    size_t count;
};

static bool parse_numbers(const json_t *value, const char *path, void *dst,
                          struct mz_json_error *err)
{
    struct numbers *out = dst;
    const char *key;
    json_t *v;
    out->v = calloc(json_object_size(value) + 1, sizeof *out->v);
    if (!out->v)
        return mz_json_fail(err, MZ_ERR_NOMEM, path, "out of memory");
    json_object_foreach((json_t *)value, key, v)
    {
        char where[MZ_JSON_PATH_BYTES];
        mz_json_join(where, sizeof where, path, key);
        if (json_integer_value(v) < 0)
            return mz_json_fail(err, MZ_ERR_INVALID, where, "must be >= 0");
        out->v[out->count++] = (int)json_integer_value(v);
    }
    return true;
}

static void free_numbers(void *dst)
{
    struct numbers *n = dst;
    free(n->v);
    n->v = NULL;
    n->count = 0;
}

static bool parse_when(const json_t *value, const char *path, void *dst,
                       struct mz_json_error *err)
{
    if (json_is_integer(value)) {
        *(int64_t *)dst = json_integer_value(value);
        return true;
    }
    if (json_is_string(value) && strcmp(json_string_value(value), "now") == 0) {
        *(int64_t *)dst = 42;
        return true;
    }
    return mz_json_fail(err, MZ_ERR_INVALID, path,
                        "must be seconds or \"now\"");
}

START_TEST(test_callbacks)
{
    struct pair pair = {0};
    struct numbers numbers = {0};
    int64_t when = -7;
    int32_t after = 0;
    struct mz_json_field spec[] = {
        mz_json_array_with("range", parse_pair, NULL, &pair),
        mz_json_object_with("by_tier", parse_numbers, free_numbers, &numbers),
        mz_json_custom("ts", parse_when, NULL, &when),
        mz_json_int32("after", 0, 1, 0, &after),
        mz_json_end(0),
    };
    struct mz_json_error err;
    ck_assert(run("{\"range\":[1,2.5],\"by_tier\":{\"vip\":3,\"x\":4},"
                  "\"ts\":\"now\"}",
                  spec, "", &err));
    ck_assert(pair.hi == 2.5);
    ck_assert_uint_eq(numbers.count, 2);
    ck_assert_int_eq(numbers.v[1], 4);
    ck_assert_int_eq(when, 42);
    mz_json_spec_free(spec);
    ck_assert_ptr_null(numbers.v);

    /* The reader checks the type of objects and arrays; the callback the
     * rest. An absent callback field keeps its destination. */
    when = -7;
    assert_refused("{\"range\":{}}", spec, "", "range: must be an array");
    assert_refused("{\"range\":[1]}", spec, "p", "p.range: must be [lo, hi]");
    assert_refused("{\"by_tier\":[]}", spec, "", "by_tier: must be an object");
    assert_refused("{\"ts\":null}", spec, "", "ts: must be seconds or \"now\"");
    ck_assert_int_eq(when, -7);
    /* A callback failing half way is cleaned up, and so is one that
     * succeeded before a later field failed (ASan checks for leaks). */
    assert_refused("{\"by_tier\":{\"vip\":3,\"x\":-4}}", spec, "",
                   "by_tier.x: must be >= 0");
    ck_assert_ptr_null(numbers.v);
    assert_refused("{\"by_tier\":{\"vip\":3},\"after\":9}", spec, "",
                   "after: must be an integer 0..1");
    ck_assert_ptr_null(numbers.v);
}
END_TEST

START_TEST(test_nested_objects_carry_the_path)
{
    double min = 0, max = 0;
    bool has_min = false, has_max = false, has_price = false;
    struct mz_string_list allow = {0};
    int32_t cap = 0;
    bool has_cap = false;
    struct mz_json_field price[] = {
        mz_json_present(mz_json_number("min", 0, INFINITY, 0, &min), &has_min),
        mz_json_present(mz_json_says(mz_json_nullable(mz_json_number(
                                         "max", 0, INFINITY, 0, &max)),
                                     "must be a number >= {min} or null"),
                        &has_max),
        mz_json_string_list("allow", 1, MZ_ID_MAX_BYTES, 10, &allow),
        mz_json_end(0),
    };
    struct mz_json_field frequency[] = {
        mz_json_required(mz_json_int32("per_day", 1, 9, 0, &cap)),
        mz_json_end(0),
    };
    struct mz_json_field spec[] = {
        mz_json_present(mz_json_object("price", price), &has_price),
        mz_json_present(
            mz_json_says(mz_json_nullable(mz_json_object("cap", frequency)),
                         "must be an object or null"),
            &has_cap),
        mz_json_end(0),
    };
    assert_refused("{\"price\":{\"floor\":1}}", spec, "",
                   "price.floor: unknown field");
    assert_refused("{\"price\":[]}", spec, "", "price: must be an object");
    assert_refused("{\"price\":{\"max\":-5}}", spec, "",
                   "price.max: must be a number >= 0 or null");
    assert_refused("{\"price\":{\"allow\":[\"a\",7]}}", spec, "rules",
                   "rules.price.allow[1]: must be a string of 1..128 bytes");
    assert_refused("{\"cap\":{}}", spec, "", "cap.per_day: is required");
    assert_refused("{\"cap\":3}", spec, "", "cap: must be an object or null");
    struct mz_json_error err;
    ck_assert(run("{\"price\":{\"min\":5,\"max\":null,\"allow\":[\"bags\"]},"
                  "\"cap\":null}",
                  spec, "", &err));
    ck_assert(has_price && has_min && !has_max && !has_cap);
    ck_assert(min == 5);
    ck_assert_str_eq(allow.items[0], "bags");
    /* mz_json_spec_free reaches into nested specs. */
    mz_json_spec_free(spec);
    ck_assert_uint_eq(allow.count, 0);
    /* A failure in a later field releases a nested object's copies. */
    ck_assert(!run("{\"price\":{\"allow\":[\"bags\"]},\"cap\":{\"per_day\":0}}",
                   spec, "", &err));
    ck_assert_str_eq(err.message, "cap.per_day: must be an integer 1..9");
    ck_assert_uint_eq(allow.count, 0);
}
END_TEST

START_TEST(test_spec_nesting_is_bounded)
{
    /* MZ_JSON_MAX_DEPTH objects inside one another are read; one more is
     * refused as a fault of the spec, not of the input. */
    enum { LEVELS = MZ_JSON_MAX_DEPTH + 2 };
    struct mz_json_field specs[LEVELS][2];
    int32_t leaf = 0;
    specs[LEVELS - 1][0] = mz_json_int32("v", 0, 9, 0, &leaf);
    specs[LEVELS - 1][1] = mz_json_end(0);
    for (int i = LEVELS - 2; i >= 0; i--) {
        specs[i][0] = mz_json_object("o", specs[i + 1]);
        specs[i][1] = mz_json_end(0);
    }
    char text[512] = "", *p = text;
    for (int i = 0; i < LEVELS - 1; i++)
        p += sprintf(p, "{\"o\":");
    p += sprintf(p, "{\"v\":3}");
    for (int i = 0; i < LEVELS - 1; i++)
        p += sprintf(p, "}");
    struct mz_json_error err;
    /* From the second level on the spec is MZ_JSON_MAX_DEPTH deep. */
    json_t *obj = parse(text);
    ck_assert(mz_json_parse(json_object_get(obj, "o"), specs[1], "", &err));
    ck_assert_int_eq(leaf, 3);
    ck_assert(!mz_json_parse(obj, specs[0], "", &err));
    ck_assert_int_eq(err.status, MZ_ERR_INTERNAL);
    ck_assert_str_eq(err.code, "internal");
    ck_assert_ptr_nonnull(
        strstr(err.message, "o.o.o.o.o.o.o.o.o: spec nested"));
    json_decref(obj);
}
END_TEST

START_TEST(test_fail_helpers)
{
    struct mz_json_error err;
    char path[16];
    ck_assert(!mz_json_fail(&err, MZ_ERR_NOMEM, "tags", "out of %s", "memory"));
    ck_assert_int_eq(err.status, MZ_ERR_NOMEM);
    ck_assert_str_eq(err.code, "out_of_memory");
    ck_assert_str_eq(err.message, "tags: out of memory");
    mz_json_fail(&err, MZ_ERR_INVALID, "", "body must be a JSON object");
    ck_assert_str_eq(err.message, "body must be a JSON object");
    mz_json_join(path, sizeof path, "", "price");
    ck_assert_str_eq(path, "price");
    mz_json_join(path, sizeof path, "items[3]", "price");
    ck_assert_str_eq(path, "items[3].price");
    mz_json_index(path, sizeof path, "tags", 12);
    ck_assert_str_eq(path, "tags[12]");
    /* Cut, still terminated. */
    mz_json_join(path, sizeof path, "a-long-prefix", "a-long-name");
    ck_assert_uint_eq(strlen(path), sizeof path - 1);
    char long_path[600];
    memset(long_path, 'p', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    mz_json_fail(&err, MZ_ERR_INVALID, long_path, "x");
    ck_assert_uint_eq(strlen(err.message), sizeof err.message - 1);
}
END_TEST

START_TEST(test_key_order_reports_the_first_problem_as_written)
{
    char *tier = NULL;
    int32_t a = 0, b = 0;
    bool has_b = true;
    struct mz_json_field spec[] = {
        mz_json_string_copy("tier", 1, 8, &tier),
        mz_json_required(mz_json_int32("a", 0, 1, 0, &a)),
        mz_json_present(mz_json_nullable(mz_json_int32("b", 0, 1, 1, &b)),
                        &has_b),
        mz_json_end_in_key_order(4),
    };
    /* Fields and unknown keys fail where they stand in the object. */
    assert_refused("{\"b\":7,\"a\":7}", spec, "", "b: must be an integer 0..1");
    assert_refused("{\"a\":7,\"colour\":1}", spec, "",
                   "a: must be an integer 0..1");
    assert_refused("{\"colour\":1,\"a\":7}", spec, "", "colo: unknown field");
    /* Then absent fields: required, defaults. */
    assert_refused("{\"tier\":\"vip\"}", spec, "p", "p.a: is required");
    ck_assert_ptr_null(tier); /* released after the failure */
    struct mz_json_error err;
    ck_assert(run("{\"b\":null,\"tier\":\"vip\",\"a\":1}", spec, "", &err));
    ck_assert_str_eq(tier, "vip");
    ck_assert_int_eq(a, 1);
    ck_assert_int_eq(b, 1);
    ck_assert(!has_b);
    mz_json_spec_free(spec);
    ck_assert_ptr_null(tier);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_spec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_scalars_defaults_and_presence);
    tcase_add_test(tc, test_bounds_and_wrong_types_name_the_field);
    tcase_add_test(tc, test_required_nullable_and_messages);
    tcase_add_test(tc, test_unknown_keys_first_and_cut);
    tcase_add_test(tc, test_not_an_object);
    tcase_add_test(tc, test_copies_belong_to_the_caller_or_are_released);
    tcase_add_test(tc, test_string_lists);
    tcase_add_test(tc, test_callbacks);
    tcase_add_test(tc, test_nested_objects_carry_the_path);
    tcase_add_test(tc, test_spec_nesting_is_bounded);
    tcase_add_test(tc, test_fail_helpers);
    tcase_add_test(tc, test_key_order_reports_the_first_problem_as_written);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
