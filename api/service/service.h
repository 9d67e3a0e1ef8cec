/*-------------------------------------------------------------------------
 * service.h
 *    The Maison service: every operation the API offers, as one C call
 *    that owns its locks and the order of its effects. The HTTP handlers
 *    in api/ turn a request into the arguments of one of these calls and
 *    its result into JSON; they never see the state behind it.
 *
 * What a call does, in order, is decided here and only here:
 *    - a change is written to PostgreSQL first, then applied in memory,
 *      so what a reader sees is always durable;
 *    - events are learned in log order by the event-log learner thread,
 *      and POST /v1/events is answered once its events are learned;
 *    - catalog and rule writes are serialised, so PostgreSQL and memory
 *      see them in the same order.
 *
 * Reads hand the caller a borrowed view through a callback, called once
 * under the service's read lock: everything the view points to is valid
 * only during the callback, which must not call the service again. The
 * callback returns MZ_OK, or an error (e.g. MZ_ERR_NOMEM while building
 * its reply) that the read call then returns.
 *
 * Ownership: arguments are borrowed unless a comment says "takes".
 *
 * Every change is audited (store/sql/0006-audit.sql) in the transaction
 * that makes it, under the key id of the principal that asks (the scope
 * or by argument; NULL: "maisond", the daemon itself).
 *
 * Interface routines:
 *    mz_service_open / _close      - load, replay, start / stop, free
 *    mz_service_checkpoint         - write the learned state now
 *    mz_service_ready / _stats     - readiness, figures for /metrics
 *    mz_service_submit_events      - append to the log, learn, count
 *    mz_service_upsert_items / _read_item / _list_items / _delete_item
 *    mz_service_put_rules / _read_rules
 *    mz_service_set_attributes / _erase_client
 *    mz_service_list_audit / _client_audit / _client_events
 *                                  - the audit log, a client's export
 *    mz_service_recommend / _read_profile
 *    mz_service_client_needs_store - whether those would read PostgreSQL
 *    mz_service_similar / _popular - a product page's and a brand's lists
 *    mz_service_authenticate       - Authorization header -> principal,
 *                                    under the key's rate limit
 *    mz_service_create_key / _list_keys / _revoke_key / _has_no_key
 *    mz_role_from_name / mz_role_name, mz_principal_allows_brand,
 *    mz_keys_mint / mz_keys_parse_roles - keys without a service (CLI)
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_SERVICE_H
#define MZ_API_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/brand_tiers.h"
#include "model/catalog.h"
#include "model/item.h"
#include "model/item_evidence.h"
#include "model/client_facts.h"
#include "model/event.h"
#include "model/model.h"
#include "model/reasons.h"
#include "model/rules.h"
#include "model/rules_select.h"
#include "model/status.h"
#include "store/event_writer.h"

struct mz_service;
struct mz_store;
struct mz_principal; /* below, with the API keys */

struct mz_service_config {
    const char *conninfo; /* borrowed libpq connection string */
    int store_pool_size;  /* connections for request threads */
    struct mz_model_config model;
    int checkpoint_interval_s; /* seconds between checkpoints */
    int checkpoint_spread_pct; /* of the interval, over which a
                                  checkpoint's write is paced; 0: none */
    size_t writer_batch_rows;  /* most events in one transaction */
    size_t memory_limit;       /* bytes of clients kept in memory
                                  (client_cache.h); 0: no limit */
    double default_rate_per_s; /* the rate limit of a key without its
                                  own (requests a second); <= 0: none */
    int default_rate_burst;    /* its burst, when default_rate_per_s > 0 */
    const char *node_id;       /* borrowed: this node's name among the
                                  nodes of one database (its checkpoint);
                                  at most MZ_NODE_ID_MAX bytes */
    int64_t ready_max_lag;     /* /readyz: at most this many log rows not
                                  yet applied */
    int retention_days;        /* drop log rows older than this that every
                                  node's checkpoint passed; 0: keep all */
};

/* Opens the store at cfg->conninfo (applying migrations), loads the
 * catalog, rules, client attributes and the last checkpoint, replays the
 * log after it, and starts the event-log writer and the checkpointer.
 * Returns the service (caller closes) or NULL with the reason in err. */
