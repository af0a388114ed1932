/*
 * sim.c — patch scripts and shadow simulations (docs/patch.md, "Scripts:
 * an extra sandbox layer", stages 4 and 5): the patch host API, loading a
 * patch (content + scripts in one deterministic sandbox), one layer tick,
 * the determinism/budget replay (twice, fixed seed, world hashes compared
 * every tick) and the canary (baseline vs candidate on a fork of the live
 * world, KPIs compared).
 */
#include "patch/patch_int.h"

#include <string.h>

#define PATCH_CAPS "log,rng,world.read,world.write,patch,rollout,kpi"
#define BOT_EVENTS 2 /* generated inputs per shadow tick */

/* ---- values -------------------------------------------------------------- */

static int sbv_from_json(const json_t *j, gosr_sbv *out, int depth);

static int sbv_set(gosr_sbv *t, gosr_sbv key, const json_t *v, int depth)
{
    gosr_sbv val = {0};
    int rc = sbv_from_json(v, &val, depth + 1);
    if (rc != GOSR_OK) {
        gosr_sbv_free(&key);
        return rc;
    }
    return gosr_sbv_table_set(t, key, val);
}

static int sbv_from_json(const json_t *j, gosr_sbv *out, int depth)
{
    memset(out, 0, sizeof *out);
    if (depth > 32)
        return GOSR_ETOOBIG;
    if (json_is_string(j))
        return gosr_sbv_str(out, json_string_value(j), json_string_length(j));
    if (json_is_integer(j))
        *out = gosr_sbv_int(json_integer_value(j));
    else if (json_is_real(j))
        *out = gosr_sbv_num(json_real_value(j));
    else if (json_is_boolean(j))
        *out = gosr_sbv_bool(json_is_true(j));
    int rc = GOSR_OK;
    if (json_is_array(j)) {
        out->type = GOSR_SBV_TABLE;
        for (size_t i = 0; rc == GOSR_OK && i < json_array_size(j); i++)
            rc = sbv_set(out, gosr_sbv_int((int64_t)i + 1),
                         json_array_get(j, i), depth);
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        out->type = GOSR_SBV_TABLE;
        json_object_foreach((json_t *)j, k, v)
        {
            gosr_sbv key;
            if (rc == GOSR_OK && (rc = gosr_sbv_str(&key, k, strlen(k))) == 0)
                rc = sbv_set(out, key, v, depth);
        }
    }
    if (rc != GOSR_OK)
        gosr_sbv_free(out);
    return rc;
}

/* Content member `key` of a patch ("id"/"version" too) as a value. */
int patch__content_value(const plive *p, const char *key, gosr_sbv *out)
{
    if (!strcmp(key, "id"))
        return gosr_sbv_str(out, p->id, strlen(p->id));
    if (!strcmp(key, "version"))
        return gosr_sbv_str(out, p->version, strlen(p->version));
    json_t *v = json_object_get(p->content, key);
    return v ? sbv_from_json(v, out, 0) : GOSR_OK;
}

/* ---- the patch host API ---------------------------------------------------
 */

static prun *run_of(gosr_patch_mgr *m, gosr_sandbox_hcall *c)
{
    gosr_sandbox *sb = gosr_sandbox_hcall_owner(c);
    if (m->live_run.p && m->live_run.p->sb == sb)
        return &m->live_run;
    if (m->sim_run.p && m->sim_run.p->sb == sb)
        return &m->sim_run;
    return NULL;
}

static int h_log(gosr_sandbox_hcall *c, void *ud)
{
    const char *s;
    size_t n;
    (void)ud;
    int rc = gosr_sandbox_arg_str(c, 1, 1024, &s, &n);
    if (rc == GOSR_OK)
        gosr_log(GOSR_LOG_INFO, "patch", "%.*s", (int)n, s);
    return rc;
}

