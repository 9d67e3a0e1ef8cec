/*-------------------------------------------------------------------------
 * event_writer.c
 *    Group commit of the event log.
 *
 * Request threads queue a submission (their events, borrowed) and sleep on
 * their own condition variable. The writer thread takes every queued
 * submission up to max_batch_rows, drops event_ids repeated within the
 * batch, and inserts the rest with ONE statement (arrays unnested by the
 * server, ON CONFLICT DO NOTHING RETURNING event_id, seq) that commits on
 * its own, so a whole batch costs one round trip and one fsync. While it
 * commits, the next batch gathers in the queue.
 *
 * A committed batch goes to the learner thread, which calls on_committed
 * and then wakes its submitters, batch after batch in commit order; the
 * writer meanwhile commits the next batch. Learning (model work, under
 * the service's write lock) and the next INSERT with its WAL flush thus
 * overlap instead of adding up, while the log order stays the learning
 * order and no reply goes out before its events are learned. At most
 * MZ_WRITER_LEARN_BACKLOG committed batches wait for the learner, so when
 * learning is the slower stage the writer waits and batches grow rather
 * than the writer paying a flush for every small batch.
 *
 * Following the log. Every batch commits in one transaction that first
 * takes the log lock (log_changes.c) and reads the rows committed after
 * the writer's last read: other nodes' batches, and the change markers
 * of catalog, rules, attributes, keys and erasures, this node's too. The
 * learner gets those and the batch's own events together, in seq order.
 * Idle, the writer reads the log every MZ_WRITER_POLL_MS, or at once when
 * a request waits for a position (mz_event_writer_wait_applied). Every
 * row reaches the learner once: the read position only moves forward,
 * over rows handed on.
 *
 * When PostgreSQL is unreachable the writer marks itself down: queued and
 * new submissions fail at once with MZ_ERR_DB_UNAVAILABLE, and the writer
 * thread tries to reconnect with a bounded exponential backoff, sleeping
 * on a timed wait in between, so nothing spins.
 *
 * Interface routines: see event_writer.h.
 *-------------------------------------------------------------------------
 */
#include "store/event_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/hash.h"
#include "model/log.h"
#include "store/pg.h"
#include "store/store_internal.h"

/* Reconnect backoff: first retry soon (a restart takes about a second),
 * then back off so a long outage costs nothing, but never wait so long
 * that recovery is noticeably late. */
#define MZ_WRITER_BACKOFF_MIN_MS 100
#define MZ_WRITER_BACKOFF_MAX_MS 2000

/* Committed batches that may wait for the learner (one more is being
 * learned). */
#define MZ_WRITER_LEARN_BACKLOG 1

/* The ten columns of one event, as the server unnests them, then the
 * event ids of the batch's consent markers and their callers. */
#define MZ_WRITER_COLUMNS 12

/* Rows of the log one idle read takes at most (a node far behind reads
 * again at once). Inside a batch's transaction there is no bound: it is
 * what others committed since the last read, a poll interval's worth. */
#define MZ_WRITER_FOLLOW_ROWS 2000
#define MZ_WRITER_FOLLOW_ALL  "2147483647"

/* How often the writer records its node's applied position (nodes). */
#define MZ_WRITER_HEARTBEAT_MS 250

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

/* One mz_event_writer_submit call, on the submitter's stack. */
struct submission {
    struct mz_event_record *events; /* borrowed from the submitter */
    size_t n;
    enum mz_status status;
    bool done;
    pthread_cond_t done_cond;
    struct submission *next;
};

/* Rows of the log on their way to the learner: a committed batch with
 * what was read before it, or an idle read. */
struct learn_batch {
    struct submission *subs;       /* linked by next, woken once learned;
                                      NULL for an idle read */
    struct mz_event_record **rows; /* owned array, seq order: pointers to
                                      the batch's accepted records
                                      (borrowed from subs) and to followed */
    size_t n_rows;
    struct mz_event_record **followed; /* owned array of owned rows read
                                          from the log (copy_row) */
    size_t n_followed;
    size_t followed_cap;
    int64_t end;      /* the read position after this batch */
    bool reached_end; /* an idle read that found the end of the log */
    struct learn_batch *next;
};

