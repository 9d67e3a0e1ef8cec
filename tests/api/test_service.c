/*-------------------------------------------------------------------------
 * test_service.c
 *    Unit tests of api/service/ through service.h only, against a real,
 *    throw-away PostgreSQL (tests/harness/with_pg.sh provides
 *    MAISON_TEST_DATABASE_URL; without it the test is skipped): items,
 *    events and their counts, recommendations, profiles, rules, consent,
 *    erasure, item deletion, a restart on the same database, and a
 *    memory limit that makes the service evict clients and read them
 *    back.
 *
 * Each case opens the service on a database of its own. What a read
 * shows is copied out of the callback into a text (ids, counts, names)
 * and its scores, so "the same before and after" compares the texts and
 * the scores: exactly within one process, within a relative 1e-5 across
 * a restart (a reloaded global level sums its transitions in another
 * order, which moves a score by an ulp or two; model/model_load.c).
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/json_attributes.h"
#include "api/json_facts.h"
#include "api/json_item.h"
#include "api/json_rules.h"
#include "api/router.h"
#include "api/service/client_cache.h"
#include "api/service/service.h"
#include "tests/harness/test_db.h"

/* Request time of every read, an hour after the first event. */
#define NOW      1760003600
#define FIRST_TS 1760000000

/* ---- the database ------------------------------------------------------ */

/* A fresh database named for the test; returns its conninfo (static
 * buffer, one per slot so a case can hold two). */
static const char *fresh_db(const char *name, int slot)
{
    static char conninfo[2][1024];
    char db[128];

    snprintf(db, sizeof db, "mz_svc_%s", name);
    return mz_test_fresh_db(db, conninfo[slot], sizeof conninfo[slot]);
}

/* ---- the service ----------------------------------------------------------
 */

static struct mz_service_config small_config(const char *conninfo)
{
    struct mz_service_config cfg = {
        .conninfo = conninfo,
        .store_pool_size = 4,
        .checkpoint_interval_s =
            3600, /* only the checkpoints a case asks for */
        .writer_batch_rows = 1000,
        .memory_limit = 0,
    };
    mz_model_config_defaults(&cfg.model);
    cfg.model.dim = 16;
    return cfg;
}

static struct mz_service *open_service(const struct mz_service_config *cfg)
{
    char err[512] = "";
    struct mz_service *svc = mz_service_open(cfg, err, sizeof err);
    ck_assert_msg(svc != NULL, "mz_service_open: %s", err);
    return svc;
}

static struct mz_service_stats stats_of(struct mz_service *svc)
{
    struct mz_service_stats stats;
    mz_service_stats(svc, &stats);
    return stats;
}

/* The catalog every case starts with: 12 items, two brands, three
 * categories (bags, shoes, scarves by item number modulo 3). */
enum { N_ITEMS = 12 };
static const char *const categories[] = {"bags", "shoes", "scarves"};

static void item_id(char *buf, size_t len, int i)
{
    snprintf(buf, len, "item-%02d", i);
}

/* Upserts the items described by the JSON array text items_json. */
static enum mz_status upsert_json(struct mz_service *svc,
                                  const char *items_json)
{
    json_error_t jerr;
    json_t *array = json_loads(items_json, 0, &jerr);
    ck_assert_msg(json_is_array(array), "%s: %s", items_json, jerr.text);
    size_t n = json_array_size(array);
    struct mz_item **items = calloc(n, sizeof *items);
    char **docs = calloc(n, sizeof *docs);
    ck_assert(items && docs);
    for (size_t i = 0; i < n; i++) {
        struct mz_json_error err = {.message = ""};
        items[i] = mz_json_read_item(json_array_get(array, i), "", &err);
        ck_assert_msg(items[i] != NULL, "item %zu: %s", i, err.message);
        json_t *canonical = mz_json_write_item(items[i]);
        docs[i] = json_dumps(canonical, JSON_COMPACT);
        json_decref(canonical);
    }
    enum mz_status status =
        mz_service_upsert_items(svc, items, (const char *const *)docs, n, NULL);
    for (size_t i = 0; i < n; i++)
        free(docs[i]);
    free(docs);
    free(items); /* the items were taken */
    json_decref(array);
    return status;
}

static void upsert_catalog(struct mz_service *svc)
{
    char text[4096] = "[";
    for (int i = 0; i < N_ITEMS; i++) {
        char one[256];
        snprintf(one, sizeof one,
                 "%s{\"item_id\":\"item-%02d\",\"brand\":\"%s\","
                 "\"category\":\"%s\",\"price\":%d,\"currency\":\"EUR\"}",
                 i ? "," : "", i, i % 2 ? "maison-b" : "maison-a",
                 categories[i % 3], 500 + 100 * i);
        strcat(text, one);
    }
    strcat(text, "]");
    ck_assert_int_eq(upsert_json(svc, text), MZ_OK);
}

/* One event of the log. */
static struct mz_event_record event(const char *event_id, const char *client_id,
                                    const char *item, enum mz_event_type type,
                                    int64_t ts)
{
    struct mz_event_record ev = {
        .event_id = event_id,
        .client_id = client_id,
        .item_id = item,
        .type = type,
        .ts = ts,
        .quantity = 1,
        .item_index = -1,
    };
    return ev;
}

/* Submits n events whose caller outcome is MZ_OK; fails the test unless
 * the service returns MZ_OK. */
static struct mz_submit_counts submit(struct mz_service *svc,
                                      struct mz_event_record *events, size_t n)
{
    enum mz_status outcome[64];
    struct mz_submit_counts counts;
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++)
        outcome[i] = MZ_OK;
    ck_assert_int_eq(
        mz_service_submit_events(svc, events, outcome, n, NULL, &counts),
        MZ_OK);
    return counts;
}

/* Client client_id browses: views of items[0..n-1] in order, one a
 * minute from FIRST_TS + offset_s, with event ids prefix-<index>. */
static void browse(struct mz_service *svc, const char *client_id,
                   const int *items, int n, const char *prefix, int offset_s)
{
    char ids[64][64], item_ids[64][16];
    struct mz_event_record events[64];
    ck_assert_int_le(n, 64);
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "%s-%s-%d", prefix, client_id, i);
        item_id(item_ids[i], sizeof item_ids[i], items[i]);
        events[i] = event(ids[i], client_id, item_ids[i],
                          i % 5 == 4 ? MZ_EV_ADD_TO_CART : MZ_EV_VIEW,
                          FIRST_TS + offset_s + i * 60);
    }
    struct mz_submit_counts counts = submit(svc, events, (size_t)n);
    ck_assert_uint_eq(counts.accepted, (size_t)n);
}

/* ---- reads, copied out -------------------------------------------------- */

struct recommendation {
    bool personalized;
    int count;
    char ids[MZ_SELECT_MAX_K][MZ_ID_MAX_BYTES + 1];
    char brands[MZ_SELECT_MAX_K][MZ_ID_MAX_BYTES + 1];
    char categories[MZ_SELECT_MAX_K][MZ_ID_MAX_BYTES + 1];
    float scores[MZ_SELECT_MAX_K];
    bool has_rules;
    int64_t rules_version;
};

