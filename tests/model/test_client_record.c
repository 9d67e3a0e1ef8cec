/*-------------------------------------------------------------------------
 * test_client_record.c
 *    Unit tests of model/client_record.c: a saved record loads back into
 *    the same levels, facts, consent and event count (its re-saved bytes
 *    are identical), and every record that is not one this model wrote --
 *    truncated, of another format version, corrupted, of another model
 *    shape -- is refused with a message, leaving *out zeroed and nothing
 *    allocated (the sanitizer build checks the leaks).
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/client_record.h"
#include "model/bytes.h"
#include "model/hash.h"

enum { N_ITEMS = 40 };

/* Offsets of the record layout (client_record.h): magic u32, version u8,
 * consent u8, events_logged u64, then the levels' u32 length. */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_CONSENT = 5,
    OFF_LEVELS_LEN = 14,
    OFF_LEVELS = 18,
    CHECKSUM_BYTES = 8
};

/* A catalog of n items sku-0..sku-(n-1) and a model of cfg with the same
 * items at the same indices. */
struct fixture {
    struct mz_catalog *catalog;
    struct mz_model *model;
};

static struct fixture fixture_new(const struct mz_model_config *cfg, int n)
{
    struct fixture fx = {mz_catalog_new(), NULL};
    char err[256] = "";

    fx.model = mz_model_new(cfg, err, sizeof err);
    ck_assert_msg(fx.model != NULL, "mz_model_new: %s", err);
    ck_assert_ptr_nonnull(fx.catalog);
    for (int i = 0; i < n; i++) {
        char id[32], brand[32], category[32];
        snprintf(id, sizeof id, "sku-%d", i);
        snprintf(brand, sizeof brand, "b%d", i % 3);
        snprintf(category, sizeof category, "c%d", i % 4);
        struct mz_item *item = mz_item_new();
        ck_assert_ptr_nonnull(item);
        item->item_id = strdup(id);
        item->brand = strdup(brand);
        item->category = strdup(category);
        ck_assert_int_eq(mz_catalog_upsert(fx.catalog, item, NULL), i);
        char brand_token[48], category_token[48];
        snprintf(brand_token, sizeof brand_token, "brand=%s", brand);
        snprintf(category_token, sizeof category_token, "category=%s",
                 category);
        const char *tokens[] = {brand_token, category_token};
        ck_assert_int_eq(mz_model_add_item(fx.model, tokens, 2), i);
    }
    return fx;
}

static struct fixture default_fixture(void)
{
    struct mz_model_config cfg;

    mz_model_config_defaults(&cfg);
    return fixture_new(&cfg, N_ITEMS);
}

static void fixture_free(struct fixture *fx)
{
    mz_model_free(fx->model);
    mz_catalog_free(fx->catalog);
}

/* A client that learned a varied stream: every level consolidated at
 * least once, purchases, a wishlist, a cart, a visit and impressions. */
struct learned_client {
    struct mz_client *memory;
    struct mz_client_facts *facts;
};

static struct learned_client learned_client(const struct fixture *fx)
{
    struct learned_client c = {mz_client_new(fx->model), mz_client_facts_new()};
    static const enum mz_event_type types[] = {
        MZ_EV_VIEW, MZ_EV_CLICK,    MZ_EV_WISHLIST, MZ_EV_ADD_TO_CART,
        MZ_EV_VIEW, MZ_EV_PURCHASE, MZ_EV_DISMISS,  MZ_EV_VIEW,
    };

    ck_assert_ptr_nonnull(c.memory);
    ck_assert_ptr_nonnull(c.facts);
    for (int t = 0; t < 60; t++) {
        struct mz_event_obs ev = {
            .item = (int32_t)((t * 7) % N_ITEMS),
            .type = types[t % 8],
            .ts = 1700000000 + t * 60,
            .seq = t + 1,
            .quantity = 1,
        };
        if (t == 30) {
            ev.item = -1;
            ev.type = MZ_EV_STORE_VISIT;
        }
        mz_model_observe(fx->model, c.memory, &ev, false);
        ck_assert_int_eq(mz_client_facts_observe(c.facts, &ev), MZ_OK);
    }
    int32_t shown[] = {1, 2, 3};
    ck_assert_int_eq(
        mz_client_facts_record_impressions(c.facts, shown, 3, 1700003700),
        MZ_OK);
    return c;
}

