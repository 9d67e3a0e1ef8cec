/*-------------------------------------------------------------------------
 * test_client_cache.c
 *    Unit tests of api/service/client_cache.c against a real, throw-away
 *    PostgreSQL (tests/harness/with_pg.sh provides
 *    MAISON_TEST_DATABASE_URL; without it the test is skipped): entries,
 *    the limit as a client count, eviction (only clean, unheld clients
 *    unused for the grace period, least recently used first, down to 7/8
 *    of the limit), reading an evicted client back exactly as it was,
 *    erasure, and the refusal of bad stored records and documents.
 *
 * Each case opens the store on a database of its own. Client rows are
 * written with mz_store_write_checkpoint before the cache may evict them,
 * as the service does. Most cases age entries by setting their
 * last_used_ms (a public field) instead of sleeping; one case waits out
 * the real grace period once.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/service/client_cache.h"
#include "model/client_record.h"
#include "tests/harness/test_db.h"

enum { N_ITEMS = 30 };

/* ---- the database ------------------------------------------------------ */

/* A fresh database named for the test; returns its conninfo (static
 * buffer). */
static const char *fresh_db(const char *name)
{
    static char conninfo[1024];
    char db[128];

    snprintf(db, sizeof db, "mz_cache_%s", name);
    return mz_test_fresh_db(db, conninfo, sizeof conninfo);
}

/* ---- the fixture -------------------------------------------------------- */

struct fixture {
    struct mz_store *store;
    struct mz_catalog *catalog;
    struct mz_model *model;
    pthread_rwlock_t lock;
    struct mz_client_cache *cache;
    int growth_calls;
    int64_t seq; /* of the last checkpoint written */
};

static void on_growth(void *ctx)
{
    ((struct fixture *)ctx)->growth_calls++;
}

static size_t bytes_per_client(const struct mz_model *model)
{
    return mz_client_resident_bytes(model) + MZ_CACHE_CLIENT_OVERHEAD;
}

/* A store on a fresh database, a catalog and a model of N_ITEMS items,
 * and a cache holding max_clients clients (0: no limit). */
static void fixture_open(struct fixture *fx, const char *db, size_t max_clients)
{
    struct mz_model_config cfg;
    char err[512] = "";

    memset(fx, 0, sizeof *fx);
    fx->store = mz_store_open(fresh_db(db), 2, err, sizeof err);
    ck_assert_msg(fx->store != NULL, "mz_store_open: %s", err);
    mz_model_config_defaults(&cfg);
    cfg.dim = 16;
    fx->model = mz_model_new(&cfg, err, sizeof err);
    ck_assert_msg(fx->model != NULL, "mz_model_new: %s", err);
    fx->catalog = mz_catalog_new();
    ck_assert_ptr_nonnull(fx->catalog);
    for (int i = 0; i < N_ITEMS; i++) {
        char id[32], token[32];
        snprintf(id, sizeof id, "sku-%d", i);
        snprintf(token, sizeof token, "category=c%d", i % 5);
        struct mz_item *item = mz_item_new();
        item->item_id = strdup(id);
        item->brand = strdup("maison-a");
        item->category = strdup(token + strlen("category="));
        ck_assert_int_eq(mz_catalog_upsert(fx->catalog, item, NULL), i);
        const char *tokens[] = {token};
        ck_assert_int_eq(mz_model_add_item(fx->model, tokens, 1), i);
    }
    pthread_rwlock_init(&fx->lock, NULL);
    fx->cache = mz_client_cache_new(
        fx->model, fx->catalog, fx->store, &fx->lock,
        max_clients * bytes_per_client(fx->model), on_growth, fx);
    ck_assert_ptr_nonnull(fx->cache);
    ck_assert_uint_eq(mz_client_cache_limit(fx->cache), max_clients);
}

