/*-------------------------------------------------------------------------
 * rules_select.h
 *    The selection of the top-k items that satisfy every rule: the
 *    item-level rules always, and a brand's rule set (model/rules.h) when
 *    the request names the brand.
 *
 * Item-level rules hold on every selection, with or without a rule set:
 * the item is not retired, is available with stock != 0, launch_at <= now
 * < end_at, its regions contain the region (the request's, else the
 * client's; an item with regions is excluded when neither is known), its
 * reserved_tiers contain the client's tier (unknown tier: excluded from
 * reserved items), it has the requested brand when one is given, and it
 * was not dismissed within exclude_dismissed_days.
 *
 * Rules of brand B apply only when the request names brand B (the caller
 * passes them); without a brand only the item-level rules apply.
 * Contradictory rules give an empty list with a reason, never an error.
 *
 * mz_rules_select only reads its inputs, so concurrent selections under a
 * read lock are safe.
 *
 * Interface routines:
 *    mz_rules_select          - top-k allowed items, per-rule counts
 *    mz_rule_name             - stable name of a rule ("price.min")
 *-------------------------------------------------------------------------
 */
#ifndef MZ_RULES_SELECT_H
#define MZ_RULES_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/catalog.h"
#include "model/client_facts.h"
#include "model/rules.h"
#include "model/status.h"

#define MZ_SELECT_MAX_K 100 /* most items one selection returns */

/* Every rule that can remove an item, in the order a selection checks
 * them: an item removed by several rules is counted under the first. */
enum mz_rule_id {
    MZ_RULE_RETIRED = 0,        /* "retired" */
    MZ_RULE_BRAND,              /* "brand" */
    MZ_RULE_EXCLUDE_ITEMS,      /* "exclude_items": the request's list */
    MZ_RULE_AVAILABLE,          /* "available" */
    MZ_RULE_STOCK,              /* "stock" */
    MZ_RULE_LAUNCH_AT,          /* "launch_at" */
    MZ_RULE_END_AT,             /* "end_at" */
    MZ_RULE_REGION,             /* "region" */
    MZ_RULE_RESERVED_TIERS,     /* "reserved_tiers" */
    MZ_RULE_CATEGORIES_ALLOW,   /* "categories.allow" */
    MZ_RULE_CATEGORIES_EXCLUDE, /* "categories.exclude" */
    MZ_RULE_PRICE_MIN,          /* "price.min" (or min_by_tier) */
    MZ_RULE_PRICE_MAX,          /* "price.max" (or max_by_tier) */
    MZ_RULE_EXCLUDE_PURCHASED,  /* "exclude_purchased" */
    MZ_RULE_EXCLUDE_DISMISSED,  /* "exclude_dismissed" */
    MZ_RULE_FREQUENCY_CAP,      /* "frequency_cap" */
    MZ_RULE_MAX_PER_CATEGORY,   /* "max_per_category": counted only
                                   for items skipped while the list
                                   filled */
    MZ_RULE_COUNT
};

/* Returns the stable name of rule ("price.min"); "unknown" if out of
 * range. */
const char *mz_rule_name(enum mz_rule_id rule);

/* One selection request. Every pointer is borrowed. */
struct mz_select_request {
    const char *brand;         /* NULL: every brand (of brands) */
    const char *const *brands; /* brand NULL: only items of these
                                  n_brands brands (an API key's
                                  scope); NULL: every brand */
    size_t n_brands;
    const struct mz_rules *rules; /* brand's rule set; NULL: none */
    const char *category;         /* only items of this category, on top of
                                     the rules (removed ones count under
                                     "categories.allow"); NULL: any */
    const char *region;           /* request region; NULL: unknown */
    const char *client_region;    /* used when region is NULL */
    const char *tier;             /* client's tier; NULL: unknown */
    const struct mz_client_facts *facts; /* NULL: no client facts (new
                                       client); given with or without
                                       consent */
    /* The client's other facts records (its private memories per brand,
     * model/client_private.h): their purchases and dismissals exclude
     * items too; the frequency cap reads only facts' impressions. */
    const struct mz_client_facts *const *other_facts;
    size_t n_other_facts;
    const int32_t *exclude_items; /* e.g. the item being viewed */
    size_t n_exclude_items;
    /* NULL: every item of the brand (or brands, or the catalog). Else
     * only these n_only_items catalog indices, ascending and each once
     * (the model's candidates, model/candidates.h), of which those of
     * the brand (or brands) are looked at; scores need hold only
     * their entries. The counts then cover these items only. */
    const int32_t *only_items;
    size_t n_only_items;
    /* The brands of only_items asked for, when the caller already built
     * them from brand / brands (mz_brand_scope_init, for its own cut of
     * the candidates); NULL: built here. */
    const struct mz_brand_scope *only_items_brands;
    int64_t now;      /* request time, seconds */
    int k;            /* 1..MZ_SELECT_MAX_K */
    bool skip_counts; /* true: leave removed[] and allowed
                         at 0 (unless the list is empty)
                         and test the rules only on items
                         whose score could make the list;
                         several times faster. Set it
                         unless ?explain=rules. */
};

struct mz_select_result {
    int32_t items[MZ_SELECT_MAX_K]; /* catalog indices, best first */
    float scores[MZ_SELECT_MAX_K];
    int count;                      /* <= k */
    int64_t candidates;             /* items looked at (the brand's items,
                                       or the whole catalog) */
    int64_t allowed;                /* candidates passing every item rule */
    int64_t removed[MZ_RULE_COUNT]; /* per rule, see enum mz_rule_id */
    char reason[256];               /* why count == 0, else "" */
};

/* The brands a request asks for (req->brand, else each of req->brands;
 * neither: every brand), for a list of items of any brand (the model's
 * candidates): one byte per interned brand. */
struct mz_brand_scope {
    const struct mz_catalog *catalog; /* borrowed */
    uint8_t *ok;                      /* owned; NULL: every brand */
    int32_t n_brands;
};

/* Fills scope for req's brands in catalog (both borrowed, catalog for
 * as long as scope is used). Returns false on ENOMEM (scope then admits
 * every item). Release with mz_brand_scope_free. */
bool mz_brand_scope_init(struct mz_brand_scope *scope,
                         const struct mz_catalog *catalog,
                         const struct mz_select_request *req);
/* Whether the item at catalog index (in range) is of a brand scope asks
 * for. */
bool mz_brand_scope_admits(const struct mz_brand_scope *scope, int32_t index);
void mz_brand_scope_free(struct mz_brand_scope *scope);

/* Picks into *out the k best items (by scores[index], borrowed, one per
 * catalog index, n_scores of them; a missing or NaN score counts as
 * -infinity) that satisfy every rule of req, at most max_per_category of
 * one category and none shown frequency_cap times in the 24 h before
 * req->now. Ties are broken by the lower index, so the result is
 * deterministic. An empty list is not an error: out->reason says why.
 * Returns MZ_OK, MZ_ERR_INVALID (k out of range, NULL catalog or scores;
 * out->reason says which) or MZ_ERR_NOMEM. */
enum mz_status mz_rules_select(const struct mz_catalog *catalog,
                               const float *scores, size_t n_scores,
                               const struct mz_select_request *req,
                               struct mz_select_result *out);

#endif
