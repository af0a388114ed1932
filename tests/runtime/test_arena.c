/*
 * test_arena.c — the shared arena: layout and validation (corrupt and
 * truncated files give clean errors), writer windows and epochs, seqlock
 * consistency across two processes under a free-running writer, lockstep
 * delivery of every epoch (sleeping and spinning readers), futex wake-up,
 * timeouts and writer close across processes.
 */
#include "harness.h"
#include "gosr/runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORDS 16384

static char *arena_path(void)
{
    return gosr_asprintf("%s/%s", gosr_test_tmpdir(), GOSR_ARENA_FILE);
}

static gosr_arena *make_arena(const char *path)
{
    gosr_region_spec specs[2] = {
        {.name = "data", .kind = GOSR_REGION_RAW, .size = WORDS * 8},
        {.name = "small", .kind = GOSR_REGION_RAW, .size = 64},
    };
    gosr_arena *a = NULL;
    gosr_error err;
    if (gosr_arena_create(path, specs, 2, &a, &err) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "create: %s", err.detail);
    return a;
}

/* Writes one epoch: every word of "data" = value. Written from the last
 * word down, against the direction readers copy, so an unsynchronised copy
 * that overlaps a write would see a mix (the stress test's invariant). */
static void write_all(gosr_arena *a, uint64_t value)
{
    uint64_t *d = gosr_arena_data(a, 0);
    gosr_arena_begin_write(a, 0);
    for (int i = WORDS - 1; i >= 0; i--)
        d[i] = value;
    gosr_arena_end_write(a, 0);
}

GOSR_TEST(create_read_epochs)
{
    char *path = arena_path();
    gosr_arena *a = make_arena(path);
    REQUIRE(a);
    CHECK_EQ(gosr_arena_region_count(a), 2);
    CHECK_EQ(gosr_arena_find(a, "small"), 1);
    CHECK_EQ(gosr_arena_find(a, "nope"), GOSR_ENOENT);
    CHECK_UINT(gosr_arena_epoch(a, 0), ==, 0);
    CHECK_OK(gosr_arena_begin_write(a, 0));
    CHECK_STATUS(gosr_arena_begin_write(a, 0), GOSR_ESTATE);
    CHECK(gosr_arena_writing(a, 0));
    CHECK_UINT(gosr_arena_epoch(a, 0), ==, 0);
    CHECK_OK(gosr_arena_end_write(a, 0));
    CHECK_STATUS(gosr_arena_end_write(a, 0), GOSR_ESTATE);
    CHECK_UINT(gosr_arena_epoch(a, 0), ==, 1);
    write_all(a, 7);

    gosr_arena *r = NULL;
    gosr_error err;
    CHECK_OK(gosr_arena_open_reader(path, &r, &err));
    REQUIRE(r);
    CHECK(gosr_arena_data(r, 0) == NULL); /* readers get no write access */
    CHECK_STATUS(gosr_arena_begin_write(r, 0), GOSR_EINVAL);
    uint64_t buf[WORDS], epoch = 0;
    CHECK_OK(gosr_arena_read(r, 0, buf, sizeof buf, &epoch, 1000));
    CHECK_UINT(epoch, ==, 2);
    CHECK_UINT(buf[WORDS - 1], ==, 7);
    CHECK_STATUS(gosr_arena_read(r, 0, buf, sizeof buf + 1, &epoch, 10),
                 GOSR_EINVAL);
    gosr_region_info info;
    CHECK_OK(gosr_arena_region_info(r, 1, &info));
    CHECK_STR(info.name, "small");
    CHECK_UINT(info.size, ==, 64);
    CHECK_UINT(info.offset % 4096, ==, 0);
    uint64_t now = 0;
    CHECK_STATUS(gosr_arena_wait(r, 0, 2, false, 20, &now), GOSR_ETIMEOUT);
    CHECK_STATUS(gosr_arena_wait(r, 0, 2, true, 20, &now), GOSR_ETIMEOUT);
    CHECK_OK(gosr_arena_wait(r, 0, 1, false, 20, &now));
    CHECK_UINT(now, ==, 2);
    CHECK(!gosr_arena_writer_closed(r));
    gosr_arena_close(a);
    CHECK(gosr_arena_writer_closed(r));
    CHECK_STATUS(gosr_arena_wait(r, 0, 2, false, 1000, &now), GOSR_ECLOSED);
    gosr_arena_close(r);
    gosr_free(path);
}

