/*-------------------------------------------------------------------------
 * internal.h
 *    The service's state, shared by the files of api/service/ and by no
 *    one else (the handlers see only service.h).
 *
 * Concurrency: `lock` guards the catalog, the model, the client cache's
 * table and the rules. Request threads read under the read lock; the
 * event-log learner thread learns committed events, and catalog, rule,
 * attribute and client changes are applied, under the write lock. So
 * events are learned in log order by one thread.
 *
 * Lock order, outermost first: checkpoint_mutex, then catalog_write_mutex
 * or rules_write_mutex, then the client cache's hold mutex, then lock,
 * then a client's impressions_lock (one of the cache's striped mutexes,
 * which other clients share: never hold two). keys_write_mutex, then
 * keys_lock, are taken alone.
 *
 * Files:
 *    service.c       life cycle, readiness, figures
 *    startup.c       loading PostgreSQL's state and replaying the log
 *    learning.c      learning committed events, in log order
 *    changes.c       the log's change markers, applied in log order
 *    checkpoint.c    checkpoints and the checkpointer thread
 *    client_cache.c  the clients in memory (client_cache.h)
 *    events.c, items.c, rules.c, clients.c, recommend.c, profile.c,
 *    similar.c       the operations of service.h
 *    keys.c          API keys: authentication (and rate limits), create,
 *                    list, revoke
 *    audit.c         the audit log, a client's events (PostgreSQL only)
 *    retention.c     dropping the log's old rows (--retention-days)
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_SERVICE_INTERNAL_H
#define MZ_API_SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/service/client_cache.h"
#include "api/service/service.h"
#include "model/catalog.h"
#include "model/model.h"
#include "model/rules.h"
#include "store/event_writer.h"
#include "store/store.h"

/* Counters read by /metrics; updated with relaxed atomics. */
struct mz_service_counters {
    atomic_uint_fast64_t events_accepted;
    atomic_uint_fast64_t events_duplicate;
    atomic_uint_fast64_t events_rejected;
    atomic_uint_fast64_t events_learned;
    atomic_uint_fast64_t consolidations;
    atomic_uint_fast64_t checkpoints;
    atomic_uint_fast64_t checkpoint_errors;
    atomic_uint_fast64_t db_errors;
    atomic_uint_fast64_t log_rows_dropped;
};

/* A brand's current rule set. */
struct mz_brand_rules {
    char *brand; /* owned */
    int64_t version;
    struct mz_rules *rules; /* owned */
};

struct mz_key_limit; /* keys.c: a key's rate limit and bucket */

/* A live API key in memory; the secret only as its hash. */
struct mz_service_key {
    char key_id[MZ_KEY_ID_CHARS + 1];
    unsigned char hash[32]; /* crypto_generichash of the secret */
    char *name;             /* owned */
    unsigned roles;
    bool all_brands;
    char **brands; /* owned, n_brands */
    size_t n_brands;
    double rate_requests_per_s; /* its own; <= 0: none */
    int rate_burst;
    int64_t created_at;
    struct mz_key_limit *limit; /* owned: the limit in force, its bucket */
};

struct mz_service {
    struct mz_store *store;         /* owned */
    struct mz_event_writer *writer; /* owned */

    pthread_rwlock_t lock;           /* guards the five below; readers
                                        take it with mz_service_read_lock */
    _Atomic int readers_waiting;     /* threads blocked in
                                        mz_service_read_lock */
    struct mz_catalog *catalog;      /* owned */
    struct mz_model *model;          /* owned */
    struct mz_client_cache *clients; /* owned */
    struct mz_brand_rules *rules;    /* owned array of n_rules */
    size_t n_rules;
    int64_t applied_seq;    /* last log position learned */
    int64_t checkpoint_seq; /* log position of the last checkpoint */
    bool global_dirty;      /* global level changed since then */
    bool replaying;         /* start-up: learning may read clients
                               back from PostgreSQL */
    bool keys_changed;      /* the learner passed a keys marker: reload
                               them once the write lock is let go */

    pthread_mutex_t checkpoint_mutex;    /* one checkpoint, eviction or
                                            erasure at a time */
    pthread_mutex_t catalog_write_mutex; /* catalog writes in one order */
    pthread_mutex_t rules_write_mutex;   /* rule versions in one order */

    _Atomic int64_t last_checkpoint_ms; /* wall clock, for the flush lag */
    int checkpoint_interval_s;
    int checkpoint_spread_pct; /* of the interval: the write's pacing */
    int checkpoint_hurry;      /* guarded by stop_mutex: callers waiting
                                  for checkpoint_mutex; the write's
                                  pauses end while > 0 */
    pthread_t checkpointer;
    pthread_mutex_t stop_mutex;
    pthread_cond_t stop_cond;
    bool stopping;          /* guarded by stop_mutex */
    bool wake_checkpointer; /* guarded by stop_mutex: too many
                               clients, checkpoint and evict now */
    bool checkpointer_started;

