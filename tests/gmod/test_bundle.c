/*
 * test_bundle.c — .gmod bundles end to end through the library: pack is
 * deterministic and deduplicates; pack -> verify -> unpack gives the same
 * tree; a flipped byte at EVERY offset of a bundle is rejected with the
 * reason expected for its region; certificate failures (expired, not yet
 * valid, revoked, untrusted, wrong kind, signer mismatch) and gmod.json
 * expiry; path attacks and size lies inside validly SIGNED manifests;
 * unpack refuses unverified input and leaves nothing behind on failure;
 * declared sizes are bounded before allocation.
 * Design under test: docs/gmod.md.
 */
#include "harness.h"

#include "crypto/cert_int.h" /* struct gosr_revocations, to build a list */
#include "gmod/gmod_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW 1795000000 /* 2026-11-18, inside every test certificate */

/* ---- fixtures ------------------------------------------------------------ */

/* Keys and certificates shared by the tests. */
typedef struct fixture {
    gosr_keypair root;  /* trust root */
    gosr_keypair dev;   /* bundle signer */
    gosr_keypair other; /* a key nobody trusts */
    gosr_cert cert;     /* dev, issued by root, kinds game+mod */
} fixture;

static void keys(fixture *f)
{
    uint8_t seed[32];
    memset(seed, 1, 32);
    gosr_keypair_from_seed(&f->root, seed);
    memset(seed, 2, 32);
    gosr_keypair_from_seed(&f->dev, seed);
    memset(seed, 3, 32);
    gosr_keypair_from_seed(&f->other, seed);
    gosr_cert_issue(&f->root, f->dev.pk, "dev",
                    GOSR_CERT_KIND_GAME | GOSR_CERT_KIND_MOD, NOW - 86400,
                    NOW + 86400, &f->cert, NULL);
}

static void write_file(const char *dir, const char *name, const void *p,
                       size_t n, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    gosr_mkdir_p(path, 0755);
    *slash = '/';
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd >= 0) {
        if (n)
            gosr_io_write_all(fd, p, n);
        fchmod(fd, mode);
        close(fd);
    }
}

static const char game_json[] =
    "{\"schema_version\":\"1.0.0\",\"id\":\"testgame\",\"version\":"
    "\"1.0.0\",\"kind\":\"game\",\"engine_compat\":\"^0.1.0\","
    "\"entry\":\"main.lua\",\"capabilities\":[\"log\"],\"author\":"
    "{\"type\":\"human\",\"name\":\"T\"},\"created_at\":"
    "\"2026-11-01T00:00:00Z\",\"expires\":\"2027-01-01T00:00:00Z\"}";

/* A source tree: manifest, script, 64 KiB of pseudo-random data twice
 * (dedup), an empty file and an executable one. Returns its path. */
static const char *make_tree(const char *name)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", gosr_test_tmpdir(), name);
    write_file(dir, "gmod.json", game_json, strlen(game_json), 0644);
    const char *lua = "function tick(ctx) end\n";
    write_file(dir, "main.lua", lua, strlen(lua), 0644);
    size_t n = 64 * 1024;
    uint8_t *data = malloc(n);
    uint64_t s = 42;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        data[i] = (uint8_t)(s >> 56);
    }
    write_file(dir, "assets/a.bin", data, n, 0644);
    write_file(dir, "assets/copy.bin", data, n, 0644);
    write_file(dir, "empty.txt", "", 0, 0644);
    write_file(dir, "tools/run.sh", "#!/bin/sh\n", 10, 0755);
    free(data);
    return dir;
}

static const gosr_gmod_pack_opts *pack_opts(fixture *f)
{
    static gosr_gmod_pack_opts o;
    o = (gosr_gmod_pack_opts){
        .key = &f->dev,
        .chain = &f->cert,
        .nchain = 1,
        .cdc = {.min_size = 2048, .avg_size = 8192, .max_size = 32768}};
    return &o;
}

static gosr_gmod_verify_opts trust(const fixture *f)
{
    return (gosr_gmod_verify_opts){.trust_pk = f->root.pk, .now = NOW};
}

/* In-memory byte source for the streaming reader's callback interface. */
typedef struct mem_src {
    const uint8_t *p; /* bytes */
    size_t n;         /* length */
    size_t off;       /* read position */
} mem_src;

static ssize_t mem_read(void *ud, void *buf, size_t n)
{
    mem_src *m = ud;
    size_t k = m->n - m->off < n ? m->n - m->off : n;
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return (ssize_t)k;
}

