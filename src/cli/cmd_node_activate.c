/*
 * cmd_node_activate.c — `gosr activate ID@VERSION` and `gosr rollback ID
 * [--to VERSION]` against a running node (POST /v1/modules/{id}/activate,
 * .../rollback). Exit 3 when the node rejects the change (dependencies,
 * validation, safe mode). Design: docs/kernel.md ("CLI").
 */
#include "cli/cli_node.h"

#include <stdio.h>
#include <string.h>

#define ACTIVATE_USAGE                                                         \
    "gosr activate ID@VERSION (--data DIR | --node URL --token FILE) [--json]"
#define ROLLBACK_USAGE                                                         \
    "gosr rollback ID [--to VERSION] (--data DIR | --node URL --token FILE) "  \
    "[--json]"

/* True for a module id the URL can carry as one path segment. */
static bool id_ok(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", s[i]))
            return false;
    return true;
}

static int finish(json_t *reply, bool json, const char *what)
{
    if (json) {
        cli_print_json(reply);
        return CLI_EXIT_OK;
    }
    printf("%s: %s now at %s\n", what,
           json_string_value(json_object_get(reply, "id")),
           json_string_value(json_object_get(reply, "active")));
    json_decref(reply);
    return CLI_EXIT_OK;
}

static int cmd_activate(int argc, char **argv)
{
    cli_node_args a = {0};
    bool json = false;
    const char *pos[1];
    int npos;
    cli_opt opts[] = {CLI_NODE_OPTS(a), {"json", NULL, &json}, {0}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *at = npos == 1 ? strchr(pos[0], '@') : NULL;
    if (!at || !id_ok(pos[0], (size_t)(at - pos[0])) || !at[1])
        return cli_usage_error("expected ID@VERSION");
    char path[160];
    snprintf(path, sizeof path, "/v1/modules/%.*s/activate",
             (int)(at - pos[0]), pos[0]);
    json_t *body = json_pack("{s:s}", "version", at + 1), *reply = NULL;
    rc = cli_node_call(&a, json, "POST", path, body, NULL, &reply);
    json_decref(body);
    return rc == CLI_EXIT_OK ? finish(reply, json, "activated") : rc;
}

static int cmd_rollback(int argc, char **argv)
{
    cli_node_args a = {0};
    bool json = false;
    const char *pos[1], *to = NULL;
    int npos;
    cli_opt opts[] = {
        CLI_NODE_OPTS(a), {"json", NULL, &json}, {"to", &to, NULL}, {0}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1 || !id_ok(pos[0], strlen(pos[0])))
        return cli_usage_error("expected a module ID");
    char path[160];
    snprintf(path, sizeof path, "/v1/modules/%s/rollback", pos[0]);
    json_t *body = to ? json_pack("{s:s}", "to", to) : json_object();
    json_t *reply = NULL;
    rc = cli_node_call(&a, json, "POST", path, body, NULL, &reply);
    json_decref(body);
    return rc == CLI_EXIT_OK ? finish(reply, json, "rolled back") : rc;
}

GOSR_CLI_COMMAND(activate, "activate", cmd_activate,
                 "activate a published module version on a running node",
                 ACTIVATE_USAGE)
GOSR_CLI_COMMAND(rollback, "rollback", cmd_rollback,
                 "roll a module back on a running node", ROLLBACK_USAGE)