static void fixture_close(struct fixture *fx)
{
    mz_client_cache_free(fx->cache);
    pthread_rwlock_destroy(&fx->lock);
    mz_catalog_free(fx->catalog);
    mz_model_free(fx->model);
    mz_store_close(fx->store);
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Makes entry look last used ms_ago milliseconds ago. */
static void set_age(struct mz_client_entry *entry, int64_t ms_ago)
{
    atomic_store(&entry->last_used_ms, monotonic_ms() - ms_ago);
}

static void client_id(char *buf, size_t len, int k)
{
    snprintf(buf, len, "client-%02d", k);
}

/* The record of a client that learned a stream of its own (k picks it). */
static void *learned_record(const struct fixture *fx, int k, size_t *len)
{
    struct mz_client *memory = mz_client_new(fx->model);
    struct mz_client_facts *facts = mz_client_facts_new();
    ck_assert_ptr_nonnull(memory);
    ck_assert_ptr_nonnull(facts);
    for (int t = 0; t < 8 + k; t++) {
        struct mz_event_obs ev = {
            .item = (int32_t)((k * 3 + t * 5) % N_ITEMS),
            .type = t % 4 == 3 ? MZ_EV_PURCHASE : MZ_EV_VIEW,
            .ts = 1700000000 + k * 1000 + t * 10,
            .seq = t + 1,
            .quantity = 1,
        };
        mz_model_observe(fx->model, memory, &ev, false);
        ck_assert_int_eq(mz_client_facts_observe(facts, &ev), MZ_OK);
    }
    void *bytes = mz_client_record_save(memory, facts, NULL, fx->catalog,
                                        k % 5 != 4, 8 + k, len);
    ck_assert_ptr_nonnull(bytes);
    mz_client_free(memory);
    mz_client_facts_free(facts);
    return bytes;
}

/* The record of entry as a checkpoint would write it (caller frees). */
static void *entry_record(const struct fixture *fx,
                          const struct mz_client_entry *entry, size_t *len)
{
    void *bytes =
        mz_client_record_save(entry->memory, entry->facts, NULL, fx->catalog,
                              entry->consent, entry->events_logged, len);
    ck_assert_ptr_nonnull(bytes);
    return bytes;
}

/* Stores client k's learned record as a checkpoint row and restores it
 * into the cache (clean), as a start-up or a checkpoint leaves it.
 * Returns the entry. */
static struct mz_client_entry *put_client(struct fixture *fx, int k)
{
    char id[32], err[512] = "";
    size_t len = 0;
    void *bytes = learned_record(fx, k, &len);
    struct mz_client_blob blob = {id, bytes, len};

    client_id(id, sizeof id, k);
    ck_assert_int_eq(mz_store_write_checkpoint(fx->store, ++fx->seq, &blob, 1,
                                               NULL, 0, NULL),
                     MZ_OK);
    pthread_rwlock_wrlock(&fx->lock);
    ck_assert_msg(
        mz_client_cache_restore(fx->cache, id, bytes, len, err, sizeof err),
        "restore %s: %s", id, err);
    struct mz_client_entry *entry = mz_client_cache_get(fx->cache, id);
    pthread_rwlock_unlock(&fx->lock);
    ck_assert_ptr_nonnull(entry);
    ck_assert(!entry->dirty);
    free(bytes);
    return entry;
}

/* Whether client k is in memory (without marking it used). */
static bool resident(struct fixture *fx, int k)
{
    char id[32];
    size_t cursor = 0;
    struct mz_client_entry *entry;
    bool found = false;

    client_id(id, sizeof id, k);
    pthread_rwlock_rdlock(&fx->lock);
    while (!found && (entry = mz_client_cache_next(fx->cache, &cursor)))
        found = strcmp(entry->client_id, id) == 0;
    pthread_rwlock_unlock(&fx->lock);
    return found;
}

static size_t count(struct fixture *fx)
{
    pthread_rwlock_rdlock(&fx->lock);
    size_t n = mz_client_cache_count(fx->cache);
    pthread_rwlock_unlock(&fx->lock);
    return n;
}

/* ---- entries --------------------------------------------------------------
 */

START_TEST(test_max_clients_is_the_memory_limit_over_one_clients_bytes)
{
    struct fixture fx;

    fixture_open(&fx, "max_clients", 0);
    size_t per_client = bytes_per_client(fx.model);
    ck_assert_uint_eq(mz_client_cache_max_clients(fx.model, 0), 0);
    ck_assert_uint_eq(mz_client_cache_max_clients(fx.model, 1), 1);
    ck_assert_uint_eq(mz_client_cache_max_clients(fx.model, per_client - 1), 1);
    ck_assert_uint_eq(mz_client_cache_max_clients(fx.model, 10 * per_client),
                      10);
    ck_assert_uint_eq(
        mz_client_cache_max_clients(fx.model, 11 * per_client - 1), 10);
    /* No limit: nothing is ever full nor evicted. */
    pthread_rwlock_wrlock(&fx.lock);
    for (int k = 0; k < 50; k++) {
        char id[32];
        client_id(id, sizeof id, k);
        set_age(mz_client_cache_get_or_add(fx.cache, id), 60000);
    }
    ck_assert(!mz_client_cache_full(fx.cache));
    pthread_rwlock_unlock(&fx.lock);
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 0);
    ck_assert_uint_eq(count(&fx), 50);
    ck_assert_int_eq(fx.growth_calls, 0);
    fixture_close(&fx);
}
END_TEST

