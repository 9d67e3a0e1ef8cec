/*-------------------------------------------------------------------------
 * router.c
 *    Route table and dispatch; percent-decoding of the path and query.
 *
 * The path arrives as the client sent it (libmicrohttpd decodes nothing,
 * server/http.c). It is split at '/' first and each segment decoded
 * alone, so an identifier holding '/' is addressable as one segment
 * ("a%2Fb"), and a segment can never hide a second one. A path or query
 * with a malformed escape, or that decodes to a control character (NUL
 * included: "victim%00/x" must not become "victim"), is refused with 400
 * before any route runs: identifiers never hold control characters
 * (api/json_body.c), so such a request names nothing that exists.
 *
 * Patterns are literal segments and "{name}" for one captured, non-empty
 * segment. The table is small, so matching is a linear scan; a path that
 * matches a pattern under another method gives 405 with the allowed
 * methods.
 *
 * Each route names who may call it: the roles (any one of them; admin
 * may call everything; 0: open to all) and its brand scope, checked here
 * before the handler runs, so the rule is in this one table. The key's
 * rate limit is counted by the same authentication (429 with
 * Retry-After), so every route that takes a key, and only those, is
 * limited.
 *
 * The table also says when a route's handler may wait (enum route_wait),
 * which server/http.c asks before it runs a request on one of its own
 * threads. A request that waits only for a client absent from memory is
 * found out after its key is checked and counted; the second pass, on a
 * thread that may wait, reuses that check (req->admitted) instead of
 * counting the request twice, and only asks whether the key is still in
 * force (a revocation while the request queued refuses it).
 *-------------------------------------------------------------------------
 */
#include "api/router.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/events_import.h"
#include "api/handlers.h"
#include "api/json_body.h"
#include "api/service/service.h"

/* Which brands a request acts on, for a key scoped to some brands. */
enum brand_scope {
    SCOPE_NONE,       /* no brand (open routes, keys, erasure) */
    SCOPE_PATH_BRAND, /* the {brand} of the path: checked here */
    SCOPE_HANDLER,    /* brands named by items or the query: the handler
                         checks them with req->principal */
    SCOPE_ALL_BRANDS, /* data of every brand: only a key of ["*"] */
};

/* When a route's handler may wait (for PostgreSQL, a commit, the log),
 * so that the HTTP layer runs it off its own threads: bits, decided
 * before the key is checked (mz_api_may_wait) but for the client's, which
 * is looked at once the key is (mz_api_handle_here), so that a caller
 * without a key learns nothing of which clients are in memory. */
enum route_wait {
    RUNS_INLINE = 0,       /* memory only: answered on the HTTP thread */
    WAITS = 1u << 0,       /* always */
    WAITS_AFTER = 1u << 1, /* when the query names after=<position> */
    /* when the client named by the path's {client_id} (its first capture)
     * or by ?client_id= is not in memory and must be read back from
     * PostgreSQL (a bounded cache, api/service/client_cache.h) */
    WAITS_ABSENT_PATH_CLIENT = 1u << 2,
    WAITS_ABSENT_QUERY_CLIENT = 1u << 3,
};

#define OPEN        0u
#define ADMIN       MZ_ROLE_ADMIN
#define MERCH       MZ_ROLE_MERCHANDISING
#define CLIENTELING MZ_ROLE_CLIENTELING
#define INGEST      MZ_ROLE_INGEST
#define PRIVACY     MZ_ROLE_PRIVACY

struct route {
    const char *method;
    const char *pattern;
    const char *allow; /* every method of this pattern, for 405 */
    bool has_body;     /* requires a JSON body, or an NDJSON one when the
                          route streams (streamed_routes) */
    mz_handler_fn handler;
    unsigned roles; /* MZ_ROLE_*: any one may call; OPEN */
    enum brand_scope scope;
    unsigned waits; /* enum route_wait: when server/http.c runs it on its
                       wait pool */
};

/* The routes whose body is application/x-ndjson, read as it arrives
 * (server/http.c, mz_api_open_stream) by a stream instead of whole;
 * their handler reads a whole body through the same stream. */
static const struct {
    mz_handler_fn handler;
    mz_stream_open_fn open;
} streamed_routes[] = {
    {mz_handle_import_events, mz_events_import_open},
};

