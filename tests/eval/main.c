/*-------------------------------------------------------------------------
 * main.c
 *    maison-eval: replays a data set through our model and the baselines
 *    (or through a running maisond with --url) and reports HR@20, MRR@20,
 *    NDCG@20, learning throughput and memory per client.
 *
 * Usage: see usage() below and tests/eval/README.md.
 *-------------------------------------------------------------------------
 */
#include "tests/eval/eval.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct mz_eval_method methods[] = {
    {"maison", "the model with mz_model_config_defaults", &mz_eval_model_ops,
     MZ_EVAL_MAISON},
    {"maison_l0", "level 0 only (n_levels = 1)", &mz_eval_model_ops,
     MZ_EVAL_MAISON_L0},
    {"maison_slow", "the slowest level only", &mz_eval_model_ops,
     MZ_EVAL_MAISON_SLOW},
    {"maison_flat", "every level updates every event (nested = false)",
     &mz_eval_model_ops, MZ_EVAL_MAISON_FLAT},
    {"maison_frozen_items", "item space never learns (learn_global = false)",
     &mz_eval_model_ops, MZ_EVAL_MAISON_FROZEN_ITEMS},
    {"maison_no_session", "no session context (use_session = false)",
     &mz_eval_model_ops, MZ_EVAL_MAISON_NO_SESSION},
    {"maison_no_trans", "no transition memory (w_trans = 0)",
     &mz_eval_model_ops, MZ_EVAL_MAISON_NO_TRANS},
    {"maison_levels_only", "the levels only (use_session = false, w_pop_* = 0)",
     &mz_eval_model_ops, MZ_EVAL_MAISON_LEVELS_ONLY},
    {"maison_no_dense", "without O q + b (w_dense = w_bias = 0)",
     &mz_eval_model_ops, MZ_EVAL_MAISON_NO_DENSE},
    {"maison_no_attr", "without the attribute taste (w_attr = 0)",
     &mz_eval_model_ops, MZ_EVAL_MAISON_NO_ATTR},
    {"pop", "most popular items, all time", &mz_eval_baseline_ops, MZ_EVAL_POP},
    {"pop_recent", "most popular items in the last 10,000 events",
     &mz_eval_baseline_ops, MZ_EVAL_POP_RECENT},
    {"sr", "sequential rules, 1/distance over 10 steps, popularity fill",
     &mz_eval_baseline_ops, MZ_EVAL_SR},
    {"iknn", "item-kNN: cosine of client co-occurrence with the last item",
     &mz_eval_baseline_ops, MZ_EVAL_IKNN},
};

#define N_METHODS    (sizeof(methods) / sizeof(methods[0]))
#define MAX_SELECTED 64
#define MAX_SETTINGS 64

static const char *const default_shift_methods =
    "maison,maison_l0,maison_slow,maison_flat,maison_levels_only,pop,sr";

const struct mz_eval_method *mz_eval_methods(size_t *count)
{
    *count = N_METHODS;
    return methods;
}

const struct mz_eval_method *mz_eval_method_find(const char *name)
{
    for (size_t i = 0; i < N_METHODS; i++)
        if (strcmp(methods[i].name, name) == 0)
            return &methods[i];
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: maison-eval --data DIR --protocol next-item|last-item\n"
            "                   [--json] [--methods a,b,...] [--frozen]\n"
            "                   [--limit-cases N] [--taste-shift [--pairs N]]\n"
            "                   [--seed N] [--quiet]\n"
            "                   [--url http://HOST:PORT [--data-clock]]\n"
            "                   [--set name=value]...  (model parameters,\n"
            "                   e.g. w_trans=4 level_lr.1=0.2)\n"
            "DIR holds train.tsv and test.tsv (client_id, item_id, ts, type)\n"
            "and optionally items.tsv (item_id, comma-separated tokens).\n"
            "methods:\n");
    for (size_t i = 0; i < N_METHODS; i++)
        fprintf(out, "  %-20s %s\n", methods[i].name, methods[i].about);
}

/* Parses "a,b,c" into selected; false (with a message) on an unknown name. */
static bool parse_methods(const char *list,
                          const struct mz_eval_method **selected,
                          size_t *n_selected)
{
    char *copy = strdup(list);
    char *save = NULL;
    bool ok = copy != NULL;

    *n_selected = 0;
    for (char *name = copy ? strtok_r(copy, ",", &save) : NULL; name && ok;
         name = strtok_r(NULL, ",", &save)) {
        const struct mz_eval_method *m = mz_eval_method_find(name);
        if (!m || *n_selected == MAX_SELECTED) {
            fprintf(stderr, "maison-eval: unknown method '%s'\n", name);
            ok = false;
        } else {
            selected[(*n_selected)++] = m;
        }
    }
    free(copy);
    return ok && *n_selected > 0;
}

