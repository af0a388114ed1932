/*
 * tick.c — the fixed-step loop: absolute deadlines (clock_nanosleep with
 * TIMER_ABSTIME on CLOCK_MONOTONIC), a fixed list of systems run in
 * registration order inside one world batch per tick, an input queue whose
 * events are admitted only at tick boundaries (in submission order, with
 * ids derived from seed, tick and sequence), the session log hook, and
 * per-tick timing statistics.
 *
 * Design: docs/runtime.md ("Tick loop", "Inputs").
 */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MAX_SYSTEMS 32

/* One registered system. */
typedef struct tick_system {
    char name[32];     /* for error messages */
    gosr_system_fn fn; /* called once per tick */
    void *ud;          /* passed back to fn */
} tick_system;

struct gosr_tick {
    gosr_world *w;                     /* borrowed; the simulated world */
    gosr_tick_config cfg;              /* effective configuration */
    tick_system sys[TICK_MAX_SYSTEMS]; /* systems in execution order */
    uint32_t nsys;                     /* registered systems */
    pthread_mutex_t qlock;             /* guards queue and qlen */
    gosr_event *queue;                 /* pending inputs, FIFO; owned */
    uint32_t qlen;                     /* pending count */
    gosr_event *batch;                 /* inputs admitted to the running tick */
    uint32_t nbatch;                   /* admitted count */
    gosr_session *log;                 /* borrowed or NULL */
    uint64_t *times;                   /* ring of tick durations (ns) */
    uint64_t ntimes;                   /* durations recorded in total */
    gosr_tick_stats st;  /* counters (percentiles computed on read) */
    atomic_bool stop;    /* set by gosr_tick_stop */
    gosr_hash last_hash; /* hash after the last hashed tick */
};

gosr_world *tick__world(gosr_tick *t)
{
    return t->w;
}

int gosr_tick_create(gosr_world *w, const gosr_tick_config *cfg,
                     gosr_tick **out, gosr_error *err)
{
    gosr_tick *t = gosr_calloc(1, sizeof *t);
    if (!t)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "tick");
    pthread_mutex_init(&t->qlock, NULL);
    t->w = w;
    t->cfg = cfg ? *cfg : (gosr_tick_config){0};
    if (!t->cfg.rate_hz)
        t->cfg.rate_hz = gosr_world_get_config(w)->rate_hz;
    if (!t->cfg.max_events)
        t->cfg.max_events = 1024;
    if (!t->cfg.max_queue)
        t->cfg.max_queue = 4096;
    if (!t->cfg.stats_window)
        t->cfg.stats_window = 4096;
    if (t->cfg.rate_hz > 10000 || t->cfg.max_events > t->cfg.max_queue) {
        uint32_t rate = t->cfg.rate_hz;
        gosr_tick_destroy(t);
        return gosr_error_set(err, GOSR_EINVAL, "tick_bad_config",
                              "rate %u Hz (max 10000) or max_events > "
                              "max_queue",
                              rate);
    }
    t->queue = gosr_calloc(t->cfg.max_queue, sizeof *t->queue);
    t->batch = gosr_calloc(t->cfg.max_events, sizeof *t->batch);
    t->times = gosr_calloc(t->cfg.stats_window, sizeof *t->times);
    if (!t->queue || !t->batch || !t->times) {
        gosr_tick_destroy(t);
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "tick");
    }
    *out = t;
    return GOSR_OK;
}

static void clear_batch(gosr_tick *t)
{
    for (uint32_t i = 0; i < t->nbatch; i++)
        gosr_event_clear(&t->batch[i]);
    t->nbatch = 0;
}

void gosr_tick_destroy(gosr_tick *t)
{
    if (!t)
        return;
    if (t->batch)
        clear_batch(t);
    for (uint32_t i = 0; t->queue && i < t->qlen; i++)
        gosr_event_clear(&t->queue[i]);
    pthread_mutex_destroy(&t->qlock);
    gosr_free(t->queue);
    gosr_free(t->batch);
    gosr_free(t->times);
    gosr_free(t);
}

