/*
 * test_blake3_tree.c — BLAKE3 tree handling and paths: incremental input
 * split at awkward places equals one-shot, a spec-literal recursive
 * reference (written here, independent of src/crypto) agrees with the
 * hasher, update_parallel equals update around subtree boundaries for 1..4
 * threads, every supported path equals portable on random sizes up to
 * 2 MiB (all three modes, long output, seek), and path selection.
 */
#include "harness.h"
#include "gosr/crypto.h"

#include <stdlib.h>

/* ---- a small deterministic generator ----------------------------------- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static uint8_t *make_input(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rnd() >> 32);
    return p;
}

/* ---- spec-literal reference: recursive tree, scalar compress ------------ */

static const uint32_t RIV[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372,
                                0xA54FF53A, 0x510E527F, 0x9B05688C,
                                0x1F83D9AB, 0x5BE0CD19};
static const uint8_t RPERM[16] = {2, 6, 3, 10, 7, 0, 4, 13,
                                  1, 11, 12, 5, 9, 14, 15, 8};

static uint32_t rr(uint32_t x, int c)
{
    return x >> c | x << (32 - c);
}

static void rg(uint32_t *s, int a, int b, int c, int d, uint32_t x, uint32_t y)
{
    s[a] += s[b] + x, s[d] = rr(s[d] ^ s[a], 16), s[c] += s[d];
    s[b] = rr(s[b] ^ s[c], 12);
    s[a] += s[b] + y, s[d] = rr(s[d] ^ s[a], 8), s[c] += s[d];
    s[b] = rr(s[b] ^ s[c], 7);
}

/* Compression with the message permuted between rounds, as the spec
 * writes it; out gets all 16 output words. */
static void ref_compress(const uint32_t cv[8], const uint8_t blk[64],
                         uint32_t len, uint64_t ctr, uint32_t flags,
                         uint32_t out[16])
{
    uint32_t m[16], s[16], t[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)blk[4 * i] | (uint32_t)blk[4 * i + 1] << 8 |
               (uint32_t)blk[4 * i + 2] << 16 | (uint32_t)blk[4 * i + 3] << 24;
    memcpy(s, cv, 32);
    memcpy(s + 8, RIV, 16);
    s[12] = (uint32_t)ctr, s[13] = (uint32_t)(ctr >> 32), s[14] = len;
    s[15] = flags;
    for (int r = 0; r < 7; r++) {
        rg(s, 0, 4, 8, 12, m[0], m[1]), rg(s, 1, 5, 9, 13, m[2], m[3]);
        rg(s, 2, 6, 10, 14, m[4], m[5]), rg(s, 3, 7, 11, 15, m[6], m[7]);
        rg(s, 0, 5, 10, 15, m[8], m[9]), rg(s, 1, 6, 11, 12, m[10], m[11]);
        rg(s, 2, 7, 8, 13, m[12], m[13]), rg(s, 3, 4, 9, 14, m[14], m[15]);
        for (int i = 0; i < 16; i++)
            t[i] = m[RPERM[i]];
        memcpy(m, t, sizeof m);
    }
    for (int i = 0; i < 8; i++)
        out[i] = s[i] ^ s[i + 8], out[i + 8] = s[i + 8] ^ cv[i];
}

/* A node's final compression inputs (for the root: extended output). */
typedef struct ref_node {
    uint32_t cv[8];
    uint8_t blk[64];
    uint32_t len, flags;
    uint64_t ctr;
} ref_node;

static void ref_node_cv(const ref_node *n, uint32_t cv[8])
{
    uint32_t o[16];
    ref_compress(n->cv, n->blk, n->len, n->ctr, n->flags, o);
    memcpy(cv, o, 32);
}

