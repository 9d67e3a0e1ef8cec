/*-------------------------------------------------------------------------
 * discover.c
 *    GET /v1/items/{item_id}/similar  and  GET /v1/brands/{brand}/popular
 *
 * Reads the query arguments, asks the service (api/service/similar.c:
 * the catalog-wide level's scores, the brand's rules) and writes its
 * view as JSON, each item with its reasons.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_out.h"
#include "api/json_reasons.h"
#include "api/router.h"
#include "api/service/service.h"
#include "model/reasons.h"

/* The arguments both routes read: k, region, exclude. */
static bool read_common(const struct mz_request *req,
                        struct mz_discover_args *args,
                        struct mz_query_list *exclude, struct mz_response *resp)
{
    int64_t k = 0;
    if (!mz_query_int(req, "k", 1, MZ_SELECT_MAX_K, 10, &k, resp) ||
        !mz_query_id(req, "region", &args->region, resp) ||
        !mz_query_id_list(req, "exclude", MZ_EXCLUDE_MAX, exclude, resp))
        return false;
    args->k = (int)k;
    args->exclude = exclude->items;
    args->n_exclude = exclude->count;
    args->now = mz_now_seconds();
    return true;
}

struct discover_reply {
    const struct mz_discover_args *args;
    char *body; /* owned: the JSON text */
    size_t body_len;
};

/* Writes the JSON list of the view's items, each with its reasons. */
static void items_json(struct mz_json_out *out,
                       const struct discover_reply *ctx,
                       const struct mz_discover_view *view)
{
    const struct mz_select_result *sel = view->selection;
    mz_json_out_open(out, '[');
    for (int i = 0; i < sel->count; i++) {
        struct mz_reason why[MZ_REASONS_MAX];
        int n = view->source >= 0
                    ? mz_reasons_build_similar(view->model, view->catalog,
                                               view->source, sel->items[i], why)
                    : mz_reasons_build_popular(view->catalog, sel->items[i],
                                               ctx->args->brand, why);
        mz_json_out_listed_item(out, view->items[i], sel->scores[i], why, n);
    }
    mz_json_out_close(out, ']');
}

static enum mz_status reply_discover(void *arg,
                                     const struct mz_discover_view *view)
{
    struct discover_reply *ctx = arg;
    const struct mz_discover_args *args = ctx->args;
    struct mz_json_out out;
    mz_json_out_init(&out);
    mz_json_out_open(&out, '{');
    if (view->source >= 0) {
        mz_json_out_key(&out, "item_id");
        mz_json_out_string(&out, args->item_id);
    } else {
        mz_json_out_key(&out, "brand");
        mz_json_out_string(&out, args->brand);
        mz_json_out_key(&out, "category");
        mz_json_out_string(&out, args->category);
        mz_json_out_key(&out, "half_life_s");
        mz_json_out_real(&out,
                         mz_model_config_of(view->model)->pop_half_life_s);
    }
    mz_json_out_key(&out, "items");
    items_json(&out, ctx, view);
    const struct mz_select_result *sel = view->selection;
    if (sel->count == 0 && sel->reason[0]) {
        mz_json_out_key(&out, "empty_reason");
        mz_json_out_string(&out, sel->reason);
    }
    mz_json_out_close(&out, '}');
    ctx->body = mz_json_out_finish(&out, &ctx->body_len);
    return ctx->body ? MZ_OK : MZ_ERR_NOMEM;
}

/* Answers resp from status and the reply's body (taken). */
static void respond(struct discover_reply *ctx, enum mz_status status,
                    struct mz_response *resp)
{
    const struct mz_discover_args *args = ctx->args;

    if (status == MZ_OK) {
        mz_response_json_text(resp, 200, ctx->body, ctx->body_len);
        return;
    }
    free(ctx->body);
    if (status == MZ_ERR_NOT_FOUND)
        mz_response_error(resp, status, "no item %s in the catalog",
                          args->item_id);
    else if (status == MZ_ERR_FORBIDDEN)
        mz_response_error(resp, status,
                          "item %s is of a brand outside this key's scope",
                          args->item_id);
    else if (status == MZ_ERR_DB_UNAVAILABLE || status == MZ_ERR_DB ||
             status == MZ_ERR_INTERNAL)
        mz_response_error(resp, status, "client %s could not be read: %s",
                          args->client_id, mz_status_code(status));
    else
        mz_response_error(resp, status, "the list failed: %s",
                          mz_status_code(status));
}

void mz_handle_similar(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp)
{
    struct mz_discover_args args = {.item_id = req->params[0]};
    struct mz_query_list exclude;
    const char *scope_brands[MZ_KEY_MAX_BRANDS];
    if (!mz_require_id("item_id", args.item_id, resp) ||
        !read_common(req, &args, &exclude, resp) ||
        !mz_query_id(req, "brand", &args.brand, resp) ||
        !mz_query_id(req, "client_id", &args.client_id, resp) ||
        !mz_api_scope_brands(req, args.brand, scope_brands, &args.brands,
                             &args.n_brands, resp))
        return;
    struct discover_reply ctx = {&args, NULL, 0};
    respond(&ctx, mz_service_similar(svc, &args, reply_discover, &ctx), resp);
}

void mz_handle_popular(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp)
{
    /* The router checked the path's brand against the key. */
    struct mz_discover_args args = {.brand = req->params[0]};
    struct mz_query_list exclude;
    if (!mz_require_id("brand", args.brand, resp) ||
        !read_common(req, &args, &exclude, resp) ||
        !mz_query_id(req, "category", &args.category, resp))
        return;
    struct discover_reply ctx = {&args, NULL, 0};
    respond(&ctx, mz_service_popular(svc, &args, reply_discover, &ctx), resp);
}
