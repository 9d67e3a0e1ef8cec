/*-------------------------------------------------------------------------
 * catalog_store.c
 *    The catalog in PostgreSQL: upserts in chunks of binary arrays, the
 *    soft delete, and the load in the order that gives every item the
 *    same catalog index at every start.
 *
 * Interface routines (store.h): mz_store_upsert_items,
 * mz_store_delete_item, mz_store_load_items.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"
#include "store/store.h"
#include "store/store_internal.h"

/* Within one call the last document of an id wins; new items take their
 * place in the catalog order in the order given. Each item upserted gets
 * its audit row in the same statement ($3 the actor, $4 the batch's
 * size). */
static const struct mz_pg_stmt items_upsert_stmt = {
    MZ_STMT_ITEMS_UPSERT, "mz_items_upsert",
    "WITH up AS (INSERT INTO items (item_id, doc) "
    "SELECT id, doc::jsonb FROM ("
    "  SELECT DISTINCT ON (id) id, doc, n"
    "  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(id, doc, n)"
    "  ORDER BY id, n DESC) AS last ORDER BY n "
    "ON CONFLICT (item_id) DO UPDATE "
    "SET doc = EXCLUDED.doc, deleted = false, updated_at = now() "
    "RETURNING item_id) " MZ_AUDIT_INSERT
    "SELECT $3, 'catalog.upsert', item_id, NULL, "
    "jsonb_build_object('batch_items', $4::bigint) FROM up",
    4};
/* A flag, not a DELETE: the row keeps its place in the catalog order (see
 * store/sql/0002-item-soft-delete.sql). */
static const struct mz_pg_stmt item_delete_stmt = {
    MZ_STMT_ITEM_DELETE, "mz_item_delete",
    "WITH d AS (UPDATE items SET deleted = true, updated_at = now() "
    "WHERE item_id = $1 AND NOT deleted RETURNING item_id) " MZ_AUDIT_INSERT
    "SELECT $2, 'catalog.delete', item_id, NULL, NULL FROM d",
    2};
/* One marker per item, in the call's order, so a node applying them one
 * after another ends with the last document of an id, as the table. */
static const struct mz_pg_stmt item_markers_stmt = {
    MZ_STMT_ITEM_MARKERS, "mz_item_markers",
    "INSERT INTO events (event_id, client_id, item_id, type, ts, payload) "
    "SELECT 'maison:' || gen_random_uuid(), '', id, 'change.item_upsert',"
    " now(), doc "
    "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(id, doc, n) "
    "ORDER BY n RETURNING seq",
    2};
static const struct mz_pg_stmt items_load_stmt = {
    MZ_STMT_ITEMS_LOAD, "mz_items_load",
    "SELECT item_id, doc::text, deleted FROM items ORDER BY ord", 0};

struct items_ctx {
    const char *const *ids;
    const char *const *docs;
    size_t n;
    const char *actor;
    int64_t position; /* out: the last marker's seq */
};

/* Keeps the highest seq of res's one column in *position. */
static void note_positions(const PGresult *res, int64_t *position)
{
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t seq = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        if (seq > *position)
            *position = seq;
    }
}

static enum mz_status items_upsert_body(struct mz_pg_conn *c, void *ctx)
{
    struct items_ctx *x = ctx;
    enum mz_status st = MZ_OK;

    for (size_t from = 0; from < x->n && st == MZ_OK;
         from += MZ_STORE_CHUNK_ROWS) {
        size_t to = from + MZ_STORE_CHUNK_ROWS < x->n
                        ? from + MZ_STORE_CHUNK_ROWS
                        : x->n;
        struct mz_pg_array ids, docs;
        char batch[24];
        const char *values[4];
        int lengths[4] = {0, 0, 0, 0};
        const int formats[4] = {1, 1, 0, 0};

        mz_pg_array_init(&ids, MZ_PG_OID_TEXT);
        mz_pg_array_init(&docs, MZ_PG_OID_TEXT);
        for (size_t i = from; i < to; i++) {
            mz_pg_array_add_text(&ids, x->ids[i]);
            mz_pg_array_add_text(&docs, x->docs[i]);
        }
        if (!mz_pg_array_finish(&ids) || !mz_pg_array_finish(&docs)) {
            st = MZ_ERR_NOMEM;
        } else {
            values[0] = ids.buf;
            lengths[0] = (int)ids.len;
            values[1] = docs.buf;
            lengths[1] = (int)docs.len;
            values[2] = x->actor;
            snprintf(batch, sizeof batch, "%zu", x->n);
            values[3] = batch;
            st = mz_pg_exec(c, &items_upsert_stmt, values, lengths, formats, 0,
                            NULL);
            if (st == MZ_OK) {
                PGresult *res = NULL;
                st = mz_pg_exec(c, &item_markers_stmt, values, lengths, formats,
                                0, &res);
                if (st == MZ_OK)
                    note_positions(res, &x->position);
                PQclear(res);
            }
        }
        mz_pg_array_release(&docs);
        mz_pg_array_release(&ids);
    }
    return st;
}

static enum mz_status items_upsert_op(struct mz_pg_conn *c, void *ctx)
{
    ((struct items_ctx *)ctx)->position = 0; /* a retry starts again */
    return mz_store_log_transaction(c, items_upsert_body, ctx);
}

enum mz_status mz_store_upsert_items(struct mz_store *store,
                                     const char *const *ids,
                                     const char *const *docs, size_t n,
                                     const char *actor, int64_t *position)
{
    struct items_ctx x = {ids, docs, n, actor, 0};
    enum mz_status st;

    for (size_t i = 0; i < n; i++)
        if (ids[i] == NULL || docs[i] == NULL)
            return MZ_ERR_INVALID;
    if (n == 0)
        return MZ_OK;
    st = mz_store_with_conn(store, items_upsert_op, &x);
    if (st == MZ_OK && position)
        *position = x.position;
    return st;
}

enum mz_status mz_store_delete_item(struct mz_store *store, const char *id,
                                    const char *actor, int64_t *position)
{
    struct mz_log_marker m = {.change = MZ_CHANGE_ITEM_DELETE, .item_id = id};

    return mz_store_change_row(store, &item_delete_stmt, id, actor, &m,
                               position);
}

struct items_load_ctx {
    mz_store_item_fn fn;
    void *ctx;
};

static bool item_row(void *ctx, const PGresult *res)
{
    struct items_load_ctx *x = ctx;

    return x->fn(x->ctx, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                 strcmp(PQgetvalue(res, 0, 2), "t") == 0);
}

static enum mz_status items_load_op(struct mz_pg_conn *c, void *ctx)
{
    enum mz_status st =
        mz_pg_stream(c, &items_load_stmt, NULL, NULL, NULL, 0, item_row, ctx);

    return st == MZ_ERR_CONFLICT ? MZ_ERR_INVALID : st;
}

enum mz_status mz_store_load_items(struct mz_store *store, mz_store_item_fn fn,
                                   void *ctx)
{
    struct items_load_ctx x = {fn, ctx};

    return mz_store_with_conn(store, items_load_op, &x);
}
