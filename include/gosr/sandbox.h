/*
 * gosr/sandbox.h — budgeted Lua 5.4 sandboxes for modules, mods and
 * AI-authored scripts: one lua_State per sandbox with a memory cap, an
 * instruction budget (deterministic fuel) or a watchdog deadline
 * (production), sticky kills, a whitelisted environment, a capability host
 * API, a deterministic RNG, copied host values, and a worker pool that runs
 * independent sandboxes in parallel and merges their effects in order.
 *
 * Design: docs/sandbox.md (whitelist, budgets and modes, fault record,
 * host API and capability groups, value format, threading rules).
 *
 * Threading: a sandbox is used by one thread at a time (any thread). Hosts
 * (gosr_sandbox_host) are immutable once sandboxes exist and may be shared
 * by sandboxes on any thread. The watchdog is one process-wide thread.
 */
#ifndef GOSR_SANDBOX_H
#define GOSR_SANDBOX_H

#include "gosr/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- values that cross the boundary (always copied) ---------------------- */

typedef enum gosr_sbv_type {
    GOSR_SBV_NIL = 0,  /* nil */
    GOSR_SBV_BOOL = 1, /* boolean */
    GOSR_SBV_INT = 2,  /* Lua integer (int64) */
    GOSR_SBV_NUM = 3,  /* Lua float (double) */
    GOSR_SBV_STR = 4,  /* byte string (may hold NULs) */
    GOSR_SBV_TABLE = 5 /* table: key/value pairs in canonical order */
} gosr_sbv_type;

typedef struct gosr_sbv_pair gosr_sbv_pair;

/* A host value. Owns everything it points to; release with
 * gosr_sbv_free. Zero-initialised = nil. */
typedef struct gosr_sbv {
    gosr_sbv_type type; /* which member of the union is valid */
    union {
        bool b;    /* GOSR_SBV_BOOL */
        int64_t i; /* GOSR_SBV_INT */
        double n;  /* GOSR_SBV_NUM */
        struct {
            char *p;    /* owned bytes, NUL-terminated past len */
            size_t len; /* length in bytes */
        } s;            /* GOSR_SBV_STR */
        struct {
            gosr_sbv_pair *items; /* owned array of pairs */
            size_t len;           /* number of pairs */
        } t;                      /* GOSR_SBV_TABLE */
    } u;                          /* payload */
} gosr_sbv;

/* One table entry. Keys are never nil, NaN or tables. */
struct gosr_sbv_pair {
    gosr_sbv key; /* bool, int, number or string */
    gosr_sbv val; /* any value */
};

/* Limits for copying values out of (and into) a sandbox. Zero = default. */
typedef struct gosr_sbv_limits {
    uint32_t max_depth; /* nesting of tables; default 32 */
    uint32_t max_nodes; /* total values; default 65536 */
    uint64_t max_bytes; /* total string bytes; default 16 MiB */
} gosr_sbv_limits;

/* Releases everything a value owns and resets it to nil. Accepts NULL. */
GOSR_API void gosr_sbv_free(gosr_sbv *v);
/* Deep copy; *dst (overwritten, not freed) is owned by the caller. */
GOSR_API int gosr_sbv_copy(gosr_sbv *dst, const gosr_sbv *src);
/* Constructors; string ones copy the bytes (caller frees with
 * gosr_sbv_free). */
GOSR_API gosr_sbv gosr_sbv_int(int64_t i);
GOSR_API gosr_sbv gosr_sbv_num(double n);
GOSR_API gosr_sbv gosr_sbv_bool(bool b);
GOSR_API int gosr_sbv_str(gosr_sbv *out, const char *p, size_t len);
/* Appends key=val to a table value (`t` becomes a table if nil). Takes
 * ownership of key and val (also on failure, when they are freed). */
GOSR_API int gosr_sbv_table_set(gosr_sbv *t, gosr_sbv key, gosr_sbv val);
/* Looks up a string key in a table value; borrowed pointer or NULL. */
GOSR_API const gosr_sbv *gosr_sbv_table_get(const gosr_sbv *t,
                                            const char *key);
/* Structural equality (tables compare pair by pair in canonical order). */
GOSR_API bool gosr_sbv_equal(const gosr_sbv *a, const gosr_sbv *b);
/* Renders a value as compact JSON-like text into `b` (for logs and the
 * CLI). */
GOSR_API int gosr_sbv_format(const gosr_sbv *v, gosr_buf *b);
/* Appends the binary encoding of `v` (docs/sandbox.md, "Value encoding")
 * to out. GOSR_EINVAL for a value no sandbox could hold (a nil, NaN or
 * table key); out is left as it was on failure. */
