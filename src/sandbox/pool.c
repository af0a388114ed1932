/*
 * pool.c — the sandboxed thread-space: a fixed set of worker threads that
 * run calls into independent sandboxes in parallel. Each job uses its own
 * sandbox (no shared Lua state), so jobs need no locks; effects queued by
 * host functions are merged after all jobs finish, in job order, which
 * makes the merged result independent of scheduling.
 * Design: docs/sandbox.md ("Threading").
 */
#include "sandbox/sb_int.h"

#include <string.h>
#include <unistd.h>

struct gosr_sandbox_pool {
    pthread_t *threads;     /* owned worker handles */
    unsigned nthreads;      /* number of workers */
    pthread_mutex_t lock;   /* guards everything below */
    pthread_cond_t work;    /* signalled when a batch starts or on stop */
    pthread_cond_t done;    /* signalled when the batch completes */
    gosr_sandbox_job *jobs; /* current batch (borrowed) */
    size_t njobs;           /* jobs in the batch */
    size_t next;            /* next job index to hand out */
    size_t pending;         /* jobs not yet finished */
    uint64_t batch;         /* batch counter */
    bool stop;              /* workers exit */
};

static void run_job(gosr_sandbox_job *j)
{
    gosr_error err;
    j->status = gosr_sandbox_call(j->sb, j->fn, j->args, j->nargs, &j->ret, 1,
                                  &err);
    j->fault = *gosr_sandbox_fault_get(j->sb);
}

static void *worker(void *arg)
{
    gosr_sandbox_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->next >= p->njobs)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stop)
            break;
        gosr_sandbox_job *j = &p->jobs[p->next++];
        pthread_mutex_unlock(&p->lock);
        run_job(j);
        pthread_mutex_lock(&p->lock);
        if (--p->pending == 0)
            pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int gosr_sandbox_pool_create(unsigned threads, gosr_sandbox_pool **out)
{
    *out = NULL;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    if (threads > 256)
        return GOSR_EINVAL;
    gosr_sandbox_pool *p = gosr_calloc(1, sizeof *p);
    if (!p)
        return GOSR_ENOMEM;
    p->threads = gosr_calloc(threads, sizeof *p->threads);
    if (!p->threads) {
        gosr_free(p);
        return GOSR_ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 8u << 20); /* Lua + matcher recursion */
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], &at, worker, p) != 0)
            break;
        p->nthreads++;
    }
    pthread_attr_destroy(&at);
    if (p->nthreads == 0) {
        gosr_sandbox_pool_destroy(p);
        return GOSR_EINTERNAL;
    }
    *out = p;
    return GOSR_OK;
}

void gosr_sandbox_pool_destroy(gosr_sandbox_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    gosr_free(p->threads);
    gosr_free(p);
}

/* Appends each job's effects in job order into one array. */
static int merge_effects(gosr_sandbox_job *jobs, size_t n, gosr_sbv **effects,
                         size_t *neffects)
{
    gosr_sbv *all = NULL;
    size_t count = 0;
    int rc = GOSR_OK;
    for (size_t i = 0; i < n; i++) {
        gosr_sbv *e;
        size_t k;
        gosr_sandbox_effects_take(jobs[i].sb, &e, &k);
        gosr_sbv *grown = k ? gosr_realloc(all, (count + k) * sizeof *all)
                            : all;
        if (k && !grown) {
            for (size_t x = 0; x < k; x++)
                gosr_sbv_free(&e[x]);
            rc = GOSR_ENOMEM;
        } else if (k) {
            all = grown;
            memcpy(all + count, e, k * sizeof *e);
            count += k;
        }
        gosr_free(e);
    }
    if (effects) {
        *effects = all;
        *neffects = count;
    } else {
        for (size_t i = 0; i < count; i++)
            gosr_sbv_free(&all[i]);
        gosr_free(all);
    }
    return rc;
}

int gosr_sandbox_pool_run(gosr_sandbox_pool *p, gosr_sandbox_job *jobs,
                          size_t n, gosr_sbv **effects, size_t *neffects)
{
    if (effects) {
        *effects = NULL;
        *neffects = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!jobs[i].sb || !jobs[i].fn)
            return GOSR_EINVAL;
        for (size_t k = i + 1; k < n; k++)
            if (jobs[i].sb == jobs[k].sb)
                return GOSR_EINVAL;
    }
    if (n == 0)
        return GOSR_OK;
    pthread_mutex_lock(&p->lock);
    p->jobs = jobs;
    p->njobs = n;
    p->next = 0;
    p->pending = n;
    p->batch++;
    pthread_cond_broadcast(&p->work);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->lock);
    p->jobs = NULL;
    p->njobs = p->next = 0;
    pthread_mutex_unlock(&p->lock);
    return merge_effects(jobs, n, effects, neffects);
}
