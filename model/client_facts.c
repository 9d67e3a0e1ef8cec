/*-------------------------------------------------------------------------
 * client_facts.c
 *    Per-client facts rebuilt by replaying events: purchases, dismissals,
 *    wishlist, cart, visits, the last item events, and impressions.
 *
 * Every list is a small array in log order that grows on demand up to its
 * cap, so a client who did little costs little. A full list drops its
 * oldest entry. Each write reserves room before touching anything, so an
 * allocation failure leaves the record as it was and a retry of the same
 * event gives the same result as a first try.
 *
 * Interface routines: see client_facts.h.
 *-------------------------------------------------------------------------
 */
#include "model/client_facts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bytes.h"
#include "model/timefmt.h"

#define FACTS_MAGIC 0x46435a4du   /* "MZCF" little-endian */
#define FACTS_VERSION 1u

struct item_time_list {
    struct mz_item_time *v;       /* owned */
    size_t count, cap;
};

struct mz_client_facts {
    struct item_time_list purchases;
    struct item_time_list dismissals;
    struct item_time_list wishlist;
    struct item_time_list impressions;
    struct mz_cart_line *cart;    /* owned */
    size_t cart_count, cart_cap;
    int64_t *visits[MZ_VISIT_KIND_COUNT]; /* owned */
    size_t visit_count[MZ_VISIT_KIND_COUNT];
    size_t visit_cap[MZ_VISIT_KIND_COUNT];
    struct mz_item_event *ring;   /* owned, log order */
    size_t ring_count, ring_cap;
    int64_t newest_impression;    /* largest shown_at recorded */
    int64_t last_seq;
    int64_t event_count;
    bool paused;                  /* consent withdrawn */
};

/* Returns data grown to hold need elements of elem bytes (capacity *cap,
 * never above max), or NULL on allocation failure with data untouched.
 * The typed wrappers below keep each array's own pointer type, so no
 * pointer is ever accessed through a void ** of another type. */
static void *grow(void *data, size_t *cap, size_t elem, size_t need,
                  size_t max)
{
    size_t new_cap = *cap ? *cap * 2 : 4;
    if (need > max)
        need = max;
    while (new_cap < need)
        new_cap *= 2;
    if (new_cap > max)
        new_cap = max;
    void *grown = realloc(data, new_cap * elem);
    if (grown)
        *cap = new_cap;
    return grown;
}

static bool list_reserve(struct item_time_list *list, size_t need, size_t max)
{
    if (need <= list->cap || list->cap >= max)
        return true;
    struct mz_item_time *v = grow(list->v, &list->cap, sizeof(*v), need, max);
    if (!v)
        return false;
    list->v = v;
    return true;
}

static bool cart_reserve(struct mz_client_facts *facts, size_t need)
{
    if (need <= facts->cart_cap || facts->cart_cap >= MZ_FACTS_MAX_CART)
        return true;
    struct mz_cart_line *v = grow(facts->cart, &facts->cart_cap, sizeof(*v),
                                  need, MZ_FACTS_MAX_CART);
    if (!v)
        return false;
    facts->cart = v;
    return true;
}

static bool visits_reserve(struct mz_client_facts *facts,
                           enum mz_visit_kind kind, size_t need)
{
    if (need <= facts->visit_cap[kind] ||
        facts->visit_cap[kind] >= MZ_FACTS_MAX_VISITS)
        return true;
    int64_t *v = grow(facts->visits[kind], &facts->visit_cap[kind],
                      sizeof(*v), need, MZ_FACTS_MAX_VISITS);
    if (!v)
        return false;
    facts->visits[kind] = v;
    return true;
}

static bool ring_reserve(struct mz_client_facts *facts, size_t need)
{
    if (need <= facts->ring_cap || facts->ring_cap >= MZ_FACTS_RING)
        return true;
    struct mz_item_event *v = grow(facts->ring, &facts->ring_cap, sizeof(*v),
                                   need, MZ_FACTS_RING);
    if (!v)
        return false;
    facts->ring = v;
    return true;
}

static ptrdiff_t list_find(const struct item_time_list *list, int32_t item)
{
    for (size_t i = 0; i < list->count; i++) {
        if (list->v[i].item == item)
            return (ptrdiff_t)i;
    }
    return -1;
}

