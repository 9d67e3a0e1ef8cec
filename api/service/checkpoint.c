/*-------------------------------------------------------------------------
 * checkpoint.c
 *    Checkpoints of the learned state, and the checkpointer thread.
 *
 * A checkpoint writes, in one transaction, every client changed since
 * the last one and (when it learned something) the global level, as of
 * one log position; a start loads it and replays the log after it
 * (docs/durability.md). The copy never holds the read lock for long, so
 * learning (which takes the write lock) and the requests waiting for it
 * go on: passes copy changed clients in slices of 64, the lock released
 * between slices, each copy clearing the client's mark; a client learned
 * again is marked again. When a pass finds few, one final hold copies
 * the marked rest and the global level (plain arrays) at the same
 * position. The level is serialised and the checkpoint written after it,
 * on a niced thread, holding no lock but the checkpoint mutex, which
 * keeps an erasure from being written over and an eviction from taking
 * a copied client. The write is paced over part of the interval
 * (--checkpoint-spread), so PostgreSQL takes it in steps beside the
 * requests rather than in one burst; a stop or an erasure waiting for
 * the mutex ends the pauses. Each checkpoint logs where its time went.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "model/client_record.h"
#include "model/hash.h"
#include "model/log.h"

/* Clients copied, and table entries looked at, per read-lock hold of a
 * pre-copy pass: learning waits at most one such slice. A client record
 * costs tens of microseconds to copy on a loaded machine (a 256-client
 * slice took 17 ms at load 13 beside the bench), so slices stay small;
 * more of them cost only a lock round trip each. */
#define CHECKPOINT_CLIENTS_PER_HOLD 64
#define CHECKPOINT_ENTRIES_PER_HOLD 2048
/* Pre-copy passes end after this many, or after one that found this
 * few changed clients: the final hold copies what is left. */
#define CHECKPOINT_MAX_PASSES  4
#define CHECKPOINT_FEW_CLIENTS 64

struct pending_checkpoint {
    struct mz_client_blob *blobs; /* owned array; bytes owned, ids
                                     borrowed from index */
    size_t count;
    size_t capacity;
    struct mz_hash_table *index;  /* owned: client id -> its blob */
    struct mz_model_image *image; /* owned; NULL: the level is unchanged
                                     (or already serialised) */
    const char **item_ids;        /* owned, with the ids' bytes: the
                                     catalog's ids as of the image */
    void *global;                 /* owned: image serialised */
    size_t global_len;
    int64_t seq;
};

/* Where the time of one checkpoint went (the log line it writes). */
struct checkpoint_timing {
    int passes;
    int64_t first_copy_seq;  /* log position at the first copy */
    size_t precopied;        /* client copies made by the passes */
    double max_slice_ms;     /* longest read-lock hold of a pass */
    double max_slice_cpu_ms; /* the most CPU time of one */
    size_t final_clients;    /* clients copied in the final hold */
    double final_hold_ms;    /* the final hold, all of it */
    double final_hold_cpu_ms;
    double global_copy_ms; /* of which copying the global level */
    double serialise_ms;   /* the global level to bytes, no lock */
    double paused_ms;      /* of write_ms, pauses of the pacing */
    double write_ms;       /* PostgreSQL, no lock */
};

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 +
           (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static double elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return ms_between(since, &now);
}

/* Wall and thread CPU time since a start: the wall time is what the
 * learner waits, the CPU time what it would wait on an idle machine. */
struct stopwatch {
    struct timespec wall;
    struct timespec cpu;
};

static void stopwatch_start(struct stopwatch *w)
{
    clock_gettime(CLOCK_MONOTONIC, &w->wall);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &w->cpu);
}

/* Returns the wall ms since start; sets *cpu_ms. */
static double stopwatch_ms(const struct stopwatch *w, double *cpu_ms)
{
    struct timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    *cpu_ms = ms_between(&w->cpu, &cpu);
    return elapsed_ms(&w->wall);
}