    struct mz_service_counters counters;

    /* API keys (keys.c): their own lock, so authentication never waits
     * for learning. keys_write_mutex orders PostgreSQL and memory. */
    pthread_rwlock_t keys_lock;  /* guards the two below */
    struct mz_service_key *keys; /* owned array of n_keys */
    size_t n_keys;
    _Atomic size_t keys_ever; /* made, revoked ones included */
    pthread_mutex_t keys_write_mutex;
    double default_rate_per_s; /* a key without its own limit; <= 0:
                                  none */
    int default_rate_burst;
    int64_t ready_max_lag; /* mz_service_config's */
    int retention_days;    /* mz_service_config's; 0: keep the log */
    int retention_skipped; /* checkpointer only: passes to skip */
    bool retention_behind; /* checkpointer only: the last pass was full */
};

/* The audit log's name for who asks: by's key id, or "maisond" (the
 * daemon itself: the first start's admin key) when by is NULL. */
const char *mz_service_actor(const struct mz_principal *by);

/* Milliseconds since the epoch, now. */
int64_t mz_service_wall_ms(void);

/* Nanoseconds on the monotonic clock, for durations and deadlines. */
int64_t mz_service_monotonic_ns(void);

/* Takes svc->lock for reading (release with pthread_rwlock_unlock),
 * counted in readers_waiting while it blocks: the learner, the only
 * writer that holds the lock often, waits after a hold until the readers
 * that queued behind it are in (learning.c). */
void mz_service_read_lock(struct mz_service *svc);

/* Counts one database error. */
void mz_service_note_db_error(struct mz_service *svc);

/* Returns status, having counted it when it is a database error
 * (MZ_ERR_DB_UNAVAILABLE or MZ_ERR_DB). */
enum mz_status mz_service_count_store_error(struct mz_service *svc,
                                            enum mz_status status);

/* mz_client_cache_fetch, counting a database error. Call without the
 * lock. */
enum mz_status mz_service_fetch_client(struct mz_service *svc,
                                       const char *client_id, bool create);

/* ---- items.c --------------------------------------------------------- */

/* Adds or replaces an item in memory (catalog and model row), taking
 * item. Caller holds the write lock. Returns MZ_OK or MZ_ERR_NOMEM
 * (item freed). */
enum mz_status mz_service_apply_item(struct mz_service *svc,
                                     struct mz_item *item);

/* The id of every catalog index, for saving and loading the global
 * level: a malloc'd array of borrowed strings (caller frees the array),
 * or NULL. Caller holds the lock. */
const char **mz_service_catalog_ids(const struct mz_service *svc);

/* ---- rules.c --------------------------------------------------------- */

/* Returns brand's rules (borrowed, valid under the lock), or NULL. */
const struct mz_brand_rules *mz_service_brand_rules(
    const struct mz_service *svc, const char *brand);

/* Sets brand's rules in memory, taking rules. Caller holds the write
 * lock. */
enum mz_status mz_service_apply_rules(struct mz_service *svc, const char *brand,
                                      int64_t version, struct mz_rules *rules);

/* ---- signals.c ------------------------------------------------------- */

/* Whether what brand's events teach may reach other brands: true for
 * NULL (no brand), a brand without rules, or rules whose "signals" share
 * (the default). Caller holds the lock. */
bool mz_service_brand_shares(const struct mz_service *svc, const char *brand);

/* The memory that brand's reads see of entry: for a brand that keeps its
 * signals to itself, its private memory (NULL memory and facts when the
 * client has none: it never met the brand); otherwise (brand NULL too)
 * the shared memory and facts. Borrowed, valid under the lock. */
struct mz_brand_memory {
    const struct mz_client *memory;
    const struct mz_client_facts *facts;
};
struct mz_brand_memory mz_service_brand_memory(
    const struct mz_service *svc, const struct mz_client_entry *entry,
    const char *brand);

/* The facts that hold what happened to item (its brand's private facts
 * when that brand keeps its signals to itself, else the shared ones), or
 * NULL when that brand has no private memory of the client yet. Caller
 * holds the lock. */
struct mz_client_facts *mz_service_item_facts(const struct mz_service *svc,
                                              struct mz_client_entry *entry,
                                              int32_t item);

/* The facts of entry's private memories (entry NULL: none), which the
 * rules read beside the shared facts so that what a client bought or
 * dismissed at a brand that keeps its signals apart still protects them
 * (struct mz_select_request's other_facts). Returns an array the caller
 * frees (NULL when *n is 0), or NULL with *n > 0 when out of memory.
 * Caller holds the lock; the entries are valid under it. */
const struct mz_client_facts **mz_service_private_facts(
    const struct mz_client_entry *entry, size_t *n);

