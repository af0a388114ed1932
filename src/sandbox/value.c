/*
 * value.c — host values (gosr_sbv): the only form in which data crosses
 * into, out of and between sandboxes. Copies out of Lua read tables raw
 * (no metamethods), bound depth, node count and string bytes, and sort
 * table pairs into canonical order (numbers, strings, booleans) so equal
 * tables give equal values on every run. Copies into Lua run protected so
 * a memory-capped state fails cleanly.
 * Design: docs/sandbox.md ("Values").
 */
#include "sandbox/sb_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- plain value helpers ------------------------------------------------ */

void gosr_sbv_free(gosr_sbv *v)
{
    if (!v)
        return;
    if (v->type == GOSR_SBV_STR) {
        gosr_free(v->u.s.p);
    } else if (v->type == GOSR_SBV_TABLE) {
        for (size_t i = 0; i < v->u.t.len; i++) {
            gosr_sbv_free(&v->u.t.items[i].key);
            gosr_sbv_free(&v->u.t.items[i].val);
        }
        gosr_free(v->u.t.items);
    }
    *v = (gosr_sbv){0};
}

gosr_sbv gosr_sbv_int(int64_t i)
{
    return (gosr_sbv){.type = GOSR_SBV_INT, .u.i = i};
}

gosr_sbv gosr_sbv_num(double n)
{
    return (gosr_sbv){.type = GOSR_SBV_NUM, .u.n = n};
}

gosr_sbv gosr_sbv_bool(bool b)
{
    return (gosr_sbv){.type = GOSR_SBV_BOOL, .u.b = b};
}

int gosr_sbv_str(gosr_sbv *out, const char *p, size_t len)
{
    *out = (gosr_sbv){0};
    char *c = gosr_malloc(len + 1);
    if (!c)
        return GOSR_ENOMEM;
    if (len)
        memcpy(c, p, len);
    c[len] = '\0';
    out->type = GOSR_SBV_STR;
    out->u.s.p = c;
    out->u.s.len = len;
    return GOSR_OK;
}

int gosr_sbv_copy(gosr_sbv *dst, const gosr_sbv *src)
{
    *dst = (gosr_sbv){0};
    if (src->type == GOSR_SBV_STR)
        return gosr_sbv_str(dst, src->u.s.p, src->u.s.len);
    if (src->type != GOSR_SBV_TABLE) {
        *dst = *src;
        return GOSR_OK;
    }
    size_t n = src->u.t.len;
    gosr_sbv_pair *items = n ? gosr_calloc(n, sizeof *items) : NULL;
    if (n && !items)
        return GOSR_ENOMEM;
    dst->type = GOSR_SBV_TABLE;
    dst->u.t.items = items;
    for (size_t i = 0; i < n; i++) {
        int rc = gosr_sbv_copy(&items[i].key, &src->u.t.items[i].key);
        if (rc == GOSR_OK)
            rc = gosr_sbv_copy(&items[i].val, &src->u.t.items[i].val);
        dst->u.t.len = i + 1;
        if (rc != GOSR_OK) {
            gosr_sbv_free(dst);
            return rc;
        }
    }
    return GOSR_OK;
}

int gosr_sbv_table_set(gosr_sbv *t, gosr_sbv key, gosr_sbv val)
{
    bool bad_key = key.type == GOSR_SBV_NIL || key.type == GOSR_SBV_TABLE ||
                   (key.type == GOSR_SBV_NUM && isnan(key.u.n));
    if (t->type == GOSR_SBV_NIL)
        *t = (gosr_sbv){.type = GOSR_SBV_TABLE};
    if (bad_key || t->type != GOSR_SBV_TABLE) {
        gosr_sbv_free(&key);
        gosr_sbv_free(&val);
        return GOSR_EINVAL;
    }
    gosr_sbv_pair *n = gosr_realloc(t->u.t.items,
                                    (t->u.t.len + 1) * sizeof *n);
    if (!n) {
        gosr_sbv_free(&key);
        gosr_sbv_free(&val);
        return GOSR_ENOMEM;
    }
    t->u.t.items = n;
    n[t->u.t.len++] = (gosr_sbv_pair){key, val};
    return GOSR_OK;
}

