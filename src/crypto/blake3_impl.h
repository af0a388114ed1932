/*
 * blake3_impl.h — private to src/crypto/blake3*.c: BLAKE3 constants, the
 * per-path kernel table, and the kernels each path file provides.
 * Design: docs/blake3.md (sections "Kernels" and "Dispatch").
 *
 * Every path supplies three kernels:
 *   compress     one block, chaining value updated in place;
 *   compress_xof one block, the full 64-byte output (root / XOF blocks);
 *   hash_lanes   n independent "lanes" of whole blocks: lane i starts at
 *                in + i * stride and is `blocks` blocks long (at least
 *                one: the AVX-512 kernels read block 0 up front); lane i uses
 *                counter + i (or counter for all lanes when inc is false);
 *                the first block gets flags | flags_start, the last gets
 *                flags | flags_end. Writes lane i's 32-byte chaining value
 *                to out + 32 * i. Chunks are lanes of 16 blocks (stride
 *                1024), parents lanes of 1 block (stride 64). For
 *                parents (stride 64, one block) out may equal in: lane
 *                i's CV lands at or below bytes it and the lanes before
 *                it read, and every kernel reads its lanes' blocks before
 *                writing their CVs, so a level is reduced in place.
 * A path's hash_lanes takes any n: it runs its widest kernel while enough
 * lanes remain, then narrower ones, then single compressions.
 */
#ifndef GOSR_CRYPTO_BLAKE3_IMPL_H
#define GOSR_CRYPTO_BLAKE3_IMPL_H

#include "gosr/crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* x86-64 builds get the SIMD paths; GOSR_BLAKE3_NO_SIMD builds the
 * portable-only library an ARM or other target gets (used to test it). */
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(GOSR_BLAKE3_NO_SIMD)
#define CRYPTO__B3_X86 1
#else
#define CRYPTO__B3_X86 0
#endif

/* Complete unrolling of a short constant loop, so every array index is a
 * constant and vector state stays in registers at -O2 as well as -O3. */
#define B3_UNROLL _Pragma("GCC unroll 16")

/* Domain-separation flags (BLAKE3 spec, table 3). */
enum {
    B3_CHUNK_START = 1 << 0,
    B3_CHUNK_END = 1 << 1,
    B3_PARENT = 1 << 2,
    B3_ROOT = 1 << 3,
    B3_KEYED_HASH = 1 << 4,
    B3_DERIVE_KEY_CONTEXT = 1 << 5,
    B3_DERIVE_KEY_MATERIAL = 1 << 6,
};

/* The initial value (SHA-256's), used as the key in plain hash mode. A
 * static copy per file so kernels see constants they can fold. */
__attribute__((unused)) static const uint32_t B3_IV[8] = {
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
    0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};
/* Message word order per round: row r is the spec's permutation
 * (2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8) applied r times to 0..15. */
__attribute__((unused)) static const uint8_t B3_SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

typedef void (*crypto__b3_compress_fn)(uint32_t cv[8], const uint8_t block[64],
                                       uint8_t block_len, uint64_t counter,
                                       uint8_t flags);
typedef void (*crypto__b3_xof_fn)(const uint32_t cv[8],
                                  const uint8_t block[64], uint8_t block_len,
                                  uint64_t counter, uint8_t flags,
                                  uint8_t out[64]);
typedef void (*crypto__b3_lanes_fn)(const uint8_t *in, size_t stride,
                                    size_t n, size_t blocks,
                                    const uint32_t key[8], uint64_t counter,
                                    bool inc, uint8_t flags,
                                    uint8_t flags_start, uint8_t flags_end,
                                    uint8_t *out);

/* One implementation path: its kernels and how many lanes its widest
 * hash_lanes kernel runs at once. */
typedef struct crypto__b3_ops {
    gosr_blake3_path path;          /* which path this is */
    crypto__b3_compress_fn compress; /* single block, CV in place */
    crypto__b3_xof_fn compress_xof; /* single block, 64-byte output */
    crypto__b3_lanes_fn hash_lanes; /* many lanes, any count */
    unsigned degree;                /* lanes of the widest kernel */
} crypto__b3_ops;

/* The table of the path in force (dispatch in blake3_dispatch.c). */
const crypto__b3_ops *crypto__b3_ops_current(void);

