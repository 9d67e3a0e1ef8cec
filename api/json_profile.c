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

json_t *mz_json_write_profile(const char *client_id,
                              const struct mz_profile_view *view)
{
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
    json_decref(levels);
    json_decref(facts);
    json_decref(tiers);
    return body;
}
