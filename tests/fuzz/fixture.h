/*-------------------------------------------------------------------------
 * fixture.h
 *    The fixture of the binary-reader targets: a small catalog and a
 *    model with the same items, a client that learned from a few events,
 *    and valid snapshots of each saved form, built once per process.
 *
 * An input to those targets is read in one of four modes, its first byte
 * modulo 4 (the rest of it is the "tail"):
 *    0  the tail is the snapshot, as stored;
 *    1  the tail is the snapshot's fields, resealed with a valid checksum
 *       (so the reader's field checks, not the checksum, decide);
 *    2  a valid snapshot of the fixture, corrupted by the tail (see
 *       fuzz_corrupt) and resealed;
 *    3  the same, not resealed (the checksum must refuse it unless the
 *       corruption left the bytes unchanged).
 *-------------------------------------------------------------------------
 */
#ifndef MZ_TESTS_FUZZ_FIXTURE_H
#define MZ_TESTS_FUZZ_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "model/catalog.h"
#include "model/client_facts.h"
#include "model/model.h"

enum fuzz_snapshot {
    FUZZ_SNAPSHOT_MODEL,  /* mz_model_save */
    FUZZ_SNAPSHOT_CLIENT, /* mz_client_save */
    FUZZ_SNAPSHOT_FACTS,  /* mz_client_facts_save */
    FUZZ_SNAPSHOT_RECORD, /* mz_client_record_save */
    FUZZ_SNAPSHOT_COUNT
};

struct fuzz_fixture {
    struct mz_catalog *catalog;
    struct mz_model *model;
    const char **item_ids; /* the model's items by index */
    int32_t n_items;
    uint8_t *snapshot[FUZZ_SNAPSHOT_COUNT];
    size_t snapshot_len[FUZZ_SNAPSHOT_COUNT];
};

/* The process's fixture (borrowed; built on first call, never freed).
 * Aborts when it cannot be built. */
const struct fuzz_fixture *fuzz_fixture(void);

/* A new model with the fixture's configuration and items (caller frees),
 * for readers that write into the model they load into. */
struct mz_model *fuzz_fresh_model(void);

/* The bytes the reader gets for input data[0..size-1] and snapshot kind,
 * as described above (a malloc'd copy, caller frees; *len its length;
 * NULL on allocation failure). *must_refuse is set when the bytes carry
 * a checksum that cannot match (mode 3, bytes changed). */
uint8_t *fuzz_reader_input(enum fuzz_snapshot kind, const uint8_t *data,
                           size_t size, size_t *len, int *must_refuse);

#endif
