/*-------------------------------------------------------------------------
 * json_facts.c
 *    The client facts of the profile, read through the accessors of
 *    model/client_facts.h (which give lists oldest first) and written
 *    most recent first: of one record, or of several (a client's shared
 *    facts and its private memories' facts, model/client_private.h)
 *    merged, and kept to the brands a key may see.
 *
 * Interface routines: see json_facts.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_facts.h"

#include <stdlib.h>
#include <string.h>

#include "model/timefmt.h"

/* One entry of any list, as the writer orders it. */
struct fact {
    int64_t ts;
    size_t order;        /* position among the collected, for a stable sort */
    const char *item_id; /* NULL for a visit */
    const char *event;   /* recent events only */
    int32_t quantity;    /* cart only */
};

/* The facts' records and the brands whose entries are shown. */
struct facts_scope {
    const struct mz_client_facts *const *facts;
    size_t n_facts;
    const struct mz_catalog *catalog;
    const char *const *brands; /* NULL: every brand */
    size_t n_brands;
};

static json_t *time_json(int64_t ts)
{
    char buf[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(ts, buf);
    return json_string(buf);
}

/* Whether an entry of brand (NULL: none) is shown: every entry to a
 * reader of every brand, an entry of one of its brands to the others. */
static bool brand_shown(const struct facts_scope *scope, const char *brand)
{
    if (!scope->brands)
        return true;
    for (size_t i = 0; brand && i < scope->n_brands; i++)
        if (strcmp(scope->brands[i], brand) == 0)
            return true;
    return false;
}

/* The id of item when the catalog knows it and its brand is shown. */
static const char *item_shown(const struct facts_scope *scope, int32_t item)
{
    const struct mz_item *rec = mz_catalog_item(scope->catalog, item);
    return rec && brand_shown(scope, rec->brand) ? rec->item_id : NULL;
}

static int newest_first(const void *a, const void *b)
{
    const struct fact *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? 1 : -1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Collects the entries of list kind (below) of every record, each
 * record's newest first; with several records they are merged newest
 * first (records in order on equal times). *out is malloc'd (caller
 * frees); returns the count, or -1 on allocation failure. */
enum list_kind { L_PURCHASES, L_DISMISSALS, L_WISHLIST, L_CART, L_RING };

static ptrdiff_t collect(const struct facts_scope *scope, enum list_kind kind,
                         struct fact **out)
{
    size_t cap = 0, n = 0;
    *out = NULL;
    for (size_t r = 0; r < scope->n_facts; r++) {
        const struct mz_client_facts *facts = scope->facts[r];
        size_t count = 0;
        const struct mz_item_time *times = NULL;
        const struct mz_cart_line *cart = NULL;
        const struct mz_item_event *ring = NULL;
        switch (kind) {
        case L_PURCHASES:
            times = mz_client_facts_purchases(facts, &count);
            break;
        case L_DISMISSALS:
            times = mz_client_facts_dismissals(facts, &count);
            break;
        case L_WISHLIST:
            times = mz_client_facts_wishlist(facts, &count);
            break;
        case L_CART:
            cart = mz_client_facts_cart(facts, &count);
            break;
        case L_RING:
            ring = mz_client_facts_recent_events(facts, &count);
            break;
        }
        if (count > 0 && n + count > cap) {
            cap = n + count;
            struct fact *grown = realloc(*out, cap * sizeof *grown);
            if (!grown) {
                free(*out);
                *out = NULL;
                return -1;
            }
            *out = grown;
        }
        for (size_t i = count; i-- > 0;) {
            int32_t item = times  ? times[i].item
                           : cart ? cart[i].item
                                  : ring[i].item;
            const char *id = item_shown(scope, item);
            if (!id)
                continue;
            (*out)[n] = (struct fact){
                .ts = times  ? times[i].ts
                      : cart ? cart[i].ts
                             : ring[i].ts,
                .order = n,
                .item_id = id,
                .event = ring ? mz_event_type_name(ring[i].type) : NULL,
                .quantity = cart ? cart[i].quantity : 0,
            };
            n++;
        }
    }
    if (scope->n_facts > 1 && n > 1) /* *out may be NULL when n is 0 */
        qsort(*out, n, sizeof **out, newest_first);
    return (ptrdiff_t)n;
}

/* The visits of kind of every record shown, as collect orders them. */
static ptrdiff_t collect_visits(const struct facts_scope *scope,
                                enum mz_visit_kind kind, struct fact **out)
{
    size_t n = 0;
    *out = malloc(scope->n_facts * MZ_FACTS_MAX_VISITS * sizeof **out + 1);
    if (!*out)
        return -1;
    for (size_t r = 0; r < scope->n_facts; r++) {
        size_t count = 0;
        const int64_t *ts =
            mz_client_facts_visits(scope->facts[r], kind, &count);
        const char *const *brands =
            mz_client_facts_visit_brands(scope->facts[r], kind, &count);
        for (size_t i = count; i-- > 0;) {
            if (brand_shown(scope, brands[i])) {
                (*out)[n] = (struct fact){.ts = ts[i], .order = n};
                n++;
            }
        }
    }
    if (scope->n_facts > 1 && n > 1) /* *out may be NULL when n is 0 */
        qsort(*out, n, sizeof **out, newest_first);
    return (ptrdiff_t)n;
}

static json_t *fact_json(enum list_kind kind, const struct fact *f)
{
    switch (kind) {
    case L_CART:
        return json_pack("{s:s, s:i, s:o}", "item_id", f->item_id, "quantity",
                         f->quantity, "at", time_json(f->ts));
    case L_RING:
        return json_pack("{s:s, s:s, s:o}", "item_id", f->item_id, "event",
                         f->event, "at", time_json(f->ts));
    default:
        return json_pack("{s:s, s:o}", "item_id", f->item_id, "at",
                         time_json(f->ts));
    }
}

/* Sets obj[key] to the array of facts[0..n-1] (kind < 0: visits, as
 * times); false on allocation failure. Frees facts. */
static bool list_json(json_t *obj, const char *key, int kind,
                      struct fact *facts, ptrdiff_t n)
{
    json_t *array = n >= 0 ? json_array() : NULL;
    bool ok = array && json_object_set_new(obj, key, array) == 0;
    for (ptrdiff_t i = 0; ok && i < n; i++)
        ok = json_array_append_new(
                 array, kind < 0
                            ? time_json(facts[i].ts)
                            : fact_json((enum list_kind)kind, &facts[i])) == 0;
    free(facts);
    return ok;
}

json_t *mz_json_write_facts_of(const struct mz_client_facts *const *facts,
                               size_t n_facts, const struct mz_catalog *catalog,
                               const char *const *brands, size_t n_brands)
{
    static const char *const list_keys[] = {
        [L_PURCHASES] = "purchases", [L_DISMISSALS] = "dismissals",
        [L_WISHLIST] = "wishlist",   [L_CART] = "cart",
        [L_RING] = "recent_events",
    };
    static const char *const visit_keys[MZ_VISIT_KIND_COUNT] = {
        [MZ_VISIT_STORE] = "store_visits",
        [MZ_VISIT_APPOINTMENT] = "appointments",
        [MZ_VISIT_EVENT] = "events_attended",
    };
    const struct facts_scope scope = {facts, n_facts, catalog, brands,
                                      n_brands};
    json_t *obj = json_object();
    bool ok = obj != NULL;
    struct fact *list;
    /* The order of the keys is the profile's: purchases, dismissals,
     * wishlist, cart, the visits, recent events. */
    for (int kind = L_PURCHASES; ok && kind <= L_CART; kind++) {
        ptrdiff_t n = collect(&scope, (enum list_kind)kind, &list);
        ok = list_json(obj, list_keys[kind], kind, list, n);
    }
    for (int k = 0; ok && k < MZ_VISIT_KIND_COUNT; k++) {
        ptrdiff_t n = collect_visits(&scope, (enum mz_visit_kind)k, &list);
        ok = list_json(obj, visit_keys[k], -1, list, n);
    }
    if (ok) {
        ptrdiff_t n = collect(&scope, L_RING, &list);
        ok = list_json(obj, list_keys[L_RING], L_RING, list, n);
    }
    if (!ok) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

json_t *mz_json_write_facts(const struct mz_client_facts *facts,
                            const struct mz_catalog *catalog)
{
    return mz_json_write_facts_of(&facts, 1, catalog, NULL, 0);
}
