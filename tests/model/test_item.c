/*-------------------------------------------------------------------------
 * test_item.c
 *    Unit tests of model/item.c: a new record's defaults, releasing
 *    records, lists and attributes, and the cold-start tokens (order,
 *    price bands, every kind of attribute, lists entry by entry).
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "model/item.h"

static struct mz_item *make_item(const char *id, double price)
{
    struct mz_item *item = mz_item_new();
    ck_assert_ptr_nonnull(item);
    item->item_id = strdup(id);
    item->brand = strdup("m");
    item->category = strdup("bags");
    item->price = price;
    return item;
}

static void add_tag(struct mz_item *item, const char *tag)
{
    item->tags.items =
        realloc(item->tags.items, (item->tags.count + 1) * sizeof(char *));
    item->tags.items[item->tags.count++] = strdup(tag);
}

static struct mz_item_attribute *add_attribute(struct mz_item *item,
                                               const char *key,
                                               enum mz_attribute_kind kind)
{
    struct mz_item_attributes *a = &item->attributes;
    a->v = realloc(a->v, (a->count + 1) * sizeof(*a->v));
    struct mz_item_attribute *attr = &a->v[a->count++];
    memset(attr, 0, sizeof(*attr));
    attr->key = strdup(key);
    attr->kind = kind;
    return attr;
}

/* Asserts that a and b give the same count tokens, left in ta (caller
 * clears). */
static void assert_same_tokens(const struct mz_item *a, const struct mz_item *b,
                               size_t count, struct mz_string_list *ta)
{
    struct mz_string_list tb = {0};
    ck_assert_int_eq(mz_item_tokens(a, ta), MZ_OK);
    ck_assert_int_eq(mz_item_tokens(b, &tb), MZ_OK);
    ck_assert_uint_eq(ta->count, count);
    ck_assert_uint_eq(tb.count, count);
    for (size_t i = 0; i < count; i++)
        ck_assert_str_eq(ta->items[i], tb.items[i]);
    mz_string_list_clear(&tb);
}

START_TEST(test_new_item_has_the_defaults_of_absent_fields)
{
    struct mz_item *item = mz_item_new();
    ck_assert(item->available);
    ck_assert_int_eq(item->stock, -1);
    ck_assert_int_eq(item->launch_at, MZ_TIME_NONE_BEFORE);
    ck_assert_int_eq(item->end_at, MZ_TIME_NONE_AFTER);
    ck_assert(!item->has_regions);
    ck_assert(!item->has_reserved_tiers);
    ck_assert_str_eq(item->currency, "");
    ck_assert_uint_eq(item->attributes.count, 0);
    ck_assert_int_eq(item->brand_id, -1);
    ck_assert_int_eq(item->category_id, -1);
    mz_item_free(item);
    mz_item_free(NULL);
    mz_string_list_clear(NULL);
    mz_item_attributes_clear(NULL);
}
END_TEST

/* The attributes {"z":1,"a":"s","m":true} in two orders. */
static struct mz_item *item_with_attributes(const char *id, bool reversed)
{
    struct mz_item *item = make_item(id, 1000);
    add_tag(item, "x");
    for (int k = 0; k < 3; k++) {
        int i = reversed ? 2 - k : k;
        if (i == 0)
            add_attribute(item, "z", MZ_ATTRIBUTE_INTEGER)->value.integer = 1;
        else if (i == 1)
            add_attribute(item, "a", MZ_ATTRIBUTE_STRING)->value.string =
                strdup("s");
        else
            add_attribute(item, "m", MZ_ATTRIBUTE_BOOLEAN)->value.boolean =
                true;
    }
    return item;
}

START_TEST(test_tokens_ignore_attribute_order)
{
    struct mz_item *a = item_with_attributes("a", false);
    struct mz_item *b = item_with_attributes("b", true);
    struct mz_string_list ta = {0};
    assert_same_tokens(a, b, 7, &ta);
    ck_assert_str_eq(ta.items[0], "brand=m");
    ck_assert_str_eq(ta.items[1], "category=bags");
    ck_assert_str_eq(ta.items[2], "tag=x");
    ck_assert_str_eq(ta.items[3], "price_band=10");
    ck_assert_str_eq(ta.items[4], "attr:a=s");
    ck_assert_str_eq(ta.items[5], "attr:m=true");
    ck_assert_str_eq(ta.items[6], "attr:z=1");
    mz_string_list_clear(&ta);
    ck_assert_ptr_null(ta.items);
    mz_item_free(a);
    mz_item_free(b);
}
END_TEST

