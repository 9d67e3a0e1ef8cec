/*-------------------------------------------------------------------------
 * client.c
 *    One client's state: the item memories of levels 0..L-1, the open
 *    chunks of the slower levels, the ring of recent items and the
 *    counters; and its portable byte form.
 *
 * Interface routines (see model.h): mz_client_new, mz_client_free,
 * mz_client_reset, mz_client_event_count, mz_client_last_seq,
 * mz_client_level_consolidated_at, mz_client_level_events,
 * mz_client_save, mz_client_load, mz_client_resident_bytes,
 * mz_client_bytes.
 *
 * A client is one allocation whose size depends on L only (860 bytes
 * at L = 3: 332 of counters and the ring, then the memories of levels 0
 * and 1 and the open chunks of levels 1..L-1, 132 bytes each; level 0
 * has no chunk), whatever d, and a second one of 132 bytes per deeper
 * level once level 2 first takes a chunk (the 16th event by default): a
 * million clients' levels take about 1 GB.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bytes.h"

/* "MZC" and the format version; bump the version when the layout
 * changes, and keep reading the old one if records of it may exist. */
static const uint8_t client_magic[3] = {'M', 'Z', 'C'};
#define CLIENT_FORMAT_VERSION 2

const struct mz_item_memory mz_client_empty_memory;

/* Bytes of a client of n_levels levels: the struct and the item memories
 * it holds itself (its inline levels', and the open chunks of levels
 * 1..n_levels-1). */
static size_t client_bytes(int n_levels)
{
    return offsetof(struct mz_client, memory) +
           (size_t)mz_client_memory_count(n_levels) *
               sizeof(struct mz_item_memory);
}

/* Deep levels of a client of n_levels levels (the second block's). */
static int deep_levels(int n_levels)
{
    return n_levels - mz_client_inline_levels(n_levels);
}

size_t mz_client_resident_bytes(const struct mz_model *model)
{
    /* The most a client's levels take: its deep block included, so an
     * estimate built on it (--memory-limit) holds for an old client. */
    int n_levels = mz_model_config_of(model)->n_levels;
    return client_bytes(n_levels) +
           (size_t)deep_levels(n_levels) * sizeof(struct mz_item_memory);
}

size_t mz_client_bytes(const struct mz_client *client)
{
    return client_bytes(client->n_levels) +
           (client->deep ? (size_t)deep_levels(client->n_levels) *
                               sizeof(struct mz_item_memory)
                         : 0);
}

bool mz_client_make_deep(struct mz_client *c)
{
    if (c->deep || deep_levels(c->n_levels) == 0)
        return true;
    c->deep = calloc((size_t)deep_levels(c->n_levels), sizeof *c->deep);
    return c->deep != NULL;
}

struct mz_client *mz_client_new(const struct mz_model *model)
{
    const struct mz_model_config *cfg = mz_model_config_of(model);
    struct mz_client *c = calloc(1, client_bytes(cfg->n_levels));

    if (!c)
        return NULL;
    c->n_levels = (uint8_t)cfg->n_levels;
    return c;
}

void mz_client_free(struct mz_client *client)
{
    if (!client)
        return;
    free(client->deep);
    free(client);
}

void mz_client_reset(struct mz_client *client)
{
    /* The log position survives: the events before it were applied (and
     * forgotten), and a replay must not apply them again. */
    int64_t last_seq = client->last_seq;
    uint8_t n_levels = client->n_levels;

    free(client->deep);
    memset(client, 0, client_bytes(n_levels));
    client->n_levels = n_levels;
    client->last_seq = last_seq;
}

int64_t mz_client_event_count(const struct mz_client *client)
{
    return client->events;
}

int64_t mz_client_last_seq(const struct mz_client *client)
{
    return client->last_seq;
}

int64_t mz_client_level_consolidated_at(const struct mz_client *client,
                                        int level)
{
    if (level < 0 || level >= client->n_levels)
        return 0;
    return client->consolidated_at[level];
}