static void pending_checkpoint_clear(struct pending_checkpoint *pc)
{
    for (size_t i = 0; i < pc->count; i++)
        free((void *)pc->blobs[i].bytes);
    free(pc->blobs);
    mz_hash_table_free(pc->index);
    mz_model_image_free(pc->image);
    free(pc->item_ids);
    free(pc->global);
    memset(pc, 0, sizeof *pc);
}

/* Copies entry's record into pc, replacing an earlier copy of the same
 * client (a pass copied it, then it learned again), and marks it clean.
 * Caller holds the read lock and the entry's impressions lock (readers
 * record impressions). Returns false on allocation failure. */
static bool collect_client(struct mz_service *svc,
                           struct mz_client_entry *entry,
                           struct pending_checkpoint *pc)
{
    int32_t at = mz_hash_table_get_index(pc->index, entry->client_id);
    if (at < 0) {
        if (pc->count == pc->capacity) {
            size_t grown_capacity = pc->capacity ? pc->capacity * 2 : 256;
            if (grown_capacity > INT32_MAX) /* the index holds int32 */
                return false;
            struct mz_client_blob *grown =
                realloc(pc->blobs, grown_capacity * sizeof *grown);
            if (!grown)
                return false;
            pc->blobs = grown;
            pc->capacity = grown_capacity;
        }
        const char *id = mz_hash_table_put(
            pc->index, entry->client_id,
            (union mz_hash_value){.index = (int32_t)pc->count});
        if (!id)
            return false;
        at = (int32_t)pc->count++;
        pc->blobs[at] = (struct mz_client_blob){.client_id = id};
    }
    struct mz_client_blob *blob = &pc->blobs[at];
    size_t len = 0;
    void *bytes = mz_client_record_save(
        entry->memory, entry->facts, &entry->privates, svc->catalog,
        entry->consent, entry->events_logged, &len);
    if (!bytes)
        return false;
    free((void *)blob->bytes);
    blob->bytes = bytes;
    blob->len = len;
    entry->dirty = false;
    return true;
}

/* Copies entry when it changed since its last copy, counting it in
 * *copied. Caller holds the read lock. Returns false on allocation
 * failure. */
static bool collect_if_dirty(struct mz_service *svc,
                             struct mz_client_entry *entry,
                             struct pending_checkpoint *pc, size_t *copied)
{
    pthread_mutex_lock(entry->impressions_lock);
    bool ok = true;
    if (entry->dirty) {
        ok = collect_client(svc, entry, pc);
        *copied += ok;
    }
    pthread_mutex_unlock(entry->impressions_lock);
    return ok;
}

/* One pre-copy pass: walks the client table in slices, each under its own
 * read-lock hold, copying the changed clients. Between slices the lock is
 * free, so learning goes on and may change (and mark) clients already
 * copied, or grow the table so that the walk skips or revisits entries:
 * both are harmless, since the final hold copies whatever is marked then.
 * No client is removed meanwhile (erasure and eviction wait for the
 * checkpoint mutex). Sets *copied; returns MZ_OK or MZ_ERR_NOMEM. */
static enum mz_status precopy_pass(struct mz_service *svc,
                                   struct pending_checkpoint *pc,
                                   size_t *copied,
                                   struct checkpoint_timing *timing)
{
    size_t cursor = 0;
    struct mz_client_entry *entry = NULL;
    bool ok = true;
    *copied = 0;
    do {
        struct stopwatch slice;
        mz_service_read_lock(svc);
        stopwatch_start(&slice);
        if (timing->passes == 0 && cursor == 0)
            timing->first_copy_seq = svc->applied_seq;
        size_t looked = 0, taken = 0;
        while (ok && looked < CHECKPOINT_ENTRIES_PER_HOLD &&
               taken < CHECKPOINT_CLIENTS_PER_HOLD &&
               (entry = mz_client_cache_next(svc->clients, &cursor))) {
            looked++;
            ok = collect_if_dirty(svc, entry, pc, &taken);
        }
        pthread_rwlock_unlock(&svc->lock);
        double cpu_ms, slice_ms = stopwatch_ms(&slice, &cpu_ms);
        if (slice_ms > timing->max_slice_ms)
            timing->max_slice_ms = slice_ms;
        if (cpu_ms > timing->max_slice_cpu_ms)
            timing->max_slice_cpu_ms = cpu_ms;
        *copied += taken;
    } while (ok && entry);
    return ok ? MZ_OK : MZ_ERR_NOMEM;
}

