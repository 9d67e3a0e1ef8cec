/*-------------------------------------------------------------------------
 * catalog.c
 *    The catalog in memory: item records by dense index, an open-addressing
 *    hash from item id to index, and interned brands, categories, regions
 *    and tiers so that the rules compare small integers in their hot loop.
 *
 * Indices are assigned in upsert order and never reused: a removed item
 * stays in its slot, marked retired, because the model's rows are
 * addressed by the same index. Interned names are never forgotten either;
 * their ids are stable for the life of the catalog.
 *
 * Interface routines: see catalog.h.
 *-------------------------------------------------------------------------
 */
#include "model/catalog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/hash.h"
#include "model/timefmt.h"

#define ITEM_MAX_LIST 64          /* regions, reserved_tiers, tags */
#define ITEM_MAX_ATTRIBUTES 64

/* ---------------------------------------------------------------------
 * Interned names: id -> name array plus the map back.
 * ---------------------------------------------------------------------
 */
struct intern {
    struct mz_hash_table *ids;    /* owned: name -> id */
    const char **names;           /* owned array of ids' keys (borrowed) */
    int32_t count, cap;
};

static void intern_clear(struct intern *in)
{
    mz_hash_table_free(in->ids);
    in->ids = NULL;
    free(in->names);
    in->names = NULL;
    in->count = in->cap = 0;
}

/* Returns the id of name, interning it if new; -1 on allocation failure. */
static int32_t intern_id(struct intern *in, const char *name)
{
    int32_t id = mz_hash_table_get_index(in->ids, name);
    if (id >= 0)
        return id;
    if (in->count == in->cap) {
        int32_t new_cap = in->cap ? in->cap * 2 : 16;
        const char **names = realloc(in->names, (size_t)new_cap * sizeof(*names));
        if (!names)
            return -1;
        in->names = names;
        in->cap = new_cap;
    }
    const char *stored = mz_hash_table_put(
        in->ids, name, (union mz_hash_value){ .index = in->count });
    if (!stored)
        return -1;
    in->names[in->count] = stored;
    return in->count++;
}

/* ---------------------------------------------------------------------
 * Items
 * ---------------------------------------------------------------------
 */