struct mz_service *mz_service_open(const struct mz_service_config *cfg,
                                   char *err, size_t err_len);

/* Stops the writer (committing what is queued), writes a final
 * checkpoint, stops the checkpointer and frees everything; accepts NULL. */
void mz_service_close(struct mz_service *svc);

/* Writes the changed clients and the global level as of the last learned
 * event. On failure they stay changed for the next attempt. */
enum mz_status mz_service_checkpoint(struct mz_service *svc);

/* Returns whether the service can take traffic (the database answers,
 * and the node has caught up with the log since its start, within
 * ready_max_lag rows); otherwise writes why into reason. */
bool mz_service_ready(struct mz_service *svc, char *reason, size_t reason_len);

/* Read your writes: waits (bounded) until this node has applied the log
 * up to position (a position a reply gave, e.g. POST /v1/events'; <= 0:
 * none). Returns MZ_OK or MZ_ERR_NOT_CAUGHT_UP. */
enum mz_status mz_service_wait_position(struct mz_service *svc,
                                        int64_t position);

/* The log position this node has applied: every row up to it is in
 * force here. */
int64_t mz_service_applied_position(struct mz_service *svc);

struct mz_service_stats {
    size_t clients_in_memory;
    size_t max_clients;  /* 0: no limit */
    size_t client_bytes; /* resident bytes of one client */
    int32_t items;       /* live catalog items */
    int64_t applied_seq; /* last log position learned */
    int64_t checkpoint_seq;
    double flush_lag_s; /* since the last good checkpoint */
    uint64_t events_accepted;
    uint64_t events_duplicate;
    uint64_t events_rejected;
    uint64_t events_learned;
    uint64_t consolidations;
    uint64_t checkpoints;
    uint64_t checkpoint_errors;
    uint64_t db_errors;
    uint64_t log_rows_dropped; /* by the log's retention */
    uint64_t clients_evicted;
    uint64_t clients_loaded;
    struct mz_event_writer_stats writer;
};

/* Fills *out with the service's figures. */
void mz_service_stats(struct mz_service *svc, struct mz_service_stats *out);

/* ---- events ---------------------------------------------------------- */

struct mz_submit_counts {
    size_t accepted;   /* new in the log, learned */
    size_t duplicates; /* event_id already in the log */
    size_t rejected;   /* refused by the caller or here */
};

/* Appends the records whose outcome[i] is MZ_OK on entry (the others
 * were refused by the caller and are only counted) to the event log and
 * returns once they are committed and learned. A record whose item is
 * not a live catalog item is refused here: outcome[i] becomes
 * MZ_ERR_UNKNOWN_ITEM; one whose item's brand is outside scope (the
 * caller's key; NULL: every brand) becomes MZ_ERR_FORBIDDEN. Sets
 * records[i].seq (0 for a duplicate) and fills *counts. Returns MZ_OK, or
 * MZ_ERR_DB_UNAVAILABLE / MZ_ERR_DB / MZ_ERR_NOMEM when nothing was accepted
 * (the batch may be retried whole: event ids make that safe). records and
 * outcome are n long. */
enum mz_status mz_service_submit_events(struct mz_service *svc,
                                        struct mz_event_record *records,
                                        enum mz_status *outcome, size_t n,
                                        const struct mz_principal *scope,
                                        struct mz_submit_counts *counts);

/* ---- catalog --------------------------------------------------------- */

/* Stores items[0..n-1] (takes every item, even on failure) with their
 * canonical documents docs[i] (borrowed JSON texts) in PostgreSQL, then
 * puts them in force, all or nothing. Returns MZ_OK, MZ_ERR_FORBIDDEN
 * when an item, new or as stored, is of a brand outside scope (the
 * caller's key; NULL: every brand), the store's error (nothing
 * changed), or MZ_ERR_NOMEM. */
enum mz_status mz_service_upsert_items(struct mz_service *svc,
                                       struct mz_item **items,
                                       const char *const *docs, size_t n,
                                       const struct mz_principal *scope);

