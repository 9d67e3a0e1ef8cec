/*-------------------------------------------------------------------------
 * catalog.c
 *    PUT /v1/catalog/items, GET and DELETE /v1/catalog/items/{item_id}.
 *
 * A batch is validated whole before anything is written: one bad item
 * rejects the batch with a 400 naming it. The service stores it, all or
 * nothing; for a key scoped to some brands, one item of another brand
 * (as given or as stored) refuses the whole batch with a 403.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_item.h"
#include "api/service/service.h"

#define MAX_ITEMS_PER_BATCH 1000

struct item_batch {
    struct mz_item **items; /* owned */
    char **docs;            /* owned canonical JSON texts */
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

void mz_handle_put_items(struct mz_service *svc, const struct mz_request *req,
                         struct mz_response *resp)
{
    struct item_batch batch = {0};
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
    enum mz_status status = mz_service_upsert_items(
        svc, batch.items, (const char *const *)batch.docs, n, req->principal);
    for (size_t i = 0; i < n; i++)
        batch.items[i] = NULL; /* taken */
    if (status == MZ_ERR_FORBIDDEN) {
        mz_response_error(resp, status,
                          "catalog not updated: an item is of a brand "
                          "outside this key's scope");
        goto cleanup;
    }
    if (status != MZ_OK) {
        mz_response_error(resp, status, "catalog not updated: %s",
                          mz_status_code(status));
        goto cleanup;
    }
    mz_response_json(resp, 200, json_pack("{s:I}", "upserted", (json_int_t)n));
cleanup:
    item_batch_clear(&batch);
    json_decref(body);
}

struct item_reply {
    const struct mz_principal *scope; /* NULL: every brand */
    json_t *doc;
};

static enum mz_status reply_item(void *arg, const struct mz_item *item)
{
    struct item_reply *ctx = arg;
    if (ctx->scope && !mz_principal_allows_brand(ctx->scope, item->brand))
        return MZ_ERR_FORBIDDEN;
    ctx->doc = mz_json_write_item(item);
    return ctx->doc ? MZ_OK : MZ_ERR_NOMEM;
}

void mz_handle_get_item(struct mz_service *svc, const struct mz_request *req,
                        struct mz_response *resp)
{
    const char *item_id = req->params[0];
    struct item_reply ctx = {req->principal, NULL};
    enum mz_status status =
        mz_service_read_item(svc, item_id, reply_item, &ctx);
    if (status == MZ_ERR_NOT_FOUND)
        mz_response_error(resp, status, "no item %s", item_id);
    else if (status == MZ_ERR_FORBIDDEN)
        mz_response_error(resp, status,
                          "item %s is of a brand outside this key's scope",
                          item_id);
    else if (status != MZ_OK)
        mz_response_error(resp, status, "out of memory");
    else
        mz_response_json(resp, 200, ctx.doc);
}

void mz_handle_delete_item(struct mz_service *svc, const struct mz_request *req,
                           struct mz_response *resp)
{
    const char *item_id = req->params[0];
    enum mz_status status =
        mz_service_delete_item(svc, item_id, req->principal);
    if (status != MZ_OK) {
        mz_response_error(resp, status, "item %s not deleted: %s", item_id,
                          mz_status_code(status));
        return;
    }
    mz_response_empty(resp, 204);
}
