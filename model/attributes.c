/*-------------------------------------------------------------------------
 * attributes.c
 *    Attribute tokens of items: interning and the item lists per token.
 *
 * Interface routines: see attributes.h.
 *
 * Token ids are dense, in order of first appearance; an open-addressing
 * table maps a token hash to its id. Each token's items are a growing
 * array in item order.
 *-------------------------------------------------------------------------
 */
#include "model/attributes.h"

#include <stdlib.h>
#include <string.h>

struct token_items {
    int32_t *items; /* owned */
    uint32_t count;
    uint32_t cap;
};

struct mz_attributes {
    uint64_t *slot_hash;        /* owned, slot_cap: 0 = empty */
    int32_t *slot_token;        /* owned, slot_cap */
    uint32_t slot_cap;          /* a power of two */
    struct token_items *tokens; /* owned, one per token id */
    int32_t n_tokens;
    int32_t tokens_cap;
    int32_t (*item_tokens)[MZ_ATTR_TOKENS_PER_ITEM]; /* owned, per item;
                                                        -1 = none */
    int32_t n_items;
    int32_t items_cap;
};

struct mz_attributes *mz_attributes_new(void)
{
    struct mz_attributes *a = calloc(1, sizeof *a);

    if (!a)
        return NULL;
    a->slot_cap = 256;
    a->slot_hash = calloc(a->slot_cap, sizeof *a->slot_hash);
    a->slot_token = calloc(a->slot_cap, sizeof *a->slot_token);
    if (!a->slot_hash || !a->slot_token) {
        mz_attributes_free(a);
        return NULL;
    }
    return a;
}

void mz_attributes_free(struct mz_attributes *a)
{
    if (!a)
        return;
    for (int32_t t = 0; t < a->n_tokens; t++)
        free(a->tokens[t].items);
    free(a->tokens);
    free(a->item_tokens);
    free(a->slot_token);
    free(a->slot_hash);
    free(a);
}

/* 0 marks an empty slot, so a token hashing to 0 is stored as 1. */
static uint64_t stored_hash(uint64_t hash)
{
    return hash ? hash : 1;
}

static uint32_t slot_of(const struct mz_attributes *a, uint64_t hash)
{
    uint32_t at = (uint32_t)(hash ^ (hash >> 32)) & (a->slot_cap - 1);

    while (a->slot_hash[at] && a->slot_hash[at] != hash)
        at = (at + 1) & (a->slot_cap - 1);
    return at;
}

/* Doubles the hash table; false (table unchanged) when out of memory. */
static bool grow_slots(struct mz_attributes *a)
{
    struct mz_attributes bigger = *a;

    bigger.slot_cap = a->slot_cap * 2;
    bigger.slot_hash = calloc(bigger.slot_cap, sizeof *bigger.slot_hash);
    bigger.slot_token = calloc(bigger.slot_cap, sizeof *bigger.slot_token);
    if (!bigger.slot_hash || !bigger.slot_token) {
        free(bigger.slot_hash);
        free(bigger.slot_token);
        return false;
    }
    for (uint32_t s = 0; s < a->slot_cap; s++) {
        if (!a->slot_hash[s])
            continue;
        uint32_t at = slot_of(&bigger, a->slot_hash[s]);
        bigger.slot_hash[at] = a->slot_hash[s];
        bigger.slot_token[at] = a->slot_token[s];
    }
    free(a->slot_hash);
    free(a->slot_token);
    a->slot_hash = bigger.slot_hash;
    a->slot_token = bigger.slot_token;
    a->slot_cap = bigger.slot_cap;
    return true;
}

/* The id of token hash, interned when new; -1 when out of memory. */
static int32_t intern(struct mz_attributes *a, uint64_t hash)
{
    uint32_t at = slot_of(a, hash);

    if (a->slot_hash[at])
        return a->slot_token[at];
    if ((uint32_t)(a->n_tokens + 1) * 4 > a->slot_cap * 3) {
        if (!grow_slots(a))
            return -1;
        at = slot_of(a, hash);
    }
    if (a->n_tokens == a->tokens_cap) {
        int32_t cap = a->tokens_cap ? a->tokens_cap * 2 : 64;
        struct token_items *t = realloc(a->tokens, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        a->tokens = t;
        a->tokens_cap = cap;
    }
    int32_t id = a->n_tokens++;
    a->tokens[id] = (struct token_items){NULL, 0, 0};
    a->slot_hash[at] = hash;
    a->slot_token[at] = id;
    return id;
}

static bool append_item(struct token_items *t, int32_t item)
{
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 4;
        int32_t *items = realloc(t->items, cap * sizeof *items);
        if (!items)
            return false;
        t->items = items;
        t->cap = cap;
    }
    t->items[t->count++] = item;
    return true;
}

