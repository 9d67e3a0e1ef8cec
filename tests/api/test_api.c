/*-------------------------------------------------------------------------
 * test_api.c
 *    Unit tests of the API layer that need no server: routing (404, 405
 *    with Allow, 415), the error body, body parsing and id validation.
 *    The handlers themselves are tested over HTTP in tests/integration.
 *-------------------------------------------------------------------------
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "api/json_body.h"
#include "api/router.h"

static const char *no_query(void *ctx, const char *key)
{
    return NULL;
}

static const char *k_query(void *ctx, const char *key)
{
    return strcmp(key, "k") == 0 ? (const char *)ctx : NULL;
}

static struct mz_request request(const char *method, const char *path,
                                 const char *content_type, const char *body)
{
    struct mz_request req = {
        .method = method,
        .path = path,
        .content_type = content_type,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .query = no_query,
    };
    return req;
}

/* Returns the parsed body of resp (caller decrefs). */
static json_t *body_of(const struct mz_response *resp)
{
    ck_assert_ptr_nonnull(resp->body);
    json_t *doc = json_loadb(resp->body, resp->body_len, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

static void assert_error(const struct mz_response *resp, int status,
                         const char *code)
{
    ck_assert_int_eq(resp->http_status, status);
    json_t *doc = body_of(resp);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(doc, "error"), "code")),
                     code);
    ck_assert(json_is_string(
        json_object_get(json_object_get(doc, "error"), "message")));
    json_decref(doc);
}

START_TEST(test_unknown_route_is_404_json)
{
    struct mz_request req = request("GET", "/v2/nothing", NULL, NULL);
    struct mz_response resp = {0};
    mz_api_handle(NULL, &req, &resp);
    assert_error(&resp, 404, "not_found");
    mz_response_clear(&resp);
}
END_TEST

START_TEST(test_wrong_method_is_405_with_allow)
{
    struct mz_request req =
        request("PATCH", "/v1/catalog/items/sku-1", NULL, NULL);
    struct mz_response resp = {0};
    mz_api_handle(NULL, &req, &resp);
    assert_error(&resp, 405, "method_not_allowed");
    ck_assert_str_eq(resp.allow, "GET, DELETE");
    ck_assert_str_eq(resp.route, "/v1/catalog/items/{item_id}");
    mz_response_clear(&resp);
}
END_TEST

START_TEST(test_body_without_json_content_type_is_415)
{
    const char *types[] = {NULL, "text/plain", "application/jsonx",
                           "application/x-www-form-urlencoded"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        struct mz_request req = request("POST", "/v1/events", types[i], "{}");
        struct mz_response resp = {0};
        mz_api_handle(NULL, &req, &resp);
        assert_error(&resp, 415, "unsupported_media_type");
        mz_response_clear(&resp);
    }
}
END_TEST

START_TEST(test_empty_path_segment_does_not_match)
{
    ck_assert_str_eq(mz_api_route_of("/v1/clients//profile"), "unmatched");
    ck_assert_str_eq(mz_api_route_of("/v1/clients/c1/profile"),
                     "/v1/clients/{client_id}/profile");
    ck_assert_str_eq(mz_api_route_of("/v1/clients/c1/profile/x"), "unmatched");
}
END_TEST

START_TEST(test_status_mapping)
{
    ck_assert_int_eq(mz_status_http(MZ_ERR_INVALID), 400);
    ck_assert_int_eq(mz_status_http(MZ_ERR_NOT_FOUND), 404);
    ck_assert_int_eq(mz_status_http(MZ_ERR_TOO_LARGE), 413);
    ck_assert_int_eq(mz_status_http(MZ_ERR_UNSUPPORTED_MEDIA), 415);
    ck_assert_int_eq(mz_status_http(MZ_ERR_DB_UNAVAILABLE), 503);
    ck_assert_int_eq(mz_status_http((enum mz_status)999), 500);
    ck_assert_str_eq(mz_status_code((enum mz_status)999), "internal");
}
END_TEST

START_TEST(test_error_message_with_invalid_utf8_still_gives_json)
{
    struct mz_response resp = {0};
    mz_response_error(&resp, MZ_ERR_INVALID, "bad id %s", "\xff\xfe");
    assert_error(&resp, 400, "invalid_input");
    mz_response_clear(&resp);
}
END_TEST

