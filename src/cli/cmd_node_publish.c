/*
 * cmd_node_publish.c — `gosr publish X.gmod [--activate]`: uploads a
 * bundle to a running node (POST /v1/modules), which verifies it against
 * its trust root and stores it with its mesh package (pledged on a mesh
 * node, at --rf N if given); with --activate the node then activates it.
 * Design: docs/kernel.md ("CLI", "Mesh packages").
 */
#include "cli/cli_node.h"

#include <stdio.h>

#define PUBLISH_USAGE                                                          \
    "gosr publish X.gmod [--activate] [--rf N] (--data DIR | --node URL "     \
    "--token FILE) [--json]"

static int cmd_publish(int argc, char **argv)
{
    cli_node_args a = {0};
    bool json = false, activate = false;
    const char *pos[1], *rf = NULL;
    int npos;
    uint64_t rfv = 0;
    cli_opt opts[] = {CLI_NODE_OPTS(a),
                      {"json", NULL, &json},
                      {"activate", NULL, &activate},
                      {"rf", &rf, NULL},
                      {0}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error("expected one .gmod file");
    if (rf && (cli_parse_u64(rf, &rfv) != GOSR_OK || rfv == 0 || rfv > 16))
        return cli_usage_error("--rf is 1..16");
    char path[64];
    snprintf(path, sizeof path, "/v1/modules?activate=%d&rf=%u", activate,
             (unsigned)rfv);
    json_t *reply = NULL;
    rc = cli_node_call(&a, json, "POST", path, NULL, pos[0], &reply);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (json) {
        cli_print_json(reply);
        return CLI_EXIT_OK;
    }
    printf("published %s@%s (root %s)%s\npackage %s%s\n",
           json_string_value(json_object_get(reply, "id")),
           json_string_value(json_object_get(reply, "version")),
           json_string_value(json_object_get(reply, "root")),
           activate ? ", active" : "",
           json_string_value(json_object_get(reply, "package")),
           json_is_true(json_object_get(reply, "pledged"))
               ? " (pledged on the mesh)"
               : "");
    json_decref(reply);
    return CLI_EXIT_OK;
}

GOSR_CLI_COMMAND(publish, "publish", cmd_publish,
                 "publish a .gmod bundle to a running node", PUBLISH_USAGE)
