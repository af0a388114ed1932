/*
 * play.c — the timed phase of `gosr demo`: bots play arena v1 while the
 * node ticks at 30 Hz; arena.economy is hot-swapped 1.0.0 -> 1.1.0
 * (publish, activate, probation, retire), an AI patch goes through the
 * pipeline (pipeline.c), the operator rolls the module back to the
 * previous known-good version, the patch is rolled back, and the kill
 * switch refuses a new patch (timeline above demo__play). Tick
 * durations, markers and KPIs are collected for the report, and the world
 * is read only through a read-only arena view (gosr_demo_read_kpis).
 * Design: docs/demo.md ("Timeline", "Facts").
 */
#include "demo/demo_int.h"

#include "gosr/gmod.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ONE 65536
#define ROUND_MS 100 /* bot decision round */
#define ACT_PCT 40   /* share of bots acting per round */

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t elapsed_ms(const demo_run *d, uint64_t since)
{
    return (gosr_time_mono_ns() - since) / 1000000u;
}

/* ---- KPIs from the world view ------------------------------------------- */

static const char *const KPI_KEYS[] = {"ver", "supply", "minted", "sunk",
                                       "flows", "prices", "players"};

static void kv_into(json_t *o, const gosr_kv_slot *k)
{
    char key[GOSR_KV_KEY_MAX + 1] = {0}, val[GOSR_KV_VALUE_MAX + 1] = {0};
    memcpy(key, k->key, GOSR_KV_KEY_MAX);
    memcpy(val, k->value, k->vlen <= GOSR_KV_VALUE_MAX ? k->vlen : 0);
    json_object_set_new(o, key, json_string(val));
}

/* Copies a region of the view; *out owned by the caller. */
static int read_region(const gosr_arena *v, const char *name, size_t esz,
                       void **out, size_t *count, gosr_error *err)
{
    int r = gosr_arena_find(v, name);
    gosr_region_info in;
    if (r < 0 || gosr_arena_region_info(v, r, &in) != GOSR_OK ||
        in.elem_size != esz)
        return gosr_error_set(err, GOSR_EFORMAT, "demo_view_bad",
                              "no %s region", name);
    *out = gosr_malloc(in.size ? in.size : 1);
    if (!*out)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "view");
    uint64_t ep;
    int rc = gosr_arena_read(v, r, *out, in.size, &ep, 1000);
    if (rc != GOSR_OK) {
        gosr_free(*out);
        *out = NULL;
        return gosr_error_set(err, rc, "demo_view_read", "read %s", name);
    }
    *count = in.elem_count;
    return GOSR_OK;
}

/* Entity counts by z layer plus the ids of the bank and board. */
static void count_kinds(const gosr_entity_slot *e, size_t n, json_t *o,
                        uint64_t *bank, uint64_t *board)
{
    static const char *const KIND[11] = {"other", "avatars", "monsters",
                                         "resources", "merchants", "loot",
                                         "quest_givers", "other", "other",
                                         "bank", "board"};
    json_int_t c[11] = {0};
    for (size_t i = 0; i < n; i++) {
        if (!(e[i].mask & GOSR_C_ALIVE))
            continue;
        int64_t z = e[i].pos.z / ONE;
        int k = (z >= 0 && z <= 10) ? (int)z : 0;
        c[k]++;
        uint64_t id = ((uint64_t)e[i].generation << 32) | i;
        if (k == GOSR_ARENA_Z_BANK)
            *bank = id;
        if (k == GOSR_ARENA_Z_BOARD)
            *board = id;
    }
    json_t *ents = json_object();
    for (int k = 1; k <= 6; k++)
        json_object_set_new(ents, KIND[k], json_integer(c[k]));
    json_object_set_new(o, "entities", ents);
}

int gosr_demo_read_kpis(const gosr_arena *view, json_t **out, gosr_error *err)
{
    void *ev = NULL, *kv = NULL;
    size_t ne = 0, nk = 0;
    uint64_t bank = 0, board = 0;
    int rc = read_region(view, "entities", sizeof(gosr_entity_slot), &ev, &ne,
                         err);
    if (rc == GOSR_OK)
        rc = read_region(view, "kv", sizeof(gosr_kv_slot), &kv, &nk, err);
    if (rc != GOSR_OK)
        goto free_bufs;
    json_t *o = json_object(), *eco = json_object(), *q = json_object();
    count_kinds(ev, ne, o, &bank, &board);
    const gosr_kv_slot *k = kv;
    for (size_t i = 0; i < nk; i++) {
        if (bank && k[i].entity == bank &&
            strncmp(k[i].module, "arena.economy", sizeof k[i].module) == 0)
            kv_into(eco, &k[i]);
        if (board && k[i].entity == board &&
            strncmp(k[i].module, "arena.quests", sizeof k[i].module) == 0)
            kv_into(q, &k[i]);
    }
    json_object_set_new(o, "economy", eco);
    json_object_set_new(o, "quests", q);
    if (!json_object_get(eco, KPI_KEYS[1])) {
        json_decref(o);
        rc = gosr_error_set(err, GOSR_ENOENT, "demo_no_kpis",
                            "arena.economy has not reported yet");
        goto free_bufs;
    }
    *out = o;
free_bufs:
    gosr_free(ev);
    gosr_free(kv);
    return rc;
}

