/*
 * host.c — the capability host API: a registry of host functions grouped
 * into capability groups, installation of the effective groups (declared by
 * the manifest AND granted by the operator) into a sandbox, the call
 * trampoline with per-tick quotas, checked argument accessors (types,
 * ranges, sizes; raw reads only, never metamethods), results, effects, and
 * the mod API (a module's exported functions called from a mod with copied
 * values).
 * Design: docs/sandbox.md ("Host API", "Mod API").
 */
#include "sandbox/sb_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_GROUP 48
#define MAX_NAME 64
#define MAX_RET 8

struct sb_host_entry {
    char group[MAX_GROUP];   /* capability group, e.g. "world.read" */
    char name[MAX_NAME];     /* Lua name: "f" or "table.f" */
    gosr_sandbox_host_fn fn; /* the function */
    void *ud;                /* borrowed user data */
};

struct gosr_sandbox_host {
    sb_host_entry *entries; /* owned array */
    size_t n, cap;          /* count and capacity */
};

/* One host call in progress; lives on the trampoline's C stack. */
struct gosr_sandbox_hcall {
    lua_State *L;              /* calling thread */
    gosr_sandbox *sb;          /* calling sandbox */
    const sb_host_entry *e;    /* function being called */
    int nargs;                 /* arguments at 1..nargs */
    int nret;                  /* results pushed */
    char msg[160];             /* "bad argument" text, or "" */
};

/* ---- registry ----------------------------------------------------------- */

int gosr_sandbox_host_create(gosr_sandbox_host **out)
{
    *out = gosr_calloc(1, sizeof **out);
    return *out ? GOSR_OK : GOSR_ENOMEM;
}

void gosr_sandbox_host_destroy(gosr_sandbox_host *h)
{
    if (!h)
        return;
    gosr_free(h->entries);
    gosr_free(h);
}

static bool valid_ident(const char *s, size_t n)
{
    if (n == 0 || !(s[0] == '_' || ((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z')))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= '0' && c <= '9') ||
              ((c | 32) >= 'a' && (c | 32) <= 'z')))
            return false;
    }
    return true;
}

static bool valid_name(const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot)
        return valid_ident(name, strlen(name));
    return valid_ident(name, (size_t)(dot - name)) &&
           valid_ident(dot + 1, strlen(dot + 1));
}

int gosr_sandbox_host_add(gosr_sandbox_host *h, const char *group,
                          const char *name, gosr_sandbox_host_fn fn, void *ud)
{
    if (!h || !group || !name || !fn || !group[0] ||
        strlen(group) >= MAX_GROUP || strlen(name) >= MAX_NAME ||
        strchr(group, ',') || !valid_name(name))
        return GOSR_EINVAL;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        sb_host_entry *e = gosr_realloc(h->entries, cap * sizeof *e);
        if (!e)
            return GOSR_ENOMEM;
        h->entries = e;
        h->cap = cap;
    }
    sb_host_entry *e = &h->entries[h->n++];
    snprintf(e->group, sizeof e->group, "%s", group);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->fn = fn;
    e->ud = ud;
    return GOSR_OK;
}

/* True when `group` appears in the comma-separated list (spaces ok). */
static bool list_has(const char *list, const char *group)
{
    size_t gl = strlen(group);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *t = end;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == gl && memcmp(p, group, gl) == 0)
            return true;
        p = end;
    }
    return false;
}

/* ---- the trampoline ----------------------------------------------------- */

static int host_trampoline(lua_State *L)
{
    const sb_host_entry *e = lua_touserdata(L, lua_upvalueindex(1));
    gosr_sandbox *sb = sb_of(L);
    sb__check_killed(L);
    if (sb->tick_host_calls >= sb->cfg.host_calls_per_tick)
        sb__kill(L, GOSR_SB_QUOTA, "host-call quota of %u per tick exhausted",
                 sb->cfg.host_calls_per_tick);
    sb->tick_host_calls++;
    sb->host_calls++;
    gosr_sandbox_hcall c;
    c.L = L;
    c.sb = sb;
    c.e = e;
    c.nargs = lua_gettop(L);
    c.nret = 0;
    c.msg[0] = '\0';
    int rc = e->fn(&c, e->ud);
    sb__check_killed(L);
    if (rc == GOSR_OK)
        return c.nret;
    if (rc == GOSR_ENOMEM)
        sb__kill(L, GOSR_SB_MEMORY, "memory cap reached in host call %s",
                 e->name);
    return luaL_error(L, "%s: %s", e->name,
                      c.msg[0] ? c.msg : gosr_strerror(rc));
}

