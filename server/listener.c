/*-------------------------------------------------------------------------
 * listener.c
 *    The listening socket, admission of connections, their deadlines,
 *    and the requests in flight (see listener.h).
 *
 * Every connection has a slot in a table indexed by its socket, guarded
 * by one mutex, from the moment it is accepted until the daemon reports
 * it closed. The daemon reports "closed" before it closes the socket, so
 * while a slot is in use its socket number cannot have been reused, and
 * the listener may shut the socket down. One exception: a connection the
 * daemon drops on an internal failure (out of memory) before it reports
 * "started" is never reported at all; its slot stays "unconfirmed",
 * is never touched, and is recycled when accept hands the same socket
 * number out again (which proves the old socket closed).
 *
 * A slot's phase, request count and deadline change with every request:
 * they are atomics, written only by the thread serving the connection
 * (the reports) and read by the listener's thread, so a request takes no
 * lock. At worst the listener acts on a deadline a request has just
 * replaced, on a connection that reached its deadline anyway.
 *
 * The thread polls the listening socket and a wake-up pipe, and every
 * MZ_LISTENER_SCAN_MS shuts down the connections past their deadline
 * (shutdown(2): the daemon sees the end of the stream and closes). The
 * deadlines count from fixed points (accept, end of the previous answer,
 * end of a head), so a client that sends a byte now and then cannot
 * extend them; libmicrohttpd's own timeout restarts at every byte.
 *-------------------------------------------------------------------------
 */
#include "server/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "model/log.h"

/* How often deadlines are checked: their precision. */
#define MZ_LISTENER_SCAN_MS 200
/* Connections accepted per wake-up, so a flood of connects cannot delay
 * the deadline scan. */
#define MZ_LISTENER_ACCEPT_BATCH 64
/* At a stop, the most connections accepted from the queue before the
 * listening socket closes. */
#define MZ_LISTENER_BACKLOG_DRAIN 4096
/* After accept fails for lack of descriptors or memory, the pause before
 * trying again (the socket stays readable: no pause would spin). */
#define MZ_LISTENER_ACCEPT_PAUSE_MS 100
/* Refusals and cut connections are summed into one log line at most
 * this often, so an attack cannot flood the log. */
#define MZ_LISTENER_REPORT_MS 5000
/* Slots for sockets up to this number, whatever RLIMIT_NOFILE says. */
#define MZ_LISTENER_MAX_SLOTS (1 << 20)

enum phase {
    PHASE_HEAD,   /* waiting for a request's head */
    PHASE_BODY,   /* head read, reading the body */
    PHASE_ANSWER, /* request read, being answered */
};

/* in_use, confirmed, cut and addr are guarded by the lock; the atomics
 * are written by the connection's thread (see the file header). */
struct slot {
    bool in_use;
    bool confirmed;           /* the daemon reported it started */
    bool cut;                 /* shut down past its deadline */
    uint32_t addr;            /* IPv4, network byte order */
    atomic_int phase;         /* enum phase */
    atomic_uint requests;     /* requests started on it */
    atomic_llong deadline_ms; /* monotonic; 0: none */
};

/* Open connections of one address (open addressing, linear probing). */
struct addr_count {
    uint32_t addr;
    int count; /* 0: empty */
};

struct refusals {
    long per_ip;        /* over max_connections_per_ip */
    long total;         /* over max_connections */
    long no_slot;       /* socket number beyond the table */
    long handed_back;   /* the daemon refused it */
    long accept_errors; /* out of descriptors or memory */
    long head_late;     /* cut: head past its deadline */
    long body_late;     /* cut: body past its deadline */
    uint32_t last_addr; /* of the last per-address refusal */
};

struct mz_listener {
    struct mz_listener_limits limits;
    int listen_fd;  /* -1 once closed */
    int wake_fd[2]; /* pipe: read end, write end */
    pthread_t thread;
    bool thread_started;
    mz_listener_add_fn add;
    void *add_ctx;

    pthread_mutex_t lock;   /* guards everything below */
    pthread_cond_t changed; /* listening went false */
    bool stop_requested;    /* stop accepting */
    bool listening;
    bool quit;          /* the thread must return */
    struct slot *slots; /* owned, n_slots, indexed by socket */
    int n_slots;
    int max_fd;               /* highest socket that had a slot */
    int live;                 /* slots in use */
    struct addr_count *addrs; /* owned, addr_mask + 1 of them */
    size_t addr_mask;
    struct refusals refused;
};