GOSR_TEST(create_rejects_bad_specs)
{
    gosr_arena *a = NULL;
    gosr_error err;
    gosr_region_spec dup[2] = {{.name = "x", .size = 8},
                               {.name = "x", .size = 8}};
    CHECK_STATUS(gosr_arena_create(NULL, dup, 2, &a, &err), GOSR_EINVAL);
    CHECK_STR(err.reason, "arena_duplicate_region");
    gosr_region_spec bad[1] = {{.name = "Bad Name", .size = 8}};
    CHECK_STATUS(gosr_arena_create(NULL, bad, 1, &a, &err), GOSR_EINVAL);
    gosr_region_spec empty[1] = {{.name = "z", .size = 0}};
    CHECK_STATUS(gosr_arena_create(NULL, empty, 1, &a, &err), GOSR_EINVAL);
    CHECK_STATUS(gosr_arena_create(NULL, empty, 0, &a, &err), GOSR_EINVAL);
    gosr_region_spec anon[1] = {{.name = "z", .size = 100}};
    CHECK_OK(gosr_arena_create(NULL, anon, 1, &a, &err));
    gosr_arena_close(a);
}

/* Copies the arena file, applies a patch at `off`, and expects the reader
 * to refuse it with `reason`. */
static void expect_refused(const uint8_t *img, size_t len, size_t off,
                           const void *patch, size_t plen, size_t trunc,
                           const char *reason)
{
    char *p = gosr_asprintf("%s/bad.arena", gosr_test_tmpdir());
    uint8_t *copy = malloc(len);
    memcpy(copy, img, len);
    if (plen)
        memcpy(copy + off, patch, plen);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(write(fd, copy, trunc ? trunc : len) ==
          (ssize_t)(trunc ? trunc : len));
    close(fd);
    gosr_arena *r = NULL;
    gosr_error err = {0};
    int rc = gosr_arena_open_reader(p, &r, &err);
    CHECK(rc != GOSR_OK);
    if (rc == GOSR_OK)
        gosr_arena_close(r);
    else if (reason && strcmp(err.reason, reason) != 0)
        gosr_test_fail(__FILE__, __LINE__, "reason %s, want %s", err.reason,
                       reason);
    free(copy);
    gosr_free(p);
}

GOSR_TEST(reader_rejects_corrupt_files)
{
    char *path = arena_path();
    gosr_arena *a = make_arena(path);
    REQUIRE(a);
    write_all(a, 1);
    uint8_t *img;
    size_t len;
    REQUIRE(gosr_file_read_all(path, 1 << 24, &img, &len) == GOSR_OK);
    uint64_t big = 1ull << 40, odd = 4100, count = 99;
    expect_refused(img, len, 0, "XXXX", 4, 0, "arena_bad_magic");
    expect_refused(img, len, 0, NULL, 0, 100, "arena_truncated");
    expect_refused(img, len, 0, NULL, 0, 4096, "arena_truncated");
    expect_refused(img, len, 0, NULL, 0, len - 1, "arena_truncated");
    expect_refused(img, len, 24, &count, 4, 0, "arena_bad_region_count");
    expect_refused(img, len, 128 + 32, &big, 8, 0,
                   "arena_region_out_of_bounds");
    expect_refused(img, len, 128 + 40, &big, 8, 0,
                   "arena_region_out_of_bounds");
    expect_refused(img, len, 128 + 32, &odd, 8, 0,
                   "arena_region_out_of_bounds");
    expect_refused(img, len, 128, "BAD NAME", 8, 0, "arena_bad_region_name");
    expect_refused(img, len, 128, "abcdefghabcdefghabcdefghabcdefgh", 32, 0,
                   "arena_bad_region_name");
    expect_refused(img, len, 256, "data", 5, 0, "arena_duplicate_region");
    /* Second region moved onto the first. */
    uint64_t first_off;
    memcpy(&first_off, img + 128 + 32, 8);
    expect_refused(img, len, 256 + 32, &first_off, 8, 0,
                   "arena_regions_overlap");
    uint32_t elems[2] = {1000000, 1000};
    expect_refused(img, len, 128 + 52, elems, 8, 0, "arena_region_bad_elems");
    /* Random single-byte corruption of the header page: the reader either
     * refuses or opens a valid layout, and reading never crashes. */
    uint64_t rng = 12345;
    char *p = gosr_asprintf("%s/fuzz.arena", gosr_test_tmpdir());
    for (int i = 0; i < 400; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint8_t *copy = malloc(len);
        memcpy(copy, img, len);
        copy[(rng >> 33) % 640] ^= (uint8_t)(1u << ((rng >> 20) % 8));
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        CHECK(write(fd, copy, len) == (ssize_t)len);
        close(fd);
        gosr_arena *r = NULL;
        if (gosr_arena_open_reader(p, &r, NULL) == GOSR_OK) {
            uint8_t tmp[64];
            for (size_t k = 0; k < gosr_arena_region_count(r); k++) {
                gosr_region_info in;
                gosr_arena_region_info(r, (int)k, &in);
                if (in.size >= sizeof tmp)
                    gosr_arena_read(r, (int)k, tmp, sizeof tmp, NULL, 1);
            }
            gosr_arena_close(r);
        }
        free(copy);
    }
    gosr_free(p);
    gosr_arena *r = NULL;
    gosr_error err;
    char *missing = gosr_asprintf("%s/none", gosr_test_tmpdir());
    CHECK_STATUS(gosr_arena_open_reader(missing, &r, &err), GOSR_ENOENT);
    gosr_free(missing);
    gosr_free(img);
    gosr_arena_close(a);
    gosr_free(path);
}

