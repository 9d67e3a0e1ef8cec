/*-------------------------------------------------------------------------
 * store.c
 *    The connection pool and every store call except the event writer:
 *    migrations, catalog, brand rules, client attributes, erasure,
 *    checkpoints, and the log scan used at startup.
 *
 * Each call borrows a connection from the pool, (re)connecting it when it
 * is closed or broken, and runs named statements that are prepared on that
 * connection when first used. When a connection that was idle in the pool
 * turns out to be dead (the server restarted meanwhile), the call is run
 * once more on a fresh connection before MZ_ERR_DB_UNAVAILABLE is given.
 *
 * Interface routines: see store.h.
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"

/* Rows per statement when a call carries many (catalog upserts,
 * checkpoints): large enough to amortise the round trip, small enough to
 * stay far below PostgreSQL's 1 GB limit on one parameter. */
#define MZ_STORE_CHUNK_ROWS 2000

/* Key of the advisory lock that serialises migrations between processes
 * starting at once ("maison" in ASCII). */
#define MZ_STORE_MIGRATION_LOCK "120265148428142"

struct mz_store {
    char *conninfo;              /* owned */
    pthread_mutex_t lock;        /* guards busy[] */
    pthread_cond_t released;     /* a connection went back to the pool */
    int pool_size;
    struct mz_pg_conn *conns;    /* owned, pool_size of them */
    bool *busy;                  /* owned, pool_size of them */
};

/* ---- statements -------------------------------------------------------
 * One table, so each statement has a stable name and id for the
 * per-connection "prepared" set. */
enum {
    S_PING,
    S_ITEMS_UPSERT,
    S_ITEM_DELETE,
    S_ITEMS_LOAD,
    S_RULES_LOCK,
    S_RULES_PUT,
    S_RULES_LOAD,
    S_ATTRIBUTES_PUT,
    S_ATTRIBUTES_LOAD,
    S_CLIENT_DELETE,
    S_STATES_UPSERT,
    S_STATES_DELETE,
    S_CHECKPOINT_PUT,
    S_CHECKPOINT_GET,
    S_CHECKPOINT_DISCARD,
    S_STATES_LOAD,
    S_CLIENT_LOAD,
    S_EVENTS_SCAN,
    S_COUNT
};

