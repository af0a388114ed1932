/*
 * gosr/runtime.h — the parts of the GOSR kernel that stand on their own:
 *
 *   arena   a file-backed shared-memory arena split into named regions, each
 *           with a seqlock, a 64-bit epoch and a futex word (mutate, signal,
 *           react); writers in one process, read-only readers anywhere.
 *   world   entities with generational ids and typed components (position,
 *           velocity, owner, health, inventory, per-module key/value data)
 *           stored in arena regions; a deterministic BLAKE3 world hash.
 *   tick    the fixed-step loop (default 30 Hz, absolute deadlines), a fixed
 *           list of systems, an input queue that admits events only at tick
 *           boundaries, timing statistics.
 *   event   `{service}:{action}:v{version}:{state}` envelopes and their
 *           strict binary wire form.
 *   session the append-only session log (seed, config, per tick the input
 *           events and the world hash) and replay against it.
 *   ledger  the hash-chained, append-only activation ledger in SQLite, with
 *           safe mode on a broken chain.
 *
 * Design: docs/runtime.md (arena, world, tick, session log, replay),
 *         docs/events.md (envelope and wire form), docs/ledger.md.
 */
#ifndef GOSR_RUNTIME_H
#define GOSR_RUNTIME_H

#include "gosr/base.h"
#include "gosr/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== arena =============================================================== */

#define GOSR_ARENA_FILE "world.arena" /* file name inside a node's data dir */
#define GOSR_ARENA_MAX_REGIONS 16     /* regions per arena */
#define GOSR_ARENA_NAME_MAX 31        /* bytes of a region name (no NUL) */
#define GOSR_ARENA_MAX_REGION_SIZE                                             \
    (1ull << 32) /* bytes per region, at most                                  \
                  */

/* What a region holds, recorded in the header so readers can interpret it
 * without out-of-band knowledge (docs/runtime.md, "Region kinds"). */
typedef enum gosr_region_kind {
    GOSR_REGION_RAW = 0,      /* opaque bytes */
    GOSR_REGION_META = 1,     /* one gosr_world_meta */
    GOSR_REGION_ENTITIES = 2, /* elem_count gosr_entity_slot */
    GOSR_REGION_KV = 3,       /* elem_count gosr_kv_slot */
} gosr_region_kind;

/* One region to create. */
typedef struct gosr_region_spec {
    const char *name;    /* 1..31 chars of [a-z0-9_.-]; unique */
    uint32_t kind;       /* gosr_region_kind */
    uint32_t elem_size;  /* bytes per element (0 for RAW) */
    uint32_t elem_count; /* elements (0 for RAW) */
    uint64_t size;       /* bytes; 0 = elem_size * elem_count */
} gosr_region_spec;

/* What a reader learns about a region from the validated header. */
typedef struct gosr_region_info {
    char name[GOSR_ARENA_NAME_MAX + 1]; /* region name */
    uint32_t index;                     /* position in the region table */
    uint32_t kind;                      /* gosr_region_kind */
    uint32_t elem_size;                 /* bytes per element */
    uint32_t elem_count;                /* element count */
    uint64_t offset; /* byte offset of the data in the mapping */
    uint64_t size;   /* bytes of data */
} gosr_region_info;

/* An arena, opened either as the writer (read-write mapping) or as a reader
 * (PROT_READ mapping). Opaque; one thread at a time per handle. */
typedef struct gosr_arena gosr_arena;

/* Creates the arena file at `path` (or, when path is NULL, an anonymous
 * shared mapping visible only to this process and its forked children) with
 * the given regions, and opens it as the writer. The file is written under
 * a temporary name and renamed into place, so a reader never maps a
 * half-built file and an old mapping stays valid. Caller destroys with
 * gosr_arena_close. */
GOSR_API int gosr_arena_create(const char *path, const gosr_region_spec *specs,
                               size_t nspecs, gosr_arena **out,
                               gosr_error *err);
/* Maps an existing arena file read-only and validates its header and
 * region table against the file size (a corrupt or truncated file gives
 * GOSR_EFORMAT with a reason, never a crash). Caller closes. */
GOSR_API int gosr_arena_open_reader(const char *path, gosr_arena **out,
                                    gosr_error *err);
