/*
 * cmd_node_publish.c — `gosr publish X.gmod [--activate]`: uploads a
 * bundle to a running node (POST /v1/modules), which verifies it against
 * its trust root and stores it; with --activate the node then activates
 * it. Design: docs/kernel.md ("CLI").
 */
#include "cli/cli_node.h"

#include <stdio.h>

#define PUBLISH_USAGE                                                          \
    "gosr publish X.gmod [--activate] (--data DIR | --node URL --token FILE) " \
    "[--json]"

static int cmd_publish(int argc, char **argv)
{
    cli_node_args a = {0};
    bool json = false, activate = false;
    const char *pos[1];
    int npos;
    cli_opt opts[] = {CLI_NODE_OPTS(a),
                      {"json", NULL, &json},
                      {"activate", NULL, &activate},
                      {0}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error("expected one .gmod file");
    json_t *reply = NULL;
    rc = cli_node_call(&a, json, "POST",
                       activate ? "/v1/modules?activate=1" : "/v1/modules",
                       NULL, pos[0], &reply);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (json) {
        cli_print_json(reply);
        return CLI_EXIT_OK;
    }
    printf("published %s@%s (root %s)%s\n",
           json_string_value(json_object_get(reply, "id")),
           json_string_value(json_object_get(reply, "version")),
           json_string_value(json_object_get(reply, "root")),
           activate ? ", active" : "");
    json_decref(reply);
    return CLI_EXIT_OK;
}

GOSR_CLI_COMMAND(publish, "publish", cmd_publish,
                 "publish a .gmod bundle to a running node", PUBLISH_USAGE)
