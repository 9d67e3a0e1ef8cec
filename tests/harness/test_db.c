/*-------------------------------------------------------------------------
 * test_db.c
 *    The throw-away cluster for the C tests; see test_db.h.
 *-------------------------------------------------------------------------
 */
#include "tests/harness/test_db.h"

#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

const char *mz_test_db_base(void)
{
    const char *url = getenv("MAISON_TEST_DATABASE_URL");
    return url && *url ? url : NULL;
}

long long mz_test_sql_value(const char *conninfo, const char *sql)
{
    PGconn *conn = PQconnectdb(conninfo);
    long long v = 0;

    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect: %s",
                  PQerrorMessage(conn));
    PGresult *res = PQexec(conn, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK ||
                      PQresultStatus(res) == PGRES_COMMAND_OK,
                  "%s: %s", sql, PQresultErrorMessage(res));
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
        !PQgetisnull(res, 0, 0))
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(conn);
    return v;
}

const char *mz_test_fresh_db(const char *name, char *out, size_t out_len)
{
    const char *base = mz_test_db_base();
    char sql[256];

    ck_assert_msg(base != NULL, "no MAISON_TEST_DATABASE_URL");
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    mz_test_sql_value(base, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    mz_test_sql_value(base, sql);
    snprintf(out, out_len, "%s dbname=%s", base, name);
    return out;
}
