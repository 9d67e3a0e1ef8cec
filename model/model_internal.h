/*-------------------------------------------------------------------------
 * model_internal.h
 *    The layout of struct mz_model and struct mz_client, and the routines
 *    the files of the nested model share (model.c, item_rows.c, query.c,
 *    global_level.c, client_levels.c, client.c, score.c, model_io.c,
 *    model_load.c, model_config.c). Nothing outside model/ includes this.
 *-------------------------------------------------------------------------
 */
#ifndef MZ_MODEL_INTERNAL_H
#define MZ_MODEL_INTERNAL_H

#include "model/attributes.h"
#include "model/item_memory.h"
#include "model/model.h"
#include "model/transitions.h"

/* Recent items a client remembers (the session and transition sources). */
#define MZ_RING_SIZE 16

/* Past global events kept to draw negative samples from: drawing from
 * the recent stream samples items in proportion to their recent
 * popularity, which is what word2vec's unigram table approximates. */
#define MZ_NEG_RING_SIZE 8192

struct mz_model {
    struct mz_model_config cfg;
    int32_t n_items;
    int32_t cap;        /* rows allocated in every per-item array */
    float *K;           /* owned, cap x dim: input (context) rows */
    float *O;           /* owned, cap x dim: output (scored) rows */
    float *bias;        /* owned, cap: learned logit bias */
    float *pop_all;     /* owned, cap: weighted event count */
    float *pop_all_log; /* owned, cap: log1p(pop_all), kept in step */
    float pop_all_log_max;
    float *pop_recent; /* owned, cap: decayed count, scaled to
                          pop_ref_ts (see bump_popularity) */
    float pop_recent_max;
    int64_t pop_ref_ts;
    struct mz_transitions *trans; /* owned */
    struct mz_attributes *attrs;  /* owned: items' attribute tokens */

    /* The pending global chunk: gradients summed since the last boundary,
     * applied (and zeroed) every global_chunk events. */
    float *grad_K;       /* owned, cap x dim */
    float *grad_O;       /* owned, cap x dim */
    float *grad_bias;    /* owned, cap */
    uint32_t *grad_hits; /* owned, cap: contributions per row */
    uint8_t *grad_sides; /* owned, cap: MZ_GRAD_K | MZ_GRAD_O, the halves
                            of the row given a gradient in the chunk */
    /* Row-wise AdaGrad: per item, the running sum of the mean squared
     * chunk gradient of its K row, O row and bias, which sets each row's
     * step so rare items learn fast and popular ones settle. */
    float *ada_K;     /* owned, cap */
    float *ada_O;     /* owned, cap */
    float *ada_bias;  /* owned, cap */
    int32_t *touched; /* owned, cap: rows with hits, in first-hit
                         order */
    int32_t n_touched;
    int32_t chunk_events;
    /* A closed chunk left to the caller (mz_model_defer_chunks): due
     * until every touched row is applied, touched[0..chunk_applied-1]
     * already are. */
    bool chunk_deferred;
    bool chunk_due;
    int32_t chunk_applied;
    int64_t global_events;
    /* How often a client's next item is one of its session items: the
     * sum over learned events of the session weight on the event's item
     * (as a share of the session), and the number of events with a
     * session. Scoring turns it into the weight of a re-visit. */
    double revisit_share_sum;
    double revisit_events;
    uint64_t rng;
    int32_t neg_ring[MZ_NEG_RING_SIZE];
    int32_t neg_len;
    int32_t neg_pos;
    /* The items of the strongest catalog prior (bias and popularity),
     * best first: the candidates every recommendation scores besides the
     * client's own (candidates.c). Rebuilt whenever global_events reaches
     * a multiple of MZ_POPULAR_REFRESH_EVENTS (and while shorter than it
     * can be), so it may trail the prior by that many events; saved with
     * the model, so a replay after a restart rebuilds it at the same
     * events and recommends exactly what the server never stopped
     * would. */
    int32_t *popular; /* owned, room for cfg.cand_popular */
    int32_t n_popular;
    bool popular_deferred; /* the caller rebuilds it (mz_model_defer_popular) */
    bool popular_due;      /* deferred, and due since the last event */
};

