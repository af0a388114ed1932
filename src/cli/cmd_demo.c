/*
 * cmd_demo.c — `gosr demo`: runs the arena testbed end to end
 * (gosr_demo_run) with progress lines on stderr, then prints the terminal
 * summary (or the report JSON with --json). Design: docs/demo.md.
 */
#include "cli/cli.h"
#include "gosr/demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "10s", "1500ms", "2m" or plain seconds -> milliseconds. */
static int parse_duration(const char *s, uint64_t *ms)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || v == 0 || v > 86400000ull)
        return GOSR_EINVAL;
    if (!*end || strcmp(end, "s") == 0)
        *ms = v * 1000;
    else if (strcmp(end, "ms") == 0)
        *ms = v;
    else if (strcmp(end, "m") == 0)
        *ms = v * 60000;
    else
        return GOSR_EINVAL;
    return *ms >= 1000 && *ms <= 86400000ull ? GOSR_OK : GOSR_EINVAL;
}

static int cmd_demo(int argc, char **argv)
{
    const char *dur = NULL, *out = NULL, *bots = NULL, *seed = NULL,
               *game = NULL;
    bool json = false;
    cli_opt opts[] = {{"duration", &dur, NULL}, {"out", &out, NULL},
                      {"bots", &bots, NULL},    {"seed", &seed, NULL},
                      {"game", &game, NULL},    {"json", NULL, &json},
                      {NULL, NULL, NULL}};
    int npos = 0;
    int rc = cli_parse(argc, argv, opts, NULL, 0, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    gosr_demo_config cfg = {.out_dir = out, .game_dir = game,
                            .progress = stderr};
    uint64_t v = 0;
    if (dur && parse_duration(dur, &cfg.duration_ms) != GOSR_OK)
        return cli_usage_error("bad --duration %s (e.g. 10s, 1500ms, 2m; "
                               "at least 1s)", dur);
    if (bots) {
        if (cli_parse_u64(bots, &v) != GOSR_OK || v < 1 || v > 5000)
            return cli_usage_error("bad --bots %s (1..5000)", bots);
        cfg.bots = (uint32_t)v;
    }
    if (seed) {
        if (cli_parse_u64(seed, &v) != GOSR_OK)
            return cli_usage_error("bad --seed %s", seed);
        cfg.seed = v;
    }
    json_t *report = NULL;
    gosr_error err = {0};
    rc = gosr_demo_run(&cfg, &report, &err);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    if (json)
        cli_print_json(json_incref(report));
    else
        gosr_demo_print_summary(report, stdout);
    json_decref(report);
    return CLI_EXIT_OK;
}

GOSR_CLI_COMMAND(demo, "demo", cmd_demo,
                 "run the arena testbed end to end and write a report",
                 "gosr demo [--duration 60s] [--out DIR] [--bots N] "
                 "[--seed N] [--game DIR] [--json]\n"
                 "  packs and publishes games/arena on an in-process node, "
                 "installs it on\n  a second node through the mesh, "
                 "runs bots, hot-swaps arena.economy,\n  rolls it back, and "
                 "writes DIR/report.html and DIR/report.json\n  (DIR "
                 "defaults to ./gosr-demo)")
