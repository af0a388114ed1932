/*
 * blake3_sse41.c — the SSE4.1 BLAKE3 path: a row-wise single-block
 * compress (one 128-bit vector per state row, diagonals by lane rotation)
 * and a 4-lane kernel (four chunks or parents at once). Built with -msse4.1
 * (src/crypto/sources.cmake); only called when the CPU has SSE4.1.
 * Design: docs/blake3.md ("Kernels").
 */
#include "crypto/blake3_impl.h"

#if CRYPTO__B3_X86
#include <immintrin.h>

static inline __m128i rot16(__m128i x)
{
    return _mm_shuffle_epi8(
        x, _mm_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
}

static inline __m128i rot8(__m128i x)
{
    return _mm_shuffle_epi8(
        x, _mm_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12));
}

#define ROTS(x, c) _mm_or_si128(_mm_srli_epi32(x, c), _mm_slli_epi32(x, 32 - c))

/* ---- row-wise single compress ------------------------------------------ */

/* Half a G on the rows: a += b + x; d = (d ^ a) >>> r1; c += d;
 * b = (b ^ c) >>> r2, for the pair of rotations (16, 12) or (8, 7). */
#define HALF_G(r0, r1, r2, r3, x, ROTD, ROTB)                                  \
    do {                                                                       \
        r0 = _mm_add_epi32(_mm_add_epi32(r0, x), r1);                          \
        r3 = ROTD(_mm_xor_si128(r3, r0));                                      \
        r2 = _mm_add_epi32(r2, r3);                                            \
        r1 = ROTB(_mm_xor_si128(r1, r2));                                      \
    } while (0)
#define ROT12(x) ROTS(x, 12)
#define ROT7(x) ROTS(x, 7)

/* Message vector of four words m[k[a]], m[k[a+2]], m[k[a+4]], m[k[a+6]]. */
#define MSG4(m, k, a)                                                          \
    _mm_setr_epi32((int)m[k[a]], (int)m[k[a + 2]], (int)m[k[a + 4]],           \
                   (int)m[k[a + 6]])

static inline __attribute__((always_inline)) void
row_round(__m128i *r0, __m128i *r1, __m128i *r2, __m128i *r3,
          const uint32_t m[16], int r)
{
    const uint8_t *k = B3_SCHEDULE[r];
    HALF_G(*r0, *r1, *r2, *r3, MSG4(m, k, 0), rot16, ROT12);
    HALF_G(*r0, *r1, *r2, *r3, MSG4(m, k, 1), rot8, ROT7);
    /* rotate rows 1..3 left by 1..3 lanes: the diagonals become columns */
    *r1 = _mm_shuffle_epi32(*r1, _MM_SHUFFLE(0, 3, 2, 1));
    *r2 = _mm_shuffle_epi32(*r2, _MM_SHUFFLE(1, 0, 3, 2));
    *r3 = _mm_shuffle_epi32(*r3, _MM_SHUFFLE(2, 1, 0, 3));
    HALF_G(*r0, *r1, *r2, *r3, MSG4(m, k, 8), rot16, ROT12);
    HALF_G(*r0, *r1, *r2, *r3, MSG4(m, k, 9), rot8, ROT7);
    *r1 = _mm_shuffle_epi32(*r1, _MM_SHUFFLE(2, 1, 0, 3));
    *r2 = _mm_shuffle_epi32(*r2, _MM_SHUFFLE(1, 0, 3, 2));
    *r3 = _mm_shuffle_epi32(*r3, _MM_SHUFFLE(0, 3, 2, 1));
}