static void learned_client_free(struct learned_client *c)
{
    mz_client_free(c->memory);
    mz_client_facts_free(c->facts);
}

/* Rewrites the trailing checksum of bytes[0..len-1] so that only the
 * fields, not the checksum, decide whether the record is accepted. */
static void reseal(uint8_t *bytes, size_t len)
{
    uint64_t sum = mz_bytes_checksum(bytes, len - CHECKSUM_BYTES);

    for (int i = 0; i < CHECKSUM_BYTES; i++)
        bytes[len - CHECKSUM_BYTES + i] = (uint8_t)(sum >> (8 * i));
}

static uint32_t read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Asserts that loading bytes[0..len-1] is refused with a message and
 * leaves *out zeroed (it starts filled with garbage). */
static void assert_refused(const struct fixture *fx, const void *bytes,
                           size_t len, const char *what)
{
    struct mz_client_record out;
    char err[256] = "";

    memset(&out, 0xa5, sizeof out);
    ck_assert_msg(!mz_client_record_load(fx->model, fx->catalog, bytes, len,
                                         &out, err, sizeof err),
                  "%s: accepted", what);
    ck_assert_msg(err[0] != '\0', "%s: refused without a message", what);
    ck_assert_msg(out.memory == NULL && out.facts == NULL && !out.consent &&
                      out.events_logged == 0,
                  "%s: *out not zeroed", what);
}

static void *save(const struct fixture *fx, const struct learned_client *c,
                  bool consent, int64_t events_logged, size_t *len)
{
    void *bytes = mz_client_record_save(c->memory, c->facts, NULL, fx->catalog,
                                        consent, events_logged, len);

    ck_assert_ptr_nonnull(bytes);
    return bytes;
}

