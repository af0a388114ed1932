/*
 * demo_int.h — private state of one `gosr demo` run, shared by demo.c
 * (orchestration), play.c (the timed phase) and report.c (report.json,
 * report.html, terminal summary). Design: docs/demo.md.
 */
#ifndef GOSR_DEMO_INT_H
#define GOSR_DEMO_INT_H

#include "gosr/crypto.h"
#include "gosr/demo.h"
#include "gosr/patch.h"

/* One run. */
typedef struct demo_run {
    gosr_demo_config cfg;   /* settings with defaults applied */
    const char *game_dir;   /* games/arena used */
    char *node_dir;         /* OUT/node (owned) */
    uint64_t t0;            /* monotonic start */
    gosr_keypair root;      /* trust root */
    gosr_keypair dev;       /* signer */
    gosr_cert cert;         /* signer's certificate */
    gosr_node *node;        /* the node (owned) */
    char *node2_dir;        /* OUT/node2 (owned) */
    gosr_node *node2;       /* the second node, mesh only (owned) */
    char mesh1[32];         /* node1's mesh address "127.0.0.1:PORT" */
    char mesh2[32];         /* node2's mesh address */
    char mesh_why[512];     /* why node1 has no mesh ("" = it has one) */
    json_t *packages;       /* v1 package roots (hex), publish order */
    gosr_patch_mgr *pm;     /* the node's patch pipeline (owned) */
    gosr_arena *view;       /* read-only view of OUT/node/world.arena */
    gosr_demo_bots *bots;   /* players (owned) */
    json_t *steps;          /* [{name, result, detail}] */
    json_t *facts;          /* the checked facts */
    json_t *ticks;          /* [[tick, ms], ...] tick durations */
    json_t *markers;        /* [{tick, kind, label}] */
    json_t *kpis;           /* {phase: kpi object} */
    json_t *modules;        /* script time per module */
    json_t *ledger;         /* ledger rows */
    uint64_t seen_ticks;    /* ticks already copied into `ticks` */
    uint64_t last_line;     /* 2-second slot of the last status line */
} demo_run;

void demo__progress(demo_run *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void demo__step(demo_run *d, const char *name, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void demo__not_run(demo_run *d, const char *name, const char *why);

/* play.c: the timed phase with bots, swap and rollback. */
int demo__play(demo_run *d, gosr_error *err);
/* play.c: copies new tick durations from the node into d->ticks. */
void demo__sample_ticks(demo_run *d);
/* play.c: KPIs now, stored as d->kpis[phase]. */
void demo__kpis(demo_run *d, const char *phase);

/* aipatch.c: the AI core's patch_author (ghost tier) writes a patch for
 * `goal` at `version`; packed, signed, verified into *bundle (owned by the
 * caller) and its manifest id into id[128]. */
int demo__ai_patch(demo_run *d, const char *goal, const char *version,
                   const char *parent, char **bundle, char id[128],
                   gosr_error *err);
/* pipeline.c: the AI patch through the pipeline to active, the patch
 * rollback and the kill switch (called from the play phase). */
void demo__patch_to_active(demo_run *d);
void demo__patch_rollback(demo_run *d);
void demo__killswitch(demo_run *d);
/* play.c: bots play and ticks are sampled for `ms` more. */
int demo__play_for(demo_run *d, uint64_t ms, gosr_error *err);
/* play.c: a marker on the tick plot at the current tick. */
void demo__mark(demo_run *d, const char *kind, const char *label);

/* mesh.c: two ports on 127.0.0.1 each free for TCP and UDP. */
int demo__mesh_ports(uint16_t out[2], gosr_error *err);
/* mesh.c: the mesh config of node `which` (1 or 2); strings borrowed
 * from d. */
void demo__mesh_config(const demo_run *d, int which, gosr_mesh_config *mc);
/* mesh.c: the mesh_install step (opens and starts d->node2, installs the
 * nids v1 modules `ids` from the mesh) and the mesh_replicas step. */
void demo__mesh_install(demo_run *d, const char *const *ids, size_t nids);
void demo__mesh_replicas(demo_run *d);

/* report.c: script time per module from the node's /metrics endpoint. */
int demo__script_times(demo_run *d, gosr_error *err);
/* report.c: ledger rows into d->ledger. */
int demo__ledger(demo_run *d, gosr_error *err);
/* report.c: assembles the report object (new reference). */
json_t *demo__report(demo_run *d);

#endif /* GOSR_DEMO_INT_H */
