/*
 * pfix.h — fixtures for the patch pipeline tests: a trust root and a
 * certificate that allows kind patch, patch sources derived from
 * examples/patches/good (manifest edits as JSON, a replacement script),
 * packing, an in-process node and manager. Design under test:
 * docs/patch.md.
 */
#ifndef GOSR_TESTS_PFIX_H
#define GOSR_TESTS_PFIX_H

#include "harness.h"

#include "gosr/crypto.h"
#include "gosr/gmod.h"
#include "gosr/kernel.h"
#include "gosr/patch.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct pfix {
    gosr_keypair root; /* trust root */
    gosr_keypair dev;  /* signer */
    gosr_cert cert;    /* dev's certificate (game, mod, patch) */
} pfix;

static inline void pfix_keys(pfix *f)
{
    uint8_t seed[32];
    memset(seed, 7, 32);
    gosr_keypair_from_seed(&f->root, seed);
    memset(seed, 9, 32);
    gosr_keypair_from_seed(&f->dev, seed);
    int64_t now = (int64_t)(gosr_time_wall_ns() / 1000000000u);
    gosr_cert_issue(&f->root, f->dev.pk, "patcher",
                    GOSR_CERT_KIND_GAME | GOSR_CERT_KIND_MOD |
                        GOSR_CERT_KIND_PATCH,
                    now - 86400, now + 86400 * 365, &f->cert, NULL);
}

static inline void pfix_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

/* Packs a patch derived from examples/patches/good: `version`, `parent`
 * (NULL = null), `top` (JSON object text merged into the manifest, or
 * NULL), `content` (merged into content, or NULL), `lua` (replaces
 * scripts/main.lua, NULL = keep). Returns the .gmod path (caller frees). */
static inline char *pfix_patch(const pfix *f, const char *name,
                               const char *version, const char *parent,
                               const char *top, const char *content,
                               const char *lua)
{
    char *src = gosr_asprintf("%s/examples/patches/good", GOSR_SOURCE_DIR);
    char *dir = gosr_asprintf("%s/src-%s", gosr_test_tmpdir(), name);
    gosr_test_system("rm -rf '%s' && cp -r '%s' '%s'", dir, src, dir);
    char *mp = gosr_asprintf("%s/gmod.json", dir);
    json_t *j = json_load_file(mp, 0, NULL);
    json_object_set_new(j, "version", json_string(version));
    json_object_set_new(j, "parent_patch_id",
                        parent ? json_string(parent) : json_null());
    if (top) {
        json_t *t = json_loads(top, 0, NULL);
        json_object_update(j, t);
        json_decref(t);
    }
    if (content) {
        json_t *t = json_loads(content, 0, NULL);
        json_object_update(json_object_get(j, "content"), t);
        json_decref(t);
    }
    json_dump_file(j, mp, JSON_INDENT(2));
    json_decref(j);
    if (lua) {
        char *lp = gosr_asprintf("%s/scripts/main.lua", dir);
        pfix_write(lp, lua);
        gosr_free(lp);
    }
    char *out = gosr_asprintf("%s/%s.gmod", gosr_test_tmpdir(), name);
    gosr_gmod_pack_opts o = {.key = &f->dev, .chain = &f->cert, .nchain = 1};
    gosr_error err = {0};
    if (gosr_gmod_pack(dir, &o, out, &err) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "pack %s: %s: %s", name, err.reason,
                       err.detail);
    gosr_free(src);
    gosr_free(dir);
    gosr_free(mp);
    return out;
}

/* An in-process node (not started) and its patch manager. */
typedef struct pnode {
    gosr_node *n;      /* the node */
    gosr_patch_mgr *m; /* its manager */
} pnode;

static inline void pnode_open(pnode *p, const pfix *f, const char *dir,
                              const gosr_patch_config *base)
{
    gosr_node_config c = {.data_dir = dir,
                          .trust_pk = f->root.pk,
                          .no_admin = true,
                          .rate_hz = 200,
                          .capacity = 256,
                          .kv_capacity = 64};
    gosr_error err = {0};
    p->n = NULL;
    p->m = NULL;
    if (gosr_node_open(&c, &p->n, &err) != GOSR_OK) {
        gosr_test_fail(__FILE__, __LINE__, "node: %s: %s", err.reason,
                       err.detail);
        return;
    }
    gosr_patch_config pc = base ? *base : (gosr_patch_config){0};
    pc.trust_pk = f->root.pk;
    if (!base)
        pc.no_worker = true;
    if (!pc.replay_ticks)
        pc.replay_ticks = 20;
    if (!pc.canary_ticks)
        pc.canary_ticks = 20;
    if (!pc.stage_ticks)
        pc.stage_ticks = 4;
    if (gosr_patch_open(p->n, &pc, &p->m, &err) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "patch: %s: %s", err.reason,
                       err.detail);
}

static inline void pnode_close(pnode *p)
{
    gosr_patch_close(p->m);
    gosr_node_close(p->n);
    p->m = NULL;
    p->n = NULL;
}

/* The state of patch `id` (static buffer). */
static inline const char *pstate(gosr_patch_mgr *m, const char *id)
{
    static char buf[32];
    json_t *o = NULL;
    buf[0] = '\0';
    if (gosr_patch_status_json(m, id, &o, NULL) == GOSR_OK)
        snprintf(buf, sizeof buf, "%s",
                 json_string_value(json_object_get(o, "state")));
    json_decref(o);
    return buf;
}

#endif /* GOSR_TESTS_PFIX_H */
