/*-------------------------------------------------------------------------
 * model.h
 *    The nested, multi-timescale memory (DESIGN.md section 3): a global
 *    item space learned from every client (the slowest level) and, per
 *    client, levels 0..L-1 that learn at different frequencies plus a
 *    session context.
 *
 * The model is plain single-threaded computation: no locks, no I/O. The
 * server serialises writers (one applier thread) and lets readers score
 * under a read lock; the offline evaluator calls it directly.
 *
 * Items are dense indices 0..n-1, added in order with mz_model_add_item.
 *
 * Ownership: every function borrows its pointer arguments; objects
 * returned by *_new are owned by the caller and released by *_free
 * (which accepts NULL).
 *
 * Interface routines:
 *    mz_model_config_defaults - the default (best measured) configuration
 *    mz_model_config_check / _set - range check; one parameter by name
 *    mz_model_new / _free     - the global level
 *    mz_model_add_item        - a new item, cold-start embedding from tokens
 *    mz_client_new / _free / _reset - one client's levels
 *    mz_model_observe         - learn from one event (client, and global)
 *    mz_model_defer_popular / _popular_due / _rank_popular /
 *    _install_popular         - the popular candidates' rebuild, by the caller
 *    mz_model_defer_chunks / _chunk_due / _apply_chunk_part - the global
 *                               chunk's application, by the caller, in parts
 *    mz_model_score           - scores of every item for a client
 *    mz_model_explain         - how much each level contributes to one score
 *    mz_client_save / _load   - a client's state as portable bytes
 *    mz_model_save / _load    - the global level as portable bytes
 *    mz_model_image_room / _new / _take / _save / _free - the same in
 *                               steps: make room, copy (under the caller's
 *                               lock), serialise (outside it)
 *-------------------------------------------------------------------------
 */
#ifndef MZ_MODEL_H
#define MZ_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/event.h"
#include "model/status.h"

#define MZ_MAX_LEVELS 4

struct mz_model_config {
    int dim;      /* embedding size d */
    int n_levels; /* client levels L, 1..MZ_MAX_LEVELS */
    /* Level l remembers up to 16 items with weights. Level 0 adds each
     * event's item at once; a slower level collects level_chunk[l] events
     * and consolidates their mean into its memory at the chunk boundary
     * (the Continuum Memory System rule). Each update first keeps
     * 1 - level_retention[l] of the old weights; time away fades them
     * with level_half_life_s[l]. level_lr[l] is how strongly the level
     * speaks in the query (its items' shares of the level, times it). */
    int level_chunk[MZ_MAX_LEVELS];          /* events per consolidation, C_l */
    float level_lr[MZ_MAX_LEVELS];           /* readout weight eta_l */
    float level_retention[MZ_MAX_LEVELS];    /* forgetting alpha_l per update */
    double level_half_life_s[MZ_MAX_LEVELS]; /* wall-clock decay; 0 = none */
    /* A slow level's item that is neither one of level 0's strongest
     * items nor their neighbour in the transition memory speaks at this
     * fraction (1: no gate): a new intent is not drowned by the old
     * taste, which is kept for when the client comes back to it. */
    float slow_gate_floor;
    int global_chunk; /* events per global update, C_G */
    float global_lr;
    bool learn_global; /* false: item space frozen */
    bool use_session;  /* false: no session context */
    bool nested;       /* false: every level updates
                          every event (ablation) */
    uint64_t seed;     /* all randomness derives from it */

