/*-------------------------------------------------------------------------
 * json_event.c
 *    One event through the spec reader, with the two checks the reader's
 *    kinds do not cover: the event type by name and the event time (RFC
 *    3339 or integer seconds).
 *
 * Interface routines: see json_event.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_event.h"

#include <math.h>
#include <string.h>

#include "model/timefmt.h"

/* Of an unknown key, a message shows this much (what it always showed). */
#define SHOWN_KEY_BYTES 48

/* ts: an RFC 3339 date-time or integer seconds since the epoch, from 1970
 * to the end of year 9999. */
static bool read_ts(const json_t *value, const char *path, void *dst,
                    struct mz_json_error *err)
{
    int64_t *ts = dst;
    if (json_is_integer(value)) {
        json_int_t seconds = json_integer_value(value);
        if (seconds < 0 || seconds > MZ_EVENT_MAX_TS_SECONDS)
            return mz_json_fail(err, MZ_ERR_INVALID, path,
                                "seconds since the epoch out of range");
        *ts = seconds;
        return true;
    }
    if (json_is_string(value) &&
        mz_time_parse_rfc3339(json_string_value(value), ts) && *ts >= 0)
        return true;
    return mz_json_fail(err, MZ_ERR_INVALID, path,
                        "must be an RFC 3339 date-time or integer seconds");
}

/* type: the name of an event type clients may post. */
static bool read_type(const json_t *value, const char *path, void *dst,
                      struct mz_json_error *err)
{
    enum mz_event_type *type = dst;
    if (!json_is_string(value))
        return mz_json_fail(err, MZ_ERR_INVALID, path, "required, a string");
    if (!mz_event_type_parse(json_string_value(value), type) ||
        !mz_event_type_is_public(*type))
        return mz_json_fail(err, MZ_ERR_INVALID, path, "unknown event type");
    return true;
}

/* An id: null is absent, and a missing required one is "required". */
static struct mz_json_field event_id(const char *name, bool required,
                                     const char **dst)
{
    struct mz_json_field f = mz_json_nullable(mz_json_id(name, dst));
    return required ? mz_json_says_missing(mz_json_required(f), "required") : f;
}

static struct mz_json_field count(const char *name, int32_t min, int32_t max,
                                  int32_t def, int32_t *dst)
{
    return mz_json_says(mz_json_int32(name, min, max, def, dst),
                        "must be an integer in range");
}

bool mz_json_read_event(const json_t *obj, int64_t now,
                        struct mz_event_record *rec, struct mz_json_error *err)
{
    memset(rec, 0, sizeof *rec);
    rec->ts = now;
    rec->item_index = -1;
    if (!json_is_object(obj))
        return mz_json_fail(err, MZ_ERR_INVALID, "",
                            "event must be a JSON object");
    const struct mz_json_field spec[] = {
        event_id("event_id", true, &rec->event_id),
        event_id("client_id", true, &rec->client_id),
        event_id("item_id", false, &rec->item_id),
        event_id("channel", false, &rec->channel),
        event_id("brand", false, &rec->brand),
        mz_json_custom("ts", read_ts, NULL, &rec->ts),
        count("quantity", 1, MZ_EVENT_MAX_QUANTITY, 1, &rec->quantity),
        count("dwell_ms", 0, MZ_EVENT_MAX_DWELL_MS, 0, &rec->dwell_ms),
        mz_json_says_missing(mz_json_required(mz_json_custom("type", read_type,
                                                             NULL, &rec->type)),
                             "required, a string"),
        mz_json_number("value", 0, INFINITY, 0, &rec->value),
        mz_json_end(SHOWN_KEY_BYTES),
    };
    if (!mz_json_parse(obj, spec, "", err))
        return false;
    if (rec->ts > now + MZ_EVENT_MAX_FUTURE_S) {
        rec->event_id = rec->client_id = rec->item_id = rec->channel =
            rec->brand = NULL;
        return mz_json_fail(err, MZ_ERR_INVALID, "ts",
                            "more than %d hours ahead of the server's clock",
                            MZ_EVENT_MAX_FUTURE_S / 3600);
    }
    if (mz_event_type_needs_item(rec->type) && !rec->item_id) {
        rec->event_id = rec->client_id = rec->channel = rec->brand = NULL;
        return mz_json_fail(err, MZ_ERR_INVALID, "item_id",
                            "required for this event type");
    }
    return true;
}

json_t *mz_json_write_event(const struct mz_event_record *rec)
{
    char ts[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(rec->ts, ts);
    return json_pack("{s:I,s:s,s:s,s:o,s:s,s:o,s:f,s:i,s:i,s:o}", "seq",
                     (json_int_t)rec->seq, "event_id", rec->event_id, "type",
                     mz_event_type_name(rec->type), "item_id",
                     rec->item_id ? json_string(rec->item_id) : json_null(),
                     "ts", ts, "channel",
                     rec->channel ? json_string(rec->channel) : json_null(),
                     "value", rec->value, "quantity", (int)rec->quantity,
                     "dwell_ms", (int)rec->dwell_ms, "brand",
                     rec->brand ? json_string(rec->brand) : json_null());
}

void mz_json_event_refused(enum mz_status outcome, bool brand_forbidden,
                           struct mz_json_error *err)
{
    if (outcome == MZ_ERR_UNKNOWN_ITEM)
        mz_json_fail(err, outcome, "item_id", "not in the catalog");
    else if (outcome == MZ_ERR_FORBIDDEN)
        mz_json_fail(err, outcome, brand_forbidden ? "brand" : "item_id",
                     "of a brand outside this key's scope");
    else if (outcome == MZ_ERR_INVALID && err->status == MZ_OK)
        mz_json_fail(err, outcome, "brand", "not the brand of the item");
}

json_t *mz_json_event_rejected(const char *key, int64_t at,
                               const struct mz_json_error *err)
{
    return json_pack("{s:I,s:{s:s,s:s}}", key, (json_int_t)at, "error", "code",
                     err->code, "message", err->message);
}
