/*-------------------------------------------------------------------------
 * log_queue.c
 *    The log's writer thread: a thread that logs copies its line into a
 *    ring in memory and goes on; one thread writes the ring out.
 *
 * Why: every request logs a line, and a write(2) on the request path
 * waits whenever the file does. On ext4 beside PostgreSQL's fsyncs every
 * HTTP thread blocked in the same 4-11 ms writes at once (strace under
 * make bench part (e)), which made the recommendations' p99.9 10-40 ms
 * at 1,000 req/s; with the log on tmpfs, 1.8-3.4 ms (docs/durability.md,
 * item 11 of the stalls).
 *
 * The writer takes whole lines, at most PIPE_BUF bytes per write(2), so
 * a line a caller writes directly (below) never lands inside another,
 * on a file or on a pipe to journald. When the ring is full, a debug or
 * info line is dropped and counted (the writer logs how many once it has
 * caught up; mz_log_lines_dropped gives the total for /metrics), and a
 * warning or an error is written by its caller directly, waiting like
 * before: those are the lines an operator must see. After fork() the
 * child writes directly (it has no writer thread).
 *
 * The writer, woken by a line, first gathers for GATHER_NS, so a busy
 * server wakes it about 200 times a second instead of once a line: a
 * wake-up per request (futex, an IPI, the writer's run) was 7-8% of the
 * machine's samples under make bench part (h) (docs/durability.md, item
 * 15). A line thus reaches the log at most GATHER_NS after it was put;
 * a warning or an error, or any line once the ring is half full, at once.
 *
 * Interface routines: see log_queue.h.
 *-------------------------------------------------------------------------
 */
#include "model/log_queue.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The ring's size: at the 21,000 req/s of make bench part (b) it holds
 * a fifth of a second of request lines, at 1,000 req/s four seconds. */
#define RING_BYTES (1u << 20)

/* How long the writer, once woken, waits for more lines before it
 * writes them. */
#define GATHER_NS (5 * 1000 * 1000)

#ifdef PIPE_BUF
#define WRITE_MAX PIPE_BUF
#else
#define WRITE_MAX 4096
#endif

/* The one queue of the process (the log is process-wide). head and tail
 * count bytes ever put and written; the ring holds [tail, head). */
static struct {
    pthread_mutex_t mutex; /* guards everything below but dropped */
    pthread_cond_t wake;   /* lines put, or stopping */
    char *ring;            /* owned, RING_BYTES; NULL: not started */
    uint64_t head;
    uint64_t tail;
    bool running; /* lines go to the ring */
    bool stopping;
    bool writer_idle;      /* the writer waits on wake for a line */
    bool writer_gathering; /* the writer waits GATHER_NS for more */
    bool urgent;           /* a warning or an error is queued */
    pthread_t writer;
    mz_log_queue_write_fn write;
    mz_log_queue_dropped_fn report_dropped;
    uint64_t dropped_reported;
    atomic_uint_fast64_t dropped;
} queue = {.mutex = PTHREAD_MUTEX_INITIALIZER,
           .wake = PTHREAD_COND_INITIALIZER};

/* Bytes from ring position at to the ring's end, at most n: the first
 * of the (at most two) pieces n bytes from there take. */
static size_t first_piece(uint64_t at, size_t n)
{
    size_t start = (size_t)(at % RING_BYTES);
    return RING_BYTES - start < n ? RING_BYTES - start : n;
}

/* Copies n bytes of the ring from position at into out. Caller holds
 * nothing: [tail, head) is not written until tail passes it. */
static void ring_copy_out(char *out, uint64_t at, size_t n)
{
    size_t first = first_piece(at, n);
    memcpy(out, queue.ring + at % RING_BYTES, first);
    memcpy(out + first, queue.ring, n - first);
}

/* Copies n bytes of in into the ring at position at. Caller holds the
 * mutex and checked the room. */
static void ring_copy_in(uint64_t at, const char *in, size_t n)
{
    size_t first = first_piece(at, n);
    memcpy(queue.ring + at % RING_BYTES, in, first);
    memcpy(queue.ring, in + first, n - first);
}

/* Whether what is queued must be written without gathering more: a
 * warning or an error is queued, or the ring is half full. Caller holds
 * the mutex. */
static bool write_now(void)
{
    return queue.urgent || queue.head - queue.tail >= RING_BYTES / 2;
}

/* Waits (mutex held) up to GATHER_NS for lines to gather, or less when
 * write_now() or the queue stops. */