static json_t *result_json(const struct mz_eval_result *r)
{
    return json_pack("{s:s, s:I, s:f, s:f, s:f, s:I, s:I, s:f}", "method",
                     r->method, "cases", (json_int_t)r->cases, "hr20", r->hr20,
                     "mrr20", r->mrr20, "ndcg20", r->ndcg20, "events_per_s",
                     (json_int_t)r->events_per_s, "bytes_per_client",
                     (json_int_t)r->bytes_per_client, "seconds", r->seconds);
}

static json_t *rates_json(const double *rates)
{
    json_t *arr = json_array();
    for (int h = 0; arr && h < MZ_EVAL_SHIFT_HORIZONS; h++)
        json_array_append_new(arr, json_real(rates[h]));
    return arr;
}

static json_t *shift_json(const struct mz_eval_shift_result *r)
{
    return json_pack("{s:s, s:I, s:I, s:o, s:o, s:o}", "method", r->method,
                     "pairs", (json_int_t)r->pairs, "held_out_clients",
                     (json_int_t)r->pool, "fresh_hr20", rates_json(r->fresh),
                     "switch_hr20", rates_json(r->shift), "return_hr20",
                     rates_json(r->back));
}

static void print_table_header(const char *dataset, const char *protocol,
                               const struct mz_eval_options *opt,
                               bool last_item)
{
    printf("dataset %s, protocol %s%s\n", dataset, protocol,
           last_item ? (opt->frozen ? " (frozen)" : "")
                     : (opt->frozen ? " (learning frozen at test time)"
                                    : " (streaming: learns from test events)"));
    printf("%-20s %8s %8s %8s %8s %10s %12s %8s\n", "method", "cases", "HR@20",
           "MRR@20", "NDCG@20", "events/s", "bytes/client", "seconds");
}

static void print_result(const struct mz_eval_result *r)
{
    printf("%-20s %8zu %8.4f %8.4f %8.4f %10.0f %12.0f %8.1f\n", r->method,
           r->cases, r->hr20, r->mrr20, r->ndcg20, r->events_per_s,
           r->bytes_per_client, r->seconds);
    fflush(stdout);
}

