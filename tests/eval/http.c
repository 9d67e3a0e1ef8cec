/*-------------------------------------------------------------------------
 * http.c
 *    --url mode: the same protocols, replayed through a running maisond
 *    over its public API, so that what is measured is what is served
 *    (HTTP, validation, the event log, the applier, rules, top-k).
 *
 * A minimal HTTP/1.1 client on a plain socket with keep-alive: one
 * connection, requests in sequence, bodies with Content-Length (chunked
 * responses are also read). Every request is idempotent (event ids are
 * derived from the file position, catalog PUT is an upsert), so after a
 * dropped keep-alive connection a request is retried once on a new one.
 *
 * The last-item exclusion: the brand rule "exclude_purchased" makes the
 * server drop purchased items itself; the client's other history items
 * (views, ...) are dropped here, client-side, after asking for
 * k = 20 + their number (at most the API's 100: a case that would need
 * more is counted and reported as truncated).
 *-------------------------------------------------------------------------
 */
#include "tests/eval/eval.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH              1000 /* items or events per request */
#define API_MAX_K          100  /* the API's bound on k */
#define EVAL_BRAND         "b"  /* the brand of every item we put */
#define MAX_RESPONSE_BYTES (64u << 20)

struct http_conn {
    char host[256];
    char port[16];
    int fd;    /* -1 when not connected */
    char *buf; /* owned: received, not yet consumed */
    size_t buf_len, buf_cap;
};

struct http_response {
    int status;
    char *body; /* owned, NUL-terminated */
    size_t body_len;
};

static bool parse_url(const char *url, struct http_conn *conn, char *err,
                      size_t err_len)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    size_t host_len = strcspn(p, ":/");
    if (host_len == 0 || host_len >= sizeof(conn->host)) {
        snprintf(err, err_len, "bad url '%s' (want http://HOST:PORT)", url);
        return false;
    }
    memcpy(conn->host, p, host_len);
    conn->host[host_len] = '\0';
    p += host_len;
    snprintf(conn->port, sizeof(conn->port), "80");
    if (*p == ':') {
        size_t port_len = strcspn(p + 1, "/");
        if (port_len == 0 || port_len >= sizeof(conn->port)) {
            snprintf(err, err_len, "bad port in url '%s'", url);
            return false;
        }
        memcpy(conn->port, p + 1, port_len);
        conn->port[port_len] = '\0';
    }
    conn->fd = -1;
    return true;
}

static void http_close(struct http_conn *conn)
{
    if (conn->fd >= 0)
        close(conn->fd);
    conn->fd = -1;
    conn->buf_len = 0;
    if (conn->buf)
        conn->buf[0] = '\0';
}

static bool http_connect(struct http_conn *conn, char *err, size_t err_len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(conn->host, conn->port, &hints, &res);

    if (rc != 0) {
        snprintf(err, err_len, "%s:%s: %s", conn->host, conn->port,
                 gai_strerror(rc));
        return false;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            int one = 1;
            /* Small requests in sequence: do not wait for Nagle. */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            conn->fd = fd;
            break;
        }
        close(fd);
    }
    freeaddrinfo(res);
    if (conn->fd < 0) {
        snprintf(err, err_len, "connect %s:%s: %s", conn->host, conn->port,
                 strerror(errno));
        return false;
    }
    return true;
}

