/*
 * kernel_int.h — private to src/kernel/: the node structure, module
 * versions and slots, and the cross-file kernel__ functions (registry,
 * host API, module loading, swap, admin routes). Design: docs/kernel.md.
 */
#ifndef GOSR_KERNEL_INT_H
#define GOSR_KERNEL_INT_H

#include "gosr/admin.h"
#include "gosr/ai.h"
#include "gosr/crypto.h"
#include "gosr/kernel.h"
#include "gosr/mesh.h"
#include "gosr/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#define KID_MAX 64  /* bytes of a module id (+ NUL) */
#define KVER_MAX 64 /* bytes of a version text (+ NUL) */
#define KRING 1024  /* recent tick durations kept (power of two) */
#define KPKG_HEAD_PATH ".gosr/bundle-head" /* signed head in a package */

/* A published module version as recorded in the registry (all owned). */
typedef struct kver {
    char id[KID_MAX];           /* module id */
    char version[KVER_MAX];     /* semver text */
    char root[65];              /* store tree root, hex */
    char package[65];           /* mesh package root, hex ("" if none) */
    char *engine_compat;        /* range text or NULL */
    char *entry;                /* entry script path inside the tree */
    char *caps;                 /* declared capabilities, comma-separated */
    char **dep_ids;             /* dependency ids */
    char **dep_ranges;          /* matching ranges */
    size_t ndeps;               /* entries in dep_ids/dep_ranges */
} kver;

/* One active module on the tick thread (tick thread owns every field). */
typedef struct kslot {
    kver *ver;                  /* running version (owned) */
    gosr_sandbox *sb;           /* its sandbox (owned) */
    bool probation;             /* within the first N ticks after a swap */
    uint32_t healthy;           /* healthy ticks since the switch */
    uint32_t quarantine;        /* healthy ticks needed to retire */
    kver *old_ver;              /* quarantined version (owned) or NULL */
    gosr_sandbox *old_sb;       /* quarantined sandbox (owned) or NULL */
    gosr_world_snap *snap;      /* world before the first new tick */
    bool faulted;               /* a fault happened in the last tick */
    gosr_sandbox_fault fault;   /* copy of that fault record */
    bool dead;                  /* killed outside probation: not run */
    gosr_admin_series *script_ns; /* script time histogram series */
} kslot;

