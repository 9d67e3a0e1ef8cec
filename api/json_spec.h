/*-------------------------------------------------------------------------
 * json_spec.h
 *    The one declarative reader of JSON objects (request bodies, stored
 *    documents): a table of fields, each with a name, a kind, bounds, a
 *    default and a destination, read, validated and released in one
 *    call, after GNU Taler's JSON specifications.
 *
 * A spec is an array of struct mz_json_field built with the constructors
 * below (mz_json_id, mz_json_int32, ..., refined with mz_json_required,
 * mz_json_nullable, mz_json_present, mz_json_says) and ended by
 * mz_json_end(). mz_json_parse then
 *   1. refuses a value that is not an object,
 *   2. refuses the first key (in the object's order) that no field names:
 *      "<path>: unknown field", the key cut to the terminator's
 *      shown_key_bytes,
 *   3. reads the fields in table order; the first bad one fails the
 *      parse with "<path>: <message>", path being prefix.name
 *      ("items[3].price: must be a number >= 0"). Messages name their
 *      limits from the field's bounds ({min}, {max}, {entries} in a
 *      message are replaced by them), so no limit is typed twice.
 * A spec ended by mz_json_end_in_key_order() instead reads the keys in
 * the object's order, an unknown key failing where it stands, then the
 * absent fields: the first problem reported is the first one written.
 *
 * An absent field (or a null one, for a nullable field) leaves its
 * destination at the field's default: NULL for strings, an empty list,
 * def for numbers and booleans; object, array and custom destinations
 * are left as the caller set them (callbacks run only on present
 * values). *present, when given, says whether the field was there.
 *
 * Ownership: strings are borrowed from the json_t (valid while it lives)
 * unless the field was built with a _copy constructor; copies, string
 * lists and whatever a callback allocates belong to the caller after a
 * successful parse (they are the caller's destinations), and
 * mz_json_spec_free releases them all at once for a caller that does not
 * keep them. After a failed parse nothing is left allocated: the reader
 * releases what it had filled. Destinations of strings, lists and
 * callbacks must therefore start NULL / empty / released.
 *
 * Interface routines:
 *    mz_json_parse          - read an object through a spec
 *    mz_json_spec_free      - release what a spec's destinations hold
 *    mz_json_string / _string_copy / _id / _id_copy / _int64 / _int32 /
 *        _number / _boolean / _string_list / _object / _object_with /
 *        _array_with / _custom / _end / _end_in_key_order - the fields
 *    mz_json_required / _nullable / _present / _says / _says_missing
 *                           - refinements of a field
 *    mz_json_fail, mz_json_join, mz_json_index - for callbacks
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_SPEC_H
#define MZ_API_JSON_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/item.h"
#include "model/status.h"

#define MZ_JSON_MESSAGE_BYTES   256
#define MZ_JSON_PATH_BYTES      384 /* "items[999].attributes.<key>" */
#define MZ_JSON_MAX_DEPTH       8   /* objects nested in a spec */
#define MZ_JSON_SHOWN_KEY_BYTES MZ_ID_MAX_BYTES /* of an unknown key */

/* Why a parse failed. */
struct mz_json_error {
    enum mz_status status;               /* MZ_ERR_INVALID, MZ_ERR_NOMEM, ... */
    const char *code;                    /* static, mz_status_code(status) */
    char message[MZ_JSON_MESSAGE_BYTES]; /* "<path>: <what is wrong>" */
};

enum mz_json_kind {
    MZ_JSON_END = 0, /* the terminator */
    MZ_JSON_STRING,  /* min..max bytes, no NUL */
    MZ_JSON_ID,      /* mz_is_valid_id (json_body.h) */
    MZ_JSON_INTEGER, /* an integer in min..max */
    MZ_JSON_NUMBER,  /* finite, min_number..max_number */
    MZ_JSON_BOOLEAN,
    MZ_JSON_STRING_LIST, /* array of strings, min..max bytes
                            each, at most max_entries */
    MZ_JSON_OBJECT,      /* a nested spec, or a callback */
    MZ_JSON_ARRAY,       /* a callback */
    MZ_JSON_CUSTOM,      /* any value, a callback */
};

#define MZ_JSON_REQUIRED  0x1u /* absent: "<path>: is required" */
#define MZ_JSON_NULLABLE  0x2u /* null reads as absent */
#define MZ_JSON_COPY      0x4u /* strings: *dst gets a malloc'd copy */
#define MZ_JSON_KEY_ORDER 0x8u /* terminator: read in key order */

struct mz_json_error;

/* Reads value (borrowed, never NULL) into dst; path names the field for
 * messages. Returns false after mz_json_fail. A callback may fail half
 * way: the field's cleanup runs after a failure. */
typedef bool (*mz_json_parse_fn)(const json_t *value, const char *path,
                                 void *dst, struct mz_json_error *err);
/* Releases what a callback left in dst (accepts what it never filled). */
typedef void (*mz_json_cleanup_fn)(void *dst);

/* One field. Build fields with the constructors below rather than by
 * hand: they pick the kind that matches the destination's type. */
