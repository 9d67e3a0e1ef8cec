/*-------------------------------------------------------------------------
 * test_log.c
 *    Unit tests of model/log.c: the line's shape and field types, JSON
 *    escaping (quotes, control characters, invalid UTF-8), truncation that
 *    keeps the line valid, lines of concurrent threads that never
 *    interleave, and the writer thread (model/log_queue.c): whole lines in
 *    each thread's order, a full ring that drops and counts info lines
 *    but keeps errors. Lines are captured through mz_log_set_fd and checked
 *    both byte for byte and with jansson (which refuses invalid UTF-8).
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/log.h"
#include "model/timefmt.h"

static int capture[2] = {-1, -1};
static int previous_fd = -1;

static void capture_start(void)
{
    ck_assert_int_eq(pipe(capture), 0);
    previous_fd = mz_log_set_fd(capture[1]);
}

/* Everything written since capture_start, NUL-terminated (caller frees).
 * Stops capturing. */
static char *capture_end(size_t *len)
{
    size_t cap = 1 << 16, used = 0;
    char *text = malloc(cap + 1);

    mz_log_set_fd(previous_fd);
    close(capture[1]);
    ck_assert_ptr_nonnull(text);
    for (;;) {
        ssize_t n = read(capture[0], text + used, cap - used);

        if (n <= 0)
            break;
        used += (size_t)n;
        if (used == cap) {
            cap *= 2;
            text = realloc(text, cap + 1);
            ck_assert_ptr_nonnull(text);
        }
    }
    close(capture[0]);
    text[used] = '\0';
    if (len)
        *len = used;
    return text;
}

/* Parses one line (with its newline) as a JSON object; fails the test if
 * it is not one. Caller decrefs. */
static json_t *parse_line(const char *text, size_t len)
{
    json_error_t error;
    json_t *obj;

    ck_assert_msg(len > 0 && text[len - 1] == '\n', "no final newline");
    ck_assert_msg(memchr(text, '\n', len - 1) == NULL, "more than one line");
    obj = json_loadb(text, len - 1, 0, &error);
    ck_assert_msg(obj != NULL, "not JSON (%s): %.*s", error.text, (int)len,
                  text);
    ck_assert(json_is_object(obj));
    return obj;
}

/* The single line logged by one str field of value; its text in *line. */
static json_t *log_one_str(const char *value, char **line)
{
    struct mz_log_line l;
    size_t len;

    capture_start();
    mz_log_begin(&l, MZ_LOG_INFO, "escaping");
    mz_log_str(&l, "v", value);
    mz_log_end(&l);
    *line = capture_end(&len);
    return parse_line(*line, len);
}

START_TEST(test_line_is_ts_level_msg_then_fields_in_order)
{
    struct mz_log_line l;
    size_t len;
    char *text;
    json_t *obj;
    int64_t ts;
    char ts_text[32];

    capture_start();
    mz_log_begin(&l, MZ_LOG_WARNING, "client record unreadable");
    mz_log_str(&l, "reason", "bad bytes");
    mz_log_int(&l, "status", 503);
    mz_log_double(&l, "duration_ms", 1.25);
    mz_log_bool(&l, "retried", true);
    mz_log_str(&l, "missing", NULL);
    mz_log_end(&l);
    text = capture_end(&len);
    obj = parse_line(text, len);

    ck_assert_msg(strncmp(text, "{\"ts\":\"", 7) == 0, "%s", text);
    ck_assert_str_eq(text + 31,
                     "\",\"level\":\"warning\",\"msg\":\"client record "
                     "unreadable\",\"reason\":\"bad bytes\",\"status\":503,"
                     "\"duration_ms\":1.25,\"retried\":true,\"missing\":null}"
                     "\n");
    /* RFC 3339, UTC, milliseconds: 2026-11-23T10:00:00.123Z */
    snprintf(ts_text, sizeof ts_text, "%s",
             json_string_value(json_object_get(obj, "ts")));
    ck_assert_uint_eq(strlen(ts_text), 24);
    ck_assert_int_eq(ts_text[19], '.');
    ck_assert_int_eq(ts_text[23], 'Z');
    ck_assert(mz_time_parse_rfc3339(ts_text, &ts));
    ck_assert_int_le(llabs((long long)(ts - (int64_t)time(NULL))), 5);
    json_decref(obj);
    free(text);
}
END_TEST

