/*-------------------------------------------------------------------------
 * json_profile_summary.c
 *    The profile's summary sentence, from the fact lists it shows.
 *
 * Interface routines: see json_profile_summary.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_profile_summary.h"

#include <stdio.h>
#include <string.h>

#define SUMMARY_BYTES      1024
#define SUMMARY_CATEGORIES 32 /* distinct categories counted */
#define SUMMARY_PURCHASES  2  /* latest purchases named */

/* The date part of the latest "at" among the first entries of lists
 * (each most recent first; entries are times or objects with "at"). */
static void last_seen(const json_t *facts, char date[11])
{
    static const char *const lists[] = {"recent_events", "store_visits",
                                        "appointments", "events_attended"};
    date[0] = '\0';
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        json_t *first = json_array_get(json_object_get(facts, lists[i]), 0);
        const char *at = json_is_string(first)
                             ? json_string_value(first)
                             : json_string_value(json_object_get(first, "at"));
        if (at && strlen(at) >= 10 && strncmp(at, date, 10) > 0) {
            memcpy(date, at, 10);
            date[10] = '\0';
        }
    }
}

static const char *category_of(const struct mz_profile_view *view,
                               const char *item_id)
{
    const struct mz_item *item =
        mz_catalog_item(view->catalog, mz_catalog_find(view->catalog, item_id));
    return item ? item->category : NULL;
}

/* The category of most recent item events (the first of equals in
 * event order) and how many of *total events it holds; NULL: none. */
static const char *top_category(const struct mz_profile_view *view,
                                const json_t *facts, int *count, int *total)
{
    const char *names[SUMMARY_CATEGORIES];
    int counts[SUMMARY_CATEGORIES];
    int n = 0, best = -1;
    size_t i;
    json_t *ev;
    *total = 0;
    json_array_foreach(json_object_get(facts, "recent_events"), i, ev)
    {
        const char *category = category_of(
            view, json_string_value(json_object_get(ev, "item_id")));
        if (!category)
            continue;
        (*total)++;
        int c = 0;
        while (c < n && strcmp(names[c], category) != 0)
            c++;
        if (c == n && n < SUMMARY_CATEGORIES) {
            names[n] = category;
            counts[n++] = 0;
        }
        if (c < n && ++counts[c] > (best < 0 ? 0 : counts[best]))
            best = c;
    }
    *count = best < 0 ? 0 : counts[best];
    return best < 0 ? NULL : names[best];
}

/* Appends the formatted text to buf. */
static void add(char *buf, size_t *used, const char *fmt, const char *a,
                const char *b, const char *c)
{
    int n = snprintf(buf + *used, SUMMARY_BYTES - *used, fmt, a, b, c);
    if (n > 0)
        *used = *used + (size_t)n < SUMMARY_BYTES ? *used + (size_t)n
                                                  : SUMMARY_BYTES - 1;
}

json_t *mz_json_profile_summary(const struct mz_profile_view *view,
                                const json_t *facts)
{
    char buf[SUMMARY_BYTES], date[11];
    size_t used = 0;
    buf[0] = '\0';
    add(buf, &used, "%s%s%s", view->tier ? "Tier " : "No tier known",
        view->tier ? view->tier : "", view->region ? ", from " : "");
    add(buf, &used, "%s%s%s", view->region ? view->region : "", "", "");
    if (!view->consent) {
        add(buf, &used, "%s%s%s",
            "; no consent to personalization, so nothing is learned.", "", "");
        return json_string(buf);
    }
    last_seen(facts, date);
    if (date[0])
        add(buf, &used, "; last seen on %s%s%s", date, "", "");
    add(buf, &used, ".%s%s%s", "", "", "");
    int count, total;
    const char *category = top_category(view, facts, &count, &total);
    if (category) {
        char of[48];
        if (total == 1)
            snprintf(of, sizeof of, " (their only item event)");
        else if (count == total)
            snprintf(of, sizeof of, " (all of the last %d item events)", total);
        else
            snprintf(of, sizeof of, " (%d of the last %d item events)", count,
                     total);
        add(buf, &used, " Mostly looks at %s%s.%s", category, of, "");
    }
    json_t *purchases = json_object_get(facts, "purchases");
    size_t n = json_array_size(purchases);
    for (size_t i = 0; i < n && i < SUMMARY_PURCHASES; i++) {
        json_t *p = json_array_get(purchases, i);
        const char *id = json_string_value(json_object_get(p, "item_id"));
        const char *at = json_string_value(json_object_get(p, "at"));
        const char *cat = id ? category_of(view, id) : NULL;
        if (!id || !at || strlen(at) < 10)
            continue;
        char when[11];
        memcpy(when, at, 10);
        when[10] = '\0';
        char what[MZ_ID_MAX_BYTES * 2 + 8];
        snprintf(what, sizeof what, "%s%s%s%s", id, cat ? " (" : "",
                 cat ? cat : "", cat ? ")" : "");
        add(buf, &used, i == 0 ? " Bought %s on %s%s" : ", %s on %s%s", what,
            when, "");
        if (i + 1 == n || i + 1 == SUMMARY_PURCHASES)
            add(buf, &used, "%s%s%s", n > SUMMARY_PURCHASES ? ", and more" : "",
                ".", "");
    }
    return json_string(buf);
}
