/*-------------------------------------------------------------------------
 * client_record.h
 *    A client's persisted record, the bytes of its client_state row: the
 *    learned levels (mz_client_save), the facts (mz_client_facts_save),
 *    its private memories per non-sharing brand (model/client_private.h),
 *    the consent in force at the checkpoint (so a replay starts from it)
 *    and the count of its logged events.
 *
 * Layout (model/bytes.h fields, checksummed): magic "MZCE", version 2,
 * consent u8, events_logged u64, then the levels and the facts, each as
 * a u32 length and its bytes, then a u32 count of private memories and
 * for each its brand, levels and facts, each as a u32 length and its
 * bytes. Version 1 had no private memories: it is refused, and the
 * start-up replays the log instead (api/service/startup.c).
 *
 * Interface routines:
 *    mz_client_record_save  - the record of one client
 *    mz_client_record_load  - its parts back, validated
 *-------------------------------------------------------------------------
 */
#ifndef MZ_CLIENT_RECORD_H
#define MZ_CLIENT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/catalog.h"
#include "model/client_facts.h"
#include "model/client_private.h"
#include "model/model.h"

/* A record's parts. */
struct mz_client_record {
    struct mz_client *memory;           /* owned */
    struct mz_client_facts *facts;      /* owned */
    struct mz_client_privates privates; /* owned */
    bool consent;
    int64_t events_logged;
};

/* Returns the record of a client (memory, facts, privates -- NULL: none --
 * and catalog borrowed; catalog names the facts' items) as malloc'd
 * bytes (caller frees) with their length in *len, or NULL on allocation
 * failure. */
void *mz_client_record_save(const struct mz_client *memory,
                            const struct mz_client_facts *facts,
                            const struct mz_client_privates *privates,
                            const struct mz_catalog *catalog, bool consent,
                            int64_t events_logged, size_t *len);

/* Reads bytes[0..len-1] (borrowed) written by mz_client_record_save into
 * *out (caller frees memory and facts) for a client of model, naming
 * items by catalog. Returns false with the reason in err (a record of
 * another format or model shape, truncated, corrupt, or out of memory);
 * *out is then zeroed. */
bool mz_client_record_load(const struct mz_model *model,
                           const struct mz_catalog *catalog, const void *bytes,
                           size_t len, struct mz_client_record *out, char *err,
                           size_t err_len);

#endif
