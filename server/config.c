/*-------------------------------------------------------------------------
 * config.c
 *    Flags and environment variables of maisond.
 *
 * Every option is described once, in the options table: its flag, its
 * environment variable, and its help line; --help prints the table.
 *-------------------------------------------------------------------------
 */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/token_bucket.h"
#include "server/thread_slice.h"

enum option_id {
    OPT_LISTEN = 1000,
    OPT_DATABASE_URL,
    OPT_DATA_DIR,
    OPT_THREADS,
    OPT_REQUEST_SLICE,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_CONNECTIONS_PER_IP,
    OPT_HEADER_TIMEOUT,
    OPT_CHECKPOINT_INTERVAL,
    OPT_CHECKPOINT_SPREAD,
    OPT_MEMORY_LIMIT,
    OPT_RATE_LIMIT,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_NODE_ID,
    OPT_READY_MAX_LAG,
    OPT_RETENTION_DAYS,
    OPT_PG_BINDIR,
    OPT_DIM,
    OPT_LEVELS,
    OPT_LEVEL_CHUNKS,
    OPT_MODEL,
    OPT_HELP,
};

struct option_doc {
    int id;
    const char *flag;
    const char *env; /* NULL: no environment variable */
    const char *arg; /* NULL: takes no argument */
    const char *help;
};

static const struct option_doc option_docs[] = {
    {OPT_LISTEN, "listen", "MAISON_LISTEN", "HOST:PORT",
     "address to serve HTTP on (default 127.0.0.1:8080)"},
    {OPT_DATABASE_URL, "database-url", "MAISON_DATABASE_URL", "URL",
     "libpq connection string or URL; without it maisond runs a private "
     "PostgreSQL in DATA_DIR/pg"},
    {OPT_DATA_DIR, "data-dir", "MAISON_DATA_DIR", "DIR",
     "directory of the embedded PostgreSQL (default ./maison-data)"},
    {OPT_THREADS, "threads", "MAISON_THREADS", "N",
     "HTTP worker threads (default one per core, 2 to 64)"},
    {OPT_REQUEST_SLICE, "request-slice-us", "MAISON_REQUEST_SLICE_US", "US",
     "CPU slice the HTTP threads ask the kernel for, 100 to 100000 "
     "microseconds; on Linux 6.12 or later a thread with a shorter slice "
     "preempts the one running when it wakes, so requests do not wait "
     "behind learning and PostgreSQL on a busy machine; older kernels "
     "ignore it; 0: the kernel's default (default 0: on a saturated "
     "machine short slices cost throughput, see docs/durability.md)"},
    {OPT_MAX_CONNECTIONS, "max-connections", "MAISON_MAX_CONNECTIONS", "N",
     "most concurrent HTTP connections (default 1024)"},
    {OPT_MAX_CONNECTIONS_PER_IP, "max-connections-per-ip",
     "MAISON_MAX_CONNECTIONS_PER_IP", "N",
     "most concurrent HTTP connections from one client address; more are "
     "closed at once; behind a proxy every connection comes from its "
     "address: raise it to --max-connections; 0: no limit (default 256)"},
    {OPT_HEADER_TIMEOUT, "header-timeout-s", "MAISON_HEADER_TIMEOUT_S", "S",
     "seconds a new connection has to send its first request line and "
     "headers, however slowly they trickle, before it is closed "
     "(default 10)"},
    {OPT_CHECKPOINT_INTERVAL, "checkpoint-interval-s",
     "MAISON_CHECKPOINT_INTERVAL_S", "S",
     "seconds between checkpoints of learned state (default 30)"},
    {OPT_CHECKPOINT_SPREAD, "checkpoint-spread", "MAISON_CHECKPOINT_SPREAD",
     "PCT",
     "percent of the checkpoint interval over which a checkpoint's write "
     "is spread, so that PostgreSQL takes it in small steps beside the "
     "requests; a stop or an erasure waiting for it ends the pauses; 0: "
     "write at once (default 50, at most 90)"},
    {OPT_MEMORY_LIMIT, "memory-limit", "MAISON_MEMORY_LIMIT", "SIZE",
     "bytes of client state kept in memory, with an optional K, M or G "
     "suffix; clients beyond it are evicted (least recently used first) "
     "and read back from PostgreSQL when next used; 0: no limit "
     "(default: a quarter of physical memory)"},
    {OPT_RATE_LIMIT, "rate-limit", "MAISON_RATE_LIMIT", "R[:BURST]",
     "requests a second a key may make, with bursts of BURST (default R "
     "rounded up), for keys without a rate_limit of their own; more are "
     "answered 429 with Retry-After; counted per node; 0 or off: no "
     "default limit (default off: maisond's callers are the house's own "
     "programs, and a limit that suits one would cut off another's "
     "ingestion)"},
    {OPT_TLS_CERT, "tls-cert", "MAISON_TLS_CERT", "FILE",
     "serve HTTPS with this PEM certificate (chain); needs --tls-key"},
    {OPT_TLS_KEY, "tls-key", "MAISON_TLS_KEY", "FILE",
     "the PEM private key of --tls-cert (unencrypted)"},
    {OPT_NODE_ID, "node-id", "MAISON_NODE_ID", "ID",
     "this node's name among the nodes of one database (its checkpoint is "
     "its own): 1 to 64 of A-Z a-z 0-9 . _ : -; every node needs its own "
     "(default: the host name)"},
    {OPT_READY_MAX_LAG, "ready-max-lag", "MAISON_READY_MAX_LAG", "N",
     "/readyz answers 503 while more than N rows of the log are not yet "
     "applied on this node (default 1000)"},
    {OPT_RETENTION_DAYS, "retention-days", "MAISON_RETENTION_DAYS", "N",
     "drop rows of the event log logged more than N days ago once every "
     "node's checkpoint has passed them; a rebuild of the learned state "
     "from the log (a checkpoint refused at start) then starts from the "
     "rows kept; 0: keep every row (default 0)"},
    {OPT_PG_BINDIR, "pg-bindir", "MAISON_PG_BINDIR", "DIR",
     "where initdb and postgres live, for the embedded PostgreSQL"},
    {OPT_DIM, "dim", "MAISON_DIM", "D", "embedding size (default 64)"},
    {OPT_LEVELS, "levels", "MAISON_LEVELS", "L",
     "client memory levels, 1 to 4 (default 3)"},
    {OPT_LEVEL_CHUNKS, "level-chunks", "MAISON_LEVEL_CHUNKS", "C0,C1,...",
     "events between consolidations of each level (default 1,4,16)"},
    {OPT_MODEL, "model", "MAISON_MODEL", "NAME=VALUE,...",
     "any model parameter by its name in struct mz_model_config "
     "(model/model.h), an array element as name.index: e.g. "
     "w_recall=0.5,level_lr.2=0.4; applied after --dim, --levels and "
     "--level-chunks whatever the order"},
    {OPT_HELP, "help", NULL, NULL, "print this help and exit"},
};

