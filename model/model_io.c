/*-------------------------------------------------------------------------
 * model_io.c
 *    The global level as portable bytes: item rows, popularity,
 *    transitions, the pending chunk and the popular candidates, named by
 *    item id so that a snapshot maps onto a catalog whose indices
 *    differ.
 *
 * Interface routines (see model.h): mz_model_save, mz_model_load,
 * mz_model_image_room / _new / _take / _save / _free.
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

static const uint8_t model_magic[3] = {'M', 'Z', 'M'};
#define MODEL_FORMAT_VERSION 3 /* 3: the popular candidates */

/* Longest item id a snapshot may carry (MZ_ID_MAX_BYTES in catalog.h,
 * which the model layer does not depend on). */
#define MAX_ID_BYTES 1024

static void write_id(struct mz_wbuf *w, const char *const *item_ids,
                     int32_t item)
{
    char fallback[16];
    const char *id = item_ids ? item_ids[item] : NULL;

    /* Without ids, rows are named by index and load maps index to index. */
    if (!id) {
        snprintf(fallback, sizeof fallback, "#%d", (int)item);
        id = fallback;
    }
    size_t len = strlen(id);
    mz_wbuf_u32(w, (uint32_t)len);
    mz_wbuf_raw(w, id, len);
}

/* The global level copied out of the model: what mz_model_save writes,
 * in plain arrays, so a caller can copy it under its lock (memcpy only)
 * and serialise and checksum it after releasing the lock. The arrays
 * have room for room.items items, room.touched chunk rows and
 * room.trans_slots transition slots; take grows them when the model
 * outgrew that. */
struct mz_model_image {
    struct mz_model_image_room room;
    int32_t dim;
    int32_t n_items;
    float *K;           /* owned, n_items x dim */
    float *O;           /* owned, n_items x dim */
    float *item_floats; /* owned, IMAGE_ITEM_FLOATS arrays of room.items:
                           bias, pop_all, pop_recent, ada_K, ada_O,
                           ada_bias */
    int64_t pop_ref_ts;
    int32_t chunk_events;
    int32_t n_touched;
    int32_t *touched;    /* owned, n_touched: rows, in first-hit order */
    uint32_t *grad_hits; /* owned, n_touched */
    float *grad_K;       /* owned, n_touched x dim */
    float *grad_O;       /* owned, n_touched x dim */
    float *grad_bias;    /* owned, n_touched */
    int64_t global_events;
    double revisit_share_sum;
    double revisit_events;
    uint64_t rng;
    int32_t neg_len;
    int32_t neg_pos;
    int32_t neg_ring[MZ_NEG_RING_SIZE];
    float *trans_total;    /* owned, n_items */
    uint32_t *trans_slots; /* owned, n_items: slots of each source */
    int32_t *trans_items;  /* owned: every source's slots in turn, -1 =
                              empty */
    float *trans_weights;  /* owned, alongside trans_items */
    int32_t *popular;      /* owned, room for popular_room */
    int32_t n_popular;
    int32_t popular_room;
};

#define IMAGE_ITEM_FLOATS 6

void mz_model_image_free(struct mz_model_image *img)
{
    if (!img)
        return;
    free(img->K);
    free(img->O);
    free(img->item_floats);
    free(img->touched);
    free(img->grad_hits);
    free(img->grad_K);
    free(img->grad_O);
    free(img->grad_bias);
    free(img->trans_total);
    free(img->trans_slots);
    free(img->trans_items);
    free(img->trans_weights);
    free(img->popular);
    free(img);
}

static size_t transition_slots(const struct mz_model *model)
{
    size_t total = 0;
    for (int32_t a = 0; a < model->n_items; a++) {
        const int32_t *items;
        const float *weights;
        total += mz_transitions_slots(model->trans, a, &items, &weights);
    }
    return total;
}

struct mz_model_image_room mz_model_image_room(const struct mz_model *model)
{
    return (struct mz_model_image_room){
        .dim = model->cfg.dim,
        .items = (size_t)model->n_items,
        .touched = (size_t)model->n_touched,
        .trans_slots = transition_slots(model),
    };
}

/* The element counts of img's arrays for room, in the order of
 * image_arrays. */
