/*-------------------------------------------------------------------------
 * protocols.c
 *    The evaluation protocols: next-item (SR-GNN, Diginetica), last-item
 *    (S3-Rec all rank, Beauty) and taste-shift (plasticity and stability
 *    when a client's taste switches and comes back).
 *
 * Every protocol replays the train events in file order through one
 * method with learning on, then walks the events it must predict: it asks
 * the method for scores over the whole catalogue, ranks with mz_topk (the
 * selection maisond uses), and only then lets the method observe the
 * event. Learning time is measured around observe calls alone, so
 * events_per_s is what the method costs to keep up with a stream.
 *-------------------------------------------------------------------------
 */
#include "tests/eval/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/topk.h"

#define PROGRESS_EVERY    65536
#define SHIFT_POSITIONS   20 /* the longest horizon */
#define SHIFT_MIN_HISTORY 10 /* shorter histories make no taste */
#define SHIFT_STEP_S      60 /* synthetic time between spliced events */

const int mz_eval_shift_horizon[MZ_EVAL_SHIFT_HORIZONS] = {1, 5, 10, 20};

double mz_eval_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int mz_eval_rank(const float *scores, size_t n, const uint8_t *allowed,
                 int32_t target, size_t *short_lists)
{
    int32_t items[MZ_EVAL_TOPK];
    float top[MZ_EVAL_TOPK];
    size_t got = mz_topk(scores, n, allowed, MZ_EVAL_TOPK, items, top);
    if (short_lists && got < MZ_EVAL_TOPK && n >= MZ_EVAL_TOPK)
        (*short_lists)++;

    for (size_t r = 0; r < got; r++)
        if (items[r] == target)
            return (int)r + 1;
    return 0;
}

int mz_eval_score_and_rank(const struct mz_eval_method *method, void *state,
                           int32_t client, int64_t now_ts, float *scores,
                           size_t n, const uint8_t *allowed, int32_t target,
                           size_t *short_lists)
{
    size_t short_list = 0;

    method->ops->score(state, client, now_ts, scores);
    int rank = mz_eval_rank(scores, n, allowed, target, &short_list);
    if (short_list && method->ops->score_all) {
        method->ops->score_all(state, client, now_ts, scores);
        short_list = 0;
        rank = mz_eval_rank(scores, n, allowed, target, &short_list);
    }
    if (short_lists)
        *short_lists += short_list;
    return rank;
}

void mz_eval_add_case(struct mz_eval_result *res, int rank)
{
    res->cases++;
    if (rank > 0) {
        res->hr20 += 1.0;
        res->mrr20 += 1.0 / rank;
        res->ndcg20 += 1.0 / log2(rank + 1.0);
    }
}

void mz_eval_finish_result(struct mz_eval_result *res, size_t learned,
                           double learn_s, double t0)
{
    if (res->cases) {
        res->hr20 /= (double)res->cases;
        res->mrr20 /= (double)res->cases;
        res->ndcg20 /= (double)res->cases;
    }
    res->events_per_s = learn_s > 0 ? (double)learned / learn_s : 0;
    res->seconds = mz_eval_now() - t0;
}

static void progress(const struct mz_eval_options *opt, const char *method,
                     const char *phase, size_t done, size_t total)
{
    if (!opt->progress)
        return;
    fprintf(stderr, "\r%-20s %-6s %9zu / %-9zu", method, phase, done, total);
    if (done == total)
        fputc('\n', stderr);
}

/* After its case is scored, a test event is learned (shared levels only
 * when not frozen); returns the seconds spent learning it. */
static double learn_test_event(const struct mz_eval_options *opt,
                               const struct mz_eval_method *method, void *state,
                               const struct mz_eval_event *ev, size_t e,
                               size_t n_test)
{
    double t = mz_eval_now();
    method->ops->observe(state, ev, !opt->frozen);
    double spent = mz_eval_now() - t;
    if ((e + 1) % 4096 == 0)
        progress(opt, method->name, "test", e + 1, n_test);
    return spent;
}

/* Replays the train events with learning on, except those of clients
 * marked in held_out (NULL: none); returns the seconds spent. */
