/*-------------------------------------------------------------------------
 * log.c
 *    JSON log lines: a bounded buffer per line, a JSON string escaper
 *    that keeps every line valid whatever bytes it is given, and the
 *    line's way out: the writer thread's ring once the server started it
 *    (log_queue.c), one write(2) per line before that.
 *
 * No JSON library here: model/ is the bottom library and a log line is simple
 * enough to build by hand, without allocating (a line must still get out
 * when memory is short).
 *
 * Interface routines: see log.h.
 *-------------------------------------------------------------------------
 */
#include "model/log.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/log_queue.h"
#include "model/text.h"
#include "model/timefmt.h"

#ifdef PIPE_BUF
_Static_assert(MZ_LOG_LINE_MAX <= PIPE_BUF,
               "a log line must fit one atomic pipe write");
#endif

/* Where lines go. stderr is process-wide already; this only lets a test
 * point it elsewhere, so it is the logger's one piece of state. */
static atomic_int sink_fd = STDERR_FILENO;

/* What mz_log_end may still add: the truncation mark and "}\n". Every
 * field leaves this much room, so a line can always be closed. */
static const char truncated_mark[] = ",\"truncated\":true";
#define TAIL_BYTES (sizeof truncated_mark - 1 + 2)

static const char *const level_names[] = {
    [MZ_LOG_DEBUG] = "debug",
    [MZ_LOG_INFO] = "info",
    [MZ_LOG_WARNING] = "warning",
    [MZ_LOG_ERROR] = "error",
};

static size_t room(const struct mz_log_line *line)
{
    return MZ_LOG_LINE_MAX - TAIL_BYTES - line->len;
}

/* Appends n bytes whole, or nothing (returns false) when they do not
 * fit. */
static bool append_raw(struct mz_log_line *line, const char *s, size_t n)
{
    if (n > room(line))
        return false;
    memcpy(line->buf + line->len, s, n);
    line->len += n;
    return true;
}

