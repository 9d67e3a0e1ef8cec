/*-------------------------------------------------------------------------
 * fuzz_client.c
 *    mz_client_load (model/client.c), a client's levels, fed corrupted
 *    saved bytes (input modes in fixture.h) for the fixture's model. A
 *    loaded client must save again.
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
        fuzz_reader_input(FUZZ_SNAPSHOT_CLIENT, data, size, &len, &must_refuse);
    if (!bytes)
        return 0;
    char err[256] = "";
    struct mz_client *client =
        mz_client_load(fx->model, bytes, len, err, sizeof err);
    if (client) {
        FUZZ_ASSERT(!must_refuse);
        size_t saved_len = 0;
        void *saved = mz_client_save(client, &saved_len);
        FUZZ_ASSERT(saved != NULL);
        free(saved);
        mz_client_free(client);
    } else {
        FUZZ_ASSERT(err[0] != '\0');
    }
    free(bytes);
    return 0;
}
