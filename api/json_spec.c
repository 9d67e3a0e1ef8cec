/*-------------------------------------------------------------------------
 * json_spec.c
 *    The declarative JSON reader: unknown keys, then the fields in table
 *    order, each checked against its kind and bounds and written to its
 *    destination; on failure what was filled is released again.
 *
 * Messages are built here from the field's name (under its path) and
 * bounds, so every reader says the same thing the same way and no limit
 * appears in a message other than through the constant it comes from.
 *
 * Interface routines: see json_spec.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_spec.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_body.h"

/* ---- messages -------------------------------------------------------- */

bool mz_json_fail(struct mz_json_error *err, enum mz_status status,
                  const char *path, const char *fmt, ...)
{
    char message[MZ_JSON_MESSAGE_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    err->status = status;
    err->code = mz_status_code(status);
    /* A message longer than the buffer is cut: the path comes first. */
    int written = path && path[0] ? snprintf(err->message, sizeof err->message,
                                             "%s: %s", path, message)
                                  : snprintf(err->message, sizeof err->message,
                                             "%s", message);
    if (written < 0)
        err->message[0] = '\0';
    return false;
}

/* Paths are cut at len like messages; the return values are checked
 * only for encoding errors. */
void mz_json_join(char *out, size_t len, const char *prefix, const char *name)
{
    int written = prefix && prefix[0]
                      ? snprintf(out, len, "%s.%s", prefix, name)
                      : snprintf(out, len, "%s", name);
    if (written < 0)
        out[0] = '\0';
}

void mz_json_index(char *out, size_t len, const char *path, size_t i)
{
    if (snprintf(out, len, "%s[%zu]", path, i) < 0)
        out[0] = '\0';
}

static void set_ok(struct mz_json_error *err)
{
    err->status = MZ_OK;
    err->code = mz_status_code(MZ_OK);
    err->message[0] = '\0';
}

/* Writes bound (the field's min or max) as the message shows it. */
static void format_bound(char *out, size_t len, const struct mz_json_field *f,
                         bool upper)
{
    if (f->kind == MZ_JSON_NUMBER)
        snprintf(out, len, "%g", upper ? f->max_number : f->min_number);
    else
        snprintf(out, len, "%" PRId64, upper ? f->max : f->min);
}

/* Copies template into out with {min}, {max} and {entries} replaced by
 * the field's bounds. */
static void expand(char *out, size_t len, const char *template,
                   const struct mz_json_field *f)
{
    size_t n = 0;
    const char *p = template;
    while (*p && n + 1 < len) {
        char bound[48];
        size_t skip = 0;
        if (strncmp(p, "{min}", 5) == 0) {
            format_bound(bound, sizeof bound, f, false);
            skip = 5;
        } else if (strncmp(p, "{max}", 5) == 0) {
            format_bound(bound, sizeof bound, f, true);
            skip = 5;
        } else if (strncmp(p, "{entries}", 9) == 0) {
            snprintf(bound, sizeof bound, "%zu", f->max_entries);
            skip = 9;
        }
        if (skip == 0) {
            out[n++] = *p++;
            continue;
        }
        for (const char *b = bound; *b && n + 1 < len; b++)
            out[n++] = *b;
        p += skip;
    }
    out[n] = '\0';
}

/* The message of a bad value of f when the spec gives none. */
static const char *default_message(const struct mz_json_field *f)
{
    switch (f->kind) {
    case MZ_JSON_STRING:
        return "must be a string of {min}..{max} bytes";
    case MZ_JSON_ID:
        return "must be a string of 1 to {max} bytes";
    case MZ_JSON_INTEGER:
        return "must be an integer {min}..{max}";
    case MZ_JSON_NUMBER:
        return isinf(f->max_number) ? "must be a number >= {min}"
                                    : "must be a number {min}..{max}";
    case MZ_JSON_BOOLEAN:
        return "must be a boolean";
    case MZ_JSON_STRING_LIST:
        return "must be an array of strings";
    case MZ_JSON_OBJECT:
        return "must be an object";
    case MZ_JSON_ARRAY:
        return "must be an array";
    default:
        return "is not valid";
    }
}

static bool bad_value(const struct mz_json_field *f, const char *path,
                      struct mz_json_error *err)
{
    char message[MZ_JSON_MESSAGE_BYTES];
    expand(message, sizeof message,
           f->message ? f->message : default_message(f), f);
    return mz_json_fail(err, MZ_ERR_INVALID, path, "%s", message);
}

/* ---- releasing ------------------------------------------------------- */

static void release_field(const struct mz_json_field *f)
{
    switch (f->kind) {
    case MZ_JSON_STRING:
    case MZ_JSON_ID:
        if (f->flags & MZ_JSON_COPY) {
            free(*(char **)f->dst);
            *(char **)f->dst = NULL;
        } else {
            *(const char **)f->dst = NULL;
        }
        break;
    case MZ_JSON_STRING_LIST:
        mz_string_list_clear(f->dst);
        break;
    case MZ_JSON_OBJECT:
        if (f->fields)
            mz_json_spec_free(f->fields);
        else if (f->cleanup)
            f->cleanup(f->dst);
        break;
    case MZ_JSON_ARRAY:
    case MZ_JSON_CUSTOM:
        if (f->cleanup)
            f->cleanup(f->dst);
        break;
    default:
        break;
    }
}

/* Releases fields [spec, end). */
static void release_fields(const struct mz_json_field *spec,
                           const struct mz_json_field *end)
{
    for (const struct mz_json_field *f = spec; f < end; f++)
        release_field(f);
}

void mz_json_spec_free(const struct mz_json_field *spec)
{
    if (!spec)
        return;
    for (const struct mz_json_field *f = spec; f->kind != MZ_JSON_END; f++)
        release_field(f);
}

/* ---- reading --------------------------------------------------------- */

static bool parse_object(const json_t *obj, const struct mz_json_field *spec,
                         const char *prefix, struct mz_json_error *err,
                         int depth);

/* A string that fits f's bounds and holds no NUL. */
static bool string_fits(const json_t *value, const struct mz_json_field *f)
{
    if (!json_is_string(value))
        return false;
    size_t len = json_string_length(value);
    return (int64_t)len >= f->min && (int64_t)len <= f->max &&
           strlen(json_string_value(value)) == len;
}

static bool read_string(const json_t *value, const struct mz_json_field *f,
                        const char *path, struct mz_json_error *err)
{
    bool fits =
        f->kind == MZ_JSON_ID
            ? json_is_string(value) && mz_is_valid_id(json_string_value(value))
            : string_fits(value, f);
    if (!fits)
        return bad_value(f, path, err);
    if (!(f->flags & MZ_JSON_COPY)) {
        *(const char **)f->dst = json_string_value(value);
        return true;
    }
    char *copy = strdup(json_string_value(value));
    if (!copy)
        return mz_json_fail(err, MZ_ERR_NOMEM, path, "out of memory");
    *(char **)f->dst = copy;
    return true;
}

static bool read_integer(const json_t *value, const struct mz_json_field *f,
                         const char *path, struct mz_json_error *err)
{
    if (!json_is_integer(value) || json_integer_value(value) < f->min ||
        json_integer_value(value) > f->max)
        return bad_value(f, path, err);
    if (f->width == sizeof(int32_t))
        *(int32_t *)f->dst = (int32_t)json_integer_value(value);
    else
        *(int64_t *)f->dst = (int64_t)json_integer_value(value);
    return true;
}

static bool read_number(const json_t *value, const struct mz_json_field *f,
                        const char *path, struct mz_json_error *err)
{
    double number = json_number_value(value);
    if (!json_is_number(value) || !isfinite(number) ||
        !(number >= f->min_number) || !(number <= f->max_number))
        return bad_value(f, path, err);
    *(double *)f->dst = number;
    return true;
}

/* Validates every entry before copying any, so a bad list allocates
 * nothing. */
static bool read_string_list(const json_t *value, const struct mz_json_field *f,
                             const char *path, struct mz_json_error *err)
{
    char where[MZ_JSON_PATH_BYTES];
    struct mz_string_list *out = f->dst;
    if (!json_is_array(value))
        return bad_value(f, path, err);
    size_t n = json_array_size(value);
    if (n > f->max_entries) {
        char message[MZ_JSON_MESSAGE_BYTES];
        expand(message, sizeof message, "must have at most {entries} entries",
               f);
        return mz_json_fail(err, MZ_ERR_INVALID, path, "%s", message);
    }
    for (size_t i = 0; i < n; i++) {
        if (!string_fits(json_array_get(value, i), f)) {
            char message[MZ_JSON_MESSAGE_BYTES];
            expand(message, sizeof message,
                   "must be a string of {min}..{max} bytes", f);
            mz_json_index(where, sizeof where, path, i);
            return mz_json_fail(err, MZ_ERR_INVALID, where, "%s", message);
        }
    }
    mz_string_list_clear(out);
    if (n == 0)
        return true;
    out->items = calloc(n, sizeof *out->items);
    if (!out->items)
        return mz_json_fail(err, MZ_ERR_NOMEM, path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        out->items[i] = strdup(json_string_value(json_array_get(value, i)));
        if (!out->items[i])
            return mz_json_fail(err, MZ_ERR_NOMEM, path, "out of memory");
        out->count = i + 1;
    }
    return true;
}

/* Sets the destination of an absent field to its default. */
static void set_default(const struct mz_json_field *f)
{
    switch (f->kind) {
    case MZ_JSON_STRING:
    case MZ_JSON_ID:
        if (f->flags & MZ_JSON_COPY)
            *(char **)f->dst = NULL;
        else
            *(const char **)f->dst = NULL;
        break;
    case MZ_JSON_INTEGER:
        if (f->width == sizeof(int32_t))
            *(int32_t *)f->dst = (int32_t)f->def;
        else
            *(int64_t *)f->dst = f->def;
        break;
    case MZ_JSON_NUMBER:
        *(double *)f->dst = f->def_number;
        break;
    case MZ_JSON_BOOLEAN:
        *(bool *)f->dst = f->def != 0;
        break;
    case MZ_JSON_STRING_LIST:
        mz_string_list_clear(f->dst);
        break;
    default:
        break; /* callbacks and nested objects: left as the caller set */
    }
}

static bool read_field(const json_t *obj, const struct mz_json_field *f,
                       const char *prefix, struct mz_json_error *err, int depth)
{
    char path[MZ_JSON_PATH_BYTES];
    const json_t *value = json_object_get(obj, f->name);
    if (value && json_is_null(value) && (f->flags & MZ_JSON_NULLABLE))
        value = NULL;
    if (f->present)
        *f->present = value != NULL;
    mz_json_join(path, sizeof path, prefix, f->name);
    if (!value) {
        if (f->flags & MZ_JSON_REQUIRED)
            return mz_json_fail(err, MZ_ERR_INVALID, path, "%s",
                                f->missing ? f->missing : "is required");
        set_default(f);
        return true;
    }
    switch (f->kind) {
    case MZ_JSON_STRING:
    case MZ_JSON_ID:
        return read_string(value, f, path, err);
    case MZ_JSON_INTEGER:
        return read_integer(value, f, path, err);
    case MZ_JSON_NUMBER:
        return read_number(value, f, path, err);
    case MZ_JSON_BOOLEAN:
        if (!json_is_boolean(value))
            return bad_value(f, path, err);
        *(bool *)f->dst = json_is_true(value);
        return true;
    case MZ_JSON_STRING_LIST:
        return read_string_list(value, f, path, err);
    case MZ_JSON_OBJECT:
        if (!json_is_object(value))
            return bad_value(f, path, err);
        if (f->fields)
            return parse_object(value, f->fields, path, err, depth + 1);
        return f->parse(value, path, f->dst, err);
    case MZ_JSON_ARRAY:
        if (!json_is_array(value))
            return bad_value(f, path, err);
        return f->parse(value, path, f->dst, err);
    case MZ_JSON_CUSTOM:
        return f->parse(value, path, f->dst, err);
    default:
        return mz_json_fail(err, MZ_ERR_INTERNAL, path, "field of no kind");
    }
}

static const struct mz_json_field *find_field(const struct mz_json_field *spec,
                                              const char *key)
{
    for (const struct mz_json_field *f = spec; f->kind != MZ_JSON_END; f++)
        if (strcmp(f->name, key) == 0)
            return f;
    return NULL;
}

/* Fails with "<prefix>.<key>: unknown field", key cut to what the
 * terminator end allows: keys come from the client. */
static bool unknown_key(const char *key, const struct mz_json_field *end,
                        const char *prefix, struct mz_json_error *err)
{
    char cut[MZ_JSON_PATH_BYTES], path[MZ_JSON_PATH_BYTES];
    int shown = end->max > 0 ? (int)end->max : MZ_JSON_SHOWN_KEY_BYTES;
    snprintf(cut, sizeof cut, "%.*s", shown, key);
    mz_json_join(path, sizeof path, prefix, cut);
    return mz_json_fail(err, MZ_ERR_INVALID, path, "unknown field");
}

/* Fails on the first key of obj (in the object's order) that spec does
 * not name. */
static bool check_keys(const json_t *obj, const struct mz_json_field *spec,
                       const struct mz_json_field *end, const char *prefix,
                       struct mz_json_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        if (!find_field(spec, key))
            return unknown_key(key, end, prefix, err);
    }
    return true;
}

