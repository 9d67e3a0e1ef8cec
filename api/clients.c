/*-------------------------------------------------------------------------
 * clients.c
 *    GET /v1/clients/{client_id}/profile, DELETE /v1/clients/{client_id},
 *    PUT /v1/clients/{client_id}/attributes.
 *
 * The profile is what a boutique app shows before a sales associate
 * greets a client: attributes, what each memory level holds (top items,
 * categories and brands), and the facts (wishlist, cart, purchases,
 * visits). What the service holds is api/service/profile.c's; this file
 * writes it as JSON, and reads attribute bodies for
 * api/service/clients.c (which logs consent changes as markers).
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_attributes.h"
#include "api/json_body.h"
#include "api/json_facts.h"
#include "api/service/service.h"
#include "model/reasons.h"
#include "model/timefmt.h"

static json_t *time_or_null(int64_t ts)
{
    if (ts <= 0)
        return json_null();
    char text[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(ts, text);
    return json_string(text);
}

/* [{key: name, "weight": w}, ...] */
static json_t *groups_json(const struct mz_profile_group *groups, int n,
                           const char *key)
{
    json_t *out = json_array();
    for (int i = 0; out && i < n; i++)
        json_array_append_new(out, json_pack("{s:s,s:f}", key, groups[i].name,
                                             "weight", groups[i].weight));
    return out;
}

/* What one memory source holds, as the profile shows it. */
static json_t *level_json(const struct mz_profile_level *level, int n_levels)
{
    json_t *items = json_array();
    for (int i = 0; items && i < level->n_items; i++)
        json_array_append_new(items, json_pack("{s:s,s:f}", "item_id",
                                               level->item_ids[i], "score",
                                               (double)level->item_scores[i]));
    json_t *out = json_pack(
        "{s:s,s:o,s:o,s:o}", "name",
        mz_reasons_source_name(level->source, n_levels), "top_items",
        items ? items : json_array(), "top_categories",
        groups_json(level->categories, level->n_categories, "category"),
        "top_brands", groups_json(level->brands, level->n_brands, "brand"));
    if (!out)
        return NULL;
    if (level->source == MZ_SOURCE_SESSION) {
        json_object_set_new(out, "source", json_string("session_context"));
    } else if (level->source == MZ_SOURCE_CATALOG) {
        json_object_set_new(out, "source", json_string("catalog"));
    } else {
        char label[24];
        snprintf(label, sizeof label, "level_%d", level->level);
        json_object_set_new(out, "source", json_string(label));
        json_object_set_new(out, "chunk_events",
                            json_integer(level->chunk_events));
        json_object_set_new(out, "events", json_integer(level->events));
        json_object_set_new(out, "last_consolidated_at",
                            time_or_null(level->last_consolidated_at));
    }
    return out;
}

/* The client's tiers at the brands the reader sees. */
static json_t *brand_tiers_json(const struct mz_profile_view *view)
{
    json_t *tiers = mz_json_write_brand_tiers(view->tiers);
    for (size_t i = 0; tiers && view->brands && i < view->tiers->count; i++) {
        const char *brand = view->tiers->v[i].brand;
        bool shown = false;
        for (size_t b = 0; b < view->n_brands && !shown; b++)
            shown = strcmp(view->brands[b], brand) == 0;
        if (!shown)
            json_object_del(tiers, brand);
    }
    return tiers;
}

struct profile_reply {
    const char *client_id;
    json_t *body; /* owned */
};

static enum mz_status reply_profile(void *arg,
                                    const struct mz_profile_view *view)
{
    struct profile_reply *ctx = arg;
    json_t *levels = json_array();
    for (int i = 0; levels && i < view->n_sources; i++) {
        json_t *one = level_json(&view->levels[i], view->n_levels);
        if (!one || json_array_append_new(levels, one) != 0) {
            json_decref(levels);
            levels = NULL;
        }
    }
    json_t *facts =
        view->consent
            ? mz_json_write_facts_of(view->facts, view->n_facts, view->catalog,
                                     view->brands, view->n_brands)
            : json_object();
    json_t *tiers = brand_tiers_json(view);
    ctx->body =
        levels && facts && tiers
            ? json_pack("{s:s,s:o,s:O,s:o,s:{s:b},s:I,s:O}", "client_id",
                        ctx->client_id, "tier",
                        view->tier ? json_string(view->tier) : json_null(),
                        "tiers", tiers, "region",
                        view->region ? json_string(view->region) : json_null(),
                        "consent", "personalization", view->consent,
                        "events_learned", (json_int_t)view->events_learned,
                        "levels", levels)
            : NULL;
    /* A reader of some brands is not told how many events other houses
     * logged. */
    if (ctx->body && view->events_logged >= 0 &&
        json_object_set_new(ctx->body, "events_logged",
                            json_integer(view->events_logged)) != 0) {
        json_decref(ctx->body);
        ctx->body = NULL;
    }
    if (ctx->body)
        json_object_update(ctx->body, facts);
    json_decref(levels);
    json_decref(facts);
    json_decref(tiers);
    return ctx->body ? MZ_OK : MZ_ERR_NOMEM;
}

