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
 * The saved form is in client_facts_io.c.
 *
 * Interface routines: see client_facts.h.
 *-------------------------------------------------------------------------
 */
#include "model/client_facts.h"

#include <stdlib.h>
#include <string.h>

#include "model/client_facts_internal.h"

/* Returns data grown to hold need elements of elem bytes (capacity *cap,
 * never above max), or NULL on allocation failure with data untouched.
 * Capacities start at 2 and grow by half: most clients do little (a cart
 * of one line, a few events in the ring), and their lists are most of
 * what they cost; a list that fills up reallocates a few more times on
 * its way to its cap, once. The typed wrappers below keep each array's
 * own pointer type, so no pointer is ever accessed through a void ** of
 * another type. */
static void *grow(void *data, uint32_t *cap, size_t elem, size_t need,
                  size_t max)
{
    size_t new_cap = *cap ? (size_t)*cap + (*cap + 1) / 2 : 2;
    if (need > max)
        need = max;
    while (new_cap < need)
        new_cap += (new_cap + 1) / 2;
    if (new_cap > max)
        new_cap = max;
    void *grown = realloc(data, new_cap * elem);
    if (grown)
        *cap = (uint32_t)new_cap;
    return grown;
}

bool mz_facts_list_reserve(struct mz_item_time_list *list, size_t need,
                           size_t max)
{
    if (need <= list->cap || list->cap >= max)
        return true;
    struct mz_item_time *v = grow(list->v, &list->cap, sizeof(*v), need, max);
    if (!v)
        return false;
    list->v = v;
    return true;
}

bool mz_facts_cart_reserve(struct mz_client_facts *facts, size_t need)
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

/* Makes room for need visits of kind, allocating the visit lists at the
 * first visit; false on allocation failure, with the visits unchanged. */
static bool visits_reserve(struct mz_client_facts *facts,
                           enum mz_visit_kind kind, size_t need)
{
    if (!facts->visits) {
        facts->visits = calloc(MZ_VISIT_KIND_COUNT, sizeof(*facts->visits));
        if (!facts->visits)
            return false;
    }
    struct mz_visit_list *list = &facts->visits[kind];
    if (need <= list->cap || list->cap >= MZ_FACTS_MAX_VISITS)
        return true;
    uint32_t cap = list->cap;
    char **brands =
        grow(list->brands, &cap, sizeof(*brands), need, MZ_FACTS_MAX_VISITS);
    if (!brands)
        return false;
    list->brands = brands;
    int64_t *v =
        grow(list->ts, &list->cap, sizeof(*v), need, MZ_FACTS_MAX_VISITS);
    if (!v)
        return false;
    list->ts = v;
    return true;
}

/* Forgets every visit (their brands freed). */
static void visits_clear(struct mz_client_facts *facts)
{
    for (int k = 0; facts->visits && k < MZ_VISIT_KIND_COUNT; k++) {
        struct mz_visit_list *list = &facts->visits[k];
        for (size_t i = 0; i < list->count; i++)
            free(list->brands[i]);
        list->count = 0;
    }
}

static bool ring_reserve(struct mz_client_facts *facts, size_t need)
{
    if (need <= facts->ring_cap || facts->ring_cap >= MZ_FACTS_RING)
        return true;
    struct mz_item_event *v =
        grow(facts->ring, &facts->ring_cap, sizeof(*v), need, MZ_FACTS_RING);
    if (!v)
        return false;
    facts->ring = v;
    return true;
}

ptrdiff_t mz_facts_list_find(const struct mz_item_time_list *list, int32_t item)
{
    for (size_t i = 0; i < list->count; i++) {
        if (list->v[i].item == item)
            return (ptrdiff_t)i;
    }
    return -1;
}

static void list_remove_at(struct mz_item_time_list *list, size_t i)
{
    memmove(list->v + i, list->v + i + 1,
            (list->count - i - 1) * sizeof(*list->v));
    list->count--;
}

static void list_remove_item(struct mz_item_time_list *list, int32_t item)
{
    ptrdiff_t i = mz_facts_list_find(list, item);
    if (i >= 0)
        list_remove_at(list, (size_t)i);
}

void mz_facts_list_append(struct mz_item_time_list *list, int32_t item,
                          int64_t ts, size_t max)
{
    if (list->count == max)
        list_remove_at(list, 0);
    list->v[list->count].item = item;
    list->v[list->count].ts = ts;
    list->count++;
}

