/*
 * arena.c — the shared-memory arena: a file (or anonymous mapping) with a
 * header, a region table and page-aligned region data. Each region has a
 * seqlock (odd while a write window is open), an epoch derived from it
 * (completed writes = seq / 2) and a futex word the writer bumps and wakes
 * on every completed write, so readers in other processes sleep instead of
 * polling. Readers map the file PROT_READ and validate every size and
 * offset against the mapping length before touching region data.
 *
 * Design: docs/runtime.md ("Arena file", byte tables; "Seqlock and
 * futex").
 *
 * Sections: layout, validation, create/open/close, writer, reader.
 */
#include "gosr/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- layout ------------------------------------------------------------- */

#define ARENA_MAGIC "GOSRAREN"
#define ARENA_VERSION 1u
#define ARENA_HEADER_SIZE 4096u
#define ARENA_DESC_SIZE 128u
#define ARENA_TABLE_OFFSET 128u
#define ARENA_ENDIAN 0x01020304u
#define ARENA_STATE_LIVE 1u
#define ARENA_STATE_CLOSED 2u
#define ARENA_MAX_FILE (64ull << 30) /* readers refuse larger files */

/* Fixed part of the header (offset 0, 128 bytes). */
typedef struct arena_header {
    char magic[8];            /* "GOSRAREN" */
    uint32_t version;         /* ARENA_VERSION */
    uint32_t header_size;     /* ARENA_HEADER_SIZE */
    uint64_t total_size;      /* bytes of the whole file */
    uint32_t region_count;    /* used entries of the region table */
    uint32_t desc_size;       /* ARENA_DESC_SIZE */
    uint64_t created_wall_ns; /* creation time (informational) */
    uint32_t writer_pid;      /* pid of the creating process */
    _Atomic uint32_t state;   /* ARENA_STATE_*; written by the writer */
    uint32_t endian;          /* ARENA_ENDIAN as written by the creator */
    uint8_t reserved[76];     /* zero */
} arena_header;

/* One region-table entry (128 bytes at 128 + 128 * i). The first 64 bytes
 * are fixed at creation; the second cache line holds the live words, which
 * only the writer stores to. */
typedef struct arena_desc {
    char name[32];          /* NUL-padded region name */
    uint64_t offset;        /* data offset from the file start */
    uint64_t size;          /* data bytes */
    uint32_t kind;          /* gosr_region_kind */
    uint32_t elem_size;     /* bytes per element */
    uint32_t elem_count;    /* elements */
    uint32_t reserved0;     /* zero */
    _Atomic uint64_t seq;   /* seqlock: odd while writing; epoch = seq/2 */
    _Atomic uint32_t futex; /* bumped on each end_write and on close */
    uint8_t reserved1[52];  /* zero */
} arena_desc;

_Static_assert(sizeof(arena_header) == 128, "header is 128 bytes");
_Static_assert(sizeof(arena_desc) == ARENA_DESC_SIZE, "desc is 128 bytes");
_Static_assert(ARENA_TABLE_OFFSET + GOSR_ARENA_MAX_REGIONS * ARENA_DESC_SIZE <=
                   ARENA_HEADER_SIZE,
               "region table fits the header page");

struct gosr_arena {
    uint8_t *base;     /* mapping start */
    size_t len;        /* mapping length */
    bool writer;       /* read-write handle of the creating process */
    arena_header *hdr; /* == base */
    uint32_t nregions; /* validated region count */
    gosr_region_info info[GOSR_ARENA_MAX_REGIONS]; /* validated copies */
    bool open[GOSR_ARENA_MAX_REGIONS]; /* writer: window open per region */
};

static arena_desc *desc_at(const gosr_arena *a, int i)
{
    return (arena_desc *)(a->base + ARENA_TABLE_OFFSET +
                          (size_t)i * ARENA_DESC_SIZE);
}

