/*-------------------------------------------------------------------------
 * recommendations.c
 *    GET /v1/clients/{client_id}/recommendations
 *
 * Reads the query arguments, asks the service (api/service/recommend.c:
 * scoring, the brand's rules, the frequency-cap count) and writes its
 * view as JSON, each item with its reasons.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_reasons.h"
#include "api/json_rules.h"
#include "api/router.h"
#include "api/service/service.h"
#include "model/reasons.h"

static bool read_args(const struct mz_request *req,
                      struct mz_recommend_args *args,
                      struct mz_query_list *exclude, struct mz_response *resp)
{
    int64_t k = 0;
    if (!mz_query_int(req, "k", 1, MZ_SELECT_MAX_K, 10, &k, resp) ||
        !mz_query_id(req, "brand", &args->brand, resp) ||
        !mz_query_id(req, "region", &args->region, resp) ||
        !mz_query_id(req, "context_item", &args->context_item, resp) ||
        !mz_query_id_list(req, "exclude", MZ_EXCLUDE_MAX, exclude, resp))
        return false;
    args->k = (int)k;
    args->exclude = exclude->items;
    args->n_exclude = exclude->count;
    const char *explain = req->query(req->query_ctx, "explain");
    if (explain && strcmp(explain, "rules") != 0) {
        mz_response_error(resp, MZ_ERR_INVALID, "explain: must be \"rules\"");
        return false;
    }
    args->explain_rules = explain != NULL;
    return true;
}

/* The JSON list of the selected items. */
static json_t *items_json(const struct mz_recommendation_view *view)
{
    const struct mz_select_result *sel = view->selection;
    json_t *items = json_array();
    for (int i = 0; items && i < sel->count; i++) {
        const struct mz_item *item = view->items[i];
        struct mz_reason why[MZ_REASONS_MAX];
        json_t *reasons = mz_json_write_reasons(
            why, mz_reasons_build(view->reasons, sel->items[i], why));
        json_t *entry =
            mz_json_write_listed_item(item, sel->scores[i], reasons);
        if (!entry || json_array_append_new(items, entry) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    return items;
}

struct recommendation_reply {
    const struct mz_recommend_args *args;
    json_t *body; /* owned */
};

static enum mz_status reply_recommendation(
    void *arg, const struct mz_recommendation_view *view)
{
    struct recommendation_reply *ctx = arg;
    const struct mz_select_result *sel = view->selection;
    json_t *explain = NULL;
    if (ctx->args->explain_rules) {
        explain = mz_json_write_select_explain(sel);
        if (!explain)
            return MZ_ERR_NOMEM;
        json_object_set_new(explain, "version",
                            view->has_rules ? json_integer(view->rules_version)
                                            : json_null());
    }
    json_t *items = items_json(view);
    ctx->body =
        items ? json_pack("{s:s,s:b,s:o}", "client_id", ctx->args->client_id,
                          "personalized", view->personalized, "items", items)
              : NULL;
    if (!ctx->body) {
        json_decref(explain);
        return MZ_ERR_NOMEM;
    }
    if (sel->count == 0 && sel->reason[0])
        json_object_set_new(ctx->body, "empty_reason",
                            json_string(sel->reason));
    if (explain)
        json_object_set_new(ctx->body, "rules", explain);
    return MZ_OK;
}

void mz_handle_recommendations(struct mz_service *svc,
                               const struct mz_request *req,
                               struct mz_response *resp)
{
    struct mz_recommend_args args = {.client_id = req->params[0]};
    struct mz_query_list exclude;
    if (!mz_require_id("client_id", args.client_id, resp) ||
        !read_args(req, &args, &exclude, resp) ||
        !mz_api_wait_after(svc, req, resp))
        return;
    /* A key scoped to some brands sees only them. */
    const char *scope_brands[MZ_KEY_MAX_BRANDS];
    if (!mz_api_scope_brands(req, args.brand, scope_brands, &args.brands,
                             &args.n_brands, resp))
        return;
    args.now = mz_now_seconds();
    struct recommendation_reply ctx = {&args, NULL};
    enum mz_status status =
        mz_service_recommend(svc, &args, reply_recommendation, &ctx);
    if (status == MZ_ERR_DB_UNAVAILABLE || status == MZ_ERR_DB ||
        status == MZ_ERR_INTERNAL) {
        mz_response_error(resp, status, "client %s could not be read: %s",
                          args.client_id, mz_status_code(status));
        return;
    }
    if (status != MZ_OK) {
        json_decref(ctx.body);
        mz_response_error(resp, status, "recommendations failed: %s",
                          mz_status_code(status));
        return;
    }
    mz_response_json(resp, 200, ctx.body);
}
