/*-------------------------------------------------------------------------
 * http.c
 *    Responses: JSON bodies and the one error body format of the API.
 *    The code and HTTP status of an error come from model/status.c.
 *-------------------------------------------------------------------------
 */
#include "api/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The last resort when even an error body cannot be built. */
static const char fallback_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";

static void set_fallback(struct mz_response *resp)
{
    resp->http_status = 500;
    resp->body = strdup(fallback_body);
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    resp->content_type = "application/json";
}

void mz_response_json(struct mz_response *resp, int http_status, json_t *json)
{
    mz_response_clear(resp);
    /* Scores are floats: 9 significant digits round-trip them exactly. */
    char *text =
        json ? json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(json);
    if (!text) {
        set_fallback(resp);
        return;
    }
    resp->http_status = http_status;
    resp->body = text;
    resp->body_len = strlen(text);
    resp->content_type = "application/json";
}

void mz_response_json_text(struct mz_response *resp, int http_status,
                           char *text, size_t len)
{
    mz_response_clear(resp);
    if (!text) {
        set_fallback(resp);
        return;
    }
    resp->http_status = http_status;
    resp->body = text;
    resp->body_len = len;
    resp->content_type = "application/json";
}

static void set_error(struct mz_response *resp, int http_status,
                      const char *code, const char *fmt, va_list ap)
{
    char message[512];
    vsnprintf(message, sizeof message, fmt, ap);
    json_t *body =
        json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    if (!body) {
        /* message may hold bytes jansson refuses (invalid UTF-8 echoed
         * from the request); say so without them. */
        body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message",
                         "invalid request");
    }
    mz_response_json(resp, http_status, body);
}

void mz_response_error(struct mz_response *resp, enum mz_status status,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(resp, mz_status_http(status), mz_status_code(status), fmt, ap);
    va_end(ap);
}

void mz_response_empty(struct mz_response *resp, int http_status)
{
    mz_response_clear(resp);
    resp->http_status = http_status;
}

void mz_response_clear(struct mz_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->content_type = NULL;
}
