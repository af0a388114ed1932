/*
 * test_store.c — the chunk store: chunk put/get/has with dedup, hash
 * verification on read (corruption -> chunk_hash_mismatch), files and
 * trees (ids equal the Merkle ids; get reproduces bytes), codecs,
 * convergent encryption (dedup, no plaintext on disk, locators hide ids,
 * secret mode), refs and GC, fsck quarantine, recovery of pack tails and
 * unknown packs, the writer lock, and injected ENOSPC/EIO leaving the
 * store all-old. Design: docs/store.md.
 */
#include "harness.h"
#include "gosr/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const gosr_cdc_params SMALL = {
    .min_size = 256, .avg_size = 1024, .max_size = 4096};

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        p[i] = (uint8_t)((x * 0x2545F4914F6CDD1DULL) >> 56);
    }
}

static char *path_in(const char *name)
{
    return gosr_asprintf("%s/%s", gosr_test_tmpdir(), name);
}

static gosr_store *open_store(const char *name, const gosr_store_config *cfg)
{
    char *dir = path_in(name);
    gosr_store *st = NULL;
    gosr_error err;
    gosr_store_config c = cfg ? *cfg : (gosr_store_config){.cdc = SMALL};
    int rc = gosr_store_open(dir, &c, &st, &err);
    if (rc != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "open %s: %s %s", dir, err.reason,
                       err.detail);
    gosr_free(dir);
    return st;
}

GOSR_TEST(chunk_round_trip_and_dedup)
{
    gosr_store *st = open_store("s", NULL);
    REQUIRE(st);
    uint8_t data[3000];
    fill_random(data, sizeof data, 1);
    gosr_hash id, id2, want;
    gosr_error err;
    CHECK_OK(gosr_store_put_chunk(st, data, sizeof data, &id, &err));
    gosr_blake3_hash(data, sizeof data, &want);
    CHECK(gosr_hash_equal(&id, &want));
    CHECK(gosr_store_has(st, &id));
    CHECK_OK(gosr_store_put_chunk(st, data, sizeof data, &id2, &err));
    CHECK(gosr_hash_equal(&id, &id2));
    gosr_buf out = {0};
    CHECK_OK(gosr_store_get_chunk(st, &id, &out, &err));
    CHECK_UINT(out.len, ==, sizeof data);
    CHECK_MEM(out.data, data, sizeof data);
    gosr_buf_free(&out);
    CHECK_OK(gosr_store_read_range(st, &id, 100, 50, &out, &err));
    CHECK_MEM(out.data, data + 100, 50);
    CHECK_STATUS(gosr_store_read_range(st, &id, 2990, 50, &out, &err),
                 GOSR_EINVAL);
    gosr_buf_free(&out);
    gosr_store_stats s;
    CHECK_OK(gosr_store_stat(st, &s, &err));
    CHECK_UINT(s.chunk_count, ==, 1);
    CHECK_UINT(s.unique_bytes, ==, sizeof data);
    gosr_hash missing = {{1}};
    CHECK(!gosr_store_has(st, &missing));
    CHECK_STATUS(gosr_store_get_chunk(st, &missing, &out, &err), GOSR_ENOENT);
    CHECK_STR(err.reason, "object_not_found");
    /* Empty chunks are legal objects too. */
    CHECK_OK(gosr_store_put_chunk(st, NULL, 0, &id, &err));
    CHECK_OK(gosr_store_get_chunk(st, &id, &out, &err));
    CHECK_UINT(out.len, ==, 0);
    gosr_buf_free(&out);
    gosr_store_close(st);
}

/* Flips one byte of the only pack at `off` from its end. */
static void corrupt_pack(const char *name, long from_end)
{
    char *p =
        gosr_asprintf("%s/%s/packs/00000001.pack", gosr_test_tmpdir(), name);
    int fd = open(p, O_RDWR);
    REQUIRE(fd >= 0);
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t b;
    REQUIRE(pread(fd, &b, 1, end - from_end) == 1);
    b ^= 0x01;
    REQUIRE(pwrite(fd, &b, 1, end - from_end) == 1);
    close(fd);
    gosr_free(p);
}

