/*-------------------------------------------------------------------------
 * http.c
 *    libmicrohttpd glue.
 *
 * The per-request context is created when the request line arrives (the
 * URI log callback, which also takes the query string away from
 * libmicrohttpd, see on_request_line) and freed in the completed
 * callback. The path reaches the router as sent: libmicrohttpd's
 * unescape callback is the identity, and api/router.c decodes segment by
 * segment.
 *
 * The first access-handler call sees the complete head: a head that
 * breaks a limit is answered there, before any of its body is read, and
 * the connection is closed. Otherwise the first call only returns
 * MHD_YES: queueing a response then made libmicrohttpd drop keep-alive,
 * 4x slower (measured with libmicrohttpd 0.9.75). Upload chunks are
 * appended up to MZ_MAX_BODY_BYTES; past that the rest is read and
 * discarded and the answer is 413. A route that streams its body (POST
 * /v1/events:import) is checked on that first call instead
 * (mz_api_open_stream: refused, it is answered there and the connection
 * closed) and each upload chunk goes to its stream as it arrives, in
 * bounded memory: no cap on the whole body, and every chunk that
 * completes a line moves the body deadline on.
 *
 * HTTPS is libmicrohttpd's own TLS (GnuTLS), which works with the
 * listener's hand-over: MHD_add_connection on a TLS daemon starts the
 * handshake on the socket it is given, so the listener's limits and
 * deadlines hold for HTTPS as they do for HTTP (a handshake that does
 * not finish counts against the header deadline). A client that speaks
 * plain HTTP to the HTTPS port fails the handshake and is closed
 * unanswered.
 *-------------------------------------------------------------------------
 */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/service/service.h"
#include "api/http.h"
#include "api/router.h"
#include "model/log.h"
#include "server/http_head.h"
#include "server/listener.h"
#include "server/metrics.h"
#include "server/thread_slice.h"
#include "server/tls.h"
#include "server/wait_pool.h"

/* libmicrohttpd's memory per connection: the request head, its header
 * records (64 bytes each) and the answer's head. The whole pool is
 * zeroed before each request of a keep-alive connection, so it costs
 * time as well as memory; heads beyond it get libmicrohttpd's own
 * (HTML) 414 or 431. */
#define MZ_HTTP_POOL_BYTES (64 * 1024)
/* The limits of a request head (server/http_head.h) sit well inside
 * it, so that a head over them reaches on_request and gets a JSON 431. */
/* libmicrohttpd's inactivity timeout, also the time a keep-alive
 * connection may take from one answer to the next request's complete
 * head, and a body from its head (server/listener.c). */
#define MZ_HTTP_IDLE_TIMEOUT_S 60
/* At a stop, how long the requests already read may take to be
 * answered. */
#define MZ_HTTP_DRAIN_MS 10000
/* Threads of the wait pool: requests that may wait at once. Their waits
 * are mostly for a group commit, which takes every waiting batch at
 * once, so more in flight means fewer, larger transactions; further
 * requests queue in order. */
#define MZ_HTTP_WAIT_THREADS 64

struct mz_http {
    struct MHD_Daemon *daemon;
    struct mz_listener *listener; /* owned */
    struct mz_service *svc;       /* borrowed */
    struct mz_metrics *metrics;   /* borrowed */
    struct mz_wait_pool *waits;   /* owned: requests that may wait */
    unsigned request_slice_us;    /* asked for by each worker thread */
    atomic_bool slice_refused;    /* logged once */
    atomic_bool draining;         /* stopping: close after each answer */
};

/* Where a request that may wait is (mz_api_may_wait). */
enum request_run {
    RUN_HERE,    /* answered on the libmicrohttpd thread */
    RUN_WAITING, /* on the wait pool, its connection suspended */
    RUN_DONE,    /* answered there: send it */
};

/* Created when the request line arrives (on_request_line), so that the
 * query string can be taken before libmicrohttpd parses it. */