void mz_string_list_clear(struct mz_string_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

void mz_item_free(struct mz_item *item)
{
    if (!item)
        return;
    free(item->item_id);
    free(item->brand);
    free(item->category);
    mz_string_list_clear(&item->regions);
    mz_string_list_clear(&item->reserved_tiers);
    mz_string_list_clear(&item->tags);
    json_decref(item->attributes);
    free(item);
}

struct mz_item *mz_item_new(void)
{
    struct mz_item *item = calloc(1, sizeof(*item));
    if (!item)
        return NULL;
    item->available = true;
    item->stock = -1;
    item->launch_at = MZ_TIME_NONE_BEFORE;
    item->end_at = MZ_TIME_NONE_AFTER;
    item->brand_id = -1;
    item->category_id = -1;
    item->attributes = json_object();
    if (!item->attributes) {
        free(item);
        return NULL;
    }
    return item;
}

/* Validation context: where errors go and the field prefix. */
struct item_parse {
    const char *prefix;
    enum mz_status *status;
    char *err;
    size_t err_len;
};

static bool fail(struct item_parse *ip, enum mz_status status,
                 const char *field, const char *message)
{
    *ip->status = status;
    if (ip->err && ip->err_len) {
        if (ip->prefix[0])
            snprintf(ip->err, ip->err_len, "%s.%s: %s", ip->prefix, field,
                     message);
        else
            snprintf(ip->err, ip->err_len, "%s: %s", field, message);
    }
    return false;
}

/* A string of 1..MZ_ID_MAX_BYTES bytes without NUL. */
static bool valid_short_string(const json_t *value)
{
    if (!json_is_string(value))
        return false;
    size_t len = json_string_length(value);
    return len >= 1 && len <= MZ_ID_MAX_BYTES &&
           strlen(json_string_value(value)) == len;
}

static bool parse_required_string(struct item_parse *ip, const json_t *obj,
                                  const char *field, char **out)
{
    json_t *value = json_object_get(obj, field);
    if (!value)
        return fail(ip, MZ_ERR_INVALID, field, "is required");
    if (!valid_short_string(value))
        return fail(ip, MZ_ERR_INVALID, field,
                    "must be a string of 1..128 bytes");
    *out = strdup(json_string_value(value));
    if (!*out)
        return fail(ip, MZ_ERR_NOMEM, field, "out of memory");
    return true;
}

static bool parse_string_list(struct item_parse *ip, const json_t *value,
                              const char *field, struct mz_string_list *out)
{
    char where[64];
    if (!json_is_array(value))
        return fail(ip, MZ_ERR_INVALID, field, "must be an array of strings");
    size_t n = json_array_size(value);
    if (n > ITEM_MAX_LIST)
        return fail(ip, MZ_ERR_INVALID, field,
                    "must have at most 64 entries");
    for (size_t i = 0; i < n; i++) {
        if (!valid_short_string(json_array_get(value, i))) {
            snprintf(where, sizeof(where), "%s[%zu]", field, i);
            return fail(ip, MZ_ERR_INVALID, where,
                        "must be a string of 1..128 bytes");
        }
    }
    if (n == 0)
        return true;
    out->items = calloc(n, sizeof(*out->items));
    if (!out->items)
        return fail(ip, MZ_ERR_NOMEM, field, "out of memory");
    for (size_t i = 0; i < n; i++) {
        out->items[i] = strdup(json_string_value(json_array_get(value, i)));
        if (!out->items[i])
            return fail(ip, MZ_ERR_NOMEM, field, "out of memory");
        out->count = i + 1;
    }
    return true;
}

static bool parse_time(struct item_parse *ip, const json_t *value,
                       const char *field, int64_t *out)
{
    if (!json_is_string(value) ||
        !mz_time_parse_rfc3339(json_string_value(value), out))
        return fail(ip, MZ_ERR_INVALID, field,
                    "must be an RFC 3339 date-time, e.g. "
                    "\"2026-03-01T09:00:00+01:00\"");
    return true;
}

static bool parse_attributes(struct item_parse *ip, const json_t *value,
                             json_t **out)
{
    char where[160];
    const char *key;
    json_t *v;
    if (!json_is_object(value))
        return fail(ip, MZ_ERR_INVALID, "attributes", "must be an object");
    if (json_object_size(value) > ITEM_MAX_ATTRIBUTES)
        return fail(ip, MZ_ERR_INVALID, "attributes",
                    "must have at most 64 keys");
    json_object_foreach((json_t *)value, key, v) {
        size_t key_len = strlen(key);
        if (key_len == 0 || key_len > MZ_ID_MAX_BYTES)
            return fail(ip, MZ_ERR_INVALID, "attributes",
                        "keys must be 1..128 bytes");
        snprintf(where, sizeof(where), "attributes.%s", key);
        if (json_is_string(v)) {
            if (json_string_length(v) > MZ_ID_MAX_BYTES ||
                strlen(json_string_value(v)) != json_string_length(v))
                return fail(ip, MZ_ERR_INVALID, where,
                            "must be a string of at most 128 bytes");
        } else if (json_is_real(v)) {
            if (!isfinite(json_real_value(v)))
                return fail(ip, MZ_ERR_INVALID, where,
                            "must be a finite number");
        } else if (!json_is_integer(v) && !json_is_boolean(v)) {
            return fail(ip, MZ_ERR_INVALID, where,
                        "must be a string, number or boolean");
        }
    }
    json_t *copy = json_deep_copy(value);
    if (!copy)
        return fail(ip, MZ_ERR_NOMEM, "attributes", "out of memory");
    json_decref(*out);
    *out = copy;
    return true;
}

static bool is_known_item_field(const char *key)
{
    static const char *const fields[] = {
        "item_id", "brand", "category", "price", "currency", "available",
        "stock", "launch_at", "end_at", "regions", "reserved_tiers", "tags",
        "attributes",
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strcmp(key, fields[i]) == 0)
            return true;
    }
    return false;
}

/* Fills item from obj; on failure the error is reported through ip and
 * item holds whatever was parsed (the caller frees it). */