static enum mz_status copy_recommendation(
    void *ctx, const struct mz_recommendation_view *view)
{
    struct recommendation *out = ctx;
    out->personalized = view->personalized;
    out->count = view->selection->count;
    for (int i = 0; i < out->count; i++) {
        snprintf(out->ids[i], sizeof out->ids[i], "%s",
                 view->items[i]->item_id);
        snprintf(out->brands[i], sizeof out->brands[i], "%s",
                 view->items[i]->brand);
        snprintf(out->categories[i], sizeof out->categories[i], "%s",
                 view->items[i]->category);
        out->scores[i] = view->selection->scores[i];
    }
    out->has_rules = view->has_rules;
    out->rules_version = view->rules_version;
    return MZ_OK;
}

static struct recommendation recommend(struct mz_service *svc,
                                       const char *client_id, const char *brand,
                                       int k)
{
    struct recommendation out;
    struct mz_recommend_args args = {
        .client_id = client_id,
        .brand = brand,
        .k = k,
        .now = NOW,
    };
    memset(&out, 0, sizeof out);
    ck_assert_int_eq(
        mz_service_recommend(svc, &args, copy_recommendation, &out), MZ_OK);
    return out;
}

static bool recommends(const struct recommendation *r, const char *id)
{
    for (int i = 0; i < r->count; i++)
        if (strcmp(r->ids[i], id) == 0)
            return true;
    return false;
}

/* What a read showed, as text with every score replaced by "~" and the
 * scores apart, in order, so that two reads compare either exactly or
 * within a float tolerance. */
struct text {
    char buf[8192];
    size_t len;
    float scores[256];
    int n_scores;
};

static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (t->len < sizeof t->buf) {
        int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
        t->len += n > 0 ? (size_t)n : 0;
    }
    va_end(ap);
    ck_assert_uint_lt(t->len, sizeof t->buf);
}

static void text_add_score(struct text *t, const char *name, float score)
{
    ck_assert_int_lt(t->n_scores, 256);
    text_add(t, " %s=~", name);
    t->scores[t->n_scores++] = score;
}

/* The recommendation as text: flag, rules, ids in order, scores. */
static void recommendation_text(const struct recommendation *r, struct text *t)
{
    memset(t, 0, sizeof *t);
    text_add(t, "personalized=%d rules=%d/%lld:", r->personalized, r->has_rules,
             (long long)r->rules_version);
    for (int i = 0; i < r->count; i++)
        text_add_score(t, r->ids[i], r->scores[i]);
}

struct profile {
    bool consent;
    int64_t events_logged;
    int64_t events_learned;
    int n_sources;
    bool has_facts;
    char tier[MZ_ID_MAX_BYTES + 1]; /* "" when unknown */
    char region[MZ_ID_MAX_BYTES + 1];
    char level0_top[MZ_ID_MAX_BYTES + 1]; /* level 0's first item, or "" */
    struct text text;                     /* everything */
};

static enum mz_status copy_profile(void *ctx,
                                   const struct mz_profile_view *view)
{
    struct profile *out = ctx;
    out->consent = view->consent;
    out->events_logged = view->events_logged;
    out->events_learned = view->events_learned;
    out->n_sources = view->n_sources;
    out->has_facts = view->n_facts > 0;
    snprintf(out->tier, sizeof out->tier, "%s", view->tier ? view->tier : "");
    snprintf(out->region, sizeof out->region, "%s",
             view->region ? view->region : "");
    struct text *t = &out->text;
    text_add(t,
             "tier=%s region=%s consent=%d logged=%lld learned=%lld "
             "levels=%d sources=%d\n",
             view->tier ? view->tier : "-", view->region ? view->region : "-",
             view->consent, (long long)view->events_logged,
             (long long)view->events_learned, view->n_levels, view->n_sources);
    for (int s = 0; s < view->n_sources; s++) {
        const struct mz_profile_level *l = &view->levels[s];
        if (l->level == 0 && l->n_items > 0)
            snprintf(out->level0_top, sizeof out->level0_top, "%s",
                     l->item_ids[0]);
        text_add(t, "source %d level %d chunk %lld events %lld at %lld:",
                 (int)l->source, l->level, (long long)l->chunk_events,
                 (long long)l->events, (long long)l->last_consolidated_at);
        for (int i = 0; i < l->n_items; i++)
            text_add_score(t, l->item_ids[i], l->item_scores[i]);
        /* A group's weight is its items' scores added up: compared like
         * them. */
        for (int i = 0; i < l->n_categories; i++)
            text_add_score(t, l->categories[i].name,
                           (float)l->categories[i].weight);
        for (int i = 0; i < l->n_brands; i++)
            text_add_score(t, l->brands[i].name, (float)l->brands[i].weight);
        text_add(t, "\n");
    }
    if (view->n_facts > 0) {
        json_t *facts =
            mz_json_write_facts_of(view->facts, view->n_facts, view->catalog,
                                   view->brands, view->n_brands);
        char *dump =
            facts ? json_dumps(facts, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!dump) {
            json_decref(facts);
            return MZ_ERR_NOMEM;
        }
        text_add(t, "facts %s\n", dump);
        free(dump);
        json_decref(facts);
    }
    return MZ_OK;
}

/* Reads client_id's profile into *out; returns the service's status. */
static enum mz_status read_profile(struct mz_service *svc,
                                   const char *client_id, struct profile *out)
{
    memset(out, 0, sizeof *out);
    return mz_service_read_profile(svc, client_id, NULL, 0, NOW, copy_profile,
                                   out);
}

static struct profile profile_of(struct mz_service *svc, const char *client_id)
{
    struct profile p;
    ck_assert_int_eq(read_profile(svc, client_id, &p), MZ_OK);
    return p;
}

static enum mz_status copy_item(void *ctx, const struct mz_item *item)
{
    struct mz_item *out = ctx;
    *out = *item; /* borrowed strings: used inside the case only */
    out->item_id = NULL;
    out->brand = NULL;
    out->category = NULL;
    return MZ_OK;
}

