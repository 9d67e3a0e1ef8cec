/*-------------------------------------------------------------------------
 * profile.c
 *    What the service holds about one client, for the profile a boutique
 *    app shows before a sales associate greets them: attributes, what
 *    each memory source holds (named by its time scale, with its top
 *    items -- each either touched by the client, with the evidence, or
 *    inferred, with the reason -- categories and brands) and the facts
 *    -- all of them for a key of every brand; for a key of some
 *    brands only what comes from those brands' items, visits and the
 *    memories they may see (api/service/signals.c).
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/scratch.h"
#include "model/topk.h"

/* Items whose categories and brands summarise a level. */
#define PROFILE_SUMMARY_ITEMS 50

/* A small running tally of weight per category or brand id. */
struct tally {
    int32_t ids[PROFILE_SUMMARY_ITEMS];
    double weights[PROFILE_SUMMARY_ITEMS];
    int count;
};

static void tally_add(struct tally *t, int32_t id, double weight)
{
    for (int i = 0; i < t->count; i++) {
        if (t->ids[i] == id) {
            t->weights[i] += weight;
            return;
        }
    }
    if (t->count < PROFILE_SUMMARY_ITEMS) {
        t->ids[t->count] = id;
        t->weights[t->count++] = weight;
    }
}

/* Writes the MZ_PROFILE_TOP_GROUPS heaviest entries of t into out,
 * heaviest first (the first of equals kept first), and returns how
 * many. */
static int tally_top(struct tally *t,
                     const char *(*name_of)(const struct mz_catalog *, int32_t),
                     const struct mz_catalog *catalog,
                     struct mz_profile_group *out)
{
    int n = 0;
    for (; n < MZ_PROFILE_TOP_GROUPS && n < t->count; n++) {
        int best = n;
        for (int i = n + 1; i < t->count; i++)
            if (t->weights[i] > t->weights[best])
                best = i;
        int32_t id = t->ids[best];
        double weight = t->weights[best];
        t->ids[best] = t->ids[n];
        t->weights[best] = t->weights[n];
        t->ids[n] = id;
        t->weights[n] = weight;
        const char *name = name_of(catalog, id);
        out[n] = (struct mz_profile_group){name ? name : "", weight};
    }
    return n;
}

/* The memories a reader sees of one client, and which items it may see
 * (allowed: a byte per item, NULL: all). */
struct profile_scope {
    struct mz_brand_memory seen[1 + MZ_CLIENT_MAX_PRIVATES];
    size_t n_seen;
    const struct mz_client_facts *facts[1 + MZ_CLIENT_MAX_PRIVATES];
    const struct mz_client *empty; /* owned: stands for no memory */
    uint8_t *allowed;              /* owned; NULL: every item */
};

/* Writes a half-life in words ("an hour", "21 days", "a year"). */
static void duration_text(double seconds, char *text, size_t len)
{
    static const struct {
        double unit;
        const char *many;
    } units[] = {{365.0 * 86400.0, "years"},
                 {86400.0, "days"},
                 {3600.0, "hours"},
                 {60.0, "minutes"}};
    static const char *const a_one[] = {"a year", "a day", "an hour",
                                        "a minute"};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        double n = seconds / units[u].unit;
        if (n >= 1.0 || u + 1 == sizeof units / sizeof units[0]) {
            if (n < 1.5)
                snprintf(text, len, "%s", a_one[u]);
            else
                snprintf(text, len, "%.0f %s", n, units[u].many);
            return;
        }
    }
}

/* The name of a client level by how fast it forgets: a half-life of at
 * most 2 days speaks of the last days, at most 60 days of the last
 * weeks, longer (or never fading) of the long term. */
static const char *level_scale(double half_life_s)
{
    if (half_life_s > 0.0 && half_life_s <= 2.0 * 86400.0)
        return "recent days";
    if (half_life_s > 0.0 && half_life_s <= 60.0 * 86400.0)
        return "recent weeks";
    return "long term";
}

