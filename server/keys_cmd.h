/*-------------------------------------------------------------------------
 * keys_cmd.h
 *    `maisond keys ...`: API keys from the command line, and the admin
 *    key maisond makes at its first start.
 *
 * Interface routines:
 *    mz_keys_command     - run `keys create|list|revoke` and exit status
 *    mz_write_admin_key  - write the first admin key's secret, mode 0600
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_KEYS_CMD_H
#define MZ_SERVER_KEYS_CMD_H

#include <stdbool.h>
#include <stddef.h>

/* Runs `maisond keys SUBCOMMAND [OPTION]...` (argv[0] is "keys"): opens
 * the store of --database-url, or the embedded PostgreSQL of --data-dir,
 * as maisond does, not the HTTP server. create prints the new secret as
 * its last stdout line. Returns the process exit status (0, 1 failure,
 * 2 usage). */
int mz_keys_command(int argc, char **argv);

/* Writes token and a newline to data_dir/admin.key with mode 0600
 * (through a temporary file and a rename, so a reader never sees half of
 * it). Returns false with the reason in err. */
bool mz_write_admin_key(const char *data_dir, const char *token, char *err,
                        size_t err_len);

#endif
