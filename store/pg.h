/*-------------------------------------------------------------------------
 * pg.h
 *    libpq helpers shared by the files of store/ (not used outside it).
 *
 * A struct mz_pg_conn wraps one PGconn with the set of statements already
 * prepared on it, so each statement is prepared by name where it is first
 * used and again after a reconnect. Parameters that carry many rows travel
 * as binary arrays (struct mz_pg_array) and are unnested by the server,
 * so one statement inserts a whole batch.
 *
 * Interface routines:
 *    mz_pg_connect / mz_pg_conn_reset - open, drop a connection
 *    mz_pg_exec                        - run a named statement
 *    mz_pg_stream                      - ... row by row
 *    mz_pg_exec_simple                 - run literal SQL (no parameters)
 *    mz_pg_transaction                 - run a body, retrying
 *                                        serialization failures
 *    mz_pg_array_*                     - build binary array parameters
 *    mz_migrations[]                   - store/sql/NNNN-name.sql, compiled in
 *-------------------------------------------------------------------------
 */
#ifndef MZ_STORE_PG_H
#define MZ_STORE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/status.h"

/* Element type OIDs, as fixed in PostgreSQL's pg_type.dat. */
#define MZ_PG_OID_BYTEA  17
#define MZ_PG_OID_INT8   20
#define MZ_PG_OID_INT4   23
#define MZ_PG_OID_TEXT   25
#define MZ_PG_OID_FLOAT8 701

/* How long a connection attempt may take before the database counts as
 * unavailable: long enough for a busy server, short enough that a request
 * does not hang on a dead one. */
#define MZ_PG_CONNECT_TIMEOUT_S "3"

/* One migration file: version is its NNNN prefix. */
struct mz_migration {
    int version;
    const char *name;
    const char *sql;
};
/* Generated from store/sql/NNNN-name.sql at build time, sorted by version. */
extern const struct mz_migration mz_migrations[];
extern const size_t mz_migrations_count;

/* A named statement. id indexes the per-connection "prepared" bit set, so
 * it must be unique within one connection's statements and below 64. */
struct mz_pg_stmt {
    int id;
    const char *name;
    const char *sql;
    int n_params;
};

struct mz_pg_conn {
    PGconn *conn;                /* owned; NULL when not connected */
    uint64_t prepared;           /* bit id set: stmt prepared on conn */
    char sqlstate[6];            /* of the last failure, "" if none */
    char message[256];           /* of the last failure, "" if none */
    unsigned long rows_streamed; /* rows handed out by mz_pg_stream */
    bool lost;                   /* the connection broke: reconnect */
    bool maybe_committed;        /* it broke during a statement that
                                    may have committed (an autocommit
                                    statement, or COMMIT) */
};

/* Opens a connection for conninfo with a connect timeout (unless conninfo
 * sets its own). Returns MZ_OK, or MZ_ERR_DB_UNAVAILABLE with libpq's
 * message in err, where every spelling of conninfo's password is masked
 * as "***" (libpq may quote a conninfo it cannot parse). Any previous
 * connection of c is closed first. */
enum mz_status mz_pg_connect(struct mz_pg_conn *c, const char *conninfo,
                             char *err, size_t err_len);
/* Closes the connection (if any) and forgets what was prepared on it. */
void mz_pg_conn_reset(struct mz_pg_conn *c);
/* Whether c holds a connection that libpq still believes is good and
 * that no failure showed broken. */
bool mz_pg_conn_ok(const struct mz_pg_conn *c);
/* Whether c's idle connection is still alive: mz_pg_conn_ok, and what
 * the server sent while it was idle (a restarting server's farewell, the
 * end of the stream) leaves it good. Costs a poll(2), no round trip.
 * For a connection taken out of a pool; a dead one is marked lost. */
bool mz_pg_conn_alive(struct mz_pg_conn *c);

/* Runs stmt (preparing it first if needed) with text or binary
 * parameters. On MZ_OK *res (caller PQclear's) holds the tuples or command
 * result; on failure *res is NULL and the status says whether the database
 * was unreachable (MZ_ERR_DB_UNAVAILABLE: c->lost is set, and
 * c->maybe_committed when the statement ran outside a transaction and
 * may have taken effect) or answered with an error (MZ_ERR_DB, SQLSTATE
 * in c->sqlstate). res may be NULL to discard. */
enum mz_status mz_pg_exec(struct mz_pg_conn *c, const struct mz_pg_stmt *stmt,
                          const char *const *values, const int *lengths,
                          const int *formats, int result_format,
                          PGresult **res);
/* Runs stmt in single-row mode and calls row(ctx, res) for each row as
 * it arrives, so memory does not grow with the result. When row returns
 * false the query is cancelled and MZ_ERR_CONFLICT is returned (the
 * caller maps it); otherwise the same failure rules as mz_pg_exec. */
typedef bool (*mz_pg_row_fn)(void *ctx, const PGresult *res);
enum mz_status mz_pg_stream(struct mz_pg_conn *c, const struct mz_pg_stmt *stmt,
                            const char *const *values, const int *lengths,
                            const int *formats, int result_format,
                            mz_pg_row_fn row, void *ctx);
/* Runs literal SQL through the simple protocol; same failure rules. */
enum mz_status mz_pg_exec_simple(struct mz_pg_conn *c, const char *sql);

/* Maps a failed connection or result to a status, recording SQLSTATE.
 * A failure that shows the connection broken (libpq reports it with no
 * SQLSTATE, or the server's class 08 / 57P0x) sets c->lost and gives
 * MZ_ERR_DB_UNAVAILABLE. */
enum mz_status mz_pg_failure(struct mz_pg_conn *c, const PGresult *res);

/* Runs body inside BEGIN ISOLATION LEVEL isolation ... COMMIT. When the
 * body or the commit fails with a serialization failure or a deadlock, the
 * transaction is rolled back and run again, up to a bounded number of
 * attempts; any other failure rolls back and is returned. */
typedef enum mz_status (*mz_pg_tx_body)(struct mz_pg_conn *c, void *ctx);
enum mz_status mz_pg_transaction(struct mz_pg_conn *c, const char *isolation,
                                 mz_pg_tx_body body, void *ctx);

/* A one-dimensional array in PostgreSQL's binary send format, built
 * element by element. A failed allocation is remembered and reported by
 * mz_pg_array_finish, so callers check once. */
struct mz_pg_array {
    char *buf; /* owned */
    size_t len;
    size_t cap;
    uint32_t n;
    uint32_t elem_oid;
    bool has_null;
    bool failed;
};

void mz_pg_array_init(struct mz_pg_array *a, uint32_t elem_oid);
void mz_pg_array_add_bytes(struct mz_pg_array *a, const void *bytes,
                           size_t len);
/* s NULL adds a NULL element. */
void mz_pg_array_add_text(struct mz_pg_array *a, const char *s);
void mz_pg_array_add_int8(struct mz_pg_array *a, int64_t v);
void mz_pg_array_add_int4(struct mz_pg_array *a, int32_t v);
void mz_pg_array_add_float8(struct mz_pg_array *a, double v);
/* Completes the header; returns false when an allocation failed. The
 * bytes stay owned by a (a->buf, a->len). */
bool mz_pg_array_finish(struct mz_pg_array *a);
/* Frees the buffer; the array may be initialised again. */
void mz_pg_array_release(struct mz_pg_array *a);

/* Decodes a binary int8 result column (network byte order). */
int64_t mz_pg_get_int8(const char *p);

#endif
