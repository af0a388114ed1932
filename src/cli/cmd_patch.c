/*
 * cmd_patch.c — `gosr patch submit|status|list|approve|reject|rollback|
 * advance` against a running node's patch endpoints (POST /v1/patches,
 * GET /v1/patches[/{id}], POST /v1/patches/{id}/approve|reject,
 * POST /v1/patches/rollback, POST /v1/patches/advance). Exit 3 when the
 * node rejects (HTTP 422). Design: docs/patch.md ("CLI").
 */
#include "cli/cli_node.h"
#include "gosr/crypto.h"
#include "gosr/gmod.h"

#include <stdio.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define PATCH_USAGE                                                            \
    "gosr patch submit FILE.gmod | status ID | list | approve ID | "           \
    "reject ID | rollback [--to ID] | advance  [--reason TEXT] "               \
    "(--data DIR | --node URL --token FILE) [--json]\n"                        \
    "       gosr patch generate --goal TEXT --key DIR --cert FILE "            \
    "[--version V] [--out DIR] (--data DIR | --node URL --token FILE) "        \
    "[--json]"

static int show(json_t *reply, bool json, const char *sub);

/* ---- generate: patch_author (ghost tier) -> pack -> submit ----------------
 */

/* Runs `gosr ai ask patch_author --input JSON --out DIR` as a child (no
 * shell: the goal is passed as one argv string). */
static int ask_author(const char *goal, const char *version, const char *dir)
{
    json_t *in = json_pack("{s:s, s:s, s:s}", "goal", goal, "target_id",
                           "arena", "version", version);
    char *js = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    pid_t pid = fork();
    if (pid == 0) {
        char *av[] = {"gosr",         "ai",        "ask",
                      "patch_author", "--input",   js,
                      "--out",        (char *)dir, NULL};
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        execv("/proc/self/exe", av);
        _exit(127);
    }
    int st = 0;
    if (pid > 0)
        waitpid(pid, &st, 0);
    free(js);
    return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Sets parent_patch_id in DIR/gmod.json to the node's active patch. */
static int set_parent(const char *dir, const char *active)
{
    char *p = gosr_asprintf("%s/gmod.json", dir);
    json_t *j = json_load_file(p, 0, NULL);
    int rc = -1;
    if (j) {
        json_object_set_new(j, "parent_patch_id",
                            active && active[0] ? json_string(active)
                                                : json_null());
        rc = json_dump_file(j, p, JSON_INDENT(2));
    }
    json_decref(j);
    gosr_free(p);
    return rc;
}

static int pack_dir(const char *dir, const char *key, const char *cert,
                    const char *out, bool json)
{
    gosr_keypair kp;
    gosr_cert c;
    gosr_error err = {0};
    int rc = gosr_keypair_load(key, &kp, &err);
    if (rc == GOSR_OK)
        rc = gosr_cert_load(cert, &c, &err);
    gosr_gmod_pack_opts o = {.key = &kp, .chain = &c, .nchain = 1};
    if (rc == GOSR_OK)
        rc = gosr_gmod_pack(dir, &o, out, &err);
    sodium_memzero(&kp, sizeof kp);
    return rc ? cli_report_error(json, &err, rc, CLI_EXIT_FAIL) : CLI_EXIT_OK;
}

static int generate(const cli_node_args *a, bool json, const char *goal,
                    const char *version, const char *key, const char *cert,
                    const char *outdir)
{
    if (!goal || !key || !cert)
        return cli_usage_error("generate needs --goal, --key and --cert");
    json_t *list = NULL, *reply = NULL;
    int rc = cli_node_call(a, json, "GET", "/v1/patches", NULL, NULL, &list);
    if (rc != CLI_EXIT_OK)
        return rc;
    char tmpl[] = "/tmp/gosr-patch-gen.XXXXXX";
    char *base = outdir ? NULL : mkdtemp(tmpl);
    char *dir = gosr_asprintf("%s/patch", outdir ? outdir : base);
    char *bundle = gosr_asprintf("%s.gmod", dir);
    if (ask_author(goal, version ? version : "0.1.1", dir) != 0 ||
        set_parent(dir, json_string_value(json_object_get(list, "active"))))
        rc = cli_usage_error("patch_author did not produce a patch");
    if (rc == CLI_EXIT_OK)
        rc = pack_dir(dir, key, cert, bundle, json);
    if (rc == CLI_EXIT_OK)
        rc =
            cli_node_call(a, json, "POST", "/v1/patches", NULL, bundle, &reply);
    if (rc == CLI_EXIT_OK) {
        json_object_set_new(reply, "bundle", json_string(bundle));
        rc = show(reply, json, "generate");
    }
    json_decref(list);
    if (base) {
        char *rm = gosr_asprintf("rm -rf '%s'", base);
        if (system(rm) != 0)
            rc = rc ? rc : CLI_EXIT_FAIL;
        gosr_free(rm);
    }
    gosr_free(dir);
    gosr_free(bundle);
    return rc;
}

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
           json_string_value(json_array_get(json_object_get(p, "reasons"), 0))
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
    const char *pos[2], *to = NULL, *reason = NULL, *goal = NULL,
                        *version = NULL, *key = NULL, *cert = NULL, *out = NULL;
    int npos;
    cli_opt opts[] = {CLI_NODE_OPTS(a),      {"json", NULL, &json},
                      {"to", &to, NULL},     {"reason", &reason, NULL},
                      {"goal", &goal, NULL}, {"version", &version, NULL},
                      {"key", &key, NULL},   {"cert", &cert, NULL},
                      {"out", &out, NULL},   {0}};
    int rc = cli_parse(argc, argv, opts, pos, 2, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos < 1)
        return cli_usage_error("expected a subcommand");
    if (!strcmp(pos[0], "generate"))
        return generate(&a, json, goal, version, key, cert, out);
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
