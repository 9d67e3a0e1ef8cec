/*-------------------------------------------------------------------------
 * client_private.c
 *    A client's private memories per non-sharing brand; see
 *    client_private.h.
 *-------------------------------------------------------------------------
 */
#include "model/client_private.h"

#include <stdlib.h>
#include <string.h>

struct mz_client_private *mz_client_privates_find(
    const struct mz_client_privates *privates, const char *brand)
{
    for (size_t i = 0; brand && i < privates->count; i++)
        if (strcmp(privates->v[i].brand, brand) == 0)
            return &privates->v[i];
    return NULL;
}

struct mz_client_private *mz_client_privates_add(
    struct mz_client_privates *privates, const struct mz_model *model,
    const char *brand)
{
    struct mz_client_private *found = mz_client_privates_find(privates, brand);
    if (found)
        return found;
    if (privates->count >= MZ_CLIENT_MAX_PRIVATES)
        return NULL;
    struct mz_client_private fresh = {
        .brand = strdup(brand),
        .memory = mz_client_new(model),
        .facts = mz_client_facts_new(),
    };
    struct mz_client_private *grown =
        fresh.brand && fresh.memory && fresh.facts
            ? realloc(privates->v, sizeof *grown * (privates->count + 1))
            : NULL;
    if (!grown) {
        free(fresh.brand);
        mz_client_free(fresh.memory);
        mz_client_facts_free(fresh.facts);
        return NULL;
    }
    privates->v = grown;
    grown[privates->count] = fresh;
    return &grown[privates->count++];
}

void mz_client_privates_clear(struct mz_client_privates *privates)
{
    for (size_t i = 0; i < privates->count; i++) {
        free(privates->v[i].brand);
        mz_client_free(privates->v[i].memory);
        mz_client_facts_free(privates->v[i].facts);
    }
    free(privates->v);
    privates->v = NULL;
    privates->count = 0;
}