START_TEST(test_get_or_add_creates_one_empty_consenting_entry_per_id)
{
    struct fixture fx;
    char id[32];

    fixture_open(&fx, "get_or_add", 8);
    pthread_rwlock_wrlock(&fx.lock);
    ck_assert_ptr_null(mz_client_cache_get(fx.cache, "client-00"));
    struct mz_client_entry *entry =
        mz_client_cache_get_or_add(fx.cache, "client-00");
    ck_assert_ptr_nonnull(entry);
    ck_assert_str_eq(entry->client_id, "client-00");
    ck_assert_ptr_nonnull(entry->memory);
    ck_assert_ptr_nonnull(entry->facts);
    ck_assert_int_eq(mz_client_event_count(entry->memory), 0);
    ck_assert(entry->consent);
    ck_assert(!entry->dirty);
    ck_assert(!entry->has_attributes);
    ck_assert_ptr_null(entry->tier);
    ck_assert_ptr_null(entry->region);
    ck_assert_int_eq(entry->events_logged, 0);
    ck_assert_ptr_eq(mz_client_cache_get_or_add(fx.cache, "client-00"), entry);
    ck_assert_ptr_eq(mz_client_cache_get(fx.cache, "client-00"), entry);
    ck_assert_uint_eq(mz_client_cache_count(fx.cache), 1);

    for (int k = 1; k < 8; k++) {
        ck_assert(!mz_client_cache_full(fx.cache));
        client_id(id, sizeof id, k);
        ck_assert_ptr_nonnull(mz_client_cache_get_or_add(fx.cache, id));
    }
    ck_assert(mz_client_cache_full(fx.cache));
    ck_assert_uint_eq(mz_client_cache_count(fx.cache), 8);

    /* next visits every entry exactly once. */
    int seen[8] = {0};
    size_t cursor = 0;
    while ((entry = mz_client_cache_next(fx.cache, &cursor))) {
        int k = atoi(entry->client_id + strlen("client-"));
        ck_assert_int_lt(k, 8);
        seen[k]++;
    }
    for (int k = 0; k < 8; k++)
        ck_assert_int_eq(seen[k], 1);

    /* Setting attributes copies them. */
    char tier[] = "vip";
    entry = mz_client_cache_get(fx.cache, "client-03");
    char brand[] = "maison-a", at_brand[] = "prospect";
    struct mz_brand_tier one = {brand, at_brand};
    struct mz_brand_tiers tiers = {&one, 1};
    ck_assert(mz_client_entry_set_attributes(entry, tier, &tiers, NULL));
    tier[0] = 'X';
    brand[0] = 'X';
    at_brand[0] = 'X';
    ck_assert_str_eq(entry->tier, "vip");
    ck_assert_uint_eq(entry->tiers.count, 1);
    ck_assert_str_eq(mz_brand_tiers_at(&entry->tiers, "maison-a", "?"),
                     "prospect");
    ck_assert_str_eq(mz_brand_tiers_at(&entry->tiers, "maison-b", "vip"),
                     "vip");
    ck_assert_ptr_null(entry->region);
    ck_assert(mz_client_entry_set_attributes(entry, NULL, NULL, "eu"));
    ck_assert_ptr_null(entry->tier);
    ck_assert_uint_eq(entry->tiers.count, 0);
    ck_assert_str_eq(entry->region, "eu");

    mz_client_cache_reset(fx.cache);
    ck_assert_uint_eq(mz_client_cache_count(fx.cache), 0);
    ck_assert_ptr_null(mz_client_cache_get(fx.cache, "client-03"));
    pthread_rwlock_unlock(&fx.lock);
    fixture_close(&fx);
}
END_TEST

START_TEST(test_growing_an_eighth_past_the_limit_asks_for_an_eviction)
{
    struct fixture fx;
    char id[32];

    fixture_open(&fx, "growth", 16);
    pthread_rwlock_wrlock(&fx.lock);
    for (int k = 0; k < 18; k++) { /* 16 + 16/8 */
        client_id(id, sizeof id, k);
        ck_assert_ptr_nonnull(mz_client_cache_get_or_add(fx.cache, id));
    }
    ck_assert_int_eq(fx.growth_calls, 0);
    client_id(id, sizeof id, 18);
    ck_assert_ptr_nonnull(mz_client_cache_get_or_add(fx.cache, id));
    ck_assert_int_eq(fx.growth_calls, 1);
    /* A client already there is no growth. */
    ck_assert_ptr_nonnull(mz_client_cache_get_or_add(fx.cache, id));
    ck_assert_int_eq(fx.growth_calls, 1);
    pthread_rwlock_unlock(&fx.lock);
    fixture_close(&fx);
}
END_TEST

