/*-------------------------------------------------------------------------
 * keys.c
 *    API keys: minting, authentication, listing, revocation.
 *
 * A token is "mz_<key_id>_<secret>": key_id is 16 hex characters (8
 * random bytes, not secret), secret 64 hex characters (32 bytes from
 * randombytes_buf). PostgreSQL and memory hold only the BLAKE2b-256
 * (crypto_generichash) of the secret's bytes: a fast hash is enough for a
 * 256-bit random secret. Authentication finds the key by its id, hashes
 * the presented secret and compares the two hashes with crypto_verify_32,
 * in constant time. The token appears once, in the reply that made it.
 *
 * A key made or revoked here is written to PostgreSQL first, then to
 * memory, under keys_write_mutex; keys_lock (a read lock per request)
 * guards the array. The checkpointer reloads the keys from PostgreSQL
 * after each checkpoint, so what `maisond keys` makes or revokes takes
 * effect within a checkpoint interval.
 *
 * Rate limits: every live key has a struct mz_key_limit, the limit in
 * force (its own, else the server's default, else none) with a token
 * bucket (model/token_bucket.h) and a count of refusals. Authentication
 * takes a token under the read lock with one compare-and-swap on the
 * key's own bucket, so requests of different keys share nothing and
 * those of one key no mutex. Every request a key authenticates counts,
 * whatever its answer. The bucket lives in this process's memory: each
 * node of several limits on its own. A reload hands each key's bucket on
 * to its new entry (a key is not refilled every checkpoint); a revoked
 * key's bucket is freed with it.
 *
 * Interface routines: see service.h, the API keys section.
 *-------------------------------------------------------------------------
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/service/internal.h"
#include "model/log.h"
#include "model/token_bucket.h"

#define SECRET_BYTES 32
#define HASH_BYTES   32

static const char *const role_names[MZ_ROLE_COUNT] = {
    "admin", "merchandising", "clienteling", "ingest", "privacy", "ops",
};

unsigned mz_role_from_name(const char *name)
{
    for (unsigned i = 0; i < MZ_ROLE_COUNT; i++)
        if (strcmp(name, role_names[i]) == 0)
            return 1u << i;
    return 0;
}

const char *mz_role_name(unsigned role)
{
    for (unsigned i = 0; i < MZ_ROLE_COUNT; i++)
        if (role == 1u << i)
            return role_names[i];
    return NULL;
}

bool mz_keys_parse_roles(const char *names, char sep, unsigned *roles,
                         char *why, size_t why_len)
{
    *roles = 0;
    const char *p = names;
    while (*p) {
        size_t len = strcspn(p, (char[]){sep, '\0'});
        char name[32];
        unsigned bit = 0;
        if (len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            bit = mz_role_from_name(name);
        }
        if (!bit) {
            snprintf(why, why_len, "unknown role '%.*s'", (int)len, p);
            return false;
        }
        *roles |= bit;
        p += len;
        if (*p == sep)
            p++;
    }
    if (!*roles)
        snprintf(why, why_len, "at least one role is needed");
    return *roles != 0;
}

bool mz_principal_allows_brand(const struct mz_principal *p, const char *brand)
{
    if (p->all_brands)
        return true;
    for (size_t i = 0; i < p->n_brands; i++)
        if (strcmp(p->brands[i], brand) == 0)
            return true;
    return false;
}

/* ---- lines (the store's form of role and brand lists) ---------------- */

/* Joins the names of roles with '\n'; out holds every name. */
static void roles_to_lines(unsigned roles, char *out, size_t len)
{
    out[0] = '\0';
    for (unsigned i = 0; i < MZ_ROLE_COUNT; i++) {
        if (!(roles & (1u << i)))
            continue;
        if (out[0])
            strncat(out, "\n", len - strlen(out) - 1);
        strncat(out, role_names[i], len - strlen(out) - 1);
    }
}

