/*-------------------------------------------------------------------------
 * fuzz_rules.c
 *    PUT /v1/brands/{brand}/rules bodies through mz_body_object and
 *    mz_json_read_rules, as api/rules.c does; an accepted rule set is
 *    written in its canonical form, which must read back and write the
 *    same text (json_rules.h promises read(write(r)) writes the same).
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "api/json_rules.h"
#include "tests/fuzz/fuzz.h"

static char *canonical_text(const struct mz_rules *rules)
{
    json_t *doc = mz_json_write_rules(rules);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = fuzz_body_object(data, size);
    if (!body)
        return 0;
    struct mz_json_error err;
    struct mz_rules *rules = mz_json_read_rules(body, &err);
    json_decref(body);
    if (!rules) {
        FUZZ_ASSERT(err.status != MZ_OK);
        return 0;
    }
    char *text = canonical_text(rules);
    FUZZ_ASSERT(text != NULL);
    json_t *again = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_ASSERT(again != NULL);
    struct mz_rules *reread = mz_json_read_rules(again, &err);
    FUZZ_ASSERT(reread != NULL);
    char *text2 = canonical_text(reread);
    FUZZ_ASSERT(text2 != NULL && strcmp(text, text2) == 0);
    free(text2);
    mz_rules_free(reread);
    json_decref(again);
    free(text);
    mz_rules_free(rules);
    return 0;
}
