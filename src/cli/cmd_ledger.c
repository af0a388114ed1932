/*
 * cmd_ledger.c — `gosr ledger`: verify, append to and list an activation
 * ledger (hash-chained, append-only SQLite). verify exits 3 with the first
 * broken seq; append exits 3 when safe mode refuses an activation.
 * Without a FILE, `gosr ledger [--verify]` reads a node's ledger: over the
 * admin API (GET /v1/ledger) with --node URL --token FILE or --data DIR,
 * or, with --data DIR when no node answers there, DIR/ledger.db directly.
 * Design: docs/ledger.md, docs/kernel.md ("CLI").
 */
#include "cli/cli_node.h"
#include "gosr/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *row_json(const gosr_ledger_row *r)
{
    char prev[65], hash[65];
    gosr_hex_encode(r->prev_hash, 32, prev);
    gosr_hex_encode(r->row_hash, 32, hash);
    json_t *ev = json_loads(r->evidence, 0, NULL);
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}",
                     "seq", (json_int_t)r->seq, "time_ns",
                     (json_int_t)r->time_ns, "actor", r->actor, "action",
                     r->action, "subject", r->subject, "version", r->version,
                     "reason", r->reason, "evidence", ev ? ev : json_null(),
                     "prev_hash", prev, "row_hash", hash);
}

static int do_verify(gosr_ledger *l, bool json)
{
    int64_t bad = 0, count = 0;
    uint8_t head[32];
    char hex[65];
    gosr_error err = {0};
    int rc = gosr_ledger_verify(l, &bad, &err);
    if (rc != GOSR_OK && rc != GOSR_ECORRUPT)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    gosr_ledger_head(l, &count, head);
    gosr_hex_encode(head, 32, hex);
    if (json) {
        json_t *o = json_pack("{s:b, s:I, s:s, s:b}", "ok", rc == GOSR_OK,
                              "rows", (json_int_t)count, "head", hex,
                              "safe_mode", gosr_ledger_safe_mode(l));
        if (rc != GOSR_OK) {
            json_object_set_new(o, "first_bad_seq", json_integer(bad));
            json_object_set_new(o, "detail", json_string(err.detail));
        }
        cli_print_json(o);
    } else if (rc == GOSR_OK) {
        printf("ledger intact: %lld rows, head %s\n", (long long)count, hex);
    } else {
        printf("ledger chain BROKEN at seq %lld: %s (safe mode: activations "
               "refused)\n",
               (long long)bad, err.detail);
    }
    return rc == GOSR_OK ? CLI_EXIT_OK : CLI_EXIT_REJECTED;
}

static int do_list(gosr_ledger *l, bool json)
{
    int64_t count = 0;
    uint8_t head[32];
    gosr_ledger_head(l, &count, head);
    for (int64_t seq = 1; seq <= count; seq++) {
        gosr_ledger_row r;
        gosr_error err = {0};
        int rc = gosr_ledger_get(l, seq, &r, &err);
        if (rc != GOSR_OK)
            return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
        if (json) {
            cli_print_json(row_json(&r));
        } else {
            char hex[65];
            gosr_hex_encode(r.row_hash, 32, hex);
            hex[16] = '\0';
            printf("%lld %s %s %s %s by %s: %s %s\n", (long long)r.seq, hex,
                   r.action, r.subject, r.version, r.actor, r.reason,
                   r.evidence);
        }
        gosr_ledger_row_clear(&r);
    }
    return CLI_EXIT_OK;
}

static int do_append(gosr_ledger *l, gosr_ledger_row *r, bool json)
{
    if (!r->actor || !r->action || !r->subject || !r->version)
        return cli_usage_error("append needs --actor, --action, --subject "
                               "and --version");
    gosr_error err = {0};
    int rc = gosr_ledger_append(l, r, &err);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc,
                                rc == GOSR_EDENIED ? CLI_EXIT_REJECTED
                                                   : CLI_EXIT_FAIL);
    char hex[65];
    gosr_hex_encode(r->row_hash, 32, hex);
    if (json)
        cli_print_json(json_pack("{s:b, s:I, s:s}", "ok", 1, "seq",
                                 (json_int_t)r->seq, "row_hash", hex));
    else
        printf("appended seq %lld, row hash %s\n", (long long)r->seq, hex);
    return CLI_EXIT_OK;
}

