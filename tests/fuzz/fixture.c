/*-------------------------------------------------------------------------
 * fixture.c
 *    The binary-reader fixture (fixture.h).
 *-------------------------------------------------------------------------
 */
#include "tests/fuzz/fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/client_record.h"
#include "model/bytes.h"
#include "model/hash.h"
#include "model/item.h"
#include "tests/fuzz/fuzz.h"

enum { N_ITEMS = 12, N_EVENTS = 40, CHECKSUM_BYTES = 8 };

static struct fuzz_fixture fixture;
static int built;

static char *dup_text(const char *s)
{
    char *copy = strdup(s);
    FUZZ_ASSERT(copy != NULL);
    return copy;
}

/* Items sku-0..: brand b(i % 3), category c(i % 4), in the catalog
 * (build) and the model (add_items) at the same indices. */
static void add_items(struct mz_model *model)
{
    for (int i = 0; i < N_ITEMS; i++) {
        char brand_token[48], category_token[48];
        snprintf(brand_token, sizeof brand_token, "brand=b%d", i % 3);
        snprintf(category_token, sizeof category_token, "category=c%d", i % 4);
        const char *tokens[] = {brand_token, category_token};
        FUZZ_ASSERT(mz_model_add_item(model, tokens, 2) == i);
    }
}

struct mz_model *fuzz_fresh_model(void)
{
    struct mz_model_config cfg;
    char err[256] = "";
    mz_model_config_defaults(&cfg);
    struct mz_model *model = mz_model_new(&cfg, err, sizeof err);
    FUZZ_ASSERT(model != NULL);
    add_items(model);
    return model;
}

static void build(void)
{
    static const enum mz_event_type types[] = {
        MZ_EV_VIEW, MZ_EV_CLICK,    MZ_EV_WISHLIST, MZ_EV_ADD_TO_CART,
        MZ_EV_VIEW, MZ_EV_PURCHASE, MZ_EV_DISMISS,  MZ_EV_VIEW,
    };
    struct fuzz_fixture *fx = &fixture;
    fx->catalog = mz_catalog_new();
    FUZZ_ASSERT(fx->catalog != NULL);
    fx->model = fuzz_fresh_model();
    fx->n_items = N_ITEMS;
    fx->item_ids = calloc(N_ITEMS, sizeof *fx->item_ids);
    FUZZ_ASSERT(fx->item_ids != NULL);
    for (int i = 0; i < N_ITEMS; i++) {
        char id[32], brand[32], category[32];
        snprintf(id, sizeof id, "sku-%d", i);
        snprintf(brand, sizeof brand, "b%d", i % 3);
        snprintf(category, sizeof category, "c%d", i % 4);
        struct mz_item *item = mz_item_new();
        FUZZ_ASSERT(item != NULL);
        item->item_id = dup_text(id);
        item->brand = dup_text(brand);
        item->category = dup_text(category);
        FUZZ_ASSERT(mz_catalog_upsert(fx->catalog, item, NULL) == i);
        fx->item_ids[i] = mz_catalog_item(fx->catalog, i)->item_id;
    }

    struct mz_client *client = mz_client_new(fx->model);
    struct mz_client_facts *facts = mz_client_facts_new();
    FUZZ_ASSERT(client != NULL && facts != NULL);
    for (int t = 0; t < N_EVENTS; t++) {
        struct mz_event_obs ev = {
            .item = (int32_t)((t * 7) % N_ITEMS),
            .type = types[t % 8],
            .ts = 1700000000 + t * 60,
            .seq = t + 1,
            .quantity = 1,
        };
        if (t == 20) {
            ev.item = -1;
            ev.type = MZ_EV_STORE_VISIT;
        }
        mz_model_observe(fx->model, client, &ev, true);
        FUZZ_ASSERT(mz_client_facts_observe(facts, &ev) == MZ_OK);
    }
    int32_t shown[] = {1, 2, 3};
    FUZZ_ASSERT(mz_client_facts_record_impressions(facts, shown, 3,
                                                   1700003000) == MZ_OK);

    fx->snapshot[FUZZ_SNAPSHOT_MODEL] = mz_model_save(
        fx->model, fx->item_ids, &fx->snapshot_len[FUZZ_SNAPSHOT_MODEL]);
    fx->snapshot[FUZZ_SNAPSHOT_CLIENT] =
        mz_client_save(client, &fx->snapshot_len[FUZZ_SNAPSHOT_CLIENT]);
    fx->snapshot[FUZZ_SNAPSHOT_FACTS] = mz_client_facts_save(
        facts, fx->catalog, &fx->snapshot_len[FUZZ_SNAPSHOT_FACTS]);
    fx->snapshot[FUZZ_SNAPSHOT_RECORD] =
        mz_client_record_save(client, facts, NULL, fx->catalog, true, N_EVENTS,
                              &fx->snapshot_len[FUZZ_SNAPSHOT_RECORD]);
    for (int k = 0; k < FUZZ_SNAPSHOT_COUNT; k++)
        FUZZ_ASSERT(fx->snapshot[k] != NULL);
    mz_client_free(client);
    mz_client_facts_free(facts);
}

