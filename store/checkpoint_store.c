/*-------------------------------------------------------------------------
 * checkpoint_store.c
 *    Checkpoints of the learned state: client states and the global
 *    snapshot, written as of one log position, read back from one
 *    snapshot, or discarded whole; one checkpoint per node
 *    (store/sql/0007-log-follow.sql).
 *
 * The global snapshot goes first, in parts committed one by one under a
 * fresh snapshot id (store/sql/0010-checkpoint-parts.sql), so that the
 * caller can pace its tens of megabytes; then one transaction writes the
 * client states and the checkpoint row that names the id, and deletes
 * the node's parts it does not name. Until that commit the previous
 * checkpoint stands whole.
 *
 * A node starting adopts the newest checkpoint of any node when it is
 * not its own: a copy, in PostgreSQL, of that node's client states and
 * checkpoint row under its own name, so from then on its records are
 * its own, each as of a position it has itself applied. A state is never
 * written for a client erased at a later position than the state's
 * (the erasures table), and the write holds the erasure lock shared, so
 * it sees every erasure that committed before it.
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
    "INSERT INTO client_state (node, client_id, state, seq) "
    "SELECT DISTINCT ON (id) $4, id, state, $3::bigint "
    "FROM unnest($1::text[], $2::bytea[], $5::text[]) WITH ORDINALITY"
    " AS u(id, state, digest, n) "
    "WHERE NOT EXISTS (SELECT 1 FROM erasures t"
    " WHERE t.digest = u.digest AND t.seq > $3::bigint) "
    "ORDER BY id, n DESC "
    "ON CONFLICT (node, client_id) DO UPDATE "
    "SET state = EXCLUDED.state, seq = EXCLUDED.seq, updated_at = now() "
    "WHERE client_state.seq <= EXCLUDED.seq",
    5};
static const struct mz_pg_stmt states_delete_stmt = {
    MZ_STMT_STATES_DELETE, "mz_states_delete",
    "DELETE FROM client_state "
    "WHERE node = $3 AND client_id = ANY($1::text[]) AND seq <= $2",
    3};
/* $2 NULL: the stored snapshot is still current. */
static const struct mz_pg_stmt checkpoint_put_stmt = {
    MZ_STMT_CHECKPOINT_PUT, "mz_checkpoint_put",
    "INSERT INTO checkpoint (node, seq, snapshot) VALUES ($3, $1, $2) "
    "ON CONFLICT (node) DO UPDATE "
    "SET seq = EXCLUDED.seq, "
    "snapshot = COALESCE(EXCLUDED.snapshot, checkpoint.snapshot), "
    "written_at = now()",
    3};
static const struct mz_pg_stmt snapshot_id_stmt = {
    MZ_STMT_SNAPSHOT_ID, "mz_snapshot_id",
    "SELECT nextval('checkpoint_snapshot_id')", 0};
static const struct mz_pg_stmt snapshot_part_put_stmt = {
    MZ_STMT_SNAPSHOT_PART_PUT, "mz_snapshot_part_put",
    "INSERT INTO checkpoint_part (node, snapshot, part, bytes) "
    "VALUES ($1, $2, $3, $4)",
    4};
/* The node's parts its checkpoint does not name: an earlier snapshot's,
 * or those of a snapshot whose checkpoint never committed. */
static const struct mz_pg_stmt snapshot_parts_prune_stmt = {
    MZ_STMT_SNAPSHOT_PARTS_PRUNE, "mz_snapshot_parts_prune",
    "DELETE FROM checkpoint_part p WHERE p.node = $1 AND p.snapshot IS "
    "DISTINCT FROM (SELECT c.snapshot FROM checkpoint c WHERE c.node = $1)",
    1};
/* The position, the snapshot id (NULL: none) and its parts' count and
 * bytes, so the reader allocates once and sees a missing part. */
static const struct mz_pg_stmt checkpoint_get_stmt = {
    MZ_STMT_CHECKPOINT_GET, "mz_checkpoint_get",
    "SELECT c.seq, c.snapshot, count(p.part), "
    "coalesce(sum(octet_length(p.bytes)), 0)::bigint "
    "FROM checkpoint c LEFT JOIN checkpoint_part p "
    "ON p.node = c.node AND p.snapshot = c.snapshot "
    "WHERE c.node = $1 GROUP BY c.seq, c.snapshot",
    1};
