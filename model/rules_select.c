/*-------------------------------------------------------------------------
 * rules_select.c
 *    The selection of the top-k items that satisfy every rule.
 *
 * A selection runs in three steps:
 *   1. compile the request: category names to a byte per interned
 *      category, region and tier names to interned ids, the tier's price
 *      bounds, and the client's purchases, dismissals and impressions to
 *      one flag byte per catalog index (only when a client rule is on);
 *   2. one pass over the brand's items (or the whole catalog, or the
 *      request's only_items, the brand then tested per item) that tests
 *      integers and doubles only, attributing each removed item to the
 *      first rule that removes it, and collecting the allowed indices;
 *   3. the best allowed items by score through a bounded heap (topk.h,
 *      the order mz_topk ranks by), then a greedy fill that honours
 *      max_per_category; if the limit skipped so many that the heap ran
 *      dry, the allowed list is ranked in full.
 * Nothing is cached in the rule set, so selections only read their
 * inputs and can run concurrently under the server's read lock.
 *
 * Interface routines: see rules_select.h.
 *-------------------------------------------------------------------------
 */
#include "model/rules_select.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/topk.h"

#define SECONDS_PER_DAY 86400

static const char *const rule_names[MZ_RULE_COUNT] = {
    [MZ_RULE_RETIRED] = "retired",
    [MZ_RULE_BRAND] = "brand",
    [MZ_RULE_EXCLUDE_ITEMS] = "exclude_items",
    [MZ_RULE_AVAILABLE] = "available",
    [MZ_RULE_STOCK] = "stock",
    [MZ_RULE_LAUNCH_AT] = "launch_at",
    [MZ_RULE_END_AT] = "end_at",
    [MZ_RULE_REGION] = "region",
    [MZ_RULE_RESERVED_TIERS] = "reserved_tiers",
    [MZ_RULE_CATEGORIES_ALLOW] = "categories.allow",
    [MZ_RULE_CATEGORIES_EXCLUDE] = "categories.exclude",
    [MZ_RULE_PRICE_MIN] = "price.min",
    [MZ_RULE_PRICE_MAX] = "price.max",
    [MZ_RULE_EXCLUDE_PURCHASED] = "exclude_purchased",
    [MZ_RULE_EXCLUDE_DISMISSED] = "exclude_dismissed",
    [MZ_RULE_FREQUENCY_CAP] = "frequency_cap",
    [MZ_RULE_MAX_PER_CATEGORY] = "max_per_category",
};

const char *mz_rule_name(enum mz_rule_id rule)
{
    if ((int)rule < 0 || rule >= MZ_RULE_COUNT)
        return "unknown";
    return rule_names[rule];
}

/* Per-category state bits, one byte per interned category. */
#define CAT_NOT_ALLOWED   1u
#define CAT_EXCLUDED      2u
#define CAT_REPURCHASABLE 4u

/* Per-item client bits, one byte per catalog index. */
#define ITEM_EXCLUDED  1u
#define ITEM_PURCHASED 2u
#define ITEM_DISMISSED 4u
#define ITEM_CAPPED    8u

/* Everything the hot loop needs, resolved once per request. */
struct compiled {
    uint8_t *category_bits; /* owned, n_categories bytes */
    int32_t n_categories;
    uint8_t *item_bits;        /* owned, n_items bytes; NULL: none set */
    int32_t region_id;         /* -1: unknown or not in the catalog */
    int32_t tier_id;           /* -1: unknown or not in the catalog */
    double price_min;          /* -1: none */
    double price_max;          /* INFINITY: none */
    const char *contradiction; /* static text or NULL */
    char contradiction_buf[192];
};

static bool list_has(const struct mz_string_list *list, const char *name)
{
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->items[i], name) == 0)
            return true;
    }
    return false;
}

static const struct mz_tier_bound *find_tier(const struct mz_tier_bounds *b,
                                             const char *tier)
{
    for (size_t i = 0; tier && i < b->count; i++) {
        if (strcmp(b->v[i].tier, tier) == 0)
            return &b->v[i];
    }
    return NULL;
}

/* Marks category bits from the rule lists (names the catalog never saw
 * simply match nothing). */
