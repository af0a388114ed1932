/*
 * gosr/kernel.h — the GOSR node: a data directory with a content store, a
 * module registry and an activation ledger, a world in a shared arena, a
 * fixed-step tick thread that runs Lua modules in sandboxes, hot swap with
 * quarantine and automatic rollback, dependency resolution, and the admin
 * HTTP endpoints that drive it.
 *
 * Design: docs/kernel.md (directory layout, registry schema, dependency
 * rules and reasons, module Lua contract, host API, swap state machine,
 * ledger actions, endpoints).
 *
 * Threading: one tick thread owns the world and every sandbox. Public
 * functions that change node state (publish, activate, rollback) may be
 * called from any thread: while the tick thread runs they are handed to it
 * through the admin queue and happen between two ticks; otherwise (tests
 * stepping by hand) they run on the caller's thread.
 */
#ifndef GOSR_KERNEL_H
#define GOSR_KERNEL_H

#include "gosr/admin.h"
#include "gosr/base.h"
#include "gosr/mesh.h"
#include "gosr/runtime.h"
#include "gosr/sandbox.h"

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The engine version modules' engine_compat ranges are checked against. */
#define GOSR_ENGINE_VERSION "0.1.0"
/* Files inside a node directory. */
#define GOSR_NODE_LEDGER_FILE "ledger.db"
#define GOSR_NODE_REGISTRY_FILE "registry.db"
#define GOSR_NODE_STORE_DIR "store"
/* Checkpoint files (docs/kernel.md, "Checkpoints"). */
#define GOSR_NODE_CHECKPOINT_FILE "checkpoint"
#define GOSR_NODE_CHECKPOINT_PREV "checkpoint.prev"
/* gosr_node_config.checkpoint_ticks: no checkpoints at all. */
#define GOSR_NODE_CHECKPOINT_OFF UINT32_MAX
/* Capability groups granted when the operator sets no policy. */
#define GOSR_NODE_DEFAULT_CAPS \
    "log,world.read,world.write,events.emit,rng,patch,kpi,ai"

/* ---- dependency resolution ---------------------------------------------- */

/* One module version as the resolver sees it (strings borrowed). */
typedef struct gosr_dep_module {
    const char *id;            /* module id */
    const char *version;       /* semver text */
    const char *engine_compat; /* range text, NULL = any */
    const char *const *dep_ids;    /* ids this version depends on */
    const char *const *dep_ranges; /* matching semver ranges */
    size_t ndeps;                  /* entries in dep_ids/dep_ranges */
} gosr_dep_module;

/* Checks that `set` (n modules, one version per id) is a consistent active
 * set: every dependency present (deps_missing) and in range
 * (deps_version_conflict), no cycle (deps_cycle), every engine_compat
 * satisfied by `engine` (engine_incompatible), no id twice
 * (deps_duplicate). GOSR_EDEPENDENCY with the reason and a sentence naming
 * the modules, GOSR_EFORMAT (deps_bad_range) for an unparsable range. */
GOSR_API int gosr_deps_check(const gosr_dep_module *set, size_t n,
                             const char *engine, gosr_error *err);

/* ---- the node ----------------------------------------------------------- */

typedef struct gosr_node gosr_node;

/* Node configuration; zero fields take defaults. */
typedef struct gosr_node_config {
    const char *data_dir;       /* node directory (required; created) */
    const uint8_t *trust_pk;    /* trust root public key, 32 bytes
                                   (required unless no_trust) */
    bool no_trust;              /* tests only: accept unsigned structure */
    const char *revocations;    /* revocation list file, or NULL */
    const char *admin_listen;   /* "127.0.0.1:PORT"; NULL = default port */
    bool no_admin;              /* do not start the HTTP server */
    uint64_t max_upload;        /* largest bundle POSTed to the admin API
                                   (default 1 GiB) */
    uint32_t rate_hz;           /* tick rate (default 30) */
    uint32_t quarantine_ticks;  /* healthy ticks before retiring the old
                                   version (default 30) */
    uint32_t capacity;          /* world entity slots (default 16384) */
    uint32_t kv_capacity;       /* world kv slots (default 4096) */
    uint64_t seed;              /* simulation seed (default 0) */
    const char *granted_caps;   /* operator policy (default
                                   GOSR_NODE_DEFAULT_CAPS) */
    gosr_sandbox_mode mode;     /* module sandboxes (default deterministic) */
    uint64_t fuel;              /* per call (default 1e8) */
    uint64_t mem_limit;         /* per sandbox (default 64 MiB) */
    uint32_t max_spawn_per_tick; /* world.spawn calls per module per tick
                                   (default 256) */
    const char *session_log;    /* record a session log here (or NULL) */
    bool hash_ticks;            /* hash the world after every tick (for
                                   status; forced on with a session log) */
    const char *ai_config;      /* AI router config file (docs/ai.md,
                                   "Config": providers, chains, breakers)
                                   for the ai.* host API; NULL = the
                                   deterministic ghost tier only; read at
                                   open */
    uint32_t checkpoint_ticks;  /* ticks between world checkpoints in
                                   DIR/checkpoint (default 300;
                                   GOSR_NODE_CHECKPOINT_OFF = none written
                                   and none restored) */
    const gosr_mesh_config *mesh; /* join the mesh (NULL = no mesh): a mesh
                                   node on DIR/mesh sharing the node's
                                   store (data_dir and store are set by
                                   the node); borrowed during open */
} gosr_node_config;

