/*-------------------------------------------------------------------------
 * keys_store.c
 *    API keys in PostgreSQL: one row per key, its secret only as a hash;
 *    a revoked key keeps its row with revoked_at set.
 *
 * Role and brand lists cross this interface as lines (names joined by
 * '\n'): ids never hold control characters (mz_is_valid_id), and
 * string_to_array / array_to_string keep them real text[] columns.
 *
 * Interface routines (store.h): mz_store_put_key, mz_store_revoke_key,
 * mz_store_load_keys.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"
#include "store/store.h"
#include "store/store_internal.h"

/* The audit row's detail is what the key may do, never its hash. */
static const struct mz_pg_stmt key_put_stmt = {
    MZ_STMT_KEY_PUT, "mz_key_put",
    "WITH k AS (INSERT INTO api_keys (key_id, name, secret_hash, roles, "
    "brands, rate_requests_per_s, rate_burst, created_at) "
    "VALUES ($1, $2, $3, string_to_array($4, E'\\n'), "
    "string_to_array($5, E'\\n'), $6::double precision, $7::integer, "
    "to_timestamp($8::bigint)) RETURNING key_id, name, roles, "
    "brands) " MZ_AUDIT_INSERT "SELECT $9, 'key.create', key_id, NULL, "
    "jsonb_build_object('name', name, 'roles', to_jsonb(roles), "
    "'brands', to_jsonb(brands)) FROM k",
    9};
static const struct mz_pg_stmt key_revoke_stmt = {
    MZ_STMT_KEY_REVOKE, "mz_key_revoke",
    "WITH r AS (UPDATE api_keys SET revoked_at = now() "
    "WHERE key_id = $1 AND revoked_at IS NULL RETURNING "
    "key_id) " MZ_AUDIT_INSERT
    "SELECT $2, 'key.revoke', key_id, NULL, NULL FROM r",
    2};
static const struct mz_pg_stmt keys_load_stmt = {
    MZ_STMT_KEYS_LOAD, "mz_keys_load",
    "SELECT key_id, name, secret_hash, array_to_string(roles, E'\\n'), "
    "array_to_string(brands, E'\\n'), rate_requests_per_s, rate_burst, "
    "extract(epoch FROM created_at)::bigint, revoked_at IS NOT NULL "
    "FROM api_keys ORDER BY created_at, key_id",
    0};

struct key_put_ctx {
    const struct mz_store_key *key;
    const char *actor;
    int64_t position; /* out: the marker's seq */
};

/* Every node reloads its keys at the marker (no secret in it). */
static const struct mz_log_marker keys_marker = {.change = MZ_CHANGE_KEYS};

static enum mz_status key_put_body(struct mz_pg_conn *c, void *ctx)
{
    struct key_put_ctx *x = ctx;
    const struct mz_store_key *key = x->key;
    char rps[64], burst[32], created[32];
    snprintf(rps, sizeof rps, "%.17g", key->rate_requests_per_s);
    snprintf(burst, sizeof burst, "%d", key->rate_burst);
    snprintf(created, sizeof created, "%lld", (long long)key->created_at);
    bool rated = key->rate_requests_per_s > 0;
    const char *values[9] = {
        key->key_id,          key->name,   key->secret_hash,
        key->roles,           key->brands, rated ? rps : NULL,
        rated ? burst : NULL, created,     x->actor};

    enum mz_status st =
        mz_pg_exec(c, &key_put_stmt, values, NULL, NULL, 0, NULL);
    return st == MZ_OK ? mz_store_append_marker(c, &keys_marker, &x->position)
                       : st;
}

static enum mz_status key_put_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_store_log_transaction(c, key_put_body, ctx);
}

enum mz_status mz_store_put_key(struct mz_store *store,
                                const struct mz_store_key *key,
                                const char *actor, int64_t *position)
{
    struct key_put_ctx x = {key, actor, 0};
    enum mz_status st = mz_store_with_conn(store, key_put_op, &x);
    if (st == MZ_OK && position)
        *position = x.position;
    return st;
}

enum mz_status mz_store_revoke_key(struct mz_store *store, const char *key_id,
                                   const char *actor, int64_t *position)
{
    return mz_store_change_row(store, &key_revoke_stmt, key_id, actor,
                               &keys_marker, position);
}

struct keys_load_ctx {
    mz_store_key_fn fn;
    void *ctx;
};

static bool key_row(void *ctx, const PGresult *res)
{
    struct keys_load_ctx *x = ctx;
    bool rated = !PQgetisnull(res, 0, 5);
    struct mz_store_key key = {
        .key_id = PQgetvalue(res, 0, 0),
        .name = PQgetvalue(res, 0, 1),
        .secret_hash = PQgetvalue(res, 0, 2),
        .roles = PQgetvalue(res, 0, 3),
        .brands = PQgetvalue(res, 0, 4),
        .rate_requests_per_s = rated ? strtod(PQgetvalue(res, 0, 5), NULL) : 0,
        .rate_burst = rated ? atoi(PQgetvalue(res, 0, 6)) : 0,
        .created_at = strtoll(PQgetvalue(res, 0, 7), NULL, 10),
        .revoked = PQgetvalue(res, 0, 8)[0] == 't',
    };
    return x->fn(x->ctx, &key);
}

static enum mz_status keys_load_op(struct mz_pg_conn *c, void *ctx)
{
    enum mz_status st =
        mz_pg_stream(c, &keys_load_stmt, NULL, NULL, NULL, 0, key_row, ctx);
    return st == MZ_ERR_CONFLICT ? MZ_ERR_INVALID : st;
}

enum mz_status mz_store_load_keys(struct mz_store *store, mz_store_key_fn fn,
                                  void *ctx)
{
    struct keys_load_ctx x = {fn, ctx};

    return mz_store_with_conn(store, keys_load_op, &x);
}