/* Marks a writer's arena closed (readers see gosr_arena_writer_closed),
 * wakes all sleepers, unmaps. Accepts NULL. */
GOSR_API void gosr_arena_close(gosr_arena *a);

/* Region lookup by name; -1 (GOSR_ENOENT as int) when absent. */
GOSR_API int gosr_arena_find(const gosr_arena *a, const char *name);
GOSR_API size_t gosr_arena_region_count(const gosr_arena *a);
GOSR_API int gosr_arena_region_info(const gosr_arena *a, int region,
                                    gosr_region_info *out);
/* Writer only: the region's data (borrowed until close). Mutate it only
 * between begin_write and end_write. NULL for readers or a bad index. */
GOSR_API void *gosr_arena_data(gosr_arena *a, int region);

/* Writer: opens a write window on a region (seqlock goes odd). Windows on
 * one region do not nest; GOSR_ESTATE if already open. */
GOSR_API int gosr_arena_begin_write(gosr_arena *a, int region);
/* Writer: closes the window, bumps the epoch and wakes every sleeper. */
GOSR_API int gosr_arena_end_write(gosr_arena *a, int region);
/* Whether a write window is open on the region (writer view). */
GOSR_API bool gosr_arena_writing(const gosr_arena *a, int region);

/* The region's completed-write count (0 before the first write). */
GOSR_API uint64_t gosr_arena_epoch(const gosr_arena *a, int region);
/* True once the writer has closed the arena, or (for a reader in another
 * process) once the creating process no longer exists. */
GOSR_API bool gosr_arena_writer_closed(const gosr_arena *a);

/* Reader or writer: copies a consistent snapshot of the region's first
 * `n` bytes into dst (n <= region size), retrying while a write is in
 * progress or happened during the copy; sleeps on the futex when a write
 * window stays open. *epoch receives the epoch the snapshot belongs to.
 * GOSR_ETIMEOUT after timeout_ms (0 = wait forever); GOSR_ECLOSED when the
 * writer died inside the window. GOSR_ESTATE when the caller is the writer
 * and its own window on the region is open. */
GOSR_API int gosr_arena_read(const gosr_arena *a, int region, void *dst,
                             size_t n, uint64_t *epoch, uint32_t timeout_ms);

/* Waits until the region's epoch exceeds `last`; *now gets the new epoch.
 * Sleeps on the futex word (FUTEX_WAIT, shared) unless `spin` is true, in
 * which case it busy-polls. GOSR_ETIMEOUT after timeout_ms (0 = forever);
 * GOSR_ECLOSED when the writer closed the arena (or died) and the epoch is
 * not newer. */
GOSR_API int gosr_arena_wait(const gosr_arena *a, int region, uint64_t last,
                             bool spin, uint32_t timeout_ms, uint64_t *now);

/* ==== world =============================================================== */

/* Fixed-point: positions and velocities are int64 in 1/65536 of a world
 * unit (Q47.16). Integer arithmetic only, so every platform computes the same
 * world (docs/runtime.md, "Determinism"). */
#define GOSR_FIX_ONE 65536
#define GOSR_INV_SLOTS 7      /* inventory entries per entity */
#define GOSR_KV_MODULE_MAX 31 /* bytes of a module id in a kv entry */
#define GOSR_KV_KEY_MAX 31    /* bytes of a key */
#define GOSR_KV_VALUE_MAX 48  /* bytes of a value */

/* Component bits of gosr_entity_slot.mask. */
enum {
    GOSR_C_ALIVE = 1u << 0,
    GOSR_C_POSITION = 1u << 1,
    GOSR_C_VELOCITY = 1u << 2,
    GOSR_C_OWNER = 1u << 3,
    GOSR_C_HEALTH = 1u << 4,
    GOSR_C_INVENTORY = 1u << 5,
    GOSR_C_ALL = 0x3f,
};

/* An entity handle: (generation << 32) | slot index. Generation >= 1 for a
 * live slot, so 0 is never a valid id; a stale id (its slot reused) fails
 * with GOSR_ENOENT. */
typedef struct gosr_entity {
    uint64_t id; /* 0 = invalid */
} gosr_entity;

typedef struct gosr_vec3 {
    int64_t x, y, z; /* Q47.16 fixed point */
} gosr_vec3;

