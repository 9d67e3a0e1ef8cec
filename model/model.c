/*-------------------------------------------------------------------------
 * model.c
 *    struct mz_model: its lifetime, and learning from one event, which
 *    lets the global level and then the client's levels learn.
 *
 * Interface routines (see model.h): mz_model_new, mz_model_free,
 * mz_model_config_of, mz_model_item_count, mz_model_observe.
 *
 * The rest of the model is one file per job: item rows (item_rows.c),
 * what a client's levels read out and the query they build (query.c),
 * the global level's learning (global_level.c), the client levels' CMS
 * rule (client_levels.c), scoring (score.c), the client's state
 * (client.c), the configuration (model_config.c) and snapshots
 * (model_io.c, model_load.c); model_internal.h is their shared layout.
 *
 * Everything here is a pure function of its arguments and the model's
 * state: randomness comes from a PRNG seeded by cfg.seed and advanced only
 * by learning, time only from event timestamps, and floating-point sums
 * run in a fixed order, so a replay reproduces a state bit for bit.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"

#include <stdio.h>
#include <stdlib.h>

struct mz_model *mz_model_new(const struct mz_model_config *cfg, char *err,
                              size_t err_len)
{
    if (!mz_model_config_check(cfg, err, err_len))
        return NULL;
    struct mz_model *model = calloc(1, sizeof *model);
    if (!model)
        goto fail;
    model->cfg = *cfg;
    model->trans = mz_transitions_new(0, (uint32_t)cfg->trans_max_per_item);
    model->attrs = mz_attributes_new();
    if (!model->trans || !model->attrs)
        goto fail;
    uint64_t state = cfg->seed;
    model->rng = mz_splitmix64(&state);
    return model;

fail:
    mz_model_free(model);
    if (err && err_len)
        snprintf(err, err_len, "out of memory");
    return NULL;
}

void mz_model_free(struct mz_model *model)
{
    if (!model)
        return;
    mz_transitions_free(model->trans);
    mz_attributes_free(model->attrs);
    free(model->touched);
    free(model->ada_bias);
    free(model->ada_O);
    free(model->ada_K);
    free(model->grad_sides);
    free(model->grad_hits);
    free(model->grad_bias);
    free(model->grad_O);
    free(model->grad_K);
    free(model->popular);
    free(model->pop_recent);
    free(model->pop_all_log);
    free(model->pop_all);
    free(model->bias);
    free(model->O);
    free(model->K);
    free(model);
}

const struct mz_model_config *mz_model_config_of(const struct mz_model *model)
{
    return &model->cfg;
}

int32_t mz_model_item_count(const struct mz_model *model)
{
    return model->n_items;
}

void mz_model_observe(struct mz_model *model, struct mz_client *client,
                      const struct mz_event_obs *ev, bool learn_global_level)
{
    client->all_events++;
    if (ev->seq != 0)
        client->last_seq = ev->seq;
    int32_t item = ev->item;
    if (item < 0 || item >= model->n_items)
        return;
    float weight = mz_model_event_weight(model, ev->type);
    if (weight == 0.0f)
        return;

    /* A deferred chunk its caller left unfinished is applied first: the
     * event must find the item space as the in-place application leaves
     * it. */
    mz_model_finish_chunk(model);
    /* Time away fades the levels before the event is learned, so an old
     * intent does not outweigh the new event. */
    mz_client_fade_levels(model, client, ev->ts);
    /* The global level learns from the client as the event found it:
     * its query and its recent items, before the event joins them. */
    if (learn_global_level && model->cfg.learn_global && weight > 0.0f) {
        struct mz_global_step step;
        float q[4096];
        mz_model_global_prepare(model, client, item, &step);
        step.n_readout = mz_model_levels_readout(
            model, client, ev->ts, step.readout_items, step.readout_weights);
        mz_model_query_of_readout(model, client, ev->ts, step.n_readout,
                                  step.readout_items, step.readout_weights, q);
        mz_model_learn_global(model, client, &step, q, item, weight, ev->ts);
        mz_model_refresh_popular(model);
    }
    mz_client_learn_event(model, client, item, ev->type, weight, ev->ts);
}
