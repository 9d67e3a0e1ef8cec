/*-------------------------------------------------------------------------
 * test_token_bucket.c
 *    Unit tests of model/token_bucket.c, on a clock the test sets (no
 *    sleeps): a full bucket lets a burst through, then one request per
 *    interval; the wait it names is exact; an idle bucket refills to its
 *    burst and no further; threads taking at once never take more than
 *    the bucket holds; out-of-range rates are refused.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>

#include "model/token_bucket.h"

#define S  1000000000LL /* nanoseconds */
#define MS 1000000LL

/* An arbitrary start: the bucket must not care where the clock is. */
#define T0 (12345 * S)

/* Takes until refused at now; returns how many were taken. */
static int take_all(struct mz_token_bucket *b, int64_t now, int64_t *wait)
{
    int n = 0;
    while (mz_token_bucket_take(b, now, wait))
        n++;
    return n;
}

START_TEST(test_a_full_bucket_lets_the_burst_through_then_refuses)
{
    struct mz_token_bucket b;
    int64_t wait = 0;

    ck_assert(mz_token_bucket_init(&b, 5.0, 5));
    ck_assert_int_eq(take_all(&b, T0, &wait), 5);
    /* 5 per second: the next token comes 200 ms later. */
    ck_assert_int_eq(wait, 200 * MS);
    ck_assert_int_eq(mz_token_bucket_wait_s(wait), 1);
}
END_TEST

START_TEST(test_tokens_come_back_one_interval_at_a_time)
{
    struct mz_token_bucket b;
    int64_t wait = 0;

    ck_assert(mz_token_bucket_init(&b, 5.0, 5));
    ck_assert_int_eq(take_all(&b, T0, &wait), 5);
    ck_assert(!mz_token_bucket_take(&b, T0 + 199 * MS, &wait));
    ck_assert_int_eq(wait, 1 * MS);
    ck_assert(mz_token_bucket_take(&b, T0 + 200 * MS, &wait));
    ck_assert(!mz_token_bucket_take(&b, T0 + 200 * MS, &wait));
    ck_assert_int_eq(wait, 200 * MS);
    /* 600 ms more: three tokens. */
    ck_assert_int_eq(take_all(&b, T0 + 800 * MS, &wait), 3);
}
END_TEST

START_TEST(test_an_idle_bucket_refills_to_its_burst_and_no_further)
{
    struct mz_token_bucket b;
    int64_t wait = 0;

    ck_assert(mz_token_bucket_init(&b, 10.0, 3));
    ck_assert_int_eq(take_all(&b, T0, &wait), 3);
    ck_assert_int_eq(take_all(&b, T0 + 3600 * S, &wait), 3);
}
END_TEST

START_TEST(test_a_slow_rate_names_a_wait_of_many_seconds)
{
    struct mz_token_bucket b;
    int64_t wait = 0;

    /* One request a minute. */
    ck_assert(mz_token_bucket_init(&b, 1.0 / 60.0, 1));
    ck_assert(mz_token_bucket_take(&b, T0, &wait));
    ck_assert(!mz_token_bucket_take(&b, T0 + 10 * S, &wait));
    ck_assert_int_eq(mz_token_bucket_wait_s(wait), 50);
    ck_assert(!mz_token_bucket_take(&b, T0 + 59 * S + 500 * MS, &wait));
    /* Half a second left: Retry-After rounds up to 1, never 0. */
    ck_assert_int_eq(mz_token_bucket_wait_s(wait), 1);
    ck_assert(mz_token_bucket_take(&b, T0 + 60 * S, &wait));
}
END_TEST

START_TEST(test_a_fast_rate_keeps_its_pace_over_a_long_run)
{
    struct mz_token_bucket b;
    int64_t wait = 0;
    int taken = 0;

    /* 3 per second does not divide a second in whole nanoseconds: with
     * one request every millisecond for 100 s, exactly 300 pass beyond
     * the burst. */
    ck_assert(mz_token_bucket_init(&b, 3.0, 2));
    for (int64_t t = 0; t <= 100 * S; t += MS)
        taken += mz_token_bucket_take(&b, T0 + t, &wait);
    ck_assert_int_eq(taken, 2 + 300);
}
END_TEST

START_TEST(test_wait_seconds_round_up)
{
    ck_assert_int_eq(mz_token_bucket_wait_s(1), 1);
    ck_assert_int_eq(mz_token_bucket_wait_s(S), 1);
    ck_assert_int_eq(mz_token_bucket_wait_s(S + 1), 2);
    ck_assert_int_eq(mz_token_bucket_wait_s(0), 1);
}
END_TEST

START_TEST(test_out_of_range_rates_are_refused)
{
    struct mz_token_bucket b;

    ck_assert(!mz_token_bucket_init(&b, 0.0, 1));
    ck_assert(!mz_token_bucket_init(&b, -1.0, 1));
    ck_assert(!mz_token_bucket_init(&b, 0.0001, 1));
    ck_assert(!mz_token_bucket_init(&b, 2e9, 1));
    ck_assert(!mz_token_bucket_init(&b, 0.0 / 0.0, 1));
    ck_assert(!mz_token_bucket_init(&b, 5.0, 0));
    ck_assert(!mz_token_bucket_init(&b, 5.0, MZ_TOKEN_BUCKET_MAX_BURST + 1));
    /* The extremes are accepted and do not overflow. */
    int64_t wait = 0;
    ck_assert(mz_token_bucket_init(&b, MZ_TOKEN_BUCKET_MIN_RATE,
                                   MZ_TOKEN_BUCKET_MAX_BURST));
    ck_assert(mz_token_bucket_take(&b, T0, &wait));
    ck_assert(mz_token_bucket_init(&b, MZ_TOKEN_BUCKET_MAX_RATE, 1));
    ck_assert_int_eq(take_all(&b, T0, &wait), 1);
    ck_assert_int_eq(wait, 1);
}
END_TEST

/* Threads taking from one bucket at the same instant. */
struct racer {
    struct mz_token_bucket *bucket;
    int taken;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    int64_t wait;

    for (int i = 0; i < 20000; i++)
        r->taken += mz_token_bucket_take(r->bucket, T0, &wait);
    return NULL;
}

START_TEST(test_threads_at_once_take_exactly_the_burst)
{
    struct mz_token_bucket b;
    struct racer racers[4];
    pthread_t threads[4];
    int total = 0;

    ck_assert(mz_token_bucket_init(&b, 1.0, 5000));
    for (int i = 0; i < 4; i++) {
        racers[i] = (struct racer){.bucket = &b};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, race, &racers[i]),
                         0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        total += racers[i].taken;
    }
    ck_assert_int_eq(total, 5000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("token_bucket");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_a_full_bucket_lets_the_burst_through_then_refuses);
    tcase_add_test(tc, test_tokens_come_back_one_interval_at_a_time);
    tcase_add_test(tc, test_an_idle_bucket_refills_to_its_burst_and_no_further);
    tcase_add_test(tc, test_a_slow_rate_names_a_wait_of_many_seconds);
    tcase_add_test(tc, test_a_fast_rate_keeps_its_pace_over_a_long_run);
    tcase_add_test(tc, test_wait_seconds_round_up);
    tcase_add_test(tc, test_out_of_range_rates_are_refused);
    tcase_add_test(tc, test_threads_at_once_take_exactly_the_burst);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