GOSR_TEST(corruption_detected_and_quarantined)
{
    gosr_store_config cfg = {.cdc = SMALL, .codec = "raw"};
    gosr_store *st = open_store("c", &cfg);
    REQUIRE(st);
    uint8_t a[2000], b[2000];
    fill_random(a, sizeof a, 2);
    fill_random(b, sizeof b, 4);
    gosr_hash ia, ib;
    gosr_error err;
    REQUIRE(gosr_store_put_chunk(st, a, sizeof a, &ia, &err) == GOSR_OK);
    REQUIRE(gosr_store_put_chunk(st, b, sizeof b, &ib, &err) == GOSR_OK);
    gosr_store_close(st);
    corrupt_pack("c", 10); /* inside b's payload */
    st = open_store("c", &cfg);
    REQUIRE(st);
    gosr_buf out = {0};
    CHECK_STATUS(gosr_store_get_chunk(st, &ib, &out, &err), GOSR_ECORRUPT);
    CHECK_STR(err.reason, "chunk_hash_mismatch");
    CHECK_UINT(out.len, ==, 0);
    CHECK_OK(gosr_store_get_chunk(st, &ia, &out, &err));
    gosr_store_fsck_report rep;
    CHECK_STATUS(gosr_store_fsck(st, NULL, NULL, &rep, &err), GOSR_ECORRUPT);
    CHECK_UINT(rep.checked, ==, 2);
    CHECK_UINT(rep.corrupt, ==, 1);
    CHECK(!gosr_store_has(st, &ib));
    char hex[65];
    gosr_hash_hex(&ib, hex);
    char *q = gosr_asprintf("%s/c/quarantine/%s.rec", gosr_test_tmpdir(), hex);
    struct stat sb;
    CHECK(stat(q, &sb) == 0 && sb.st_size == 88 + 2000);
    gosr_free(q);
    /* The chunk can be put again; then everything is clean. */
    CHECK_OK(gosr_store_put_chunk(st, b, sizeof b, &ib, &err));
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, &rep, &err));
    gosr_buf_free(&out);
    gosr_store_close(st);
}

GOSR_TEST(header_corruption)
{
    gosr_store_config cfg = {.cdc = SMALL};
    gosr_store *st = open_store("h", &cfg);
    REQUIRE(st);
    uint8_t a[500];
    fill_random(a, sizeof a, 9);
    gosr_hash ia;
    gosr_error err;
    REQUIRE(gosr_store_put_chunk(st, a, sizeof a, &ia, &err) == GOSR_OK);
    gosr_store_close(st);
    corrupt_pack("h", 500 + 88 - 9); /* plain_len field */
    st = open_store("h", &cfg);
    gosr_buf out = {0};
    CHECK_STATUS(gosr_store_get_chunk(st, &ia, &out, &err), GOSR_ECORRUPT);
    CHECK_STR(err.reason, "record_header_bad");
    gosr_store_close(st);
}

static uint8_t *make_file(size_t n, uint64_t seed)
{
    uint8_t *p = malloc(n);
    fill_random(p, n, seed);
    for (size_t i = 0; i < n / 3; i++) /* a compressible third */
        p[i] = (uint8_t)("gosr store text "[i % 16]);
    return p;
}

GOSR_TEST(files_match_merkle_ids)
{
    gosr_store *st = open_store("f", NULL);
    REQUIRE(st);
    size_t n = 50000;
    uint8_t *data = make_file(n, 5);
    gosr_hash fid, fid2, want;
    gosr_error err;
    CHECK_OK(gosr_store_put_buffer(st, data, n, &fid, &err));
    gosr_chunk_ref *c = NULL;
    size_t k = 0;
    CHECK_OK(gosr_store_file_chunks(st, &fid, &c, &k, &err));
    CHECK_UINT(k, >, 5);
    gosr_merkle_file_id(c, k, &want);
    CHECK(gosr_hash_equal(&fid, &want));
    size_t sum = 0;
    for (size_t i = 0; i < k; i++)
        sum += c[i].len;
    CHECK_UINT(sum, ==, n);
    gosr_free(c);
    /* Same bytes through a descriptor give the same id. */
    char *src = path_in("src.bin"), *dst = path_in("dst.bin");
    REQUIRE(gosr_file_write_atomic(src, data, n, 0644) == GOSR_OK);
    uint64_t size = 0;
    CHECK_OK(gosr_store_put_file(st, src, &fid2, &size, &err));
    CHECK(gosr_hash_equal(&fid, &fid2));
    CHECK_UINT(size, ==, n);
    CHECK_OK(gosr_store_get_file(st, &fid, dst, 0644, &err));
    uint8_t *back = NULL;
    size_t blen = 0;
    CHECK_OK(gosr_file_read_all(dst, 1 << 20, &back, &blen));
    CHECK_UINT(blen, ==, n);
    CHECK(back && memcmp(back, data, n) == 0);
    gosr_store_stats s;
    CHECK_OK(gosr_store_stat(st, &s, &err));
    CHECK_UINT(s.logical_bytes, ==, 2 * n);
    CHECK(s.dedup_ratio > 1.9);
    CHECK(s.compression_ratio > 1.1);
    /* A chunk id is not a file: get_file refuses. */
    gosr_chunk_ref one;
    REQUIRE(gosr_store_file_chunks(st, &fid, &c, &k, &err) == GOSR_OK);
    one = c[0];
    gosr_free(c);
    CHECK_STATUS(gosr_store_get_file(st, &one.id, dst, 0644, &err),
                 GOSR_EINVAL);
    CHECK_STR(err.reason, "object_wrong_kind");
    gosr_free(back);
    gosr_free(src);
    gosr_free(dst);
    free(data);
    gosr_store_close(st);
}

