/*-------------------------------------------------------------------------
 * store.c
 *    The store's life cycle and its connection pool: open (with the
 *    migrations), close, ping, and the one way every other store file
 *    reaches PostgreSQL.
 *
 * Each call borrows a connection from the pool, (re)connecting it when it
 * is closed or broken, and runs named statements that are prepared on that
 * connection when first used. A connection that died while idle in the
 * pool (the server restarted meanwhile) is found when it is taken, at the
 * cost of a poll(2), and replaced before use. When one breaks under a call
 * anyway, the call is run once more on a fresh connection if nothing of it
 * can have been committed; otherwise MZ_ERR_DB_UNAVAILABLE is given.
 *
 * The calls themselves live by what they touch: catalog_store.c,
 * rules_store.c, client_store.c, checkpoint_store.c, event_scan.c.
 *
 * Interface routines: mz_store_open, mz_store_close, mz_store_conninfo,
 * mz_store_ping (store.h); mz_store_with_conn, mz_store_change_row,
 * mz_store_audit_key (store_internal.h).
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"
#include "store/store_internal.h"

/* Key of the advisory lock that serialises migrations between processes
 * starting at once ("maison" in ASCII). */
#define MZ_STORE_MIGRATION_LOCK "120265148428142"

struct mz_store {
    char *conninfo;          /* owned */
    pthread_mutex_t lock;    /* guards busy[] */
    pthread_cond_t released; /* a connection went back to the pool */
    int pool_size;
    struct mz_pg_conn *conns;                    /* owned, pool_size of them */
    bool *busy;                                  /* owned, pool_size of them */
    unsigned char audit_key[MZ_AUDIT_KEY_BYTES]; /* never leaves store/ */
    char node[MZ_NODE_ID_MAX + 1]; /* this node's id; "" until set */
};

static const struct mz_pg_stmt ping_stmt = {MZ_STMT_PING, "mz_ping", "SELECT 1",
                                            0};

/* ---- the pool -------------------------------------------------------- */

/* Takes a free connection, connected. Returns its index, or -1 when the
 * database cannot be reached (the connection is back in the pool). */
static int acquire(struct mz_store *store, bool *reused)
{
    int idx = -1;
    char err[256];

    pthread_mutex_lock(&store->lock);
    for (;;) {
        /* Prefer a connection that is already open. */
        for (int i = 0; i < store->pool_size; i++) {
            if (store->busy[i])
                continue;
            if (idx < 0 || (store->conns[idx].conn == NULL &&
                            store->conns[i].conn != NULL))
                idx = i;
        }
        if (idx >= 0)
            break;
        pthread_cond_wait(&store->released, &store->lock);
    }
    store->busy[idx] = true;
    pthread_mutex_unlock(&store->lock);

    /* A connection that died while idle (the server restarted) is
     * found here, before any statement is sent on it. */
    *reused = mz_pg_conn_alive(&store->conns[idx]);
    if (!*reused && mz_pg_connect(&store->conns[idx], store->conninfo, err,
                                  sizeof err) != MZ_OK) {
        pthread_mutex_lock(&store->lock);
        store->busy[idx] = false;
        pthread_cond_signal(&store->released);
        pthread_mutex_unlock(&store->lock);
        return -1;
    }
    return idx;
}

static void release(struct mz_store *store, int idx)
{
    struct mz_pg_conn *c = &store->conns[idx];

    /* A connection left inside a transaction (a bug, or a failure between
     * statements) would poison the next user; drop it instead. */
    if (c->conn != NULL &&
        (!mz_pg_conn_ok(c) || PQtransactionStatus(c->conn) != PQTRANS_IDLE))
        mz_pg_conn_reset(c);
    pthread_mutex_lock(&store->lock);
    store->busy[idx] = false;
    pthread_cond_signal(&store->released);
    pthread_mutex_unlock(&store->lock);
}

