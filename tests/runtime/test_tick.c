/*
 * test_tick.c — the tick loop: systems run in registration order once per
 * tick; inputs are admitted only at tick boundaries, in submission order,
 * stamped with the tick and a deterministic id; the queue is bounded; a
 * failing system stops the loop; the scheduled run executes every logical
 * tick and keeps statistics; inputs submitted from another thread land at
 * a boundary.
 */
#include "harness.h"
#include "gosr/runtime.h"

#include <pthread.h>
#include <time.h>

/* Records what systems saw. */
typedef struct trace {
    char order[64];          /* system letters in call order */
    size_t n;                /* letters */
    uint64_t ticks[8];       /* tick numbers seen by system 'a' */
    size_t events[8];        /* events seen by system 'a' per call */
    char first_user[8][16];  /* user_id of the first event per call */
    uint8_t first_id[8][16]; /* id of the first event per call */
    uint64_t first_tick[8];  /* tick stamped on the first event */
    int fail_at;             /* tick at which system 'b' fails (0 = never) */
} trace;

static int sys_a(void *ud, gosr_world *w, uint64_t tick, const gosr_event *ev,
                 size_t n)
{
    trace *t = ud;
    (void)w;
    size_t k = tick - 1;
    t->order[t->n++] = 'a';
    if (k < 8) {
        t->ticks[k] = tick;
        t->events[k] = n;
        if (n) {
            snprintf(t->first_user[k], 16, "%s",
                     ev[0].user_id ? ev[0].user_id : "");
            memcpy(t->first_id[k], ev[0].id, 16);
            t->first_tick[k] = ev[0].tick;
        }
    }
    return GOSR_OK;
}

static int sys_b(void *ud, gosr_world *w, uint64_t tick, const gosr_event *ev,
                 size_t n)
{
    trace *t = ud;
    (void)w;
    (void)ev;
    (void)n;
    t->order[t->n++] = 'b';
    return t->fail_at && (int)tick == t->fail_at ? GOSR_EFAULT : GOSR_OK;
}

static gosr_event user_event(const char *user)
{
    gosr_event ev = {0};
    gosr_event_set_name(&ev, "input:key:v1:requested", NULL);
    gosr_event_set_meta(&ev, "user_id", user, NULL);
    return ev;
}

GOSR_TEST(order_and_boundaries)
{
    gosr_world_config wc = {.capacity = 8, .seed = 5};
    gosr_world *w;
    REQUIRE(gosr_world_create(&wc, NULL, &w, NULL) == GOSR_OK);
    gosr_tick_config tc = {.max_events = 2, .max_queue = 3, .no_sleep = true};
    gosr_tick *t;
    REQUIRE(gosr_tick_create(w, &tc, &t, NULL) == GOSR_OK);
    trace tr = {0};
    CHECK_OK(gosr_tick_add_system(t, "a", sys_a, &tr));
    CHECK_OK(gosr_tick_add_system(t, "b", sys_b, &tr));
    CHECK_OK(gosr_tick_step(t, NULL)); /* tick 1: no inputs */
    gosr_event e1 = user_event("u1"), e2 = user_event("u2"),
               e3 = user_event("u3"), e4 = user_event("u4");
    CHECK_OK(gosr_tick_submit(t, &e1));
    CHECK_OK(gosr_tick_submit(t, &e2));
    CHECK_OK(gosr_tick_submit(t, &e3));
    CHECK_STATUS(gosr_tick_submit(t, &e4), GOSR_EBUSY); /* queue of 3 */
    CHECK_OK(gosr_tick_step(t, NULL)); /* tick 2: u1, u2 (max 2) */
    CHECK_OK(gosr_tick_step(t, NULL)); /* tick 3: u3 */
    CHECK_STR(tr.order, "ababab");
    CHECK_UINT(tr.ticks[2], ==, 3);
    CHECK_UINT(tr.events[0], ==, 0);
    CHECK_UINT(tr.events[1], ==, 2);
    CHECK_UINT(tr.events[2], ==, 1);
    CHECK_STR(tr.first_user[1], "u1");
    CHECK_STR(tr.first_user[2], "u3");
    CHECK_UINT(tr.first_tick[2], ==, 3);
    uint8_t id[16];
    gosr_event_derive_id(5, 3, 0, id);
    CHECK_MEM(tr.first_id[2], id, 16);
    gosr_tick_stats st;
    gosr_tick_get_stats(t, &st);
    CHECK_UINT(st.ticks, ==, 3);
    CHECK_UINT(st.events, ==, 3);
    CHECK_UINT(st.max_ns, >=, st.p50_ns);
    CHECK_UINT(gosr_world_tick(w), ==, 3);
    gosr_event_clear(&e1);
    gosr_event_clear(&e2);
    gosr_event_clear(&e3);
    gosr_event_clear(&e4);
    gosr_tick_destroy(t);
    gosr_world_destroy(w);
}

