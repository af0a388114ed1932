/*
 * test_adversarial.c — the adversarial suite of the sandbox: infinite loops
 * (plain, pcall retry, recursive pcall, coroutines, wrap, xpcall handlers,
 * __close, __gc), memory bombs, catastrophic patterns, string.rep,
 * string.format, table.unpack/move/sort, bytecode by every route, reaching
 * removed libraries, _ENV and metatable tampering, deep recursion and
 * errors whose __tostring errors. Every case must end in a fault record of
 * an allowed reason within its deadline plus 50 ms, in both modes, and the
 * host must live on.
 * Design: docs/sandbox.md ("Adversarial suite").
 */
#include "gosr/sandbox.h"
#include "harness.h"

#define DEADLINE_MS 150
#define SLACK_MS 50

#define R_FUEL (1u << GOSR_SB_FUEL)
#define R_MEM (1u << GOSR_SB_MEMORY)
#define R_DEAD (1u << GOSR_SB_DEADLINE)
#define R_ERR (1u << GOSR_SB_ERROR)
#define R_FORB (1u << GOSR_SB_FORBIDDEN)
#define R_BUDGET (R_FUEL | R_DEAD)

/* One adversarial script and the fault reasons it may end with. */
typedef struct adv_case {
    const char *name; /* short label */
    const char *src;  /* Lua source */
    unsigned allowed; /* bit set of gosr_sandbox_reason */
} adv_case;

