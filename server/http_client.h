/*-------------------------------------------------------------------------
 * http_client.h
 *    A blocking HTTP client for `maisond import` (libcurl): one
 *    keep-alive connection to a running maisond, the API key sent with
 *    every request, the body given whole or streamed from a callback,
 *    the answer read as JSON.
 *
 * TLS, redirects and proxies are libcurl's (an https:// URL works); the
 * key is never printed.
 *
 * Interface routines:
 *    mz_http_client_open  - a client for a base URL and a key
 *    mz_http_client_send  - one request, its status and JSON answer
 *    mz_http_client_close - free
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_HTTP_CLIENT_H
#define MZ_SERVER_HTTP_CLIENT_H

#include <jansson.h>
#include <stddef.h>

struct mz_http_client;

/* Fills buf (cap bytes) with the next bytes of a streamed body. Returns
 * how many, 0 at its end. */
typedef size_t (*mz_http_body_fn)(void *ctx, char *buf, size_t cap);

/* A request body: text (len bytes, borrowed) or, when stream is set,
 * what stream(ctx, ...) produces, sent chunked. */
struct mz_http_body {
    const char *content_type; /* static */
    const char *text;
    size_t len;
    mz_http_body_fn stream;
    void *ctx;
};

/* Returns a client for base_url ("http://host:port", borrowed, copied)
 * sending "Authorization: Bearer key" (copied), or NULL with the reason
 * in err. Caller closes. */
struct mz_http_client *mz_http_client_open(const char *base_url,
                                           const char *key, char *err,
                                           size_t err_len);

/* Sends method base_url+path with body (NULL: none) and waits for the
 * answer. Returns its HTTP status with *reply its body parsed as JSON
 * (caller decrefs; NULL when the body is not JSON), or -1 with the reason
 * in err when no answer came (connection refused or cut, ...). */
int mz_http_client_send(struct mz_http_client *c, const char *method,
                        const char *path, const struct mz_http_body *body,
                        json_t **reply, char *err, size_t err_len);

/* Frees c; accepts NULL. */
void mz_http_client_close(struct mz_http_client *c);

#endif