static const struct route routes[] = {
    {"GET", "/healthz", "GET", false, mz_handle_healthz, OPEN, SCOPE_NONE,
     RUNS_INLINE},
    {"GET", "/readyz", "GET", false, mz_handle_readyz, OPEN, SCOPE_NONE,
     RUNS_INLINE},
    {"PUT", "/v1/catalog/items", "GET, PUT", true, mz_handle_put_items, MERCH,
     SCOPE_HANDLER, WAITS},
    /* A scoped key lists only its brands; ?brand= outside them is 403. */
    {"GET", "/v1/catalog/items", "GET, PUT", false, mz_handle_list_items, MERCH,
     SCOPE_HANDLER, RUNS_INLINE},
    {"GET", "/v1/catalog/items/{item_id}", "GET, DELETE", false,
     mz_handle_get_item, MERCH, SCOPE_HANDLER, RUNS_INLINE},
    {"DELETE", "/v1/catalog/items/{item_id}", "GET, DELETE", false,
     mz_handle_delete_item, MERCH, SCOPE_HANDLER, WAITS},
    {"POST", "/v1/events", "POST", true, mz_handle_post_events,
     INGEST | CLIENTELING, SCOPE_HANDLER, WAITS},
    /* Lines are checked against the key's brands one by one, as in POST
     * /v1/events. */
    {"POST", "/v1/events:import", "POST", true, mz_handle_import_events,
     INGEST | CLIENTELING, SCOPE_HANDLER, RUNS_INLINE},
    {"GET", "/v1/clients/{client_id}/recommendations", "GET", false,
     mz_handle_recommendations, CLIENTELING, SCOPE_HANDLER,
     WAITS_AFTER | WAITS_ABSENT_PATH_CLIENT},
    /* A product page's list: the item's brand and ?brand= must be in
     * the key's scope; without ?brand= a scoped key sees its brands. */
    {"GET", "/v1/items/{item_id}/similar", "GET", false, mz_handle_similar,
     CLIENTELING, SCOPE_HANDLER, WAITS_ABSENT_QUERY_CLIENT},
    {"GET", "/v1/brands/{brand}/popular", "GET", false, mz_handle_popular,
     CLIENTELING | MERCH, SCOPE_PATH_BRAND, RUNS_INLINE},
    {"GET", "/v1/clients/{client_id}/profile", "GET", false, mz_handle_profile,
     CLIENTELING, SCOPE_HANDLER, WAITS_AFTER | WAITS_ABSENT_PATH_CLIENT},
    {"DELETE", "/v1/clients/{client_id}", "DELETE", false,
     mz_handle_delete_client, PRIVACY, SCOPE_NONE, WAITS},
    /* Everything held about a client, of every brand. */
    {"GET", "/v1/clients/{client_id}/export", "GET", false, mz_handle_export,
     PRIVACY, SCOPE_ALL_BRANDS, WAITS},
    /* Attributes carry the consent too: privacy may set them. */
    {"PUT", "/v1/clients/{client_id}/attributes", "PUT", true,
     mz_handle_put_attributes, CLIENTELING | PRIVACY, SCOPE_NONE, WAITS},
    {"PUT", "/v1/brands/{brand}/rules", "GET, PUT", true, mz_handle_put_rules,
     MERCH, SCOPE_PATH_BRAND, WAITS},
    {"GET", "/v1/brands/{brand}/rules", "GET, PUT", false, mz_handle_get_rules,
     MERCH, SCOPE_PATH_BRAND, RUNS_INLINE},
    {"POST", "/v1/keys", "GET, POST", true, mz_handle_post_key, ADMIN,
     SCOPE_NONE, WAITS},
    {"GET", "/v1/keys", "GET, POST", false, mz_handle_get_keys, ADMIN,
     SCOPE_NONE, WAITS},
    {"DELETE", "/v1/keys/{key_id}", "DELETE", false, mz_handle_delete_key,
     ADMIN, SCOPE_NONE, WAITS},
    /* Every brand's changes: admin keys hold every brand. */
    {"GET", "/v1/audit", "GET", false, mz_handle_get_audit, ADMIN,
     SCOPE_ALL_BRANDS, WAITS},
};

#define N_ROUTES (sizeof routes / sizeof routes[0])

