/*-------------------------------------------------------------------------
 * bytes.h
 *    Portable byte encoding for saved model state: little-endian integers,
 *    IEEE-754 floats by their bit pattern, and a trailing checksum.
 *
 * The writer grows a malloc'd buffer and remembers a failed allocation;
 * the reader never reads past its end and remembers an overrun, so callers
 * check once at the end instead of after every field. The scalar writers
 * are inline: a checkpoint encodes the global level (about 100 MB after
 * make bench) field by field, and a call per field was a third of it.
 *
 * Interface routines:
 *    mz_wbuf_*  - append fields; mz_wbuf_finish appends the checksum and
 *                 hands the buffer to the caller
 *    mz_rbuf_*  - read fields; mz_rbuf_open verifies the checksum
 *    mz_bytes_checksum - the checksum mz_wbuf_finish appends
 *-------------------------------------------------------------------------
 */
#ifndef MZ_BYTES_H
#define MZ_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct mz_wbuf {
    uint8_t *data; /* owned until mz_wbuf_finish */
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; data is then released */
};

struct mz_rbuf {
    const uint8_t *data; /* borrowed */
    size_t len;          /* payload length, checksum excluded */
    size_t pos;
    bool failed; /* a read went past the end */
};

void mz_wbuf_init(struct mz_wbuf *w);
/* Grows w for n more bytes and returns where they go, or NULL (and marks
 * w failed, its data released). Use mz_wbuf_room. */
uint8_t *mz_wbuf_grow(struct mz_wbuf *w, size_t n);

/* Returns where n (> 0) more bytes go, or NULL once an allocation failed
 * (a failed buffer has cap 0, so it always takes the slow path). */
static inline uint8_t *mz_wbuf_room(struct mz_wbuf *w, size_t n)
{
    if (w->cap - w->len < n)
        return mz_wbuf_grow(w, n);
    uint8_t *at = w->data + w->len;
    w->len += n;
    return at;
}

static inline void mz_wbuf_u8(struct mz_wbuf *w, uint8_t v)
{
    uint8_t *p = mz_wbuf_room(w, 1);

    if (p)
        p[0] = v;
}

/* Appends the low n bytes of v, least significant first: byte by byte,
 * which GCC and clang compile to one store on a little-endian machine,
 * and is right on any other. */
static inline void mz_wbuf_le(struct mz_wbuf *w, uint64_t v, int n)
{
    uint8_t *p = mz_wbuf_room(w, (size_t)n);

    if (!p)
        return;
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void mz_wbuf_u32(struct mz_wbuf *w, uint32_t v)
{
    mz_wbuf_le(w, v, 4);
}

static inline void mz_wbuf_u64(struct mz_wbuf *w, uint64_t v)
{
    mz_wbuf_le(w, v, 8);
}

static inline void mz_wbuf_f32(struct mz_wbuf *w, float v)
{
    uint32_t bits;

    memcpy(&bits, &v, sizeof bits);
    mz_wbuf_u32(w, bits);
}

static inline void mz_wbuf_f64(struct mz_wbuf *w, double v)
{
    uint64_t bits;

    memcpy(&bits, &v, sizeof bits);
    mz_wbuf_u64(w, bits);
}

void mz_wbuf_f32s(struct mz_wbuf *w, const float *v, size_t n);
void mz_wbuf_raw(struct mz_wbuf *w, const void *v, size_t n);
/* Appends the checksum and returns the buffer (caller frees) with its
 * length in *len, or NULL when any append failed to allocate. */
void *mz_wbuf_finish(struct mz_wbuf *w, size_t *len);

/* The checksum of len bytes: XXH3 64 (xxHash) since 2026-12-02; records
 * written before carry FNV-1a 64, which mz_rbuf_open still accepts. */
uint64_t mz_bytes_checksum(const void *bytes, size_t len);

/* Returns false when bytes (borrowed for the reader's lifetime) are too
 * short to hold a checksum or the checksum does not match. */
bool mz_rbuf_open(struct mz_rbuf *r, const void *bytes, size_t len);
uint8_t mz_rbuf_u8(struct mz_rbuf *r);
uint32_t mz_rbuf_u32(struct mz_rbuf *r);
uint64_t mz_rbuf_u64(struct mz_rbuf *r);
float mz_rbuf_f32(struct mz_rbuf *r);
double mz_rbuf_f64(struct mz_rbuf *r);
/* Largest magnitude mz_rbuf_f32s accepts: no learned vector comes near
 * it, and a larger (or non-finite) value is corruption that would
 * overflow the sums it enters. */
#define MZ_BYTES_MAX_ABS 1e6f

/* Reads n floats into out; returns false and marks the reader failed when
 * fewer than n remain or one is NaN or beyond MZ_BYTES_MAX_ABS in
 * magnitude (out is then partly written). */
bool mz_rbuf_f32s(struct mz_rbuf *r, float *out, size_t n);
/* Returns a pointer (borrowed, into the input) to the next n bytes, or
 * NULL when fewer remain. */
const uint8_t *mz_rbuf_raw(struct mz_rbuf *r, size_t n);
/* Bytes left to read. */
size_t mz_rbuf_left(const struct mz_rbuf *r);

#endif
