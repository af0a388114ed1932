/*
 * cmd_cert.c — `gosr cert`: issue a certificate with a root key, show a
 * certificate or revocation list, verify a certificate against a trust root
 * (exit 3 with a reason when rejected), and add an entry to a signed
 * revocation list. Design: docs/certs.md ("Commands").
 *
 * Uses the private crypto/cert_int.h for revocation-list building, which
 * the public API does not offer (only the root's operator writes lists).
 */
#include "cli/cli.h"
#include "crypto/cert_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CERT_USAGE                                                             \
    "gosr cert issue --ca DIR --key DIR|KEY.pub --name NAME\n"                 \
    "                [--kinds game,mod,patch] [--not-before RFC3339]\n"        \
    "                [--expires RFC3339] [--allow-expired] --out FILE "        \
    "[--json]\n"                                                               \
    "       gosr cert show FILE [--trust ROOT.pub] [--json]\n"                 \
    "       gosr cert verify FILE --trust ROOT.pub [--revoked LIST]\n"         \
    "                [--kind game,mod,patch] [--at RFC3339] [--json]\n"        \
    "       gosr cert revoke --ca DIR (--cert FILE | --key-pub KEY.pub)\n"     \
    "                [--list LIST] --out LIST [--json]"

#define DEFAULT_BACKDATE_S 300           /* not_before = now - 5 min */
#define DEFAULT_LIFETIME_S (365 * 86400) /* not_after = now + 365 days */

static int64_t now_s(void)
{
    return (int64_t)(gosr_time_wall_ns() / 1000000000ull);
}

/* Exit code for a failed check: rejections (bad or untrusted input) are 3,
 * everything else (missing files, I/O) is 1. */
static int exit_for(int rc)
{
    switch (rc) {
    case GOSR_EFORMAT:
    case GOSR_ESIGNATURE:
    case GOSR_ECERT:
    case GOSR_EREVOKED:
    case GOSR_EEXPIRED:
    case GOSR_EDENIED:
    case GOSR_ETOOBIG:
        return CLI_EXIT_REJECTED;
    default:
        return CLI_EXIT_FAIL;
    }
}

static void hex32(const uint8_t *p, char out[65])
{
    gosr_hex_encode(p, 32, out);
}

/* ---- JSON and text views ------------------------------------------------- */

/* A certificate as a JSON object (serial as 16 hex digits: JSON numbers
 * lose precision above 2^53). Caller owns the reference. */
static json_t *cert_json(const gosr_cert *c)
{
    char subj[65], iss[65], sig[129], serial[17], kinds[32], nb[21], na[21];
    hex32(c->subject_pk, subj);
    hex32(c->issuer_pk, iss);
    gosr_hex_encode(c->sig, 64, sig);
    snprintf(serial, sizeof serial, "%016llx", (unsigned long long)c->serial);
    gosr_cert_kinds_format(c->kinds, kinds);
    gosr_time_format_rfc3339(c->not_before, nb);
    gosr_time_format_rfc3339(c->not_after, na);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:s}", "type",
        "certificate", "name", c->name, "subject_pk", subj, "issuer_pk", iss,
        "serial", serial, "kinds", kinds, "not_before", nb, "not_before_unix",
        (json_int_t)c->not_before, "not_after", na, "not_after_unix",
        (json_int_t)c->not_after, "signature", sig);
}

static void cert_print(const gosr_cert *c)
{
    char subj[65], iss[65], kinds[32], nb[21], na[21];
    hex32(c->subject_pk, subj);
    hex32(c->issuer_pk, iss);
    gosr_cert_kinds_format(c->kinds, kinds);
    gosr_time_format_rfc3339(c->not_before, nb);
    gosr_time_format_rfc3339(c->not_after, na);
    printf("certificate\n  name:       %s\n  subject:    %s\n"
           "  issuer:     %s\n  serial:     %016llx\n  kinds:      %s\n"
           "  not_before: %s\n  not_after:  %s\n",
           c->name, subj, iss, (unsigned long long)c->serial, kinds, nb, na);
}