/* Full verification of an in-memory bundle. */
static int verify_mem(const uint8_t *p, size_t n,
                      const gosr_gmod_verify_opts *o, gosr_error *e)
{
    gosr_gmod_reader *r = NULL;
    gosr_error_clear(e);
    int rc = gosr_gmod_reader_open_mem(p, n, o, &r, e);
    bool done = false;
    while (rc == GOSR_OK && !done) {
        uint32_t i;
        const uint8_t *d;
        size_t len;
        rc = gosr_gmod_reader_next(r, &done, &i, &d, &len, e);
    }
    gosr_gmod_reader_destroy(r);
    return rc;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    uint8_t *p = NULL;
    if (gosr_file_read_all(path, 1u << 26, &p, n) != GOSR_OK)
        return NULL;
    return p;
}

static char *pack_tree(fixture *f, const char *src, const char *name)
{
    char *out = gosr_asprintf("%s/%s", gosr_test_tmpdir(), name);
    gosr_error e;
    int rc = gosr_gmod_pack(src, pack_opts(f), out, &e);
    if (rc != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "pack: %s: %s", e.reason, e.detail);
    return out;
}

/* ---- pack, verify, unpack -------------------------------------------------
 */

GOSR_TEST(pack_is_deterministic_and_deduplicates)
{
    fixture f;
    keys(&f);
    const char *src = make_tree("src");
    char *a = pack_tree(&f, src, "a.gmod"), *b = pack_tree(&f, src, "b.gmod");
    size_t na, nb;
    uint8_t *pa = slurp(a, &na), *pb = slurp(b, &nb);
    REQUIRE(pa && pb);
    CHECK_EQ(na, nb);
    CHECK(na == nb && memcmp(pa, pb, na) == 0);

    gosr_gmod_verify_opts o = trust(&f);
    int fd = open(a, O_RDONLY);
    gosr_gmod_reader *r = NULL;
    gosr_error e;
    CHECK_OK(gosr_gmod_reader_open_fd(fd, &o, &r, &e));
    REQUIRE(r != NULL);
    CHECK_EQ(gosr_gmod_reader_nfiles(r), 6);
    size_t refs = 0;
    for (size_t i = 0; i < gosr_gmod_reader_nfiles(r); i++) {
        gosr_gmod_file file;
        gosr_gmod_reader_file(r, i, &file);
        refs += file.nchunks;
        if (strcmp(file.path, "tools/run.sh") == 0)
            CHECK_EQ(file.mode, 0755);
        if (strcmp(file.path, "empty.txt") == 0)
            CHECK_EQ(file.nchunks, 0);
    }
    /* copy.bin adds references but no chunk records */
    CHECK_UINT(gosr_gmod_reader_nchunks(r) + 4, <=, refs);
    CHECK_UINT(gosr_gmod_reader_nchunks(r), >=, 6); /* 64 KiB / <=32 KiB */
    CHECK_STR(gosr_gmod_reader_manifest(r)->id, "testgame");
    CHECK_STR(gosr_gmod_reader_signer(r)->name, "dev");
    gosr_gmod_reader_destroy(r);
    close(fd);
    free(pa);
    free(pb);
    gosr_free(a);
    gosr_free(b);
}

GOSR_TEST(pack_verify_unpack_round_trip)
{
    fixture f;
    keys(&f);
    const char *src = make_tree("src");
    char *bundle = pack_tree(&f, src, "x.gmod");
    gosr_gmod_verify_opts o = trust(&f);
    gosr_error e;
    CHECK_OK(gosr_gmod_verify_file(bundle, &o, &e));
    char *out = gosr_asprintf("%s/out", gosr_test_tmpdir());
    CHECK_OK(gosr_gmod_unpack(bundle, out, &o, &e));
    CHECK_EQ(gosr_test_system("diff -r '%s' '%s'", src, out), 0);
    char *sh = gosr_asprintf("%s/tools/run.sh", out);
    struct stat st;
    CHECK(stat(sh, &st) == 0 && (st.st_mode & 0777) == 0755);
    CHECK(stat(out, &st) == 0 && (st.st_mode & 0777) == 0755);
    /* the target now exists: a second unpack is refused */
    CHECK_STATUS(gosr_gmod_unpack(bundle, out, &o, &e), GOSR_EEXIST);
    gosr_free(sh);
    gosr_free(out);
    gosr_free(bundle);
}

/* The signed head alone (a mesh package carries it): verifies, gives the
 * bundle's root and files, refuses trailing or missing bytes and a flipped
 * signature bit, and has no chunk records to hand out. */
