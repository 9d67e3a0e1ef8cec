/*-------------------------------------------------------------------------
 * json_profile_summary.h
 *    The one or two sentences a sales associate can say about a client,
 *    built only from what the profile shows: the tier and region, the
 *    last time the client was seen, the category of most of their
 *    recent item events, their latest purchases. A fact the profile does
 *    not hold is left out, never guessed.
 *
 * Interface routines:
 *    mz_json_profile_summary - the summary, as a JSON string
 *-------------------------------------------------------------------------
 */
#ifndef MZ_JSON_PROFILE_SUMMARY_H
#define MZ_JSON_PROFILE_SUMMARY_H

#include <jansson.h>

#include "api/service/service.h"

/* Returns a new JSON string summarising the profile of view whose fact
 * lists (already kept to the reader's brands) are in facts (borrowed;
 * an empty object without consent), or NULL on allocation failure. */
json_t *mz_json_profile_summary(const struct mz_profile_view *view,
                                const json_t *facts);

#endif
