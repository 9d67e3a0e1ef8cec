/*-------------------------------------------------------------------------
 * rules.c
 *    PUT and GET /v1/brands/{brand}/rules.
 *
 * A rule set is validated whole (400 naming the field), stored in
 * PostgreSQL as the brand's next version, then put in force for the very
 * next recommendation.
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdlib.h>

#include "api/app.h"
#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_rules.h"

/* Rule writes are serialised so that versions reach memory in order. */
static pthread_mutex_t rules_write_mutex = PTHREAD_MUTEX_INITIALIZER;

static json_t *rules_reply(const char *brand, int64_t version,
                           const struct mz_rules *rules)
{
    json_t *doc = mz_json_write_rules(rules);
    if (!doc)
        return NULL;
    return json_pack("{s:s,s:I,s:o}", "brand", brand, "version",
                     (json_int_t)version, "rules", doc);
}

void mz_handle_put_rules(struct mz_app *app, const struct mz_request *req,
                         struct mz_response *resp)
{
    const char *brand = req->params[0];
    struct mz_rules *rules = NULL;
    char *doc = NULL;
    json_t *canonical = NULL;
    if (!mz_require_id("brand", brand, resp))
        return;
    json_t *body = mz_body_object(req, resp);
    if (!body)
        return;
    enum mz_status status = MZ_ERR_INVALID;
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
    pthread_mutex_lock(&rules_write_mutex);
    status = mz_store_put_rules(app->store, brand, doc, &version);
    json_t *reply = NULL;
    if (status == MZ_OK) {
        reply = rules_reply(brand, version, rules);
        pthread_rwlock_wrlock(&app->lock);
        status = mz_app_set_rules(app, brand, version, rules);
        rules = NULL; /* taken */
        pthread_rwlock_unlock(&app->lock);
    }
    pthread_mutex_unlock(&rules_write_mutex);
    if (status != MZ_OK || !reply) {
        json_decref(reply);
        mz_response_error(resp, status == MZ_OK ? MZ_ERR_NOMEM : status,
                          "rules not stored: %s", mz_status_code(status));
        goto cleanup;
    }
    mz_response_json(resp, 200, reply);
cleanup:
    free(doc);
    json_decref(canonical);
    mz_rules_free(rules);
    json_decref(body);
}

void mz_handle_get_rules(struct mz_app *app, const struct mz_request *req,
                         struct mz_response *resp)
{
    const char *brand = req->params[0];
    pthread_rwlock_rdlock(&app->lock);
    const struct mz_brand_rules *current = mz_app_brand_rules(app, brand);
    json_t *reply = current ? rules_reply(brand, current->version, current->rules)
                            : NULL;
    pthread_rwlock_unlock(&app->lock);
    if (!current) {
        mz_response_error(resp, MZ_ERR_NOT_FOUND, "brand %s has no rules", brand);
        return;
    }
    if (!reply) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        return;
    }
    mz_response_json(resp, 200, reply);
}