START_TEST(test_level_names_and_shortcuts)
{
    size_t len;
    char *text;

    capture_start();
    mz_log_msg(MZ_LOG_DEBUG, "a");
    mz_log_msg(MZ_LOG_INFO, "b");
    mz_log_reason(MZ_LOG_ERROR, "c", "because");
    mz_log_reason(MZ_LOG_WARNING, "d", NULL);
    mz_log_msg(MZ_LOG_INFO, NULL);
    text = capture_end(&len);
    ck_assert_ptr_nonnull(strstr(text, "\"level\":\"debug\",\"msg\":\"a\"}\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"level\":\"info\",\"msg\":\"b\"}\n"));
    ck_assert_ptr_nonnull(strstr(
        text, "\"level\":\"error\",\"msg\":\"c\",\"reason\":\"because\"}\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\"level\":\"warning\",\"msg\":\"d\",\"reason\":null}\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"level\":\"info\",\"msg\":\"\"}\n"));
    free(text);
}
END_TEST

START_TEST(test_numbers_ints_doubles_and_non_finite)
{
    struct mz_log_line l;
    size_t len;
    char *text;
    json_t *obj;

    capture_start();
    mz_log_begin(&l, MZ_LOG_INFO, "numbers");
    mz_log_int(&l, "min", INT64_MIN);
    mz_log_int(&l, "max", INT64_MAX);
    mz_log_double(&l, "third", 1.0 / 3.0);
    mz_log_double(&l, "big", 1e300);
    mz_log_double(&l, "nan", NAN);
    mz_log_double(&l, "inf", -INFINITY);
    mz_log_end(&l);
    text = capture_end(&len);
    obj = parse_line(text, len);
    ck_assert_ptr_nonnull(strstr(text, "\"min\":-9223372036854775808,"
                                       "\"max\":9223372036854775807,"
                                       "\"third\":0.333333333333333,"
                                       "\"big\":1e+300,\"nan\":null,"
                                       "\"inf\":null}"));
    ck_assert(json_is_null(json_object_get(obj, "nan")));
    json_decref(obj);
    free(text);
}
END_TEST

START_TEST(test_quotes_backslashes_and_control_chars_are_escaped)
{
    const char *value = "say \"hi\" \\ \n\r\t\x01\x1f\x7f end";
    char *text;
    json_t *obj = log_one_str(value, &text);

    ck_assert_ptr_nonnull(strstr(text, "\"v\":\"say \\\"hi\\\" \\\\ "
                                       "\\u000a\\u000d\\u0009\\u0001"
                                       "\\u001f\\u007f end\"}\n"));
    ck_assert_str_eq(json_string_value(json_object_get(obj, "v")), value);
    json_decref(obj);
    free(text);
}
END_TEST

START_TEST(test_a_value_cannot_start_a_second_line_or_object)
{
    char *text;
    json_t *obj = log_one_str("x\"}\n{\"level\":\"error\"", &text);

    ck_assert_str_eq(json_string_value(json_object_get(obj, "level")), "info");
    ck_assert_str_eq(json_string_value(json_object_get(obj, "v")),
                     "x\"}\n{\"level\":\"error\"");
    json_decref(obj);
    free(text);
}
END_TEST

START_TEST(test_valid_utf8_is_kept_as_is)
{
    /* 2-, 3- and 4-byte characters, and the edges of the ranges. */
    const char *value = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                        "\xc2\x80 \xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf";
    char *text;
    json_t *obj = log_one_str(value, &text);
    char want[128];

    snprintf(want, sizeof want, "\"v\":\"%s\"}\n", value);
    ck_assert_ptr_nonnull(strstr(text, want));
    ck_assert_str_eq(json_string_value(json_object_get(obj, "v")), value);
    json_decref(obj);
    free(text);
}
END_TEST

