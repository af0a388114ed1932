/*
 * test_cli_node.c — the CLI's node client (src/cli/cli_node.c, compiled
 * into this test with stand-ins for the three cli.c reporting functions)
 * against a live in-process server: file upload (the future `gosr
 * publish`), JSON bodies, raw replies, error envelopes -> status, reason
 * and exit code, and node resolution. Design: docs/admin.md ("CLI client").
 */
#include "harness.h"

#include "../../src/cli/cli_node.c"

/* ---- stand-ins for cli.c (which holds main) ---------------------------------- */

static int g_reported;      /* cli_report_error calls */
static int g_usage;         /* cli_usage_error calls */
static char g_reason[64];   /* last reported reason */

int cli_report_error(bool json, const gosr_error *err, int status,
                     int exit_code)
{
    g_reported++;
    snprintf(g_reason, sizeof g_reason, "%s", err ? err->reason : "");
    return exit_code;
}

int cli_usage_error(const char *fmt, ...)
{
    g_usage++;
    return CLI_EXIT_USAGE;
}

void cli_print_json(json_t *v)
{
    json_decref(v);
}

/* ---- server side --------------------------------------------------------------- */

static int h_upload(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = gosr_file_read_all(r->body_path, 8u << 20, &data, &len);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "upload_missing", "cannot read");
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = sum * 31 + data[i];
    gosr_free(data);
    rep->json = json_pack("{s:I, s:I}", "len", (json_int_t)len, "sum",
                          (json_int_t)(sum & 0x7fffffffffffull));
    return GOSR_OK;
}

static int h_echo(void *ud, const gosr_admin_request *r, gosr_admin_reply *rep,
                  gosr_error *err)
{
    rep->json = json_pack("{s:O?}", "got", r->json);
    return GOSR_OK;
}

static int h_reject(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    return gosr_error_set(err, GOSR_EREVOKED, "key_revoked",
                          "the signing key is revoked");
}

static gosr_admin_server *start(const char *dir)
{
    gosr_admin_config cfg = {.data_dir = dir, .listen = "127.0.0.1:0"};
    gosr_admin_server *s = NULL;
    gosr_error err;
    const gosr_admin_route routes[] = {
        {"POST", "/v1/modules", h_upload, NULL, GOSR_ADMIN_ROLE_OPERATOR,
         GOSR_ADMIN_BODY_FILE, false},
        {"POST", "/v1/echo", h_echo, NULL, GOSR_ADMIN_ROLE_OPERATOR,
         GOSR_ADMIN_BODY_JSON, false},
        {"POST", "/v1/reject", h_reject, NULL, GOSR_ADMIN_ROLE_OPERATOR,
         GOSR_ADMIN_BODY_NONE, false},
    };
    if (gosr_admin_server_create(&cfg, &s, &err) != GOSR_OK)
        return NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (gosr_admin_server_route(s, &routes[i], &err) != GOSR_OK)
            goto fail;
    if (gosr_admin_server_start(s, &err) == GOSR_OK)
        return s;
fail:
    gosr_admin_server_destroy(s);
    return NULL;
}

/* ---- tests ------------------------------------------------------------------------ */

GOSR_TEST(upload_json_and_raw)
{
    const char *dir = gosr_test_tmpdir();
    gosr_admin_server *s = start(dir);
    REQUIRE(s);
    cli_node_args a = {.data = dir};
    cli_node n;
    gosr_error err;
    REQUIRE(cli_node_resolve(&a, &n, &err) == GOSR_OK);
    CHECK_STR(n.url, gosr_admin_server_url(s));
    /* A 3 MiB file upload. */
    size_t len = 3u << 20;
    uint8_t *buf = gosr_malloc(len);
    REQUIRE(buf);
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(i * 7 + (i >> 11));
        sum = sum * 31 + buf[i];
    }
    char path[512];
    snprintf(path, sizeof path, "%s/mod.gmod", dir);
    CHECK_OK(gosr_file_write_atomic(path, buf, len, 0644));
    gosr_free(buf);
    long http = 0;
    json_t *reply = NULL;
    CHECK_OK(cli_node_request(&n, "POST", "/v1/modules", NULL, path, &http,
                              &reply, &err));
    CHECK_EQ(http, 200);
    CHECK_EQ(json_integer_value(json_object_get(reply, "len")), len);
    CHECK_EQ(json_integer_value(json_object_get(reply, "sum")),
             sum & 0x7fffffffffffull);
    json_decref(reply);
    /* A JSON body. */
    json_t *body = json_pack("{s:s}", "version", "1.2.0");
    CHECK_OK(cli_node_request(&n, "POST", "/v1/echo", body, NULL, &http,
                              &reply, &err));
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(reply, "got"), "version")),
              "1.2.0");
    json_decref(reply);
    json_decref(body);
    /* A raw (non-JSON) reply. */
    gosr_buf raw = {0};
    CHECK_OK(cli_node_request_raw(&n, "GET", "/metrics", &http, &raw, &err));
    CHECK_EQ(http, 200);
    gosr_buf_free(&raw);
    /* A missing upload file is reported before any request. */
    snprintf(path, sizeof path, "%s/missing.gmod", dir);
    CHECK_STATUS(cli_node_request(&n, "POST", "/v1/modules", NULL, path,
                                  &http, &reply, &err),
                 GOSR_ENOENT);
    CHECK_STR(err.reason, "upload_unreadable");
    cli_node_free(&n);
    gosr_admin_server_destroy(s);
}

