/*-------------------------------------------------------------------------
 * service.c
 *    The service's life cycle (open, close), readiness and figures.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/log.h"
#include "model/token_bucket.h"

const char *mz_service_actor(const struct mz_principal *by)
{
    return by ? by->key_id : "maisond";
}

int64_t mz_service_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mz_service_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mz_service_read_lock(struct mz_service *svc)
{
    /* The common case, no writer in: no shared counter to touch. */
    if (pthread_rwlock_tryrdlock(&svc->lock) == 0)
        return;
    atomic_fetch_add_explicit(&svc->readers_waiting, 1, memory_order_relaxed);
    pthread_rwlock_rdlock(&svc->lock);
    atomic_fetch_sub_explicit(&svc->readers_waiting, 1, memory_order_relaxed);
}

void mz_service_note_db_error(struct mz_service *svc)
{
    atomic_fetch_add_explicit(&svc->counters.db_errors, 1,
                              memory_order_relaxed);
}

struct mz_service *mz_service_open(const struct mz_service_config *cfg,
                                   char *err, size_t err_len)
{
    err[0] = '\0';
    struct mz_service *svc = calloc(1, sizeof *svc);
    if (!svc) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_rwlock_init(&svc->lock, NULL);
    pthread_mutex_init(&svc->checkpoint_mutex, NULL);
    pthread_mutex_init(&svc->catalog_write_mutex, NULL);
    pthread_mutex_init(&svc->rules_write_mutex, NULL);
    pthread_mutex_init(&svc->stop_mutex, NULL);
    pthread_rwlock_init(&svc->keys_lock, NULL);
    pthread_mutex_init(&svc->keys_write_mutex, NULL);
    pthread_cond_init(&svc->stop_cond, NULL);
    svc->checkpoint_interval_s =
        cfg->checkpoint_interval_s > 0 ? cfg->checkpoint_interval_s : 30;
    svc->checkpoint_spread_pct =
        cfg->checkpoint_spread_pct > 0
            ? (cfg->checkpoint_spread_pct < 90 ? cfg->checkpoint_spread_pct
                                               : 90)
            : 0;
    if (cfg->default_rate_per_s > 0) {
        struct mz_token_bucket probe;
        if (!mz_token_bucket_init(&probe, cfg->default_rate_per_s,
                                  cfg->default_rate_burst)) {
            snprintf(err, err_len, "default rate limit out of range");
            goto fail;
        }
        svc->default_rate_per_s = cfg->default_rate_per_s;
        svc->default_rate_burst = cfg->default_rate_burst;
    }

    svc->store =
        mz_store_open(cfg->conninfo, cfg->store_pool_size, err, err_len);
    if (!svc->store)
        goto fail;
    mz_store_set_node(svc->store, cfg->node_id ? cfg->node_id : "");
    svc->ready_max_lag = cfg->ready_max_lag;
    svc->retention_days = cfg->retention_days;
    svc->model = mz_model_new(&cfg->model, err, err_len);
    svc->catalog = mz_catalog_new();
    svc->clients =
        svc->model && svc->catalog
            ? mz_client_cache_new(svc->model, svc->catalog, svc->store,
                                  &svc->lock, cfg->memory_limit,
                                  mz_service_wake_checkpointer, svc)
            : NULL;
    if (!svc->model || !svc->catalog || !svc->clients) {
        if (!err[0])
            snprintf(err, err_len, "out of memory");
        goto fail;
    }
    if (mz_service_load_state(svc, err, err_len) != MZ_OK ||
        mz_service_load_keys(svc, err, err_len) != MZ_OK)
        goto fail;
    atomic_store(&svc->last_checkpoint_ms, mz_service_wall_ms());

    /* From where the replay ended: what other nodes committed since is
     * read and learned next. */
    svc->writer = mz_event_writer_start(
        mz_store_conninfo(svc->store), cfg->writer_batch_rows, svc->applied_seq,
        mz_service_on_events_committed, svc, err, err_len);
    if (!svc->writer)
        goto fail;
    if (!mz_event_writer_set_node(svc->writer, mz_store_node(svc->store))) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    /* Rows others committed during the replay: read before the first
     * request, unless that takes long (then /readyz says so). */
    (void)mz_event_writer_wait_caught_up(svc->writer, 5000);
    if (pthread_create(&svc->checkpointer, NULL, mz_service_checkpointer_main,
                       svc) != 0) {
        snprintf(err, err_len, "cannot start the checkpoint thread");
        goto fail;
    }
    svc->checkpointer_started = true;
    return svc;
fail:
    mz_service_close(svc);
    return NULL;
}

