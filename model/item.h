/*-------------------------------------------------------------------------
 * item.h
 *    One catalog item as a C record (ids, price, availability, dates,
 *    regions, reserved tiers, tags and free-form attributes), and the
 *    attribute tokens the model's cold start derives from it.
 *
 * Records are built field by field: by api/json_item.c from an API or
 * stored item object, by the evaluator and the tests directly. Every
 * string and list of a record is owned by it; mz_item_free releases all.
 *
 * Interface routines:
 *    mz_item_new / _free        - one record, with the defaults
 *    mz_item_attributes_clear   - release a record's attributes
 *    mz_item_tokens             - the cold-start tokens
 *    mz_string_list_clear       - release a list of strings
 *-------------------------------------------------------------------------
 */
#ifndef MZ_ITEM_H
#define MZ_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/status.h"

#define MZ_ID_MAX_BYTES        128       /* longest item, client, brand id */
#define MZ_TIME_NONE_BEFORE    INT64_MIN /* launch_at absent */
#define MZ_TIME_NONE_AFTER     INT64_MAX /* end_at absent */
#define MZ_ITEM_MAX_LIST       64        /* regions, reserved_tiers, tags */
#define MZ_ITEM_MAX_ATTRIBUTES 64
/* An attribute's value may be a list: at most this many entries each, and
 * at most MZ_ITEM_MAX_ATTRIBUTE_VALUES values (scalars and list entries
 * together) per item, so one item gives a bounded number of tokens. */
#define MZ_ATTRIBUTE_MAX_ENTRIES     64
#define MZ_ITEM_MAX_ATTRIBUTE_VALUES 256

struct mz_string_list {
    char **items; /* owned strings */
    size_t count;
};

/* What an attribute's value is. Integers and reals stay apart, so an
 * item written back shows 42 as 42 and 42.0 as 42.0, as it was given. */
enum mz_attribute_kind {
    MZ_ATTRIBUTE_STRING = 0,
    MZ_ATTRIBUTE_INTEGER,
    MZ_ATTRIBUTE_REAL,
    MZ_ATTRIBUTE_BOOLEAN,
    MZ_ATTRIBUTE_LIST, /* of strings, or of numbers (integers and reals) */
};

/* An attribute, or an entry of a list attribute: an entry has no key and
 * is never a list itself (nor a boolean). */
struct mz_item_attribute {
    char *key; /* owned, 1..MZ_ID_MAX_BYTES bytes; NULL for an entry */
    enum mz_attribute_kind kind;
    union {
        char *string; /* owned, at most MZ_ID_MAX_BYTES */
        int64_t integer;
        double real; /* finite */
        bool boolean;
        struct {
            struct mz_item_attribute *entries; /* owned, in order given */
            size_t count; /* <= MZ_ATTRIBUTE_MAX_ENTRIES; 0 allowed */
        } list;
    } value;
};

/* An item's attributes in the order they were given (keys distinct). */
struct mz_item_attributes {
    struct mz_item_attribute *v; /* owned */
    size_t count;
};

struct mz_item {
    char *item_id;    /* owned */
    char *brand;      /* owned */
    char *category;   /* owned */
    char currency[4]; /* ISO 4217, "" when absent */
    double price;     /* >= 0 */
    bool available;
    int64_t stock;     /* -1: not tracked; 0: sold out */
    int64_t launch_at; /* seconds; MZ_TIME_NONE_BEFORE */
    int64_t end_at;    /* seconds; MZ_TIME_NONE_AFTER */
    bool has_regions;  /* false: shown everywhere */
    struct mz_string_list regions;
    bool has_reserved_tiers; /* false: every tier */
    struct mz_string_list reserved_tiers;
    struct mz_string_list tags;
    struct mz_item_attributes attributes;
    /* Filled by the catalog on upsert: */
    int32_t brand_id;    /* interned brand */
    int32_t category_id; /* interned category */
    bool retired;        /* deleted from the catalog */
};

/* Returns an empty record with the defaults of an absent field
 * (available, stock not tracked, no dates, no lists, no attributes),
 * caller frees; NULL on allocation failure. */
struct mz_item *mz_item_new(void);
/* Frees item and everything it owns; accepts NULL. */
void mz_item_free(struct mz_item *item);
/* Frees the attributes and leaves the list empty; accepts NULL. */
void mz_item_attributes_clear(struct mz_item_attributes *attributes);

/* Attribute tokens for the model's cold start ("brand=..", "category=..",
 * "tag=..", "price_band=N", "attr:key=value", one per scalar attribute
 * and one per entry of a list attribute, so ["leather","gold"] gives what
 * two attributes of that key, "leather" and "gold", would; the attribute
 * tokens sorted so that their order in the item does not change an
 * embedding, and each kept once),
 * into a malloc'd array of malloc'd strings (caller frees with
 * mz_string_list_clear). Returns MZ_OK or MZ_ERR_NOMEM (tokens empty). */
enum mz_status mz_item_tokens(const struct mz_item *item,
                              struct mz_string_list *tokens);
/* Frees the strings and the array, leaving the list empty; accepts NULL. */
void mz_string_list_clear(struct mz_string_list *list);

#endif