    /* How much each event type teaches the client levels: > 0 adds the
     * item with that weight, < 0 takes that much weight off it, 0 only
     * counts. */
    float event_weight[MZ_EV_TYPE_COUNT];
    /* Session context: the last session_items (0..16) items, each
     * session_decay times the weight of the one after it, fading with a
     * half-life of session_half_life_s seconds (0: no fading). */
    int session_items;
    float session_decay;
    double session_half_life_s;
    float session_dense; /* the session's weight in the query q (0:
                            it only scores re-visits; its items still
                            teach the item space) */
    /* Global item space: sampled negatives per learned event and the norm
     * of a cold-start row. */
    int global_negatives;
    float init_scale;
    /* Transition memory: each event credits the trans_window items before
     * it with 1/distance; at most trans_max_per_item successors per item
     * (0: no bound). Scoring reads the successors of the items the levels
     * hold (and of the context item), turning weights into shares of
     * (source total + trans_smoothing). */
    int trans_window;
    float trans_backward; /* the reverse pair b -> a gets this times
                             1/distance (co-occurrence; 0: none) */
    int trans_max_per_item;
    float trans_smoothing;
    /* Recency-decayed popularity half-life in seconds of event time. */
    double pop_half_life_s;
    /* Score = w_dense * O q + w_bias * b + w_trans * transitions
     *       + w_pop_all * log-popularity (0..1) + w_pop_recent * recent
     *       popularity (0..1) + w_repeat * the re-visit rate observed
     *       in the stream * the item's share of the session weight
     *       (re-visits) + w_recall * the item's readout weight in the
     *       levels (what a level still holds) + w_attr * the client's
     *       taste for the item's attribute tokens (below). */
    float w_dense;
    float w_bias;
    float w_trans;
    float w_pop_all;
    float w_pop_recent;
    float w_repeat;
    float w_recall;
    /* Attribute taste: each token (brand, category, tag, ...) of the
     * items the levels hold gets their readout weight, as a share of the
     * levels' total; the 16 strongest tokens raise every item carrying
     * them by w_attr * share * (the item's log-popularity, 0..1) ^
     * attr_pop_power. Tokens on more than attr_max_share of the catalog
     * (a currency, a big brand or category: 2% by default) say little
     * about one client's taste, and skipping them bounds the cost of a
     * request to 16 tokens x 2% of the catalog. */
    float w_attr;
    float attr_max_share;
    float attr_pop_power;
    /* Candidates (model/candidates.h): a recommendation scores, besides
     * the items the client's own terms reach, the cand_popular items of
     * the strongest catalog prior (bias and popularity), not the whole
     * catalog; 0 scores the whole catalog every time. */
    int cand_popular;
    /* At most cand_max candidates get the dense term: when the client's
     * terms reach more (a long history over items with hundreds of
     * successors each), those with the best score before it (sparse
     * terms and prior) are kept, so a request's cost is bounded whatever
     * the client learned; 0 keeps every candidate. */
    int cand_max;
};

/* Most cand_popular a configuration may ask for. */
#define MZ_CAND_POPULAR_MAX 65536

/* Most cand_max a configuration may ask for. */
#define MZ_CAND_MAX_MAX (1 << 24)

/* Level ids as used by mz_model_explain and the reasons. */
enum mz_level_source {
    MZ_SOURCE_SESSION = 0, /* session context */
    MZ_SOURCE_LEVEL0,      /* level l is MZ_SOURCE_LEVEL0 + l */
    MZ_SOURCE_CATALOG = MZ_SOURCE_LEVEL0 + MZ_MAX_LEVELS, /* item space,
                                 popularity, transitions: catalog-wide */
    MZ_SOURCE_COUNT
};

struct mz_model;
struct mz_client;

/* Fills cfg with the default configuration (the best one measured by
 * tests/eval). */
void mz_model_config_defaults(struct mz_model_config *cfg);

/* Returns true when cfg is in range; otherwise false, with the reason in
 * err (if not NULL). */
bool mz_model_config_check(const struct mz_model_config *cfg, char *err,
                           size_t err_len);

/* Sets the parameter called name ("w_trans", "level_lr.1", ...; the
 * field names of struct mz_model_config, an array element as
 * name.index) to value, parsed in full. Returns MZ_OK, or
 * MZ_ERR_INVALID with the reason in err (cfg unchanged) for an unknown
 * name, an index out of range or a value that is not a number. The
 * range check is mz_model_config_check's. */
enum mz_status mz_model_config_set(struct mz_model_config *cfg,
                                   const char *name, const char *value,
                                   char *err, size_t err_len);

/* Returns NULL and writes a reason into err (if not NULL) when cfg is out
 * of range; NULL on allocation failure. */
struct mz_model *mz_model_new(const struct mz_model_config *cfg, char *err,
                              size_t err_len);
void mz_model_free(struct mz_model *model);
const struct mz_model_config *mz_model_config_of(const struct mz_model *model);

/* Adds the next item (its index is the previous item count) with a
 * cold-start embedding derived deterministically from its attribute
 * tokens (e.g. "brand=x", "category=y", "tag=z", "price_band=3"), so the
 * same tokens give the same embedding in every process. Returns the index,
 * or -1 on allocation failure (the model is left unchanged). */
int32_t mz_model_add_item(struct mz_model *model, const char *const *tokens,
                          size_t n_tokens);
int32_t mz_model_item_count(const struct mz_model *model);

/* Replaces the attribute tokens of item (a catalog update changed its
 * brand, category or tags), which the attribute taste reads from now on.
 * What the item space learned of the item, its embedding included, is
 * kept. Returns false when out of memory or item is unknown (the old
 * tokens are kept). */
bool mz_model_set_item_tokens(struct mz_model *model, int32_t item,
                              const char *const *tokens, size_t n_tokens);