static bool valid_index(const gosr_arena *a, int i)
{
    return a && i >= 0 && (uint32_t)i < a->nregions;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static long futex_call(_Atomic uint32_t *addr, int op, uint32_t val,
                       const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

/* ---- validation --------------------------------------------------------- */

static bool name_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return false;
    }
    return true;
}

static int check_header(const arena_header *h, size_t len, gosr_error *err)
{
    if (memcmp(h->magic, ARENA_MAGIC, 8) != 0)
        return gosr_error_set(err, GOSR_EFORMAT, "arena_bad_magic",
                              "not a GOSR arena file");
    if (h->endian != ARENA_ENDIAN)
        return gosr_error_set(err, GOSR_EFORMAT, "arena_bad_endian",
                              "arena written with another byte order");
    if (h->version != ARENA_VERSION)
        return gosr_error_set(err, GOSR_EUNSUPPORTED, "arena_bad_version",
                              "arena version %u, expected %u", h->version,
                              ARENA_VERSION);
    if (h->header_size != ARENA_HEADER_SIZE || h->desc_size != ARENA_DESC_SIZE)
        return gosr_error_set(err, GOSR_EFORMAT, "arena_bad_header",
                              "header size %u / desc size %u unexpected",
                              h->header_size, h->desc_size);
    if (h->total_size != len)
        return gosr_error_set(err, GOSR_EFORMAT, "arena_truncated",
                              "header says %llu bytes, file has %zu",
                              (unsigned long long)h->total_size, len);
    if (h->region_count > GOSR_ARENA_MAX_REGIONS)
        return gosr_error_set(err, GOSR_EFORMAT, "arena_bad_region_count",
                              "%u regions (max %d)", h->region_count,
                              GOSR_ARENA_MAX_REGIONS);
    return GOSR_OK;
}

/* Checks one descriptor against the mapping and copies it into info. */
static int check_desc(const arena_desc *d, uint32_t i, size_t len,
                      gosr_region_info *info, gosr_error *err)
{
    if (memchr(d->name, '\0', sizeof d->name) == NULL ||
        !name_ok(d->name, GOSR_ARENA_NAME_MAX))
        return gosr_error_set(err, GOSR_EFORMAT, "arena_bad_region_name",
                              "region %u has an invalid name", i);
    if (d->offset < ARENA_HEADER_SIZE || d->offset % 64 != 0 ||
        d->offset > len || d->size > len - d->offset ||
        d->size > GOSR_ARENA_MAX_REGION_SIZE)
        return gosr_error_set(err, GOSR_EFORMAT, "arena_region_out_of_bounds",
                              "region '%s' [%llu, +%llu) outside %zu bytes",
                              d->name, (unsigned long long)d->offset,
                              (unsigned long long)d->size, len);
    if ((uint64_t)d->elem_size * d->elem_count > d->size)
        return gosr_error_set(err, GOSR_EFORMAT, "arena_region_bad_elems",
                              "region '%s': %u x %u bytes exceed its size",
                              d->name, d->elem_count, d->elem_size);
    *info = (gosr_region_info){.index = i,
                               .kind = d->kind,
                               .elem_size = d->elem_size,
                               .elem_count = d->elem_count,
                               .offset = d->offset,
                               .size = d->size};
    memcpy(info->name, d->name, strlen(d->name) + 1);
    return GOSR_OK;
}

static int check_regions(gosr_arena *a, gosr_error *err)
{
    for (uint32_t i = 0; i < a->hdr->region_count; i++) {
        int rc = check_desc(desc_at(a, (int)i), i, a->len, &a->info[i], err);
        if (rc != GOSR_OK)
            return rc;
        for (uint32_t j = 0; j < i; j++) {
            const gosr_region_info *p = &a->info[j], *q = &a->info[i];
            if (strcmp(p->name, q->name) == 0)
                return gosr_error_set(err, GOSR_EFORMAT,
                                      "arena_duplicate_region",
                                      "region '%s' appears twice", q->name);
            if (q->offset < p->offset + p->size &&
                p->offset < q->offset + q->size)
                return gosr_error_set(
                    err, GOSR_EFORMAT, "arena_regions_overlap",
                    "regions '%s' and '%s' overlap", p->name, q->name);
        }
    }
    a->nregions = a->hdr->region_count;
    return GOSR_OK;
}

