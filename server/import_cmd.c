/*-------------------------------------------------------------------------
 * import_cmd.c
 *    `maisond import --events FILE [--format ndjson|csv]` and
 *    `maisond import --catalog FILE`: a file of any size into a running
 *    maisond, over its HTTP API.
 *
 * Over HTTP rather than into the store directly, so that there is one
 * write path: the server's validation, brand scopes, catalog check,
 * event log and learning, in the order it alone decides (a second
 * writer beside a running server could not learn what it wrote). The
 * file is read line by line in bounded memory (server/line_reader.c).
 *
 * Events go to POST /v1/events:import in requests of at most
 * --lines-per-request lines, each streamed as it is read; CSV rows are
 * turned into the same JSON lines first (server/csv_events.c). A line
 * the command cannot send (over 64 KiB, a CSV row it cannot split) is
 * rejected here and sent as a blank line, so the server's line numbers
 * stay the file's. Items go to PUT /v1/catalog/items in batches of up
 * to 1000; a batch refused (one bad item refuses it whole) is sent again
 * item by item, so each bad line is named.
 *
 * The exit status is 0 when every line was applied (duplicates
 * included), 1 when a line was rejected or a request failed (the
 * settled lines are said, and --skip-lines resumes after them), 2 for a
 * usage error.
 *-------------------------------------------------------------------------
 */
#include "server/import_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/events_import.h"
#include "server/csv_events.h"
#include "server/http_client.h"
#include "server/line_reader.h"
#include "server/progress.h"

#define DEFAULT_URL               "http://127.0.0.1:8080"
#define DEFAULT_LINES_PER_REQUEST 100000
/* Rejected lines printed; all are counted. */
#define SHOWN_REJECTIONS 100
/* PUT /v1/catalog/items: at most 1000 items, a body under 1 MiB. */
#define CATALOG_BATCH_ITEMS 1000
#define CATALOG_BATCH_BYTES (1000 * 1000)
#define MAX_KEY_BYTES       512

struct import_args {
    const char *events, *catalog, *format, *url, *key_file;
    long long skip_lines, lines_per_request;
};

/* What one run has done; line numbers are the file's. */
struct run {
    const char *path;
    struct mz_line_reader *reader; /* owned */
    int64_t line_no;               /* of the last line read */
    struct mz_http_client *http;   /* owned */
    struct mz_progress progress;
    int64_t accepted, duplicates, rejected, shown;
    int64_t done; /* lines settled or sent */
};

static int usage(FILE *out, int status)
{
    fprintf(out,
            "Usage: maisond import --events FILE [--format ndjson|csv]"
            " [SERVER] [--skip-lines N] [--lines-per-request N]\n"
            "       maisond import --catalog FILE [SERVER] [--skip-lines N]\n"
            "SERVER: --url URL (MAISON_URL, default " DEFAULT_URL ")\n"
            "        --key-file FILE (else MAISON_API_KEY): a key with the "
            "ingest or clienteling role (events), merchandising (catalog)\n"
            "FILE: NDJSON, one event (as in POST /v1/events) or item (as in "
            "PUT /v1/catalog/items) a line; or CSV whose header names the "
            "event fields (event_id, client_id, item_id, type, ts, channel, "
            "value, quantity, dwell_ms, brand); - for stdin.\n"
            "Exits 0 when every line was applied, 1 when a line was "
            "rejected or a request failed, 2 on a usage error.\n");
    return status;
}

/* Prints a rejected line (the first SHOWN_REJECTIONS of them). */
static void show_rejection(struct run *r, int64_t line, const char *code,
                           const char *message)
{
    if (r->shown++ >= SHOWN_REJECTIONS)
        return;
    mz_progress_clear(&r->progress);
    fprintf(stderr, "%s:%lld: %s: %s\n", r->path, (long long)line, code,
            message);
}

/* A line rejected here, before any server saw it. */
static void reject_here(struct run *r, const char *code, const char *message)
{
    r->rejected++;
    show_rejection(r, r->line_no, code, message);
}

