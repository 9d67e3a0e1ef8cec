/*-------------------------------------------------------------------------
 * audit.c
 *    The reads that go to PostgreSQL alone: the audit log, and a
 *    client's events and audit rows for its export. Nothing of them is
 *    in memory (the log is the source of truth, the audit rows are
 *    written by the store with each change), so no lock is taken.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

enum mz_status mz_service_list_audit(struct mz_service *svc, int64_t after_id,
                                     int64_t since_s, int limit,
                                     mz_store_audit_fn fn, void *ctx)
{
    return mz_service_count_store_error(
        svc,
        mz_store_list_audit(svc->store, after_id, since_s, limit, fn, ctx));
}

enum mz_status mz_service_client_audit(struct mz_service *svc,
                                       const char *client_id, int limit,
                                       mz_store_audit_fn fn, void *ctx)
{
    return mz_service_count_store_error(
        svc, mz_store_client_audit(svc->store, client_id, limit, fn, ctx));
}

enum mz_status mz_service_client_events(struct mz_service *svc,
                                        const char *client_id,
                                        mz_store_event_fn fn, void *ctx)
{
    return mz_service_count_store_error(
        svc, mz_store_scan_client_events(svc->store, client_id, fn, ctx));
}
