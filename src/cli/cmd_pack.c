/*
 * cmd_pack.c — the module bundle commands: `gosr pack` (source directory ->
 * signed .gmod), `gosr verify` (exit 0 valid, 3 rejected with a reason),
 * `gosr inspect` (print the head without trusting it) and `gosr unpack`
 * (verify while extracting; refuses an unverified bundle unless
 * --no-verify). Design: docs/gmod.md ("Commands"), docs/manifest.md.
 */
#include "cli/cli.h"
#include "gosr/gmod.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PACK_USAGE                                                             \
    "gosr pack SRC --key DIR --cert FILE [--chain FILE[,FILE...]]\n"           \
    "                 --out X.gmod [--raw] [--json]"
#define VERIFY_USAGE                                                           \
    "gosr verify X.gmod --trust ROOT.pub [--revoked LIST] [--at RFC3339] "     \
    "[--json]"
#define INSPECT_USAGE "gosr inspect X.gmod [--json]"
#define UNPACK_USAGE                                                           \
    "gosr unpack X.gmod --out DIR (--trust ROOT.pub [--revoked LIST]\n"        \
    "                 [--at RFC3339] | --no-verify) [--json]"

/* Rejections (the bundle or its credentials are bad) exit 3; everything
 * else (missing files, I/O, memory) exits 1. */
static int exit_for(int rc)
{
    switch (rc) {
    case GOSR_OK:
        return CLI_EXIT_OK;
    case GOSR_EFORMAT:
    case GOSR_ESIGNATURE:
    case GOSR_ECERT:
    case GOSR_EREVOKED:
    case GOSR_EEXPIRED:
    case GOSR_EDENIED:
    case GOSR_ETOOBIG:
    case GOSR_ECORRUPT:
    case GOSR_EUNSUPPORTED:
        return CLI_EXIT_REJECTED;
    default:
        return CLI_EXIT_FAIL;
    }
}

static int fail(bool json, const gosr_error *err, int rc)
{
    return cli_report_error(json, err, rc, exit_for(rc));
}

static void hex_hash(const gosr_hash *h, char out[65])
{
    gosr_hash_hex(h, out);
}

/* ---- pack -----------------------------------------------------------------
 */

/* Loads --cert and the comma-separated --chain files into chain[]. */
static int load_chain(const char *cert, const char *more, gosr_cert *chain,
                      size_t *n, gosr_error *err)
{
    int rc = gosr_cert_load(cert, &chain[0], err);
    *n = 1;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", more ? more : "");
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); rc == GOSR_OK && p;
         p = strtok_r(NULL, ",", &save)) {
        if (*n == GOSR_GMOD_MAX_CHAIN)
            return gosr_error_set(err, GOSR_EINVAL, "bad_chain",
                                  "at most %d certificates",
                                  GOSR_GMOD_MAX_CHAIN);
        rc = gosr_cert_load(p, &chain[(*n)++], err);
    }
    return rc;
}

/* Summarises a freshly written bundle (re-read without trust). */
static int pack_report(const char *out, bool json)
{
    gosr_gmod_verify_opts o = {.no_trust = true};
    gosr_gmod_reader *r = NULL;
    gosr_error err;
    int fd = open(out, O_RDONLY | O_CLOEXEC);
    int rc = fd < 0 ? GOSR_EIO : gosr_gmod_reader_open_fd(fd, &o, &r, &err);
    if (rc != GOSR_OK) {
        if (fd >= 0)
            close(fd);
        return fail(json, NULL, rc);
    }
    char root[65];
    hex_hash(gosr_gmod_reader_root(r), root);
    const gosr_gmod_manifest *m = gosr_gmod_reader_manifest(r);
    if (json)
        cli_print_json(
            json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "ok", 1,
                      "out", out, "id", m->id, "version", m->version_text,
                      "kind", gosr_gmod_kind_name(m->kind), "root", root,
                      "files", (json_int_t)gosr_gmod_reader_nfiles(r), "chunks",
                      (json_int_t)gosr_gmod_reader_nchunks(r), "bytes",
                      (json_int_t)gosr_gmod_reader_total(r)));
    else
        printf("%s %s@%s (%s): %zu files, %zu chunks, %llu bytes, root %s\n",
               out, m->id, m->version_text, gosr_gmod_kind_name(m->kind),
               gosr_gmod_reader_nfiles(r), gosr_gmod_reader_nchunks(r),
               (unsigned long long)gosr_gmod_reader_total(r), root);
    gosr_gmod_reader_destroy(r);
    close(fd);
    return CLI_EXIT_OK;
}

