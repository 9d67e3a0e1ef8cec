/*-------------------------------------------------------------------------
 * app.h
 *    The service state behind the API: the catalog and the model in
 *    memory, the clients, the brand rules, and the PostgreSQL store with
 *    its event-log writer and the checkpoints of learned state.
 *
 * Concurrency: one read/write lock guards the catalog, the model, the
 * client table and the rules. Request threads read under the read lock;
 * the event-log writer thread applies committed events, and catalog,
 * rules, attribute and client changes happen, under the write lock. So
 * events are learned in log order by one thread, and a reply to POST
 * /v1/events is sent only after its events are learned.
 *
 * Durability (DESIGN.md section 4): every checkpoint writes, in one
 * transaction, the dirty clients and the global level as of one log
 * position; a start loads the last checkpoint and replays the log after
 * it through the same code, so a killed server comes back to the state of
 * one that never died.
 *
 * Interface routines:
 *    mz_app_open / _close  - load everything, start the background
 *                            threads / final checkpoint, stop
 *    mz_app_checkpoint     - write the learned state now
 *    mz_app_ready          - can the service take traffic
 *    mz_app_stats          - figures for /metrics
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_APP_H
#define MZ_API_APP_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/catalog.h"
#include "model/client_table.h"
#include "model/model.h"
#include "model/rules.h"
#include "store/event_writer.h"
#include "store/store.h"

struct mz_app_config {
    const char *conninfo;            /* borrowed libpq connection string */
    int store_pool_size;             /* connections for request threads */
    struct mz_model_config model;
    int checkpoint_interval_s;       /* seconds between checkpoints */
    size_t writer_batch_rows;        /* most events in one transaction */
    size_t memory_limit;             /* bytes of clients kept in memory
                                        (api/client_cache.h); 0: none */
};

/* Counters read by /metrics; updated with relaxed atomics. */
struct mz_app_counters {
    atomic_uint_fast64_t events_accepted;
    atomic_uint_fast64_t events_duplicate;
    atomic_uint_fast64_t events_rejected;
    atomic_uint_fast64_t events_learned;
    atomic_uint_fast64_t consolidations;
    atomic_uint_fast64_t checkpoints;
    atomic_uint_fast64_t checkpoint_errors;
    atomic_uint_fast64_t db_errors;
    atomic_uint_fast64_t clients_evicted;
    atomic_uint_fast64_t clients_loaded;
};

/* A brand's current rule set. */
struct mz_brand_rules {
    char *brand;                     /* owned */
    int64_t version;
    struct mz_rules *rules;          /* owned */
};

struct mz_app {
    struct mz_store *store;          /* owned */
    struct mz_event_writer *writer;  /* owned */
    pthread_rwlock_t lock;           /* guards everything below */
    struct mz_catalog *catalog;      /* owned */
    struct mz_model *model;          /* owned */
    struct mz_client_table *clients; /* owned */
    struct mz_brand_rules *rules;    /* owned array */
    size_t n_rules;
    size_t max_clients;              /* clients kept in memory; 0: all */
    bool all_clients_resident;       /* no persisted client is out of
                                        memory: an absent id is new */
    uint64_t erasures;               /* clients erased so far: a client
                                        read back from the database while
                                        one was erased is read again */
    int64_t applied_seq;             /* last log position learned */
    int64_t checkpoint_seq;          /* log position of the last checkpoint */
    bool global_dirty;               /* global level changed since then */

    pthread_mutex_t checkpoint_mutex;/* one checkpoint or client erasure at
                                        a time */
    pthread_mutex_t cache_mutex;     /* the writer's fetch-then-learn of a
                                        batch vs. eviction */
    _Atomic int64_t last_checkpoint_ms; /* wall clock, for the flush lag */
    int checkpoint_interval_s;
    pthread_t checkpointer;
    pthread_mutex_t stop_mutex;
    pthread_cond_t stop_cond;
    bool stopping;                   /* guarded by stop_mutex */
    bool wake_checkpointer;          /* guarded by stop_mutex: too many
                                        clients, checkpoint and evict now */
    bool checkpointer_started;

    struct mz_app_counters counters;
};

/* Opens the store at cfg->conninfo (applying migrations), loads the
 * catalog, rules, client attributes and the last checkpoint, replays the
 * log after it, and starts the event-log writer and the checkpointer.
 * Returns the app (caller closes) or NULL with the reason in err. */
struct mz_app *mz_app_open(const struct mz_app_config *cfg, char *err,
                           size_t err_len);

/* Stops the writer (committing what is queued), writes a final
 * checkpoint, stops the checkpointer and frees everything; accepts NULL. */
void mz_app_close(struct mz_app *app);

/* Writes the dirty clients and the global level as of the last learned
 * event. On failure the state stays dirty for the next attempt. */
enum mz_status mz_app_checkpoint(struct mz_app *app);

/* Returns whether the service can take traffic; otherwise writes why into
 * reason. */
bool mz_app_ready(struct mz_app *app, char *reason, size_t reason_len);

struct mz_app_stats {
    size_t clients_in_memory;
    int32_t items;                   /* live catalog items */
    int64_t applied_seq;
    int64_t checkpoint_seq;
    double flush_lag_s;              /* since the last good checkpoint */
    size_t client_bytes;             /* resident bytes of one client */
    size_t max_clients;              /* 0: no limit */
    struct mz_event_writer_stats writer;
};
void mz_app_stats(struct mz_app *app, struct mz_app_stats *out);

/* Returns the rules of brand (borrowed; valid under the app lock), or
 * NULL when the brand has none. */
const struct mz_brand_rules *mz_app_brand_rules(const struct mz_app *app,
                                                const char *brand);

/* Applies committed events to the model (the writer's callback; also used
 * by the replay). Caller holds the write lock. */
void mz_app_apply_event(struct mz_app *app, const struct mz_event_record *ev);

/* Adds or replaces an item in memory (catalog + model row), taking
 * ownership of item. Caller holds the write lock. Returns MZ_OK or
 * MZ_ERR_NOMEM (item freed). */
enum mz_status mz_app_put_item(struct mz_app *app, struct mz_item *item);

/* Sets brand's rules in memory, taking ownership of rules. Caller holds
 * the write lock. */
enum mz_status mz_app_set_rules(struct mz_app *app, const char *brand,
                                int64_t version, struct mz_rules *rules);

#endif
