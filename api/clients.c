/*-------------------------------------------------------------------------
 * clients.c
 *    GET /v1/clients/{client_id}/profile, DELETE /v1/clients/{client_id},
 *    PUT /v1/clients/{client_id}/attributes,
 *    GET /v1/clients/{client_id}/export.
 *
 * The profile is what a boutique app shows before a sales associate
 * greets a client: attributes, what each memory level holds (top items,
 * categories and brands), and the facts (wishlist, cart, purchases,
 * visits). What the service holds is api/service/profile.c's,
 * api/json_profile.c writes it as JSON; this file reads attribute bodies for
 * api/service/clients.c (which logs consent changes as markers).
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_attributes.h"
#include "api/json_audit.h"
#include "api/json_body.h"
#include "api/json_event.h"
#include "api/json_profile.h"
#include "api/router.h"
#include "api/service/service.h"
#include "model/timefmt.h"

struct profile_reply {
    const char *client_id;
    json_t *body; /* owned */
};

static enum mz_status reply_profile(void *arg,
                                    const struct mz_profile_view *view)
{
    struct profile_reply *ctx = arg;
    ctx->body = mz_json_write_profile(ctx->client_id, view);
    return ctx->body ? MZ_OK : MZ_ERR_NOMEM;
}

/* Fills resp for a failed read of client_id. */
static void client_read_error(struct mz_response *resp, enum mz_status status,
                              const char *client_id)
{
    if (status == MZ_ERR_NOT_FOUND)
        mz_response_error(resp, status, "no client %s", client_id);
    else if (status == MZ_ERR_NOMEM)
        mz_response_error(resp, status, "out of memory");
    else
        mz_response_error(resp, status, "client %s could not be read: %s",
                          client_id, mz_status_code(status));
}

void mz_handle_profile(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp)
{
    struct profile_reply ctx = {req->params[0], NULL};
    if (!mz_require_id("client_id", ctx.client_id, resp) ||
        !mz_api_wait_after(svc, req, resp))
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
    else
        client_read_error(resp, status, ctx.client_id);
}

/* The export's bounds: the whole document is built in memory (the
 * response layer sends one buffer), so a client with more events than
 * this gets the first ones, in log order, and "truncated": true. Ten
 * thousand events are a few MB of JSON. */
#define EXPORT_MAX_EVENTS  10000
#define EXPORT_MAX_AUDIT   1000
#define EXPORT_MAX_CONSENT 1000

struct export_ctx {
    json_t *events;  /* owned */
    json_t *consent; /* owned: the consent markers, the history */
    json_t *audit;   /* owned */
    int64_t events_total;
    bool truncated;
    bool out_of_memory;
};

static bool append_or_fail(struct export_ctx *x, json_t *list, json_t *one)
{
    if (!one || json_array_append_new(list, one) != 0) {
        x->out_of_memory = true;
        return false;
    }
    return true;
}

/* Every event is counted; the first EXPORT_MAX_EVENTS are shown, and
 * every consent marker (up to its own bound) makes the history. */
static bool export_event(void *arg, const struct mz_event_record *ev)
{
    struct export_ctx *x = arg;
    x->events_total++;
    if (ev->type == MZ_EV_CONSENT_GRANTED ||
        ev->type == MZ_EV_CONSENT_WITHDRAWN) {
        char at[MZ_TIME_RFC3339_BYTES];
        mz_time_format_rfc3339(ev->ts, at);
        if (json_array_size(x->consent) == EXPORT_MAX_CONSENT)
            x->truncated = true;
        else if (!append_or_fail(x, x->consent,
                                 json_pack("{s:b,s:s,s:I}", "personalization",
                                           ev->type == MZ_EV_CONSENT_GRANTED,
                                           "at", at, "seq",
                                           (json_int_t)ev->seq)))
            return false;
    }
    if (json_array_size(x->events) == EXPORT_MAX_EVENTS) {
        x->truncated = true;
        return true;
    }
    return append_or_fail(x, x->events, mz_json_write_event(ev));
}

static bool export_audit_row(void *arg, const struct mz_audit_row *row)
{
    struct export_ctx *x = arg;
    if (json_array_size(x->audit) == EXPORT_MAX_AUDIT) {
        x->truncated = true;
        return false;
    }
    return append_or_fail(x, x->audit, mz_json_write_audit_row(row));
}

static void export_ctx_clear(struct export_ctx *x)
{
    json_decref(x->events);
    json_decref(x->consent);
    json_decref(x->audit);
}

void mz_handle_export(struct mz_service *svc, const struct mz_request *req,
                      struct mz_response *resp)
{
    struct profile_reply profile = {req->params[0], NULL};
    struct export_ctx x = {json_array(), json_array(), json_array(), 0,
                           false,        false};
    if (!mz_require_id("client_id", profile.client_id, resp))
        goto cleanup;
    int64_t now = mz_now_seconds();
    /* The profile first: an unknown or erased client is a 404 before
     * anything else is read. */
    /* The key holds every brand (the route's scope): the whole profile. */
    enum mz_status status = mz_service_read_profile(
        svc, profile.client_id, NULL, 0, now, reply_profile, &profile);
    if (status == MZ_OK && (!x.events || !x.consent || !x.audit))
        status = MZ_ERR_NOMEM;
    if (status == MZ_OK)
        status =
            mz_service_client_events(svc, profile.client_id, export_event, &x);
    /* One row more than shown, to know whether the list is whole. */
    if (status == MZ_OK && !x.out_of_memory)
        status = mz_service_client_audit(
            svc, profile.client_id, EXPORT_MAX_AUDIT + 1, export_audit_row, &x);
    if (status == MZ_OK && x.out_of_memory)
        status = MZ_ERR_NOMEM;
    if (status != MZ_OK) {
        client_read_error(resp, status, profile.client_id);
        goto cleanup;
    }
    char at[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(now, at);
    json_t *extra = json_pack("{s:s,s:O,s:I,s:O,s:O,s:b}", "exported_at", at,
                              "consent_history", x.consent, "events_total",
                              (json_int_t)x.events_total, "events", x.events,
                              "audit", x.audit, "truncated", x.truncated);
    if (!extra || json_object_update(profile.body, extra) != 0) {
        json_decref(extra);
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    json_decref(extra);
    mz_response_json(resp, 200, profile.body);
    profile.body = NULL;
cleanup:
    json_decref(profile.body);
    export_ctx_clear(&x);
}

void mz_handle_delete_client(struct mz_service *svc,
                             const struct mz_request *req,
                             struct mz_response *resp)
{
    const char *client_id = req->params[0];
    if (!mz_require_id("client_id", client_id, resp))
        return;
    enum mz_status status =
        mz_service_erase_client(svc, client_id, req->principal);
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
                                       req->principal, &in_force);
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