struct gosr_node {
    gosr_node_config cfg;       /* copy; strings below are owned copies */
    char *dir;                  /* data directory */
    char *granted;              /* capability policy */
    uint8_t trust_pk[32];       /* trust root */
    gosr_revocations *revoked;  /* revocation list or NULL */
    pthread_mutex_t db_mu;      /* guards store and registry handles */
    gosr_store *store;          /* content store (db_mu) */
    sqlite3 *reg;               /* registry database (db_mu) */
    gosr_ledger *ledger;        /* activation ledger (ledger_mu) */
    pthread_mutex_t ledger_mu;  /* guards ledger */
    gosr_world *world;          /* the world (tick thread) */
    gosr_tick *tick;            /* the tick loop (tick thread) */
    gosr_session *session;      /* session log or NULL */
    gosr_sandbox_host *host;    /* host API registry (immutable) */
    kslot *slots;               /* active modules, sorted by id */
    size_t nslots;              /* entries in slots */
    gosr_sandbox *cur_sb;       /* sandbox allowed to touch the world now */
    kslot *cur_slot;            /* its slot */
    uint32_t spawns;            /* spawns by cur_slot this tick */
    atomic_bool swap_busy;      /* a swap is being prepared or on probation */
    gosr_admin_queue *queue;    /* HTTP threads -> tick thread */
    gosr_admin_server *admin;   /* HTTP server or NULL */
    pthread_t thread;           /* tick thread */
    bool started;               /* thread running */
    bool via_queue;             /* once started, state changes go through
                                   the queue for good (closed at stop) */
    atomic_bool stop;           /* ask the tick thread to end */
    gosr_node_counters ctr;     /* counters (tick thread writes) */
    uint64_t ring_ns[KRING];    /* recent tick durations (ctr_mu) */
    uint64_t ring_at;           /* ticks recorded into ring_ns (ctr_mu) */
    bool replay;                /* replaying a session: no ledger, no
                                   arena file; switches come from the
                                   logged kernel events */
    bool pending_after;         /* replay: after-tick work of the previous
                                   tick still to do */
    pthread_mutex_t ctr_mu;     /* guards ctr and status snapshots */
    uint64_t emitted;           /* events emitted by modules */
    gosr_hash last_hash;        /* world hash after the last tick */
    uint64_t world_tick;        /* last committed tick (ctr_mu) */
    uint32_t world_count;       /* live entities (ctr_mu) */
    gosr_admin_metrics *metrics;        /* registry (owned or admin's) */
    bool own_metrics;                   /* we destroy metrics */
    gosr_node_layer layer;      /* patch layer (hooks.c); zero = none;
                                   tick thread reads */
    gosr_admin_route *xroutes;  /* extra routes added before start (owned
                                   array) */
    size_t nxroutes;            /* entries in xroutes */
    gosr_ai_router *ai_router;  /* AI router for the "ai" host group
                                   (ghost tier only), NULL in a replay */
    uint64_t ai_next;           /* last ai.* request id (tick thread) */
    gosr_mesh_node *mesh;       /* embedded mesh node or NULL (mesh.c) */
    pthread_t mesh_thread;      /* runs the mesh loop once started */
    bool mesh_running;          /* mesh_thread is joinable */
    char *mesh_addr;            /* its control address "IP:PORT" (owned) */
    /* checkpoints (ckptrun.c, docs/kernel.md "Checkpoints") */
    uint32_t ckpt_every;        /* ticks between checkpoints; 0 = off */
    uint32_t ckpt_since;        /* ticks since the last round (tick thread) */
    bool ckpt_final;            /* the stop checkpoint was taken */
    pthread_t ckpt_thread;      /* the writer thread */
    bool ckpt_running;          /* ckpt_thread is joinable */
    pthread_mutex_t ckpt_mu;    /* guards the ckpt_* fields below */
    pthread_cond_t ckpt_cv;     /* pending work, or the writer went idle */
    struct ckpt_data *ckpt_pending; /* taken, not yet written (ckpt_mu) */
    bool ckpt_writing;          /* the writer is busy (ckpt_mu) */
    bool ckpt_quit;             /* writer exits once idle (ckpt_mu) */
    uint64_t ckpt_written;      /* files written since open (ckpt_mu) */
    uint64_t ckpt_failed;       /* writes that failed (ckpt_mu) */
    uint64_t ckpt_skipped;      /* rounds skipped: swap busy (ckpt_mu) */
    uint64_t ckpt_last_tick;    /* tick of the last file written (ckpt_mu) */
    uint64_t ckpt_last_wall_ns; /* when it was taken (ckpt_mu) */
    uint64_t ckpt_last_bytes;   /* its size (ckpt_mu) */
    uint64_t ckpt_take_ns;      /* tick-thread time of the last take */
    uint64_t ckpt_write_ns;     /* encode + write + fsync of the last one */
    json_t *ckpt_restore;       /* restore outcome at open (immutable) */
    gosr_admin_series *m_tick;          /* tick-time histogram */
    gosr_admin_series *m_swaps, *m_rollbacks, *m_faults, *m_retires;
    gosr_admin_metric *m_script;        /* per-module script time family */
};

/* registry.c */
int kernel__registry_open(gosr_node *n, gosr_error *err);
void kernel__registry_close(gosr_node *n);
/* Stores a verified bundle; *out (caller frees with kernel__kver_free)
 * describes it. */
int kernel__registry_publish(gosr_node *n, const char *path, kver **out,
                             gosr_error *err);
/* Loads a published version; GOSR_ENOENT (version_unknown). */
int kernel__registry_get(gosr_node *n, const char *id, const char *version,
                         kver **out, gosr_error *err);
