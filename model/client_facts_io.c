/*-------------------------------------------------------------------------
 * client_facts_io.c
 *    The saved form of a client's facts: versioned, checksummed bytes
 *    that name items by id, so a catalog reloaded in another order maps
 *    back; loading rejects truncated, corrupt, over-long or
 *    wrong-version bytes without reading outside them.
 *
 * Interface routines: mz_client_facts_save, mz_client_facts_load (see
 * client_facts.h).
 *-------------------------------------------------------------------------
 */
#include "model/client_facts.h"

#include <stdio.h>
#include <string.h>

#include "model/bytes.h"
#include "model/client_facts_internal.h"

/* ---------------------------------------------------------------------
 * Saved form: magic, version, scalars, then each list as a count and its
 * entries; items are written as (length, bytes of the item id), and a
 * visit as its time and its brand (length 0: none).
 * ---------------------------------------------------------------------
 */
/* A name (NULL: none) as (length, bytes); length 0 is none. */
static void write_name(struct mz_wbuf *w, const char *name)
{
    size_t len = name ? strlen(name) : 0;
    mz_wbuf_u32(w, (uint32_t)len);
    if (len)
        mz_wbuf_raw(w, name, len);
}

static void write_item(struct mz_wbuf *w, const struct mz_catalog *catalog,
                       int32_t item)
{
    const struct mz_item *rec = mz_catalog_item(catalog, item);
    write_name(w, rec ? rec->item_id : NULL);
}

static void write_item_times(struct mz_wbuf *w,
                             const struct mz_catalog *catalog,
                             const struct mz_item_time_list *list)
{
    mz_wbuf_u32(w, (uint32_t)list->count);
    for (size_t i = 0; i < list->count; i++) {
        write_item(w, catalog, list->v[i].item);
        mz_wbuf_u64(w, (uint64_t)list->v[i].ts);
    }
}

void *mz_client_facts_save(const struct mz_client_facts *facts,
                           const struct mz_catalog *catalog, size_t *len)
{
    struct mz_wbuf w;
    mz_wbuf_init(&w);
    mz_wbuf_u32(&w, MZ_FACTS_MAGIC);
    mz_wbuf_u32(&w, MZ_FACTS_VERSION);
    mz_wbuf_u64(&w, (uint64_t)facts->last_seq);
    mz_wbuf_u64(&w, (uint64_t)facts->event_count);
    mz_wbuf_u64(&w, (uint64_t)facts->newest_impression);
    mz_wbuf_u8(&w, facts->paused ? 1 : 0);
    write_item_times(&w, catalog, &facts->purchases);
    write_item_times(&w, catalog, &facts->dismissals);
    write_item_times(&w, catalog, &facts->wishlist);
    write_item_times(&w, catalog, &facts->impressions);
    mz_wbuf_u32(&w, (uint32_t)facts->cart_count);
    for (size_t i = 0; i < facts->cart_count; i++) {
        write_item(&w, catalog, facts->cart[i].item);
        mz_wbuf_u32(&w, (uint32_t)facts->cart[i].quantity);
        mz_wbuf_u64(&w, (uint64_t)facts->cart[i].ts);
    }
    for (int k = 0; k < MZ_VISIT_KIND_COUNT; k++) {
        size_t n = 0;
        const int64_t *ts =
            mz_client_facts_visits(facts, (enum mz_visit_kind)k, &n);
        const char *const *brands =
            mz_client_facts_visit_brands(facts, (enum mz_visit_kind)k, &n);
        mz_wbuf_u32(&w, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
            mz_wbuf_u64(&w, (uint64_t)ts[i]);
            write_name(&w, brands[i]);
        }
    }
    mz_wbuf_u32(&w, (uint32_t)facts->ring_count);
    for (size_t i = 0; i < facts->ring_count; i++) {
        write_item(&w, catalog, facts->ring[i].item);
        mz_wbuf_u8(&w, (uint8_t)facts->ring[i].type);
        mz_wbuf_u64(&w, (uint64_t)facts->ring[i].ts);
    }
    return mz_wbuf_finish(&w, len);
}

