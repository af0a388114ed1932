/*
 * ratelimit.c — rate tiers: token buckets per user and per (user,
 * capability), a concurrency cap per user, and the tier table (free,
 * premium, enterprise). Memory is bounded: at most max_users users are
 * tracked; when the table is full, users whose buckets are full again and
 * who have nothing in flight are evicted (forgetting them is exact, since
 * a full bucket is also what a new user gets).
 *
 * Design: docs/ai.md ("Tiers").
 */
#include "ai/ai_int.h"

#include <pthread.h>
#include <string.h>

static const gosr_ai_tier_limits k_tiers[GOSR_AI_TIER_COUNT] = {
    /* user rate, burst, cap rate, burst, concurrency, size */
    {2.0, 6.0, 1.0, 4.0, 2, GOSR_AI_SIZE_SMALL},
    {10.0, 30.0, 5.0, 15.0, 8, GOSR_AI_SIZE_LARGE},
    {50.0, 150.0, 25.0, 75.0, 32, GOSR_AI_SIZE_CUSTOM},
};
static const char *const k_tier_names[] = {"free", "premium", "enterprise"};
static const char *const k_size_names[] = {"small", "large", "custom"};

const gosr_ai_tier_limits *gosr_ai_tier_limits_get(gosr_ai_tier t)
{
    return &k_tiers[(unsigned)t < GOSR_AI_TIER_COUNT ? t : 0];
}

const char *gosr_ai_tier_name(gosr_ai_tier t)
{
    return (unsigned)t < GOSR_AI_TIER_COUNT ? k_tier_names[t] : "unknown";
}

int gosr_ai_tier_from_name(const char *name, gosr_ai_tier *out)
{
    for (int i = 0; name && i < GOSR_AI_TIER_COUNT; i++)
        if (strcmp(name, k_tier_names[i]) == 0) {
            *out = (gosr_ai_tier)i;
            return GOSR_OK;
        }
    return GOSR_ENOENT;
}

const char *gosr_ai_model_size_name(gosr_ai_model_size s)
{
    return (unsigned)s <= GOSR_AI_SIZE_CUSTOM ? k_size_names[s] : "unknown";
}

/* A token bucket. */
typedef struct bucket {
    double tokens; /* tokens now (as of `last`) */
    uint64_t last; /* when tokens was computed */
} bucket;

/* One tracked user. */
typedef struct entry {
    struct entry *next;                /* hash chain */
    char user[GOSR_AI_MAX_ID + 1];      /* user id */
    gosr_ai_tier tier;                 /* tier at the last take */
    uint32_t inflight;                 /* concurrency slots held */
    bucket user_b;                     /* per-user bucket */
    bucket cap_b[GOSR_AI_CAP_COUNT];    /* per-capability buckets */
} entry;

#define NBUCKETS 4096

struct gosr_ai_limiter {
    pthread_mutex_t mu;           /* guards everything below */
    gosr_ai_limiter_config cfg;   /* settings with defaults */
    entry *table[NBUCKETS];       /* chained hash of users */
    size_t count;                 /* entries in the table */
};

int gosr_ai_limiter_create(const gosr_ai_limiter_config *cfg,
                           gosr_ai_limiter **out)
{
    gosr_ai_limiter *l = gosr_calloc(1, sizeof *l);
    if (!l)
        return GOSR_ENOMEM;
    if (cfg)
        l->cfg = *cfg;
    if (!l->cfg.max_users)
        l->cfg.max_users = 65536;
    pthread_mutex_init(&l->mu, NULL);
    *out = l;
    return GOSR_OK;
}

void gosr_ai_limiter_destroy(gosr_ai_limiter *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        for (entry *e = l->table[i], *n; e; e = n) {
            n = e->next;
            gosr_free(e);
        }
    pthread_mutex_destroy(&l->mu);
    gosr_free(l);
}

static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h % NBUCKETS);
}

static void refill(bucket *b, double rate, double burst, uint64_t now)
{
    if (now > b->last)
        b->tokens += (double)(now - b->last) * 1e-9 * rate;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last = now;
}

static bool idle(entry *e, uint64_t now)
{
    const gosr_ai_tier_limits *t = gosr_ai_tier_limits_get(e->tier);
    if (e->inflight)
        return false;
    refill(&e->user_b, t->user_rate, t->user_burst, now);
    if (e->user_b.tokens < t->user_burst)
        return false;
    for (int c = 0; c < GOSR_AI_CAP_COUNT; c++) {
        refill(&e->cap_b[c], t->cap_rate, t->cap_burst, now);
        if (e->cap_b[c].tokens < t->cap_burst)
            return false;
    }
    return true;
}