/* Reads the fields in the object's key order, then the absent ones (for
 * their defaults and the required check) in table order. Any field may
 * be filled when one fails, so all are released. */
static bool parse_in_key_order(const json_t *obj,
                               const struct mz_json_field *spec,
                               const struct mz_json_field *end,
                               const char *prefix, struct mz_json_error *err,
                               int depth)
{
    const char *key;
    json_t *value;
    bool ok = true;
    json_object_foreach((json_t *)obj, key, value)
    {
        const struct mz_json_field *f = find_field(spec, key);
        if (!f)
            ok = unknown_key(key, end, prefix, err);
        else if (!(json_is_null(value) && (f->flags & MZ_JSON_NULLABLE)))
            ok = read_field(obj, f, prefix, err, depth);
        if (!ok)
            break;
    }
    for (const struct mz_json_field *f = spec; ok && f < end; f++) {
        const json_t *given = json_object_get(obj, f->name);
        if (!given || (json_is_null(given) && (f->flags & MZ_JSON_NULLABLE)))
            ok = read_field(obj, f, prefix, err, depth);
    }
    if (!ok)
        release_fields(spec, end);
    return ok;
}

static bool parse_object(const json_t *obj, const struct mz_json_field *spec,
                         const char *prefix, struct mz_json_error *err,
                         int depth)
{
    if (depth > MZ_JSON_MAX_DEPTH)
        return mz_json_fail(err, MZ_ERR_INTERNAL, prefix,
                            "spec nested deeper than %d objects",
                            MZ_JSON_MAX_DEPTH);
    if (!json_is_object(obj))
        return mz_json_fail(err, MZ_ERR_INVALID, prefix, "must be an object");
    const struct mz_json_field *end = spec;
    while (end->kind != MZ_JSON_END)
        end++;
    if (end->flags & MZ_JSON_KEY_ORDER)
        return parse_in_key_order(obj, spec, end, prefix, err, depth);
    if (!check_keys(obj, spec, end, prefix, err))
        return false;
    for (const struct mz_json_field *f = spec; f < end; f++) {
        if (!read_field(obj, f, prefix, err, depth)) {
            release_fields(spec, f + 1);
            return false;
        }
    }
    return true;
}