typedef struct gosr_item {
    uint32_t item;  /* item id, 0 = empty */
    uint32_t count; /* how many */
} gosr_item;

/* One entity slot as stored in the "entities" region: 128 bytes, little
 * endian, layout fixed (byte table in docs/runtime.md). */
typedef struct gosr_entity_slot {
    uint32_t generation;           /* current generation; 0 = never used */
    uint32_t mask;                 /* GOSR_C_* bits; ALIVE clear = free slot */
    gosr_vec3 pos;                 /* position (POSITION) */
    gosr_vec3 vel;                 /* velocity per tick (VELOCITY) */
    uint64_t owner;                /* owning player/user id (OWNER) */
    int32_t health;                /* hit points (HEALTH) */
    uint32_t inv_count;            /* used entries of inv (INVENTORY) */
    gosr_item inv[GOSR_INV_SLOTS]; /* inventory entries */
} gosr_entity_slot;

/* One key/value entry of the "kv" region: 128 bytes. */
typedef struct gosr_kv_slot {
    uint64_t entity;                     /* owning entity id; 0 = free */
    char module[GOSR_KV_MODULE_MAX + 1]; /* module id, NUL-padded */
    char key[GOSR_KV_KEY_MAX + 1];       /* key, NUL-padded */
    uint32_t vlen;                       /* bytes of value used */
    uint32_t reserved;                   /* zero */
    uint8_t value[GOSR_KV_VALUE_MAX];    /* value bytes, zero-padded */
} gosr_kv_slot;

/* The "meta" region: 128 bytes. */
typedef struct gosr_world_meta {
    uint64_t tick;           /* ticks completed */
    uint64_t seed;           /* simulation seed */
    uint32_t entity_count;   /* live entities */
    uint32_t capacity;       /* entity slots */
    uint32_t kv_count;       /* used kv entries */
    uint32_t kv_capacity;    /* kv slots */
    uint32_t rate_hz;        /* tick rate */
    uint32_t reserved0;      /* zero */
    uint64_t commit_wall_ns; /* wall clock of the last commit (not hashed) */
    uint8_t last_hash[32];   /* world hash after the last hashed tick */
    uint8_t reserved[48];    /* zero */
} gosr_world_meta;

typedef struct gosr_world gosr_world;

/* World configuration; zero fields take defaults. */
typedef struct gosr_world_config {
    uint32_t capacity;    /* entity slots (default 16384, max 1<<22) */
    uint32_t kv_capacity; /* kv slots (default 4096, max 1<<20) */
    uint64_t seed;        /* simulation seed (default 0) */
    uint32_t rate_hz;     /* recorded in meta (default 30) */
} gosr_world_config;

/* Creates a world with its arena at `arena_path` (NULL = anonymous arena).
 * Regions: "meta", "entities", "kv". Caller destroys. */
GOSR_API int gosr_world_create(const gosr_world_config *cfg,
                               const char *arena_path, gosr_world **out,
                               gosr_error *err);
/* Closes the arena and frees the world. Accepts NULL. */
GOSR_API void gosr_world_destroy(gosr_world *w);
/* The arena (borrowed until destroy). */
GOSR_API gosr_arena *gosr_world_arena(gosr_world *w);
GOSR_API const gosr_world_config *gosr_world_get_config(const gosr_world *w);

/* Opens a mutation batch: mutations are only allowed between begin and
 * commit. A region's write window opens at its first mutation, so readers
 * see one epoch per region per batch. GOSR_ESTATE when already open. */
GOSR_API int gosr_world_begin(gosr_world *w);
/* Ends the batch: updates meta, closes windows (bumping epochs, waking
 * readers). `advance_tick` adds one to meta.tick. */
GOSR_API int gosr_world_commit(gosr_world *w, bool advance_tick);
GOSR_API uint64_t gosr_world_tick(const gosr_world *w);
GOSR_API uint32_t gosr_world_count(const gosr_world *w);

/* Creates an entity in the lowest free slot, with the given components
 * (NULL slot = only ALIVE). GOSR_ENOSPC when full. */
GOSR_API int gosr_world_spawn(gosr_world *w, const gosr_entity_slot *init,
                              gosr_entity *out);
