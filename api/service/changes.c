/*-------------------------------------------------------------------------
 * changes.c
 *    The log's change markers, applied where they are in the log: a
 *    catalog item written or deleted, a brand's rule set, a client's
 *    attributes, an erasure, the keys (store/log_changes.c).
 *
 * Every node applies every marker, its own writes' too: a write stores
 * its change with its marker and then waits until the learner has
 * applied it (mz_service_wait_change), so what a node has in force is
 * the log up to its applied position, the same on every node
 * (docs/several-nodes.md). The start-up replay passes over markers: it
 * loaded the catalog, rules and attributes as they are now.
 *
 * Called on the learner thread under the write lock, from learning.c.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/json_item.h"
#include "api/json_rules.h"
#include "model/log.h"

/* A marker this node cannot apply (a document a newer maisond wrote, or
 * no memory) is logged and passed over: the rest of the log still
 * applies, and a restart loads the row as stored. */
static void not_applied(const struct mz_event_record *ev, const char *why)
{
    char reason[200];
    snprintf(reason, sizeof reason, "%s at log position %lld: %.120s",
             mz_log_change_name(ev->change), (long long)ev->seq, why);
    mz_log_reason(MZ_LOG_ERROR, "change not applied", reason);
}

static void apply_item(struct mz_service *svc, const struct mz_event_record *ev)
{
    struct mz_json_error why = {.message = ""};
    json_t *obj = ev->payload ? json_loads(ev->payload, 0, NULL) : NULL;
    struct mz_item *item = obj ? mz_json_read_item(obj, "", &why) : NULL;
    json_decref(obj);
    if (!item) {
        not_applied(ev, why.message[0] ? why.message : "unreadable item");
        return;
    }
    if (mz_service_apply_item(svc, item) != MZ_OK)
        not_applied(ev, "out of memory");
}

static void apply_rules(struct mz_service *svc,
                        const struct mz_event_record *ev)
{
    struct mz_json_error why = {.message = ""};
    json_t *obj = ev->payload ? json_loads(ev->payload, 0, NULL) : NULL;
    struct mz_rules *rules = obj ? mz_json_read_rules(obj, &why) : NULL;
    json_decref(obj);
    if (!rules || !ev->brand) {
        mz_rules_free(rules);
        not_applied(ev, why.message[0] ? why.message : "unreadable rules");
        return;
    }
    if (mz_service_apply_rules(svc, ev->brand, ev->version, rules) != MZ_OK)
        not_applied(ev, "out of memory");
}

static void apply_attributes(struct mz_service *svc,
                             const struct mz_event_record *ev)
{
    char err[160] = "";
    if (!ev->payload ||
        !mz_client_cache_restore_attributes(svc->clients, ev->client_id,
                                            ev->payload, true, err, sizeof err))
        not_applied(ev, err[0] ? err : "no document");
}

/* The marker names the client by its digest only: the client in memory
 * whose digest it is goes. */
static void apply_erasure(struct mz_service *svc,
                          const struct mz_event_record *ev)
{
    if (!ev->payload)
        return;
    size_t cursor = 0;
    struct mz_client_entry *entry;
    while ((entry = mz_client_cache_next(svc->clients, &cursor))) {
        char digest[MZ_AUDIT_DIGEST_BYTES];
        mz_store_client_digest(svc->store, entry->client_id, digest);
        if (strcmp(digest, ev->payload) == 0) {
            mz_client_cache_erase(svc->clients, entry->client_id);
            return;
        }
    }
}

void mz_service_apply_change(struct mz_service *svc,
                             const struct mz_event_record *ev)
{
    if (svc->replaying)
        return;
    switch (ev->change) {
    case MZ_CHANGE_ITEM_UPSERT:
        apply_item(svc, ev);
        break;
    case MZ_CHANGE_ITEM_DELETE:
        if (ev->item_id)
            mz_catalog_remove(svc->catalog, ev->item_id);
        break;
    case MZ_CHANGE_RULES:
        apply_rules(svc, ev);
        break;
    case MZ_CHANGE_ATTRIBUTES:
        apply_attributes(svc, ev);
        break;
    case MZ_CHANGE_ERASURE:
        apply_erasure(svc, ev);
        break;
    case MZ_CHANGE_KEYS:
        /* Read from PostgreSQL after the batch, outside the write lock. */
        svc->keys_changed = true;
        break;
    case MZ_CHANGE_NONE:
    case MZ_CHANGE_COUNT:
        break;
    }
}

enum mz_status mz_service_wait_change(struct mz_service *svc, int64_t position)
{
    if (position <= 0)
        return MZ_OK;
    return mz_event_writer_wait_applied(svc->writer, position,
                                        MZ_SERVICE_CHANGE_WAIT_MS);
}

enum mz_status mz_service_wait_position(struct mz_service *svc,
                                        int64_t position)
{
    if (position <= 0)
        return MZ_OK;
    return mz_event_writer_wait_applied(svc->writer, position,
                                        MZ_SERVICE_AFTER_WAIT_MS);
}
