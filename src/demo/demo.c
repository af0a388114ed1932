/*
 * demo.c — `gosr demo` orchestration: keys and a certificate in OUT/keys,
 * every games/arena module packed and signed into OUT/bundles, a node in
 * OUT/node (in process, tick thread at 30 Hz, admin server on an ephemeral
 * loopback port, a mesh on a free loopback port), arena v1 published and
 * activated, a second node OUT/node2 installing arena v1 from node1's
 * packages through the mesh (mesh.c), bots playing through
 * gosr_node_submit, a hot swap of arena.economy 1.0.0 -> 1.1.0 (migrate),
 * an operator rollback to the previous known-good version, then the report
 * (report.c). Steps that cannot run are recorded as such, never faked.
 * Design: docs/demo.md.
 */
#include "demo/demo_int.h"

#include "gosr/crypto.h"
#include "gosr/gmod.h"

#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef GOSR_ARENA_DIR
#define GOSR_ARENA_DIR "games/arena"
#endif

/* Modules of arena v1 in publish (dependency) order, and the swap. */
static const char *const V1_DIRS[] = {"world", "npc", "economy", "quests",
                                      "dialogue"};
static const char *const V1_IDS[] = {"arena.world", "arena.npc",
                                     "arena.economy", "arena.quests",
                                     "arena.dialogue"};
#define NV1 (sizeof V1_DIRS / sizeof *V1_DIRS)
#define SWAP_DIR "economy-v2"
#define SWAP_ID "arena.economy"

void demo__progress(demo_run *d, const char *fmt, ...)
{
    if (!d->cfg.progress)
        return;
    double t = (double)(gosr_time_mono_ns() - d->t0) / 1e9;
    fprintf(d->cfg.progress, "[%6.1fs] ", t);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->cfg.progress, fmt, ap);
    va_end(ap);
    fputc('\n', d->cfg.progress);
    fflush(d->cfg.progress);
}

/* Records a step: {name, ok, detail}. */
void demo__step(demo_run *d, const char *name, bool ok, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_array_append_new(d->steps, json_pack("{s:s, s:s, s:s}", "name", name,
                                              "result", ok ? "ok" : "failed",
                                              "detail", detail));
    demo__progress(d, "%s %s: %s", ok ? "ok  " : "FAIL", name, detail);
}

void demo__not_run(demo_run *d, const char *name, const char *why)
{
    json_array_append_new(d->steps, json_pack("{s:s, s:s, s:s}", "name", name,
                                              "result", "not_run", "detail",
                                              why));
    demo__progress(d, "skip %s: %s", name, why);
}

static const char *find_game_dir(const demo_run *d)
{
    static const char *const cands[] = {"games/arena", "../games/arena",
                                        "../../games/arena", GOSR_ARENA_DIR};
    struct stat st;
    if (d->cfg.game_dir)
        return d->cfg.game_dir;
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        char *p = gosr_asprintf("%s/world/gmod.json", cands[i]);
        bool ok = p && stat(p, &st) == 0;
        gosr_free(p);
        if (ok)
            return cands[i];
    }
    return GOSR_ARENA_DIR;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes a node directory (OUT/node, OUT/node2) from an earlier run
 * (only a directory that holds a node's registry.db, so --out never
 * deletes anything else). */
static int fresh_node_dir(const char *dir, gosr_error *err)
{
    struct stat st;
    char *reg = gosr_asprintf("%s/%s", dir, GOSR_NODE_REGISTRY_FILE);
    bool ours = reg && stat(reg, &st) == 0;
    gosr_free(reg);
    if (stat(dir, &st) == 0) {
        if (!ours)
            return gosr_error_set(err, GOSR_EEXIST, "demo_out_not_ours",
                                  "%s exists and is not a node directory",
                                  dir);
        if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
            return gosr_error_set(err, GOSR_EIO, "demo_out_remove",
                                  "cannot remove %s: %s", dir,
                                  strerror(errno));
    }
    return GOSR_OK;
}

