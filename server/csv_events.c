/*-------------------------------------------------------------------------
 * csv_events.c
 *    CSV rows to event JSON (see csv_events.h).
 *-------------------------------------------------------------------------
 */
#include "server/csv_events.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum column_kind { TEXT, NUMBER, INTEGER, TIME };

static const struct {
    const char *name;
    enum column_kind kind;
    bool required;
} fields[] = {
    {"event_id", TEXT, true},     {"client_id", TEXT, true},
    {"item_id", TEXT, false},     {"type", TEXT, true},
    {"ts", TIME, false},          {"channel", TEXT, false},
    {"value", NUMBER, false},     {"quantity", INTEGER, false},
    {"dwell_ms", INTEGER, false}, {"brand", TEXT, false},
};

#define N_FIELDS (sizeof fields / sizeof fields[0])

struct mz_csv_events {
    int column_field[N_FIELDS]; /* the field of each column */
    size_t n_columns;
};

/* Splits line (len bytes) into at most max fields, unquoted, into out
 * (room for len + 1 bytes), NUL-separated; starts[i] points into out.
 * Returns the number of fields, or -1 for malformed quoting or more than
 * max fields. */
static long split(const char *line, size_t len, char *out, const char **starts,
                  size_t max)
{
    size_t i = 0, o = 0, n = 0;

    for (;;) {
        if (n == max)
            return -1;
        starts[n++] = out + o;
        if (i < len && line[i] == '"') {
            i++;
            for (;;) {
                if (i >= len)
                    return -1; /* unclosed quote */
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"') {
                        out[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                out[o++] = line[i++];
            }
            if (i < len && line[i] != ',')
                return -1; /* text after the closing quote */
        } else {
            while (i < len && line[i] != ',') {
                if (line[i] == '"')
                    return -1;
                out[o++] = line[i++];
            }
        }
        out[o++] = '\0';
        if (i >= len)
            return (long)n;
        i++; /* the comma */
    }
}

struct mz_csv_events *mz_csv_events_open(const char *header, size_t len,
                                         char *err, size_t err_len)
{
    const char *names[N_FIELDS + 1];
    char *text = malloc(len + 1);
    struct mz_csv_events *csv = calloc(1, sizeof *csv);
    bool seen[N_FIELDS] = {false};

    if (!text || !csv) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    long n = split(header, len, text, names, N_FIELDS + 1);
    if (n < 0) {
        snprintf(err, err_len,
                 "the header must name at most %zu event fields, "
                 "comma-separated",
                 N_FIELDS);
        goto fail;
    }
    for (long c = 0; c < n; c++) {
        size_t f = 0;
        while (f < N_FIELDS && strcmp(fields[f].name, names[c]) != 0)
            f++;
        if (f == N_FIELDS || seen[f]) {
            snprintf(err, err_len,
                     "header column %ld \"%.64s\" is %s (columns: event_id, "
                     "client_id, item_id, type, ts, channel, value, "
                     "quantity, dwell_ms, brand)",
                     c + 1, names[c],
                     f == N_FIELDS ? "not an event field" : "named twice");
            goto fail;
        }
        seen[f] = true;
        csv->column_field[c] = (int)f;
    }
    for (size_t f = 0; f < N_FIELDS; f++)
        if (fields[f].required && !seen[f]) {
            snprintf(err, err_len, "the header has no column %s",
                     fields[f].name);
            goto fail;
        }
    csv->n_columns = (size_t)n;
    free(text);
    return csv;
fail:
    free(text);
    free(csv);
    return NULL;
}

/* The JSON of one field's text: a number where the column takes one and
 * the text is one, else the text. */
static json_t *field_value(enum column_kind kind, const char *text)
{
    char *end = NULL;

    errno = 0;
    if (kind == INTEGER || kind == TIME) {
        bool digits = text[0] != '\0';
        for (const char *p = text; *p && digits; p++)
            digits = (*p >= '0' && *p <= '9') || (p == text && *p == '-');
        long long v = digits ? strtoll(text, &end, 10) : 0;
        if (digits && errno == 0 && *end == '\0')
            return json_integer((json_int_t)v);
    } else if (kind == NUMBER) {
        double v = strtod(text, &end);
        if (errno == 0 && end != text && *end == '\0')
            return json_real(v);
    }
    return json_string(text);
}

char *mz_csv_events_row(const struct mz_csv_events *csv, const char *row,
                        size_t len, char *err, size_t err_len)
{
    const char *values[N_FIELDS + 1];
    char *text = malloc(len + 1);
    json_t *event = json_object();
    char *out = NULL;

    if (!text || !event) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    if (memchr(row, '\0', len)) {
        snprintf(err, err_len, "line holds a NUL byte");
        goto done;
    }
    long n = split(row, len, text, values, N_FIELDS + 1);
    if (n < 0 && memchr(row, '"', len)) {
        snprintf(err, err_len,
                 "malformed quoting (a quoted field ends at its "
                 "closing quote; a row is one line)");
        goto done;
    }
    if (n < 0 || (size_t)n != csv->n_columns) {
        snprintf(err, err_len, "%ld fields, the header has %zu",
                 n < 0 ? (long)N_FIELDS + 1 : n, csv->n_columns);
        goto done;
    }
    for (size_t c = 0; c < csv->n_columns; c++) {
        int f = csv->column_field[c];
        if (values[c][0] == '\0')
            continue;
        json_t *v = fields[f].kind == TEXT
                        ? json_string(values[c])
                        : field_value(fields[f].kind, values[c]);
        if (!v) {
            /* jansson takes only valid UTF-8: the server would say so. */
            snprintf(err, err_len, "%s: not valid UTF-8", fields[f].name);
            goto done;
        }
        json_object_set_new(event, fields[f].name, v);
    }
    out = json_dumps(event, JSON_COMPACT);
    if (!out)
        snprintf(err, err_len, "out of memory");
done:
    json_decref(event);
    free(text);
    return out;
}

void mz_csv_events_close(struct mz_csv_events *csv)
{
    free(csv);
}