static bool send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads more bytes into conn->buf; false on EOF or error. */
static bool fill(struct http_conn *conn)
{
    if (conn->buf_cap - conn->buf_len < 65536) {
        size_t cap = conn->buf_cap ? conn->buf_cap * 2 : 131072;
        if (cap > MAX_RESPONSE_BYTES)
            return false;
        char *grown = realloc(conn->buf, cap);
        if (!grown)
            return false;
        conn->buf = grown;
        conn->buf_cap = cap;
    }
    for (;;) {
        ssize_t n = recv(conn->fd, conn->buf + conn->buf_len,
                         conn->buf_cap - conn->buf_len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        conn->buf_len += (size_t)n;
        conn->buf[conn->buf_len] = '\0';
        return true;
    }
}

static void consume(struct http_conn *conn, size_t n)
{
    memmove(conn->buf, conn->buf + n, conn->buf_len - n);
    conn->buf_len -= n;
    conn->buf[conn->buf_len] = '\0'; /* the parsers below use strstr */
}

/* Reads one response (status line, headers, body) from conn. */
static bool read_response(struct http_conn *conn, struct http_response *resp)
{
    char *end;
    while (!conn->buf || !(end = strstr(conn->buf, "\r\n\r\n")))
        if (!fill(conn))
            return false;
    size_t head_len = (size_t)(end - conn->buf) + 4;
    long content_length = -1;
    bool chunked = false, close_after = false;

    if (sscanf(conn->buf, "HTTP/1.%*d %d", &resp->status) != 1)
        return false;
    /* Header names are case-insensitive; scan line by line. */
    for (char *line = strstr(conn->buf, "\r\n") + 2; line < end;
         line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            content_length = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
            chunked = strstr(line, "chunked") != NULL;
        else if (strncasecmp(line, "Connection:", 11) == 0)
            close_after = strncasecmp(line + 11 + strspn(line + 11, " "),
                                      "close", 5) == 0;
    }
    consume(conn, head_len);
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    if (chunked) {
        size_t cap = 0;
        for (;;) {
            char *crlf;
            while (!(crlf = strstr(conn->buf, "\r\n")))
                if (!fill(conn))
                    return false;
            size_t size = strtoul(conn->buf, NULL, 16);
            size_t line_len = (size_t)(crlf - conn->buf) + 2;
            while (conn->buf_len < line_len + size + 2)
                if (!fill(conn))
                    return false;
            if (size == 0) {
                consume(conn, line_len + 2);
                break;
            }
            if (resp->body_len + size + 1 > cap) {
                cap = (resp->body_len + size + 1) * 2;
                char *grown = realloc(resp->body, cap);
                if (!grown)
                    return false;
                resp->body = grown;
            }
            memcpy(resp->body + resp->body_len, conn->buf + line_len, size);
            resp->body_len += size;
            resp->body[resp->body_len] = '\0';
            consume(conn, line_len + size + 2);
        }
    } else if (content_length >= 0) {
        while (conn->buf_len < (size_t)content_length)
            if (!fill(conn))
                return false;
        resp->body = malloc((size_t)content_length + 1);
        if (!resp->body)
            return false;
        memcpy(resp->body, conn->buf, (size_t)content_length);
        resp->body[content_length] = '\0';
        resp->body_len = (size_t)content_length;
        consume(conn, (size_t)content_length);
    } else {
        return false; /* a body delimited by close: not from maisond */
    }
    if (close_after)
        http_close(conn);
    return true;
}

/* Sends one request and reads its response into *resp (body owned by
 * resp, freed by the next call or the caller). Retries once on a new
 * connection when a kept-alive one turns out closed. */
static bool http_request(struct http_conn *conn, const char *method,
                         const char *path, const char *body,
                         struct http_response *resp, char *err, size_t err_len)
{
    size_t body_len = body ? strlen(body) : 0;
    char head[1024];
    int head_len = snprintf(head, sizeof(head),
                            "%s %s HTTP/1.1\r\nHost: %s:%s\r\n"
                            "Connection: keep-alive\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n",
                            method, path, conn->host, conn->port, body_len);
    if (head_len < 0 || (size_t)head_len >= sizeof(head)) {
        snprintf(err, err_len, "path too long: %s", path);
        return false;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (conn->fd < 0 && !http_connect(conn, err, err_len))
            return false;
        if (send_all(conn->fd, head, (size_t)head_len) &&
            (!body || send_all(conn->fd, body, body_len)) &&
            read_response(conn, resp))
            return true;
        http_close(conn);
    }
    snprintf(err, err_len, "%s %s: connection failed or bad response", method,
             path);
    return false;
}

/* Sends a JSON body; true when the answer is 200 and parses as JSON into
 * *out (new reference; NULL allowed to ignore it). */
static bool request_json(struct http_conn *conn, const char *method,
                         const char *path, json_t *body, json_t **out,
                         char *err, size_t err_len)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct http_response resp = {0};
    bool ok = false;

    if (body && !text) {
        snprintf(err, err_len, "out of memory");
        return false;
    }
    if (!http_request(conn, method, path, text, &resp, err, err_len))
        goto cleanup;
    if (resp.status != 200) {
        snprintf(err, err_len, "%s %s: HTTP %d: %.300s", method, path,
                 resp.status, resp.body ? resp.body : "");
        goto cleanup;
    }
    if (out) {
        json_error_t jerr;
        *out = json_loadb(resp.body, resp.body_len, 0, &jerr);
        if (!*out) {
            snprintf(err, err_len, "%s %s: bad JSON: %s", method, path,
                     jerr.text);
            goto cleanup;
        }
    }
    ok = true;
cleanup:
    free(resp.body);
    free(text);
    return ok;
}