struct request_ctx {
    bool seen;                     /* on_request was called (and the
                                      listener told) */
    int fd;                        /* the connection's socket */
    char *body;                    /* owned, NUL-terminated */
    struct mz_body_stream *stream; /* owned; NULL: the body is read whole */
    size_t body_len;
    size_t body_cap;
    bool too_large;
    bool target_too_long; /* path and query over MZ_MAX_URL_BYTES */
    struct timespec started;
    /* A request run on the wait pool: its job, what it needs there (the
     * pool never touches the connection but to resume it) and its
     * answer, set before the resume, which orders it before the
     * libmicrohttpd thread reads it. */
    enum request_run run;
    struct mz_wait_job job;
    struct mz_http *http;              /* borrowed */
    struct MHD_Connection *connection; /* borrowed */
    struct mz_request req;             /* borrows from connection, rc */
    struct mz_response resp;
    struct mz_principal *admitted; /* owned: the key checked here for a
                                      request handed on by
                                      mz_api_handle_here; NULL: none */
    const char *query; /* query_text, or NULL: no '?' */
    char query_text[]; /* as sent, not decoded */
};

static int socket_of(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* libmicrohttpd's URI log callback: the request line is complete, the
 * headers are not read yet. Creates the request's context with a copy of
 * the query string, then empties the query in libmicrohttpd's buffer, so
 * that libmicrohttpd 0.9.75 does not parse it: it stores every argument
 * as a record in the connection's memory pool and, when the pool runs out
 * (about 1,000 arguments in 64 KiB), overwrites the state of its own 431
 * answer and leaves the connection hanging until the timeout. The
 * arguments are decoded by the router instead (api/router.c). This relies
 * on 0.9.75 calling this callback after it found the '?' and before it
 * parses what follows, with uri pointing into its read buffer;
 * tests/integration/test_hostile_http.py pins it. */
static void *on_request_line(void *cls, const char *uri,
                             struct MHD_Connection *connection)
{
    (void)cls;
    (void)connection;
    char *mark = uri ? strchr(uri, '?') : NULL;
    bool too_long = uri && strlen(uri) > MZ_MAX_URL_BYTES;
    size_t query_len = mark && !too_long ? strlen(mark + 1) : 0;
    struct request_ctx *rc = calloc(1, sizeof *rc + query_len + 1);

    if (rc) {
        clock_gettime(CLOCK_MONOTONIC, &rc->started);
        rc->target_too_long = too_long;
        if (mark && !too_long) {
            memcpy(rc->query_text, mark + 1, query_len + 1);
            rc->query = rc->query_text;
        }
    }
    if (mark)
        mark[1] = '\0';
    return rc;
}

/* libmicrohttpd's unescape callback, for the path: leaves it as sent, so
 * that the router splits it before it decodes each segment. */
static size_t keep_escaped(void *cls, struct MHD_Connection *connection,
                           char *s)
{
    (void)cls;
    (void)connection;
    return strlen(s);
}

/* Appends data to the body, or marks the request too large. */
static bool append_body(struct request_ctx *rc, const char *data, size_t size)
{
    if (rc->too_large)
        return true;
    if (rc->body_len + size > MZ_MAX_BODY_BYTES) {
        rc->too_large = true;
        free(rc->body);
        rc->body = NULL;
        rc->body_len = rc->body_cap = 0;
        return true;
    }
    if (rc->body_len + size + 1 > rc->body_cap) {
        size_t cap = rc->body_cap ? rc->body_cap : 4096;
        while (cap < rc->body_len + size + 1)
            cap *= 2;
        char *grown = realloc(rc->body, cap);
        if (!grown)
            return false;
        rc->body = grown;
        rc->body_cap = cap;
    }
    memcpy(rc->body + rc->body_len, data, size);
    rc->body_len += size;
    rc->body[rc->body_len] = '\0';
    return true;
}

/* One line per request (model/log.h): what was asked, which route
 * answered, how, how fast, how much. */
static void log_request(const char *method, const char *path, const char *route,
                        int status, double seconds, size_t bytes)
{
    struct mz_log_line line;

    mz_log_begin(&line, MZ_LOG_INFO, "request");
    mz_log_str(&line, "method", method);
    mz_log_str(&line, "path", path);
    mz_log_str(&line, "route", route);
    mz_log_int(&line, "status", status);
    /* Microsecond resolution is all a request duration needs. */
    mz_log_double(&line, "duration_ms", round(seconds * 1e6) / 1e3);
    mz_log_int(&line, "bytes", (int64_t)bytes);
    mz_log_end(&line);
}

static const char *authorization(struct MHD_Connection *connection)
{
    return MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_AUTHORIZATION);
}