static int h_rng(gosr_sandbox_hcall *c, void *ud)
{
    int64_t lo, hi;
    (void)ud;
    int rc = gosr_sandbox_arg_int(c, 1, INT32_MIN, INT32_MAX, &lo);
    rc = rc ? rc : gosr_sandbox_arg_int(c, 2, lo, INT32_MAX, &hi);
    if (rc != GOSR_OK)
        return rc;
    uint64_t r = gosr_sandbox_rng_next(gosr_sandbox_hcall_owner(c));
    return gosr_sandbox_ret_int(c, lo + (int64_t)(r % (uint64_t)(hi - lo + 1)));
}

static int h_count(gosr_sandbox_hcall *c, void *ud)
{
    prun *r = run_of(ud, c);
    return r ? gosr_sandbox_ret_int(c, gosr_world_count(r->w)) : GOSR_ESTATE;
}

static int tset(gosr_sbv *t, const char *k, int64_t v)
{
    gosr_sbv key;
    int rc = gosr_sbv_str(&key, k, strlen(k));
    return rc ? rc : gosr_sbv_table_set(t, key, gosr_sbv_int(v));
}

static int h_get(gosr_sandbox_hcall *c, void *ud)
{
    prun *r = run_of(ud, c);
    int64_t id;
    gosr_entity_slot s;
    if (!r)
        return GOSR_ESTATE;
    int rc = gosr_sandbox_arg_int(c, 1, 1, INT64_MAX, &id);
    if (rc != GOSR_OK)
        return rc;
    if (gosr_world_get(r->w, (gosr_entity){(uint64_t)id}, &s) != GOSR_OK)
        return gosr_sandbox_ret_value(c, &(gosr_sbv){0});
    gosr_sbv t = {.type = GOSR_SBV_TABLE};
    rc = tset(&t, "id", id);
    rc = rc ? rc : tset(&t, "x", s.pos.x);
    rc = rc ? rc : tset(&t, "y", s.pos.y);
    rc = rc ? rc : tset(&t, "z", s.pos.z);
    rc = rc ? rc : tset(&t, "vx", s.vel.x);
    rc = rc ? rc : tset(&t, "vy", s.vel.y);
    rc = rc ? rc : tset(&t, "vz", s.vel.z);
    rc = rc ? rc : tset(&t, "owner", (int64_t)s.owner);
    rc = rc ? rc : tset(&t, "health", s.health);
    rc = rc ? rc : gosr_sandbox_ret_value(c, &t);
    gosr_sbv_free(&t);
    return rc;
}

static int h_ids(gosr_sandbox_hcall *c, void *ud)
{
    prun *r = run_of(ud, c);
    int64_t cur, max;
    if (!r)
        return GOSR_ESTATE;
    int rc = gosr_sandbox_arg_int(c, 1, 0, UINT32_MAX, &cur);
    rc = rc ? rc : gosr_sandbox_arg_int(c, 2, 1, 4096, &max);
    if (rc != GOSR_OK)
        return rc;
    uint32_t cap = gosr_world_get_config(r->w)->capacity, i = (uint32_t)cur;
    gosr_sbv t = {.type = GOSR_SBV_TABLE};
    int64_t k = 0;
    for (; i < cap && k < max && rc == GOSR_OK; i++) {
        gosr_entity e;
        if (gosr_world_slot_peek(r->w, i, &e))
            rc = gosr_sbv_table_set(&t, gosr_sbv_int(++k),
                                    gosr_sbv_int((int64_t)e.id));
    }
    rc = rc ? rc : gosr_sandbox_ret_value(c, &t);
    rc = rc ? rc : gosr_sandbox_ret_int(c, i >= cap ? 0 : i);
    gosr_sbv_free(&t);
    return rc;
}

static bool in_cohort(const prun *r, uint64_t owner)
{
    return r->pct >= 100 || patch__cohort(owner) < r->pct;
}

