/*-------------------------------------------------------------------------
 * metrics.c
 *    maison_* metrics in the Prometheus text format.
 *
 * Series are few (routes x methods x statuses), so they live in a small
 * array under one mutex; a request costs a short linear scan.
 *-------------------------------------------------------------------------
 */
#include "server/metrics.h"

#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/service/service.h"
#include "model/log.h"

#define MAX_SERIES 256
#define MAX_ROUTES 32

static const double bucket_bounds_s[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
#define N_BUCKETS (sizeof bucket_bounds_s / sizeof bucket_bounds_s[0])

struct request_series {
    const char *route; /* static */
    char method[8];
    int status;
    unsigned long long count;
};

struct latency_series {
    const char *route;                     /* static */
    unsigned long long buckets[N_BUCKETS]; /* cumulative at render */
    unsigned long long count;
    double sum_s;
};

struct mz_metrics {
    pthread_mutex_t mutex;
    struct request_series requests[MAX_SERIES];
    size_t n_requests;
    struct latency_series latency[MAX_ROUTES];
    size_t n_latency;
};

struct mz_metrics *mz_metrics_new(void)
{
    struct mz_metrics *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->mutex, NULL);
    return m;
}

void mz_metrics_free(struct mz_metrics *metrics)
{
    if (!metrics)
        return;
    pthread_mutex_destroy(&metrics->mutex);
    free(metrics);
}

/* Methods are labels: anything unusual is folded into "OTHER" so hostile
 * clients cannot grow the series. */
static const char *method_label(const char *method)
{
    static const char *const known[] = {"GET",  "PUT",   "POST",   "DELETE",
                                        "HEAD", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(method, known[i]) == 0)
            return known[i];
    return "OTHER";
}

void mz_metrics_observe_request(struct mz_metrics *m, const char *route,
                                const char *method, int http_status,
                                double seconds)
{
    const char *label = method_label(method);
    pthread_mutex_lock(&m->mutex);
    struct request_series *rs = NULL;
    for (size_t i = 0; i < m->n_requests && !rs; i++)
        if (m->requests[i].route == route &&
            m->requests[i].status == http_status &&
            strcmp(m->requests[i].method, label) == 0)
            rs = &m->requests[i];
    if (!rs && m->n_requests < MAX_SERIES) {
        rs = &m->requests[m->n_requests++];
        rs->route = route;
        snprintf(rs->method, sizeof rs->method, "%s", label);
        rs->status = http_status;
    }
    if (rs)
        rs->count++;
    struct latency_series *ls = NULL;
    for (size_t i = 0; i < m->n_latency && !ls; i++)
        if (m->latency[i].route == route)
            ls = &m->latency[i];
    if (!ls && m->n_latency < MAX_ROUTES) {
        ls = &m->latency[m->n_latency++];
        ls->route = route;
    }
    if (ls) {
        for (size_t b = 0; b < N_BUCKETS; b++) {
            if (seconds <= bucket_bounds_s[b]) {
                ls->buckets[b]++;
                break;
            }
        }
        ls->count++;
        ls->sum_s += seconds;
    }
    pthread_mutex_unlock(&m->mutex);
}

/* A growing text buffer; a failed allocation is remembered. */
struct text {
    char *data;
    size_t len, cap;
    int failed;
};

