/*-------------------------------------------------------------------------
 * json_event.h
 *    One event of POST /v1/events read into a struct mz_event_record
 *    (store/store.h), with its syntactic checks: ids, type, time,
 *    quantities. Whether the item is in the catalog is not checked here
 *    (the caller does, under the app lock).
 *
 * Event JSON (unknown keys are rejected):
 *   {"event_id": "e-1", "client_id": "c-42", "item_id": "bag-1",
 *    "type": "view", "ts": "2026-11-23T10:00:00Z" | 1795428000,
 *    "channel": "web", "value": 2400, "quantity": 1, "dwell_ms": 1500,
 *    "brand": "maison-a"}
 * event_id, client_id and type are required; item_id is required by the
 * types that name an item; a missing ts is the time the service received
 * the event. brand says which house an item-less event (a store visit,
 * an appointment, a private event) was at; on an item event it must be
 * the item's brand (the service checks that, and the key's scope).
 *
 * Interface routines:
 *    mz_json_read_event     - validate one event object into a record
 *    mz_json_write_event    - a logged event, as a client's export shows it
 *    mz_json_event_refused  - the error of an event the service refused
 *    mz_json_event_rejected - one entry of a reply's rejected list
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_EVENT_H
#define MZ_API_JSON_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/json_spec.h"
#include "store/store.h"

#define MZ_EVENT_MAX_QUANTITY 100000
#define MZ_EVENT_MAX_DWELL_MS (24 * 3600 * 1000)
/* Year 9999: later timestamps cannot be written back as RFC 3339. */
#define MZ_EVENT_MAX_TS_SECONDS 253402300799LL
/* How far ahead of the server's clock an event may be stamped (clock
 * skew between senders). Further is refused: time decays in the model
 * (the levels, popularity) count from the newest event seen, so one event
 * from the far future would fade every other count at once. */
#define MZ_EVENT_MAX_FUTURE_S (24 * 3600)

/* Validates obj (borrowed) as one event into *rec: its strings are
 * borrowed from obj (valid while obj lives), ts is now when absent and
 * at most now + MZ_EVENT_MAX_FUTURE_S,
 * item_index is -1 (the caller maps item_id). Returns true, or false
 * with err naming the field (e.g. "quantity: must be an integer in
 * range", code "invalid_input") and rec holding no pointer into obj. */
bool mz_json_read_event(const json_t *obj, int64_t now,
                        struct mz_event_record *rec, struct mz_json_error *err);

/* Returns rec (borrowed) as a new object (caller decrefs; NULL on
 * allocation failure) in the posted form, ts as RFC 3339, with its log
 * position: {"seq", "event_id", "type", "item_id", "ts", "channel",
 * "value", "quantity", "dwell_ms", "brand"} (client_id left out: the
 * caller names the client). */
json_t *mz_json_write_event(const struct mz_event_record *rec);

/* Fills *err with the reason of an event the service refused
 * (mz_service_submit_events): outcome MZ_ERR_UNKNOWN_ITEM,
 * MZ_ERR_FORBIDDEN (naming brand when brand_forbidden: the event's own
 * brand is outside the key's scope; else item_id), or MZ_ERR_INVALID on
 * an event that parsed (err->status MZ_OK, as zeroed or as
 * mz_json_read_event leaves it: its brand is not its item's).
 * Any other outcome leaves err as it is. */
void mz_json_event_refused(enum mz_status outcome, bool brand_forbidden,
                           struct mz_json_error *err);

/* Returns {key: at, "error": {"code", "message"}} for a rejected event
 * (new reference; NULL when out of memory): key is "index" in POST
 * /v1/events, "line" in an import. */
json_t *mz_json_event_rejected(const char *key, int64_t at,
                               const struct mz_json_error *err);

#endif
