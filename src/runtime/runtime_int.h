/*
 * runtime_int.h — declarations shared between the runtime's source files
 * (prefix runtime__/world__/event__/session__), not part of the public API.
 * Design: docs/runtime.md.
 */
#ifndef GOSR_RUNTIME_INT_H
#define GOSR_RUNTIME_INT_H

#include "gosr/runtime.h"

/* world.c: stores the hash after a tick into meta.last_hash (inside the
 * current batch's meta window, or as its own meta epoch). */
int world__publish_hash(gosr_world *w, const gosr_hash *h);
/* world.c: advances the tick counter inside an open batch (the tick loop
 * advances first so systems and the hash see the new tick number). */
int world__advance_tick(gosr_world *w);

/* event.c: little-endian helpers used by the session log too. */
void event__put_u16(uint8_t *p, uint16_t v);
void event__put_u32(uint8_t *p, uint32_t v);
void event__put_u64(uint8_t *p, uint64_t v);
uint16_t event__get_u16(const uint8_t *p);
uint32_t event__get_u32(const uint8_t *p);
uint64_t event__get_u64(const uint8_t *p);

/* sim.c: the system set of a session, installed by name. */
int sim__install_builtin(gosr_tick *t, gosr_error *err);

/* A copy of the entity and kv slots in use plus the allocator counters, so
 * a restore puts the world back exactly (docs/kernel.md, "Swap"). The tick
 * counter is not part of it: time never runs backwards. Made by world.c,
 * encoded and decoded by worldsnap.c. */
struct gosr_world_snap {
    uint32_t count, free_hint, high;          /* entity counters */
    uint32_t kv_count, kv_high, kv_free_hint; /* kv counters */
    gosr_entity_slot *slots;                  /* copy of [0, high) */
    gosr_kv_slot *kv;                         /* copy of [0, kv_high) */
};

/* world.c: the world hash over explicit parts (the live world's or a
 * snapshot's), docs/runtime.md "World hash". */
void world__hash_parts(uint64_t tick, uint64_t seed, uint32_t high,
                       uint32_t kv_high, const gosr_entity_slot *slots,
                       const gosr_kv_slot *kv, gosr_hash *out);

/* world.c: a world configuration with defaults applied and its limits
 * checked (GOSR_EINVAL, world_capacity_too_large). */
int world__config_defaults(const gosr_world_config *in, gosr_world_config *c,
                           gosr_error *err);

/* tick.c: the world a loop runs. */
gosr_world *tick__world(gosr_tick *t);

#endif /* GOSR_RUNTIME_INT_H */