static const struct mz_pg_stmt stmts[S_COUNT] = {
    [S_PING] = {S_PING, "mz_ping", "SELECT 1", 0},
    /* Within one call the last document of an id wins; new items take
     * their place in the catalog order in the order given. */
    [S_ITEMS_UPSERT] = {S_ITEMS_UPSERT, "mz_items_upsert",
        "INSERT INTO items (item_id, doc) "
        "SELECT id, doc::jsonb FROM ("
        "  SELECT DISTINCT ON (id) id, doc, n"
        "  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(id, doc, n)"
        "  ORDER BY id, n DESC) AS last ORDER BY n "
        "ON CONFLICT (item_id) DO UPDATE "
        "SET doc = EXCLUDED.doc, deleted = false, updated_at = now()", 2},
    /* A flag, not a DELETE: the row keeps its place in the catalog order
     * (see store/sql/0002-item-soft-delete.sql). */
    [S_ITEM_DELETE] = {S_ITEM_DELETE, "mz_item_delete",
        "UPDATE items SET deleted = true, updated_at = now() "
        "WHERE item_id = $1 AND NOT deleted", 1},
    [S_ITEMS_LOAD] = {S_ITEMS_LOAD, "mz_items_load",
        "SELECT item_id, doc::text, deleted FROM items ORDER BY ord", 0},
    /* Runs after S_RULES_LOCK in the same transaction: writers of one
     * brand queue on the lock, and READ COMMITTED gives this statement a
     * snapshot taken after the previous writer committed. (SERIALIZABLE
     * alone made racing writers retry until they gave up.) */
    [S_RULES_LOCK] = {S_RULES_LOCK, "mz_rules_lock",
        "SELECT pg_advisory_xact_lock(hashtext('mz_brand_rules:' || $1))", 1},
    [S_RULES_PUT] = {S_RULES_PUT, "mz_rules_put",
        "INSERT INTO brand_rules (brand, version, doc) "
        "SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb "
        "FROM brand_rules WHERE brand = $1 RETURNING version", 2},
    [S_RULES_LOAD] = {S_RULES_LOAD, "mz_rules_load",
        "SELECT DISTINCT ON (brand) brand, version, doc::text "
        "FROM brand_rules ORDER BY brand, version DESC", 0},
    [S_ATTRIBUTES_PUT] = {S_ATTRIBUTES_PUT, "mz_attributes_put",
        "INSERT INTO client_attributes (client_id, doc) VALUES ($1, $2::jsonb) "
        "ON CONFLICT (client_id) DO UPDATE "
        "SET doc = EXCLUDED.doc, updated_at = now()", 2},
    [S_ATTRIBUTES_LOAD] = {S_ATTRIBUTES_LOAD, "mz_attributes_load",
        "SELECT client_id, doc::text FROM client_attributes "
        "ORDER BY client_id", 0},
    /* One statement is one transaction: every trace goes, or none. */
    [S_CLIENT_DELETE] = {S_CLIENT_DELETE, "mz_client_delete",
        "WITH e AS (DELETE FROM events WHERE client_id = $1),"
        " s AS (DELETE FROM client_state WHERE client_id = $1) "
        "DELETE FROM client_attributes WHERE client_id = $1", 1},
    /* A state only replaces one at most as new (seq), so a stale node
     * cannot clobber a newer state. */
    [S_STATES_UPSERT] = {S_STATES_UPSERT, "mz_states_upsert",
        "INSERT INTO client_state (client_id, state, seq) "
        "SELECT DISTINCT ON (id) id, state, $3 "
        "FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS u(id, state, n) "
        "ORDER BY id, n DESC "
        "ON CONFLICT (client_id) DO UPDATE "
        "SET state = EXCLUDED.state, seq = EXCLUDED.seq, updated_at = now() "
        "WHERE client_state.seq <= EXCLUDED.seq", 3},
    [S_STATES_DELETE] = {S_STATES_DELETE, "mz_states_delete",
        "DELETE FROM client_state "
        "WHERE client_id = ANY($1::text[]) AND seq <= $2", 2},
    [S_CHECKPOINT_PUT] = {S_CHECKPOINT_PUT, "mz_checkpoint_put",
        "INSERT INTO checkpoint (id, seq, global) VALUES (true, $1, $2) "
        "ON CONFLICT (id) DO UPDATE "
        "SET seq = EXCLUDED.seq, "
        "global = COALESCE(EXCLUDED.global, checkpoint.global), "
        "written_at = now()",
        2},
    [S_CHECKPOINT_GET] = {S_CHECKPOINT_GET, "mz_checkpoint_get",
        "SELECT seq, global FROM checkpoint", 0},
    /* One statement, so the checkpoint goes whole or not at all. */
    [S_CHECKPOINT_DISCARD] = {S_CHECKPOINT_DISCARD, "mz_checkpoint_discard",
        "WITH s AS (DELETE FROM client_state) DELETE FROM checkpoint", 0},
    [S_STATES_LOAD] = {S_STATES_LOAD, "mz_states_load",
        "SELECT client_id, state FROM client_state", 0},
    /* One row whether or not either exists: NULLs for what is absent. */
    [S_CLIENT_LOAD] = {S_CLIENT_LOAD, "mz_client_load",
        "SELECT s.state, a.doc::text FROM (SELECT $1::text AS id) AS x "
        "LEFT JOIN client_state s ON s.client_id = x.id "
        "LEFT JOIN client_attributes a ON a.client_id = x.id", 1},
    [S_EVENTS_SCAN] = {S_EVENTS_SCAN, "mz_events_scan",
        "SELECT seq, event_id, client_id, item_id, type,"
        " extract(epoch FROM ts)::bigint, channel, value, quantity, dwell_ms "
        "FROM events WHERE seq > $1 ORDER BY seq", 1},
};

/* ---- the pool -------------------------------------------------------- */

