/*
 * server.c — the admin HTTP server on libmicrohttpd: lifecycle (create,
 * route, start on 127.0.0.1, stop), the per-request state machine (route
 * lookup, bearer auth and roles, TOTP, bounded JSON and file bodies,
 * handler call, JSON error replies), the discovery file DIR/admin.json and
 * the built-in routes /healthz, /metrics and /v1/status.
 * Design: docs/admin.md.
 *
 * Sections: helpers, replies, auth, bodies, access handler, built-ins,
 * lifecycle.
 */
#include "admin/admin_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_UPLOAD (256ull << 20)
#define DEFAULT_MAX_JSON (1u << 20)
#define DEFAULT_THREADS 4
#define DEFAULT_TIMEOUT_S 30
#define TOTP_WINDOW 1 /* accept the previous, current and next 30 s step */

/* One registered route: a copy of the caller's entry plus its pattern. */
typedef struct route_entry {
    gosr_admin_route r; /* copy; r.method and r.pattern point below */
    char *method;       /* owned copy of the method */
    char *pattern_text; /* owned copy of the pattern */
    admin__pattern pat; /* compiled pattern */
} route_entry;

struct gosr_admin_server {
    char *data_dir;                 /* node directory (owned) */
    char host[16];                  /* IPv4 literal to bind */
    uint16_t want_port;             /* configured port, 0 = ephemeral */
    uint16_t port;                  /* bound port while running */
    char url[40];                   /* "http://HOST:PORT" while running */
    uint64_t max_upload;            /* BODY_FILE limit in bytes */
    size_t max_json;                /* BODY_JSON limit in bytes */
    unsigned threads;               /* MHD thread pool size */
    unsigned timeout_s;             /* MHD idle connection timeout */
    bool discovery;                 /* write DIR/admin.json */
    char token[65];                 /* operator token (hex) */
    char priv_token[65];            /* privileged token, "" when none */
    uint8_t totp_key[64];           /* TOTP secret */
    size_t totp_len;                /* 0 when no TOTP secret is configured */
    pthread_mutex_t totp_lock;      /* guards totp_last */
    uint64_t totp_last;             /* last accepted TOTP step (replays) */
    route_entry *routes;            /* route table; frozen while running */
    size_t nroutes;                 /* routes in use */
    size_t cap;                     /* routes allocated */
    gosr_admin_status_fn status_fn; /* GET /v1/status callback or NULL */
    void *status_ud;                /* passed to status_fn */
    gosr_admin_metrics *metrics;    /* registry served at /metrics */
    bool own_metrics;               /* metrics created (and freed) here */
    struct MHD_Daemon *mhd;         /* running daemon or NULL */
    uint64_t started_ns;            /* monotonic start time */
    char *discovery_path;           /* DIR/admin.json (owned) */
};

/* State of one request, from the URI callback to completion. Owned by
 * MHD's per-request pointer; touched only by the thread serving it. */
typedef struct conn_ctx {
    char *raw_uri;            /* request target as received (owned) */
    bool started;             /* headers processed */
    bool responded;           /* a reply is queued */
    admin__uri uri;           /* parsed target */
    const route_entry *route; /* matched route */
    const char *values[ADMIN_MAX_SEGMENTS]; /* {param} values (in uri) */
    gosr_admin_role role;                   /* authenticated role */
    int fail_http;                          /* deferred error reply, 0 = none */
    gosr_error fail_err;                    /* detail of the deferred error */
    gosr_buf body;                          /* BODY_JSON bytes */
    int fd;            /* BODY_FILE temp file, -1 when none */
    char *tmp_path;    /* its path (owned) */
    uint64_t received; /* body bytes seen */
} conn_ctx;

/* ---- helpers ----------------------------------------------------------------
 */

/* Releases a request context: closes and deletes an upload temp file still
 * held, frees buffers. Accepts NULL. */
static void ctx_free(conn_ctx *x)
{
    if (!x)
        return;
    if (x->fd >= 0)
        close(x->fd);
    if (x->tmp_path) {
        unlink(x->tmp_path);
        gosr_free(x->tmp_path);
    }
    gosr_buf_free(&x->body);
    admin__uri_free(&x->uri);
    gosr_free(x->raw_uri);
    gosr_free(x);
}

