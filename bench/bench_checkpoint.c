/*
 * bench_checkpoint.c — node checkpoint figures (docs/kernel.md,
 * "Checkpoints", "Measured"), with 10,000 entities, 4,000 kv entries and a
 * module `state` table of 1,000 entries:
 *   1. time on the tick thread per checkpoint (world snapshot + state
 *      copy), p50/p99 over the rounds;
 *   2. off the tick thread: encode (snapshot encoding, values, BLAKE3) and
 *      the whole write (encode + rename + temp write + fsync + rename +
 *      directory fsync), p50/p99; file bytes;
 *   3. decode of the file, and gosr_node_open with the checkpoint restored
 *      against the same open with checkpoints off (the difference is the
 *      restore).
 * Usage: bench_checkpoint [rounds] (default 40).
 */
#include "kernel/checkpoint.h"

#include "gosr/crypto.h"
#include "gosr/gmod.h"
#include "gosr/kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENTITIES 10000
#define KV 4000

static const char *LUA =
    "STATE_SCHEMA = 1\n"
    "function init(ctx)\n"
    "  state = { spawned = false, names = {} }\n"
    "  for i = 1, 1000 do state.names[i] = 'player-' .. i end\n"
    "end\n"
    "function tick(ctx)\n"
    "  if not state.spawned then\n"
    "    for i = 1, %d do\n"
    "      local id = world.spawn(i * 65536, 0, 0, 65536, 0, 0, 100)\n"
    "      if i <= %d then world.kv_set(id, 'score', tostring(i)) end\n"
    "    end\n"
    "    state.spawned = true\n"
    "  end\n"
    "  state.ticks = (state.ticks or 0) + 1\n"
    "end\n";

static char g_tmp[256];
static gosr_keypair g_root, g_dev;
static gosr_cert g_cert;

static void die(const char *what, const gosr_error *err)
{
    fprintf(stderr, "%s: %s: %s\n", what, err->reason, err->detail);
    exit(1);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *make_module(void)
{
    char dir[512], path[600], lua[2048];
    snprintf(dir, sizeof dir, "%s/src", g_tmp);
    gosr_mkdir_p(dir, 0755);
    snprintf(path, sizeof path, "%s/gmod.json", dir);
    write_text(path,
               "{\"schema_version\":\"1.0.0\",\"id\":\"ck\",\"version\":"
               "\"1.0.0\",\"kind\":\"game\",\"engine_compat\":\">=0.1.0\","
               "\"depends\":{},\"capabilities\":[\"world.read\","
               "\"world.write\"],\"entry\":\"main.lua\",\"author\":{\"type\":"
               "\"human\",\"name\":\"bench\"},\"created_at\":"
               "\"2026-11-24T00:00:00Z\"}");
    snprintf(path, sizeof path, "%s/main.lua", dir);
    snprintf(lua, sizeof lua, LUA, ENTITIES, KV);
    write_text(path, lua);
    char *out = gosr_asprintf("%s/ck.gmod", g_tmp);
    gosr_gmod_pack_opts o = {.key = &g_dev, .chain = &g_cert, .nchain = 1};
    gosr_error err = {0};
    if (gosr_gmod_pack(dir, &o, out, &err) != GOSR_OK)
        die("pack", &err);
    return out;
}

static gosr_node *open_node(uint32_t every)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/node", g_tmp);
    gosr_node_config c = {.data_dir = dir,
                          .trust_pk = g_root.pk,
                          .no_admin = true,
                          .capacity = 16384,
                          .kv_capacity = 4096,
                          .max_spawn_per_tick = ENTITIES,
                          .checkpoint_ticks = every};
    gosr_node *n = NULL;
    gosr_error err = {0};
    if (gosr_node_open(&c, &n, &err) != GOSR_OK)
        die("open", &err);
    return n;
}

