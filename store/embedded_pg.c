/*-------------------------------------------------------------------------
 * embedded_pg.c
 *    The private PostgreSQL cluster maisond runs in its data directory
 *    when it is given no --database-url: one command gets a durable
 *    server with nothing to install or configure.
 *
 * Layout: data_dir/pg is the cluster, data_dir/postgres.log its log,
 * data_dir/.s.PGSQL.5432 its socket. There is no TCP listener, so the
 * port only names the socket and never collides with another server.
 * The server runs as the user running maisond, which must not be root
 * (PostgreSQL refuses).
 *
 * Interface routines: see embedded_pg.h.
 *-------------------------------------------------------------------------
 */
#include "store/embedded_pg.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/log.h"

#define MZ_EMBEDDED_PG_PORT   "5432"
#define MZ_EMBEDDED_PG_DBNAME "maison"
/* Crash recovery of a large cluster can take a while; a healthy start
 * takes about a second. */
#define MZ_EMBEDDED_PG_START_TIMEOUT_S 120

struct mz_embedded_pg {
    char bindir[PATH_MAX];
    char pgdata[PATH_MAX];
};

/* Runs argv[0] with stdout and stderr appended to log_path; returns its
 * exit status, or -1 when it could not be run. */
static int run(char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    int status;

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd =
            open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        sigset_t none;

        /* maisond blocks SIGTERM and SIGINT (server/main.c), and a mask
         * outlives execv: pg_ctl and initdb get the one they expect. */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);

        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A line about one file or directory of the cluster. */
static void log_file(enum mz_log_level level, const char *msg, const char *key,
                     const char *path)
{
    struct mz_log_line line;

    mz_log_begin(&line, level, msg);
    mz_log_str(&line, key, path);
    mz_log_end(&line);
}

static bool file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Appends value to buf as a libpq conninfo value, quoted. */
static bool conninfo_append(char *buf, size_t len, const char *key,
                            const char *value)
{
    size_t at = strlen(buf);

    if (at + strlen(key) + 4 >= len)
        return false;
    at += (size_t)snprintf(buf + at, len - at, "%s%s='", at ? " " : "", key);
    for (const char *p = value; *p; p++) {
        if (at + 3 >= len)
            return false;
        if (*p == '\'' || *p == '\\')
            buf[at++] = '\\';
        buf[at++] = *p;
    }
    if (at + 2 >= len)
        return false;
    buf[at++] = '\'';
    buf[at] = '\0';
    return true;
}

/* Writes data_dir-dependent settings into pgdata/maison.conf, which
 * postgresql.conf includes. Returns false on an I/O error. */
static bool write_settings(const char *pgdata, const char *data_dir)
{
    char path[PATH_MAX + 32];
    FILE *f;
    bool ok;

    snprintf(path, sizeof path, "%s/maison.conf", pgdata);
    f = fopen(path, "w");
    if (f == NULL)
        return false;
    fputs("# Written by maisond at every start; edit postgresql.conf instead.\n"
          "listen_addresses = ''\n"
          "port = " MZ_EMBEDDED_PG_PORT "\n"
          "unix_socket_directories = '",
          f);
    for (const char *p = data_dir; *p; p++) {
        if (*p == '\'')
            fputc('\'', f);
        fputc(*p, f);
    }
    fputs("'\nunix_socket_permissions = 0700\n", f);
    ok = !ferror(f);
    return fclose(f) == 0 && ok;
}

/* Whether pid is a live postgres process (not just any process that
 * happens to have reused the pid of a crashed postmaster). */
static bool is_postgres(long pid)
{
    char path[64], comm[64] = "";
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    if (fgets(comm, sizeof comm, f) == NULL)
        comm[0] = '\0';
    fclose(f);
    return strncmp(comm, "postgres", 8) == 0 ||
           strncmp(comm, "postmaster", 10) == 0;
}

/* Reads the pid on the first line of a postmaster.pid-style lock file,
 * or 0. */
static long lock_file_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid < 0 ? -pid : pid;
}