static void assert_body_rejected(const char *body)
{
    struct mz_request req =
        request("POST", "/v1/events", "application/json", body);
    struct mz_response resp = {0};
    json_t *obj = mz_body_object(&req, &resp);
    ck_assert_ptr_null(obj);
    assert_error(&resp, 400, "invalid_input");
    mz_response_clear(&resp);
}

START_TEST(test_bad_bodies_are_400)
{
    assert_body_rejected("");
    assert_body_rejected("{");
    assert_body_rejected("[1,2]");
    assert_body_rejected("\"text\"");
    assert_body_rejected("{\"a\":1,\"a\":2}");
    assert_body_rejected("{\"a\":\"\\u0000\"}");
    assert_body_rejected("{\"a\":\"\xc3\x28\"}");
    assert_body_rejected("{} trailing");
    /* 100,000 levels of nesting: refused, not a stack overflow. */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 8);
    strcpy(deep, "{\"a\":");
    memset(deep + 5, '[', depth);
    memset(deep + 5 + depth, ']', depth);
    strcpy(deep + 5 + 2 * depth, "}");
    assert_body_rejected(deep);
    free(deep);
}
END_TEST

START_TEST(test_good_body_is_an_object)
{
    struct mz_request req =
        request("POST", "/v1/events", "application/json", "{\"events\":[]}");
    struct mz_response resp = {0};
    json_t *obj = mz_body_object(&req, &resp);
    ck_assert_ptr_nonnull(obj);
    ck_assert(json_is_array(json_object_get(obj, "events")));
    json_decref(obj);
}
END_TEST

START_TEST(test_id_validation)
{
    char long_id[200];
    memset(long_id, 'x', sizeof long_id);
    long_id[128] = '\0';
    ck_assert(mz_is_valid_id(long_id));
    long_id[128] = 'x';
    long_id[129] = '\0';
    ck_assert(!mz_is_valid_id(long_id));
    ck_assert(mz_is_valid_id("sku-123"));
    ck_assert(mz_is_valid_id("caf\xc3\xa9"));
    ck_assert(!mz_is_valid_id(""));
    ck_assert(!mz_is_valid_id(NULL));
    ck_assert(!mz_is_valid_id("tab\there"));
    ck_assert(!mz_is_valid_id("\xc3\x28"));
    ck_assert(!mz_is_valid_id("\xf5\x80\x80\x80"));
}
END_TEST

START_TEST(test_query_int_bounds)
{
    const char *values[] = {"0", "101", "ten", "5x", "", "-3"};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        struct mz_request req = request("GET", "/", NULL, NULL);
        req.query = k_query;
        req.query_ctx = (void *)values[i];
        struct mz_response resp = {0};
        int64_t k = 0;
        ck_assert(!mz_query_int(&req, "k", 1, 100, 10, &k, &resp));
        assert_error(&resp, 400, "invalid_input");
        mz_response_clear(&resp);
    }
    struct mz_request req = request("GET", "/", NULL, NULL);
    req.query = k_query;
    req.query_ctx = (void *)"25";
    struct mz_response resp = {0};
    int64_t k = 0;
    ck_assert(mz_query_int(&req, "k", 1, 100, 10, &k, &resp));
    ck_assert_int_eq(k, 25);
    req.query = no_query;
    ck_assert(mz_query_int(&req, "k", 1, 100, 10, &k, &resp));
    ck_assert_int_eq(k, 10);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *routing = tcase_create("routing");
    tcase_add_test(routing, test_unknown_route_is_404_json);
    tcase_add_test(routing, test_wrong_method_is_405_with_allow);
    tcase_add_test(routing, test_body_without_json_content_type_is_415);
    tcase_add_test(routing, test_empty_path_segment_does_not_match);
    tcase_add_test(routing, test_status_mapping);
    tcase_add_test(routing,
                   test_error_message_with_invalid_utf8_still_gives_json);
    suite_add_tcase(s, routing);
    TCase *parsing = tcase_create("parsing");
    tcase_add_test(parsing, test_bad_bodies_are_400);
    tcase_add_test(parsing, test_good_body_is_an_object);
    tcase_add_test(parsing, test_id_validation);
    tcase_add_test(parsing, test_query_int_bounds);
    suite_add_tcase(s, parsing);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(api_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
