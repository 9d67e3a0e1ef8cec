/*-------------------------------------------------------------------------
 * store.h
 *    PostgreSQL: the source of truth (event log, catalog, brand rules,
 *    client attributes, checkpoints of the learned state).
 *
 * A struct mz_store is a small pool of connections, safe to call from any
 * thread; each call takes a connection, reconnects it when it was lost,
 * and returns MZ_ERR_DB_UNAVAILABLE when PostgreSQL cannot be reached (the
 * caller may retry later; nothing was written). Statements are prepared by
 * name on each connection. The event log has its own writer thread (see
 * event_writer.h). store/ knows nothing of HTTP.
 *
 * Ownership: strings and buffers passed in are borrowed; blobs handed to
 * callbacks are borrowed for the duration of the callback.
 *
 * Interface routines, by the file that implements them:
 *  store.c
 *    mz_store_open / _close      - pool + migrations
 *    mz_store_conninfo           - what it was opened with
 *    mz_store_ping               - is the database reachable
 *  catalog_store.c
 *    mz_store_upsert_items / _delete_item / _load_items - catalog
 *  rules_store.c
 *    mz_store_put_rules / _load_rules - brand rule sets, versioned
 *  keys_store.c
 *    mz_store_put_key / _revoke_key / _load_keys - API keys (hashes)
 *  client_store.c
 *    mz_store_put_client_attributes / _load_client_attributes
 *    mz_store_delete_client      - erase every trace of a client
 *    mz_store_load_client / _client_record_clear
 *                                - one client's state and attributes
 *  checkpoint_store.c
 *    mz_store_write_checkpoint / _read_checkpoint - learned state
 *    mz_store_discard_checkpoint - forget it (the log rebuilds it)
 *  event_scan.c
 *    mz_store_scan_events        - the log after a sequence number
 *-------------------------------------------------------------------------
 */
#ifndef MZ_STORE_H
#define MZ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/event.h"
#include "model/status.h"

struct mz_store;

/* Connects (conninfo is a libpq connection string), applies pending
 * migrations from store/sql (compiled in) and returns the pool, or NULL
 * with the reason in err (which never holds the conninfo's password).
 * pool_size connections are opened lazily. */
struct mz_store *mz_store_open(const char *conninfo, int pool_size, char *err,
                               size_t err_len);
void mz_store_close(struct mz_store *store);
/* The conninfo the store was opened with (borrowed). */
const char *mz_store_conninfo(const struct mz_store *store);

/* Returns MZ_OK when a trivial query succeeds, else
 * MZ_ERR_DB_UNAVAILABLE. */
enum mz_status mz_store_ping(struct mz_store *store);

/* ---- catalog (catalog_store.c) ------------------------------------- */

/* Upserts n items in one transaction: ids[i] with its API JSON text
 * docs[i]. All or nothing. */
enum mz_status mz_store_upsert_items(struct mz_store *store,
                                     const char *const *ids,
                                     const char *const *docs, size_t n);
/* Deletes one item: flags it, so it keeps its place in the catalog order
 * (an upsert of the same id brings it back); MZ_ERR_NOT_FOUND when absent
 * or already deleted. */
enum mz_status mz_store_delete_item(struct mz_store *store, const char *id);
/* Calls fn for every item, deleted ones included (deleted true), in
 * insertion order (the order that assigns the same catalog indices at
 * every start). fn returns false to stop with MZ_ERR_INVALID. */
typedef bool (*mz_store_item_fn)(void *ctx, const char *id, const char *doc,
                                 bool deleted);
enum mz_status mz_store_load_items(struct mz_store *store, mz_store_item_fn fn,
                                   void *ctx);

/* ---- brand rules (rules_store.c) ----------------------------------- */

/* Stores doc (JSON text) as the next version of brand's rules; sets
 * *version (1, 2, ...). */
enum mz_status mz_store_put_rules(struct mz_store *store, const char *brand,
                                  const char *doc, int64_t *version);
/* Calls fn with the current version of every brand's rules (fn returns
 * false to stop with MZ_ERR_INVALID). */
typedef bool (*mz_store_rules_fn)(void *ctx, const char *brand, int64_t version,
                                  const char *doc);
enum mz_status mz_store_load_rules(struct mz_store *store, mz_store_rules_fn fn,
                                   void *ctx);

/* ---- API keys (keys_store.c) --------------------------------------- */

/* One key as stored; strings borrowed. roles and brands are lines: names
 * joined by '\n' (brands "*": every brand). The secret is never here,
 * only secret_hash (hex). */
struct mz_store_key {
    const char *key_id;
    const char *name;
    const char *secret_hash;
    const char *roles;
    const char *brands;
    double rate_requests_per_s; /* <= 0: none given */
    int rate_burst;
    int64_t created_at; /* seconds since the epoch */
    bool revoked;       /* load only */
};

