/*-------------------------------------------------------------------------
 * test_rules_select.c
 *    Unit tests of model/rules_select.c: every rule kind enforced by the
 *    selection, order and per-category limits, unscored items, the 24 h
 *    frequency cap, contradictory rules, a brute-force comparison, and
 *    the 50k-item time budget. Items and rule sets are built in C (their
 *    JSON is tested in tests/api).
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/rules_select.h"

#define NOW 1795428000LL /* 2026-11-23T10:00:00Z */
#define DAY 86400

/* A NULL-terminated list of names. */
#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static struct mz_item *new_item(const char *id, const char *brand,
                                const char *category, double price)
{
    struct mz_item *it = mz_item_new();
    ck_assert_ptr_nonnull(it);
    it->item_id = strdup(id);
    it->brand = strdup(brand);
    it->category = strdup(category);
    it->price = price;
    return it;
}

/* A catalog of items (NULL-terminated, taken), indices in order. */
static struct mz_catalog *catalog_of(struct mz_item *const *items)
{
    struct mz_catalog *cat = mz_catalog_new();
    for (int32_t i = 0; items[i]; i++)
        ck_assert_int_eq(mz_catalog_upsert(cat, items[i], NULL), i);
    return cat;
}

/* Copies names (NULL-terminated; may be empty) into list. */
static void set_names(struct mz_string_list *list, const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    mz_string_list_clear(list);
    list->items = n ? calloc(n, sizeof(*list->items)) : NULL;
    for (size_t i = 0; i < n; i++)
        list->items[i] = strdup(names[i]);
    list->count = n;
}

/* The parts of a rule set, set as its JSON would set them. */
static void allow(struct mz_rules *rules, const char *const *names)
{
    rules->has_categories = rules->has_allow = true;
    set_names(&rules->allow, names);
}

static void exclude(struct mz_rules *rules, const char *const *names)
{
    rules->has_categories = rules->has_exclude = true;
    set_names(&rules->exclude, names);
}

/* Price bounds; a negative bound is absent. */
static void price(struct mz_rules *rules, double min, double max)
{
    rules->has_price = true;
    rules->has_price_min = min >= 0;
    rules->price_min = min >= 0 ? min : 0;
    rules->has_price_max = max >= 0;
    rules->price_max = max >= 0 ? max : 0;
}

static void add_tier(struct mz_tier_bounds *bounds, bool *has, const char *tier,
                     double value)
{
    *has = true;
    bounds->v = realloc(bounds->v, (bounds->count + 1) * sizeof(*bounds->v));
    bounds->v[bounds->count].tier = strdup(tier);
    bounds->v[bounds->count].value = value;
    bounds->count++;
}

static void exclude_purchased(struct mz_rules *rules, bool enabled)
{
    rules->has_exclude_purchased = true;
    rules->exclude_purchased = enabled;
}

static void dismissed_days(struct mz_rules *rules, int32_t days)
{
    rules->has_dismissed_days = true;
    rules->exclude_dismissed_days = days;
}

static struct mz_rules *max_per_category(int32_t limit)
{
    struct mz_rules *rules = mz_rules_new();
    rules->max_per_category = limit;
    return rules;
}

static struct mz_select_request request(int k)
{
    return (struct mz_select_request){.now = NOW, .k = k};
}

/* Runs a selection and returns the item ids, space-separated. */
static const char *select_ids(const struct mz_catalog *cat, const float *scores,
                              const struct mz_select_request *req,
                              struct mz_select_result *out)
{
    static char ids[2048];
    ck_assert_int_eq(
        mz_rules_select(cat, scores, (size_t)mz_catalog_count(cat), req, out),
        MZ_OK);
    ids[0] = '\0';
    for (int i = 0; i < out->count; i++) {
        const struct mz_item *it = mz_catalog_item(cat, out->items[i]);
        strcat(ids, i ? " " : "");
        strcat(ids, it->item_id);
    }
    return ids;
}