/* The coarse clock (a few ms) is precise enough for deadlines in
 * seconds and cheaper: it is read twice per request. */
static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- open connections per address ----------------------------------- */

static size_t addr_home(uint32_t addr, size_t mask)
{
    uint32_t h = addr * UINT32_C(2654435761);

    return (size_t)(h ^ (h >> 16)) & mask;
}

/* The entry of addr, or the empty one where it would go. The table is
 * never more than half full (it has twice max_connections entries), so
 * the probe ends. */
static struct addr_count *addr_slot(struct mz_listener *l, uint32_t addr)
{
    size_t i = addr_home(addr, l->addr_mask);

    while (l->addrs[i].count != 0 && l->addrs[i].addr != addr)
        i = (i + 1) & l->addr_mask;
    return &l->addrs[i];
}

/* Removes the entry at i, shifting later entries of its probe run back
 * so that every entry stays reachable from its home. */
static void addr_remove(struct mz_listener *l, size_t i)
{
    size_t j = i;

    for (;;) {
        size_t home;

        j = (j + 1) & l->addr_mask;
        if (l->addrs[j].count == 0)
            break;
        home = addr_home(l->addrs[j].addr, l->addr_mask);
        /* The entry at j may move to i only if its home is not in the
         * cyclic interval (i, j]. */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        l->addrs[i] = l->addrs[j];
        i = j;
    }
    l->addrs[i].count = 0;
    l->addrs[i].addr = 0;
}

static void addr_release(struct mz_listener *l, uint32_t addr)
{
    struct addr_count *e = addr_slot(l, addr);

    if (e->count > 1)
        e->count--;
    else if (e->count == 1)
        addr_remove(l, (size_t)(e - l->addrs));
}

/* ---- slots ---------------------------------------------------------- */

/* The slot of fd when in use, else NULL; the caller holds the lock. */
static struct slot *slot_of(struct mz_listener *l, int fd)
{
    if (fd < 0 || fd >= l->n_slots || !l->slots[fd].in_use)
        return NULL;
    return &l->slots[fd];
}

static void slot_release(struct mz_listener *l, int fd)
{
    struct slot *s = &l->slots[fd];

    addr_release(l, s->addr);
    s->in_use = s->confirmed = s->cut = false;
    s->addr = 0;
    atomic_store(&s->phase, PHASE_HEAD);
    atomic_store(&s->requests, 0);
    atomic_store(&s->deadline_ms, 0);
    l->live--;
}

static void wake(struct mz_listener *l)
{
    char byte = 1;
    ssize_t n;

    do
        n = write(l->wake_fd[1], &byte, 1);
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the pipe is full, the thread is awake anyway. */
}

/* Admits or closes one accepted connection. */
static void admit(struct mz_listener *l, int fd, const struct sockaddr_in *sa)
{
    const struct mz_listener_limits *lim = &l->limits;
    uint32_t addr = sa->sin_addr.s_addr;
    struct addr_count *e;
    bool added;

    pthread_mutex_lock(&l->lock);
    if (fd >= l->n_slots) {
        l->refused.no_slot++;
        goto refuse;
    }
    /* accept returned fd, so an old slot of that number is stale: its
     * connection was dropped without a report. */
    if (l->slots[fd].in_use)
        slot_release(l, fd);
    if (l->live >= lim->max_connections) {
        l->refused.total++;
        goto refuse;
    }
    e = addr_slot(l, addr);
    if (lim->max_connections_per_ip > 0 &&
        e->count >= lim->max_connections_per_ip) {
        l->refused.per_ip++;
        l->refused.last_addr = addr;
        goto refuse;
    }
    e->addr = addr;
    e->count++;
    l->slots[fd].in_use = true;
    l->slots[fd].addr = addr;
    atomic_store(&l->slots[fd].phase, PHASE_HEAD);
    atomic_store(&l->slots[fd].requests, 0);
    atomic_store(&l->slots[fd].deadline_ms,
                 now_ms() + (int64_t)lim->header_timeout_s * 1000);
    l->live++;
    if (fd > l->max_fd)
        l->max_fd = fd;
    pthread_mutex_unlock(&l->lock);

    added = l->add(l->add_ctx, fd, (const struct sockaddr *)sa, sizeof *sa);
    if (!added) {
        pthread_mutex_lock(&l->lock);
        /* Still ours: nothing reports on a refused connection. */
        if (slot_of(l, fd) != NULL && !l->slots[fd].confirmed)
            slot_release(l, fd);
        l->refused.handed_back++;
        pthread_mutex_unlock(&l->lock);
    }
    return;

refuse:
    pthread_mutex_unlock(&l->lock);
    close(fd);
}