START_TEST(test_invalid_utf8_bytes_are_replaced)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"a\xff"
         "b",
         "a\\ufffdb"},                             /* never valid */
        {"\xc3\x28", "\\ufffd("},                  /* bad continuation */
        {"\x80\xbf", "\\ufffd\\ufffd"},            /* lone continuations */
        {"\xc0\xaf", "\\ufffd\\ufffd"},            /* overlong '/' */
        {"\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd"}, /* overlong, 3 bytes */
        {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"}, /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* > U+10FFFF */
        {"\xf8\x88\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd"},
        {"ok\xe2\x82", "ok\\ufffd\\ufffd"}, /* cut at the end */
        {"\xe2\x82\xe2\x82\xac", "\\ufffd\\ufffd\xe2\x82\xac"}, /* then valid */
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text;
        char want[128];
        json_t *obj = log_one_str(cases[i].in, &text);

        snprintf(want, sizeof want, "\"v\":\"%s\"}\n", cases[i].out);
        ck_assert_msg(strstr(text, want) != NULL, "case %zu: %s", i, text);
        json_decref(obj);
        free(text);
    }
}
END_TEST

START_TEST(test_a_long_value_is_cut_at_a_character_boundary)
{
    /* 3000 two-byte characters, then 3000 quotes (two bytes escaped). */
    static const char *const units[] = {"\xc3\xa9", "\""};

    for (size_t u = 0; u < 2; u++) {
        char *value = malloc(3000 * 2 + 1);
        char *text;
        json_t *obj;
        const char *got;
        struct mz_log_line l;
        size_t len;

        ck_assert_ptr_nonnull(value);
        value[0] = '\0';
        for (int i = 0; i < 3000; i++)
            strcat(value, units[u]);
        capture_start();
        mz_log_begin(&l, MZ_LOG_INFO, "long");
        mz_log_str(&l, "v", value);
        mz_log_int(&l, "after", 7);
        mz_log_end(&l);
        text = capture_end(&len);
        obj = parse_line(text, len);
        got = json_string_value(json_object_get(obj, "v"));
        ck_assert_ptr_nonnull(got);
        ck_assert_uint_gt(strlen(got), 0);
        /* Whole characters only, and no more than MZ_LOG_VALUE_MAX bytes
         * once escaped. */
        ck_assert_uint_eq(strlen(got) % strlen(units[u]), 0);
        ck_assert_int_eq(strncmp(got, value, strlen(got)), 0);
        ck_assert_uint_le(strlen(got) * (u == 0 ? 1 : 2), MZ_LOG_VALUE_MAX);
        ck_assert_uint_gt(strlen(got) * (u == 0 ? 1 : 2), MZ_LOG_VALUE_MAX - 2);
        /* The fields after it still fit, and the cut is marked. */
        ck_assert_int_eq(json_integer_value(json_object_get(obj, "after")), 7);
        ck_assert(json_is_true(json_object_get(obj, "truncated")));
        ck_assert_ptr_nonnull(strstr(text, ",\"truncated\":true}\n"));
        json_decref(obj);
        free(text);
        free(value);
    }
}
END_TEST

START_TEST(test_a_full_line_drops_fields_and_stays_json)
{
    char value[MZ_LOG_VALUE_MAX + 1];
    struct mz_log_line l;
    size_t len;
    char *text;
    json_t *obj;
    char key[16];

    memset(value, 'x', MZ_LOG_VALUE_MAX);
    value[MZ_LOG_VALUE_MAX] = '\0';
    capture_start();
    mz_log_begin(&l, MZ_LOG_INFO, "full");
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "f%d", i);
        mz_log_str(&l, key, value);
        mz_log_int(&l, "n", i);
        mz_log_bool(&l, "b", true);
    }
    mz_log_end(&l);
    text = capture_end(&len);
    ck_assert_uint_le(len, MZ_LOG_LINE_MAX);
    obj = parse_line(text, len);
    ck_assert(json_is_true(json_object_get(obj, "truncated")));
    ck_assert_str_eq(json_string_value(json_object_get(obj, "f0")), value);
    ck_assert_ptr_null(json_object_get(obj, "f9"));
    json_decref(obj);
    free(text);
}
END_TEST

