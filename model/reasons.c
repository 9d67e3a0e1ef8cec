/*-------------------------------------------------------------------------
 * reasons.c
 *    Reasons for one recommended item, from the model's per-source
 *    contributions, its evidence items and the client's facts.
 *
 * Every text is one of the templates below filled with an item id, a
 * category name or a date taken from the catalog and the facts; when a
 * fact is missing the template that needs it is not used. The strongest
 * source gives the first reason; a second, different-named source that
 * also raises the score gives the second. The reasons are C structs;
 * api/json_reasons.c writes them for the API.
 *
 * Interface routines: see reasons.h.
 *-------------------------------------------------------------------------
 */
#include "model/reasons.h"

#include <stdio.h>
#include <string.h>

#include "model/similar.h"
#include "model/timefmt.h"

const char *mz_reasons_source_name(enum mz_level_source source, int n_levels)
{
    if (source == MZ_SOURCE_SESSION || source == MZ_SOURCE_LEVEL0)
        return "session";
    int level = (int)source - MZ_SOURCE_LEVEL0;
    if (level < 1 || level >= n_levels || level >= MZ_MAX_LEVELS)
        return "catalog";
    return level == n_levels - 1 ? "long_term" : "recent";
}

/* "Viewed sku-1", "Added sku-1 to the cart", ...: what the client did. */
static const char *action_template(enum mz_event_type type)
{
    switch (type) {
    case MZ_EV_VIEW:
        return "Viewed %s";
    case MZ_EV_CLICK:
        return "Clicked on %s";
    case MZ_EV_ADD_TO_CART:
        return "Added %s to the cart";
    case MZ_EV_REMOVE_FROM_CART:
        return "Took %s out of the cart";
    case MZ_EV_WISHLIST:
        return "Added %s to the wishlist";
    case MZ_EV_PURCHASE:
        return "Bought %s";
    case MZ_EV_RETURN:
        return "Returned %s";
    case MZ_EV_DISMISS:
        return "Dismissed %s";
    default:
        return NULL;
    }
}

/* Finds what the client did with item: the latest ring entry, else the
 * purchase, wishlist or cart records. */
static bool find_event(const struct mz_client_facts *facts, int32_t item,
                       struct mz_item_event *out)
{
    int64_t ts;
    size_t n;
    if (!facts)
        return false;
    if (mz_client_facts_last_event_of(facts, item, out))
        return true;
    if (mz_client_facts_purchased_at(facts, item, &ts)) {
        *out = (struct mz_item_event){item, MZ_EV_PURCHASE, ts};
        return true;
    }
    const struct mz_item_time *wish = mz_client_facts_wishlist(facts, &n);
    for (size_t i = 0; i < n; i++) {
        if (wish[i].item == item) {
            *out = (struct mz_item_event){item, MZ_EV_WISHLIST, wish[i].ts};
            return true;
        }
    }
    const struct mz_cart_line *cart = mz_client_facts_cart(facts, &n);
    for (size_t i = 0; i < n; i++) {
        if (cart[i].item == item) {
            *out = (struct mz_item_event){item, MZ_EV_ADD_TO_CART, cart[i].ts};
            return true;
        }
    }
    return false;
}

/* Writes the sentence of a personal reason into text. */
static void personal_text(const char *level, const char *because,
                          const char *category, bool is_context,
                          const struct mz_item_event *ev, char *text,
                          size_t len)
{
    char action[MZ_ID_MAX_BYTES + 64];
    char when[MZ_TIME_RFC3339_BYTES];
    const char *tmpl = ev ? action_template(ev->type) : NULL;

    if (!because) {
        snprintf(text, len, "%s",
                 strcmp(level, "session") == 0
                     ? "Matches what the client is browsing in this session."
                 : strcmp(level, "recent") == 0
                     ? "Matches what the client has been looking at lately."
                     : "Matches the client's long-standing taste.");
        return;
    }
    if (!tmpl) {
        if (is_context)
            snprintf(text, len, "Similar to %s, being viewed now.", because);
        else if (strcmp(level, "session") == 0)
            snprintf(text, len, "Similar to %s, seen in this session.",
                     because);
        else if (strcmp(level, "recent") == 0)
            snprintf(text, len, "Similar to %s, seen recently.", because);
        else
            snprintf(text, len, "Similar to %s, from the client's history.",
                     because);
        return;
    }
    snprintf(action, sizeof(action), tmpl, because);
    mz_time_format_rfc3339(ev->ts, when);
    when[10] = '\0'; /* the date part */
    if (strcmp(level, "session") == 0)
        snprintf(text, len, "%s in this session.", action);
    else if (strcmp(level, "recent") == 0 && category)
        snprintf(text, len, "%s on %s; has been looking at %s lately.", action,
                 when, category);
    else
        snprintf(text, len, "%s on %s.", action, when);
}

