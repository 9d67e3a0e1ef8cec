/*-------------------------------------------------------------------------
 * test_model.c
 *    Unit tests of the nested model through model.h (model/model.c,
 *    item_rows.c, query.c, global_level.c, client_levels.c, client.c,
 *    score.c, model_io.c, model_config.c): learning moves scores, the
 *    nested chunk rule, reset, determinism of replays and of cold starts,
 *    byte round trips and the rejection of corrupted bytes, and retired
 *    items left to the catalog.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bytes.h"
#include "model/catalog.h"
#include "model/item_memory.h"
#include "model/model.h"
#include "model/rules_select.h"

enum { N_ITEMS = 200, N_BRANDS = 10 };

/* A model with N_ITEMS items over N_BRANDS brands (item i has brand
 * i % N_BRANDS); caller frees. */
static struct mz_model *new_model(const struct mz_model_config *cfg)
{
    char err[128] = "";
    struct mz_model *model = mz_model_new(cfg, err, sizeof err);

    ck_assert_msg(model != NULL, "mz_model_new: %s", err);
    for (int i = 0; i < N_ITEMS; i++) {
        char brand[32], category[32];
        snprintf(brand, sizeof brand, "brand=b%d", i % N_BRANDS);
        snprintf(category, sizeof category, "category=c%d", i % 7);
        const char *tokens[] = {brand, category};
        ck_assert_int_eq(mz_model_add_item(model, tokens, 2), i);
    }
    return model;
}

static struct mz_model *new_default_model(void)
{
    struct mz_model_config cfg;

    mz_model_config_defaults(&cfg);
    return new_model(&cfg);
}

static struct mz_event_obs view(int32_t item, int64_t ts)
{
    struct mz_event_obs ev = {
        .item = item,
        .type = MZ_EV_VIEW,
        .ts = ts,
        .seq = ts,
        .value = 0.0f,
        .quantity = 1,
        .dwell_ms = 0,
    };
    return ev;
}

/* A deterministic stream of browsing: client c walks brand c % N_BRANDS. */
static struct mz_event_obs stream_event(int c, int step)
{
    int32_t item =
        (int32_t)(((c + step * 3) % (N_ITEMS / N_BRANDS)) * N_BRANDS +
                  c % N_BRANDS);
    struct mz_event_obs ev = view(item, 1700000000 + step * 30);
    ev.seq = step + 1;
    if (step % 11 == 5)
        ev.type = MZ_EV_PURCHASE;
    if (step % 13 == 7)
        ev.type = MZ_EV_DISMISS;
    return ev;
}

/* Rank (0 = best) of item among scores. */
static int rank_of(const float *scores, int32_t item)
{
    int rank = 0;

    for (int i = 0; i < N_ITEMS; i++)
        if (scores[i] > scores[item] || (scores[i] == scores[item] && i < item))
            rank++;
    return rank;
}

START_TEST(test_config_defaults_valid_and_bad_config_rejected)
{
    struct mz_model_config cfg;
    char err[128] = "";

    mz_model_config_defaults(&cfg);
    struct mz_model *model = mz_model_new(&cfg, err, sizeof err);
    ck_assert_ptr_nonnull(model);
    mz_model_free(model);

    cfg.n_levels = MZ_MAX_LEVELS + 1;
    ck_assert_ptr_null(mz_model_new(&cfg, err, sizeof err));
    ck_assert_str_ne(err, "");
    mz_model_config_defaults(&cfg);
    cfg.level_chunk[1] = 0;
    err[0] = '\0';
    ck_assert_ptr_null(mz_model_new(&cfg, err, sizeof err));
    ck_assert_str_ne(err, "");
    mz_model_free(NULL);
    mz_client_free(NULL);
}
END_TEST

START_TEST(test_config_set_by_name_parses_in_full)
{
    struct mz_model_config cfg, before;
    char err[128] = "";

    mz_model_config_defaults(&cfg);
    ck_assert_int_eq(
        mz_model_config_set(&cfg, "w_trans", "4.5", err, sizeof err), MZ_OK);
    ck_assert_float_eq(cfg.w_trans, 4.5f);
    ck_assert_int_eq(
        mz_model_config_set(&cfg, "level_chunk.2", "32", err, sizeof err),
        MZ_OK);
    ck_assert_int_eq(cfg.level_chunk[2], 32);
    ck_assert_int_eq(mz_model_config_set(&cfg, "event_weight.purchase", "7",
                                         err, sizeof err),
                     MZ_OK);
    ck_assert_float_eq(cfg.event_weight[MZ_EV_PURCHASE], 7.0f);
    ck_assert_int_eq(
        mz_model_config_set(&cfg, "nested", "false", err, sizeof err), MZ_OK);
    ck_assert(!cfg.nested);

    /* Anything not entirely valid leaves cfg as it was. */
    before = cfg;
    const char *bad[][2] = {
        {"no_such", "1"},           {"w_trans", "4x"},   {"w_trans", ""},
        {"w_trans", "nan"},         {"level_lr", "0.1"}, {"level_lr.9", "0.1"},
        {"level_lr.-1", "0.1"},     {"w_trans.1", "2"},  {"dim", "99999999999"},
        {"event_weight.nope", "1"}, {"nested", "yes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_int_eq(
            mz_model_config_set(&cfg, bad[i][0], bad[i][1], err, sizeof err),
            MZ_ERR_INVALID);
        ck_assert_str_ne(err, "");
    }
    ck_assert_int_eq(memcmp(&cfg, &before, sizeof cfg), 0);
}
END_TEST

