/*
 * test_crash.c — crash safety: a child process puts files, pins refs,
 * deletes old refs and runs GC in a loop; the parent SIGKILLs it at a
 * random point (after 0..2 committed puts plus 0..3 ms), reopens the
 * store (recovery), and requires that fsck passes and that every ref the
 * child reported committed is still fully readable with the right bytes. 200
 * iterations over two stores (plain zstd, and encrypted brotli). Design:
 * docs/store.md ("Crash safety").
 */
#include "harness.h"
#include "gosr/store.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ITERATIONS 200
#define MAX_FILES 4096
#define KEEP_REFS 12 /* the child keeps at most this many refs */

static const gosr_cdc_params CRASH_CDC = {
    .min_size = 64, .avg_size = 256, .max_size = 1024};

/* What the parent knows about one store. */
typedef struct crash_store {
    const char *name;         /* directory name under the test tmpdir */
    gosr_store_config cfg;    /* how it is opened */
    int next;                 /* next file number the child should put */
    uint8_t state[MAX_FILES]; /* 0 unknown, 1 committed, 2 maybe deleted */
    int verified;             /* refs verified after kills */
    int kills_mid_write;      /* kills that landed after >= 1 commit */
} crash_store;

/* File i's bytes: shared text (dedups across files) plus its own random
 * tail, 1..6 KiB. */
static size_t file_bytes(int i, uint8_t *p)
{
    size_t n = 1024 + (size_t)((i * 7919) % 5120);
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t k = 0; k < n; k++) {
        if (k < n / 2) {
            p[k] = (uint8_t) "the quick gosr store chunk "[(k + (size_t)i % 3) %
                                                           27];
        } else {
            x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
            p[k] = (uint8_t)((x * 0x2545F4914F6CDD1DULL) >> 56);
        }
    }
    return n;
}

static void report(int fd, char op, int i)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%c %d\n", op, i);
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

/* The child: puts, refs, deletes and GCs until killed. Reports 'P i'
 * after ref i is committed, 'd i' before deleting ref i and 'D i' after. */
static void child_loop(const char *dir, const gosr_store_config *cfg, int first,
                       int wfd)
{
    gosr_store *st = NULL;
    gosr_error err;
    if (gosr_store_open(dir, cfg, &st, &err) != GOSR_OK)
        _exit(2);
    static uint8_t buf[8192];
    for (int i = first; i < MAX_FILES; i++) {
        gosr_hash id;
        char name[32];
        size_t n = file_bytes(i, buf);
        snprintf(name, sizeof name, "f%d", i);
        if (gosr_store_put_buffer(st, buf, n, &id, &err) != GOSR_OK ||
            gosr_store_ref_set(st, name, &id, &err) != GOSR_OK)
            _exit(4);
        report(wfd, 'P', i);
        int old = i - KEEP_REFS;
        if (old >= 0) {
            snprintf(name, sizeof name, "f%d", old);
            report(wfd, 'd', old);
            int rc = gosr_store_ref_delete(st, name, &err);
            if (rc != GOSR_OK && rc != GOSR_ENOENT)
                _exit(5);
            report(wfd, 'D', old);
        }
        if (i % 5 == 4 && gosr_store_gc(st, NULL, &err) != GOSR_OK)
            _exit(6);
    }
    gosr_store_close(st);
    _exit(0);
}

/* Applies complete report lines in buf[0..*len) to the parent's view,
 * keeping any partial line; returns how many 'P' lines were applied. */
static int apply_reports(char *buf, size_t *len, crash_store *cs)
{
    int puts = 0;
    size_t used = 0;
    for (;;) {
        char *nl = memchr(buf + used, '\n', *len - used);
        if (!nl)
            break;
        *nl = 0;
        char op;
        int i;
        if (sscanf(buf + used, "%c %d", &op, &i) == 2 && i >= 0 &&
            i < MAX_FILES) {
            if (op == 'P') {
                cs->state[i] = 1;
                puts++;
                if (i + 1 > cs->next)
                    cs->next = i + 1;
            } else {
                cs->state[i] = 2; /* 'd' or 'D': may be gone */
            }
        }
        used = (size_t)(nl - buf) + 1;
    }
    memmove(buf, buf + used, *len - used);
    *len -= used;
    return puts;
}

