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
    "INSERT INTO client_attributes (client_id, doc) VALUES ($1, $2::jsonb) "
    "ON CONFLICT (client_id) DO UPDATE "
    "SET doc = EXCLUDED.doc, updated_at = now()",
    2};
static const struct mz_pg_stmt attributes_load_stmt = {
    MZ_STMT_ATTRIBUTES_LOAD, "mz_attributes_load",
    "SELECT client_id, doc::text FROM client_attributes "
    "ORDER BY client_id",
    0};
/* One statement is one transaction: every trace goes, or none. The
 * client's impressions are in its state. */
static const struct mz_pg_stmt client_delete_stmt = {
    MZ_STMT_CLIENT_DELETE, "mz_client_delete",
    "WITH e AS (DELETE FROM events WHERE client_id = $1),"
    " s AS (DELETE FROM client_state WHERE client_id = $1) "
    "DELETE FROM client_attributes WHERE client_id = $1",
    1};
/* One row whether or not either exists: NULLs for what is absent. */
static const struct mz_pg_stmt client_load_stmt = {
    MZ_STMT_CLIENT_LOAD, "mz_client_load",
    "SELECT s.state, a.doc::text FROM (SELECT $1::text AS id) AS x "
    "LEFT JOIN client_state s ON s.client_id = x.id "
    "LEFT JOIN client_attributes a ON a.client_id = x.id",
    1};

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

/* A statement of two text parameters (b may be NULL) and no result. */
struct two_params {
    const struct mz_pg_stmt *stmt;
    const char *a;
    const char *b;
};

static enum mz_status two_params_op(struct mz_pg_conn *c, void *ctx)
{
    struct two_params *x = ctx;
    const char *values[2] = {x->a, x->b};

    return mz_pg_exec(c, x->stmt, values, NULL, NULL, 0, NULL);
}

enum mz_status mz_store_put_client_attributes(struct mz_store *store,
                                              const char *client_id,
                                              const char *doc)
{
    struct two_params x = {&attributes_put_stmt, client_id, doc};

    return mz_store_with_conn(store, two_params_op, &x);
}

enum mz_status mz_store_load_client_attributes(struct mz_store *store,
                                               mz_store_attributes_fn fn,
                                               void *ctx)
{
    struct pairs_ctx x = {&attributes_load_stmt, fn, ctx};

    return mz_store_with_conn(store, pairs_op, &x);
}

enum mz_status mz_store_delete_client(struct mz_store *store,
                                      const char *client_id)
{
    struct two_params x = {&client_delete_stmt, client_id, NULL};

    return mz_store_with_conn(store, two_params_op, &x);
}

struct client_load_ctx {
    const char *client_id;
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
    const char *values[1] = {x->client_id};
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
    struct client_load_ctx x = {client_id, out};

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