START_TEST(test_save_then_load_gives_back_levels_facts_consent_and_count)
{
    struct fixture fx = default_fixture();
    struct learned_client c = learned_client(&fx);
    const int n_levels = mz_model_config_of(fx.model)->n_levels;

    for (int consent = 0; consent <= 1; consent++) {
        int64_t events_logged = consent ? 61 : (int64_t)1 << 40;
        size_t len = 0, len2 = 0;
        void *bytes = save(&fx, &c, consent, events_logged, &len);
        struct mz_client_record out;
        char err[256] = "";

        ck_assert_msg(mz_client_record_load(fx.model, fx.catalog, bytes, len,
                                            &out, err, sizeof err),
                      "load: %s", err);
        ck_assert_int_eq(out.consent, consent);
        ck_assert_int_eq(out.events_logged, events_logged);
        ck_assert_int_eq(mz_client_event_count(out.memory),
                         mz_client_event_count(c.memory));
        ck_assert_int_eq(mz_client_last_seq(out.memory), 60);
        for (int level = 0; level < n_levels; level++) {
            ck_assert_int_gt(mz_client_level_events(c.memory, level), 0);
            ck_assert_int_eq(mz_client_level_events(out.memory, level),
                             mz_client_level_events(c.memory, level));
            ck_assert_int_eq(mz_client_level_consolidated_at(out.memory, level),
                             mz_client_level_consolidated_at(c.memory, level));
        }
        size_t n_a, n_b;
        mz_client_facts_purchases(c.facts, &n_a);
        mz_client_facts_purchases(out.facts, &n_b);
        ck_assert_uint_gt(n_a, 0);
        ck_assert_uint_eq(n_a, n_b);
        mz_client_facts_impressions(out.facts, &n_b);
        ck_assert_uint_eq(n_b, 3);
        ck_assert_int_eq(mz_client_facts_last_seq(out.facts), 60);

        /* The levels score the same ... */
        float a[N_ITEMS], b[N_ITEMS];
        mz_model_score(fx.model, c.memory, -1, 1700004000, a);
        mz_model_score(fx.model, out.memory, -1, 1700004000, b);
        ck_assert_mem_eq(a, b, sizeof a);
        /* ... and the whole record saves to the same bytes. */
        void *again = mz_client_record_save(
            out.memory, out.facts, &out.privates, fx.catalog, out.consent,
            out.events_logged, &len2);
        ck_assert_ptr_nonnull(again);
        ck_assert_uint_eq(len2, len);
        ck_assert_mem_eq(again, bytes, len);
        free(again);
        free(bytes);
        mz_client_free(out.memory);
        mz_client_facts_free(out.facts);
        mz_client_privates_clear(&out.privates);
    }
    learned_client_free(&c);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_empty_client_round_trips)
{
    struct fixture fx = default_fixture();
    struct learned_client c = {mz_client_new(fx.model), mz_client_facts_new()};
    size_t len = 0, len2 = 0;
    void *bytes = save(&fx, &c, true, 0, &len);
    struct mz_client_record out;
    char err[256] = "";

    ck_assert_msg(mz_client_record_load(fx.model, fx.catalog, bytes, len, &out,
                                        err, sizeof err),
                  "load: %s", err);
    ck_assert(out.consent);
    ck_assert_int_eq(out.events_logged, 0);
    ck_assert_int_eq(mz_client_event_count(out.memory), 0);
    void *again = mz_client_record_save(out.memory, out.facts, &out.privates,
                                        fx.catalog, true, 0, &len2);
    ck_assert_uint_eq(len2, len);
    ck_assert_mem_eq(again, bytes, len);
    free(again);
    free(bytes);
    mz_client_free(out.memory);
    mz_client_facts_free(out.facts);
    mz_client_privates_clear(&out.privates);
    learned_client_free(&c);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_truncated_record_is_refused)
{
    struct fixture fx = default_fixture();
    struct learned_client c = learned_client(&fx);
    size_t len = 0;
    uint8_t *bytes = save(&fx, &c, true, 61, &len);
    uint8_t *cut = malloc(len);

    ck_assert_ptr_nonnull(cut);
    assert_refused(&fx, NULL, 0, "NULL");
    /* Every prefix: the checksum no longer matches. */
    for (size_t n = 0; n < len; n++)
        assert_refused(&fx, bytes, n, "prefix");
    /* Every prefix of the fields with a checksum made to match: the
     * lengths inside the record catch it. */
    for (size_t n = 0; n < len - CHECKSUM_BYTES; n++) {
        memcpy(cut, bytes, n);
        reseal(cut, n + CHECKSUM_BYTES);
        assert_refused(&fx, cut, n + CHECKSUM_BYTES, "resealed prefix");
    }
    free(cut);
    free(bytes);
    learned_client_free(&c);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_trailing_bytes_after_the_facts_are_refused)
{
    struct fixture fx = default_fixture();
    struct learned_client c = learned_client(&fx);
    size_t len = 0;
    uint8_t *bytes = save(&fx, &c, true, 61, &len);
    uint8_t *longer = malloc(len + 1);

    ck_assert_ptr_nonnull(longer);
    /* One byte more before the checksum, resealed: only the length of
     * what was read can tell. */
    memcpy(longer, bytes, len - CHECKSUM_BYTES);
    longer[len - CHECKSUM_BYTES] = 0;
    reseal(longer, len + 1);
    assert_refused(&fx, longer, len + 1, "trailing byte");
    free(longer);
    free(bytes);
    learned_client_free(&c);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_wrong_magic_or_version_is_refused)
{
    struct fixture fx = default_fixture();
    struct learned_client c = learned_client(&fx);
    size_t len = 0;
    uint8_t *bytes = save(&fx, &c, true, 61, &len);
    uint8_t *copy = malloc(len);
    char err[256] = "";
    struct mz_client_record out;

    ck_assert_ptr_nonnull(copy);
    ck_assert_mem_eq(bytes + OFF_MAGIC, "ECZM", 4); /* "MZCE" little-endian */
    ck_assert_uint_eq(bytes[OFF_VERSION], 2);
    for (int field = 0; field < 5; field++) {
        memcpy(copy, bytes, len);
        copy[field] ^= 0x20; /* magic bytes 0..3, version byte 4 */
        reseal(copy, len);
        assert_refused(&fx, copy, len, field < 4 ? "magic" : "version");
    }
    /* Neither the next version nor version 1 (no private memories: the
     * start-up replays the log instead) is read as this one. */
    for (int version = 1; version <= 3; version += 2) {
        memcpy(copy, bytes, len);
        copy[OFF_VERSION] = (uint8_t)version;
        reseal(copy, len);
        ck_assert(!mz_client_record_load(fx.model, fx.catalog, copy, len, &out,
                                         err, sizeof err));
        ck_assert_str_eq(err, "not a client record");
    }
    free(copy);
    free(bytes);
    learned_client_free(&c);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_any_flipped_byte_is_refused)
{
    struct fixture fx = default_fixture();
    struct learned_client c = learned_client(&fx);
    size_t len = 0;
    uint8_t *bytes = save(&fx, &c, false, 61, &len);
    uint8_t *copy = malloc(len);

    ck_assert_ptr_nonnull(copy);
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, bytes, len);
        copy[i] ^= 0x01;
        assert_refused(&fx, copy, len, "flipped byte");
    }
    free(copy);
    free(bytes);
    learned_client_free(&c);
    fixture_free(&fx);
}
END_TEST

