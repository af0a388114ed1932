/*
 * bench_blake3.c — BLAKE3 throughput: single-thread MB/s per implementation
 * path on 1 KiB, 16 KiB, 1 MiB and 256 MiB inputs, beside libsodium's
 * BLAKE2b-256 and OpenSSL's SHA-256; the multi-threaded figure; and `gosr
 * hash --threads 1` against Debian's `b3sum --num-threads 1` on one file.
 * Run from build/release. MB = 10^6 bytes. Figures are the best of several
 * timed runs; the load average is printed because the machine is shared.
 * Design: docs/blake3.md ("Measured").
 */
#include "gosr/crypto.h"

#include <fcntl.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef GOSR_HAVE_OPENSSL
#include <openssl/evp.h>
#endif

extern char **environ;

#define BIG (256u << 20)
#define TRIALS 15        /* timed runs per figure; the best is kept */
#define TRIAL_NS 20000000 /* each run repeats the hash for at least 20 ms */
#define FILE_TRIALS 7     /* runs per command in the file comparison */

typedef void (*hash_fn)(const uint8_t *p, size_t n, uint8_t out[32]);

static void h_blake3(const uint8_t *p, size_t n, uint8_t out[32])
{
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, p, n);
    gosr_blake3_finalize(&h, out, 32);
}

static void h_blake3_mt(const uint8_t *p, size_t n, uint8_t out[32])
{
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update_parallel(&h, p, n, 0);
    gosr_blake3_finalize(&h, out, 32);
}

static void h_blake2b(const uint8_t *p, size_t n, uint8_t out[32])
{
    crypto_generichash(out, 32, p, n, NULL, 0);
}

#ifdef GOSR_HAVE_OPENSSL
static void h_sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned len = 32;
    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}
#endif

/* Best MB/s over TRIALS runs; each run repeats the hash until it has
 * taken at least TRIAL_NS (at least once). Short runs, best kept: on a
 * shared machine most runs are interrupted, the best one mostly is not. */
static double measure(hash_fn fn, const uint8_t *p, size_t n)
{
    double best = 0;
    uint8_t out[32];
    for (int t = 0; t < TRIALS; t++) {
        uint64_t start = gosr_time_mono_ns(), now;
        size_t reps = 0;
        do {
            fn(p, n, out);
            reps++;
            now = gosr_time_mono_ns();
        } while (now - start < TRIAL_NS);
        double mbs = (double)n * (double)reps / ((double)(now - start) / 1e9) / 1e6;
        if (mbs > best)
            best = mbs;
    }
    return best;
}

/* 1 KiB (one chunk: the single-block compress alone), then the sizes the
 * issue asks for. */
static const size_t SIZES[] = {1u << 10, 16u << 10, 1u << 20, BIG};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

static void row(const char *name, hash_fn fn, const uint8_t *buf)
{
    printf("%-22s", name);
    for (size_t i = 0; i < NSIZES; i++)
        printf(" %9.0f", measure(fn, buf, SIZES[i]));
    printf("\n");
    fflush(stdout);
}

static void print_load(const char *when)
{
    char line[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            strcpy(line, "?\n");
        fclose(f);
    }
    printf("load average (%s): %s", when, line);
}

/* Runs argv with stdout to `out_path` (or /dev/null); returns wall ns, or 0
 * if it failed. */
static uint64_t run_timed(char *const argv[], const char *out_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    uint64_t start = gosr_time_mono_ns();
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return 0;
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        return 0;
    return gosr_time_mono_ns() - start;
}

/* Best wall time of each of two commands over `runs` alternating runs
 * (alternating, so a change of machine load hits both alike). False if
 * either failed. */
static bool best_of_pair(char *const a[], char *const b[], int runs,
                         uint64_t *best_a, uint64_t *best_b)
{
    *best_a = *best_b = 0;
    for (int i = 0; i < runs; i++) {
        uint64_t ta = run_timed(a, NULL), tb = run_timed(b, NULL);
        if (ta == 0 || tb == 0)
            return false;
        if (*best_a == 0 || ta < *best_a)
            *best_a = ta;
        if (*best_b == 0 || tb < *best_b)
            *best_b = tb;
    }
    return true;
}

