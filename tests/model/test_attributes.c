/*-------------------------------------------------------------------------
 * test_attributes.c
 *    Unit tests of model/attributes.c: interning, item lists per token,
 *    repeated tokens, the per-item bound, replacing an item's tokens.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/attributes.h"

START_TEST(test_items_listed_under_their_tokens)
{
    struct mz_attributes *a = mz_attributes_new();
    const uint64_t first[] = {11, 22}, second[] = {22, 33}, none[] = {0};
    const int32_t *items;
    int32_t tokens[MZ_ATTR_TOKENS_PER_ITEM];

    ck_assert_ptr_nonnull(a);
    ck_assert(mz_attributes_add_item(a, 0, first, 2));
    ck_assert(mz_attributes_add_item(a, 1, second, 2));
    ck_assert(mz_attributes_add_item(a, 2, none, 0));
    /* Items come in order. */
    ck_assert(!mz_attributes_add_item(a, 7, first, 2));

    ck_assert_int_eq(mz_attributes_of_item(a, 0, tokens), 2);
    int32_t t22 = tokens[1];
    ck_assert_uint_eq(mz_attributes_items(a, t22, &items), 2);
    ck_assert_int_eq(items[0], 0);
    ck_assert_int_eq(items[1], 1);
    ck_assert_uint_eq(mz_attributes_items(a, tokens[0], &items), 1);
    ck_assert_int_eq(mz_attributes_of_item(a, 2, tokens), 0);
    ck_assert_int_eq(mz_attributes_of_item(a, 99, tokens), 0);
    ck_assert_uint_eq(mz_attributes_items(a, 12345, &items), 0);
    mz_attributes_free(a);
    mz_attributes_free(NULL);
}
END_TEST

START_TEST(test_repeats_and_bound_per_item)
{
    struct mz_attributes *a = mz_attributes_new();
    uint64_t many[3 * MZ_ATTR_TOKENS_PER_ITEM];
    int32_t tokens[MZ_ATTR_TOKENS_PER_ITEM];
    const int32_t *items;

    for (int i = 0; i < 3 * MZ_ATTR_TOKENS_PER_ITEM; i++)
        many[i] = 1000 + (uint64_t)(i % 2 ? i : 0); /* 1000 repeats */
    ck_assert(mz_attributes_add_item(a, 0, many, 3 * MZ_ATTR_TOKENS_PER_ITEM));
    ck_assert_int_eq(mz_attributes_of_item(a, 0, tokens),
                     MZ_ATTR_TOKENS_PER_ITEM);
    /* A repeated token lists the item once. */
    ck_assert_uint_eq(mz_attributes_items(a, tokens[0], &items), 1);
    /* Many items, one token: the table and the lists grow. */
    const uint64_t shared[] = {42};
    for (int32_t i = 1; i < 5000; i++)
        ck_assert(mz_attributes_add_item(a, i, shared, 1));
    ck_assert_int_eq(mz_attributes_of_item(a, 4999, tokens), 1);
    ck_assert_uint_eq(mz_attributes_items(a, tokens[0], &items), 4999);
    ck_assert_int_eq(items[4998], 4999);
    mz_attributes_free(a);
}
END_TEST

START_TEST(test_set_item_moves_it_between_tokens)
{
    struct mz_attributes *a = mz_attributes_new();
    const uint64_t red[] = {1}, blue[] = {2}, red_blue[] = {1, 2};
    int32_t tokens[MZ_ATTR_TOKENS_PER_ITEM];
    const int32_t *items;

    for (int32_t i = 0; i < 4; i++)
        ck_assert(mz_attributes_add_item(a, i, i % 2 ? blue : red, 1));
    mz_attributes_of_item(a, 0, tokens);
    int32_t t_red = tokens[0];
    mz_attributes_of_item(a, 1, tokens);
    int32_t t_blue = tokens[0];

    /* Item 2 turns blue: it leaves red, joins blue in item order. */
    ck_assert(mz_attributes_set_item(a, 2, blue, 1));
    ck_assert_uint_eq(mz_attributes_items(a, t_red, &items), 1);
    ck_assert_int_eq(items[0], 0);
    ck_assert_uint_eq(mz_attributes_items(a, t_blue, &items), 3);
    ck_assert_int_eq(items[0], 1);
    ck_assert_int_eq(items[1], 2);
    ck_assert_int_eq(items[2], 3);
    /* Both, then none; a new token is interned on the way. */
    const uint64_t green[] = {3};
    ck_assert(mz_attributes_set_item(a, 1, red_blue, 2));
    ck_assert_uint_eq(mz_attributes_items(a, t_red, &items), 2);
    ck_assert_int_eq(items[1], 1);
    ck_assert_uint_eq(mz_attributes_items(a, t_blue, &items), 3);
    ck_assert(mz_attributes_set_item(a, 1, green, 1));
    ck_assert_uint_eq(mz_attributes_items(a, t_red, &items), 1);
    ck_assert_uint_eq(mz_attributes_items(a, t_blue, &items), 2);
    ck_assert_int_eq(mz_attributes_of_item(a, 1, tokens), 1);
    ck_assert_uint_eq(mz_attributes_items(a, tokens[0], &items), 1);
    ck_assert(mz_attributes_set_item(a, 1, green, 0));
    ck_assert_int_eq(mz_attributes_of_item(a, 1, tokens), 0);
    /* Only items already added. */
    ck_assert(!mz_attributes_set_item(a, 4, red, 1));
    mz_attributes_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("attributes");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_items_listed_under_their_tokens);
    tcase_add_test(tc, test_repeats_and_bound_per_item);
    tcase_add_test(tc, test_set_item_moves_it_between_tokens);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