/* Destroys an entity and its kv entries; bumps the slot's generation. */
GOSR_API int gosr_world_destroy_entity(gosr_world *w, gosr_entity e);
GOSR_API bool gosr_world_alive(const gosr_world *w, gosr_entity e);
/* Copies an entity's slot out. GOSR_ENOENT for stale or invalid ids. */
GOSR_API int gosr_world_get(const gosr_world *w, gosr_entity e,
                            gosr_entity_slot *out);
/* Direct mutable access to a live entity's slot for systems (borrowed
 * until the batch commits). NULL for stale ids or outside a batch. */
GOSR_API gosr_entity_slot *gosr_world_slot_mut(gosr_world *w, gosr_entity e);
GOSR_API int gosr_world_set_position(gosr_world *w, gosr_entity e, gosr_vec3 p);
GOSR_API int gosr_world_set_velocity(gosr_world *w, gosr_entity e, gosr_vec3 v);
GOSR_API int gosr_world_set_owner(gosr_world *w, gosr_entity e, uint64_t owner);
GOSR_API int gosr_world_set_health(gosr_world *w, gosr_entity e, int32_t hp);
/* Adds count of item (merging with an existing entry). GOSR_ENOSPC when
 * all GOSR_INV_SLOTS are in use by other items. */
GOSR_API int gosr_world_inv_add(gosr_world *w, gosr_entity e, uint32_t item,
                                uint32_t count);
/* Removes up to count; GOSR_ENOENT when the item is absent. */
GOSR_API int gosr_world_inv_remove(gosr_world *w, gosr_entity e, uint32_t item,
                                   uint32_t count);

/* Per-module key/value data. module and key: 1..31 bytes, no NUL; value up
 * to GOSR_KV_VALUE_MAX bytes. */
GOSR_API int gosr_world_kv_set(gosr_world *w, gosr_entity e, const char *module,
                               const char *key, const void *value, size_t len);
/* Copies the value into buf (cap bytes); *len gets its length.
 * GOSR_ENOENT when absent, GOSR_ETOOBIG when cap is too small. */
GOSR_API int gosr_world_kv_get(const gosr_world *w, gosr_entity e,
                               const char *module, const char *key, void *buf,
                               size_t cap, size_t *len);
GOSR_API int gosr_world_kv_del(gosr_world *w, gosr_entity e, const char *module,
                               const char *key);

/* Visits live entities in slot order. `fn` may mutate the slot only inside
 * a batch (the entities window is opened by this call when inside one). */
typedef void (*gosr_world_visit_fn)(void *ud, gosr_entity e,
                                    gosr_entity_slot *s);
GOSR_API int gosr_world_each(gosr_world *w, gosr_world_visit_fn fn, void *ud);

/* BLAKE3 over the canonical encoding (docs/runtime.md, "World hash"):
 * tick, seed, and every slot in order with little-endian fields. Wall
 * clock values are excluded. */
GOSR_API void gosr_world_hash(const gosr_world *w, gosr_hash *out);

/* The live slot at `index` (borrowed until the next mutation) and its id,
 * or NULL when the slot is free or out of range: bulk iteration without a
 * callback (the kernel's world.query). */
GOSR_API const gosr_entity_slot *gosr_world_slot_peek(const gosr_world *w,
                                                      uint32_t index,
                                                      gosr_entity *id);

/* A copy of the world's entities and kv entries (not the tick counter),
 * for rolling back a failed module swap. */
typedef struct gosr_world_snap gosr_world_snap;
/* Copies the used slots out; caller frees with gosr_world_snap_free. */
GOSR_API int gosr_world_snapshot(const gosr_world *w, gosr_world_snap **out);
/* Inside a batch: puts entities and kv back exactly as in the snapshot
 * (same ids, generations and world hash apart from the tick). */
GOSR_API int gosr_world_restore(gosr_world *w, const gosr_world_snap *s);
GOSR_API void gosr_world_snap_free(gosr_world_snap *s);
/* Appends the binary form of a snapshot (docs/runtime.md, "World snapshot
 * encoding") to out. GOSR_ENOMEM only. */