/* Builds a small tree on disk: nested dirs, an empty file, an exec. */
static void build_tree(const char *root)
{
    char *d = gosr_asprintf("%s/sub/deeper", root);
    REQUIRE(gosr_mkdir_p(d, 0755) == GOSR_OK);
    gosr_free(d);
    static const char *names[] = {"a.txt", "sub/b.bin", "sub/deeper/c", "empty",
                                  "run.sh"};
    for (int i = 0; i < 5; i++) {
        char *p = gosr_asprintf("%s/%s", root, names[i]);
        size_t n = i == 3 ? 0 : 1000 + 7000 * (size_t)i;
        uint8_t *data = make_file(n ? n : 1, 40 + (uint64_t)i);
        REQUIRE(gosr_file_write_atomic(p, data, n, i == 4 ? 0755 : 0644) ==
                GOSR_OK);
        free(data);
        gosr_free(p);
    }
}

typedef struct collect {
    gosr_tree_entry e[16]; /* copies (paths owned) */
    size_t n;              /* entries seen */
} collect;

static int collect_fn(void *ud, const gosr_tree_entry *e)
{
    collect *c = ud;
    if (c->n < 16) {
        c->e[c->n] = *e;
        c->e[c->n].path = gosr_strdup(e->path);
    }
    c->n++;
    return 0;
}

GOSR_TEST(trees_round_trip)
{
    gosr_store *st = open_store("t", NULL);
    REQUIRE(st);
    char *src = path_in("tree"), *dst = path_in("out");
    build_tree(src);
    gosr_hash root, want;
    gosr_error err;
    CHECK_OK(gosr_store_put_tree(st, src, &root, &err));
    collect c = {0};
    CHECK_OK(gosr_store_tree_foreach(st, &root, collect_fn, &c, &err));
    CHECK_UINT(c.n, ==, 5);
    CHECK_STR(c.e[0].path, "a.txt");
    CHECK_STR(c.e[2].path, "run.sh");
    CHECK_UINT(c.e[2].mode, ==, 0755);
    CHECK_STR(c.e[4].path, "sub/deeper/c");
    CHECK_OK(gosr_merkle_tree_id(c.e, c.n < 16 ? c.n : 16, &want));
    CHECK(gosr_hash_equal(&root, &want));
    for (size_t i = 0; i < c.n && i < 16; i++)
        gosr_free((char *)c.e[i].path);
    CHECK_OK(gosr_store_get_tree(st, &root, dst, &err));
    CHECK_EQ(gosr_test_system("diff -r '%s' '%s'", src, dst), 0);
    struct stat sb;
    char *run = gosr_asprintf("%s/run.sh", dst);
    CHECK(stat(run, &sb) == 0 && (sb.st_mode & 0100));
    gosr_free(run);
    /* Putting the same tree again gives the same root. */
    gosr_hash again;
    CHECK_OK(gosr_store_put_tree(st, src, &again, &err));
    CHECK(gosr_hash_equal(&root, &again));
    /* Special files are refused and nothing is committed. */
    char *fifo = gosr_asprintf("%s/pipe", src);
    REQUIRE(mkfifo(fifo, 0644) == 0);
    CHECK_STATUS(gosr_store_put_tree(st, src, &again, &err), GOSR_EUNSUPPORTED);
    CHECK_STR(err.reason, "tree_special_file");
    gosr_free(fifo);
    gosr_free(src);
    gosr_free(dst);
    gosr_store_close(st);
}

