/*-------------------------------------------------------------------------
 * replay.c
 *    A plain main() around a fuzz target: runs LLVMFuzzerTestOneInput on
 *    every file of a corpus directory, so `make check` replays the
 *    checked-in corpus with the normal (gcc) build.
 *
 * Usage: replay_X [CORPUS_DIR]; without an argument the directory the
 * build compiled in (FUZZ_CORPUS_DIR). Exits 1 when the directory cannot
 * be read or holds no input; a failing input aborts (its name was
 * printed first).
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

/* Reads path into a malloc'd buffer (caller frees) of *len bytes, or
 * NULL. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    const char *dir_path = argc > 1 ? argv[1] : FUZZ_CORPUS_DIR;
    DIR *dir = opendir(dir_path);
    if (!dir) {
        perror(dir_path);
        return 1;
    }
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir_path, entry->d_name);
        size_t len = 0;
        uint8_t *data = read_file(path, &len);
        if (!data) {
            perror(path);
            closedir(dir);
            return 1;
        }
        printf("%s (%zu bytes)\n", path, len);
        fflush(stdout);
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        count++;
    }
    closedir(dir);
    printf("%d inputs of %s replayed\n", count, dir_path);
    return count > 0 ? 0 : 1;
}
