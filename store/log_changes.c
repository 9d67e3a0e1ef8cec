/*-------------------------------------------------------------------------
 * log_changes.c
 *    The event log as the one order of every change: the log lock that
 *    makes commit order log order, and the marker rows a change appends
 *    (docs/several-nodes.md).
 *
 * Every transaction that appends to the log takes the log lock (an
 * advisory transaction lock) before its rows take their seq values, and
 * holds it until it commits. seq values are thus handed out and made
 * visible one transaction at a time, in order: whoever sees seq N
 * committed sees every smaller seq that will ever commit, so a node that
 * reads "the log after my position" never skips a late commit. A change
 * transaction takes the lock first, before its own statements: an
 * erasure deletes log rows, and taking the lock late would let it wait
 * on the event writer's INSERT while the writer waits on the lock.
 *
 * Interface routines: mz_log_change_name, mz_log_change_parse,
 *    mz_store_nodes_behind, mz_store_log_head (store.h);
 *    mz_store_log_transaction, mz_store_append_marker (store_internal.h)
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"
#include "store/store.h"
#include "store/store_internal.h"

static const char *const change_names[MZ_CHANGE_COUNT] = {
    [MZ_CHANGE_NONE] = "",
    [MZ_CHANGE_ITEM_UPSERT] = "change.item_upsert",
    [MZ_CHANGE_ITEM_DELETE] = "change.item_delete",
    [MZ_CHANGE_RULES] = "change.rules",
    [MZ_CHANGE_ATTRIBUTES] = "change.attributes",
    [MZ_CHANGE_ERASURE] = "change.erasure",
    [MZ_CHANGE_KEYS] = "change.keys",
};

const char *mz_log_change_name(enum mz_log_change change)
{
    if ((int)change <= 0 || change >= MZ_CHANGE_COUNT)
        return "";
    return change_names[change];
}

bool mz_log_change_parse(const char *name, enum mz_log_change *change)
{
    for (int c = 1; c < MZ_CHANGE_COUNT; c++) {
        if (strcmp(name, change_names[c]) == 0) {
            *change = (enum mz_log_change)c;
            return true;
        }
    }
    return false;
}

static const struct mz_pg_stmt log_lock_stmt = {MZ_STMT_LOG_LOCK, "mz_log_lock",
                                                MZ_LOG_LOCK_SQL, 0};
/* event_id: a marker's own, never a client's (clients' ids are theirs). */
static const struct mz_pg_stmt marker_stmt = {
    MZ_STMT_LOG_MARKER, "mz_log_marker",
    "INSERT INTO events (event_id, client_id, item_id, type, ts, brand,"
    " payload, version) "
    "VALUES ('maison:' || gen_random_uuid(), coalesce($1, ''), $2, $3,"
    " now(), $4, $5, $6::bigint) RETURNING seq",
    6};

struct log_tx {
    mz_pg_tx_body body;
    void *ctx;
};

static enum mz_status log_tx_body(struct mz_pg_conn *c, void *ctx)
{
    struct log_tx *x = ctx;
    enum mz_status st =
        mz_pg_exec(c, &log_lock_stmt, NULL, NULL, NULL, 0, NULL);

    return st == MZ_OK ? x->body(c, x->ctx) : st;
}

enum mz_status mz_store_log_transaction(struct mz_pg_conn *c,
                                        mz_pg_tx_body body, void *ctx)
{
    struct log_tx x = {body, ctx};

    return mz_pg_transaction(c, "READ COMMITTED", log_tx_body, &x);
}

enum mz_status mz_store_append_marker(struct mz_pg_conn *c,
                                      const struct mz_log_marker *m,
                                      int64_t *seq)
{
    char version[24];
    const char *values[6] = {
        m->client_id, m->item_id, mz_log_change_name(m->change),
        m->brand,     m->payload, NULL};
    PGresult *res = NULL;
    enum mz_status st;

    if (m->version > 0) {
        snprintf(version, sizeof version, "%lld", (long long)m->version);
        values[5] = version;
    }
    st = mz_pg_exec(c, &marker_stmt, values, NULL, NULL, 0, &res);
    if (st == MZ_OK && seq != NULL)
        *seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return st;
}

/* Nodes other than $1 that recorded their position in the last
 * $3 seconds and had not applied $2 then. */
static const struct mz_pg_stmt nodes_behind_stmt = {
    MZ_STMT_NODES_BEHIND, "mz_nodes_behind",
    "SELECT node FROM nodes WHERE node <> $1 AND applied_seq < $2::bigint"
    " AND seen_at > now() - make_interval(secs => $3::int) "
    "ORDER BY node LIMIT 1",
    3};

struct nodes_behind_ctx {
    const char *values[3];
    char *first; /* out: size MZ_NODE_ID_MAX + 1 */
};

static enum mz_status nodes_behind_op(struct mz_pg_conn *c, void *ctx)
{
    struct nodes_behind_ctx *x = ctx;
    PGresult *res = NULL;
    enum mz_status st =
        mz_pg_exec(c, &nodes_behind_stmt, x->values, NULL, NULL, 0, &res);
    x->first[0] = '\0';
    if (st == MZ_OK && PQntuples(res) > 0)
        snprintf(x->first, MZ_NODE_ID_MAX + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return st;
}

enum mz_status mz_store_nodes_behind(struct mz_store *store, int64_t position,
                                     int seen_within_s,
                                     char first[MZ_NODE_ID_MAX + 1])
{
    char pos[24], secs[16];
    snprintf(pos, sizeof pos, "%lld", (long long)position);
    snprintf(secs, sizeof secs, "%d", seen_within_s);
    struct nodes_behind_ctx x = {{mz_store_node(store), pos, secs}, first};
    return mz_store_with_conn(store, nodes_behind_op, &x);
}

static const struct mz_pg_stmt log_head_stmt = {
    MZ_STMT_LOG_HEAD, "mz_log_head", "SELECT coalesce(max(seq), 0) FROM events",
    0};

static enum mz_status log_head_op(struct mz_pg_conn *c, void *ctx)
{
    PGresult *res = NULL;
    enum mz_status st =
        mz_pg_exec(c, &log_head_stmt, NULL, NULL, NULL, 0, &res);
    if (st == MZ_OK)
        *(int64_t *)ctx = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return st;
}

enum mz_status mz_store_log_head(struct mz_store *store, int64_t *head)
{
    *head = 0;
    return mz_store_with_conn(store, log_head_op, head);
}
