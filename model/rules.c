/*-------------------------------------------------------------------------
 * rules.c
 *    Brand rule sets: a new one with every rule off, and the release of
 *    what one holds.
 *
 * Interface routines: see rules.h.
 *-------------------------------------------------------------------------
 */
#include "model/rules.h"

#include <stdlib.h>

struct mz_rules *mz_rules_new(void)
{
    struct mz_rules *rules = calloc(1, sizeof(*rules));
    if (!rules)
        return NULL;
    rules->exclude_dismissed_days = MZ_RULES_DEFAULT_DISMISSED_DAYS;
    rules->share_signals = true;
    return rules;
}

void mz_tier_bounds_clear(struct mz_tier_bounds *bounds)
{
    for (size_t i = 0; i < bounds->count; i++)
        free(bounds->v[i].tier);
    free(bounds->v);
    bounds->v = NULL;
    bounds->count = 0;
}

void mz_rules_free(struct mz_rules *rules)
{
    if (!rules)
        return;
    mz_string_list_clear(&rules->allow);
    mz_string_list_clear(&rules->exclude);
    mz_tier_bounds_clear(&rules->min_by_tier);
    mz_tier_bounds_clear(&rules->max_by_tier);
    mz_string_list_clear(&rules->repurchasable);
    free(rules);
}
