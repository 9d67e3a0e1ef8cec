/*-------------------------------------------------------------------------
 * test_topk.c
 *    Unit tests of model/topk.c: order, ties, mask, retired entries, and
 *    agreement with a full sort on random input.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/topk.h"

START_TEST(test_topk_returns_best_first)
{
    const float scores[] = { 0.5f, 3.0f, -1.0f, 2.0f, 7.0f, 0.0f };
    int32_t items[3];
    float best[3];

    ck_assert_uint_eq(mz_topk(scores, 6, NULL, 3, items, best), 3);
    ck_assert_int_eq(items[0], 4);
    ck_assert_int_eq(items[1], 1);
    ck_assert_int_eq(items[2], 3);
    ck_assert_float_eq(best[0], 7.0f);
    ck_assert_float_eq(best[2], 2.0f);
}
END_TEST

START_TEST(test_topk_breaks_ties_by_lower_index)
{
    const float scores[] = { 1.0f, 2.0f, 2.0f, 1.0f, 2.0f, 1.0f };
    int32_t items[4];
    float best[4];

    ck_assert_uint_eq(mz_topk(scores, 6, NULL, 4, items, best), 4);
    ck_assert_int_eq(items[0], 1);
    ck_assert_int_eq(items[1], 2);
    ck_assert_int_eq(items[2], 4);
    ck_assert_int_eq(items[3], 0);
}
END_TEST

START_TEST(test_topk_mask_excludes_entries)
{
    const float scores[] = { 9.0f, 8.0f, 7.0f, 6.0f };
    const uint8_t allowed[] = { 0, 1, 0, 1 };
    int32_t items[4];

    ck_assert_uint_eq(mz_topk(scores, 4, allowed, 4, items, NULL), 2);
    ck_assert_int_eq(items[0], 1);
    ck_assert_int_eq(items[1], 3);
}
END_TEST

START_TEST(test_topk_skips_retired_and_nan)
{
    const float scores[] = { -INFINITY, NAN, -5.0f, -INFINITY };
    int32_t items[4];
    float best[4];

    ck_assert_uint_eq(mz_topk(scores, 4, NULL, 4, items, best), 1);
    ck_assert_int_eq(items[0], 2);
}
END_TEST

START_TEST(test_topk_k_larger_than_n_and_zero)
{
    const float scores[] = { 1.0f, 3.0f };
    int32_t items[8];
    float best[8];

    ck_assert_uint_eq(mz_topk(scores, 2, NULL, 8, items, best), 2);
    ck_assert_int_eq(items[0], 1);
    ck_assert_int_eq(items[1], 0);
    ck_assert_uint_eq(mz_topk(scores, 2, NULL, 0, items, best), 0);
    ck_assert_uint_eq(mz_topk(scores, 0, NULL, 3, items, best), 0);
}
END_TEST

/* Rank order of the reference: a full sort by (score desc, index asc). */
static int reference_cmp(const void *a, const void *b, void *arg)
{
    const float *scores = arg;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    if (scores[x] != scores[y])
        return scores[x] > scores[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

START_TEST(test_topk_matches_full_sort)
{
    enum { N = 5000, K = 300 };
    static float scores[N];
    static uint8_t allowed[N];
    static int32_t order[N];
    int32_t items[K], items_no_scores[K];
    float best[K];
    uint64_t state = 12345u + (uint64_t)_i;

    for (int i = 0; i < N; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        /* Few distinct values, so ties are common. */
        scores[i] = (float)((state >> 33) % 97);
        allowed[i] = (state >> 20) % 5 != 0;
    }
    int n_allowed = 0;
    for (int i = 0; i < N; i++)
        if (allowed[i])
            order[n_allowed++] = i;
    qsort_r(order, (size_t)n_allowed, sizeof order[0], reference_cmp, scores);

    size_t got = mz_topk(scores, N, allowed, K, items, best);
    ck_assert_uint_eq(got, K);
    for (int i = 0; i < K; i++) {
        ck_assert_int_eq(items[i], order[i]);
        ck_assert_float_eq(best[i], scores[order[i]]);
    }
    /* Without a score buffer (k > 256 takes the allocating path). */
    ck_assert_uint_eq(mz_topk(scores, N, allowed, K, items_no_scores, NULL),
                      K);
    for (int i = 0; i < K; i++)
        ck_assert_int_eq(items_no_scores[i], order[i]);
}
END_TEST

static Suite *topk_suite(void)
{
    Suite *s = suite_create("topk");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_topk_returns_best_first);
    tcase_add_test(tc, test_topk_breaks_ties_by_lower_index);
    tcase_add_test(tc, test_topk_mask_excludes_entries);
    tcase_add_test(tc, test_topk_skips_retired_and_nan);
    tcase_add_test(tc, test_topk_k_larger_than_n_and_zero);
    tcase_add_loop_test(tc, test_topk_matches_full_sort, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(topk_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
