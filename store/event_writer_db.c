/*-------------------------------------------------------------------------
 * event_writer_db.c
 *    The event-log writer's database work, on its own connection: a
 *    batch's one transaction (log lock, the rows others committed since
 *    the last read, the INSERT, COMMIT), the recovery of a batch whose
 *    connection broke, the reads of the log, the node's heartbeat. Called
 *    by the writer thread only (event_writer.c).
 *-------------------------------------------------------------------------
 */
#include "store/event_writer_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

enum { S_INSERT, S_RECOVER, S_LAST_SEQ, S_FOLLOW, S_HEARTBEAT };

static const struct mz_pg_stmt writer_stmts[] = {
    /* ORDER BY n: seq follows submission order within the batch, so one
     * client's events keep their order in the log. */
    /* A consent marker is a change of the client's consent: its audit row
     * (store/sql/0006-audit.sql) commits with it, in the same statement;
     * $11 and $12 are empty for a batch without markers. */
    [S_INSERT] =
        {S_INSERT, "mz_events_insert",
         "WITH ins AS (INSERT INTO events (event_id, client_id, item_id, type,"
         " ts, channel, value, quantity, dwell_ms, brand) "
         "SELECT e, c, i, t, to_timestamp(s), ch, v, q, d, b "
         "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
         " $5::int8[], $6::text[], $7::float8[], $8::int4[], $9::int4[],"
         " $10::text[])"
         " WITH ORDINALITY AS u(e, c, i, t, s, ch, v, q, d, b, n) "
         "ORDER BY n "
         "ON CONFLICT (event_id) DO NOTHING "
         "RETURNING event_id, seq, client_id, type), "
         "audited AS (INSERT INTO audit (key_id, action, target, version,"
         " detail) "
         "SELECT m.actor, 'client.consent', ins.client_id, ins.seq,"
         " jsonb_build_object('personalization',"
         " ins.type = 'consent_granted') "
         "FROM unnest($11::text[], $12::text[]) AS m(event_id, actor) "
         "JOIN ins ON ins.event_id = m.event_id) "
         "SELECT event_id, seq FROM ins",
         MZ_WRITER_COLUMNS},
    /* After a connection broke mid-statement we cannot know whether the
     * INSERT committed; rows of the batch newer than our last known seq
     * are ours. */
    [S_RECOVER] = {S_RECOVER, "mz_events_recover",
                   "SELECT event_id, seq FROM events "
                   "WHERE seq > $1 AND event_id = ANY($2::text[])",
                   2},
    [S_LAST_SEQ] = {S_LAST_SEQ, "mz_events_writer_last_seq",
                    "SELECT coalesce(max(seq), 0) FROM events", 0},
    [S_FOLLOW] = {S_FOLLOW, "mz_events_follow",
                  MZ_EVENT_COLUMNS "WHERE seq > $1 ORDER BY seq LIMIT $2", 2},
    [S_HEARTBEAT] = {S_HEARTBEAT, "mz_node_heartbeat",
                     "INSERT INTO nodes (node, applied_seq) VALUES ($1, $2) "
                     "ON CONFLICT (node) DO UPDATE SET applied_seq ="
                     " EXCLUDED.applied_seq, seen_at = now()",
                     2},
};

/* The batch's entry for event_id id, or NULL when the batch has none. */
static struct batch_id *find_batch_id(struct mz_event_writer *w, const char *id)
{
    int32_t at = mz_hash_table_get_index(w->batch_ids, id);

    return at >= 0 ? &w->uniques[at] : NULL;
}

/* Sizes the per-batch buffers for rows records and empties the batch's
 * event_ids (the table keeps its slots from batch to batch). */
static bool reserve_rows(struct mz_event_writer *w, size_t rows)
{
    mz_hash_table_clear(w->batch_ids);
    if (rows > INT32_MAX)
        return false;
    if (rows > w->rows_cap) {
        free(w->firsts);
        free(w->uniques);
        w->firsts = malloc(rows * sizeof *w->firsts);
        w->uniques = malloc(rows * sizeof *w->uniques);
        w->rows_cap = (w->firsts && w->uniques) ? rows : 0;
        if (w->rows_cap == 0)
            return false;
    }
    return true;
}

