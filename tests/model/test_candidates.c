/*-------------------------------------------------------------------------
 * test_candidates.c
 *    Unit tests of model/candidates.c: a candidate's score is the score
 *    mz_model_score gives it, the candidates hold every item a client's
 *    sparse terms reach and the items of the strongest prior, each once
 *    and ascending, cand_popular 0 turns them off, cand_max keeps the
 *    best before the dense term when they are more, the popular list
 *    survives a save, load and replay, a rebuild left to the caller
 *    gives the list the in-place one does, and a rebuild from the floor
 *    of the list it replaces ranks as the whole catalog does.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/candidates.h"
#include "model/model.h"
#include "model/topk.h"

enum { N_ITEMS = 3000, N_CLIENTS = 40, EVENTS = 30, POPULAR = 64 };

static const int64_t T0 = 1700000000;

/* The defaults with cand_popular POPULAR (0 when off). */
static struct mz_model_config test_config(bool off)
{
    struct mz_model_config cfg;

    mz_model_config_defaults(&cfg);
    cfg.cand_popular = off ? 0 : POPULAR;
    return cfg;
}

/* A model of N_ITEMS items (brand and category tokens) with cfg, taught
 * EVENTS events of each of N_CLIENTS clients (returned in clients,
 * caller frees): client c browses a neighbourhood of its own, with a few
 * hits shared by everyone. */
static struct mz_model *trained_model_with(const struct mz_model_config *cfg,
                                           struct mz_client **clients)
{
    char err[128] = "";

    struct mz_model *model = mz_model_new(cfg, err, sizeof err);
    ck_assert_msg(model != NULL, "mz_model_new: %s", err);
    for (int i = 0; i < N_ITEMS; i++) {
        char brand[32], category[32];
        snprintf(brand, sizeof brand, "brand=b%d", i % 13);
        snprintf(category, sizeof category, "category=c%d", i % 97);
        const char *tokens[] = {brand, category};
        ck_assert_int_eq(mz_model_add_item(model, tokens, 2), i);
    }
    for (int c = 0; c < N_CLIENTS; c++) {
        clients[c] = mz_client_new(model);
        ck_assert_ptr_nonnull(clients[c]);
    }
    for (int step = 0; step < EVENTS; step++)
        for (int c = 0; c < N_CLIENTS; c++) {
            int32_t item = step % 5 == 0
                               ? (int32_t)(step % 7)
                               : (int32_t)((c * 71 + step * 3) % N_ITEMS);
            struct mz_event_obs ev = {.item = item,
                                      .type = step % 9 == 4 ? MZ_EV_ADD_TO_CART
                                                            : MZ_EV_VIEW,
                                      .ts = T0 + step * 60,
                                      .seq = step * N_CLIENTS + c + 1,
                                      .quantity = 1};
            mz_model_observe(model, clients[c], &ev, true);
        }
    return model;
}

static struct mz_model *trained_model(bool off, struct mz_client **clients)
{
    struct mz_model_config cfg = test_config(off);

    return trained_model_with(&cfg, clients);
}

static void free_all(struct mz_model *model, struct mz_client **clients)
{
    for (int c = 0; c < N_CLIENTS; c++)
        mz_client_free(clients[c]);
    mz_model_free(model);
}

/* Every candidate scores what the full scan gives it; the list is
 * ascending without repeats, well short of the catalog, and holds the
 * POPULAR best items of the prior (the client-free score). */