GOSR_TEST(signed_head_verifies_alone)
{
    fixture f;
    keys(&f);
    char *bundle = pack_tree(&f, make_tree("src"), "h.gmod");
    gosr_gmod_verify_opts o = trust(&f);
    gosr_error e;
    gosr_buf head = {0};
    gosr_gmod_reader *whole = NULL, *r = NULL;
    size_t n = 0;
    uint8_t *all = slurp(bundle, &n);
    CHECK_OK(gosr_gmod_head_read(bundle, &head, &e));
    CHECK(head.len > 64 && head.len < n);
    CHECK_MEM(head.data, all, head.len);
    CHECK_OK(gosr_gmod_reader_open_mem(all, n, &o, &whole, &e));
    CHECK_OK(gosr_gmod_head_open(head.data, head.len, &o, &r, &e));
    CHECK(gosr_hash_equal(gosr_gmod_reader_root(r), gosr_gmod_reader_root(whole)));
    CHECK_EQ(gosr_gmod_reader_nfiles(r), gosr_gmod_reader_nfiles(whole));
    bool done = false;
    uint32_t i;
    const uint8_t *d;
    size_t len;
    CHECK_STATUS(gosr_gmod_reader_next(r, &done, &i, &d, &len, &e),
                 GOSR_EFORMAT);
    CHECK_STR(e.reason, "bundle_truncated");
    gosr_gmod_reader_destroy(r);
    /* one byte too many, one too few, a flipped bit in the signature */
    CHECK_STATUS(gosr_gmod_head_open(all, head.len + 1, &o, &r, &e),
                 GOSR_EFORMAT);
    CHECK_STR(e.reason, "head_trailing");
    CHECK_STATUS(gosr_gmod_head_open(all, head.len - 1, &o, &r, &e),
                 GOSR_EFORMAT);
    CHECK_STR(e.reason, "bundle_truncated");
    head.data[head.len - 1] ^= 1;
    CHECK(gosr_gmod_head_open(head.data, head.len, &o, &r, &e) != GOSR_OK);
    CHECK(r == NULL);
    gosr_gmod_reader_destroy(whole);
    gosr_buf_free(&head);
    gosr_free(all);
    gosr_free(bundle);
}

GOSR_TEST(pack_refuses_bad_sources)
{
    fixture f;
    keys(&f);
    gosr_error e;
    char *dir = gosr_asprintf("%s/bad", gosr_test_tmpdir());
    char *out = gosr_asprintf("%s/bad.gmod", gosr_test_tmpdir());
    const char *lua = "x = 1\n";
    write_file(dir, "other.lua", lua, strlen(lua), 0644);
    CHECK_STATUS(gosr_gmod_pack(dir, pack_opts(&f), out, &e), GOSR_ENOENT);
    CHECK_STR(e.reason, "manifest_missing");
    write_file(dir, "gmod.json", game_json, strlen(game_json), 0644);
    CHECK_STATUS(gosr_gmod_pack(dir, pack_opts(&f), out, &e), GOSR_EFORMAT);
    CHECK_STR(e.reason, "manifest_missing_file"); /* main.lua absent */
    write_file(dir, "main.lua", lua, strlen(lua), 0644);
    CHECK_EQ(gosr_test_system("ln -s /etc/passwd '%s/link'", dir), 0);
    CHECK_STATUS(gosr_gmod_pack(dir, pack_opts(&f), out, &e),
                 GOSR_EUNSUPPORTED);
    CHECK_STR(e.reason, "pack_unsupported_file");
    CHECK(access(out, F_OK) != 0);
    gosr_gmod_pack_opts o = *pack_opts(&f);
    o.key = &f.other; /* certificate is for dev */
    CHECK_STATUS(gosr_gmod_pack(dir, &o, out, &e), GOSR_EINVAL);
    CHECK_STR(e.reason, "signer_cert_mismatch");
    gosr_free(dir);
    gosr_free(out);
}

/* ---- tampering ------------------------------------------------------------
 */

static bool in_list(const char *reason, const char *const *list)
{
    for (; *list; list++) {
        size_t n = strlen(*list);
        if ((*list)[n - 1] == '*' ? strncmp(reason, *list, n - 1) == 0
                                  : strcmp(reason, *list) == 0)
            return true;
    }
    return false;
}