/* The global level's snapshot format: model_io.c writes it,
 * model_load.c reads it. */
#define MZ_MODEL_MAGIC     "MZM" /* its first bytes, without the NUL */
#define MZ_MODEL_MAGIC_LEN 3
#define MZ_MODEL_FORMAT_VERSION 3 /* 3: the popular candidates */
/* Longest item id a snapshot may carry (MZ_ID_MAX_BYTES in catalog.h,
 * which the model layer does not depend on). */
#define MZ_MODEL_MAX_ID_BYTES 1024

/* Global events between two rebuilds of the popular candidates: a
 * rebuild is one pass over the catalog, so this bounds its share of
 * learning to a fraction of one pass per event. */
#define MZ_POPULAR_REFRESH_EVENTS 256

/* The halves of an item row a chunk gave a gradient (grad_sides): a row
 * is most often only an input (K: a session or level item) or only an
 * output (O: a target or negative), and closing the chunk reads only the
 * halves it wrote. */
#define MZ_GRAD_K 1u
#define MZ_GRAD_O 2u

/* Levels kept in the client's own allocation: 0 and 1. Deeper levels
 * (2..n_levels-1) stay empty until their first chunk closes (at the 16th
 * event with the default chunks), which most clients never reach, so
 * their memories are a second block made then (struct mz_client, deep). */
#define MZ_CLIENT_INLINE_LEVELS 2

/* The small counts are bytes and come last, so no padding precedes the
 * memories: a client of 3 levels is 860 bytes (an 880-byte malloc
 * chunk), and 132 more (a 144-byte chunk) once level 2 holds anything
 * (1,136 in all before). */
struct mz_client {
    int64_t events;     /* item events learned from */
    int64_t all_events; /* every event, item-less included */
    int64_t last_seq;
    int64_t last_ts; /* ts of the last item event; 0: none */
    int64_t consolidated_at[MZ_MAX_LEVELS];
    int64_t level_events[MZ_MAX_LEVELS];
    /* Owned: the memories of levels MZ_CLIENT_INLINE_LEVELS..n_levels-1,
     * NULL until one of them first takes an item (mz_client_make_deep). */
    struct mz_item_memory *deep;
    int32_t chunk_fill[MZ_MAX_LEVELS]; /* events in the open chunk */
    int32_t ring_item[MZ_RING_SIZE];   /* slot (ring_head - 1 - r) mod
                                          size is the r-th most recent */
    int64_t ring_ts[MZ_RING_SIZE];
    uint8_t ring_type[MZ_RING_SIZE];
    uint8_t n_levels;  /* 1..MZ_MAX_LEVELS */
    uint8_t ring_len;  /* 0..MZ_RING_SIZE */
    uint8_t ring_head; /* 0..MZ_RING_SIZE - 1 */
    /* memory[l]: what level l (below MZ_CLIENT_INLINE_LEVELS) remembers;
     * then the items of each level l >= 1's open chunk, consolidated
     * into it at the chunk boundary (level 0 learns every event and has
     * no chunk). Sized by n_levels, not MZ_MAX_LEVELS: per-client bytes
     * are what limits how many clients a node holds
     * (mz_client_resident_bytes). Use mz_client_level / mz_client_pending
     * and their read-only forms. */
    struct mz_item_memory memory[];
};

/* Levels of a client of n_levels levels kept in its own allocation. */
static inline int mz_client_inline_levels(int n_levels)
{
    return n_levels < MZ_CLIENT_INLINE_LEVELS ? n_levels
                                              : MZ_CLIENT_INLINE_LEVELS;
}

/* Item memories in a client's own allocation: its inline levels', and
 * the open chunks of levels 1..n_levels-1. */