/* Reads reports until `want` puts were seen or the pipe closes. */
static int read_until(int rfd, char *buf, size_t cap, size_t *len,
                      crash_store *cs, int want)
{
    int puts = 0;
    while (puts < want || want < 0) {
        ssize_t r = read(rfd, buf + *len, cap - *len);
        if (r <= 0)
            break;
        *len += (size_t)r;
        puts += apply_reports(buf, len, cs);
    }
    return puts;
}

/* Reopens the store and checks fsck and every committed ref. */
static void verify(const char *dir, crash_store *cs, int iter)
{
    gosr_store *st = NULL;
    gosr_error err;
    int rc = gosr_store_open(dir, &cs->cfg, &st, &err);
    if (rc != GOSR_OK) {
        gosr_test_fail(__FILE__, __LINE__, "iter %d reopen: %s %s", iter,
                       err.reason, err.detail);
        return;
    }
    gosr_store_fsck_report rep;
    if (gosr_store_fsck(st, NULL, NULL, &rep, &err) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "iter %d fsck: %s %s", iter,
                       err.reason, err.detail);
    static uint8_t want[8192];
    gosr_buf got = {0};
    for (int i = 0; i < cs->next; i++) {
        if (cs->state[i] != 1)
            continue;
        char name[32];
        gosr_hash root;
        gosr_chunk_ref *c = NULL;
        size_t k = 0, n = file_bytes(i, want);
        snprintf(name, sizeof name, "f%d", i);
        got.len = 0;
        rc = gosr_store_ref_get(st, name, &root, &err);
        if (rc == GOSR_OK)
            rc = gosr_store_file_chunks(st, &root, &c, &k, &err);
        for (size_t j = 0; rc == GOSR_OK && j < k; j++)
            rc = gosr_store_get_chunk(st, &c[j].id, &got, &err);
        gosr_free(c);
        if (rc != GOSR_OK || got.len != n || memcmp(got.data, want, n) != 0)
            gosr_test_fail(__FILE__, __LINE__, "iter %d: ref %s lost (%s)",
                           iter, name, rc ? err.reason : "content");
        else
            cs->verified++;
    }
    gosr_buf_free(&got);
    gosr_store_close(st);
}

/* One iteration: fork; wait until the child has committed a random 0..2
 * puts, then a random 0..3 ms more (so kills land anywhere: in open and
 * recovery, mid-put, mid-ref delete, mid-GC), then SIGKILL. */
static void crash_once(crash_store *cs, int iter, unsigned *seed)
{
    char *dir = gosr_asprintf("%s/%s", gosr_test_tmpdir(), cs->name);
    int fds[2];
    REQUIRE(dir && pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_loop(dir, &cs->cfg, cs->next, fds[1]);
    }
    close(fds[1]);
    static char buf[65536];
    size_t len = 0;
    int want = rand_r(seed) % 3;
    int puts = read_until(fds[0], buf, sizeof buf, &len, cs, want);
    struct timespec ts = {0, (long)(rand_r(seed) % 3000) * 1000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        gosr_test_fail(__FILE__, __LINE__, "iter %d: child exited %d", iter,
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    puts += read_until(fds[0], buf, sizeof buf, &len, cs, -1);
    if (puts > 0)
        cs->kills_mid_write++;
    close(fds[0]);
    verify(dir, cs, iter);
    gosr_free(dir);
}

GOSR_TEST(sigkill_during_writes)
{
    static crash_store stores[2];
    stores[0] = (crash_store){.name = "plain", .cfg = {.cdc = CRASH_CDC}};
    stores[1] = (crash_store){
        .name = "enc",
        .cfg = {.cdc = CRASH_CDC, .codec = "brotli", .encrypt = true}};
    unsigned seed = (unsigned)time(NULL);
    printf("crash seed %u\n", seed);
    for (int iter = 0; iter < ITERATIONS && gosr_test_failures() == 0; iter++)
        crash_once(&stores[iter % 2], iter, &seed);
    for (int s = 0; s < 2; s++)
        printf("%s: %d files put, %d kills after a commit, %d ref checks\n",
               stores[s].name, stores[s].next, stores[s].kills_mid_write,
               stores[s].verified);
    printf("iterations: %d\n", ITERATIONS);
    /* Iterations that waited for >= 1 put always see one. */
    CHECK_INT(stores[0].kills_mid_write + stores[1].kills_mid_write, >,
              ITERATIONS / 2);
    CHECK_INT(stores[0].next, <, MAX_FILES);
}
