/*
 * test_server.c — the admin HTTP server end to end over 127.0.0.1 with
 * libcurl: routing and {param}/query decoding, 404/405, bearer auth
 * (missing, invalid, valid) and roles, TOTP on privileged routes, JSON and
 * file bodies with their limits (413, chunked too), malformed JSON (400),
 * handler errors, /healthz, /metrics, /v1/status, admin.json lifecycle,
 * the tick queue behind a route, and 8 threads x 200 concurrent requests.
 * Design: docs/admin.md.
 */
#include "harness.h"
#include "http_client.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixture ----------------------------------------------------------------
 */

typedef struct fixture {
    gosr_admin_server *s; /* the server under test */
    char token[65];       /* operator token */
    char priv[65];        /* privileged token */
    char totp_b32[33];    /* TOTP secret, base32 */
    const char *url;      /* base URL */
    gosr_admin_queue *q;  /* queue for /v1/tick */
} fixture;

static int h_params(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    const char *q = gosr_admin_query(r, "q"), *f = gosr_admin_query(r, "flag");
    rep->json =
        json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", gosr_admin_param(r, "id"),
                  "ver", gosr_admin_param(r, "ver"), "q", q ? q : "(none)",
                  "flag", f ? f : "(none)", "nquery", (json_int_t)r->nquery);
    return GOSR_OK;
}

static int h_echo(void *ud, const gosr_admin_request *r, gosr_admin_reply *rep,
                  gosr_error *err)
{
    rep->json = json_pack("{s:O?}", "got", r->json);
    rep->http_status = 201;
    return GOSR_OK;
}

static int h_upload(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = gosr_file_read_all(r->body_path, 1 << 24, &data, &len);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "upload_missing", "cannot read body");
    size_t xs = 0;
    for (size_t i = 0; i < len; i++)
        xs += data[i] == 'x';
    gosr_free(data);
    rep->json = json_pack("{s:I, s:I, s:I, s:s}", "len", (json_int_t)len,
                          "body_len", (json_int_t)r->body_len, "xs",
                          (json_int_t)xs, "path", r->body_path);
    return GOSR_OK;
}

static int h_fail(void *ud, const gosr_admin_request *r, gosr_admin_reply *rep,
                  gosr_error *err)
{
    return gosr_error_set(err, GOSR_ESIGNATURE, "signature_invalid",
                          "module %s is not signed", "x");
}

static int h_ok(void *ud, const gosr_admin_request *r, gosr_admin_reply *rep,
                gosr_error *err)
{
    rep->json = json_pack("{s:s}", "role",
                          r->role == GOSR_ADMIN_ROLE_PRIVILEGED ? "privileged"
                                                                : "other");
    return GOSR_OK;
}

static int job_double(void *arg, gosr_error *err)
{
    int *v = arg;
    *v *= 2;
    return GOSR_OK;
}

static int h_tick(void *ud, const gosr_admin_request *r, gosr_admin_reply *rep,
                  gosr_error *err)
{
    int v = 21;
    /* ?fast: a short timeout for the "nobody drains" case; otherwise long
     * enough for a loaded machine. */
    unsigned ms = gosr_admin_query(r, "fast") ? 100 : 10000;
    int rc = gosr_admin_queue_call(ud, job_double, &v, ms, err);
    if (rc != GOSR_OK)
        return rc;
    rep->json = json_pack("{s:i}", "v", v);
    return GOSR_OK;
}

static int status_cb(void *ud, json_t **out, gosr_error *err)
{
    *out = json_pack("{s:s, s:i}", "node", "test-node", "tick", 42);
    return GOSR_OK;
}

static const gosr_admin_route ROUTES[] = {
    {"GET", "/v1/modules/{id}/versions/{ver}", h_params, NULL,
     GOSR_ADMIN_ROLE_OPERATOR, GOSR_ADMIN_BODY_NONE, false},
    {"POST", "/v1/echo", h_echo, NULL, GOSR_ADMIN_ROLE_OPERATOR,
     GOSR_ADMIN_BODY_JSON, false},
    {"POST", "/v1/upload", h_upload, NULL, GOSR_ADMIN_ROLE_OPERATOR,
     GOSR_ADMIN_BODY_FILE, false},
    {"POST", "/v1/fail", h_fail, NULL, GOSR_ADMIN_ROLE_OPERATOR,
     GOSR_ADMIN_BODY_NONE, false},
    {"GET", "/v1/priv", h_ok, NULL, GOSR_ADMIN_ROLE_PRIVILEGED,
     GOSR_ADMIN_BODY_NONE, false},
    {"POST", "/v1/kill", h_ok, NULL, GOSR_ADMIN_ROLE_PRIVILEGED,
     GOSR_ADMIN_BODY_JSON, true},
    {"DELETE", "/v1/echo", h_ok, NULL, GOSR_ADMIN_ROLE_OPERATOR,
     GOSR_ADMIN_BODY_NONE, false},
};

