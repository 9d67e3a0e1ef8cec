/*-------------------------------------------------------------------------
 * pg.c
 *    libpq helpers shared by store/: connections that remember what was
 *    prepared on them, failure classification, the transaction helper
 *    that retries serialization failures, binary array parameters.
 *
 * Interface routines: see pg.h.
 *-------------------------------------------------------------------------
 */
#include "store/pg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/log.h"

/* A serialization failure means another transaction won a race; running
 * again almost always succeeds, but a livelock must not hang a request. */
#define MZ_PG_TX_MAX_ATTEMPTS 8

/* ---- passwords out of error messages ----------------------------------
 * libpq's message for a conninfo it cannot parse may quote it whole
 * ('... in URI: "postgresql://maison:secret@[::1"') or quote the token
 * that failed (a password with a bad %-escape), and these messages reach
 * the log. So every spelling of the password found in the conninfo is
 * replaced in the message before anyone sees it. */

#define MZ_PG_MAX_SECRETS 4
#define MZ_PG_SECRET_MASK "***"

struct secrets {
    const char *text[MZ_PG_MAX_SECRETS]; /* borrowed, not NUL-ended */
    size_t len[MZ_PG_MAX_SECRETS];
    int n;
};

static void add_secret(struct secrets *s, const char *text, size_t len)
{
    if (len > 0 && s->n < MZ_PG_MAX_SECRETS) {
        s->text[s->n] = text;
        s->len[s->n] = len;
        s->n++;
    }
}

/* The password as written in a URI: "scheme://user:PASSWORD@..." (libpq
 * looks for the '@' before the first '/') and "?password=PASSWORD&...". */
static void uri_passwords(const char *rest, struct secrets *s)
{
    size_t auth = strcspn(rest, "@/");
    const char *query = strchr(rest, '?');

    if (rest[auth] == '@') {
        const char *colon = memchr(rest, ':', auth);

        if (colon != NULL)
            add_secret(s, colon + 1, (size_t)(rest + auth - colon - 1));
    }
    while (query != NULL) {
        size_t n;

        query++;
        n = strcspn(query, "&");
        if (n > 9 && strncmp(query, "password=", 9) == 0)
            add_secret(s, query + 9, n - 9);
        query = query[n] ? query + n : NULL;
    }
}

/* The password as written in "key=value key='value'" form, read the way
 * libpq tokenises it; stops at the first malformed token. */
static void keyword_passwords(const char *p, struct secrets *s)
{
    while (*p) {
        const char *key, *value;
        size_t key_len;

        while (isspace((unsigned char)*p))
            p++;
        key = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        key_len = (size_t)(p - key);
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=')
            return;
        p++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\'') {
            value = ++p;
            while (*p && *p != '\'') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
        } else {
            value = p;
            while (*p && !isspace((unsigned char)*p)) {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
        }
        if (key_len == 8 && strncmp(key, "password", 8) == 0)
            add_secret(s, value, (size_t)(p - value));
        if (*p == '\'')
            p++;
    }
}

/* Replaces every occurrence of secret in text (a buffer of size bytes,
 * NUL-terminated) with the mask, cutting the result to fit. */
static void mask_secret(char *text, size_t size, const char *secret,
                        size_t secret_len)
{
    char *out = size > 0 ? malloc(size) : NULL;
    size_t used = 0;
    const char *p = text;

    if (size == 0)
        return;
    if (out == NULL) {
        /* Cannot rewrite it: better no message than a password. */
        snprintf(text, size, "(connection error withheld: out of memory)");
        return;
    }
    while (*p && used + 1 < size) {
        if (strncmp(p, secret, secret_len) == 0) {
            size_t n = sizeof MZ_PG_SECRET_MASK - 1;

            if (used + n + 1 > size)
                break;
            memcpy(out + used, MZ_PG_SECRET_MASK, n);
            used += n;
            p += secret_len;
        } else {
            out[used++] = *p++;
        }
    }
    out[used] = '\0';
    memcpy(text, out, used + 1);
    free(out);
}

/* Masks in text every spelling of the password conninfo holds: as
 * written (a URI's %-escapes included) and as libpq decodes it. */