/* Appends {"id","versions":[...]} entries for every published module. */
int kernel__registry_list(gosr_node *n, json_t *modules, gosr_error *err);
/* Verifies a fetched mesh package (package.c) and records its version;
 * *out: caller frees. Reasons: package_no_head, package_root_mismatch,
 * the head's signature/certificate reasons, version_exists ... */
int kernel__registry_install(gosr_node *n, const gosr_hash *pkg, kver **out,
                             gosr_error *err);
/* The entry script source of a version (caller frees buf). */
int kernel__registry_source(gosr_node *n, const kver *v, gosr_buf *out,
                            gosr_error *err);
void kernel__kver_free(kver *v);

/* package.c */
/* Stores the mesh package of a published bundle: the tree `root` plus the
 * bundle's signed head at KPKG_HEAD_PATH; *pkg gets its root. Refuses a
 * bundle with its own file there (module_reserved_path). */
int kernel__package_build(gosr_node *n, const char *bundle,
                          const gosr_hash *root, gosr_hash *pkg,
                          gosr_error *err);
/* Verifies package `pkg` (complete in the store): the head against the
 * trust root, the files against the signed tree. Stores the module's tree
 * (*root) and appends its gmod.json to *manifest. */
int kernel__package_verify(gosr_node *n, const gosr_hash *pkg,
                           gosr_hash *root, gosr_buf *manifest,
                           gosr_error *err);
/* Appends a stored file (size from its tree entry, at most max) to out. */
int kernel__store_read_file(gosr_node *n, const gosr_hash *file_id,
                            uint64_t size, uint64_t max, gosr_buf *out,
                            gosr_error *err);

/* mesh.c */
/* Creates the embedded mesh node (cfg.mesh) on DIR/mesh with the node's
 * store; no thread yet. */
int kernel__mesh_open(gosr_node *n, gosr_error *err);
/* Runs its loop on a thread and writes DIR/mesh.json. */
int kernel__mesh_start(gosr_node *n, gosr_error *err);
/* Stops and joins the loop, removes DIR/mesh.json. Safe twice. */
void kernel__mesh_stop(gosr_node *n);
/* Destroys the mesh node (after stop). */
void kernel__mesh_close(gosr_node *n);
/* Pledges package `pkg` at factor rf (0 = the mesh default). */
int kernel__mesh_pledge(gosr_node *n, const gosr_hash *pkg, unsigned rf,
                        gosr_error *err);
/* Fetches every object of `pkg` (all or nothing); GOSR_EAGAIN
 * (module_unavailable) when no live node holds it. */
int kernel__mesh_fetch(gosr_node *n, const gosr_hash *pkg,
                       unsigned wait_ms, gosr_error *err);

/* host.c */
int kernel__host_create(gosr_node *n, gosr_error *err);

/* module.c */
/* Loads `v` into a fresh sandbox: chunk, init(ctx) and, when old_state is
 * not NULL, migrate(old_state) or a schema-compatible carry-over. Runs on
 * any thread (the sandbox cannot touch the world there). */
int kernel__module_load(gosr_node *n, const kver *v, const gosr_sbv *old_state,
                        const gosr_sbv *old_schema, gosr_sandbox **out,
                        gosr_error *err);
/* State hand-over into a loaded sandbox: migrate(old_state) if defined,
 * else carry-over when STATE_SCHEMA equals old_schema. */
int kernel__module_migrate(gosr_sandbox *sb, const kver *v,
                           const gosr_sbv *old_state,
                           const gosr_sbv *old_schema, gosr_error *err);
/* The tick system running every slot's on_event and tick. */
int kernel__system(void *ud, gosr_world *w, uint64_t tick,
                   const gosr_event *events, size_t nevents);
kslot *kernel__slot_find(gosr_node *n, const char *id);
int kernel__slot_add(gosr_node *n, kver *v, gosr_sandbox *sb, kslot **out);
void kernel__slot_remove(gosr_node *n, kslot *s);
void kernel__slot_clear(kslot *s);
/* Whole-set dependency check with `cand` replacing its id's version. */
int kernel__deps_with(gosr_node *n, const kver *cand, gosr_error *err);

