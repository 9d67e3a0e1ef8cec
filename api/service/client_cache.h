/*-------------------------------------------------------------------------
 * client_cache.h
 *    The clients in memory, as a bounded cache over PostgreSQL
 *    (--memory-limit): the entries, reading back a client that is not in
 *    memory, holding clients that events in flight will teach, and
 *    evicting the least recently used clean clients.
 *
 * A client is evicted only when it is clean: unchanged since the last
 * checkpoint, so its client_state row is exactly its state in memory
 * (every row is as of the last checkpoint's log position; see
 * docs/durability.md). Eviction therefore writes nothing and loses
 * nothing, and reading the row back gives the client as it was. Every
 * path that uses a client (requests, learning, start-up replay) makes
 * sure it is in memory first.
 *
 * The limit is soft: clients changed since the last checkpoint, used
 * within the last second (a request between its fetch and its use), or
 * held for events on their way to the log are never evicted. Eviction
 * runs after each checkpoint; the cache asks for one early (its growth
 * callback) when the count passes max_clients by 1/8.
 *
 * Locking: the table is guarded by the service's state lock (borrowed at
 * creation). Functions marked "caller holds the lock" expect it; the
 * others take it themselves. The cache's own mutex guards only the set
 * of held clients.
 *
 * Interface routines:
 *    mz_client_cache_new / _free
 *    mz_client_cache_max_clients - the limit as a client count
 *    mz_client_cache_get / _get_or_add / _next / _count
 *    mz_client_cache_fetch       - make sure a client is in memory
 *    mz_client_cache_needs_fetch - whether it has work to do (under the lock)
 *    mz_client_cache_needs_store - whether that work reads PostgreSQL
 *    mz_client_cache_read_back   - the same for a caller holding the lock
 *    mz_client_cache_hold / _release - keep clients in memory meanwhile
 *    mz_client_cache_evict       - evict down to 7/8 of max_clients
 *    mz_client_cache_erase       - remove a client that was erased
 *    mz_client_cache_restore     - an entry from a stored record
 *    mz_client_cache_restore_attributes - tiers and region from storage
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_SERVICE_CLIENT_CACHE_H
#define MZ_API_SERVICE_CLIENT_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/brand_tiers.h"
#include "model/catalog.h"
#include "model/client_facts.h"
#include "model/client_private.h"
#include "model/model.h"
#include "store/store.h"

/* Bytes a client takes beyond its levels (mz_client_resident_bytes, 992
 * at L = 3, its second block included): its facts, entry, id, table slot
 * and allocator overhead (511 in malloc chunks for a client of 5 events,
 * which is 880 of levels, docs/levels.md), plus the share of the
 * process's growth that tests/bench part (c) finds beside them:
 * 1,465-1,673 bytes per client in all (2,195 in a run that also counted
 * a malloc arena), so 700 keeps the estimate (1,692) above what is
 * usually measured. */
#define MZ_CACHE_CLIENT_OVERHEAD 700

/* Mutexes the clients' impressions locks are spread over: enough that
 * concurrent requests of different clients rarely share one. */
#define MZ_CACHE_IMPRESSION_LOCKS 256

/* One client in memory. */
struct mz_client_entry {
    const char *client_id;              /* borrowed from the cache's table */
    struct mz_client *memory;           /* owned: the levels the sharing
                                           brands' events taught */
    struct mz_client_facts *facts;      /* owned: facts of the items and
                                           visits of the sharing brands */
    struct mz_client_privates privates; /* owned: what each brand that
                                           keeps its signals to itself
                                           taught (docs/design.md) */
    char *tier;                         /* owned; NULL when unknown; the
                                           default for brands not in tiers */
    struct mz_brand_tiers tiers;        /* owned: the tier at some brands */
    char *region;                       /* owned; NULL when unknown */
    bool consent;                       /* personalisation allowed (default) */
    bool has_attributes;                /* attributes were set */
    bool dirty;                         /* changed since the last checkpoint */
    int64_t events_logged;              /* events in the log, learned or not */
    _Atomic int64_t last_used_ms;       /* last request or event (monotonic
                                           clock), for the eviction order;
                                           readers store it too */
    /* Borrowed from the cache: guards facts' impressions, the one thing
     * readers write. One of the cache's MZ_CACHE_IMPRESSION_LOCKS
     * mutexes, shared by the clients whose ids hash to it (a mutex per
     * client was 40 of its bytes), so hold it for one client at a time
     * and briefly. */
    pthread_mutex_t *impressions_lock;
};

/* Called (without the cache's locks) when the cache wants an eviction
 * soon. */
typedef void (*mz_cache_growth_fn)(void *ctx);

struct mz_client_cache;

/* Returns an empty cache for clients of model, naming items by catalog,
 * reading evicted clients from store (all three borrowed, they outlive
 * the cache), guarded by state_lock (borrowed), holding about
 * memory_limit bytes (0: no limit). on_growth(ctx) asks for an eviction.
 * NULL on allocation failure. */
struct mz_client_cache *mz_client_cache_new(
    const struct mz_model *model, const struct mz_catalog *catalog,
    struct mz_store *store, pthread_rwlock_t *state_lock, size_t memory_limit,
    mz_cache_growth_fn on_growth, void *ctx);
/* Frees every entry and the cache; accepts NULL. */
void mz_client_cache_free(struct mz_client_cache *cache);

/* The clients that memory_limit bytes hold (at least 1); 0 for no limit. */
size_t mz_client_cache_max_clients(const struct mz_model *model,
                                   size_t memory_limit);

/* Clients in memory, and the limit (0: none). Caller holds the lock. */
size_t mz_client_cache_count(const struct mz_client_cache *cache);
size_t mz_client_cache_limit(const struct mz_client_cache *cache);