/* Joins brands with '\n' ("*" for none); caller frees; NULL on ENOMEM. */
static char *brands_to_lines(const char *const *brands, size_t n)
{
    if (n == 0)
        return strdup("*");
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(brands[i]) + 1;
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, "\n");
        strcat(out, brands[i]);
    }
    return out;
}

/* ---- minting --------------------------------------------------------- */

/* Fills out with a new id, token and time, and hash with the secret's
 * hash. */
static void mint(struct mz_key_created *out, unsigned char hash[HASH_BYTES])
{
    unsigned char id[MZ_KEY_ID_CHARS / 2];
    unsigned char secret[SECRET_BYTES];
    char secret_hex[2 * SECRET_BYTES + 1];

    randombytes_buf(id, sizeof id);
    randombytes_buf(secret, sizeof secret);
    sodium_bin2hex(out->key_id, sizeof out->key_id, id, sizeof id);
    sodium_bin2hex(secret_hex, sizeof secret_hex, secret, sizeof secret);
    snprintf(out->token, sizeof out->token, "mz_%s_%s", out->key_id,
             secret_hex);
    crypto_generichash(hash, HASH_BYTES, secret, sizeof secret, NULL, 0);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(secret_hex, sizeof secret_hex);
    out->created_at = (int64_t)time(NULL);
}

/* Mints a key for spec and stores it; *hash gets the secret's hash. */
static enum mz_status mint_and_store(struct mz_store *store,
                                     const struct mz_key_spec *spec,
                                     const char *actor,
                                     struct mz_key_created *out,
                                     unsigned char hash[HASH_BYTES])
{
    /* An admin may make any key, so an admin key scoped to some brands
     * would be a scope in name only. */
    struct mz_token_bucket probe;
    if (spec->roles == 0 || (spec->roles >> MZ_ROLE_COUNT) != 0 ||
        spec->n_brands > MZ_KEY_MAX_BRANDS ||
        ((spec->roles & MZ_ROLE_ADMIN) && spec->n_brands > 0) ||
        (spec->rate_requests_per_s > 0 &&
         !mz_token_bucket_init(&probe, spec->rate_requests_per_s,
                               spec->rate_burst)))
        return MZ_ERR_INVALID;
    if (sodium_init() < 0)
        return MZ_ERR_INTERNAL;
    mint(out, hash);
    char hash_hex[2 * HASH_BYTES + 1];
    char roles[128];
    sodium_bin2hex(hash_hex, sizeof hash_hex, hash, HASH_BYTES);
    roles_to_lines(spec->roles, roles, sizeof roles);
    char *brands = brands_to_lines(spec->brands, spec->n_brands);
    if (!brands)
        return MZ_ERR_NOMEM;
    struct mz_store_key row = {
        .key_id = out->key_id,
        .name = spec->name ? spec->name : "",
        .secret_hash = hash_hex,
        .roles = roles,
        .brands = brands,
        .rate_requests_per_s = spec->rate_requests_per_s,
        .rate_burst = spec->rate_burst,
        .created_at = out->created_at,
    };
    enum mz_status st = mz_store_put_key(store, &row, actor, NULL);
    free(brands);
    if (st != MZ_OK)
        sodium_memzero(out->token, sizeof out->token);
    return st;
}

enum mz_status mz_keys_mint(struct mz_store *store,
                            const struct mz_key_spec *spec, const char *actor,
                            struct mz_key_created *out)
{
    unsigned char hash[HASH_BYTES];

    return mint_and_store(store, spec, actor, out, hash);
}

/* ---- rate limits ----------------------------------------------------- */

/* The rate limit in force for one key. */
struct mz_key_limit {
    bool limited; /* false: no limit, the fields below unused */
    double requests_per_s;
    int burst;
    struct mz_token_bucket bucket;
    atomic_uint_fast64_t refused; /* requests answered 429 */
};

/* A limit for a key whose own setting is rps and burst (rps <= 0: none),
 * under svc's default. Returns NULL on ENOMEM, or for a setting out of
 * range (*invalid set). */