static void compile_categories(const struct mz_catalog *catalog,
                               const struct mz_rules *rules, struct compiled *c)
{
    if (rules->has_allow) {
        memset(c->category_bits, CAT_NOT_ALLOWED, (size_t)c->n_categories);
        for (size_t i = 0; i < rules->allow.count; i++) {
            int32_t id = mz_catalog_category_id(catalog, rules->allow.items[i]);
            if (id >= 0 && id < c->n_categories)
                c->category_bits[id] &= (uint8_t)~CAT_NOT_ALLOWED;
        }
    }
    for (size_t i = 0; i < rules->exclude.count; i++) {
        int32_t id = mz_catalog_category_id(catalog, rules->exclude.items[i]);
        if (id >= 0 && id < c->n_categories)
            c->category_bits[id] |= CAT_EXCLUDED;
    }
    for (size_t i = 0; i < rules->repurchasable.count; i++) {
        int32_t id =
            mz_catalog_category_id(catalog, rules->repurchasable.items[i]);
        if (id >= 0 && id < c->n_categories)
            c->category_bits[id] |= CAT_REPURCHASABLE;
    }
}

/* Finds rules that no item can satisfy, whatever the catalog holds. */
static void find_contradiction(const struct mz_rules *rules, const char *tier,
                               struct compiled *c)
{
    if (rules->has_allow) {
        bool any = false;
        for (size_t i = 0; i < rules->allow.count && !any; i++)
            any = !list_has(&rules->exclude, rules->allow.items[i]);
        if (!any) {
            c->contradiction =
                rules->allow.count == 0
                    ? "contradictory rules: categories.allow is empty"
                    : "contradictory rules: every category in "
                      "categories.allow is also in categories.exclude";
            return;
        }
    }
    if (c->price_min > c->price_max) {
        snprintf(c->contradiction_buf, sizeof(c->contradiction_buf),
                 "contradictory rules: the minimum price %.2f is above the "
                 "maximum price %.2f%s%.128s",
                 c->price_min, c->price_max, tier ? " for tier " : "",
                 tier ? tier : "");
        c->contradiction = c->contradiction_buf;
    }
}

static bool mark_items(struct compiled *c, int32_t n_items,
                       const int32_t *items, size_t n, uint8_t bit)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i] < 0 || items[i] >= n_items)
            continue;
        if (!c->item_bits) {
            c->item_bits = calloc((size_t)n_items, 1);
            if (!c->item_bits)
                return false;
        }
        c->item_bits[items[i]] |= bit;
    }
    return true;
}

static int compare_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Marks the items facts exclude: purchases (but repurchasable
 * categories) when the rules exclude them, dismissals within the rules'
 * days. Returns false on allocation failure. */
static bool mark_facts(const struct mz_catalog *catalog,
                       const struct mz_rules *rules,
                       const struct mz_client_facts *facts, int64_t now,
                       struct compiled *c)
{
    int32_t n_items = mz_catalog_count(catalog);
    int dismissed_days =
        rules ? rules->exclude_dismissed_days : MZ_RULES_DEFAULT_DISMISSED_DAYS;
    size_t n;

    if (rules && rules->exclude_purchased) {
        const struct mz_item_time *bought =
            mz_client_facts_purchases(facts, &n);
        for (size_t i = 0; i < n; i++) {
            const struct mz_item *item =
                mz_catalog_item(catalog, bought[i].item);
            if (!item ||
                (item->category_id >= 0 &&
                 item->category_id < c->n_categories &&
                 (c->category_bits[item->category_id] & CAT_REPURCHASABLE)))
                continue;
            if (!mark_items(c, n_items, &bought[i].item, 1, ITEM_PURCHASED))
                return false;
        }
    }
    if (dismissed_days > 0) {
        int64_t since = now - (int64_t)dismissed_days * SECONDS_PER_DAY;
        const struct mz_item_time *gone = mz_client_facts_dismissals(facts, &n);
        for (size_t i = 0; i < n; i++) {
            if (gone[i].ts > since &&
                !mark_items(c, n_items, &gone[i].item, 1, ITEM_DISMISSED))
                return false;
        }
    }
    return true;
}

/* Marks the client's purchased, dismissed and capped items. */
static bool compile_client(const struct mz_catalog *catalog,
                           const struct mz_rules *rules,
                           const struct mz_select_request *req,
                           struct compiled *c)
{
    int32_t n_items = mz_catalog_count(catalog);
    const struct mz_client_facts *facts = req->facts;
    size_t n;

