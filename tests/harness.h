/*
 * harness.h — GOSR's test harness: tests register themselves with
 * GOSR_TEST(name) (a constructor adds them to one list per executable), and
 * typed CHECK_* asserts report file, line and both values. Each
 * tests/<sub>/test_*.c builds into one executable and one CTest test; run it
 * with a test name to run just that test, or `--list` to list them.
 * Leaks are caught by LeakSanitizer in the sanitizer build.
 * Design: docs/testing.md.
 */
#ifndef GOSR_TEST_HARNESS_H
#define GOSR_TEST_HARNESS_H

#include "gosr/base.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef void (*gosr_test_fn)(void);
void gosr_test_register(const char *name, gosr_test_fn fn);
/* Marks the running test failed (used by the CHECK macros). */
void gosr_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Number of failed checks in the running test. */
int gosr_test_failures(void);
/* A fresh empty directory for the running test, removed afterwards unless
 * the test failed (then kept for inspection). Borrowed until the test ends. */
const char *gosr_test_tmpdir(void);
/* Runs a shell command; returns its exit status (or -1). */
int gosr_test_system(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#define GOSR_TEST(name)                                                        \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void register_##name(void)             \
    {                                                                          \
        gosr_test_register(#name, test_##name);                                \
    }                                                                          \
    static void test_##name(void)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            gosr_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);            \
    } while (0)

/* Like CHECK but returns from the test on failure (for preconditions). */
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            gosr_test_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);          \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_INT(a, op, b)                                                    \
    do {                                                                       \
        long long va_ = (long long)(a), vb_ = (long long)(b);                  \
        if (!(va_ op vb_))                                                     \
            gosr_test_fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld", #a,   \
                           #op, #b, va_, vb_);                                 \
    } while (0)
#define CHECK_EQ(a, b) CHECK_INT(a, ==, b)

#define CHECK_UINT(a, op, b)                                                   \
    do {                                                                       \
        unsigned long long va_ = (unsigned long long)(a),                      \
                           vb_ = (unsigned long long)(b);                      \
        if (!(va_ op vb_))                                                     \
            gosr_test_fail(__FILE__, __LINE__, "%s %s %s: %llu vs %llu", #a,   \
                           #op, #b, va_, vb_);                                 \
    } while (0)

/* Checks a gosr status is GOSR_OK, printing its name otherwise. */
#define CHECK_OK(expr)                                                         \
    do {                                                                       \
        int rc_ = (expr);                                                      \
        if (rc_ != GOSR_OK)                                                    \
            gosr_test_fail(__FILE__, __LINE__, "%s -> %s (%s)", #expr,         \
                           gosr_status_name(rc_), gosr_strerror(rc_));         \
    } while (0)

/* Checks a gosr status equals an expected code. */
#define CHECK_STATUS(expr, want)                                               \
    do {                                                                       \
        int rc_ = (expr), want_ = (want);                                      \
        if (rc_ != want_)                                                      \
            gosr_test_fail(__FILE__, __LINE__, "%s -> %s, want %s", #expr,     \
                           gosr_status_name(rc_), gosr_status_name(want_));    \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *sa_ = (a), *sb_ = (b);                                     \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0)                             \
            gosr_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"",   \
                           #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");\
    } while (0)

#define CHECK_MEM(a, b, n)                                                     \
    do {                                                                       \
        if (memcmp((a), (b), (n)) != 0)                                        \
            gosr_test_fail(__FILE__, __LINE__, "memcmp(%s, %s, %s) != 0", #a,  \
                           #b, #n);                                            \
    } while (0)

#endif /* GOSR_TEST_HARNESS_H */