/* ---- eviction ---------------------------------------------------------------
 */

START_TEST(test_eviction_takes_least_recently_used_down_to_seven_eighths)
{
    struct fixture fx;

    fixture_open(&fx, "evict_lru", 16);
    /* 16 clients: at the limit, nothing to do however old they are. */
    for (int k = 0; k < 16; k++)
        set_age(put_client(&fx, k), 10000);
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 0);
    ck_assert_uint_eq(count(&fx), 16);

    /* 20 clients, client k last used (20 - k) seconds ago, in an order
     * unrelated to their insertion. */
    for (int k = 16; k < 20; k++)
        put_client(&fx, k);
    pthread_rwlock_rdlock(&fx.lock);
    size_t cursor = 0;
    struct mz_client_entry *entry;
    while ((entry = mz_client_cache_next(fx.cache, &cursor))) {
        int k = atoi(entry->client_id + strlen("client-"));
        int rank = (k * 7) % 20; /* a permutation of 0..19 */
        set_age(entry, 2000 + (20 - rank) * 1000);
    }
    pthread_rwlock_unlock(&fx.lock);

    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 6); /* 20 -> 14 */
    ck_assert_uint_eq(count(&fx), 14);
    ck_assert_uint_eq(mz_client_cache_evicted(fx.cache), 6);
    for (int k = 0; k < 20; k++) {
        int rank = (k * 7) % 20;
        ck_assert_msg(resident(&fx, k) == (rank >= 6),
                      "client %d (rank %d by age) %s", k, rank,
                      resident(&fx, k) ? "kept" : "evicted");
    }
    /* At or under the target, a second pass does nothing. */
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 0);
    ck_assert_uint_eq(mz_client_cache_evicted(fx.cache), 6);
    fixture_close(&fx);
}
END_TEST

START_TEST(test_eviction_never_takes_dirty_held_or_recently_used_clients)
{
    struct fixture fx;
    char id[32];

    fixture_open(&fx, "evict_spare", 8);
    struct mz_client_entry *entries[12];
    for (int k = 0; k < 12; k++) {
        entries[k] = put_client(&fx, k);
        set_age(entries[k], 20000 - k * 1000); /* client 0 the oldest */
    }
    pthread_rwlock_wrlock(&fx.lock);
    entries[0]->dirty = true; /* changed since the checkpoint */
    pthread_rwlock_unlock(&fx.lock);
    const char *held[] = {"client-01"};
    ck_assert(mz_client_cache_hold(fx.cache, held, 1));
    ck_assert(mz_client_cache_hold(fx.cache, held, 1)); /* holds nest */
    set_age(entries[2], 200); /* within the grace period */

    /* 12 -> 7: the five oldest of the others go. */
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 5);
    for (int k = 0; k < 12; k++)
        ck_assert_msg(resident(&fx, k) == (k <= 2 || k >= 8), "client %d %s", k,
                      resident(&fx, k) ? "kept" : "evicted");

    /* Make the spared three the only candidates: the limit is soft, they
     * stay while dirty, held or recent. */
    pthread_rwlock_wrlock(&fx.lock);
    for (int k = 8; k < 12; k++)
        entries[k]->dirty = true;
    for (int k = 12; k < 14; k++) {
        client_id(id, sizeof id, k);
        mz_client_cache_get_or_add(fx.cache, id)->dirty = true;
    }
    pthread_rwlock_unlock(&fx.lock);
    ck_assert_uint_eq(count(&fx), 9);
    set_age(entries[2], 200);
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 0);

    /* One release: still held once. */
    mz_client_cache_release(fx.cache, held, 1);
    set_age(entries[2], 200);
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 0);
    /* The last release: client 1 may go now (9 -> 8 is not yet 7, but
     * nothing else may). */
    mz_client_cache_release(fx.cache, held, 1);
    set_age(entries[2], 200);
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 1);
    ck_assert(!resident(&fx, 1));
    ck_assert(resident(&fx, 0));
    ck_assert(resident(&fx, 2));
    fixture_close(&fx);
}
END_TEST