/* A new client at zero (its query is only its session context). */
struct mz_client *mz_client_new(const struct mz_model *model);
void mz_client_free(struct mz_client *client);
/* Forgets everything the client's levels learned (consent withdrawn). */
void mz_client_reset(struct mz_client *client);
/* Number of events this client's levels have learned from. */
int64_t mz_client_event_count(const struct mz_client *client);
/* Sequence number of the last event applied to this client (0: none). */
int64_t mz_client_last_seq(const struct mz_client *client);
/* Time (event ts) at which level l last consolidated; 0 if never. */
int64_t mz_client_level_consolidated_at(const struct mz_client *client,
                                        int level);
/* Events learned by level l since the start (applied chunks * size). */
int64_t mz_client_level_events(const struct mz_client *client, int level);

/* Learns from one event for one client: updates the client's levels at
 * once (level 0 every event, slower levels at their chunk boundaries) and,
 * when learn_global is true and the configuration allows, the global
 * level. ev->item may be -1 (item-less events touch only counters); the
 * server passes -1 for an item the catalog has retired.
 * Replays after a restart call this again with the same events in the
 * same order and get the same state. */
void mz_model_observe(struct mz_model *model, struct mz_client *client,
                      const struct mz_event_obs *ev, bool learn_global);

/* The popular candidates (model_internal.h, struct mz_model's popular)
 * are rebuilt in one pass over the catalog, 0.3-0.4 ms at 50,000 items,
 * inside mz_model_observe when due. A caller that must not hold its write
 * lock that long defers them: mz_model_observe then only marks the
 * rebuild due, and the caller, before it learns the next event, ranks
 * the list with mz_model_rank_popular (read-only: under a read lock,
 * beside readers) and installs it with mz_model_install_popular (under
 * its write lock). The list is then the one the in-place rebuild makes,
 * at the same event. */
void mz_model_defer_popular(struct mz_model *model, bool defer);
/* Whether a deferred rebuild is due. */
bool mz_model_popular_due(const struct mz_model *model);

/* The global level's chunk is applied every global_chunk events, one
 * AdaGrad step per row the chunk touched: a few thousand rows for
 * clients with long histories, 0.3-0.5 ms, the longest event under the
 * server's write lock (make bench part (g)). A caller that must not hold
 * its lock that long defers it: the event that closes a chunk then only
 * marks it due, and the caller applies it with mz_model_apply_chunk_part
 * in as many parts as it likes (each under its write lock; readers may
 * run between parts and see some rows stepped and others not yet) until
 * it returns true, before it learns the next event or takes an image.
 * Each row's step reads only that row, so the rows end as the in-place
 * application leaves them. mz_model_observe finishes a chunk still due
 * before it learns, and mz_model_image_take refuses to copy one. */
void mz_model_defer_chunks(struct mz_model *model, bool defer);
/* Whether a deferred chunk is due (closed, not yet wholly applied). */
bool mz_model_chunk_due(const struct mz_model *model);
/* Applies up to max_rows (>= 1) more rows of the chunk due; returns true
 * once it is wholly applied (and at once when none is due). */
bool mz_model_apply_chunk_part(struct mz_model *model, int32_t max_rows);
/* Ranks the popular list into out (room for cand_popular items, see
 * struct mz_model_config). Returns its length, or -1 when out of memory. */
int32_t mz_model_rank_popular(const struct mz_model *model, int32_t *out);
/* Installs items[0..n-1] from mz_model_rank_popular (n < 0: empties the
 * list, as the in-place rebuild does when out of memory) and clears the
 * due mark. */
void mz_model_install_popular(struct mz_model *model, const int32_t *items,
                              int32_t n);

/* Writes the score of every item into scores[0..item_count-1] (higher is
 * better) for client (NULL: a non-personalised query) with context_item
 * (-1: none) as extra session context. now_ts is the request time, for
 * wall-clock decay of slow levels. The model knows nothing of deleted
 * items: the catalog's retired flag is their one owner, and the rules'
 * selection (and any other list) leaves them out. */
void mz_model_score(const struct mz_model *model,
                    const struct mz_client *client, int32_t context_item,
                    int64_t now_ts, float *scores);

/* Writes into scores[0..item_count-1] what source alone (the session
 * context, one level, or the catalog-wide level) gives each item for
 * client: what that memory level "holds", for the clienteling profile. */
void mz_model_score_source(const struct mz_model *model,
                           const struct mz_client *client,
                           enum mz_level_source source, int64_t now_ts,
                           float *scores);

/* Writes into contrib[0..MZ_SOURCE_COUNT-1] how much each source adds to
 * item's score for client (unused sources are 0). */
void mz_model_explain(const struct mz_model *model,
                      const struct mz_client *client, int32_t context_item,
                      int64_t now_ts, int32_t item, float *contrib);