void demo__kpis(demo_run *d, const char *phase)
{
    json_t *k = NULL;
    gosr_error err = {0};
    if (gosr_demo_read_kpis(d->view, &k, &err) != GOSR_OK) {
        demo__progress(d, "kpis %s: %s", phase, err.reason);
        return;
    }
    gosr_node_counters c;
    gosr_node_get_counters(d->node, &c);
    json_object_set_new(k, "tick", json_integer((json_int_t)c.ticks));
    json_object_set_new(d->kpis, phase, k);
}

/* ---- tick durations ------------------------------------------------------ */

void demo__sample_ticks(demo_run *d)
{
    uint64_t buf[1024];
    gosr_node_counters a, b;
    size_t got;
    do {
        gosr_node_get_counters(d->node, &a);
        got = gosr_node_recent_ticks(d->node, buf, 1024);
        gosr_node_get_counters(d->node, &b);
    } while (a.ticks != b.ticks);
    uint64_t fresh = b.ticks - d->seen_ticks;
    if (fresh > got)
        fresh = got; /* older ones fell out of the node's window */
    for (uint64_t i = got - fresh; i < got; i++) {
        uint64_t tick = b.ticks - (got - i) + 1;
        json_array_append_new(d->ticks,
                              json_pack("[I, f]", (json_int_t)tick,
                                        (double)buf[i] / 1e6));
    }
    d->seen_ticks = b.ticks;
}

static uint64_t now_tick(demo_run *d)
{
    gosr_node_counters c;
    gosr_node_get_counters(d->node, &c);
    return c.ticks;
}

void demo__mark(demo_run *d, const char *kind, const char *label)
{
    json_array_append_new(d->markers,
                          json_pack("{s:I, s:s, s:s}", "tick",
                                    (json_int_t)now_tick(d), "kind", kind,
                                    "label", label));
}

/* The module's slot state ("running", "probation", ...) and whether an old
 * version is still quarantined. */
static void slot_state(demo_run *d, const char *id, char *st, size_t cap,
                       bool *quarantined)
{
    json_t *m = NULL, *e;
    size_t i;
    snprintf(st, cap, "unknown");
    *quarantined = false;
    if (gosr_node_modules_json(d->node, &m, NULL) != GOSR_OK)
        return;
    json_array_foreach(json_object_get(m, "modules"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "id")) ?: "", id))
            continue;
        snprintf(st, cap, "%s",
                 json_string_value(json_object_get(e, "state")) ?: "?");
        *quarantined = json_is_string(json_object_get(e, "quarantined"));
    }
    json_decref(m);
}

/* Bots play and ticks are sampled until `until_ms` after start. */
static int play_until(demo_run *d, uint64_t until_ms, gosr_error *err)
{
    while (elapsed_ms(d, d->t0) < until_ms) {
        uint64_t r0 = gosr_time_mono_ns();
        int rc = gosr_demo_bots_round(d->bots, d->node, d->view, ACT_PCT, err);
        if (rc != GOSR_OK)
            return rc;
        demo__sample_ticks(d);
        if (elapsed_ms(d, d->t0) / 2000 != d->last_line) {
            d->last_line = elapsed_ms(d, d->t0) / 2000;
            gosr_demo_bot_stats bs;
            gosr_node_counters c;
            gosr_demo_bots_stats(d->bots, &bs);
            gosr_node_get_counters(d->node, &c);
            demo__progress(d, "tick %" PRIu64 ": %" PRIu64 " bots in world, %"
                           PRIu64 " inputs sent, late %" PRIu64 " missed %"
                           PRIu64, c.ticks, bs.joined, bs.sent, c.late, c.missed);
        }
        uint64_t spent = elapsed_ms(d, 0) - r0 / 1000000u;
        if (spent < ROUND_MS)
            sleep_ms(ROUND_MS - spent);
    }
    return GOSR_OK;
}