/* Starts a server in the test's tmpdir on an ephemeral port. */
static bool fixture_start(fixture *f, bool with_priv)
{
    memset(f, 0, sizeof *f);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *dir = gosr_test_tmpdir();
    char path[512];
    gosr_error err;
    if (with_priv) {
        snprintf(path, sizeof path, "%s/%s", dir, GOSR_ADMIN_PRIV_TOKEN_FILE);
        CHECK_OK(gosr_admin_token_create_file(path, f->priv, &err));
        snprintf(path, sizeof path, "%s/%s", dir, GOSR_ADMIN_TOTP_FILE);
        CHECK_OK(gosr_admin_totp_secret_create(path, f->totp_b32, &err));
    }
    CHECK_OK(gosr_admin_queue_create(&f->q));
    gosr_admin_config cfg = {.data_dir = dir,
                             .listen = "127.0.0.1:0",
                             .max_json = 1024,
                             .max_upload = 256 * 1024};
    int rc = gosr_admin_server_create(&cfg, &f->s, &err);
    if (rc != GOSR_OK) {
        gosr_test_fail(__FILE__, __LINE__, "create: %s %s", err.reason,
                       err.detail);
        return false;
    }
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++)
        CHECK_OK(gosr_admin_server_route(f->s, &ROUTES[i], &err));
    gosr_admin_route tick = {
        "GET", "/v1/tick", h_tick, f->q, GOSR_ADMIN_ROLE_OPERATOR, 0, false};
    CHECK_OK(gosr_admin_server_route(f->s, &tick, &err));
    gosr_admin_server_set_status(f->s, status_cb, NULL);
    CHECK_OK(gosr_admin_server_start(f->s, &err));
    snprintf(path, sizeof path, "%s/%s", dir, GOSR_ADMIN_TOKEN_FILE);
    CHECK_OK(gosr_admin_token_load(path, f->token, &err));
    f->url = gosr_admin_server_url(f->s);
    return gosr_admin_server_port(f->s) != 0;
}

static void fixture_stop(fixture *f)
{
    gosr_admin_queue_close(f->q);
    gosr_admin_server_destroy(f->s);
    gosr_admin_queue_destroy(f->q);
}

/* ---- tests
 * -------------------------------------------------------------------- */

GOSR_TEST(healthz_needs_no_auth)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    http_result r;
    CHECK_EQ(http_do(f.url, "GET", "/healthz", NULL, NULL, NULL, 0, 0, &r), 0);
    CHECK_EQ(r.code, 200);
    CHECK(json_is_true(json_object_get(r.json, "ok")));
    http_result_free(&r);
    fixture_stop(&f);
}

GOSR_TEST(auth_missing_invalid_valid)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    http_result r;
    http_do(f.url, "GET", "/v1/status", NULL, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 401);
    CHECK_STR(http_reason(&r), "auth_missing");
    CHECK(strstr((char *)r.headers.data, "WWW-Authenticate: Bearer") != NULL);
    CHECK(json_is_false(json_object_get(r.json, "ok")));
    http_result_free(&r);
    char bad[65];
    memcpy(bad, f.token, 65);
    bad[10] = bad[10] == 'a' ? 'b' : 'a';
    http_do(f.url, "GET", "/v1/status", bad, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 401);
    CHECK_STR(http_reason(&r), "auth_invalid");
    http_result_free(&r);
    http_do(f.url, "GET", "/v1/status", NULL, "Authorization: Basic Zm9v", NULL,
            0, 0, &r);
    CHECK_EQ(r.code, 401);
    CHECK_STR(http_reason(&r), "auth_invalid");
    http_result_free(&r);
    http_do(f.url, "GET", "/v1/status", "abc", NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 401);
    http_result_free(&r);
    http_do(f.url, "GET", "/v1/status", f.token, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "node")), "test-node");
    CHECK_EQ(json_integer_value(json_object_get(r.json, "tick")), 42);
    CHECK_EQ(json_integer_value(json_object_get(r.json, "pid")), getpid());
    CHECK_STR(json_string_value(json_object_get(r.json, "admin_url")), f.url);
    http_result_free(&r);
    fixture_stop(&f);
}

