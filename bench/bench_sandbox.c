/*
 * bench_sandbox.c — sandbox benchmarks: CPU-bound Lua programs
 * (bench/lua/NAME.lua) run by plain /usr/bin/lua5.4 (fork/exec) and in the
 * sandbox in production and deterministic mode, printed as ratios; plus
 * sandbox create+destroy, host-call round trip, host->Lua call round trip
 * and deadline-kill latency.
 * Usage: bench_sandbox [REPEATS]   (default 3; best of REPEATS is kept)
 * Design: docs/sandbox.md ("Performance").
 */
#include "gosr/sandbox.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const g_scripts[] = {"binary_trees", "n_body", "fannkuch",
                                        "spectral_norm", "string_heavy",
                                        "table_heavy"};
static int g_repeats = 3;

static double now_s(void) { return (double)gosr_time_mono_ns() / 1e9; }

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* CPU seconds (user + system) of the calling thread: robust against other
 * processes sharing the machine, unlike wall time. */
static double thread_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

/* Runs `lua5.4 -e "print(dofile(path))"`, capturing the printed result. */
static double run_plain(const char *path, char *out, size_t cap)
{
    char expr[600];
    snprintf(expr, sizeof expr, "print(dofile('%s'))", path);
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl("/usr/bin/lua5.4", "lua5.4", "-e", expr, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fds[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    if (n && out[n - 1] == '\n')
        out[n - 1] = '\0';
    close(fds[0]);
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    (void)t0;
    return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

static gosr_sandbox *big_sandbox(gosr_sandbox_mode mode,
                                 const gosr_sandbox_host *host)
{
    gosr_sandbox_config cfg = {.mode = mode,
                               .mem_limit = 1ull << 30,
                               .fuel = 1ull << 50,
                               .deadline_ns = 120ull * 1000000000ull,
                               .max_chunk = 1u << 20,
                               .host = host,
                               .declared_caps = "test",
                               .granted_caps = "test"};
    gosr_sandbox *sb = NULL;
    gosr_error err;
    if (gosr_sandbox_create(&cfg, &sb, &err) != GOSR_OK) {
        fprintf(stderr, "create: %s\n", err.detail);
        exit(1);
    }
    return sb;
}

static double run_sandbox(const char *src, size_t len, gosr_sandbox_mode mode,
                          char *out, size_t cap, uint64_t *fuel)
{
    gosr_sandbox *sb = big_sandbox(mode, NULL);
    gosr_sbv ret = {0};
    gosr_error err;
    double t0 = thread_cpu_s();
    int rc = gosr_sandbox_load(sb, src, len, "=bench", &ret, &err);
    double t = thread_cpu_s() - t0;
    if (rc != GOSR_OK) {
        snprintf(out, cap, "FAULT %s: %.150s", err.reason, err.detail);
    } else if (ret.type == GOSR_SBV_STR) {
        snprintf(out, cap, "%s", ret.u.s.p);
    } else if (ret.type == GOSR_SBV_INT) {
        snprintf(out, cap, "%lld", (long long)ret.u.i);
    } else {
        snprintf(out, cap, "%.14g", ret.u.n);
    }
    *fuel = gosr_sandbox_fuel_used(sb);
    gosr_sbv_free(&ret);
    gosr_sandbox_destroy(sb);
    return t;
}

static void bench_scripts(void)
{
    printf("CPU seconds (user+sys) per run, best of %d; x = ratio to lua5.4\n",
           g_repeats);
    printf("%-14s %9s %9s %7s %9s %7s %14s  %s\n", "benchmark", "lua5.4 s",
           "prod s", "prod x", "det s", "det x", "det fuel", "result check");
    double gp = 1, gd = 1;
    int n = 0;
    for (size_t i = 0; i < sizeof g_scripts / sizeof *g_scripts; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/bench/lua/%s.lua", GOSR_SOURCE_DIR,
                 g_scripts[i]);
        uint8_t *src;
        size_t len;
        if (gosr_file_read_all(path, 1u << 20, &src, &len) != GOSR_OK) {
            fprintf(stderr, "cannot read %s\n", path);
            exit(1);
        }
        double bp = 1e9, bprod = 1e9, bdet = 1e9;
        char rp[256], rprod[256], rdet[256];
        uint64_t fuel = 0, f2;
        for (int r = 0; r < g_repeats; r++) {
            double t = run_plain(path, rp, sizeof rp);
            bp = t < bp ? t : bp;
            t = run_sandbox((char *)src, len, GOSR_SANDBOX_PRODUCTION, rprod,
                            sizeof rprod, &f2);
            bprod = t < bprod ? t : bprod;
            t = run_sandbox((char *)src, len, GOSR_SANDBOX_DETERMINISTIC, rdet,
                            sizeof rdet, &fuel);
            bdet = t < bdet ? t : bdet;
        }
        bool same = strcmp(rp, rprod) == 0 && strcmp(rp, rdet) == 0;
        printf("%-14s %9.3f %9.3f %7.3f %9.3f %7.3f %14llu  %s\n",
               g_scripts[i], bp, bprod, bprod / bp, bdet, bdet / bp,
               (unsigned long long)fuel, same ? "same" : "DIFFERENT");
        if (!same)
            printf("    lua5.4: %s | prod: %s | det: %s\n", rp, rprod, rdet);
        gp *= bprod / bp;
        gd *= bdet / bp;
        n++;
        gosr_free(src);
    }
    printf("%-14s %9s %9s %7.3f %9s %7.3f   (geometric means)\n", "all", "",
           "", pow(gp, 1.0 / n), "", pow(gd, 1.0 / n));
}

static void bench_create(void)
{
    for (int m = 0; m < 2; m++) {
        const int n = 3000;
        gosr_sandbox_config cfg = {.mode = (gosr_sandbox_mode)m};
        double best = 1e9;
        for (int r = 0; r < g_repeats; r++) {
            double t0 = thread_cpu_s();
            for (int i = 0; i < n; i++) {
                gosr_sandbox *sb = NULL;
                if (gosr_sandbox_create(&cfg, &sb, NULL) != GOSR_OK)
                    exit(1);
                gosr_sandbox_destroy(sb);
            }
            double t = (thread_cpu_s() - t0) / n;
            best = t < best ? t : best;
        }
        printf("create+destroy (%s): %.1f us CPU\n",
               m ? "production" : "deterministic", best * 1e6);
    }
}

/* Seconds for gosr_sandbox_call(fn, n). */
static double timed_call(gosr_sandbox *sb, const char *fn, int64_t n)
{
    gosr_sbv arg = gosr_sbv_int(n);
    gosr_error err;
    double t0 = thread_cpu_s();
    if (gosr_sandbox_call(sb, fn, &arg, 1, NULL, 0, &err) != GOSR_OK) {
        fprintf(stderr, "%s: %s\n", fn, err.detail);
        exit(1);
    }
    return thread_cpu_s() - t0;
}

static void bench_host_calls(const gosr_sandbox_host *host)
{
    const char *src =
        "function empty(n) for i = 1, n do end end\n"
        "function noop(n) local f = test.noop for i = 1, n do f() end end\n"
        "function add(n) local f, s = test.add, 0 for i = 1, n do s = f(s, i) "
        "end end\n"
        "function tick() end\n";
    const int64_t n = 5000000;
    for (int m = 1; m >= 0; m--) {
        gosr_sandbox *sb = big_sandbox((gosr_sandbox_mode)m, host);
        gosr_sandbox_load(sb, src, strlen(src), "=calls", NULL, NULL);
        double be = 1e9, bn = 1e9, ba = 1e9, bt = 1e9;
        for (int r = 0; r < g_repeats; r++) {
            double e = timed_call(sb, "empty", n);
            double o = timed_call(sb, "noop", n);
            double a = timed_call(sb, "add", n);
            be = e < be ? e : be;
            bn = o < bn ? o : bn;
            ba = a < ba ? a : ba;
            const int ticks = 100000;
            double t0 = thread_cpu_s();
            for (int i = 0; i < ticks; i++)
                gosr_sandbox_call(sb, "tick", NULL, 0, NULL, 0, NULL);
            double t = (thread_cpu_s() - t0) / ticks;
            bt = t < bt ? t : bt;
        }
        const char *mode = m ? "production" : "deterministic";
        printf("host call round trip (%s): test.noop() %.1f ns, "
               "test.add(s, i) %.1f ns (loop overhead subtracted)\n",
               mode, (bn - be) / n * 1e9, (ba - be) / n * 1e9);
        printf("host->Lua call of an empty function (%s): %.0f ns\n", mode,
               bt * 1e9);
        gosr_sandbox_destroy(sb);
    }
}

static void bench_kill_latency(void)
{
    const char *src = "function spin() while true do end end";
    for (int m = 1; m >= 0; m--) {
        double worst = 0, sum = 0;
        const int n = 10;
        for (int i = 0; i < n; i++) {
            gosr_sandbox_config cfg = {.mode = (gosr_sandbox_mode)m,
                                       .deadline_ns = 20000000,
                                       .fuel = 1ull << 50};
            gosr_sandbox *sb = NULL;
            gosr_sandbox_create(&cfg, &sb, NULL);
            gosr_sandbox_load(sb, src, strlen(src), "=spin", NULL, NULL);
            gosr_sandbox_call(sb, "spin", NULL, 0, NULL, 0, NULL);
            double late = (double)gosr_sandbox_fault_get(sb)->elapsed_ns / 1e6 -
                          20.0;
            worst = late > worst ? late : worst;
            sum += late;
            gosr_sandbox_destroy(sb);
        }
        printf("deadline kill latency past a 20 ms deadline (%s): mean %.3f "
               "ms, worst %.3f ms\n", m ? "production" : "deterministic",
               sum / n, worst);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1)
        g_repeats = atoi(argv[1]) > 0 ? atoi(argv[1]) : 3;
    gosr_sandbox_testhost *th;
    if (gosr_sandbox_testhost_create(&th) != GOSR_OK)
        return 1;
    printf("sandbox bench: best of %d runs; lua5.4 = /usr/bin/lua5.4 "
           "(fork/exec; its CPU time includes process start); fuel period %u\n",
           g_repeats, 1000u);
    bench_scripts();
    bench_create();
    bench_host_calls(gosr_sandbox_testhost_host(th));
    bench_kill_latency();
    gosr_sandbox_testhost_destroy(th);
    return 0;
}