START_TEST(test_candidates_score_as_the_full_scan)
{
    struct mz_client *clients[N_CLIENTS];
    struct mz_model *model = trained_model(false, clients);
    struct mz_candidates *cand = mz_candidates_new();
    float *full = malloc(N_ITEMS * sizeof *full);
    float *prior = malloc(N_ITEMS * sizeof *prior);
    uint8_t *listed = malloc(N_ITEMS);
    ck_assert_ptr_nonnull(cand);
    ck_assert_ptr_nonnull(full);
    ck_assert_ptr_nonnull(prior);
    ck_assert_ptr_nonnull(listed);
    int64_t now = T0 + EVENTS * 60;

    /* No client, no context: the score is the prior alone. */
    mz_model_score(model, NULL, -1, now, prior);
    for (int c = 0; c < N_CLIENTS; c++) {
        int32_t context = c % 3 == 0 ? (int32_t)(c * 37 % N_ITEMS) : -1;
        ck_assert(
            mz_model_score_candidates(model, clients[c], context, now, NULL, cand));
        mz_model_score(model, clients[c], context, now, full);
        size_t n;
        const int32_t *items = mz_candidates_items(cand, &n);
        const float *scores = mz_candidates_scores(cand);
        ck_assert_uint_ge(n, POPULAR);
        ck_assert_uint_lt(n, N_ITEMS / 2);
        memset(listed, 0, N_ITEMS);
        for (size_t i = 0; i < n; i++) {
            ck_assert(i == 0 || items[i] > items[i - 1]);
            ck_assert_int_lt(items[i], N_ITEMS);
            listed[items[i]] = 1;
            ck_assert_msg(fabsf(scores[items[i]] - full[items[i]]) <=
                              1e-5f * (1.0f + fabsf(full[items[i]])),
                          "client %d item %d: %g vs %g", c, items[i],
                          (double)scores[items[i]], (double)full[items[i]]);
        }
        /* The POPULAR items of the strongest prior are candidates for
         * every client. */
        int32_t best[POPULAR];
        float best_scores[POPULAR];
        size_t got = mz_topk(prior, N_ITEMS, NULL, POPULAR, best, best_scores);
        ck_assert_uint_eq(got, POPULAR);
        for (size_t i = 0; i < got; i++)
            ck_assert_msg(listed[best[i]], "popular item %d left out", best[i]);
    }
    /* Without a client or context, the candidates are the popular list
     * and score their prior. */
    ck_assert(mz_model_score_candidates(model, NULL, -1, now, NULL, cand));
    size_t n;
    const int32_t *items = mz_candidates_items(cand, &n);
    ck_assert_uint_eq(n, POPULAR);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq_tol(mz_candidates_scores(cand)[items[i]],
                               prior[items[i]], 1e-6f);
    free(listed);
    free(prior);
    free(full);
    mz_candidates_free(cand);
    free_all(model, clients);
}
END_TEST

/* The items only a client's own terms reach (its session's items and
 * their successors) are candidates even when they are not popular. */
START_TEST(test_candidates_hold_what_the_client_reached)
{
    struct mz_client *clients[N_CLIENTS];
    struct mz_model *model = trained_model(false, clients);
    struct mz_candidates *cand = mz_candidates_new();
    int64_t now = T0 + EVENTS * 60;
    ck_assert_ptr_nonnull(cand);

    for (int c = 0; c < N_CLIENTS; c++) {
        ck_assert(mz_model_score_candidates(model, clients[c], -1, now, NULL, cand));
        size_t n;
        const int32_t *items = mz_candidates_items(cand, &n);
        /* The client's last item: step EVENTS - 1 is not a shared hit. */
        int32_t last = (int32_t)((c * 71 + (EVENTS - 1) * 3) % N_ITEMS);
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = items[i] == last;
        ck_assert_msg(found, "client %d: its last item %d is no candidate", c,
                      last);
    }
    mz_candidates_free(cand);
    free_all(model, clients);
}
END_TEST