/* The catalog's ids by index, copied (they may be freed by a catalog
 * change once the lock is released): one malloc'd block of pointers and
 * bytes, caller frees; NULL on allocation failure. Caller holds the
 * lock. */
static const char **copy_catalog_ids(const struct mz_service *svc)
{
    const char **ids = mz_service_catalog_ids(svc);
    if (!ids)
        return NULL;
    size_t n = (size_t)mz_catalog_count(svc->catalog), bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(ids[i]) + 1;
    const char **copy = malloc(n * sizeof *copy + bytes + 1);
    char *at = copy ? (char *)(copy + n) : NULL;
    for (size_t i = 0; copy && i < n; i++) {
        size_t len = strlen(ids[i]) + 1;
        memcpy(at, ids[i], len);
        copy[i] = at;
        at += len;
    }
    free(ids);
    return copy;
}

/* When the global level changed since the last checkpoint, makes the
 * image it will be copied into now, so that the final hold only copies
 * (allocating and mapping tens of megabytes took longer than the copy).
 * Returns MZ_OK or MZ_ERR_NOMEM. */
static enum mz_status prepare_image(struct mz_service *svc,
                                    struct pending_checkpoint *pc)
{
    struct mz_model_image_room room = {0};
    mz_service_read_lock(svc);
    bool changed = svc->global_dirty;
    if (changed)
        room = mz_model_image_room(svc->model);
    pthread_rwlock_unlock(&svc->lock);
    if (!changed)
        return MZ_OK;
    pc->image = mz_model_image_new(&room);
    return pc->image ? MZ_OK : MZ_ERR_NOMEM;
}

/* Takes the read lock at a moment when no global chunk is applied in
 * part: the learner applies one in short write holds (learning.c) and
 * learns nothing until it is done, so this waits a few of its holds. */
static void read_lock_between_chunks(struct mz_service *svc)
{
    for (;;) {
        mz_service_read_lock(svc);
        if (!mz_model_chunk_due(svc->model))
            return;
        pthread_rwlock_unlock(&svc->lock);
        struct timespec pause = {.tv_nsec = 50000};
        nanosleep(&pause, NULL);
    }
}

/* The final hold, under the read lock (recommendations go on; learning
 * waits): sets the checkpoint's position, copies the clients still
 * marked and, when events were learned since the last checkpoint, the
 * global level as plain arrays. With what the passes copied (clients
 * unchanged since their copy are as of this position too) that is the
 * state as of pc->seq. Returns MZ_OK or MZ_ERR_NOMEM. */
static enum mz_status collect_final(struct mz_service *svc,
                                    struct pending_checkpoint *pc,
                                    struct checkpoint_timing *timing)
{
    struct stopwatch hold;
    read_lock_between_chunks(svc);
    stopwatch_start(&hold);
    pc->seq = svc->applied_seq;
    size_t cursor = 0;
    struct mz_client_entry *entry;
    bool ok = true;
    while (ok && (entry = mz_client_cache_next(svc->clients, &cursor)))
        ok = collect_if_dirty(svc, entry, pc, &timing->final_clients);
    /* Without learned events the stored global level is still current:
     * impressions alone must not rewrite tens of megabytes. */
    if (ok && svc->global_dirty) {
        struct timespec copy_start;
        clock_gettime(CLOCK_MONOTONIC, &copy_start);
        if (!pc->image) { /* learned since prepare_image looked */
            struct mz_model_image_room room = mz_model_image_room(svc->model);
            pc->image = mz_model_image_new(&room);
        }
        pc->item_ids = copy_catalog_ids(svc);
        ok = pc->image && pc->item_ids &&
             mz_model_image_take(pc->image, svc->model);
        if (ok)
            svc->global_dirty = false;
        timing->global_copy_ms = elapsed_ms(&copy_start);
    }
    pthread_rwlock_unlock(&svc->lock);
    timing->final_hold_ms = stopwatch_ms(&hold, &timing->final_hold_cpu_ms);
    return ok ? MZ_OK : MZ_ERR_NOMEM;
}

