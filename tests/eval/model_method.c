/*-------------------------------------------------------------------------
 * model_method.c
 *    Our model (model/, the very code maisond serves) as an evaluator
 *    method, and its ablations, each expressed only as a change of
 *    struct mz_model_config so that an ablation measures the model and
 *    not a copy of it.
 *
 * The catalogue is added before replay, in item index order, with the
 * items' attribute tokens, as the server adds its catalog. Clients are
 * created on their first event.
 *-------------------------------------------------------------------------
 */
#include "tests/eval/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_item.h"
#include "model/candidates.h"
#include "model/catalog.h"
#include "model/model.h"

struct model_method {
    struct mz_model *model;     /* owned */
    struct mz_candidates *cand; /* owned: the server's scoring path */
    struct mz_client **clients; /* owned, per client; NULL until seen */
    int32_t n_clients;
};

/* Fills cfg for variant: the defaults, then the --set settings, then the
 * variant's change (so an ablation stays an ablation of the tuned
 * model). Returns false with the reason in err for a bad setting. */
static bool variant_config(enum mz_eval_model_variant variant,
                           const struct mz_eval_options *opt,
                           struct mz_model_config *cfg, char *err,
                           size_t err_len)
{
    mz_model_config_defaults(cfg);
    for (size_t i = 0; i < opt->n_model_settings; i++) {
        char name[128];
        const char *setting = opt->model_settings[i];
        const char *eq = strchr(setting, '=');
        if (!eq || (size_t)(eq - setting) >= sizeof name) {
            snprintf(err, err_len, "--set %s: expected name=value", setting);
            return false;
        }
        memcpy(name, setting, (size_t)(eq - setting));
        name[eq - setting] = '\0';
        if (mz_model_config_set(cfg, name, eq + 1, err, err_len) != MZ_OK)
            return false;
    }
    switch (variant) {
    case MZ_EVAL_MAISON:
        break;
    case MZ_EVAL_MAISON_L0:
        cfg->n_levels = 1;
        break;
    case MZ_EVAL_MAISON_SLOW:
        /* Only the slowest level speaks: the faster ones get readout
         * weight 0, so they add nothing to the query. */
        for (int l = 0; l < cfg->n_levels - 1; l++)
            cfg->level_lr[l] = 0.0f;
        /* Alone: not gated by what level 0 holds. */
        cfg->slow_gate_floor = 1.0f;
        break;
    case MZ_EVAL_MAISON_FLAT:
        cfg->nested = false;
        break;
    case MZ_EVAL_MAISON_FROZEN_ITEMS:
        cfg->learn_global = false;
        break;
    case MZ_EVAL_MAISON_NO_SESSION:
        cfg->use_session = false;
        break;
    case MZ_EVAL_MAISON_NO_TRANS:
        cfg->w_trans = 0.0f;
        break;
    case MZ_EVAL_MAISON_LEVELS_ONLY:
        /* What the nested levels alone rank (their items' successors and
         * item-space neighbours), without the session and popularity. */
        cfg->use_session = false;
        cfg->w_pop_all = 0.0f;
        cfg->w_pop_recent = 0.0f;
        break;
    case MZ_EVAL_MAISON_NO_DENSE:
        /* The complement: the catalog-wide terms without the levels' and
         * item space's O q + b. */
        cfg->w_dense = 0.0f;
        cfg->w_bias = 0.0f;
        break;
    case MZ_EVAL_MAISON_NO_ATTR:
        cfg->w_attr = 0.0f;
        break;
    }
    return true;
}

static void model_method_free(void *state)
{
    struct model_method *m = state;
    if (!m)
        return;
    if (m->clients) {
        for (int32_t c = 0; c < m->n_clients; c++)
            mz_client_free(m->clients[c]);
    }
    free(m->clients);
    mz_candidates_free(m->cand);
    mz_model_free(m->model);
    free(m);
}

/* Adds item i with the cold-start tokens maisond would derive from the
 * same catalog object; false with the reason in err. */
static bool add_item(struct mz_model *model, const struct mz_eval_data *data,
                     int32_t i, char *err, size_t err_len)
{
    json_t *obj = mz_eval_item_json(data, i);
    struct mz_item *item = NULL;
    struct mz_string_list tokens = {0};
    struct mz_json_error why = {.message = "out of memory"};
    bool ok = false;

    if (!obj)
        goto cleanup;
    item = mz_json_read_item(obj, "", &why);
    if (!item)
        goto cleanup;
    /* What can still fail is an allocation. */
    snprintf(why.message, sizeof why.message, "out of memory");
    if (mz_item_tokens(item, &tokens) != MZ_OK)
        goto cleanup;
    ok = mz_model_add_item(model, (const char *const *)tokens.items,
                           tokens.count) == i;
cleanup:
    if (!ok)
        snprintf(err, err_len, "item %s: %s", mz_intern_name(data->items, i),
                 why.message);
    mz_string_list_clear(&tokens);
    mz_item_free(item);
    json_decref(obj);
    return ok;
}