const gosr_sbv *gosr_sbv_table_get(const gosr_sbv *t, const char *key)
{
    if (!t || t->type != GOSR_SBV_TABLE)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < t->u.t.len; i++) {
        const gosr_sbv *k = &t->u.t.items[i].key;
        if (k->type == GOSR_SBV_STR && k->u.s.len == kl &&
            memcmp(k->u.s.p, key, kl) == 0)
            return &t->u.t.items[i].val;
    }
    return NULL;
}

bool gosr_sbv_equal(const gosr_sbv *a, const gosr_sbv *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case GOSR_SBV_NIL: return true;
    case GOSR_SBV_BOOL: return a->u.b == b->u.b;
    case GOSR_SBV_INT: return a->u.i == b->u.i;
    case GOSR_SBV_NUM: return memcmp(&a->u.n, &b->u.n, sizeof a->u.n) == 0;
    case GOSR_SBV_STR:
        return a->u.s.len == b->u.s.len &&
               memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
    case GOSR_SBV_TABLE:
        if (a->u.t.len != b->u.t.len)
            return false;
        for (size_t i = 0; i < a->u.t.len; i++)
            if (!gosr_sbv_equal(&a->u.t.items[i].key, &b->u.t.items[i].key) ||
                !gosr_sbv_equal(&a->u.t.items[i].val, &b->u.t.items[i].val))
                return false;
        return true;
    }
    return false;
}

static void format_str(const gosr_sbv *v, gosr_buf *b)
{
    gosr_buf_append(b, "\"", 1);
    for (size_t i = 0; i < v->u.s.len; i++) {
        unsigned char c = (unsigned char)v->u.s.p[i];
        if (c == '"' || c == '\\')
            gosr_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            gosr_buf_printf(b, "\\u%04x", c);
        else
            gosr_buf_append(b, &c, 1);
    }
    gosr_buf_append(b, "\"", 1);
}

int gosr_sbv_format(const gosr_sbv *v, gosr_buf *b)
{
    switch (v->type) {
    case GOSR_SBV_NIL: return gosr_buf_printf(b, "null");
    case GOSR_SBV_BOOL: return gosr_buf_printf(b, v->u.b ? "true" : "false");
    case GOSR_SBV_INT: return gosr_buf_printf(b, "%lld", (long long)v->u.i);
    case GOSR_SBV_NUM:
        if (!isfinite(v->u.n))
            return gosr_buf_printf(b, "\"%g\"", v->u.n);
        return gosr_buf_printf(b, "%.17g", v->u.n);
    case GOSR_SBV_STR: format_str(v, b); return GOSR_OK;
    case GOSR_SBV_TABLE:
        gosr_buf_append(b, "{", 1);
        for (size_t i = 0; i < v->u.t.len; i++) {
            if (i)
                gosr_buf_append(b, ",", 1);
            const gosr_sbv *k = &v->u.t.items[i].key;
            if (k->type == GOSR_SBV_STR) {
                format_str(k, b);
            } else {
                gosr_buf_append(b, "\"", 1);
                gosr_sbv_format(k, b);
                gosr_buf_append(b, "\"", 1);
            }
            gosr_buf_append(b, ":", 1);
            gosr_sbv_format(&v->u.t.items[i].val, b);
        }
        return gosr_buf_append(b, "}", 1);
    }
    return GOSR_EINVAL;
}

/* ---- Lua -> host -------------------------------------------------------- */

/* Running totals of one copy. */
typedef struct copy_budget {
    const gosr_sbv_limits *lim; /* limits */
    uint64_t nodes;             /* values copied */
    uint64_t bytes;             /* string bytes copied */
    gosr_error *err;            /* detail on failure */
} copy_budget;

