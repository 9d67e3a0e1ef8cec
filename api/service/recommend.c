/*-------------------------------------------------------------------------
 * recommend.c
 *    Recommendations: the client's candidates scored (the model), the
 *    brand's rules picking the k best items that satisfy every rule
 *    (rank.c), the items shown counted for the frequency cap.
 *
 * A request does not make a client: an id the service does not know gets
 * an entry (kept in memory and written at the next checkpoint) only when
 * the brand asked for has a frequency cap, the one rule that needs what
 * such a client was shown. Otherwise it is answered without an entry, so
 * ids seen only in requests cost neither memory nor a client_state row.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdlib.h>

/* Selects under the read lock and hands the view to reply. */
static enum mz_status recommend_locked(struct mz_service *svc,
                                       const struct mz_recommend_args *args,
                                       mz_recommendation_reply_fn reply,
                                       void *ctx)
{
    struct mz_client_entry *entry =
        mz_client_cache_get(svc->clients, args->client_id);
    bool consent = entry && entry->consent;
    /* The memory the brand asked for sees (a key of one brand asks for
     * it); a brand that keeps its signals to itself sees only its own. */
    const char *brand =
        args->brand
            ? args->brand
            : (args->brands && args->n_brands == 1 ? args->brands[0] : NULL);
    struct mz_brand_memory seen =
        entry ? mz_service_brand_memory(svc, entry, brand)
              : (struct mz_brand_memory){NULL, NULL};
    bool personalized =
        consent && seen.memory && mz_client_event_count(seen.memory) > 0;
    const struct mz_client *memory = personalized ? seen.memory : NULL;
    /* The rules protect every client, so the selection reads the facts
     * (purchases, dismissals, impressions) whatever the consent, and the
     * private memories' too (what happened to an item is kept with its
     * brand); the reasons, which are personalisation, read the facts of
     * the memory seen, and only with consent. */
    const struct mz_client_facts *rule_facts = entry ? entry->facts : NULL;
    const struct mz_client_facts *facts = consent ? seen.facts : NULL;

    int32_t context = args->context_item
                          ? mz_catalog_find(svc->catalog, args->context_item)
                          : -1;
    size_t n_other_facts;
    const struct mz_client_facts **other_facts =
        mz_service_private_facts(entry, &n_other_facts);
    if (n_other_facts && !other_facts)
        return MZ_ERR_NOMEM;
    const struct mz_brand_rules *brand_rules =
        args->brand ? mz_service_brand_rules(svc, args->brand) : NULL;
    /* The page's own items and the item viewed go before the top-k cut,
     * so the list still holds k items when the catalog has them. */
    int32_t exclude[MZ_EXCLUDE_MAX + 1];
    size_t n_exclude = mz_service_exclude_indices(
        svc, args->exclude, args->n_exclude, context, exclude);
    struct mz_select_request sr = {
        .brand = args->brand,
        .brands = args->brands,
        .n_brands = args->n_brands,
        .rules = brand_rules ? brand_rules->rules : NULL,
        .region = args->region,
        .client_region = entry ? entry->region : NULL,
        /* The rules of brand B see the client's tier at B. */
        .tier = entry
                    ? mz_brand_tiers_at(&entry->tiers, args->brand, entry->tier)
                    : NULL,
        .facts = rule_facts,
        .other_facts = other_facts,
        .n_other_facts = n_other_facts,
        .exclude_items = exclude,
        .n_exclude_items = n_exclude,
        .now = args->now,
        .k = args->k,
        .skip_counts = !args->explain_rules,
    };
    struct mz_select_result sel;
    /* The impressions lock covers the frequency-cap count and the
     * recording of this list, so two concurrent requests of one client
     * cannot both show an item over its cap. */
    if (entry)
        pthread_mutex_lock(entry->impressions_lock);
    enum mz_status status =
        mz_service_rank(svc, memory, context, args->now, &sr, &sel);
    if (status == MZ_OK && entry && sel.count > 0) {
        mz_client_facts_record_impressions(entry->facts, sel.items,
                                           (size_t)sel.count, args->now);
        entry->dirty = true; /* the next checkpoint keeps them */
    }
    if (entry)
        pthread_mutex_unlock(entry->impressions_lock);
    free(other_facts);
    if (status != MZ_OK)
        return status;

    const struct mz_item *items[MZ_SELECT_MAX_K];
    for (int i = 0; i < sel.count; i++)
        items[i] = mz_catalog_item(svc->catalog, sel.items[i]);
    struct mz_reasons_request rr = {
        .model = svc->model,
        .catalog = svc->catalog,
        .client = memory,
        .facts = facts,
        .context_item = context,
        .now = args->now,
    };
    struct mz_recommendation_view view = {
        .personalized = personalized,
        .selection = &sel,
        .items = items,
        .reasons = &rr,
        .has_rules = brand_rules != NULL,
        .rules_version = brand_rules ? brand_rules->version : 0,
    };
    return reply(ctx, &view);
}

/* Whether brand's rules (NULL: no brand) cap how often an item is shown.
 * Caller holds the read lock. */
static bool brand_caps_frequency(struct mz_service *svc, const char *brand)
{
    if (!brand)
        return false;
    const struct mz_brand_rules *brand_rules =
        mz_service_brand_rules(svc, brand);
    return brand_rules && brand_rules->rules &&
           brand_rules->rules->frequency_cap > 0;
}

enum mz_status mz_service_recommend(struct mz_service *svc,
                                    const struct mz_recommend_args *args,
                                    mz_recommendation_reply_fn reply, void *ctx)
{
    /* A client without events gets an entry only under a frequency cap,
     * so the cap can count what it is shown (a cap put between this look
     * and the selection counts from the client's next request). A client
     * in memory is looked up and served in one read-lock hold: each hold
     * may wait for a learner's write hold (measured with make bench part
     * (g), three holds per request made three chances to). */
    enum mz_status status = MZ_OK;
    mz_service_read_lock(svc);
    bool create = brand_caps_frequency(svc, args->brand);
    if (mz_client_cache_needs_fetch(svc->clients, args->client_id, create)) {
        pthread_rwlock_unlock(&svc->lock);
        status = mz_service_fetch_client(svc, args->client_id, create);
        if (status != MZ_OK)
            return status;
        mz_service_read_lock(svc);
    }
    status = recommend_locked(svc, args, reply, ctx);
    pthread_rwlock_unlock(&svc->lock);
    return status;
}