GOSR_API int gosr_world_snap_encode(const gosr_world_snap *s, gosr_buf *out);
/* Decodes exactly n bytes into a new snapshot (caller frees with
 * gosr_world_snap_free). `limits` (NULL = defaults) bounds the slot counts
 * by its capacity and kv_capacity. Strict: GOSR_EFORMAT
 * (snapshot_truncated, snapshot_trailing, snapshot_bad_magic,
 * snapshot_invalid) or GOSR_ETOOBIG (snapshot_invalid) when the bytes do
 * not describe a world the world itself could be in. */
GOSR_API int gosr_world_snap_decode(const uint8_t *p, size_t n,
                                    const gosr_world_config *limits,
                                    gosr_world_snap **out, gosr_error *err);
/* The world hash a world restored from `s` would have at `tick` with
 * `seed` (same as gosr_world_hash after restore and set_tick). */
GOSR_API void gosr_world_snap_hash(const gosr_world_snap *s, uint64_t tick,
                                   uint64_t seed, gosr_hash *out);
/* Live entities in the snapshot. */
GOSR_API uint32_t gosr_world_snap_count(const gosr_world_snap *s);
/* Inside a batch: sets the tick counter (checkpoint restore at open; time
 * otherwise only moves through the tick loop). GOSR_ESTATE outside one. */
GOSR_API int gosr_world_set_tick(gosr_world *w, uint64_t tick);

/* ==== event envelopes ===================================================== */

#define GOSR_EVENT_NAME_MAX 127           /* bytes of a full name */
#define GOSR_EVENT_PART_MAX 48            /* bytes of a service or action */
#define GOSR_EVENT_ID_LEN 16              /* bytes of an event id */
#define GOSR_EVENT_STR_MAX 255            /* user_id, device_id */
#define GOSR_EVENT_TOKEN_MAX 2048         /* security_token */
#define GOSR_EVENT_TRACE_MAX 16           /* trace_context entries */
#define GOSR_EVENT_TRACE_KEY_MAX 64       /* bytes of a trace key */
#define GOSR_EVENT_TRACE_VAL_MAX 256      /* bytes of a trace value */
#define GOSR_EVENT_PAYLOAD_MAX (1u << 20) /* payload bytes */

typedef enum gosr_event_state {
    GOSR_EVENT_REQUESTED = 0,
    GOSR_EVENT_PROCESSING = 1,
    GOSR_EVENT_COMPLETED = 2,
    GOSR_EVENT_FAILED = 3,
} gosr_event_state;

/* A parsed event name. */
typedef struct gosr_event_name {
    char service[GOSR_EVENT_PART_MAX + 1]; /* [a-z][a-z0-9_]* */
    char action[GOSR_EVENT_PART_MAX + 1];  /* [a-z][a-z0-9_]* */
    uint32_t version;                      /* 1..65535 */
    gosr_event_state state;                /* lifecycle state */
} gosr_event_name;

/* One trace_context entry. */
typedef struct gosr_trace_kv {
    char *key;   /* owned, NUL-terminated */
    char *value; /* owned, NUL-terminated (never NULL; may be "") */
} gosr_trace_kv;

/* An envelope. Strings and payload are owned by the event; free with
 * gosr_event_clear. Zero-initialise before use. */
typedef struct gosr_event {
    char name[GOSR_EVENT_NAME_MAX + 1]; /* "{service}:{action}:v{N}:{state}" */
    uint8_t id[GOSR_EVENT_ID_LEN];      /* 128-bit id */
    uint64_t tick;        /* logical timestamp: tick the event enters at */
    uint64_t wall_ns;     /* wall clock when received (never hashed) */
    char *user_id;        /* owned or NULL (= empty) */
    char *device_id;      /* owned or NULL */
    gosr_trace_kv *trace; /* owned array, sorted by key, unique keys */
    uint32_t ntrace;      /* entries in trace */
    char *security_token; /* owned or NULL */
    uint8_t *payload;     /* owned or NULL */
    uint32_t payload_len; /* bytes of payload */
} gosr_event;

/* Parses and validates a name (grammar in docs/events.md). */
GOSR_API int gosr_event_name_parse(const char *s, gosr_event_name *out,
                                   gosr_error *err);
GOSR_API bool gosr_event_name_valid(const char *s);
GOSR_API const char *gosr_event_state_name(gosr_event_state s);