int64_t mz_client_level_events(const struct mz_client *client, int level)
{
    if (level < 0 || level >= client->n_levels)
        return 0;
    return client->level_events[level];
}

static void save_memory(struct mz_wbuf *w, const struct mz_item_memory *m)
{
    mz_wbuf_u32(w, (uint32_t)m->count);
    for (int s = 0; s < m->count; s++) {
        mz_wbuf_u32(w, (uint32_t)m->item[s]);
        mz_wbuf_f32s(w, &m->weight[s], 1);
    }
}

/* Reads what save_memory wrote into m; false when the count is out of
 * range, an item is unknown to a model of n_items, an item repeats, or a
 * weight is not a positive finite number. */
static bool load_memory(struct mz_rbuf *r, struct mz_item_memory *m,
                        int32_t n_items)
{
    uint32_t count = mz_rbuf_u32(r);

    mz_item_memory_clear(m);
    if (r->failed || count > MZ_ITEM_MEMORY_SLOTS)
        return false;
    for (uint32_t s = 0; s < count; s++) {
        int32_t item = (int32_t)mz_rbuf_u32(r);
        float weight = 0.0f;
        if (!mz_rbuf_f32s(r, &weight, 1) || item < 0 || item >= n_items ||
            !(weight > 0.0f) || mz_item_memory_get(m, item) != 0.0f)
            return false;
        m->item[s] = item;
        m->weight[s] = weight;
        m->count++;
    }
    return true;
}

void *mz_client_save(const struct mz_client *client, size_t *len)
{
    struct mz_wbuf w;

    mz_wbuf_init(&w);
    mz_wbuf_raw(&w, client_magic, sizeof client_magic);
    mz_wbuf_u8(&w, CLIENT_FORMAT_VERSION);
    mz_wbuf_u32(&w, (uint32_t)client->n_levels);
    mz_wbuf_u64(&w, (uint64_t)client->events);
    mz_wbuf_u64(&w, (uint64_t)client->all_events);
    mz_wbuf_u64(&w, (uint64_t)client->last_seq);
    mz_wbuf_u64(&w, (uint64_t)client->last_ts);
    for (int l = 0; l < client->n_levels; l++) {
        mz_wbuf_u64(&w, (uint64_t)client->consolidated_at[l]);
        mz_wbuf_u64(&w, (uint64_t)client->level_events[l]);
        mz_wbuf_u32(&w, (uint32_t)client->chunk_fill[l]);
    }
    mz_wbuf_u32(&w, (uint32_t)client->ring_len);
    mz_wbuf_u32(&w, (uint32_t)client->ring_head);
    for (int r = 0; r < MZ_RING_SIZE; r++) {
        mz_wbuf_u32(&w, (uint32_t)client->ring_item[r]);
        mz_wbuf_u64(&w, (uint64_t)client->ring_ts[r]);
        mz_wbuf_u8(&w, client->ring_type[r]);
    }
    /* Level 0's chunk is written as the empty memory it always is: the
     * format predates its removal from memory. */
    for (int l = 0; l < client->n_levels; l++) {
        save_memory(&w, mz_client_level_of(client, l));
        save_memory(&w, mz_client_pending_of(client, l));
    }
    return mz_wbuf_finish(&w, len);
}