static inline int mz_client_memory_count(int n_levels)
{
    return mz_client_inline_levels(n_levels) + n_levels - 1;
}

/* Always empty: what a reader sees as level 0's open chunk, and as a deep
 * level that has no block yet (client.c). */
extern const struct mz_item_memory mz_client_empty_memory;

/* What level l (0..n_levels-1) of c remembers, to change; NULL for a deep
 * level while c has no deep block (the level is empty: make the block
 * with mz_client_make_deep before adding to it). */
static inline struct mz_item_memory *mz_client_level(struct mz_client *c, int l)
{
    if (l < MZ_CLIENT_INLINE_LEVELS)
        return &c->memory[l];
    return c->deep ? &c->deep[l - MZ_CLIENT_INLINE_LEVELS] : NULL;
}

/* What level l (0..n_levels-1) of c remembers, read-only (never NULL). */
static inline const struct mz_item_memory *mz_client_level_of(
    const struct mz_client *c, int l)
{
    if (l < MZ_CLIENT_INLINE_LEVELS)
        return &c->memory[l];
    return c->deep ? &c->deep[l - MZ_CLIENT_INLINE_LEVELS]
                   : &mz_client_empty_memory;
}

/* Makes c's deep block (empty levels) when it has none; false on
 * allocation failure, with c unchanged (client.c). */
bool mz_client_make_deep(struct mz_client *c);

/* The open chunk of level l (1..n_levels-1) of c. */
static inline struct mz_item_memory *mz_client_pending(struct mz_client *c,
                                                       int l)
{
    return &c->memory[mz_client_inline_levels(c->n_levels) + l - 1];
}

/* The open chunk of level l (0..n_levels-1) of c, read-only; level 0's
 * is always empty. */
static inline const struct mz_item_memory *mz_client_pending_of(
    const struct mz_client *c, int l)
{
    return l > 0 ? &c->memory[mz_client_inline_levels(c->n_levels) + l - 1]
                 : &mz_client_empty_memory;
}

/* splitmix64: turns any 64-bit value into a well-mixed one; the step of
 * the model's PRNG and of the token vectors' streams. */
static inline uint64_t mz_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* r-th most recent item of the ring (r < ring_len), its ts and type. */
static inline int32_t mz_client_ring_slot(const struct mz_client *c, int r)
{
    return (c->ring_head - 1 - r + MZ_RING_SIZE) % MZ_RING_SIZE;
}

/* Weight of one event type for the client levels (cfg.event_weight). */
float mz_model_event_weight(const struct mz_model *model,
                            enum mz_event_type type);

/* The client's query vector at now_ts: decayed levels plus the session
 * context (with context_item as the newest item, -1: none), into q
 * (dim floats). per_level (NULL: not wanted) receives each level's decayed
 * memory (n_levels x dim) and session the session part (dim). */
void mz_model_query(const struct mz_model *model, const struct mz_client *c,
                    int32_t context_item, int64_t now_ts, float *q,
                    float *per_level, float *session);

/* mz_model_query(model, c, -1, now_ts, q, NULL, NULL), bit for bit, when
 * items / weights[0..n-1] are mz_model_levels_readout of c at now_ts:
 * the learner reads the levels once for the query and the step. */
void mz_model_query_of_readout(const struct mz_model *model,
                               const struct mz_client *c, int64_t now_ts,
                               int n, const int32_t *items,
                               const float *weights, float *q);

/* Whether a level of c, or a level's open chunk, holds item: when none
 * does, a transition from or to item changes no gate of c's readout
 * (query.c). */
bool mz_model_levels_hold(const struct mz_client *c, int32_t item);

/* Weight of the r-th most recent ring item in the session context at
 * now_ts when shift newer items (a context item) precede it: 0 past
 * session_items, for a negative event's item, or when use_session is
 * false. */
float mz_model_session_weight(const struct mz_model *model,
                              const struct mz_client *c, int r, int shift,
                              int64_t now_ts);