static const adv_case g_cases[] = {
    /* infinite loops */
    {"loop", "while true do end", R_BUDGET},
    {"loop_repeat", "local i = 0 repeat i = i + 1 until false", R_BUDGET},
    {"pcall_retry",
     "while true do pcall(function() while true do end end) end", R_BUDGET},
    {"pcall_error_retry", "while true do pcall(error, 'x') end", R_BUDGET},
    {"recursive_pcall",
     "local function f() while true do pcall(f) end end f()", R_BUDGET},
    {"coroutine",
     "local co = coroutine.create(function() while true do end end)\n"
     "print(coroutine.resume(co))\nwhile true do end", R_BUDGET},
    {"coroutine_retry",
     "while true do local co = coroutine.create(function() while true do "
     "end end) coroutine.resume(co) end", R_BUDGET},
    {"coroutine_wrap", "coroutine.wrap(function() while true do end end)()",
     R_BUDGET},
    {"wrap_pcall_retry",
     "while true do pcall(coroutine.wrap(function() while true do end "
     "end)) end", R_BUDGET},
    {"nested_coroutines",
     "local function mk(n) return coroutine.wrap(function() if n == 0 then "
     "while true do end else mk(n-1)() end end) end\n"
     "while true do pcall(mk(50)) end", R_BUDGET},
    {"yield_in_pcall",
     "local co = coroutine.wrap(function() while true do "
     "pcall(coroutine.yield) end end)\nwhile true do co() end", R_BUDGET},
    {"xpcall_handler",
     "xpcall(function() error('x') end, function() while true do end end)",
     R_BUDGET},
    {"xpcall_handler_retry",
     "while true do xpcall(function() while true do end end, function(e) "
     "while true do end end) end", R_BUDGET},
    {"close_loop",
     "do local x <close> = setmetatable({}, {__close = function() while "
     "true do end end}) end", R_BUDGET},
    {"close_after_kill",
     "local x <close> = setmetatable({}, {__close = function() while true "
     "do end end})\nwhile true do end", R_BUDGET},
    {"close_retry",
     "while true do pcall(function() local x <close> = setmetatable({}, "
     "{__close = function() while true do end end}) while true do end "
     "end) end", R_BUDGET},
    {"close_in_coroutine",
     "local co = coroutine.create(function() local x <close> = "
     "setmetatable({}, {__close = function() while true do end end}) "
     "coroutine.yield() end)\ncoroutine.resume(co)\n"
     "print(coroutine.close(co))\nwhile true do end", R_BUDGET},
    {"gc_loop",
     "setmetatable({}, {__gc = function() while true do end end})\n"
     "while true do end", R_FORB},
    {"gc_late",
     "local mt = {} local t = setmetatable({}, mt)\n"
     "mt.__gc = function() while true do end end\n"
     "t = nil\nfor i = 1, 100 do local x = {} end\nwhile true do end",
     R_BUDGET},
    {"tostring_loop_error",
     "while true do pcall(error, setmetatable({}, {__tostring = function() "
     "while true do end end})) end", R_BUDGET},
    {"goto_loop", "::top:: goto top", R_BUDGET},
    {"format_tostring_loop",
     "return string.format('%s', setmetatable({}, {__tostring = function() "
     "while true do end end}))", R_BUDGET},
    {"gsub_table_index_loop",
     "return ('abc'):gsub('%w', setmetatable({}, {__index = function() "
     "while true do end end}))", R_BUDGET},
    {"pairs_meta_loop",
     "for k in pairs(setmetatable({}, {__pairs = function() while true do "
     "end end})) do end", R_BUDGET},
    {"concat_meta_loop",
     "return table.concat(setmetatable({}, {__index = function() while "
     "true do end end, __len = function() return 3 end}))", R_BUDGET},
    {"tail_call_loop", "local function f() return f() end return f()",
     R_BUDGET},
    /* memory bombs */
    {"rep_bomb", "local s = ('x'):rep(1e9) return #s", R_MEM},
    {"rep_huge_count", "return ('x'):rep(math.maxinteger)", R_MEM},
    {"rep_empty_huge_sep", "return (''):rep(1e15, 'ab')", R_MEM},
    {"rep_pcall_retry",
     "while true do pcall(string.rep, 'x', 1e12) end", R_MEM},
    {"concat_doubling", "local s = 'x' while true do s = s .. s end", R_MEM},
    {"table_growth", "local t = {} for i = 1, 1e9 do t[i] = i end", R_MEM},
    {"table_of_tables", "local t = {} while true do t[#t + 1] = {} end",
     R_MEM},
    {"pcall_oom",
     "while true do pcall(function() local s = 'x' while true do s = s .. s "
     "end end) end", R_MEM},
    {"pcall_oom_table",
     "local keep = {} while true do local ok = pcall(function() local t = "
     "{} for i = 1, 1e9 do t[i] = i end end) keep[#keep + 1] = ok end",
     R_MEM},
    {"table_concat_bomb",
     "local t = {} for i = 1, 64 do t[i] = ('x'):rep(10000) end\n"
     "while true do t[#t + 1] = table.concat(t) end", R_MEM},
    {"format_bomb",
     "local s = 'x' while true do s = string.format('%s%s', s, s) end",
     R_MEM},
    {"gsub_bomb",
     "local s = ('x'):rep(1000) while true do s = s:gsub('x', 'xx') end",
     R_MEM | R_BUDGET},
    {"coroutine_bomb",
     "local t = {} while true do t[#t + 1] = coroutine.create(print) end",
     R_MEM},
    /* catastrophic patterns */
    {"pattern_find", "return string.find(('a'):rep(5000), '.-.-.-.-.-.-.-b')",
     R_BUDGET},
    {"pattern_match",
     "return (('a'):rep(5000)):match('a*a*a*a*a*a*a*a*b')", R_BUDGET},
    {"pattern_gmatch",
     "for m in (('a'):rep(3000)):gmatch('.-.-.-.-b') do end", R_BUDGET},
    {"pattern_gsub", "return (('a'):rep(3000)):gsub('.-.-.-.-b', '')",
     R_BUDGET},
    {"pattern_pcall_retry",
     "while true do pcall(string.find, ('a'):rep(2000), '.-.-.-b') end",
     R_BUDGET},
    {"pattern_too_complex",
     "return string.match(('a'):rep(1000), ('(a?)'):rep(32) .. 'b')",
     R_BUDGET | R_ERR},
    {"pattern_balance",
     "return (('('):rep(200000)):find('%b()')", R_BUDGET | R_ERR},
    {"pattern_nested_gsub",
     "local function f(s) return (s:gsub('(a*)$', function(x) return "
     "f(x .. 'a') end)) end return f(('a'):rep(150))", R_ERR | R_BUDGET},
    {"pattern_nested_deep",
     "local p = ('a?'):rep(190) .. 'b'\n"
     "local function f(n) return (('a'):rep(190)):gsub('a', function() "
     "if n > 0 then f(n - 1) end return string.find(('a'):rep(190), p) "
     "end) end return f(150)", R_ERR | R_BUDGET},
    {"upper_loop",
     "local s = ('x'):rep(1 << 20) while true do local u = s:upper() end",
     R_BUDGET | R_MEM},
    {"pattern_malformed", "return ('x'):find('[a')", R_ERR},
    {"pattern_bad_capture", "return ('x'):find('%1')", R_ERR},
    /* string.rep edge cases */
    {"rep_empty_loop",
     "while true do local s = (''):rep(1e15) end", R_BUDGET},
    {"rep_negative_loop",
     "while true do local s = ('x'):rep(-1e15) end", R_BUDGET},
    /* string.format */
    {"format_width", "return string.format('%99999d', 1)", R_ERR},
    {"format_precision", "return string.format('%.99999f', 1)", R_ERR},
    {"format_loop",
     "while true do local s = string.format('%99d%99.99f', 1, 1e308) end",
     R_BUDGET},
    /* table.unpack, move, sort, concat */
    {"unpack_huge", "return table.unpack({}, 1, 1e8)", R_ERR},
    {"unpack_full_range",
     "return table.unpack({}, math.mininteger, math.maxinteger)", R_ERR},
    {"unpack_retry",
     "while true do pcall(table.unpack, {}, 1, 7999) end", R_BUDGET},
    {"move_huge", "table.move({}, 1, math.maxinteger - 1, 2)", R_BUDGET},
    {"sort_comparator_loop",
     "table.sort({3, 2, 1}, function(a, b) while true do end end)",
     R_BUDGET},
    {"sort_lt_loop",
     "local mt = {__lt = function() while true do end end}\n"
     "table.sort({setmetatable({}, mt), setmetatable({}, mt)})", R_BUDGET},
    {"concat_huge_range",
     "return table.concat(setmetatable({}, {__index = function() return "
     "'' end}), '', 1, math.maxinteger)", R_BUDGET | R_MEM},
    /* bytecode by every route */
    {"load_mode_b", "return load('return 1', 'x', 'b')", R_FORB},
    {"load_mode_bt", "return load('return 1', 'x', 'bt')", R_FORB},
    {"load_binary_string", "return load('\\27Lua' .. ('x'):rep(40))", R_FORB},
    {"load_binary_reader",
     "local done = false return load(function() if done then return nil "
     "end done = true return '\\27LuaT' end)", R_FORB},
    {"string_dump", "return string.dump(function() end)", R_FORB},
    {"string_dump_pcall",
     "pcall(string.dump, print) while true do end", R_FORB},
    {"method_dump", "return (''):dump()", R_FORB},
    {"metatable_dump",
     "return getmetatable('').__index.dump(function() end)", R_FORB},
    {"rawget_dump",
     "local d = rawget(string, 'dump') return d(print)", R_ERR},
    /* reaching removed libraries */
    {"debug", "return debug.getinfo(1)", R_FORB},
    {"debug_pcall", "pcall(function() return debug end) while true do end",
     R_FORB},
    {"io", "return io.open('/etc/passwd')", R_FORB},
    {"os_execute", "return os.execute('true')", R_FORB},
    {"os_exit", "os.exit(1)", R_FORB},
    {"os_getenv", "return os.getenv('HOME')", R_FORB},
    {"os_remove", "return os.remove('/tmp/x')", R_FORB},
    {"package", "return package.loaded", R_FORB},
    {"require", "return require('os')", R_FORB},
    {"dofile", "return dofile('/etc/passwd')", R_FORB},
    {"loadfile", "return loadfile('/etc/passwd')", R_FORB},
    {"collectgarbage", "collectgarbage()", R_FORB},
    {"collectgarbage_step", "collectgarbage('step', 1e9)", R_FORB},
    /* tampering */
    {"rawset_env",
     "rawset(_ENV, 'string', nil) rawset(_ENV, '_G', nil)\n"
     "rawset(_ENV, 'print', nil) return ('x'):dump()", R_FORB},
    {"rawset_env_debug",
     "rawset(_ENV, 'debug', {}) return debug.getinfo(1)", R_ERR},
    {"setmetatable_G", "setmetatable(_G, nil)", R_ERR},
    {"setmetatable_G_then_io",
     "pcall(setmetatable, _G, nil) return io", R_FORB},
    {"setmetatable_string_lib", "setmetatable(string, nil)", R_ERR},
    {"string_mt_index_nil",
     "getmetatable('').__index = nil return ('x'):rep(2)", R_ERR},
    {"string_mt_index_loop",
     "getmetatable('').__index.rep = function() while true do end end\n"
     "return ('x'):rep(2)", R_BUDGET},
    {"string_mt_index_fn",
     "getmetatable('').__index = function(s, k) while true do end end\n"
     "return ('x'):upper()", R_BUDGET},
    /* deep recursion */
    {"deep_recursion",
     "local function f(n) return 1 + f(n + 1) end return f(1)",
     R_ERR | R_MEM},
    {"deep_index_recursion",
     "local t = setmetatable({}, {__index = function(t, k) return t[k] "
     "end}) return t.x", R_ERR},
    {"deep_tostring_recursion",
     "local t t = setmetatable({}, {__tostring = function(x) return "
     "tostring(x) end}) return tostring(t)", R_ERR | R_MEM},
    {"deep_coroutine_recursion",
     "local function f() return coroutine.wrap(f)() end return f()",
     R_ERR | R_MEM},
    {"deep_concat_recursion",
     "local mt mt = {__concat = function(a, b) return a .. b end}\n"
     "return setmetatable({}, mt) .. 'x'", R_ERR | R_MEM},
    /* errors whose __tostring errors */
    {"error_tostring_errors",
     "error(setmetatable({}, {__tostring = function() error('boom') "
     "end}))", R_ERR},
    {"error_tostring_loops",
     "error(setmetatable({}, {__tostring = function() while true do end "
     "end}))", R_ERR},
    {"error_name_field", "error(setmetatable({}, {__name = 5}))", R_ERR},
    {"error_nil", "error()", R_ERR},
    {"print_tostring_errors",
     "print(setmetatable({}, {__tostring = function() error('boom') "
     "end}))", R_ERR},
};

