/*
 * cmd_node_install.c — `gosr install PACKAGE [--activate]`: asks a running
 * mesh node (gosr serve --listen) to fetch a module version's package from
 * the mesh, verify it against its trust root and record it, all or nothing
 * (POST /v1/packages); and `gosr pledge PACKAGE --rf N` to set the factor
 * the mesh keeps a package at (POST /v1/packages/{package}/pledge).
 * Design: docs/kernel.md ("Mesh packages", "CLI").
 */
#include "cli/cli_node.h"

#include <stdio.h>
#include <string.h>

#define INSTALL_USAGE                                                          \
    "gosr install PACKAGE [--activate] [--wait MS] (--data DIR | --node URL " \
    "--token FILE) [--json]"
#define PLEDGE_USAGE                                                           \
    "gosr pledge PACKAGE --rf N (--data DIR | --node URL --token FILE) "       \
    "[--json]"
#define INSTALL_TIMEOUT_MS (31L * 60000L) /* the node's fetch limit + 1 min */

/* True for 64 hex digits. */
static bool package_ok(const char *s)
{
    uint8_t h[32];
    return strlen(s) == 64 && gosr_hex_decode(s, h, 32) == GOSR_OK;
}

static int cmd_install(int argc, char **argv)
{
    cli_node_args a = {.timeout_ms = INSTALL_TIMEOUT_MS};
    bool json = false, activate = false;
    const char *pos[1], *wait = NULL;
    int npos;
    uint64_t wait_ms = 0;
    cli_opt opts[] = {CLI_NODE_OPTS(a),
                      {"json", NULL, &json},
                      {"activate", NULL, &activate},
                      {"wait", &wait, NULL},
                      {0}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1 || !package_ok(pos[0]))
        return cli_usage_error("expected a PACKAGE (64 hex digits, as "
                               "gosr publish prints it)");
    if (wait && (cli_parse_u64(wait, &wait_ms) != GOSR_OK || wait_ms > 600000))
        return cli_usage_error("--wait is 0..600000 ms");
    json_t *body = json_pack("{s:s, s:b, s:I}", "package", pos[0], "activate",
                             activate, "wait_ms", (json_int_t)wait_ms);
    json_t *reply = NULL;
    rc = cli_node_call(&a, json, "POST", "/v1/packages", body, NULL, &reply);
    json_decref(body);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (json) {
        cli_print_json(reply);
        return CLI_EXIT_OK;
    }
    printf("installed %s@%s from the mesh (root %s)%s\n",
           json_string_value(json_object_get(reply, "id")),
           json_string_value(json_object_get(reply, "version")),
           json_string_value(json_object_get(reply, "root")),
           activate ? ", active" : "");
    json_decref(reply);
    return CLI_EXIT_OK;
}

static int cmd_pledge(int argc, char **argv)
{
    cli_node_args a = {0};
    bool json = false;
    const char *pos[1], *rf = NULL;
    int npos;
    uint64_t v = 0;
    cli_opt opts[] = {
        CLI_NODE_OPTS(a), {"json", NULL, &json}, {"rf", &rf, NULL}, {0}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1 || !package_ok(pos[0]))
        return cli_usage_error("expected a PACKAGE (64 hex digits)");
    if (!rf || cli_parse_u64(rf, &v) != GOSR_OK || v > 16)
        return cli_usage_error("--rf N (0..16, 0 = the mesh default) is "
                               "required");
    char path[128];
    snprintf(path, sizeof path, "/v1/packages/%s/pledge", pos[0]);
    json_t *body = json_pack("{s:I}", "rf", (json_int_t)v), *reply = NULL;
    rc = cli_node_call(&a, json, "POST", path, body, NULL, &reply);
    json_decref(body);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (json) {
        cli_print_json(reply); /* releases it */
        return CLI_EXIT_OK;
    }
    printf("package %.16s pledged at rf %d\n", pos[0], (int)v);
    json_decref(reply);
    return CLI_EXIT_OK;
}

GOSR_CLI_COMMAND(install, "install", cmd_install,
                 "install a module version from the mesh on a running node",
                 INSTALL_USAGE)
GOSR_CLI_COMMAND(pledge, "pledge", cmd_pledge,
                 "set the replication factor of a published package",
                 PLEDGE_USAGE)