/* The request as the API layer sees it: the head, and the body read so
 * far (none yet on the first call). Borrows from connection and rc. */
static struct mz_request request_of(struct MHD_Connection *connection,
                                    const char *url, const char *method,
                                    const struct request_ctx *rc)
{
    return (struct mz_request){
        .method = method,
        .path = url,
        .content_type = MHD_lookup_connection_value(
            connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .authorization = authorization(connection),
        .raw_query = rc->query,
        .body = rc->body,
        .body_len = rc->body_len,
    };
}

static struct request_ctx *ctx_of(struct mz_wait_job *job)
{
    return (struct request_ctx *)((char *)job -
                                  offsetof(struct request_ctx, job));
}

/* The wait pool's job: the request's answer, then its connection back to
 * libmicrohttpd, which calls on_request again to send it. */
static void run_request(struct mz_wait_job *job)
{
    struct request_ctx *rc = ctx_of(job);

    mz_api_handle(rc->http->svc, &rc->req, &rc->resp);
    rc->run = RUN_DONE;
    MHD_resume_connection(rc->connection);
}

/* The wait pool's job for a streamed body: the batch due, then the
 * connection back, whose next call feeds the stream the rest. */
static void submit_stream_batch(struct mz_wait_job *job)
{
    struct request_ctx *rc = ctx_of(job);

    rc->stream->submit(rc->stream);
    MHD_resume_connection(rc->connection);
}

/* The same at the body's end: what is left of it, and the answer. */
static void finish_stream(struct mz_wait_job *job)
{
    struct request_ctx *rc = ctx_of(job);

    rc->stream->finish(rc->stream, &rc->resp);
    rc->run = RUN_DONE;
    MHD_resume_connection(rc->connection);
}

/* Suspends rc's connection and gives run, which resumes it, to the wait
 * pool. The suspension comes first: the pool may run it at once, and a
 * resume may come any time after a suspend, even before on_request has
 * returned. Returns false when the server is stopping (the pool has run
 * its last job): the caller runs it or resumes the connection itself. */
static bool run_on_pool(struct mz_http *http, struct MHD_Connection *connection,
                        struct request_ctx *rc,
                        void (*run)(struct mz_wait_job *job))
{
    rc->http = http;
    rc->connection = connection;
    rc->job.run = run;
    MHD_suspend_connection(connection);
    return mz_wait_pool_submit(http->waits, &rc->job);
}

/* Hands rc->req to the wait pool, which answers it. */
static void hand_to_pool(struct mz_http *http,
                         struct MHD_Connection *connection, const char *url,
                         struct request_ctx *rc)
{
    rc->resp = (struct mz_response){.http_status = 500};
    rc->run = RUN_WAITING;
    if (!run_on_pool(http, connection, rc, run_request)) {
        mz_response_error(&rc->resp, MZ_ERR_SHUTTING_DOWN,
                          "the server is stopping; retry on another node");
        rc->resp.route = mz_api_route_of(url);
        rc->run = RUN_DONE;
        MHD_resume_connection(connection);
    }
}

/* Feeds a streamed body's piece to its stream; a batch due goes to the
 * wait pool with the connection suspended, and what the stream did not
 * take yet comes back once it is submitted. At a stop the batch is
 * submitted here: its lines are read, and the import is answered. */
static void feed_stream(struct mz_http *http, struct MHD_Connection *connection,
                        struct request_ctx *rc, const char *data,
                        size_t *size)
{
    bool progressed;
    *size -= rc->stream->feed(rc->stream, data, *size, &progressed);
    if (progressed)
        mz_listener_request_progress(http->listener, rc->fd);
    if (rc->stream->batch_due &&
        !run_on_pool(http, connection, rc, submit_stream_batch))
        submit_stream_batch(&rc->job);
}

/* The body's end: the stream's last batch and its answer on the pool. */
static void end_stream(struct mz_http *http, struct MHD_Connection *connection,
                       const char *url, struct request_ctx *rc)
{
    rc->resp = (struct mz_response){.http_status = 500,
                                    .route = mz_api_route_of(url)};
    rc->run = RUN_WAITING;
    if (!run_on_pool(http, connection, rc, finish_stream))
        finish_stream(&rc->job);
}

/* Builds the answer for one complete request, or hands it to the wait
 * pool when its answer would read the database (mz_api_handle_here) and
 * returns false. */
static bool dispatch(struct mz_http *http, struct MHD_Connection *connection,
                     const char *url, const char *method,
                     struct request_ctx *rc, struct mz_response *resp)
{
    if (rc->too_large) {
        resp->route = mz_api_route_of(url);
        mz_response_error(resp, MZ_ERR_TOO_LARGE, "request body over %d bytes",
                          MZ_MAX_BODY_BYTES);
        return true;
    }
    if (strcmp(url, "/metrics") == 0) {
        resp->route = "/metrics";
        if (strcmp(method, "GET") != 0) {
            resp->allow = "GET";
            mz_response_error(resp, MZ_ERR_METHOD, "method %s not allowed",
                              method);
            return true;
        }
        struct mz_principal principal;
        if (!mz_api_authorize(http->svc, authorization(connection), MZ_ROLE_OPS,
                              &principal, resp))
            return true;
        size_t len = 0;
        char *text = mz_metrics_render(http->metrics, http->svc, &len);
        if (!text) {
            mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
            return true;
        }
        resp->http_status = 200;
        resp->body = text;
        resp->body_len = len;
        resp->content_type = "text/plain; version=0.0.4";
        return true;
    }
    struct mz_request req = request_of(connection, url, method, rc);
    struct mz_principal admitted;
    if (mz_api_handle_here(http->svc, &req, resp, &admitted))
        return true;
    rc->admitted = malloc(sizeof *rc->admitted);
    if (!rc->admitted) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        return true;
    }
    *rc->admitted = admitted;
    rc->req = req;
    rc->req.admitted = rc->admitted;
    hand_to_pool(http, connection, url, rc);
    return false;
}

