/*-------------------------------------------------------------------------
 * fuzz_events.c
 *    POST /v1/events bodies: {"events": [...]} read by mz_body_object,
 *    each element through mz_json_read_event (api/json_event.h), as
 *    api/events.c does. An accepted event's strings must be valid ids.
 *-------------------------------------------------------------------------
 */
#include "api/json_event.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = fuzz_body_object(data, size);
    json_t *events = json_object_get(body, "events");
    for (size_t i = 0; i < json_array_size(events); i++) {
        struct mz_event_record rec;
        struct mz_json_error err;
        if (mz_json_read_event(json_array_get(events, i), 1795428000, &rec,
                               &err)) {
            FUZZ_ASSERT(mz_is_valid_id(rec.event_id));
            FUZZ_ASSERT(mz_is_valid_id(rec.client_id));
        } else {
            FUZZ_ASSERT(err.message[0] != '\0');
        }
    }
    json_decref(body);
    return 0;
}