int gosr_tick_add_system(gosr_tick *t, const char *name, gosr_system_fn fn,
                         void *ud)
{
    if (!fn || !name)
        return GOSR_EINVAL;
    if (t->nsys == TICK_MAX_SYSTEMS)
        return GOSR_ENOSPC;
    tick_system *s = &t->sys[t->nsys++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->fn = fn;
    s->ud = ud;
    return GOSR_OK;
}

void gosr_tick_attach_log(gosr_tick *t, gosr_session *log)
{
    t->log = log;
}

int gosr_tick_submit(gosr_tick *t, const gosr_event *ev)
{
    gosr_event copy = {0};
    int rc = gosr_event_copy(&copy, ev);
    if (rc != GOSR_OK)
        return rc;
    if (!copy.wall_ns)
        copy.wall_ns = gosr_time_wall_ns();
    pthread_mutex_lock(&t->qlock);
    if (t->qlen == t->cfg.max_queue) {
        pthread_mutex_unlock(&t->qlock);
        gosr_event_clear(&copy);
        return GOSR_EBUSY;
    }
    t->queue[t->qlen++] = copy;
    pthread_mutex_unlock(&t->qlock);
    return GOSR_OK;
}

/* Moves up to max_events queued inputs into the batch, in submission
 * order, stamping each with the tick and a deterministic id. */
static void admit(gosr_tick *t, uint64_t tick)
{
    pthread_mutex_lock(&t->qlock);
    uint32_t n = t->qlen < t->cfg.max_events ? t->qlen : t->cfg.max_events;
    memcpy(t->batch, t->queue, n * sizeof *t->batch);
    memmove(t->queue, t->queue + n, (t->qlen - n) * sizeof *t->queue);
    memset(t->queue + (t->qlen - n), 0, n * sizeof *t->queue);
    t->qlen -= n;
    pthread_mutex_unlock(&t->qlock);
    uint64_t seed = gosr_world_get_config(t->w)->seed;
    for (uint32_t i = 0; i < n; i++) {
        t->batch[i].tick = tick;
        gosr_event_derive_id(seed, tick, i, t->batch[i].id);
    }
    t->nbatch = n;
    t->st.events += n;
}

static void record_time(gosr_tick *t, uint64_t ns)
{
    t->times[t->ntimes % t->cfg.stats_window] = ns;
    t->ntimes++;
    t->st.ticks++;
}

/* Runs the systems in order inside the batch; the first error wins. */
static int run_systems(gosr_tick *t, uint64_t tick, gosr_error *err)
{
    for (uint32_t i = 0; i < t->nsys; i++) {
        int rc = t->sys[i].fn(t->sys[i].ud, t->w, tick, t->batch, t->nbatch);
        if (rc != GOSR_OK)
            return gosr_error_wrap(
                err, rc, "system_failed", "system '%s' failed at tick %llu: %s",
                t->sys[i].name, (unsigned long long)tick, gosr_strerror(rc));
    }
    return GOSR_OK;
}

int gosr_tick_step(gosr_tick *t, gosr_error *err)
{
    uint64_t t0 = gosr_time_mono_ns();
    int rc = gosr_world_begin(t->w);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "tick_batch_open",
                              "a world batch is already open");
    world__advance_tick(t->w);
    uint64_t tick = gosr_world_tick(t->w);
    admit(t, tick);
    rc = run_systems(t, tick, err);
    if (rc == GOSR_OK && (t->cfg.hash_every_tick || t->log)) {
        gosr_world_hash(t->w, &t->last_hash);
        world__publish_hash(t->w, &t->last_hash);
    }
    gosr_world_commit(t->w, false);
    if (rc == GOSR_OK && t->log)
        rc = gosr_session_append_tick(t->log, tick, t->batch, t->nbatch,
                                      &t->last_hash, err);
    clear_batch(t);
    record_time(t, gosr_time_mono_ns() - t0);
    return rc;
}

static void sleep_until(uint64_t deadline_ns)
{
    struct timespec ts = {(time_t)(deadline_ns / 1000000000u),
                          (long)(deadline_ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

int gosr_tick_run(gosr_tick *t, uint64_t n, gosr_error *err)
{
    uint64_t period = 1000000000u / t->cfg.rate_hz;
    uint64_t next = gosr_time_mono_ns();
    atomic_store(&t->stop, false);
    for (uint64_t i = 0; i < n && !atomic_load(&t->stop); i++) {
        if (!t->cfg.no_sleep) {
            uint64_t now = gosr_time_mono_ns();
            if (now < next) {
                sleep_until(next);
            } else if (now > next) {
                t->st.late++;
                /* Behind by whole periods: move the schedule forward instead
                 * of bursting; logical ticks are never skipped. */
                uint64_t behind = (now - next) / period;
                t->st.missed += behind;
                next += behind * period;
            }
        }
        int rc = gosr_tick_step(t, err);
        if (rc != GOSR_OK)
            return rc;
        next += period;
    }
    return GOSR_OK;
}

void gosr_tick_stop(gosr_tick *t)
{
    atomic_store(&t->stop, true);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void gosr_tick_get_stats(const gosr_tick *t, gosr_tick_stats *out)
{
    *out = t->st;
    uint64_t n =
        t->ntimes < t->cfg.stats_window ? t->ntimes : t->cfg.stats_window;
    uint64_t *v = n ? gosr_malloc(n * sizeof *v) : NULL;
    if (!v)
        return;
    memcpy(v, t->times, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_u64);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += v[i];
    out->p50_ns = v[(n - 1) / 2];
    out->p99_ns = v[(n - 1) * 99 / 100];
    out->max_ns = v[n - 1];
    out->mean_ns = sum / n;
    gosr_free(v);
}

void gosr_tick_last_hash(const gosr_tick *t, gosr_hash *out)
{
    *out = t->last_hash;
}
