/*
 * test_sandbox.c — functional tests of the sandbox: library conformance
 * against plain Lua 5.4 (patterns, rep, format, table functions), the
 * environment whitelist, determinism of results and fuel, the RNG, the
 * capability host API (grants, argument checks, quotas), value copies,
 * state migration, isolation, the mod API, the worker pool, allocation
 * failure injection, and error/kill semantics.
 * Design: docs/sandbox.md.
 */
#include "gosr/sandbox.h"
#include "harness.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>

static gosr_sandbox *mk(const gosr_sandbox_config *cfg)
{
    gosr_sandbox *sb = NULL;
    gosr_error err = {0};
    int rc = gosr_sandbox_create(cfg, &sb, &err);
    if (rc != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "create: %s", err.detail);
    return sb;
}

/* Loads src and returns its result (caller frees). */
static int eval(gosr_sandbox *sb, const char *src, gosr_sbv *ret)
{
    gosr_error err = {0};
    int rc = gosr_sandbox_load(sb, src, strlen(src), "=test", ret, &err);
    if (rc != GOSR_OK && getenv("GOSR_TEST_VERBOSE"))
        fprintf(stderr, "eval: %s: %s\n", err.reason, err.detail);
    return rc;
}

static char *read_lua(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/sandbox/lua/%s", GOSR_SOURCE_DIR,
             name);
    uint8_t *data = NULL;
    size_t len;
    if (gosr_file_read_all(path, 1u << 20, &data, &len) != GOSR_OK)
        return NULL;
    return (char *)data;
}

/* Runs a script with the stock Lua 5.4 libraries; returns its string
 * result (caller frees). */
static char *plain_lua(const char *src)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    char *out = NULL;
    if (luaL_loadbuffer(L, src, strlen(src), "=test") == LUA_OK && lua_pcall(L, 0, 1, 0) == LUA_OK &&
        lua_type(L, -1) == LUA_TSTRING)
        out = gosr_strdup(lua_tostring(L, -1));
    lua_close(L);
    return out;
}

static void conformance(const char *file, gosr_sandbox_mode mode)
{
    char *src = read_lua(file);
    REQUIRE(src);
    char *want = plain_lua(src);
    REQUIRE(want);
    gosr_sandbox_config cfg = {.mode = mode};
    gosr_sandbox *sb = mk(&cfg);
    gosr_sbv ret = {0};
    CHECK_OK(eval(sb, src, &ret));
    CHECK_EQ(ret.type, GOSR_SBV_STR);
    if (ret.type == GOSR_SBV_STR && strcmp(ret.u.s.p, want) != 0) {
        size_t i = 0;
        while (ret.u.s.p[i] && ret.u.s.p[i] == want[i])
            i++;
        size_t from = i > 60 ? i - 60 : 0;
        gosr_test_fail(__FILE__, __LINE__,
                       "%s differs at %zu:\n sandbox: %.160s\n lua5.4:  %.160s",
                       file, i, ret.u.s.p + from, want + from);
    }
    gosr_sbv_free(&ret);
    gosr_sandbox_destroy(sb);
    gosr_free(want);
    gosr_free(src);
}

GOSR_TEST(pattern_conformance)
{
    conformance("patterns.lua", GOSR_SANDBOX_DETERMINISTIC);
    conformance("patterns.lua", GOSR_SANDBOX_PRODUCTION);
}

GOSR_TEST(library_conformance)
{
    conformance("libs.lua", GOSR_SANDBOX_DETERMINISTIC);
    conformance("libs.lua", GOSR_SANDBOX_PRODUCTION);
}

