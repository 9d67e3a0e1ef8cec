/*-------------------------------------------------------------------------
 * app.c
 *    Start-up (load, replay), the learning of committed events, the
 *    checkpoints, and shut-down of the service state.
 *-------------------------------------------------------------------------
 */
#include "api/app.h"

#include "api/client_cache.h"
#include "api/json_item.h"
#include "api/json_rules.h"

#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* Events applied per write-lock hold, so readers wait at most this long. */
#define APPLY_EVENTS_PER_LOCK 256

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- items ----------------------------------------------------------- */

enum mz_status mz_app_put_item(struct mz_app *app, struct mz_item *item)
{
    struct mz_string_list tokens = {0};
    enum mz_status status = mz_item_tokens(item, &tokens);
    if (status != MZ_OK) {
        mz_item_free(item);
        return status;
    }
    bool is_new = false;
    int32_t index = mz_catalog_upsert(app->catalog, item, &is_new);
    if (index < 0) {
        mz_string_list_clear(&tokens);
        return MZ_ERR_NOMEM;
    }
    if (is_new) {
        /* Catalog and model indices advance together, so an item's row
         * is its catalog index. */
        int32_t row = mz_model_add_item(app->model,
                                        (const char *const *)tokens.items,
                                        tokens.count);
        if (row != index) {
            /* Keep the indices aligned: the item stays, retired. */
            mz_string_list_clear(&tokens);
            mz_catalog_remove(app->catalog,
                              mz_catalog_item(app->catalog, index)->item_id);
            return MZ_ERR_NOMEM;
        }
    } else if (!mz_model_set_item_tokens(app->model, index,
                                         (const char *const *)tokens.items,
                                         tokens.count)) {
        /* The catalog holds the new document; the attribute taste keeps
         * the old tokens until the next update or start. */
        mz_string_list_clear(&tokens);
        return MZ_ERR_NOMEM;
    }
    mz_string_list_clear(&tokens);
    return MZ_OK;
}

/* Builds the id of every catalog index, for saving the global level.
 * Returns a malloc'd array of borrowed strings (caller frees the array). */
static const char **catalog_ids(const struct mz_catalog *catalog)
{
    int32_t n = mz_catalog_count(catalog);
    const char **ids = malloc(sizeof *ids * (size_t)(n > 0 ? n : 1));
    if (!ids)
        return NULL;
    for (int32_t i = 0; i < n; i++)
        ids[i] = mz_catalog_item(catalog, i)->item_id;
    return ids;
}

/* ---- rules ----------------------------------------------------------- */

const struct mz_brand_rules *mz_app_brand_rules(const struct mz_app *app,
                                                const char *brand)
{
    for (size_t i = 0; i < app->n_rules; i++)
        if (strcmp(app->rules[i].brand, brand) == 0)
            return &app->rules[i];
    return NULL;
}

enum mz_status mz_app_set_rules(struct mz_app *app, const char *brand,
                                int64_t version, struct mz_rules *rules)
{
    struct mz_brand_rules *slot =
        (struct mz_brand_rules *)mz_app_brand_rules(app, brand);
    if (!slot) {
        struct mz_brand_rules *grown =
            realloc(app->rules, sizeof *grown * (app->n_rules + 1));
        if (!grown) {
            mz_rules_free(rules);
            return MZ_ERR_NOMEM;
        }
        app->rules = grown;
        slot = &app->rules[app->n_rules];
        slot->brand = strdup(brand);
        if (!slot->brand) {
            mz_rules_free(rules);
            return MZ_ERR_NOMEM;
        }
        slot->rules = NULL;
        app->n_rules++;
    }
    mz_rules_free(slot->rules);
    slot->rules = rules;
    slot->version = version;
    return MZ_OK;
}

/* ---- learning -------------------------------------------------------- */

static int64_t consolidated_events(const struct mz_client *memory, int n_levels)
{
    int64_t total = 0;
    for (int level = 1; level < n_levels; level++)
        total += mz_client_level_events(memory, level);
    return total;
}