static void list_remove_at(struct item_time_list *list, size_t i)
{
    memmove(list->v + i, list->v + i + 1,
            (list->count - i - 1) * sizeof(*list->v));
    list->count--;
}

static void list_remove_item(struct item_time_list *list, int32_t item)
{
    ptrdiff_t i = list_find(list, item);
    if (i >= 0)
        list_remove_at(list, (size_t)i);
}

/* Appends (item, ts), dropping the oldest entry when the list is full;
 * room must have been reserved. */
static void list_append(struct item_time_list *list, int32_t item, int64_t ts,
                        size_t max)
{
    if (list->count == max)
        list_remove_at(list, 0);
    list->v[list->count].item = item;
    list->v[list->count].ts = ts;
    list->count++;
}

/* Records item at ts once: an earlier entry for it moves to the end. */
static bool list_touch(struct item_time_list *list, int32_t item, int64_t ts,
                       size_t max)
{
    ptrdiff_t i = list_find(list, item);
    if (i < 0 && !list_reserve(list, list->count + 1, max))
        return false;
    if (i >= 0)
        list_remove_at(list, (size_t)i);
    list_append(list, item, ts, max);
    return true;
}

struct mz_client_facts *mz_client_facts_new(void)
{
    return calloc(1, sizeof(struct mz_client_facts));
}

void mz_client_facts_free(struct mz_client_facts *facts)
{
    if (!facts)
        return;
    free(facts->purchases.v);
    free(facts->dismissals.v);
    free(facts->wishlist.v);
    free(facts->impressions.v);
    free(facts->cart);
    for (int k = 0; k < MZ_VISIT_KIND_COUNT; k++)
        free(facts->visits[k]);
    free(facts->ring);
    free(facts);
}

void mz_client_facts_reset(struct mz_client_facts *facts)
{
    /* Counts go to zero; buffers are kept for reuse. */
    facts->purchases.count = 0;
    facts->dismissals.count = 0;
    facts->wishlist.count = 0;
    facts->impressions.count = 0;
    facts->cart_count = 0;
    for (int k = 0; k < MZ_VISIT_KIND_COUNT; k++)
        facts->visit_count[k] = 0;
    facts->ring_count = 0;
    facts->newest_impression = 0;
    facts->last_seq = 0;
    facts->event_count = 0;
    facts->paused = false;
}

static ptrdiff_t cart_find(const struct mz_client_facts *facts, int32_t item)
{
    for (size_t i = 0; i < facts->cart_count; i++) {
        if (facts->cart[i].item == item)
            return (ptrdiff_t)i;
    }
    return -1;
}

static void cart_remove_at(struct mz_client_facts *facts, size_t i)
{
    memmove(facts->cart + i, facts->cart + i + 1,
            (facts->cart_count - i - 1) * sizeof(*facts->cart));
    facts->cart_count--;
}

static bool cart_add(struct mz_client_facts *facts, int32_t item,
                     int32_t quantity, int64_t ts)
{
    ptrdiff_t i = cart_find(facts, item);
    if (i >= 0) {
        struct mz_cart_line *line = &facts->cart[i];
        line->quantity = quantity > INT32_MAX - line->quantity
                             ? INT32_MAX
                             : line->quantity + quantity;
        line->ts = ts;
        return true;
    }
    if (!cart_reserve(facts, facts->cart_count + 1))
        return false;
    if (facts->cart_count == MZ_FACTS_MAX_CART)
        cart_remove_at(facts, 0);
    facts->cart[facts->cart_count++] =
        (struct mz_cart_line){.item = item, .quantity = quantity, .ts = ts};
    return true;
}

static void cart_remove(struct mz_client_facts *facts, int32_t item,
                        int32_t quantity)
{
    ptrdiff_t i = cart_find(facts, item);
    if (i < 0)
        return;
    if (facts->cart[i].quantity > quantity)
        facts->cart[i].quantity -= quantity;
    else
        cart_remove_at(facts, (size_t)i);
}

static bool visit_add(struct mz_client_facts *facts, enum mz_visit_kind kind,
                      int64_t ts)
{
    if (!visits_reserve(facts, kind, facts->visit_count[kind] + 1))
        return false;
    int64_t *v = facts->visits[kind];
    if (facts->visit_count[kind] == MZ_FACTS_MAX_VISITS) {
        memmove(v, v + 1, (MZ_FACTS_MAX_VISITS - 1) * sizeof(*v));
        facts->visit_count[kind]--;
    }
    v[facts->visit_count[kind]++] = ts;
    return true;
}

