/*
 * strlib.c — budget-bounded replacements for the C library functions that
 * can do unbounded work without returning to the VM: a Lua 5.4 pattern
 * matcher (find, match, gmatch, gsub) that charges fuel and polls the kill
 * flag every SB_CHECK_STEPS steps, string.rep (empty strings, huge counts,
 * pre-checked against the memory cap), string.format (charged by output),
 * and table.concat, table.unpack (range cap), table.move and table.sort
 * (heapsort, comparator calls bounded by the hook).
 * Design: docs/sandbox.md ("Bounded library functions").
 *
 * Sections: matcher, find/match/gmatch/gsub, rep and format, string table,
 * table functions.
 */
#include "sandbox/sb_int.h"

#include <ctype.h>
#include <string.h>

#define MAXCAP 32
#define CAP_UNF (-1)
#define CAP_POS (-2)
#define ESC '%'
#define SPECIALS "^$*+?.([%-"
#define MAXDEPTH 200

#define U(c) ((unsigned char)(c))

/* ---- matcher ------------------------------------------------------------ */

/* State of one match attempt. Strings are borrowed from the Lua stack. */
typedef struct mstate {
    const char *src_init; /* subject start */
    const char *src_end;  /* subject end */
    const char *p_end;    /* pattern end */
    lua_State *L;         /* for errors and fuel */
    int level;            /* captures open or closed */
    int depth;            /* remaining recursion */
    uint32_t steps;       /* steps since the last budget check */
    struct {
        const char *init; /* capture start */
        ptrdiff_t len;    /* length, CAP_UNF or CAP_POS */
    } cap[MAXCAP];        /* captures */
} mstate;

static void step(mstate *ms)
{
    if (++ms->steps >= SB_CHECK_STEPS) {
        ms->steps = 0;
        sb__charge(ms->L, SB_CHECK_STEPS);
    }
}

static const char *class_end(mstate *ms, const char *p)
{
    if (*p++ == ESC) {
        if (p >= ms->p_end)
            luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (p[-1] == '[') {
        if (*p == '^')
            p++;
        do {
            if (p >= ms->p_end)
                luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*(p++) == ESC && p < ms->p_end)
                p++;
        } while (*p != ']');
        return p + 1;
    }
    return p;
}

static int match_class(int c, int cl)
{
    int r;
    switch (tolower(cl)) {
    case 'a': r = isalpha(c); break;
    case 'c': r = iscntrl(c); break;
    case 'd': r = isdigit(c); break;
    case 'g': r = isgraph(c); break;
    case 'l': r = islower(c); break;
    case 'p': r = ispunct(c); break;
    case 's': r = isspace(c); break;
    case 'u': r = isupper(c); break;
    case 'w': r = isalnum(c); break;
    case 'x': r = isxdigit(c); break;
    case 'z': r = (c == 0); break; /* deprecated but still in 5.4 */
    default: return cl == c;
    }
    if (isupper(cl))
        r = !r;
    return r != 0;
}

/* p at '[', ec at the closing ']'. */
static int match_bracket(int c, const char *p, const char *ec)
{
    int sig = 1;
    if (p[1] == '^') {
        sig = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == ESC) {
            p++;
            if (match_class(c, U(*p)))
                return sig;
        } else if (p[1] == '-' && p + 2 < ec) {
            p += 2;
            if (U(p[-2]) <= c && c <= U(*p))
                return sig;
        } else if (U(*p) == c) {
            return sig;
        }
    }
    return !sig;
}

static int single_match(mstate *ms, const char *s, const char *p,
                        const char *ep)
{
    if (s >= ms->src_end)
        return 0;
    int c = U(*s);
    switch (*p) {
    case '.': return 1;
    case ESC: return match_class(c, U(p[1]));
    case '[': return match_bracket(c, p, ep - 1);
    default: return U(*p) == c;
    }
}

static const char *do_match(mstate *ms, const char *s, const char *p);

static const char *match_balance(mstate *ms, const char *s, const char *p)
{
    if (p + 1 >= ms->p_end)
        luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= ms->src_end || *s != *p)
        return NULL;
    int b = *p, e = p[1], cont = 1;
    while (++s < ms->src_end) {
        step(ms);
        if (*s == e) {
            if (--cont == 0)
                return s + 1;
        } else if (*s == b) {
            cont++;
        }
    }
    return NULL;
}