GOSR_TEST(every_flipped_byte_is_rejected_with_its_regions_reason)
{
    fixture f;
    keys(&f);
    const char *src = make_tree("src");
    /* smaller bundle: drop the big files so every offset stays cheap */
    gosr_test_system("rm -f '%s/assets/a.bin' '%s/assets/copy.bin'", src, src);
    write_file(src, "assets/z.txt", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 36,
               0644);
    char *bundle = pack_tree(&f, src, "t.gmod");
    size_t n;
    uint8_t *p = slurp(bundle, &n);
    REQUIRE(p != NULL);
    uint32_t ilen = p[16] | p[17] << 8 | p[18] << 16 | (uint32_t)p[19] << 24;
    uint32_t slen = p[20] | p[21] << 8 | p[22] << 16 | (uint32_t)p[23] << 24;
    size_t idx_end = 64 + ilen, sig_end = idx_end + slen;
    static const char *const magic[] = {"bundle_bad_magic", NULL};
    static const char *const version[] = {"bundle_bad_version", NULL};
    static const char *const hdr[] = {"bundle_bad_header", NULL};
    static const char *const sizes[] = {"bundle_size_limit", "size_mismatch",
                                        "signature_invalid", NULL};
    static const char *const index[] = {"signature_invalid", NULL};
    static const char *const sig[] = {"sigblock_malformed", "signature_invalid",
                                      "signer_cert_mismatch", "cert_*", NULL};
    static const char *const chunk[] = {"chunk_hash_mismatch",
                                        "chunk_decode_failed", NULL};
    gosr_gmod_verify_opts o = trust(&f);
    gosr_error e;
    CHECK_OK(verify_mem(p, n, &o, &e));
    int counts[7] = {0};
    for (size_t off = 0; off < n; off++) {
        int region = off < 8                               ? 0
                     : off < 10                            ? 1
                     : off < 16 || (off >= 48 && off < 64) ? 2
                     : off < 64                            ? 3
                     : off < idx_end                       ? 4
                     : off < sig_end                       ? 5
                                                           : 6;
        static const char *const *const want[] = {magic, version, hdr,  sizes,
                                                  index, sig,     chunk};
        for (int bit = 0; bit < 8; bit += 7) { /* low and high bit */
            p[off] ^= (uint8_t)(1u << bit);
            int rc = verify_mem(p, n, &o, &e);
            p[off] ^= (uint8_t)(1u << bit);
            if (rc == GOSR_OK || !in_list(e.reason, want[region]))
                gosr_test_fail(__FILE__, __LINE__,
                               "offset %zu bit %d (region %d): rc %d reason "
                               "'%s' (%s)",
                               off, bit, region, rc, e.reason, e.detail);
        }
        counts[region]++;
    }
    CHECK_EQ(counts[0] + counts[1] + counts[2] + counts[3], 64);
    CHECK(counts[4] > 0 && counts[5] > 0 && counts[6] > 0);
    /* truncation at every length and one trailing byte */
    for (size_t len = 0; len < n; len += 7) {
        int rc = verify_mem(p, len, &o, &e);
        CHECK(rc != GOSR_OK);
        if (len >= 64 && rc != GOSR_OK)
            CHECK_STR(e.reason, "bundle_truncated");
    }
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, p, n);
    longer[n] = 0;
    CHECK_STATUS(verify_mem(longer, n + 1, &o, &e), GOSR_EFORMAT);
    CHECK_STR(e.reason, "trailing_bytes");
    free(longer);
    free(p);
    gosr_free(bundle);
}

/* ---- certificates and expiry ----------------------------------------------
 */

static void expect_reject(const char *bundle, const gosr_gmod_verify_opts *o,
                          const char *reason, int line)
{
    gosr_error e;
    gosr_error_clear(&e);
    int rc = gosr_gmod_verify_file(bundle, o, &e);
    if (rc == GOSR_OK || strcmp(e.reason, reason) != 0)
        gosr_test_fail(__FILE__, line, "want %s, got rc %d '%s' (%s)", reason,
                       rc, e.reason, e.detail);
}

