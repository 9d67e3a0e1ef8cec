/*-------------------------------------------------------------------------
 * recommendations.c
 *    GET /v1/clients/{client_id}/recommendations
 *
 * Reads the query arguments, asks the service (api/service/recommend.c:
 * scoring, the brand's rules, the frequency-cap count) and writes its
 * view as JSON, each item with its reasons.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_out.h"
#include "api/json_reasons.h"
#include "api/json_rules.h"
#include "api/router.h"
#include "api/scratch.h"
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

/* Writes the JSON list of the selected items, each with its reasons
 * (explained by one explainer for the whole list). */
static void items_json(struct mz_json_out *out,
                       const struct mz_recommendation_view *view)
{
    const struct mz_select_result *sel = view->selection;
    struct mz_reasons_request reasons = *view->reasons;
    struct mz_explainer *explainer =
        reasons.client ? mz_scratch_explainer() : NULL;
    if (explainer &&
        mz_explainer_prepare(explainer, reasons.model, reasons.client,
                             reasons.context_item, reasons.now))
        reasons.explainer = explainer;
    mz_json_out_open(out, '[');
    for (int i = 0; i < sel->count; i++) {
        struct mz_reason why[MZ_REASONS_MAX];
        int n = mz_reasons_build(&reasons, sel->items[i], why);
        mz_json_out_listed_item(out, view->items[i], sel->scores[i], why, n);
    }
    mz_json_out_close(out, ']');
}

struct recommendation_reply {
    const struct mz_recommend_args *args;
    char *body; /* owned: the JSON text */
    size_t body_len;
};

/* Writes the reply as text straight away: this runs under the service's
 * read lock, once per request, and a tree of jansson values per item
 * cost more than scoring the candidates (docs/scoring.md). */
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
    struct mz_json_out out;
    mz_json_out_init(&out);
    mz_json_out_open(&out, '{');
    mz_json_out_key(&out, "client_id");
    mz_json_out_string(&out, ctx->args->client_id);
    mz_json_out_key(&out, "personalized");
    mz_json_out_bool(&out, view->personalized);
    mz_json_out_key(&out, "items");
    items_json(&out, view);
    if (sel->count == 0 && sel->reason[0]) {
        mz_json_out_key(&out, "empty_reason");
        mz_json_out_string(&out, sel->reason);
    }
    if (explain) {
        mz_json_out_key(&out, "rules");
        mz_json_out_value(&out, explain);
        json_decref(explain);
    }
    mz_json_out_close(&out, '}');
    ctx->body = mz_json_out_finish(&out, &ctx->body_len);
    return ctx->body ? MZ_OK : MZ_ERR_NOMEM;
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
    struct recommendation_reply ctx = {&args, NULL, 0};
    enum mz_status status =
        mz_service_recommend(svc, &args, reply_recommendation, &ctx);
    if (status == MZ_ERR_DB_UNAVAILABLE || status == MZ_ERR_DB ||
        status == MZ_ERR_INTERNAL) {
        mz_response_error(resp, status, "client %s could not be read: %s",
                          args.client_id, mz_status_code(status));
        return;
    }
    if (status != MZ_OK) {
        free(ctx.body);
        mz_response_error(resp, status, "recommendations failed: %s",
                          mz_status_code(status));
        return;
    }
    mz_response_json_text(resp, 200, ctx.body, ctx.body_len);
}
