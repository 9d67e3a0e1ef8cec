/*-------------------------------------------------------------------------
 * catalog.c
 *    PUT and GET /v1/catalog/items, GET and DELETE
 *    /v1/catalog/items/{item_id}.
 *
 * A batch is validated whole before anything is written: one bad item
 * rejects the batch with a 400 naming it. The service stores it, all or
 * nothing; for a key scoped to some brands, one item of another brand
 * (as given or as stored) refuses the whole batch with a 403.
 *
 * The listing pages by key, not offset: its cursor is the base64url (no
 * padding) of "id:" and the last item id shown, so the next page starts
 * after that id wherever it now sorts, and a page is never shifted by an
 * upsert or deletion elsewhere. The prefix makes a cursor from anywhere
 * else fail to decode rather than name a position by chance.
 *-------------------------------------------------------------------------
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_item.h"
#include "api/service/service.h"

#define MAX_ITEMS_PER_BATCH 1000

#define CURSOR_PREFIX    "id:"
#define CURSOR_RAW_BYTES (sizeof CURSOR_PREFIX - 1 + MZ_ID_MAX_BYTES)
#define CURSOR_MAX_CHARS                                                       \
    (sodium_base64_ENCODED_LEN(CURSOR_RAW_BYTES,                               \
                               sodium_base64_VARIANT_URLSAFE_NO_PADDING) -     \
     1)
#define DEFAULT_PAGE_SIZE 100

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

/* The cursor after item_id into out (room for CURSOR_MAX_CHARS + 1). */
static void cursor_encode(const char *item_id, char *out)
{
    unsigned char raw[CURSOR_RAW_BYTES];
    size_t id_len = strlen(item_id);
    memcpy(raw, CURSOR_PREFIX, sizeof CURSOR_PREFIX - 1);
    memcpy(raw + sizeof CURSOR_PREFIX - 1, item_id, id_len);
    sodium_bin2base64(out, CURSOR_MAX_CHARS + 1, raw,
                      sizeof CURSOR_PREFIX - 1 + id_len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* The item id of cursor into id (room for MZ_ID_MAX_BYTES + 1); false
 * when it is not a cursor this route wrote. */
static bool cursor_decode(const char *cursor, char *id)
{
    unsigned char raw[CURSOR_RAW_BYTES + 1];
    size_t len = strlen(cursor), raw_len = 0;
    const char *end = NULL;
    size_t prefix = sizeof CURSOR_PREFIX - 1;
    if (len == 0 || len > CURSOR_MAX_CHARS ||
        sodium_base642bin(raw, sizeof raw - 1, cursor, len, NULL, &raw_len,
                          &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != cursor + len || raw_len <= prefix ||
        memcmp(raw, CURSOR_PREFIX, prefix) != 0)
        return false;
    memcpy(id, raw + prefix, raw_len - prefix);
    id[raw_len - prefix] = '\0';
    return strlen(id) == raw_len - prefix && mz_is_valid_id(id);
}

/* The listing's query arguments into args (after pointing into
 * after_id); false after filling resp with a 400 or 403. */
static bool read_list_args(const struct mz_request *req,
                           struct mz_item_list_args *args, char *after_id,
                           struct mz_response *resp)
{
    int64_t limit = 0;
    if (!mz_query_int(req, "limit", 1, MZ_ITEM_LIST_MAX_LIMIT,
                      DEFAULT_PAGE_SIZE, &limit, resp) ||
        !mz_query_id(req, "brand", &args->brand, resp) ||
        !mz_query_id(req, "category", &args->category, resp))
        return false;
    args->limit = (size_t)limit;
    const char *available = req->query(req->query_ctx, "available");
    args->available = -1;
    if (available && strcmp(available, "true") == 0)
        args->available = 1;
    else if (available && strcmp(available, "false") == 0)
        args->available = 0;
    else if (available) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "available: must be true or false");
        return false;
    }
    const char *cursor = req->query(req->query_ctx, "cursor");
    if (cursor && !cursor_decode(cursor, after_id)) {
        mz_response_error(resp, MZ_ERR_INVALID,
                          "cursor: not a cursor of this listing (pass "
                          "next_cursor as it was returned)");
        return false;
    }
    args->after = cursor ? after_id : NULL;
    args->scope =
        req->principal && !req->principal->all_brands ? req->principal : NULL;
    if (args->scope && args->brand &&
        !mz_principal_allows_brand(args->scope, args->brand)) {
        mz_response_error(resp, MZ_ERR_FORBIDDEN,
                          "brand %s is outside this key's scope", args->brand);
        return false;
    }
    return true;
}

static enum mz_status reply_page(void *arg, const struct mz_item *const *items,
                                 size_t n, bool more)
{
    json_t **body = arg;
    json_t *list = json_array();
    char cursor[CURSOR_MAX_CHARS + 1];
    for (size_t i = 0; list && i < n; i++) {
        if (json_array_append_new(list, mz_json_write_item(items[i])) != 0) {
            json_decref(list);
            return MZ_ERR_NOMEM;
        }
    }
    if (more)
        cursor_encode(items[n - 1]->item_id, cursor);
    *body = list ? json_pack("{s:o,s:o}", "items", list, "next_cursor",
                             more ? json_string(cursor) : json_null())
                 : NULL;
    return *body ? MZ_OK : MZ_ERR_NOMEM;
}

void mz_handle_list_items(struct mz_service *svc, const struct mz_request *req,
                          struct mz_response *resp)
{
    struct mz_item_list_args args = {0};
    char after_id[MZ_ID_MAX_BYTES + 1];
    json_t *body = NULL;
    if (!read_list_args(req, &args, after_id, resp))
        return;
    enum mz_status status =
        mz_service_list_items(svc, &args, reply_page, &body);
    if (status != MZ_OK) {
        mz_response_error(resp, status, "catalog not listed: %s",
                          mz_status_code(status));
        return;
    }
    mz_response_json(resp, 200, body);
}