/* Length of the valid UTF-8 sequence at s (n bytes readable), or 0 when
 * its first byte does not start one: RFC 3629 table 3.7, so overlong
 * forms, surrogates and code points past U+10FFFF are invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        if (s[0] == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (s[0] == 0xED)
            hi = 0x9F; /* U+D800..U+DFFF, surrogates */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        if (s[0] == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (s[0] == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0; /* continuation byte, C0, C1, F5..FF */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* Appends s escaped as the inside of a JSON string, at most budget
 * bytes, whole characters only. Returns false when s was cut. */
static bool append_escaped(struct mz_log_line *line, const char *s,
                           size_t budget)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    char *out = line->buf + line->len;
    size_t used = 0;

    /* Invariant: out[0..used) is the escaped form of the bytes before p. */
    while (left > 0) {
        char unit[6];
        size_t unit_len = 1, take = 1;

        if (*p == '"' || *p == '\\') {
            unit[0] = '\\';
            unit[1] = (char)*p;
            unit_len = 2;
        } else if (*p < 0x20 || *p == 0x7F) {
            memcpy(unit, "\\u00", 4);
            unit[4] = hex[*p >> 4];
            unit[5] = hex[*p & 0xF];
            unit_len = 6;
        } else if (*p < 0x80) {
            unit[0] = (char)*p;
        } else if ((take = utf8_sequence(p, left)) > 0) {
            memcpy(unit, p, take);
            unit_len = take;
        } else {
            /* One replacement per stray byte: the next byte may start a
             * valid character again. */
            memcpy(unit, "\\ufffd", 6);
            unit_len = 6;
            take = 1;
        }
        if (used + unit_len > budget)
            break;
        memcpy(out + used, unit, unit_len);
        used += unit_len;
        p += take;
        left -= take;
    }
    line->len += used;
    return left == 0;
}

/* Appends ,"key": and returns true, or leaves the line as it was, marks
 * it truncated and returns false. */
static bool begin_field(struct mz_log_line *line, const char *key)
{
    size_t mark = line->len;

    if (append_raw(line, ",\"", 2) && append_escaped(line, key, room(line)) &&
        append_raw(line, "\":", 2))
        return true;
    line->len = mark;
    line->truncated = true;
    return false;
}

/* A field whose value is the literal text (a number, true, null). */
static void add_literal(struct mz_log_line *line, const char *key,
                        const char *text)
{
    size_t mark = line->len;

    if (!begin_field(line, key))
        return;
    if (!append_raw(line, text, strlen(text))) {
        line->len = mark;
        line->truncated = true;
    }
}

void mz_log_begin(struct mz_log_line *line, enum mz_log_level level,
                  const char *msg)
{
    struct timespec now;
    char date[MZ_TIME_RFC3339_BYTES];
    char head[96];

    if ((int)level < MZ_LOG_DEBUG || level > MZ_LOG_ERROR)
        level = MZ_LOG_ERROR;
    clock_gettime(CLOCK_REALTIME, &now);
    mz_time_format_rfc3339((int64_t)now.tv_sec, date);
    /* "YYYY-MM-DDThh:mm:ssZ": the milliseconds go before the Z. */
    date[strlen(date) - 1] = '\0';
    long ms = now.tv_nsec / 1000000L;
    char millis[4] = {(char)('0' + ms / 100), (char)('0' + ms / 10 % 10),
                      (char)('0' + ms % 10), '\0'};
    line->len = 0;
    line->truncated = false;
    line->level = level;
    size_t n = mz_text_join(head, sizeof head, "{\"ts\":\"", date, ".", millis,
                            "Z\",\"level\":\"", level_names[level], "\"",
                            NULL);
    append_raw(line, head, n < sizeof head ? n : 0);
    mz_log_str(line, "msg", msg ? msg : "");
}

void mz_log_str(struct mz_log_line *line, const char *key, const char *value)
{
    size_t mark = line->len;
    size_t budget;

    if (value == NULL) {
        add_literal(line, key, "null");
        return;
    }
    if (!begin_field(line, key))
        return;
    /* The opening quote, and room for the closing one. */
    if (room(line) < 2) {
        line->len = mark;
        line->truncated = true;
        return;
    }
    line->buf[line->len++] = '"';
    budget = room(line) - 1;
    if (budget > MZ_LOG_VALUE_MAX)
        budget = MZ_LOG_VALUE_MAX;
    if (!append_escaped(line, value, budget))
        line->truncated = true;
    line->buf[line->len++] = '"';
}

void mz_log_int(struct mz_log_line *line, const char *key, int64_t value)
{
    char text[MZ_TEXT_INT64_BYTES];

    mz_text_int64(text, value);
    add_literal(line, key, text);
}

void mz_log_double(struct mz_log_line *line, const char *key, double value)
{
    char text[32];

    /* The process never calls setlocale, so the decimal point is '.'. */
    if (isfinite(value))
        mz_text_real(text, sizeof text, value, 15);
    else
        strcpy(text, "null");
    add_literal(line, key, text);
}

void mz_log_bool(struct mz_log_line *line, const char *key, bool value)
{
    add_literal(line, key, value ? "true" : "false");
}

/* Writes len bytes to the sink, retrying short writes and EINTR. */
static void write_to_sink(const char *p, size_t left)
{
    int fd = atomic_load(&sink_fd);

    while (left > 0) {
        ssize_t written = write(fd, p, left);

        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            break; /* stderr is gone: nowhere to say so */
        p += written;
        left -= (size_t)written;
    }
}

void mz_log_end(struct mz_log_line *line)
{
    int saved_errno = errno;

    /* TAIL_BYTES were kept free for exactly this. */
    if (line->truncated) {
        memcpy(line->buf + line->len, truncated_mark,
               sizeof truncated_mark - 1);
        line->len += sizeof truncated_mark - 1;
    }
    memcpy(line->buf + line->len, "}\n", 2);
    line->len += 2;
    if (!mz_log_queue_put(line->buf, line->len, line->level >= MZ_LOG_WARNING))
        write_to_sink(line->buf, line->len);
    line->len = 0;
    line->truncated = false;
    /* A caller may log between a failing call and reading errno. */
    errno = saved_errno;
}

void mz_log_msg(enum mz_log_level level, const char *msg)
{
    struct mz_log_line line;

    mz_log_begin(&line, level, msg);
    mz_log_end(&line);
}

void mz_log_reason(enum mz_log_level level, const char *msg, const char *reason)
{
    struct mz_log_line line;

    mz_log_begin(&line, level, msg);
    mz_log_str(&line, "reason", reason);
    mz_log_end(&line);
}

int mz_log_set_fd(int fd)
{
    return atomic_exchange(&sink_fd, fd);
}

static void report_dropped(uint64_t total)
{
    struct mz_log_line line;

    mz_log_begin(&line, MZ_LOG_WARNING,
                 "log lines dropped: the log's writer fell behind");
    mz_log_int(&line, "dropped_total", (int64_t)total);
    mz_log_end(&line);
}

bool mz_log_start_writer(void)
{
    if (!mz_log_queue_start(write_to_sink, report_dropped))
        return false;
    atexit(mz_log_stop_writer);
    return true;
}

void mz_log_stop_writer(void)
{
    mz_log_queue_stop();
}

uint64_t mz_log_lines_dropped(void)
{
    return mz_log_queue_dropped();
}
