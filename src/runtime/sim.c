/*
 * sim.c — the builtin C simulation ("builtin.v1") that the kernel runs until
 * Lua modules are integrated: an input system that applies spawn, move and
 * damage events, and a movement system (position += velocity, wrapping
 * 64-bit fixed point). Also the deterministic scenario setup and the
 * builders for the builtin event payloads.
 *
 * Design: docs/runtime.md ("Builtin simulation", "Builtin events").
 */
#include "runtime/runtime_int.h"

#include <string.h>

#define SPAWN_LEN 64
#define MOVE_LEN 32
#define DAMAGE_LEN 12

static void put_vec(uint8_t *p, gosr_vec3 v)
{
    event__put_u64(p, (uint64_t)v.x);
    event__put_u64(p + 8, (uint64_t)v.y);
    event__put_u64(p + 16, (uint64_t)v.z);
}

static gosr_vec3 get_vec(const uint8_t *p)
{
    return (gosr_vec3){(int64_t)event__get_u64(p),
                       (int64_t)event__get_u64(p + 8),
                       (int64_t)event__get_u64(p + 16)};
}

/* ---- event builders ----------------------------------------------------- */

static int build(gosr_event *ev, const char *name, const uint8_t *p, size_t n)
{
    int rc = gosr_event_set_name(ev, name, NULL);
    return rc == GOSR_OK ? gosr_event_set_payload(ev, p, n) : rc;
}

int gosr_sim_event_spawn(gosr_event *ev, gosr_vec3 pos, gosr_vec3 vel,
                         uint64_t owner, int32_t health)
{
    uint8_t p[SPAWN_LEN] = {0};
    put_vec(p, pos);
    put_vec(p + 24, vel);
    event__put_u64(p + 48, owner);
    event__put_u32(p + 56, (uint32_t)health);
    return build(ev, GOSR_SIM_EV_SPAWN, p, sizeof p);
}

int gosr_sim_event_move(gosr_event *ev, gosr_entity e, gosr_vec3 vel)
{
    uint8_t p[MOVE_LEN];
    event__put_u64(p, e.id);
    put_vec(p + 8, vel);
    return build(ev, GOSR_SIM_EV_MOVE, p, sizeof p);
}

int gosr_sim_event_damage(gosr_event *ev, gosr_entity e, int32_t amount)
{
    uint8_t p[DAMAGE_LEN];
    event__put_u64(p, e.id);
    event__put_u32(p + 8, (uint32_t)amount);
    return build(ev, GOSR_SIM_EV_DAMAGE, p, sizeof p);
}

/* ---- systems ------------------------------------------------------------ */

static void apply_spawn(gosr_world *w, const gosr_event *ev)
{
    if (ev->payload_len != SPAWN_LEN)
        return;
    gosr_entity_slot s = {.mask = GOSR_C_POSITION | GOSR_C_VELOCITY |
                                  GOSR_C_OWNER | GOSR_C_HEALTH};
    s.pos = get_vec(ev->payload);
    s.vel = get_vec(ev->payload + 24);
    s.owner = event__get_u64(ev->payload + 48);
    s.health = (int32_t)event__get_u32(ev->payload + 56);
    gosr_entity e;
    (void)gosr_world_spawn(w, &s, &e); /* a full world drops the spawn */
}

static void apply_damage(gosr_world *w, const gosr_event *ev, uint64_t tick)
{
    if (ev->payload_len != DAMAGE_LEN)
        return;
    gosr_entity e = {event__get_u64(ev->payload)};
    int32_t amount = (int32_t)event__get_u32(ev->payload + 8);
    gosr_entity_slot *s = gosr_world_slot_mut(w, e);
    if (!s || !(s->mask & GOSR_C_HEALTH))
        return;
    int64_t hp = (int64_t)s->health - amount;
    if (hp <= 0) {
        gosr_world_destroy_entity(w, e);
        return;
    }
    s->health = hp > INT32_MAX ? INT32_MAX : (int32_t)hp;
    uint8_t t[8];
    event__put_u64(t, tick);
    (void)gosr_world_kv_set(w, e, "builtin", "last_hit", t, 8);
}