GOSR_TEST(environment_whitelist)
{
    gosr_sandbox *sb = mk(NULL);
    REQUIRE(sb);
    const char *src =
        "local names = {}\n"
        "for k, v in pairs(_G) do\n"
        "  if type(v) == 'table' and k ~= '_G' then\n"
        "    for k2 in pairs(v) do names[#names + 1] = k .. '.' .. k2 end\n"
        "  else names[#names + 1] = k end\n"
        "end\n"
        "table.sort(names) return table.concat(names, ' ')";
    gosr_sbv ret = {0};
    CHECK_OK(eval(sb, src, &ret));
    REQUIRE(ret.type == GOSR_SBV_STR);
    const char *forbidden[] = {"io", "debug", "package", "require", "dofile",
                               "loadfile", "string.dump", "os.execute",
                               "os.getenv", "os.exit", "os.remove", NULL};
    char padded[8192];
    snprintf(padded, sizeof padded, " %s ", ret.u.s.p);
    for (const char **f = forbidden; *f; f++) {
        char needle[64];
        snprintf(needle, sizeof needle, " %s ", *f);
        if (strstr(padded, needle))
            gosr_test_fail(__FILE__, __LINE__, "'%s' is reachable", *f);
    }
    const char *present[] = {"pcall", "string.gsub", "table.sort", "os.time",
                             "os.clock", "os.date", "os.difftime",
                             "math.random", "coroutine.wrap", "utf8.char",
                             "collectgarbage", "load", NULL};
    for (const char **p = present; *p; p++) {
        char needle[64];
        snprintf(needle, sizeof needle, " %s ", *p);
        if (!strstr(padded, needle))
            gosr_test_fail(__FILE__, __LINE__, "'%s' is missing", *p);
    }
    gosr_sbv_free(&ret);
    CHECK_OK(eval(sb, "local unpack = unpack or table.unpack local ls = "
                      "loadstring or load return jit == nil and ffi == nil "
                      "and setfenv == nil and select(2, unpack({1, 2})) == 2 "
                      "and ls('return 1')() == 1", &ret));
    CHECK(ret.type == GOSR_SBV_BOOL && ret.u.b);
    CHECK_OK(eval(sb, "return collectgarbage('count') > 0", &ret));
    CHECK(ret.type == GOSR_SBV_BOOL && ret.u.b);
    CHECK_OK(eval(sb, "return load('return 1 + 1')()", &ret));
    CHECK(ret.type == GOSR_SBV_INT && ret.u.i == 2);
    CHECK_OK(eval(sb, "return load('return x', 'c', 't', {x = 7})()", &ret));
    CHECK(ret.type == GOSR_SBV_INT && ret.u.i == 7);
    CHECK_OK(eval(sb, "local f, e = load('return +') return e ~= nil", &ret));
    CHECK(ret.type == GOSR_SBV_BOOL && ret.u.b);
    gosr_sandbox_destroy(sb);
}

static const char *g_det_script =
    "local t = {}\n"
    "for i = 1, 200 do t['k' .. i] = math.random(1, 1000) end\n"
    "local acc = {}\n"
    "for k, v in pairs(t) do acc[#acc + 1] = k .. '=' .. v end\n"
    "local s = table.concat(acc, ',')\n"
    "local co = coroutine.wrap(function() for i = 1, 50 do "
    "coroutine.yield(i) end end)\n"
    "local sum = 0 for i = 1, 50 do sum = sum + co() end\n"
    "local n = select(2, s:gsub('%d+', ''))\n"
    "return s:sub(1, 40) .. '|' .. sum .. '|' .. n .. '|' .. os.time() .. "
    "'|' .. os.date('%Y')\n";

static void det_run(uint64_t seed, gosr_sbv *ret, uint64_t *fuel)
{
    gosr_sandbox_config cfg = {.seed = seed, .name = "det"};
    gosr_sandbox *sb = mk(&cfg);
    gosr_sandbox_tick_begin(sb, 7);
    CHECK_OK(eval(sb, g_det_script, ret));
    *fuel = gosr_sandbox_fuel_used(sb);
    gosr_sandbox_destroy(sb);
}

GOSR_TEST(deterministic_results_and_fuel)
{
    gosr_sbv a = {0}, b = {0}, c = {0};
    uint64_t fa, fb, fc;
    det_run(42, &a, &fa);
    det_run(42, &b, &fb);
    det_run(43, &c, &fc);
    CHECK(gosr_sbv_equal(&a, &b));
    CHECK_EQ(fa, fb);
    CHECK(fa > 1000);
    CHECK(!gosr_sbv_equal(&a, &c)); /* another seed, other numbers */
    gosr_sbv_free(&a);
    gosr_sbv_free(&b);
    gosr_sbv_free(&c);
}