GOSR_TEST(certificate_and_expiry_failures_are_rejected)
{
    fixture f;
    keys(&f);
    const char *src = make_tree("src");
    char *bundle = pack_tree(&f, src, "c.gmod");
    gosr_gmod_verify_opts o = trust(&f);

    o.now = NOW + 2 * 86400; /* past the certificate */
    expect_reject(bundle, &o, "cert_expired", __LINE__);
    o.now = NOW - 2 * 86400;
    expect_reject(bundle, &o, "cert_not_yet_valid", __LINE__);
    o = trust(&f);
    o.trust_pk = f.other.pk;
    expect_reject(bundle, &o, "cert_untrusted_issuer", __LINE__);

    /* revoked by key */
    uint8_t keys_list[1][32];
    memcpy(keys_list[0], f.dev.pk, 32);
    struct gosr_revocations rl = {.n_keys = 1, .keys = keys_list};
    memcpy(rl.issuer_pk, f.root.pk, 32);
    o = trust(&f);
    o.revoked = &rl;
    expect_reject(bundle, &o, "cert_revoked", __LINE__);

    /* a certificate for patches only cannot sign a game */
    gosr_cert patch_only;
    CHECK_OK(gosr_cert_issue(&f.root, f.dev.pk, "dev", GOSR_CERT_KIND_PATCH,
                             NOW - 86400, NOW + 86400, &patch_only, NULL));
    gosr_gmod_pack_opts po = *pack_opts(&f);
    po.chain = &patch_only;
    char *wrong = gosr_asprintf("%s/wrong-kind.gmod", gosr_test_tmpdir());
    gosr_error e;
    CHECK_OK(gosr_gmod_pack(src, &po, wrong, &e));
    o = trust(&f);
    expect_reject(wrong, &o, "cert_kind_not_allowed", __LINE__);

    /* gmod.json "expires" (2027-01-01) is enforced too */
    gosr_cert long_cert;
    CHECK_OK(gosr_cert_issue(&f.root, f.dev.pk, "dev", GOSR_CERT_KIND_ALL,
                             NOW - 86400, NOW + 400 * 86400, &long_cert, NULL));
    po.chain = &long_cert;
    char *late = gosr_asprintf("%s/late.gmod", gosr_test_tmpdir());
    CHECK_OK(gosr_gmod_pack(src, &po, late, &e));
    o.now = 1798761600 + 10; /* 2027-01-01T00:00:10Z */
    expect_reject(late, &o, "bundle_expired", __LINE__);
    o.now = 1798761600 - 10;
    CHECK_OK(gosr_gmod_verify_file(late, &o, &e));

    /* a two-link chain: root -> intermediate -> dev */
    gosr_cert inter, leaf, chain[2];
    CHECK_OK(gosr_cert_issue(&f.root, f.other.pk, "studio", GOSR_CERT_KIND_ALL,
                             NOW - 86400, NOW + 86400, &inter, NULL));
    CHECK_OK(gosr_cert_issue(&f.other, f.dev.pk, "dev", GOSR_CERT_KIND_GAME,
                             NOW - 86400, NOW + 86400, &leaf, NULL));
    chain[0] = leaf;
    chain[1] = inter;
    po.chain = chain;
    po.nchain = 2;
    char *chained = gosr_asprintf("%s/chain.gmod", gosr_test_tmpdir());
    CHECK_OK(gosr_gmod_pack(src, &po, chained, &e));
    o = trust(&f);
    CHECK_OK(gosr_gmod_verify_file(chained, &o, &e));
    memcpy(keys_list[0], f.other.pk, 32); /* revoke the intermediate */
    o.revoked = &rl;
    expect_reject(chained, &o, "cert_revoked", __LINE__);
    gosr_free(chained);
    gosr_free(late);
    gosr_free(wrong);
    gosr_free(bundle);
}

/* ---- signed but malicious manifests ---------------------------------------
 */

/* Signs raw index bytes exactly as the writer would, with any chain. */
static void sign_raw(const gosr_buf *index, uint32_t nchunks, uint32_t nfiles,
                     uint64_t chunk_bytes, const gosr_keypair *kp,
                     const gosr_cert *cert, gosr_buf *out)
{
    gmod__sigblock sb = {.nchain = 1};
    memcpy(sb.signer_pk, kp->pk, 32);
    sb.chain[0] = *cert;
    gosr_buf sig = {0};
    gmod__sigblock_encode(&sb, &sig);
    gmod__header h = {(uint32_t)index->len,
                      (uint32_t)sig.len,
                      nchunks,
                      nfiles,
                      chunk_bytes,
                      64 + index->len + sig.len + chunk_bytes};
    uint8_t head[64], msg[48];
    gmod__header_encode(&h, head);
    gmod__sig_message(head, index->data, index->len, msg);
    gosr_sign(kp, msg, 48, sig.data + sig.len - 64);
    gosr_buf_append(out, head, 64);
    gosr_buf_append(out, index->data, index->len);
    gosr_buf_append(out, sig.data, sig.len);
    gosr_buf_free(&sig);
}

/* Builds a signed bundle whose files are `paths` (each holding "x = 1\n",
 * one shared raw chunk), then replaces every '#' in the encoded index by a
 * NUL byte. `size_lie` is added to the last file's declared size. */
