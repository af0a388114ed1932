/*
 * cmd_ai.c — `gosr ai`: ask a capability (`ai ask`), show breakers, tiers
 * and health (`ai status`), verify a provenance log (`ai verify-log`), and
 * run the loopback LLM server or the HTTP front door for manual testing
 * (`ai serve-mock`, `ai serve`). With no --config only the deterministic
 * tier runs, offline.
 *
 * Design: docs/ai.md ("CLI").
 */
#include "cli/cli.h"
#include "ai/ai_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AI_USAGE                                                               \
    "gosr ai ask CAPABILITY [--input JSON|@FILE] [--seed N] [--config FILE]\n" \
    "                       [--user ID] [--tier free|premium|enterprise] [--json]\n" \
    "                       [--out DIR]   (patch_author: write gmod.json + files)\n" \
    "       gosr ai status [--config FILE] [--json]\n"                        \
    "       gosr ai verify-log FILE [--json]\n"                               \
    "       gosr ai serve-mock [--port N]\n"                                  \
    "       gosr ai serve [--config FILE] [--port N]\n"                       \
    "capabilities: npc_dialog quest_gen map_gen economy_tune "               \
    "moderation_classify patch_author"

typedef struct ai_opts {
    const char *input, *seed, *config, *user, *tier, *port, *out; /* values */
    bool json;                                              /* --json */
} ai_opts;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

/* Creates the router from --config (or none: ghost tier only). */
static int open_router(const ai_opts *o, gosr_ai_router **r, gosr_error *e)
{
    gosr_ai_router_config cfg = {0};
    json_t *keep = NULL;
    int rc = o->config ? gosr_ai_config_load(o->config, &cfg, &keep, e) : GOSR_OK;
    if (!rc)
        rc = gosr_ai_router_create(&cfg, r, e);
    json_decref(keep);
    return rc;
}

static char *read_input(const char *arg, gosr_error *e)
{
    if (!arg)
        return gosr_strdup("{}");
    if (arg[0] != '@')
        return gosr_strdup(arg);
    uint8_t *d = NULL;
    size_t n = 0;
    if (gosr_file_read_all(arg + 1, 1 << 20, &d, &n)) {
        gosr_error_set(e, GOSR_EIO, "input_read", "cannot read %s", arg + 1);
        return NULL;
    }
    return (char *)d;
}

/* Writes a patch_author answer as a module directory: DIR/gmod.json (the
 * manifest, 2-space indented, sorted keys) and every file it carries. The
 * paths were already checked to be safe relative .lua paths. */
static int write_bundle(const char *dir, const char *answer, gosr_error *e)
{
    json_t *o = json_loads(answer, 0, NULL);
    char *m = o ? json_dumps(json_object_get(o, "manifest"),
                             JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    int rc = m ? gosr_mkdir_p(dir, 0755) : GOSR_EFORMAT;
    char *path = NULL;
    if (!rc) {
        path = gosr_asprintf("%s/gmod.json", dir);
        rc = path ? gosr_file_write_atomic(path, m, strlen(m), 0644) : GOSR_ENOMEM;
        gosr_free(path);
    }
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(o, "files"), i, f)
    {
        const char *t = json_string_value(json_object_get(f, "text"));
        if (rc || !t)
            break;
        path = gosr_asprintf("%s/%s", dir, json_string_value(json_object_get(f, "path")));
        rc = path ? gosr_file_write_atomic(path, t, strlen(t), 0644) : GOSR_ENOMEM;
        gosr_free(path);
    }
    free(m);
    json_decref(o);
    return rc ? gosr_error_set(e, rc, "bundle_write", "cannot write %s", dir) : GOSR_OK;
}

static int do_ask(const ai_opts *o, const char *capname)
{
    gosr_error e;
    gosr_error_clear(&e);
    gosr_ai_request q = {.user = o->user ? o->user : "cli"};
    uint64_t seed = 0;
    if (gosr_ai_cap_from_name(capname, &q.cap))
        return cli_usage_error("unknown capability '%s'", capname);
    if (o->out && q.cap != GOSR_AI_PATCH_AUTHOR)
        return cli_usage_error("--out is only for patch_author");
    if (o->seed && cli_parse_u64(o->seed, &seed))
        return cli_usage_error("--seed needs a non-negative integer");
    q.tier = GOSR_AI_TIER_ENTERPRISE;
    if (o->tier && gosr_ai_tier_from_name(o->tier, &q.tier))
        return cli_usage_error("unknown tier '%s'", o->tier);
    q.seed = seed;
    char *input = read_input(o->input, &e);
    if (!input)
        return cli_report_error(o->json, &e, GOSR_EIO, CLI_EXIT_FAIL);
    q.input = input;
    gosr_ai_router *r = NULL;
    char *out = NULL, prov[64] = "";
    int rc = open_router(o, &r, &e);
    if (!rc)
        rc = gosr_ai_router_ask(r, &q, &out, prov, &e);
    gosr_ai_router_destroy(r);
    gosr_free(input);
    if (!rc && o->out)
        rc = write_bundle(o->out, out, &e);
    if (rc) {
        gosr_free(out);
        return cli_report_error(o->json, &e, rc,
                                rc == GOSR_EFORMAT || rc == GOSR_ETOOBIG
                                    ? CLI_EXIT_REJECTED : CLI_EXIT_FAIL);
    }
    if (o->json)
        cli_print_json(json_pack("{s:b, s:s, s:s, s:I, s:o}", "ok", 1,
                                 "capability", capname, "provider", prov,
                                 "seed", (json_int_t)seed, "output",
                                 json_loads(out, 0, NULL)));
    else
        printf("%s\n", out);
    gosr_free(out);
    return CLI_EXIT_OK;
}