static void append(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void append(struct text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n + 1;
        char *grown = realloc(t->data, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
}

static void render_http(struct mz_metrics *m, struct text *t)
{
    append(t,
           "# HELP maison_http_requests_total HTTP requests by route, "
           "method and status.\n# TYPE maison_http_requests_total counter\n");
    pthread_mutex_lock(&m->mutex);
    for (size_t i = 0; i < m->n_requests; i++) {
        const struct request_series *rs = &m->requests[i];
        append(t,
               "maison_http_requests_total{route=\"%s\",method=\"%s\","
               "status=\"%d\"} %llu\n",
               rs->route, rs->method, rs->status, rs->count);
    }
    append(t, "# HELP maison_http_request_duration_seconds Time to answer a "
              "request, by route.\n"
              "# TYPE maison_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n_latency; i++) {
        const struct latency_series *ls = &m->latency[i];
        unsigned long long cumulative = 0;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cumulative += ls->buckets[b];
            append(t,
                   "maison_http_request_duration_seconds_bucket{route=\"%s\","
                   "le=\"%g\"} %llu\n",
                   ls->route, bucket_bounds_s[b], cumulative);
        }
        append(
            t,
            "maison_http_request_duration_seconds_bucket{route=\"%s\","
            "le=\"+Inf\"} %llu\n"
            "maison_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
            "maison_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
            ls->route, ls->count, ls->route, ls->sum_s, ls->route, ls->count);
    }
    pthread_mutex_unlock(&m->mutex);
}

/* mz_service_list_keys's reply: one series per live key, so the label's
 * values are bounded by the keys that exist (key ids are not secret). */
static enum mz_status render_key(void *ctx, const struct mz_key_view *keys,
                                 size_t n)
{
    struct text *t = ctx;
    append(t, "# HELP maison_rate_limited_total Requests answered 429 for "
              "their key's rate limit, by live key, since this process "
              "started.\n# TYPE maison_rate_limited_total counter\n");
    for (size_t i = 0; i < n; i++)
        append(t, "maison_rate_limited_total{key_id=\"%s\"} %llu\n",
               keys[i].key_id, (unsigned long long)keys[i].rate_limited);
    return t->failed ? MZ_ERR_NOMEM : MZ_OK;
}

static void render_one(struct text *t, const char *name, const char *type,
                       const char *help, double value)
{
    append(t, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type,
           name, value);
}

#ifdef __SANITIZE_ADDRESS__
/* AddressSanitizer's allocator replaces glibc's (whose mallinfo2 then
 * reads 0); it keeps its own count. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* What the process holds from malloc, over every arena: with a thread
 * pool, freed memory of one arena often takes new allocations, so the RSS
 * moves less than the heap grows. */
static size_t heap_allocated_bytes(void)
{
#ifdef __SANITIZE_ADDRESS__
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 heap = mallinfo2();
    return heap.uordblks + heap.hblkhd;
#endif
}

char *mz_metrics_render(struct mz_metrics *m, struct mz_service *svc,
                        size_t *len)
{
    struct text t = {.data = malloc(8192), .cap = 8192};
    if (!t.data)
        return NULL;
    t.data[0] = '\0';
    render_http(m, &t);
    if (mz_service_list_keys(svc, render_key, &t) != MZ_OK)
        t.failed = 1;
    struct mz_service_stats stats;
    mz_service_stats(svc, &stats);
    render_one(&t, "maison_events_accepted_total", "counter",
               "Events committed to the log.", (double)stats.events_accepted);
    render_one(&t, "maison_events_duplicate_total", "counter",
               "Events whose event_id was already in the log.",
               (double)stats.events_duplicate);
    render_one(&t, "maison_events_rejected_total", "counter",
               "Events refused by validation.", (double)stats.events_rejected);
    render_one(&t, "maison_events_learned_total", "counter",
               "Events applied to the clients' memory levels.",
               (double)stats.events_learned);
    render_one(&t, "maison_consolidations_total", "counter",
               "Consolidations of slow client levels.",
               (double)stats.consolidations);
    render_one(&t, "maison_checkpoints_total", "counter",
               "Checkpoints of learned state written.",
               (double)stats.checkpoints);
    render_one(&t, "maison_checkpoint_errors_total", "counter",
               "Checkpoints that failed (retried at the next interval).",
               (double)stats.checkpoint_errors);
    render_one(&t, "maison_db_errors_total", "counter",
               "Database operations that failed.",
               (double)stats.db_errors + (double)stats.writer.errors);
    render_one(&t, "maison_db_flush_lag_seconds", "gauge",
               "Age of the learned state not yet checkpointed.",
               stats.flush_lag_s);
    render_one(&t, "maison_db_commits_total", "counter",
               "Event-log transactions committed (group commits).",
               (double)stats.writer.commits);
    render_one(&t, "maison_db_last_commit_seconds", "gauge",
               "Duration of the last event-log transaction.",
               stats.writer.last_commit_ms / 1000.0);
    render_one(&t, "maison_event_log_seq", "gauge",
               "Last log position learned.", (double)stats.applied_seq);
    render_one(&t, "maison_log_applied_position", "gauge",
               "Log position this node has applied: every row up to it "
               "(its own and other nodes' events, every change) is in "
               "force here.",
               (double)stats.writer.applied_seq);
    render_one(&t, "maison_log_lag_events", "gauge",
               "Rows of the log not yet applied here, as of the last read "
               "of the log.",
               (double)(stats.writer.head_seq > stats.writer.applied_seq
                            ? stats.writer.head_seq - stats.writer.applied_seq
                            : 0));
    render_one(&t, "maison_log_rows_followed_total", "counter",
               "Rows read from the log rather than submitted here: other "
               "nodes' events and every change marker.",
               (double)stats.writer.rows_followed);
    render_one(&t, "maison_log_rows_dropped_total", "counter",
               "Rows of the event log dropped by --retention-days.",
               (double)stats.log_rows_dropped);
    render_one(&t, "maison_checkpoint_log_seq", "gauge",
               "Log position of the last checkpoint: a restart replays "
               "the log after it.",
               (double)stats.checkpoint_seq);
    render_one(&t, "maison_clients_in_memory", "gauge",
               "Clients whose state is in memory.",
               (double)stats.clients_in_memory);
    render_one(&t, "maison_clients_max", "gauge",
               "Clients kept in memory under --memory-limit (0: no limit).",
               (double)stats.max_clients);
    render_one(&t, "maison_clients_evicted_total", "counter",
               "Clean clients dropped from memory (their state is in "
               "PostgreSQL).",
               (double)stats.clients_evicted);
    render_one(&t, "maison_clients_loaded_total", "counter",
               "Clients read back from PostgreSQL when next used.",
               (double)stats.clients_loaded);
    render_one(&t, "maison_client_state_bytes", "gauge",
               "Resident bytes of one client's learned levels.",
               (double)stats.client_bytes);
    render_one(&t, "maison_catalog_items", "gauge", "Live catalog items.",
               (double)stats.items);
    render_one(&t, "maison_heap_allocated_bytes", "gauge",
               "Bytes malloc has handed out and not had back (glibc "
               "mallinfo2: in-use chunks and mmapped blocks, all arenas).",
               (double)heap_allocated_bytes());
    render_one(&t, "maison_stderr_lines_dropped_total", "counter",
               "Debug and info lines of maisond's own log dropped because "
               "its writer thread fell a megabyte behind (warnings and "
               "errors are never dropped).",
               (double)mz_log_lines_dropped());
    if (t.failed) {
        free(t.data);
        return NULL;
    }
    *len = t.len;
    return t.data;
}