static bool next_line(struct run *r, const char **text, size_t *len,
                      bool *too_long)
{
    if (!mz_line_reader_next(r->reader, text, len, too_long))
        return false;
    r->line_no++;
    return true;
}

/* The message of an error answer (reply may be NULL). */
static const char *error_message(const json_t *reply)
{
    const char *m = json_string_value(
        json_object_get(json_object_get(reply, "error"), "message"));
    return m ? m : "no JSON error body";
}

static void request_failed(struct run *r, int status, const json_t *reply,
                           const char *err, int64_t settled)
{
    mz_progress_clear(&r->progress);
    if (status < 0)
        fprintf(stderr, "maisond import: %s\n", err);
    else
        fprintf(stderr, "maisond import: HTTP %d: %s\n", status,
                error_message(reply));
    fprintf(stderr,
            "maisond import: lines 1..%lld of %s are settled; resume with "
            "--skip-lines %lld (sending them again is safe too)\n",
            (long long)settled, r->path, (long long)settled);
}

/* ---- events ---------------------------------------------------------- */

/* One request's body, produced line by line as libcurl asks. */
struct events_request {
    struct run *run;
    const struct mz_csv_events *csv; /* NULL: NDJSON */
    int64_t quota, sent;             /* lines */
    bool eof;
    bool read_error;
    const char *text; /* the current line's bytes, then its newline */
    size_t len, off;
    bool newline_due;
    char *owned; /* the CSV row's JSON, owned */
};

/* Reads the next line into rq's current text. Returns false at the end
 * of the file. */
static bool load_line(struct events_request *rq)
{
    struct run *r = rq->run;
    const char *text;
    size_t len;
    bool too_long;
    char why[256];

    free(rq->owned);
    rq->owned = NULL;
    if (!next_line(r, &text, &len, &too_long))
        return false;
    rq->sent++;
    rq->text = text;
    rq->len = len;
    rq->off = 0;
    rq->newline_due = true;
    if (too_long) {
        snprintf(why, sizeof why, "line over %d bytes",
                 MZ_IMPORT_MAX_LINE_BYTES);
        reject_here(r, "payload_too_large", why);
    } else if (rq->csv && len > 0) {
        rq->owned = mz_csv_events_row(rq->csv, text, len, why, sizeof why);
        if (!rq->owned)
            reject_here(r, "invalid_input", why);
        rq->text = rq->owned ? rq->owned : "";
        rq->len = rq->owned ? strlen(rq->owned) : 0;
    }
    if (too_long || (rq->csv && !rq->owned))
        rq->len = 0; /* a blank line keeps the numbering */
    return true;
}

static size_t produce_events(void *ctx, char *buf, size_t cap)
{
    struct events_request *rq = ctx;
    size_t copied = 0;

    while (copied < cap) {
        if (rq->off < rq->len) {
            size_t n = rq->len - rq->off;
            if (n > cap - copied)
                n = cap - copied;
            memcpy(buf + copied, rq->text + rq->off, n);
            rq->off += n;
            copied += n;
            continue;
        }
        if (rq->newline_due) {
            buf[copied++] = '\n';
            rq->newline_due = false;
            continue;
        }
        if (rq->eof || rq->sent >= rq->quota || !load_line(rq)) {
            rq->eof = rq->eof || rq->sent < rq->quota;
            break;
        }
    }
    rq->run->done = rq->run->line_no;
    mz_progress_update(&rq->run->progress, rq->run->done,
                       mz_line_reader_bytes(rq->run->reader));
    return copied;
}