static json_t *rvkl_json(const gosr_revocations *rl, bool checked)
{
    char iss[65], at[21], hex[65], serial[17];
    json_t *serials = json_array(), *keys = json_array();
    for (uint32_t i = 0; i < rl->n_serials; i++) {
        hex32(rl->serials[i].issuer_pk, hex);
        snprintf(serial, sizeof serial, "%016llx",
                 (unsigned long long)rl->serials[i].serial);
        json_array_append_new(serials, json_pack("{s:s, s:s}", "issuer_pk", hex,
                                                 "serial", serial));
    }
    for (uint32_t i = 0; i < rl->n_keys; i++) {
        hex32(rl->keys[i], hex);
        json_array_append_new(keys, json_string(hex));
    }
    hex32(rl->issuer_pk, iss);
    gosr_time_format_rfc3339(rl->issued_at, at);
    return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:b}", "type",
                     "revocation_list", "issuer_pk", iss, "sequence",
                     (json_int_t)rl->sequence, "issued_at", at, "serials",
                     serials, "keys", keys, "signature_checked", checked);
}

static void rvkl_print(const gosr_revocations *rl, bool checked)
{
    char iss[65], at[21], hex[65];
    hex32(rl->issuer_pk, iss);
    gosr_time_format_rfc3339(rl->issued_at, at);
    printf("revocation list\n  issuer:     %s\n  sequence:   %llu\n"
           "  issued_at:  %s\n  signature:  %s\n",
           iss, (unsigned long long)rl->sequence, at,
           checked ? "verified" : "not checked (no --trust)");
    for (uint32_t i = 0; i < rl->n_serials; i++) {
        hex32(rl->serials[i].issuer_pk, hex);
        printf("  revoked cert: issuer %s serial %016llx\n", hex,
               (unsigned long long)rl->serials[i].serial);
    }
    for (uint32_t i = 0; i < rl->n_keys; i++) {
        hex32(rl->keys[i], hex);
        printf("  revoked key:  %s\n", hex);
    }
}

/* ---- issue --------------------------------------------------------------- */

/* Options of `gosr cert issue`. */
typedef struct issue_args {
    const char *ca, *key, *name, *kinds, *not_before, *expires, *out;
    bool allow_expired; /* permit --expires in the past (test fixtures) */
    bool json;          /* print JSON */
} issue_args;

/* Turns the option strings into kinds and a validity window. */
static int issue_resolve(const issue_args *a, uint32_t *kinds, int64_t *nb,
                         int64_t *na)
{
    int64_t now = now_s();
    *kinds = GOSR_CERT_KIND_ALL;
    *nb = now - DEFAULT_BACKDATE_S;
    *na = now + DEFAULT_LIFETIME_S;
    if (a->kinds && gosr_cert_kinds_parse(a->kinds, kinds) != GOSR_OK)
        return cli_usage_error("bad --kinds '%s' (game,mod,patch or all)",
                               a->kinds);
    if (a->not_before && gosr_time_parse_rfc3339(a->not_before, nb) != 0)
        return cli_usage_error("bad --not-before '%s' (RFC 3339)",
                               a->not_before);
    if (a->expires && gosr_time_parse_rfc3339(a->expires, na) != 0)
        return cli_usage_error("bad --expires '%s' (RFC 3339)", a->expires);
    if (*na <= now && !a->allow_expired)
        return cli_usage_error("--expires is in the past; pass "
                               "--allow-expired to issue an expired "
                               "certificate on purpose");
    if (*nb >= *na)
        return cli_usage_error("--not-before must be earlier than --expires");
    return CLI_EXIT_OK;
}

