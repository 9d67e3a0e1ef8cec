/*-------------------------------------------------------------------------
 * client_cache.c
 *    Client records, reading a client back from PostgreSQL, and eviction.
 *    See client_cache.h for the rules.
 *-------------------------------------------------------------------------
 */
#include "api/client_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/json_attributes.h"
#include "model/bytes.h"

/* A client's persisted record: the learned levels and the facts, plus
 * the consent in force at the checkpoint (so a replay starts from it). */
#define CLIENT_BLOB_MAGIC 0x4d5a4345u /* "MZCE" */
#define CLIENT_BLOB_VERSION 1

/* A client used this recently is never evicted: a request may be between
 * fetching it and using it. */
#define EVICT_GRACE_MS 1000

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void touch(struct mz_client_entry *entry)
{
    atomic_store_explicit(&entry->last_used_ms, monotonic_ms(),
                          memory_order_relaxed);
}

size_t mz_cache_max_clients(const struct mz_model *model, size_t memory_limit)
{
    if (memory_limit == 0)
        return 0;
    size_t per_client = mz_client_resident_bytes(model) +
                        MZ_CACHE_CLIENT_OVERHEAD;
    size_t max = memory_limit / per_client;
    return max > 0 ? max : 1;
}

/* ---- records ----------------------------------------------------------- */

void *mz_cache_save_client(const struct mz_app *app,
                           const struct mz_client_entry *entry, size_t *len)
{
    size_t memory_len = 0, facts_len = 0;
    void *memory = mz_client_save(entry->memory, &memory_len);
    void *facts = mz_client_facts_save(entry->facts, app->catalog, &facts_len);
    void *out = NULL;
    if (memory && facts) {
        struct mz_wbuf w;
        mz_wbuf_init(&w);
        mz_wbuf_u32(&w, CLIENT_BLOB_MAGIC);
        mz_wbuf_u8(&w, CLIENT_BLOB_VERSION);
        mz_wbuf_u8(&w, entry->consent ? 1 : 0);
        mz_wbuf_u64(&w, (uint64_t)entry->events_logged);
        mz_wbuf_u32(&w, (uint32_t)memory_len);
        mz_wbuf_raw(&w, memory, memory_len);
        mz_wbuf_u32(&w, (uint32_t)facts_len);
        mz_wbuf_raw(&w, facts, facts_len);
        out = mz_wbuf_finish(&w, len);
    }
    free(memory);
    free(facts);
    return out;
}

bool mz_cache_restore_client(struct mz_app *app, const char *client_id,
                             const void *bytes, size_t len, char *err,
                             size_t err_len)
{
    struct mz_rbuf r;
    if (!mz_rbuf_open(&r, bytes, len) || mz_rbuf_u32(&r) != CLIENT_BLOB_MAGIC ||
        mz_rbuf_u8(&r) != CLIENT_BLOB_VERSION) {
        snprintf(err, err_len, "client %.64s: not a client record", client_id);
        return false;
    }
    bool consent = mz_rbuf_u8(&r) != 0;
    int64_t events_logged = (int64_t)mz_rbuf_u64(&r);
    uint32_t memory_len = mz_rbuf_u32(&r);
    const uint8_t *memory_bytes = mz_rbuf_raw(&r, memory_len);
    uint32_t facts_len = mz_rbuf_u32(&r);
    const uint8_t *facts_bytes = mz_rbuf_raw(&r, facts_len);
    if (r.failed || !memory_bytes || !facts_bytes) {
        snprintf(err, err_len, "client %.64s: truncated record", client_id);
        return false;
    }
    char why[256] = "";
    struct mz_client *memory =
        mz_client_load(app->model, memory_bytes, memory_len, why, sizeof why);
    enum mz_status status = MZ_OK;
    struct mz_client_facts *facts = mz_client_facts_load(
        app->catalog, facts_bytes, facts_len, &status, why, sizeof why);
    struct mz_client_entry *entry =
        memory && facts ? mz_client_table_get_or_add(app->clients, client_id)
                        : NULL;
    if (!entry) {
        snprintf(err, err_len, "client %.64s: %s", client_id,
                 why[0] ? why : "out of memory");
        mz_client_free(memory);
        mz_client_facts_free(facts);
        return false;
    }
    mz_client_free(entry->memory);
    mz_client_facts_free(entry->facts);
    entry->memory = memory;
    entry->facts = facts;
    entry->consent = consent;
    entry->events_logged = events_logged;
    entry->dirty = false;
    return true;
}

