/*-------------------------------------------------------------------------
 * intern.c
 *    Interned names: a hash table from name to id and the array back.
 *
 * Interface routines: see intern.h.
 *-------------------------------------------------------------------------
 */
#include "model/intern.h"

#include <stdlib.h>

#include "model/hash.h"

struct mz_intern {
    struct mz_hash_table *ids; /* owned: name -> id */
    const char **names;        /* owned array of ids' keys (borrowed) */
    int32_t count, cap;
};

struct mz_intern *mz_intern_new(void)
{
    struct mz_intern *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    in->ids = mz_hash_table_new();
    if (!in->ids) {
        free(in);
        return NULL;
    }
    return in;
}

void mz_intern_free(struct mz_intern *in)
{
    if (!in)
        return;
    mz_hash_table_free(in->ids);
    free(in->names);
    free(in);
}

int32_t mz_intern_id(struct mz_intern *in, const char *name)
{
    int32_t id = mz_hash_table_get_index(in->ids, name);
    if (id >= 0)
        return id;
    if (in->count == in->cap) {
        int32_t new_cap = in->cap ? in->cap * 2 : 16;
        const char **names =
            realloc(in->names, (size_t)new_cap * sizeof(*names));
        if (!names)
            return -1;
        in->names = names;
        in->cap = new_cap;
    }
    /* The name array borrows the table's copy: it stays at one address
     * because interned keys are never removed. */
    const char *stored = mz_hash_table_put(
        in->ids, name, (union mz_hash_value){.index = in->count});
    if (!stored)
        return -1;
    in->names[in->count] = stored;
    return in->count++;
}

int32_t mz_intern_find(const struct mz_intern *in, const char *name)
{
    return mz_hash_table_get_index(in->ids, name);
}

const char *mz_intern_name(const struct mz_intern *in, int32_t id)
{
    if (id < 0 || id >= in->count)
        return NULL;
    return in->names[id];
}

int32_t mz_intern_count(const struct mz_intern *in)
{
    return in->count;
}