/* Adds a 200 answer of the request whose first line is base. */
static void take_import_reply(struct run *r, const json_t *reply, int64_t base)
{
    const json_t *e;
    size_t i;

    r->accepted += json_integer_value(json_object_get(reply, "accepted"));
    r->duplicates += json_integer_value(json_object_get(reply, "duplicates"));
    r->rejected += json_integer_value(json_object_get(reply, "rejected"));
    json_array_foreach(json_object_get(reply, "rejected_lines"), i, e)
    {
        int64_t line = json_integer_value(json_object_get(e, "line"));
        const json_t *error = json_object_get(e, "error");
        int64_t at = base + line - 1;
        const char *code = json_string_value(json_object_get(error, "code"));
        const char *message =
            json_string_value(json_object_get(error, "message"));

        /* The lines rejected here were sent blank: the server skips
         * them, so it never lists them again. */
        show_rejection(r, at, code ? code : "?", message ? message : "");
    }
}

static bool import_events(struct run *r, const struct import_args *a,
                          struct mz_csv_events *csv)
{
    struct events_request rq = {.run = r, .csv = csv};
    bool ok = true;

    while (ok) {
        int64_t base = r->line_no + 1;
        char err[512];
        json_t *reply = NULL;

        rq.quota = a->lines_per_request;
        rq.sent = 0;
        if (!load_line(&rq))
            break; /* nothing left */
        const struct mz_http_body body = {.content_type =
                                              "application/x-ndjson",
                                          .stream = produce_events,
                                          .ctx = &rq};
        int status = mz_http_client_send(r->http, "POST", "/v1/events:import",
                                         &body, &reply, err, sizeof err);
        if (status == 200) {
            take_import_reply(r, reply, base);
        } else {
            json_t *lines = json_object_get(reply, "lines");
            int64_t settled = base - 1;
            if (json_is_integer(lines)) {
                settled += json_integer_value(lines);
                take_import_reply(r, reply, base);
            }
            request_failed(r, status, reply, err, settled);
            ok = false;
        }
        json_decref(reply);
        if (rq.eof)
            break;
    }
    free(rq.owned);
    return ok;
}

/* ---- catalog --------------------------------------------------------- */

struct catalog_batch {
    json_t *items; /* owned array */
    int64_t lines[CATALOG_BATCH_ITEMS];
    size_t bytes;
    int64_t stored;
};

/* PUTs items; returns the HTTP status (-1: no answer) with *reply. */
static int put_items(struct run *r, json_t *items, json_t **reply, char *err,
                     size_t err_len)
{
    json_t *doc = json_pack("{s:O}", "items", items);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    int status = -1;

    json_decref(doc);
    *reply = NULL;
    if (!text) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    const struct mz_http_body body = {
        .content_type = "application/json", .text = text, .len = strlen(text)};
    status = mz_http_client_send(r->http, "PUT", "/v1/catalog/items", &body,
                                 reply, err, err_len);
    free(text);
    return status;
}

static bool is_refusal(int status)
{
    return status == 400 || status == 403 || status == 413;
}

/* Sends the batch: whole, then item by item when it is refused. Returns
 * false when a request failed (nothing after the batch is sent). */
static bool flush_items(struct run *r, struct catalog_batch *b)
{
    size_t n = json_array_size(b->items);
    char err[512];
    json_t *reply = NULL;
    bool ok = true;

    if (n == 0)
        return true;
    int status = put_items(r, b->items, &reply, err, sizeof err);
    if (status == 200)
        b->stored += (int64_t)n;
    for (size_t i = 0; is_refusal(status) && i < n && ok; i++) {
        json_t *one = json_pack("[O]", json_array_get(b->items, i));
        json_t *why = NULL;
        int s = one ? put_items(r, one, &why, err, sizeof err) : -1;

        json_decref(one);
        if (s == 200) {
            b->stored++;
        } else if (is_refusal(s)) {
            const char *code = json_string_value(
                json_object_get(json_object_get(why, "error"), "code"));
            r->rejected++;
            show_rejection(r, b->lines[i], code ? code : "?",
                           error_message(why));
        } else {
            request_failed(r, s, why, err, b->lines[0] - 1);
            ok = false;
        }
        json_decref(why);
    }
    if (status != 200 && !is_refusal(status)) {
        request_failed(r, status, reply, err, b->lines[0] - 1);
        ok = false;
    }
    json_decref(reply);
    json_array_clear(b->items);
    b->bytes = 0;
    r->done = r->line_no;
    mz_progress_update(&r->progress, b->stored + r->rejected,
                       mz_line_reader_bytes(r->reader));
    return ok;
}

