/*
 * cli.c — subcommand table, option parsing and output helpers shared by
 * every `gosr` subcommand. Design: docs/cli.md.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COMMANDS 96

typedef struct cli_command {
    const char *name;    /* subcommand word */
    cli_run_fn run;      /* entry point */
    const char *summary; /* one line for `gosr help` */
    const char *usage;   /* full usage text */
} cli_command;

static cli_command g_cmds[MAX_COMMANDS];
static int g_ncmds;
static const cli_command *g_current; /* the running subcommand */

void cli_register(const char *name, cli_run_fn run, const char *summary,
                  const char *usage)
{
    if (g_ncmds < MAX_COMMANDS)
        g_cmds[g_ncmds++] = (cli_command){name, run, summary, usage};
}

static int cmd_compare(const void *a, const void *b)
{
    return strcmp(((const cli_command *)a)->name,
                  ((const cli_command *)b)->name);
}

static const cli_command *find_command(const char *name)
{
    for (int i = 0; i < g_ncmds; i++)
        if (strcmp(g_cmds[i].name, name) == 0)
            return &g_cmds[i];
    return NULL;
}

static void print_help(FILE *out)
{
    qsort(g_cmds, (size_t)g_ncmds, sizeof g_cmds[0], cmd_compare);
    fprintf(out, "gosr — game operating system runtime\n\n"
                 "usage: gosr COMMAND [ARGS...]\n\ncommands:\n");
    for (int i = 0; i < g_ncmds; i++)
        fprintf(out, "  %-10s %s\n", g_cmds[i].name, g_cmds[i].summary);
    fprintf(out, "\n`gosr help COMMAND` shows a command's usage. "
                 "Docs: docs/cli.md\n");
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gosr %s: ", g_current ? g_current->name : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", g_current ? g_current->usage : "gosr");
    return CLI_EXIT_USAGE;
}

static const cli_opt *find_opt(const cli_opt *opts, const char *name,
                               size_t len)
{
    for (const cli_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

int cli_parse(int argc, char **argv, const cli_opt *opts,
              const char **positional, int maxpos, int *npos)
{
    bool only_pos = false;
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            if (*npos >= maxpos)
                return cli_usage_error("unexpected argument '%s'", a);
            positional[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = find_opt(opts, name, len);
        if (!o)
            return cli_usage_error("unknown option '%s'", a);
        if (o->flag) {
            if (eq)
                return cli_usage_error("option '--%s' takes no value",
                                       o->name);
            *o->flag = true;
        } else if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            return cli_usage_error("option '--%s' needs a value", o->name);
        }
    }
    return CLI_EXIT_OK;
}

int cli_report_error(bool json, const gosr_error *err, int status,
                     int exit_code)
{
    const char *reason = err && err->reason[0] ? err->reason
                                               : gosr_status_name(status);
    const char *detail = err && err->detail[0] ? err->detail
                                               : gosr_strerror(status);
    if (json) {
        cli_print_json(json_pack("{s:b, s:s, s:s, s:s}", "ok", 0, "status",
                                 gosr_status_name(status), "reason", reason,
                                 "detail", detail));
    } else {
        fprintf(stderr, "gosr %s: %s: %s\n",
                g_current ? g_current->name : "", reason, detail);
    }
    return exit_code;
}

void cli_print_json(json_t *v)
{
    if (!v)
        return;
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (s) {
        printf("%s\n", s);
        free(s);
    }
    json_decref(v);
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return GOSR_EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return GOSR_EINVAL;
    *out = v;
    return GOSR_OK;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return GOSR_EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return GOSR_EINVAL;
    static const struct { const char *sfx; unsigned shift; } units[] = {
        {"", 0}, {"K", 10}, {"k", 10}, {"KiB", 10}, {"M", 20}, {"m", 20},
        {"MiB", 20}, {"G", 30}, {"g", 30}, {"GiB", 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].sfx) != 0)
            continue;
        if (v > (UINT64_MAX >> units[i].shift))
            return GOSR_EINVAL;
        *out = (uint64_t)v << units[i].shift;
        return GOSR_OK;
    }
    return GOSR_EINVAL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 ||
        strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) {
            const cli_command *c = find_command(argv[2]);
            if (c) {
                printf("%s\n\nusage: %s\n", c->summary, c->usage);
                return CLI_EXIT_OK;
            }
        }
        print_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("gosr 0.1.0\n");
        return CLI_EXIT_OK;
    }
    g_current = find_command(argv[1]);
    if (!g_current) {
        fprintf(stderr, "gosr: unknown command '%s' (see `gosr help`)\n",
                argv[1]);
        return CLI_EXIT_USAGE;
    }
    return g_current->run(argc - 1, argv + 1);
}
