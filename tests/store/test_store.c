/*-------------------------------------------------------------------------
 * test_store.c
 *    store/ against a real, throw-away PostgreSQL (tests/harness/with_pg.sh
 *    provides MAISON_TEST_DATABASE_URL; without it the test is skipped).
 *
 * Each test case works in a database of its own, created from the
 * cluster's "postgres" database, so cases do not see each other's rows.
 * The outage case stops and starts the whole cluster with pg_ctl.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/event_writer.h"
#include "store/pg.h"
#include "store/store.h"
#include "tests/harness/test_db.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A fresh database named for the test; returns its conninfo (static
 * buffer). */
static const char *fresh_db(const char *name)
{
    static char conninfo[1024];
    char db[128];

    snprintf(db, sizeof db, "mz_%s", name);
    return mz_test_fresh_db(db, conninfo, sizeof conninfo);
}

static struct mz_store *open_store(const char *conninfo)
{
    char err[512] = "";
    struct mz_store *store = mz_store_open(conninfo, 4, err, sizeof err);

    ck_assert_msg(store != NULL, "mz_store_open: %s", err);
    return store;
}

static void fill_event(struct mz_event_record *ev, const char *event_id,
                       const char *client_id, const char *item_id, int64_t ts)
{
    memset(ev, 0, sizeof *ev);
    ev->event_id = event_id;
    ev->client_id = client_id;
    ev->item_id = item_id;
    ev->type = item_id ? MZ_EV_CLICK : MZ_EV_STORE_VISIT;
    ev->ts = ts;
    ev->quantity = 1;
    ev->item_index = -1;
}

/* ---- migrations ------------------------------------------------------ */

static void *open_close_thread(void *arg)
{
    char err[512];
    struct mz_store *store = mz_store_open(arg, 1, err, sizeof err);

    if (store == NULL)
        fprintf(stderr, "concurrent open: %s\n", err);
    mz_store_close(store);
    return store ? arg : NULL;
}

START_TEST(test_migrations_idempotent_and_safe_concurrently)
{
    const char *conninfo = fresh_db("migrations");
    pthread_t threads[4];
    struct mz_store *store;
    void *ok;

    /* Two processes starting at once: the advisory lock serialises them,
     * and the loser finds the schema in place. */
    for (int i = 0; i < 4; i++)
        pthread_create(&threads[i], NULL, open_close_thread, (void *)conninfo);
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], &ok);
        ck_assert_ptr_nonnull(ok);
    }
    store = open_store(conninfo);
    mz_store_close(store);
    ck_assert_int_eq(
        mz_test_sql_value(conninfo, "SELECT count(*) FROM schema_version"),
        mz_test_sql_value(conninfo, "SELECT max(version) FROM schema_version"));
    ck_assert_int_eq(mz_test_sql_value(conninfo,
                                       "SELECT count(*) FROM schema_version "
                                       "WHERE version = 1"),
                     1);
    /* 0003 dropped the table impressions moved out of. */
    ck_assert_int_eq(mz_test_sql_value(conninfo,
                                       "SELECT count(*) FROM pg_tables "
                                       "WHERE tablename = 'impressions'"),
                     0);
    /* 0008, then 0010: the global level is stored without a compression
     * attempt, in parts. */
    ck_assert_int_eq(
        mz_test_sql_value(conninfo,
                          "SELECT count(*) FROM pg_attribute "
                          "WHERE attrelid = 'checkpoint_part'::regclass"
                          " AND attname = 'bytes'"
                          " AND attstorage = 'e'"),
        1);
    /* 0009: a client record shorter than a page is stored as it is. */
    ck_assert_int_eq(mz_test_sql_value(conninfo,
                                       "SELECT count(*) FROM pg_class "
                                       "WHERE oid = 'client_state'::regclass"
                                       " AND 'toast_tuple_target=8160'"
                                       " = ANY(reloptions)"),
                     1);
}
END_TEST

START_TEST(test_open_fails_cleanly_when_unreachable)
{
    char err[512] = "";
    double start = now_s();
    struct mz_store *store = mz_store_open(
        "host=/nonexistent-dir port=1 dbname=x", 2, err, sizeof err);

    ck_assert_ptr_null(store);
    ck_assert_msg(strstr(err, "PostgreSQL") != NULL, "err: %s", err);
    ck_assert(now_s() - start < 5.0);
}
END_TEST

/* libpq quotes a conninfo it cannot parse, password and all; the message
 * reaches the log through err. */
START_TEST(test_connection_errors_never_show_the_password)
{
    static const char *const bad[] = {
        "postgresql://maison:hunter2-pw@[::1/db",         /* URI quoted */
        "postgresql://maison:hunter2%zz-pw@localhost/db", /* token quoted */
        "postgres://maison:hunter2-pw@localhost:99999/db",
        "postgresql:///db?host=/nonexistent&password=hunter2-pw&x=hunter2-pw",
        "host=/nonexistent password='hunter2-pw' sslmode=hunter2-pw",
        "host=/nonexistent password=hunter2-pw sslmode=hunter2-pw",
    };

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[512] = "";
        struct mz_store *store = mz_store_open(bad[i], 1, err, sizeof err);
        struct mz_event_writer *writer;

        ck_assert_ptr_null(store);
        ck_assert_msg(strstr(err, "cannot connect to PostgreSQL") != NULL,
                      "case %zu: %s", i, err);
        ck_assert_msg(strstr(err, "hunter2") == NULL, "case %zu: %s", i, err);
        err[0] = '\0';
        writer =
            mz_event_writer_start(bad[i], 10, -1, NULL, NULL, err, sizeof err);
        ck_assert_ptr_null(writer);
        ck_assert_msg(strstr(err, "hunter2") == NULL, "case %zu: %s", i, err);
    }
    {
        /* What is not the password stays, to find the typo by. */
        char err[512] = "";

        ck_assert_ptr_null(mz_store_open(bad[0], 1, err, sizeof err));
        ck_assert_msg(strstr(err, "postgresql://maison:***@[::1/db") != NULL,
                      "%s", err);
    }
}
END_TEST

/* ---- group commit ---------------------------------------------------- */

#define GC_THREADS    16
#define GC_PER_THREAD 50

struct committed_log {
    pthread_mutex_t lock;
    int64_t last_seq;
    size_t calls;
    size_t events;
    bool out_of_order;
};

static void on_committed(void *ctx, const struct mz_event_record *const *events,
                         size_t n)
{
    struct committed_log *log = ctx;

    pthread_mutex_lock(&log->lock);
    log->calls++;
    for (size_t i = 0; i < n; i++) {
        /* Across calls too: the learner delivers the log in order. */
        if (events[i]->seq <= log->last_seq)
            log->out_of_order = true;
        log->last_seq = events[i]->seq;
        log->events++;
    }
    pthread_mutex_unlock(&log->lock);
}