static const char *max_expand(mstate *ms, const char *s, const char *p,
                              const char *ep)
{
    ptrdiff_t i = 0;
    while (single_match(ms, s + i, p, ep)) {
        i++;
        step(ms);
    }
    for (; i >= 0; i--) {
        const char *r = do_match(ms, s + i, ep + 1);
        if (r)
            return r;
    }
    return NULL;
}

static const char *min_expand(mstate *ms, const char *s, const char *p,
                              const char *ep)
{
    for (;;) {
        const char *r = do_match(ms, s, ep + 1);
        if (r)
            return r;
        if (!single_match(ms, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *start_capture(mstate *ms, const char *s, const char *p,
                                 int what)
{
    if (ms->level >= MAXCAP)
        luaL_error(ms->L, "too many captures");
    ms->cap[ms->level].init = s;
    ms->cap[ms->level].len = what;
    ms->level++;
    const char *r = do_match(ms, s, p);
    if (!r)
        ms->level--;
    return r;
}

static const char *end_capture(mstate *ms, const char *s, const char *p)
{
    int l = ms->level - 1;
    while (l >= 0 && ms->cap[l].len != CAP_UNF)
        l--;
    if (l < 0)
        luaL_error(ms->L, "invalid pattern capture");
    ms->cap[l].len = s - ms->cap[l].init;
    const char *r = do_match(ms, s, p);
    if (!r)
        ms->cap[l].len = CAP_UNF;
    return r;
}

static const char *match_capture(mstate *ms, const char *s, int l)
{
    l -= '1';
    if (l < 0 || l >= ms->level || ms->cap[l].len == CAP_UNF)
        luaL_error(ms->L, "invalid capture index %%%d", l + 1);
    ptrdiff_t len = ms->cap[l].len;
    if (len >= 0 && ms->src_end - s >= len &&
        memcmp(ms->cap[l].init, s, (size_t)len) == 0)
        return s + len;
    return NULL;
}

static const char *match_frontier(mstate *ms, const char *s, const char **pp)
{
    const char *p = *pp + 2;
    if (*p != '[')
        luaL_error(ms->L, "missing '[' after '%%f' in pattern");
    const char *ep = class_end(ms, p);
    int prev = (s == ms->src_init) ? '\0' : U(s[-1]);
    int cur = (s < ms->src_end) ? U(*s) : '\0';
    if (!match_bracket(prev, p, ep - 1) && match_bracket(cur, p, ep - 1)) {
        *pp = ep;
        return s;
    }
    return NULL;
}

/* Matches a single pattern item with its quantifier; returns the match
 * end, or NULL; sets *next to the pattern position to continue with (or
 * NULL when the item's result is final). */
static const char *match_item(mstate *ms, const char *s, const char *p,
                              const char **next)
{
    const char *ep = class_end(ms, p);
    *next = NULL;
    if (!single_match(ms, s, p, ep)) {
        if (*ep == '*' || *ep == '?' || *ep == '-') {
            *next = ep + 1;
            return s;
        }
        return NULL;
    }
    switch (*ep) {
    case '?': {
        const char *r = do_match(ms, s + 1, ep + 1);
        if (r)
            return r;
        *next = ep + 1;
        return s;
    }
    case '+': return max_expand(ms, s + 1, p, ep);
    case '*': return max_expand(ms, s, p, ep);
    case '-': return min_expand(ms, s, p, ep);
    default: *next = ep; return s + 1;
    }
}

/* Nested matches (gsub callbacks that match again) multiply recursion;
 * bound the C stack the matcher may use in one call. */
static void stack_guard(mstate *ms)
{
    char here;
    const char *base = sb_of(ms->L)->stack_base;
    if (base && (uintptr_t)base - (uintptr_t)&here > SB_STACK_LIMIT)
        luaL_error(ms->L, "pattern too complex (C stack)");
}

static const char *do_match(mstate *ms, const char *s, const char *p)
{
    if (ms->depth-- == 0)
        luaL_error(ms->L, "pattern too complex");
    if ((ms->depth & 15) == 0)
        stack_guard(ms);
    while (s && p != ms->p_end) {
        step(ms);
        if (*p == '(') {
            s = p[1] == ')' ? start_capture(ms, s, p + 2, CAP_POS)
                            : start_capture(ms, s, p + 1, CAP_UNF);
            break;
        }
        if (*p == ')') {
            s = end_capture(ms, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == ms->p_end) {
            s = (s == ms->src_end) ? s : NULL;
            break;
        }
        if (*p == ESC && p[1] == 'b') {
            s = match_balance(ms, s, p + 2);
            p += 4;
            continue;
        }
        if (*p == ESC && p[1] == 'f') {
            s = match_frontier(ms, s, &p);
            continue;
        }
        if (*p == ESC && isdigit(U(p[1]))) {
            s = match_capture(ms, s, U(p[1]));
            p += 2;
            continue;
        }
        const char *next;
        s = match_item(ms, s, p, &next);
        if (!next)
            break;
        p = next;
    }
    ms->depth++;
    return s;
}

static void prep_state(mstate *ms, lua_State *L, const char *s, size_t ls,
                       const char *p, size_t lp)
{
    ms->L = L;
    ms->src_init = s;
    ms->src_end = s + ls;
    ms->p_end = p + lp;
    ms->steps = 0;
}

static void reprep(mstate *ms)
{
    ms->level = 0;
    ms->depth = MAXDEPTH;
}

/* ---- captures and find/match/gmatch/gsub -------------------------------- */

static void push_one(mstate *ms, int i, const char *s, const char *e)
{
    if (i >= ms->level) {
        if (i != 0)
            luaL_error(ms->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(ms->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t l = ms->cap[i].len;
    if (l == CAP_UNF)
        luaL_error(ms->L, "unfinished capture");
    if (l == CAP_POS)
        lua_pushinteger(ms->L, (ms->cap[i].init - ms->src_init) + 1);
    else
        lua_pushlstring(ms->L, ms->cap[i].init, (size_t)l);
}

static int push_captures(mstate *ms, const char *s, const char *e)
{
    int n = (ms->level == 0 && s) ? 1 : ms->level;
    luaL_checkstack(ms->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_one(ms, i, s, e);
    return n;
}

static size_t posrel(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0)
        return 1;
    if (pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

static bool no_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (p[i] && strchr(SPECIALS, p[i]))
            return false;
    return true;
}

static int find_aux(lua_State *L, bool find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = posrel(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || no_specials(p, lp))) {
        sb__charge(L, (ls - init) / 16 + 1);
        const char *f = lp == 0 ? s + init : memmem(s + init, ls - init, p, lp);
        if (f) {
            lua_pushinteger(L, (f - s) + 1);
            lua_pushinteger(L, (lua_Integer)((size_t)(f - s) + lp));
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }
    mstate ms;
    bool anchor = *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    prep_state(&ms, L, s, ls, p, lp);
    const char *s1 = s + init;
    do {
        reprep(&ms);
        const char *e = do_match(&ms, s1, p);
        if (e) {
            if (!find)
                return push_captures(&ms, s1, e);
            lua_pushinteger(L, (s1 - s) + 1);
            lua_pushinteger(L, e - s);
            return push_captures(&ms, NULL, 0) + 2;
        }
        step(&ms);
    } while (s1++ < ms.src_end && !anchor);
    luaL_pushfail(L);
    return 1;
}

static int sb_find(lua_State *L) { return find_aux(L, true); }
static int sb_match(lua_State *L) { return find_aux(L, false); }

/* State of a gmatch iterator, a userdata upvalue of the closure. */
typedef struct gmatch_state {
    const char *src;       /* current position */
    const char *p;         /* pattern */
    const char *lastmatch; /* end of the last match */
    mstate ms;             /* matcher state */
} gmatch_state;

static int gmatch_aux(lua_State *L)
{
    gmatch_state *gm = lua_touserdata(L, lua_upvalueindex(3));
    gm->ms.L = L;
    for (const char *src = gm->src; src <= gm->ms.src_end; src++) {
        reprep(&gm->ms);
        step(&gm->ms);
        const char *e = do_match(&gm->ms, src, gm->p);
        if (e && e != gm->lastmatch) {
            gm->src = gm->lastmatch = e;
            return push_captures(&gm->ms, src, e);
        }
    }
    return 0;
}

static int sb_gmatch(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = posrel(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);
    gmatch_state *gm = lua_newuserdatauv(L, sizeof *gm, 0);
    if (init > ls)
        init = ls + 1;
    prep_state(&gm->ms, L, s, ls, p, lp);
    gm->src = s + init;
    gm->p = p;
    gm->lastmatch = NULL;
    lua_pushcclosure(L, gmatch_aux, 3);
    return 1;
}

static void add_s(mstate *ms, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = ms->L;
    size_t l;
    const char *news = lua_tolstring(L, 3, &l);
    const char *p;
    while ((p = memchr(news, ESC, l)) != NULL) {
        luaL_addlstring(b, news, (size_t)(p - news));
        p++;
        if (*p == ESC) {
            luaL_addchar(b, *p);
        } else if (*p == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit(U(*p))) {
            push_one(ms, *p - '1', s, e);
            luaL_tolstring(L, -1, NULL);
            lua_remove(L, -2);
            luaL_addvalue(b);
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", ESC);
        }
        l -= (size_t)(p + 1 - news);
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

static int add_value(mstate *ms, luaL_Buffer *b, const char *s,
                     const char *e, int tr)
{
    lua_State *L = ms->L;
    if (tr == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(ms, s, e);
        lua_call(L, n, 1);
    } else if (tr == LUA_TTABLE) {
        push_one(ms, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_s(ms, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)",
                          luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int sb_gsub(lua_State *L)
{
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *lastmatch = NULL;
    int tr = lua_type(L, 3);
    lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING ||
                            tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                     3, "string/function/table");
    bool anchor = *p == '^';
    lua_Integer n = 0;
    int changed = 0;
    if (anchor) {
        p++;
        lp--;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    mstate ms;
    prep_state(&ms, L, src, srcl, p, lp);
    while (n < max_s) {
        reprep(&ms);
        step(&ms);
        const char *e = do_match(&ms, src, p);
        if (e && e != lastmatch) {
            n++;
            changed = add_value(&ms, &b, src, e, tr) | changed;
            src = lastmatch = e;
        } else if (src < ms.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor)
            break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

/* ---- rep and format ----------------------------------------------------- */

static int sb_rep(lua_State *L)
{
    gosr_sandbox *sb = sb_of(L);
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    uint64_t unit = (uint64_t)l + lsep;
    uint64_t room = sb->mem_limit > sb->mem_used ? sb->mem_limit - sb->mem_used
                                                 : 0;
    if ((uint64_t)n > room / unit && (uint64_t)n <= sb->mem_limit / unit) {
        lua_gc(L, LUA_GCCOLLECT); /* garbage may leave room */
        room = sb->mem_limit > sb->mem_used ? sb->mem_limit - sb->mem_used : 0;
    }
    if ((uint64_t)n > room / unit)
        sb__kill(L, GOSR_SB_MEMORY,
                 "string.rep of %lld x %llu bytes exceeds the memory cap",
                 (long long)n, (unsigned long long)unit);
    uint64_t full = unit * (uint64_t)n;
    sb__charge(L, full / 64 + 1);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, (size_t)full);
    memcpy(out, s, l);
    memcpy(out + l, sep, lsep);
    for (uint64_t done = unit; done < full;) {
        uint64_t k = full - done < done ? full - done : done;
        memcpy(out + done, out, (size_t)k);
        done += k;
    }
    luaL_pushresultsize(&b, (size_t)(full - lsep));
    return 1;
}

static int sb_format(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, 1);
    size_t len;
    lua_tolstring(L, -1, &len);
    sb__charge(L, len / 16 + 1);
    return 1;
}

/* Wraps a C function doing O(len(arg 1)) work: charges the length before
 * calling the original (upvalue 1), so fuel bounds it too. */
static int charge_len(lua_State *L)
{
    size_t len = 0;
    if (lua_type(L, 1) == LUA_TSTRING)
        lua_tolstring(L, 1, &len);
    sb__charge(L, len / 32 + 1);
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

void sb__wrap_charged(lua_State *L, const char *const *names)
{
    for (; *names; names++) {
        lua_getfield(L, -1, *names);
        lua_pushcclosure(L, charge_len, 1);
        lua_setfield(L, -2, *names);
    }
}

/* ---- the string table --------------------------------------------------- */

void sb__open_string(lua_State *L)
{
    static const char *const keep[] = {"byte", "char", "len", "lower",
        "upper", "reverse", "sub", "pack", "packsize", "unpack", NULL};
    static const luaL_Reg fns[] = {
        {"find", sb_find}, {"match", sb_match}, {"gmatch", sb_gmatch},
        {"gsub", sb_gsub}, {"rep", sb_rep}, {NULL, NULL}};
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "string");
    lua_newtable(L);
    for (const char *const *k = keep; *k; k++) {
        lua_getfield(L, -2, *k);
        lua_setfield(L, -2, *k);
    }
    luaL_setfuncs(L, fns, 0);
    static const char *const charged[] = {"lower", "upper", "reverse",
                                          "byte", "unpack", NULL};
    sb__wrap_charged(L, charged);
    lua_getfield(L, -2, "format");
    lua_pushcclosure(L, sb_format, 1);
    lua_setfield(L, -2, "format");
    /* Trap: string.dump, ("").dump and getmetatable("").__index.dump. */
    static const char *const trap[] = {"dump", NULL};
    sb__set_trap(L, trap);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1); /* the real string metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
    lua_remove(L, -2); /* original string table */
    lua_remove(L, -2); /* package.loaded */
}

/* ---- table functions ---------------------------------------------------- */

static void charge_every(lua_State *L, lua_Integer i)
{
    if ((i & (SB_CHECK_STEPS - 1)) == 0)
        sb__charge(L, SB_CHECK_STEPS);
}

static int sb_concat(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t lsep;
    const char *sep = luaL_optlstring(L, 2, "", &lsep);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    lua_Integer last = luaL_opt(L, luaL_checkinteger, 4, luaL_len(L, 1));
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (lua_Integer k = 1; i <= last; i++, k++) {
        charge_every(L, k);
        lua_geti(L, 1, i);
        if (!lua_isstring(L, -1))
            return luaL_error(L, "invalid value (%s) at index %I in table "
                                 "for 'concat'", luaL_typename(L, -1),
                              (LUAI_UACINT)i);
        luaL_addvalue(&b);
        if (i == last)
            break;
        luaL_addlstring(&b, sep, lsep);
    }
    luaL_pushresult(&b);
    return 1;
}

static int sb_unpack(lua_State *L)
{
    lua_Integer i = luaL_optinteger(L, 2, 1);
    lua_Integer e = luaL_opt(L, luaL_checkinteger, 3, luaL_len(L, 1));
    if (i > e)
        return 0;
    lua_Unsigned n = (lua_Unsigned)e - (lua_Unsigned)i;
    if (n >= SB_UNPACK_MAX || !lua_checkstack(L, (int)(++n)))
        return luaL_error(L, "too many results to unpack (limit %d)",
                          SB_UNPACK_MAX);
    sb__charge(L, n);
    for (; i < e; i++)
        lua_geti(L, 1, i);
    lua_geti(L, 1, e);
    return (int)n;
}

static int sb_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, tt, LUA_TTABLE);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3,
                      "too many elements to move");
        lua_Integer n = e - f;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n, 4,
                      "destination wrap around");
        bool fwd = t > e || t <= f ||
                   (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ));
        for (lua_Integer k = 0; k <= n; k++) {
            lua_Integer i = fwd ? k : n - k;
            charge_every(L, k + 1);
            lua_geti(L, 1, f + i);
            lua_seti(L, tt, t + i);
        }
    }
    lua_pushvalue(L, tt);
    return 1;
}

/* Sort state: the table at 1, optional comparator at 2. */
static bool sort_less(lua_State *L, lua_Integer a, lua_Integer b,
                      lua_Integer *cmp)
{
    charge_every(L, ++*cmp);
    bool fn = lua_type(L, 2) == LUA_TFUNCTION;
    if (fn)
        lua_pushvalue(L, 2);
    lua_geti(L, 1, a);
    lua_geti(L, 1, b);
    bool r;
    if (fn) {
        lua_call(L, 2, 1);
        r = lua_toboolean(L, -1);
        lua_pop(L, 1);
    } else {
        r = lua_compare(L, -2, -1, LUA_OPLT);
        lua_pop(L, 2);
    }
    return r;
}

static void sort_swap(lua_State *L, lua_Integer a, lua_Integer b)
{
    lua_geti(L, 1, a);
    lua_geti(L, 1, b);
    lua_seti(L, 1, a);
    lua_seti(L, 1, b);
}

static void sift_down(lua_State *L, lua_Integer root, lua_Integer end,
                      lua_Integer *cmp)
{
    while (2 * root <= end) {
        lua_Integer child = 2 * root;
        if (child + 1 <= end && sort_less(L, child, child + 1, cmp))
            child++;
        if (!sort_less(L, root, child, cmp))
            return;
        sort_swap(L, root, child);
        root = child;
    }
}

/* Numeric keys of the fast path: all integers or all floats. */
typedef union sort_num {
    lua_Integer i; /* when every element is an integer */
    lua_Number f;  /* when every element is a float */
} sort_num;

static bool num_less(const sort_num *a, const sort_num *b, bool ints)
{
    return ints ? a->i < b->i : a->f < b->f;
}

/* Bottom-up merge sort of a[0..n) using tmp, charging fuel per pass (a
 * pass is O(n) C work, so kills land within one pass). Result in a. */
static void merge_sort(lua_State *L, sort_num *a, sort_num *tmp, size_t n,
                       bool ints)
{
    sort_num *src = a, *dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        sb__charge(L, n);
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n;
            size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                dst[o++] = num_less(&src[j], &src[i], ints) ? src[j++]
                                                            : src[i++];
            while (i < mid)
                dst[o++] = src[i++];
            while (j < hi)
                dst[o++] = src[j++];
        }
        sort_num *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

/* Sorts a plain array of only integers or only floats in C. Returns false
 * (nothing changed) when the table does not qualify. */
static bool sort_fast(lua_State *L, lua_Integer n)
{
    gosr_sandbox *sb = sb_of(L);
    uint64_t need = (uint64_t)n * 2 * sizeof(sort_num) + 64;
    if (lua_getmetatable(L, 1)) {
        lua_pop(L, 1);
        return false;
    }
    if (sb->mem_used + need > sb->mem_limit || n > (1 << 26))
        return false;
    sort_num *a = lua_newuserdatauv(L, (size_t)need, 0);
    int kind = 0; /* 1 = integers, 2 = floats */
    for (lua_Integer i = 1; i <= n; i++) {
        int t = lua_rawgeti(L, 1, i);
        int k = t != LUA_TNUMBER ? 3 : lua_isinteger(L, -1) ? 1 : 2;
        if (kind && k != kind)
            k = 3;
        if (k == 3) {
            lua_pop(L, 2);
            return false;
        }
        kind = k;
        if (k == 1)
            a[i - 1].i = lua_tointeger(L, -1);
        else
            a[i - 1].f = lua_tonumber(L, -1);
        lua_pop(L, 1);
        charge_every(L, i);
    }
    merge_sort(L, a, a + n, (size_t)n, kind == 1);
    for (lua_Integer i = 1; i <= n; i++) {
        if (kind == 1)
            lua_pushinteger(L, a[i - 1].i);
        else
            lua_pushnumber(L, a[i - 1].f);
        lua_rawseti(L, 1, i);
    }
    sb__charge(L, (uint64_t)n);
    lua_pop(L, 1);
    return true;
}

static int sb_sort(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    if (n > 1 && lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        if (sort_fast(L, n))
            return 0;
    }
    if (n > 1) {
        luaL_argcheck(L, n < INT32_MAX, 1, "array too big");
        if (!lua_isnoneornil(L, 2))
            luaL_checktype(L, 2, LUA_TFUNCTION);
        lua_settop(L, 2);
        lua_Integer cmp = 0;
        for (lua_Integer s = n / 2; s >= 1; s--)
            sift_down(L, s, n, &cmp);
        for (lua_Integer end = n; end > 1; end--) {
            sort_swap(L, 1, end);
            sift_down(L, 1, end - 1, &cmp);
        }
    }
    return 0;
}

void sb__patch_table(lua_State *L)
{
    static const luaL_Reg fns[] = {{"concat", sb_concat},
                                   {"unpack", sb_unpack},
                                   {"move", sb_move},
                                   {"sort", sb_sort},
                                   {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
