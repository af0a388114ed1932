/*
 * sandbox.c — sandbox lifecycle and budgets: the capped allocator, the
 * fuel/kill hook, sticky kills, protected calls into Lua with fault
 * records, per-tick quotas and the deterministic RNG.
 * Design: docs/sandbox.md ("Budgets and modes", "Fault record").
 *
 * Sections: allocator, kills and the hook, lifecycle, running calls,
 * accessors, RNG.
 */
#include "sandbox/sb_int.h"

#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kill error object: a light userdata no script can forge. */
static const char g_kill_token = 'k';
/* Extra heap granted after a kill so error unwinding never starves. */
#define SB_KILL_SLACK (256u << 10)

const char *gosr_sandbox_reason_name(gosr_sandbox_reason r)
{
    static const char *const names[] = {"ok",    "fuel",      "memory",
                                        "deadline", "error", "forbidden",
                                        "quota"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}

/* ---- allocator ---------------------------------------------------------- */

static void note_where(gosr_sandbox *sb, lua_State *L);

/* Lua allocator with a hard cap: refuses growth past mem_limit, which Lua
 * turns into a memory error (a sticky kill, see sb__after_pcall). This is
 * the sandbox heap's own replaceable allocator: it calls the C library
 * directly (the hot path of allocation-heavy scripts; going through
 * gosr_realloc's indirection and fault countdown cost ~5%), and tests
 * inject heap exhaustion through mem_limit instead. */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    gosr_sandbox *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->mem_used -= old;
        return NULL;
    }
    if (nsize > old && sb->mem_used + (nsize - old) > sb->mem_limit) {
        if (sb->in_call && sb->cur && !sb->fault.where[0])
            note_where(sb, sb->cur);
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        sb->mem_used = sb->mem_used - old + nsize;
    return p;
}

/* ---- kills and the hook ------------------------------------------------- */

/* Records "chunk:line" of the innermost Lua function of thread L. */
static void note_where(gosr_sandbox *sb, lua_State *L)
{
    lua_Debug ar;
    for (int level = 0; level < 4 && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0)
            continue;
        snprintf(sb->fault.where, sizeof sb->fault.where, "%s:%d",
                 ar.short_src, ar.currentline);
        return;
    }
}

static _Noreturn void raise_kill(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&g_kill_token);
    lua_error(L);
    __builtin_unreachable();
}

void sb__hook_kill(lua_State *T)
{
    lua_sethook(T, sb__hook, LUA_MASKCOUNT | LUA_MASKCALL | LUA_MASKRET, 1);
}

/* Notes the kill (first time only) from the runner's own context. */
static void kill_note(gosr_sandbox *sb, lua_State *L)
{
    if (sb->fault.message[0])
        return;
    if (!sb->fault.where[0])
        note_where(sb, L);
    int r = atomic_load(&sb->killed);
    if (r == GOSR_SB_DEADLINE)
        snprintf(sb->fault.message, sizeof sb->fault.message,
                 "wall-clock deadline of %llu ms exceeded",
                 (unsigned long long)(sb->cfg.deadline_ns / 1000000));
    else
        snprintf(sb->fault.message, sizeof sb->fault.message, "killed: %s",
                 gosr_sandbox_reason_name((gosr_sandbox_reason)r));
    sb->mem_limit = sb->cfg.mem_limit + SB_KILL_SLACK;
}

void sb__kill(lua_State *L, gosr_sandbox_reason reason, const char *fmt, ...)
{
    gosr_sandbox *sb = sb_of(L);
    int expected = 0;
    if (atomic_compare_exchange_strong(&sb->killed, &expected, (int)reason)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sb->fault.message, sizeof sb->fault.message, fmt, ap);
        va_end(ap);
        if (!sb->fault.where[0])
            note_where(sb, L);
        sb->mem_limit = sb->cfg.mem_limit + SB_KILL_SLACK;
    }
    kill_note(sb, L);
    sb__hook_kill(L);
    if (sb->cur && sb->cur != L)
        sb__hook_kill(sb->cur);
    if (sb->L != L)
        sb__hook_kill(sb->L);
    raise_kill(L);
}

