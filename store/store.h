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
 * Every call that changes something takes actor, the caller's key id
 * (borrowed, required; "cli" for `maisond keys`), and writes the audit
 * row of the change (store/sql/0006-audit.sql) in the change's own
 * transaction: both commit, or neither. Each such call also appends the
 * change's marker to the event log in that transaction, under the log
 * lock (log_changes.c), and sets *position (which may be NULL) to the
 * marker's log position: every node applies the change there
 * (docs/several-nodes.md).
 *
 * Interface routines, by the file that implements them:
 *  store.c
 *    mz_store_open / _close      - pool + migrations
 *    mz_store_conninfo           - what it was opened with
 *    mz_store_ping               - is the database reachable
 *    mz_store_set_node / _node   - which node's checkpoint this is
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
 *    mz_store_scan_client_events - one client's events
 *  log_changes.c
 *    mz_log_change_name / _parse - the markers of changes in the log
 *    mz_store_nodes_behind       - which other node has not applied a
 *                                  position yet
 *  log_retention.c
 *    mz_store_drop_old_events    - the log's retention
 *  audit_store.c
 *    mz_store_list_audit / _client_audit - the audit log
 *    mz_store_client_digest      - an erased client's name in it
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
 * docs[i]. All or nothing. Audit: one catalog.upsert row per distinct
 * id, detail {"batch_items": n}. */
enum mz_status mz_store_upsert_items(struct mz_store *store,
                                     const char *const *ids,
                                     const char *const *docs, size_t n,
                                     const char *actor, int64_t *position);
/* Deletes one item: flags it, so it keeps its place in the catalog order
 * (an upsert of the same id brings it back); MZ_ERR_NOT_FOUND when absent
 * or already deleted. */
enum mz_status mz_store_delete_item(struct mz_store *store, const char *id,
                                    const char *actor, int64_t *position);
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
                                  const char *doc, const char *actor,
                                  int64_t *version, int64_t *position);
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

/* Inserts key (a new key_id). Returns MZ_OK or the database error.
 * Audit: key.create, detail {"name", "roles", "brands"} (no secret). */
enum mz_status mz_store_put_key(struct mz_store *store,
                                const struct mz_store_key *key,
                                const char *actor, int64_t *position);
/* Marks key_id revoked; MZ_ERR_NOT_FOUND when absent or already revoked. */
enum mz_status mz_store_revoke_key(struct mz_store *store, const char *key_id,
                                   const char *actor, int64_t *position);
/* Calls fn for every key, revoked ones included, oldest first (fn returns
 * false to stop with MZ_ERR_INVALID). */
typedef bool (*mz_store_key_fn)(void *ctx, const struct mz_store_key *key);
enum mz_status mz_store_load_keys(struct mz_store *store, mz_store_key_fn fn,
                                  void *ctx);

/* ---- client attributes, erasure, read-back (client_store.c) -------- */

/* Stores client_id's attributes document doc (JSON text). Audit:
 * client.attributes (consent changes are audited with their marker in
 * the event log, event_writer.c). */
enum mz_status mz_store_put_client_attributes(struct mz_store *store,
                                              const char *client_id,
                                              const char *doc,
                                              const char *actor,
                                              int64_t *position);
typedef bool (*mz_store_attributes_fn)(void *ctx, const char *client_id,
                                       const char *doc);
enum mz_status mz_store_load_client_attributes(struct mz_store *store,
                                               mz_store_attributes_fn fn,
                                               void *ctx);

/* Deletes the client's events, persisted state (its impressions
 * included) and attributes in one transaction, which also rewrites the
 * client's audit rows to its digest (mz_store_client_digest) and records
 * the erasure (client.erase) under the digest: the id is nowhere left.
 * With applied_everywhere > 0 (the log position every node had applied),
 * returns MZ_ERR_CONFLICT, erasing nothing, when a row of the client is
 * after it: every node must have learned the rows an erasure deletes,
 * since the shared level learned from them (docs/several-nodes.md).
 * MZ_OK even when nothing existed (the request is still audited). */