START_TEST(test_selection_best_first_ties_by_index)
{
    struct mz_catalog *cat = catalog_of((struct mz_item *[]){
        new_item("a", "x", "bags", 1), new_item("b", "x", "bags", 1),
        new_item("c", "x", "bags", 1), new_item("d", "x", "bags", 1), NULL});
    float scores[] = {1.0f, 3.0f, 3.0f, NAN};
    struct mz_select_request req = request(3);
    struct mz_select_result res;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "b c a");
    ck_assert_float_eq(res.scores[0], 3.0f);
    ck_assert_int_eq(res.candidates, 4);
    ck_assert_int_eq(res.allowed, 4);
    ck_assert_str_eq(res.reason, "");
    req.k = 10;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "b c a d");
    mz_catalog_free(cat);
}
END_TEST

/* A selection among only_items looks at those items only, keeps the
 * brand asked for (one brand, or a key's brands) and ranks them as the
 * full selection would; an empty list of them gives no item, an index
 * outside the catalog is ignored. */
START_TEST(test_only_items_are_looked_at_in_their_brand)
{
    struct mz_catalog *cat = catalog_of((struct mz_item *[]){
        new_item("a", "x", "bags", 1), new_item("b", "y", "bags", 1),
        new_item("c", "x", "bags", 1), new_item("d", "z", "bags", 1),
        new_item("e", "x", "bags", 1), NULL});
    float scores[] = {1.0f, 5.0f, 3.0f, 4.0f, 9.0f};
    const int32_t only[] = {0, 1, 2, 3};
    struct mz_select_request req = request(3);
    struct mz_select_result res;
    req.only_items = only;
    req.n_only_items = 4;
    req.skip_counts = true;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "b d c");
    ck_assert_int_eq(res.candidates, 4);
    req.brand = "x";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "c a");
    req.brand = NULL;
    req.brands = NAMES("y", "z");
    req.n_brands = 2;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "b d");
    req.skip_counts = false;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "b d");
    ck_assert_int_eq(res.removed[MZ_RULE_BRAND], 2);
    req.n_only_items = 0;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "");
    /* An index the catalog does not have is never looked at. */
    const int32_t outside[] = {-1, 2, 7};
    req.brands = NULL;
    req.n_brands = 0;
    req.only_items = outside;
    req.n_only_items = 3;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "c");
    req.skip_counts = true;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "c");
    mz_catalog_free(cat);
}
END_TEST

/* A request's category narrows the rules' categories (their
 * intersection; counted under categories.allow), an unknown one allows
 * nothing, and excluded items leave room for the next ones. */
START_TEST(test_request_category_and_excluded_items)
{
    struct mz_catalog *cat = catalog_of((struct mz_item *[]){
        new_item("b1", "x", "bags", 1), new_item("s1", "x", "shoes", 1),
        new_item("b2", "x", "bags", 1), new_item("h1", "x", "hats", 1),
        new_item("b3", "x", "bags", 1), NULL});
    float scores[] = {5.0f, 4.0f, 3.0f, 2.0f, 1.0f};
    struct mz_select_request req = request(2);
    struct mz_select_result res;
    req.category = "bags";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "b1 b2");
    int32_t gone[] = {0, 99, -1};
    req.exclude_items = gone;
    req.n_exclude_items = 3;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "b2 b3");
    req.skip_counts = false;
    req.k = 10;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "b2 b3");
    ck_assert_int_eq(res.removed[MZ_RULE_CATEGORIES_ALLOW], 2);
    ck_assert_int_eq(res.removed[MZ_RULE_EXCLUDE_ITEMS], 1);
    struct mz_rules *rules = mz_rules_new();
    allow(rules, NAMES("shoes", "hats"));
    req.rules = rules;
    req.category = "hats";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "h1");
    req.category = "bags"; /* not in the rules' allow list */
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "");
    req.rules = NULL;
    req.category = "never-seen";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "");
    ck_assert_str_ne(res.reason, "");
    mz_rules_free(rules);
    mz_catalog_free(cat);
}
END_TEST

/* A key scoped to some brands: without a brand, only their items, each
 * once even when a brand is named twice; none when none of them exist. */
