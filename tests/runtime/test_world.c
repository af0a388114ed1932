/*
 * test_world.c — the world: spawn/destroy with generational ids (stale ids
 * fail cleanly), components, inventory, per-module key/value data, batch
 * rules and epochs per region, the arena view a reader gets, and world hash
 * determinism.
 */
#include "harness.h"
#include "gosr/runtime.h"

#include <sys/wait.h>
#include <unistd.h>

static gosr_world *make_world(uint32_t cap, const char *path)
{
    gosr_world_config cfg = {.capacity = cap, .kv_capacity = 8, .seed = 42};
    gosr_world *w = NULL;
    gosr_error err;
    if (gosr_world_create(&cfg, path, &w, &err) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "world: %s", err.detail);
    return w;
}

GOSR_TEST(generational_ids)
{
    gosr_world *w = make_world(4, NULL);
    REQUIRE(w);
    gosr_entity a, b, c;
    CHECK_STATUS(gosr_world_spawn(w, NULL, &a), GOSR_ESTATE); /* no batch */
    CHECK_OK(gosr_world_begin(w));
    CHECK_STATUS(gosr_world_begin(w), GOSR_ESTATE);
    CHECK_OK(gosr_world_spawn(w, NULL, &a));
    CHECK_OK(gosr_world_spawn(w, NULL, &b));
    CHECK(a.id != 0 && b.id != 0 && a.id != b.id);
    CHECK_UINT(a.id >> 32, ==, 1);
    CHECK_OK(gosr_world_destroy_entity(w, a));
    CHECK(!gosr_world_alive(w, a));
    CHECK_STATUS(gosr_world_destroy_entity(w, a), GOSR_ENOENT);
    CHECK_OK(gosr_world_spawn(w, NULL, &c)); /* reuses a's slot */
    CHECK_UINT(c.id & 0xffffffffu, ==, a.id & 0xffffffffu);
    CHECK_UINT(c.id >> 32, ==, 2);
    gosr_entity_slot s;
    CHECK_STATUS(gosr_world_get(w, a, &s), GOSR_ENOENT); /* stale */
    CHECK_STATUS(gosr_world_set_health(w, a, 5), GOSR_ENOENT);
    CHECK_STATUS(gosr_world_get(w, (gosr_entity){0}, &s), GOSR_ENOENT);
    CHECK_STATUS(gosr_world_get(w, (gosr_entity){(1ull << 32) | 99}, &s),
                 GOSR_ENOENT);
    CHECK(gosr_world_slot_mut(w, a) == NULL);
    gosr_entity d, e;
    CHECK_OK(gosr_world_spawn(w, NULL, &d));
    CHECK_OK(gosr_world_spawn(w, NULL, &e));
    CHECK_STATUS(gosr_world_spawn(w, NULL, &e), GOSR_ENOSPC);
    CHECK_UINT(gosr_world_count(w), ==, 4);
    CHECK_OK(gosr_world_commit(w, true));
    CHECK_STATUS(gosr_world_commit(w, true), GOSR_ESTATE);
    CHECK_UINT(gosr_world_tick(w), ==, 1);
    gosr_world_destroy(w);
}