static int issue_run(const issue_args *a, uint32_t kinds, int64_t nb,
                     int64_t na)
{
    gosr_keypair ca;
    gosr_error err;
    gosr_cert c;
    gosr_buf b = {0};
    uint8_t subject[32];
    gosr_error_clear(&err);
    int rc = gosr_keypair_load(a->ca, &ca, &err);
    if (rc != GOSR_OK)
        return cli_report_error(a->json, &err, rc, CLI_EXIT_FAIL);
    if ((rc = gosr_pubkey_load(a->key, subject, &err)) == GOSR_OK &&
        (rc = gosr_cert_issue(&ca, subject, a->name, kinds, nb, na, &c,
                              &err)) == GOSR_OK &&
        (rc = gosr_cert_encode(&c, &b)) == GOSR_OK &&
        (rc = gosr_file_write_atomic(a->out, b.data, b.len, 0644)) != 0)
        gosr_error_set(&err, rc, "cert_write_failed", "cannot write %s: %s",
                       a->out, gosr_strerror(rc));
    gosr_keypair_wipe(&ca);
    gosr_buf_free(&b);
    if (rc != GOSR_OK)
        return cli_report_error(a->json, &err, rc, CLI_EXIT_FAIL);
    if (a->json) {
        json_t *j = cert_json(&c);
        json_object_set_new(j, "ok", json_true());
        json_object_set_new(j, "path", json_string(a->out));
        cli_print_json(j);
    } else {
        cert_print(&c);
        printf("written to %s\n", a->out);
    }
    return CLI_EXIT_OK;
}

static int cert_issue(int argc, char **argv)
{
    issue_args a = {0};
    const char *pos[1];
    int npos;
    cli_opt opts[] = {{"ca", &a.ca, NULL},
                      {"key", &a.key, NULL},
                      {"name", &a.name, NULL},
                      {"kinds", &a.kinds, NULL},
                      {"not-before", &a.not_before, NULL},
                      {"expires", &a.expires, NULL},
                      {"out", &a.out, NULL},
                      {"allow-expired", NULL, &a.allow_expired},
                      {"json", NULL, &a.json},
                      {0}};
    int rc = cli_parse(argc, argv, opts, pos, 0, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!a.ca || !a.key || !a.name || !a.out)
        return cli_usage_error("--ca, --key, --name and --out are required");
    uint32_t kinds;
    int64_t nb, na;
    if ((rc = issue_resolve(&a, &kinds, &nb, &na)) != CLI_EXIT_OK)
        return rc;
    return issue_run(&a, kinds, nb, na);
}

/* ---- show ---------------------------------------------------------------- */

static int show_list(const uint8_t *data, size_t len, const char *trust,
                     bool json)
{
    gosr_error err;
    uint8_t pk[32];
    gosr_revocations *rl = NULL;
    gosr_error_clear(&err);
    int rc = trust ? gosr_pubkey_load(trust, pk, &err) : GOSR_OK;
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    rc = crypto__revocations_decode(data, len, trust ? pk : NULL, &rl, &err);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc, exit_for(rc));
    if (json)
        cli_print_json(rvkl_json(rl, trust != NULL));
    else
        rvkl_print(rl, trust != NULL);
    gosr_revocations_free(rl);
    return CLI_EXIT_OK;
}

static int show_file(const char *path, const char *trust, bool json)
{
    uint8_t *data;
    size_t len;
    gosr_error err;
    gosr_cert c;
    gosr_error_clear(&err);
    int rc = gosr_file_read_all(path, CRYPTO__RVKL_MAX_LEN, &data, &len);
    if (rc != GOSR_OK) {
        gosr_error_set(&err, rc, "read_failed", "cannot read %s: %s", path,
                       gosr_strerror(rc));
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    }
    if (len >= 8 && memcmp(data, CRYPTO__RVKL_MAGIC, 8) == 0) {
        rc = show_list(data, len, trust, json);
    } else if ((rc = gosr_cert_decode(data, len, &c, &err)) != GOSR_OK) {
        rc = cli_report_error(json, &err, rc, exit_for(rc));
    } else {
        if (json)
            cli_print_json(cert_json(&c));
        else
            cert_print(&c);
        rc = CLI_EXIT_OK;
    }
    gosr_free(data);
    return rc;
}

