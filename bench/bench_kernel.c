/*
 * bench_kernel.c — kernel figures (docs/kernel.md, "Measured"):
 *   1. tick time with 10,000 entities and a Lua module touching all of them
 *      each tick, in bulk (world.query + world.set_batch: tables), packed
 *      (world.query_packed + world.set_packed: byte strings with
 *      string.unpack/pack) and one entity at a time (world.get +
 *      world.set_pos): p50/p99 per tick, entities/s;
 *   2. hot swap on a live 30 Hz node with those 10,000 entities: the
 *      pointer-switch (commit) time on the tick thread, tick-time p99 over
 *      the 100 ticks around the swap against the 100 ticks before, late
 *      and missed ticks.
 * Epoch signal latency is bench_epoch's. Usage: bench_kernel [ticks].
 */
#include "gosr/crypto.h"
#include "gosr/gmod.h"
#include "gosr/kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ENTITIES 10000

static const char *BULK_LUA =
    "STATE_SCHEMA = 1\n"
    "STEP = %d\n"
    "function init(ctx) state = { spawned = false } end\n"
    "function migrate(old) return old end\n"
    "function tick(ctx)\n"
    "  if not state.spawned then\n"
    "    for i = 1, %d do world.spawn(i * 65536, 0, 0, STEP, 0, 0, 100) end\n"
    "    state.spawned = true\n"
    "  end\n"
    "  local cur = 0\n"
    "  repeat\n"
    "    local b, nxt = world.query(cur, 4096)\n"
    "    local out, k = {}, 0\n"
    "    for i = 1, #b, 7 do\n"
    "      out[k + 1] = b[i]\n"
    "      out[k + 2] = b[i + 1] + STEP\n"
    "      out[k + 3] = b[i + 2] + b[i + 5]\n"
    "      out[k + 4] = b[i + 3] + b[i + 6]\n"
    "      k = k + 4\n"
    "    end\n"
    "    if k > 0 then world.set_batch(out) end\n"
    "    cur = nxt\n"
    "  until cur == 0\n"
    "end\n";

static const char *PACKED_LUA =
    "STATE_SCHEMA = 1\n"
    "STEP = %d\n"
    "local unpack, pack, concat = string.unpack, string.pack, table.concat\n"
    "function init(ctx) state = { spawned = false } end\n"
    "function tick(ctx)\n"
    "  if not state.spawned then\n"
    "    for i = 1, %d do world.spawn(i * 65536, 0, 0, STEP, 0, 0, 100) end\n"
    "    state.spawned = true\n"
    "  end\n"
    "  local cur = 0\n"
    "  repeat\n"
    "    local b, nxt = world.query_packed(cur, 4096)\n"
    "    local out, pos = {}, 1\n"
    "    for i = 1, #b // 56 do\n"
    "      local id, x, y, z, vx, vy, vz, np = unpack('<i8i8i8i8i8i8i8', b, "
    "pos)\n"
    "      out[i] = pack('<i8i8i8i8', id, x + STEP, y + vy, z + vz)\n"
    "      pos = np\n"
    "    end\n"
    "    if #out > 0 then world.set_packed(concat(out)) end\n"
    "    cur = nxt\n"
    "  until cur == 0\n"
    "end\n";

static const char *EACH_LUA =
    "STATE_SCHEMA = 1\n"
    "STEP = %d\n"
    "IDS = {}\n"
    "function init(ctx) state = { spawned = false } end\n"
    "function tick(ctx)\n"
    "  if not state.spawned then\n"
    "    for i = 1, %d do IDS[i] = world.spawn(i * 65536, 0, 0, STEP, 0, 0, "
    "100) end\n"
    "    state.spawned = true\n"
    "  end\n"
    "  for i = 1, #IDS do\n"
    "    local e = world.get(IDS[i])\n"
    "    world.set_pos(IDS[i], e.x + STEP, e.y, e.z)\n"
    "  end\n"
    "end\n";

static char g_tmp[256];
static gosr_keypair g_root, g_dev;
static gosr_cert g_cert;

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Writes and packs module id@version with the given Lua; returns the
 * bundle path (caller frees). */
