/*-------------------------------------------------------------------------
 * embedded_pg.h
 *    The private PostgreSQL cluster maisond runs in its data directory
 *    when no database URL is given.
 *
 * Interface routines:
 *    mz_embedded_pg_start - initdb on first use, start postgres on a Unix
 *                           socket inside the data directory (no TCP),
 *                           wait until it accepts connections
 *    mz_embedded_pg_stop  - fast shutdown, wait
 *-------------------------------------------------------------------------
 */
#ifndef MZ_EMBEDDED_PG_H
#define MZ_EMBEDDED_PG_H

#include <stddef.h>

#include "model/status.h"

struct mz_embedded_pg;

/* Starts (initialising if needed) the cluster in data_dir/pg with its
 * socket in data_dir. pg_bindir holds initdb/pg_ctl/postgres. Returns the
 * handle and writes a libpq conninfo into conninfo, or NULL with the
 * reason in err (e.g. running as root, binaries missing). A cluster
 * already running from a previous unclean exit is stopped and restarted. */
struct mz_embedded_pg *mz_embedded_pg_start(const char *data_dir,
                                            const char *pg_bindir,
                                            char *conninfo, size_t conninfo_len,
                                            char *err, size_t err_len);
/* Stops the cluster and frees the handle; accepts NULL. */
void mz_embedded_pg_stop(struct mz_embedded_pg *pg);

#endif
