/*-------------------------------------------------------------------------
 * wait_pool.c
 *    A fixed set of threads taking jobs from one FIFO queue (see
 *    wait_pool.h for why maisond has one).
 *-------------------------------------------------------------------------
 */
#include "server/wait_pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mz_wait_pool {
    pthread_mutex_t lock; /* guards the queue and stopping */
    pthread_cond_t work;  /* a job was queued, or stopping was set */
    struct mz_wait_job *head;
    struct mz_wait_job *tail;
    bool stopping;
    int n_threads;      /* started */
    pthread_t *threads; /* owned, n_threads */
};

/* Takes the next job, or NULL once stopping and the queue is empty. */
static struct mz_wait_job *next_job(struct mz_wait_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    while (!pool->head && !pool->stopping)
        pthread_cond_wait(&pool->work, &pool->lock);
    struct mz_wait_job *job = pool->head;
    if (job) {
        pool->head = job->next;
        if (!pool->head)
            pool->tail = NULL;
    }
    pthread_mutex_unlock(&pool->lock);
    return job;
}

static void *pool_main(void *arg)
{
    struct mz_wait_pool *pool = arg;
    pthread_setname_np(pthread_self(), "mz-wait"); /* top -H, perf */
    struct mz_wait_job *job;

    while ((job = next_job(pool)) != NULL)
        job->run(job);
    return NULL;
}

struct mz_wait_pool *mz_wait_pool_start(int threads, char *err, size_t err_len)
{
    if (threads < 1 || threads > 256) {
        snprintf(err, err_len, "wait pool: %d threads, not in 1..256", threads);
        return NULL;
    }
    struct mz_wait_pool *pool = calloc(1, sizeof *pool);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    if (!pool || !ids) {
        free(pool);
        free(ids);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);
    pool->threads = ids;
    for (int i = 0; i < threads; i++) {
        int rc = pthread_create(&pool->threads[i], NULL, pool_main, pool);
        if (rc != 0) {
            snprintf(err, err_len, "wait pool: cannot start a thread: %s",
                     strerror(rc));
            mz_wait_pool_free(pool);
            return NULL;
        }
        pool->n_threads++;
    }
    return pool;
}

void mz_wait_pool_stop(struct mz_wait_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    /* Only the thread that stops the pool joins (its owner). */
    for (int i = 0; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    pool->n_threads = 0;
}

void mz_wait_pool_free(struct mz_wait_pool *pool)
{
    if (!pool)
        return;
    mz_wait_pool_stop(pool);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}

bool mz_wait_pool_submit(struct mz_wait_pool *pool, struct mz_wait_job *job)
{
    bool queued = false;

    job->next = NULL;
    pthread_mutex_lock(&pool->lock);
    if (!pool->stopping) {
        if (pool->tail)
            pool->tail->next = job;
        else
            pool->head = job;
        pool->tail = job;
        pthread_cond_signal(&pool->work);
        queued = true;
    }
    pthread_mutex_unlock(&pool->lock);
    return queued;
}