/* The stored attributes document, as api/clients.c writes it. */
static char *attributes_doc(const struct mz_attributes_update *attrs,
                            bool consent)
{
    json_t *doc =
        json_pack("{s:o,s:o,s:o,s:{s:b}}", "tier",
                  attrs->tier ? json_string(attrs->tier) : json_null(), "tiers",
                  mz_json_write_brand_tiers(attrs->tiers), "region",
                  attrs->region ? json_string(attrs->region) : json_null(),
                  "consent", "personalization", consent);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

static bool set_attributes(struct mz_service *svc, const char *client_id,
                           const char *tier, const char *region, int consent)
{
    struct mz_attributes_update attrs = {tier, NULL, region, consent};
    bool in_force = !consent;
    ck_assert_int_eq(mz_service_set_attributes(svc, client_id, &attrs,
                                               attributes_doc, NULL, &in_force),
                     MZ_OK);
    return in_force;
}

static int64_t put_rules(struct mz_service *svc, const char *brand,
                         const char *rules_json)
{
    json_t *obj = json_loads(rules_json, 0, NULL);
    struct mz_json_error err = {.message = ""};
    struct mz_rules *rules = mz_json_read_rules(obj, &err);
    ck_assert_msg(rules != NULL, "%s: %s", rules_json, err.message);
    json_t *canonical = mz_json_write_rules(rules);
    char *doc = json_dumps(canonical, JSON_COMPACT);
    int64_t version = -1;
    ck_assert_int_eq(
        mz_service_put_rules(svc, brand, rules, doc, NULL, &version), MZ_OK);
    free(doc);
    json_decref(canonical);
    json_decref(obj);
    return version;
}

static enum mz_status copy_rules_version(void *ctx, int64_t version,
                                         const struct mz_rules *rules)
{
    ck_assert_ptr_nonnull(rules);
    *(int64_t *)ctx = version;
    return MZ_OK;
}

/* ---- life cycle ------------------------------------------------------------
 */

START_TEST(test_open_on_a_fresh_database_gives_an_empty_ready_service)
{
    struct mz_service_config cfg = small_config(fresh_db("fresh", 0));
    struct mz_service *svc = open_service(&cfg);
    char reason[128] = "";

    ck_assert(mz_service_ready(svc, reason, sizeof reason));
    struct mz_service_stats stats = stats_of(svc);
    ck_assert_int_eq(stats.items, 0);
    ck_assert_uint_eq(stats.clients_in_memory, 0);
    ck_assert_uint_eq(stats.max_clients, 0);
    ck_assert_int_eq(stats.applied_seq, 0);
    ck_assert_uint_eq(stats.events_accepted, 0);
    struct profile p;
    ck_assert_int_eq(read_profile(svc, "nobody", &p), MZ_ERR_NOT_FOUND);
    mz_service_close(svc);

    /* A database that does not answer: NULL and a reason. */
    char err[512] = "";
    cfg.conninfo = "host=/nonexistent-dir port=1 dbname=x";
    ck_assert_ptr_null(mz_service_open(&cfg, err, sizeof err));
    ck_assert_str_ne(err, "");
    mz_service_close(NULL);
}
END_TEST

/* ---- items -----------------------------------------------------------------
 */

START_TEST(test_items_upserted_are_read_and_deleted_ones_are_not_found)
{
    struct mz_service_config cfg = small_config(fresh_db("items", 0));
    struct mz_service *svc = open_service(&cfg);
    struct mz_item item;

    upsert_catalog(svc);
    ck_assert_int_eq(stats_of(svc).items, N_ITEMS);
    ck_assert_int_eq(mz_service_read_item(svc, "item-03", copy_item, &item),
                     MZ_OK);
    ck_assert_double_eq(item.price, 800);
    ck_assert_str_eq(item.currency, "EUR");
    ck_assert_int_eq(mz_service_read_item(svc, "no-such", copy_item, &item),
                     MZ_ERR_NOT_FOUND);

    /* A second upsert of an id replaces it. */
    ck_assert_int_eq(upsert_json(svc, "[{\"item_id\":\"item-03\",\"brand\":"
                                      "\"maison-b\",\"category\":\"shoes\","
                                      "\"price\":999}]"),
                     MZ_OK);
    ck_assert_int_eq(mz_service_read_item(svc, "item-03", copy_item, &item),
                     MZ_OK);
    ck_assert_double_eq(item.price, 999);
    ck_assert_int_eq(stats_of(svc).items, N_ITEMS);

    ck_assert_int_eq(mz_service_delete_item(svc, "item-03", NULL), MZ_OK);
    ck_assert_int_eq(mz_service_read_item(svc, "item-03", copy_item, &item),
                     MZ_ERR_NOT_FOUND);
    ck_assert_int_eq(mz_service_delete_item(svc, "item-03", NULL),
                     MZ_ERR_NOT_FOUND);
    ck_assert_int_eq(mz_service_delete_item(svc, "no-such", NULL),
                     MZ_ERR_NOT_FOUND);
    ck_assert_int_eq(stats_of(svc).items, N_ITEMS - 1);
    mz_service_close(svc);
}
END_TEST

/* ---- events -----------------------------------------------------------------
 */

START_TEST(test_submit_counts_accepted_duplicates_and_rejected_events)
{
    struct mz_service_config cfg = small_config(fresh_db("events", 0));
    struct mz_service *svc = open_service(&cfg);

    upsert_catalog(svc);
    ck_assert_int_eq(mz_service_delete_item(svc, "item-11", NULL), MZ_OK);
    struct mz_event_record events[] = {
        event("e-1", "alice", "item-00", MZ_EV_VIEW, FIRST_TS),
        event("e-2", "alice", "item-01", MZ_EV_CLICK, FIRST_TS + 1),
        event("e-1", "alice", "item-00", MZ_EV_VIEW, FIRST_TS), /* again */
        event("e-3", "alice", "no-such-item", MZ_EV_VIEW, FIRST_TS + 2),
        event("e-4", "alice", "item-02", MZ_EV_VIEW, FIRST_TS + 3),
        event("e-5", "bob", NULL, MZ_EV_STORE_VISIT, FIRST_TS + 4),
        event("e-6", "bob", "item-11", MZ_EV_VIEW, FIRST_TS + 5), /* deleted */
        event("e-7", "bob", "item-04", MZ_EV_PURCHASE, FIRST_TS + 6),
    };
    enum mz_status outcome[] = {
        MZ_OK, MZ_OK, MZ_OK, MZ_OK, MZ_ERR_INVALID, /* refused by the caller */
        MZ_OK, MZ_OK, MZ_OK,
    };
    struct mz_submit_counts counts;

    ck_assert_int_eq(
        mz_service_submit_events(svc, events, outcome, 8, NULL, &counts),
        MZ_OK);
    ck_assert_uint_eq(counts.accepted, 4);   /* e-1, e-2, e-5, e-7 */
    ck_assert_uint_eq(counts.duplicates, 1); /* e-1 again */
    ck_assert_uint_eq(counts.rejected, 3);   /* e-3, e-4, e-6 */
    ck_assert_int_eq(outcome[0], MZ_OK);
    ck_assert_int_eq(outcome[3], MZ_ERR_UNKNOWN_ITEM);
    ck_assert_int_eq(outcome[4], MZ_ERR_INVALID);
    ck_assert_int_eq(outcome[6], MZ_ERR_UNKNOWN_ITEM);
    ck_assert_int_gt(events[0].seq, 0);
    ck_assert_int_gt(events[1].seq, events[0].seq);
    ck_assert_int_eq(events[2].seq, 0);
    ck_assert_int_gt(events[7].seq, events[5].seq);
    int64_t last_seq = events[7].seq;

    struct mz_service_stats stats = stats_of(svc);
    ck_assert_uint_eq(stats.events_accepted, 4);
    ck_assert_uint_eq(stats.events_duplicate, 1);
    ck_assert_uint_eq(stats.events_rejected, 3);
    ck_assert_uint_eq(stats.events_learned, 4);
    ck_assert_int_eq(stats.applied_seq, last_seq);
    ck_assert_int_eq(profile_of(svc, "alice").events_logged, 2);
    ck_assert_int_eq(profile_of(svc, "bob").events_logged, 2);

    /* The whole batch again: only duplicates (and the same refusals). */
    for (int i = 0; i < 8; i++)
        outcome[i] = i == 4 ? MZ_ERR_INVALID : MZ_OK;
    ck_assert_int_eq(
        mz_service_submit_events(svc, events, outcome, 8, NULL, &counts),
        MZ_OK);
    ck_assert_uint_eq(counts.accepted, 0);
    ck_assert_uint_eq(counts.duplicates, 5);
    ck_assert_uint_eq(counts.rejected, 3);
    ck_assert_int_eq(stats_of(svc).applied_seq, last_seq);
    ck_assert_int_eq(events[7].seq, 0);
    ck_assert_int_eq(profile_of(svc, "alice").events_logged, 2);

    /* Nothing valid: nothing appended. */
    outcome[0] = MZ_ERR_INVALID;
    ck_assert_int_eq(
        mz_service_submit_events(svc, events, outcome, 1, NULL, &counts),
        MZ_OK);
    ck_assert_uint_eq(counts.rejected, 1);
    ck_assert_uint_eq(counts.accepted + counts.duplicates, 0);
    mz_service_close(svc);
}
END_TEST

/* ---- recommendations and profiles ---------------------------------------- */

START_TEST(test_recommendations_are_personalized_after_events_and_keep_to_k)
{
    struct mz_service_config cfg = small_config(fresh_db("recommend", 0));
    struct mz_service *svc = open_service(&cfg);

    upsert_catalog(svc);
    struct recommendation r = recommend(svc, "carol", NULL, 5);
    ck_assert(!r.personalized);
    ck_assert_int_eq(r.count, 5);
    ck_assert(!r.has_rules);

    const int bags[] = {0, 3, 6, 9, 0, 3, 6, 9};
    browse(svc, "carol", bags, 8, "b", 0);
    for (int k = 1; k <= N_ITEMS + 3; k += 4) {
        r = recommend(svc, "carol", NULL, k);
        ck_assert(r.personalized);
        ck_assert_int_eq(r.count, k < N_ITEMS ? k : N_ITEMS);
        for (int i = 0; i < r.count; i++) {
            struct mz_item item;
            ck_assert_msg(
                mz_service_read_item(svc, r.ids[i], copy_item, &item) == MZ_OK,
                "%s is not in the catalog", r.ids[i]);
            for (int j = 0; j < i; j++)
                ck_assert_str_ne(r.ids[i], r.ids[j]);
            if (i > 0)
                ck_assert(r.scores[i] <= r.scores[i - 1]);
        }
    }
    /* A brand keeps to its items. */
    r = recommend(svc, "carol", "maison-b", 10);
    ck_assert(r.personalized);
    ck_assert_int_eq(r.count, N_ITEMS / 2);
    for (int i = 0; i < r.count; i++)
        ck_assert_str_eq(r.brands[i], "maison-b");
    /* Another client is still a stranger. */
    ck_assert(!recommend(svc, "dave", NULL, 3).personalized);
    mz_service_close(svc);
}
END_TEST

START_TEST(test_profile_is_not_found_until_a_client_has_events_then_shows_them)
{
    struct mz_service_config cfg = small_config(fresh_db("profile", 0));
    struct mz_service *svc = open_service(&cfg);
    struct profile p;

    upsert_catalog(svc);
    ck_assert_int_eq(read_profile(svc, "erin", &p), MZ_ERR_NOT_FOUND);
    /* Being shown recommendations is not an event. */
    recommend(svc, "erin", NULL, 3);
    ck_assert_int_eq(read_profile(svc, "erin", &p), MZ_ERR_NOT_FOUND);

    const int shoes[] = {1, 4, 7, 10, 1, 4, 7, 10, 1, 4, 7, 10, 1, 4, 7, 10};
    browse(svc, "erin", shoes, 16, "s", 0);
    struct mz_event_record purchase =
        event("p-1", "erin", "item-07", MZ_EV_PURCHASE, FIRST_TS + 2000);
    submit(svc, &purchase, 1);

    p = profile_of(svc, "erin");
    ck_assert(p.consent);
    ck_assert_int_eq(p.events_logged, 17);
    ck_assert_int_eq(p.events_learned, 17);
    /* The session, three levels, the catalog. */
    ck_assert_int_eq(p.n_sources, 1 + cfg.model.n_levels + 1);
    ck_assert(p.has_facts);
    ck_assert_str_eq(p.tier, "");
    ck_assert_msg(strstr(p.text.buf, "\"item_id\":\"item-07\"") != NULL,
                  "the purchase is not in the facts: %s", p.text.buf);
    /* Level 0 holds what the client looked at: shoes. */
    ck_assert_msg(strstr(p.text.buf, "level 0 chunk 1 events 17") != NULL, "%s",
                  p.text.buf);
    ck_assert_str_ne(p.level0_top, "");
    int top = atoi(p.level0_top + strlen("item-"));
    ck_assert_msg(top % 3 == 1, "level 0's top item %s is not shoes",
                  p.level0_top);
    mz_service_close(svc);
}
END_TEST

/* ---- rules
 * -------------------------------------------------------------------- */

START_TEST(
    test_rules_versions_increase_and_an_excluded_category_is_not_recommended)
{
    struct mz_service_config cfg = small_config(fresh_db("rules", 0));
    struct mz_service *svc = open_service(&cfg);
    int64_t version = 0;

    upsert_catalog(svc);
    ck_assert_int_eq(
        mz_service_read_rules(svc, "maison-a", copy_rules_version, &version),
        MZ_ERR_NOT_FOUND);
    const int bags[] = {0, 6, 0, 6, 0, 6};
    browse(svc, "fay", bags, 6, "b", 0);
    struct recommendation r = recommend(svc, "fay", "maison-a", 6);
    ck_assert(recommends(&r, "item-00")); /* bags, what fay looked at */

    ck_assert_int_eq(put_rules(svc, "maison-a", "{\"max_per_category\": 5}"),
                     1);
    ck_assert_int_eq(put_rules(svc, "maison-a",
                               "{\"categories\": {\"exclude\": [\"bags\"]}}"),
                     2);
    ck_assert_int_eq(put_rules(svc, "maison-b", "{}"), 1);
    ck_assert_int_eq(
        mz_service_read_rules(svc, "maison-a", copy_rules_version, &version),
        MZ_OK);
    ck_assert_int_eq(version, 2);

    r = recommend(svc, "fay", "maison-a", 6);
    ck_assert(r.has_rules);
    ck_assert_int_eq(r.rules_version, 2);
    ck_assert_int_eq(r.count, 4); /* maison-a's 6 items minus its 2 bags */
    for (int i = 0; i < r.count; i++) {
        ck_assert_str_ne(r.categories[i], "bags");
        ck_assert_str_eq(r.brands[i], "maison-a");
    }
    /* The rules of a brand apply when the request names it. */
    r = recommend(svc, "fay", NULL, N_ITEMS);
    ck_assert(!r.has_rules);
    ck_assert(recommends(&r, "item-00"));
    mz_service_close(svc);
}
END_TEST

/* ---- clients
 * ------------------------------------------------------------------ */

START_TEST(test_consent_withdrawal_stops_personalization_and_hides_the_levels)
{
    struct mz_service_config cfg = small_config(fresh_db("consent", 0));
    struct mz_service *svc = open_service(&cfg);
    struct profile p;

    upsert_catalog(svc);
    const int items[] = {2, 5, 8, 11, 2, 5};
    browse(svc, "gus", items, 6, "v", 0);
    ck_assert(recommend(svc, "gus", NULL, 4).personalized);

    ck_assert(!set_attributes(svc, "gus", "vip", "eu", 0));
    ck_assert(!recommend(svc, "gus", NULL, 4).personalized);
    p = profile_of(svc, "gus");
    ck_assert(!p.consent);
    ck_assert_int_eq(p.n_sources, 0);
    ck_assert(!p.has_facts);
    ck_assert_str_eq(p.tier, "vip");
    ck_assert_str_eq(p.region, "eu");
    ck_assert_int_eq(p.events_learned, 0);
    ck_assert_int_eq(p.events_logged, 7); /* the consent marker included */

    /* Events while consent is withdrawn are logged, not learned. */
    browse(svc, "gus", items, 3, "w", 1200);
    p = profile_of(svc, "gus");
    ck_assert_int_eq(p.events_logged, 10);
    ck_assert_int_eq(p.events_learned, 0);
    ck_assert(!recommend(svc, "gus", NULL, 4).personalized);

    /* Unchanged (-1) keeps it withdrawn, and writes no marker. */
    uint64_t accepted = stats_of(svc).events_accepted;
    int64_t seq = stats_of(svc).applied_seq;
    ck_assert(!set_attributes(svc, "gus", "gold", NULL, -1));
    /* One row: the attributes' own change marker, no consent marker. */
    ck_assert_int_eq(stats_of(svc).applied_seq, seq + 1);
    p = profile_of(svc, "gus");
    ck_assert(!p.consent);
    ck_assert_str_eq(p.tier, "gold");
    ck_assert_str_eq(p.region, "");

    /* Granted again: learning starts again from nothing. */
    ck_assert(set_attributes(svc, "gus", "gold", NULL, 1));
    ck_assert_int_gt(stats_of(svc).applied_seq, seq);
    ck_assert_uint_eq(stats_of(svc).events_accepted, accepted);
    p = profile_of(svc, "gus");
    ck_assert(p.consent);
    ck_assert_int_eq(p.events_learned, 0);
    ck_assert(!recommend(svc, "gus", NULL, 4).personalized);
    browse(svc, "gus", items, 2, "x", 2400);
    ck_assert(recommend(svc, "gus", NULL, 4).personalized);
    ck_assert_int_eq(profile_of(svc, "gus").events_learned, 2);

    /* Attributes alone make a client known. */
    ck_assert(set_attributes(svc, "hal", "vip", NULL, -1));
    p = profile_of(svc, "hal");
    ck_assert_str_eq(p.tier, "vip");
    ck_assert_int_eq(p.events_logged, 0);
    mz_service_close(svc);
}
END_TEST

START_TEST(test_erased_client_is_not_found_even_after_a_restart)
{
    struct mz_service_config cfg = small_config(fresh_db("erase", 0));
    struct mz_service *svc = open_service(&cfg);
    struct profile p;

    upsert_catalog(svc);
    const int items[] = {0, 1, 2, 3, 4, 5};
    browse(svc, "ivy", items, 6, "v", 0);
    browse(svc, "jon", items, 6, "v", 0);
    set_attributes(svc, "ivy", "vip", "eu", -1);
    ck_assert_int_eq(mz_service_checkpoint(svc), MZ_OK);

    ck_assert_int_eq(mz_service_erase_client(svc, "ivy", NULL), MZ_OK);
    ck_assert_int_eq(read_profile(svc, "ivy", &p), MZ_ERR_NOT_FOUND);
    ck_assert_int_eq(mz_service_erase_client(svc, "never-seen", NULL), MZ_OK);
    ck_assert(!recommend(svc, "ivy", NULL, 3).personalized);
    ck_assert_int_eq(read_profile(svc, "ivy", &p), MZ_ERR_NOT_FOUND);
    ck_assert_int_eq(mz_service_checkpoint(svc), MZ_OK);
    mz_service_close(svc);

    svc = open_service(&cfg);
    ck_assert_int_eq(read_profile(svc, "ivy", &p), MZ_ERR_NOT_FOUND);
    ck_assert(!recommend(svc, "ivy", NULL, 3).personalized);
    ck_assert_int_eq(profile_of(svc, "jon").events_logged, 6);
    mz_service_close(svc);
}
END_TEST

START_TEST(test_deleted_item_is_never_recommended_nor_learned_from)
{
    struct mz_service_config cfg = small_config(fresh_db("delete_item", 0));
    struct mz_service *svc = open_service(&cfg);
    struct mz_item item;

    upsert_catalog(svc);
    const int favourite[] = {5, 5, 5, 5, 5, 5, 5, 5};
    browse(svc, "kim", favourite, 8, "v", 0);
    struct recommendation r = recommend(svc, "kim", NULL, 3);
    ck_assert(r.personalized);
    ck_assert(recommends(&r, "item-05"));

    ck_assert_int_eq(mz_service_delete_item(svc, "item-05", NULL), MZ_OK);
    ck_assert_int_eq(mz_service_read_item(svc, "item-05", copy_item, &item),
                     MZ_ERR_NOT_FOUND);
    r = recommend(svc, "kim", NULL, MZ_SELECT_MAX_K);
    ck_assert_int_eq(r.count, N_ITEMS - 1);
    ck_assert(!recommends(&r, "item-05"));
    r = recommend(svc, "kim", "maison-b", MZ_SELECT_MAX_K);
    ck_assert(!recommends(&r, "item-05"));
    ck_assert_int_eq(r.count, N_ITEMS / 2 - 1);

    struct mz_event_record ev =
        event("late", "kim", "item-05", MZ_EV_VIEW, FIRST_TS + 5000);
    enum mz_status outcome = MZ_OK;
    struct mz_submit_counts counts;
    ck_assert_int_eq(
        mz_service_submit_events(svc, &ev, &outcome, 1, NULL, &counts), MZ_OK);
    ck_assert_int_eq(outcome, MZ_ERR_UNKNOWN_ITEM);
    ck_assert_uint_eq(counts.rejected, 1);
    mz_service_close(svc);

    /* Still deleted after a restart. */
    svc = open_service(&cfg);
    ck_assert_int_eq(mz_service_read_item(svc, "item-05", copy_item, &item),
                     MZ_ERR_NOT_FOUND);
    r = recommend(svc, "kim", NULL, MZ_SELECT_MAX_K);
    ck_assert(!recommends(&r, "item-05"));
    ck_assert_int_eq(r.count, N_ITEMS - 1);
    mz_service_close(svc);
}
END_TEST

/* ---- restarts and the memory limit ----------------------------------------
 */

/* Clients with events, and one more (client-12) that decorate() gives
 * attributes only. */
enum { N_CLIENTS = 12, N_SNAPSHOT = N_CLIENTS + 1 };

static void client_name(char *buf, size_t len, int c)
{
    snprintf(buf, len, "client-%02d", c);
}

/* Every client of the population browses a walk of its own; some have
 * attributes, one withdrew consent, one purchased. */
static void populate(struct mz_service *svc, int n_clients, const char *round,
                     int offset_s)
{
    for (int c = 0; c < n_clients; c++) {
        char name[32];
        int walk[10];
        client_name(name, sizeof name, c);
        for (int i = 0; i < 10; i++)
            walk[i] = (c * 5 + i * (1 + c % 4)) % N_ITEMS;
        browse(svc, name, walk, 6 + c % 5, round, offset_s + c * 7);
    }
}

static void decorate(struct mz_service *svc)
{
    set_attributes(svc, "client-12", "vip", "fr", -1);
    set_attributes(svc, "client-01", "vip", "eu", -1);
    set_attributes(svc, "client-02", NULL, "us", 0);
    struct mz_event_record purchase =
        event("buy-3", "client-03", "item-04", MZ_EV_PURCHASE, FIRST_TS + 3000);
    submit(svc, &purchase, 1);
}

/* The profile and two recommendations of every client. */
struct snapshot {
    struct text profile[N_SNAPSHOT];
    struct text recommendation[N_SNAPSHOT][2];
};

static void take_snapshot(struct mz_service *svc, int n_clients,
                          struct snapshot *s)
{
    for (int c = 0; c < n_clients; c++) {
        char name[32];
        client_name(name, sizeof name, c);
        struct profile p;
        enum mz_status status = read_profile(svc, name, &p);
        ck_assert_msg(status == MZ_OK || status == MZ_ERR_NOT_FOUND,
                      "profile of %s: %s", name, mz_status_code(status));
        if (status == MZ_ERR_NOT_FOUND)
            text_add(&p.text, "not found");
        s->profile[c] = p.text;
        struct recommendation r = recommend(svc, name, NULL, 8);
        recommendation_text(&r, &s->recommendation[c][0]);
        r = recommend(svc, name, "maison-a", 4);
        recommendation_text(&r, &s->recommendation[c][1]);
    }
}

/* Exactly: the same float. Otherwise within a relative 1e-5, for a model
 * reloaded from a checkpoint (see the restart case). */
static bool same_score(float a, float b, bool exact)
{
    if (exact)
        return a == b;
    float scale = fabsf(a) > fabsf(b) ? fabsf(a) : fabsf(b);
    return fabsf(a - b) <= 1e-5f * (scale > 1.0f ? scale : 1.0f);
}

/* Returns whether a and b show the same; prints the first difference
 * (check's messages are short). */
static bool same_text(const char *what, const struct text *a,
                      const struct text *b, bool exact)
{
    if (strcmp(a->buf, b->buf) != 0 || a->n_scores != b->n_scores) {
        const char *x = a->buf, *y = b->buf;
        for (;;) { /* to the first line that differs */
            size_t len_x = strcspn(x, "\n"), len_y = strcspn(y, "\n");
            if (len_x != len_y || memcmp(x, y, len_x) != 0 || !x[len_x])
                break;
            x += len_x + 1;
            y += len_y + 1;
        }
        fprintf(stderr, "%s differs:\n  before: %.*s\n  after:  %.*s\n", what,
                (int)strcspn(x, "\n"), x, (int)strcspn(y, "\n"), y);
        return false;
    }
    for (int i = 0; i < a->n_scores; i++) {
        if (!same_score(a->scores[i], b->scores[i], exact)) {
            fprintf(stderr,
                    "%s differs: score %d (see \"~\" in %s) %a then %a\n", what,
                    i, a->buf, (double)a->scores[i], (double)b->scores[i]);
            return false;
        }
    }
    return true;
}

static void assert_same_snapshot(const struct snapshot *a,
                                 const struct snapshot *b, int n_clients,
                                 bool exact, const char *when)
{
    int differences = 0;
    for (int c = 0; c < n_clients; c++) {
        char what[128];
        snprintf(what, sizeof what, "client-%02d's profile %s", c, when);
        differences += !same_text(what, &a->profile[c], &b->profile[c], exact);
        for (int q = 0; q < 2; q++) {
            snprintf(what, sizeof what, "client-%02d's recommendation %d %s", c,
                     q, when);
            differences += !same_text(what, &a->recommendation[c][q],
                                      &b->recommendation[c][q], exact);
        }
    }
    ck_assert_msg(differences == 0, "%d reads differ %s (see stderr)",
                  differences, when);
}

/* The same items in the same order and the same profile; the scores
 * within 1e-5 (see the file header). */
START_TEST(test_restart_gives_back_the_same_profiles_and_recommendations)
{
    struct mz_service_config cfg = small_config(fresh_db("restart", 0));
    struct mz_service *svc = open_service(&cfg);
    static struct snapshot before, after;

    upsert_catalog(svc);
    put_rules(svc, "maison-a",
              "{\"categories\": {\"exclude\": [\"scarves\"]}}");
    populate(svc, N_CLIENTS, "r1", 0);
    decorate(svc);
    ck_assert_int_eq(mz_service_checkpoint(svc), MZ_OK);
    take_snapshot(svc, N_SNAPSHOT, &before);
    ck_assert_ptr_nonnull(strstr(before.profile[12].buf, "tier=vip region=fr"));
    struct mz_service_stats stats = stats_of(svc);
    ck_assert_int_eq(stats.checkpoint_seq, stats.applied_seq);
    ck_assert_uint_ge(stats.checkpoints, 1);
    mz_service_close(svc);

    svc = open_service(&cfg);
    take_snapshot(svc, N_SNAPSHOT, &after);
    assert_same_snapshot(&before, &after, N_SNAPSHOT, false, "after a restart");
    ck_assert_int_eq(stats_of(svc).applied_seq, stats.applied_seq);
    ck_assert_int_eq(stats_of(svc).items, N_ITEMS);
    int64_t version = 0;
    ck_assert_int_eq(
        mz_service_read_rules(svc, "maison-a", copy_rules_version, &version),
        MZ_OK);
    ck_assert_int_eq(version, 1);
    mz_service_close(svc);

    /* The same again under a memory limit of two clients: start-up loads
     * at most that many, the others are read back when asked for. */
    cfg.memory_limit = 2 * (stats.client_bytes + MZ_CACHE_CLIENT_OVERHEAD);
    svc = open_service(&cfg);
    ck_assert_uint_eq(stats_of(svc).max_clients, 2);
    ck_assert_uint_le(stats_of(svc).clients_in_memory, 2);
    take_snapshot(svc, N_SNAPSHOT, &after);
    assert_same_snapshot(&before, &after, N_SNAPSHOT, false,
                         "after a restart under a memory limit");
    ck_assert_uint_ge(stats_of(svc).clients_loaded, N_CLIENTS - 2);
    mz_service_close(svc);
}
END_TEST

/* Runs the first life of a service in a child process that exits
 * without mz_service_close, as a killed server would: no final
 * checkpoint, every acknowledged event in the log. run fills *before
 * (shared memory) with what the service showed just before. */
static void crash_after(const struct mz_service_config *cfg,
                        void (*run)(struct mz_service *svc,
                                    struct snapshot *before),
                        struct snapshot *before)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct mz_service *svc = open_service(cfg);
        run(svc, before);
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the first life failed (status %d)", status);
}