/* Inserts key (a new key_id). Returns MZ_OK or the database error. */
enum mz_status mz_store_put_key(struct mz_store *store,
                                const struct mz_store_key *key);
/* Marks key_id revoked; MZ_ERR_NOT_FOUND when absent or already revoked. */
enum mz_status mz_store_revoke_key(struct mz_store *store, const char *key_id);
/* Calls fn for every key, revoked ones included, oldest first (fn returns
 * false to stop with MZ_ERR_INVALID). */
typedef bool (*mz_store_key_fn)(void *ctx, const struct mz_store_key *key);
enum mz_status mz_store_load_keys(struct mz_store *store, mz_store_key_fn fn,
                                  void *ctx);

/* ---- client attributes, erasure, read-back (client_store.c) -------- */

enum mz_status mz_store_put_client_attributes(struct mz_store *store,
                                              const char *client_id,
                                              const char *doc);
typedef bool (*mz_store_attributes_fn)(void *ctx, const char *client_id,
                                       const char *doc);
enum mz_status mz_store_load_client_attributes(struct mz_store *store,
                                               mz_store_attributes_fn fn,
                                               void *ctx);

/* Deletes the client's events, persisted state (its impressions
 * included) and attributes in one transaction. MZ_OK even when nothing existed.
 */
enum mz_status mz_store_delete_client(struct mz_store *store,
                                      const char *client_id);

/* ---- checkpoints of learned state (checkpoint_store.c) ------------- */

struct mz_client_blob {
    const char *client_id;
    const void *bytes; /* NULL: delete the client's persisted state */
    size_t len;
};

/* In one transaction: upserts the given client states and replaces the
 * global snapshot (global NULL: the one stored is still current and is
 * kept), all as of log position seq. After a crash, restart
 * loads the last complete checkpoint and replays the log after its seq. */
enum mz_status mz_store_write_checkpoint(struct mz_store *store, int64_t seq,
                                         const struct mz_client_blob *clients,
                                         size_t n_clients, const void *global,
                                         size_t global_len);
/* Reads the last checkpoint: *seq (0 when none), the global snapshot into
 * a malloc'd *global (caller frees; NULL when none), and calls fn for
 * every persisted client state (fn may be NULL; fn returning false stops
 * with MZ_ERR_INVALID). All of it from one snapshot. */
typedef bool (*mz_store_client_fn)(void *ctx, const char *client_id,
                                   const void *bytes, size_t len);
enum mz_status mz_store_read_checkpoint(struct mz_store *store, int64_t *seq,
                                        void **global, size_t *global_len,
                                        mz_store_client_fn fn, void *ctx);

/* Deletes the checkpoint (every client state and the global snapshot) in
 * one statement, so that the next start-up replays the whole log: for a
 * checkpoint this model cannot read (written under another model shape
 * or format). The log is kept. Returns MZ_OK or the database error. */
enum mz_status mz_store_discard_checkpoint(struct mz_store *store);

/* One client's persisted state (as the last checkpoint wrote it) and
 * attributes document, for a client that is not in memory. */
struct mz_store_client_record {
    void *state; /* owned; NULL: no persisted state */
    size_t state_len;
    char *attributes; /* owned JSON text; NULL: none stored */
};
/* Reads client_id's record into *out (cleared first; free it with
 * mz_store_client_record_clear). MZ_OK with both NULL when the client
 * has neither. */
enum mz_status mz_store_load_client(struct mz_store *store,
                                    const char *client_id,
                                    struct mz_store_client_record *out);
void mz_store_client_record_clear(struct mz_store_client_record *record);
/* ---- the event log (event_scan.c; writing: event_writer.h) --------- */

/* One event as stored; strings borrowed. */
struct mz_event_record {
    const char *event_id;
    const char *client_id;
    const char *item_id; /* NULL for item-less events */
    const char *channel; /* NULL when absent */
    const char *brand;   /* NULL when absent; item-less events only */
    enum mz_event_type type;
    int64_t ts;         /* seconds since the epoch */
    double value;       /* 0 when absent */
    int32_t quantity;   /* 1 when absent */
    int32_t dwell_ms;   /* 0 when absent */
    int32_t item_index; /* catalog index set by the caller, or -1 */
    int64_t seq;        /* out: log position; 0 if a duplicate */
};

/* Calls fn for every event with seq > after_seq in log order, streaming
 * (memory does not grow with the log). fn returns false to stop (MZ_OK).
 * Records passed to fn have item_index -1: the caller maps item_id. */
typedef bool (*mz_store_event_fn)(void *ctx, const struct mz_event_record *ev);
enum mz_status mz_store_scan_events(struct mz_store *store, int64_t after_seq,
                                    mz_store_event_fn fn, void *ctx);

#endif