GOSR_TEST(routing_params_and_query)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    http_result r;
    http_do(f.url, "GET",
            "/v1/modules/com.acme%2Fx/versions/1.2.0?q=a+b%21&flag&x=1",
            f.token, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "id")), "com.acme/x");
    CHECK_STR(json_string_value(json_object_get(r.json, "ver")), "1.2.0");
    CHECK_STR(json_string_value(json_object_get(r.json, "q")), "a b!");
    CHECK_STR(json_string_value(json_object_get(r.json, "flag")), "");
    CHECK_EQ(json_integer_value(json_object_get(r.json, "nquery")), 3);
    http_result_free(&r);
    /* An empty capture or an extra segment is not a match. */
    http_do(f.url, "GET", "/v1/modules//versions/1", f.token, NULL, NULL, 0, 0,
            &r);
    CHECK_EQ(r.code, 404);
    CHECK_STR(http_reason(&r), "route_not_found");
    http_result_free(&r);
    http_do(f.url, "GET", "/v1/modules/a/versions/1/x", f.token, NULL, NULL, 0,
            0, &r);
    CHECK_EQ(r.code, 404);
    http_result_free(&r);
    http_do(f.url, "GET", "/v1/modules/a%zz/versions/1", f.token, NULL, NULL, 0,
            0, &r);
    CHECK_EQ(r.code, 400);
    CHECK_STR(http_reason(&r), "escape_malformed");
    http_result_free(&r);
    fixture_stop(&f);
}

GOSR_TEST(unknown_route_404_and_wrong_method_405)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    http_result r;
    /* 404 comes before auth: no token needed to learn a path is unknown. */
    http_do(f.url, "GET", "/v2/nothing", NULL, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 404);
    CHECK_STR(http_reason(&r), "route_not_found");
    http_result_free(&r);
    http_do(f.url, "POST", "/v1/status", f.token, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 405);
    CHECK_STR(http_reason(&r), "method_not_allowed");
    CHECK(strstr((char *)r.headers.data, "Allow: GET") != NULL);
    http_result_free(&r);
    http_do(f.url, "PUT", "/v1/echo", f.token, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 405);
    CHECK(strstr((char *)r.headers.data, "Allow: POST, DELETE") != NULL);
    http_result_free(&r);
    http_do(f.url, "DELETE", "/v1/echo", f.token, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 200);
    http_result_free(&r);
    fixture_stop(&f);
}

GOSR_TEST(json_bodies_and_limits)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    http_result r;
    const char *ok = "{\"a\":[1,2,{\"b\":\"c\"}]}";
    http_do(f.url, "POST", "/v1/echo", f.token, NULL, ok, strlen(ok), 0, &r);
    CHECK_EQ(r.code, 201);
    CHECK_STR(json_string_value(json_object_get(
                  json_array_get(
                      json_object_get(json_object_get(r.json, "got"), "a"), 2),
                  "b")),
              "c");
    http_result_free(&r);
    static const struct {
        const char *body;
        const char *reason;
    } bad[] = {{"{\"a\":", "json_malformed"},
               {"[1,2]", "json_not_object"},
               {"{\"a\":1,\"a\":2}", "json_malformed"},
               {"{\"a\":1} x", "json_malformed"},
               {"\xff\xfe", "json_malformed"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_do(f.url, "POST", "/v1/echo", f.token, NULL, bad[i].body,
                strlen(bad[i].body), 0, &r);
        CHECK_EQ(r.code, 400);
        CHECK_STR(http_reason(&r), bad[i].reason);
        http_result_free(&r);
    }
    char big[2048];
    memset(big, ' ', sizeof big);
    big[0] = '{';
    big[sizeof big - 1] = '}';
    http_do(f.url, "POST", "/v1/echo", f.token, NULL, big, sizeof big, 0, &r);
    CHECK_EQ(r.code, 413);
    CHECK_STR(http_reason(&r), "body_too_large");
    http_result_free(&r);
    http_do(f.url, "POST", "/v1/echo", f.token, NULL, NULL, 0, 5000, &r);
    CHECK_EQ(r.code, 413); /* chunked: no Content-Length, refused mid-way */
    CHECK_STR(http_reason(&r), "body_too_large");
    http_result_free(&r);
    http_do(f.url, "POST", "/v1/fail", f.token, NULL, "{}", 2, 0, &r);
    CHECK_EQ(r.code, 400);
    CHECK_STR(http_reason(&r), "body_unexpected");
    http_result_free(&r);
    http_do(f.url, "POST", "/v1/fail", f.token, NULL, NULL, 0, 10, &r);
    CHECK_EQ(r.code, 400);
    CHECK_STR(http_reason(&r), "body_unexpected");
    http_result_free(&r);
    fixture_stop(&f);
}

