/*-------------------------------------------------------------------------
 * test_similar.c
 *    Unit tests of model/similar.c: the transition neighbour ranks first,
 *    a rare shared token counts more than a common one, the item space
 *    speaks only for learned rows, the explained parts add up to the
 *    score, popularity halves every half-life and survives a snapshot.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/model.h"
#include "model/similar.h"

#define T0  1795428000LL
#define DAY 86400

enum { N_ITEMS = 100 };

/* Item 0 and 1 share brand a, category bags and the rare tag; 2..49 are
 * brand a, bags; 50..99 brand b, shoes. */
static struct mz_model *new_model(void)
{
    struct mz_model_config cfg;
    char err[128] = "";

    mz_model_config_defaults(&cfg);
    cfg.dim = 16;
    struct mz_model *model = mz_model_new(&cfg, err, sizeof err);
    ck_assert_msg(model != NULL, "mz_model_new: %s", err);
    for (int i = 0; i < N_ITEMS; i++) {
        const char *a[] = {"brand=a", "category=bags", "tag=rare"};
        const char *b[] = {"brand=b", "category=shoes"};
        int32_t at = i < 2    ? mz_model_add_item(model, a, 3)
                     : i < 50 ? mz_model_add_item(model, a, 2)
                              : mz_model_add_item(model, b, 2);
        ck_assert_int_eq(at, i);
    }
    return model;
}

static void observe(struct mz_model *model, struct mz_client *c, int32_t item,
                    enum mz_event_type type, int64_t ts)
{
    struct mz_event_obs ev = {
        .item = item, .type = type, .ts = ts, .quantity = 1};
    mz_model_observe(model, c, &ev, true);
}

/* n clients each view first, then then. */
static void co_view(struct mz_model *model, int32_t first, int32_t then, int n)
{
    for (int i = 0; i < n; i++) {
        struct mz_client *c = mz_client_new(model);
        observe(model, c, first, MZ_EV_VIEW, T0 + i);
        observe(model, c, then, MZ_EV_VIEW, T0 + i + 1);
        mz_client_free(c);
    }
}

/* The best item other than skip. */
static int32_t best_but(const float *scores, int32_t skip)
{
    int32_t best = -1;
    for (int32_t j = 0; j < N_ITEMS; j++)
        if (j != skip && (best < 0 || scores[j] > scores[best]))
            best = j;
    return best;
}

static void check_parts_add_up(const struct mz_model *model, int32_t item,
                               const float *scores)
{
    for (int32_t j = 0; j < N_ITEMS; j++) {
        struct mz_similar_parts p;
        mz_similar_explain(model, item, j, &p);
        float sum = p.transitions + p.attributes + p.item_space + p.popularity;
        ck_assert_msg(fabsf(sum - scores[j]) < 1e-5f,
                      "item %d: parts %g, score %g", j, sum, scores[j]);
    }
}

START_TEST(test_rare_shared_tokens_count_more_and_cold_rows_stay_out)
{
    struct mz_model *model = new_model();
    float scores[N_ITEMS];

    mz_similar_scores(model, 0, scores);
    ck_assert_int_eq(best_but(scores, 0), 1);
    ck_assert_float_gt(scores[2], 0.0f);
    ck_assert_float_gt(scores[1], 2.0f * scores[2]);
    ck_assert_float_eq(scores[60], 0.0f); /* nothing in common */
    ck_assert_float_eq_tol(scores[1], MZ_SIMILAR_W_ATTR, 1e-6f);
    for (int32_t j = 0; j < N_ITEMS; j++) {
        struct mz_similar_parts p;
        mz_similar_explain(model, 0, j, &p);
        ck_assert_float_eq(p.item_space, 0.0f);
        ck_assert_float_eq(p.transitions, 0.0f);
    }
    check_parts_add_up(model, 0, scores);
    mz_similar_scores(model, -1, scores);
    ck_assert_float_eq(scores[1], 0.0f);
    mz_similar_scores(model, N_ITEMS, scores);
    ck_assert_float_eq(scores[1], 0.0f);
    mz_model_free(model);
}
END_TEST