/* close: ask libmicrohttpd to close the connection after the answer. */
static enum MHD_Result send_response(struct MHD_Connection *connection,
                                     struct mz_response *resp, bool close)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(
        resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
    if (!response)
        return MHD_NO;
    resp->body = NULL; /* now owned by libmicrohttpd */
    if (resp->content_type)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type);
    if (resp->allow)
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, resp->allow);
    if (resp->www_authenticate)
        MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                resp->www_authenticate);
    if (resp->retry_after_s > 0) {
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%d", resp->retry_after_s);
        MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    if (close)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret =
        MHD_queue_response(connection, (unsigned)resp->http_status, response);
    MHD_destroy_response(response);
    return ret;
}

/* Sends resp, then counts and logs the request. */
static enum MHD_Result answer(struct mz_http *http,
                              struct MHD_Connection *connection,
                              const char *url, const char *method,
                              struct request_ctx *rc, struct mz_response *resp,
                              bool close)
{
    size_t bytes = resp->body_len;
    int status = resp->http_status;
    const char *route = resp->route ? resp->route : "unmatched";
    enum MHD_Result ret = send_response(connection, resp, close);
    mz_response_clear(resp);
    double seconds = seconds_since(&rc->started);
    mz_metrics_observe_request(http->metrics, route, method, status, seconds);
    log_request(method, url, route, status, seconds, bytes);
    return ret;
}

/* When the complete request may wait (mz_api_may_wait), hands it to the
 * wait pool and returns true; false: answer it here. */
static bool run_waiting(struct mz_http *http, struct MHD_Connection *connection,
                        const char *url, const char *method,
                        struct request_ctx *rc)
{
    if (!mz_api_may_wait(method, url, rc->query))
        return false;
    rc->req = request_of(connection, url, method, rc);
    hand_to_pool(http, connection, url, rc);
    return true;
}

/* Asks, on the worker thread itself, for the short CPU slice of
 * thread_slice.h; a refusal is logged once. */