/* The node over chunks [first, first + count) of the input. */
static ref_node ref_tree(const uint8_t *in, size_t len, uint64_t first,
                         uint64_t count, const uint32_t key[8], uint32_t fl)
{
    ref_node n = {.flags = fl};
    if (count == 1) {
        size_t off = (size_t)first * 1024, clen = len - off < 1024 ? len - off : 1024;
        memcpy(n.cv, key, 32);
        size_t nb = clen == 0 ? 1 : (clen + 63) / 64;
        for (size_t b = 0; b < nb; b++) {
            size_t bl = clen - 64 * b < 64 ? clen - 64 * b : 64;
            memset(n.blk, 0, 64);
            memcpy(n.blk, in + off + 64 * b, bl);
            n.len = (uint32_t)bl, n.ctr = first;
            n.flags = fl | (b == 0 ? 1u : 0) | (b + 1 == nb ? 2u : 0);
            if (b + 1 < nb)
                ref_node_cv(&n, n.cv);
        }
        return n;
    }
    uint64_t left = 1; /* largest power of two strictly below count */
    while (left * 2 < count)
        left *= 2;
    ref_node l = ref_tree(in, len, first, left, key, fl);
    ref_node r = ref_tree(in, len, first + left, count - left, key, fl);
    uint32_t lcv[8], rcv[8];
    ref_node_cv(&l, lcv);
    ref_node_cv(&r, rcv);
    memcpy(n.cv, key, 32);
    memcpy(n.blk, lcv, 32); /* little-endian host assumed by this test */
    memcpy(n.blk + 32, rcv, 32);
    n.len = 64, n.ctr = 0, n.flags = fl | 4u;
    return n;
}

static void ref_hash(const uint8_t *in, size_t len, uint8_t *out, size_t olen)
{
    uint64_t chunks = len == 0 ? 1 : (len + 1023) / 1024;
    ref_node root = ref_tree(in, len, 0, chunks, RIV, 0);
    for (uint64_t blk = 0; olen > 0; blk++) {
        uint32_t o[16];
        ref_compress(root.cv, root.blk, root.len, blk, root.flags | 8u, o);
        size_t n = olen < 64 ? olen : 64;
        memcpy(out, o, n);
        out += n, olen -= n;
    }
}

/* ---- helpers ------------------------------------------------------------ */

static void hash_pieces(const uint8_t *in, size_t n, const size_t *cuts,
                        size_t ncuts, uint8_t out[32])
{
    gosr_blake3 h;
    gosr_blake3_init(&h);
    size_t at = 0;
    for (size_t i = 0; i < ncuts && cuts[i] <= n; i++) {
        gosr_blake3_update(&h, in + at, cuts[i] - at);
        at = cuts[i];
    }
    gosr_blake3_update(&h, in + at, n - at);
    gosr_blake3_finalize(&h, out, 32);
}

static void hash_oneshot(const uint8_t *in, size_t n, uint8_t out[32])
{
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, in, n);
    gosr_blake3_finalize(&h, out, 32);
}

/* ---- tests -------------------------------------------------------------- */

/* Sizes around every structural edge: blocks, chunks, and subtrees of 2,
 * 4, 16, 128, 256, 512 (a wide batch) and 1024 chunks (two batches). */
static const size_t EDGE_SIZES[] = {
    0,       1,       63,      64,      65,      1023,    1024,
    1025,    2047,    2048,    2049,    3072,    4095,    4096,
    4097,    16383,   16384,   16385,   31744,   65537,   131071,
    131072,  131073,  132096,  262143,  262144,  262145,  263168,
    300001,  524287,  524288,  524289,  525312,  1048575, 1048576,
    1048577, 1049600, 1572865};
#define EDGE_MAX 1572865 /* the largest of EDGE_SIZES */

