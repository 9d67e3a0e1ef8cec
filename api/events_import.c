/*-------------------------------------------------------------------------
 * events_import.c
 *    POST /v1/events:import, line by line (see events_import.h).
 *
 * Invariant between calls: `line` holds the bytes of the current,
 * incomplete line (at most LINE_ROOM; beyond, only the mark line_over),
 * and the batch holds the lines completed since the last submission, in
 * order, each with its line number. Lines rejected before the service
 * sees them keep their place in the batch (outcome not MZ_OK), so that
 * the counts, the rejected list and `settled` move only when a batch is
 * committed: a batch that fails settles nothing.
 *
 * Parsing (feed) never waits; a full batch stops it (batch_due) until the
 * caller submits, which waits for the commit, so that server/http.c can
 * parse on its own threads and submit on its wait pool.
 *-------------------------------------------------------------------------
 */
#include "api/events_import.h"

#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/json_body.h"
#include "api/json_event.h"
#include "api/service/service.h"

/* A line and the '\r' of a CRLF end: a line of MZ_IMPORT_MAX_LINE_BYTES
 * is taken with either end. */
#define LINE_ROOM (MZ_IMPORT_MAX_LINE_BYTES + 1)

struct slot {
    json_t *doc; /* owned; NULL for a line rejected unparsed */
    int64_t line;
    struct mz_json_error err; /* when rejected */
};

struct events_import {
    struct mz_body_stream stream; /* first: the stream is the import */
    struct mz_service *svc;       /* borrowed */
    struct mz_principal scope;    /* when has_scope */
    bool has_scope;

    char *line; /* owned, LINE_ROOM bytes */
    size_t line_len;
    bool line_over; /* the current line is too long */
    int64_t lines;  /* lines completed */

    /* The batch, n long. */
    struct slot *slots;              /* owned */
    struct mz_event_record *records; /* owned */
    enum mz_status *outcome;         /* owned */
    size_t n;
    size_t batch_bytes;
    int64_t now; /* the ts of events without one in this batch */

    struct mz_submit_counts counts; /* of settled lines */
    int64_t settled;                /* lines committed or rejected */
    json_t *shown;                  /* owned: the first rejected lines */
    enum mz_status failure;         /* MZ_OK until the import stops */
};

static void clear_batch(struct events_import *imp)
{
    for (size_t i = 0; i < imp->n; i++)
        json_decref(imp->slots[i].doc);
    imp->n = 0;
    imp->batch_bytes = 0;
}

/* Submits the batch. On success its lines are settled; on failure
 * nothing of it is, and the import stops. */
static void submit_batch(struct events_import *imp)
{
    imp->stream.batch_due = false;
    struct mz_submit_counts counts;
    enum mz_status status = MZ_OK;

    if (imp->n > 0)
        status = mz_service_submit_events(
            imp->svc, imp->records, imp->outcome, imp->n,
            imp->has_scope ? &imp->scope : NULL, &counts);
    if (status != MZ_OK) {
        imp->failure = status;
        clear_batch(imp);
        return;
    }
    for (size_t i = 0; i < imp->n; i++) {
        struct slot *s = &imp->slots[i];

        const struct mz_principal *scope = imp->has_scope ? &imp->scope : NULL;
        mz_json_event_refused(
            imp->outcome[i],
            imp->records[i].brand && scope &&
                !mz_principal_allows_brand(scope, imp->records[i].brand),
            &s->err);
        if (imp->outcome[i] != MZ_OK &&
            json_array_size(imp->shown) < MZ_IMPORT_SHOWN_REJECTIONS)
            json_array_append_new(
                imp->shown, mz_json_event_rejected("line", s->line, &s->err));
    }
    if (imp->n > 0) {
        imp->counts.accepted += counts.accepted;
        imp->counts.duplicates += counts.duplicates;
        imp->counts.rejected += counts.rejected;
    }
    imp->settled = imp->lines;
    clear_batch(imp);
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Reads the completed line into the next slot of the batch. */
static void take_line(struct events_import *imp, const char *text, size_t len)
{
    if (imp->n == 0)
        imp->now = mz_now_seconds();
    struct slot *s = &imp->slots[imp->n];
    struct mz_event_record *rec = &imp->records[imp->n];
    enum mz_status *outcome = &imp->outcome[imp->n];

    s->doc = NULL;
    s->line = imp->lines;
    s->err.status = MZ_OK; /* set when rejected here, not by the service */
    memset(rec, 0, sizeof *rec);
    *outcome = MZ_ERR_INVALID;
    imp->n++;
    imp->batch_bytes += len;
    if (imp->line_over) {
        mz_json_fail(&s->err, MZ_ERR_TOO_LARGE, "", "line over %d bytes",
                     MZ_IMPORT_MAX_LINE_BYTES);
        return;
    }
    if (memchr(text, '\0', len)) {
        mz_json_fail(&s->err, MZ_ERR_INVALID, "", "line holds a NUL byte");
        return;
    }
    json_error_t jerr;
    /* The flags of every other body (api/json_body.c). */
    s->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!s->doc) {
        mz_json_fail(&s->err, MZ_ERR_INVALID, "",
                     "malformed JSON at column %d: %s", jerr.column, jerr.text);
        return;
    }
    if (mz_json_read_event(s->doc, imp->now, rec, &s->err))
        *outcome = MZ_OK;
}