/* The levels part is valid and loads; the facts part after it is not:
 * the record is refused and the loaded levels are freed (ASan). */
START_TEST(test_corrupt_facts_after_valid_levels_is_refused_without_leak)
{
    struct fixture fx = default_fixture();
    struct learned_client c = learned_client(&fx);
    size_t len = 0;
    uint8_t *bytes = save(&fx, &c, true, 61, &len);
    uint32_t levels_len = read_u32(bytes + OFF_LEVELS_LEN);
    size_t facts_at = OFF_LEVELS + levels_len + 4;

    ck_assert_uint_lt(facts_at, len - CHECKSUM_BYTES);
    bytes[facts_at] ^= 0xff; /* the facts' own magic */
    reseal(bytes, len);
    assert_refused(&fx, bytes, len, "corrupt facts");
    free(bytes);
    learned_client_free(&c);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_record_of_another_model_shape_is_refused)
{
    struct fixture fx = default_fixture();
    struct learned_client c = learned_client(&fx);
    size_t len = 0;
    void *bytes = save(&fx, &c, true, 61, &len);
    struct mz_model_config cfg;

    /* Another number of levels. */
    mz_model_config_defaults(&cfg);
    cfg.n_levels = 2;
    struct fixture fewer_levels = fixture_new(&cfg, N_ITEMS);
    assert_refused(&fewer_levels, bytes, len, "n_levels 2");
    fixture_free(&fewer_levels);
    cfg.n_levels = 4;
    struct fixture more_levels = fixture_new(&cfg, N_ITEMS);
    assert_refused(&more_levels, bytes, len, "n_levels 4");
    fixture_free(&more_levels);

    /* A model that does not have the items the levels name. */
    mz_model_config_defaults(&cfg);
    struct fixture fewer_items = fixture_new(&cfg, N_ITEMS / 4);
    assert_refused(&fewer_items, bytes, len, "fewer items");
    fixture_free(&fewer_items);

    free(bytes);
    learned_client_free(&c);
    fixture_free(&fx);
}
END_TEST

/* A client's levels hold item indices and weights, no vectors (client.c:
 * "one fixed-size allocation, whatever d and L"), so a record does not
 * name the embedding size: a model of another dim reads it as it was. A
 * checkpoint of another dim is refused by its global level instead
 * (mz_model_load), which discards the client records with it. */
START_TEST(test_record_does_not_depend_on_dim)
{
    struct fixture fx = default_fixture();
    struct learned_client c = learned_client(&fx);
    size_t len = 0, len2 = 0;
    void *bytes = save(&fx, &c, true, 61, &len);
    struct mz_model_config cfg;
    struct mz_client_record out;
    char err[256] = "";

    mz_model_config_defaults(&cfg);
    cfg.dim = mz_model_config_of(fx.model)->dim / 2;
    struct fixture other_dim = fixture_new(&cfg, N_ITEMS);
    ck_assert_msg(mz_client_record_load(other_dim.model, other_dim.catalog,
                                        bytes, len, &out, err, sizeof err),
                  "load under dim %d: %s", cfg.dim, err);
    void *again = mz_client_record_save(out.memory, out.facts, &out.privates,
                                        other_dim.catalog, out.consent,
                                        out.events_logged, &len2);
    ck_assert_uint_eq(len2, len);
    ck_assert_mem_eq(again, bytes, len);
    free(again);
    mz_client_free(out.memory);
    mz_client_facts_free(out.facts);
    mz_client_privates_clear(&out.privates);
    fixture_free(&other_dim);
    free(bytes);
    learned_client_free(&c);
    fixture_free(&fx);
}
END_TEST

