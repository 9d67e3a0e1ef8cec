/*-------------------------------------------------------------------------
 * event_scan.c
 *    The read side of the event log: the events after a log position, in
 *    log order, streamed in single-row mode so memory does not grow with
 *    the log (start-up replay). The write side is event_writer.c.
 *
 * Interface routines (store.h): mz_store_scan_events.
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
    "SELECT seq, event_id, client_id, item_id, type,"
    " extract(epoch FROM ts)::bigint, channel, value, quantity, dwell_ms,"
    " brand "
    "FROM events WHERE seq > $1 ORDER BY seq",
    1};

struct scan_ctx {
    int64_t after_seq;
    mz_store_event_fn fn;
    void *ctx;
    bool bad_type;
};

static bool event_row(void *ctx, const PGresult *res)
{
    struct scan_ctx *x = ctx;
    struct mz_event_record ev;

    memset(&ev, 0, sizeof ev);
    ev.seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    ev.event_id = PQgetvalue(res, 0, 1);
    ev.client_id = PQgetvalue(res, 0, 2);
    ev.item_id = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
    if (!mz_event_type_parse(PQgetvalue(res, 0, 4), &ev.type)) {
        /* Written by a newer maisond: replaying it wrongly would corrupt
         * the model, so stop. */
        x->bad_type = true;
        return false;
    }
    ev.ts = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    ev.channel = PQgetisnull(res, 0, 6) ? NULL : PQgetvalue(res, 0, 6);
    ev.value = strtod(PQgetvalue(res, 0, 7), NULL);
    ev.quantity = (int32_t)strtol(PQgetvalue(res, 0, 8), NULL, 10);
    ev.dwell_ms = (int32_t)strtol(PQgetvalue(res, 0, 9), NULL, 10);
    ev.brand = PQgetisnull(res, 0, 10) ? NULL : PQgetvalue(res, 0, 10);
    ev.item_index = -1;
    return x->fn(x->ctx, &ev);
}

static enum mz_status scan_op(struct mz_pg_conn *c, void *ctx)
{
    struct scan_ctx *x = ctx;
    char after[24];
    const char *values[1] = {after};
    enum mz_status st;

    snprintf(after, sizeof after, "%" PRId64, x->after_seq);
    st =
        mz_pg_stream(c, &events_scan_stmt, values, NULL, NULL, 0, event_row, x);
    if (st == MZ_ERR_CONFLICT)
        st = x->bad_type ? MZ_ERR_INTERNAL : MZ_OK;
    return st;
}

enum mz_status mz_store_scan_events(struct mz_store *store, int64_t after_seq,
                                    mz_store_event_fn fn, void *ctx)
{
    struct scan_ctx x = {after_seq, fn, ctx, false};

    return mz_store_with_conn(store, scan_op, &x);
}