/* Fills in the name (validated), with the other fields unchanged. */
GOSR_API int gosr_event_set_name(gosr_event *ev, const char *name,
                                 gosr_error *err);
/* Copies bytes into the event (replacing what was there). */
GOSR_API int gosr_event_set_payload(gosr_event *ev, const void *p, size_t n);
/* Sets a metadata string: field is "user_id", "device_id" or
 * "security_token". */
GOSR_API int gosr_event_set_meta(gosr_event *ev, const char *field,
                                 const char *value, gosr_error *err);
/* Adds or replaces a trace_context entry (kept sorted). */
GOSR_API int gosr_event_set_trace(gosr_event *ev, const char *key,
                                  const char *value, gosr_error *err);
/* Derives the deterministic id from (seed, tick, seq): the first 16 bytes
 * of BLAKE3 derive_key("gosr 2026 event id v1") over their LE encoding. */
GOSR_API void gosr_event_derive_id(uint64_t seed, uint64_t tick, uint32_t seq,
                                   uint8_t id[GOSR_EVENT_ID_LEN]);
/* Frees owned fields and zeroes the event. Accepts NULL. */
GOSR_API void gosr_event_clear(gosr_event *ev);
/* Deep copy (through the wire form); dst must be zeroed or cleared.
 * GOSR_EINVAL for an event that would not encode (e.g. no valid name). */
GOSR_API int gosr_event_copy(gosr_event *dst, const gosr_event *src);

/* Appends the wire form (docs/events.md) to out. GOSR_EINVAL when the
 * event violates a limit or its name is invalid. */
GOSR_API int gosr_event_encode(const gosr_event *ev, gosr_buf *out,
                               gosr_error *err);
/* Decodes exactly n bytes into ev (zeroed by the call; caller clears).
 * Strict: every length bounded, no trailing bytes, canonical trace order;
 * GOSR_EFORMAT/GOSR_ETOOBIG with a reason otherwise. */
GOSR_API int gosr_event_decode(const uint8_t *p, size_t n, gosr_event *ev,
                               gosr_error *err);
/* As encode, but with wall_ns written as zero: the bytes the session log
 * hashes and replays compare. */
GOSR_API int gosr_event_encode_canonical(const gosr_event *ev, gosr_buf *out,
                                         gosr_error *err);

/* ==== tick loop =========================================================== */

typedef struct gosr_tick gosr_tick;

/* A system: called once per tick, in registration order, inside the
 * world's mutation batch. `events` are this tick's inputs (already logged),
 * in admission order. Returning an error stops the loop. */
typedef int (*gosr_system_fn)(void *ud, gosr_world *w, uint64_t tick,
                              const gosr_event *events, size_t nevents);

/* Tick loop configuration; zero = default. */
typedef struct gosr_tick_config {
    uint32_t rate_hz;      /* ticks per second (default 30, max 10000) */
    uint32_t max_events;   /* inputs admitted per tick (default 1024) */
    uint32_t max_queue;    /* pending inputs before submit refuses (4096) */
    uint32_t stats_window; /* tick times kept for percentiles (4096) */
    bool hash_every_tick;  /* compute the world hash after each tick (also
                              forced on when a session log is attached) */
    bool no_sleep;         /* run ticks back to back (benches, replay) */
} gosr_tick_config;

/* Timing statistics (nanoseconds). */
typedef struct gosr_tick_stats {
    uint64_t ticks;   /* ticks run */
    uint64_t late;    /* ticks that started after their deadline */
    uint64_t missed;  /* whole periods the schedule fell behind and skipped
                         (logical ticks are never skipped; see docs) */
    uint64_t p50_ns;  /* median tick duration over the window */
    uint64_t p99_ns;  /* 99th percentile */
    uint64_t max_ns;  /* maximum over the window */
    uint64_t mean_ns; /* mean over the window */
    uint64_t events;  /* inputs admitted in total */
} gosr_tick_stats;

typedef struct gosr_session gosr_session;

/* Creates a loop over `w` (borrowed; must outlive the loop). Caller
 * destroys. */
GOSR_API int gosr_tick_create(gosr_world *w, const gosr_tick_config *cfg,
                              gosr_tick **out, gosr_error *err);