/* A new request context holding a copy of `uri` (raw_uri stays NULL on
 * ENOMEM; begin() answers 500). Caller frees with ctx_free. */
static conn_ctx *ctx_new(const char *uri)
{
    conn_ctx *x = gosr_calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->fd = -1;
    x->raw_uri = uri ? gosr_strdup(uri) : NULL;
    return x;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the only place MHD shows the raw target
 * (before it unescapes the path and splits the query); the return value
 * becomes the request's context pointer. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    return ctx_new(uri);
}

/* MHD_OPTION_NOTIFY_COMPLETED: the request is over (answered, aborted or
 * timed out); frees its context. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    ctx_free(*con_cls);
    *con_cls = NULL;
}

/* MHD_OPTION_EXTERNAL_LOGGER: libmicrohttpd's messages go to gosr_log at
 * info level (they are mostly about misbehaving clients). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    gosr_log(GOSR_LOG_INFO, "admin", "libmicrohttpd: %s", msg);
}

/* ---- replies
 * ------------------------------------------------------------------ */

/* Queues a reply of n bytes (copied by MHD) with Content-Type `type` and
 * an optional extra header; marks the request answered. */
static enum MHD_Result send_bytes(struct MHD_Connection *c, conn_ctx *x,
                                  int http, const void *p, size_t n,
                                  const char *type, const char *extra_name,
                                  const char *extra_value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (extra_name)
        MHD_add_response_header(r, extra_name, extra_value);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)http, r);
    MHD_destroy_response(r);
    x->responded = true;
    return ret;
}

/* Sends a JSON value (released here). */
static enum MHD_Result send_json(struct MHD_Connection *c, conn_ctx *x,
                                 int http, json_t *v, const char *extra_name,
                                 const char *extra_value)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(v);
    if (!s)
        return send_bytes(c, x, 500, "{\"ok\":false}\n", 12, "application/json",
                          NULL, NULL);
    size_t n = strlen(s);
    enum MHD_Result ret = MHD_NO;
    char *line = gosr_malloc(n + 2);
    if (line) {
        memcpy(line, s, n);
        line[n] = '\n';
        ret = send_bytes(c, x, http, line, n + 1, "application/json",
                         extra_name, extra_value);
        gosr_free(line);
    }
    free(s);
    return ret;
}

/* Sends {"ok":false,"status","reason","detail"}; http 0 = derived from the
 * status. */
static enum MHD_Result send_error(struct MHD_Connection *c, conn_ctx *x,
                                  int http, int status, const gosr_error *err,
                                  const char *extra_name,
                                  const char *extra_value)
{
    const char *reason =
        err && err->reason[0] ? err->reason : gosr_status_name(status);
    const char *detail =
        err && err->detail[0] ? err->detail : gosr_strerror(status);
    json_t *v =
        json_pack("{s:b, s:s, s:s, s:s}", "ok", 0, "status",
                  gosr_status_name(status), "reason", reason, "detail", detail);
    return send_json(c, x, http ? http : gosr_admin_http_status(status), v,
                     extra_name, extra_value);
}

/* Records an error to send once the body has been read (MHD lets a reply
 * be queued only before or after the upload). */
static void defer_error(conn_ctx *x, int http, int status, const char *reason,
                        const char *detail)
{
    if (x->fail_http)
        return;
    x->fail_http = http ? http : gosr_admin_http_status(status);
    gosr_error_set(&x->fail_err, status, reason, "%s", detail);
}

/* ---- auth
 * --------------------------------------------------------------------- */

/* The caller's role from "Authorization: Bearer HEX" (NONE when absent;
 * -1 when present but wrong). */
static int bearer_role(const gosr_admin_server *s, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h)
        return GOSR_ADMIN_ROLE_NONE;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return -1;
    h += 7;
    while (*h == ' ')
        h++;
    if (s->priv_token[0] && gosr_admin_token_equal(h, s->priv_token))
        return GOSR_ADMIN_ROLE_PRIVILEGED;
    if (gosr_admin_token_equal(h, s->token))
        return GOSR_ADMIN_ROLE_OPERATOR;
    return -1;
}