static void scrub_passwords(char *text, size_t size, const char *conninfo)
{
    struct secrets s = {.n = 0};
    PQconninfoOption *options = NULL;

    if (strncmp(conninfo, "postgresql://", 13) == 0)
        uri_passwords(conninfo + 13, &s);
    else if (strncmp(conninfo, "postgres://", 11) == 0)
        uri_passwords(conninfo + 11, &s);
    else
        keyword_passwords(conninfo, &s);
    options = PQconninfoParse(conninfo, NULL);
    for (PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            add_secret(&s, o->val, strlen(o->val));
    for (int i = 0; i < s.n; i++)
        mask_secret(text, size, s.text[i], s.len[i]);
    PQconninfoFree(options);
}

/* libpq's notice processor: the server's warnings (a restart sends
 * "terminating connection due to immediate shutdown command" to every
 * client) as log lines, not plain text between them. */
static void log_notice(void *arg, const char *message)
{
    struct mz_log_line line;
    size_t len = strlen(message);

    (void)arg;
    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' '))
        len--;
    mz_log_begin(&line, MZ_LOG_WARNING, "PostgreSQL notice");
    {
        char text[512];

        snprintf(text, sizeof text, "%.*s", (int)len, message);
        mz_log_str(&line, "detail", text);
    }
    mz_log_end(&line);
}

enum mz_status mz_pg_connect(struct mz_pg_conn *c, const char *conninfo,
                             char *err, size_t err_len)
{
    /* Keywords after the expanded conninfo would override it; placing the
     * defaults first lets the caller's conninfo win. */
    /* client_min_messages: NOTICEs ("relation already exists") would go
     * to stderr as plain text, between the JSON log lines. */
    const char *const keys[] = {"connect_timeout", "application_name",
                                "options", "dbname", NULL};
    const char *const vals[] = {MZ_PG_CONNECT_TIMEOUT_S, "maisond",
                                "-c client_min_messages=warning", conninfo,
                                NULL};

    mz_pg_conn_reset(c);
    c->conn = PQconnectdbParams(keys, vals, 1);
    if (c->conn == NULL) {
        snprintf(err, err_len, "out of memory connecting to PostgreSQL");
        return MZ_ERR_DB_UNAVAILABLE;
    }
    if (PQstatus(c->conn) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(c->conn);
        size_t len = strlen(msg);

        /* libpq's messages end with a newline; the caller adds context. */
        while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
            len--;
        snprintf(err, err_len, "cannot connect to PostgreSQL: %.*s", (int)len,
                 msg);
        scrub_passwords(err, err_len, conninfo);
        mz_pg_conn_reset(c);
        return MZ_ERR_DB_UNAVAILABLE;
    }
    PQsetNoticeProcessor(c->conn, log_notice, NULL);
    return MZ_OK;
}

void mz_pg_conn_reset(struct mz_pg_conn *c)
{
    if (c->conn != NULL)
        PQfinish(c->conn);
    c->conn = NULL;
    c->prepared = 0;
    c->sqlstate[0] = '\0';
    c->lost = false;
    c->maybe_committed = false;
}

bool mz_pg_conn_ok(const struct mz_pg_conn *c)
{
    return c->conn != NULL && !c->lost && PQstatus(c->conn) == CONNECTION_OK;
}

bool mz_pg_conn_alive(struct mz_pg_conn *c)
{
    struct pollfd p;

    if (!mz_pg_conn_ok(c))
        return false;
    p.fd = PQsocket(c->conn);
    p.events = POLLIN;
    p.revents = 0;
    /* An idle connection has nothing to read unless the server spoke:
     * then read it, and libpq finds out whether the stream ended. */
    if (p.fd < 0 ||
        (poll(&p, 1, 0) > 0 &&
         (PQconsumeInput(c->conn) == 0 || PQstatus(c->conn) != CONNECTION_OK)))
        c->lost = true;
    return !c->lost;
}

