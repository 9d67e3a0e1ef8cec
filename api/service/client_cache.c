/*-------------------------------------------------------------------------
 * client_cache.c
 *    The clients in memory: entries, read-back, holds and eviction. See
 *    client_cache.h for the rules.
 *-------------------------------------------------------------------------
 */
#include "api/service/client_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/json_attributes.h"
#include "model/client_record.h"
#include "model/hash.h"
#include "model/log.h"

/* A client used this recently is never evicted: a request may be between
 * fetching it and using it. */
#define EVICT_GRACE_MS 1000

struct mz_client_cache {
    const struct mz_model *model;     /* borrowed */
    const struct mz_catalog *catalog; /* borrowed */
    struct mz_store *store;           /* borrowed */
    pthread_rwlock_t *lock;           /* borrowed: the service's state lock */
    struct mz_hash_table *entries;    /* owned: id -> owned entry (ptr) */
    size_t max_clients;               /* 0: no limit */
    atomic_bool all_resident;         /* no persisted client is out of
                                         memory: an absent id is new.
                                         Written under the write lock;
                                         atomic for a look without it
                                         (mz_client_cache_needs_store) */
    uint64_t erasures;                /* clients erased so far: a read-back
                                         that overlapped one reads again */
    mz_cache_growth_fn on_growth;
    void *growth_ctx;

    pthread_mutex_t impression_locks[MZ_CACHE_IMPRESSION_LOCKS];

    pthread_mutex_t hold_mutex; /* guards held */
    struct mz_hash_table *held; /* owned: id -> hold count (index) */

    atomic_uint_fast64_t evicted;
    atomic_uint_fast64_t loaded;
};

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

/* ---- entries ----------------------------------------------------------- */

static void entry_free(struct mz_client_entry *entry)
{
    if (!entry)
        return;
    mz_client_free(entry->memory);
    mz_client_facts_free(entry->facts);
    mz_client_privates_clear(&entry->privates);
    free(entry->tier);
    mz_brand_tiers_clear(&entry->tiers);
    free(entry->region);
    free(entry);
}

/* A new empty entry for client_id (borrowed), or NULL on allocation
 * failure. */
static struct mz_client_entry *entry_new(struct mz_client_cache *cache,
                                         const char *client_id)
{
    struct mz_client_entry *entry = calloc(1, sizeof *entry);
    if (!entry)
        return NULL;
    entry->impressions_lock =
        &cache->impression_locks[mz_hash_string(client_id) %
                                 MZ_CACHE_IMPRESSION_LOCKS];
    entry->memory = mz_client_new(cache->model);
    entry->facts = mz_client_facts_new();
    entry->consent = true;
    if (!entry->memory || !entry->facts) {
        entry_free(entry);
        return NULL;
    }
    return entry;
}

bool mz_client_entry_set_attributes(struct mz_client_entry *entry,
                                    const char *tier,
                                    const struct mz_brand_tiers *tiers,
                                    const char *region)
{
    char *new_tier = tier ? strdup(tier) : NULL;
    char *new_region = region ? strdup(region) : NULL;
    struct mz_brand_tiers new_tiers;
    bool copied = mz_brand_tiers_copy(&new_tiers, tiers);
    if ((tier && !new_tier) || (region && !new_region) || !copied) {
        free(new_tier);
        free(new_region);
        mz_brand_tiers_clear(&new_tiers);
        return false;
    }
    free(entry->tier);
    free(entry->region);
    mz_brand_tiers_clear(&entry->tiers);
    entry->tier = new_tier;
    entry->region = new_region;
    entry->tiers = new_tiers;
    return true;
}

/* ---- the cache ----------------------------------------------------------- */

size_t mz_client_cache_max_clients(const struct mz_model *model,
                                   size_t memory_limit)
{
    if (memory_limit == 0)
        return 0;
    size_t per_client =
        mz_client_resident_bytes(model) + MZ_CACHE_CLIENT_OVERHEAD;
    size_t max = memory_limit / per_client;
    return max > 0 ? max : 1;
}

struct mz_client_cache *mz_client_cache_new(
    const struct mz_model *model, const struct mz_catalog *catalog,
    struct mz_store *store, pthread_rwlock_t *state_lock, size_t memory_limit,
    mz_cache_growth_fn on_growth, void *ctx)
{
    struct mz_client_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->model = model;
    cache->catalog = catalog;
    cache->store = store;
    cache->lock = state_lock;
    cache->max_clients = mz_client_cache_max_clients(model, memory_limit);
    cache->all_resident = true;
    cache->on_growth = on_growth;
    cache->growth_ctx = ctx;
    pthread_mutex_init(&cache->hold_mutex, NULL);
    for (int i = 0; i < MZ_CACHE_IMPRESSION_LOCKS; i++)
        pthread_mutex_init(&cache->impression_locks[i], NULL);
    cache->entries = mz_hash_table_new();
    cache->held = mz_hash_table_new();
    if (!cache->entries || !cache->held) {
        mz_client_cache_free(cache);
        return NULL;
    }
    return cache;
}

