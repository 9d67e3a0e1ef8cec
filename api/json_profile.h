/*-------------------------------------------------------------------------
 * json_profile.h
 *    A client's profile as JSON: attributes, what each memory level holds
 *    (top items, categories, brands, in the names the reasons use), and
 *    the facts. Shared by the profile route and the client's export.
 *
 * Interface routines:
 *    mz_json_write_profile - the profile document
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_PROFILE_H
#define MZ_API_JSON_PROFILE_H

#include <jansson.h>

#include "api/service/service.h"

/* Returns {"client_id", "tier", "tiers", "region", "consent",
 * "events_logged", "events_learned", "levels", and the facts' lists} of
 * view (borrowed) as a new object (caller decrefs), or NULL on allocation
 * failure. */
json_t *mz_json_write_profile(const char *client_id,
                              const struct mz_profile_view *view);

#endif