static const struct mz_pg_stmt snapshot_parts_get_stmt = {
    MZ_STMT_SNAPSHOT_PARTS_GET, "mz_snapshot_parts_get",
    "SELECT part::bigint, bytes FROM checkpoint_part "
    "WHERE node = $1 AND snapshot = $2 ORDER BY part",
    2};
static const struct mz_pg_stmt checkpoint_discard_stmt = {
    MZ_STMT_CHECKPOINT_DISCARD, "mz_checkpoint_discard",
    "WITH s AS (DELETE FROM client_state WHERE node = $1), "
    "p AS (DELETE FROM checkpoint_part WHERE node = $1) "
    "DELETE FROM checkpoint WHERE node = $1",
    1};
static const struct mz_pg_stmt states_load_stmt = {
    MZ_STMT_STATES_LOAD, "mz_states_load",
    "SELECT client_id, state FROM client_state WHERE node = $1", 1};
/* The newest checkpoint of any node, this node's ($1) on a tie. */
static const struct mz_pg_stmt checkpoint_newest_stmt = {
    MZ_STMT_CHECKPOINT_NEWEST, "mz_checkpoint_newest",
    "SELECT node FROM checkpoint ORDER BY seq DESC, node = $1 DESC LIMIT 1", 1};
static const struct mz_pg_stmt states_clear_stmt = {
    MZ_STMT_STATES_CLEAR, "mz_states_clear",
    "WITH p AS (DELETE FROM checkpoint_part WHERE node = $1) "
    "DELETE FROM client_state WHERE node = $1",
    1};
/* Node $2's states and checkpoint row become $1's, from one snapshot
 * (one statement), so the copied states are as of the copied seq. */
static const struct mz_pg_stmt checkpoint_adopt_stmt = {
    MZ_STMT_CHECKPOINT_ADOPT, "mz_checkpoint_adopt",
    "WITH copied AS (INSERT INTO client_state (node, client_id, state, seq,"
    " updated_at) SELECT $1, client_id, state, seq, updated_at"
    " FROM client_state WHERE node = $2), "
    "parts AS (INSERT INTO checkpoint_part (node, snapshot, part, bytes)"
    " SELECT $1, p.snapshot, p.part, p.bytes FROM checkpoint_part p"
    " JOIN checkpoint c ON c.node = p.node AND c.snapshot = p.snapshot"
    " WHERE p.node = $2) "
    "INSERT INTO checkpoint (node, seq, snapshot)"
    " SELECT $1, seq, snapshot FROM checkpoint WHERE node = $2 "
    "ON CONFLICT (node) DO UPDATE SET seq = EXCLUDED.seq,"
    " snapshot = EXCLUDED.snapshot, written_at = now()",
    2};

/* Client states per statement: a pause can fall between two, and one
 * statement (about 0.6 MB of day-old records) is a short burst. */
#define STATES_PER_STATEMENT 256

struct checkpoint_put_ctx {
    const struct mz_store *store;
    int64_t seq;
    const struct mz_client_blob *clients;
    size_t n_clients;
    const char *global;
    size_t global_len;
    const struct mz_store_pace *pace; /* NULL: no pauses */
    size_t total;                     /* bytes of the snapshot and states */
    size_t done;                      /* of total, sent */
    char snapshot[24];                /* id of the parts written, "" none */
};

static void paced(struct checkpoint_put_ctx *x, size_t bytes)
{
    x->done += bytes;
    if (x->pace)
        x->pace->after_part(x->pace->ctx, x->done, x->total);
}

/* The global snapshot's parts under a fresh id, each committed alone. */
static enum mz_status snapshot_put_op(struct mz_pg_conn *c, void *ctx)
{
    struct checkpoint_put_ctx *x = ctx;
    PGresult *res = NULL;