bool mz_cache_restore_attributes(struct mz_app *app, const char *client_id,
                                 const char *doc, bool create, char *err,
                                 size_t err_len)
{
    struct mz_client_attributes attributes;
    struct mz_json_error why = {.message = ""};
    struct mz_client_entry *entry = NULL;
    bool parsed = false;
    json_t *obj = json_loads(doc, 0, NULL);
    /* Consent is not taken from here: the record and the consent markers
     * of the log carry it in log order. */
    if (mz_json_read_attributes(obj, &attributes, &why) == MZ_OK) {
        parsed = true;
        entry = create ? mz_client_table_get_or_add(app->clients, client_id)
                       : mz_client_table_get(app->clients, client_id);
    }
    json_decref(obj);
    bool ok = parsed && (entry || !create);
    if (entry) {
        ok = mz_client_entry_set_attributes(entry, attributes.tier,
                                            attributes.region);
        entry->has_attributes = entry->has_attributes || ok;
    }
    if (!ok)
        snprintf(err, err_len, "attributes of client %.64s: %s", client_id,
                 why.message[0] ? why.message : "out of memory");
    mz_client_attributes_clear(&attributes);
    return ok;
}

/* ---- reading a client back --------------------------------------------- */

/* Wakes the checkpointer when the table has grown past max_clients by
 * 1/8. Caller holds the app lock. */
static void note_growth(struct mz_app *app)
{
    size_t max = app->max_clients;
    if (max == 0 || mz_client_table_count(app->clients) <= max + max / 8)
        return;
    pthread_mutex_lock(&app->stop_mutex);
    app->wake_checkpointer = true;
    pthread_cond_signal(&app->stop_cond);
    pthread_mutex_unlock(&app->stop_mutex);
}

/* Puts client_id into the table from record (either part may be NULL),
 * or empty when record has neither and create is true. Caller holds the
 * write lock. Returns the entry (NULL: none wanted, or an error in
 * *status). */
static struct mz_client_entry *
insert_record(struct mz_app *app, const char *client_id,
              const struct mz_store_client_record *record, bool create,
              enum mz_status *status)
{
    char err[512] = "";
    struct mz_client_entry *entry = mz_client_table_get(app->clients, client_id);

    *status = MZ_OK;
    if (entry) { /* another thread read it back first */
        touch(entry);
        return entry;
    }
    bool stored = record->state || record->attributes;
    if (!stored && !create)
        return NULL;
    bool ok = record->state
                  ? mz_cache_restore_client(app, client_id, record->state,
                                            record->state_len, err, sizeof err)
                  : mz_client_table_get_or_add(app->clients, client_id) != NULL;
    if (ok && record->attributes)
        ok = mz_cache_restore_attributes(app, client_id, record->attributes,
                                         true, err, sizeof err);
    entry = ok ? mz_client_table_get(app->clients, client_id) : NULL;
    if (!entry) {
        /* A half-restored entry must not be checkpointed over the row. */
        mz_client_table_remove(app->clients, client_id);
        if (err[0])
            fprintf(stderr,
                    "{\"level\":\"error\",\"msg\":\"client record unreadable\","
                    "\"reason\":\"%s\"}\n",
                    err);
        *status = err[0] ? MZ_ERR_INTERNAL : MZ_ERR_NOMEM;
        return NULL;
    }
    touch(entry);
    if (stored)
        atomic_fetch_add_explicit(&app->counters.clients_loaded, 1,
                                  memory_order_relaxed);
    note_growth(app);
    return entry;
}

