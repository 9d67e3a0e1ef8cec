/*-------------------------------------------------------------------------
 * item.c
 *    Item records: creation with the defaults, release, and the
 *    cold-start tokens of an item.
 *
 * Interface routines: see item.h.
 *-------------------------------------------------------------------------
 */
#include "model/item.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Frees what attribute a owns (not a itself); entries are never lists. */
static void attribute_release(struct mz_item_attribute *a)
{
    free(a->key);
    if (a->kind == MZ_ATTRIBUTE_STRING)
        free(a->value.string);
    if (a->kind == MZ_ATTRIBUTE_LIST) {
        for (size_t e = 0; e < a->value.list.count; e++)
            attribute_release(&a->value.list.entries[e]);
        free(a->value.list.entries);
    }
}

void mz_item_attributes_clear(struct mz_item_attributes *attributes)
{
    if (!attributes)
        return;
    for (size_t i = 0; i < attributes->count; i++)
        attribute_release(&attributes->v[i]);
    free(attributes->v);
    attributes->v = NULL;
    attributes->count = 0;
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
    mz_item_attributes_clear(&item->attributes);
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
    return item;
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

/* The token "attr:key=value" (malloc'd) of a scalar value a under key,
 * or NULL when out of memory. */
static char *attribute_token(const char *key, const struct mz_item_attribute *a)
{
    char *token = NULL;
    int rc;
    switch (a->kind) {
    case MZ_ATTRIBUTE_STRING:
        rc = asprintf(&token, "attr:%s=%s", key, a->value.string);
        break;
    case MZ_ATTRIBUTE_INTEGER:
        rc = asprintf(&token, "attr:%s=%lld", key, (long long)a->value.integer);
        break;
    case MZ_ATTRIBUTE_REAL:
        rc = asprintf(&token, "attr:%s=%.17g", key, a->value.real);
        break;
    default:
        rc = asprintf(&token, "attr:%s=%s", key,
                      a->value.boolean ? "true" : "false");
        break;
    }
    return rc < 0 ? NULL : token;
}

/* Number of attribute tokens before de-duplication: one per scalar, one
 * per list entry. */
static size_t attribute_value_count(const struct mz_item_attributes *attrs)
{
    size_t n = 0;
    for (size_t i = 0; i < attrs->count; i++)
        n += attrs->v[i].kind == MZ_ATTRIBUTE_LIST
                 ? attrs->v[i].value.list.count
                 : 1;
    return n;
}

/* Sorts tokens [from, count) and drops repeats (a list may name the same
 * value twice; one token, one vote in the embedding). */
static void sort_unique(struct mz_string_list *tokens, size_t from)
{
    size_t kept = from;
    qsort(tokens->items + from, tokens->count - from, sizeof(*tokens->items),
          compare_strings);
    for (size_t i = from; i < tokens->count; i++) {
        if (kept > from &&
            strcmp(tokens->items[kept - 1], tokens->items[i]) == 0)
            free(tokens->items[i]);
        else
            tokens->items[kept++] = tokens->items[i];
    }
    tokens->count = kept;
}

enum mz_status mz_item_tokens(const struct mz_item *item,
                              struct mz_string_list *tokens)
{
    char *token = NULL;
    const struct mz_item_attributes *attrs = &item->attributes;
    size_t cap = 3 + item->tags.count + attribute_value_count(attrs);
    size_t first_attr;

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
    for (size_t i = 0; i < attrs->count; i++) {
        const struct mz_item_attribute *a = &attrs->v[i];
        bool is_list = a->kind == MZ_ATTRIBUTE_LIST;
        size_t n = is_list ? a->value.list.count : 1;
        for (size_t e = 0; e < n; e++) {
            const struct mz_item_attribute *v =
                is_list ? &a->value.list.entries[e] : a;
            if (!push_token(tokens, attribute_token(a->key, v)))
                goto fail;
        }
    }
    /* The same attributes in another order must give the same tokens, or
     * the cold-start embedding would depend on how the item was written. */
    sort_unique(tokens, first_attr);
    return MZ_OK;
fail:
    mz_string_list_clear(tokens);
    return MZ_ERR_NOMEM;
}