/* Loader state: where errors go. */
struct facts_reader {
    struct mz_rbuf r;
    const struct mz_catalog *catalog;
    const char *error; /* static text, NULL while all is well */
    bool nomem;
};

/* Reads a name written by write_name into name (MZ_ID_MAX_BYTES + 1
 * bytes); returns false for none or an error (then fr says which). */
static bool read_name(struct facts_reader *fr, char *name)
{
    uint32_t len = mz_rbuf_u32(&fr->r);
    if (fr->r.failed)
        return false;
    if (len > MZ_ID_MAX_BYTES) {
        fr->error = "id longer than 128 bytes";
        return false;
    }
    if (len == 0)
        return false;
    const uint8_t *bytes = mz_rbuf_raw(&fr->r, len);
    if (!bytes)
        return false;
    memcpy(name, bytes, len);
    name[len] = '\0';
    if (strlen(name) != len) {
        fr->error = "id contains NUL";
        return false;
    }
    return true;
}

/* Reads an item id and returns its catalog index, or -1 when the catalog
 * does not know it (the entry is then skipped by the caller). */
static int32_t read_item(struct facts_reader *fr)
{
    char id[MZ_ID_MAX_BYTES + 1];
    return read_name(fr, id) ? mz_catalog_find(fr->catalog, id) : -1;
}

/* Reads a count and checks it against max; 0 on error. */
static size_t read_count(struct facts_reader *fr, size_t max)
{
    uint32_t n = mz_rbuf_u32(&fr->r);
    if (fr->r.failed)
        return 0;
    if (n > max) {
        fr->error = "list longer than its cap";
        return 0;
    }
    return n;
}

static bool reader_ok(const struct facts_reader *fr)
{
    return !fr->r.failed && !fr->error && !fr->nomem;
}

static void read_item_times(struct facts_reader *fr,
                            struct mz_item_time_list *list, size_t max)
{
    size_t n = read_count(fr, max);
    if (!reader_ok(fr) || n == 0)
        return;
    if (!mz_facts_list_reserve(list, n, max)) {
        fr->nomem = true;
        return;
    }
    for (size_t i = 0; i < n && reader_ok(fr); i++) {
        int32_t item = read_item(fr);
        int64_t ts = (int64_t)mz_rbuf_u64(&fr->r);
        if (item >= 0 && mz_facts_list_find(list, item) < 0)
            mz_facts_list_append(list, item, ts, max);
    }
}

