/*-------------------------------------------------------------------------
 * brand_tiers.h
 *    A client's tier at each brand of a group: a VIP at one house may be
 *    a prospect at another. A small bounded list of (brand, tier) pairs
 *    beside the client's default tier, which holds at every brand not
 *    listed.
 *
 * Ownership: a struct mz_brand_tiers owns its strings; _copy gives the
 * caller a new list to release with _clear. Lookups borrow.
 *
 * Interface routines:
 *    mz_brand_tiers_copy  - a deep copy
 *    mz_brand_tiers_clear - release what a list holds
 *    mz_brand_tiers_at    - the tier at a brand, else a default
 *-------------------------------------------------------------------------
 */
#ifndef MZ_BRAND_TIERS_H
#define MZ_BRAND_TIERS_H

#include <stdbool.h>
#include <stddef.h>

#define MZ_BRAND_TIERS_MAX 64 /* brands one client may have a tier at */

struct mz_brand_tier {
    char *brand; /* owned, 1..MZ_ID_MAX_BYTES bytes */
    char *tier;  /* owned, 1..MZ_ID_MAX_BYTES bytes */
};

/* At most MZ_BRAND_TIERS_MAX entries, each brand once, in the order
 * given. The zero value is the empty list. */
struct mz_brand_tiers {
    struct mz_brand_tier *v; /* owned */
    size_t count;
};

/* Makes *out (which must be empty or cleared) a copy of src (borrowed;
 * NULL copies as empty). Returns false on allocation failure, with *out
 * empty. */
bool mz_brand_tiers_copy(struct mz_brand_tiers *out,
                         const struct mz_brand_tiers *src);

/* Frees the strings and the array, leaving the list empty; accepts NULL. */
void mz_brand_tiers_clear(struct mz_brand_tiers *tiers);

/* Returns the tier listed for brand (borrowed), or fallback when brand is
 * NULL, tiers is NULL or brand is not listed. */
const char *mz_brand_tiers_at(const struct mz_brand_tiers *tiers,
                              const char *brand, const char *fallback);

#endif