GOSR_API void gosr_tick_destroy(gosr_tick *t);
/* Appends a system (max 32). Order of calls = order of execution. */
GOSR_API int gosr_tick_add_system(gosr_tick *t, const char *name,
                                  gosr_system_fn fn, void *ud);
/* Attaches a session log (borrowed): every tick's inputs and hash are
 * appended to it. */
GOSR_API void gosr_tick_attach_log(gosr_tick *t, gosr_session *log);
/* Queues an input for the next tick boundary (thread safe). The event is
 * copied; its tick and id are assigned at admission (seed, tick, sequence).
 * GOSR_EBUSY when the queue is full. */
GOSR_API int gosr_tick_submit(gosr_tick *t, const gosr_event *ev);
/* Runs one tick now: admits queued inputs, logs them, runs the systems in a
 * batch, commits, hashes (if configured) and logs the hash. */
GOSR_API int gosr_tick_step(gosr_tick *t, gosr_error *err);
/* Runs `n` ticks on the fixed schedule (absolute deadlines with
 * clock_nanosleep TIMER_ABSTIME), or until gosr_tick_stop. */
GOSR_API int gosr_tick_run(gosr_tick *t, uint64_t n, gosr_error *err);
/* Asks a running loop to return after the current tick (thread and
 * signal safe). */
GOSR_API void gosr_tick_stop(gosr_tick *t);
GOSR_API void gosr_tick_get_stats(const gosr_tick *t, gosr_tick_stats *out);
/* The hash after the last hashed tick. */
GOSR_API void gosr_tick_last_hash(const gosr_tick *t, gosr_hash *out);

/* ==== session log and replay ============================================== */

/* The simulation parameters a session records; replay rebuilds from them. */
typedef struct gosr_session_config {
    uint64_t seed;        /* simulation seed */
    uint32_t rate_hz;     /* tick rate */
    uint32_t capacity;    /* world entity capacity */
    uint32_t kv_capacity; /* world kv capacity */
    uint32_t spawn;       /* entities the builtin scenario spawns at
                             tick 0 (deterministic from seed) */
    char systems[32];     /* system set id, e.g. "builtin.v1" */
} gosr_session_config;

/* Creates a new log at path (GOSR_EEXIST if present) and writes the header.
 * Caller closes. */
GOSR_API int gosr_session_create(const char *path,
                                 const gosr_session_config *cfg,
                                 gosr_session **out, gosr_error *err);
/* Appends one tick record: the inputs admitted at that tick and the world
 * hash after it. */
GOSR_API int gosr_session_append_tick(gosr_session *s, uint64_t tick,
                                      const gosr_event *events, size_t n,
                                      const gosr_hash *hash, gosr_error *err);
/* Flushes to disk (fdatasync). */
GOSR_API int gosr_session_sync(gosr_session *s);
GOSR_API void gosr_session_close(gosr_session *s);

/* Replay outcome. */
typedef struct gosr_replay_result {
    gosr_session_config config;    /* from the log header */
    uint64_t ticks_checked;        /* tick records replayed */
    uint64_t events;               /* input events fed */
    bool diverged;                 /* a hash differed */
    uint64_t first_divergent_tick; /* valid when diverged */
    gosr_hash expected;            /* logged hash at that tick (or last) */
    gosr_hash actual;              /* recomputed hash at that tick (or last) */
    bool truncated_tail;           /* the log ended in a partial record */
} gosr_replay_result;

/* Installs the systems of a system-set id into a tick loop (world is the
 * loop's). Known ids: "builtin.v1" (input handling: spawn/move/damage
 * events; movement by velocity). GOSR_EUNSUPPORTED otherwise. */
typedef int (*gosr_systems_install_fn)(gosr_tick *t, const char *systems_id,
                                       gosr_error *err);
GOSR_API int gosr_sim_install(gosr_tick *t, const char *systems_id,
                              gosr_error *err);
/* Spawns the scenario's initial entities (count from cfg->spawn,
 * positions and velocities from a PRNG seeded with cfg->seed) in one
 * batch that does not advance the tick. */
GOSR_API int gosr_sim_setup(gosr_world *w, const gosr_session_config *cfg,
                            gosr_error *err);

