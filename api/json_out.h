/*-------------------------------------------------------------------------
 * json_out.h
 *    A JSON text written straight into one growing buffer, for the hot
 *    replies (a recommendation list): no tree of jansson values to build,
 *    dump and free per item.
 *
 * The writer tracks commas: mz_json_out_key starts a member, a value
 * written right after it is the member's value, a value written inside
 * an array is its next element. The first failure (out of memory,
 * nesting past MZ_JSON_OUT_MAX_DEPTH) sticks: later calls do nothing and
 * mz_json_out_finish returns NULL. The text is what jansson's
 * json_dumps(JSON_COMPACT | JSON_REAL_PRECISION(9)) writes for the same
 * value, except that invalid UTF-8 in a string becomes U+FFFD where
 * jansson would refuse the string.
 *
 * Interface routines:
 *    mz_json_out_init / _finish  - start; take the text (caller frees)
 *    mz_json_out_open / _close   - an object '{' or an array '['
 *    mz_json_out_key             - a member's key (ASCII, not escaped)
 *    mz_json_out_string / _real / _int / _bool / _null - scalar values
 *    mz_json_out_value           - a jansson value, dumped in place
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_OUT_H
#define MZ_API_JSON_OUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MZ_JSON_OUT_MAX_DEPTH 32

struct mz_json_out {
    char *text; /* owned until mz_json_out_finish */
    size_t len;
    size_t cap;
    bool failed;
    bool after_key; /* the next value is a member's */
    int depth;
    bool has_items[MZ_JSON_OUT_MAX_DEPTH + 1]; /* per open container */
};

/* Starts an empty text in out (nothing allocated yet). */
void mz_json_out_init(struct mz_json_out *out);

/* Returns the text written (NUL-terminated, caller frees) and its length
 * in *len, and leaves out empty; NULL when a call failed (the buffer is
 * freed) or a container is still open. */
char *mz_json_out_finish(struct mz_json_out *out, size_t *len);

/* Opens an object (bracket '{') or an array ('['), as a value. */
void mz_json_out_open(struct mz_json_out *out, char bracket);

/* Closes the innermost container with bracket ('}' or ']'). */
void mz_json_out_close(struct mz_json_out *out, char bracket);

/* Starts a member of the open object: key (borrowed; plain ASCII that
 * needs no escaping, a name of the API) and its colon. */
void mz_json_out_key(struct mz_json_out *out, const char *key);

/* Writes s (borrowed; NULL: null) as a JSON string. */
void mz_json_out_string(struct mz_json_out *out, const char *s);

/* Writes v with 9 significant digits (a float round-trips), as jansson
 * does; a value that is not finite is written as 0.0 (JSON has no NaN). */
void mz_json_out_real(struct mz_json_out *out, double v);

void mz_json_out_int(struct mz_json_out *out, int64_t v);
void mz_json_out_bool(struct mz_json_out *out, bool v);
void mz_json_out_null(struct mz_json_out *out);

/* Writes value (borrowed; NULL fails the text) as jansson dumps it: for
 * the rare parts of a reply built as jansson values. */
void mz_json_out_value(struct mz_json_out *out, const json_t *value);

#endif