#define IMAGE_ARRAYS 12
static void image_arrays(struct mz_model_image *img,
                         void **arrays[IMAGE_ARRAYS],
                         size_t counts[IMAGE_ARRAYS],
                         size_t sizes[IMAGE_ARRAYS],
                         const struct mz_model_image_room *room)
{
    size_t dim = (size_t)room->dim;
    void **a[IMAGE_ARRAYS] = {
        (void **)&img->K,           (void **)&img->O,
        (void **)&img->item_floats, (void **)&img->touched,
        (void **)&img->grad_hits,   (void **)&img->grad_K,
        (void **)&img->grad_O,      (void **)&img->grad_bias,
        (void **)&img->trans_total, (void **)&img->trans_slots,
        (void **)&img->trans_items, (void **)&img->trans_weights};
    size_t c[IMAGE_ARRAYS] = {
        room->items * dim,   room->items * dim, room->items * IMAGE_ITEM_FLOATS,
        room->touched,       room->touched,     room->touched * dim,
        room->touched * dim, room->touched,     room->items,
        room->items,         room->trans_slots, room->trans_slots};
    size_t z[IMAGE_ARRAYS] = {
        sizeof(float),    sizeof(float),    sizeof(float),   sizeof(int32_t),
        sizeof(uint32_t), sizeof(float),    sizeof(float),   sizeof(float),
        sizeof(float),    sizeof(uint32_t), sizeof(int32_t), sizeof(float)};
    for (int i = 0; i < IMAGE_ARRAYS; i++) {
        arrays[i] = a[i];
        counts[i] = c[i];
        sizes[i] = z[i];
    }
}

/* Gives img's arrays room for room (never less than they have), writing
 * to every new byte when touch is set so that its pages are mapped now
 * rather than at the copy. Returns false on allocation failure (img
 * keeps its old room). */
static bool image_make_room(struct mz_model_image *img,
                            struct mz_model_image_room room, bool touch)
{
    if (img->room.dim == room.dim) {
        room.items =
            room.items > img->room.items ? room.items : img->room.items;
        room.touched =
            room.touched > img->room.touched ? room.touched : img->room.touched;
        room.trans_slots = room.trans_slots > img->room.trans_slots
                               ? room.trans_slots
                               : img->room.trans_slots;
        if (room.items == img->room.items &&
            room.touched == img->room.touched &&
            room.trans_slots == img->room.trans_slots &&
            img->K) /* allocated before */
            return true;
    }
    void **arrays[IMAGE_ARRAYS];
    size_t counts[IMAGE_ARRAYS], sizes[IMAGE_ARRAYS], had[IMAGE_ARRAYS];
    image_arrays(img, arrays, had, sizes, &img->room);
    image_arrays(img, arrays, counts, sizes, &room);
    for (int i = 0; i < IMAGE_ARRAYS; i++) {
        size_t bytes = counts[i] * sizes[i];
        if (*arrays[i] && counts[i] == had[i])
            continue; /* this one has its room (K and O: 25 MB) */
        void *grown = realloc(*arrays[i], bytes > 0 ? bytes : 1);
        if (!grown)
            return false;
        *arrays[i] = grown;
        if (touch)
            memset(grown, 0, bytes);
    }
    img->room = room;
    return true;
}

struct mz_model_image *mz_model_image_new(
    const struct mz_model_image_room *room)
{
    struct mz_model_image *img = calloc(1, sizeof *img);
    if (!img)
        return NULL;
    /* Slack for what learning adds between measuring and taking. */
    struct mz_model_image_room slack = *room;
    slack.touched += slack.touched / 8 + 64;
    slack.trans_slots += slack.trans_slots / 8 + 1024;
    if (!image_make_room(img, slack, true)) {
        mz_model_image_free(img);
        return NULL;
    }
    return img;
}