struct submitter {
    struct mz_event_writer *writer;
    int thread;
    int n_events;
    int repeats; /* rounds of submissions */
    char (*ids)[48];
    struct mz_event_record *events;
    enum mz_status status;
};

static void *submitter_main(void *arg)
{
    struct submitter *s = arg;

    s->status = MZ_OK;
    for (int r = 0; r < s->repeats && s->status == MZ_OK; r++) {
        for (int i = 0; i < s->n_events; i++) {
            snprintf(s->ids[i], sizeof s->ids[i], "r%d-t%d-e%d", r, s->thread,
                     i);
            fill_event(&s->events[i], s->ids[i], "client-gc", "item-1",
                       1700000000 + i);
        }
        s->status =
            mz_event_writer_submit(s->writer, s->events, (size_t)s->n_events);
    }
    return NULL;
}

START_TEST(test_group_commit_exactly_once_with_duplicates_in_seq_order)
{
    const char *conninfo = fresh_db("group_commit");
    struct mz_store *store = open_store(conninfo);
    struct committed_log log = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, false};
    char err[512] = "";
    struct mz_event_writer *writer = mz_event_writer_start(
        conninfo, 500, -1, on_committed, &log, err, sizeof err);
    pthread_t threads[GC_THREADS];
    struct submitter subs[GC_THREADS];
    static char ids[GC_THREADS][GC_PER_THREAD + 2][48];
    static struct mz_event_record events[GC_THREADS][GC_PER_THREAD + 2];
    struct mz_event_writer_stats stats;
    int64_t seen_seq = 0;

    ck_assert_msg(writer != NULL, "writer: %s", err);
    for (int t = 0; t < GC_THREADS; t++) {
        subs[t] = (struct submitter){writer, t,         GC_PER_THREAD,  1,
                                     ids[t], events[t], MZ_ERR_INTERNAL};
        pthread_create(&threads[t], NULL, submitter_main, &subs[t]);
    }
    for (int t = 0; t < GC_THREADS; t++) {
        pthread_join(threads[t], NULL);
        ck_assert_int_eq(subs[t].status, MZ_OK);
        for (int i = 0; i < GC_PER_THREAD; i++) {
            ck_assert_int_gt(events[t][i].seq, 0);
            /* Within one submission the log keeps the given order. */
            ck_assert_int_gt(events[t][i].seq, i ? events[t][i - 1].seq : 0);
        }
    }
    ck_assert_int_eq(mz_test_sql_value(conninfo, "SELECT count(*) FROM events"),
                     GC_THREADS * GC_PER_THREAD);
    ck_assert_int_eq(
        mz_test_sql_value(conninfo, "SELECT count(DISTINCT seq) FROM events"),
        GC_THREADS * GC_PER_THREAD);
    ck_assert(!log.out_of_order);
    ck_assert_int_eq(log.events, GC_THREADS * GC_PER_THREAD);

    /* Resubmitting (a client retry) writes nothing and reports seq 0;
     * a new event in the same call is accepted; one repeated within the
     * call counts once. */
    {
        struct mz_event_record again[4];
        int64_t before = log.last_seq;

        fill_event(&again[0], "r0-t0-e0", "client-gc", "item-1", 1700000000);
        fill_event(&again[1], "fresh-1", "client-gc", "item-2", 1700000100);
        fill_event(&again[2], "fresh-1", "client-gc", "item-2", 1700000100);
        fill_event(&again[3], "r0-t3-e7", "client-gc", "item-1", 1700000000);
        ck_assert_int_eq(mz_event_writer_submit(writer, again, 4), MZ_OK);
        ck_assert_int_eq(again[0].seq, 0);
        ck_assert_int_gt(again[1].seq, before);
        ck_assert_int_eq(again[2].seq, 0);
        ck_assert_int_eq(again[3].seq, 0);
        ck_assert_int_eq(log.events, GC_THREADS * GC_PER_THREAD + 1);
        seen_seq = again[1].seq;
    }
    mz_event_writer_stats(writer, &stats);
    ck_assert_int_eq(stats.rows_inserted, GC_THREADS * GC_PER_THREAD + 1);
    ck_assert_int_eq(stats.rows_duplicate, 3);
    ck_assert_int_eq(stats.last_seq, seen_seq);
    ck_assert_int_ge(stats.commits, 2);

    /* An event the database rejects fails only its own submission. */
    {
        struct mz_event_record bad[1], good[1];

        fill_event(&bad[0], "bad\xff", "client-gc", "item-1", 1700000000);
        fill_event(&good[0], "good-1", "client-gc", "item-1", 1700000000);
        ck_assert_int_ne(mz_event_writer_submit(writer, bad, 1), MZ_OK);
        ck_assert_int_eq(mz_event_writer_submit(writer, good, 1), MZ_OK);
        ck_assert_int_gt(good[0].seq, 0);
    }
    /* The writer's idea of the end of the log is the log's. */
    mz_event_writer_stats(writer, &stats);
    ck_assert_int_eq(
        stats.last_seq,
        mz_test_sql_value(conninfo, "SELECT max(seq) FROM events"));
    mz_event_writer_stop(writer);
    mz_store_close(store);
}
END_TEST

/* A learner that holds the first batch until the test lets it go, and
 * notes whether two calls ever overlapped. */
struct gated_learner {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool first_entered;
    bool gate_open;
    int in_callback;
    bool overlapped;
    size_t calls;
    int64_t seqs[4];
    size_t n_seqs;
};

static void gated_on_committed(void *ctx,
                               const struct mz_event_record *const *events,
                               size_t n)
{
    struct gated_learner *g = ctx;

    pthread_mutex_lock(&g->lock);
    if (g->in_callback++ > 0)
        g->overlapped = true;
    if (g->calls++ == 0) {
        g->first_entered = true;
        pthread_cond_broadcast(&g->changed);
        while (!g->gate_open)
            pthread_cond_wait(&g->changed, &g->lock);
    }
    for (size_t i = 0; i < n && g->n_seqs < 4; i++)
        g->seqs[g->n_seqs++] = events[i]->seq;
    g->in_callback--;
    pthread_mutex_unlock(&g->lock);
}

struct one_submit {
    struct mz_event_writer *writer;
    struct mz_event_record *events;
    size_t n;
    enum mz_status status;
    volatile bool done;
};

static void *one_submit_main(void *arg)
{
    struct one_submit *s = arg;

    s->status = mz_event_writer_submit(s->writer, s->events, s->n);
    __atomic_store_n(&s->done, true, __ATOMIC_SEQ_CST);
    return NULL;
}

/* While batch 1 is being learned, batch 2 (which repeats batch 1's event
 * and adds one) is already committed; its submitter is woken only after
 * batch 1's learning and its own, and learning calls never overlap and
 * follow the log. */
