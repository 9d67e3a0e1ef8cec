/*-------------------------------------------------------------------------
 * learning.c
 *    Learning committed events, in log order: the event-log writer's
 *    callback, and the same step for the start-up replay.
 *
 * The writer never waits on PostgreSQL under the write lock: every
 * client a batch submitted here names was read back and held in memory
 * before the batch was appended (events.c), and the clients of rows read
 * from the log (other nodes' events) are read back and held before their
 * batch is learned. Only the start-up replay, before any request is
 * served, reads a client back under the write lock. Change markers go to
 * changes.c, in their place in the log.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <sched.h>
#include <stdlib.h>

#include "model/log.h"

/* How long one write-lock hold of the learner may last (it ends after the
 * event that crosses it), so a recommendation waits at most about this
 * long for the learner. An event costs 20-40 us to learn (perf, make
 * bench part (a)); a bound of 256 events per hold made holds of 5-10 ms,
 * the p99 of recommendations beside ingestion (part (g)). */
#define LEARN_HOLD_NS 200000

/* How long the learner waits after a hold for the readers that queued
 * behind it to take the lock. Without it, the learner took the lock
 * again before a woken reader ran, and a recommendation waited through
 * several holds (make bench part (g): lock waits of 1-3 ms). */
#define HANDOVER_MAX_NS 100000

/* Lets the readers blocked on svc->lock in before the next hold: once
 * one holds the read lock, the next write hold waits for it (glibc's
 * rwlock prefers readers). Yields rather than spins, so a reader woken
 * on this core can run. Then yields once more in any case: a request
 * that waits for a CPU, not for the lock, runs before the learner's
 * next hold instead of after the learner's whole slice. What a request
 * beside ingestion waited for was the learner's CPU more than its lock
 * (docs/durability.md, item 8 of the stalls, has the figures). */
static void hand_over_to_readers(struct mz_service *svc)
{
    int64_t until = mz_service_monotonic_ns() + HANDOVER_MAX_NS;

    while (atomic_load_explicit(&svc->readers_waiting, memory_order_relaxed) >
               0 &&
           mz_service_monotonic_ns() < until)
        sched_yield();
    sched_yield();
}

static int64_t consolidated_events(const struct mz_client *memory, int n_levels)
{
    int64_t total = 0;
    for (int level = 1; level < n_levels; level++)
        total += mz_client_level_events(memory, level);
    return total;
}

/* The entry that ev teaches. An absent client is new (or was erased
 * while its events were in flight, and starts again from them, as a
 * replay of the log would); the replay reads evicted clients back. */
static struct mz_client_entry *entry_for_event(struct mz_service *svc,
                                               const char *client_id)
{
    if (!svc->replaying)
        return mz_client_cache_get_or_add(svc->clients, client_id);
    enum mz_status status = MZ_OK;
    struct mz_client_entry *entry =
        mz_client_cache_read_back(svc->clients, client_id, &status);
    if (!entry) {
        mz_service_note_db_error(svc);
        mz_log_reason(MZ_LOG_ERROR,
                      "client not learned from: its record could not be read",
                      mz_status_code(status));
    }
    return entry;
}

/* A consent marker: withdrawn forgets what every memory of the client
 * learned (shared and private), granted resumes; the facts of each see
 * the marker. */
static void set_consent(struct mz_client_entry *entry,
                        const struct mz_event_obs *obs)
{
    bool withdrawn = obs->type == MZ_EV_CONSENT_WITHDRAWN;
    entry->consent = !withdrawn;
    if (withdrawn)
        mz_client_reset(entry->memory);
    mz_client_facts_observe(entry->facts, obs);
    for (size_t i = 0; i < entry->privates.count; i++) {
        if (withdrawn)
            mz_client_reset(entry->privates.v[i].memory);
        mz_client_facts_observe(entry->privates.v[i].facts, obs);
    }
}

/* entry's private memory of brand, made when it is the client's first
 * event there; a memory made while consent is withdrawn starts paused
 * like the others. NULL (logged) when out of memory. */