enum mz_status mz_pg_failure(struct mz_pg_conn *c, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    const char *msg = res       ? PQresultErrorMessage(res)
                      : c->conn ? PQerrorMessage(c->conn)
                                : "";
    size_t len = strlen(msg);

    while (len > 0 && msg[len - 1] == '\n')
        len--;
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    snprintf(c->message, sizeof c->message, "%.*s", (int)len, msg);
    /* Every error the server sends has a SQLSTATE; one without comes from
     * libpq itself, which here means the connection broke. libpq 15 may
     * still call such a connection good: when the server is gone before
     * a statement is written (an immediate shutdown), the write fails,
     * the result says "server closed the connection unexpectedly" and
     * PQstatus stays CONNECTION_OK. Class 08 is a connection exception;
     * 57P01..57P03 are the server shutting down or starting up. */
    if (c->conn == NULL || PQstatus(c->conn) == CONNECTION_BAD ||
        c->sqlstate[0] == '\0' || strncmp(c->sqlstate, "08", 2) == 0 ||
        strncmp(c->sqlstate, "57P0", 4) == 0) {
        c->lost = true;
        return MZ_ERR_DB_UNAVAILABLE;
    }
    /* 53300 is "too many connections": try again later, not "your request
     * is wrong". */
    if (strcmp(c->sqlstate, "53300") == 0)
        return MZ_ERR_DB_UNAVAILABLE;
    /* Class 22 is a data exception: the input (say, a document that is
     * not JSON) is wrong, not the database. */
    if (strncmp(c->sqlstate, "22", 2) == 0)
        return MZ_ERR_INVALID;
    /* Serialization failures and deadlocks are retried by
     * mz_pg_transaction; not worth a line in the log each time. */
    if (strcmp(c->sqlstate, "40001") == 0 || strcmp(c->sqlstate, "40P01") == 0)
        return MZ_ERR_DB;
    {
        struct mz_log_line line;

        mz_log_begin(&line, MZ_LOG_ERROR, "PostgreSQL error");
        mz_log_str(&line, "sqlstate", c->sqlstate);
        mz_log_str(&line, "reason", c->message);
        mz_log_end(&line);
    }
    return MZ_ERR_DB;
}

