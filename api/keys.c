/*-------------------------------------------------------------------------
 * keys.c
 *    POST /v1/keys, GET /v1/keys, DELETE /v1/keys/{key_id} (admin only:
 *    the route table says so).
 *
 * The reply to POST is the only place a key's secret ever appears; GET
 * lists what a key may do, never its secret.
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_key.h"
#include "api/service/service.h"
#include "model/timefmt.h"

/* ["admin", ...] of roles; NULL on ENOMEM. */
static json_t *roles_json(unsigned roles)
{
    json_t *list = json_array();
    for (unsigned i = 0; list && i < MZ_ROLE_COUNT; i++)
        if (roles & (1u << i) &&
            json_array_append_new(list, json_string(mz_role_name(1u << i))))
            return json_decref(list), NULL;
    return list;
}

/* ["b1", ...] or ["*"]; NULL on ENOMEM. */
static json_t *brands_json(bool all, const char *const *brands, size_t n)
{
    json_t *list = json_array();
    if (list && all && json_array_append_new(list, json_string("*")))
        return json_decref(list), NULL;
    for (size_t i = 0; list && !all && i < n; i++)
        if (json_array_append_new(list, json_string(brands[i])))
            return json_decref(list), NULL;
    return list;
}

/* The public fields of a key; NULL on ENOMEM. */
static json_t *key_json(const char *key_id, const char *name, unsigned roles,
                        bool all, const char *const *brands, size_t n,
                        double rps, int burst, int64_t created_at)
{
    char created[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(created_at, created);
    json_t *rate =
        rps > 0 ? json_pack("{s:f,s:i}", "requests_per_s", rps, "burst", burst)
                : json_null();
    return json_pack("{s:s,s:s,s:o*,s:o*,s:o*,s:s}", "key_id", key_id, "name",
                     name, "roles", roles_json(roles), "brands",
                     brands_json(all, brands, n), "rate_limit", rate,
                     "created_at", created);
}

void mz_handle_post_key(struct mz_service *svc, const struct mz_request *req,
                        struct mz_response *resp)
{
    struct mz_key_body key = {0};
    json_t *reply = NULL;
    json_t *body = mz_body_object(req, resp);
    if (!body)
        return;
    struct mz_json_error err;
    if (!mz_json_read_key(body, &key, &err)) {
        mz_response_error(resp, err.status, "%s", err.message);
        goto cleanup;
    }
    bool all = key.all_brands;
    unsigned role_bits = key.role_bits;
    struct mz_key_spec key_spec = {
        .name = key.name ? key.name : "",
        .roles = role_bits,
        .brands = all ? NULL : (const char *const *)key.brands.items,
        .n_brands = all ? 0 : key.brands.count,
        .rate_requests_per_s = key.has_rate ? key.rate_requests_per_s : 0,
        .rate_burst = key.has_rate ? key.rate_burst : 0,
    };
    struct mz_key_created created;
    enum mz_status status =
        mz_service_create_key(svc, &key_spec, req->principal, &created);
    if (status != MZ_OK) {
        mz_response_error(resp, status, "key not created: %s",
                          mz_status_code(status));
        goto cleanup;
    }
    reply =
        key_json(created.key_id, key_spec.name, role_bits, all, key_spec.brands,
                 key_spec.n_brands, key_spec.rate_requests_per_s,
                 key_spec.rate_burst, created.created_at);
    if (!reply ||
        json_object_set_new(reply, "key", json_string(created.token))) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    mz_response_json(resp, 201, reply);
    reply = NULL;
    explicit_bzero(created.token, sizeof created.token);
cleanup:
    json_decref(reply);
    mz_key_body_clear(&key);
    json_decref(body);
}

static enum mz_status reply_keys(void *ctx, const struct mz_key_view *keys,
                                 size_t n)
{
    json_t **out = ctx;
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        const struct mz_key_view *k = &keys[i];
        json_t *doc = key_json(k->key_id, k->name, k->roles, k->all_brands,
                               k->brands, k->n_brands, k->rate_requests_per_s,
                               k->rate_burst, k->created_at);
        if (!doc || json_array_append_new(list, doc)) {
            json_decref(list);
            list = NULL;
        }
    }
    *out = list ? json_pack("{s:o}", "keys", list) : NULL;
    return *out ? MZ_OK : MZ_ERR_NOMEM;
}

void mz_handle_get_keys(struct mz_service *svc, const struct mz_request *req,
                        struct mz_response *resp)
{
    json_t *reply = NULL;
    enum mz_status status = mz_service_list_keys(svc, reply_keys, &reply);
    if (status != MZ_OK)
        mz_response_error(resp, status, "out of memory");
    else
        mz_response_json(resp, 200, reply);
}

void mz_handle_delete_key(struct mz_service *svc, const struct mz_request *req,
                          struct mz_response *resp)
{
    const char *key_id = req->params[0];
    enum mz_status status = mz_service_revoke_key(svc, key_id, req->principal);
    if (status == MZ_ERR_NOT_FOUND)
        mz_response_error(resp, status, "no live key %.*s", MZ_KEY_ID_CHARS,
                          key_id);
    else if (status != MZ_OK)
        mz_response_error(resp, status, "key not revoked: %s",
                          mz_status_code(status));
    else
        mz_response_empty(resp, 204);
}
