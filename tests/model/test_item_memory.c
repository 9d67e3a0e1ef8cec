/*-------------------------------------------------------------------------
 * test_item_memory.c
 *    Unit tests of model/item_memory.c: adding, eviction of the weakest
 *    (oldest of equals), weakening, scaling, merging a chunk.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/item_memory.h"

START_TEST(test_add_accumulates_per_item)
{
    struct mz_item_memory m;

    mz_item_memory_clear(&m);
    mz_item_memory_add(&m, 7, 1.0f);
    mz_item_memory_add(&m, 9, 2.0f);
    mz_item_memory_add(&m, 7, 0.5f);
    ck_assert_int_eq(m.count, 2);
    ck_assert_float_eq(mz_item_memory_get(&m, 7), 1.5f);
    ck_assert_float_eq(mz_item_memory_get(&m, 9), 2.0f);
    ck_assert_float_eq(mz_item_memory_get(&m, 8), 0.0f);
    ck_assert_float_eq(mz_item_memory_total(&m), 3.5f);
    /* Nothing to add is ignored. */
    mz_item_memory_add(&m, 8, 0.0f);
    mz_item_memory_add(&m, 8, -1.0f);
    ck_assert_int_eq(m.count, 2);
}
END_TEST

START_TEST(test_full_memory_drops_weakest_oldest_first)
{
    struct mz_item_memory m;

    mz_item_memory_clear(&m);
    for (int32_t i = 0; i < MZ_ITEM_MEMORY_SLOTS; i++)
        mz_item_memory_add(&m, i, i < 2 ? 1.0f : 5.0f);
    /* Items 0 and 1 are the weakest; 0 is older. */
    mz_item_memory_add(&m, 100, 2.0f);
    ck_assert_int_eq(m.count, MZ_ITEM_MEMORY_SLOTS);
    ck_assert_float_eq(mz_item_memory_get(&m, 0), 0.0f);
    ck_assert_float_eq(mz_item_memory_get(&m, 1), 1.0f);
    ck_assert_float_eq(mz_item_memory_get(&m, 100), 2.0f);
    /* An item weaker than every slot is not remembered: what the level
     * reinforced stays. */
    mz_item_memory_add(&m, 101, 0.5f);
    ck_assert_float_eq(mz_item_memory_get(&m, 101), 0.0f);
    ck_assert_float_eq(mz_item_memory_get(&m, 1), 1.0f);
}
END_TEST

START_TEST(test_weaken_forgets_at_zero)
{
    struct mz_item_memory m;

    mz_item_memory_clear(&m);
    mz_item_memory_add(&m, 1, 2.0f);
    mz_item_memory_add(&m, 2, 1.0f);
    mz_item_memory_add(&m, 3, 1.0f);
    mz_item_memory_weaken(&m, 1, 0.5f);
    ck_assert_float_eq(mz_item_memory_get(&m, 1), 1.5f);
    mz_item_memory_weaken(&m, 2, 4.0f);
    ck_assert_int_eq(m.count, 2);
    ck_assert_float_eq(mz_item_memory_get(&m, 2), 0.0f);
    /* The order of the others is kept. */
    ck_assert_int_eq(m.item[0], 1);
    ck_assert_int_eq(m.item[1], 3);
    mz_item_memory_weaken(&m, 42, 1.0f);
    ck_assert_int_eq(m.count, 2);
}
END_TEST

START_TEST(test_scale_and_merge_consolidate_a_chunk)
{
    struct mz_item_memory level, chunk;

    mz_item_memory_clear(&level);
    mz_item_memory_clear(&chunk);
    mz_item_memory_add(&level, 1, 4.0f);
    mz_item_memory_add(&chunk, 1, 2.0f);
    mz_item_memory_add(&chunk, 2, 1.0f);
    /* level = 0.5 * level + chunk / 4 */
    mz_item_memory_merge(&level, 0.5f, &chunk, 0.25f);
    ck_assert_float_eq(mz_item_memory_get(&level, 1), 2.5f);
    ck_assert_float_eq(mz_item_memory_get(&level, 2), 0.25f);
    mz_item_memory_scale(&level, 0.0f);
    ck_assert_int_eq(level.count, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("item_memory");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_add_accumulates_per_item);
    tcase_add_test(tc, test_full_memory_drops_weakest_oldest_first);
    tcase_add_test(tc, test_weaken_forgets_at_zero);
    tcase_add_test(tc, test_scale_and_merge_consolidate_a_chunk);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