START_TEST(test_learning_overlaps_next_commit_replies_wait_in_log_order)
{
    const char *conninfo = fresh_db("learn_overlap");
    struct mz_store *store = open_store(conninfo);
    struct gated_learner g = {.lock = PTHREAD_MUTEX_INITIALIZER,
                              .changed = PTHREAD_COND_INITIALIZER};
    char err[512] = "";
    struct mz_event_writer *writer = mz_event_writer_start(
        conninfo, 500, -1, gated_on_committed, &g, err, sizeof err);
    struct mz_event_record first[1], second[2];
    struct one_submit s1 = {writer, first, 1, MZ_ERR_INTERNAL, false};
    struct one_submit s2 = {writer, second, 2, MZ_ERR_INTERNAL, false};
    pthread_t t1, t2;
    int64_t committed = 0;

    ck_assert_msg(writer != NULL, "writer: %s", err);
    fill_event(&first[0], "ov-a", "client-ov", "item-1", 1700000000);
    fill_event(&second[0], "ov-a", "client-ov", "item-1", 1700000000);
    fill_event(&second[1], "ov-b", "client-ov", "item-2", 1700000001);
    pthread_create(&t1, NULL, one_submit_main, &s1);
    pthread_mutex_lock(&g.lock);
    while (!g.first_entered)
        pthread_cond_wait(&g.changed, &g.lock);
    pthread_mutex_unlock(&g.lock);

    pthread_create(&t2, NULL, one_submit_main, &s2);
    for (int tries = 0; tries < 1000 && committed == 0; tries++) {
        committed = mz_test_sql_value(
            conninfo, "SELECT count(*) FROM events WHERE event_id = 'ov-b'");
        if (committed == 0)
            usleep(10000);
    }
    ck_assert_msg(committed == 1,
                  "batch 2 must commit while batch 1 is being learned");
    usleep(50000); /* time for a wrongly early wake-up to show */
    ck_assert(!__atomic_load_n(&s1.done, __ATOMIC_SEQ_CST));
    ck_assert(!__atomic_load_n(&s2.done, __ATOMIC_SEQ_CST));

    pthread_mutex_lock(&g.lock);
    ck_assert_int_eq(g.calls, 1);
    g.gate_open = true;
    pthread_cond_broadcast(&g.changed);
    pthread_mutex_unlock(&g.lock);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);

    ck_assert_int_eq(s1.status, MZ_OK);
    ck_assert_int_eq(s2.status, MZ_OK);
    ck_assert_int_gt(first[0].seq, 0);
    ck_assert_int_eq(second[0].seq, 0); /* a duplicate of batch 1 */
    ck_assert_int_gt(second[1].seq, first[0].seq);
    ck_assert_int_eq(g.calls, 2);
    ck_assert(!g.overlapped);
    ck_assert_int_eq(g.n_seqs, 2);
    ck_assert_int_eq(g.seqs[0], first[0].seq);
    ck_assert_int_eq(g.seqs[1], second[1].seq);
    mz_event_writer_stop(writer);
    mz_store_close(store);
}
END_TEST

/* 64 concurrent submitters of 100 events each, several rounds, with
 * synchronous_commit on: the figure the design asks >= 20,000 events/s
 * for. */
START_TEST(test_group_commit_throughput_64_submitters)
{
    enum { THREADS = 64, PER = 100, ROUNDS = 10 };
    const char *conninfo = fresh_db("throughput");
    struct mz_store *store = open_store(conninfo);
    char err[512] = "";
    struct mz_event_writer *writer =
        mz_event_writer_start(conninfo, 4096, -1, NULL, NULL, err, sizeof err);
    pthread_t threads[THREADS];
    struct submitter subs[THREADS];
    static char ids[THREADS][PER][48];
    static struct mz_event_record events[THREADS][PER];
    struct mz_event_writer_stats stats;
    double start, secs, rate;

    ck_assert_msg(writer != NULL, "writer: %s", err);
    start = now_s();
    for (int t = 0; t < THREADS; t++) {
        subs[t] = (struct submitter){
            writer, t, PER, ROUNDS, ids[t], events[t], MZ_ERR_INTERNAL};
        pthread_create(&threads[t], NULL, submitter_main, &subs[t]);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        ck_assert_int_eq(subs[t].status, MZ_OK);
    }
    secs = now_s() - start;
    rate = THREADS * PER * ROUNDS / secs;
    mz_event_writer_stats(writer, &stats);
    printf("group commit: %d events in %.3f s = %.0f events/s, "
           "%" PRIu64 " commits (%.0f rows each), last commit %.1f ms\n",
           THREADS * PER * ROUNDS, secs, rate, stats.commits,
           (double)stats.rows_inserted / (double)stats.commits,
           stats.last_commit_ms);
    ck_assert_int_eq(stats.rows_inserted, THREADS * PER * ROUNDS);
    ck_assert_int_eq(mz_test_sql_value(conninfo, "SELECT count(*) FROM events"),
                     THREADS * PER * ROUNDS);
    /* The rate depends on the machine and its load, so it is printed,
     * not asserted; what must hold anywhere is that submissions share
     * commits (64 waiting submitters of 100 rows: batches of hundreds). */
    ck_assert_msg(stats.commits * 200 <= stats.rows_inserted,
                  "%" PRIu64 " commits for %" PRIu64 " rows: no group commit",
                  stats.commits, stats.rows_inserted);
    mz_event_writer_stop(writer);
    mz_store_close(store);
}
END_TEST

/* ---- scan ------------------------------------------------------------ */

struct scan_log {
    int n;
    int stop_after;
    int64_t seqs[16];
    char ids[16][32];
    char items[16][32];
    int64_t ts[16];
    enum mz_event_type types[16];
};

static bool scan_fn(void *ctx, const struct mz_event_record *ev)
{
    struct scan_log *log = ctx;

    if (log->n < 16) {
        log->seqs[log->n] = ev->seq;
        snprintf(log->ids[log->n], sizeof log->ids[0], "%s", ev->event_id);
        snprintf(log->items[log->n], sizeof log->items[0], "%s",
                 ev->item_id ? ev->item_id : "(null)");
        log->ts[log->n] = ev->ts;
        log->types[log->n] = ev->type;
    }
    log->n++;
    return log->stop_after == 0 || log->n < log->stop_after;
}