struct mz_json_field {
    const char *name; /* static; NULL in the terminator */
    enum mz_json_kind kind;
    unsigned flags;                     /* MZ_JSON_* */
    int64_t min, max;                   /* INTEGER: the range; STRING, ID,
                                           STRING_LIST: bytes of a string;
                                           END: max = shown_key_bytes */
    double min_number, max_number;      /* NUMBER */
    size_t max_entries;                 /* STRING_LIST */
    int64_t def;                        /* INTEGER, BOOLEAN: when absent */
    double def_number;                  /* NUMBER: when absent */
    size_t width;                       /* INTEGER: sizeof *dst (4 or 8) */
    void *dst;                          /* borrowed; typed by the kind */
    bool *present;                      /* borrowed; NULL: not wanted */
    const char *message;                /* a bad value; NULL: the kind's */
    const char *missing;                /* required and absent; NULL: "is
                                           required" */
    const struct mz_json_field *fields; /* OBJECT: nested spec */
    mz_json_parse_fn parse;             /* OBJECT (no fields), ARRAY, CUSTOM */
    mz_json_cleanup_fn cleanup;         /* for parse's allocations */
};

/* Reads obj (borrowed) through spec into the destinations. prefix (may be
 * "") goes before every field name in messages. Returns true with err
 * set to MZ_OK, or false with err filled and nothing allocated (see the
 * file header). */
bool mz_json_parse(const json_t *obj, const struct mz_json_field *spec,
                   const char *prefix, struct mz_json_error *err);

/* Releases what spec's destinations hold (copied strings, lists, cleanup
 * callbacks, nested specs) and resets them; accepts NULL. */
void mz_json_spec_free(const struct mz_json_field *spec);

/* ---- fields ---------------------------------------------------------- */

/* A string of min..max bytes without NUL; *dst borrowed from the json_t
 * (_string) or a malloc'd copy (_string_copy, caller frees). Default
 * message "must be a string of {min}..{max} bytes". */
struct mz_json_field mz_json_string(const char *name, size_t min, size_t max,
                                    const char **dst);
struct mz_json_field mz_json_string_copy(const char *name, size_t min,
                                         size_t max, char **dst);
/* An identifier (mz_is_valid_id: 1..MZ_ID_MAX_BYTES of UTF-8 without
 * control characters), borrowed or copied as above. Default message
 * "must be a string of 1 to {max} bytes". */
struct mz_json_field mz_json_id(const char *name, const char **dst);
struct mz_json_field mz_json_id_copy(const char *name, char **dst);
/* An integer in min..max (def when absent). Default message "must be an
 * integer {min}..{max}". */
struct mz_json_field mz_json_int64(const char *name, int64_t min, int64_t max,
                                   int64_t def, int64_t *dst);
struct mz_json_field mz_json_int32(const char *name, int32_t min, int32_t max,
                                   int32_t def, int32_t *dst);
/* A finite number in min..max (an integer or a real; def when absent).
 * Default message "must be a number >= {min}" (max infinite) or "must be
 * a number {min}..{max}". */
struct mz_json_field mz_json_number(const char *name, double min, double max,
                                    double def, double *dst);
/* true or false (def when absent). "must be a boolean". */
struct mz_json_field mz_json_boolean(const char *name, bool def, bool *dst);
/* An array of at most max_entries strings of min..max bytes without NUL,
 * copied into *dst (caller frees with mz_string_list_clear). Messages
 * "must be an array of strings", "must have at most {entries} entries",
 * "<path>[i]: must be a string of {min}..{max} bytes". */
struct mz_json_field mz_json_string_list(const char *name, size_t min,
                                         size_t max, size_t max_entries,
                                         struct mz_string_list *dst);
/* An object read through the nested spec fields (borrowed; its own
 * terminator). "must be an object". */
struct mz_json_field mz_json_object(const char *name,
                                    const struct mz_json_field *fields);
/* An object / an array / any value handed to parse with dst; cleanup (may
 * be NULL) releases what parse left in dst. The reader checks only the
 * type of an object or array ("must be an object", "must be an array"). */
struct mz_json_field mz_json_object_with(const char *name,
                                         mz_json_parse_fn parse,
                                         mz_json_cleanup_fn cleanup, void *dst);
struct mz_json_field mz_json_array_with(const char *name,
                                        mz_json_parse_fn parse,
                                        mz_json_cleanup_fn cleanup, void *dst);
struct mz_json_field mz_json_custom(const char *name, mz_json_parse_fn parse,
                                    mz_json_cleanup_fn cleanup, void *dst);
/* The terminator; an unknown key shows at most shown_key_bytes of itself
 * in its message (0: MZ_JSON_SHOWN_KEY_BYTES). */
struct mz_json_field mz_json_end(size_t shown_key_bytes);
/* The same, for a spec read in the object's key order (see above). */
struct mz_json_field mz_json_end_in_key_order(size_t shown_key_bytes);

/* ---- refinements (each returns f changed) ---------------------------- */

struct mz_json_field mz_json_required(struct mz_json_field f);
struct mz_json_field mz_json_nullable(struct mz_json_field f);
/* *present (borrowed) is set to whether the field was given. */
struct mz_json_field mz_json_present(struct mz_json_field f, bool *present);
/* message (static) replaces the kind's message for a bad value. */
struct mz_json_field mz_json_says(struct mz_json_field f, const char *message);
/* message (static) replaces "is required". */
struct mz_json_field mz_json_says_missing(struct mz_json_field f,
                                          const char *message);

/* ---- for callbacks --------------------------------------------------- */

/* Fills err with status and "<path>: <printf message>" (just the message
 * when path is "") and returns false. */
bool mz_json_fail(struct mz_json_error *err, enum mz_status status,
                  const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes "prefix.name" (or name when prefix is "") into out. */
void mz_json_join(char *out, size_t len, const char *prefix, const char *name);
/* Writes "path[i]" into out. */
void mz_json_index(char *out, size_t len, const char *path, size_t i);

#endif