void mz_app_apply_event(struct mz_app *app, const struct mz_event_record *ev)
{
    if (ev->seq > app->applied_seq)
        app->applied_seq = ev->seq;
    struct mz_client_entry *entry = mz_cache_get_locked(app, ev->client_id);
    if (!entry)
        return;
    entry->events_logged++;
    entry->dirty = true;

    int32_t item = -1;
    if (ev->item_id) {
        item = mz_catalog_find(app->catalog, ev->item_id);
        const struct mz_item *record = mz_catalog_item(app->catalog, item);
        if (record && record->retired)
            item = -1;
    }
    struct mz_event_obs obs = {
        .item = item,
        .type = ev->type,
        .ts = ev->ts,
        .seq = ev->seq,
        .value = (float)ev->value,
        .quantity = ev->quantity,
        .dwell_ms = ev->dwell_ms,
    };
    if (ev->type == MZ_EV_CONSENT_WITHDRAWN) {
        entry->consent = false;
        mz_client_reset(entry->memory);
        mz_client_facts_observe(entry->facts, &obs);
        return;
    }
    if (ev->type == MZ_EV_CONSENT_GRANTED) {
        entry->consent = true;
        mz_client_facts_observe(entry->facts, &obs); /* facts resume */
        return;
    }
    if (!entry->consent)
        return; /* kept in the log, not learned from */

    int n_levels = mz_model_config_of(app->model)->n_levels;
    int64_t before = consolidated_events(entry->memory, n_levels);
    mz_model_observe(app->model, entry->memory, &obs, true);
    mz_client_facts_observe(entry->facts, &obs);
    if (consolidated_events(entry->memory, n_levels) != before)
        atomic_fetch_add_explicit(&app->counters.consolidations, 1,
                                  memory_order_relaxed);
    atomic_fetch_add_explicit(&app->counters.events_learned, 1,
                              memory_order_relaxed);
    app->global_dirty = true;
}

/* Reads an evicted client back for learning. The batch just committed,
 * so the database is up: a failure is retried for a few seconds before
 * mz_app_apply_event tries once more and, failing, logs the client as
 * not learned from. */
static void fetch_for_learning(struct mz_app *app, const char *client_id)
{
    enum mz_status status = mz_app_fetch_client(app, client_id, true);
    for (int attempt = 0; attempt < 20 &&
                          (status == MZ_ERR_DB_UNAVAILABLE || status == MZ_ERR_DB);
         attempt++) {
        nanosleep(&(struct timespec){0, 250 * 1000 * 1000}, NULL);
        status = mz_app_fetch_client(app, client_id, true);
    }
}

/* The writer's callback: learn what was just committed, in log order. */
static void on_events_committed(void *ctx,
                                const struct mz_event_record *const *events,
                                size_t n)
{
    struct mz_app *app = ctx;
    /* Evicted clients are read back before the write lock is taken (so
     * readers do not wait on the database), and stay until learned. */
    pthread_mutex_lock(&app->cache_mutex);
    pthread_rwlock_rdlock(&app->lock);
    bool all_resident = app->all_clients_resident;
    pthread_rwlock_unlock(&app->lock);
    for (size_t i = 0; !all_resident && i < n; i++)
        fetch_for_learning(app, events[i]->client_id);
    for (size_t start = 0; start < n; start += APPLY_EVENTS_PER_LOCK) {
        size_t end = start + APPLY_EVENTS_PER_LOCK < n
                         ? start + APPLY_EVENTS_PER_LOCK
                         : n;
        pthread_rwlock_wrlock(&app->lock);
        for (size_t i = start; i < end; i++)
            mz_app_apply_event(app, events[i]);
        pthread_rwlock_unlock(&app->lock);
    }
    pthread_mutex_unlock(&app->cache_mutex);
}

/* ---- checkpoints ----------------------------------------------------- */

