/*-------------------------------------------------------------------------
 * test_hash.c
 *    Unit tests of model/hash.c: FNV-1a 64 test vectors (checkpoints and
 *    the model's token vectors depend on them), and the table: replace,
 *    growth past the load factor, removal in collision runs (backward
 *    shift, wrapping), iteration, clear, pointer values, and agreement
 *    with a brute-force map under random operations.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bytes.h"
#include "model/hash.h"

/* Slots of a new table's first allocation (MIN_SLOTS in hash.c). */
#define FIRST_SLOTS 16

START_TEST(test_hash_fnv1a64_test_vectors)
{
    ck_assert_uint_eq(mz_hash_string(""), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(mz_hash_string("a"), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(mz_hash_string("foobar"), 0x85944171f73967e8ULL);
    ck_assert_uint_eq(mz_hash_string("chongo was here!\n"),
                      0x46810940eff5f915ULL);
    ck_assert_uint_eq(mz_hash_bytes(NULL, 0), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(mz_hash_bytes("a", 1), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(mz_hash_bytes("foobar", 6), 0x85944171f73967e8ULL);
    /* Bytes, not a string: an inner NUL is hashed too. */
    ck_assert_uint_eq(mz_hash_bytes("a\0b", 3), 0xe5d29919042666b2ULL);
}
END_TEST

START_TEST(test_hash_bytes_checksum_is_fnv1a64_of_the_payload)
{
    struct mz_wbuf w;
    size_t len = 0;

    mz_wbuf_init(&w);
    mz_wbuf_raw(&w, "foobar", 6);
    uint8_t *data = mz_wbuf_finish(&w, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(len, 6 + 8);
    uint64_t stored = 0;
    for (int i = 0; i < 8; i++)
        stored |= (uint64_t)data[6 + i] << (8 * i);
    ck_assert_uint_eq(stored, 0x85944171f73967e8ULL);
    free(data);
}
END_TEST

static union mz_hash_value index_value(int32_t index)
{
    return (union mz_hash_value){.index = index};
}

START_TEST(test_hash_table_put_get_and_replace)
{
    struct mz_hash_table *t = mz_hash_table_new();
    union mz_hash_value v;

    ck_assert_ptr_nonnull(t);
    ck_assert(!mz_hash_table_get(t, "a", &v));
    ck_assert(!mz_hash_table_get(t, NULL, &v));
    ck_assert_int_eq(mz_hash_table_get_index(t, "a"), -1);
    ck_assert(!mz_hash_table_remove(t, "a", NULL));

    char key[] = "sku-1";
    const char *stored = mz_hash_table_put(t, key, index_value(7));
    ck_assert_ptr_nonnull(stored);
    ck_assert_ptr_ne(stored, key); /* a copy, owned by t */
    key[0] = 'X';                  /* the caller's buffer */
    ck_assert_str_eq(stored, "sku-1");
    ck_assert_int_eq(mz_hash_table_get_index(t, "sku-1"), 7);
    ck_assert(mz_hash_table_get(t, "sku-1", NULL));
    ck_assert_int_eq(mz_hash_table_get_index(t, "Xku-1"), -1);

    /* Replacing keeps the key's copy and the count. */
    ck_assert_ptr_eq(mz_hash_table_put(t, "sku-1", index_value(9)), stored);
    ck_assert_uint_eq(mz_hash_table_count(t), 1);
    ck_assert_int_eq(mz_hash_table_get_index(t, "sku-1"), 9);

    ck_assert_ptr_nonnull(mz_hash_table_put(t, "", index_value(0)));
    ck_assert_int_eq(mz_hash_table_get_index(t, ""), 0);
    ck_assert_uint_eq(mz_hash_table_count(t), 2);

    ck_assert(mz_hash_table_remove(t, "sku-1", &v));
    ck_assert_int_eq(v.index, 9);
    ck_assert_uint_eq(mz_hash_table_count(t), 1);
    ck_assert_int_eq(mz_hash_table_get_index(t, "sku-1"), -1);
    mz_hash_table_free(t);
    mz_hash_table_free(NULL);
}
END_TEST

START_TEST(test_hash_table_grows_past_load_factor_keeping_keys_in_place)
{
    enum { N = 20000 };
    static const char *stored[N];
    struct mz_hash_table *t = mz_hash_table_new();
    char key[32];

    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "item-%d", i);
        stored[i] = mz_hash_table_put(t, key, index_value(i));
        ck_assert_ptr_nonnull(stored[i]);
        ck_assert_uint_eq(mz_hash_table_count(t), (size_t)i + 1);
    }
    /* Growing moved the slots, not the key copies: users such as the
     * catalog keep pointers to them. */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "item-%d", i);
        ck_assert_str_eq(stored[i], key);
        ck_assert_int_eq(mz_hash_table_get_index(t, key), i);
    }
    ck_assert_int_eq(mz_hash_table_get_index(t, "item-20000"), -1);
    mz_hash_table_free(t);
}
END_TEST

/* Writes into keys[0..n-1] n distinct keys whose home slot in a table
 * of FIRST_SLOTS slots is home. */
static void colliding_keys(size_t home, int n, char keys[][16])
{
    int found = 0;

    for (int i = 0; found < n; i++) {
        snprintf(keys[found], 16, "c%d", i);
        if ((mz_hash_string(keys[found]) & (FIRST_SLOTS - 1)) == home)
            found++;
    }
}

START_TEST(test_hash_table_remove_shifts_back_collision_runs)
{
    /* Seven keys share home slot 13 of a 16-slot table (at most half
     * full, so it does not grow), so their run wraps past the end. */
    enum { RUN = 7 };
    char keys[RUN][16];
    struct mz_hash_table *t = mz_hash_table_new();
    union mz_hash_value v;

    colliding_keys(13, RUN, keys);
    for (int i = 0; i < RUN; i++)
        ck_assert_ptr_nonnull(mz_hash_table_put(t, keys[i], index_value(i)));
    /* Removing from the front, the middle and the end of the run leaves
     * every other key reachable. */
    int order[RUN] = {0, 3, 6, 1, 5, 2, 4};
    for (int r = 0; r < RUN; r++) {
        ck_assert(mz_hash_table_remove(t, keys[order[r]], &v));
        ck_assert_int_eq(v.index, order[r]);
        ck_assert(!mz_hash_table_remove(t, keys[order[r]], NULL));
        for (int s = r + 1; s < RUN; s++)
            ck_assert_int_eq(mz_hash_table_get_index(t, keys[order[s]]),
                             order[s]);
        ck_assert_uint_eq(mz_hash_table_count(t), (size_t)(RUN - 1 - r));
    }

    /* Two runs that meet: keys of home 14 sit behind those of home 13
     * and move back when a home-13 key leaves. */
    char late[3][16];
    colliding_keys(14, 3, late);
    ck_assert_ptr_nonnull(mz_hash_table_put(t, keys[0], index_value(0)));
    ck_assert_ptr_nonnull(mz_hash_table_put(t, keys[1], index_value(1)));
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(
            mz_hash_table_put(t, late[i], index_value(10 + i)));
    ck_assert(mz_hash_table_remove(t, keys[0], NULL));
    ck_assert(mz_hash_table_remove(t, late[1], NULL));
    ck_assert_int_eq(mz_hash_table_get_index(t, keys[1]), 1);
    ck_assert_int_eq(mz_hash_table_get_index(t, late[0]), 10);
    ck_assert_int_eq(mz_hash_table_get_index(t, late[2]), 12);
    ck_assert_int_eq(mz_hash_table_get_index(t, late[1]), -1);
    mz_hash_table_free(t);
}
END_TEST

START_TEST(test_hash_table_iterates_every_key_once)
{
    enum { N = 1000 };
    static int seen[N];
    struct mz_hash_table *t = mz_hash_table_new();
    size_t cursor = 0;
    const char *key;
    union mz_hash_value v;
    char buf[32];

    ck_assert(!mz_hash_table_next(t, &cursor, &key, &v));
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "k%d", i);
        mz_hash_table_put(t, buf, index_value(i));
    }
    for (int i = 0; i < N; i += 3) {
        snprintf(buf, sizeof buf, "k%d", i);
        ck_assert(mz_hash_table_remove(t, buf, NULL));
    }
    memset(seen, 0, sizeof seen);
    cursor = 0;
    size_t visited = 0;
    while (mz_hash_table_next(t, &cursor, &key, &v)) {
        snprintf(buf, sizeof buf, "k%d", v.index);
        ck_assert_str_eq(key, buf);
        seen[v.index]++;
        visited++;
    }
    ck_assert_uint_eq(visited, mz_hash_table_count(t));
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], i % 3 == 0 ? 0 : 1);
    /* The end stays the end. */
    ck_assert(!mz_hash_table_next(t, &cursor, NULL, NULL));
    mz_hash_table_free(t);
}
END_TEST