/* Accepts up to max queued connections. Returns false when accept ran
 * out of descriptors or memory (the caller pauses). */
static bool accept_queued(struct mz_listener *l, int max)
{
    for (int i = 0; i < max; i++) {
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        int fd = accept4(l->listen_fd, (struct sockaddr *)&sa, &len,
                         SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            pthread_mutex_lock(&l->lock);
            l->refused.accept_errors++;
            pthread_mutex_unlock(&l->lock);
            return false;
        }
        if (len != sizeof sa || sa.sin_family != AF_INET) {
            close(fd);
            continue;
        }
        admit(l, fd, &sa);
    }
    return true;
}

/* Shuts down the connections past their deadline; the caller holds the
 * lock. */
static void cut_late(struct mz_listener *l, int64_t now)
{
    for (int fd = 0; fd <= l->max_fd && fd < l->n_slots; fd++) {
        struct slot *s = &l->slots[fd];
        int64_t deadline;

        if (!s->in_use || !s->confirmed || s->cut)
            continue;
        deadline = atomic_load(&s->deadline_ms);
        if (deadline == 0 || now < deadline)
            continue;
        shutdown(fd, SHUT_RDWR);
        s->cut = true;
        if (atomic_load(&s->phase) == PHASE_BODY)
            l->refused.body_late++;
        else
            l->refused.head_late++;
    }
}

/* One warning line with what was refused or cut since the last one;
 * the caller holds the lock. */
static void report(struct mz_listener *l)
{
    struct refusals *r = &l->refused;
    struct mz_log_line line;
    char addr[INET_ADDRSTRLEN] = "";

    if (r->per_ip + r->total + r->no_slot + r->handed_back + r->accept_errors +
            r->head_late + r->body_late ==
        0)
        return;
    mz_log_begin(&line, MZ_LOG_WARNING, "connections refused or cut");
    mz_log_int(&line, "over_per_ip_limit", r->per_ip);
    if (r->per_ip > 0) {
        inet_ntop(AF_INET, &r->last_addr, addr, sizeof addr);
        mz_log_str(&line, "last_address", addr);
    }
    mz_log_int(&line, "over_connection_limit", r->total + r->no_slot);
    mz_log_int(&line, "refused_by_http", r->handed_back);
    mz_log_int(&line, "accept_errors", r->accept_errors);
    mz_log_int(&line, "head_too_slow", r->head_late);
    mz_log_int(&line, "body_too_slow", r->body_late);
    mz_log_end(&line);
    memset(r, 0, sizeof *r);
}

static void drain_wake_pipe(struct mz_listener *l)
{
    char buf[64];

    while (read(l->wake_fd[0], buf, sizeof buf) > 0)
        ;
}