START_TEST(test_eviction_waits_out_the_real_grace_period)
{
    struct fixture fx;

    fixture_open(&fx, "evict_grace", 8);
    for (int k = 0; k < 10; k++)
        put_client(&fx, k);
    /* Everyone was used just now. */
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 0);
    usleep(1100 * 1000);
    /* A read (get marks the client used) keeps client 4 in. */
    pthread_rwlock_rdlock(&fx.lock);
    ck_assert_ptr_nonnull(mz_client_cache_get(fx.cache, "client-04"));
    pthread_rwlock_unlock(&fx.lock);
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 3);
    ck_assert(resident(&fx, 4));
    ck_assert_uint_eq(count(&fx), 7);
    fixture_close(&fx);
}
END_TEST

/* ---- reading back -----------------------------------------------------------
 */

START_TEST(test_fetch_reads_an_evicted_client_back_exactly_as_it_was)
{
    struct fixture fx;
    char id[32];
    void *before[10];
    size_t before_len[10];

    fixture_open(&fx, "fetch", 8);
    for (int k = 0; k < 10; k++) {
        struct mz_client_entry *entry = put_client(&fx, k);
        client_id(id, sizeof id, k);
        char doc[128], err[512] = "";
        snprintf(doc, sizeof doc, "{\"tier\":\"tier-%d\",\"region\":\"eu\"}",
                 k);
        ck_assert_int_eq(
            mz_store_put_client_attributes(fx.store, id, doc, "test", NULL),
            MZ_OK);
        pthread_rwlock_wrlock(&fx.lock);
        ck_assert_msg(mz_client_cache_restore_attributes(
                          fx.cache, id, doc, false, err, sizeof err),
                      "%s", err);
        before[k] = entry_record(&fx, entry, &before_len[k]);
        pthread_rwlock_unlock(&fx.lock);
        set_age(entry, 20000 - k * 1000);
    }
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 3); /* 10 -> 7 */
    ck_assert_uint_eq(mz_client_cache_loaded(fx.cache), 0);

    for (int k = 0; k < 10; k++) {
        client_id(id, sizeof id, k);
        ck_assert_int_eq(resident(&fx, k), k >= 3);
        ck_assert_int_eq(mz_client_cache_fetch(fx.cache, id, false), MZ_OK);
        pthread_rwlock_rdlock(&fx.lock);
        struct mz_client_entry *entry = mz_client_cache_get(fx.cache, id);
        ck_assert_msg(entry != NULL, "%s not read back", id);
        size_t len = 0;
        void *after = entry_record(&fx, entry, &len);
        ck_assert_uint_eq(len, before_len[k]);
        ck_assert_msg(memcmp(after, before[k], len) == 0,
                      "%s read back differently", id);
        char tier[32];
        snprintf(tier, sizeof tier, "tier-%d", k);
        ck_assert_str_eq(entry->tier, tier);
        ck_assert_str_eq(entry->region, "eu");
        ck_assert(entry->has_attributes);
        ck_assert(!entry->dirty);
        ck_assert_int_eq(entry->consent, k % 5 != 4);
        ck_assert_int_eq(entry->events_logged, 8 + k);
        pthread_rwlock_unlock(&fx.lock);
        free(after);
        free(before[k]);
    }
    ck_assert_uint_eq(mz_client_cache_loaded(fx.cache), 3);
    ck_assert_uint_eq(count(&fx), 10);

    /* An id the database does not know either: nothing, unless asked. */
    ck_assert_int_eq(mz_client_cache_fetch(fx.cache, "nobody", false), MZ_OK);
    ck_assert_uint_eq(count(&fx), 10);
    ck_assert_int_eq(mz_client_cache_fetch(fx.cache, "nobody", true), MZ_OK);
    pthread_rwlock_rdlock(&fx.lock);
    struct mz_client_entry *nobody = mz_client_cache_get(fx.cache, "nobody");
    ck_assert_ptr_nonnull(nobody);
    ck_assert_int_eq(mz_client_event_count(nobody->memory), 0);
    ck_assert(!nobody->has_attributes);
    pthread_rwlock_unlock(&fx.lock);
    ck_assert_uint_eq(mz_client_cache_loaded(fx.cache), 3);

    /* The same read back for a caller holding the write lock. */
    pthread_rwlock_wrlock(&fx.lock);
    for (int k = 0; k < 10; k++) {
        client_id(id, sizeof id, k);
        set_age(mz_client_cache_get(fx.cache, id), k == 9 ? 60000 : 5000 - k);
    }
    pthread_rwlock_unlock(&fx.lock);
    /* 11 (with "nobody", just used) -> 7. */
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 4);
    ck_assert(!resident(&fx, 9));
    enum mz_status status = MZ_ERR_INTERNAL;
    pthread_rwlock_wrlock(&fx.lock);
    struct mz_client_entry *back =
        mz_client_cache_read_back(fx.cache, "client-09", &status);
    ck_assert_int_eq(status, MZ_OK);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(back->tier, "tier-9");
    ck_assert_int_eq(back->events_logged, 17);
    pthread_rwlock_unlock(&fx.lock);
    fixture_close(&fx);
}
END_TEST

