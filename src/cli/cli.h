/*
 * cli.h — shared pieces of the `gosr` command: subcommand registration
 * (each src/cli/cmd_*.c registers its own with GOSR_CLI_COMMAND, so adding a
 * command edits no shared file), option parsing, and uniform error and
 * --json output. Design: docs/cli.md.
 *
 * Exit codes: 0 ok, 1 failure, 2 usage, 3 rejected (verification), 4 script
 * fault (sandbox).
 */
#ifndef GOSR_CLI_H
#define GOSR_CLI_H

#include "gosr/base.h"

#include <jansson.h>
#include <stdbool.h>

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_REJECTED = 3,
    CLI_EXIT_FAULT = 4,
};

typedef int (*cli_run_fn)(int argc, char **argv);

void cli_register(const char *name, cli_run_fn run, const char *summary,
                  const char *usage);

/* Registers a subcommand: `gosr NAME ...` calls fn(argc, argv) with argv[0]
 * = NAME. `usage` is printed by `gosr help NAME` and on usage errors. */
#define GOSR_CLI_COMMAND(id, name, fn, summary, usage)                         \
    __attribute__((constructor)) static void cli_register_##id(void)           \
    {                                                                          \
        cli_register(name, fn, summary, usage);                                \
    }

/* One option of a subcommand. Exactly one of `value` (takes an argument)
 * or `flag` (boolean) is set. A repeated option keeps the last value. */
typedef struct cli_opt {
    const char *name;   /* long name without dashes, e.g. "json" */
    const char **value; /* where to store the argument, or NULL */
    bool *flag;         /* set to true when present, or NULL */
} cli_opt;

/* Parses argv[1..] into options (--name VALUE, --name=VALUE, --flag) and up
 * to maxpos positional arguments (a lone "-" is positional; "--" ends
 * options). On an unknown option, a missing value or too many positionals
 * prints a message and the command's usage to stderr and returns
 * CLI_EXIT_USAGE; else CLI_EXIT_OK. Strings are borrowed from argv. */
int cli_parse(int argc, char **argv, const cli_opt *opts,
              const char **positional, int maxpos, int *npos);

/* Prints a usage error for the current command and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports a failure: with json, prints {"ok":false,"status":..,"reason":..,
 * "detail":..} to stdout; else "gosr CMD: reason: detail" to stderr.
 * Returns `exit_code`. */
int cli_report_error(bool json, const gosr_error *err, int status,
                     int exit_code);

/* Prints a JSON value (compact, sorted keys, newline) to stdout and
 * releases it. */
void cli_print_json(json_t *v);

/* Parses a decimal size with optional suffix (K, M, G, KiB, MiB, GiB, k, m,
 * g; powers of 1024). */
int cli_parse_size(const char *s, uint64_t *out);
/* Parses a non-negative integer. */
int cli_parse_u64(const char *s, uint64_t *out);

#endif /* GOSR_CLI_H */