typedef enum mz_status (*mz_item_reply_fn)(void *ctx,
                                           const struct mz_item *item);

/* Calls reply with the live item item_id. Returns MZ_ERR_NOT_FOUND when
 * there is none, else what reply returned. */
enum mz_status mz_service_read_item(struct mz_service *svc, const char *item_id,
                                    mz_item_reply_fn reply, void *ctx);

/* Which items a page of the catalog listing holds. */
struct mz_item_list_args {
    const char *brand;    /* borrowed; NULL: every brand of scope */
    const char *category; /* borrowed; NULL: every category */
    int available;        /* -1: either; 1: available and not sold out
                             (stock not 0); 0: the others */
    const char *after;    /* borrowed; ids after it (bytewise); NULL: from
                             the first */
    size_t limit;         /* 1..MZ_ITEM_LIST_MAX_LIMIT */
    const struct mz_principal *scope; /* borrowed; NULL: every brand */
};

#define MZ_ITEM_LIST_MAX_LIMIT 1000

/* Receives a page: items (borrowed, valid during the call) in ascending
 * id order, n of them, and whether more follow the last one. */
typedef enum mz_status (*mz_item_page_reply_fn)(
    void *ctx, const struct mz_item *const *items, size_t n, bool more);

/* Calls reply, under the read lock (so the page is the catalog as of
 * now, every applied upsert and deletion in it), with the first
 * args->limit live items args selects, of brands scope allows. Returns
 * what reply returned, MZ_ERR_INVALID for a limit out of range, or
 * MZ_ERR_NOMEM. */
enum mz_status mz_service_list_items(struct mz_service *svc,
                                     const struct mz_item_list_args *args,
                                     mz_item_page_reply_fn reply, void *ctx);

/* Marks item_id deleted in PostgreSQL, then retires it in memory (it is
 * never recommended nor learned from; its learned row stays for a later
 * re-insert). Returns MZ_OK, MZ_ERR_NOT_FOUND, MZ_ERR_FORBIDDEN (a live
 * item of a brand outside scope, the caller's key; NULL: every brand) or
 * a store error. */
enum mz_status mz_service_delete_item(struct mz_service *svc,
                                      const char *item_id,
                                      const struct mz_principal *scope);

/* ---- rules ----------------------------------------------------------- */

/* Stores rules (takes it, even on failure) as brand's next version with
 * its canonical document doc (borrowed JSON text), then puts it in force
 * for the next recommendation. Sets *version. Returns MZ_OK or the
 * store's error (nothing changed). */
enum mz_status mz_service_put_rules(struct mz_service *svc, const char *brand,
                                    struct mz_rules *rules, const char *doc,
                                    const struct mz_principal *by,
                                    int64_t *version);

typedef enum mz_status (*mz_rules_reply_fn)(void *ctx, int64_t version,
                                            const struct mz_rules *rules);

/* Calls reply with brand's rules in force. Returns MZ_ERR_NOT_FOUND when
 * the brand has none, else what reply returned. */
enum mz_status mz_service_read_rules(struct mz_service *svc, const char *brand,
                                     mz_rules_reply_fn reply, void *ctx);

/* ---- clients --------------------------------------------------------- */

struct mz_attributes_update {
    const char *tier;                   /* borrowed; NULL: unknown; the
                                           default for brands not in tiers */
    const struct mz_brand_tiers *tiers; /* borrowed; NULL: none */
    const char *region;                 /* borrowed; NULL: unknown */
    int consent;                        /* 1 grant, 0 withdraw, -1 unchanged */
};

/* Writer of the stored attributes document (canonical JSON text, caller
 * frees; NULL on allocation failure) for the attributes as they will be
 * (attrs, borrowed; its consent ignored), with consent the
 * personalisation consent in force afterwards. */
typedef char *(*mz_attributes_doc_fn)(const struct mz_attributes_update *attrs,
                                      bool consent);

/* Sets client_id's tiers and region and, when it changes, the consent: a
 * consent change is appended to the event log as a marker (so a replay
 * stops and starts learning at the same place) and learned before the
 * attributes are stored. Sets *consent_out to the consent in force.
 * Returns MZ_OK or the store's error. */
