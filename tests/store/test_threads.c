/*
 * test_threads.c — one open store shared by threads of one process: two
 * writers put distinct random buffers (and pin some with refs) while two
 * readers read back what they have published (file_chunks, get_chunk,
 * has, read_range) and walk a tree and the refs with callbacks that call
 * back into the same handle (recursive lock). At the end every file
 * written reads back byte-exact, every ref resolves, and fsck passes.
 * Worker threads never call the harness (it is not thread-safe): they
 * count their failures and the main thread checks them.
 * Design: docs/store.md ("Threads").
 */
#include "harness.h"
#include "gosr/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#define RUN_SECONDS 1.5     /* how long the writers keep writing */
#define MIN_ROUNDS 20       /* each thread does at least this many rounds */
#define MAX_FILES 4096      /* capacity of the published list */
#define MAX_LEN (48u << 10) /* largest buffer a writer puts */
#define TREE_FILES 6        /* files in the tree walked by the readers */

static const gosr_cdc_params SMALL = {
    .min_size = 256, .avg_size = 1024, .max_size = 4096};

/* One file a writer has put and published. */
typedef struct pub_file {
    gosr_hash id;  /* its file id */
    uint64_t seed; /* fill_random seed of its bytes */
    size_t len;    /* its length */
    bool ref;      /* pinned under ref "t-<seed>" */
} pub_file;

/* What the threads share. */
typedef struct shared {
    gosr_store *st;            /* the one handle every thread uses */
    pthread_mutex_t lk;        /* guards files and nfiles */
    pub_file files[MAX_FILES]; /* published files (guarded by lk) */
    size_t nfiles;             /* entries in files (guarded by lk) */
    gosr_hash tree;            /* root of a tree put before the threads run */
    atomic_int writers_left;   /* writers still running */
    double deadline;           /* CLOCK_MONOTONIC seconds to stop writing */
} shared;

/* One worker's arguments and results (read by main after join). */
typedef struct worker {
    shared *sh;        /* shared state */
    int index;         /* writer or reader number */
    uint64_t rounds;   /* rounds done */
    uint64_t checks;   /* individual read checks that passed */
    uint64_t failures; /* checks that failed */
    char first[512];   /* first failure, for the report */
} worker;

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        p[i] = (uint8_t)((x * 0x2545F4914F6CDD1DULL) >> 56);
    }
}

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Records a check's outcome in w; keeps the first failure's text. */
static void note(worker *w, bool ok, const char *what, const gosr_error *err)
{
    if (ok) {
        w->checks++;
        return;
    }
    if (w->failures++ == 0)
        snprintf(w->first, sizeof w->first, "%s (%s %s)", what,
                 err ? err->reason : "", err ? err->detail : "");
}

/* ---- writers ------------------------------------------------------------ */

static void writer_round(worker *w, uint8_t *buf, uint64_t *rng)
{
    shared *sh = w->sh;
    gosr_error err = {0};
    pub_file f = {.seed = ((uint64_t)(w->index + 1) << 32) | w->rounds,
                  .len = 1 + next_rand(rng) % MAX_LEN};
    fill_random(buf, f.len, f.seed);
    int rc = gosr_store_put_buffer(sh->st, buf, f.len, &f.id, &err);
    note(w, rc == GOSR_OK, "put_buffer", &err);
    if (rc != GOSR_OK)
        return;
    if (w->rounds % 8 == 0) {
        char name[64];
        snprintf(name, sizeof name, "t-%llu", (unsigned long long)f.seed);
        rc = gosr_store_ref_set(sh->st, name, &f.id, &err);
        note(w, rc == GOSR_OK, "ref_set", &err);
        f.ref = rc == GOSR_OK;
    }
    pthread_mutex_lock(&sh->lk);
    if (sh->nfiles < MAX_FILES)
        sh->files[sh->nfiles++] = f;
    pthread_mutex_unlock(&sh->lk);
}

static void *writer_main(void *arg)
{
    worker *w = arg;
    uint8_t *buf = malloc(MAX_LEN);
    uint64_t rng = 0x5157 + (uint64_t)w->index * 7919;
    if (!buf) {
        note(w, false, "malloc", NULL);
        atomic_fetch_sub(&w->sh->writers_left, 1);
        return NULL;
    }
    while (w->rounds < MIN_ROUNDS ||
           (now_s() < w->sh->deadline && w->rounds < MAX_FILES / 2)) {
        writer_round(w, buf, &rng);
        w->rounds++;
    }
    free(buf);
    atomic_fetch_sub(&w->sh->writers_left, 1);
    return NULL;
}

/* ---- readers ------------------------------------------------------------ */

/* Picks a random published file; false when none yet. */
static bool pick(shared *sh, uint64_t *rng, pub_file *out)
{
    pthread_mutex_lock(&sh->lk);
    size_t n = sh->nfiles;
    if (n)
        *out = sh->files[next_rand(rng) % n];
    pthread_mutex_unlock(&sh->lk);
    return n > 0;
}

