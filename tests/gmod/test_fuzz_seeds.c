/*
 * test_fuzz_seeds.c — the seed bundles of fuzz/corpus/fuzz_gmod_bundle/:
 * checks that the committed valid seeds still verify under the fuzz
 * target's fixed trust root and time (so the fuzzer starts from inputs that
 * reach the chunk code), and regenerates them when run with
 * GOSR_WRITE_FUZZ_SEEDS=1 (after a format change).
 * Design: docs/gmod.md ("Fuzzing").
 */
#include "harness.h"

#include "gmod/gmod_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define CORPUS GOSR_SOURCE_DIR "/fuzz/corpus/fuzz_gmod_bundle"

static void fuzz_keys(gosr_keypair *root, gosr_keypair *dev, gosr_cert *cert)
{
    uint8_t seed[32];
    memset(seed, GMOD__FUZZ_ROOT_SEED, 32);
    gosr_keypair_from_seed(root, seed);
    memset(seed, GMOD__FUZZ_DEV_SEED, 32);
    gosr_keypair_from_seed(dev, seed);
    gosr_cert_issue(root, dev->pk, "fuzz", GOSR_CERT_KIND_ALL,
                    GMOD__FUZZ_NOT_BEFORE, GMOD__FUZZ_NOT_AFTER, cert, NULL);
}

static ssize_t fd_read(void *ud, void *buf, size_t n)
{
    return read(*(int *)ud, buf, n);
}

static int verify_seed(const char *path, gosr_error *e)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return GOSR_ENOENT;
    uint8_t mode;
    if (read(fd, &mode, 1) != 1 || mode != 0) {
        close(fd);
        return GOSR_EINVAL;
    }
    gosr_keypair root, dev;
    gosr_cert cert;
    fuzz_keys(&root, &dev, &cert);
    gosr_gmod_verify_opts o = {.trust_pk = root.pk, .now = GMOD__FUZZ_NOW};
    gosr_gmod_reader *r = NULL;
    int rc = gosr_gmod_reader_open(fd_read, &fd, &o, &r, e);
    bool done = false;
    while (rc == GOSR_OK && !done) {
        uint32_t i;
        const uint8_t *d;
        size_t n;
        rc = gosr_gmod_reader_next(r, &done, &i, &d, &n, e);
    }
    gosr_gmod_reader_destroy(r);
    close(fd);
    return rc;
}

static void write_seed(const char *name, uint8_t mode, const uint8_t *p,
                       size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", CORPUS, name);
    uint8_t *b = malloc(n + 1);
    b[0] = mode;
    memcpy(b + 1, p, n);
    CHECK_OK(gosr_file_write_atomic(path, b, n + 1, 0644));
    free(b);
}

static const char patch_json[] =
    "{\"schema_version\":\"1.0.0\",\"id\":\"patch-0001\",\"version\":"
    "\"1.0.1\",\"kind\":\"patch\",\"engine_compat\":\">=0.1.0 <1.0.0\","
    "\"depends\":{\"hello\":\"^0.1.0\"},\"author\":{\"type\":\"ai\","
    "\"model\":\"gen-1\",\"run_id\":\"r1\"},\"created_at\":"
    "\"2026-11-01T00:00:00Z\",\"parent_patch_id\":null,\"content\":{"
    "\"quests\":[{\"id\":\"q1\",\"title\":\"Rats\",\"npc\":\"inn\","
    "\"objectives\":[{\"type\":\"kill\",\"target\":\"rat\",\"count\":3}],"
    "\"rewards\":{\"xp\":10}}],\"economy_tuning\":{\"multipliers\":"
    "{\"xp\":1.25}},\"scripts\":[\"scripts/q1.lua\"]}}";

