/*-------------------------------------------------------------------------
 * csv_events.h
 *    `maisond import --events FILE --format csv`: CSV rows to the event
 *    JSON of POST /v1/events, one line each.
 *
 * The first line names the columns, each an event field: event_id,
 * client_id, item_id, type, ts, channel, value, quantity, dwell_ms, brand (any
 * order, each at most once; event_id, client_id and type required).
 * Fields are separated by commas; a field may be quoted ("a, b", with ""
 * for a quote), but a row is one line. An empty field is an absent
 * field. value, quantity, dwell_ms, and a ts of digits only, are sent as
 * numbers when they parse as such, else as text, which the server then
 * refuses with its own message: the validation is the server's, once.
 *
 * Interface routines:
 *    mz_csv_events_open  - read the header
 *    mz_csv_events_row   - one row to one JSON line
 *    mz_csv_events_close - free
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_CSV_EVENTS_H
#define MZ_SERVER_CSV_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

struct mz_csv_events;

/* Returns the columns named by header (len bytes, borrowed), or NULL
 * with the reason in err (a column that is no event field, twice the
 * same, a required one missing, malformed quoting). Caller closes. */
struct mz_csv_events *mz_csv_events_open(const char *header, size_t len,
                                         char *err, size_t err_len);

/* Converts row (len bytes, borrowed) to the compact JSON text of one
 * event (caller frees) and returns it, or NULL with the reason in err
 * (malformed quoting, a field count other than the header's, out of
 * memory). */
char *mz_csv_events_row(const struct mz_csv_events *csv, const char *row,
                        size_t len, char *err, size_t err_len);

/* Frees csv; accepts NULL. */
void mz_csv_events_close(struct mz_csv_events *csv);

#endif
