/*-------------------------------------------------------------------------
 * catalog_page.h
 *    Keyset pages of the catalog (model/catalog.h) in item id order, for
 *    listing it: the live items whose id sorts after a given id, the
 *    smallest first, as many as a page holds.
 *
 * An id, not an offset, marks where a page ends, so an item upserted or
 * deleted between two pages neither repeats nor hides another: the next
 * page starts after the last id shown, wherever that id now sorts. Ids
 * compare as bytes (strcmp), the order PostgreSQL's "C" collation gives.
 *
 * Interface routines:
 *    mz_catalog_page - the next page after an id, filtered by a callback
 *-------------------------------------------------------------------------
 */
#ifndef MZ_CATALOG_PAGE_H
#define MZ_CATALOG_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/catalog.h"
#include "model/status.h"

/* Whether item (borrowed, live) belongs on the page; ctx is the
 * caller's. */
typedef bool (*mz_catalog_keep_fn)(void *ctx, const struct mz_item *item);

/* What one page asks for. */
struct mz_catalog_page_query {
    const char *after;       /* borrowed; ids strictly after it; NULL: all */
    int32_t brand_id;        /* scan only this brand's items; -1: every */
    mz_catalog_keep_fn keep; /* NULL: keep every live item */
    void *keep_ctx;
    size_t limit; /* >= 1: room in page */
};

/* Writes into page the catalog indices of the first q->limit live items
 * (not retired) that q selects, in ascending id order, sets *count to how
 * many and *more to whether a further selected item follows the last one.
 * Costs one pass over the items scanned (log limit each). Returns MZ_OK,
 * or MZ_ERR_NOMEM with *count 0. */
enum mz_status mz_catalog_page(const struct mz_catalog *catalog,
                               const struct mz_catalog_page_query *q,
                               int32_t *page, size_t *count, bool *more);

#endif
