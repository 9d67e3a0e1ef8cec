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
#define CLIENT_RECORD_VERSION 2

/* Appends levels and facts as two (u32 length, bytes) fields; false on
 * allocation failure. */
static bool write_memory(struct mz_wbuf *w, const struct mz_client *memory,
                         const struct mz_client_facts *facts,
                         const struct mz_catalog *catalog)
{
    size_t memory_len = 0, facts_len = 0;
    void *memory_bytes = mz_client_save(memory, &memory_len);
    void *facts_bytes = mz_client_facts_save(facts, catalog, &facts_len);
    bool ok = memory_bytes && facts_bytes;
    if (ok) {
        mz_wbuf_u32(w, (uint32_t)memory_len);
        mz_wbuf_raw(w, memory_bytes, memory_len);
        mz_wbuf_u32(w, (uint32_t)facts_len);
        mz_wbuf_raw(w, facts_bytes, facts_len);
    }
    free(memory_bytes);
    free(facts_bytes);
    return ok;
}

void *mz_client_record_save(const struct mz_client *memory,
                            const struct mz_client_facts *facts,
                            const struct mz_client_privates *privates,
                            const struct mz_catalog *catalog, bool consent,
                            int64_t events_logged, size_t *len)
{
    struct mz_wbuf w;
    mz_wbuf_init(&w);
    mz_wbuf_u32(&w, CLIENT_RECORD_MAGIC);
    mz_wbuf_u8(&w, CLIENT_RECORD_VERSION);
    mz_wbuf_u8(&w, consent ? 1 : 0);
    mz_wbuf_u64(&w, (uint64_t)events_logged);
    bool ok = write_memory(&w, memory, facts, catalog);
    size_t n_private = privates ? privates->count : 0;
    mz_wbuf_u32(&w, (uint32_t)n_private);
    for (size_t i = 0; ok && i < n_private; i++) {
        const struct mz_client_private *p = &privates->v[i];
        mz_wbuf_u32(&w, (uint32_t)strlen(p->brand));
        mz_wbuf_raw(&w, p->brand, strlen(p->brand));
        ok = write_memory(&w, p->memory, p->facts, catalog);
    }
    void *out = mz_wbuf_finish(&w, len);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* Reads one (levels, facts) pair into *memory and *facts (caller frees).
 * Returns false with the reason in err. */
static bool read_memory(struct mz_rbuf *r, const struct mz_model *model,
                        const struct mz_catalog *catalog,
                        struct mz_client **memory,
                        struct mz_client_facts **facts, char *err,
                        size_t err_len)
{
    uint32_t memory_len = mz_rbuf_u32(r);
    const uint8_t *memory_bytes = mz_rbuf_raw(r, memory_len);
    uint32_t facts_len = mz_rbuf_u32(r);
    const uint8_t *facts_bytes = mz_rbuf_raw(r, facts_len);
    if (r->failed || !memory_bytes || !facts_bytes) {
        snprintf(err, err_len, "truncated record");
        return false;
    }
    char why[256] = "";
    enum mz_status status = MZ_OK;
    *memory = mz_client_load(model, memory_bytes, memory_len, why, sizeof why);
    *facts = *memory ? mz_client_facts_load(catalog, facts_bytes, facts_len,
                                            &status, why, sizeof why)
                     : NULL;
    if (!*memory || !*facts) {
        snprintf(err, err_len, "%s", why[0] ? why : "out of memory");
        mz_client_free(*memory);
        *memory = NULL;
        return false;
    }
    return true;
}

/* Reads the private memories into out->privates. Returns false with the
 * reason in err. */
static bool read_privates(struct mz_rbuf *r, const struct mz_model *model,
                          const struct mz_catalog *catalog,
                          struct mz_client_record *out, char *err,
                          size_t err_len)
{
    uint32_t n = mz_rbuf_u32(r);
    if (r->failed || n > MZ_CLIENT_MAX_PRIVATES) {
        snprintf(err, err_len, "bad count of private memories");
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        char brand[MZ_ID_MAX_BYTES + 1];
        uint32_t brand_len = mz_rbuf_u32(r);
        const uint8_t *brand_bytes =
            brand_len >= 1 && brand_len <= MZ_ID_MAX_BYTES
                ? mz_rbuf_raw(r, brand_len)
                : NULL;
        if (!brand_bytes) {
            snprintf(err, err_len, "bad brand of a private memory");
            return false;
        }
        memcpy(brand, brand_bytes, brand_len);
        brand[brand_len] = '\0';
        if (strlen(brand) != brand_len ||
            mz_client_privates_find(&out->privates, brand)) {
            snprintf(err, err_len, "bad or repeated brand of a private memory");
            return false;
        }
        struct mz_client_private *p =
            mz_client_privates_add(&out->privates, model, brand);
        if (!p) {
            snprintf(err, err_len, "out of memory");
            return false;
        }
        struct mz_client *memory = NULL;
        struct mz_client_facts *facts = NULL;
        if (!read_memory(r, model, catalog, &memory, &facts, err, err_len))
            return false;
        mz_client_free(p->memory);
        mz_client_facts_free(p->facts);
        p->memory = memory;
        p->facts = facts;
    }
    return true;
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
    out->consent = mz_rbuf_u8(&r) != 0;
    out->events_logged = (int64_t)mz_rbuf_u64(&r);
    bool ok = read_memory(&r, model, catalog, &out->memory, &out->facts, err,
                          err_len) &&
              read_privates(&r, model, catalog, out, err, err_len);
    if (ok && mz_rbuf_left(&r) != 0) {
        snprintf(err, err_len, "trailing bytes after the record");
        ok = false;
    }
    if (!ok) {
        mz_client_free(out->memory);
        mz_client_facts_free(out->facts);
        mz_client_privates_clear(&out->privates);
        memset(out, 0, sizeof *out);
    }
    return ok;
}