static void ask_for_slice(struct mz_http *http)
{
    if (mz_thread_request_slice(http->request_slice_us) ||
        atomic_exchange(&http->slice_refused, true))
        return;
    int refusal = errno;
    struct mz_log_line line;
    mz_log_begin(&line, MZ_LOG_WARNING,
                 "the kernel refused the HTTP threads' CPU slice");
    mz_log_int(&line, "request_slice_us", http->request_slice_us);
    mz_log_int(&line, "errno", refusal);
    mz_log_end(&line);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct mz_http *http = cls;
    struct request_ctx *rc = *con_cls;
    (void)version;
    ask_for_slice(http);
    if (!rc)
        return MHD_NO; /* out of memory when the request line came */
    if (!rc->seen) {
        struct mz_response resp = {.http_status = 500};

        rc->seen = true;
        rc->fd = socket_of(connection);
        mz_listener_request_started(http->listener, rc->fd);
        if (mz_http_refuse_head(connection, rc->target_too_long, &resp)) {
            mz_listener_request_read(http->listener, rc->fd);
            resp.route = mz_api_route_of(url);
            return answer(http, connection, url, method, rc, &resp, true);
        }
        struct mz_request head = request_of(connection, url, method, rc);
        if (mz_api_open_stream(http->svc, &head, &resp, &rc->stream) &&
            !rc->stream) {
            mz_listener_request_read(http->listener, rc->fd);
            return answer(http, connection, url, method, rc, &resp, true);
        }
        /* Nothing else here: answering a well-formed request on the
         * first call made libmicrohttpd drop keep-alive. */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (rc->stream) {
            feed_stream(http, connection, rc, upload_data, upload_data_size);
            return MHD_YES;
        }
        if (!append_body(rc, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rc->run == RUN_DONE)
        return answer(http, connection, url, method, rc, &rc->resp,
                      atomic_load(&http->draining));
    mz_listener_request_read(http->listener, rc->fd);
    if (!rc->too_large && !rc->stream &&
        run_waiting(http, connection, url, method, rc))
        return MHD_YES;
    if (rc->stream) {
        end_stream(http, connection, url, rc);
        return MHD_YES;
    }
    struct mz_response resp = {.http_status = 500};
    if (!dispatch(http, connection, url, method, rc, &resp))
        return MHD_YES; /* on the wait pool, like run_waiting's */
    return answer(http, connection, url, method, rc, &resp,
                  atomic_load(&http->draining));
}

/* libmicrohttpd's own messages (malformed requests, resource limits) as
 * log lines like every other line on stderr. */
static void log_mhd_message(void *cls, const char *fmt, va_list ap)
{
    char message[512];
    struct mz_log_line line;

    vsnprintf(message, sizeof message, fmt, ap);
    size_t len = strlen(message);
    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == '\r'))
        message[--len] = '\0';
    mz_log_begin(&line, MZ_LOG_WARNING, "http");
    mz_log_str(&line, "detail", message);
    mz_log_end(&line);
}

static void on_completed(void *cls, struct MHD_Connection *connection,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct mz_http *http = cls;
    struct request_ctx *rc = *con_cls;
    (void)connection;
    (void)toe;
    if (!rc)
        return;
    if (rc->seen)
        mz_listener_request_completed(http->listener, rc->fd);
    if (rc->stream)
        rc->stream->free(rc->stream);
    free(rc->admitted);
    free(rc->body);
    free(rc);
    *con_cls = NULL;
}

