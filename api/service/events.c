/*-------------------------------------------------------------------------
 * events.c
 *    Appending events to the log: the catalog check of each event, the
 *    read-back of evicted clients before the batch reaches the writer
 *    thread (so the writer never waits on a read), and the counts.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdlib.h>
#include <string.h>

/* Refuses, in outcome, the records whose item is not a live catalog item,
 * whose item or brand is of a brand outside scope (NULL: every brand), or
 * whose brand is not its item's, and sets the others' item_index. */
static void check_items(struct mz_service *svc, struct mz_event_record *records,
                        enum mz_status *outcome, size_t n,
                        const struct mz_principal *scope)
{
    mz_service_read_lock(svc);
    for (size_t i = 0; i < n; i++) {
        if (outcome[i] != MZ_OK)
            continue;
        records[i].item_index = -1;
        const char *brand = records[i].brand;
        if (brand && scope && !mz_principal_allows_brand(scope, brand)) {
            outcome[i] = MZ_ERR_FORBIDDEN;
            continue;
        }
        if (!records[i].item_id)
            continue;
        int32_t index = mz_catalog_find(svc->catalog, records[i].item_id);
        const struct mz_item *item = mz_catalog_item(svc->catalog, index);
        if (!item || item->retired)
            outcome[i] = MZ_ERR_UNKNOWN_ITEM;
        else if (scope && !mz_principal_allows_brand(scope, item->brand))
            outcome[i] = MZ_ERR_FORBIDDEN;
        else if (brand && strcmp(brand, item->brand) != 0)
            outcome[i] = MZ_ERR_INVALID; /* says another house than its item */
        else
            records[i].item_index = index;
    }
    pthread_rwlock_unlock(&svc->lock);
}

enum mz_status mz_service_hold_clients(struct mz_service *svc, const char **ids,
                                       size_t n)
{
    /* Held before fetched: an eviction between the fetch and the
     * learning would make the writer learn into an empty client. */
    if (!mz_client_cache_hold(svc->clients, ids, n))
        return MZ_ERR_NOMEM;
    const char **absent = malloc(sizeof *absent * (n > 0 ? n : 1));
    if (!absent) {
        mz_client_cache_release(svc->clients, ids, n);
        return MZ_ERR_NOMEM;
    }
    /* One read-lock pass finds the clients not in memory; only those are
     * fetched. Locking per event made each request queue behind the
     * learner's write lock up to once per event. A held client stays
     * resident, so what this pass saw still holds at learning time. */
    size_t n_absent = 0;
    mz_service_read_lock(svc);
    for (size_t i = 0; i < n; i++)
        if (!mz_client_cache_get(svc->clients, ids[i]))
            absent[n_absent++] = ids[i];
    pthread_rwlock_unlock(&svc->lock);
    enum mz_status status = MZ_OK;
    for (size_t i = 0; status == MZ_OK && i < n_absent; i++)
        status = mz_service_fetch_client(svc, absent[i], true);
    free(absent);
    if (status != MZ_OK)
        mz_client_cache_release(svc->clients, ids, n);
    return status;
}

enum mz_status mz_service_append_events(struct mz_service *svc,
                                        struct mz_event_record *records,
                                        size_t n)
{
    if (n == 0)
        return MZ_OK;
    const char **ids = calloc(n, sizeof *ids);
    if (!ids)
        return MZ_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        ids[i] = records[i].client_id;
    enum mz_status status = mz_service_hold_clients(svc, ids, n);
    if (status == MZ_OK) {
        status = mz_event_writer_submit(svc->writer, records, n);
        if (status != MZ_OK)
            mz_service_note_db_error(svc);
        mz_client_cache_release(svc->clients, ids, n);
    }
    free(ids);
    return status;
}

enum mz_status mz_service_submit_events(struct mz_service *svc,
                                        struct mz_event_record *records,
                                        enum mz_status *outcome, size_t n,
                                        const struct mz_principal *scope,
                                        struct mz_submit_counts *counts)
{
    *counts = (struct mz_submit_counts){0};
    check_items(svc, records, outcome, n, scope);
    /* The valid records, in their order, at the front of a copy. */
    struct mz_event_record *valid = malloc(sizeof *valid * (n > 0 ? n : 1));
    if (!valid)
        return MZ_ERR_NOMEM;
    size_t n_valid = 0;
    for (size_t i = 0; i < n; i++)
        if (outcome[i] == MZ_OK)
            valid[n_valid++] = records[i];
    counts->rejected = n - n_valid;
    enum mz_status status = MZ_OK;
    if (n_valid > 0)
        status = mz_service_append_events(svc, valid, n_valid);
    if (status == MZ_OK) {
        size_t v = 0;
        for (size_t i = 0; i < n; i++) {
            if (outcome[i] != MZ_OK)
                continue;
            records[i].seq = valid[v++].seq;
            if (records[i].seq > 0)
                counts->accepted++;
            else
                counts->duplicates++;
        }
        struct mz_service_counters *c = &svc->counters;
        atomic_fetch_add(&c->events_accepted, counts->accepted);
        atomic_fetch_add(&c->events_duplicate, counts->duplicates);
        atomic_fetch_add(&c->events_rejected, counts->rejected);
    }
    free(valid);
    return status;
}