GOSR_TEST(components_and_inventory)
{
    gosr_world *w = make_world(8, NULL);
    REQUIRE(w);
    gosr_world_begin(w);
    gosr_entity e;
    gosr_entity_slot init = {
        .mask = GOSR_C_HEALTH, .health = 10, .inv_count = 99};
    CHECK_OK(gosr_world_spawn(w, &init, &e));
    CHECK_OK(gosr_world_set_position(w, e, (gosr_vec3){1, 2, 3}));
    CHECK_OK(gosr_world_set_velocity(w, e, (gosr_vec3){-1, 0, 1}));
    CHECK_OK(gosr_world_set_owner(w, e, 77));
    gosr_entity_slot s;
    CHECK_OK(gosr_world_get(w, e, &s));
    CHECK_UINT(s.mask, ==, GOSR_C_ALL & ~GOSR_C_INVENTORY);
    CHECK_EQ(s.pos.z, 3);
    CHECK_EQ(s.vel.x, -1);
    CHECK_UINT(s.owner, ==, 77);
    CHECK_EQ(s.health, 10);
    CHECK_UINT(s.inv_count, ==, GOSR_INV_SLOTS); /* clamped */
    gosr_entity f;
    CHECK_OK(gosr_world_spawn(w, NULL, &f));
    for (uint32_t i = 1; i <= GOSR_INV_SLOTS; i++)
        CHECK_OK(gosr_world_inv_add(w, f, i, i));
    CHECK_STATUS(gosr_world_inv_add(w, f, 100, 1), GOSR_ENOSPC);
    CHECK_OK(gosr_world_inv_add(w, f, 3, 10)); /* merges */
    CHECK_STATUS(gosr_world_inv_add(w, f, 3, UINT32_MAX), GOSR_ETOOBIG);
    CHECK_STATUS(gosr_world_inv_add(w, f, 0, 1), GOSR_EINVAL);
    CHECK_OK(gosr_world_get(w, f, &s));
    CHECK_UINT(s.inv[2].count, ==, 13);
    CHECK_OK(gosr_world_inv_remove(w, f, 2, 2)); /* removes entry, packs */
    CHECK_OK(gosr_world_get(w, f, &s));
    CHECK_UINT(s.inv_count, ==, GOSR_INV_SLOTS - 1);
    CHECK_UINT(s.inv[1].item, ==, 3);
    CHECK_UINT(s.inv[GOSR_INV_SLOTS - 1].item, ==, 0);
    CHECK_OK(gosr_world_inv_remove(w, f, 3, 5));
    CHECK_OK(gosr_world_get(w, f, &s));
    CHECK_UINT(s.inv[1].count, ==, 8);
    CHECK_STATUS(gosr_world_inv_remove(w, f, 2, 1), GOSR_ENOENT);
    gosr_world_commit(w, false);
    gosr_world_destroy(w);
}

GOSR_TEST(kv_data)
{
    gosr_world *w = make_world(8, NULL);
    REQUIRE(w);
    gosr_world_begin(w);
    gosr_entity e, f;
    gosr_world_spawn(w, NULL, &e);
    gosr_world_spawn(w, NULL, &f);
    CHECK_OK(gosr_world_kv_set(w, e, "combat", "armor", "iron", 4));
    CHECK_OK(gosr_world_kv_set(w, e, "combat", "armor", "steel", 5));
    CHECK_OK(gosr_world_kv_set(w, e, "quests", "armor", "x", 1));
    CHECK_OK(gosr_world_kv_set(w, f, "combat", "armor", "", 0));
    char buf[64];
    size_t len = 0;
    CHECK_OK(gosr_world_kv_get(w, e, "combat", "armor", buf, sizeof buf, &len));
    CHECK_UINT(len, ==, 5);
    CHECK_MEM(buf, "steel", 5);
    CHECK_STATUS(gosr_world_kv_get(w, e, "combat", "armor", buf, 2, &len),
                 GOSR_ETOOBIG);
    CHECK_STATUS(gosr_world_kv_get(w, e, "combat", "nope", buf, 64, &len),
                 GOSR_ENOENT);
    char big[GOSR_KV_VALUE_MAX + 1] = {0};
    CHECK_STATUS(gosr_world_kv_set(w, e, "m", "k", big, sizeof big),
                 GOSR_ETOOBIG);
    CHECK_STATUS(gosr_world_kv_set(w, e, "", "k", "v", 1), GOSR_EINVAL);
    CHECK_STATUS(gosr_world_kv_set(w, e, "a_module_name_that_is_far_too_long_x",
                                   "k", "v", 1),
                 GOSR_EINVAL);
    CHECK_OK(gosr_world_kv_del(w, e, "quests", "armor"));
    CHECK_STATUS(gosr_world_kv_del(w, e, "quests", "armor"), GOSR_ENOENT);
    /* Destroying an entity drops its entries; capacity is bounded. */
    CHECK_OK(gosr_world_destroy_entity(w, e));
    CHECK_STATUS(gosr_world_kv_get(w, e, "combat", "armor", buf, 64, &len),
                 GOSR_ENOENT);
    char key[8];
    int added = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (gosr_world_kv_set(w, f, "m", key, "v", 1) == GOSR_OK)
            added++;
    }
    CHECK_EQ(added, 7); /* 8 slots, one used by f's "combat/armor" */
    CHECK_STATUS(gosr_world_kv_set(w, f, "m", "zz", "v", 1), GOSR_ENOSPC);
    gosr_world_commit(w, false);
    gosr_world_destroy(w);
}

