/*-------------------------------------------------------------------------
 * json_profile.c
 *    What the service holds about a client (struct mz_profile_view,
 *    api/service/service.h) as JSON: the body of GET
 *    /v1/clients/{client_id}/profile, and the head of its export.
 *
 * Interface routines: see json_profile.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_profile.h"

#include <stdio.h>
#include <string.h>

#include "api/json_attributes.h"
#include "api/json_facts.h"
#include "api/json_profile_summary.h"
#include "model/event.h"
#include "model/item_evidence.h"
#include "model/timefmt.h"

static json_t *time_or_null(int64_t ts)
{
    if (ts <= 0)
        return json_null();
    char text[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(ts, text);
    return json_string(text);
}

/* Share units per 1: shares are written in thousandths. */
#define SHARE_UNITS 1000

/* Writes into units[0..n-1] each positive weight's share of their sum in
 * thousandths, rounded so that they add up to SHARE_UNITS exactly (the
 * largest remainders round up, the first of equals first); all 0 when no
 * weight is positive. Deterministic for the same weights. */
static void shares(const double *weights, int n, int *units)
{
    double total = 0.0, rest[MZ_PROFILE_TOP_ITEMS + MZ_PROFILE_TOP_GROUPS];
    int given = 0;
    for (int i = 0; i < n; i++)
        total += weights[i] > 0.0 ? weights[i] : 0.0;
    for (int i = 0; i < n; i++) {
        double exact = weights[i] > 0.0 && total > 0.0
                           ? weights[i] / total * SHARE_UNITS
                           : 0.0;
        units[i] = (int)exact;
        rest[i] = exact - units[i];
        given += units[i];
    }
    while (total > 0.0 && given < SHARE_UNITS) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (weights[i] > 0.0 && (best < 0 || rest[i] > rest[best]))
                best = i;
        units[best]++;
        rest[best] = -1.0;
        given++;
    }
}

static json_t *share_json(int units)
{
    return json_real((double)units / SHARE_UNITS);
}

/* [{key: name, "share": s}, ...] for the groups of positive weight, and
 * the raw [{key: name, "weight": w}, ...] into *raw. */
static json_t *groups_json(const struct mz_profile_group *groups, int n,
                           const char *key, json_t **raw)
{
    double weights[MZ_PROFILE_TOP_GROUPS] = {0};
    int units[MZ_PROFILE_TOP_GROUPS] = {0};
    json_t *out = json_array();
    *raw = json_array();
    for (int i = 0; i < n; i++)
        weights[i] = groups[i].weight;
    shares(weights, n, units);
    for (int i = 0; out && *raw && i < n; i++) {
        json_array_append_new(*raw, json_pack("{s:s,s:f}", key, groups[i].name,
                                              "weight", groups[i].weight));
        if (weights[i] > 0.0)
            json_array_append_new(out,
                                  json_pack("{s:s,s:o}", key, groups[i].name,
                                            "share", share_json(units[i])));
    }
    return out;
}

/* An item the client interacted with: its share and the evidence. */
static json_t *interacted_json(const char *item_id, int units,
                               const struct mz_item_evidence *ev)
{
    char text[MZ_ITEM_EVIDENCE_TEXT_BYTES];
    int64_t last = 0;
    json_t *events = json_object();
    for (int t = 0; events && t < MZ_EV_TYPE_COUNT; t++) {
        if (ev->count[t] == 0)
            continue;
        json_object_set_new(events, mz_event_type_name((enum mz_event_type)t),
                            json_integer(ev->count[t]));
        if (ev->last_at[t] > last)
            last = ev->last_at[t];
    }
    const int64_t kept[] = {ev->purchased_at, ev->cart_at, ev->wishlist_at,
                            ev->dismissed_at};
    for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++)
        if (kept[k] > last)
            last = kept[k];
    mz_item_evidence_text(ev, text, sizeof text);
    return events ? json_pack("{s:s,s:o,s:s,s:o,s:o}", "item_id", item_id,
                              "share", share_json(units), "evidence", text,
                              "events", events, "last_at", time_or_null(last))
                  : NULL;
}

/* An item the level infers: its share and why. */
static json_t *inferred_json(const char *item_id, int units,
                             const struct mz_reason *reason)
{
    json_t *out = json_pack(
        "{s:s,s:o,s:s}", "item_id", item_id, "share", share_json(units),
        "reason", reason->text[0] ? reason->text : "Ranked by the level.");
    if (out && reason->because_item)
        json_object_set_new(out, "because_item",
                            json_string(reason->because_item));
    return out;
}