/* Fills out with the reason for source. */
static void reason_for(const struct mz_reasons_request *req, int32_t item,
                       enum mz_level_source source, int n_levels,
                       struct mz_reason *out)
{
    const struct mz_item *rec = mz_catalog_item(req->catalog, item);
    int32_t evidence =
        !req->client ? -1
        : req->explainer
            ? mz_explainer_evidence(req->explainer, source, item)
            : mz_model_evidence_item(req->model, req->client, source, item);
    if (evidence >= 0 && req->allowed && !req->allowed[evidence])
        evidence = -1; /* not the reader's to see */
    const struct mz_item *because = mz_catalog_item(req->catalog, evidence);

    *out = (struct mz_reason){
        .source = source,
        .level = mz_reasons_source_name(source, n_levels),
    };
    if (source == MZ_SOURCE_CATALOG) {
        if (because && evidence != item) {
            out->because_item = because->item_id;
            snprintf(out->text, sizeof(out->text),
                     "Shoppers who looked at %s also looked at this.",
                     because->item_id);
        } else if (rec->launch_at != MZ_TIME_NONE_BEFORE &&
                   rec->launch_at <= req->now &&
                   req->now - rec->launch_at < MZ_REASONS_NEW_ARRIVAL_S) {
            snprintf(out->text, sizeof(out->text), "New arrival.");
        } else {
            snprintf(out->text, sizeof(out->text), "Popular in %s right now.",
                     rec->category);
        }
        return;
    }

    struct mz_item_event ev;
    bool has_event = because && find_event(req->facts, evidence, &ev);
    personal_text(out->level, because ? because->item_id : NULL,
                  because ? because->category : NULL,
                  evidence >= 0 && evidence == req->context_item,
                  has_event ? &ev : NULL, out->text, sizeof(out->text));
    out->because_item = because ? because->item_id : NULL;
    if (has_event) {
        out->has_event = true;
        out->event = ev.type;
        out->at = ev.ts;
    }
}

int mz_reasons_build(const struct mz_reasons_request *req, int32_t item,
                     struct mz_reason out[MZ_REASONS_MAX])
{
    float contrib[MZ_SOURCE_COUNT] = {0};
    enum mz_level_source order[MZ_SOURCE_COUNT];
    int n_order = 0;
    int n_levels = 0;
    int n_used = 0;

    if (!req || !req->catalog || !mz_catalog_item(req->catalog, item))
        return 0;
    if (req->model && req->client) {
        n_levels = mz_model_config_of(req->model)->n_levels;
        if (req->explainer)
            mz_explainer_contrib(req->explainer, item, contrib);
        else
            mz_model_explain(req->model, req->client, req->context_item,
                             req->now, item, contrib);
        /* Sources that raise the score, strongest first (insertion sort
         * over at most MZ_SOURCE_COUNT entries; ties keep source order). */
        for (int s = 0; s < MZ_SOURCE_COUNT; s++) {
            if (!(contrib[s] > 0.0f))
                continue;
            if (s >= MZ_SOURCE_LEVEL0 + n_levels && s != MZ_SOURCE_CATALOG)
                continue;
            int pos = n_order++;
            while (pos > 0 && contrib[order[pos - 1]] < contrib[s]) {
                order[pos] = order[pos - 1];
                pos--;
            }
            order[pos] = (enum mz_level_source)s;
        }
    }
    for (int i = 0; i < n_order && n_used < MZ_REASONS_MAX; i++) {
        const char *name = mz_reasons_source_name(order[i], n_levels);
        bool repeat = false;
        for (int j = 0; j < n_used; j++)
            repeat |= strcmp(out[j].level, name) == 0;
        if (repeat)
            continue;
        reason_for(req, item, order[i], n_levels, &out[n_used++]);
    }
    if (n_used == 0)
        reason_for(req, item, MZ_SOURCE_CATALOG, n_levels, &out[n_used++]);
    return n_used;
}

bool mz_reasons_for_source(const struct mz_reasons_request *req, int32_t item,
                           enum mz_level_source source, struct mz_reason *out)
{
    if (!req || !req->catalog || !mz_catalog_item(req->catalog, item))
        return false;
    int n_levels = req->model ? mz_model_config_of(req->model)->n_levels : 0;
    reason_for(req, item, source, n_levels, out);
    return true;
}

/* ---- similar items and popular items --------------------------------- */

/* Writes the most specific fact records a and b share into text: a text
 * attribute of the same key and value, a tag, the category, the brand,
 * else the price band (the one token left). */
/* Writes attribute x's value into text when y has the same key, kind
 * and value; returns whether it did. */