static int h_set_health(gosr_sandbox_hcall *c, void *ud)
{
    prun *r = run_of(ud, c);
    int64_t id, hp;
    gosr_entity_slot s;
    if (!r)
        return GOSR_ESTATE;
    int rc = gosr_sandbox_arg_int(c, 1, 1, INT64_MAX, &id);
    rc = rc ? rc : gosr_sandbox_arg_int(c, 2, -1000000000, 1000000000, &hp);
    if (rc != GOSR_OK)
        return rc;
    gosr_entity e = {(uint64_t)id};
    bool ok = gosr_world_get(r->w, e, &s) == GOSR_OK && in_cohort(r, s.owner) &&
              gosr_world_set_health(r->w, e, (int32_t)hp) == GOSR_OK;
    return gosr_sandbox_ret_bool(c, ok);
}

static int h_kv_get(gosr_sandbox_hcall *c, void *ud)
{
    prun *r = run_of(ud, c);
    int64_t id;
    const char *k;
    size_t kl, len;
    char key[GOSR_KV_KEY_MAX + 1], buf[GOSR_KV_VALUE_MAX];
    if (!r)
        return GOSR_ESTATE;
    int rc = gosr_sandbox_arg_int(c, 1, 1, INT64_MAX, &id);
    rc = rc ? rc : gosr_sandbox_arg_str(c, 2, GOSR_KV_KEY_MAX, &k, &kl);
    if (rc != GOSR_OK)
        return rc;
    memcpy(key, k, kl);
    key[kl] = '\0';
    if (kl == 0 || gosr_world_kv_get(r->w, (gosr_entity){(uint64_t)id}, "patch",
                                     key, buf, sizeof buf, &len) != GOSR_OK)
        return gosr_sandbox_ret_value(c, &(gosr_sbv){0});
    return gosr_sandbox_ret_str(c, buf, len);
}

static int h_kv_set(gosr_sandbox_hcall *c, void *ud)
{
    prun *r = run_of(ud, c);
    int64_t id;
    const char *k, *v;
    size_t kl, vl;
    char key[GOSR_KV_KEY_MAX + 1];
    if (!r)
        return GOSR_ESTATE;
    int rc = gosr_sandbox_arg_int(c, 1, 1, INT64_MAX, &id);
    rc = rc ? rc : gosr_sandbox_arg_str(c, 2, GOSR_KV_KEY_MAX, &k, &kl);
    rc = rc ? rc : gosr_sandbox_arg_str(c, 3, GOSR_KV_VALUE_MAX, &v, &vl);
    if (rc != GOSR_OK || kl == 0)
        return rc ? rc : GOSR_EINVAL;
    memcpy(key, k, kl);
    key[kl] = '\0';
    bool ok = gosr_world_kv_set(r->w, (gosr_entity){(uint64_t)id}, "patch", key,
                                v, vl) == GOSR_OK;
    return gosr_sandbox_ret_bool(c, ok);
}

static int h_patch_get(gosr_sandbox_hcall *c, void *ud)
{
    prun *r = run_of(ud, c);
    const char *k;
    size_t kl;
    char key[64];
    if (!r)
        return GOSR_ESTATE;
    int rc = gosr_sandbox_arg_str(c, 1, 63, &k, &kl);
    if (rc != GOSR_OK)
        return rc;
    memcpy(key, k, kl);
    key[kl] = '\0';
    gosr_sbv v = {0};
    rc = patch__content_value(r->p, key, &v);
    rc = rc ? rc : gosr_sandbox_ret_value(c, &v);
    gosr_sbv_free(&v);
    return rc;
}

static int h_includes(gosr_sandbox_hcall *c, void *ud)
{
    prun *r = run_of(ud, c);
    int64_t owner;
    if (!r)
        return GOSR_ESTATE;
    int rc = gosr_sandbox_arg_int(c, 1, 0, INT64_MAX, &owner);
    return rc ? rc : gosr_sandbox_ret_bool(c, in_cohort(r, (uint64_t)owner));
}