GOSR_TEST(epochs_per_batch_and_reader_view)
{
    char *path = gosr_asprintf("%s/%s", gosr_test_tmpdir(), GOSR_ARENA_FILE);
    gosr_world *w = make_world(16, path);
    REQUIRE(w);
    gosr_arena *a = gosr_world_arena(w);
    int ent = gosr_arena_find(a, "entities"), kv = gosr_arena_find(a, "kv"),
        meta = gosr_arena_find(a, "meta");
    uint64_t e0 = gosr_arena_epoch(a, ent), m0 = gosr_arena_epoch(a, meta);
    gosr_world_begin(w);
    gosr_entity e;
    for (int i = 0; i < 5; i++)
        gosr_world_spawn(w, NULL, &e);
    gosr_world_set_health(w, e, 9);
    gosr_world_commit(w, true);
    /* Many mutations, one epoch; untouched kv keeps its epoch. */
    CHECK_UINT(gosr_arena_epoch(a, ent), ==, e0 + 1);
    CHECK_UINT(gosr_arena_epoch(a, kv), ==, 0);
    CHECK_UINT(gosr_arena_epoch(a, meta), ==, m0 + 1);
    gosr_world_begin(w);
    gosr_world_commit(w, true);
    CHECK_UINT(gosr_arena_epoch(a, ent), ==, e0 + 1);

    gosr_arena *r = NULL;
    REQUIRE(gosr_arena_open_reader(path, &r, NULL) == GOSR_OK);
    gosr_world_meta m;
    uint64_t ep;
    CHECK_OK(gosr_arena_read(r, meta, &m, sizeof m, &ep, 1000));
    CHECK_UINT(m.tick, ==, 2);
    CHECK_UINT(m.entity_count, ==, 5);
    CHECK_UINT(m.capacity, ==, 16);
    CHECK_UINT(m.seed, ==, 42);
    gosr_entity_slot slots[16];
    CHECK_OK(gosr_arena_read(r, ent, slots, sizeof slots, &ep, 1000));
    CHECK_EQ(slots[4].health, 9);
    CHECK_UINT(slots[4].mask & GOSR_C_ALIVE, ==, GOSR_C_ALIVE);
    CHECK_UINT(slots[5].mask, ==, 0);
    gosr_arena_close(r);
    gosr_world_destroy(w);
    gosr_free(path);
}

/* Builds the same world through a fixed op sequence; `variant` changes one
 * value so the hash must differ. */
static void build(gosr_world *w, int variant, gosr_hash *h)
{
    gosr_world_begin(w);
    gosr_entity ids[10];
    for (int i = 0; i < 10; i++) {
        gosr_entity_slot s = {.mask = GOSR_C_POSITION | GOSR_C_VELOCITY,
                              .pos = {i * GOSR_FIX_ONE, -i, 0},
                              .vel = {1, 2, 3}};
        gosr_world_spawn(w, &s, &ids[i]);
    }
    gosr_world_destroy_entity(w, ids[3]);
    gosr_world_inv_add(w, ids[1], 5, 2);
    gosr_world_kv_set(w, ids[2], "m", "k", "v", 1);
    gosr_world_set_health(w, ids[4], variant ? 51 : 50);
    gosr_world_commit(w, true);
    gosr_world_hash(w, h);
}

GOSR_TEST(world_hash_determinism)
{
    gosr_hash h1, h2, h3, h4;
    gosr_world *a = make_world(64, NULL), *b = make_world(64, NULL),
               *c = make_world(64, NULL);
    REQUIRE(a && b && c);
    build(a, 0, &h1);
    build(b, 0, &h2);
    build(c, 1, &h3);
    CHECK(gosr_hash_equal(&h1, &h2));
    CHECK(!gosr_hash_equal(&h1, &h3));
    /* The tick is part of the hash; the wall clock is not. */
    gosr_world_begin(a);
    gosr_world_commit(a, true);
    gosr_world_hash(a, &h4);
    CHECK(!gosr_hash_equal(&h1, &h4));
    gosr_world_begin(b);
    gosr_world_commit(b, true);
    gosr_world_hash(b, &h2);
    CHECK(gosr_hash_equal(&h4, &h2));
    /* A different capacity with the same content hashes the same (only
     * used slots are encoded). */
    gosr_world *d = make_world(4096, NULL);
    REQUIRE(d);
    build(d, 0, &h3);
    CHECK(gosr_hash_equal(&h1, &h3));
    gosr_world_destroy(a);
    gosr_world_destroy(b);
    gosr_world_destroy(c);
    gosr_world_destroy(d);
}

