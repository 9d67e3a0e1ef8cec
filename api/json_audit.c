/*-------------------------------------------------------------------------
 * json_audit.c
 *    Audit rows as JSON (see json_audit.h).
 *
 * Interface routines: mz_json_write_audit_row.
 *-------------------------------------------------------------------------
 */
#include "api/json_audit.h"

json_t *mz_json_write_audit_row(const struct mz_audit_row *row)
{
    /* Written by PostgreSQL from jsonb: small and well formed, but never
     * trusted to be. */
    json_t *detail = row->detail ? json_loads(row->detail, 0, NULL) : NULL;
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:o}", "id", (json_int_t)row->id,
                     "at", row->at, "key_id", row->key_id, "action",
                     row->action, "target", row->target, "version",
                     row->has_version ? json_integer(row->version)
                                      : json_null(),
                     "detail", detail ? detail : json_null());
}