/* Adds one report to a KPI accumulator. */
static void kpi_add(pkpi *k, const char *name, double v)
{
    if (!strcmp(name, "economy")) {
        k->eco_sum += v;
        k->eco_n++;
    } else if (!strcmp(name, "quest_started")) {
        k->q_started += v;
    } else if (!strcmp(name, "quest_completed")) {
        k->q_completed += v;
    }
}

static int h_kpi(gosr_sandbox_hcall *c, void *ud)
{
    gosr_patch_mgr *m = ud;
    prun *r = run_of(m, c);
    const char *k;
    size_t kl;
    double v;
    if (!r)
        return GOSR_ESTATE;
    int rc = gosr_sandbox_arg_str(c, 1, 63, &k, &kl);
    rc = rc ? rc : gosr_sandbox_arg_num(c, 2, -1e15, 1e15, &v);
    if (rc != GOSR_OK)
        return rc;
    char name[64];
    memcpy(name, k, kl);
    name[kl] = '\0';
    kpi_add(r->kpi, name, v);
    return GOSR_OK;
}

int patch__host_create(gosr_patch_mgr *m, gosr_error *err)
{
    static const struct {
        const char *g, *n;
        gosr_sandbox_host_fn fn;
    } T[] = {
        {"log", "log.info", h_log},
        {"rng", "rng.int", h_rng},
        {"world.read", "world.count", h_count},
        {"world.read", "world.get", h_get},
        {"world.read", "world.ids", h_ids},
        {"world.read", "world.kv_get", h_kv_get},
        {"world.write", "world.set_health", h_set_health},
        {"world.write", "world.kv_set", h_kv_set},
        {"patch", "patch.get", h_patch_get},
        {"rollout", "rollout.includes", h_includes},
        {"kpi", "kpi.report", h_kpi},
    };
    int rc = gosr_sandbox_host_create(&m->host);
    for (size_t i = 0; rc == GOSR_OK && i < sizeof T / sizeof T[0]; i++)
        rc = gosr_sandbox_host_add(m->host, T[i].g, T[i].n, T[i].fn, m);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "host_api", "patch host API");
    return GOSR_OK;
}

/* The KPI side of kpi.report from game modules (live only). */
void patch__kpi_live(gosr_patch_mgr *m, const char *name, double v)
{
    kpi_add(&m->game_kpi, name, v);
}

/* ---- loading --------------------------------------------------------------
 */

void patch__free(plive *p)
{
    if (!p)
        return;
    json_decref(p->content);
    gosr_sandbox_destroy(p->sb);
    gosr_free(p);
}

static int load_scripts(gosr_patch_mgr *m, plive *p, const char *dir,
                        const gosr_gmod_manifest *man, gosr_error *err)
{
    gosr_sandbox_config sc = {.mem_limit = m->cfg.mem_limit,
                              .tick_fuel = m->cfg.tick_fuel,
                              .seed = m->cfg.seed,
                              .name = "patch",
                              .host = m->host,
                              .declared_caps = PATCH_CAPS,
                              .granted_caps = PATCH_CAPS};
    int rc = gosr_sandbox_create(&sc, &p->sb, err);
    for (size_t i = 0; rc == GOSR_OK && i < man->nscripts; i++) {
        char *path = gosr_asprintf("%s/%s", dir, man->scripts[i]);
        uint8_t *src = NULL;
        size_t n = 0;
        rc = gosr_file_read_all(path, 1u << 20, &src, &n);
        gosr_free(path);
        if (rc == GOSR_OK)
            rc = gosr_sandbox_load(p->sb, (const char *)src, n, man->scripts[i],
                                   NULL, err);
        gosr_free(src);
    }
    gosr_sbv ret = {0};
    static const char probe[] = "return (type(tick) == 'function' and 1 or 0) +"
                                " (type(on_event) == 'function' and 2 or 0)";
    if (rc == GOSR_OK)
        rc = gosr_sandbox_load(p->sb, probe, sizeof probe - 1, "probe", &ret,
                               err);
    if (rc == GOSR_OK && ret.type == GOSR_SBV_INT) {
        p->has_tick = ret.u.i & 1;
        p->has_event = (ret.u.i & 2) != 0;
    }
    gosr_sbv_free(&ret);
    return rc;
}