static bool ring_push(struct mz_client_facts *facts,
                      const struct mz_event_obs *ev)
{
    if (!ring_reserve(facts, facts->ring_count + 1))
        return false;
    if (facts->ring_count == MZ_FACTS_RING) {
        memmove(facts->ring, facts->ring + 1,
                (MZ_FACTS_RING - 1) * sizeof(*facts->ring));
        facts->ring_count--;
    }
    facts->ring[facts->ring_count++] =
        (struct mz_item_event){.item = ev->item, .type = ev->type, .ts = ev->ts};
    return true;
}

/* Reserves every list an item event may append to, so that the update
 * that follows cannot fail half-way. */
static bool reserve_for_item_event(struct mz_client_facts *facts,
                                   enum mz_event_type type)
{
    if (!ring_reserve(facts, facts->ring_count + 1))
        return false;
    switch (type) {
    case MZ_EV_PURCHASE:
        return list_reserve(&facts->purchases, facts->purchases.count + 1,
                            MZ_FACTS_MAX_PURCHASES);
    case MZ_EV_DISMISS:
        return list_reserve(&facts->dismissals, facts->dismissals.count + 1,
                            MZ_FACTS_MAX_DISMISSALS);
    case MZ_EV_WISHLIST:
        return list_reserve(&facts->wishlist, facts->wishlist.count + 1,
                            MZ_FACTS_MAX_WISHLIST);
    case MZ_EV_ADD_TO_CART:
        return cart_reserve(facts, facts->cart_count + 1);
    default:
        return true;
    }
}

enum mz_status mz_client_facts_observe(struct mz_client_facts *facts,
                                       const struct mz_event_obs *ev)
{
    int32_t quantity = ev->quantity > 0 ? ev->quantity : 1;

    switch (ev->type) {
    case MZ_EV_CONSENT_WITHDRAWN:
        mz_client_facts_reset(facts);
        facts->paused = true;
        facts->last_seq = ev->seq;
        return MZ_OK;
    case MZ_EV_CONSENT_GRANTED:
        facts->paused = false;
        facts->last_seq = ev->seq;
        return MZ_OK;
    case MZ_EV_STORE_VISIT:
    case MZ_EV_APPOINTMENT:
    case MZ_EV_EVENT_ATTENDANCE:
        if (facts->paused)
            break;
        if (!visit_add(facts,
                       ev->type == MZ_EV_STORE_VISIT     ? MZ_VISIT_STORE
                       : ev->type == MZ_EV_APPOINTMENT ? MZ_VISIT_APPOINTMENT
                                                       : MZ_VISIT_EVENT,
                       ev->ts))
            return MZ_ERR_NOMEM;
        facts->event_count++;
        break;
    default:
        if (facts->paused || ev->item < 0 || (int)ev->type < 0 ||
            ev->type >= MZ_EV_TYPE_COUNT)
            break;
        if (!reserve_for_item_event(facts, ev->type))
            return MZ_ERR_NOMEM;
        /* Nothing below can fail: every list has room. */
        ring_push(facts, ev);
        switch (ev->type) {
        case MZ_EV_PURCHASE:
            list_touch(&facts->purchases, ev->item, ev->ts,
                       MZ_FACTS_MAX_PURCHASES);
            list_remove_item(&facts->wishlist, ev->item);
            cart_remove(facts, ev->item, INT32_MAX);
            break;
        case MZ_EV_RETURN:
            list_remove_item(&facts->purchases, ev->item);
            break;
        case MZ_EV_DISMISS:
            list_touch(&facts->dismissals, ev->item, ev->ts,
                       MZ_FACTS_MAX_DISMISSALS);
            break;
        case MZ_EV_WISHLIST:
            list_touch(&facts->wishlist, ev->item, ev->ts,
                       MZ_FACTS_MAX_WISHLIST);
            break;
        case MZ_EV_ADD_TO_CART:
            cart_add(facts, ev->item, quantity, ev->ts);
            break;
        case MZ_EV_REMOVE_FROM_CART:
            cart_remove(facts, ev->item, quantity);
            break;
        default:
            break;
        }
        facts->event_count++;
        break;
    }
    if (ev->seq > facts->last_seq)
        facts->last_seq = ev->seq;
    return MZ_OK;
}

