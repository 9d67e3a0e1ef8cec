/*-------------------------------------------------------------------------
 * catalog.c
 *    PUT /v1/catalog/items, GET and DELETE /v1/catalog/items/{item_id}.
 *
 * A batch is validated whole before anything is written: one bad item
 * rejects the batch with a 400 naming it. PostgreSQL is written first,
 * then memory, so what a reader sees is always durable.
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_item.h"

#define MAX_ITEMS_PER_BATCH 1000

/* Catalog writes are serialised so that PostgreSQL and memory see them in
 * the same order. */
static pthread_mutex_t catalog_write_mutex = PTHREAD_MUTEX_INITIALIZER;

struct item_batch {
    struct mz_item **items;   /* owned */
    char **docs;              /* owned canonical JSON texts */
    size_t count;
};

static void item_batch_clear(struct item_batch *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        mz_item_free(batch->items[i]);
        free(batch->docs[i]);
    }
    free(batch->items);
    free(batch->docs);
}

/* Validates every element of items into batch; fills resp on error. */
static bool parse_items(const json_t *items, struct item_batch *batch,
                        struct mz_response *resp)
{
    size_t n = json_array_size(items);
    batch->items = calloc(n, sizeof *batch->items);
    batch->docs = calloc(n, sizeof *batch->docs);
    if (!batch->items || !batch->docs) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char prefix[32];
        struct mz_json_error err;
        snprintf(prefix, sizeof prefix, "items[%zu]", i);
        struct mz_item *item =
            mz_json_read_item(json_array_get(items, i), prefix, &err);
        json_t *canonical = item ? mz_json_write_item(item) : NULL;
        char *doc = canonical ? json_dumps(canonical, JSON_COMPACT) : NULL;
        json_decref(canonical);
        batch->items[i] = item;
        batch->docs[i] = doc;
        batch->count = i + 1;
        if (!item) {
            mz_response_error(resp, err.status, "%s", err.message);
            return false;
        }
        if (!doc) {
            mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
            return false;
        }
    }
    return true;
}

void mz_handle_put_items(struct mz_app *app, const struct mz_request *req,
                         struct mz_response *resp)
{
    struct item_batch batch = {0};
    const char **ids = NULL;
    json_t *body = mz_body_object(req, resp);
    if (!body)
        return;
    json_t *items = json_object_get(body, "items");
    if (json_object_size(body) != 1 || !json_is_array(items)) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "body must be {\"items\": [...]} and nothing else");
        goto cleanup;
    }
    size_t n = json_array_size(items);
    if (n == 0) {
        mz_response_error(resp, MZ_ERR_INVALID, "items: must not be empty");
        goto cleanup;
    }
    if (n > MAX_ITEMS_PER_BATCH) {
        mz_response_error(resp, MZ_ERR_TOO_LARGE,
                          "items: at most %d per request, got %zu",
                          MAX_ITEMS_PER_BATCH, n);
        goto cleanup;
    }
    if (!parse_items(items, &batch, resp))
        goto cleanup;
    ids = malloc(sizeof *ids * n);
    if (!ids) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = batch.items[i]->item_id;

    pthread_mutex_lock(&catalog_write_mutex);
    enum mz_status status = mz_store_upsert_items(
        app->store, ids, (const char *const *)batch.docs, n);
    if (status == MZ_OK) {
        pthread_rwlock_wrlock(&app->lock);
        for (size_t i = 0; i < n && status == MZ_OK; i++) {
            status = mz_app_put_item(app, batch.items[i]);
            batch.items[i] = NULL; /* taken */
        }
        pthread_rwlock_unlock(&app->lock);
    }
    pthread_mutex_unlock(&catalog_write_mutex);
    if (status != MZ_OK) {
        if (status == MZ_ERR_DB_UNAVAILABLE || status == MZ_ERR_DB)
            atomic_fetch_add(&app->counters.db_errors, 1);
        mz_response_error(resp, status, "catalog not updated: %s",
                          mz_status_code(status));
        goto cleanup;
    }
    mz_response_json(resp, 200, json_pack("{s:I}", "upserted", (json_int_t)n));
cleanup:
    free(ids);
    item_batch_clear(&batch);
    json_decref(body);
}

void mz_handle_get_item(struct mz_app *app, const struct mz_request *req,
                        struct mz_response *resp)
{
    const char *item_id = req->params[0];
    json_t *doc = NULL;
    pthread_rwlock_rdlock(&app->lock);
    const struct mz_item *item =
        mz_catalog_item(app->catalog, mz_catalog_find(app->catalog, item_id));
    if (item && !item->retired)
        doc = mz_json_write_item(item);
    pthread_rwlock_unlock(&app->lock);
    if (!doc && item && !item->retired) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        return;
    }
    if (!doc) {
        mz_response_error(resp, MZ_ERR_NOT_FOUND, "no item %s", item_id);
        return;
    }
    mz_response_json(resp, 200, doc);
}

void mz_handle_delete_item(struct mz_app *app, const struct mz_request *req,
                           struct mz_response *resp)
{
    const char *item_id = req->params[0];
    pthread_mutex_lock(&catalog_write_mutex);
    enum mz_status status = mz_store_delete_item(app->store, item_id);
    if (status == MZ_OK) {
        /* The model row stays: a retired catalog item is never selected
         * nor learned from, and a re-inserted one keeps what it learned. */
        pthread_rwlock_wrlock(&app->lock);
        mz_catalog_remove(app->catalog, item_id);
        pthread_rwlock_unlock(&app->lock);
    }
    pthread_mutex_unlock(&catalog_write_mutex);
    if (status != MZ_OK) {
        mz_response_error(resp, status, "item %s not deleted: %s", item_id,
                          mz_status_code(status));
        return;
    }
    mz_response_empty(resp, 204);
}
