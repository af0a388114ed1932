/*
 * fuzz_sandbox_host.c — fuzzes the capability host API: the input picks
 * host functions of the test host and builds arguments of random types and
 * values (nil, booleans, extreme integers, NaN/inf/-0 floats, binary
 * strings, nested tables with odd keys and hostile metatables, functions,
 * coroutines), written as Lua source and called through the real
 * trampoline; a second half builds host values from the bytes (including
 * invalid keys) and passes them through gosr_sandbox_call and test.echo.
 * Every call must end in a result or a fault record, never a crash.
 * Design: docs/sandbox.md ("Fuzzing").
 */
#include "gosr/sandbox.h"

#include <stdio.h>
#include <string.h>

/* Reads the fuzz input byte by byte (zeros past the end). */
typedef struct reader {
    const uint8_t *p; /* input */
    size_t n, i;      /* size and position */
} reader;

static uint8_t rd(reader *r) { return r->i < r->n ? r->p[r->i++] : 0; }

static uint64_t rd64(reader *r)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v = (v << 8) | rd(r);
    return v;
}

static const char *const g_fns[] = {
    "log.info", "world.get", "world.size", "world.set", "events.emit",
    "rng.int",  "test.noop", "test.add",   "test.echo"};

static void lua_arg(reader *r, gosr_buf *b, int depth)
{
    static const char *const fixed[] = {
        "nil", "true", "false", "0", "-1", "math.maxinteger",
        "math.mininteger", "0/0", "1/0", "-1/0", "-0.0", "1e308", "2^53",
        "255", "256", "print", "coroutine.create(print)", "''",
        "('x'):rep(5000)", "string", "_G"};
    uint8_t k = rd(r);
    switch (k % 8) {
    case 0: gosr_buf_printf(b, "%s", fixed[rd(r) % (sizeof fixed / sizeof *fixed)]); break;
    case 1: gosr_buf_printf(b, "%lld", (long long)(int64_t)rd64(r)); break;
    case 2: {
        uint64_t bits = rd64(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        gosr_buf_printf(b, "%.17g", d);
        if (d != d || d - d != 0)
            gosr_buf_printf(b, "*0+0/0");
        break;
    }
    case 3: {
        uint8_t len = rd(r) % 40;
        gosr_buf_printf(b, "\"");
        for (uint8_t i = 0; i < len; i++)
            gosr_buf_printf(b, "\\%u", rd(r));
        gosr_buf_printf(b, "\"");
        break;
    }
    case 4: case 5: {
        if (depth > 4) {
            gosr_buf_printf(b, "{}");
            break;
        }
        uint8_t n = rd(r) % 5;
        bool mt = k & 0x10;
        if (mt)
            gosr_buf_printf(b, "setmetatable(");
        gosr_buf_printf(b, "{");
        for (uint8_t i = 0; i < n; i++) {
            gosr_buf_printf(b, "[");
            lua_arg(r, b, depth + 1);
            gosr_buf_printf(b, "] = ");
            lua_arg(r, b, depth + 1);
            gosr_buf_printf(b, ", ");
        }
        gosr_buf_printf(b, "}");
        if (mt)
            gosr_buf_printf(b, ", {__index = function() error('idx') end, "
                               "__len = function() return 1e9 end, "
                               "__pairs = function() error('p') end, "
                               "__tostring = function() error('ts') end, "
                               "__eq = function() return true end})");
        break;
    }
    case 6: gosr_buf_printf(b, "%d", (int)(rd(r) % 300) - 20); break;
    default: gosr_buf_printf(b, "%d.5", (int)rd(r)); break;
    }
}

/* Builds a script of up to 8 host calls, each inside pcall. */
static void build_script(reader *r, gosr_buf *b)
{
    gosr_buf_printf(b, "local ok, n = 0, 0\n");
    int calls = 1 + rd(r) % 8;
    for (int c = 0; c < calls && r->i < r->n; c++) {
        const char *fn = g_fns[rd(r) % (sizeof g_fns / sizeof *g_fns)];
        gosr_buf_printf(b, "do local f = %s local args = table.pack(", fn);
        int nargs = rd(r) % 5;
        for (int a = 0; a < nargs; a++) {
            if (a)
                gosr_buf_printf(b, ", ");
            lua_arg(r, b, 0);
        }
        gosr_buf_printf(b, ") if pcall(f, table.unpack(args, 1, args.n)) "
                           "then ok = ok + 1 end n = n + 1 end\n");
    }
    gosr_buf_printf(b, "return ok\n");
}

/* Builds a host value from the bytes; may produce invalid keys. */
static void build_value(reader *r, gosr_sbv *v, int depth)
{
    *v = (gosr_sbv){0};
    uint8_t k = rd(r);
    switch (k % 6) {
    case 0: break;
    case 1: *v = gosr_sbv_bool(k & 8); break;
    case 2: *v = gosr_sbv_int((int64_t)rd64(r)); break;
    case 3: {
        uint64_t bits = rd64(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        *v = gosr_sbv_num(d);
        break;
    }
    case 4: {
        char s[32];
        uint8_t len = rd(r) % 32;
        for (uint8_t i = 0; i < len; i++)
            s[i] = (char)rd(r);
        gosr_sbv_str(v, s, len);
        break;
    }
    default: {
        *v = (gosr_sbv){.type = GOSR_SBV_TABLE};
        if (depth > 40)
            break;
        uint8_t n = rd(r) % 4;
        for (uint8_t i = 0; i < n && r->i < r->n; i++) {
            gosr_sbv key, val;
            build_value(r, &key, depth + 1);
            build_value(r, &val, depth + 1);
            /* Bypass gosr_sbv_table_set checks: invalid keys must be
             * rejected when copied in, too. */
            gosr_sbv_pair *items = gosr_realloc(
                v->u.t.items, (v->u.t.len + 1) * sizeof *items);
            if (!items) {
                gosr_sbv_free(&key);
                gosr_sbv_free(&val);
                break;
            }
            v->u.t.items = items;
            items[v->u.t.len++] = (gosr_sbv_pair){key, val};
        }
    }
    }
}

static gosr_sandbox_testhost *g_host;

static gosr_sandbox *fresh(void)
{
    gosr_sandbox_config cfg = {
        .mode = GOSR_SANDBOX_DETERMINISTIC, .mem_limit = 8u << 20,
        .fuel = 2000000, .deadline_ns = 500000000ull,
        .host = gosr_sandbox_testhost_host(g_host),
        .declared_caps = GOSR_SANDBOX_TEST_CAPS,
        .granted_caps = GOSR_SANDBOX_TEST_CAPS};
    gosr_sandbox *sb = NULL;
    if (gosr_sandbox_create(&cfg, &sb, NULL) != GOSR_OK)
        return NULL;
    const char *echo = "function echo_all(...) local t = table.pack(...) "
                       "for i = 1, t.n do t[i] = test.echo(t[i]) end "
                       "return t[1], t.n end";
    gosr_sandbox_load(sb, echo, strlen(echo), "=echo", NULL, NULL);
    return sb;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_host && gosr_sandbox_testhost_create(&g_host) != GOSR_OK)
        return 0;
    gosr_sandbox *sb = fresh();
    if (!sb)
        return 0;
    reader r = {data, size, 0};
    gosr_buf script = {0};
    build_script(&r, &script);
    gosr_sbv ret = {0};
    gosr_sandbox_tick_begin(sb, rd(&r));
    gosr_sandbox_load(sb, (const char *)script.data, script.len, "=fuzz",
                      &ret, NULL);
    gosr_sbv_free(&ret);
    gosr_buf_free(&script);
    gosr_sbv args[4];
    int nargs = rd(&r) % 5;
    for (int i = 0; i < nargs; i++)
        build_value(&r, &args[i], 0);
    gosr_sbv out[2];
    gosr_sandbox_call(sb, "echo_all", args, (size_t)nargs, out, 2, NULL);
    for (int i = 0; i < 2; i++)
        gosr_sbv_free(&out[i]);
    for (int i = 0; i < nargs; i++)
        gosr_sbv_free(&args[i]);
    gosr_sbv *fx;
    size_t nfx;
    gosr_sandbox_effects_take(sb, &fx, &nfx);
    for (size_t i = 0; i < nfx; i++)
        gosr_sbv_free(&fx[i]);
    gosr_free(fx);
    gosr_sandbox_destroy(sb);
    return 0;
}
