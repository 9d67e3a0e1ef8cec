/*-------------------------------------------------------------------------
 * client_levels.c
 *    How one event changes a client's levels: time away fades them, then
 *    the Continuum Memory System rule adds the event's item (level 0 at
 *    once, slower levels through their open chunks), and the event joins
 *    the ring of recent items.
 *
 * Interface routines (see model_internal.h): mz_client_fade_levels,
 * mz_client_learn_event.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"

/* Level l of c, to add to: a deep level gets its block when it first
 * takes an item. NULL out of memory: the level then goes without this
 * event or chunk, as the transition memory goes without a pair it has no
 * room for. */
static struct mz_item_memory *level_to_fill(struct mz_client *c, int l)
{
    struct mz_item_memory *m = mz_client_level(c, l);
    if (!m && mz_client_make_deep(c))
        m = mz_client_level(c, l);
    return m;
}

/* The CMS rule for the client levels. An event adds its item with the
 * event's weight w: level 0 at once, after keeping 1 - alpha_0 of its old
 * weights; a slower level into its open chunk, and at the chunk boundary
 * the level keeps 1 - alpha_l of its weights and takes the chunk's mean
 * (nested = false: every level as level 0). A negative event takes |w|
 * off the item everywhere, chunks included: a dismissal is not
 * postponed. */
static void learn_levels(const struct mz_model *model, struct mz_client *c,
                         int32_t item, float weight, int64_t ts)
{
    const struct mz_model_config *cfg = &model->cfg;

    for (int l = 0; l < c->n_levels; l++) {
        /* NULL: a deep level with no block yet, which is empty. */
        struct mz_item_memory *m = mz_client_level(c, l);
        /* Level 0 has no chunk (it learns every event). */
        struct mz_item_memory *chunk = l > 0 ? mz_client_pending(c, l) : NULL;
        float keep = 1.0f - cfg->level_retention[l];

        if (weight < 0.0f) {
            if (m)
                mz_item_memory_weaken(m, item, -weight);
            if (chunk)
                mz_item_memory_weaken(chunk, item, -weight);
            continue;
        }
        if (l == 0 || !cfg->nested) {
            if ((m = level_to_fill(c, l))) {
                mz_item_memory_scale(m, keep);
                mz_item_memory_add(m, item, weight);
            }
            c->level_events[l]++;
            c->consolidated_at[l] = ts;
            continue;
        }
        mz_item_memory_add(chunk, item, weight);
        if (++c->chunk_fill[l] < cfg->level_chunk[l])
            continue;
        if ((m = level_to_fill(c, l)))
            mz_item_memory_merge(m, keep, chunk,
                                 1.0f / (float)cfg->level_chunk[l]);
        mz_item_memory_clear(chunk);
        c->chunk_fill[l] = 0;
        c->level_events[l] += cfg->level_chunk[l];
        c->consolidated_at[l] = ts;
    }
}

void mz_client_fade_levels(const struct mz_model *model, struct mz_client *c,
                           int64_t ts)
{
    if (c->last_ts > 0 && ts > c->last_ts) {
        double away = mz_seconds_between(ts, c->last_ts);
        for (int l = 0; l < c->n_levels; l++) {
            struct mz_item_memory *m = mz_client_level(c, l);
            if (m) /* an absent deep level is empty: nothing to fade */
                mz_item_memory_scale(m, mz_model_level_decay(model, l, away));
        }
    }
}

void mz_client_learn_event(const struct mz_model *model, struct mz_client *c,
                           int32_t item, enum mz_event_type type, float weight,
                           int64_t ts)
{
    learn_levels(model, c, item, weight, ts);

    c->ring_item[c->ring_head] = item;
    c->ring_ts[c->ring_head] = ts;
    c->ring_type[c->ring_head] = (uint8_t)type;
    c->ring_head = (uint8_t)((c->ring_head + 1) % MZ_RING_SIZE);
    if (c->ring_len < MZ_RING_SIZE)
        c->ring_len++;
    c->last_ts = ts;
    c->events++;
}
