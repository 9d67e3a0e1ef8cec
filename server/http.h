/*-------------------------------------------------------------------------
 * http.h
 *    The HTTP daemon (libmicrohttpd): reads each request's body with a
 *    hard cap, hands it to the API, sends the answer, logs one JSON line
 *    and counts it in the metrics.
 *
 * Interface routines:
 *    mz_http_start - listen and serve on a thread pool
 *    mz_http_stop  - stop accepting, answer the requests already read,
 *                    close
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_HTTP_H
#define MZ_SERVER_HTTP_H

#include <stddef.h>

struct mz_service;
struct mz_metrics;
struct mz_http;
struct mz_tls_credentials; /* server/tls.h */

struct mz_http_options {
    const char *host; /* borrowed: an IPv4 address, or
                         "localhost" */
    int port;
    int threads;                /* worker threads */
    int request_slice_us;       /* their CPU slice (server/thread_slice.h);
                                   0: the kernel's default */
    int max_connections;        /* open at once, in all */
    int max_connections_per_ip; /* open at once from one address; 0: any */
    int header_timeout_s;       /* a new connection's first request head
                                   must be complete within it */
    const struct mz_tls_credentials *tls; /* borrowed, must outlive the
                                             server; NULL: plain HTTP */
};

/* Starts serving opt->host:opt->port, HTTPS when opt->tls is set (opt
 * is read during the call, the credentials it points to are kept). svc
 * and metrics are borrowed and must outlive the server. Returns NULL with
 * the reason in err. */
struct mz_http *mz_http_start(const struct mz_http_options *opt,
                              struct mz_service *svc,
                              struct mz_metrics *metrics, char *err,
                              size_t err_len);

/* Stops accepting (new connections are refused), waits up to 10 s until
 * every request already read has been answered, closes every
 * connection, frees; accepts NULL. */
void mz_http_stop(struct mz_http *http);

#endif
