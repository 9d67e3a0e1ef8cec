/*-------------------------------------------------------------------------
 * test_vec.c
 *    Unit tests of model/vec.h: y += a x rounds each element as a product
 *    then a sum (the bits OpenBLAS's SSE kernel writes), leaves y alone
 *    when a is 0; a . b is the sum of the products, at every length.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/vec.h"

/* Lengths around the blocks of 8: none, a tail only, whole blocks, both. */
static const int lengths[] = {0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 200};
#define N_LENGTHS (int)(sizeof lengths / sizeof lengths[0])
#define MAX_LEN 200

/* A float of any sign and a wide range of magnitudes, from a fixed seed. */
static float random_float(unsigned *seed)
{
    float unit = (float)rand_r(seed) / (float)RAND_MAX - 0.5f;
    int exponent = rand_r(seed) % 40 - 20;
    return ldexpf(unit, exponent);
}

/* The element as two separately rounded operations: the product, stored
 * as a float, then the sum. */
static float product_then_sum(float y, float a, float x)
{
    volatile float product = a * x;
    return y + product;
}

START_TEST(test_axpy_rounds_the_product_then_the_sum)
{
    unsigned seed = 11;
    float x[MAX_LEN];
    float y[MAX_LEN];
    float want[MAX_LEN];

    for (int round = 0; round < 2000; round++) {
        int n = lengths[round % N_LENGTHS];
        float a = random_float(&seed);
        for (int k = 0; k < n; k++) {
            x[k] = random_float(&seed);
            y[k] = random_float(&seed);
            want[k] = product_then_sum(y[k], a, x[k]);
        }
        if (n < MAX_LEN)
            y[n] = 12.5f; /* past the end: must stay */
        mz_vec_axpy(n, a, x, y);
        for (int k = 0; k < n; k++)
            ck_assert_msg(memcmp(&y[k], &want[k], sizeof(float)) == 0,
                          "n %d, element %d: %a against %a", n, k,
                          (double)y[k], (double)want[k]);
        if (n < MAX_LEN)
            ck_assert_msg(y[n] == 12.5f, "n %d: wrote past the end", n);
    }
}
END_TEST

START_TEST(test_axpy_with_zero_leaves_y_bit_for_bit)
{
    float x[16];
    float y[16];
    float before[16];

    for (int k = 0; k < 16; k++) {
        x[k] = k % 3 == 0 ? INFINITY : (float)k;
        y[k] = k % 2 == 0 ? -0.0f : (float)-k;
    }
    memcpy(before, y, sizeof y);
    mz_vec_axpy(16, 0.0f, x, y);
    ck_assert(memcmp(before, y, sizeof y) == 0);
    mz_vec_axpy(16, -0.0f, x, y);
    ck_assert(memcmp(before, y, sizeof y) == 0);
    /* Any other a does touch y: -0.0 + 1 * 1.0 is 1.0. */
    mz_vec_axpy(16, 1.0f, x, y);
    ck_assert(y[1] == 0.0f && y[2] == 2.0f && isinf(y[3]));
}
END_TEST

START_TEST(test_dot_is_the_sum_of_the_products_at_every_length)
{
    unsigned seed = 5;
    float a[MAX_LEN];
    float b[MAX_LEN];

    for (int round = 0; round < 2000; round++) {
        int n = lengths[round % N_LENGTHS];
        double exact = 0.0;
        double magnitude = 0.0;
        for (int k = 0; k < n; k++) {
            a[k] = (float)rand_r(&seed) / (float)RAND_MAX - 0.5f;
            b[k] = (float)rand_r(&seed) / (float)RAND_MAX - 0.5f;
            exact += (double)a[k] * (double)b[k];
            magnitude += fabs((double)a[k] * (double)b[k]);
        }
        float got = mz_vec_dot(a, b, n);
        /* Float sums of n terms: within n roundings of the magnitude. */
        double bound = (double)(n + 1) * 6e-8 * magnitude;
        ck_assert_msg(fabs((double)got - exact) <= bound,
                      "n %d: %.9g against %.9g", n, (double)got, exact);
    }
    ck_assert(mz_vec_dot(a, b, 0) == 0.0f);
}
END_TEST

START_TEST(test_dot_reads_the_tail_after_the_blocks)
{
    float a[11];
    float b[11];

    for (int k = 0; k < 11; k++) {
        a[k] = 1.0f;
        b[k] = (float)(1 << k);
    }
    /* 1 + 2 + ... + 1024: every power counts once, the last three from
     * the tail after the one block of 8. */
    ck_assert(mz_vec_dot(a, b, 11) == 2047.0f);
    ck_assert(mz_vec_dot(a, b, 8) == 255.0f);
    ck_assert(mz_vec_dot(a, b, 3) == 7.0f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_axpy_rounds_the_product_then_the_sum);
    tcase_add_test(tc, test_axpy_with_zero_leaves_y_bit_for_bit);
    tcase_add_test(tc, test_dot_is_the_sum_of_the_products_at_every_length);
    tcase_add_test(tc, test_dot_reads_the_tail_after_the_blocks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
