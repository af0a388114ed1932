/*
 * patch_int.h — private to src/patch/: the manager, the patch layer's run
 * contexts and the cross-file patch__ functions (database, stages,
 * simulation, live layer, routes). Design: docs/patch.md.
 */
#ifndef GOSR_PATCH_INT_H
#define GOSR_PATCH_INT_H

#include "gosr/admin.h"
#include "gosr/gmod.h"
#include "gosr/patch.h"
#include "gosr/sandbox.h"

#include <pthread.h>
#include <sqlite3.h>

/* KPI accumulators of one run (a shadow run or a live rollout stage). */
typedef struct pkpi {
    uint64_t ticks;     /* ticks observed */
    uint64_t faults;    /* patch-layer faults */
    double eco_sum;     /* sum of `economy` reports */
    uint64_t eco_n;     /* number of `economy` reports */
    double q_started;   /* sum of `quest_started` */
    double q_completed; /* sum of `quest_completed` */
} pkpi;

/* A loaded patch: its content and its script sandbox. */
typedef struct plive {
    char id[65];      /* patch id (hex bundle root) */
    char version[64]; /* manifest version */
    json_t *content;  /* content envelope (owned) */
    gosr_sandbox *sb; /* script sandbox (owned) or NULL: no scripts */
    bool has_tick;    /* the scripts define tick */
    bool has_event;   /* the scripts define on_event */
} plive;

/* What a patch host function acts on while a patch script runs. */
typedef struct prun {
    gosr_world *w; /* world (live or shadow) */
    plive *p;      /* the running patch */
    uint32_t pct;  /* rollout percentage (100 in shadow runs) */
    pkpi *kpi;     /* where kpi.report goes */
} prun;

struct gosr_patch_mgr {
    gosr_node *node;         /* the node (borrowed) */
    gosr_patch_config cfg;   /* copy with defaults filled */
    char *webhook;           /* owned copy of cfg.webhook_url */
    char *dir;               /* DIR/patches */
    uint8_t trust_pk[32];    /* trust root */
    pthread_mutex_t mu;      /* guards db and everything below but the
                                live fields */
    sqlite3 *db;             /* DIR/patches.db */
    gosr_sandbox_host *host; /* patch host API (immutable) */
    /* kill switch (mu) */
    bool ingest;    /* ai_patch_ingest_enabled */
    bool fail_safe; /* inconsistent control plane: deny */
    /* live layer (live_mu; tick thread reads and writes) */
    pthread_mutex_t live_mu; /* guards the live fields */
    plive *cur;              /* active patch or NULL */
    plive *prev;             /* previous known-good (non-cohort owners) */
    uint32_t pct;            /* rollout percentage of cur */
    uint32_t stage_ticks;    /* ticks run in the current stage */
    pkpi live_kpi;           /* KPIs of the current stage */
    pkpi canary_kpi;         /* the candidate's canary KPIs (reference) */
    pkpi game_kpi;           /* KPIs game modules reported (kpi.report)
                                in the current stage or window */
    pkpi game_win;           /* the last full window before a rollout */
    pkpi game_ref;           /* game KPIs before the rollout started */
    prun live_run;           /* context of the live sandbox */
    prun sim_run;            /* context of the sandbox in a shadow run
                                (sim_mu) */
    pthread_mutex_t sim_mu;  /* one shadow run at a time */
    /* worker (mu + cv) */
    pthread_t worker;               /* stages 4-6, webhooks */
    bool has_worker;                /* worker running */
    bool stop;                      /* ask the worker to end */
    bool busy;                      /* the worker is processing */
    unsigned pending;               /* wake-ups queued */
    pthread_cond_t cv;              /* wakes the worker / idle waiters */
    json_t *alerts;                 /* webhook payloads to send (array) */
    uint64_t rollbacks;             /* rollbacks since open (mu) */
    gosr_admin_series *m_rollbacks; /* gosr_patch_rollbacks_total or NULL */
    gosr_admin_series *m_pct;       /* gosr_patch_rollout_percent or NULL */
};

/* db.c */
int patch__db_open(gosr_patch_mgr *m, gosr_error *err);
/* Records a transition: patches.state, transitions row, ledger row
 * "patch.<to>" (actor, reason, evidence consumed). Caller holds mu. */
int patch__transition(gosr_patch_mgr *m, const char *id, const char *to,
                      const char *actor, const char *reason, json_t *evidence,
                      gosr_error *err);