/* Opens (creating) the node directory: store, registry, ledger (chain
 * verified: a broken chain opens in safe mode), world arena, restores the
 * active module versions recorded by the ledger, then the last checkpoint
 * (world, tick counter, module states; see docs/kernel.md "Checkpoints" —
 * a bad checkpoint never fails the open, status reports it). Starts only
 * the checkpoint writer thread. Caller closes with gosr_node_close. */
GOSR_API int gosr_node_open(const gosr_node_config *cfg, gosr_node **out,
                            gosr_error *err);
/* Stops (if running), flushes the ledger, closes everything. NULL ok. */
GOSR_API void gosr_node_close(gosr_node *n);

/* Starts the admin server (unless no_admin) and the tick thread. */
GOSR_API int gosr_node_start(gosr_node *n, gosr_error *err);
/* Asks the tick thread to finish its tick and joins it, writes the final
 * checkpoint (when a tick ran since open), stops the admin server
 * (removing admin.json). Safe from any thread but a signal handler; safe
 * to call twice. */
GOSR_API void gosr_node_stop(gosr_node *n);
/* Blocks until the tick thread has ended (after gosr_node_request_stop). */
GOSR_API void gosr_node_wait(gosr_node *n);
/* Async-signal-safe: asks the tick thread to end after its tick. */
GOSR_API void gosr_node_request_stop(gosr_node *n);

/* Runs `count` ticks on the caller's thread (only when not started). */
GOSR_API int gosr_node_step(gosr_node *n, uint64_t count, gosr_error *err);

/* Verifies the bundle at `path` against the trust root and stores it with
 * its mesh package (docs/kernel.md, "Mesh packages"); on a mesh node the
 * package is pledged at the mesh's default factor. With `activate`, then
 * activates it. *info (may be NULL) receives {"id","version","root",
 * "package","activated","pledged"} (caller json_decref). */
GOSR_API int gosr_node_publish(gosr_node *n, const char *path, bool activate,
                               const char *actor, json_t **info,
                               gosr_error *err);
/* Sets the replication factor the mesh keeps for a published version's
 * package (hex root, as publish reports it); rf 0 = the mesh default.
 * GOSR_ESTATE (mesh_off) without a mesh. */
GOSR_API int gosr_node_pledge(gosr_node *n, const char *package, unsigned rf,
                              gosr_error *err);
/* Installs a module version from the mesh: fetches its package (all
 * objects, hash-verified; waits up to wait_ms for a provider, 0 = 10 s),
 * verifies the signed head against the trust root and the files against
 * it, records the version, and with `activate` activates it. Nothing is
 * recorded unless every step passed: GOSR_EAGAIN (module_unavailable)
 * when no live node holds the package, the verifier's reasons otherwise.
 * *info (may be NULL): {"id","version","root","package","activated"}. */
GOSR_API int gosr_node_install(gosr_node *n, const char *package,
                               bool activate, unsigned wait_ms,
                               const char *actor, json_t **info,
                               gosr_error *err);
/* Activates a published version: dependency check of the whole set, load
 * into a fresh sandbox off the tick thread, migrate, switch between two
 * ticks, quarantine the old version. GOSR_EDENIED (ledger_chain_broken) in
 * safe mode; GOSR_EBUSY (swap_in_progress) while another swap is on
 * probation. */
GOSR_API int gosr_node_activate(gosr_node *n, const char *id,
                                const char *version, const char *actor,
                                gosr_error *err);
/* Rolls a module back: to the quarantined version while on probation
 * (world restored), else to `to` (NULL = the version active before the
 * current one per the ledger). */
GOSR_API int gosr_node_rollback(gosr_node *n, const char *id, const char *to,
                                const char *actor, gosr_error *err);

/* Queues an input event (player input, AI answer ...) for the next tick
 * boundary; it is logged in the session and delivered to every module's
 * on_event. GOSR_EBUSY when the input queue is full. Thread safe. */
GOSR_API int gosr_node_submit(gosr_node *n, const gosr_event *ev);

/* {"modules":[{"id","active","state","versions":[...]}]} (caller frees). */
GOSR_API int gosr_node_modules_json(gosr_node *n, json_t **out,
                                    gosr_error *err);
