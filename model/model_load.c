/*-------------------------------------------------------------------------
 * model_load.c
 *    The global level read back from the bytes model_io.c writes, rows
 *    mapped by item id onto the model's catalog (whose indices may
 *    differ).
 *
 * Interface routine (see model.h): mz_model_load.
 *
 * Loading parses and validates everything into fresh arrays first and
 * swaps them in only at the end, so a bad snapshot leaves the model
 * untouched.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bytes.h"
#include "model/hash.h"

/* Returns a table of the model's item ids (ids[0..n-1], NULLs skipped)
 * to their index (caller frees), or NULL when out of memory. An id given
 * twice maps to its first index. */
static struct mz_hash_table *id_index_build(const char *const *ids, int32_t n)
{
    struct mz_hash_table *index = mz_hash_table_new();

    for (int32_t i = 0; index && i < n; i++) {
        if (!ids[i] || mz_hash_table_get(index, ids[i], NULL))
            continue;
        if (!mz_hash_table_put(index, ids[i],
                               (union mz_hash_value){.index = i})) {
            mz_hash_table_free(index);
            index = NULL;
        }
    }
    return index;
}

/* Returns the model index of the saved id id[0..len-1] (not
 * NUL-terminated; len <= MZ_MODEL_MAX_ID_BYTES), or -1. */
static int32_t id_index_find(const struct mz_hash_table *index, const char *id,
                             size_t len)
{
    char key[MZ_MODEL_MAX_ID_BYTES + 1];

    /* An id with a NUL inside names no item (no model id has one). */
    if (memchr(id, '\0', len))
        return -1;
    memcpy(key, id, len);
    key[len] = '\0';
    return mz_hash_table_get_index(index, key);
}

/* Reads n saved rows (each < n_saved) from r and writes, in order, the
 * model index map[] gives each row that is still in the model into kept
 * (room for n): a dropped item leaves the list. Returns how many were
 * kept, or -1 when a row is out of range. */
static int32_t read_kept_rows(struct mz_rbuf *r, uint32_t n, uint32_t n_saved,
                              const int32_t *map, int32_t *kept)
{
    int32_t n_kept = 0;

    for (uint32_t i = 0; i < n; i++) {
        uint32_t row = mz_rbuf_u32(r);
        if (row >= n_saved)
            return -1;
        if (map[row] >= 0)
            kept[n_kept++] = map[row];
    }
    return n_kept;
}

/* Everything a snapshot replaces, built aside until it is all valid. */
struct staged {
    float *K, *O, *bias, *pop_all, *pop_recent, *ada_K, *ada_O, *ada_bias;
    float *grad_K, *grad_O, *grad_bias;
    uint32_t *grad_hits;
    int32_t *touched;
    int32_t n_touched;
    struct mz_transitions *trans;
};

static void staged_free(struct staged *s)
{
    mz_transitions_free(s->trans);
    free(s->touched);
    free(s->grad_hits);
    free(s->grad_bias);
    free(s->grad_O);
    free(s->grad_K);
    free(s->ada_bias);
    free(s->ada_O);
    free(s->ada_K);
    free(s->pop_recent);
    free(s->pop_all);
    free(s->bias);
    free(s->O);
    free(s->K);
}

/* Copies the model's arrays into s (so unmatched items keep their rows)
 * with an empty chunk and no transitions. */
