/*-------------------------------------------------------------------------
 * test_client_table.c
 *    Unit tests of model/client_table.c: lookups, growth, removal with
 *    backward shift, iteration, attributes.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/client_table.h"
#include "model/model.h"

static struct mz_model *model;

static void setup(void)
{
    struct mz_model_config cfg;
    mz_model_config_defaults(&cfg);
    cfg.dim = 8;
    model = mz_model_new(&cfg, NULL, 0);
    ck_assert_ptr_nonnull(model);
}

static void teardown(void)
{
    mz_model_free(model);
}

START_TEST(test_new_client_starts_empty_with_consent)
{
    struct mz_client_table *table = mz_client_table_new(model);
    ck_assert_ptr_null(mz_client_table_get(table, "c1"));
    struct mz_client_entry *entry = mz_client_table_get_or_add(table, "c1");
    ck_assert_ptr_nonnull(entry);
    ck_assert_str_eq(entry->client_id, "c1");
    ck_assert(entry->consent);
    ck_assert(!entry->dirty);
    ck_assert_int_eq(mz_client_event_count(entry->memory), 0);
    ck_assert_ptr_eq(mz_client_table_get_or_add(table, "c1"), entry);
    ck_assert_uint_eq(mz_client_table_count(table), 1);
    mz_client_table_free(table);
}
END_TEST

START_TEST(test_many_clients_survive_growth_and_removal)
{
    enum { N = 5000 };
    struct mz_client_table *table = mz_client_table_new(model);
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "client-%d", i);
        struct mz_client_entry *entry = mz_client_table_get_or_add(table, id);
        ck_assert_ptr_nonnull(entry);
        entry->events_logged = i;
    }
    ck_assert_uint_eq(mz_client_table_count(table), N);
    /* Remove every third client: the others must stay reachable, which
     * exercises the backward shift of probe runs. */
    for (int i = 0; i < N; i += 3) {
        snprintf(id, sizeof id, "client-%d", i);
        ck_assert(mz_client_table_remove(table, id));
        ck_assert(!mz_client_table_remove(table, id));
    }
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "client-%d", i);
        struct mz_client_entry *entry = mz_client_table_get(table, id);
        if (i % 3 == 0) {
            ck_assert_ptr_null(entry);
        } else {
            ck_assert_ptr_nonnull(entry);
            ck_assert_int_eq(entry->events_logged, i);
        }
    }
    size_t seen = 0, cursor = 0;
    while (mz_client_table_next(table, &cursor))
        seen++;
    ck_assert_uint_eq(seen, mz_client_table_count(table));
    ck_assert_uint_eq(seen, N - (N + 2) / 3);
    mz_client_table_free(table);
}
END_TEST

START_TEST(test_attributes_replace_and_clear)
{
    struct mz_client_table *table = mz_client_table_new(model);
    struct mz_client_entry *entry = mz_client_table_get_or_add(table, "vip-1");
    ck_assert(mz_client_entry_set_attributes(entry, "vip", "FR"));
    ck_assert_str_eq(entry->tier, "vip");
    ck_assert_str_eq(entry->region, "FR");
    ck_assert(mz_client_entry_set_attributes(entry, NULL, "JP"));
    ck_assert_ptr_null(entry->tier);
    ck_assert_str_eq(entry->region, "JP");
    mz_client_table_free(table);
}
END_TEST

START_TEST(test_free_accepts_null)
{
    mz_client_table_free(NULL);
}
END_TEST

static Suite *client_table_suite(void)
{
    Suite *s = suite_create("client_table");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_new_client_starts_empty_with_consent);
    tcase_add_test(tc, test_many_clients_survive_growth_and_removal);
    tcase_add_test(tc, test_attributes_replace_and_clear);
    tcase_add_test(tc, test_free_accepts_null);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(client_table_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
