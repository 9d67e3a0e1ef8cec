/*-------------------------------------------------------------------------
 * router.h
 *    The static route table of the API: method + path pattern -> handler.
 *
 * mz_api_handle is the single entry of the API layer: it matches the
 * route (404 / 405 with Allow), checks the Content-Type of bodies (415)
 * and the caller's key against the roles and brand scope the route names
 * (401 / 403), and calls the handler, which fills the response. Which
 * requests may wait, so that server/http.c runs them off its own threads,
 * is decided here too: from the method, path and query before the key is
 * read (mz_api_may_wait), and, for the routes that read a client back
 * from PostgreSQL when it is not in memory, once the key is checked
 * (mz_api_handle_here).
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_ROUTER_H
#define MZ_API_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "api/http.h"

struct mz_service;
struct mz_principal;
struct mz_body_stream;

/* Handles req against svc (borrowed) and fills resp (caller clears it):
 * decodes req->path segment by segment and req->raw_query (400 for a
 * malformed escape or a control character), sets req->query, matches the
 * route. Never fails: every problem becomes an error response. */
void mz_api_handle(struct mz_service *svc, struct mz_request *req,
                   struct mz_response *resp);

/* As mz_api_handle, on a thread that must not wait for the database
 * (server/http.c's own): when the route would read its client back from
 * PostgreSQL (one not in memory), answers nothing and returns false with
 * *admitted the caller's key, checked for the route and counted against
 * its rate limit, so that the caller runs mz_api_handle on a thread that
 * may wait with req->admitted pointing at it. Returns true when resp is
 * the answer. */
bool mz_api_handle_here(struct mz_service *svc, struct mz_request *req,
                        struct mz_response *resp,
                        struct mz_principal *admitted);

/* For a request whose head is complete and whose body is not read yet
 * (req->body NULL): when its route streams its body (POST
 * /v1/events:import), decodes and checks it as mz_api_handle does and
 * returns true, with *stream the open stream (caller feeds it the body,
 * finishes and frees it; it keeps no pointer into req) or, when refused,
 * *stream NULL and resp the answer to send without reading the body.
 * Returns false, resp untouched, for every other request: read its body
 * whole and call mz_api_handle. */
bool mz_api_open_stream(struct mz_service *svc, struct mz_request *req,
                        struct mz_response *resp,
                        struct mz_body_stream **stream);

/* Returns the static route pattern path (as sent, not decoded) matches,
 * for metrics labels, or "unmatched". */
const char *mz_api_route_of(const char *path);

/* Whether the handler of method and path (as sent) may wait, for
 * PostgreSQL, a commit or a log position (raw_query: after '?', as sent;
 * NULL: none), so that the caller runs it off the threads that serve
 * other connections. Unmatched and malformed requests do not wait (they
 * are answered at once); a request that waits only when its client is
 * not in memory is not counted here but by mz_api_handle_here. */
bool mz_api_may_wait(const char *method, const char *path,
                     const char *raw_query);

/* Authenticates authorization (an Authorization header value, borrowed;
 * NULL when absent), counts the request against the key's rate limit and
 * checks that the key holds one of roles (admin holds them all). Returns
 * true with *principal filled, or false with resp set to 401 (with
 * WWW-Authenticate), 429 (with Retry-After) or 403. For routes outside
 * the table, such as /metrics, too. */
bool mz_api_authorize(struct mz_service *svc, const char *authorization,
                      unsigned roles, struct mz_principal *principal,
                      struct mz_response *resp);

/* The brand scope of a request to a route whose handler checks it: for
 * a key scoped to some brands, refuses (403 in resp, false) a brand
 * (NULL: none asked for) outside them and points *brands at their names
 * (copied as pointers into out, room for MZ_KEY_MAX_BRANDS; borrowed
 * from req->principal), *n_brands their count; any other key leaves
 * *brands NULL (every brand). */
bool mz_api_scope_brands(const struct mz_request *req, const char *brand,
                         const char **out, const char *const **brands,
                         size_t *n_brands, struct mz_response *resp);

/* Read your writes: the optional query argument after=<position> (a
 * position a reply gave, e.g. POST /v1/events'), waited for (bounded) on
 * this node. Returns true when there is none or it is applied; otherwise
 * fills resp (400 for a bad value, 503 not_caught_up with Retry-After)
 * and returns false. */
bool mz_api_wait_after(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp);

#endif
