/*-------------------------------------------------------------------------
 * fuzz.h
 *    What every fuzz target shares: the libFuzzer entry point, and the
 *    request body read the way the handlers read it (api/json_body.c).
 *
 * Each tests/fuzz/fuzz_X.c defines LLVMFuzzerTestOneInput. Built with
 * clang -fsanitize=fuzzer it is a libFuzzer binary (`make fuzz`); linked
 * with replay.c it is a plain program that runs a corpus (`make check`).
 * A target aborts (FUZZ_ASSERT) when an invariant of the code it drives
 * does not hold; any other crash is the sanitizers'.
 *-------------------------------------------------------------------------
 */
#ifndef MZ_TESTS_FUZZ_H
#define MZ_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/http.h"
#include "api/json_body.h"

/* Runs one input (borrowed); always returns 0 (libFuzzer's contract). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

static inline const char *fuzz_no_query(void *ctx, const char *key)
{
    (void)ctx;
    (void)key;
    return NULL;
}

/* data[0..size-1] (borrowed) as a request body through mz_body_object:
 * the parsed object (caller decrefs) or NULL when the reader refused it. */
static inline json_t *fuzz_body_object(const uint8_t *data, size_t size)
{
    struct mz_request req = {
        .method = "POST",
        .path = "/",
        .content_type = "application/json",
        .body = size ? (const char *)data : NULL,
        .body_len = size,
        .query = fuzz_no_query,
    };
    struct mz_response resp = {0};
    json_t *obj = mz_body_object(&req, &resp);
    FUZZ_ASSERT(obj ? resp.body == NULL : resp.http_status == 400);
    mz_response_clear(&resp);
    return obj;
}

#endif
