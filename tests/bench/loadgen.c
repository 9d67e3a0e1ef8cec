/*-------------------------------------------------------------------------
 * loadgen.c
 *    Open-loop HTTP/1.1 load generator for the Maison benchmarks.
 *
 * wrk runs closed loops (a connection sends its next request when the
 * previous answer arrives), so it measures maximum throughput but not the
 * latency a service shows at a given arrival rate. loadgen schedules
 * request i at t0 + i / rate whatever happens, spreads the requests over
 * a fixed set of keep-alive connections, and measures each latency from
 * the request's scheduled time, so a stall is charged to every request it
 * delays (no coordinated omission).
 *
 *    loadgen -p PORT -r RATE -d SECONDS [-c CONNS] [-n IDS] [-s SEED]
 *            [-o FILE] [-S SLICE_US] PATH
 *
 * PATH is a GET target; each "{}" in it is replaced by a random integer in
 * [0, IDS). -o writes every successful request's latency in microseconds
 * to FILE, one per line, in completion order (bench.py sorts them to pool
 * several runs). -S asks the kernel for a CPU slice of SLICE_US
 * microseconds (server/thread_slice.h, maisond's --request-slice-us): on
 * the bench's shared two cores the generator would otherwise wait for a
 * CPU behind the server's learner and PostgreSQL, and count that wait
 * as the server's; a client in production runs on another machine.
 * Connects to
 * 127.0.0.1 only. Prints one human line and one
 * machine line:
 *    loadgen: requests=N ok=N errors=N rate=R p50_ms=.. p99_ms=..
 *             p999_ms=.. max_ms=..
 * Exit status 0 when at least one request succeeded, 1 otherwise, 2 on a
 * usage error. Bounded: at most 600 s, 1,024 connections, 200,000 req/s.
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/thread_slice.h"

#define MAX_CONNS          1024
#define MAX_SECONDS        600
#define MAX_RATE           200000
#define RESPONSE_BUF_BYTES (256 * 1024)
#define REQUEST_BUF_BYTES  4096
#define DRAIN_SECONDS      5.0

struct conn {
    int fd;
    bool busy;          /* a request is outstanding */
    double scheduled_s; /* when the outstanding request was due */
    char *buf;          /* response bytes received so far */
    size_t len;
};

struct options {
    int port;
    double rate;
    double seconds;
    int conns;
    long ids;
    unsigned long seed;
    const char *path;
    const char *latency_file; /* NULL: none */
    const char *header;       /* one more request header line ("Name:
                                 value", e.g. the API key); NULL: none */
    int slice_us;             /* CPU slice to ask for; 0: the kernel's */
};

struct stats {
    uint32_t *latency_us; /* one per completed request */
    size_t n_latency;
    size_t cap_latency;
    long ok;
    long errors;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state;

/* xorshift64*: fast, good enough to pick ids. */
static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen -p PORT -r RATE -d SECONDS [-c CONNS] [-n IDS] "
            "[-s SEED] [-o FILE] [-H HEADER] [-S SLICE_US] PATH\n"
            "  open-loop GET load on 127.0.0.1:PORT; '{}' in PATH becomes a "
            "random id in [0, IDS)\n");
}

static bool parse_options(int argc, char **argv, struct options *o)
{
    int c;

    o->port = 0;
    o->rate = 0;
    o->seconds = 0;
    o->conns = 16;
    o->ids = 10000;
    o->seed = 1;
    o->path = NULL;
    o->latency_file = NULL;
    o->header = NULL;
    o->slice_us = 0;
    while ((c = getopt(argc, argv, "p:r:d:c:n:s:o:H:S:h")) != -1) {
        switch (c) {
        case 'p':
            o->port = atoi(optarg);
            break;
        case 'r':
            o->rate = atof(optarg);
            break;
        case 'd':
            o->seconds = atof(optarg);
            break;
        case 'c':
            o->conns = atoi(optarg);
            break;
        case 'n':
            o->ids = atol(optarg);
            break;
        case 's':
            o->seed = strtoul(optarg, NULL, 10);
            break;
        case 'o':
            o->latency_file = optarg;
            break;
        case 'H':
            o->header = optarg;
            break;
        case 'S':
            o->slice_us = atoi(optarg);
            break;
        default:
            return false;
        }
    }
    if (optind != argc - 1)
        return false;
    o->path = argv[optind];
    return o->port > 0 && o->port < 65536 && o->rate > 0 &&
           o->rate <= MAX_RATE && o->seconds > 0 && o->seconds <= MAX_SECONDS &&
           o->conns > 0 && o->conns <= MAX_CONNS && o->ids > 0 &&
           mz_thread_slice_valid(o->slice_us) &&
           o->path[0] == '/';
}

