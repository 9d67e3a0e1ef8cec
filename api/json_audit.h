/*-------------------------------------------------------------------------
 * json_audit.h
 *    Audit rows (store/store.h) as GET /v1/audit and a client's export
 *    show them:
 *    {"id": 42, "at": "2026-12-01T10:00:00.123456Z", "key_id": "...",
 *     "action": "catalog.upsert", "target": "bag-1", "version": null,
 *     "detail": {"batch_items": 3} | null}
 *
 * Interface routines:
 *    mz_json_write_audit_row - one row
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_AUDIT_H
#define MZ_API_JSON_AUDIT_H

#include <jansson.h>

#include "store/store.h"

/* Returns row (borrowed) as a new object (caller decrefs), or NULL on
 * allocation failure. The detail is the object PostgreSQL stored; one
 * that does not parse is shown as null. */
json_t *mz_json_write_audit_row(const struct mz_audit_row *row);

#endif