static char *make_module(const char *id, const char *version,
                         const char *lua_fmt, int step)
{
    char dir[512], path[600], lua[4096];
    snprintf(dir, sizeof dir, "%s/src-%s-%s", g_tmp, id, version);
    gosr_mkdir_p(dir, 0755);
    snprintf(path, sizeof path, "%s/gmod.json", dir);
    char *json = gosr_asprintf(
        "{\"schema_version\":\"1.0.0\",\"id\":\"%s\",\"version\":\"%s\","
        "\"kind\":\"game\",\"engine_compat\":\">=0.1.0\",\"depends\":{},"
        "\"capabilities\":[\"world.read\",\"world.write\"],"
        "\"entry\":\"main.lua\",\"author\":{\"type\":\"human\",\"name\":"
        "\"bench\"},\"created_at\":\"2026-11-24T00:00:00Z\"}",
        id, version);
    write_text(path, json);
    gosr_free(json);
    snprintf(path, sizeof path, "%s/main.lua", dir);
    snprintf(lua, sizeof lua, lua_fmt, step, ENTITIES);
    write_text(path, lua);
    char *out = gosr_asprintf("%s/%s-%s.gmod", g_tmp, id, version);
    gosr_gmod_pack_opts o = {.key = &g_dev, .chain = &g_cert, .nchain = 1};
    gosr_error err = {0};
    if (gosr_gmod_pack(dir, &o, out, &err) != GOSR_OK) {
        fprintf(stderr, "pack: %s: %s\n", err.reason, err.detail);
        exit(1);
    }
    return out;
}

static gosr_node *open_node(const char *name, uint32_t rate)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, name);
    gosr_node_config c = {.data_dir = dir,
                          .trust_pk = g_root.pk,
                          .no_admin = true,
                          .rate_hz = rate,
                          .capacity = 16384,
                          .max_spawn_per_tick = ENTITIES,
                          .quarantine_ticks = 30};
    gosr_node *n = NULL;
    gosr_error err = {0};
    if (gosr_node_open(&c, &n, &err) != GOSR_OK) {
        fprintf(stderr, "open: %s: %s\n", err.reason, err.detail);
        exit(1);
    }
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void pct(uint64_t *v, size_t n, uint64_t *p50, uint64_t *p99,
                uint64_t *max)
{
    qsort(v, n, sizeof *v, cmp_u64);
    *p50 = v[n / 2];
    *p99 = v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    *max = v[n - 1];
}

static void die(const char *what, const gosr_error *err)
{
    fprintf(stderr, "%s: %s: %s\n", what, err->reason, err->detail);
    exit(1);
}

/* CPU time of the calling thread (robust on a shared, loaded machine). */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bench_ticks(const char *label, const char *lua, size_t ticks)
{
    gosr_node *n = open_node(label, 30);
    char *b = make_module(label, "1.0.0", lua, 65536);
    gosr_error err = {0};
    if (gosr_node_publish(n, b, true, "bench", NULL, &err) != GOSR_OK)
        die("publish", &err);
    gosr_node_step(n, 3, &err); /* spawn and warm up */
    uint64_t *d = malloc(ticks * sizeof *d), *cpu = malloc(ticks * 8);
    for (size_t i = 0; i < ticks; i++) {
        uint64_t t0 = gosr_time_mono_ns(), c0 = cpu_ns();
        if (gosr_node_step(n, 1, &err) != GOSR_OK)
            die("step", &err);
        d[i] = gosr_time_mono_ns() - t0;
        cpu[i] = cpu_ns() - c0;
    }
    uint64_t p50, p99, max, c50, c99, cmax;
    pct(d, ticks, &p50, &p99, &max);
    pct(cpu, ticks, &c50, &c99, &cmax);
    printf("tick %-6s %u entities, %zu ticks: wall p50 %.3f p99 %.3f max "
           "%.3f ms | cpu p50 %.3f p99 %.3f ms | %.2f M entities/s (cpu "
           "p50)\n",
           label, gosr_world_count(gosr_node_world(n)), ticks, p50 / 1e6,
           p99 / 1e6, max / 1e6, c50 / 1e6, c99 / 1e6,
           ENTITIES / (c50 / 1e9) / 1e6);
    free(d);
    free(cpu);
    gosr_free(b);
    gosr_node_close(n);
}