#define N_OPTIONS (sizeof option_docs / sizeof option_docs[0])

void mz_config_usage(FILE *out)
{
    fprintf(out, "Usage: maisond [OPTION]...\n"
                 "Real-time personalisation service for luxury retail.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_doc *o = &option_docs[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->flag, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        fprintf(out, "  %-30s %s", left, o->help);
        if (o->env)
            fprintf(out, " [env %s]", o->env);
        fputc('\n', out);
    }
    fprintf(out, "\nSIGTERM or SIGINT: stop accepting, finish requests, write "
                 "the learned state to PostgreSQL, exit 0.\n");
}

static bool parse_int(const char *text, int min, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < min || value > max)
        return false;
    *out = (int)value;
    return true;
}

/* A byte count with an optional K, M or G suffix (powers of 1024). */
static bool parse_size(const char *text, size_t *out)
{
    char *end = NULL;
    errno = 0;
    if (text[0] < '0' || text[0] > '9')
        return false;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text)
        return false;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        return false;
    }
    if (*end && end[1])
        return false;
    if (value > (SIZE_MAX >> shift))
        return false;
    *out = (size_t)(value << shift);
    return true;
}

/* A quarter of physical memory, or 1 GiB when it cannot be read. */
static size_t default_memory_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0)
        return (size_t)1 << 30;
    return (size_t)pages / 4 * (size_t)page_size;
}

/* "R[:BURST]", "0" or "off"; R within model/token_bucket.h's range. */
static bool parse_rate_limit(struct mz_config *cfg, const char *text)
{
    char *end = NULL;
    if (strcmp(text, "off") == 0 || strcmp(text, "0") == 0) {
        cfg->rate_limit_per_s = 0;
        cfg->rate_limit_burst = 0;
        return true;
    }
    if ((text[0] < '0' || text[0] > '9') && text[0] != '.')
        return false;
    errno = 0;
    double rate = strtod(text, &end);
    if (errno || end == text || !(rate >= MZ_TOKEN_BUCKET_MIN_RATE) ||
        rate > MZ_TOKEN_BUCKET_MAX_RATE)
        return false;
    int burst = (int)fmin(ceil(rate), MZ_TOKEN_BUCKET_MAX_BURST);
    if (*end == ':' &&
        !parse_int(end + 1, 1, MZ_TOKEN_BUCKET_MAX_BURST, &burst))
        return false;
    if (*end != ':' && *end != '\0')
        return false;
    cfg->rate_limit_per_s = rate;
    cfg->rate_limit_burst = burst;
    return true;
}