/* Returns the item of the client's recent history that most influenced
 * item's score from source (session or a level), or -1. */
int32_t mz_model_evidence_item(const struct mz_model *model,
                               const struct mz_client *client,
                               enum mz_level_source source, int32_t item);

/* The two above for many items of one request: what they share (the
 * parts of the query, every level's readout, the attribute taste) is
 * computed once by mz_explainer_prepare, where each call of the two
 * computes it again (a list of 10 items read the levels ~100 times). */
struct mz_explainer;

/* Returns a new, unprepared explainer (caller frees with
 * mz_explainer_free, which accepts NULL), or NULL when out of memory. */
struct mz_explainer *mz_explainer_new(void);
void mz_explainer_free(struct mz_explainer *e);

/* Prepares e for client (NULL: not personalised) with context_item at
 * now_ts. model and client are borrowed and must not change while e is
 * used. Returns false when out of memory (e is then unprepared). */
bool mz_explainer_prepare(struct mz_explainer *e, const struct mz_model *model,
                          const struct mz_client *client, int32_t context_item,
                          int64_t now_ts);

/* mz_model_explain of item for what e was prepared for. */
void mz_explainer_contrib(const struct mz_explainer *e, int32_t item,
                          float *contrib);

/* mz_model_evidence_item of item from source for e's client. */
int32_t mz_explainer_evidence(const struct mz_explainer *e,
                              enum mz_level_source source, int32_t item);

/* Serialises client into a malloc'd buffer (caller frees) of *len bytes;
 * returns NULL on allocation failure. The bytes carry a format version. */
void *mz_client_save(const struct mz_client *client, size_t *len);
/* Returns a new client from bytes written by mz_client_save for a model
 * of the same configuration, or NULL (err says why). */
struct mz_client *mz_client_load(const struct mz_model *model,
                                 const void *bytes, size_t len, char *err,
                                 size_t err_len);

/* Serialises the global level (item rows, popularity, transitions, the
 * pending chunk, the popular candidates) into a malloc'd buffer (caller frees),
 * or NULL. Rows are in item index order; item_ids names them so that
 * mz_model_load can map rows onto a catalog whose indices differ. */
void *mz_model_save(const struct mz_model *model, const char *const *item_ids,
                    size_t *len);
/* The global level copied out of a model (plain arrays, not yet bytes),
 * so that the caller copies it under its lock and serialises it, with
 * the checksum, after releasing the lock (api/service/checkpoint.c).
 * Making the image (allocating and mapping its pages) is apart from
 * taking it, so that only the memcpy is under the lock. */
struct mz_model_image;

/* How much an image needs for a model: measured under the caller's lock
 * (cheap: one look at each item's transition table). */
struct mz_model_image_room {
    int32_t dim;
    size_t items;
    size_t touched;     /* rows of the pending chunk */
    size_t trans_slots; /* transition slots of every item */
};
struct mz_model_image_room mz_model_image_room(const struct mz_model *model);

/* Returns an image with room (borrowed) and some slack, its memory
 * written once so that taking it faults no page in; caller frees with
 * mz_model_image_free. NULL on allocation failure. Needs no lock. */
struct mz_model_image *mz_model_image_new(
    const struct mz_model_image_room *room);
/* Copies model's global level into img (memcpy of the item rows, the
 * pending chunk, the transitions and the popular candidates), growing img first
 * when the model outgrew it. Returns false on allocation failure. */
bool mz_model_image_take(struct mz_model_image *img,
                         const struct mz_model *model);
/* Returns the bytes mz_model_save would have written when img was taken
 * (same ownership, NULL on allocation failure); item_ids as there. */
void *mz_model_image_save(const struct mz_model_image *img,
                          const char *const *item_ids, size_t *len);
/* Frees img; accepts NULL. */
void mz_model_image_free(struct mz_model_image *img);

/* Restores what mz_model_save wrote into model, whose items were already
 * added (in any order): rows are matched by id through item_ids (the ids
 * of model's items by index); saved items missing from the model are
 * dropped. Returns MZ_OK, or MZ_ERR_INVALID (err says why; model is left
 * unchanged), or MZ_ERR_NOMEM (likewise) when memory runs out. */
enum mz_status mz_model_load(struct mz_model *model,
                             const char *const *item_ids, const void *bytes,
                             size_t len, char *err, size_t err_len);

/* The most bytes one client's state takes (its levels' second block
 * included, which a client gets at its first level-2 chunk), for the
 * memory limit, the metrics and the bench. */
size_t mz_client_resident_bytes(const struct mz_model *model);

/* The bytes client (borrowed) takes now: mz_client_resident_bytes less
 * the second block while it has none (the evaluator's average). */
size_t mz_client_bytes(const struct mz_client *client);

#endif
