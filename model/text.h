/*-------------------------------------------------------------------------
 * text.h
 *    Short texts built without printf: strings joined, integers and
 *    reals in decimal.
 *
 * maisond links OpenBLAS, whose libgfortran loads libquadmath, and
 * libquadmath registers printf hooks when it is loaded; glibc then sends
 * every printf-family call through its slow positional path
 * (docs/durability.md, item 16 of the stalls). The reasons' sentences,
 * the JSON numbers and the log's fields are written once per item and
 * per request, so they are built here instead: the same bytes snprintf
 * would write, truncated the same way.
 *
 * Interface routines:
 *    mz_text_join   - strings one after the other, NULL-terminated list
 *    mz_text_int64  - an integer in decimal ("%" PRId64)
 *    mz_text_real   - a double with up to 17 significant digits ("%.Ng")
 *-------------------------------------------------------------------------
 */
#ifndef MZ_TEXT_H
#define MZ_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Writes the strings given after len, up to a NULL, one after the other
 * into out[0..len-1] (borrowed), cut to len - 1 bytes and NUL-terminated
 * when len > 0, as snprintf(out, len, "%s%s...", ...) does. Returns the
 * length of the whole joined text (so a result >= len says it was cut). */
size_t mz_text_join(char *out, size_t len, ...);

/* Bytes mz_text_int64 needs at most: a sign, 19 digits and the NUL. */
#define MZ_TEXT_INT64_BYTES 21

/* Writes v in decimal into out (borrowed, MZ_TEXT_INT64_BYTES) and
 * returns its length. */
size_t mz_text_int64(char out[MZ_TEXT_INT64_BYTES], int64_t v);

/* Writes v as snprintf(out, len, "%.<digits>g", v) does (digits 1..17;
 * glibc's strfromd, which formats without the printf machinery) and
 * returns its length, or -1 when digits is out of range or out (len
 * bytes, borrowed) is too short. */
int mz_text_real(char *out, size_t len, double v, int digits);

#endif /* MZ_TEXT_H */