GOSR_TEST(rng_per_tick)
{
    gosr_sandbox_config cfg = {.seed = 1, .name = "m"};
    gosr_sandbox *sb = mk(&cfg);
    REQUIRE(sb);
    const char *src = "return math.random(1, 1 << 40)";
    gosr_sbv r1 = {0}, r2 = {0}, r3 = {0};
    gosr_sandbox_tick_begin(sb, 1);
    CHECK_OK(eval(sb, src, &r1));
    gosr_sandbox_tick_begin(sb, 2);
    CHECK_OK(eval(sb, src, &r2));
    gosr_sandbox_tick_begin(sb, 1);
    CHECK_OK(eval(sb, src, &r3));
    CHECK(!gosr_sbv_equal(&r1, &r2));
    CHECK(gosr_sbv_equal(&r1, &r3));
    CHECK_OK(eval(sb, "local x = math.random() return x >= 0 and x < 1", &r1));
    CHECK(r1.type == GOSR_SBV_BOOL && r1.u.b);
    CHECK_OK(eval(sb, "for i = 1, 1000 do local x = math.random(-3, 3) "
                      "assert(x >= -3 and x <= 3) end return "
                      "math.random(math.mininteger, math.maxinteger) ~= nil",
                  &r1));
    CHECK(r1.type == GOSR_SBV_BOOL && r1.u.b);
    /* A script's reseed is ignored: the host owns the seed. */
    gosr_sandbox_tick_begin(sb, 1);
    CHECK_OK(eval(sb, "math.randomseed(123) return math.random(1, 1 << 40)",
                  &r2));
    CHECK(gosr_sbv_equal(&r2, &r3));
    CHECK_STATUS(eval(sb, "return math.random(5, 1)", &r1), GOSR_EFAULT);
    gosr_sandbox_destroy(sb);
}

GOSR_TEST(capability_groups)
{
    gosr_sandbox_testhost *th;
    REQUIRE(gosr_sandbox_testhost_create(&th) == GOSR_OK);
    gosr_sandbox_config cfg = {
        .host = gosr_sandbox_testhost_host(th),
        .declared_caps = "world.read, world.write,log",
        .granted_caps = "world.read,log,rng",
    };
    gosr_sandbox *sb = mk(&cfg);
    REQUIRE(sb);
    gosr_sbv r = {0};
    CHECK_OK(eval(sb, "return type(world.get) .. type(world.set) .. "
                      "type(rng) .. type(log.info) .. type(test)", &r));
    CHECK_STR(r.u.s.p, "functionnilnilfunctionnil");
    gosr_sbv_free(&r);
    CHECK_OK(eval(sb, "return world.get(3, 4) == world.get(3, 4)", &r));
    CHECK(r.type == GOSR_SBV_BOOL && r.u.b);
    gosr_sandbox_destroy(sb);
    cfg.granted_caps = NULL;
    sb = mk(&cfg);
    CHECK_OK(eval(sb, "return world == nil and log == nil", &r));
    CHECK(r.type == GOSR_SBV_BOOL && r.u.b);
    gosr_sandbox_destroy(sb);
    gosr_sandbox_testhost_destroy(th);
}

GOSR_TEST(host_argument_checks)
{
    gosr_sandbox_testhost *th;
    REQUIRE(gosr_sandbox_testhost_create(&th) == GOSR_OK);
    gosr_sandbox_config cfg = {.host = gosr_sandbox_testhost_host(th),
                               .declared_caps = GOSR_SANDBOX_TEST_CAPS,
                               .granted_caps = GOSR_SANDBOX_TEST_CAPS};
    gosr_sandbox *sb = mk(&cfg);
    REQUIRE(sb);
    const char *bad[] = {"world.get('1', 2)", "world.get(1.5, 2)",
                         "world.get(-1, 2)", "world.get(256, 0)",
                         "world.get(0)", "world.get(0/0, 1)",
                         "world.set(1, 2, 1e10)", "log.info(('x'):rep(2000))",
                         "log.info(setmetatable({}, {__tostring = "
                         "function() return 'x' end}))",
                         "rng.int(5, 1)", "test.echo(print)",
                         "test.echo({f = print})",
                         "test.echo(coroutine.create(print))",
                         "events.emit(('e'):rep(100), 1)", NULL};
    for (const char **b = bad; *b; b++) {
        gosr_error err = {0};
        int rc = gosr_sandbox_load(sb, *b, strlen(*b), "=bad", NULL, &err);
        if (rc != GOSR_EFAULT || !strstr(err.detail, "bad argument"))
            gosr_test_fail(__FILE__, __LINE__, "%s -> %s %s", *b,
                           gosr_status_name(rc), err.detail);
    }
    /* Metamethods are never consulted: the raw table crosses. */
    gosr_sbv r = {0};
    CHECK_OK(eval(sb, "local t = setmetatable({a = 1}, {__index = function() "
                      "error('no') end, __pairs = function() error('no') "
                      "end}) local c = test.echo(t) return c.a + "
                      "(getmetatable(c) == nil and 1 or 100)", &r));
    CHECK(r.type == GOSR_SBV_INT && r.u.i == 2);
    /* Cycles are refused by the depth bound. */
    gosr_error err = {0};
    const char *cyc = "local t = {} t.t = t return test.echo(t)";
    CHECK_STATUS(gosr_sandbox_load(sb, cyc, strlen(cyc), "=c", NULL, &err),
                 GOSR_EFAULT);
    CHECK(!gosr_sandbox_is_dead(sb));
    CHECK_OK(eval(sb, "return test.add(math.maxinteger, 1) == "
                      "math.mininteger", &r));
    CHECK(r.type == GOSR_SBV_BOOL && r.u.b);
    gosr_sandbox_destroy(sb);
    gosr_sandbox_testhost_destroy(th);
}

