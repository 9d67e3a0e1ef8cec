/*-------------------------------------------------------------------------
 * data.c
 *    Reading an evaluation data directory into dense arrays.
 *
 * Item and client ids are interned once, at load, with model/intern.h
 * (the catalog's interning), so that every method afterwards indexes plain
 * arrays: the replay loops then cost what the methods cost, not string
 * hashing.
 *
 * Interface routines: mz_eval_data_load/_free.
 *-------------------------------------------------------------------------
 */
#include "tests/eval/eval.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits line (modified in place) at tabs into at most max fields; returns
 * the number found. The trailing newline is dropped. */
static int split_tabs(char *line, char **fields, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    while (n < max) {
        fields[n++] = line;
        char *tab = strchr(line, '\t');
        if (!tab)
            break;
        *tab = '\0';
        line = tab + 1;
    }
    return n;
}

static bool grow_tokens(struct mz_eval_data *data, size_t *cap, int32_t need)
{
    if ((size_t)need <= *cap)
        return true;
    size_t new_cap = *cap ? *cap : 1024;
    while (new_cap < (size_t)need)
        new_cap *= 2;
    char ***tokens = realloc(data->item_tokens, new_cap * sizeof(*tokens));
    if (!tokens)
        return false;
    data->item_tokens = tokens;
    size_t *counts = realloc(data->item_n_tokens, new_cap * sizeof(*counts));
    if (!counts)
        return false;
    data->item_n_tokens = counts;
    for (size_t i = *cap; i < new_cap; i++) {
        data->item_tokens[i] = NULL;
        data->item_n_tokens[i] = 0;
    }
    *cap = new_cap;
    return true;
}

/* Parses "a,b,c" into item's tokens (NULL-terminated array). */
static bool set_item_tokens(struct mz_eval_data *data, int32_t item,
                            const char *list)
{
    size_t n = 0;
    for (const char *p = list; *p; p++)
        n += (*p == ',');
    n += (*list != '\0');
    char **tokens = calloc(n + 1, sizeof(*tokens));
    if (!tokens)
        return false;
    data->item_tokens[item] = tokens;
    const char *p = list;
    for (size_t k = 0; k < n; k++) {
        size_t len = strcspn(p, ",");
        tokens[k] = strndup(p, len);
        data->item_n_tokens[item] = k + 1; /* so that _free releases it */
        if (!tokens[k])
            return false;
        p += len + (p[len] == ',');
    }
    return true;
}

static bool read_items(struct mz_eval_data *data, const char *path,
                       size_t *tokens_cap, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t line_cap = 0;
    bool ok = false;
    long lineno = 0;

    if (!f) {
        if (errno == ENOENT)
            return true; /* items.tsv is optional */
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return false;
    }
    while (getline(&line, &line_cap, f) > 0) {
        char *fields[2] = {NULL, NULL};
        lineno++;
        int nf = split_tabs(line, fields, 2);
        if (!*fields[0])
            continue;
        int32_t item = mz_intern_id(data->items, fields[0]);
        if (item < 0 || !grow_tokens(data, tokens_cap, item + 1)) {
            snprintf(err, err_len, "%s:%ld: out of memory", path, lineno);
            goto cleanup;
        }
        if (!data->item_tokens[item] &&
            !set_item_tokens(data, item, nf == 2 ? fields[1] : "")) {
            snprintf(err, err_len, "%s:%ld: out of memory", path, lineno);
            goto cleanup;
        }
    }
    ok = true;
cleanup:
    free(line);
    fclose(f);
    return ok;
}

/* An event type by its API name, or by a name other public data sets use
 * for the same thing (RetailRocket's addtocart and transaction, review
 * and rating data sets' rating, ...), any case. */
