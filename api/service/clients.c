/*-------------------------------------------------------------------------
 * clients.c
 *    Client attributes and consent, and erasure.
 *
 * A change of consent is written to the event log as a marker, so that
 * learning stops and starts at the same place when the log is replayed;
 * the consent in force is the client's entry's, read back if evicted.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model/log.h"

/* Appends a consent marker for client_id to the event log (audited
 * under actor with it) and waits until it is learned. */
static enum mz_status log_consent_change(struct mz_service *svc,
                                         const char *client_id, bool granted,
                                         const char *actor)
{
    static atomic_uint_fast64_t marker_counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char event_id[96];
    snprintf(event_id, sizeof event_id, "maison-consent-%lld.%09ld-%llu",
             (long long)ts.tv_sec, ts.tv_nsec,
             (unsigned long long)atomic_fetch_add(&marker_counter, 1));
    struct mz_event_record marker = {
        .event_id = event_id,
        .client_id = client_id,
        .type = granted ? MZ_EV_CONSENT_GRANTED : MZ_EV_CONSENT_WITHDRAWN,
        .ts = ts.tv_sec,
        .quantity = 1,
        .item_index = -1,
        .actor = actor,
    };
    return mz_service_append_events(svc, &marker, 1);
}

enum mz_status mz_service_set_attributes(
    struct mz_service *svc, const char *client_id,
    const struct mz_attributes_update *attrs, mz_attributes_doc_fn write_doc,
    const struct mz_principal *by, bool *consent_out)
{
    enum mz_status status = mz_service_fetch_client(svc, client_id, false);
    if (status != MZ_OK)
        return status;
    mz_service_read_lock(svc);
    const struct mz_client_entry *entry =
        mz_client_cache_get(svc->clients, client_id);
    bool current = entry ? entry->consent : true;
    pthread_rwlock_unlock(&svc->lock);
    bool wanted = attrs->consent < 0 ? current : attrs->consent == 1;
    if (wanted != current) {
        status =
            log_consent_change(svc, client_id, wanted, mz_service_actor(by));
        if (status != MZ_OK)
            return status;
    }
    char *doc = write_doc(attrs, wanted);
    int64_t position = 0;
    status =
        doc ? mz_store_put_client_attributes(svc->store, client_id, doc,
                                             mz_service_actor(by), &position)
            : MZ_ERR_NOMEM;
    free(doc);
    mz_service_count_store_error(svc, status);
    /* In force once the learner applies the marker (changes.c). */
    if (status == MZ_OK)
        status = mz_service_wait_change(svc, position);
    *consent_out = wanted;
    return status;
}

/* An erasure deletes the client's rows of the log, which the shared level
 * of every node learns from: it runs only once every node seen in the
 * last few seconds has applied the log up to its end, so no node misses
 * them, and again when a row of the client arrived meanwhile (a bounded
 * number of times: a client whose events never stop is erased anyway,
 * logged). It answers once every such node has applied the erasure too,
 * so no node serves the client after the reply. A node that does not
 * keep up within the bound is logged: it erases the client when it reads
 * the log, and no checkpoint of it can write the client back. */
#define ERASURE_WAIT_MS     3000
#define ERASURE_NODE_SEEN_S 5
#define ERASURE_ATTEMPTS    5

/* Waits until every other node seen lately has applied position; returns
 * whether they all have within the bound. */
static bool wait_other_nodes(struct mz_service *svc, int64_t position)
{
    char behind[MZ_NODE_ID_MAX + 1] = "";
    for (int waited = 0; waited <= ERASURE_WAIT_MS; waited += 20) {
        if (mz_store_nodes_behind(svc->store, position, ERASURE_NODE_SEEN_S,
                                  behind) != MZ_OK ||
            !behind[0])
            return true;
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    mz_log_reason(MZ_LOG_WARNING,
                  "erasure: a node did not apply the log in "
                  "time",
                  behind);
    return false;
}

/* The log's end, once this node and (within the bound) every other node
 * seen lately have applied it; 0 when it cannot be read. */
static int64_t settle_everywhere(struct mz_service *svc)
{
    int64_t head = 0;
    if (mz_store_log_head(svc->store, &head) != MZ_OK ||
        mz_service_wait_change(svc, head) != MZ_OK)
        return 0;
    wait_other_nodes(svc, head);
    return head;
}

enum mz_status mz_service_erase_client(struct mz_service *svc,
                                       const char *client_id,
                                       const struct mz_principal *by)
{
    int64_t position = 0;
    enum mz_status status = MZ_ERR_CONFLICT;
    for (int attempt = 0; status == MZ_ERR_CONFLICT; attempt++) {
        int64_t settled =
            attempt < ERASURE_ATTEMPTS ? settle_everywhere(svc) : 0;
        if (attempt == ERASURE_ATTEMPTS)
            mz_log_reason(MZ_LOG_WARNING,
                          "erasure: the client's events kept coming; erased "
                          "without waiting for every node",
                          NULL);
        /* Holding the checkpoint mutex keeps this node's checkpoint that
         * copied the client before the erasure from writing it back
         * afterwards; other nodes' are refused by the erasure's
         * tombstone (store/checkpoint_store.c). */
        mz_service_hurry_checkpoint(svc, true);
        pthread_mutex_lock(&svc->checkpoint_mutex);
        mz_service_hurry_checkpoint(svc, false);
        status = mz_store_delete_client(
            svc->store, client_id, mz_service_actor(by), settled, &position);
        if (status == MZ_OK) {
            /* Gone here at once; the marker takes it from every node. */
            pthread_rwlock_wrlock(&svc->lock);
            mz_client_cache_erase(svc->clients, client_id);
            pthread_rwlock_unlock(&svc->lock);
        }
        pthread_mutex_unlock(&svc->checkpoint_mutex);
    }
    mz_service_count_store_error(svc, status);
    if (status == MZ_OK)
        status = mz_service_wait_change(svc, position);
    if (status == MZ_OK)
        wait_other_nodes(svc, position);
    return status;
}