/* State of a patch into buf (ENOENT when unknown). Caller holds mu. */
int patch__state(gosr_patch_mgr *m, const char *id, char *buf, size_t cap);
int patch__exec(gosr_patch_mgr *m, gosr_error *err, const char *sql, ...);
/* The pointer row: active, prev, pct (strings "" when none). mu. */
int patch__pointer_get(gosr_patch_mgr *m, char active[65], char prev[65],
                       uint32_t *pct);
int patch__pointer_set(gosr_patch_mgr *m, const char *active, const char *prev,
                       uint32_t pct, gosr_error *err);
/* Kill switch row; consistency check against the audit trail. mu. */
int patch__ks_load(gosr_patch_mgr *m);
int patch__ks_store(gosr_patch_mgr *m, bool on, const char *actor,
                    const char *reason, gosr_error *err);
json_t *patch__row_json(gosr_patch_mgr *m, sqlite3_stmt *st);

/* stages.c: stages 1-3 on a bundle. *man (caller destroys) and dir (the
 * unpacked bundle) on success. */
int patch__stage_integrity(gosr_patch_mgr *m, const char *path,
                           const char *staging, char id[65],
                           gosr_gmod_manifest **man, gosr_error *err);
int patch__stage_schema(gosr_patch_mgr *m, const gosr_gmod_manifest *man,
                        gosr_error *err);
int patch__stage_static(gosr_patch_mgr *m, const gosr_gmod_manifest *man,
                        const char *dir, gosr_error *err);

/* sim.c */
int patch__host_create(gosr_patch_mgr *m, gosr_error *err);
/* Loads the patch in DIR/patches/<id> (content and scripts). */
int patch__load(gosr_patch_mgr *m, const char *id, plive **out,
                gosr_error *err);
void patch__free(plive *p);
/* Content member (or "id"/"version") of a patch as a value. */
int patch__content_value(const plive *p, const char *key, gosr_sbv *out);
/* Runs one tick of patch `p` in run context r (events may be NULL). */
void patch__tick(gosr_patch_mgr *m, prun *r, uint64_t tick,
                 const gosr_event *ev, size_t nev);
/* Stage 4 and 5 on the patch `id`; evidence JSON into *ev. */
int patch__stage_determinism(gosr_patch_mgr *m, const char *id, json_t **ev,
                             gosr_error *err);
int patch__stage_canary(gosr_patch_mgr *m, const char *id, pkpi *cand,
                        json_t **ev, gosr_error *err);
json_t *patch__kpi_json(const pkpi *k);
/* kpi.report from a game module (tick thread). */
void patch__kpi_live(gosr_patch_mgr *m, const char *name, double v);
/* Compares k against ref with the thresholds; NULL reason when inside.
 * `prefix` is "canary" or "rollout". */
const char *patch__kpi_breach(const gosr_patch_mgr *m, const pkpi *k,
                              const pkpi *ref, const char *prefix, char *detail,
                              size_t cap);
uint32_t patch__cohort(uint64_t owner);

/* live.c */
void patch__layer_install(gosr_patch_mgr *m);
/* Swaps the live patches (takes ownership of cur/prev). */
void patch__live_set(gosr_patch_mgr *m, plive *cur, plive *prev, uint32_t pct);
int patch__activate(gosr_patch_mgr *m, const char *id, const char *actor,
                    gosr_error *err);
int patch__rollback_locked(gosr_patch_mgr *m, const char *to, const char *actor,
                           const char *reason, json_t *evidence,
                           gosr_error *err);
/* Stage end (breach NULL: advance) or breach (roll back); takes mu (with
 * `wait` false only if free: the tick thread never blocks on it). */
void patch__rollout_act(gosr_patch_mgr *m, const char *breach,
                        const char *detail, const char *id, json_t *kpi,
                        bool wait);
/* The canary KPIs recorded for `id` (the rollout reference). mu. */
void patch__load_canary_kpi(gosr_patch_mgr *m, const char *id, pkpi *k);
/* The live KPI judgement (live_mu held): the patch layer's KPIs against
 * its canary, the game's against their level before the rollout. */
const char *patch__live_breach(gosr_patch_mgr *m, char *detail, size_t cap);
/* {"patch": KPIs, "game": KPIs} of the current stage (live_mu held). */
json_t *patch__live_kpi_json(gosr_patch_mgr *m);
void patch__alert(gosr_patch_mgr *m, json_t *alert);
void patch__send_alerts(gosr_patch_mgr *m);

/* api.c */
int patch__routes(gosr_patch_mgr *m, gosr_error *err);

#endif /* GOSR_PATCH_INT_H */
