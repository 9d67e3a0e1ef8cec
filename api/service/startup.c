/*-------------------------------------------------------------------------
 * startup.c
 *    Loading what PostgreSQL holds, in order: the catalog, the rules, the
 *    last checkpoint (client records, then the global level), the client
 *    attributes; then replaying the log after the checkpoint through the
 *    same learning step as live events, so a killed server comes back to
 *    the state of one that never died.
 *
 * Under a memory limit, clients past the cache's limit stay in the
 * database until first used; the clients with learned state take the
 * places first.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "api/json_item.h"
#include "api/json_rules.h"
#include "model/log.h"

struct load_ctx {
    struct mz_service *svc;
    char *err;
    size_t err_len;
    int64_t replayed; /* rows of the log replayed */
    double global_ms; /* decoding the checkpoint's global level */
};

static double now_ms(void)
{
    return (double)mz_service_monotonic_ns() / 1e6;
}

/* One line saying how long each step of the start took, so a slow start
 * says where its time went. */
static void log_loaded(const struct load_ctx *ctx, const double *at)
{
    struct mz_log_line line;

    mz_log_begin(&line, MZ_LOG_INFO, "state loaded");
    mz_log_double(&line, "catalog_and_rules_ms", at[1] - at[0]);
    mz_log_double(&line, "checkpoint_ms", at[2] - at[1]);
    mz_log_double(&line, "global_level_ms", ctx->global_ms);
    mz_log_double(&line, "attributes_ms", at[3] - at[2]);
    mz_log_int(&line, "replayed", ctx->replayed);
    mz_log_double(&line, "replay_ms", at[4] - at[3]);
    mz_log_end(&line);
}

static bool load_item(void *arg, const char *id, const char *doc, bool deleted)
{
    struct load_ctx *ctx = arg;
    struct mz_json_error why = {.message = ""};
    json_t *obj = json_loads(doc, 0, NULL);
    struct mz_item *item = obj ? mz_json_read_item(obj, "", &why) : NULL;
    json_decref(obj);
    if (!item || mz_service_apply_item(ctx->svc, item) != MZ_OK) {
        snprintf(ctx->err, ctx->err_len, "catalog item %.64s: %s", id,
                 why.message[0] ? why.message : "unreadable");
        return false;
    }
    /* A deleted item keeps its index (the model rows and the client
     * records address items by it), retired. */
    if (deleted)
        mz_catalog_remove(ctx->svc->catalog, id);
    return true;
}

static bool load_rules(void *arg, const char *brand, int64_t version,
                       const char *doc)
{
    struct load_ctx *ctx = arg;
    struct mz_json_error why = {.message = ""};
    json_t *obj = json_loads(doc, 0, NULL);
    struct mz_rules *rules = obj ? mz_json_read_rules(obj, &why) : NULL;
    json_decref(obj);
    if (!rules ||
        mz_service_apply_rules(ctx->svc, brand, version, rules) != MZ_OK) {
        snprintf(ctx->err, ctx->err_len, "rules of brand %.64s: %s", brand,
                 why.message[0] ? why.message : "unreadable");
        return false;
    }
    return true;
}

static bool load_attributes(void *arg, const char *client_id, const char *doc)
{
    struct load_ctx *ctx = arg;
    struct mz_client_cache *cache = ctx->svc->clients;
    bool create = !mz_client_cache_full(cache);
    if (!create && !mz_client_cache_get(cache, client_id))
        mz_client_cache_note_not_resident(cache);
    return mz_client_cache_restore_attributes(cache, client_id, doc, create,
                                              ctx->err, ctx->err_len);
}

static bool load_checkpoint_client(void *arg, const char *client_id,
                                   const void *bytes, size_t len)
{
    struct load_ctx *ctx = arg;
    struct mz_client_cache *cache = ctx->svc->clients;
    if (mz_client_cache_full(cache) && !mz_client_cache_get(cache, client_id)) {
        mz_client_cache_note_not_resident(cache);
        return true;
    }
    return mz_client_cache_restore(cache, client_id, bytes, len, ctx->err,
                                   ctx->err_len);
}

static bool replay_event(void *arg, const struct mz_event_record *ev)
{
    struct load_ctx *ctx = arg;
    mz_service_learn_event(ctx->svc, ev);
    ctx->replayed++;
    return true;
}

/* Loads the last checkpoint: the client records, then the global level
 * (which mz_model_load swaps in only once all of it validated). Sets
 * *seq to its log position (0: none). */
static enum mz_status load_checkpoint(struct load_ctx *ctx, int64_t *seq)
{
    struct mz_service *svc = ctx->svc;
    void *global = NULL;
    size_t global_len = 0;
    enum mz_status status = mz_store_read_checkpoint(
        svc->store, seq, &global, &global_len, load_checkpoint_client, ctx);
    if (status == MZ_OK && global) {
        double started = now_ms();
        const char **ids = mz_service_catalog_ids(svc);
        status = ids ? mz_model_load(svc->model, ids, global, global_len,
                                     ctx->err, ctx->err_len)
                     : MZ_ERR_NOMEM;
        free(ids);
        ctx->global_ms = now_ms() - started;
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
    mz_log_reason(MZ_LOG_WARNING,
                  "checkpoint refused; rebuilding the learned state from the "
                  "whole event log",
                  ctx->err);
    ctx->err[0] = '\0';
    enum mz_status status = mz_store_discard_checkpoint(ctx->svc->store);
    if (status != MZ_OK)
        return status;
    mz_client_cache_reset(ctx->svc->clients);
    return MZ_OK;
}

enum mz_status mz_service_load_state(struct mz_service *svc, char *err,
                                     size_t err_len)
{
    struct load_ctx ctx = {svc, err, err_len, 0, 0.0};
    double at[5]; /* when each step began, and the end */
    /* No request is served yet: the lock is taken for form's sake and
     * for the functions that expect it. */
    pthread_rwlock_wrlock(&svc->lock);
    svc->replaying = true;
    at[0] = now_ms();
    enum mz_status status = mz_store_load_items(svc->store, load_item, &ctx);
    if (status == MZ_OK)
        status = mz_store_load_rules(svc->store, load_rules, &ctx);
    int64_t seq = 0;
    at[1] = now_ms();
    if (status == MZ_OK)
        status = load_checkpoint(&ctx, &seq);
    if (status == MZ_ERR_INVALID) {
        seq = 0;
        status = discard_checkpoint(&ctx);
    }
    at[2] = now_ms();
    if (status == MZ_OK)
        status =
            mz_store_load_client_attributes(svc->store, load_attributes, &ctx);
    if (status != MZ_OK) {
        if (!err[0])
            snprintf(err, err_len, "loading state: %s", mz_status_code(status));
        goto done;
    }
    svc->applied_seq = svc->checkpoint_seq = seq;
    at[3] = now_ms();
    status = mz_store_scan_events(svc->store, seq, replay_event, &ctx);
    if (status != MZ_OK && !err[0])
        snprintf(err, err_len, "replaying the event log: %s",
                 mz_status_code(status));
    at[4] = now_ms();
    if (status == MZ_OK)
        log_loaded(&ctx, at);
done:
    svc->replaying = false;
    /* From here the learner rebuilds the popular candidates outside its
     * write lock (learning.c); the replay rebuilt them in place. */
    mz_model_defer_popular(svc->model, true);
    mz_model_defer_chunks(svc->model, true);
    pthread_rwlock_unlock(&svc->lock);
    return status;
}