static double replay_train(const struct mz_eval_method *method, void *state,
                           const struct mz_eval_data *data,
                           const struct mz_eval_options *opt,
                           const uint8_t *held_out)
{
    double learn_s = 0;
    for (size_t start = 0; start < data->n_train; start += PROGRESS_EVERY) {
        size_t end = start + PROGRESS_EVERY;
        if (end > data->n_train)
            end = data->n_train;
        double t = mz_eval_now();
        for (size_t e = start; e < end; e++)
            if (!held_out || !held_out[data->train[e].client])
                method->ops->observe(state, &data->train[e], true);
        learn_s += mz_eval_now() - t;
        progress(opt, method->name, "train", end, data->n_train);
    }
    return learn_s;
}

static void *create_state(const struct mz_eval_method *method,
                          const struct mz_eval_data *data,
                          const struct mz_eval_options *opt, char *err,
                          size_t err_len)
{
    /* One extra client for the synthetic client of taste-shift. */
    return method->ops->create(
        method, data, opt, mz_intern_count(data->clients) + 1, err, err_len);
}

bool mz_eval_next_item(const struct mz_eval_method *method,
                       const struct mz_eval_data *data,
                       const struct mz_eval_options *opt,
                       struct mz_eval_result *res, char *err, size_t err_len)
{
    double t0 = mz_eval_now();
    size_t n_items = (size_t)mz_intern_count(data->items);
    void *state = NULL;
    float *scores = NULL;
    uint8_t *in_session = NULL;
    bool ok = false;

    memset(res, 0, sizeof(*res));
    res->method = method->name;
    state = create_state(method, data, opt, err, err_len);
    scores = malloc(n_items * sizeof(*scores));
    in_session =
        calloc((size_t)mz_intern_count(data->clients), sizeof(*in_session));
    if (!state || !scores || !in_session) {
        if (state)
            snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    double learn_s = replay_train(method, state, data, opt, NULL);
    size_t learned = data->n_train;
    for (size_t e = 0; e < data->n_test; e++) {
        const struct mz_eval_event *ev = &data->test[e];
        /* The first event of a session has no context to predict from;
         * SR-GNN's protocol skips it. */
        if (in_session[ev->client]) {
            int rank = mz_eval_score_and_rank(method, state, ev->client, ev->ts,
                                              scores, n_items, NULL, ev->item,
                                              &res->short_lists);
            mz_eval_add_case(res, rank);
            if (opt->limit_cases && res->cases >= opt->limit_cases)
                break;
        }
        in_session[ev->client] = 1;
        /* Frozen: the session still observes its events (they are the
         * query), but nothing shared learns from the test stream. */
        learn_s += learn_test_event(opt, method, state, ev, e, data->n_test);
        learned++;
    }
    progress(opt, method->name, "test", data->n_test, data->n_test);
    res->bytes_per_client = (double)method->ops->bytes_per_client(state);
    mz_eval_finish_result(res, learned, learn_s, t0);
    ok = true;
cleanup:
    free(in_session);
    free(scores);
    if (state)
        method->ops->free_state(state);
    return ok;
}

/* Per-client item histories, growing as events are replayed. */
struct histories {
    int32_t **items;            /* owned, per client */
    enum mz_event_type **types; /* owned, per client */
    uint32_t *count, *cap;      /* owned */
    int32_t n_clients;
};

static void histories_free(struct histories *h)
{
    for (int32_t c = 0; c < h->n_clients; c++) {
        if (h->items)
            free(h->items[c]);
        if (h->types)
            free(h->types[c]);
    }
    free(h->items);
    free(h->types);
    free(h->count);
    free(h->cap);
}

static bool histories_init(struct histories *h, int32_t n_clients)
{
    h->n_clients = n_clients;
    h->items = calloc((size_t)n_clients, sizeof(*h->items));
    h->types = calloc((size_t)n_clients, sizeof(*h->types));
    h->count = calloc((size_t)n_clients, sizeof(*h->count));
    h->cap = calloc((size_t)n_clients, sizeof(*h->cap));
    return h->items && h->types && h->count && h->cap;
}

static bool histories_add(struct histories *h, const struct mz_eval_event *ev)
{
    int32_t c = ev->client;
    if (h->count[c] == h->cap[c]) {
        uint32_t cap = h->cap[c] ? h->cap[c] * 2 : 8;
        int32_t *items = realloc(h->items[c], cap * sizeof(*items));
        if (!items)
            return false;
        h->items[c] = items;
        enum mz_event_type *types = realloc(h->types[c], cap * sizeof(*types));
        if (!types)
            return false;
        h->types[c] = types;
        h->cap[c] = cap;
    }
    h->items[c][h->count[c]] = ev->item;
    h->types[c][h->count[c]] = ev->type;
    h->count[c]++;
    return true;
}

bool mz_eval_last_item(const struct mz_eval_method *method,
                       const struct mz_eval_data *data,
                       const struct mz_eval_options *opt,
                       struct mz_eval_result *res, char *err, size_t err_len)
{
    double t0 = mz_eval_now();
    size_t n_items = (size_t)mz_intern_count(data->items);
    int32_t n_clients = mz_intern_count(data->clients);
    void *state = NULL;
    float *scores = NULL;
    uint8_t *allowed = NULL;
    struct histories hist = {0};
    bool ok = false;

