/*-------------------------------------------------------------------------
 * json_item.c
 *    Items in and out of JSON: the item spec for the reader, the checks
 *    the reader's kinds do not cover (currency, dates, attributes), and
 *    the writer.
 *
 * Interface routines: see json_item.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_item.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/timefmt.h"

/* ---- reading --------------------------------------------------------- */

static bool read_currency(const json_t *value, const char *path, void *dst,
                          struct mz_json_error *err)
{
    char *currency = dst;
    const char *c = json_is_string(value) ? json_string_value(value) : "";
    bool ok = json_is_string(value) && json_string_length(value) == 3;
    for (int i = 0; ok && i < 3; i++)
        ok = c[i] >= 'A' && c[i] <= 'Z';
    if (!ok)
        return mz_json_fail(err, MZ_ERR_INVALID, path,
                            "must be 3 upper-case letters (ISO 4217)");
    memcpy(currency, c, 4);
    return true;
}

static bool read_time(const json_t *value, const char *path, void *dst,
                      struct mz_json_error *err)
{
    if (!json_is_string(value) ||
        !mz_time_parse_rfc3339(json_string_value(value), dst))
        return mz_json_fail(err, MZ_ERR_INVALID, path,
                            "must be an RFC 3339 date-time, e.g. "
                            "\"2026-03-01T09:00:00+01:00\"");
    return true;
}

/* end_at, after launch_at in the spec: an item must end after it starts.
 * (An absent end_at is MZ_TIME_NONE_AFTER, after any date.) */
static bool read_end_at(const json_t *value, const char *path, void *dst,
                        struct mz_json_error *err)
{
    struct mz_item *item = dst;
    if (!read_time(value, path, &item->end_at, err))
        return false;
    if (item->launch_at >= item->end_at)
        return mz_json_fail(err, MZ_ERR_INVALID, path,
                            "must be after launch_at");
    return true;
}

/* One string or number into a (an attribute's value or a list entry);
 * false when v is neither, with err untouched, so that the caller says
 * what was expected there. */
static bool read_scalar(const json_t *v, const char *where,
                        struct mz_item_attribute *a, bool *ok,
                        struct mz_json_error *err)
{
    *ok = true;
    if (json_is_string(v)) {
        if (json_string_length(v) > MZ_ID_MAX_BYTES ||
            strlen(json_string_value(v)) != json_string_length(v))
            return *ok = mz_json_fail(err, MZ_ERR_INVALID, where,
                                      "must be a string of at most %d bytes",
                                      MZ_ID_MAX_BYTES);
        a->kind = MZ_ATTRIBUTE_STRING;
        a->value.string = strdup(json_string_value(v));
        return *ok = a->value.string != NULL ||
                     mz_json_fail(err, MZ_ERR_NOMEM, where, "out of memory");
    }
    if (json_is_real(v)) {
        if (!isfinite(json_real_value(v)))
            return *ok = mz_json_fail(err, MZ_ERR_INVALID, where,
                                      "must be a finite number");
        a->kind = MZ_ATTRIBUTE_REAL;
        a->value.real = json_real_value(v);
        return true;
    }
    if (json_is_integer(v)) {
        a->kind = MZ_ATTRIBUTE_INTEGER;
        a->value.integer = json_integer_value(v);
        return true;
    }
    return false;
}

/* A list value into a: strings only or numbers only, each entry bounded
 * like a scalar value. Entries are counted as they are read, so the
 * caller's clean-up frees a list left half way. */
static bool read_list(const json_t *v, const char *where,
                      struct mz_item_attribute *a, struct mz_json_error *err)
{
    char at[MZ_JSON_PATH_BYTES];
    size_t n = json_array_size(v);
    a->kind = MZ_ATTRIBUTE_LIST;
    a->value.list.entries = NULL;
    a->value.list.count = 0;
    if (n > MZ_ATTRIBUTE_MAX_ENTRIES)
        return mz_json_fail(err, MZ_ERR_INVALID, where,
                            "a list holds at most %d entries, got %zu",
                            MZ_ATTRIBUTE_MAX_ENTRIES, n);
    if (n == 0)
        return true;
    a->value.list.entries = calloc(n, sizeof *a->value.list.entries);
    if (!a->value.list.entries)
        return mz_json_fail(err, MZ_ERR_NOMEM, where, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *entry = json_array_get(v, i);
        struct mz_item_attribute *e = &a->value.list.entries[i];
        bool ok;
        mz_json_index(at, sizeof at, where, i);
        if (!read_scalar(entry, at, e, &ok, err))
            return ok ? mz_json_fail(err, MZ_ERR_INVALID, at,
                                     "a list entry must be a string or a "
                                     "number (not a list, object, boolean "
                                     "or null)")
                      : false;
        a->value.list.count++;
        bool first_is_string =
            a->value.list.entries[0].kind == MZ_ATTRIBUTE_STRING;
        if ((e->kind == MZ_ATTRIBUTE_STRING) != first_is_string)
            return mz_json_fail(err, MZ_ERR_INVALID, at,
                                "must be a %s like the list's first entry "
                                "(a list holds strings or numbers, not both)",
                                first_is_string ? "string" : "number");
    }
    return true;
}