void sb__check_killed(lua_State *L)
{
    gosr_sandbox *sb = sb_of(L);
    if (atomic_load_explicit(&sb->killed, memory_order_relaxed)) {
        kill_note(sb, L);
        sb__hook_kill(L);
        raise_kill(L);
    }
}

void sb__charge(lua_State *L, uint64_t units)
{
    gosr_sandbox *sb = sb_of(L);
    sb__check_killed(L);
    if (sb->cfg.mode != GOSR_SANDBOX_DETERMINISTIC)
        return;
    sb->fuel_used += units;
    if (sb->fuel_used > sb->fuel_limit)
        sb__kill(L, GOSR_SB_FUEL, "fuel budget of %llu exhausted",
                 (unsigned long long)sb->fuel_limit);
}

void sb__after_pcall(lua_State *L, int status)
{
    gosr_sandbox *sb = sb_of(L);
    if (status == LUA_ERRMEM)
        sb__kill(L, GOSR_SB_MEMORY, "memory cap of %llu bytes reached",
                 (unsigned long long)sb->cfg.mem_limit);
    sb__check_killed(L);
}

void sb__hook(lua_State *L, lua_Debug *ar)
{
    gosr_sandbox *sb = sb_of(L);
    if (atomic_load_explicit(&sb->killed, memory_order_relaxed)) {
        kill_note(sb, L);
        raise_kill(L);
    }
    if (ar->event != LUA_HOOKCOUNT ||
        sb->cfg.mode != GOSR_SANDBOX_DETERMINISTIC)
        return;
    sb->fuel_used += sb->cfg.fuel_period;
    if (sb->fuel_used > sb->fuel_limit)
        sb__kill(L, GOSR_SB_FUEL, "fuel budget of %llu exhausted",
                 (unsigned long long)sb->fuel_limit);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void apply_defaults(gosr_sandbox_config *c)
{
    if (!c->mem_limit)
        c->mem_limit = SB_DEFAULT_MEM;
    if (!c->fuel)
        c->fuel = SB_DEFAULT_FUEL;
    if (!c->tick_fuel)
        c->tick_fuel = UINT64_MAX;
    if (!c->deadline_ns)
        c->deadline_ns = SB_DEFAULT_DEADLINE_NS;
    if (!c->tick_time_ns)
        c->tick_time_ns = UINT64_MAX;
    if (!c->host_calls_per_tick)
        c->host_calls_per_tick = UINT32_MAX;
    if (!c->fuel_period)
        c->fuel_period = SB_DEFAULT_PERIOD;
    if (!c->max_chunk)
        c->max_chunk = SB_DEFAULT_CHUNK;
    if (!c->max_log)
        c->max_log = SB_DEFAULT_LOG;
    if (!c->limits.max_depth)
        c->limits.max_depth = 32;
    if (!c->limits.max_nodes)
        c->limits.max_nodes = 65536;
    if (!c->limits.max_bytes)
        c->limits.max_bytes = 16u << 20;
}

int gosr_sandbox_create(const gosr_sandbox_config *cfg, gosr_sandbox **out,
                        gosr_error *err)
{
    *out = NULL;
    if (sb__watch_start() != GOSR_OK)
        return gosr_error_set(err, GOSR_EINTERNAL, "watchdog_failed",
                              "cannot start the sandbox watchdog thread");
    gosr_sandbox *sb = gosr_calloc(1, sizeof *sb);
    if (!sb)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory",
                              "cannot allocate sandbox");
    if (cfg)
        sb->cfg = *cfg;
    apply_defaults(&sb->cfg);
    if (sb->cfg.mode != GOSR_SANDBOX_DETERMINISTIC &&
        sb->cfg.mode != GOSR_SANDBOX_PRODUCTION) {
        gosr_free(sb);
        return gosr_error_set(err, GOSR_EINVAL, "bad_mode", "unknown mode %d",
                              (int)sb->cfg.mode);
    }
    sb->name = gosr_strdup(sb->cfg.name ? sb->cfg.name : "sandbox");
    sb->cfg.name = sb->name;
    sb->host = cfg ? cfg->host : NULL;
    sb->mem_limit = sb->cfg.mem_limit;
    sb->tick_fuel_used = sb->tick_time_used = 0;
    if (!sb->name)
        goto out_free_sb;
    sb->L = lua_newstate(sb_alloc, sb);
    if (!sb->L)
        goto out_free_sb;
    *(gosr_sandbox **)lua_getextraspace(sb->L) = sb;
    lua_gc(sb->L, LUA_GCGEN, 0, 0); /* as lua.c does */
    sb->cur = sb->L;
    sb__rng_seed(sb, 0);
    /* The capability lists are borrowed for the environment build only. */
    int rc = sb__env_build(sb, err);
    sb->cfg.declared_caps = sb->cfg.granted_caps = NULL;
    if (rc != GOSR_OK) {
        gosr_sandbox_destroy(sb);
        return rc;
    }
    *out = sb;
    return GOSR_OK;
out_free_sb:
    gosr_free(sb->name);
    gosr_free(sb);
    return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory",
                          "cannot create Lua state");
}

