/*
 * gosr/demo.h — `gosr demo`: the end-to-end run of the testbed game
 * games/arena on an in-process node (keys, pack, publish, a second node
 * installing the game through the mesh, 200+ bots playing through the
 * node's input path, a hot swap, rollback, the kill switch) and
 * its report (report.json, report.html with inline SVG plots, a terminal
 * summary). The bots are also usable on their own (tests step a node by
 * hand and drive them tick by tick).
 *
 * Design: docs/demo.md (steps, report facts, bot behaviour), docs/arena.md
 * (the game's modules, events and entity conventions).
 */
#ifndef GOSR_DEMO_H
#define GOSR_DEMO_H

#include "gosr/base.h"
#include "gosr/kernel.h"
#include "gosr/runtime.h"

#include <jansson.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Arena z layers (entity kind), see docs/arena.md "Entities". */
enum {
    GOSR_ARENA_Z_AVATAR = 1,
    GOSR_ARENA_Z_MONSTER = 2,
    GOSR_ARENA_Z_RESOURCE = 3,
    GOSR_ARENA_Z_MERCHANT = 4,
    GOSR_ARENA_Z_LOOT = 5,
    GOSR_ARENA_Z_GIVER = 6,
    GOSR_ARENA_Z_BANK = 9,
    GOSR_ARENA_Z_BOARD = 10,
};

/* ---- bots --------------------------------------------------------------- */

typedef struct gosr_demo_bots gosr_demo_bots;

/* What the bots have done so far. */
typedef struct gosr_demo_bot_stats {
    uint64_t rounds;     /* decision rounds */
    uint64_t sent;       /* input events accepted by the node */
    uint64_t refused;    /* input events the node refused (queue full) */
    uint64_t joined;     /* bots whose avatar is visible in the world */
    uint64_t by_action[11]; /* sent per action: join move gather attack
                               loot sell buy quest talk trade use */
} gosr_demo_bot_stats;

/* Names of by_action entries, in order. */
GOSR_API const char *gosr_demo_action_name(size_t i);

/* Creates n bots named "bot0000".. with a decision RNG from seed. Caller
 * destroys with gosr_demo_bots_destroy (NULL ok). */
GOSR_API int gosr_demo_bots_create(uint32_t n, uint64_t seed,
                                   gosr_demo_bots **out, gosr_error *err);
GOSR_API void gosr_demo_bots_destroy(gosr_demo_bots *b);
/* One decision round: reads a consistent snapshot of the world through
 * `view` (an arena handle on the node's world, read only; the bots see
 * only what any client reading the world sees), then each bot acts with
 * probability act_pct/100 by submitting one input event to the node
 * (gosr_node_submit). Deterministic for a given snapshot, seed and round. */
GOSR_API int gosr_demo_bots_round(gosr_demo_bots *b, gosr_node *n,
                                  const gosr_arena *view, uint32_t act_pct,
                                  gosr_error *err);
GOSR_API void gosr_demo_bots_stats(const gosr_demo_bots *b,
                                   gosr_demo_bot_stats *out);

/* Reads the game's KPIs from the world (kv of arena.economy on the bank
 * entity, arena.quests' board, entity counts by kind) into a new JSON
 * object (caller decrefs). GOSR_ENOENT before the economy has reported. */
GOSR_API int gosr_demo_read_kpis(const gosr_arena *view, json_t **out,
                                 gosr_error *err);

/* ---- the whole demo ----------------------------------------------------- */

/* Demo settings; zero fields take defaults. */
typedef struct gosr_demo_config {
    const char *out_dir;   /* report and node directory (default
                              "gosr-demo") */
    const char *game_dir;  /* games/arena (default: found next to the
                              source tree the binary was built from) */
    uint64_t duration_ms;  /* wall time of the play phase (default 60 s) */
    uint32_t bots;         /* bots (default 200) */
    uint64_t seed;         /* world and bot seed (default 1) */
    FILE *progress;        /* progress lines (NULL = none) */
} gosr_demo_config;

/* Runs the demo and writes OUT/report.json, OUT/report.html; *report (may
 * be NULL) receives the report JSON (caller decrefs). A step that fails is
 * recorded in the report with its reason; the return value is GOSR_OK when
 * the report was written. */
GOSR_API int gosr_demo_run(const gosr_demo_config *cfg, json_t **report,
                           gosr_error *err);
/* Writes the terminal summary of a report to fp. */
GOSR_API void gosr_demo_print_summary(const json_t *report, FILE *fp);
/* Writes report.html for a report into dir. */
GOSR_API int gosr_demo_write_html(const json_t *report, const char *dir,
                                  gosr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_DEMO_H */