/* ---- create / open / close ---------------------------------------------- */

static int plan_layout(const gosr_region_spec *specs, size_t n,
                       uint64_t *offsets, uint64_t *sizes, uint64_t *total,
                       gosr_error *err)
{
    if (n == 0 || n > GOSR_ARENA_MAX_REGIONS)
        return gosr_error_set(err, GOSR_EINVAL, "arena_bad_region_count",
                              "%zu regions (1..%d)", n, GOSR_ARENA_MAX_REGIONS);
    uint64_t off = ARENA_HEADER_SIZE;
    for (size_t i = 0; i < n; i++) {
        uint64_t sz = specs[i].size
                          ? specs[i].size
                          : (uint64_t)specs[i].elem_size * specs[i].elem_count;
        if (!specs[i].name || !name_ok(specs[i].name, GOSR_ARENA_NAME_MAX))
            return gosr_error_set(err, GOSR_EINVAL, "arena_bad_region_name",
                                  "region %zu: bad name", i);
        if (sz == 0 || sz > GOSR_ARENA_MAX_REGION_SIZE ||
            (uint64_t)specs[i].elem_size * specs[i].elem_count > sz)
            return gosr_error_set(err, GOSR_EINVAL, "arena_bad_region_size",
                                  "region '%s': bad size", specs[i].name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(specs[j].name, specs[i].name) == 0)
                return gosr_error_set(err, GOSR_EINVAL,
                                      "arena_duplicate_region",
                                      "region '%s' twice", specs[i].name);
        offsets[i] = off;
        sizes[i] = sz;
        off += (sz + 4095) & ~(uint64_t)4095;
    }
    *total = off;
    return GOSR_OK;
}

static void init_header(uint8_t *base, const gosr_region_spec *specs, size_t n,
                        const uint64_t *offsets, const uint64_t *sizes,
                        uint64_t total)
{
    arena_header *h = (arena_header *)base;
    memcpy(h->magic, ARENA_MAGIC, 8);
    h->version = ARENA_VERSION;
    h->header_size = ARENA_HEADER_SIZE;
    h->total_size = total;
    h->region_count = (uint32_t)n;
    h->desc_size = ARENA_DESC_SIZE;
    h->created_wall_ns = gosr_time_wall_ns();
    h->writer_pid = (uint32_t)getpid();
    h->endian = ARENA_ENDIAN;
    atomic_store(&h->state, ARENA_STATE_LIVE);
    for (size_t i = 0; i < n; i++) {
        arena_desc *d =
            (arena_desc *)(base + ARENA_TABLE_OFFSET + i * ARENA_DESC_SIZE);
        memcpy(d->name, specs[i].name, strlen(specs[i].name));
        d->offset = offsets[i];
        d->size = sizes[i];
        d->kind = specs[i].kind;
        d->elem_size = specs[i].elem_size;
        d->elem_count = specs[i].elem_count;
    }
}

/* Maps `total` bytes: a new file under a temporary name (renamed by the
 * caller) or an anonymous shared mapping. */