struct mz_embedded_pg *mz_embedded_pg_start(const char *data_dir,
                                            const char *pg_bindir,
                                            char *conninfo, size_t conninfo_len,
                                            char *err, size_t err_len)
{
    struct mz_embedded_pg *pg = NULL;
    char dir[PATH_MAX], path[PATH_MAX + 64], log_path[PATH_MAX + 32];
    char initdb[PATH_MAX + 16], pg_ctl[PATH_MAX + 16];
    char timeout[16];
    PGconn *conn = NULL;
    PGresult *res = NULL;
    time_t deadline;
    long pid;

    conninfo[0] = '\0';
    if (geteuid() == 0) {
        snprintf(err, err_len,
                 "the embedded PostgreSQL cannot run as root: run maisond as "
                 "a regular user (deploy/quickstart.sh does), or pass "
                 "--database-url to use an existing PostgreSQL");
        return NULL;
    }
    if (pg_bindir == NULL || *pg_bindir == '\0')
        pg_bindir = MZ_PG_BINDIR;
    snprintf(initdb, sizeof initdb, "%s/initdb", pg_bindir);
    snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", pg_bindir);
    if (access(initdb, X_OK) != 0 || access(pg_ctl, X_OK) != 0) {
        snprintf(err, err_len,
                 "PostgreSQL server binaries not found in '%s' (initdb, "
                 "pg_ctl); install PostgreSQL or pass --database-url",
                 pg_bindir);
        return NULL;
    }
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create %s: %s", data_dir,
                 strerror(errno));
        return NULL;
    }
    /* The socket directory must be absolute: libpq reads a host that does
     * not start with '/' as a host name. */
    if (realpath(data_dir, dir) == NULL) {
        snprintf(err, err_len, "%s: %s", data_dir, strerror(errno));
        return NULL;
    }
    if (strlen(dir) + sizeof "/.s.PGSQL." MZ_EMBEDDED_PG_PORT ".lock" >
        sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, err_len,
                 "data directory path too long for a Unix socket (%zu "
                 "bytes): %s",
                 strlen(dir), dir);
        return NULL;
    }

    pg = calloc(1, sizeof *pg);
    if (pg == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    snprintf(pg->bindir, sizeof pg->bindir, "%s", pg_bindir);
    snprintf(pg->pgdata, sizeof pg->pgdata, "%s/pg", dir);
    snprintf(log_path, sizeof log_path, "%s/postgres.log", dir);

    /* First use: create the cluster. */
    snprintf(path, sizeof path, "%s/PG_VERSION", pg->pgdata);
    if (!file_exists(path)) {
        char *const argv[] = {
            initdb, "-D",    pg->pgdata, "-U",   "postgres",
            "-A",   "trust", "-E",       "UTF8", "--no-instructions",
            NULL};
        FILE *conf;

        if (file_exists(pg->pgdata)) {
            snprintf(err, err_len,
                     "%s exists but is not a PostgreSQL cluster (an "
                     "interrupted initdb?); remove it and start again",
                     pg->pgdata);
            goto fail;
        }
        log_file(MZ_LOG_INFO, "creating the embedded PostgreSQL cluster",
                 "pgdata", pg->pgdata);
        if (run(argv, log_path) != 0) {
            snprintf(err, err_len, "initdb failed; see %s", log_path);
            goto fail;
        }
        snprintf(path, sizeof path, "%s/postgresql.conf", pg->pgdata);
        conf = fopen(path, "a");
        if (conf == NULL ||
            fputs("\n# maisond: socket and listener settings\n"
                  "include_if_exists = 'maison.conf'\n",
                  conf) < 0 ||
            fclose(conf) != 0) {
            snprintf(err, err_len, "cannot write %s", path);
            goto fail;
        }
    }
    if (!write_settings(pg->pgdata, dir)) {
        snprintf(err, err_len, "cannot write %s/maison.conf", pg->pgdata);
        goto fail;
    }

    /* A postmaster left from an unclean exit of maisond: stop it so it
     * runs with the settings just written. A lock file whose pid is not a
     * postgres process is stale (a crash, then pid reuse) and removed, as
     * postgres would otherwise refuse to start. */
    snprintf(path, sizeof path, "%s/postmaster.pid", pg->pgdata);
    pid = lock_file_pid(path);
    if (pid > 0 && is_postgres(pid)) {
        char *const argv[] = {pg_ctl, "-D", pg->pgdata, "-m",
                              "fast", "-w", "stop",     NULL};
        struct mz_log_line line;

        mz_log_begin(&line, MZ_LOG_WARNING,
                     "stopping the embedded PostgreSQL left running by an "
                     "unclean exit, to restart it");
        mz_log_int(&line, "pid", pid);
        mz_log_end(&line);
        if (run(argv, log_path) != 0) {
            snprintf(err, err_len,
                     "a PostgreSQL server (pid %ld) already runs on %s and "
                     "would not stop; see %s",
                     pid, pg->pgdata, log_path);
            goto fail;
        }
    } else if (pid > 0) {
        log_file(MZ_LOG_WARNING, "removing a stale PostgreSQL lock file",
                 "path", path);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/.s.PGSQL." MZ_EMBEDDED_PG_PORT ".lock",
             dir);
    pid = lock_file_pid(path);
    if (pid > 0 && !is_postgres(pid)) {
        log_file(MZ_LOG_WARNING, "removing a stale PostgreSQL lock file",
                 "path", path);
        unlink(path);
    }

    snprintf(timeout, sizeof timeout, "%d", MZ_EMBEDDED_PG_START_TIMEOUT_S);
    {
        char *const argv[] = {pg_ctl, "-D", pg->pgdata, "-l",    log_path,
                              "-w",   "-t", timeout,    "start", NULL};

        if (run(argv, log_path) != 0) {
            snprintf(err, err_len, "PostgreSQL did not start; see %s",
                     log_path);
            goto fail;
        }
    }

    /* pg_ctl -w returns once the postmaster is up; wait until it also
     * accepts connections (it may still be replaying WAL). */
    if (!conninfo_append(conninfo, conninfo_len, "host", dir) ||
        !conninfo_append(conninfo, conninfo_len, "port", MZ_EMBEDDED_PG_PORT) ||
        !conninfo_append(conninfo, conninfo_len, "user", "postgres") ||
        !conninfo_append(conninfo, conninfo_len, "dbname", "postgres")) {
        snprintf(err, err_len, "connection string buffer too small");
        goto fail;
    }
    deadline = time(NULL) + MZ_EMBEDDED_PG_START_TIMEOUT_S;
    while (PQping(conninfo) != PQPING_OK) {
        struct timespec pause = {0, 100000000L};

        if (time(NULL) > deadline) {
            snprintf(err, err_len,
                     "PostgreSQL started but does not accept connections; "
                     "see %s",
                     log_path);
            goto fail;
        }
        nanosleep(&pause, NULL);
    }

    /* maisond's own database, created once. */
    conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(err, err_len, "cannot connect to the embedded PostgreSQL: %s",
                 PQerrorMessage(conn));
        goto fail;
    }
    res = PQexec(
        conn,
        "SELECT 1 FROM pg_database WHERE datname = '" MZ_EMBEDDED_PG_DBNAME
        "'");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
        PQclear(res);
        res = PQexec(conn, "CREATE DATABASE " MZ_EMBEDDED_PG_DBNAME);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            snprintf(err, err_len, "cannot create database %s: %s",
                     MZ_EMBEDDED_PG_DBNAME, PQresultErrorMessage(res));
            goto fail;
        }
    } else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, err_len, "embedded PostgreSQL: %s",
                 PQresultErrorMessage(res));
        goto fail;
    }
    PQclear(res);
    PQfinish(conn);
    conninfo[0] = '\0';
    conninfo_append(conninfo, conninfo_len, "host", dir);
    conninfo_append(conninfo, conninfo_len, "port", MZ_EMBEDDED_PG_PORT);
    conninfo_append(conninfo, conninfo_len, "user", "postgres");
    conninfo_append(conninfo, conninfo_len, "dbname", MZ_EMBEDDED_PG_DBNAME);
    return pg;

fail:
    PQclear(res);
    PQfinish(conn);
    mz_embedded_pg_stop(pg);
    conninfo[0] = '\0';
    return NULL;
}

void mz_embedded_pg_stop(struct mz_embedded_pg *pg)
{
    char pg_ctl[PATH_MAX + 16], log_path[PATH_MAX + 32];
    char pidfile[PATH_MAX + 32];

    if (pg == NULL)
        return;
    snprintf(pidfile, sizeof pidfile, "%s/postmaster.pid", pg->pgdata);
    if (file_exists(pidfile)) {
        char *const argv[] = {pg_ctl, "-D", pg->pgdata, "-m",
                              "fast", "-w", "stop",     NULL};

        snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", pg->bindir);
        snprintf(log_path, sizeof log_path, "%s/../postgres.log", pg->pgdata);
        if (run(argv, log_path) != 0)
            log_file(MZ_LOG_ERROR, "the embedded PostgreSQL did not stop",
                     "log", log_path);
    }
    free(pg);
}