START_TEST(test_scan_events_in_log_order_after_seq)
{
    const char *conninfo = fresh_db("scan");
    struct mz_store *store = open_store(conninfo);
    char err[512];
    struct mz_event_writer *writer =
        mz_event_writer_start(conninfo, 100, -1, NULL, NULL, err, sizeof err);
    struct mz_event_record evs[5];
    struct scan_log log;

    ck_assert_ptr_nonnull(writer);
    fill_event(&evs[0], "s1", "c1", "i1", 1000);
    fill_event(&evs[1], "s2", "c2", NULL, 2000);
    fill_event(&evs[2], "s3", "c1", "i3", 3000);
    evs[2].type = MZ_EV_PURCHASE;
    evs[2].value = 129.5;
    evs[2].quantity = 2;
    evs[2].channel = "store";
    fill_event(&evs[3], "s4", "c1", "i4", 4000);
    fill_event(&evs[4], "s5", "c3", "i5", 5000);
    ck_assert_int_eq(mz_event_writer_submit(writer, evs, 3), MZ_OK);
    ck_assert_int_eq(mz_event_writer_submit(writer, evs + 3, 2), MZ_OK);
    mz_event_writer_stop(writer);

    memset(&log, 0, sizeof log);
    ck_assert_int_eq(mz_store_scan_events(store, 0, scan_fn, &log), MZ_OK);
    ck_assert_int_eq(log.n, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(log.seqs[i], evs[i].seq);
        ck_assert_str_eq(log.ids[i], evs[i].event_id);
        ck_assert_int_eq(log.ts[i], evs[i].ts);
        ck_assert_int_eq(log.types[i], evs[i].type);
    }
    ck_assert_str_eq(log.items[1], "(null)");

    memset(&log, 0, sizeof log);
    ck_assert_int_eq(mz_store_scan_events(store, evs[2].seq, scan_fn, &log),
                     MZ_OK);
    ck_assert_int_eq(log.n, 2);
    ck_assert_str_eq(log.ids[0], "s4");

    /* Stopping early ends the scan and leaves the connection usable. */
    memset(&log, 0, sizeof log);
    log.stop_after = 2;
    ck_assert_int_eq(mz_store_scan_events(store, 0, scan_fn, &log), MZ_OK);
    ck_assert_int_eq(log.n, 2);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(mz_store_ping(store), MZ_OK);
    mz_store_close(store);
}
END_TEST

/* ---- checkpoint ------------------------------------------------------ */

struct blob_log {
    int n;
    char ids[8][32];
    char bytes[8][32];
    size_t lens[8];
};

static bool blob_fn(void *ctx, const char *client_id, const void *bytes,
                    size_t len)
{
    struct blob_log *log = ctx;

    if (log->n < 8 && len <= sizeof log->bytes[0]) {
        snprintf(log->ids[log->n], sizeof log->ids[0], "%s", client_id);
        memcpy(log->bytes[log->n], bytes, len);
        log->lens[log->n] = len;
    }
    log->n++;
    return true;
}

static int blob_index(const struct blob_log *log, const char *id)
{
    for (int i = 0; i < log->n && i < 8; i++)
        if (strcmp(log->ids[i], id) == 0)
            return i;
    return -1;
}

START_TEST(test_checkpoint_round_trip)
{
    const char *conninfo = fresh_db("checkpoint");
    struct mz_store *store = open_store(conninfo);
    const char global1[] = {0, 1, 2, 3, 0, 5};
    const char global2[] = "second";
    struct mz_client_blob c1[] = {
        {"alice", "\x00\x01\x02", 3},
        {"bob", "bb", 2},
        {"carol", "", 0},
    };
    struct mz_client_blob c2[] = {
        {"alice", "A2", 2},
        {"bob", NULL, 0},
    };
    struct mz_client_blob stale[] = {{"alice", "old", 3}};
    struct blob_log log;
    int64_t seq = -1;
    void *global = NULL;
    size_t global_len = 0;
    int i;

    /* Nothing yet. */
    ck_assert_int_eq(
        mz_store_read_checkpoint(store, &seq, &global, &global_len, NULL, NULL),
        MZ_OK);
    ck_assert_int_eq(seq, 0);
    ck_assert_ptr_null(global);

    ck_assert_int_eq(mz_store_write_checkpoint(store, 10, c1, 3, global1,
                                               sizeof global1, NULL),
                     MZ_OK);
    memset(&log, 0, sizeof log);
    ck_assert_int_eq(mz_store_read_checkpoint(store, &seq, &global, &global_len,
                                              blob_fn, &log),
                     MZ_OK);
    ck_assert_int_eq(seq, 10);
    ck_assert_uint_eq(global_len, sizeof global1);
    ck_assert_mem_eq(global, global1, sizeof global1);
    free(global);
    ck_assert_int_eq(log.n, 3);
    i = blob_index(&log, "alice");
    ck_assert_int_ge(i, 0);
    ck_assert_uint_eq(log.lens[i], 3);
    ck_assert_mem_eq(log.bytes[i], "\x00\x01\x02", 3);
    ck_assert_uint_eq(log.lens[blob_index(&log, "carol")], 0);

    /* A newer checkpoint replaces alice, deletes bob, keeps carol. */
    ck_assert_int_eq(mz_store_write_checkpoint(store, 20, c2, 2, global2,
                                               sizeof global2, NULL),
                     MZ_OK);
    /* A stale writer (older seq) cannot clobber alice. */
    ck_assert_int_eq(mz_store_write_checkpoint(store, 15, stale, 1, global2,
                                               sizeof global2, NULL),
                     MZ_OK);
    memset(&log, 0, sizeof log);
    ck_assert_int_eq(mz_store_read_checkpoint(store, &seq, &global, &global_len,
                                              blob_fn, &log),
                     MZ_OK);
    ck_assert_int_eq(log.n, 2);
    ck_assert_int_lt(blob_index(&log, "bob"), 0);
    i = blob_index(&log, "alice");
    ck_assert_int_ge(i, 0);
    ck_assert_mem_eq(log.bytes[i], "A2", 2);
    free(global);

    /* Clients only (the global level did not change): the stored global
     * snapshot is kept, the position moves on. */
    ck_assert_int_eq(
        mz_store_write_checkpoint(store, 30, stale, 1, NULL, 0, NULL), MZ_OK);
    ck_assert_int_eq(
        mz_store_read_checkpoint(store, &seq, &global, &global_len, NULL, NULL),
        MZ_OK);
    ck_assert_int_eq(seq, 30);
    ck_assert_uint_eq(global_len, sizeof global2);
    ck_assert_mem_eq(global, global2, sizeof global2);
    free(global);
    mz_store_close(store);
}
END_TEST

/* Records what a paced write reported. */
struct pace_log {
    int calls;
    size_t last_done;
    size_t total;
    bool monotonic;
};

static void pace_note(void *ctx, size_t done, size_t total)
{
    struct pace_log *log = ctx;
    if (log->calls > 0 && (done < log->last_done || total != log->total))
        log->monotonic = false;
    log->calls++;
    log->last_done = done;
    log->total = total;
}

static void fill_pseudo_random(unsigned char *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1664525u + 1013904223u;
        buf[i] = (unsigned char)(seed >> 24);
    }
}

static void assert_snapshot(struct mz_store *store, int64_t want_seq,
                            const void *want, size_t want_len)
{
    int64_t seq = -1;
    void *global = NULL;
    size_t global_len = 0;
    ck_assert_int_eq(
        mz_store_read_checkpoint(store, &seq, &global, &global_len, NULL, NULL),
        MZ_OK);
    ck_assert_int_eq(seq, want_seq);
    ck_assert_ptr_nonnull(global);
    ck_assert_uint_eq(global_len, want_len);
    ck_assert_int_eq(memcmp(global, want, want_len), 0);
    free(global);
}