/* Trust root, developer key and its certificate (game, mod, patch kinds),
 * saved under OUT/keys for the tour in the README. */
/* Loads the keypair in `dir` left by an earlier run, or makes and saves a
 * new one: a second `gosr demo` into the same OUT reuses its keys. */
static int load_or_make_key(const char *dir, gosr_keypair *kp, gosr_error *err)
{
    char *sec = gosr_asprintf("%s/key.sec", dir);
    bool have = sec && access(sec, F_OK) == 0;
    gosr_free(sec);
    if (have)
        return gosr_keypair_load(dir, kp, err);
    int rc = gosr_keypair_generate(kp);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "demo_keys", "key generation failed");
    if ((rc = gosr_mkdir_p(dir, 0700)) != GOSR_OK)
        return gosr_error_set(err, rc, "demo_keys", "cannot create %s", dir);
    return gosr_keypair_save(kp, dir, err);
}

static int make_keys(demo_run *d, gosr_error *err)
{
    int64_t now = (int64_t)(gosr_time_wall_ns() / 1000000000u);
    char *rdir = gosr_asprintf("%s/keys/root", d->cfg.out_dir);
    char *ddir = gosr_asprintf("%s/keys/dev", d->cfg.out_dir);
    int rc = GOSR_ENOMEM;
    if (!rdir || !ddir)
        goto free_paths;
    if ((rc = load_or_make_key(rdir, &d->root, err)) != GOSR_OK ||
        (rc = load_or_make_key(ddir, &d->dev, err)) != GOSR_OK)
        goto free_paths;
    if ((rc = gosr_cert_issue(&d->root, d->dev.pk, "arena-dev",
                              GOSR_CERT_KIND_ALL, now - 3600,
                              now + 86400 * 30, &d->cert, err)) != GOSR_OK)
        goto free_paths;
    gosr_buf cb = {0};
    if ((rc = gosr_cert_encode(&d->cert, &cb)) == GOSR_OK) {
        char *cp = gosr_asprintf("%s/keys/dev.cert", d->cfg.out_dir);
        rc = cp ? gosr_file_write_atomic(cp, cb.data, cb.len, 0644)
                : GOSR_ENOMEM;
        if (rc != GOSR_OK)
            gosr_error_set(err, rc, "demo_keys", "cannot write %s", cp);
        gosr_free(cp);
    }
    gosr_buf_free(&cb);
free_paths:
    gosr_free(rdir);
    gosr_free(ddir);
    return rc;
}

/* Packs game_dir/sub into OUT/bundles/sub.gmod; *out owned by caller. */
static int pack(demo_run *d, const char *sub, char **out, gosr_error *err)
{
    char *src = gosr_asprintf("%s/%s", d->game_dir, sub);
    char *dst = gosr_asprintf("%s/bundles/arena-%s.gmod", d->cfg.out_dir, sub);
    gosr_gmod_pack_opts o = {.key = &d->dev, .chain = &d->cert, .nchain = 1};
    int rc = (src && dst) ? gosr_gmod_pack(src, &o, dst, err) : GOSR_ENOMEM;
    gosr_free(src);
    if (rc != GOSR_OK) {
        gosr_free(dst);
        return rc;
    }
    *out = dst;
    return GOSR_OK;
}

/* Opens node1 with a mesh on a free port; when no port can be found or
 * the mesh cannot start (after 3 tries), opens it without and records
 * why in d->mesh_why (the mesh steps then fail with that reason). */
