/*-------------------------------------------------------------------------
 * gen_seeds.c
 *    Writes the valid seeds of the binary-reader targets: the fixture's
 *    snapshots (fixture.h) as mode-0 inputs, CORPUS/<target>/valid.
 *    Run once by hand when a saved format changes
 *    (`make tests/fuzz/gen_seeds && tests/fuzz/gen_seeds tests/fuzz/corpus`);
 *    the seeds are checked in.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "tests/fuzz/fixture.h"

static const char *const targets[FUZZ_SNAPSHOT_COUNT] = {
    [FUZZ_SNAPSHOT_MODEL] = "model",
    [FUZZ_SNAPSHOT_CLIENT] = "client",
    [FUZZ_SNAPSHOT_FACTS] = "client_facts",
    [FUZZ_SNAPSHOT_RECORD] = "client_record",
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const struct fuzz_fixture *fx = fuzz_fixture();
    for (int k = 0; k < FUZZ_SNAPSHOT_COUNT; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/valid", argv[1], targets[k]);
        FILE *f = fopen(path, "wb");
        if (!f || fputc(0, f) == EOF ||
            fwrite(fx->snapshot[k], 1, fx->snapshot_len[k], f) !=
                fx->snapshot_len[k] ||
            fclose(f) != 0) {
            perror(path);
            return 1;
        }
        printf("%s: %zu bytes\n", path, fx->snapshot_len[k] + 1);
    }
    return 0;
}
