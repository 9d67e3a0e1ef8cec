/*-------------------------------------------------------------------------
 * log.h
 *    The one logger of Maison: one JSON object per line on stderr, for
 *    every layer (model/ is the bottom library, so server/, api/ and
 *    store/ all link it).
 *
 * A line is
 *    {"ts":"2026-11-23T10:00:00.123Z","level":"info","msg":"...",<fields>}
 * ts is the wall clock in UTC with milliseconds; level is "debug",
 * "info", "warning" or "error"; msg is a fixed sentence (put what varies
 * in fields, so lines can be grouped by msg); fields follow in the order
 * they were added.
 *
 * Building a line:
 *
 *    struct mz_log_line l;
 *    mz_log_begin(&l, MZ_LOG_ERROR, "client record unreadable");
 *    mz_log_str(&l, "reason", why);
 *    mz_log_int(&l, "status", 503);
 *    mz_log_double(&l, "duration_ms", 1.25);
 *    mz_log_end(&l);
 *
 * or, for the common shapes, mz_log_msg(MZ_LOG_INFO, "stopped") and
 * mz_log_reason(MZ_LOG_WARNING, "checkpoint refused", why).
 *
 * Guarantees:
 * - A line is built in the struct (on the caller's stack: no allocation,
 *   no lock) and written by mz_log_end with one write(2), or, in the
 *   server, copied into the writer thread's ring, which is written in
 *   whole lines of at most PIPE_BUF bytes per write(2); so lines of
 *   concurrent threads never interleave (a line is at most
 *   MZ_LOG_LINE_MAX bytes, which is PIPE_BUF on Linux: a write to a pipe
 *   of that size is atomic).
 * - Every line is valid JSON whatever the strings hold: '"', '\\' and
 *   control characters (and DEL) are escaped (\u00XX), valid UTF-8 is
 *   kept as is, and each byte that is not part of a valid UTF-8 sequence
 *   becomes \ufffd (so a hostile path or id cannot break a line or
 *   smuggle a second one).
 * - A string value is cut after MZ_LOG_VALUE_MAX bytes of output, at a
 *   character boundary, and a field that does not fit in the line any
 *   more is dropped; either way the line ends with "truncated":true.
 * - Nothing here fails visibly: if stderr is gone the line is lost.
 *
 * Secrets: never pass a connection string, URL or anything that may hold
 * a password; log what it names instead (store/pg.c scrubs libpq's own
 * messages, which may echo a conninfo).
 *
 * Ownership: every string is borrowed for the duration of the call.
 *
 * Interface routines:
 *    mz_log_begin / mz_log_end  - start, write one line
 *    mz_log_str / _int / _double / _bool - typed fields
 *    mz_log_msg                 - a line with no fields
 *    mz_log_reason              - a line with one "reason" field
 *    mz_log_set_fd              - where lines go (stderr; tests capture)
 *    mz_log_start_writer / _stop_writer - lines off the caller's thread
 *    mz_log_lines_dropped       - lines the writer's full ring dropped
 *-------------------------------------------------------------------------
 */
#ifndef MZ_LOG_H
#define MZ_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mz_log_level {
    MZ_LOG_DEBUG,   /* "debug" */
    MZ_LOG_INFO,    /* "info": life-cycle steps, requests */
    MZ_LOG_WARNING, /* "warning": handled, but look at it */
    MZ_LOG_ERROR    /* "error": something failed */
};

/* Bytes of one line, newline included. */
#define MZ_LOG_LINE_MAX 4096
/* Bytes of one string value once escaped, quotes excluded: room for a
 * long path or database message while the other fields still fit. */
#define MZ_LOG_VALUE_MAX 1024

/* One line being built. Declare it on the stack; its fields are private
 * to log.c. */
struct mz_log_line {
    enum mz_log_level level;
    size_t len;     /* bytes used in buf */
    bool truncated; /* a value was cut or a field dropped */
    char buf[MZ_LOG_LINE_MAX];
};

/* Starts a line: ts (now), level and msg (NULL gives ""). */
void mz_log_begin(struct mz_log_line *line, enum mz_log_level level,
                  const char *msg);

/* Add one field each. key is a short constant name in snake_case, not
 * "ts", "level", "msg" or "truncated", and used once per line. */
/* value NULL gives null. */
void mz_log_str(struct mz_log_line *line, const char *key, const char *value);
void mz_log_int(struct mz_log_line *line, const char *key, int64_t value);
/* Up to 15 significant digits; NaN and infinities give null. */
void mz_log_double(struct mz_log_line *line, const char *key, double value);
void mz_log_bool(struct mz_log_line *line, const char *key, bool value);

/* Closes the line and writes it with one write(2), or queues it for the
 * writer thread once mz_log_start_writer ran. The line may then be
 * started again with mz_log_begin. */
void mz_log_end(struct mz_log_line *line);

/* {"ts","level","msg"} alone. */
void mz_log_msg(enum mz_log_level level, const char *msg);
/* {"ts","level","msg","reason"}: msg says what failed, reason why (NULL
 * gives null). */
void mz_log_reason(enum mz_log_level level, const char *msg,
                   const char *reason);

/* Sends lines to fd from now on (STDERR_FILENO until called) and returns
 * the previous one. For tests, which capture lines in a pipe or a file;
 * the server never calls it. Safe to call from any thread. */
int mz_log_set_fd(int fd);

/* From now on lines go through a ring in memory that one thread writes
 * out, so a thread that logs never waits for the disk or a pipe
 * (log_queue.c says what happens when the ring is full). Start it once,
 * with the signals the process waits for blocked; the lines still queued
 * are written at exit (atexit) or by mz_log_stop_writer. Returns false
 * (lines are then written directly) when it could not start. */
bool mz_log_start_writer(void);
void mz_log_stop_writer(void);
/* Debug and info lines dropped because the ring was full, since start. */
uint64_t mz_log_lines_dropped(void);

#endif