START_TEST(test_checkpoint_snapshot_in_parts_paced_pruned_and_adopted)
{
    const char *conninfo = fresh_db("checkpoint_parts");
    struct mz_store *store = open_store(conninfo);
    size_t big_len = 2 * MZ_STORE_SNAPSHOT_PART_BYTES + 12345; /* 3 parts */
    unsigned char *big = malloc(big_len);
    ck_assert_ptr_nonnull(big);
    fill_pseudo_random(big, big_len, 7);
    struct mz_client_blob clients[] = {{"alice", "A1", 2}, {"bob", "B1", 2}};
    struct pace_log pace_log = {.monotonic = true};
    const struct mz_store_pace pace = {pace_note, &pace_log};

    mz_store_set_node(store, "n1");
    ck_assert_int_eq(
        mz_store_write_checkpoint(store, 40, clients, 2, big, big_len, &pace),
        MZ_OK);
    /* One call per part and one per statement of client states, the
     * last one at the whole. */
    ck_assert_int_eq(pace_log.calls, 4);
    ck_assert(pace_log.monotonic);
    ck_assert_uint_eq(pace_log.total, big_len + 4);
    ck_assert_uint_eq(pace_log.last_done, pace_log.total);
    ck_assert_int_eq(mz_test_sql_value(conninfo, "SELECT count(*) FROM "
                                                 "checkpoint_part"),
                     3);
    assert_snapshot(store, 40, big, big_len);

    /* Parts of a snapshot no checkpoint names (a write that died before
     * its checkpoint committed) are never read, and the next checkpoint
     * deletes them; a clients-only one keeps the named snapshot. */
    mz_test_sql_value(conninfo, "INSERT INTO checkpoint_part VALUES "
                                "('n1', 999999, 0, '\\x0102')");
    assert_snapshot(store, 40, big, big_len);
    ck_assert_int_eq(
        mz_store_write_checkpoint(store, 41, clients, 1, NULL, 0, NULL), MZ_OK);
    ck_assert_int_eq(mz_test_sql_value(conninfo, "SELECT count(*) FROM "
                                                 "checkpoint_part"),
                     3);
    assert_snapshot(store, 41, big, big_len);

    /* Another node with no checkpoint of its own adopts this one, parts
     * and all, under its own name. */
    struct mz_store *other = open_store(conninfo);
    mz_store_set_node(other, "n2");
    assert_snapshot(other, 41, big, big_len);
    ck_assert_int_eq(mz_test_sql_value(conninfo,
                                       "SELECT count(*) FROM checkpoint_part "
                                       "WHERE node = 'n2'"),
                     3);
    mz_store_close(other);

    /* A new snapshot replaces the old one's parts. */
    ck_assert_int_eq(
        mz_store_write_checkpoint(store, 50, clients, 2, "small", 5, NULL),
        MZ_OK);
    ck_assert_int_eq(mz_test_sql_value(conninfo,
                                       "SELECT count(*) FROM checkpoint_part "
                                       "WHERE node = 'n1'"),
                     1);
    assert_snapshot(store, 50, "small", 5);

    /* A snapshot with a part missing is refused, not read short. */
    ck_assert_int_eq(
        mz_store_write_checkpoint(store, 60, clients, 2, big, big_len, NULL),
        MZ_OK);
    mz_test_sql_value(conninfo, "DELETE FROM checkpoint_part "
                                "WHERE node = 'n1' AND part = 1");
    int64_t seq = -1;
    void *global = NULL;
    size_t global_len = 0;
    ck_assert_int_eq(
        mz_store_read_checkpoint(store, &seq, &global, &global_len, NULL, NULL),
        MZ_ERR_INVALID);
    ck_assert_ptr_null(global);
    free(big);
    mz_store_close(store);
}
END_TEST

/* A database of schema version 9 keeps its checkpoint across 0010: the
 * snapshot column becomes one part. */
START_TEST(test_checkpoint_snapshot_survives_the_upgrade_to_parts)
{
    const char *conninfo = fresh_db("checkpoint_upgrade");
    mz_test_sql_value(conninfo, "CREATE TABLE schema_version ("
                                " version integer PRIMARY KEY,"
                                " name text NOT NULL,"
                                " applied_at timestamptz NOT NULL"
                                " DEFAULT now())");
    for (size_t i = 0; i < mz_migrations_count; i++) {
        char sql[160];
        if (mz_migrations[i].version > 9)
            break;
        mz_test_sql_value(conninfo, mz_migrations[i].sql);
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_version (version, name) VALUES (%d, '%s')",
                 mz_migrations[i].version, mz_migrations[i].name);
        mz_test_sql_value(conninfo, sql);
    }
    mz_test_sql_value(conninfo, "INSERT INTO checkpoint (node, seq, global) "
                                "VALUES ('n1', 7, '\\x00010203')");

    struct mz_store *store = open_store(conninfo);
    mz_store_set_node(store, "n1");
    assert_snapshot(store, 7, "\x00\x01\x02\x03", 4);
    mz_store_close(store);
}
END_TEST

/* ---- catalog, rules, attributes, erasure ----------------------------- */

struct pair_log {
    int n;
    char a[8][32];
    char b[8][128];
    int64_t v[8];
    bool deleted[8];
};

static bool pair_fn(void *ctx, const char *a, const char *b)
{
    struct pair_log *log = ctx;

    if (log->n < 8) {
        snprintf(log->a[log->n], sizeof log->a[0], "%s", a);
        snprintf(log->b[log->n], sizeof log->b[0], "%s", b);
    }
    log->n++;
    return true;
}

static bool rules_fn(void *ctx, const char *brand, int64_t version,
                     const char *doc)
{
    struct pair_log *log = ctx;

    if (log->n < 8)
        log->v[log->n] = version;
    return pair_fn(ctx, brand, doc);
}

/* mz_store_item_fn: pair_fn, and whether the item is deleted. */
static bool item_fn(void *ctx, const char *id, const char *doc, bool deleted)
{
    struct pair_log *log = ctx;

    if (log->n < 8)
        log->deleted[log->n] = deleted;
    return pair_fn(ctx, id, doc);
}

static bool stop_fn(void *ctx, const char *id, const char *doc, bool deleted)
{
    (void)ctx;
    (void)id;
    (void)doc;
    (void)deleted;
    return false;
}

