/*-------------------------------------------------------------------------
 * test_hash.c
 *    Unit tests of model/hash.c: FNV-1a 64 test vectors (the model's
 *    token vectors depend on them, and records saved before XXH3 carry
 *    it); of model/bytes.c's checksum and bulk floats; and the table: replace,
 *    growth past the load factor, removal in collision runs (backward
 *    shift, wrapping), iteration, clear, pointer values, and agreement
 *    with a brute-force map under random operations.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <math.h>
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

/* The trailing checksum of a record, little-endian. */
static uint64_t stored_checksum(const uint8_t *data, size_t len)
{
    uint64_t stored = 0;
    for (int i = 0; i < 8; i++)
        stored |= (uint64_t)data[len - 8 + i] << (8 * i);
    return stored;
}

static void store_checksum(uint8_t *data, size_t len, uint64_t sum)
{
    for (int i = 0; i < 8; i++)
        data[len - 8 + i] = (uint8_t)(sum >> (8 * i));
}

START_TEST(test_bytes_checksum_is_xxh3_64_of_the_payload)
{
    /* XXH3 64 of no bytes, seed 0 (the reference's test vector). */
    ck_assert_uint_eq(mz_bytes_checksum(NULL, 0), 0x2d06800538d394c2ULL);

    struct mz_wbuf w;
    size_t len = 0;
    mz_wbuf_init(&w);
    mz_wbuf_raw(&w, "foobar", 6);
    uint8_t *data = mz_wbuf_finish(&w, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(len, 6 + 8);
    ck_assert_uint_eq(stored_checksum(data, len),
                      mz_bytes_checksum("foobar", 6));
    ck_assert_uint_ne(stored_checksum(data, len), mz_hash_bytes("foobar", 6));
    free(data);
}
END_TEST

/* Records saved before the switch to XXH3 carry FNV-1a 64 and still
 * load; any other trailer, or a changed payload, is refused. */
START_TEST(test_rbuf_accepts_xxh3_or_the_former_fnv1a64_only)
{
    struct mz_wbuf w;
    struct mz_rbuf r;
    size_t len = 0;
    mz_wbuf_init(&w);
    mz_wbuf_u32(&w, 0x01020304u);
    mz_wbuf_raw(&w, "payload", 7);
    uint8_t *data = mz_wbuf_finish(&w, &len);
    ck_assert_ptr_nonnull(data);
    size_t payload = len - 8;

    ck_assert(mz_rbuf_open(&r, data, len));
    ck_assert_uint_eq(mz_rbuf_u32(&r), 0x01020304u);

    store_checksum(data, len, mz_hash_bytes(data, payload));
    ck_assert(mz_rbuf_open(&r, data, len));
    ck_assert_uint_eq(mz_rbuf_u32(&r), 0x01020304u);

    store_checksum(data, len, mz_hash_bytes(data, payload) + 1);
    ck_assert(!mz_rbuf_open(&r, data, len));
    ck_assert_uint_eq(mz_rbuf_left(&r), 0);

    store_checksum(data, len, mz_bytes_checksum(data, payload));
    data[0] ^= 1;
    ck_assert(!mz_rbuf_open(&r, data, len));
    ck_assert(!mz_rbuf_open(&r, data, 7)); /* shorter than a checksum */
    free(data);
}
END_TEST

/* The bulk float paths against the scalar ones: the same bytes out, the
 * same floats back, and a non-finite or huge value refused. */
START_TEST(test_f32s_encode_like_f32_and_refuse_non_finite)
{
    float v[67];
    for (size_t i = 0; i < 67; i++)
        v[i] = (float)i * -0.37f + 1e-3f;
    struct mz_wbuf bulk, scalar;
    size_t bulk_len = 0, scalar_len = 0;
    mz_wbuf_init(&bulk);
    mz_wbuf_init(&scalar);
    mz_wbuf_u8(&bulk, 7); /* unaligned from here on */
    mz_wbuf_u8(&scalar, 7);
    mz_wbuf_f32s(&bulk, v, 67);
    mz_wbuf_f32s(&bulk, v, 0);
    for (size_t i = 0; i < 67; i++)
        mz_wbuf_f32(&scalar, v[i]);
    uint8_t *a = mz_wbuf_finish(&bulk, &bulk_len);
    uint8_t *b = mz_wbuf_finish(&scalar, &scalar_len);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(bulk_len, 1 + 67 * 4 + 8);
    ck_assert_uint_eq(bulk_len, scalar_len);
    ck_assert_mem_eq(a, b, bulk_len);
    ck_assert_uint_eq(a[1], 0x6f); /* 1e-3f = 0x3a83126f, low byte first */

    struct mz_rbuf r;
    float back[67];
    ck_assert(mz_rbuf_open(&r, a, bulk_len));
    ck_assert_uint_eq(mz_rbuf_u8(&r), 7);
    ck_assert(mz_rbuf_f32s(&r, back, 67));
    ck_assert_mem_eq(back, v, sizeof v);
    ck_assert_uint_eq(mz_rbuf_left(&r), 0);
    ck_assert(!mz_rbuf_f32s(&r, back, 1)); /* past the end */

    v[40] = NAN;
    mz_wbuf_init(&bulk);
    mz_wbuf_f32s(&bulk, v, 67);
    free(a);
    a = mz_wbuf_finish(&bulk, &bulk_len);
    ck_assert(mz_rbuf_open(&r, a, bulk_len));
    ck_assert(!mz_rbuf_f32s(&r, back, 67));
    ck_assert_uint_eq(mz_rbuf_left(&r), 0);
    free(a);
    free(b);
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
    tcase_add_test(tc, test_bytes_checksum_is_xxh3_64_of_the_payload);
    tcase_add_test(tc, test_rbuf_accepts_xxh3_or_the_former_fnv1a64_only);
    tcase_add_test(tc, test_f32s_encode_like_f32_and_refuse_non_finite);
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