/* Returns the stream opener of r, or NULL when r reads its body whole. */
static mz_stream_open_fn stream_opener(const struct route *r)
{
    for (size_t i = 0; i < sizeof streamed_routes / sizeof streamed_routes[0];
         i++)
        if (streamed_routes[i].handler == r->handler)
            return streamed_routes[i].open;
    return NULL;
}

/* More segments than any pattern has. */
#define MZ_PATH_MAX_SEGMENTS 8

/* ---- percent-decoding ------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7F;
}

/* Decodes len bytes of raw into out (room for len bytes), '+' as a space
 * when plus_is_space (query strings). Returns the decoded length, or -1
 * for a malformed escape or a control character, sent raw or escaped. */
static long percent_decode(const char *raw, size_t len, bool plus_is_space,
                           char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];

        if (c == '%') {
            int hi = len - i >= 3 ? hex_value(raw[i + 1]) : -1;
            int lo = len - i >= 3 ? hex_value(raw[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (is_control(c))
            return -1;
        out[n++] = (char)c;
    }
    return (long)n;
}

/* ---- the path --------------------------------------------------------- */

/* A path split at '/' into decoded, NUL-terminated segments. */
struct path {
    char text[MZ_MAX_URL_BYTES + 1];
    const char *seg[MZ_PATH_MAX_SEGMENTS];
    int count; /* -1: no route can match (see decode_path) */
};

/* Fills p from raw. Returns false when a segment is malformed (a bad
 * escape or a control character). A path that cannot match any route
 * (not starting with '/', longer than MZ_MAX_URL_BYTES, more segments
 * than any pattern) is not an error: p->count is -1. */
static bool decode_path(const char *raw, struct path *p)
{
    size_t len = strlen(raw), used = 0;
    const char *s = raw + 1;

    p->count = -1;
    if (raw[0] != '/' || len > MZ_MAX_URL_BYTES) {
        /* Still refuse what must be refused, whatever the route. */
        for (size_t i = 0; i < len; i++)
            if (is_control((unsigned char)raw[i]))
                return false;
        return true;
    }
    p->count = 0;
    for (;;) {
        const char *end = strchr(s, '/');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        long decoded = percent_decode(s, n, false, p->text + used);

        if (decoded < 0)
            return false;
        if (p->count < MZ_PATH_MAX_SEGMENTS)
            p->seg[p->count] = p->text + used;
        p->count++;
        used += (size_t)decoded;
        p->text[used++] = '\0';
        if (!end)
            break;
        s = end + 1;
    }
    if (p->count > MZ_PATH_MAX_SEGMENTS)
        p->count = -1;
    return true;
}

/* Returns whether the decoded path p matches pattern; params[] gets the
 * captured segments (borrowed from p). */
static bool match_pattern(const char *pattern, const struct path *p,
                          const char **params)
{
    const char *pat = pattern + 1;
    int i = 0, n_params = 0;

    for (int c = 0; c < MZ_MAX_PATH_PARAMS; c++)
        params[c] = NULL;
    for (;;) {
        const char *end = strchr(pat, '/');
        size_t n = end ? (size_t)(end - pat) : strlen(pat);

        if (i >= p->count)
            return false;
        const char *seg = p->seg[i];
        if (pat[0] == '{') {
            if (seg[0] == '\0' || n_params >= MZ_MAX_PATH_PARAMS)
                return false;
            params[n_params++] = seg;
        } else if (strlen(seg) != n || memcmp(seg, pat, n) != 0) {
            return false;
        }
        i++;
        if (!end)
            break;
        pat = end + 1;
    }
    return i == p->count;
}

/* ---- the query -------------------------------------------------------- */

/* The decoded arguments "key\0value\0key\0value\0...", in order. An
 * argument without '=' has no value and is left out, as if absent. */
struct query {
    char text[MZ_MAX_URL_BYTES + 2];
    size_t len;
};

/* Fills q from raw (NULL: no query). Returns false for a malformed
 * escape or a control character. The decoded text is never longer than
 * raw plus one byte, hence the size of q->text. */
static bool decode_query(const char *raw, struct query *q)
{
    q->len = 0;
    if (!raw)
        return true;
    if (strlen(raw) > MZ_MAX_URL_BYTES)
        return false;
    while (*raw) {
        size_t n = strcspn(raw, "&");
        const char *eq = memchr(raw, '=', n);

        if (eq) {
            size_t key_len = (size_t)(eq - raw);
            long k = percent_decode(raw, key_len, true, q->text + q->len);
            long v = k < 0 ? -1
                           : percent_decode(eq + 1, n - key_len - 1, true,
                                            q->text + q->len + (size_t)k + 1);
            if (v < 0)
                return false;
            q->text[q->len + (size_t)k] = '\0';
            q->len += (size_t)k + 1 + (size_t)v;
            q->text[q->len++] = '\0';
        } else if (percent_decode(raw, n, true, q->text + q->len) < 0) {
            return false;
        }
        raw += n;
        if (*raw == '&')
            raw++;
    }
    return true;
}

/* The query callback of struct mz_request: the first value of key. */
static const char *query_lookup(void *ctx, const char *key)
{
    const struct query *q = ctx;
    size_t i = 0;

    while (i < q->len) {
        const char *k = q->text + i;
        const char *v = k + strlen(k) + 1;

        if (strcmp(k, key) == 0)
            return v;
        i = (size_t)(v - q->text) + strlen(v) + 1;
    }
    return NULL;
}

/* ---- dispatch --------------------------------------------------------- */

const char *mz_api_route_of(const char *path)
{
    struct path p;
    const char *params[MZ_MAX_PATH_PARAMS];

    if (!decode_path(path, &p))
        return "unmatched";
    for (size_t i = 0; i < N_ROUTES; i++)
        if (match_pattern(routes[i].pattern, &p, params))
            return routes[i].pattern;
    return "unmatched";
}

/* Whether raw_query (as sent) has an argument named name, undecoded. */
static bool names_argument(const char *raw_query, const char *name)
{
    size_t len = strlen(name);

    for (const char *at = raw_query; at; at = strchr(at, '&')) {
        if (*at == '&')
            at++;
        if (strncmp(at, name, len) == 0 &&
            (at[len] == '=' || at[len] == '&' || at[len] == '\0'))
            return true;
    }
    return false;
}

bool mz_api_may_wait(const char *method, const char *path,
                     const char *raw_query)
{
    struct path p;
    const char *params[MZ_MAX_PATH_PARAMS];

    if (!decode_path(path, &p))
        return false;
    for (size_t i = 0; i < N_ROUTES; i++) {
        const struct route *r = &routes[i];
        if (strcmp(r->method, method) != 0 ||
            !match_pattern(r->pattern, &p, params))
            continue;
        return (r->waits & WAITS) || ((r->waits & WAITS_AFTER) && raw_query &&
                                      names_argument(raw_query, "after"));
    }
    return false;
}

/* Accepts media_type (e.g. "application/json") with optional
 * parameters, any case. */
static bool is_content_type(const char *content_type, const char *media_type)
{
    if (!content_type)
        return false;
    while (*content_type == ' ')
        content_type++;
    size_t n = strlen(media_type);
    if (strncasecmp(content_type, media_type, n) != 0)
        return false;
    char next = content_type[n];
    return next == '\0' || next == ';' || next == ' ';
}

/* Whether principal holds one of roles (admin holds them all); false
 * with resp set to 403. */
static bool holds_role(const struct mz_principal *principal, unsigned roles,
                       struct mz_response *resp)
{
    if (principal->roles & (roles | MZ_ROLE_ADMIN))
        return true;
    mz_response_error(resp, MZ_ERR_FORBIDDEN,
                      "key %s lacks the role for this route",
                      principal->key_id);
    return false;
}

/* Fills resp with the 401 of a missing, unknown or revoked key; returns
 * false. */
static bool refuse_unauthorized(struct mz_response *resp)
{
    resp->www_authenticate = "Bearer";
    mz_response_error(resp, MZ_ERR_UNAUTHORIZED,
                      "a valid API key is required "
                      "(Authorization: Bearer <key>)");
    return false;
}

bool mz_api_authorize(struct mz_service *svc, const char *authorization,
                      unsigned roles, struct mz_principal *principal,
                      struct mz_response *resp)
{
    struct mz_rate_refusal refusal;
    enum mz_status st =
        mz_service_authenticate(svc, authorization, principal, &refusal);
    if (st == MZ_ERR_RATE_LIMITED) {
        resp->retry_after_s = refusal.retry_after_s;
        mz_response_error(resp, st,
                          "key %s is over its rate limit of %g requests/s "
                          "(burst %d); retry after %d s",
                          principal->key_id, refusal.requests_per_s,
                          refusal.burst, refusal.retry_after_s);
        return false;
    }
    if (st != MZ_OK)
        return refuse_unauthorized(resp);
    return holds_role(principal, roles, resp);
}

bool mz_api_scope_brands(const struct mz_request *req, const char *brand,
                         const char **out, const char *const **brands,
                         size_t *n_brands, struct mz_response *resp)
{
    const struct mz_principal *scope = req->principal;

    *brands = NULL;
    *n_brands = 0;
    if (!scope || scope->all_brands)
        return true;
    if (brand && !mz_principal_allows_brand(scope, brand)) {
        mz_response_error(resp, MZ_ERR_FORBIDDEN,
                          "brand %s is outside this key's scope", brand);
        return false;
    }
    for (size_t i = 0; i < scope->n_brands; i++)
        out[i] = scope->brands[i];
    *brands = out;
    *n_brands = scope->n_brands;
    return true;
}

/* Checks req's key against route r (its roles and brand scope, the path
 * segments captured in params); fills resp and returns false when
 * refused. */
static bool authorize_route(struct mz_service *svc, const struct route *r,
                            const char *const *params,
                            const struct mz_request *req,
                            struct mz_principal *principal,
                            struct mz_response *resp)
{
    if (r->roles == OPEN)
        return true;
    if (req->admitted) {
        /* Authenticated, and counted, by the pass that handed it on; a
         * revocation while it queued for the pool still refuses it. */
        *principal = *req->admitted;
        if (!mz_service_key_in_force(svc, principal->key_id))
            return refuse_unauthorized(resp);
        if (!holds_role(principal, r->roles, resp))
            return false;
    } else if (!mz_api_authorize(svc, req->authorization, r->roles, principal,
                                 resp)) {
        return false;
    }
    if (r->scope == SCOPE_PATH_BRAND &&
        !mz_principal_allows_brand(principal, params[0])) {
        mz_response_error(resp, MZ_ERR_FORBIDDEN,
                          "key %s is not scoped to brand %s", principal->key_id,
                          params[0]);
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

/* What find_route decoded of a request; the router's stack holds it
 * while the handler runs. */
struct decoded {
    struct path path;
    struct query query;
    const char *params[MZ_MAX_PATH_PARAMS];
    struct mz_principal principal;
};

/* Decodes req and finds its route, checking the body's media type and
 * the caller's key as the route says. Returns true with req->query and
 * d filled, or false with resp the answer (400, 404, 405, 415, 401,
 * 403). *matched is the route of req's method and path, allowed or not
 * (NULL: none). */
static bool find_route(struct mz_service *svc, struct mz_request *req,
                       struct decoded *d, struct mz_response *resp,
                       const struct route **matched)
{
    const struct route *path_match = NULL;

    *matched = NULL;
    resp->route = "unmatched";
    if (!decode_path(req->path, &d->path)) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "path: a malformed %%-escape or a control "
                          "character");
        return false;
    }
    if (!decode_query(req->raw_query, &d->query)) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "query string: a malformed %%-escape or a "
                          "control character");
        return false;
    }
    req->query = query_lookup;
    req->query_ctx = &d->query;

    for (size_t i = 0; i < N_ROUTES; i++) {
        const struct route *r = &routes[i];
        if (!match_pattern(r->pattern, &d->path, d->params))
            continue;
        path_match = r;
        if (strcmp(r->method, req->method) != 0)
            continue;
        *matched = r;
        resp->route = r->pattern;
        /* 415 before the key: it tells nothing the API document does
         * not. */
        bool ndjson = stream_opener(r) != NULL;
        if (r->has_body && !ndjson &&
            !is_content_type(req->content_type, "application/json")) {
            mz_response_error(resp, MZ_ERR_UNSUPPORTED_MEDIA,
                              "Content-Type must be application/json");
            return false;
        }
        if (r->has_body && ndjson &&
            !is_content_type(req->content_type, "application/x-ndjson")) {
            mz_response_error(resp, MZ_ERR_UNSUPPORTED_MEDIA,
                              "Content-Type must be application/x-ndjson "
                              "(one JSON event per line)");
            return false;
        }
        if (!authorize_route(svc, r, d->params, req, &d->principal, resp))
            return false;
        return true;
    }
    if (path_match) {
        resp->route = path_match->pattern;
        resp->allow = path_match->allow;
        mz_response_error(resp, MZ_ERR_METHOD, "method %s not allowed on %s",
                          req->method, path_match->pattern);
        return false;
    }
    mz_response_error(resp, MZ_ERR_NOT_FOUND, "no route for %s", req->path);
    return false;
}

