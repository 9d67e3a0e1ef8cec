/*-------------------------------------------------------------------------
 * client_table.h
 *    The clients in memory: id -> entry holding the client's learned
 *    levels (struct mz_client), facts (struct mz_client_facts) and the
 *    attributes the rules read (tier, region, consent).
 *
 * An open-addressing hash table keyed by client id. Not thread-safe: the
 * server mutates it only under its write lock. Each entry has its own
 * mutex for the one thing readers write, the impressions that the
 * frequency cap counts.
 *
 * Interface routines:
 *    mz_client_table_new / _free
 *    mz_client_table_get        - entry or NULL (borrowed)
 *    mz_client_table_get_or_add - entry, created empty when absent
 *    mz_client_table_remove     - erase one client
 *    mz_client_table_next       - iterate entries
 *    mz_client_entry_set_attributes
 *-------------------------------------------------------------------------
 */
#ifndef MZ_CLIENT_TABLE_H
#define MZ_CLIENT_TABLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/client_facts.h"
#include "model/model.h"

struct mz_client_entry {
    char *client_id;                 /* owned */
    struct mz_client *memory;        /* owned: the learned levels */
    struct mz_client_facts *facts;   /* owned */
    char *tier;                      /* owned; NULL when unknown */
    char *region;                    /* owned; NULL when unknown */
    bool consent;                    /* personalisation allowed (default) */
    bool has_attributes;             /* PUT .../attributes was called */
    bool dirty;                      /* changed since the last checkpoint */
    int64_t events_logged;           /* events in the log, learned or not */
    _Atomic int64_t last_used_ms;    /* last request or event (monotonic
                                        clock), for the eviction order;
                                        readers store it too */
    pthread_mutex_t impressions_lock;/* guards facts' impressions */
};

struct mz_client_table;

/* Returns an empty table for clients of model (borrowed, must outlive the
 * table), or NULL on allocation failure. */
struct mz_client_table *mz_client_table_new(const struct mz_model *model);
/* Frees every entry and the table; accepts NULL. */
void mz_client_table_free(struct mz_client_table *table);

/* Returns the entry of client_id (borrowed, valid until it is removed or
 * the table freed), or NULL. */
struct mz_client_entry *mz_client_table_get(const struct mz_client_table *table,
                                            const char *client_id);
/* Returns the entry of client_id, adding a new one (zero levels, no
 * facts, consent on) when absent; NULL on allocation failure. */
struct mz_client_entry *mz_client_table_get_or_add(struct mz_client_table *table,
                                                   const char *client_id);
/* Removes and frees the entry; returns whether it existed. */
bool mz_client_table_remove(struct mz_client_table *table,
                            const char *client_id);
/* Number of entries. */
size_t mz_client_table_count(const struct mz_client_table *table);

/* Iterates: start with *cursor = 0; returns the next entry or NULL at the
 * end. The table must not change during the iteration. */
struct mz_client_entry *mz_client_table_next(const struct mz_client_table *table,
                                             size_t *cursor);

/* Replaces the entry's tier and region (borrowed, copied; NULL clears).
 * Returns false on allocation failure, leaving the entry unchanged. */
bool mz_client_entry_set_attributes(struct mz_client_entry *entry,
                                    const char *tier, const char *region);

#endif
