/*
 * blake3_x86.h — private to the AVX2 and AVX-512 BLAKE3 files: moving
 * eight lanes of message blocks in and chaining values out of 256-bit
 * "one word of every lane" vectors. Include only from files compiled with
 * AVX2 enabled. Design: docs/blake3.md ("Kernels").
 */
#ifndef GOSR_CRYPTO_BLAKE3_X86_H
#define GOSR_CRYPTO_BLAKE3_X86_H

#include "crypto/blake3_impl.h"

#include <immintrin.h>

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

#endif /* GOSR_CRYPTO_BLAKE3_X86_H */