START_TEST(test_catalog_upsert_keeps_order_and_delete)
{
    const char *conninfo = fresh_db("catalog");
    struct mz_store *store = open_store(conninfo);
    const char *ids1[] = {"zeta", "alpha", "mid"};
    const char *docs1[] = {"{\"v\": 1}", "{\"v\": 2}", "{\"v\": 3}"};
    const char *ids2[] = {"new", "zeta", "new"};
    const char *docs2[] = {"{\"v\": 4}", "{\"v\": 5}", "{\"v\": 6}"};
    const char *bad_ids[] = {"x"};
    const char *bad_docs[] = {"not json"};
    struct pair_log log;

    ck_assert_int_eq(mz_store_upsert_items(store, ids1, docs1, 3, "test", NULL),
                     MZ_OK);
    ck_assert_int_eq(mz_store_upsert_items(store, ids2, docs2, 3, "test", NULL),
                     MZ_OK);
    ck_assert_int_eq(
        mz_store_upsert_items(store, bad_ids, bad_docs, 1, "test", NULL),
        MZ_ERR_INVALID);
    memset(&log, 0, sizeof log);
    ck_assert_int_eq(mz_store_load_items(store, item_fn, &log), MZ_OK);
    ck_assert_int_eq(log.n, 4);
    ck_assert(!log.deleted[0] && !log.deleted[1]);
    /* Insertion order survives an update of zeta. */
    ck_assert_str_eq(log.a[0], "zeta");
    ck_assert_str_eq(log.b[0], "{\"v\": 5}");
    ck_assert_str_eq(log.a[1], "alpha");
    ck_assert_str_eq(log.a[2], "mid");
    ck_assert_str_eq(log.a[3], "new");
    ck_assert_str_eq(log.b[3], "{\"v\": 6}");

    ck_assert_int_eq(mz_store_delete_item(store, "alpha", "test", NULL), MZ_OK);
    ck_assert_int_eq(mz_store_delete_item(store, "alpha", "test", NULL),
                     MZ_ERR_NOT_FOUND);
    ck_assert_int_eq(mz_store_delete_item(store, "nothing", "test", NULL),
                     MZ_ERR_NOT_FOUND);
    /* A deleted item keeps its place in the order (the catalog indices
     * of the items after it must not move), flagged. */
    memset(&log, 0, sizeof log);
    ck_assert_int_eq(mz_store_load_items(store, item_fn, &log), MZ_OK);
    ck_assert_int_eq(log.n, 4);
    ck_assert_str_eq(log.a[1], "alpha");
    ck_assert(log.deleted[1]);
    ck_assert_str_eq(log.a[2], "mid");
    ck_assert(!log.deleted[2]);
    /* An upsert brings it back, in the same place. */
    const char *again_ids[] = {"alpha"};
    const char *again_docs[] = {"{\"v\": 7}"};
    ck_assert_int_eq(
        mz_store_upsert_items(store, again_ids, again_docs, 1, "test", NULL),
        MZ_OK);
    memset(&log, 0, sizeof log);
    ck_assert_int_eq(mz_store_load_items(store, item_fn, &log), MZ_OK);
    ck_assert_int_eq(log.n, 4);
    ck_assert_str_eq(log.a[1], "alpha");
    ck_assert_str_eq(log.b[1], "{\"v\": 7}");
    ck_assert(!log.deleted[1]);
    ck_assert_int_eq(mz_store_load_items(store, stop_fn, NULL), MZ_ERR_INVALID);
    ck_assert_int_eq(mz_store_ping(store), MZ_OK);
    mz_store_close(store);
}
END_TEST

