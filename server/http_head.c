/*-------------------------------------------------------------------------
 * http_head.c
 *    The checks of a complete request head (server/http_head.h).
 *-------------------------------------------------------------------------
 */
#include "server/http_head.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* An error body for a status that has no enum mz_status (the limits of
 * the request head are HTTP's alone). */
static void head_error(struct mz_response *resp, int http_status,
                       const char *code, const char *message)
{
    mz_response_json(
        resp, http_status,
        json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

/* What mz_http_refuse_head needs to know of the header fields. */
struct head_scan {
    unsigned fields;
    size_t bytes;            /* as "name: value\r\n" lines */
    unsigned content_length; /* fields of each name */
    unsigned transfer_encoding;
    bool not_chunked; /* a Transfer-Encoding but "chunked" */
    bool bad_name;    /* a name that is not an RFC 9110 token */
};

static bool is_token(const char *s, size_t len)
{
    static const char specials[] = "!#$%&'*+-.^_`|~";

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || (c != '\0' && strchr(specials, c))))
            return false;
    }
    return true;
}

static enum MHD_Result scan_field(void *cls, enum MHD_ValueKind kind,
                                  const char *key, size_t key_size,
                                  const char *value, size_t value_size)
{
    struct head_scan *h = cls;
    (void)kind;

    h->fields++;
    h->bytes += key_size + value_size + 4;
    if (!is_token(key, key_size))
        h->bad_name = true;
    if (key_size == 14 && strncasecmp(key, "Content-Length", 14) == 0)
        h->content_length++;
    if (key_size == 17 && strncasecmp(key, "Transfer-Encoding", 17) == 0) {
        h->transfer_encoding++;
        if (value_size != 7 || strncasecmp(value, "chunked", 7) != 0)
            h->not_chunked = true;
    }
    return MHD_YES;
}

bool mz_http_refuse_head(struct MHD_Connection *connection,
                         bool target_too_long, struct mz_response *resp)
{
    struct head_scan h = {0};
    char message[160];

    if (target_too_long) {
        snprintf(message, sizeof message,
                 "the request target (path and query) is over %d bytes",
                 MZ_MAX_URL_BYTES);
        head_error(resp, 414, "uri_too_long", message);
        return true;
    }
    MHD_get_connection_values_n(connection, MHD_HEADER_KIND, scan_field, &h);
    if (h.fields > MZ_HTTP_MAX_HEADER_FIELDS ||
        h.bytes > MZ_HTTP_MAX_HEADER_BYTES) {
        snprintf(message, sizeof message,
                 "%u header fields of %zu bytes; at most %d fields of %d "
                 "bytes in all",
                 h.fields, h.bytes, MZ_HTTP_MAX_HEADER_FIELDS,
                 MZ_HTTP_MAX_HEADER_BYTES);
        head_error(resp, 431, "headers_too_large", message);
        return true;
    }
    if (h.bad_name) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "a header field name is not a token (RFC 9110)");
        return true;
    }
    if (h.content_length > 1 || h.transfer_encoding > 1 ||
        (h.content_length > 0 && h.transfer_encoding > 0)) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "the body is framed twice: %u Content-Length and "
                          "%u Transfer-Encoding fields; send one of them, "
                          "once",
                          h.content_length, h.transfer_encoding);
        return true;
    }
    if (h.not_chunked) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "Transfer-Encoding must be \"chunked\"");
        return true;
    }
    return false;
}
