/*
 * cmd_serve.c — `gosr serve`: runs a node on a data directory (store,
 * registry, ledger, world, tick thread, admin HTTP API on 127.0.0.1) until
 * SIGTERM or SIGINT, which finish the current tick, flush the ledger and
 * remove DIR/admin.json. Signals are blocked before any thread starts and
 * taken with sigwait on the main thread. The patch pipeline (docs/patch.md)
 * is opened on the node before it starts. With --listen the node joins the
 * mesh (docs/mesh.md, "Embedded in gosr serve"). Design: docs/kernel.md
 * ("Node", "CLI").
 */
#include "cli/cli.h"
#include "gosr/crypto.h"
#include "gosr/kernel.h"
#include "gosr/patch.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define SERVE_USAGE                                                            \
    "gosr serve --data DIR --trust ROOT.pub [--admin 127.0.0.1:PORT] "         \
    "[--config FILE] [--rate HZ] [--quarantine N] [--session LOG] "           \
    "[--ai-config FILE] "                                                      \
    "[--patch-ingest on|off] [--listen IP:PORT [--bootstrap HOST:PORT,...] "   \
    "[--dht-port N] [--tier hot|cold] [--rf N]] [--json]"

/* Values of a --config JSON file ({"rate_hz", "quarantine_ticks",
 * "capacity", "kv_capacity", "seed", "granted_caps", "revocations",
 * "checkpoint_ticks" (default 300, 0 = no checkpoints),
 * "admin", "mode": "deterministic"|"production", "fuel", "max_upload",
 * "ai_config"}). */
static int load_config(const char *path, gosr_node_config *c, json_t **keep,
                       bool json)
{
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    gosr_error err = {0};
    if (!o || !json_is_object(o)) {
        json_decref(o);
        gosr_error_set(&err, GOSR_EFORMAT, "config_invalid", "%s:%d: %s",
                       path, je.line, o ? "not an object" : je.text);
        return cli_report_error(json, &err, GOSR_EFORMAT, CLI_EXIT_USAGE);
    }
    json_t *v;
    if ((v = json_object_get(o, "rate_hz")))
        c->rate_hz = (uint32_t)json_integer_value(v);
    if ((v = json_object_get(o, "quarantine_ticks")))
        c->quarantine_ticks = (uint32_t)json_integer_value(v);
    if ((v = json_object_get(o, "capacity")))
        c->capacity = (uint32_t)json_integer_value(v);
    if ((v = json_object_get(o, "kv_capacity")))
        c->kv_capacity = (uint32_t)json_integer_value(v);
    if ((v = json_object_get(o, "seed")))
        c->seed = (uint64_t)json_integer_value(v);
    if ((v = json_object_get(o, "checkpoint_ticks"))) /* 0 = off */
        c->checkpoint_ticks = json_integer_value(v) > 0 &&
                                      json_integer_value(v) < UINT32_MAX
                                  ? (uint32_t)json_integer_value(v)
                                  : GOSR_NODE_CHECKPOINT_OFF;
    if ((v = json_object_get(o, "hash_ticks")))
        c->hash_ticks = json_is_true(v);
    if ((v = json_object_get(o, "fuel")))
        c->fuel = (uint64_t)json_integer_value(v);
    if ((v = json_object_get(o, "max_upload")))
        c->max_upload = (uint64_t)json_integer_value(v);
    if ((v = json_object_get(o, "ai_config")) && !c->ai_config)
        c->ai_config = json_string_value(v);
    if ((v = json_object_get(o, "granted_caps")))
        c->granted_caps = json_string_value(v);
    if ((v = json_object_get(o, "revocations")))
        c->revocations = json_string_value(v);
    if ((v = json_object_get(o, "admin")) && !c->admin_listen)
        c->admin_listen = json_string_value(v);
    if ((v = json_object_get(o, "mode")) && json_is_string(v))
        c->mode = strcmp(json_string_value(v), "production") == 0
                      ? GOSR_SANDBOX_PRODUCTION
                      : GOSR_SANDBOX_DETERMINISTIC;
    *keep = o;
    return CLI_EXIT_OK;
}

static int parse_u32(const char *s, const char *what, uint32_t *out)
{
    uint64_t v;
    if (!s)
        return CLI_EXIT_OK;
    if (cli_parse_u64(s, &v) != GOSR_OK || v == 0 || v > 100000)
        return cli_usage_error("bad %s '%s'", what, s);
    *out = (uint32_t)v;
    return CLI_EXIT_OK;
}