/* A client with private memories of two brands (model/client_private.h):
 * each comes back under its brand with its own levels and facts (a visit's
 * brand included), and the re-saved bytes are identical. */
START_TEST(test_private_memories_round_trip_under_their_brands)
{
    struct fixture fx = default_fixture();
    struct learned_client c = learned_client(&fx);
    struct mz_client_privates privates = {NULL, 0};
    struct mz_client_private *a =
        mz_client_privates_add(&privates, fx.model, "house-a");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(mz_client_privates_add(&privates, fx.model, "house-a"), a);
    for (int t = 0; t < 20; t++) {
        struct mz_event_obs ev = {.item = (int32_t)(t % 5),
                                  .type = MZ_EV_VIEW,
                                  .ts = 1700000000 + t * 60,
                                  .seq = 100 + t,
                                  .quantity = 1};
        mz_model_observe(fx.model, a->memory, &ev, false);
        ck_assert_int_eq(mz_client_facts_observe(a->facts, &ev), MZ_OK);
    }
    struct mz_event_obs visit = {.item = -1,
                                 .type = MZ_EV_APPOINTMENT,
                                 .ts = 1700009999,
                                 .seq = 200,
                                 .brand = "house-a"};
    ck_assert_int_eq(mz_client_facts_observe(a->facts, &visit), MZ_OK);
    ck_assert_ptr_nonnull(
        mz_client_privates_add(&privates, fx.model, "house-b"));

    size_t len = 0, len2 = 0;
    void *bytes = mz_client_record_save(c.memory, c.facts, &privates,
                                        fx.catalog, true, 81, &len);
    ck_assert_ptr_nonnull(bytes);
    struct mz_client_record out;
    char err[256] = "";
    ck_assert_msg(mz_client_record_load(fx.model, fx.catalog, bytes, len, &out,
                                        err, sizeof err),
                  "%s", err);
    ck_assert_uint_eq(out.privates.count, 2);
    ck_assert_str_eq(out.privates.v[0].brand, "house-a");
    ck_assert_str_eq(out.privates.v[1].brand, "house-b");
    const struct mz_client_private *back =
        mz_client_privates_find(&out.privates, "house-a");
    ck_assert_int_eq(mz_client_event_count(back->memory), 20);
    ck_assert_int_eq(mz_client_event_count(out.privates.v[1].memory), 0);
    size_t n = 0;
    const char *const *brands =
        mz_client_facts_visit_brands(back->facts, MZ_VISIT_APPOINTMENT, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(brands[0], "house-a");
    ck_assert_ptr_null(mz_client_privates_find(&out.privates, "house-c"));
    void *again = mz_client_record_save(out.memory, out.facts, &out.privates,
                                        fx.catalog, true, 81, &len2);
    ck_assert_uint_eq(len2, len);
    ck_assert_mem_eq(again, bytes, len);
    /* A record cut inside the private memories is refused, nothing leaks. */
    assert_refused(&fx, bytes, len - 40, "cut in the private memories");
    free(again);
    free(bytes);
    mz_client_free(out.memory);
    mz_client_facts_free(out.facts);
    mz_client_privates_clear(&out.privates);
    mz_client_privates_clear(&privates);
    learned_client_free(&c);
    fixture_free(&fx);
}
END_TEST

static Suite *client_record_suite(void)
{
    Suite *s = suite_create("client_record");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_test(
        tc, test_save_then_load_gives_back_levels_facts_consent_and_count);
    tcase_add_test(tc, test_empty_client_round_trips);
    tcase_add_test(tc, test_truncated_record_is_refused);
    tcase_add_test(tc, test_trailing_bytes_after_the_facts_are_refused);
    tcase_add_test(tc, test_wrong_magic_or_version_is_refused);
    tcase_add_test(tc, test_any_flipped_byte_is_refused);
    tcase_add_test(
        tc, test_corrupt_facts_after_valid_levels_is_refused_without_leak);
    tcase_add_test(tc, test_record_of_another_model_shape_is_refused);
    tcase_add_test(tc, test_record_does_not_depend_on_dim);
    tcase_add_test(tc, test_private_memories_round_trip_under_their_brands);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(client_record_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
