/*
 * test_codec.c — per-chunk codecs: names, round trips for raw/zstd/brotli
 * at several sizes, raw fallback when compression does not pay, and
 * rejection (GOSR_ECORRUPT) of every stream that does not decode to
 * exactly the claimed plaintext length. Design: docs/store.md ("Codecs").
 */
#include "harness.h"
#include "gosr/store.h"

#include <stdlib.h>

static const gosr_codec CODECS[] = {GOSR_CODEC_RAW, GOSR_CODEC_ZSTD,
                                    GOSR_CODEC_BROTLI};
#define NCODECS (sizeof CODECS / sizeof CODECS[0])

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

static void fill_text(uint8_t *p, size_t n)
{
    static const char *words[] = {"gosr ",  "chunk ", "store ", "merkle ",
                                  "tick\n", "world ", "module "};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *w = words[(i / 5 + k) % 7];
        p[i] = (uint8_t)w[i % strlen(w)];
        if (i % 97 == 0)
            k++;
    }
}

GOSR_TEST(names)
{
    gosr_codec c;
    for (size_t i = 0; i < NCODECS; i++) {
        CHECK_OK(gosr_codec_parse(gosr_codec_name(CODECS[i]), &c));
        CHECK_EQ(c, CODECS[i]);
    }
    CHECK_STR(gosr_codec_name(GOSR_CODEC_ZSTD), "zstd");
    CHECK_STATUS(gosr_codec_parse("lz4", &c), GOSR_EINVAL);
    CHECK_STATUS(gosr_codec_parse("", &c), GOSR_EINVAL);
    CHECK_STATUS(gosr_codec_parse(NULL, &c), GOSR_EINVAL);
}

/* Compresses and decompresses `in`; checks the round trip and returns the
 * codec used and compressed size. Appends after a prefix to check that
 * existing buffer contents survive. */
static void round_trip(gosr_codec c, const uint8_t *in, size_t n,
                       gosr_codec *used, size_t *clen)
{
    gosr_buf z = {0}, back = {0};
    REQUIRE(gosr_buf_append(&z, "PFX", 3) == GOSR_OK);
    CHECK_OK(gosr_codec_compress(c, 0, in, n, &z, used));
    *clen = z.len - 3;
    CHECK_MEM(z.data, "PFX", 3);
    REQUIRE(gosr_buf_append(&back, "Q", 1) == GOSR_OK);
    CHECK_OK(gosr_codec_decompress(*used, z.data + 3, z.len - 3, n, &back));
    CHECK_UINT(back.len, ==, n + 1);
    if (back.len == n + 1)
        CHECK(n == 0 || memcmp(back.data + 1, in, n) == 0);
    gosr_buf_free(&z);
    gosr_buf_free(&back);
}

GOSR_TEST(round_trips)
{
    static const size_t sizes[] = {0, 1, 2, 100, 4096, 1 << 20};
    uint8_t *text = malloc(1 << 20), *rnd = malloc(1 << 20);
    REQUIRE(text && rnd);
    fill_text(text, 1 << 20);
    fill_random(rnd, 1 << 20, 11);
    for (size_t ci = 0; ci < NCODECS; ci++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            gosr_codec used;
            size_t clen;
            round_trip(CODECS[ci], text, sizes[si], &used, &clen);
            if (sizes[si] >= 4096 && CODECS[ci] != GOSR_CODEC_RAW) {
                CHECK_EQ(used, CODECS[ci]);
                CHECK_UINT(clen, <, sizes[si] / 4);
            }
            /* Random data does not compress: stored raw, same length. */
            round_trip(CODECS[ci], rnd, sizes[si], &used, &clen);
            if (sizes[si] >= 100) {
                CHECK_EQ(used, GOSR_CODEC_RAW);
                CHECK_UINT(clen, ==, sizes[si]);
            }
        }
    }
    free(text);
    free(rnd);
}

GOSR_TEST(levels)
{
    uint8_t in[8192];
    fill_text(in, sizeof in);
    gosr_buf out = {0};
    gosr_codec used;
    CHECK_OK(
        gosr_codec_compress(GOSR_CODEC_ZSTD, 19, in, sizeof in, &out, &used));
    CHECK_OK(
        gosr_codec_compress(GOSR_CODEC_ZSTD, -5, in, sizeof in, &out, &used));
    CHECK_OK(
        gosr_codec_compress(GOSR_CODEC_BROTLI, 11, in, sizeof in, &out, &used));
    CHECK_STATUS(
        gosr_codec_compress(GOSR_CODEC_ZSTD, 99, in, sizeof in, &out, &used),
        GOSR_EINVAL);
    CHECK_STATUS(
        gosr_codec_compress(GOSR_CODEC_BROTLI, 12, in, sizeof in, &out, &used),
        GOSR_EINVAL);
    CHECK_STATUS(
        gosr_codec_compress((gosr_codec)7, 0, in, sizeof in, &out, &used),
        GOSR_EINVAL);
    gosr_buf_free(&out);
}

