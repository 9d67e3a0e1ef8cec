/*-------------------------------------------------------------------------
 * test_catalog_page.c
 *    Unit tests of model/catalog_page.c: pages in id order whatever the
 *    upsert order, each item once across pages, the "more" flag, retired
 *    items, the brand scan and the keep callback.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/catalog_page.h"

static void add(struct mz_catalog *cat, const char *id, const char *brand)
{
    struct mz_item *item = mz_item_new();
    ck_assert_ptr_nonnull(item);
    item->item_id = strdup(id);
    item->brand = strdup(brand);
    item->category = strdup("bags");
    bool is_new;
    ck_assert_int_ge(mz_catalog_upsert(cat, item, &is_new), 0);
}

/* Pages through cat with q (limit as given), appending each id to out
 * (space separated); returns the number of pages. */
static int page_all(const struct mz_catalog *cat,
                    struct mz_catalog_page_query q, char *out, size_t len)
{
    int32_t page[16];
    char after[64] = "";
    int pages = 0;
    bool more = true;
    out[0] = '\0';
    while (more) {
        size_t count;
        q.after = after[0] ? after : NULL;
        ck_assert_int_eq(mz_catalog_page(cat, &q, page, &count, &more), MZ_OK);
        ck_assert_uint_le(count, q.limit);
        pages++;
        for (size_t i = 0; i < count; i++) {
            const char *id = mz_catalog_item(cat, page[i])->item_id;
            size_t used = strlen(out);
            snprintf(out + used, len - used, "%s%s", used ? " " : "", id);
            snprintf(after, sizeof after, "%s", id);
        }
        ck_assert(!more || count == q.limit);
    }
    return pages;
}

START_TEST(test_pages_follow_id_order_each_item_once)
{
    struct mz_catalog *cat = mz_catalog_new();
    const char *ids[] = {"m", "b", "z", "a", "q", "c", "y", "d", "B"};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        add(cat, ids[i], "x");
    char out[256];
    struct mz_catalog_page_query q = {.brand_id = -1, .limit = 4};
    /* 9 items by 4: 4, 4, 1 (bytewise: "B" before "a"). */
    ck_assert_int_eq(page_all(cat, q, out, sizeof out), 3);
    ck_assert_str_eq(out, "B a b c d m q y z");
    q.limit = 9;
    ck_assert_int_eq(page_all(cat, q, out, sizeof out), 1);
    ck_assert_str_eq(out, "B a b c d m q y z");
    q.limit = 1;
    ck_assert_int_eq(page_all(cat, q, out, sizeof out), 9);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_page_after_an_id_that_is_gone)
{
    struct mz_catalog *cat = mz_catalog_new();
    add(cat, "a", "x");
    add(cat, "c", "x");
    add(cat, "e", "x");
    ck_assert_int_eq(mz_catalog_remove(cat, "c"), MZ_OK);
    int32_t page[4];
    size_t count;
    bool more;
    /* After "b", which never existed, and without the retired "c". */
    struct mz_catalog_page_query q = {.after = "b", .brand_id = -1, .limit = 4};
    ck_assert_int_eq(mz_catalog_page(cat, &q, page, &count, &more), MZ_OK);
    ck_assert_uint_eq(count, 1);
    ck_assert(!more);
    ck_assert_str_eq(mz_catalog_item(cat, page[0])->item_id, "e");
    q.after = "e";
    ck_assert_int_eq(mz_catalog_page(cat, &q, page, &count, &more), MZ_OK);
    ck_assert_uint_eq(count, 0);
    mz_catalog_free(cat);
}
END_TEST

static bool keep_odd_suffix(void *ctx, const struct mz_item *item)
{
    (void)ctx;
    return (item->item_id[strlen(item->item_id) - 1] - '0') % 2 == 1;
}

START_TEST(test_page_of_one_brand_and_a_filter)
{
    struct mz_catalog *cat = mz_catalog_new();
    add(cat, "x9", "x");
    add(cat, "y1", "y");
    add(cat, "x2", "x");
    add(cat, "x1", "x");
    add(cat, "x3", "x");
    char out[256];
    struct mz_catalog_page_query q = {.brand_id = mz_catalog_brand_id(cat, "x"),
                                      .limit = 2};
    ck_assert_int_eq(page_all(cat, q, out, sizeof out), 2);
    ck_assert_str_eq(out, "x1 x2 x3 x9");
    q.keep = keep_odd_suffix;
    page_all(cat, q, out, sizeof out);
    ck_assert_str_eq(out, "x1 x3 x9");
    q.brand_id = -1;
    page_all(cat, q, out, sizeof out);
    ck_assert_str_eq(out, "x1 x3 x9 y1");
    mz_catalog_free(cat);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("catalog_page");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_pages_follow_id_order_each_item_once);
    tcase_add_test(tc, test_page_after_an_id_that_is_gone);
    tcase_add_test(tc, test_page_of_one_brand_and_a_filter);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
