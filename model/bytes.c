/*-------------------------------------------------------------------------
 * bytes.c
 *    Little-endian field encoding with a trailing checksum.
 *
 * The checksum is not security: it catches truncated and corrupted
 * records (a torn write, a wrong column) before any field is trusted.
 * Every field is still validated by the caller after the checksum passes.
 * It is XXH3 64 from Debian's libxxhash: FNV-1a 64, the checksum before
 * it, takes one multiply per byte in a chain, so it was a good part of
 * the time to save a 76 MB level (docs/durability.md, item 12 of the
 * stalls).
 *-------------------------------------------------------------------------
 */
#include "model/bytes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "model/hash.h"

void mz_wbuf_init(struct mz_wbuf *w)
{
    w->data = NULL;
    w->len = 0;
    w->cap = 0;
    w->failed = false;
}

uint8_t *mz_wbuf_grow(struct mz_wbuf *w, size_t n)
{
    if (w->failed)
        return NULL;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2)
                goto fail;
            cap *= 2;
        }
        uint8_t *data = realloc(w->data, cap);
        if (!data)
            goto fail;
        w->data = data;
        w->cap = cap;
    }
    uint8_t *at = w->data + w->len;
    w->len += n;
    return at;

fail:
    free(w->data);
    w->data = NULL;
    w->len = 0;
    w->cap = 0; /* so that mz_wbuf_room always comes here */
    w->failed = true;
    return NULL;
}

/* Whether a float's bytes in memory are already its encoding. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_IS_LITTLE_ENDIAN 1
#else
#define HOST_IS_LITTLE_ENDIAN 0
#endif

void mz_wbuf_f32s(struct mz_wbuf *w, const float *v, size_t n)
{
    if (n == 0)
        return;
    if (!HOST_IS_LITTLE_ENDIAN) {
        for (size_t i = 0; i < n; i++)
            mz_wbuf_f32(w, v[i]);
        return;
    }
    uint8_t *p = mz_wbuf_room(w, n * 4);
    if (p)
        memcpy(p, v, n * 4);
}

void mz_wbuf_raw(struct mz_wbuf *w, const void *v, size_t n)
{
    uint8_t *p = n ? mz_wbuf_room(w, n) : NULL;

    if (p)
        memcpy(p, v, n);
}

uint64_t mz_bytes_checksum(const void *bytes, size_t len)
{
    return XXH3_64bits(bytes, len);
}

void *mz_wbuf_finish(struct mz_wbuf *w, size_t *len)
{
    if (!w->failed)
        mz_wbuf_u64(w, mz_bytes_checksum(w->data, w->len));
    if (w->failed)
        return NULL;
    *len = w->len;
    void *data = w->data;
    w->data = NULL;
    return data;
}

bool mz_rbuf_open(struct mz_rbuf *r, const void *bytes, size_t len)
{
    r->data = bytes;
    r->len = 0;
    r->pos = 0;
    r->failed = true;
    if (!bytes || len < 8)
        return false;
    const uint8_t *p = bytes;
    uint64_t stored = 0;
    for (int i = 0; i < 8; i++)
        stored |= (uint64_t)p[len - 8 + i] << (8 * i);
    /* FNV-1a 64 only after XXH3 fails: records written before the switch
     * load, and the slow hash runs only for them (and for corruption). */
    if (stored != mz_bytes_checksum(p, len - 8) &&
        stored != mz_hash_bytes(p, len - 8))
        return false;
    r->len = len - 8;
    r->failed = false;
    return true;
}

/* Returns the next n bytes, or NULL (and marks the reader failed). */
static const uint8_t *take(struct mz_rbuf *r, size_t n)
{
    if (r->failed || r->len - r->pos < n) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

uint8_t mz_rbuf_u8(struct mz_rbuf *r)
{
    const uint8_t *p = take(r, 1);

    return p ? p[0] : 0;
}

uint32_t mz_rbuf_u32(struct mz_rbuf *r)
{
    const uint8_t *p = take(r, 4);
    uint32_t v = 0;

    if (p)
        for (int i = 0; i < 4; i++)
            v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t mz_rbuf_u64(struct mz_rbuf *r)
{
    const uint8_t *p = take(r, 8);
    uint64_t v = 0;

    if (p)
        for (int i = 0; i < 8; i++)
            v |= (uint64_t)p[i] << (8 * i);
    return v;
}

float mz_rbuf_f32(struct mz_rbuf *r)
{
    uint32_t bits = mz_rbuf_u32(r);
    float v;

    memcpy(&v, &bits, sizeof v);
    return v;
}

double mz_rbuf_f64(struct mz_rbuf *r)
{
    uint64_t bits = mz_rbuf_u64(r);
    double v;

    memcpy(&v, &bits, sizeof v);
    return v;
}

bool mz_rbuf_f32s(struct mz_rbuf *r, float *out, size_t n)
{
    if (r->failed || (r->len - r->pos) / 4 < n) {
        r->failed = true;
        return false;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n * 4;
    if (HOST_IS_LITTLE_ENDIAN) {
        if (n)
            memcpy(out, p, n * 4);
    } else {
        for (size_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                            (uint32_t)p[4 * i + 2] << 16 |
                            (uint32_t)p[4 * i + 3] << 24;
            memcpy(&out[i], &bits, sizeof bits);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!(fabsf(out[i]) <= MZ_BYTES_MAX_ABS)) {
            r->failed = true;
            return false;
        }
    }
    return true;
}

const uint8_t *mz_rbuf_raw(struct mz_rbuf *r, size_t n)
{
    return take(r, n);
}

size_t mz_rbuf_left(const struct mz_rbuf *r)
{
    return r->failed ? 0 : r->len - r->pos;
}
