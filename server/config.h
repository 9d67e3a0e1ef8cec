/*-------------------------------------------------------------------------
 * config.h
 *    maisond's settings: command-line flags, each with an environment
 *    variable, and the model's level sizes.
 *
 * Interface routines:
 *    mz_config_parse - defaults, then environment, then flags
 *    mz_config_usage - the --help text
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_CONFIG_H
#define MZ_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model/model.h"

struct mz_config {
    char listen_host[256];
    int listen_port;
    const char *database_url; /* borrowed from argv/environ; NULL:
                                 the embedded PostgreSQL */
    const char *data_dir;     /* borrowed */
    const char *pg_bindir;    /* borrowed */
    int threads;              /* HTTP worker threads */
    int request_slice_us;     /* their CPU slice; 0: the kernel's */
    int max_connections;
    int max_connections_per_ip; /* 0: no limit */
    int header_timeout_s;
    int checkpoint_interval_s;
    int checkpoint_spread_pct; /* of the interval, to pace its write */
    size_t memory_limit;     /* bytes of clients in memory; 0: none */
    double rate_limit_per_s; /* default limit of a key; 0: none */
    int rate_limit_burst;    /* when rate_limit_per_s > 0 */
    const char *tls_cert;    /* borrowed PEM file path; NULL: plain HTTP */
    const char *tls_key;     /* borrowed; set exactly when tls_cert is */
    char node_id[65];        /* this node's name (default: the host name) */
    long ready_max_lag;      /* /readyz: most log rows not yet applied */
    int retention_days;      /* the log's retention; 0: keep every row */
    struct mz_model_config model;
    const char *model_settings; /* borrowed: --model's NAME=VALUE,...
                                   (already applied to model) */
    bool help;
};

/* Fills cfg from defaults, the MAISON_* environment and argv (flags win).
 * Returns false after writing a message to err_out on a bad value. */
bool mz_config_parse(struct mz_config *cfg, int argc, char **argv,
                     FILE *err_out);

/* Writes the --help text. */
void mz_config_usage(FILE *out);

#endif
