/*-------------------------------------------------------------------------
 * log_queue.h
 *    The log's writer thread and the ring it writes from (log.c uses it;
 *    nothing else should: see mz_log_start_writer in log.h).
 *
 * Interface routines:
 *    mz_log_queue_start   - allocate the ring, start the writer thread
 *    mz_log_queue_stop    - write what is queued, stop the thread
 *    mz_log_queue_put     - queue one whole line
 *    mz_log_queue_dropped - lines dropped because the ring was full
 *-------------------------------------------------------------------------
 */
#ifndef MZ_LOG_QUEUE_H
#define MZ_LOG_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes len bytes (whole lines) where the log goes. */
typedef void (*mz_log_queue_write_fn)(const char *bytes, size_t len);
/* Logs that total lines were dropped so far (called by the writer once
 * the ring is empty again after a drop). */
typedef void (*mz_log_queue_dropped_fn)(uint64_t total);

/* Returns false when already started or out of memory or threads (lines
 * are then written directly). Start it with the signals the process
 * waits for blocked: the thread inherits the mask. */
bool mz_log_queue_start(mz_log_queue_write_fn write,
                        mz_log_queue_dropped_fn report_dropped);
/* Returns once every queued line is written; later lines are written
 * directly. Does nothing when not started. */
void mz_log_queue_stop(void);
/* Queues line[0..len-1] (one whole line, at most PIPE_BUF bytes, newline
 * included; copied). Returns false when the caller must write it itself:
 * the queue is not running, or it is full and must_keep is set. A full
 * queue drops a line without must_keep, counts it and returns true. */
bool mz_log_queue_put(const char *line, size_t len, bool must_keep);
uint64_t mz_log_queue_dropped(void);

#endif
