/*-------------------------------------------------------------------------
 * http_client.c
 *    `maisond import`'s HTTP client, on libcurl (see http_client.h).
 *
 * The answer is kept up to MZ_HTTP_CLIENT_MAX_REPLY_BYTES (an import's
 * answer lists at most 100 rejected lines: a few tens of KiB); past that
 * the transfer is aborted, so a wrong URL cannot fill memory.
 *-------------------------------------------------------------------------
 */
#include "server/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bytes.h"

#define MZ_HTTP_CLIENT_MAX_REPLY_BYTES   (4 * 1024 * 1024)
#define MZ_HTTP_CLIENT_CONNECT_TIMEOUT_S 10
/* A transfer under 1 byte/s for this long is cut: a server that hangs. */
#define MZ_HTTP_CLIENT_STALL_S 300

struct mz_http_client {
    CURL *curl;
    char *base_url;      /* owned */
    char *authorization; /* owned: "Authorization: Bearer ..." */
};

/* The answer's bytes go into a struct mz_wbuf (model/bytes.h). */
static size_t on_reply(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct mz_wbuf *b = userdata;
    size_t n = size * nmemb;

    if (b->len + n > MZ_HTTP_CLIENT_MAX_REPLY_BYTES)
        return 0; /* aborts the transfer */
    mz_wbuf_raw(b, ptr, n);
    return b->failed ? 0 : n;
}

static size_t on_upload(char *buffer, size_t size, size_t nitems,
                        void *userdata)
{
    const struct mz_http_body *body = userdata;
    return body->stream(body->ctx, buffer, size * nitems);
}

struct mz_http_client *mz_http_client_open(const char *base_url,
                                           const char *key, char *err,
                                           size_t err_len)
{
    static const char prefix[] = "Authorization: Bearer ";
    struct mz_http_client *c = calloc(1, sizeof *c);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, err_len, "cannot initialise libcurl");
        free(c);
        return NULL;
    }
    if (c) {
        c->curl = curl_easy_init();
        c->base_url = strdup(base_url);
        c->authorization = malloc(sizeof prefix + strlen(key));
    }
    if (!c || !c->curl || !c->base_url || !c->authorization) {
        snprintf(err, err_len, "out of memory");
        mz_http_client_close(c);
        return NULL;
    }
    size_t n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    strcpy(c->authorization, prefix);
    strcat(c->authorization, key);
    return c;
}

int mz_http_client_send(struct mz_http_client *c, const char *method,
                        const char *path, const struct mz_http_body *body,
                        json_t **reply, char *err, size_t err_len)
{
    char content_type[96];
    struct curl_slist *headers = NULL;
    struct mz_wbuf buf;
    char *url = malloc(strlen(c->base_url) + strlen(path) + 1);
    int status = -1;

    *reply = NULL;
    mz_wbuf_init(&buf);
    if (!url) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    strcpy(url, c->base_url);
    strcat(url, path);
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
                     (long)MZ_HTTP_CLIENT_CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)MZ_HTTP_CLIENT_STALL_S);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &buf);
    headers = curl_slist_append(headers, c->authorization);
    if (body) {
        snprintf(content_type, sizeof content_type, "Content-Type: %s",
                 body->content_type);
        headers = curl_slist_append(headers, content_type);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        if (body->stream) {
            /* No length: libcurl sends the body chunked. */
            headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
            curl_easy_setopt(h, CURLOPT_READDATA, (void *)body);
        } else {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->text);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)body->len);
        }
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        snprintf(err, err_len, "%s %s: %s", method, url,
                 curl_easy_strerror(rc));
    } else {
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        status = (int)code;
        if (buf.len > 0)
            *reply = json_loadb((const char *)buf.data, buf.len, 0, NULL);
    }
    curl_slist_free_all(headers);
    free(buf.data);
    free(url);
    return status;
}

void mz_http_client_close(struct mz_http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->base_url);
    if (c->authorization) {
        /* The key leaves no copy behind in freed memory. */
        memset(c->authorization, 0, strlen(c->authorization));
        free(c->authorization);
    }
    free(c);
    curl_global_cleanup();
}