START_TEST(test_brand_set_limits_the_candidates)
{
    struct mz_catalog *cat = catalog_of((struct mz_item *[]){
        new_item("x1", "x", "bags", 1), new_item("y1", "y", "bags", 1),
        new_item("z1", "z", "bags", 1), new_item("x2", "x", "bags", 1),
        new_item("y2", "y", "bags", 1), NULL});
    float scores[] = {1.0f, 5.0f, 9.0f, 2.0f, 3.0f};
    struct mz_select_request req = request(10);
    struct mz_select_result res;
    req.brands = NAMES("x", "y", "x");
    req.n_brands = 3;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "y1 y2 x2 x1");
    ck_assert_int_eq(res.removed[MZ_RULE_BRAND], 1);
    req.skip_counts = true;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "y1 y2 x2 x1");
    req.brands = NAMES("nobody");
    req.n_brands = 1;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "");
    req.brands = NAMES("z");
    req.brand = "x"; /* a named brand wins: the caller checked the scope */
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "x2 x1");
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_item_level_rules_without_rule_set)
{
    struct mz_item *off = new_item("off", "x", "c", 1);
    off->available = false;
    struct mz_item *sold = new_item("sold", "x", "c", 1);
    sold->stock = 0;
    struct mz_item *soon = new_item("soon", "x", "c", 1);
    soon->launch_at = NOW + 1; /* 2026-11-23T10:00:01Z */
    struct mz_item *over = new_item("over", "x", "c", 1);
    over->end_at = NOW; /* 2026-11-23T11:00:00+01:00 */
    struct mz_item *jp = new_item("jp", "x", "c", 1);
    set_names(&jp->regions, NAMES("JP"));
    jp->has_regions = true;
    struct mz_item *vip = new_item("vip", "x", "c", 1);
    set_names(&vip->reserved_tiers, NAMES("vip"));
    vip->has_reserved_tiers = true;
    struct mz_item *live = new_item("live", "x", "c", 1);
    live->launch_at = NOW;
    live->stock = 1;
    struct mz_catalog *cat = catalog_of(
        (struct mz_item *[]){new_item("ok", "x", "c", 1), off, sold, soon, over,
                             jp, vip, new_item("other", "y", "c", 1),
                             new_item("gone", "x", "c", 1), live, NULL});
    ck_assert_int_eq(mz_catalog_remove(cat, "gone"), MZ_OK);
    float scores[10] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    struct mz_select_request req = request(10);
    req.brand = "x";
    struct mz_select_result res;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "ok live");
    ck_assert_int_eq(res.removed[MZ_RULE_AVAILABLE], 1);
    ck_assert_int_eq(res.removed[MZ_RULE_STOCK], 1);
    ck_assert_int_eq(res.removed[MZ_RULE_LAUNCH_AT], 1);
    ck_assert_int_eq(res.removed[MZ_RULE_END_AT], 1);
    ck_assert_int_eq(res.removed[MZ_RULE_REGION], 1);
    ck_assert_int_eq(res.removed[MZ_RULE_RESERVED_TIERS], 1);
    ck_assert_int_eq(res.removed[MZ_RULE_BRAND], 1);
    ck_assert_int_eq(res.removed[MZ_RULE_RETIRED], 1);

    /* Region from the client when the request has none; tier known. */
    req.client_region = "JP";
    req.tier = "vip";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "ok jp vip live");
    /* The request's region wins over the client's. */
    req.region = "FR";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "ok vip live");
    /* A region no item names. */
    req.region = "ZZ";
    req.tier = "gold";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "ok live");
    /* No brand: every brand, item-level rules only. */
    req.brand = NULL;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "ok other live");
    mz_catalog_free(cat);
}
END_TEST

/* bag1 bag2 shoe1 out1 frag1 bag3, of brand x. */
static struct mz_catalog *priced_items(void)
{
    return catalog_of((struct mz_item *[]){
        new_item("bag1", "x", "bags", 300), new_item("bag2", "x", "bags", 900),
        new_item("shoe1", "x", "shoes", 700),
        new_item("out1", "x", "outlet", 50),
        new_item("frag1", "x", "fragrance", 120),
        new_item("bag3", "x", "bags", 5000), NULL});
}