static void *listener_main(void *arg)
{
    struct mz_listener *l = arg;
    pthread_setname_np(pthread_self(), "mz-listener"); /* top -H, perf */
    int64_t next_scan = now_ms() + MZ_LISTENER_SCAN_MS;
    int64_t next_report = now_ms() + MZ_LISTENER_REPORT_MS;
    int64_t paused_until = 0;

    for (;;) {
        struct pollfd fds[2];
        int64_t now = now_ms();
        bool quit, stop;

        fds[0].fd =
            l->listen_fd >= 0 && now >= paused_until ? l->listen_fd : -1;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        fds[1].fd = l->wake_fd[0];
        fds[1].events = POLLIN;
        fds[1].revents = 0;
        poll(fds, 2, (int)(next_scan > now ? next_scan - now : 0));
        if (fds[1].revents != 0)
            drain_wake_pipe(l);

        pthread_mutex_lock(&l->lock);
        quit = l->quit;
        stop = l->stop_requested && l->listen_fd >= 0;
        pthread_mutex_unlock(&l->lock);
        if (quit)
            break;
        if (stop) {
            accept_queued(l, MZ_LISTENER_BACKLOG_DRAIN);
            close(l->listen_fd);
            pthread_mutex_lock(&l->lock);
            l->listen_fd = -1;
            l->listening = false;
            pthread_cond_broadcast(&l->changed);
            pthread_mutex_unlock(&l->lock);
        } else if ((fds[0].revents & POLLIN) != 0 &&
                   !accept_queued(l, MZ_LISTENER_ACCEPT_BATCH)) {
            paused_until = now_ms() + MZ_LISTENER_ACCEPT_PAUSE_MS;
        }

        now = now_ms();
        if (now >= next_scan) {
            pthread_mutex_lock(&l->lock);
            cut_late(l, now);
            if (now >= next_report) {
                report(l);
                next_report = now + MZ_LISTENER_REPORT_MS;
            }
            pthread_mutex_unlock(&l->lock);
            next_scan = now + MZ_LISTENER_SCAN_MS;
        }
    }
    pthread_mutex_lock(&l->lock);
    report(l);
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* ---- interface ------------------------------------------------------ */

struct mz_listener *mz_listener_open(const struct sockaddr_in *addr,
                                     const struct mz_listener_limits *limits,
                                     char *err, size_t err_len)
{
    struct mz_listener *l = calloc(1, sizeof *l);
    struct rlimit files;
    size_t addr_cap = 64;
    int one = 1;
    char where[INET_ADDRSTRLEN] = "?";

    inet_ntop(AF_INET, &addr->sin_addr, where, sizeof where);
    if (l == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    /* Right after the calloc, so mz_listener_close may always undo it. */
    l->listen_fd = -1;
    l->wake_fd[0] = l->wake_fd[1] = -1;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->changed, NULL);
    l->limits = *limits;

    /* A socket number is below the descriptor limit, so that many slots
     * cover every connection; calloc'd pages stay untouched until a
     * socket of that number is accepted. */
    l->n_slots = getrlimit(RLIMIT_NOFILE, &files) == 0 &&
                         files.rlim_cur != RLIM_INFINITY &&
                         files.rlim_cur < MZ_LISTENER_MAX_SLOTS
                     ? (int)files.rlim_cur
                     : MZ_LISTENER_MAX_SLOTS;
    while (addr_cap < 2 * (size_t)limits->max_connections)
        addr_cap *= 2;
    l->addr_mask = addr_cap - 1;
    l->slots = calloc((size_t)l->n_slots, sizeof *l->slots);
    l->addrs = calloc(addr_cap, sizeof *l->addrs);
    if (l->slots == NULL || l->addrs == NULL) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    if (pipe2(l->wake_fd, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, err_len, "cannot create a pipe: %s", strerror(errno));
        goto fail;
    }
    l->listen_fd =
        socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (l->listen_fd < 0 ||
        setsockopt(l->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) !=
            0 ||
        bind(l->listen_fd, (const struct sockaddr *)addr, sizeof *addr) != 0 ||
        listen(l->listen_fd, SOMAXCONN) != 0) {
        snprintf(err, err_len, "cannot listen on %s:%d: %s", where,
                 ntohs(addr->sin_port), strerror(errno));
        goto fail;
    }
    l->listening = true;
    return l;

fail:
    mz_listener_close(l);
    return NULL;
}

bool mz_listener_start(struct mz_listener *l, mz_listener_add_fn add, void *ctx,
                       char *err, size_t err_len)
{
    int rc;

    l->add = add;
    l->add_ctx = ctx;
    rc = pthread_create(&l->thread, NULL, listener_main, l);
    if (rc != 0) {
        snprintf(err, err_len, "cannot start the accepting thread: %s",
                 strerror(rc));
        return false;
    }
    l->thread_started = true;
    return true;
}

void mz_listener_connection_started(struct mz_listener *l, int fd)
{
    pthread_mutex_lock(&l->lock);
    struct slot *s = slot_of(l, fd);
    if (s != NULL)
        s->confirmed = true;
    pthread_mutex_unlock(&l->lock);
}

void mz_listener_connection_closed(struct mz_listener *l, int fd)
{
    pthread_mutex_lock(&l->lock);
    if (slot_of(l, fd) != NULL)
        slot_release(l, fd);
    pthread_mutex_unlock(&l->lock);
}

/* The slot of fd for a report of the connection's own thread: in use
 * from "started" to "closed", which that same thread reports, so it can
 * be read without the lock. */
static struct slot *own_slot(struct mz_listener *l, int fd)
{
    return fd >= 0 && fd < l->n_slots ? &l->slots[fd] : NULL;
}

void mz_listener_request_started(struct mz_listener *l, int fd)
{
    struct slot *s = own_slot(l, fd);

    if (s != NULL) {
        atomic_store(&s->deadline_ms,
                     now_ms() + (int64_t)l->limits.body_timeout_s * 1000);
        atomic_store(&s->phase, PHASE_BODY);
        atomic_fetch_add(&s->requests, 1);
    }
}

void mz_listener_request_progress(struct mz_listener *l, int fd)
{
    struct slot *s = own_slot(l, fd);

    if (s != NULL && atomic_load(&s->phase) == PHASE_BODY)
        atomic_store(&s->deadline_ms,
                     now_ms() + (int64_t)l->limits.body_timeout_s * 1000);
}

void mz_listener_request_read(struct mz_listener *l, int fd)
{
    struct slot *s = own_slot(l, fd);

    if (s != NULL) {
        atomic_store(&s->phase, PHASE_ANSWER);
        atomic_store(&s->deadline_ms, 0);
    }
}

void mz_listener_request_completed(struct mz_listener *l, int fd)
{
    struct slot *s = own_slot(l, fd);

    if (s != NULL) {
        atomic_store(&s->deadline_ms,
                     now_ms() + (int64_t)l->limits.idle_timeout_s * 1000);
        atomic_store(&s->phase, PHASE_HEAD);
    }
}

void mz_listener_stop_accepting(struct mz_listener *l)
{
    pthread_mutex_lock(&l->lock);
    l->stop_requested = true;
    if (!l->thread_started && l->listen_fd >= 0) {
        close(l->listen_fd);
        l->listen_fd = -1;
        l->listening = false;
    }
    pthread_mutex_unlock(&l->lock);
    wake(l);
    pthread_mutex_lock(&l->lock);
    while (l->listening)
        pthread_cond_wait(&l->changed, &l->lock);
    pthread_mutex_unlock(&l->lock);
}

bool mz_listener_wait_idle(struct mz_listener *l, int timeout_ms,
                           int *in_flight)
{
    int64_t deadline = now_ms() + timeout_ms;

    for (;;) {
        int64_t now = now_ms();
        int busy = 0, waiting = 0;

        pthread_mutex_lock(&l->lock);
        for (int fd = 0; fd <= l->max_fd && fd < l->n_slots; fd++) {
            struct slot *s = &l->slots[fd];

            if (!s->in_use || !s->confirmed)
                continue;
            if (atomic_load(&s->phase) != PHASE_HEAD)
                busy++;
            else if (atomic_load(&s->requests) == 0 && !s->cut &&
                     now < atomic_load(&s->deadline_ms))
                waiting++;
        }
        pthread_mutex_unlock(&l->lock);
        if (in_flight != NULL)
            *in_flight = busy;
        if (busy == 0 && waiting == 0)
            return true;
        if (now >= deadline)
            return false;
        {
            const struct timespec pause = {0, 10 * 1000 * 1000};

            nanosleep(&pause, NULL);
        }
    }
}

void mz_listener_close(struct mz_listener *l)
{
    if (l == NULL)
        return;
    if (l->thread_started) {
        pthread_mutex_lock(&l->lock);
        l->quit = true;
        pthread_mutex_unlock(&l->lock);
        wake(l);
        pthread_join(l->thread, NULL);
    }
    if (l->listen_fd >= 0)
        close(l->listen_fd);
    if (l->wake_fd[0] >= 0)
        close(l->wake_fd[0]);
    if (l->wake_fd[1] >= 0)
        close(l->wake_fd[1]);
    pthread_cond_destroy(&l->changed);
    pthread_mutex_destroy(&l->lock);
    free(l->addrs);
    free(l->slots);
    free(l);
}