static struct mz_key_limit *limit_new(const struct mz_service *svc, double rps,
                                      int burst, bool *invalid)
{
    struct mz_key_limit *limit = calloc(1, sizeof *limit);
    *invalid = false;
    if (!limit)
        return NULL;
    atomic_init(&limit->refused, 0);
    if (rps <= 0) {
        rps = svc->default_rate_per_s;
        burst = svc->default_rate_burst;
    }
    if (rps <= 0)
        return limit;
    if (!mz_token_bucket_init(&limit->bucket, rps, burst)) {
        free(limit);
        *invalid = true;
        return NULL;
    }
    limit->limited = true;
    limit->requests_per_s = rps;
    limit->burst = burst;
    return limit;
}

static bool same_limit(const struct mz_key_limit *a,
                       const struct mz_key_limit *b)
{
    return a->limited == b->limited &&
           (!a->limited ||
            (a->requests_per_s == b->requests_per_s && a->burst == b->burst));
}

/* Gives each key of fresh the limit (bucket and count) of the key of
 * old with its id, when that limit is the same; old gets the fresh one,
 * to be freed with it. Caller holds the write lock. */
static void hand_on_limits(struct mz_service_key *fresh, size_t n_fresh,
                           struct mz_service_key *old, size_t n_old)
{
    for (size_t i = 0; i < n_fresh; i++) {
        for (size_t j = 0; j < n_old; j++) {
            if (strcmp(fresh[i].key_id, old[j].key_id) != 0)
                continue;
            if (same_limit(fresh[i].limit, old[j].limit)) {
                struct mz_key_limit *kept = old[j].limit;
                old[j].limit = fresh[i].limit;
                fresh[i].limit = kept;
            }
            break;
        }
    }
}

/* Counts one request against limit. Returns MZ_OK, or
 * MZ_ERR_RATE_LIMITED with *refusal filled. */
static enum mz_status admit(struct mz_key_limit *limit,
                            struct mz_rate_refusal *refusal)
{
    int64_t wait_ns = 0;
    if (!limit->limited ||
        mz_token_bucket_take(&limit->bucket, mz_service_monotonic_ns(),
                             &wait_ns))
        return MZ_OK;
    atomic_fetch_add_explicit(&limit->refused, 1, memory_order_relaxed);
    refusal->requests_per_s = limit->requests_per_s;
    refusal->burst = limit->burst;
    refusal->retry_after_s = mz_token_bucket_wait_s(wait_ns);
    return MZ_ERR_RATE_LIMITED;
}

/* ---- memory ---------------------------------------------------------- */

static void key_clear(struct mz_service_key *key)
{
    free(key->limit);
    free(key->name);
    for (size_t i = 0; i < key->n_brands; i++)
        free(key->brands[i]);
    free(key->brands);
    memset(key, 0, sizeof *key);
}

/* Fills key from the given fields, its rate limit under svc's default.
 * Returns MZ_OK, MZ_ERR_NOMEM or MZ_ERR_INVALID (a rate out of range);
 * on failure key is cleared. */
static enum mz_status key_fill(const struct mz_service *svc,
                               struct mz_service_key *key, const char *key_id,
                               const unsigned char hash[HASH_BYTES],
                               const char *name, unsigned roles,
                               const char *const *brands, size_t n_brands,
                               double rps, int burst, int64_t created_at)
{
    bool invalid = false;
    memset(key, 0, sizeof *key);
    key->limit = limit_new(svc, rps, burst, &invalid);
    if (!key->limit)
        return invalid ? MZ_ERR_INVALID : MZ_ERR_NOMEM;
    snprintf(key->key_id, sizeof key->key_id, "%s", key_id);
    memcpy(key->hash, hash, HASH_BYTES);
    key->roles = roles;
    key->rate_requests_per_s = rps;
    key->rate_burst = burst;
    key->created_at = created_at;
    key->all_brands = n_brands == 0;
    key->name = strdup(name ? name : "");
    key->brands = n_brands ? calloc(n_brands, sizeof *key->brands) : NULL;
    if (!key->name || (n_brands && !key->brands)) {
        key_clear(key);
        return MZ_ERR_NOMEM;
    }
    for (size_t i = 0; i < n_brands; i++) {
        key->brands[i] = strdup(brands[i]);
        if (!key->brands[i]) {
            key_clear(key);
            return MZ_ERR_NOMEM;
        }
        key->n_brands = i + 1;
    }
    return MZ_OK;
}

