/*-------------------------------------------------------------------------
 * items.c
 *    The catalog: upserts and deletions (PostgreSQL, with their markers
 *    in the log, which every node applies in log order: changes.c) and
 *    reads: one item, or a page of the listing in id order.
 *
 * Catalog and model indices advance together, so an item's model row is
 * its catalog index; a deleted item keeps its index, retired (never
 * recommended nor learned from), and a re-inserted one keeps what it
 * learned.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdlib.h>

#include "model/catalog_page.h"

enum mz_status mz_service_apply_item(struct mz_service *svc,
                                     struct mz_item *item)
{
    struct mz_string_list tokens = {0};
    enum mz_status status = mz_item_tokens(item, &tokens);
    if (status != MZ_OK) {
        mz_item_free(item);
        return status;
    }
    bool is_new = false;
    int32_t index = mz_catalog_upsert(svc->catalog, item, &is_new);
    if (index < 0) {
        mz_string_list_clear(&tokens);
        return MZ_ERR_NOMEM;
    }
    if (is_new) {
        int32_t row = mz_model_add_item(
            svc->model, (const char *const *)tokens.items, tokens.count);
        if (row != index) {
            /* Keep the indices aligned: the item stays, retired. */
            mz_string_list_clear(&tokens);
            mz_catalog_remove(svc->catalog,
                              mz_catalog_item(svc->catalog, index)->item_id);
            return MZ_ERR_NOMEM;
        }
    } else if (!mz_model_set_item_tokens(svc->model, index,
                                         (const char *const *)tokens.items,
                                         tokens.count)) {
        /* The catalog holds the new document; the attribute taste keeps
         * the old tokens until the next update or start. */
        mz_string_list_clear(&tokens);
        return MZ_ERR_NOMEM;
    }
    mz_string_list_clear(&tokens);
    return MZ_OK;
}

const char **mz_service_catalog_ids(const struct mz_service *svc)
{
    int32_t n = mz_catalog_count(svc->catalog);
    const char **ids = malloc(sizeof *ids * (size_t)(n > 0 ? n : 1));
    if (!ids)
        return NULL;
    for (int32_t i = 0; i < n; i++)
        ids[i] = mz_catalog_item(svc->catalog, i)->item_id;
    return ids;
}

/* MZ_ERR_FORBIDDEN when an item, as given or as the catalog holds it
 * (deleted ones too: a re-insert keeps what it learned), is of a brand
 * outside scope. Caller holds catalog_write_mutex, so no write slips in
 * between the check and the upsert. */
static enum mz_status check_scope(struct mz_service *svc,
                                  struct mz_item *const *items, size_t n,
                                  const struct mz_principal *scope)
{
    enum mz_status status = MZ_OK;
    mz_service_read_lock(svc);
    for (size_t i = 0; status == MZ_OK && i < n; i++) {
        const struct mz_item *old = mz_catalog_item(
            svc->catalog, mz_catalog_find(svc->catalog, items[i]->item_id));
        if (!mz_principal_allows_brand(scope, items[i]->brand) ||
            (old && !mz_principal_allows_brand(scope, old->brand)))
            status = MZ_ERR_FORBIDDEN;
    }
    pthread_rwlock_unlock(&svc->lock);
    return status;
}

enum mz_status mz_service_upsert_items(struct mz_service *svc,
                                       struct mz_item **items,
                                       const char *const *docs, size_t n,
                                       const struct mz_principal *scope)
{
    const char **ids = malloc(sizeof *ids * (n > 0 ? n : 1));
    enum mz_status status = ids ? MZ_OK : MZ_ERR_NOMEM;
    for (size_t i = 0; ids && i < n; i++)
        ids[i] = items[i]->item_id;
    pthread_mutex_lock(&svc->catalog_write_mutex);
    if (status == MZ_OK && scope)
        status = check_scope(svc, items, n, scope);
    int64_t position = 0;
    if (status == MZ_OK)
        status = mz_store_upsert_items(svc->store, ids, docs, n,
                                       mz_service_actor(scope), &position);
    mz_service_count_store_error(svc, status);
    /* In force here once the learner has applied the markers, as on
     * every other node; the mutex keeps the next write's scope check
     * behind it. */
    if (status == MZ_OK)
        status = mz_service_wait_change(svc, position);
    pthread_mutex_unlock(&svc->catalog_write_mutex);
    for (size_t i = 0; i < n; i++)
        mz_item_free(items[i]);
    free(ids);
    return status;
}

