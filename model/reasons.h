/*-------------------------------------------------------------------------
 * reasons.h
 *    Why an item was recommended, in words a sales associate can say out
 *    loud, built only from facts: which memory source contributed most to
 *    the item's score (mz_model_explain), the item of the client's history
 *    behind it (mz_model_evidence_item) and what the client did with that
 *    item and when (the client facts). Texts come from a fixed set of
 *    templates; nothing is invented.
 *
 * Sources are named for people, not for the model's internals:
 *    session context and level 0       -> "session"
 *    levels 1..L-2                     -> "recent"
 *    level L-1 (when L >= 2)           -> "long_term"
 *    the item space / popularity       -> "catalog"
 *
 * Interface routines:
 *    mz_reasons_source_name  - a source's public name
 *    mz_reasons_build        - the reasons for one recommended item, as C
 *                              (api/json_reasons.c writes them)
 *    mz_reasons_for_source   - the reason one source gives for an item
 *    mz_reasons_build_similar - why an item is similar to another
 *    mz_reasons_build_popular - why an item is popular at a brand
 *-------------------------------------------------------------------------
 */
#ifndef MZ_REASONS_H
#define MZ_REASONS_H

#include <stdbool.h>
#include <stdint.h>

#include "model/catalog.h"
#include "model/client_facts.h"
#include "model/model.h"

#define MZ_REASONS_MAX           2            /* reasons per item */
#define MZ_REASONS_NEW_ARRIVAL_S (30 * 86400) /* launched this recently */
#define MZ_REASON_TEXT_BYTES     512

/* Returns "session", "recent", "long_term" or "catalog" for source in a
 * model of n_levels client levels; "catalog" for anything out of range. */
const char *mz_reasons_source_name(enum mz_level_source source, int n_levels);

/* What a reason is built from. Every pointer is borrowed. */
struct mz_reasons_request {
    const struct mz_model *model;
    const struct mz_catalog *catalog;
    const struct mz_client *client;      /* NULL: non-personalised */
    const struct mz_client_facts *facts; /* NULL: no facts known */
    int32_t context_item;                /* -1: none */
    int64_t now;                         /* request time, seconds */
    const uint8_t *allowed; /* a byte per item: the reader may see it;
                               NULL: every item. No reason names an
                               item the reader may not see. */
    const struct mz_explainer *explainer; /* prepared for client,
                               context_item and now (model.h): a list's
                               items share it; NULL: each reason
                               computes its own */
};

/* One reason, as facts: which source it speaks for, the item of the
 * client's history behind it and what the client did with that item,
 * and the sentence. api/json_reasons.c writes it as
 *   {"level":"session","text":"Viewed sku-123 in this session.",
 *    "because_item":"sku-123","event":"view","at":"2026-11-23T10:02:11Z"}
 *   {"level":"catalog","text":"Popular in bags right now."} */
struct mz_reason {
    enum mz_level_source source;     /* MZ_SOURCE_CATALOG: the item
                                        space / popularity */
    const char *level;               /* static, the source's name */
    const char *because_item;        /* borrowed from the catalog
                                        (valid until its next write);
                                        NULL: none */
    bool has_event;                  /* the facts hold the evidence
                                        event: */
    enum mz_event_type event;        /*   its type */
    int64_t at;                      /*   its time, seconds */
    char text[MZ_REASON_TEXT_BYTES]; /* one of the fixed templates */
};

/* Fills out[0..n-1] with the n (1..MZ_REASONS_MAX) reasons for item,
 * strongest first, and returns n; 0 when req is NULL or item is not in
 * the catalog. has_event is set only when the facts hold the evidence
 * event. A second reason is given only for another source that
 * also adds positively to the score. Allocates nothing. */
int mz_reasons_build(const struct mz_reasons_request *req, int32_t item,
                     struct mz_reason out[MZ_REASONS_MAX]);

/* Fills *out with the reason source gives for item (as mz_reasons_build
 * words it for that source) and returns true; false when req is NULL or
 * item is not in the catalog. Allocates nothing. */
bool mz_reasons_for_source(const struct mz_reasons_request *req, int32_t item,
                           enum mz_level_source source, struct mz_reason *out);

/* Fills out[0..n-1] with the reasons item is similar to source (the
 * parts of model/similar.h that raise its score, strongest first; the
 * popularity part only when nothing else does) and returns n (1..
 * MZ_REASONS_MAX); 0 when either is not in the catalog. Each names
 * source as because_item ("Often viewed with sku-1.", "Same line as
 * sku-1: horsebit.", "Appeals to the shoppers who like sku-1."). An
 * attribute reason names the most specific fact the two records share:
 * a text attribute, a tag, the category, else the brand. */
int mz_reasons_build_similar(const struct mz_model *model,
                             const struct mz_catalog *catalog, int32_t source,
                             int32_t item,
                             struct mz_reason out[MZ_REASONS_MAX]);

/* Fills out[0] with the reason item is in brand's popular list
 * ("Popular at maison-a right now.") and returns 1; 0 when item is not
 * in the catalog. brand is borrowed. */
int mz_reasons_build_popular(const struct mz_catalog *catalog, int32_t item,
                             const char *brand,
                             struct mz_reason out[MZ_REASONS_MAX]);

#endif
