/*-------------------------------------------------------------------------
 * health.c
 *    GET /healthz (the process answers) and GET /readyz (the database is
 *    reachable and the state is loaded).
 *-------------------------------------------------------------------------
 */
#include "api/handlers.h"
#include "api/service/service.h"

void mz_handle_healthz(struct mz_service *svc, const struct mz_request *req,
                       struct mz_response *resp)
{
    mz_response_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

void mz_handle_readyz(struct mz_service *svc, const struct mz_request *req,
                      struct mz_response *resp)
{
    char reason[128];
    if (!mz_service_ready(svc, reason, sizeof reason)) {
        mz_response_error(resp, MZ_ERR_NOT_READY, "%s", reason);
        return;
    }
    mz_response_json(resp, 200, json_pack("{s:s}", "status", "ready"));
}