    if (!mark_items(c, n_items, req->exclude_items, req->n_exclude_items,
                    ITEM_EXCLUDED))
        return false;
    for (size_t i = 0; i < req->n_other_facts; i++)
        if (!mark_facts(catalog, rules, req->other_facts[i], req->now, c))
            return false;
    if (!facts)
        return true;
    if (!mark_facts(catalog, rules, facts, req->now, c))
        return false;
    if (rules && rules->frequency_cap > 0) {
        /* Impressions in (now - 24 h, now], counted per item by sorting
         * their item ids (at most MZ_FACTS_MAX_IMPRESSIONS). */
        int32_t shown[MZ_FACTS_MAX_IMPRESSIONS];
        size_t n_shown = 0;
        const struct mz_item_time *imp = mz_client_facts_impressions(facts, &n);
        for (size_t i = 0; i < n && n_shown < MZ_FACTS_MAX_IMPRESSIONS; i++) {
            if (imp[i].ts > req->now - MZ_FACTS_IMPRESSION_WINDOW_S &&
                imp[i].ts <= req->now)
                shown[n_shown++] = imp[i].item;
        }
        qsort(shown, n_shown, sizeof(*shown), compare_int32);
        for (size_t i = 0; i < n_shown;) {
            size_t j = i;
            while (j < n_shown && shown[j] == shown[i])
                j++;
            if ((int64_t)(j - i) >= rules->frequency_cap &&
                !mark_items(c, n_items, &shown[i], 1, ITEM_CAPPED))
                return false;
            i = j;
        }
    }
    return true;
}

static bool compile_request(const struct mz_catalog *catalog,
                            const struct mz_select_request *req,
                            struct compiled *c)
{
    const struct mz_rules *rules = req->rules;
    const char *region = req->region ? req->region : req->client_region;

    c->n_categories = mz_catalog_category_count(catalog);
    c->category_bits = calloc((size_t)c->n_categories + 1, 1);
    if (!c->category_bits)
        return false;
    c->region_id = region ? mz_catalog_region_id(catalog, region) : -1;
    c->tier_id = req->tier ? mz_catalog_tier_id(catalog, req->tier) : -1;
    c->price_min = -1.0;
    c->price_max = INFINITY;
    if (rules) {
        const struct mz_tier_bound *b =
            find_tier(&rules->min_by_tier, req->tier);
        if (b)
            c->price_min = b->value;
        else if (rules->has_price_min)
            c->price_min = rules->price_min;
        b = find_tier(&rules->max_by_tier, req->tier);
        if (b)
            c->price_max = b->value;
        else if (rules->has_price_max)
            c->price_max = rules->price_max;
        compile_categories(catalog, rules, c);
        find_contradiction(rules, req->tier, c);
    }
    if (req->category) {
        /* One category asked for: every other one is not allowed (a name
         * the catalog never saw allows none). */
        int32_t keep = mz_catalog_category_id(catalog, req->category);
        for (int32_t id = 0; id < c->n_categories; id++)
            if (id != keep)
                c->category_bits[id] |= CAT_NOT_ALLOWED;
    }
    return compile_client(catalog, rules, req, c);
}

static bool id_in(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id)
            return true;
    }
    return false;
}

/* Returns the first rule that removes item index, or MZ_RULE_COUNT when
 * the item passes every item rule. Tests are ordered as enum mz_rule_id and
 * read only the packed summary, except for the rare region and tier lists. */
