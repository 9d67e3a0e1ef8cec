/*-------------------------------------------------------------------------
 * client_cache.h
 *    The clients in memory as a bounded cache over PostgreSQL (DESIGN.md
 *    section 4, --memory-limit): client records in and out, reading back
 *    a client that is not in memory, and evicting the least recently used
 *    clean clients.
 *
 * A client is evicted only when it is clean: unchanged since the last
 * checkpoint, so its row in client_state is exactly its state in memory
 * (every row is as of the last checkpoint's log position; see
 * docs/durability.md). Eviction therefore writes nothing and loses
 * nothing, and reading the row back gives the client as it was. Every
 * path that uses a client (requests, learning, start-up replay) makes
 * sure it is in memory first.
 *
 * The limit is soft: clients changed since the last checkpoint, or used
 * within the last second (a request between its fetch and its use), are
 * never evicted. The checkpointer evicts after each checkpoint, and is
 * woken early when the count passes max_clients by 1/8.
 *
 * Interface routines:
 *    mz_cache_max_clients        - a memory limit as a client count
 *    mz_cache_save_client / mz_cache_restore_client - record bytes
 *    mz_cache_restore_attributes - a stored attributes document
 *    mz_app_fetch_client         - make sure a client is in memory
 *    mz_cache_get_locked         - the same, under the write lock
 *    mz_cache_evict              - evict down to 7/8 of max_clients
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_CLIENT_CACHE_H
#define MZ_API_CLIENT_CACHE_H

#include "api/app.h"

/* Bytes a client takes beyond struct mz_client: its facts, id, table slot
 * and allocator overhead, as measured by tests/bench (about 2.6 KB per
 * client in all with 1.4 KB of struct mz_client). */
#define MZ_CACHE_CLIENT_OVERHEAD 1200

/* The clients that memory_limit bytes hold (at least 1); 0 for no
 * limit. */
size_t mz_cache_max_clients(const struct mz_model *model, size_t memory_limit);

/* Serialises entry into a malloc'd record (caller frees), or NULL. Caller
 * holds the app lock and the entry's impressions lock. */
void *mz_cache_save_client(const struct mz_app *app,
                           const struct mz_client_entry *entry, size_t *len);

/* Restores a record written by mz_cache_save_client into the table entry
 * of client_id (created when absent). Returns false (with err) for a
 * corrupt record. Caller holds the write lock. */
bool mz_cache_restore_client(struct mz_app *app, const char *client_id,
                             const void *bytes, size_t len, char *err,
                             size_t err_len);

/* Sets the tier and region of client_id's entry from a stored attributes
 * document (creating the entry when create is true; otherwise an absent
 * client is left alone). Returns false (with err) for a bad document or
 * out of memory. Caller holds the write lock. */
bool mz_cache_restore_attributes(struct mz_app *app, const char *client_id,
                                 const char *doc, bool create, char *err,
                                 size_t err_len);

/* Makes sure client_id is in memory, reading it back from PostgreSQL when
 * it was evicted (or not loaded at start), and marks it used. A client
 * unknown to memory and database gets an empty entry only when create is
 * true. Call without the app lock. Returns MZ_OK, MZ_ERR_DB_UNAVAILABLE /
 * MZ_ERR_DB, MZ_ERR_NOMEM, or MZ_ERR_INTERNAL for a corrupt record. */
enum mz_status mz_app_fetch_client(struct mz_app *app, const char *client_id,
                                   bool create);

/* mz_app_fetch_client(create = true) for a caller that holds the write
 * lock (start-up replay, and the learning of an event whose client was
 * not fetched): returns the entry, or NULL when it cannot be read. */
struct mz_client_entry *mz_cache_get_locked(struct mz_app *app,
                                            const char *client_id);

/* Evicts clean clients unused for a second, least recently used first,
 * until at most 7/8 of max_clients remain (when over max_clients).
 * Returns how many went. Takes the locks itself. */
size_t mz_cache_evict(struct mz_app *app);

#endif