/* Checks the X-GOSR-TOTP header; a step is accepted once. */
static int check_totp(gosr_admin_server *s, struct MHD_Connection *c,
                      gosr_error *err)
{
    if (s->totp_len == 0)
        return gosr_error_set(err, GOSR_EDENIED, "totp_not_configured",
                              "this route needs TOTP and the node has no "
                              "%s",
                              GOSR_ADMIN_TOTP_FILE);
    const char *code =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, GOSR_ADMIN_TOTP_HEADER);
    if (!code)
        return gosr_error_set(err, GOSR_EDENIED, "totp_missing",
                              "this route needs the %s header",
                              GOSR_ADMIN_TOTP_HEADER);
    uint64_t step = 0;
    uint64_t now = gosr_time_wall_ns() / 1000000000ull;
    if (!gosr_admin_totp_verify(s->totp_key, s->totp_len, code, now, 30, 6,
                                TOTP_WINDOW, &step))
        return gosr_error_set(err, GOSR_EDENIED, "totp_invalid",
                              "the TOTP code is wrong or expired");
    pthread_mutex_lock(&s->totp_lock);
    bool fresh = step > s->totp_last;
    if (fresh)
        s->totp_last = step;
    pthread_mutex_unlock(&s->totp_lock);
    if (!fresh)
        return gosr_error_set(err, GOSR_EDENIED, "totp_replayed",
                              "this TOTP code (or a later one) was already "
                              "used");
    return GOSR_OK;
}

/* Authenticates for x->route; sends 401/403 and returns false on refusal. */
static bool authorize(gosr_admin_server *s, struct MHD_Connection *c,
                      conn_ctx *x, enum MHD_Result *ret)
{
    gosr_error err;
    gosr_error_clear(&err);
    int role = bearer_role(s, c);
    if (role < 0 || (role == GOSR_ADMIN_ROLE_NONE &&
                     x->route->r.role > GOSR_ADMIN_ROLE_NONE)) {
        gosr_error_set(&err, GOSR_EDENIED,
                       role < 0 ? "auth_invalid" : "auth_missing",
                       role < 0 ? "the bearer token is not valid"
                                : "this route needs Authorization: Bearer "
                                  "TOKEN");
        *ret = send_error(c, x, 401, GOSR_EDENIED, &err,
                          MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                          "Bearer realm=\"gosr\"");
        return false;
    }
    x->role = (gosr_admin_role)role;
    if (role < (int)x->route->r.role) {
        gosr_error_set(&err, GOSR_EDENIED, "role_insufficient",
                       "this route needs the privileged token");
        *ret = send_error(c, x, 403, GOSR_EDENIED, &err, NULL, NULL);
        return false;
    }
    if (x->route->r.totp && check_totp(s, c, &err) != GOSR_OK) {
        *ret = send_error(c, x, 401, GOSR_EDENIED, &err, NULL, NULL);
        return false;
    }
    return true;
}

/* ---- bodies
 * ----------------------------------------------------------------------- */

/* Checks Content-Length against the route's limit before reading. */
static int check_length(const gosr_admin_server *s, struct MHD_Connection *c,
                        const conn_ctx *x, gosr_error *err)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!h)
        return GOSR_OK;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(h, &end, 10);
    if (errno || end == h || *end)
        return gosr_error_set(err, GOSR_EFORMAT, "content_length",
                              "bad Content-Length");
    gosr_admin_body kind = x->route->r.body;
    if (kind == GOSR_ADMIN_BODY_NONE && n > 0)
        return gosr_error_set(err, GOSR_EFORMAT, "body_unexpected",
                              "this route takes no request body");
    uint64_t max = kind == GOSR_ADMIN_BODY_FILE ? s->max_upload : s->max_json;
    if (n > max)
        return gosr_error_set(err, GOSR_ETOOBIG, "body_too_large",
                              "the body of %llu bytes exceeds the limit of "
                              "%llu bytes",
                              n, (unsigned long long)max);
    return GOSR_OK;
}

/* Creates the BODY_FILE temp file DIR/.admin-upload-XXXXXX (mode 0600);
 * x owns it (ctx_free or finish deletes it). */
