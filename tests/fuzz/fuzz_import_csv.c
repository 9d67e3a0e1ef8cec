/*-------------------------------------------------------------------------
 * fuzz_import_csv.c
 *    `maisond import --events FILE --format csv` (server/csv_events.c):
 *    the input's first line is the header, each further line a row. A
 *    header or a row the converter refuses must say why; a row it takes
 *    must come out as one line of valid JSON, an object that
 *    mz_json_read_event (the server's reader of POST /v1/events and of
 *    the import) then accepts or refuses with a message.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "api/json_event.h"
#include "server/csv_events.h"
#include "tests/fuzz/fuzz.h"

/* Checks one converted row. */
static void check_row(const char *json_text)
{
    FUZZ_ASSERT(strchr(json_text, '\n') == NULL);
    json_error_t jerr;
    json_t *doc = json_loads(json_text, JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_ASSERT(doc != NULL && json_is_object(doc));
    struct mz_event_record rec;
    struct mz_json_error err;
    if (!mz_json_read_event(doc, 1795428000, &rec, &err))
        FUZZ_ASSERT(err.message[0] != '\0');
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *end = text + size;
    const char *nl = memchr(text, '\n', size);
    size_t header_len = nl ? (size_t)(nl - text) : size;
    char err[256] = "";
    struct mz_csv_events *csv =
        mz_csv_events_open(text, header_len, err, sizeof err);
    if (!csv) {
        FUZZ_ASSERT(err[0] != '\0');
        return 0;
    }
    const char *row = nl ? nl + 1 : end;
    while (row < end) {
        const char *row_end = memchr(row, '\n', (size_t)(end - row));
        size_t len = row_end ? (size_t)(row_end - row) : (size_t)(end - row);
        err[0] = '\0';
        char *json_text = mz_csv_events_row(csv, row, len, err, sizeof err);
        if (json_text)
            check_row(json_text);
        else
            FUZZ_ASSERT(err[0] != '\0');
        free(json_text);
        row = row_end ? row_end + 1 : end;
    }
    mz_csv_events_close(csv);
    return 0;
}