GOSR_TEST(malformed_manifests_rejected)
{
    gosr_store *st = open_store("m", NULL);
    REQUIRE(st);
    gosr_hash id;
    gosr_error err;
    static const uint8_t bad_file[] = "gosr-file-v1\x05\0\0\0\0\0\0\0xx";
    CHECK_STATUS(gosr_store_put_object(st, GOSR_OBJ_FILE, bad_file,
                                       sizeof bad_file - 1, &id, &err),
                 GOSR_EFORMAT);
    uint8_t tree[12 + 8 + 2 + 5 + 44] = "gosr-tree-v1\x01";
    tree[20] = 5;
    memcpy(tree + 22, "../ab", 5);
    CHECK_STATUS(
        gosr_store_put_object(st, GOSR_OBJ_TREE, tree, sizeof tree, &id, &err),
        GOSR_EFORMAT);
    CHECK_STR(err.reason, "tree_node_bad_path");
    memcpy(tree + 22, "ok/ab", 5);
    tree[27] = 0xa4; /* mode 0644 */
    tree[28] = 0x01;
    CHECK_OK(
        gosr_store_put_object(st, GOSR_OBJ_TREE, tree, sizeof tree, &id, &err));
    gosr_store_close(st);
}

GOSR_TEST(codecs_and_persistence)
{
    static const char *codecs[] = {"zstd", "brotli", "raw"};
    uint8_t *data = make_file(40000, 77);
    for (size_t i = 0; i < 40000; i++) /* 3 bits of entropy per byte */
        data[i] = (uint8_t)('a' + (data[i] & 7));
    for (int i = 0; i < 3; i++) {
        gosr_store_config cfg = {.cdc = SMALL, .codec = codecs[i]};
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        gosr_store *st = open_store(name, &cfg);
        REQUIRE(st);
        gosr_hash fid;
        gosr_error err;
        CHECK_OK(gosr_store_put_buffer(st, data, 40000, &fid, &err));
        CHECK_OK(gosr_store_ref_set(st, "v1", &fid, &err));
        gosr_store_close(st);
        st = open_store(name, &cfg);
        gosr_hash got;
        CHECK_OK(gosr_store_ref_get(st, "v1", &got, &err));
        CHECK(gosr_hash_equal(&got, &fid));
        gosr_store_stats s;
        CHECK_OK(gosr_store_stat(st, &s, &err));
        if (i < 2)
            CHECK(s.compression_ratio > 1.2);
        else
            CHECK(s.compression_ratio > 0.99 && s.compression_ratio < 1.01);
        CHECK_OK(gosr_store_fsck(st, NULL, NULL, NULL, &err));
        gosr_store_close(st);
    }
    gosr_store_config bad = {.codec = "lzma"};
    gosr_store *st = NULL;
    gosr_error err;
    char *dir = path_in("bad");
    CHECK_STATUS(gosr_store_open(dir, &bad, &st, &err), GOSR_EINVAL);
    CHECK_STR(err.reason, "codec_unknown");
    gosr_free(dir);
    free(data);
}

/* True when `needle` occurs in any file under dir (grep -r). */
static bool dir_contains(const char *dir, const char *needle)
{
    return gosr_test_system("grep -rqF '%s' '%s'", needle, dir) == 0;
}

