/*-------------------------------------------------------------------------
 * clients.c
 *    GET /v1/clients/{client_id}/profile, DELETE /v1/clients/{client_id},
 *    PUT /v1/clients/{client_id}/attributes.
 *
 * The profile is what a boutique app shows before a sales associate
 * greets a client: attributes, what each memory level holds (top items,
 * categories and brands), and the facts (wishlist, cart, purchases,
 * visits). A change of consent is written to the event log as a marker,
 * so learning stops and starts at the same place when the log is
 * replayed.
 *-------------------------------------------------------------------------
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/app.h"
#include "api/client_cache.h"
#include "api/handlers.h"
#include "api/json_attributes.h"
#include "api/json_body.h"
#include "api/json_facts.h"
#include "api/scratch.h"
#include "model/reasons.h"
#include "model/timefmt.h"
#include "model/topk.h"

#define PROFILE_TOP_ITEMS 5
#define PROFILE_TOP_GROUPS 3
/* Items whose categories and brands summarise a level. */
#define PROFILE_SUMMARY_ITEMS 50

static json_t *time_or_null(int64_t ts)
{
    if (ts <= 0)
        return json_null();
    char text[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(ts, text);
    return json_string(text);
}

/* Adds weight to name's entry of a small running tally. */
struct tally {
    int32_t ids[PROFILE_SUMMARY_ITEMS];
    double weights[PROFILE_SUMMARY_ITEMS];
    int count;
};

static void tally_add(struct tally *t, int32_t id, double weight)
{
    for (int i = 0; i < t->count; i++) {
        if (t->ids[i] == id) {
            t->weights[i] += weight;
            return;
        }
    }
    if (t->count < PROFILE_SUMMARY_ITEMS) {
        t->ids[t->count] = id;
        t->weights[t->count++] = weight;
    }
}

/* The top entries of t as [{key: name, "weight": w}], heaviest first. */
static json_t *tally_json(struct tally *t, const char *key,
                          const char *(*name_of)(const struct mz_catalog *,
                                                 int32_t),
                          const struct mz_catalog *catalog)
{
    json_t *out = json_array();
    for (int n = 0; out && n < PROFILE_TOP_GROUPS && n < t->count; n++) {
        int best = n;
        for (int i = n + 1; i < t->count; i++)
            if (t->weights[i] > t->weights[best])
                best = i;
        int32_t id = t->ids[best];
        double weight = t->weights[best];
        t->ids[best] = t->ids[n];
        t->weights[best] = t->weights[n];
        t->ids[n] = id;
        t->weights[n] = weight;
        const char *name = name_of(catalog, id);
        json_array_append_new(out, json_pack("{s:s,s:f}", key, name ? name : "",
                                             "weight", weight));
    }
    return out;
}

/* What one memory source holds for the client, in catalog terms. */
static json_t *source_json(const struct mz_app *app,
                           const struct mz_client_entry *entry,
                           enum mz_level_source source, int64_t now)
{
    const struct mz_model_config *cfg = mz_model_config_of(app->model);
    int32_t n_items = mz_model_item_count(app->model);
    float *scores = mz_scratch_scores((size_t)n_items);
    int32_t top[PROFILE_SUMMARY_ITEMS];
    float top_scores[PROFILE_SUMMARY_ITEMS];
    if (!scores)
        return NULL;
    mz_model_score_source(app->model, entry->memory, source, now, scores);
    size_t n_top = mz_topk(scores, (size_t)n_items, NULL, PROFILE_SUMMARY_ITEMS,
                           top, top_scores);
    json_t *items = json_array();
    struct tally categories = {.count = 0}, brands = {.count = 0};
    for (size_t i = 0; items && i < n_top; i++) {
        const struct mz_item *item = mz_catalog_item(app->catalog, top[i]);
        if (!item || item->retired)
            continue;
        double weight = 1.0 / (double)(i + 1);
        tally_add(&categories, item->category_id, weight);
        tally_add(&brands, item->brand_id, weight);
        if (json_array_size(items) < PROFILE_TOP_ITEMS)
            json_array_append_new(items, json_pack("{s:s,s:f}", "item_id",
                                                   item->item_id, "score",
                                                   (double)top_scores[i]));
    }
    json_t *out = json_pack(
        "{s:s,s:o,s:o,s:o}", "name", mz_reasons_source_name(source, cfg->n_levels),
        "top_items", items ? items : json_array(), "top_categories",
        tally_json(&categories, "category", mz_catalog_category_name, app->catalog),
        "top_brands", tally_json(&brands, "brand", mz_catalog_brand_name, app->catalog));
    if (!out)
        return NULL;
    if (source == MZ_SOURCE_SESSION) {
        json_object_set_new(out, "source", json_string("session_context"));
    } else if (source == MZ_SOURCE_CATALOG) {
        json_object_set_new(out, "source", json_string("catalog"));
    } else {
        int level = (int)source - MZ_SOURCE_LEVEL0;
        char label[24];
        snprintf(label, sizeof label, "level_%d", level);
        json_object_set_new(out, "source", json_string(label));
        json_object_set_new(out, "chunk_events",
                            json_integer(cfg->level_chunk[level]));
        json_object_set_new(out, "events",
                            json_integer(mz_client_level_events(entry->memory, level)));
        json_object_set_new(
            out, "last_consolidated_at",
            time_or_null(mz_client_level_consolidated_at(entry->memory, level)));
    }
    return out;
}

static json_t *levels_json(const struct mz_app *app,
                           const struct mz_client_entry *entry, int64_t now)
{
    const struct mz_model_config *cfg = mz_model_config_of(app->model);
    json_t *levels = json_array();
    if (!levels || !entry->consent)
        return levels; /* no consent: nothing learned to show */
    enum mz_level_source sources[MZ_SOURCE_COUNT];
    int n = 0;
    if (cfg->use_session)
        sources[n++] = MZ_SOURCE_SESSION;
    for (int level = 0; level < cfg->n_levels; level++)
        sources[n++] = (enum mz_level_source)(MZ_SOURCE_LEVEL0 + level);
    sources[n++] = MZ_SOURCE_CATALOG;
    for (int i = 0; i < n; i++) {
        json_t *one = source_json(app, entry, sources[i], now);
        if (!one || json_array_append_new(levels, one) != 0) {
            json_decref(levels);
            return NULL;
        }
    }
    return levels;
}

void mz_handle_profile(struct mz_app *app, const struct mz_request *req,
                       struct mz_response *resp)
{
    const char *client_id = req->params[0];
    if (!mz_require_id("client_id", client_id, resp))
        return;
    int64_t now = mz_now_seconds();
    json_t *body = NULL;
    bool found = false;
    enum mz_status fetched = mz_app_fetch_client(app, client_id, false);
    if (fetched != MZ_OK) {
        mz_response_error(resp, fetched, "client %s could not be read: %s",
                          client_id, mz_status_code(fetched));
        return;
    }
    pthread_rwlock_rdlock(&app->lock);
    struct mz_client_entry *entry = mz_client_table_get(app->clients, client_id);
    if (entry && (entry->events_logged > 0 || entry->has_attributes)) {
        found = true;
        pthread_mutex_lock(&entry->impressions_lock);
        json_t *facts = entry->consent
                            ? mz_json_write_facts(entry->facts, app->catalog)
                            : json_object();
        pthread_mutex_unlock(&entry->impressions_lock);
        json_t *levels = levels_json(app, entry, now);
        body = json_pack("{s:s,s:o,s:o,s:{s:b},s:I,s:I,s:o}", "client_id",
                         client_id, "tier",
                         entry->tier ? json_string(entry->tier) : json_null(),
                         "region",
                         entry->region ? json_string(entry->region) : json_null(),
                         "consent", "personalization", entry->consent,
                         "events_logged", (json_int_t)entry->events_logged,
                         "events_learned",
                         (json_int_t)mz_client_event_count(entry->memory),
                         "levels", levels ? levels : json_array());
        if (body && facts)
            json_object_update(body, facts);
        json_decref(facts);
    }
    pthread_rwlock_unlock(&app->lock);
    if (!found) {
        mz_response_error(resp, MZ_ERR_NOT_FOUND, "no client %s", client_id);
        return;
    }
    if (!body) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        return;
    }
    mz_response_json(resp, 200, body);
}

