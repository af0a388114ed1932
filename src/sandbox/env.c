/*
 * env.c — the sandbox environment: a fresh globals table holding only the
 * whitelist, with wrapped pcall/xpcall/coroutine (sticky kills), load (text
 * only), setmetatable (no __gc), collectgarbage ("count" only), bounded
 * print, deterministic pairs/math.random/os, and trap tables that turn a
 * reach for a removed facility (io, debug, string.dump ...) into a
 * "forbidden" kill.
 * Design: docs/sandbox.md ("Environment").
 *
 * Sections: protected calls, coroutines, load and base wrappers,
 * deterministic pairs, math and os, traps, building.
 */
#include "sandbox/sb_int.h"

#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- protected calls ---------------------------------------------------- */

static int finish_pcall(lua_State *L, int status, lua_KContext extra)
{
    if (status != LUA_OK && status != LUA_YIELD) {
        sb__after_pcall(L, status);
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    sb__check_killed(L);
    return lua_gettop(L) - (int)extra;
}

static int sb_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    sb__check_killed(L);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    int status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0,
                            finish_pcall);
    return finish_pcall(L, status, 0);
}

/* xpcall's message handler wrapper: once killed, the user's handler is
 * never run; the kill error passes through untouched. */
static int xpcall_handler(lua_State *L)
{
    if (atomic_load_explicit(&sb_of(L)->killed, memory_order_relaxed))
        return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sb_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    sb__check_killed(L);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, xpcall_handler, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2);
    int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_pcall);
    return finish_pcall(L, status, 2);
}

/* ---- coroutines: track the running thread, refuse after a kill ---------- */

static lua_State *get_co(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    luaL_argexpected(L, co, 1, "coroutine");
    return co;
}

/* Resumes co with narg values from L; returns results count or -1 with the
 * error on L's top. Keeps sb->cur on the running thread for the watchdog. */
static int aux_resume(lua_State *L, lua_State *co, int narg)
{
    gosr_sandbox *sb = sb_of(L);
    sb__check_killed(L);
    if (!lua_checkstack(co, narg)) {
        lua_pushliteral(L, "too many arguments to resume");
        return -1;
    }
    lua_xmove(L, co, narg);
    int nres;
    lua_State *saved = sb->cur;
    sb->cur = co;
    atomic_signal_fence(memory_order_seq_cst);
    int status = lua_resume(co, L, narg, &nres);
    sb->cur = saved;
    atomic_signal_fence(memory_order_seq_cst);
    if (status == LUA_OK || status == LUA_YIELD) {
        sb__check_killed(L);
        if (!lua_checkstack(L, nres + 1)) {
            lua_pop(co, nres);
            lua_pushliteral(L, "too many results to resume");
            return -1;
        }
        lua_xmove(co, L, nres);
        return nres;
    }
    sb__after_pcall(L, status);
    lua_xmove(co, L, 1);
    return -1;
}

static int sb_co_create(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    sb__check_killed(L);
    lua_State *co = lua_newthread(L);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    return 1;
}

static int sb_co_resume(lua_State *L)
{
    lua_State *co = get_co(L);
    int r = aux_resume(L, co, lua_gettop(L) - 1);
    if (r < 0) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, -(r + 1));
    return r + 1;
}

/* Closes a coroutine's pending to-be-closed variables with sb->cur on it. */
static int reset_thread(lua_State *L, lua_State *co)
{
    gosr_sandbox *sb = sb_of(L);
    lua_State *saved = sb->cur;
    sb->cur = co;
    atomic_signal_fence(memory_order_seq_cst);
    int status = lua_resetthread(co);
    sb->cur = saved;
    atomic_signal_fence(memory_order_seq_cst);
    sb__after_pcall(L, status);
    return status;
}