static struct mz_client_private *private_memory(struct mz_service *svc,
                                                struct mz_client_entry *entry,
                                                const char *brand)
{
    bool is_new = !mz_client_privates_find(&entry->privates, brand);
    struct mz_client_private *p =
        mz_client_privates_add(&entry->privates, svc->model, brand);
    if (!p) {
        mz_log_reason(MZ_LOG_ERROR,
                      "event not learned: no room for the client's private "
                      "memory of its brand",
                      mz_status_code(MZ_ERR_NOMEM));
        return NULL;
    }
    if (is_new && !entry->consent) {
        struct mz_event_obs paused = {.item = -1,
                                      .type = MZ_EV_CONSENT_WITHDRAWN};
        mz_client_facts_observe(p->facts, &paused);
    }
    return p;
}

void mz_service_learn_event(struct mz_service *svc,
                            const struct mz_event_record *ev)
{
    if (ev->seq > svc->applied_seq)
        svc->applied_seq = ev->seq;
    if (ev->change != MZ_CHANGE_NONE) {
        mz_service_apply_change(svc, ev);
        return;
    }
    struct mz_client_entry *entry = entry_for_event(svc, ev->client_id);
    if (!entry)
        return;
    entry->events_logged++;
    entry->dirty = true;

    /* An item deleted since is still learned from: the event was
     * accepted while it was live (submit refuses retired items), and the
     * replay after a restart, which loads today's deletions, must learn
     * what the live server learned. A retired item is never selected, so
     * what its row learns shows nowhere until it is re-inserted. A
     * submission's item_index, found when it was checked, is still the
     * item's: catalog indices are never reused. */
    int32_t item = ev->item_index;
    if (item < 0 && ev->item_id) /* the replay: not looked up yet */
        item = mz_catalog_find(svc->catalog, ev->item_id);
    const struct mz_item *rec = mz_catalog_item(svc->catalog, item);
    struct mz_event_obs obs = {
        .item = item,
        .type = ev->type,
        .ts = ev->ts,
        .seq = ev->seq,
        .value = (float)ev->value,
        .quantity = ev->quantity,
        .dwell_ms = ev->dwell_ms,
        .brand = rec ? NULL : ev->brand,
    };
    if (ev->type == MZ_EV_CONSENT_WITHDRAWN ||
        ev->type == MZ_EV_CONSENT_GRANTED) {
        set_consent(entry, &obs);
        return;
    }
    /* The house the event was at: its item's brand, or the brand a visit
     * names. A brand that keeps its signals to itself learns into its own
     * private memory of the client; the flag is read as the event is
     * learned, so a change applies to events learned after it (and a
     * replay reads the rules in force at start-up). */
    const char *brand = rec ? rec->brand : ev->brand;
    struct mz_client *memory = entry->memory;
    struct mz_client_facts *facts = entry->facts;
    if (!mz_service_brand_shares(svc, brand)) {
        struct mz_client_private *p = private_memory(svc, entry, brand);
        if (!p)
            return;
        memory = p->memory;
        facts = p->facts;
    }
    if (!entry->consent) {
        /* Not learned from, but the rules still protect the client: the
         * facts record the purchases, returns and dismissals they read
         * (and nothing else while consent is withdrawn). */
        mz_client_facts_observe(facts, &obs);
        return;
    }

    int n_levels = mz_model_config_of(svc->model)->n_levels;
    int64_t before = consolidated_events(memory, n_levels);
    mz_model_observe(svc->model, memory, &obs, true);
    mz_client_facts_observe(facts, &obs);
    if (consolidated_events(memory, n_levels) != before)
        atomic_fetch_add_explicit(&svc->counters.consolidations, 1,
                                  memory_order_relaxed);
    atomic_fetch_add_explicit(&svc->counters.events_learned, 1,
                              memory_order_relaxed);
    svc->global_dirty = true;
}

/* The clients of the rows read from the log that teach or change a
 * client (other nodes' events, attribute markers), for holding: a
 * malloc'd array of borrowed ids (NULL with *n 0 when there are none, or
 * when out of memory: then they are learned without the hold, as new
 * clients if not in memory). */