enum mz_status mz_store_delete_client(struct mz_store *store,
                                      const char *client_id, const char *actor,
                                      int64_t applied_everywhere,
                                      int64_t *position);

/* ---- checkpoints of learned state (checkpoint_store.c) ------------- */

struct mz_client_blob {
    const char *client_id;
    const void *bytes; /* NULL: delete the client's persisted state */
    size_t len;
};

/* Paces a checkpoint's write (owned by the caller, borrowed for the
 * call): after_part(ctx, done, total) is called each time a part of it
 * reached PostgreSQL (a part of the global snapshot, a statement of
 * client states) with the bytes written so far and in all, and may
 * sleep to spread the write. */
struct mz_store_pace {
    void (*after_part)(void *ctx, size_t done, size_t total);
    void *ctx;
};

/* Writes a checkpoint as of log position seq: the global snapshot
 * (global NULL: the one stored is still current and is kept) first, in
 * parts of MZ_STORE_SNAPSHOT_PART_BYTES committed one by one, then, in
 * one transaction, the given client states and the checkpoint row that
 * names the new snapshot. Until that transaction commits the previous
 * checkpoint stands whole; the parts of a snapshot no checkpoint names
 * are deleted by the next one. pace may be NULL (no pauses). After a
 * crash, restart loads the last complete checkpoint and replays the log
 * after its seq. */
#define MZ_STORE_SNAPSHOT_PART_BYTES (1024 * 1024)
enum mz_status mz_store_write_checkpoint(struct mz_store *store, int64_t seq,
                                         const struct mz_client_blob *clients,
                                         size_t n_clients, const void *global,
                                         size_t global_len,
                                         const struct mz_store_pace *pace);
/* Adopts the newest checkpoint of any node as this node's when it is
 * another's (checkpoint_store.c), then reads this node's: *seq (0 when
 * none), the global snapshot into
 * a malloc'd *global (caller frees; NULL when none), and calls fn for
 * every persisted client state (fn may be NULL; fn returning false stops
 * with MZ_ERR_INVALID). All of it from one snapshot. */
typedef bool (*mz_store_client_fn)(void *ctx, const char *client_id,
                                   const void *bytes, size_t len);
enum mz_status mz_store_read_checkpoint(struct mz_store *store, int64_t *seq,
                                        void **global, size_t *global_len,
                                        mz_store_client_fn fn, void *ctx);

/* Deletes this node's checkpoint (its client states and global snapshot) in
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

/* What a marker row of the log changed (store/sql/0007-log-follow.sql);
 * MZ_CHANGE_NONE for an event, a consent marker included. */
enum mz_log_change {
    MZ_CHANGE_NONE = 0,
    MZ_CHANGE_ITEM_UPSERT, /* item_id; payload: the item's document */
    MZ_CHANGE_ITEM_DELETE, /* item_id */
    MZ_CHANGE_RULES,       /* brand, version; payload: the rule set */
    MZ_CHANGE_ATTRIBUTES,  /* client_id; payload: the attributes */
    MZ_CHANGE_ERASURE,     /* payload: the erased client's digest */
    MZ_CHANGE_KEYS,        /* a key was made or revoked */
    MZ_CHANGE_COUNT
};
/* Returns the log's type name of change ("change.item_upsert"). */
const char *mz_log_change_name(enum mz_log_change change);
/* Returns true and sets *change when name is a change marker's type. */
bool mz_log_change_parse(const char *name, enum mz_log_change *change);

/* Names the node whose checkpoint and client records this store reads
 * and writes (copied; at most MZ_NODE_ID_MAX bytes, set before the first
 * checkpoint call). */
#define MZ_NODE_ID_MAX 64
void mz_store_set_node(struct mz_store *store, const char *node_id);
const char *mz_store_node(const struct mz_store *store);

/* Sets *head to the last seq of the log (0: empty). */
enum mz_status mz_store_log_head(struct mz_store *store, int64_t *head);

/* Writes into first the name of a node other than this one that
 * recorded its applied position (the table nodes, written by each
 * node's event writer) within the last seen_within_s seconds and had not
 * applied position then, or "" when there is none. Returns MZ_OK or the
 * database error. */