static void evil_bundle(fixture *f, const char *const *paths, uint32_t n,
                        uint64_t size_lie, gosr_buf *out)
{
    static const char body[] = "x = 1\n";
    gmod__index x = {0};
    x.json = (uint8_t *)game_json;
    x.json_len = (uint32_t)strlen(game_json);
    gosr_gmod_chunk chunk = {
        .plain_len = 6, .stored_len = 6, .codec = GOSR_CODEC_RAW};
    gosr_blake3_hash(body, 6, &chunk.id);
    chunk.stored_id = chunk.id;
    x.chunks = &chunk;
    x.nchunks = 1;
    gmod__file files[8];
    uint32_t zero = 0;
    gosr_chunk_ref ref = {chunk.id, 6};
    for (uint32_t i = 0; i < n; i++) {
        files[i] = (gmod__file){(char *)paths[i], 0644, 6, {{0}}, 1, &zero};
        gosr_merkle_file_id(&ref, 1, &files[i].file_id);
    }
    files[n - 1].size += size_lie;
    x.files = files;
    x.nfiles = n;
    gosr_tree_entry te[8];
    for (uint32_t i = 0; i < n; i++)
        te[i] =
            (gosr_tree_entry){paths[i], 0644, files[i].size, files[i].file_id};
    gosr_merkle_tree_id(te, n, &x.root); /* may refuse: root stays zero */
    gosr_buf idx = {0};
    gmod__index_encode(&x, &idx);
    for (size_t i = 12 + x.json_len; i < idx.len; i++)
        if (idx.data[i] == '#')
            idx.data[i] = 0;
    sign_raw(&idx, 1, n, 6, &f->dev, &f->cert, out);
    gosr_buf_append(out, body, 6);
    gosr_buf_free(&idx);
}

GOSR_TEST(signed_path_attacks_and_size_lies_are_rejected)
{
    fixture f;
    keys(&f);
    static const struct {
        const char *paths[4]; /* file list (sorted as the writer would) */
        uint32_t n;           /* files */
        uint64_t lie;         /* bytes added to the last declared size */
        const char *reason;   /* expected */
    } cases[] = {
        {{"../x", "main.lua"}, 2, 0, "path_unsafe"},
        {{"/abs", "main.lua"}, 2, 0, "path_unsafe"},
        {{"a/../../b", "main.lua"}, 2, 0, "path_unsafe"},
        {{"a#b", "main.lua"}, 2, 0, "path_unsafe"}, /* NUL inside */
        {{"a\\b", "main.lua"}, 2, 0, "path_unsafe"},
        {{"main.lua", "main.lua"}, 2, 0, "path_duplicate"},
        {{"a", "a/b", "main.lua"}, 3, 0, "path_conflict"},
        {{"main.lua", "b"}, 2, 0, "bundle_manifest_malformed"}, /* order */
        {{"a", "main.lua"}, 2, 1, "size_mismatch"},
        {{"other.lua"}, 1, 0, "manifest_missing_file"},
        {{"a", "main.lua"}, 2, 0, NULL}, /* control: valid */
    };
    gosr_gmod_verify_opts o = trust(&f);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gosr_buf b = {0};
        gosr_error e;
        evil_bundle(&f, cases[i].paths, cases[i].n, cases[i].lie, &b);
        int rc = verify_mem(b.data, b.len, &o, &e);
        if (!cases[i].reason) {
            if (rc != GOSR_OK)
                gosr_test_fail(__FILE__, __LINE__, "control: %s (%s)", e.reason,
                               e.detail);
        } else if (rc == GOSR_OK || strcmp(e.reason, cases[i].reason) != 0) {
            gosr_test_fail(__FILE__, __LINE__, "case %zu: want %s, got '%s'", i,
                           cases[i].reason, e.reason);
        }
        /* unpack (even without trust) must refuse and leave nothing */
        char *file = gosr_asprintf("%s/evil%zu.gmod", gosr_test_tmpdir(), i);
        char *out = gosr_asprintf("%s/evil%zu", gosr_test_tmpdir(), i);
        gosr_file_write_atomic(file, b.data, b.len, 0644);
        gosr_gmod_verify_opts nt = {.no_trust = true};
        rc = gosr_gmod_unpack(file, out, &nt, &e);
        CHECK(cases[i].reason ? rc != GOSR_OK : rc == GOSR_OK);
        CHECK(cases[i].reason ? access(out, F_OK) != 0 : true);
        gosr_free(file);
        gosr_free(out);
        gosr_buf_free(&b);
    }
}

/* ---- unpack policy and bounds ---------------------------------------------
 */

