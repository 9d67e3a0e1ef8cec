/*-------------------------------------------------------------------------
 * rules_store.c
 *    Brand rule sets in PostgreSQL, versioned: a change is a new row (max
 *    + 1, allocated under a per-brand advisory lock), the current rules of
 *    a brand are its highest version.
 *
 * Interface routines (store.h): mz_store_put_rules, mz_store_load_rules.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "store/pg.h"
#include "store/store.h"
#include "store/store_internal.h"

/* rules_put_stmt runs after this one in the same transaction: writers of
 * one brand queue on the lock, and READ COMMITTED gives the insert a
 * snapshot taken after the previous writer committed. (SERIALIZABLE alone
 * made racing writers retry until they gave up.) */
static const struct mz_pg_stmt rules_lock_stmt = {
    MZ_STMT_RULES_LOCK, "mz_rules_lock",
    "SELECT pg_advisory_xact_lock(hashtext('mz_brand_rules:' || $1))", 1};
static const struct mz_pg_stmt rules_put_stmt = {
    MZ_STMT_RULES_PUT, "mz_rules_put",
    "WITH r AS (INSERT INTO brand_rules (brand, version, doc) "
    "SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb "
    "FROM brand_rules WHERE brand = $1 RETURNING version) " MZ_AUDIT_INSERT
    "SELECT $3, 'rules.put', $1, version, NULL FROM r RETURNING version",
    3};
static const struct mz_pg_stmt rules_load_stmt = {
    MZ_STMT_RULES_LOAD, "mz_rules_load",
    "SELECT DISTINCT ON (brand) brand, version, doc::text "
    "FROM brand_rules ORDER BY brand, version DESC",
    0};

struct rules_put_ctx {
    const char *brand;
    const char *doc;
    const char *actor;
    int64_t version;
    int64_t position; /* out: the marker's seq */
};

static enum mz_status rules_put_body(struct mz_pg_conn *c, void *ctx)
{
    struct rules_put_ctx *x = ctx;
    const char *values[3] = {x->brand, x->doc, x->actor};
    PGresult *res;
    enum mz_status st;

    st = mz_pg_exec(c, &rules_lock_stmt, values, NULL, NULL, 0, NULL);
    if (st != MZ_OK)
        return st;
    st = mz_pg_exec(c, &rules_put_stmt, values, NULL, NULL, 0, &res);
    if (st != MZ_OK)
        return st;
    x->version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    struct mz_log_marker m = {.change = MZ_CHANGE_RULES,
                              .brand = x->brand,
                              .payload = x->doc,
                              .version = x->version};
    return mz_store_append_marker(c, &m, &x->position);
}

static enum mz_status rules_put_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_store_log_transaction(c, rules_put_body, ctx);
}

enum mz_status mz_store_put_rules(struct mz_store *store, const char *brand,
                                  const char *doc, const char *actor,
                                  int64_t *version, int64_t *position)
{
    struct rules_put_ctx x = {brand, doc, actor, 0, 0};
    enum mz_status st = mz_store_with_conn(store, rules_put_op, &x);

    if (st == MZ_OK && version != NULL)
        *version = x.version;
    if (st == MZ_OK && position != NULL)
        *position = x.position;
    return st;
}

struct rules_load_ctx {
    mz_store_rules_fn fn;
    void *ctx;
};

static bool rules_row(void *ctx, const PGresult *res)
{
    struct rules_load_ctx *x = ctx;

    return x->fn(x->ctx, PQgetvalue(res, 0, 0),
                 strtoll(PQgetvalue(res, 0, 1), NULL, 10),
                 PQgetvalue(res, 0, 2));
}

static enum mz_status rules_load_op(struct mz_pg_conn *c, void *ctx)
{
    enum mz_status st;

    st = mz_pg_stream(c, &rules_load_stmt, NULL, NULL, NULL, 0, rules_row, ctx);
    return st == MZ_ERR_CONFLICT ? MZ_ERR_INVALID : st;
}

enum mz_status mz_store_load_rules(struct mz_store *store, mz_store_rules_fn fn,
                                   void *ctx)
{
    struct rules_load_ctx x = {fn, ctx};

    return mz_store_with_conn(store, rules_load_op, &x);
}