/* Every level's readout at once (mz_model_level_readout for each level),
 * an item held by several levels listed once with the sum of its
 * weights, in first-seen order (level 0 first): recent items usually
 * sit in every level, and each listed item costs a row of K or a
 * successor table. items / weights need room for MZ_MAX_LEVELS *
 * MZ_ITEM_MEMORY_SLOTS; returns how many were written. */
int mz_model_levels_readout(const struct mz_model *model,
                            const struct mz_client *c, int64_t now_ts,
                            int32_t *items, float *weights);

/* Score per unit of session weight for a re-visit of a session item at
 * now_ts (context_item -1: none): w_repeat times the re-visit rate the
 * global level has observed, spread over the session's total weight (at
 * least 1), so a data set where clients come back to what they just saw
 * ranks re-visits high and one where they never do ranks them low. */
float mz_model_repeat_scale(const struct mz_model *model,
                            const struct mz_client *c, int32_t context_item,
                            int64_t now_ts);

/* Decay factor of level l after dt seconds without events. */
float mz_model_level_decay(const struct mz_model *model, int level, double dt);

/* What level l of c contributes at now_ts: writes its items and their
 * readout weights (level_lr * wall-clock decay * the item's share of the
 * level, the share taken of at least one unit of event weight) into
 * items / weights (room for MZ_ITEM_MEMORY_SLOTS each); returns how many.
 * A level with level_lr 0 contributes nothing. */
int mz_model_level_readout(const struct mz_model *model,
                           const struct mz_client *c, int level, int64_t now_ts,
                           int32_t *items, float *weights);

/* The part of the global level's step on one event that is settled
 * before the step: its negatives, drawn ahead by mz_model_global_prepare
 * so that the rows and successor tables the step will touch (cache
 * misses in a large catalog) load while the client's query is
 * computed. A plain value. */