    x->done = 0; /* a rerun starts over, under a new id */
    enum mz_status st =
        mz_pg_exec(c, &snapshot_id_stmt, NULL, NULL, NULL, 1, &res);
    if (st != MZ_OK)
        return st;
    snprintf(x->snapshot, sizeof x->snapshot, "%" PRId64,
             mz_pg_get_int8(PQgetvalue(res, 0, 0)));
    PQclear(res);
    for (size_t off = 0, part = 0; off < x->global_len && st == MZ_OK; part++) {
        size_t len = x->global_len - off < MZ_STORE_SNAPSHOT_PART_BYTES
                         ? x->global_len - off
                         : MZ_STORE_SNAPSHOT_PART_BYTES;
        char part_text[24];
        snprintf(part_text, sizeof part_text, "%zu", part);
        const char *values[4] = {mz_store_node(x->store), x->snapshot,
                                 part_text, x->global + off};
        const int lengths[4] = {0, 0, 0, (int)len};
        const int formats[4] = {0, 0, 0, 1};
        st = mz_pg_exec(c, &snapshot_part_put_stmt, values, lengths, formats, 0,
                        NULL);
        off += len;
        if (st == MZ_OK)
            paced(x, len);
    }
    return st;
}

/* Upserts (or, with deletes, removes) clients[from..to) that have (or
 * lack) bytes, in one statement. */
static enum mz_status states_chunk(struct mz_pg_conn *c,
                                   const struct checkpoint_put_ctx *x,
                                   size_t from, size_t to, bool deletes)
{
    struct mz_pg_array ids, states, digests;
    char seq[24];
    const char *values[5];
    int lengths[5] = {0, 0, 0, 0, 0};
    int formats[5] = {1, 1, 0, 0, 1};
    enum mz_status st = MZ_OK;

    snprintf(seq, sizeof seq, "%" PRId64, x->seq);
    mz_pg_array_init(&ids, MZ_PG_OID_TEXT);
    mz_pg_array_init(&states, MZ_PG_OID_BYTEA);
    mz_pg_array_init(&digests, MZ_PG_OID_TEXT);
    for (size_t i = from; i < to; i++) {
        const struct mz_client_blob *b = &x->clients[i];

        if ((b->bytes == NULL) != deletes)
            continue;
        mz_pg_array_add_text(&ids, b->client_id);
        if (!deletes) {
            char digest[MZ_AUDIT_DIGEST_BYTES];
            mz_store_client_digest(x->store, b->client_id, digest);
            mz_pg_array_add_bytes(&states, b->bytes, b->len);
            mz_pg_array_add_text(&digests, digest);
        }
    }
    if (!mz_pg_array_finish(&ids) || !mz_pg_array_finish(&states) ||
        !mz_pg_array_finish(&digests)) {
        st = MZ_ERR_NOMEM;
        goto cleanup;
    }
    if (ids.n == 0)
        goto cleanup;
    values[0] = ids.buf;
    lengths[0] = (int)ids.len;
    if (deletes) {
        values[1] = seq;
        formats[1] = 0;
        values[2] = mz_store_node(x->store);
        st = mz_pg_exec(c, &states_delete_stmt, values, lengths, formats, 0,
                        NULL);
    } else {
        values[1] = states.buf;
        lengths[1] = (int)states.len;
        values[2] = seq;
        values[3] = mz_store_node(x->store);
        values[4] = digests.buf;
        lengths[4] = (int)digests.len;
        st = mz_pg_exec(c, &states_upsert_stmt, values, lengths, formats, 0,
                        NULL);
    }

cleanup:
    mz_pg_array_release(&digests);
    mz_pg_array_release(&states);
    mz_pg_array_release(&ids);
    return st;
}

static enum mz_status checkpoint_put_body(struct mz_pg_conn *c, void *ctx)
{
    struct checkpoint_put_ctx *x = ctx;
    char seq[24];
    const char *node = mz_store_node(x->store);
    const char *values[3] = {seq, x->snapshot[0] ? x->snapshot : NULL, node};
    enum mz_status st = mz_pg_exec_simple(c, MZ_ERASURE_LOCK_SHARED_SQL);

