/*-------------------------------------------------------------------------
 * json_reasons.c
 *    Reasons to JSON, keys in the order the API has always shown them.
 *
 * Interface routines: see json_reasons.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_reasons.h"

#include <math.h>

#include "model/timefmt.h"

static json_t *reason_json(const struct mz_reason *r)
{
    if (r->source == MZ_SOURCE_CATALOG) {
        if (r->because_item)
            return json_pack("{s:s, s:s, s:s}", "level", r->level,
                             "because_item", r->because_item, "text", r->text);
        return json_pack("{s:s, s:s}", "level", r->level, "text", r->text);
    }
    json_t *obj = json_pack("{s:s, s:s}", "level", r->level, "text", r->text);
    if (!obj || !r->because_item)
        return obj;
    int rc =
        json_object_set_new(obj, "because_item", json_string(r->because_item));
    if (r->has_event) {
        char when[MZ_TIME_RFC3339_BYTES];
        mz_time_format_rfc3339(r->at, when);
        rc |= json_object_set_new(obj, "event",
                                  json_string(mz_event_type_name(r->event)));
        rc |= json_object_set_new(obj, "at", json_string(when));
    }
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

json_t *mz_json_write_reasons(const struct mz_reason *reasons, int n)
{
    json_t *array = json_array();
    for (int i = 0; array && i < n; i++) {
        if (json_array_append_new(array, reason_json(&reasons[i])) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

json_t *mz_json_write_listed_item(const struct mz_item *item, double score,
                                  json_t *reasons)
{
    return json_pack("{s:s,s:f,s:s,s:s,s:o}", "item_id", item->item_id, "score",
                     isfinite(score) ? score : 0.0, "brand", item->brand,
                     "category", item->category, "reasons",
                     reasons ? reasons : json_array());
}