START_TEST(test_hash_table_clear_keeps_it_usable)
{
    struct mz_hash_table *t = mz_hash_table_new();
    char buf[32];

    mz_hash_table_clear(t);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++) {
            snprintf(buf, sizeof buf, "ev-%d-%d", round, i);
            ck_assert_ptr_nonnull(mz_hash_table_put(t, buf, index_value(i)));
        }
        ck_assert_uint_eq(mz_hash_table_count(t), 100);
        snprintf(buf, sizeof buf, "ev-%d-42", round);
        ck_assert_int_eq(mz_hash_table_get_index(t, buf), 42);
        mz_hash_table_clear(t);
        ck_assert_uint_eq(mz_hash_table_count(t), 0);
        ck_assert_int_eq(mz_hash_table_get_index(t, buf), -1);
    }
    mz_hash_table_free(t);
}
END_TEST

struct entry {
    int id;
};

START_TEST(test_hash_table_pointer_values_stay_the_callers)
{
    struct mz_hash_table *t = mz_hash_table_new();
    union mz_hash_value v;
    char buf[32];

    for (int i = 0; i < 50; i++) {
        struct entry *e = malloc(sizeof *e);
        ck_assert_ptr_nonnull(e);
        e->id = i;
        snprintf(buf, sizeof buf, "client-%d", i);
        ck_assert_ptr_nonnull(
            mz_hash_table_put(t, buf, (union mz_hash_value){.ptr = e}));
    }
    ck_assert(mz_hash_table_get(t, "client-17", &v));
    ck_assert_int_eq(((struct entry *)v.ptr)->id, 17);
    ck_assert(mz_hash_table_remove(t, "client-17", &v));
    free(v.ptr);
    ck_assert(!mz_hash_table_get(t, "client-17", &v));

    /* The owner frees its values by walking the table before freeing it. */
    size_t cursor = 0;
    int freed = 0;
    while (mz_hash_table_next(t, &cursor, NULL, &v)) {
        free(v.ptr);
        freed++;
    }
    ck_assert_int_eq(freed, 49);
    mz_hash_table_free(t);
}
END_TEST