START_TEST(test_categories_and_price_rules)
{
    struct mz_catalog *cat = priced_items();
    float scores[6] = {6, 5, 4, 3, 2, 1};
    struct mz_select_result res;
    struct mz_select_request req = request(10);
    req.brand = "x";

    /* {"categories":{"allow":["bags","shoes","unknown"]}} */
    struct mz_rules *rules = mz_rules_new();
    allow(rules, NAMES("bags", "shoes", "unknown"));
    req.rules = rules;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res),
                     "bag1 bag2 shoe1 bag3");
    ck_assert_int_eq(res.removed[MZ_RULE_CATEGORIES_ALLOW], 2);
    mz_rules_free(rules);

    rules = mz_rules_new();
    exclude(rules, NAMES("outlet", "bags"));
    req.rules = rules;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "shoe1 frag1");
    ck_assert_int_eq(res.removed[MZ_RULE_CATEGORIES_EXCLUDE], 4);
    mz_rules_free(rules);

    /* {"price":{"min":100,"max":1000,"min_by_tier":{"prospect":500},
     *  "max_by_tier":{"vip":100000}}} */
    rules = mz_rules_new();
    price(rules, 100, 1000);
    add_tier(&rules->min_by_tier, &rules->has_min_by_tier, "prospect", 500);
    add_tier(&rules->max_by_tier, &rules->has_max_by_tier, "vip", 100000);
    req.rules = rules;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res),
                     "bag1 bag2 shoe1 frag1");
    ck_assert_int_eq(res.removed[MZ_RULE_PRICE_MIN], 1);
    ck_assert_int_eq(res.removed[MZ_RULE_PRICE_MAX], 1);
    req.tier = "prospect";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "bag2 shoe1");
    req.tier = "vip";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res),
                     "bag1 bag2 shoe1 frag1 bag3");
    mz_rules_free(rules);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_max_per_category_keeps_order)
{
    struct mz_catalog *cat = priced_items();
    float scores[6] = {6, 5, 4, 3, 2, 1};
    struct mz_select_result res;
    struct mz_select_request req = request(4);
    struct mz_rules *rules = max_per_category(1);
    req.rules = rules;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res),
                     "bag1 shoe1 out1 frag1");
    ck_assert_int_eq(res.removed[MZ_RULE_MAX_PER_CATEGORY], 1);
    mz_rules_free(rules);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_max_per_category_beyond_the_heap_margin)
{
    /* 500 bags outscore 5 items of 5 other categories: with one bag
     * allowed, the list must reach far past k * 4 + 16 candidates. */
    struct mz_catalog *cat = mz_catalog_new();
    float scores[505];
    for (int i = 0; i < 505; i++) {
        struct mz_item *item = mz_item_new();
        char id[16];
        snprintf(id, sizeof(id), "i%d", i);
        item->item_id = strdup(id);
        item->brand = strdup("x");
        snprintf(id, sizeof(id), "c%d", i);
        item->category = strdup(i < 500 ? "bags" : id);
        snprintf(id, sizeof(id), "i%d", i);
        mz_catalog_upsert(cat, item, NULL);
        scores[i] = (float)(1000 - i);
    }
    struct mz_rules *rules = max_per_category(1);
    struct mz_select_request req = request(3);
    req.rules = rules;
    struct mz_select_result res;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "i0 i500 i501");
    ck_assert_int_eq(res.removed[MZ_RULE_MAX_PER_CATEGORY], 499);
    req.k = 2;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "i0 i500");
    mz_rules_free(rules);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_unscored_items_rank_last_by_index_in_the_full_ranking)
{
    /* As above, the list reaches past the heap's margin, so the allowed
     * items are ranked in full: NaN, -INFINITY and an index past the
     * scores all rank as -INFINITY, after every scored item, by index,
     * in both passes and with or without counts. */
    struct mz_catalog *cat = mz_catalog_new();
    float scores[504];
    for (int i = 0; i < 505; i++) {
        struct mz_item *item = mz_item_new();
        char id[16];
        snprintf(id, sizeof(id), "c%d", i);
        item->category = strdup(i < 500 ? "bags" : id);
        snprintf(id, sizeof(id), "i%d", i);
        item->item_id = strdup(id);
        item->brand = strdup("x");
        mz_catalog_upsert(cat, item, NULL);
        if (i < 504)
            scores[i] = (float)(1000 - i);
    }
    scores[500] = 0.5f;
    scores[501] = NAN;
    scores[502] = -INFINITY;
    scores[503] = NAN;
    struct mz_rules *rules = max_per_category(1);
    for (int skip = 0; skip < 2; skip++) {
        struct mz_select_request req = request(6);
        req.rules = rules;
        req.skip_counts = skip;
        struct mz_select_result res;
        ck_assert_int_eq(mz_rules_select(cat, scores, 504, &req, &res), MZ_OK);
        const int32_t expected[6] = {0, 500, 501, 502, 503, 504};
        ck_assert_int_eq(res.count, 6);
        for (int i = 0; i < 6; i++)
            ck_assert_int_eq(res.items[i], expected[i]);
        ck_assert_float_eq(res.scores[1], 0.5f);
        for (int i = 2; i < 6; i++)
            ck_assert(res.scores[i] == -INFINITY);
    }
    mz_rules_free(rules);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_client_rules_purchased_dismissed_capped)
{
    struct mz_catalog *cat = priced_items();
    float scores[6] = {6, 5, 4, 3, 2, 1};
    struct mz_client_facts *facts = mz_client_facts_new();
    struct mz_event_obs ev = {.type = MZ_EV_PURCHASE, .quantity = 1};
    ev.item = 0; /* bag1 */
    ev.ts = NOW - 100 * DAY;
    mz_client_facts_observe(facts, &ev);
    ev.item = 4; /* frag1, repurchasable */
    mz_client_facts_observe(facts, &ev);
    ev.type = MZ_EV_DISMISS;
    ev.item = 1; /* bag2, 10 days ago */
    ev.ts = NOW - 10 * DAY;
    mz_client_facts_observe(facts, &ev);
    ev.item = 2; /* shoe1, 40 days ago */
    ev.ts = NOW - 40 * DAY;
    mz_client_facts_observe(facts, &ev);

    struct mz_select_result res;
    struct mz_select_request req = request(10);
    req.facts = facts;
    /* No rule set: purchases allowed, dismissals excluded for 30 days. */
    ck_assert_str_eq(select_ids(cat, scores, &req, &res),
                     "bag1 shoe1 out1 frag1 bag3");
    ck_assert_int_eq(res.removed[MZ_RULE_EXCLUDE_DISMISSED], 1);

    /* {"exclude_purchased":{"enabled":true,
     *  "repurchasable_categories":["fragrance"]},
     *  "exclude_dismissed_days":60,
     *  "frequency_cap":{"max_per_item_per_day":2}} */
    struct mz_rules *rules = mz_rules_new();
    exclude_purchased(rules, true);
    rules->has_repurchasable = true;
    set_names(&rules->repurchasable, NAMES("fragrance"));
    dismissed_days(rules, 60);
    rules->frequency_cap = 2;
    req.rules = rules;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "out1 frag1 bag3");
    ck_assert_int_eq(res.removed[MZ_RULE_EXCLUDE_PURCHASED], 1);
    ck_assert_int_eq(res.removed[MZ_RULE_EXCLUDE_DISMISSED], 2);

    /* out1 shown twice in the last 24 h, bag3 once now and once 25 h ago. */
    int32_t out1 = 3, bag3 = 5;
    mz_client_facts_record_impressions(facts, &bag3, 1, NOW - 25 * 3600);
    mz_client_facts_record_impressions(facts, &out1, 1, NOW - 23 * 3600);
    mz_client_facts_record_impressions(facts, &out1, 1, NOW - 3600);
    mz_client_facts_record_impressions(facts, &bag3, 1, NOW - 60);
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "frag1 bag3");
    ck_assert_int_eq(res.removed[MZ_RULE_FREQUENCY_CAP], 1);
    /* An hour later the first out1 impression left the window. */
    req.now = NOW + 3600;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "out1 frag1 bag3");
    mz_rules_free(rules);

    rules = mz_rules_new();
    dismissed_days(rules, 0);
    exclude_purchased(rules, false);
    req.rules = rules;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res),
                     "bag1 bag2 shoe1 out1 frag1 bag3");
    mz_rules_free(rules);
    mz_client_facts_free(facts);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_exclude_items_of_the_request)
{
    struct mz_catalog *cat = priced_items();
    float scores[6] = {6, 5, 4, 3, 2, 1};
    int32_t context[] = {0, 2, 99, -1};
    struct mz_select_request req = request(2);
    req.exclude_items = context;
    req.n_exclude_items = 4;
    struct mz_select_result res;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "bag2 out1");
    ck_assert_int_eq(res.removed[MZ_RULE_EXCLUDE_ITEMS], 2);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_contradictory_rules_give_empty_list_with_reason)
{
    struct mz_catalog *cat = priced_items();
    float scores[6] = {6, 5, 4, 3, 2, 1};
    struct mz_select_result res;
    struct mz_select_request req = request(5);
    req.brand = "x";

    struct mz_rules *rules = mz_rules_new();
    allow(rules, NAMES("bags"));
    exclude(rules, NAMES("bags"));
    req.rules = rules;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "");
    ck_assert_str_eq(res.reason, "contradictory rules: every category in "
                                 "categories.allow is also in "
                                 "categories.exclude");
    mz_rules_free(rules);

    rules = mz_rules_new();
    allow(rules, (const char *const[]){NULL});
    req.rules = rules;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "");
    ck_assert_str_eq(res.reason,
                     "contradictory rules: categories.allow is empty");
    mz_rules_free(rules);

    rules = mz_rules_new();
    price(rules, 1000, 60);
    add_tier(&rules->min_by_tier, &rules->has_min_by_tier, "vip", 0);
    req.rules = rules;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "");
    ck_assert(strstr(res.reason,
                     "contradictory rules: the minimum price "
                     "1000.00 is above the maximum price 60.00") == res.reason);
    req.tier = "vip";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "out1");
    mz_rules_free(rules);

    /* Not contradictory, but nothing passes: the reason names the rule. */
    rules = mz_rules_new();
    price(rules, 100000, -1);
    req.rules = rules;
    req.tier = NULL;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "");
    ck_assert_str_eq(res.reason, "no item satisfies every rule: \"price.min\" "
                                 "removed 6 of 6 candidate items");
    /* An empty list is explained even when counts were not asked for. */
    req.skip_counts = true;
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "");
    ck_assert_int_eq(res.removed[MZ_RULE_PRICE_MIN], 6);
    req.skip_counts = false;
    /* What ?explain=rules shows (tests/api/test_json_rules.c writes it). */
    ck_assert_int_eq(res.removed[MZ_RULE_PRICE_MIN], 6);
    ck_assert_int_eq(res.allowed, 0);
    ck_assert_str_ne(res.reason, "");
    mz_rules_free(rules);

    req.rules = NULL;
    req.brand = "nobody";
    ck_assert_str_eq(select_ids(cat, scores, &req, &res), "");
    ck_assert_str_eq(res.reason, "no items of brand \"nobody\" in the catalog");
    mz_catalog_free(cat);

    cat = mz_catalog_new();
    req.brand = NULL;
    ck_assert_str_eq(select_ids(cat, NULL, &req, &res), "");
    ck_assert_str_eq(res.reason, "the catalog is empty");
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_bad_requests)
{
    struct mz_catalog *cat = priced_items();
    float scores[6] = {0};
    struct mz_select_request req = request(0);
    struct mz_select_result res;
    ck_assert_int_eq(mz_rules_select(cat, scores, 6, &req, &res),
                     MZ_ERR_INVALID);
    ck_assert_str_eq(res.reason, "k must be 1..100");
    req.k = MZ_SELECT_MAX_K + 1;
    ck_assert_int_eq(mz_rules_select(cat, scores, 6, &req, &res),
                     MZ_ERR_INVALID);
    req.k = 3;
    ck_assert_int_eq(mz_rules_select(NULL, scores, 6, &req, &res),
                     MZ_ERR_INVALID);
    ck_assert_int_eq(mz_rules_select(cat, NULL, 6, &req, &res), MZ_ERR_INVALID);
    /* Fewer scores than items: the rest rank last. */
    float two[2] = {-5, -6};
    ck_assert_int_eq(mz_rules_select(cat, two, 2, &req, &res), MZ_OK);
    ck_assert_int_eq(res.count, 3);
    ck_assert_int_eq(res.items[0], 0);
    ck_assert_int_eq(res.items[2], 2);
    ck_assert_str_eq(mz_rule_name(MZ_RULE_COUNT), "unknown");
    ck_assert_str_eq(mz_rule_name(MZ_RULE_MAX_PER_CATEGORY),
                     "max_per_category");
    mz_catalog_free(cat);
}
END_TEST