/* Appends key (taken) to the array *keys of *n. */
static bool keys_append(struct mz_service_key **keys, size_t *n,
                        struct mz_service_key *key)
{
    struct mz_service_key *grown = realloc(*keys, (*n + 1) * sizeof **keys);
    if (!grown)
        return false;
    *keys = grown;
    (*keys)[(*n)++] = *key;
    return true;
}

static void keys_free(struct mz_service_key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        key_clear(&keys[i]);
    free(keys);
}

/* The keys read from PostgreSQL. */
struct load_ctx {
    const struct mz_service *svc; /* the default rate limit */
    struct mz_service_key *keys;  /* owned, live ones */
    size_t n_keys;
    size_t ever; /* rows, revoked ones included */
    char *err;
    size_t err_len;
};

static bool load_key(void *arg, const struct mz_store_key *row)
{
    struct load_ctx *x = arg;
    x->ever++;
    if (row->revoked)
        return true;
    unsigned roles = 0;
    unsigned char hash[HASH_BYTES];
    char why[128];
    if (!mz_keys_parse_roles(row->roles, '\n', &roles, why, sizeof why) ||
        sodium_hex2bin(hash, sizeof hash, row->secret_hash,
                       strlen(row->secret_hash), NULL, NULL, NULL) != 0) {
        snprintf(x->err, x->err_len, "key %s: bad stored row (%s)", row->key_id,
                 why);
        return false;
    }
    const char *brands[MZ_KEY_MAX_BRANDS];
    size_t n = 0;
    char *copy = strdup(row->brands);
    if (!copy)
        return false;
    if (strcmp(copy, "*") != 0) {
        for (char *save = NULL, *b = strtok_r(copy, "\n", &save);
             b && n < MZ_KEY_MAX_BRANDS; b = strtok_r(NULL, "\n", &save))
            brands[n++] = b;
    }
    struct mz_service_key key;
    enum mz_status st =
        key_fill(x->svc, &key, row->key_id, hash, row->name, roles, brands, n,
                 row->rate_requests_per_s, row->rate_burst, row->created_at);
    free(copy);
    if (st == MZ_OK && !keys_append(&x->keys, &x->n_keys, &key)) {
        key_clear(&key);
        st = MZ_ERR_NOMEM;
    }
    if (st == MZ_ERR_INVALID)
        snprintf(x->err, x->err_len,
                 "key %s: bad stored row (rate limit out of range)",
                 row->key_id);
    else if (st != MZ_OK)
        snprintf(x->err, x->err_len, "out of memory");
    return st == MZ_OK;
}

/* Reads every key from PostgreSQL and puts the live ones in force in
 * place of those in memory (nothing changes on failure). */
static enum mz_status load_keys(struct mz_service *svc, char *err,
                                size_t err_len)
{
    struct load_ctx x = {.svc = svc, .err = err, .err_len = err_len};
    pthread_mutex_lock(&svc->keys_write_mutex);
    enum mz_status st = mz_store_load_keys(svc->store, load_key, &x);
    if (st == MZ_OK) {
        pthread_rwlock_wrlock(&svc->keys_lock);
        struct mz_service_key *old = svc->keys;
        size_t n_old = svc->n_keys;
        hand_on_limits(x.keys, x.n_keys, old, n_old);
        svc->keys = x.keys;
        svc->n_keys = x.n_keys;
        svc->keys_ever = x.ever;
        pthread_rwlock_unlock(&svc->keys_lock);
        keys_free(old, n_old);
    } else {
        keys_free(x.keys, x.n_keys);
    }
    pthread_mutex_unlock(&svc->keys_write_mutex);
    return st;
}

