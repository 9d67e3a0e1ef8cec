/*-------------------------------------------------------------------------
 * test_brand_tiers.c
 *    Unit tests of model/brand_tiers.c: the tier at a listed brand, the
 *    default elsewhere (and without a brand), deep copies, and clearing.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "model/brand_tiers.h"

START_TEST(test_tier_at_brand_else_default)
{
    char a[] = "house-a", vip[] = "vip", b[] = "house-b",
         prospect[] = "prospect";
    struct mz_brand_tier v[] = {{a, vip}, {b, prospect}};
    struct mz_brand_tiers tiers = {v, 2};
    ck_assert_str_eq(mz_brand_tiers_at(&tiers, "house-a", "client"), "vip");
    ck_assert_str_eq(mz_brand_tiers_at(&tiers, "house-b", "client"),
                     "prospect");
    ck_assert_str_eq(mz_brand_tiers_at(&tiers, "house-c", "client"), "client");
    ck_assert_str_eq(mz_brand_tiers_at(&tiers, NULL, "client"), "client");
    ck_assert_ptr_null(mz_brand_tiers_at(&tiers, "house-c", NULL));
    ck_assert_str_eq(mz_brand_tiers_at(NULL, "house-a", "client"), "client");
}
END_TEST

START_TEST(test_copy_is_deep_and_clear_empties)
{
    char a[] = "house-a", vip[] = "vip";
    struct mz_brand_tier v[] = {{a, vip}};
    struct mz_brand_tiers src = {v, 1}, copy;
    ck_assert(mz_brand_tiers_copy(&copy, &src));
    a[0] = 'X';
    vip[0] = 'X';
    ck_assert_uint_eq(copy.count, 1);
    ck_assert_str_eq(mz_brand_tiers_at(&copy, "house-a", NULL), "vip");
    mz_brand_tiers_clear(&copy);
    ck_assert_uint_eq(copy.count, 0);
    ck_assert_ptr_null(copy.v);
    mz_brand_tiers_clear(&copy); /* twice is fine */
    mz_brand_tiers_clear(NULL);
    ck_assert(mz_brand_tiers_copy(&copy, NULL));
    ck_assert_uint_eq(copy.count, 0);
    struct mz_brand_tiers empty = {NULL, 0};
    ck_assert(mz_brand_tiers_copy(&copy, &empty));
    ck_assert_ptr_null(copy.v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("brand_tiers");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_tier_at_brand_else_default);
    tcase_add_test(tc, test_copy_is_deep_and_clear_empties);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
