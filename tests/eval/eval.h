/*-------------------------------------------------------------------------
 * eval.h
 *    The offline evaluator's internal interface: a data set in memory,
 *    the methods it compares (our model and its ablations, baselines),
 *    and the protocols that replay the data through them.
 *
 * Data enters as TSV files (train.tsv, test.tsv, optional items.tsv) and
 * is interned once: items and clients become dense indices, so methods
 * work on arrays. A method is a small vtable; every protocol drives every
 * method the same way: observe each event in order, ask for scores over
 * the whole catalogue before the events it must predict.
 *
 * Ownership: functions borrow their pointer arguments; objects returned
 * by *_new / create are owned by the caller and released by the matching
 * *_free (which accepts NULL).
 *
 * Interface routines:
 *    mz_eval_data_load/free - read a data directory
 *    mz_eval_methods        - the table of every method
 *    mz_eval_next_item, mz_eval_last_item, mz_eval_taste_shift - protocols
 *    mz_eval_http_run       - the same protocols against a running maisond
 *-------------------------------------------------------------------------
 */
#ifndef MZ_EVAL_H
#define MZ_EVAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/event.h"
#include "model/intern.h"

#define MZ_EVAL_TOPK 20

/* ---- interning: model/intern.h (item and client ids to dense indices) */

/* ---- data -------------------------------------------------------------- */

struct mz_eval_event {
    int32_t client;
    int32_t item;
    int64_t ts;
    enum mz_event_type type;
};

struct mz_eval_data {
    char *name;                  /* owned: the directory's base name */
    struct mz_intern *items;     /* owned */
    struct mz_intern *clients;   /* owned */
    char ***item_tokens;         /* owned: per item, items.tsv tokens */
    size_t *item_n_tokens;       /* owned */
    struct mz_eval_event *train; /* owned, file order */
    size_t n_train;
    struct mz_eval_event *test; /* owned, file order */
    size_t n_test;
};

/* Reads dir/train.tsv, dir/test.tsv and dir/items.tsv (if present).
 * Items are indexed in order of first appearance: items.tsv, then train,
 * then test (the whole catalogue is known before replay, as in production
 * where the catalog is loaded before events arrive). Returns NULL and
 * writes the reason into err on failure. */
struct mz_eval_data *mz_eval_data_load(const char *dir, char *err,
                                       size_t err_len);
void mz_eval_data_free(struct mz_eval_data *data);

/* Returns item as the catalog API takes it (a new reference, caller
 * owns), or NULL on allocation failure. The offline model derives its
 * cold-start tokens from this very object (mz_json_read_item and
 * mz_item_tokens), so that it starts from what maisond would. */
json_t *mz_eval_item_json(const struct mz_eval_data *data, int32_t item);

/* ---- methods ----------------------------------------------------------- */

struct mz_eval_method;

/* One method's operations. State is opaque to the protocols. Clients are
 * indices 0..n_clients (the extra last one is the synthetic client of the
 * taste-shift protocol). */
struct mz_eval_options;

struct mz_eval_method_ops {
    /* Returns a new state (caller frees with free_state), or NULL with the
     * reason in err. */
    void *(*create)(const struct mz_eval_method *method,
                    const struct mz_eval_data *data,
                    const struct mz_eval_options *opt, int32_t n_clients,
                    char *err, size_t err_len);
    /* Learns from ev; learn_global false: only ev->client's own state
     * (its levels, its session) may change, never what is shared. */
    void (*observe)(void *state, const struct mz_eval_event *ev,
                    bool learn_global);
    /* Writes a score for every item into scores (higher is better). */
    void (*score)(void *state, int32_t client, int64_t now_ts, float *scores);
    /* NULL when score scans the whole catalog. Otherwise score may write
     * -INFINITY for the items it did not look at (our model scores its
     * candidates, as maisond does), and this is the whole-catalog score
     * maisond falls back to when the candidates leave the list short. */
    void (*score_all)(void *state, int32_t client, int64_t now_ts,
                      float *scores);
    /* Forgets everything about client (its state returns to new). */
    void (*reset_client)(void *state, int32_t client);
    /* Average resident bytes of one client's state. */
    size_t (*bytes_per_client)(const void *state);
    void (*free_state)(void *state);
};

struct mz_eval_method {
    const char *name;
    const char *about; /* one line for --help and README */
    const struct mz_eval_method_ops *ops;
    int variant; /* which ablation / baseline knob */
};

/* Returns the table of all methods (static) and its length in *count. */
const struct mz_eval_method *mz_eval_methods(size_t *count);
/* Returns the method called name, or NULL. */
const struct mz_eval_method *mz_eval_method_find(const char *name);