static int aux_wrap(lua_State *L)
{
    lua_State *co = lua_tothread(L, lua_upvalueindex(1));
    int r = aux_resume(L, co, lua_gettop(L));
    if (r >= 0)
        return r;
    int st = lua_status(co);
    if (st != LUA_OK && st != LUA_YIELD) {
        st = reset_thread(L, co);
        lua_xmove(co, L, 1);
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

static int sb_co_wrap(lua_State *L)
{
    sb_co_create(L);
    lua_pushcclosure(L, aux_wrap, 1);
    return 1;
}

/* A coroutine may be closed when suspended or dead, never when running or
 * normal (it resumed another). */
static bool closable(lua_State *L, lua_State *co)
{
    if (L == co)
        return false;
    int st = lua_status(co);
    if (st == LUA_YIELD)
        return true;
    if (st == LUA_OK) {
        lua_Debug ar;
        return !lua_getstack(co, 0, &ar);
    }
    return true;
}

static int sb_co_close(lua_State *L)
{
    lua_State *co = get_co(L);
    sb__check_killed(L);
    if (!closable(L, co))
        return luaL_error(L, "cannot close a running coroutine");
    if (reset_thread(L, co) == LUA_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_xmove(co, L, 1);
    return 2;
}

/* ---- load and base wrappers --------------------------------------------- */

/* Gathers a chunk from a reader function into one string (bounded). */
static const char *gather_chunk(lua_State *L, size_t max, size_t *len)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t total = 0;
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "reader function must return a string");
        size_t n;
        lua_tolstring(L, -1, &n);
        if (n == 0) {
            lua_pop(L, 1);
            break;
        }
        total += n;
        if (total > max)
            luaL_error(L, "chunk too large (limit %d bytes)", (int)max);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return lua_tolstring(L, -1, len);
}

static int sb_load(lua_State *L)
{
    gosr_sandbox *sb = sb_of(L);
    sb__check_killed(L);
    const char *mode = luaL_optstring(L, 3, "t");
    if (strchr(mode, 'b'))
        sb__kill(L, GOSR_SB_FORBIDDEN, "binary chunks are forbidden (mode '%s')",
                 mode);
    int env = lua_isnone(L, 4) ? 0 : 4;
    size_t len;
    const char *s;
    if (lua_type(L, 1) == LUA_TSTRING) {
        s = lua_tolstring(L, 1, &len);
        lua_pushvalue(L, 1);
    } else {
        luaL_checktype(L, 1, LUA_TFUNCTION);
        s = gather_chunk(L, sb->cfg.max_chunk, &len);
    }
    if (len > 0 && s[0] == LUA_SIGNATURE[0])
        sb__kill(L, GOSR_SB_FORBIDDEN, "binary chunks are forbidden");
    if (len > sb->cfg.max_chunk)
        return luaL_error(L, "chunk too large (limit %d bytes)",
                          (int)sb->cfg.max_chunk);
    sb__charge(L, len / 8 + 1);
    const char *name = luaL_optstring(L, 2, lua_type(L, 1) == LUA_TSTRING
                                                ? s : "=(load)");
    int st = luaL_loadbufferx(L, s, len, name, "t");
    if (st == LUA_ERRMEM)
        sb__after_pcall(L, st);
    if (st != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    if (env) {
        lua_pushvalue(L, env);
        if (!lua_setupvalue(L, -2, 1))
            lua_pop(L, 1);
    }
    return 1;
}

static int sb_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        int gc = lua_rawget(L, 2);
        lua_pop(L, 1);
        if (gc != LUA_TNIL)
            sb__kill(L, GOSR_SB_FORBIDDEN, "__gc metamethods are forbidden");
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static int sb_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") != 0)
        sb__kill(L, GOSR_SB_FORBIDDEN, "collectgarbage(\"%.20s\") is forbidden",
                 opt);
    int k = lua_gc(L, LUA_GCCOUNT);
    int b = lua_gc(L, LUA_GCCOUNTB);
    lua_pushnumber(L, (lua_Number)k + ((lua_Number)b / 1024));
    return 1;
}

/* print: tab-separated values into the sandbox's bounded log. */
static int sb_print(lua_State *L)
{
    gosr_sandbox *sb = sb_of(L);
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        sb__charge(L, len / 16 + 1);
        size_t room = sb->cfg.max_log - sb->log.len;
        if (i > 1 && room > 0) {
            gosr_buf_append(&sb->log, "\t", 1);
            room--;
        }
        gosr_buf_append(&sb->log, s, len < room ? len : room);
        lua_pop(L, 1);
    }
    if (sb->log.len < sb->cfg.max_log)
        gosr_buf_append(&sb->log, "\n", 1);
    return 0;
}

/* ---- deterministic pairs: snapshot keys in canonical order -------------- */

static int key_rank(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: return 0;
    case LUA_TSTRING: return 1;
    case LUA_TBOOLEAN: return 2;
    default: return 3;
    }
}

/* Canonical order: numbers by value, strings by bytes, false < true, the
 * rest (tables, functions as keys) by position in the snapshot. */
