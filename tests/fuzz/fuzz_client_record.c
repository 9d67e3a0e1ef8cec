/*-------------------------------------------------------------------------
 * fuzz_client_record.c
 *    mz_client_record_load (model/client_record.c), a client's whole
 *    checkpoint record (levels and facts), fed corrupted records (input
 *    modes in fixture.h). A refused record must leave *out zeroed; a
 *    loaded one must save again.
 *-------------------------------------------------------------------------
 */
#include "model/client_record.h"
#include "tests/fuzz/fixture.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fuzz_fixture *fx = fuzz_fixture();
    size_t len = 0;
    int must_refuse = 0;
    uint8_t *bytes =
        fuzz_reader_input(FUZZ_SNAPSHOT_RECORD, data, size, &len, &must_refuse);
    if (!bytes)
        return 0;
    struct mz_client_record rec;
    char err[256] = "";
    if (mz_client_record_load(fx->model, fx->catalog, bytes, len, &rec, err,
                              sizeof err)) {
        FUZZ_ASSERT(!must_refuse);
        FUZZ_ASSERT(rec.memory != NULL && rec.facts != NULL);
        size_t saved_len = 0;
        void *saved = mz_client_record_save(
            rec.memory, rec.facts, &rec.privates, fx->catalog, rec.consent,
            rec.events_logged, &saved_len);
        FUZZ_ASSERT(saved != NULL);
        free(saved);
        mz_client_free(rec.memory);
        mz_client_facts_free(rec.facts);
        mz_client_privates_clear(&rec.privates);
    } else {
        FUZZ_ASSERT(rec.memory == NULL && rec.facts == NULL);
        FUZZ_ASSERT(err[0] != '\0');
    }
    free(bytes);
    return 0;
}