enum mz_status mz_service_load_keys(struct mz_service *svc, char *err,
                                    size_t err_len)
{
    if (sodium_init() < 0) {
        snprintf(err, err_len, "libsodium cannot start");
        return MZ_ERR_INTERNAL;
    }
    enum mz_status st = load_keys(svc, err, err_len);
    if (st != MZ_OK && !err[0])
        snprintf(err, err_len, "cannot load the API keys: %s",
                 mz_status_code(st));
    return st;
}

void mz_service_reload_keys(struct mz_service *svc)
{
    char err[256] = "";
    enum mz_status st = load_keys(svc, err, sizeof err);
    if (st != MZ_OK) {
        mz_service_count_store_error(svc, st);
        mz_log_msg(MZ_LOG_WARNING, "API keys not reloaded; the ones in "
                                   "memory stay in force");
    }
}

void mz_service_free_keys(struct mz_service *svc)
{
    keys_free(svc->keys, svc->n_keys);
    svc->keys = NULL;
    svc->n_keys = 0;
}

/* ---- the operations -------------------------------------------------- */

/* Reads "Bearer mz_<id>_<secret>" into id and the secret's bytes. */
static bool parse_authorization(const char *authorization,
                                char id[MZ_KEY_ID_CHARS + 1],
                                unsigned char secret[SECRET_BYTES])
{
    static const char scheme[] = "Bearer ";
    if (!authorization ||
        strncasecmp(authorization, scheme, sizeof scheme - 1) != 0)
        return false;
    const char *t = authorization + sizeof scheme - 1;
    while (*t == ' ')
        t++;
    size_t len = strcspn(t, " \t");
    if (t[len] != '\0' && strspn(t + len, " \t") != strlen(t + len))
        return false;
    if (len != MZ_KEY_TOKEN_BYTES - 1 || strncmp(t, "mz_", 3) != 0 ||
        t[3 + MZ_KEY_ID_CHARS] != '_')
        return false;
    memcpy(id, t + 3, MZ_KEY_ID_CHARS);
    id[MZ_KEY_ID_CHARS] = '\0';
    size_t got = 0;
    const char *hex = t + 3 + MZ_KEY_ID_CHARS + 1;
    return sodium_hex2bin(secret, SECRET_BYTES, hex, 2 * SECRET_BYTES, NULL,
                          &got, NULL) == 0 &&
           got == SECRET_BYTES;
}

enum mz_status mz_service_authenticate(struct mz_service *svc,
                                       const char *authorization,
                                       struct mz_principal *out,
                                       struct mz_rate_refusal *refusal)
{
    char id[MZ_KEY_ID_CHARS + 1];
    unsigned char secret[SECRET_BYTES], hash[HASH_BYTES];
    if (!parse_authorization(authorization, id, secret))
        return MZ_ERR_UNAUTHORIZED;
    crypto_generichash(hash, sizeof hash, secret, sizeof secret, NULL, 0);
    sodium_memzero(secret, sizeof secret);

    enum mz_status st = MZ_ERR_UNAUTHORIZED;
    pthread_rwlock_rdlock(&svc->keys_lock);
    for (size_t i = 0; i < svc->n_keys; i++) {
        const struct mz_service_key *key = &svc->keys[i];
        if (strcmp(key->key_id, id) != 0)
            continue;
        if (crypto_verify_32(key->hash, hash) == 0) {
            memcpy(out->key_id, key->key_id, sizeof out->key_id);
            out->roles = key->roles;
            out->all_brands = key->all_brands;
            out->n_brands = key->n_brands;
            for (size_t b = 0; b < key->n_brands; b++)
                snprintf(out->brands[b], sizeof out->brands[b], "%s",
                         key->brands[b]);
            st = admit(key->limit, refusal);
        }
        break;
    }
    pthread_rwlock_unlock(&svc->keys_lock);
    return st;
}

enum mz_status mz_service_create_key(struct mz_service *svc,
                                     const struct mz_key_spec *spec,
                                     const struct mz_principal *by,
                                     struct mz_key_created *out)
{
    unsigned char hash[HASH_BYTES];
    struct mz_service_key key;

