/*-------------------------------------------------------------------------
 * brand_tiers.c
 *    A client's tier per brand: copy, release, look up. The list is
 *    bounded (MZ_BRAND_TIERS_MAX), so a linear search is enough.
 *
 * Interface routines: see brand_tiers.h.
 *-------------------------------------------------------------------------
 */
#include "model/brand_tiers.h"

#include <stdlib.h>
#include <string.h>

bool mz_brand_tiers_copy(struct mz_brand_tiers *out,
                         const struct mz_brand_tiers *src)
{
    *out = (struct mz_brand_tiers){NULL, 0};
    if (!src || src->count == 0)
        return true;
    out->v = calloc(src->count, sizeof *out->v);
    if (!out->v)
        return false;
    for (size_t i = 0; i < src->count; i++) {
        out->v[i].brand = strdup(src->v[i].brand);
        out->v[i].tier = strdup(src->v[i].tier);
        out->count++;
        if (!out->v[i].brand || !out->v[i].tier) {
            mz_brand_tiers_clear(out);
            return false;
        }
    }
    return true;
}

void mz_brand_tiers_clear(struct mz_brand_tiers *tiers)
{
    if (!tiers)
        return;
    for (size_t i = 0; i < tiers->count; i++) {
        free(tiers->v[i].brand);
        free(tiers->v[i].tier);
    }
    free(tiers->v);
    tiers->v = NULL;
    tiers->count = 0;
}

const char *mz_brand_tiers_at(const struct mz_brand_tiers *tiers,
                              const char *brand, const char *fallback)
{
    if (!tiers || !brand)
        return fallback;
    for (size_t i = 0; i < tiers->count; i++) {
        if (strcmp(tiers->v[i].brand, brand) == 0)
            return tiers->v[i].tier;
    }
    return fallback;
}