static int by_seq(const void *a, const void *b)
{
    const struct mz_event_record *x = *(const struct mz_event_record *const *)a;
    const struct mz_event_record *y = *(const struct mz_event_record *const *)b;

    return (x->seq > y->seq) - (x->seq < y->seq);
}

void mz_writer_learn_batch_free(struct learn_batch *lb)
{
    if (lb == NULL)
        return;
    for (size_t i = 0; i < lb->n_followed; i++)
        free(lb->followed[i]);
    free(lb->followed);
    free(lb->rows);
    free(lb);
}

/* Forgets what lb read (a transaction that is retried reads again). */
static void learn_batch_drop_followed(struct learn_batch *lb)
{
    for (size_t i = 0; i < lb->n_followed; i++)
        free(lb->followed[i]);
    lb->n_followed = 0;
}

/* Appends string src (may be NULL) at *at, returning the copy. */
static const char *pack(char **at, const char *src)
{
    if (src == NULL)
        return NULL;
    size_t n = strlen(src) + 1;
    char *copy = memcpy(*at, src, n);
    *at += n;
    return copy;
}

static size_t packed_len(const char *src)
{
    return src ? strlen(src) + 1 : 0;
}

/* Row r of res (MZ_EVENT_COLUMNS) as one malloc'd block: the record and
 * its strings. NULL when out of memory; *unknown set (NULL returned)
 * for a type this maisond does not know. */
static struct mz_event_record *copy_row(const PGresult *res, int r,
                                        bool *unknown)
{
    struct mz_event_record ev;
    *unknown = !mz_store_event_from_row(res, r, &ev);
    if (*unknown)
        return NULL;
    size_t len = sizeof ev + packed_len(ev.event_id) +
                 packed_len(ev.client_id) + packed_len(ev.item_id) +
                 packed_len(ev.channel) + packed_len(ev.brand) +
                 packed_len(ev.payload);
    struct mz_event_record *copy = malloc(len);
    if (copy == NULL)
        return NULL;
    char *at = (char *)(copy + 1);
    *copy = ev;
    copy->event_id = pack(&at, ev.event_id);
    copy->client_id = pack(&at, ev.client_id);
    copy->item_id = pack(&at, ev.item_id);
    copy->channel = pack(&at, ev.channel);
    copy->brand = pack(&at, ev.brand);
    copy->payload = pack(&at, ev.payload);
    return copy;
}

/* Reads the log after the read position (at most limit rows, text) into
 * lb->followed, skipping rows of the current batch already counted as
 * ours (after a broken connection). Sets *n_read to the rows the
 * statement returned. */
enum mz_status mz_writer_follow_read(struct mz_event_writer *w,
                                     struct learn_batch *lb, const char *limit,
                                     int *n_read)
{
    char after[24];
    const char *values[2] = {after, limit};
    PGresult *res = NULL;
    enum mz_status st;

    snprintf(after, sizeof after, "%" PRId64, w->last_seq);
    *n_read = 0;
    st = mz_pg_exec(&w->pg, &writer_stmts[S_FOLLOW], values, NULL, NULL, 0,
                    &res);
    if (st != MZ_OK)
        return st;
    int n = PQntuples(res);
    if (lb->n_followed + (size_t)n > lb->followed_cap) {
        size_t cap = lb->n_followed + (size_t)n;
        struct mz_event_record **grown =
            realloc(lb->followed, cap * sizeof *grown);
        if (grown == NULL) {
            PQclear(res);
            return MZ_ERR_NOMEM;
        }
        lb->followed = grown;
        lb->followed_cap = cap;
    }
    for (int r = 0; r < n && st == MZ_OK; r++) {
        struct batch_id *ours = find_batch_id(w, PQgetvalue(res, r, 1));
        bool unknown;
        if (ours != NULL && ours->accepted)
            continue;
        struct mz_event_record *row = copy_row(res, r, &unknown);
        if (row != NULL)
            lb->followed[lb->n_followed++] = row;
        else if (unknown)
            /* Written by a newer maisond: applying it wrongly would
             * corrupt the model; this node stops following instead. */
            st = MZ_ERR_INTERNAL;
        else
            st = MZ_ERR_NOMEM;
    }
    *n_read = n;
    PQclear(res);
    return st;
}

