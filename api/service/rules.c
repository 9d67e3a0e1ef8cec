/*-------------------------------------------------------------------------
 * rules.c
 *    Brand rule sets: stored as the brand's next version in PostgreSQL
 *    with its marker in the log, in force on every node where the log
 *    has it (changes.c) and here before the reply, so the very next
 *    recommendation obeys it.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdlib.h>
#include <string.h>

const struct mz_brand_rules *mz_service_brand_rules(
    const struct mz_service *svc, const char *brand)
{
    for (size_t i = 0; i < svc->n_rules; i++)
        if (strcmp(svc->rules[i].brand, brand) == 0)
            return &svc->rules[i];
    return NULL;
}

enum mz_status mz_service_apply_rules(struct mz_service *svc, const char *brand,
                                      int64_t version, struct mz_rules *rules)
{
    struct mz_brand_rules *slot =
        (struct mz_brand_rules *)mz_service_brand_rules(svc, brand);
    if (!slot) {
        struct mz_brand_rules *grown =
            realloc(svc->rules, sizeof *grown * (svc->n_rules + 1));
        if (!grown) {
            mz_rules_free(rules);
            return MZ_ERR_NOMEM;
        }
        svc->rules = grown;
        slot = &svc->rules[svc->n_rules];
        slot->brand = strdup(brand);
        if (!slot->brand) {
            mz_rules_free(rules);
            return MZ_ERR_NOMEM;
        }
        slot->rules = NULL;
        svc->n_rules++;
    }
    mz_rules_free(slot->rules);
    slot->rules = rules;
    slot->version = version;
    return MZ_OK;
}

enum mz_status mz_service_put_rules(struct mz_service *svc, const char *brand,
                                    struct mz_rules *rules, const char *doc,
                                    const struct mz_principal *by,
                                    int64_t *version)
{
    /* The rules in force come from the marker's document, on this node
     * as on the others; the parsed copy only validated it. */
    mz_rules_free(rules);
    int64_t position = 0;
    pthread_mutex_lock(&svc->rules_write_mutex);
    enum mz_status status = mz_service_count_store_error(
        svc, mz_store_put_rules(svc->store, brand, doc, mz_service_actor(by),
                                version, &position));
    if (status == MZ_OK)
        status = mz_service_wait_change(svc, position);
    pthread_mutex_unlock(&svc->rules_write_mutex);
    return status;
}

enum mz_status mz_service_read_rules(struct mz_service *svc, const char *brand,
                                     mz_rules_reply_fn reply, void *ctx)
{
    mz_service_read_lock(svc);
    const struct mz_brand_rules *current = mz_service_brand_rules(svc, brand);
    enum mz_status status = current
                                ? reply(ctx, current->version, current->rules)
                                : MZ_ERR_NOT_FOUND;
    pthread_rwlock_unlock(&svc->lock);
    return status;
}