static void free_entries(struct mz_hash_table *entries)
{
    size_t cursor = 0;
    union mz_hash_value value;
    while (mz_hash_table_next(entries, &cursor, NULL, &value))
        entry_free(value.ptr);
}

void mz_client_cache_free(struct mz_client_cache *cache)
{
    if (!cache)
        return;
    if (cache->entries)
        free_entries(cache->entries);
    mz_hash_table_free(cache->entries);
    mz_hash_table_free(cache->held);
    pthread_mutex_destroy(&cache->hold_mutex);
    for (int i = 0; i < MZ_CACHE_IMPRESSION_LOCKS; i++)
        pthread_mutex_destroy(&cache->impression_locks[i]);
    free(cache);
}

size_t mz_client_cache_count(const struct mz_client_cache *cache)
{
    return mz_hash_table_count(cache->entries);
}

size_t mz_client_cache_limit(const struct mz_client_cache *cache)
{
    return cache->max_clients;
}

uint64_t mz_client_cache_evicted(const struct mz_client_cache *cache)
{
    return atomic_load_explicit(&cache->evicted, memory_order_relaxed);
}

uint64_t mz_client_cache_loaded(const struct mz_client_cache *cache)
{
    return atomic_load_explicit(&cache->loaded, memory_order_relaxed);
}

bool mz_client_cache_full(const struct mz_client_cache *cache)
{
    return cache->max_clients > 0 &&
           mz_hash_table_count(cache->entries) >= cache->max_clients;
}

void mz_client_cache_note_not_resident(struct mz_client_cache *cache)
{
    cache->all_resident = false;
}

void mz_client_cache_reset(struct mz_client_cache *cache)
{
    free_entries(cache->entries);
    mz_hash_table_clear(cache->entries);
    cache->all_resident = true;
}

struct mz_client_entry *mz_client_cache_get(const struct mz_client_cache *cache,
                                            const char *client_id)
{
    union mz_hash_value value;
    if (!mz_hash_table_get(cache->entries, client_id, &value))
        return NULL;
    touch(value.ptr);
    return value.ptr;
}

/* Asks for an eviction when the table has grown past max_clients by 1/8.
 * Caller holds the lock. */
static void note_growth(struct mz_client_cache *cache)
{
    size_t max = cache->max_clients;
    if (max == 0 || mz_hash_table_count(cache->entries) <= max + max / 8)
        return;
    if (cache->on_growth)
        cache->on_growth(cache->growth_ctx);
}

struct mz_client_entry *mz_client_cache_get_or_add(
    struct mz_client_cache *cache, const char *client_id)
{
    struct mz_client_entry *entry = mz_client_cache_get(cache, client_id);
    if (entry)
        return entry;
    entry = entry_new(cache, client_id);
    if (!entry)
        return NULL;
    entry->client_id = mz_hash_table_put(cache->entries, client_id,
                                         (union mz_hash_value){.ptr = entry});
    if (!entry->client_id) {
        entry_free(entry);
        return NULL;
    }
    touch(entry);
    note_growth(cache);
    return entry;
}

struct mz_client_entry *mz_client_cache_next(
    const struct mz_client_cache *cache, size_t *cursor)
{
    union mz_hash_value value;
    return mz_hash_table_next(cache->entries, cursor, NULL, &value) ? value.ptr
                                                                    : NULL;
}

/* Removes and frees client_id's entry; returns whether it existed. */
static bool remove_entry(struct mz_client_cache *cache, const char *client_id)
{
    union mz_hash_value old;
    if (!mz_hash_table_remove(cache->entries, client_id, &old))
        return false;
    entry_free(old.ptr);
    return true;
}

void mz_client_cache_erase(struct mz_client_cache *cache, const char *client_id)
{
    remove_entry(cache, client_id);
    cache->erasures++;
}

/* ---- stored records ------------------------------------------------------ */