static int open_upload(const gosr_admin_server *s, conn_ctx *x, gosr_error *err)
{
    x->tmp_path = gosr_asprintf("%s/.admin-upload-XXXXXX", s->data_dir);
    if (!x->tmp_path)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "upload");
    x->fd = mkostemp(x->tmp_path, O_CLOEXEC);
    if (x->fd < 0) {
        int e = errno;
        gosr_free(x->tmp_path);
        x->tmp_path = NULL;
        return gosr_error_set(err, gosr_status_from_errno(e), "upload_tmp",
                              "cannot create an upload file in %s: %s",
                              s->data_dir, strerror(e));
    }
    return GOSR_OK;
}

/* Takes one piece of request body. */
static void consume(const gosr_admin_server *s, conn_ctx *x, const char *p,
                    size_t n)
{
    x->received += n;
    if (x->fail_http)
        return; /* discarding the rest of a refused body */
    gosr_admin_body kind = x->route->r.body;
    if (kind == GOSR_ADMIN_BODY_NONE) {
        defer_error(x, 400, GOSR_EFORMAT, "body_unexpected",
                    "this route takes no request body");
    } else if (kind == GOSR_ADMIN_BODY_JSON) {
        if (x->received > s->max_json)
            defer_error(x, 413, GOSR_ETOOBIG, "body_too_large",
                        "the JSON body exceeds the limit");
        else if (gosr_buf_append(&x->body, p, n) != GOSR_OK)
            defer_error(x, 500, GOSR_ENOMEM, "out_of_memory", "request body");
    } else if (x->received > s->max_upload) {
        defer_error(x, 413, GOSR_ETOOBIG, "body_too_large",
                    "the upload exceeds the limit");
    } else {
        int rc = gosr_io_write_all(x->fd, p, n);
        if (rc != GOSR_OK)
            defer_error(x, 0, rc, "upload_write", gosr_strerror(rc));
    }
    if (x->fail_http)
        gosr_buf_free(&x->body);
}

/* ---- access handler
 * ------------------------------------------------------------------ */

/* Finds the route for method + uri; on no match sends 404 or 405. */
static const route_entry *find_route(const gosr_admin_server *s,
                                     struct MHD_Connection *c, conn_ctx *x,
                                     const char *method, enum MHD_Result *ret)
{
    char allow[128] = "";
    const char *scratch[ADMIN_MAX_SEGMENTS];
    for (size_t i = 0; i < s->nroutes; i++) {
        const route_entry *e = &s->routes[i];
        if (!admin__pattern_match(&e->pat, &x->uri, scratch))
            continue;
        if (strcmp(e->method, method) == 0) {
            admin__pattern_match(&e->pat, &x->uri, x->values);
            return e;
        }
        if (!strstr(allow, e->method) && strlen(allow) + 12 < sizeof allow)
            snprintf(allow + strlen(allow), sizeof allow - strlen(allow),
                     "%s%s", allow[0] ? ", " : "", e->method);
    }
    gosr_error err;
    if (allow[0]) {
        gosr_error_set(&err, GOSR_EINVAL, "method_not_allowed",
                       "%s is not allowed here (allowed: %s)", method, allow);
        *ret = send_error(c, x, 405, GOSR_EINVAL, &err, MHD_HTTP_HEADER_ALLOW,
                          allow);
    } else {
        gosr_error_set(&err, GOSR_ENOENT, "route_not_found", "no route for %s",
                       x->uri.path);
        *ret = send_error(c, x, 404, GOSR_ENOENT, &err, NULL, NULL);
    }
    return NULL;
}

/* First call for a request: parse, route, authenticate, check length. */
static enum MHD_Result begin(gosr_admin_server *s, struct MHD_Connection *c,
                             conn_ctx *x, const char *method)
{
    gosr_error err;
    gosr_error_clear(&err);
    enum MHD_Result ret = MHD_YES;
    if (!x->raw_uri)
        return send_error(c, x, 500, GOSR_ENOMEM, NULL, NULL, NULL);
    int rc = admin__uri_parse(x->raw_uri, strlen(x->raw_uri), &x->uri, &err);
    if (rc != GOSR_OK)
        return send_error(c, x, rc == GOSR_ETOOBIG ? 414 : 400, rc, &err, NULL,
                          NULL);
    x->route = find_route(s, c, x, method, &ret);
    if (!x->route || !authorize(s, c, x, &ret))
        return ret;
    rc = check_length(s, c, x, &err);
    if (rc == GOSR_OK && x->route->r.body == GOSR_ADMIN_BODY_FILE)
        rc = open_upload(s, x, &err);
    if (rc != GOSR_OK)
        return send_error(c, x, 0, rc, &err, NULL, NULL);
    return MHD_YES;
}

