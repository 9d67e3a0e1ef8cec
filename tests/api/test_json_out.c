/*-------------------------------------------------------------------------
 * test_json_out.c
 *    Unit tests of api/json_out.c: the text is what jansson's json_dumps
 *    writes for the same value (commas, nesting, string escapes, reals
 *    with 9 digits), invalid UTF-8 becomes U+FFFD, and a failure or an
 *    unclosed container gives no text.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_out.h"

/* The text of out (finished; caller frees), checked to be non-NULL. */
static char *finish(struct mz_json_out *out)
{
    size_t len;
    char *text = mz_json_out_finish(out, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    return text;
}

/* What jansson writes for value (taken), as the API dumps replies. */
static char *jansson_text(json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY |
                                       JSON_REAL_PRECISION(9));
    json_decref(value);
    ck_assert_ptr_nonnull(text);
    return text;
}

START_TEST(test_nesting_and_commas_match_jansson)
{
    struct mz_json_out out;
    mz_json_out_init(&out);
    mz_json_out_open(&out, '{');
    mz_json_out_key(&out, "a");
    mz_json_out_int(&out, -7);
    mz_json_out_key(&out, "b");
    mz_json_out_open(&out, '[');
    mz_json_out_bool(&out, true);
    mz_json_out_null(&out);
    mz_json_out_open(&out, '{');
    mz_json_out_close(&out, '}');
    mz_json_out_open(&out, '[');
    mz_json_out_close(&out, ']');
    mz_json_out_string(&out, "x");
    mz_json_out_close(&out, ']');
    mz_json_out_key(&out, "c");
    mz_json_out_bool(&out, false);
    json_t *doc = json_loads("{\"v\":[1,2.5]}", 0, NULL);
    json_t *inner = json_object_get(doc, "v");
    mz_json_out_key(&out, "d");
    mz_json_out_value(&out, inner);
    mz_json_out_close(&out, '}');
    char *text = finish(&out);
    ck_assert_str_eq(
        text, "{\"a\":-7,\"b\":[true,null,{},[],\"x\"],\"c\":false,\"d\":"
              "[1,2.5]}");
    free(text);
    json_decref(doc);
}
END_TEST

START_TEST(test_strings_escape_as_jansson_does)
{
    const char *samples[] = {
        "plain",
        "quote \" backslash \\ slash /",
        "\n\r\t\b\f\x01\x1f\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x91\x9c",
        "",
    };
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        struct mz_json_out out;
        mz_json_out_init(&out);
        mz_json_out_string(&out, samples[i]);
        char *ours = finish(&out);
        char *theirs = jansson_text(json_string(samples[i]));
        ck_assert_str_eq(ours, theirs);
        free(ours);
        free(theirs);
    }
}
END_TEST

START_TEST(test_invalid_utf8_becomes_replacement_characters)
{
    struct mz_json_out out;
    mz_json_out_init(&out);
    /* A lone continuation byte, a cut sequence, an overlong '/', a
     * surrogate. */
    mz_json_out_string(&out, "a\x80"
                             "b\xe2\x82"
                             "c\xc0\xaf"
                             "d\xed\xa0\x80");
    char *text = finish(&out);
    json_t *back = json_loads(text, JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(json_string_value(back),
                     "a\xef\xbf\xbd"
                     "b\xef\xbf\xbd\xef\xbf\xbd"
                     "c\xef\xbf\xbd\xef\xbf\xbd"
                     "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(back);
    free(text);
}
END_TEST

START_TEST(test_reals_match_jansson)
{
    const double samples[] = {0.674326301,
                              0.1,
                              3.0,
                              -2.0,
                              0.0,
                              1e-7,
                              1.5e-300,
                              1e20,
                              123456789.0,
                              1234567890.0,
                              (double)0.454418689f,
                              -0.000123};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        struct mz_json_out out;
        mz_json_out_init(&out);
        mz_json_out_real(&out, samples[i]);
        char *ours = finish(&out);
        char *theirs = jansson_text(json_real(samples[i]));
        ck_assert_str_eq(ours, theirs);
        free(ours);
        free(theirs);
    }
    struct mz_json_out out;
    mz_json_out_init(&out);
    mz_json_out_real(&out, NAN);
    char *text = finish(&out);
    ck_assert_str_eq(text, "0.0");
    free(text);
}
END_TEST

START_TEST(test_failures_give_no_text)
{
    struct mz_json_out out;
    size_t len = 1;
    mz_json_out_init(&out);
    mz_json_out_open(&out, '[');
    ck_assert_ptr_null(mz_json_out_finish(&out, &len)); /* still open */
    ck_assert_uint_eq(len, 0);
    mz_json_out_init(&out);
    ck_assert_ptr_null(mz_json_out_finish(&out, &len)); /* nothing */
    for (int d = 0; d <= MZ_JSON_OUT_MAX_DEPTH; d++)
        mz_json_out_open(&out, '[');
    for (int d = 0; d <= MZ_JSON_OUT_MAX_DEPTH; d++)
        mz_json_out_close(&out, ']');
    ck_assert_ptr_null(mz_json_out_finish(&out, &len)); /* too deep */
    mz_json_out_init(&out);
    mz_json_out_value(&out, NULL);
    ck_assert_ptr_null(mz_json_out_finish(&out, &len));
    mz_json_out_init(&out);
    mz_json_out_close(&out, ']');
    ck_assert_ptr_null(mz_json_out_finish(&out, &len));
}
END_TEST

/* A text longer than the first buffer grows it and stays whole. */
START_TEST(test_long_text_grows)
{
    struct mz_json_out out;
    mz_json_out_init(&out);
    mz_json_out_open(&out, '[');
    for (int i = 0; i < 5000; i++)
        mz_json_out_string(&out, "0123456789");
    mz_json_out_close(&out, ']');
    char *text = finish(&out);
    json_t *back = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(json_array_size(back), 5000);
    json_decref(back);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_out");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_nesting_and_commas_match_jansson);
    tcase_add_test(tc, test_strings_escape_as_jansson_does);
    tcase_add_test(tc, test_invalid_utf8_becomes_replacement_characters);
    tcase_add_test(tc, test_reals_match_jansson);
    tcase_add_test(tc, test_failures_give_no_text);
    tcase_add_test(tc, test_long_text_grows);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