enum mz_status mz_service_read_item(struct mz_service *svc, const char *item_id,
                                    mz_item_reply_fn reply, void *ctx)
{
    mz_service_read_lock(svc);
    const struct mz_item *item =
        mz_catalog_item(svc->catalog, mz_catalog_find(svc->catalog, item_id));
    enum mz_status status =
        item && !item->retired ? reply(ctx, item) : MZ_ERR_NOT_FOUND;
    pthread_rwlock_unlock(&svc->lock);
    return status;
}

/* The listing's filters other than the brand scanned. */
struct list_filter {
    const struct mz_item_list_args *args;
    int32_t category_id; /* -1: every category */
};

static bool keep_listed(void *ctx, const struct mz_item *item)
{
    const struct list_filter *f = ctx;
    const struct mz_item_list_args *args = f->args;
    bool in_stock = item->available && item->stock != 0;
    return (f->category_id < 0 || item->category_id == f->category_id) &&
           (args->available < 0 || in_stock == (args->available == 1)) &&
           (!args->scope ||
            mz_principal_allows_brand(args->scope, item->brand));
}

enum mz_status mz_service_list_items(struct mz_service *svc,
                                     const struct mz_item_list_args *args,
                                     mz_item_page_reply_fn reply, void *ctx)
{
    if (args->limit < 1 || args->limit > MZ_ITEM_LIST_MAX_LIMIT)
        return MZ_ERR_INVALID;
    int32_t *page = malloc(args->limit * sizeof *page);
    const struct mz_item **items = malloc(args->limit * sizeof *items);
    enum mz_status status = page && items ? MZ_OK : MZ_ERR_NOMEM;
    struct list_filter filter = {args, -1};
    struct mz_catalog_page_query q = {args->after, -1, keep_listed, &filter,
                                      args->limit};
    size_t n = 0;
    bool more = false;
    mz_service_read_lock(svc);
    if (args->brand)
        q.brand_id = mz_catalog_brand_id(svc->catalog, args->brand);
    if (args->category)
        filter.category_id =
            mz_catalog_category_id(svc->catalog, args->category);
    /* A brand or category no item ever had: an empty page. */
    bool none = (args->brand && q.brand_id < 0) ||
                (args->category && filter.category_id < 0);
    if (status == MZ_OK && !none)
        status = mz_catalog_page(svc->catalog, &q, page, &n, &more);
    for (size_t i = 0; status == MZ_OK && i < n; i++)
        items[i] = mz_catalog_item(svc->catalog, page[i]);
    if (status == MZ_OK)
        status = reply(ctx, items, n, more);
    pthread_rwlock_unlock(&svc->lock);
    free(items);
    free(page);
    return status;
}

enum mz_status mz_service_delete_item(struct mz_service *svc,
                                      const char *item_id,
                                      const struct mz_principal *scope)
{
    enum mz_status status = MZ_OK;
    pthread_mutex_lock(&svc->catalog_write_mutex);
    if (scope) {
        /* Under the write mutex: no upsert can change its brand now. */
        mz_service_read_lock(svc);
        const struct mz_item *item = mz_catalog_item(
            svc->catalog, mz_catalog_find(svc->catalog, item_id));
        if (item && !item->retired &&
            !mz_principal_allows_brand(scope, item->brand))
            status = MZ_ERR_FORBIDDEN;
        pthread_rwlock_unlock(&svc->lock);
    }
    int64_t position = 0;
    if (status == MZ_OK)
        status = mz_store_delete_item(svc->store, item_id,
                                      mz_service_actor(scope), &position);
    mz_service_count_store_error(svc, status);
    if (status == MZ_OK)
        status = mz_service_wait_change(svc, position);
    pthread_mutex_unlock(&svc->catalog_write_mutex);
    return status;
}