/* The patch pipeline's settings: the "patch" object of --config
 * (docs/patch.md, "Configuration") and --patch-ingest off. */
static void patch_config(const json_t *o, gosr_patch_config *pc)
{
    json_t *v;
    if ((v = json_object_get(o, "replay_ticks")))
        pc->replay_ticks = (uint32_t)json_integer_value(v);
    if ((v = json_object_get(o, "canary_ticks")))
        pc->canary_ticks = (uint32_t)json_integer_value(v);
    if ((v = json_object_get(o, "stage_ticks")))
        pc->stage_ticks = (uint32_t)json_integer_value(v);
    if ((v = json_object_get(o, "keep_known_good")))
        pc->keep_known_good = (uint32_t)json_integer_value(v);
    if ((v = json_object_get(o, "manual_approval")))
        pc->manual_approval = json_is_true(v);
    if ((v = json_object_get(o, "webhook")))
        pc->webhook_url = json_string_value(v);
    if ((v = json_object_get(o, "max_fault_rate")))
        pc->th.max_fault_rate = json_number_value(v);
    if ((v = json_object_get(o, "max_economy_drift")))
        pc->th.max_economy_drift = json_number_value(v);
    if ((v = json_object_get(o, "max_quest_deviation")))
        pc->th.max_quest_deviation = json_number_value(v);
    if ((v = json_object_get(o, "min_quest_samples")))
        pc->th.min_quest_samples = json_number_value(v);
}

/* Mesh flags of serve (strings borrowed from argv). */
typedef struct serve_mesh {
    const char *listen, *bootstrap, *dht_port, *tier, *rf; /* flags */
} serve_mesh;

static unsigned json_uint(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 && v <= 3600000 ? (unsigned)v : 0;
}

/* The mesh config from the flags and the "mesh" object of --config
 * ({"heartbeat_ms", "dead_ms", "repair_ms", "proof_ms", "announce_ms",
 * "piece_timeout_ms", "hot_threshold", "rf"}). */
static int mesh_config(const serve_mesh *f, const json_t *o,
                       gosr_mesh_config *mc)
{
    uint64_t port = 0, rf = json_uint(o, "rf");
    if ((f->dht_port && (cli_parse_u64(f->dht_port, &port) != GOSR_OK ||
                         port == 0 || port > 65535)) ||
        (f->rf && (cli_parse_u64(f->rf, &rf) != GOSR_OK || rf > 16)))
        return cli_usage_error("--dht-port is 1..65535, --rf 0..16");
    if (f->tier && strcmp(f->tier, "hot") && strcmp(f->tier, "cold"))
        return cli_usage_error("--tier must be hot or cold");
    *mc = (gosr_mesh_config){
        .listen = f->listen,
        .bootstrap = f->bootstrap,
        .dht_port = (uint16_t)port,
        .tier = f->tier && !strcmp(f->tier, "hot") ? GOSR_MESH_TIER_HOT
                                                   : GOSR_MESH_TIER_COLD,
        .rf = (unsigned)rf,
        .heartbeat_ms = json_uint(o, "heartbeat_ms"),
        .dead_ms = json_uint(o, "dead_ms"),
        .repair_ms = json_uint(o, "repair_ms"),
        .proof_ms = json_uint(o, "proof_ms"),
        .announce_ms = json_uint(o, "announce_ms"),
        .piece_timeout_ms = json_uint(o, "piece_timeout_ms"),
        .hot_threshold = json_uint(o, "hot_threshold"),
    };
    return CLI_EXIT_OK;
}

/* Joins the mesh when --listen is given (c->mesh = mc). */
static int with_mesh(const serve_mesh *f, const json_t *config,
                     gosr_mesh_config *mc, gosr_node_config *c)
{
    if (!f->listen) {
        if (f->bootstrap || f->dht_port || f->tier || f->rf)
            return cli_usage_error("--bootstrap, --dht-port, --tier and --rf "
                                   "need --listen");
        return CLI_EXIT_OK;
    }
    int rc = mesh_config(f, json_object_get(config, "mesh"), mc);
    if (rc == CLI_EXIT_OK)
        c->mesh = mc;
    return rc;
}