/* Packs a source into memory; NULL on failure. */
static uint8_t *pack_mem(const char *src, const gosr_gmod_pack_opts *o,
                         const char *name, size_t *n)
{
    char *out = gosr_asprintf("%s/%s", gosr_test_tmpdir(), name);
    gosr_error e;
    uint8_t *p = NULL;
    if (gosr_gmod_pack(src, o, out, &e) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "pack %s: %s", src, e.detail);
    else
        gosr_file_read_all(out, 1u << 20, &p, n);
    gosr_free(out);
    return p;
}

static void write_patch_tree(const char *dir)
{
    char *p = gosr_asprintf("%s/scripts", dir);
    gosr_mkdir_p(p, 0755);
    gosr_free(p);
    p = gosr_asprintf("%s/gmod.json", dir);
    gosr_file_write_atomic(p, patch_json, strlen(patch_json), 0644);
    gosr_free(p);
    char lua[3000];
    size_t k = 0;
    for (int i = 0; i < 60; i++) /* repetitive: several chunks, some equal */
        k += (size_t)snprintf(lua + k, sizeof lua - k,
                              "function step%d(ctx) return %d end\n", i % 8,
                              i % 8);
    p = gosr_asprintf("%s/scripts/q1.lua", dir);
    gosr_file_write_atomic(p, lua, k, 0644);
    gosr_free(p);
    p = gosr_asprintf("%s/scripts/q1-copy.lua", dir);
    gosr_file_write_atomic(p, lua, k, 0644);
    gosr_free(p);
}

GOSR_TEST(fuzz_seeds_regenerate_when_asked)
{
    const char *w = getenv("GOSR_WRITE_FUZZ_SEEDS");
    if (!w || strcmp(w, "1") != 0)
        return;
    gosr_keypair root, dev;
    gosr_cert cert;
    fuzz_keys(&root, &dev, &cert);
    gosr_gmod_pack_opts o = {.key = &dev, .chain = &cert, .nchain = 1};
    size_t n;
    uint8_t *hello =
        pack_mem(GOSR_SOURCE_DIR "/examples/hello", &o, "hello.gmod", &n);
    REQUIRE(hello != NULL);
    write_seed("valid_hello.bin", 0, hello, n);
    write_seed("resign_hello.bin", 1, hello, n);
    uint32_t ilen = hello[16] | hello[17] << 8 | hello[18] << 16 |
                    (uint32_t)hello[19] << 24;
    uint32_t slen = hello[20] | hello[21] << 8 | hello[22] << 16 |
                    (uint32_t)hello[23] << 24;
    write_seed("index_hello.bin", 2, hello + 64, ilen);
    write_seed("sigblock_hello.bin", 3, hello + 64 + ilen, slen);
    write_seed("header_hello.bin", 4, hello, 64);
    free(hello);

    char *dir = gosr_asprintf("%s/patch", gosr_test_tmpdir());
    write_patch_tree(dir);
    o.cdc =
        (gosr_cdc_params){.min_size = 64, .avg_size = 256, .max_size = 1024};
    uint8_t *patch = pack_mem(dir, &o, "patch.gmod", &n);
    REQUIRE(patch != NULL);
    write_seed("valid_patch.bin", 0, patch, n);
    write_seed("resign_patch.bin", 1, patch, n);
    free(patch);
    o.raw = true;
    uint8_t *raw = pack_mem(dir, &o, "raw.gmod", &n);
    REQUIRE(raw != NULL);
    write_seed("valid_patch_raw.bin", 0, raw, n);
    free(raw);
    gosr_free(dir);
}

GOSR_TEST(committed_valid_fuzz_seeds_verify)
{
    static const char *const seeds[] = {"valid_hello.bin", "valid_patch.bin",
                                        "valid_patch_raw.bin"};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", CORPUS, seeds[i]);
        gosr_error e;
        gosr_error_clear(&e);
        int rc = verify_seed(path, &e);
        if (rc != GOSR_OK)
            gosr_test_fail(__FILE__, __LINE__, "%s: %s %s (%s)", seeds[i],
                           gosr_status_name(rc), e.reason, e.detail);
    }
}
