/*
 * bench_epoch.c — epoch signal latency from a writer to a reader in
 * another process, through a file-backed arena: the writer stamps
 * CLOCK_MONOTONIC into a region and ends the write window (epoch bump +
 * FUTEX_WAKE); the forked reader, which mapped the file read-only, wakes
 * (futex sleep or spin), takes a seqlock snapshot and subtracts the stamp.
 * Lockstep via a pipe so every sample is one epoch and the reader is back
 * asleep (or spinning) before the next write. In spin mode writer and
 * reader are pinned to CPUs 0 and 1 (a spinner needs its own core); in
 * futex mode the scheduler places them. Prints p50/p90/p99/max.
 * Usage: bench_epoch [SAMPLES]
 * Design: docs/runtime.md ("Benchmarks").
 */
#include "gosr/runtime.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_row(const char *mode, const char *what, uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    printf("%-6s %-14s n=%zu  p50 %7.2f us  p90 %7.2f us  p99 %7.2f us  "
           "max %8.2f us\n",
           mode, what, n, v[n / 2] / 1e3, v[n * 90 / 100] / 1e3,
           v[n * 99 / 100] / 1e3, v[n - 1] / 1e3);
}

/* Pins the calling process to one CPU (when there are at least two), so
 * writer and reader do not migrate or share a core. */
static void pin(int cpu)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Reader process: n lockstep samples of wake and wake+snapshot latency. */
static void reader(const char *path, bool spin, size_t n, int ack)
{
    gosr_arena *r;
    if (spin)
        pin(1);
    if (gosr_arena_open_reader(path, &r, NULL) != GOSR_OK)
        _exit(10);
    uint64_t *wake = calloc(n, 8), *snap = calloc(n, 8);
    char c = 1;
    if (write(ack, &c, 1) != 1) /* ready */
        _exit(11);
    for (size_t i = 0; i < n; i++) {
        uint64_t e, stamp[8];
        if (gosr_arena_wait(r, 0, i, spin, 10000, &e) != GOSR_OK)
            _exit(12);
        uint64_t t1 = gosr_time_mono_ns();
        if (gosr_arena_read(r, 0, stamp, sizeof stamp, &e, 10000) != GOSR_OK)
            _exit(13);
        uint64_t t2 = gosr_time_mono_ns();
        wake[i] = t1 - stamp[0];
        snap[i] = t2 - stamp[0];
        if (write(ack, &c, 1) != 1)
            _exit(14);
    }
    const char *mode = spin ? "spin" : "futex";
    print_row(mode, "wake", wake, n);
    print_row(mode, "wake+snapshot", snap, n);
    fflush(stdout);
    gosr_arena_close(r);
    _exit(0);
}

static void run_mode(const char *path, bool spin, size_t n)
{
    gosr_region_spec spec = {.name = "signal", .size = 64};
    gosr_arena *a;
    if (gosr_arena_create(path, &spec, 1, &a, NULL) != GOSR_OK) {
        fprintf(stderr, "arena create failed\n");
        exit(1);
    }
    int p[2];
    if (pipe(p) != 0)
        exit(1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        reader(path, spin, n, p[1]);
    close(p[1]);
    if (spin)
        pin(0);
    char c;
    if (read(p[0], &c, 1) != 1)
        exit(1);
    uint64_t *wcost = calloc(n, 8);
    uint64_t *d = gosr_arena_data(a, 0);
    for (size_t i = 0; i < n; i++) {
        usleep(200); /* let the reader go back to sleep / spin */
        gosr_arena_begin_write(a, 0);
        d[0] = gosr_time_mono_ns();
        gosr_arena_end_write(a, 0);
        wcost[i] = gosr_time_mono_ns() - d[0];
        if (read(p[0], &c, 1) != 1)
            break;
    }
    int st;
    waitpid(pid, &st, 0);
    print_row(spin ? "spin" : "futex", "writer end", wcost, n);
    free(wcost);
    close(p[0]);
    gosr_arena_close(a);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 5000;
    char dir[] = "/tmp/bench-epoch-XXXXXX";
    if (!n || !mkdtemp(dir))
        return 1;
    char path[64];
    snprintf(path, sizeof path, "%s/%s", dir, GOSR_ARENA_FILE);
    printf("epoch signal latency, writer -> reader in another process "
           "(%zu samples per mode, %ld CPUs online)\n",
           n, sysconf(_SC_NPROCESSORS_ONLN));
    run_mode(path, false, n);
    run_mode(path, true, n);
    unlink(path);
    rmdir(dir);
    return 0;
}
