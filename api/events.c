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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_body.h"
#include "api/service/service.h"
#include "model/timefmt.h"

#define MAX_EVENTS_PER_BATCH 1000
#define MAX_QUANTITY 100000
#define MAX_DWELL_MS (24 * 3600 * 1000)
/* Year 9999: later timestamps cannot be written back as RFC 3339. */
#define MAX_TS_SECONDS 253402300799LL

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

static bool read_id(const json_t *obj, const char *field, bool required,
                    const char **out, struct event_error *e)
{
    const json_t *value = json_object_get(obj, field);
    *out = NULL;
    if (!value || json_is_null(value)) {
        return required ? fail(e, "invalid_input", "%s: required", field)
                        : true;
    }
    if (!json_is_string(value) || !mz_is_valid_id(json_string_value(value)))
        return fail(e, "invalid_input",
                    "%s: must be a string of 1 to 128 bytes", field);
    *out = json_string_value(value);
    return true;
}

/* ts is optional: a client that does not send one means "now", the time
 * the service received the event (stored in the log, so a replay sees the
 * same value). */
static bool read_ts(const json_t *obj, int64_t now, int64_t *ts,
                    struct event_error *e)
{
    const json_t *value = json_object_get(obj, "ts");
    if (!value) {
        *ts = now;
        return true;
    }
    if (json_is_integer(value)) {
        json_int_t seconds = json_integer_value(value);
        if (seconds < 0 || seconds > MAX_TS_SECONDS)
            return fail(e, "invalid_input",
                        "%s: seconds since the epoch out of range", "ts");
        *ts = seconds;
        return true;
    }
    if (json_is_string(value) &&
        mz_time_parse_rfc3339(json_string_value(value), ts) && *ts >= 0)
        return true;
    return fail(e, "invalid_input",
                "%s: must be an RFC 3339 date-time or integer seconds", "ts");
}

static bool read_int(const json_t *obj, const char *field, int64_t min,
                     int64_t max, int64_t def, int32_t *out,
                     struct event_error *e)
{
    const json_t *value = json_object_get(obj, field);
    if (!value) {
        *out = (int32_t)def;
        return true;
    }
    if (!json_is_integer(value) || json_integer_value(value) < min ||
        json_integer_value(value) > max)
        return fail(e, "invalid_input", "%s: must be an integer in range",
                    field);
    *out = (int32_t)json_integer_value(value);
    return true;
}

static const char *const known_fields[] = {
    "event_id", "client_id", "item_id", "type", "ts",
    "channel", "value", "quantity", "dwell_ms",
};

/* Validates one event into rec (strings borrowed from obj). Returns false
 * with the reason in e. Whether its item is in the catalog is the
 * service's to say. */
static bool parse_event(const json_t *obj, int64_t now,
                        struct mz_event_record *rec, struct event_error *e)
{
    memset(rec, 0, sizeof *rec);
    if (!json_is_object(obj))
        return fail(e, "invalid_input", "%s must be a JSON object", "event");
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        bool known = false;
        for (size_t i = 0; i < sizeof known_fields / sizeof *known_fields; i++)
            known = known || strcmp(key, known_fields[i]) == 0;
        if (!known) {
            char field[64];
            snprintf(field, sizeof field, "%.48s", key);
            return fail(e, "invalid_input", "%s: unknown field", field);
        }
    }
    const char *type_name = json_string_value(json_object_get(obj, "type"));
    if (!read_id(obj, "event_id", true, &rec->event_id, e) ||
        !read_id(obj, "client_id", true, &rec->client_id, e) ||
        !read_id(obj, "item_id", false, &rec->item_id, e) ||
        !read_id(obj, "channel", false, &rec->channel, e) ||
        !read_ts(obj, now, &rec->ts, e) ||
        !read_int(obj, "quantity", 1, MAX_QUANTITY, 1, &rec->quantity, e) ||
        !read_int(obj, "dwell_ms", 0, MAX_DWELL_MS, 0, &rec->dwell_ms, e))
        return false;
    if (!type_name)
        return fail(e, "invalid_input", "%s: required, a string", "type");
    if (!mz_event_type_parse(type_name, &rec->type) ||
        !mz_event_type_is_public(rec->type))
        return fail(e, "invalid_input", "%s: unknown event type", "type");
    const json_t *amount = json_object_get(obj, "value");
    if (amount) {
        if (!json_is_number(amount) || !isfinite(json_number_value(amount)) ||
            json_number_value(amount) < 0)
            return fail(e, "invalid_input", "%s: must be a number >= 0",
                        "value");
        rec->value = json_number_value(amount);
    }
    rec->item_index = -1;
    if (mz_event_type_needs_item(rec->type) && !rec->item_id)
        return fail(e, "invalid_input", "%s: required for this event type",
                    "item_id");
    return true;
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
        outcome[i] = parse_event(json_array_get(events, i), now, &records[i],
                                 &errors[i])
                         ? MZ_OK
                         : MZ_ERR_INVALID;
    struct mz_submit_counts counts;
    enum mz_status status =
        mz_service_submit_events(svc, records, outcome, n, &counts);
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