static void gather(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns = (int64_t)now.tv_nsec + GATHER_NS;
    struct timespec until = {.tv_sec = now.tv_sec + (time_t)(ns / 1000000000),
                             .tv_nsec = (long)(ns % 1000000000)};
    queue.writer_gathering = true;
    while (!queue.stopping && !write_now() &&
           pthread_cond_clockwait(&queue.wake, &queue.mutex, CLOCK_MONOTONIC,
                                  &until) == 0)
        ;
    queue.writer_gathering = false;
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "mz-stderr"); /* top -H, perf */
    char chunk[WRITE_MAX];
    pthread_mutex_lock(&queue.mutex);
    for (;;) {
        bool woken = false;
        while (queue.head == queue.tail && !queue.stopping) {
            queue.writer_idle = true;
            pthread_cond_wait(&queue.wake, &queue.mutex);
            queue.writer_idle = false;
            woken = true;
        }
        if (woken)
            gather(); /* then writes all there is before it waits again */
        if (queue.head == queue.tail)
            break;            /* stopping, and all written */
        queue.urgent = false; /* what is queued now is written first */
        uint64_t tail = queue.tail;
        size_t n = queue.head - tail < WRITE_MAX ? (size_t)(queue.head - tail)
                                                 : WRITE_MAX;
        pthread_mutex_unlock(&queue.mutex);
        ring_copy_out(chunk, tail, n);
        /* Whole lines only: every line ends with '\n' and is at most
         * WRITE_MAX bytes, so the chunk holds at least one. */
        while (n > 0 && chunk[n - 1] != '\n')
            n--;
        queue.write(chunk, n);
        uint64_t dropped = atomic_load(&queue.dropped);
        pthread_mutex_lock(&queue.mutex);
        queue.tail = tail + n;
        if (queue.head == queue.tail && dropped != queue.dropped_reported) {
            queue.dropped_reported = dropped;
            pthread_mutex_unlock(&queue.mutex);
            queue.report_dropped(dropped); /* puts a line of its own */
            pthread_mutex_lock(&queue.mutex);
        }
    }
    queue.running = false;
    pthread_mutex_unlock(&queue.mutex);
    return NULL;
}

/* fork() with the mutex held, so the child's copy of the queue is
 * whole; the child has no writer thread, so it writes directly. */
static void before_fork(void)
{
    pthread_mutex_lock(&queue.mutex);
}

static void after_fork_in_parent(void)
{
    pthread_mutex_unlock(&queue.mutex);
}

static void after_fork_in_child(void)
{
    queue.running = false;
    queue.ring = NULL; /* the parent's; the child's copy is left alone */
    pthread_mutex_unlock(&queue.mutex);
}

bool mz_log_queue_start(mz_log_queue_write_fn write,
                        mz_log_queue_dropped_fn report_dropped)
{
    static bool fork_handler_set;
    pthread_mutex_lock(&queue.mutex);
    bool ok = queue.ring == NULL;
    if (ok && !fork_handler_set)
        ok = fork_handler_set =
            pthread_atfork(before_fork, after_fork_in_parent,
                           after_fork_in_child) == 0;
    if (ok)
        ok = (queue.ring = malloc(RING_BYTES)) != NULL;
    if (ok) {
        queue.head = queue.tail = 0;
        queue.stopping = false;
        queue.write = write;
        queue.report_dropped = report_dropped;
        queue.running = true;
        if (pthread_create(&queue.writer, NULL, writer_main, NULL) != 0) {
            queue.running = false;
            free(queue.ring);
            queue.ring = NULL;
            ok = false;
        }
    }
    pthread_mutex_unlock(&queue.mutex);
    return ok;
}

void mz_log_queue_stop(void)
{
    pthread_mutex_lock(&queue.mutex);
    if (!queue.ring || queue.stopping) {
        pthread_mutex_unlock(&queue.mutex);
        return;
    }
    queue.stopping = true;
    pthread_cond_signal(&queue.wake);
    pthread_mutex_unlock(&queue.mutex);
    pthread_join(queue.writer, NULL); /* it writes what is left first */
    pthread_mutex_lock(&queue.mutex);
    free(queue.ring);
    queue.ring = NULL;
    queue.stopping = false;
    pthread_mutex_unlock(&queue.mutex);
}

bool mz_log_queue_put(const char *line, size_t len, bool must_keep)
{
    pthread_mutex_lock(&queue.mutex);
    if (!queue.running) {
        pthread_mutex_unlock(&queue.mutex);
        return false;
    }
    if (RING_BYTES - (queue.head - queue.tail) < len) {
        pthread_mutex_unlock(&queue.mutex);
        if (must_keep)
            return false;
        atomic_fetch_add(&queue.dropped, 1);
        return true;
    }
    ring_copy_in(queue.head, line, len);
    queue.head += len;
    /* A warning or an error (must_keep) is not gathered: those are the
     * lines an operator must see, and the last before an exit. */
    if (must_keep)
        queue.urgent = true;
    if (queue.writer_idle || (queue.writer_gathering && write_now()))
        pthread_cond_signal(&queue.wake);
    pthread_mutex_unlock(&queue.mutex);
    return true;
}

uint64_t mz_log_queue_dropped(void)
{
    return atomic_load(&queue.dropped);
}
