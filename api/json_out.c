/*-------------------------------------------------------------------------
 * json_out.c
 *    JSON text written straight into a growing buffer.
 *
 * Interface routines: see json_out.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/text.h"

void mz_json_out_init(struct mz_json_out *out)
{
    memset(out, 0, sizeof *out);
}

char *mz_json_out_finish(struct mz_json_out *out, size_t *len)
{
    char *text = out->text;
    bool ok = !out->failed && out->depth == 0 && text;

    *len = ok ? out->len : 0;
    if (ok)
        text[out->len] = '\0';
    else
        free(text);
    mz_json_out_init(out);
    return ok ? text : NULL;
}

/* reserve's slow path: a bigger buffer for n more bytes and the NUL;
 * false (and failed) when out of memory. */
static bool grow(struct mz_json_out *out, size_t n)
{
    size_t cap = out->cap ? out->cap : 4096;
    while (cap < out->len + n + 1)
        cap *= 2;
    char *text = realloc(out->text, cap);
    if (!text) {
        out->failed = true;
        return false;
    }
    out->text = text;
    out->cap = cap;
    return true;
}

/* Makes room for n more bytes and the NUL; false (and failed) when out
 * of memory. */
static inline bool reserve(struct mz_json_out *out, size_t n)
{
    return !out->failed && (out->len + n + 1 <= out->cap || grow(out, n));
}

/* The text is NUL-terminated by mz_json_out_finish only (reserve keeps
 * a byte for it): a reply is a few thousand puts of a few bytes each. */
static inline void put(struct mz_json_out *out, const char *bytes, size_t n)
{
    if (!reserve(out, n))
        return;
    memcpy(out->text + out->len, bytes, n);
    out->len += n;
}

static inline void put_char(struct mz_json_out *out, char c)
{
    if (!reserve(out, 1))
        return;
    out->text[out->len++] = c;
}

/* The comma before a value, unless it is a member's value. */
static void begin_value(struct mz_json_out *out)
{
    if (out->after_key) {
        out->after_key = false;
        return;
    }
    if (out->depth > 0) {
        if (out->has_items[out->depth])
            put_char(out, ',');
        out->has_items[out->depth] = true;
    }
}

void mz_json_out_open(struct mz_json_out *out, char bracket)
{
    begin_value(out);
    if (out->depth == MZ_JSON_OUT_MAX_DEPTH) {
        out->failed = true;
        return;
    }
    put_char(out, bracket);
    out->has_items[++out->depth] = false;
}

void mz_json_out_close(struct mz_json_out *out, char bracket)
{
    if (out->depth == 0) {
        out->failed = true;
        return;
    }
    put_char(out, bracket);
    out->depth--;
}

void mz_json_out_key(struct mz_json_out *out, const char *key)
{
    if (out->has_items[out->depth])
        put_char(out, ',');
    out->has_items[out->depth] = true;
    put_char(out, '"');
    put(out, key, strlen(key));
    put(out, "\":", 2);
    out->after_key = true;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes
 * there are not one (overlong forms, surrogates, past U+10FFFF). */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
        (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

void mz_json_out_string(struct mz_json_out *out, const char *s)
{
    if (!s) {
        mz_json_out_null(out);
        return;
    }
    begin_value(out);
    put_char(out, '"');
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p; /* bytes copied as they are */
    while (*p) {
        /* Printable ASCII other than '"' and '\\' is copied as it is:
         * nearly every byte of an id, a name or a reason. */
        if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
            p++;
            continue;
        }
        size_t n = utf8_sequence(p);
        const char *escape = NULL;
        char hex[8];
        if (n == 0)
            escape = "\xef\xbf\xbd"; /* U+FFFD */
        else if (*p == '"')
            escape = "\\\"";
        else if (*p == '\\')
            escape = "\\\\";
        else if (*p == '\n')
            escape = "\\n";
        else if (*p == '\r')
            escape = "\\r";
        else if (*p == '\t')
            escape = "\\t";
        else if (*p == '\b')
            escape = "\\b";
        else if (*p == '\f')
            escape = "\\f";
        else if (*p < 0x20) {
            snprintf(hex, sizeof hex, "\\u%04X", *p);
            escape = hex;
        }
        if (!escape) {
            p += n;
            continue;
        }
        put(out, (const char *)run, (size_t)(p - run));
        put(out, escape, strlen(escape));
        p += n ? n : 1;
        run = p;
    }
    put(out, (const char *)run, (size_t)(p - run));
    put_char(out, '"');
}

void mz_json_out_real(struct mz_json_out *out, double v)
{
    char text[40];
    if (!isfinite(v))
        v = 0.0;
    int n = mz_text_real(text, sizeof text, v, 9);
    if (n < 0 || (size_t)n >= sizeof text - 3) {
        out->failed = true;
        return;
    }
    /* jansson's form: a real keeps a '.' or an exponent, and the
     * exponent loses its '+' and leading zeros (1e+05 -> 1e5). */
    char *e = strchr(text, 'e');
    if (e) {
        char *digits = e + 1;
        if (*digits == '+' || *digits == '-')
            digits += *digits == '-';
        char *from = digits;
        while (*from == '+' || (*from == '0' && from[1] != '\0'))
            from++;
        memmove(digits, from, strlen(from) + 1);
    } else if (!strchr(text, '.')) {
        strcat(text, ".0");
    }
    begin_value(out);
    put(out, text, strlen(text));
}

void mz_json_out_int(struct mz_json_out *out, int64_t v)
{
    char text[MZ_TEXT_INT64_BYTES];
    size_t n = mz_text_int64(text, v);
    begin_value(out);
    put(out, text, n);
}

void mz_json_out_bool(struct mz_json_out *out, bool v)
{
    begin_value(out);
    put(out, v ? "true" : "false", v ? 4 : 5);
}

void mz_json_out_null(struct mz_json_out *out)
{
    begin_value(out);
    put(out, "null", 4);
}

void mz_json_out_value(struct mz_json_out *out, const json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY |
                                               JSON_REAL_PRECISION(9))
                       : NULL;
    if (!text) {
        out->failed = true;
        return;
    }
    begin_value(out);
    put(out, text, strlen(text));
    free(text);
}