/* Sets what the route's code sees of d in req (NULL d: clears it). */
static void lend(struct mz_request *req, const struct route *r,
                 const struct decoded *d)
{
    for (int c = 0; c < MZ_MAX_PATH_PARAMS; c++)
        req->params[c] = d ? d->params[c] : NULL;
    req->principal = d && r->roles != OPEN ? &d->principal : NULL;
}

/* Opens r's stream for req (the router's checks passed). Returns it, or
 * NULL with resp set to 503. */
static struct mz_body_stream *open_stream(struct mz_service *svc,
                                          const struct route *r,
                                          struct mz_request *req,
                                          const struct decoded *d,
                                          struct mz_response *resp)
{
    lend(req, r, d);
    struct mz_body_stream *stream = stream_opener(r)(svc, req);
    lend(req, r, NULL);
    if (!stream)
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
    return stream;
}

bool mz_api_open_stream(struct mz_service *svc, struct mz_request *req,
                        struct mz_response *resp,
                        struct mz_body_stream **stream)
{
    struct decoded d;
    struct mz_response probe = {.http_status = 500};
    const struct route *r;

    *stream = NULL;
    /* Every request comes here first: decide cheaply, before the key is
     * checked (that is done once, by whichever call answers). */
    if (!decode_path(req->path, &d.path))
        return false;
    bool any = false;
    for (size_t i = 0; i < N_ROUTES && !any; i++)
        any = stream_opener(&routes[i]) &&
              strcmp(routes[i].method, req->method) == 0 &&
              match_pattern(routes[i].pattern, &d.path, d.params);
    if (!any)
        return false;
    bool allowed = find_route(svc, req, &d, &probe, &r);
    /* Only a streamed route is answered here: any other request, even
     * one refused, goes through mz_api_handle with its body. */
    bool streamed = r && stream_opener(r);
    if (streamed && allowed) {
        mz_response_clear(&probe);
        *stream = open_stream(svc, r, req, &d, resp);
    } else if (streamed) {
        *resp = probe;
    } else {
        mz_response_clear(&probe);
    }
    req->query = NULL; /* d's, gone at the return */
    req->query_ctx = NULL;
    return streamed;
}