/* Fills out's name, description and half-life for its source in cfg. */
static void name_level(const struct mz_model_config *cfg,
                       struct mz_profile_level *out)
{
    char fade[48];
    if (out->source == MZ_SOURCE_SESSION) {
        out->half_life_s = cfg->session_half_life_s;
        duration_text(out->half_life_s, fade, sizeof fade);
        snprintf(out->name, sizeof out->name, "now");
        snprintf(out->description, sizeof out->description,
                 "The last %d items the client looked at, fading within %s: "
                 "what they are browsing now.",
                 cfg->session_items, fade);
        return;
    }
    if (out->source == MZ_SOURCE_CATALOG) {
        out->half_life_s = cfg->pop_half_life_s;
        snprintf(out->name, sizeof out->name, "catalog-wide");
        snprintf(out->description, sizeof out->description,
                 "Not about this client: what all clients engage with most "
                 "right now, which fills in where the client's own history "
                 "says little.");
        return;
    }
    int level = out->level;
    out->half_life_s = cfg->level_half_life_s[level];
    snprintf(out->name, sizeof out->name, "%s", level_scale(out->half_life_s));
    char fading[96];
    if (out->half_life_s > 0.0) {
        duration_text(out->half_life_s, fade, sizeof fade);
        snprintf(fading, sizeof fading, "its weights halve over %s", fade);
    } else {
        snprintf(fading, sizeof fading, "its weights do not fade with time");
    }
    if (cfg->level_chunk[level] <= 1)
        snprintf(out->description, sizeof out->description,
                 "What the client engaged with last: every event counts, "
                 "the newest most; %s.",
                 fading);
    else
        snprintf(out->description, sizeof out->description,
                 "What the client came back to again and again, learned "
                 "once per %d events, so a one-off look counts little; %s.",
                 cfg->level_chunk[level], fading);
}

/* Makes the names of levels[0..n-1] distinct: a name a previous level
 * took gets its level number ("long term (level 3)"). */
static void distinct_names(struct mz_profile_level *levels, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(levels[i].name, levels[j].name) == 0) {
                char base[sizeof levels[i].name];
                memcpy(base, levels[i].name, sizeof base);
                snprintf(levels[i].name, sizeof levels[i].name,
                         "%.16s (level %d)", base, levels[i].level);
                break;
            }
}

/* Adds up what source holds in every memory the reader sees (the catalog
 * is the same for all) into scores. Returns MZ_OK or MZ_ERR_NOMEM. */
static enum mz_status score_source(const struct mz_service *svc,
                                   const struct profile_scope *scope,
                                   enum mz_level_source source, int64_t now,
                                   float *scores)
{
    int32_t n_items = mz_model_item_count(svc->model);
    if (source == MZ_SOURCE_CATALOG || scope->n_seen == 0) {
        mz_model_score_source(svc->model, scope->empty, source, now, scores);
        return MZ_OK;
    }
    mz_model_score_source(svc->model, scope->seen[0].memory, source, now,
                          scores);
    if (scope->n_seen == 1)
        return MZ_OK;
    float *more = malloc((size_t)n_items * sizeof *more + 1);
    if (!more)
        return MZ_ERR_NOMEM;
    for (size_t m = 1; m < scope->n_seen; m++) {
        mz_model_score_source(svc->model, scope->seen[m].memory, source, now,
                              more);
        for (int32_t j = 0; j < n_items; j++)
            scores[j] += more[j];
    }
    free(more);
    return MZ_OK;
}

/* Fills entry k of out for item: what the client did with it when the
 * facts the reader sees hold it, else why source infers it (told from
 * the first memory the reader sees, naming only items it may see). */
static void describe_item(const struct mz_service *svc,
                          const struct profile_scope *scope,
                          enum mz_level_source source, int64_t now,
                          int32_t item, struct mz_profile_level *out, int k)
{
    out->interacted[k] = mz_item_evidence_gather(scope->facts, scope->n_seen,
                                                 item, &out->evidence[k]);
    if (out->interacted[k])
        return;
    bool personal = source != MZ_SOURCE_CATALOG && scope->n_seen > 0;
    struct mz_reasons_request rr = {
        .model = svc->model,
        .catalog = svc->catalog,
        .client = personal ? scope->seen[0].memory : NULL,
        .facts = personal ? scope->seen[0].facts : NULL,
        .context_item = -1,
        .now = now,
        .allowed = scope->allowed,
    };
    if (!mz_reasons_for_source(&rr, item, source, &out->reason[k]))
        out->reason[k] = (struct mz_reason){.source = source};
}

/* Fills *out with what source holds in the memories scope sees, over
 * the items it may see. Caller holds the read lock. Returns MZ_OK or
 * MZ_ERR_NOMEM. */