enum mz_status mz_service_set_attributes(
    struct mz_service *svc, const char *client_id,
    const struct mz_attributes_update *attrs, mz_attributes_doc_fn write_doc,
    const struct mz_principal *by, bool *consent_out);

/* Erases client_id everywhere: its events, attributes and state in
 * PostgreSQL, then memory; its audit rows are left under its digest
 * only. No checkpoint can write it back. Returns MZ_OK (also for an
 * unknown client) or the store's error. */
enum mz_status mz_service_erase_client(struct mz_service *svc,
                                       const char *client_id,
                                       const struct mz_principal *by);

/* ---- the audit log and a client's export --------------------------- */

/* Calls fn for at most limit audit rows with id > after_id made at or
 * after since_s, oldest first (see mz_store_list_audit). Returns MZ_OK or
 * the store's error. */
enum mz_status mz_service_list_audit(struct mz_service *svc, int64_t after_id,
                                     int64_t since_s, int limit,
                                     mz_store_audit_fn fn, void *ctx);

/* Calls fn for at most limit audit rows that name client_id, oldest
 * first. Returns MZ_OK or the store's error. */
enum mz_status mz_service_client_audit(struct mz_service *svc,
                                       const char *client_id, int limit,
                                       mz_store_audit_fn fn, void *ctx);

/* Calls fn for every event of client_id in the log, in log order,
 * streaming from PostgreSQL (fn returns false to stop). Returns MZ_OK or
 * the store's error. */
enum mz_status mz_service_client_events(struct mz_service *svc,
                                        const char *client_id,
                                        mz_store_event_fn fn, void *ctx);

/* ---- recommendations ------------------------------------------------- */

struct mz_recommend_args {
    const char *client_id;
    const char *brand;         /* NULL: every brand (of brands) */
    const char *const *brands; /* brand NULL: only these n_brands (the
                                  key's scope); NULL: every brand */
    size_t n_brands;
    const char *region;         /* NULL: the client's */
    const char *context_item;   /* NULL: none */
    int k;                      /* 1..MZ_SELECT_MAX_K */
    bool explain_rules;         /* count what each rule removed */
    int64_t now;                /* request time, seconds */
    const char *const *exclude; /* item ids never returned (unknown ones
                                   ignored); n_exclude <= MZ_EXCLUDE_MAX */
    size_t n_exclude;
};

/* Most ids a request may exclude (?exclude=), for the items its page
 * already shows. */
#define MZ_EXCLUDE_MAX 100

/* What mz_service_recommend shows: every pointer borrowed, valid during
 * the reply callback only. */
struct mz_recommendation_view {
    bool personalized; /* the client's levels were used */
    const struct mz_select_result *selection; /* items, scores, counts */
    const struct mz_item *const *items;       /* selection->count */
    const struct mz_reasons_request *reasons; /* for mz_reasons_build */
    bool has_rules;                           /* the brand has a rule set */
    int64_t rules_version;                    /* when has_rules */
};

typedef enum mz_status (*mz_recommendation_reply_fn)(
    void *ctx, const struct mz_recommendation_view *view);

/* Whether a request for client_id would first read it back from
 * PostgreSQL (evicted from a bounded cache), so that the HTTP layer runs
 * it where a wait blocks no other connection. A hint: it may change the
 * next moment, and the request is right either way. */
bool mz_service_client_needs_store(struct mz_service *svc,
                                   const char *client_id);

/* Scores the catalog for the client (reading it back if evicted; a new
 * client gets an entry so the frequency cap can count what it is shown),
 * selects the k best items the brand's rules allow, records them as
 * shown, and calls reply. Returns MZ_OK, a store error when the client
 * cannot be read, MZ_ERR_NOMEM, or what reply returned. */
enum mz_status mz_service_recommend(struct mz_service *svc,
                                    const struct mz_recommend_args *args,
                                    mz_recommendation_reply_fn reply,
                                    void *ctx);

/* ---- similar items and popular items --------------------------------- */

/* The tier under which the rules see a visitor without a client id: the
 * one "price.min_by_tier" and "reserved_tiers" name for prospects. */