/* One distinct event_id of a batch. */
struct batch_id {
    struct mz_event_record *rec; /* first record with this id */
    bool accepted;
};

struct mz_event_writer {
    char *conninfo; /* owned */
    size_t max_batch_rows;
    mz_events_committed_fn on_committed;
    void *ctx;

    pthread_t thread;
    bool thread_started;
    pthread_t learner;
    bool learner_started;
    pthread_mutex_t lock; /* guards everything down to stats */
    pthread_cond_t work;  /* queue, stop, backoff or backlog changed */
    pthread_cond_t learn; /* learn queue or learner_stopping changed */
    struct submission *head;
    struct submission *tail;
    struct learn_batch *learn_head; /* committed, not yet learned */
    struct learn_batch *learn_tail;
    size_t learn_waiting; /* batches in the learn queue */
    bool stopping;
    bool learner_stopping;  /* the writer has exited: drain, then stop */
    bool db_down;           /* no connection: submit fails fast */
    bool follow_now;        /* a request waits for a position: read now */
    pthread_cond_t applied; /* stats.applied_seq moved */
    int64_t end_seen;       /* the log's end, as the last idle read that
                               reached it saw it (-1: none yet) */
    struct mz_event_writer_stats stats;

    char *node_id; /* owned; NULL: no heartbeat (guarded by lock) */

