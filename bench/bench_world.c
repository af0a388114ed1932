/*
 * bench_world.c — tick time with 10,000 entities on the builtin C systems
 * (input handling + movement touching every entity), world in a
 * file-backed arena as on a node, ticks run back to back: p50/p99 per tick
 * and entities per second; then the same with the world hash after every
 * tick (what a session log or replay adds), and with a session log.
 * Usage: bench_world [ENTITIES] [TICKS]
 * Design: docs/runtime.md ("Benchmarks").
 */
#include "gosr/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void run(const char *dir, uint32_t ents, uint64_t ticks, bool hash,
                bool log_on, const char *label)
{
    char arena[128], logp[128];
    snprintf(arena, sizeof arena, "%s/%s", dir, GOSR_ARENA_FILE);
    snprintf(logp, sizeof logp, "%s/bench.log", dir);
    unlink(logp);
    gosr_session_config sc = {.seed = 1,
                              .rate_hz = 30,
                              .capacity = ents,
                              .kv_capacity = 4096,
                              .spawn = ents};
    snprintf(sc.systems, sizeof sc.systems, "builtin.v1");
    gosr_world_config wc = {.capacity = ents, .kv_capacity = 4096, .seed = 1};
    gosr_world *w;
    gosr_tick *t;
    gosr_session *log = NULL;
    gosr_error err;
    gosr_tick_config tc = {.no_sleep = true,
                           .hash_every_tick = hash,
                           .stats_window = (uint32_t)ticks};
    if (gosr_world_create(&wc, arena, &w, &err) != GOSR_OK ||
        gosr_tick_create(w, &tc, &t, &err) != GOSR_OK ||
        gosr_sim_setup(w, &sc, &err) != GOSR_OK ||
        gosr_sim_install(t, sc.systems, &err) != GOSR_OK ||
        (log_on && gosr_session_create(logp, &sc, &log, &err) != GOSR_OK)) {
        fprintf(stderr, "setup: %s\n", err.detail);
        exit(1);
    }
    gosr_tick_attach_log(t, log);
    gosr_tick_run(t, 20, NULL); /* warm-up, not in the window's tail */
    uint64_t t0 = gosr_time_mono_ns();
    if (gosr_tick_run(t, ticks, &err) != GOSR_OK) {
        fprintf(stderr, "run: %s\n", err.detail);
        exit(1);
    }
    uint64_t wall = gosr_time_mono_ns() - t0;
    gosr_tick_stats st;
    gosr_tick_get_stats(t, &st);
    printf("%-22s %u entities x %llu ticks: tick p50 %8.1f us  p99 %8.1f us"
           "  max %8.1f us  mean %8.1f us  %6.1f M entity-updates/s\n",
           label, ents, (unsigned long long)ticks, st.p50_ns / 1e3,
           st.p99_ns / 1e3, st.max_ns / 1e3, st.mean_ns / 1e3,
           (double)ents * (double)ticks / ((double)wall / 1e9) / 1e6);
    if (hash && !log_on) {
        /* The hash alone, to separate it from the systems' cost. */
        uint64_t best = UINT64_MAX, sum = 0;
        gosr_hash h;
        for (int i = 0; i < 200; i++) {
            uint64_t a = gosr_time_mono_ns();
            gosr_world_hash(w, &h);
            uint64_t d = gosr_time_mono_ns() - a;
            sum += d;
            best = d < best ? d : best;
        }
        printf("%-22s %u entities (%u KiB hashed): best %8.1f us  mean %8.1f "
               "us  %6.0f MB/s\n",
               "world hash only", ents, ents * 128u / 1024u, best / 1e3,
               sum / 200 / 1e3, ents * 128.0 / (best / 1e9) / 1e6);
    }
    gosr_session_close(log);
    gosr_tick_destroy(t);
    gosr_world_destroy(w);
}

int main(int argc, char **argv)
{
    uint32_t ents = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 10000;
    uint64_t ticks = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000;
    char dir[] = "/tmp/bench-world-XXXXXX";
    if (!ents || !ticks || !mkdtemp(dir))
        return 1;
    printf("world tick, builtin.v1 C systems, arena file-backed, BLAKE3 path "
           "%s, %ld CPUs online\n",
           gosr_blake3_path_name(gosr_blake3_get_path()),
           sysconf(_SC_NPROCESSORS_ONLN));
    run(dir, ents, ticks, false, false, "movement");
    run(dir, ents, ticks, true, false, "movement + hash");
    run(dir, ents, ticks, true, true, "movement + hash + log");
    char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, GOSR_ARENA_FILE);
    unlink(p);
    snprintf(p, sizeof p, "%s/bench.log", dir);
    unlink(p);
    rmdir(dir);
    return 0;
}
