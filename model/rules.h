/*-------------------------------------------------------------------------
 * rules.h
 *    A brand's rule set (DESIGN.md section 5) as a C struct: which
 *    categories are allowed or excluded, price bounds (per tier too), the
 *    per-category limit, the frequency cap, and the exclusion of purchased
 *    and dismissed items. model/rules_select.h applies it.
 *
 * A rule set is built by filling the struct: mz_rules_new gives one with
 * nothing set (every rule off, dismissed items excluded for
 * MZ_RULES_DEFAULT_DISMISSED_DAYS), the caller sets the rules it wants
 * (api/json_rules.c does from the rule-set JSON, the tests by hand) and
 * hands over the strings and lists it puts in (malloc'd; mz_rules_free
 * releases them). The has_* flags record which parts were given, so that
 * the set is written back as it was given (api/json_rules.c); selection
 * reads only those with a meaning of their own (has_allow: an empty allow
 * list allows nothing; has_price_min / has_price_max; has_*_by_tier).
 * Values are trusted: the reader keeps them within the MZ_RULES_* bounds.
 *
 * Absent means: no category restriction, no price bound, no per-category
 * limit, no frequency cap, purchased items allowed, dismissed items
 * excluded for 30 days, signals shared with the other brands. A tier's
 * bound replaces price_min / price_max for clients of that tier; clients
 * of an unknown tier get price_min / price_max. Contradictory rules
 * (allow only excluded categories, min > max, ...) are valid: a selection
 * then returns no items and says why.
 *
 * Interface routines:
 *    mz_rules_new / _free
 *    mz_tier_bounds_clear  - release a tier -> bound map
 *-------------------------------------------------------------------------
 */
#ifndef MZ_RULES_H
#define MZ_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/item.h"

#define MZ_RULES_MAX_LIST               1000 /* entries of any list or tier map */
#define MZ_RULES_MAX_STRING_BYTES       128 /* a category or tier name */
#define MZ_RULES_MAX_INT                1000000 /* max_per_category, frequency cap */
#define MZ_RULES_MAX_DISMISSED_DAYS     3650
#define MZ_RULES_DEFAULT_DISMISSED_DAYS 30

/* One tier's price bound. */
struct mz_tier_bound {
    char *tier;   /* owned */
    double value; /* >= 0 */
};

/* Tier -> bound, in the order given (tier names distinct). */
struct mz_tier_bounds {
    struct mz_tier_bound *v; /* owned */
    size_t count;
};

struct mz_rules {
    bool has_categories; /* "categories" given */
    bool has_allow;      /* an empty allow list allows nothing */
    struct mz_string_list allow;
    bool has_exclude;
    struct mz_string_list exclude;
    bool has_price; /* "price" given */
    bool has_price_min;
    double price_min;
    bool has_price_max; /* "max": null is stored as absent */
    double price_max;
    bool has_min_by_tier;
    struct mz_tier_bounds min_by_tier;
    bool has_max_by_tier;
    struct mz_tier_bounds max_by_tier;
    int32_t max_per_category;   /* 0: no limit */
    int32_t frequency_cap;      /* max per item per day; 0: none */
    bool has_exclude_purchased; /* "exclude_purchased" given */
    bool exclude_purchased;
    bool has_repurchasable;
    struct mz_string_list repurchasable;
    bool has_dismissed_days;        /* "exclude_dismissed_days" given */
    int32_t exclude_dismissed_days; /* 0: dismissed items allowed */
    /* "signals": {"share_with_other_brands"}: false keeps what this
     * brand's events teach about a client (its private memory) out of
     * every other brand's recommendations, reasons and profile. */
    bool has_signals;
    bool share_signals; /* default true */
};

/* Returns a rule set with every rule off (caller frees), or NULL on
 * allocation failure. */
struct mz_rules *mz_rules_new(void);
/* Frees rules and the strings and lists in it; accepts NULL. */
void mz_rules_free(struct mz_rules *rules);
/* Frees the tier names and the array, leaving the map empty. */
void mz_tier_bounds_clear(struct mz_tier_bounds *bounds);

#endif