bool mz_model_image_take(struct mz_model_image *img,
                         const struct mz_model *model)
{
    /* A chunk applied in part is no state a replay could go on from. */
    if (model->chunk_due)
        return false;
    if (!image_make_room(img, mz_model_image_room(model), false))
        return false;
    /* A deferred rebuild not yet installed (mz_model_defer_popular) is
     * taken as it will be: a replay from this image rebuilds nothing at
     * the events it already holds. */
    bool due = model->popular_due;
    int32_t want = due ? model->cfg.cand_popular : model->n_popular;
    if (want > img->popular_room || !img->popular) {
        int32_t room = want > 0 ? want : 1;
        int32_t *grown = realloc(img->popular, (size_t)room * sizeof *grown);
        if (!grown)
            return false;
        img->popular = grown;
        img->popular_room = room;
    }
    if (due) {
        int32_t n = mz_model_rank_popular(model, img->popular);
        img->n_popular = n > 0 ? n : 0;
    } else {
        img->n_popular = model->n_popular;
        if (model->n_popular > 0)
            memcpy(img->popular, model->popular,
                   (size_t)model->n_popular * sizeof *img->popular);
    }
    size_t dim = (size_t)model->cfg.dim, n = (size_t)model->n_items;
    size_t n_touched = (size_t)model->n_touched;
    size_t stride = img->room.items;
    img->dim = model->cfg.dim;
    img->n_items = model->n_items;
    img->n_touched = model->n_touched;
    memcpy(img->K, model->K, n * dim * sizeof *img->K);
    memcpy(img->O, model->O, n * dim * sizeof *img->O);
    const float *fields[IMAGE_ITEM_FLOATS] = {
        model->bias,  model->pop_all, model->pop_recent,
        model->ada_K, model->ada_O,   model->ada_bias};
    for (int f = 0; f < IMAGE_ITEM_FLOATS; f++)
        memcpy(img->item_floats + (size_t)f * stride, fields[f],
               n * sizeof(float));
    for (size_t t = 0; t < n_touched; t++) {
        size_t row = (size_t)model->touched[t];
        img->touched[t] = model->touched[t];
        img->grad_hits[t] = model->grad_hits[row];
        memcpy(img->grad_K + t * dim, model->grad_K + row * dim,
               dim * sizeof *img->grad_K);
        memcpy(img->grad_O + t * dim, model->grad_O + row * dim,
               dim * sizeof *img->grad_O);
        img->grad_bias[t] = model->grad_bias[row];
    }
    size_t at = 0;
    for (int32_t a = 0; a < model->n_items; a++) {
        const int32_t *items;
        const float *weights;
        uint32_t slots =
            mz_transitions_slots(model->trans, a, &items, &weights);
        img->trans_slots[a] = slots;
        img->trans_total[a] = mz_transitions_total(model->trans, a);
        if (slots == 0)
            continue;
        memcpy(img->trans_items + at, items, slots * sizeof *items);
        memcpy(img->trans_weights + at, weights, slots * sizeof *weights);
        at += slots;
    }
    img->pop_ref_ts = model->pop_ref_ts;
    img->chunk_events = model->chunk_events;
    img->global_events = model->global_events;
    img->revisit_share_sum = model->revisit_share_sum;
    img->revisit_events = model->revisit_events;
    img->rng = model->rng;
    img->neg_len = model->neg_len;
    img->neg_pos = model->neg_pos;
    memcpy(img->neg_ring, model->neg_ring, sizeof img->neg_ring);
    return true;
}