/* Copies out the state as of one log position, the way live migration
 * copies memory: passes copy the changed clients in short read-lock
 * slices while learning goes on, until one finds few changed, then the
 * final hold copies the rest and the global level at once; the global
 * level is serialised after it, without the lock. Returns MZ_OK or
 * MZ_ERR_NOMEM (the caller marks what was collected changed again). */
static enum mz_status collect_checkpoint(struct mz_service *svc,
                                         struct pending_checkpoint *pc,
                                         struct checkpoint_timing *timing)
{
    pc->index = mz_hash_table_new();
    if (!pc->index)
        return MZ_ERR_NOMEM;
    size_t copied = CHECKPOINT_FEW_CLIENTS + 1;
    enum mz_status status = MZ_OK;
    while (status == MZ_OK && timing->passes < CHECKPOINT_MAX_PASSES &&
           copied > CHECKPOINT_FEW_CLIENTS) {
        status = precopy_pass(svc, pc, &copied, timing);
        timing->passes++;
        timing->precopied += copied;
    }
    if (status == MZ_OK)
        status = prepare_image(svc, pc);
    if (status == MZ_OK)
        status = collect_final(svc, pc, timing);
    return status;
}

/* Paces a checkpoint's write: after each part, waits until the share
 * of the spread that the bytes written so far stand for has passed, so
 * the write ends about spread_s after it began (sooner when PostgreSQL
 * is slower). Waits on stop_cond, so a stop, or an erasure announcing
 * itself (mz_service_hurry_checkpoint), ends the pause at once. */
struct write_pace {
    struct mz_service *svc;
    struct timespec start; /* CLOCK_REALTIME, stop_cond's clock */
    double spread_s;
    double paused_ms;
};

static void pace_after_part(void *ctx, size_t done, size_t total)
{
    struct write_pace *p = ctx;
    struct mz_service *svc = p->svc;
    double due_s = p->spread_s * (double)done / (double)(total ? total : 1);
    struct timespec due = p->start, now;
    long long due_ns = (long long)(due_s * 1e9) + due.tv_nsec;
    due.tv_sec += (time_t)(due_ns / 1000000000LL);
    due.tv_nsec = (long)(due_ns % 1000000000LL);

    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&svc->stop_mutex);
    int rc = 0;
    while (!svc->stopping && svc->checkpoint_hurry == 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&svc->stop_cond, &svc->stop_mutex, &due);
    pthread_mutex_unlock(&svc->stop_mutex);
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    double waited = (double)(end.tv_sec - now.tv_sec) * 1e3 +
                    (double)(end.tv_nsec - now.tv_nsec) / 1e6;
    if (waited > 0)
        p->paused_ms += waited;
}

void mz_service_hurry_checkpoint(struct mz_service *svc, bool waiting)
{
    pthread_mutex_lock(&svc->stop_mutex);
    svc->checkpoint_hurry += waiting ? 1 : -1;
    pthread_cond_broadcast(&svc->stop_cond);
    pthread_mutex_unlock(&svc->stop_mutex);
}

/* The part of a checkpoint that holds no lock: serialises the global
 * level (when copied) and writes pc. Sets *attempted when it reached
 * PostgreSQL. Returns MZ_OK, MZ_ERR_NOMEM, or the store's status. */