/* Gets or creates env[prefix] (raw) as a table on top; false if taken by a
 * non-table. */
static bool prefix_table(lua_State *L, int env, const char *prefix, size_t n)
{
    lua_pushlstring(L, prefix, n);
    int t = lua_rawget(L, env);
    if (t == LUA_TTABLE)
        return true;
    lua_pop(L, 1);
    if (t != LUA_TNIL)
        return false;
    lua_newtable(L);
    lua_pushlstring(L, prefix, n);
    lua_pushvalue(L, -2);
    lua_rawset(L, env);
    return true;
}

int sb__host_install(gosr_sandbox *sb, gosr_error *err)
{
    const gosr_sandbox_host *h = sb->host;
    lua_State *L = sb->L;
    int env = lua_gettop(L);
    for (size_t i = 0; h && i < h->n; i++) {
        const sb_host_entry *e = &h->entries[i];
        if (!list_has(sb->cfg.declared_caps, e->group) ||
            !list_has(sb->cfg.granted_caps, e->group))
            continue;
        const char *dot = strchr(e->name, '.');
        int tbl = env;
        if (dot) {
            if (!prefix_table(L, env, e->name, (size_t)(dot - e->name)))
                return gosr_error_set(err, GOSR_EEXIST, "name_taken",
                                      "host name %s clashes", e->name);
            tbl = lua_gettop(L);
        }
        lua_pushlightuserdata(L, (void *)e);
        lua_pushcclosure(L, host_trampoline, 1);
        lua_setfield(L, tbl, dot ? dot + 1 : e->name);
        lua_settop(L, env);
    }
    return GOSR_OK;
}

/* ---- arguments ---------------------------------------------------------- */

static int bad_arg(gosr_sandbox_hcall *c, int i, const char *want)
{
    const char *got = i >= 1 && i <= c->nargs
                          ? lua_typename(c->L, lua_type(c->L, i))
                          : "no value";
    snprintf(c->msg, sizeof c->msg, "bad argument #%d (%s expected, got %s)",
             i, want, got);
    return GOSR_EINVAL;
}

int gosr_sandbox_nargs(const gosr_sandbox_hcall *c) { return c->nargs; }

int gosr_sandbox_arg_type(const gosr_sandbox_hcall *c, int i)
{
    if (i < 1 || i > c->nargs)
        return GOSR_SBV_NIL;
    switch (lua_type(c->L, i)) {
    case LUA_TBOOLEAN: return GOSR_SBV_BOOL;
    case LUA_TNUMBER:
        return lua_isinteger(c->L, i) ? GOSR_SBV_INT : GOSR_SBV_NUM;
    case LUA_TSTRING: return GOSR_SBV_STR;
    case LUA_TTABLE: return GOSR_SBV_TABLE;
    case LUA_TNIL: return GOSR_SBV_NIL;
    default: return -1;
    }
}

int gosr_sandbox_arg_int(gosr_sandbox_hcall *c, int i, int64_t min,
                         int64_t max, int64_t *out)
{
    int isnum = 0;
    if (i < 1 || i > c->nargs || lua_type(c->L, i) != LUA_TNUMBER)
        return bad_arg(c, i, "integer");
    lua_Integer v = lua_tointegerx(c->L, i, &isnum);
    if (!isnum)
        return bad_arg(c, i, "integer");
    if (v < min || v > max) {
        snprintf(c->msg, sizeof c->msg,
                 "bad argument #%d (%lld out of range %lld..%lld)", i,
                 (long long)v, (long long)min, (long long)max);
        return GOSR_EINVAL;
    }
    *out = v;
    return GOSR_OK;
}

