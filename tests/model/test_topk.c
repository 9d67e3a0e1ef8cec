/*-------------------------------------------------------------------------
 * test_topk.c
 *    Unit tests of model/topk.c: order, ties, mask, retired entries, and
 *    agreement with a full sort on random input; the streaming heap the
 *    rules' selection uses: the same order whatever the order of the
 *    offers, -INFINITY kept as a score, cap 0, and the ascending-scan
 *    admission test agreeing with what an offer keeps.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/topk.h"

START_TEST(test_topk_returns_best_first)
{
    const float scores[] = {0.5f, 3.0f, -1.0f, 2.0f, 7.0f, 0.0f};
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
    const float scores[] = {1.0f, 2.0f, 2.0f, 1.0f, 2.0f, 1.0f};
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
    const float scores[] = {9.0f, 8.0f, 7.0f, 6.0f};
    const uint8_t allowed[] = {0, 1, 0, 1};
    int32_t items[4];

    ck_assert_uint_eq(mz_topk(scores, 4, allowed, 4, items, NULL), 2);
    ck_assert_int_eq(items[0], 1);
    ck_assert_int_eq(items[1], 3);
}
END_TEST

START_TEST(test_topk_skips_retired_and_nan)
{
    const float scores[] = {-INFINITY, NAN, -5.0f, -INFINITY};
    int32_t items[4];
    float best[4];

    ck_assert_uint_eq(mz_topk(scores, 4, NULL, 4, items, best), 1);
    ck_assert_int_eq(items[0], 2);
}
END_TEST

START_TEST(test_topk_k_larger_than_n_and_zero)
{
    const float scores[] = {1.0f, 3.0f};
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
    ck_assert_uint_eq(mz_topk(scores, N, allowed, K, items_no_scores, NULL), K);
    for (int i = 0; i < K; i++)
        ck_assert_int_eq(items_no_scores[i], order[i]);
}
END_TEST

START_TEST(test_topk_heap_keeps_minus_infinity_as_a_score)
{
    int32_t items[4];
    float scores[4];
    struct mz_topk_heap heap;

    mz_topk_heap_init(&heap, items, scores, 4);
    mz_topk_heap_offer(&heap, -INFINITY, 3);
    mz_topk_heap_offer(&heap, 1.0f, 2);
    mz_topk_heap_offer(&heap, -INFINITY, 0);
    ck_assert_uint_eq(mz_topk_heap_sort(&heap), 3);
    ck_assert_int_eq(items[0], 2);
    ck_assert_int_eq(items[1], 0); /* -INFINITY ties by index */
    ck_assert_int_eq(items[2], 3);
    ck_assert(scores[2] == -INFINITY);
}
END_TEST

START_TEST(test_topk_heap_with_cap_zero_keeps_nothing)
{
    struct mz_topk_heap heap;

    mz_topk_heap_init(&heap, NULL, NULL, 0);
    ck_assert(!mz_topk_heap_admits_ascending(&heap, 1.0f));
    mz_topk_heap_offer(&heap, 1.0f, 0);
    ck_assert_uint_eq(heap.len, 0);
    ck_assert_uint_eq(mz_topk_heap_sort(&heap), 0);
}
END_TEST

START_TEST(test_topk_heap_order_does_not_depend_on_offer_order)
{
    enum { N = 3000, K = 40 };
    static float scores[N];
    static int32_t order[N], by_rank[N];
    int32_t items[K], ref_items[K];
    float kept[K], ref_scores[K];
    uint64_t state = 777u + (uint64_t)_i;

    for (int i = 0; i < N; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        /* Few distinct values and some -INFINITY, so ties are common. */
        uint32_t r = (uint32_t)(state >> 33) % 40;
        scores[i] = r == 0 ? -INFINITY : (float)r;
        order[i] = i;
        by_rank[i] = i;
    }
    /* Shuffle the offers. */
    for (int i = N - 1; i > 0; i--) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        int j = (int)((state >> 33) % (uint64_t)(i + 1));
        int32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    struct mz_topk_heap heap;
    mz_topk_heap_init(&heap, items, kept, K);
    for (int i = 0; i < N; i++)
        mz_topk_heap_offer(&heap, scores[order[i]], order[i]);
    ck_assert_uint_eq(mz_topk_heap_sort(&heap), K);

    qsort_r(by_rank, N, sizeof by_rank[0], reference_cmp, scores);
    for (int i = 0; i < K; i++) {
        ck_assert_int_eq(items[i], by_rank[i]);
        ck_assert_float_eq(kept[i], scores[by_rank[i]]);
    }
    /* mz_topk agrees where it does not skip -INFINITY. */
    ck_assert_uint_eq(mz_topk(scores, N, NULL, K, ref_items, ref_scores), K);
    for (int i = 0; i < K; i++)
        ck_assert_int_eq(ref_items[i], items[i]);
}
END_TEST

START_TEST(test_topk_heap_admits_ascending_agrees_with_offer)
{
    enum { N = 2000, K = 16 };
    int32_t items[K], before[K];
    float kept[K];
    uint64_t state = 4242u + (uint64_t)_i;
    struct mz_topk_heap heap;

    mz_topk_heap_init(&heap, items, kept, K);
    for (int i = 0; i < N; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        float score = (float)((state >> 33) % 30);
        bool admitted = mz_topk_heap_admits_ascending(&heap, score);
        size_t len = heap.len;
        for (size_t j = 0; j < len; j++)
            before[j] = items[j];
        mz_topk_heap_offer(&heap, score, i);
        bool changed = heap.len != len;
        for (size_t j = 0; j < len && !changed; j++)
            changed = before[j] != items[j];
        ck_assert_int_eq(admitted, changed);
    }
    ck_assert(!mz_topk_heap_admits_ascending(&heap, NAN));
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
    tcase_add_test(tc, test_topk_heap_keeps_minus_infinity_as_a_score);
    tcase_add_test(tc, test_topk_heap_with_cap_zero_keeps_nothing);
    tcase_add_loop_test(tc, test_topk_heap_order_does_not_depend_on_offer_order,
                        0, 4);
    tcase_add_loop_test(tc, test_topk_heap_admits_ascending_agrees_with_offer,
                        0, 3);
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
