/*-------------------------------------------------------------------------
 * handlers.h
 *    One handler per route, grouped one file per resource:
 *    api/health.c, api/catalog.c, api/events.c, api/recommendations.c,
 *    api/clients.c, api/rules.c, api/keys.c, api/discover.c, api/audit.c.
 *    All borrow svc and req and fill resp; a handler turns the request
 *    into one service call (api/service/) and its result into JSON.
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_HANDLERS_H
#define MZ_API_HANDLERS_H

#include "api/http.h"

struct mz_service;

typedef void (*mz_handler_fn)(struct mz_service *svc,
                              const struct mz_request *req,
                              struct mz_response *resp);
/* A streamed route's opener (api/events_import.h): returns the stream
 * for req (caller frees), or NULL when out of memory. */
typedef struct mz_body_stream *(*mz_stream_open_fn)(
    struct mz_service *svc, const struct mz_request *req);

void mz_handle_healthz(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp);
void mz_handle_readyz(struct mz_service *svc, const struct mz_request *req,
                      struct mz_response *resp);
void mz_handle_put_items(struct mz_service *svc, const struct mz_request *req,
                         struct mz_response *resp);
void mz_handle_list_items(struct mz_service *svc, const struct mz_request *req,
                          struct mz_response *resp);
void mz_handle_get_item(struct mz_service *svc, const struct mz_request *req,
                        struct mz_response *resp);
void mz_handle_delete_item(struct mz_service *svc, const struct mz_request *req,
                           struct mz_response *resp);
void mz_handle_post_events(struct mz_service *svc, const struct mz_request *req,
                           struct mz_response *resp);
/* POST /v1/events:import with its body read whole (api/events_import.c;
 * server/http.c streams it through mz_events_import_open instead). */
void mz_handle_import_events(struct mz_service *svc,
                             const struct mz_request *req,
                             struct mz_response *resp);
void mz_handle_recommendations(struct mz_service *svc,
                               const struct mz_request *req,
                               struct mz_response *resp);
void mz_handle_similar(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp);
void mz_handle_popular(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp);
void mz_handle_profile(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp);
void mz_handle_export(struct mz_service *svc, const struct mz_request *req,
                      struct mz_response *resp);
void mz_handle_get_audit(struct mz_service *svc, const struct mz_request *req,
                         struct mz_response *resp);
void mz_handle_delete_client(struct mz_service *svc,
                             const struct mz_request *req,
                             struct mz_response *resp);
void mz_handle_put_attributes(struct mz_service *svc,
                              const struct mz_request *req,
                              struct mz_response *resp);
void mz_handle_put_rules(struct mz_service *svc, const struct mz_request *req,
                         struct mz_response *resp);
void mz_handle_get_rules(struct mz_service *svc, const struct mz_request *req,
                         struct mz_response *resp);
void mz_handle_post_key(struct mz_service *svc, const struct mz_request *req,
                        struct mz_response *resp);
void mz_handle_get_keys(struct mz_service *svc, const struct mz_request *req,
                        struct mz_response *resp);
void mz_handle_delete_key(struct mz_service *svc, const struct mz_request *req,
                          struct mz_response *resp);

#endif
