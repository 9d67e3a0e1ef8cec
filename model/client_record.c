/*-------------------------------------------------------------------------
 * client_record.c
 *    A client's persisted record; see client_record.h for the layout.
 *-------------------------------------------------------------------------
 */
#include "model/client_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bytes.h"

#define CLIENT_RECORD_MAGIC   0x4d5a4345u /* "MZCE" */
#define CLIENT_RECORD_VERSION 1

void *mz_client_record_save(const struct mz_client *memory,
                            const struct mz_client_facts *facts,
                            const struct mz_catalog *catalog, bool consent,
                            int64_t events_logged, size_t *len)
{
    size_t memory_len = 0, facts_len = 0;
    void *memory_bytes = mz_client_save(memory, &memory_len);
    void *facts_bytes = mz_client_facts_save(facts, catalog, &facts_len);
    void *out = NULL;
    if (memory_bytes && facts_bytes) {
        struct mz_wbuf w;
        mz_wbuf_init(&w);
        mz_wbuf_u32(&w, CLIENT_RECORD_MAGIC);
        mz_wbuf_u8(&w, CLIENT_RECORD_VERSION);
        mz_wbuf_u8(&w, consent ? 1 : 0);
        mz_wbuf_u64(&w, (uint64_t)events_logged);
        mz_wbuf_u32(&w, (uint32_t)memory_len);
        mz_wbuf_raw(&w, memory_bytes, memory_len);
        mz_wbuf_u32(&w, (uint32_t)facts_len);
        mz_wbuf_raw(&w, facts_bytes, facts_len);
        out = mz_wbuf_finish(&w, len);
    }
    free(memory_bytes);
    free(facts_bytes);
    return out;
}

bool mz_client_record_load(const struct mz_model *model,
                           const struct mz_catalog *catalog, const void *bytes,
                           size_t len, struct mz_client_record *out, char *err,
                           size_t err_len)
{
    memset(out, 0, sizeof *out);
    struct mz_rbuf r;
    if (!mz_rbuf_open(&r, bytes, len) ||
        mz_rbuf_u32(&r) != CLIENT_RECORD_MAGIC ||
        mz_rbuf_u8(&r) != CLIENT_RECORD_VERSION) {
        snprintf(err, err_len, "not a client record");
        return false;
    }
    bool consent = mz_rbuf_u8(&r) != 0;
    int64_t events_logged = (int64_t)mz_rbuf_u64(&r);
    uint32_t memory_len = mz_rbuf_u32(&r);
    const uint8_t *memory_bytes = mz_rbuf_raw(&r, memory_len);
    uint32_t facts_len = mz_rbuf_u32(&r);
    const uint8_t *facts_bytes = mz_rbuf_raw(&r, facts_len);
    if (r.failed || !memory_bytes || !facts_bytes) {
        snprintf(err, err_len, "truncated record");
        return false;
    }
    if (mz_rbuf_left(&r) != 0) {
        snprintf(err, err_len, "trailing bytes after the record");
        return false;
    }
    char why[256] = "";
    struct mz_client *memory =
        mz_client_load(model, memory_bytes, memory_len, why, sizeof why);
    enum mz_status status = MZ_OK;
    struct mz_client_facts *facts =
        memory ? mz_client_facts_load(catalog, facts_bytes, facts_len, &status,
                                      why, sizeof why)
               : NULL;
    if (!memory || !facts) {
        snprintf(err, err_len, "%s", why[0] ? why : "out of memory");
        mz_client_free(memory);
        mz_client_facts_free(facts);
        return false;
    }
    *out = (struct mz_client_record){memory, facts, consent, events_logged};
    return true;
}