/* swap.c */
int kernel__activate(gosr_node *n, const char *id, const char *version,
                     const char *actor, const char *action, gosr_error *err);
int kernel__rollback(gosr_node *n, const char *id, const char *to,
                     const char *actor, gosr_error *err);
/* After every tick: probation bookkeeping, automatic rollback, retire. */
void kernel__after_tick(gosr_node *n);
/* Runs fn(arg) on the tick thread (queue) or directly when not started. */
int kernel__exec(gosr_node *n, gosr_admin_job_fn fn, void *arg,
                 gosr_error *err);
/* The active versions recorded by the ledger: calls fn per module. */
/* {"active": {id: version}, "history": {id: [versions]}, "probation":
 * {id: replaced version}} from the ledger rows (caller decrefs). */
int kernel__ledger_active(gosr_node *n, json_t **map, gosr_error *err);
/* At open, after the checkpoint restore: modules whose last activation
 * never ended its probation (no retire/rollback row) go back on probation
 * with the replaced version quarantined and the restored world as the
 * rollback point. */
void kernel__probation_resume(gosr_node *n, const json_t *probation);
int kernel__ledger_append(gosr_node *n, const char *actor,
                          const char *action, const char *id,
                          const char *version, const char *reason,
                          json_t *evidence, gosr_error *err);

/* Logs a kernel event (switch or operator rollback) as an input of the
 * next tick, so a replay performs it at the same point. */
void kernel__log_switch(gosr_node *n, const char *action, const char *id,
                        const char *version);
/* Replay: performs a logged kernel event inside the tick's batch. */
int kernel__replay_event(gosr_node *n, const gosr_event *ev);
/* Switch back to the quarantined version, world restored (tick thread). */
void kernel__roll_back_slot(gosr_node *n, kslot *s, const char *actor,
                            const char *why);

/* hooks.c: the patch layer's host functions (patch.get, kpi.report) */
int kernel__hooks_host_add(gosr_node *n);

/* aihost.c: the "ai" host group (ai.dialog, ai.quest, ai.map) */
int kernel__aihost_add(gosr_node *n);
/* Creates the node's router (ghost tier only); kernel__ai_close joins it
 * and must run before the tick loop is destroyed. */
int kernel__ai_open(gosr_node *n, gosr_error *err);
void kernel__ai_close(gosr_node *n);
/* False for an `ai:` event addressed to another module (user_id). */
bool kernel__ai_event_for(const gosr_event *ev, const char *module);

/* ckptrun.c: checkpoints taken on the tick thread, written by a writer
 * thread, restored at open (docs/kernel.md, "Checkpoints"). */
/* Starts the writer thread (not for replays or when checkpoints are off). */
int kernel__ckpt_open(gosr_node *n, gosr_error *err);
/* Restores DIR/checkpoint (or .prev) into the world and the slots; never
 * fails the open: the outcome goes to status. */
void kernel__ckpt_restore(gosr_node *n);
/* After a tick (tick thread): takes a checkpoint every ckpt_every ticks. */
void kernel__ckpt_after_tick(gosr_node *n);
/* At clean stop, after the last tick: takes the final checkpoint and waits
 * until the writer has it on disk. Once per open; no-op when no tick ran. */
void kernel__ckpt_stop(gosr_node *n);
/* Joins the writer and frees what is left (at close). */
void kernel__ckpt_close(gosr_node *n);
/* {"restored", "reason"?, "source"?, "tick"?, "age_s"?, "every", "written",
 * "last_tick", ...} for status (caller decrefs). */
json_t *kernel__ckpt_status(gosr_node *n);

/* api.c */
int kernel__api_register(gosr_node *n, gosr_error *err);
int kernel__metrics_init(gosr_node *n, gosr_error *err);

#endif /* GOSR_KERNEL_INT_H */
