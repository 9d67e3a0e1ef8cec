/*-------------------------------------------------------------------------
 * event.c
 *    Names of event types.
 *-------------------------------------------------------------------------
 */
#include "model/event.h"

#include <string.h>

static const char *const event_type_names[MZ_EV_TYPE_COUNT] = {
    [MZ_EV_VIEW] = "view",
    [MZ_EV_CLICK] = "click",
    [MZ_EV_ADD_TO_CART] = "add_to_cart",
    [MZ_EV_REMOVE_FROM_CART] = "remove_from_cart",
    [MZ_EV_WISHLIST] = "wishlist",
    [MZ_EV_PURCHASE] = "purchase",
    [MZ_EV_RETURN] = "return",
    [MZ_EV_DISMISS] = "dismiss",
    [MZ_EV_STORE_VISIT] = "store_visit",
    [MZ_EV_APPOINTMENT] = "appointment",
    [MZ_EV_EVENT_ATTENDANCE] = "event_attendance",
    [MZ_EV_CONSENT_GRANTED] = "consent_granted",
    [MZ_EV_CONSENT_WITHDRAWN] = "consent_withdrawn",
};

bool mz_event_type_parse(const char *name, enum mz_event_type *type)
{
    for (int i = 0; i < MZ_EV_TYPE_COUNT; i++) {
        if (strcmp(name, event_type_names[i]) == 0) {
            *type = (enum mz_event_type)i;
            return true;
        }
    }
    return false;
}

const char *mz_event_type_name(enum mz_event_type type)
{
    if ((int)type < 0 || type >= MZ_EV_TYPE_COUNT)
        return "unknown";
    return event_type_names[type];
}

bool mz_event_type_is_public(enum mz_event_type type)
{
    return type < MZ_EV_CONSENT_GRANTED;
}

bool mz_event_type_needs_item(enum mz_event_type type)
{
    return type < MZ_EV_STORE_VISIT;
}
