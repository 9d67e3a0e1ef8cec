/*-------------------------------------------------------------------------
 * retention.c
 *    The event log's retention (--retention-days): after a checkpoint,
 *    now and then, the rows older than the setting that every node's
 *    checkpoint has passed are dropped (store/log_retention.c).
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdio.h>

#include "model/log.h"

/* A pass at most every this many checkpoints (the first at the first
 * checkpoint), and again at once while passes drop full batches. */
#define RETENTION_EVERY_CHECKPOINTS 10

void mz_service_retention_pass(struct mz_service *svc)
{
    if (svc->retention_days <= 0)
        return;
    if (svc->retention_skipped > 0 && !svc->retention_behind) {
        svc->retention_skipped--;
        return;
    }
    svc->retention_skipped = RETENTION_EVERY_CHECKPOINTS - 1;
    int64_t dropped = 0;
    enum mz_status status =
        mz_store_drop_old_events(svc->store, svc->retention_days, &dropped);
    mz_service_count_store_error(svc, status);
    /* Bounded per pass: a large backlog drains over the next passes. */
    svc->retention_behind = status == MZ_OK && dropped >= 1000000;
    if (dropped > 0) {
        atomic_fetch_add_explicit(&svc->counters.log_rows_dropped,
                                  (uint_fast64_t)dropped, memory_order_relaxed);
        char detail[64];
        snprintf(detail, sizeof detail, "%lld rows", (long long)dropped);
        mz_log_reason(MZ_LOG_INFO, "event log retention: dropped old rows",
                      detail);
    }
}
