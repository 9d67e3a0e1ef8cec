/*-------------------------------------------------------------------------
 * events_import.h
 *    POST /v1/events:import: newline-delimited JSON events, read line by
 *    line as the body arrives and submitted to the service in batches.
 *
 * Each line is one event in the format of POST /v1/events
 * (api/json_event.h); blank lines are skipped but numbered. A line is
 * rejected alone (malformed JSON, a NUL byte, over
 * MZ_IMPORT_MAX_LINE_BYTES, an invalid event, an item not in the
 * catalog or of a brand outside the key's scope) and the others go on.
 * Batches of at most MZ_IMPORT_BATCH_EVENTS events (or
 * MZ_IMPORT_BATCH_BYTES of lines) go to mz_service_submit_events in the
 * order of the body, each committed and learned before the next, so
 * the memory of an import is bounded whatever the body's size. The
 * stream parses lines as they are fed (on the HTTP layer's own thread:
 * CPU only) and stops taking bytes when a batch is due (batch_due); the
 * caller then submits it (mz_body_stream.submit) on a thread that may
 * wait, and feeds the rest after.
 *
 * A batch the event log cannot take (the database is down) ends the
 * import: the batches before it are committed, the rest of the body is
 * read and discarded, and the answer (503) says how many lines are
 * settled so the client can send the rest; resending everything is
 * safe too (event ids). Past MZ_IMPORT_MAX_LINES lines the same happens
 * with 413.
 *
 * Interface routines:
 *    mz_events_import_open  - a stream for one request (struct
 *                             mz_body_stream, api/http.h)
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_EVENTS_IMPORT_H
#define MZ_API_EVENTS_IMPORT_H

#include "api/http.h"

#define MZ_IMPORT_MAX_LINE_BYTES (64 * 1024)
#define MZ_IMPORT_MAX_LINES      10000000
#define MZ_IMPORT_BATCH_EVENTS   4000
#define MZ_IMPORT_BATCH_BYTES    (4 * 1024 * 1024)
/* Rejected lines listed in the answer (all are counted). */
#define MZ_IMPORT_SHOWN_REJECTIONS 100

struct mz_service;

/* Returns a new import into svc (borrowed; must outlive the stream) for
 * req, whose principal (borrowed, may be NULL: every brand) is copied as
 * the brand scope of every line; caller frees it through its free
 * member. Returns NULL when out of memory. */
struct mz_body_stream *mz_events_import_open(struct mz_service *svc,
                                             const struct mz_request *req);

#endif
