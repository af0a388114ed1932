/*
 * test_ai_breaker.c — circuit breaker transitions driven by a fake clock
 * (count and time windows, failure and slow-call rates, minimum calls,
 * wait in open, permitted half-open calls, recovery and re-opening), the
 * per-deployment cooldown, rate tiers (token buckets per user and per
 * capability, concurrency, eviction), per-user state isolation and the
 * provenance chain.
 */
#include "harness.h"
#include "ai/ai_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static uint64_t g_now;
static uint64_t fake_clock(void *ud) { (void)ud; return g_now; }

#define MS 1000000ull
#define SEC 1000000000ull

static gosr_ai_breaker *mk(gosr_ai_window_kind w, uint32_t size)
{
    gosr_ai_breaker *b = NULL;
    gosr_ai_breaker_config c = {.window = w, .window_size = size,
                                .minimum_calls = 4, .failure_rate_pct = 50,
                                .slow_rate_pct = 75, .slow_call_ns = 100 * MS,
                                .wait_open_ns = 1 * SEC, .half_open_calls = 2,
                                .clock = fake_clock};
    g_now = 10 * SEC;
    if (gosr_ai_breaker_create(&c, &b))
        gosr_test_fail(__FILE__, __LINE__, "create");
    return b;
}

static void call(gosr_ai_breaker *b, bool ok, uint64_t dur)
{
    if (!gosr_ai_breaker_allow(b))
        gosr_test_fail(__FILE__, __LINE__, "call refused unexpectedly");
    gosr_ai_breaker_record(b, ok, dur);
}

GOSR_TEST(breaker_opens_on_failure_rate_after_minimum_calls)
{
    gosr_ai_breaker *b = mk(GOSR_AI_WINDOW_COUNT, 10);
    call(b, false, MS);
    call(b, false, MS);
    call(b, false, MS); /* 3 failures, below minimum_calls = 4 */
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_CLOSED);
    call(b, true, MS); /* 3/4 = 75% >= 50% */
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_OPEN);
    CHECK(!gosr_ai_breaker_allow(b));
    gosr_ai_breaker_stats st;
    gosr_ai_breaker_stats_get(b, &st);
    CHECK_UINT(st.rejected, ==, 1);
    CHECK_UINT(st.opened, ==, 1);
    gosr_ai_breaker_destroy(b);
}

GOSR_TEST(breaker_stays_closed_below_threshold)
{
    gosr_ai_breaker *b = mk(GOSR_AI_WINDOW_COUNT, 10);
    for (int i = 0; i < 40; i++)
        call(b, i % 4 != 0, MS); /* 25% failures */
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_CLOSED);
    gosr_ai_breaker_destroy(b);
}

GOSR_TEST(breaker_count_window_forgets_old_calls)
{
    gosr_ai_breaker *b = mk(GOSR_AI_WINDOW_COUNT, 4);
    call(b, false, MS);
    for (int i = 0; i < 4; i++)
        call(b, true, MS); /* the failure slid out */
    gosr_ai_breaker_stats st;
    gosr_ai_breaker_stats_get(b, &st);
    CHECK_UINT(st.calls, ==, 4);
    CHECK_UINT(st.failures, ==, 0);
    gosr_ai_breaker_destroy(b);
}

GOSR_TEST(breaker_opens_on_slow_call_rate)
{
    gosr_ai_breaker *b = mk(GOSR_AI_WINDOW_COUNT, 10);
    for (int i = 0; i < 3; i++)
        call(b, true, 150 * MS);
    call(b, true, 10 * MS); /* 3/4 slow = 75% */
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_OPEN);
    gosr_ai_breaker_destroy(b);
}

GOSR_TEST(breaker_half_open_recovers_after_wait)
{
    gosr_ai_breaker *b = mk(GOSR_AI_WINDOW_COUNT, 10);
    for (int i = 0; i < 4; i++)
        call(b, false, MS);
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_OPEN);
    g_now += SEC - 1;
    CHECK(!gosr_ai_breaker_allow(b));
    g_now += 1;
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_HALF_OPEN);
    CHECK(gosr_ai_breaker_allow(b));
    CHECK(gosr_ai_breaker_allow(b));
    CHECK(!gosr_ai_breaker_allow(b)); /* only 2 permitted */
    gosr_ai_breaker_record(b, true, MS);
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_HALF_OPEN);
    gosr_ai_breaker_record(b, true, MS);
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_CLOSED);
    gosr_ai_breaker_stats st;
    gosr_ai_breaker_stats_get(b, &st);
    CHECK_UINT(st.calls, ==, 0); /* fresh window after recovery */
    gosr_ai_breaker_destroy(b);
}