bool mz_json_parse(const json_t *obj, const struct mz_json_field *spec,
                   const char *prefix, struct mz_json_error *err)
{
    set_ok(err);
    if (!parse_object(obj, spec, prefix ? prefix : "", err, 0))
        return false;
    set_ok(err);
    return true;
}

/* ---- fields ---------------------------------------------------------- */

static struct mz_json_field field(const char *name, enum mz_json_kind kind,
                                  void *dst)
{
    return (struct mz_json_field){.name = name, .kind = kind, .dst = dst};
}

struct mz_json_field mz_json_string(const char *name, size_t min, size_t max,
                                    const char **dst)
{
    struct mz_json_field f = field(name, MZ_JSON_STRING, dst);
    f.min = (int64_t)min;
    f.max = (int64_t)max;
    return f;
}

struct mz_json_field mz_json_string_copy(const char *name, size_t min,
                                         size_t max, char **dst)
{
    struct mz_json_field f = field(name, MZ_JSON_STRING, dst);
    f.min = (int64_t)min;
    f.max = (int64_t)max;
    f.flags = MZ_JSON_COPY;
    return f;
}

struct mz_json_field mz_json_id(const char *name, const char **dst)
{
    struct mz_json_field f = field(name, MZ_JSON_ID, dst);
    f.min = 1;
    f.max = MZ_ID_MAX_BYTES;
    return f;
}

