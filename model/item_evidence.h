/*-------------------------------------------------------------------------
 * item_evidence.h
 *    What a client did with one item, gathered from the facts records a
 *    reader sees (the ring of last item events, purchases, cart,
 *    wishlist, dismissals), and the phrase an associate can say about it
 *    ("viewed 3 times, added to the cart on 2026-11-23"). Only facts are
 *    used: an item the facts hold nothing about has no evidence.
 *
 * Interface routines:
 *    mz_item_evidence_gather - the evidence for one item
 *    mz_item_evidence_text   - its phrase
 *-------------------------------------------------------------------------
 */
#ifndef MZ_ITEM_EVIDENCE_H
#define MZ_ITEM_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/client_facts.h"
#include "model/event.h"

#define MZ_ITEM_EVIDENCE_TEXT_BYTES 256

/* What the facts hold about one item; a time of 0 means none. */
struct mz_item_evidence {
    int32_t count[MZ_EV_TYPE_COUNT];   /* ring events of each type */
    int64_t last_at[MZ_EV_TYPE_COUNT]; /* the latest of each type */
    int64_t purchased_at;              /* latest purchase */
    int64_t cart_at;                   /* in the cart since (last add) */
    int64_t wishlist_at;               /* in the wishlist since */
    int64_t dismissed_at;              /* latest dismissal */
};

/* Fills *out with what facts[0..n_facts-1] (borrowed; entries may be
 * NULL) hold about item and returns whether they hold anything.
 * Allocates nothing. */
bool mz_item_evidence_gather(const struct mz_client_facts *const *facts,
                             size_t n_facts, int32_t item,
                             struct mz_item_evidence *out);

/* Writes the phrase of ev into text (len bytes, truncated to fit):
 * the ring's counts and dates in event-type order, then the purchase,
 * cart, wishlist and dismissal the ring no longer shows, joined by
 * ", " ("viewed 3 times, added to the cart on 2026-11-23"). */
void mz_item_evidence_text(const struct mz_item_evidence *ev, char *text,
                           size_t len);

#endif