static int cert_show(int argc, char **argv)
{
    const char *pos[1], *trust = NULL;
    bool json = false;
    int npos;
    cli_opt opts[] = {{"trust", &trust, NULL}, {"json", NULL, &json}, {0}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error("which file? give a .cert or revocation list");
    return show_file(pos[0], trust, json);
}

/* ---- verify -------------------------------------------------------------- */

/* Options of `gosr cert verify`. */
typedef struct verify_args {
    const char *file, *trust, *revoked, *kind, *at;
    bool json; /* print JSON */
} verify_args;

static int verify_run(const verify_args *a, uint32_t need, int64_t now)
{
    gosr_error err;
    gosr_cert c;
    uint8_t pk[32];
    gosr_revocations *rl = NULL;
    gosr_error_clear(&err);
    int rc = gosr_pubkey_load(a->trust, pk, &err);
    if (rc != GOSR_OK)
        return cli_report_error(a->json, &err, rc, CLI_EXIT_FAIL);
    if ((rc = gosr_cert_load(a->file, &c, &err)) == GOSR_OK &&
        (!a->revoked ||
         (rc = gosr_revocations_load(a->revoked, pk, &rl, &err)) == GOSR_OK))
        rc = gosr_cert_verify(&c, pk, now, rl, need, &err);
    gosr_revocations_free(rl);
    if (rc != GOSR_OK)
        return cli_report_error(a->json, &err, rc, exit_for(rc));
    if (a->json) {
        json_t *j = cert_json(&c);
        json_object_set_new(j, "ok", json_true());
        cli_print_json(j);
    } else {
        printf("ok: certificate for '%s' (serial %016llx) is valid\n", c.name,
               (unsigned long long)c.serial);
    }
    return CLI_EXIT_OK;
}

static int cert_verify(int argc, char **argv)
{
    verify_args a = {0};
    const char *pos[1];
    int npos;
    cli_opt opts[] = {{"trust", &a.trust, NULL}, {"revoked", &a.revoked, NULL},
                      {"kind", &a.kind, NULL},   {"at", &a.at, NULL},
                      {"json", NULL, &a.json},   {0}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1 || !a.trust)
        return cli_usage_error("a certificate file and --trust are required");
    a.file = pos[0];
    uint32_t need = 0;
    int64_t now = now_s();
    if (a.kind && gosr_cert_kinds_parse(a.kind, &need) != GOSR_OK)
        return cli_usage_error("bad --kind '%s' (game,mod,patch)", a.kind);
    if (a.at && gosr_time_parse_rfc3339(a.at, &now) != GOSR_OK)
        return cli_usage_error("bad --at '%s' (RFC 3339)", a.at);
    return verify_run(&a, need, now);
}

/* ---- revoke -------------------------------------------------------------- */

/* Options of `gosr cert revoke`. */
typedef struct revoke_args {
    const char *ca, *cert, *key_pub, *list, *out;
    bool json; /* print JSON */
} revoke_args;

/* The list to extend: --list, else --out when it exists (verified against
 * the CA's key), else a new empty list. */
static int revoke_open(const revoke_args *a, const gosr_keypair *ca,
                       gosr_revocations **rl, gosr_error *err)
{
    struct stat st;
    const char *from = a->list;
    if (!from && stat(a->out, &st) == 0)
        from = a->out;
    if (from)
        return gosr_revocations_load(from, ca->pk, rl, err);
    *rl = crypto__revocations_new(ca->pk);
    return *rl ? GOSR_OK
               : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", NULL);
}

/* Adds the --cert and/or --key-pub entries; *added counts new ones. */
static int revoke_add(const revoke_args *a, const gosr_keypair *ca,
                      gosr_revocations *rl, int *added, gosr_error *err)
{
    gosr_cert c;
    uint8_t pk[32];
    bool fresh = false;
    int rc = GOSR_OK;
    if (a->cert && (rc = gosr_cert_load(a->cert, &c, err)) == GOSR_OK) {
        if (memcmp(c.issuer_pk, ca->pk, 32) != 0)
            return gosr_error_set(err, GOSR_ECERT, "cert_untrusted_issuer",
                                  "%s was not issued by this CA", a->cert);
        rc = crypto__revocations_add_serial(rl, c.issuer_pk, c.serial, &fresh);
        *added += fresh;
    }
    if (rc == GOSR_OK && a->key_pub &&
        (rc = gosr_pubkey_load(a->key_pub, pk, err)) == GOSR_OK) {
        rc = crypto__revocations_add_key(rl, pk, &fresh);
        *added += fresh;
    }
    if (rc != GOSR_OK)
        gosr_error_wrap(err, rc, "revocation_add_failed",
                        "cannot add the entry: %s", gosr_strerror(rc));
    return rc;
}

static int revoke_run(const revoke_args *a)
{
    gosr_keypair ca;
    gosr_error err;
    gosr_revocations *rl = NULL;
    gosr_buf b = {0};
    int added = 0;
    gosr_error_clear(&err);
    int rc = gosr_keypair_load(a->ca, &ca, &err);
    if (rc != GOSR_OK)
        return cli_report_error(a->json, &err, rc, CLI_EXIT_FAIL);
    if ((rc = revoke_open(a, &ca, &rl, &err)) == GOSR_OK &&
        (rc = revoke_add(a, &ca, rl, &added, &err)) == GOSR_OK) {
        rl->sequence++;
        rl->issued_at = now_s();
        if ((rc = crypto__revocations_sign_encode(rl, &ca, &b)) == GOSR_OK &&
            (rc = gosr_file_write_atomic(a->out, b.data, b.len, 0644)) != 0)
            gosr_error_set(&err, rc, "revocation_write_failed",
                           "cannot write %s: %s", a->out, gosr_strerror(rc));
    }
    gosr_keypair_wipe(&ca);
    gosr_buf_free(&b);
    if (rc == GOSR_OK && a->json) {
        json_t *j = rvkl_json(rl, true);
        json_object_set_new(j, "ok", json_true());
        json_object_set_new(j, "added", json_integer(added));
        cli_print_json(j);
    } else if (rc == GOSR_OK) {
        printf("%s: sequence %llu, %u revoked certificates, %u revoked keys "
               "(%d new)\n",
               a->out, (unsigned long long)rl->sequence, rl->n_serials,
               rl->n_keys, added);
    }
    gosr_revocations_free(rl);
    return rc == GOSR_OK ? CLI_EXIT_OK
                         : cli_report_error(a->json, &err, rc, CLI_EXIT_FAIL);
}

static int cert_revoke(int argc, char **argv)
{
    revoke_args a = {0};
    const char *pos[1];
    int npos;
    cli_opt opts[] = {{"ca", &a.ca, NULL},
                      {"cert", &a.cert, NULL},
                      {"key-pub", &a.key_pub, NULL},
                      {"list", &a.list, NULL},
                      {"out", &a.out, NULL},
                      {"json", NULL, &a.json},
                      {0}};
    int rc = cli_parse(argc, argv, opts, pos, 0, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!a.ca || !a.out || (!a.cert && !a.key_pub))
        return cli_usage_error("--ca, --out and --cert or --key-pub are "
                               "required");
    return revoke_run(&a);
}

/* ---- dispatch ------------------------------------------------------------ */

static int cmd_cert(int argc, char **argv)
{
    static const struct {
        const char *name; /* subcommand word */
        cli_run_fn run;   /* its entry point */
    } subs[] = {{"issue", cert_issue},
                {"show", cert_show},
                {"verify", cert_verify},
                {"revoke", cert_revoke}};
    if (argc < 2)
        return cli_usage_error("missing subcommand (issue, show, verify, "
                               "revoke)");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    return cli_usage_error("unknown subcommand '%s'", argv[1]);
}

GOSR_CLI_COMMAND(cert, "cert", cmd_cert,
                 "issue, show, verify and revoke developer certificates",
                 CERT_USAGE)
