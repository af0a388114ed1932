/*
 * test_cli.c — `gosr status` (src/cli/cmd_status.c over cli_node.c)
 * against a live in-process admin server on 127.0.0.1: --data DIR
 * discovery, --node/--token, --json and text output, and the error paths
 * (no node running, wrong token, unreachable node, usage, a 422 reply ->
 * exit 3). Design: docs/admin.md ("CLI client").
 */
#include "harness.h"
#include "gosr/admin.h"

#include <stdatomic.h>
#include <stdlib.h>

static atomic_int g_status_fail; /* nonzero: the status callback fails */

static int status_cb(void *ud, json_t **out, gosr_error *err)
{
    if (atomic_load(&g_status_fail))
        return gosr_error_set(err, GOSR_ESIGNATURE, "ledger_signature",
                              "ledger head signature invalid");
    *out = json_pack("{s:s, s:{s:s}}", "node", "cli-test", "active", "chat",
                     "1.0.0");
    return GOSR_OK;
}

static gosr_admin_server *start(const char *dir)
{
    gosr_admin_config cfg = {.data_dir = dir, .listen = "127.0.0.1:0"};
    gosr_admin_server *s = NULL;
    gosr_error err;
    if (gosr_admin_server_create(&cfg, &s, &err) != GOSR_OK)
        return NULL;
    gosr_admin_server_set_status(s, status_cb, NULL);
    if (gosr_admin_server_start(s, &err) != GOSR_OK) {
        gosr_admin_server_destroy(s);
        return NULL;
    }
    return s;
}

/* Runs `gosr ARGS > out` and returns the exit code; *out = parsed JSON of
 * stdout or NULL. */
static int run(json_t **out, const char *args)
{
    char path[512];
    snprintf(path, sizeof path, "%s/cli.out", gosr_test_tmpdir());
    int rc = gosr_test_system("%s %s > '%s' 2> '%s.err'", GOSR_CLI_PATH, args,
                              path, path);
    *out = json_load_file(path, 0, NULL);
    return rc;
}

GOSR_TEST(status_via_data_dir)
{
    const char *dir = gosr_test_tmpdir();
    char ddir[512], args[1024];
    snprintf(ddir, sizeof ddir, "%s/node", dir);
    REQUIRE(gosr_mkdir_p(ddir, 0700) == GOSR_OK);
    gosr_admin_server *s = start(ddir);
    REQUIRE(s);
    json_t *v;
    snprintf(args, sizeof args, "status --data '%s' --json", ddir);
    CHECK_EQ(run(&v, args), 0);
    CHECK(json_is_true(json_object_get(v, "ok")));
    CHECK_STR(json_string_value(json_object_get(v, "node")), "cli-test");
    CHECK_STR(json_string_value(
                  json_object_get(json_object_get(v, "active"), "chat")),
              "1.0.0");
    CHECK_STR(json_string_value(json_object_get(v, "admin_url")),
              gosr_admin_server_url(s));
    json_decref(v);
    /* Text output: "key: value" lines. */
    snprintf(args, sizeof args, "status --data '%s'", ddir);
    CHECK_EQ(run(&v, args), 0);
    json_decref(v);
    CHECK_EQ(gosr_test_system("grep -qx 'node: cli-test' '%s/cli.out' && "
                              "grep -qx 'active: {\"chat\":\"1.0.0\"}' "
                              "'%s/cli.out'",
                              dir, dir),
             0);
    /* --node URL --token FILE. */
    snprintf(args, sizeof args,
             "status --node %s/ --token '%s/admin.token' --json",
             gosr_admin_server_url(s), ddir);
    CHECK_EQ(run(&v, args), 0);
    CHECK_STR(json_string_value(json_object_get(v, "node")), "cli-test");
    json_decref(v);
    /* A reply the node rejects with 422 maps to exit 3. */
    atomic_store(&g_status_fail, 1);
    snprintf(args, sizeof args, "status --data '%s' --json", ddir);
    CHECK_EQ(run(&v, args), 3);
    CHECK(json_is_false(json_object_get(v, "ok")));
    CHECK_STR(json_string_value(json_object_get(v, "reason")),
              "ledger_signature");
    CHECK_STR(json_string_value(json_object_get(v, "status")),
              gosr_status_name(GOSR_ESIGNATURE));
    json_decref(v);
    atomic_store(&g_status_fail, 0);
    gosr_admin_server_destroy(s);
    /* The server is gone: admin.json went with it. */
    CHECK_EQ(run(&v, args), 1);
    CHECK_STR(json_string_value(json_object_get(v, "reason")),
              "node_not_running");
    json_decref(v);
}

GOSR_TEST(status_errors)
{
    const char *dir = gosr_test_tmpdir();
    gosr_admin_server *s = start(dir);
    REQUIRE(s);
    json_t *v;
    char args[1024], other[512];
    CHECK_EQ(run(&v, "status --json"), 2); /* no node given: usage */
    json_decref(v);
    snprintf(args, sizeof args, "status --node %s --json",
             gosr_admin_server_url(s));
    CHECK_EQ(run(&v, args), 2); /* --node without --token */
    json_decref(v);
    snprintf(other, sizeof other, "%s/other.token", dir);
    gosr_error err;
    CHECK_OK(gosr_admin_token_create_file(other, NULL, &err));
    snprintf(args, sizeof args, "status --node %s --token '%s' --json",
             gosr_admin_server_url(s), other);
    CHECK_EQ(run(&v, args), 1);
    CHECK_STR(json_string_value(json_object_get(v, "reason")), "auth_invalid");
    json_decref(v);
    CHECK_EQ(gosr_test_system("chmod 0644 '%s'", other), 0);
    CHECK_EQ(run(&v, args), 1);
    CHECK_STR(json_string_value(json_object_get(v, "reason")),
              "token_file_mode");
    json_decref(v);
    snprintf(args, sizeof args,
             "status --node http://127.0.0.1:1 --token '%s/admin.token' "
             "--json",
             dir);
    CHECK_EQ(run(&v, args), 1);
    CHECK_STR(json_string_value(json_object_get(v, "reason")),
              "node_unreachable");
    json_decref(v);
    snprintf(args, sizeof args,
             "status --node ftp://127.0.0.1:1 --token '%s/admin.token' --json",
             dir);
    CHECK_EQ(run(&v, args), 1);
    CHECK_STR(json_string_value(json_object_get(v, "reason")), "node_url");
    json_decref(v);
    gosr_admin_server_destroy(s);
}
