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

/* Runs stmt (borrowed; two text parameters, param and actor, borrowed)
 * on a pooled connection: the store's "change the row named param"
 * calls, whose statement also writes the audit row of actor (the
 * caller's key id). Returns MZ_OK, MZ_ERR_NOT_FOUND when it changed no
 * row, or the failure. */
enum mz_status mz_store_change_row(struct mz_store *store,
                                   const struct mz_pg_stmt *stmt,
                                   const char *param, const char *actor);

/* The head of the INSERT of an audit row (store/sql/0006-audit.sql),
 * which every change's statement runs in its own transaction, usually as
 * the last part of one statement: "WITH changed AS (UPDATE ... RETURNING
 * ...) " MZ_AUDIT_INSERT "SELECT ... FROM changed". */
#define MZ_AUDIT_INSERT                                                        \
    "INSERT INTO audit (key_id, action, target, version, detail) "

/* The audit key read or made at open (borrowed, MZ_AUDIT_KEY_BYTES). */
const unsigned char *mz_store_audit_key(const struct mz_store *store);

/* Reads the installation's audit key into key, making it first (random
 * bytes) when there is none; run under the migration lock (store.c).
 * Returns MZ_OK or the database failure. */
enum mz_status mz_store_audit_key_init(struct mz_pg_conn *c,
                                       unsigned char key[MZ_AUDIT_KEY_BYTES]);

#endif