GOSR_TEST(error_replies_map_to_status_and_exit)
{
    const char *dir = gosr_test_tmpdir();
    gosr_admin_server *s = start(dir);
    REQUIRE(s);
    cli_node_args a = {.data = dir};
    cli_node n;
    gosr_error err;
    REQUIRE(cli_node_resolve(&a, &n, &err) == GOSR_OK);
    long http = 0;
    json_t *reply = NULL;
    CHECK_STATUS(cli_node_request(&n, "POST", "/v1/reject", NULL, NULL, &http,
                                  &reply, &err),
                 GOSR_EREVOKED);
    CHECK_EQ(http, 422);
    CHECK_STR(err.reason, "key_revoked");
    CHECK(strstr(err.detail, "(HTTP 422)") != NULL);
    CHECK_EQ(cli_node_exit_code(GOSR_EREVOKED, http, &err), CLI_EXIT_REJECTED);
    CHECK_STATUS(cli_node_request(&n, "GET", "/nowhere", NULL, NULL, &http,
                                  &reply, &err),
                 GOSR_ENOENT);
    CHECK_EQ(http, 404);
    CHECK_STR(err.reason, "route_not_found");
    CHECK_EQ(cli_node_exit_code(GOSR_ENOENT, http, &err), CLI_EXIT_FAIL);
    CHECK(reply == NULL);
    /* cli_node_call reports through cli_report_error. */
    g_reported = 0;
    CHECK_EQ(cli_node_call(&a, true, "POST", "/v1/reject", NULL, NULL, &reply),
             CLI_EXIT_REJECTED);
    CHECK_EQ(g_reported, 1);
    CHECK_STR(g_reason, "key_revoked");
    cli_node_free(&n);
    gosr_admin_server_destroy(s);
    /* After shutdown: no admin.json -> node_not_running. */
    CHECK_EQ(cli_node_call(&a, true, "GET", "/v1/status", NULL, NULL, &reply),
             CLI_EXIT_FAIL);
    CHECK_STR(g_reason, "node_not_running");
}

GOSR_TEST(resolution_rules)
{
    const char *dir = gosr_test_tmpdir();
    cli_node n;
    gosr_error err;
    cli_node_args none = {0};
    CHECK_STATUS(cli_node_resolve(&none, &n, &err), GOSR_EINVAL);
    CHECK_STR(err.reason, "node_args");
    json_t *reply;
    g_usage = 0;
    CHECK_EQ(cli_node_call(&none, false, "GET", "/v1/status", NULL, NULL,
                           &reply),
             CLI_EXIT_USAGE);
    CHECK_EQ(g_usage, 1);
    char tok[512];
    snprintf(tok, sizeof tok, "%s/t.token", dir);
    CHECK_OK(gosr_admin_token_create_file(tok, NULL, &err));
    cli_node_args a = {.node = "http://127.0.0.1:9///", .token = tok};
    CHECK_OK(cli_node_resolve(&a, &n, &err));
    CHECK_STR(n.url, "http://127.0.0.1:9");
    cli_node_free(&n);
    cli_node_free(NULL);
    /* A malformed admin.json. */
    char disc[512];
    snprintf(disc, sizeof disc, "%s/admin.json", dir);
    CHECK_OK(gosr_file_write_atomic(disc, "{\"pid\":1}", 9, 0600));
    cli_node_args d = {.data = dir, .token = tok};
    CHECK_STATUS(cli_node_resolve(&d, &n, &err), GOSR_EFORMAT);
    CHECK_STR(err.reason, "discovery_malformed");
    CHECK_OK(gosr_file_write_atomic(disc, "not json", 8, 0600));
    CHECK_STATUS(cli_node_resolve(&d, &n, &err), GOSR_EFORMAT);
}