static bool staged_init(struct staged *s, const struct mz_model *model)
{
    size_t n = (size_t)(model->cap ? model->cap : 1);
    size_t row = (size_t)model->cfg.dim * sizeof(float);

    memset(s, 0, sizeof *s);
    s->K = malloc(n * row);
    s->O = malloc(n * row);
    s->bias = malloc(n * sizeof(float));
    s->pop_all = malloc(n * sizeof(float));
    s->pop_recent = malloc(n * sizeof(float));
    s->ada_K = calloc(n, sizeof(float));
    s->ada_O = calloc(n, sizeof(float));
    s->ada_bias = calloc(n, sizeof(float));
    s->grad_K = calloc(n, row);
    s->grad_O = calloc(n, row);
    s->grad_bias = calloc(n, sizeof(float));
    s->grad_hits = calloc(n, sizeof(uint32_t));
    s->touched = calloc(n, sizeof(int32_t));
    s->trans =
        mz_transitions_new((int32_t)n, (uint32_t)model->cfg.trans_max_per_item);
    if (!s->K || !s->O || !s->bias || !s->pop_all || !s->pop_recent ||
        !s->ada_K || !s->ada_O || !s->ada_bias || !s->grad_K || !s->grad_O ||
        !s->grad_bias || !s->grad_hits || !s->touched || !s->trans)
        return false;
    size_t used = (size_t)model->n_items;
    if (used) {
        memcpy(s->K, model->K, used * row);
        memcpy(s->O, model->O, used * row);
        memcpy(s->bias, model->bias, used * sizeof(float));
        memcpy(s->ada_K, model->ada_K, used * sizeof(float));
        memcpy(s->ada_O, model->ada_O, used * sizeof(float));
        memcpy(s->ada_bias, model->ada_bias, used * sizeof(float));
    }
    /* Popularity of items the snapshot does not know starts again. */
    memset(s->pop_all, 0, n * sizeof(float));
    memset(s->pop_recent, 0, n * sizeof(float));
    return true;
}