static int64_t ckpt_int(gosr_node *n, const char *key)
{
    json_t *st = NULL;
    gosr_node_status_json(n, &st, NULL);
    json_t *v = json_object_get(json_object_get(st, "checkpoint"), key);
    int64_t r = json_is_integer(v) ? json_integer_value(v) : -1;
    json_decref(st);
    return r;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_pct(const char *label, uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i99 = (n * 99) / 100 < n ? (n * 99) / 100 : n - 1;
    printf("%-44s p50 %8.3f ms  p99 %8.3f ms  max %8.3f ms\n", label,
           v[n / 2] / 1e6, v[i99] / 1e6, v[n - 1] / 1e6);
}

/* 1 + 2: checkpoint every tick, one tick at a time, writer drained. */
static void bench_rounds(gosr_node *n, size_t rounds)
{
    uint64_t *take = malloc(rounds * 8), *write = malloc(rounds * 8);
    gosr_error err = {0};
    for (size_t i = 0; i < rounds; i++) {
        int64_t before = ckpt_int(n, "written");
        if (gosr_node_step(n, 1, &err) != GOSR_OK)
            die("step", &err);
        while (ckpt_int(n, "written") == before)
            usleep(200);
        take[i] = (uint64_t)ckpt_int(n, "take_ns");
        write[i] = (uint64_t)ckpt_int(n, "write_ns");
    }
    printf("checkpoint of %u entities, %u kv, state of 1000 strings, %zu "
           "rounds; file %lld bytes\n",
           gosr_world_count(gosr_node_world(n)), KV, rounds,
           (long long)ckpt_int(n, "last_bytes"));
    print_pct("tick thread (snapshot + state copy)", take, rounds);
    print_pct("writer (encode + write + fsync + rename)", write, rounds);
    free(take);
    free(write);
}

/* 2 + 3: encode and decode of the file on disk. */
static void bench_codec(const gosr_world_config *wc)
{
    char path[512];
    snprintf(path, sizeof path, "%s/node/checkpoint", g_tmp);
    uint8_t *p = NULL;
    size_t len = 0;
    gosr_error err = {0};
    if (gosr_file_read_all(path, 1u << 30, &p, &len) != GOSR_OK)
        die("read", &err);
    enum { N = 20 };
    uint64_t dec[N], enc[N];
    for (int i = 0; i < N; i++) {
        ckpt_data *c = NULL;
        uint64_t t0 = gosr_time_mono_ns();
        if (kernel__ckpt_decode(p, len, wc, &c, &err) != GOSR_OK)
            die("decode", &err);
        uint64_t t1 = gosr_time_mono_ns();
        gosr_buf b = {0};
        kernel__ckpt_encode(c, &b, &err);
        enc[i] = gosr_time_mono_ns() - t1;
        dec[i] = t1 - t0;
        gosr_buf_free(&b);
        kernel__ckpt_free(c);
    }
    print_pct("encode (writer thread)", enc, N);
    print_pct("decode + verify (open)", dec, N);
    gosr_free(p);
}

/* 3: open with the checkpoint restored against open without. */
static void bench_open(void)
{
    enum { N = 5 };
    uint64_t with[N], without[N];
    for (int i = 0; i < N; i++) {
        uint64_t t0 = gosr_time_mono_ns();
        gosr_node *n = open_node(GOSR_NODE_CHECKPOINT_OFF);
        without[i] = gosr_time_mono_ns() - t0;
        gosr_node_close(n);
        t0 = gosr_time_mono_ns();
        n = open_node(0);
        with[i] = gosr_time_mono_ns() - t0;
        if (gosr_world_count(gosr_node_world(n)) != ENTITIES)
            fprintf(stderr, "restore: %u entities\n",
                    gosr_world_count(gosr_node_world(n)));
        gosr_node_close(n);
    }
    print_pct("gosr_node_open, checkpoint restored", with, N);
    print_pct("gosr_node_open, checkpoints off", without, N);
}

int main(int argc, char **argv)
{
    size_t rounds = argc > 1 ? (size_t)atol(argv[1]) : 40;
    if (rounds < 1)
        rounds = 1;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bench-ckpt-XXXXXX");
    if (!mkdtemp(g_tmp))
        return 1;
    uint8_t seed[32];
    memset(seed, 1, 32);
    gosr_keypair_from_seed(&g_root, seed);
    memset(seed, 2, 32);
    gosr_keypair_from_seed(&g_dev, seed);
    int64_t now = (int64_t)(gosr_time_wall_ns() / 1000000000u);
    gosr_cert_issue(&g_root, g_dev.pk, "dev", GOSR_CERT_KIND_GAME, now - 60,
                    now + 86400, &g_cert, NULL);
    char *bundle = make_module();
    gosr_node *n = open_node(1);
    gosr_error err = {0};
    if (gosr_node_publish(n, bundle, true, "bench", NULL, &err) != GOSR_OK)
        die("publish", &err);
    gosr_node_step(n, 2, &err); /* spawn */
    bench_rounds(n, rounds);
    gosr_world_config wc = *gosr_world_get_config(gosr_node_world(n));
    gosr_node_close(n);
    bench_codec(&wc);
    bench_open();
    gosr_free(bundle);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : 1;
}