bool mz_client_cache_restore(struct mz_client_cache *cache,
                             const char *client_id, const void *bytes,
                             size_t len, char *err, size_t err_len)
{
    struct mz_client_record record;
    char why[256] = "";
    if (!mz_client_record_load(cache->model, cache->catalog, bytes, len,
                               &record, why, sizeof why)) {
        snprintf(err, err_len, "client %.64s: %s", client_id, why);
        return false;
    }
    struct mz_client_entry *entry =
        mz_client_cache_get_or_add(cache, client_id);
    if (!entry) {
        snprintf(err, err_len, "client %.64s: out of memory", client_id);
        mz_client_free(record.memory);
        mz_client_facts_free(record.facts);
        mz_client_privates_clear(&record.privates);
        return false;
    }
    mz_client_free(entry->memory);
    mz_client_facts_free(entry->facts);
    mz_client_privates_clear(&entry->privates);
    entry->memory = record.memory;
    entry->facts = record.facts;
    entry->privates = record.privates;
    entry->consent = record.consent;
    entry->events_logged = record.events_logged;
    entry->dirty = false;
    return true;
}

bool mz_client_cache_restore_attributes(struct mz_client_cache *cache,
                                        const char *client_id, const char *doc,
                                        bool create, char *err, size_t err_len)
{
    struct mz_client_attributes attrs = {.consent = -1};
    struct mz_json_error why = {.message = ""};
    json_t *obj = json_loads(doc, 0, NULL);
    /* Consent is not taken from here: the record and the consent markers
     * of the log carry it in log order. */
    bool ok = obj && mz_json_read_attributes(obj, &attrs, &why) == MZ_OK;
    json_decref(obj);
    struct mz_client_entry *entry = NULL;
    if (ok) {
        entry = create ? mz_client_cache_get_or_add(cache, client_id)
                       : mz_client_cache_get(cache, client_id);
        ok = entry || !create;
    }
    if (entry) {
        ok = mz_client_entry_set_attributes(entry, attrs.tier, &attrs.tiers,
                                            attrs.region);
        entry->has_attributes = entry->has_attributes || ok;
    }
    if (!ok)
        snprintf(err, err_len, "attributes of client %.64s: %s", client_id,
                 why.message[0] ? why.message : "out of memory");
    mz_client_attributes_clear(&attrs);
    return ok;
}

/* ---- reading a client back ------------------------------------------------
 */

/* Puts client_id into the table from record (either part may be NULL),
 * or empty when record has neither and create is true. Caller holds the
 * write lock. Returns the entry (NULL: none wanted, or an error in
 * *status). */
static struct mz_client_entry *insert_record(
    struct mz_client_cache *cache, const char *client_id,
    const struct mz_store_client_record *record, bool create,
    enum mz_status *status)
{
    char err[512] = "";
    struct mz_client_entry *entry = mz_client_cache_get(cache, client_id);

    *status = MZ_OK;
    if (entry) /* another thread read it back first */
        return entry;
    bool stored = record->state || record->attributes;
    if (!stored && !create)
        return NULL;
    bool ok = record->state
                  ? mz_client_cache_restore(cache, client_id, record->state,
                                            record->state_len, err, sizeof err)
                  : mz_client_cache_get_or_add(cache, client_id) != NULL;
    if (ok && record->attributes)
        ok = mz_client_cache_restore_attributes(
            cache, client_id, record->attributes, true, err, sizeof err);
    entry = ok ? mz_client_cache_get(cache, client_id) : NULL;
    if (!entry) {
        /* A half-restored entry must not be checkpointed over the row. */
        remove_entry(cache, client_id);
        if (err[0])
            mz_log_reason(MZ_LOG_ERROR, "client record unreadable", err);
        *status = err[0] ? MZ_ERR_INTERNAL : MZ_ERR_NOMEM;
        return NULL;
    }
    if (stored)
        atomic_fetch_add_explicit(&cache->loaded, 1, memory_order_relaxed);
    return entry;
}

bool mz_client_cache_needs_fetch(const struct mz_client_cache *cache,
                                 const char *client_id, bool create)
{
    /* While no persisted client is out of memory, an absent id is a new
     * client: no need to ask the database. */
    return !mz_client_cache_get(cache, client_id) &&
           (!cache->all_resident || create);
}

bool mz_client_cache_needs_store(struct mz_client_cache *cache,
                                 const char *client_id)
{
    if (atomic_load_explicit(&cache->all_resident, memory_order_relaxed))
        return false;
    pthread_rwlock_rdlock(cache->lock);
    bool absent = mz_client_cache_needs_fetch(cache, client_id, false);
    pthread_rwlock_unlock(cache->lock);
    return absent;
}

enum mz_status mz_client_cache_fetch(struct mz_client_cache *cache,
                                     const char *client_id, bool create)
{
    enum mz_status status = MZ_OK;
    bool done = false;
    while (!done) {
        pthread_rwlock_rdlock(cache->lock);
        bool needed = mz_client_cache_needs_fetch(cache, client_id, create);
        bool all_resident = cache->all_resident;
        uint64_t erasures = cache->erasures;
        pthread_rwlock_unlock(cache->lock);
        if (!needed)
            return MZ_OK;

        struct mz_store_client_record record = {0};
        if (!all_resident) {
            status = mz_store_load_client(cache->store, client_id, &record);
            if (status != MZ_OK)
                return status;
        }
        pthread_rwlock_wrlock(cache->lock);
        /* An erasure between the read and now may have been of this
         * client: what was read must not bring it back. Read again. */
        done = cache->erasures == erasures;
        if (done)
            insert_record(cache, client_id, &record, create, &status);
        pthread_rwlock_unlock(cache->lock);
        mz_store_client_record_clear(&record);
    }
    return status;
}