/* Node status: tick, entities, safe_mode, tick stats, swaps, rollbacks,
 * faults, and "checkpoint" ({"restored", "reason" | "source", "tick",
 * "world_hash", "age_s", "modules"}, plus the writer's counters) (caller
 * frees). */
GOSR_API int gosr_node_status_json(gosr_node *n, json_t **out,
                                   gosr_error *err);
/* The active version of `id` copied into buf, or GOSR_ENOENT. */
GOSR_API int gosr_node_active_version(gosr_node *n, const char *id, char *buf,
                                      size_t cap);
/* Borrowed handles (valid until close; the world only on the tick thread
 * or while not started). */
GOSR_API gosr_world *gosr_node_world(gosr_node *n);
GOSR_API gosr_ledger *gosr_node_ledger(gosr_node *n);
GOSR_API uint16_t gosr_node_admin_port(gosr_node *n);

/* Re-runs a session log recorded by a node (systems "kernel.v1") against
 * the module bundles in DIR's store: the logged kernel events replay every
 * switch at its tick, faults and rollbacks happen again (deterministic
 * sandboxes), and the world hash is compared after every tick (see
 * gosr_replay_file for res). Opens DIR's store read-only, so a node may be
 * running there. */
GOSR_API int gosr_node_replay(const char *dir, const char *log,
                              gosr_replay_result *res, gosr_error *err);

/* Counters (monotonic since open). */
typedef struct gosr_node_counters {
    uint64_t ticks;      /* ticks run */
    uint64_t swaps;      /* activations that switched */
    uint64_t rollbacks;  /* rollbacks (automatic and operator) */
    uint64_t retires;    /* quarantined versions retired */
    uint64_t faults;     /* module faults seen */
    uint64_t late;       /* ticks that started after their deadline */
    uint64_t missed;     /* whole periods skipped */
    uint64_t last_swap_commit_ns; /* pointer switch on the tick thread */
} gosr_node_counters;
GOSR_API void gosr_node_get_counters(gosr_node *n, gosr_node_counters *out);
/* Copies the durations (ns) of the last min(max, 1024) ticks, oldest
 * first, into out; returns how many. */
GOSR_API size_t gosr_node_recent_ticks(gosr_node *n, uint64_t *out,
                                       size_t max);

/* ---- hooks for the patch pipeline (docs/patch.md, "Kernel hooks") ------- */

/* A gameplay layer on top of the modules (the active patch). Every
 * callback runs on the tick thread (or the stepping thread). */
typedef struct gosr_node_layer {
    /* Called once per tick inside the tick's world batch, after every
     * module's on_event and tick. A non-OK return is logged, not fatal. */
    int (*tick)(void *ud, gosr_world *w, uint64_t tick,
                const gosr_event *events, size_t nevents);
    /* Answers a module's patch.get(key[, owner]): fills *out (owned by the
     * caller; leave nil for "nothing"). */
    int (*get)(void *ud, const char *key, uint64_t owner, gosr_sbv *out);
    /* A module's kpi.report(name, value). */
    void (*kpi)(void *ud, const char *name, double value);
    void *ud; /* passed to the callbacks (borrowed) */
} gosr_node_layer;

/* Installs (NULL: removes) the layer; copied. Call while the node is not
 * started (or from a gosr_node_exec job). */
GOSR_API void gosr_node_set_layer(gosr_node *n, const gosr_node_layer *l);
/* Adds admin routes registered when the server starts (call before
 * gosr_node_start; the table is copied, its strings and ud borrowed). */
GOSR_API int gosr_node_add_routes(gosr_node *n, const gosr_admin_route *r,
                                  size_t count, gosr_error *err);
/* Appends a row to the node's activation ledger (same hash chain).
 * `evidence` (may be NULL) is consumed. Thread safe. */
GOSR_API int gosr_node_ledger_append(gosr_node *n, const char *actor,
                                     const char *action, const char *subject,
                                     const char *version, const char *reason,
                                     json_t *evidence, gosr_error *err);
/* Runs fn(arg) on the tick thread between two ticks (directly when the
 * node is not started). */
GOSR_API int gosr_node_exec(gosr_node *n, gosr_admin_job_fn fn, void *arg,
                            gosr_error *err);
/* A copy of the live world's entities and kv, taken between two ticks
 * (caller frees with gosr_world_snap_free). */
GOSR_API int gosr_node_world_snapshot(gosr_node *n, gosr_world_snap **out,
                                      gosr_error *err);
/* The node directory (borrowed until close). */
GOSR_API const char *gosr_node_dir(gosr_node *n);
/* The node's metrics registry, rendered at GET /metrics (borrowed until
 * close; families may be added from any thread). */
GOSR_API gosr_admin_metrics *gosr_node_metrics(gosr_node *n);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_KERNEL_H */