GOSR_TEST(quotas)
{
    gosr_sandbox_testhost *th;
    REQUIRE(gosr_sandbox_testhost_create(&th) == GOSR_OK);
    gosr_sandbox_config cfg = {.host = gosr_sandbox_testhost_host(th),
                               .declared_caps = "test",
                               .granted_caps = "test",
                               .host_calls_per_tick = 10};
    gosr_sandbox *sb = mk(&cfg);
    REQUIRE(sb);
    gosr_sbv r = {0};
    CHECK_OK(eval(sb, "for i = 1, 10 do test.noop() end return 1", &r));
    gosr_sandbox_tick_begin(sb, 1);
    CHECK_STATUS(eval(sb, "for i = 1, 11 do pcall(test.noop) end", &r),
                 GOSR_EBUDGET);
    CHECK_EQ(gosr_sandbox_fault_get(sb)->reason, GOSR_SB_QUOTA);
    CHECK(gosr_sandbox_is_dead(sb));
    gosr_sandbox_destroy(sb);
    /* Tick fuel: a call over the per-tick budget is refused up front. */
    gosr_sandbox_config c2 = {.tick_fuel = 200000};
    sb = mk(&c2);
    CHECK_OK(eval(sb, "function f() for i = 1, 20000 do end end", &r));
    gosr_sandbox_tick_begin(sb, 1);
    gosr_error err;
    int ok = 0;
    for (int i = 0; i < 20; i++)
        if (gosr_sandbox_call(sb, "f", NULL, 0, NULL, 0, &err) == GOSR_OK)
            ok++;
    CHECK(ok >= 2 && ok < 20);
    CHECK_EQ(gosr_sandbox_fault_get(sb)->reason, GOSR_SB_FUEL);
    gosr_sandbox_tick_begin(sb, 2);
    if (!gosr_sandbox_is_dead(sb))
        CHECK_OK(gosr_sandbox_call(sb, "f", NULL, 0, NULL, 0, &err));
    gosr_sandbox_destroy(sb);
    gosr_sandbox_testhost_destroy(th);
}

