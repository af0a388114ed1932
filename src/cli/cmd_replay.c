/*
 * cmd_replay.c — `gosr replay LOG`: re-runs a recorded session with the
 * same systems and checks the world hash after every tick. Exit 0 when
 * every tick matches, 3 on divergence (with the first diverging tick), 1
 * when the log cannot be read. With --data DIR, a node's session (Lua
 * modules, systems "kernel.v1") is replayed with the bundles in DIR's
 * store. Design: docs/runtime.md ("Replay"), docs/kernel.md ("Replay").
 */
#include "cli/cli.h"
#include "gosr/kernel.h"
#include "gosr/runtime.h"

#include <stdio.h>

static void print_result(const char *path, const gosr_replay_result *r,
                         bool json)
{
    char exp[65], act[65];
    gosr_hash_hex(&r->expected, exp);
    gosr_hash_hex(&r->actual, act);
    if (json) {
        json_t *o = json_pack(
            "{s:b, s:s, s:I, s:I, s:b, s:s, s:s, s:s}", "ok", !r->diverged,
            "log", path, "ticks", (json_int_t)r->ticks_checked, "events",
            (json_int_t)r->events, "truncated_tail", r->truncated_tail,
            "systems", r->config.systems, "expected", exp, "actual", act);
        if (r->diverged)
            json_object_set_new(
                o, "first_divergent_tick",
                json_integer((json_int_t)r->first_divergent_tick));
        cli_print_json(o);
        return;
    }
    if (r->diverged) {
        printf("replay %s: DIVERGED at tick %llu\n  expected %s\n  actual   "
               "%s\n",
               path, (unsigned long long)r->first_divergent_tick, exp, act);
        return;
    }
    printf("replay %s: %llu ticks, %llu events, every hash matches%s\n"
           "final hash %s\n",
           path, (unsigned long long)r->ticks_checked,
           (unsigned long long)r->events,
           r->truncated_tail ? " (log ends in a partial record)" : "", act);
}

static int cmd_replay(int argc, char **argv)
{
    const char *pos[1];
    bool json = false;
    int npos;
    const char *data = NULL;
    cli_opt opts[] = {
        {"json", NULL, &json}, {"data", &data, NULL}, {NULL, NULL, NULL}};
    if (cli_parse(argc, argv, opts, pos, 1, &npos) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    if (npos != 1)
        return cli_usage_error("a session LOG is required");
    gosr_replay_result r;
    gosr_error err = {0};
    int rc = data ? gosr_node_replay(data, pos[0], &r, &err)
                  : gosr_replay_file(pos[0], NULL, &r, &err);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    print_result(pos[0], &r, json);
    return r.diverged ? CLI_EXIT_REJECTED : CLI_EXIT_OK;
}

GOSR_CLI_COMMAND(replay, "replay", cmd_replay,
                 "re-run a session log and check the world hash every tick",
                 "gosr replay LOG [--data NODE_DIR] [--json]")