/* Sends what a handler answered. */
static enum MHD_Result send_reply(struct MHD_Connection *c, conn_ctx *x,
                                  gosr_admin_reply *rep)
{
    int http = rep->http_status >= 200 && rep->http_status < 300
                   ? rep->http_status
                   : 200;
    if (rep->json) {
        if (json_is_object(rep->json) && !json_object_get(rep->json, "ok"))
            json_object_set_new(rep->json, "ok", json_true());
        json_t *v = rep->json;
        rep->json = NULL;
        return send_json(c, x, http, v, NULL, NULL);
    }
    if (rep->text.len || rep->content_type)
        return send_bytes(
            c, x, http,
            rep->text.data ? (const void *)rep->text.data : (const void *)"",
            rep->text.len,
            rep->content_type ? rep->content_type : "text/plain; charset=utf-8",
            NULL, NULL);
    return send_json(c, x, http, json_pack("{s:b}", "ok", 1), NULL, NULL);
}

/* Last call: the whole body is in; parse it and run the handler. */
static enum MHD_Result finish(struct MHD_Connection *c, conn_ctx *x,
                              const char *method)
{
    if (x->fail_http)
        return send_error(c, x, x->fail_http, x->fail_err.status, &x->fail_err,
                          NULL, NULL);
    gosr_error err;
    gosr_error_clear(&err);
    json_t *body = NULL;
    int rc = x->route->r.body == GOSR_ADMIN_BODY_JSON
                 ? admin__json_body(x->body.data, x->body.len, &body, &err)
                 : GOSR_OK;
    if (rc != GOSR_OK)
        return send_error(c, x, 400, rc, &err, NULL, NULL);
    gosr_admin_request req = {
        .method = method,
        .path = x->uri.path,
        .nparams = x->route->pat.ncapture,
        .param_names = x->route->pat.names,
        .param_values = x->values,
        .nquery = x->uri.nquery,
        .query_names = (const char *const *)x->uri.qname,
        .query_values = (const char *const *)x->uri.qvalue,
        .json = body,
        .body_path = x->tmp_path,
        .body_len = x->received,
        .role = x->role,
        .conn = c,
    };
    gosr_admin_reply rep = {.http_status = 200};
    rc = x->route->r.fn(x->route->r.ud, &req, &rep, &err);
    json_decref(body);
    if (x->tmp_path) { /* the handler did not rename it away: delete it */
        unlink(x->tmp_path);
        gosr_free(x->tmp_path);
        x->tmp_path = NULL;
    }
    enum MHD_Result ret = rc == GOSR_OK
                              ? send_reply(c, x, &rep)
                              : send_error(c, x, 0, rc, &err, NULL, NULL);
    json_decref(rep.json);
    gosr_buf_free(&rep.text);
    return ret;
}

/* MHD access handler: called once after the headers, once per body piece
 * and once at the end of the body. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    gosr_admin_server *s = cls;
    conn_ctx *x = *con_cls;
    if (!x && !(x = *con_cls = ctx_new(NULL)))
        return MHD_NO;
    if (!x->started) {
        x->started = true;
        return begin(s, c, x, method);
    }
    if (*upload_size) {
        if (!x->responded)
            consume(s, x, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (x->responded)
        return MHD_YES;
    if (x->fd >= 0) {
        close(x->fd);
        x->fd = -1;
    }
    return finish(c, x, method);
}

/* ---- request accessors
 * --------------------------------------------------------------- */

const char *gosr_admin_param(const gosr_admin_request *r, const char *name)
{
    for (size_t i = 0; r && name && i < r->nparams; i++)
        if (strcmp(r->param_names[i], name) == 0)
            return r->param_values[i];
    return NULL;
}

const char *gosr_admin_query(const gosr_admin_request *r, const char *name)
{
    for (size_t i = 0; r && name && i < r->nquery; i++)
        if (strcmp(r->query_names[i], name) == 0)
            return r->query_values[i];
    return NULL;
}

