/*-------------------------------------------------------------------------
 * test_rules.c
 *    Unit tests of model/rules.c: a new rule set has every rule off and
 *    the default dismissal window, and freeing one releases every list
 *    and tier map it holds. (Selection: test_rules_select.c; the JSON of
 *    rule sets: tests/api/test_json_rules.c.)
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "model/rules.h"

START_TEST(test_new_rule_set_has_every_rule_off)
{
    struct mz_rules *rules = mz_rules_new();
    ck_assert_ptr_nonnull(rules);
    ck_assert(!rules->has_categories && !rules->has_allow &&
              !rules->has_exclude);
    ck_assert(!rules->has_price && !rules->has_price_min &&
              !rules->has_price_max);
    ck_assert(!rules->has_min_by_tier && !rules->has_max_by_tier);
    ck_assert_int_eq(rules->max_per_category, 0);
    ck_assert_int_eq(rules->frequency_cap, 0);
    ck_assert(!rules->has_exclude_purchased && !rules->exclude_purchased);
    ck_assert(!rules->has_dismissed_days);
    ck_assert_int_eq(rules->exclude_dismissed_days,
                     MZ_RULES_DEFAULT_DISMISSED_DAYS);
    mz_rules_free(rules);
    mz_rules_free(NULL);
}
END_TEST

static void fill_list(struct mz_string_list *list, int n)
{
    list->items = calloc((size_t)n, sizeof(*list->items));
    for (int i = 0; i < n; i++)
        list->items[i] = strdup("name");
    list->count = (size_t)n;
}

static void fill_tiers(struct mz_tier_bounds *bounds, int n)
{
    bounds->v = calloc((size_t)n, sizeof(*bounds->v));
    for (int i = 0; i < n; i++) {
        bounds->v[i].tier = strdup("tier");
        bounds->v[i].value = i;
    }
    bounds->count = (size_t)n;
}

START_TEST(test_free_releases_lists_and_tier_maps)
{
    /* AddressSanitizer reports what mz_rules_free would leave behind. */
    struct mz_rules *rules = mz_rules_new();
    fill_list(&rules->allow, 3);
    fill_list(&rules->exclude, 2);
    fill_list(&rules->repurchasable, 1);
    fill_tiers(&rules->min_by_tier, 2);
    fill_tiers(&rules->max_by_tier, 4);
    mz_tier_bounds_clear(&rules->max_by_tier);
    ck_assert_uint_eq(rules->max_by_tier.count, 0);
    ck_assert_ptr_null(rules->max_by_tier.v);
    fill_tiers(&rules->max_by_tier, 1);
    mz_rules_free(rules);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_new_rule_set_has_every_rule_off);
    tcase_add_test(tc, test_free_releases_lists_and_tier_maps);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
