/*-------------------------------------------------------------------------
 * reasons_fixture.c
 *    The reasons tests' shared world; see reasons_fixture.h.
 *-------------------------------------------------------------------------
 */
#include "tests/model/reasons_fixture.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static void add_item(struct reasons_fixture *fx, const char *id,
                     const char *category, int64_t launch_at)
{
    struct mz_item *item = mz_item_new();
    item->item_id = strdup(id);
    item->brand = strdup("maison");
    item->category = strdup(category);
    item->price = 100;
    item->launch_at = launch_at;
    struct mz_string_list tokens = {0};
    ck_assert_int_eq(mz_item_tokens(item, &tokens), MZ_OK);
    int32_t index = mz_catalog_upsert(fx->catalog, item, NULL);
    ck_assert_int_eq(mz_model_add_item(fx->model,
                                       (const char *const *)tokens.items,
                                       tokens.count),
                     index);
    mz_string_list_clear(&tokens);
}

void reasons_fixture_setup(struct reasons_fixture *fx)
{
    struct mz_model_config cfg;
    char err[128];
    mz_model_config_defaults(&cfg);
    fx->catalog = mz_catalog_new();
    fx->model = mz_model_new(&cfg, err, sizeof(err));
    ck_assert_msg(fx->model != NULL, "%s", err);
    add_item(fx, "bag-1", "bags", MZ_TIME_NONE_BEFORE);
    add_item(fx, "bag-2", "bags", MZ_TIME_NONE_BEFORE);
    add_item(fx, "shoe-1", "shoes", REASONS_NOW - 3 * REASONS_DAY);
    add_item(fx, "shoe-2", "shoes", MZ_TIME_NONE_BEFORE);
    fx->client = mz_client_new(fx->model);
    fx->facts = mz_client_facts_new();
}

void reasons_fixture_teardown(struct reasons_fixture *fx)
{
    mz_client_facts_free(fx->facts);
    mz_client_free(fx->client);
    mz_model_free(fx->model);
    mz_catalog_free(fx->catalog);
}

void reasons_fixture_observe(struct reasons_fixture *fx,
                             enum mz_event_type type, int32_t item, int64_t ts)
{
    static int64_t seq;
    struct mz_event_obs ev = {
        .item = item, .type = type, .ts = ts, .seq = ++seq, .quantity = 1};
    mz_model_observe(fx->model, fx->client, &ev, false);
    ck_assert_int_eq(mz_client_facts_observe(fx->facts, &ev), MZ_OK);
}
