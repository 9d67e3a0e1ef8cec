/*-------------------------------------------------------------------------
 * attributes.h
 *    Which items carry which attribute tokens ("brand=x", "category=y",
 *    "tag=z", ...): per item its token ids, per token the items that
 *    carry it. The model reads it to score the client's taste for
 *    brands, categories and tags (the attribute term of a level).
 *
 * Tokens are interned by a 64-bit hash of their text; at most
 * MZ_ATTR_TOKENS_PER_ITEM tokens are kept per item (the first ones given,
 * which mz_item_tokens sorts). Items are dense indices added in order.
 *
 * Ownership: mz_attributes_new returns an object the caller releases with
 * mz_attributes_free (which accepts NULL); other functions borrow.
 *
 * Interface routines:
 *    mz_attributes_new / _free
 *    mz_attributes_add_item   - the next item's tokens
 *    mz_attributes_set_item   - replace an item's tokens
 *    mz_attributes_of_item    - an item's token ids
 *    mz_attributes_items      - the items carrying a token
 *-------------------------------------------------------------------------
 */
#ifndef MZ_ATTRIBUTES_H
#define MZ_ATTRIBUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MZ_ATTR_TOKENS_PER_ITEM 8

struct mz_attributes;

/* NULL when out of memory. */
struct mz_attributes *mz_attributes_new(void);
void mz_attributes_free(struct mz_attributes *attrs);

/* Records the tokens (hashes of their text) of item, which must be the
 * number of items added so far. Returns false when out of memory, with
 * attrs unchanged. */
bool mz_attributes_add_item(struct mz_attributes *attrs, int32_t item,
                            const uint64_t *token_hashes, size_t n_tokens);

/* Replaces the tokens of item (already added). Returns false when out of
 * memory or item is unknown, with the item's old tokens kept. */
bool mz_attributes_set_item(struct mz_attributes *attrs, int32_t item,
                            const uint64_t *token_hashes, size_t n_tokens);

/* Writes item's token ids into tokens (room for MZ_ATTR_TOKENS_PER_ITEM);
 * returns how many. */
int mz_attributes_of_item(const struct mz_attributes *attrs, int32_t item,
                          int32_t *tokens);

/* The items carrying token (borrowed, valid until the next add); returns
 * how many. */
uint32_t mz_attributes_items(const struct mz_attributes *attrs, int32_t token,
                             const int32_t **items);

#endif
