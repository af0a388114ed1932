/*
 * sb_int.h — private cross-file declarations of the sandbox subsystem: the
 * sandbox struct, kill and fuel helpers, the watchdog, library builders.
 * Design: docs/sandbox.md.
 */
#ifndef GOSR_SB_INT_H
#define GOSR_SB_INT_H

#include "gosr/sandbox.h"

#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

/* Default budgets (docs/sandbox.md "Budgets"). */
#define SB_DEFAULT_MEM (64u << 20)
#define SB_DEFAULT_FUEL 100000000ull
#define SB_DEFAULT_DEADLINE_NS 1000000000ull
#define SB_DEFAULT_PERIOD 1000u
#define SB_DEFAULT_CHUNK (1u << 20)
#define SB_DEFAULT_LOG (64u << 10)
#define SB_UNPACK_MAX 8000       /* most values table.unpack may push */
#define SB_CHECK_STEPS 1024u     /* C-loop steps between budget checks */
#define SB_STACK_LIMIT (1u << 20) /* C stack the matcher may use per call */

typedef struct sb_host_entry sb_host_entry;

/* A watchdog registration: lives inside the sandbox, linked while a call
 * runs. All fields owned by the watchdog lock except where noted. */
typedef struct sb_arm {
    struct sb_arm *prev, *next; /* watchdog list links */
    uint64_t deadline;          /* monotonic ns */
    uint64_t last_signal;       /* when the runner was last signalled */
    pthread_t runner;           /* thread running the call */
    bool linked;                /* in the list */
} sb_arm;

struct gosr_sandbox {
    lua_State *L;            /* main thread; owned */
    lua_State *volatile cur; /* thread now running (main or coroutine);
                                written by the runner, read by its signal
                                handler */
    gosr_sandbox *outer;     /* sandbox active below this one on the thread
                                (mod API nesting); runner only */
    _Atomic int killed;      /* gosr_sandbox_reason of a kill, 0 = alive */
    gosr_sandbox_config cfg; /* budgets with defaults applied */
    char *name;              /* owned copy of cfg.name */
    uint64_t mem_used;       /* Lua heap bytes; runner only */
    uint64_t mem_limit;      /* cap (grows by a small slack after a kill) */
    uint64_t fuel_used;      /* fuel of the running/last call */
    uint64_t fuel_limit;     /* min(call fuel, remaining tick fuel) */
    uint64_t tick_fuel_used; /* fuel used in this tick */
    uint64_t tick_time_used; /* ns used in this tick */
    uint32_t host_calls;     /* host calls in this call */
    uint32_t tick_host_calls;/* host calls in this tick */
    uint64_t tick;           /* current tick number */
    uint64_t call_start;     /* monotonic ns at call start */
    char *stack_base;        /* C stack address at call start (matcher
                                stack guard); runner only */
    uint64_t rng[4];         /* xoshiro256** state */
    bool in_call;            /* a call is running; runner only */
    atomic_bool busy;        /* an API operation holds the sandbox: makes
                                re-entry and concurrent use fail with
                                GOSR_EBUSY instead of racing */
    bool dead;               /* a kill happened; calls refused */
    gosr_sandbox_fault fault;/* last fault record */
    sb_arm arm;              /* watchdog registration */
    gosr_buf log;            /* print() output, bounded by cfg.max_log */
    gosr_sbv *effects;       /* queued effects (owned array) */
    size_t neffects, capeffects; /* count and capacity of effects */
    const gosr_sandbox_host *host; /* borrowed host registry */
};

/* The sandbox owning a Lua thread (stored in the extra space). */
static inline gosr_sandbox *sb_of(lua_State *L)
{
    return *(gosr_sandbox **)lua_getextraspace(L);
}

/* ---- sandbox.c ---- */
/* Marks the sandbox killed with `reason` (first reason wins), records
 * where, installs the every-instruction kill hook on the running thread
 * and raises the uncatchable kill error. Never returns. */
_Noreturn void sb__kill(lua_State *L, gosr_sandbox_reason reason,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Raises the kill error again if the sandbox is killed. */
void sb__check_killed(lua_State *L);
/* Charges `units` of fuel (deterministic mode) and checks the kill flag. */
void sb__charge(lua_State *L, uint64_t units);
/* Inspects a protected-call status: a memory error becomes a sticky kill;
 * a killed sandbox re-raises. */
void sb__after_pcall(lua_State *L, int status);
/* The kill/fuel hook. */
void sb__hook(lua_State *L, lua_Debug *ar);
/* Installs the kill hook on thread `T` (count 1 + call/return). */
void sb__hook_kill(lua_State *T);

/* ---- env.c ---- */
/* Builds the whitelisted environment as the globals of sb->L. */
int sb__env_build(gosr_sandbox *sb, gosr_error *err);

/* Gives the table on top a protected metatable whose __index kills the
 * sandbox (reason forbidden) on the listed names. */
void sb__set_trap(lua_State *L, const char *const *names);

/* ---- strlib.c ---- */
/* Pushes the safe string table (with wrapped find/match/gmatch/gsub/rep/
 * format) and installs it as the string metatable's __index. */
void sb__open_string(lua_State *L);
/* Replaces each named function of the table on top by a wrapper that
 * charges fuel by the length of its first (string) argument. */
void sb__wrap_charged(lua_State *L, const char *const *names);
/* Replaces concat, unpack, sort, move in the table library on the stack
 * top. */
void sb__patch_table(lua_State *L);

/* ---- watchdog.c ---- */
/* Starts the watchdog thread and signal handler once per process (every
 * sandbox creation checks, so arming never has to fail later). */
int sb__watch_start(void);
/* Arms the watchdog for the current call (deadline in monotonic ns). */
int sb__watch_arm(gosr_sandbox *sb, uint64_t deadline);
/* Disarms (call ended). */
void sb__watch_disarm(gosr_sandbox *sb);
/* Sets the calling thread's active sandbox (for the signal handler);
 * returns the previous one. */
gosr_sandbox *sb__watch_enter(gosr_sandbox *sb);
void sb__watch_leave(gosr_sandbox *prev);

/* ---- value.c ---- */
/* Pushes a copy of v; GOSR_ENOMEM/ETOOBIG on failure (stack unchanged). */
int sb__push_value(lua_State *L, const gosr_sbv *v,
                   const gosr_sbv_limits *lim);
/* Copies the value at idx (raw, no metamethods) into *out. */
int sb__to_value(lua_State *L, int idx, const gosr_sbv_limits *lim,
                 gosr_sbv *out, gosr_error *err);

/* ---- host.c ---- */
/* Installs the host functions of the effective groups into env (top). */
int sb__host_install(gosr_sandbox *sb, gosr_error *err);

/* ---- rng ---- */
uint64_t sb__rng_next(gosr_sandbox *sb);
void sb__rng_seed(gosr_sandbox *sb, uint64_t tick);

#endif /* GOSR_SB_INT_H */
