/*-------------------------------------------------------------------------
 * fuzz_router.c
 *    The path router (api/router.c): mz_api_route_of and mz_api_handle on
 *    a request whose method, path and Content-Type come from the input,
 *    "METHOD\nPATH\nCONTENT-TYPE" (the path as libmicrohttpd hands it
 *    over, still percent-encoded). No service exists, so the request
 *    carries no Authorization header: every route that needs a key stops
 *    at 401, and the two open routes (GET /healthz, /readyz, whose
 *    handlers need a service) are only matched, not handled. What is
 *    left is matching, 400 (a control character or a malformed escape:
 *    the router refuses it before any route), 404, 405 with Allow, 415
 *    and 401, and their error bodies built from the hostile path.
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <string.h>

#include "api/router.h"
#include "tests/fuzz/fuzz.h"

/* Splits off the text up to the next '\n' of *rest (NULL at the end). */
static char *next_line(char **rest)
{
    char *line = *rest;
    if (!line)
        return "";
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *rest = nl + 1;
    } else {
        *rest = NULL;
    }
    return line;
}

/* Whether path holds a control character, sent raw (which the router
 * must refuse, 400). */
static bool has_control(const char *path)
{
    for (const unsigned char *c = (const unsigned char *)path; *c; c++)
        if (*c < 0x20 || *c == 0x7F)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *rest = text;
    const char *method = next_line(&rest);
    const char *path = next_line(&rest);
    const char *content_type = rest ? next_line(&rest) : NULL;

    const char *route = mz_api_route_of(path);
    FUZZ_ASSERT(route != NULL);
    bool open_route =
        strcmp(route, "/healthz") == 0 || strcmp(route, "/readyz") == 0;
    if (!(open_route && strcmp(method, "GET") == 0)) {
        struct mz_request req = {
            .method = method,
            .path = path,
            .content_type = content_type,
            .body = "{}",
            .body_len = 2,
            .query = fuzz_no_query,
        };
        struct mz_response resp = {0};
        mz_api_handle(NULL, &req, &resp);
        FUZZ_ASSERT(resp.http_status == 400 || resp.http_status == 401 ||
                    resp.http_status == 404 || resp.http_status == 405 ||
                    resp.http_status == 415);
        /* 400 only for what decoding refuses: a control character (always)
         * or an escape (malformed, or decoding to a control character). */
        FUZZ_ASSERT(!has_control(path) || resp.http_status == 400);
        FUZZ_ASSERT(resp.http_status != 400 || has_control(path) ||
                    strchr(path, '%') != NULL);
        FUZZ_ASSERT(resp.body != NULL && resp.route != NULL);
        FUZZ_ASSERT((resp.http_status == 405) == (resp.allow != NULL));
        FUZZ_ASSERT(req.params[0] == NULL && req.principal == NULL);
        mz_response_clear(&resp);
    }
    free(text);
    return 0;
}
