/*-------------------------------------------------------------------------
 * router.c
 *    Route table and dispatch.
 *
 * Patterns are literal segments and "{name}" for one captured segment. The
 * table is small, so matching is a linear scan; a path that matches a
 * pattern under another method gives 405 with the allowed methods.
 *
 * Each route names who may call it: the roles (any one of them; admin
 * may call everything; 0: open to all) and its brand scope, checked here
 * before the handler runs, so the rule is in this one table.
 *-------------------------------------------------------------------------
 */
#include "api/router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/handlers.h"
#include "api/service/service.h"

/* Which brands a request acts on, for a key scoped to some brands. */
enum brand_scope {
    SCOPE_NONE,       /* no brand (open routes, keys, erasure) */
    SCOPE_PATH_BRAND, /* the {brand} of the path: checked here */
    SCOPE_HANDLER,    /* brands named by items or the query: the handler
                         checks them with req->principal */
    SCOPE_ALL_BRANDS, /* data of every brand: only a key of ["*"] */
};

#define OPEN 0u
#define ADMIN MZ_ROLE_ADMIN
#define MERCH MZ_ROLE_MERCHANDISING
#define CLIENTELING MZ_ROLE_CLIENTELING
#define INGEST MZ_ROLE_INGEST
#define PRIVACY MZ_ROLE_PRIVACY

struct route {
    const char *method;
    const char *pattern;
    const char *allow;        /* every method of this pattern, for 405 */
    bool has_body;            /* requires a JSON body */
    mz_handler_fn handler;
    unsigned roles;           /* MZ_ROLE_*: any one may call; OPEN */
    enum brand_scope scope;
};

static const struct route routes[] = {
    {"GET", "/healthz", "GET", false, mz_handle_healthz, OPEN, SCOPE_NONE},
    {"GET", "/readyz", "GET", false, mz_handle_readyz, OPEN, SCOPE_NONE},
    {"PUT", "/v1/catalog/items", "PUT", true, mz_handle_put_items, MERCH,
     SCOPE_HANDLER},
    {"GET", "/v1/catalog/items/{item_id}", "GET, DELETE", false,
     mz_handle_get_item, MERCH, SCOPE_HANDLER},
    {"DELETE", "/v1/catalog/items/{item_id}", "GET, DELETE", false,
     mz_handle_delete_item, MERCH, SCOPE_HANDLER},
    {"POST", "/v1/events", "POST", true, mz_handle_post_events,
     INGEST | CLIENTELING, SCOPE_HANDLER},
    {"GET", "/v1/clients/{client_id}/recommendations", "GET", false,
     mz_handle_recommendations, CLIENTELING, SCOPE_HANDLER},
    {"GET", "/v1/clients/{client_id}/profile", "GET", false, mz_handle_profile,
     CLIENTELING, SCOPE_ALL_BRANDS},
    {"DELETE", "/v1/clients/{client_id}", "DELETE", false,
     mz_handle_delete_client, PRIVACY, SCOPE_NONE},
    /* Attributes carry the consent too: privacy may set them. */
    {"PUT", "/v1/clients/{client_id}/attributes", "PUT", true,
     mz_handle_put_attributes, CLIENTELING | PRIVACY, SCOPE_NONE},
    {"PUT", "/v1/brands/{brand}/rules", "GET, PUT", true, mz_handle_put_rules,
     MERCH, SCOPE_PATH_BRAND},
    {"GET", "/v1/brands/{brand}/rules", "GET, PUT", false, mz_handle_get_rules,
     MERCH, SCOPE_PATH_BRAND},
    {"POST", "/v1/keys", "GET, POST", true, mz_handle_post_key, ADMIN,
     SCOPE_NONE},
    {"GET", "/v1/keys", "GET, POST", false, mz_handle_get_keys, ADMIN,
     SCOPE_NONE},
    {"DELETE", "/v1/keys/{key_id}", "DELETE", false, mz_handle_delete_key,
     ADMIN, SCOPE_NONE},
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

bool mz_api_authorize(struct mz_service *svc, const char *authorization,
                      unsigned roles, struct mz_principal *principal,
                      struct mz_response *resp)
{
    if (mz_service_authenticate(svc, authorization, principal) != MZ_OK) {
        resp->www_authenticate = "Bearer";
        mz_response_error(resp, MZ_ERR_UNAUTHORIZED,
                          "a valid API key is required "
                          "(Authorization: Bearer <key>)");
        return false;
    }
    if (!(principal->roles & (roles | MZ_ROLE_ADMIN))) {
        mz_response_error(resp, MZ_ERR_FORBIDDEN,
                          "key %s lacks the role for this route",
                          principal->key_id);
        return false;
    }
    return true;
}

/* Checks req's key against route r (its roles and brand scope, the path
 * captured in caps); fills resp and returns false when refused. */
static bool authorize_route(struct mz_service *svc, const struct route *r,
                            const struct captures *caps,
                            const struct mz_request *req,
                            struct mz_principal *principal,
                            struct mz_response *resp)
{
    if (r->roles == OPEN)
        return true;
    if (!mz_api_authorize(svc, req->authorization, r->roles, principal, resp))
        return false;
    if (r->scope == SCOPE_PATH_BRAND &&
        !mz_principal_allows_brand(principal, caps->text[0])) {
        mz_response_error(resp, MZ_ERR_FORBIDDEN,
                          "key %s is not scoped to brand %s",
                          principal->key_id, caps->text[0]);
        return false;
    }
    if (r->scope == SCOPE_ALL_BRANDS && !principal->all_brands) {
        mz_response_error(resp, MZ_ERR_FORBIDDEN,
                          "key %s is scoped to some brands; this route "
                          "needs a key of every brand",
                          principal->key_id);
        return false;
    }
    return true;
}

void mz_api_handle(struct mz_service *svc, struct mz_request *req,
                   struct mz_response *resp)
{
    struct mz_principal principal;
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
        /* 415 before the key: it tells nothing the API document does
         * not. */
        if (r->has_body && !is_json_content_type(req->content_type)) {
            mz_response_error(resp, MZ_ERR_UNSUPPORTED_MEDIA,
                              "Content-Type must be application/json");
            return;
        }
        if (!authorize_route(svc, r, &caps, req, &principal, resp))
            return;
        for (int c = 0; c < caps.count; c++)
            req->params[c] = caps.text[c];
        req->principal = r->roles == OPEN ? NULL : &principal;
        r->handler(svc, req, resp);
        for (int c = 0; c < caps.count; c++)
            req->params[c] = NULL;
        req->principal = NULL;
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
