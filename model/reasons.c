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

#include <string.h>

#include "model/similar.h"
#include "model/text.h"
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

/* "Viewed sku-1", "Added sku-1 to the cart", ...: what the client did,
 * the words before the item id and after it; a type without words names
 * no action. */
static const struct action_words {
    const char *before;
    const char *after;
} action_words[MZ_EV_TYPE_COUNT] = {
    [MZ_EV_VIEW] = {"Viewed ", ""},
    [MZ_EV_CLICK] = {"Clicked on ", ""},
    [MZ_EV_ADD_TO_CART] = {"Added ", " to the cart"},
    [MZ_EV_REMOVE_FROM_CART] = {"Took ", " out of the cart"},
    [MZ_EV_WISHLIST] = {"Added ", " to the wishlist"},
    [MZ_EV_PURCHASE] = {"Bought ", ""},
    [MZ_EV_RETURN] = {"Returned ", ""},
    [MZ_EV_DISMISS] = {"Dismissed ", ""},
};

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
    const struct action_words *words =
        ev && (int)ev->type >= 0 && ev->type < MZ_EV_TYPE_COUNT &&
                action_words[ev->type].before
            ? &action_words[ev->type]
            : NULL;

    if (!because) {
        mz_text_join(
            text, len,
            strcmp(level, "session") == 0
                ? "Matches what the client is browsing in this session."
            : strcmp(level, "recent") == 0
                ? "Matches what the client has been looking at lately."
                : "Matches the client's long-standing taste.",
            NULL);
        return;
    }
    if (!words) {
        const char *tail = is_context ? ", being viewed now."
                           : strcmp(level, "session") == 0
                               ? ", seen in this session."
                           : strcmp(level, "recent") == 0
                               ? ", seen recently."
                               : ", from the client's history.";
        mz_text_join(text, len, "Similar to ", because, tail, NULL);
        return;
    }
    mz_text_join(action, sizeof(action), words->before, because, words->after,
                 NULL);
    mz_time_format_rfc3339(ev->ts, when);
    when[10] = '\0'; /* the date part */
    if (strcmp(level, "session") == 0)
        mz_text_join(text, len, action, " in this session.", NULL);
    else if (strcmp(level, "recent") == 0 && category)
        mz_text_join(text, len, action, " on ", when,
                     "; has been looking at ", category, " lately.", NULL);
    else
        mz_text_join(text, len, action, " on ", when, ".", NULL);
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
            mz_text_join(out->text, sizeof(out->text), "Shoppers who looked at ",
                         because->item_id, " also looked at this.", NULL);
        } else if (rec->launch_at != MZ_TIME_NONE_BEFORE &&
                   rec->launch_at <= req->now &&
                   req->now - rec->launch_at < MZ_REASONS_NEW_ARRIVAL_S) {
            mz_text_join(out->text, sizeof(out->text), "New arrival.", NULL);
        } else {
            mz_text_join(out->text, sizeof(out->text), "Popular in ",
                         rec->category, " right now.", NULL);
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

/* v in decimal into text, cut to len - 1 bytes like the other texts. */
static void integer_text(char *text, size_t len, int64_t v)
{
    char digits[MZ_TEXT_INT64_BYTES];

    mz_text_int64(digits, v);
    mz_text_join(text, len, digits, NULL);
}

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
        mz_text_join(text, len, x->value.string, NULL);
    else if (x->kind == MZ_ATTRIBUTE_INTEGER &&
             x->value.integer == y->value.integer)
        integer_text(text, len, x->value.integer);
    else if (x->kind == MZ_ATTRIBUTE_REAL && x->value.real == y->value.real)
        mz_text_real(text, len, x->value.real, 17);
    else if (x->kind == MZ_ATTRIBUTE_BOOLEAN &&
             x->value.boolean == y->value.boolean)
        mz_text_join(text, len, x->value.boolean ? "true" : "false", NULL);
    else
        return false;
    return true;
}

/* Writes the most specific fact records a and b share into text: a text
 * attribute of the same key and value, a tag, the category, the brand,
 * else the price band (the one token left). */
static void shared_fact_text(const struct mz_item *a, const struct mz_item *b,
                             char *text, size_t len)
{
    char value[MZ_ID_MAX_BYTES + 32];

    for (size_t i = 0; i < a->attributes.count; i++)
        for (size_t j = 0; j < b->attributes.count; j++)
            if (same_attribute(&a->attributes.v[i], &b->attributes.v[j], value,
                               sizeof(value))) {
                mz_text_join(text, len, "Same ", a->attributes.v[i].key,
                             " as ", a->item_id, ": ", value, ".", NULL);
                return;
            }
    for (size_t i = 0; i < a->tags.count; i++)
        for (size_t j = 0; j < b->tags.count; j++)
            if (strcmp(a->tags.items[i], b->tags.items[j]) == 0) {
                mz_text_join(text, len, "Tagged ", a->tags.items[i], ", like ",
                             a->item_id, ".", NULL);
                return;
            }
    if (strcmp(a->category, b->category) == 0)
        mz_text_join(text, len, "Also in ", a->category, ", like ", a->item_id,
                     ".", NULL);
    else if (strcmp(a->brand, b->brand) == 0)
        mz_text_join(text, len, "Also from ", a->brand, ", like ", a->item_id,
                     ".", NULL);
    else
        mz_text_join(text, len, "In the price range of ", a->item_id, ".",
                     NULL);
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
        mz_text_join(out->text, sizeof(out->text), "Often viewed with ",
                     source->item_id, ".", NULL);
        break;
    case PART_ATTR:
        shared_fact_text(source, item, out->text, sizeof(out->text));
        break;
    case PART_SPACE:
        mz_text_join(out->text, sizeof(out->text),
                     "Appeals to the shoppers who like ", source->item_id, ".",
                     NULL);
        break;
    default:
        out->because_item = NULL;
        mz_text_join(out->text, sizeof(out->text), "Popular at ", item->brand,
                     " right now.", NULL);
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
    mz_text_join(out[0].text, sizeof(out[0].text), "Popular at ", brand,
                 " right now.", NULL);
    return 1;
}