static bool parse_item_fields(struct item_parse *ip, const json_t *obj,
                              struct mz_item *item)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        if (!is_known_item_field(key))
            return fail(ip, MZ_ERR_INVALID, key, "unknown field");
    }
    if (!parse_required_string(ip, obj, "item_id", &item->item_id) ||
        !parse_required_string(ip, obj, "brand", &item->brand) ||
        !parse_required_string(ip, obj, "category", &item->category))
        return false;

    value = json_object_get(obj, "price");
    if (!value)
        return fail(ip, MZ_ERR_INVALID, "price", "is required");
    if (!json_is_number(value) || !(json_number_value(value) >= 0) ||
        !isfinite(json_number_value(value)))
        return fail(ip, MZ_ERR_INVALID, "price", "must be a number >= 0");
    item->price = json_number_value(value);

    if ((value = json_object_get(obj, "currency"))) {
        const char *c = json_is_string(value) ? json_string_value(value) : "";
        bool ok = json_is_string(value) && json_string_length(value) == 3;
        for (int i = 0; ok && i < 3; i++)
            ok = c[i] >= 'A' && c[i] <= 'Z';
        if (!ok)
            return fail(ip, MZ_ERR_INVALID, "currency",
                        "must be 3 upper-case letters (ISO 4217)");
        memcpy(item->currency, c, 4);
    }
    if ((value = json_object_get(obj, "available"))) {
        if (!json_is_boolean(value))
            return fail(ip, MZ_ERR_INVALID, "available", "must be a boolean");
        item->available = json_is_true(value);
    }
    if ((value = json_object_get(obj, "stock"))) {
        if (!json_is_integer(value) || json_integer_value(value) < 0)
            return fail(ip, MZ_ERR_INVALID, "stock",
                        "must be an integer >= 0");
        item->stock = json_integer_value(value);
    }
    if ((value = json_object_get(obj, "launch_at")) &&
        !parse_time(ip, value, "launch_at", &item->launch_at))
        return false;
    if ((value = json_object_get(obj, "end_at")) &&
        !parse_time(ip, value, "end_at", &item->end_at))
        return false;
    if (item->launch_at >= item->end_at)
        return fail(ip, MZ_ERR_INVALID, "end_at", "must be after launch_at");
    if ((value = json_object_get(obj, "regions"))) {
        if (!parse_string_list(ip, value, "regions", &item->regions))
            return false;
        /* An empty list restricts nothing, like an absent one. */
        item->has_regions = item->regions.count > 0;
    }
    if ((value = json_object_get(obj, "reserved_tiers"))) {
        if (!parse_string_list(ip, value, "reserved_tiers",
                               &item->reserved_tiers))
            return false;
        item->has_reserved_tiers = item->reserved_tiers.count > 0;
    }
    if ((value = json_object_get(obj, "tags")) &&
        !parse_string_list(ip, value, "tags", &item->tags))
        return false;
    if ((value = json_object_get(obj, "attributes")) &&
        !parse_attributes(ip, value, &item->attributes))
        return false;
    return true;
}

struct mz_item *mz_item_from_json(const json_t *obj, const char *prefix,
                                  enum mz_status *status, char *err,
                                  size_t err_len)
{
    enum mz_status ignored;
    struct item_parse ip = {
        .prefix = prefix ? prefix : "",
        .status = status ? status : &ignored,
        .err = err,
        .err_len = err_len,
    };
    struct mz_item *item = NULL;

    if (!json_is_object(obj)) {
        *ip.status = MZ_ERR_INVALID;
        if (err && err_len)
            snprintf(err, err_len, "%s: must be an object",
                     ip.prefix[0] ? ip.prefix : "item");
        goto cleanup;
    }
    item = mz_item_new();
    if (!item) {
        fail(&ip, MZ_ERR_NOMEM, "item", "out of memory");
        goto cleanup;
    }
    if (!parse_item_fields(&ip, obj, item)) {
        mz_item_free(item);
        item = NULL;
        goto cleanup;
    }
    *ip.status = MZ_OK;
cleanup:
    return item;
}

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

json_t *mz_item_to_json(const struct mz_item *item)
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
                              item->attributes ? json_deep_copy(item->attributes)
                                               : json_object());
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* Price band: bands double in price (0: under 1, 1: 1..2, 2: 2..4, ...),
 * computed without libm so every platform agrees on band edges. */