static struct snapshot *shared_snapshot(void)
{
    void *at = mmap(NULL, sizeof(struct snapshot), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(at, MAP_FAILED);
    return at;
}

/* A checkpoint, then more events, attributes and a consent withdrawal
 * that only the log holds. */
static void life_with_a_log_after_the_checkpoint(struct mz_service *svc,
                                                 struct snapshot *before)
{
    upsert_catalog(svc);
    populate(svc, N_CLIENTS, "c1", 0);
    ck_assert_int_eq(mz_service_checkpoint(svc), MZ_OK);
    populate(svc, N_CLIENTS, "c2", 2000);
    decorate(svc);
    take_snapshot(svc, N_SNAPSHOT, before);
}

START_TEST(test_restart_after_a_crash_replays_the_log_to_the_same_state)
{
    struct mz_service_config cfg = small_config(fresh_db("crash", 0));
    struct snapshot *before = shared_snapshot();
    static struct snapshot after;

    crash_after(&cfg, life_with_a_log_after_the_checkpoint, before);
    struct mz_service *svc = open_service(&cfg);
    struct mz_service_stats stats = stats_of(svc);
    ck_assert_int_gt(stats.checkpoint_seq, 0);
    ck_assert_int_gt(stats.applied_seq, stats.checkpoint_seq); /* replayed */
    take_snapshot(svc, N_SNAPSHOT, &after);
    assert_same_snapshot(before, &after, N_SNAPSHOT, false,
                         "after a crash and a replay");
    mz_service_close(svc);
    munmap(before, sizeof *before);
}
END_TEST

/* The same, and then an item that events after the checkpoint named is
 * deleted before the crash. The server that did not stop learned those
 * events with the item (it was live then); the replay must learn them the
 * same way (README: a restart "even after kill -9" gives "the state of a
 * server that never stopped"). Learning once mapped an event to item -1
 * when its item was retired at learning time, so the replay learned those
 * events as item-less ones and every client's scores moved. */
static void life_with_a_deletion_after_the_checkpoint(struct mz_service *svc,
                                                      struct snapshot *before)
{
    upsert_catalog(svc);
    populate(svc, N_CLIENTS, "c1", 0);
    ck_assert_int_eq(mz_service_checkpoint(svc), MZ_OK);
    populate(svc, N_CLIENTS, "c2", 2000);
    ck_assert_int_eq(mz_service_delete_item(svc, "item-04", NULL), MZ_OK);
    take_snapshot(svc, N_SNAPSHOT, before);
}

START_TEST(test_replay_learns_events_of_an_item_deleted_after_them_like_live)
{
    struct mz_service_config cfg = small_config(fresh_db("crash_delete", 0));
    struct snapshot *before = shared_snapshot();
    static struct snapshot after;

    crash_after(&cfg, life_with_a_deletion_after_the_checkpoint, before);
    struct mz_service *svc = open_service(&cfg);
    ck_assert_int_gt(stats_of(svc).applied_seq, stats_of(svc).checkpoint_seq);
    take_snapshot(svc, N_SNAPSHOT, &after);
    assert_same_snapshot(before, &after, N_SNAPSHOT, false,
                         "after a crash and a replay past a deletion");
    mz_service_close(svc);
    munmap(before, sizeof *before);
}
END_TEST

/* Waits (at most timeout_s) until the checkpointer has evicted down to
 * the limit; returns the last figures. */
static struct mz_service_stats wait_for_eviction(struct mz_service *svc,
                                                 double timeout_s)
{
    struct mz_service_stats stats = stats_of(svc);
    for (int waited_ms = 0; waited_ms < timeout_s * 1000; waited_ms += 50) {
        if (stats.clients_evicted > 0 &&
            stats.clients_in_memory <= stats.max_clients)
            break;
        usleep(50 * 1000);
        stats = stats_of(svc);
    }
    return stats;
}

START_TEST(test_memory_limited_service_evicts_and_reads_clients_back_the_same)
{
    static struct snapshot before, after;
    struct mz_service_config cfg = small_config(fresh_db("memory_limit", 0));
    struct mz_model *model = mz_model_new(&cfg.model, NULL, 0);
    const size_t max_clients = 4;
    cfg.memory_limit = max_clients * (mz_client_resident_bytes(model) +
                                      MZ_CACHE_CLIENT_OVERHEAD);
    ck_assert_uint_eq(mz_client_cache_max_clients(model, cfg.memory_limit),
                      max_clients);
    mz_model_free(model);
    cfg.checkpoint_interval_s = 1;
    struct mz_service *svc = open_service(&cfg);

    upsert_catalog(svc);
    populate(svc, N_CLIENTS, "m1", 0);
    decorate(svc);
    take_snapshot(svc, N_SNAPSHOT, &before);
    ck_assert_ptr_nonnull(strstr(before.profile[12].buf, "tier=vip region=fr"));
    ck_assert_uint_eq(stats_of(svc).max_clients, max_clients);
    ck_assert_int_eq(mz_service_checkpoint(svc), MZ_OK);

    /* The checkpointer evicts after each checkpoint the clients unused
     * for a second. */
    struct mz_service_stats stats = wait_for_eviction(svc, 10);
    ck_assert_uint_gt(stats.clients_evicted, 0);
    ck_assert_uint_le(stats.clients_in_memory, max_clients);

    take_snapshot(svc, N_SNAPSHOT, &after);
    assert_same_snapshot(&before, &after, N_SNAPSHOT, true,
                         "after an eviction");
    ck_assert_uint_gt(stats_of(svc).clients_loaded, 0);
    mz_service_close(svc);
}
END_TEST

/* Two services take the same catalog and events in the same order, one
 * keeping four clients in memory and evicting, one without a limit: the
 * evicted clients, read back to learn more, end up the same. */
START_TEST(test_memory_limited_service_learns_like_an_unlimited_one)
{
    static struct snapshot limited, unlimited;
    struct mz_service_config cfg_a = small_config(fresh_db("limited", 0));
    struct mz_service_config cfg_b = small_config(fresh_db("unlimited", 1));
    cfg_a.checkpoint_interval_s = 1;
    struct mz_service *a = open_service(&cfg_a);
    struct mz_service *b = open_service(&cfg_b);
    cfg_a.memory_limit =
        4 * (stats_of(a).client_bytes + MZ_CACHE_CLIENT_OVERHEAD);
    mz_service_close(a);
    a = open_service(&cfg_a);
    struct mz_service *both[] = {a, b};

    for (int s = 0; s < 2; s++) {
        upsert_catalog(both[s]);
        populate(both[s], N_CLIENTS, "l1", 0);
    }
    ck_assert_int_eq(mz_service_checkpoint(a), MZ_OK);
    struct mz_service_stats stats = wait_for_eviction(a, 10);
    ck_assert_uint_gt(stats.clients_evicted, 0);
    /* More events, attributes and consent for clients out of memory. */
    for (int s = 0; s < 2; s++) {
        populate(both[s], N_CLIENTS, "l2", 2000);
        decorate(both[s]);
    }
    ck_assert_uint_gt(stats_of(a).clients_loaded, 0);
    take_snapshot(a, N_SNAPSHOT, &limited);
    take_snapshot(b, N_SNAPSHOT, &unlimited);
    assert_same_snapshot(&unlimited, &limited, N_SNAPSHOT, true,
                         "with a memory limit (a) and without (b)");
    mz_service_close(a);
    mz_service_close(b);
}
END_TEST

/* A brand whose rules keep its signals to itself: its events teach only
 * the client's private memory of it, which only its own reads use; the
 * rules still exclude what was bought there; a scoped profile sees only
 * its brand's memories; a change of the flag applies to later events. */
START_TEST(test_a_brand_that_does_not_share_keeps_its_events_to_itself)
{
    struct mz_service_config cfg = small_config(fresh_db("isolation", 0));
    struct mz_service *svc = open_service(&cfg);

    upsert_catalog(svc);
    put_rules(svc, "maison-a",
              "{\"signals\": {\"share_with_other_brands\": false},"
              " \"exclude_purchased\": {\"enabled\": true}}");
    const int house_a[] = {0, 2, 4, 6, 0, 2, 4, 6}; /* even: maison-a */
    browse(svc, "ann", house_a, 8, "a", 0);
    struct mz_event_record bought[] = {
        event("a-buy", "ann", "item-00", MZ_EV_PURCHASE, FIRST_TS + 600)};
    submit(svc, bought, 1);

    ck_assert(recommend(svc, "ann", "maison-a", 5).personalized);
    ck_assert(!recommend(svc, "ann", "maison-b", 5).personalized);
    ck_assert(!recommend(svc, "ann", NULL, 5).personalized);
    /* Bought at maison-a: never recommended there, nor without a brand. */
    struct recommendation r = recommend(svc, "ann", "maison-a", N_ITEMS);
    ck_assert(!recommends(&r, "item-00"));
    ck_assert_int_eq(r.count, N_ITEMS / 2 - 1);

    /* Profiles: maison-b's reader knows nothing of ann; maison-a's sees
     * its memory, without the count of every house's events. */
    const char *b_only[] = {"maison-b"}, *a_only[] = {"maison-a"};
    struct profile p;
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(
        mz_service_read_profile(svc, "ann", b_only, 1, NOW, copy_profile, &p),
        MZ_ERR_NOT_FOUND);
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(
        mz_service_read_profile(svc, "ann", a_only, 1, NOW, copy_profile, &p),
        MZ_OK);
    ck_assert_int_eq(p.events_logged, -1);
    ck_assert_int_eq(p.events_learned, 9);
    ck_assert_msg(strstr(p.text.buf, "item-01") == NULL &&
                      strstr(p.text.buf, "maison-b") == NULL,
                  "maison-b in maison-a's profile: %s", p.text.buf);
    p = profile_of(svc, "ann"); /* every brand: everything */
    ck_assert_int_eq(p.events_logged, 9);
    ck_assert_int_eq(p.events_learned, 9);

    /* maison-a shares from now on: its later events reach maison-b. */
    put_rules(svc, "maison-a", "{}");
    const int more_a[] = {8, 10, 8, 10};
    browse(svc, "ann", more_a, 4, "later", 3600);
    ck_assert(recommend(svc, "ann", "maison-b", 5).personalized);
    mz_service_close(svc);
}
END_TEST

/* ---- keys ------------------------------------------------------------------
 */

/* A request for an evicted client is checked on an HTTP thread, then runs
 * on a thread that may wait with that check (req.admitted): a key revoked
 * while it queued must still be refused there. */
START_TEST(test_a_handed_on_request_of_a_key_revoked_meanwhile_is_refused)
{
    struct mz_service_config cfg = small_config(fresh_db("handed_on", 0));
    struct mz_service *svc = open_service(&cfg);
    struct mz_key_spec spec = {.name = "handed-on",
                               .roles = MZ_ROLE_CLIENTELING};
    struct mz_key_created key;
    ck_assert_int_eq(mz_service_create_key(svc, &spec, NULL, &key), MZ_OK);
    char authorization[16 + MZ_KEY_TOKEN_BYTES];
    snprintf(authorization, sizeof authorization, "Bearer %s", key.token);
    struct mz_principal admitted;
    struct mz_rate_refusal refusal;
    ck_assert_int_eq(
        mz_service_authenticate(svc, authorization, &admitted, &refusal),
        MZ_OK);

    struct mz_request req = {.method = "GET",
                             .path = "/v1/clients/nobody/profile",
                             .admitted = &admitted};
    struct mz_response resp = {0};
    mz_api_handle(svc, &req, &resp);
    ck_assert_int_eq(resp.http_status, 404); /* checked, then not found */
    mz_response_clear(&resp);

    ck_assert_int_eq(mz_service_revoke_key(svc, key.key_id, NULL), MZ_OK);
    resp = (struct mz_response){0};
    mz_api_handle(svc, &req, &resp);
    ck_assert_int_eq(resp.http_status, 401);
    ck_assert_str_eq(resp.www_authenticate, "Bearer");
    mz_response_clear(&resp);
    mz_service_close(svc);
}
END_TEST

static Suite *service_suite(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("postgres");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc,
                   test_open_on_a_fresh_database_gives_an_empty_ready_service);
    tcase_add_test(tc,
                   test_items_upserted_are_read_and_deleted_ones_are_not_found);
    tcase_add_test(tc,
                   test_submit_counts_accepted_duplicates_and_rejected_events);
    tcase_add_test(
        tc, test_recommendations_are_personalized_after_events_and_keep_to_k);
    tcase_add_test(
        tc,
        test_profile_is_not_found_until_a_client_has_events_then_shows_them);
    tcase_add_test(
        tc,
        test_rules_versions_increase_and_an_excluded_category_is_not_recommended);
    tcase_add_test(
        tc, test_consent_withdrawal_stops_personalization_and_hides_the_levels);
    tcase_add_test(tc, test_erased_client_is_not_found_even_after_a_restart);
    tcase_add_test(tc, test_deleted_item_is_never_recommended_nor_learned_from);
    tcase_add_test(
        tc, test_restart_gives_back_the_same_profiles_and_recommendations);
    tcase_add_test(
        tc, test_restart_after_a_crash_replays_the_log_to_the_same_state);
    tcase_add_test(
        tc, test_replay_learns_events_of_an_item_deleted_after_them_like_live);
    tcase_add_test(
        tc, test_memory_limited_service_evicts_and_reads_clients_back_the_same);
    tcase_add_test(tc,
                   test_memory_limited_service_learns_like_an_unlimited_one);
    tcase_add_test(tc,
                   test_a_brand_that_does_not_share_keeps_its_events_to_itself);
    tcase_add_test(
        tc, test_a_handed_on_request_of_a_key_revoked_meanwhile_is_refused);
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
    SRunner *sr = srunner_create(service_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
