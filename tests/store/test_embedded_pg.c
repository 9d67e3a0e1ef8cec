/*-------------------------------------------------------------------------
 * test_embedded_pg.c
 *    store/embedded_pg.c: first start (initdb), restart after a crash of
 *    the postmaster, start while a previous server still runs, stop, and
 *    the refusal to run as root.
 *
 * PostgreSQL refuses to run as root, so when the test runs as root the
 * scenarios run in a child process switched to the unprivileged user the
 * harness uses (MAISON_TEST_PG_USER), or are skipped without one.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/embedded_pg.h"

static const char *bindir(void)
{
    const char *dir = getenv("MAISON_TEST_PG_BINDIR");

    return dir && *dir ? dir : NULL;
}

/* Returns whether the server at conninfo answers a query. */
static bool answers(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);
    PGresult *res = PQexec(conn, "SELECT current_database()");
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK &&
              strcmp(PQgetvalue(res, 0, 0), "maison") == 0;

    PQclear(res);
    PQfinish(conn);
    return ok;
}

static long postmaster_pid(const char *dir)
{
    char path[512];
    long pid = 0;
    FILE *f;

    snprintf(path, sizeof path, "%s/pg/postmaster.pid", dir);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid;
}

/* The scenarios, as a non-root user. Returns 0 on success, else the
 * number of the step that failed (the child's exit code). */
static int scenarios(void)
{
    char dir[] = "/tmp/mzemb.XXXXXX";
    char conninfo[1024], err[512];
    struct mz_embedded_pg *pg;
    int failed = 0;
    long pid;

    if (mkdtemp(dir) == NULL)
        return 1;

    /* 1: first start runs initdb and creates the database. */
    pg = mz_embedded_pg_start(dir, bindir(), conninfo, sizeof conninfo, err,
                              sizeof err);
    if (pg == NULL || !answers(conninfo)) {
        fprintf(stderr, "first start: %s\n", pg ? "no answer" : err);
        failed = 2;
        goto cleanup;
    }
    if (strstr(conninfo, dir) == NULL) {
        failed = 3;
        goto cleanup;
    }

    /* 2: maisond killed -9 while the server runs: the next start finds
     * it running, stops it and starts again. */
    pg = mz_embedded_pg_start(dir, bindir(), conninfo, sizeof conninfo, err,
                              sizeof err);
    if (pg == NULL || !answers(conninfo)) {
        fprintf(stderr, "start over a running server: %s\n",
                pg ? "no answer" : err);
        failed = 4;
        goto cleanup;
    }

    /* 3: the postmaster itself crashes, leaving a stale postmaster.pid. */
    pid = postmaster_pid(dir);
    if (pid <= 0 || kill((pid_t)pid, SIGKILL) != 0) {
        failed = 5;
        goto cleanup;
    }
    for (int i = 0; i < 50 && kill((pid_t)pid, 0) == 0; i++)
        usleep(100000);
    /* Its backends notice the postmaster is gone and exit shortly. */
    sleep(1);
    pg = mz_embedded_pg_start(dir, bindir(), conninfo, sizeof conninfo, err,
                              sizeof err);
    if (pg == NULL || !answers(conninfo)) {
        fprintf(stderr, "start after a crash: %s\n", pg ? "no answer" : err);
        failed = 6;
        goto cleanup;
    }

    /* 4: stop really stops. */
    mz_embedded_pg_stop(pg);
    pg = NULL;
    if (PQping(conninfo) == PQPING_OK)
        failed = 7;

cleanup:
    mz_embedded_pg_stop(pg);
    {
        char cmd[256];

        if (failed == 0) {
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
            if (system(cmd) != 0)
                failed = 8;
        } else {
            fprintf(stderr, "kept %s\n", dir);
        }
    }
    return failed;
}

START_TEST(test_start_crash_restart_stop)
{
    const char *user = getenv("MAISON_TEST_PG_USER");
    pid_t child;
    int status;

    if (geteuid() != 0) {
        ck_assert_int_eq(scenarios(), 0);
        return;
    }
    if (user == NULL || *user == '\0') {
        fprintf(stderr, "running as root without MAISON_TEST_PG_USER: "
                        "embedded start not exercised\n");
        return;
    }
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        struct passwd *pw = getpwnam(user);

        if (pw == NULL || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
            _exit(99);
        _exit(scenarios());
    }
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "scenario failed at step %d", WEXITSTATUS(status));
}
END_TEST

START_TEST(test_refuses_to_run_as_root)
{
    char conninfo[256], err[512] = "";

    if (geteuid() != 0)
        return;
    ck_assert_ptr_null(mz_embedded_pg_start("/tmp/mz-never-created", bindir(),
                                            conninfo, sizeof conninfo, err,
                                            sizeof err));
    ck_assert_msg(strstr(err, "root") && strstr(err, "--database-url"),
                  "err: %s", err);
    ck_assert_int_ne(access("/tmp/mz-never-created", F_OK), 0);
}
END_TEST

START_TEST(test_missing_binaries_reported)
{
    char conninfo[256], err[512] = "";

    if (geteuid() == 0)
        return;
    ck_assert_ptr_null(mz_embedded_pg_start("/tmp/mz-never-created",
                                            "/nonexistent/bin", conninfo,
                                            sizeof conninfo, err, sizeof err));
    ck_assert_msg(strstr(err, "/nonexistent/bin") != NULL, "err: %s", err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("embedded_pg");
    TCase *tc = tcase_create("embedded_pg");
    SRunner *runner;
    int failed;

    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_refuses_to_run_as_root);
    tcase_add_test(tc, test_missing_binaries_reported);
    tcase_add_test(tc, test_start_crash_restart_stop);
    suite_add_tcase(s, tc);
    runner = srunner_create(s);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
