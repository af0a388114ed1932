/*
 * cmd_sandbox.c — `gosr sandbox run SCRIPT.lua`: runs a Lua script in a
 * fresh sandbox with the test host API (all test capability groups
 * granted) and prints its result, or its fault record. Exit 0 ok, 4 fault,
 * 2 usage, 1 other failure.
 * Design: docs/sandbox.md ("Command line").
 */
#include "cli/cli.h"
#include "gosr/sandbox.h"

#include <stdio.h>
#include <string.h>

static const char *const g_usage =
    "gosr sandbox run SCRIPT.lua [--fuel N] [--mem BYTES] [--deadline-ms N]"
    " [--mode deterministic|production] [--seed N] [--json]";

/* Parsed options of `sandbox run`. */
typedef struct run_opts {
    const char *fuel, *mem, *deadline, *mode, *seed; /* raw option values */
    bool json;                                       /* --json */
    const char *script;                              /* SCRIPT.lua */
} run_opts;

static int parse_config(const run_opts *o, gosr_sandbox_config *cfg)
{
    uint64_t v;
    if (o->fuel && (cli_parse_u64(o->fuel, &v) || v == 0))
        return cli_usage_error("bad --fuel '%s'", o->fuel);
    if (o->fuel)
        cfg->fuel = v;
    if (o->mem && (cli_parse_size(o->mem, &v) || v < 65536))
        return cli_usage_error("bad --mem '%s' (at least 64K)", o->mem);
    if (o->mem)
        cfg->mem_limit = v;
    if (o->deadline && (cli_parse_u64(o->deadline, &v) || v == 0 ||
                        v > 3600000))
        return cli_usage_error("bad --deadline-ms '%s'", o->deadline);
    if (o->deadline)
        cfg->deadline_ns = v * 1000000ull;
    if (o->seed && cli_parse_u64(o->seed, &v))
        return cli_usage_error("bad --seed '%s'", o->seed);
    if (o->seed)
        cfg->seed = v;
    if (!o->mode || strcmp(o->mode, "deterministic") == 0)
        cfg->mode = GOSR_SANDBOX_DETERMINISTIC;
    else if (strcmp(o->mode, "production") == 0)
        cfg->mode = GOSR_SANDBOX_PRODUCTION;
    else
        return cli_usage_error("bad --mode '%s'", o->mode);
    return CLI_EXIT_OK;
}

static json_t *fault_json(const gosr_sandbox_fault *f, int status)
{
    return json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:i}", "ok", 0,
                     "status", gosr_status_name(status), "reason",
                     gosr_sandbox_reason_name(f->reason), "where", f->where,
                     "message", f->message, "fuel_used",
                     (json_int_t)f->fuel_used, "mem_used",
                     (json_int_t)f->mem_used, "elapsed_ms",
                     (double)f->elapsed_ns / 1e6, "host_calls",
                     (int)f->host_calls);
}

static int report(gosr_sandbox *sb, int rc, const gosr_error *err,
                  const gosr_sbv *ret, bool json)
{
    size_t loglen;
    const char *log = gosr_sandbox_log(sb, &loglen);
    const gosr_sandbox_fault *f = gosr_sandbox_fault_get(sb);
    if (rc == GOSR_OK) {
        gosr_buf b = {0};
        gosr_sbv_format(ret, &b);
        const char *txt = b.data ? (const char *)b.data : "null";
        if (json) {
            json_t *v = json_pack("{s:b, s:o, s:I, s:I, s:s%}", "ok", 1,
                                  "result", json_loads(txt, JSON_DECODE_ANY,
                                                       NULL) ?: json_null(),
                                  "fuel_used",
                                  (json_int_t)gosr_sandbox_fuel_used(sb),
                                  "mem_used",
                                  (json_int_t)gosr_sandbox_mem_used(sb), "log",
                                  log, loglen);
            cli_print_json(v);
        } else {
            fwrite(log, 1, loglen, stderr);
            printf("%s\n", txt);
        }
        gosr_buf_free(&b);
        return CLI_EXIT_OK;
    }
    if (f->reason == GOSR_SB_OK) /* syntax or setup error: no record */
        return cli_report_error(json, err, rc,
                                rc == GOSR_EFORMAT ? CLI_EXIT_FAULT
                                                   : CLI_EXIT_FAIL);
    if (json) {
        cli_print_json(fault_json(f, rc));
    } else {
        fwrite(log, 1, loglen, stderr);
        fprintf(stderr,
                "gosr sandbox: fault %s at %s: %s (fuel %llu, mem %llu, "
                "%.1f ms)\n",
                gosr_sandbox_reason_name(f->reason),
                f->where[0] ? f->where : "?", f->message,
                (unsigned long long)f->fuel_used,
                (unsigned long long)f->mem_used, (double)f->elapsed_ns / 1e6);
    }
    return CLI_EXIT_FAULT;
}

static int run_script(const run_opts *o, gosr_sandbox_config *cfg)
{
    gosr_error err = {0};
    uint8_t *src = NULL;
    size_t len = 0;
    int rc = gosr_file_read_all(o->script, 16u << 20, &src, &len);
    if (rc != GOSR_OK) {
        gosr_error_set(&err, rc, "read_failed", "cannot read %s", o->script);
        return cli_report_error(o->json, &err, rc, CLI_EXIT_FAIL);
    }
    gosr_sandbox_testhost *th = NULL;
    gosr_sandbox *sb = NULL;
    int exit_code = CLI_EXIT_FAIL;
    rc = gosr_sandbox_testhost_create(&th);
    cfg->host = th ? gosr_sandbox_testhost_host(th) : NULL;
    cfg->declared_caps = cfg->granted_caps = GOSR_SANDBOX_TEST_CAPS;
    cfg->name = "cli";
    cfg->max_chunk = len + 1;
    if (rc == GOSR_OK)
        rc = gosr_sandbox_create(cfg, &sb, &err);
    if (rc != GOSR_OK) {
        exit_code = cli_report_error(o->json, &err, rc, CLI_EXIT_FAIL);
        goto out_free;
    }
    gosr_sbv ret = {0};
    char chunk[300];
    snprintf(chunk, sizeof chunk, "@%s", o->script);
    gosr_sandbox_tick_begin(sb, 0);
    rc = gosr_sandbox_load(sb, (const char *)src, len, chunk, &ret, &err);
    exit_code = report(sb, rc, &err, &ret, o->json);
    gosr_sbv_free(&ret);
out_free:
    gosr_sandbox_destroy(sb);
    gosr_sandbox_testhost_destroy(th);
    gosr_free(src);
    return exit_code;
}

static int cmd_sandbox(int argc, char **argv)
{
    run_opts o = {0};
    const char *pos[2];
    int npos = 0;
    const cli_opt opts[] = {{"fuel", &o.fuel, NULL},
                            {"mem", &o.mem, NULL},
                            {"deadline-ms", &o.deadline, NULL},
                            {"mode", &o.mode, NULL},
                            {"seed", &o.seed, NULL},
                            {"json", NULL, &o.json},
                            {NULL, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts, pos, 2, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 2 || strcmp(pos[0], "run") != 0)
        return cli_usage_error("expected: run SCRIPT.lua");
    o.script = pos[1];
    gosr_sandbox_config cfg = {0};
    rc = parse_config(&o, &cfg);
    if (rc != CLI_EXIT_OK)
        return rc;
    return run_script(&o, &cfg);
}

GOSR_CLI_COMMAND(sandbox, "sandbox", cmd_sandbox,
                 "run a Lua script in a budgeted sandbox", g_usage)
