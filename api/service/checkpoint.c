/*-------------------------------------------------------------------------
 * checkpoint.c
 *    Checkpoints of the learned state, and the checkpointer thread.
 *
 * A checkpoint writes, in one transaction, every client changed since
 * the last one and (when it learned something) the global level, as of
 * one log position; a start loads it and replays the log after it
 * (docs/durability.md). The copy is taken under the read lock, so
 * recommendations go on; the write to PostgreSQL holds no lock but the
 * checkpoint mutex, which keeps an erasure from being written over.
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

struct pending_checkpoint {
    struct mz_client_blob *blobs; /* owned array; ids and bytes owned */
    size_t count;
    void *global; /* owned; NULL: the level is unchanged */
    size_t global_len;
    int64_t seq;
};

static void pending_checkpoint_clear(struct pending_checkpoint *pc)
{
    for (size_t i = 0; i < pc->count; i++) {
        free((char *)pc->blobs[i].client_id);
        free((void *)pc->blobs[i].bytes);
    }
    free(pc->blobs);
    free(pc->global);
    memset(pc, 0, sizeof *pc);
}

/* Copies entry's record into the next blob of pc and marks it clean.
 * Caller holds the read lock and the entry's impressions lock (readers
 * record impressions). Returns false on allocation failure. */
static bool collect_client(struct mz_service *svc,
                           struct mz_client_entry *entry,
                           struct pending_checkpoint *pc, size_t *capacity)
{
    if (pc->count == *capacity) {
        size_t grown_capacity = *capacity ? *capacity * 2 : 256;
        struct mz_client_blob *grown =
            realloc(pc->blobs, grown_capacity * sizeof *grown);
        if (!grown)
            return false;
        pc->blobs = grown;
        *capacity = grown_capacity;
    }
    struct mz_client_blob *blob = &pc->blobs[pc->count++];
    blob->client_id = strdup(entry->client_id);
    blob->bytes = mz_client_record_save(
        entry->memory, entry->facts, &entry->privates, svc->catalog,
        entry->consent, entry->events_logged, &blob->len);
    entry->dirty = false;
    return blob->client_id && blob->bytes;
}

/* Under the read lock (so recommendations go on; learning and catalog
 * changes, which take the write lock, wait): copies out every changed
 * client and the global level, and clears their marks. Returns MZ_OK or
 * MZ_ERR_NOMEM (the caller marks what was collected changed again). */
static enum mz_status collect_checkpoint(struct mz_service *svc,
                                         struct pending_checkpoint *pc)
{
    size_t capacity = 0, cursor = 0;
    struct mz_client_entry *entry;
    bool any_dirty = false;
    while (!any_dirty && (entry = mz_client_cache_next(svc->clients, &cursor)))
        any_dirty = entry->dirty;
    pc->seq = svc->applied_seq;
    if (!any_dirty && !svc->global_dirty)
        return MZ_OK;
    /* Without learned events the stored global level is still current:
     * impressions alone must not rewrite tens of megabytes. */
    if (svc->global_dirty) {
        const char **ids = mz_service_catalog_ids(svc);
        if (!ids)
            return MZ_ERR_NOMEM;
        pc->global = mz_model_save(svc->model, ids, &pc->global_len);
        free(ids);
        if (!pc->global)
            return MZ_ERR_NOMEM;
        svc->global_dirty = false;
    }
    cursor = 0;
    while ((entry = mz_client_cache_next(svc->clients, &cursor))) {
        pthread_mutex_lock(&entry->impressions_lock);
        bool ok = !entry->dirty || collect_client(svc, entry, pc, &capacity);
        pthread_mutex_unlock(&entry->impressions_lock);
        if (!ok)
            return MZ_ERR_NOMEM;
    }
    return MZ_OK;
}

/* After a failed write: mark what was collected changed again. */
static void restore_dirty(struct mz_service *svc,
                          const struct pending_checkpoint *pc)
{
    pthread_rwlock_wrlock(&svc->lock);
    for (size_t i = 0; i < pc->count; i++) {
        if (!pc->blobs[i].client_id)
            continue;
        struct mz_client_entry *entry =
            mz_client_cache_get(svc->clients, pc->blobs[i].client_id);
        if (entry)
            entry->dirty = true;
    }
    svc->global_dirty = true;
    pthread_rwlock_unlock(&svc->lock);
}

enum mz_status mz_service_checkpoint(struct mz_service *svc)
{
    struct pending_checkpoint pc = {0};
    pthread_mutex_lock(&svc->checkpoint_mutex);
    pthread_rwlock_rdlock(&svc->lock);
    enum mz_status status = collect_checkpoint(svc, &pc);
    pthread_rwlock_unlock(&svc->lock);
    if (status != MZ_OK)
        restore_dirty(svc, &pc);
    if (status == MZ_OK && (pc.global || pc.count > 0)) {
        status = mz_store_write_checkpoint(svc->store, pc.seq, pc.blobs,
                                           pc.count, pc.global, pc.global_len);
        if (status == MZ_OK) {
            pthread_rwlock_wrlock(&svc->lock); /* stats read it */
            svc->checkpoint_seq = pc.seq;
            pthread_rwlock_unlock(&svc->lock);
            atomic_fetch_add_explicit(&svc->counters.checkpoints, 1,
                                      memory_order_relaxed);
        } else {
            restore_dirty(svc, &pc);
            atomic_fetch_add_explicit(&svc->counters.checkpoint_errors, 1,
                                      memory_order_relaxed);
            mz_service_note_db_error(svc);
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
    /* Checkpoints can wait a little; requests should not wait for them:
     * on Linux a thread has its own nice value (best effort). */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    pthread_mutex_lock(&svc->stop_mutex);
    while (!svc->stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += svc->checkpoint_interval_s;
        int rc = 0;
        while (!svc->stopping && !svc->wake_checkpointer && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&svc->stop_cond, &svc->stop_mutex,
                                        &deadline);
        if (svc->stopping)
            break;
        svc->wake_checkpointer = false;
        pthread_mutex_unlock(&svc->stop_mutex);
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