/* While no stored client is out of memory, an absent id is a new client:
 * the cache does not ask the database. Once one may be (an eviction, or
 * a start-up that left some out), it does. */
START_TEST(test_fetch_asks_the_database_only_once_a_client_may_be_out)
{
    struct fixture fx;
    size_t len = 0;

    fixture_open(&fx, "fetch_resident", 8);
    void *bytes = learned_record(&fx, 5, &len);
    struct mz_client_blob blob = {"elsewhere", bytes, len};
    ck_assert_int_eq(
        mz_store_write_checkpoint(fx.store, 1, &blob, 1, NULL, 0, NULL), MZ_OK);
    ck_assert_int_eq(mz_client_cache_fetch(fx.cache, "elsewhere", false),
                     MZ_OK);
    ck_assert_uint_eq(count(&fx), 0);
    ck_assert_uint_eq(mz_client_cache_loaded(fx.cache), 0);

    pthread_rwlock_wrlock(&fx.lock);
    mz_client_cache_note_not_resident(fx.cache);
    pthread_rwlock_unlock(&fx.lock);
    ck_assert_int_eq(mz_client_cache_fetch(fx.cache, "elsewhere", false),
                     MZ_OK);
    ck_assert_uint_eq(mz_client_cache_loaded(fx.cache), 1);
    pthread_rwlock_rdlock(&fx.lock);
    struct mz_client_entry *entry = mz_client_cache_get(fx.cache, "elsewhere");
    ck_assert_ptr_nonnull(entry);
    size_t again_len = 0;
    void *again = entry_record(&fx, entry, &again_len);
    pthread_rwlock_unlock(&fx.lock);
    ck_assert_uint_eq(again_len, len);
    ck_assert_mem_eq(again, bytes, len);
    free(again);
    free(bytes);
    fixture_close(&fx);
}
END_TEST

START_TEST(test_fetch_of_a_corrupt_row_fails_and_leaves_no_entry)
{
    struct fixture fx;
    struct mz_client_blob blob = {"broken", "not a record at all", 19};

    fixture_open(&fx, "fetch_corrupt", 8);
    ck_assert_int_eq(
        mz_store_write_checkpoint(fx.store, 1, &blob, 1, NULL, 0, NULL), MZ_OK);
    pthread_rwlock_wrlock(&fx.lock);
    mz_client_cache_note_not_resident(fx.cache);
    pthread_rwlock_unlock(&fx.lock);
    ck_assert_int_eq(mz_client_cache_fetch(fx.cache, "broken", true),
                     MZ_ERR_INTERNAL);
    ck_assert_uint_eq(count(&fx), 0);
    ck_assert_uint_eq(mz_client_cache_loaded(fx.cache), 0);
    fixture_close(&fx);
}
END_TEST

START_TEST(test_erased_client_does_not_come_back)
{
    struct fixture fx;

    fixture_open(&fx, "erase", 8);
    for (int k = 0; k < 10; k++)
        set_age(put_client(&fx, k), 20000 - k * 1000);
    ck_assert_int_eq(mz_store_put_client_attributes(fx.store, "client-00",
                                                    "{\"tier\":\"vip\"}",
                                                    "test", NULL),
                     MZ_OK);
    ck_assert_uint_eq(mz_client_cache_evict(fx.cache), 3);
    ck_assert(!resident(&fx, 0)); /* evicted */
    ck_assert(resident(&fx, 9));  /* in memory */

    /* The service's order: PostgreSQL, then memory. */
    const char *gone[] = {"client-00", "client-09"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(
            mz_store_delete_client(fx.store, gone[i], "test", 0, NULL), MZ_OK);
        pthread_rwlock_wrlock(&fx.lock);
        mz_client_cache_erase(fx.cache, gone[i]);
        ck_assert_ptr_null(mz_client_cache_get(fx.cache, gone[i]));
        pthread_rwlock_unlock(&fx.lock);
    }
    ck_assert_uint_eq(count(&fx), 6);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(mz_client_cache_fetch(fx.cache, gone[i], false),
                         MZ_OK);
        pthread_rwlock_rdlock(&fx.lock);
        ck_assert_ptr_null(mz_client_cache_get(fx.cache, gone[i]));
        pthread_rwlock_unlock(&fx.lock);
        /* A new event would start it again from nothing. */
        ck_assert_int_eq(mz_client_cache_fetch(fx.cache, gone[i], true), MZ_OK);
        pthread_rwlock_rdlock(&fx.lock);
        struct mz_client_entry *entry = mz_client_cache_get(fx.cache, gone[i]);
        ck_assert_ptr_nonnull(entry);
        ck_assert_int_eq(mz_client_event_count(entry->memory), 0);
        ck_assert_int_eq(mz_client_facts_event_count(entry->facts), 0);
        ck_assert_int_eq(entry->events_logged, 0);
        ck_assert_ptr_null(entry->tier);
        ck_assert(!entry->has_attributes);
        pthread_rwlock_unlock(&fx.lock);
    }
    ck_assert_uint_eq(mz_client_cache_loaded(fx.cache), 0);
    /* Erasing an id that is not there is harmless. */
    pthread_rwlock_wrlock(&fx.lock);
    mz_client_cache_erase(fx.cache, "never-seen");
    pthread_rwlock_unlock(&fx.lock);
    ck_assert_uint_eq(count(&fx), 8);
    fixture_close(&fx);
}
END_TEST

