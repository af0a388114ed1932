/*
 * frontdoor.c — the HTTP front door of the AI request API, used by the
 * load run and `gosr ai serve`: POST /ai/CAPABILITY with header
 * X-Gosr-User (and optional X-Gosr-Session and X-Gosr-Seed) and the input
 * JSON as body; GET /ai/status. Zero trust: the tier comes from the
 * server-side directory, never from the client; unknown users get 401.
 * Status mapping: 200 answer, 400 bad input, 401 unknown user, 403 killed,
 * 404 unknown capability, 413 body too large, 429 rate limited (with
 * Retry-After), 503 queue full. libmicrohttpd, thread per connection, on
 * 127.0.0.1 only.
 *
 * Design: docs/ai.md ("Load run").
 */
#include "ai/ai_int.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (64u * 1024u)

struct ai_frontdoor {
    struct MHD_Daemon *d;  /* the server */
    uint16_t port;         /* bound port */
    gosr_ai_router *r;     /* borrowed router */
    ai_directory_fn dir;   /* user -> tier */
    void *dir_ud;          /* its argument */
};

typedef struct upload {
    gosr_buf body; /* request body so far (at most MAX_BODY) */
} upload;

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code,
                               const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (code == 429)
        MHD_add_response_header(r, "Retry-After", "1");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result error_reply(struct MHD_Connection *c, unsigned code,
                                   const char *reason)
{
    char b[160];
    snprintf(b, sizeof b, "{\"ok\":false,\"reason\":\"%s\"}", reason);
    return respond(c, code, b);
}

static unsigned http_code(int status)
{
    switch (status) {
    case GOSR_EAGAIN: return 429;
    case GOSR_EDENIED: return 403;
    case GOSR_EFORMAT:
    case GOSR_EINVAL: return 400;
    case GOSR_ETOOBIG: return 413;
    case GOSR_EBUSY: return 503;
    default: return 500;
    }
}

static enum MHD_Result serve_ai(ai_frontdoor *f, struct MHD_Connection *c,
                                const char *capname, upload *u)
{
    gosr_ai_request q = {0};
    const char *user = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Gosr-User");
    const char *seed = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Gosr-Seed");
    if (gosr_ai_cap_from_name(capname, &q.cap))
        return error_reply(c, 404, "unknown_capability");
    if (!user || !f->dir(f->dir_ud, user, &q.tier))
        return error_reply(c, 401, "unknown_user");
    q.user = user;
    q.session = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Gosr-Session");
    q.input = u->body.data ? (char *)u->body.data : "";
    q.seed = seed ? strtoull(seed, NULL, 10) : 0;
    char *out = NULL;
    gosr_error e;
    gosr_error_clear(&e);
    int rc = gosr_ai_router_ask(f->r, &q, &out, NULL, &e);
    if (rc)
        return error_reply(c, http_code(rc), e.reason[0] ? e.reason : "failed");
    enum MHD_Result ret = respond(c, 200, out);
    gosr_free(out);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
                               const char *url, const char *method,
                               const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    ai_frontdoor *f = cls;
    upload *u = *con_cls;
    if (!u) {
        /* Refuse an announced oversized body before reading any of it; the
         * connection closes after the 413 since the body stays unread. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > MAX_BODY)
            return error_reply(c, 413, "input_too_large");
        if (!(u = gosr_calloc(1, sizeof *u)))
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*size) {
        if (u->body.len + *size > MAX_BODY)
            return MHD_NO; /* unannounced (chunked) oversize: drop the link */
        if (gosr_buf_append(&u->body, data, *size))
            return MHD_NO;
        *size = 0;
        return MHD_YES;
    }
    if (!strcmp(method, "GET") && !strcmp(url, "/ai/status")) {
        json_t *s = gosr_ai_router_status(f->r);
        char *t = s ? json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(s);
        enum MHD_Result ret = t ? respond(c, 200, t) : MHD_NO;
        free(t);
        return ret;
    }
    if (strcmp(method, "POST") || strncmp(url, "/ai/", 4))
        return error_reply(c, 404, "no_such_endpoint");
    return serve_ai(f, c, url + 4, u);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    upload *u = *con_cls;
    if (u) {
        gosr_buf_free(&u->body);
        gosr_free(u);
        *con_cls = NULL;
    }
}

int ai__frontdoor_start(gosr_ai_router *r, ai_directory_fn dir, void *ud,
                        uint16_t port, ai_frontdoor **out, gosr_error *err)
{
    ai_frontdoor *f = gosr_calloc(1, sizeof *f);
    if (!f)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "frontdoor");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *f = (ai_frontdoor){.r = r, .dir = dir, .dir_ud = ud};
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                                MHD_USE_THREAD_PER_CONNECTION,
                            0, NULL, NULL, handler, f,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, f,
                            MHD_OPTION_CONNECTION_LIMIT, 1024u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                            MHD_OPTION_END);
    if (!f->d) {
        gosr_free(f);
        return gosr_error_set(err, GOSR_EIO, "frontdoor_start",
                              "cannot listen on 127.0.0.1:%u", port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    f->port = di ? di->port : port;
    *out = f;
    return GOSR_OK;
}

uint16_t ai__frontdoor_port(ai_frontdoor *f) { return f->port; }

void ai__frontdoor_stop(ai_frontdoor *f)
{
    if (!f)
        return;
    MHD_stop_daemon(f->d);
    gosr_free(f);
}
