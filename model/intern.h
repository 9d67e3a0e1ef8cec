/*-------------------------------------------------------------------------
 * intern.h
 *    Interned names: each distinct string gets a small dense id (0, 1,
 *    ...) in the order first seen, so hot loops compare integers instead
 *    of strings. The catalog interns its brands, categories, regions and
 *    tiers this way.
 *
 * Ids are never forgotten nor reused: they are stable for the life of
 * the table. The table owns copies of the names. Not thread-safe;
 * readers may share a table nobody writes.
 *
 * Interface routines:
 *    mz_intern_new / _free
 *    mz_intern_id     - the id of a name, interning it when new
 *    mz_intern_find   - the id of a name, or -1
 *    mz_intern_name   - the name of an id
 *    mz_intern_count  - ids handed out so far
 *-------------------------------------------------------------------------
 */
#ifndef MZ_INTERN_H
#define MZ_INTERN_H

#include <stdint.h>

struct mz_intern;

/* Returns an empty table (caller frees), or NULL on allocation failure. */
struct mz_intern *mz_intern_new(void);
/* Frees the table and its copies of the names; accepts NULL. */
void mz_intern_free(struct mz_intern *in);

/* Returns the id of name (borrowed), interning a copy of it when new;
 * -1 on allocation failure (the table is then unchanged). */
int32_t mz_intern_id(struct mz_intern *in, const char *name);
/* Returns the id of name (borrowed; may be NULL), or -1 when never
 * interned. */
int32_t mz_intern_find(const struct mz_intern *in, const char *name);
/* Returns the name of id (borrowed, valid for the life of the table), or
 * NULL when out of range. */
const char *mz_intern_name(const struct mz_intern *in, int32_t id);
/* Number of ids handed out (they are 0..count-1). */
int32_t mz_intern_count(const struct mz_intern *in);

#endif