static enum mz_rule_id first_failing_rule(const struct mz_catalog *catalog,
                                          const struct mz_item_summary *sum,
                                          const struct compiled *c, int64_t now,
                                          int32_t index)
{
    const struct mz_item_summary *item = &sum[index];
    uint8_t bits = c->item_bits ? c->item_bits[index] : 0;
    uint32_t flags = item->flags;
    size_t n;

    if (flags & MZ_ITEM_RETIRED)
        return MZ_RULE_RETIRED;
    if (bits & ITEM_EXCLUDED)
        return MZ_RULE_EXCLUDE_ITEMS;
    if (flags & MZ_ITEM_UNAVAILABLE)
        return MZ_RULE_AVAILABLE;
    if (flags & MZ_ITEM_SOLD_OUT)
        return MZ_RULE_STOCK;
    if (item->launch_at > now)
        return MZ_RULE_LAUNCH_AT;
    if (now >= item->end_at)
        return MZ_RULE_END_AT;
    if (flags & MZ_ITEM_HAS_REGIONS) {
        const int32_t *ids = mz_catalog_item_region_ids(catalog, index, &n);
        if (c->region_id < 0 || !id_in(ids, n, c->region_id))
            return MZ_RULE_REGION;
    }
    if (flags & MZ_ITEM_HAS_TIERS) {
        const int32_t *ids = mz_catalog_item_tier_ids(catalog, index, &n);
        if (c->tier_id < 0 || !id_in(ids, n, c->tier_id))
            return MZ_RULE_RESERVED_TIERS;
    }
    uint8_t cat = item->category_id >= 0 && item->category_id < c->n_categories
                      ? c->category_bits[item->category_id]
                      : 0;
    if (cat & CAT_NOT_ALLOWED)
        return MZ_RULE_CATEGORIES_ALLOW;
    if (cat & CAT_EXCLUDED)
        return MZ_RULE_CATEGORIES_EXCLUDE;
    if (item->price < c->price_min)
        return MZ_RULE_PRICE_MIN;
    if (item->price > c->price_max)
        return MZ_RULE_PRICE_MAX;
    if (bits & ITEM_PURCHASED)
        return MZ_RULE_EXCLUDE_PURCHASED;
    if (bits & ITEM_DISMISSED)
        return MZ_RULE_EXCLUDE_DISMISSED;
    if (bits & ITEM_CAPPED)
        return MZ_RULE_FREQUENCY_CAP;
    return MZ_RULE_COUNT;
}

/* A candidate's score for ranking: an index past the scores, or scored
 * NaN, ranks as -INFINITY, after every scored item (by index among
 * themselves), so the order stays total and such an item can still fill
 * a list that the rules leave short. */
static float rank_score(const float *scores, size_t n_scores, int32_t index)
{
    float score = (size_t)index < n_scores ? scores[index] : -INFINITY;
    return isnan(score) ? -INFINITY : score;
}

/* Fills out with the first k of ranked_items[0..n-1] (best first, with
 * their ranked_scores) that keep every category within max_per_category
 * (0: no limit), counting the skipped ones. */
static void fill_list(const struct mz_catalog *catalog,
                      const int32_t *ranked_items, const float *ranked_scores,
                      size_t n, int k, int max_per_category,
                      struct mz_select_result *out)
{
    int32_t categories[MZ_SELECT_MAX_K];
    out->count = 0;
    out->removed[MZ_RULE_MAX_PER_CATEGORY] = 0;
    for (size_t i = 0; i < n && out->count < k; i++) {
        int32_t category =
            mz_catalog_item(catalog, ranked_items[i])->category_id;
        if (max_per_category > 0) {
            int same = 0;
            for (int j = 0; j < out->count; j++)
                same += categories[j] == category;
            if (same >= max_per_category) {
                out->removed[MZ_RULE_MAX_PER_CATEGORY]++;
                continue;
            }
        }
        categories[out->count] = category;
        out->items[out->count] = ranked_items[i];
        out->scores[out->count] = ranked_scores[i];
        out->count++;
    }
}

static void explain_empty(const struct mz_catalog *catalog,
                          const struct mz_select_request *req,
                          const struct compiled *c,
                          struct mz_select_result *out)
{
    if (c->contradiction) {
        snprintf(out->reason, sizeof(out->reason), "%s", c->contradiction);
        return;
    }
    if (req->brand && mz_catalog_brand_id(catalog, req->brand) < 0) {
        snprintf(out->reason, sizeof(out->reason),
                 "no items of brand \"%.128s\" in the catalog", req->brand);
        return;
    }
    if (out->candidates == 0) {
        snprintf(out->reason, sizeof(out->reason), "the catalog is empty");
        return;
    }
    /* Items of other brands were never candidates for a brand request:
     * the reason is the rule that removed most of the brand's own. */
    int top = MZ_RULE_AVAILABLE;
    for (int r = MZ_RULE_BRAND + 1; r < MZ_RULE_COUNT; r++) {
        if (out->removed[r] > out->removed[top])
            top = r;
    }
    snprintf(out->reason, sizeof(out->reason),
             "no item satisfies every rule: \"%s\" removed %lld of %lld "
             "candidate items",
             mz_rule_name((enum mz_rule_id)top), (long long)out->removed[top],
             (long long)(out->candidates - out->removed[MZ_RULE_BRAND] -
                         out->removed[MZ_RULE_RETIRED]));
}