GOSR_TEST(breaker_half_open_failure_reopens)
{
    gosr_ai_breaker *b = mk(GOSR_AI_WINDOW_COUNT, 10);
    for (int i = 0; i < 4; i++)
        call(b, false, MS);
    g_now += 2 * SEC;
    CHECK(gosr_ai_breaker_allow(b));
    CHECK(gosr_ai_breaker_allow(b));
    gosr_ai_breaker_record(b, true, MS);
    gosr_ai_breaker_record(b, false, MS); /* 1/2 = 50% -> open again */
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_OPEN);
    gosr_ai_breaker_stats st;
    gosr_ai_breaker_stats_get(b, &st);
    CHECK_UINT(st.opened, ==, 2);
    gosr_ai_breaker_record(b, false, MS); /* late answer while open: ignored */
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_OPEN);
    gosr_ai_breaker_destroy(b);
}

GOSR_TEST(breaker_time_window_expires_old_seconds)
{
    gosr_ai_breaker *b = mk(GOSR_AI_WINDOW_TIME, 5);
    call(b, false, MS);
    call(b, false, MS);
    call(b, false, MS);
    g_now += 6 * SEC; /* those failures are outside the 5 s window */
    call(b, true, MS);
    call(b, false, MS);
    call(b, true, MS);
    call(b, true, MS);
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_CLOSED);
    gosr_ai_breaker_stats st;
    gosr_ai_breaker_stats_get(b, &st);
    CHECK_UINT(st.calls, ==, 4);
    call(b, false, MS);
    call(b, false, MS); /* 3/6 = 50% */
    CHECK_EQ(gosr_ai_breaker_state_now(b), GOSR_AI_BREAKER_OPEN);
    gosr_ai_breaker_destroy(b);
}

GOSR_TEST(cooldown_after_consecutive_failures_and_429)
{
    gosr_ai_cooldown c = {.allowed_fails = 2, .cooldown_ns = SEC};
    gosr_ai_cooldown_record(&c, false, 0, 0);
    CHECK(!gosr_ai_cooldown_active(&c, 0));
    gosr_ai_cooldown_record(&c, false, 0, 0);
    CHECK(gosr_ai_cooldown_active(&c, SEC - 1));
    CHECK(!gosr_ai_cooldown_active(&c, SEC));
    gosr_ai_cooldown_record(&c, false, 3 * SEC, 10 * SEC); /* 429 */
    CHECK(gosr_ai_cooldown_active(&c, 12 * SEC));
    CHECK(!gosr_ai_cooldown_active(&c, 13 * SEC));
    gosr_ai_cooldown_record(&c, false, 0, 20 * SEC);
    gosr_ai_cooldown_record(&c, true, 0, 20 * SEC); /* success resets run */
    gosr_ai_cooldown_record(&c, false, 0, 20 * SEC);
    CHECK(!gosr_ai_cooldown_active(&c, 20 * SEC));
}

/* ---- tiers -------------------------------------------------------------- */

static gosr_ai_limiter *mkl(uint32_t max_users)
{
    gosr_ai_limiter *l = NULL;
    gosr_ai_limiter_config c = {.max_users = max_users, .clock = fake_clock};
    g_now = 100 * SEC;
    if (gosr_ai_limiter_create(&c, &l))
        gosr_test_fail(__FILE__, __LINE__, "limiter");
    return l;
}

/* Takes n times (releasing each), returns how many were admitted. */
static int takes(gosr_ai_limiter *l, const char *u, gosr_ai_cap c,
                 gosr_ai_tier t, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        if (gosr_ai_limiter_take(l, u, c, t, NULL, NULL) == GOSR_OK) {
            ok++;
            gosr_ai_limiter_release(l, u);
        }
    return ok;
}

