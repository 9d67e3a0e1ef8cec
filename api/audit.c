/*-------------------------------------------------------------------------
 * audit.c
 *    GET /v1/audit?since=&limit=&cursor= (admin only: the route table
 *    says so): the audit log, oldest first, keyset paginated.
 *
 * Oldest first, because the audit log is read like any log: from a
 * point in time or a row id onwards, page after page, and a reader that
 * keeps the last next_cursor can come back later for what is new. The
 * cursor is the id of the last row of the page; it names a place in the
 * log, so a page is never skipped or repeated however many rows are
 * written meanwhile.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_audit.h"
#include "api/json_body.h"
#include "api/service/service.h"
#include "model/timefmt.h"

#define AUDIT_DEFAULT_LIMIT 100
#define AUDIT_MAX_LIMIT     1000

/* Parses text of 1..18 digits (an audit id) into *out. */
static bool parse_id(const char *text, int64_t *out)
{
    size_t n = strspn(text, "0123456789");
    if (n == 0 || n > 18 || text[n] != '\0')
        return false;
    *out = strtoll(text, NULL, 10);
    return true;
}

struct audit_page {
    json_t *entries; /* owned */
    int limit;
    int64_t last_id; /* of the last row taken */
    bool more;       /* a row beyond limit exists */
    bool out_of_memory;
};

static bool take_row(void *arg, const struct mz_audit_row *row)
{
    struct audit_page *page = arg;
    if ((int)json_array_size(page->entries) == page->limit) {
        page->more = true;
        return false;
    }
    json_t *one = mz_json_write_audit_row(row);
    if (!one || json_array_append_new(page->entries, one) != 0) {
        page->out_of_memory = true;
        return false;
    }
    page->last_id = row->id;
    return true;
}

void mz_handle_get_audit(struct mz_service *svc, const struct mz_request *req,
                         struct mz_response *resp)
{
    int64_t limit, after_id = 0, since_s = 0;
    if (!mz_query_int(req, "limit", 1, AUDIT_MAX_LIMIT, AUDIT_DEFAULT_LIMIT,
                      &limit, resp))
        return;
    const char *since = req->query(req->query_ctx, "since");
    if (since && !parse_id(since, &after_id) &&
        !mz_time_parse_rfc3339(since, &since_s)) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "since: must be an RFC 3339 time or an audit id");
        return;
    }
    const char *cursor = req->query(req->query_ctx, "cursor");
    int64_t cursor_id;
    if (cursor) {
        if (!parse_id(cursor, &cursor_id)) {
            mz_response_error(resp, MZ_ERR_INVALID,
                              "cursor: not a next_cursor of this route");
            return;
        }
        if (cursor_id > after_id)
            after_id = cursor_id;
    }
    struct audit_page page = {json_array(), (int)limit, 0, false, false};
    if (!page.entries) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        return;
    }
    /* One row more than the page, to know whether there is a next one. */
    enum mz_status status = mz_service_list_audit(
        svc, after_id, since_s, (int)limit + 1, take_row, &page);
    if (status == MZ_OK && page.out_of_memory)
        status = MZ_ERR_NOMEM;
    if (status != MZ_OK) {
        json_decref(page.entries);
        mz_response_error(resp, status, "the audit log could not be read: %s",
                          mz_status_code(status));
        return;
    }
    char next[24];
    snprintf(next, sizeof next, "%" PRId64, page.last_id);
    mz_response_json(resp, 200,
                     json_pack("{s:o,s:o}", "entries", page.entries,
                               "next_cursor",
                               page.more ? json_string(next) : json_null()));
}