static int do_status(const ai_opts *o)
{
    gosr_error e;
    gosr_ai_router *r = NULL;
    int rc = open_router(o, &r, &e);
    if (rc)
        return cli_report_error(o->json, &e, rc, CLI_EXIT_FAIL);
    json_t *s = gosr_ai_router_status(r);
    gosr_ai_router_destroy(r);
    if (o->json) {
        json_object_set_new(s, "ok", json_true());
        cli_print_json(s);
        return CLI_EXIT_OK;
    }
    const char *k;
    json_t *v;
    printf("%-20s %-40s %s\n", "capability", "chain", "breakers");
    json_object_foreach(json_object_get(s, "capabilities"), k, v)
    {
        char chain[256] = "", br[256] = "";
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(v, "chain"), i, c)
        {
            size_t n = strlen(chain);
            snprintf(chain + n, sizeof chain - n, "%s%s", i ? " > " : "",
                     json_string_value(c));
        }
        const char *pk;
        json_t *pv;
        json_object_foreach(json_object_get(v, "breakers"), pk, pv)
        {
            size_t n = strlen(br);
            snprintf(br + n, sizeof br - n, "%s=%s ", pk,
                     json_string_value(json_object_get(pv, "state")));
        }
        printf("%-20s %-40s %s%s\n", k, chain, br[0] ? br : "-",
               json_is_true(json_object_get(v, "killed")) ? " KILLED" : "");
    }
    printf("\n%-12s %10s %10s %10s %10s %12s %8s\n", "tier", "user/s",
           "burst", "cap/s", "cap burst", "concurrency", "model");
    json_object_foreach(json_object_get(s, "tiers"), k, v)
    printf("%-12s %10.1f %10.1f %10.1f %10.1f %12lld %8s\n", k,
           json_number_value(json_object_get(v, "user_rate")),
           json_number_value(json_object_get(v, "user_burst")),
           json_number_value(json_object_get(v, "cap_rate")),
           json_number_value(json_object_get(v, "cap_burst")),
           (long long)json_integer_value(json_object_get(v, "concurrency")),
           json_string_value(json_object_get(v, "max_model_size")));
    json_decref(s);
    return CLI_EXIT_OK;
}

static int do_verify(const ai_opts *o, const char *path)
{
    gosr_error e;
    uint64_t n = 0;
    int rc = gosr_ai_provenance_verify(path, &n, &e);
    if (rc)
        return cli_report_error(o->json, &e, rc, CLI_EXIT_REJECTED);
    if (o->json)
        cli_print_json(json_pack("{s:b, s:I}", "ok", 1, "records", (json_int_t)n));
    else
        printf("provenance log ok: %llu records, chain intact\n",
               (unsigned long long)n);
    return CLI_EXIT_OK;
}

static bool open_directory(void *ud, const char *user, gosr_ai_tier *tier)
{
    (void)ud;
    *tier = !strncmp(user, "ent-", 4)   ? GOSR_AI_TIER_ENTERPRISE
            : !strncmp(user, "pro-", 4) ? GOSR_AI_TIER_PREMIUM
                                        : GOSR_AI_TIER_FREE;
    return true;
}

static int serve(const ai_opts *o, bool mock)
{
    uint64_t port = 0;
    gosr_error e;
    if (o->port && (cli_parse_u64(o->port, &port) || port > 65535))
        return cli_usage_error("--port needs 0..65535");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    ai_mock *m = NULL;
    ai_frontdoor *f = NULL;
    gosr_ai_router *r = NULL;
    int rc = mock ? ai__mock_start((uint16_t)port, &m, &e)
                  : open_router(o, &r, &e);
    if (!rc && !mock)
        rc = ai__frontdoor_start(r, open_directory, NULL, (uint16_t)port, &f, &e);
    if (rc) {
        gosr_ai_router_destroy(r);
        return cli_report_error(false, &e, rc, CLI_EXIT_FAIL);
    }
    printf("listening on http://127.0.0.1:%u (%s); Ctrl-C stops\n",
           mock ? ai__mock_port(m) : ai__frontdoor_port(f),
           mock ? "loopback LLM server" : "AI front door");
    fflush(stdout);
    while (!g_stop)
        pause();
    ai__frontdoor_stop(f);
    gosr_ai_router_destroy(r);
    ai__mock_stop(m);
    return CLI_EXIT_OK;
}

static int cmd_ai(int argc, char **argv)
{
    ai_opts o = {0};
    const char *pos[3];
    int npos = 0;
    cli_opt opts[] = {{"input", &o.input, NULL}, {"seed", &o.seed, NULL},
                      {"config", &o.config, NULL}, {"user", &o.user, NULL},
                      {"tier", &o.tier, NULL}, {"port", &o.port, NULL},
                      {"out", &o.out, NULL},
                      {"json", NULL, &o.json}, {NULL, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts, pos, 3, &npos);
    if (rc)
        return rc;
    if (npos == 0)
        return cli_usage_error("missing subcommand");
    if (!strcmp(pos[0], "ask") && npos == 2)
        return do_ask(&o, pos[1]);
    if (!strcmp(pos[0], "status") && npos == 1)
        return do_status(&o);
    if (!strcmp(pos[0], "verify-log") && npos == 2)
        return do_verify(&o, pos[1]);
    if (!strcmp(pos[0], "serve-mock") && npos == 1)
        return serve(&o, true);
    if (!strcmp(pos[0], "serve") && npos == 1)
        return serve(&o, false);
    return cli_usage_error("unknown or incomplete subcommand '%s'", pos[0]);
}

GOSR_CLI_COMMAND(ai, "ai", cmd_ai,
                 "AI core: ask a capability, breaker and tier status",
                 AI_USAGE)
