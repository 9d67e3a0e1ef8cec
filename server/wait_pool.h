/*-------------------------------------------------------------------------
 * wait_pool.h
 *    Threads for the requests that may wait: a write waits for its
 *    commit and its learning, a read with after= for its position, an
 *    export for PostgreSQL. server/http.c suspends such a request's
 *    connection and runs it here, so that libmicrohttpd's threads, each
 *    serving many connections, never sit in a wait while the
 *    recommendations of their other connections queue behind it.
 *
 * Jobs run in the order they were submitted, each on one of a fixed
 * number of threads; a job that waits holds its thread, not the others.
 * The queue has no bound of its own: each connection has at most one
 * request in flight, so the listener's connection limit bounds it.
 *
 * Interface routines:
 *    mz_wait_pool_start / _stop / _free
 *    mz_wait_pool_submit
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_WAIT_POOL_H
#define MZ_SERVER_WAIT_POOL_H

#include <stdbool.h>
#include <stddef.h>

struct mz_wait_pool;

/* One job, embedded in the caller's request state (owned by the
 * submitter, which keeps it alive until run has returned). */
struct mz_wait_job {
    void (*run)(struct mz_wait_job *job); /* called on a pool thread */
    struct mz_wait_job *next;             /* the pool's queue */
};

/* Starts threads threads (1..256). Returns NULL with the reason in err. */
struct mz_wait_pool *mz_wait_pool_start(int threads, char *err, size_t err_len);

/* Refuses new jobs, runs every job already submitted and joins the
 * threads; a second call does nothing. Submitting stays safe (and
 * refused) until mz_wait_pool_free. */
void mz_wait_pool_stop(struct mz_wait_pool *pool);

/* Stops the pool if it still runs and frees it; accepts NULL. */
void mz_wait_pool_free(struct mz_wait_pool *pool);

/* Queues job (borrowed until its run returns). Returns false, job not
 * queued, once mz_wait_pool_stop has begun. */
bool mz_wait_pool_submit(struct mz_wait_pool *pool, struct mz_wait_job *job);

#endif
