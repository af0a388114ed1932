/*
 * cmd_node_install.c — `gosr install PACKAGE [--activate]`: asks a running
 * mesh node (gosr serve --listen) to fetch a module version's package from
 * the mesh, verify it against its trust root and record it, all or nothing
 * (POST /v1/packages); and `gosr pledge PACKAGE --rf N` to set the factor
 * the mesh keeps a package at (POST /v1/packages/{package}/pledge).
 * Design: docs/kernel.md ("Mesh packages", "CLI").
 */
#include "cli/cli_node.h"
#include "gosr/mesh.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define INSTALL_USAGE                                                          \
    "gosr install PACKAGE [--activate] [--wait MS] [--progress] (--data DIR " \
    "| --node URL --token FILE) [--json]"
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

/* Progress of the node's fetch, read from its mesh (--data DIR only). */
typedef struct install_progress {
    char addr[64];        /* the node's mesh address (DIR/mesh.json) */
    const char *package;  /* root being fetched */
    atomic_bool done;     /* the request returned */
    bool printed;         /* a line is on stderr */
    bool started;         /* thread is running */
    pthread_t thread;     /* the poller */
} install_progress;

/* One status poll: prints the job's bytes and pending objects, if any. */
static void progress_poll(install_progress *p)
{
    char *resp = NULL;
    gosr_error e = {0};
    if (gosr_mesh_ctl(p->addr, "{\"op\":\"status\"}", 2000, &resp, &e) !=
        GOSR_OK)
        return;
    json_t *j = json_loads(resp, 0, NULL), *job;
    size_t i;
    json_array_foreach(json_object_get(j, "jobs"), i, job) {
        if (strcmp(json_string_value(json_object_get(job, "root")) ?: "",
                   p->package) != 0)
            continue;
        fprintf(stderr, "\rgosr install: %.1f MiB received, %lld objects "
                "pending   ",
                (double)json_integer_value(json_object_get(job, "bytes")) /
                    (1 << 20),
                (long long)json_integer_value(json_object_get(job, "pending")));
        p->printed = true;
    }
    json_decref(j);
    gosr_free(resp);
}

static void *progress_main(void *arg)
{
    install_progress *p = arg;
    for (int tick = 0; !atomic_load(&p->done); tick++) {
        nanosleep(&(struct timespec){0, 100000000}, NULL);
        if (tick % 10 == 9) /* once a second */
            progress_poll(p);
    }
    if (p->printed)
        fputc('\n', stderr);
    return NULL;
}

/* cli_node_args.on_reply: ends the progress line before any output. */
static void progress_stop(void *ud)
{
    install_progress *p = ud;
    atomic_store(&p->done, true);
    if (p->started)
        pthread_join(p->thread, NULL);
    p->started = false;
}

/* Starts the progress thread when the node is local and it is wanted. */
static void progress_start(cli_node_args *a, const char *package, bool want,
                           install_progress *p)
{
    a->on_reply = progress_stop;
    a->on_reply_ud = p;
    gosr_error e = {0};
    if (!want || !a->data ||
        cli_mesh_addr(a->data, p->addr, sizeof p->addr, &e) != GOSR_OK)
        return;
    p->package = package;
    p->started = pthread_create(&p->thread, NULL, progress_main, p) == 0;
}

static int cmd_install(int argc, char **argv)
{
    cli_node_args a = {.timeout_ms = INSTALL_TIMEOUT_MS};
    bool json = false, activate = false, progress = false;
    const char *pos[1], *wait = NULL;
    int npos;
    uint64_t wait_ms = 0;
    cli_opt opts[] = {CLI_NODE_OPTS(a),
                      {"json", NULL, &json},
                      {"activate", NULL, &activate},
                      {"wait", &wait, NULL},
                      {"progress", NULL, &progress},
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
    install_progress pr = {0};
    progress_start(&a, pos[0], progress || (!json && isatty(2)), &pr);
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