#define MZ_VISITOR_TIER "prospect"

/* A list that needs no client: the similar items of a product page or
 * a brand's popular items. */
struct mz_discover_args {
    const char *item_id;       /* similar: the page's item */
    const char *client_id;     /* NULL: a visitor, tier MZ_VISITOR_TIER */
    const char *brand;         /* NULL: every brand (of brands) */
    const char *const *brands; /* brand NULL: only these n_brands (the
                                  key's scope); NULL: every brand */
    size_t n_brands;
    const char *region;         /* NULL: the client's (a visitor: none) */
    const char *category;       /* NULL: any */
    const char *const *exclude; /* ids never returned; unknown ignored */
    size_t n_exclude;           /* <= MZ_EXCLUDE_MAX */
    int k;                      /* 1..MZ_SELECT_MAX_K */
    int64_t now;                /* request time, seconds */
};

/* What mz_service_similar and mz_service_popular show: every pointer
 * borrowed, valid during the reply callback only. selection->scores are
 * the similarity (similar) or the popularity now (popular) of each item;
 * the list holds only items that score above 0. */
struct mz_discover_view {
    const struct mz_select_result *selection;
    const struct mz_item *const *items; /* selection->count */
    const struct mz_model *model;       /* for the reasons */
    const struct mz_catalog *catalog;
    int32_t source; /* similar: the page's item index; popular: -1 */
    bool has_rules; /* the brand has a rule set */
    int64_t rules_version;
};

typedef enum mz_status (*mz_discover_reply_fn)(
    void *ctx, const struct mz_discover_view *view);

/* Ranks every item by its similarity to args->item_id (model/similar.h:
 * transitions, shared attribute tokens, item space), selects the k best
 * the rules allow (the item itself and args->exclude never) for the
 * client (its facts, tier and region; none for a visitor) and calls
 * reply. Nothing is recorded (no impression). Returns MZ_OK,
 * MZ_ERR_NOT_FOUND (no live item of that id), MZ_ERR_FORBIDDEN (the item
 * is of a brand outside args->brands), a store error when the client
 * cannot be read, MZ_ERR_NOMEM, or what reply returned. */
enum mz_status mz_service_similar(struct mz_service *svc,
                                  const struct mz_discover_args *args,
                                  mz_discover_reply_fn reply, void *ctx);

/* Ranks args->brand's items (in args->category when given) by their
 * popularity now (the recency-decayed weighted event count the global
 * level learns), selects the k best the brand's rules allow for a
 * visitor in args->region and calls reply. Returns MZ_OK, MZ_ERR_NOMEM
 * or what reply returned. */
enum mz_status mz_service_popular(struct mz_service *svc,
                                  const struct mz_discover_args *args,
                                  mz_discover_reply_fn reply, void *ctx);

/* ---- profile --------------------------------------------------------- */

#define MZ_PROFILE_TOP_ITEMS  5
#define MZ_PROFILE_TOP_GROUPS 3

/* A category or brand and its weight in a level. */
struct mz_profile_group {
    const char *name;
    double weight;
};

#define MZ_PROFILE_DESCRIPTION_BYTES 256

/* What one memory source holds, in catalog terms. */
struct mz_profile_level {
    enum mz_level_source source;
    int level;     /* client level, -1 for the session
                      context and the catalog */
    char name[32]; /* the time scale in words ("now", "recent weeks",
                      ...), distinct among a profile's levels */
    char description[MZ_PROFILE_DESCRIPTION_BYTES]; /* one sentence */
    double half_life_s;           /* how fast it forgets; 0: never (catalog:
                                     the popularity half-life) */
    int64_t chunk_events;         /* level only */
    int64_t events;               /* level only */
    int64_t last_consolidated_at; /* level only; 0: never */
    const char *item_ids[MZ_PROFILE_TOP_ITEMS];
    float item_scores[MZ_PROFILE_TOP_ITEMS];
    /* Per item: whether the facts the reader sees hold an event on it
     * (then evidence says which), else why the level infers it. */
    bool interacted[MZ_PROFILE_TOP_ITEMS];
    struct mz_item_evidence evidence[MZ_PROFILE_TOP_ITEMS];
    struct mz_reason reason[MZ_PROFILE_TOP_ITEMS];
    int n_items;
    struct mz_profile_group categories[MZ_PROFILE_TOP_GROUPS];
    int n_categories;
    struct mz_profile_group brands[MZ_PROFILE_TOP_GROUPS];
    int n_brands;
};

