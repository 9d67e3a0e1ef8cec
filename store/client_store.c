/*-------------------------------------------------------------------------
 * client_store.c
 *    What PostgreSQL holds of one client outside the event log and the
 *    checkpoint: attributes (tier, region, consent), erasure of every
 *    trace, and the read-back of one client's record for the bounded
 *    client cache.
 *
 * Interface routines (store.h): mz_store_put_client_attributes,
 * mz_store_load_client_attributes, mz_store_delete_client,
 * mz_store_load_client, mz_store_client_record_clear.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"
#include "store/store.h"
#include "store/store_internal.h"

static const struct mz_pg_stmt attributes_put_stmt = {
    MZ_STMT_ATTRIBUTES_PUT, "mz_attributes_put",
    "WITH a AS (INSERT INTO client_attributes (client_id, doc) "
    "VALUES ($1, $2::jsonb) ON CONFLICT (client_id) DO UPDATE "
    "SET doc = EXCLUDED.doc, updated_at = now() RETURNING "
    "client_id) " MZ_AUDIT_INSERT
    "SELECT $3, 'client.attributes', client_id, NULL, NULL "
    "FROM a",
    3};
static const struct mz_pg_stmt attributes_load_stmt = {
    MZ_STMT_ATTRIBUTES_LOAD, "mz_attributes_load",
    "SELECT client_id, doc::text FROM client_attributes "
    "ORDER BY client_id",
    0};
/* One statement is one transaction: every trace goes, or none. The
 * client's impressions are in its state. Its audit rows keep what was
 * done, but under its digest ($2), and the erasure is recorded under the
 * digest too ($3 the actor). */
static const struct mz_pg_stmt client_delete_stmt = {
    MZ_STMT_CLIENT_DELETE, "mz_client_delete",
    "WITH e AS (DELETE FROM events WHERE client_id = $1),"
    " s AS (DELETE FROM client_state WHERE client_id = $1),"
    " a AS (DELETE FROM client_attributes WHERE client_id = $1),"
    " r AS (UPDATE audit SET target = $2"
    " WHERE target = $1 AND action LIKE 'client.%'),"
    " t AS (INSERT INTO erasures (digest, seq) VALUES ($2, $4::bigint)"
    " ON CONFLICT (digest) DO UPDATE SET seq = EXCLUDED.seq,"
    " erased_at = now()) " MZ_AUDIT_INSERT
    "VALUES ($3, 'client.erase', $2, NULL, NULL)",
    4};
/* Held exclusively by an erasure, shared by a checkpoint's write
 * (checkpoint_store.c): a checkpoint statement that began before the
 * erasure committed could otherwise write the client's record back. */
/* A row of the client after the position every node had applied: the
 * erasure must wait for it (mz_store_delete_client). */
static const struct mz_pg_stmt client_rows_after_stmt = {
    MZ_STMT_CLIENT_ROWS_AFTER, "mz_client_rows_after",
    "SELECT 1 FROM events WHERE client_id = $1 AND seq > $2::bigint LIMIT 1",
    2};
static const struct mz_pg_stmt erasure_lock_stmt = {
    MZ_STMT_ERASURE_LOCK, "mz_erasure_lock",
    "SELECT pg_advisory_xact_lock(" MZ_ERASURE_LOCK_KEY ")", 0};
/* One row whether or not either exists: NULLs for what is absent. */
static const struct mz_pg_stmt client_load_stmt = {
    MZ_STMT_CLIENT_LOAD, "mz_client_load",
    "SELECT s.state, a.doc::text FROM (SELECT $1::text AS id) AS x "
    "LEFT JOIN client_state s ON s.node = $2 AND s.client_id = x.id "
    "LEFT JOIN client_attributes a ON a.client_id = x.id",
    2};

/* A load that hands (text, text) rows to a callback. */
struct pairs_ctx {
    const struct mz_pg_stmt *stmt;
    bool (*fn)(void *ctx, const char *a, const char *b);
    void *ctx;
};

static bool pair_row(void *ctx, const PGresult *res)
{
    struct pairs_ctx *x = ctx;

    return x->fn(x->ctx, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
}

static enum mz_status pairs_op(struct mz_pg_conn *c, void *ctx)
{
    struct pairs_ctx *x = ctx;
    enum mz_status st;

    st = mz_pg_stream(c, x->stmt, NULL, NULL, NULL, 0, pair_row, x);
    return st == MZ_ERR_CONFLICT ? MZ_ERR_INVALID : st;
}

/* A statement of three text parameters and no result. */
struct three_params {
    const struct mz_pg_stmt *stmt;
    const char *values[3];
};

static enum mz_status three_params_op(struct mz_pg_conn *c, void *ctx)
{
    struct three_params *x = ctx;

    return mz_pg_exec(c, x->stmt, x->values, NULL, NULL, 0, NULL);
}

/* A change of a client under the log lock: its statement, then its
 * marker. */
struct client_change {
    struct three_params stmt;
    struct mz_log_marker marker;
    int64_t applied_everywhere; /* erasure: 0, or no row after it */
    int64_t position;           /* out: the marker's seq */
};

static enum mz_status attributes_put_body(struct mz_pg_conn *c, void *ctx)
{
    struct client_change *x = ctx;
    enum mz_status st = three_params_op(c, &x->stmt);

    return st == MZ_OK ? mz_store_append_marker(c, &x->marker, &x->position)
                       : st;
}

static enum mz_status attributes_put_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_store_log_transaction(c, attributes_put_body, ctx);
}

