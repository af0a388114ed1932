/*
 * test_cdc.c — FastCDC chunker: parameter defaults and validation, bounds
 * of every cut, content-defined resynchronisation after inserts, average
 * chunk size, streaming equals one-shot, and a pinned cut-point vector so
 * chunk boundaries (which other subsystems and stored data depend on)
 * never change by accident. Design: docs/store.md ("Chunking").
 */
#include "harness.h"
#include "gosr/store.h"

#include <stdlib.h>

/* Deterministic pseudo-random bytes (xorshift64*). */
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

/* Cuts data into chunks, writing up to cap lengths; returns the count. */
static size_t cut_all(const gosr_cdc_params *p, const uint8_t *d, size_t n,
                      size_t *lens, size_t cap)
{
    size_t k = 0;
    for (size_t off = 0; off < n;) {
        size_t c = gosr_cdc_next(p, d + off, n - off);
        if (c == 0 || k == cap)
            break;
        lens[k++] = c;
        off += c;
    }
    return k;
}

#define PINNED_COUNT 522
#define PINNED_HASH                                                            \
    "9a4f895f7183f5dc672101baca7481d97466ebaa50831f7b2d7fb4bcc2a10c5a"

GOSR_TEST(params_defaults)
{
    gosr_cdc_params p = {0};
    CHECK_OK(gosr_cdc_params_normalize(&p));
    CHECK_UINT(p.min_size, ==, 256u << 10);
    CHECK_UINT(p.avg_size, ==, 1u << 20);
    CHECK_UINT(p.max_size, ==, 4u << 20);
    gosr_cdc_params q = {.avg_size = 65536};
    CHECK_OK(gosr_cdc_params_normalize(&q));
    CHECK_UINT(q.min_size, ==, 16384);
    CHECK_UINT(q.max_size, ==, 262144);
    gosr_cdc_params r = {.min_size = 100, .avg_size = 128, .max_size = 128};
    CHECK_OK(gosr_cdc_params_normalize(&r));
    CHECK_UINT(r.min_size, ==, 100);
}