/* A line is complete (text, len: without its newline). */
static void end_line(struct events_import *imp, const char *text, size_t len)
{
    if (len > 0 && text[len - 1] == '\r')
        len--;
    if (len > MZ_IMPORT_MAX_LINE_BYTES)
        imp->line_over = true;
    /* The batch of the last line allowed was due, so it is settled. */
    if (imp->failure == MZ_OK && imp->lines >= MZ_IMPORT_MAX_LINES)
        imp->failure = MZ_ERR_TOO_LARGE;
    if (imp->failure != MZ_OK)
        return; /* discarded */
    imp->lines++;
    if (imp->line_over || !is_blank(text, len))
        take_line(imp, text, len);
    imp->stream.batch_due = imp->n == MZ_IMPORT_BATCH_EVENTS ||
                            imp->batch_bytes >= MZ_IMPORT_BATCH_BYTES ||
                            imp->lines == MZ_IMPORT_MAX_LINES;
}

/* Appends len bytes to the current line, or marks it too long. */
static void add_to_line(struct events_import *imp, const char *data, size_t len)
{
    if (imp->line_over)
        return;
    if (imp->line_len + len > LINE_ROOM) {
        imp->line_over = true;
        return;
    }
    memcpy(imp->line + imp->line_len, data, len);
    imp->line_len += len;
}

static size_t import_feed(struct mz_body_stream *stream, const char *data,
                          size_t len, bool *progressed)
{
    struct events_import *imp = (struct events_import *)stream;
    size_t taken = 0;

    *progressed = false;
    while (len > taken && !stream->batch_due) {
        const char *at = data + taken;
        const char *nl = memchr(at, '\n', len - taken);
        size_t piece = nl ? (size_t)(nl - at) : len - taken;

        if (!nl) {
            add_to_line(imp, at, piece);
            return len;
        }
        /* A line read whole from data needs no copy. */
        if (imp->line_len == 0 && !imp->line_over && piece <= LINE_ROOM) {
            end_line(imp, at, piece);
        } else {
            add_to_line(imp, at, piece);
            end_line(imp, imp->line, imp->line_len);
        }
        imp->line_len = 0;
        imp->line_over = false;
        *progressed = true;
        taken += piece + 1;
    }
    return taken;
}

static void import_submit(struct mz_body_stream *stream)
{
    struct events_import *imp = (struct events_import *)stream;

    if (imp->failure == MZ_OK)
        submit_batch(imp);
    stream->batch_due = false;
}

/* Adds the counts to reply (steals nothing). Returns reply, or NULL. */
static json_t *with_counts(json_t *reply, const struct events_import *imp)
{
    if (reply &&
        (json_object_set_new(reply, "accepted",
                             json_integer((json_int_t)imp->counts.accepted)) ||
         json_object_set_new(
             reply, "duplicates",
             json_integer((json_int_t)imp->counts.duplicates)) ||
         json_object_set_new(reply, "rejected",
                             json_integer((json_int_t)imp->counts.rejected)) ||
         json_object_set_new(reply, "lines",
                             json_integer((json_int_t)imp->settled)) ||
         json_object_set_new(
             reply, "position",
             json_integer((json_int_t)mz_service_applied_position(imp->svc))) ||
         json_object_set(reply, "rejected_lines", imp->shown))) {
        json_decref(reply);
        return NULL;
    }
    return reply;
}