GOSR_TEST(values_and_migration)
{
    gosr_sandbox *sb = mk(NULL);
    REQUIRE(sb);
    gosr_sbv r = {0};
    CHECK_OK(eval(sb, "state = {hp = 10, name = 'orc', pos = {1.5, 2}, "
                      "[true] = 'yes', list = {1, 2, 3}}\n"
                      "function tick(a, b) state.hp = state.hp - a return "
                      "state.hp, b end", &r));
    gosr_sbv st = {0};
    CHECK_OK(gosr_sandbox_get_global(sb, "state", &st, NULL));
    REQUIRE(st.type == GOSR_SBV_TABLE);
    CHECK_EQ(st.u.t.len, 5);
    /* Canonical order: strings (sorted) then booleans. */
    CHECK_STR(st.u.t.items[0].key.u.s.p, "hp");
    CHECK_STR(st.u.t.items[1].key.u.s.p, "list");
    CHECK_EQ(st.u.t.items[4].key.type, GOSR_SBV_BOOL);
    gosr_buf b = {0};
    gosr_sbv_format(&st, &b);
    CHECK_STR((char *)b.data, "{\"hp\":10,\"list\":{\"1\":1,\"2\":2,\"3\":3},"
                              "\"name\":\"orc\",\"pos\":{\"1\":1.5,\"2\":2},"
                              "\"true\":\"yes\"}");
    gosr_buf_free(&b);
    /* Migrate into a fresh sandbox (a new module version). */
    gosr_sandbox *sb2 = mk(NULL);
    CHECK_OK(gosr_sandbox_set_global(sb2, "state", &st, NULL));
    CHECK_OK(eval(sb2, "return state.hp + #state.list + state.pos[1]", &r));
    CHECK(r.type == GOSR_SBV_NUM && r.u.n == 14.5);
    gosr_sbv args[2] = {gosr_sbv_int(3), {0}};
    gosr_sbv_str(&args[1], "x\0y", 3);
    gosr_sbv out[3];
    CHECK_OK(gosr_sandbox_call(sb, "tick", args, 2, out, 3, NULL));
    CHECK(out[0].type == GOSR_SBV_INT && out[0].u.i == 7);
    CHECK(out[1].type == GOSR_SBV_STR && out[1].u.s.len == 3);
    CHECK_EQ(out[2].type, GOSR_SBV_NIL);
    for (int i = 0; i < 3; i++)
        gosr_sbv_free(&out[i]);
    /* Depth limit on the way in. */
    gosr_sbv deep = {0};
    gosr_sbv *cur = &deep;
    for (int i = 0; i < 40; i++) {
        gosr_sbv inner = {0};
        gosr_sbv_table_set(cur, gosr_sbv_int(1), inner);
        cur = &cur->u.t.items[0].val;
    }
    CHECK(gosr_sandbox_set_global(sb2, "deep", &deep, NULL) != GOSR_OK);
    CHECK_STATUS(gosr_sandbox_call(sb, "nope", NULL, 0, NULL, 0, NULL),
                 GOSR_ENOENT);
    gosr_sbv_free(&deep);
    gosr_sbv_free(&args[1]);
    gosr_sbv_free(&st);
    gosr_sandbox_destroy(sb2);
    gosr_sandbox_destroy(sb);
}

GOSR_TEST(isolation)
{
    gosr_sandbox *a = mk(NULL), *b = mk(NULL);
    REQUIRE(a && b);
    gosr_sbv r = {0};
    CHECK_OK(eval(a, "x = 1 getmetatable('').__index = {} "
                     "string.upper = nil table.insert = nil return 0", &r));
    CHECK_OK(eval(b, "return tostring(x) .. ('ab'):upper() .. "
                     "type(table.insert)", &r));
    CHECK_STR(r.u.s.p, "nilABfunction");
    gosr_sbv_free(&r);
    gosr_sandbox_destroy(a);
    gosr_sandbox_destroy(b);
}

