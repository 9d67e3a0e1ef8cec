/*-------------------------------------------------------------------------
 * item_evidence.c
 *    What a client did with one item, from its facts, and the phrase for
 *    it.
 *
 * Interface routines: see item_evidence.h.
 *-------------------------------------------------------------------------
 */
#include "model/item_evidence.h"

#include <stdio.h>
#include <string.h>

#include "model/timefmt.h"

static void keep_latest(int64_t *at, int64_t ts)
{
    if (ts > *at)
        *at = ts;
}

/* Adds what one facts record holds about item to *out. */
static void gather_one(const struct mz_client_facts *facts, int32_t item,
                       struct mz_item_evidence *out)
{
    size_t n;
    const struct mz_item_event *ring = mz_client_facts_recent_events(facts, &n);
    for (size_t i = 0; i < n; i++) {
        if (ring[i].item != item || ring[i].type < 0 ||
            ring[i].type >= MZ_EV_TYPE_COUNT)
            continue;
        out->count[ring[i].type]++;
        keep_latest(&out->last_at[ring[i].type], ring[i].ts);
    }
    int64_t ts = 0;
    if (mz_client_facts_purchased_at(facts, item, &ts))
        keep_latest(&out->purchased_at, ts);
    const struct mz_cart_line *cart = mz_client_facts_cart(facts, &n);
    for (size_t i = 0; i < n; i++)
        if (cart[i].item == item)
            keep_latest(&out->cart_at, cart[i].ts);
    const struct mz_item_time *wish = mz_client_facts_wishlist(facts, &n);
    for (size_t i = 0; i < n; i++)
        if (wish[i].item == item)
            keep_latest(&out->wishlist_at, wish[i].ts);
    const struct mz_item_time *dis = mz_client_facts_dismissals(facts, &n);
    for (size_t i = 0; i < n; i++)
        if (dis[i].item == item)
            keep_latest(&out->dismissed_at, dis[i].ts);
}

bool mz_item_evidence_gather(const struct mz_client_facts *const *facts,
                             size_t n_facts, int32_t item,
                             struct mz_item_evidence *out)
{
    memset(out, 0, sizeof *out);
    for (size_t f = 0; f < n_facts; f++)
        if (facts[f])
            gather_one(facts[f], item, out);
    bool any = out->purchased_at || out->cart_at || out->wishlist_at ||
               out->dismissed_at;
    for (int t = 0; t < MZ_EV_TYPE_COUNT && !any; t++)
        any = out->count[t] > 0;
    return any;
}

/* The verb of each event type an item can carry, as a past participle. */
static const char *verb_of(enum mz_event_type type)
{
    switch (type) {
    case MZ_EV_VIEW:
        return "viewed";
    case MZ_EV_CLICK:
        return "clicked";
    case MZ_EV_ADD_TO_CART:
        return "added to the cart";
    case MZ_EV_REMOVE_FROM_CART:
        return "taken out of the cart";
    case MZ_EV_WISHLIST:
        return "added to the wishlist";
    case MZ_EV_PURCHASE:
        return "bought";
    case MZ_EV_RETURN:
        return "returned";
    case MZ_EV_DISMISS:
        return "dismissed";
    default:
        return NULL;
    }
}

/* Appends ", " (unless first) and the formatted part to text. */
static void append(char *text, size_t len, size_t *used, const char *part)
{
    int n =
        snprintf(text + *used, len - *used, "%s%s", *used ? ", " : "", part);
    if (n > 0)
        *used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

/* Writes "<what> on <date>" or "<what> N times, last on <date>". */
static void dated(char *part, size_t len, const char *what, int count,
                  int64_t at)
{
    char when[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(at, when);
    when[10] = '\0'; /* the date part */
    if (count > 1)
        snprintf(part, len, "%s %d times, last on %s", what, count, when);
    else
        snprintf(part, len, "%s on %s", what, when);
}

void mz_item_evidence_text(const struct mz_item_evidence *ev, char *text,
                           size_t len)
{
    char part[128];
    size_t used = 0;
    if (len == 0)
        return;
    text[0] = '\0';
    for (int t = 0; t < MZ_EV_TYPE_COUNT; t++) {
        const char *verb = verb_of((enum mz_event_type)t);
        if (!verb || ev->count[t] == 0)
            continue;
        dated(part, sizeof part, verb, ev->count[t], ev->last_at[t]);
        append(text, len, &used, part);
    }
    /* What the ring has forgotten but the commerce records keep. */
    const struct {
        int64_t at;
        enum mz_event_type ring_type;
        const char *what;
    } kept[] = {
        {ev->purchased_at, MZ_EV_PURCHASE, "bought on"},
        {ev->cart_at, MZ_EV_ADD_TO_CART, "in the cart since"},
        {ev->wishlist_at, MZ_EV_WISHLIST, "in the wishlist since"},
        {ev->dismissed_at, MZ_EV_DISMISS, "dismissed on"},
    };
    for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++) {
        if (!kept[k].at || ev->count[kept[k].ring_type] > 0)
            continue;
        char when[MZ_TIME_RFC3339_BYTES];
        mz_time_format_rfc3339(kept[k].at, when);
        when[10] = '\0';
        snprintf(part, sizeof part, "%s %s", kept[k].what, when);
        append(text, len, &used, part);
    }
}