/* Orders item indices ascending. */
static int by_item(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Orders item indices by sort_scores, the higher first, then the lower
 * item (the one order of topk.h). */
static const float *sort_scores;

static int by_score(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (sort_scores[x] != sort_scores[y])
        return sort_scores[x] > sort_scores[y] ? -1 : 1;
    return x < y ? -1 : 1;
}

/* The candidates of client of model as a malloc'd copy (*n of them),
 * and their scores by item index into scores (N_ITEMS). */
static int32_t *candidates_copy(const struct mz_model *model,
                                const struct mz_client *client, size_t *n,
                                float *scores)
{
    struct mz_candidates *cand = mz_candidates_new();
    ck_assert_ptr_nonnull(cand);
    ck_assert(mz_model_score_candidates(model, client, -1,
                                        T0 + EVENTS * 60, NULL, cand));
    const int32_t *items = mz_candidates_items(cand, n);
    int32_t *copy = malloc((*n ? *n : 1) * sizeof *copy);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, items, *n * sizeof *copy);
    for (size_t i = 0; i < *n; i++)
        scores[items[i]] = mz_candidates_scores(cand)[items[i]];
    mz_candidates_free(cand);
    return copy;
}

/* cand_max cuts a list that the client's terms made longer: the cut
 * keeps cand_max candidates, ascending, each scored as uncut, and with
 * the dense term off (so the score is the key the cut ranks by) they are
 * exactly the cand_max best of the uncut list; with the dense term on,
 * a subset of the uncut list. A list within the bound is not cut. */
static void assert_cut_keeps_the_best(float w_dense)
{
    enum { CUT = 100 };
    struct mz_client *clients[N_CLIENTS], *twins[N_CLIENTS];
    struct mz_model_config cfg = test_config(false);
    cfg.w_dense = w_dense;
    cfg.cand_max = 0;
    struct mz_model *uncut = trained_model_with(&cfg, clients);
    cfg.cand_max = CUT;
    struct mz_model *cut = trained_model_with(&cfg, twins);
    float *full_scores = malloc(N_ITEMS * sizeof *full_scores);
    float *cut_scores = malloc(N_ITEMS * sizeof *cut_scores);
    ck_assert_ptr_nonnull(full_scores);
    ck_assert_ptr_nonnull(cut_scores);
    int n_cut = 0;

    for (int c = 0; c < N_CLIENTS; c++) {
        size_t n_full, n;
        int32_t *full = candidates_copy(uncut, clients[c], &n_full,
                                        full_scores);
        int32_t *kept = candidates_copy(cut, twins[c], &n, cut_scores);
        if (n_full <= CUT) {
            ck_assert_uint_eq(n, n_full);
            ck_assert_mem_eq(kept, full, n * sizeof *kept);
        } else {
            n_cut++;
            ck_assert_uint_eq(n, CUT);
            uint8_t in_full[N_ITEMS] = {0};
            for (size_t i = 0; i < n_full; i++)
                in_full[full[i]] = 1;
            for (size_t i = 0; i < n; i++) {
                ck_assert(i == 0 || kept[i] > kept[i - 1]);
                ck_assert_msg(in_full[kept[i]], "client %d: item %d kept but "
                              "no uncut candidate", c, kept[i]);
                ck_assert_float_eq(cut_scores[kept[i]], full_scores[kept[i]]);
            }
            if (w_dense == 0.0f) {
                sort_scores = full_scores;
                qsort(full, n_full, sizeof *full, by_score);
                qsort(full, CUT, sizeof *full, by_item);
                ck_assert_mem_eq(kept, full, CUT * sizeof *kept);
            }
        }
        free(kept);
        free(full);
    }
    /* The clients' histories reach more than CUT items (else the test
     * says nothing of the cut). */
    ck_assert_int_ge(n_cut, N_CLIENTS / 2);
    free(cut_scores);
    free(full_scores);
    free_all(cut, twins);
    free_all(uncut, clients);
}

/* Admits the items whose index is a multiple of *ctx (a stand-in for a
 * house's items among a group's). */
static bool admits_multiples(const void *ctx, int32_t item)
{
    return item % *(const int *)ctx == 0;
}

/* The items a scope admits are kept first: when they are fewer than the
 * cut, every one of them stays; when more, only they do. */