/* Records item at ts once: an earlier entry for it moves to the end. */
static bool list_touch(struct mz_item_time_list *list, int32_t item, int64_t ts,
                       size_t max)
{
    ptrdiff_t i = mz_facts_list_find(list, item);
    if (i < 0 && !mz_facts_list_reserve(list, list->count + 1, max))
        return false;
    if (i >= 0)
        list_remove_at(list, (size_t)i);
    mz_facts_list_append(list, item, ts, max);
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
    visits_clear(facts);
    for (int k = 0; facts->visits && k < MZ_VISIT_KIND_COUNT; k++) {
        free(facts->visits[k].ts);
        free(facts->visits[k].brands);
    }
    free(facts->visits);
    free(facts->ring);
    free(facts);
}

/* Forgets what only personalisation and the profile use -- wishlist,
 * cart, visits, the ring -- and keeps what the rules need. */
static void forget_personal(struct mz_client_facts *facts)
{
    facts->wishlist.count = 0;
    facts->cart_count = 0;
    visits_clear(facts);
    facts->ring_count = 0;
}

void mz_client_facts_reset(struct mz_client_facts *facts)
{
    /* Counts go to zero; buffers are kept for reuse. */
    facts->purchases.count = 0;
    facts->dismissals.count = 0;
    facts->wishlist.count = 0;
    facts->impressions.count = 0;
    facts->cart_count = 0;
    visits_clear(facts);
    facts->ring_count = 0;
    facts->newest_impression = 0;
    facts->last_seq = 0;
    facts->event_count = 0;
    facts->paused = false;
}

ptrdiff_t mz_facts_cart_find(const struct mz_client_facts *facts, int32_t item)
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
    ptrdiff_t i = mz_facts_cart_find(facts, item);
    if (i >= 0) {
        struct mz_cart_line *line = &facts->cart[i];
        line->quantity = quantity > INT32_MAX - line->quantity
                             ? INT32_MAX
                             : line->quantity + quantity;
        line->ts = ts;
        return true;
    }
    if (!mz_facts_cart_reserve(facts, facts->cart_count + 1))
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
    ptrdiff_t i = mz_facts_cart_find(facts, item);
    if (i < 0)
        return;
    if (facts->cart[i].quantity > quantity)
        facts->cart[i].quantity -= quantity;
    else
        cart_remove_at(facts, (size_t)i);
}

bool mz_facts_visit_add(struct mz_client_facts *facts, enum mz_visit_kind kind,
                        int64_t ts, const char *brand)
{
    char *copy = brand ? strdup(brand) : NULL;
    size_t count = facts->visits ? facts->visits[kind].count : 0;
    if ((brand && !copy) || !visits_reserve(facts, kind, count + 1)) {
        free(copy);
        return false;
    }
    struct mz_visit_list *list = &facts->visits[kind];
    if (list->count == MZ_FACTS_MAX_VISITS) {
        free(list->brands[0]);
        memmove(list->ts, list->ts + 1,
                (MZ_FACTS_MAX_VISITS - 1) * sizeof(*list->ts));
        memmove(list->brands, list->brands + 1,
                (MZ_FACTS_MAX_VISITS - 1) * sizeof(*list->brands));
        list->count--;
    }
    list->brands[list->count] = copy;
    list->ts[list->count++] = ts;
    return true;
}

bool mz_facts_ring_push(struct mz_client_facts *facts,
                        const struct mz_event_obs *ev)
{
    if (!ring_reserve(facts, facts->ring_count + 1))
        return false;
    if (facts->ring_count == MZ_FACTS_RING) {
        memmove(facts->ring, facts->ring + 1,
                (MZ_FACTS_RING - 1) * sizeof(*facts->ring));
        facts->ring_count--;
    }
    facts->ring[facts->ring_count++] = (struct mz_item_event){
        .item = ev->item, .type = ev->type, .ts = ev->ts};
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
        return mz_facts_list_reserve(&facts->purchases,
                                     facts->purchases.count + 1,
                                     MZ_FACTS_MAX_PURCHASES);
    case MZ_EV_DISMISS:
        return mz_facts_list_reserve(&facts->dismissals,
                                     facts->dismissals.count + 1,
                                     MZ_FACTS_MAX_DISMISSALS);
    case MZ_EV_WISHLIST:
        return mz_facts_list_reserve(
            &facts->wishlist, facts->wishlist.count + 1, MZ_FACTS_MAX_WISHLIST);
    case MZ_EV_ADD_TO_CART:
        return mz_facts_cart_reserve(facts, facts->cart_count + 1);
    default:
        return true;
    }
}

/* While consent is withdrawn: records only what the rules read
 * (purchases, returns, dismissals), nothing for the ring, wishlist or
 * cart, and does not count the event. False on allocation failure, with
 * the record unchanged. */