GOSR_API int gosr_sbv_encode(const gosr_sbv *v, gosr_buf *out);
/* Decodes exactly n bytes into *out (owned by the caller, gosr_sbv_free).
 * Strict and bounded by `lim` (NULL or zero fields = the defaults): depth,
 * value count and string bytes are checked before anything is allocated;
 * keys must be valid and in strictly increasing canonical order, table
 * values non-nil, no trailing bytes. GOSR_EFORMAT (sbv_truncated,
 * sbv_bad_tag, sbv_bad_key, sbv_key_order, sbv_nil_value,
 * sbv_trailing_bytes) or GOSR_ETOOBIG (value_too_deep, value_too_big). */
GOSR_API int gosr_sbv_decode(const uint8_t *p, size_t n,
                             const gosr_sbv_limits *lim, gosr_sbv *out,
                             gosr_error *err);

/* ---- host API: capability groups of host functions ---------------------- */

typedef struct gosr_sandbox gosr_sandbox;
typedef struct gosr_sandbox_host gosr_sandbox_host;
typedef struct gosr_sandbox_hcall gosr_sandbox_hcall;

/* A host function. Reads its arguments only through gosr_sandbox_arg_*
 * (type, range and size checked; never metamethods), pushes results with
 * gosr_sandbox_ret_*, and returns GOSR_OK or an error status (the script
 * then gets a Lua error naming the function). Must be bounded in time. */
typedef int (*gosr_sandbox_host_fn)(gosr_sandbox_hcall *call, void *ud);

/* Creates an empty host registry; caller destroys it with
 * gosr_sandbox_host_destroy after every sandbox using it is destroyed. */
GOSR_API int gosr_sandbox_host_create(gosr_sandbox_host **out);
GOSR_API void gosr_sandbox_host_destroy(gosr_sandbox_host *h);
/* Registers `fn` under capability group `group` (e.g. "world.read") as
 * the Lua name `name` ("world.get" or "log"; at most one dot). Strings are
 * copied. `ud` is borrowed for the host's lifetime. */
GOSR_API int gosr_sandbox_host_add(gosr_sandbox_host *h, const char *group,
                                   const char *name, gosr_sandbox_host_fn fn,
                                   void *ud);

/* Argument accessors (1-based index). Each returns GOSR_OK or GOSR_EINVAL
 * and records a "bad argument" message that the script sees. */
GOSR_API int gosr_sandbox_nargs(const gosr_sandbox_hcall *c);
GOSR_API int gosr_sandbox_arg_type(const gosr_sandbox_hcall *c, int i);
GOSR_API int gosr_sandbox_arg_int(gosr_sandbox_hcall *c, int i, int64_t min,
                                  int64_t max, int64_t *out);
GOSR_API int gosr_sandbox_arg_num(gosr_sandbox_hcall *c, int i, double min,
                                  double max, double *out);
GOSR_API int gosr_sandbox_arg_bool(gosr_sandbox_hcall *c, int i, bool *out);
/* The string is borrowed until the host function returns. */
GOSR_API int gosr_sandbox_arg_str(gosr_sandbox_hcall *c, int i, size_t maxlen,
                                  const char **p, size_t *len);
/* Copies any argument (tables raw, no metamethods) within the sandbox's
 * value limits; *out is owned by the caller (gosr_sbv_free). */
GOSR_API int gosr_sandbox_arg_value(gosr_sandbox_hcall *c, int i,
                                    gosr_sbv *out);
/* Results (at most 8 per call). Strings and values are copied. */
GOSR_API int gosr_sandbox_ret_int(gosr_sandbox_hcall *c, int64_t v);
GOSR_API int gosr_sandbox_ret_num(gosr_sandbox_hcall *c, double v);
GOSR_API int gosr_sandbox_ret_bool(gosr_sandbox_hcall *c, bool v);
GOSR_API int gosr_sandbox_ret_str(gosr_sandbox_hcall *c, const char *p,
                                  size_t len);
GOSR_API int gosr_sandbox_ret_value(gosr_sandbox_hcall *c, const gosr_sbv *v);
/* Queues an effect (copied) on the calling sandbox; the pool merges
 * effects in job order. */
GOSR_API int gosr_sandbox_emit(gosr_sandbox_hcall *c, const gosr_sbv *v);
/* The sandbox making the call (borrowed) and its deterministic RNG. */
GOSR_API gosr_sandbox *gosr_sandbox_hcall_owner(gosr_sandbox_hcall *c);

/* ---- sandboxes ---------------------------------------------------------- */

typedef enum gosr_sandbox_mode {
    GOSR_SANDBOX_DETERMINISTIC = 0, /* fuel = counted VM instructions */
    GOSR_SANDBOX_PRODUCTION = 1     /* no hook; watchdog deadline only */
} gosr_sandbox_mode;

