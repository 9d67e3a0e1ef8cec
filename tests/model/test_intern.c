/*-------------------------------------------------------------------------
 * test_intern.c
 *    Unit tests of model/intern.c: dense ids in the order first seen,
 *    lookups, names back, and many names.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "model/intern.h"

START_TEST(test_ids_are_dense_and_stable)
{
    struct mz_intern *in = mz_intern_new();
    ck_assert_int_eq(mz_intern_count(in), 0);
    ck_assert_int_eq(mz_intern_find(in, "bags"), -1);
    ck_assert_int_eq(mz_intern_id(in, "bags"), 0);
    ck_assert_int_eq(mz_intern_id(in, "shoes"), 1);
    ck_assert_int_eq(mz_intern_id(in, "bags"), 0);
    ck_assert_int_eq(mz_intern_find(in, "shoes"), 1);
    ck_assert_int_eq(mz_intern_find(in, NULL), -1);
    ck_assert_int_eq(mz_intern_count(in), 2);
    ck_assert_str_eq(mz_intern_name(in, 1), "shoes");
    ck_assert_ptr_null(mz_intern_name(in, 2));
    ck_assert_ptr_null(mz_intern_name(in, -1));
    mz_intern_free(in);
    mz_intern_free(NULL);
}
END_TEST

START_TEST(test_many_names_keep_their_ids_and_names)
{
    struct mz_intern *in = mz_intern_new();
    char name[32];
    const char *first = NULL;
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "name-%d", i);
        ck_assert_int_eq(mz_intern_id(in, name), i);
        if (i == 0)
            first = mz_intern_name(in, 0);
    }
    /* The name of an id stays at one address while the table grows. */
    ck_assert_ptr_eq(mz_intern_name(in, 0), first);
    for (int i = 0; i < 5000; i += 37) {
        snprintf(name, sizeof(name), "name-%d", i);
        ck_assert_int_eq(mz_intern_find(in, name), i);
        ck_assert_str_eq(mz_intern_name(in, i), name);
    }
    mz_intern_free(in);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("intern");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ids_are_dense_and_stable);
    tcase_add_test(tc, test_many_names_keep_their_ids_and_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