/* ---- cross-process ------------------------------------------------------ */

/* Child: maps read-only and copies snapshots back to back until the
 * writer closes; checks each snapshot's words all equal its epoch (the
 * writer's invariant) and that epochs never go backwards. Exit code 0 = all
 * good; writes the number of distinct epochs seen to fd. */
static void stress_reader(const char *path, int fd)
{
    gosr_arena *r = NULL;
    if (gosr_arena_open_reader(path, &r, NULL) != GOSR_OK)
        _exit(10);
    static uint64_t buf[WORDS];
    uint64_t last = 0, distinct = 0;
    if (write(fd, &distinct, sizeof distinct) != sizeof distinct) /* ready */
        _exit(16);
    for (;;) {
        bool closed = gosr_arena_writer_closed(r);
        uint64_t epoch;
        if (gosr_arena_read(r, 0, buf, sizeof buf, &epoch, 10000) != GOSR_OK)
            _exit(12);
        if (epoch < last)
            _exit(13);
        for (int i = 0; i < WORDS; i++)
            if (buf[i] != epoch)
                _exit(14); /* torn read */
        distinct += epoch != last;
        last = epoch;
        if (closed)
            break;
    }
    if (write(fd, &distinct, sizeof distinct) != sizeof distinct)
        _exit(15);
    gosr_arena_close(r);
    _exit(0);
}

GOSR_TEST(seqlock_stress_two_processes)
{
    char *path = arena_path();
    gosr_arena *a = make_arena(path);
    REQUIRE(a);
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0)
        stress_reader(path, p[1]);
    close(p[1]);
    uint64_t ready;
    CHECK(read(p[0], &ready, sizeof ready) == sizeof ready);
    const uint64_t n = 10000;
    uint64_t rng = 99;
    for (uint64_t k = 1; k <= n; k++) {
        write_all(a, k); /* epoch k carries value k in every word */
        /* A random pause of 0..20 us leaves the seqlock even long enough
         * for the reader to start copies that the next write overlaps. */
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t until = gosr_time_mono_ns() + (rng >> 33) % 20000;
        while (gosr_time_mono_ns() < until)
            ;
    }
    CHECK_UINT(gosr_arena_epoch(a, 0), ==, n);
    gosr_arena_close(a);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    uint64_t snaps = 0;
    CHECK(read(p[0], &snaps, sizeof snaps) == sizeof snaps);
    CHECK_UINT(snaps, >, 0);
    fprintf(stderr, "  reader saw %llu distinct epochs of %llu, none torn\n",
            (unsigned long long)snaps, (unsigned long long)n);
    close(p[0]);
    gosr_free(path);
}

/* Child for the lockstep test: waits for each epoch in turn (sleeping or
 * spinning) and acks it; exits non-zero on a skipped or torn epoch. */
static void lockstep_reader(const char *path, bool spin, int ack, int n)
{
    gosr_arena *r = NULL;
    if (gosr_arena_open_reader(path, &r, NULL) != GOSR_OK)
        _exit(10);
    static uint64_t buf[WORDS];
    for (uint64_t want = 1; want <= (uint64_t)n; want++) {
        uint64_t e = 0;
        if (gosr_arena_wait(r, 0, want - 1, spin, 10000, &e) != GOSR_OK)
            _exit(11);
        if (gosr_arena_read(r, 0, buf, sizeof buf, &e, 10000) != GOSR_OK ||
            e != want || buf[0] != want || buf[WORDS - 1] != want)
            _exit(12);
        if (write(ack, &e, sizeof e) != sizeof e)
            _exit(13);
    }
    gosr_arena_close(r);
    _exit(0);
}