GOSR_TEST(file_upload_and_limit)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    http_result r;
    size_t n = 200 * 1024;
    char *buf = gosr_malloc(n);
    REQUIRE(buf);
    memset(buf, 'x', n);
    http_do(f.url, "POST", "/v1/upload", f.token, NULL, buf, n, 0, &r);
    CHECK_EQ(r.code, 200);
    CHECK_EQ(json_integer_value(json_object_get(r.json, "len")), n);
    CHECK_EQ(json_integer_value(json_object_get(r.json, "body_len")), n);
    CHECK_EQ(json_integer_value(json_object_get(r.json, "xs")), n);
    const char *tmp = json_string_value(json_object_get(r.json, "path"));
    CHECK(tmp && access(tmp, F_OK) != 0); /* removed after the handler */
    http_result_free(&r);
    http_do(f.url, "POST", "/v1/upload", f.token, NULL, NULL, 0, 100000, &r);
    CHECK_EQ(r.code, 200); /* chunked upload within the limit */
    CHECK_EQ(json_integer_value(json_object_get(r.json, "len")), 100000);
    http_result_free(&r);
    gosr_free(buf);
    n = 300 * 1024;
    buf = gosr_calloc(1, n);
    REQUIRE(buf);
    http_do(f.url, "POST", "/v1/upload", f.token, NULL, buf, n, 0, &r);
    CHECK_EQ(r.code, 413);
    http_result_free(&r);
    http_do(f.url, "POST", "/v1/upload", f.token, NULL, NULL, 0, n, &r);
    CHECK_EQ(r.code, 413);
    CHECK_STR(http_reason(&r), "body_too_large");
    http_result_free(&r);
    gosr_free(buf);
    /* No temp files are left behind. */
    CHECK_EQ(gosr_test_system("ls -a '%s' | grep -q admin-upload",
                              gosr_test_tmpdir()),
             1);
    fixture_stop(&f);
}

GOSR_TEST(handler_error_maps_to_http)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    http_result r;
    http_do(f.url, "POST", "/v1/fail", f.token, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 422);
    CHECK_STR(http_reason(&r), "signature_invalid");
    CHECK_STR(json_string_value(json_object_get(r.json, "status")),
              gosr_status_name(GOSR_ESIGNATURE));
    CHECK_STR(json_string_value(json_object_get(r.json, "detail")),
              "module x is not signed");
    http_result_free(&r);
    fixture_stop(&f);
}