/* Drops impressions at or before newest - window (the list is in
 * recording order, which is not necessarily shown_at order). */
static void prune_impressions(struct mz_client_facts *facts)
{
    int64_t horizon = facts->newest_impression - MZ_FACTS_IMPRESSION_WINDOW_S;
    size_t kept = 0;
    for (size_t i = 0; i < facts->impressions.count; i++) {
        if (facts->impressions.v[i].ts > horizon)
            facts->impressions.v[kept++] = facts->impressions.v[i];
    }
    facts->impressions.count = kept;
}

enum mz_status
mz_client_facts_record_impressions(struct mz_client_facts *facts,
                                   const int32_t *items, size_t n,
                                   int64_t shown_at)
{
    if (!list_reserve(&facts->impressions, facts->impressions.count + n,
                      MZ_FACTS_MAX_IMPRESSIONS))
        return MZ_ERR_NOMEM;
    if (facts->impressions.count == 0 || shown_at > facts->newest_impression)
        facts->newest_impression = shown_at;
    prune_impressions(facts);
    for (size_t i = 0; i < n; i++) {
        if (items[i] >= 0)
            list_append(&facts->impressions, items[i], shown_at,
                        MZ_FACTS_MAX_IMPRESSIONS);
    }
    return MZ_OK;
}

bool mz_client_facts_paused(const struct mz_client_facts *facts)
{
    return facts->paused;
}

int64_t mz_client_facts_last_seq(const struct mz_client_facts *facts)
{
    return facts->last_seq;
}

int64_t mz_client_facts_event_count(const struct mz_client_facts *facts)
{
    return facts->event_count;
}

static bool list_time_of(const struct item_time_list *list, int32_t item,
                         int64_t *ts)
{
    ptrdiff_t i = list_find(list, item);
    if (i < 0)
        return false;
    if (ts)
        *ts = list->v[i].ts;
    return true;
}

bool mz_client_facts_purchased_at(const struct mz_client_facts *facts,
                                  int32_t item, int64_t *ts)
{
    return list_time_of(&facts->purchases, item, ts);
}

bool mz_client_facts_dismissed_at(const struct mz_client_facts *facts,
                                  int32_t item, int64_t *ts)
{
    return list_time_of(&facts->dismissals, item, ts);
}

bool mz_client_facts_in_wishlist(const struct mz_client_facts *facts,
                                 int32_t item)
{
    return list_find(&facts->wishlist, item) >= 0;
}

bool mz_client_facts_in_cart(const struct mz_client_facts *facts,
                             int32_t item)
{
    return cart_find(facts, item) >= 0;
}

int mz_client_facts_impressions_since(const struct mz_client_facts *facts,
                                      int32_t item, int64_t since)
{
    int n = 0;
    for (size_t i = 0; i < facts->impressions.count; i++) {
        if (facts->impressions.v[i].item == item &&
            facts->impressions.v[i].ts > since)
            n++;
    }
    return n;
}

bool mz_client_facts_last_event_of(const struct mz_client_facts *facts,
                                   int32_t item, struct mz_item_event *out)
{
    for (size_t i = facts->ring_count; i-- > 0;) {
        if (facts->ring[i].item == item) {
            *out = facts->ring[i];
            return true;
        }
    }
    return false;
}

const struct mz_item_time *
mz_client_facts_purchases(const struct mz_client_facts *facts, size_t *count)
{
    *count = facts->purchases.count;
    return facts->purchases.v;
}

const struct mz_item_time *
mz_client_facts_dismissals(const struct mz_client_facts *facts, size_t *count)
{
    *count = facts->dismissals.count;
    return facts->dismissals.v;
}

const struct mz_item_time *
mz_client_facts_wishlist(const struct mz_client_facts *facts, size_t *count)
{
    *count = facts->wishlist.count;
    return facts->wishlist.v;
}

const struct mz_cart_line *
mz_client_facts_cart(const struct mz_client_facts *facts, size_t *count)
{
    *count = facts->cart_count;
    return facts->cart;
}