static bool key_less(lua_State *L, int a, int b)
{
    int ra = key_rank(L, a), rb = key_rank(L, b);
    if (ra != rb)
        return ra < rb;
    if (ra == 0)
        return lua_compare(L, a, b, LUA_OPLT);
    if (ra == 1) {
        size_t la, lb;
        const char *sa = lua_tolstring(L, a, &la);
        const char *sb = lua_tolstring(L, b, &lb);
        int c = memcmp(sa, sb, la < lb ? la : lb);
        return c < 0 || (c == 0 && la < lb);
    }
    if (ra == 2)
        return !lua_toboolean(L, a) && lua_toboolean(L, b);
    return false;
}

/* Insertion-merge sort of keys[1..n] (table at `k`) in place: a bottom-up
 * merge sort through a scratch table (stable, O(n log n)). */
static void sort_keys(lua_State *L, int k, lua_Integer n)
{
    lua_createtable(L, (int)n, 0);
    int tmp = lua_gettop(L);
    for (lua_Integer w = 1; w < n; w *= 2) {
        for (lua_Integer lo = 1; lo <= n; lo += 2 * w) {
            lua_Integer mid = lo + w, hi = lo + 2 * w, i = lo, j = mid, o = lo;
            if (mid > n + 1) mid = n + 1;
            if (hi > n + 1) hi = n + 1;
            while (i < mid || j < hi) {
                bool take_j = false;
                if (i < mid && j < hi) {
                    lua_rawgeti(L, k, j);
                    lua_rawgeti(L, k, i);
                    take_j = key_less(L, -2, -1);
                    lua_pop(L, 2);
                } else {
                    take_j = i >= mid;
                }
                lua_rawgeti(L, k, take_j ? j++ : i++);
                lua_rawseti(L, tmp, o++);
            }
        }
        for (lua_Integer x = 1; x <= n; x++) {
            lua_rawgeti(L, tmp, x);
            lua_rawseti(L, k, x);
        }
        sb__charge(L, (uint64_t)n);
    }
    lua_pop(L, 1);
}

static int ordered_next(lua_State *L)
{
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(3));
    lua_Integer n = (lua_Integer)lua_rawlen(L, lua_upvalueindex(2));
    while (++i <= n) {
        lua_rawgeti(L, lua_upvalueindex(2), i);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) {
            lua_pushinteger(L, i);
            lua_replace(L, lua_upvalueindex(3));
            return 2;
        }
        lua_pop(L, 2);
    }
    lua_pushinteger(L, n);
    lua_replace(L, lua_upvalueindex(3));
    return 0;
}

static int sb_pairs_ordered(lua_State *L)
{
    luaL_checkany(L, 1);
    if (luaL_getmetafield(L, 1, "__pairs") != LUA_TNIL) {
        lua_pushvalue(L, 1);
        lua_call(L, 1, 3);
        return 3;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_newtable(L);
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, 2, ++n);
    }
    sb__charge(L, (uint64_t)n + 1);
    sort_keys(L, 2, n);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, ordered_next, 3);
    return 1;
}

/* ---- math.random and os ------------------------------------------------- */

static int sb_random(lua_State *L)
{
    gosr_sandbox *sb = sb_of(L);
    uint64_t rv = sb__rng_next(sb);
    lua_Integer lo, up;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, (lua_Number)(rv >> 11) * 0x1.0p-53);
        return 1;
    case 1: lo = 1; up = luaL_checkinteger(L, 1);
        if (up == 0) {
            lua_pushinteger(L, (lua_Integer)rv);
            return 1;
        }
        break;
    case 2: lo = luaL_checkinteger(L, 1); up = luaL_checkinteger(L, 2); break;
    default: return luaL_error(L, "wrong number of arguments");
    }
    luaL_argcheck(L, lo <= up, lua_gettop(L), "interval is empty");
    uint64_t range = (uint64_t)up - (uint64_t)lo;
    uint64_t mask = range;
    for (int s = 1; s < 64; s *= 2)
        mask |= mask >> s;
    while ((rv & mask) > range)
        rv = sb__rng_next(sb);
    lua_pushinteger(L, (lua_Integer)((uint64_t)lo + (rv & mask)));
    return 1;
}

/* math.randomseed: the host seeds the RNG (per module and tick), so a
 * script's reseed (a common startup idiom) is accepted and ignored. */
static int sb_randomseed(lua_State *L)
{
    (void)L;
    return 0;
}

static bool deterministic(lua_State *L)
{
    return sb_of(L)->cfg.mode == GOSR_SANDBOX_DETERMINISTIC;
}

static int sb_clock(lua_State *L)
{
    if (deterministic(L))
        lua_pushnumber(L, (lua_Number)sb_of(L)->fuel_used * 1e-8);
    else
        lua_pushnumber(L, (lua_Number)clock() / CLOCKS_PER_SEC);
    return 1;
}