void gosr_sandbox_destroy(gosr_sandbox *sb)
{
    if (!sb)
        return;
    if (sb->L) {
        sb->mem_limit = UINT64_MAX; /* closing must never fail */
        lua_close(sb->L);
    }
    for (size_t i = 0; i < sb->neffects; i++)
        gosr_sbv_free(&sb->effects[i]);
    gosr_free(sb->effects);
    gosr_buf_free(&sb->log);
    gosr_free(sb->name);
    gosr_free(sb);
}

/* ---- running calls ------------------------------------------------------ */

static int status_for(gosr_sandbox_reason r)
{
    switch (r) {
    case GOSR_SB_OK: return GOSR_OK;
    case GOSR_SB_ERROR: return GOSR_EFAULT;
    case GOSR_SB_FORBIDDEN: return GOSR_EDENIED;
    default: return GOSR_EBUDGET;
    }
}

static int fault_error(gosr_sandbox *sb, gosr_error *err)
{
    const gosr_sandbox_fault *f = &sb->fault;
    size_t wl = strlen(f->where);
    bool prefix = wl && strncmp(f->message, f->where, wl) != 0;
    return gosr_error_set(err, status_for(f->reason),
                          gosr_sandbox_reason_name(f->reason), "%s%s%s",
                          prefix ? f->where : "", prefix ? ": " : "",
                          f->message);
}

/* Message handler of the outermost protected call: notes where an
 * uncaught error was raised. Never calls metamethods. */
static int top_msgh(lua_State *L)
{
    gosr_sandbox *sb = sb_of(L);
    if (!atomic_load(&sb->killed) && !sb->fault.where[0])
        note_where(sb, L);
    return 1;
}

/* Copies an error object's text without __tostring or __name. */
static void error_text(lua_State *L, int idx, char *out, size_t cap)
{
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), s);
    } else if (t == LUA_TNUMBER) {
        if (lua_isinteger(L, idx))
            snprintf(out, cap, "%lld", (long long)lua_tointeger(L, idx));
        else
            snprintf(out, cap, "%.14g", lua_tonumber(L, idx));
    } else {
        snprintf(out, cap, "(error object is a %s value)", lua_typename(L, t));
    }
}

