/*
 * blake3_avx512.c — the AVX-512 BLAKE3 path (AVX512F + AVX512VL): a
 * 32-lane kernel (two interleaved sets of sixteen chunks or parents in
 * 512-bit vectors with single-instruction rotates), a 16-lane and an
 * 8-lane (256-bit) kernel with the same rotates for leftovers, and a
 * row-wise single-block compress that gathers each round's message words
 * with one permute. Four to seven leftover lanes run on the SSE4.1 kernel,
 * the last few one by one. Built with -mavx512f -mavx512vl
 * (src/crypto/sources.cmake); only called when the CPU and OS support it.
 * Design: docs/blake3.md ("Kernels").
 */
#include "crypto/blake3_impl.h"

#if CRYPTO__B3_X86
#include "crypto/blake3_x86.h"

/* ---- row-wise single compress ------------------------------------------ */

#define HALF_G(r0, r1, r2, r3, x, RD, RB)                                      \
    do {                                                                       \
        r0 = _mm_add_epi32(_mm_add_epi32(r0, x), r1);                          \
        r3 = _mm_ror_epi32(_mm_xor_si128(r3, r0), RD);                         \
        r2 = _mm_add_epi32(r2, r3);                                            \
        r1 = _mm_ror_epi32(_mm_xor_si128(r1, r2), RB);                         \
    } while (0)

static inline __attribute__((always_inline)) void
row_round(__m128i *r0, __m128i *r1, __m128i *r2, __m128i *r3, __m512i m,
          int r)
{
    const uint8_t *k = B3_SCHEDULE[r];
    /* one permute puts this round's words in G order: columns' first and
     * second words, then the diagonals' first and second words */
    __m512i p = _mm512_permutexvar_epi32(
        _mm512_setr_epi32(k[0], k[2], k[4], k[6], k[1], k[3], k[5], k[7],
                          k[8], k[10], k[12], k[14], k[9], k[11], k[13],
                          k[15]),
        m);
    HALF_G(*r0, *r1, *r2, *r3, _mm512_castsi512_si128(p), 16, 12);
    HALF_G(*r0, *r1, *r2, *r3, _mm512_extracti32x4_epi32(p, 1), 8, 7);
    *r1 = _mm_shuffle_epi32(*r1, _MM_SHUFFLE(0, 3, 2, 1));
    *r2 = _mm_shuffle_epi32(*r2, _MM_SHUFFLE(1, 0, 3, 2));
    *r3 = _mm_shuffle_epi32(*r3, _MM_SHUFFLE(2, 1, 0, 3));
    HALF_G(*r0, *r1, *r2, *r3, _mm512_extracti32x4_epi32(p, 2), 16, 12);
    HALF_G(*r0, *r1, *r2, *r3, _mm512_extracti32x4_epi32(p, 3), 8, 7);
    *r1 = _mm_shuffle_epi32(*r1, _MM_SHUFFLE(2, 1, 0, 3));
    *r2 = _mm_shuffle_epi32(*r2, _MM_SHUFFLE(1, 0, 3, 2));
    *r3 = _mm_shuffle_epi32(*r3, _MM_SHUFFLE(0, 3, 2, 1));
}

static inline __attribute__((always_inline)) void
rows_compress(__m128i row[4], const uint32_t cv[8], const uint8_t block[64],
              uint8_t block_len, uint64_t counter, uint8_t flags)
{
    __m512i m = _mm512_loadu_si512((const void *)block);
    __m128i r0 = _mm_loadu_si128((const __m128i *)cv);
    __m128i r1 = _mm_loadu_si128((const __m128i *)(cv + 4));
    __m128i r2 = _mm_loadu_si128((const __m128i *)B3_IV);
    __m128i r3 = _mm_setr_epi32((int)(uint32_t)counter,
                                (int)(uint32_t)(counter >> 32), block_len,
                                flags);
    row_round(&r0, &r1, &r2, &r3, m, 0);
    row_round(&r0, &r1, &r2, &r3, m, 1);
    row_round(&r0, &r1, &r2, &r3, m, 2);
    row_round(&r0, &r1, &r2, &r3, m, 3);
    row_round(&r0, &r1, &r2, &r3, m, 4);
    row_round(&r0, &r1, &r2, &r3, m, 5);
    row_round(&r0, &r1, &r2, &r3, m, 6);
    row[0] = r0;
    row[1] = r1;
    row[2] = r2;
    row[3] = r3;
}