static bool import_catalog(struct run *r, int64_t *stored)
{
    struct catalog_batch *b = calloc(1, sizeof *b);
    const char *text;
    size_t len;
    bool too_long, ok = true;
    char why[256];

    if (!b || !(b->items = json_array())) {
        free(b);
        fprintf(stderr, "maisond import: out of memory\n");
        return false;
    }
    while (ok && next_line(r, &text, &len, &too_long)) {
        if (too_long) {
            snprintf(why, sizeof why, "line over %d bytes",
                     MZ_IMPORT_MAX_LINE_BYTES);
            reject_here(r, "payload_too_large", why);
            continue;
        }
        size_t blank = strspn(text, " \t");
        if (blank == len)
            continue;
        json_error_t jerr;
        json_t *item = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!item || !json_is_object(item)) {
            if (item)
                snprintf(why, sizeof why, "an item must be a JSON object");
            else
                snprintf(why, sizeof why, "malformed JSON at column %d: %s",
                         jerr.column, jerr.text);
            json_decref(item);
            reject_here(r, "invalid_input", why);
            continue;
        }
        if (json_array_size(b->items) == CATALOG_BATCH_ITEMS ||
            b->bytes + len + 16 > CATALOG_BATCH_BYTES)
            ok = flush_items(r, b);
        if (!ok) {
            json_decref(item);
            break;
        }
        b->lines[json_array_size(b->items)] = r->line_no;
        json_array_append_new(b->items, item);
        b->bytes += len + 1;
    }
    if (ok)
        ok = flush_items(r, b);
    *stored = b->stored;
    json_decref(b->items);
    free(b);
    return ok;
}

/* ---- the command ----------------------------------------------------- */

/* Reads the API key: --key-file, else MAISON_API_KEY. Returns false
 * with the reason on stderr. */
static bool read_key(const char *key_file, char *key, size_t cap)
{
    if (!key_file) {
        const char *env = getenv("MAISON_API_KEY");
        if (!env || !env[0] || strlen(env) >= cap) {
            fprintf(stderr, "maisond import: an API key is needed: "
                            "--key-file FILE or MAISON_API_KEY\n");
            return false;
        }
        strcpy(key, env);
        return true;
    }
    FILE *f = fopen(key_file, "r");
    if (!f) {
        fprintf(stderr, "maisond import: cannot read %s: %s\n", key_file,
                strerror(errno));
        return false;
    }
    size_t n = fread(key, 1, cap - 1, f);
    fclose(f);
    key[n] = '\0';
    key[strcspn(key, " \t\r\n")] = '\0';
    if (!key[0]) {
        fprintf(stderr, "maisond import: %s holds no key\n", key_file);
        return false;
    }
    return true;
}

static bool parse_count(const char *text, long long min, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min)
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, struct import_args *a)
{
    static const struct option options[] = {
        {"events", required_argument, NULL, 'e'},
        {"catalog", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"url", required_argument, NULL, 'u'},
        {"key-file", required_argument, NULL, 'k'},
        {"skip-lines", required_argument, NULL, 's'},
        {"lines-per-request", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'e':
            a->events = optarg;
            break;
        case 'c':
            a->catalog = optarg;
            break;
        case 'f':
            a->format = optarg;
            break;
        case 'u':
            a->url = optarg;
            break;
        case 'k':
            a->key_file = optarg;
            break;
        case 's':
            if (!parse_count(optarg, 0, &a->skip_lines))
                return usage(stderr, 2);
            break;
        case 'l':
            if (!parse_count(optarg, 1, &a->lines_per_request) ||
                a->lines_per_request > MZ_IMPORT_MAX_LINES)
                return usage(stderr, 2);
            break;
        case 'h':
            return usage(stdout, 0);
        default:
            return usage(stderr, 2);
        }
    }
    if (optind < argc || (!a->events == !a->catalog) ||
        (a->catalog && a->format) ||
        (a->format && strcmp(a->format, "ndjson") != 0 &&
         strcmp(a->format, "csv") != 0))
        return usage(stderr, 2);
    return -1;
}