/* What one selection scans. */
struct scan {
    const struct mz_catalog *catalog;
    const struct mz_item_summary *sum;
    const struct compiled *c;
    const float *scores;
    size_t n_scores;
    const int32_t *brand_items; /* NULL: every index */
    size_t n_candidates;
    const struct mz_brand_scope *brands; /* of a caller's list; NULL:
                                            every candidate is of a
                                            brand asked for */
    bool check_index; /* candidates from a caller's list, which
                         in_scope bounds by the catalog */
    int64_t now;
};

static int32_t candidate(const struct scan *s, size_t i)
{
    return s->brand_items ? s->brand_items[i] : (int32_t)i;
}

/* True when the item passes every item rule by the common case (no flag,
 * no client bit, in date, an allowed category, in the price range). */
static bool passes_plainly(const struct scan *s, int32_t index)
{
    const struct mz_item_summary *item = &s->sum[index];
    const struct compiled *c = s->c;
    return item->flags == 0 && (!c->item_bits || c->item_bits[index] == 0) &&
           item->launch_at <= s->now && s->now < item->end_at &&
           (uint32_t)item->category_id < (uint32_t)c->n_categories &&
           c->category_bits[item->category_id] == 0 &&
           item->price >= c->price_min && item->price <= c->price_max;
}

/* Whether the candidate at index is in the catalog (for a caller's
 * list) and of a brand the request asks for. */
static bool in_scope(const struct scan *s, int32_t index)
{
    if (s->check_index && (index < 0 || index >= mz_catalog_count(s->catalog)))
        return false;
    return !s->brands || mz_brand_scope_admits(s->brands, index);
}

static bool passes(const struct scan *s, int32_t index)
{
    return in_scope(s, index) &&
           (passes_plainly(s, index) ||
            first_failing_rule(s->catalog, s->sum, s->c, s->now, index) ==
                MZ_RULE_COUNT);
}

/* Whether index, visited in ascending order, could still enter the heap
 * of the best candidates: one comparison, cheaper than the rules. */
static bool may_enter(const struct scan *s, const struct mz_topk_heap *best,
                      int32_t index)
{
    float score = (size_t)index < s->n_scores ? s->scores[index] : -INFINITY;
    return mz_topk_heap_admits_ascending(best, score);
}

/* Offers index to the heap of the best candidates. */
static void offer(const struct scan *s, struct mz_topk_heap *best,
                  int32_t index)
{
    mz_topk_heap_offer(best, rank_score(s->scores, s->n_scores, index), index);
}

/* Evaluates every candidate, attributing each removed one to its first
 * failing rule in out->removed, and keeps the best allowed ones in best.
 * Returns the number allowed. */
static size_t scan_counting(const struct scan *s, struct mz_topk_heap *best,
                            struct mz_select_result *out)
{
    size_t n_allowed = 0;
    for (size_t i = 0; i < s->n_candidates; i++) {
        int32_t index = candidate(s, i);
        if (!in_scope(s, index)) {
            out->removed[MZ_RULE_BRAND]++;
            continue;
        }
        if (!passes_plainly(s, index)) {
            enum mz_rule_id rule =
                first_failing_rule(s->catalog, s->sum, s->c, s->now, index);
            if (rule != MZ_RULE_COUNT) {
                out->removed[rule]++;
                continue;
            }
        }
        n_allowed++;
        if (may_enter(s, best, index))
            offer(s, best, index);
    }
    return n_allowed;
}

/* Keeps the best allowed candidates in best, testing the rules only for
 * those whose score could enter the heap. Returns whether an allowed
 * candidate may have been left out. */