int patch__load(gosr_patch_mgr *m, const char *id, plive **out, gosr_error *err)
{
    *out = NULL;
    char *dir = gosr_asprintf("%s/%s", m->dir, id);
    char *mp = gosr_asprintf("%s/gmod.json", dir);
    uint8_t *b = NULL;
    size_t n = 0;
    gosr_gmod_manifest *man = NULL;
    plive *p = gosr_calloc(1, sizeof *p);
    int rc = p && dir && mp
                 ? gosr_file_read_all(mp, GOSR_GMOD_MANIFEST_MAX, &b, &n)
                 : GOSR_ENOMEM;
    if (rc != GOSR_OK)
        rc = gosr_error_set(err, rc, "patch_missing",
                            "known-good bundle %.16s... is not kept", id);
    if (rc == GOSR_OK)
        rc = gosr_gmod_manifest_parse(b, n, &man, err);
    if (rc == GOSR_OK) {
        snprintf(p->id, sizeof p->id, "%s", id);
        snprintf(p->version, sizeof p->version, "%s", man->version_text);
        p->content = json_deep_copy(man->content);
        if (man->nscripts > 0)
            rc = load_scripts(m, p, dir, man, err);
    }
    gosr_gmod_manifest_destroy(man);
    gosr_free(b);
    gosr_free(mp);
    gosr_free(dir);
    if (rc != GOSR_OK)
        patch__free(p);
    else
        *out = p;
    return rc;
}

/* ---- one tick of a patch ----------------------------------------------------
 */

static int sset(gosr_sbv *t, const char *k, const char *v, size_t n)
{
    gosr_sbv key, val;
    int rc = gosr_sbv_str(&key, k, strlen(k));
    if (rc != GOSR_OK)
        return rc;
    rc = gosr_sbv_str(&val, v ? v : "", v ? n : 0);
    if (rc != GOSR_OK) {
        gosr_sbv_free(&key);
        return rc;
    }
    return gosr_sbv_table_set(t, key, val);
}

static void call(prun *r, const char *fn, gosr_sbv *args, size_t n)
{
    gosr_error e = {0};
    if (gosr_sandbox_call(r->p->sb, fn, args, n, NULL, 0, &e) != GOSR_OK)
        r->kpi->faults++;
}

void patch__tick(gosr_patch_mgr *m, prun *r, uint64_t tick,
                 const gosr_event *ev, size_t nev)
{
    (void)m;
    r->kpi->ticks++;
    if (!r->p || !r->p->sb)
        return;
    if (gosr_sandbox_is_dead(r->p->sb)) {
        r->kpi->faults++;
        return;
    }
    gosr_sandbox_tick_begin(r->p->sb, tick);
    gosr_sbv a[2] = {{.type = GOSR_SBV_TABLE}, {0}};
    tset(&a[0], "tick", (int64_t)tick);
    sset(&a[0], "patch", r->p->id, strlen(r->p->id));
    tset(&a[0], "rollout", r->pct);
    for (size_t i = 0; r->p->has_event && i < nev; i++) {
        a[1] = (gosr_sbv){.type = GOSR_SBV_TABLE};
        sset(&a[1], "name", ev[i].name, strlen(ev[i].name));
        sset(&a[1], "payload", (const char *)ev[i].payload, ev[i].payload_len);
        sset(&a[1], "user", ev[i].user_id,
             ev[i].user_id ? strlen(ev[i].user_id) : 0);
        tset(&a[1], "tick", (int64_t)ev[i].tick);
        call(r, "on_event", a, 2);
        gosr_sbv_free(&a[1]);
    }
    if (r->p->has_tick)
        call(r, "tick", a, 1);
    gosr_sbv_free(&a[0]);
}

/* ---- shadow runs (stages 4 and 5) --------------------------------------- */