    /* Used by the writer thread only. */
    struct mz_pg_conn pg;
    int64_t last_seq; /* the read position: every row up to it was
                         committed by us or read, and handed on */
    struct mz_hash_table *batch_ids; /* owned: event_id -> uniques[] */
    struct batch_id *uniques;        /* owned, rows_cap */
    struct mz_event_record **firsts; /* owned: unique records of a batch */
    size_t rows_cap;
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

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

static void learn_batch_free(struct learn_batch *lb)
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
static enum mz_status follow_read(struct mz_event_writer *w,
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
static bool merge_rows(struct learn_batch *lb,
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

static enum mz_status connect_writer(struct mz_event_writer *w, char *err,
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
        st = follow_read(w, lb, MZ_WRITER_FOLLOW_ALL, &n_read);
    if (st == MZ_OK && n > 0)
        st = insert_rows(w, recs, n, accepted, n_accepted);
    /* Sized before the COMMIT: once committed nothing may fail. */
    if (st == MZ_OK && !merge_rows(lb, accepted, *n_accepted))
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
static enum mz_status commit_batch(struct mz_event_writer *w,
                                   struct submission *batch, size_t rows,
                                   struct learn_batch *lb, uint64_t *duplicates)
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

    st = reused || connect_writer(w, err, sizeof err) == MZ_OK
             ? locked_insert(w, lb, w->firsts, n_firsts, accepted, &n_accepted)
             : MZ_ERR_DB_UNAVAILABLE;
    if (st == MZ_ERR_DB_UNAVAILABLE && reused &&
        connect_writer(w, err, sizeof err) == MZ_OK) {
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

/* Wakes the submitters of batch with status; the caller holds w->lock. */
static void finish(struct submission *batch, enum mz_status status)
{
    while (batch != NULL) {
        struct submission *next = batch->next;

        batch->status = status;
        batch->done = true;
        pthread_cond_signal(&batch->done_cond);
        /* batch may be gone once its owner gets the lock: not touched
         * again. */
        batch = next;
    }
}

/* Hands lb to the learner; the caller holds w->lock. */
static void queue_for_learner(struct mz_event_writer *w, struct learn_batch *lb)
{
    w->stats.last_seq = w->last_seq;
    if (w->last_seq > w->stats.head_seq)
        w->stats.head_seq = w->last_seq;
    lb->next = NULL;
    if (w->learn_tail != NULL)
        w->learn_tail->next = lb;
    else
        w->learn_head = lb;
    w->learn_tail = lb;
    w->learn_waiting++;
    pthread_cond_signal(&w->learn);
}

/* Runs one batch: a committed one goes to the learner, which wakes its
 * submitters; a failed one's submitters are woken here. When the batch
 * fails because of its content, runs each submission alone so only the
 * faulty one fails. The caller does not hold w->lock. Returns
 * MZ_ERR_DB_UNAVAILABLE when the database was lost, else MZ_OK. */
static enum mz_status run_batch(struct mz_event_writer *w,
                                struct submission *batch, size_t rows)
{
    uint64_t duplicates = 0;
    double start = now_ms();
    struct learn_batch *lb = calloc(1, sizeof *lb);
    enum mz_status st =
        lb ? commit_batch(w, batch, rows, lb, &duplicates) : MZ_ERR_NOMEM;

    if (st != MZ_OK) {
        learn_batch_free(lb);
        lb = NULL;
    }

    if ((st == MZ_ERR_DB || st == MZ_ERR_INVALID) && batch->next != NULL) {
        struct submission *s = batch;

        while (s != NULL) {
            struct submission *next = s->next;

            s->next = NULL;
            if (run_batch(w, s, s->n) == MZ_ERR_DB_UNAVAILABLE) {
                pthread_mutex_lock(&w->lock);
                finish(next, MZ_ERR_DB_UNAVAILABLE);
                pthread_mutex_unlock(&w->lock);
                return MZ_ERR_DB_UNAVAILABLE;
            }
            s = next;
        }
        return MZ_OK;
    }

    pthread_mutex_lock(&w->lock);
    if (st == MZ_OK) {
        w->stats.commits++;
        w->stats.rows_inserted += rows - duplicates;
        w->stats.rows_duplicate += duplicates;
        w->stats.last_commit_ms = now_ms() - start;
        w->stats.rows_followed += lb->n_followed;
        lb->subs = batch;
        queue_for_learner(w, lb);
    } else {
        w->stats.errors++;
        finish(batch, st);
    }
    pthread_mutex_unlock(&w->lock);
    return st == MZ_ERR_DB_UNAVAILABLE ? st : MZ_OK;
}

/* Learns committed batches in commit order, then wakes their submitters;
 * drains the queue before it stops. */
static void *learner_main(void *arg)
{
    struct mz_event_writer *w = arg;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct learn_batch *lb;

        while (w->learn_head == NULL && !w->learner_stopping)
            pthread_cond_wait(&w->learn, &w->lock);
        lb = w->learn_head;
        if (lb == NULL)
            break;
        w->learn_head = lb->next;
        if (w->learn_head == NULL)
            w->learn_tail = NULL;
        w->learn_waiting--;
        pthread_cond_signal(&w->work); /* the backlog shrank */
        pthread_mutex_unlock(&w->lock);

        if (w->on_committed != NULL && lb->n_rows > 0)
            w->on_committed(w->ctx,
                            (const struct mz_event_record *const *)lb->rows,
                            lb->n_rows);

        pthread_mutex_lock(&w->lock);
        if (lb->end > w->stats.applied_seq)
            w->stats.applied_seq = lb->end;
        if (w->end_seen >= 0 && w->stats.applied_seq >= w->end_seen)
            w->stats.caught_up = true;
        pthread_cond_broadcast(&w->applied);
        finish(lb->subs, MZ_OK);
        learn_batch_free(lb);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* The CLOCK_MONOTONIC time ms from now, for the timed waits. */
static struct timespec deadline_after_ms(int ms)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

static bool passed(const struct timespec *t)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t->tv_sec ||
           (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static bool earlier(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* An idle read of the log: the rows after the read position go to the
 * learner. Called and returns with w->lock held, which it drops for the
 * read. Returns MZ_ERR_DB_UNAVAILABLE when the database was lost. */
static enum mz_status follow_idle(struct mz_event_writer *w)
{
    struct learn_batch *lb = calloc(1, sizeof *lb);
    char limit[16], err[256];
    int n_read = 0;
    enum mz_status st = lb ? MZ_OK : MZ_ERR_NOMEM;

    w->follow_now = false;
    pthread_mutex_unlock(&w->lock);
    mz_hash_table_clear(w->batch_ids); /* no batch of ours is pending */
    snprintf(limit, sizeof limit, "%d", MZ_WRITER_FOLLOW_ROWS);
    if (st == MZ_OK && !mz_pg_conn_ok(&w->pg))
        st = connect_writer(w, err, sizeof err);
    if (st == MZ_OK)
        st = follow_read(w, lb, limit, &n_read);
    if (st == MZ_OK && !merge_rows(lb, NULL, 0))
        st = MZ_ERR_NOMEM;
    pthread_mutex_lock(&w->lock);
    if (st != MZ_OK) {
        if (st != MZ_ERR_DB_UNAVAILABLE) {
            w->stats.errors++;
            mz_log_reason(MZ_LOG_ERROR, "event writer: reading the log failed",
                          mz_status_code(st));
        }
        learn_batch_free(lb);
        return st == MZ_ERR_DB_UNAVAILABLE ? st : MZ_OK;
    }
    if (lb->end > w->last_seq)
        w->last_seq = lb->end;
    if (n_read < MZ_WRITER_FOLLOW_ROWS) {
        w->end_seen = w->last_seq;
        w->stats.head_seq = w->last_seq;
    } else {
        w->follow_now = true; /* more to read */
        if (w->last_seq > w->stats.head_seq)
            w->stats.head_seq = w->last_seq;
    }
    w->stats.rows_followed += lb->n_followed;
    if (lb->n_rows == 0) {
        /* Nothing new: the batches queued before reach end_seen (the
         * learner then marks the node caught up), or are learned. */
        if (w->stats.applied_seq >= w->end_seen && w->end_seen >= 0)
            w->stats.caught_up = true;
        pthread_cond_broadcast(&w->applied);
        learn_batch_free(lb);
        return MZ_OK;
    }
    lb->end = w->last_seq;
    queue_for_learner(w, lb);
    return MZ_OK;
}

/* Records this node's applied position in nodes (when it has a name).
 * Called and returns with w->lock held, dropped for the statement; a
 * failure is left to the next one. */
static void heartbeat(struct mz_event_writer *w)
{
    char applied[24], node[128];
    if (w->node_id == NULL)
        return;
    snprintf(node, sizeof node, "%s", w->node_id);
    snprintf(applied, sizeof applied, "%" PRId64, w->stats.applied_seq);
    pthread_mutex_unlock(&w->lock);
    const char *values[2] = {node, applied};
    if (mz_pg_conn_ok(&w->pg))
        (void)mz_pg_exec(&w->pg, &writer_stmts[S_HEARTBEAT], values, NULL, NULL,
                         0, NULL);
    pthread_mutex_lock(&w->lock);
}

static void *writer_main(void *arg)
{
    struct mz_event_writer *w = arg;
    int backoff_ms = MZ_WRITER_BACKOFF_MIN_MS;
    struct timespec next_poll = deadline_after_ms(0);
    struct timespec next_beat = deadline_after_ms(0);

    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct submission *batch, *last;
        size_t rows;
        enum mz_status st;

        if (!w->db_down && w->node_id && passed(&next_beat)) {
            heartbeat(w);
            next_beat = deadline_after_ms(MZ_WRITER_HEARTBEAT_MS);
        }

        /* Idle, or the learner is behind: follow the log now and then
         * (at once when asked) and keep the heartbeat. */
        bool beat = false;
        while (
            (w->head == NULL || w->learn_waiting >= MZ_WRITER_LEARN_BACKLOG) &&
            !w->stopping && !w->db_down) {
            bool room = w->learn_waiting < MZ_WRITER_LEARN_BACKLOG;
            if (w->node_id && passed(&next_beat)) {
                beat = true;
                break;
            }
            if (room && (w->follow_now || passed(&next_poll))) {
                if (follow_idle(w) == MZ_ERR_DB_UNAVAILABLE) {
                    mz_pg_conn_reset(&w->pg);
                    w->db_down = true;
                }
                next_poll = deadline_after_ms(MZ_WRITER_POLL_MS);
                continue;
            }
            const struct timespec *until = room ? &next_poll : NULL;
            if (w->node_id && (until == NULL || earlier(&next_beat, until)))
                until = &next_beat;
            if (until)
                pthread_cond_timedwait(&w->work, &w->lock, until);
            else
                pthread_cond_wait(&w->work, &w->lock);
        }
        if (beat)
            continue;

        if (w->db_down) {
            struct timespec until;
            char err[256];
            bool up;

            if (w->stopping)
                break;
            pthread_mutex_unlock(&w->lock);
            up = connect_writer(w, err, sizeof err) == MZ_OK;
            pthread_mutex_lock(&w->lock);
            if (up) {
                mz_log_msg(MZ_LOG_INFO, "event writer reconnected");
                w->db_down = false;
                backoff_ms = MZ_WRITER_BACKOFF_MIN_MS;
                continue;
            }
            until = deadline_after_ms(backoff_ms);
            /* Woken early only by stop; submissions fail fast meanwhile. */
            while (!w->stopping && pthread_cond_timedwait(&w->work, &w->lock,
                                                          &until) != ETIMEDOUT)
                ;
            backoff_ms = backoff_ms * 2 > MZ_WRITER_BACKOFF_MAX_MS
                             ? MZ_WRITER_BACKOFF_MAX_MS
                             : backoff_ms * 2;
            continue;
        }
        if (w->head == NULL)
            break; /* stopping, and everything is committed */

        /* Take whole submissions up to max_batch_rows; a submission
         * larger than that goes alone rather than being split, so it
         * stays all or nothing. */
        batch = last = w->head;
        rows = batch->n;
        while (last->next != NULL &&
               rows + last->next->n <= w->max_batch_rows) {
            last = last->next;
            rows += last->n;
        }
        w->head = last->next;
        if (w->head == NULL)
            w->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->lock);

        st = run_batch(w, batch, rows);

        pthread_mutex_lock(&w->lock);
        if (st == MZ_ERR_DB_UNAVAILABLE) {
            /* Nothing of the batch was written (run_batch failed it). Fail
             * everything queued behind it now, rather than let each wait
             * its turn for a connection that is not coming back soon. */
            mz_log_reason(MZ_LOG_WARNING,
                          "event writer: PostgreSQL unavailable; retrying in "
                          "the background",
                          w->pg.message[0] ? w->pg.message : NULL);
            mz_pg_conn_reset(&w->pg);
            w->db_down = true;
            finish(w->head, MZ_ERR_DB_UNAVAILABLE);
            w->head = w->tail = NULL;
        }
    }
    finish(w->head, MZ_ERR_SHUTTING_DOWN);
    w->head = w->tail = NULL;
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct mz_event_writer *mz_event_writer_start(
    const char *conninfo, size_t max_batch_rows, int64_t follow_from,
    mz_events_committed_fn on_committed, void *ctx, char *err, size_t err_len)
{
    struct mz_event_writer *w = NULL;
    pthread_condattr_t attr;
    PGresult *res = NULL;

    w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, err_len, "out of memory starting the event writer");
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work, &attr);
    pthread_cond_init(&w->applied, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&w->learn, NULL);
    w->end_seen = -1;
    w->max_batch_rows = max_batch_rows > 0 ? max_batch_rows : 1;
    w->on_committed = on_committed;
    w->ctx = ctx;
    w->conninfo = strdup(conninfo);
    w->batch_ids = mz_hash_table_new();
    if (w->conninfo == NULL || w->batch_ids == NULL) {
        snprintf(err, err_len, "out of memory starting the event writer");
        goto fail;
    }
    if (connect_writer(w, err, err_len) != MZ_OK)
        goto fail;
    if (mz_pg_exec(&w->pg, &writer_stmts[S_LAST_SEQ], NULL, NULL, NULL, 0,
                   &res) != MZ_OK) {
        snprintf(err, err_len, "event writer: reading the end of the log: %s",
                 w->pg.message);
        goto fail;
    }
    w->last_seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    w->stats.head_seq = w->last_seq;
    if (follow_from >= 0 && follow_from < w->last_seq)
        w->last_seq = follow_from; /* what was committed since is read */
    w->stats.last_seq = w->stats.applied_seq = w->last_seq;
    PQclear(res);
    if (pthread_create(&w->learner, NULL, learner_main, w) != 0) {
        snprintf(err, err_len, "cannot start the event learner thread");
        goto fail;
    }
    w->learner_started = true;
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        snprintf(err, err_len, "cannot start the event writer thread");
        goto fail;
    }
    w->thread_started = true;
    return w;

fail:
    mz_event_writer_stop(w);
    return NULL;
}

/* Sets *flag under w->lock, wakes thread through cond and joins it. */
static void stop_thread(struct mz_event_writer *w, bool *flag,
                        pthread_cond_t *cond, pthread_t thread)
{
    pthread_mutex_lock(&w->lock);
    *flag = true;
    pthread_cond_broadcast(cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(thread, NULL);
}

void mz_event_writer_stop(struct mz_event_writer *writer)
{
    if (writer == NULL)
        return;
    if (writer->thread_started)
        stop_thread(writer, &writer->stopping, &writer->work, writer->thread);
    /* After the writer: what it committed last is learned too. */
    if (writer->learner_started)
        stop_thread(writer, &writer->learner_stopping, &writer->learn,
                    writer->learner);
    mz_pg_conn_reset(&writer->pg);
    pthread_cond_destroy(&writer->learn);
    pthread_cond_destroy(&writer->applied);
    pthread_cond_destroy(&writer->work);
    pthread_mutex_destroy(&writer->lock);
    free(writer->firsts);
    free(writer->uniques);
    mz_hash_table_free(writer->batch_ids);
    free(writer->node_id);
    free(writer->conninfo);
    free(writer);
}

enum mz_status mz_event_writer_submit(struct mz_event_writer *writer,
                                      struct mz_event_record *events, size_t n)
{
    struct submission sub;
    enum mz_status st;

    for (size_t i = 0; i < n; i++)
        if (events[i].event_id == NULL || events[i].client_id == NULL)
            return MZ_ERR_INVALID;
    if (n == 0)
        return MZ_OK;
    memset(&sub, 0, sizeof sub);
    sub.events = events;
    sub.n = n;
    pthread_cond_init(&sub.done_cond, NULL);

    pthread_mutex_lock(&writer->lock);
    if (writer->stopping || writer->db_down) {
        st = writer->stopping ? MZ_ERR_SHUTTING_DOWN : MZ_ERR_DB_UNAVAILABLE;
        pthread_mutex_unlock(&writer->lock);
        pthread_cond_destroy(&sub.done_cond);
        return st;
    }
    if (writer->tail != NULL)
        writer->tail->next = &sub;
    else
        writer->head = &sub;
    writer->tail = &sub;
    pthread_cond_signal(&writer->work);
    while (!sub.done)
        pthread_cond_wait(&sub.done_cond, &writer->lock);
    st = sub.status;
    pthread_mutex_unlock(&writer->lock);
    pthread_cond_destroy(&sub.done_cond);
    return st;
}

bool mz_event_writer_set_node(struct mz_event_writer *writer,
                              const char *node_id)
{
    char *copy = strdup(node_id);
    if (copy == NULL)
        return false;
    pthread_mutex_lock(&writer->lock);
    free(writer->node_id);
    writer->node_id = copy;
    pthread_mutex_unlock(&writer->lock);
    return true;
}

enum mz_status mz_event_writer_wait_applied(struct mz_event_writer *writer,
                                            int64_t position, int timeout_ms)
{
    struct timespec until = deadline_after_ms(timeout_ms > 0 ? timeout_ms : 0);
    enum mz_status st = MZ_OK;

    pthread_mutex_lock(&writer->lock);
    while (writer->stats.applied_seq < position) {
        if (!writer->follow_now) {
            writer->follow_now = true;
            pthread_cond_signal(&writer->work);
        }
        if (pthread_cond_timedwait(&writer->applied, &writer->lock, &until) ==
                ETIMEDOUT &&
            writer->stats.applied_seq < position) {
            st = MZ_ERR_NOT_CAUGHT_UP;
            break;
        }
    }
    pthread_mutex_unlock(&writer->lock);
    return st;
}

bool mz_event_writer_wait_caught_up(struct mz_event_writer *writer,
                                    int timeout_ms)
{
    struct timespec until = deadline_after_ms(timeout_ms > 0 ? timeout_ms : 0);

    pthread_mutex_lock(&writer->lock);
    while (!writer->stats.caught_up &&
           pthread_cond_timedwait(&writer->applied, &writer->lock, &until) !=
               ETIMEDOUT)
        ;
    bool caught_up = writer->stats.caught_up;
    pthread_mutex_unlock(&writer->lock);
    return caught_up;
}

void mz_event_writer_stats(struct mz_event_writer *writer,
                           struct mz_event_writer_stats *out)
{
    pthread_mutex_lock(&writer->lock);
    *out = writer->stats;
    pthread_mutex_unlock(&writer->lock);
}