GOSR_TEST(roles_and_totp)
{
    fixture f;
    REQUIRE(fixture_start(&f, true));
    http_result r;
    http_do(f.url, "GET", "/v1/priv", f.token, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 403);
    CHECK_STR(http_reason(&r), "role_insufficient");
    http_result_free(&r);
    http_do(f.url, "GET", "/v1/priv", f.priv, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "role")), "privileged");
    http_result_free(&r);
    /* The privileged token also passes operator routes. */
    http_do(f.url, "GET", "/v1/status", f.priv, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 200);
    CHECK_STR(json_string_value(json_object_get(r.json, "role")), "privileged");
    http_result_free(&r);
    http_do(f.url, "POST", "/v1/kill", f.priv, NULL, "{}", 2, 0, &r);
    CHECK_EQ(r.code, 401);
    CHECK_STR(http_reason(&r), "totp_missing");
    http_result_free(&r);
    uint8_t key[32];
    size_t klen;
    CHECK_OK(gosr_admin_base32_decode(f.totp_b32, key, sizeof key, &klen));
    uint64_t now = gosr_time_wall_ns() / 1000000000ull;
    uint32_t code, wrong;
    CHECK_OK(gosr_admin_totp(key, klen, now, 30, 6, &code));
    CHECK_OK(gosr_admin_totp(key, klen, now + 600, 30, 6, &wrong));
    char hdr[64];
    snprintf(hdr, sizeof hdr, "X-GOSR-TOTP: %06u", wrong);
    http_do(f.url, "POST", "/v1/kill", f.priv, hdr, "{}", 2, 0, &r);
    CHECK_EQ(r.code, 401);
    CHECK_STR(http_reason(&r), "totp_invalid");
    http_result_free(&r);
    snprintf(hdr, sizeof hdr, "X-GOSR-TOTP: %06u", code);
    http_do(f.url, "POST", "/v1/kill", f.token, hdr, "{}", 2, 0, &r);
    CHECK_EQ(r.code, 403); /* operator token: role first, code untouched */
    http_result_free(&r);
    http_do(f.url, "POST", "/v1/kill", f.priv, hdr, "{}", 2, 0, &r);
    CHECK_EQ(r.code, 200);
    http_result_free(&r);
    http_do(f.url, "POST", "/v1/kill", f.priv, hdr, "{}", 2, 0, &r);
    CHECK_EQ(r.code, 401);
    CHECK_STR(http_reason(&r), "totp_replayed");
    http_result_free(&r);
    fixture_stop(&f);
}

GOSR_TEST(totp_route_without_secret_is_refused)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    http_result r;
    http_do(f.url, "POST", "/v1/kill", f.token, "X-GOSR-TOTP: 123456", "{}", 2,
            0, &r);
    CHECK_EQ(r.code, 403); /* no privileged token exists at all */
    http_result_free(&r);
    fixture_stop(&f);
}

GOSR_TEST(metrics_endpoint)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    gosr_admin_metrics *m = gosr_admin_server_metrics(f.s);
    gosr_admin_metric *swaps;
    gosr_admin_series *s;
    gosr_error err;
    gosr_admin_metric_desc d = {.name = "gosr_swaps_total",
                                .help = "Module swaps.",
                                .type = GOSR_ADMIN_COUNTER};
    CHECK_OK(gosr_admin_metrics_add(m, &d, &swaps, &err));
    CHECK_OK(gosr_admin_metric_series(swaps, NULL, &s, &err));
    gosr_admin_series_add(s, 3);
    http_result r;
    http_do(f.url, "GET", "/metrics", NULL, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 401);
    http_result_free(&r);
    http_do(f.url, "GET", "/metrics", f.token, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 200);
    CHECK(strstr((char *)r.headers.data,
                 "Content-Type: text/plain; version=0.0.4") != NULL);
    CHECK_STR((char *)r.body.data, "# HELP gosr_swaps_total Module swaps.\n"
                                   "# TYPE gosr_swaps_total counter\n"
                                   "gosr_swaps_total 3\n");
    http_result_free(&r);
    fixture_stop(&f);
}

GOSR_TEST(discovery_file_lifecycle)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    char path[512];
    snprintf(path, sizeof path, "%s/admin.json", gosr_test_tmpdir());
    uint8_t *data = NULL;
    size_t len;
    CHECK_OK(gosr_file_read_all(path, 4096, &data, &len));
    json_t *v = json_loadb((const char *)data, len, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(v, "url")), f.url);
    CHECK_EQ(json_integer_value(json_object_get(v, "pid")), getpid());
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%u",
             (unsigned)gosr_admin_server_port(f.s));
    CHECK_STR(f.url, want);
    json_decref(v);
    gosr_free(data);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    gosr_admin_server_stop(f.s);
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ(gosr_admin_server_port(f.s), 0);
    gosr_admin_server_stop(f.s); /* twice is fine */
    fixture_stop(&f);
}

GOSR_TEST(token_file_must_be_private)
{
    const char *dir = gosr_test_tmpdir();
    char tok[65];
    gosr_error err;
    CHECK_OK(gosr_admin_token_create(dir, tok, &err));
    CHECK_EQ(gosr_test_system("chmod 0640 '%s/admin.token'", dir), 0);
    gosr_admin_config cfg = {.data_dir = dir, .listen = "127.0.0.1:0"};
    gosr_admin_server *s = NULL;
    CHECK_STATUS(gosr_admin_server_create(&cfg, &s, &err), GOSR_EDENIED);
    CHECK_STR(err.reason, "token_file_mode");
    CHECK(s == NULL);
}