START_TEST(test_hash_table_matches_brute_force_map)
{
    /* Few distinct keys and many operations: runs form, break and form
     * again, the table grows while keys come and go. */
    enum { KEYS = 600, OPS = 60000 };
    static int32_t reference[KEYS]; /* -1: absent */
    struct mz_hash_table *t = mz_hash_table_new();
    uint64_t state = 99u + (uint64_t)_i;
    size_t present = 0;
    char buf[32];

    for (int k = 0; k < KEYS; k++)
        reference[k] = -1;
    for (int op = 0; op < OPS; op++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        int k = (int)((state >> 33) % KEYS);
        int what = (int)((state >> 20) % 3);
        snprintf(buf, sizeof buf, "%d", k);
        if (what == 0) {
            ck_assert_ptr_nonnull(mz_hash_table_put(t, buf, index_value(op)));
            present += reference[k] < 0;
            reference[k] = op;
        } else if (what == 1) {
            union mz_hash_value old;
            bool had = mz_hash_table_remove(t, buf, &old);
            ck_assert_int_eq(had, reference[k] >= 0);
            if (had)
                ck_assert_int_eq(old.index, reference[k]);
            present -= reference[k] >= 0;
            reference[k] = -1;
        } else {
            ck_assert_int_eq(mz_hash_table_get_index(t, buf), reference[k]);
        }
        ck_assert_uint_eq(mz_hash_table_count(t), present);
    }
    for (int k = 0; k < KEYS; k++) {
        snprintf(buf, sizeof buf, "%d", k);
        ck_assert_int_eq(mz_hash_table_get_index(t, buf), reference[k]);
    }
    mz_hash_table_free(t);
}
END_TEST

static Suite *hash_suite(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_hash_fnv1a64_test_vectors);
    tcase_add_test(tc, test_hash_bytes_checksum_is_fnv1a64_of_the_payload);
    tcase_add_test(tc, test_hash_table_put_get_and_replace);
    tcase_add_test(
        tc, test_hash_table_grows_past_load_factor_keeping_keys_in_place);
    tcase_add_test(tc, test_hash_table_remove_shifts_back_collision_runs);
    tcase_add_test(tc, test_hash_table_iterates_every_key_once);
    tcase_add_test(tc, test_hash_table_clear_keeps_it_usable);
    tcase_add_test(tc, test_hash_table_pointer_values_stay_the_callers);
    tcase_add_loop_test(tc, test_hash_table_matches_brute_force_map, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hash_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