static bool same_attribute(const struct mz_item_attribute *x,
                           const struct mz_item_attribute *y, char *text,
                           size_t len)
{
    if (x->kind != y->kind || strcmp(x->key, y->key) != 0)
        return false;
    if (x->kind == MZ_ATTRIBUTE_STRING &&
        strcmp(x->value.string, y->value.string) == 0)
        snprintf(text, len, "%s", x->value.string);
    else if (x->kind == MZ_ATTRIBUTE_INTEGER &&
             x->value.integer == y->value.integer)
        snprintf(text, len, "%lld", (long long)x->value.integer);
    else if (x->kind == MZ_ATTRIBUTE_REAL && x->value.real == y->value.real)
        snprintf(text, len, "%.17g", x->value.real);
    else if (x->kind == MZ_ATTRIBUTE_BOOLEAN &&
             x->value.boolean == y->value.boolean)
        snprintf(text, len, "%s", x->value.boolean ? "true" : "false");
    else
        return false;
    return true;
}

static void shared_fact_text(const struct mz_item *a, const struct mz_item *b,
                             char *text, size_t len)
{
    char value[MZ_ID_MAX_BYTES + 32];

    for (size_t i = 0; i < a->attributes.count; i++)
        for (size_t j = 0; j < b->attributes.count; j++)
            if (same_attribute(&a->attributes.v[i], &b->attributes.v[j], value,
                               sizeof(value))) {
                snprintf(text, len, "Same %s as %s: %s.",
                         a->attributes.v[i].key, a->item_id, value);
                return;
            }
    for (size_t i = 0; i < a->tags.count; i++)
        for (size_t j = 0; j < b->tags.count; j++)
            if (strcmp(a->tags.items[i], b->tags.items[j]) == 0) {
                snprintf(text, len, "Tagged %s, like %s.", a->tags.items[i],
                         a->item_id);
                return;
            }
    if (strcmp(a->category, b->category) == 0)
        snprintf(text, len, "Also in %s, like %s.", a->category, a->item_id);
    else if (strcmp(a->brand, b->brand) == 0)
        snprintf(text, len, "Also from %s, like %s.", a->brand, a->item_id);
    else
        snprintf(text, len, "In the price range of %s.", a->item_id);
}

/* The parts of struct mz_similar_parts, in the order they are named. */
enum similar_part { PART_TRANS, PART_ATTR, PART_SPACE, PART_POP, PART_COUNT };

/* Fills out with the reason of part for item, similar to source. */
static void similar_reason(const struct mz_item *source,
                           const struct mz_item *item, enum similar_part part,
                           struct mz_reason *out)
{
    *out = (struct mz_reason){
        .source = MZ_SOURCE_CATALOG,
        .level = mz_reasons_source_name(MZ_SOURCE_CATALOG, 0),
        .because_item = source->item_id,
    };
    switch (part) {
    case PART_TRANS:
        snprintf(out->text, sizeof(out->text), "Often viewed with %s.",
                 source->item_id);
        break;
    case PART_ATTR:
        shared_fact_text(source, item, out->text, sizeof(out->text));
        break;
    case PART_SPACE:
        snprintf(out->text, sizeof(out->text),
                 "Appeals to the shoppers who like %s.", source->item_id);
        break;
    default:
        out->because_item = NULL;
        snprintf(out->text, sizeof(out->text), "Popular at %s right now.",
                 item->brand);
        break;
    }
}

int mz_reasons_build_similar(const struct mz_model *model,
                             const struct mz_catalog *catalog, int32_t source,
                             int32_t item, struct mz_reason out[MZ_REASONS_MAX])
{
    const struct mz_item *from = mz_catalog_item(catalog, source);
    const struct mz_item *rec = mz_catalog_item(catalog, item);
    struct mz_similar_parts parts;
    int n = 0;

    if (!from || !rec)
        return 0;
    mz_similar_explain(model, source, item, &parts);
    float weight[PART_COUNT] = {parts.transitions, parts.attributes,
                                parts.item_space, parts.popularity};
    /* The strongest of the parts that say how the two items relate. */
    bool used[PART_COUNT] = {false};
    while (n < MZ_REASONS_MAX) {
        int best = -1;
        for (int p = PART_TRANS; p < PART_POP; p++)
            if (!used[p] && weight[p] > 0.0f &&
                (best < 0 || weight[p] > weight[best]))
                best = p;
        if (best < 0)
            break;
        used[best] = true;
        similar_reason(from, rec, (enum similar_part)best, &out[n++]);
    }
    if (n == 0)
        similar_reason(from, rec, PART_POP, &out[n++]);
    return n;
}

int mz_reasons_build_popular(const struct mz_catalog *catalog, int32_t item,
                             const char *brand,
                             struct mz_reason out[MZ_REASONS_MAX])
{
    if (!mz_catalog_item(catalog, item))
        return 0;
    out[0] = (struct mz_reason){
        .source = MZ_SOURCE_CATALOG,
        .level = mz_reasons_source_name(MZ_SOURCE_CATALOG, 0),
    };
    snprintf(out[0].text, sizeof(out[0].text), "Popular at %s right now.",
             brand);
    return 1;
}