static void import_finish(struct mz_body_stream *stream,
                          struct mz_response *resp)
{
    struct events_import *imp = (struct events_import *)stream;
    char message[320];

    /* The last line may end without a newline; a batch may be due
     * before it. */
    if (stream->batch_due)
        import_submit(stream);
    if (imp->line_len > 0 || imp->line_over)
        end_line(imp, imp->line, imp->line_len);
    imp->line_len = 0;
    imp->line_over = false;
    if (imp->failure == MZ_OK)
        submit_batch(imp);
    if (imp->failure == MZ_OK) {
        json_t *reply = with_counts(json_object(), imp);
        if (!reply)
            mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        else
            mz_response_json(resp, 200, reply);
        return;
    }
    long long next = (long long)imp->settled + 1;
    if (imp->failure == MZ_ERR_TOO_LARGE)
        snprintf(message, sizeof message,
                 "at most %d lines per request: lines 1..%lld are settled "
                 "(committed or rejected); send the lines from %lld in "
                 "another request",
                 MZ_IMPORT_MAX_LINES, (long long)imp->settled, next);
    else
        snprintf(message, sizeof message,
                 "the event log cannot be written (%s): lines 1..%lld are "
                 "settled (committed or rejected), the rest is not; resend "
                 "from line %lld (resending all is safe: event ids)",
                 mz_status_code(imp->failure), (long long)imp->settled, next);
    json_t *reply =
        with_counts(json_pack("{s:{s:s,s:s}}", "error", "code",
                              mz_status_code(imp->failure), "message", message),
                    imp);
    if (!reply)
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
    else
        mz_response_json(resp, mz_status_http(imp->failure), reply);
}

static void import_free(struct mz_body_stream *stream)
{
    struct events_import *imp = (struct events_import *)stream;

    if (!imp)
        return;
    clear_batch(imp);
    json_decref(imp->shown);
    free(imp->outcome);
    free(imp->records);
    free(imp->slots);
    free(imp->line);
    free(imp);
}

struct mz_body_stream *mz_events_import_open(struct mz_service *svc,
                                             const struct mz_request *req)
{
    struct events_import *imp = calloc(1, sizeof *imp);

    if (!imp)
        return NULL;
    imp->stream = (struct mz_body_stream){
        .feed = import_feed,
        .submit = import_submit,
        .finish = import_finish,
        .free = import_free};
    imp->svc = svc;
    if (req->principal) {
        imp->scope = *req->principal;
        imp->has_scope = true;
    }
    imp->line = malloc(LINE_ROOM);
    imp->slots = calloc(MZ_IMPORT_BATCH_EVENTS, sizeof *imp->slots);
    imp->records = calloc(MZ_IMPORT_BATCH_EVENTS, sizeof *imp->records);
    imp->outcome = calloc(MZ_IMPORT_BATCH_EVENTS, sizeof *imp->outcome);
    imp->shown = json_array();
    if (!imp->line || !imp->slots || !imp->records || !imp->outcome ||
        !imp->shown) {
        import_free(&imp->stream);
        return NULL;
    }
    return &imp->stream;
}

void mz_handle_import_events(struct mz_service *svc,
                             const struct mz_request *req,
                             struct mz_response *resp)
{
    struct mz_body_stream *stream = mz_events_import_open(svc, req);

    if (!stream) {
        mz_response_error(resp, MZ_ERR_NOMEM, "out of memory");
        return;
    }
    const char *body = req->body ? req->body : "";
    size_t taken = 0;
    while (taken < req->body_len) {
        bool progressed;
        taken += stream->feed(stream, body + taken, req->body_len - taken,
                              &progressed);
        if (stream->batch_due)
            stream->submit(stream);
    }
    stream->finish(stream, resp);
    stream->free(stream);
}