const char *gosr_admin_header(const gosr_admin_request *r, const char *name)
{
    if (!r || !r->conn || !name)
        return NULL;
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- built-in routes
 * ----------------------------------------------------------------- */

static int h_healthz(void *ud, const gosr_admin_request *req,
                     gosr_admin_reply *rep, gosr_error *err)
{
    rep->json = json_pack("{s:b}", "ok", 1);
    return rep->json ? GOSR_OK : GOSR_ENOMEM;
}

static int h_metrics(void *ud, const gosr_admin_request *req,
                     gosr_admin_reply *rep, gosr_error *err)
{
    gosr_admin_server *s = ud;
    rep->content_type = "text/plain; version=0.0.4; charset=utf-8";
    int rc = gosr_admin_metrics_render(s->metrics, &rep->text);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "metrics_render", "cannot render");
    return GOSR_OK;
}

static int h_status(void *ud, const gosr_admin_request *req,
                    gosr_admin_reply *rep, gosr_error *err)
{
    gosr_admin_server *s = ud;
    uint64_t up = (gosr_time_mono_ns() - s->started_ns) / 1000000000ull;
    json_t *v = json_pack(
        "{s:b, s:I, s:I, s:s, s:s}", "ok", 1, "pid", (json_int_t)getpid(),
        "uptime_s", (json_int_t)up, "admin_url", s->url, "role",
        req->role == GOSR_ADMIN_ROLE_PRIVILEGED ? "privileged" : "operator");
    if (!v)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "status");
    if (s->status_fn) {
        json_t *extra = NULL;
        int rc = s->status_fn(s->status_ud, &extra, err);
        if (rc == GOSR_OK && json_is_object(extra))
            json_object_update(v, extra);
        json_decref(extra);
        if (rc != GOSR_OK) {
            json_decref(v);
            return rc;
        }
    }
    rep->json = v;
    return GOSR_OK;
}

/* ---- lifecycle
 * ----------------------------------------------------------------------- */

int gosr_admin_parse_listen(const char *str, char host[16], uint16_t *port,
                            gosr_error *err)
{
    if (!str || !*str)
        str = GOSR_ADMIN_DEFAULT_LISTEN;
    const char *colon = strrchr(str, ':');
    struct in_addr a;
    char h[16];
    size_t hl = colon ? (size_t)(colon - str) : 0;
    char *end;
    errno = 0;
    unsigned long p = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || hl == 0 || hl >= sizeof h || colon[1] < '0' ||
        colon[1] > '9' || *end || errno || p > 65535)
        return gosr_error_set(err, GOSR_EINVAL, "listen_address",
                              "'%s' is not IPV4:PORT (e.g. 127.0.0.1:7687)",
                              str);
    memcpy(h, str, hl);
    h[hl] = '\0';
    if (inet_pton(AF_INET, h, &a) != 1)
        return gosr_error_set(err, GOSR_EINVAL, "listen_address",
                              "'%s' is not an IPv4 address", h);
    memcpy(host, h, hl + 1);
    *port = (uint16_t)p;
    return GOSR_OK;
}

/* Loads the tokens and TOTP secret of DIR (creating admin.token). */
static int load_credentials(gosr_admin_server *s, gosr_error *err)
{
    char *tok = gosr_asprintf("%s/%s", s->data_dir, GOSR_ADMIN_TOKEN_FILE);
    char *priv =
        gosr_asprintf("%s/%s", s->data_dir, GOSR_ADMIN_PRIV_TOKEN_FILE);
    char *totp = gosr_asprintf("%s/%s", s->data_dir, GOSR_ADMIN_TOTP_FILE);
    int rc = tok && priv && totp
                 ? GOSR_OK
                 : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "paths");
    if (rc == GOSR_OK)
        rc = access(tok, F_OK) == 0
                 ? gosr_admin_token_load(tok, s->token, err)
                 : gosr_admin_token_create(s->data_dir, s->token, err);
    if (rc == GOSR_OK && access(priv, F_OK) == 0)
        rc = gosr_admin_token_load(priv, s->priv_token, err);
    if (rc == GOSR_OK && access(totp, F_OK) == 0)
        rc = admin__totp_secret_load(totp, s->totp_key, sizeof s->totp_key,
                                     &s->totp_len, err);
    gosr_free(tok);
    gosr_free(priv);
    gosr_free(totp);
    return rc;
}