void mz_api_handle(struct mz_service *svc, struct mz_request *req,
                   struct mz_response *resp)
{
    struct decoded d;
    const struct route *r;

    if (!find_route(svc, req, &d, resp, &r))
        return;
    lend(req, r, &d);
    r->handler(svc, req, resp);
    lend(req, r, NULL);
}

/* The client whose absence from memory makes r wait (NULL: none). */
static const char *client_to_read(const struct route *r, struct decoded *d)
{
    if (r->waits & WAITS_ABSENT_PATH_CLIENT)
        return d->params[0];
    if (r->waits & WAITS_ABSENT_QUERY_CLIENT)
        return query_lookup(&d->query, "client_id");
    return NULL;
}

bool mz_api_handle_here(struct mz_service *svc, struct mz_request *req,
                        struct mz_response *resp, struct mz_principal *admitted)
{
    struct decoded d;
    const struct route *r;

    if (!find_route(svc, req, &d, resp, &r))
        return true;
    const char *client_id = client_to_read(r, &d);
    if (client_id && mz_service_client_needs_store(svc, client_id)) {
        *admitted = d.principal;
        req->query = NULL; /* d's, gone at the return */
        req->query_ctx = NULL;
        return false;
    }
    lend(req, r, &d);
    r->handler(svc, req, resp);
    lend(req, r, NULL);
    return true;
}

bool mz_api_wait_after(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp)
{
    int64_t after = 0;
    if (!mz_query_int(req, "after", 0, INT64_MAX / 2, 0, &after, resp))
        return false;
    if (mz_service_wait_position(svc, after) == MZ_OK)
        return true;
    resp->retry_after_s = 1;
    mz_response_error(resp, MZ_ERR_NOT_CAUGHT_UP,
                      "this node has applied the log up to position %lld, "
                      "not yet %lld; retry, or ask another node",
                      (long long)mz_service_applied_position(svc),
                      (long long)after);
    return false;
}