enum mz_status mz_store_nodes_behind(struct mz_store *store, int64_t position,
                                     int seen_within_s,
                                     char first[MZ_NODE_ID_MAX + 1]);

/* One event as stored; strings borrowed. */
struct mz_event_record {
    const char *event_id;
    const char *client_id;
    const char *item_id; /* NULL for item-less events */
    const char *channel; /* NULL when absent */
    const char *brand;   /* NULL when absent; item-less events only */
    enum mz_event_type type;
    int64_t ts;                /* seconds since the epoch */
    double value;              /* 0 when absent */
    int32_t quantity;          /* 1 when absent */
    int32_t dwell_ms;          /* 0 when absent */
    int32_t item_index;        /* catalog index set by the caller, or -1 */
    int64_t seq;               /* out: log position; 0 if a duplicate */
    const char *actor;         /* a consent marker's caller (key id), whose
                                  client.consent audit row the writer adds in
                                  the same statement; NULL for other events
                                  and when read back */
    enum mz_log_change change; /* read back: a change marker, or none */
    const char *payload;       /* a change marker's document, or NULL */
    int64_t version;           /* a rules marker's version, else 0 */
    bool from_log; /* read from the log (not submitted on this node):
                      its client may have to be read back first */
};

/* Calls fn for every event with seq > after_seq in log order, streaming
 * (memory does not grow with the log). fn returns false to stop (MZ_OK).
 * Records passed to fn have item_index -1: the caller maps item_id. */
typedef bool (*mz_store_event_fn)(void *ctx, const struct mz_event_record *ev);
enum mz_status mz_store_scan_events(struct mz_store *store, int64_t after_seq,
                                    mz_store_event_fn fn, void *ctx);
/* Deletes the log's rows logged more than days ago whose seq every
 * node's checkpoint has passed (days <= 0: none), a bounded number per
 * call; sets *dropped to how many. Returns MZ_OK or the database error. */
enum mz_status mz_store_drop_old_events(struct mz_store *store, int days,
                                        int64_t *dropped);

/* Calls fn for every event of client_id in log order, streaming; same
 * rules as mz_store_scan_events. */
enum mz_status mz_store_scan_client_events(struct mz_store *store,
                                           const char *client_id,
                                           mz_store_event_fn fn, void *ctx);

/* ---- the audit log (audit_store.c) --------------------------------- */

#define MZ_AUDIT_KEY_BYTES 32
/* "digest:" and 64 hex digits, and a NUL. */
#define MZ_AUDIT_DIGEST_BYTES (7 + 64 + 1)

/* One audit row; strings borrowed for the duration of the callback. */
struct mz_audit_row {
    int64_t id;         /* position in the audit log, increasing */
    const char *at;     /* RFC 3339, UTC, microseconds */
    const char *key_id; /* who */
    const char *action; /* "catalog.upsert", ... */
    const char *target; /* item id, brand, key id, client id or digest */
    bool has_version;
    int64_t version;    /* rules version, consent marker's log position */
    const char *detail; /* JSON object text; NULL: none */
};
typedef bool (*mz_store_audit_fn)(void *ctx, const struct mz_audit_row *row);

/* Calls fn for at most limit rows with id > after_id made at or after
 * since_s (seconds since the epoch), in id order (fn returns false to
 * stop, MZ_OK). */
enum mz_status mz_store_list_audit(struct mz_store *store, int64_t after_id,
                                   int64_t since_s, int limit,
                                   mz_store_audit_fn fn, void *ctx);
/* Calls fn for at most limit of the client.* rows whose target is
 * client_id, in id order. */
enum mz_status mz_store_client_audit(struct mz_store *store,
                                     const char *client_id, int limit,
                                     mz_store_audit_fn fn, void *ctx);
/* Writes into out the name an erased client_id has in the audit log:
 * "digest:" and the hex keyed BLAKE2b-256 of the id under the
 * installation's audit key, the same on every node. */
void mz_store_client_digest(const struct mz_store *store, const char *client_id,
                            char out[MZ_AUDIT_DIGEST_BYTES]);

#endif
