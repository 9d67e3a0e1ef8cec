/*-------------------------------------------------------------------------
 * import_cmd.h
 *    `maisond import ...`: history and catalog files into a running
 *    maisond, over HTTP.
 *
 * Interface routines:
 *    mz_import_command - run `import --events|--catalog` and exit status
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_IMPORT_CMD_H
#define MZ_SERVER_IMPORT_CMD_H

/* Runs `maisond import OPTION...` (argv[0] is "import"): streams the
 * events of --events FILE (NDJSON or --format csv) to POST
 * /v1/events:import, or the items of --catalog FILE to PUT
 * /v1/catalog/items, of the maisond at --url (MAISON_URL) with the key of
 * --key-file (MAISON_API_KEY); progress on stderr, a summary on stdout.
 * Returns the process exit status: 0 every line applied, 1 a line
 * rejected or a request failed, 2 usage. */
int mz_import_command(int argc, char **argv);

#endif
