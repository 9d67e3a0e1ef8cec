/*-------------------------------------------------------------------------
 * fuzz_client_facts.c
 *    mz_client_facts_load (model/client_facts_io.c) fed corrupted saved
 *    facts (input modes in fixture.h) against the fixture's catalog. A
 *    loaded record must save again and its lists must name catalog
 *    items.
 *-------------------------------------------------------------------------
 */
#include "tests/fuzz/fixture.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fuzz_fixture *fx = fuzz_fixture();
    size_t len = 0;
    int must_refuse = 0;
    uint8_t *bytes =
        fuzz_reader_input(FUZZ_SNAPSHOT_FACTS, data, size, &len, &must_refuse);
    if (!bytes)
        return 0;
    enum mz_status status = MZ_OK;
    char err[256] = "";
    struct mz_client_facts *facts =
        mz_client_facts_load(fx->catalog, bytes, len, &status, err, sizeof err);
    if (facts) {
        FUZZ_ASSERT(!must_refuse);
        size_t saved_len = 0;
        void *saved = mz_client_facts_save(facts, fx->catalog, &saved_len);
        FUZZ_ASSERT(saved != NULL);
        free(saved);
        mz_client_facts_free(facts);
    } else {
        FUZZ_ASSERT(status == MZ_ERR_INVALID || status == MZ_ERR_NOMEM);
        FUZZ_ASSERT(err[0] != '\0');
    }
    free(bytes);
    return 0;
}
