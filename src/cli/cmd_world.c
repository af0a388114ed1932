/*
 * cmd_world.c — `gosr world run`: runs the builtin C simulation on the
 * fixed-step loop with its world in DIR/world.arena (so `gosr watch` can
 * follow it), optionally recording a session log for `gosr replay`. A
 * second thread plays a player: it submits spawn/move/damage events at
 * random times from a non-deterministic seed, so the log, not the code, is
 * what makes the run replayable.
 * Design: docs/runtime.md ("gosr world run").
 */
#include "cli/cli.h"
#include "gosr/runtime.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* The input thread's state. */
typedef struct player {
    gosr_tick *t;       /* loop to submit to */
    uint32_t per_sec;   /* events per second (0 = none) */
    uint32_t targets;   /* entity index range to aim at */
    uint64_t rng;       /* xorshift state (seeded non-deterministically) */
    atomic_bool stop;   /* set when the run ends */
    uint64_t submitted; /* events accepted by the queue */
} player;

static gosr_tick *volatile g_running; /* for the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    if (g_running)
        gosr_tick_stop(g_running);
}

static uint64_t next_rand(player *p)
{
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return p->rng;
}

static void make_input(player *p, gosr_event *ev)
{
    uint64_t r = next_rand(p);
    gosr_entity target = {(1ull << 32) |
                          (r >> 8) % (p->targets ? p->targets : 1)};
    int64_t v = (int64_t)(r % 5) - 2;
    switch (r % 3) {
    case 0:
        gosr_sim_event_spawn(ev, (gosr_vec3){v * GOSR_FIX_ONE, 0, 0},
                             (gosr_vec3){v, -v, 0}, 1 + r % 8, 50);
        break;
    case 1:
        gosr_sim_event_move(ev, target, (gosr_vec3){v * 100, v * 50, 0});
        break;
    default:
        gosr_sim_event_damage(ev, target, 10 + (int32_t)(r % 40));
    }
    gosr_event_set_meta(ev, "user_id", "player-1", NULL);
    gosr_event_set_meta(ev, "device_id", "cli", NULL);
}

static void *player_main(void *arg)
{
    player *p = arg;
    while (!atomic_load(&p->stop)) {
        usleep((useconds_t)(1000000u / p->per_sec));
        gosr_event ev = {0};
        make_input(p, &ev);
        if (gosr_tick_submit(p->t, &ev) == GOSR_OK)
            p->submitted++;
        gosr_event_clear(&ev);
    }
    return NULL;
}

/* Options after parsing. */
typedef struct run_opts {
    const char *data, *log; /* --data DIR, --log FILE */
    uint64_t ticks, rate, entities, capacity, seed, inputs;
    bool json; /* --json */
} run_opts;

static void print_summary(const run_opts *o, gosr_tick *t, gosr_world *w,
                          const player *p)
{
    gosr_tick_stats st;
    gosr_hash h;
    char hex[65];
    gosr_tick_get_stats(t, &st);
    gosr_tick_last_hash(t, &h);
    gosr_hash_hex(&h, hex);
    json_t *j = json_pack(
        "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "ok", 1, "ticks",
        (json_int_t)st.ticks, "entities", (json_int_t)gosr_world_count(w),
        "inputs", (json_int_t)st.events, "p50_ns", (json_int_t)st.p50_ns,
        "p99_ns", (json_int_t)st.p99_ns, "late", (json_int_t)st.late, "missed",
        (json_int_t)st.missed, "submitted", (json_int_t)p->submitted, "hash",
        hex);
    if (o->json) {
        cli_print_json(j);
        return;
    }
    json_decref(j);
    printf("ran %llu ticks at %llu Hz: %u entities, %llu inputs, tick p50 "
           "%.1f us p99 %.1f us, %llu late, %llu missed periods\nhash %s\n",
           (unsigned long long)st.ticks, (unsigned long long)o->rate,
           gosr_world_count(w), (unsigned long long)st.events, st.p50_ns / 1e3,
           st.p99_ns / 1e3, (unsigned long long)st.late,
           (unsigned long long)st.missed, hex);
}