const int64_t *mz_client_facts_visits(const struct mz_client_facts *facts,
                                      enum mz_visit_kind kind, size_t *count)
{
    if ((int)kind < 0 || kind >= MZ_VISIT_KIND_COUNT) {
        *count = 0;
        return NULL;
    }
    *count = facts->visit_count[kind];
    return facts->visits[kind];
}

const struct mz_item_event *
mz_client_facts_recent_events(const struct mz_client_facts *facts,
                              size_t *count)
{
    *count = facts->ring_count;
    return facts->ring;
}

const struct mz_item_time *
mz_client_facts_impressions(const struct mz_client_facts *facts,
                            size_t *count)
{
    *count = facts->impressions.count;
    return facts->impressions.v;
}

/* ---------------------------------------------------------------------
 * Saved form: magic, version, scalars, then each list as a count and its
 * entries; items are written as (length, bytes of the item id).
 * ---------------------------------------------------------------------
 */
static void write_item(struct mz_wbuf *w, const struct mz_catalog *catalog,
                       int32_t item)
{
    const struct mz_item *rec = mz_catalog_item(catalog, item);
    size_t len = rec ? strlen(rec->item_id) : 0;
    mz_wbuf_u32(w, (uint32_t)len);
    if (len)
        mz_wbuf_raw(w, rec->item_id, len);
}

static void write_item_times(struct mz_wbuf *w,
                             const struct mz_catalog *catalog,
                             const struct item_time_list *list)
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
    mz_wbuf_u32(&w, FACTS_MAGIC);
    mz_wbuf_u32(&w, FACTS_VERSION);
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
        mz_wbuf_u32(&w, (uint32_t)facts->visit_count[k]);
        for (size_t i = 0; i < facts->visit_count[k]; i++)
            mz_wbuf_u64(&w, (uint64_t)facts->visits[k][i]);
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
    const char *error;            /* static text, NULL while all is well */
    bool nomem;
};

/* Reads an item id and returns its catalog index, or -1 when the catalog
 * does not know it (the entry is then skipped by the caller). */
static int32_t read_item(struct facts_reader *fr)
{
    char id[MZ_ID_MAX_BYTES + 1];
    uint32_t len = mz_rbuf_u32(&fr->r);
    if (fr->r.failed)
        return -1;
    if (len > MZ_ID_MAX_BYTES) {
        fr->error = "item id longer than 128 bytes";
        return -1;
    }
    if (len == 0)
        return -1;
    const uint8_t *bytes = mz_rbuf_raw(&fr->r, len);
    if (!bytes)
        return -1;
    memcpy(id, bytes, len);
    id[len] = '\0';
    if (strlen(id) != len) {
        fr->error = "item id contains NUL";
        return -1;
    }
    return mz_catalog_find(fr->catalog, id);
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
                            struct item_time_list *list, size_t max)
{
    size_t n = read_count(fr, max);
    if (!reader_ok(fr) || n == 0)
        return;
    if (!list_reserve(list, n, max)) {
        fr->nomem = true;
        return;
    }
    for (size_t i = 0; i < n && reader_ok(fr); i++) {
        int32_t item = read_item(fr);
        int64_t ts = (int64_t)mz_rbuf_u64(&fr->r);
        if (item >= 0 && list_find(list, item) < 0)
            list_append(list, item, ts, max);
    }
}