struct mz_json_field mz_json_id_copy(const char *name, char **dst)
{
    struct mz_json_field f = field(name, MZ_JSON_ID, dst);
    f.min = 1;
    f.max = MZ_ID_MAX_BYTES;
    f.flags = MZ_JSON_COPY;
    return f;
}

struct mz_json_field mz_json_int64(const char *name, int64_t min, int64_t max,
                                   int64_t def, int64_t *dst)
{
    struct mz_json_field f = field(name, MZ_JSON_INTEGER, dst);
    f.min = min;
    f.max = max;
    f.def = def;
    f.width = sizeof *dst;
    return f;
}

struct mz_json_field mz_json_int32(const char *name, int32_t min, int32_t max,
                                   int32_t def, int32_t *dst)
{
    struct mz_json_field f = field(name, MZ_JSON_INTEGER, dst);
    f.min = min;
    f.max = max;
    f.def = def;
    f.width = sizeof *dst;
    return f;
}

struct mz_json_field mz_json_number(const char *name, double min, double max,
                                    double def, double *dst)
{
    struct mz_json_field f = field(name, MZ_JSON_NUMBER, dst);
    f.min_number = min;
    f.max_number = max;
    f.def_number = def;
    return f;
}

struct mz_json_field mz_json_boolean(const char *name, bool def, bool *dst)
{
    struct mz_json_field f = field(name, MZ_JSON_BOOLEAN, dst);
    f.def = def;
    return f;
}