/* Runs the rounds; rows receive the final state before feed-forward. */
static inline __attribute__((always_inline)) void
rows_compress(__m128i row[4], const uint32_t cv[8], const uint8_t block[64],
              uint8_t block_len, uint64_t counter, uint8_t flags)
{
    uint32_t m[16];
    memcpy(m, block, 64); /* x86 is little-endian */
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

void crypto__b3_compress_sse41(uint32_t cv[8], const uint8_t block[64],
                               uint8_t block_len, uint64_t counter,
                               uint8_t flags)
{
    __m128i row[4];
    rows_compress(row, cv, block, block_len, counter, flags);
    _mm_storeu_si128((__m128i *)cv, _mm_xor_si128(row[0], row[2]));
    _mm_storeu_si128((__m128i *)(cv + 4), _mm_xor_si128(row[1], row[3]));
}

void crypto__b3_xof_sse41(const uint32_t cv[8], const uint8_t block[64],
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

/* ---- 4-lane kernel ------------------------------------------------------ */

/* Transposes a 4x4 matrix of 32-bit words held in four rows. */
static inline void transpose4(__m128i *a, __m128i *b, __m128i *c, __m128i *d)
{
    __m128i t0 = _mm_unpacklo_epi32(*a, *b), t1 = _mm_unpacklo_epi32(*c, *d);
    __m128i t2 = _mm_unpackhi_epi32(*a, *b), t3 = _mm_unpackhi_epi32(*c, *d);
    *a = _mm_unpacklo_epi64(t0, t1);
    *b = _mm_unpackhi_epi64(t0, t1);
    *c = _mm_unpacklo_epi64(t2, t3);
    *d = _mm_unpackhi_epi64(t2, t3);
}

static inline void load_msg4(__m128i m[16], const uint8_t *p, size_t stride)
{
    B3_UNROLL for (int q = 0; q < 4; q++) {
        B3_UNROLL for (int l = 0; l < 4; l++)
            m[4 * q + l] =
                _mm_loadu_si128((const __m128i *)(p + l * stride + 16 * q));
        transpose4(&m[4 * q], &m[4 * q + 1], &m[4 * q + 2], &m[4 * q + 3]);
    }
}

static inline void store_cvs4(const __m128i h[8], uint8_t *out)
{
    __m128i a[8];
    memcpy(a, h, sizeof a);
    transpose4(&a[0], &a[1], &a[2], &a[3]);
    transpose4(&a[4], &a[5], &a[6], &a[7]);
    B3_UNROLL for (int l = 0; l < 4; l++) {
        _mm_storeu_si128((__m128i *)(out + 32 * l), a[l]);
        _mm_storeu_si128((__m128i *)(out + 32 * l + 16), a[4 + l]);
    }
}

#define B3V __m128i
#define B3V_LANES 4
#define B3V_SET1(x) _mm_set1_epi32((int)(x))
#define B3V_LOADU(p) _mm_loadu_si128((const __m128i *)(p))
#define B3V_ADD _mm_add_epi32
#define B3V_XOR _mm_xor_si128
#define B3V_ROT16 rot16
#define B3V_ROT12(x) ROTS(x, 12)
#define B3V_ROT8 rot8
#define B3V_ROT7(x) ROTS(x, 7)
#define B3V_LOAD_MSG load_msg4
#define B3V_STORE_CVS store_cvs4
#define B3V_KERNEL lanes4
#define B3V_ROUND round4
#include "crypto/blake3_lanes.h"

void crypto__b3_lanes4_sse41(const uint8_t *in, size_t stride, size_t blocks,
                             const uint32_t key[8], uint64_t counter, bool inc,
                             uint8_t flags, uint8_t flags_start,
                             uint8_t flags_end, uint8_t *out)
{
    lanes4(in, stride, blocks, key, counter, inc, flags, flags_start,
           flags_end, out);
}

/* Runs lanes through a single-block compress, one after another. */
static void lanes_single(const uint8_t *in, size_t stride, size_t n,
                         size_t blocks, const uint32_t key[8],
                         uint64_t counter, bool inc, uint8_t flags,
                         uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t cv[8];
        memcpy(cv, key, 32);
        for (size_t b = 0; b < blocks; b++) {
            uint8_t f = flags | (b == 0 ? flags_start : 0) |
                        (b + 1 == blocks ? flags_end : 0);
            crypto__b3_compress_sse41(cv, in + i * stride + 64 * b, 64,
                                      counter + (inc ? i : 0), f);
        }
        memcpy(out + 32 * i, cv, 32);
    }
}

void crypto__b3_lanes_sse41(const uint8_t *in, size_t stride, size_t n,
                            size_t blocks, const uint32_t key[8],
                            uint64_t counter, bool inc, uint8_t flags,
                            uint8_t flags_start, uint8_t flags_end,
                            uint8_t *out)
{
    while (n >= 4) {
        lanes4(in, stride, blocks, key, counter, inc, flags, flags_start,
               flags_end, out);
        in += 4 * stride;
        out += 4 * 32;
        counter += inc ? 4 : 0;
        n -= 4;
    }
    lanes_single(in, stride, n, blocks, key, counter, inc, flags, flags_start,
                 flags_end, out);
}

#else
typedef int crypto__b3_sse41_unused; /* non-x86 build: nothing here */
#endif