static void *model_method_create(const struct mz_eval_method *method,
                                 const struct mz_eval_data *data,
                                 const struct mz_eval_options *opt,
                                 int32_t n_clients, char *err, size_t err_len)
{
    struct model_method *m = calloc(1, sizeof(*m));
    struct mz_model_config cfg;
    char why[256] = "";

    if (!m)
        goto nomem;
    if (!variant_config((enum mz_eval_model_variant)method->variant, opt, &cfg,
                        why, sizeof(why))) {
        snprintf(err, err_len, "%s", why);
        model_method_free(m);
        return NULL;
    }
    m->model = mz_model_new(&cfg, why, sizeof(why));
    if (!m->model) {
        snprintf(err, err_len, "%s: mz_model_new: %s", method->name,
                 why[0] ? why : "out of memory");
        model_method_free(m);
        return NULL;
    }
    m->cand = mz_candidates_new();
    if (!m->cand) {
        snprintf(err, err_len, "%s: out of memory", method->name);
        model_method_free(m);
        return NULL;
    }
    int32_t n_items = mz_intern_count(data->items);
    for (int32_t i = 0; i < n_items; i++) {
        if (!add_item(m->model, data, i, err, err_len)) {
            model_method_free(m);
            return NULL;
        }
    }
    m->n_clients = n_clients;
    m->clients = calloc((size_t)n_clients, sizeof(*m->clients));
    if (!m->clients)
        goto nomem;
    return m;
nomem:
    snprintf(err, err_len, "%s: out of memory", method->name);
    model_method_free(m);
    return NULL;
}

static struct mz_client *client_of(struct model_method *m, int32_t client)
{
    if (!m->clients[client])
        m->clients[client] = mz_client_new(m->model);
    return m->clients[client];
}

static void model_method_observe(void *state, const struct mz_eval_event *ev,
                                 bool learn_global)
{
    struct model_method *m = state;
    struct mz_client *client = client_of(m, ev->client);
    struct mz_event_obs obs = {
        .item = ev->item,
        .type = ev->type,
        .ts = ev->ts,
        .seq = 0,
        .value = 0.0f,
        .quantity = 1,
        .dwell_ms = 0,
    };

    if (!client)
        return; /* out of memory: the client stays new */
    mz_model_observe(m->model, client, &obs, learn_global);
}

/* The whole catalog scored (mz_model_score): maisond's fallback, and
 * every score when candidates are off (cand_popular 0). */
static void model_method_score_all(void *state, int32_t client, int64_t now_ts,
                                   float *scores)
{
    struct model_method *m = state;
    /* A client never seen scores as a new one (NULL is non-personalised,
     * which is what a new client's zero levels give too). */
    mz_model_score(m->model, m->clients[client], -1, now_ts, scores);
}

/* What maisond scores: the client's candidates, every other item
 * -INFINITY (so a short list falls back to model_method_score_all). */
static void model_method_score(void *state, int32_t client, int64_t now_ts,
                               float *scores)
{
    struct model_method *m = state;
    int32_t n_items = mz_model_item_count(m->model);

    if (!m->cand || !mz_model_score_candidates(m->model, m->clients[client], -1,
                                               now_ts, NULL, m->cand)) {
        model_method_score_all(state, client, now_ts, scores);
        return;
    }
    size_t n;
    const int32_t *items = mz_candidates_items(m->cand, &n);
    const float *cand_scores = mz_candidates_scores(m->cand);
    for (int32_t j = 0; j < n_items; j++)
        scores[j] = -INFINITY;
    for (size_t i = 0; i < n; i++)
        scores[items[i]] = cand_scores[items[i]];
}

static void model_method_reset_client(void *state, int32_t client)
{
    struct model_method *m = state;
    mz_client_free(m->clients[client]);
    m->clients[client] = NULL;
}

/* The mean of what the clients in memory take (a client's deep levels
 * are a block made at their first chunk, so a short history costs
 * less). */
static size_t model_method_bytes_per_client(const void *state)
{
    const struct model_method *m = state;
    size_t total = 0, n = 0;
    for (int32_t c = 0; c < m->n_clients; c++) {
        if (m->clients[c]) {
            total += mz_client_bytes(m->clients[c]);
            n++;
        }
    }
    return n ? total / n : mz_client_resident_bytes(m->model);
}

const struct mz_eval_method_ops mz_eval_model_ops = {
    .create = model_method_create,
    .observe = model_method_observe,
    .score = model_method_score,
    .score_all = model_method_score_all,
    .reset_client = model_method_reset_client,
    .bytes_per_client = model_method_bytes_per_client,
    .free_state = model_method_free,
};