void *mz_model_image_save(const struct mz_model_image *img,
                          const char *const *item_ids, size_t *len)
{
    size_t dim = (size_t)img->dim, n = img->room.items;
    const float *field = img->item_floats;
    struct mz_wbuf w;

    mz_wbuf_init(&w);
    mz_wbuf_raw(&w, model_magic, sizeof model_magic);
    mz_wbuf_u8(&w, MODEL_FORMAT_VERSION);
    mz_wbuf_u32(&w, (uint32_t)img->dim);
    mz_wbuf_u32(&w, (uint32_t)img->n_items);
    for (int32_t i = 0; i < img->n_items; i++) {
        write_id(&w, item_ids, i);
        mz_wbuf_f32s(&w, img->K + (size_t)i * dim, dim);
        mz_wbuf_f32s(&w, img->O + (size_t)i * dim, dim);
        mz_wbuf_f32(&w, field[0 * n + (size_t)i]); /* bias */
        mz_wbuf_f32(&w, field[1 * n + (size_t)i]); /* pop_all */
        mz_wbuf_f32(&w, field[2 * n + (size_t)i]); /* pop_recent */
        /* Once the model's own copy of the catalog's retired flag; the
         * format keeps the byte (always 0) so snapshots load across
         * versions of maisond. */
        mz_wbuf_u8(&w, 0);
        for (int f = 3; f < IMAGE_ITEM_FLOATS; f++) /* ada_K, _O, _bias */
            mz_wbuf_f32(&w, field[(size_t)f * n + (size_t)i]);
    }
    mz_wbuf_u64(&w, (uint64_t)img->pop_ref_ts);

    /* The pending chunk, in first-touch order so it applies identically. */
    mz_wbuf_u32(&w, (uint32_t)img->chunk_events);
    mz_wbuf_u32(&w, (uint32_t)img->n_touched);
    for (int32_t t = 0; t < img->n_touched; t++) {
        mz_wbuf_u32(&w, (uint32_t)img->touched[t]);
        mz_wbuf_u32(&w, img->grad_hits[t]);
        mz_wbuf_f32s(&w, img->grad_K + (size_t)t * dim, dim);
        mz_wbuf_f32s(&w, img->grad_O + (size_t)t * dim, dim);
        mz_wbuf_f32(&w, img->grad_bias[t]);
    }
    mz_wbuf_u64(&w, (uint64_t)img->global_events);
    mz_wbuf_f64(&w, img->revisit_share_sum);
    mz_wbuf_f64(&w, img->revisit_events);
    mz_wbuf_u64(&w, img->rng);
    mz_wbuf_u32(&w, (uint32_t)img->neg_len);
    mz_wbuf_u32(&w, (uint32_t)img->neg_pos);
    for (int32_t i = 0; i < img->neg_len; i++)
        mz_wbuf_u32(&w, (uint32_t)img->neg_ring[i]);

    mz_wbuf_u32(&w, (uint32_t)img->n_items);
    size_t at = 0;
    for (int32_t a = 0; a < img->n_items; a++) {
        const int32_t *items = img->trans_items + at;
        const float *weights = img->trans_weights + at;
        uint32_t slots = img->trans_slots[a];
        uint32_t count = 0;
        for (uint32_t s = 0; s < slots; s++)
            count += items[s] >= 0;
        mz_wbuf_f32(&w, img->trans_total[a]);
        mz_wbuf_u32(&w, count);
        for (uint32_t s = 0; s < slots; s++) {
            if (items[s] < 0)
                continue;
            mz_wbuf_u32(&w, (uint32_t)items[s]);
            mz_wbuf_f32(&w, weights[s]);
        }
        at += slots;
    }

    /* The popular candidates as they stand, so a replay rebuilds them at
     * the same events (struct mz_model). */
    mz_wbuf_u32(&w, (uint32_t)img->n_popular);
    for (int32_t i = 0; i < img->n_popular; i++)
        mz_wbuf_u32(&w, (uint32_t)img->popular[i]);
    return mz_wbuf_finish(&w, len);
}

void *mz_model_save(const struct mz_model *model, const char *const *item_ids,
                    size_t *len)
{
    struct mz_model_image_room room = mz_model_image_room(model);
    struct mz_model_image *img = mz_model_image_new(&room);
    void *bytes = img && mz_model_image_take(img, model)
                      ? mz_model_image_save(img, item_ids, len)
                      : NULL;
    mz_model_image_free(img);
    return bytes;
}

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
 * NUL-terminated; len <= MAX_ID_BYTES), or -1. */
static int32_t id_index_find(const struct mz_hash_table *index, const char *id,
                             size_t len)
{
    char key[MAX_ID_BYTES + 1];

    /* An id with a NUL inside names no item (no model id has one). */
    if (memchr(id, '\0', len))
        return -1;
    memcpy(key, id, len);
    key[len] = '\0';
    return mz_hash_table_get_index(index, key);
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
    const uint8_t *magic = mz_rbuf_raw(&r, sizeof model_magic);
    if (!magic || memcmp(magic, model_magic, sizeof model_magic) != 0) {
        why = "model snapshot: not a model snapshot";
        goto cleanup;
    }
    if (mz_rbuf_u8(&r) != MODEL_FORMAT_VERSION) {
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
        if (id_len > MAX_ID_BYTES) {
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
    for (uint32_t i = 0; i < neg_len; i++) {
        uint32_t row = mz_rbuf_u32(&r);
        if (row >= n_saved) {
            why = "model snapshot: negative ring names an unknown row";
            goto cleanup;
        }
        if (map[row] >= 0)
            neg[n_neg++] = map[row];
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
    for (uint32_t i = 0; i < n_popular; i++) {
        uint32_t row = mz_rbuf_u32(&r);
        if (row >= n_saved) {
            why = "model snapshot: popular candidates name an unknown row";
            goto cleanup;
        }
        /* A dropped item leaves the list short: rebuilt below. */
        if (map[row] >= 0)
            popular[n_kept_popular++] = map[row];
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
