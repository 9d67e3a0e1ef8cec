/*-------------------------------------------------------------------------
 * line_reader.h
 *    The lines of a file of any size, in bounded memory: a line longer
 *    than the reader's limit is reported as too long (its bytes are
 *    skipped), not read.
 *
 * Interface routines:
 *    mz_line_reader_open / _close - over a FILE (borrowed)
 *    mz_line_reader_next          - the next line
 *    mz_line_reader_bytes         - bytes consumed so far
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_LINE_READER_H
#define MZ_SERVER_LINE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mz_line_reader;

/* Returns a reader of f (borrowed; the caller closes it after the
 * reader) for lines of at most max_line_bytes, or NULL when out of
 * memory. */
struct mz_line_reader *mz_line_reader_open(FILE *f, size_t max_line_bytes);

/* Reads the next line: returns false at the end of the file (or on a
 * read error: ferror(f) tells), else true with *text (borrowed, valid
 * until the next call; NUL-terminated, though the line may hold NULs)
 * and *len without the newline and a trailing '\r', and *too_long set
 * for a line over the limit (then *len is 0). The last line needs no
 * newline. */
bool mz_line_reader_next(struct mz_line_reader *r, const char **text,
                         size_t *len, bool *too_long);

/* Returns the bytes of the file consumed by the lines returned so far. */
int64_t mz_line_reader_bytes(const struct mz_line_reader *r);

/* Frees r; accepts NULL. */
void mz_line_reader_close(struct mz_line_reader *r);

#endif