/* Checks every chunk of f and one read_range against its bytes. */
static void check_file(worker *w, const pub_file *f, uint8_t *want,
                       uint64_t *rng)
{
    gosr_store *st = w->sh->st;
    gosr_error err = {0};
    gosr_chunk_ref *c = NULL;
    size_t n = 0, off = 0;
    gosr_buf b = {0};
    note(w, gosr_store_has(st, &f->id), "has(file)", NULL);
    int rc = gosr_store_file_chunks(st, &f->id, &c, &n, &err);
    note(w, rc == GOSR_OK && n > 0, "file_chunks", &err);
    if (rc != GOSR_OK || n == 0) {
        gosr_free(c);
        return;
    }
    fill_random(want, f->len, f->seed);
    for (size_t i = 0; i < n; off += c[i].len, i++) {
        b.len = 0;
        rc = gosr_store_get_chunk(st, &c[i].id, &b, &err);
        note(w,
             rc == GOSR_OK && b.len == c[i].len && off + b.len <= f->len &&
                 memcmp(b.data, want + off, b.len) == 0,
             "get_chunk", &err);
    }
    note(w, off == f->len, "chunk lengths sum to the file length", NULL);
    size_t k = next_rand(rng) % n, koff = 0;
    for (size_t i = 0; i < k; i++)
        koff += c[i].len;
    uint64_t roff = next_rand(rng) % c[k].len;
    size_t rlen = 1 + next_rand(rng) % (c[k].len - roff);
    b.len = 0;
    rc = gosr_store_read_range(st, &c[k].id, roff, rlen, &b, &err);
    note(w,
         rc == GOSR_OK && b.len == rlen &&
             memcmp(b.data, want + koff + roff, rlen) == 0,
         "read_range", &err);
    gosr_buf_free(&b);
    gosr_free(c);
}

/* Context of the walks whose callbacks call back into the store. */
typedef struct walk {
    gosr_store *st; /* the handle being walked (already locked by us) */
    size_t seen;    /* entries visited */
    size_t present; /* of which gosr_store_has said present */
} walk;

static int tree_cb(void *ud, const gosr_tree_entry *e)
{
    walk *k = ud;
    k->seen++;
    k->present += gosr_store_has(k->st, &e->file_id);
    return 0;
}

static int ref_cb(void *ud, const char *name, const gosr_hash *root)
{
    walk *k = ud;
    (void)name;
    k->seen++;
    k->present += gosr_store_has(k->st, root);
    return 0;
}

static void reader_walks(worker *w)
{
    gosr_error err = {0};
    walk k = {.st = w->sh->st};
    int rc = gosr_store_tree_foreach(k.st, &w->sh->tree, tree_cb, &k, &err);
    note(w, rc == GOSR_OK && k.seen == TREE_FILES && k.present == TREE_FILES,
         "tree_foreach with has() in the callback", &err);
    k = (walk){.st = w->sh->st};
    rc = gosr_store_ref_foreach(k.st, ref_cb, &k, &err);
    note(w, rc == GOSR_OK && k.present == k.seen,
         "ref_foreach with has() in the callback", &err);
}

static void *reader_main(void *arg)
{
    worker *w = arg;
    uint8_t *want = malloc(MAX_LEN);
    uint64_t rng = 0xA11CE + (uint64_t)w->index * 104729;
    if (!want) {
        note(w, false, "malloc", NULL);
        return NULL;
    }
    while (w->rounds < MIN_ROUNDS || atomic_load(&w->sh->writers_left) > 0) {
        pub_file f;
        if (w->rounds % 16 == 0)
            reader_walks(w);
        if (pick(w->sh, &rng, &f))
            check_file(w, &f, want, &rng);
        w->rounds++;
    }
    free(want);
    return NULL;
}

/* ---- the test ----------------------------------------------------------- */

/* Puts a small tree of TREE_FILES files; its root goes to sh->tree. */
static int put_tree(shared *sh)
{
    char *dir = gosr_asprintf("%s/tree", gosr_test_tmpdir());
    uint8_t data[5000];
    gosr_error err = {0};
    int rc = mkdir(dir, 0755) ? GOSR_EIO : GOSR_OK;
    for (int i = 0; rc == GOSR_OK && i < TREE_FILES; i++) {
        char *p = gosr_asprintf("%s/f%d", dir, i);
        fill_random(data, sizeof data, 900 + (uint64_t)i);
        rc = gosr_file_write_atomic(p, data, sizeof data, 0644);
        gosr_free(p);
    }
    if (rc == GOSR_OK)
        rc = gosr_store_put_tree(sh->st, dir, &sh->tree, &err);
    gosr_free(dir);
    return rc;
}