struct mz_profile_view {
    const char *tier;                   /* NULL: unknown */
    const struct mz_brand_tiers *tiers; /* the tier at some brands */
    const char *region;                 /* NULL: unknown */
    bool consent;
    int64_t events_logged;  /* in the log, learned or not; -1 for a reader
                               of some brands (it counts every house) */
    int64_t events_learned; /* by the memories the reader sees */
    int n_levels;           /* model levels, for source names */
    const struct mz_profile_level *levels; /* empty without consent */
    int n_sources;
    /* The facts records the reader sees (the shared facts and private
     * memories' facts), none without consent; show only entries of
     * brands[0..n_brands-1] (NULL: every brand). */
    const struct mz_client_facts *const *facts;
    size_t n_facts;
    const char *const *brands;
    size_t n_brands;
    const struct mz_catalog *catalog; /* names the facts' items */
};

typedef enum mz_status (*mz_profile_reply_fn)(
    void *ctx, const struct mz_profile_view *view);

/* Calls reply with what the service holds about client_id (reading it
 * back if evicted), as a reader of brands[0..n_brands-1] (borrowed; NULL:
 * every brand) may see it: only those brands' items, visits and the
 * memories they may see, every level's top items taken among their
 * items (evidence from the facts of those memories, reasons naming only
 * their items). Returns MZ_ERR_NOT_FOUND for a client with no event and no
 * attributes (for a reader of some brands: none it may see), a store
 * error, MZ_ERR_NOMEM, or what reply returned. */
enum mz_status mz_service_read_profile(struct mz_service *svc,
                                       const char *client_id,
                                       const char *const *brands,
                                       size_t n_brands, int64_t now,
                                       mz_profile_reply_fn reply, void *ctx);

/* ---- API keys -------------------------------------------------------- */

/* Roles, one bit each; a key holds one or more. Admin may do everything;
 * clienteling: recommendations, profiles, events, client attributes. */
#define MZ_ROLE_ADMIN         0x01u /* everything, keys */
#define MZ_ROLE_MERCHANDISING 0x02u /* catalog items and rules */
#define MZ_ROLE_CLIENTELING   0x04u /* the client-facing reads and writes */
#define MZ_ROLE_INGEST        0x08u /* POST /v1/events */
#define MZ_ROLE_PRIVACY       0x10u /* erasure, consent */
#define MZ_ROLE_OPS           0x20u /* /metrics */
#define MZ_ROLE_COUNT         6

#define MZ_KEY_MAX_BRANDS 32
#define MZ_KEY_ID_CHARS   16 /* hex of 8 random bytes */
/* "mz_" key_id "_" 64 hex of the 32-byte secret, and a NUL. */
#define MZ_KEY_TOKEN_BYTES    (3 + MZ_KEY_ID_CHARS + 1 + 64 + 1)
#define MZ_KEY_NAME_MAX_BYTES 200

/* Returns the bit of a role name ("admin", ...), or 0 for none. */
unsigned mz_role_from_name(const char *name);
/* Returns the name of the single role bit role (static), or NULL. */
const char *mz_role_name(unsigned role);

/* Who made a request: a copy, owned by the caller. */
struct mz_principal {
    char key_id[MZ_KEY_ID_CHARS + 1];
    unsigned roles;  /* MZ_ROLE_* */
    bool all_brands; /* brands ["*"] */
    size_t n_brands;
    char brands[MZ_KEY_MAX_BRANDS][MZ_ID_MAX_BYTES + 1];
};

/* Returns whether p may act on brand. */
bool mz_principal_allows_brand(const struct mz_principal *p, const char *brand);

