/*-------------------------------------------------------------------------
 * event_scan.c
 *    The read side of the event log: the events after a log position, in
 *    log order, streamed in single-row mode so memory does not grow with
 *    the log (start-up replay). The write side is event_writer.c.
 *
 * Interface routines (store.h): mz_store_scan_events,
 * mz_store_scan_client_events.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/event.h"
#include "store/pg.h"
#include "store/store.h"
#include "store/store_internal.h"

static const struct mz_pg_stmt events_scan_stmt = {
    MZ_STMT_EVENTS_SCAN, "mz_events_scan",
    MZ_EVENT_COLUMNS "WHERE seq > $1 ORDER BY seq", 1};
/* A client's events, without the markers of its attribute changes. */
static const struct mz_pg_stmt client_events_stmt = {
    MZ_STMT_CLIENT_EVENTS, "mz_client_events",
    MZ_EVENT_COLUMNS "WHERE client_id = $1 AND type NOT LIKE 'change.%' "
                     "ORDER BY seq",
    1};

struct scan_ctx {
    const struct mz_pg_stmt *stmt;
    const char *param; /* the statement's one parameter */
    mz_store_event_fn fn;
    void *ctx;
    bool bad_type;
};

bool mz_store_event_from_row(const PGresult *res, int row,
                             struct mz_event_record *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->seq = strtoll(PQgetvalue(res, row, 0), NULL, 10);
    ev->event_id = PQgetvalue(res, row, 1);
    ev->client_id = PQgetvalue(res, row, 2);
    ev->item_id = PQgetisnull(res, row, 3) ? NULL : PQgetvalue(res, row, 3);
    const char *type = PQgetvalue(res, row, 4);
    if (!mz_event_type_parse(type, &ev->type) &&
        !mz_log_change_parse(type, &ev->change))
        return false;
    ev->ts = strtoll(PQgetvalue(res, row, 5), NULL, 10);
    ev->channel = PQgetisnull(res, row, 6) ? NULL : PQgetvalue(res, row, 6);
    ev->value = strtod(PQgetvalue(res, row, 7), NULL);
    ev->quantity = (int32_t)strtol(PQgetvalue(res, row, 8), NULL, 10);
    ev->dwell_ms = (int32_t)strtol(PQgetvalue(res, row, 9), NULL, 10);
    ev->brand = PQgetisnull(res, row, 10) ? NULL : PQgetvalue(res, row, 10);
    ev->payload = PQgetisnull(res, row, 11) ? NULL : PQgetvalue(res, row, 11);
    ev->version = PQgetisnull(res, row, 12)
                      ? 0
                      : strtoll(PQgetvalue(res, row, 12), NULL, 10);
    ev->item_index = -1;
    ev->from_log = true;
    return true;
}

static bool event_row(void *ctx, const PGresult *res)
{
    struct scan_ctx *x = ctx;
    struct mz_event_record ev;

    if (!mz_store_event_from_row(res, 0, &ev)) {
        /* Written by a newer maisond: replaying it wrongly would corrupt
         * the model, so stop. */
        x->bad_type = true;
        return false;
    }
    return x->fn(x->ctx, &ev);
}

static enum mz_status scan_op(struct mz_pg_conn *c, void *ctx)
{
    struct scan_ctx *x = ctx;
    const char *values[1] = {x->param};
    enum mz_status st;

    st = mz_pg_stream(c, x->stmt, values, NULL, NULL, 0, event_row, x);
    if (st == MZ_ERR_CONFLICT)
        st = x->bad_type ? MZ_ERR_INTERNAL : MZ_OK;
    return st;
}

enum mz_status mz_store_scan_events(struct mz_store *store, int64_t after_seq,
                                    mz_store_event_fn fn, void *ctx)
{
    char after[24];
    snprintf(after, sizeof after, "%" PRId64, after_seq);
    struct scan_ctx x = {&events_scan_stmt, after, fn, ctx, false};

    return mz_store_with_conn(store, scan_op, &x);
}

enum mz_status mz_store_scan_client_events(struct mz_store *store,
                                           const char *client_id,
                                           mz_store_event_fn fn, void *ctx)
{
    struct scan_ctx x = {&client_events_stmt, client_id, fn, ctx, false};

    return mz_store_with_conn(store, scan_op, &x);
}
