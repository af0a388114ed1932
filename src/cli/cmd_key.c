/*
 * cmd_key.c — `gosr key`: create an ed25519 keypair directory (key.pub,
 * key.sec mode 0600) and show a public key. Design: docs/certs.md
 * ("Key files", "Commands").
 */
#include "cli/cli.h"
#include "gosr/crypto.h"

#include <stdio.h>
#include <string.h>

#define KEY_USAGE                                                              \
    "gosr key new --out DIR [--json]\n"                                        \
    "       gosr key show DIR|KEY.pub [--json]"

/* Prints a public key as hex, or {"ok":true,"public_key":..,"path":..}. */
static void print_pubkey(const uint8_t pk[32], const char *path, bool json)
{
    char hex[65];
    gosr_hex_encode(pk, 32, hex);
    if (json)
        cli_print_json(json_pack("{s:b, s:s, s:s}", "ok", 1, "public_key", hex,
                                 "path", path));
    else
        printf("%s\n", hex);
}

static int key_new(int argc, char **argv)
{
    const char *out = NULL, *pos[1];
    bool json = false;
    int npos;
    cli_opt opts[] = {{"out", &out, NULL}, {"json", NULL, &json}, {0}};
    int rc = cli_parse(argc, argv, opts, pos, 0, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!out)
        return cli_usage_error("--out DIR is required");
    gosr_keypair kp;
    gosr_error err;
    gosr_error_clear(&err);
    rc = gosr_keypair_generate(&kp);
    if (rc == GOSR_OK)
        rc = gosr_keypair_save(&kp, out, &err);
    if (rc == GOSR_OK)
        print_pubkey(kp.pk, out, json);
    gosr_keypair_wipe(&kp);
    return rc == GOSR_OK ? CLI_EXIT_OK
                         : cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
}

static int key_show(int argc, char **argv)
{
    const char *pos[1];
    bool json = false;
    int npos;
    cli_opt opts[] = {{"json", NULL, &json}, {0}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error("which key? give a key directory or key.pub");
    uint8_t pk[32];
    gosr_error err;
    gosr_error_clear(&err);
    rc = gosr_pubkey_load(pos[0], pk, &err);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    print_pubkey(pk, pos[0], json);
    return CLI_EXIT_OK;
}

static int cmd_key(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("missing subcommand (new, show)");
    if (strcmp(argv[1], "new") == 0)
        return key_new(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return key_show(argc - 1, argv + 1);
    return cli_usage_error("unknown subcommand '%s'", argv[1]);
}

GOSR_CLI_COMMAND(key, "key", cmd_key, "create and show ed25519 signing keys",
                 KEY_USAGE)