/* Checks the call may start; fills the fault when it may not. */
static int call_precheck(gosr_sandbox *sb, gosr_error *err)
{
    if (sb->dead)
        return fault_error(sb, err);
    memset(&sb->fault, 0, sizeof sb->fault);
    if (sb->tick_fuel_used >= sb->cfg.tick_fuel) {
        sb->fault.reason = GOSR_SB_FUEL;
        snprintf(sb->fault.message, sizeof sb->fault.message,
                 "tick fuel quota exhausted");
        return fault_error(sb, err);
    }
    if (sb->tick_time_used >= sb->cfg.tick_time_ns) {
        sb->fault.reason = GOSR_SB_DEADLINE;
        snprintf(sb->fault.message, sizeof sb->fault.message,
                 "tick time quota exhausted");
        return fault_error(sb, err);
    }
    return GOSR_OK;
}

static void call_begin(gosr_sandbox *sb)
{
    uint64_t fuel = sb->cfg.tick_fuel - sb->tick_fuel_used;
    sb->fuel_limit = fuel < sb->cfg.fuel ? fuel : sb->cfg.fuel;
    uint64_t time = sb->cfg.tick_time_ns - sb->tick_time_used;
    uint64_t span = time < sb->cfg.deadline_ns ? time : sb->cfg.deadline_ns;
    sb->fuel_used = 0;
    sb->host_calls = 0;
    sb->log.len = 0;
    if (sb->cfg.mode == GOSR_SANDBOX_DETERMINISTIC)
        lua_sethook(sb->L, sb__hook, LUA_MASKCOUNT, (int)sb->cfg.fuel_period);
    else
        lua_sethook(sb->L, NULL, 0, 0);
    sb->cur = sb->L;
    sb->in_call = true;
    sb->call_start = gosr_time_mono_ns();
    uint64_t deadline = sb->call_start + span;
    if (deadline < sb->call_start)
        deadline = UINT64_MAX;
    sb__watch_arm(sb, deadline);
}

/* Runs the function below `nargs` arguments on the stack, leaving `nret`
 * results (on success) or nothing. Returns a gosr status; fills the
 * fault record. */
static int run_protected(gosr_sandbox *sb, int nargs, int nret,
                         gosr_error *err)
{
    lua_State *L = sb->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, top_msgh);
    lua_insert(L, base);
    gosr_sandbox *prev = sb__watch_enter(sb);
    char *saved_base = sb->stack_base;
    char here;
    sb->stack_base = &here;
    call_begin(sb);
    int status = lua_pcall(L, nargs, nret, base);
    sb__watch_disarm(sb);
    sb__watch_leave(prev);
    sb->stack_base = saved_base;
    sb->in_call = false;
    sb->cur = sb->L;
    uint64_t elapsed = gosr_time_mono_ns() - sb->call_start;
    sb->tick_time_used += elapsed;
    sb->tick_fuel_used += sb->fuel_used;
    if (status == LUA_ERRMEM && !atomic_load(&sb->killed)) {
        int expected = 0;
        atomic_compare_exchange_strong(&sb->killed, &expected,
                                       GOSR_SB_MEMORY);
        snprintf(sb->fault.message, sizeof sb->fault.message,
                 "memory cap of %llu bytes reached",
                 (unsigned long long)sb->cfg.mem_limit);
    }
    int killed = atomic_load(&sb->killed);
    if (killed) {
        sb->dead = true;
        sb->fault.reason = (gosr_sandbox_reason)killed;
        if (!sb->fault.message[0])
            kill_note(sb, L);
    } else if (status != LUA_OK) {
        sb->fault.reason = GOSR_SB_ERROR;
        error_text(L, -1, sb->fault.message, sizeof sb->fault.message);
    }
    sb->fault.fuel_used = sb->fuel_used;
    sb->fault.mem_used = sb->mem_used;
    sb->fault.elapsed_ns = elapsed;
    sb->fault.host_calls = sb->host_calls;
    if (status != LUA_OK || killed) {
        lua_settop(L, base - 1);
        return fault_error(sb, err);
    }
    lua_remove(L, base);
    return GOSR_OK;
}