static int table_field(lua_State *L, const char *k, int d)
{
    lua_pushstring(L, k);
    lua_rawget(L, 1);
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    int absent = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (absent) {
        if (d < 0)
            return luaL_error(L, "field '%s' missing in date table", k);
        return d;
    }
    if (!isnum || v < -100000000 || v > 100000000)
        return luaL_error(L, "field '%s' is out-of-bound", k);
    return (int)v;
}

/* os.time: real in production; in deterministic mode the tick (30 Hz)
 * counts from the epoch and tables are read as UTC. */
static int sb_time(lua_State *L)
{
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        struct tm tm = {0};
        tm.tm_year = table_field(L, "year", -1) - 1900;
        tm.tm_mon = table_field(L, "month", -1) - 1;
        tm.tm_mday = table_field(L, "day", -1);
        tm.tm_hour = table_field(L, "hour", 12);
        tm.tm_min = table_field(L, "min", 0);
        tm.tm_sec = table_field(L, "sec", 0);
        time_t t = deterministic(L) ? timegm(&tm) : mktime(&tm);
        lua_pushinteger(L, (lua_Integer)t);
        return 1;
    }
    if (deterministic(L))
        lua_pushinteger(L, (lua_Integer)(sb_of(L)->tick / 30));
    else
        lua_pushinteger(L, (lua_Integer)time(NULL));
    return 1;
}