START_TEST(test_tokens_of_reals_and_price_bands)
{
    struct mz_item *item = make_item("a", 0.5);
    add_attribute(item, "r", MZ_ATTRIBUTE_REAL)->value.real = 0.1;
    add_attribute(item, "w", MZ_ATTRIBUTE_REAL)->value.real = 42.0;
    add_attribute(item, "n", MZ_ATTRIBUTE_INTEGER)->value.integer = -7;
    add_attribute(item, "f", MZ_ATTRIBUTE_BOOLEAN)->value.boolean = false;
    struct mz_string_list t = {0};
    ck_assert_int_eq(mz_item_tokens(item, &t), MZ_OK);
    ck_assert_uint_eq(t.count, 7);
    ck_assert_str_eq(t.items[2], "price_band=0");
    ck_assert_str_eq(t.items[3], "attr:f=false");
    ck_assert_str_eq(t.items[4], "attr:n=-7");
    ck_assert_str_eq(t.items[5], "attr:r=0.10000000000000001");
    ck_assert_str_eq(t.items[6], "attr:w=42");
    mz_string_list_clear(&t);
    /* Bands double: [1, 2) is band 1, [2, 4) band 2, ... */
    static const struct {
        double price;
        const char *token;
    } bands[] = {{1, "price_band=1"},     {1.99, "price_band=1"},
                 {2, "price_band=2"},     {1000, "price_band=10"},
                 {1024, "price_band=11"}, {1e300, "price_band=62"}};
    for (size_t i = 0; i < sizeof(bands) / sizeof(bands[0]); i++) {
        item->price = bands[i].price;
        ck_assert_int_eq(mz_item_tokens(item, &t), MZ_OK);
        ck_assert_str_eq(t.items[2], bands[i].token);
        mz_string_list_clear(&t);
    }
    mz_item_attributes_clear(&item->attributes);
    ck_assert_uint_eq(item->attributes.count, 0);
    ck_assert_ptr_null(item->attributes.v);
    mz_item_free(item);
}
END_TEST

START_TEST(test_list_gives_the_tokens_of_one_attribute_per_entry)
{
    /* materials: ["leather", "gold"] against materials=leather and
     * materials=gold as two attributes (the model allows a repeated key;
     * the API does not, which is why lists exist). */
    struct mz_item *listed = make_item("l", 100);
    struct mz_item_attribute *m =
        add_attribute(listed, "materials", MZ_ATTRIBUTE_LIST);
    m->value.list.count = 2;
    m->value.list.entries = calloc(2, sizeof *m->value.list.entries);
    m->value.list.entries[0].kind = MZ_ATTRIBUTE_STRING;
    m->value.list.entries[0].value.string = strdup("leather");
    m->value.list.entries[1].kind = MZ_ATTRIBUTE_STRING;
    m->value.list.entries[1].value.string = strdup("gold");
    struct mz_item *pair = make_item("p", 100);
    add_attribute(pair, "materials", MZ_ATTRIBUTE_STRING)->value.string =
        strdup("leather");
    add_attribute(pair, "materials", MZ_ATTRIBUTE_STRING)->value.string =
        strdup("gold");
    struct mz_string_list tl = {0};
    assert_same_tokens(listed, pair, 5, &tl);
    ck_assert_str_eq(tl.items[3], "attr:materials=gold");
    ck_assert_str_eq(tl.items[4], "attr:materials=leather");
    mz_string_list_clear(&tl);
    /* An empty list gives no token; the item frees its entries. */
    m->value.list.count = 0;
    free(m->value.list.entries[0].value.string);
    free(m->value.list.entries[1].value.string);
    ck_assert_int_eq(mz_item_tokens(listed, &tl), MZ_OK);
    ck_assert_uint_eq(tl.count, 3);
    mz_string_list_clear(&tl);
    mz_item_free(listed);
    mz_item_free(pair);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("item");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_new_item_has_the_defaults_of_absent_fields);
    tcase_add_test(tc, test_tokens_ignore_attribute_order);
    tcase_add_test(tc, test_tokens_of_reals_and_price_bands);
    tcase_add_test(tc, test_list_gives_the_tokens_of_one_attribute_per_entry);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
