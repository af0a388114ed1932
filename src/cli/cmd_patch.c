/*
 * cmd_patch.c — `gosr patch submit|status|list|approve|reject|rollback|
 * advance` against a running node's patch endpoints (POST /v1/patches,
 * GET /v1/patches[/{id}], POST /v1/patches/{id}/approve|reject,
 * POST /v1/patches/rollback, POST /v1/patches/advance). Exit 3 when the
 * node rejects (HTTP 422). Design: docs/patch.md ("CLI").
 */
#include "cli/cli_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATCH_USAGE                                                            \
    "gosr patch submit FILE.gmod | status ID | list | approve ID | "          \
    "reject ID | rollback [--to ID] | advance  [--reason TEXT] "              \
    "(--data DIR | --node URL --token FILE) [--json]"

/* True for a patch id (64 lower-case hex). */
static bool pid_ok(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!strchr("0123456789abcdef", *s))
            return false;
    return true;
}

static void print_row(json_t *p)
{
    printf("%.16s  %-11s %3d%%  %s %s  %s\n",
           json_string_value(json_object_get(p, "id")),
           json_string_value(json_object_get(p, "state")),
           (int)json_integer_value(json_object_get(p, "rollout_pct")),
           json_string_value(json_object_get(p, "series")),
           json_string_value(json_object_get(p, "version")),
           json_string_value(
               json_array_get(json_object_get(p, "reasons"), 0))
               ? json_string_value(
                     json_array_get(json_object_get(p, "reasons"), 0))
               : "");
}

static int show(json_t *reply, bool json, const char *sub)
{
    if (json) {
        cli_print_json(reply);
        return CLI_EXIT_OK;
    }
    if (!strcmp(sub, "list")) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(reply, "patches"), i, p)
            print_row(p);
        printf("active: %s (%d%%)\n",
               json_string_value(json_object_get(reply, "active")),
               (int)json_integer_value(json_object_get(reply, "rollout_pct")));
    } else if (!strcmp(sub, "status")) {
        print_row(reply);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(reply, "transitions"), i, t)
            printf("  %-11s by %s: %s\n",
                   json_string_value(json_object_get(t, "state")),
                   json_string_value(json_object_get(t, "actor")),
                   json_string_value(json_object_get(t, "reason")));
    } else {
        char *s = json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", s ? s : "{}");
        free(s);
    }
    json_decref(reply);
    return CLI_EXIT_OK;
}

/* Method, path and body of a subcommand; CLI_EXIT_USAGE when malformed. */
static int route(const char *sub, const char *arg, const char *to,
                 const char *reason, const char **method, char *path,
                 size_t cap, json_t **body, const char **upload)
{
    *method = "POST";
    *body = NULL;
    *upload = NULL;
    bool needs_id = !strcmp(sub, "status") || !strcmp(sub, "approve") ||
                    !strcmp(sub, "reject");
    if (needs_id && (!arg || !pid_ok(arg)))
        return cli_usage_error("%s needs a patch id (64 hex)", sub);
    if (!strcmp(sub, "submit")) {
        if (!arg)
            return cli_usage_error("submit needs FILE.gmod");
        snprintf(path, cap, "/v1/patches");
        *upload = arg;
    } else if (!strcmp(sub, "list") || !strcmp(sub, "status")) {
        *method = "GET";
        snprintf(path, cap, "/v1/patches%s%s", arg ? "/" : "", arg ? arg : "");
    } else if (needs_id) {
        snprintf(path, cap, "/v1/patches/%s/%s", arg, sub);
        *body = json_pack("{s:s?}", "reason", reason);
    } else if (!strcmp(sub, "rollback")) {
        snprintf(path, cap, "/v1/patches/rollback");
        *body = json_pack("{s:s?, s:s?}", "to", to, "reason", reason);
    } else if (!strcmp(sub, "advance")) {
        snprintf(path, cap, "/v1/patches/advance");
        *body = json_object();
    } else {
        return cli_usage_error("unknown patch subcommand '%s'", sub);
    }
    return CLI_EXIT_OK;
}

static int cmd_patch(int argc, char **argv)
{
    cli_node_args a = {0};
    bool json = false;
    const char *pos[2], *to = NULL, *reason = NULL;
    int npos;
    cli_opt opts[] = {CLI_NODE_OPTS(a),        {"json", NULL, &json},
                      {"to", &to, NULL},       {"reason", &reason, NULL},
                      {0}};
    int rc = cli_parse(argc, argv, opts, pos, 2, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos < 1)
        return cli_usage_error("expected a subcommand");
    const char *method, *upload;
    char path[200];
    json_t *body = NULL, *reply = NULL;
    rc = route(pos[0], npos > 1 ? pos[1] : NULL, to, reason, &method, path,
               sizeof path, &body, &upload);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_node_call(&a, json, method, path, body, upload, &reply);
    json_decref(body);
    return rc == CLI_EXIT_OK ? show(reply, json, pos[0]) : rc;
}

GOSR_CLI_COMMAND(patch, "patch", cmd_patch,
                 "submit, inspect, approve, reject and roll back patches",
                 PATCH_USAGE)
