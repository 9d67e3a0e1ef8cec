/*-------------------------------------------------------------------------
 * main.c
 *    maisond: configuration, the embedded PostgreSQL when no database URL
 *    is given, the service state, the HTTP daemon, and the orderly stop on
 *    SIGTERM/SIGINT.
 *
 * Signals are blocked in every thread maisond starts and taken
 * synchronously by the main thread with sigwait, so shut-down runs as
 * ordinary code: stop accepting, answer the requests already read
 * (mz_http_stop), commit queued events, checkpoint, exit 0. Threads that
 * libraries started before main() forward them (forward_stop_signal).
 *-------------------------------------------------------------------------
 */
#include <cblas.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/service/service.h"
#include "model/log.h"
#include "server/config.h"
#include "server/http.h"
#include "server/import_cmd.h"
#include "server/keys_cmd.h"
#include "server/metrics.h"
#include "server/tls.h"
#include "store/embedded_pg.h"

/* The one global of the program: everything the process runs. */
static struct {
    struct mz_config config;
    struct mz_tls_credentials *tls; /* NULL: plain HTTP */
    struct mz_embedded_pg *embedded_pg;
    struct mz_service *svc;
    struct mz_metrics *metrics;
    struct mz_http *http;
} server;

/* A life-cycle line: what happens, and the one thing it concerns. An
 * error names its cause "reason", as every layer's error lines do; other
 * lines call it "detail". */
/* The thread that takes SIGTERM and SIGINT with sigwait: main's. */
static pthread_t stop_signal_waiter;

/* A stop signal delivered to a thread that does not block it. OpenBLAS
 * starts its workers from a constructor, before main() can block the
 * signals, and while main is not in sigwait (starting, or already
 * stopping) the kernel hands a process-directed signal to such a thread:
 * the default action killed maisond with its learned state unwritten
 * (seen as exit status -15 in test_cache.py on a loaded machine).
 * Forwarded, the signal stays pending on main until its sigwait; during
 * a stop it is dropped, and the stop goes on. pthread_kill is
 * async-signal-safe. */
static void forward_stop_signal(int signo)
{
    int saved_errno = errno;

    pthread_kill(stop_signal_waiter, signo);
    errno = saved_errno;
}

static void log_line(enum mz_log_level level, const char *msg,
                     const char *detail)
{
    struct mz_log_line line;

    mz_log_begin(&line, level, msg);
    mz_log_str(&line, level == MZ_LOG_ERROR ? "reason" : "detail",
               detail ? detail : "");
    mz_log_end(&line);
}

/* Makes the data directory when the embedded PostgreSQL needs it. */
static bool ensure_dir(const char *path)
{
    return mkdir(path, 0700) == 0 || errno == EEXIST;
}

/* Secure by default: at the first start (no key was ever made) makes one
 * admin key and writes its secret to DATA_DIR/admin.key, mode 0600. The
 * log says where, never the secret. */
static bool ensure_admin_key(void)
{
    if (!mz_service_has_no_key(server.svc))
        return true;
    char err[1024] = "";
    if (!ensure_dir(server.config.data_dir)) {
        log_line(MZ_LOG_ERROR, "cannot create the data directory",
                 server.config.data_dir);
        return false;
    }
    struct mz_key_spec spec = {.name = "admin (first start)",
                               .roles = MZ_ROLE_ADMIN};
    struct mz_key_created created;
    enum mz_status st =
        mz_service_create_key(server.svc, &spec, NULL, &created);
    if (st != MZ_OK) {
        log_line(MZ_LOG_ERROR, "cannot create the first admin key",
                 mz_status_code(st));
        return false;
    }
    bool ok = mz_write_admin_key(server.config.data_dir, created.token, err,
                                 sizeof err);
    memset(created.token, 0, sizeof created.token);
    if (!ok) {
        /* Nobody holds its secret: revoke it, so the next start tries
         * again. */
        mz_service_revoke_key(server.svc, created.key_id, NULL);
        log_line(MZ_LOG_ERROR, "cannot write the first admin key", err);
        return false;
    }
    char where[4200];
    snprintf(where, sizeof where, "%s/admin.key (key_id %s)",
             server.config.data_dir, created.key_id);
    log_line(MZ_LOG_INFO, "first start: admin key created", where);
    return true;
}

static void shutdown_all(void)
{
    mz_http_stop(server.http);
    mz_service_close(server.svc);
    mz_metrics_free(server.metrics);
    mz_embedded_pg_stop(server.embedded_pg);
    mz_tls_free(server.tls);
}