    x->done = x->global_len; /* a retried transaction recounts */
    for (size_t from = 0; from < x->n_clients && st == MZ_OK;
         from += STATES_PER_STATEMENT) {
        size_t to = from + STATES_PER_STATEMENT < x->n_clients
                        ? from + STATES_PER_STATEMENT
                        : x->n_clients;
        size_t bytes = 0;
        for (size_t i = from; i < to; i++)
            bytes += x->clients[i].len;

        st = states_chunk(c, x, from, to, false);
        if (st == MZ_OK)
            st = states_chunk(c, x, from, to, true);
        if (st == MZ_OK)
            paced(x, bytes);
    }
    if (st != MZ_OK)
        return st;
    snprintf(seq, sizeof seq, "%" PRId64, x->seq);
    st = mz_pg_exec(c, &checkpoint_put_stmt, values, NULL, NULL, 0, NULL);
    if (st == MZ_OK)
        st = mz_pg_exec(c, &snapshot_parts_prune_stmt, &node, NULL, NULL, 0,
                        NULL);
    return st;
}

static enum mz_status checkpoint_put_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_pg_transaction(c, "READ COMMITTED", checkpoint_put_body, ctx);
}

enum mz_status mz_store_write_checkpoint(struct mz_store *store, int64_t seq,
                                         const struct mz_client_blob *clients,
                                         size_t n_clients, const void *global,
                                         size_t global_len,
                                         const struct mz_store_pace *pace)
{
    struct checkpoint_put_ctx x = {.store = store,
                                   .seq = seq,
                                   .clients = clients,
                                   .n_clients = n_clients,
                                   .global = global,
                                   .global_len = global ? global_len : 0,
                                   .pace = pace,
                                   .total = global ? global_len : 0};

    /* A snapshot is read back into one allocation of its whole length. */
    if (x.global_len > INT32_MAX)
        return MZ_ERR_TOO_LARGE;
    for (size_t i = 0; i < n_clients; i++) {
        if (clients[i].client_id == NULL || clients[i].len > INT32_MAX)
            return MZ_ERR_INVALID;
        x.total += clients[i].len;
    }
    enum mz_status st = MZ_OK;
    /* An empty snapshot is still one: an id with no parts. */
    if (global)
        st = mz_store_with_conn(store, snapshot_put_op, &x);
    if (st == MZ_OK)
        st = mz_store_with_conn(store, checkpoint_put_op, &x);
    return st;
}

static enum mz_status checkpoint_discard_op(struct mz_pg_conn *c, void *ctx)
{
    const char *values[1] = {ctx};
    return mz_pg_exec(c, &checkpoint_discard_stmt, values, NULL, NULL, 0, NULL);
}

enum mz_status mz_store_discard_checkpoint(struct mz_store *store)
{
    return mz_store_with_conn(store, checkpoint_discard_op,
                              (void *)mz_store_node(store));
}