/* Reference: every allowed item sorted, then the greedy category fill. */
struct ref_entry {
    float score;
    int32_t index;
};

static int ref_compare(const void *a, const void *b)
{
    const struct ref_entry *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

START_TEST(test_selection_matches_brute_force_on_random_input)
{
    srand(7);
    for (int round = 0; round < 30; round++) {
        int n = 50 + rand() % 500;
        struct mz_catalog *cat = mz_catalog_new();
        float *scores = malloc((size_t)n * sizeof(*scores));
        for (int i = 0; i < n; i++) {
            struct mz_item *item = mz_item_new();
            char id[16], category[8];
            snprintf(id, sizeof(id), "i%d", i);
            snprintf(category, sizeof(category), "c%d", rand() % 6);
            item->item_id = strdup(id);
            item->brand = strdup(rand() % 2 ? "x" : "y");
            item->category = strdup(category);
            item->price = rand() % 1000;
            item->available = rand() % 10 != 0;
            mz_catalog_upsert(cat, item, NULL);
            scores[i] = (float)(rand() % 50); /* many ties */
        }
        int limit = 1 + rand() % 3;
        /* {"max_per_category":limit,"price":{"max":800},
         *  "categories":{"exclude":["c0"]}} */
        struct mz_rules *rules = max_per_category(limit);
        price(rules, -1, 800);
        exclude(rules, NAMES("c0"));
        struct mz_select_request req = request(1 + rand() % 20);
        req.brand = "x";
        req.rules = rules;
        struct mz_select_result res;
        ck_assert_int_eq(mz_rules_select(cat, scores, (size_t)n, &req, &res),
                         MZ_OK);

        struct ref_entry *ref = malloc((size_t)n * sizeof(*ref));
        int n_ref = 0;
        for (int i = 0; i < n; i++) {
            const struct mz_item *item = mz_catalog_item(cat, i);
            if (strcmp(item->brand, "x") == 0 && item->available &&
                item->price <= 800 && strcmp(item->category, "c0") != 0)
                ref[n_ref++] = (struct ref_entry){scores[i], i};
        }
        qsort(ref, (size_t)n_ref, sizeof(*ref), ref_compare);
        int per_category[6] = {0}, got = 0;
        for (int i = 0; i < n_ref && got < req.k; i++) {
            int c = mz_catalog_item(cat, ref[i].index)->category[1] - '0';
            if (per_category[c] >= limit)
                continue;
            per_category[c]++;
            ck_assert_int_lt(got, res.count);
            ck_assert_int_eq(res.items[got], ref[i].index);
            got++;
        }
        ck_assert_int_eq(got, res.count);
        ck_assert_int_eq(res.allowed, n_ref);

        /* Without counts the list is the same. */
        struct mz_select_result fast;
        req.skip_counts = true;
        ck_assert_int_eq(mz_rules_select(cat, scores, (size_t)n, &req, &fast),
                         MZ_OK);
        ck_assert_int_eq(fast.count, res.count);
        for (int i = 0; i < res.count; i++)
            ck_assert_int_eq(fast.items[i], res.items[i]);
        ck_assert_int_eq(fast.allowed, 0);
        free(ref);
        free(scores);
        mz_rules_free(rules);
        mz_catalog_free(cat);
    }
}
END_TEST

START_TEST(test_fifty_thousand_items_well_under_a_millisecond)
{
    const int n = 50000;
    struct mz_catalog *cat = mz_catalog_new();
    float *scores = malloc((size_t)n * sizeof(*scores));
    srand(11);
    for (int i = 0; i < n; i++) {
        struct mz_item *item = mz_item_new();
        char id[16], category[8];
        snprintf(id, sizeof(id), "i%d", i);
        snprintf(category, sizeof(category), "c%d", i % 40);
        item->item_id = strdup(id);
        item->brand = strdup("x");
        item->category = strdup(category);
        item->price = (double)(rand() % 5000);
        mz_catalog_upsert(cat, item, NULL);
        scores[i] = (float)rand() / (float)RAND_MAX;
    }
    struct mz_rules *rules = max_per_category(3);
    exclude(rules, NAMES("c1", "c2"));
    price(rules, 100, -1);
    add_tier(&rules->min_by_tier, &rules->has_min_by_tier, "prospect", 500);
    rules->frequency_cap = 3;
    exclude_purchased(rules, true);
    struct mz_client_facts *facts = mz_client_facts_new();
    for (int i = 0; i < 64; i++) {
        struct mz_event_obs ev = {
            .item = i * 7, .type = MZ_EV_PURCHASE, .ts = NOW - i};
        mz_client_facts_observe(facts, &ev);
    }
    struct mz_select_request req = request(20);
    req.brand = "x";
    req.rules = rules;
    req.tier = "prospect";
    req.facts = facts;
    struct mz_select_result res;
    const int runs = 50;
    for (int mode = 0; mode < 2; mode++) {
        req.skip_counts = mode == 1;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int r = 0; r < runs; r++)
            ck_assert_int_eq(
                mz_rules_select(cat, scores, (size_t)n, &req, &res), MZ_OK);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
                     (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
                    runs;
        fprintf(stderr, "mz_rules_select over %d items%s: %.1f us per call\n",
                n, mode ? " (skip_counts)" : "", us);
        ck_assert_int_eq(res.count, 20);
        /* Generous bound so sanitizer builds pass; the plain build is
         * far below 1 ms (printed above). */
        ck_assert_msg(us < 20000.0, "selection took %.1f us", us);
    }
    mz_client_facts_free(facts);
    mz_rules_free(rules);
    free(scores);
    mz_catalog_free(cat);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rules_select");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_selection_best_first_ties_by_index);
    tcase_add_test(tc, test_brand_set_limits_the_candidates);
    tcase_add_test(tc, test_item_level_rules_without_rule_set);
    tcase_add_test(tc, test_categories_and_price_rules);
    tcase_add_test(tc, test_max_per_category_keeps_order);
    tcase_add_test(tc, test_max_per_category_beyond_the_heap_margin);
    tcase_add_test(tc,
                   test_unscored_items_rank_last_by_index_in_the_full_ranking);
    tcase_add_test(tc, test_client_rules_purchased_dismissed_capped);
    tcase_add_test(tc, test_exclude_items_of_the_request);
    tcase_add_test(tc, test_contradictory_rules_give_empty_list_with_reason);
    tcase_add_test(tc, test_bad_requests);
    tcase_add_test(tc, test_request_category_and_excluded_items);
    tcase_add_test(tc, test_only_items_are_looked_at_in_their_brand);
    tcase_add_test(tc, test_selection_matches_brute_force_on_random_input);
    tcase_add_test(tc, test_fifty_thousand_items_well_under_a_millisecond);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