/* Reader state for lua_load over one text buffer. */
typedef struct chunk_reader {
    const char *p; /* bytes */
    size_t len;    /* remaining */
} chunk_reader;

static const char *read_chunk(lua_State *L, void *ud, size_t *size)
{
    chunk_reader *r = ud;
    *size = r->len;
    r->len = 0;
    return *size ? r->p : NULL;
}

/* Compiles text-only source; pushes the function or fills err. */
static int compile(gosr_sandbox *sb, const char *src, size_t len,
                   const char *chunkname, gosr_error *err)
{
    if (len > sb->cfg.max_chunk)
        return gosr_error_set(err, GOSR_ETOOBIG, "chunk_too_big",
                              "chunk of %zu bytes exceeds %zu", len,
                              sb->cfg.max_chunk);
    if (len > 0 && src[0] == LUA_SIGNATURE[0])
        return gosr_error_set(err, GOSR_EDENIED, "forbidden",
                              "binary chunks are refused");
    chunk_reader r = {src, len};
    int st = lua_load(sb->L, read_chunk, &r, chunkname ? chunkname : "=chunk",
                      "t");
    if (st == LUA_OK)
        return GOSR_OK;
    char msg[200];
    error_text(sb->L, -1, msg, sizeof msg);
    lua_pop(sb->L, 1);
    if (st == LUA_ERRMEM)
        return gosr_error_set(err, GOSR_EBUDGET, "memory",
                              "memory cap reached while compiling");
    return gosr_error_set(err, GOSR_EFORMAT, "syntax", "%s", msg);
}

static int load_held(gosr_sandbox *sb, const char *src, size_t len,
                     const char *chunkname, gosr_sbv *ret, gosr_error *err)
{
    int rc = call_precheck(sb, err);
    if (rc != GOSR_OK)
        return rc;
    sb->in_call = true; /* compile runs no script code but allocates */
    gosr_error local;
    if (!err)
        err = &local;
    rc = compile(sb, src, len, chunkname, err);
    sb->in_call = false;
    if (rc != GOSR_OK) {
        /* Refused before running: a record, but never a kill. */
        sb->fault.reason = rc == GOSR_EDENIED   ? GOSR_SB_FORBIDDEN
                           : rc == GOSR_EBUDGET ? GOSR_SB_MEMORY
                                                : GOSR_SB_ERROR;
        snprintf(sb->fault.message, sizeof sb->fault.message, "%.255s",
                 err->detail);
        sb->fault.mem_used = sb->mem_used;
        return rc;
    }
    rc = run_protected(sb, 0, 1, err);
    if (rc != GOSR_OK)
        return rc;
    if (ret)
        rc = sb__to_value(sb->L, -1, &sb->cfg.limits, ret, err);
    lua_pop(sb->L, 1);
    return rc;
}

/* Pushes copies of args; on failure leaves the stack as it was. */
static int push_args(gosr_sandbox *sb, const gosr_sbv *args, size_t nargs,
                     gosr_error *err)
{
    int top = lua_gettop(sb->L);
    if (nargs > 64 || !lua_checkstack(sb->L, (int)nargs + 4))
        return gosr_error_set(err, GOSR_ETOOBIG, "too_many_args",
                              "%zu arguments", nargs);
    for (size_t i = 0; i < nargs; i++) {
        int rc = sb__push_value(sb->L, &args[i], &sb->cfg.limits);
        if (rc != GOSR_OK) {
            lua_settop(sb->L, top);
            return gosr_error_set(err, rc, "bad_value",
                                  "argument %zu cannot be copied in", i + 1);
        }
    }
    return GOSR_OK;
}

/* Global access under a protected call: interning the name or growing
 * the globals table may hit the memory cap, which must not panic. Stack
 * in: name (light userdata), value or nothing; out: the value for gets. */
static int global_get_protected(lua_State *L)
{
    const char *name = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    return 1;
}