/* Prints a /v1/ledger reply; exit 3 when verification failed. */
static int print_node_ledger(json_t *reply, bool json, bool verify)
{
    bool intact = !verify || json_is_true(json_object_get(reply, "intact"));
    if (json) {
        cli_print_json(reply);
        return intact ? CLI_EXIT_OK : CLI_EXIT_REJECTED;
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(reply, "rows"), i, r)
    {
        char *ev = json_dumps(json_object_get(r, "evidence"),
                              JSON_COMPACT | JSON_SORT_KEYS);
        printf("%lld %.16s %s %s %s by %s: %s %s\n",
               (long long)json_integer_value(json_object_get(r, "seq")),
               json_string_value(json_object_get(r, "row_hash")),
               json_string_value(json_object_get(r, "action")),
               json_string_value(json_object_get(r, "subject")),
               json_string_value(json_object_get(r, "version")),
               json_string_value(json_object_get(r, "actor")),
               json_string_value(json_object_get(r, "reason")),
               ev ? ev : "{}");
        free(ev);
    }
    if (verify && intact)
        printf("ledger intact: %lld rows, head %s\n",
               (long long)json_integer_value(json_object_get(reply, "count")),
               json_string_value(json_object_get(reply, "head")));
    else if (verify)
        printf("ledger chain BROKEN at seq %lld: %s\n",
               (long long)json_integer_value(
                   json_object_get(reply, "first_bad_seq")),
               json_string_value(json_object_get(reply, "detail")));
    json_decref(reply);
    return intact ? CLI_EXIT_OK : CLI_EXIT_REJECTED;
}

/* `gosr ledger [--verify]` against a node (or its directory). */
static int node_ledger(const cli_node_args *a, bool json, bool verify)
{
    cli_node n;
    gosr_error err = {0};
    json_t *reply = NULL;
    long http = 0;
    int rc = cli_node_resolve(a, &n, &err);
    if (rc == GOSR_OK) {
        rc = cli_node_request(&n, "GET",
                              verify ? "/v1/ledger?verify=1" : "/v1/ledger",
                              NULL, NULL, &http, &reply, &err);
        cli_node_free(&n);
        if (rc == GOSR_OK)
            return print_node_ledger(reply, json, verify);
    }
    bool offline = http == 0 && (rc == GOSR_ENOENT || rc == GOSR_EIO ||
                                 rc == GOSR_ETIMEOUT);
    if (!a->data || a->node || !offline)
        return cli_report_error(json, &err, rc,
                                cli_node_exit_code(rc, http, &err));
    /* No node answers in DIR: read its ledger file directly. */
    char *path = gosr_asprintf("%s/ledger.db", a->data);
    gosr_ledger *l = NULL;
    rc = path ? gosr_ledger_open(path, &l, &err) : GOSR_ENOMEM;
    gosr_free(path);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    int code = verify ? do_verify(l, json) : do_list(l, json);
    gosr_ledger_close(l);
    return code;
}

static int cmd_ledger(int argc, char **argv)
{
    const char *pos[2];
    bool json = false;
    int npos;
    gosr_ledger_row r = {0};
    cli_node_args na = {0};
    bool verify = false;
    cli_opt opts[] = {CLI_NODE_OPTS(na),
                      {"verify", NULL, &verify},
                      {"actor", (const char **)&r.actor, NULL},
                      {"action", (const char **)&r.action, NULL},
                      {"subject", (const char **)&r.subject, NULL},
                      {"version", (const char **)&r.version, NULL},
                      {"reason", (const char **)&r.reason, NULL},
                      {"evidence", (const char **)&r.evidence, NULL},
                      {"json", NULL, &json},
                      {NULL, NULL, NULL}};
    if (cli_parse(argc, argv, opts, pos, 2, &npos) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    if (npos == 0 && (na.node || na.data || na.token))
        return node_ledger(&na, json, verify);
    if (npos != 2)
        return cli_usage_error("expected a subcommand and a ledger file, "
                               "or --data DIR / --node URL --token FILE");
    const char *sub = pos[0];
    if (strcmp(sub, "verify") && strcmp(sub, "list") && strcmp(sub, "append"))
        return cli_usage_error("unknown subcommand '%s'", sub);
    gosr_ledger *l;
    gosr_error err = {0};
    int rc = gosr_ledger_open(pos[1], &l, &err);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    int code = strcmp(sub, "verify") == 0 ? do_verify(l, json)
               : strcmp(sub, "list") == 0 ? do_list(l, json)
                                          : do_append(l, &r, json);
    gosr_ledger_close(l);
    return code;
}

GOSR_CLI_COMMAND(ledger, "ledger", cmd_ledger,
                 "verify, list or append to an activation ledger",
                 "gosr ledger [--verify] (--data DIR | --node URL --token "
                 "FILE) [--json]\n"
                 "       gosr ledger verify|list FILE [--json]\n"
                 "       gosr ledger append FILE --actor A --action X "
                 "--subject MODULE --version V [--reason R] "
                 "[--evidence JSON] [--json]")