static enum mz_status describe_source(const struct mz_service *svc,
                                      const struct profile_scope *scope,
                                      enum mz_level_source source, int64_t now,
                                      struct mz_profile_level *out)
{
    const struct mz_model_config *cfg = mz_model_config_of(svc->model);
    int32_t n_items = mz_model_item_count(svc->model);
    float *scores = mz_scratch_scores((size_t)n_items);
    int32_t top[PROFILE_SUMMARY_ITEMS];
    float top_scores[PROFILE_SUMMARY_ITEMS];
    if (!scores)
        return MZ_ERR_NOMEM;
    *out = (struct mz_profile_level){.source = source, .level = -1};
    if (source >= MZ_SOURCE_LEVEL0 && source < MZ_SOURCE_CATALOG)
        out->level = (int)source - MZ_SOURCE_LEVEL0;
    name_level(cfg, out);
    enum mz_status status = score_source(svc, scope, source, now, scores);
    if (status != MZ_OK)
        return status;
    size_t n_top = mz_topk(scores, (size_t)n_items, scope->allowed,
                           PROFILE_SUMMARY_ITEMS, top, top_scores);
    struct tally categories = {.count = 0}, brands = {.count = 0};
    for (size_t i = 0; i < n_top; i++) {
        const struct mz_item *item = mz_catalog_item(svc->catalog, top[i]);
        if (!item || item->retired)
            continue;
        /* A category's or brand's weight is its items' scores: an item
         * the level gives nothing speaks for nothing. */
        if (top_scores[i] > 0.0f) {
            tally_add(&categories, item->category_id, top_scores[i]);
            tally_add(&brands, item->brand_id, top_scores[i]);
        }
        if (out->n_items < MZ_PROFILE_TOP_ITEMS) {
            int k = out->n_items++;
            out->item_ids[k] = item->item_id;
            out->item_scores[k] = top_scores[i];
            describe_item(svc, scope, source, now, top[i], out, k);
        }
    }
    out->n_categories = tally_top(&categories, mz_catalog_category_name,
                                  svc->catalog, out->categories);
    out->n_brands =
        tally_top(&brands, mz_catalog_brand_name, svc->catalog, out->brands);
    if (out->level >= 0) {
        int level = out->level;
        out->chunk_events = cfg->level_chunk[level];
        for (size_t m = 0; m < scope->n_seen; m++) {
            const struct mz_client *memory = scope->seen[m].memory;
            int64_t at = mz_client_level_consolidated_at(memory, level);
            out->events += mz_client_level_events(memory, level);
            if (at > out->last_consolidated_at)
                out->last_consolidated_at = at;
        }
    }
    return MZ_OK;
}

/* Which memories of entry a reader of brands[0..n_brands-1] (NULL: every
 * brand) sees, and which items: a reader of every brand sees all of
 * them; otherwise the shared memory when one of its brands shares, and
 * the private memory of each of its brands that does not. Caller holds
 * the read lock. Returns MZ_OK or MZ_ERR_NOMEM. */
static enum mz_status scope_profile(const struct mz_service *svc,
                                    const struct mz_client_entry *entry,
                                    const char *const *brands, size_t n_brands,
                                    struct profile_scope *scope)
{
    scope->n_seen = 0;
    scope->allowed = NULL;
    scope->empty = mz_client_new(svc->model);
    if (!scope->empty)
        return MZ_ERR_NOMEM;
    if (!brands) {
        scope->seen[scope->n_seen++] =
            (struct mz_brand_memory){entry->memory, entry->facts};
        for (size_t i = 0; i < entry->privates.count; i++)
            scope->seen[scope->n_seen++] = (struct mz_brand_memory){
                entry->privates.v[i].memory, entry->privates.v[i].facts};
        return MZ_OK;
    }
    int32_t n_items = mz_model_item_count(svc->model);
    scope->allowed = calloc((size_t)n_items + 1, 1);
    if (!scope->allowed)
        return MZ_ERR_NOMEM;
    bool shared = false;
    for (size_t b = 0; b < n_brands; b++) {
        size_t count = 0;
        const int32_t *items = mz_catalog_brand_items(
            svc->catalog, mz_catalog_brand_id(svc->catalog, brands[b]), &count);
        for (size_t i = 0; i < count; i++)
            if (items[i] < n_items)
                scope->allowed[items[i]] = 1;
        if (mz_service_brand_shares(svc, brands[b])) {
            shared = true;
            continue;
        }
        struct mz_brand_memory own =
            mz_service_brand_memory(svc, entry, brands[b]);
        if (own.memory)
            scope->seen[scope->n_seen++] = own;
    }
    if (shared) { /* first, as for a reader of every brand */
        memmove(scope->seen + 1, scope->seen,
                scope->n_seen * sizeof *scope->seen);
        scope->seen[0] = (struct mz_brand_memory){entry->memory, entry->facts};
        scope->n_seen++;
    }
    return MZ_OK;
}