GOSR_TEST(world_config_limits)
{
    gosr_world_config cfg = {.capacity = 1u << 30};
    gosr_world *w = NULL;
    gosr_error err;
    CHECK_STATUS(gosr_world_create(&cfg, NULL, &w, &err), GOSR_EINVAL);
    CHECK_STR(err.reason, "world_capacity_too_large");
    CHECK_OK(gosr_world_create(NULL, NULL, &w, &err));
    CHECK_UINT(gosr_world_get_config(w)->capacity, ==, 16384);
    CHECK_UINT(gosr_world_get_config(w)->rate_hz, ==, 30);
    gosr_world_destroy(w);
    gosr_world_destroy(NULL);
}

/* ---- a second process reading the world through the arena --------------- */

#define STRESS_N 2000

/* A system that changes many fields of every entity per tick while keeping
 * invariants: pos.x + pos.y == 0, vel.z == -pos.z, health == tick for all. */
static void stress_one(void *ud, gosr_entity e, gosr_entity_slot *s)
{
    uint64_t tick = *(const uint64_t *)ud;
    (void)e;
    s->pos.x += 3;
    s->pos.y -= 3;
    s->pos.z = (int64_t)tick * 7;
    s->vel.z = -(int64_t)tick * 7;
    s->health = (int32_t)tick;
}

static int stress_system(void *ud, gosr_world *w, uint64_t tick,
                         const gosr_event *ev, size_t n)
{
    (void)ud;
    (void)ev;
    (void)n;
    return gosr_world_each(w, stress_one, &tick);
}

/* Child: snapshots "entities" back to back until the writer closes,
 * checking the invariants on every snapshot and that epochs and ticks
 * never go backwards. */
static void world_reader(const char *path, int fd)
{
    gosr_arena *r = NULL;
    if (gosr_arena_open_reader(path, &r, NULL) != GOSR_OK)
        _exit(10);
    int ent = gosr_arena_find(r, "entities");
    gosr_region_info info;
    if (ent < 0 || gosr_arena_region_info(r, ent, &info) != GOSR_OK ||
        info.elem_size != sizeof(gosr_entity_slot))
        _exit(11);
    static gosr_entity_slot s[STRESS_N];
    uint64_t last_epoch = 0, snaps = 0;
    int32_t last_tick = -1;
    if (write(fd, &snaps, sizeof snaps) != sizeof snaps)
        _exit(12);
    for (bool closed = false; !closed;) {
        closed = gosr_arena_writer_closed(r);
        uint64_t epoch;
        if (gosr_arena_read(r, ent, s, sizeof s, &epoch, 10000) != GOSR_OK)
            _exit(13);
        if (epoch < last_epoch || s[0].health < last_tick)
            _exit(14);
        for (int i = 0; i < STRESS_N; i++)
            if (!(s[i].mask & GOSR_C_ALIVE) || s[i].pos.x + s[i].pos.y != 0 ||
                s[i].vel.z != -s[i].pos.z || s[i].health != s[0].health)
                _exit(15); /* torn or inconsistent snapshot */
        last_epoch = epoch;
        last_tick = s[0].health;
        snaps++;
    }
    if (write(fd, &snaps, sizeof snaps) != sizeof snaps)
        _exit(16);
    gosr_arena_close(r);
    _exit(0);
}