static int map_new(const char *path, char *tmp, size_t tmpcap, uint64_t total,
                   uint8_t **base, gosr_error *err)
{
    if (!path) {
        void *m = mmap(NULL, total, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return gosr_error_set(err, gosr_status_from_errno(errno),
                                  "arena_map_failed", "mmap: %s",
                                  strerror(errno));
        *base = m;
        return GOSR_OK;
    }
    if (snprintf(tmp, tmpcap, "%s.tmp.%d", path, (int)getpid()) >= (int)tmpcap)
        return gosr_error_set(err, GOSR_EINVAL, "path_too_long", "%s", path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return gosr_error_set(err, gosr_status_from_errno(errno),
                              "arena_create_failed", "%s: %s", tmp,
                              strerror(errno));
    int rc = GOSR_OK;
    if (ftruncate(fd, (off_t)total) != 0) {
        rc = gosr_error_set(err, gosr_status_from_errno(errno),
                            "arena_create_failed", "ftruncate: %s",
                            strerror(errno));
    } else {
        void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            rc =
                gosr_error_set(err, gosr_status_from_errno(errno),
                               "arena_map_failed", "mmap: %s", strerror(errno));
        else
            *base = m;
    }
    close(fd);
    if (rc != GOSR_OK)
        unlink(tmp);
    return rc;
}

int gosr_arena_create(const char *path, const gosr_region_spec *specs,
                      size_t nspecs, gosr_arena **out, gosr_error *err)
{
    uint64_t offsets[GOSR_ARENA_MAX_REGIONS], sizes[GOSR_ARENA_MAX_REGIONS];
    uint64_t total = 0;
    char tmp[PATH_MAX];
    int rc = plan_layout(specs, nspecs, offsets, sizes, &total, err);
    if (rc != GOSR_OK)
        return rc;
    gosr_arena *a = gosr_calloc(1, sizeof *a);
    if (!a)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "arena");
    if ((rc = map_new(path, tmp, sizeof tmp, total, &a->base, err)) != GOSR_OK)
        goto out_free;
    a->len = total;
    a->writer = true;
    a->hdr = (arena_header *)a->base;
    init_header(a->base, specs, nspecs, offsets, sizes, total);
    if ((rc = check_regions(a, err)) != GOSR_OK)
        goto out_unmap;
    if (path && rename(tmp, path) != 0) {
        rc = gosr_error_set(err, gosr_status_from_errno(errno),
                            "arena_create_failed", "rename to %s: %s", path,
                            strerror(errno));
        unlink(tmp);
        goto out_unmap;
    }
    *out = a;
    return GOSR_OK;
out_unmap:
    munmap(a->base, a->len);
out_free:
    gosr_free(a);
    return rc;
}

static int map_reader(const char *path, uint8_t **base, size_t *len,
                      gosr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gosr_error_set(err, gosr_status_from_errno(errno),
                              "arena_open_failed", "%s: %s", path,
                              strerror(errno));
    struct stat st;
    int rc = GOSR_OK;
    if (fstat(fd, &st) != 0) {
        rc = gosr_error_set(err, GOSR_EIO, "arena_open_failed", "fstat: %s",
                            strerror(errno));
    } else if (!S_ISREG(st.st_mode) || st.st_size < (off_t)ARENA_HEADER_SIZE ||
               (uint64_t)st.st_size > ARENA_MAX_FILE) {
        rc = gosr_error_set(err, GOSR_EFORMAT, "arena_truncated",
                            "%s: %lld bytes is not a valid arena size", path,
                            (long long)st.st_size);
    } else {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            rc =
                gosr_error_set(err, gosr_status_from_errno(errno),
                               "arena_map_failed", "mmap: %s", strerror(errno));
        else {
            *base = m;
            *len = (size_t)st.st_size;
        }
    }
    close(fd);
    return rc;
}

int gosr_arena_open_reader(const char *path, gosr_arena **out, gosr_error *err)
{
    gosr_arena *a = gosr_calloc(1, sizeof *a);
    if (!a)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "arena");
    int rc = map_reader(path, &a->base, &a->len, err);
    if (rc != GOSR_OK)
        goto out_free;
    a->hdr = (arena_header *)a->base;
    if ((rc = check_header(a->hdr, a->len, err)) != GOSR_OK ||
        (rc = check_regions(a, err)) != GOSR_OK)
        goto out_unmap;
    *out = a;
    return GOSR_OK;
out_unmap:
    munmap(a->base, a->len);
out_free:
    gosr_free(a);
    return rc;
}

void gosr_arena_close(gosr_arena *a)
{
    if (!a)
        return;
    if (a->writer) {
        atomic_store_explicit(&a->hdr->state, ARENA_STATE_CLOSED,
                              memory_order_release);
        for (uint32_t i = 0; i < a->nregions; i++) {
            arena_desc *d = desc_at(a, (int)i);
            atomic_fetch_add_explicit(&d->futex, 1, memory_order_release);
            futex_call(&d->futex, FUTEX_WAKE, INT_MAX, NULL);
        }
    }
    munmap(a->base, a->len);
    gosr_free(a);
}

