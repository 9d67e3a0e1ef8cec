/*-------------------------------------------------------------------------
 * fuzz_model.c
 *    mz_model_load (model/model_load.c) fed corrupted global-level
 *    checkpoints (input modes in fixture.h), into a fresh model of the
 *    fixture's items each time. Bytes that fail the checksum must be
 *    refused; a refused load must say why; a loaded model must save
 *    again.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "tests/fuzz/fixture.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fuzz_fixture *fx = fuzz_fixture();
    size_t len = 0;
    int must_refuse = 0;
    uint8_t *bytes =
        fuzz_reader_input(FUZZ_SNAPSHOT_MODEL, data, size, &len, &must_refuse);
    if (!bytes)
        return 0;
    struct mz_model *model = fuzz_fresh_model();
    char err[256] = "";
    enum mz_status status =
        mz_model_load(model, fx->item_ids, bytes, len, err, sizeof err);
    if (status == MZ_OK) {
        FUZZ_ASSERT(!must_refuse);
        size_t saved_len = 0;
        void *saved = mz_model_save(model, fx->item_ids, &saved_len);
        FUZZ_ASSERT(saved != NULL);
        free(saved);
    } else {
        FUZZ_ASSERT(status == MZ_ERR_INVALID || status == MZ_ERR_NOMEM);
        FUZZ_ASSERT(err[0] != '\0');
    }
    mz_model_free(model);
    free(bytes);
    return 0;
}