/* Our model (model/), variant = enum mz_eval_model_variant. */
enum mz_eval_model_variant {
    MZ_EVAL_MAISON = 0,          /* mz_model_config_defaults */
    MZ_EVAL_MAISON_L0,           /* level 0 only */
    MZ_EVAL_MAISON_SLOW,         /* the slowest level only */
    MZ_EVAL_MAISON_FLAT,         /* nested = false */
    MZ_EVAL_MAISON_FROZEN_ITEMS, /* learn_global = false */
    MZ_EVAL_MAISON_NO_SESSION,   /* use_session = false */
    MZ_EVAL_MAISON_NO_TRANS,     /* w_trans = 0: no transition memory */
    MZ_EVAL_MAISON_LEVELS_ONLY,  /* only O q + b: levels and item space */
    MZ_EVAL_MAISON_NO_DENSE,     /* w_dense = w_bias = 0: no O q + b */
    MZ_EVAL_MAISON_NO_ATTR       /* w_attr = 0: no attribute taste */
};
extern const struct mz_eval_method_ops mz_eval_model_ops;

/* The baselines (baselines.c), variant = enum mz_eval_baseline_variant. */
enum mz_eval_baseline_variant {
    MZ_EVAL_POP = 0,    /* most popular, all time */
    MZ_EVAL_POP_RECENT, /* most popular in the last events */
    MZ_EVAL_SR,         /* sequential rules */
    MZ_EVAL_IKNN        /* item-kNN, cosine on co-occurrence */
};
extern const struct mz_eval_method_ops mz_eval_baseline_ops;

/* ---- protocols --------------------------------------------------------- */

struct mz_eval_options {
    bool frozen;        /* next-item: no global learning on test */
    size_t limit_cases; /* 0: all */
    size_t pairs;       /* taste-shift pairs */
    uint64_t seed;
    bool progress;                     /* progress line on stderr */
    bool data_clock;                   /* --url: post the data's ts, not the
                                          time of posting */
    const char *const *model_settings; /* borrowed: --set "name=value"
                                          strings, applied to every
                                          maison method before its
                                          ablation */
    size_t n_model_settings;
};

struct mz_eval_result {
    const char *method; /* borrowed */
    size_t cases;
    double hr20, mrr20, ndcg20;
    double events_per_s; /* learning throughput */
    double bytes_per_client;
    double seconds;     /* wall time of the whole run */
    size_t short_lists; /* cases where fewer than 20 items
                           came back (NaN or -inf scores) */
};

/* The positions after a switch over which taste-shift reports HR@20. */
#define MZ_EVAL_SHIFT_HORIZONS 4
extern const int mz_eval_shift_horizon[MZ_EVAL_SHIFT_HORIZONS];

struct mz_eval_shift_result {
    const char *method; /* borrowed */
    size_t pairs;
    size_t pool;                          /* clients held out of training */
    double fresh[MZ_EVAL_SHIFT_HORIZONS]; /* B's events from a new client */
    double shift[MZ_EVAL_SHIFT_HORIZONS]; /* B's events after A's */
    double back[MZ_EVAL_SHIFT_HORIZONS];  /* A's events after A, B */
};

/* Each runs one method over data and fills *res; false on failure (err
 * says why). */
bool mz_eval_next_item(const struct mz_eval_method *method,
                       const struct mz_eval_data *data,
                       const struct mz_eval_options *opt,
                       struct mz_eval_result *res, char *err, size_t err_len);
bool mz_eval_last_item(const struct mz_eval_method *method,
                       const struct mz_eval_data *data,
                       const struct mz_eval_options *opt,
                       struct mz_eval_result *res, char *err, size_t err_len);
bool mz_eval_taste_shift(const struct mz_eval_method *method,
                         const struct mz_eval_data *data,
                         const struct mz_eval_options *opt,
                         struct mz_eval_shift_result *res, char *err,
                         size_t err_len);

/* Returns the 1-based rank of target among the top MZ_EVAL_TOPK of scores
 * restricted to allowed (NULL: all), or 0 when it is not among them.
 * Counts into *short_lists (if not NULL) a top-k shorter than
 * MZ_EVAL_TOPK, which means the method scored items NaN or -inf. */
int mz_eval_rank(const float *scores, size_t n, const uint8_t *allowed,
                 int32_t target, size_t *short_lists);

/* Scores client at now_ts with method and returns target's rank as
 * mz_eval_rank does; when the top came back short and the method has a
 * whole-catalog score, ranks by that instead (maisond's fallback). Counts
 * a list still short in *short_lists (NULL: not counted). */
int mz_eval_score_and_rank(const struct mz_eval_method *method, void *state,
                           int32_t client, int64_t now_ts, float *scores,
                           size_t n, const uint8_t *allowed, int32_t target,
                           size_t *short_lists);

/* Counts one case of rank (0: missed) into res's sums. */
void mz_eval_add_case(struct mz_eval_result *res, int rank);
/* Turns res's sums into means and sets the throughput from learned events
 * over learn_s seconds and the run time since t0 (mz_eval_now). */
void mz_eval_finish_result(struct mz_eval_result *res, size_t learned,
                           double learn_s, double t0);

/* ---- HTTP -------------------------------------------------------------- */

/* Replays data through the maisond at url ("http://host:port") with the
 * protocol ("next-item" or "last-item") and fills *res (method
 * "maisond"). false on failure (err says why). */
bool mz_eval_http_run(const char *url, const struct mz_eval_data *data,
                      bool last_item, const struct mz_eval_options *opt,
                      struct mz_eval_result *res, char *err, size_t err_len);

/* Seconds on the monotonic clock. */
double mz_eval_now(void);

#endif