struct pending_checkpoint {
    struct mz_client_blob *blobs;    /* owned array; ids and bytes owned */
    size_t count;
    void *global;                    /* owned */
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

/* Under the read lock (so recommendations go on; learning and catalog
 * changes, which take the write lock, wait): copies out every dirty
 * client and the global level, and clears their dirty marks. A client's
 * impressions lock covers its copy, since readers record impressions.
 * Returns MZ_OK (pc->global is NULL when nothing changed) or MZ_ERR_NOMEM
 * (what was already cleared is restored by the caller). pc->global stays
 * NULL when the global level did not change since the last checkpoint. */
static enum mz_status collect_checkpoint(struct mz_app *app,
                                         struct pending_checkpoint *pc)
{
    size_t capacity = 0, cursor = 0;
    struct mz_client_entry *entry;
    bool any_dirty = false;
    while (!any_dirty && (entry = mz_client_table_next(app->clients, &cursor)))
        any_dirty = entry->dirty;
    pc->seq = app->applied_seq;
    if (!any_dirty && !app->global_dirty)
        return MZ_OK;
    /* Without learned events the stored global level is still current:
     * impressions alone must not rewrite tens of megabytes. */
    if (app->global_dirty) {
        const char **ids = catalog_ids(app->catalog);
        if (!ids)
            return MZ_ERR_NOMEM;
        pc->global = mz_model_save(app->model, ids, &pc->global_len);
        free(ids);
        if (!pc->global)
            return MZ_ERR_NOMEM;
        app->global_dirty = false;
    }
    cursor = 0;
    while ((entry = mz_client_table_next(app->clients, &cursor))) {
        pthread_mutex_lock(&entry->impressions_lock);
        bool ok = true;
        if (entry->dirty) {
            if (pc->count == capacity) {
                size_t grown_capacity = capacity ? capacity * 2 : 256;
                struct mz_client_blob *grown =
                    realloc(pc->blobs, grown_capacity * sizeof *grown);
                ok = grown != NULL;
                if (ok) {
                    pc->blobs = grown;
                    capacity = grown_capacity;
                }
            }
            if (ok) {
                struct mz_client_blob *blob = &pc->blobs[pc->count];
                blob->client_id = strdup(entry->client_id);
                blob->bytes = mz_cache_save_client(app, entry, &blob->len);
                pc->count++;
                ok = blob->client_id && blob->bytes;
                entry->dirty = false;
            }
        }
        pthread_mutex_unlock(&entry->impressions_lock);
        if (!ok)
            return MZ_ERR_NOMEM;
    }
    return MZ_OK;
}

/* After a failed write: mark what was collected dirty again. */
static void restore_dirty(struct mz_app *app, const struct pending_checkpoint *pc)
{
    pthread_rwlock_wrlock(&app->lock);
    for (size_t i = 0; i < pc->count; i++) {
        if (!pc->blobs[i].client_id)
            continue;
        struct mz_client_entry *entry =
            mz_client_table_get(app->clients, pc->blobs[i].client_id);
        if (entry)
            entry->dirty = true;
    }
    app->global_dirty = true;
    pthread_rwlock_unlock(&app->lock);
}

enum mz_status mz_app_checkpoint(struct mz_app *app)
{
    struct pending_checkpoint pc = {0};
    pthread_mutex_lock(&app->checkpoint_mutex);
    pthread_rwlock_rdlock(&app->lock);
    enum mz_status status = collect_checkpoint(app, &pc);
    pthread_rwlock_unlock(&app->lock);
    if (status != MZ_OK)
        restore_dirty(app, &pc);
    if (status == MZ_OK && (pc.global || pc.count > 0)) {
        status = mz_store_write_checkpoint(app->store, pc.seq, pc.blobs,
                                           pc.count, pc.global, pc.global_len);
        if (status == MZ_OK) {
            app->checkpoint_seq = pc.seq;
            atomic_fetch_add_explicit(&app->counters.checkpoints, 1,
                                      memory_order_relaxed);
        } else {
            restore_dirty(app, &pc);
            atomic_fetch_add_explicit(&app->counters.checkpoint_errors, 1,
                                      memory_order_relaxed);
            atomic_fetch_add_explicit(&app->counters.db_errors, 1,
                                      memory_order_relaxed);
        }
    }
    if (status == MZ_OK)
        atomic_store(&app->last_checkpoint_ms, wall_ms());
    pthread_mutex_unlock(&app->checkpoint_mutex);
    pending_checkpoint_clear(&pc);
    return status;
}

static void *checkpointer_main(void *arg)
{
    struct mz_app *app = arg;
    /* Checkpoints can wait a little; requests should not wait for them:
     * on Linux a thread has its own nice value (best effort). */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    pthread_mutex_lock(&app->stop_mutex);
    while (!app->stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += app->checkpoint_interval_s;
        int rc = 0;
        while (!app->stopping && !app->wake_checkpointer && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&app->stop_cond, &app->stop_mutex,
                                        &deadline);
        if (app->stopping)
            break;
        app->wake_checkpointer = false;
        pthread_mutex_unlock(&app->stop_mutex);
        /* Eviction takes only clean clients: right after a checkpoint is
         * when most are. */
        mz_app_checkpoint(app);
        mz_cache_evict(app);
        pthread_mutex_lock(&app->stop_mutex);
    }
    pthread_mutex_unlock(&app->stop_mutex);
    return NULL;
}

/* ---- start-up -------------------------------------------------------- */

struct load_ctx {
    struct mz_app *app;
    char *err;
    size_t err_len;
};

static bool load_item(void *arg, const char *id, const char *doc, bool deleted)
{
    struct load_ctx *ctx = arg;
    json_error_t jerr;
    json_t *obj = json_loads(doc, 0, &jerr);
    struct mz_json_error why = {.message = ""};
    struct mz_item *item = obj ? mz_json_read_item(obj, "", &why) : NULL;
    json_decref(obj);
    if (!item || mz_app_put_item(ctx->app, item) != MZ_OK) {
        snprintf(ctx->err, ctx->err_len, "catalog item %.64s: %s", id,
                 why.message[0] ? why.message : "unreadable");
        return false;
    }
    /* A deleted item keeps its index (the model rows and the client
     * records address items by it), retired. */
    if (deleted)
        mz_catalog_remove(ctx->app->catalog, id);
    return true;
}

static bool load_rules(void *arg, const char *brand, int64_t version,
                       const char *doc)
{
    struct load_ctx *ctx = arg;
    json_t *obj = json_loads(doc, 0, NULL);
    struct mz_json_error why = {.message = ""};
    struct mz_rules *rules = obj ? mz_json_read_rules(obj, &why) : NULL;
    json_decref(obj);
    if (!rules || mz_app_set_rules(ctx->app, brand, version, rules) != MZ_OK) {
        snprintf(ctx->err, ctx->err_len, "rules of brand %.64s: %s", brand,
                 why.message[0] ? why.message : "unreadable");
        return false;
    }
    return true;
}

/* At start-up with a memory limit, clients past max_clients stay in the
 * database until first used. */
static bool table_full(struct mz_app *app)
{
    return app->max_clients > 0 &&
           mz_client_table_count(app->clients) >= app->max_clients;
}

static bool load_attributes(void *arg, const char *client_id, const char *doc)
{
    struct load_ctx *ctx = arg;
    struct mz_app *app = ctx->app;
    bool create = !table_full(app);
    if (!create && !mz_client_table_get(app->clients, client_id))
        app->all_clients_resident = false;
    return mz_cache_restore_attributes(app, client_id, doc, create, ctx->err,
                                       ctx->err_len);
}

static bool load_checkpoint_client(void *arg, const char *client_id,
                                   const void *bytes, size_t len)
{
    struct load_ctx *ctx = arg;
    struct mz_app *app = ctx->app;
    if (table_full(app) && !mz_client_table_get(app->clients, client_id)) {
        app->all_clients_resident = false;
        return true;
    }
    return mz_cache_restore_client(app, client_id, bytes, len, ctx->err,
                                   ctx->err_len);
}

static bool replay_event(void *arg, const struct mz_event_record *ev)
{
    struct load_ctx *ctx = arg;
    mz_app_apply_event(ctx->app, ev);
    return true;
}

/* Loads the last checkpoint: the client states, then the global level
 * (which mz_model_load swaps in only once all of it validated). Sets
 * *seq to its log position (0: none). */
static enum mz_status load_checkpoint(struct load_ctx *ctx, int64_t *seq)
{
    struct mz_app *app = ctx->app;
    void *global = NULL;
    size_t global_len = 0;
    enum mz_status status =
        mz_store_read_checkpoint(app->store, seq, &global, &global_len,
                                 load_checkpoint_client, ctx);
    if (status == MZ_OK && global) {
        const char **ids = catalog_ids(app->catalog);
        status = ids ? mz_model_load(app->model, ids, global, global_len,
                                     ctx->err, ctx->err_len)
                     : MZ_ERR_NOMEM;
        free(ids);
    }
    free(global);
    return status;
}

/* A checkpoint this model refuses (written under another shape --
 * --levels, --dim -- or an older record format) is not lost data: the
 * log holds every event. Forget it, start every client afresh, and let
 * the caller replay the whole log. The global level is still fresh,
 * since mz_model_load changes nothing when it fails. */
static enum mz_status discard_checkpoint(struct load_ctx *ctx)
{
    struct mz_app *app = ctx->app;
    json_t *line = json_pack("{s:s, s:s, s:s}", "level", "warning", "msg",
                             "checkpoint refused; rebuilding the learned "
                             "state from the whole event log",
                             "reason", ctx->err);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    if (text)
        fprintf(stderr, "%s\n", text);
    free(text);
    json_decref(line);

