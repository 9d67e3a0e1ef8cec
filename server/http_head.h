/*-------------------------------------------------------------------------
 * http_head.h
 *    The limits and framing of a request head, checked once it is
 *    complete and before any byte of its body is read.
 *
 * A head over the limits gets a JSON 414 or 431, a header name that is
 * not a token or a body framed ambiguously a 400; server/http.c sends
 * that answer and closes the connection. When two parties may read
 * different bodies (Content-Length twice, or with Transfer-Encoding),
 * the bytes after the head could hold a smuggled second request.
 *
 * Interface routines:
 *    mz_http_refuse_head - whether a head is refused, and the answer
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_HTTP_HEAD_H
#define MZ_SERVER_HTTP_HEAD_H

#include <microhttpd.h>
#include <stdbool.h>

#include "api/http.h"

/* The limits of a request head; MZ_MAX_URL_BYTES (api/http.h) bounds
 * its target (path and query) the same way. */
#define MZ_HTTP_MAX_HEADER_FIELDS 100
#define MZ_HTTP_MAX_HEADER_BYTES  (16 * 1024)

/* Whether the complete head of connection's request breaks a limit
 * (target_too_long: its target was over MZ_MAX_URL_BYTES) or frames its
 * body ambiguously; if so resp (cleared by the caller) is the answer. */
bool mz_http_refuse_head(struct MHD_Connection *connection,
                         bool target_too_long, struct mz_response *resp);

#endif
