/*-------------------------------------------------------------------------
 * hash.h
 *    The one hash function of the tree (FNV-1a 64) and the one hash
 *    table: open addressing keyed by NUL-terminated strings, holding a
 *    dense index or a pointer per key.
 *
 * The hash values are persisted (the checksum of model/bytes.c) and
 * seed the model's deterministic token vectors, so mz_hash_bytes must
 * stay standard FNV-1a 64 bit for bit (tests/model/test_hash.c pins it).
 *
 * Ownership: the table copies every key it stores and frees the copies;
 * it never owns values. A pointer value stays the caller's: free what it
 * points to before removing, replacing or freeing (mz_hash_table_next
 * walks them). Not thread-safe; readers may share a table nobody writes.
 *
 * Interface routines:
 *    mz_hash_bytes / mz_hash_string - FNV-1a 64 of bytes, of a string
 *    mz_hash_table_new / _free
 *    mz_hash_table_get        - the value of a key
 *    mz_hash_table_get_index  - the index value of a key, or -1
 *    mz_hash_table_put        - insert or replace
 *    mz_hash_table_remove     - erase one key
 *    mz_hash_table_clear      - erase every key, keep the capacity
 *    mz_hash_table_count      - number of keys
 *    mz_hash_table_next       - iterate with a cursor
 *-------------------------------------------------------------------------
 */
#ifndef MZ_HASH_H
#define MZ_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns the FNV-1a 64 hash (offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3) of bytes[0..len-1] (borrowed; may be NULL when len is
 * 0). */
uint64_t mz_hash_bytes(const void *bytes, size_t len);
/* Returns mz_hash_bytes of s (borrowed) without its NUL. */
uint64_t mz_hash_string(const char *s);

/* What a key maps to: which member is meaningful is the user's
 * convention, one per table. */
union mz_hash_value {
    int32_t index; /* a dense index (catalog ids, interned names) */
    void *ptr;     /* an object the caller owns (a client entry) */
};

struct mz_hash_table;

/* Returns an empty table (no slots until the first put), caller frees;
 * NULL on allocation failure. */
struct mz_hash_table *mz_hash_table_new(void);
/* Frees the table and its key copies, not the values; accepts NULL. */
void mz_hash_table_free(struct mz_hash_table *table);

/* Returns whether key (borrowed; NULL is never present) is in the
 * table, and its value in *value when value is not NULL. */
bool mz_hash_table_get(const struct mz_hash_table *table, const char *key,
                       union mz_hash_value *value);
/* Returns the index value of key (borrowed; may be NULL), or -1 when
 * absent: the lookup of a table of dense indices. */
int32_t mz_hash_table_get_index(const struct mz_hash_table *table,
                                const char *key);

/* Maps key (borrowed, copied when new) to value, replacing the value of
 * a key already present (a replaced pointer is not freed: get it first
 * when it is yours). Returns the table's copy of key (owned by the
 * table, at the same address until the key is removed, the table cleared
 * or freed), or NULL on allocation failure (the table is then
 * unchanged). */
const char *mz_hash_table_put(struct mz_hash_table *table, const char *key,
                              union mz_hash_value value);

/* Removes key (borrowed); returns whether it was present, with its value
 * in *old when old is not NULL. The key's copy is freed. */
bool mz_hash_table_remove(struct mz_hash_table *table, const char *key,
                          union mz_hash_value *old);
/* Removes every key (their copies are freed) and keeps the slots, for a
 * table refilled again and again. */
void mz_hash_table_clear(struct mz_hash_table *table);
/* Number of keys. */
size_t mz_hash_table_count(const struct mz_hash_table *table);

/* Iterates: start with *cursor = 0; each call returns true with the next
 * key (borrowed, the table's copy) in *key and its value in *value (both
 * may be NULL), or false at the end. The order is the slot order,
 * unrelated to insertion; the table must not change during an
 * iteration. */
bool mz_hash_table_next(const struct mz_hash_table *table, size_t *cursor,
                        const char **key, union mz_hash_value *value);

#endif
