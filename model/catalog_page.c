/*-------------------------------------------------------------------------
 * catalog_page.c
 *    Keyset pages of the catalog in item id order.
 *
 * Interface routines: see catalog_page.h.
 *
 * The catalog is kept in upsert order, not id order, so a page is chosen
 * in one pass: a max-heap on the id holds the limit + 1 smallest ids seen
 * so far after the cursor (the extra one says whether more follow), then
 * is emptied largest first into the page from its end. No sorted index
 * is kept, so upserts stay O(1) and a page costs O(n log limit).
 *-------------------------------------------------------------------------
 */
#include "model/catalog_page.h"

#include <stdlib.h>
#include <string.h>

struct id_heap {
    const struct mz_catalog *catalog;
    int32_t *v; /* owned: catalog indices, the largest id at v[0] */
    size_t count;
    size_t cap;
};

static const char *id_at(const struct id_heap *h, size_t slot)
{
    return mz_catalog_item(h->catalog, h->v[slot])->item_id;
}

/* Whether slot a's id sorts after slot b's. */
static bool above(const struct id_heap *h, size_t a, size_t b)
{
    return strcmp(id_at(h, a), id_at(h, b)) > 0;
}

static void swap(struct id_heap *h, size_t a, size_t b)
{
    int32_t t = h->v[a];
    h->v[a] = h->v[b];
    h->v[b] = t;
}

static void sift_down(struct id_heap *h, size_t at)
{
    for (;;) {
        size_t largest = at, l = 2 * at + 1, r = l + 1;
        if (l < h->count && above(h, l, largest))
            largest = l;
        if (r < h->count && above(h, r, largest))
            largest = r;
        if (largest == at)
            return;
        swap(h, at, largest);
        at = largest;
    }
}

static void sift_up(struct id_heap *h, size_t at)
{
    while (at > 0 && above(h, at, (at - 1) / 2)) {
        swap(h, at, (at - 1) / 2);
        at = (at - 1) / 2;
    }
}

/* Offers index to the heap: kept when the heap has room or its id sorts
 * before the largest held, which it then replaces. */
static void offer(struct id_heap *h, int32_t index, const char *id)
{
    if (h->count < h->cap) {
        h->v[h->count++] = index;
        sift_up(h, h->count - 1);
    } else if (strcmp(id, id_at(h, 0)) < 0) {
        h->v[0] = index;
        sift_down(h, 0);
    }
}

static bool selected(const struct mz_catalog_page_query *q,
                     const struct mz_item *item)
{
    return item && !item->retired &&
           (!q->after || strcmp(item->item_id, q->after) > 0) &&
           (!q->keep || q->keep(q->keep_ctx, item));
}

enum mz_status mz_catalog_page(const struct mz_catalog *catalog,
                               const struct mz_catalog_page_query *q,
                               int32_t *page, size_t *count, bool *more)
{
    struct id_heap h = {catalog, NULL, 0, q->limit + 1};
    const int32_t *brand_items = NULL;
    size_t n;
    *count = 0;
    *more = false;
    if (q->brand_id >= 0)
        brand_items = mz_catalog_brand_items(catalog, q->brand_id, &n);
    else
        n = (size_t)mz_catalog_count(catalog);
    h.v = malloc(h.cap * sizeof *h.v);
    if (!h.v)
        return MZ_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int32_t index = brand_items ? brand_items[i] : (int32_t)i;
        const struct mz_item *item = mz_catalog_item(catalog, index);
        if (selected(q, item))
            offer(&h, index, item->item_id);
    }
    /* The one past the limit says that more follow; it is not shown. */
    if (h.count > q->limit) {
        *more = true;
        h.v[0] = h.v[--h.count];
        sift_down(&h, 0);
    }
    *count = h.count;
    while (h.count > 0) {
        page[h.count - 1] = h.v[0];
        h.v[0] = h.v[--h.count];
        sift_down(&h, 0);
    }
    free(h.v);
    return MZ_OK;
}
