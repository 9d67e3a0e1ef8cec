/*-------------------------------------------------------------------------
 * test_db.h
 *    The C tests' way into the throw-away PostgreSQL cluster that
 *    tests/harness/with_pg.sh starts: its URL, one statement, and a fresh
 *    database per test case so cases do not see each other's rows.
 *
 * Every function fails the running Check test on a database error.
 *
 * Interface routines:
 *    mz_test_db_base   - the cluster's URL, or NULL (the test skips)
 *    mz_test_sql_value - run one statement, its first value as a number
 *    mz_test_fresh_db  - drop and create a database, its conninfo
 *-------------------------------------------------------------------------
 */
#ifndef MZ_TESTS_HARNESS_TEST_DB_H
#define MZ_TESTS_HARNESS_TEST_DB_H

#include <stddef.h>

/* Returns MAISON_TEST_DATABASE_URL (borrowed from the environment), or
 * NULL when it is unset or empty: no cluster, the test should exit 77. */
const char *mz_test_db_base(void);

/* Runs sql (borrowed) on conninfo (borrowed). Returns the first value of
 * the first row as a number, 0 when there is none. */
long long mz_test_sql_value(const char *conninfo, const char *sql);

/* Drops database name (borrowed; an identifier) if it exists, creates it
 * again, writes its conninfo (the cluster's URL with dbname=name, which
 * overrides any earlier dbname) into out[0..out_len-1] and returns out. */
const char *mz_test_fresh_db(const char *name, char *out, size_t out_len);

#endif