int main(int argc, char **argv)
{
    char err[1024] = "";
    char conninfo[1024] = "";
    if (argc > 1 && strcmp(argv[1], "keys") == 0)
        return mz_keys_command(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "import") == 0)
        return mz_import_command(argc - 1, argv + 1);
    if (!mz_config_parse(&server.config, argc, argv, stderr))
        return 2;
    if (server.config.help) {
        mz_config_usage(stdout);
        return 0;
    }
    /* Small BLAS calls are 2-10x slower with more threads (measured on
     * 2 cores with Debian's OpenBLAS 0.3.21). */
    openblas_set_num_threads(1);
    /* Requests allocate and free catalog-sized scratch; without these the
     * heap is trimmed and refaulted page by page on every request. */
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);

    /* Before anything starts: a wrong file must not cost a database
     * start to find out. */
    if (server.config.tls_cert) {
        server.tls = mz_tls_load(server.config.tls_cert, server.config.tls_key,
                                 err, sizeof err);
        if (!server.tls) {
            log_line(MZ_LOG_ERROR, "cannot load the TLS certificate", err);
            return 1;
        }
    }

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    stop_signal_waiter = pthread_self();
    struct sigaction forward = {.sa_handler = forward_stop_signal};
    sigfillset(&forward.sa_mask);
    sigaction(SIGTERM, &forward, NULL);
    sigaction(SIGINT, &forward, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Request lines off the HTTP threads: a write(2) that waits for the
     * disk held every one of them (model/log_queue.c). After the mask,
     * so the writer thread never takes SIGTERM from sigwait. */
    if (!mz_log_start_writer())
        log_line(MZ_LOG_WARNING, "log writer thread not started",
                 "lines are written by the threads that log them");

    const char *database = server.config.database_url;
    if (!database) {
        if (!ensure_dir(server.config.data_dir)) {
            log_line(MZ_LOG_ERROR, "cannot create the data directory",
                     server.config.data_dir);
            return 1;
        }
        server.embedded_pg = mz_embedded_pg_start(
            server.config.data_dir, server.config.pg_bindir, conninfo,
            sizeof conninfo, err, sizeof err);
        if (!server.embedded_pg) {
            log_line(MZ_LOG_ERROR, "cannot start the embedded PostgreSQL", err);
            return 1;
        }
        database = conninfo;
        log_line(MZ_LOG_INFO, "embedded PostgreSQL running",
                 server.config.data_dir);
    }

    struct mz_service_config service_config = {
        .conninfo = database,
        .store_pool_size = server.config.threads + 2,
        .model = server.config.model,
        .checkpoint_interval_s = server.config.checkpoint_interval_s,
        .checkpoint_spread_pct = server.config.checkpoint_spread_pct,
        .writer_batch_rows = 10000,
        .memory_limit = server.config.memory_limit,
        .default_rate_per_s = server.config.rate_limit_per_s,
        .default_rate_burst = server.config.rate_limit_burst,
        .node_id = server.config.node_id,
        .ready_max_lag = server.config.ready_max_lag,
        .retention_days = server.config.retention_days,
    };
    server.svc = mz_service_open(&service_config, err, sizeof err);
    server.metrics = mz_metrics_new();
    if (!server.svc || !server.metrics) {
        log_line(MZ_LOG_ERROR, "cannot load the service state", err);
        shutdown_all();
        return 1;
    }
    if (!ensure_admin_key()) {
        shutdown_all();
        return 1;
    }
    const struct mz_http_options http_options = {
        .host = server.config.listen_host,
        .port = server.config.listen_port,
        .threads = server.config.threads,
        .request_slice_us = server.config.request_slice_us,
        .max_connections = server.config.max_connections,
        .max_connections_per_ip = server.config.max_connections_per_ip,
        .header_timeout_s = server.config.header_timeout_s,
        .tls = server.tls,
    };
    server.http = mz_http_start(&http_options, server.svc, server.metrics, err,
                                sizeof err);
    if (!server.http) {
        log_line(MZ_LOG_ERROR, "cannot start HTTP", err);
        shutdown_all();
        return 1;
    }
    char where[300];
    snprintf(where, sizeof where, "%s://%s:%d", server.tls ? "https" : "http",
             server.config.listen_host, server.config.listen_port);
    log_line(MZ_LOG_INFO, "maisond listening", where);

    int signo = 0;
    sigwait(&stop_signals, &signo);
    log_line(MZ_LOG_INFO, "stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
    shutdown_all();
    log_line(MZ_LOG_INFO, "stopped", "state written to PostgreSQL");
    return 0;
}