/* Sets lb->rows to lb's followed rows and the n accepted records, in
 * seq order, and lb->end to the highest. */
bool mz_writer_merge_rows(struct learn_batch *lb,
                          struct mz_event_record *const *accepted, size_t n)
{
    size_t total = lb->n_followed + n;
    lb->rows = malloc((total > 0 ? total : 1) * sizeof *lb->rows);
    if (lb->rows == NULL)
        return false;
    /* Either list may be empty and NULL (memcpy must not see NULL). */
    if (lb->n_followed > 0)
        memcpy(lb->rows, lb->followed, lb->n_followed * sizeof *lb->rows);
    if (n > 0)
        memcpy(lb->rows + lb->n_followed, accepted, n * sizeof *lb->rows);
    lb->n_rows = total;
    qsort(lb->rows, total, sizeof *lb->rows, by_seq);
    if (total > 0 && lb->rows[total - 1]->seq > lb->end)
        lb->end = lb->rows[total - 1]->seq;
    return true;
}

/* Marks the records of rows (event_id, seq) as inserted by us, appending
 * them to accepted. */
static void accept_rows(struct mz_event_writer *w, const PGresult *res,
                        struct mz_event_record **accepted, size_t *n_accepted)
{
    for (int r = 0; r < PQntuples(res); r++) {
        struct batch_id *slot = find_batch_id(w, PQgetvalue(res, r, 0));

        if (slot == NULL || slot->accepted)
            continue;
        slot->accepted = true;
        slot->rec->seq = strtoll(PQgetvalue(res, r, 1), NULL, 10);
        accepted[(*n_accepted)++] = slot->rec;
    }
}

/* Builds the column arrays of the n unique records and runs the INSERT. */
static enum mz_status insert_rows(struct mz_event_writer *w,
                                  struct mz_event_record *const *recs, size_t n,
                                  struct mz_event_record **accepted,
                                  size_t *n_accepted)
{
    static const uint32_t oids[MZ_WRITER_COLUMNS] = {
        MZ_PG_OID_TEXT, MZ_PG_OID_TEXT, MZ_PG_OID_TEXT,   MZ_PG_OID_TEXT,
        MZ_PG_OID_INT8, MZ_PG_OID_TEXT, MZ_PG_OID_FLOAT8, MZ_PG_OID_INT4,
        MZ_PG_OID_INT4, MZ_PG_OID_TEXT, MZ_PG_OID_TEXT,   MZ_PG_OID_TEXT};
    struct mz_pg_array cols[MZ_WRITER_COLUMNS];
    const char *values[MZ_WRITER_COLUMNS];
    int lengths[MZ_WRITER_COLUMNS];
    int formats[MZ_WRITER_COLUMNS];
    PGresult *res = NULL;
    enum mz_status st = MZ_OK;

    for (int k = 0; k < MZ_WRITER_COLUMNS; k++)
        mz_pg_array_init(&cols[k], oids[k]);
    for (size_t i = 0; i < n; i++) {
        const struct mz_event_record *ev = recs[i];

        mz_pg_array_add_text(&cols[0], ev->event_id);
        mz_pg_array_add_text(&cols[1], ev->client_id);
        mz_pg_array_add_text(&cols[2], ev->item_id);
        mz_pg_array_add_text(&cols[3], mz_event_type_name(ev->type));
        mz_pg_array_add_int8(&cols[4], ev->ts);
        mz_pg_array_add_text(&cols[5], ev->channel);
        mz_pg_array_add_float8(&cols[6], ev->value);
        mz_pg_array_add_int4(&cols[7], ev->quantity);
        mz_pg_array_add_int4(&cols[8], ev->dwell_ms);
        mz_pg_array_add_text(&cols[9], ev->brand);
        if (ev->actor && (ev->type == MZ_EV_CONSENT_GRANTED ||
                          ev->type == MZ_EV_CONSENT_WITHDRAWN)) {
            mz_pg_array_add_text(&cols[10], ev->event_id);
            mz_pg_array_add_text(&cols[11], ev->actor);
        }
    }
    for (int k = 0; k < MZ_WRITER_COLUMNS; k++) {
        if (!mz_pg_array_finish(&cols[k])) {
            st = MZ_ERR_NOMEM;
            goto cleanup;
        }
        values[k] = cols[k].buf;
        lengths[k] = (int)cols[k].len;
        formats[k] = 1;
    }
    st = mz_pg_exec(&w->pg, &writer_stmts[S_INSERT], values, lengths, formats,
                    0, &res);
    if (st == MZ_OK)
        accept_rows(w, res, accepted, n_accepted);

cleanup:
    PQclear(res);
    for (int k = 0; k < MZ_WRITER_COLUMNS; k++)
        mz_pg_array_release(&cols[k]);
    return st;
}