    ctx->err[0] = '\0';
    enum mz_status status = mz_store_discard_checkpoint(app->store);
    if (status != MZ_OK)
        return status;
    struct mz_client_table *fresh = mz_client_table_new(app->model);
    if (!fresh)
        return MZ_ERR_NOMEM;
    mz_client_table_free(app->clients);
    app->clients = fresh;
    app->all_clients_resident = true;
    return MZ_OK;
}

/* Loads the catalog, rules, attributes and the last checkpoint, then
 * replays the log after it. */
static enum mz_status load_state(struct mz_app *app, char *err, size_t err_len)
{
    struct load_ctx ctx = {app, err, err_len};
    enum mz_status status = mz_store_load_items(app->store, load_item, &ctx);
    if (status == MZ_OK)
        status = mz_store_load_rules(app->store, load_rules, &ctx);
    int64_t seq = 0;
    if (status == MZ_OK)
        status = load_checkpoint(&ctx, &seq);
    if (status == MZ_ERR_INVALID) {
        seq = 0;
        status = discard_checkpoint(&ctx);
    }
    /* After the records, so that under a memory limit the clients with
     * learned state take the places first. */
    if (status == MZ_OK)
        status = mz_store_load_client_attributes(app->store, load_attributes,
                                                 &ctx);
    if (status != MZ_OK) {
        if (!err[0])
            snprintf(err, err_len, "loading state: %s", mz_status_code(status));
        return status;
    }
    app->applied_seq = app->checkpoint_seq = seq;
    status = mz_store_scan_events(app->store, seq, replay_event, &ctx);
    if (status != MZ_OK && !err[0])
        snprintf(err, err_len, "replaying the event log: %s",
                 mz_status_code(status));
    return status;
}

struct mz_app *mz_app_open(const struct mz_app_config *cfg, char *err,
                           size_t err_len)
{
    err[0] = '\0';
    struct mz_app *app = calloc(1, sizeof *app);
    if (!app) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_rwlock_init(&app->lock, NULL);
    pthread_mutex_init(&app->checkpoint_mutex, NULL);
    pthread_mutex_init(&app->cache_mutex, NULL);
    pthread_mutex_init(&app->stop_mutex, NULL);
    pthread_cond_init(&app->stop_cond, NULL);
    app->checkpoint_interval_s =
        cfg->checkpoint_interval_s > 0 ? cfg->checkpoint_interval_s : 30;

    app->store = mz_store_open(cfg->conninfo, cfg->store_pool_size, err, err_len);
    if (!app->store)
        goto fail;
    app->model = mz_model_new(&cfg->model, err, err_len);
    app->catalog = mz_catalog_new();
    app->clients = app->model ? mz_client_table_new(app->model) : NULL;
    if (!app->model || !app->catalog || !app->clients) {
        if (!err[0])
            snprintf(err, err_len, "out of memory");
        goto fail;
    }
    app->max_clients = mz_cache_max_clients(app->model, cfg->memory_limit);
    app->all_clients_resident = true;
    if (load_state(app, err, err_len) != MZ_OK)
        goto fail;
    atomic_store(&app->last_checkpoint_ms, wall_ms());

    app->writer = mz_event_writer_start(mz_store_conninfo(app->store),
                                        cfg->writer_batch_rows,
                                        on_events_committed, app, err, err_len);
    if (!app->writer)
        goto fail;
    if (pthread_create(&app->checkpointer, NULL, checkpointer_main, app) != 0) {
        snprintf(err, err_len, "cannot start the checkpoint thread");
        goto fail;
    }
    app->checkpointer_started = true;
    return app;
fail:
    mz_app_close(app);
    return NULL;
}

static void free_state(struct mz_app *app)
{
    for (size_t i = 0; i < app->n_rules; i++) {
        free(app->rules[i].brand);
        mz_rules_free(app->rules[i].rules);
    }
    free(app->rules);
    mz_client_table_free(app->clients);
    mz_catalog_free(app->catalog);
    mz_model_free(app->model);
}

void mz_app_close(struct mz_app *app)
{
    if (!app)
        return;
    /* Stop taking events first, so the final checkpoint is the last
     * word. */
    mz_event_writer_stop(app->writer);
    app->writer = NULL;
    if (app->checkpointer_started) {
        pthread_mutex_lock(&app->stop_mutex);
        app->stopping = true;
        pthread_cond_signal(&app->stop_cond);
        pthread_mutex_unlock(&app->stop_mutex);
        pthread_join(app->checkpointer, NULL);
        if (mz_app_checkpoint(app) != MZ_OK)
            fprintf(stderr, "{\"level\":\"error\",\"msg\":\"final checkpoint "
                            "failed; the log will be replayed at the next "
                            "start\"}\n");
    }
    mz_store_close(app->store);
    free_state(app);
    pthread_cond_destroy(&app->stop_cond);
    pthread_mutex_destroy(&app->stop_mutex);
    pthread_mutex_destroy(&app->cache_mutex);
    pthread_mutex_destroy(&app->checkpoint_mutex);
    pthread_rwlock_destroy(&app->lock);
    free(app);
}

/* ---- health and figures --------------------------------------------- */

bool mz_app_ready(struct mz_app *app, char *reason, size_t reason_len)
{
    if (mz_store_ping(app->store) != MZ_OK) {
        snprintf(reason, reason_len, "database unreachable");
        return false;
    }
    return true;
}

void mz_app_stats(struct mz_app *app, struct mz_app_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&app->lock);
    out->clients_in_memory = mz_client_table_count(app->clients);
    out->items = mz_catalog_live_count(app->catalog);
    out->applied_seq = app->applied_seq;
    out->checkpoint_seq = app->checkpoint_seq;
    out->client_bytes = mz_client_resident_bytes(app->model);
    out->max_clients = app->max_clients;
    pthread_rwlock_unlock(&app->lock);
    bool behind = out->applied_seq > out->checkpoint_seq;
    out->flush_lag_s =
        behind ? (double)(wall_ms() - atomic_load(&app->last_checkpoint_ms)) / 1000.0
               : 0.0;
    if (app->writer)
        mz_event_writer_stats(app->writer, &out->writer);
}