GOSR_TEST(convergent_encryption)
{
    gosr_store_config cfg = {.cdc = SMALL, .encrypt = true};
    gosr_store *st = open_store("e", &cfg);
    REQUIRE(st);
    uint8_t data[20000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t) "PLAINTEXT-MARKER-"[i % 17];
    gosr_hash f1, f2;
    gosr_error err;
    CHECK_OK(gosr_store_put_buffer(st, data, sizeof data, &f1, &err));
    gosr_store_stats s1, s2;
    CHECK_OK(gosr_store_stat(st, &s1, &err));
    CHECK_OK(gosr_store_put_buffer(st, data, sizeof data, &f2, &err));
    CHECK_OK(gosr_store_stat(st, &s2, &err));
    CHECK(gosr_hash_equal(&f1, &f2));
    CHECK_UINT(s2.stored_bytes, ==, s1.stored_bytes); /* dedup */
    CHECK(s2.encrypted);
    CHECK_OK(gosr_store_ref_set(st, "r", &f1, &err));
    gosr_store_close(st);
    char *dir = path_in("e");
    CHECK(!dir_contains(dir, "PLAINTEXT-MARKER"));
    /* The index holds locators, not ids: the file id's bytes are absent
     * from the objects table. */
    char hex[65];
    gosr_hash_hex(&f1, hex);
    CHECK_EQ(
        gosr_test_system("sqlite3 '%s/index.db' \"SELECT count(*) FROM "
                         "objects WHERE hex(loc)=upper('%s')\" | grep -qx 0",
                         dir, hex),
        0);
    /* Reopened without asking for encryption: still encrypted. */
    gosr_store_config plain = {.cdc = SMALL};
    st = open_store("e", &plain);
    REQUIRE(st);
    char *out = path_in("e.out");
    CHECK_OK(gosr_store_get_file(st, &f1, out, 0644, &err));
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, NULL, &err));
    CHECK_OK(gosr_store_gc(st, NULL, &err));
    CHECK(gosr_store_has(st, &f1));
    gosr_store_close(st);
    uint8_t *back = NULL;
    size_t blen;
    CHECK_OK(gosr_file_read_all(out, 1 << 20, &back, &blen));
    CHECK(blen == sizeof data && memcmp(back, data, blen) == 0);
    gosr_free(back);
    /* The secret is 0600; a group-readable secret is refused. */
    char *sec = gosr_asprintf("%s/secret", dir);
    struct stat sb;
    CHECK(stat(sec, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    REQUIRE(chmod(sec, 0640) == 0);
    gosr_store *st2 = NULL;
    CHECK_STATUS(gosr_store_open(dir, &plain, &st2, &err), GOSR_EDENIED);
    CHECK_STR(err.reason, "store_secret_mode");
    gosr_free(sec);
    gosr_free(out);
    gosr_free(dir);
}

GOSR_TEST(refs_and_gc)
{
    gosr_store *st = open_store("g", NULL);
    REQUIRE(st);
    uint8_t *a = make_file(30000, 100), *b = make_file(30000, 200);
    gosr_hash fa, fb;
    gosr_error err;
    REQUIRE(gosr_store_put_buffer(st, a, 30000, &fa, &err) == GOSR_OK);
    REQUIRE(gosr_store_put_buffer(st, b, 30000, &fb, &err) == GOSR_OK);
    CHECK_OK(gosr_store_ref_set(st, "keep", &fa, &err));
    gosr_hash none = {{7}};
    CHECK_STATUS(gosr_store_ref_set(st, "x", &none, &err), GOSR_ENOENT);
    CHECK_STATUS(gosr_store_ref_set(st, "bad name", &fa, &err), GOSR_EINVAL);
    gosr_store_stats before, after;
    CHECK_OK(gosr_store_stat(st, &before, &err));
    gosr_store_gc_report rep;
    CHECK_OK(gosr_store_gc(st, &rep, &err));
    CHECK(!gosr_store_has(st, &fb));
    CHECK(gosr_store_has(st, &fa));
    CHECK_UINT(rep.removed_objects, >, 5);
    CHECK_UINT(rep.packs_rewritten, ==, 1);
    CHECK_OK(gosr_store_stat(st, &after, &err));
    CHECK_UINT(after.pack_bytes, <, before.pack_bytes);
    CHECK_UINT(rep.bytes_freed, ==, before.pack_bytes - after.pack_bytes);
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, NULL, &err));
    gosr_buf out = {0};
    gosr_chunk_ref *c = NULL;
    size_t k = 0;
    CHECK_OK(gosr_store_file_chunks(st, &fa, &c, &k, &err));
    for (size_t i = 0; i < k; i++)
        CHECK_OK(gosr_store_get_chunk(st, &c[i].id, &out, &err));
    CHECK_UINT(out.len, ==, 30000);
    CHECK(memcmp(out.data, a, 30000) == 0);
    gosr_free(c);
    gosr_buf_free(&out);
    /* Writes continue after compaction; deleting the ref frees all. */
    CHECK_OK(gosr_store_put_buffer(st, b, 30000, &fb, &err));
    CHECK_OK(gosr_store_ref_delete(st, "keep", &err));
    CHECK_STATUS(gosr_store_ref_delete(st, "keep", &err), GOSR_ENOENT);
    CHECK_OK(gosr_store_gc(st, &rep, &err));
    CHECK_OK(gosr_store_stat(st, &after, &err));
    CHECK_UINT(after.chunk_count + after.object_count, ==, 0);
    CHECK_UINT(after.pack_bytes, ==, 0);
    gosr_store_close(st);
    /* Only the index remains; no pack files left behind. */
    char *d = path_in("g/packs");
    CHECK_EQ(gosr_test_system("test -z \"$(ls -A '%s')\"", d), 0);
    gosr_free(d);
    free(a);
    free(b);
}

