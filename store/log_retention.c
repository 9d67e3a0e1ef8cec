/*-------------------------------------------------------------------------
 * log_retention.c
 *    Dropping the oldest rows of the event log: those logged more than a
 *    number of days ago that every node's checkpoint has passed.
 *
 * A row below every node's checkpoint is in every node's learned state
 * (each loads the newest checkpoint and replays after it), so dropping
 * it loses nothing a node needs. What it does lose is the ability to
 * rebuild the learned state from the log alone: a checkpoint refused at
 * start (another --dim or --levels) rebuilds from the rows still kept
 * (docs/durability.md). A node whose checkpoint row stays behind (a node
 * retired without its row deleted) holds retention back.
 *
 * The log's lowest rows are its oldest, so each pass reads the index
 * from its low end: a bounded number of rows, deleted when old enough,
 * so a pass that finds nothing to drop costs one short index scan.
 *
 * Interface routines (store.h): mz_store_drop_old_events.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"
#include "store/store.h"
#include "store/store_internal.h"

/* Rows one statement looks at; a pass repeats while it drops them all. */
#define RETENTION_BATCH_ROWS  10000
#define RETENTION_MAX_BATCHES 100
#define MZ_STR_(x)            #x
#define MZ_STR(x)             MZ_STR_(x)

static const struct mz_pg_stmt drop_old_stmt = {
    MZ_STMT_LOG_RETENTION, "mz_log_retention",
    "DELETE FROM events WHERE seq IN ("
    " SELECT seq FROM events"
    " WHERE seq < (SELECT coalesce(min(seq), 0) FROM checkpoint)"
    " ORDER BY seq LIMIT " MZ_STR(
        RETENTION_BATCH_ROWS) ") "
                              "AND received_at < now() - make_interval(days => "
                              "$1::int)",
    1};

struct drop_ctx {
    char days[16];   /* the statement's parameter */
    int64_t dropped; /* out: rows the last statement deleted */
};

static enum mz_status drop_old_op(struct mz_pg_conn *c, void *ctx)
{
    struct drop_ctx *x = ctx;
    const char *values[1] = {x->days};
    PGresult *res = NULL;
    enum mz_status st =
        mz_pg_exec(c, &drop_old_stmt, values, NULL, NULL, 0, &res);
    x->dropped = st == MZ_OK ? strtoll(PQcmdTuples(res), NULL, 10) : 0;
    PQclear(res);
    return st;
}

enum mz_status mz_store_drop_old_events(struct mz_store *store, int days,
                                        int64_t *dropped)
{
    struct drop_ctx x;
    enum mz_status st = MZ_OK;

    *dropped = 0;
    if (days <= 0)
        return MZ_OK;
    snprintf(x.days, sizeof x.days, "%d", days);
    for (int i = 0; i < RETENTION_MAX_BATCHES; i++) {
        st = mz_store_with_conn(store, drop_old_op, &x);
        *dropped += x.dropped;
        if (st != MZ_OK || x.dropped < RETENTION_BATCH_ROWS)
            break;
    }
    return st;
}
