/*-------------------------------------------------------------------------
 * line_reader.c
 *    Bounded lines from a FILE (see line_reader.h).
 *
 * Invariant: buf[pos..len) holds the bytes read from the file and not
 * yet returned; a line is returned from buf when its newline is there,
 * so buf holds one line at most plus one read chunk.
 *-------------------------------------------------------------------------
 */
#include "server/line_reader.h"

#include <stdlib.h>
#include <string.h>

#define MZ_LINE_READER_CHUNK (64 * 1024)

struct mz_line_reader {
    FILE *f; /* borrowed */
    size_t max_line;
    char *buf; /* owned, cap bytes */
    size_t cap, pos, len;
    bool eof;
    int64_t bytes; /* consumed by returned lines */
};

struct mz_line_reader *mz_line_reader_open(FILE *f, size_t max_line_bytes)
{
    struct mz_line_reader *r = calloc(1, sizeof *r);

    if (!r)
        return NULL;
    r->f = f;
    r->max_line = max_line_bytes;
    r->cap = max_line_bytes + MZ_LINE_READER_CHUNK + 2;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        free(r);
        return NULL;
    }
    return r;
}

/* Moves the unread bytes to the front and reads more. Returns false at
 * the end of the file. */
static bool fill(struct mz_line_reader *r)
{
    if (r->eof)
        return false;
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->pos = 0;
    size_t room = r->cap - 1 - r->len;
    size_t n =
        fread(r->buf + r->len, 1,
              room < MZ_LINE_READER_CHUNK ? room : MZ_LINE_READER_CHUNK, r->f);
    if (n == 0)
        r->eof = true;
    r->len += n;
    return n > 0;
}

/* Skips the rest of an over-long line, through its newline. */
static void skip_line(struct mz_line_reader *r)
{
    for (;;) {
        char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
        if (nl) {
            r->bytes += nl + 1 - (r->buf + r->pos);
            r->pos = (size_t)(nl + 1 - r->buf);
            return;
        }
        r->bytes += (int64_t)(r->len - r->pos);
        r->pos = r->len;
        if (!fill(r))
            return;
    }
}

bool mz_line_reader_next(struct mz_line_reader *r, const char **text,
                         size_t *len, bool *too_long)
{
    *too_long = false;
    for (;;) {
        char *start = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        char *nl = memchr(start, '\n', avail);
        size_t n = nl ? (size_t)(nl - start) : avail;

        if (n > r->max_line + 1) { /* + 1: a '\r' before the newline */
            *too_long = true;
            *text = "";
            *len = 0;
            skip_line(r);
            return true;
        }
        if (nl || (r->eof && avail > 0)) {
            r->pos += nl ? n + 1 : n;
            r->bytes += (int64_t)(nl ? n + 1 : n);
            if (n > 0 && start[n - 1] == '\r')
                n--;
            if (n > r->max_line) {
                *too_long = true;
                n = 0;
            }
            start[n] = '\0';
            *text = start;
            *len = n;
            return true;
        }
        if (!fill(r) && r->len == r->pos)
            return false;
    }
}

int64_t mz_line_reader_bytes(const struct mz_line_reader *r)
{
    return r->bytes;
}

void mz_line_reader_close(struct mz_line_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}