struct mz_global_step {
    int32_t negatives[64]; /* global_negatives <= 64 (model_config.c) */
    int n_negatives;
    /* The client's levels readout the query was built from (before the
     * step's transitions; mz_model_levels_readout). */
    int n_readout;
    int32_t readout_items[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    float readout_weights[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
};

/* Fills step's negatives for the global level's step on item by client
 * c: draws them (advancing the model's PRNG exactly as the step itself
 * once did) and asks the cache for what the step will touch. Call it
 * before reading c's levels into step and building the query from them
 * (mz_model_query_of_readout), then mz_model_learn_global
 * (global_level.c). */
void mz_model_global_prepare(struct mz_model *model, const struct mz_client *c,
                             int32_t item, struct mz_global_step *step);

/* The global level's share of one event of client c (as the event found
 * it) on item with weight > 0 at ts, q being c's query and step what
 * mz_model_global_prepare drew for it (global_level.c): transitions from
 * c's recent items, popularity, the re-visit rate, and an item2vec-style
 * step (predict item from q against step's negatives) summed into the
 * open global chunk, applied every global_chunk events. */
void mz_model_learn_global(struct mz_model *model, const struct mz_client *c,
                           const struct mz_global_step *step, const float *q,
                           int32_t item, float weight, int64_t ts);

/* Applies what is left of a chunk due (global_level.c): the in-place
 * application, and a deferred one the caller left unfinished. */
void mz_model_finish_chunk(struct mz_model *model);

/* Fades c's levels for the time between its last item event and ts
 * (client_levels.c); nothing when ts is not later. */
void mz_client_fade_levels(const struct mz_model *model, struct mz_client *c,
                           int64_t ts);

/* Teaches c's levels an event of type on item with weight (non-zero: > 0
 * adds, < 0 takes weight off) at ts by the CMS rule, and puts it in the
 * ring of recent items (client_levels.c). */
void mz_client_learn_event(const struct mz_model *model, struct mz_client *c,
                           int32_t item, enum mz_event_type type, float weight,
                           int64_t ts);

/* Where the client-dependent terms of a score are added: a dense array
 * of one score per item (stamp NULL), or the candidates' sparse one
 * (candidates.c), where the first add to an item lists it in items and
 * starts it at 0 (stamp[item] != gen). */
struct mz_score_sink {
    float *scores;   /* borrowed, one per item */
    uint32_t *stamp; /* borrowed, one per item; NULL: dense */
    uint32_t gen;
    int32_t *items; /* borrowed, room for every item; stamp only */
    size_t count;
};

static inline void mz_score_sink_add(struct mz_score_sink *sink, int32_t item,
                                     float value)
{
    if (sink->stamp && sink->stamp[item] != sink->gen) {
        sink->stamp[item] = sink->gen;
        sink->scores[item] = 0.0f;
        sink->items[sink->count++] = item;
    }
    sink->scores[item] += value;
}

/* Popularity and bias of item: the part of a score that does not depend
 * on the client (score.c). */
float mz_model_catalog_prior(const struct mz_model *model, int32_t item);

/* The weights of the prior's terms with their normalisations folded in,
 * for a loop over many items (mz_model_prior_at). */
struct mz_prior_scales {
    float bias;
    float pop_all;
    float pop_recent;
};

static inline struct mz_prior_scales mz_model_prior_scales(
    const struct mz_model *model)
{
    const struct mz_model_config *cfg = &model->cfg;
    struct mz_prior_scales s = {.bias = cfg->w_bias};

    if (model->pop_all_log_max > 0.0f)
        s.pop_all = cfg->w_pop_all / model->pop_all_log_max;
    if (model->pop_recent_max > 0.0f)
        s.pop_recent = cfg->w_pop_recent / model->pop_recent_max;
    return s;
}

/* The prior of item, as mz_model_score sums it. */
static inline float mz_model_prior_at(const struct mz_model *model,
                                      const struct mz_prior_scales *s,
                                      int32_t item)
{
    return s->bias * model->bias[item] + s->pop_all * model->pop_all_log[item] +
           s->pop_recent * model->pop_recent[item];
}

/* Adds to sink every term of client's score (NULL: none) that reaches
 * only some items: the successors of context_item (-1: none) and of the
 * items the levels hold, the held items themselves, their attribute
 * taste, and re-visits of the session (score.c). The prior and the dense
 * term, which reach every item, are the caller's. */
void mz_model_add_client_terms(const struct mz_model *model,
                               const struct mz_client *client,
                               int32_t context_item, int64_t now_ts,
                               struct mz_score_sink *sink);

/* Rebuilds model->popular from the current priors when it is due (see
 * struct mz_model), after the global level learned an event
 * (candidates.c); on allocation failure the list is emptied, which only
 * makes requests score the whole catalog. */
void mz_model_refresh_popular(struct mz_model *model);

/* Sets model->popular to items[0..n-1] (indices below n_items, best
 * first; a loaded snapshot's list). Returns false on allocation
 * failure, leaving the list empty. */
bool mz_model_set_popular(struct mz_model *model, const int32_t *items,
                          int32_t n);

/* Starts loading the dim floats of row (for_write: about to be written),
 * a hint that changes nothing: the rows one event reads (K, O and their
 * gradients, 256 bytes each at dim 64) are scattered over a catalog's
 * tens of megabytes, so asking for all of them before the loop that uses
 * them overlaps their cache misses. */
static inline void mz_prefetch_row(const float *row, int dim, bool for_write)
{
    for (int k = 0; k < dim; k += 16) {
        if (for_write)
            __builtin_prefetch(row + k, 1);
        else
            __builtin_prefetch(row + k, 0);
    }
}

/* later - earlier in seconds, computed in double: timestamps come from
 * clients and saved bytes, and their int64 difference can overflow. */
static inline double mz_seconds_between(int64_t later, int64_t earlier)
{
    return (double)later - (double)earlier;
}

#endif
