/*-------------------------------------------------------------------------
 * events.c
 *    POST /v1/events: validate each event, hand the batch to the service
 *    (api/service/events.c: catalog check, event log, learning) and
 *    answer with what it accepted.
 *
 * A malformed body or batch is refused whole (400/413). Inside a good
 * batch each event stands alone: an invalid one is listed in "rejected"
 * with its index and the rest are accepted. If the log cannot be written
 * nothing is accepted (503) and the client may retry the whole batch:
 * event ids make retries idempotent.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_event.h"
#include "api/service/service.h"

#define MAX_EVENTS_PER_BATCH 1000

struct event_error {
    const char *code; /* static */
    char message[256];
};

static bool fail(struct event_error *e, const char *code, const char *fmt,
                 const char *field)
{
    e->code = code;
    snprintf(e->message, sizeof e->message, fmt, field);
    return false;
}

/* Validates one event into rec (strings borrowed from obj). Returns false
 * with the reason in e. Whether its item is in the catalog is the
 * service's to say. */
static bool parse_event(const json_t *obj, int64_t now,
                        struct mz_event_record *rec, struct event_error *e)
{
    struct mz_json_error err;
    if (mz_json_read_event(obj, now, rec, &err))
        return true;
    e->code = err.code;
    snprintf(e->message, sizeof e->message, "%s", err.message);
    return false;
}

static json_t *rejection(size_t index, const struct event_error *e)
{
    return json_pack("{s:I,s:{s:s,s:s}}", "index", (json_int_t)index, "error",
                     "code", e->code, "message", e->message);
}

void mz_handle_post_events(struct mz_service *svc, const struct mz_request *req,
                           struct mz_response *resp)
{
    struct mz_event_record *records = NULL;
    enum mz_status *outcome = NULL;
    struct event_error *errors = NULL;
    json_t *rejected = NULL;
    json_t *body = mz_body_object(req, resp);
    if (!body)
        return;
    json_t *events = json_object_get(body, "events");
    if (json_object_size(body) != 1 || !json_is_array(events)) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "body must be {\"events\": [...]} and nothing else");
        goto cleanup;
    }
    size_t n = json_array_size(events);
    if (n == 0) {
        mz_response_error(resp, MZ_ERR_INVALID, "events: must not be empty");
        goto cleanup;
    }
    if (n > MAX_EVENTS_PER_BATCH) {
        mz_response_error(resp, MZ_ERR_TOO_LARGE,
                          "events: at most %d per request, got %zu",
                          MAX_EVENTS_PER_BATCH, n);
        goto cleanup;
    }
    records = calloc(n, sizeof *records);
    outcome = calloc(n, sizeof *outcome);
    errors = calloc(n, sizeof *errors);
    rejected = json_array();
    if (!records || !outcome || !errors || !rejected) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    int64_t now = mz_now_seconds();
    for (size_t i = 0; i < n; i++)
        outcome[i] =
            parse_event(json_array_get(events, i), now, &records[i], &errors[i])
                ? MZ_OK
                : MZ_ERR_INVALID;
    struct mz_submit_counts counts;
    enum mz_status status = mz_service_submit_events(svc, records, outcome, n,
                                                     req->principal, &counts);
    if (status != MZ_OK) {
        mz_response_error(resp, status,
                          "no event accepted: the event log cannot be "
                          "written (%s); retry the batch",
                          mz_status_code(status));
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (outcome[i] == MZ_ERR_UNKNOWN_ITEM)
            fail(&errors[i], mz_status_code(MZ_ERR_UNKNOWN_ITEM),
                 "%s: not in the catalog", "item_id");
        if (outcome[i] == MZ_ERR_FORBIDDEN)
            fail(&errors[i], mz_status_code(MZ_ERR_FORBIDDEN),
                 "%s: of a brand outside this key's scope",
                 records[i].brand && req->principal &&
                         !mz_principal_allows_brand(req->principal,
                                                    records[i].brand)
                     ? "brand"
                     : "item_id");
        if (outcome[i] == MZ_ERR_INVALID && !errors[i].code)
            fail(&errors[i], mz_status_code(MZ_ERR_INVALID),
                 "%s: not the brand of the item", "brand");
        if (outcome[i] != MZ_OK)
            json_array_append_new(rejected, rejection(i, &errors[i]));
    }
    mz_response_json(resp, 200,
                     json_pack("{s:I,s:I,s:O}", "accepted",
                               (json_int_t)counts.accepted, "duplicates",
                               (json_int_t)counts.duplicates, "rejected",
                               rejected));
cleanup:
    json_decref(rejected);
    free(errors);
    free(outcome);
    free(records);
    json_decref(body);
}