GOSR_TEST(params_invalid)
{
    gosr_cdc_params bad[] = {
        {.avg_size = 1000},                             /* not a power of 2 */
        {.avg_size = 32},                               /* too small */
        {.min_size = 5000, .avg_size = 4096},           /* min > avg */
        {.avg_size = 4096, .max_size = 2048},           /* avg > max */
        {.avg_size = 1u << 27},                         /* avg too large */
        {.avg_size = 1u << 20, .max_size = 128u << 20}, /* max too large */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_STATUS(gosr_cdc_params_normalize(&bad[i]), GOSR_EINVAL);
    CHECK_STATUS(gosr_cdc_params_normalize(NULL), GOSR_EINVAL);
}

GOSR_TEST(bounds)
{
    gosr_cdc_params p = {.min_size = 512, .avg_size = 2048, .max_size = 8192};
    REQUIRE(gosr_cdc_params_normalize(&p) == GOSR_OK);
    size_t n = 1 << 20;
    uint8_t *d = malloc(n);
    REQUIRE(d);
    fill_random(d, n, 1);
    CHECK_UINT(gosr_cdc_next(&p, d, 0), ==, 0);
    CHECK_UINT(gosr_cdc_next(&p, d, 100), ==, 100);
    CHECK_UINT(gosr_cdc_next(&p, d, 512), ==, 512);
    for (size_t off = 0; off + 8192 < n;) {
        size_t c = gosr_cdc_next(&p, d + off, n - off);
        CHECK_UINT(c, >, 512);
        CHECK_UINT(c, <=, 8192);
        off += c;
    }
    /* All-zero input never hits the mask: every cut is at max_size. */
    memset(d, 0, n);
    CHECK_UINT(gosr_cdc_next(&p, d, n), ==, 8192);
    free(d);
}

GOSR_TEST(average_size)
{
    gosr_cdc_params p = {.avg_size = 4096};
    REQUIRE(gosr_cdc_params_normalize(&p) == GOSR_OK);
    size_t n = 8 << 20, cap = n / 1024;
    uint8_t *d = malloc(n);
    size_t *lens = malloc(cap * sizeof *lens);
    REQUIRE(d && lens);
    fill_random(d, n, 7);
    size_t k = cut_all(&p, d, n, lens, cap);
    size_t mean = n / k;
    /* The masks are chosen so the mean lands near avg (docs/store.md). */
    CHECK_UINT(mean, >=, 4096 * 8 / 10);
    CHECK_UINT(mean, <=, 4096 * 12 / 10);
    free(d);
    free(lens);
}

/* Inserting bytes near the start changes only the first chunk or two:
 * later cut points fall at the same content. */
GOSR_TEST(resync_after_insert)
{
    gosr_cdc_params p = {.avg_size = 4096};
    REQUIRE(gosr_cdc_params_normalize(&p) == GOSR_OK);
    size_t n = 2 << 20, cap = 4096;
    uint8_t *a = malloc(n), *b = malloc(n + 37);
    size_t *la = malloc(cap * sizeof *la), *lb = malloc(cap * sizeof *lb);
    REQUIRE(a && b && la && lb);
    fill_random(a, n, 99);
    memcpy(b, a, 1000);
    fill_random(b + 1000, 37, 5);
    memcpy(b + 1037, a + 1000, n - 1000);
    size_t ka = cut_all(&p, a, n, la, cap),
           kb = cut_all(&p, b, n + 37, lb, cap);
    /* Compare the cut positions expressed in the original's coordinates. */
    size_t same = 0, ia = 0, ib = 0, pa = 0, pb = 0;
    while (ia < ka && ib < kb) {
        size_t ea = pa + la[ia], eb = pb + lb[ib] - 37;
        if (pb + lb[ib] < 1037) {
            pb += lb[ib++];
            continue;
        }
        if (ea == eb) {
            same++;
            pa = ea;
            pb += lb[ib];
            ia++;
            ib++;
        } else if (ea < eb) {
            pa = ea;
            ia++;
        } else {
            pb += lb[ib];
            ib++;
        }
    }
    CHECK_UINT(same + 3, >=, ka);
    free(a);
    free(b);
    free(la);
    free(lb);
}

/* A streaming caller refilling to max_size gets the same cuts. */
GOSR_TEST(streaming_equals_oneshot)
{
    gosr_cdc_params p = {.min_size = 256, .avg_size = 1024, .max_size = 4096};
    REQUIRE(gosr_cdc_params_normalize(&p) == GOSR_OK);
    size_t n = 300000;
    uint8_t *d = malloc(n);
    REQUIRE(d);
    fill_random(d, n, 3);
    size_t off1 = 0, off2 = 0;
    while (off1 < n) {
        size_t c1 = gosr_cdc_next(&p, d + off1, n - off1);
        size_t win = n - off2 < p.max_size ? n - off2 : p.max_size;
        size_t c2 = gosr_cdc_next(&p, d + off2, win);
        CHECK_UINT(c1, ==, c2);
        if (c1 != c2 || c1 == 0)
            break;
        off1 += c1;
        off2 += c2;
    }
    free(d);
}

/* Pinned: the cut points of 4 MiB of xorshift bytes at avg 8 KiB. If this
 * changes, every stored chunk id and every bundle's chunking changes. */
GOSR_TEST(pinned_vector)
{
    gosr_cdc_params p = {.avg_size = 8192};
    REQUIRE(gosr_cdc_params_normalize(&p) == GOSR_OK);
    size_t n = 4 << 20, cap = 4096;
    uint8_t *d = malloc(n);
    size_t *lens = malloc(cap * sizeof *lens);
    REQUIRE(d && lens);
    fill_random(d, n, 0x60535231);
    size_t k = cut_all(&p, d, n, lens, cap);
    gosr_blake3 h;
    gosr_blake3_init(&h);
    for (size_t i = 0; i < k; i++) {
        uint32_t l = (uint32_t)lens[i];
        uint8_t le[4] = {(uint8_t)l, (uint8_t)(l >> 8), (uint8_t)(l >> 16),
                         (uint8_t)(l >> 24)};
        gosr_blake3_update(&h, le, 4);
    }
    gosr_hash out;
    char hex[65];
    gosr_blake3_finalize(&h, out.b, 32);
    gosr_hash_hex(&out, hex);
    printf("pinned: %zu chunks, cut hash %s, first %zu\n", k, hex, lens[0]);
    CHECK_UINT(k, ==, PINNED_COUNT);
    CHECK_STR(hex, PINNED_HASH);
    free(d);
    free(lens);
}
