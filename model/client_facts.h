/*-------------------------------------------------------------------------
 * client_facts.h
 *    What happened to one client, as plain facts: what they bought,
 *    dismissed, wished for and have in the cart, when they visited a
 *    boutique, and which items the service already showed them. The
 *    rules (exclusions, frequency caps), the reasons and the clienteling
 *    profile read these; the model's levels are a separate, learned view.
 *    Without consent only what the rules need is kept (see _observe).
 *
 * The facts are a deterministic function of the client's events in log
 * order plus the impressions the service records: replaying the same
 * events (and impressions) into a new record gives an identical record,
 * byte for byte in mz_client_facts_save. Every list is bounded; when one
 * is full the oldest entry goes. Items are catalog indices; the saved
 * form names items by id so it survives a catalog reloaded in another
 * order. Not thread-safe (the server locks).
 *
 * Lists are returned oldest first (most recent last) as borrowed arrays
 * that stay valid until the next write to the record.
 *
 * Interface routines:
 *    mz_client_facts_new / _free / _reset
 *    mz_client_facts_observe            - apply one committed event
 *    mz_client_facts_record_impressions - items just recommended
 *    mz_client_facts_purchased_at / _in_wishlist / _in_cart /
 *        _impressions_since             - point queries
 *    mz_client_facts_purchases / _dismissals / _wishlist / _cart /
 *        _visits / _visit_brands / _recent_events / _impressions
 *                                         - the lists
 *    mz_client_facts_last_event_of      - latest ring entry for an item
 *    mz_client_facts_save / _load       - versioned bytes
 *                                         (client_facts_io.c)
 *-------------------------------------------------------------------------
 */
#ifndef MZ_CLIENT_FACTS_H
#define MZ_CLIENT_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/catalog.h"
#include "model/event.h"
#include "model/status.h"

/* Capacities; when a list is full its oldest entry is dropped. */
#define MZ_FACTS_MAX_PURCHASES       4096 /* distinct items, latest purchase */
#define MZ_FACTS_MAX_DISMISSALS      4096 /* distinct items, latest dismissal */
#define MZ_FACTS_MAX_WISHLIST        64
#define MZ_FACTS_MAX_CART            64
#define MZ_FACTS_MAX_VISITS          16    /* per kind of visit */
#define MZ_FACTS_RING                32    /* last item events, for evidence */
#define MZ_FACTS_MAX_IMPRESSIONS     16384 /* within the last 24 h */
#define MZ_FACTS_IMPRESSION_WINDOW_S 86400

/* One item with the time something happened to it. */
struct mz_item_time {
    int32_t item; /* catalog index */
    int64_t ts;   /* seconds since the epoch */
};

/* One cart line: quantity is at least 1 while the line exists. */
struct mz_cart_line {
    int32_t item;
    int32_t quantity;
    int64_t ts; /* last add */
};

/* One item event of the ring. */
struct mz_item_event {
    int32_t item;
    enum mz_event_type type;
    int64_t ts;
};

/* Kinds of in-person contact kept as timestamps. */
enum mz_visit_kind {
    MZ_VISIT_STORE = 0,   /* store_visit */
    MZ_VISIT_APPOINTMENT, /* appointment */
    MZ_VISIT_EVENT,       /* event_attendance (private events) */
    MZ_VISIT_KIND_COUNT
};

struct mz_client_facts;

/* Returns an empty record (caller frees), or NULL on allocation failure. */
struct mz_client_facts *mz_client_facts_new(void);
/* Frees facts; accepts NULL. */
void mz_client_facts_free(struct mz_client_facts *facts);
/* Forgets everything (the record stays usable). */
void mz_client_facts_reset(struct mz_client_facts *facts);

/* Applies one committed event (borrowed) in log order:
 *   item events (item >= 0) enter the ring of the last MZ_FACTS_RING;
 *   purchase: recorded (latest time per item), removed from cart and
 *     wishlist; return: the item leaves the purchases;
 *   dismiss: recorded (latest time per item);
 *   wishlist: added to the wishlist set;
 *   add_to_cart / remove_from_cart: the line's quantity goes up / down by
 *     ev->quantity (at least 1); a line at 0 disappears;
 *   store_visit / appointment / event_attendance: timestamp and brand
 *     (ev->brand, NULL: none) kept;
 *   consent_withdrawn: what only personalisation and the profile use
 *     (wishlist, cart, visits, the ring) is forgotten, and until
 *     consent_granted later events record only what the rules need:
 *     purchases, returns and dismissals (not counted in event_count).
 *     Purchases, dismissals and impressions are kept throughout, since
 *     the rules (exclusions, frequency cap) protect every client, consent
 *     or not. A replay of the log gives the same facts whatever the
 *     server did in between.
 * Item events with item < 0 are ignored. Returns MZ_OK, or MZ_ERR_NOMEM
 * with facts unchanged. */
