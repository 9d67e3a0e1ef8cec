/*-------------------------------------------------------------------------
 * metrics.h
 *    Request counters and latency histograms, and the Prometheus text
 *    exposition of them plus the service's own figures.
 *
 * Interface routines:
 *    mz_metrics_new / _free
 *    mz_metrics_observe_request - one finished request
 *    mz_metrics_render          - the /metrics body
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_METRICS_H
#define MZ_SERVER_METRICS_H

#include <stddef.h>

struct mz_service;
struct mz_metrics;

struct mz_metrics *mz_metrics_new(void);
void mz_metrics_free(struct mz_metrics *metrics);

/* Counts one request; route is a static string (the route pattern),
 * method is copied if new. Thread-safe. */
void mz_metrics_observe_request(struct mz_metrics *metrics, const char *route,
                                const char *method, int http_status,
                                double seconds);

/* Returns the exposition text (malloc'd, caller frees) with its length in
 * *len, or NULL on allocation failure. svc is borrowed. */
char *mz_metrics_render(struct mz_metrics *metrics, struct mz_service *svc,
                        size_t *len);

#endif