/* One attribute value into a; the message names the attribute. */
static bool read_attribute_value(const json_t *v, const char *where,
                                 struct mz_item_attribute *a,
                                 struct mz_json_error *err)
{
    bool ok;
    if (json_is_array(v))
        return read_list(v, where, a, err);
    if (json_is_boolean(v)) {
        a->kind = MZ_ATTRIBUTE_BOOLEAN;
        a->value.boolean = json_is_true(v);
        return true;
    }
    if (read_scalar(v, where, a, &ok, err) || !ok)
        return ok;
    return mz_json_fail(err, MZ_ERR_INVALID, where,
                        "must be a string, number, boolean, or a list of "
                        "strings or of numbers");
}

/* The attributes object (the reader checked it is one), in its order. */
static bool read_attributes(const json_t *value, const char *path, void *dst,
                            struct mz_json_error *err)
{
    struct mz_item_attributes *out = dst;
    char where[MZ_JSON_PATH_BYTES];
    const char *key;
    json_t *v;
    size_t n = json_object_size(value);
    size_t values = 0;
    if (n > MZ_ITEM_MAX_ATTRIBUTES)
        return mz_json_fail(err, MZ_ERR_INVALID, path,
                            "must have at most %d keys",
                            MZ_ITEM_MAX_ATTRIBUTES);
    mz_item_attributes_clear(out);
    if (n == 0)
        return true;
    out->v = calloc(n, sizeof *out->v);
    if (!out->v)
        return mz_json_fail(err, MZ_ERR_NOMEM, path, "out of memory");
    json_object_foreach((json_t *)value, key, v)
    {
        size_t key_len = strlen(key);
        if (key_len == 0 || key_len > MZ_ID_MAX_BYTES)
            return mz_json_fail(err, MZ_ERR_INVALID, path,
                                "keys must be 1..%d bytes", MZ_ID_MAX_BYTES);
        mz_json_join(where, sizeof where, path, key);
        /* Counted before its value is read (the slot is zeroed, which
         * frees as nothing), so the clean-up frees a list left half way. */
        struct mz_item_attribute *a = &out->v[out->count++];
        if (!read_attribute_value(v, where, a, err))
            return false;
        values += a->kind == MZ_ATTRIBUTE_LIST ? a->value.list.count : 1;
        if (values > MZ_ITEM_MAX_ATTRIBUTE_VALUES)
            return mz_json_fail(err, MZ_ERR_INVALID, path,
                                "at most %d values in all (each list entry "
                                "counts as one)",
                                MZ_ITEM_MAX_ATTRIBUTE_VALUES);
        a->key = strdup(key);
        if (!a->key)
            return mz_json_fail(err, MZ_ERR_NOMEM, path, "out of memory");
    }
    return true;
}

static void clear_attributes(void *dst)
{
    mz_item_attributes_clear(dst);
}