static int open_node1(demo_run *d, gosr_node_config *nc, gosr_error *err)
{
    gosr_mesh_config mc;
    for (int attempt = 0; attempt < 3; attempt++) {
        uint16_t ports[2];
        gosr_error e = {0};
        if (demo__mesh_ports(ports, &e) != GOSR_OK) {
            snprintf(d->mesh_why, sizeof d->mesh_why, "%.64s: %.380s", e.reason,
                     e.detail);
            break;
        }
        snprintf(d->mesh1, sizeof d->mesh1, "127.0.0.1:%u", ports[0]);
        snprintf(d->mesh2, sizeof d->mesh2, "127.0.0.1:%u", ports[1]);
        demo__mesh_config(d, 1, &mc);
        nc->mesh = &mc;
        int rc = gosr_node_open(nc, &d->node, &e);
        nc->mesh = NULL;
        if (rc == GOSR_OK) {
            d->mesh_why[0] = 0;
            return GOSR_OK;
        }
        snprintf(d->mesh_why, sizeof d->mesh_why, "mesh on %s: %.64s: %.380s",
                 d->mesh1, e.reason, e.detail);
        demo__progress(d, "node with mesh: %s", d->mesh_why);
    }
    d->mesh1[0] = d->mesh2[0] = 0;
    return gosr_node_open(nc, &d->node, err);
}

static int open_node(demo_run *d, gosr_error *err)
{
    gosr_node_config nc = {
        .data_dir = d->node_dir, .trust_pk = d->root.pk,
        .admin_listen = "127.0.0.1:0", .rate_hz = 30, .quarantine_ticks = 30,
        .capacity = 4096 + 2 * d->cfg.bots,
        .kv_capacity = 4096 + 6 * d->cfg.bots, .seed = d->cfg.seed,
        .hash_ticks = true};
    gosr_patch_config pc = {.trust_pk = d->root.pk, .stage_ticks = 15};
    int rc = open_node1(d, &nc, err);
    if (rc == GOSR_OK) /* before start: the pipeline adds admin routes */
        rc = gosr_patch_open(d->node, &pc, &d->pm, err);
    if (rc == GOSR_OK)
        rc = gosr_node_start(d->node, err);
    if (rc != GOSR_OK)
        return rc;
    char *wp = gosr_asprintf("%s/world.arena", d->node_dir);
    rc = wp ? gosr_arena_open_reader(wp, &d->view, err) : GOSR_ENOMEM;
    gosr_free(wp);
    return rc;
}

/* Packs and publishes (activating) every v1 module. */
static int publish_v1(demo_run *d, gosr_error *err)
{
    for (size_t i = 0; i < NV1; i++) {
        char *b = NULL;
        json_t *info = NULL;
        int rc = pack(d, V1_DIRS[i], &b, err);
        if (rc == GOSR_OK)
            rc = gosr_node_publish(d->node, b, true, "operator:demo", &info, err);
        gosr_free(b);
        if (rc != GOSR_OK)
            return rc;
        demo__progress(d, "published and activated %s@%s (package %.12s%s)",
                       json_string_value(json_object_get(info, "id")),
                       json_string_value(json_object_get(info, "version")),
                       json_string_value(json_object_get(info, "package")),
                       json_is_true(json_object_get(info, "pledged"))
                           ? ", pledged on the mesh" : "");
        json_array_append(d->packages, json_object_get(info, "package"));
        json_decref(info);
    }
    return GOSR_OK;
}

static void apply_defaults(demo_run *d, const gosr_demo_config *cfg)
{
    d->cfg = *cfg;
    if (!d->cfg.out_dir)
        d->cfg.out_dir = "gosr-demo";
    if (!d->cfg.duration_ms)
        d->cfg.duration_ms = 60000;
    if (!d->cfg.bots)
        d->cfg.bots = 200;
    if (!d->cfg.seed)
        d->cfg.seed = 1;
}

