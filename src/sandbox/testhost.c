/*
 * testhost.c — a small host API used by `gosr sandbox run`, the tests, the
 * fuzz target and the benches: a 256x256 integer world (read directly,
 * written through effects), events, logging, a deterministic RNG and
 * round-trip helpers. Every function checks each argument through the
 * gosr_sandbox_arg_* accessors.
 * Design: docs/sandbox.md ("Test host").
 */
#include "sandbox/sb_int.h"

#include <string.h>

#define WORLD 256

struct gosr_sandbox_testhost {
    gosr_sandbox_host *host;       /* owned registry */
    int32_t grid[WORLD * WORLD];   /* world tiles; read-only during calls */
};

static int t_log(gosr_sandbox_hcall *c, void *ud)
{
    const char *s;
    size_t n;
    int rc = gosr_sandbox_arg_str(c, 1, 1024, &s, &n);
    if (rc == GOSR_OK)
        gosr_log(GOSR_LOG_DEBUG, "sandbox", "%.*s", (int)n, s);
    return rc;
}

static int t_get(gosr_sandbox_hcall *c, void *ud)
{
    gosr_sandbox_testhost *t = ud;
    int64_t x, y;
    int rc = gosr_sandbox_arg_int(c, 1, 0, WORLD - 1, &x);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_arg_int(c, 2, 0, WORLD - 1, &y);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_ret_int(c, t->grid[y * WORLD + x]);
    return rc;
}

static int t_size(gosr_sandbox_hcall *c, void *ud)
{
    return gosr_sandbox_ret_int(c, WORLD);
}

static int emit_pair3(gosr_sandbox_hcall *c, gosr_sbv *v, const char *k,
                      gosr_sbv val)
{
    gosr_sbv key;
    int rc = gosr_sbv_str(&key, k, strlen(k));
    if (rc != GOSR_OK) {
        gosr_sbv_free(&val);
        return rc;
    }
    return gosr_sbv_table_set(v, key, val);
}

static int t_set(gosr_sandbox_hcall *c, void *ud)
{
    int64_t x, y, val;
    int rc = gosr_sandbox_arg_int(c, 1, 0, WORLD - 1, &x);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_arg_int(c, 2, 0, WORLD - 1, &y);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_arg_int(c, 3, -1000000000, 1000000000, &val);
    if (rc != GOSR_OK)
        return rc;
    gosr_sbv e = {0}, op;
    rc = gosr_sbv_str(&op, "set", 3);
    if (rc == GOSR_OK)
        rc = emit_pair3(c, &e, "op", op);
    if (rc == GOSR_OK)
        rc = emit_pair3(c, &e, "x", gosr_sbv_int(x));
    if (rc == GOSR_OK)
        rc = emit_pair3(c, &e, "y", gosr_sbv_int(y));
    if (rc == GOSR_OK)
        rc = emit_pair3(c, &e, "v", gosr_sbv_int(val));
    if (rc == GOSR_OK)
        rc = gosr_sandbox_emit(c, &e);
    gosr_sbv_free(&e);
    return rc;
}

static int t_emit(gosr_sandbox_hcall *c, void *ud)
{
    const char *name;
    size_t n;
    int rc = gosr_sandbox_arg_str(c, 1, 64, &name, &n);
    if (rc != GOSR_OK)
        return rc;
    gosr_sbv e = {0}, nm, payload;
    rc = gosr_sandbox_arg_value(c, 2, &payload);
    if (rc != GOSR_OK)
        return rc;
    rc = gosr_sbv_str(&nm, name, n);
    if (rc != GOSR_OK) {
        gosr_sbv_free(&payload);
        return rc;
    }
    rc = emit_pair3(c, &e, "event", nm);
    if (rc == GOSR_OK)
        rc = emit_pair3(c, &e, "payload", payload);
    else
        gosr_sbv_free(&payload);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_emit(c, &e);
    gosr_sbv_free(&e);
    return rc;
}

static int t_rng(gosr_sandbox_hcall *c, void *ud)
{
    int64_t lo, hi;
    int rc = gosr_sandbox_arg_int(c, 1, -(1ll << 53), 1ll << 53, &lo);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_arg_int(c, 2, lo, 1ll << 53, &hi);
    if (rc != GOSR_OK)
        return rc;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    uint64_t r = gosr_sandbox_rng_next(gosr_sandbox_hcall_owner(c));
    return gosr_sandbox_ret_int(c, lo + (int64_t)(r % span));
}

static int t_noop(gosr_sandbox_hcall *c, void *ud) { return GOSR_OK; }

static int t_add(gosr_sandbox_hcall *c, void *ud)
{
    int64_t a, b;
    int rc = gosr_sandbox_arg_int(c, 1, INT64_MIN, INT64_MAX, &a);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_arg_int(c, 2, INT64_MIN, INT64_MAX, &b);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_ret_int(c, (int64_t)((uint64_t)a + (uint64_t)b));
    return rc;
}

static int t_echo(gosr_sandbox_hcall *c, void *ud)
{
    gosr_sbv v;
    int rc = gosr_sandbox_arg_value(c, 1, &v);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_ret_value(c, &v);
    gosr_sbv_free(&v);
    return rc;
}

int gosr_sandbox_testhost_create(gosr_sandbox_testhost **out)
{
    static const struct {
        const char *group, *name;
        gosr_sandbox_host_fn fn;
    } fns[] = {
        {"log", "log.info", t_log},         {"world.read", "world.get", t_get},
        {"world.read", "world.size", t_size}, {"world.write", "world.set", t_set},
        {"events.emit", "events.emit", t_emit}, {"rng", "rng.int", t_rng},
        {"test", "test.noop", t_noop},      {"test", "test.add", t_add},
        {"test", "test.echo", t_echo}};
    *out = NULL;
    gosr_sandbox_testhost *t = gosr_calloc(1, sizeof *t);
    if (!t)
        return GOSR_ENOMEM;
    int rc = gosr_sandbox_host_create(&t->host);
    for (size_t i = 0; rc == GOSR_OK && i < sizeof fns / sizeof fns[0]; i++)
        rc = gosr_sandbox_host_add(t->host, fns[i].group, fns[i].name,
                                   fns[i].fn, t);
    if (rc != GOSR_OK) {
        gosr_sandbox_testhost_destroy(t);
        return rc;
    }
    for (int i = 0; i < WORLD * WORLD; i++)
        t->grid[i] = (int32_t)((i * 2654435761u) >> 20);
    *out = t;
    return GOSR_OK;
}

void gosr_sandbox_testhost_destroy(gosr_sandbox_testhost *t)
{
    if (!t)
        return;
    gosr_sandbox_host_destroy(t->host);
    gosr_free(t);
}

const gosr_sandbox_host *gosr_sandbox_testhost_host(
    const gosr_sandbox_testhost *t)
{
    return t->host;
}
