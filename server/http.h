/*-------------------------------------------------------------------------
 * http.h
 *    The HTTP daemon (libmicrohttpd): reads each request's body with a
 *    hard cap, hands it to the API, sends the answer, logs one JSON line
 *    and counts it in the metrics.
 *
 * Interface routines:
 *    mz_http_start - listen and serve on a thread pool
 *    mz_http_stop  - stop accepting, finish in-flight requests, close
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_HTTP_H
#define MZ_SERVER_HTTP_H

#include <stddef.h>

struct mz_service;
struct mz_metrics;
struct mz_http;

/* Starts serving host:port with threads workers. svc and metrics are
 * borrowed and must outlive the server. Returns NULL with the reason in
 * err. */
struct mz_http *mz_http_start(const char *host, int port, int threads,
                              int max_connections, struct mz_service *svc,
                              struct mz_metrics *metrics, char *err,
                              size_t err_len);

/* Stops accepting, lets requests in progress finish, frees; accepts
 * NULL. */
void mz_http_stop(struct mz_http *http);

#endif