static bool same_first_field(const char *a_path, const char *b_path)
{
    char a[200] = "", b[200] = "";
    FILE *fa = fopen(a_path, "r"), *fb = fopen(b_path, "r");
    bool ok = fa && fb && fscanf(fa, "%199s", a) == 1 &&
              fscanf(fb, "%199s", b) == 1 && strcmp(a, b) == 0;
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return ok;
}

/* Writes the buffer to a file and times both commands on it. */
static void file_compare(const uint8_t *buf)
{
    char path[] = "/tmp/gosr-bench-blake3-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || gosr_io_write_all(fd, buf, BIG) != GOSR_OK) {
        printf("file comparison: cannot write %s\n", path);
        if (fd >= 0)
            close(fd);
        return;
    }
    close(fd);
    char *gosr_argv[] = {(char *)GOSR_CLI_PATH, "hash", "--threads", "1", path,
                         NULL};
    char *b3_argv[] = {"b3sum", "--num-threads", "1", path, NULL};
    run_timed(gosr_argv, "/tmp/gosr-bench-out-a"); /* warms the page cache */
    run_timed(b3_argv, "/tmp/gosr-bench-out-b");
    bool same = same_first_field("/tmp/gosr-bench-out-a", "/tmp/gosr-bench-out-b");
    uint64_t g = 0, b = 0;
    bool ran = best_of_pair(gosr_argv, b3_argv, FILE_TRIALS, &g, &b);
    printf("\nfile of 256 MiB (page cache warm), best of %d alternating runs, "
           "wall time:\n",
           FILE_TRIALS);
    if (ran) {
        printf("  gosr hash --threads 1     %8.1f ms  %6.0f MB/s\n", g / 1e6,
               BIG / (g / 1e9) / 1e6);
        printf("  b3sum --num-threads 1     %8.1f ms  %6.0f MB/s\n", b / 1e6,
               BIG / (b / 1e9) / 1e6);
        printf("  ratio gosr/b3sum speed    %8.2f   (digests %s)\n",
               (double)b / (double)g, same ? "equal" : "DIFFER");
    } else {
        printf("  could not run %s or b3sum\n", GOSR_CLI_PATH);
    }
    unlink(path);
    unlink("/tmp/gosr-bench-out-a");
    unlink("/tmp/gosr-bench-out-b");
}

int main(int argc, char **argv)
{
    bool no_file = argc > 1 && strcmp(argv[1], "--no-file") == 0;
    if (sodium_init() < 0)
        return 1;
    uint8_t *buf = gosr_malloc(BIG);
    if (!buf)
        return 1;
    for (size_t i = 0; i < BIG; i++)
        buf[i] = (uint8_t)(i * 31 + (i >> 13));
    print_load("start");
    printf("single thread, MB/s     %9s %9s %9s %9s\n", "1 KiB", "16 KiB",
           "1 MiB", "256 MiB");
    for (int p = GOSR_BLAKE3_PORTABLE; p <= GOSR_BLAKE3_AVX512; p++) {
        char name[32];
        if (gosr_blake3_set_path((gosr_blake3_path)p) != GOSR_OK)
            continue;
        snprintf(name, sizeof name, "blake3 %s",
                 gosr_blake3_path_name((gosr_blake3_path)p));
        row(name, h_blake3, buf);
    }
    gosr_blake3_set_path(GOSR_BLAKE3_AUTO);
    row("blake2b-256 (sodium)", h_blake2b, buf);
#ifdef GOSR_HAVE_OPENSSL
    row("sha-256 (openssl)", h_sha256, buf);
#endif
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("\nmulti-thread (%ld threads, path %s), 256 MiB: %.0f MB/s\n", cpus,
           gosr_blake3_path_name(gosr_blake3_get_path()),
           measure(h_blake3_mt, buf, BIG));
    if (!no_file)
        file_compare(buf);
    print_load("end");
    gosr_free(buf);
    return 0;
}