static int cmd_pack(int argc, char **argv)
{
    const char *key = NULL, *cert = NULL, *chain = NULL, *out = NULL;
    const char *pos[1];
    bool json = false, raw = false;
    int npos;
    const cli_opt opts[] = {{"key", &key, NULL},     {"cert", &cert, NULL},
                            {"chain", &chain, NULL}, {"out", &out, NULL},
                            {"raw", NULL, &raw},     {"json", NULL, &json},
                            {NULL, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1 || !key || !cert || !out)
        return cli_usage_error("SRC, --key, --cert and --out are required");
    gosr_error err;
    gosr_keypair kp;
    gosr_cert certs[GOSR_GMOD_MAX_CHAIN];
    size_t ncerts = 0;
    if ((rc = gosr_keypair_load(key, &kp, &err)) != GOSR_OK)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    rc = load_chain(cert, chain, certs, &ncerts, &err);
    if (rc == GOSR_OK) {
        gosr_gmod_pack_opts o = {
            .key = &kp, .chain = certs, .nchain = ncerts, .raw = raw};
        rc = gosr_gmod_pack(pos[0], &o, out, &err);
    }
    gosr_keypair_wipe(&kp);
    if (rc != GOSR_OK)
        return cli_report_error(json, &err, rc,
                                rc == GOSR_EFORMAT ? CLI_EXIT_REJECTED
                                                   : CLI_EXIT_FAIL);
    return pack_report(out, json);
}

GOSR_CLI_COMMAND(pack, "pack", cmd_pack,
                 "pack a module directory into a signed .gmod bundle",
                 PACK_USAGE)

/* ---- verification options shared by verify and unpack ---------------------
 */

/* Trust material loaded from the command line. */
typedef struct trust_args {
    const char *trust;    /* --trust path */
    const char *revoked;  /* --revoked path */
    const char *at;       /* --at time */
    uint8_t pk[32];       /* loaded trust root */
    gosr_revocations *rl; /* loaded revocation list or NULL */
} trust_args;

/* Fills o from t; returns a CLI exit code (reports errors itself). */
static int load_trust(trust_args *t, bool json, gosr_gmod_verify_opts *o)
{
    gosr_error err;
    int rc;
    if (t->at && gosr_time_parse_rfc3339(t->at, &o->now) != GOSR_OK)
        return cli_usage_error("bad --at '%s' (RFC 3339)", t->at);
    if ((rc = gosr_pubkey_load(t->trust, t->pk, &err)) != GOSR_OK)
        return cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
    if (t->revoked && (rc = gosr_revocations_load(t->revoked, t->pk, &t->rl,
                                                  &err)) != GOSR_OK)
        return fail(json, &err, rc);
    o->trust_pk = t->pk;
    o->revoked = t->rl;
    return CLI_EXIT_OK;
}

/* ---- verify ---------------------------------------------------------------
 */

static json_t *summary_json(const gosr_gmod_reader *r)
{
    const gosr_gmod_manifest *m = gosr_gmod_reader_manifest(r);
    const gosr_cert *c = gosr_gmod_reader_signer(r);
    char root[65], signer[65];
    hex_hash(gosr_gmod_reader_root(r), root);
    gosr_hex_encode(c->subject_pk, 32, signer);
    return json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "ok",
                     1, "id", m->id, "version", m->version_text, "kind",
                     gosr_gmod_kind_name(m->kind), "root", root, "signer",
                     c->name, "signer_pk", signer, "files",
                     (json_int_t)gosr_gmod_reader_nfiles(r), "chunks",
                     (json_int_t)gosr_gmod_reader_nchunks(r), "bytes",
                     (json_int_t)gosr_gmod_reader_total(r));
}