static int price_band(double price)
{
    int band = 0;
    double edge = 1.0;
    while (price >= edge && band < 62) {
        edge *= 2.0;
        band++;
    }
    return band;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a malloc'd token to list (capacity reserved by the caller). */
static bool push_token(struct mz_string_list *list, char *token)
{
    if (!token)
        return false;
    list->items[list->count++] = token;
    return true;
}

enum mz_status mz_item_tokens(const struct mz_item *item,
                              struct mz_string_list *tokens)
{
    char *token = NULL;
    size_t n_attrs = item->attributes ? json_object_size(item->attributes) : 0;
    size_t cap = 3 + item->tags.count + n_attrs;
    size_t first_attr;
    const char *key;
    json_t *value;

    tokens->count = 0;
    tokens->items = calloc(cap, sizeof(*tokens->items));
    if (!tokens->items)
        goto fail;
    if (asprintf(&token, "brand=%s", item->brand) < 0 ||
        !push_token(tokens, token))
        goto fail;
    if (asprintf(&token, "category=%s", item->category) < 0 ||
        !push_token(tokens, token))
        goto fail;
    for (size_t i = 0; i < item->tags.count; i++) {
        if (asprintf(&token, "tag=%s", item->tags.items[i]) < 0 ||
            !push_token(tokens, token))
            goto fail;
    }
    if (asprintf(&token, "price_band=%d", price_band(item->price)) < 0 ||
        !push_token(tokens, token))
        goto fail;
    first_attr = tokens->count;
    if (n_attrs) {
        json_object_foreach(item->attributes, key, value) {
            int rc;
            if (json_is_string(value))
                rc = asprintf(&token, "attr:%s=%s", key,
                              json_string_value(value));
            else if (json_is_integer(value))
                rc = asprintf(&token, "attr:%s=%lld", key,
                              (long long)json_integer_value(value));
            else if (json_is_real(value))
                rc = asprintf(&token, "attr:%s=%.17g", key,
                              json_real_value(value));
            else
                rc = asprintf(&token, "attr:%s=%s", key,
                              json_is_true(value) ? "true" : "false");
            if (rc < 0 || !push_token(tokens, token))
                goto fail;
        }
    }
    /* The same attributes in another key order must give the same tokens,
     * or the cold-start embedding would depend on JSON formatting. */
    qsort(tokens->items + first_attr, tokens->count - first_attr,
          sizeof(*tokens->items), compare_strings);
    return MZ_OK;
fail:
    mz_string_list_clear(tokens);
    return MZ_ERR_NOMEM;
}

/* ---------------------------------------------------------------------
 * The catalog
 * ---------------------------------------------------------------------
 */
struct id_list {
    int32_t *ids;                 /* owned */
    size_t count, cap;
};

struct catalog_slot {
    struct mz_item *item;         /* owned */
    int32_t *region_ids;          /* owned; interned item->regions */
    int32_t *tier_ids;            /* owned; interned item->reserved_tiers */
};

struct mz_catalog {
    struct catalog_slot *slots;   /* owned, count used */
    struct mz_item_summary *summaries; /* owned, parallel to slots */
    int32_t count, cap;
    int32_t live;                 /* slots not retired */
    struct mz_hash_table *ids;    /* owned: item_id -> index */
    struct intern brands, categories, regions, tiers;
    struct id_list *brand_items;  /* owned, one per brand id */
    int32_t brand_items_cap;
};

struct mz_catalog *mz_catalog_new(void)
{
    struct mz_catalog *catalog = calloc(1, sizeof(struct mz_catalog));
    if (!catalog)
        return NULL;
    catalog->ids = mz_hash_table_new();
    catalog->brands.ids = mz_hash_table_new();
    catalog->categories.ids = mz_hash_table_new();
    catalog->regions.ids = mz_hash_table_new();
    catalog->tiers.ids = mz_hash_table_new();
    if (!catalog->ids || !catalog->brands.ids || !catalog->categories.ids ||
        !catalog->regions.ids || !catalog->tiers.ids) {
        mz_catalog_free(catalog);
        return NULL;
    }
    return catalog;
}

static void slot_clear(struct catalog_slot *slot)
{
    mz_item_free(slot->item);
    free(slot->region_ids);
    free(slot->tier_ids);
    memset(slot, 0, sizeof(*slot));
}

void mz_catalog_free(struct mz_catalog *catalog)
{
    if (!catalog)
        return;
    for (int32_t i = 0; i < catalog->count; i++)
        slot_clear(&catalog->slots[i]);
    free(catalog->slots);
    free(catalog->summaries);
    mz_hash_table_free(catalog->ids);
    intern_clear(&catalog->brands);
    intern_clear(&catalog->categories);
    intern_clear(&catalog->regions);
    intern_clear(&catalog->tiers);
    for (int32_t i = 0; i < catalog->brand_items_cap; i++)
        free(catalog->brand_items[i].ids);
    free(catalog->brand_items);
    free(catalog);
}

/* Interns every string of list into a new array (caller frees); NULL for
 * an empty list, and *ok false on allocation failure. */
static int32_t *intern_list(struct intern *in,
                            const struct mz_string_list *list, bool *ok)
{
    *ok = true;
    if (list->count == 0)
        return NULL;
    int32_t *ids = malloc(list->count * sizeof(*ids));
    if (!ids) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < list->count; i++) {
        ids[i] = intern_id(in, list->items[i]);
        if (ids[i] < 0) {
            free(ids);
            *ok = false;
            return NULL;
        }
    }
    return ids;
}