/* Configuration; zero means default for every field. */
typedef struct gosr_sandbox_config {
    gosr_sandbox_mode mode;  /* budget mode; default deterministic */
    uint64_t mem_limit;      /* bytes of Lua heap; default 64 MiB */
    uint64_t fuel;           /* fuel per call (deterministic); default 1e8 */
    uint64_t tick_fuel;      /* fuel per tick; default unlimited */
    uint64_t deadline_ns;    /* wall time per call; default 1 s */
    uint64_t tick_time_ns;   /* wall time per tick; default unlimited */
    uint32_t host_calls_per_tick; /* host-call quota; default unlimited */
    uint32_t fuel_period;    /* instructions per hook; default 1000 */
    uint64_t seed;           /* RNG seed (with name and tick) */
    const char *name;        /* module or mod name (copied); "sandbox" */
    const gosr_sandbox_host *host;  /* host functions (borrowed) or NULL */
    const char *declared_caps; /* manifest groups, comma-separated */
    const char *granted_caps;  /* operator grants; effective = both */
    gosr_sbv_limits limits;    /* value copy limits */
    size_t max_chunk;          /* max Lua source size; default 1 MiB */
    size_t max_log;            /* bytes kept from print(); default 64 KiB */
} gosr_sandbox_config;

typedef enum gosr_sandbox_reason {
    GOSR_SB_OK = 0,        /* no fault */
    GOSR_SB_FUEL = 1,      /* fuel (per call or per tick) exhausted */
    GOSR_SB_MEMORY = 2,    /* memory cap reached */
    GOSR_SB_DEADLINE = 3,  /* wall-clock deadline passed (watchdog) */
    GOSR_SB_ERROR = 4,     /* uncaught Lua error (sandbox stays usable) */
    GOSR_SB_FORBIDDEN = 5, /* use of a removed facility (bytecode ...) */
    GOSR_SB_QUOTA = 6      /* host-call quota exhausted */
} gosr_sandbox_reason;

/* The structured record every termination leaves. */
typedef struct gosr_sandbox_fault {
    gosr_sandbox_reason reason; /* why it ended */
    char where[128];            /* "chunk:line" of the fault, or "" */
    char message[256];          /* error text (never via __tostring) */
    uint64_t fuel_used;         /* fuel charged in the call */
    uint64_t mem_used;          /* heap bytes in use at the fault */
    uint64_t elapsed_ns;        /* wall time of the call */
    uint32_t host_calls;        /* host calls made in the call */
} gosr_sandbox_fault;

/* Stable lower-case reason name ("fuel", "memory", ...). */
GOSR_API const char *gosr_sandbox_reason_name(gosr_sandbox_reason r);

/* Creates a sandbox; *out is owned by the caller (gosr_sandbox_destroy).
 * `cfg` may be NULL (all defaults); strings in it are copied; the host is
 * borrowed and must outlive the sandbox. */
GOSR_API int gosr_sandbox_create(const gosr_sandbox_config *cfg,
                                 gosr_sandbox **out, gosr_error *err);
/* Closes the Lua state and frees everything. Accepts NULL. */
GOSR_API void gosr_sandbox_destroy(gosr_sandbox *sb);

/* Loads a Lua *source* chunk (text only; bytecode is refused) and runs it
 * under the budgets. On a fault returns GOSR_EFAULT (error), GOSR_EBUDGET
 * (fuel, memory, deadline, quota) or GOSR_EDENIED (forbidden), with
 * err->reason = the reason name; the record is in gosr_sandbox_fault_get.
 * A chunk refused before running returns GOSR_EFORMAT (reason "syntax"),
 * GOSR_ETOOBIG (over max_chunk) or GOSR_EDENIED (binary); that leaves a
 * record too but is never a kill.
 * If `ret` is not NULL it receives the chunk's first result (owned by the
 * caller). */
GOSR_API int gosr_sandbox_load(gosr_sandbox *sb, const char *src, size_t len,
                               const char *chunkname, gosr_sbv *ret,
                               gosr_error *err);
/* Calls global function `fn` with copies of args; up to `nret` results are
 * copied into ret[] (owned by the caller; missing ones are nil). Statuses
 * as gosr_sandbox_load. */
GOSR_API int gosr_sandbox_call(gosr_sandbox *sb, const char *fn,
                               const gosr_sbv *args, size_t nargs,
                               gosr_sbv *ret, size_t nret, gosr_error *err);
/* Starts tick `tick`: resets per-tick fuel, time and host-call quotas and
 * reseeds the RNG from (seed, name, tick). */
GOSR_API void gosr_sandbox_tick_begin(gosr_sandbox *sb, uint64_t tick);
/* The last fault (reason GOSR_SB_OK when the last call succeeded). */
GOSR_API const gosr_sandbox_fault *gosr_sandbox_fault_get(
    const gosr_sandbox *sb);
/* True once a kill (anything but ERROR) happened: every later call fails
 * with the same record. Recreate the sandbox to continue. */