static int builtin_routes(gosr_admin_server *s, gosr_error *err)
{
    const gosr_admin_route r[] = {
        {"GET", "/healthz", h_healthz, s, GOSR_ADMIN_ROLE_NONE, 0, false},
        {"GET", "/metrics", h_metrics, s, GOSR_ADMIN_ROLE_OPERATOR, 0, false},
        {"GET", "/v1/status", h_status, s, GOSR_ADMIN_ROLE_OPERATOR, 0, false},
    };
    int rc = GOSR_OK;
    for (size_t i = 0; rc == GOSR_OK && i < sizeof r / sizeof r[0]; i++)
        rc = gosr_admin_server_route(s, &r[i], err);
    return rc;
}

static int config_apply(gosr_admin_server *s, const gosr_admin_config *cfg,
                        gosr_error *err)
{
    if (!cfg || !cfg->data_dir || !*cfg->data_dir)
        return gosr_error_set(err, GOSR_EINVAL, "data_dir",
                              "the admin server needs a data directory");
    int rc = gosr_admin_parse_listen(cfg->listen, s->host, &s->want_port, err);
    if (rc != GOSR_OK)
        return rc;
    s->max_upload = cfg->max_upload ? cfg->max_upload : DEFAULT_MAX_UPLOAD;
    s->max_json = cfg->max_json ? cfg->max_json : DEFAULT_MAX_JSON;
    s->threads = cfg->threads ? cfg->threads : DEFAULT_THREADS;
    s->timeout_s =
        cfg->conn_timeout_s ? cfg->conn_timeout_s : DEFAULT_TIMEOUT_S;
    s->discovery = !cfg->no_discovery;
    s->data_dir = gosr_strdup(cfg->data_dir);
    s->discovery_path =
        gosr_asprintf("%s/%s", cfg->data_dir, GOSR_ADMIN_DISCOVERY_FILE);
    if (!s->data_dir || !s->discovery_path)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "server");
    s->metrics = cfg->metrics;
    if (!s->metrics) {
        s->own_metrics = true;
        if (gosr_admin_metrics_create(&s->metrics) != GOSR_OK)
            return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "metrics");
    }
    return GOSR_OK;
}

int gosr_admin_server_create(const gosr_admin_config *cfg,
                             gosr_admin_server **out, gosr_error *err)
{
    *out = NULL;
    gosr_admin_server *s = gosr_calloc(1, sizeof *s);
    if (!s)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "server");
    pthread_mutex_init(&s->totp_lock, NULL);
    int rc = config_apply(s, cfg, err);
    if (rc == GOSR_OK)
        rc = load_credentials(s, err);
    if (rc == GOSR_OK)
        rc = builtin_routes(s, err);
    if (rc != GOSR_OK) {
        gosr_admin_server_destroy(s);
        return rc;
    }
    *out = s;
    return GOSR_OK;
}

static bool method_ok(const char *m)
{
    if (!m || !*m || strlen(m) > 10)
        return false;
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return false;
    return true;
}

/* Adds e to the table unless an equal route exists (then frees e). */
static int table_add(gosr_admin_server *s, route_entry *e, gosr_error *err)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        if (strcmp(s->routes[i].method, e->method) == 0 &&
            admin__pattern_same(&s->routes[i].pat, &e->pat))
            return gosr_error_set(err, GOSR_EEXIST, "route_exists",
                                  "%s %s is already routed", e->method,
                                  e->pattern_text);
    }
    if (s->nroutes == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        route_entry *n = gosr_realloc(s->routes, cap * sizeof *n);
        if (!n)
            return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "route");
        s->routes = n;
        s->cap = cap;
    }
    s->routes[s->nroutes++] = *e;
    return GOSR_OK;
}