    pthread_mutex_lock(&svc->keys_write_mutex);
    enum mz_status st =
        mint_and_store(svc->store, spec, mz_service_actor(by), out, hash);
    bool stored = st == MZ_OK;
    if (stored) {
        svc->keys_ever++;
        st = key_fill(svc, &key, out->key_id, hash, spec->name, spec->roles,
                      spec->brands, spec->n_brands, spec->rate_requests_per_s,
                      spec->rate_burst, out->created_at);
    } else {
        mz_service_count_store_error(svc, st);
    }
    if (st == MZ_OK) {
        pthread_rwlock_wrlock(&svc->keys_lock);
        if (!keys_append(&svc->keys, &svc->n_keys, &key)) {
            key_clear(&key);
            st = MZ_ERR_NOMEM;
        }
        pthread_rwlock_unlock(&svc->keys_lock);
    }
    if (stored && st != MZ_OK) {
        /* Stored but not in force: revoke it, so no one holds a token
         * that works only after a restart. */
        mz_store_revoke_key(svc->store, out->key_id, mz_service_actor(by),
                            NULL);
        sodium_memzero(out->token, sizeof out->token);
    }
    pthread_mutex_unlock(&svc->keys_write_mutex);
    return st;
}

enum mz_status mz_service_list_keys(struct mz_service *svc,
                                    mz_keys_reply_fn reply, void *ctx)
{
    enum mz_status st;
    pthread_rwlock_rdlock(&svc->keys_lock);
    struct mz_key_view *views =
        calloc(svc->n_keys ? svc->n_keys : 1, sizeof *views);
    if (!views) {
        st = MZ_ERR_NOMEM;
    } else {
        for (size_t i = 0; i < svc->n_keys; i++) {
            const struct mz_service_key *key = &svc->keys[i];
            views[i] = (struct mz_key_view){
                .key_id = key->key_id,
                .name = key->name,
                .roles = key->roles,
                .all_brands = key->all_brands,
                .brands = (const char *const *)key->brands,
                .n_brands = key->n_brands,
                .rate_requests_per_s = key->rate_requests_per_s,
                .rate_burst = key->rate_burst,
                .created_at = key->created_at,
                .rate_limited = atomic_load_explicit(&key->limit->refused,
                                                     memory_order_relaxed),
            };
        }
        st = reply(ctx, views, svc->n_keys);
    }
    pthread_rwlock_unlock(&svc->keys_lock);
    free(views);
    return st;
}

enum mz_status mz_service_revoke_key(struct mz_service *svc, const char *key_id,
                                     const struct mz_principal *by)
{
    pthread_mutex_lock(&svc->keys_write_mutex);
    enum mz_status st = mz_service_count_store_error(
        svc,
        mz_store_revoke_key(svc->store, key_id, mz_service_actor(by), NULL));
    if (st == MZ_OK) {
        pthread_rwlock_wrlock(&svc->keys_lock);
        for (size_t i = 0; i < svc->n_keys; i++) {
            if (strcmp(svc->keys[i].key_id, key_id) != 0)
                continue;
            key_clear(&svc->keys[i]);
            memmove(&svc->keys[i], &svc->keys[i + 1],
                    (svc->n_keys - i - 1) * sizeof *svc->keys);
            svc->n_keys--;
            break;
        }
        pthread_rwlock_unlock(&svc->keys_lock);
    }
    pthread_mutex_unlock(&svc->keys_write_mutex);
    return st;
}

bool mz_service_key_in_force(struct mz_service *svc, const char *key_id)
{
    bool found = false;
    pthread_rwlock_rdlock(&svc->keys_lock);
    for (size_t i = 0; i < svc->n_keys && !found; i++)
        found = strcmp(svc->keys[i].key_id, key_id) == 0;
    pthread_rwlock_unlock(&svc->keys_lock);
    return found;
}

bool mz_service_has_no_key(struct mz_service *svc)
{
    return svc->keys_ever == 0;
}
