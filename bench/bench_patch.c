/*
 * bench_patch.c — patch pipeline figures (docs/patch.md, "Measured"):
 *   1. end to end for a ~1 MiB patch (the sample patch plus a 1 MB data
 *      table in its script) on a node whose world holds 1,000 entities:
 *      stages 1-3 (verify, unpack, schema, static scan), stage 4 (two
 *      1,000-tick replays, hashes compared), stage 5 (1,000-tick baseline
 *      and candidate canary), policy gate and activation — one core;
 *   2. rollback command to full effect on one node: the call (pointer
 *      update, database, ledger row) and the first tick that runs the
 *      restored patch.
 * Usage: bench_patch [ticks]  (default 1000).
 */
#include "gosr/crypto.h"
#include "gosr/gmod.h"
#include "gosr/kernel.h"
#include "gosr/patch.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double ms(uint64_t a, uint64_t b)
{
    return (double)(b - a) / 1e6;
}

static void die(const char *what, const gosr_error *e)
{
    fprintf(stderr, "bench_patch: %s: %s: %s\n", what, e->reason, e->detail);
    exit(1);
}

/* Writes a patch source dir from examples/patches/good with a big script. */
static void make_src(const char *dir, const char *version, const char *parent,
                     size_t data_bytes)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && cp -r '%s/examples/patches/good' '%s'", dir,
             GOSR_SOURCE_DIR, dir);
    if (system(cmd) != 0)
        exit(1);
    char p[600];
    snprintf(p, sizeof p, "%s/gmod.json", dir);
    json_t *j = json_load_file(p, 0, NULL);
    json_object_set_new(j, "version", json_string(version));
    json_object_set_new(j, "parent_patch_id",
                        parent ? json_string(parent) : json_null());
    json_dump_file(j, p, JSON_INDENT(2));
    json_decref(j);
    snprintf(p, sizeof p, "%s/scripts/main.lua", dir);
    FILE *f = fopen(p, "a");
    fputs("\nDATA = {\n", f);
    size_t n = 0;
    for (int i = 0; n < data_bytes; i++)
        n += (size_t)fprintf(f, "{id=%d,w=%d,name=\"item%d\"},\n", i,
                             i * 7 % 1000, i);
    fputs("}\n", f);
    fclose(f);
}