typedef enum mz_status (*store_op)(struct mz_pg_conn *c, void *ctx);

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

    *reused = mz_pg_conn_ok(&store->conns[idx]);
    if (!*reused &&
        mz_pg_connect(&store->conns[idx], store->conninfo, err, sizeof err) !=
            MZ_OK) {
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
    if (c->conn != NULL && (PQstatus(c->conn) != CONNECTION_OK ||
                            PQtransactionStatus(c->conn) != PQTRANS_IDLE))
        mz_pg_conn_reset(c);
    pthread_mutex_lock(&store->lock);
    store->busy[idx] = false;
    pthread_cond_signal(&store->released);
    pthread_mutex_unlock(&store->lock);
}

/* Runs op on a pooled connection. */
static enum mz_status with_conn(struct mz_store *store, store_op op, void *ctx)
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
    st = op(c, ctx);
    /* A pooled connection may have died while idle (server restart): run
     * again once on a new one, unless rows were already handed out. */
    if (st == MZ_ERR_DB_UNAVAILABLE && reused && c->rows_streamed == 0 &&
        mz_pg_connect(c, store->conninfo, err, sizeof err) == MZ_OK)
        st = op(c, ctx);
    release(store, idx);
    return st;
}

/* ---- open, migrations ------------------------------------------------ */

struct migrate_ctx {
    int applied;
    const char *failed;          /* name of the migration that failed */
};

static enum mz_status migrate_body(struct mz_pg_conn *c, void *ctx)
{
    struct migrate_ctx *x = ctx;
    PGresult *res = NULL;
    int current;
    enum mz_status st;

    /* The lock is held until COMMIT, so a second process starting at the
     * same moment waits here and then finds the migrations applied. */
    st = mz_pg_exec_simple(c, "SELECT pg_advisory_xact_lock("
                              MZ_STORE_MIGRATION_LOCK ")");
    if (st != MZ_OK)
        return st;
    st = mz_pg_exec_simple(c,
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    if (st != MZ_OK)
        return st;
    res = PQexec(c->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
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
    return MZ_OK;
}

struct mz_store *mz_store_open(const char *conninfo, int pool_size, char *err,
                               size_t err_len)
{
    struct mz_store *store = NULL;
    enum mz_status st;
    struct migrate_ctx migration = {0, NULL};

    if (pool_size < 1)
        pool_size = 1;
    store = calloc(1, sizeof *store);
    if (store == NULL)
        goto nomem;
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

static enum mz_status ping_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_pg_exec(c, &stmts[S_PING], NULL, NULL, NULL, 0, NULL);
}

enum mz_status mz_store_ping(struct mz_store *store)
{
    enum mz_status st = with_conn(store, ping_op, NULL);

    return st == MZ_OK ? MZ_OK : MZ_ERR_DB_UNAVAILABLE;
}

/* ---- catalog --------------------------------------------------------- */

struct items_ctx {
    const char *const *ids;
    const char *const *docs;
    size_t n;
};

static enum mz_status items_upsert_body(struct mz_pg_conn *c, void *ctx)
{
    struct items_ctx *x = ctx;
    enum mz_status st = MZ_OK;

    for (size_t from = 0; from < x->n && st == MZ_OK;
         from += MZ_STORE_CHUNK_ROWS) {
        size_t to = from + MZ_STORE_CHUNK_ROWS < x->n ? from + MZ_STORE_CHUNK_ROWS
                                                      : x->n;
        struct mz_pg_array ids, docs;
        const char *values[2];
        int lengths[2];
        const int formats[2] = {1, 1};

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
            st = mz_pg_exec(c, &stmts[S_ITEMS_UPSERT], values, lengths, formats,
                            0, NULL);
        }
        mz_pg_array_release(&docs);
        mz_pg_array_release(&ids);
    }
    return st;
}

static enum mz_status items_upsert_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_pg_transaction(c, "READ COMMITTED", items_upsert_body, ctx);
}

enum mz_status mz_store_upsert_items(struct mz_store *store,
                                     const char *const *ids,
                                     const char *const *docs, size_t n)
{
    struct items_ctx x = {ids, docs, n};

    for (size_t i = 0; i < n; i++)
        if (ids[i] == NULL || docs[i] == NULL)
            return MZ_ERR_INVALID;
    if (n == 0)
        return MZ_OK;
    return with_conn(store, items_upsert_op, &x);
}

