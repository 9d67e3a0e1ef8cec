/*-------------------------------------------------------------------------
 * scratch.c
 *    Per-thread score buffers, candidates workspaces and explainers,
 *    released by a thread-key destructor.
 *-------------------------------------------------------------------------
 */
#include "api/scratch.h"

#include <pthread.h>
#include <stdlib.h>

#include "model/candidates.h"
#include "model/model.h"

struct scratch {
    float *scores; /* owned */
    size_t capacity;
    struct mz_candidates *candidates; /* owned; NULL until asked for */
    struct mz_explainer *explainer;   /* owned; NULL until asked for */
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *arg)
{
    struct scratch *s = arg;
    mz_explainer_free(s->explainer);
    mz_candidates_free(s->candidates);
    free(s->scores);
    free(s);
}

static void scratch_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

/* This thread's scratch, made on first use; NULL when out of memory. */
static struct scratch *thread_scratch(void)
{
    pthread_once(&scratch_once, scratch_init);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    return s;
}

struct mz_candidates *mz_scratch_candidates(void)
{
    struct scratch *s = thread_scratch();
    if (s && !s->candidates)
        s->candidates = mz_candidates_new();
    return s ? s->candidates : NULL;
}

struct mz_explainer *mz_scratch_explainer(void)
{
    struct scratch *s = thread_scratch();
    if (s && !s->explainer)
        s->explainer = mz_explainer_new();
    return s ? s->explainer : NULL;
}

float *mz_scratch_scores(size_t n)
{
    struct scratch *s = thread_scratch();
    if (!s)
        return NULL;
    if (s->capacity < n || !s->scores) {
        size_t capacity = n + n / 4 + 64;
        float *grown = realloc(s->scores, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        s->scores = grown;
        s->capacity = capacity;
    }
    return s->scores;
}