/* Every malformed stream is GOSR_ECORRUPT, never a crash or a wrong
 * length, and the output buffer keeps its old length. */
static void expect_corrupt(gosr_codec c, const uint8_t *in, size_t n,
                           size_t plain_len, int line)
{
    gosr_buf out = {0};
    int rc = gosr_codec_decompress(c, in, n, plain_len, &out);
    if (rc != GOSR_ECORRUPT)
        gosr_test_fail(__FILE__, line, "%s n=%zu plain=%zu -> %s",
                       gosr_codec_name(c), n, plain_len, gosr_status_name(rc));
    CHECK_UINT(out.len, ==, 0);
    gosr_buf_free(&out);
}

GOSR_TEST(corrupt_streams)
{
    size_t n = 65536;
    uint8_t *text = malloc(n);
    REQUIRE(text);
    fill_text(text, n);
    for (size_t ci = 1; ci < NCODECS; ci++) {
        gosr_buf z = {0};
        gosr_codec used;
        REQUIRE(gosr_codec_compress(CODECS[ci], 0, text, n, &z, &used) ==
                GOSR_OK);
        REQUIRE(used == CODECS[ci]);
        expect_corrupt(used, z.data, z.len, n - 1, __LINE__); /* too short */
        expect_corrupt(used, z.data, z.len, n + 1, __LINE__); /* too long */
        expect_corrupt(used, z.data, z.len - 1, n, __LINE__); /* truncated */
        expect_corrupt(used, z.data, z.len / 2, n, __LINE__);
        expect_corrupt(used, z.data, 0, n, __LINE__); /* empty */
        gosr_buf tail = {0};
        REQUIRE(gosr_buf_append(&tail, z.data, z.len) == GOSR_OK);
        REQUIRE(gosr_buf_append(&tail, "junk", 4) == GOSR_OK);
        expect_corrupt(used, tail.data, tail.len, n, __LINE__); /* trailing */
        /* Flipped bytes anywhere: corrupt or (rarely, in literals) a
         * different plaintext of the right length; never a crash. */
        for (size_t i = 0; i < z.len; i += 1 + z.len / 64) {
            z.data[i] ^= 0x5a;
            gosr_buf out = {0};
            int rc = gosr_codec_decompress(used, z.data, z.len, n, &out);
            CHECK(rc == GOSR_ECORRUPT || (rc == GOSR_OK && out.len == n));
            gosr_buf_free(&out);
            z.data[i] ^= 0x5a;
        }
        gosr_buf_free(&tail);
        gosr_buf_free(&z);
    }
    uint8_t garbage[300];
    fill_random(garbage, sizeof garbage, 4);
    expect_corrupt(GOSR_CODEC_ZSTD, garbage, sizeof garbage, 1000, __LINE__);
    expect_corrupt(GOSR_CODEC_BROTLI, garbage, sizeof garbage, 1000, __LINE__);
    expect_corrupt(GOSR_CODEC_RAW, garbage, sizeof garbage, 299, __LINE__);
    free(text);
}

/* A tiny zstd frame that claims a huge content size must not make us
 * allocate it: the caller's plain_len bounds everything. */
GOSR_TEST(bounded_allocation)
{
    uint8_t zeros[1 << 16] = {0};
    gosr_buf z = {0};
    gosr_codec used;
    REQUIRE(gosr_codec_compress(GOSR_CODEC_ZSTD, 0, zeros, sizeof zeros, &z,
                                &used) == GOSR_OK);
    REQUIRE(used == GOSR_CODEC_ZSTD && z.len < 100);
    expect_corrupt(GOSR_CODEC_ZSTD, z.data, z.len, 10, __LINE__);
    gosr_buf out = {0};
    CHECK_STATUS(gosr_codec_decompress(GOSR_CODEC_ZSTD, z.data, z.len,
                                       (size_t)4 << 30, &out),
                 GOSR_ETOOBIG);
    CHECK(out.data == NULL);
    gosr_buf_free(&z);
}

GOSR_TEST(out_of_memory)
{
    uint8_t in[4096];
    fill_text(in, sizeof in);
    gosr_buf out = {0};
    gosr_codec used;
    gosr_alloc_fail_after(1);
    CHECK_STATUS(
        gosr_codec_compress(GOSR_CODEC_ZSTD, 0, in, sizeof in, &out, &used),
        GOSR_ENOMEM);
    gosr_alloc_fail_after(0);
    gosr_buf_free(&out);
}