enum mz_status mz_app_fetch_client(struct mz_app *app, const char *client_id,
                                   bool create)
{
    enum mz_status status = MZ_OK;
    bool done = false;
    while (!done) {
        pthread_rwlock_rdlock(&app->lock);
        struct mz_client_entry *entry =
            mz_client_table_get(app->clients, client_id);
        /* While no persisted client is out of memory, an absent id is a
         * new client: no need to ask the database. */
        bool all_resident = app->all_clients_resident;
        uint64_t erasures = app->erasures;
        if (entry)
            touch(entry);
        pthread_rwlock_unlock(&app->lock);
        if (entry || (all_resident && !create))
            return MZ_OK;

        struct mz_store_client_record record = {0};
        if (!all_resident) {
            status = mz_store_load_client(app->store, client_id, &record);
            if (status != MZ_OK) {
                atomic_fetch_add_explicit(&app->counters.db_errors, 1,
                                          memory_order_relaxed);
                return status;
            }
        }
        pthread_rwlock_wrlock(&app->lock);
        /* An erasure between the read and now may have been of this
         * client: what was read must not bring it back. Read again. */
        done = app->erasures == erasures;
        if (done)
            insert_record(app, client_id, &record, create, &status);
        pthread_rwlock_unlock(&app->lock);
        mz_store_client_record_clear(&record);
    }
    return status;
}

struct mz_client_entry *mz_cache_get_locked(struct mz_app *app,
                                            const char *client_id)
{
    struct mz_client_entry *entry = mz_client_table_get(app->clients, client_id);
    if (entry) {
        touch(entry);
        return entry;
    }
    struct mz_store_client_record record = {0};
    enum mz_status status = MZ_OK;
    if (!app->all_clients_resident)
        status = mz_store_load_client(app->store, client_id, &record);
    if (status == MZ_OK)
        entry = insert_record(app, client_id, &record, true, &status);
    mz_store_client_record_clear(&record);
    if (status != MZ_OK) {
        atomic_fetch_add_explicit(&app->counters.db_errors, 1,
                                  memory_order_relaxed);
        fprintf(stderr,
                "{\"level\":\"error\",\"msg\":\"client not learned from: its "
                "record could not be read\",\"reason\":\"%s\"}\n",
                mz_status_code(status));
    }
    return entry;
}

/* ---- eviction ------------------------------------------------------------ */

struct victim {
    int64_t last_used_ms;
    const char *client_id;           /* borrowed from the entry */
};

static int by_last_use(const void *a, const void *b)
{
    int64_t x = ((const struct victim *)a)->last_used_ms;
    int64_t y = ((const struct victim *)b)->last_used_ms;
    return (x > y) - (x < y);
}

size_t mz_cache_evict(struct mz_app *app)
{
    size_t max = app->max_clients;
    size_t evicted = 0;
    if (max == 0)
        return 0;
    /* Not while a checkpoint is between clearing dirty marks and knowing
     * its write succeeded (a failed write marks its clients dirty again,
     * so they must still be here). */
    pthread_mutex_lock(&app->checkpoint_mutex);
    pthread_mutex_lock(&app->cache_mutex);
    pthread_rwlock_wrlock(&app->lock);
    size_t count = mz_client_table_count(app->clients);
    struct victim *victims =
        count > max ? malloc(count * sizeof *victims) : NULL;
    if (victims) {
        int64_t recent = monotonic_ms() - EVICT_GRACE_MS;
        size_t n = 0, cursor = 0;
        struct mz_client_entry *entry;
        while ((entry = mz_client_table_next(app->clients, &cursor))) {
            int64_t used = atomic_load_explicit(&entry->last_used_ms,
                                                memory_order_relaxed);
            if (!entry->dirty && used <= recent)
                victims[n++] = (struct victim){used, entry->client_id};
        }
        qsort(victims, n, sizeof *victims, by_last_use);
        size_t target = max - max / 8;
        for (size_t i = 0; i < n && count - evicted > target; i++)
            evicted += mz_client_table_remove(app->clients,
                                              victims[i].client_id);
        if (evicted > 0)
            app->all_clients_resident = false;
        free(victims);
    }
    pthread_rwlock_unlock(&app->lock);
    pthread_mutex_unlock(&app->cache_mutex);
    pthread_mutex_unlock(&app->checkpoint_mutex);
    atomic_fetch_add_explicit(&app->counters.clients_evicted, evicted,
                              memory_order_relaxed);
    return evicted;
}