/* ---- queries ------------------------------------------------------------ */

int gosr_arena_find(const gosr_arena *a, const char *name)
{
    for (uint32_t i = 0; a && name && i < a->nregions; i++)
        if (strcmp(a->info[i].name, name) == 0)
            return (int)i;
    return GOSR_ENOENT;
}

size_t gosr_arena_region_count(const gosr_arena *a)
{
    return a ? a->nregions : 0;
}

int gosr_arena_region_info(const gosr_arena *a, int region,
                           gosr_region_info *out)
{
    if (!valid_index(a, region))
        return GOSR_EINVAL;
    *out = a->info[region];
    return GOSR_OK;
}

void *gosr_arena_data(gosr_arena *a, int region)
{
    if (!valid_index(a, region) || !a->writer)
        return NULL;
    return a->base + a->info[region].offset;
}

uint64_t gosr_arena_epoch(const gosr_arena *a, int region)
{
    if (!valid_index(a, region))
        return 0;
    return atomic_load_explicit(&desc_at(a, region)->seq,
                                memory_order_acquire) /
           2;
}

/* The writer closed the arena, or (seen from another process) the
 * process that created it no longer exists: it crashed or was killed
 * without closing. The pid check assumes a shared pid namespace; a reused
 * pid only delays detection. */
static bool writer_gone(const gosr_arena *a)
{
    if (atomic_load_explicit(&a->hdr->state, memory_order_acquire) !=
        ARENA_STATE_LIVE)
        return true;
    if (a->writer || a->hdr->writer_pid == 0)
        return false;
    return kill((pid_t)a->hdr->writer_pid, 0) != 0 && errno == ESRCH;
}

bool gosr_arena_writer_closed(const gosr_arena *a)
{
    return a && writer_gone(a);
}

bool gosr_arena_writing(const gosr_arena *a, int region)
{
    return valid_index(a, region) && a->open[region];
}

/* ---- writer ------------------------------------------------------------- */

int gosr_arena_begin_write(gosr_arena *a, int region)
{
    if (!valid_index(a, region) || !a->writer)
        return GOSR_EINVAL;
    if (a->open[region])
        return GOSR_ESTATE;
    arena_desc *d = desc_at(a, region);
    uint64_t s = atomic_load_explicit(&d->seq, memory_order_relaxed);
    atomic_store_explicit(&d->seq, s + 1, memory_order_relaxed);
    /* Orders the odd seq before every data store of the window (Boehm's
     * seqlock writer; pairs with the reader's acquire fence). */
    atomic_thread_fence(memory_order_release);
    a->open[region] = true;
    return GOSR_OK;
}

int gosr_arena_end_write(gosr_arena *a, int region)
{
    if (!valid_index(a, region) || !a->writer)
        return GOSR_EINVAL;
    if (!a->open[region])
        return GOSR_ESTATE;
    arena_desc *d = desc_at(a, region);
    uint64_t s = atomic_load_explicit(&d->seq, memory_order_relaxed);
    atomic_store_explicit(&d->seq, s + 1, memory_order_release);
    atomic_fetch_add_explicit(&d->futex, 1, memory_order_release);
    a->open[region] = false;
    /* Readers map read-only and cannot announce themselves, so the writer
     * always wakes (one syscall per region per epoch). */
    futex_call(&d->futex, FUTEX_WAKE, INT_MAX, NULL);
    return GOSR_OK;
}

/* ---- reader ------------------------------------------------------------- */

/* Remaining time until deadline (0 = none) as a timespec; false when the
 * deadline has passed. */
