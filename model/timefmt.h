/*-------------------------------------------------------------------------
 * timefmt.h
 *    RFC 3339 timestamps to and from seconds since the epoch.
 *
 * Parsing is strict (RFC 3339 section 5.6, "date-time"): four-digit year,
 * two-digit fields, real calendar dates (leap years included), a 'T' or
 * 't' separator, optional fractional seconds, and a mandatory offset "Z",
 * "z" or "+hh:mm"/"-hh:mm". A leap second (":60") is accepted and counted
 * as the following second. Fractional seconds are truncated toward the
 * earlier second, so parse(format(t)) == t for every whole second t.
 *
 * Interface routines:
 *    mz_time_parse_rfc3339  - text to seconds
 *    mz_time_format_rfc3339 - seconds to "YYYY-MM-DDThh:mm:ssZ" (UTC)
 *-------------------------------------------------------------------------
 */
#ifndef MZ_TIMEFMT_H
#define MZ_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>

/* Size of the buffer mz_time_format_rfc3339 needs, terminator included. */
#define MZ_TIME_RFC3339_BYTES 32

/* Parses text (borrowed, NUL-terminated, nothing may follow the offset)
 * and stores the instant in *out_seconds (UTC seconds since the epoch).
 * Returns false, leaving *out_seconds unchanged, when text is NULL or not
 * a valid RFC 3339 date-time of a year 0000..9999. */
bool mz_time_parse_rfc3339(const char *text, int64_t *out_seconds);

/* Writes seconds as "YYYY-MM-DDThh:mm:ssZ" into buf. Instants outside the
 * years 0000..9999 are clamped to the nearest representable one, so the
 * output is always a valid RFC 3339 string. */
void mz_time_format_rfc3339(int64_t seconds, char buf[MZ_TIME_RFC3339_BYTES]);

#endif