/* The shadow world: a fork of the live world (snapshot), or, when the live
 * world is empty, 64 entities from the fixed seed. */
static int shadow_world(gosr_patch_mgr *m, const gosr_world_snap *snap,
                        gosr_world **out, gosr_error *err)
{
    gosr_world_config wc = *gosr_world_get_config(gosr_node_world(m->node));
    wc.seed = m->cfg.seed;
    int rc = gosr_world_create(&wc, NULL, out, err);
    if (rc != GOSR_OK)
        return rc;
    gosr_world_begin(*out);
    rc = gosr_world_restore(*out, snap);
    uint64_t x = m->cfg.seed | 1;
    for (uint32_t i = 0; rc == GOSR_OK && gosr_world_count(*out) < 64; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        gosr_entity_slot s = {.mask = GOSR_C_POSITION | GOSR_C_OWNER |
                                      GOSR_C_HEALTH,
                              .owner = i + 1,
                              .health = 100};
        s.pos.x = (int64_t)(x % 1000) * GOSR_FIX_ONE;
        gosr_entity e;
        rc = gosr_world_spawn(*out, &s, &e);
    }
    gosr_world_commit(*out, false);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "shadow_world", "forking the world");
    return GOSR_OK;
}

/* Generated inputs of one shadow tick, deterministic from seed and tick. */
typedef struct botin {
    gosr_event ev[BOT_EVENTS]; /* events (name, user_id, payload borrowed) */
    char user[BOT_EVENTS][24]; /* user ids */
    char pay[BOT_EVENTS][48];  /* payloads */
} botin;

static void bot_inputs(uint64_t seed, uint64_t tick, botin *b)
{
    memset(b, 0, sizeof *b);
    for (int i = 0; i < BOT_EVENTS; i++) {
        uint64_t x = seed * 0x9e3779b97f4a7c15ull + tick * 31 + (uint64_t)i;
        x ^= x >> 29, x *= 0xbf58476d1ce4e5b9ull, x ^= x >> 32;
        snprintf(b->ev[i].name, sizeof b->ev[i].name, "bot:input:v1:completed");
        snprintf(b->user[i], sizeof b->user[i], "%llu",
                 (unsigned long long)(x % 64 + 1));
        snprintf(b->pay[i], sizeof b->pay[i], "move %d %d", (int)(x % 7) - 3,
                 (int)((x >> 8) % 7) - 3);
        b->ev[i].user_id = b->user[i];
        b->ev[i].payload = (uint8_t *)b->pay[i];
        b->ev[i].payload_len = (uint32_t)strlen(b->pay[i]);
        b->ev[i].tick = tick;
    }
}

/* A kill of the patch sandbox during a shadow run: budget reasons. */
static int kill_reason(const plive *p, const char *prefix, gosr_error *err)
{
    const gosr_sandbox_fault *f = gosr_sandbox_fault_get(p->sb);
    gosr_error_set(err, GOSR_EBUDGET, "determinism_budget", "%s at %s: %s",
                   gosr_sandbox_reason_name(f->reason), f->where, f->message);
    snprintf(err->reason, sizeof err->reason, "%s_budget_%s", prefix,
             gosr_sandbox_reason_name(f->reason));
    return GOSR_EBUDGET;
}

/* Runs patch `id` (NULL = no patch) for n ticks on a fork; fills kpi and,
 * when hashes is not NULL, the world hash after every tick. */