START_TEST(test_rules_versions_and_attributes_round_trip)
{
    const char *conninfo = fresh_db("rules");
    struct mz_store *store = open_store(conninfo);
    struct pair_log log;
    int64_t v = 0;

    ck_assert_int_eq(
        mz_store_put_rules(store, "maison-a", "{\"r\": 1}", "test", &v, NULL),
        MZ_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(
        mz_store_put_rules(store, "maison-a", "{\"r\": 2}", "test", &v, NULL),
        MZ_OK);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(
        mz_store_put_rules(store, "maison-b", "{\"r\": 9}", "test", &v, NULL),
        MZ_OK);
    ck_assert_int_eq(v, 1);
    memset(&log, 0, sizeof log);
    ck_assert_int_eq(mz_store_load_rules(store, rules_fn, &log), MZ_OK);
    ck_assert_int_eq(log.n, 2);
    ck_assert_str_eq(log.a[0], "maison-a");
    ck_assert_int_eq(log.v[0], 2);
    ck_assert_str_eq(log.b[0], "{\"r\": 2}");
    ck_assert_int_eq(log.v[1], 1);

    ck_assert_int_eq(mz_store_put_client_attributes(
                         store, "c1", "{\"tier\": \"vip\"}", "test", NULL),
                     MZ_OK);
    ck_assert_int_eq(mz_store_put_client_attributes(
                         store, "c1", "{\"tier\": \"gold\"}", "test", NULL),
                     MZ_OK);
    ck_assert_int_eq(
        mz_store_put_client_attributes(store, "c2", "{}", "test", NULL), MZ_OK);
    memset(&log, 0, sizeof log);
    ck_assert_int_eq(mz_store_load_client_attributes(store, pair_fn, &log),
                     MZ_OK);
    ck_assert_int_eq(log.n, 2);
    ck_assert_str_eq(log.a[0], "c1");
    ck_assert_str_eq(log.b[0], "{\"tier\": \"gold\"}");
    mz_store_close(store);
}
END_TEST

struct rules_racer {
    const char *conninfo;
    int64_t versions[10];
    enum mz_status status;
};

static void *rules_racer_main(void *arg)
{
    struct rules_racer *r = arg;
    char err[512];
    struct mz_store *store = mz_store_open(r->conninfo, 1, err, sizeof err);

    r->status = store ? MZ_OK : MZ_ERR_DB_UNAVAILABLE;
    for (int i = 0; i < 10 && r->status == MZ_OK; i++)
        r->status = mz_store_put_rules(store, "race", "{}", "test",
                                       &r->versions[i], NULL);
    mz_store_close(store);
    return NULL;
}

START_TEST(test_concurrent_rule_puts_get_distinct_versions)
{
    const char *conninfo = fresh_db("rules_race");
    struct mz_store *store = open_store(conninfo);
    struct rules_racer racers[4];
    pthread_t threads[4];

    for (int t = 0; t < 4; t++) {
        racers[t] = (struct rules_racer){conninfo, {0}, MZ_ERR_INTERNAL};
        pthread_create(&threads[t], NULL, rules_racer_main, &racers[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(threads[t], NULL);
        ck_assert_int_eq(racers[t].status, MZ_OK);
    }
    ck_assert_int_eq(
        mz_test_sql_value(conninfo, "SELECT max(version) FROM brand_rules"),
        40);
    ck_assert_int_eq(
        mz_test_sql_value(conninfo,
                          "SELECT count(DISTINCT version) FROM brand_rules"),
        40);
    mz_store_close(store);
}
END_TEST

START_TEST(test_delete_client_erases_everything)
{
    const char *conninfo = fresh_db("erase");
    struct mz_store *store = open_store(conninfo);
    char err[512];
    struct mz_event_writer *writer =
        mz_event_writer_start(conninfo, 100, -1, NULL, NULL, err, sizeof err);
    struct mz_event_record evs[3];
    struct mz_client_blob blobs[] = {{"gone", "s", 1}, {"kept", "k", 1}};
    const char *count_gone =
        "SELECT (SELECT count(*) FROM events WHERE client_id = 'gone')"
        " + (SELECT count(*) FROM client_state WHERE client_id = 'gone')"
        " + (SELECT count(*) FROM client_attributes WHERE client_id = 'gone')";

    ck_assert_ptr_nonnull(writer);
    fill_event(&evs[0], "g1", "gone", "i1", 1);
    fill_event(&evs[1], "g2", "gone", NULL, 2);
    fill_event(&evs[2], "k1", "kept", "i1", 3);
    ck_assert_int_eq(mz_event_writer_submit(writer, evs, 3), MZ_OK);
    mz_event_writer_stop(writer);
    ck_assert_int_eq(
        mz_store_write_checkpoint(store, 3, blobs, 2, NULL, 0, NULL), MZ_OK);
    ck_assert_int_eq(
        mz_store_put_client_attributes(store, "gone", "{}", "test", NULL),
        MZ_OK);
    /* Two events, a state, the attributes and their marker in the log. */
    ck_assert_int_eq(mz_test_sql_value(conninfo, count_gone), 5);

    ck_assert_int_eq(mz_store_delete_client(store, "gone", "test", 0, NULL),
                     MZ_OK);
    ck_assert_int_eq(mz_test_sql_value(conninfo, count_gone), 0);
    /* The kept client's event, and the erasure's marker, which names the
     * client only by its digest (other nodes erase it from memory). */
    ck_assert_int_eq(mz_test_sql_value(conninfo, "SELECT count(*) FROM events"),
                     2);
    ck_assert_int_eq(
        mz_test_sql_value(conninfo, "SELECT count(*) FROM events WHERE type ="
                                    " 'change.erasure' AND client_id = '' AND"
                                    " payload LIKE 'digest:%' AND"
                                    " strpos(events::text, 'gone') = 0"),
        1);
    ck_assert_int_eq(
        mz_test_sql_value(conninfo, "SELECT count(*) FROM client_state"), 1);
    /* Erasing an unknown client is not an error. */
    ck_assert_int_eq(
        mz_store_delete_client(store, "never-seen", "test", 0, NULL), MZ_OK);
    mz_store_close(store);
}
END_TEST

/* ---- the audit log --------------------------------------------------- */

struct audit_log {
    int n;
    char actions[16][32];
    char targets[16][80];
    int64_t ids[16];
};

static bool collect_audit(void *ctx, const struct mz_audit_row *row)
{
    struct audit_log *log = ctx;

    if (log->n == 16)
        return false;
    snprintf(log->actions[log->n], sizeof log->actions[0], "%s", row->action);
    snprintf(log->targets[log->n], sizeof log->targets[0], "%s", row->target);
    log->ids[log->n++] = row->id;
    return true;
}

START_TEST(test_changes_are_audited_and_an_erasure_leaves_only_the_digest)
{
    const char *conninfo = fresh_db("audit");
    struct mz_store *store = open_store(conninfo);
    const char *ids[] = {"bag", "bag", "belt"};
    const char *docs[] = {"{}", "{}", "{}"};
    const char *bad_docs[] = {"{}", "not json"};
    char digest[MZ_AUDIT_DIGEST_BYTES], again[MZ_AUDIT_DIGEST_BYTES];
    struct audit_log log = {0};
    int64_t version;

    /* One row per distinct item; a batch that fails leaves none. */
    ck_assert_int_eq(mz_store_upsert_items(store, ids, docs, 3, "k1", NULL),
                     MZ_OK);
    ck_assert_int_ne(mz_store_upsert_items(store, ids, bad_docs, 2, "k1", NULL),
                     MZ_OK);
    ck_assert_int_eq(mz_store_delete_item(store, "none", "k1", NULL),
                     MZ_ERR_NOT_FOUND);
    ck_assert_int_eq(mz_store_put_rules(store, "b", "{}", "k2", &version, NULL),
                     MZ_OK);
    ck_assert_int_eq(
        mz_store_put_client_attributes(store, "ivy", "{}", "k3", NULL), MZ_OK);
    ck_assert_int_eq(mz_test_sql_value(conninfo, "SELECT count(*) FROM audit"),
                     4);
    ck_assert_int_eq(mz_store_list_audit(store, 0, 0, 100, collect_audit, &log),
                     MZ_OK);
    ck_assert_int_eq(log.n, 4);
    ck_assert_str_eq(log.actions[0], "catalog.upsert");
    ck_assert_str_eq(log.targets[2], "b");
    ck_assert_str_eq(log.actions[3], "client.attributes");
    ck_assert_int_lt(log.ids[0], log.ids[1]);

    /* Keyset paging: after the second row, two are left. */
    struct audit_log page = {0};
    ck_assert_int_eq(
        mz_store_list_audit(store, log.ids[1], 0, 100, collect_audit, &page),
        MZ_OK);
    ck_assert_int_eq(page.n, 2);

    /* The erasure: the client's rows move to its digest, which is the
     * same at every call and another client's differs. */
    mz_store_client_digest(store, "ivy", digest);
    mz_store_client_digest(store, "ivy", again);
    ck_assert_str_eq(digest, again);
    mz_store_client_digest(store, "ivo", again);
    ck_assert_str_ne(digest, again);
    ck_assert_int_eq(mz_store_delete_client(store, "ivy", "k4", 0, NULL),
                     MZ_OK);
    ck_assert_int_eq(
        mz_test_sql_value(conninfo,
                          "SELECT count(*) FROM audit WHERE target = 'ivy'"),
        0);
    struct audit_log of_client = {0};
    ck_assert_int_eq(
        mz_store_client_audit(store, digest, 100, collect_audit, &of_client),
        MZ_OK);
    ck_assert_int_eq(of_client.n, 2);
    ck_assert_str_eq(of_client.actions[1], "client.erase");

    /* Another store on the same database reads the same key. */
    mz_store_close(store);
    store = open_store(conninfo);
    mz_store_client_digest(store, "ivy", again);
    ck_assert_str_eq(digest, again);
    mz_store_close(store);
}
END_TEST

/* ---- lost connections ------------------------------------------------ */

START_TEST(test_killed_connections_are_replaced_and_reprepared)
{
    const char *conninfo = fresh_db("killed");
    struct mz_store *store = open_store(conninfo);
    struct committed_log log = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, false};
    char err[512];
    struct mz_event_writer *writer = mz_event_writer_start(
        conninfo, 100, -1, on_committed, &log, err, sizeof err);
    struct mz_event_record ev[2];
    struct pair_log items;
    const char *ids[] = {"i1"};
    const char *docs[] = {"{}"};

    ck_assert_ptr_nonnull(writer);
    fill_event(&ev[0], "k1", "c1", "i1", 1);
    ck_assert_int_eq(mz_event_writer_submit(writer, ev, 1), MZ_OK);
    ck_assert_int_eq(mz_store_upsert_items(store, ids, docs, 1, "test", NULL),
                     MZ_OK);

    /* An administrator (or a failover) ends every session: the next
     * calls reconnect, prepare their statements again and succeed. */
    mz_test_sql_value(conninfo, "SELECT count(pg_terminate_backend(pid)) "
                                "FROM pg_stat_activity "
                                "WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid()");
    fill_event(&ev[0], "k2", "c1", "i1", 2);
    fill_event(&ev[1], "k1", "c1", "i1", 1);
    ck_assert_int_eq(mz_event_writer_submit(writer, ev, 2), MZ_OK);
    ck_assert_int_gt(ev[0].seq, 0);
    ck_assert_int_eq(ev[1].seq, 0);
    /* k1, the item's marker (read from the log before k2), k2. */
    ck_assert_int_eq(log.events, 3);
    memset(&items, 0, sizeof items);
    ck_assert_int_eq(mz_store_load_items(store, item_fn, &items), MZ_OK);
    ck_assert_int_eq(items.n, 1);
    ck_assert_int_eq(mz_store_ping(store), MZ_OK);
    mz_event_writer_stop(writer);
    mz_store_close(store);
}
END_TEST

/* ---- outage ---------------------------------------------------------- */

/* Runs pg_ctl on the harness cluster, as the cluster's owner when we are
 * root. */
static int pg_ctl(const char *action)
{
    const char *bindir = getenv("MAISON_TEST_PG_BINDIR");
    const char *data = getenv("MAISON_TEST_PG_DATA");
    const char *user = getenv("MAISON_TEST_PG_USER");
    char cmd[2048];

    snprintf(cmd, sizeof cmd,
             "%s%s%s '%s/pg_ctl' -D '%s' -l '%s/../postgres.log' -m fast -w "
             "%s >/dev/null 2>&1",
             user && *user ? "runuser -u " : "", user && *user ? user : "",
             user && *user ? " --" : "", bindir, data, data, action);
    return system(cmd);
}

START_TEST(test_db_down_fails_fast_then_recovers)
{
    const char *conninfo;
    struct mz_store *store;
    char err[512];
    struct mz_event_writer *writer;
    struct committed_log log = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, false};
    struct mz_event_record ev[1];
    enum mz_status st;
    double start;

    if (getenv("MAISON_TEST_PG_BINDIR") == NULL ||
        getenv("MAISON_TEST_PG_DATA") == NULL) {
        fprintf(stderr, "outage test needs MAISON_TEST_PG_BINDIR/_DATA\n");
        return;
    }
    conninfo = fresh_db("outage");
    store = open_store(conninfo);
    writer = mz_event_writer_start(conninfo, 100, -1, on_committed, &log, err,
                                   sizeof err);
    ck_assert_msg(writer != NULL, "writer: %s", err);
    fill_event(&ev[0], "before", "c1", "i1", 1);
    ck_assert_int_eq(mz_event_writer_submit(writer, ev, 1), MZ_OK);
    ck_assert_int_eq(mz_store_ping(store), MZ_OK);

    ck_assert_int_eq(pg_ctl("stop"), 0);
    start = now_s();
    fill_event(&ev[0], "during", "c1", "i1", 2);
    ck_assert_int_eq(mz_event_writer_submit(writer, ev, 1),
                     MZ_ERR_DB_UNAVAILABLE);
    ck_assert_int_eq(ev[0].seq, 0);
    /* Now the writer knows: the next one fails without a round trip. */
    ck_assert_int_eq(mz_event_writer_submit(writer, ev, 1),
                     MZ_ERR_DB_UNAVAILABLE);
    ck_assert_int_eq(mz_store_ping(store), MZ_ERR_DB_UNAVAILABLE);
    ck_assert_int_eq(mz_store_delete_item(store, "x", "test", NULL),
                     MZ_ERR_DB_UNAVAILABLE);
    ck_assert_msg(now_s() - start < 2.0, "failing took %.2f s",
                  now_s() - start);
    /* While down, no thread may spin: the process stays nearly idle. */
    {
        clock_t cpu0 = clock();

        usleep(1500000);
        ck_assert_msg((double)(clock() - cpu0) / CLOCKS_PER_SEC < 0.3,
                      "busy while the database is down");
    }

    ck_assert_int_eq(pg_ctl("start"), 0);
    start = now_s();
    do {
        st = mz_event_writer_submit(writer, ev, 1);
        if (st != MZ_OK)
            usleep(100000);
    } while (st != MZ_OK && now_s() - start < 30);
    ck_assert_int_eq(st, MZ_OK);
    ck_assert_int_gt(ev[0].seq, 0);
    ck_assert_int_eq(mz_store_ping(store), MZ_OK);
    ck_assert_int_eq(mz_test_sql_value(conninfo, "SELECT count(*) FROM events"),
                     2);
    ck_assert_int_eq(log.events, 2);
    ck_assert(!log.out_of_order);
    mz_event_writer_stop(writer);
    mz_store_close(store);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("postgres");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_migrations_idempotent_and_safe_concurrently);
    tcase_add_test(tc, test_open_fails_cleanly_when_unreachable);
    tcase_add_test(tc, test_connection_errors_never_show_the_password);
    tcase_add_test(tc,
                   test_group_commit_exactly_once_with_duplicates_in_seq_order);
    tcase_add_test(tc, test_group_commit_throughput_64_submitters);
    tcase_add_test(
        tc, test_learning_overlaps_next_commit_replies_wait_in_log_order);
    tcase_add_test(tc, test_scan_events_in_log_order_after_seq);
    tcase_add_test(tc, test_checkpoint_round_trip);
    tcase_add_test(tc,
                   test_checkpoint_snapshot_in_parts_paced_pruned_and_adopted);
    tcase_add_test(tc, test_checkpoint_snapshot_survives_the_upgrade_to_parts);
    tcase_add_test(tc, test_catalog_upsert_keeps_order_and_delete);
    tcase_add_test(tc, test_rules_versions_and_attributes_round_trip);
    tcase_add_test(tc, test_concurrent_rule_puts_get_distinct_versions);
    tcase_add_test(tc, test_delete_client_erases_everything);
    tcase_add_test(
        tc, test_changes_are_audited_and_an_erasure_leaves_only_the_digest);
    tcase_add_test(tc, test_killed_connections_are_replaced_and_reprepared);
    tcase_add_test(tc, test_db_down_fails_fast_then_recovers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner;
    int failed;

    if (!mz_test_db_base()) {
        fprintf(stderr, "MAISON_TEST_DATABASE_URL not set; run under "
                        "tests/harness/with_pg.sh\n");
        return 77;
    }
    runner = srunner_create(store_suite());
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