static enum mz_status checkpoint_adopt_body(struct mz_pg_conn *c, void *ctx)
{
    const char *values[2] = {ctx, NULL};
    PGresult *res = NULL;
    /* Shared erasure lock: an erasure committed before the copy is in
     * its snapshot, one after it deletes the copied rows too. */
    enum mz_status st = mz_pg_exec_simple(c, MZ_ERASURE_LOCK_SHARED_SQL);
    if (st == MZ_OK)
        st =
            mz_pg_exec(c, &checkpoint_newest_stmt, values, NULL, NULL, 0, &res);
    if (st != MZ_OK || PQntuples(res) == 0 ||
        strcmp(PQgetvalue(res, 0, 0), values[0]) == 0) {
        PQclear(res);
        return st; /* no checkpoint, or this node's is the newest */
    }
    char source[MZ_NODE_ID_MAX + 1];
    snprintf(source, sizeof source, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    values[1] = source;
    st = mz_pg_exec(c, &states_clear_stmt, values, NULL, NULL, 0, NULL);
    if (st == MZ_OK)
        st = mz_pg_exec(c, &checkpoint_adopt_stmt, values, NULL, NULL, 0, NULL);
    /* Node '' is an installation from before per-node checkpoints: its
     * copy moves rather than stays behind. */
    if (st == MZ_OK && source[0] == '\0')
        st = mz_pg_exec_simple(c, "WITH s AS (DELETE FROM client_state WHERE"
                                  " node = ''), p AS (DELETE FROM"
                                  " checkpoint_part WHERE node = '')"
                                  " DELETE FROM checkpoint WHERE node = ''");
    return st;
}

static enum mz_status checkpoint_adopt_op(struct mz_pg_conn *c, void *ctx)
{
    return mz_pg_transaction(c, "READ COMMITTED", checkpoint_adopt_body, ctx);
}

struct checkpoint_get_ctx {
    const char *node;
    int64_t seq;
    void *global; /* owned until handed to the caller */
    size_t global_len;
    size_t parts_read; /* of the snapshot, in order */
    size_t bytes_read; /* of global_len */
    mz_store_client_fn fn;
    void *ctx;
};

/* Appends one part; false (a part missing or out of place, or more bytes
 * than counted) stops the read. */
static bool snapshot_part_row(void *ctx, const PGresult *res)
{
    struct checkpoint_get_ctx *x = ctx;
    size_t len = (size_t)PQgetlength(res, 0, 1);

    if (mz_pg_get_int8(PQgetvalue(res, 0, 0)) != (int64_t)x->parts_read ||
        len > x->global_len - x->bytes_read)
        return false;
    memcpy((char *)x->global + x->bytes_read, PQgetvalue(res, 0, 1), len);
    x->bytes_read += len;
    x->parts_read++;
    return true;
}

/* Reads the snapshot whose id and size the checkpoint row gave. */
static enum mz_status snapshot_get(struct mz_pg_conn *c,
                                   struct checkpoint_get_ctx *x,
                                   int64_t snapshot, int64_t parts)
{
    char id[24];
    const char *values[2] = {x->node, id};

    snprintf(id, sizeof id, "%" PRId64, snapshot);
    /* One spare byte so an empty snapshot is still non-NULL. */
    x->global = malloc(x->global_len + 1);
    if (x->global == NULL)
        return MZ_ERR_NOMEM;
    x->parts_read = 0;
    x->bytes_read = 0;
    enum mz_status st = mz_pg_stream(c, &snapshot_parts_get_stmt, values, NULL,
                                     NULL, 1, snapshot_part_row, x);
    if (st == MZ_ERR_CONFLICT ||
        (st == MZ_OK &&
         ((int64_t)x->parts_read != parts || x->bytes_read != x->global_len)))
        return MZ_ERR_INVALID;
    return st;
}

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
    const char *values[1] = {x->node};
    st = mz_pg_exec(c, &checkpoint_get_stmt, values, NULL, NULL, 1, &res);
    if (st != MZ_OK)
        return st;
    int64_t snapshot = 0, parts = 0, bytes = 0;
    bool has_snapshot = PQntuples(res) == 1 && !PQgetisnull(res, 0, 1);
    if (PQntuples(res) == 1)
        x->seq = mz_pg_get_int8(PQgetvalue(res, 0, 0));
    if (has_snapshot) {
        snapshot = mz_pg_get_int8(PQgetvalue(res, 0, 1));
        parts = mz_pg_get_int8(PQgetvalue(res, 0, 2));
        bytes = mz_pg_get_int8(PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    if (has_snapshot) {
        if (bytes < 0 || (uint64_t)bytes >= SIZE_MAX)
            return MZ_ERR_INVALID;
        x->global_len = (size_t)bytes;
        st = snapshot_get(c, x, snapshot, parts);
        if (st != MZ_OK)
            return st;
    }
    if (x->fn == NULL)
        return MZ_OK;
    st =
        mz_pg_stream(c, &states_load_stmt, values, NULL, NULL, 1, state_row, x);
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
    struct checkpoint_get_ctx x = {
        .node = mz_store_node(store), .fn = fn, .ctx = ctx};
    enum mz_status st = mz_store_with_conn(store, checkpoint_adopt_op,
                                           (void *)mz_store_node(store));
    if (st == MZ_OK)
        st = mz_store_with_conn(store, checkpoint_get_op, &x);

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