static bool result_ok(const PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* After a statement failed with st: when the connection broke while a
 * statement that commits on its own (autocommit) was on the wire, the
 * server may have run and committed it. */
static void note_unknown_outcome(struct mz_pg_conn *c, enum mz_status st,
                                 bool autocommit)
{
    if (st == MZ_ERR_DB_UNAVAILABLE && c->lost && autocommit)
        c->maybe_committed = true;
}

/* Prepares stmt on c unless that was done since the last (re)connect. */
static enum mz_status prepare(struct mz_pg_conn *c,
                              const struct mz_pg_stmt *stmt)
{
    uint64_t bit = UINT64_C(1) << stmt->id;
    PGresult *r;
    enum mz_status st;

    if (!mz_pg_conn_ok(c))
        return MZ_ERR_DB_UNAVAILABLE;
    if ((c->prepared & bit) != 0)
        return MZ_OK;
    r = PQprepare(c->conn, stmt->name, stmt->sql, stmt->n_params, NULL);
    if (!result_ok(r)) {
        st = mz_pg_failure(c, r);
        PQclear(r);
        return st;
    }
    PQclear(r);
    c->prepared |= bit;
    return MZ_OK;
}

enum mz_status mz_pg_exec(struct mz_pg_conn *c, const struct mz_pg_stmt *stmt,
                          const char *const *values, const int *lengths,
                          const int *formats, int result_format, PGresult **res)
{
    PGresult *r = NULL;
    enum mz_status st;
    bool autocommit;

    if (res != NULL)
        *res = NULL;
    st = prepare(c, stmt);
    if (st != MZ_OK)
        return st;
    autocommit = PQtransactionStatus(c->conn) == PQTRANS_IDLE;
    r = PQexecPrepared(c->conn, stmt->name, stmt->n_params, values, lengths,
                       formats, result_format);
    if (!result_ok(r)) {
        st = mz_pg_failure(c, r);
        note_unknown_outcome(c, st, autocommit);
        PQclear(r);
        return st;
    }
    c->sqlstate[0] = '\0';
    if (res != NULL)
        *res = r;
    else
        PQclear(r);
    return MZ_OK;
}

enum mz_status mz_pg_stream(struct mz_pg_conn *c, const struct mz_pg_stmt *stmt,
                            const char *const *values, const int *lengths,
                            const int *formats, int result_format,
                            mz_pg_row_fn row, void *ctx)
{
    enum mz_status st = prepare(c, stmt);
    bool stopped = false, autocommit;
    PGresult *r;

    if (st != MZ_OK)
        return st;
    autocommit = PQtransactionStatus(c->conn) == PQTRANS_IDLE;
    if (!PQsendQueryPrepared(c->conn, stmt->name, stmt->n_params, values,
                             lengths, formats, result_format)) {
        st = mz_pg_failure(c, NULL);
        note_unknown_outcome(c, st, autocommit);
        return st;
    }
    PQsetSingleRowMode(c->conn);
    /* Invariant: every result is consumed until PQgetResult returns NULL,
     * so the connection is idle again when we return. */
    while ((r = PQgetResult(c->conn)) != NULL) {
        ExecStatusType rs = PQresultStatus(r);

        if (rs == PGRES_SINGLE_TUPLE) {
            if (!stopped && st == MZ_OK) {
                c->rows_streamed++;
                if (!row(ctx, r)) {
                    PGcancel *cancel = PQgetCancel(c->conn);
                    char buf[256];

                    /* Cancel rather than read a long result to its end. */
                    stopped = true;
                    if (cancel != NULL) {
                        PQcancel(cancel, buf, sizeof buf);
                        PQfreeCancel(cancel);
                    }
                }
            }
        } else if (rs != PGRES_TUPLES_OK && rs != PGRES_COMMAND_OK &&
                   !stopped && st == MZ_OK) {
            st = mz_pg_failure(c, r);
        }
        PQclear(r);
    }
    if (st == MZ_OK && !stopped && PQstatus(c->conn) == CONNECTION_BAD)
        st = mz_pg_failure(c, NULL);
    note_unknown_outcome(c, st, autocommit);
    if (st == MZ_OK && stopped)
        st = MZ_ERR_CONFLICT;
    return st;
}

enum mz_status mz_pg_exec_simple(struct mz_pg_conn *c, const char *sql)
{
    PGresult *r;
    enum mz_status st = MZ_OK;

    bool autocommit;

    if (!mz_pg_conn_ok(c))
        return MZ_ERR_DB_UNAVAILABLE;
    /* BEGIN changes nothing; COMMIT commits whatever the state. */
    autocommit = strncmp(sql, "BEGIN", 5) != 0 &&
                 (strncmp(sql, "COMMIT", 6) == 0 ||
                  PQtransactionStatus(c->conn) == PQTRANS_IDLE);
    r = PQexec(c->conn, sql);
    if (!result_ok(r)) {
        st = mz_pg_failure(c, r);
        note_unknown_outcome(c, st, autocommit);
    } else {
        c->sqlstate[0] = '\0';
    }
    PQclear(r);
    return st;
}

static bool retryable(const char *sqlstate)
{
    /* 40001 serialization_failure, 40P01 deadlock_detected */
    return strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0;
}

enum mz_status mz_pg_transaction(struct mz_pg_conn *c, const char *isolation,
                                 mz_pg_tx_body body, void *ctx)
{
    char begin[96];
    enum mz_status st = MZ_ERR_INTERNAL;

    snprintf(begin, sizeof begin, "BEGIN ISOLATION LEVEL %s", isolation);
    for (int attempt = 0; attempt < MZ_PG_TX_MAX_ATTEMPTS; attempt++) {
        st = mz_pg_exec_simple(c, begin);
        if (st != MZ_OK)
            return st;
        st = body(c, ctx);
        if (st == MZ_OK)
            st = mz_pg_exec_simple(c, "COMMIT");
        if (st == MZ_OK)
            return MZ_OK;
        if (!mz_pg_conn_ok(c))
            return st;
        {
            char failed[6];

            /* ROLLBACK succeeds and would clear the SQLSTATE we need. */
            memcpy(failed, c->sqlstate, sizeof failed);
            mz_pg_exec_simple(c, "ROLLBACK");
            memcpy(c->sqlstate, failed, sizeof failed);
        }
        if (!retryable(c->sqlstate))
            return st;
        {
            /* Back off a little, more each time, with jitter so two
             * retrying transactions stop colliding in lockstep. */
            struct timespec now, pause;

            clock_gettime(CLOCK_MONOTONIC, &now);
            pause.tv_sec = 0;
            pause.tv_nsec =
                (long)(attempt + 1) * 2000000L + (now.tv_nsec % 2000000L);
            nanosleep(&pause, NULL);
        }
    }
    return st;
}

/* ---- binary arrays --------------------------------------------------- */

/* ndim, has-null flag, element type, dimension, lower bound */
#define MZ_PG_ARRAY_HEADER 20

static void put_u32(char *p, uint32_t v)
{
    v = htonl(v);
    memcpy(p, &v, 4);
}

static char *array_reserve(struct mz_pg_array *a, size_t more)
{
    if (a->failed)
        return NULL;
    if (a->len + more > a->cap) {
        size_t cap = a->cap ? a->cap : 1024;
        char *buf;

        while (cap < a->len + more)
            cap *= 2;
        buf = realloc(a->buf, cap);
        if (buf == NULL) {
            a->failed = true;
            return NULL;
        }
        a->buf = buf;
        a->cap = cap;
    }
    return a->buf + a->len;
}

void mz_pg_array_init(struct mz_pg_array *a, uint32_t elem_oid)
{
    memset(a, 0, sizeof *a);
    a->elem_oid = elem_oid;
    if (array_reserve(a, MZ_PG_ARRAY_HEADER) != NULL)
        a->len = MZ_PG_ARRAY_HEADER;
}

void mz_pg_array_add_bytes(struct mz_pg_array *a, const void *bytes, size_t len)
{
    char *p;

    if (len > INT32_MAX) {
        a->failed = true;
        return;
    }
    p = array_reserve(a, 4 + len);
    if (p == NULL)
        return;
    put_u32(p, (uint32_t)len);
    if (len > 0)
        memcpy(p + 4, bytes, len);
    a->len += 4 + len;
    a->n++;
}

static void array_add_null(struct mz_pg_array *a)
{
    char *p = array_reserve(a, 4);

    if (p == NULL)
        return;
    put_u32(p, UINT32_MAX); /* length -1 marks NULL */
    a->len += 4;
    a->n++;
    a->has_null = true;
}

void mz_pg_array_add_text(struct mz_pg_array *a, const char *s)
{
    if (s == NULL)
        array_add_null(a);
    else
        mz_pg_array_add_bytes(a, s, strlen(s));
}

void mz_pg_array_add_int8(struct mz_pg_array *a, int64_t v)
{
    char b[8];
    uint64_t u = (uint64_t)v;

    put_u32(b, (uint32_t)(u >> 32));
    put_u32(b + 4, (uint32_t)u);
    mz_pg_array_add_bytes(a, b, 8);
}

void mz_pg_array_add_int4(struct mz_pg_array *a, int32_t v)
{
    char b[4];

    put_u32(b, (uint32_t)v);
    mz_pg_array_add_bytes(a, b, 4);
}

void mz_pg_array_add_float8(struct mz_pg_array *a, double v)
{
    uint64_t u;

    memcpy(&u, &v, 8);
    mz_pg_array_add_int8(a, (int64_t)u);
}

bool mz_pg_array_finish(struct mz_pg_array *a)
{
    if (a->failed || a->buf == NULL)
        return false;
    put_u32(a->buf, 1);
    put_u32(a->buf + 4, a->has_null ? 1 : 0);
    put_u32(a->buf + 8, a->elem_oid);
    put_u32(a->buf + 12, a->n);
    put_u32(a->buf + 16, 1);
    return true;
}

void mz_pg_array_release(struct mz_pg_array *a)
{
    free(a->buf);
    memset(a, 0, sizeof *a);
}

int64_t mz_pg_get_int8(const char *p)
{
    uint32_t hi, lo;

    memcpy(&hi, p, 4);
    memcpy(&lo, p + 4, 4);
    return (int64_t)(((uint64_t)ntohl(hi) << 32) | ntohl(lo));
}