/* Counters since the cache was made: clients evicted, clients read back
 * from PostgreSQL (relaxed atomics, no lock needed). */
uint64_t mz_client_cache_evicted(const struct mz_client_cache *cache);
uint64_t mz_client_cache_loaded(const struct mz_client_cache *cache);

/* Returns the entry of client_id (borrowed, valid under the lock) and
 * marks it used, or NULL when it is not in memory. Caller holds the lock
 * (the read lock is enough). */
struct mz_client_entry *mz_client_cache_get(const struct mz_client_cache *cache,
                                            const char *client_id);

/* Returns the entry of client_id, created empty (no levels, no facts,
 * consent on) when absent, or NULL on allocation failure. Caller holds
 * the write lock. Does not read PostgreSQL: use it for a client known
 * to be new or already fetched. */
struct mz_client_entry *mz_client_cache_get_or_add(
    struct mz_client_cache *cache, const char *client_id);

/* Iterates: start with *cursor = 0; returns the next entry or NULL at the
 * end. Caller holds the lock; the table must not change meanwhile. */
struct mz_client_entry *mz_client_cache_next(
    const struct mz_client_cache *cache, size_t *cursor);

/* Makes sure client_id is in memory, reading it back from PostgreSQL when
 * it was evicted (or not loaded at start), and marks it used. A client
 * unknown to memory and database gets an empty entry only when create is
 * true. Call without the lock. Returns MZ_OK, MZ_ERR_DB_UNAVAILABLE /
 * MZ_ERR_DB, MZ_ERR_NOMEM, or MZ_ERR_INTERNAL for a corrupt record. */
enum mz_status mz_client_cache_fetch(struct mz_client_cache *cache,
                                     const char *client_id, bool create);

/* Whether mz_client_cache_fetch(client_id, create) would have work to do
 * (a read of PostgreSQL, or an entry to create); false: the client is in
 * memory, marked used, or known to be absent. Caller holds the lock (the
 * read lock is enough), so a request can check and then use the client in
 * one hold. */
bool mz_client_cache_needs_fetch(const struct mz_client_cache *cache,
                                 const char *client_id, bool create);

/* Whether mz_client_cache_fetch(client_id) would read PostgreSQL: the
 * client is not in memory and some persisted client is not either. A
 * hint for choosing a thread (it may change at once): it takes the read
 * lock, but not while every client is in memory. */
bool mz_client_cache_needs_store(struct mz_client_cache *cache,
                                 const char *client_id);

/* mz_client_cache_fetch(create = true) for a caller holding the write
 * lock (the start-up replay, before any request is served): returns the
 * entry, or NULL with the reason in *status. */
struct mz_client_entry *mz_client_cache_read_back(struct mz_client_cache *cache,
                                                  const char *client_id,
                                                  enum mz_status *status);

/* Holds ids[0..n-1] (borrowed) in memory until the matching release:
 * eviction passes over a held client, so events on their way to the log
 * find it there. Holds nest. Returns false on allocation failure (then
 * nothing is held). */
bool mz_client_cache_hold(struct mz_client_cache *cache, const char *const *ids,
                          size_t n);
/* Releases a hold made by mz_client_cache_hold with the same ids. */
void mz_client_cache_release(struct mz_client_cache *cache,
                             const char *const *ids, size_t n);

/* Evicts clean, unheld clients unused for a second, least recently used
 * first, until at most 7/8 of max_clients remain (when over
 * max_clients). Takes the write lock. Caller makes sure no checkpoint is
 * between copying clients and knowing its write succeeded. Returns how
 * many went. */
size_t mz_client_cache_evict(struct mz_client_cache *cache);

/* Removes client_id (erased in PostgreSQL) from memory; a read-back that
 * overlapped it reads again, so the erased state cannot come back.
 * Caller holds the write lock. */
void mz_client_cache_erase(struct mz_client_cache *cache,
                           const char *client_id);

/* Restores a stored client record (model/client_record.h) into the entry
 * of client_id, created when absent, and marks it clean. Returns false
 * (with err) for a corrupt record or out of memory. Caller holds the
 * write lock. */
bool mz_client_cache_restore(struct mz_client_cache *cache,
                             const char *client_id, const void *bytes,
                             size_t len, char *err, size_t err_len);

/* Sets the tiers and region of client_id's entry from a stored attributes
 * document (creating the entry when create is true; otherwise an absent
 * client is left alone). Returns false (with err) for a bad document or
 * out of memory. Caller holds the write lock. */
bool mz_client_cache_restore_attributes(struct mz_client_cache *cache,
                                        const char *client_id, const char *doc,
                                        bool create, char *err, size_t err_len);

/* Notes that a client with stored state was not loaded at start (the
 * table was full): from now on an absent id may be in PostgreSQL.
 * Caller holds the write lock. */
void mz_client_cache_note_not_resident(struct mz_client_cache *cache);

/* Returns whether the table is at its limit (start-up loads no more).
 * Caller holds the lock. */
bool mz_client_cache_full(const struct mz_client_cache *cache);

/* Forgets every entry (a refused checkpoint: everything is rebuilt from
 * the log). Caller holds the write lock. */
void mz_client_cache_reset(struct mz_client_cache *cache);

/* Replaces the entry's default tier, tiers per brand and region (all
 * borrowed, copied; NULL clears). Returns false on allocation failure,
 * leaving the entry unchanged. */
bool mz_client_entry_set_attributes(struct mz_client_entry *entry,
                                    const char *tier,
                                    const struct mz_brand_tiers *tiers,
                                    const char *region);

#endif