enum mz_status mz_store_with_conn(struct mz_store *store, mz_store_op op,
                                  void *ctx)
{
    bool reused;
    int idx = acquire(store, &reused);
    struct mz_pg_conn *c;
    enum mz_status st;
    char err[256];

    if (idx < 0)
        return MZ_ERR_DB_UNAVAILABLE;
    c = &store->conns[idx];
    c->rows_streamed = 0;
    c->maybe_committed = false;
    st = op(c, ctx);
    /* The pooled connection broke under op (the server went away after
     * the check in acquire): run op once more on a new connection, unless
     * rows were already handed out, or a statement that commits on its
     * own was on the wire (running op again could apply it twice: then
     * the caller answers 503 and the client retries). */
    if (st == MZ_ERR_DB_UNAVAILABLE && reused && c->lost &&
        c->rows_streamed == 0 && !c->maybe_committed &&
        mz_pg_connect(c, store->conninfo, err, sizeof err) == MZ_OK)
        st = op(c, ctx);
    release(store, idx);
    return st;
}

/* ---- open, migrations ------------------------------------------------ */

struct migrate_ctx {
    int applied;
    const char *failed;       /* name of the migration that failed */
    unsigned char *audit_key; /* out: MZ_AUDIT_KEY_BYTES */
};

static enum mz_status migrate_body(struct mz_pg_conn *c, void *ctx)
{
    struct migrate_ctx *x = ctx;
    PGresult *res = NULL;
    int current;
    enum mz_status st;

    /* The lock is held until COMMIT, so a second process starting at the
     * same moment waits here and then finds the migrations applied. */
    st = mz_pg_exec_simple(
        c, "SELECT pg_advisory_xact_lock(" MZ_STORE_MIGRATION_LOCK ")");
    if (st != MZ_OK)
        return st;
    st =
        mz_pg_exec_simple(c, "CREATE TABLE IF NOT EXISTS schema_version ("
                             " version integer PRIMARY KEY,"
                             " name text NOT NULL,"
                             " applied_at timestamptz NOT NULL DEFAULT now())");
    if (st != MZ_OK)
        return st;
    res =
        PQexec(c->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        st = mz_pg_failure(c, res);
        PQclear(res);
        return st;
    }
    current = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (mz_migrations_count > 0 &&
        current > mz_migrations[mz_migrations_count - 1].version) {
        snprintf(c->message, sizeof c->message,
                 "the database schema (version %d) is newer than this "
                 "maisond knows (version %d)",
                 current, mz_migrations[mz_migrations_count - 1].version);
        return MZ_ERR_CONFLICT;
    }
    for (size_t i = 0; i < mz_migrations_count; i++) {
        const struct mz_migration *m = &mz_migrations[i];
        char version[16];
        const char *values[2] = {version, m->name};

        if (m->version <= current)
            continue;
        st = mz_pg_exec_simple(c, m->sql);
        if (st != MZ_OK) {
            x->failed = m->name;
            return st;
        }
        snprintf(version, sizeof version, "%d", m->version);
        res = PQexecParams(c->conn,
                           "INSERT INTO schema_version (version, name) "
                           "VALUES ($1, $2)",
                           2, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            st = mz_pg_failure(c, res);
            PQclear(res);
            return st;
        }
        PQclear(res);
        x->applied++;
    }
    /* Under the lock too: of two nodes starting at once, the second
     * reads the key the first made. */
    st = mz_store_audit_key_init(c, x->audit_key);
    if (st != MZ_OK)
        x->failed = "the audit key";
    return st;
}

