/*-------------------------------------------------------------------------
 * audit_store.c
 *    The audit log in PostgreSQL: the installation's audit key and the
 *    digest it gives an erased client's id, and the reads (every row in
 *    id order, keyset paged; a client's rows for its export).
 *
 * The rows themselves are written by the change they record, inside its
 * statement or transaction (catalog_store.c, rules_store.c, keys_store.c,
 * client_store.c, event_writer.c for consent markers), with the columns
 * of MZ_AUDIT_INSERT, so no change goes unaudited and no row describes a
 * change that did not commit.
 *
 * Interface routines: mz_store_client_digest, mz_store_list_audit,
 * mz_store_client_audit (store.h); mz_store_audit_key_init
 * (store_internal.h).
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"
#include "store/store.h"
#include "store/store_internal.h"

/* The first node to start makes the key; the others, and every later
 * start, read it (the caller holds the migration lock, so no two make
 * one at once). */
static const struct mz_pg_stmt audit_key_stmt = {
    MZ_STMT_AUDIT_KEY, "mz_audit_key",
    "WITH made AS (INSERT INTO audit_key (key) VALUES ($1::bytea) "
    "ON CONFLICT (id) DO NOTHING RETURNING key) "
    "SELECT key FROM made UNION ALL SELECT key FROM audit_key",
    1};

#define AUDIT_COLUMNS                                                          \
    "SELECT id, to_char(at AT TIME ZONE 'UTC', "                               \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), key_id, action, target, version, "  \
    "detail::text FROM audit "

static const struct mz_pg_stmt audit_list_stmt = {
    MZ_STMT_AUDIT_LIST, "mz_audit_list",
    AUDIT_COLUMNS "WHERE id > $1 AND at >= to_timestamp($2::bigint) "
                  "ORDER BY id LIMIT $3",
    3};
/* Only the client actions: an item or a key could share the id. */
static const struct mz_pg_stmt audit_client_stmt = {
    MZ_STMT_AUDIT_CLIENT, "mz_audit_client",
    AUDIT_COLUMNS "WHERE target = $1 AND action LIKE 'client.%' "
                  "ORDER BY id LIMIT $2",
    2};

enum mz_status mz_store_audit_key_init(struct mz_pg_conn *c,
                                       unsigned char key[MZ_AUDIT_KEY_BYTES])
{
    unsigned char fresh[MZ_AUDIT_KEY_BYTES];
    PGresult *res = NULL;

    if (sodium_init() < 0)
        return MZ_ERR_INTERNAL;
    randombytes_buf(fresh, sizeof fresh);
    const char *values[1] = {(const char *)fresh};
    const int lengths[1] = {(int)sizeof fresh};
    const int formats[1] = {1};
    enum mz_status st =
        mz_pg_exec(c, &audit_key_stmt, values, lengths, formats, 1, &res);
    sodium_memzero(fresh, sizeof fresh);
    if (st != MZ_OK)
        return st;
    if (PQntuples(res) < 1 || PQgetlength(res, 0, 0) != MZ_AUDIT_KEY_BYTES)
        st = MZ_ERR_INTERNAL;
    else
        memcpy(key, PQgetvalue(res, 0, 0), MZ_AUDIT_KEY_BYTES);
    PQclear(res);
    return st;
}

void mz_store_client_digest(const struct mz_store *store, const char *client_id,
                            char out[MZ_AUDIT_DIGEST_BYTES])
{
    unsigned char hash[32];

    crypto_generichash(hash, sizeof hash, (const unsigned char *)client_id,
                       strlen(client_id), mz_store_audit_key(store),
                       MZ_AUDIT_KEY_BYTES);
    memcpy(out, "digest:", 7);
    sodium_bin2hex(out + 7, MZ_AUDIT_DIGEST_BYTES - 7, hash, sizeof hash);
}

struct audit_read_ctx {
    mz_store_audit_fn fn;
    void *ctx;
};

static bool audit_row(void *ctx, const PGresult *res)
{
    struct audit_read_ctx *x = ctx;
    bool versioned = !PQgetisnull(res, 0, 5);
    struct mz_audit_row row = {
        .id = strtoll(PQgetvalue(res, 0, 0), NULL, 10),
        .at = PQgetvalue(res, 0, 1),
        .key_id = PQgetvalue(res, 0, 2),
        .action = PQgetvalue(res, 0, 3),
        .target = PQgetvalue(res, 0, 4),
        .has_version = versioned,
        .version = versioned ? strtoll(PQgetvalue(res, 0, 5), NULL, 10) : 0,
        .detail = PQgetisnull(res, 0, 6) ? NULL : PQgetvalue(res, 0, 6),
    };
    return x->fn(x->ctx, &row);
}

struct audit_query {
    const struct mz_pg_stmt *stmt;
    const char *const *values;
    struct audit_read_ctx read;
};

static enum mz_status audit_query_op(struct mz_pg_conn *c, void *ctx)
{
    struct audit_query *q = ctx;
    enum mz_status st =
        mz_pg_stream(c, q->stmt, q->values, NULL, NULL, 0, audit_row, &q->read);

    return st == MZ_ERR_CONFLICT ? MZ_OK : st;
}

enum mz_status mz_store_list_audit(struct mz_store *store, int64_t after_id,
                                   int64_t since_s, int limit,
                                   mz_store_audit_fn fn, void *ctx)
{
    char after[24], since[24], max[16];
    const char *values[3] = {after, since, max};
    struct audit_query q = {&audit_list_stmt, values, {fn, ctx}};

    snprintf(after, sizeof after, "%" PRId64, after_id);
    snprintf(since, sizeof since, "%" PRId64, since_s);
    snprintf(max, sizeof max, "%d", limit);
    return mz_store_with_conn(store, audit_query_op, &q);
}

enum mz_status mz_store_client_audit(struct mz_store *store,
                                     const char *client_id, int limit,
                                     mz_store_audit_fn fn, void *ctx)
{
    char max[16];
    const char *values[2] = {client_id, max};
    struct audit_query q = {&audit_client_stmt, values, {fn, ctx}};

    snprintf(max, sizeof max, "%d", limit);
    return mz_store_with_conn(store, audit_query_op, &q);
}
