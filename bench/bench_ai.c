/*
 * bench_ai.c — AI core figures: (1) router decision overhead: admission on
 * the caller's thread (parse, defaults, schema, kill switches, token
 * buckets, enqueue) and the per-request chain decision (cooldown, breaker,
 * limiter) measured alone; (2) fallback answer with the breaker open:
 * submit to callback when the only provider's breaker is open, so the
 * ghost tier answers; (3) failover after a provider timeout: the first
 * provider hangs, its timeout fires, the next answers — total latency
 * against the timeout. Providers are the loopback LLM server on 127.0.0.1.
 *
 * Usage: bench_ai [--iters N] [--timeout-ms T]
 * Design: docs/ai.md ("Measured figures").
 */
#include "ai/ai_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_offset;
/* Real time plus an offset the bench advances so token buckets refill
 * without sleeping. */
static uint64_t skew_clock(void *ud)
{
    (void)ud;
    return gosr_time_mono_ns() + __atomic_load_n(&g_offset, __ATOMIC_RELAXED);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, int n, double unit,
                   const char *uname)
{
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)v[i];
    printf("%-46s n=%-6d mean %8.2f  p50 %8.2f  p99 %8.2f  max %8.2f %s\n",
           what, n, sum / n / unit, v[n / 2] / unit, v[(n * 99) / 100] / unit,
           v[n - 1] / unit, uname);
}

typedef struct done {
    pthread_mutex_t mu;  /* guards below */
    pthread_cond_t cv;   /* signalled on completion */
    bool fired;          /* callback ran */
    uint64_t t;          /* when */
    char provider[32];   /* who answered */
} done;