enum mz_status mz_client_facts_observe(struct mz_client_facts *facts,
                                       const struct mz_event_obs *ev);

/* Records that items[0..n-1] (borrowed) were shown to the client at
 * shown_at, for the frequency cap. Impressions older than 24 h before the
 * newest recorded one are dropped, and at most MZ_FACTS_MAX_IMPRESSIONS
 * are kept (oldest dropped first). Negative items are skipped. Returns
 * MZ_OK, or MZ_ERR_NOMEM with facts unchanged. */
enum mz_status mz_client_facts_record_impressions(struct mz_client_facts *facts,
                                                  const int32_t *items,
                                                  size_t n, int64_t shown_at);

/* Whether consent is currently withdrawn (only what the rules need is
 * recorded). */
bool mz_client_facts_paused(const struct mz_client_facts *facts);
/* Sequence number of the last event observed (0: none). */
int64_t mz_client_facts_last_seq(const struct mz_client_facts *facts);
/* Number of events observed since the record was created or reset. */
int64_t mz_client_facts_event_count(const struct mz_client_facts *facts);

/* Point queries. *_at return false when the fact is unknown and leave
 * *ts unchanged; ts may be NULL. */
bool mz_client_facts_purchased_at(const struct mz_client_facts *facts,
                                  int32_t item, int64_t *ts);
bool mz_client_facts_in_wishlist(const struct mz_client_facts *facts,
                                 int32_t item);
bool mz_client_facts_in_cart(const struct mz_client_facts *facts, int32_t item);
/* Number of impressions of item with shown_at > since (e.g. now - 86400). */
int mz_client_facts_impressions_since(const struct mz_client_facts *facts,
                                      int32_t item, int64_t since);
/* Latest ring entry for item into *out; false when the item is not among
 * the last MZ_FACTS_RING item events. */
bool mz_client_facts_last_event_of(const struct mz_client_facts *facts,
                                   int32_t item, struct mz_item_event *out);

/* The lists in log order (oldest first), borrowed; *count gets the
 * length. */
const struct mz_item_time *mz_client_facts_purchases(
    const struct mz_client_facts *facts, size_t *count);
const struct mz_item_time *mz_client_facts_dismissals(
    const struct mz_client_facts *facts, size_t *count);
const struct mz_item_time *mz_client_facts_wishlist(
    const struct mz_client_facts *facts, size_t *count);
const struct mz_cart_line *mz_client_facts_cart(
    const struct mz_client_facts *facts, size_t *count);
const int64_t *mz_client_facts_visits(const struct mz_client_facts *facts,
                                      enum mz_visit_kind kind, size_t *count);
/* The brand of each visit of kind, beside mz_client_facts_visits (same
 * count and order; an entry is NULL for a visit that named no brand). */
const char *const *mz_client_facts_visit_brands(
    const struct mz_client_facts *facts, enum mz_visit_kind kind,
    size_t *count);
/* The ring in chronological (log) order, oldest first. */
const struct mz_item_event *mz_client_facts_recent_events(
    const struct mz_client_facts *facts, size_t *count);
const struct mz_item_time *mz_client_facts_impressions(
    const struct mz_client_facts *facts, size_t *count);

/* Serialises facts into a malloc'd buffer of *len bytes (caller frees),
 * naming items by their ids in catalog (borrowed). Returns NULL on
 * allocation failure. The bytes start with a magic and a format version. */
void *mz_client_facts_save(const struct mz_client_facts *facts,
                           const struct mz_catalog *catalog, size_t *len);
/* Returns a new record (caller frees) from bytes written by
 * mz_client_facts_save, mapping item ids onto catalog indices (entries of
 * ids the catalog no longer has are dropped). Returns NULL with *status
 * MZ_ERR_INVALID and a reason in err for truncated, corrupt or
 * wrong-version bytes, or MZ_ERR_NOMEM. Never reads outside bytes. */
struct mz_client_facts *mz_client_facts_load(const struct mz_catalog *catalog,
                                             const void *bytes, size_t len,
                                             enum mz_status *status, char *err,
                                             size_t err_len);

#endif