/* Makes room for brand id in brand_items. */
static bool ensure_brand_list(struct mz_catalog *catalog, int32_t brand_id)
{
    if (brand_id < catalog->brand_items_cap)
        return true;
    int32_t new_cap = catalog->brand_items_cap ? catalog->brand_items_cap : 16;
    while (new_cap <= brand_id)
        new_cap *= 2;
    struct id_list *lists =
        realloc(catalog->brand_items, (size_t)new_cap * sizeof(*lists));
    if (!lists)
        return false;
    memset(lists + catalog->brand_items_cap, 0,
           (size_t)(new_cap - catalog->brand_items_cap) * sizeof(*lists));
    catalog->brand_items = lists;
    catalog->brand_items_cap = new_cap;
    return true;
}

/* Inserts index into the ascending list. */
static bool id_list_insert(struct id_list *list, int32_t index)
{
    if (list->count == list->cap) {
        size_t new_cap = list->cap ? list->cap * 2 : 8;
        int32_t *ids = realloc(list->ids, new_cap * sizeof(*ids));
        if (!ids)
            return false;
        list->ids = ids;
        list->cap = new_cap;
    }
    size_t pos = list->count;
    while (pos > 0 && list->ids[pos - 1] > index)
        pos--;
    memmove(list->ids + pos + 1, list->ids + pos,
            (list->count - pos) * sizeof(*list->ids));
    list->ids[pos] = index;
    list->count++;
    return true;
}

static void id_list_remove(struct id_list *list, int32_t index)
{
    for (size_t i = 0; i < list->count; i++) {
        if (list->ids[i] == index) {
            memmove(list->ids + i, list->ids + i + 1,
                    (list->count - i - 1) * sizeof(*list->ids));
            list->count--;
            return;
        }
    }
}

static void summarize(const struct mz_item *item, struct mz_item_summary *out)
{
    out->price = item->price;
    out->launch_at = item->launch_at;
    out->end_at = item->end_at;
    out->category_id = item->category_id;
    out->flags = (item->retired ? MZ_ITEM_RETIRED : 0) |
                 (item->available ? 0 : MZ_ITEM_UNAVAILABLE) |
                 (item->stock == 0 ? MZ_ITEM_SOLD_OUT : 0) |
                 (item->has_regions ? MZ_ITEM_HAS_REGIONS : 0) |
                 (item->has_reserved_tiers ? MZ_ITEM_HAS_TIERS : 0);
}

int32_t mz_catalog_upsert(struct mz_catalog *catalog, struct mz_item *item,
                          bool *is_new)
{
    struct catalog_slot fresh = {.item = item};
    bool ok_regions, ok_tiers;
    int32_t index = -1;
    bool created = false;

    if (is_new)
        *is_new = false;
    if (!item || !item->item_id || !item->brand || !item->category)
        goto fail;
    item->brand_id = intern_id(&catalog->brands, item->brand);
    item->category_id = intern_id(&catalog->categories, item->category);
    if (item->brand_id < 0 || item->category_id < 0 ||
        !ensure_brand_list(catalog, item->brand_id))
        goto fail;
    fresh.region_ids = intern_list(&catalog->regions, &item->regions,
                                   &ok_regions);
    fresh.tier_ids = intern_list(&catalog->tiers, &item->reserved_tiers,
                                 &ok_tiers);
    if (!ok_regions || !ok_tiers)
        goto fail;
    item->retired = false;

    index = mz_hash_table_get_index(catalog->ids, item->item_id);
    if (index < 0) {
        if (catalog->count == catalog->cap) {
            int32_t new_cap = catalog->cap ? catalog->cap * 2 : 64;
            struct catalog_slot *slots =
                realloc(catalog->slots, (size_t)new_cap * sizeof(*slots));
            if (!slots)
                goto fail;
            catalog->slots = slots;
            struct mz_item_summary *summaries = realloc(
                catalog->summaries, (size_t)new_cap * sizeof(*summaries));
            if (!summaries)
                goto fail;
            catalog->summaries = summaries;
            catalog->cap = new_cap;
        }
        index = catalog->count;
        if (!id_list_insert(&catalog->brand_items[item->brand_id], index))
            goto fail;
        if (!mz_hash_table_put(catalog->ids, item->item_id,
                               (union mz_hash_value){ .index = index })) {
            id_list_remove(&catalog->brand_items[item->brand_id], index);
            goto fail;
        }
        catalog->count++;
        catalog->live++;
        created = true;
    } else {
        struct catalog_slot *old = &catalog->slots[index];
        if (old->item->brand_id != item->brand_id) {
            if (!id_list_insert(&catalog->brand_items[item->brand_id], index))
                goto fail;
            id_list_remove(&catalog->brand_items[old->item->brand_id], index);
        }
        if (old->item->retired)
            catalog->live++;
        slot_clear(old);
    }
    catalog->slots[index] = fresh;
    summarize(item, &catalog->summaries[index]);
    if (is_new)
        *is_new = created;
    return index;
fail:
    slot_clear(&fresh);
    return -1;
}

