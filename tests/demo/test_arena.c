/*
 * test_arena.c — games/arena on a node stepped by hand: the five modules
 * load and run with bots acting through gosr_node_submit; the same seed
 * gives the same world hash, another seed a different one; the economy
 * reports KPIs, quests are accepted and completed, bots gather, sell and
 * fight; the module dependency ranges are enforced. Design under test:
 * docs/arena.md, docs/demo.md ("Bots").
 */
#include "kernel/kfix.h"

#include "gosr/demo.h"

#include <stdlib.h>
#include <string.h>

static const char *const MODS[] = {"world", "npc", "economy", "quests",
                                   "dialogue"};

/* Result of one run. */
typedef struct run_out {
    gosr_hash hash;      /* world hash at the end */
    json_t *kpis;        /* gosr_demo_read_kpis at the end */
    gosr_demo_bot_stats bots; /* bot counters */
} run_out;

static char *pack_arena(const kfix *f, const char *sub)
{
    char src[512], name[64];
    snprintf(src, sizeof src, "%s/games/arena/%s", GOSR_SOURCE_DIR, sub);
    snprintf(name, sizeof name, "arena-%s", sub);
    return kfix_pack(f, src, name);
}

static gosr_node *open_node(const kfix *f, const char *tag, uint64_t seed)
{
    char *dir = gosr_asprintf("%s/node-%s", gosr_test_tmpdir(), tag);
    gosr_node_config nc = {.data_dir = dir, .trust_pk = f->root.pk,
                           .no_admin = true, .seed = seed,
                           .kv_capacity = 16384, .hash_ticks = true};
    gosr_node *n = NULL;
    gosr_error err = {0};
    if (gosr_node_open(&nc, &n, &err) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "open: %s: %s", err.reason,
                       err.detail);
    gosr_free(dir);
    return n;
}

static void run_arena(const kfix *f, const char *tag, uint64_t seed,
                      uint32_t nbots, uint32_t ticks, run_out *out)
{
    gosr_node *n = open_node(f, tag, seed);
    REQUIRE(n);
    gosr_error err = {0};
    for (size_t i = 0; i < 5; i++) {
        char *b = pack_arena(f, MODS[i]);
        CHECK_INT(gosr_node_publish(n, b, true, "test", NULL, &err), ==, GOSR_OK);
        gosr_free(b);
    }
    gosr_demo_bots *bots = NULL;
    REQUIRE(gosr_demo_bots_create(nbots, seed, &bots, &err) == GOSR_OK);
    const gosr_arena *view = gosr_world_arena(gosr_node_world(n));
    for (uint32_t t = 0; t < ticks; t++) {
        if (t % 3 == 0)
            CHECK_INT(gosr_demo_bots_round(bots, n, view, 60, &err), ==, GOSR_OK);
        CHECK_INT(gosr_node_step(n, 1, &err), ==, GOSR_OK);
    }
    gosr_world_hash(gosr_node_world(n), &out->hash);
    out->kpis = NULL;
    CHECK_INT(gosr_demo_read_kpis(view, &out->kpis, &err), ==, GOSR_OK);
    gosr_demo_bots_stats(bots, &out->bots);
    gosr_node_counters c;
    gosr_node_get_counters(n, &c);
    CHECK_INT(c.faults, ==, 0);
    gosr_demo_bots_destroy(bots);
    gosr_node_close(n);
}

static long kpi_num(const json_t *k, const char *group, const char *key,
                    int field)
{
    const char *s = json_string_value(json_object_get(json_object_get(k, group), key));
    if (!s)
        return -1;
    long v = -1;
    for (int i = 0; i <= field; i++) {
        char *end;
        v = strtol(s, &end, 10);
        s = end;
    }
    return v;
}

GOSR_TEST(arena_runs_deterministically_with_bots)
{
    kfix f;
    kfix_keys(&f);
    run_out a, b, c;
    run_arena(&f, "a", 7, 40, 450, &a);
    run_arena(&f, "b", 7, 40, 450, &b);
    run_arena(&f, "c", 8, 40, 450, &c);
    CHECK(gosr_hash_equal(&a.hash, &b.hash));
    CHECK(!gosr_hash_equal(&a.hash, &c.hash));
    REQUIRE(a.kpis && b.kpis);
    CHECK(json_equal(a.kpis, b.kpis));
    /* every bot joined and got an account; the economy reported */
    CHECK_INT(a.bots.joined, ==, 40);
    /* accounts open on a player's first economy request */
    CHECK(kpi_num(a.kpis, "economy", "players", 0) >= 32);
    CHECK(kpi_num(a.kpis, "economy", "minted", 0) >= 40 * 20000);
    CHECK_INT(a.bots.refused, ==, 0);
    /* flows: sales trades gathers loot potions */
    CHECK(kpi_num(a.kpis, "economy", "flows", 2) > 0); /* gathers */
    CHECK(kpi_num(a.kpis, "economy", "flows", 0) > 0); /* sales */
    CHECK(kpi_num(a.kpis, "economy", "sunk", 0) > 0);  /* tax sink */
    /* quests: accepted and completed */
    CHECK(kpi_num(a.kpis, "quests", "stats", 0) > 0);
    CHECK(kpi_num(a.kpis, "quests", "stats", 1) > 0);
    /* monsters were fought */
    CHECK(a.bots.by_action[3] > 0);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(a.kpis, "entities"), "avatars")), ==, 40);
    json_decref(a.kpis);
    json_decref(b.kpis);
    json_decref(c.kpis);
}