static void sweep(gosr_ai_limiter *l, uint64_t now)
{
    for (size_t i = 0; i < NBUCKETS; i++)
        for (entry **pp = &l->table[i]; *pp;) {
            entry *e = *pp;
            if (idle(e, now)) {
                *pp = e->next;
                gosr_free(e);
                l->count--;
            } else {
                pp = &e->next;
            }
        }
}

static entry *lookup(gosr_ai_limiter *l, const char *user, bool create,
                     gosr_ai_tier tier, uint64_t now)
{
    size_t h = hash_str(user);
    for (entry *e = l->table[h]; e; e = e->next)
        if (strcmp(e->user, user) == 0)
            return e;
    if (!create)
        return NULL;
    if (l->count >= l->cfg.max_users)
        sweep(l, now);
    if (l->count >= l->cfg.max_users)
        return NULL;
    entry *e = gosr_calloc(1, sizeof *e);
    if (!e)
        return NULL;
    const gosr_ai_tier_limits *t = gosr_ai_tier_limits_get(tier);
    snprintf(e->user, sizeof e->user, "%s", user);
    e->tier = tier;
    e->user_b = (bucket){t->user_burst, now};
    for (int c = 0; c < GOSR_AI_CAP_COUNT; c++)
        e->cap_b[c] = (bucket){t->cap_burst, now};
    e->next = l->table[h];
    l->table[h] = e;
    l->count++;
    return e;
}

static uint64_t wait_ns(const bucket *b, double rate)
{
    return (uint64_t)((1.0 - b->tokens) / rate * 1e9) + 1;
}

/* Checks both buckets and the concurrency cap, then takes from all three;
 * a refusal takes nothing. */
static int take_locked(gosr_ai_limiter *l, entry *e, gosr_ai_cap cap,
                       gosr_ai_tier tier, uint64_t now, uint64_t *retry,
                       gosr_error *err)
{
    const gosr_ai_tier_limits *t = gosr_ai_tier_limits_get(tier);
    e->tier = tier;
    refill(&e->user_b, t->user_rate, t->user_burst, now);
    refill(&e->cap_b[cap], t->cap_rate, t->cap_burst, now);
    if (e->inflight >= t->concurrency) {
        if (retry) *retry = 1000000;
        return gosr_error_set(err, GOSR_EAGAIN, "concurrency_limited",
                              "%u requests already in flight", e->inflight);
    }
    if (e->user_b.tokens < 1.0 || e->cap_b[cap].tokens < 1.0) {
        bool u = e->user_b.tokens < 1.0;
        if (retry)
            *retry = u ? wait_ns(&e->user_b, t->user_rate)
                       : wait_ns(&e->cap_b[cap], t->cap_rate);
        return gosr_error_set(err, GOSR_EAGAIN, "rate_limited",
                              "%s bucket empty on tier %s",
                              u ? "user" : "capability", gosr_ai_tier_name(tier));
    }
    e->user_b.tokens -= 1.0;
    e->cap_b[cap].tokens -= 1.0;
    e->inflight++;
    return GOSR_OK;
}

int gosr_ai_limiter_take(gosr_ai_limiter *l, const char *user, gosr_ai_cap cap,
                         gosr_ai_tier tier, uint64_t *retry_after_ns,
                         gosr_error *err)
{
    if (!user || !*user || strlen(user) > GOSR_AI_MAX_ID ||
        (unsigned)cap >= GOSR_AI_CAP_COUNT || (unsigned)tier >= GOSR_AI_TIER_COUNT)
        return gosr_error_set(err, GOSR_EINVAL, "bad_request",
                              "user, capability or tier invalid");
    pthread_mutex_lock(&l->mu);
    uint64_t now = ai__now(l->cfg.clock, l->cfg.clock_ud);
    entry *e = lookup(l, user, true, tier, now);
    int rc = e ? take_locked(l, e, cap, tier, now, retry_after_ns, err)
               : gosr_error_set(err, GOSR_EBUSY, "limiter_full",
                                "%zu users active", l->count);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void gosr_ai_limiter_release(gosr_ai_limiter *l, const char *user)
{
    pthread_mutex_lock(&l->mu);
    entry *e = lookup(l, user, false, GOSR_AI_TIER_FREE, 0);
    if (e && e->inflight)
        e->inflight--;
    pthread_mutex_unlock(&l->mu);
}

size_t gosr_ai_limiter_users(gosr_ai_limiter *l)
{
    pthread_mutex_lock(&l->mu);
    size_t n = l->count;
    pthread_mutex_unlock(&l->mu);
    return n;
}