int main(int argc, char **argv)
{
    uint32_t ticks = argc > 1 ? (uint32_t)atoi(argv[1]) : 1000;
    char tmpl[] = "/tmp/bench_patch.XXXXXX";
    char *base = mkdtemp(tmpl);
    gosr_keypair root, dev;
    uint8_t seed[32];
    memset(seed, 1, 32);
    gosr_keypair_from_seed(&root, seed);
    memset(seed, 2, 32);
    gosr_keypair_from_seed(&dev, seed);
    gosr_cert cert;
    int64_t now = (int64_t)(gosr_time_wall_ns() / 1000000000u);
    gosr_cert_issue(&root, dev.pk, "bench", GOSR_CERT_KIND_PATCH, now - 60,
                    now + 86400, &cert, NULL);
    char node_dir[256], src[256], out1[256], out2[256];
    snprintf(node_dir, sizeof node_dir, "%s/node", base);
    gosr_node_config nc = {.data_dir = node_dir,
                           .trust_pk = root.pk,
                           .no_admin = true,
                           .capacity = 4096};
    gosr_node *n = NULL;
    gosr_error err = {0};
    if (gosr_node_open(&nc, &n, &err) != GOSR_OK)
        die("node", &err);
    gosr_world *w = gosr_node_world(n);
    gosr_world_begin(w);
    for (uint32_t i = 0; i < 1000; i++) {
        gosr_entity_slot s = {.mask = GOSR_C_POSITION | GOSR_C_OWNER |
                                      GOSR_C_HEALTH,
                              .owner = i + 1,
                              .health = 50 + (int32_t)(i % 50)};
        gosr_entity e;
        gosr_world_spawn(w, &s, &e);
    }
    gosr_world_commit(w, false);
    gosr_patch_config pc = {.trust_pk = root.pk,
                            .no_worker = true,
                            .replay_ticks = ticks,
                            .canary_ticks = ticks,
                            .stage_ticks = 1};
    gosr_patch_mgr *m = NULL;
    if (gosr_patch_open(n, &pc, &m, &err) != GOSR_OK)
        die("patch", &err);
    gosr_gmod_pack_opts po = {.key = &dev,
                              .chain = &cert,
                              .nchain = 1,
                              .raw = true}; /* stored size = 1 MB */
    snprintf(src, sizeof src, "%s/src1", base);
    snprintf(out1, sizeof out1, "%s/p1.gmod", base);
    make_src(src, "1.0.0", NULL, 1000000);
    if (gosr_gmod_pack(src, &po, out1, &err) != GOSR_OK)
        die("pack", &err);
    FILE *f = fopen(out1, "rb");
    fseek(f, 0, SEEK_END);
    long bsize = ftell(f);
    fclose(f);
    char id1[65], id2[65], cur[65];
    uint64_t t0 = gosr_time_mono_ns();
    if (gosr_patch_submit(m, out1, "bench", id1, &err) != GOSR_OK)
        die("submit", &err);
    uint64_t t1 = gosr_time_mono_ns();
    if (gosr_patch_process(m, &err) != GOSR_OK)
        die("process", &err);
    uint64_t t2 = gosr_time_mono_ns();
    uint32_t pct = 0;
    if (gosr_patch_active(m, cur, &pct) != GOSR_OK || strcmp(cur, id1))
        die("not active", &err);
    json_t *st = NULL;
    gosr_patch_status_json(m, id1, &st, &err);
    printf("pipeline  patch %ld bytes (script %s), world 1000 entities, "
           "replay 2x%u ticks, canary 2x%u ticks\n",
           bsize, "~1 MB", ticks, ticks);
    printf("pipeline  stages 1-3 %.1f ms, stages 4-6 %.1f ms, total %.1f ms "
           "(goal < 5000 ms)\n",
           ms(t0, t1), ms(t1, t2), ms(t0, t2));
    json_decref(st);
    gosr_node_step(n, 3, &err); /* rollout to 100 % (1 tick per stage) */
    /* a second patch, then the rollback */
    snprintf(src, sizeof src, "%s/src2", base);
    snprintf(out2, sizeof out2, "%s/p2.gmod", base);
    make_src(src, "1.1.0", id1, 1000);
    if (gosr_gmod_pack(src, &po, out2, &err) != GOSR_OK)
        die("pack2", &err);
    if (gosr_patch_submit(m, out2, "bench", id2, &err) != GOSR_OK ||
        gosr_patch_process(m, &err) != GOSR_OK)
        die("submit2", &err);
    gosr_node_step(n, 3, &err);
    uint64_t r0 = gosr_time_mono_ns();
    if (gosr_patch_rollback(m, NULL, "bench", "bench", &err) != GOSR_OK)
        die("rollback", &err);
    uint64_t r1 = gosr_time_mono_ns();
    gosr_node_step(n, 1, &err);
    uint64_t r2 = gosr_time_mono_ns();
    gosr_patch_active(m, cur, &pct);
    json_t *rs = NULL;
    gosr_patch_status_json(m, id2, &rs, &err);
    json_t *tr = json_object_get(rs, "transitions");
    json_int_t sw = json_integer_value(json_object_get(
        json_object_get(json_array_get(tr, json_array_size(tr) - 1),
                        "evidence"),
        "switch_ns"));
    json_decref(rs);
    printf("rollback  pointer update (db row + in-memory switch) %.3f ms\n",
           (double)sw / 1e6);
    printf("rollback  command %.3f ms (pointer + db + ledger), next tick on "
           "the restored patch done after %.3f ms; active = %s (%s)\n",
           ms(r0, r1), ms(r0, r2), strcmp(cur, id1) ? "WRONG" : "previous",
           "in effect from the first tick after the command");
    gosr_patch_close(m);
    gosr_node_close(n);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
