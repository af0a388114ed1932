/*
 * cmd_killswitch.c — `gosr killswitch on|off|status --reason TEXT` against
 * a running node (GET/POST /v1/killswitch). With `--totp CODE` the change
 * goes to POST /v1/killswitch/override, which needs the privileged token
 * (`--token DIR/admin-privileged.token`) and the code in the X-GOSR-TOTP
 * header: the only way out of the fail-safe state. Design: docs/patch.md
 * ("Kill switch", "CLI").
 */
#include "cli/cli_node.h"
#include "gosr/admin.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KS_USAGE                                                               \
    "gosr killswitch on|off|status [--reason TEXT] [--totp CODE] "             \
    "(--data DIR | --node URL --token FILE) [--json]\n"                        \
    "       gosr killswitch setup --data DIR [--json]  (creates "              \
    "admin-privileged.token and admin.totp)"

/* `setup`: the privileged token and the TOTP secret of a node directory
 * (docs/admin.md leaves their creation to this command). */
static int setup(const char *dir, bool json)
{
    char tok[65], sec[33];
    gosr_error err = {0};
    char *tp = gosr_asprintf("%s/" GOSR_ADMIN_PRIV_TOKEN_FILE, dir);
    char *sp = gosr_asprintf("%s/" GOSR_ADMIN_TOTP_FILE, dir);
    int rc = gosr_mkdir_p(dir, 0700);
    if (rc == GOSR_OK)
        rc = gosr_admin_token_create_file(tp, tok, &err);
    if (rc == GOSR_OK)
        rc = gosr_admin_totp_secret_create(sp, sec, &err);
    if (rc == GOSR_OK && json)
        cli_print_json(json_pack("{s:s, s:s, s:s}", "privileged_token", tp,
                                 "totp_file", sp, "totp_secret", sec));
    else if (rc == GOSR_OK)
        printf("privileged token: %s\nTOTP secret (base32): %s\n", tp, sec);
    gosr_free(tp);
    gosr_free(sp);
    sodium_memzero(tok, sizeof tok);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    return CLI_EXIT_OK;
}

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
    return gosr_buf_append(ud, p, s * n) == GOSR_OK ? s * n : 0;
}

/* POST body to the override route with the TOTP header (the generic CLI
 * client sends no extra headers). */
static int override(const cli_node_args *a, bool json, const json_t *body,
                    const char *totp, json_t **reply)
{
    cli_node n = {0};
    gosr_error err = {0};
    int rc = cli_node_resolve(a, &n, &err);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc,
                                cli_node_exit_code(rc, 0, &err));
    char *url = gosr_asprintf("%s/v1/killswitch/override", n.url);
    char *auth = gosr_asprintf("Authorization: Bearer %s", n.token);
    char *th = gosr_asprintf("X-GOSR-TOTP: %s", totp);
    char *b = json_dumps(body, JSON_COMPACT);
    gosr_buf out = {0};
    long http = 0;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, th);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    CURLcode cr = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    json_t *j = cr == CURLE_OK
                    ? json_loadb((const char *)out.data, out.len, 0, NULL)
                    : NULL;
    if (cr != CURLE_OK) {
        rc = gosr_error_set(&err, GOSR_EIO, "node_unreachable", "%s",
                            curl_easy_strerror(cr));
    } else if (http / 100 != 2) {
        const char *st = json_string_value(json_object_get(j, "status"));
        rc = gosr_error_set(
            &err, st ? gosr_admin_status_from_name(st) : GOSR_EPROTO,
            json_string_value(json_object_get(j, "reason"))
                ? json_string_value(json_object_get(j, "reason"))
                : "http_error",
            "%s",
            json_string_value(json_object_get(j, "detail"))
                ? json_string_value(json_object_get(j, "detail"))
                : "");
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    gosr_free(url);
    gosr_free(auth);
    gosr_free(th);
    free(b);
    gosr_buf_free(&out);
    cli_node_free(&n);
    if (rc != GOSR_OK) {
        json_decref(j);
        return cli_report_error(json, &err, rc,
                                cli_node_exit_code(rc, http, &err));
    }
    *reply = j;
    return CLI_EXIT_OK;
}

static int show(json_t *r, bool json)
{
    if (json) {
        cli_print_json(r);
        return CLI_EXIT_OK;
    }
    json_t *au = json_object_get(r, "audit");
    json_t *last = json_array_get(au, json_array_size(au) - 1);
    printf("ai_patch_ingest_enabled: %s%s\n",
           json_is_true(json_object_get(r, "ai_patch_ingest_enabled")) ? "on"
                                                                       : "off",
           json_is_true(json_object_get(r, "fail_safe")) ? " (fail-safe)" : "");
    if (last)
        printf("last change: %s by %s: %s\n",
               json_string_value(json_object_get(last, "state")),
               json_string_value(json_object_get(last, "actor")),
               json_string_value(json_object_get(last, "reason")));
    json_decref(r);
    return CLI_EXIT_OK;
}

static int cmd_killswitch(int argc, char **argv)
{
    cli_node_args a = {0};
    bool json = false;
    const char *pos[1], *reason = NULL, *totp = NULL;
    int npos;
    cli_opt opts[] = {CLI_NODE_OPTS(a),
                      {"json", NULL, &json},
                      {"reason", &reason, NULL},
                      {"totp", &totp, NULL},
                      {0}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error("expected on, off or status");
    json_t *reply = NULL;
    if (!strcmp(pos[0], "setup")) {
        if (!a.data)
            return cli_usage_error("setup needs --data DIR");
        return setup(a.data, json);
    }
    if (!strcmp(pos[0], "status")) {
        rc = cli_node_call(&a, json, "GET", "/v1/killswitch", NULL, NULL,
                           &reply);
        return rc == CLI_EXIT_OK ? show(reply, json) : rc;
    }
    if (strcmp(pos[0], "on") && strcmp(pos[0], "off"))
        return cli_usage_error("expected on, off or status");
    if (!reason || !reason[0])
        return cli_usage_error("--reason TEXT is required");
    json_t *body = json_pack("{s:b, s:s}", "enabled", !strcmp(pos[0], "on"),
                             "reason", reason);
    if (totp)
        rc = override(&a, json, body, totp, &reply);
    else
        rc = cli_node_call(&a, json, "POST", "/v1/killswitch", body, NULL,
                           &reply);
    json_decref(body);
    return rc == CLI_EXIT_OK ? show(reply, json) : rc;
}

GOSR_CLI_COMMAND(killswitch, "killswitch", cmd_killswitch,
                 "turn AI patch ingestion on or off (audited)", KS_USAGE)