/* libmicrohttpd's connection notifications, for the listener. */
static void on_connection(void *cls, struct MHD_Connection *connection,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct mz_http *http = cls;
    (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        mz_listener_connection_started(http->listener, socket_of(connection));
    else
        mz_listener_connection_closed(http->listener, socket_of(connection));
}

/* The listener's hand-over: libmicrohttpd closes fd when it refuses. */
static bool hand_over(void *ctx, int fd, const struct sockaddr *addr,
                      socklen_t addr_len)
{
    struct mz_http *http = ctx;
    return MHD_add_connection(http->daemon, fd, addr, addr_len) == MHD_YES;
}

struct mz_http *mz_http_start(const struct mz_http_options *opt,
                              struct mz_service *svc,
                              struct mz_metrics *metrics, char *err,
                              size_t err_len)
{
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)opt->port)};
    const char *host = opt->host;
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                  &addr.sin_addr) != 1) {
        snprintf(err, err_len, "listen address %s is not an IPv4 address",
                 host);
        return NULL;
    }
    struct mz_http *http = calloc(1, sizeof *http);
    if (!http) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    const struct mz_listener_limits limits = {
        .max_connections = opt->max_connections,
        .max_connections_per_ip = opt->max_connections_per_ip,
        .header_timeout_s = opt->header_timeout_s,
        .idle_timeout_s = MZ_HTTP_IDLE_TIMEOUT_S,
        .body_timeout_s = MZ_HTTP_IDLE_TIMEOUT_S,
    };
    http->svc = svc;
    http->metrics = metrics;
    http->request_slice_us = (unsigned)opt->request_slice_us;
    atomic_init(&http->draining, false);
    atomic_init(&http->slice_refused, false);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET |
                     MHD_ALLOW_SUSPEND_RESUME;
    struct MHD_OptionItem tls_options[3] = {{MHD_OPTION_END, 0, NULL}};
    if (opt->tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, err_len, "this libmicrohttpd has no TLS");
            free(http);
            return NULL;
        }
        flags |= MHD_USE_TLS;
        tls_options[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                                 opt->tls->cert_pem};
        tls_options[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
                                                 opt->tls->key_pem};
        tls_options[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    }
    http->waits = mz_wait_pool_start(MZ_HTTP_WAIT_THREADS, err, err_len);
    if (!http->waits) {
        free(http);
        return NULL;
    }
    http->listener = mz_listener_open(&addr, &limits, err, err_len);
    if (!http->listener) {
        mz_wait_pool_free(http->waits);
        free(http);
        return NULL;
    }
    /* No listening socket of its own: the listener accepts (limits per
     * address, deadlines) and hands connections over, and a stop can
     * close the listening socket while requests finish (MHD_quiesce_daemon
     * races with an epoll worker in 0.9.75 and aborts the process:
     * "Failed to remove listen FD from epoll set"). The listener admits
     * at most max_connections; libmicrohttpd splits its own limit among
     * its threads by socket number, so it gets that many per thread and
     * never refuses first. */
    http->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, http,
        /* First, so every message of the daemon goes through it. */
        MHD_OPTION_EXTERNAL_LOGGER, log_mhd_message, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opt->threads,
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)opt->max_connections * (unsigned)opt->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MZ_HTTP_IDLE_TIMEOUT_S,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, http,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, http,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MZ_HTTP_POOL_BYTES,
        MHD_OPTION_ARRAY, tls_options, MHD_OPTION_END);
    if (!http->daemon) {
        snprintf(err, err_len, "cannot start the HTTP daemon");
        mz_listener_close(http->listener);
        mz_wait_pool_free(http->waits);
        free(http);
        return NULL;
    }
    if (!mz_listener_start(http->listener, hand_over, http, err, err_len)) {
        mz_wait_pool_stop(http->waits);
        MHD_stop_daemon(http->daemon);
        mz_listener_close(http->listener);
        mz_wait_pool_free(http->waits);
        free(http);
        return NULL;
    }
    return http;
}

void mz_http_stop(struct mz_http *http)
{
    if (!http)
        return;
    /* Stop accepting, let every request already read be answered (each
     * answer now closes its connection), then stop the wait pool and the
     * daemon, which closes the idle connections. */
    atomic_store(&http->draining, true);
    mz_listener_stop_accepting(http->listener);
    int in_flight = 0;
    if (!mz_listener_wait_idle(http->listener, MZ_HTTP_DRAIN_MS, &in_flight)) {
        struct mz_log_line line;

        mz_log_begin(&line, MZ_LOG_WARNING, "stopping with requests in flight");
        mz_log_int(&line, "requests", in_flight);
        mz_log_int(&line, "waited_ms", MZ_HTTP_DRAIN_MS);
        mz_log_end(&line);
    }
    /* The pool first: libmicrohttpd refuses to stop (it aborts) while a
     * connection is suspended, and every job resumes its own. */
    mz_wait_pool_stop(http->waits);
    MHD_stop_daemon(http->daemon);
    mz_listener_close(http->listener);
    mz_wait_pool_free(http->waits);
    free(http);
}
