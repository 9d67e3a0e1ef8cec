/*-------------------------------------------------------------------------
 * checkpoint_store.c
 *    Checkpoints of the learned state: client states and the global
 *    snapshot, written in one transaction as of one log position, read
 *    back from one snapshot, or discarded whole.
 *
 * Interface routines (store.h): mz_store_write_checkpoint,
 * mz_store_read_checkpoint, mz_store_discard_checkpoint.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"
#include "store/store.h"
#include "store/store_internal.h"

/* A state only replaces one at most as new (seq), so a stale node cannot
 * clobber a newer state. */
static const struct mz_pg_stmt states_upsert_stmt = {
    MZ_STMT_STATES_UPSERT, "mz_states_upsert",
    "INSERT INTO client_state (client_id, state, seq) "
    "SELECT DISTINCT ON (id) id, state, $3 "
    "FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS u(id, state, n) "
    "ORDER BY id, n DESC "
    "ON CONFLICT (client_id) DO UPDATE "
    "SET state = EXCLUDED.state, seq = EXCLUDED.seq, updated_at = now() "
    "WHERE client_state.seq <= EXCLUDED.seq",
    3};
static const struct mz_pg_stmt states_delete_stmt = {
    MZ_STMT_STATES_DELETE, "mz_states_delete",
    "DELETE FROM client_state "
    "WHERE client_id = ANY($1::text[]) AND seq <= $2",
    2};
static const struct mz_pg_stmt checkpoint_put_stmt = {
    MZ_STMT_CHECKPOINT_PUT, "mz_checkpoint_put",
    "INSERT INTO checkpoint (id, seq, global) VALUES (true, $1, $2) "
    "ON CONFLICT (id) DO UPDATE "
    "SET seq = EXCLUDED.seq, "
    "global = COALESCE(EXCLUDED.global, checkpoint.global), "
    "written_at = now()",
    2};
static const struct mz_pg_stmt checkpoint_get_stmt = {
    MZ_STMT_CHECKPOINT_GET, "mz_checkpoint_get",
    "SELECT seq, global FROM checkpoint", 0};
/* One statement, so the checkpoint goes whole or not at all. */
static const struct mz_pg_stmt checkpoint_discard_stmt = {
    MZ_STMT_CHECKPOINT_DISCARD, "mz_checkpoint_discard",
    "WITH s AS (DELETE FROM client_state) DELETE FROM checkpoint", 0};
static const struct mz_pg_stmt states_load_stmt = {
    MZ_STMT_STATES_LOAD, "mz_states_load",
    "SELECT client_id, state FROM client_state", 0};

struct checkpoint_put_ctx {
    int64_t seq;
    const struct mz_client_blob *clients;
    size_t n_clients;
    const void *global;
    size_t global_len;
};

/* Upserts (or, with deletes, removes) clients[from..to) that have (or
 * lack) bytes, in one statement. */
static enum mz_status states_chunk(struct mz_pg_conn *c,
                                   const struct checkpoint_put_ctx *x,
                                   size_t from, size_t to, bool deletes)
{
    struct mz_pg_array ids, states;
    char seq[24];
    const char *values[3];
    int lengths[3];
    int formats[3] = {1, 1, 0};
    enum mz_status st = MZ_OK;

    snprintf(seq, sizeof seq, "%" PRId64, x->seq);
    mz_pg_array_init(&ids, MZ_PG_OID_TEXT);
    mz_pg_array_init(&states, MZ_PG_OID_BYTEA);
    for (size_t i = from; i < to; i++) {
        const struct mz_client_blob *b = &x->clients[i];

        if ((b->bytes == NULL) != deletes)
            continue;
        mz_pg_array_add_text(&ids, b->client_id);
        if (!deletes)
            mz_pg_array_add_bytes(&states, b->bytes, b->len);
    }
    if (!mz_pg_array_finish(&ids) || !mz_pg_array_finish(&states)) {
        st = MZ_ERR_NOMEM;
        goto cleanup;
    }
    if (ids.n == 0)
        goto cleanup;
    values[0] = ids.buf;
    lengths[0] = (int)ids.len;
    if (deletes) {
        values[1] = seq;
        lengths[1] = 0;
        formats[1] = 0;
        st = mz_pg_exec(c, &states_delete_stmt, values, lengths, formats, 0,
                        NULL);
    } else {
        values[1] = states.buf;
        lengths[1] = (int)states.len;
        values[2] = seq;
        lengths[2] = 0;
        st = mz_pg_exec(c, &states_upsert_stmt, values, lengths, formats, 0,
                        NULL);
    }

cleanup:
    mz_pg_array_release(&states);
    mz_pg_array_release(&ids);
    return st;
}

static enum mz_status checkpoint_put_body(struct mz_pg_conn *c, void *ctx)
{
    struct checkpoint_put_ctx *x = ctx;
    char seq[24];
    const char *values[2] = {seq, x->global};
    const int lengths[2] = {0, (int)x->global_len};
    const int formats[2] = {0, 1};
    enum mz_status st = MZ_OK;