struct mz_store *mz_store_open(const char *conninfo, int pool_size, char *err,
                               size_t err_len)
{
    struct mz_store *store = NULL;
    enum mz_status st;
    struct migrate_ctx migration = {0, NULL, NULL};

    if (pool_size < 1)
        pool_size = 1;
    store = calloc(1, sizeof *store);
    if (store == NULL)
        goto nomem;
    /* Right after the calloc, so mz_store_close may always destroy them. */
    pthread_mutex_init(&store->lock, NULL);
    pthread_cond_init(&store->released, NULL);
    store->pool_size = pool_size;
    store->conninfo = strdup(conninfo);
    store->conns = calloc((size_t)pool_size, sizeof *store->conns);
    store->busy = calloc((size_t)pool_size, sizeof *store->busy);
    if (store->conninfo == NULL || store->conns == NULL || store->busy == NULL)
        goto nomem;

    /* The first connection applies the migrations and stays in the pool;
     * the others open when first needed. */
    st = mz_pg_connect(&store->conns[0], conninfo, err, err_len);
    if (st != MZ_OK)
        goto fail;
    migration.audit_key = store->audit_key;
    st = mz_pg_transaction(&store->conns[0], "READ COMMITTED", migrate_body,
                           &migration);
    if (st != MZ_OK) {
        snprintf(err, err_len, "cannot migrate the database schema%s%s: %s",
                 migration.failed ? " at " : "",
                 migration.failed ? migration.failed : "",
                 store->conns[0].message[0] ? store->conns[0].message
                                            : mz_status_code(st));
        goto fail;
    }
    return store;

nomem:
    snprintf(err, err_len, "out of memory opening the store");
fail:
    mz_store_close(store);
    return NULL;
}

void mz_store_close(struct mz_store *store)
{
    if (store == NULL)
        return;
    for (int i = 0; store->conns != NULL && i < store->pool_size; i++)
        mz_pg_conn_reset(&store->conns[i]);
    sodium_memzero(store->audit_key, sizeof store->audit_key);
    pthread_cond_destroy(&store->released);
    pthread_mutex_destroy(&store->lock);
    free(store->busy);
    free(store->conns);
    free(store->conninfo);
    free(store);
}

const char *mz_store_conninfo(const struct mz_store *store)
{
    return store->conninfo;
}

const unsigned char *mz_store_audit_key(const struct mz_store *store)
{
    return store->audit_key;
}

static enum mz_status ping_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_pg_exec(c, &ping_stmt, NULL, NULL, NULL, 0, NULL);
}

enum mz_status mz_store_ping(struct mz_store *store)
{
    enum mz_status st = mz_store_with_conn(store, ping_op, NULL);

    return st == MZ_OK ? MZ_OK : MZ_ERR_DB_UNAVAILABLE;
}

struct change_row {
    const struct mz_pg_stmt *stmt;      /* borrowed */
    const char *param;                  /* borrowed */
    const char *actor;                  /* borrowed */
    const struct mz_log_marker *marker; /* borrowed */
    int64_t position;                   /* out */
};

static enum mz_status change_row_body(struct mz_pg_conn *c, void *ctx)
{
    struct change_row *x = ctx;
    const char *values[2] = {x->param, x->actor};
    PGresult *res = NULL;
    enum mz_status st = mz_pg_exec(c, x->stmt, values, NULL, NULL, 0, &res);
    if (st != MZ_OK)
        return st;
    bool changed = strcmp(PQcmdTuples(res), "0") != 0;
    PQclear(res);
    if (!changed)
        return MZ_ERR_NOT_FOUND; /* rolls back, marker-less */
    return mz_store_append_marker(c, x->marker, &x->position);
}

static enum mz_status change_row_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_store_log_transaction(c, change_row_body, ctx);
}

enum mz_status mz_store_change_row(struct mz_store *store,
                                   const struct mz_pg_stmt *stmt,
                                   const char *param, const char *actor,
                                   const struct mz_log_marker *marker,
                                   int64_t *position)
{
    struct change_row x = {stmt, param, actor, marker, 0};
    enum mz_status st = mz_store_with_conn(store, change_row_op, &x);
    if (st == MZ_OK && position)
        *position = x.position;
    return st;
}

void mz_store_set_node(struct mz_store *store, const char *node_id)
{
    snprintf(store->node, sizeof store->node, "%s", node_id);
}

const char *mz_store_node(const struct mz_store *store)
{
    return store->node;
}