/* ---- learning.c ------------------------------------------------------ */

/* Learns one committed event (the writer's callback and the replay).
 * Caller holds the write lock. */
void mz_service_learn_event(struct mz_service *svc,
                            const struct mz_event_record *ev);

/* The event-log writer's callback: learns a committed batch in log
 * order, taking the write lock in slices. */
void mz_service_on_events_committed(void *ctx,
                                    const struct mz_event_record *const *events,
                                    size_t n);

/* ---- changes.c ------------------------------------------------------- */

/* How long a write waits for its own change to be applied here, and a
 * read with after= for the position it names. */
#define MZ_SERVICE_CHANGE_WAIT_MS 10000
#define MZ_SERVICE_AFTER_WAIT_MS  2000

/* Applies the change marker ev (ev->change set) in memory; passed over
 * during the start-up replay. Caller holds the write lock. */
void mz_service_apply_change(struct mz_service *svc,
                             const struct mz_event_record *ev);

/* Waits until this node has applied the log up to position (a change it
 * wrote; 0: nothing to wait for). Returns MZ_OK, or MZ_ERR_NOT_CAUGHT_UP
 * (the change is stored, and is applied once the log is read). */
enum mz_status mz_service_wait_change(struct mz_service *svc, int64_t position);

/* ---- events.c -------------------------------------------------------- */

/* Holds ids[0..n-1] (borrowed) in memory and reads back those that are
 * not. Returns MZ_OK with the hold taken (release it with
 * mz_client_cache_release), or the failure with no hold. */
enum mz_status mz_service_hold_clients(struct mz_service *svc, const char **ids,
                                       size_t n);

/* Appends records[0..n-1] to the log once every client they name is in
 * memory (read back when evicted) and held there, and waits until they
 * are learned. Returns MZ_OK or the reason nothing was accepted. */
enum mz_status mz_service_append_events(struct mz_service *svc,
                                        struct mz_event_record *records,
                                        size_t n);

/* ---- rank.c ---------------------------------------------------------- */

/* Selects into *sel the sr->k best items for memory (borrowed; NULL: not
 * personalised) with context_item (-1: none) at now under the rules of
 * sr (borrowed; its only_items are this call's, and are cleared before
 * it returns): among the model's candidates first, over the whole
 * catalog scored when they leave fewer than k items or sr counts every
 * rule (skip_counts false). Returns what mz_rules_select returns, or
 * MZ_ERR_NOMEM. Caller holds the lock (read is enough) and, for a
 * client with an entry, its impressions_lock. */
enum mz_status mz_service_rank(struct mz_service *svc,
                               const struct mz_client *memory,
                               int32_t context_item, int64_t now,
                               struct mz_select_request *sr,
                               struct mz_select_result *sel);

/* ---- similar.c ------------------------------------------------------- */

/* The catalog indices of ids[0..n-1] (unknown ids left out) followed by
 * extra (-1: none) into out (room for n + 1); returns how many. Caller
 * holds the lock. */
size_t mz_service_exclude_indices(const struct mz_service *svc,
                                  const char *const *ids, size_t n,
                                  int32_t extra, int32_t *out);

/* ---- checkpoint.c ---------------------------------------------------- */

/* The checkpointer thread: a checkpoint every interval (or when woken),
 * then an eviction. */
void *mz_service_checkpointer_main(void *arg);

/* Wakes the checkpointer early (the client cache grew past its limit). */
void mz_service_wake_checkpointer(void *svc);

/* Announces (waiting true) a caller about to wait for checkpoint_mutex,
 * so a paced write in progress ends its pauses, and withdraws it (false)
 * once the caller holds the mutex. */
void mz_service_hurry_checkpoint(struct mz_service *svc, bool waiting);

/* ---- retention.c ----------------------------------------------------- */

/* The checkpointer, after a checkpoint: now and then drops the log's
 * rows older than retention_days that every node's checkpoint passed. */
void mz_service_retention_pass(struct mz_service *svc);

/* ---- keys.c ---------------------------------------------------------- */

/* Loads every live key from PostgreSQL into memory. */
enum mz_status mz_service_load_keys(struct mz_service *svc, char *err,
                                    size_t err_len);

/* Reloads the keys from PostgreSQL (the checkpointer, after each
 * checkpoint: keys made or revoked by `maisond keys`); on failure the
 * keys in memory stay in force. */
void mz_service_reload_keys(struct mz_service *svc);

/* Frees the keys in memory. */
void mz_service_free_keys(struct mz_service *svc);

/* ---- startup.c ------------------------------------------------------- */

/* Loads the catalog, rules, the last checkpoint and the client
 * attributes, then replays the log after the checkpoint. */
enum mz_status mz_service_load_state(struct mz_service *svc, char *err,
                                     size_t err_len);

#endif