START_TEST(test_a_line_that_fits_is_not_marked_truncated)
{
    char *text;
    json_t *obj = log_one_str("short", &text);

    ck_assert_ptr_null(json_object_get(obj, "truncated"));
    json_decref(obj);
    free(text);
}
END_TEST

START_TEST(test_logging_keeps_errno)
{
    errno = ENOENT;
    capture_start();
    mz_log_msg(MZ_LOG_INFO, "errno");
    free(capture_end(NULL));
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* ---- concurrent writers ---------------------------------------------- */

#define WRITERS          8
#define LINES_PER_WRITER 200

struct reader {
    int fd;
    char *text;
    size_t len;
};

static void *read_all(void *arg)
{
    struct reader *r = arg;
    size_t cap = 1 << 20;

    r->text = malloc(cap);
    r->len = 0;
    for (;;) {
        ssize_t n;

        if (r->len == cap) {
            cap *= 2;
            r->text = realloc(r->text, cap);
        }
        n = read(r->fd, r->text + r->len, cap - r->len);
        if (n <= 0)
            break;
        r->len += (size_t)n;
    }
    return NULL;
}

static void *write_lines(void *arg)
{
    char value[3000];
    struct mz_log_line l;

    memset(value, 'a' + (int)(intptr_t)arg, sizeof value - 1);
    value[sizeof value - 1] = '\0';
    for (int i = 0; i < LINES_PER_WRITER; i++) {
        mz_log_begin(&l, MZ_LOG_INFO, "concurrent");
        mz_log_int(&l, "writer", (int64_t)(intptr_t)arg);
        mz_log_str(&l, "a", value);
        mz_log_str(&l, "b", value);
        mz_log_end(&l);
    }
    return NULL;
}

START_TEST(test_lines_of_concurrent_threads_do_not_interleave)
{
    pthread_t writers[WRITERS], reader_thread;
    struct reader reader;
    int lines = 0;

    ck_assert_int_eq(pipe(capture), 0);
    previous_fd = mz_log_set_fd(capture[1]);
    reader.fd = capture[0];
    pthread_create(&reader_thread, NULL, read_all, &reader);
    for (intptr_t t = 0; t < WRITERS; t++)
        pthread_create(&writers[t], NULL, write_lines, (void *)t);
    for (int t = 0; t < WRITERS; t++)
        pthread_join(writers[t], NULL);
    mz_log_set_fd(previous_fd);
    close(capture[1]);
    pthread_join(reader_thread, NULL);
    close(capture[0]);

    for (size_t at = 0; at < reader.len;) {
        char *nl = memchr(reader.text + at, '\n', reader.len - at);
        size_t len;
        json_t *obj;

        ck_assert_ptr_nonnull(nl);
        len = (size_t)(nl - (reader.text + at)) + 1;
        obj = parse_line(reader.text + at, len);
        json_decref(obj);
        lines++;
        at += len;
    }
    ck_assert_int_eq(lines, WRITERS * LINES_PER_WRITER);
    free(reader.text);
}
END_TEST

/* The writer thread (mz_log_start_writer): lines of many threads come
 * out whole, each thread's in its own order, none dropped while the ring
 * has room, and all of them written by mz_log_stop_writer. */
#define QUEUED_WRITERS     8
#define QUEUED_SHORT_LINES 400
#define QUEUED_LONG_EVERY  20 /* a line cut at MZ_LOG_LINE_MAX */

static void *write_numbered_lines(void *arg)
{
    static char value[3000];
    struct mz_log_line l;

    memset(value, 'x', sizeof value - 1);
    for (int i = 0; i < QUEUED_SHORT_LINES; i++) {
        mz_log_begin(&l, MZ_LOG_INFO, "queued");
        mz_log_int(&l, "writer", (int64_t)(intptr_t)arg);
        mz_log_int(&l, "n", i);
        if (i % QUEUED_LONG_EVERY == 0) {
            mz_log_str(&l, "a", value);
            mz_log_str(&l, "b", value);
        }
        mz_log_end(&l);
    }
    return NULL;
}

/* Splits text into lines, checks each is one JSON object, and returns
 * them parsed (caller decrefs the array). */
static json_t *parse_lines(const char *text, size_t len)
{
    json_t *lines = json_array();
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        ck_assert_msg(nl != NULL, "a line without its newline");
        size_t n = (size_t)(nl - (text + at)) + 1;
        json_array_append_new(lines, parse_line(text + at, n));
        at += n;
    }
    return lines;
}