static enum mz_status serialise_and_write(struct mz_service *svc,
                                          struct pending_checkpoint *pc,
                                          struct checkpoint_timing *timing,
                                          bool *attempted)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (pc->image) {
        pc->global =
            mz_model_image_save(pc->image, pc->item_ids, &pc->global_len);
        if (!pc->global)
            return MZ_ERR_NOMEM;
        /* The arrays are no longer needed: free them before the write. */
        mz_model_image_free(pc->image);
        pc->image = NULL;
    }
    timing->serialise_ms = elapsed_ms(&start);
    clock_gettime(CLOCK_MONOTONIC, &start);
    *attempted = true;
    struct write_pace pace = {.svc = svc,
                              .spread_s = svc->checkpoint_interval_s *
                                          (svc->checkpoint_spread_pct / 100.0)};
    clock_gettime(CLOCK_REALTIME, &pace.start);
    const struct mz_store_pace hook = {pace_after_part, &pace};
    enum mz_status status = mz_store_write_checkpoint(
        svc->store, pc->seq, pc->blobs, pc->count, pc->global, pc->global_len,
        pace.spread_s > 0 ? &hook : NULL);
    timing->write_ms = elapsed_ms(&start);
    timing->paused_ms = pace.paused_ms;
    return status;
}

struct write_job {
    struct mz_service *svc;
    struct pending_checkpoint *pc;
    struct checkpoint_timing *timing;
    bool attempted;
    enum mz_status status;
};

static void *low_priority_write_main(void *arg)
{
    struct write_job *job = arg;
    pthread_setname_np(pthread_self(), "mz-ckpt-write"); /* top -H, perf */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    job->status =
        serialise_and_write(job->svc, job->pc, job->timing, &job->attempted);
    return NULL;
}

/* serialise_and_write on a thread of its own at nice 10 (on Linux a
 * thread has its own nice value; best effort, inline when no thread can
 * be made): requests should not wait for it. Only this part is niced: a
 * niced thread holding the read lock on a busy machine is starved of CPU
 * while the learner waits for it (measured: a 256-client slice took
 * 300 ms at load 16 when the whole checkpointer ran at nice 10), and
 * the checkpointer's eviction takes the write lock. */
static enum mz_status write_at_low_priority(struct mz_service *svc,
                                            struct pending_checkpoint *pc,
                                            struct checkpoint_timing *timing,
                                            bool *attempted)
{
    struct write_job job = {.svc = svc, .pc = pc, .timing = timing};
    pthread_t writer;
    if (pthread_create(&writer, NULL, low_priority_write_main, &job) != 0)
        return serialise_and_write(svc, pc, timing, attempted);
    pthread_join(writer, NULL);
    *attempted = job.attempted;
    return job.status;
}

/* After a failed write: mark what was collected changed again. */
static void restore_dirty(struct mz_service *svc,
                          const struct pending_checkpoint *pc)
{
    pthread_rwlock_wrlock(&svc->lock);
    for (size_t i = 0; i < pc->count; i++) {
        struct mz_client_entry *entry =
            mz_client_cache_get(svc->clients, pc->blobs[i].client_id);
        if (entry)
            entry->dirty = true;
    }
    svc->global_dirty = true;
    pthread_rwlock_unlock(&svc->lock);
}

static void log_checkpoint(const struct pending_checkpoint *pc,
                           const struct checkpoint_timing *timing)
{
    struct mz_log_line l;
    mz_log_begin(&l, MZ_LOG_INFO, "checkpoint written");
    mz_log_int(&l, "seq", pc->seq);
    mz_log_int(&l, "clients", (int64_t)pc->count);
    mz_log_int(&l, "global_bytes", (int64_t)pc->global_len);
    mz_log_int(&l, "first_copy_seq", timing->first_copy_seq);
    mz_log_int(&l, "passes", timing->passes);
    mz_log_int(&l, "precopied", (int64_t)timing->precopied);
    mz_log_double(&l, "max_slice_ms", timing->max_slice_ms);
    mz_log_double(&l, "max_slice_cpu_ms", timing->max_slice_cpu_ms);
    mz_log_int(&l, "final_clients", (int64_t)timing->final_clients);
    mz_log_double(&l, "final_hold_ms", timing->final_hold_ms);
    mz_log_double(&l, "final_hold_cpu_ms", timing->final_hold_cpu_ms);
    mz_log_double(&l, "global_copy_ms", timing->global_copy_ms);
    mz_log_double(&l, "serialise_ms", timing->serialise_ms);
    mz_log_double(&l, "write_ms", timing->write_ms);
    mz_log_double(&l, "paused_ms", timing->paused_ms);
    mz_log_end(&l);
}

