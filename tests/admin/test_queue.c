/*
 * test_queue.c — the HTTP-thread -> tick-thread queue: results and errors
 * come back to the caller, a job nobody drains times out and never runs,
 * a started job is waited for past the timeout, close fails waiting and
 * new jobs, drain limits, wait, and 8 callers x 500 jobs counted exactly.
 * Design: docs/admin.md ("Threading contract").
 */
#include "harness.h"
#include "gosr/admin.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static int job_inc(void *arg, gosr_error *err)
{
    (*(int *)arg)++; /* only the tick thread touches the counter */
    return GOSR_OK;
}

static int job_fail(void *arg, gosr_error *err)
{
    return gosr_error_set(err, GOSR_ENOENT, "module_unknown", "no module %s",
                          (const char *)arg);
}

static int job_slow(void *arg, gosr_error *err)
{
    usleep(1500 * 1000);
    *(int *)arg = 7;
    return GOSR_OK;
}

typedef struct caller {
    gosr_admin_queue *q;  /* queue */
    gosr_admin_job_fn fn; /* job */
    void *arg;            /* job argument */
    unsigned timeout_ms;  /* per call */
    int calls;            /* how many calls */
    int ok;               /* calls that returned OK */
    int last_status;      /* status of the last call */
    gosr_error err;       /* error of the last call */
    pthread_t th;         /* thread */
} caller;

static void *caller_main(void *a)
{
    caller *c = a;
    for (int i = 0; i < c->calls; i++) {
        c->last_status =
            gosr_admin_queue_call(c->q, c->fn, c->arg, c->timeout_ms, &c->err);
        c->ok += c->last_status == GOSR_OK;
    }
    return NULL;
}

typedef struct ticker {
    gosr_admin_queue *q; /* queue */
    atomic_bool stop;    /* ends the loop */
    size_t ran;          /* jobs run */
    pthread_t th;        /* thread */
} ticker;

static void *tick_main(void *a)
{
    ticker *t = a;
    while (!atomic_load(&t->stop)) {
        gosr_admin_queue_wait(t->q, 10);
        t->ran += gosr_admin_queue_drain(t->q, 0);
    }
    return NULL;
}

GOSR_TEST(results_and_errors_come_back)
{
    gosr_admin_queue *q;
    REQUIRE(gosr_admin_queue_create(&q) == GOSR_OK);
    ticker t = {.q = q};
    REQUIRE(pthread_create(&t.th, NULL, tick_main, &t) == 0);
    int counter = 0;
    gosr_error err;
    CHECK_OK(gosr_admin_queue_call(q, job_inc, &counter, 5000, &err));
    CHECK_EQ(counter, 1);
    gosr_error_clear(&err);
    CHECK_STATUS(gosr_admin_queue_call(q, job_fail, "x", 5000, &err),
                 GOSR_ENOENT);
    CHECK_STR(err.reason, "module_unknown");
    CHECK_STR(err.detail, "no module x");
    atomic_store(&t.stop, true);
    pthread_join(t.th, NULL);
    CHECK_EQ(t.ran, 2);
    gosr_admin_queue_destroy(q);
}

GOSR_TEST(undrained_job_times_out_and_never_runs)
{
    gosr_admin_queue *q;
    REQUIRE(gosr_admin_queue_create(&q) == GOSR_OK);
    int counter = 0;
    gosr_error err;
    CHECK_STATUS(gosr_admin_queue_call(q, job_inc, &counter, 50, &err),
                 GOSR_ETIMEOUT);
    CHECK_STR(err.reason, "tick_timeout");
    CHECK_EQ(gosr_admin_queue_drain(q, 0), 0);
    CHECK_EQ(counter, 0);
    CHECK(!gosr_admin_queue_wait(q, 10));
    gosr_admin_queue_destroy(q);
}