int32_t mz_catalog_find(const struct mz_catalog *catalog, const char *item_id)
{
    return mz_hash_table_get_index(catalog->ids, item_id);
}

const struct mz_item *mz_catalog_item(const struct mz_catalog *catalog,
                                      int32_t index)
{
    if (index < 0 || index >= catalog->count)
        return NULL;
    return catalog->slots[index].item;
}

int32_t mz_catalog_count(const struct mz_catalog *catalog)
{
    return catalog->count;
}

int32_t mz_catalog_live_count(const struct mz_catalog *catalog)
{
    return catalog->live;
}

enum mz_status mz_catalog_remove(struct mz_catalog *catalog,
                                 const char *item_id)
{
    int32_t index = mz_hash_table_get_index(catalog->ids, item_id);
    if (index < 0 || catalog->slots[index].item->retired)
        return MZ_ERR_NOT_FOUND;
    catalog->slots[index].item->retired = true;
    catalog->summaries[index].flags |= MZ_ITEM_RETIRED;
    catalog->live--;
    return MZ_OK;
}

int32_t mz_catalog_brand_id(const struct mz_catalog *catalog, const char *brand)
{
    return mz_hash_table_get_index(catalog->brands.ids, brand);
}

int32_t mz_catalog_category_id(const struct mz_catalog *catalog,
                               const char *category)
{
    return mz_hash_table_get_index(catalog->categories.ids, category);
}

const char *mz_catalog_brand_name(const struct mz_catalog *catalog, int32_t id)
{
    if (id < 0 || id >= catalog->brands.count)
        return NULL;
    return catalog->brands.names[id];
}

const char *mz_catalog_category_name(const struct mz_catalog *catalog,
                                     int32_t id)
{
    if (id < 0 || id >= catalog->categories.count)
        return NULL;
    return catalog->categories.names[id];
}

int32_t mz_catalog_brand_count(const struct mz_catalog *catalog)
{
    return catalog->brands.count;
}

int32_t mz_catalog_category_count(const struct mz_catalog *catalog)
{
    return catalog->categories.count;
}

const int32_t *mz_catalog_brand_items(const struct mz_catalog *catalog,
                                      int32_t brand_id, size_t *count)
{
    *count = 0;
    if (brand_id < 0 || brand_id >= catalog->brands.count ||
        brand_id >= catalog->brand_items_cap)
        return NULL;
    *count = catalog->brand_items[brand_id].count;
    return catalog->brand_items[brand_id].ids;
}

int32_t mz_catalog_region_id(const struct mz_catalog *catalog,
                             const char *region)
{
    return mz_hash_table_get_index(catalog->regions.ids, region);
}

int32_t mz_catalog_tier_id(const struct mz_catalog *catalog, const char *tier)
{
    return mz_hash_table_get_index(catalog->tiers.ids, tier);
}

const int32_t *mz_catalog_item_region_ids(const struct mz_catalog *catalog,
                                          int32_t index, size_t *count)
{
    *count = 0;
    if (index < 0 || index >= catalog->count)
        return NULL;
    *count = catalog->slots[index].item->regions.count;
    return catalog->slots[index].region_ids;
}

const int32_t *mz_catalog_item_tier_ids(const struct mz_catalog *catalog,
                                        int32_t index, size_t *count)
{
    *count = 0;
    if (index < 0 || index >= catalog->count)
        return NULL;
    *count = catalog->slots[index].item->reserved_tiers.count;
    return catalog->slots[index].tier_ids;
}

const struct mz_item_summary *
mz_catalog_summaries(const struct mz_catalog *catalog)
{
    return catalog->summaries;
}