GOSR_TEST(failing_system_stops_run)
{
    gosr_world *w;
    REQUIRE(gosr_world_create(NULL, NULL, &w, NULL) == GOSR_OK);
    gosr_tick_config tc = {.rate_hz = 1000};
    gosr_tick *t;
    REQUIRE(gosr_tick_create(w, &tc, &t, NULL) == GOSR_OK);
    trace tr = {.fail_at = 4};
    gosr_tick_add_system(t, "a", sys_a, &tr);
    gosr_tick_add_system(t, "b", sys_b, &tr);
    gosr_error err;
    CHECK_STATUS(gosr_tick_run(t, 10, &err), GOSR_EFAULT);
    CHECK_STR(err.reason, "system_failed");
    CHECK_UINT(gosr_world_tick(w), ==, 4);
    /* The world's batch was closed even though a system failed. */
    CHECK_OK(gosr_world_begin(w));
    gosr_world_commit(w, false);
    gosr_tick_destroy(t);
    gosr_world_destroy(w);
}

GOSR_TEST(bad_config)
{
    gosr_world *w;
    REQUIRE(gosr_world_create(NULL, NULL, &w, NULL) == GOSR_OK);
    gosr_tick *t = NULL;
    gosr_error err;
    gosr_tick_config tc = {.rate_hz = 20000};
    CHECK_STATUS(gosr_tick_create(w, &tc, &t, &err), GOSR_EINVAL);
    CHECK_STR(err.reason, "tick_bad_config");
    gosr_tick_destroy(NULL);
    gosr_world_destroy(w);
}

typedef struct submitter {
    gosr_tick *t; /* loop to feed */
    int n;        /* events to submit */
} submitter;

static void *submit_thread(void *p)
{
    submitter *s = p;
    for (int i = 0; i < s->n; i++) {
        gosr_event ev = user_event("async");
        while (gosr_tick_submit(s->t, &ev) == GOSR_EBUSY)
            ;
        gosr_event_clear(&ev);
    }
    return NULL;
}

static int count_events(void *ud, gosr_world *w, uint64_t tick,
                        const gosr_event *ev, size_t n)
{
    (void)w;
    for (size_t i = 0; i < n; i++)
        if (ev[i].tick != tick)
            return GOSR_EINTERNAL;
    *(size_t *)ud += n;
    return GOSR_OK;
}

GOSR_TEST(scheduled_run_with_async_inputs)
{
    gosr_world *w;
    REQUIRE(gosr_world_create(NULL, NULL, &w, NULL) == GOSR_OK);
    gosr_tick_config tc = {.rate_hz = 500, .hash_every_tick = true};
    gosr_tick *t;
    REQUIRE(gosr_tick_create(w, &tc, &t, NULL) == GOSR_OK);
    size_t seen = 0;
    gosr_tick_add_system(t, "count", count_events, &seen);
    submitter s = {t, 200};
    pthread_t th;
    pthread_create(&th, NULL, submit_thread, &s);
    CHECK_OK(gosr_tick_run(t, 50, NULL));
    pthread_join(th, NULL);
    while (seen < 200 && gosr_world_tick(w) < 1000)
        CHECK_OK(gosr_tick_step(t, NULL));
    CHECK_UINT(seen, ==, 200);
    gosr_tick_stats st;
    gosr_tick_get_stats(t, &st);
    CHECK_UINT(st.ticks, >=, 50);
    CHECK_UINT(st.events, ==, 200);
    /* The hash is published into meta for watchers. */
    gosr_hash h;
    gosr_tick_last_hash(t, &h);
    gosr_world_meta m;
    gosr_arena_read(gosr_world_arena(w), 0, &m, sizeof m, NULL, 100);
    CHECK_MEM(m.last_hash, h.b, 32);
    gosr_tick_destroy(t);
    gosr_world_destroy(w);
}

static int slow_system(void *ud, gosr_world *w, uint64_t tick,
                       const gosr_event *ev, size_t n)
{
    (void)ud;
    (void)w;
    (void)ev;
    (void)n;
    if (tick == 3) {
        struct timespec ts = {0, 35000000}; /* 35 ms: 3+ periods at 100 Hz */
        nanosleep(&ts, NULL);
    }
    return GOSR_OK;
}

GOSR_TEST(overrun_counts_late_and_missed_but_runs_every_tick)
{
    gosr_world *w;
    REQUIRE(gosr_world_create(NULL, NULL, &w, NULL) == GOSR_OK);
    gosr_tick *t;
    REQUIRE(gosr_tick_create(w, &(gosr_tick_config){.rate_hz = 100}, &t,
                             NULL) == GOSR_OK);
    gosr_tick_add_system(t, "slow", slow_system, NULL);
    CHECK_OK(gosr_tick_run(t, 6, NULL));
    gosr_tick_stats st;
    gosr_tick_get_stats(t, &st);
    CHECK_UINT(gosr_world_tick(w), ==, 6); /* logical ticks never skipped */
    CHECK_UINT(st.ticks, ==, 6);
    CHECK_UINT(st.late, >=, 1);
    CHECK_UINT(st.missed, >=, 2);
    CHECK_UINT(st.max_ns, >=, 35000000);
    gosr_tick_destroy(t);
    gosr_world_destroy(w);
}