/* Connects a non-blocking socket to 127.0.0.1:port; -1 on failure. */
static int connect_local(int port)
{
    struct sockaddr_in addr;
    int fd, one = 1;

    /* Blocking connect (instant on loopback), then non-blocking I/O. */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool conn_open(struct conn *c, int epfd, int port)
{
    struct epoll_event ev;

    c->fd = connect_local(port);
    c->busy = false;
    c->len = 0;
    if (c->fd < 0)
        return false;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    return true;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd); /* closing removes it from the epoll set */
    c->fd = -1;
    c->busy = false;
    c->len = 0;
}

/* Writes the request for ids into buf; returns its length. */
static size_t format_request(char *buf, size_t cap, const struct options *o)
{
    char target[REQUEST_BUF_BYTES / 2];
    size_t t = 0;
    const char *p = o->path;
    int n;

    while (*p && t + 24 < sizeof target) {
        if (p[0] == '{' && p[1] == '}') {
            n = snprintf(target + t, sizeof target - t, "%ld",
                         (long)(rng_next() % (uint64_t)o->ids));
            t += (size_t)n;
            p += 2;
        } else {
            target[t++] = *p++;
        }
    }
    target[t] = '\0';
    n = snprintf(buf, cap,
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Connection: keep-alive\r\n%s%s\r\n",
                 target, o->port, o->header ? o->header : "",
                 o->header ? "\r\n" : "");
    return n < 0 ? 0 : (size_t)n;
}

/* Sends the whole request (small: fits the socket buffer of an idle
 * keep-alive connection). Returns false when the connection is broken. */
static bool send_all(int fd, const char *buf, size_t len)
{
    size_t off = 0;
    ssize_t n;
    int spins = 0;

    while (off < len) {
        n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
                   spins++ < 100000) {
            continue;
        } else {
            return false;
        }
    }
    return true;
}

/* Returns the total length of the first complete response in buf (>0),
 * 0 if more bytes are needed, -1 if it cannot be parsed. Sets *status. */
