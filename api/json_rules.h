/*-------------------------------------------------------------------------
 * json_rules.h
 *    Brand rule sets in JSON: reading a rule-set document into a struct
 *    mz_rules (model/rules.h), its canonical form (stored in PostgreSQL,
 *    returned by the API), and a selection's per-rule counts
 *    (?explain=rules).
 *
 * Rule-set JSON (every key optional; unknown keys are rejected):
 *   {"categories": {"allow": ["bags", ...], "exclude": ["outlet", ...]},
 *    "price": {"min": 0, "max": null,
 *              "min_by_tier": {"prospect": 500}, "max_by_tier": {...}},
 *    "max_per_category": 3,
 *    "frequency_cap": {"max_per_item_per_day": 3},
 *    "exclude_purchased": {"enabled": true,
 *                          "repurchasable_categories": ["fragrance"]},
 *    "exclude_dismissed_days": 30}
 * Lists and tier maps hold at most MZ_RULES_MAX_LIST names of
 * 1..MZ_RULES_MAX_STRING_BYTES bytes; what absent means is in
 * model/rules.h.
 *
 * Interface routines:
 *    mz_json_read_rules            - validate a rule set into a new struct
 *    mz_json_write_rules           - the canonical JSON of a rule set
 *    mz_json_write_select_explain  - a selection's per-rule counts
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_RULES_H
#define MZ_API_JSON_RULES_H

#include <jansson.h>

#include "api/json_spec.h"
#include "model/rules.h"
#include "model/rules_select.h"

/* Validates obj (borrowed) as a rule set and returns a new one (caller
 * frees with mz_rules_free), or NULL with err naming the field (e.g.
 * "price.min_by_tier.vip: must be a number >= 0",
 * "frequency_cap.per_week: unknown field"; status MZ_ERR_INVALID or
 * MZ_ERR_NOMEM). */
struct mz_rules *mz_json_read_rules(const json_t *obj,
                                    struct mz_json_error *err);

/* The rule set (borrowed) in its canonical JSON form (new reference,
 * caller owns; NULL on allocation failure): the parts that were given,
 * in a fixed key order, so read(write(r)) writes the same text. */
json_t *mz_json_write_rules(const struct mz_rules *rules);

/* The per-rule counts of result (borrowed) for ?explain=rules, as a new
 * JSON object (caller owns; NULL on allocation failure):
 * {"candidates":N, "allowed":N, "removed":{"price.min":12, ...}} with
 * only the rules that removed something, plus "reason" when the list is
 * empty. */
json_t *mz_json_write_select_explain(const struct mz_select_result *result);

#endif
