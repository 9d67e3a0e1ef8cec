/*-------------------------------------------------------------------------
 * rules.c
 *    PUT and GET /v1/brands/{brand}/rules.
 *
 * A rule set is validated whole (400 naming the field), stored in
 * PostgreSQL as the brand's next version, then put in force for the very
 * next recommendation.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_rules.h"
#include "api/service/service.h"

static json_t *rules_reply(const char *brand, int64_t version,
                           const struct mz_rules *rules)
{
    json_t *doc = mz_json_write_rules(rules);
    if (!doc)
        return NULL;
    return json_pack("{s:s,s:I,s:o}", "brand", brand, "version",
                     (json_int_t)version, "rules", doc);
}

void mz_handle_put_rules(struct mz_service *svc, const struct mz_request *req,
                         struct mz_response *resp)
{
    const char *brand = req->params[0];
    struct mz_rules *rules = NULL;
    char *doc = NULL;
    json_t *canonical = NULL, *reply = NULL;
    if (!mz_require_id("brand", brand, resp))
        return;
    json_t *body = mz_body_object(req, resp);
    if (!body)
        return;
    struct mz_json_error err;
    rules = mz_json_read_rules(body, &err);
    if (!rules) {
        mz_response_error(resp, err.status, "%s",
                          err.message[0] ? err.message : "invalid rules");
        goto cleanup;
    }
    canonical = mz_json_write_rules(rules);
    doc = canonical ? json_dumps(canonical, JSON_COMPACT) : NULL;
    if (!doc) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    int64_t version = 0;
    enum mz_status status =
        mz_service_put_rules(svc, brand, rules, doc, req->principal, &version);
    rules = NULL; /* taken */
    if (status == MZ_OK) {
        reply = json_pack("{s:s,s:I,s:O}", "brand", brand, "version",
                          (json_int_t)version, "rules", canonical);
        if (!reply)
            status = MZ_ERR_NOMEM;
    }
    if (status != MZ_OK) {
        mz_response_error(resp, status, "rules not stored: %s",
                          mz_status_code(status));
        goto cleanup;
    }
    mz_response_json(resp, 200, reply);
cleanup:
    free(doc);
    json_decref(canonical);
    mz_rules_free(rules);
    json_decref(body);
}

struct rules_reply_ctx {
    const char *brand;
    json_t *reply;
};

static enum mz_status reply_rules(void *arg, int64_t version,
                                  const struct mz_rules *rules)
{
    struct rules_reply_ctx *ctx = arg;
    ctx->reply = rules_reply(ctx->brand, version, rules);
    return ctx->reply ? MZ_OK : MZ_ERR_NOMEM;
}

void mz_handle_get_rules(struct mz_service *svc, const struct mz_request *req,
                         struct mz_response *resp)
{
    struct rules_reply_ctx ctx = {req->params[0], NULL};
    enum mz_status status =
        mz_service_read_rules(svc, ctx.brand, reply_rules, &ctx);
    if (status == MZ_ERR_NOT_FOUND)
        mz_response_error(resp, status, "brand %s has no rules", ctx.brand);
    else if (status != MZ_OK)
        mz_response_error(resp, status, "out of memory");
    else
        mz_response_json(resp, 200, ctx.reply);
}