static void lockstep(bool spin)
{
    char *path = arena_path();
    unlink(path);
    gosr_arena *a = make_arena(path);
    REQUIRE(a);
    int p[2];
    REQUIRE(pipe(p) == 0);
    const int n = 500;
    pid_t pid = fork();
    if (pid == 0)
        lockstep_reader(path, spin, p[1], n);
    close(p[1]);
    int seen = 0;
    for (uint64_t k = 1; k <= (uint64_t)n; k++) {
        write_all(a, k);
        uint64_t e;
        if (read(p[0], &e, sizeof e) != sizeof e || e != k)
            break;
        seen++;
    }
    CHECK_EQ(seen, n);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(p[0]);
    gosr_arena_close(a);
    gosr_free(path);
}

GOSR_TEST(every_epoch_seen_sleeping)
{
    lockstep(false);
}

GOSR_TEST(every_epoch_seen_spinning)
{
    lockstep(true);
}

GOSR_TEST(futex_wake_across_processes)
{
    char *path = arena_path();
    gosr_arena *a = make_arena(path);
    REQUIRE(a);
    pid_t pid = fork();
    if (pid == 0) {
        gosr_arena *r = NULL;
        if (gosr_arena_open_reader(path, &r, NULL) != GOSR_OK)
            _exit(10);
        uint64_t e = 0;
        uint64_t t0 = gosr_time_mono_ns();
        int rc = gosr_arena_wait(r, 1, 0, false, 20000, &e);
        /* Woken by the write, not by the 20 s timeout. */
        bool woke = rc == GOSR_OK && e == 1 &&
                    gosr_time_mono_ns() - t0 < 15000000000ull;
        rc = gosr_arena_wait(r, 1, 1, false, 20000, &e);
        gosr_arena_close(r);
        _exit(woke && rc == GOSR_ECLOSED ? 0 : 20);
    }
    usleep(100000); /* let the child reach FUTEX_WAIT */
    gosr_arena_begin_write(a, 1);
    ((uint8_t *)gosr_arena_data(a, 1))[0] = 1;
    gosr_arena_end_write(a, 1);
    usleep(100000);
    gosr_arena_close(a); /* wakes the second wait with ECLOSED */
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    gosr_free(path);
}

GOSR_TEST(read_waits_out_open_window)
{
    char *path = arena_path();
    gosr_arena *a = make_arena(path);
    REQUIRE(a);
    gosr_arena *r = NULL;
    REQUIRE(gosr_arena_open_reader(path, &r, NULL) == GOSR_OK);
    gosr_arena_begin_write(a, 1);
    uint8_t buf[64];
    uint64_t e;
    /* A window that stays open makes a read time out, never return torn
     * data. */
    CHECK_STATUS(gosr_arena_read(r, 1, buf, sizeof buf, &e, 50), GOSR_ETIMEOUT);
    CHECK_STATUS(gosr_arena_read(a, 1, buf, sizeof buf, &e, 50), GOSR_ESTATE);
    gosr_arena_end_write(a, 1);
    CHECK_OK(gosr_arena_read(r, 1, buf, sizeof buf, &e, 50));
    CHECK_UINT(e, ==, 1);
    gosr_arena_close(r);
    gosr_arena_close(a);
    gosr_free(path);
}

GOSR_TEST(reader_notices_crashed_writer)
{
    char *path = arena_path();
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* The writer dies inside a write window, without closing. */
        gosr_arena *a = make_arena(path);
        if (!a)
            _exit(10);
        write_all(a, 1);
        gosr_arena_begin_write(a, 1);
        char c = 1;
        if (write(p[1], &c, 1) != 1)
            _exit(11);
        _exit(0);
    }
    close(p[1]);
    char c;
    REQUIRE(read(p[0], &c, 1) == 1);
    close(p[0]);
    waitpid(pid, NULL, 0);
    gosr_arena *r = NULL;
    REQUIRE(gosr_arena_open_reader(path, &r, NULL) == GOSR_OK);
    CHECK(gosr_arena_writer_closed(r));
    uint64_t e = 0;
    /* No timeout given: the reader must still return, not hang. */
    CHECK_STATUS(gosr_arena_wait(r, 0, 1, false, 0, &e), GOSR_ECLOSED);
    uint8_t buf[64];
    CHECK_STATUS(gosr_arena_read(r, 1, buf, sizeof buf, &e, 0), GOSR_ECLOSED);
    CHECK_OK(gosr_arena_read(r, 0, buf, sizeof buf, &e, 0)); /* intact */
    CHECK_UINT(e, ==, 1);
    gosr_arena_close(r);
    gosr_free(path);
}
