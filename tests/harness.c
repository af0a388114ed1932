/*
 * harness.c — runner for the tests registered with GOSR_TEST: runs all of
 * them (or those named on the command line), gives each a fresh temporary
 * directory, and prints "N passed, N failed" at the end.
 * Design: docs/testing.md.
 */
#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 512

typedef struct test_entry {
    const char *name; /* test name, from GOSR_TEST(name) */
    gosr_test_fn fn;  /* its body */
} test_entry;

static test_entry g_tests[MAX_TESTS];
static int g_ntests;
static int g_failures;       /* failed checks in the running test */
static char g_tmpdir[512];   /* the running test's temp dir, "" if none */

void gosr_test_register(const char *name, gosr_test_fn fn)
{
    if (g_ntests == MAX_TESTS) {
        fprintf(stderr, "harness: too many tests\n");
        exit(2);
    }
    g_tests[g_ntests++] = (test_entry){name, fn};
}

void gosr_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    g_failures++;
}

int gosr_test_failures(void)
{
    return g_failures;
}

const char *gosr_test_tmpdir(void)
{
    if (g_tmpdir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s/gosr-test-XXXXXX",
                 base ? base : "/tmp");
        if (!mkdtemp(g_tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return g_tmpdir;
}

int gosr_test_system(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void cleanup_tmpdir(bool keep)
{
    if (g_tmpdir[0] == '\0')
        return;
    if (keep)
        fprintf(stderr, "  (kept %s)\n", g_tmpdir);
    else
        gosr_test_system("rm -rf '%s'", g_tmpdir);
    g_tmpdir[0] = '\0';
}

static bool selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < g_ntests; i++)
            printf("%s\n", g_tests[i].name);
        return 0;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    int passed = 0, failed = 0;
    for (int i = 0; i < g_ntests; i++) {
        if (!selected(g_tests[i].name, argc, argv))
            continue;
        g_failures = 0;
        uint64_t t0 = gosr_time_mono_ns();
        g_tests[i].fn();
        double ms = (double)(gosr_time_mono_ns() - t0) / 1e6;
        bool ok = g_failures == 0;
        printf("%s %s (%.1f ms)\n", ok ? "ok  " : "FAIL", g_tests[i].name, ms);
        cleanup_tmpdir(!ok);
        ok ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