/* Opens, reads every chunk and reports. */
static int verify_fd(int fd, const gosr_gmod_verify_opts *o, bool json)
{
    gosr_gmod_reader *r = NULL;
    gosr_error err;
    int rc = gosr_gmod_reader_open_fd(fd, o, &r, &err);
    bool done = false;
    while (rc == GOSR_OK && !done) {
        uint32_t i;
        const uint8_t *d;
        size_t n;
        rc = gosr_gmod_reader_next(r, &done, &i, &d, &n, &err);
    }
    int code;
    if (rc != GOSR_OK) {
        code = fail(json, &err, rc);
    } else {
        json_t *s = summary_json(r);
        if (json) {
            cli_print_json(s);
        } else {
            printf("ok: %s@%s (%s) signed by %s, root %s\n",
                   json_string_value(json_object_get(s, "id")),
                   json_string_value(json_object_get(s, "version")),
                   json_string_value(json_object_get(s, "kind")),
                   json_string_value(json_object_get(s, "signer")),
                   json_string_value(json_object_get(s, "root")));
            json_decref(s);
        }
        code = CLI_EXIT_OK;
    }
    gosr_gmod_reader_destroy(r);
    return code;
}

static int cmd_verify(int argc, char **argv)
{
    trust_args t = {0};
    const char *pos[1];
    bool json = false;
    int npos;
    const cli_opt opts[] = {{"trust", &t.trust, NULL},
                            {"revoked", &t.revoked, NULL},
                            {"at", &t.at, NULL},
                            {"json", NULL, &json},
                            {NULL, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1 || !t.trust)
        return cli_usage_error("a bundle and --trust ROOT.pub are required");
    gosr_gmod_verify_opts o = {0};
    if ((rc = load_trust(&t, json, &o)) != CLI_EXIT_OK)
        return rc;
    int fd = open(pos[0], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        gosr_error err;
        gosr_error_set(&err, GOSR_ENOENT, "bundle_io", "cannot open %s",
                       pos[0]);
        rc = cli_report_error(json, &err, GOSR_ENOENT, CLI_EXIT_FAIL);
    } else {
        rc = verify_fd(fd, &o, json);
        close(fd);
    }
    gosr_revocations_free(t.rl);
    return rc;
}

GOSR_CLI_COMMAND(verify, "verify", cmd_verify,
                 "verify a .gmod bundle (signature, certificates, hashes)",
                 VERIFY_USAGE)

/* ---- inspect --------------------------------------------------------------
 */

static json_t *files_json(const gosr_gmod_reader *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < gosr_gmod_reader_nfiles(r); i++) {
        gosr_gmod_file f;
        char id[65];
        gosr_gmod_reader_file(r, i, &f);
        hex_hash(&f.file_id, id);
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:I, s:s, s:I}", "path", f.path, "mode",
                         f.mode == 0755 ? "0755" : "0644", "size",
                         (json_int_t)f.size, "file_id", id, "chunks",
                         (json_int_t)f.nchunks));
    }
    return a;
}

static json_t *inspect_json(const gosr_gmod_reader *r)
{
    const gosr_gmod_manifest *m = gosr_gmod_reader_manifest(r);
    const gosr_cert *c = gosr_gmod_reader_signer(r);
    char root[65], signer[65], issuer[65], kinds[32], na[21];
    hex_hash(gosr_gmod_reader_root(r), root);
    gosr_hex_encode(c->subject_pk, 32, signer);
    gosr_hex_encode(c->issuer_pk, 32, issuer);
    gosr_cert_kinds_format(c->kinds, kinds);
    gosr_time_format_rfc3339(c->not_after, na);
    return json_pack(
        "{s:b, s:b, s:I, s:s, s:O, s:o, s:I, s:{s:s, s:s, s:s, s:s, s:s}}",
        "ok", 1, "verified", 0, "bytes", (json_int_t)gosr_gmod_reader_total(r),
        "root", root, "manifest", (json_t *)m->priv_, "files", files_json(r),
        "chunks", (json_int_t)gosr_gmod_reader_nchunks(r), "signer", "name",
        c->name, "pk", signer, "issuer_pk", issuer, "kinds", kinds, "not_after",
        na);
}

