/*-------------------------------------------------------------------------
 * test_json_facts.c
 *    Unit tests of api/json_facts.c: the profile's facts most recent
 *    first, byte for byte, items the catalog no longer has left out.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_facts.h"

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

START_TEST(test_to_json_most_recent_first)
{
    struct mz_catalog *cat = catalog_of(5, false);
    struct mz_client_facts *f = mz_client_facts_new();
    observe(f, MZ_EV_PURCHASE, 1, 1795428000);
    observe(f, MZ_EV_PURCHASE, 2, 1795428060);
    observe(f, MZ_EV_ADD_TO_CART, 3, 1795428120);
    observe(f, MZ_EV_STORE_VISIT, -1, 1795428180);
    json_t *obj = mz_json_write_facts(f, cat);
    ck_assert_ptr_nonnull(obj);
    json_t *p = json_object_get(obj, "purchases");
    ck_assert_uint_eq(json_array_size(p), 2);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(p, 0), "item_id")),
        "sku-2");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(p, 1), "at")),
        "2026-11-23T10:00:00Z");
    ck_assert_int_eq(
        json_integer_value(json_object_get(
            json_array_get(json_object_get(obj, "cart"), 0), "quantity")),
        1);
    ck_assert_uint_eq(json_array_size(json_object_get(obj, "store_visits")), 1);
    json_t *recent = json_object_get(obj, "recent_events");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(recent, 0), "event")),
        "add_to_cart");
    json_decref(obj);
    mz_client_facts_free(f);
    mz_catalog_free(cat);
}
END_TEST

START_TEST(test_facts_written_byte_for_byte)
{
    struct mz_catalog *cat = catalog_of(5, false);
    struct mz_client_facts *f = mz_client_facts_new();
    json_t *obj = mz_json_write_facts(f, cat);
    char *text = json_dumps(obj, JSON_COMPACT);
    ck_assert_str_eq(text, "{\"purchases\":[],\"dismissals\":[],"
                           "\"wishlist\":[],\"cart\":[],\"store_visits\":[],"
                           "\"appointments\":[],\"events_attended\":[],"
                           "\"recent_events\":[]}");
    free(text);
    json_decref(obj);
    observe(f, MZ_EV_WISHLIST, 4, 1795428000);
    observe(f, MZ_EV_DISMISS, 0, 1795428030);
    observe(f, MZ_EV_ADD_TO_CART, 1, 1795428060);
    observe(f, MZ_EV_APPOINTMENT, -1, 1795428090);
    observe(f, MZ_EV_EVENT_ATTENDANCE, -1, 1795428100);
    observe(f, MZ_EV_PURCHASE, 2, 1795428120);
    observe(f, MZ_EV_VIEW, 9, 1795428130); /* not in the catalog */
    obj = mz_json_write_facts(f, cat);
    text = json_dumps(obj, JSON_COMPACT);
    ck_assert_str_eq(
        text,
        "{\"purchases\":[{\"item_id\":\"sku-2\",\"at\":"
        "\"2026-11-23T10:02:00Z\"}],\"dismissals\":[{\"item_id\":\"sku-0\","
        "\"at\":\"2026-11-23T10:00:30Z\"}],\"wishlist\":[{\"item_id\":"
        "\"sku-4\",\"at\":\"2026-11-23T10:00:00Z\"}],\"cart\":[{\"item_id\":"
        "\"sku-1\",\"quantity\":1,\"at\":\"2026-11-23T10:01:00Z\"}],"
        "\"store_visits\":[],\"appointments\":[\"2026-11-23T10:01:30Z\"],"
        "\"events_attended\":[\"2026-11-23T10:01:40Z\"],\"recent_events\":["
        "{\"item_id\":\"sku-2\",\"event\":\"purchase\",\"at\":"
        "\"2026-11-23T10:02:00Z\"},{\"item_id\":\"sku-1\",\"event\":"
        "\"add_to_cart\",\"at\":\"2026-11-23T10:01:00Z\"},{\"item_id\":"
        "\"sku-0\",\"event\":\"dismiss\",\"at\":\"2026-11-23T10:00:30Z\"},"
        "{\"item_id\":\"sku-4\",\"event\":\"wishlist\",\"at\":"
        "\"2026-11-23T10:00:00Z\"}]}");
    free(text);
    json_decref(obj);
    mz_client_facts_free(f);
    mz_catalog_free(cat);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_facts");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_to_json_most_recent_first);
    tcase_add_test(tc, test_facts_written_byte_for_byte);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
