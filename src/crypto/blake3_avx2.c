/*
 * blake3_avx2.c — the AVX2 BLAKE3 path: an 8-lane kernel (eight chunks or
 * parents at once, 256-bit vectors); fewer lanes fall through to the SSE4.1
 * kernels, which every AVX2 CPU also has. Built with -mavx2
 * (src/crypto/sources.cmake); only called when the CPU and OS support AVX2.
 * Design: docs/blake3.md ("Kernels").
 */
#include "crypto/blake3_impl.h"

#if CRYPTO__B3_X86
#include <immintrin.h>

static inline __m256i rot16(__m256i x)
{
    return _mm256_shuffle_epi8(
        x, _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12,
                            13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15,
                            12, 13));
}

static inline __m256i rot8(__m256i x)
{
    return _mm256_shuffle_epi8(
        x, _mm256_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15,
                            12, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14,
                            15, 12));
}

#define ROTS(x, c)                                                             \
    _mm256_or_si256(_mm256_srli_epi32(x, c), _mm256_slli_epi32(x, 32 - c))

/* Transposes an 8x8 matrix of 32-bit words held in eight rows, in place. */
static inline __attribute__((always_inline)) void transpose8(__m256i r[8])
{
    __m256i t[8], u[8];
    B3_UNROLL for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* u[j] / u[4+j]: word 4k+j (k = 128-bit half) of lanes 0-3 / 4-7 */
    B3_UNROLL for (int g = 0; g < 2; g++) {
        u[4 * g + 0] = _mm256_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 1] = _mm256_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 2] = _mm256_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[4 * g + 3] = _mm256_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    B3_UNROLL for (int j = 0; j < 4; j++) {
        r[j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x20);
        r[4 + j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x31);
    }
}

static inline __attribute__((always_inline)) void
load_msg8(__m256i m[16], const uint8_t *p, size_t stride)
{
    B3_UNROLL for (int half = 0; half < 2; half++) {
        B3_UNROLL for (int l = 0; l < 8; l++)
            m[8 * half + l] = _mm256_loadu_si256(
                (const __m256i *)(p + l * stride + 32 * half));
        transpose8(m + 8 * half);
    }
}

static inline __attribute__((always_inline)) void
store_cvs8(const __m256i h[8], uint8_t *out)
{
    __m256i r[8];
    memcpy(r, h, sizeof r);
    transpose8(r);
    B3_UNROLL for (int l = 0; l < 8; l++)
        _mm256_storeu_si256((__m256i *)(out + 32 * l), r[l]);
}

#define B3V __m256i
#define B3V_LANES 8
#define B3V_SET1(x) _mm256_set1_epi32((int)(x))
#define B3V_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define B3V_ADD _mm256_add_epi32
#define B3V_XOR _mm256_xor_si256
#define B3V_ROT16 rot16
#define B3V_ROT12(x) ROTS(x, 12)
#define B3V_ROT8 rot8
#define B3V_ROT7(x) ROTS(x, 7)
#define B3V_LOAD_MSG load_msg8
#define B3V_STORE_CVS store_cvs8
#define B3V_KERNEL lanes8
#define B3V_ROUND round8
#include "crypto/blake3_lanes.h"

void crypto__b3_lanes8_avx2(const uint8_t *in, size_t stride, size_t blocks,
                            const uint32_t key[8], uint64_t counter, bool inc,
                            uint8_t flags, uint8_t flags_start,
                            uint8_t flags_end, uint8_t *out)
{
    lanes8(in, stride, blocks, key, counter, inc, flags, flags_start,
           flags_end, out);
}

void crypto__b3_lanes_avx2(const uint8_t *in, size_t stride, size_t n,
                           size_t blocks, const uint32_t key[8],
                           uint64_t counter, bool inc, uint8_t flags,
                           uint8_t flags_start, uint8_t flags_end,
                           uint8_t *out)
{
    while (n >= 8) {
        lanes8(in, stride, blocks, key, counter, inc, flags, flags_start,
               flags_end, out);
        in += 8 * stride;
        out += 8 * 32;
        counter += inc ? 8 : 0;
        n -= 8;
    }
    _mm256_zeroupper();
    crypto__b3_lanes_sse41(in, stride, n, blocks, key, counter, inc, flags,
                           flags_start, flags_end, out);
}

#else
typedef int crypto__b3_avx2_unused; /* non-x86 build: nothing here */
#endif
