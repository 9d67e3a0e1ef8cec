/*-------------------------------------------------------------------------
 * test_client_facts_io.c
 *    Unit tests of model/client_facts_io.c: a replay saves to the same
 *    bytes, save/load round trips, loading onto a catalog in another
 *    order, and hostile bytes (cut, flipped, unknown version, lists over
 *    their cap) refused without reading outside them.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bytes.h"
#include "model/client_facts.h"

#define DAY 86400

static struct mz_catalog *catalog_of(int n, bool reversed)
{
    struct mz_catalog *cat = mz_catalog_new();
    for (int k = 0; k < n; k++) {
        int i = reversed ? n - 1 - k : k;
        char id[32];
        snprintf(id, sizeof(id), "sku-%d", i);
        struct mz_item *item = mz_item_new();
        item->item_id = strdup(id);
        item->brand = strdup("b");
        item->category = strdup("c");
        ck_assert_int_ge(mz_catalog_upsert(cat, item, NULL), 0);
    }
    return cat;
}

static void observe(struct mz_client_facts *f, enum mz_event_type type,
                    int32_t item, int64_t ts)
{
    static int64_t seq;
    struct mz_event_obs ev = {
        .item = item, .type = type, .ts = ts, .seq = ++seq, .quantity = 1};
    ck_assert_int_eq(mz_client_facts_observe(f, &ev), MZ_OK);
}

/* A fixed pseudo-random event stream (xorshift), the same every run. */
static void replay(struct mz_client_facts *f, int n_events, int n_items)
{
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < n_events; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        struct mz_event_obs ev = {
            .item = (int32_t)(x % (uint64_t)n_items),
            .type = (enum mz_event_type)((x >> 20) % MZ_EV_STORE_VISIT + 0),
            .ts = 1700000000 + i * 60,
            .seq = i + 1,
            .quantity = (int32_t)((x >> 40) % 3),
        };
        if ((x >> 50) % 17 == 0)
            ev.type = MZ_EV_EVENT_ATTENDANCE;
        /* Consent comes and goes, and is withdrawn at the end, so the
         * saved form holds the facts recorded without consent too. */
        if (i % 700 == 350 || i == n_events - 100)
            ev.type = MZ_EV_CONSENT_WITHDRAWN;
        else if (i % 700 == 600)
            ev.type = MZ_EV_CONSENT_GRANTED;
        mz_client_facts_observe(f, &ev);
        if (i % 10 == 0) {
            int32_t shown[3] = {ev.item, (ev.item + 1) % n_items, 0};
            mz_client_facts_record_impressions(f, shown, 3, ev.ts);
        }
    }
}

START_TEST(test_replay_is_deterministic_and_round_trips)
{
    struct mz_catalog *cat = catalog_of(50, false);
    struct mz_client_facts *a = mz_client_facts_new();
    struct mz_client_facts *b = mz_client_facts_new();
    replay(a, 3000, 50);
    replay(b, 3000, 50);
    size_t la, lb;
    void *sa = mz_client_facts_save(a, cat, &la);
    void *sb = mz_client_facts_save(b, cat, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(sa, sb, la) == 0);

    enum mz_status status;
    char err[128];
    struct mz_client_facts *c =
        mz_client_facts_load(cat, sa, la, &status, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(status, MZ_OK);
    size_t lc;
    void *sc = mz_client_facts_save(c, cat, &lc);
    ck_assert_uint_eq(lc, la);
    ck_assert(memcmp(sa, sc, la) == 0);
    ck_assert_int_eq(mz_client_facts_last_seq(c), 3000);
    free(sa);
    free(sb);
    free(sc);
    mz_client_facts_free(a);
    mz_client_facts_free(b);
    mz_client_facts_free(c);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_load_maps_ids_onto_another_catalog)
{
    struct mz_catalog *cat = catalog_of(10, false);
    struct mz_catalog *reversed = catalog_of(8, true); /* no sku-8, sku-9 */
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_PURCHASE, 2, 10);
    observe(f, MZ_EV_PURCHASE, 9, 20);
    observe(f, MZ_EV_VIEW, 3, 30);
    size_t len;
    void *bytes = mz_client_facts_save(f, cat, &len);
    enum mz_status status;
    char err[128];
    struct mz_client_facts *g =
        mz_client_facts_load(reversed, bytes, len, &status, err, sizeof(err));
    ck_assert_msg(g != NULL, "%s", err);
    int32_t sku2 = mz_catalog_find(reversed, "sku-2");
    ck_assert_int_eq(sku2, 5);
    ck_assert(mz_client_facts_purchased_at(g, sku2, NULL));
    size_t n;
    mz_client_facts_purchases(g, &n);
    ck_assert_uint_eq(n, 1); /* sku-9 is not in the catalog */
    struct mz_item_event ev;
    ck_assert(mz_client_facts_last_event_of(
        g, mz_catalog_find(reversed, "sku-3"), &ev));
    free(bytes);
    mz_client_facts_free(f);
    mz_client_facts_free(g);
    mz_catalog_free(cat);
    mz_catalog_free(reversed);
}
END_TEST