static enum mz_status item_delete_op(struct mz_pg_conn *c, void *ctx)
{
    const char *values[1] = {ctx};
    PGresult *res;
    enum mz_status st;

    st = mz_pg_exec(c, &stmts[S_ITEM_DELETE], values, NULL, NULL, 0, &res);
    if (st != MZ_OK)
        return st;
    if (strcmp(PQcmdTuples(res), "0") == 0)
        st = MZ_ERR_NOT_FOUND;
    PQclear(res);
    return st;
}

enum mz_status mz_store_delete_item(struct mz_store *store, const char *id)
{
    return with_conn(store, item_delete_op, (void *)id);
}

/* Loaders that hand (text, text) rows to a callback. */
struct pairs_ctx {
    int stmt;
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

    st = mz_pg_stream(c, &stmts[x->stmt], NULL, NULL, NULL, 0, pair_row, x);
    return st == MZ_ERR_CONFLICT ? MZ_ERR_INVALID : st;
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
    enum mz_status st = mz_pg_stream(c, &stmts[S_ITEMS_LOAD], NULL, NULL,
                                     NULL, 0, item_row, ctx);

    return st == MZ_ERR_CONFLICT ? MZ_ERR_INVALID : st;
}

enum mz_status mz_store_load_items(struct mz_store *store, mz_store_item_fn fn,
                                   void *ctx)
{
    struct items_load_ctx x = {fn, ctx};

    return with_conn(store, items_load_op, &x);
}

/* ---- brand rules ----------------------------------------------------- */

struct rules_put_ctx {
    const char *brand;
    const char *doc;
    int64_t version;
};

static enum mz_status rules_put_body(struct mz_pg_conn *c, void *ctx)
{
    struct rules_put_ctx *x = ctx;
    const char *values[2] = {x->brand, x->doc};
    PGresult *res;
    enum mz_status st;

    st = mz_pg_exec(c, &stmts[S_RULES_LOCK], values, NULL, NULL, 0, NULL);
    if (st != MZ_OK)
        return st;
    st = mz_pg_exec(c, &stmts[S_RULES_PUT], values, NULL, NULL, 0, &res);
    if (st != MZ_OK)
        return st;
    x->version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return MZ_OK;
}

static enum mz_status rules_put_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_pg_transaction(c, "READ COMMITTED", rules_put_body, ctx);
}

enum mz_status mz_store_put_rules(struct mz_store *store, const char *brand,
                                  const char *doc, int64_t *version)
{
    struct rules_put_ctx x = {brand, doc, 0};
    enum mz_status st = with_conn(store, rules_put_op, &x);

    if (st == MZ_OK && version != NULL)
        *version = x.version;
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

    st = mz_pg_stream(c, &stmts[S_RULES_LOAD], NULL, NULL, NULL, 0, rules_row,
                      ctx);
    return st == MZ_ERR_CONFLICT ? MZ_ERR_INVALID : st;
}

enum mz_status mz_store_load_rules(struct mz_store *store, mz_store_rules_fn fn,
                                   void *ctx)
{
    struct rules_load_ctx x = {fn, ctx};

    return with_conn(store, rules_load_op, &x);
}

/* ---- client attributes, erasure -------------------------------------- */

struct two_params {
    int stmt;
    const char *a;
    const char *b;
};

static enum mz_status two_params_op(struct mz_pg_conn *c, void *ctx)
{
    struct two_params *x = ctx;
    const char *values[2] = {x->a, x->b};

    return mz_pg_exec(c, &stmts[x->stmt], values, NULL, NULL, 0, NULL);
}

enum mz_status mz_store_put_client_attributes(struct mz_store *store,
                                              const char *client_id,
                                              const char *doc)
{
    struct two_params x = {S_ATTRIBUTES_PUT, client_id, doc};

    return with_conn(store, two_params_op, &x);
}

enum mz_status mz_store_load_client_attributes(struct mz_store *store,
                                               mz_store_attributes_fn fn,
                                               void *ctx)
{
    struct pairs_ctx x = {S_ATTRIBUTES_LOAD, fn, ctx};

    return with_conn(store, pairs_op, &x);
}

