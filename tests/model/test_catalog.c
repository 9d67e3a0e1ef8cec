/*-------------------------------------------------------------------------
 * test_catalog.c
 *    Unit tests of model/catalog.c: the catalog's indices, lookups,
 *    interning, brand lists, summaries and retirement.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/catalog.h"

static struct mz_item *make_item(const char *id, const char *brand,
                                 const char *category, double price)
{
    struct mz_item *item = mz_item_new();
    ck_assert_ptr_nonnull(item);
    item->item_id = strdup(id);
    item->brand = strdup(brand);
    item->category = strdup(category);
    item->price = price;
    return item;
}

/* Sets list to one or two strings (second may be NULL). */
static void set_list(struct mz_string_list *list, const char *first,
                     const char *second)
{
    list->items = calloc(2, sizeof(*list->items));
    list->items[0] = strdup(first);
    list->count = 1;
    if (second) {
        list->items[1] = strdup(second);
        list->count = 2;
    }
}

START_TEST(test_catalog_upsert_find_replace)
{
    struct mz_catalog *cat = mz_catalog_new();
    bool is_new = false;
    ck_assert_int_eq(
        mz_catalog_upsert(cat, make_item("a", "x", "bags", 1), &is_new), 0);
    ck_assert(is_new);
    ck_assert_int_eq(
        mz_catalog_upsert(cat, make_item("b", "y", "shoes", 2), &is_new), 1);
    ck_assert_int_eq(
        mz_catalog_upsert(cat, make_item("a", "y", "bags", 3), &is_new), 0);
    ck_assert(!is_new);
    ck_assert_int_eq(mz_catalog_count(cat), 2);
    ck_assert_int_eq(mz_catalog_live_count(cat), 2);
    ck_assert_int_eq(mz_catalog_find(cat, "a"), 0);
    ck_assert_int_eq(mz_catalog_find(cat, "zz"), -1);
    ck_assert(mz_catalog_item(cat, 0)->price == 3);
    ck_assert_ptr_null(mz_catalog_item(cat, 2));
    ck_assert_ptr_null(mz_catalog_item(cat, -1));

    /* "a" moved from brand x to brand y. */
    size_t n;
    mz_catalog_brand_items(cat, mz_catalog_brand_id(cat, "x"), &n);
    ck_assert_uint_eq(n, 0);
    const int32_t *ys =
        mz_catalog_brand_items(cat, mz_catalog_brand_id(cat, "y"), &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(ys[0], 0);
    ck_assert_int_eq(ys[1], 1);
    ck_assert_ptr_null(mz_catalog_brand_items(cat, 99, &n));
    ck_assert_uint_eq(n, 0);

    ck_assert_int_eq(mz_catalog_category_id(cat, "shoes"), 1);
    ck_assert_str_eq(mz_catalog_category_name(cat, 1), "shoes");
    ck_assert_ptr_null(mz_catalog_category_name(cat, 2));
    ck_assert_str_eq(mz_catalog_brand_name(cat, 0), "x");
    ck_assert_int_eq(mz_catalog_brand_count(cat), 2);
    ck_assert_int_eq(mz_catalog_category_count(cat), 2);
    ck_assert_int_eq(mz_catalog_upsert(cat, NULL, &is_new), -1);
    mz_catalog_free(cat);
    mz_catalog_free(NULL);
    mz_item_free(NULL);
}
END_TEST

START_TEST(test_catalog_remove_keeps_index_and_revives)
{
    struct mz_catalog *cat = mz_catalog_new();
    bool is_new;
    mz_catalog_upsert(cat, make_item("a", "x", "bags", 1), &is_new);
    mz_catalog_upsert(cat, make_item("b", "x", "bags", 1), &is_new);
    ck_assert_int_eq(mz_catalog_remove(cat, "a"), MZ_OK);
    ck_assert_int_eq(mz_catalog_remove(cat, "a"), MZ_ERR_NOT_FOUND);
    ck_assert_int_eq(mz_catalog_remove(cat, "nope"), MZ_ERR_NOT_FOUND);
    ck_assert_int_eq(mz_catalog_find(cat, "a"), 0);
    ck_assert(mz_catalog_item(cat, 0)->retired);
    ck_assert_int_eq(mz_catalog_live_count(cat), 1);
    ck_assert_int_eq(
        mz_catalog_upsert(cat, make_item("a", "x", "bags", 5), &is_new), 0);
    ck_assert(!is_new);
    ck_assert(!mz_catalog_item(cat, 0)->retired);
    ck_assert_int_eq(mz_catalog_live_count(cat), 2);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_catalog_interns_regions_and_tiers)
{
    struct mz_catalog *cat = mz_catalog_new();
    struct mz_item *item = make_item("a", "b", "c", 1);
    set_list(&item->regions, "FR", "JP");
    item->has_regions = true;
    set_list(&item->reserved_tiers, "vip", NULL);
    item->has_reserved_tiers = true;
    mz_catalog_upsert(cat, item, NULL);
    size_t n;
    const int32_t *r = mz_catalog_item_region_ids(cat, 0, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(r[1], mz_catalog_region_id(cat, "JP"));
    ck_assert_int_eq(mz_catalog_region_id(cat, "US"), -1);
    const int32_t *t = mz_catalog_item_tier_ids(cat, 0, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(t[0], mz_catalog_tier_id(cat, "vip"));
    ck_assert_ptr_null(mz_catalog_item_tier_ids(cat, 5, &n));
    ck_assert_uint_eq(n, 0);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_catalog_many_items_lookup)
{
    struct mz_catalog *cat = mz_catalog_new();
    char id[32], brand[16], category[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof(id), "sku-%d", i);
        snprintf(brand, sizeof(brand), "b%d", i % 7);
        snprintf(category, sizeof(category), "c%d", i % 13);
        ck_assert_int_eq(
            mz_catalog_upsert(cat, make_item(id, brand, category, i), NULL), i);
    }
    for (int i = 0; i < 20000; i += 7) {
        snprintf(id, sizeof(id), "sku-%d", i);
        ck_assert_int_eq(mz_catalog_find(cat, id), i);
    }
    size_t n;
    mz_catalog_brand_items(cat, mz_catalog_brand_id(cat, "b3"), &n);
    ck_assert_uint_eq(n, 2857);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_catalog_summaries_follow_the_records)
{
    struct mz_catalog *cat = mz_catalog_new();
    ck_assert_ptr_null(mz_catalog_summaries(cat));
    struct mz_item *item = make_item("a", "x", "bags", 250);
    item->available = false;
    item->stock = 0;
    item->launch_at = 100;
    item->end_at = 200;
    set_list(&item->regions, "FR", NULL);
    item->has_regions = true;
    mz_catalog_upsert(cat, item, NULL);
    mz_catalog_upsert(cat, make_item("b", "x", "shoes", 9), NULL);
    const struct mz_item_summary *s = mz_catalog_summaries(cat);
    ck_assert(s[0].price == 250);
    ck_assert_int_eq(s[0].launch_at, 100);
    ck_assert_int_eq(s[0].end_at, 200);
    ck_assert_int_eq(s[0].category_id, mz_catalog_category_id(cat, "bags"));
    ck_assert_uint_eq(s[0].flags, MZ_ITEM_UNAVAILABLE | MZ_ITEM_SOLD_OUT |
                                      MZ_ITEM_HAS_REGIONS);
    ck_assert_uint_eq(s[1].flags, 0);
    ck_assert_int_eq(s[1].end_at, MZ_TIME_NONE_AFTER);
    mz_catalog_remove(cat, "b");
    s = mz_catalog_summaries(cat);
    ck_assert_uint_eq(s[1].flags, MZ_ITEM_RETIRED);
    mz_catalog_free(cat);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_catalog_upsert_find_replace);
    tcase_add_test(tc, test_catalog_remove_keeps_index_and_revives);
    tcase_add_test(tc, test_catalog_interns_regions_and_tiers);
    tcase_add_test(tc, test_catalog_many_items_lookup);
    tcase_add_test(tc, test_catalog_summaries_follow_the_records);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