START_TEST(test_the_co_viewed_item_ranks_first)
{
    struct mz_model *model = new_model();
    float scores[N_ITEMS];

    /* Item 70 shares nothing with item 0 but follows it 30 times; the
     * twin (1) shares every token. */
    co_view(model, 0, 70, 30);
    mz_similar_scores(model, 0, scores);
    ck_assert_int_eq(best_but(scores, 0), 70);
    ck_assert_float_gt(scores[1], scores[2]);
    struct mz_similar_parts p;
    mz_similar_explain(model, 0, 70, &p);
    ck_assert_float_gt(p.transitions, 0.4f);
    ck_assert_float_eq(p.attributes, 0.0f);
    /* Both rows learned from 30 views: the item space may speak, and
     * whatever it says is in the score. */
    check_parts_add_up(model, 0, scores);
    /* The backward weight (trans_backward) makes 0 a neighbour of 70
     * too, ahead of item 1, which shares nothing with 70. */
    mz_similar_scores(model, 70, scores);
    ck_assert_float_gt(scores[0], 0.1f);
    ck_assert_float_eq(scores[1], 0.0f);
    check_parts_add_up(model, 70, scores);
    mz_model_free(model);
}
END_TEST

START_TEST(test_popularity_halves_every_half_life_and_survives_a_snapshot)
{
    struct mz_model *model = new_model();
    struct mz_client *c = mz_client_new(model);
    double half_life = mz_model_config_of(model)->pop_half_life_s;

    ck_assert(half_life == 7.0 * DAY);
    observe(model, c, 5, MZ_EV_PURCHASE, T0); /* weight 5 */
    for (int i = 0; i < 3; i++)
        observe(model, c, 6, MZ_EV_VIEW, T0 + 7 * DAY); /* 3 x 1 */
    ck_assert_float_eq_tol(mz_popularity_of(model, 5, T0 + 7 * DAY), 2.5f,
                           1e-4f);
    ck_assert_float_eq_tol(mz_popularity_of(model, 6, T0 + 7 * DAY), 3.0f,
                           1e-4f);
    ck_assert_float_eq_tol(mz_popularity_of(model, 5, T0 + 14 * DAY), 1.25f,
                           1e-4f);
    ck_assert_float_eq_tol(mz_popularity_of(model, 6, T0 + 14 * DAY), 1.5f,
                           1e-4f);
    /* A request clock behind the decay's reference (the first event
     * here) counts as of the reference, not more. */
    ck_assert_float_eq_tol(mz_popularity_of(model, 5, T0 - 7 * DAY), 5.0f,
                           1e-4f);
    ck_assert_float_eq(mz_popularity_of(model, 7, T0), 0.0f);
    ck_assert_float_eq(mz_popularity_of(model, -1, T0), 0.0f);
    float now[N_ITEMS];
    mz_popularity_now(model, T0 + 14 * DAY, now);
    ck_assert_float_eq(now[5], mz_popularity_of(model, 5, T0 + 14 * DAY));

    char names[N_ITEMS][16];
    const char *ids[N_ITEMS];
    for (int i = 0; i < N_ITEMS; i++) {
        snprintf(names[i], sizeof names[i], "it-%d", i);
        ids[i] = names[i];
    }
    size_t len = 0;
    void *bytes = mz_model_save(model, ids, &len);
    ck_assert_ptr_nonnull(bytes);
    struct mz_model *back = new_model();
    char err[128] = "";
    ck_assert_int_eq(mz_model_load(back, ids, bytes, len, err, sizeof err),
                     MZ_OK);
    for (int32_t j = 0; j < N_ITEMS; j++)
        ck_assert_float_eq(mz_popularity_of(back, j, T0 + 9 * DAY),
                           mz_popularity_of(model, j, T0 + 9 * DAY));
    float a[N_ITEMS], b[N_ITEMS];
    mz_similar_scores(model, 5, a);
    mz_similar_scores(back, 5, b);
    for (int32_t j = 0; j < N_ITEMS; j++)
        ck_assert_float_eq(a[j], b[j]);
    free(bytes);
    mz_model_free(back);
    mz_client_free(c);
    mz_model_free(model);
}
END_TEST

static Suite *similar_suite(void)
{
    Suite *s = suite_create("similar");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc,
                   test_rare_shared_tokens_count_more_and_cold_rows_stay_out);
    tcase_add_test(tc, test_the_co_viewed_item_ranks_first);
    tcase_add_test(
        tc, test_popularity_halves_every_half_life_and_survives_a_snapshot);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(similar_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
