/*
 * gosr/patch.h — the patch pipeline on a node: signed patch bundles pass
 * integrity, schema, static-safety, determinism/budget and canary stages,
 * a policy gate (auto or a person), then a staged activation (1/10/50/100 %
 * of owners) with KPI checks and automatic rollback; known-good bundles
 * are kept for rollback; a kill switch (ai_patch_ingest_enabled) stops
 * ingestion and activation. Every transition is a ledger row.
 *
 * Design: docs/patch.md (how a patch reaches the game, stages and reason
 * codes, state machine, tables, rollout, rollback, kill switch, endpoints,
 * CLI).
 *
 * Threading: the manager's functions may be called from any thread; a
 * mutex guards its state. The layer callbacks run on the node's tick
 * thread. Stages 4-6 run on the manager's worker thread (or in
 * gosr_patch_process on the caller's thread).
 */
#ifndef GOSR_PATCH_H
#define GOSR_PATCH_H

#include "gosr/base.h"
#include "gosr/crypto.h"
#include "gosr/kernel.h"

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Patch states (docs/patch.md, "State machine"). */
typedef enum gosr_patch_state {
    GOSR_PATCH_DRAFT = 0,       /* received, stages 1-3 running */
    GOSR_PATCH_VALIDATED = 1,   /* stages 1-3 passed */
    GOSR_PATCH_CANARY = 2,      /* stages 4-5 running */
    GOSR_PATCH_APPROVED = 3,    /* policy gate passed (auto or a person) */
    GOSR_PATCH_ACTIVE = 4,      /* the current patch (maybe mid-rollout) */
    GOSR_PATCH_SUPERSEDED = 5,  /* replaced by a newer active patch */
    GOSR_PATCH_REJECTED = 6,    /* terminal: a stage failed */
    GOSR_PATCH_ROLLED_BACK = 7, /* terminal: rolled back */
} gosr_patch_state;

/* "draft", "validated", ... */
GOSR_API const char *gosr_patch_state_name(gosr_patch_state s);

/* Canary and rollout thresholds; zero fields take the defaults. */
typedef struct gosr_patch_thresholds {
    double max_fault_rate;      /* faults per tick (default 0: none) */
    double max_economy_drift;   /* relative drift of `economy` (0.5) */
    double max_quest_deviation; /* completion-rate deviation (0.5) */
    double min_quest_samples;   /* quests started in both windows before
                                   the deviation is judged (20): fewer is
                                   noise, not evidence */
} gosr_patch_thresholds;

/* Manager configuration; zero fields take defaults. */
typedef struct gosr_patch_config {
    const uint8_t *trust_pk;         /* trust root (32 bytes, required) */
    const gosr_revocations *revoked; /* revocation list or NULL */
    uint32_t replay_ticks;           /* stage 4 replay length (default 100) */
    uint32_t canary_ticks;           /* stage 5 shadow ticks (default 100) */
    uint64_t seed;                   /* fixed seed of stages 4-5 (default 42) */
    uint64_t tick_fuel;              /* patch fuel per tick (default 1e7) */
    uint64_t mem_limit;              /* patch sandbox heap (default 32 MiB) */
    uint64_t tick_time_ns;           /* wall budget per tick (default 50 ms) */
    gosr_patch_thresholds th;        /* KPI thresholds */
    bool manual_approval;            /* policy: a person always approves */
    uint32_t stage_ticks;            /* live ticks per rollout stage (30);
                                        UINT32_MAX = advance by command only */
    uint32_t keep_known_good;        /* known-good bundles kept (default 5) */
    const char *webhook_url;         /* POSTed on every rollback, or NULL */
    bool ingest_off_at_start;        /* emergency override: kill switch off */
    uint32_t max_spawn_cap;          /* procgen max_spawn ceiling (1000) */
    uint32_t max_depth_cap;          /* procgen max_depth ceiling (16) */
    bool no_worker;                  /* no background thread: stages 4-6 run
                                        only in gosr_patch_process */
} gosr_patch_config;

