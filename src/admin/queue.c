/*
 * queue.c — the request -> reply queue between HTTP handler threads and the
 * tick thread: a handler queues a job and blocks (with a timeout) until the
 * tick thread drains it between ticks. Jobs live on the caller's stack, so
 * the queue allocates nothing per call. Design: docs/admin.md ("Threading
 * contract").
 */
#include "admin/admin_int.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

typedef enum job_state { JOB_WAITING, JOB_RUNNING, JOB_DONE } job_state;

/* One call in flight; lives on the stack of gosr_admin_queue_call. */
typedef struct job {
    struct job *next;     /* next waiting job (queue lock) */
    gosr_admin_job_fn fn; /* work to run on the tick thread */
    void *arg;            /* borrowed from the caller */
    job_state state;      /* queue lock */
    int status;           /* fn's result, valid when DONE */
    gosr_error err;       /* fn's error detail, valid when DONE */
} job;

struct gosr_admin_queue {
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t done;  /* signalled when a job finishes or on close */
    pthread_cond_t work;  /* signalled when a job is queued or on close */
    job *head;            /* first waiting job */
    job **tail;           /* where the next job links */
    bool closed;          /* no more jobs accepted */
};

int gosr_admin_queue_create(gosr_admin_queue **out)
{
    gosr_admin_queue *q = gosr_calloc(1, sizeof *q);
    if (!q)
        return GOSR_ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->done, &ca);
    pthread_cond_init(&q->work, &ca);
    pthread_condattr_destroy(&ca);
    q->tail = &q->head;
    *out = q;
    return GOSR_OK;
}

void gosr_admin_queue_destroy(gosr_admin_queue *q)
{
    if (!q)
        return;
    gosr_admin_queue_close(q);
    pthread_cond_destroy(&q->done);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->lock);
    gosr_free(q);
}

/* An absolute CLOCK_MONOTONIC deadline `ms` from now. */
static struct timespec deadline(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Unlinks a waiting job (lock held). */
static void unlink_job(gosr_admin_queue *q, job *j)
{
    for (job **p = &q->head; *p; p = &(*p)->next) {
        if (*p == j) {
            *p = j->next;
            if (q->tail == &j->next)
                q->tail = p;
            return;
        }
    }
}

int gosr_admin_queue_call(gosr_admin_queue *q, gosr_admin_job_fn fn, void *arg,
                          unsigned timeout_ms, gosr_error *err)
{
    job j = {.fn = fn, .arg = arg, .state = JOB_WAITING};
    struct timespec until = deadline(timeout_ms);
    pthread_mutex_lock(&q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return gosr_error_set(err, GOSR_ECLOSED, "node_stopping",
                              "the node is shutting down");
    }
    *q->tail = &j;
    q->tail = &j.next;
    pthread_cond_signal(&q->work);
    int rc = 0;
    while (j.state != JOB_DONE && !(j.state == JOB_WAITING && q->closed)) {
        if (j.state == JOB_WAITING && rc == ETIMEDOUT)
            break;
        rc = j.state == JOB_RUNNING
                 ? pthread_cond_wait(&q->done, &q->lock)
                 : pthread_cond_timedwait(&q->done, &q->lock, &until);
    }
    if (j.state == JOB_WAITING) {
        unlink_job(q, &j);
        bool closed = q->closed;
        pthread_mutex_unlock(&q->lock);
        if (closed)
            return gosr_error_set(err, GOSR_ECLOSED, "node_stopping",
                                  "the node is shutting down");
        return gosr_error_set(err, GOSR_ETIMEOUT, "tick_timeout",
                              "the tick thread did not take the request "
                              "within %u ms",
                              timeout_ms);
    }
    pthread_mutex_unlock(&q->lock);
    if (err && j.status != GOSR_OK)
        *err = j.err;
    return j.status;
}

size_t gosr_admin_queue_drain(gosr_admin_queue *q, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&q->lock);
    /* Only the jobs waiting now: a job queued while we run waits a tick. */
    job *last = q->head ? (job *)((char *)q->tail - offsetof(job, next)) : NULL;
    while (q->head && (max == 0 || n < max)) {
        job *j = q->head;
        q->head = j->next;
        if (!q->head)
            q->tail = &q->head;
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&q->lock);
        gosr_error_clear(&j->err);
        j->status = j->fn(j->arg, &j->err);
        pthread_mutex_lock(&q->lock);
        j->state = JOB_DONE;
        pthread_cond_broadcast(&q->done);
        n++;
        if (j == last)
            break;
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

bool gosr_admin_queue_wait(gosr_admin_queue *q, unsigned timeout_ms)
{
    struct timespec until = deadline(timeout_ms);
    pthread_mutex_lock(&q->lock);
    int rc = 0;
    while (!q->head && !q->closed && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&q->work, &q->lock, &until);
    bool any = q->head != NULL;
    pthread_mutex_unlock(&q->lock);
    return any;
}

size_t gosr_admin_queue_pending(gosr_admin_queue *q)
{
    size_t n = 0;
    pthread_mutex_lock(&q->lock);
    for (const job *j = q->head; j; j = j->next)
        n++;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void gosr_admin_queue_close(gosr_admin_queue *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->done);
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->lock);
}