/* Finds which of the n records a broken connection committed after all. */
static enum mz_status recover_rows(struct mz_event_writer *w,
                                   struct mz_event_record *const *recs,
                                   size_t n, struct mz_event_record **accepted,
                                   size_t *n_accepted)
{
    struct mz_pg_array ids;
    char after[24];
    const char *values[2];
    int lengths[2] = {0, 0};
    const int formats[2] = {0, 1};
    PGresult *res = NULL;
    enum mz_status st;

    mz_pg_array_init(&ids, MZ_PG_OID_TEXT);
    for (size_t i = 0; i < n; i++)
        mz_pg_array_add_text(&ids, recs[i]->event_id);
    if (!mz_pg_array_finish(&ids)) {
        mz_pg_array_release(&ids);
        return MZ_ERR_NOMEM;
    }
    snprintf(after, sizeof after, "%" PRId64, w->last_seq);
    values[0] = after;
    values[1] = ids.buf;
    lengths[1] = (int)ids.len;
    st = mz_pg_exec(&w->pg, &writer_stmts[S_RECOVER], values, lengths, formats,
                    0, &res);
    if (st == MZ_OK)
        accept_rows(w, res, accepted, n_accepted);
    PQclear(res);
    mz_pg_array_release(&ids);
    return st;
}

enum mz_status mz_writer_connect(struct mz_event_writer *w, char *err,
                                 size_t err_len)
{
    return mz_pg_connect(&w->pg, w->conninfo, err, err_len);
}

/* One transaction under the log lock: reads what others committed
 * since the read position into lb, inserts the n records, and commits.
 * Nothing of it counts unless it returns MZ_OK. */
static enum mz_status locked_insert(struct mz_event_writer *w,
                                    struct learn_batch *lb,
                                    struct mz_event_record *const *recs,
                                    size_t n, struct mz_event_record **accepted,
                                    size_t *n_accepted)
{
    size_t before = *n_accepted;
    int n_read;
    enum mz_status st = mz_pg_exec_simple(&w->pg, "BEGIN");

    learn_batch_drop_followed(lb);
    if (st != MZ_OK)
        return st;
    st = mz_pg_exec_simple(&w->pg, MZ_LOG_LOCK_SQL);
    if (st == MZ_OK)
        st = mz_writer_follow_read(w, lb, MZ_WRITER_FOLLOW_ALL, &n_read);
    if (st == MZ_OK && n > 0)
        st = insert_rows(w, recs, n, accepted, n_accepted);
    /* Sized before the COMMIT: once committed nothing may fail. */
    if (st == MZ_OK && !mz_writer_merge_rows(lb, accepted, *n_accepted))
        st = MZ_ERR_NOMEM;
    if (st == MZ_OK)
        st = mz_pg_exec_simple(&w->pg, "COMMIT");
    if (st != MZ_OK) {
        if (mz_pg_conn_ok(&w->pg))
            (void)mz_pg_exec_simple(&w->pg, "ROLLBACK");
        for (size_t i = before; i < *n_accepted; i++)
            accepted[i]->seq = 0;
        *n_accepted = before;
        learn_batch_drop_followed(lb);
        free(lb->rows);
        lb->rows = NULL;
        lb->n_rows = 0;
    }
    return st;
}