GOSR_API bool gosr_sandbox_is_dead(const gosr_sandbox *sb);
/* Copies global `name` out (ret owned by the caller) / sets it from a copy
 * of `v`. For state migration between module versions. */
GOSR_API int gosr_sandbox_get_global(gosr_sandbox *sb, const char *name,
                                     gosr_sbv *ret, gosr_error *err);
GOSR_API int gosr_sandbox_set_global(gosr_sandbox *sb, const char *name,
                                     const gosr_sbv *v, gosr_error *err);
/* Heap bytes in use, fuel used by the last call. */
GOSR_API uint64_t gosr_sandbox_mem_used(const gosr_sandbox *sb);
GOSR_API uint64_t gosr_sandbox_fuel_used(const gosr_sandbox *sb);
/* Text printed by the script (bounded); borrowed until the next call. */
GOSR_API const char *gosr_sandbox_log(const gosr_sandbox *sb, size_t *len);
/* Next value of the sandbox's deterministic RNG (also math.random). */
GOSR_API uint64_t gosr_sandbox_rng_next(gosr_sandbox *sb);
/* Effects queued by host functions since the last take; *out (array of
 * *n values) is owned by the caller: free each, then gosr_free(*out). */
GOSR_API int gosr_sandbox_effects_take(gosr_sandbox *sb, gosr_sbv **out,
                                       size_t *n);

/* ---- mod API: a module exports functions to mods ------------------------ */

/* Makes `provider`'s global function `fn` callable from `mod` as
 * `api.fn(...)` (`api` = table name in the mod's environment). Arguments and
 * results are copied; the mod sees nothing else of the provider. The
 * provider is borrowed and must outlive `mod`'s use of it. */
GOSR_API int gosr_sandbox_export(gosr_sandbox *mod, const char *api,
                                 gosr_sandbox *provider, const char *fn,
                                 gosr_error *err);

/* ---- worker pool (sandboxed thread-space) ------------------------------- */

/* One call to run on the pool. The pool fills status, fault, ret. */
typedef struct gosr_sandbox_job {
    gosr_sandbox *sb;        /* borrowed; each job a distinct sandbox */
    const char *fn;          /* global function to call */
    const gosr_sbv *args;    /* borrowed arguments */
    size_t nargs;            /* number of arguments */
    gosr_sbv ret;            /* first result (owned by the caller) */
    int status;              /* gosr status of the call */
    gosr_sandbox_fault fault;/* copy of the fault record */
} gosr_sandbox_job;

typedef struct gosr_sandbox_pool gosr_sandbox_pool;

/* Creates a pool of `threads` workers (0 = number of CPUs); caller
 * destroys it with gosr_sandbox_pool_destroy. */
GOSR_API int gosr_sandbox_pool_create(unsigned threads,
                                      gosr_sandbox_pool **out);
GOSR_API void gosr_sandbox_pool_destroy(gosr_sandbox_pool *p);
/* Runs all jobs in parallel and waits. Effects emitted by job i's host
 * calls are appended to *effects in job order (then emission order), so
 * the merge is deterministic. *effects is owned by the caller (free each
 * value, then gosr_free). */
GOSR_API int gosr_sandbox_pool_run(gosr_sandbox_pool *p,
                                   gosr_sandbox_job *jobs, size_t n,
                                   gosr_sbv **effects, size_t *neffects);

/* ---- test host (CLI, tests, fuzzing, benches) --------------------------- */

/* The capability groups the test host registers. */
#define GOSR_SANDBOX_TEST_CAPS "log,world.read,world.write,events.emit,rng,test"

/* A host with a 256x256 integer world and these functions:
 *   log.info(s)            [log]          s: string <= 1024 bytes
 *   world.get(x, y) -> v   [world.read]   x, y: 0..255
 *   world.size() -> 256    [world.read]
 *   world.set(x, y, v)     [world.write]  queues effect {op="set",x,y,v}
 *   events.emit(name, p)   [events.emit]  queues effect {event=name,payload=p}
 *   rng.int(lo, hi) -> n   [rng]          deterministic per sandbox/tick
 *   test.noop()            [test]         for round-trip timing
 *   test.add(a, b) -> a+b  [test]         integers, wrapping
 *   test.echo(v) -> v      [test]         copies a value there and back
 * Caller destroys it with gosr_sandbox_testhost_destroy after every
 * sandbox that uses it. */
typedef struct gosr_sandbox_testhost gosr_sandbox_testhost;
GOSR_API int gosr_sandbox_testhost_create(gosr_sandbox_testhost **out);
GOSR_API void gosr_sandbox_testhost_destroy(gosr_sandbox_testhost *t);
/* Borrowed registry for gosr_sandbox_config.host. */
GOSR_API const gosr_sandbox_host *gosr_sandbox_testhost_host(
    const gosr_sandbox_testhost *t);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_SANDBOX_H */