static bool scan_lazy(const struct scan *s, struct mz_topk_heap *best)
{
    bool left_out = false;
    for (size_t i = 0; i < s->n_candidates; i++) {
        int32_t index = candidate(s, i);
        if (!may_enter(s, best, index)) {
            left_out = true;
            continue;
        }
        if (passes(s, index))
            offer(s, best, index);
    }
    return left_out;
}

static int compare_index(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The items of req->brands, ascending (the scans visit candidates in
 * index order): a malloc'd array in *items (caller frees; NULL when
 * empty) of *count. Returns false on ENOMEM. */
static bool brand_set_items(const struct mz_catalog *catalog,
                            const struct mz_select_request *req,
                            int32_t **items, size_t *count)
{
    size_t total = 0, n;
    *items = NULL;
    *count = 0;
    for (size_t b = 0; b < req->n_brands; b++) {
        int32_t id = mz_catalog_brand_id(catalog, req->brands[b]);
        if (id >= 0 && mz_catalog_brand_items(catalog, id, &n))
            total += n;
    }
    if (total == 0)
        return true;
    *items = malloc(total * sizeof **items);
    if (!*items)
        return false;
    for (size_t b = 0; b < req->n_brands; b++) {
        int32_t id = mz_catalog_brand_id(catalog, req->brands[b]);
        const int32_t *list =
            id >= 0 ? mz_catalog_brand_items(catalog, id, &n) : NULL;
        if (list) {
            memcpy(*items + *count, list, n * sizeof *list);
            *count += n;
        }
    }
    qsort(*items, *count, sizeof **items, compare_index);
    size_t kept = 0; /* a brand named twice gives its items once */
    for (size_t i = 0; i < *count; i++)
        if (kept == 0 || (*items)[kept - 1] != (*items)[i])
            (*items)[kept++] = (*items)[i];
    *count = kept;
    return true;
}

bool mz_brand_scope_init(struct mz_brand_scope *scope,
                         const struct mz_catalog *catalog,
                         const struct mz_select_request *req)
{
    int32_t n_brands = mz_catalog_brand_count(catalog);
    *scope = (struct mz_brand_scope){.catalog = catalog, .n_brands = n_brands};
    if (!req->brand && !req->brands)
        return true;
    scope->ok = calloc((size_t)n_brands + 1, 1);
    if (!scope->ok)
        return false;
    size_t n = req->brand ? 1 : req->n_brands;
    for (size_t b = 0; b < n; b++) {
        int32_t id = mz_catalog_brand_id(catalog, req->brand ? req->brand
                                                             : req->brands[b]);
        if (id >= 0 && id < n_brands)
            scope->ok[id] = 1;
    }
    return true;
}

bool mz_brand_scope_admits(const struct mz_brand_scope *scope, int32_t index)
{
    if (!scope->ok)
        return true;
    int32_t brand = mz_catalog_item(scope->catalog, index)->brand_id;
    return brand >= 0 && brand < scope->n_brands && scope->ok[brand];
}

void mz_brand_scope_free(struct mz_brand_scope *scope)
{
    free(scope->ok);
    scope->ok = NULL;
}

enum mz_status mz_rules_select(const struct mz_catalog *catalog,
                               const float *scores, size_t n_scores,
                               const struct mz_select_request *req,
                               struct mz_select_result *out)
{
    struct compiled c = {0};
    int32_t *allowed_items = NULL;
    int32_t *scoped_items = NULL;
    struct mz_brand_scope brand_scope = {0};
    float *allowed_scores = NULL;
    int32_t *best_items = NULL;
    float *best_scores = NULL;
    struct mz_topk_heap best, all;
    enum mz_status status = MZ_OK;
    struct scan s = {0};
    int max_per_category;
    bool left_out;