static bool remaining(uint64_t deadline, struct timespec *ts)
{
    if (deadline == 0)
        return true;
    uint64_t now = gosr_time_mono_ns();
    if (now >= deadline)
        return false;
    uint64_t left = deadline - now;
    ts->tv_sec = (time_t)(left / 1000000000u);
    ts->tv_nsec = (long)(left % 1000000000u);
    return true;
}

static uint64_t deadline_of(uint32_t timeout_ms)
{
    return timeout_ms ? gosr_time_mono_ns() + (uint64_t)timeout_ms * 1000000u
                      : 0;
}

/* Sleeps until the futex word moves away from `seen` or the deadline. */
/* Sleeps until the futex word moves away from `seen`, the deadline, or at
 * most one second (so a reader notices a writer that died). */
static int sleep_on(arena_desc *d, uint32_t seen, uint64_t deadline)
{
    struct timespec ts = {1, 0};
    if (!remaining(deadline, &ts))
        return GOSR_ETIMEOUT;
    if (ts.tv_sec >= 1)
        ts = (struct timespec){1, 0};
    futex_call(&d->futex, FUTEX_WAIT, seen, &ts);
    return GOSR_OK;
}

int gosr_arena_read(const gosr_arena *a, int region, void *dst, size_t n,
                    uint64_t *epoch, uint32_t timeout_ms)
{
    if (!valid_index(a, region) || n > a->info[region].size || !dst)
        return GOSR_EINVAL;
    arena_desc *d = desc_at(a, region);
    const uint8_t *src = a->base + a->info[region].offset;
    uint64_t deadline = deadline_of(timeout_ms);
    for (unsigned tries = 0;; tries++) {
        uint32_t f = atomic_load_explicit(&d->futex, memory_order_acquire);
        uint64_t s0 = atomic_load_explicit(&d->seq, memory_order_acquire);
        if (s0 & 1) {
            if (a->writer && a->open[region])
                return GOSR_ESTATE; /* our own window is open */
            int rc = tries < 64 ? GOSR_OK : sleep_on(d, f, deadline);
            if (rc != GOSR_OK)
                return rc;
            if (tries >= 64 && writer_gone(a) &&
                atomic_load_explicit(&d->seq, memory_order_acquire) == s0)
                return GOSR_ECLOSED; /* died inside a write window */
            continue;
        }
        memcpy(dst, src, n);
        atomic_thread_fence(memory_order_acquire);
        uint64_t s1 = atomic_load_explicit(&d->seq, memory_order_relaxed);
        if (s0 == s1) {
            if (epoch)
                *epoch = s0 / 2;
            return GOSR_OK;
        }
        if (deadline && gosr_time_mono_ns() >= deadline)
            return GOSR_ETIMEOUT;
    }
}

int gosr_arena_wait(const gosr_arena *a, int region, uint64_t last, bool spin,
                    uint32_t timeout_ms, uint64_t *now)
{
    if (!valid_index(a, region))
        return GOSR_EINVAL;
    arena_desc *d = desc_at(a, region);
    uint64_t deadline = deadline_of(timeout_ms);
    for (unsigned polls = 0;; polls++) {
        uint32_t f = atomic_load_explicit(&d->futex, memory_order_acquire);
        uint64_t e = atomic_load_explicit(&d->seq, memory_order_acquire) / 2;
        if (e > last) {
            if (now)
                *now = e;
            return GOSR_OK;
        }
        if (atomic_load_explicit(&a->hdr->state, memory_order_relaxed) !=
            ARENA_STATE_LIVE)
            return GOSR_ECLOSED;
        if (spin) {
            if ((polls & 1048575) == 0 && writer_gone(a))
                return GOSR_ECLOSED;
            if ((polls & 1023) == 0 && deadline &&
                gosr_time_mono_ns() >= deadline)
                return GOSR_ETIMEOUT;
            cpu_relax();
            continue;
        }
        int rc = sleep_on(d, f, deadline);
        if (rc != GOSR_OK)
            return rc;
        if (writer_gone(a) &&
            atomic_load_explicit(&d->seq, memory_order_acquire) / 2 <= last)
            return GOSR_ECLOSED;
    }
}