START_TEST(test_observe_moves_scores_toward_item)
{
    struct mz_model_config cfg;
    mz_model_config_defaults(&cfg);
    /* Only the levels: the test is about the client memory. */
    cfg.use_session = false;
    cfg.w_trans = 0.0f;
    cfg.w_repeat = 0.0f;
    struct mz_model *model = new_model(&cfg);
    struct mz_client *client = mz_client_new(model);
    float before[N_ITEMS], after[N_ITEMS];
    const int32_t target = 42;

    mz_model_score(model, client, -1, 1700000000, before);
    for (int t = 0; t < 3; t++) {
        struct mz_event_obs ev = view(target, 1700000000 + t);
        ev.type = MZ_EV_PURCHASE;
        mz_model_observe(model, client, &ev, false);
    }
    mz_model_score(model, client, -1, 1700000003, after);
    ck_assert_float_gt(after[target] - before[target], 0.0f);
    ck_assert_int_lt(rank_of(after, target), 3);
    /* An item of the same brand and category gains more than an unrelated
     * one: the cold-start rows carry the attributes. */
    ck_assert_float_gt(after[target + 70] - before[target + 70],
                       after[target + 1] - before[target + 1]);
    ck_assert_int_eq(mz_client_event_count(client), 3);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

START_TEST(test_dismiss_pushes_score_down)
{
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    float before[N_ITEMS], after[N_ITEMS];

    struct mz_event_obs ev = view(17, 1700000000);
    mz_model_observe(model, client, &ev, false);
    mz_model_score(model, client, -1, 1700000001, before);
    ev = view(27, 1700000001);
    ev.type = MZ_EV_DISMISS;
    mz_model_observe(model, client, &ev, false);
    mz_model_score(model, client, -1, 1700000002, after);
    ck_assert_float_lt(after[27], before[27]);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

/* Level 1 consolidates only at its chunk boundary, but its open chunk is
 * read at once (at the weight the boundary will give it), so the level
 * never lags behind the events. */
START_TEST(test_nested_level1_waits_for_chunk_boundary)
{
    struct mz_model *model = new_default_model();
    const struct mz_model_config *cfg = mz_model_config_of(model);
    struct mz_client *client = mz_client_new(model);
    float contrib[MZ_SOURCE_COUNT];
    int chunk = cfg->level_chunk[1];

    ck_assert_int_gt(chunk, 1);
    for (int t = 0; t < chunk - 1; t++) {
        struct mz_event_obs ev = stream_event(3, t);
        mz_model_observe(model, client, &ev, false);
        mz_model_explain(model, client, -1, ev.ts, 5, contrib);
        ck_assert_float_ne(contrib[MZ_SOURCE_LEVEL0 + 1], 0.0f);
        ck_assert_int_eq(mz_client_level_events(client, 1), 0);
        ck_assert_int_eq(mz_client_level_consolidated_at(client, 1), 0);
    }
    ck_assert_float_ne(contrib[MZ_SOURCE_LEVEL0], 0.0f);
    struct mz_event_obs last = stream_event(3, chunk - 1);
    mz_model_observe(model, client, &last, false);
    mz_model_explain(model, client, -1, last.ts, 5, contrib);
    ck_assert_float_ne(contrib[MZ_SOURCE_LEVEL0 + 1], 0.0f);
    ck_assert_int_eq(mz_client_level_events(client, 1), chunk);
    ck_assert_int_eq(mz_client_level_consolidated_at(client, 1), last.ts);
    ck_assert_int_eq(mz_client_level_events(client, 0), chunk);
    ck_assert_int_eq(mz_client_level_events(client, 2), 0);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

/* The CMS promise on a switch of taste: after a run of one-off items,
 * level 0 has moved on, but the slowest level still holds the item the
 * client came back to again and again, because a one-off item enters a
 * slow level at 1/C of its weight. */
START_TEST(test_slow_level_keeps_what_was_repeated)
{
    struct mz_model *model = new_default_model();
    const struct mz_model_config *cfg = mz_model_config_of(model);
    struct mz_client *client = mz_client_new(model);
    int slowest = cfg->n_levels - 1;
    int64_t ts = 1700000000;
    const int32_t favourite = 40;

    for (int t = 0; t < 4 * cfg->level_chunk[slowest]; t++) {
        struct mz_event_obs ev = view(t % 2 ? favourite : 60 + t % 7, ts++);
        mz_model_observe(model, client, &ev, false);
    }
    for (int32_t other = 100; other < 100 + 3 * MZ_ITEM_MEMORY_SLOTS; other++) {
        struct mz_event_obs ev = view(other, ts++);
        mz_model_observe(model, client, &ev, false);
    }
    ck_assert_int_eq(mz_model_evidence_item(
                         model, client, MZ_SOURCE_LEVEL0 + slowest, favourite),
                     favourite);
    ck_assert_int_ne(
        mz_model_evidence_item(model, client, MZ_SOURCE_LEVEL0, favourite),
        favourite);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

/* A new intent is not drowned by the old taste, which is kept: while the
 * client browses items unrelated to what the slowest level holds, that
 * level says nothing of its old items' neighbours (it does with the gate
 * off), and it speaks of them again as soon as the client is back. */
START_TEST(test_slow_level_waits_while_the_intent_is_new)
{
    for (int gate = 1; gate >= 0; gate--) {
        struct mz_model_config cfg;
        mz_model_config_defaults(&cfg);
        cfg.w_dense = 0.0f; /* successors only: exact zeros */
        cfg.slow_gate_floor = gate ? 0.0f : 1.0f;
        struct mz_model *model = new_model(&cfg);
        struct mz_client *crowd = mz_client_new(model);
        struct mz_client *other_crowd = mz_client_new(model);
        struct mz_client *client = mz_client_new(model);
        int slowest = cfg.n_levels - 1;
        int64_t ts = 1700000000;
        float contrib[MZ_SOURCE_COUNT];

        /* Two crowds (never linking the two groups of items) teach
         * 10 -> 11 and 20 -> 21 -> 22 -> ... */
        for (int t = 0; t < 40; t++) {
            struct mz_event_obs ev = view(t % 2 ? 11 : 10, ts++);
            mz_model_observe(model, crowd, &ev, true);
        }
        for (int t = 0; t < 40; t++) {
            struct mz_event_obs ev = view(20 + t % 8, ts++);
            mz_model_observe(model, other_crowd, &ev, true);
        }
        /* The client's long-run taste: 10 (enough to consolidate). */
        for (int t = 0; t < 2 * cfg.level_chunk[slowest]; t++) {
            struct mz_event_obs ev = view(10, ts++);
            mz_model_observe(model, client, &ev, false);
        }
        /* A new intent: 20..25. */
        for (int32_t item = 20; item < 26; item++) {
            struct mz_event_obs ev = view(item, ts++);
            mz_model_observe(model, client, &ev, false);
        }
        mz_model_explain(model, client, -1, ts, 11, contrib);
        if (gate)
            ck_assert_float_eq(contrib[MZ_SOURCE_LEVEL0 + slowest], 0.0f);
        else
            ck_assert_float_gt(contrib[MZ_SOURCE_LEVEL0 + slowest], 0.0f);
        /* Back to 10: the slowest level still holds it and speaks. */
        struct mz_event_obs ev = view(10, ts++);
        mz_model_observe(model, client, &ev, false);
        mz_model_explain(model, client, -1, ts, 11, contrib);
        ck_assert_float_gt(contrib[MZ_SOURCE_LEVEL0 + slowest], 0.0f);
        mz_client_free(client);
        mz_client_free(other_crowd);
        mz_client_free(crowd);
        mz_model_free(model);
    }
}
END_TEST

/* A client who bought within one brand is shown that brand's popular
 * items before an equally popular item of another brand, and the
 * attribute term is what does it (w_attr = 0 removes the difference). */
START_TEST(test_attribute_taste_favours_the_clients_brand)
{
    for (int with_attr = 1; with_attr >= 0; with_attr--) {
        struct mz_model_config cfg;
        mz_model_config_defaults(&cfg);
        cfg.w_attr = with_attr ? 0.5f : 0.0f;
        cfg.w_dense = 0.0f;        /* the item space also knows brands */
        cfg.attr_max_share = 0.1f; /* a brand is 10% of this catalog */
        struct mz_model *model = new_model(&cfg);
        struct mz_client *shopper = mz_client_new(model);
        struct mz_client *crowd = mz_client_new(model);
        float scores[N_ITEMS];
        int64_t ts = 1700000000;

        /* Items 13 (brand 3) and 14 (brand 4) are equally popular. */
        for (int t = 0; t < 20; t++) {
            struct mz_event_obs ev = view(t % 2 ? 13 : 14, ts++);
            mz_model_observe(model, crowd, &ev, true);
        }
        /* The shopper views two other brand-3 items. */
        struct mz_event_obs ev = view(3, ts++);
        mz_model_observe(model, shopper, &ev, true);
        ev = view(23, ts++);
        mz_model_observe(model, shopper, &ev, true);
        mz_model_score(model, shopper, -1, ts, scores);
        if (with_attr)
            ck_assert_float_gt(scores[13], scores[14]);
        else
            ck_assert_float_eq_tol(scores[13], scores[14], 1e-4f);

        /* The catalog moves item 14 to brand 3 (13 % 7 is 6, 14 % 7 is
         * 0: the category differs) and item 13 to brand 4: the taste
         * follows the catalog, not the tokens of the first insert. */
        const char *to_brand3[] = {"brand=b3", "category=c0"};
        const char *to_brand4[] = {"brand=b4", "category=c6"};
        ck_assert(mz_model_set_item_tokens(model, 14, to_brand3, 2));
        ck_assert(mz_model_set_item_tokens(model, 13, to_brand4, 2));
        ck_assert(!mz_model_set_item_tokens(model, N_ITEMS, to_brand3, 2));
        mz_model_score(model, shopper, -1, ts, scores);
        if (with_attr)
            ck_assert_float_gt(scores[14], scores[13]);
        else
            ck_assert_float_eq_tol(scores[13], scores[14], 1e-4f);
        mz_client_free(crowd);
        mz_client_free(shopper);
        mz_model_free(model);
    }
}
END_TEST

START_TEST(test_flat_ablation_updates_every_level_at_once)
{
    struct mz_model_config cfg;
    mz_model_config_defaults(&cfg);
    cfg.nested = false;
    struct mz_model *model = new_model(&cfg);
    struct mz_client *client = mz_client_new(model);
    float contrib[MZ_SOURCE_COUNT];

    struct mz_event_obs ev = stream_event(3, 0);
    mz_model_observe(model, client, &ev, false);
    mz_model_explain(model, client, -1, ev.ts, ev.item, contrib);
    for (int l = 0; l < cfg.n_levels; l++) {
        ck_assert_float_ne(contrib[MZ_SOURCE_LEVEL0 + l], 0.0f);
        ck_assert_int_eq(mz_client_level_events(client, l), 1);
    }
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

START_TEST(test_explain_adds_up_to_score)
{
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    float scores[N_ITEMS], contrib[MZ_SOURCE_COUNT];

    for (int t = 0; t < 40; t++) {
        struct mz_event_obs ev = stream_event(4, t);
        mz_model_observe(model, client, &ev, true);
    }
    int64_t now = 1700000000 + 40 * 30;
    mz_model_score(model, client, 9, now, scores);
    for (int32_t item = 0; item < N_ITEMS; item += 13) {
        mz_model_explain(model, client, 9, now, item, contrib);
        float sum = 0.0f;
        for (int s = 0; s < MZ_SOURCE_COUNT; s++)
            sum += contrib[s];
        ck_assert_float_eq_tol(sum, scores[item],
                               1e-4f * (1.0f + fabsf(scores[item])));
    }
    /* The last item viewed is its own session evidence. */
    struct mz_event_obs last = stream_event(4, 39);
    ck_assert_int_eq(
        mz_model_evidence_item(model, client, MZ_SOURCE_SESSION, last.item),
        last.item);
    ck_assert_int_eq(
        mz_model_evidence_item(model, NULL, MZ_SOURCE_SESSION, last.item), -1);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

START_TEST(test_transitions_recommend_what_followed)
{
    struct mz_model *model = new_default_model();
    float scores[N_ITEMS];
    float contrib[MZ_SOURCE_COUNT];

    /* Many clients go 10 -> 123; a new client looking at 10 should be
     * offered 123, and the reason is catalog-wide, driven by 10. */
    for (int c = 0; c < 30; c++) {
        struct mz_client *client = mz_client_new(model);
        struct mz_event_obs a = view(10, 1700000000 + c * 100);
        struct mz_event_obs b = view(123, 1700000000 + c * 100 + 20);
        mz_model_observe(model, client, &a, true);
        mz_model_observe(model, client, &b, true);
        mz_client_free(client);
    }
    struct mz_client *fresh = mz_client_new(model);
    struct mz_event_obs a = view(10, 1700010000);
    mz_model_observe(model, fresh, &a, false);
    mz_model_score(model, fresh, -1, 1700010001, scores);
    scores[10] = -INFINITY; /* the item itself (a re-visit) aside */
    ck_assert_int_eq(rank_of(scores, 123), 0);
    mz_model_explain(model, fresh, -1, 1700010001, 123, contrib);
    ck_assert_float_gt(contrib[MZ_SOURCE_CATALOG], 0.0f);
    ck_assert_int_eq(
        mz_model_evidence_item(model, fresh, MZ_SOURCE_CATALOG, 123), 10);
    /* Non-personalised with a context item sees the same rule. */
    mz_model_score(model, NULL, 10, 1700010001, scores);
    scores[10] = -INFINITY;
    ck_assert_int_eq(rank_of(scores, 123), 0);
    mz_client_free(fresh);
    mz_model_free(model);
}
END_TEST

START_TEST(test_reset_forgets_everything_but_log_position)
{
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    struct mz_client *fresh = mz_client_new(model);
    float a[N_ITEMS], b[N_ITEMS];

    for (int t = 0; t < 300; t++) {
        struct mz_event_obs ev = stream_event(5, t);
        mz_model_observe(model, client, &ev, false);
    }
    ck_assert_int_eq(mz_client_last_seq(client), 300);
    mz_client_reset(client);
    ck_assert_int_eq(mz_client_event_count(client), 0);
    ck_assert_int_eq(mz_client_level_events(client, 2), 0);
    ck_assert_int_eq(mz_client_level_consolidated_at(client, 1), 0);
    ck_assert_int_eq(mz_client_last_seq(client), 300);
    mz_model_score(model, client, -1, 1800000000, a);
    mz_model_score(model, fresh, -1, 1800000000, b);
    ck_assert_mem_eq(a, b, sizeof a);
    mz_client_free(fresh);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

START_TEST(test_client_save_load_round_trip_is_bit_identical)
{
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    struct mz_client *never_saved = mz_client_new(model);
    char err[128] = "";

    for (int t = 0; t < 100; t++) {
        struct mz_event_obs ev = stream_event(6, t);
        mz_model_observe(model, client, &ev, false);
        mz_model_observe(model, never_saved, &ev, false);
    }
    size_t len = 0, len2 = 0;
    void *bytes = mz_client_save(client, &len);
    ck_assert_ptr_nonnull(bytes);
    struct mz_client *loaded =
        mz_client_load(model, bytes, len, err, sizeof err);
    ck_assert_msg(loaded != NULL, "load: %s", err);
    void *again = mz_client_save(loaded, &len2);
    ck_assert_uint_eq(len, len2);
    ck_assert_mem_eq(bytes, again, len);
    ck_assert_int_eq(mz_client_last_seq(loaded), 100);

    /* The loaded client goes on exactly like one that was never saved. */
    for (int t = 100; t < 150; t++) {
        struct mz_event_obs ev = stream_event(6, t);
        mz_model_observe(model, loaded, &ev, false);
        mz_model_observe(model, never_saved, &ev, false);
    }
    float a[N_ITEMS], b[N_ITEMS];
    mz_model_score(model, loaded, 7, 1700009999, a);
    mz_model_score(model, never_saved, 7, 1700009999, b);
    ck_assert_mem_eq(a, b, sizeof a);
    free(again);
    free(bytes);
    mz_client_free(loaded);
    mz_client_free(never_saved);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

/* How run_stream_with applies the global chunks. */
enum chunk_mode {
    CHUNKS_IN_PLACE,     /* mz_model_observe applies them */
    CHUNKS_IN_PARTS,     /* deferred; applied 7 rows at a time */
    CHUNKS_LEFT_DUE,     /* deferred; left for the next event to finish */
};

/* Runs the same interleaved stream of 8 clients through a fresh model
 * whose chunks are applied as mode says, and returns the saved bytes of
 * the model and of client 0 (caller frees). */
static void run_stream_with(enum chunk_mode mode, void **model_bytes,
                            size_t *model_len, void **client_bytes,
                            size_t *client_len, float *scores)
{
    struct mz_model_config cfg;
    mz_model_config_defaults(&cfg);
    cfg.global_chunk = 64; /* several global boundaries in the run */
    struct mz_model *model = new_model(&cfg);
    struct mz_client *clients[8];
    int parts = 0;

    mz_model_defer_chunks(model, mode != CHUNKS_IN_PLACE);
    for (int c = 0; c < 8; c++)
        clients[c] = mz_client_new(model);
    for (int t = 0; t < 300; t++)
        for (int c = 0; c < 8; c++) {
            struct mz_event_obs ev = stream_event(c, t);
            mz_model_observe(model, clients[c], &ev, true);
            if (mode == CHUNKS_IN_PLACE)
                ck_assert(!mz_model_chunk_due(model));
            while (mode == CHUNKS_IN_PARTS && mz_model_chunk_due(model)) {
                /* A model with a chunk applied in part saves nothing. */
                size_t len = 1;
                ck_assert_ptr_null(mz_model_save(model, NULL, &len));
                mz_model_apply_chunk_part(model, 7);
                parts++;
            }
        }
    /* Every chunk of 64 events touched more than 7 rows. */
    if (mode == CHUNKS_IN_PARTS)
        ck_assert_int_gt(parts, 2 * (300 * 8 / 64));
    ck_assert(mz_model_apply_chunk_part(model, N_ITEMS));
    ck_assert(!mz_model_chunk_due(model));
    *model_bytes = mz_model_save(model, NULL, model_len);
    *client_bytes = mz_client_save(clients[0], client_len);
    mz_model_score(model, clients[0], 3, 1700100000, scores);
    for (int c = 0; c < 8; c++)
        mz_client_free(clients[c]);
    mz_model_free(model);
}

/* What run_stream_with learned: the saved model and client 0, and client
 * 0's scores. */
struct stream_state {
    void *model; /* owned */
    size_t model_len;
    void *client; /* owned */
    size_t client_len;
    float scores[N_ITEMS];
};

static void learn_stream(enum chunk_mode mode, struct stream_state *st)
{
    run_stream_with(mode, &st->model, &st->model_len, &st->client,
                    &st->client_len, st->scores);
    ck_assert_ptr_nonnull(st->model);
}

/* Asserts that a and b are the same state bit for bit, and frees b. */
static void assert_same_state(const struct stream_state *a,
                              struct stream_state *b)
{
    ck_assert_uint_eq(a->model_len, b->model_len);
    ck_assert_mem_eq(a->model, b->model, a->model_len);
    ck_assert_uint_eq(a->client_len, b->client_len);
    ck_assert_mem_eq(a->client, b->client, a->client_len);
    ck_assert_mem_eq(a->scores, b->scores, sizeof a->scores);
    free(b->model);
    free(b->client);
}

START_TEST(test_replay_gives_bit_identical_state)
{
    struct stream_state first, second;

    learn_stream(CHUNKS_IN_PLACE, &first);
    learn_stream(CHUNKS_IN_PLACE, &second);
    assert_same_state(&first, &second);
    free(first.model);
    free(first.client);
}
END_TEST

/* The server applies each global chunk in parts between its write
 * holds (mz_model_defer_chunks): the state is the in-place one bit for
 * bit, also when a chunk is left due and the next event finishes it. */
START_TEST(test_deferred_chunks_learn_the_in_place_state)
{
    struct stream_state in_place, deferred;

    learn_stream(CHUNKS_IN_PLACE, &in_place);
    learn_stream(CHUNKS_IN_PARTS, &deferred);
    assert_same_state(&in_place, &deferred);
    learn_stream(CHUNKS_LEFT_DUE, &deferred);
    assert_same_state(&in_place, &deferred);
    free(in_place.model);
    free(in_place.client);
}
END_TEST

/* A version-2 client record of a 3-level model, written field by field
 * as the format says (client.c): level 0 holds item 1, level 1's open
 * chunk item 2 (one event in it); with level0_chunk, level 0's chunk
 * holds item 3, which no saved client ever has (level 0 has no chunk). */
static void *hand_written_client_record(bool level0_chunk, size_t *len)
{
    static const uint8_t magic[3] = {'M', 'Z', 'C'};
    struct mz_wbuf w;
    float one = 1.0f, two = 2.0f;

    mz_wbuf_init(&w);
    mz_wbuf_raw(&w, magic, sizeof magic);
    mz_wbuf_u8(&w, 2); /* format version */
    mz_wbuf_u32(&w, 3);
    mz_wbuf_u64(&w, 2);          /* events */
    mz_wbuf_u64(&w, 2);          /* all_events */
    mz_wbuf_u64(&w, 41);         /* last_seq */
    mz_wbuf_u64(&w, 1700000001); /* last_ts */
    for (int l = 0; l < 3; l++) {
        mz_wbuf_u64(&w, l == 0 ? 1700000001 : 0); /* consolidated_at */
        mz_wbuf_u64(&w, l == 0 ? 2 : 0);          /* level_events */
        mz_wbuf_u32(&w, l == 1 ? 1 : 0);          /* chunk_fill */
    }
    mz_wbuf_u32(&w, 2); /* ring_len */
    mz_wbuf_u32(&w, 2); /* ring_head */
    for (int r = 0; r < 16; r++) {
        mz_wbuf_u32(&w, r < 2 ? (uint32_t)(r + 1) : 0);
        mz_wbuf_u64(&w, r < 2 ? (uint64_t)(1700000000 + r) : 0);
        mz_wbuf_u8(&w, 0);
    }
    for (int l = 0; l < 3; l++) {
        bool level_item = l == 0;
        bool chunk_item = l == 1 || (l == 0 && level0_chunk);
        mz_wbuf_u32(&w, level_item ? 1 : 0);
        if (level_item) {
            mz_wbuf_u32(&w, 1);
            mz_wbuf_f32s(&w, &two, 1);
        }
        mz_wbuf_u32(&w, chunk_item ? 1 : 0);
        if (chunk_item) {
            mz_wbuf_u32(&w, l == 0 ? 3 : 2);
            mz_wbuf_f32s(&w, &one, 1);
        }
    }
    return mz_wbuf_finish(&w, len);
}

/* Level 0 keeps no open chunk in memory, but the saved form still has
 * its (empty) place: a record written before loads and saves back byte
 * for byte, and one with a non-empty level-0 chunk is refused. */
START_TEST(test_client_record_keeps_its_format_without_a_level0_chunk)
{
    struct mz_model *model = new_default_model();
    char err[128] = "";
    size_t len = 0, again_len = 0;
    void *bytes = hand_written_client_record(false, &len);

    struct mz_client *client =
        mz_client_load(model, bytes, len, err, sizeof err);
    ck_assert_msg(client != NULL, "mz_client_load: %s", err);
    void *again = mz_client_save(client, &again_len);
    ck_assert_uint_eq(again_len, len);
    ck_assert_mem_eq(again, bytes, len);
    free(again);
    free(bytes);
    mz_client_free(client);

    bytes = hand_written_client_record(true, &len);
    ck_assert_ptr_null(mz_client_load(model, bytes, len, err, sizeof err));
    ck_assert_str_eq(err, "client state: truncated or invalid level memory");
    free(bytes);
    mz_model_free(model);
}
END_TEST

START_TEST(test_client_load_rejects_corrupt_bytes)
{
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    char err[128];

    for (int t = 0; t < 20; t++) {
        struct mz_event_obs ev = stream_event(2, t);
        mz_model_observe(model, client, &ev, false);
    }
    size_t len = 0;
    uint8_t *bytes = mz_client_save(client, &len);
    uint8_t *copy = malloc(len);
    ck_assert_ptr_nonnull(copy);
    /* Every single flipped byte and every truncation is caught. */
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, bytes, len);
        copy[i] ^= 0x5a;
        err[0] = '\0';
        ck_assert_ptr_null(mz_client_load(model, copy, len, err, sizeof err));
        ck_assert_str_ne(err, "");
    }
    for (size_t cut = 0; cut < len; cut += 7)
        ck_assert_ptr_null(mz_client_load(model, bytes, cut, err, sizeof err));
    ck_assert_ptr_null(mz_client_load(model, NULL, 0, err, sizeof err));
    /* Garbage of every small length. */
    uint64_t state = 99;
    for (size_t n = 0; n < 600; n++) {
        for (size_t i = 0; i < n && i < len; i++) {
            state = state * 6364136223846793005ULL + 1;
            copy[i] = (uint8_t)(state >> 56);
        }
        ck_assert_ptr_null(
            mz_client_load(model, copy, n < len ? n : len, err, sizeof err));
    }
    /* A model of another shape refuses the record. */
    struct mz_model_config cfg;
    mz_model_config_defaults(&cfg);
    cfg.n_levels = 2;
    struct mz_model *other = new_model(&cfg);
    ck_assert_ptr_null(mz_client_load(other, bytes, len, err, sizeof err));
    mz_model_free(other);
    free(copy);
    free(bytes);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

/* A session that time has faded to almost nothing must fade out of the
 * scores, not blow up: every score stays finite, and a re-visit of an
 * item seen long ago weighs less than one seen a minute ago. */
START_TEST(test_faded_session_keeps_scores_finite)
{
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    float fresh[N_ITEMS], faded[N_ITEMS];
    int64_t ts = 1700000000;

    for (int t = 0; t < 6; t++) {
        struct mz_event_obs ev = view(20 + t, ts + t);
        mz_model_observe(model, client, &ev, true);
    }
    mz_model_score(model, client, -1, ts + 60, fresh);
    /* Every hour for 10 days: the session weights pass through float's
     * subnormal range (around 5 days at a 1 h half-life), where a share
     * taken of their tiny total would overflow. */
    for (int64_t away_h = 1; away_h <= 240; away_h++) {
        mz_model_score(model, client, -1, ts + away_h * 3600, faded);
        for (int i = 0; i < N_ITEMS; i++)
            ck_assert_msg(isfinite(faded[i]), "%lld h: score[%d] = %g",
                          (long long)away_h, i, faded[i]);
        ck_assert_float_lt(faded[22], fresh[22]);
    }
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

START_TEST(test_cold_start_is_deterministic)
{
    struct mz_model *a = new_default_model();
    struct mz_model *b = new_default_model();
    float sa[N_ITEMS], sb[N_ITEMS];

    mz_model_score(a, NULL, 33, 0, sa);
    mz_model_score(b, NULL, 33, 0, sb);
    ck_assert_mem_eq(sa, sb, sizeof sa);
    /* Same tokens => same row: item 33 and 103 share brand and category
     * (33 % 10 == 103 % 10, 33 % 7 == 103 % 7) ... */
    /* (the context item's own re-visit credit: w_repeat times the prior
     * re-visit rate, 1/10, before the stream has shown any) ... */
    float context_repeat = mz_model_config_of(a)->w_repeat * 0.1f;
    ck_assert_float_eq_tol(sa[103], sa[33] - context_repeat, 1e-5f);
    /* ... and beat an item sharing nothing. */
    ck_assert_float_gt(sa[103], sa[34]);

    /* A token-less item gets a per-index row, different per index. */
    ck_assert_int_eq(mz_model_add_item(a, NULL, 0), N_ITEMS);
    ck_assert_int_eq(mz_model_add_item(a, NULL, 0), N_ITEMS + 1);
    ck_assert_int_eq(mz_model_add_item(b, NULL, 0), N_ITEMS);
    float ta[N_ITEMS + 2], tb[N_ITEMS + 1];
    mz_model_score(a, NULL, N_ITEMS, 0, ta);
    mz_model_score(b, NULL, N_ITEMS, 0, tb);
    ck_assert_mem_eq(ta, tb, sizeof tb);
    ck_assert_float_ne(ta[N_ITEMS + 1], ta[N_ITEMS]);
    mz_model_free(a);
    mz_model_free(b);
}
END_TEST

/* The catalog of new_model's items: item i is "sku-i" (caller frees). */
static struct mz_catalog *new_catalog(void)
{
    struct mz_catalog *catalog = mz_catalog_new();

    ck_assert_ptr_nonnull(catalog);
    for (int i = 0; i < N_ITEMS; i++) {
        struct mz_item *item = mz_item_new();
        char buf[32];
        snprintf(buf, sizeof buf, "sku-%d", i);
        item->item_id = strdup(buf);
        snprintf(buf, sizeof buf, "b%d", i % N_BRANDS);
        item->brand = strdup(buf);
        snprintf(buf, sizeof buf, "c%d", i % 7);
        item->category = strdup(buf);
        ck_assert_int_eq(mz_catalog_upsert(catalog, item, NULL), i);
    }
    return catalog;
}

/* Retirement is the catalog's alone: the model still scores a retired
 * item (its row stays for a re-insert), and the rules' selection never
 * lists it, however high it scores. (The service refuses events on a
 * retired item before the log: tests/api/test_service.c.) */
START_TEST(test_retired_items_are_never_selected)
{
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    struct mz_catalog *catalog = new_catalog();
    float scores[N_ITEMS];

    ck_assert_int_eq(mz_catalog_remove(catalog, "sku-8"), MZ_OK);
    mz_model_score(model, client, 8, 1700000001, scores);
    ck_assert(isfinite(scores[9]));
    ck_assert_int_lt(rank_of(scores, 8), MZ_SELECT_MAX_K);

    struct mz_select_request req = {.now = 1700000001, .k = MZ_SELECT_MAX_K};
    struct mz_select_result res;
    ck_assert_int_eq(mz_rules_select(catalog, scores, N_ITEMS, &req, &res),
                     MZ_OK);
    ck_assert_int_eq(res.count, MZ_SELECT_MAX_K);
    for (int i = 0; i < res.count; i++)
        ck_assert_int_ne(res.items[i], 8);
    ck_assert_int_eq(res.removed[MZ_RULE_RETIRED], 1);
    mz_catalog_free(catalog);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

START_TEST(test_itemless_events_only_count)
{
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    struct mz_client *fresh = mz_client_new(model);
    float a[N_ITEMS], b[N_ITEMS];

    struct mz_event_obs ev = view(-1, 1700000000);
    ev.type = MZ_EV_STORE_VISIT;
    ev.seq = 77;
    mz_model_observe(model, client, &ev, true);
    ck_assert_int_eq(mz_client_last_seq(client), 77);
    ck_assert_int_eq(mz_client_event_count(client), 0);
    mz_model_score(model, client, -1, 1700000001, a);
    mz_model_score(model, fresh, -1, 1700000001, b);
    ck_assert_mem_eq(a, b, sizeof a);
    mz_client_free(fresh);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

START_TEST(test_client_state_is_small)
{
    struct mz_model *model = new_default_model();

    ck_assert_uint_le(mz_client_resident_bytes(model), 2048);
    ck_assert_uint_ge(mz_client_resident_bytes(model), 3 * 64 * sizeof(float));
    /* 992 bytes at the default 3 levels, 860 of them until level 2
     * takes its first chunk (docs/levels.md, "What it costs"): a field
     * added to struct mz_client shows here first. */
    ck_assert_uint_le(mz_client_resident_bytes(model), 992);
    struct mz_client *client = mz_client_new(model);
    ck_assert_uint_le(mz_client_bytes(client), 860);
    for (int t = 0; t < 15; t++) {
        struct mz_event_obs ev = view(t, 1700000000 + t);
        mz_model_observe(model, client, &ev, true);
    }
    ck_assert_uint_le(mz_client_bytes(client), 860);
    struct mz_event_obs ev = view(15, 1700000015);
    mz_model_observe(model, client, &ev, true); /* level 2's first chunk */
    ck_assert_uint_eq(mz_client_bytes(client), mz_client_resident_bytes(model));
    mz_client_reset(client);
    ck_assert_uint_le(mz_client_bytes(client), 860);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

/* The checkpoint copies the global level under its lock and serialises
 * it after: the bytes must be those of the moment of the copy, also when
 * the model outgrew the room measured before it, and whatever the model
 * learns afterwards. */
START_TEST(test_model_image_saves_the_level_as_it_was_when_taken)
{
    struct mz_model *model = new_default_model();
    struct mz_client *clients[3];
    for (int c = 0; c < 3; c++)
        clients[c] = mz_client_new(model);
    int t = 0;
    for (; t < 150; t++) {
        struct mz_event_obs ev = stream_event(t % 9, t);
        mz_model_observe(model, clients[t % 3], &ev, true);
    }
    struct mz_model_image_room room = mz_model_image_room(model);
    struct mz_model_image *img = mz_model_image_new(&room);
    ck_assert_ptr_nonnull(img);
    /* Between measuring and taking: a new item and new transitions. */
    const char *tokens[] = {"brand=b0", "category=c1"};
    ck_assert_int_eq(mz_model_add_item(model, tokens, 2), N_ITEMS);
    for (; t < 450; t++) {
        struct mz_event_obs ev = stream_event(t % 11, t);
        ev.item = (ev.item * 7 + t) % (N_ITEMS + 1);
        mz_model_observe(model, clients[t % 3], &ev, true);
    }
    ck_assert_uint_gt(mz_model_image_room(model).trans_slots,
                      room.trans_slots + room.trans_slots / 8 + 1024);
    ck_assert(mz_model_image_take(img, model));
    size_t want_len = 0, got_len = 0, later_len = 0;
    void *want = mz_model_save(model, NULL, &want_len);
    for (; t < 650; t++) {
        struct mz_event_obs ev = stream_event(t % 5, t);
        mz_model_observe(model, clients[t % 3], &ev, true);
    }
    void *got = mz_model_image_save(img, NULL, &got_len);
    void *later = mz_model_save(model, NULL, &later_len);
    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got_len, want_len);
    ck_assert_mem_eq(got, want, want_len);
    ck_assert(later_len != want_len || memcmp(later, want, want_len) != 0);
    free(want);
    free(got);
    free(later);
    mz_model_image_free(img);
    for (int c = 0; c < 3; c++)
        mz_client_free(clients[c]);
    mz_model_free(model);
}
END_TEST

START_TEST(test_model_save_load_maps_rows_by_id)
{
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    char ids_buf[N_ITEMS][16];
    const char *ids[N_ITEMS];
    const char *reversed[N_ITEMS];
    char err[128] = "";

    for (int i = 0; i < N_ITEMS; i++) {
        snprintf(ids_buf[i], sizeof ids_buf[i], "sku-%d", i);
        ids[i] = ids_buf[i];
        reversed[N_ITEMS - 1 - i] = ids_buf[i];
    }
    for (int t = 0; t < 200; t++) {
        struct mz_event_obs ev = stream_event(t % 9, t);
        mz_model_observe(model, client, &ev, true);
    }
    size_t len = 0;
    void *bytes = mz_model_save(model, ids, &len);
    ck_assert_ptr_nonnull(bytes);

    /* The same catalog in reverse index order: row j is item N-1-j. */
    struct mz_model_config cfg = *mz_model_config_of(model);
    struct mz_model *copy = mz_model_new(&cfg, err, sizeof err);
    for (int i = 0; i < N_ITEMS; i++) {
        int src = N_ITEMS - 1 - i;
        char brand[32], category[32];
        snprintf(brand, sizeof brand, "brand=b%d", src % N_BRANDS);
        snprintf(category, sizeof category, "category=c%d", src % 7);
        const char *tokens[] = {brand, category};
        mz_model_add_item(copy, tokens, 2);
    }
    ck_assert_int_eq(mz_model_load(copy, reversed, bytes, len, err, sizeof err),
                     MZ_OK);
    float a[N_ITEMS], b[N_ITEMS];
    mz_model_score(model, NULL, 12, 1700000000, a);
    mz_model_score(copy, NULL, N_ITEMS - 1 - 12, 1700000000, b);
    for (int i = 0; i < N_ITEMS; i++)
        ck_assert_float_eq_tol(a[i], b[N_ITEMS - 1 - i], 1e-5f);

    /* Garbage and corruption are refused and leave the model as it was. */
    uint8_t *bad = malloc(len);
    memcpy(bad, bytes, len);
    bad[len / 2] ^= 1;
    ck_assert_int_eq(mz_model_load(copy, reversed, bad, len, err, sizeof err),
                     MZ_ERR_INVALID);
    ck_assert_int_eq(mz_model_load(copy, reversed, bad, 5, err, sizeof err),
                     MZ_ERR_INVALID);
    ck_assert_int_eq(mz_model_load(copy, reversed, NULL, 0, err, sizeof err),
                     MZ_ERR_INVALID);
    float c[N_ITEMS];
    mz_model_score(copy, NULL, N_ITEMS - 1 - 12, 1700000000, c);
    ck_assert_mem_eq(b, c, sizeof b);
    free(bad);
    free(bytes);
    mz_model_free(copy);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

START_TEST(test_levels_stay_finite_under_strong_events)
{
    /* _i = 0: nested; 1: flat (every level steps every event). */
    struct mz_model_config cfg;
    mz_model_config_defaults(&cfg);
    cfg.nested = _i == 0;
    struct mz_model *model = new_model(&cfg);
    struct mz_client *client = mz_client_new(model);
    float scores[N_ITEMS];

    for (int t = 0; t < 2000; t++) {
        struct mz_event_obs ev = stream_event(1, t);
        ev.type = t % 3 ? MZ_EV_PURCHASE : MZ_EV_RETURN;
        ev.item = (int32_t)((t * 7) % N_ITEMS);
        mz_model_observe(model, client, &ev, true);
    }
    mz_model_score(model, client, -1, 1700000000 + 2000 * 30, scores);
    for (int i = 0; i < N_ITEMS; i++)
        ck_assert_msg(isfinite(scores[i]), "score %d is %f", i,
                      (double)scores[i]);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

START_TEST(test_score_source_ranks_what_each_memory_holds)
{
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    float scores[N_ITEMS];

    for (int t = 0; t < 3; t++) {
        struct mz_event_obs ev = view(61, 1700000000 + t * 10);
        mz_model_observe(model, client, &ev, false);
    }
    /* The session holds the item just viewed... */
    mz_model_score_source(model, client, MZ_SOURCE_SESSION, 1700000030, scores);
    ck_assert_int_eq(rank_of(scores, 61), 0);
    /* ... and so does level 0 when no session context explains the item
     * first (levels learn the surprise left after the session). */
    struct mz_model_config cfg = *mz_model_config_of(model);
    cfg.use_session = false;
    struct mz_model *no_session = new_model(&cfg);
    struct mz_client *other = mz_client_new(no_session);
    for (int t = 0; t < 3; t++) {
        struct mz_event_obs ev = view(61, 1700000000 + t * 10);
        mz_model_observe(no_session, other, &ev, false);
    }
    mz_model_score_source(no_session, other, MZ_SOURCE_LEVEL0, 1700000030,
                          scores);
    ck_assert_int_eq(rank_of(scores, 61), 0);
    mz_client_free(other);
    mz_model_free(no_session);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

START_TEST(test_model_snapshot_mid_chunk_resumes_identically)
{
    struct mz_model_config cfg;
    mz_model_config_defaults(&cfg);
    cfg.global_chunk = 97; /* the snapshot falls inside a chunk */
    struct mz_model *never_saved = new_model(&cfg);
    struct mz_model *restored = new_model(&cfg);
    struct mz_client *a[4], *b[4];
    char err[128] = "";

    for (int c = 0; c < 4; c++)
        a[c] = mz_client_new(never_saved);
    for (int t = 0; t < 150; t++)
        for (int c = 0; c < 4; c++) {
            struct mz_event_obs ev = stream_event(c, t);
            mz_model_observe(never_saved, a[c], &ev, true);
        }
    size_t len = 0;
    void *bytes = mz_model_save(never_saved, NULL, &len);
    ck_assert_int_eq(mz_model_load(restored, NULL, bytes, len, err, sizeof err),
                     MZ_OK);
    free(bytes);
    for (int c = 0; c < 4; c++) {
        size_t client_len = 0;
        void *client_bytes = mz_client_save(a[c], &client_len);
        b[c] =
            mz_client_load(restored, client_bytes, client_len, err, sizeof err);
        ck_assert_ptr_nonnull(b[c]);
        free(client_bytes);
    }
    for (int t = 150; t < 300; t++)
        for (int c = 0; c < 4; c++) {
            struct mz_event_obs ev = stream_event(c, t);
            mz_model_observe(never_saved, a[c], &ev, true);
            mz_model_observe(restored, b[c], &ev, true);
        }
    float sa[N_ITEMS], sb[N_ITEMS];
    mz_model_score(never_saved, a[2], 4, 1700100000, sa);
    mz_model_score(restored, b[2], 4, 1700100000, sb);
    ck_assert_mem_eq(sa, sb, sizeof sa);
    /* The clients learned against the restored item space exactly as
     * against the original (their bytes depend on every O row they
     * touched). A restored model's own bytes may list successors in
     * another order, so they are not compared. */
    for (int c = 0; c < 4; c++) {
        size_t len_a = 0, len_b = 0;
        void *bytes_a = mz_client_save(a[c], &len_a);
        void *bytes_b = mz_client_save(b[c], &len_b);
        ck_assert_uint_eq(len_a, len_b);
        ck_assert_mem_eq(bytes_a, bytes_b, len_a);
        free(bytes_a);
        free(bytes_b);
    }
    for (int c = 0; c < 4; c++) {
        mz_client_free(a[c]);
        mz_client_free(b[c]);
    }
    mz_model_free(restored);
    mz_model_free(never_saved);
}
END_TEST

START_TEST(test_dismissal_runs_stay_finite_and_savable)
{
    /* Only negative events: nothing pulls the levels back, so without a
     * bound they would overflow and the saved state would be refused. */
    struct mz_model *model = new_default_model();
    struct mz_client *client = mz_client_new(model);
    for (int t = 0; t < 500; t++) {
        struct mz_event_obs ev = view((int32_t)(t % N_ITEMS), 1700000000 + t);
        ev.type = MZ_EV_DISMISS;
        mz_model_observe(model, client, &ev, true);
    }
    size_t len = 0;
    void *bytes = mz_client_save(client, &len);
    ck_assert_ptr_nonnull(bytes);
    char err[256] = "";
    struct mz_client *again =
        mz_client_load(model, bytes, len, err, sizeof err);
    ck_assert_msg(again != NULL, "%s", err);
    mz_client_free(again);
    free(bytes);
    mz_client_free(client);
    mz_model_free(model);
}
END_TEST

static Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_config_defaults_valid_and_bad_config_rejected);
    tcase_add_test(tc, test_observe_moves_scores_toward_item);
    tcase_add_test(tc, test_dismiss_pushes_score_down);
    tcase_add_test(tc, test_config_set_by_name_parses_in_full);
    tcase_add_test(tc, test_nested_level1_waits_for_chunk_boundary);
    tcase_add_test(tc, test_slow_level_keeps_what_was_repeated);
    tcase_add_test(tc, test_faded_session_keeps_scores_finite);
    tcase_add_test(tc, test_attribute_taste_favours_the_clients_brand);
    tcase_add_test(tc, test_slow_level_waits_while_the_intent_is_new);
    tcase_add_test(tc, test_flat_ablation_updates_every_level_at_once);
    tcase_add_test(tc, test_explain_adds_up_to_score);
    tcase_add_test(tc, test_transitions_recommend_what_followed);
    tcase_add_test(tc, test_reset_forgets_everything_but_log_position);
    tcase_add_test(tc, test_client_save_load_round_trip_is_bit_identical);
    tcase_add_test(tc, test_replay_gives_bit_identical_state);
    tcase_add_test(tc, test_deferred_chunks_learn_the_in_place_state);
    tcase_add_test(tc,
                   test_client_record_keeps_its_format_without_a_level0_chunk);
    tcase_add_test(tc, test_client_load_rejects_corrupt_bytes);
    tcase_add_test(tc, test_cold_start_is_deterministic);
    tcase_add_test(tc, test_retired_items_are_never_selected);
    tcase_add_test(tc, test_itemless_events_only_count);
    tcase_add_test(tc, test_dismissal_runs_stay_finite_and_savable);
    tcase_add_test(tc, test_client_state_is_small);
    tcase_add_test(tc, test_model_save_load_maps_rows_by_id);
    tcase_add_test(tc, test_model_image_saves_the_level_as_it_was_when_taken);
    tcase_add_loop_test(tc, test_levels_stay_finite_under_strong_events, 0, 2);
    tcase_add_test(tc, test_score_source_ranks_what_each_memory_holds);
    tcase_add_test(tc, test_model_snapshot_mid_chunk_resumes_identically);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(model_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