enum mz_status mz_store_delete_client(struct mz_store *store,
                                      const char *client_id)
{
    struct two_params x = {S_CLIENT_DELETE, client_id, NULL};

    return with_conn(store, two_params_op, &x);
}

/* ---- checkpoints ----------------------------------------------------- */

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
        st = mz_pg_exec(c, &stmts[S_STATES_DELETE], values, lengths, formats, 0,
                        NULL);
    } else {
        values[1] = states.buf;
        lengths[1] = (int)states.len;
        values[2] = seq;
        lengths[2] = 0;
        st = mz_pg_exec(c, &stmts[S_STATES_UPSERT], values, lengths, formats, 0,
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
    return mz_pg_exec(c, &stmts[S_CHECKPOINT_PUT], values, lengths, formats, 0,
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
    return with_conn(store, checkpoint_put_op, &x);
}

static enum mz_status checkpoint_discard_op(struct mz_pg_conn *c, void *ctx)
{
    (void)ctx;
    return mz_pg_exec(c, &stmts[S_CHECKPOINT_DISCARD], NULL, NULL, NULL, 0,
                      NULL);
}

enum mz_status mz_store_discard_checkpoint(struct mz_store *store)
{
    return with_conn(store, checkpoint_discard_op, NULL);
}

struct checkpoint_get_ctx {
    int64_t seq;
    void *global;                /* owned until handed to the caller */
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
    st = mz_pg_exec(c, &stmts[S_CHECKPOINT_GET], NULL, NULL, NULL, 1, &res);
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
    st = mz_pg_stream(c, &stmts[S_STATES_LOAD], NULL, NULL, NULL, 1, state_row,
                      x);
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
    enum mz_status st = with_conn(store, checkpoint_get_op, &x);

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
    enum mz_status st = mz_pg_exec(c, &stmts[S_CLIENT_LOAD], values, NULL,
                                   NULL, 1, &res);

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
    enum mz_status st = with_conn(store, client_load_op, &x);
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

/* ---- the event log --------------------------------------------------- */

struct scan_ctx {
    int64_t after_seq;
    mz_store_event_fn fn;
    void *ctx;
    bool bad_type;
};

static bool event_row(void *ctx, const PGresult *res)
{
    struct scan_ctx *x = ctx;
    struct mz_event_record ev;

    memset(&ev, 0, sizeof ev);
    ev.seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    ev.event_id = PQgetvalue(res, 0, 1);
    ev.client_id = PQgetvalue(res, 0, 2);
    ev.item_id = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
    if (!mz_event_type_parse(PQgetvalue(res, 0, 4), &ev.type)) {
        /* Written by a newer maisond: replaying it wrongly would corrupt
         * the model, so stop. */
        x->bad_type = true;
        return false;
    }
    ev.ts = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    ev.channel = PQgetisnull(res, 0, 6) ? NULL : PQgetvalue(res, 0, 6);
    ev.value = strtod(PQgetvalue(res, 0, 7), NULL);
    ev.quantity = (int32_t)strtol(PQgetvalue(res, 0, 8), NULL, 10);
    ev.dwell_ms = (int32_t)strtol(PQgetvalue(res, 0, 9), NULL, 10);
    ev.item_index = -1;
    return x->fn(x->ctx, &ev);
}

static enum mz_status scan_op(struct mz_pg_conn *c, void *ctx)
{
    struct scan_ctx *x = ctx;
    char after[24];
    const char *values[1] = {after};
    enum mz_status st;

    snprintf(after, sizeof after, "%" PRId64, x->after_seq);
    st = mz_pg_stream(c, &stmts[S_EVENTS_SCAN], values, NULL, NULL, 0,
                      event_row, x);
    if (st == MZ_ERR_CONFLICT)
        st = x->bad_type ? MZ_ERR_INTERNAL : MZ_OK;
    return st;
}

enum mz_status mz_store_scan_events(struct mz_store *store, int64_t after_seq,
                                    mz_store_event_fn fn, void *ctx)
{
    struct scan_ctx x = {after_seq, fn, ctx, false};

    return with_conn(store, scan_op, &x);
}