/* Setup: directories, keys, node, publish. */
static int setup(demo_run *d, gosr_error *err)
{
    int rc;
    char *bdir = gosr_asprintf("%s/bundles", d->cfg.out_dir);
    d->node_dir = gosr_asprintf("%s/node", d->cfg.out_dir);
    d->node2_dir = gosr_asprintf("%s/node2", d->cfg.out_dir);
    if (!bdir || !d->node_dir || !d->node2_dir) {
        gosr_free(bdir);
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "paths");
    }
    rc = gosr_mkdir_p(bdir, 0755);
    gosr_free(bdir);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "demo_out", "cannot create %s",
                              d->cfg.out_dir);
    if ((rc = fresh_node_dir(d->node_dir, err)) != GOSR_OK ||
        (rc = fresh_node_dir(d->node2_dir, err)) != GOSR_OK ||
        (rc = make_keys(d, err)) != GOSR_OK)
        return rc;
    demo__step(d, "keys", true, "trust root and developer certificate in %s/keys",
               d->cfg.out_dir);
    if ((rc = open_node(d, err)) != GOSR_OK)
        return rc;
    demo__step(d, "node", true,
               "node + patch pipeline in %s, admin on 127.0.0.1:%u, 30 Hz, "
               "mesh %s", d->node_dir, gosr_node_admin_port(d->node),
               d->mesh1[0] ? d->mesh1 : "off");
    if ((rc = publish_v1(d, err)) != GOSR_OK)
        return rc;
    demo__step(d, "publish_v1", true,
               "5 modules packed, signed, verified and activated from %s",
               d->game_dir);
    demo__mesh_install(d, V1_IDS, NV1);
    return GOSR_OK;
}

static void run_free(demo_run *d)
{
    gosr_arena_close(d->view);
    gosr_node_close(d->node2); /* first: node1's mesh sees it leave */
    gosr_patch_close(d->pm);
    gosr_node_close(d->node);
    gosr_demo_bots_destroy(d->bots);
    gosr_keypair_wipe(&d->root);
    gosr_keypair_wipe(&d->dev);
    json_decref(d->steps);
    json_decref(d->facts);
    json_decref(d->ticks);
    json_decref(d->markers);
    json_decref(d->kpis);
    json_decref(d->modules);
    json_decref(d->ledger);
    json_decref(d->packages);
    gosr_free(d->node_dir);
    gosr_free(d->node2_dir);
}

/* Ownership: *report (if asked) owned by the caller. */
int gosr_demo_run(const gosr_demo_config *cfg, json_t **report,
                  gosr_error *err)
{
    demo_run d = {0};
    apply_defaults(&d, cfg);
    d.t0 = gosr_time_mono_ns();
    d.game_dir = find_game_dir(&d);
    d.steps = json_array();
    d.facts = json_object();
    d.ticks = json_array();
    d.markers = json_array();
    d.kpis = json_object();
    d.modules = json_object();
    d.ledger = json_array();
    d.packages = json_array();
    int rc = gosr_crypto_init();
    if (rc == GOSR_OK)
        rc = setup(&d, err);
    if (rc == GOSR_OK)
        rc = demo__play(&d, err);
    if (rc == GOSR_OK)
        demo__mesh_replicas(&d);
    if (rc == GOSR_OK) {
        gosr_error e2 = {0};
        if (demo__script_times(&d, &e2) != GOSR_OK)
            demo__progress(&d, "script times: %s: %s", e2.reason, e2.detail);
    }
    if (d.node2)
        gosr_node_stop(d.node2);
    if (d.node)
        gosr_node_stop(d.node);
    if (rc == GOSR_OK)
        rc = demo__ledger(&d, err);
    if (rc == GOSR_OK) {
        json_t *r = demo__report(&d);
        char *path = gosr_asprintf("%s/report.json", d.cfg.out_dir);
        char *text = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);
        rc = (path && text) ? gosr_file_write_atomic(path, text, strlen(text),
                                                     0644)
                            : GOSR_ENOMEM;
        if (rc != GOSR_OK)
            gosr_error_set(err, rc, "demo_report", "cannot write %s", path);
        free(text);
        gosr_free(path);
        if (rc == GOSR_OK)
            rc = gosr_demo_write_html(r, d.cfg.out_dir, err);
        if (rc == GOSR_OK && report)
            *report = json_incref(r);
        json_decref(r);
    }
    run_free(&d);
    return rc;
}