GOSR_TEST(gc_refuses_when_referenced_object_missing)
{
    gosr_store_config cfg = {.cdc = SMALL, .codec = "raw"};
    gosr_store *st = open_store("gm", &cfg);
    REQUIRE(st);
    uint8_t *a = make_file(5000, 1);
    gosr_hash fa;
    gosr_error err;
    REQUIRE(gosr_store_put_buffer(st, a, 5000, &fa, &err) == GOSR_OK);
    REQUIRE(gosr_store_ref_set(st, "r", &fa, &err) == GOSR_OK);
    gosr_store_close(st);
    corrupt_pack("gm", 200); /* inside the file node (last record) */
    st = open_store("gm", &cfg);
    gosr_store_fsck_report rep;
    CHECK_STATUS(gosr_store_fsck(st, NULL, NULL, &rep, &err), GOSR_ECORRUPT);
    CHECK_UINT(rep.corrupt, ==, 1);
    CHECK_UINT(rep.missing, ==, 1);
    gosr_store_stats s;
    CHECK_OK(gosr_store_stat(st, &s, &err));
    CHECK_STATUS(gosr_store_gc(st, NULL, &err), GOSR_ECORRUPT);
    CHECK_STR(err.reason, "gc_missing_object");
    gosr_store_stats s2;
    CHECK_OK(gosr_store_stat(st, &s2, &err));
    CHECK_UINT(s2.chunk_count, ==, s.chunk_count);
    /* Putting the file again repairs it. */
    CHECK_OK(gosr_store_put_buffer(st, a, 5000, &fa, &err));
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, &rep, &err));
    gosr_store_close(st);
    free(a);
}

GOSR_TEST(recovery_trims_uncommitted_tails)
{
    gosr_store *st = open_store("r", NULL);
    REQUIRE(st);
    uint8_t *a = make_file(10000, 3);
    gosr_hash fa;
    gosr_error err;
    REQUIRE(gosr_store_put_buffer(st, a, 10000, &fa, &err) == GOSR_OK);
    gosr_store_stats s;
    REQUIRE(gosr_store_stat(st, &s, &err) == GOSR_OK);
    gosr_store_close(st);
    char *pack = path_in("r/packs/00000001.pack");
    char *orphan = path_in("r/packs/00000009.pack");
    char *tmp = path_in("r/packs/junk.tmp");
    int fd = open(pack, O_WRONLY | O_APPEND);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "half a record", 13) == 13);
    close(fd);
    REQUIRE(gosr_file_write_atomic(orphan, "x", 1, 0644) == GOSR_OK);
    REQUIRE(gosr_file_write_atomic(tmp, "y", 1, 0644) == GOSR_OK);
    st = open_store("r", NULL);
    REQUIRE(st);
    struct stat sb;
    CHECK(stat(pack, &sb) == 0 && (uint64_t)sb.st_size == s.pack_bytes);
    CHECK(stat(orphan, &sb) != 0);
    CHECK(stat(tmp, &sb) != 0);
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, NULL, &err));
    /* New writes append after the committed end. */
    uint8_t *b = make_file(10000, 4);
    gosr_hash fb;
    CHECK_OK(gosr_store_put_buffer(st, b, 10000, &fb, &err));
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, NULL, &err));
    gosr_store_close(st);
    gosr_free(pack);
    gosr_free(orphan);
    gosr_free(tmp);
    free(a);
    free(b);
}

GOSR_TEST(writer_lock)
{
    gosr_store *st = open_store("l", NULL);
    REQUIRE(st);
    char *dir = path_in("l");
    gosr_store *st2 = NULL;
    gosr_error err;
    gosr_store_config cfg = {.cdc = SMALL};
    CHECK_STATUS(gosr_store_open(dir, &cfg, &st2, &err), GOSR_EBUSY);
    CHECK_STR(err.reason, "store_locked");
    gosr_store_close(st);
    CHECK_OK(gosr_store_open(dir, &cfg, &st2, &err));
    gosr_store_close(st2);
    gosr_store_close(NULL);
    gosr_free(dir);
}

/* ---- fault injection ---------------------------------------------------- */

static int g_fail_countdown; /* calls until the fault, <0 = never */
static int g_fail_errno;     /* errno of the injected fault */