START_TEST(test_writer_thread_writes_every_line_whole_in_order)
{
    pthread_t writers[QUEUED_WRITERS], reader_thread;
    struct reader reader;

    ck_assert_int_eq(pipe(capture), 0);
    previous_fd = mz_log_set_fd(capture[1]);
    reader.fd = capture[0];
    pthread_create(&reader_thread, NULL, read_all, &reader);
    ck_assert(mz_log_start_writer());
    ck_assert(!mz_log_start_writer()); /* once */
    for (intptr_t t = 0; t < QUEUED_WRITERS; t++)
        pthread_create(&writers[t], NULL, write_numbered_lines, (void *)t);
    for (int t = 0; t < QUEUED_WRITERS; t++)
        pthread_join(writers[t], NULL);
    mz_log_stop_writer();
    mz_log_msg(MZ_LOG_INFO, "after the writer"); /* written directly */
    mz_log_set_fd(previous_fd);
    close(capture[1]);
    pthread_join(reader_thread, NULL);
    close(capture[0]);

    json_t *lines = parse_lines(reader.text, reader.len);
    ck_assert_uint_eq(json_array_size(lines),
                      QUEUED_WRITERS * QUEUED_SHORT_LINES + 1);
    int next[QUEUED_WRITERS] = {0};
    size_t i;
    json_t *obj;
    json_array_foreach(lines, i, obj)
    {
        if (i == json_array_size(lines) - 1) {
            ck_assert_str_eq(json_string_value(json_object_get(obj, "msg")),
                             "after the writer");
            break;
        }
        int w = (int)json_integer_value(json_object_get(obj, "writer"));
        ck_assert(w >= 0 && w < QUEUED_WRITERS);
        ck_assert_int_eq(json_integer_value(json_object_get(obj, "n")),
                         next[w]++);
    }
    ck_assert_uint_eq(mz_log_lines_dropped(), 0);
    json_decref(lines);
    free(reader.text);
}
END_TEST

/* A writer that cannot write (a pipe nobody reads) fills the ring: info
 * lines are then dropped and counted, the writer says how many once it
 * caught up, and an error line still comes out. */
START_TEST(test_a_full_ring_drops_info_lines_counts_them_keeps_errors)
{
    pthread_t reader_thread;
    struct reader reader;
    int logged = 0;

    ck_assert_int_eq(pipe(capture), 0);
    previous_fd = mz_log_set_fd(capture[1]);
    ck_assert(mz_log_start_writer());
    /* 1 MiB of ring and 64 KiB of pipe hold about 5,500 of these. */
    while (mz_log_lines_dropped() < 10 && logged < 100000) {
        struct mz_log_line l;
        mz_log_begin(&l, MZ_LOG_INFO, "filling");
        mz_log_int(&l, "n", logged++);
        mz_log_str(&l, "pad",
                   "................................................"
                   "..............................................");
        mz_log_end(&l);
    }
    uint64_t dropped = mz_log_lines_dropped();
    ck_assert_uint_eq(dropped, 10);
    reader.fd = capture[0];
    pthread_create(&reader_thread, NULL, read_all, &reader);
    mz_log_msg(MZ_LOG_ERROR, "kept");
    mz_log_stop_writer();
    mz_log_set_fd(previous_fd);
    close(capture[1]);
    pthread_join(reader_thread, NULL);
    close(capture[0]);

    json_t *lines = parse_lines(reader.text, reader.len);
    int filling = 0, kept = 0, reports = 0;
    size_t i;
    json_t *obj;
    json_array_foreach(lines, i, obj)
    {
        const char *msg = json_string_value(json_object_get(obj, "msg"));
        if (strcmp(msg, "filling") == 0)
            filling++;
        else if (strcmp(msg, "kept") == 0)
            kept++;
        else {
            ck_assert_str_eq(msg,
                             "log lines dropped: the log's writer fell behind");
            ck_assert_int_eq(
                json_integer_value(json_object_get(obj, "dropped_total")),
                (json_int_t)dropped);
            reports++;
        }
    }
    ck_assert_int_eq(filling, logged - (int)dropped);
    ck_assert_int_eq(kept, 1);
    ck_assert_int_eq(reports, 1);
    json_decref(lines);
    free(reader.text);
}
END_TEST