struct mz_client_entry *mz_client_cache_read_back(struct mz_client_cache *cache,
                                                  const char *client_id,
                                                  enum mz_status *status)
{
    *status = MZ_OK;
    struct mz_client_entry *entry = mz_client_cache_get(cache, client_id);
    if (entry)
        return entry;
    struct mz_store_client_record record = {0};
    if (!cache->all_resident)
        *status = mz_store_load_client(cache->store, client_id, &record);
    if (*status == MZ_OK)
        entry = insert_record(cache, client_id, &record, true, status);
    mz_store_client_record_clear(&record);
    return entry;
}

/* ---- holds ------------------------------------------------------------------
 */

/* Adds delta to the hold count of id. Caller holds hold_mutex. Returns
 * false on allocation failure (nothing changed). */
static bool add_hold(struct mz_client_cache *cache, const char *id, int delta)
{
    int32_t count = mz_hash_table_get_index(cache->held, id);
    count = (count < 0 ? 0 : count) + delta;
    if (count <= 0) {
        mz_hash_table_remove(cache->held, id, NULL);
        return true;
    }
    return mz_hash_table_put(cache->held, id,
                             (union mz_hash_value){.index = count}) != NULL;
}

bool mz_client_cache_hold(struct mz_client_cache *cache, const char *const *ids,
                          size_t n)
{
    pthread_mutex_lock(&cache->hold_mutex);
    size_t done = 0;
    while (done < n && add_hold(cache, ids[done], 1))
        done++;
    if (done < n)
        for (size_t i = 0; i < done; i++)
            add_hold(cache, ids[i], -1);
    pthread_mutex_unlock(&cache->hold_mutex);
    return done == n;
}

void mz_client_cache_release(struct mz_client_cache *cache,
                             const char *const *ids, size_t n)
{
    pthread_mutex_lock(&cache->hold_mutex);
    for (size_t i = 0; i < n; i++)
        add_hold(cache, ids[i], -1);
    pthread_mutex_unlock(&cache->hold_mutex);
}

/* ---- eviction -------------------------------------------------------------
 */

struct victim {
    int64_t last_used_ms;
    const char *client_id; /* borrowed from the table */
};

static int by_last_use(const void *a, const void *b)
{
    int64_t x = ((const struct victim *)a)->last_used_ms;
    int64_t y = ((const struct victim *)b)->last_used_ms;
    return (x > y) - (x < y);
}

size_t mz_client_cache_evict(struct mz_client_cache *cache)
{
    size_t max = cache->max_clients;
    size_t evicted = 0;
    if (max == 0)
        return 0;
    /* The hold mutex first: a submitter holds its clients before it
     * fetches them, so a held client is never a victim. */
    pthread_mutex_lock(&cache->hold_mutex);
    pthread_rwlock_wrlock(cache->lock);
    size_t count = mz_hash_table_count(cache->entries);
    struct victim *victims =
        count > max ? malloc(count * sizeof *victims) : NULL;
    if (victims) {
        int64_t recent = monotonic_ms() - EVICT_GRACE_MS;
        size_t n = 0, cursor = 0;
        struct mz_client_entry *entry;
        while ((entry = mz_client_cache_next(cache, &cursor))) {
            int64_t used = atomic_load_explicit(&entry->last_used_ms,
                                                memory_order_relaxed);
            if (!entry->dirty && used <= recent &&
                mz_hash_table_get_index(cache->held, entry->client_id) < 0)
                victims[n++] = (struct victim){used, entry->client_id};
        }
        qsort(victims, n, sizeof *victims, by_last_use);
        size_t target = max - max / 8;
        for (size_t i = 0; i < n && count - evicted > target; i++) {
            /* The id is the table's copy, freed by the removal. */
            char id[MZ_ID_MAX_BYTES + 1];
            snprintf(id, sizeof id, "%s", victims[i].client_id);
            evicted += remove_entry(cache, id);
        }
        if (evicted > 0)
            cache->all_resident = false;
        free(victims);
    }
    pthread_rwlock_unlock(cache->lock);
    pthread_mutex_unlock(&cache->hold_mutex);
    atomic_fetch_add_explicit(&cache->evicted, evicted, memory_order_relaxed);
    return evicted;
}