static bool put_catalog(struct http_conn *conn, const struct mz_eval_data *data,
                        char *err, size_t err_len)
{
    int32_t n_items = mz_intern_count(data->items);
    for (int32_t start = 0; start < n_items; start += BATCH) {
        json_t *items = json_array();
        json_t *body = json_pack("{s:o}", "items", items);
        bool ok = body != NULL;
        for (int32_t i = start; ok && i < n_items && i < start + BATCH; i++)
            ok = json_array_append_new(items, mz_eval_item_json(data, i)) == 0;
        if (ok)
            ok = request_json(conn, "PUT", "/v1/catalog/items", body, NULL, err,
                              err_len);
        else
            snprintf(err, err_len, "out of memory");
        json_decref(body);
        if (!ok)
            return false;
    }
    return true;
}

/* Events waiting to be posted, in order. */
struct pending {
    json_t *events;  /* owned array */
    bool data_clock; /* send the data's ts, not the time of
                        posting */
    size_t accepted, duplicates, rejected;
    double seconds; /* spent posting */
};

static bool pending_add(struct pending *p, const struct mz_eval_data *data,
                        const struct mz_eval_event *ev, const char *id_prefix,
                        size_t index)
{
    char event_id[128];
    snprintf(event_id, sizeof(event_id), "%s-%s-%zu", data->name, id_prefix,
             index);
    /* maisond scores at its wall-clock time, so an event stamped with the
     * data's (synthetic, decades-old) ts looks ages old to every query and
     * its levels and session decay to nothing. Stamping each event with
     * the time it is posted keeps the offline semantics of the protocols:
     * the query comes right after the events before it. */
    int64_t ts = p->data_clock ? ev->ts : (int64_t)time(NULL);
    return json_array_append_new(
               p->events,
               json_pack("{s:s, s:s, s:s, s:s, s:I}", "event_id", event_id,
                         "client_id", mz_intern_name(data->clients, ev->client),
                         "item_id", mz_intern_name(data->items, ev->item),
                         "type", mz_event_type_name(ev->type), "ts",
                         (json_int_t)ts)) == 0;
}

static bool pending_flush(struct pending *p, struct http_conn *conn, char *err,
                          size_t err_len)
{
    json_t *reply = NULL;
    if (json_array_size(p->events) == 0)
        return true;
    json_t *body = json_pack("{s:O}", "events", p->events);
    double t = mz_eval_now();
    bool ok = body && request_json(conn, "POST", "/v1/events", body, &reply,
                                   err, err_len);
    p->seconds += mz_eval_now() - t;
    if (ok) {
        p->accepted +=
            (size_t)json_integer_value(json_object_get(reply, "accepted"));
        p->duplicates +=
            (size_t)json_integer_value(json_object_get(reply, "duplicates"));
        p->rejected += json_array_size(json_object_get(reply, "rejected"));
        json_array_clear(p->events);
    }
    json_decref(reply);
    json_decref(body);
    return ok;
}

