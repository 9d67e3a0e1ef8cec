/*-------------------------------------------------------------------------
 * event_writer.h
 *    Group commit of the event log: one writer thread gathers the events
 *    of all concurrent requests into one INSERT per transaction, so an
 *    fsync is paid per batch, not per event.
 *
 * A request calls mz_event_writer_submit, which blocks until its events
 * are committed (or failed). After each COMMIT, and before any submitter
 * of the batch is woken, the learner thread calls on_committed with the
 * newly inserted events in log (seq) order, one batch after another in
 * commit order, while the writer thread commits the next batch; the
 * server applies them to the model there, so a reply is sent only when
 * the model has learned the events.
 *
 * The writer also follows the log: every commit of its own first reads,
 * under the log lock, what other transactions (other nodes' batches,
 * change markers) committed since its last read, and when idle it polls
 * the log every MZ_WRITER_POLL_MS (at once when asked). The learner thus
 * gets every row of the log exactly once, in seq order, own and others'
 * alike (docs/several-nodes.md).
 *
 * Interface routines:
 *    mz_event_writer_start / _stop
 *    mz_event_writer_submit
 *    mz_event_writer_wait_applied - read your writes: wait for a position
 *    mz_event_writer_wait_caught_up - the first read of the log at start
 *    mz_event_writer_stats
 *-------------------------------------------------------------------------
 */
#ifndef MZ_EVENT_WRITER_H
#define MZ_EVENT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "model/status.h"
#include "store/store.h"

struct mz_event_writer;

/* Idle, the writer reads the log this often for other nodes' rows. */
#define MZ_WRITER_POLL_MS 100

/* Called on the learner thread with the log's rows in seq order, never
 * for two batches at once: after each commit, the rows other
 * transactions committed before it (from_log true) and the batch's
 * accepted (non-duplicate) events; when idle, the rows read from the
 * log. Rows borrowed. */
typedef void (*mz_events_committed_fn)(
    void *ctx, const struct mz_event_record *const *events, size_t n);

/* Starts the writer and learner threads, the writer on its own connection
 * (conninfo borrowed, copied). max_batch_rows bounds one transaction. The
 * learner is handed every row of the log after follow_from (< 0: after
 * the end of the log as it is now). Returns NULL with the reason in
 * err. */
struct mz_event_writer *mz_event_writer_start(
    const char *conninfo, size_t max_batch_rows, int64_t follow_from,
    mz_events_committed_fn on_committed, void *ctx, char *err, size_t err_len);
/* Commits what is queued, stops the thread, frees the writer; accepts
 * NULL. */
void mz_event_writer_stop(struct mz_event_writer *writer);

/* Appends events[0..n-1] (borrowed) to the log and waits for the commit.
 * On MZ_OK every record's seq is set (> 0 inserted, 0 duplicate of an
 * event_id already in the log or earlier in the same call). On
 * MZ_ERR_DB_UNAVAILABLE / MZ_ERR_DB nothing was written. Also returns
 * MZ_ERR_INVALID (a NULL event_id or client_id, or content PostgreSQL
 * rejects, e.g. invalid UTF-8; other submissions of the same batch still
 * commit) and MZ_ERR_SHUTTING_DOWN once mz_event_writer_stop has begun.
 * While PostgreSQL is unreachable it returns MZ_ERR_DB_UNAVAILABLE at once,
 * and the writer reconnects by itself in the background. */
enum mz_status mz_event_writer_submit(struct mz_event_writer *writer,
                                      struct mz_event_record *events, size_t n);

/* Names the node: the writer then records its applied position in the
 * table nodes a few times a second (node_id copied). Returns false when
 * out of memory. */
bool mz_event_writer_set_node(struct mz_event_writer *writer,
                              const char *node_id);

/* Waits until the learner has applied the log up to position (or a
 * later one), asking the writer to read the log at once, for at most
 * timeout_ms. Returns MZ_OK, or MZ_ERR_NOT_CAUGHT_UP after the wait. */
enum mz_status mz_event_writer_wait_applied(struct mz_event_writer *writer,
                                            int64_t position, int timeout_ms);

/* Waits, at most timeout_ms, until a read of the log since the start
 * has reached its end and what it read is applied. Returns whether it
 * has. */
bool mz_event_writer_wait_caught_up(struct mz_event_writer *writer,
                                    int timeout_ms);

struct mz_event_writer_stats {
    uint64_t commits;
    uint64_t rows_inserted;
    uint64_t rows_duplicate;
    uint64_t rows_followed; /* rows read from the log (others' and markers) */
    uint64_t errors;
    double last_commit_ms; /* duration of the last transaction */
    int64_t last_seq;      /* highest seq read or committed */
    int64_t applied_seq;   /* highest seq the learner has applied */
    int64_t head_seq;      /* highest seq in the log at the last read */
    bool caught_up;        /* a read since the start reached the end of
                              the log, and what it read is applied */
};
void mz_event_writer_stats(struct mz_event_writer *writer,
                           struct mz_event_writer_stats *out);

#endif