/* Hashes n_chunks whole chunks at `in` (a power of two; the complete
 * subtree whose first chunk has index `counter`) down to `stop` chaining
 * values: 1 = the subtree's root CV (it is not the whole tree's root),
 * 2 = the CVs of the root's two children (n_chunks >= 2). Chunks go
 * through hash_lanes in wide batches, and each level of parents too.
 * Subtrees of at least 1 MiB are split over up to `threads` threads.
 * Writes 32 * stop bytes to out (blake3_tree.c). */
void crypto__b3_subtree(const crypto__b3_ops *ops, const uint8_t *in,
                        uint64_t n_chunks, const uint32_t key[8],
                        uint64_t counter, uint8_t flags, unsigned threads,
                        unsigned stop, uint8_t *out);
/* Thread count for a request: 0 = online CPUs; at least 1. */
unsigned crypto__b3_threads(unsigned requested);

/* Portable kernels (blake3_portable.c), always present. */
void crypto__b3_compress_portable(uint32_t cv[8], const uint8_t block[64],
                                  uint8_t block_len, uint64_t counter,
                                  uint8_t flags);
void crypto__b3_xof_portable(const uint32_t cv[8], const uint8_t block[64],
                             uint8_t block_len, uint64_t counter,
                             uint8_t flags, uint8_t out[64]);
void crypto__b3_lanes_portable(const uint8_t *in, size_t stride, size_t n,
                               size_t blocks, const uint32_t key[8],
                               uint64_t counter, bool inc, uint8_t flags,
                               uint8_t flags_start, uint8_t flags_end,
                               uint8_t *out);

#if CRYPTO__B3_X86
/* SSE4.1 (blake3_sse41.c): row-wise single compress, 4-lane kernel. */
void crypto__b3_compress_sse41(uint32_t cv[8], const uint8_t block[64],
                               uint8_t block_len, uint64_t counter,
                               uint8_t flags);
void crypto__b3_xof_sse41(const uint32_t cv[8], const uint8_t block[64],
                          uint8_t block_len, uint64_t counter, uint8_t flags,
                          uint8_t out[64]);
void crypto__b3_lanes4_sse41(const uint8_t *in, size_t stride, size_t blocks,
                             const uint32_t key[8], uint64_t counter, bool inc,
                             uint8_t flags, uint8_t flags_start,
                             uint8_t flags_end, uint8_t *out);
void crypto__b3_lanes_sse41(const uint8_t *in, size_t stride, size_t n,
                            size_t blocks, const uint32_t key[8],
                            uint64_t counter, bool inc, uint8_t flags,
                            uint8_t flags_start, uint8_t flags_end,
                            uint8_t *out);
/* AVX2 (blake3_avx2.c): 8-lane kernel, then SSE4.1's; single blocks use
 * SSE4.1. */
void crypto__b3_lanes_avx2(const uint8_t *in, size_t stride, size_t n,
                           size_t blocks, const uint32_t key[8],
                           uint64_t counter, bool inc, uint8_t flags,
                           uint8_t flags_start, uint8_t flags_end,
                           uint8_t *out);
/* AVX-512 (blake3_avx512.c): 32-, 16- and 8-lane kernels, and a single
 * compress using 128-bit rotates and one permute per round. */
void crypto__b3_compress_avx512(uint32_t cv[8], const uint8_t block[64],
                                uint8_t block_len, uint64_t counter,
                                uint8_t flags);
void crypto__b3_xof_avx512(const uint32_t cv[8], const uint8_t block[64],
                           uint8_t block_len, uint64_t counter, uint8_t flags,
                           uint8_t out[64]);
void crypto__b3_lanes_avx512(const uint8_t *in, size_t stride, size_t n,
                             size_t blocks, const uint32_t key[8],
                             uint64_t counter, bool inc, uint8_t flags,
                             uint8_t flags_start, uint8_t flags_end,
                             uint8_t *out);
#endif

/* Counter words of lane i: low and high halves of counter + i (or of
 * counter when inc is false). */
static inline void crypto__b3_lane_counters(uint64_t counter, bool inc,
                                            unsigned n, uint32_t *lo,
                                            uint32_t *hi)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t c = counter + (inc ? i : 0);
        lo[i] = (uint32_t)c;
        hi[i] = (uint32_t)(c >> 32);
    }
}

static inline uint32_t crypto__b3_load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void crypto__b3_store32(uint8_t *p, uint32_t w)
{
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
}

#endif /* GOSR_CRYPTO_BLAKE3_IMPL_H */
