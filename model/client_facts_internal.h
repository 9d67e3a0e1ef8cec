/*-------------------------------------------------------------------------
 * client_facts_internal.h
 *    The layout of struct mz_client_facts and its list operations, shared
 *    by client_facts.c (the record and its updates) and client_facts_io.c
 *    (the saved form) only. Nothing outside model/ includes this.
 *
 * Every list is a small array in log order that grows on demand up to
 * its cap; a full list drops its oldest entry. Writers reserve room
 * first (the *_reserve functions), so an allocation failure leaves the
 * record as it was.
 *-------------------------------------------------------------------------
 */
#ifndef MZ_CLIENT_FACTS_INTERNAL_H
#define MZ_CLIENT_FACTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "model/client_facts.h"

/* Version 2: purchases, dismissals and impressions survive
 * consent_withdrawn and are recorded while it lasts; a version-1 record of
 * a client without consent lacks them, so it is refused and the log
 * replayed instead. Version 3: each visit keeps its brand; an older
 * record lacks them and is refused the same way. */
#define MZ_FACTS_MAGIC   0x46435a4du /* "MZCF" little-endian */
#define MZ_FACTS_VERSION 3u

/* Counts and capacities are 32-bit (every cap is far below 2^32) and the
 * rarely used visits live apart, allocated at the first one: a client's
 * facts are one 136-byte block plus the lists it uses (docs/levels.md,
 * "What it costs"). */
struct mz_item_time_list {
    struct mz_item_time *v; /* owned */
    uint32_t count, cap;
};

/* The visits of one kind: times and, beside them, the brands named. */
struct mz_visit_list {
    int64_t *ts;   /* owned */
    char **brands; /* owned, beside ts: each brand owned, NULL: none */
    uint32_t count, cap;
};

struct mz_client_facts {
    struct mz_item_time_list purchases;
    struct mz_item_time_list dismissals;
    struct mz_item_time_list wishlist;
    struct mz_item_time_list impressions;
    struct mz_cart_line *cart; /* owned */
    uint32_t cart_count, cart_cap;
    struct mz_visit_list *visits; /* owned, MZ_VISIT_KIND_COUNT lists;
                                     NULL until the first visit */
    struct mz_item_event *ring;   /* owned, log order */
    uint32_t ring_count, ring_cap;
    int64_t newest_impression; /* largest shown_at recorded */
    int64_t last_seq;
    int64_t event_count;
    bool paused; /* consent withdrawn */
};

/* Makes room for need entries (at most max) in list; false on allocation
 * failure, with the list unchanged. */
bool mz_facts_list_reserve(struct mz_item_time_list *list, size_t need,
                           size_t max);
/* Returns the position of item in list, or -1. */
ptrdiff_t mz_facts_list_find(const struct mz_item_time_list *list,
                             int32_t item);
/* Appends (item, ts), dropping the oldest entry when the list holds max;
 * room must have been reserved. */
void mz_facts_list_append(struct mz_item_time_list *list, int32_t item,
                          int64_t ts, size_t max);
/* The same for the cart. */
bool mz_facts_cart_reserve(struct mz_client_facts *facts, size_t need);
ptrdiff_t mz_facts_cart_find(const struct mz_client_facts *facts, int32_t item);
/* Records a visit of kind at ts at brand (borrowed, copied; NULL: none),
 * the oldest dropped when full; false on allocation failure, with the
 * record unchanged. */
bool mz_facts_visit_add(struct mz_client_facts *facts, enum mz_visit_kind kind,
                        int64_t ts, const char *brand);
/* Pushes ev's item event on the ring (the oldest dropped when full);
 * false on allocation failure, with the record unchanged. */
bool mz_facts_ring_push(struct mz_client_facts *facts,
                        const struct mz_event_obs *ev);

#endif