static void on_result(void *ud, const gosr_ai_result *res)
{
    done *d = ud;
    pthread_mutex_lock(&d->mu);
    d->t = gosr_time_mono_ns();
    snprintf(d->provider, sizeof d->provider, "%s", res->provider ? res->provider : "");
    d->fired = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* Submits and waits; returns submit-to-callback ns, and the submit call's
 * own duration in *submit_ns. */
static uint64_t timed_ask(gosr_ai_router *r, const gosr_ai_request *q,
                          uint64_t *submit_ns, char prov[32])
{
    done d = {.fired = false};
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    gosr_error e;
    uint64_t t0 = gosr_time_mono_ns();
    int rc = gosr_ai_router_submit(r, q, on_result, &d, NULL, &e);
    uint64_t t1 = gosr_time_mono_ns();
    if (rc) {
        fprintf(stderr, "submit: %s %s\n", e.reason, e.detail);
        exit(1);
    }
    pthread_mutex_lock(&d.mu);
    while (!d.fired)
        pthread_cond_wait(&d.cv, &d.mu);
    pthread_mutex_unlock(&d.mu);
    if (submit_ns)
        *submit_ns = t1 - t0;
    if (prov)
        snprintf(prov, 32, "%s", d.provider);
    pthread_cond_destroy(&d.cv);
    pthread_mutex_destroy(&d.mu);
    return d.t - t0;
}

static gosr_ai_router *make_router(const char *url, const char *m1,
                                   uint32_t t1, const char *m2)
{
    gosr_ai_router_config c = {.clock = skew_clock};
    c.providers[0] = (gosr_ai_provider_config){.name = "first", .url = url,
        .model = m1, .timeout_ms = t1, .kind = GOSR_AI_PROVIDER_OPENAI};
    c.nproviders = 1;
    if (m2) {
        c.providers[1] = (gosr_ai_provider_config){.name = "second", .url = url,
            .model = m2, .timeout_ms = 2000, .kind = GOSR_AI_PROVIDER_OLLAMA};
        c.nproviders = 2;
    }
    /* breaker never opens on its own unless asked to (bench 3) */
    c.breaker = (gosr_ai_breaker_config){.minimum_calls = m2 ? 100000 : 3,
                                         .wait_open_ns = 3600000000000ull};
    c.cooldown = (gosr_ai_cooldown){.allowed_fails = 1000000};
    gosr_ai_router *r = NULL;
    gosr_error e;
    if (gosr_ai_router_create(&c, &r, &e)) {
        fprintf(stderr, "router: %s\n", e.detail);
        exit(1);
    }
    return r;
}

static void bench_decision(int iters)
{
    gosr_ai_limiter *l = NULL;
    gosr_ai_breaker *b[3];
    gosr_ai_cooldown cool[3] = {{0}};
    gosr_ai_limiter_create(&(gosr_ai_limiter_config){.clock = skew_clock}, &l);
    for (int i = 0; i < 3; i++)
        gosr_ai_breaker_create(NULL, &b[i]);
    uint64_t *v = malloc(sizeof(uint64_t) * (size_t)iters);
    char user[32];
    for (int i = 0; i < iters; i++) {
        snprintf(user, sizeof user, "user-%d", i % 1000);
        __atomic_add_fetch(&g_offset, 10000000ull, __ATOMIC_RELAXED);
        uint64_t t0 = gosr_time_mono_ns();
        gosr_ai_limiter_take(l, user, GOSR_AI_NPC_DIALOG, GOSR_AI_TIER_PREMIUM, NULL, NULL);
        for (int k = 0; k < 3; k++) {
            uint64_t now = skew_clock(NULL);
            if (!gosr_ai_cooldown_active(&cool[k], now) && gosr_ai_breaker_allow(b[k]))
                gosr_ai_breaker_record(b[k], true, 1000);
        }
        gosr_ai_limiter_release(l, user);
        v[i] = gosr_time_mono_ns() - t0;
    }
    report("decision: limiter + 3x(cooldown, breaker)", v, iters, 1e3, "us");
    free(v);
    for (int i = 0; i < 3; i++)
        gosr_ai_breaker_destroy(b[i]);
    gosr_ai_limiter_destroy(l);
}

static void bench_open_breaker(const char *url, int iters)
{
    gosr_ai_router *r = make_router(url, "500", 2000, NULL);
    gosr_ai_request q = {.cap = GOSR_AI_NPC_DIALOG, .user = "bench",
                         .tier = GOSR_AI_TIER_ENTERPRISE, .input = "{}"};
    char prov[32];
    for (int i = 0; i < 3; i++) /* three 500s open the breaker */
        timed_ask(r, &q, NULL, prov);
    uint64_t *sub = malloc(sizeof(uint64_t) * (size_t)iters);
    uint64_t *tot = malloc(sizeof(uint64_t) * (size_t)iters);
    int ghost = 0;
    for (int i = 0; i < iters; i++) {
        __atomic_add_fetch(&g_offset, 100000000ull, __ATOMIC_RELAXED);
        q.seed = (uint64_t)i;
        tot[i] = timed_ask(r, &q, &sub[i], prov);
        ghost += !strcmp(prov, "ghost");
    }
    report("admission: gosr_ai_router_submit (npc_dialog {})", sub, iters, 1e3, "us");
    report("fallback with breaker open: submit->answer", tot, iters, 1e3, "us");
    printf("  answered by ghost: %d/%d\n", ghost, iters);
    q.cap = GOSR_AI_MAP_GEN;
    for (int i = 0; i < 3; i++)
        timed_ask(r, &q, NULL, prov);
    for (int i = 0; i < iters / 4; i++) {
        __atomic_add_fetch(&g_offset, 100000000ull, __ATOMIC_RELAXED);
        q.seed = (uint64_t)i;
        tot[i] = timed_ask(r, &q, NULL, prov);
    }
    report("fallback with breaker open: map_gen 48x32", tot, iters / 4, 1e3, "us");
    free(sub);
    free(tot);
    gosr_ai_router_destroy(r);
}

static void bench_failover(const char *url, int iters, uint32_t timeout_ms)
{
    gosr_ai_router *base = make_router(url, "ok", 2000, NULL);
    gosr_ai_router *r = make_router(url, "slow-3000", timeout_ms, "ok");
    gosr_ai_request q = {.cap = GOSR_AI_NPC_DIALOG, .user = "bench",
                         .tier = GOSR_AI_TIER_ENTERPRISE, .input = "{}"};
    uint64_t *v = malloc(sizeof(uint64_t) * (size_t)iters);
    uint64_t *over = malloc(sizeof(uint64_t) * (size_t)iters);
    uint64_t *b = malloc(sizeof(uint64_t) * (size_t)iters);
    char prov[32];
    int second = 0;
    for (int i = 0; i < iters; i++) {
        __atomic_add_fetch(&g_offset, 1000000000ull, __ATOMIC_RELAXED);
        b[i] = timed_ask(base, &q, NULL, prov);
        v[i] = timed_ask(r, &q, NULL, prov);
        second += !strcmp(prov, "second");
        over[i] = v[i] > timeout_ms * 1000000ull ? v[i] - timeout_ms * 1000000ull : 0;
    }
    report("healthy provider alone: submit->answer", b, iters, 1e6, "ms");
    char what[80];
    snprintf(what, sizeof what, "failover after %u ms timeout: submit->answer", timeout_ms);
    report(what, v, iters, 1e6, "ms");
    report("  of which beyond the timeout", over, iters, 1e6, "ms");
    printf("  answered by the second provider: %d/%d\n", second, iters);
    free(v);
    free(over);
    free(b);
    gosr_ai_router_destroy(r);
    gosr_ai_router_destroy(base);
}

int main(int argc, char **argv)
{
    int iters = 2000;
    uint32_t timeout_ms = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--timeout-ms")) timeout_ms = (uint32_t)atoi(argv[i + 1]);
    }
    if (iters < 8)
        iters = 8;
    ai_mock *m = NULL;
    gosr_error e;
    if (ai__mock_start(0, &m, &e)) {
        fprintf(stderr, "mock: %s\n", e.detail);
        return 1;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ai__mock_port(m));
    printf("bench_ai: loopback LLM server at %s\n", url);
    bench_decision(iters * 10);
    bench_open_breaker(url, iters);
    bench_failover(url, iters / 50 < 10 ? 10 : iters / 50, timeout_ms);
    ai__mock_stop(m);
    return 0;
}