static int run_node(gosr_node_config *c, gosr_patch_config *pc, bool json)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* threads inherit the mask */
    gosr_node *n = NULL;
    gosr_error err = {0};
    gosr_patch_mgr *pm = NULL;
    int rc = gosr_node_open(c, &n, &err);
    if (rc == GOSR_OK) /* the patch pipeline (docs/patch.md) */
        rc = gosr_patch_open(n, pc, &pm, &err);
    if (rc == GOSR_OK)
        rc = gosr_node_start(n, &err);
    if (rc != GOSR_OK) {
        gosr_patch_close(pm);
        gosr_node_close(n);
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    }
    const char *mesh = c->mesh ? c->mesh->listen : NULL;
    if (json)
        cli_print_json(json_pack("{s:b, s:i, s:s, s:s?}", "ok", 1, "port",
                                 (int)gosr_node_admin_port(n), "data",
                                 c->data_dir, "mesh", mesh));
    else
        printf("gosr node serving %s on http://127.0.0.1:%u%s%s\n",
               c->data_dir, (unsigned)gosr_node_admin_port(n),
               mesh ? ", mesh on " : "", mesh ? mesh : "");
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    gosr_node_stop(n);
    gosr_patch_close(pm);
    gosr_node_close(n);
    return CLI_EXIT_OK;
}

static int cmd_serve(int argc, char **argv)
{
    const char *data = NULL, *trust = NULL, *admin = NULL, *config = NULL,
               *rate = NULL, *quar = NULL, *session = NULL, *ingest = NULL,
               *ai = NULL;
    serve_mesh sm = {0};
    bool json = false;
    const char *pos[1];
    int npos;
    cli_opt opts[] = {{"data", &data, NULL},       {"trust", &trust, NULL},
                      {"admin", &admin, NULL},     {"config", &config, NULL},
                      {"rate", &rate, NULL},       {"quarantine", &quar, NULL},
                      {"session", &session, NULL}, {"json", NULL, &json},
                      {"patch-ingest", &ingest, NULL},
                      {"ai-config", &ai, NULL},
                      {"listen", &sm.listen, NULL},
                      {"bootstrap", &sm.bootstrap, NULL},
                      {"dht-port", &sm.dht_port, NULL},
                      {"tier", &sm.tier, NULL},
                      {"rf", &sm.rf, NULL},
                      {0}};
    if (cli_parse(argc, argv, opts, pos, 0, &npos) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    if (!data || !trust)
        return cli_usage_error("--data and --trust are required");
    uint8_t pk[32];
    gosr_error err = {0};
    int rc = gosr_pubkey_load(trust, pk, &err);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    gosr_node_config c = {.data_dir = data,
                          .trust_pk = pk,
                          .admin_listen = admin,
                          .session_log = session,
                          .ai_config = ai,
                          .hash_ticks = true};
    json_t *keep = NULL;
    if (config && (rc = load_config(config, &c, &keep, json)) != CLI_EXIT_OK)
        return rc;
    gosr_patch_config pc = {.trust_pk = pk};
    gosr_revocations *rl = NULL; /* the patch verifier's copy */
    if (keep)
        patch_config(json_object_get(keep, "patch"), &pc);
    if (c.revocations &&
        gosr_revocations_load(c.revocations, pk, &rl, &err) != GOSR_OK) {
        json_decref(keep);
        return cli_report_error(json, &err, err.status, CLI_EXIT_FAIL);
    }
    pc.revoked = rl;
    pc.ingest_off_at_start = ingest && !strcmp(ingest, "off");
    gosr_mesh_config mc;
    if (ingest && strcmp(ingest, "on") && strcmp(ingest, "off"))
        rc = cli_usage_error("--patch-ingest takes on or off");
    else if ((rc = with_mesh(&sm, keep, &mc, &c)) == CLI_EXIT_OK &&
             (rc = parse_u32(rate, "--rate", &c.rate_hz)) == CLI_EXIT_OK &&
             (rc = parse_u32(quar, "--quarantine", &c.quarantine_ticks)) ==
                 CLI_EXIT_OK)
        rc = run_node(&c, &pc, json);
    gosr_revocations_free(rl);
    json_decref(keep);
    return rc;
}

GOSR_CLI_COMMAND(serve, "serve", cmd_serve,
                 "run a node: store, registry, kernel and admin API",
                 SERVE_USAGE)