static void wait_ticks(gosr_node *n, uint64_t upto)
{
    gosr_node_counters c;
    for (;;) {
        gosr_node_get_counters(n, &c);
        if (c.ticks >= upto)
            return;
        usleep(5000);
    }
}

static void bench_swap(void)
{
    gosr_node *n = open_node("swap", 30);
    char *v1 = make_module("swapper", "1.0.0", BULK_LUA, 65536);
    char *v2 = make_module("swapper", "2.0.0", BULK_LUA, 2 * 65536);
    gosr_error err = {0};
    if (gosr_node_publish(n, v1, true, "bench", NULL, &err) != GOSR_OK ||
        gosr_node_publish(n, v2, false, "bench", NULL, &err) != GOSR_OK)
        die("publish", &err);
    if (gosr_node_start(n, &err) != GOSR_OK)
        die("start", &err);
    wait_ticks(n, 170);
    gosr_node_counters c0, c1, c2;
    gosr_node_get_counters(n, &c0);
    uint64_t t0 = gosr_time_mono_ns();
    if (gosr_node_activate(n, "swapper", "2.0.0", "bench", &err) != GOSR_OK)
        die("activate", &err);
    uint64_t call_ns = gosr_time_mono_ns() - t0;
    gosr_node_get_counters(n, &c1);
    wait_ticks(n, c1.ticks + 50);
    gosr_node_get_counters(n, &c2);
    uint64_t d[1024];
    size_t k = gosr_node_recent_ticks(n, d, 1024);
    /* ring: the last k ticks end at c2.ticks; the switch happened between
     * c0.ticks and c1.ticks */
    size_t end_around = k, start_around = k - (size_t)(c2.ticks - c0.ticks) -
                                          50;
    size_t n_around = end_around - start_around;
    size_t start_base = start_around >= 100 ? start_around - 100 : 0;
    size_t n_base = start_around - start_base;
    uint64_t base[1024], around[1024], p50, p99, max, ap50, ap99, amax;
    memcpy(base, d + start_base, n_base * sizeof *d);
    memcpy(around, d + start_around, n_around * sizeof *d);
    pct(base, n_base, &p50, &p99, &max);
    pct(around, n_around, &ap50, &ap99, &amax);
    printf("swap   commit (pointer switch + world snapshot on the tick "
           "thread) %.3f ms; activate call (load+migrate+ledger, off the "
           "tick thread) %.1f ms\n",
           c1.last_swap_commit_ns / 1e6, call_ns / 1e6);
    printf("swap   baseline %zu ticks: p50 %.3f  p99 %.3f  max %.3f ms | "
           "%zu ticks around the swap: p50 %.3f  p99 %.3f  max %.3f ms\n",
           n_base, p50 / 1e6, p99 / 1e6, max / 1e6, n_around, ap50 / 1e6,
           ap99 / 1e6, amax / 1e6);
    printf("swap   late ticks %llu, missed periods %llu (whole run, %llu "
           "ticks at 30 Hz)\n",
           (unsigned long long)c2.late, (unsigned long long)c2.missed,
           (unsigned long long)c2.ticks);
    gosr_node_stop(n);
    gosr_node_close(n);
    gosr_free(v1);
    gosr_free(v2);
}

int main(int argc, char **argv)
{
    size_t ticks = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
    if (ticks < 10)
        ticks = 10;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bench_kernel.XXXXXX");
    if (!mkdtemp(g_tmp))
        return 1;
    uint8_t seed[32];
    memset(seed, 7, 32);
    gosr_keypair_from_seed(&g_root, seed);
    memset(seed, 8, 32);
    gosr_keypair_from_seed(&g_dev, seed);
    int64_t now = (int64_t)(gosr_time_wall_ns() / 1000000000u);
    gosr_cert_issue(&g_root, g_dev.pk, "bench", GOSR_CERT_KIND_GAME,
                    now - 3600, now + 3600, &g_cert, NULL);
    gosr_log_set_level(GOSR_LOG_WARN);
    bench_ticks("bulk", BULK_LUA, ticks);
    bench_ticks("packed", PACKED_LUA, ticks);
    bench_ticks("each", EACH_LUA, ticks);
    bench_swap();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    return system(cmd) == 0 ? 0 : 1;
}