    memset(res, 0, sizeof(*res));
    res->method = method->name;
    state = create_state(method, data, opt, err, err_len);
    scores = malloc(n_items * sizeof(*scores));
    allowed = malloc(n_items);
    if (!state || !scores || !allowed || !histories_init(&hist, n_clients)) {
        if (state)
            snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    memset(allowed, 1, n_items);
    for (size_t e = 0; e < data->n_train; e++) {
        if (!histories_add(&hist, &data->train[e])) {
            snprintf(err, err_len, "out of memory");
            goto cleanup;
        }
    }
    double learn_s = replay_train(method, state, data, opt, NULL);
    size_t learned = data->n_train;
    for (size_t e = 0; e < data->n_test; e++) {
        const struct mz_eval_event *ev = &data->test[e];
        const int32_t *h = hist.items[ev->client];
        uint32_t hn = hist.count[ev->client];

        /* All-rank protocol: what the client already has is never
         * recommended. The mask is restored right after. */
        for (uint32_t k = 0; k < hn; k++)
            allowed[h[k]] = 0;
        int rank = mz_eval_score_and_rank(method, state, ev->client, ev->ts,
                                          scores, n_items, allowed, ev->item,
                                          &res->short_lists);
        mz_eval_add_case(res, rank);
        for (uint32_t k = 0; k < hn; k++)
            allowed[h[k]] = 1;
        if (opt->limit_cases && res->cases >= opt->limit_cases)
            break;
        /* A later test event of the same client is predicted knowing this
         * one (S3-Rec has one test event per client; other sets may not). */
        if (!histories_add(&hist, ev)) {
            snprintf(err, err_len, "out of memory");
            goto cleanup;
        }
        learn_s += learn_test_event(opt, method, state, ev, e, data->n_test);
        learned++;
    }
    progress(opt, method->name, "test", data->n_test, data->n_test);
    res->bytes_per_client = (double)method->ops->bytes_per_client(state);
    mz_eval_finish_result(res, learned, learn_s, t0);
    ok = true;
cleanup:
    histories_free(&hist);
    free(allowed);
    free(scores);
    if (state)
        method->ops->free_state(state);
    return ok;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Feeds events of items[0..n-1] to the synthetic client, scoring the first
 * SHIFT_POSITIONS of them before they are observed (hits and counts per
 * position), with learning of shared state off so pairs stay independent.
 * *ts advances by SHIFT_STEP_S per event. */
static void shift_phase(const struct mz_eval_method *method, void *state,
                        int32_t client, const int32_t *items,
                        const enum mz_event_type *types, uint32_t n, bool score,
                        int64_t *ts, float *scores, size_t n_items,
                        double *hits, double *counts)
{
    for (uint32_t k = 0; k < n; k++) {
        struct mz_eval_event ev = {
            .client = client, .item = items[k], .ts = *ts, .type = types[k]};
        if (score && k < SHIFT_POSITIONS) {
            hits[k] +=
                mz_eval_score_and_rank(method, state, client, ev.ts, scores,
                                       n_items, NULL, items[k], NULL) > 0;
            counts[k] += 1.0;
        }
        method->ops->observe(state, &ev, false);
        *ts += SHIFT_STEP_S;
    }
}

static void shift_rates(const double *hits, const double *counts, double *out)
{
    for (int h = 0; h < MZ_EVAL_SHIFT_HORIZONS; h++) {
        double hit = 0, count = 0;
        for (int k = 0; k < mz_eval_shift_horizon[h]; k++) {
            hit += hits[k];
            count += counts[k];
        }
        out[h] = count > 0 ? hit / count : 0;
    }
}

bool mz_eval_taste_shift(const struct mz_eval_method *method,
                         const struct mz_eval_data *data,
                         const struct mz_eval_options *opt,
                         struct mz_eval_shift_result *res, char *err,
                         size_t err_len)
{
    size_t n_items = (size_t)mz_intern_count(data->items);
    int32_t n_clients = mz_intern_count(data->clients);
    int32_t synthetic = n_clients; /* the extra client create_state makes */
    void *state = NULL;
    float *scores = NULL;
    int32_t *eligible = NULL;
    uint8_t *held_out = NULL;
    struct histories hist = {0};
    double hits[3][SHIFT_POSITIONS] = {{0}}, counts[3][SHIFT_POSITIONS] = {{0}};
    bool ok = false;

    memset(res, 0, sizeof(*res));
    res->method = method->name;
    state = create_state(method, data, opt, err, err_len);
    scores = malloc(n_items * sizeof(*scores));
    eligible = malloc((size_t)n_clients * sizeof(*eligible));
    held_out = calloc((size_t)n_clients, sizeof(*held_out));
    if (!state || !scores || !eligible || !held_out ||
        !histories_init(&hist, n_clients)) {
        if (state)
            snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    /* A client's taste = its whole history, train then test. */
    for (int pass = 0; pass < 2; pass++) {
        const struct mz_eval_event *evs = pass ? data->test : data->train;
        size_t n = pass ? data->n_test : data->n_train;
        for (size_t e = 0; e < n; e++)
            if (!histories_add(&hist, &evs[e]))
                goto nomem;
    }
    int32_t n_eligible = 0;
    for (int32_t c = 0; c < n_clients; c++)
        if (hist.count[c] >= SHIFT_MIN_HISTORY)
            eligible[n_eligible++] = c;
    if (n_eligible < 2) {
        snprintf(err, err_len,
                 "taste-shift: fewer than 2 clients with %d "
                 "events or more",
                 SHIFT_MIN_HISTORY);
        goto cleanup;
    }
    /* The pairs come from a pool of clients whose events the global level
     * never learns: had it learned their sequences (transitions, item
     * space), predicting them would measure memorisation, not how a
     * client's levels follow a change of taste. Pool: a seeded shuffle's
     * first 2 * pairs eligible clients. */
    uint64_t rng = opt->seed;
    for (int32_t k = n_eligible - 1; k > 0; k--) {
        int32_t j = (int32_t)(splitmix64(&rng) % (uint64_t)(k + 1));
        int32_t tmp = eligible[k];
        eligible[k] = eligible[j];
        eligible[j] = tmp;
    }
    int32_t pool = n_eligible;
    if (opt->pairs * 2 < (size_t)pool)
        pool = (int32_t)(opt->pairs * 2);
    for (int32_t k = 0; k < pool; k++)
        held_out[eligible[k]] = 1;
    res->pool = (size_t)pool;
    replay_train(method, state, data, opt, held_out);

    int64_t ts = 0;
    for (size_t e = 0; e < data->n_train; e++)
        if (data->train[e].ts > ts)
            ts = data->train[e].ts;
    for (size_t p = 0; p < opt->pairs; p++) {
        int32_t a = eligible[splitmix64(&rng) % (uint64_t)pool];
        int32_t b = a;
        while (b == a)
            b = eligible[splitmix64(&rng) % (uint64_t)pool];
        /* Reference: B's events from a new client. */
        method->ops->reset_client(state, synthetic);
        shift_phase(method, state, synthetic, hist.items[b], hist.types[b],
                    hist.count[b], true, &ts, scores, n_items, hits[0],
                    counts[0]);
        /* A, then B (plasticity), then A again (stability). */
        method->ops->reset_client(state, synthetic);
        shift_phase(method, state, synthetic, hist.items[a], hist.types[a],
                    hist.count[a], false, &ts, scores, n_items, NULL, NULL);
        shift_phase(method, state, synthetic, hist.items[b], hist.types[b],
                    hist.count[b], true, &ts, scores, n_items, hits[1],
                    counts[1]);
        shift_phase(method, state, synthetic, hist.items[a], hist.types[a],
                    hist.count[a], true, &ts, scores, n_items, hits[2],
                    counts[2]);
        res->pairs++;
        if ((p + 1) % 64 == 0 || p + 1 == opt->pairs)
            progress(opt, method->name, "pairs", p + 1, opt->pairs);
    }
    shift_rates(hits[0], counts[0], res->fresh);
    shift_rates(hits[1], counts[1], res->shift);
    shift_rates(hits[2], counts[2], res->back);
    ok = true;
    goto cleanup;
nomem:
    snprintf(err, err_len, "out of memory");
cleanup:
    histories_free(&hist);
    free(held_out);
    free(eligible);
    free(scores);
    if (state)
        method->ops->free_state(state);
    return ok;
}
