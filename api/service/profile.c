/*-------------------------------------------------------------------------
 * profile.c
 *    What the service holds about one client, for the profile a boutique
 *    app shows before a sales associate greets them: attributes, what
 *    each memory source holds (top items, categories and brands) and the
 *    facts.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include "api/scratch.h"
#include "model/topk.h"

/* Items whose categories and brands summarise a level. */
#define PROFILE_SUMMARY_ITEMS 50

/* A small running tally of weight per category or brand id. */
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

/* Writes the MZ_PROFILE_TOP_GROUPS heaviest entries of t into out,
 * heaviest first (the first of equals kept first), and returns how
 * many. */
static int tally_top(struct tally *t,
                     const char *(*name_of)(const struct mz_catalog *, int32_t),
                     const struct mz_catalog *catalog,
                     struct mz_profile_group *out)
{
    int n = 0;
    for (; n < MZ_PROFILE_TOP_GROUPS && n < t->count; n++) {
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
        out[n] = (struct mz_profile_group){name ? name : "", weight};
    }
    return n;
}

/* Fills *out with what source holds for entry. Caller holds the read
 * lock. Returns MZ_OK or MZ_ERR_NOMEM. */
static enum mz_status describe_source(const struct mz_service *svc,
                                      const struct mz_client_entry *entry,
                                      enum mz_level_source source, int64_t now,
                                      struct mz_profile_level *out)
{
    const struct mz_model_config *cfg = mz_model_config_of(svc->model);
    int32_t n_items = mz_model_item_count(svc->model);
    float *scores = mz_scratch_scores((size_t)n_items);
    int32_t top[PROFILE_SUMMARY_ITEMS];
    float top_scores[PROFILE_SUMMARY_ITEMS];
    if (!scores)
        return MZ_ERR_NOMEM;
    *out = (struct mz_profile_level){.source = source, .level = -1};
    mz_model_score_source(svc->model, entry->memory, source, now, scores);
    size_t n_top = mz_topk(scores, (size_t)n_items, NULL, PROFILE_SUMMARY_ITEMS,
                           top, top_scores);
    struct tally categories = {.count = 0}, brands = {.count = 0};
    for (size_t i = 0; i < n_top; i++) {
        const struct mz_item *item = mz_catalog_item(svc->catalog, top[i]);
        if (!item || item->retired)
            continue;
        double weight = 1.0 / (double)(i + 1);
        tally_add(&categories, item->category_id, weight);
        tally_add(&brands, item->brand_id, weight);
        if (out->n_items < MZ_PROFILE_TOP_ITEMS) {
            out->item_ids[out->n_items] = item->item_id;
            out->item_scores[out->n_items++] = top_scores[i];
        }
    }
    out->n_categories = tally_top(&categories, mz_catalog_category_name,
                                  svc->catalog, out->categories);
    out->n_brands =
        tally_top(&brands, mz_catalog_brand_name, svc->catalog, out->brands);
    if (source >= MZ_SOURCE_LEVEL0 && source < MZ_SOURCE_CATALOG) {
        int level = (int)source - MZ_SOURCE_LEVEL0;
        out->level = level;
        out->chunk_events = cfg->level_chunk[level];
        out->events = mz_client_level_events(entry->memory, level);
        out->last_consolidated_at =
            mz_client_level_consolidated_at(entry->memory, level);
    }
    return MZ_OK;
}

/* The sources a profile shows, in order: the session context (when the
 * model uses one), every client level, the catalog. Returns how many. */
static int profile_sources(const struct mz_model_config *cfg,
                           enum mz_level_source *sources)
{
    int n = 0;
    if (cfg->use_session)
        sources[n++] = MZ_SOURCE_SESSION;
    for (int level = 0; level < cfg->n_levels; level++)
        sources[n++] = (enum mz_level_source)(MZ_SOURCE_LEVEL0 + level);
    sources[n++] = MZ_SOURCE_CATALOG;
    return n;
}

static enum mz_status profile_locked(struct mz_service *svc,
                                     const char *client_id, int64_t now,
                                     mz_profile_reply_fn reply, void *ctx)
{
    struct mz_client_entry *entry =
        mz_client_cache_get(svc->clients, client_id);
    if (!entry || (entry->events_logged == 0 && !entry->has_attributes))
        return MZ_ERR_NOT_FOUND;
    const struct mz_model_config *cfg = mz_model_config_of(svc->model);
    struct mz_profile_level levels[MZ_SOURCE_COUNT];
    int n_sources = 0;
    if (entry->consent) { /* no consent: nothing learned to show */
        enum mz_level_source sources[MZ_SOURCE_COUNT];
        int n = profile_sources(cfg, sources);
        for (; n_sources < n; n_sources++) {
            enum mz_status status = describe_source(
                svc, entry, sources[n_sources], now, &levels[n_sources]);
            if (status != MZ_OK)
                return status;
        }
    }
    struct mz_profile_view view = {
        .tier = entry->tier,
        .tiers = &entry->tiers,
        .region = entry->region,
        .consent = entry->consent,
        .events_logged = entry->events_logged,
        .events_learned = mz_client_event_count(entry->memory),
        .n_levels = cfg->n_levels,
        .levels = levels,
        .n_sources = n_sources,
        .facts = entry->consent ? entry->facts : NULL,
        .catalog = svc->catalog,
    };
    /* Readers record impressions, which the facts hold. */
    pthread_mutex_lock(&entry->impressions_lock);
    enum mz_status status = reply(ctx, &view);
    pthread_mutex_unlock(&entry->impressions_lock);
    return status;
}

enum mz_status mz_service_read_profile(struct mz_service *svc,
                                       const char *client_id, int64_t now,
                                       mz_profile_reply_fn reply, void *ctx)
{
    enum mz_status status = mz_service_fetch_client(svc, client_id, false);
    if (status != MZ_OK)
        return status;
    pthread_rwlock_rdlock(&svc->lock);
    status = profile_locked(svc, client_id, now, reply, ctx);
    pthread_rwlock_unlock(&svc->lock);
    return status;
}
