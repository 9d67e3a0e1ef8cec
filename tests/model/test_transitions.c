/*-------------------------------------------------------------------------
 * test_transitions.c
 *    Unit tests of model/transitions.c: weights and totals, the bound on
 *    successors per source, and mz_transitions_linked against its
 *    definition (a -> b or b -> a stored) on a random memory, built pair
 *    by pair and as a bulk load.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/transitions.h"

START_TEST(test_add_sums_weights_and_totals)
{
    struct mz_transitions *t = mz_transitions_new(4, 0);

    ck_assert_ptr_nonnull(t);
    ck_assert(mz_transitions_add(t, 0, 1, 1.0f));
    ck_assert(mz_transitions_add(t, 0, 1, 0.5f));
    ck_assert(mz_transitions_add(t, 0, 2, 0.25f));
    ck_assert_float_eq(mz_transitions_get(t, 0, 1), 1.5f);
    ck_assert_float_eq(mz_transitions_get(t, 0, 2), 0.25f);
    ck_assert_float_eq(mz_transitions_get(t, 1, 0), 0.0f);
    ck_assert_float_eq(mz_transitions_total(t, 0), 1.75f);
    /* Pairs outside the items are ignored, and named by nothing. */
    ck_assert(mz_transitions_add(t, 0, 9, 1.0f));
    ck_assert(mz_transitions_add(t, -1, 1, 1.0f));
    ck_assert_float_eq(mz_transitions_get(t, 0, 9), 0.0f);
    ck_assert_float_eq(mz_transitions_total(t, 0), 1.75f);
    ck_assert(!mz_transitions_linked(t, 0, 9));
    ck_assert(!mz_transitions_linked(t, 9, 0));
    mz_transitions_free(t);
}
END_TEST

START_TEST(test_linked_is_either_direction)
{
    struct mz_transitions *t = mz_transitions_new(3, 0);

    ck_assert(mz_transitions_add(t, 0, 1, 1.0f));
    /* From either side, through a's successors or a's predecessors. */
    ck_assert(mz_transitions_linked(t, 0, 1));
    ck_assert(mz_transitions_linked(t, 1, 0));
    ck_assert(!mz_transitions_linked(t, 0, 2));
    ck_assert(!mz_transitions_linked(t, 2, 1));
    ck_assert(!mz_transitions_linked(t, 1, 1));
    /* Items added later start unlinked and link like the others. */
    ck_assert(mz_transitions_grow(t, 5));
    ck_assert(!mz_transitions_linked(t, 4, 0));
    ck_assert(mz_transitions_add(t, 4, 0, 1.0f));
    ck_assert(mz_transitions_linked(t, 0, 4));
    mz_transitions_free(t);
}
END_TEST

START_TEST(test_bounded_source_links_only_what_it_stores)
{
    struct mz_transitions *t = mz_transitions_new(4, 1);

    ck_assert(mz_transitions_add(t, 0, 1, 1.0f));
    ck_assert(mz_transitions_add(t, 0, 2, 1.0f)); /* over the bound */
    ck_assert_float_eq(mz_transitions_get(t, 0, 2), 0.0f);
    ck_assert_float_eq(mz_transitions_total(t, 0), 2.0f);
    ck_assert(mz_transitions_linked(t, 1, 0));
    ck_assert(!mz_transitions_linked(t, 2, 0));
    ck_assert(!mz_transitions_linked(t, 0, 2));
    mz_transitions_free(t);
}
END_TEST

enum { N_RANDOM = 97 };

/* Checks linked(a, b) == get(a, b) > 0 || get(b, a) > 0 for every pair
 * of t's N_RANDOM items, and that both answers occur. */
static void assert_linked_by_definition(const struct mz_transitions *t)
{
    int linked = 0;

    for (int32_t a = 0; a < N_RANDOM; a++) {
        for (int32_t b = 0; b < N_RANDOM; b++) {
            bool expected = mz_transitions_get(t, a, b) > 0.0f ||
                            mz_transitions_get(t, b, a) > 0.0f;
            ck_assert_int_eq(mz_transitions_linked(t, a, b), expected);
            linked += expected;
        }
    }
    /* The bound (24 of 97) left pairs out, so both answers occur. */
    ck_assert_int_gt(linked, 0);
    ck_assert_int_lt(linked, N_RANDOM * N_RANDOM);
}

/* Adds 20,000 pseudo-random pairs to t (a fixed sequence). */
static void add_random_pairs(struct mz_transitions *t)
{
    uint64_t state = 7;

    for (int e = 0; e < 20000; e++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        int32_t a = (int32_t)((state >> 33) % N_RANDOM);
        int32_t b = (int32_t)((state >> 13) % N_RANDOM);
        ck_assert(mz_transitions_add(t, a, b, 1.0f / (float)(1 + e % 5)));
    }
}

/* Many random pairs, some sources full, every table grown through
 * several rehashes. */
START_TEST(test_linked_matches_its_definition)
{
    struct mz_transitions *t = mz_transitions_new(N_RANDOM, 24);

    add_random_pairs(t);
    assert_linked_by_definition(t);
    mz_transitions_free(t);
}
END_TEST

/* The same pairs as a bulk load (a snapshot's): sets built in one pass
 * answer as sets grown pair by pair, and later adds keep them up. */
START_TEST(test_bulk_load_indexes_the_same_predecessors)
{
    struct mz_transitions *t = mz_transitions_new(N_RANDOM, 24);

    mz_transitions_defer_predecessors(t);
    add_random_pairs(t);
    ck_assert(mz_transitions_index_predecessors(t));
    assert_linked_by_definition(t);
    ck_assert(mz_transitions_grow(t, N_RANDOM + 1));
    ck_assert(mz_transitions_add(t, N_RANDOM, 3, 1.0f));
    ck_assert(mz_transitions_linked(t, 3, N_RANDOM));
    mz_transitions_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("transitions");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_add_sums_weights_and_totals);
    tcase_add_test(tc, test_linked_is_either_direction);
    tcase_add_test(tc, test_bounded_source_links_only_what_it_stores);
    tcase_add_test(tc, test_bulk_load_indexes_the_same_predecessors);
    tcase_add_test(tc, test_linked_matches_its_definition);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
