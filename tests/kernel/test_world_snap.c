/*
 * test_world_snap.c — the runtime additions the kernel relies on: a world
 * snapshot restored after spawns, despawns, moves and kv changes gives
 * back the same entities, ids and world hash (apart from the tick), and
 * gosr_world_slot_peek walks live slots. Design: docs/kernel.md ("Swap").
 */
#include "harness.h"

#include "gosr/runtime.h"

/* Moves, re-keys, despawns and spawns after the snapshot. */
static void mutate(gosr_world *w, gosr_entity *ids, int n)
{
    gosr_world_begin(w);
    for (int i = 0; i < n; i++) {
        gosr_world_set_position(w, ids[i], (gosr_vec3){i * 7, -i, 3});
        gosr_world_kv_set(w, ids[i], "mod", "k", "changed", 7);
    }
    gosr_world_destroy_entity(w, ids[1]);
    gosr_entity e;
    for (int i = 0; i < 5; i++)
        gosr_world_spawn(w, NULL, &e);
    gosr_world_commit(w, false);
}

GOSR_TEST(snapshot_restore_is_exact)
{
    gosr_world_config c = {.capacity = 64, .kv_capacity = 32, .seed = 3};
    gosr_world *w;
    gosr_error err = {0};
    REQUIRE(gosr_world_create(&c, NULL, &w, &err) == GOSR_OK);
    gosr_entity ids[10];
    gosr_world_begin(w);
    for (int i = 0; i < 10; i++) {
        gosr_entity_slot s = {.mask = GOSR_C_POSITION, .pos = {i, i, i}};
        CHECK_OK(gosr_world_spawn(w, &s, &ids[i]));
        CHECK_OK(gosr_world_kv_set(w, ids[i], "mod", "k", "v", 1));
    }
    gosr_world_destroy_entity(w, ids[9]);
    gosr_world_commit(w, false);
    gosr_hash before, after, changed;
    gosr_world_hash(w, &before);
    gosr_world_snap *snap = NULL;
    REQUIRE(gosr_world_snapshot(w, &snap) == GOSR_OK);
    mutate(w, ids, 9);
    gosr_world_hash(w, &changed);
    CHECK(memcmp(before.b, changed.b, 32) != 0);
    CHECK_STATUS(gosr_world_restore(w, snap), GOSR_ESTATE); /* no batch */
    gosr_world_begin(w);
    CHECK_OK(gosr_world_restore(w, snap));
    gosr_world_commit(w, false);
    gosr_world_hash(w, &after);
    CHECK_MEM(before.b, after.b, 32);
    CHECK_EQ(gosr_world_count(w), 9);
    CHECK(gosr_world_alive(w, ids[1]));
    char buf[8];
    size_t len = 0;
    CHECK_OK(gosr_world_kv_get(w, ids[2], "mod", "k", buf, sizeof buf, &len));
    CHECK_EQ(len, 1);
    /* spawning after a restore reuses the same lowest slot as before */
    gosr_world_begin(w);
    gosr_entity e;
    CHECK_OK(gosr_world_spawn(w, NULL, &e));
    gosr_world_commit(w, false);
    CHECK_EQ(e.id & 0xffffffffu, 9);
    /* peek walks live slots only */
    int live = 0;
    for (uint32_t i = 0; i < 64; i++) {
        gosr_entity id;
        if (gosr_world_slot_peek(w, i, &id)) {
            live++;
            CHECK(gosr_world_alive(w, id));
        }
    }
    CHECK_EQ(live, 10);
    CHECK(gosr_world_slot_peek(w, 1000, NULL) == NULL);
    gosr_world_snap_free(snap);
    gosr_world_destroy(w);
}
