/*-------------------------------------------------------------------------
 * fuzz_query.c
 *    Query arguments of GET /v1/clients/{client_id}/recommendations
 *    through mz_query_int, mz_query_id and mz_query_id_list
 *    (api/json_body.h), the way api/recommendations.c reads them. libmicrohttpd
 *splits and percent-decodes the query string before the API sees it, so the
 *    input is "key=value" pairs split on '&' here, values as raw bytes.
 *    A value accepted must be in range (k), a valid id, or a list of at
 *    most 100 valid ids (exclude).
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "model/rules_select.h"
#include "tests/fuzz/fuzz.h"

enum { MAX_ARGS = 16 };

struct query_args {
    char *keys[MAX_ARGS];
    char *values[MAX_ARGS];
    int count;
};

/* The first value of key, as libmicrohttpd's lookup returns it. */
static const char *lookup(void *ctx, const char *key)
{
    const struct query_args *args = ctx;
    for (int i = 0; i < args->count; i++)
        if (strcmp(args->keys[i], key) == 0)
            return args->values[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct query_args args = {.count = 0};
    for (char *pair = text; pair && args.count < MAX_ARGS;) {
        char *next = strchr(pair, '&');
        if (next)
            *next++ = '\0';
        char *eq = strchr(pair, '=');
        if (eq)
            *eq++ = '\0';
        args.keys[args.count] = pair;
        args.values[args.count] = eq ? eq : pair + strlen(pair);
        args.count++;
        pair = next;
    }
    struct mz_request req = {
        .method = "GET",
        .path = "/v1/clients/c/recommendations",
        .query = lookup,
        .query_ctx = &args,
    };
    struct mz_response resp = {0};
    int64_t k = 0;
    if (mz_query_int(&req, "k", 1, MZ_SELECT_MAX_K, 10, &k, &resp))
        FUZZ_ASSERT(k >= 1 && k <= MZ_SELECT_MAX_K);
    else
        FUZZ_ASSERT(resp.http_status == 400);
    mz_response_clear(&resp);
    static const char *const id_keys[] = {"brand", "region", "context_item"};
    for (size_t i = 0; i < sizeof id_keys / sizeof id_keys[0]; i++) {
        struct mz_response id_resp = {0};
        const char *value = NULL;
        if (mz_query_id(&req, id_keys[i], &value, &id_resp))
            FUZZ_ASSERT(value == NULL || mz_is_valid_id(value));
        else
            FUZZ_ASSERT(id_resp.http_status == 400 && id_resp.body != NULL);
        mz_response_clear(&id_resp);
    }
    /* exclude=: at most 100 valid ids, or a 400 with a body. */
    static struct mz_query_list exclude;
    struct mz_response list_resp = {0};
    if (mz_query_id_list(&req, "exclude", 100, &exclude, &list_resp)) {
        FUZZ_ASSERT(exclude.count <= 100);
        for (size_t i = 0; i < exclude.count; i++)
            FUZZ_ASSERT(mz_is_valid_id(exclude.items[i]) &&
                        strchr(exclude.items[i], ',') == NULL);
    } else {
        FUZZ_ASSERT(list_resp.http_status == 400 && list_resp.body != NULL);
    }
    mz_response_clear(&list_resp);
    free(text);
    return 0;
}