/* Every published file reads back byte-exact; pinned ones by their ref. */
static void check_all(shared *sh)
{
    uint8_t *want = malloc(MAX_LEN);
    gosr_buf got = {0};
    gosr_error err = {0};
    REQUIRE(want);
    for (size_t i = 0; i < sh->nfiles; i++) {
        const pub_file *f = &sh->files[i];
        gosr_chunk_ref *c = NULL;
        size_t n = 0;
        got.len = 0;
        CHECK_OK(gosr_store_file_chunks(sh->st, &f->id, &c, &n, &err));
        for (size_t j = 0; j < n; j++)
            CHECK_OK(gosr_store_get_chunk(sh->st, &c[j].id, &got, &err));
        gosr_free(c);
        fill_random(want, f->len, f->seed);
        CHECK_UINT(got.len, ==, f->len);
        CHECK(got.len == f->len && memcmp(got.data, want, f->len) == 0);
        if (f->ref) {
            char name[64];
            gosr_hash root;
            snprintf(name, sizeof name, "t-%llu", (unsigned long long)f->seed);
            CHECK_OK(gosr_store_ref_get(sh->st, name, &root, &err));
            CHECK(memcmp(&root, &f->id, sizeof root) == 0);
        }
    }
    gosr_buf_free(&got);
    free(want);
}

static void check_worker(const worker *w, const char *role)
{
    if (w->failures)
        gosr_test_fail(__FILE__, __LINE__,
                       "%s %d: %llu failed checks, first: %s", role, w->index,
                       (unsigned long long)w->failures, w->first);
    CHECK_UINT(w->rounds, >=, MIN_ROUNDS);
    CHECK_UINT(w->checks, >, 0);
}

GOSR_TEST(two_writers_two_readers_share_one_handle)
{
    shared *sh = calloc(1, sizeof *sh);
    REQUIRE(sh);
    char *dir = gosr_asprintf("%s/s", gosr_test_tmpdir());
    gosr_store_config cfg = {.cdc = SMALL};
    gosr_error err = {0};
    CHECK_OK(gosr_store_open(dir, &cfg, &sh->st, &err));
    gosr_free(dir);
    if (!sh->st || put_tree(sh) != GOSR_OK) {
        CHECK(!"store or tree setup failed");
        goto out_close;
    }
    pthread_mutex_init(&sh->lk, NULL);
    atomic_init(&sh->writers_left, 2);
    sh->deadline = now_s() + RUN_SECONDS;
    worker w[4] = {{.sh = sh, .index = 0},
                   {.sh = sh, .index = 1},
                   {.sh = sh, .index = 0},
                   {.sh = sh, .index = 1}};
    pthread_t t[4];
    int started = 0;
    for (; started < 4; started++)
        if (pthread_create(&t[started], NULL,
                           started < 2 ? writer_main : reader_main,
                           &w[started]))
            break;
    if (started < 4) /* readers must not wait for a writer never started */
        atomic_store(&sh->writers_left, 0);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_destroy(&sh->lk);
    if (started < 4) {
        CHECK(!"pthread_create failed");
        goto out_close;
    }
    for (int i = 0; i < 4; i++)
        check_worker(&w[i], i < 2 ? "writer" : "reader");
    fprintf(stderr,
            "  writers %llu+%llu files, readers %llu+%llu rounds, "
            "%llu+%llu read checks\n",
            (unsigned long long)w[0].rounds, (unsigned long long)w[1].rounds,
            (unsigned long long)w[2].rounds, (unsigned long long)w[3].rounds,
            (unsigned long long)w[2].checks, (unsigned long long)w[3].checks);
    CHECK_UINT(sh->nfiles, ==, w[0].rounds + w[1].rounds);
    check_all(sh);
    gosr_store_fsck_report rep;
    CHECK_OK(gosr_store_fsck(sh->st, NULL, NULL, &rep, &err));
    CHECK_UINT(rep.corrupt, ==, 0);
    CHECK_UINT(rep.missing, ==, 0);
    CHECK_UINT(rep.refs_checked, >=, 2 * (MIN_ROUNDS / 8));
out_close:
    gosr_store_close(sh->st);
    free(sh);
}

GOSR_TEST(null_handle_is_invalid_argument)
{
    gosr_error err = {0};
    gosr_hash id = {0};
    gosr_buf b = {0};
    CHECK(!gosr_store_has(NULL, &id));
    CHECK_EQ(gosr_store_get_chunk(NULL, &id, &b, &err), GOSR_EINVAL);
    CHECK(strcmp(err.reason, "invalid_argument") == 0);
    CHECK_EQ(gosr_store_put_buffer(NULL, (const uint8_t *)"x", 1, &id, &err),
             GOSR_EINVAL);
    CHECK_EQ(gosr_store_gc(NULL, NULL, &err), GOSR_EINVAL);
    CHECK_EQ(gosr_store_fsck(NULL, NULL, NULL, NULL, &err), GOSR_EINVAL);
    CHECK(b.len == 0);
}