void mz_handle_profile(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp)
{
    struct profile_reply ctx = {req->params[0], NULL};
    if (!mz_require_id("client_id", ctx.client_id, resp))
        return;
    /* A key scoped to some brands sees only what comes from them. */
    const struct mz_principal *scope = req->principal;
    const char *scope_brands[MZ_KEY_MAX_BRANDS];
    size_t n_brands = 0;
    if (scope && !scope->all_brands)
        for (; n_brands < scope->n_brands; n_brands++)
            scope_brands[n_brands] = scope->brands[n_brands];
    enum mz_status status = mz_service_read_profile(
        svc, ctx.client_id, scope && !scope->all_brands ? scope_brands : NULL,
        n_brands, mz_now_seconds(), reply_profile, &ctx);
    if (status == MZ_OK)
        mz_response_json(resp, 200, ctx.body);
    else if (status == MZ_ERR_NOT_FOUND)
        mz_response_error(resp, status, "no client %s", ctx.client_id);
    else if (status == MZ_ERR_NOMEM)
        mz_response_error(resp, status, "out of memory");
    else
        mz_response_error(resp, status, "client %s could not be read: %s",
                          ctx.client_id, mz_status_code(status));
}

void mz_handle_delete_client(struct mz_service *svc,
                             const struct mz_request *req,
                             struct mz_response *resp)
{
    const char *client_id = req->params[0];
    if (!mz_require_id("client_id", client_id, resp))
        return;
    enum mz_status status = mz_service_erase_client(svc, client_id);
    if (status != MZ_OK) {
        mz_response_error(resp, status, "client %s not erased: %s", client_id,
                          mz_status_code(status));
        return;
    }
    mz_response_empty(resp, 204);
}

/* The attributes as stored and as replied:
 * {"tier":..,"tiers":{..},"region":..,"consent":{..}}; NULL on allocation
 * failure. */
static json_t *attributes_json(const struct mz_attributes_update *attrs,
                               bool consent)
{
    json_t *tiers = mz_json_write_brand_tiers(attrs->tiers);
    return tiers ? json_pack(
                       "{s:o,s:o,s:o,s:{s:b}}", "tier",
                       attrs->tier ? json_string(attrs->tier) : json_null(),
                       "tiers", tiers, "region",
                       attrs->region ? json_string(attrs->region) : json_null(),
                       "consent", "personalization", consent)
                 : NULL;
}

/* The stored attributes document (see attributes_json). */
static char *attributes_doc(const struct mz_attributes_update *attrs,
                            bool consent)
{
    json_t *doc = attributes_json(attrs, consent);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

void mz_handle_put_attributes(struct mz_service *svc,
                              const struct mz_request *req,
                              struct mz_response *resp)
{
    const char *client_id = req->params[0];
    struct mz_client_attributes read = {.consent = -1};
    if (!mz_require_id("client_id", client_id, resp))
        return;
    json_t *body = mz_body_object(req, resp);
    if (!body)
        return;
    struct mz_json_error err;
    enum mz_status status = mz_json_read_attributes(body, &read, &err);
    if (status != MZ_OK) {
        mz_response_error(resp, status, "%s", err.message);
        goto cleanup;
    }
    struct mz_attributes_update attrs = {read.tier, &read.tiers, read.region,
                                         read.consent};
    bool in_force = true;
    status = mz_service_set_attributes(svc, client_id, &attrs, attributes_doc,
                                       &in_force);
    if (status != MZ_OK) {
        mz_response_error(resp, status, "attributes not stored: %s",
                          mz_status_code(status));
        goto cleanup;
    }
    json_t *reply = attributes_json(&attrs, in_force);
    if (reply &&
        json_object_set_new(reply, "client_id", json_string(client_id)) != 0) {
        json_decref(reply);
        reply = NULL;
    }
    mz_response_json(resp, 200, reply);
cleanup:
    mz_client_attributes_clear(&read);
    json_decref(body);
}
