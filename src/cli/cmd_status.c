/*
 * cmd_status.c — `gosr status`: asks a running node for its status over the
 * admin API (GET /v1/status) and prints it as "key: value" lines or, with
 * --json, the node's JSON reply. Design: docs/admin.md ("CLI client").
 */
#include "cli/cli_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_USAGE                                                           \
    "gosr status (--data DIR | --node URL --token FILE) [--json]"

/* Prints every member except "ok", sorted, strings bare and other values
 * as compact JSON. */
static void print_text(json_t *v)
{
    const char *key;
    json_t *val;
    size_t n = json_object_size(v), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    if (!keys)
        return;
    json_object_foreach(v, key, val) keys[i++] = key;
    qsort(keys, n, sizeof *keys, (int (*)(const void *, const void *))strcmp);
    for (i = 0; i < n; i++) {
        if (strcmp(keys[i], "ok") == 0)
            continue;
        json_t *x = json_object_get(v, keys[i]);
        if (json_is_string(x)) {
            printf("%s: %s\n", keys[i], json_string_value(x));
        } else {
            char *s =
                json_dumps(x, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            printf("%s: %s\n", keys[i], s ? s : "?");
            free(s);
        }
    }
    free(keys);
}

static int cmd_status(int argc, char **argv)
{
    cli_node_args a = {0};
    bool json = false;
    const char *pos[1];
    int npos;
    cli_opt opts[] = {CLI_NODE_OPTS(a), {"json", NULL, &json}, {0}};
    int rc = cli_parse(argc, argv, opts, pos, 0, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_t *reply = NULL;
    rc = cli_node_call(&a, json, "GET", "/v1/status", NULL, NULL, &reply);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (json) {
        cli_print_json(reply);
    } else {
        print_text(reply);
        json_decref(reply);
    }
    return CLI_EXIT_OK;
}

GOSR_CLI_COMMAND(status, "status", cmd_status,
                 "show a running node's status (admin API)", STATUS_USAGE)
