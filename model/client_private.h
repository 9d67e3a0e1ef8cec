/*-------------------------------------------------------------------------
 * client_private.h
 *    A client's private memories: for each brand that keeps its clients'
 *    signals to itself ("signals": {"share_with_other_brands": false}),
 *    the learned levels and the facts that only that brand's events
 *    taught, kept apart from the client's shared memory so that nothing
 *    of them reaches another brand (docs/design.md, "Houses kept apart").
 *
 * A client has at most one private memory per brand, made the first time
 * an event of that brand is learned; they are kept in the order made.
 * Not thread-safe (the server locks).
 *
 * Interface routines:
 *    mz_client_privates_find  - the private memory of one brand, or NULL
 *    mz_client_privates_add   - the same, made empty when absent
 *    mz_client_privates_clear - free them all
 *-------------------------------------------------------------------------
 */
#ifndef MZ_CLIENT_PRIVATE_H
#define MZ_CLIENT_PRIVATE_H

#include <stddef.h>

#include "model/client_facts.h"
#include "model/model.h"

/* Private memories a client record may hold (one per non-sharing brand). */
#define MZ_CLIENT_MAX_PRIVATES 4096

/* What one brand's events taught about one client. */
struct mz_client_private {
    char *brand;                   /* owned, 1..MZ_ID_MAX_BYTES bytes */
    struct mz_client *memory;      /* owned: its levels */
    struct mz_client_facts *facts; /* owned: facts of its items and visits */
};

/* A client's private memories, in the order made. {NULL, 0} is empty. */
struct mz_client_privates {
    struct mz_client_private *v; /* owned array */
    size_t count;
};

/* Returns the private memory of brand (borrowed; valid until the next
 * add or clear), or NULL when the client has none. */
struct mz_client_private *mz_client_privates_find(
    const struct mz_client_privates *privates, const char *brand);

/* Returns the private memory of brand (borrowed, copied), made empty for
 * a client of model when absent; NULL on allocation failure or past
 * MZ_CLIENT_MAX_PRIVATES (privates unchanged). */
struct mz_client_private *mz_client_privates_add(
    struct mz_client_privates *privates, const struct mz_model *model,
    const char *brand);

/* Frees every private memory and the array, leaving privates empty;
 * accepts an empty set. */
void mz_client_privates_clear(struct mz_client_privates *privates);

#endif