struct mz_client *mz_client_load(const struct mz_model *model,
                                 const void *bytes, size_t len, char *err,
                                 size_t err_len)
{
    const struct mz_model_config *cfg = mz_model_config_of(model);
    struct mz_client *c = NULL;
    struct mz_rbuf r;
    const char *why = NULL;

    if (!mz_rbuf_open(&r, bytes, len)) {
        why = "client state: truncated or checksum mismatch";
        goto cleanup;
    }
    const uint8_t *magic = mz_rbuf_raw(&r, sizeof client_magic);
    if (!magic || memcmp(magic, client_magic, sizeof client_magic) != 0) {
        why = "client state: not a client record";
        goto cleanup;
    }
    if (mz_rbuf_u8(&r) != CLIENT_FORMAT_VERSION) {
        why = "client state: unknown format version";
        goto cleanup;
    }
    uint32_t n_levels = mz_rbuf_u32(&r);
    if (n_levels != (uint32_t)cfg->n_levels) {
        why = "client state: saved for a model of another shape";
        goto cleanup;
    }
    c = mz_client_new(model);
    if (!c) {
        why = "out of memory";
        goto cleanup;
    }
    c->events = (int64_t)mz_rbuf_u64(&r);
    c->all_events = (int64_t)mz_rbuf_u64(&r);
    c->last_seq = (int64_t)mz_rbuf_u64(&r);
    c->last_ts = (int64_t)mz_rbuf_u64(&r);
    if (c->events < 0 || c->all_events < c->events || c->last_seq < 0) {
        why = "client state: counters out of range";
        goto cleanup;
    }
    for (int l = 0; l < c->n_levels; l++) {
        c->consolidated_at[l] = (int64_t)mz_rbuf_u64(&r);
        c->level_events[l] = (int64_t)mz_rbuf_u64(&r);
        uint32_t fill = mz_rbuf_u32(&r);
        if (c->level_events[l] < 0 || fill >= (uint32_t)cfg->level_chunk[l]) {
            why = "client state: level counters out of range";
            goto cleanup;
        }
        c->chunk_fill[l] = (int32_t)fill;
    }
    uint32_t ring_len = mz_rbuf_u32(&r);
    uint32_t ring_head = mz_rbuf_u32(&r);
    if (ring_len > MZ_RING_SIZE || ring_head >= MZ_RING_SIZE) {
        why = "client state: recent-item ring out of range";
        goto cleanup;
    }
    c->ring_len = (uint8_t)ring_len;
    c->ring_head = (uint8_t)ring_head;
    for (int i = 0; i < MZ_RING_SIZE; i++) {
        c->ring_item[i] = (int32_t)mz_rbuf_u32(&r);
        c->ring_ts[i] = (int64_t)mz_rbuf_u64(&r);
        c->ring_type[i] = mz_rbuf_u8(&r);
    }
    for (int i = 0; i < c->ring_len; i++) {
        int slot = mz_client_ring_slot(c, i);
        if (c->ring_item[slot] < 0 ||
            c->ring_item[slot] >= mz_model_item_count(model) ||
            c->ring_type[slot] >= MZ_EV_TYPE_COUNT) {
            why = "client state: recent item unknown to this model";
            goto cleanup;
        }
    }
    for (int l = 0; l < c->n_levels; l++) {
        /* Level 0 learns every event, so its saved chunk is empty; a deep
         * level is read aside and gets the deep block only when it holds
         * something. */
        struct mz_item_memory level, level0_chunk;
        struct mz_item_memory *chunk =
            l > 0 ? mz_client_pending(c, l) : &level0_chunk;
        if (!load_memory(&r, &level, mz_model_item_count(model)) ||
            !load_memory(&r, chunk, mz_model_item_count(model)) ||
            (l == 0 && level0_chunk.count != 0)) {
            why = "client state: truncated or invalid level memory";
            goto cleanup;
        }
        if (level.count > 0 && !mz_client_make_deep(c)) {
            why = "out of memory";
            goto cleanup;
        }
        if (level.count > 0 || l < MZ_CLIENT_INLINE_LEVELS)
            *mz_client_level(c, l) = level;
    }
    if (r.failed || mz_rbuf_left(&r) != 0)
        why = "client state: length does not match its shape";

cleanup:
    if (why) {
        if (err && err_len)
            snprintf(err, err_len, "%s", why);
        mz_client_free(c);
        return NULL;
    }
    return c;
}
