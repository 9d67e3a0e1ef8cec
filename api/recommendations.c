/*-------------------------------------------------------------------------
 * recommendations.c
 *    GET /v1/clients/{client_id}/recommendations
 *
 * The client's query is scored against every item (the model), the
 * brand's rules pick the top k that satisfy every rule, and each item
 * gets its reasons. The items shown are counted for the frequency cap.
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include "api/app.h"
#include "api/client_cache.h"
#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_reasons.h"
#include "api/json_rules.h"
#include "api/scratch.h"
#include "model/reasons.h"

struct rec_args {
    int64_t k;
    const char *brand;
    const char *region;
    const char *context_item;
    bool explain_rules;
};

static bool read_args(const struct mz_request *req, struct rec_args *args,
                      struct mz_response *resp)
{
    if (!mz_query_int(req, "k", 1, MZ_SELECT_MAX_K, 10, &args->k, resp) ||
        !mz_query_id(req, "brand", &args->brand, resp) ||
        !mz_query_id(req, "region", &args->region, resp) ||
        !mz_query_id(req, "context_item", &args->context_item, resp))
        return false;
    const char *explain = req->query(req->query_ctx, "explain");
    if (explain && strcmp(explain, "rules") != 0) {
        mz_response_error(resp, MZ_ERR_INVALID, "explain: must be \"rules\"");
        return false;
    }
    args->explain_rules = explain != NULL;
    return true;
}

/* Builds the JSON list of selected items; caller holds the read lock. */
static json_t *items_json(const struct mz_app *app,
                          const struct mz_select_result *sel,
                          const struct mz_reasons_request *rr)
{
    json_t *items = json_array();
    for (int i = 0; items && i < sel->count; i++) {
        const struct mz_item *item = mz_catalog_item(app->catalog, sel->items[i]);
        struct mz_reason why[MZ_REASONS_MAX];
        json_t *reasons = mz_json_write_reasons(
            why, mz_reasons_build(rr, sel->items[i], why));
        json_t *entry = json_pack("{s:s,s:f,s:s,s:s,s:o}", "item_id",
                                  item->item_id, "score",
                                  isfinite(sel->scores[i]) ? sel->scores[i] : 0.0,
                                  "brand", item->brand, "category",
                                  item->category, "reasons",
                                  reasons ? reasons : json_array());
        if (!entry || json_array_append_new(items, entry) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    return items;
}

void mz_handle_recommendations(struct mz_app *app, const struct mz_request *req,
                               struct mz_response *resp)
{
    const char *client_id = req->params[0];
    struct rec_args args;
    if (!mz_require_id("client_id", client_id, resp) ||
        !read_args(req, &args, resp))
        return;
    int64_t now = mz_now_seconds();
    /* Even a client without events gets an entry, so the frequency cap
     * can count what it is shown. */
    enum mz_status fetched = mz_app_fetch_client(app, client_id, true);
    if (fetched != MZ_OK) {
        mz_response_error(resp, fetched, "client %s could not be read: %s",
                          client_id, mz_status_code(fetched));
        return;
    }

    struct mz_select_result sel;
    json_t *items = NULL, *explain = NULL;
    bool personalized = false;
    enum mz_status status = MZ_ERR_NOMEM;

    pthread_rwlock_rdlock(&app->lock);
    struct mz_client_entry *entry = mz_client_table_get(app->clients, client_id);
    bool consent = entry && entry->consent;
    personalized = consent && mz_client_event_count(entry->memory) > 0;
    const struct mz_client *memory = personalized ? entry->memory : NULL;
    const struct mz_client_facts *facts = consent ? entry->facts : NULL;
    int32_t context = args.context_item
                          ? mz_catalog_find(app->catalog, args.context_item)
                          : -1;
    int32_t n_items = mz_model_item_count(app->model);
    float *scores = mz_scratch_scores((size_t)n_items);
    const struct mz_brand_rules *brand_rules =
        args.brand ? mz_app_brand_rules(app, args.brand) : NULL;
    if (scores) {
        mz_model_score(app->model, memory, context, now, scores);
        struct mz_select_request sr = {
            .brand = args.brand,
            .rules = brand_rules ? brand_rules->rules : NULL,
            .region = args.region,
            .client_region = entry ? entry->region : NULL,
            .tier = entry ? entry->tier : NULL,
            .facts = facts,
            .exclude_items = context >= 0 ? &context : NULL,
            .n_exclude_items = context >= 0 ? 1 : 0,
            .now = now,
            .k = (int)args.k,
            .skip_counts = !args.explain_rules,
        };
        /* The impressions lock covers the frequency-cap count and the
         * recording of this list, so two concurrent requests of one
         * client cannot both show an item over its cap. */
        if (entry)
            pthread_mutex_lock(&entry->impressions_lock);
        status = mz_rules_select(app->catalog, scores, (size_t)n_items, &sr, &sel);
        if (status == MZ_OK && entry && sel.count > 0) {
            mz_client_facts_record_impressions(entry->facts, sel.items,
                                               (size_t)sel.count, now);
            entry->dirty = true; /* the next checkpoint keeps them */
        }
        if (entry)
            pthread_mutex_unlock(&entry->impressions_lock);
    }
    if (status == MZ_OK) {
        struct mz_reasons_request rr = {
            .model = app->model,
            .catalog = app->catalog,
            .client = memory,
            .facts = facts,
            .context_item = context,
            .now = now,
        };
        items = items_json(app, &sel, &rr);
        if (args.explain_rules) {
            explain = mz_json_write_select_explain(&sel);
            if (explain)
                json_object_set_new(explain, "version",
                                    brand_rules ? json_integer(brand_rules->version)
                                                : json_null());
        }
    }
    pthread_rwlock_unlock(&app->lock);

    if (status != MZ_OK || !items || (args.explain_rules && !explain)) {
        json_decref(items);
        json_decref(explain);
        mz_response_error(resp, status == MZ_OK ? MZ_ERR_NOMEM : status,
                          "recommendations failed: %s",
                          status == MZ_OK ? sel.reason : mz_status_code(status));
        return;
    }
    json_t *body = json_pack("{s:s,s:b,s:o}", "client_id", client_id,
                             "personalized", personalized, "items", items);
    if (body && sel.count == 0 && sel.reason[0])
        json_object_set_new(body, "empty_reason", json_string(sel.reason));
    if (body && explain)
        json_object_set_new(body, "rules", explain);
    else
        json_decref(explain);
    mz_response_json(resp, 200, body);
}
