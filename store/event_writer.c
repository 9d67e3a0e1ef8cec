/*-------------------------------------------------------------------------
 * event_writer.c
 *    Group commit of the event log.
 *
 * Request threads queue a submission (their events, borrowed) and sleep on
 * their own condition variable. The writer thread takes every queued
 * submission up to max_batch_rows, drops event_ids repeated within the
 * batch, and inserts the rest with ONE statement (arrays unnested by the
 * server, ON CONFLICT DO NOTHING RETURNING event_id, seq) in one short
 * transaction, so a whole batch costs one fsync. While it commits, the
 * next batch gathers in the queue. The statements are in
 * event_writer_db.c; this file has the threads, the queues and the
 * waits.
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
#include "store/event_writer_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/log.h"
#include "store/pg.h"

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
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
        lb ? mz_writer_commit_batch(w, batch, rows, lb, &duplicates)
           : MZ_ERR_NOMEM;

    if (st != MZ_OK) {
        mz_writer_learn_batch_free(lb);
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
    pthread_setname_np(pthread_self(), "mz-learner"); /* top -H, perf */

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
        mz_writer_learn_batch_free(lb);
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
        st = mz_writer_connect(w, err, sizeof err);
    if (st == MZ_OK)
        st = mz_writer_follow_read(w, lb, limit, &n_read);
    if (st == MZ_OK && !mz_writer_merge_rows(lb, NULL, 0))
        st = MZ_ERR_NOMEM;
    pthread_mutex_lock(&w->lock);
    if (st != MZ_OK) {
        if (st != MZ_ERR_DB_UNAVAILABLE) {
            w->stats.errors++;
            mz_log_reason(MZ_LOG_ERROR, "event writer: reading the log failed",
                          mz_status_code(st));
        }
        mz_writer_learn_batch_free(lb);
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
        mz_writer_learn_batch_free(lb);
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
    char node[128];
    if (w->node_id == NULL)
        return;
    snprintf(node, sizeof node, "%s", w->node_id);
    int64_t applied = w->stats.applied_seq;
    pthread_mutex_unlock(&w->lock);
    mz_writer_heartbeat_exec(w, node, applied);
    pthread_mutex_lock(&w->lock);
}

static void *writer_main(void *arg)
{
    struct mz_event_writer *w = arg;
    pthread_setname_np(pthread_self(), "mz-log-writer"); /* top -H, perf */
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
            up = mz_writer_connect(w, err, sizeof err) == MZ_OK;
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
    if (mz_writer_connect(w, err, err_len) != MZ_OK)
        goto fail;
    if (mz_writer_log_end(w, &w->last_seq) != MZ_OK) {
        snprintf(err, err_len, "event writer: reading the end of the log: %s",
                 w->pg.message);
        goto fail;
    }
    w->stats.head_seq = w->last_seq;
    if (follow_from >= 0 && follow_from < w->last_seq)
        w->last_seq = follow_from; /* what was committed since is read */
    w->stats.last_seq = w->stats.applied_seq = w->last_seq;
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
