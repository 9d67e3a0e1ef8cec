/*-------------------------------------------------------------------------
 * signals.c
 *    Houses kept apart: which of a client's memories a brand's events
 *    teach and a brand's reads see. A brand whose rules say "signals":
 *    {"share_with_other_brands": false} learns into, and reads from, its
 *    own private memory of the client (model/client_private.h); every
 *    other brand shares the client's shared memory. See docs/design.md,
 *    "Houses kept apart".
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdlib.h>

bool mz_service_brand_shares(const struct mz_service *svc, const char *brand)
{
    if (!brand)
        return true;
    const struct mz_brand_rules *brand_rules =
        mz_service_brand_rules(svc, brand);
    return !brand_rules || !brand_rules->rules ||
           brand_rules->rules->share_signals;
}

struct mz_brand_memory mz_service_brand_memory(
    const struct mz_service *svc, const struct mz_client_entry *entry,
    const char *brand)
{
    if (mz_service_brand_shares(svc, brand))
        return (struct mz_brand_memory){entry->memory, entry->facts};
    const struct mz_client_private *p =
        mz_client_privates_find(&entry->privates, brand);
    return p ? (struct mz_brand_memory){p->memory, p->facts}
             : (struct mz_brand_memory){NULL, NULL};
}

struct mz_client_facts *mz_service_item_facts(const struct mz_service *svc,
                                              struct mz_client_entry *entry,
                                              int32_t item)
{
    const struct mz_item *rec = mz_catalog_item(svc->catalog, item);
    if (!rec || mz_service_brand_shares(svc, rec->brand))
        return entry->facts;
    struct mz_client_private *p =
        mz_client_privates_find(&entry->privates, rec->brand);
    return p ? p->facts : NULL;
}

const struct mz_client_facts **
mz_service_private_facts(const struct mz_client_entry *entry, size_t *n)
{
    *n = entry ? entry->privates.count : 0;
    if (*n == 0)
        return NULL;
    const struct mz_client_facts **facts = malloc(*n * sizeof *facts);
    if (facts)
        for (size_t i = 0; i < *n; i++)
            facts[i] = entry->privates.v[i].facts;
    return facts;
}