const struct fuzz_fixture *fuzz_fixture(void)
{
    if (!built) {
        build();
        built = 1;
    }
    return &fixture;
}

static void reseal(uint8_t *bytes, size_t len)
{
    if (len < CHECKSUM_BYTES)
        return;
    uint64_t sum = mz_bytes_checksum(bytes, len - CHECKSUM_BYTES);
    for (int i = 0; i < CHECKSUM_BYTES; i++)
        bytes[len - CHECKSUM_BYTES + i] = (uint8_t)(sum >> (8 * i));
}

/* Corrupts a copy of snapshot by tail, read as commands of 4 bytes: op,
 * then a 16-bit little-endian offset (modulo the length), then a value.
 * op % 4: 0 xor the byte with value, 1 set it to value, 2 truncate the
 * snapshot at offset, 3 set the 32-bit field at offset to a small or
 * huge number (value < 128: value; otherwise 0xFFFFFFFF - value). */
static uint8_t *corrupt(const uint8_t *snapshot, size_t snapshot_len,
                        const uint8_t *tail, size_t tail_len, size_t *len)
{
    uint8_t *bytes = malloc(snapshot_len ? snapshot_len : 1);
    if (!bytes)
        return NULL;
    memcpy(bytes, snapshot, snapshot_len);
    size_t n = snapshot_len;
    for (size_t i = 0; i + 4 <= tail_len && n > 0; i += 4) {
        size_t off = (size_t)(tail[i + 1] | tail[i + 2] << 8) % n;
        uint8_t value = tail[i + 3];
        switch (tail[i] % 4) {
        case 0:
            bytes[off] ^= value;
            break;
        case 1:
            bytes[off] = value;
            break;
        case 2:
            n = off;
            break;
        default: {
            uint32_t field = value < 128 ? value : 0xFFFFFFFFu - value;
            for (int b = 0; b < 4 && off + (size_t)b < n; b++)
                bytes[off + (size_t)b] = (uint8_t)(field >> (8 * b));
        }
        }
    }
    *len = n;
    return bytes;
}

uint8_t *fuzz_reader_input(enum fuzz_snapshot kind, const uint8_t *data,
                           size_t size, size_t *len, int *must_refuse)
{
    const struct fuzz_fixture *fx = fuzz_fixture();
    int mode = size ? data[0] % 4 : 0;
    const uint8_t *tail = size ? data + 1 : data;
    size_t tail_len = size ? size - 1 : 0;
    uint8_t *bytes;
    *must_refuse = 0;
    if (mode <= 1) {
        bytes = malloc(tail_len ? tail_len : 1);
        if (bytes)
            memcpy(bytes, tail, tail_len);
        *len = tail_len;
    } else {
        bytes = corrupt(fx->snapshot[kind], fx->snapshot_len[kind], tail,
                        tail_len, len);
    }
    if (bytes && (mode == 1 || mode == 2))
        reseal(bytes, *len);
    if (bytes && mode == 3)
        *must_refuse = *len != fx->snapshot_len[kind] ||
                       memcmp(bytes, fx->snapshot[kind], *len) != 0;
    return bytes;
}