static int global_set_protected(lua_State *L)
{
    const char *name = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushstring(L, name);
    lua_pushvalue(L, 2);
    lua_rawset(L, -3);
    return 0;
}

/* Pushes global `name` (raw); GOSR_ENOMEM when the heap is full. */
static int push_global(gosr_sandbox *sb, const char *name)
{
    lua_State *L = sb->L;
    lua_pushcfunction(L, global_get_protected);
    lua_pushlightuserdata(L, (void *)name);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        return GOSR_ENOMEM;
    }
    return GOSR_OK;
}

static int call_held(gosr_sandbox *sb, const char *fn, const gosr_sbv *args,
                     size_t nargs, gosr_sbv *ret, size_t nret,
                     gosr_error *err)
{
    for (size_t i = 0; i < nret; i++)
        ret[i] = (gosr_sbv){0};
    int rc = call_precheck(sb, err);
    if (rc != GOSR_OK)
        return rc;
    lua_State *L = sb->L;
    if (nret > 16 || !lua_checkstack(L, (int)nret + 8))
        return gosr_error_set(err, GOSR_EINVAL, "too_many_results",
                              "%zu results", nret);
    if (push_global(sb, fn) != GOSR_OK)
        return gosr_error_set(err, GOSR_EBUDGET, "memory",
                              "heap full while looking up '%s'", fn);
    if (lua_type(L, -1) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        return gosr_error_set(err, GOSR_ENOENT, "no_such_function",
                              "global '%s' is not a function", fn);
    }
    rc = push_args(sb, args, nargs, err);
    if (rc != GOSR_OK) {
        lua_pop(L, 1);
        return rc;
    }
    rc = run_protected(sb, (int)nargs, (int)nret, err);
    if (rc != GOSR_OK)
        return rc;
    for (size_t i = 0; i < nret && rc == GOSR_OK; i++)
        rc = sb__to_value(L, -(int)nret + (int)i, &sb->cfg.limits, &ret[i],
                          err);
    lua_pop(L, (int)nret);
    if (rc != GOSR_OK)
        for (size_t i = 0; i < nret; i++)
            gosr_sbv_free(&ret[i]);
    return rc;
}

/* ---- the public entry points: one API operation at a time --------------- */

static int get_global_held(gosr_sandbox *sb, const char *name, gosr_sbv *ret,
                           gosr_error *err);
static int set_global_held(gosr_sandbox *sb, const char *name,
                           const gosr_sbv *v, gosr_error *err);

static bool acquire(gosr_sandbox *sb, gosr_error *err)
{
    bool expected = false;
    if (atomic_compare_exchange_strong(&sb->busy, &expected, true))
        return true;
    gosr_error_set(err, GOSR_EBUSY, "sandbox_busy",
                   "sandbox '%s' is in use (re-entry or another thread)",
                   sb->name);
    return false;
}

static void release(gosr_sandbox *sb) { atomic_store(&sb->busy, false); }

int gosr_sandbox_load(gosr_sandbox *sb, const char *src, size_t len,
                      const char *chunkname, gosr_sbv *ret, gosr_error *err)
{
    if (ret)
        *ret = (gosr_sbv){0};
    if (!acquire(sb, err))
        return GOSR_EBUSY;
    int rc = load_held(sb, src, len, chunkname, ret, err);
    release(sb);
    return rc;
}

int gosr_sandbox_call(gosr_sandbox *sb, const char *fn, const gosr_sbv *args,
                      size_t nargs, gosr_sbv *ret, size_t nret,
                      gosr_error *err)
{
    for (size_t i = 0; i < nret; i++)
        ret[i] = (gosr_sbv){0};
    if (!acquire(sb, err))
        return GOSR_EBUSY;
    int rc = call_held(sb, fn, args, nargs, ret, nret, err);
    release(sb);
    return rc;
}