enum mz_status mz_service_checkpoint(struct mz_service *svc)
{
    struct pending_checkpoint pc = {0};
    struct checkpoint_timing timing = {0};
    /* Held throughout: no erasure or eviction between the first copy and
     * knowing whether the write succeeded. */
    pthread_mutex_lock(&svc->checkpoint_mutex);
    enum mz_status status = collect_checkpoint(svc, &pc, &timing);
    if (status != MZ_OK)
        restore_dirty(svc, &pc);
    if (status == MZ_OK && (pc.image || pc.count > 0)) {
        bool attempted = false;
        status = write_at_low_priority(svc, &pc, &timing, &attempted);
        if (status == MZ_OK) {
            pthread_rwlock_wrlock(&svc->lock); /* stats read it */
            svc->checkpoint_seq = pc.seq;
            pthread_rwlock_unlock(&svc->lock);
            atomic_fetch_add_explicit(&svc->counters.checkpoints, 1,
                                      memory_order_relaxed);
            log_checkpoint(&pc, &timing);
        } else {
            restore_dirty(svc, &pc);
            if (attempted) {
                atomic_fetch_add_explicit(&svc->counters.checkpoint_errors, 1,
                                          memory_order_relaxed);
                mz_service_note_db_error(svc);
            }
        }
    }
    if (status == MZ_OK)
        atomic_store(&svc->last_checkpoint_ms, mz_service_wall_ms());
    pthread_mutex_unlock(&svc->checkpoint_mutex);
    pending_checkpoint_clear(&pc);
    return status;
}

void mz_service_wake_checkpointer(void *arg)
{
    struct mz_service *svc = arg;
    pthread_mutex_lock(&svc->stop_mutex);
    svc->wake_checkpointer = true;
    pthread_cond_signal(&svc->stop_cond);
    pthread_mutex_unlock(&svc->stop_mutex);
}

/* Evicts after a checkpoint: not while another checkpoint is between
 * copying clients and knowing its write succeeded (a failed write marks
 * its clients changed again, so they must still be here). */
static void evict(struct mz_service *svc)
{
    pthread_mutex_lock(&svc->checkpoint_mutex);
    mz_client_cache_evict(svc->clients);
    pthread_mutex_unlock(&svc->checkpoint_mutex);
}

void *mz_service_checkpointer_main(void *arg)
{
    struct mz_service *svc = arg;
    pthread_setname_np(pthread_self(), "mz-checkpoint"); /* top -H, perf */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += svc->checkpoint_interval_s;
    pthread_mutex_lock(&svc->stop_mutex);
    while (!svc->stopping) {
        int rc = 0;
        while (!svc->stopping && !svc->wake_checkpointer && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&svc->stop_cond, &svc->stop_mutex,
                                        &deadline);
        if (svc->stopping)
            break;
        svc->wake_checkpointer = false;
        pthread_mutex_unlock(&svc->stop_mutex);
        /* From start to start: a paced write takes part of the interval,
         * and the next checkpoint still begins one interval after this
         * one did (at once, if this one took longer). */
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += svc->checkpoint_interval_s;
        /* Eviction takes only clean clients: right after a checkpoint is
         * when most are. */
        mz_service_checkpoint(svc);
        evict(svc);
        mz_service_reload_keys(svc);
        mz_service_retention_pass(svc);
        pthread_mutex_lock(&svc->stop_mutex);
    }
    pthread_mutex_unlock(&svc->stop_mutex);
    return NULL;
}