static ssize_t faulty_pwrite(int fd, const void *p, size_t n, off_t off)
{
    if (g_fail_countdown >= 0 && g_fail_countdown-- == 0) {
        /* A short write first, then the error, like a filling disk. */
        if (n > 1 && pwrite(fd, p, n / 2, off) > 0) {
            errno = g_fail_errno;
            return -1;
        }
        errno = g_fail_errno;
        return -1;
    }
    return pwrite(fd, p, n, off);
}

static int faulty_fsync(int fd)
{
    if (g_fail_countdown >= 0 && g_fail_countdown-- == 0) {
        errno = g_fail_errno;
        return -1;
    }
    return fsync(fd);
}

static void check_all_old(gosr_store *st, const gosr_hash *old,
                          const gosr_store_stats *before)
{
    gosr_error err;
    gosr_store_stats after;
    CHECK_OK(gosr_store_stat(st, &after, &err));
    CHECK_UINT(after.chunk_count, ==, before->chunk_count);
    CHECK_UINT(after.logical_bytes, ==, before->logical_bytes);
    CHECK_UINT(after.pack_bytes, ==, before->pack_bytes);
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, NULL, &err));
    char *out = path_in("old.out");
    CHECK_OK(gosr_store_get_file(st, old, out, 0644, &err));
    gosr_free(out);
}

/* Fails the Nth pwrite (or fsync) of a put with ENOSPC/EIO, for every N
 * until the put succeeds: each failure is a clear error and leaves the
 * store exactly as before. */
static void fault_sweep(bool on_fsync, int eno, int want_status)
{
    gosr_store *st = open_store(on_fsync ? "fs" : "fw", NULL);
    REQUIRE(st);
    uint8_t *a = make_file(20000, 11), *b = make_file(20000, 12);
    gosr_hash fa, fb;
    gosr_error err;
    REQUIRE(gosr_store_put_buffer(st, a, 20000, &fa, &err) == GOSR_OK);
    REQUIRE(gosr_store_ref_set(st, "a", &fa, &err) == GOSR_OK);
    gosr_store_stats before;
    REQUIRE(gosr_store_stat(st, &before, &err) == GOSR_OK);
    gosr_io_ops ops = *gosr_io();
    if (on_fsync)
        ops.fsync = faulty_fsync;
    else
        ops.pwrite = faulty_pwrite;
    int failures = 0;
    for (int n = 0; n < 200; n++) {
        g_fail_countdown = n;
        g_fail_errno = eno;
        gosr_io_set_ops(&ops);
        int rc = gosr_store_put_buffer(st, b, 20000, &fb, &err);
        gosr_io_set_ops(NULL);
        if (rc == GOSR_OK)
            break;
        failures++;
        CHECK_STATUS(rc, want_status);
        CHECK_STR(err.reason,
                  on_fsync ? "pack_sync_failed" : "pack_write_failed");
        check_all_old(st, &fa, &before);
    }
    g_fail_countdown = -1;
    CHECK_INT(failures, >, 0);
    CHECK(gosr_store_has(st, &fb));
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, NULL, &err));
    gosr_store_close(st);
    free(a);
    free(b);
}

GOSR_TEST(enospc_leaves_store_all_old)
{
    fault_sweep(false, ENOSPC, GOSR_ENOSPC);
}

GOSR_TEST(eio_on_fsync_leaves_store_all_old)
{
    fault_sweep(true, EIO, GOSR_EIO);
}

GOSR_TEST(out_of_memory_is_an_error)
{
    gosr_store *st = open_store("oom", NULL);
    REQUIRE(st);
    uint8_t *a = make_file(20000, 21);
    gosr_hash fa;
    gosr_error err;
    int failures = 0;
    for (long n = 1; n < 400; n++) {
        gosr_alloc_fail_after(n);
        int rc = gosr_store_put_buffer(st, a, 20000, &fa, &err);
        gosr_alloc_fail_after(0);
        if (rc == GOSR_OK)
            break;
        failures++;
        CHECK_STATUS(rc, GOSR_ENOMEM);
    }
    CHECK_INT(failures, >, 0);
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, NULL, &err));
    gosr_store_close(st);
    free(a);
}

/* Open failing at each of its allocations in turn is ENOMEM and closes no
 * descriptor it does not own (fd 0 is kept open to catch a close of a
 * zeroed field). */