static void scope_clear(struct profile_scope *scope)
{
    mz_client_free((struct mz_client *)scope->empty);
    free(scope->allowed);
}

/* Whether the reader sees anything of the client: a reader of every
 * brand any logged event; another, an event its memories hold. */
static bool profile_exists(const struct mz_client_entry *entry,
                           const struct profile_scope *scope, bool all_brands)
{
    if (entry->has_attributes)
        return true;
    if (all_brands)
        return entry->events_logged > 0;
    for (size_t m = 0; m < scope->n_seen; m++)
        if (mz_client_event_count(scope->seen[m].memory) > 0 ||
            mz_client_facts_event_count(scope->seen[m].facts) > 0)
            return true;
    return false;
}

/* The sources a profile shows, in order: the session context (when the
 * model uses one), every client level, the catalog. Returns how many. */
static int profile_sources(const struct mz_model_config *cfg,
                           enum mz_level_source *sources)
{
    int n = 0;
    if (cfg->use_session)
        sources[n++] = MZ_SOURCE_SESSION;
    for (int level = 0; level < cfg->n_levels; level++)
        sources[n++] = (enum mz_level_source)(MZ_SOURCE_LEVEL0 + level);
    sources[n++] = MZ_SOURCE_CATALOG;
    return n;
}

static enum mz_status profile_locked(struct mz_service *svc,
                                     const char *client_id,
                                     const char *const *brands, size_t n_brands,
                                     int64_t now, mz_profile_reply_fn reply,
                                     void *ctx)
{
    struct mz_client_entry *entry =
        mz_client_cache_get(svc->clients, client_id);
    if (!entry)
        return MZ_ERR_NOT_FOUND;
    struct profile_scope *scope = malloc(sizeof *scope);
    if (!scope)
        return MZ_ERR_NOMEM;
    enum mz_status status = scope_profile(svc, entry, brands, n_brands, scope);
    if (status == MZ_OK && !profile_exists(entry, scope, brands == NULL))
        status = MZ_ERR_NOT_FOUND;
    const struct mz_model_config *cfg = mz_model_config_of(svc->model);
    for (size_t m = 0; status == MZ_OK && m < scope->n_seen; m++)
        scope->facts[m] = scope->seen[m].facts;
    struct mz_profile_level levels[MZ_SOURCE_COUNT];
    int n_sources = 0;
    if (status == MZ_OK && entry->consent) { /* no consent: nothing learned */
        enum mz_level_source sources[MZ_SOURCE_COUNT];
        int n = profile_sources(cfg, sources);
        for (; status == MZ_OK && n_sources < n; n_sources++)
            status = describe_source(svc, scope, sources[n_sources], now,
                                     &levels[n_sources]);
        distinct_names(levels, n_sources);
    }
    int64_t events_learned = 0;
    for (size_t m = 0; m < scope->n_seen; m++) {
        scope->facts[m] = scope->seen[m].facts;
        events_learned += mz_client_event_count(scope->seen[m].memory);
    }
    struct mz_profile_view view = {
        .tier = entry->tier,
        .tiers = &entry->tiers,
        .region = entry->region,
        .consent = entry->consent,
        .events_logged = brands ? -1 : entry->events_logged,
        .events_learned = events_learned,
        .n_levels = cfg->n_levels,
        .levels = levels,
        .n_sources = n_sources,
        .facts = scope->facts,
        .n_facts = entry->consent ? scope->n_seen : 0,
        .brands = brands,
        .n_brands = n_brands,
        .catalog = svc->catalog,
    };
    if (status == MZ_OK) {
        /* Readers record impressions, which the facts hold. */
        pthread_mutex_lock(entry->impressions_lock);
        status = reply(ctx, &view);
        pthread_mutex_unlock(entry->impressions_lock);
    }
    scope_clear(scope);
    free(scope);
    return status;
}

enum mz_status mz_service_read_profile(struct mz_service *svc,
                                       const char *client_id,
                                       const char *const *brands,
                                       size_t n_brands, int64_t now,
                                       mz_profile_reply_fn reply, void *ctx)
{
    enum mz_status status = mz_service_fetch_client(svc, client_id, false);
    if (status != MZ_OK)
        return status;
    mz_service_read_lock(svc);
    status = profile_locked(svc, client_id, brands, n_brands, now, reply, ctx);
    pthread_rwlock_unlock(&svc->lock);
    return status;
}
