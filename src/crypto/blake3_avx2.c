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

#include "crypto/blake3_x86.h"

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