int gosr_sandbox_arg_num(gosr_sandbox_hcall *c, int i, double min, double max,
                         double *out)
{
    if (i < 1 || i > c->nargs || lua_type(c->L, i) != LUA_TNUMBER)
        return bad_arg(c, i, "number");
    double v = lua_tonumber(c->L, i);
    if (!(v >= min && v <= max)) {
        snprintf(c->msg, sizeof c->msg,
                 "bad argument #%d (%g out of range %g..%g)", i, v, min, max);
        return GOSR_EINVAL;
    }
    *out = v;
    return GOSR_OK;
}

int gosr_sandbox_arg_bool(gosr_sandbox_hcall *c, int i, bool *out)
{
    if (i < 1 || i > c->nargs || lua_type(c->L, i) != LUA_TBOOLEAN)
        return bad_arg(c, i, "boolean");
    *out = lua_toboolean(c->L, i);
    return GOSR_OK;
}

int gosr_sandbox_arg_str(gosr_sandbox_hcall *c, int i, size_t maxlen,
                         const char **p, size_t *len)
{
    if (i < 1 || i > c->nargs || lua_type(c->L, i) != LUA_TSTRING)
        return bad_arg(c, i, "string");
    size_t n;
    const char *s = lua_tolstring(c->L, i, &n);
    if (n > maxlen) {
        snprintf(c->msg, sizeof c->msg,
                 "bad argument #%d (string of %zu bytes, limit %zu)", i, n,
                 maxlen);
        return GOSR_EINVAL;
    }
    *p = s;
    *len = n;
    return GOSR_OK;
}

int gosr_sandbox_arg_value(gosr_sandbox_hcall *c, int i, gosr_sbv *out)
{
    *out = (gosr_sbv){0};
    if (i < 1 || i > c->nargs)
        return GOSR_OK; /* absent = nil */
    gosr_error err;
    int rc = sb__to_value(c->L, i, &c->sb->cfg.limits, out, &err);
    if (rc != GOSR_OK)
        snprintf(c->msg, sizeof c->msg, "bad argument #%d (%.100s)", i,
                 err.detail);
    return rc == GOSR_ENOMEM ? rc : (rc ? GOSR_EINVAL : GOSR_OK);
}

/* ---- results and effects ------------------------------------------------ */

static int ret_room(gosr_sandbox_hcall *c)
{
    if (c->nret >= MAX_RET || !lua_checkstack(c->L, 2)) {
        snprintf(c->msg, sizeof c->msg, "too many results");
        return GOSR_ETOOBIG;
    }
    return GOSR_OK;
}

int gosr_sandbox_ret_int(gosr_sandbox_hcall *c, int64_t v)
{
    int rc = ret_room(c);
    if (rc == GOSR_OK) {
        lua_pushinteger(c->L, v);
        c->nret++;
    }
    return rc;
}

int gosr_sandbox_ret_num(gosr_sandbox_hcall *c, double v)
{
    int rc = ret_room(c);
    if (rc == GOSR_OK) {
        lua_pushnumber(c->L, v);
        c->nret++;
    }
    return rc;
}

int gosr_sandbox_ret_bool(gosr_sandbox_hcall *c, bool v)
{
    int rc = ret_room(c);
    if (rc == GOSR_OK) {
        lua_pushboolean(c->L, v);
        c->nret++;
    }
    return rc;
}

int gosr_sandbox_ret_value(gosr_sandbox_hcall *c, const gosr_sbv *v)
{
    int rc = ret_room(c);
    if (rc == GOSR_OK)
        rc = sb__push_value(c->L, v, &c->sb->cfg.limits);
    if (rc == GOSR_OK)
        c->nret++;
    return rc;
}

int gosr_sandbox_ret_str(gosr_sandbox_hcall *c, const char *p, size_t len)
{
    gosr_sbv v = {.type = GOSR_SBV_STR, .u.s = {(char *)p, len}};
    return gosr_sandbox_ret_value(c, &v);
}