/* Reads from fd until what came ends with a newline or 2 s passed;
 * returns the bytes read (at most size). */
static size_t read_lines_within_two_seconds(int fd, char *buf, size_t size)
{
    size_t got = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    do {
        ssize_t n = read(fd, buf + got, size - got);
        if (n > 0)
            got += (size_t)n;
        else
            usleep(1000);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((got == 0 || buf[got - 1] != '\n') && got < size &&
             now.tv_sec - start.tv_sec < 2);
    fcntl(fd, F_SETFL, flags);
    return got;
}

/* The writer gathers lines before it writes them, but not for long: a
 * line, and a warning after it, reach the log while the server runs, not
 * only when it stops. */
START_TEST(test_the_writer_writes_a_lone_line_soon_without_a_stop)
{
    char buf[4096];

    ck_assert_int_eq(pipe(capture), 0);
    previous_fd = mz_log_set_fd(capture[1]);
    ck_assert(mz_log_start_writer());
    usleep(20000); /* the writer waits for a line, then gathers */
    mz_log_msg(MZ_LOG_INFO, "alone");
    size_t got = read_lines_within_two_seconds(capture[0], buf, sizeof buf);
    ck_assert_msg(got > 0 && memchr(buf, '\n', got) == buf + got - 1,
                  "one whole line within 2 s: %zu bytes", got);
    ck_assert(memmem(buf, got, "\"msg\":\"alone\"", 13) != NULL);
    mz_log_msg(MZ_LOG_WARNING, "warned");
    got = read_lines_within_two_seconds(capture[0], buf, sizeof buf);
    ck_assert_msg(got > 0 && memmem(buf, got, "\"msg\":\"warned\"", 14),
                  "the warning within 2 s: %.*s", (int)got, buf);
    mz_log_stop_writer();
    mz_log_set_fd(previous_fd);
    close(capture[1]);
    close(capture[0]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_line_is_ts_level_msg_then_fields_in_order);
    tcase_add_test(tc, test_level_names_and_shortcuts);
    tcase_add_test(tc, test_numbers_ints_doubles_and_non_finite);
    tcase_add_test(tc, test_quotes_backslashes_and_control_chars_are_escaped);
    tcase_add_test(tc, test_a_value_cannot_start_a_second_line_or_object);
    tcase_add_test(tc, test_valid_utf8_is_kept_as_is);
    tcase_add_test(tc, test_invalid_utf8_bytes_are_replaced);
    tcase_add_test(tc, test_a_long_value_is_cut_at_a_character_boundary);
    tcase_add_test(tc, test_a_full_line_drops_fields_and_stays_json);
    tcase_add_test(tc, test_a_line_that_fits_is_not_marked_truncated);
    tcase_add_test(tc, test_logging_keeps_errno);
    tcase_add_test(tc, test_lines_of_concurrent_threads_do_not_interleave);
    tcase_add_test(tc, test_writer_thread_writes_every_line_whole_in_order);
    tcase_add_test(tc, test_the_writer_writes_a_lone_line_soon_without_a_stop);
    tcase_add_test(tc,
                   test_a_full_ring_drops_info_lines_counts_them_keeps_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