struct mz_item *mz_json_read_item(const json_t *obj, const char *prefix,
                                  struct mz_json_error *err)
{
    struct mz_item *item = NULL;
    if (!prefix)
        prefix = "";
    if (!json_is_object(obj)) {
        mz_json_fail(err, MZ_ERR_INVALID, prefix[0] ? prefix : "item",
                     "must be an object");
        goto cleanup;
    }
    item = mz_item_new();
    if (!item) {
        char where[MZ_JSON_PATH_BYTES];
        mz_json_join(where, sizeof where, prefix, "item");
        mz_json_fail(err, MZ_ERR_NOMEM, where, "out of memory");
        goto cleanup;
    }
    const struct mz_json_field spec[] = {
        mz_json_required(
            mz_json_string_copy("item_id", 1, MZ_ID_MAX_BYTES, &item->item_id)),
        mz_json_required(
            mz_json_string_copy("brand", 1, MZ_ID_MAX_BYTES, &item->brand)),
        mz_json_required(mz_json_string_copy("category", 1, MZ_ID_MAX_BYTES,
                                             &item->category)),
        mz_json_required(mz_json_number("price", 0, INFINITY, 0, &item->price)),
        mz_json_custom("currency", read_currency, NULL, item->currency),
        mz_json_boolean("available", true, &item->available),
        mz_json_says(mz_json_int64("stock", 0, INT64_MAX, -1, &item->stock),
                     "must be an integer >= {min}"),
        mz_json_custom("launch_at", read_time, NULL, &item->launch_at),
        mz_json_custom("end_at", read_end_at, NULL, item),
        mz_json_string_list("regions", 1, MZ_ID_MAX_BYTES, MZ_ITEM_MAX_LIST,
                            &item->regions),
        mz_json_string_list("reserved_tiers", 1, MZ_ID_MAX_BYTES,
                            MZ_ITEM_MAX_LIST, &item->reserved_tiers),
        mz_json_string_list("tags", 1, MZ_ID_MAX_BYTES, MZ_ITEM_MAX_LIST,
                            &item->tags),
        mz_json_object_with("attributes", read_attributes, clear_attributes,
                            &item->attributes),
        /* An unknown key is shown as far as the message holds it. */
        mz_json_end(MZ_JSON_MESSAGE_BYTES),
    };
    if (!mz_json_parse(obj, spec, prefix, err)) {
        mz_item_free(item);
        item = NULL;
        goto cleanup;
    }
    /* An empty list restricts nothing, like an absent one. */
    item->has_regions = item->regions.count > 0;
    item->has_reserved_tiers = item->reserved_tiers.count > 0;
cleanup:
    return item;
}

/* ---- writing --------------------------------------------------------- */

static json_t *string_list_to_json(const struct mz_string_list *list)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < list->count; i++) {
        if (json_array_append_new(array, json_string(list->items[i])) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

static json_t *attribute_to_json(const struct mz_item_attribute *a)
{
    json_t *list;
    switch (a->kind) {
    case MZ_ATTRIBUTE_LIST:
        list = json_array();
        for (size_t e = 0; list && e < a->value.list.count; e++) {
            if (json_array_append_new(
                    list, attribute_to_json(&a->value.list.entries[e])) != 0) {
                json_decref(list);
                return NULL;
            }
        }
        return list;
    case MZ_ATTRIBUTE_STRING:
        return json_string(a->value.string);
    case MZ_ATTRIBUTE_INTEGER:
        return json_integer(a->value.integer);
    case MZ_ATTRIBUTE_REAL:
        return json_real(a->value.real);
    default:
        return json_boolean(a->value.boolean);
    }
}

static json_t *attributes_to_json(const struct mz_item_attributes *attributes)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < attributes->count; i++) {
        if (json_object_set_new(obj, attributes->v[i].key,
                                attribute_to_json(&attributes->v[i])) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *mz_json_write_item(const struct mz_item *item)
{
    char when[MZ_TIME_RFC3339_BYTES];
    json_t *obj = json_object();
    int rc = 0;
    if (!obj)
        return NULL;
    rc |= json_object_set_new(obj, "item_id", json_string(item->item_id));
    rc |= json_object_set_new(obj, "brand", json_string(item->brand));
    rc |= json_object_set_new(obj, "category", json_string(item->category));
    rc |= json_object_set_new(obj, "price", json_real(item->price));
    if (item->currency[0])
        rc |= json_object_set_new(obj, "currency", json_string(item->currency));
    rc |= json_object_set_new(obj, "available", json_boolean(item->available));
    if (item->stock >= 0)
        rc |= json_object_set_new(obj, "stock", json_integer(item->stock));
    if (item->launch_at != MZ_TIME_NONE_BEFORE) {
        mz_time_format_rfc3339(item->launch_at, when);
        rc |= json_object_set_new(obj, "launch_at", json_string(when));
    }
    if (item->end_at != MZ_TIME_NONE_AFTER) {
        mz_time_format_rfc3339(item->end_at, when);
        rc |= json_object_set_new(obj, "end_at", json_string(when));
    }
    if (item->has_regions)
        rc |= json_object_set_new(obj, "regions",
                                  string_list_to_json(&item->regions));
    if (item->has_reserved_tiers)
        rc |= json_object_set_new(obj, "reserved_tiers",
                                  string_list_to_json(&item->reserved_tiers));
    rc |= json_object_set_new(obj, "tags", string_list_to_json(&item->tags));
    rc |= json_object_set_new(obj, "attributes",
                              attributes_to_json(&item->attributes));
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}
