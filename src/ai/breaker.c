/*
 * breaker.c — circuit breaker (closed / open / half-open) over a count- or
 * time-based sliding window with failure-rate and slow-call-rate
 * thresholds, a minimum number of calls, a wait in open and a number of
 * permitted trial calls in half-open; plus the per-deployment cooldown.
 * The clock is injectable so tests drive every transition.
 *
 * Design: docs/ai.md ("Circuit breaker", transition table).
 */
#include "ai/ai_int.h"

#include <pthread.h>
#include <string.h>

#define MAX_WINDOW 1024

/* One slot of the window: a call outcome (COUNT) or a one-second bucket of
 * outcomes (TIME). */
typedef struct slot {
    uint32_t calls;    /* calls in this slot */
    uint32_t failures; /* failed calls */
    uint32_t slow;     /* slow calls */
    uint64_t second;   /* TIME: which second since the epoch of the clock */
} slot;

struct gosr_ai_breaker {
    pthread_mutex_t mu;           /* guards everything below */
    gosr_ai_breaker_config cfg;   /* settings with defaults applied */
    gosr_ai_breaker_state state;  /* current state */
    slot *ring;                   /* window_size slots */
    uint32_t head;                /* COUNT: next slot to overwrite */
    uint32_t filled;              /* COUNT: slots in use */
    uint64_t opened_at;           /* when the breaker last opened */
    uint32_t ho_permits;          /* HALF_OPEN: trial calls handed out */
    uint32_t ho_done;             /* HALF_OPEN: trial calls recorded */
    uint32_t ho_fail;             /* HALF_OPEN: failed or slow trials */
    uint64_t rejected;            /* refusals since creation */
    uint64_t opened;              /* transitions to OPEN */
};

uint64_t ai__now(gosr_ai_clock_fn clock, void *ud)
{
    return clock ? clock(ud) : gosr_time_mono_ns();
}

static void apply_defaults(gosr_ai_breaker_config *c)
{
    if (!c->window_size) c->window_size = 20;
    if (c->window_size > MAX_WINDOW) c->window_size = MAX_WINDOW;
    if (!c->minimum_calls) c->minimum_calls = 5;
    if (!c->failure_rate_pct) c->failure_rate_pct = 50;
    if (!c->slow_rate_pct) c->slow_rate_pct = 80;
    if (!c->slow_call_ns) c->slow_call_ns = 2000000000ull;
    if (!c->wait_open_ns) c->wait_open_ns = 5000000000ull;
    if (!c->half_open_calls) c->half_open_calls = 3;
}

int gosr_ai_breaker_create(const gosr_ai_breaker_config *cfg,
                           gosr_ai_breaker **out)
{
    gosr_ai_breaker *b = gosr_calloc(1, sizeof *b);
    if (!b)
        return GOSR_ENOMEM;
    if (cfg)
        b->cfg = *cfg;
    apply_defaults(&b->cfg);
    b->ring = gosr_calloc(b->cfg.window_size, sizeof *b->ring);
    if (!b->ring) {
        gosr_free(b);
        return GOSR_ENOMEM;
    }
    pthread_mutex_init(&b->mu, NULL);
    *out = b;
    return GOSR_OK;
}

void gosr_ai_breaker_destroy(gosr_ai_breaker *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    gosr_free(b->ring);
    gosr_free(b);
}

static uint64_t now_of(gosr_ai_breaker *b)
{
    return ai__now(b->cfg.clock, b->cfg.clock_ud);
}

static void reset_window(gosr_ai_breaker *b)
{
    memset(b->ring, 0, b->cfg.window_size * sizeof *b->ring);
    b->head = b->filled = 0;
}

/* Sums the window; TIME windows count only buckets of the last
 * window_size seconds. */
static void totals(gosr_ai_breaker *b, uint64_t now, slot *t)
{
    memset(t, 0, sizeof *t);
    uint64_t sec = now / 1000000000ull;
    for (uint32_t i = 0; i < b->cfg.window_size; i++) {
        const slot *s = &b->ring[i];
        if (b->cfg.window == GOSR_AI_WINDOW_TIME &&
            (s->second + b->cfg.window_size <= sec || s->second > sec))
            continue;
        t->calls += s->calls;
        t->failures += s->failures;
        t->slow += s->slow;
    }
}

static void to_open(gosr_ai_breaker *b, uint64_t now)
{
    b->state = GOSR_AI_BREAKER_OPEN;
    b->opened_at = now;
    b->opened++;
}

static void to_half_open(gosr_ai_breaker *b)
{
    b->state = GOSR_AI_BREAKER_HALF_OPEN;
    b->ho_permits = b->ho_done = b->ho_fail = 0;
}

static void tick_open(gosr_ai_breaker *b, uint64_t now)
{
    if (b->state == GOSR_AI_BREAKER_OPEN &&
        now - b->opened_at >= b->cfg.wait_open_ns)
        to_half_open(b);
}