START_TEST(test_cut_keeps_the_scope_first)
{
    enum { CUT = 100 };
    struct mz_client *clients[N_CLIENTS], *twins[N_CLIENTS];
    struct mz_model_config cfg = test_config(false);
    cfg.cand_max = 0;
    struct mz_model *whole = trained_model_with(&cfg, twins);
    cfg.cand_max = CUT;
    struct mz_model *model = trained_model_with(&cfg, clients);
    struct mz_candidates *uncut = mz_candidates_new(), *cut = mz_candidates_new();
    ck_assert_ptr_nonnull(uncut);
    ck_assert_ptr_nonnull(cut);
    int64_t now = T0 + EVENTS * 60;
    int fewer = 0, more = 0;

    for (int every = 2; every <= 64; every *= 4) {
        struct mz_candidate_scope scope = {admits_multiples, &every};
        for (int c = 0; c < N_CLIENTS; c++) {
            ck_assert(mz_model_score_candidates(whole, twins[c], -1, now,
                                                NULL, uncut));
            ck_assert(mz_model_score_candidates(model, clients[c], -1, now,
                                                &scope, cut));
            size_t n_all, n;
            const int32_t *all = mz_candidates_items(uncut, &n_all);
            const int32_t *kept = mz_candidates_items(cut, &n);
            if (n_all <= CUT)
                continue;
            size_t admitted = 0, kept_admitted = 0;
            for (size_t i = 0; i < n_all; i++)
                admitted += all[i] % every == 0;
            for (size_t i = 0; i < n; i++)
                kept_admitted += kept[i] % every == 0;
            ck_assert_uint_eq(n, CUT);
            if (admitted >= CUT) {
                more++;
                ck_assert_uint_eq(kept_admitted, CUT);
            } else {
                fewer++;
                ck_assert_uint_eq(kept_admitted, admitted);
            }
        }
    }
    /* Both cases were met. */
    ck_assert_int_gt(fewer, 0);
    ck_assert_int_gt(more, 0);
    mz_candidates_free(cut);
    mz_candidates_free(uncut);
    free_all(model, clients);
    free_all(whole, twins);
}
END_TEST

START_TEST(test_cut_keeps_the_best_before_the_dense_term)
{
    assert_cut_keeps_the_best(0.0f);
    assert_cut_keeps_the_best(0.015f);
}
END_TEST

/* cand_popular 0: no candidates, the caller scores the whole catalog. */
START_TEST(test_no_candidates_when_turned_off)
{
    struct mz_client *clients[N_CLIENTS];
    struct mz_model *model = trained_model(true, clients);
    struct mz_candidates *cand = mz_candidates_new();
    ck_assert_ptr_nonnull(cand);
    ck_assert(!mz_model_score_candidates(model, clients[0], -1, T0, NULL, cand));
    size_t n = 1;
    mz_candidates_items(cand, &n);
    ck_assert_uint_eq(n, 0);
    mz_candidates_free(cand);
    mz_candidates_free(NULL);
    free_all(model, clients);
}
END_TEST

/* The popular list travels with the model: a model loaded from a
 * snapshot and taught the same events as the one that saved it keeps
 * the same candidates (what a restart and replay must give). */
/* A view of item by the step-th event after training. */
static struct mz_event_obs later_view(int step, int32_t item, int64_t seq)
{
    return (struct mz_event_obs){.item = item,
                                 .type = MZ_EV_VIEW,
                                 .ts = T0 + (EVENTS + step) * 60,
                                 .seq = seq,
                                 .quantity = 1};
}

