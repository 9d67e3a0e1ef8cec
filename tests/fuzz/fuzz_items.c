/*-------------------------------------------------------------------------
 * fuzz_items.c
 *    PUT /v1/catalog/items bodies: {"items": [...]} read by
 *    mz_body_object, each element through mz_json_read_item and written
 *    back with mz_json_write_item, as api/catalog.c does. The written
 *    item must read back, and write the same text again.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "api/json_item.h"
#include "tests/fuzz/fuzz.h"

/* item (borrowed) as compact canonical text (caller frees); NULL only on
 * allocation failure. */
static char *canonical_text(const struct mz_item *item)
{
    json_t *doc = mz_json_write_item(item);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = fuzz_body_object(data, size);
    json_t *items = json_object_get(body, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        struct mz_json_error err;
        struct mz_item *item =
            mz_json_read_item(json_array_get(items, i), "items[0]", &err);
        if (!item) {
            FUZZ_ASSERT(err.message[0] != '\0');
            continue;
        }
        char *text = canonical_text(item);
        FUZZ_ASSERT(text != NULL);
        json_t *again = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        FUZZ_ASSERT(again != NULL);
        struct mz_item *reread = mz_json_read_item(again, "", &err);
        FUZZ_ASSERT(reread != NULL);
        char *text2 = canonical_text(reread);
        FUZZ_ASSERT(text2 != NULL && strcmp(text, text2) == 0);
        free(text2);
        mz_item_free(reread);
        json_decref(again);
        free(text);
        mz_item_free(item);
    }
    json_decref(body);
    return 0;
}