void crypto__b3_compress_avx512(uint32_t cv[8], const uint8_t block[64],
                                uint8_t block_len, uint64_t counter,
                                uint8_t flags)
{
    __m128i row[4];
    rows_compress(row, cv, block, block_len, counter, flags);
    _mm_storeu_si128((__m128i *)cv, _mm_xor_si128(row[0], row[2]));
    _mm_storeu_si128((__m128i *)(cv + 4), _mm_xor_si128(row[1], row[3]));
}

void crypto__b3_xof_avx512(const uint32_t cv[8], const uint8_t block[64],
                           uint8_t block_len, uint64_t counter, uint8_t flags,
                           uint8_t out[64])
{
    __m128i row[4];
    rows_compress(row, cv, block, block_len, counter, flags);
    __m128i c0 = _mm_loadu_si128((const __m128i *)cv);
    __m128i c1 = _mm_loadu_si128((const __m128i *)(cv + 4));
    _mm_storeu_si128((__m128i *)out, _mm_xor_si128(row[0], row[2]));
    _mm_storeu_si128((__m128i *)(out + 16), _mm_xor_si128(row[1], row[3]));
    _mm_storeu_si128((__m128i *)(out + 32), _mm_xor_si128(row[2], c0));
    _mm_storeu_si128((__m128i *)(out + 48), _mm_xor_si128(row[3], c1));
}

/* ---- 16-lane kernel ----------------------------------------------------- */

/* Transposes a 16x16 matrix of 32-bit words held in sixteen rows. */
static inline __attribute__((always_inline)) void transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
    /* pairs of rows: per 128-bit block k, words 4k..4k+3 interleaved */
    B3_UNROLL for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* u[4g + j]: block k holds word 4k+j of rows 4g..4g+3 */
    B3_UNROLL for (int g = 0; g < 4; g++) {
        u[4 * g + 0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    /* for each j, a 4x4 transpose of 128-bit blocks across u[j], u[4+j],
     * u[8+j], u[12+j] gives words j, 4+j, 8+j, 12+j of all rows */
    B3_UNROLL for (int j = 0; j < 4; j++) {
        __m512i s0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44);
        __m512i s1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xEE);
        __m512i s2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44);
        __m512i s3 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xEE);
        r[j] = _mm512_shuffle_i32x4(s0, s2, 0x88);
        r[4 + j] = _mm512_shuffle_i32x4(s0, s2, 0xDD);
        r[8 + j] = _mm512_shuffle_i32x4(s1, s3, 0x88);
        r[12 + j] = _mm512_shuffle_i32x4(s1, s3, 0xDD);
    }
}