static bool parse_listen(struct mz_config *cfg, const char *text)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text ||
        (size_t)(colon - text) >= sizeof cfg->listen_host)
        return false;
    memcpy(cfg->listen_host, text, (size_t)(colon - text));
    cfg->listen_host[colon - text] = '\0';
    return parse_int(colon + 1, 0, 65535, &cfg->listen_port);
}

/* Applies "name=value,name=value" to cfg->model through
 * mz_model_config_set; false (with the reason on err_out) on the first
 * bad pair. */
static bool parse_model_settings(struct mz_config *cfg, const char *text,
                                 FILE *err_out)
{
    char pair[256];
    const char *p = text;

    while (*p) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (len >= sizeof pair || !eq) {
            fprintf(err_out,
                    "maisond: --model: expected NAME=VALUE in '%.*s'\n",
                    (int)len, p);
            return false;
        }
        memcpy(pair, p, len);
        pair[len] = '\0';
        pair[eq - p] = '\0';
        char why[256] = "";
        if (mz_model_config_set(&cfg->model, pair, pair + (eq - p) + 1, why,
                                sizeof why) != MZ_OK) {
            fprintf(err_out, "maisond: --model: %s\n", why);
            return false;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return true;
}

static bool parse_chunks(struct mz_config *cfg, const char *text)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        char *end = NULL;
        errno = 0;
        long value = strtol(p, &end, 10);
        if (errno || end == p || value < 1 || value > 1000000 ||
            n >= MZ_MAX_LEVELS)
            return false;
        cfg->model.level_chunk[n++] = (int)value;
        if (*end == ',')
            end++;
        else if (*end)
            return false;
        p = end;
    }
    return n > 0;
}

/* A node id: 1 to 64 bytes of letters, digits and . _ : - (it names the
 * node's rows in PostgreSQL and its metrics). */
static bool parse_node_id(struct mz_config *cfg, const char *text)
{
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof cfg->node_id)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)text[i]) && !strchr("._:-", text[i]))
            return false;
    memcpy(cfg->node_id, text, n + 1);
    return true;
}

/* The host name as a node id (characters outside the set become '-'),
 * or "maisond". */
static void default_node_id(struct mz_config *cfg)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        strcpy(host, "maisond");
    host[sizeof cfg->node_id - 1] = '\0';
    for (char *c = host; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("._:-", *c))
            *c = '-';
    strcpy(cfg->node_id, host);
}

/* Applies one option's value; returns false on a bad value. */
static bool apply_option(struct mz_config *cfg, int id, const char *value)
{
    switch (id) {
    case OPT_LISTEN:
        return parse_listen(cfg, value);
    case OPT_DATABASE_URL:
        cfg->database_url = value[0] ? value : NULL;
        return true;
    case OPT_DATA_DIR:
        cfg->data_dir = value;
        return value[0] != '\0';
    case OPT_THREADS:
        return parse_int(value, 1, 256, &cfg->threads);
    case OPT_REQUEST_SLICE:
        return parse_int(value, 0, MZ_THREAD_SLICE_MAX_US,
                         &cfg->request_slice_us) &&
               mz_thread_slice_valid(cfg->request_slice_us);
    case OPT_MAX_CONNECTIONS:
        return parse_int(value, 1, 65536, &cfg->max_connections);
    case OPT_MAX_CONNECTIONS_PER_IP:
        return parse_int(value, 0, 65536, &cfg->max_connections_per_ip);
    case OPT_HEADER_TIMEOUT:
        return parse_int(value, 1, 3600, &cfg->header_timeout_s);
    case OPT_CHECKPOINT_INTERVAL:
        return parse_int(value, 1, 86400, &cfg->checkpoint_interval_s);
    case OPT_CHECKPOINT_SPREAD:
        return parse_int(value, 0, 90, &cfg->checkpoint_spread_pct);
    case OPT_MEMORY_LIMIT:
        return parse_size(value, &cfg->memory_limit);
    case OPT_RATE_LIMIT:
        return parse_rate_limit(cfg, value);
    case OPT_TLS_CERT:
        cfg->tls_cert = value[0] ? value : NULL;
        return true;
    case OPT_TLS_KEY:
        cfg->tls_key = value[0] ? value : NULL;
        return true;
    case OPT_NODE_ID:
        return parse_node_id(cfg, value);
    case OPT_READY_MAX_LAG: {
        int lag = 0;
        bool ok = parse_int(value, 0, 1000000000, &lag);
        cfg->ready_max_lag = lag;
        return ok;
    }
    case OPT_RETENTION_DAYS:
        return parse_int(value, 0, 36500, &cfg->retention_days);
    case OPT_PG_BINDIR:
        cfg->pg_bindir = value;
        return true;
    case OPT_DIM:
        return parse_int(value, 4, 1024, &cfg->model.dim);
    case OPT_LEVELS:
        return parse_int(value, 1, MZ_MAX_LEVELS, &cfg->model.n_levels);
    case OPT_LEVEL_CHUNKS:
        return parse_chunks(cfg, value);
    case OPT_MODEL:
        /* Kept, and applied once every other option is in. */
        cfg->model_settings = value;
        return true;
    case OPT_HELP:
        cfg->help = true;
        return true;
    default:
        return false;
    }
}