static int key_rank(const gosr_sbv *k)
{
    return k->type == GOSR_SBV_INT || k->type == GOSR_SBV_NUM ? 0
           : k->type == GOSR_SBV_STR                          ? 1
                                                              : 2;
}

static double key_num(const gosr_sbv *k)
{
    return k->type == GOSR_SBV_INT ? (double)k->u.i : k->u.n;
}

static int pair_cmp(const void *pa, const void *pb)
{
    const gosr_sbv *a = &((const gosr_sbv_pair *)pa)->key;
    const gosr_sbv *b = &((const gosr_sbv_pair *)pb)->key;
    int ra = key_rank(a), rb = key_rank(b);
    if (ra != rb)
        return ra - rb;
    if (ra == 0) {
        if (a->type == GOSR_SBV_INT && b->type == GOSR_SBV_INT)
            return (a->u.i > b->u.i) - (a->u.i < b->u.i);
        double x = key_num(a), y = key_num(b);
        return (x > y) - (x < y);
    }
    if (ra == 1) {
        size_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
        int c = memcmp(a->u.s.p, b->u.s.p, n);
        if (c)
            return c;
        return (a->u.s.len > b->u.s.len) - (a->u.s.len < b->u.s.len);
    }
    return (int)a->u.b - (int)b->u.b;
}

static int to_value(lua_State *L, int idx, copy_budget *cb, uint32_t depth,
                    gosr_sbv *out);

static int to_table(lua_State *L, int idx, copy_budget *cb, uint32_t depth,
                    gosr_sbv *out)
{
    if (depth >= cb->lim->max_depth)
        return gosr_error_set(cb->err, GOSR_ETOOBIG, "value_too_deep",
                              "tables nested deeper than %u",
                              cb->lim->max_depth);
    if (!lua_checkstack(L, 4))
        return gosr_error_set(cb->err, GOSR_ENOMEM, "out_of_memory",
                              "Lua stack exhausted");
    *out = (gosr_sbv){.type = GOSR_SBV_TABLE};
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt != LUA_TNUMBER && kt != LUA_TSTRING && kt != LUA_TBOOLEAN) {
            lua_pop(L, 2);
            return gosr_error_set(cb->err, GOSR_EINVAL, "unsupported_key",
                                  "table key of type %s cannot be copied",
                                  lua_typename(L, kt));
        }
        gosr_sbv k, v;
        int rc = to_value(L, lua_gettop(L) - 1, cb, depth + 1, &k);
        if (rc == GOSR_OK) {
            rc = to_value(L, lua_gettop(L), cb, depth + 1, &v);
            if (rc != GOSR_OK)
                gosr_sbv_free(&k);
            else
                rc = gosr_sbv_table_set(out, k, v);
        }
        lua_pop(L, 1);
        if (rc != GOSR_OK) {
            lua_pop(L, 1);
            return gosr_error_wrap(cb->err, rc, "out_of_memory",
                                   "table copy failed");
        }
    }
    if (out->u.t.len > 1)
        qsort(out->u.t.items, out->u.t.len, sizeof(gosr_sbv_pair), pair_cmp);
    return GOSR_OK;
}