GOSR_TEST(creates_token_when_missing)
{
    const char *dir = gosr_test_tmpdir();
    gosr_admin_config cfg = {.data_dir = dir, .listen = "127.0.0.1:0"};
    gosr_admin_server *s = NULL;
    gosr_error err;
    CHECK_OK(gosr_admin_server_create(&cfg, &s, &err));
    char path[512], tok[65];
    snprintf(path, sizeof path, "%s/admin.token", dir);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_OK(gosr_admin_token_load(path, tok, &err));
    CHECK_EQ(strlen(tok), 64);
    gosr_admin_server_destroy(s);
    /* A second server keeps the same token. */
    char tok2[65];
    CHECK_OK(gosr_admin_server_create(&cfg, &s, &err));
    CHECK_OK(gosr_admin_token_load(path, tok2, &err));
    CHECK_STR(tok, tok2);
    gosr_admin_server_destroy(s);
}

GOSR_TEST(route_registration_errors)
{
    const char *dir = gosr_test_tmpdir();
    gosr_admin_config cfg = {.data_dir = dir, .listen = "127.0.0.1:0"};
    gosr_admin_server *s = NULL;
    gosr_error err;
    REQUIRE(gosr_admin_server_create(&cfg, &s, &err) == GOSR_OK);
    gosr_admin_route r = {"GET", "/v1/status", h_ok, NULL, 1, 0, false};
    CHECK_STATUS(gosr_admin_server_route(s, &r, &err), GOSR_EEXIST);
    CHECK_STR(err.reason, "route_exists");
    r.pattern = "/v1/{a}/{a}";
    CHECK_STATUS(gosr_admin_server_route(s, &r, &err), GOSR_EINVAL);
    r.pattern = "v1/x";
    CHECK_STATUS(gosr_admin_server_route(s, &r, &err), GOSR_EINVAL);
    r.pattern = "/v1/x y";
    CHECK_STATUS(gosr_admin_server_route(s, &r, &err), GOSR_EINVAL);
    r.pattern = "/v1/{id}";
    r.method = "get";
    CHECK_STATUS(gosr_admin_server_route(s, &r, &err), GOSR_EINVAL);
    r.method = "GET";
    CHECK_OK(gosr_admin_server_route(s, &r, &err));
    r.pattern = "/v1/{other}"; /* same shape, different name */
    CHECK_STATUS(gosr_admin_server_route(s, &r, &err), GOSR_EEXIST);
    CHECK_OK(gosr_admin_server_start(s, &err));
    r.pattern = "/v1/late";
    CHECK_STATUS(gosr_admin_server_route(s, &r, &err), GOSR_ESTATE);
    /* The port is taken: a second server cannot listen on it. */
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%u",
             (unsigned)gosr_admin_server_port(s));
    char dir2[512];
    snprintf(dir2, sizeof dir2, "%s/two", dir);
    CHECK_OK(gosr_mkdir_p(dir2, 0700));
    gosr_admin_config cfg2 = {.data_dir = dir2, .listen = listen};
    gosr_admin_server *s2 = NULL;
    CHECK_OK(gosr_admin_server_create(&cfg2, &s2, &err));
    CHECK_STATUS(gosr_admin_server_start(s2, &err), GOSR_EIO);
    CHECK_STR(err.reason, "listen_failed");
    gosr_admin_server_destroy(s2);
    gosr_admin_server_destroy(s);
}

GOSR_TEST(parse_listen)
{
    char host[16];
    uint16_t port = 1;
    gosr_error err;
    CHECK_OK(gosr_admin_parse_listen(NULL, host, &port, &err));
    CHECK_STR(host, "127.0.0.1");
    CHECK_EQ(port, GOSR_ADMIN_DEFAULT_PORT);
    CHECK_OK(gosr_admin_parse_listen("127.0.0.1:0", host, &port, &err));
    CHECK_EQ(port, 0);
    CHECK_OK(gosr_admin_parse_listen("10.1.2.3:65535", host, &port, &err));
    CHECK_STR(host, "10.1.2.3");
    CHECK_EQ(port, 65535);
    const char *bad[] = {"127.0.0.1",    "127.0.0.1:",      ":80",
                         "localhost:80", "127.0.0.1:65536", "127.0.0.1:-1",
                         "127.0.0.1:8x", "1.2.3.4.5:80",    "::1:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(gosr_admin_parse_listen(bad[i], host, &port, &err),
                     GOSR_EINVAL);
        CHECK_STR(err.reason, "listen_address");
    }
}