void mz_handle_delete_client(struct mz_app *app, const struct mz_request *req,
                             struct mz_response *resp)
{
    const char *client_id = req->params[0];
    if (!mz_require_id("client_id", client_id, resp))
        return;
    /* Holding the checkpoint mutex keeps a checkpoint that copied this
     * client before the erasure from writing it back afterwards. */
    pthread_mutex_lock(&app->checkpoint_mutex);
    enum mz_status status = mz_store_delete_client(app->store, client_id);
    if (status == MZ_OK) {
        pthread_rwlock_wrlock(&app->lock);
        mz_client_table_remove(app->clients, client_id);
        app->erasures++;
        pthread_rwlock_unlock(&app->lock);
    }
    pthread_mutex_unlock(&app->checkpoint_mutex);
    if (status != MZ_OK) {
        mz_response_error(resp, status, "client %s not erased: %s", client_id,
                          mz_status_code(status));
        return;
    }
    mz_response_empty(resp, 204);
}

/* Appends a consent marker for client_id to the event log and waits until
 * it is learned. */
static enum mz_status log_consent_change(struct mz_app *app,
                                         const char *client_id, bool granted)
{
    static atomic_uint_fast64_t marker_counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char event_id[96];
    snprintf(event_id, sizeof event_id, "maison-consent-%lld.%09ld-%llu",
             (long long)ts.tv_sec, ts.tv_nsec,
             (unsigned long long)atomic_fetch_add(&marker_counter, 1));
    struct mz_event_record marker = {
        .event_id = event_id,
        .client_id = client_id,
        .type = granted ? MZ_EV_CONSENT_GRANTED : MZ_EV_CONSENT_WITHDRAWN,
        .ts = ts.tv_sec,
        .quantity = 1,
        .item_index = -1,
    };
    return mz_event_writer_submit(app->writer, &marker, 1);
}

