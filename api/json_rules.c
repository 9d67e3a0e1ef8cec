/*-------------------------------------------------------------------------
 * json_rules.c
 *    Rule sets in and out of JSON: the rule-set spec (nested objects for
 *    categories, price, frequency_cap, exclude_purchased, signals), the
 *    tier maps
 *    the reader's kinds do not cover, the canonical writer, and the
 *    per-rule counts of a selection.
 *
 * Interface routines: see json_rules.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_rules.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading --------------------------------------------------------- */

static bool is_price(const json_t *value)
{
    return json_is_number(value) && json_number_value(value) >= 0 &&
           isfinite(json_number_value(value));
}

/* A tier -> price map (the reader checked it is an object). Every entry
 * is checked, in the object's order, before any is copied. */
static bool read_tier_bounds(const json_t *value, const char *path, void *dst,
                             struct mz_json_error *err)
{
    struct mz_tier_bounds *out = dst;
    const char *key;
    json_t *v;
    size_t n = json_object_size(value);
    if (n > MZ_RULES_MAX_LIST)
        return mz_json_fail(err, MZ_ERR_INVALID, path,
                            "must have at most %d tiers", MZ_RULES_MAX_LIST);
    json_object_foreach((json_t *)value, key, v)
    {
        size_t len = strlen(key);
        if (len == 0 || len > MZ_RULES_MAX_STRING_BYTES)
            return mz_json_fail(err, MZ_ERR_INVALID, path,
                                "tier names must be 1..%d bytes",
                                MZ_RULES_MAX_STRING_BYTES);
        if (!is_price(v)) {
            char where[MZ_JSON_PATH_BYTES];
            mz_json_join(where, sizeof where, path, key);
            return mz_json_fail(err, MZ_ERR_INVALID, where,
                                "must be a number >= 0");
        }
    }
    mz_tier_bounds_clear(out);
    if (n == 0)
        return true;
    out->v = calloc(n, sizeof *out->v);
    if (!out->v)
        return mz_json_fail(err, MZ_ERR_NOMEM, path, "out of memory");
    json_object_foreach((json_t *)value, key, v)
    {
        out->v[out->count].tier = strdup(key);
        if (!out->v[out->count].tier)
            return mz_json_fail(err, MZ_ERR_NOMEM, path, "out of memory");
        out->v[out->count].value = json_number_value(v);
        out->count++;
    }
    return true;
}

static void clear_tier_bounds(void *dst)
{
    mz_tier_bounds_clear(dst);
}

/* A list of category names. */
static struct mz_json_field names(const char *name, struct mz_string_list *dst,
                                  bool *present)
{
    return mz_json_present(mz_json_string_list(name, 1,
                                               MZ_RULES_MAX_STRING_BYTES,
                                               MZ_RULES_MAX_LIST, dst),
                           present);
}

static struct mz_json_field tier_bounds(const char *name,
                                        struct mz_tier_bounds *dst,
                                        bool *present)
{
    return mz_json_present(
        mz_json_says(
            mz_json_object_with(name, read_tier_bounds, clear_tier_bounds, dst),
            "must be an object of tier: number"),
        present);
}

struct mz_rules *mz_json_read_rules(const json_t *obj,
                                    struct mz_json_error *err)
{
    struct mz_rules *rules = NULL;
    if (!json_is_object(obj)) {
        mz_json_fail(err, MZ_ERR_INVALID, "rules", "must be an object");
        goto cleanup;
    }
    rules = mz_rules_new();
    if (!rules) {
        mz_json_fail(err, MZ_ERR_NOMEM, "rules", "out of memory");
        goto cleanup;
    }
    /* Keys come from the client: an unknown one is shown as far as a
     * name may be long. */
    const struct mz_json_field categories[] = {
        names("allow", &rules->allow, &rules->has_allow),
        names("exclude", &rules->exclude, &rules->has_exclude),
        mz_json_end(MZ_RULES_MAX_STRING_BYTES),
    };
    const struct mz_json_field price[] = {
        mz_json_present(
            mz_json_number("min", 0, INFINITY, 0, &rules->price_min),
            &rules->has_price_min),
        mz_json_present(
            mz_json_says(mz_json_nullable(mz_json_number("max", 0, INFINITY, 0,
                                                         &rules->price_max)),
                         "must be a number >= {min} or null"),
            &rules->has_price_max),
        tier_bounds("min_by_tier", &rules->min_by_tier,
                    &rules->has_min_by_tier),
        tier_bounds("max_by_tier", &rules->max_by_tier,
                    &rules->has_max_by_tier),
        mz_json_end(MZ_RULES_MAX_STRING_BYTES),
    };
    const struct mz_json_field frequency_cap[] = {
        mz_json_required(mz_json_int32("max_per_item_per_day", 1,
                                       MZ_RULES_MAX_INT, 0,
                                       &rules->frequency_cap)),
        mz_json_end(MZ_RULES_MAX_STRING_BYTES),
    };
    const struct mz_json_field exclude_purchased[] = {
        mz_json_boolean("enabled", true, &rules->exclude_purchased),
        names("repurchasable_categories", &rules->repurchasable,
              &rules->has_repurchasable),
        mz_json_end(MZ_RULES_MAX_STRING_BYTES),
    };
    const struct mz_json_field signals[] = {
        mz_json_boolean("share_with_other_brands", true, &rules->share_signals),
        mz_json_end(MZ_RULES_MAX_STRING_BYTES),
    };
    const struct mz_json_field spec[] = {
        mz_json_present(mz_json_object("categories", categories),
                        &rules->has_categories),
        mz_json_present(mz_json_object("price", price), &rules->has_price),
        mz_json_nullable(mz_json_int32("max_per_category", 1, MZ_RULES_MAX_INT,
                                       0, &rules->max_per_category)),
        mz_json_says(
            mz_json_nullable(mz_json_object("frequency_cap", frequency_cap)),
            "must be an object or null"),
        mz_json_present(mz_json_object("exclude_purchased", exclude_purchased),
                        &rules->has_exclude_purchased),
        mz_json_present(mz_json_int32("exclude_dismissed_days", 0,
                                      MZ_RULES_MAX_DISMISSED_DAYS,
                                      MZ_RULES_DEFAULT_DISMISSED_DAYS,
                                      &rules->exclude_dismissed_days),
                        &rules->has_dismissed_days),
        mz_json_present(mz_json_object("signals", signals),
                        &rules->has_signals),
        mz_json_end(MZ_RULES_MAX_STRING_BYTES),
    };
    if (!mz_json_parse(obj, spec, "", err)) {
        mz_rules_free(rules);
        rules = NULL;
    }
cleanup:
    return rules;
}