/* Commits the submissions of one batch (a list linked by next, rows
 * records). On MZ_OK every record's seq is set and lb holds, in seq
 * order, the rows others committed before it and the inserted ones. */
enum mz_status mz_writer_commit_batch(struct mz_event_writer *w,
                                      struct submission *batch, size_t rows,
                                      struct learn_batch *lb,
                                      uint64_t *duplicates)
{
    struct mz_event_record **accepted = NULL;
    size_t n_firsts = 0, n_accepted = 0, n_pending;
    bool reused = mz_pg_conn_ok(&w->pg);
    enum mz_status st;
    char err[256];

    if (!reserve_rows(w, rows))
        return MZ_ERR_NOMEM;
    accepted = malloc((rows > 0 ? rows : 1) * sizeof *accepted);
    if (accepted == NULL)
        return MZ_ERR_NOMEM;
    for (struct submission *s = batch; s != NULL; s = s->next) {
        for (size_t i = 0; i < s->n; i++) {
            struct mz_event_record *ev = &s->events[i];

            ev->seq = 0;
            if (find_batch_id(w, ev->event_id) != NULL)
                continue; /* repeated within the batch */
            if (!mz_hash_table_put(
                    w->batch_ids, ev->event_id,
                    (union mz_hash_value){.index = (int32_t)n_firsts})) {
                free(accepted);
                return MZ_ERR_NOMEM;
            }
            w->uniques[n_firsts] = (struct batch_id){.rec = ev};
            w->firsts[n_firsts++] = ev;
        }
    }

    st = reused || mz_writer_connect(w, err, sizeof err) == MZ_OK
             ? locked_insert(w, lb, w->firsts, n_firsts, accepted, &n_accepted)
             : MZ_ERR_DB_UNAVAILABLE;
    if (st == MZ_ERR_DB_UNAVAILABLE && reused &&
        mz_writer_connect(w, err, sizeof err) == MZ_OK) {
        /* The connection died while idle or during the transaction: it
         * may have committed, so first collect what did, then insert the
         * rest. Each row still ends up accepted exactly once. */
        n_accepted = 0;
        st = recover_rows(w, w->firsts, n_firsts, accepted, &n_accepted);
        if (st == MZ_OK) {
            /* Compact the rest to the front (the write index never passes
             * the read index); the recovered ones are in accepted[]. */
            n_pending = 0;
            for (size_t i = 0; i < n_firsts; i++)
                if (!find_batch_id(w, w->firsts[i]->event_id)->accepted)
                    w->firsts[n_pending++] = w->firsts[i];
            n_firsts = n_pending;
            st = locked_insert(w, lb, w->firsts, n_pending, accepted,
                               &n_accepted);
        }
    }
    if (st != MZ_OK) {
        for (size_t i = 0; i < n_firsts; i++)
            w->firsts[i]->seq = 0;
        for (size_t i = 0; i < n_accepted; i++)
            accepted[i]->seq = 0;
        free(accepted);
        return st;
    }
    free(accepted);
    lb->end = lb->end > w->last_seq ? lb->end : w->last_seq;
    w->last_seq = lb->end;
    *duplicates = rows - n_accepted;
    return MZ_OK;
}

void mz_writer_heartbeat_exec(struct mz_event_writer *w, const char *node,
                              int64_t applied)
{
    char applied_text[24];
    snprintf(applied_text, sizeof applied_text, "%" PRId64, applied);
    const char *values[2] = {node, applied_text};
    if (mz_pg_conn_ok(&w->pg))
        (void)mz_pg_exec(&w->pg, &writer_stmts[S_HEARTBEAT], values, NULL, NULL,
                         0, NULL);
}

enum mz_status mz_writer_log_end(struct mz_event_writer *w, int64_t *end)
{
    PGresult *res = NULL;
    enum mz_status st = mz_pg_exec(&w->pg, &writer_stmts[S_LAST_SEQ], NULL,
                                   NULL, NULL, 0, &res);
    if (st == MZ_OK)
        *end = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return st;
}