typedef struct gosr_patch_mgr gosr_patch_mgr;

/* Opens the manager on an open node: DIR/patches.db, DIR/patches/,
 * resumes interrupted canaries and rollouts, installs the node layer and
 * (when the node is not started yet) the admin routes. The node must
 * outlive the manager. Caller closes with gosr_patch_close before
 * gosr_node_close. */
GOSR_API int gosr_patch_open(gosr_node *n, const gosr_patch_config *cfg,
                             gosr_patch_mgr **out, gosr_error *err);
/* Stops the worker, removes the layer, closes the database. NULL ok. */
GOSR_API void gosr_patch_close(gosr_patch_mgr *m);

/* Submits a bundle: stages 1-3 now; stages 4-6 are queued for the worker.
 * id (65 bytes, may be NULL) receives the patch id (hex bundle root, or
 * the file's BLAKE3 when the bundle does not verify). A rejection returns
 * an error with err->reason = the first reason code (integrity_*,
 * schema_*, static_*) and records the patch as rejected. GOSR_EDENIED
 * (policy_ingest_disabled) while the kill switch is off. */
GOSR_API int gosr_patch_submit(gosr_patch_mgr *m, const char *path,
                               const char *actor, char *id, gosr_error *err);
/* Runs stages 4-6 for every validated patch now, on the caller's thread
 * (tests, CLI with --data). */
GOSR_API int gosr_patch_process(gosr_patch_mgr *m, gosr_error *err);
/* Blocks until the worker has nothing queued (or timeout_ms passes). */
GOSR_API bool gosr_patch_idle_wait(gosr_patch_mgr *m, unsigned timeout_ms);

/* Policy gate by a person: approves a patch waiting in canary (state
 * `canary` with outcome "needs approval") and starts its rollout. */
GOSR_API int gosr_patch_approve(gosr_patch_mgr *m, const char *id,
                                const char *actor, const char *reason,
                                gosr_error *err);
/* Rejects a non-terminal, non-active patch. */
GOSR_API int gosr_patch_reject(gosr_patch_mgr *m, const char *id,
                               const char *actor, const char *reason,
                               gosr_error *err);
/* Rolls back to `to` (NULL: the newest known-good before the active
 * patch; "" = no patch): one pointer update, ledger row, alert. */
GOSR_API int gosr_patch_rollback(gosr_patch_mgr *m, const char *to,
                                 const char *actor, const char *reason,
                                 gosr_error *err);
/* Moves the active rollout to its next stage now (KPIs checked first). */
GOSR_API int gosr_patch_advance(gosr_patch_mgr *m, const char *actor,
                                gosr_error *err);

/* {"patches":[...]} / one patch with its transitions (caller frees). */
GOSR_API int gosr_patch_list_json(gosr_patch_mgr *m, json_t **out,
                                  gosr_error *err);
GOSR_API int gosr_patch_status_json(gosr_patch_mgr *m, const char *id,
                                    json_t **out, gosr_error *err);
/* The active patch id into id[65] and its rollout percentage; ENOENT when
 * none. */
GOSR_API int gosr_patch_active(gosr_patch_mgr *m, char *id, uint32_t *pct);

/* Kill switch. Setting it needs a reason; `privileged` says the caller
 * proved the privileged role and a TOTP code, which is required to leave
 * the fail-safe state (GOSR_EDENIED killswitch_override_required). */
GOSR_API int gosr_patch_killswitch_set(gosr_patch_mgr *m, bool enabled,
                                       const char *actor, const char *reason,
                                       bool privileged, gosr_error *err);
/* {"ai_patch_ingest_enabled", "fail_safe", "reason", "actor", "time",
 *  "override_at_start"} (caller frees). */
GOSR_API int gosr_patch_killswitch_json(gosr_patch_mgr *m, json_t **out,
                                        gosr_error *err);

/* The sticky cohort of an owner: 0..99 (docs/patch.md). */
GOSR_API uint32_t gosr_patch_cohort(uint64_t owner);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_PATCH_H */