/* The dependency ranges of gmod.json are real: quests needs the economy,
 * the npc module needs the world. */
GOSR_TEST(arena_dependencies_enforced)
{
    kfix f;
    kfix_keys(&f);
    gosr_node *n = open_node(&f, "deps", 1);
    REQUIRE(n);
    gosr_error err = {0};
    char *npc = pack_arena(&f, "npc");
    CHECK_INT(gosr_node_publish(n, npc, true, "test", NULL, &err), ==,
              GOSR_EDEPENDENCY);
    CHECK(strcmp(err.reason, "deps_missing") == 0);
    char *w = pack_arena(&f, "world");
    CHECK_INT(gosr_node_publish(n, w, true, "test", NULL, &err), ==, GOSR_OK);
    CHECK_INT(gosr_node_activate(n, "arena.npc", "1.0.0", "test", &err), ==,
              GOSR_OK);
    char *q = pack_arena(&f, "quests");
    CHECK_INT(gosr_node_publish(n, q, true, "test", NULL, &err), ==,
              GOSR_EDEPENDENCY); /* no arena.economy yet */
    gosr_free(npc);
    gosr_free(w);
    gosr_free(q);
    gosr_node_close(n);
}

/* A hot swap of the economy keeps every account (migrate) and rolls back
 * to 1.0.0 carrying the state. */
GOSR_TEST(arena_economy_swap_keeps_accounts)
{
    kfix f;
    kfix_keys(&f);
    gosr_node *n = open_node(&f, "swap", 3);
    REQUIRE(n);
    gosr_error err = {0};
    for (size_t i = 0; i < 5; i++) {
        char *b = pack_arena(&f, MODS[i]);
        CHECK_INT(gosr_node_publish(n, b, true, "test", NULL, &err), ==, GOSR_OK);
        gosr_free(b);
    }
    gosr_demo_bots *bots = NULL;
    REQUIRE(gosr_demo_bots_create(20, 3, &bots, &err) == GOSR_OK);
    const gosr_arena *view = gosr_world_arena(gosr_node_world(n));
    for (int t = 0; t < 120; t++) {
        if (t % 3 == 0)
            gosr_demo_bots_round(bots, n, view, 60, &err);
        gosr_node_step(n, 1, &err);
    }
    json_t *k = NULL;
    REQUIRE(gosr_demo_read_kpis(view, &k, &err) == GOSR_OK);
    long players = kpi_num(k, "economy", "players", 0);
    long minted = kpi_num(k, "economy", "minted", 0);
    CHECK(players > 10);
    json_decref(k);
    char *v2 = pack_arena(&f, "economy-v2");
    CHECK_INT(gosr_node_publish(n, v2, true, "test", NULL, &err), ==, GOSR_OK);
    gosr_free(v2);
    CHECK_INT(gosr_node_step(n, 40, &err), ==, GOSR_OK);
    REQUIRE(gosr_demo_read_kpis(view, &k, &err) == GOSR_OK);
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(k, "economy"), "ver")), "1.1.0") == 0);
    /* accounts and counters carried over by migrate */
    CHECK_INT(kpi_num(k, "economy", "players", 0), ==, players);
    CHECK(kpi_num(k, "economy", "minted", 0) >= minted);
    json_decref(k);
    CHECK_INT(gosr_node_rollback(n, "arena.economy", NULL, "test", &err), ==, GOSR_OK);
    CHECK_INT(gosr_node_step(n, 31, &err), ==, GOSR_OK);
    char ver[32];
    CHECK_INT(gosr_node_active_version(n, "arena.economy", ver, sizeof ver), ==, GOSR_OK);
    CHECK(strcmp(ver, "1.0.0") == 0);
    REQUIRE(gosr_demo_read_kpis(view, &k, &err) == GOSR_OK);
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(k, "economy"), "ver")), "1.0.0") == 0);
    CHECK_INT(kpi_num(k, "economy", "players", 0), ==, players);
    CHECK(kpi_num(k, "economy", "minted", 0) >= minted);
    json_decref(k);
    gosr_demo_bots_destroy(bots);
    gosr_node_close(n);
}
