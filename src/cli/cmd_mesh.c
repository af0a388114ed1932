/*
 * cmd_mesh.c — `gosr mesh node|status|peers|credits|replicas|fetch|publish|
 * providers|key`: run a mesh node as its own process, and talk to a
 * running node through control requests (JSON over an authenticated
 * link). Design: docs/mesh.md ("Command line").
 */
#include "cli.h"
#include "cli/cli_node.h"
#include "cli/mesh_print.h"
#include "gosr/mesh.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESH_USAGE                                                             \
    "gosr mesh SUBCOMMAND ...\n"                                               \
    "  node --data DIR --listen IP:PORT [--bootstrap HOST:PORT,...]\n"         \
    "       [--dht-port N] [--tier hot|cold] [--rf N] [--heartbeat-ms N]\n"    \
    "       [--dead-ms N] [--repair-ms N] [--proof-ms N] [--hot-threshold "    \
    "N]\n"                                                                     \
    "       [--fault corrupt|drop]   (test-only faults, docs/mesh.md)\n"       \
    "  status|peers|credits NODE\n"                                           \
    "  replicas ID NODE               live holders of a root\n"                \
    "  fetch ID NODE [--out PATH] [--timeout MS]\n"                            \
    "                                 fetch a root (all or nothing)\n"         \
    "  publish PATH NODE [--rf N]     store and pledge a root\n"               \
    "  providers ID NODE              DHT provider lookup\n"                   \
    "  key ID                         the DHT provider key of a root\n"        \
    "NODE is --node IP:PORT (a mesh node's listen address) or --data DIR\n"   \
    "(a gosr serve --listen node's directory, via DIR/mesh.json).\n"          \
    "--json prints the node's JSON answer instead of lines for people."

/* Options of every subcommand (pointers into argv). */
typedef struct mesh_opts {
    const char *data, *listen, *bootstrap, *dht_port, *tier, *rf, *hb, *dead;
    const char *repair, *proof, *hot, *fault, *node, *out, *timeout;
    bool json;
    const char *pos[3]; /* positional arguments */
    int npos;           /* how many */
} mesh_opts;

static int parse(int argc, char **argv, mesh_opts *o)
{
    const cli_opt opts[] = {
        {"data", &o->data, NULL},
        {"listen", &o->listen, NULL},
        {"bootstrap", &o->bootstrap, NULL},
        {"dht-port", &o->dht_port, NULL},
        {"tier", &o->tier, NULL},
        {"rf", &o->rf, NULL},
        {"heartbeat-ms", &o->hb, NULL},
        {"dead-ms", &o->dead, NULL},
        {"repair-ms", &o->repair, NULL},
        {"proof-ms", &o->proof, NULL},
        {"hot-threshold", &o->hot, NULL},
        {"fault", &o->fault, NULL},
        {"node", &o->node, NULL},
        {"out", &o->out, NULL},
        {"timeout", &o->timeout, NULL},
        {"json", NULL, &o->json},
        {NULL, NULL, NULL},
    };
    return cli_parse(argc, argv, opts, o->pos, 3, &o->npos);
}

static int num(const char *s, unsigned max, unsigned *out)
{
    uint64_t v = 0;
    if (!s)
        return GOSR_OK;
    if (cli_parse_u64(s, &v) != GOSR_OK || v > max)
        return GOSR_EINVAL;
    *out = (unsigned)v;
    return GOSR_OK;
}

/* ---- node
 * ---------------------------------------------------------------------- */

static gosr_mesh_node *g_node; /* for the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    gosr_mesh_node_stop(g_node); /* uv_async_send: async-signal-safe */
}

static int fill_config(const mesh_opts *o, gosr_mesh_config *c)
{
    unsigned port = 0;
    c->data_dir = o->data;
    c->listen = o->listen;
    c->bootstrap = o->bootstrap;
    if (num(o->dht_port, 65535, &port) || num(o->rf, 16, &c->rf) ||
        num(o->hb, 600000, &c->heartbeat_ms) ||
        num(o->dead, 600000, &c->dead_ms) ||
        num(o->repair, 600000, &c->repair_ms) ||
        num(o->proof, 600000, &c->proof_ms) ||
        num(o->hot, 1000000, &c->hot_threshold))
        return cli_usage_error("numeric option out of range");
    c->dht_port = (uint16_t)port;
    if (o->tier && strcmp(o->tier, "hot") == 0)
        c->tier = GOSR_MESH_TIER_HOT;
    else if (o->tier && strcmp(o->tier, "cold") != 0)
        return cli_usage_error("--tier must be hot or cold");
    if (o->fault && strcmp(o->fault, "corrupt") == 0)
        c->faults = GOSR_MESH_FAULT_CORRUPT;
    else if (o->fault && strcmp(o->fault, "drop") == 0)
        c->faults = GOSR_MESH_FAULT_DROP;
    else if (o->fault)
        return cli_usage_error("--fault must be corrupt or drop");
    return CLI_EXIT_OK;
}

