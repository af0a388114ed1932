/*
 * fuzz_admin_route.c — fuzz target for the admin request path: the
 * request-target parser (segments, percent-decoding, query arguments),
 * route pattern matching against a fixed table like the node's, the JSON
 * body parser, and the small parsers that take operator input (listen
 * address, base32 TOTP secret, TOTP code). Input: the first line is the
 * request target, the rest is the request body. Invariants checked: a
 * match captures non-empty values equal to the URI's segments, a parsed
 * body is an object that re-parses to an equal value.
 * Seeds: fuzz/corpus/fuzz_admin_route/. Design: docs/admin.md.
 */
#include "admin/admin_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const PATTERNS[] = {
    "/",
    "/healthz",
    "/metrics",
    "/v1/status",
    "/v1/modules",
    "/v1/modules/{id}",
    "/v1/modules/{id}/versions/{ver}",
    "/v1/modules/{id}/activate",
    "/v1/modules/{id}/rollback",
    "/v1/ledger",
    "/v1/patches/{patch}/approve",
    "/v1/{a}/{b}/{c}/{d}",
};
#define NPAT (sizeof PATTERNS / sizeof PATTERNS[0])

static admin__pattern g_pat[NPAT];
static bool g_ready;

static void compile_once(void)
{
    if (g_ready)
        return;
    for (size_t i = 0; i < NPAT; i++)
        if (admin__pattern_compile(PATTERNS[i], &g_pat[i], NULL) != GOSR_OK)
            abort();
    g_ready = true;
}

static void check_routes(const admin__uri *u)
{
    const char *v[ADMIN_MAX_SEGMENTS];
    for (size_t i = 0; i < NPAT; i++) {
        if (!admin__pattern_match(&g_pat[i], u, v))
            continue;
        size_t k = 0;
        for (size_t s = 0; s < g_pat[i].nseg; s++) {
            if (!g_pat[i].capture[s])
                continue;
            if (!v[k][0] || v[k] != u->seg[s])
                abort(); /* a capture is its non-empty segment */
            k++;
        }
        if (k != g_pat[i].ncapture)
            abort();
    }
}

static void check_body(const uint8_t *p, size_t n)
{
    json_t *v = NULL;
    if (admin__json_body(p, n, &v, NULL) != GOSR_OK || !v)
        return;
    if (!json_is_object(v))
        abort();
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *w = s ? json_loads(s, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (s && !json_equal(v, w))
        abort(); /* what we accept, we re-read identically */
    json_decref(w);
    free(s);
    json_decref(v);
}

static void check_small_parsers(const char *line)
{
    char host[16];
    uint16_t port;
    (void)gosr_admin_parse_listen(line, host, &port, NULL);
    uint8_t key[64];
    size_t klen = 0;
    if (gosr_admin_base32_decode(line, key, sizeof key, &klen) == GOSR_OK &&
        klen > 0)
        (void)gosr_admin_totp_verify(key, klen, line, 1700000000, 30, 6, 1,
                                     NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    compile_once();
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tlen = nl ? (size_t)(nl - data) : size;
    admin__uri u;
    if (admin__uri_parse((const char *)data, tlen, &u, NULL) == GOSR_OK) {
        if (u.nseg > ADMIN_MAX_SEGMENTS || u.nquery > ADMIN_MAX_QUERY)
            abort();
        check_routes(&u);
    }
    admin__uri_free(&u);
    char *line = gosr_strndup((const char *)data, tlen < 256 ? tlen : 256);
    if (line) {
        check_small_parsers(line);
        gosr_free(line);
    }
    if (nl)
        check_body(nl + 1, size - tlen - 1);
    return 0;
}