bool mz_attributes_add_item(struct mz_attributes *a, int32_t item,
                            const uint64_t *token_hashes, size_t n_tokens)
{
    if (item != a->n_items)
        return false;
    if (a->n_items == a->items_cap) {
        int32_t cap = a->items_cap ? a->items_cap * 2 : 1024;
        void *rows =
            realloc(a->item_tokens, (size_t)cap * sizeof *a->item_tokens);
        if (!rows)
            return false;
        a->item_tokens = rows;
        a->items_cap = cap;
    }
    int32_t *row = a->item_tokens[item];
    int kept = 0;
    for (int k = 0; k < MZ_ATTR_TOKENS_PER_ITEM; k++)
        row[k] = -1;
    for (size_t t = 0; t < n_tokens && kept < MZ_ATTR_TOKENS_PER_ITEM; t++) {
        int32_t id = intern(a, stored_hash(token_hashes[t]));
        bool repeated = false;
        for (int k = 0; k < kept && id >= 0; k++)
            repeated = repeated || row[k] == id;
        if (id < 0 || (!repeated && !append_item(&a->tokens[id], item))) {
            /* Undo this item's entries: they are the last of each list. */
            for (int k = 0; k < kept; k++)
                a->tokens[row[k]].count--;
            return false;
        }
        if (!repeated)
            row[kept++] = id;
    }
    a->n_items++;
    return true;
}

/* Removes item from token t's list, keeping the list in item order. */
static void remove_item(struct token_items *t, int32_t item)
{
    for (uint32_t i = 0; i < t->count; i++) {
        if (t->items[i] == item) {
            memmove(&t->items[i], &t->items[i + 1],
                    (t->count - i - 1) * sizeof *t->items);
            t->count--;
            return;
        }
    }
}

/* Inserts item into token t's list at its place in item order. */
static bool insert_item(struct token_items *t, int32_t item)
{
    if (!append_item(t, item))
        return false;
    uint32_t at = t->count - 1;
    while (at > 0 && t->items[at - 1] > item) {
        t->items[at] = t->items[at - 1];
        at--;
    }
    t->items[at] = item;
    return true;
}

bool mz_attributes_set_item(struct mz_attributes *a, int32_t item,
                            const uint64_t *token_hashes, size_t n_tokens)
{
    if (item < 0 || item >= a->n_items)
        return false;
    int32_t fresh[MZ_ATTR_TOKENS_PER_ITEM];
    int kept = 0;
    for (size_t t = 0; t < n_tokens && kept < MZ_ATTR_TOKENS_PER_ITEM; t++) {
        int32_t id = intern(a, stored_hash(token_hashes[t]));
        if (id < 0)
            return false;
        bool repeated = false;
        for (int k = 0; k < kept; k++)
            repeated = repeated || fresh[k] == id;
        if (!repeated)
            fresh[kept++] = id;
    }
    /* Make room in every new list first, so that a failure leaves the
     * item's old tokens in place. */
    for (int k = 0; k < kept; k++) {
        struct token_items *t = &a->tokens[fresh[k]];
        if (!append_item(t, item))
            return false;
        t->count--;
    }
    int32_t *row = a->item_tokens[item];
    for (int k = 0; k < MZ_ATTR_TOKENS_PER_ITEM; k++)
        if (row[k] >= 0)
            remove_item(&a->tokens[row[k]], item);
    for (int k = 0; k < MZ_ATTR_TOKENS_PER_ITEM; k++)
        row[k] = k < kept ? fresh[k] : -1;
    for (int k = 0; k < kept; k++)
        insert_item(&a->tokens[fresh[k]], item); /* room was made */
    return true;
}

int mz_attributes_of_item(const struct mz_attributes *a, int32_t item,
                          int32_t *tokens)
{
    int n = 0;

    if (item < 0 || item >= a->n_items)
        return 0;
    for (int k = 0; k < MZ_ATTR_TOKENS_PER_ITEM; k++)
        if (a->item_tokens[item][k] >= 0)
            tokens[n++] = a->item_tokens[item][k];
    return n;
}

uint32_t mz_attributes_items(const struct mz_attributes *a, int32_t token,
                             const int32_t **items)
{
    if (token < 0 || token >= a->n_tokens) {
        *items = NULL;
        return 0;
    }
    *items = a->tokens[token].items;
    return a->tokens[token].count;
}
