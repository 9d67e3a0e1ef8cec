/*-------------------------------------------------------------------------
 * json_body.c
 *    Body parsing and argument validation shared by the handlers.
 *-------------------------------------------------------------------------
 */
#include "api/json_body.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/item.h"

json_t *mz_body_object(const struct mz_request *req, struct mz_response *resp)
{
    if (!req->body || req->body_len == 0) {
        mz_response_error(resp, MZ_ERR_INVALID, "request body is empty");
        return NULL;
    }
    json_error_t jerr;
    /* jansson bounds nesting depth itself and rejects invalid UTF-8 and
     * \u0000 inside strings. */
    json_t *obj =
        json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "malformed JSON at line %d column %d: %s", jerr.line,
                          jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        mz_response_error(resp, MZ_ERR_INVALID, "body must be a JSON object");
        return NULL;
    }
    return obj;
}

/* Returns the length of the UTF-8 sequence at s, or 0 when invalid. */
static size_t utf8_sequence_length(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = (s[0] & 0xE0) == 0xC0   ? 2
                 : (s[0] & 0xF0) == 0xE0 ? 3
                 : (s[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (len == 0 || s[0] == 0xC0 || s[0] == 0xC1 || s[0] > 0xF4)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

bool mz_is_valid_id(const char *id)
{
    if (!id)
        return false;
    size_t len = strlen(id);
    if (len == 0 || len > MZ_ID_MAX_BYTES)
        return false;
    const unsigned char *s = (const unsigned char *)id;
    while (*s) {
        if (*s < 0x20 || *s == 0x7F)
            return false;
        size_t step = utf8_sequence_length(s);
        if (step == 0)
            return false;
        s += step;
    }
    return true;
}

bool mz_query_int(const struct mz_request *req, const char *key, int64_t min,
                  int64_t max, int64_t def, int64_t *out,
                  struct mz_response *resp)
{
    const char *text = req->query(req->query_ctx, key);
    if (!text) {
        *out = def;
        return true;
    }
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0' || value < min || value > max) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "%s: must be an integer from %lld to %lld", key,
                          (long long)min, (long long)max);
        return false;
    }
    *out = value;
    return true;
}

bool mz_require_id(const char *name, const char *value,
                   struct mz_response *resp)
{
    if (mz_is_valid_id(value))
        return true;
    mz_response_error(resp, MZ_ERR_INVALID,
                      "%s: must be 1 to %d bytes of UTF-8 text", name,
                      MZ_ID_MAX_BYTES);
    return false;
}

bool mz_query_id(const struct mz_request *req, const char *key,
                 const char **out, struct mz_response *resp)
{
    const char *text = req->query(req->query_ctx, key);
    if (text && !mz_require_id(key, text, resp))
        return false;
    *out = text;
    return true;
}

bool mz_query_id_list(const struct mz_request *req, const char *key, size_t max,
                      struct mz_query_list *out, struct mz_response *resp)
{
    const char *text = req->query(req->query_ctx, key);
    size_t len = text ? strlen(text) : 0;

    out->count = 0;
    if (len == 0)
        return true;
    if (max > MZ_QUERY_LIST_MAX)
        max = MZ_QUERY_LIST_MAX;
    if (len >= sizeof out->text) {
        mz_response_error(resp, MZ_ERR_INVALID, "%s: too long", key);
        return false;
    }
    memcpy(out->text, text, len + 1);
    for (char *at = out->text;;) {
        char *comma = strchr(at, ',');
        if (comma)
            *comma = '\0';
        if (out->count == max) {
            mz_response_error(resp, MZ_ERR_INVALID,
                              "%s: at most %zu item ids, separated by commas",
                              key, max);
            return false;
        }
        if (!mz_is_valid_id(at)) {
            mz_response_error(resp, MZ_ERR_INVALID,
                              "%s: entry %zu must be 1 to %d bytes of UTF-8 "
                              "text (ids separated by commas)",
                              key, out->count + 1, MZ_ID_MAX_BYTES);
            return false;
        }
        out->items[out->count++] = at;
        if (!comma)
            return true;
        at = comma + 1;
    }
}

int64_t mz_now_seconds(void)
{
    return (int64_t)time(NULL);
}