/* ---- stored records and documents
 * -------------------------------------------- */

START_TEST(test_restore_replaces_the_state_and_marks_the_entry_clean)
{
    struct fixture fx;
    char err[512] = "";
    size_t len = 0;

    fixture_open(&fx, "restore", 8);
    void *bytes = learned_record(&fx, 7, &len);
    pthread_rwlock_wrlock(&fx.lock);
    struct mz_client_entry *entry = mz_client_cache_get_or_add(fx.cache, "c");
    entry->dirty = true;
    ck_assert_msg(
        mz_client_cache_restore(fx.cache, "c", bytes, len, err, sizeof err),
        "%s", err);
    ck_assert_ptr_eq(mz_client_cache_get(fx.cache, "c"), entry);
    ck_assert(!entry->dirty);
    ck_assert_int_eq(entry->events_logged, 15);
    ck_assert_int_gt(mz_client_event_count(entry->memory), 0);
    size_t again_len = 0;
    void *again = entry_record(&fx, entry, &again_len);
    ck_assert_uint_eq(again_len, len);
    ck_assert_mem_eq(again, bytes, len);
    pthread_rwlock_unlock(&fx.lock);
    free(again);
    free(bytes);
    fixture_close(&fx);
}
END_TEST

START_TEST(test_restore_of_a_bad_record_fails_with_a_message)
{
    struct fixture fx;
    char err[512];
    size_t len = 0;

    fixture_open(&fx, "restore_bad", 8);
    uint8_t *bytes = learned_record(&fx, 3, &len);
    pthread_rwlock_wrlock(&fx.lock);
    /* Garbage, a truncated record, a flipped byte: no entry appears. */
    err[0] = '\0';
    ck_assert(!mz_client_cache_restore(fx.cache, "new-1", "garbage", 7, err,
                                       sizeof err));
    ck_assert_msg(strstr(err, "new-1") != NULL, "err: %s", err);
    err[0] = '\0';
    ck_assert(!mz_client_cache_restore(fx.cache, "new-2", bytes, len - 1, err,
                                       sizeof err));
    ck_assert_str_ne(err, "");
    bytes[len / 2] ^= 0x10;
    err[0] = '\0';
    ck_assert(!mz_client_cache_restore(fx.cache, "new-3", bytes, len, err,
                                       sizeof err));
    ck_assert_str_ne(err, "");
    ck_assert_uint_eq(mz_client_cache_count(fx.cache), 0);

    /* An existing entry keeps its state when the record is bad. */
    bytes[len / 2] ^= 0x10;
    ck_assert(
        mz_client_cache_restore(fx.cache, "old", bytes, len, err, sizeof err));
    struct mz_client_entry *entry = mz_client_cache_get(fx.cache, "old");
    entry->dirty = true;
    int64_t learned = mz_client_event_count(entry->memory);
    ck_assert(!mz_client_cache_restore(fx.cache, "old", "garbage", 7, err,
                                       sizeof err));
    ck_assert_int_eq(mz_client_event_count(entry->memory), learned);
    ck_assert(entry->dirty);
    ck_assert_uint_eq(mz_client_cache_count(fx.cache), 1);
    pthread_rwlock_unlock(&fx.lock);
    free(bytes);
    fixture_close(&fx);
}
END_TEST

