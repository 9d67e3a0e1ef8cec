/*-------------------------------------------------------------------------
 * store_internal.h
 *    What the files behind store.h share (not used outside store/): the
 *    pool's one entry point, and the ids of every statement run on a
 *    pooled connection.
 *
 * Each file of the store keeps its statements next to the code that runs
 * them (a static const struct mz_pg_stmt each); their ids, which index
 * the per-connection "prepared" bit set (store/pg.h), are all listed
 * here so that two files can never pick the same one. The event writer
 * runs on a connection of its own and numbers its statements itself.
 *
 * Interface routines:
 *    mz_store_with_conn - run an operation on a pooled connection
 *    mz_store_change_row - one statement that changes the row it names
 *    mz_store_audit_key / _audit_key_init - the installation's audit key
 *    MZ_AUDIT_INSERT     - the head of every audit row's INSERT
 *-------------------------------------------------------------------------
 */
#ifndef MZ_STORE_INTERNAL_H
#define MZ_STORE_INTERNAL_H

#include "model/status.h"
#include "store/pg.h"
#include "store/store.h"

/* Rows per statement when a call carries many (catalog upserts,
 * checkpoints): large enough to amortise the round trip, small enough to
 * stay far below PostgreSQL's 1 GB limit on one parameter. */
#define MZ_STORE_CHUNK_ROWS 2000

enum mz_store_stmt_id {
    MZ_STMT_PING,         /* store.c */
    MZ_STMT_ITEMS_UPSERT, /* catalog_store.c */
    MZ_STMT_ITEM_DELETE,
    MZ_STMT_ITEMS_LOAD,
    MZ_STMT_RULES_LOCK, /* rules_store.c */
    MZ_STMT_RULES_PUT,
    MZ_STMT_RULES_LOAD,
    MZ_STMT_KEY_PUT, /* keys_store.c */
    MZ_STMT_KEY_REVOKE,
    MZ_STMT_KEYS_LOAD,
    MZ_STMT_ATTRIBUTES_PUT, /* client_store.c */
    MZ_STMT_ATTRIBUTES_LOAD,
    MZ_STMT_CLIENT_DELETE,
    MZ_STMT_CLIENT_LOAD,
    MZ_STMT_STATES_UPSERT, /* checkpoint_store.c */
    MZ_STMT_STATES_DELETE,
    MZ_STMT_CHECKPOINT_PUT,
    MZ_STMT_CHECKPOINT_GET,
    MZ_STMT_CHECKPOINT_DISCARD,
    MZ_STMT_STATES_LOAD,
    MZ_STMT_EVENTS_SCAN, /* event_scan.c */
    MZ_STMT_CLIENT_EVENTS,
    MZ_STMT_AUDIT_KEY, /* audit_store.c */
    MZ_STMT_AUDIT_LIST,
    MZ_STMT_AUDIT_CLIENT,
    MZ_STMT_LOG_LOCK, /* log_changes.c */
    MZ_STMT_LOG_MARKER,
    MZ_STMT_NODES_BEHIND,
    MZ_STMT_ITEM_MARKERS, /* catalog_store.c */
    MZ_STMT_ERASURE_LOCK, /* client_store.c */
    MZ_STMT_CLIENT_ROWS_AFTER,
    MZ_STMT_LOG_HEAD,         /* log_changes.c */
    MZ_STMT_CHECKPOINT_ADOPT, /* checkpoint_store.c */
    MZ_STMT_CHECKPOINT_NEWEST,
    MZ_STMT_STATES_CLEAR,
    MZ_STMT_SNAPSHOT_ID,
    MZ_STMT_SNAPSHOT_PART_PUT,
    MZ_STMT_SNAPSHOT_PARTS_GET,
    MZ_STMT_SNAPSHOT_PARTS_PRUNE,
    MZ_STMT_LOG_RETENTION, /* log_retention.c */
    MZ_STMT_COUNT
};
_Static_assert(MZ_STMT_COUNT <= 64, "statement ids index a 64-bit set");

/* One store call's work on a connection: runs statements on c and
 * returns their status. */
typedef enum mz_status (*mz_store_op)(struct mz_pg_conn *c, void *ctx);