static void inspect_text(const gosr_gmod_reader *r)
{
    const gosr_gmod_manifest *m = gosr_gmod_reader_manifest(r);
    char root[65];
    hex_hash(gosr_gmod_reader_root(r), root);
    printf("module   %s@%s (%s)\nengine   %s\nentry    %s\nsigner   %s\n"
           "root     %s\nbytes    %llu (%zu chunks)\n"
           "(not verified: use `gosr verify` to check signature and hashes)\n"
           "files:\n",
           m->id, m->version_text, gosr_gmod_kind_name(m->kind),
           m->engine_compat, m->entry ? m->entry : "-",
           gosr_gmod_reader_signer(r)->name, root,
           (unsigned long long)gosr_gmod_reader_total(r),
           gosr_gmod_reader_nchunks(r));
    for (size_t i = 0; i < gosr_gmod_reader_nfiles(r); i++) {
        gosr_gmod_file f;
        gosr_gmod_reader_file(r, i, &f);
        printf("  %04o %10llu  %s\n", f.mode, (unsigned long long)f.size,
               f.path);
    }
}

static int cmd_inspect(int argc, char **argv)
{
    const char *pos[1];
    bool json = false;
    int npos;
    const cli_opt opts[] = {{"json", NULL, &json}, {NULL, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error("which bundle?");
    gosr_error err;
    int fd = open(pos[0], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        gosr_error_set(&err, GOSR_ENOENT, "bundle_io", "cannot open %s",
                       pos[0]);
        return cli_report_error(json, &err, GOSR_ENOENT, CLI_EXIT_FAIL);
    }
    gosr_gmod_verify_opts o = {.no_trust = true};
    gosr_gmod_reader *r = NULL;
    rc = gosr_gmod_reader_open_fd(fd, &o, &r, &err);
    if (rc != GOSR_OK)
        rc = fail(json, &err, rc);
    else if (json)
        cli_print_json(inspect_json(r));
    else
        inspect_text(r);
    gosr_gmod_reader_destroy(r);
    close(fd);
    return rc;
}

GOSR_CLI_COMMAND(inspect, "inspect", cmd_inspect,
                 "show a .gmod bundle's manifest and files (unverified)",
                 INSPECT_USAGE)

/* ---- unpack ---------------------------------------------------------------
 */

static int cmd_unpack(int argc, char **argv)
{
    trust_args t = {0};
    const char *out = NULL, *pos[1];
    bool json = false, no_verify = false;
    int npos;
    const cli_opt opts[] = {{"out", &out, NULL},
                            {"trust", &t.trust, NULL},
                            {"revoked", &t.revoked, NULL},
                            {"at", &t.at, NULL},
                            {"no-verify", NULL, &no_verify},
                            {"json", NULL, &json},
                            {NULL, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts, pos, 1, &npos);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (npos != 1 || !out)
        return cli_usage_error("a bundle and --out DIR are required");
    if (!t.trust && !no_verify)
        return cli_usage_error("refusing to unpack an unverified bundle: "
                               "give --trust ROOT.pub (or --no-verify)");
    if (t.trust && no_verify)
        return cli_usage_error("--trust and --no-verify exclude each other");
    gosr_gmod_verify_opts o = {.no_trust = no_verify};
    if (t.trust && (rc = load_trust(&t, json, &o)) != CLI_EXIT_OK)
        return rc;
    gosr_error err;
    rc = gosr_gmod_unpack(pos[0], out, &o, &err);
    gosr_revocations_free(t.rl);
    if (rc != GOSR_OK)
        return fail(json, &err, rc);
    if (json)
        cli_print_json(json_pack("{s:b, s:s, s:b}", "ok", 1, "out", out,
                                 "verified", !no_verify));
    else
        printf("unpacked to %s%s\n", out,
               no_verify ? " (NOT verified: --no-verify)" : "");
    return CLI_EXIT_OK;
}

GOSR_CLI_COMMAND(unpack, "unpack", cmd_unpack,
                 "verify and extract a .gmod bundle into a new directory",
                 UNPACK_USAGE)
