/*-------------------------------------------------------------------------
 * events.c
 *    POST /v1/events: validate each event, append the valid ones to the
 *    event log (group commit) and answer once they are committed and
 *    learned.
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

#include "api/app.h"
#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_event.h"

#define MAX_EVENTS_PER_BATCH 1000

struct event_error {
    const char *code;          /* static */
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
 * with the reason in e. Caller holds the app read lock (item lookup). */
static bool parse_event(const struct mz_app *app, const json_t *obj,
                        int64_t now, struct mz_event_record *rec,
                        struct event_error *e)
{
    struct mz_json_error err;
    if (!mz_json_read_event(obj, now, rec, &err)) {
        e->code = err.code;
        snprintf(e->message, sizeof e->message, "%s", err.message);
        return false;
    }
    if (rec->item_id) {
        int32_t index = mz_catalog_find(app->catalog, rec->item_id);
        const struct mz_item *item = mz_catalog_item(app->catalog, index);
        if (!item || item->retired)
            return fail(e, "unknown_item", "%s: not in the catalog",
                        "item_id");
        rec->item_index = index;
    }
    return true;
}

static json_t *rejection(size_t index, const struct event_error *e)
{
    return json_pack("{s:I,s:{s:s,s:s}}", "index", (json_int_t)index, "error",
                     "code", e->code, "message", e->message);
}

void mz_handle_post_events(struct mz_app *app, const struct mz_request *req,
                           struct mz_response *resp)
{
    struct mz_event_record *records = NULL;
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
    rejected = json_array();
    if (!records || !rejected) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    size_t n_valid = 0;
    int64_t now = mz_now_seconds();
    pthread_rwlock_rdlock(&app->lock);
    for (size_t i = 0; i < n; i++) {
        struct event_error e;
        if (parse_event(app, json_array_get(events, i), now, &records[n_valid],
                        &e))
            n_valid++;
        else
            json_array_append_new(rejected, rejection(i, &e));
    }
    pthread_rwlock_unlock(&app->lock);

    size_t accepted = 0, duplicates = 0;
    if (n_valid > 0) {
        enum mz_status status =
            mz_event_writer_submit(app->writer, records, n_valid);
        if (status != MZ_OK) {
            atomic_fetch_add(&app->counters.db_errors, 1);
            mz_response_error(resp, status,
                              "no event accepted: the event log cannot be "
                              "written (%s); retry the batch",
                              mz_status_code(status));
            goto cleanup;
        }
        for (size_t i = 0; i < n_valid; i++) {
            if (records[i].seq > 0)
                accepted++;
            else
                duplicates++;
        }
    }
    size_t n_rejected = json_array_size(rejected);
    atomic_fetch_add(&app->counters.events_accepted, accepted);
    atomic_fetch_add(&app->counters.events_duplicate, duplicates);
    atomic_fetch_add(&app->counters.events_rejected, n_rejected);
    mz_response_json(resp, 200,
                     json_pack("{s:I,s:I,s:O}", "accepted", (json_int_t)accepted,
                               "duplicates", (json_int_t)duplicates,
                               "rejected", rejected));
cleanup:
    json_decref(rejected);
    free(records);
    json_decref(body);
}