static long response_length(const char *buf, size_t len, int *status)
{
    const char *end, *p;
    long content_length = -1;

    if (len < 12)
        return 0;
    end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return len >= RESPONSE_BUF_BYTES ? -1 : 0;
    if (strncmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(buf + 9);
    for (p = buf; p < end; p++) {
        if ((p == buf || p[-1] == '\n') &&
            strncasecmp(p, "Content-Length:", 15) == 0) {
            content_length = strtol(p + 15, NULL, 10);
            break;
        }
    }
    if (content_length < 0)
        return -1; /* chunked or close-delimited: not used by us */
    if ((size_t)(end + 4 - buf) + (size_t)content_length > len)
        return 0;
    return (long)(end + 4 - buf) + content_length;
}

static void record(struct stats *st, double latency_s, bool ok)
{
    double us = latency_s > 0 ? latency_s * 1e6 : 0;

    if (!ok) {
        st->errors++;
        return;
    }
    st->ok++;
    if (st->n_latency < st->cap_latency)
        st->latency_us[st->n_latency++] = us > 4e9 ? UINT32_MAX : (uint32_t)us;
}

/* Reads what is available on c; completes its request when the whole
 * response is there. Returns false when the connection must be reopened. */
static bool conn_read(struct conn *c, struct stats *st, double now)
{
    ssize_t n;
    long total;
    int status = 0;
    bool closed = false;

    /* Read everything available; a response may arrive together with the
     * server's FIN (e.g. a keep-alive limit), so parse before closing. */
    for (;;) {
        if (c->len >= RESPONSE_BUF_BYTES)
            break;
        n = recv(c->fd, c->buf + c->len, RESPONSE_BUF_BYTES - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
    }
    if (!c->busy)
        return !closed && c->len == 0; /* unsolicited bytes */
    total = response_length(c->buf, c->len, &status);
    if (total < 0)
        return false;
    if (total == 0)
        return !closed && c->len < RESPONSE_BUF_BYTES;
    record(st, now - c->scheduled_s, status >= 200 && status < 300);
    c->busy = false;
    memmove(c->buf, c->buf + total, c->len - (size_t)total);
    c->len -= (size_t)total;
    return !closed;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Writes the latencies to path, one per line; false on error. */
static bool write_latencies(const struct stats *st, const char *path)
{
    FILE *f = fopen(path, "w");
    bool ok = f != NULL;

    for (size_t i = 0; ok && i < st->n_latency; i++)
        ok = fprintf(f, "%u\n", (unsigned)st->latency_us[i]) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "loadgen: cannot write %s\n", path);
    return ok;
}

static double percentile_ms(const struct stats *st, double q)
{
    size_t i;

    if (st->n_latency == 0)
        return 0;
    i = (size_t)(q * (double)(st->n_latency - 1) + 0.5);
    return st->latency_us[i] / 1000.0;
}

int main(int argc, char **argv)
{
    struct options o;
    struct stats st;
    struct conn *conns = NULL;
    struct epoll_event events[64];
    char req[REQUEST_BUF_BYTES];
    long total, sent = 0, due, unsent = 0;
    double t0, t_end, now, wait_s;
    int epfd = -1, i, n, rc = 1, next_conn = 0;

    if (!parse_options(argc, argv, &o)) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!mz_thread_request_slice((unsigned)o.slice_us))
        fprintf(stderr, "loadgen: the kernel refused a %d us slice: %s\n",
                o.slice_us, strerror(errno));
    rng_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)o.seed;
    total = (long)(o.rate * o.seconds);
    memset(&st, 0, sizeof st);
    st.cap_latency = (size_t)total + 1;
    st.latency_us = calloc(st.cap_latency, sizeof *st.latency_us);
    conns = calloc((size_t)o.conns, sizeof *conns);
    for (i = 0; conns && i < o.conns; i++)
        conns[i].fd = -1;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!st.latency_us || !conns || epfd < 0) {
        perror("loadgen: setup");
        goto cleanup;
    }
    for (i = 0; i < o.conns; i++) {
        conns[i].buf = malloc(RESPONSE_BUF_BYTES);
        if (!conns[i].buf || !conn_open(&conns[i], epfd, o.port)) {
            fprintf(stderr, "loadgen: cannot connect to 127.0.0.1:%d\n",
                    o.port);
            goto cleanup;
        }
    }

    t0 = now_s();
    t_end = t0 + o.seconds + DRAIN_SECONDS;
    for (;;) {
        now = now_s();
        due = (long)((now - t0) * o.rate) + 1;
        if (due > total)
            due = total;
        /* Invariant: requests [0, sent) went out (or failed); those in
         * [sent, due) are late and go to the next idle connections. */
        for (i = 0; i < o.conns && sent < due; i++) {
            struct conn *c = &conns[(next_conn + i) % o.conns];
            size_t len;

            if (c->busy)
                continue;
            if (c->fd < 0 && !conn_open(c, epfd, o.port)) {
                record(&st, 0, false);
                sent++;
                continue;
            }
            len = format_request(req, sizeof req, &o);
            c->scheduled_s = t0 + (double)sent / o.rate;
            sent++;
            if (!send_all(c->fd, req, len)) {
                record(&st, 0, false);
                conn_close(c);
                continue;
            }
            c->busy = true;
        }
        next_conn = (next_conn + i) % o.conns;
        {
            bool any_busy = false, any_idle = false;
            for (i = 0; i < o.conns; i++) {
                any_busy |= conns[i].busy;
                any_idle |= !conns[i].busy;
            }
            /* Bounded: past the end of the run plus the drain time, the
             * requests not yet sent are dropped (counted as errors). */
            if ((sent >= total && !any_busy) || now >= t_end)
                break;
            if (sent < total && any_idle)
                wait_s = t0 + (double)sent / o.rate - now;
            else
                wait_s = 0.05; /* all busy or all sent: wait for answers */
        }
        if (wait_s < 0)
            wait_s = 0;
        {
            /* Microsecond timeout: at 1,000 req/s the gap is under a
             * millisecond, and epoll_wait's ms timeout would spin. */
            struct timespec timeout;
            timeout.tv_sec = (time_t)wait_s;
            timeout.tv_nsec = (long)((wait_s - (double)timeout.tv_sec) * 1e9);
            n = epoll_pwait2(epfd, events, 64, &timeout, NULL);
        }
        now = now_s();
        for (i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (!conn_read(c, &st, now)) {
                if (c->busy)
                    record(&st, 0, false);
                conn_close(c);
            }
        }
    }
    for (i = 0; i < o.conns; i++)
        if (conns[i].busy)
            record(&st, 0, false); /* unanswered within the drain */
    unsent = total - sent;
    st.errors += unsent;

    /* In completion order, so a stall shows where it was in the run. */
    bool written = !o.latency_file || write_latencies(&st, o.latency_file);
    qsort(st.latency_us, st.n_latency, sizeof *st.latency_us, cmp_u32);
    now = now_s();
    {
        double elapsed = now - t0 > o.seconds ? now - t0 : o.seconds;
        double achieved = (double)st.ok / elapsed;
        printf("target %.0f req/s for %.0f s on %d connections: %ld ok, "
               "%ld errors (%ld never sent), %.1f req/s; latency p50 %.3f "
               "ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n",
               o.rate, o.seconds, o.conns, st.ok, st.errors, unsent, achieved,
               percentile_ms(&st, 0.50), percentile_ms(&st, 0.99),
               percentile_ms(&st, 0.999), percentile_ms(&st, 1.0));
        printf("loadgen: requests=%ld ok=%ld errors=%ld unsent=%ld "
               "rate=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
               "max_ms=%.3f\n",
               total, st.ok, st.errors, unsent, achieved,
               percentile_ms(&st, 0.50), percentile_ms(&st, 0.99),
               percentile_ms(&st, 0.999), percentile_ms(&st, 1.0));
    }
    rc = st.ok > 0 && written ? 0 : 1;

cleanup:
    if (conns) {
        for (i = 0; i < o.conns; i++) {
            conn_close(&conns[i]);
            free(conns[i].buf);
        }
    }
    free(conns);
    free(st.latency_us);
    if (epfd >= 0)
        close(epfd);
    return rc;
}
