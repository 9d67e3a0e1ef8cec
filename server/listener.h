/*-------------------------------------------------------------------------
 * listener.h
 *    maisond's listening socket and the life of each connection on it:
 *    admission (a limit in all and one per client address), deadlines
 *    for a request's head and body that trickling bytes cannot push
 *    back, and the requests in flight that a stop waits for.
 *
 * The HTTP daemon (libmicrohttpd, server/http.c) has no listening socket
 * of its own. The listener's thread accepts each connection, admits or
 * closes it, and hands it to the daemon (the add callback); the daemon's
 * callbacks then report, by socket, what becomes of it. A connection is
 * shut down when the head of its first request is not complete
 * header_timeout_s after it was accepted, when the head of a later
 * request is not complete idle_timeout_s after the previous answer, or
 * when a body is not complete body_timeout_s after its head.
 *
 * Interface routines:
 *    mz_listener_open           - bind and listen (no thread yet)
 *    mz_listener_start          - start accepting on a thread
 *    mz_listener_connection_*   - the daemon reports a connection
 *    mz_listener_request_*      - ... and each request on it, and the
 *                                 progress of a streamed body
 *    mz_listener_stop_accepting - accept what is queued, then close the
 *                                 listening socket
 *    mz_listener_wait_idle      - until no request is in flight
 *    mz_listener_close          - stop the thread, free
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_LISTENER_H
#define MZ_SERVER_LISTENER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct mz_listener;

struct mz_listener_limits {
    int max_connections;        /* open at once, in all */
    int max_connections_per_ip; /* open at once from one address; 0: any */
    int header_timeout_s;       /* first request's head, from accept */
    int idle_timeout_s;         /* a later head, from the previous answer */
    int body_timeout_s;         /* a body, from the end of its head */
};

/* Hands an admitted connection over. Returns false when the receiver
 * refused it, having closed fd. addr is borrowed for the call. */
typedef bool (*mz_listener_add_fn)(void *ctx, int fd,
                                   const struct sockaddr *addr,
                                   socklen_t addr_len);

/* Binds addr (SO_REUSEADDR) and listens; limits are copied. Returns NULL
 * with the reason in err. Nothing is accepted before mz_listener_start. */
struct mz_listener *mz_listener_open(const struct sockaddr_in *addr,
                                     const struct mz_listener_limits *limits,
                                     char *err, size_t err_len);

/* Starts the thread that accepts connections, hands them to add(ctx,
 * ...) and enforces the deadlines. Returns false with the reason in err. */
bool mz_listener_start(struct mz_listener *l, mz_listener_add_fn add, void *ctx,
                       char *err, size_t err_len);

/* The daemon's reports, each naming the connection by its socket; safe
 * from any thread. started: the daemon took the connection over (only
 * then may the listener shut it down); closed: the daemon is about to
 * close the socket. */
void mz_listener_connection_started(struct mz_listener *l, int fd);
void mz_listener_connection_closed(struct mz_listener *l, int fd);
/* request_started: a request's head is complete (its body deadline
 * starts); request_read: its body is complete too (no deadline while it
 * is answered); request_completed: the answer was sent, or the request
 * ended otherwise (the next head's deadline starts). */
void mz_listener_request_started(struct mz_listener *l, int fd);
void mz_listener_request_read(struct mz_listener *l, int fd);
/* request_progress: a streamed body (an import, whose key was checked
 * with its head) made progress; its body deadline starts again. */
void mz_listener_request_progress(struct mz_listener *l, int fd);
void mz_listener_request_completed(struct mz_listener *l, int fd);

/* Accepts the connections already queued on the listening socket, then
 * closes it, and returns once it is closed: new connections are refused
 * by the kernel from then on. The deadlines still apply. */
void mz_listener_stop_accepting(struct mz_listener *l);

/* Waits, at most timeout_ms, until no request is in flight and no
 * connection that has not yet sent a request is still within its
 * header deadline. Returns whether that state was reached; *in_flight
 * (may be NULL) gets the requests still in flight. */
bool mz_listener_wait_idle(struct mz_listener *l, int timeout_ms,
                           int *in_flight);

/* Stops the thread and frees; accepts NULL. Call it after the daemon
 * stopped (it reports to the listener until then). */
void mz_listener_close(struct mz_listener *l);

#endif