    for (size_t from = 0; from < x->n_clients && st == MZ_OK;
         from += MZ_STORE_CHUNK_ROWS) {
        size_t to = from + MZ_STORE_CHUNK_ROWS < x->n_clients
                        ? from + MZ_STORE_CHUNK_ROWS
                        : x->n_clients;

        st = states_chunk(c, x, from, to, false);
        if (st == MZ_OK)
            st = states_chunk(c, x, from, to, true);
    }
    if (st != MZ_OK)
        return st;
    snprintf(seq, sizeof seq, "%" PRId64, x->seq);
    return mz_pg_exec(c, &checkpoint_put_stmt, values, lengths, formats, 0,
                      NULL);
}

static enum mz_status checkpoint_put_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_pg_transaction(c, "READ COMMITTED", checkpoint_put_body, ctx);
}

enum mz_status mz_store_write_checkpoint(struct mz_store *store, int64_t seq,
                                         const struct mz_client_blob *clients,
                                         size_t n_clients, const void *global,
                                         size_t global_len)
{
    struct checkpoint_put_ctx x = {seq, clients, n_clients, global, global_len};

    if (global_len > INT32_MAX)
        return MZ_ERR_TOO_LARGE;
    for (size_t i = 0; i < n_clients; i++)
        if (clients[i].client_id == NULL || clients[i].len > INT32_MAX)
            return MZ_ERR_INVALID;
    return mz_store_with_conn(store, checkpoint_put_op, &x);
}

static enum mz_status checkpoint_discard_op(struct mz_pg_conn *c, void *ctx)
{
    (void)ctx;
    return mz_pg_exec(c, &checkpoint_discard_stmt, NULL, NULL, NULL, 0, NULL);
}

enum mz_status mz_store_discard_checkpoint(struct mz_store *store)
{
    return mz_store_with_conn(store, checkpoint_discard_op, NULL);
}

struct checkpoint_get_ctx {
    int64_t seq;
    void *global; /* owned until handed to the caller */
    size_t global_len;
    mz_store_client_fn fn;
    void *ctx;
};

static bool state_row(void *ctx, const PGresult *res)
{
    struct checkpoint_get_ctx *x = ctx;

    /* Binary results: text is its raw bytes; libpq adds a terminating
     * zero to every value, so client_id is a C string. */
    return x->fn(x->ctx, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                 (size_t)PQgetlength(res, 0, 1));
}

static enum mz_status checkpoint_get_body(struct mz_pg_conn *c, void *ctx)
{
    struct checkpoint_get_ctx *x = ctx;
    PGresult *res;
    enum mz_status st;

    /* A retried transaction starts from nothing. */
    free(x->global);
    x->global = NULL;
    x->global_len = 0;
    x->seq = 0;
    st = mz_pg_exec(c, &checkpoint_get_stmt, NULL, NULL, NULL, 1, &res);
    if (st != MZ_OK)
        return st;
    if (PQntuples(res) == 1) {
        x->seq = mz_pg_get_int8(PQgetvalue(res, 0, 0));
        if (!PQgetisnull(res, 0, 1)) {
            x->global_len = (size_t)PQgetlength(res, 0, 1);
            /* One spare byte so an empty snapshot is still non-NULL. */
            x->global = malloc(x->global_len + 1);
            if (x->global == NULL) {
                PQclear(res);
                return MZ_ERR_NOMEM;
            }
            memcpy(x->global, PQgetvalue(res, 0, 1), x->global_len);
        }
    }
    PQclear(res);
    if (x->fn == NULL)
        return MZ_OK;
    st = mz_pg_stream(c, &states_load_stmt, NULL, NULL, NULL, 1, state_row, x);
    return st == MZ_ERR_CONFLICT ? MZ_ERR_INVALID : st;
}

static enum mz_status checkpoint_get_op(struct mz_pg_conn *c, void *ctx)
{
    /* One snapshot: the states and the global level as of the same
     * commit. */
    return mz_pg_transaction(c, "REPEATABLE READ READ ONLY",
                             checkpoint_get_body, ctx);
}

enum mz_status mz_store_read_checkpoint(struct mz_store *store, int64_t *seq,
                                        void **global, size_t *global_len,
                                        mz_store_client_fn fn, void *ctx)
{
    struct checkpoint_get_ctx x = {0, NULL, 0, fn, ctx};
    enum mz_status st = mz_store_with_conn(store, checkpoint_get_op, &x);

    if (st != MZ_OK) {
        free(x.global);
        return st;
    }
    *seq = x.seq;
    if (global != NULL)
        *global = x.global;
    else
        free(x.global);
    if (global_len != NULL)
        *global_len = x.global_len;
    return MZ_OK;
}
