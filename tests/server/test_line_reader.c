/*-------------------------------------------------------------------------
 * test_line_reader.c
 *    Unit tests of server/line_reader.c: line ends, a last line without
 *    newline, lines at and over the limit across read chunks, NULs, and
 *    the bytes consumed.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/line_reader.h"

/* A reader over len bytes of text (a memory stream the caller closes). */
static struct mz_line_reader *reader_of(const char *text, size_t len,
                                        size_t max, FILE **f)
{
    *f = fmemopen((void *)text, len, "r");
    ck_assert_ptr_nonnull(*f);
    struct mz_line_reader *r = mz_line_reader_open(*f, max);
    ck_assert_ptr_nonnull(r);
    return r;
}

static void next_is(struct mz_line_reader *r, const char *want, bool too_long)
{
    const char *text;
    size_t len;
    bool over;
    ck_assert(mz_line_reader_next(r, &text, &len, &over));
    ck_assert_int_eq(over, too_long);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_str_eq(text, want);
}

static void at_end(struct mz_line_reader *r)
{
    const char *text;
    size_t len;
    bool over;
    ck_assert(!mz_line_reader_next(r, &text, &len, &over));
}

START_TEST(test_lines_with_either_end_and_none_at_the_end)
{
    static const char text[] = "a\nbb\r\n\n\r\nlast";
    FILE *f;
    struct mz_line_reader *r = reader_of(text, sizeof text - 1, 16, &f);
    next_is(r, "a", false);
    next_is(r, "bb", false);
    next_is(r, "", false);
    next_is(r, "", false);
    next_is(r, "last", false);
    at_end(r);
    ck_assert_int_eq(mz_line_reader_bytes(r), (int64_t)sizeof text - 1);
    mz_line_reader_close(r);
    fclose(f);
}
END_TEST

START_TEST(test_the_limit_holds_across_read_chunks)
{
    /* Lines of 100,000 bytes: longer than a read chunk (64 KiB). */
    size_t max = 100000, n = 4 * max + 64;
    char *text = malloc(n);
    size_t at = 0;
    memset(text + at, 'x', max), at += max, text[at++] = '\n';
    memset(text + at, 'y', max), at += max, text[at++] = '\r',
                                            text[at++] = '\n';
    memset(text + at, 'z', max + 1), at += max + 1, text[at++] = '\n';
    memcpy(text + at, "ok\n", 3), at += 3;
    memset(text + at, 'w', max + 1), at += max + 1;
    FILE *f;
    struct mz_line_reader *r = reader_of(text, at, max, &f);
    const char *line;
    size_t len;
    bool over;
    ck_assert(mz_line_reader_next(r, &line, &len, &over));
    ck_assert(!over && len == max && line[0] == 'x' && line[max - 1] == 'x');
    ck_assert(mz_line_reader_next(r, &line, &len, &over));
    ck_assert(!over && len == max && line[max - 1] == 'y');
    next_is(r, "", true);
    next_is(r, "ok", false);
    next_is(r, "", true);
    at_end(r);
    ck_assert_int_eq(mz_line_reader_bytes(r), (int64_t)at);
    mz_line_reader_close(r);
    fclose(f);
    free(text);
}
END_TEST

START_TEST(test_a_nul_stays_in_the_line)
{
    static const char text[] = "a\0b\nc";
    FILE *f;
    struct mz_line_reader *r = reader_of(text, sizeof text - 1, 16, &f);
    const char *line;
    size_t len;
    bool over;
    ck_assert(mz_line_reader_next(r, &line, &len, &over));
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(line, "a\0b", 3) == 0);
    next_is(r, "c", false);
    at_end(r);
    mz_line_reader_close(r);
    fclose(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("line_reader");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_lines_with_either_end_and_none_at_the_end);
    tcase_add_test(tc, test_the_limit_holds_across_read_chunks);
    tcase_add_test(tc, test_a_nul_stays_in_the_line);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