int gosr_sandbox_get_global(gosr_sandbox *sb, const char *name, gosr_sbv *ret,
                            gosr_error *err)
{
    *ret = (gosr_sbv){0};
    if (!acquire(sb, err))
        return GOSR_EBUSY;
    int rc = get_global_held(sb, name, ret, err);
    release(sb);
    return rc;
}

int gosr_sandbox_set_global(gosr_sandbox *sb, const char *name,
                            const gosr_sbv *v, gosr_error *err)
{
    if (!acquire(sb, err))
        return GOSR_EBUSY;
    int rc = set_global_held(sb, name, v, err);
    release(sb);
    return rc;
}

void gosr_sandbox_tick_begin(gosr_sandbox *sb, uint64_t tick)
{
    sb->tick = tick;
    sb->tick_fuel_used = 0;
    sb->tick_time_used = 0;
    sb->tick_host_calls = 0;
    sb__rng_seed(sb, tick);
}

/* ---- accessors ---------------------------------------------------------- */

const gosr_sandbox_fault *gosr_sandbox_fault_get(const gosr_sandbox *sb)
{
    return &sb->fault;
}

bool gosr_sandbox_is_dead(const gosr_sandbox *sb) { return sb->dead; }
uint64_t gosr_sandbox_mem_used(const gosr_sandbox *sb) { return sb->mem_used; }
uint64_t gosr_sandbox_fuel_used(const gosr_sandbox *sb)
{
    return sb->fuel_used;
}

const char *gosr_sandbox_log(const gosr_sandbox *sb, size_t *len)
{
    if (len)
        *len = sb->log.len;
    return sb->log.data ? (const char *)sb->log.data : "";
}

static int get_global_held(gosr_sandbox *sb, const char *name, gosr_sbv *ret,
                           gosr_error *err)
{
    *ret = (gosr_sbv){0};
    if (sb->in_call)
        return gosr_error_set(err, GOSR_EBUSY, "sandbox_busy", "in a call");
    lua_State *L = sb->L;
    if (push_global(sb, name) != GOSR_OK)
        return gosr_error_set(err, GOSR_EBUDGET, "memory",
                              "heap full while looking up '%s'", name);
    int rc = sb__to_value(L, -1, &sb->cfg.limits, ret, err);
    lua_pop(L, 1);
    return rc;
}

static int set_global_held(gosr_sandbox *sb, const char *name,
                           const gosr_sbv *v, gosr_error *err)
{
    if (sb->in_call)
        return gosr_error_set(err, GOSR_EBUSY, "sandbox_busy", "in a call");
    if (sb->dead)
        return fault_error(sb, err);
    lua_State *L = sb->L;
    lua_pushcfunction(L, global_set_protected);
    lua_pushlightuserdata(L, (void *)name);
    int rc = sb__push_value(L, v, &sb->cfg.limits);
    if (rc != GOSR_OK) {
        lua_pop(L, 2);
        return gosr_error_set(err, rc, "bad_value", "cannot copy '%s' in",
                              name);
    }
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
        return gosr_error_set(err, GOSR_ENOMEM, "memory",
                              "heap full while setting '%s'", name);
    }
    return GOSR_OK;
}

int gosr_sandbox_effects_take(gosr_sandbox *sb, gosr_sbv **out, size_t *n)
{
    *out = sb->effects;
    *n = sb->neffects;
    sb->effects = NULL;
    sb->neffects = sb->capeffects = 0;
    return GOSR_OK;
}

/* ---- RNG: xoshiro256** seeded by splitmix64(seed, name, tick) ------------ */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void sb__rng_seed(gosr_sandbox *sb, uint64_t tick)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the name */
    for (const char *p = sb->name; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    uint64_t x = sb->cfg.seed ^ h ^ (tick * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        sb->rng[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sb__rng_next(gosr_sandbox *sb)
{
    uint64_t *s = sb->rng;
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

uint64_t gosr_sandbox_rng_next(gosr_sandbox *sb) { return sb__rng_next(sb); }