/* Hot swap of arena.economy 1.0.0 -> 1.1.0, waiting out the probation. */
static void do_swap(demo_run *d)
{
    char *src = gosr_asprintf("%s/economy-v2", d->game_dir);
    char *dst = gosr_asprintf("%s/bundles/arena-economy-v2.gmod", d->cfg.out_dir);
    gosr_gmod_pack_opts o = {.key = &d->dev, .chain = &d->cert, .nchain = 1};
    gosr_error err = {0};
    gosr_node_counters c0, c1;
    int rc = (src && dst) ? gosr_gmod_pack(src, &o, dst, &err) : GOSR_ENOMEM;
    if (rc == GOSR_OK)
        rc = gosr_node_publish(d->node, dst, false, "operator:demo", NULL, &err);
    gosr_node_get_counters(d->node, &c0);
    if (rc == GOSR_OK)
        rc = gosr_node_activate(d->node, "arena.economy", "1.1.0",
                                "operator:demo", &err);
    gosr_node_counters cs;
    gosr_node_get_counters(d->node, &cs); /* activate returns after the
                                             switch between two ticks */
    gosr_free(src);
    gosr_free(dst);
    if (rc != GOSR_OK) {
        demo__step(d, "hot_swap", false, "%s: %s", err.reason, err.detail);
        return;
    }
    demo__mark(d, "swap", "arena.economy 1.0.0 -> 1.1.0");
    char st[32];
    bool quar = true;
    uint64_t w0 = gosr_time_mono_ns();
    while (quar && (gosr_time_mono_ns() - w0) < 10000000000ull) {
        play_until(d, elapsed_ms(d, d->t0) + ROUND_MS, &err);
        slot_state(d, "arena.economy", st, sizeof st, &quar);
    }
    gosr_node_get_counters(d->node, &c1);
    char ver[64] = "";
    gosr_node_active_version(d->node, "arena.economy", ver, sizeof ver);
    json_object_set_new(d->facts, "swap_active_version", json_string(ver));
    json_object_set_new(d->facts, "swap_missed_ticks",
                        json_integer((json_int_t)(cs.missed - c0.missed)));
    json_object_set_new(d->facts, "swap_late_ticks",
                        json_integer((json_int_t)(cs.late - c0.late)));
    json_object_set_new(d->facts, "probation_missed_ticks",
                        json_integer((json_int_t)(c1.missed - cs.missed)));
    json_object_set_new(d->facts, "probation_late_ticks",
                        json_integer((json_int_t)(c1.late - cs.late)));
    json_object_set_new(d->facts, "swap_commit_ms",
                        json_real((double)c1.last_swap_commit_ns / 1e6));
    json_object_set_new(d->facts, "swap_retired", json_boolean(!quar));
    json_object_set_new(d->facts, "swap_rolled_back",
                        json_boolean(c1.rollbacks != c0.rollbacks));
    demo__step(d, "hot_swap", strcmp(ver, "1.1.0") == 0 && !quar,
               "arena.economy now %s (state %s); switch %.3f ms on the tick "
               "thread; %" PRIu64 " late / %" PRIu64 " missed ticks during "
               "load+switch, %" PRIu64 " / %" PRIu64 " during probation",
               ver, st, (double)c1.last_swap_commit_ns / 1e6,
               cs.late - c0.late, cs.missed - c0.missed, c1.late - cs.late,
               c1.missed - cs.missed);
}

/* Operator rollback of arena.economy to the version active before. */
static void do_rollback(demo_run *d)
{
    gosr_error err = {0};
    char before[64] = "", after[64] = "";
    gosr_node_active_version(d->node, "arena.economy", before, sizeof before);
    int rc = gosr_node_rollback(d->node, "arena.economy", NULL,
                                "operator:demo", &err);
    gosr_node_active_version(d->node, "arena.economy", after, sizeof after);
    if (rc != GOSR_OK) {
        demo__step(d, "rollback", false, "%s: %s", err.reason, err.detail);
        return;
    }
    char label[160];
    snprintf(label, sizeof label, "arena.economy %s -> %s", before, after);
    demo__mark(d, "rollback", label);
    json_object_set_new(d->facts, "rollback_from_version", json_string(before));
    json_object_set_new(d->facts, "rollback_restored_version",
                        json_string(after));
    demo__step(d, "rollback", strcmp(after, "1.0.0") == 0,
               "%s (previous known-good)", label);
}

int demo__play_for(demo_run *d, uint64_t ms, gosr_error *err)
{
    return play_until(d, elapsed_ms(d, d->t0) + ms, err);
}

/* Timeline (fractions of --duration from the start of play; a step that
 * takes longer pushes the next ones back): 25 % hot swap, 40 % AI patch
 * through the pipeline, 60 % module rollback, 70 % patch rollback, 80 %
 * kill switch. */
int demo__play(demo_run *d, gosr_error *err)
{
    uint64_t D = d->cfg.duration_ms, start = elapsed_ms(d, d->t0);
    int rc = gosr_demo_bots_create(d->cfg.bots, d->cfg.seed, &d->bots, err);
    if (rc != GOSR_OK)
        return rc;
    demo__progress(d, "%u bots joining (inputs through gosr_node_submit)",
                   d->cfg.bots);
    if ((rc = play_until(d, start + D * 25 / 100, err)) != GOSR_OK)
        return rc;
    demo__kpis(d, "before_swap");
    do_swap(d);
    if ((rc = play_until(d, start + D * 40 / 100, err)) != GOSR_OK)
        return rc;
    demo__kpis(d, "after_swap");
    demo__patch_to_active(d);
    if ((rc = play_until(d, start + D * 60 / 100, err)) != GOSR_OK)
        return rc;
    do_rollback(d);
    if ((rc = play_until(d, start + D * 70 / 100, err)) != GOSR_OK)
        return rc;
    demo__patch_rollback(d);
    if ((rc = play_until(d, start + D * 80 / 100, err)) != GOSR_OK)
        return rc;
    demo__killswitch(d);
    if ((rc = play_until(d, start + D, err)) != GOSR_OK)
        return rc;
    demo__kpis(d, "end");
    demo__sample_ticks(d);
    return GOSR_OK;
}
