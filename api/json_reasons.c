/*-------------------------------------------------------------------------
 * json_reasons.c
 *    Reasons to JSON, keys in the order the API has always shown them.
 *
 * Interface routines: see json_reasons.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_reasons.h"

#include "model/timefmt.h"

static void reason_json(struct mz_json_out *out, const struct mz_reason *r)
{
    mz_json_out_open(out, '{');
    mz_json_out_key(out, "level");
    mz_json_out_string(out, r->level);
    if (r->source == MZ_SOURCE_CATALOG) {
        if (r->because_item) {
            mz_json_out_key(out, "because_item");
            mz_json_out_string(out, r->because_item);
        }
        mz_json_out_key(out, "text");
        mz_json_out_string(out, r->text);
        mz_json_out_close(out, '}');
        return;
    }
    mz_json_out_key(out, "text");
    mz_json_out_string(out, r->text);
    if (r->because_item) {
        mz_json_out_key(out, "because_item");
        mz_json_out_string(out, r->because_item);
        if (r->has_event) {
            char when[MZ_TIME_RFC3339_BYTES];
            mz_time_format_rfc3339(r->at, when);
            mz_json_out_key(out, "event");
            mz_json_out_string(out, mz_event_type_name(r->event));
            mz_json_out_key(out, "at");
            mz_json_out_string(out, when);
        }
    }
    mz_json_out_close(out, '}');
}

void mz_json_out_reasons(struct mz_json_out *out,
                         const struct mz_reason *reasons, int n)
{
    mz_json_out_open(out, '[');
    for (int i = 0; i < n; i++)
        reason_json(out, &reasons[i]);
    mz_json_out_close(out, ']');
}

void mz_json_out_listed_item(struct mz_json_out *out,
                             const struct mz_item *item, double score,
                             const struct mz_reason *reasons, int n)
{
    mz_json_out_open(out, '{');
    mz_json_out_key(out, "item_id");
    mz_json_out_string(out, item->item_id);
    mz_json_out_key(out, "score");
    mz_json_out_real(out, score);
    mz_json_out_key(out, "brand");
    mz_json_out_string(out, item->brand);
    mz_json_out_key(out, "category");
    mz_json_out_string(out, item->category);
    mz_json_out_key(out, "reasons");
    mz_json_out_reasons(out, reasons, n);
    mz_json_out_close(out, '}');
}