static int to_value(lua_State *L, int idx, copy_budget *cb, uint32_t depth,
                    gosr_sbv *out)
{
    *out = (gosr_sbv){0};
    if (++cb->nodes > cb->lim->max_nodes)
        return gosr_error_set(cb->err, GOSR_ETOOBIG, "value_too_big",
                              "more than %u values", cb->lim->max_nodes);
    int t = lua_type(L, idx);
    switch (t) {
    case LUA_TNIL: return GOSR_OK;
    case LUA_TBOOLEAN: *out = gosr_sbv_bool(lua_toboolean(L, idx)); return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            *out = gosr_sbv_int(lua_tointeger(L, idx));
        else
            *out = gosr_sbv_num(lua_tonumber(L, idx));
        return GOSR_OK;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        cb->bytes += len;
        if (cb->bytes > cb->lim->max_bytes)
            return gosr_error_set(cb->err, GOSR_ETOOBIG, "value_too_big",
                                  "more than %llu string bytes",
                                  (unsigned long long)cb->lim->max_bytes);
        if (gosr_sbv_str(out, s, len) != GOSR_OK)
            return gosr_error_set(cb->err, GOSR_ENOMEM, "out_of_memory",
                                  "string copy");
        return GOSR_OK;
    }
    case LUA_TTABLE: {
        int rc = to_table(L, lua_absindex(L, idx), cb, depth, out);
        if (rc != GOSR_OK)
            gosr_sbv_free(out);
        return rc;
    }
    default:
        return gosr_error_set(cb->err, GOSR_EINVAL, "unsupported_type",
                              "a %s value cannot cross the sandbox boundary",
                              lua_typename(L, t));
    }
}

int sb__to_value(lua_State *L, int idx, const gosr_sbv_limits *lim,
                 gosr_sbv *out, gosr_error *err)
{
    copy_budget cb = {lim, 0, 0, err};
    return to_value(L, lua_absindex(L, idx), &cb, 0, out);
}

/* ---- host -> Lua -------------------------------------------------------- */

static void push_raw(lua_State *L, const gosr_sbv *v, copy_budget *cb,
                     uint32_t depth)
{
    if (++cb->nodes > cb->lim->max_nodes || depth > cb->lim->max_depth)
        luaL_error(L, "value too big");
    luaL_checkstack(L, 3, "value too deep");
    switch (v->type) {
    case GOSR_SBV_NIL: lua_pushnil(L); break;
    case GOSR_SBV_BOOL: lua_pushboolean(L, v->u.b); break;
    case GOSR_SBV_INT: lua_pushinteger(L, v->u.i); break;
    case GOSR_SBV_NUM: lua_pushnumber(L, v->u.n); break;
    case GOSR_SBV_STR:
        cb->bytes += v->u.s.len;
        if (cb->bytes > cb->lim->max_bytes)
            luaL_error(L, "value too big");
        lua_pushlstring(L, v->u.s.p, v->u.s.len);
        break;
    case GOSR_SBV_TABLE:
        lua_createtable(L, 0, (int)(v->u.t.len < 1024 ? v->u.t.len : 1024));
        for (size_t i = 0; i < v->u.t.len; i++) {
            const gosr_sbv_pair *p = &v->u.t.items[i];
            if (p->key.type == GOSR_SBV_NIL || p->key.type == GOSR_SBV_TABLE ||
                (p->key.type == GOSR_SBV_NUM && isnan(p->key.u.n)))
                luaL_error(L, "bad table key");
            push_raw(L, &p->key, cb, depth + 1);
            push_raw(L, &p->val, cb, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    default: luaL_error(L, "bad value type");
    }
}

static int push_protected(lua_State *L)
{
    const gosr_sbv *v = lua_touserdata(L, 1);
    copy_budget *cb = lua_touserdata(L, 2);
    lua_settop(L, 0);
    push_raw(L, v, cb, 0);
    return 1;
}

int sb__push_value(lua_State *L, const gosr_sbv *v,
                   const gosr_sbv_limits *lim)
{
    copy_budget cb = {lim, 0, 0, NULL};
    if (!lua_checkstack(L, 4))
        return GOSR_ENOMEM;
    lua_pushcfunction(L, push_protected);
    lua_pushlightuserdata(L, (void *)v);
    lua_pushlightuserdata(L, &cb);
    int st = lua_pcall(L, 2, 1, 0);
    if (st == LUA_OK)
        return GOSR_OK;
    lua_pop(L, 1);
    return st == LUA_ERRMEM ? GOSR_ENOMEM : GOSR_ETOOBIG;
}