/* Runs op(c, ctx) on a connection of the pool, connecting it first if
 * needed (and when the pooled one died while idle: the server restarted
 * meanwhile), and returns what op returns. When the connection breaks
 * under op, op runs once more on a fresh connection, unless it had
 * already handed rows out (mz_pg_stream) or a statement that commits on
 * its own was on the wire (c->maybe_committed: it may have been applied).
 * MZ_ERR_DB_UNAVAILABLE when PostgreSQL cannot be reached. Blocks while
 * every connection is busy. */
enum mz_status mz_store_with_conn(struct mz_store *store, mz_store_op op,
                                  void *ctx);

/* One marker row: what changed (strings borrowed; NULL: none). */
struct mz_log_marker {
    enum mz_log_change change;
    const char *client_id; /* NULL: '' (a change of no client) */
    const char *item_id;
    const char *brand;
    const char *payload;
    int64_t version; /* 0: none */
};
/* Appends marker m inside a mz_store_log_transaction body; sets *seq
 * (may be NULL) to its log position. */
enum mz_status mz_store_append_marker(struct mz_pg_conn *c,
                                      const struct mz_log_marker *m,
                                      int64_t *seq);

/* Runs stmt (borrowed; two text parameters, param and actor, borrowed)
 * on a pooled connection: the store's "change the row named param"
 * calls, whose statement also writes the audit row of actor (the
 * caller's key id), in a log transaction that appends marker when it
 * changed a row (*position, may be NULL, its seq). Returns MZ_OK,
 * MZ_ERR_NOT_FOUND when it changed no
 * row, or the failure. */
enum mz_status mz_store_change_row(struct mz_store *store,
                                   const struct mz_pg_stmt *stmt,
                                   const char *param, const char *actor,
                                   const struct mz_log_marker *marker,
                                   int64_t *position);

/* The head of the INSERT of an audit row (store/sql/0006-audit.sql),
 * which every change's statement runs in its own transaction, usually as
 * the last part of one statement: "WITH changed AS (UPDATE ... RETURNING
 * ...) " MZ_AUDIT_INSERT "SELECT ... FROM changed". */
#define MZ_AUDIT_INSERT                                                        \
    "INSERT INTO audit (key_id, action, target, version, detail) "

/* The log lock (log_changes.c): every transaction that appends to the
 * event log holds it from before its rows take their seq until it
 * commits, so commit order is log order. */
#define MZ_LOG_LOCK_SQL "SELECT pg_advisory_xact_lock(7308604759054164273)"
/* Erasures and checkpoints: an erasure holds it exclusively, a
 * checkpoint's write shared, so a checkpoint's statements see every
 * erasure that committed before them (client_store.c). */
#define MZ_ERASURE_LOCK_KEY "7308604759054164274"
#define MZ_ERASURE_LOCK_SHARED_SQL                                             \
    "SELECT pg_advisory_xact_lock_shared(" MZ_ERASURE_LOCK_KEY ")"

/* Runs body in a READ COMMITTED transaction that takes the log lock
 * first (mz_pg_transaction's retries included). */
enum mz_status mz_store_log_transaction(struct mz_pg_conn *c,
                                        mz_pg_tx_body body, void *ctx);

/* The columns of one log row, as mz_store_event_from_row reads them. */
#define MZ_EVENT_COLUMNS                                                       \
    "SELECT seq, event_id, client_id, item_id, type,"                          \
    " extract(epoch FROM ts)::bigint, channel, value, quantity, dwell_ms,"     \
    " brand, payload, version FROM events "
/* Reads row of res (MZ_EVENT_COLUMNS) into *ev, strings borrowed from
 * res, from_log set. Returns false for a type this maisond does not know
 * (written by a newer one). */
bool mz_store_event_from_row(const PGresult *res, int row,
                             struct mz_event_record *ev);

/* The audit key read or made at open (borrowed, MZ_AUDIT_KEY_BYTES). */
const unsigned char *mz_store_audit_key(const struct mz_store *store);

/* Reads the installation's audit key into key, making it first (random
 * bytes) when there is none; run under the migration lock (store.c).
 * Returns MZ_OK or the database failure. */
enum mz_status mz_store_audit_key_init(struct mz_pg_conn *c,
                                       unsigned char key[MZ_AUDIT_KEY_BYTES]);

#endif
