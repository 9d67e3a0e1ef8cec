/*-------------------------------------------------------------------------
 * bytes.h
 *    Portable byte encoding for saved model state: little-endian integers,
 *    IEEE-754 floats by their bit pattern, and a trailing checksum.
 *
 * The writer grows a malloc'd buffer and remembers a failed allocation;
 * the reader never reads past its end and remembers an overrun, so callers
 * check once at the end instead of after every field.
 *
 * Interface routines:
 *    mz_wbuf_*  - append fields; mz_wbuf_finish appends the checksum and
 *                 hands the buffer to the caller
 *    mz_rbuf_*  - read fields; mz_rbuf_open verifies the checksum
 *-------------------------------------------------------------------------
 */
#ifndef MZ_BYTES_H
#define MZ_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
void mz_wbuf_u8(struct mz_wbuf *w, uint8_t v);
void mz_wbuf_u32(struct mz_wbuf *w, uint32_t v);
void mz_wbuf_u64(struct mz_wbuf *w, uint64_t v);
void mz_wbuf_f32(struct mz_wbuf *w, float v);
void mz_wbuf_f64(struct mz_wbuf *w, double v);
void mz_wbuf_f32s(struct mz_wbuf *w, const float *v, size_t n);
void mz_wbuf_raw(struct mz_wbuf *w, const void *v, size_t n);
/* Appends the checksum and returns the buffer (caller frees) with its
 * length in *len, or NULL when any append failed to allocate. */
void *mz_wbuf_finish(struct mz_wbuf *w, size_t *len);

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