GOSR_TEST(reference_tree_matches_hasher)
{
    size_t max = EDGE_MAX;
    uint8_t *in = make_input(max);
    for (size_t i = 0; i < sizeof EDGE_SIZES / sizeof EDGE_SIZES[0]; i++) {
        size_t n = EDGE_SIZES[i];
        uint8_t want[100], got[100];
        ref_hash(in, n, want, sizeof want);
        gosr_blake3 h;
        gosr_blake3_init(&h);
        gosr_blake3_update(&h, in, n);
        gosr_blake3_finalize(&h, got, sizeof got);
        if (memcmp(want, got, sizeof got) != 0)
            gosr_test_fail(__FILE__, __LINE__, "size %zu differs from reference", n);
    }
    free(in);
}

GOSR_TEST(incremental_awkward_splits_equal_oneshot)
{
    static const size_t cuts[][6] = {
        {1, 2, 3, 1024, 1025, 5000},
        {63, 64, 65, 2048, 4096, 8191},
        {1024, 2048, 3072, 4096, 5120, 6144},
        {1023, 3071, 3073, 16384, 16385, 131072},
        {0, 0, 1024, 1024, 262144, 262145},
        {5, 131073, 131074, 200000, 262143, 262144},
    };
    size_t max = EDGE_MAX;
    uint8_t *in = make_input(max);
    for (size_t i = 0; i < sizeof EDGE_SIZES / sizeof EDGE_SIZES[0]; i++) {
        size_t n = EDGE_SIZES[i];
        uint8_t want[32], got[32];
        hash_oneshot(in, n, want);
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            hash_pieces(in, n, cuts[c], 6, got);
            if (memcmp(want, got, 32) != 0)
                gosr_test_fail(__FILE__, __LINE__, "size %zu cut set %zu", n, c);
        }
        /* and fed in pieces of one to a few hundred bytes */
        gosr_blake3 h;
        gosr_blake3_init(&h);
        for (size_t at = 0; at < n;) {
            size_t step = 1 + rnd() % 700;
            step = step < n - at ? step : n - at;
            gosr_blake3_update(&h, in + at, step);
            at += step;
        }
        gosr_blake3_finalize(&h, got, 32);
        CHECK_MEM(want, got, 32);
    }
    free(in);
}

GOSR_TEST(finalize_then_more_input)
{
    uint8_t *in = make_input(70000);
    gosr_blake3 h;
    gosr_blake3_init(&h);
    uint8_t mid[32], end[32], want_mid[32], want_end[32];
    gosr_blake3_update(&h, in, 40960);
    gosr_blake3_finalize(&h, mid, 32);
    gosr_blake3_update(&h, in + 40960, 70000 - 40960);
    gosr_blake3_finalize(&h, end, 32);
    hash_oneshot(in, 40960, want_mid);
    hash_oneshot(in, 70000, want_end);
    CHECK_MEM(mid, want_mid, 32);
    CHECK_MEM(end, want_end, 32);
    free(in);
}

GOSR_TEST(update_parallel_equals_update)
{
    /* around the 1 MiB threading threshold and power-of-two subtrees,
     * from an aligned start and after an odd prefix */
    static const size_t sizes[] = {(1u << 20) - 1,    1u << 20,
                                   (1u << 20) + 1,    (1u << 20) + 1024,
                                   (2u << 20) - 1024, 2u << 20,
                                   (3u << 20) + 5,    (4u << 20) + 4097};
    static const size_t prefixes[] = {0, 1000, 1024, 5 * 1024 + 3};
    uint8_t *in = make_input((5u << 20) + 8192);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t pre = prefixes[s % 4], n = sizes[s];
        uint8_t want[32];
        gosr_blake3 ref;
        gosr_blake3_init(&ref);
        gosr_blake3_update(&ref, in, pre);
        gosr_blake3_update(&ref, in + pre, n);
        gosr_blake3_finalize(&ref, want, 32);
        for (unsigned t = 0; t <= 4; t++) {
            gosr_blake3 h;
            uint8_t got[32];
            gosr_blake3_init(&h);
            gosr_blake3_update(&h, in, pre);
            gosr_blake3_update_parallel(&h, in + pre, n, t);
            gosr_blake3_finalize(&h, got, 32);
            if (memcmp(want, got, 32) != 0)
                gosr_test_fail(__FILE__, __LINE__,
                               "size %zu prefix %zu threads %u", n, pre, t);
        }
    }
    free(in);
}