/* Applies this tick's inputs in admission order. Malformed or unknown
 * inputs are ignored (deterministically: they are in the log too). */
static int input_system(void *ud, gosr_world *w, uint64_t tick,
                        const gosr_event *events, size_t n)
{
    (void)ud;
    for (size_t i = 0; i < n; i++) {
        const gosr_event *ev = &events[i];
        if (strcmp(ev->name, GOSR_SIM_EV_SPAWN) == 0) {
            apply_spawn(w, ev);
        } else if (strcmp(ev->name, GOSR_SIM_EV_MOVE) == 0 &&
                   ev->payload_len == MOVE_LEN) {
            gosr_entity e = {event__get_u64(ev->payload)};
            (void)gosr_world_set_velocity(w, e, get_vec(ev->payload + 8));
        } else if (strcmp(ev->name, GOSR_SIM_EV_DAMAGE) == 0) {
            apply_damage(w, ev, tick);
        }
    }
    return GOSR_OK;
}

static int64_t wrap_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static void move_one(void *ud, gosr_entity e, gosr_entity_slot *s)
{
    (void)ud;
    (void)e;
    const uint32_t need = GOSR_C_POSITION | GOSR_C_VELOCITY;
    if ((s->mask & need) != need)
        return;
    s->pos.x = wrap_add(s->pos.x, s->vel.x);
    s->pos.y = wrap_add(s->pos.y, s->vel.y);
    s->pos.z = wrap_add(s->pos.z, s->vel.z);
}

/* Moves every entity with position and velocity by one tick. */
static int movement_system(void *ud, gosr_world *w, uint64_t tick,
                           const gosr_event *events, size_t n)
{
    (void)ud;
    (void)tick;
    (void)events;
    (void)n;
    return gosr_world_each(w, move_one, NULL);
}

int gosr_sim_install(gosr_tick *t, const char *systems_id, gosr_error *err)
{
    if (!systems_id || strcmp(systems_id, "builtin.v1") != 0)
        return gosr_error_set(err, GOSR_EUNSUPPORTED, "unknown_system_set",
                              "system set '%s' is not built in",
                              systems_id ? systems_id : "");
    int rc = gosr_tick_add_system(t, "input", input_system, NULL);
    if (rc == GOSR_OK)
        rc = gosr_tick_add_system(t, "movement", movement_system, NULL);
    return rc == GOSR_OK ? GOSR_OK
                         : gosr_error_set(err, rc, "tick_add_system_failed",
                                          "installing builtin.v1");
}

/* ---- scenario ----------------------------------------------------------- */

/* splitmix64: the scenario's PRNG (deterministic from the seed). */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-range, range] fixed-point units. */
static int64_t rnd_fix(uint64_t *s, int64_t range)
{
    return (int64_t)(splitmix(s) % (uint64_t)(2 * range + 1)) - range;
}

int gosr_sim_setup(gosr_world *w, const gosr_session_config *cfg,
                   gosr_error *err)
{
    uint64_t s = cfg->seed;
    int rc = gosr_world_begin(w);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "world_batch_open", "setup");
    for (uint32_t i = 0; i < cfg->spawn && rc == GOSR_OK; i++) {
        gosr_entity_slot slot = {.mask = GOSR_C_POSITION | GOSR_C_VELOCITY |
                                         GOSR_C_OWNER | GOSR_C_HEALTH};
        slot.pos = (gosr_vec3){rnd_fix(&s, 1000 * GOSR_FIX_ONE),
                               rnd_fix(&s, 1000 * GOSR_FIX_ONE), 0};
        slot.vel = (gosr_vec3){rnd_fix(&s, GOSR_FIX_ONE),
                               rnd_fix(&s, GOSR_FIX_ONE), 0};
        slot.owner = 1 + i % 16;
        slot.health = 100;
        gosr_entity e;
        rc = gosr_world_spawn(w, &slot, &e);
    }
    gosr_world_commit(w, false);
    return rc == GOSR_OK
               ? GOSR_OK
               : gosr_error_set(err, rc, "scenario_spawn_failed",
                                "spawning %u entities (capacity "
                                "%u)",
                                cfg->spawn, gosr_world_get_config(w)->capacity);
}
