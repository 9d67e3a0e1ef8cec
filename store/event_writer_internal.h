/*-------------------------------------------------------------------------
 * event_writer_internal.h
 *    What the two files of the event-log writer share: its state, the
 *    batches on their way to the learner, and the database work the
 *    threads of event_writer.c call in event_writer_db.c. No one else
 *    includes it.
 *-------------------------------------------------------------------------
 */
#ifndef MZ_EVENT_WRITER_INTERNAL_H
#define MZ_EVENT_WRITER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/hash.h"
#include "store/event_writer.h"
#include "store/pg.h"

/* Reconnect backoff: first retry soon (a restart takes about a second),
 * then back off so a long outage costs nothing, but never wait so long
 * that recovery is noticeably late. */
#define MZ_WRITER_BACKOFF_MIN_MS 100
#define MZ_WRITER_BACKOFF_MAX_MS 2000

/* Committed batches that may wait for the learner (one more is being
 * learned). With one, the learner sat idle while the writer committed
 * the next batch (docs/durability.md, stalls item 19). */
#define MZ_WRITER_LEARN_BACKLOG 3

/* The ten columns of one event, as the server unnests them, then the
 * event ids of the batch's consent markers and their callers. */
#define MZ_WRITER_COLUMNS 12

/* Rows of the log one idle read takes at most (a node far behind reads
 * again at once). Inside a batch's transaction there is no bound: it is
 * what others committed since the last read, a poll interval's worth. */
#define MZ_WRITER_FOLLOW_ROWS 2000
#define MZ_WRITER_FOLLOW_ALL  "2147483647"

/* How often the writer records its node's applied position (nodes). */
#define MZ_WRITER_HEARTBEAT_MS 250

/* One mz_event_writer_submit call, on the submitter's stack. */
struct submission {
    struct mz_event_record *events; /* borrowed from the submitter */
    size_t n;
    enum mz_status status;
    bool done;
    pthread_cond_t done_cond;
    struct submission *next;
};

/* Rows of the log on their way to the learner: a committed batch with
 * what was read before it, or an idle read. */
struct learn_batch {
    struct submission *subs;       /* linked by next, woken once learned;
                                      NULL for an idle read */
    struct mz_event_record **rows; /* owned array, seq order: pointers to
                                      the batch's accepted records
                                      (borrowed from subs) and to followed */
    size_t n_rows;
    struct mz_event_record **followed; /* owned array of owned rows read
                                          from the log (copy_row) */
    size_t n_followed;
    size_t followed_cap;
    int64_t end;      /* the read position after this batch */
    bool reached_end; /* an idle read that found the end of the log */
    struct learn_batch *next;
};

/* One distinct event_id of a batch. */
struct batch_id {
    struct mz_event_record *rec; /* first record with this id */
    bool accepted;
};

struct mz_event_writer {
    char *conninfo; /* owned */
    size_t max_batch_rows;
    mz_events_committed_fn on_committed;
    void *ctx;

    pthread_t thread;
    bool thread_started;
    pthread_t learner;
    bool learner_started;
    pthread_mutex_t lock; /* guards everything down to stats */
    pthread_cond_t work;  /* queue, stop, backoff or backlog changed */
    pthread_cond_t learn; /* learn queue or learner_stopping changed */
    struct submission *head;
    struct submission *tail;
    struct learn_batch *learn_head; /* committed, not yet learned */
    struct learn_batch *learn_tail;
    size_t learn_waiting; /* batches in the learn queue */
    bool stopping;
    bool learner_stopping;  /* the writer has exited: drain, then stop */
    bool db_down;           /* no connection: submit fails fast */
    bool follow_now;        /* a request waits for a position: read now */
    pthread_cond_t applied; /* stats.applied_seq moved */
    int64_t end_seen;       /* the log's end, as the last idle read that
                               reached it saw it (-1: none yet) */
    struct mz_event_writer_stats stats;

    char *node_id; /* owned; NULL: no heartbeat (guarded by lock) */

    /* Used by the writer thread only. */
    struct mz_pg_conn pg;
    int64_t last_seq; /* the read position: every row up to it was
                         committed by us or read, and handed on */
    struct mz_hash_table *batch_ids; /* owned: event_id -> uniques[] */
    struct batch_id *uniques;        /* owned, rows_cap */
    struct mz_event_record **firsts; /* owned: unique records of a batch */
    size_t rows_cap;
};

/* ---- event_writer_db.c: the writer thread's statements ---------------- */

enum mz_status mz_writer_connect(struct mz_event_writer *w, char *err,
                                 size_t err_len);
/* Commits the submissions of batch (rows records) in one transaction
 * under the log lock; on MZ_OK every record's seq is set and lb holds, in
 * seq order, the rows others committed before it and the inserted ones;
 * *duplicates counts the rest. */
enum mz_status mz_writer_commit_batch(struct mz_event_writer *w,
                                      struct submission *batch, size_t rows,
                                      struct learn_batch *lb,
                                      uint64_t *duplicates);
/* Reads at most limit rows of the log after the read position into
 * lb->followed; *n_read is how many the statement returned. */
enum mz_status mz_writer_follow_read(struct mz_event_writer *w,
                                     struct learn_batch *lb, const char *limit,
                                     int *n_read);
/* Sets lb->rows to its followed rows and the n accepted records, in seq
 * order, and lb->end to the highest; false when out of memory. */
bool mz_writer_merge_rows(struct learn_batch *lb,
                          struct mz_event_record *const *accepted, size_t n);
void mz_writer_learn_batch_free(struct learn_batch *lb);
/* Records node's applied position in nodes (a failure waits for the
 * next one). */
void mz_writer_heartbeat_exec(struct mz_event_writer *w, const char *node,
                              int64_t applied);
/* Sets *end to the last seq of the log. */
enum mz_status mz_writer_log_end(struct mz_event_writer *w, int64_t *end);

#endif
