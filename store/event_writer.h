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
 * Interface routines:
 *    mz_event_writer_start / _stop
 *    mz_event_writer_submit
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

/* Called on the learner thread after each commit with the accepted
 * (non-duplicate) events in seq order, never for two batches at once;
 * events borrowed. */
typedef void (*mz_events_committed_fn)(
    void *ctx, const struct mz_event_record *const *events, size_t n);

/* Starts the writer and learner threads, the writer on its own connection
 * (conninfo borrowed, copied). max_batch_rows bounds one transaction. Returns
 * NULL with the reason in err. */
struct mz_event_writer *mz_event_writer_start(
    const char *conninfo, size_t max_batch_rows,
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

struct mz_event_writer_stats {
    uint64_t commits;
    uint64_t rows_inserted;
    uint64_t rows_duplicate;
    uint64_t errors;
    double last_commit_ms; /* duration of the last transaction */
    int64_t last_seq;      /* highest committed seq */
};
void mz_event_writer_stats(struct mz_event_writer *writer,
                           struct mz_event_writer_stats *out);

#endif