/* Appends the percent-encoded id to path (room for path_len bytes). */
static void path_escape(char *path, size_t path_len, const char *id)
{
    size_t n = strlen(path);
    for (; *id && n + 4 < path_len; id++) {
        unsigned char ch = (unsigned char)*id;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-_.~", ch))
            path[n++] = (char)ch;
        else
            n += (size_t)snprintf(path + n, path_len - n, "%%%02X", ch);
    }
    path[n] = '\0';
}

/* Asks maisond for client's top k (with the brand's rules when
 * with_brand) and returns the 1-based rank of target among the first
 * MZ_EVAL_TOPK items not in exclude[0..n_exclude-1], or 0; -1 on
 * failure. */
static int remote_rank(struct http_conn *conn, const struct mz_eval_data *data,
                       int32_t client, size_t k, bool with_brand,
                       const int32_t *exclude, size_t n_exclude, int32_t target,
                       char *err, size_t err_len)
{
    char path[1024] = "/v1/clients/";
    json_t *reply = NULL;
    int rank = -1;

    path_escape(path, sizeof(path) - 32, mz_intern_name(data->clients, client));
    snprintf(path + strlen(path), sizeof(path) - strlen(path),
             "/recommendations?k=%zu%s", k,
             with_brand ? "&brand=" EVAL_BRAND : "");
    if (!request_json(conn, "GET", path, NULL, &reply, err, err_len))
        goto cleanup;
    json_t *items = json_object_get(reply, "items");
    size_t index;
    json_t *entry;
    int kept = 0;
    rank = 0;
    json_array_foreach(items, index, entry)
    {
        const char *id = json_string_value(json_object_get(entry, "item_id"));
        int32_t item = id ? mz_intern_find(data->items, id) : -1;
        bool excluded = false;
        for (size_t x = 0; x < n_exclude && !excluded; x++)
            excluded = exclude[x] == item;
        if (excluded)
            continue;
        if (++kept > MZ_EVAL_TOPK)
            break;
        if (item == target) {
            rank = kept;
            break;
        }
    }
cleanup:
    json_decref(reply);
    return rank;
}

bool mz_eval_http_run(const char *url, const struct mz_eval_data *data,
                      bool last_item, const struct mz_eval_options *opt,
                      struct mz_eval_result *res, char *err, size_t err_len)
{
    double t0 = mz_eval_now();
    int32_t n_clients = mz_intern_count(data->clients);
    struct http_conn conn = {.fd = -1};
    struct pending pend = {0};
    uint32_t *hist_count = NULL, *hist_cap = NULL;
    uint32_t *not_purchased = NULL; /* per client: history items the
                                       server's rule does not exclude */
    size_t truncated = 0;
    int32_t **hist = NULL;
    uint8_t *in_session = NULL;
    bool ok = false;

