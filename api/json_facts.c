/*-------------------------------------------------------------------------
 * json_facts.c
 *    The client facts of the profile, read through the accessors of
 *    model/client_facts.h (which give lists oldest first) and written
 *    most recent first.
 *
 * Interface routines: see json_facts.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_facts.h"

#include "model/timefmt.h"

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

/* Sets obj[key] to [{"item_id","at"}] of list, most recent first; false
 * on allocation failure. */
static bool item_times_json(json_t *obj, const char *key,
                            const struct mz_catalog *catalog,
                            const struct mz_item_time *list, size_t count)
{
    json_t *array = json_array();
    if (!array || json_object_set_new(obj, key, array) != 0)
        return false;
    for (size_t i = count; i-- > 0;) {
        const char *id = item_id_of(catalog, list[i].item);
        if (!id)
            continue;
        if (json_array_append_new(array,
                                  json_pack("{s:s, s:o}", "item_id", id, "at",
                                            time_json(list[i].ts))) != 0)
            return false;
    }
    return true;
}

json_t *mz_json_write_facts(const struct mz_client_facts *facts,
                            const struct mz_catalog *catalog)
{
    static const char *const visit_keys[MZ_VISIT_KIND_COUNT] = {
        [MZ_VISIT_STORE] = "store_visits",
        [MZ_VISIT_APPOINTMENT] = "appointments",
        [MZ_VISIT_EVENT] = "events_attended",
    };
    const struct mz_item_time *times;
    size_t n;
    json_t *obj = json_object();
    json_t *array;
    if (!obj)
        return NULL;
    times = mz_client_facts_purchases(facts, &n);
    if (!item_times_json(obj, "purchases", catalog, times, n))
        goto fail;
    times = mz_client_facts_dismissals(facts, &n);
    if (!item_times_json(obj, "dismissals", catalog, times, n))
        goto fail;
    times = mz_client_facts_wishlist(facts, &n);
    if (!item_times_json(obj, "wishlist", catalog, times, n))
        goto fail;
    array = json_array();
    if (!array || json_object_set_new(obj, "cart", array) != 0)
        goto fail;
    const struct mz_cart_line *cart = mz_client_facts_cart(facts, &n);
    for (size_t i = n; i-- > 0;) {
        const char *id = item_id_of(catalog, cart[i].item);
        if (id && json_array_append_new(
                      array,
                      json_pack("{s:s, s:i, s:o}", "item_id", id, "quantity",
                                cart[i].quantity, "at", time_json(cart[i].ts))))
            goto fail;
    }
    for (int k = 0; k < MZ_VISIT_KIND_COUNT; k++) {
        array = json_array();
        if (!array || json_object_set_new(obj, visit_keys[k], array) != 0)
            goto fail;
        const int64_t *visits =
            mz_client_facts_visits(facts, (enum mz_visit_kind)k, &n);
        for (size_t i = n; i-- > 0;) {
            if (json_array_append_new(array, time_json(visits[i])))
                goto fail;
        }
    }
    array = json_array();
    if (!array || json_object_set_new(obj, "recent_events", array) != 0)
        goto fail;
    const struct mz_item_event *ring = mz_client_facts_recent_events(facts, &n);
    for (size_t i = n; i-- > 0;) {
        const char *id = item_id_of(catalog, ring[i].item);
        if (id &&
            json_array_append_new(
                array, json_pack("{s:s, s:s, s:o}", "item_id", id, "event",
                                 mz_event_type_name(ring[i].type), "at",
                                 time_json(ring[i].ts))))
            goto fail;
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}
