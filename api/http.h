/*-------------------------------------------------------------------------
 * http.h
 *    The request and response of one API call, independent of the HTTP
 *    library: server/http.c fills a struct mz_request from libmicrohttpd
 *    and sends the struct mz_response back.
 *
 * Interface routines:
 *    mz_response_json   - a JSON body (steals the reference)
 *    mz_response_json_text - a JSON body written as text (takes it)
 *    mz_response_error  - the JSON error body for a status
 *    mz_response_empty  - no body (204)
 *    mz_response_clear  - release the body
 *    struct mz_body_stream - a body read as it arrives (streamed routes)
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_HTTP_H
#define MZ_API_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/status.h"

#define MZ_MAX_BODY_BYTES (1024 * 1024)
/* The longest request target (path and query) served; server/http.c
 * answers 414 beyond it. */
#define MZ_MAX_URL_BYTES   8192
#define MZ_MAX_PATH_PARAMS 2

struct mz_principal; /* api/service/service.h */

/* Looks up a query-string argument; NULL when absent. */
typedef const char *(*mz_query_fn)(void *ctx, const char *key);

struct mz_request {
    const char *method;        /* borrowed: "GET", ... */
    const char *path;          /* borrowed, as sent: not decoded */
    const char *raw_query;     /* borrowed: after '?', as sent; NULL
                                  when the target has no '?' */
    const char *content_type;  /* borrowed; NULL when absent */
    const char *authorization; /* borrowed Authorization header; NULL
                                  when absent */
    const char *body;          /* borrowed; NULL when empty */
    size_t body_len;
    mz_query_fn query; /* decoded arguments of raw_query; set
                          by the router */
    void *query_ctx;
    const char *params[MZ_MAX_PATH_PARAMS]; /* path captures, decoded,
                                               set by the router,
                                               borrowed */
    const struct mz_principal *principal;   /* the caller's key, set by the
                                               router; NULL on open routes */
    const struct mz_principal *admitted;    /* borrowed: the key a first
                                               pass checked and counted
                                               (mz_api_handle_here), used
                                               instead of authorization;
                                               NULL: check authorization */
};

struct mz_response {
    int http_status;
    char *body; /* owned (malloc); NULL for no body */
    size_t body_len;
    const char *content_type;     /* static string */
    const char *allow;            /* static; Allow header for 405, or NULL */
    const char *www_authenticate; /* static; WWW-Authenticate for 401 */
    int retry_after_s;            /* Retry-After (seconds) for 429; 0:
                                     none */
    const char *route;            /* static route pattern, for metrics */
};

/* A request body read as it arrives, for a route that streams it (POST
 * /v1/events:import): opened by mz_api_open_stream (api/router.h) once
 * the head is checked, fed the body in order, a batch submitted each
 * time one is due, finished once the body is complete, then freed. The
 * calls that may wait for the database (submit, finish) are kept apart
 * from feed, so that the HTTP layer runs them off its own threads. Each
 * implementation embeds it as its first member. */
struct mz_body_stream {
    /* Takes the next bytes of the body, up to len (borrowed for the
     * call): all of them, or fewer when a batch became due (batch_due),
     * which must be submitted before the rest is fed. Returns how many it
     * took; *progressed tells whether a line or record was completed,
     * which keeps its connection's body deadline moving. */
    size_t (*feed)(struct mz_body_stream *stream, const char *data,
                   size_t len, bool *progressed);
    /* Submits the batch due (may wait for its commit); clears batch_due. */
    void (*submit)(struct mz_body_stream *stream);
    /* The body is complete: submits what is left (may wait likewise) and
     * fills resp (caller clears) with the answer. */
    void (*finish)(struct mz_body_stream *stream, struct mz_response *resp);
    /* Frees the stream, finished or not. */
    void (*free)(struct mz_body_stream *stream);
    bool batch_due; /* set by feed: call submit before feeding more */
};

/* Sets resp to status with body serialised from json, stealing the
 * reference to json. Falls back to a 500 error body if serialisation
 * fails. */
void mz_response_json(struct mz_response *resp, int http_status, json_t *json);

/* Sets a JSON body already written as text (takes ownership of text, len
 * bytes; NULL: out of memory, answered with the fallback error). */
void mz_response_json_text(struct mz_response *resp, int http_status,
                           char *text, size_t len);

/* Sets resp to mz_status_http(status) and the body
 * {"error":{"code":mz_status_code(status),"message":...}} with message
 * printf-formatted (both from model/status.h). */
void mz_response_error(struct mz_response *resp, enum mz_status status,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets resp to http_status with no body. */
void mz_response_empty(struct mz_response *resp, int http_status);

/* Frees the body; accepts a zeroed response. */
void mz_response_clear(struct mz_response *resp);

#endif