GOSR_TEST(started_job_is_waited_for)
{
    gosr_admin_queue *q;
    REQUIRE(gosr_admin_queue_create(&q) == GOSR_OK);
    int v = 0;
    caller c = {
        .q = q, .fn = job_slow, .arg = &v, .timeout_ms = 50, .calls = 1};
    REQUIRE(pthread_create(&c.th, NULL, caller_main, &c) == 0);
    CHECK(gosr_admin_queue_wait(q, 5000));
    CHECK_EQ(gosr_admin_queue_drain(q, 0), 1); /* runs 1.5 s > timeout */
    pthread_join(c.th, NULL);
    CHECK_EQ(c.last_status, GOSR_OK);
    CHECK_EQ(v, 7);
    gosr_admin_queue_destroy(q);
}

GOSR_TEST(close_fails_waiting_and_new_jobs)
{
    gosr_admin_queue *q;
    REQUIRE(gosr_admin_queue_create(&q) == GOSR_OK);
    int counter = 0;
    caller c = {.q = q,
                .fn = job_inc,
                .arg = &counter,
                .timeout_ms = 60000,
                .calls = 1};
    REQUIRE(pthread_create(&c.th, NULL, caller_main, &c) == 0);
    CHECK(gosr_admin_queue_wait(q, 5000));
    gosr_admin_queue_close(q);
    pthread_join(c.th, NULL);
    CHECK_EQ(c.last_status, GOSR_ECLOSED);
    CHECK_STR(c.err.reason, "node_stopping");
    gosr_error err;
    CHECK_STATUS(gosr_admin_queue_call(q, job_inc, &counter, 100, &err),
                 GOSR_ECLOSED);
    CHECK_EQ(gosr_admin_queue_drain(q, 0), 0);
    CHECK_EQ(counter, 0);
    CHECK(!gosr_admin_queue_wait(q, 1000)); /* returns at once when closed */
    gosr_admin_queue_destroy(q);
    gosr_admin_queue_destroy(NULL);
}

GOSR_TEST(drain_respects_max)
{
    gosr_admin_queue *q;
    REQUIRE(gosr_admin_queue_create(&q) == GOSR_OK);
    int counter = 0;
    caller c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = (caller){.q = q,
                        .fn = job_inc,
                        .arg = &counter,
                        .timeout_ms = 60000,
                        .calls = 1};
        REQUIRE(pthread_create(&c[i].th, NULL, caller_main, &c[i]) == 0);
    }
    /* Wait until all three are queued. */
    for (int tries = 0; tries < 1000 && gosr_admin_queue_pending(q) < 3;
         tries++)
        usleep(10000);
    REQUIRE(gosr_admin_queue_pending(q) == 3);
    CHECK_EQ(gosr_admin_queue_drain(q, 1), 1);
    CHECK_EQ(counter, 1);
    CHECK_EQ(gosr_admin_queue_pending(q), 2);
    CHECK_EQ(gosr_admin_queue_drain(q, 0), 2);
    CHECK_EQ(gosr_admin_queue_pending(q), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(c[i].th, NULL);
        CHECK_EQ(c[i].last_status, GOSR_OK);
    }
    CHECK_EQ(counter, 3);
    gosr_admin_queue_destroy(q);
}

GOSR_TEST(many_callers_counted_exactly)
{
    gosr_admin_queue *q;
    REQUIRE(gosr_admin_queue_create(&q) == GOSR_OK);
    ticker t = {.q = q};
    REQUIRE(pthread_create(&t.th, NULL, tick_main, &t) == 0);
    int counter = 0;
    caller c[8];
    for (int i = 0; i < 8; i++) {
        c[i] = (caller){.q = q,
                        .fn = job_inc,
                        .arg = &counter,
                        .timeout_ms = 30000,
                        .calls = 500};
        REQUIRE(pthread_create(&c[i].th, NULL, caller_main, &c[i]) == 0);
    }
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(c[i].th, NULL);
        ok += c[i].ok;
    }
    atomic_store(&t.stop, true);
    pthread_join(t.th, NULL);
    CHECK_EQ(ok, 4000);
    CHECK_EQ(counter, 4000);
    CHECK_EQ(t.ran, 4000);
    gosr_admin_queue_destroy(q);
}