void mz_handle_put_attributes(struct mz_app *app, const struct mz_request *req,
                              struct mz_response *resp)
{
    const char *client_id = req->params[0];
    struct mz_client_attributes attributes = {.consent = -1};
    char *doc = NULL;
    json_t *canonical = NULL;
    if (!mz_require_id("client_id", client_id, resp))
        return;
    json_t *body = mz_body_object(req, resp);
    if (!body)
        return;
    struct mz_json_error err;
    enum mz_status status = mz_json_read_attributes(body, &attributes, &err);
    const char *tier = attributes.tier, *region = attributes.region;
    int consent = attributes.consent;
    if (status != MZ_OK) {
        mz_response_error(resp, status, "%s", err.message);
        goto cleanup;
    }
    /* The consent in force is the entry's: read it back if evicted. */
    status = mz_app_fetch_client(app, client_id, false);
    if (status != MZ_OK) {
        mz_response_error(resp, status, "attributes not stored: %s",
                          mz_status_code(status));
        goto cleanup;
    }
    pthread_rwlock_rdlock(&app->lock);
    const struct mz_client_entry *entry =
        mz_client_table_get(app->clients, client_id);
    bool current = entry ? entry->consent : true;
    pthread_rwlock_unlock(&app->lock);
    bool wanted = consent < 0 ? current : consent == 1;
    if (wanted != current) {
        status = log_consent_change(app, client_id, wanted);
        if (status != MZ_OK) {
            mz_response_error(resp, status, "attributes not stored: %s",
                              mz_status_code(status));
            goto cleanup;
        }
    }
    canonical = json_pack("{s:o,s:o,s:{s:b}}",
                          "tier", tier ? json_string(tier) : json_null(),
                          "region", region ? json_string(region) : json_null(),
                          "consent", "personalization", wanted);
    doc = canonical ? json_dumps(canonical, JSON_COMPACT) : NULL;
    status = doc ? mz_store_put_client_attributes(app->store, client_id, doc)
                 : MZ_ERR_NOMEM;
    if (status == MZ_OK) {
        pthread_rwlock_wrlock(&app->lock);
        struct mz_client_entry *target =
            mz_client_table_get_or_add(app->clients, client_id);
        if (target && mz_client_entry_set_attributes(target, tier, region))
            target->has_attributes = true;
        else
            status = MZ_ERR_NOMEM;
        pthread_rwlock_unlock(&app->lock);
    }
    if (status != MZ_OK) {
        mz_response_error(resp, status, "attributes not stored: %s",
                          mz_status_code(status));
        goto cleanup;
    }
    json_object_set_new(canonical, "client_id", json_string(client_id));
    mz_response_json(resp, 200, json_incref(canonical));
cleanup:
    json_decref(canonical);
    free(doc);
    mz_client_attributes_clear(&attributes);
    json_decref(body);
}