static bool parse_type(const char *name, enum mz_event_type *type)
{
    static const struct {
        const char *name;
        enum mz_event_type type;
    } synonyms[] = {
        {"addtocart", MZ_EV_ADD_TO_CART}, {"add-to-cart", MZ_EV_ADD_TO_CART},
        {"cart", MZ_EV_ADD_TO_CART},      {"transaction", MZ_EV_PURCHASE},
        {"buy", MZ_EV_PURCHASE},          {"order", MZ_EV_PURCHASE},
        {"rating", MZ_EV_PURCHASE},       {"review", MZ_EV_PURCHASE},
        {"like", MZ_EV_WISHLIST},         {"favorite", MZ_EV_WISHLIST},
        {"favourite", MZ_EV_WISHLIST},    {"pv", MZ_EV_VIEW},
        {"fav", MZ_EV_WISHLIST},          {"clicks", MZ_EV_CLICK},
    };
    char lower[64];
    size_t len = strlen(name);
    if (len >= sizeof lower)
        return false;
    for (size_t i = 0; i <= len; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    if (mz_event_type_parse(lower, type))
        return true;
    for (size_t i = 0; i < sizeof synonyms / sizeof synonyms[0]; i++) {
        if (strcmp(lower, synonyms[i].name) == 0) {
            *type = synonyms[i].type;
            return true;
        }
    }
    return false;
}

static bool read_events(struct mz_eval_data *data, const char *path,
                        struct mz_eval_event **out, size_t *n_out,
                        size_t *tokens_cap, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t line_cap = 0, cap = 0, n = 0;
    struct mz_eval_event *events = NULL;
    bool ok = false;
    long lineno = 0;
    long unknown_types = 0;

    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return false;
    }
    while (getline(&line, &line_cap, f) > 0) {
        char *fields[4] = {NULL, NULL, NULL, NULL};
        lineno++;
        int nf = split_tabs(line, fields, 4);
        if (nf == 1 && !*fields[0])
            continue;
        if (nf < 3) {
            snprintf(err, err_len,
                     "%s:%ld: expected client_id\\titem_id\\tts[\\ttype]", path,
                     lineno);
            goto cleanup;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            struct mz_eval_event *grown = realloc(events, cap * sizeof(*grown));
            if (!grown) {
                snprintf(err, err_len, "%s: out of memory", path);
                goto cleanup;
            }
            events = grown;
        }
        struct mz_eval_event *ev = &events[n];
        char *end;
        ev->ts = strtoll(fields[2], &end, 10);
        if (end == fields[2] || *end) {
            snprintf(err, err_len, "%s:%ld: bad ts '%s'", path, lineno,
                     fields[2]);
            goto cleanup;
        }
        ev->type = MZ_EV_VIEW;
        if (nf == 4 && *fields[3] && !parse_type(fields[3], &ev->type)) {
            if (unknown_types++ == 0)
                fprintf(stderr,
                        "maison-eval: %s:%ld: unknown event type '%.64s' "
                        "counted as a view (so are all unknown types)\n",
                        path, lineno, fields[3]);
        }
        ev->client = mz_intern_id(data->clients, fields[0]);
        ev->item = mz_intern_id(data->items, fields[1]);
        if (ev->client < 0 || ev->item < 0 ||
            !grow_tokens(data, tokens_cap, ev->item + 1)) {
            snprintf(err, err_len, "%s: out of memory", path);
            goto cleanup;
        }
        n++;
    }
    *out = events;
    *n_out = n;
    events = NULL;
    ok = true;
cleanup:
    free(events);
    free(line);
    fclose(f);
    return ok;
}

struct mz_eval_data *mz_eval_data_load(const char *dir, char *err,
                                       size_t err_len)
{
    struct mz_eval_data *data = calloc(1, sizeof(*data));
    char path[4096];
    size_t tokens_cap = 0;

    if (!data) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    /* The data set's name is the directory's last component ("a/b/" -> b). */
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    data->name = strndup(dir + start, end - start);
    data->items = mz_intern_new();
    data->clients = mz_intern_new();
    if (!data->name || !data->items || !data->clients) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/items.tsv", dir);
    if (!read_items(data, path, &tokens_cap, err, err_len))
        goto fail;
    snprintf(path, sizeof(path), "%s/train.tsv", dir);
    if (!read_events(data, path, &data->train, &data->n_train, &tokens_cap, err,
                     err_len))
        goto fail;
    snprintf(path, sizeof(path), "%s/test.tsv", dir);
    if (!read_events(data, path, &data->test, &data->n_test, &tokens_cap, err,
                     err_len))
        goto fail;
    int32_t n_items = mz_intern_count(data->items);
    if (!grow_tokens(data, &tokens_cap, n_items + 1)) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    return data;
fail:
    mz_eval_data_free(data);
    return NULL;
}

void mz_eval_data_free(struct mz_eval_data *data)
{
    if (!data)
        return;
    if (data->item_tokens) {
        int32_t n = data->items ? mz_intern_count(data->items) : 0;
        for (int32_t i = 0; i < n; i++) {
            for (size_t k = 0; k < data->item_n_tokens[i]; k++)
                free(data->item_tokens[i][k]);
            free(data->item_tokens[i]);
        }
    }
    free(data->item_tokens);
    free(data->item_n_tokens);
    free(data->train);
    free(data->test);
    mz_intern_free(data->items);
    mz_intern_free(data->clients);
    free(data->name);
    free(data);
}

json_t *mz_eval_item_json(const struct mz_eval_data *data, int32_t item)
{
    json_t *tags = json_array();
    for (size_t k = 0; tags && k < data->item_n_tokens[item]; k++) {
        if (json_array_append_new(tags,
                                  json_string(data->item_tokens[item][k]))) {
            json_decref(tags);
            return NULL;
        }
    }
    if (!tags)
        return NULL;
    /* The data sets carry anonymous tokens only: brand, category and
     * price are the same for every item, so they add nothing to rank by. */
    return json_pack("{s:s, s:s, s:s, s:i, s:s, s:b, s:{}, s:o}", "item_id",
                     mz_intern_name(data->items, item), "brand", "b",
                     "category", "c", "price", 1, "currency", "EUR",
                     "available", 1, "attributes", "tags", tags);
}
