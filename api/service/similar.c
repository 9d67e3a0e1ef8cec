/*-------------------------------------------------------------------------
 * similar.c
 *    The lists that need no client: the similar items of a product page
 *    and a brand's popular items, both scored by the catalog-wide level
 *    (model/similar.h) and selected under the same rules as
 *    recommendations (model/rules_select.h); and the exclusion list all
 *    three lists take.
 *
 * A visitor without a client id is seen by the rules as tier
 * MZ_VISITOR_TIER in the request's region, with no facts. A client id
 * brings the client's facts (purchases, dismissals, impressions), tier at
 * the brand and region, read as recommendations read them; nothing is
 * recorded, so these lists do not count towards the frequency cap.
 *
 * Only items that score above 0 are listed: an item with nothing in
 * common with the page's item, or nobody's recent interest, is not
 * "similar" or "popular", whatever the rules allow.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/scratch.h"
#include "model/similar.h"

size_t mz_service_exclude_indices(const struct mz_service *svc,
                                  const char *const *ids, size_t n,
                                  int32_t extra, int32_t *out)
{
    size_t count = 0;

    for (size_t i = 0; i < n && i < MZ_EXCLUDE_MAX; i++) {
        int32_t index = mz_catalog_find(svc->catalog, ids[i]);
        if (index >= 0)
            out[count++] = index;
    }
    if (extra >= 0)
        out[count++] = extra;
    return count;
}

/* Drops the tail of sel that scores 0 or less (ranked last). */
static void keep_positive(struct mz_select_result *sel)
{
    int kept = 0;

    while (kept < sel->count && sel->scores[kept] > 0.0f)
        kept++;
    sel->count = kept;
}

/* Selects from scores (one per catalog index) for args and the client
 * entry (NULL: a visitor) and hands the view to reply. Caller holds the
 * read lock. */
static enum mz_status select_and_reply(struct mz_service *svc,
                                       const struct mz_discover_args *args,
                                       struct mz_client_entry *entry,
                                       const float *scores, int32_t source,
                                       mz_discover_reply_fn reply, void *ctx)
{
    int32_t exclude[MZ_EXCLUDE_MAX + 1];
    size_t n_exclude = mz_service_exclude_indices(
        svc, args->exclude, args->n_exclude, source, exclude);
    const struct mz_brand_rules *brand_rules =
        args->brand ? mz_service_brand_rules(svc, args->brand) : NULL;
    const char *tier = MZ_VISITOR_TIER;
    if (args->client_id)
        tier = entry
                   ? mz_brand_tiers_at(&entry->tiers, args->brand, entry->tier)
                   : NULL;
    /* Protective facts of the brands that keep their signals apart too
     * (what the client bought or dismissed there). */
    size_t n_other_facts;
    const struct mz_client_facts **other_facts =
        mz_service_private_facts(entry, &n_other_facts);
    if (n_other_facts && !other_facts)
        return MZ_ERR_NOMEM;
    struct mz_select_request sr = {
        .brand = args->brand,
        .brands = args->brands,
        .n_brands = args->n_brands,
        .rules = brand_rules ? brand_rules->rules : NULL,
        .category = args->category,
        .region = args->region,
        .client_region = entry ? entry->region : NULL,
        .tier = tier,
        .facts = entry ? entry->facts : NULL,
        .other_facts = other_facts,
        .n_other_facts = n_other_facts,
        .exclude_items = exclude,
        .n_exclude_items = n_exclude,
        .now = args->now,
        .k = args->k,
        .skip_counts = true,
    };
    struct mz_select_result sel;
    /* The frequency cap reads the impressions a recommendation may be
     * recording at the same time. */
    if (entry)
        pthread_mutex_lock(entry->impressions_lock);
    enum mz_status status =
        mz_rules_select(svc->catalog, scores,
                        (size_t)mz_model_item_count(svc->model), &sr, &sel);
    if (entry)
        pthread_mutex_unlock(entry->impressions_lock);
    free(other_facts);
    if (status != MZ_OK)
        return status;
    bool had_items = sel.count > 0;
    keep_positive(&sel);
    if (had_items && sel.count == 0)
        snprintf(sel.reason, sizeof(sel.reason), "%s",
                 source >= 0 ? "no allowed item shares anything with this "
                               "item yet"
                             : "no allowed item has had recent interest");

    const struct mz_item *items[MZ_SELECT_MAX_K];
    for (int i = 0; i < sel.count; i++)
        items[i] = mz_catalog_item(svc->catalog, sel.items[i]);
    struct mz_discover_view view = {
        .selection = &sel,
        .items = items,
        .model = svc->model,
        .catalog = svc->catalog,
        .source = source,
        .has_rules = brand_rules != NULL,
        .rules_version = brand_rules ? brand_rules->version : 0,
    };
    return reply(ctx, &view);
}

/* Whether brand is one of brands[0..n-1] (brands NULL: every brand). */
static bool brand_in(const char *brand, const char *const *brands, size_t n)
{
    if (!brands)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(brands[i], brand) == 0)
            return true;
    return false;
}

static enum mz_status similar_locked(struct mz_service *svc,
                                     const struct mz_discover_args *args,
                                     mz_discover_reply_fn reply, void *ctx)
{
    int32_t source = mz_catalog_find(svc->catalog, args->item_id);
    const struct mz_item *item = mz_catalog_item(svc->catalog, source);
    if (!item || item->retired)
        return MZ_ERR_NOT_FOUND;
    if (!brand_in(item->brand, args->brands, args->n_brands))
        return MZ_ERR_FORBIDDEN;
    float *scores = mz_scratch_scores((size_t)mz_model_item_count(svc->model));
    if (!scores)
        return MZ_ERR_NOMEM;
    mz_similar_scores(svc->model, source, scores);
    struct mz_client_entry *entry =
        args->client_id ? mz_client_cache_get(svc->clients, args->client_id)
                        : NULL;
    return select_and_reply(svc, args, entry, scores, source, reply, ctx);
}

enum mz_status mz_service_similar(struct mz_service *svc,
                                  const struct mz_discover_args *args,
                                  mz_discover_reply_fn reply, void *ctx)
{
    if (args->client_id) {
        enum mz_status status =
            mz_service_fetch_client(svc, args->client_id, false);
        if (status != MZ_OK)
            return status;
    }
    mz_service_read_lock(svc);
    enum mz_status status = similar_locked(svc, args, reply, ctx);
    pthread_rwlock_unlock(&svc->lock);
    return status;
}

enum mz_status mz_service_popular(struct mz_service *svc,
                                  const struct mz_discover_args *args,
                                  mz_discover_reply_fn reply, void *ctx)
{
    enum mz_status status = MZ_ERR_NOMEM;

    mz_service_read_lock(svc);
    float *scores = mz_scratch_scores((size_t)mz_model_item_count(svc->model));
    if (scores) {
        mz_popularity_now(svc->model, args->now, scores);
        status = select_and_reply(svc, args, NULL, scores, -1, reply, ctx);
    }
    pthread_rwlock_unlock(&svc->lock);
    return status;
}