    memset(res, 0, sizeof(*res));
    res->method = "maisond";
    if (opt->frozen) {
        snprintf(err, err_len,
                 "--frozen cannot apply to a server, which "
                 "always learns from the events it accepts");
        return false;
    }
    pend.events = json_array();
    pend.data_clock = opt->data_clock;
    hist_count = calloc((size_t)n_clients, sizeof(*hist_count));
    hist_cap = calloc((size_t)n_clients, sizeof(*hist_cap));
    hist = calloc((size_t)n_clients, sizeof(*hist));
    not_purchased = calloc((size_t)n_clients, sizeof(*not_purchased));
    in_session = calloc((size_t)n_clients, 1);
    if (!pend.events || !hist_count || !hist_cap || !hist || !in_session ||
        !not_purchased) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    if (!parse_url(url, &conn, err, err_len) ||
        !put_catalog(&conn, data, err, err_len))
        goto cleanup;
    if (opt->progress)
        fprintf(stderr, "catalog: %d items put\n",
                mz_intern_count(data->items));
    if (last_item) {
        json_t *rules =
            json_pack("{s:{s:b}}", "exclude_purchased", "enabled", 1);
        bool put = rules &&
                   request_json(&conn, "PUT", "/v1/brands/" EVAL_BRAND "/rules",
                                rules, NULL, err, err_len);
        json_decref(rules);
        if (!put)
            goto cleanup;
    }
    for (size_t e = 0; e < data->n_train; e++) {
        const struct mz_eval_event *ev = &data->train[e];
        if (!pending_add(&pend, data, ev, "train", e))
            goto nomem;
        if (last_item) {
            int32_t c = ev->client;
            if (hist_count[c] == hist_cap[c]) {
                uint32_t cap = hist_cap[c] ? hist_cap[c] * 2 : 8;
                int32_t *grown = realloc(hist[c], cap * sizeof(*grown));
                if (!grown)
                    goto nomem;
                hist[c] = grown;
                hist_cap[c] = cap;
            }
            hist[c][hist_count[c]++] = ev->item;
            not_purchased[c] += ev->type != MZ_EV_PURCHASE;
        }
        if (json_array_size(pend.events) == BATCH || e + 1 == data->n_train) {
            if (!pending_flush(&pend, &conn, err, err_len))
                goto cleanup;
            if (opt->progress &&
                ((e + 1) % (64 * BATCH) == 0 || e + 1 == data->n_train))
                fprintf(stderr, "\r%-20s %-6s %9zu / %-9zu", "maisond", "train",
                        e + 1, data->n_train);
        }
    }
    if (opt->progress)
        fprintf(stderr, "\ntrain: %zu events posted in %.1f s (%.0f/s)\n",
                data->n_train, pend.seconds,
                pend.seconds > 0 ? (double)data->n_train / pend.seconds : 0);
    for (size_t e = 0; e < data->n_test; e++) {
        const struct mz_eval_event *ev = &data->test[e];
        bool is_case = last_item || in_session[ev->client];
        if (is_case) {
            /* The server must have learned everything before this event:
             * it answers POST only after applying, so flush first. */
            if (!pending_flush(&pend, &conn, err, err_len))
                goto cleanup;
            int rank;
            if (last_item) {
                size_t k = MZ_EVAL_TOPK + not_purchased[ev->client];
                if (k > API_MAX_K) {
                    k = API_MAX_K;
                    truncated++;
                }
                rank = remote_rank(&conn, data, ev->client, k, true,
                                   hist[ev->client], hist_count[ev->client],
                                   ev->item, err, err_len);
            } else {
                rank = remote_rank(&conn, data, ev->client, MZ_EVAL_TOPK, false,
                                   NULL, 0, ev->item, err, err_len);
            }
            if (rank < 0)
                goto cleanup;
            mz_eval_add_case(res, rank);
            if (opt->progress && res->cases % 256 == 0)
                fprintf(stderr, "\r%-20s %-6s %9zu cases", "maisond", "test",
                        res->cases);
            if (opt->limit_cases && res->cases >= opt->limit_cases)
                break;
        }
        in_session[ev->client] = 1;
        if (!pending_add(&pend, data, ev, "test", e))
            goto nomem;
        if (json_array_size(pend.events) == BATCH &&
            !pending_flush(&pend, &conn, err, err_len))
            goto cleanup;
    }
    if (!pending_flush(&pend, &conn, err, err_len))
        goto cleanup;
    if (opt->progress)
        fprintf(stderr,
                "\nevents: %zu accepted, %zu duplicates, %zu rejected"
                "\n",
                pend.accepted, pend.duplicates, pend.rejected);
    if (truncated)
        fprintf(stderr,
                "maison-eval: warning: %zu cases needed k > %d to "
                "exclude the history client-side; ranked within k = %d\n",
                truncated, API_MAX_K, API_MAX_K);
    /* Learning throughput over HTTP: events per second spent posting
     * (validation, the log commit and the applier included). */
    mz_eval_finish_result(res, pend.accepted + pend.duplicates, pend.seconds,
                          t0);
    ok = true;
    goto cleanup;
nomem:
    snprintf(err, err_len, "out of memory");
cleanup:
    if (hist) {
        for (int32_t c = 0; c < n_clients; c++)
            free(hist[c]);
    }
    free(hist);
    free(not_purchased);
    free(hist_cap);
    free(hist_count);
    free(in_session);
    json_decref(pend.events);
    http_close(&conn);
    free(conn.buf);
    return ok;
}
