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

void mz_handle_post_events(struct mz_service *svc, const struct mz_request *req,
                           struct mz_response *resp)
{
    struct mz_event_record *records = NULL;
    enum mz_status *outcome = NULL;
    struct mz_json_error *errors = NULL;
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
        outcome[i] = mz_json_read_event(json_array_get(events, i), now,
                                        &records[i], &errors[i])
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
        mz_json_event_refused(
            outcome[i],
            records[i].brand && req->principal &&
                !mz_principal_allows_brand(req->principal, records[i].brand),
            &errors[i]);
        if (outcome[i] != MZ_OK)
            json_array_append_new(
                rejected,
                mz_json_event_rejected("index", (int64_t)i, &errors[i]));
    }
    /* Every event of the batch is applied here by now: the position to
     * pass as after= to any node to read this write. */
    mz_response_json(resp, 200,
                     json_pack("{s:I,s:I,s:O,s:I}", "accepted",
                               (json_int_t)counts.accepted, "duplicates",
                               (json_int_t)counts.duplicates, "rejected",
                               rejected, "position",
                               (json_int_t)mz_service_applied_position(svc)));
cleanup:
    json_decref(rejected);
    free(errors);
    free(outcome);
    free(records);
    json_decref(body);
}
