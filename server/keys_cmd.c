/*-------------------------------------------------------------------------
 * keys_cmd.c
 *    `maisond keys create|list|revoke`, and the admin.key file.
 *
 * The command talks to PostgreSQL only (store/), never to a running
 * maisond: a running daemon reloads its keys after each checkpoint, so a
 * key made or revoked here takes effect within its checkpoint interval
 * (POST and DELETE /v1/keys take effect at once). Its changes are
 * audited under the key id "cli".
 *-------------------------------------------------------------------------
 */
#include "server/keys_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/service/service.h"
#include "model/item.h"
#include "model/timefmt.h"
#include "store/embedded_pg.h"
#include "store/store.h"

/* Who the audit log names for a key made or revoked here: there is no
 * API key behind the command, only whoever can reach the database. */
#define MZ_KEYS_CMD_ACTOR "cli"

bool mz_write_admin_key(const char *data_dir, const char *token, char *err,
                        size_t err_len)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/admin.key", data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot create %s: %s", tmp, strerror(errno));
        return false;
    }
    size_t len = strlen(token);
    bool ok = write(fd, token, len) == (ssize_t)len &&
              write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    return ok;
}

/* Whether a live process holds data_dir's embedded PostgreSQL (a running
 * maisond, most likely): starting it here would stop that one's. */