static void free_state(struct mz_service *svc)
{
    for (size_t i = 0; i < svc->n_rules; i++) {
        free(svc->rules[i].brand);
        mz_rules_free(svc->rules[i].rules);
    }
    free(svc->rules);
    mz_client_cache_free(svc->clients);
    mz_catalog_free(svc->catalog);
    mz_model_free(svc->model);
    mz_service_free_keys(svc);
}

void mz_service_close(struct mz_service *svc)
{
    if (!svc)
        return;
    /* Stop taking events first, so the final checkpoint is the last
     * word. */
    mz_event_writer_stop(svc->writer);
    svc->writer = NULL;
    if (svc->checkpointer_started) {
        pthread_mutex_lock(&svc->stop_mutex);
        svc->stopping = true;
        pthread_cond_signal(&svc->stop_cond);
        pthread_mutex_unlock(&svc->stop_mutex);
        pthread_join(svc->checkpointer, NULL);
        if (mz_service_checkpoint(svc) != MZ_OK)
            mz_log_msg(MZ_LOG_ERROR, "final checkpoint failed; the log will "
                                     "be replayed at the next start");
    }
    mz_store_close(svc->store);
    free_state(svc);
    pthread_cond_destroy(&svc->stop_cond);
    pthread_mutex_destroy(&svc->stop_mutex);
    pthread_mutex_destroy(&svc->keys_write_mutex);
    pthread_rwlock_destroy(&svc->keys_lock);
    pthread_mutex_destroy(&svc->rules_write_mutex);
    pthread_mutex_destroy(&svc->catalog_write_mutex);
    pthread_mutex_destroy(&svc->checkpoint_mutex);
    pthread_rwlock_destroy(&svc->lock);
    free(svc);
}

bool mz_service_ready(struct mz_service *svc, char *reason, size_t reason_len)
{
    if (mz_store_ping(svc->store) != MZ_OK) {
        snprintf(reason, reason_len, "database unreachable");
        return false;
    }
    struct mz_event_writer_stats w;
    mz_event_writer_stats(svc->writer, &w);
    int64_t lag = w.head_seq - w.applied_seq;
    if (!w.caught_up || lag > svc->ready_max_lag) {
        snprintf(reason, reason_len,
                 "catching up with the log: applied %lld of %lld",
                 (long long)w.applied_seq, (long long)w.head_seq);
        return false;
    }
    return true;
}

int64_t mz_service_applied_position(struct mz_service *svc)
{
    struct mz_event_writer_stats w;
    mz_event_writer_stats(svc->writer, &w);
    return w.applied_seq;
}

static uint64_t counter(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void mz_service_stats(struct mz_service *svc, struct mz_service_stats *out)
{
    memset(out, 0, sizeof *out);
    mz_service_read_lock(svc);
    out->clients_in_memory = mz_client_cache_count(svc->clients);
    out->max_clients = mz_client_cache_limit(svc->clients);
    out->items = mz_catalog_live_count(svc->catalog);
    out->applied_seq = svc->applied_seq;
    out->checkpoint_seq = svc->checkpoint_seq;
    out->client_bytes = mz_client_resident_bytes(svc->model);
    pthread_rwlock_unlock(&svc->lock);
    bool behind = out->applied_seq > out->checkpoint_seq;
    out->flush_lag_s = behind
                           ? (double)(mz_service_wall_ms() -
                                      atomic_load(&svc->last_checkpoint_ms)) /
                                 1000.0
                           : 0.0;
    struct mz_service_counters *c = &svc->counters;
    out->events_accepted = counter(&c->events_accepted);
    out->events_duplicate = counter(&c->events_duplicate);
    out->events_rejected = counter(&c->events_rejected);
    out->events_learned = counter(&c->events_learned);
    out->consolidations = counter(&c->consolidations);
    out->checkpoints = counter(&c->checkpoints);
    out->checkpoint_errors = counter(&c->checkpoint_errors);
    out->db_errors = counter(&c->db_errors);
    out->log_rows_dropped = counter(&c->log_rows_dropped);
    out->clients_evicted = mz_client_cache_evicted(svc->clients);
    out->clients_loaded = mz_client_cache_loaded(svc->clients);
    if (svc->writer)
        mz_event_writer_stats(svc->writer, &out->writer);
}

enum mz_status mz_service_count_store_error(struct mz_service *svc,
                                            enum mz_status status)
{
    if (status == MZ_ERR_DB_UNAVAILABLE || status == MZ_ERR_DB)
        mz_service_note_db_error(svc);
    return status;
}

bool mz_service_client_needs_store(struct mz_service *svc,
                                   const char *client_id)
{
    return mz_client_cache_needs_store(svc->clients, client_id);
}

enum mz_status mz_service_fetch_client(struct mz_service *svc,
                                       const char *client_id, bool create)
{
    return mz_service_count_store_error(
        svc, mz_client_cache_fetch(svc->clients, client_id, create));
}