/* 16 unaligned bytes at p. */
static inline __attribute__((always_inline)) __m128i load128(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

/* m[w] = word w of the block at p + l*stride, for lanes l = 0..15.
 * Lane l's words 4q..4q+3 form one 16-byte piece. For each q, a[i] takes
 * the pieces of lanes i, 4+i, 8+i, 12+i into its four 128-bit blocks,
 * straight from memory (two 256-bit halves built with 128-bit inserts,
 * then joined: cheaper than three 512-bit inserts, kernel +2 %). That
 * does the 128-bit half of the 16x16 transpose without the two stages of
 * cross-block shuffles; a 4x4 transpose inside every block (two unpack
 * steps) then gives words 4q..4q+3 of all sixteen lanes in lane order.
 * The shuffle units are shared with the rotates (measured: the 32-lane
 * kernel with no transpose at all is 15 % faster); this saves 32 of the
 * 64 shuffles per block (kernel 7.04 -> 7.25 GB/s, 1 MiB hash +6 %). */
static inline __attribute__((always_inline)) void
load_msg16_part(__m512i m[16], const uint8_t *p, size_t stride, int q)
{
    {
        __m512i a[4], t[4];
        B3_UNROLL for (int i = 0; i < 4; i++) {
            const uint8_t *s = p + (size_t)i * stride + 16 * q;
            __m256i lo = _mm256_inserti128_si256(
                _mm256_castsi128_si256(load128(s)), load128(s + 4 * stride), 1);
            __m256i hi = _mm256_inserti128_si256(
                _mm256_castsi128_si256(load128(s + 8 * stride)),
                load128(s + 12 * stride), 1);
            a[i] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        }
        t[0] = _mm512_unpacklo_epi32(a[0], a[1]);
        t[1] = _mm512_unpackhi_epi32(a[0], a[1]);
        t[2] = _mm512_unpacklo_epi32(a[2], a[3]);
        t[3] = _mm512_unpackhi_epi32(a[2], a[3]);
        m[4 * q + 0] = _mm512_unpacklo_epi64(t[0], t[2]);
        m[4 * q + 1] = _mm512_unpackhi_epi64(t[0], t[2]);
        m[4 * q + 2] = _mm512_unpacklo_epi64(t[1], t[3]);
        m[4 * q + 3] = _mm512_unpackhi_epi64(t[1], t[3]);
    }
}

static inline __attribute__((always_inline)) void
store_cvs16(const __m512i h[8], uint8_t *out)
{
    __m512i r[16];
    B3_UNROLL for (int i = 0; i < 8; i++) {
        r[i] = h[i];
        r[8 + i] = _mm512_setzero_si512();
    }
    transpose16(r);
    B3_UNROLL for (int l = 0; l < 16; l++)
        _mm256_storeu_si256((__m256i *)(out + 32 * l),
                            _mm512_castsi512_si256(r[l]));
}

#define B3V __m512i
#define B3V_LANES 16
#define B3V_SET1(x) _mm512_set1_epi32((int)(x))
#define B3V_LOADU(p) _mm512_loadu_si512((const void *)(p))
#define B3V_ADD _mm512_add_epi32
#define B3V_XOR _mm512_xor_si512
#define B3V_ROT16(x) _mm512_ror_epi32(x, 16)
#define B3V_ROT12(x) _mm512_ror_epi32(x, 12)
#define B3V_ROT8(x) _mm512_ror_epi32(x, 8)
#define B3V_ROT7(x) _mm512_ror_epi32(x, 7)
#define B3V_LOAD_MSG_PART load_msg16_part
#define B3V_STORE_CVS store_cvs16
#define B3V_INTERLEAVED 1
#define B3V_PREFETCH_GROUPS 2 /* measured: +2 % at 128 KiB-256 MiB */
#define B3V_KERNEL lanes16
#define B3V_ROUND round16
#include "crypto/blake3_lanes.h"

/* ---- 32-lane kernel: two 16-lane sets interleaved ------------------------
 * One block of one 16-lane set is a chain of dependent operations (and the
 * next block needs its result). A second, independent set with each
 * operation issued for both back to back gives the out-of-order core work
 * to fill that chain's latency (measured: +8 % over the 16-lane kernel). */

typedef struct lanes32v {
    __m512i a; /* lanes 0-15 */
    __m512i b; /* lanes 16-31 */
} lanes32v;

static inline __attribute__((always_inline)) lanes32v l32_set1(uint32_t x)
{
    lanes32v r = {_mm512_set1_epi32((int)x), _mm512_set1_epi32((int)x)};
    return r;
}

static inline __attribute__((always_inline)) lanes32v
l32_loadu(const uint32_t *p)
{
    lanes32v r = {_mm512_loadu_si512((const void *)p),
                  _mm512_loadu_si512((const void *)(p + 16))};
    return r;
}

static inline __attribute__((always_inline)) void
load_msg32_part(lanes32v m[16], const uint8_t *p, size_t stride, int q)
{
    __m512i t[16];
    load_msg16_part(t, p, stride, q);
    B3_UNROLL for (int i = 4 * q; i < 4 * q + 4; i++)
        m[i].a = t[i];
    load_msg16_part(t, p + 16 * stride, stride, q);
    B3_UNROLL for (int i = 4 * q; i < 4 * q + 4; i++)
        m[i].b = t[i];
}

static inline __attribute__((always_inline)) void
store_cvs32(const lanes32v h[8], uint8_t *out)
{
    __m512i t[8];
    B3_UNROLL for (int i = 0; i < 8; i++)
        t[i] = h[i].a;
    store_cvs16(t, out);
    B3_UNROLL for (int i = 0; i < 8; i++)
        t[i] = h[i].b;
    store_cvs16(t, out + 16 * 32);
}

#define L32_OP(f, x, y) ((lanes32v){f((x).a, (y).a), f((x).b, (y).b)})
#define L32_ROR(x, c)                                                          \
    ((lanes32v){_mm512_ror_epi32((x).a, c), _mm512_ror_epi32((x).b, c)})

#define B3V lanes32v
#define B3V_LANES 32
#define B3V_SET1 l32_set1
#define B3V_LOADU l32_loadu
#define B3V_ADD(x, y) L32_OP(_mm512_add_epi32, x, y)
#define B3V_XOR(x, y) L32_OP(_mm512_xor_si512, x, y)
#define B3V_ROT16(x) L32_ROR(x, 16)
#define B3V_ROT12(x) L32_ROR(x, 12)
#define B3V_ROT8(x) L32_ROR(x, 8)
#define B3V_ROT7(x) L32_ROR(x, 7)
#define B3V_LOAD_MSG_PART load_msg32_part
#define B3V_STORE_CVS store_cvs32
#define B3V_INTERLEAVED 1
#define B3V_PREFETCH_GROUPS 2 /* measured: +2 % at 128 KiB-256 MiB */
#define B3V_KERNEL lanes32
#define B3V_ROUND round32
#include "crypto/blake3_lanes.h"

/* ---- 8-lane kernel: 256-bit vectors with single-instruction rotates ---- */

#define B3V __m256i
#define B3V_LANES 8
#define B3V_SET1(x) _mm256_set1_epi32((int)(x))
#define B3V_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define B3V_ADD _mm256_add_epi32
#define B3V_XOR _mm256_xor_si256
#define B3V_ROT16(x) _mm256_ror_epi32(x, 16)
#define B3V_ROT12(x) _mm256_ror_epi32(x, 12)
#define B3V_ROT8(x) _mm256_ror_epi32(x, 8)
#define B3V_ROT7(x) _mm256_ror_epi32(x, 7)
#define B3V_LOAD_MSG load_msg8
#define B3V_STORE_CVS store_cvs8
#define B3V_KERNEL lanes8
#define B3V_ROUND round8
#include "crypto/blake3_lanes.h"

void crypto__b3_lanes_avx512(const uint8_t *in, size_t stride, size_t n,
                             size_t blocks, const uint32_t key[8],
                             uint64_t counter, bool inc, uint8_t flags,
                             uint8_t flags_start, uint8_t flags_end,
                             uint8_t *out)
{
    while (n >= 32) {
        lanes32(in, stride, blocks, key, counter, inc, flags, flags_start,
                flags_end, out);
        in += 32 * stride;
        out += 32 * 32;
        counter += inc ? 32 : 0;
        n -= 32;
    }
    if (n >= 16) {
        lanes16(in, stride, blocks, key, counter, inc, flags, flags_start,
                flags_end, out);
        in += 16 * stride;
        out += 16 * 32;
        counter += inc ? 16 : 0;
        n -= 16;
    }
    if (n >= 8) {
        lanes8(in, stride, blocks, key, counter, inc, flags, flags_start,
               flags_end, out);
        in += 8 * stride;
        out += 8 * 32;
        counter += inc ? 8 : 0;
        n -= 8;
    }
    if (n >= 4) {
        crypto__b3_lanes4_sse41(in, stride, blocks, key, counter, inc, flags,
                                flags_start, flags_end, out);
        in += 4 * stride;
        out += 4 * 32;
        counter += inc ? 4 : 0;
        n -= 4;
    }
    for (size_t i = 0; i < n; i++) { /* the last 0-3 lanes one by one */
        uint32_t cv[8];
        memcpy(cv, key, 32);
        for (size_t b = 0; b < blocks; b++) {
            uint8_t f = flags | (b == 0 ? flags_start : 0) |
                        (b + 1 == blocks ? flags_end : 0);
            crypto__b3_compress_avx512(cv, in + i * stride + 64 * b, 64,
                                       counter + (inc ? i : 0), f);
        }
        memcpy(out + 32 * i, cv, 32);
    }
}

#else
typedef int crypto__b3_avx512_unused; /* non-x86 build: nothing here */
#endif