enum mz_status mz_store_put_client_attributes(struct mz_store *store,
                                              const char *client_id,
                                              const char *doc,
                                              const char *actor,
                                              int64_t *position)
{
    struct client_change x = {{&attributes_put_stmt, {client_id, doc, actor}},
                              {.change = MZ_CHANGE_ATTRIBUTES,
                               .client_id = client_id,
                               .payload = doc},
                              0,
                              0};
    enum mz_status st = mz_store_with_conn(store, attributes_put_op, &x);
    if (st == MZ_OK && position)
        *position = x.position;
    return st;
}

enum mz_status mz_store_load_client_attributes(struct mz_store *store,
                                               mz_store_attributes_fn fn,
                                               void *ctx)
{
    struct pairs_ctx x = {&attributes_load_stmt, fn, ctx};

    return mz_store_with_conn(store, pairs_op, &x);
}

/* The erasure lock, then the log lock (so waiting for a checkpoint's
 * write does not hold up the log), then the marker, whose seq the
 * tombstone takes, then the deletion. The marker names the client by
 * its digest only. */
static enum mz_status client_delete_body(struct mz_pg_conn *c, void *ctx)
{
    struct client_change *x = ctx;
    char seq[24];
    enum mz_status st =
        mz_pg_exec(c, &erasure_lock_stmt, NULL, NULL, NULL, 0, NULL);

    if (st == MZ_OK)
        st = mz_pg_exec_simple(c, MZ_LOG_LOCK_SQL);
    if (st == MZ_OK && x->applied_everywhere > 0) {
        char after[24];
        PGresult *res = NULL;
        snprintf(after, sizeof after, "%lld", (long long)x->applied_everywhere);
        const char *values[2] = {x->stmt.values[0], after};
        st =
            mz_pg_exec(c, &client_rows_after_stmt, values, NULL, NULL, 0, &res);
        if (st == MZ_OK && PQntuples(res) > 0)
            st = MZ_ERR_CONFLICT; /* rolled back: the caller waits again */
        PQclear(res);
    }
    if (st == MZ_OK)
        st = mz_store_append_marker(c, &x->marker, &x->position);
    if (st != MZ_OK)
        return st;
    snprintf(seq, sizeof seq, "%lld", (long long)x->position);
    const char *values[4] = {x->stmt.values[0], x->stmt.values[1],
                             x->stmt.values[2], seq};
    return mz_pg_exec(c, &client_delete_stmt, values, NULL, NULL, 0, NULL);
}

static enum mz_status client_delete_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_pg_transaction(c, "READ COMMITTED", client_delete_body, ctx);
}

enum mz_status mz_store_delete_client(struct mz_store *store,
                                      const char *client_id, const char *actor,
                                      int64_t applied_everywhere,
                                      int64_t *position)
{
    char digest[MZ_AUDIT_DIGEST_BYTES];
    mz_store_client_digest(store, client_id, digest);
    struct client_change x = {{&client_delete_stmt, {client_id, digest, actor}},
                              {.change = MZ_CHANGE_ERASURE, .payload = digest},
                              applied_everywhere,
                              0};
    enum mz_status st = mz_store_with_conn(store, client_delete_op, &x);
    if (st == MZ_OK && position)
        *position = x.position;
    return st;
}

struct client_load_ctx {
    const char *client_id;
    const char *node;
    struct mz_store_client_record *out;
};

/* A malloc'd copy of a binary value with a terminating zero (so a text
 * value is a C string), or NULL. */
static void *copy_value(const PGresult *res, int column, size_t *len)
{
    size_t n = (size_t)PQgetlength(res, 0, column);
    char *copy = malloc(n + 1);

    if (copy) {
        memcpy(copy, PQgetvalue(res, 0, column), n);
        copy[n] = '\0';
        *len = n;
    }
    return copy;
}

static enum mz_status client_load_op(struct mz_pg_conn *c, void *ctx)
{
    struct client_load_ctx *x = ctx;
    const char *values[2] = {x->client_id, x->node};
    PGresult *res;
    size_t ignored;
    enum mz_status st =
        mz_pg_exec(c, &client_load_stmt, values, NULL, NULL, 1, &res);

    if (st != MZ_OK)
        return st;
    mz_store_client_record_clear(x->out);
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        x->out->state = copy_value(res, 0, &x->out->state_len);
        st = x->out->state ? MZ_OK : MZ_ERR_NOMEM;
    }
    if (st == MZ_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 1)) {
        x->out->attributes = copy_value(res, 1, &ignored);
        st = x->out->attributes ? MZ_OK : MZ_ERR_NOMEM;
    }
    PQclear(res);
    return st;
}

enum mz_status mz_store_load_client(struct mz_store *store,
                                    const char *client_id,
                                    struct mz_store_client_record *out)
{
    struct client_load_ctx x = {client_id, mz_store_node(store), out};

    memset(out, 0, sizeof *out);
    enum mz_status st = mz_store_with_conn(store, client_load_op, &x);
    if (st != MZ_OK)
        mz_store_client_record_clear(out);
    return st;
}

void mz_store_client_record_clear(struct mz_store_client_record *record)
{
    free(record->state);
    free(record->attributes);
    memset(record, 0, sizeof *record);
}