static int run(const run_opts *o, gosr_error *err)
{
    char path[PATH_MAX];
    gosr_session_config sc = {.seed = o->seed,
                              .rate_hz = (uint32_t)o->rate,
                              .capacity = (uint32_t)o->capacity,
                              .kv_capacity = 4096,
                              .spawn = (uint32_t)o->entities};
    snprintf(sc.systems, sizeof sc.systems, "builtin.v1");
    gosr_world_config wc = {.capacity = sc.capacity,
                            .kv_capacity = 4096,
                            .seed = sc.seed,
                            .rate_hz = sc.rate_hz};
    gosr_world *w = NULL;
    gosr_tick *t = NULL;
    gosr_session *log = NULL;
    player p = {.per_sec = (uint32_t)o->inputs, .targets = sc.spawn};
    snprintf(path, sizeof path, "%s/%s", o->data, GOSR_ARENA_FILE);
    int rc = gosr_mkdir_p(o->data, 0755);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "mkdir_failed", "%s", o->data);
    if ((rc = gosr_world_create(&wc, path, &w, err)) != GOSR_OK ||
        (rc = gosr_tick_create(w,
                               &(gosr_tick_config){.rate_hz = sc.rate_hz,
                                                   .hash_every_tick = true},
                               &t, err)) != GOSR_OK ||
        (o->log &&
         (rc = gosr_session_create(o->log, &sc, &log, err)) != GOSR_OK) ||
        (rc = gosr_sim_setup(w, &sc, err)) != GOSR_OK ||
        (rc = gosr_sim_install(t, sc.systems, err)) != GOSR_OK)
        goto out;
    gosr_tick_attach_log(t, log);
    if (getrandom(&p.rng, sizeof p.rng, 0) != sizeof p.rng || p.rng == 0)
        p.rng = gosr_time_mono_ns() | 1;
    p.t = t;
    pthread_t th;
    bool threaded =
        p.per_sec > 0 && pthread_create(&th, NULL, player_main, &p) == 0;
    g_running = t;
    rc = gosr_tick_run(t, o->ticks, err);
    g_running = NULL;
    atomic_store(&p.stop, true);
    if (threaded)
        pthread_join(th, NULL);
    if (rc == GOSR_OK)
        print_summary(o, t, w, &p);
out:
    gosr_session_close(log);
    gosr_tick_destroy(t);
    gosr_world_destroy(w);
    return rc;
}

static int parse_num(const char *s, uint64_t def, uint64_t max, uint64_t *out)
{
    *out = def;
    return !s || (cli_parse_u64(s, out) == GOSR_OK && *out <= max)
               ? GOSR_OK
               : GOSR_EINVAL;
}

static int cmd_world(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "run") != 0)
        return cli_usage_error("unknown subcommand '%s'", sub);
    const char *ticks = NULL, *rate = NULL, *ents = NULL, *cap = NULL,
               *seed = NULL, *inputs = NULL, *pos[1];
    run_opts o = {0};
    int npos;
    cli_opt opts[] = {{"data", &o.data, NULL},   {"log", &o.log, NULL},
                      {"ticks", &ticks, NULL},   {"rate", &rate, NULL},
                      {"entities", &ents, NULL}, {"capacity", &cap, NULL},
                      {"seed", &seed, NULL},     {"inputs", &inputs, NULL},
                      {"json", NULL, &o.json},   {NULL, NULL, NULL}};
    if (cli_parse(argc - 1, argv + 1, opts, pos, 0, &npos) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    if (!o.data)
        return cli_usage_error("--data DIR is required");
    if (parse_num(ticks, 300, UINT64_MAX, &o.ticks) ||
        parse_num(rate, 30, 10000, &o.rate) || o.rate == 0 ||
        parse_num(ents, 1000, 1u << 22, &o.entities) ||
        parse_num(cap, o.entities + 4096, 1u << 22, &o.capacity) ||
        parse_num(seed, 1, UINT64_MAX, &o.seed) ||
        parse_num(inputs, 20, 100000, &o.inputs))
        return cli_usage_error("bad numeric option");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    gosr_error err = {0};
    int rc = run(&o, &err);
    return rc == GOSR_OK ? CLI_EXIT_OK
                         : cli_report_error(o.json, &err, rc, CLI_EXIT_FAIL);
}

GOSR_CLI_COMMAND(world, "world", cmd_world,
                 "run the builtin simulation on the fixed-step loop",
                 "gosr world run --data DIR [--ticks N] [--rate HZ] "
                 "[--entities N] [--capacity N] [--seed S] [--inputs PER_SEC] "
                 "[--log FILE] [--json]")