/* ---- writing --------------------------------------------------------- */

static json_t *names_json(const struct mz_string_list *list)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < list->count; i++) {
        if (json_array_append_new(array, json_string(list->items[i]))) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

static json_t *tier_bounds_json(const struct mz_tier_bounds *b)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < b->count; i++) {
        if (json_object_set_new(obj, b->v[i].tier, json_real(b->v[i].value))) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *mz_json_write_rules(const struct mz_rules *rules)
{
    json_t *obj = json_object();
    json_t *sub = NULL;
    int rc = 0;
    if (!obj)
        return NULL;
    if (rules->has_categories) {
        sub = json_object();
        rc |= json_object_set_new(obj, "categories", sub);
        if (sub && rules->has_allow)
            rc |= json_object_set_new(sub, "allow", names_json(&rules->allow));
        if (sub && rules->has_exclude)
            rc |= json_object_set_new(sub, "exclude",
                                      names_json(&rules->exclude));
    }
    if (rules->has_price) {
        sub = json_object();
        rc |= json_object_set_new(obj, "price", sub);
        if (sub && rules->has_price_min)
            rc |= json_object_set_new(sub, "min", json_real(rules->price_min));
        if (sub)
            rc |= json_object_set_new(sub, "max",
                                      rules->has_price_max
                                          ? json_real(rules->price_max)
                                          : json_null());
        if (sub && rules->has_min_by_tier)
            rc |= json_object_set_new(sub, "min_by_tier",
                                      tier_bounds_json(&rules->min_by_tier));
        if (sub && rules->has_max_by_tier)
            rc |= json_object_set_new(sub, "max_by_tier",
                                      tier_bounds_json(&rules->max_by_tier));
    }
    if (rules->max_per_category)
        rc |= json_object_set_new(obj, "max_per_category",
                                  json_integer(rules->max_per_category));
    if (rules->frequency_cap)
        rc |= json_object_set_new(
            obj, "frequency_cap",
            json_pack("{s:i}", "max_per_item_per_day", rules->frequency_cap));
    if (rules->has_exclude_purchased) {
        sub = json_pack("{s:b}", "enabled", rules->exclude_purchased);
        rc |= json_object_set_new(obj, "exclude_purchased", sub);
        if (sub && rules->has_repurchasable)
            rc |= json_object_set_new(sub, "repurchasable_categories",
                                      names_json(&rules->repurchasable));
    }
    if (rules->has_dismissed_days)
        rc |= json_object_set_new(obj, "exclude_dismissed_days",
                                  json_integer(rules->exclude_dismissed_days));
    if (rules->has_signals)
        rc |= json_object_set_new(obj, "signals",
                                  json_pack("{s:b}", "share_with_other_brands",
                                            rules->share_signals));
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

json_t *mz_json_write_select_explain(const struct mz_select_result *result)
{
    json_t *removed = json_object();
    json_t *obj = json_pack("{s:I, s:I, s:o}", "candidates",
                            (json_int_t)result->candidates, "allowed",
                            (json_int_t)result->allowed, "removed", removed);
    if (!obj)
        return NULL;
    for (int r = 0; r < MZ_RULE_COUNT; r++) {
        if (result->removed[r] > 0 &&
            json_object_set_new(removed, mz_rule_name((enum mz_rule_id)r),
                                json_integer(result->removed[r]))) {
            json_decref(obj);
            return NULL;
        }
    }
    if (result->count == 0 &&
        json_object_set_new(obj, "reason", json_string(result->reason))) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}