static bool observe_for_rules(struct mz_client_facts *facts,
                              const struct mz_event_obs *ev)
{
    switch (ev->type) {
    case MZ_EV_PURCHASE:
        return list_touch(&facts->purchases, ev->item, ev->ts,
                          MZ_FACTS_MAX_PURCHASES);
    case MZ_EV_RETURN:
        list_remove_item(&facts->purchases, ev->item);
        return true;
    case MZ_EV_DISMISS:
        return list_touch(&facts->dismissals, ev->item, ev->ts,
                          MZ_FACTS_MAX_DISMISSALS);
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
        forget_personal(facts);
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
        if (!mz_facts_visit_add(facts,
                                ev->type == MZ_EV_STORE_VISIT ? MZ_VISIT_STORE
                                : ev->type == MZ_EV_APPOINTMENT
                                    ? MZ_VISIT_APPOINTMENT
                                    : MZ_VISIT_EVENT,
                                ev->ts, ev->brand))
            return MZ_ERR_NOMEM;
        facts->event_count++;
        break;
    default:
        if (ev->item < 0 || (int)ev->type < 0 || ev->type >= MZ_EV_TYPE_COUNT)
            break;
        if (facts->paused) {
            if (!observe_for_rules(facts, ev))
                return MZ_ERR_NOMEM;
            break;
        }
        if (!reserve_for_item_event(facts, ev->type))
            return MZ_ERR_NOMEM;
        /* Nothing below can fail: every list has room. */
        mz_facts_ring_push(facts, ev);
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

enum mz_status mz_client_facts_record_impressions(struct mz_client_facts *facts,
                                                  const int32_t *items,
                                                  size_t n, int64_t shown_at)
{
    if (!mz_facts_list_reserve(&facts->impressions,
                               facts->impressions.count + n,
                               MZ_FACTS_MAX_IMPRESSIONS))
        return MZ_ERR_NOMEM;
    if (facts->impressions.count == 0 || shown_at > facts->newest_impression)
        facts->newest_impression = shown_at;
    prune_impressions(facts);
    for (size_t i = 0; i < n; i++) {
        if (items[i] >= 0)
            mz_facts_list_append(&facts->impressions, items[i], shown_at,
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

static bool list_time_of(const struct mz_item_time_list *list, int32_t item,
                         int64_t *ts)
{
    ptrdiff_t i = mz_facts_list_find(list, item);
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

bool mz_client_facts_in_wishlist(const struct mz_client_facts *facts,
                                 int32_t item)
{
    return mz_facts_list_find(&facts->wishlist, item) >= 0;
}

bool mz_client_facts_in_cart(const struct mz_client_facts *facts, int32_t item)
{
    return mz_facts_cart_find(facts, item) >= 0;
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

const struct mz_item_time *mz_client_facts_purchases(
    const struct mz_client_facts *facts, size_t *count)
{
    *count = facts->purchases.count;
    return facts->purchases.v;
}

const struct mz_item_time *mz_client_facts_dismissals(
    const struct mz_client_facts *facts, size_t *count)
{
    *count = facts->dismissals.count;
    return facts->dismissals.v;
}

const struct mz_item_time *mz_client_facts_wishlist(
    const struct mz_client_facts *facts, size_t *count)
{
    *count = facts->wishlist.count;
    return facts->wishlist.v;
}

const struct mz_cart_line *mz_client_facts_cart(
    const struct mz_client_facts *facts, size_t *count)
{
    *count = facts->cart_count;
    return facts->cart;
}

const int64_t *mz_client_facts_visits(const struct mz_client_facts *facts,
                                      enum mz_visit_kind kind, size_t *count)
{
    if ((int)kind < 0 || kind >= MZ_VISIT_KIND_COUNT || !facts->visits) {
        *count = 0;
        return NULL;
    }
    *count = facts->visits[kind].count;
    return facts->visits[kind].ts;
}

const char *const *mz_client_facts_visit_brands(
    const struct mz_client_facts *facts, enum mz_visit_kind kind, size_t *count)
{
    if ((int)kind < 0 || kind >= MZ_VISIT_KIND_COUNT || !facts->visits) {
        *count = 0;
        return NULL;
    }
    *count = facts->visits[kind].count;
    return (const char *const *)facts->visits[kind].brands;
}

const struct mz_item_event *mz_client_facts_recent_events(
    const struct mz_client_facts *facts, size_t *count)
{
    *count = facts->ring_count;
    return facts->ring;
}

const struct mz_item_time *mz_client_facts_impressions(
    const struct mz_client_facts *facts, size_t *count)
{
    *count = facts->impressions.count;
    return facts->impressions.v;
}