GOSR_TEST(tiers_differ_only_in_rates_and_every_cap_is_available)
{
    gosr_ai_limiter *l = mkl(0);
    for (int t = 0; t < GOSR_AI_TIER_COUNT; t++)
        for (int c = 0; c < GOSR_AI_CAP_COUNT; c++) {
            char u[32];
            snprintf(u, sizeof u, "u-%d-%d", t, c);
            CHECK_EQ(takes(l, u, (gosr_ai_cap)c, (gosr_ai_tier)t, 1), 1);
        }
    /* burst per capability: free 4, premium 15, enterprise 75 */
    CHECK_EQ(takes(l, "f", GOSR_AI_NPC_DIALOG, GOSR_AI_TIER_FREE, 100), 4);
    CHECK_EQ(takes(l, "p", GOSR_AI_NPC_DIALOG, GOSR_AI_TIER_PREMIUM, 100), 15);
    CHECK_EQ(takes(l, "e", GOSR_AI_NPC_DIALOG, GOSR_AI_TIER_ENTERPRISE, 100), 75);
    /* per-user bucket (free: 6) spans capabilities */
    CHECK_EQ(takes(l, "f", GOSR_AI_MAP_GEN, GOSR_AI_TIER_FREE, 100), 2);
    gosr_ai_limiter_destroy(l);
}

GOSR_TEST(tier_refill_and_retry_after)
{
    gosr_ai_limiter *l = mkl(0);
    CHECK_EQ(takes(l, "f", GOSR_AI_QUEST_GEN, GOSR_AI_TIER_FREE, 10), 4);
    uint64_t retry = 0;
    gosr_error e;
    CHECK_STATUS(gosr_ai_limiter_take(l, "f", GOSR_AI_QUEST_GEN,
                                      GOSR_AI_TIER_FREE, &retry, &e), GOSR_EAGAIN);
    CHECK_STR(e.reason, "rate_limited");
    CHECK_UINT(retry, >, 900 * MS); /* 1 token per second */
    CHECK_UINT(retry, <=, SEC + 1);
    g_now += SEC;
    CHECK_EQ(takes(l, "f", GOSR_AI_QUEST_GEN, GOSR_AI_TIER_FREE, 10), 1);
    gosr_ai_limiter_destroy(l);
}

GOSR_TEST(tier_concurrency_cap)
{
    gosr_ai_limiter *l = mkl(0);
    gosr_error e;
    CHECK_OK(gosr_ai_limiter_take(l, "f", GOSR_AI_MAP_GEN, GOSR_AI_TIER_FREE, NULL, &e));
    CHECK_OK(gosr_ai_limiter_take(l, "f", GOSR_AI_MAP_GEN, GOSR_AI_TIER_FREE, NULL, &e));
    CHECK_STATUS(gosr_ai_limiter_take(l, "f", GOSR_AI_MAP_GEN, GOSR_AI_TIER_FREE,
                                      NULL, &e), GOSR_EAGAIN);
    CHECK_STR(e.reason, "concurrency_limited");
    gosr_ai_limiter_release(l, "f");
    CHECK_OK(gosr_ai_limiter_take(l, "f", GOSR_AI_MAP_GEN, GOSR_AI_TIER_FREE, NULL, &e));
    gosr_ai_limiter_release(l, "f");
    gosr_ai_limiter_release(l, "f");
    gosr_ai_limiter_destroy(l);
}

GOSR_TEST(limiter_memory_bounded_by_eviction)
{
    gosr_ai_limiter *l = mkl(8);
    char u[32];
    for (int i = 0; i < 8; i++) {
        snprintf(u, sizeof u, "user-%d", i);
        CHECK_EQ(takes(l, u, GOSR_AI_NPC_DIALOG, GOSR_AI_TIER_FREE, 1), 1);
    }
    gosr_error e;
    CHECK_STATUS(gosr_ai_limiter_take(l, "late", GOSR_AI_NPC_DIALOG,
                                      GOSR_AI_TIER_FREE, NULL, &e), GOSR_EBUSY);
    CHECK_STR(e.reason, "limiter_full");
    g_now += 10 * SEC; /* buckets refill: all idle, evictable */
    CHECK_EQ(takes(l, "late", GOSR_AI_NPC_DIALOG, GOSR_AI_TIER_FREE, 1), 1);
    CHECK_UINT(gosr_ai_limiter_users(l), ==, 1);
    gosr_ai_limiter_destroy(l);
}

/* ---- per-user state ----------------------------------------------------- */