    memset(out, 0, sizeof(*out));
    if (!catalog || !req || (!scores && n_scores > 0)) {
        snprintf(out->reason, sizeof(out->reason), "no catalog or request");
        status = MZ_ERR_INVALID;
        goto cleanup;
    }
    if (req->k < 1 || req->k > MZ_SELECT_MAX_K) {
        snprintf(out->reason, sizeof(out->reason), "k must be 1..%d",
                 MZ_SELECT_MAX_K);
        status = MZ_ERR_INVALID;
        goto cleanup;
    }
    int32_t n_items = mz_catalog_count(catalog);
    s = (struct scan){.catalog = catalog,
                      .sum = mz_catalog_summaries(catalog),
                      .c = &c,
                      .scores = scores,
                      .n_scores = n_scores,
                      .n_candidates = (size_t)n_items,
                      .now = req->now};
    out->candidates = n_items;
    if (req->only_items) {
        /* The brand is tested per item (in_scope), so the list is used
         * as given: no copy on the hot path. */
        if (!req->only_items_brands &&
            !mz_brand_scope_init(&brand_scope, catalog, req)) {
            status = MZ_ERR_NOMEM;
            goto cleanup;
        }
        s.brand_items = req->only_items;
        s.n_candidates = req->n_only_items;
        s.brands =
            req->only_items_brands ? req->only_items_brands : &brand_scope;
        s.check_index = true;
        out->candidates = (int64_t)req->n_only_items;
    } else if (req->brand) {
        int32_t brand_id = mz_catalog_brand_id(catalog, req->brand);
        s.brand_items =
            mz_catalog_brand_items(catalog, brand_id, &s.n_candidates);
        /* Items of other brands are never looked at: they all count
         * under "brand". */
        out->removed[MZ_RULE_BRAND] = n_items - (int64_t)s.n_candidates;
        if (!s.brand_items)
            s.n_candidates = 0;
    } else if (req->brands) {
        if (!brand_set_items(catalog, req, &scoped_items, &s.n_candidates)) {
            status = MZ_ERR_NOMEM;
            goto cleanup;
        }
        s.brand_items = scoped_items;
        out->removed[MZ_RULE_BRAND] = n_items - (int64_t)s.n_candidates;
    }
    if (!compile_request(catalog, req, &c)) {
        status = MZ_ERR_NOMEM;
        goto cleanup;
    }
    /* The per-category limit may skip candidates, so the heap keeps a
     * margin beyond k; only when the margin runs dry are all allowed
     * items collected and sorted (a second pass, rare in practice). */
    max_per_category = req->rules ? req->rules->max_per_category : 0;
    size_t cap =
        max_per_category > 0 ? (size_t)req->k * 4 + 16 : (size_t)req->k;
    best_items = malloc(cap * sizeof(*best_items));
    best_scores = malloc(cap * sizeof(*best_scores));
    if (!best_items || !best_scores) {
        status = MZ_ERR_NOMEM;
        goto cleanup;
    }
    mz_topk_heap_init(&best, best_items, best_scores, cap);
    if (req->skip_counts) {
        left_out = scan_lazy(&s, &best);
    } else {
        size_t n_allowed = scan_counting(&s, &best, out);
        out->allowed = (int64_t)n_allowed;
        left_out = best.len < n_allowed;
    }
    size_t n_best = mz_topk_heap_sort(&best);
    fill_list(catalog, best_items, best_scores, n_best, req->k,
              max_per_category, out);
    if (out->count < req->k && left_out) {
        /* Every allowed candidate, ranked in full. */
        allowed_items = malloc(s.n_candidates * sizeof(*allowed_items));
        allowed_scores = malloc(s.n_candidates * sizeof(*allowed_scores));
        if (!allowed_items || !allowed_scores) {
            status = MZ_ERR_NOMEM;
            goto cleanup;
        }
        mz_topk_heap_init(&all, allowed_items, allowed_scores, s.n_candidates);
        for (size_t i = 0; i < s.n_candidates; i++) {
            int32_t index = candidate(&s, i);
            if (passes(&s, index))
                offer(&s, &all, index);
        }
        size_t n = mz_topk_heap_sort(&all);
        fill_list(catalog, allowed_items, allowed_scores, n, req->k,
                  max_per_category, out);
    }
    if (out->count == 0) {
        /* An empty list must say why, so count even when asked not to. */
        if (req->skip_counts) {
            struct mz_topk_heap none;
            mz_topk_heap_init(&none, NULL, NULL, 0);
            out->allowed = (int64_t)scan_counting(&s, &none, out);
        }
        explain_empty(catalog, req, &c, out);
    }
cleanup:
    free(best_scores);
    free(best_items);
    free(allowed_scores);
    free(allowed_items);
    free(scoped_items);
    mz_brand_scope_free(&brand_scope);
    free(c.item_bits);
    free(c.category_bits);
    return status;
}