GOSR_TEST(second_process_reads_world_consistently)
{
    char *path = gosr_asprintf("%s/%s", gosr_test_tmpdir(), GOSR_ARENA_FILE);
    gosr_world *w = make_world(STRESS_N, path);
    REQUIRE(w);
    gosr_world_begin(w);
    for (int i = 0; i < STRESS_N; i++) {
        gosr_entity e;
        gosr_entity_slot s = {.mask = GOSR_C_POSITION | GOSR_C_VELOCITY |
                                      GOSR_C_HEALTH,
                              .pos = {i, -i, 0}};
        gosr_world_spawn(w, &s, &e);
    }
    gosr_world_commit(w, false);
    gosr_tick *t;
    REQUIRE(gosr_tick_create(w, &(gosr_tick_config){.no_sleep = true}, &t,
                             NULL) == GOSR_OK);
    gosr_tick_add_system(t, "stress", stress_system, NULL);
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0)
        world_reader(path, p[1]);
    close(p[1]);
    uint64_t snaps = 0;
    CHECK(read(p[0], &snaps, sizeof snaps) == sizeof snaps);
    CHECK_OK(gosr_tick_run(t, 3000, NULL));
    gosr_tick_destroy(t);
    gosr_world_destroy(w); /* closes the arena: the reader finishes */
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    CHECK(read(p[0], &snaps, sizeof snaps) == sizeof snaps);
    CHECK_UINT(snaps, >, 0);
    fprintf(stderr, "  reader checked %llu world snapshots\n",
            (unsigned long long)snaps);
    close(p[0]);
    gosr_free(path);
}

/* Random kv set/delete/get against a plain model, enough operations to
 * force index rebuilds; also checks the layout policy (lowest free slot)
 * by comparing hashes of two worlds fed the same sequence. */
GOSR_TEST(kv_churn_matches_model)
{
    gosr_world_config cfg = {.capacity = 8, .kv_capacity = 64, .seed = 1};
    gosr_world *w, *w2;
    REQUIRE(gosr_world_create(&cfg, NULL, &w, NULL) == GOSR_OK);
    REQUIRE(gosr_world_create(&cfg, NULL, &w2, NULL) == GOSR_OK);
    gosr_world_begin(w);
    gosr_world_begin(w2);
    gosr_entity ents[4], e2;
    for (int i = 0; i < 4; i++) {
        gosr_world_spawn(w, NULL, &ents[i]);
        gosr_world_spawn(w2, NULL, &e2);
    }
    int32_t model[4][3][8]; /* -1 = absent, else value */
    memset(model, 0xff, sizeof model);
    const char *mods[3] = {"combat", "loot", "q"};
    uint64_t rng = 7;
    int used = 0;
    for (int op = 0; op < 20000; op++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int e = (int)(rng >> 60) % 4, m = (int)(rng >> 50) % 3,
            k = (int)(rng >> 40) % 8, kind = (int)(rng >> 33) % 3;
        char key[4] = {'k', (char)('0' + k), 0, 0};
        int32_t v = (int32_t)((rng >> 8) & 0x7fffffff); /* >= 0 */
        int32_t got = 0;
        size_t len = 0;
        if (kind == 0) {
            int rc = gosr_world_kv_set(w, ents[e], mods[m], key, &v, 4);
            gosr_world_kv_set(w2, ents[e], mods[m], key, &v, 4);
            if (model[e][m][k] < 0 && used == 64) {
                CHECK_STATUS(rc, GOSR_ENOSPC);
                continue;
            }
            CHECK_OK(rc);
            used += model[e][m][k] < 0;
            model[e][m][k] = v;
        } else if (kind == 1) {
            int rc = gosr_world_kv_del(w, ents[e], mods[m], key);
            gosr_world_kv_del(w2, ents[e], mods[m], key);
            CHECK_STATUS(rc, model[e][m][k] < 0 ? GOSR_ENOENT : GOSR_OK);
            used -= model[e][m][k] >= 0;
            model[e][m][k] = -1;
        } else {
            int rc = gosr_world_kv_get(w, ents[e], mods[m], key, &got, 4, &len);
            if (model[e][m][k] < 0) {
                CHECK_STATUS(rc, GOSR_ENOENT);
            } else {
                CHECK_OK(rc);
                CHECK_EQ(got, model[e][m][k]);
            }
        }
        if (gosr_test_failures())
            break;
    }
    gosr_world_commit(w, true);
    gosr_world_commit(w2, true);
    gosr_hash h1, h2;
    gosr_world_hash(w, &h1);
    gosr_world_hash(w2, &h2);
    CHECK(gosr_hash_equal(&h1, &h2));
    gosr_world_destroy(w);
    gosr_world_destroy(w2);
}