static int run_node(const mesh_opts *o)
{
    if (!o->data || !o->listen)
        return cli_usage_error("node needs --data DIR and --listen IP:PORT");
    gosr_mesh_config cfg = {0};
    int rc = fill_config(o, &cfg);
    if (rc != CLI_EXIT_OK)
        return rc;
    gosr_error err;
    rc = gosr_mesh_node_create(&cfg, &g_node, &err);
    if (rc != GOSR_OK)
        return cli_report_error(o->json, &err, rc, CLI_EXIT_FAIL);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    gosr_hash id;
    char hex[65];
    gosr_mesh_node_id(g_node, &id);
    gosr_hash_hex(&id, hex);
    printf("{\"node_id\":\"%s\",\"listen\":\"%s\"}\n", hex, o->listen);
    fflush(stdout);
    gosr_mesh_node_run(g_node);
    gosr_mesh_node_destroy(g_node);
    g_node = NULL;
    return CLI_EXIT_OK;
}

/* ---- control requests
 * ------------------------------------------------------------ */

static int call(const mesh_opts *o, json_t *req, unsigned timeout_ms)
{
    if (!o->node && !o->data) {
        json_decref(req);
        return cli_usage_error("--node IP:PORT or --data DIR is required");
    }
    char *text = json_dumps(req, JSON_COMPACT), op[16];
    snprintf(op, sizeof op, "%s", json_string_value(json_object_get(req, "op")));
    json_decref(req);
    char *resp = NULL;
    gosr_error err;
    char addr[64]; /* --node, or the listen address in DIR/mesh.json */
    snprintf(addr, sizeof addr, "%s", o->node ? o->node : "");
    int rc = !text ? gosr_error_set(&err, GOSR_ENOMEM, "oom", "request")
             : o->node ? GOSR_OK
                       : cli_mesh_addr(o->data, addr, sizeof addr, &err);
    if (rc == GOSR_OK)
        rc = gosr_mesh_ctl(addr, text, timeout_ms, &resp, &err);
    free(text);
    if (rc != GOSR_OK)
        return cli_report_error(o->json, &err, rc, CLI_EXIT_FAIL);
    json_t *j = json_loads(resp, 0, NULL);
    gosr_free(resp);
    bool ok = json_is_true(json_object_get(j, "ok"));
    if (!ok && !o->json)
        fprintf(stderr, "gosr mesh: %s: %s\n",
                json_string_value(json_object_get(j, "reason")),
                json_string_value(json_object_get(j, "detail")));
    if (o->json) {
        cli_print_json(j); /* releases it */
    } else {
        if (ok)
            mesh_print(op, j);
        json_decref(j);
    }
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int run_with_id(const mesh_opts *o, const char *op)
{
    if (o->npos != 2)
        return cli_usage_error("%s needs an ID", op);
    json_t *req = json_pack("{s:s,s:s}", "op", op, "id", o->pos[1]);
    unsigned tmo = 0;
    if (num(o->timeout, 3600000, &tmo) != GOSR_OK)
        return cli_usage_error("--timeout must be milliseconds");
    if (strcmp(op, "fetch") == 0) {
        if (o->out)
            json_object_set_new(req, "out", json_string(o->out));
        if (tmo)
            json_object_set_new(req, "timeout_ms", json_integer(tmo));
    }
    return call(o, req, tmo ? tmo + 30000 : 600000);
}

static int run_publish(const mesh_opts *o)
{
    unsigned rf = 0;
    if (o->npos != 2)
        return cli_usage_error("publish needs a PATH");
    if (num(o->rf, 16, &rf) != GOSR_OK)
        return cli_usage_error("--rf must be 0..16");
    char *abs = realpath(o->pos[1], NULL);
    json_t *req = json_pack("{s:s,s:s,s:i}", "op", "publish", "path",
                            abs ? abs : o->pos[1], "rf", (int)rf);
    free(abs);
    return call(o, req, 600000);
}

static int run_key(const mesh_opts *o)
{
    gosr_hash id;
    uint8_t key[20];
    char hex[41];
    if (o->npos != 2 || gosr_hash_from_hex(o->pos[1], &id) != GOSR_OK)
        return cli_usage_error("key needs a 64-hex-digit ID");
    gosr_mesh_provider_key(&id, key);
    gosr_hex_encode(key, 20, hex);
    printf("%s\n", hex);
    return CLI_EXIT_OK;
}

static int cmd_mesh(int argc, char **argv)
{
    mesh_opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *sub = o.npos > 0 ? o.pos[0] : NULL;
    if (!sub)
        return cli_usage_error("missing subcommand");
    if (strcmp(sub, "node") == 0)
        return run_node(&o);
    if (!strcmp(sub, "status") || !strcmp(sub, "peers") ||
        !strcmp(sub, "credits"))
        return call(&o, json_pack("{s:s}", "op", sub), 30000);
    if (!strcmp(sub, "replicas") || !strcmp(sub, "fetch") ||
        !strcmp(sub, "providers"))
        return run_with_id(&o, sub);
    if (strcmp(sub, "publish") == 0)
        return run_publish(&o);
    if (strcmp(sub, "key") == 0)
        return run_key(&o);
    return cli_usage_error("unknown subcommand '%s'", sub);
}

GOSR_CLI_COMMAND(mesh, "mesh", cmd_mesh,
                 "mesh node, peers, replicas, fetch, publish", MESH_USAGE)
