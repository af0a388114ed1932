/*
 * http_client.h — a tiny libcurl client for the admin tests: real HTTP
 * over 127.0.0.1 against an in-process gosr_admin_server. Header-only so
 * each test executable includes it. Design: docs/admin.md ("Tests").
 */
#ifndef GOSR_TEST_HTTP_CLIENT_H
#define GOSR_TEST_HTTP_CLIENT_H

#include "gosr/admin.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

/* One HTTP exchange's result; free with http_result_free. */
typedef struct http_result {
    long code;        /* HTTP status, 0 on transport failure */
    gosr_buf body;    /* reply body */
    gosr_buf headers; /* raw reply header lines */
    json_t *json;     /* the body parsed as JSON, or NULL */
} http_result;

/* A request body produced by a read callback (chunked upload). */
typedef struct http_stream {
    uint64_t left; /* bytes still to send */
} http_stream;

static size_t http__collect(char *p, size_t size, size_t n, void *ud)
{
    return gosr_buf_append(ud, p, size * n) == GOSR_OK ? size * n : 0;
}

static size_t http__stream(char *p, size_t size, size_t n, void *ud)
{
    http_stream *s = ud;
    size_t k = size * n < s->left ? size * n : (size_t)s->left;
    memset(p, 'x', k);
    s->left -= k;
    return k;
}

static void http_result_free(http_result *r)
{
    gosr_buf_free(&r->body);
    gosr_buf_free(&r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* Performs METHOD base+path with an optional bearer token, extra header
 * line, and body (body_len bytes, or a streamed chunked body of
 * stream_len bytes when body is NULL and stream_len > 0). */
static int http_do(const char *base, const char *method, const char *path,
                   const char *token, const char *extra, const void *body,
                   size_t body_len, uint64_t stream_len, http_result *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[512], auth[128];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct curl_slist *h = NULL;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (extra)
        h = curl_slist_append(h, extra);
    http_stream st = {stream_len};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http__collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http__collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (stream_len) {
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, http__stream);
        curl_easy_setopt(c, CURLOPT_READDATA, &st);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r->body.len)
        r->json = json_loadb((const char *)r->body.data, r->body.len, 0, NULL);
    return cc == CURLE_OK ? 0 : -1;
}

/* The "reason" of an error reply, or "". */
static const char *http_reason(const http_result *r)
{
    const char *s = json_string_value(json_object_get(r->json, "reason"));
    return s ? s : "";
}

#endif /* GOSR_TEST_HTTP_CLIENT_H */