START_TEST(test_restore_attributes_sets_tier_region_not_consent)
{
    struct fixture fx;
    char err[512] = "";

    fixture_open(&fx, "attributes", 8);
    pthread_rwlock_wrlock(&fx.lock);
    /* create = false leaves an absent client alone, successfully. */
    ck_assert(mz_client_cache_restore_attributes(
        fx.cache, "absent", "{\"tier\":\"vip\"}", false, err, sizeof err));
    ck_assert_uint_eq(mz_client_cache_count(fx.cache), 0);
    ck_assert_msg(mz_client_cache_restore_attributes(
                      fx.cache, "c",
                      "{\"tier\":\"vip\",\"region\":\"eu\","
                      "\"consent\":{\"personalization\":false}}",
                      true, err, sizeof err),
                  "%s", err);
    struct mz_client_entry *entry = mz_client_cache_get(fx.cache, "c");
    ck_assert_ptr_nonnull(entry);
    ck_assert_str_eq(entry->tier, "vip");
    ck_assert_str_eq(entry->region, "eu");
    ck_assert(entry->has_attributes);
    /* Consent comes from the record and the log's markers, not here. */
    ck_assert(entry->consent);
    ck_assert(mz_client_cache_restore_attributes(
        fx.cache, "c", "{\"tier\":null}", false, err, sizeof err));
    ck_assert_ptr_null(entry->tier);
    ck_assert_ptr_null(entry->region);
    pthread_rwlock_unlock(&fx.lock);
    fixture_close(&fx);
}
END_TEST

START_TEST(test_restore_attributes_of_a_bad_document_fails_with_a_message)
{
    struct fixture fx;
    static const char *const bad[] = {
        "not json",
        "[]",
        "{\"tier\": 5}",
        "{\"tier\": \"\"}",
        "{\"shoe_size\": 42}",
        "{\"consent\": true}",
    };

    fixture_open(&fx, "attributes_bad", 8);
    pthread_rwlock_wrlock(&fx.lock);
    struct mz_client_entry *entry = mz_client_cache_get_or_add(fx.cache, "c");
    ck_assert(mz_client_entry_set_attributes(entry, "gold", NULL, "us"));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        ck_assert_msg(!mz_client_cache_restore_attributes(
                          fx.cache, "new", bad[i], true, err, sizeof err),
                      "accepted %s", bad[i]);
        ck_assert_msg(strstr(err, "new") != NULL, "%s: err %s", bad[i], err);
        err[0] = '\0';
        ck_assert(!mz_client_cache_restore_attributes(fx.cache, "c", bad[i],
                                                      false, err, sizeof err));
        ck_assert_str_ne(err, "");
    }
    ck_assert_uint_eq(mz_client_cache_count(fx.cache), 1);
    ck_assert_str_eq(entry->tier, "gold");
    ck_assert_str_eq(entry->region, "us");
    pthread_rwlock_unlock(&fx.lock);
    fixture_close(&fx);
}
END_TEST

static Suite *client_cache_suite(void)
{
    Suite *s = suite_create("client_cache");
    TCase *tc = tcase_create("postgres");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
                   test_max_clients_is_the_memory_limit_over_one_clients_bytes);
    tcase_add_test(tc,
                   test_get_or_add_creates_one_empty_consenting_entry_per_id);
    tcase_add_test(tc,
                   test_growing_an_eighth_past_the_limit_asks_for_an_eviction);
    tcase_add_test(
        tc, test_eviction_takes_least_recently_used_down_to_seven_eighths);
    tcase_add_test(
        tc, test_eviction_never_takes_dirty_held_or_recently_used_clients);
    tcase_add_test(tc, test_eviction_waits_out_the_real_grace_period);
    tcase_add_test(tc,
                   test_fetch_reads_an_evicted_client_back_exactly_as_it_was);
    tcase_add_test(tc,
                   test_fetch_asks_the_database_only_once_a_client_may_be_out);
    tcase_add_test(tc, test_fetch_of_a_corrupt_row_fails_and_leaves_no_entry);
    tcase_add_test(tc, test_erased_client_does_not_come_back);
    tcase_add_test(tc,
                   test_restore_replaces_the_state_and_marks_the_entry_clean);
    tcase_add_test(tc, test_restore_of_a_bad_record_fails_with_a_message);
    tcase_add_test(tc, test_restore_attributes_sets_tier_region_not_consent);
    tcase_add_test(
        tc, test_restore_attributes_of_a_bad_document_fails_with_a_message);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!mz_test_db_base()) {
        fprintf(stderr, "MAISON_TEST_DATABASE_URL not set; run under "
                        "tests/harness/with_pg.sh\n");
        return 77;
    }
    SRunner *sr = srunner_create(client_cache_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