struct mz_client_facts *mz_client_facts_load(const struct mz_catalog *catalog,
                                             const void *bytes, size_t len,
                                             enum mz_status *status,
                                             char *err, size_t err_len)
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
    if (mz_rbuf_u32(&fr.r) != FACTS_MAGIC) {
        fr.error = "not client facts (bad magic)";
        goto cleanup;
    }
    if (mz_rbuf_u32(&fr.r) != FACTS_VERSION) {
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
        !list_reserve(&facts->impressions, n, MZ_FACTS_MAX_IMPRESSIONS))
        fr.nomem = true;
    for (size_t i = 0; i < n && reader_ok(&fr); i++) {
        int32_t item = read_item(&fr);
        int64_t ts = (int64_t)mz_rbuf_u64(&fr.r);
        if (item >= 0)
            list_append(&facts->impressions, item, ts,
                        MZ_FACTS_MAX_IMPRESSIONS);
    }
    n = read_count(&fr, MZ_FACTS_MAX_CART);
    if (reader_ok(&fr) && n &&
        !cart_reserve(facts, n))
        fr.nomem = true;
    for (size_t i = 0; i < n && reader_ok(&fr); i++) {
        int32_t item = read_item(&fr);
        uint32_t quantity = mz_rbuf_u32(&fr.r);
        int64_t ts = (int64_t)mz_rbuf_u64(&fr.r);
        if (quantity < 1 || quantity > INT32_MAX)
            fr.error = "bad cart quantity";
        else if (item >= 0 && cart_find(facts, item) < 0)
            facts->cart[facts->cart_count++] = (struct mz_cart_line){
                .item = item, .quantity = (int32_t)quantity, .ts = ts};
    }
    for (int k = 0; k < MZ_VISIT_KIND_COUNT && reader_ok(&fr); k++) {
        n = read_count(&fr, MZ_FACTS_MAX_VISITS);
        for (size_t i = 0; i < n && reader_ok(&fr); i++) {
            if (!visit_add(facts, (enum mz_visit_kind)k,
                           (int64_t)mz_rbuf_u64(&fr.r)))
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
            if (!ring_push(facts, &ev))
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

/* ---------------------------------------------------------------------
 * JSON for the clienteling profile
 * ---------------------------------------------------------------------
 */
static json_t *time_json(int64_t ts)
{
    char buf[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(ts, buf);
    return json_string(buf);
}

static const char *item_id_of(const struct mz_catalog *catalog, int32_t item)
{
    const struct mz_item *rec = mz_catalog_item(catalog, item);
    return rec ? rec->item_id : NULL;
}

/* Appends {"item_id","at"} entries most recent first; false on NOMEM. */
static bool item_times_json(json_t *obj, const char *key,
                            const struct mz_catalog *catalog,
                            const struct item_time_list *list)
{
    json_t *array = json_array();
    if (!array || json_object_set_new(obj, key, array) != 0)
        return false;
    for (size_t i = list->count; i-- > 0;) {
        const char *id = item_id_of(catalog, list->v[i].item);
        if (!id)
            continue;
        if (json_array_append_new(array,
                                  json_pack("{s:s, s:o}", "item_id", id, "at",
                                            time_json(list->v[i].ts))) != 0)
            return false;
    }
    return true;
}

json_t *mz_client_facts_to_json(const struct mz_client_facts *facts,
                                const struct mz_catalog *catalog)
{
    static const char *const visit_keys[MZ_VISIT_KIND_COUNT] = {
        [MZ_VISIT_STORE] = "store_visits",
        [MZ_VISIT_APPOINTMENT] = "appointments",
        [MZ_VISIT_EVENT] = "events_attended",
    };
    json_t *obj = json_object();
    json_t *array;
    if (!obj)
        return NULL;
    if (!item_times_json(obj, "purchases", catalog, &facts->purchases) ||
        !item_times_json(obj, "dismissals", catalog, &facts->dismissals) ||
        !item_times_json(obj, "wishlist", catalog, &facts->wishlist))
        goto fail;
    array = json_array();
    if (!array || json_object_set_new(obj, "cart", array) != 0)
        goto fail;
    for (size_t i = facts->cart_count; i-- > 0;) {
        const char *id = item_id_of(catalog, facts->cart[i].item);
        if (id && json_array_append_new(
                      array, json_pack("{s:s, s:i, s:o}", "item_id", id,
                                       "quantity", facts->cart[i].quantity,
                                       "at", time_json(facts->cart[i].ts))))
            goto fail;
    }
    for (int k = 0; k < MZ_VISIT_KIND_COUNT; k++) {
        array = json_array();
        if (!array || json_object_set_new(obj, visit_keys[k], array) != 0)
            goto fail;
        for (size_t i = facts->visit_count[k]; i-- > 0;) {
            if (json_array_append_new(array, time_json(facts->visits[k][i])))
                goto fail;
        }
    }
    array = json_array();
    if (!array || json_object_set_new(obj, "recent_events", array) != 0)
        goto fail;
    for (size_t i = facts->ring_count; i-- > 0;) {
        const char *id = item_id_of(catalog, facts->ring[i].item);
        if (id && json_array_append_new(
                      array,
                      json_pack("{s:s, s:s, s:o}", "item_id", id, "event",
                                mz_event_type_name(facts->ring[i].type), "at",
                                time_json(facts->ring[i].ts))))
            goto fail;
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}