/* A tick thread that drains the queue until told to stop. */
typedef struct ticker {
    gosr_admin_queue *q; /* queue to drain */
    atomic_bool stop;    /* set by the test to end the loop */
} ticker;

static void *tick_main(void *arg)
{
    ticker *t = arg;
    while (!atomic_load(&t->stop)) {
        gosr_admin_queue_wait(t->q, 20);
        gosr_admin_queue_drain(t->q, 0);
    }
    return NULL;
}

GOSR_TEST(queue_behind_a_route)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    http_result r;
    /* Nobody drains: the handler times out with 504 tick_timeout. */
    http_do(f.url, "GET", "/v1/tick?fast", f.token, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 504);
    CHECK_STR(http_reason(&r), "tick_timeout");
    http_result_free(&r);
    ticker t = {.q = f.q};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, tick_main, &t) == 0);
    for (int i = 0; i < 20; i++) {
        http_do(f.url, "GET", "/v1/tick", f.token, NULL, NULL, 0, 0, &r);
        CHECK_EQ(r.code, 200);
        CHECK_EQ(json_integer_value(json_object_get(r.json, "v")), 42);
        http_result_free(&r);
    }
    atomic_store(&t.stop, true);
    pthread_join(th, NULL);
    gosr_admin_queue_close(f.q);
    http_do(f.url, "GET", "/v1/tick", f.token, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 503);
    CHECK_STR(http_reason(&r), "node_stopping");
    http_result_free(&r);
    fixture_stop(&f);
}

/* ---- concurrency
 * ----------------------------------------------------------------- */

typedef struct worker {
    const fixture *f; /* shared fixture (read only) */
    int id;           /* worker number */
    int bad;          /* responses with an unexpected status */
    pthread_t th;     /* the thread */
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    static const struct {
        const char *method, *path, *body;
        bool auth;
        long want;
    } reqs[] = {
        {"GET", "/v1/status", NULL, true, 200},
        {"GET", "/metrics", NULL, true, 200},
        {"POST", "/v1/echo", "{\"k\":[1,2,3]}", true, 201},
        {"GET", "/nope", NULL, true, 404},
        {"GET", "/v1/status", NULL, false, 401},
        {"POST", "/v1/echo", "{bad", true, 400},
        {"GET", "/v1/modules/m/versions/2?q=z", NULL, true, 200},
        {"GET", "/healthz", NULL, false, 200},
    };
    for (int i = 0; i < 200; i++) {
        size_t k = (size_t)(i + w->id) % (sizeof reqs / sizeof reqs[0]);
        http_result r;
        http_do(w->f->url, reqs[k].method, reqs[k].path,
                reqs[k].auth ? w->f->token : NULL, NULL, reqs[k].body,
                reqs[k].body ? strlen(reqs[k].body) : 0, 0, &r);
        bool is_metrics = strcmp(reqs[k].path, "/metrics") == 0;
        bool body_ok =
            is_metrics ? r.body.len > 0 && strstr((char *)r.body.data,
                                                  "# TYPE gosr_script_seconds")
                       : r.json != NULL;
        if (r.code != reqs[k].want || !body_ok) {
            w->bad++;
            if (w->bad < 3)
                fprintf(stderr, "%s %s: %ld\n", reqs[k].method, reqs[k].path,
                        r.code);
        }
        http_result_free(&r);
    }
    return NULL;
}