/* Asserts that x and y list the same candidates for no client at ts. */
static void assert_same_candidates(const struct mz_model *x,
                                   const struct mz_model *y, int64_t ts)
{
    struct mz_candidates *a = mz_candidates_new();
    struct mz_candidates *b = mz_candidates_new();
    size_t na, nb;

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert(mz_model_score_candidates(x, NULL, -1, ts, NULL, a));
    ck_assert(mz_model_score_candidates(y, NULL, -1, ts, NULL, b));
    const int32_t *ia = mz_candidates_items(a, &na);
    const int32_t *ib = mz_candidates_items(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_mem_eq(ia, ib, na * sizeof *ia);
    mz_candidates_free(b);
    mz_candidates_free(a);
}

START_TEST(test_popular_list_survives_save_load_and_replay)
{
    struct mz_client *clients[N_CLIENTS];
    struct mz_model *model = trained_model(false, clients);
    struct mz_client *copies[N_CLIENTS];
    size_t len;
    char err[128] = "";
    void *bytes = mz_model_save(model, NULL, &len);
    ck_assert_ptr_nonnull(bytes);
    struct mz_client *unused[N_CLIENTS];
    struct mz_model *loaded = trained_model(false, unused);
    for (int c = 0; c < N_CLIENTS; c++)
        mz_client_free(unused[c]);
    ck_assert_int_eq(mz_model_load(loaded, NULL, bytes, len, err, sizeof err),
                     MZ_OK);
    free(bytes);
    for (int c = 0; c < N_CLIENTS; c++) {
        size_t n;
        void *b = mz_client_save(clients[c], &n);
        ck_assert_ptr_nonnull(b);
        copies[c] = mz_client_load(loaded, b, n, err, sizeof err);
        ck_assert_msg(copies[c] != NULL, "mz_client_load: %s", err);
        free(b);
    }
    /* 300 more events cross a rebuild (every 256); compare before and
     * after it. */
    for (int step = 0; step < 300; step++) {
        int c = step % N_CLIENTS;
        struct mz_event_obs ev = later_view(
            step, (int32_t)((step * 13 + 5) % N_ITEMS), 100000 + step);
        mz_model_observe(model, clients[c], &ev, true);
        mz_model_observe(loaded, copies[c], &ev, true);
        if (step % 50 == 49)
            assert_same_candidates(model, loaded, ev.ts);
    }
    for (int c = 0; c < N_CLIENTS; c++)
        mz_client_free(copies[c]);
    mz_model_free(loaded);
    free_all(model, clients);
}
END_TEST

/* The popular candidates of a model whose caller rebuilds them
 * (mz_model_defer_popular: rank and install when due, before the next
 * event, as the server's learner does) are those of a model that
 * rebuilds them in place, event by event; and a save taken while a
 * rebuild is due holds the rebuilt list, so a replay from it goes on as
 * the in-place model does. */
START_TEST(test_deferred_popular_rebuild_is_the_in_place_one)
{
    struct mz_client *clients[N_CLIENTS], *twins[N_CLIENTS];
    struct mz_model *in_place = trained_model(false, clients);
    struct mz_model *deferred = trained_model(false, twins);
    struct mz_model *from_save = NULL;
    int32_t list[POPULAR];
    int rebuilds = 0;
    char err[128] = "";

    mz_model_defer_popular(deferred, true);
    for (int step = 0; step < 600; step++) {
        int c = step % N_CLIENTS;
        struct mz_event_obs ev = later_view(
            step, (int32_t)((step * 17 + 3) % N_ITEMS), 200000 + step);
        mz_model_observe(in_place, clients[c], &ev, true);
        mz_model_observe(deferred, twins[c], &ev, true);
        if (mz_model_popular_due(deferred)) {
            if (!from_save) {
                size_t len;
                void *bytes = mz_model_save(deferred, NULL, &len);
                struct mz_client *unused[N_CLIENTS];
                ck_assert_ptr_nonnull(bytes);
                from_save = trained_model(false, unused);
                for (int u = 0; u < N_CLIENTS; u++)
                    mz_client_free(unused[u]);
                ck_assert_int_eq(
                    mz_model_load(from_save, NULL, bytes, len, err, sizeof err),
                    MZ_OK);
                free(bytes);
            }
            mz_model_install_popular(deferred, list,
                                     mz_model_rank_popular(deferred, list));
            ck_assert(!mz_model_popular_due(deferred));
            rebuilds++;
        }
        assert_same_candidates(in_place, deferred, ev.ts);
        /* Until the next rebuild, the list saved while one was due. */
        if (from_save && rebuilds == 1)
            assert_same_candidates(in_place, from_save, ev.ts);
    }
    /* 600 events after training cross two rebuilds (every 256). */
    ck_assert_int_ge(rebuilds, 2);
    mz_model_free(from_save);
    free_all(deferred, twins);
    free_all(in_place, clients);
}
END_TEST

/* Asserts that mz_model_rank_popular gives the POPULAR best priors of
 * the whole catalog (mz_topk over the client-free score), in order. */
static void assert_ranks_the_whole_catalog(const struct mz_model *model,
                                           int64_t now, const char *when)
{
    float *prior = malloc(N_ITEMS * sizeof *prior);
    int32_t want[POPULAR];
    float want_scores[POPULAR];
    int32_t got[POPULAR];
    ck_assert_ptr_nonnull(prior);

    mz_model_score(model, NULL, -1, now, prior);
    size_t n_want = mz_topk(prior, N_ITEMS, NULL, POPULAR, want, want_scores);
    int32_t n_got = mz_model_rank_popular(model, got);
    ck_assert_int_eq(n_got, (int32_t)n_want);
    for (int32_t i = 0; i < n_got; i++)
        ck_assert_msg(got[i] == want[i], "%s: place %d is item %d, not %d",
                      when, i, got[i], want[i]);
    free(prior);
}

/* A rebuild ranks only the items at or above the lowest prior of the
 * list it replaces; the list is still the whole catalog's best: as the
 * priors move with learning, and from a replaced list that proves
 * nothing (one item repeated, the best or the worst; an item out of the
 * catalog). */
START_TEST(test_rank_popular_is_the_whole_catalogs_best)
{
    struct mz_client *clients[N_CLIENTS];
    struct mz_model *model = trained_model(false, clients);
    int32_t list[POPULAR];

    for (int step = 0; step < 400; step++) {
        int c = step % N_CLIENTS;
        /* New items climb: a stream that favours a moving window. */
        struct mz_event_obs ev = later_view(
            step, (int32_t)((step / 20 * 37 + step % 4) % N_ITEMS),
            300000 + step);
        mz_model_observe(model, clients[c], &ev, true);
        if (step % 25 == 0)
            assert_ranks_the_whole_catalog(model, ev.ts, "learning");
    }
    int64_t now = T0 + (EVENTS + 400) * 60;
    float *prior = malloc(N_ITEMS * sizeof *prior);
    ck_assert_ptr_nonnull(prior);
    mz_model_score(model, NULL, -1, now, prior);
    int32_t best = 0, worst = 0;
    for (int32_t j = 1; j < N_ITEMS; j++) {
        if (prior[j] > prior[best])
            best = j;
        if (prior[j] < prior[worst])
            worst = j;
    }
    free(prior);
    const int32_t repeated[] = {best, worst};
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < POPULAR; i++)
            list[i] = repeated[r];
        mz_model_install_popular(model, list, POPULAR);
        assert_ranks_the_whole_catalog(model, now, r ? "worst" : "best");
    }
    for (int i = 0; i < POPULAR; i++)
        list[i] = i;
    list[POPULAR / 2] = N_ITEMS + 5;
    mz_model_install_popular(model, list, POPULAR);
    assert_ranks_the_whole_catalog(model, now, "out of the catalog");
    free_all(model, clients);
}
END_TEST

static Suite *candidates_suite(void)
{
    Suite *s = suite_create("candidates");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_candidates_score_as_the_full_scan);
    tcase_add_test(tc, test_candidates_hold_what_the_client_reached);
    tcase_add_test(tc, test_cut_keeps_the_best_before_the_dense_term);
    tcase_add_test(tc, test_cut_keeps_the_scope_first);
    tcase_add_test(tc, test_no_candidates_when_turned_off);
    tcase_add_test(tc, test_popular_list_survives_save_load_and_replay);
    tcase_add_test(tc, test_deferred_popular_rebuild_is_the_in_place_one);
    tcase_add_test(tc, test_rank_popular_is_the_whole_catalogs_best);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(candidates_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