enum mz_status mz_model_load(struct mz_model *model,
                             const char *const *item_ids, const void *bytes,
                             size_t len, char *err, size_t err_len)
{
    int dim = model->cfg.dim;
    struct staged s;
    struct mz_hash_table *index = NULL;
    int32_t *map = NULL; /* saved row -> model index or -1 */
    int32_t *neg = NULL;
    int32_t n_neg = 0;
    int32_t *popular = NULL;
    int32_t n_kept_popular = 0;
    struct mz_rbuf r;
    const char *why = NULL;
    char **fallback_ids = NULL;
    const char *const *ids = item_ids;
    enum mz_status status = MZ_ERR_INVALID;

    memset(&s, 0, sizeof s);
    if (!mz_rbuf_open(&r, bytes, len)) {
        why = "model snapshot: truncated or checksum mismatch";
        goto cleanup;
    }
    const uint8_t *magic = mz_rbuf_raw(&r, MZ_MODEL_MAGIC_LEN);
    if (!magic || memcmp(magic, MZ_MODEL_MAGIC, MZ_MODEL_MAGIC_LEN) != 0) {
        why = "model snapshot: not a model snapshot";
        goto cleanup;
    }
    if (mz_rbuf_u8(&r) != MZ_MODEL_FORMAT_VERSION) {
        why = "model snapshot: unknown format version";
        goto cleanup;
    }
    if (mz_rbuf_u32(&r) != (uint32_t)dim) {
        why = "model snapshot: saved with another dimension";
        goto cleanup;
    }
    uint32_t n_saved = mz_rbuf_u32(&r);
    /* Every saved row takes more than 2 * dim * 4 bytes: a count the
     * remaining bytes cannot hold is garbage, not a reason to allocate. */
    if (n_saved > mz_rbuf_left(&r) / ((size_t)dim * 8)) {
        why = "model snapshot: item count exceeds its length";
        goto cleanup;
    }
    if (!ids) {
        /* Name the model's rows the way mz_model_save names unnamed ones. */
        fallback_ids = calloc((size_t)model->n_items + 1, sizeof *fallback_ids);
        if (!fallback_ids)
            goto nomem;
        for (int32_t i = 0; i < model->n_items; i++) {
            fallback_ids[i] = malloc(16);
            if (!fallback_ids[i])
                goto nomem;
            snprintf(fallback_ids[i], 16, "#%d", (int)i);
        }
        ids = (const char *const *)fallback_ids;
    }
    map = malloc(((size_t)n_saved + 1) * sizeof *map);
    if (map && staged_init(&s, model))
        index = id_index_build(ids, model->n_items);
    if (!index)
        goto nomem;

    float k_row[4096], o_row[4096];
    for (uint32_t i = 0; i < n_saved; i++) {
        uint32_t id_len = mz_rbuf_u32(&r);
        if (id_len > MZ_MODEL_MAX_ID_BYTES) {
            why = "model snapshot: item id too long";
            goto cleanup;
        }
        const char *id = (const char *)mz_rbuf_raw(&r, id_len);
        if (!id || !mz_rbuf_f32s(&r, k_row, (size_t)dim) ||
            !mz_rbuf_f32s(&r, o_row, (size_t)dim)) {
            why = "model snapshot: truncated or non-finite item row";
            goto cleanup;
        }
        float bias = mz_rbuf_f32(&r);
        float pop_all = mz_rbuf_f32(&r);
        float pop_recent = mz_rbuf_f32(&r);
        /* The byte the model's retired flag left in the format: checked,
         * then ignored (the catalog owns retirement). */
        uint8_t old_retired = mz_rbuf_u8(&r);
        float ada[3];
        for (int a = 0; a < 3; a++)
            ada[a] = mz_rbuf_f32(&r);
        bool sane = !r.failed && fabsf(bias) <= MZ_BYTES_MAX_ABS &&
                    old_retired <= 1 && pop_all >= 0.0f && isfinite(pop_all) &&
                    pop_recent >= 0.0f && isfinite(pop_recent);
        for (int a = 0; a < 3; a++)
            sane = sane && ada[a] >= 0.0f && isfinite(ada[a]);
        if (!sane) {
            why = "model snapshot: item fields out of range";
            goto cleanup;
        }
        int32_t at = id_index_find(index, id, id_len);
        map[i] = at;
        if (at < 0)
            continue;
        memcpy(s.K + (size_t)at * (size_t)dim, k_row,
               (size_t)dim * sizeof(float));
        memcpy(s.O + (size_t)at * (size_t)dim, o_row,
               (size_t)dim * sizeof(float));
        s.bias[at] = bias;
        s.pop_all[at] = pop_all;
        s.pop_recent[at] = pop_recent;
        s.ada_K[at] = ada[0];
        s.ada_O[at] = ada[1];
        s.ada_bias[at] = ada[2];
    }
    int64_t pop_ref_ts = (int64_t)mz_rbuf_u64(&r);

    uint32_t chunk_events = mz_rbuf_u32(&r);
    uint32_t n_touched = mz_rbuf_u32(&r);
    if (chunk_events > (uint32_t)model->cfg.global_chunk ||
        n_touched > n_saved) {
        why = "model snapshot: pending chunk out of range";
        goto cleanup;
    }
    for (uint32_t t = 0; t < n_touched; t++) {
        uint32_t row = mz_rbuf_u32(&r);
        uint32_t hits = mz_rbuf_u32(&r);
        if (row >= n_saved || hits == 0 ||
            !mz_rbuf_f32s(&r, k_row, (size_t)dim) ||
            !mz_rbuf_f32s(&r, o_row, (size_t)dim)) {
            why = "model snapshot: pending chunk row invalid";
            goto cleanup;
        }
        float grad_bias = mz_rbuf_f32(&r);
        int32_t at = map[row];
        if (!isfinite(grad_bias)) {
            why = "model snapshot: pending chunk row invalid";
            goto cleanup;
        }
        if (at < 0 || s.grad_hits[at] != 0)
            continue;
        memcpy(s.grad_K + (size_t)at * (size_t)dim, k_row,
               (size_t)dim * sizeof(float));
        memcpy(s.grad_O + (size_t)at * (size_t)dim, o_row,
               (size_t)dim * sizeof(float));
        s.grad_bias[at] = grad_bias;
        s.grad_hits[at] = hits;
        s.touched[s.n_touched++] = at;
    }
    int64_t global_events = (int64_t)mz_rbuf_u64(&r);
    double revisit_share_sum = mz_rbuf_f64(&r);
    double revisit_events = mz_rbuf_f64(&r);
    uint64_t rng = mz_rbuf_u64(&r);
    if (!isfinite(revisit_events) ||
        !(revisit_events >= 0.0 && revisit_share_sum >= 0.0 &&
          revisit_share_sum <= revisit_events + 1e-6 * revisit_events)) {
        why = "model snapshot: re-visit counts out of range";
        goto cleanup;
    }
    uint32_t neg_len = mz_rbuf_u32(&r);
    uint32_t neg_pos = mz_rbuf_u32(&r);
    if (neg_len > MZ_NEG_RING_SIZE || neg_pos >= MZ_NEG_RING_SIZE ||
        (neg_len < MZ_NEG_RING_SIZE && neg_pos != neg_len)) {
        why = "model snapshot: negative ring out of range";
        goto cleanup;
    }
    neg = malloc(MZ_NEG_RING_SIZE * sizeof *neg);
    if (!neg)
        goto nomem;
    /* Dropped items leave the ring; the rest keep their order. */
    n_neg = read_kept_rows(&r, neg_len, n_saved, map, neg);
    if (n_neg < 0) {
        why = "model snapshot: negative ring names an unknown row";
        goto cleanup;
    }
    bool ring_intact = n_neg == (int32_t)neg_len;

    if (mz_rbuf_u32(&r) != n_saved) {
        why = "model snapshot: transition table does not match its items";
        goto cleanup;
    }
    mz_transitions_defer_predecessors(s.trans);
    for (uint32_t a = 0; a < n_saved; a++) {
        float total = mz_rbuf_f32(&r);
        uint32_t count = mz_rbuf_u32(&r);
        if (r.failed || !(total >= 0.0f) || !isfinite(total) ||
            count > mz_rbuf_left(&r) / 8) {
            why = "model snapshot: transition source invalid";
            goto cleanup;
        }
        float stored = 0.0f;
        for (uint32_t e = 0; e < count; e++) {
            uint32_t b = mz_rbuf_u32(&r);
            float weight = mz_rbuf_f32(&r);
            if (b >= n_saved || !(weight > 0.0f) || !isfinite(weight)) {
                why = "model snapshot: transition invalid";
                goto cleanup;
            }
            if (map[a] >= 0 && map[b] >= 0) {
                if (!mz_transitions_add(s.trans, map[a], map[b], weight))
                    goto nomem;
                stored += weight;
            }
        }
        /* The source's total also counts successors never stored (over
         * the bound, or dropped above): restore it as saved. */
        if (map[a] >= 0)
            mz_transitions_set_total(s.trans, map[a],
                                     total > stored ? total : stored);
    }
    if (!mz_transitions_index_predecessors(s.trans))
        goto nomem;
    uint32_t n_popular = mz_rbuf_u32(&r);
    if (n_popular > n_saved || n_popular > MZ_CAND_POPULAR_MAX) {
        why = "model snapshot: popular candidates out of range";
        goto cleanup;
    }
    popular = malloc(((size_t)n_popular + 1) * sizeof *popular);
    if (!popular)
        goto nomem;
    /* A dropped item leaves the list short: rebuilt below. */
    n_kept_popular = read_kept_rows(&r, n_popular, n_saved, map, popular);
    if (n_kept_popular < 0) {
        why = "model snapshot: popular candidates name an unknown row";
        goto cleanup;
    }
    if (r.failed || mz_rbuf_left(&r) != 0) {
        why = "model snapshot: length does not match its contents";
        goto cleanup;
    }

    /* Valid: swap the staged state in. */
    size_t rows = (size_t)model->n_items;
    size_t row_bytes = (size_t)dim * sizeof(float);
    if (rows) {
        memcpy(model->K, s.K, rows * row_bytes);
        memcpy(model->O, s.O, rows * row_bytes);
        memcpy(model->bias, s.bias, rows * sizeof(float));
        memcpy(model->pop_all, s.pop_all, rows * sizeof(float));
        memcpy(model->pop_recent, s.pop_recent, rows * sizeof(float));
        memcpy(model->ada_K, s.ada_K, rows * sizeof(float));
        memcpy(model->ada_O, s.ada_O, rows * sizeof(float));
        memcpy(model->ada_bias, s.ada_bias, rows * sizeof(float));
    }
    for (int32_t t = 0; t < model->n_touched; t++) {
        int32_t row = model->touched[t];
        memset(model->grad_K + (size_t)row * (size_t)dim, 0, row_bytes);
        memset(model->grad_O + (size_t)row * (size_t)dim, 0, row_bytes);
        model->grad_bias[row] = 0.0f;
        model->grad_hits[row] = 0;
        model->grad_sides[row] = 0;
    }
    model->n_touched = 0;
    for (int32_t t = 0; t < s.n_touched; t++) {
        int32_t row = s.touched[t];
        memcpy(model->grad_K + (size_t)row * (size_t)dim,
               s.grad_K + (size_t)row * (size_t)dim, row_bytes);
        memcpy(model->grad_O + (size_t)row * (size_t)dim,
               s.grad_O + (size_t)row * (size_t)dim, row_bytes);
        model->grad_bias[row] = s.grad_bias[row];
        model->grad_hits[row] = s.grad_hits[row];
        /* The snapshot does not say which halves were written; both are
         * read, and a half that is all zero is skipped as before. */
        model->grad_sides[row] = MZ_GRAD_K | MZ_GRAD_O;
        model->touched[model->n_touched++] = row;
    }
    model->chunk_events = (int32_t)chunk_events;
    model->global_events = global_events;
    model->revisit_share_sum = revisit_share_sum;
    model->revisit_events = revisit_events;
    model->rng = rng;
    model->pop_ref_ts = pop_ref_ts;
    memcpy(model->neg_ring, neg, (size_t)n_neg * sizeof *neg);
    model->neg_len = n_neg;
    /* A ring with holes was compacted, so it is no longer full. */
    model->neg_pos = ring_intact ? (int32_t)neg_pos : n_neg;
    model->pop_all_log_max = 0.0f;
    model->pop_recent_max = 0.0f;
    for (int32_t i = 0; i < model->n_items; i++) {
        model->pop_all_log[i] = log1pf(model->pop_all[i]);
        if (model->pop_all_log[i] > model->pop_all_log_max)
            model->pop_all_log_max = model->pop_all_log[i];
        if (model->pop_recent[i] > model->pop_recent_max)
            model->pop_recent_max = model->pop_recent[i];
    }
    struct mz_transitions *old = model->trans;
    model->trans = s.trans;
    s.trans = old;
    /* The saved list when it maps whole (a replay then rebuilds it at the
     * same events as the server that saved it), else one from the loaded
     * priors. */
    if (n_kept_popular != (int32_t)n_popular ||
        !mz_model_set_popular(model, popular, n_kept_popular) ||
        model->n_popular != n_kept_popular) {
        model->n_popular = 0;
        mz_model_refresh_popular(model);
    }
    goto cleanup;

nomem:
    why = "out of memory";
    status = MZ_ERR_NOMEM;
cleanup:
    if (why && err && err_len)
        snprintf(err, err_len, "%s", why);
    if (fallback_ids) {
        for (int32_t i = 0; i < model->n_items; i++)
            free(fallback_ids[i]);
        free(fallback_ids);
    }
    free(popular);
    free(neg);
    mz_hash_table_free(index);
    free(map);
    staged_free(&s);
    return why ? status : MZ_OK;
}
