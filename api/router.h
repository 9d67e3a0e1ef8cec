/*-------------------------------------------------------------------------
 * router.h
 *    The static route table of the API: method + path pattern -> handler.
 *
 * mz_api_handle is the single entry of the API layer: it matches the
 * route (404 / 405 with Allow), checks the Content-Type of bodies (415),
 * and calls the handler, which fills the response.
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_ROUTER_H
#define MZ_API_ROUTER_H

#include "api/http.h"

struct mz_service;

/* Handles req against svc (borrowed) and fills resp (caller clears it):
 * decodes req->path segment by segment and req->raw_query (400 for a
 * malformed escape or a control character), sets req->query, matches the
 * route. Never fails: every problem becomes an error response. */
void mz_api_handle(struct mz_service *svc, struct mz_request *req,
                   struct mz_response *resp);

/* Returns the static route pattern path (as sent, not decoded) matches,
 * for metrics labels, or "unmatched". */
const char *mz_api_route_of(const char *path);

#endif
