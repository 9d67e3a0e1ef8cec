/*-------------------------------------------------------------------------
 * event.h
 *    Interaction event types and what the model reads of one event.
 *
 * Interface routines:
 *    mz_event_type_parse   - name ("add_to_cart") to enum
 *    mz_event_type_name    - enum to name
 *    mz_event_type_needs_item - false for store_visit, appointment,
 *                               event_attendance
 *-------------------------------------------------------------------------
 */
#ifndef MZ_EVENT_H
#define MZ_EVENT_H

#include <stdbool.h>
#include <stdint.h>

enum mz_event_type {
    MZ_EV_VIEW = 0,
    MZ_EV_CLICK,
    MZ_EV_ADD_TO_CART,
    MZ_EV_REMOVE_FROM_CART,
    MZ_EV_WISHLIST,
    MZ_EV_PURCHASE,
    MZ_EV_RETURN,
    MZ_EV_DISMISS,
    MZ_EV_STORE_VISIT,
    MZ_EV_APPOINTMENT,
    MZ_EV_EVENT_ATTENDANCE,
    /* Internal markers written by the service itself (never accepted from
     * POST /v1/events): a client's consent to personalisation changed at
     * this point of the log, so a replay turns learning off and on at
     * exactly the same place. They carry no item. */
    MZ_EV_CONSENT_GRANTED,
    MZ_EV_CONSENT_WITHDRAWN,
    MZ_EV_TYPE_COUNT
};

/* What the model learns from one event (already validated and committed). */
struct mz_event_obs {
    int32_t item; /* catalog index, or -1 for an item-less event */
    enum mz_event_type type;
    int64_t ts;        /* event time, seconds since the epoch */
    int64_t seq;       /* position in the event log (0 offline) */
    float value;       /* optional monetary value, 0 when absent */
    int32_t quantity;  /* optional, 1 when absent */
    int32_t dwell_ms;  /* optional, 0 when absent */
    const char *brand; /* borrowed; the brand of an item-less event (a
                          visit), NULL when none */
};

/* Returns true and sets *type when name is a known event type. */
bool mz_event_type_parse(const char *name, enum mz_event_type *type);

/* Returns the API name of type ("view", ...); "unknown" if out of range. */
const char *mz_event_type_name(enum mz_event_type type);

/* Returns whether clients may post this type (false for the internal
 * consent markers). */
bool mz_event_type_is_public(enum mz_event_type type);

/* Returns whether events of this type must name an item. */
bool mz_event_type_needs_item(enum mz_event_type type);

#endif
