/*-------------------------------------------------------------------------
 * model_io.c
 *    The global level as portable bytes: item rows, popularity,
 *    transitions, the pending chunk and the popular candidates, named by
 *    item id so that a snapshot maps onto a catalog whose indices
 *    differ. This file writes them; model_load.c reads them back.
 *
 * Interface routines (see model.h): mz_model_save,
 * mz_model_image_room / _new / _take / _save / _free.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bytes.h"
#include "model/hash.h"

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
    mz_wbuf_raw(&w, MZ_MODEL_MAGIC, MZ_MODEL_MAGIC_LEN);
    mz_wbuf_u8(&w, MZ_MODEL_FORMAT_VERSION);
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