/* Re-runs a recorded session: builds the world from the header, installs
 * the systems through `install` (NULL = gosr_sim_install), feeds each tick's
 * logged inputs and compares the hash after every tick. Stops at the first
 * divergence. Returns GOSR_OK whether or not it diverged (see result);
 * errors are for unreadable or malformed logs. */
GOSR_API int gosr_replay_file(const char *path, gosr_systems_install_fn install,
                              gosr_replay_result *res, gosr_error *err);

/* Builtin payloads (docs/runtime.md, "Builtin events"), little endian. */
#define GOSR_SIM_EV_SPAWN "world:spawn:v1:requested"   /* 64-byte payload */
#define GOSR_SIM_EV_MOVE "world:move:v1:requested"     /* 32-byte payload */
#define GOSR_SIM_EV_DAMAGE "world:damage:v1:requested" /* 12-byte payload */
GOSR_API int gosr_sim_event_spawn(gosr_event *ev, gosr_vec3 pos, gosr_vec3 vel,
                                  uint64_t owner, int32_t health);
GOSR_API int gosr_sim_event_move(gosr_event *ev, gosr_entity e, gosr_vec3 vel);
GOSR_API int gosr_sim_event_damage(gosr_event *ev, gosr_entity e,
                                   int32_t amount);

/* ==== activation ledger =================================================== */

typedef struct gosr_ledger gosr_ledger;

/* One ledger row (docs/ledger.md). Strings owned by the row when read
 * back (free with gosr_ledger_row_clear); borrowed when appending. */
typedef struct gosr_ledger_row {
    int64_t seq;           /* 1, 2, 3 ... (assigned on append) */
    int64_t time_ns;       /* Unix ns (0 on append = now) */
    char *actor;           /* who: "operator:alice", "pipeline", ... */
    char *action;          /* "activate", "rollback", "retire", ... */
    char *subject;         /* module id */
    char *version;         /* module version */
    char *reason;          /* free text, may be empty */
    char *evidence;        /* JSON object text (stored canonical) */
    uint8_t prev_hash[32]; /* row_hash of seq-1 (zeros for seq 1) */
    uint8_t row_hash[32];  /* BLAKE3(prev_hash || canonical encoding) */
} gosr_ledger_row;

/* Opens (creating if needed) the ledger at path: WAL, synchronous=FULL,
 * append-only triggers; verifies the whole chain. A broken chain is not an
 * open failure: the ledger opens in safe mode. Caller closes. */
GOSR_API int gosr_ledger_open(const char *path, gosr_ledger **out,
                              gosr_error *err);
GOSR_API void gosr_ledger_close(gosr_ledger *l);
/* True when the chain failed verification at open (or since). */
GOSR_API bool gosr_ledger_safe_mode(const gosr_ledger *l);
/* Appends a row in one transaction and fills row->seq, prev_hash and
 * row_hash. action "activate" is refused in safe mode (GOSR_EDENIED,
 * reason "ledger_chain_broken"). actor/action/subject/version: 1..255
 * printable bytes; evidence: NULL ("{}") or a JSON object. */
GOSR_API int gosr_ledger_append(gosr_ledger *l, gosr_ledger_row *row,
                                gosr_error *err);
/* Verifies every row: seq continuity, prev_hash links and row_hash.
 * GOSR_OK with *first_bad = 0 when intact; GOSR_ECORRUPT with *first_bad =
 * the first broken seq otherwise. */
GOSR_API int gosr_ledger_verify(gosr_ledger *l, int64_t *first_bad,
                                gosr_error *err);
/* Number of rows and the head hash (zeros when empty). */
GOSR_API int gosr_ledger_head(gosr_ledger *l, int64_t *count, uint8_t head[32]);
/* Reads one row by seq (GOSR_ENOENT if absent). */
GOSR_API int gosr_ledger_get(gosr_ledger *l, int64_t seq, gosr_ledger_row *out,
                             gosr_error *err);
GOSR_API void gosr_ledger_row_clear(gosr_ledger_row *row);
/* The canonical encoding that row_hash covers (appended to out). */
GOSR_API int gosr_ledger_row_encode(const gosr_ledger_row *row, gosr_buf *out);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_RUNTIME_H */