static void print_shift(const struct mz_eval_shift_result *r, bool header)
{
    if (header) {
        printf("%-20s %6s | %-27s | %-27s | %-27s\n", "", "",
               "fresh client: B's events", "after A: B's events (plast.)",
               "A returns: A's events (stab.)");
        printf("%-20s %6s |", "method", "pairs");
        for (int part = 0; part < 3; part++) {
            for (int h = 0; h < MZ_EVAL_SHIFT_HORIZONS; h++)
                printf("  @%-3d", mz_eval_shift_horizon[h]);
            printf("   |");
        }
        printf("\n");
    }
    const double *parts[3] = {r->fresh, r->shift, r->back};
    printf("%-20s %6zu |", r->method, r->pairs);
    for (int part = 0; part < 3; part++) {
        for (int h = 0; h < MZ_EVAL_SHIFT_HORIZONS; h++)
            printf(" %.3f", parts[part][h]);
        printf("   |");
    }
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"protocol", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"methods", required_argument, NULL, 'm'},
        {"frozen", no_argument, NULL, 'f'},
        {"limit-cases", required_argument, NULL, 'l'},
        {"taste-shift", no_argument, NULL, 't'},
        {"pairs", required_argument, NULL, 'P'},
        {"seed", required_argument, NULL, 's'},
        {"url", required_argument, NULL, 'u'},
        {"quiet", no_argument, NULL, 'q'},
        {"data-clock", no_argument, NULL, 'c'},
        {"set", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *protocol = NULL, *method_list = NULL, *url = NULL;
    bool json = false, taste_shift = false;
    struct mz_eval_options opt = {.pairs = 1000, .seed = 42, .progress = true};
    const char *settings[MAX_SETTINGS];
    const struct mz_eval_method *selected[MAX_SELECTED];
    size_t n_selected = 0;
    struct mz_eval_data *data = NULL;
    json_t *out = NULL, *results = NULL;
    char err[512] = "";
    int status = 1;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'p':
            protocol = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'm':
            method_list = optarg;
            break;
        case 'f':
            opt.frozen = true;
            break;
        case 'l':
            opt.limit_cases = strtoull(optarg, NULL, 10);
            break;
        case 't':
            taste_shift = true;
            break;
        case 'P':
            opt.pairs = strtoull(optarg, NULL, 10);
            break;
        case 's':
            opt.seed = strtoull(optarg, NULL, 10);
            break;
        case 'u':
            url = optarg;
            break;
        case 'q':
            opt.progress = false;
            break;
        case 'c':
            opt.data_clock = true;
            break;
        case 'S':
            if (opt.n_model_settings == MAX_SETTINGS) {
                fprintf(stderr, "maison-eval: at most %d --set\n",
                        MAX_SETTINGS);
                return 2;
            }
            settings[opt.n_model_settings++] = optarg;
            opt.model_settings = settings;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    bool last_item = protocol && strcmp(protocol, "last-item") == 0;
    if (!dir || optind != argc ||
        (!taste_shift &&
         (!protocol || (!last_item && strcmp(protocol, "next-item") != 0)))) {
        usage(stderr);
        return 2;
    }
    if (!method_list)
        method_list = taste_shift ? default_shift_methods : NULL;
    if (method_list) {
        if (!parse_methods(method_list, selected, &n_selected))
            return 2;
    } else {
        for (size_t i = 0; i < N_METHODS; i++)
            selected[n_selected++] = &methods[i];
    }

    double t_load = mz_eval_now();
    data = mz_eval_data_load(dir, err, sizeof(err));
    if (!data) {
        fprintf(stderr, "maison-eval: %s\n", err);
        goto cleanup;
    }
    if (opt.progress)
        fprintf(stderr,
                "%s: %d items, %d clients, %zu train, %zu test events"
                " (loaded in %.1f s)\n",
                data->name, mz_intern_count(data->items),
                mz_intern_count(data->clients), data->n_train, data->n_test,
                mz_eval_now() - t_load);
    const char *protocol_name =
        taste_shift ? "taste-shift" : (last_item ? "last-item" : "next-item");
    size_t cases = 0, failed = 0;
    int header_done = 0;
    results = json_array();
    if (!results)
        goto cleanup;

    if (url) {
        struct mz_eval_result r;
        if (!mz_eval_http_run(url, data, last_item, &opt, &r, err,
                              sizeof(err))) {
            fprintf(stderr, "maison-eval: %s\n", err);
            goto cleanup;
        }
        if (!json) {
            print_table_header(data->name, protocol_name, &opt, last_item);
            print_result(&r);
        }
        json_array_append_new(results, result_json(&r));
        cases = r.cases;
    }
    /* With --url the server is the only method measured. */
    for (size_t i = 0; !url && i < n_selected; i++) {
        if (taste_shift) {
            struct mz_eval_shift_result r;
            if (!mz_eval_taste_shift(selected[i], data, &opt, &r, err,
                                     sizeof(err))) {
                fprintf(stderr, "maison-eval: %s: %s\n", selected[i]->name,
                        err);
                failed++;
                continue;
            }
            if (!json)
                print_shift(&r, !header_done++);
            cases = r.pairs;
            json_array_append_new(results, shift_json(&r));
            continue;
        }
        struct mz_eval_result r;
        bool ok = last_item ? mz_eval_last_item(selected[i], data, &opt, &r,
                                                err, sizeof(err))
                            : mz_eval_next_item(selected[i], data, &opt, &r,
                                                err, sizeof(err));
        if (!ok) {
            /* One method failing must not hide the others' figures. */
            fprintf(stderr, "maison-eval: %s: %s\n", selected[i]->name, err);
            failed++;
            continue;
        }
        if (r.short_lists)
            fprintf(stderr,
                    "maison-eval: warning: %s: %zu of %zu cases got "
                    "fewer than %d items (NaN or -inf scores)\n",
                    r.method, r.short_lists, r.cases, MZ_EVAL_TOPK);
        if (!json) {
            if (!header_done++)
                print_table_header(data->name, protocol_name, &opt, last_item);
            print_result(&r);
        }
        cases = r.cases;
        json_array_append_new(results, result_json(&r));
    }
    if (json) {
        out = json_pack("{s:s, s:s, s:b, s:I, s:O}", "dataset", data->name,
                        "protocol", protocol_name, "frozen", opt.frozen,
                        "cases", (json_int_t)cases, "results", results);
        if (!out)
            goto cleanup;
        json_dumpf(out, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
        printf("\n");
    }
    status = failed ? 1 : 0;
cleanup:
    json_decref(out);
    json_decref(results);
    mz_eval_data_free(data);
    return status;
}