struct mz_json_field mz_json_string_list(const char *name, size_t min,
                                         size_t max, size_t max_entries,
                                         struct mz_string_list *dst)
{
    struct mz_json_field f = field(name, MZ_JSON_STRING_LIST, dst);
    f.min = (int64_t)min;
    f.max = (int64_t)max;
    f.max_entries = max_entries;
    return f;
}

struct mz_json_field mz_json_object(const char *name,
                                    const struct mz_json_field *fields)
{
    struct mz_json_field f = field(name, MZ_JSON_OBJECT, NULL);
    f.fields = fields;
    return f;
}

struct mz_json_field mz_json_object_with(const char *name,
                                         mz_json_parse_fn parse,
                                         mz_json_cleanup_fn cleanup, void *dst)
{
    struct mz_json_field f = field(name, MZ_JSON_OBJECT, dst);
    f.parse = parse;
    f.cleanup = cleanup;
    return f;
}

struct mz_json_field mz_json_array_with(const char *name,
                                        mz_json_parse_fn parse,
                                        mz_json_cleanup_fn cleanup, void *dst)
{
    struct mz_json_field f = field(name, MZ_JSON_ARRAY, dst);
    f.parse = parse;
    f.cleanup = cleanup;
    return f;
}

struct mz_json_field mz_json_custom(const char *name, mz_json_parse_fn parse,
                                    mz_json_cleanup_fn cleanup, void *dst)
{
    struct mz_json_field f = field(name, MZ_JSON_CUSTOM, dst);
    f.parse = parse;
    f.cleanup = cleanup;
    return f;
}

struct mz_json_field mz_json_end(size_t shown_key_bytes)
{
    struct mz_json_field f = field(NULL, MZ_JSON_END, NULL);
    f.max = (int64_t)shown_key_bytes;
    return f;
}

struct mz_json_field mz_json_end_in_key_order(size_t shown_key_bytes)
{
    struct mz_json_field f = mz_json_end(shown_key_bytes);
    f.flags = MZ_JSON_KEY_ORDER;
    return f;
}

/* ---- refinements ----------------------------------------------------- */

struct mz_json_field mz_json_required(struct mz_json_field f)
{
    f.flags |= MZ_JSON_REQUIRED;
    return f;
}

struct mz_json_field mz_json_nullable(struct mz_json_field f)
{
    f.flags |= MZ_JSON_NULLABLE;
    return f;
}

struct mz_json_field mz_json_present(struct mz_json_field f, bool *present)
{
    f.present = present;
    return f;
}

struct mz_json_field mz_json_says(struct mz_json_field f, const char *message)
{
    f.message = message;
    return f;
}

struct mz_json_field mz_json_says_missing(struct mz_json_field f,
                                          const char *message)
{
    f.missing = message;
    return f;
}
