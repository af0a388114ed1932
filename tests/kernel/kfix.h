/*
 * kfix.h — fixtures shared by the kernel tests: a trust root and a signing
 * certificate, packing a module directory (or a generated one) into a
 * signed .gmod, reading entity x positions. Design under test:
 * docs/kernel.md.
 */
#ifndef GOSR_TESTS_KFIX_H
#define GOSR_TESTS_KFIX_H

#include "harness.h"

#include "gosr/crypto.h"
#include "gosr/gmod.h"
#include "gosr/kernel.h"

#include <stdlib.h>
#include <sys/stat.h>

typedef struct kfix {
    gosr_keypair root; /* trust root */
    gosr_keypair dev;  /* signer */
    gosr_cert cert;    /* dev's certificate, issued by root */
} kfix;

static inline void kfix_keys(kfix *f)
{
    uint8_t seed[32];
    memset(seed, 7, 32);
    gosr_keypair_from_seed(&f->root, seed);
    memset(seed, 8, 32);
    gosr_keypair_from_seed(&f->dev, seed);
    int64_t now = (int64_t)(gosr_time_wall_ns() / 1000000000u);
    gosr_cert_issue(&f->root, f->dev.pk, "dev",
                    GOSR_CERT_KIND_GAME | GOSR_CERT_KIND_MOD, now - 86400,
                    now + 86400 * 365, &f->cert, NULL);
}

/* Packs directory src into OUT (a path the caller frees). */
static inline char *kfix_pack(const kfix *f, const char *src, const char *name)
{
    char *out = gosr_asprintf("%s/%s.gmod", gosr_test_tmpdir(), name);
    gosr_gmod_pack_opts o = {.key = &f->dev, .chain = &f->cert, .nchain = 1};
    gosr_error err = {0};
    if (gosr_gmod_pack(src, &o, out, &err) != GOSR_OK) {
        gosr_test_fail(__FILE__, __LINE__, "pack %s: %s: %s", src, err.reason,
                       err.detail);
    }
    return out;
}

/* Packs examples/mover/vN. */
static inline char *kfix_mover(const kfix *f, int v)
{
    char src[512], name[32];
    snprintf(src, sizeof src, "%s/examples/mover/v%d", GOSR_SOURCE_DIR, v);
    snprintf(name, sizeof name, "mover-v%d", v);
    return kfix_pack(f, src, name);
}

static inline void kfix_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

/* Generates and packs a module `id`@`version` with the given depends
 * object text, engine range and Lua source. */
static inline char *kfix_module(const kfix *f, const char *id,
                                const char *version, const char *depends,
                                const char *engine, const char *lua)
{
    char *dir = gosr_asprintf("%s/src-%s-%s", gosr_test_tmpdir(), id, version);
    gosr_mkdir_p(dir, 0755);
    char *p = gosr_asprintf("%s/gmod.json", dir);
    char *json = gosr_asprintf(
        "{\"schema_version\":\"1.0.0\",\"id\":\"%s\",\"version\":\"%s\","
        "\"kind\":\"mod\",\"engine_compat\":\"%s\",\"depends\":%s,"
        "\"capabilities\":[\"world.read\",\"world.write\",\"log\"],"
        "\"entry\":\"main.lua\",\"author\":{\"type\":\"human\",\"name\":"
        "\"t\"},\"created_at\":\"2026-11-24T00:00:00Z\"}",
        id, version, engine, depends);
    kfix_write(p, json);
    gosr_free(p);
    gosr_free(json);
    p = gosr_asprintf("%s/main.lua", dir);
    kfix_write(p, lua);
    gosr_free(p);
    char name[160];
    snprintf(name, sizeof name, "%s-%s", id, version);
    char *out = kfix_pack(f, dir, name);
    gosr_free(dir);
    return out;
}

/* x of the entity in slot `i` (in whole units), or INT64_MIN. */
static inline int64_t kfix_x(gosr_node *n, uint32_t i)
{
    gosr_entity e;
    const gosr_entity_slot *s = gosr_world_slot_peek(gosr_node_world(n), i, &e);
    return s ? s->pos.x / GOSR_FIX_ONE : INT64_MIN;
}

#endif /* GOSR_TESTS_KFIX_H */