static const char **followed_clients(const struct mz_event_record *const *rows,
                                     size_t n_rows, size_t *n)
{
    *n = 0;
    const char **ids = NULL;
    for (size_t i = 0; i < n_rows; i++) {
        const struct mz_event_record *ev = rows[i];
        bool names_client =
            ev->change == MZ_CHANGE_NONE || ev->change == MZ_CHANGE_ATTRIBUTES;
        if (!ev->from_log || !names_client || !ev->client_id[0])
            continue;
        if (!ids && !(ids = malloc(n_rows * sizeof *ids)))
            return NULL;
        ids[(*n)++] = ev->client_id;
    }
    return ids;
}

/* Rows of a closed global chunk applied per write hold (the model
 * defers the chunk while serving, mz_model_defer_chunks): a row's
 * AdaGrad step is about 0.1-0.2 us, and a chunk touches up to a few
 * thousand rows (about 0.4 ms, the longest event under the write lock
 * in make bench part (g)). */
#define CHUNK_ROWS_PER_HOLD 512

/* Applies the chunk the last event closed, in write holds of
 * CHUNK_ROWS_PER_HOLD rows, handing the lock to queued readers between
 * them; nothing is learned until it is done, so the next event finds the
 * item space the in-place application (the replay's) leaves. */
static void apply_chunk(struct mz_service *svc)
{
    bool done = false;

    while (!done) {
        pthread_rwlock_wrlock(&svc->lock);
        done = mz_model_apply_chunk_part(svc->model, CHUNK_ROWS_PER_HOLD);
        pthread_rwlock_unlock(&svc->lock);
        hand_over_to_readers(svc);
    }
}

/* The popular candidates' rebuild that the last event made due (the
 * model defers it while serving, mz_model_defer_popular): ranked under
 * the read lock, beside recommendations, and installed under the write
 * lock. A pass over the catalog (0.3-0.4 ms at 50,000 items) was the
 * longest single event under the write lock. Only this thread learns, so
 * the model does not move in between, and the list is the one a replay
 * rebuilds in place at the same event. */
static void rebuild_popular(struct mz_service *svc)
{
    int32_t want = mz_model_config_of(svc->model)->cand_popular;
    int32_t *list = malloc((size_t)(want > 0 ? want : 1) * sizeof *list);
    int32_t n = -1;

    mz_service_read_lock(svc);
    if (list)
        n = mz_model_rank_popular(svc->model, list);
    pthread_rwlock_unlock(&svc->lock);
    pthread_rwlock_wrlock(&svc->lock);
    mz_model_install_popular(svc->model, list, n);
    pthread_rwlock_unlock(&svc->lock);
    free(list);
}

void mz_service_on_events_committed(void *ctx,
                                    const struct mz_event_record *const *events,
                                    size_t n)
{
    struct mz_service *svc = ctx;
    size_t n_held = 0;
    const char **held = followed_clients(events, n, &n_held);
    if (held && mz_service_hold_clients(svc, held, n_held) != MZ_OK) {
        /* Not read back (database gone?): learned into what memory has. */
        free(held);
        held = NULL;
    }
    for (size_t i = 0; i < n;) {
        pthread_rwlock_wrlock(&svc->lock);
        int64_t until = mz_service_monotonic_ns() + LEARN_HOLD_NS;
        do
            mz_service_learn_event(svc, events[i++]);
        while (i < n && !mz_model_popular_due(svc->model) &&
               !mz_model_chunk_due(svc->model) &&
               mz_service_monotonic_ns() < until);
        bool reload_keys = svc->keys_changed;
        svc->keys_changed = false;
        pthread_rwlock_unlock(&svc->lock);
        hand_over_to_readers(svc);
        /* The chunk first: the in-place rebuild ranks the popular list
         * after the chunk's step (mz_model_observe). */
        if (mz_model_chunk_due(svc->model))
            apply_chunk(svc);
        if (mz_model_popular_due(svc->model))
            rebuild_popular(svc);
        if (reload_keys)
            mz_service_reload_keys(svc);
    }
    if (held)
        mz_client_cache_release(svc->clients, held, n_held);
    free(held);
}
