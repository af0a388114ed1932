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

/* tick.c: the world a loop runs. */
gosr_world *tick__world(gosr_tick *t);

#endif /* GOSR_RUNTIME_INT_H */