bool gosr_ai_breaker_allow(gosr_ai_breaker *b)
{
    bool ok = false;
    pthread_mutex_lock(&b->mu);
    tick_open(b, now_of(b));
    switch (b->state) {
    case GOSR_AI_BREAKER_CLOSED: ok = true; break;
    case GOSR_AI_BREAKER_OPEN: ok = false; break;
    case GOSR_AI_BREAKER_HALF_OPEN:
        ok = b->ho_permits < b->cfg.half_open_calls;
        if (ok)
            b->ho_permits++;
        break;
    }
    if (!ok)
        b->rejected++;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

static void add_outcome(gosr_ai_breaker *b, uint64_t now, bool fail, bool slow)
{
    slot *s;
    if (b->cfg.window == GOSR_AI_WINDOW_COUNT) {
        s = &b->ring[b->head];
        memset(s, 0, sizeof *s);
        b->head = (b->head + 1) % b->cfg.window_size;
        if (b->filled < b->cfg.window_size)
            b->filled++;
    } else {
        uint64_t sec = now / 1000000000ull;
        s = &b->ring[sec % b->cfg.window_size];
        if (s->second != sec)
            memset(s, 0, sizeof *s);
        s->second = sec;
    }
    s->calls++;
    s->failures += fail;
    s->slow += slow;
}

static void judge_closed(gosr_ai_breaker *b, uint64_t now)
{
    slot t;
    totals(b, now, &t);
    if (t.calls < b->cfg.minimum_calls)
        return;
    if ((uint64_t)t.failures * 100 >= (uint64_t)b->cfg.failure_rate_pct * t.calls ||
        (uint64_t)t.slow * 100 >= (uint64_t)b->cfg.slow_rate_pct * t.calls)
        to_open(b, now);
}

static void judge_half_open(gosr_ai_breaker *b, uint64_t now)
{
    uint32_t n = b->cfg.half_open_calls;
    if (b->ho_done < n)
        return;
    if ((uint64_t)b->ho_fail * 100 >= (uint64_t)b->cfg.failure_rate_pct * n) {
        to_open(b, now);
    } else {
        b->state = GOSR_AI_BREAKER_CLOSED;
        reset_window(b);
    }
}

void gosr_ai_breaker_record(gosr_ai_breaker *b, bool ok, uint64_t duration_ns)
{
    pthread_mutex_lock(&b->mu);
    uint64_t now = now_of(b);
    bool slow = duration_ns >= b->cfg.slow_call_ns;
    switch (b->state) {
    case GOSR_AI_BREAKER_CLOSED:
        add_outcome(b, now, !ok, slow);
        judge_closed(b, now);
        break;
    case GOSR_AI_BREAKER_HALF_OPEN:
        b->ho_done++;
        b->ho_fail += (!ok || slow);
        judge_half_open(b, now);
        break;
    case GOSR_AI_BREAKER_OPEN: break; /* late answer of an older call */
    }
    pthread_mutex_unlock(&b->mu);
}

gosr_ai_breaker_state gosr_ai_breaker_state_now(gosr_ai_breaker *b)
{
    pthread_mutex_lock(&b->mu);
    tick_open(b, now_of(b));
    gosr_ai_breaker_state s = b->state;
    pthread_mutex_unlock(&b->mu);
    return s;
}

void gosr_ai_breaker_stats_get(gosr_ai_breaker *b, gosr_ai_breaker_stats *out)
{
    slot t;
    pthread_mutex_lock(&b->mu);
    uint64_t now = now_of(b);
    tick_open(b, now);
    totals(b, now, &t);
    out->state = b->state;
    out->calls = t.calls;
    out->failures = t.failures;
    out->slow = t.slow;
    out->rejected = b->rejected;
    out->opened = b->opened;
    pthread_mutex_unlock(&b->mu);
}

const char *gosr_ai_breaker_state_name(gosr_ai_breaker_state s)
{
    switch (s) {
    case GOSR_AI_BREAKER_CLOSED: return "closed";
    case GOSR_AI_BREAKER_OPEN: return "open";
    case GOSR_AI_BREAKER_HALF_OPEN: return "half_open";
    }
    return "unknown";
}

/* ---- per-deployment cooldown -------------------------------------------- */

bool gosr_ai_cooldown_active(const gosr_ai_cooldown *c, uint64_t now)
{
    return now < c->until_ns;
}

void gosr_ai_cooldown_record(gosr_ai_cooldown *c, bool ok,
                             uint64_t retry_after_ns, uint64_t now)
{
    uint32_t allowed = c->allowed_fails ? c->allowed_fails : 3;
    uint64_t cool = c->cooldown_ns ? c->cooldown_ns : 5000000000ull;
    if (ok) {
        c->consecutive = 0;
        return;
    }
    c->consecutive++;
    if (retry_after_ns) {
        c->until_ns = now + (retry_after_ns > cool ? retry_after_ns : cool);
        c->consecutive = 0;
    } else if (c->consecutive >= allowed) {
        c->until_ns = now + cool;
        c->consecutive = 0;
    }
}