static const struct option_doc *doc_of(int id)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (option_docs[i].id == id)
            return &option_docs[i];
    return NULL;
}

/* One HTTP thread per core, 2 to 64: every request that may wait (for
 * PostgreSQL, a commit, the log, a client read back from the store, an
 * import's batch) is handed to the wait pool (server/wait_pool.h), so an
 * HTTP thread only ever runs, and more threads than cores only queue
 * behind each other's slices. Measured with make bench's part (h) on 2
 * cores (16 connections, closed loop, two rounds): p99 1.74/1.85 ms with
 * 2 threads, 5.98/4.44 with 3, 5.01/5.80 with 8 (`perf sched`: with 8, up
 * to 6 runnable on one CPU, 17 ms the longest wait for it); at most
 * 19.2k req/s against 21.6-22.1k with 8, and part (g) (recommendations
 * beside ingestion) 1.58x/2.60x against 1.92x/2.12x. docs/durability.md,
 * 14. */
static int default_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return (int)(cores < 2 ? 2 : cores > 64 ? 64 : cores);
}

bool mz_config_parse(struct mz_config *cfg, int argc, char **argv,
                     FILE *err_out)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    cfg->data_dir = "maison-data";
    cfg->pg_bindir = MZ_PG_BINDIR;
    cfg->threads = default_threads();
    cfg->request_slice_us = 0; /* measured: docs/durability.md, 6. */
    cfg->max_connections = 1024;
    cfg->max_connections_per_ip = 256;
    cfg->header_timeout_s = 10;
    cfg->checkpoint_interval_s = 30;
    cfg->checkpoint_spread_pct = 50;
    cfg->memory_limit = default_memory_limit();
    default_node_id(cfg);
    cfg->ready_max_lag = 1000;
    mz_model_config_defaults(&cfg->model);

    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_doc *o = &option_docs[i];
        const char *value = o->env ? getenv(o->env) : NULL;
        if (value && !apply_option(cfg, o->id, value)) {
            fprintf(err_out, "maisond: bad value for %s: %s\n", o->env, value);
            return false;
        }
    }

    struct option long_options[N_OPTIONS + 1];
    for (size_t i = 0; i < N_OPTIONS; i++) {
        long_options[i] = (struct option){option_docs[i].flag,
                                          option_docs[i].arg ? required_argument
                                                             : no_argument,
                                          NULL, option_docs[i].id};
    }
    long_options[N_OPTIONS] = (struct option){0, 0, 0, 0};
    optind = 1;
    int id;
    while ((id = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (id == 'h')
            id = OPT_HELP;
        const struct option_doc *o = doc_of(id);
        if (!o) {
            fprintf(err_out, "Try 'maisond --help'.\n");
            return false;
        }
        if (!apply_option(cfg, id, optarg ? optarg : "")) {
            fprintf(err_out, "maisond: bad value for --%s: %s\n", o->flag,
                    optarg ? optarg : "");
            return false;
        }
    }
    if (optind < argc) {
        fprintf(err_out, "maisond: unexpected argument '%s'\n", argv[optind]);
        return false;
    }
    if (!cfg->tls_cert != !cfg->tls_key) {
        fprintf(err_out, "maisond: --tls-cert and --tls-key go together "
                         "(or MAISON_TLS_CERT and MAISON_TLS_KEY)\n");
        return false;
    }
    if (cfg->model_settings &&
        !parse_model_settings(cfg, cfg->model_settings, err_out))
        return false;
    char why[256] = "";
    if (!mz_model_config_check(&cfg->model, why, sizeof why)) {
        fprintf(err_out, "maisond: model configuration: %s\n", why);
        return false;
    }
    return true;
}