static bool embedded_pg_in_use(const char *data_dir)
{
    char path[4096];
    long pid = 0;
    snprintf(path, sizeof path, "%s/pg/postmaster.pid", data_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static int usage(FILE *out, int status)
{
    fprintf(out,
            "Usage: maisond keys create --role ROLE[,ROLE...] [--brands B1,B2]"
            " [--name NAME] [STORE]\n"
            "       maisond keys list [STORE]\n"
            "       maisond keys revoke KEY_ID [STORE]\n"
            "STORE: --database-url URL | --data-dir DIR [--pg-bindir DIR]"
            " (defaults and environment as maisond's)\n"
            "Roles: admin, merchandising, clienteling, ingest, privacy, ops."
            "\ncreate prints the key's secret as its last line, once.\n");
    return status;
}

struct keys_args {
    const char *roles, *brands, *name;
    const char *database_url, *data_dir, *pg_bindir;
};

/* Splits text at commas into at most max brand ids; false on a bad one. */
static bool split_brands(char *text, const char **out, size_t max, size_t *n)
{
    *n = 0;
    for (char *save = NULL, *b = strtok_r(text, ",", &save); b;
         b = strtok_r(NULL, ",", &save)) {
        if (strcmp(b, "*") == 0)
            continue;
        if (*n >= max || strlen(b) > MZ_ID_MAX_BYTES)
            return false;
        out[(*n)++] = b;
    }
    return true;
}

static int do_create(struct mz_store *store, const struct keys_args *a)
{
    char why[128] = "";
    unsigned roles = 0;
    if (!a->roles) {
        fprintf(stderr, "maisond keys create: --role is required\n");
        return 2;
    }
    if (!mz_keys_parse_roles(a->roles, ',', &roles, why, sizeof why)) {
        fprintf(stderr, "maisond keys create: --role: %s\n", why);
        return 2;
    }
    const char *brands[MZ_KEY_MAX_BRANDS];
    size_t n = 0;
    char *copy = a->brands ? strdup(a->brands) : NULL;
    if (a->brands &&
        (!copy || !split_brands(copy, brands, MZ_KEY_MAX_BRANDS, &n))) {
        fprintf(stderr, "maisond keys create: --brands: at most %d brand ids\n",
                MZ_KEY_MAX_BRANDS);
        free(copy);
        return 2;
    }
    if ((roles & MZ_ROLE_ADMIN) && n > 0) {
        fprintf(stderr, "maisond keys create: an admin key holds every brand: "
                        "no --brands\n");
        free(copy);
        return 2;
    }
    struct mz_key_spec spec = {.name = a->name ? a->name : "",
                               .roles = roles,
                               .brands = brands,
                               .n_brands = n};
    struct mz_key_created created;
    enum mz_status st = mz_keys_mint(store, &spec, MZ_KEYS_CMD_ACTOR, &created);
    free(copy);
    if (st != MZ_OK) {
        fprintf(stderr, "maisond keys create: %s\n", mz_status_code(st));
        return 1;
    }
    printf("key_id %s\n%s\n", created.key_id, created.token);
    return 0;
}

static bool print_key(void *ctx, const struct mz_store_key *key)
{
    if (key->revoked)
        return true;
    char created[MZ_TIME_RFC3339_BYTES];
    mz_time_format_rfc3339(key->created_at, created);
    printf("%s\t%s\t", key->key_id, key->name);
    for (const char *p = key->roles; *p; p++)
        putchar(*p == '\n' ? ',' : *p);
    putchar('\t');
    for (const char *p = key->brands; *p; p++)
        putchar(*p == '\n' ? ',' : *p);
    printf("\t%s\n", created);
    return true;
}

static int run(struct mz_store *store, const char *cmd, const char *key_id,
               const struct keys_args *a)
{
    enum mz_status st;
    if (strcmp(cmd, "create") == 0)
        return do_create(store, a);
    if (strcmp(cmd, "list") == 0) {
        printf("key_id\tname\troles\tbrands\tcreated_at\n");
        st = mz_store_load_keys(store, print_key, NULL);
    } else {
        st = mz_store_revoke_key(store, key_id, MZ_KEYS_CMD_ACTOR, NULL);
        if (st == MZ_OK)
            printf("revoked %s\n", key_id);
    }
    if (st != MZ_OK) {
        fprintf(stderr, "maisond keys %s: %s\n", cmd,
                st == MZ_ERR_NOT_FOUND ? "no such live key"
                                       : mz_status_code(st));
        return 1;
    }
    return 0;
}

int mz_keys_command(int argc, char **argv)
{
    struct keys_args a = {
        .database_url = getenv("MAISON_DATABASE_URL"),
        .data_dir = getenv("MAISON_DATA_DIR"),
        .pg_bindir = getenv("MAISON_PG_BINDIR"),
    };
    static const struct option options[] = {
        {"role", required_argument, NULL, 'r'},
        {"brands", required_argument, NULL, 'b'},
        {"name", required_argument, NULL, 'n'},
        {"database-url", required_argument, NULL, 'u'},
        {"data-dir", required_argument, NULL, 'd'},
        {"pg-bindir", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2)
        return usage(stderr, 2);
    const char *cmd = argv[1];
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'r':
            a.roles = optarg;
            break;
        case 'b':
            a.brands = optarg;
            break;
        case 'n':
            a.name = optarg;
            break;
        case 'u':
            a.database_url = optarg;
            break;
        case 'd':
            a.data_dir = optarg;
            break;
        case 'p':
            a.pg_bindir = optarg;
            break;
        case 'h':
            return usage(stdout, 0);
        default:
            return usage(stderr, 2);
        }
    }
    const char *key_id = optind < argc ? argv[optind++] : NULL;
    bool revoke = strcmp(cmd, "revoke") == 0;
    if ((strcmp(cmd, "create") != 0 && strcmp(cmd, "list") != 0 && !revoke) ||
        (revoke != (key_id != NULL)) || optind < argc)
        return usage(stderr, 2);
    if (a.database_url && !a.database_url[0])
        a.database_url = NULL;
    if (!a.data_dir || !a.data_dir[0])
        a.data_dir = "maison-data";
    if (!a.pg_bindir)
        a.pg_bindir = MZ_PG_BINDIR;

    char err[1024] = "", conninfo[1024] = "";
    struct mz_embedded_pg *pg = NULL;
    const char *database = a.database_url;
    if (!database) {
        if (embedded_pg_in_use(a.data_dir)) {
            fprintf(stderr,
                    "maisond keys: the PostgreSQL of %s is running (a "
                    "maisond uses it?); use --database-url, or the HTTP API "
                    "(/v1/keys) of that maisond\n",
                    a.data_dir);
            return 1;
        }
        if (mkdir(a.data_dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "maisond keys: cannot create %s\n", a.data_dir);
            return 1;
        }
        pg = mz_embedded_pg_start(a.data_dir, a.pg_bindir, conninfo,
                                  sizeof conninfo, err, sizeof err);
        if (!pg) {
            fprintf(stderr, "maisond keys: embedded PostgreSQL: %s\n", err);
            return 1;
        }
        database = conninfo;
    }
    int status = 1;
    struct mz_store *store = mz_store_open(database, 1, err, sizeof err);
    if (!store)
        fprintf(stderr, "maisond keys: %s\n", err);
    else
        status = run(store, cmd, key_id, &a);
    fflush(stdout);
    mz_store_close(store);
    mz_embedded_pg_stop(pg);
    return status;
}