/* os.date through the original, with deterministic time and UTC. */
static int sb_date(lua_State *L)
{
    const char *fmt = luaL_optstring(L, 1, "%c");
    lua_settop(L, 2);
    if (lua_isnil(L, 2)) {
        if (deterministic(L))
            lua_pushinteger(L, (lua_Integer)(sb_of(L)->tick / 30));
        else
            lua_pushinteger(L, (lua_Integer)time(NULL));
        lua_replace(L, 2);
    }
    if (deterministic(L) && fmt[0] != '!') {
        lua_pushfstring(L, "!%s", fmt);
        lua_replace(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* ---- traps: reaching a removed facility is a forbidden kill ------------- */

static int trap_index(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
            sb__kill(L, GOSR_SB_FORBIDDEN, "'%s' is not available in the sandbox",
                     lua_tostring(L, 2));
    }
    return 0;
}

void sb__set_trap(lua_State *L, const char *const *names)
{
    lua_createtable(L, 0, 2);
    lua_newtable(L);
    for (; *names; names++) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, *names);
    }
    lua_pushcclosure(L, trap_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* ---- building ----------------------------------------------------------- */

/* Copies fields `names` from the table at `from` into the table on top. */
static void copy_fields(lua_State *L, int from, const char *const *names)
{
    for (; *names; names++) {
        lua_getfield(L, from, *names);
        lua_setfield(L, -2, *names);
    }
}

static void build_base(lua_State *L, int g0, bool det)
{
    static const char *const base[] = {
        "assert", "error", "getmetatable", "ipairs", "next", "rawequal",
        "rawget", "rawlen", "rawset", "select", "tonumber", "tostring",
        "type", "_VERSION", NULL};
    static const luaL_Reg wrapped[] = {
        {"pcall", sb_pcall}, {"xpcall", sb_xpcall}, {"load", sb_load},
        {"setmetatable", sb_setmetatable},
        {"collectgarbage", sb_collectgarbage}, {"print", sb_print},
        {NULL, NULL}};
    copy_fields(L, g0, base);
    luaL_setfuncs(L, wrapped, 0);
    if (det)
        lua_pushcfunction(L, sb_pairs_ordered);
    else
        lua_getfield(L, g0, "pairs");
    lua_setfield(L, -2, "pairs");
}

static void build_libs(lua_State *L, int g0)
{
    static const char *const co_keep[] = {"yield", "status", "isyieldable",
                                          "running", NULL};
    static const luaL_Reg co_wrap[] = {
        {"create", sb_co_create}, {"resume", sb_co_resume},
        {"wrap", sb_co_wrap}, {"close", sb_co_close}, {NULL, NULL}};
    static const char *const co_trap[] = {NULL};
    static const char *const math_trap[] = {NULL};
    static const char *const os_trap[] = {"execute", "exit", "getenv",
        "remove", "rename", "tmpname", "setlocale", NULL};
    static const char *const os_keep[] = {"difftime", NULL};
    lua_getfield(L, g0, "coroutine");
    lua_newtable(L);
    copy_fields(L, -2, co_keep);
    luaL_setfuncs(L, co_wrap, 0);
    sb__set_trap(L, co_trap);
    lua_setfield(L, -3, "coroutine");
    lua_pop(L, 1);
    lua_getfield(L, g0, "math");
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_pushcfunction(L, sb_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pushcfunction(L, sb_random);
    lua_setfield(L, -2, "random");
    sb__set_trap(L, math_trap);
    lua_setfield(L, -3, "math");
    lua_pop(L, 1);
    lua_getfield(L, g0, "os");
    lua_newtable(L);
    copy_fields(L, -2, os_keep);
    lua_pushcfunction(L, sb_clock);
    lua_setfield(L, -2, "clock");
    lua_pushcfunction(L, sb_time);
    lua_setfield(L, -2, "time");
    lua_getfield(L, -2, "date");
    lua_pushcclosure(L, sb_date, 1);
    lua_setfield(L, -2, "date");
    sb__set_trap(L, os_trap);
    lua_setfield(L, -3, "os");
    lua_pop(L, 1);
}

static void build_table_utf8(lua_State *L, int g0)
{
    static const char *const tkeep[] = {"insert", "remove", "pack", "concat",
                                        "unpack", "sort", "move", NULL};
    static const char *const ukeep[] = {"charpattern", "char", "codes",
                                        "codepoint", "len", "offset", NULL};
    static const char *const none[] = {NULL};
    lua_getfield(L, g0, "table");
    lua_newtable(L);
    copy_fields(L, -2, tkeep);
    sb__patch_table(L);
    sb__set_trap(L, none);
    lua_setfield(L, -3, "table");
    lua_pop(L, 1);
    static const char *const ucharged[] = {"len", "codepoint", "offset",
                                           NULL};
    lua_getfield(L, g0, "utf8");
    lua_newtable(L);
    copy_fields(L, -2, ukeep);
    sb__wrap_charged(L, ucharged);
    sb__set_trap(L, none);
    lua_setfield(L, -3, "utf8");
    lua_pop(L, 1);
}

/* Runs inside lua_pcall so that memory errors while building are caught. */
static int env_build_protected(lua_State *L)
{
    gosr_sandbox *sb = sb_of(L);
    /* Only the removed facilities trap; compatibility probes such as
     * `unpack or table.unpack`, `if jit then` or `loadstring or load` read
     * nil as usual. */
    static const char *const gtrap[] = {"io", "debug", "package", "require",
        "dofile", "loadfile", NULL};
    luaL_requiref(L, "_G", luaopen_base, 1);
    luaL_requiref(L, "coroutine", luaopen_coroutine, 1);
    luaL_requiref(L, "table", luaopen_table, 1);
    luaL_requiref(L, "string", luaopen_string, 1);
    luaL_requiref(L, "math", luaopen_math, 1);
    luaL_requiref(L, "utf8", luaopen_utf8, 1);
    luaL_requiref(L, "os", luaopen_os, 1);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    int g0 = lua_gettop(L);
    lua_newtable(L); /* the sandbox environment */
    build_base(L, g0, sb->cfg.mode == GOSR_SANDBOX_DETERMINISTIC);
    build_libs(L, g0);
    build_table_utf8(L, g0);
    sb__open_string(L);
    lua_setfield(L, -2, "string");
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
    if (sb__host_install(sb, NULL) != GOSR_OK)
        return luaL_error(L, "host functions could not be installed");
    sb__set_trap(L, gtrap);
    lua_pushvalue(L, -1);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    /* Replace the original libraries in the registry by the safe tables
     * (only used to name functions in error messages). */
    static const char *const libs[] = {"string", "table", "math", "os",
                                       "coroutine", "utf8", NULL};
    lua_newtable(L);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "_G");
    for (const char *const *l = libs; *l; l++) {
        lua_pushstring(L, *l);
        lua_rawget(L, -3);
        lua_setfield(L, -2, *l);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_settop(L, 0);
    return 0;
}

int sb__env_build(gosr_sandbox *sb, gosr_error *err)
{
    lua_State *L = sb->L;
    lua_pushcfunction(L, env_build_protected);
    int st = lua_pcall(L, 0, 0, 0);
    if (st == LUA_OK)
        return GOSR_OK;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                      : "?";
    int rc = gosr_error_set(err, st == LUA_ERRMEM ? GOSR_ENOMEM : GOSR_EINVAL,
                            st == LUA_ERRMEM ? "out_of_memory" : "env_build",
                            "building the environment failed: %s", msg);
    lua_settop(L, 0);
    return rc;
}