static gosr_sandbox *make(gosr_sandbox_mode mode, gosr_error *err)
{
    gosr_sandbox_config cfg = {
        .mode = mode,
        .mem_limit = 4u << 20,
        .fuel = 50000000,
        .deadline_ns = DEADLINE_MS * 1000000ull,
        .name = "adversary",
    };
    gosr_sandbox *sb = NULL;
    gosr_sandbox_create(&cfg, &sb, err);
    return sb;
}

static void run_case(const adv_case *c, gosr_sandbox_mode mode)
{
    gosr_error err = {0};
    gosr_sandbox *sb = make(mode, &err);
    if (!sb) {
        gosr_test_fail(__FILE__, __LINE__, "create: %s", err.detail);
        return;
    }
    uint64_t t0 = gosr_time_mono_ns();
    int rc = gosr_sandbox_load(sb, c->src, strlen(c->src), "=adv", NULL, &err);
    uint64_t ms = (gosr_time_mono_ns() - t0) / 1000000;
    const gosr_sandbox_fault *f = gosr_sandbox_fault_get(sb);
    if (rc == GOSR_OK || !(c->allowed & (1u << f->reason)))
        gosr_test_fail(__FILE__, __LINE__,
                       "%s (%s): rc=%s reason=%s msg='%s' where='%s'",
                       c->name, mode ? "production" : "deterministic",
                       gosr_status_name(rc),
                       gosr_sandbox_reason_name(f->reason), f->message,
                       f->where);
    if (ms > DEADLINE_MS + SLACK_MS)
        gosr_test_fail(__FILE__, __LINE__, "%s (%s): took %llu ms", c->name,
                       mode ? "production" : "deterministic",
                       (unsigned long long)ms);
    if (f->reason != GOSR_SB_ERROR && f->reason != GOSR_SB_OK) {
        /* Sticky: the sandbox stays dead with the same record. */
        CHECK(gosr_sandbox_is_dead(sb));
        gosr_sandbox_reason r = f->reason;
        CHECK(gosr_sandbox_load(sb, "return 1", 8, "=again", NULL, NULL) !=
              GOSR_OK);
        CHECK_EQ(gosr_sandbox_fault_get(sb)->reason, r);
    }
    gosr_sandbox_destroy(sb);
}

static void run_all(gosr_sandbox_mode mode)
{
    for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; i++)
        run_case(&g_cases[i], mode);
    /* The host lives on: a fresh sandbox works normally. */
    gosr_error err;
    gosr_sandbox *sb = make(mode, &err);
    REQUIRE(sb);
    gosr_sbv ret = {0};
    const char *ok = "local t = {} for i = 1, 100 do t[i] = i end "
                     "return table.concat(t, ','):len()";
    CHECK_OK(gosr_sandbox_load(sb, ok, strlen(ok), "=ok", &ret, &err));
    CHECK_EQ(ret.type, GOSR_SBV_INT);
    CHECK_EQ(ret.u.i, 291);
    gosr_sbv_free(&ret);
    gosr_sandbox_destroy(sb);
}

GOSR_TEST(adversarial_deterministic) { run_all(GOSR_SANDBOX_DETERMINISTIC); }
GOSR_TEST(adversarial_production) { run_all(GOSR_SANDBOX_PRODUCTION); }