int gosr_admin_server_route(gosr_admin_server *s, const gosr_admin_route *r,
                            gosr_error *err)
{
    if (s->mhd)
        return gosr_error_set(err, GOSR_ESTATE, "server_running",
                              "routes are added before the server starts");
    if (!r || !r->fn || !method_ok(r->method) ||
        r->role > GOSR_ADMIN_ROLE_PRIVILEGED || r->body > GOSR_ADMIN_BODY_FILE)
        return gosr_error_set(err, GOSR_EINVAL, "route_invalid",
                              "a route needs a method, handler, role, body");
    route_entry e = {.r = *r};
    int rc = admin__pattern_compile(r->pattern, &e.pat, err);
    if (rc != GOSR_OK)
        return rc;
    e.method = gosr_strdup(r->method);
    e.pattern_text = gosr_strdup(r->pattern);
    rc = e.method && e.pattern_text
             ? table_add(s, &e, err)
             : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "route");
    if (rc != GOSR_OK) {
        gosr_free(e.method);
        gosr_free(e.pattern_text);
        admin__pattern_free(&e.pat);
        return rc;
    }
    s->routes[s->nroutes - 1].r.method = s->routes[s->nroutes - 1].method;
    s->routes[s->nroutes - 1].r.pattern =
        s->routes[s->nroutes - 1].pattern_text;
    return GOSR_OK;
}

void gosr_admin_server_set_status(gosr_admin_server *s, gosr_admin_status_fn fn,
                                  void *ud)
{
    s->status_fn = fn;
    s->status_ud = ud;
}

static int write_discovery(gosr_admin_server *s, gosr_error *err)
{
    json_t *v =
        json_pack("{s:s, s:I}", "url", s->url, "pid", (json_int_t)getpid());
    char *txt = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(v);
    if (!txt)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "admin.json");
    char *line = gosr_asprintf("%s\n", txt);
    free(txt);
    if (!line)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "admin.json");
    int rc =
        gosr_file_write_atomic(s->discovery_path, line, strlen(line), 0600);
    gosr_free(line);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "discovery_write", "cannot write %s: %s",
                              s->discovery_path, gosr_strerror(rc));
    return GOSR_OK;
}

int gosr_admin_server_start(gosr_admin_server *s, gosr_error *err)
{
    if (s->mhd)
        return gosr_error_set(err, GOSR_ESTATE, "server_running",
                              "already started");
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(s->want_port)};
    inet_pton(AF_INET, s->host, &sa.sin_addr);
    s->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, s->threads, MHD_OPTION_CONNECTION_TIMEOUT,
        s->timeout_s, MHD_OPTION_CONNECTION_LIMIT, 256u,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_END);
    if (!s->mhd)
        return gosr_error_set(err, GOSR_EIO, "listen_failed",
                              "cannot listen on %s:%u (address in use?)",
                              s->host, (unsigned)s->want_port);
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->want_port;
    snprintf(s->url, sizeof s->url, "http://%s:%u", s->host, (unsigned)s->port);
    s->started_ns = gosr_time_mono_ns();
    int rc = s->discovery ? write_discovery(s, err) : GOSR_OK;
    if (rc != GOSR_OK)
        gosr_admin_server_stop(s);
    return rc;
}

uint16_t gosr_admin_server_port(const gosr_admin_server *s)
{
    return s && s->mhd ? s->port : 0;
}

const char *gosr_admin_server_url(const gosr_admin_server *s)
{
    return s && s->mhd ? s->url : "";
}

gosr_admin_metrics *gosr_admin_server_metrics(gosr_admin_server *s)
{
    return s->metrics;
}

void gosr_admin_server_stop(gosr_admin_server *s)
{
    if (!s || !s->mhd)
        return;
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    s->port = 0;
    s->url[0] = '\0';
    if (s->discovery)
        unlink(s->discovery_path);
}

void gosr_admin_server_destroy(gosr_admin_server *s)
{
    if (!s)
        return;
    gosr_admin_server_stop(s);
    for (size_t i = 0; i < s->nroutes; i++) {
        gosr_free(s->routes[i].method);
        gosr_free(s->routes[i].pattern_text);
        admin__pattern_free(&s->routes[i].pat);
    }
    gosr_free(s->routes);
    if (s->own_metrics)
        gosr_admin_metrics_destroy(s->metrics);
    sodium_memzero(s->token, sizeof s->token);
    sodium_memzero(s->priv_token, sizeof s->priv_token);
    sodium_memzero(s->totp_key, sizeof s->totp_key);
    pthread_mutex_destroy(&s->totp_lock);
    gosr_free(s->data_dir);
    gosr_free(s->discovery_path);
    gosr_free(s);
}
