/*-------------------------------------------------------------------------
 * router.c
 *    Route table and dispatch.
 *
 * Patterns are literal segments and "{name}" for one captured segment. The
 * table is small, so matching is a linear scan; a path that matches a
 * pattern under another method gives 405 with the allowed methods.
 *-------------------------------------------------------------------------
 */
#include "api/router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/handlers.h"

struct route {
    const char *method;
    const char *pattern;
    const char *allow;        /* every method of this pattern, for 405 */
    bool has_body;            /* requires a JSON body */
    mz_handler_fn handler;
};

static const struct route routes[] = {
    {"GET", "/healthz", "GET", false, mz_handle_healthz},
    {"GET", "/readyz", "GET", false, mz_handle_readyz},
    {"PUT", "/v1/catalog/items", "PUT", true, mz_handle_put_items},
    {"GET", "/v1/catalog/items/{item_id}", "GET, DELETE", false, mz_handle_get_item},
    {"DELETE", "/v1/catalog/items/{item_id}", "GET, DELETE", false,
     mz_handle_delete_item},
    {"POST", "/v1/events", "POST", true, mz_handle_post_events},
    {"GET", "/v1/clients/{client_id}/recommendations", "GET", false,
     mz_handle_recommendations},
    {"GET", "/v1/clients/{client_id}/profile", "GET", false, mz_handle_profile},
    {"DELETE", "/v1/clients/{client_id}", "DELETE", false, mz_handle_delete_client},
    {"PUT", "/v1/clients/{client_id}/attributes", "PUT", true, mz_handle_put_attributes},
    {"PUT", "/v1/brands/{brand}/rules", "GET, PUT", true, mz_handle_put_rules},
    {"GET", "/v1/brands/{brand}/rules", "GET, PUT", false, mz_handle_get_rules},
};

#define N_ROUTES (sizeof routes / sizeof routes[0])

/* Captured segments are copied here so handlers see NUL-terminated ids. */
struct captures {
    char text[MZ_MAX_PATH_PARAMS][1024];
    int count;
};

/* Returns whether path matches pattern, filling caps. A captured segment
 * must be non-empty. */
static bool match_pattern(const char *pattern, const char *path,
                          struct captures *caps)
{
    caps->count = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (p[0] == '{') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || caps->count >= MZ_MAX_PATH_PARAMS ||
                len >= sizeof caps->text[0])
                return false;
            memcpy(caps->text[caps->count], s, len);
            caps->text[caps->count][len] = '\0';
            caps->count++;
            s += len;
            p = strchr(p, '}') + 1;
        } else if (*p == *s) {
            p++;
            s++;
        } else {
            return false;
        }
    }
    return *p == '\0' && *s == '\0';
}

const char *mz_api_route_of(const char *path)
{
    struct captures caps;
    for (size_t i = 0; i < N_ROUTES; i++)
        if (match_pattern(routes[i].pattern, path, &caps))
            return routes[i].pattern;
    return "unmatched";
}

/* Accepts "application/json" with optional parameters, any case. */
static bool is_json_content_type(const char *content_type)
{
    static const char json_type[] = "application/json";
    if (!content_type)
        return false;
    while (*content_type == ' ')
        content_type++;
    size_t n = sizeof json_type - 1;
    if (strncasecmp(content_type, json_type, n) != 0)
        return false;
    char next = content_type[n];
    return next == '\0' || next == ';' || next == ' ';
}

void mz_api_handle(struct mz_service *svc, struct mz_request *req,
                   struct mz_response *resp)
{
    struct captures caps;
    const struct route *path_match = NULL;

    for (size_t i = 0; i < N_ROUTES; i++) {
        const struct route *r = &routes[i];
        if (!match_pattern(r->pattern, req->path, &caps))
            continue;
        path_match = r;
        if (strcmp(r->method, req->method) != 0)
            continue;
        resp->route = r->pattern;
        if (r->has_body && !is_json_content_type(req->content_type)) {
            mz_response_error(resp, MZ_ERR_UNSUPPORTED_MEDIA,
                              "Content-Type must be application/json");
            return;
        }
        for (int c = 0; c < caps.count; c++)
            req->params[c] = caps.text[c];
        r->handler(svc, req, resp);
        for (int c = 0; c < caps.count; c++)
            req->params[c] = NULL;
        return;
    }
    if (path_match) {
        resp->route = path_match->pattern;
        resp->allow = path_match->allow;
        mz_response_error(resp, MZ_ERR_METHOD, "method %s not allowed on %s",
                          req->method, path_match->pattern);
        return;
    }
    resp->route = "unmatched";
    mz_response_error(resp, MZ_ERR_NOT_FOUND, "no route for %s", req->path);
}