/* A key to make: brands NULL / n_brands 0 means every brand. */
struct mz_key_spec {
    const char *name;
    unsigned roles; /* at least one MZ_ROLE_* */
    const char *const *brands;
    size_t n_brands;            /* <= MZ_KEY_MAX_BRANDS */
    double rate_requests_per_s; /* <= 0: none of its own (the server's
                                   default applies) */
    int rate_burst;             /* >= 1 when rate_requests_per_s > 0 */
};

/* A new key: token is the bearer secret, shown once and never stored. */
struct mz_key_created {
    char key_id[MZ_KEY_ID_CHARS + 1];
    char token[MZ_KEY_TOKEN_BYTES];
    int64_t created_at; /* seconds */
};

/* What the service holds of one key (no secret); borrowed. */
struct mz_key_view {
    const char *key_id;
    const char *name;
    unsigned roles;
    bool all_brands;
    const char *const *brands;
    size_t n_brands;
    double rate_requests_per_s; /* its own; <= 0: none */
    int rate_burst;
    int64_t created_at;
    uint64_t rate_limited; /* requests refused by its rate limit since
                              this process started */
};

/* Why mz_service_authenticate refused a request for its rate: the limit
 * in force for the key and how long until it may send again. */
struct mz_rate_refusal {
    double requests_per_s;
    int burst;
    int retry_after_s; /* whole seconds, at least 1 */
};

/* Checks authorization, the value of an Authorization header (borrowed;
 * NULL when absent): "Bearer <token>" of a live key, then counts the
 * request against the key's rate limit (its own, else the server's
 * default; a token bucket per key, in this process's memory). Returns
 * MZ_OK with *out filled; MZ_ERR_UNAUTHORIZED (missing, malformed,
 * unknown or revoked); or MZ_ERR_RATE_LIMITED with *out and *refusal
 * filled, the key being over its limit. The secret is compared in
 * constant time. */
enum mz_status mz_service_authenticate(struct mz_service *svc,
                                       const char *authorization,
                                       struct mz_principal *out,
                                       struct mz_rate_refusal *refusal);

/* Whether the key key_id is still in force (not revoked since a request
 * was authenticated with it); counts nothing against its rate limit. */
bool mz_service_key_in_force(struct mz_service *svc, const char *key_id);

/* Makes a key for spec: stores it in PostgreSQL, then puts it in force.
 * Fills *out. Returns MZ_OK, MZ_ERR_INVALID (no role, too many brands, an
 * admin key scoped to some brands, a rate limit out of the range of
 * model/token_bucket.h),
 * MZ_ERR_NOMEM or the store's error (nothing changed). */
enum mz_status mz_service_create_key(struct mz_service *svc,
                                     const struct mz_key_spec *spec,
                                     const struct mz_principal *by,
                                     struct mz_key_created *out);

typedef enum mz_status (*mz_keys_reply_fn)(void *ctx,
                                           const struct mz_key_view *keys,
                                           size_t n);

/* Calls reply with every live key, oldest first. Returns what it
 * returned. */
enum mz_status mz_service_list_keys(struct mz_service *svc,
                                    mz_keys_reply_fn reply, void *ctx);

/* Revokes key_id in PostgreSQL, then in memory: its next request fails.
 * Returns MZ_OK, MZ_ERR_NOT_FOUND or the store's error. */
enum mz_status mz_service_revoke_key(struct mz_service *svc, const char *key_id,
                                     const struct mz_principal *by);

/* Returns whether no key was ever made (revoked ones count as made): the
 * first start, when maisond makes the admin key. */
bool mz_service_has_no_key(struct mz_service *svc);

/* Makes a key for spec and stores it (store borrowed) without a service,
 * audited under actor (the keys command's "cli"): for the keys command;
 * a running maisond sees it when it next reloads its keys (after a
 * checkpoint). Same results as mz_service_create_key. */
enum mz_status mz_keys_mint(struct mz_store *store,
                            const struct mz_key_spec *spec, const char *actor,
                            struct mz_key_created *out);

/* Parses a list of role names separated by sep (",", or "\n" for the
 * store's lines) into *roles. Returns false on an unknown or empty name,
 * naming it in why. */
bool mz_keys_parse_roles(const char *names, char sep, unsigned *roles,
                         char *why, size_t why_len);

#endif