GOSR_TEST(unpack_refuses_unverified_and_cleans_up_on_failure)
{
    fixture f;
    keys(&f);
    const char *src = make_tree("src");
    char *bundle = pack_tree(&f, src, "u.gmod");
    char *out = gosr_asprintf("%s/u", gosr_test_tmpdir());
    gosr_gmod_verify_opts none = {0};
    gosr_error e;
    CHECK_STATUS(gosr_gmod_unpack(bundle, out, &none, &e), GOSR_EINVAL);
    CHECK_STR(e.reason, "bad_argument");
    CHECK(access(out, F_OK) != 0);

    /* untrusted signer: refused with trust, accepted with no_trust */
    gosr_gmod_verify_opts o = trust(&f);
    o.trust_pk = f.other.pk;
    CHECK_STATUS(gosr_gmod_unpack(bundle, out, &o, &e), GOSR_ECERT);
    CHECK(access(out, F_OK) != 0);
    gosr_gmod_verify_opts nt = {.no_trust = true};
    CHECK_OK(gosr_gmod_unpack(bundle, out, &nt, &e));
    CHECK_EQ(gosr_test_system("diff -r '%s' '%s'", src, out), 0);

    /* a corrupt last chunk: the earlier files were written into staging,
     * yet nothing remains anywhere afterwards */
    size_t n;
    uint8_t *p = slurp(bundle, &n);
    REQUIRE(p != NULL);
    p[n - 1] ^= 0x40;
    char *bad = gosr_asprintf("%s/bad.gmod", gosr_test_tmpdir());
    gosr_file_write_atomic(bad, p, n, 0644);
    char *out2 = gosr_asprintf("%s/u2", gosr_test_tmpdir());
    o = trust(&f);
    int rc = gosr_gmod_unpack(bad, out2, &o, &e);
    CHECK(rc == GOSR_ECORRUPT);
    CHECK(access(out2, F_OK) != 0);
    CHECK_EQ(gosr_test_system("ls -d '%s'.unpack-* 2>/dev/null", out2) == 0, 0);
    free(p);
    gosr_free(out2);
    gosr_free(bad);
    gosr_free(out);
    gosr_free(bundle);
}

GOSR_TEST(declared_sizes_are_bounded_before_allocation)
{
    fixture f;
    keys(&f);
    gmod__header h = {GOSR_GMOD_MAX_INDEX + 1, 200, 1, 1, 10, 0};
    h.total = 64 + (uint64_t)h.index_len + h.sig_len + h.chunk_bytes;
    uint8_t head[64];
    gmod__header_encode(&h, head);
    gosr_gmod_verify_opts o = trust(&f);
    gosr_error e;
    CHECK_STATUS(verify_mem(head, 64, &o, &e), GOSR_ETOOBIG);
    CHECK_STR(e.reason, "bundle_size_limit");
    /* a 4 GiB chunk area is over a 1 MiB reader limit */
    h = (gmod__header){100, 200, 1, 1, 4ull << 30, 0};
    h.total = 64 + 100 + 200 + h.chunk_bytes;
    gmod__header_encode(&h, head);
    o.max_bundle = 1 << 20;
    CHECK_STATUS(verify_mem(head, 64, &o, &e), GOSR_ETOOBIG);
    CHECK_STR(e.reason, "bundle_size_limit");
    /* an index claiming a million chunks in 100 bytes */
    gosr_buf idx = {0};
    gosr_buf_append(&idx, "GMAN\x01\x00\x00\x00\x00\x00\x00\x00", 12);
    uint8_t zero[32] = {0};
    gosr_buf_append(&idx, zero, 32);
    gosr_buf_append(&idx, "\x00\x00\x10\x00", 4);
    gmod__index x;
    CHECK_STATUS(gmod__index_decode(idx.data, idx.len, &x, &e), GOSR_EFORMAT);
    CHECK_STR(e.reason, "bundle_manifest_malformed");
    gmod__index_free(&x);
    gosr_buf_free(&idx);
}

GOSR_TEST(reader_survives_allocation_failures)
{
    fixture f;
    keys(&f);
    const char *src = make_tree("src");
    char *bundle = pack_tree(&f, src, "m.gmod");
    size_t n;
    uint8_t *p = slurp(bundle, &n);
    REQUIRE(p != NULL);
    gosr_gmod_verify_opts o = trust(&f);
    for (long k = 1; k < 400; k++) {
        gosr_error e;
        gosr_alloc_fail_after(k);
        int rc = verify_mem(p, n, &o, &e);
        gosr_alloc_fail_after(0);
        if (rc == GOSR_OK)
            break;
        if (rc != GOSR_ENOMEM)
            gosr_test_fail(__FILE__, __LINE__, "fail at %ld: %s (%s)", k,
                           e.reason, e.detail);
    }
    free(p);
    gosr_free(bundle);
}