/* Hashes in with the three modes (long output, seek) on the current path. */
static void all_modes(const uint8_t *in, size_t n, size_t split,
                      uint8_t out[3][160])
{
    static const uint8_t key[32] = "whats the Elvish word for friend";
    gosr_blake3 h[3];
    gosr_blake3_init(&h[0]);
    gosr_blake3_init_keyed(&h[1], key);
    gosr_blake3_init_derive_key(&h[2], "gosr test 2026 blake3 paths");
    for (int m = 0; m < 3; m++) {
        gosr_blake3_update(&h[m], in, split);
        gosr_blake3_update(&h[m], in + split, n - split);
        gosr_blake3_finalize(&h[m], out[m], 100);
        gosr_blake3_finalize_seek(&h[m], 1000003, out[m] + 100, 60);
    }
}

GOSR_TEST(every_path_equals_portable_random_sizes)
{
    size_t max = (2u << 20) + 4096;
    uint8_t *in = make_input(max);
    for (int i = 0; i < 12; i++) {
        size_t n = i < 4 ? (size_t)(rnd() % 5000) : (size_t)(rnd() % max);
        size_t split = n ? (size_t)(rnd() % n) : 0;
        uint8_t want[3][160], got[3][160];
        CHECK_OK(gosr_blake3_set_path(GOSR_BLAKE3_PORTABLE));
        all_modes(in, n, split, want);
        for (int p = GOSR_BLAKE3_SSE41; p <= GOSR_BLAKE3_AVX512; p++) {
            if (gosr_blake3_set_path((gosr_blake3_path)p) != GOSR_OK)
                continue;
            all_modes(in, n, split, got);
            if (memcmp(want, got, sizeof want) != 0)
                gosr_test_fail(__FILE__, __LINE__, "path %s size %zu split %zu",
                               gosr_blake3_path_name((gosr_blake3_path)p), n,
                               split);
        }
    }
    CHECK_OK(gosr_blake3_set_path(GOSR_BLAKE3_AUTO));
    free(in);
}

GOSR_TEST(path_selection)
{
    CHECK(gosr_blake3_path_supported(GOSR_BLAKE3_PORTABLE));
    CHECK(!gosr_blake3_path_supported(GOSR_BLAKE3_AUTO));
    CHECK_STATUS(gosr_blake3_set_path((gosr_blake3_path)9), GOSR_EUNSUPPORTED);
    CHECK_STR(gosr_blake3_path_name(GOSR_BLAKE3_AVX2), "avx2");
    CHECK_STR(gosr_blake3_path_name((gosr_blake3_path)9), "unknown");
    CHECK_OK(gosr_blake3_set_path(GOSR_BLAKE3_AUTO));
    gosr_blake3_path best = GOSR_BLAKE3_PORTABLE;
    for (int p = GOSR_BLAKE3_SSE41; p <= GOSR_BLAKE3_AVX512; p++)
        if (gosr_blake3_path_supported((gosr_blake3_path)p))
            best = (gosr_blake3_path)p;
    CHECK_EQ(gosr_blake3_get_path(), best);
    /* a forced path that the CPU lacks is refused and changes nothing */
    for (int p = GOSR_BLAKE3_SSE41; p <= GOSR_BLAKE3_AVX512; p++)
        if (!gosr_blake3_path_supported((gosr_blake3_path)p)) {
            CHECK_STATUS(gosr_blake3_set_path((gosr_blake3_path)p),
                         GOSR_EUNSUPPORTED);
            CHECK_EQ(gosr_blake3_get_path(), best);
        }
    printf("  auto path on this CPU: %s\n", gosr_blake3_path_name(best));
}