struct mz_client_facts *mz_client_facts_load(const struct mz_catalog *catalog,
                                             const void *bytes, size_t len,
                                             enum mz_status *status, char *err,
                                             size_t err_len)
{
    struct facts_reader fr = {.catalog = catalog};
    struct mz_client_facts *facts = NULL;
    enum mz_status ignored;
    if (!status)
        status = &ignored;

    if (!bytes || !mz_rbuf_open(&fr.r, bytes, len)) {
        fr.error = "truncated or corrupt (checksum mismatch)";
        goto cleanup;
    }
    if (mz_rbuf_u32(&fr.r) != MZ_FACTS_MAGIC) {
        fr.error = "not client facts (bad magic)";
        goto cleanup;
    }
    if (mz_rbuf_u32(&fr.r) != MZ_FACTS_VERSION) {
        fr.error = "unsupported format version";
        goto cleanup;
    }
    facts = mz_client_facts_new();
    if (!facts) {
        fr.nomem = true;
        goto cleanup;
    }
    facts->last_seq = (int64_t)mz_rbuf_u64(&fr.r);
    facts->event_count = (int64_t)mz_rbuf_u64(&fr.r);
    facts->newest_impression = (int64_t)mz_rbuf_u64(&fr.r);
    uint8_t paused = mz_rbuf_u8(&fr.r);
    if (paused > 1)
        fr.error = "bad consent flag";
    facts->paused = paused == 1;
    read_item_times(&fr, &facts->purchases, MZ_FACTS_MAX_PURCHASES);
    read_item_times(&fr, &facts->dismissals, MZ_FACTS_MAX_DISMISSALS);
    read_item_times(&fr, &facts->wishlist, MZ_FACTS_MAX_WISHLIST);
    /* Impressions may repeat an item, so they are read without dedup. */
    size_t n = read_count(&fr, MZ_FACTS_MAX_IMPRESSIONS);
    if (reader_ok(&fr) && n &&
        !mz_facts_list_reserve(&facts->impressions, n,
                               MZ_FACTS_MAX_IMPRESSIONS))
        fr.nomem = true;
    for (size_t i = 0; i < n && reader_ok(&fr); i++) {
        int32_t item = read_item(&fr);
        int64_t ts = (int64_t)mz_rbuf_u64(&fr.r);
        if (item >= 0)
            mz_facts_list_append(&facts->impressions, item, ts,
                                 MZ_FACTS_MAX_IMPRESSIONS);
    }
    n = read_count(&fr, MZ_FACTS_MAX_CART);
    if (reader_ok(&fr) && n && !mz_facts_cart_reserve(facts, n))
        fr.nomem = true;
    for (size_t i = 0; i < n && reader_ok(&fr); i++) {
        int32_t item = read_item(&fr);
        uint32_t quantity = mz_rbuf_u32(&fr.r);
        int64_t ts = (int64_t)mz_rbuf_u64(&fr.r);
        if (quantity < 1 || quantity > INT32_MAX)
            fr.error = "bad cart quantity";
        else if (item >= 0 && mz_facts_cart_find(facts, item) < 0)
            facts->cart[facts->cart_count++] = (struct mz_cart_line){
                .item = item, .quantity = (int32_t)quantity, .ts = ts};
    }
    for (int k = 0; k < MZ_VISIT_KIND_COUNT && reader_ok(&fr); k++) {
        n = read_count(&fr, MZ_FACTS_MAX_VISITS);
        for (size_t i = 0; i < n && reader_ok(&fr); i++) {
            char brand[MZ_ID_MAX_BYTES + 1];
            int64_t ts = (int64_t)mz_rbuf_u64(&fr.r);
            bool has_brand = read_name(&fr, brand);
            if (reader_ok(&fr) &&
                !mz_facts_visit_add(facts, (enum mz_visit_kind)k, ts,
                                    has_brand ? brand : NULL))
                fr.nomem = true;
        }
    }
    n = read_count(&fr, MZ_FACTS_RING);
    for (size_t i = 0; i < n && reader_ok(&fr); i++) {
        struct mz_event_obs ev = {0};
        ev.item = read_item(&fr);
        uint8_t type = mz_rbuf_u8(&fr.r);
        ev.ts = (int64_t)mz_rbuf_u64(&fr.r);
        if (type >= MZ_EV_STORE_VISIT)
            fr.error = "bad event type in the ring";
        else if (ev.item >= 0) {
            ev.type = (enum mz_event_type)type;
            if (!mz_facts_ring_push(facts, &ev))
                fr.nomem = true;
        }
    }
    if (reader_ok(&fr) && mz_rbuf_left(&fr.r) != 0)
        fr.error = "trailing bytes";
cleanup:
    if (fr.r.failed && !fr.error)
        fr.error = "truncated";
    if (fr.error || fr.nomem) {
        mz_client_facts_free(facts);
        facts = NULL;
        *status = fr.nomem && !fr.error ? MZ_ERR_NOMEM : MZ_ERR_INVALID;
        if (err && err_len)
            snprintf(err, err_len, "client facts: %s",
                     fr.error ? fr.error : "out of memory");
        return NULL;
    }
    *status = MZ_OK;
    return facts;
}