static int run_shadow(gosr_patch_mgr *m, const char *id,
                      const gosr_world_snap *snap, uint32_t n, pkpi *kpi,
                      gosr_hash *hashes, gosr_error *err)
{
    gosr_world *w = NULL;
    plive *p = NULL;
    memset(kpi, 0, sizeof *kpi);
    int rc = shadow_world(m, snap, &w, err);
    if (rc == GOSR_OK && id)
        rc = patch__load(m, id, &p, err);
    if (rc != GOSR_OK && id && err->reason[0] != 'p') {
        char d[384];
        snprintf(d, sizeof d, "%s", err->detail);
        rc = gosr_error_set(err, GOSR_EFAULT, "determinism_load", "%s", d);
    }
    pthread_mutex_lock(&m->sim_mu);
    m->sim_run = (prun){.w = w, .p = p, .pct = 100, .kpi = kpi};
    for (uint32_t t = 1; rc == GOSR_OK && t <= n; t++) {
        botin b;
        bot_inputs(m->cfg.seed, t, &b);
        uint64_t t0 = gosr_time_mono_ns();
        gosr_world_begin(w);
        patch__tick(m, &m->sim_run, t, b.ev, BOT_EVENTS);
        gosr_world_commit(w, true);
        uint64_t dt = gosr_time_mono_ns() - t0;
        if (p && p->sb && gosr_sandbox_is_dead(p->sb))
            rc = kill_reason(p, "determinism", err);
        else if (dt > m->cfg.tick_time_ns)
            rc = gosr_error_set(err, GOSR_EBUDGET, "determinism_budget_time",
                                "tick %u took %llu ns (budget %llu)", t,
                                (unsigned long long)dt,
                                (unsigned long long)m->cfg.tick_time_ns);
        if (p && p->sb && rc == GOSR_OK &&
            gosr_sandbox_mem_used(p->sb) > m->cfg.mem_limit)
            rc = gosr_error_set(err, GOSR_EBUDGET, "determinism_budget_memory",
                                "heap over budget");
        if (hashes)
            gosr_world_hash(w, &hashes[t - 1]);
    }
    m->sim_run = (prun){0};
    pthread_mutex_unlock(&m->sim_mu);
    patch__free(p);
    gosr_world_destroy(w);
    return rc;
}

json_t *patch__kpi_json(const pkpi *k)
{
    return json_pack(
        "{s:I, s:I, s:f, s:I, s:f, s:f, s:f, s:f}", "ticks",
        (json_int_t)k->ticks, "faults", (json_int_t)k->faults, "eco_sum",
        k->eco_sum, "eco_n", (json_int_t)k->eco_n, "fault_rate",
        k->ticks ? (double)k->faults / (double)k->ticks : 0.0, "economy",
        k->eco_n ? k->eco_sum / (double)k->eco_n : 0.0, "quest_started",
        k->q_started, "quest_completed", k->q_completed);
}

int patch__stage_determinism(gosr_patch_mgr *m, const char *id, json_t **ev,
                             gosr_error *err)
{
    gosr_world_snap *snap = NULL;
    uint32_t n = m->cfg.replay_ticks;
    gosr_hash *h1 = gosr_calloc(n, sizeof *h1),
              *h2 = gosr_calloc(n, sizeof *h2);
    pkpi k1, k2;
    int rc =
        h1 && h2 ? gosr_node_world_snapshot(m->node, &snap, err) : GOSR_ENOMEM;
    if (rc == GOSR_OK)
        rc = run_shadow(m, id, snap, n, &k1, h1, err);
    if (rc == GOSR_OK)
        rc = run_shadow(m, id, snap, n, &k2, h2, err);
    for (uint32_t t = 0; rc == GOSR_OK && t < n; t++)
        if (memcmp(&h1[t], &h2[t], sizeof h1[t]) != 0)
            rc = gosr_error_set(err, GOSR_EFAULT, "determinism_diverged",
                                "world hashes differ at replay tick %u", t + 1);
    if (rc == GOSR_OK) {
        char hex[65];
        gosr_hash_hex(&h1[n ? n - 1 : 0], hex);
        *ev = json_pack("{s:i, s:I, s:s}", "ticks", (int)n, "seed",
                        (json_int_t)m->cfg.seed, "final_hash", n ? hex : "");
    }
    gosr_world_snap_free(snap);
    gosr_free(h1);
    gosr_free(h2);
    return rc;
}