GOSR_TEST(pack_and_unpack_survive_allocation_failures)
{
    fixture f;
    keys(&f);
    const char *src = make_tree("src");
    char *bundle = gosr_asprintf("%s/oom.gmod", gosr_test_tmpdir());
    gosr_error e;
    long k;
    for (k = 1; k < 2000; k++) {
        gosr_alloc_fail_after(k);
        int rc = gosr_gmod_pack(src, pack_opts(&f), bundle, &e);
        gosr_alloc_fail_after(0);
        if (rc == GOSR_OK)
            break;
        if (rc != GOSR_ENOMEM)
            gosr_test_fail(__FILE__, __LINE__, "pack fail at %ld: %s (%s)", k,
                           e.reason, e.detail);
        CHECK(access(bundle, F_OK) != 0);
    }
    CHECK(k < 2000);
    gosr_gmod_verify_opts o = trust(&f);
    CHECK_OK(gosr_gmod_verify_file(bundle, &o, &e));
    for (k = 1; k < 2000; k++) {
        char *out = gosr_asprintf("%s/oom-out", gosr_test_tmpdir());
        gosr_alloc_fail_after(k);
        int rc = gosr_gmod_unpack(bundle, out, &o, &e);
        gosr_alloc_fail_after(0);
        bool exists = access(out, F_OK) == 0;
        gosr_free(out);
        if (rc == GOSR_OK)
            break;
        if (rc != GOSR_ENOMEM)
            gosr_test_fail(__FILE__, __LINE__, "unpack fail at %ld: %s (%s)", k,
                           e.reason, e.detail);
        CHECK(!exists);
    }
    CHECK(k < 2000);
    CHECK_EQ(gosr_test_system("ls '%s' | grep -c -e unpack- -e tmp- -e "
                              "spool- >/dev/null",
                              gosr_test_tmpdir()) == 0,
             0);
    gosr_free(bundle);
}

/* A byte source that returns one byte per call and counts the calls. */
typedef struct trickle {
    mem_src m;      /* underlying bytes */
    size_t calls;   /* read calls made */
    size_t max_ask; /* largest n asked for */
} trickle;

static ssize_t trickle_read(void *ud, void *buf, size_t n)
{
    trickle *t = ud;
    t->calls++;
    if (n > t->max_ask)
        t->max_ask = n;
    return mem_read(&t->m, buf, n ? 1 : 0);
}

GOSR_TEST(reader_streams_through_one_byte_reads_chunk_by_chunk)
{
    fixture f;
    keys(&f);
    const char *src = make_tree("src");
    char *bundle = pack_tree(&f, src, "s.gmod");
    size_t n;
    uint8_t *p = slurp(bundle, &n);
    REQUIRE(p != NULL);
    trickle t = {{p, n, 0}, 0, 0};
    gosr_gmod_verify_opts o = trust(&f);
    gosr_gmod_reader *r = NULL;
    gosr_error e;
    CHECK_OK(gosr_gmod_reader_open(trickle_read, &t, &o, &r, &e));
    REQUIRE(r != NULL);
    /* the head was read, the chunk records not yet */
    size_t chunk_bytes = 0;
    for (size_t i = 0; i < gosr_gmod_reader_nchunks(r); i++) {
        gosr_gmod_chunk c;
        gosr_gmod_reader_chunk(r, i, &c);
        chunk_bytes += c.stored_len;
    }
    CHECK_EQ(t.m.off, n - chunk_bytes);
    bool done = false;
    uint32_t expect = 0;
    while (!done) {
        uint32_t i;
        const uint8_t *d;
        size_t len;
        size_t before = t.m.off;
        CHECK_OK(gosr_gmod_reader_next(r, &done, &i, &d, &len, &e));
        if (!done) {
            gosr_gmod_chunk c;
            gosr_gmod_reader_chunk(r, i, &c);
            CHECK_EQ(i, expect++);
            CHECK_EQ(len, c.plain_len);
            CHECK_EQ(t.m.off - before, c.stored_len); /* one record each */
        }
    }
    CHECK_EQ(t.m.off, n);
    CHECK_UINT(t.calls, >=, n);
    CHECK_UINT(t.max_ask, <=, 64 * 1024); /* never the whole bundle */
    gosr_gmod_reader_destroy(r);
    free(p);
    gosr_free(bundle);
}