GOSR_TEST(errors_are_not_kills)
{
    gosr_sandbox *sb = mk(NULL);
    REQUIRE(sb);
    gosr_error err = {0};
    CHECK_STATUS(gosr_sandbox_load(sb, "return +", 8, "=s", NULL, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "syntax");
    const char *e = "local x = 1\nerror('boom')";
    CHECK_STATUS(gosr_sandbox_load(sb, e, strlen(e), "=mod", NULL, &err),
                 GOSR_EFAULT);
    const gosr_sandbox_fault *f = gosr_sandbox_fault_get(sb);
    CHECK_EQ(f->reason, GOSR_SB_ERROR);
    CHECK_STR(f->where, "mod:2");
    CHECK(strstr(f->message, "boom") != NULL);
    CHECK(!gosr_sandbox_is_dead(sb));
    gosr_sbv r = {0};
    CHECK_OK(eval(sb, "return 5", &r));
    CHECK_EQ(r.u.i, 5);
    const char bin[] = "\x1bLua";
    CHECK_STATUS(gosr_sandbox_load(sb, bin, 4, "=b", NULL, &err),
                 GOSR_EDENIED);
    /* Coroutines, yields across pcall, close, and print work normally. */
    CHECK_OK(eval(sb, "local co = coroutine.create(function(a) local b = "
                      "coroutine.yield(a + 1) local ok, c = pcall(function() "
                      "return coroutine.yield(b * 2) end) return c + 1 end)\n"
                      "local _, x = coroutine.resume(co, 1)\n"
                      "local _, y = coroutine.resume(co, 10)\n"
                      "local _, z = coroutine.resume(co, 100)\n"
                      "local w = coroutine.wrap(function() "
                      "coroutine.yield(1) end) w()\n"
                      "local c2 = coroutine.create(function() "
                      "coroutine.yield() end) coroutine.resume(c2)\n"
                      "assert(coroutine.close(c2))\n"
                      "print('x', x, y, z) return x + y + z + "
                      "(coroutine.status(co) == 'dead' and 0 or 1000)", &r));
    CHECK_EQ(r.u.i, 2 + 20 + 101);
    size_t len;
    CHECK_STR(gosr_sandbox_log(sb, &len), "x\t2\t20\t101\n");
    gosr_sandbox_destroy(sb);
}

GOSR_TEST(mod_api)
{
    gosr_sandbox_config pc = {.name = "game", .deadline_ns = 100000000};
    gosr_sandbox *game = mk(&pc), *mod = mk(NULL);
    REQUIRE(game && mod);
    gosr_sbv r = {0};
    CHECK_OK(eval(game, "secret = 'entitlements'\n"
                        "function score(t) return {total = t.a + t.b} end\n"
                        "function fail() error('no') end\n"
                        "function spin() while true do end end", &r));
    CHECK_OK(gosr_sandbox_export(mod, "game", game, "score", NULL));
    CHECK_OK(gosr_sandbox_export(mod, "game", game, "fail", NULL));
    CHECK_OK(eval(mod, "local r = game.score({a = 2, b = 3}) return "
                       "r.total .. tostring(secret) .. tostring(game.secret)",
                  &r));
    CHECK_STR(r.u.s.p, "5nilnil");
    gosr_sbv_free(&r);
    CHECK_OK(eval(mod, "return (pcall(game.fail))", &r));
    CHECK(r.type == GOSR_SBV_BOOL && !r.u.b);
    CHECK_STATUS(eval(mod, "return game.score(print)", &r), GOSR_EFAULT);
    /* Re-entry (module calls back into the mod that is calling it) fails
     * cleanly with sandbox_busy instead of corrupting either state. */
    CHECK_OK(eval(mod, "function cb() return 1 end", &r));
    CHECK_OK(eval(game, "function ping() return modapi.cb() end", &r));
    CHECK_OK(gosr_sandbox_export(game, "modapi", mod, "cb", NULL));
    CHECK_OK(gosr_sandbox_export(mod, "game", game, "ping", NULL));
    CHECK_OK(eval(mod, "local ok, e = pcall(game.ping) return e", &r));
    CHECK(r.type == GOSR_SBV_STR && strstr(r.u.s.p, "sandbox_busy"));
    gosr_sbv_free(&r);
    /* A runaway export dies at the module's deadline; the mod lives on. */
    CHECK_OK(gosr_sandbox_export(mod, "game", game, "spin", NULL));
    CHECK_OK(eval(mod, "local ok, e = pcall(game.spin) return tostring(ok) "
                       ".. ' ' .. e", &r));
    CHECK(r.type == GOSR_SBV_STR && strstr(r.u.s.p, "false") &&
          strstr(r.u.s.p, "deadline"));
    gosr_sbv_free(&r);
    CHECK(gosr_sandbox_is_dead(game));
    CHECK(!gosr_sandbox_is_dead(mod));
    CHECK(gosr_sandbox_export(mod, "game", mod, "x", NULL) != GOSR_OK);
    gosr_sandbox_destroy(mod);
    gosr_sandbox_destroy(game);
}

GOSR_TEST(worker_pool_merges_in_order)
{
    gosr_sandbox_testhost *th;
    REQUIRE(gosr_sandbox_testhost_create(&th) == GOSR_OK);
    enum { N = 6 };
    gosr_sandbox *sbs[N];
    gosr_sandbox_job jobs[N];
    memset(jobs, 0, sizeof jobs);
    gosr_sbv args[N];
    for (int i = 0; i < N; i++) {
        gosr_sandbox_config cfg = {.host = gosr_sandbox_testhost_host(th),
                                   .declared_caps = "world.write,events.emit",
                                   .granted_caps = "world.write,events.emit",
                                   .mode = i % 2 ? GOSR_SANDBOX_PRODUCTION : 0,
                                   .deadline_ns = 200000000};
        sbs[i] = mk(&cfg);
        REQUIRE(sbs[i]);
        const char *src =
            "function tick(id) local s = 0 for i = 1, 20000 do s = s + i end "
            "world.set(id, 0, id) events.emit('done', {id = id}) "
            "if id == 3 then while true do end end return s end";
        gosr_sbv r = {0};
        CHECK_OK(eval(sbs[i], src, &r));
        args[i] = gosr_sbv_int(i);
        jobs[i] = (gosr_sandbox_job){.sb = sbs[i], .fn = "tick",
                                     .args = &args[i], .nargs = 1};
    }
    gosr_sandbox_pool *pool;
    REQUIRE(gosr_sandbox_pool_create(3, &pool) == GOSR_OK);
    for (int round = 0; round < 2; round++) {
        gosr_sbv *fx = NULL;
        size_t nfx = 0;
        CHECK_OK(gosr_sandbox_pool_run(pool, jobs, N, &fx, &nfx));
        if (round == 0) {
            CHECK_EQ(nfx, 2 * N);
            for (size_t k = 0; k + 1 < nfx; k += 2) {
                const gosr_sbv *x = gosr_sbv_table_get(&fx[k], "x");
                CHECK(x && x->u.i == (int64_t)(k / 2));
            }
            CHECK_EQ(jobs[3].fault.reason, GOSR_SB_DEADLINE);
            CHECK(jobs[3].status != GOSR_OK);
            CHECK_OK(jobs[0].status);
            CHECK(jobs[0].ret.u.i == 200010000);
        }
        for (size_t k = 0; k < nfx; k++)
            gosr_sbv_free(&fx[k]);
        gosr_free(fx);
        for (int i = 0; i < N; i++)
            gosr_sbv_free(&jobs[i].ret);
    }
    gosr_sandbox_pool_destroy(pool);
    for (int i = 0; i < N; i++)
        gosr_sandbox_destroy(sbs[i]);
    gosr_sandbox_testhost_destroy(th);
}

GOSR_TEST(allocation_failures)
{
    for (long n = 1; n < 400; n += 7) {
        gosr_sandbox *sb = NULL;
        gosr_alloc_fail_after(n);
        int rc = gosr_sandbox_create(NULL, &sb, NULL);
        gosr_sbv r = {0};
        if (rc == GOSR_OK)
            eval(sb, "local t = {} for i = 1, 100 do t[i] = {} end return 1",
                 &r);
        gosr_alloc_fail_after(0);
        gosr_sbv_free(&r);
        gosr_sandbox_destroy(sb);
    }
    gosr_sandbox *sb = mk(NULL);
    gosr_sandbox_destroy(sb);
}

GOSR_TEST(full_heap_host_side)
{
    gosr_sandbox_config cfg = {.mem_limit = 256 << 10};
    gosr_sandbox *sb = mk(&cfg);
    REQUIRE(sb);
    gosr_sbv r = {0};
    /* Fill the heap to the brim, keeping it referenced. */
    CHECK_OK(eval(sb, "keep = {} local ok = true while ok do ok = "
                      "pcall(function() for i = 1, 64 do keep[#keep + 1] = "
                      "{} end end) end", &r) == GOSR_OK ? GOSR_EINVAL
                                                        : GOSR_OK);
    /* The sandbox died of memory; host-side operations fail cleanly. */
    CHECK(gosr_sandbox_is_dead(sb));
    gosr_sbv v = {0};
    gosr_sbv_str(&v, "a fresh string that is not interned yet", 39);
    CHECK(gosr_sandbox_call(sb, "a_new_function_name_xyz", &v, 1, NULL, 0,
                            NULL) != GOSR_OK);
    gosr_sbv_free(&v);
    gosr_sandbox_destroy(sb);
    /* Alive but nearly full: lookups and sets may fail, never abort. */
    sb = mk(&cfg);
    REQUIRE(sb);
    CHECK_OK(eval(sb, "while collectgarbage('count') < 255.8 do "
                      "keep = {next = keep} end return 1", &r));
    CHECK(!gosr_sandbox_is_dead(sb));
    int failed = 0;
    for (int i = 0; i < 200; i++) {
        char name[64];
        snprintf(name, sizeof name, "global_number_%d", i);
        gosr_sbv big = {0};
        gosr_sbv_str(&big, name, strlen(name));
        if (gosr_sandbox_set_global(sb, name, &big, NULL) != GOSR_OK)
            failed++;
        gosr_sandbox_get_global(sb, name, &r, NULL);
        gosr_sbv_free(&r);
        gosr_sbv_free(&big);
    }
    CHECK(failed > 0);
    gosr_sandbox_destroy(sb);
}
