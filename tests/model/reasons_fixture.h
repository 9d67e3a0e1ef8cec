/*-------------------------------------------------------------------------
 * reasons_fixture.h
 *    The small world the reasons tests share (tests/model/test_reasons.c
 *    for model/reasons.c, tests/api/test_json_reasons.c for their JSON):
 *    four items of one brand (two bags, two shoes, shoe-1 launched three
 *    days before REASONS_NOW), a default model, one client and its facts.
 *
 * Interface routines:
 *    reasons_fixture_setup / _teardown
 *    reasons_fixture_observe - one event, learned and recorded as a fact
 *-------------------------------------------------------------------------
 */
#ifndef MZ_TESTS_REASONS_FIXTURE_H
#define MZ_TESTS_REASONS_FIXTURE_H

#include <stdint.h>

#include "model/reasons.h"

#define REASONS_NOW 1795428000LL /* 2026-11-23T10:00:00Z */
#define REASONS_DAY 86400

struct reasons_fixture {
    struct mz_catalog *catalog;    /* owned */
    struct mz_model *model;        /* owned */
    struct mz_client *client;      /* owned */
    struct mz_client_facts *facts; /* owned */
};

/* Fills *fx (release with reasons_fixture_teardown); fails the test on
 * error. */
void reasons_fixture_setup(struct reasons_fixture *fx);
void reasons_fixture_teardown(struct reasons_fixture *fx);

/* The client does type on item (a catalog index) at ts: the model learns
 * it and the facts record it. */
void reasons_fixture_observe(struct reasons_fixture *fx,
                             enum mz_event_type type, int32_t item, int64_t ts);

#endif