/* The level's items: {"interacted":[...],"inferred":[...]} for the items
 * of positive score, and the raw [{"item_id","score"}] into *raw. */
static json_t *items_json(const struct mz_profile_level *level, json_t **raw)
{
    double weights[MZ_PROFILE_TOP_ITEMS] = {0};
    int units[MZ_PROFILE_TOP_ITEMS] = {0};
    json_t *interacted = json_array(), *inferred = json_array();
    *raw = json_array();
    for (int i = 0; i < level->n_items; i++)
        weights[i] = level->item_scores[i];
    shares(weights, level->n_items, units);
    for (int i = 0; interacted && inferred && *raw && i < level->n_items; i++) {
        const char *id = level->item_ids[i];
        json_array_append_new(*raw,
                              json_pack("{s:s,s:f}", "item_id", id, "score",
                                        (double)level->item_scores[i]));
        if (!(weights[i] > 0.0))
            continue;
        if (level->interacted[i])
            json_array_append_new(
                interacted, interacted_json(id, units[i], &level->evidence[i]));
        else
            json_array_append_new(
                inferred, inferred_json(id, units[i], &level->reason[i]));
    }
    if (!interacted || !inferred) {
        json_decref(interacted);
        json_decref(inferred);
        return NULL;
    }
    return json_pack("{s:o,s:o}", "interacted", interacted, "inferred",
                     inferred);
}

/* What one memory source holds, as the profile shows it: shares for a
 * person, the model's numbers under "raw". */
static json_t *level_json(const struct mz_profile_level *level)
{
    json_t *raw_items = NULL, *raw_categories = NULL, *raw_brands = NULL;
    json_t *items = items_json(level, &raw_items);
    json_t *categories = groups_json(level->categories, level->n_categories,
                                     "category", &raw_categories);
    json_t *brands =
        groups_json(level->brands, level->n_brands, "brand", &raw_brands);
    json_t *raw = json_pack(
        "{s:f,s:o*,s:o*,s:o*}", "half_life_s", level->half_life_s, "top_items",
        raw_items, "top_categories", raw_categories, "top_brands", raw_brands);
    json_t *out =
        raw ? json_pack("{s:s,s:s,s:o*,s:o*,s:o*,s:o}", "name", level->name,
                        "description", level->description, "items", items,
                        "categories", categories, "brands", brands, "raw", raw)
            : NULL;
    if (!raw) {
        json_decref(items);
        json_decref(categories);
        json_decref(brands);
    }
    if (!out || !items || !categories || !brands) {
        json_decref(out);
        return NULL;
    }
    if (level->source == MZ_SOURCE_SESSION) {
        json_object_set_new(out, "source", json_string("session_context"));
    } else if (level->source == MZ_SOURCE_CATALOG) {
        json_object_set_new(out, "source", json_string("catalog"));
    } else {
        char label[24];
        snprintf(label, sizeof label, "level_%d", level->level);
        json_object_set_new(out, "source", json_string(label));
        json_object_set_new(raw, "chunk_events",
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

json_t *mz_json_write_profile(const char *client_id,
                              const struct mz_profile_view *view)
{
    json_t *levels = json_array();
    for (int i = 0; levels && i < view->n_sources; i++) {
        json_t *one = level_json(&view->levels[i]);
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
    json_t *body =
        levels && facts && tiers
            ? json_pack(
                  "{s:s,s:o,s:O,s:o,s:{s:b},s:I,s:O}", "client_id", client_id,
                  "tier", view->tier ? json_string(view->tier) : json_null(),
                  "tiers", tiers, "region",
                  view->region ? json_string(view->region) : json_null(),
                  "consent", "personalization", view->consent, "events_learned",
                  (json_int_t)view->events_learned, "levels", levels)
            : NULL;
    /* A reader of some brands is not told how many events other houses
     * logged. */
    if (body && view->events_logged >= 0 &&
        json_object_set_new(body, "events_logged",
                            json_integer(view->events_logged)) != 0) {
        json_decref(body);
        body = NULL;
    }
    if (body)
        json_object_update(body, facts);
    json_t *summary = body ? mz_json_profile_summary(view, facts) : NULL;
    if (body && (!summary || json_object_set_new(body, "summary", summary))) {
        json_decref(body);
        body = NULL;
    }
    json_decref(levels);
    json_decref(facts);
    json_decref(tiers);
    return body;
}