START_TEST(test_load_rejects_garbage_safely)
{
    struct mz_catalog *cat = catalog_of(20, false);
    struct mz_client_facts *f = mz_client_facts_new();
    replay(f, 500, 20);
    size_t len;
    uint8_t *bytes = mz_client_facts_save(f, cat, &len);
    enum mz_status status;
    char err[128];

    for (size_t cut = 0; cut < len; cut++) {
        status = MZ_OK;
        ck_assert_ptr_null(
            mz_client_facts_load(cat, bytes, cut, &status, err, sizeof(err)));
        ck_assert_int_eq(status, MZ_ERR_INVALID);
    }
    uint8_t *copy = malloc(len);
    for (size_t i = 0; i < len; i += 3) {
        memcpy(copy, bytes, len);
        copy[i] ^= 0x5a;
        ck_assert_ptr_null(
            mz_client_facts_load(cat, copy, len, &status, err, sizeof(err)));
    }
    free(copy);
    ck_assert_ptr_null(
        mz_client_facts_load(cat, NULL, 0, &status, err, sizeof(err)));

    /* A well-formed record of an unknown version. */
    struct mz_wbuf w;
    mz_wbuf_init(&w);
    mz_wbuf_u32(&w, 0x46435a4du);
    mz_wbuf_u32(&w, 99);
    size_t vlen;
    void *v = mz_wbuf_finish(&w, &vlen);
    ck_assert_ptr_null(
        mz_client_facts_load(cat, v, vlen, &status, err, sizeof(err)));
    ck_assert_str_eq(err, "client facts: unsupported format version");
    free(v);

    /* A version-1 record (before the rules' facts outlived a consent
     * withdrawal) and a version-2 one (before visits kept their brand)
     * are refused, so the service replays the log instead. */
    for (uint32_t version = 1; version <= 2; version++) {
        mz_wbuf_init(&w);
        mz_wbuf_u32(&w, 0x46435a4du);
        mz_wbuf_u32(&w, version);
        mz_wbuf_u64(&w, 0);
        mz_wbuf_u64(&w, 0);
        mz_wbuf_u64(&w, 0);
        mz_wbuf_u8(&w, 0);
        for (int list = 0; list < 4 + 1 + MZ_VISIT_KIND_COUNT + 1; list++)
            mz_wbuf_u32(&w, 0);
        v = mz_wbuf_finish(&w, &vlen);
        ck_assert_ptr_null(
            mz_client_facts_load(cat, v, vlen, &status, err, sizeof(err)));
        ck_assert_int_eq(status, MZ_ERR_INVALID);
        ck_assert_str_eq(err, "client facts: unsupported format version");
        free(v);
    }

    /* A list that claims more entries than its cap. */
    mz_wbuf_init(&w);
    mz_wbuf_u32(&w, 0x46435a4du);
    mz_wbuf_u32(&w, 3);
    mz_wbuf_u64(&w, 0);
    mz_wbuf_u64(&w, 0);
    mz_wbuf_u64(&w, 0);
    mz_wbuf_u8(&w, 0);
    mz_wbuf_u32(&w, 1000000);
    v = mz_wbuf_finish(&w, &vlen);
    ck_assert_ptr_null(
        mz_client_facts_load(cat, v, vlen, &status, err, sizeof(err)));
    ck_assert_str_eq(err, "client facts: list longer than its cap");
    free(v);
    free(bytes);
    mz_client_facts_free(f);
    mz_catalog_free(cat);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_facts_io");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_replay_is_deterministic_and_round_trips);
    tcase_add_test(tc, test_load_maps_ids_onto_another_catalog);
    tcase_add_test(tc, test_load_rejects_garbage_safely);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