GOSR_TEST(user_state_isolated_between_users)
{
    char path[] = "/tmp/gosr-ai-us-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    gosr_ai_userstate *us = NULL;
    gosr_ai_user *a = NULL, *b = NULL, *evil = NULL;
    gosr_error e;
    REQUIRE(gosr_ai_userstate_open(path, &us, &e) == GOSR_OK);
    CHECK_OK(gosr_ai_user_open(us, "alice", &a, &e));
    CHECK_OK(gosr_ai_user_open(us, "bob", &b, &e));
    CHECK_OK(gosr_ai_user_open(us, "bob' OR '1'='1", &evil, &e));
    gosr_ai_tuning t = {"grim", 3, "de"}, got;
    CHECK_OK(gosr_ai_user_tuning_set(a, &t, &e));
    CHECK_OK(gosr_ai_user_set(a, "macro", "alice-secret", &e));
    CHECK_OK(gosr_ai_user_tuning_get(b, &got, &e));
    CHECK_STR(got.tone, "neutral"); /* bob sees defaults, not alice's */
    char *v = NULL;
    CHECK_STATUS(gosr_ai_user_get(b, "macro", &v, &e), GOSR_ENOENT);
    CHECK_STATUS(gosr_ai_user_get(evil, "macro", &v, &e), GOSR_ENOENT);
    CHECK_STATUS(gosr_ai_user_get(b, "macro' OR '1'='1", &v, &e), GOSR_ENOENT);
    CHECK_OK(gosr_ai_user_tuning_get(a, &got, &e));
    CHECK_STR(got.tone, "grim");
    CHECK_EQ(got.verbosity, 3);
    CHECK_OK(gosr_ai_user_get(a, "macro", &v, &e));
    CHECK_STR(v, "alice-secret");
    gosr_free(v);
    gosr_ai_tuning bad = {"sarcastic", 2, "en"};
    CHECK_STATUS(gosr_ai_user_tuning_set(b, &bad, &e), GOSR_EINVAL);
    gosr_ai_user_release(a);
    gosr_ai_user_release(b);
    gosr_ai_user_release(evil);
    gosr_ai_userstate_close(us);
    /* persisted across reopen */
    REQUIRE(gosr_ai_userstate_open(path, &us, &e) == GOSR_OK);
    CHECK_OK(gosr_ai_user_open(us, "alice", &a, &e));
    CHECK_OK(gosr_ai_user_tuning_get(a, &got, &e));
    CHECK_STR(got.language, "de");
    gosr_ai_user_release(a);
    gosr_ai_userstate_close(us);
    unlink(path);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* ---- provenance --------------------------------------------------------- */

GOSR_TEST(provenance_chain_detects_tampering)
{
    char path[] = "/tmp/gosr-ai-prov-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    gosr_ai_provenance *p = NULL;
    gosr_error e;
    REQUIRE(gosr_ai_provenance_open(path, false, &p, &e) == GOSR_OK);
    gosr_ai_provenance_rec r = {.capability = "npc_dialog", .provider = "ghost",
                                .model = "ghost-v1", .user = "u1"};
    for (int i = 0; i < 5; i++) {
        r.prompt_hash[0] = (uint8_t)i;
        CHECK_OK(gosr_ai_provenance_append(p, &r, &e));
    }
    gosr_ai_provenance_close(p);
    uint64_t n = 0;
    CHECK_OK(gosr_ai_provenance_verify(path, &n, &e));
    CHECK_UINT(n, ==, 5);
    /* reopen continues the chain */
    REQUIRE(gosr_ai_provenance_open(path, true, &p, &e) == GOSR_OK);
    CHECK_UINT(gosr_ai_provenance_count(p), ==, 5);
    CHECK_OK(gosr_ai_provenance_append(p, &r, &e));
    gosr_ai_provenance_close(p);
    CHECK_OK(gosr_ai_provenance_verify(path, &n, &e));
    CHECK_UINT(n, ==, 6);
    /* flip the user of record 3 */
    uint8_t *d = NULL;
    size_t len = 0;
    REQUIRE(gosr_file_read_all(path, 1 << 20, &d, &len) == GOSR_OK);
    char *at = strstr(strstr(strstr((char *)d, "\n") + 1, "\n") + 1, "\"user\":\"u1\"");
    REQUIRE(at);
    at[9] = '2';
    REQUIRE(gosr_file_write_atomic(path, d, len, 0644) == GOSR_OK);
    gosr_free(d);
    CHECK_STATUS(gosr_ai_provenance_verify(path, &n, &e), GOSR_ECORRUPT);
    CHECK_STR(e.reason, "provenance_chain_broken");
    CHECK_STATUS(gosr_ai_provenance_open(path, false, &p, &e), GOSR_ECORRUPT);
    unlink(path);
}