GOSR_TEST(concurrent_requests)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    gosr_admin_metric *fam;
    gosr_error err;
    const char *labels[] = {"module"};
    gosr_admin_metric_desc d = {.name = "gosr_script_seconds_total",
                                .help = "Script time.",
                                .type = GOSR_ADMIN_COUNTER,
                                .labels = labels,
                                .nlabels = 1};
    CHECK_OK(
        gosr_admin_metrics_add(gosr_admin_server_metrics(f.s), &d, &fam, &err));
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){.f = &f, .id = i};
        REQUIRE(pthread_create(&w[i].th, NULL, worker_main, &w[i]) == 0);
    }
    /* Meanwhile the "tick thread" (this one) updates metrics. */
    for (int i = 0; i < 2000; i++) {
        char mod[16];
        snprintf(mod, sizeof mod, "m%d", i % 5);
        const char *v[] = {mod};
        gosr_admin_series *s;
        CHECK_OK(gosr_admin_metric_series(fam, v, &s, &err));
        gosr_admin_series_add(s, 0.5);
    }
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(w[i].th, NULL);
        bad += w[i].bad;
    }
    CHECK_EQ(bad, 0);
    const char *v[] = {"m0"};
    gosr_admin_series *s;
    CHECK_OK(gosr_admin_metric_series(fam, v, &s, &err));
    CHECK(gosr_admin_series_value(s) == 200.0);
    fixture_stop(&f);
}

/* ---- raw HTTP: malformed and abandoned requests
 * ---------------------------------- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Sends `req` (n bytes) on a fresh connection, reads the reply (up to
 * 4 KiB) and returns the HTTP status from its first line, or 0. */
static int raw_exchange(uint16_t port, const char *req, size_t n,
                        bool read_reply)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int code = 0;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        goto out;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (read_reply) {
        char buf[4096];
        ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
        if (r > 12) {
            buf[r] = '\0';
            sscanf(buf, "HTTP/1.%*d %d", &code);
        }
    }
out:
    if (fd >= 0)
        close(fd);
    return code;
}

GOSR_TEST(malformed_http_is_refused_without_leaks)
{
    fixture f;
    REQUIRE(fixture_start(&f, false));
    uint16_t port = gosr_admin_server_port(f.s);
    const char *r1 =
        "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n";
    CHECK_EQ(raw_exchange(port, r1, strlen(r1), true), 400);
    const char *r2 = "GET /v1/status HTTP/1.1\r\nHost: x\r\n"; /* unfinished */
    raw_exchange(port, r2, strlen(r2), false);
    char auth[256];
    snprintf(auth, sizeof auth,
             "POST /v1/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
             "%s\r\nContent-Length: 100\r\n\r\n{\"a\":",
             f.token);
    raw_exchange(port, auth, strlen(auth), false); /* body cut short */
    snprintf(auth, sizeof auth,
             "POST /v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
             "%s\r\nContent-Length: 100000\r\n\r\nxxxx",
             f.token);
    raw_exchange(port, auth, strlen(auth), false); /* upload cut short */
    size_t big = 64 * 1024;
    char *huge = gosr_malloc(big + 64);
    REQUIRE(huge);
    int k = snprintf(huge, 64, "GET /healthz HTTP/1.1\r\nX-Big: ");
    memset(huge + k, 'a', big);
    memcpy(huge + k + big, "\r\n\r\n", 4);
    int code = raw_exchange(port, huge, (size_t)k + big + 4, true);
    CHECK(code == 431 || code == 413 || code == 400);
    gosr_free(huge);
    const char *r3 =
        "GET /v1/modules/%zz/versions/1 HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ(raw_exchange(port, r3, strlen(r3), true), 400);
    const char *r4 = "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ(raw_exchange(port, r4, strlen(r4), true), 405);
    /* The server still works and nothing was left behind. */
    http_result r;
    http_do(f.url, "GET", "/healthz", NULL, NULL, NULL, 0, 0, &r);
    CHECK_EQ(r.code, 200);
    http_result_free(&r);
    fixture_stop(&f);
    CHECK_EQ(gosr_test_system("ls -a '%s' | grep -q admin-upload",
                              gosr_test_tmpdir()),
             1);
}

GOSR_TEST(out_of_memory_in_create)
{
    const char *dir = gosr_test_tmpdir();
    gosr_admin_config cfg = {.data_dir = dir, .listen = "127.0.0.1:0"};
    int n;
    for (n = 1; n < 200; n++) {
        gosr_admin_server *s = NULL;
        gosr_error err;
        gosr_alloc_fail_after(n);
        int rc = gosr_admin_server_create(&cfg, &s, &err);
        gosr_alloc_fail_after(0);
        gosr_admin_server_destroy(s);
        if (rc == GOSR_OK)
            break;
        CHECK_STATUS(rc, GOSR_ENOMEM);
        CHECK(s == NULL);
    }
    CHECK(n > 1 && n < 200);
}