/* Opens path ("-": stdin) and its size for the ETA (0: unknown). */
static FILE *open_input(const char *path, int64_t *size)
{
    struct stat st;

    *size = 0;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
        *size = (int64_t)st.st_size;
    return f;
}

int mz_import_command(int argc, char **argv)
{
    struct import_args a = {.lines_per_request = DEFAULT_LINES_PER_REQUEST};
    struct run r = {0};
    struct mz_csv_events *csv = NULL;
    char key[MAX_KEY_BYTES], err[512];
    int64_t size = 0, stored = 0;
    FILE *f = NULL;
    int status = parse_args(argc, argv, &a);

    if (status >= 0)
        return status;
    a.url = a.url ? a.url : getenv("MAISON_URL");
    a.url = a.url && a.url[0] ? a.url : DEFAULT_URL;
    if (!read_key(a.key_file, key, sizeof key))
        return 2;
    r.path = a.events ? a.events : a.catalog;
    status = 1;
    f = open_input(r.path, &size);
    if (!f) {
        fprintf(stderr, "maisond import: cannot open %s: %s\n", r.path,
                strerror(errno));
        goto done;
    }
    r.reader = mz_line_reader_open(f, MZ_IMPORT_MAX_LINE_BYTES);
    r.http = mz_http_client_open(a.url, key, err, sizeof err);
    memset(key, 0, sizeof key);
    if (!r.reader || !r.http) {
        fprintf(stderr, "maisond import: %s\n", r.http ? "out of memory" : err);
        goto done;
    }
    if (a.format && strcmp(a.format, "csv") == 0) {
        const char *header;
        size_t len;
        bool too_long;
        if (!next_line(&r, &header, &len, &too_long) || too_long) {
            fprintf(stderr, "maisond import: %s: no CSV header line\n", r.path);
            goto done;
        }
        csv = mz_csv_events_open(header, len, err, sizeof err);
        if (!csv) {
            fprintf(stderr, "maisond import: %s:1: %s\n", r.path, err);
            goto done;
        }
    }
    while (r.line_no < a.skip_lines) {
        const char *text;
        size_t len;
        bool too_long;
        if (!next_line(&r, &text, &len, &too_long))
            break;
    }
    mz_progress_start(&r.progress, stderr, a.events ? "events" : "items", size);
    bool ok =
        a.events ? import_events(&r, &a, csv) : import_catalog(&r, &stored);
    if (ferror(f)) {
        fprintf(stderr, "maisond import: reading %s failed\n", r.path);
        ok = false;
    }
    mz_progress_end(&r.progress);
    double seconds = mz_progress_now_s() - r.progress.started_s;
    if (a.events)
        printf("%s: %lld lines, %lld accepted, %lld duplicates, %lld "
               "rejected in %.1f s (%.0f events/s)\n",
               r.path, (long long)r.line_no, (long long)r.accepted,
               (long long)r.duplicates, (long long)r.rejected, seconds,
               seconds > 0 ? (double)(r.accepted + r.duplicates) / seconds
                           : 0.0);
    else
        printf("%s: %lld lines, %lld items stored, %lld rejected in %.1f s\n",
               r.path, (long long)r.line_no, (long long)stored,
               (long long)r.rejected, seconds);
    if (r.shown > SHOWN_REJECTIONS)
        fprintf(stderr, "maisond import: %lld more rejected lines not shown\n",
                (long long)(r.shown - SHOWN_REJECTIONS));
    status = ok && r.rejected == 0 ? 0 : 1;
done:
    mz_csv_events_close(csv);
    mz_http_client_close(r.http);
    mz_line_reader_close(r.reader);
    if (f && f != stdin)
        fclose(f);
    return status;
}