const char *patch__kpi_breach(const gosr_patch_mgr *m, const pkpi *k,
                              const pkpi *ref, const char *prefix, char *detail,
                              size_t cap)
{
    static char reason[48];
    double fr = k->ticks ? (double)k->faults / (double)k->ticks : 0;
    const gosr_patch_thresholds *th = &m->cfg.th;
    const char *what = NULL;
    if (fr > th->max_fault_rate) {
        what = "fault_rate";
        snprintf(detail, cap, "fault rate %.4f > %.4f", fr, th->max_fault_rate);
    } else if (ref && ref->eco_n && k->eco_n) {
        double a = k->eco_sum / (double)k->eco_n;
        double b = ref->eco_sum / (double)ref->eco_n;
        double d =
            (a > b ? a - b : b - a) / (b > 1 || b < -1 ? (b < 0 ? -b : b) : 1);
        if (d > th->max_economy_drift) {
            what = "economy_drift";
            snprintf(detail, cap, "economy %.3f vs %.3f: drift %.3f > %.3f", a,
                     b, d, th->max_economy_drift);
        }
    }
    if (!what && ref && ref->q_started >= th->min_quest_samples &&
        k->q_started >= th->min_quest_samples && k->q_started > 0 &&
        ref->q_started > 0) {
        double a = k->q_completed / k->q_started;
        double b = ref->q_completed / ref->q_started;
        if ((a > b ? a - b : b - a) > th->max_quest_deviation) {
            what = "quest_deviation";
            snprintf(detail, cap, "quest completion %.3f vs %.3f", a, b);
        }
    }
    if (!what)
        return NULL;
    snprintf(reason, sizeof reason, "%s_%s", prefix, what);
    return reason;
}

int patch__stage_canary(gosr_patch_mgr *m, const char *id, pkpi *cand,
                        json_t **ev, gosr_error *err)
{
    gosr_world_snap *snap = NULL;
    pkpi base;
    char active[65], prev[65];
    uint32_t pct;
    pthread_mutex_lock(&m->mu);
    patch__pointer_get(m, active, prev, &pct);
    pthread_mutex_unlock(&m->mu);
    int rc = gosr_node_world_snapshot(m->node, &snap, err);
    if (rc == GOSR_OK)
        rc = run_shadow(m, active[0] ? active : NULL, snap, m->cfg.canary_ticks,
                        &base, NULL, err);
    if (rc == GOSR_OK)
        rc = run_shadow(m, id, snap, m->cfg.canary_ticks, cand, NULL, err);
    gosr_world_snap_free(snap);
    if (rc != GOSR_OK) {
        if (!strncmp(err->reason, "determinism_", 12)) {
            char r[96];
            snprintf(r, sizeof r, "canary_%.50s", err->reason + 12);
            r[63] = '\0';
            memcpy(err->reason, r, 64);
        }
        return rc;
    }
    *ev = json_pack("{s:o, s:o, s:s?}", "baseline", patch__kpi_json(&base),
                    "candidate", patch__kpi_json(cand), "baseline_patch",
                    active[0] ? active : NULL);
    char detail[256];
    const char *r =
        patch__kpi_breach(m, cand, &base, "canary", detail, sizeof detail);
    if (r && !strcmp(r, "canary_fault_rate"))
        return gosr_error_set(err, GOSR_EDENIED, r, "%s", detail);
    if (r) { /* a KPI outside its threshold: a person decides */
        json_object_set_new(*ev, "breach", json_string(r));
        json_object_set_new(*ev, "detail", json_string(detail));
    }
    return GOSR_OK;
}

uint32_t patch__cohort(uint64_t owner)
{
    uint8_t b[22], out[8];
    memcpy(b, "gosr-cohort-v1", 14);
    for (int i = 0; i < 8; i++)
        b[14 + i] = (uint8_t)(owner >> (8 * i));
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, b, sizeof b);
    gosr_blake3_finalize(&h, out, sizeof out);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)out[i] << (8 * i);
    return (uint32_t)(v % 100);
}

uint32_t gosr_patch_cohort(uint64_t owner)
{
    return patch__cohort(owner);
}
