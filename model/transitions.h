/*-------------------------------------------------------------------------
 * transitions.h
 *    The sparse item -> next-item memory of the catalog-wide level
 *    (sequential rules): how often, and how closely, item b followed
 *    item a in some client's history.
 *
 * Each source item owns a small open-addressing table of successors with
 * a weight (sum of 1/distance over observed pairs) and the total weight of
 * the source, so a reader can turn weights into conditional shares; each
 * item also keeps the set of sources that store it, so that whether two
 * items are linked either way is answered from one of them.
 *
 * Ownership: every function borrows its arguments; mz_transitions_new
 * returns an object the caller releases with mz_transitions_free (which
 * accepts NULL).
 *
 * Interface routines:
 *    mz_transitions_new / _free
 *    mz_transitions_grow   - make room for more source items
 *    mz_transitions_add    - strengthen a -> b
 *    mz_transitions_get    - weight of a -> b
 *    mz_transitions_linked - whether a -> b or b -> a is stored
 *    mz_transitions_defer_predecessors / _index_predecessors - a bulk load
 *    mz_transitions_total  - total outgoing weight of a
 *    mz_transitions_set_total - restore a's total from a snapshot
 *    mz_transitions_slots  - the successor table of a, for a scan
 *    mz_transitions_prefetch_source - cache hint for a's table
 *-------------------------------------------------------------------------
 */
#ifndef MZ_TRANSITIONS_H
#define MZ_TRANSITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mz_transitions;

/* A new, empty memory for n_items source items (caller frees), bounded to
 * max_per_item successors per source (0: unbounded); NULL when out of
 * memory. */
struct mz_transitions *mz_transitions_new(int32_t n_items,
                                          uint32_t max_per_item);
void mz_transitions_free(struct mz_transitions *t);

/* Extends the memory to n_items sources; returns false (memory unchanged)
 * on allocation failure. */
bool mz_transitions_grow(struct mz_transitions *t, int32_t n_items);

/* Adds weight (> 0) to the pair a -> b (both below n_items; any other
 * pair is ignored). A source that already holds
 * max_per_item successors ignores new ones (but still counts the weight in
 * its total, so shares stay honest). Returns false on allocation failure
 * (the pair is then not stored). */
bool mz_transitions_add(struct mz_transitions *t, int32_t a, int32_t b,
                        float weight);

/* Sets the total outgoing weight of a (restoring a snapshot, whose
 * totals also count successors that were never stored). */
void mz_transitions_set_total(struct mz_transitions *t, int32_t a, float total);

float mz_transitions_get(const struct mz_transitions *t, int32_t a, int32_t b);

/* A bulk load (a snapshot's pairs): after mz_transitions_defer_predecessors,
 * mz_transitions_add stores successors only, and
 * mz_transitions_index_predecessors then builds every item's predecessor
 * set in one pass, each allocated once at its final size, where adding
 * pair by pair grew the sets step by step (the global level's load after
 * 2,000,000 events: 1.8-2.2 s pair by pair, 0.65-0.99 s in one pass,
 * 0.4 s without the sets). Until the index,
 * mz_transitions_linked answers from the successors only. Returns false
 * when out of memory (the sets are then incomplete: free t). */
void mz_transitions_defer_predecessors(struct mz_transitions *t);
bool mz_transitions_index_predecessors(struct mz_transitions *t);

/* Whether b is a stored successor of a or a one of b: true exactly when
 * mz_transitions_get(t, a, b) > 0 or mz_transitions_get(t, b, a) > 0
 * (a stored weight is always > 0: the weights added are), but reading
 * only a's successors and a's set of predecessors, so a caller asking
 * one item about many others reads memory that stays in cache. */
bool mz_transitions_linked(const struct mz_transitions *t, int32_t a,
                           int32_t b);

/* A cache hint for a coming mz_transitions_get or _add from a: starts
 * loading a's table header. It changes nothing; any a is accepted. */
void mz_transitions_prefetch_source(const struct mz_transitions *t, int32_t a);

float mz_transitions_total(const struct mz_transitions *t, int32_t a);

/* Successor table of a as parallel arrays (borrowed; valid until the next
 * add): slots whose item is -1 are empty. Returns the number of slots. */
uint32_t mz_transitions_slots(const struct mz_transitions *t, int32_t a,
                              const int32_t **items, const float **weights);

#endif