int gosr_sandbox_emit(gosr_sandbox_hcall *c, const gosr_sbv *v)
{
    gosr_sandbox *sb = c->sb;
    if (sb->neffects == sb->capeffects) {
        size_t cap = sb->capeffects ? sb->capeffects * 2 : 8;
        gosr_sbv *n = gosr_realloc(sb->effects, cap * sizeof *n);
        if (!n)
            return GOSR_ENOMEM;
        sb->effects = n;
        sb->capeffects = cap;
    }
    int rc = gosr_sbv_copy(&sb->effects[sb->neffects], v);
    if (rc == GOSR_OK)
        sb->neffects++;
    return rc;
}

gosr_sandbox *gosr_sandbox_hcall_owner(gosr_sandbox_hcall *c) { return c->sb; }

/* ---- mod API ------------------------------------------------------------ */

/* Calls provider's exported function with copies of the mod's arguments. */
static int export_trampoline(lua_State *L)
{
    gosr_sandbox *mod = sb_of(L);
    gosr_sandbox *prov = lua_touserdata(L, lua_upvalueindex(1));
    const char *fn = lua_tostring(L, lua_upvalueindex(2));
    sb__check_killed(L);
    int n = lua_gettop(L);
    if (n > 16)
        return luaL_error(L, "%s: too many arguments", fn);
    gosr_sbv args[16], ret = {0};
    gosr_error err;
    int rc = GOSR_OK, i;
    for (i = 0; i < n && rc == GOSR_OK; i++)
        rc = sb__to_value(L, i + 1, &mod->cfg.limits, &args[i], &err);
    if (rc != GOSR_OK)
        i--;
    if (rc == GOSR_OK)
        rc = gosr_sandbox_call(prov, fn, args, (size_t)n, &ret, 1, &err);
    for (int k = 0; k < i; k++)
        gosr_sbv_free(&args[k]);
    sb__check_killed(L);
    if (rc != GOSR_OK) {
        gosr_sbv_free(&ret);
        return luaL_error(L, "%s: %s: %s", fn, err.reason, err.detail);
    }
    rc = sb__push_value(L, &ret, &mod->cfg.limits);
    gosr_sbv_free(&ret);
    if (rc != GOSR_OK)
        return luaL_error(L, "%s: result cannot be copied", fn);
    return 1;
}

static int export_protected(lua_State *L)
{
    const char *api = lua_tostring(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    if (!prefix_table(L, 4, api, strlen(api)))
        return luaL_error(L, "'%s' is taken", api);
    lua_pushvalue(L, 3); /* provider */
    lua_pushvalue(L, 2); /* function name */
    lua_pushcclosure(L, export_trampoline, 2);
    lua_setfield(L, -2, lua_tostring(L, 2));
    return 0;
}

int gosr_sandbox_export(gosr_sandbox *mod, const char *api,
                        gosr_sandbox *provider, const char *fn,
                        gosr_error *err)
{
    if (!mod || !provider || mod == provider || !api || !fn ||
        !valid_ident(api, strlen(api)) || !valid_ident(fn, strlen(fn)))
        return gosr_error_set(err, GOSR_EINVAL, "bad_export",
                              "export needs two sandboxes and identifiers");
    bool expected = false;
    if (!atomic_compare_exchange_strong(&mod->busy, &expected, true))
        return gosr_error_set(err, GOSR_EBUSY, "sandbox_busy", "in use");
    lua_State *L = mod->L;
    lua_pushcfunction(L, export_protected);
    lua_pushstring(L, api);
    lua_pushstring(L, fn);
    lua_pushlightuserdata(L, provider);
    int st = lua_pcall(L, 3, 0, 0);
    if (st != LUA_OK)
        lua_pop(L, 1);
    atomic_store(&mod->busy, false);
    if (st != LUA_OK)
        return gosr_error_set(err, GOSR_EEXIST, "name_taken",
                              "cannot install %s.%s", api, fn);
    return GOSR_OK;
}