GOSR_TEST(open_out_of_memory_closes_nothing_else)
{
    char *dir = path_in("oom-open");
    gosr_store_config cfg = {.cdc = SMALL};
    gosr_error err;
    int failures = 0;
    if (fcntl(0, F_GETFD) < 0)
        CHECK_INT(open("/dev/null", O_RDONLY), ==, 0);
    for (long n = 1; n < 200; n++) {
        gosr_store *st = NULL;
        gosr_alloc_fail_after(n);
        int rc = gosr_store_open(dir, &cfg, &st, &err);
        gosr_alloc_fail_after(0);
        CHECK(fcntl(0, F_GETFD) >= 0);
        gosr_store_close(st);
        if (rc == GOSR_OK)
            break;
        failures++;
        CHECK_STATUS(rc, GOSR_ENOMEM);
        CHECK(st == NULL);
    }
    CHECK_INT(failures, >, 0);
    gosr_free(dir);
}

/* A manifest whose bytes were first stored as a plain chunk is upgraded
 * to its manifest kind, so gets and GC treat it as a file node. */
GOSR_TEST(manifest_first_stored_as_chunk)
{
    gosr_store *st = open_store("k", NULL);
    REQUIRE(st);
    uint8_t *a = make_file(9000, 31);
    gosr_hash fid, cid;
    gosr_error err;
    REQUIRE(gosr_store_put_buffer(st, a, 9000, &fid, &err) == GOSR_OK);
    gosr_buf node = {0};
    REQUIRE(gosr_store_get_object(st, &fid, NULL, &node, &err) == GOSR_OK);
    gosr_store_close(st);
    st = open_store("k2", NULL);
    REQUIRE(st);
    CHECK_OK(gosr_store_put_chunk(st, node.data, node.len, &cid, &err));
    CHECK(gosr_hash_equal(&cid, &fid));
    CHECK_OK(gosr_store_put_buffer(st, a, 9000, &fid, &err));
    gosr_obj_kind kind = GOSR_OBJ_CHUNK;
    gosr_buf again = {0};
    CHECK_OK(gosr_store_get_object(st, &fid, &kind, &again, &err));
    CHECK_EQ(kind, GOSR_OBJ_FILE);
    CHECK_OK(gosr_store_ref_set(st, "f", &fid, &err));
    CHECK_OK(gosr_store_gc(st, NULL, &err));
    char *out = path_in("k.out");
    CHECK_OK(gosr_store_get_file(st, &fid, out, 0644, &err));
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, NULL, &err));
    gosr_free(out);
    gosr_buf_free(&node);
    gosr_buf_free(&again);
    gosr_store_close(st);
    free(a);
}

/* Tiny packs: appends roll over to new packs inside one transaction,
 * GC compacts several packs, and everything stays readable. */
GOSR_TEST(many_small_packs)
{
    gosr_store_config cfg = {.cdc = SMALL, .pack_max = 4096};
    gosr_store *st = open_store("mp", &cfg);
    REQUIRE(st);
    gosr_hash ids[6];
    uint8_t *data[6];
    gosr_error err;
    for (int i = 0; i < 6; i++) {
        data[i] = make_file(12000, 500 + 2 * (uint64_t)i);
        REQUIRE(gosr_store_put_buffer(st, data[i], 12000, &ids[i], &err) ==
                GOSR_OK);
        char name[8];
        snprintf(name, sizeof name, "r%d", i);
        if (i % 2 == 0)
            CHECK_OK(gosr_store_ref_set(st, name, &ids[i], &err));
    }
    gosr_store_close(st);
    char *packs = path_in("mp/packs");
    CHECK_EQ(gosr_test_system("test $(ls '%s' | wc -l) -gt 6", packs), 0);
    st = open_store("mp", &cfg);
    REQUIRE(st);
    gosr_store_gc_report rep;
    CHECK_OK(gosr_store_gc(st, &rep, &err));
    CHECK_UINT(rep.packs_rewritten, >, 1);
    CHECK_OK(gosr_store_fsck(st, NULL, NULL, NULL, &err));
    for (int i = 0; i < 6; i++) {
        CHECK(gosr_store_has(st, &ids[i]) == (i % 2 == 0));
        if (i % 2 == 0) {
            char *out = path_in("mp.out");
            uint8_t *back = NULL;
            size_t blen = 0;
            CHECK_OK(gosr_store_get_file(st, &ids[i], out, 0644, &err));
            CHECK_OK(gosr_file_read_all(out, 1 << 20, &back, &blen));
            CHECK(blen == 12000 && memcmp(back, data[i], blen) == 0);
            gosr_free(back);
            gosr_free(out);
        }
        free(data[i]);
    }
    gosr_store_close(st);
    gosr_free(packs);
}
