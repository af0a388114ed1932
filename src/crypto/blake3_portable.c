/*
 * blake3_portable.c — the portable C BLAKE3 kernels: the compression
 * function (7 rounds over the 16-word state, spec section 2.2) and the
 * lane loop built on it. Used on every CPU and as the reference the SIMD
 * paths are tested against. Design: docs/blake3.md ("Kernels").
 */
#include "crypto/blake3_impl.h"

static inline uint32_t rotr32(uint32_t w, unsigned c)
{
    return (w >> c) | (w << (32 - c));
}

/* The quarter-round G on state words a, b, c, d with message words x, y. */
#define G(a, b, c, d, x, y)                                                    \
    do {                                                                       \
        s[a] = s[a] + s[b] + (x);                                              \
        s[d] = rotr32(s[d] ^ s[a], 16);                                        \
        s[c] = s[c] + s[d];                                                    \
        s[b] = rotr32(s[b] ^ s[c], 12);                                        \
        s[a] = s[a] + s[b] + (y);                                              \
        s[d] = rotr32(s[d] ^ s[a], 8);                                         \
        s[c] = s[c] + s[d];                                                    \
        s[b] = rotr32(s[b] ^ s[c], 7);                                         \
    } while (0)

/* One round: G on the four columns, then the four diagonals. Inlined with
 * a constant r so every message index is a compile-time constant. */
static inline __attribute__((always_inline)) void
round_fn(uint32_t s[16], const uint32_t m[16], int r)
{
    const uint8_t *k = B3_SCHEDULE[r];
    G(0, 4, 8, 12, m[k[0]], m[k[1]]);
    G(1, 5, 9, 13, m[k[2]], m[k[3]]);
    G(2, 6, 10, 14, m[k[4]], m[k[5]]);
    G(3, 7, 11, 15, m[k[6]], m[k[7]]);
    G(0, 5, 10, 15, m[k[8]], m[k[9]]);
    G(1, 6, 11, 12, m[k[10]], m[k[11]]);
    G(2, 7, 8, 13, m[k[12]], m[k[13]]);
    G(3, 4, 9, 14, m[k[14]], m[k[15]]);
}

/* Runs the 7 rounds; s receives the final state before feed-forward. */
static inline __attribute__((always_inline)) void
compress_rounds(uint32_t s[16], const uint32_t cv[8], const uint8_t block[64],
                uint8_t block_len, uint64_t counter, uint8_t flags)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = crypto__b3_load32(block + 4 * i);
    for (int i = 0; i < 8; i++)
        s[i] = cv[i];
    for (int i = 0; i < 4; i++)
        s[8 + i] = B3_IV[i];
    s[12] = (uint32_t)counter;
    s[13] = (uint32_t)(counter >> 32);
    s[14] = block_len;
    s[15] = flags;
    round_fn(s, m, 0);
    round_fn(s, m, 1);
    round_fn(s, m, 2);
    round_fn(s, m, 3);
    round_fn(s, m, 4);
    round_fn(s, m, 5);
    round_fn(s, m, 6);
}

void crypto__b3_compress_portable(uint32_t cv[8], const uint8_t block[64],
                                  uint8_t block_len, uint64_t counter,
                                  uint8_t flags)
{
    uint32_t s[16];
    compress_rounds(s, cv, block, block_len, counter, flags);
    for (int i = 0; i < 8; i++)
        cv[i] = s[i] ^ s[i + 8];
}

void crypto__b3_xof_portable(const uint32_t cv[8], const uint8_t block[64],
                             uint8_t block_len, uint64_t counter,
                             uint8_t flags, uint8_t out[64])
{
    uint32_t s[16];
    compress_rounds(s, cv, block, block_len, counter, flags);
    for (int i = 0; i < 8; i++) {
        crypto__b3_store32(out + 4 * i, s[i] ^ s[i + 8]);
        crypto__b3_store32(out + 32 + 4 * i, s[i + 8] ^ cv[i]);
    }
}

/* ---- 4-lane kernel -------------------------------------------------------
 * The same lane layout as the SIMD kernels, written with the GNU C generic
 * vector type (GCC and Clang, every target): the compiler maps it to the
 * target's vector unit (SSE2 on any x86-64, NEON on ARM) or to scalar
 * code. No intrinsics and no instruction-set flags. */

typedef uint32_t lane4 __attribute__((vector_size(16)));

static inline lane4 l4_set1(uint32_t x)
{
    return (lane4){x, x, x, x};
}

static inline lane4 l4_loadu(const uint32_t *p)
{
    return (lane4){p[0], p[1], p[2], p[3]};
}

#define L4_ROT(x, c) (((x) >> (c)) | ((x) << (32 - (c))))

static inline void l4_load_msg(lane4 m[16], const uint8_t *p, size_t stride)
{
    B3_UNROLL for (int w = 0; w < 16; w++)
        m[w] = (lane4){crypto__b3_load32(p + 4 * w),
                       crypto__b3_load32(p + stride + 4 * w),
                       crypto__b3_load32(p + 2 * stride + 4 * w),
                       crypto__b3_load32(p + 3 * stride + 4 * w)};
}

static inline void l4_store_cvs(const lane4 h[8], uint8_t *out)
{
    B3_UNROLL for (int l = 0; l < 4; l++)
        B3_UNROLL for (int w = 0; w < 8; w++)
            crypto__b3_store32(out + 32 * l + 4 * w, h[w][l]);
}

#define B3V lane4
#define B3V_LANES 4
#define B3V_SET1 l4_set1
#define B3V_LOADU l4_loadu
#define B3V_ADD(a, b) ((a) + (b))
#define B3V_XOR(a, b) ((a) ^ (b))
#define B3V_ROT16(x) L4_ROT(x, 16)
#define B3V_ROT12(x) L4_ROT(x, 12)
#define B3V_ROT8(x) L4_ROT(x, 8)
#define B3V_ROT7(x) L4_ROT(x, 7)
#define B3V_LOAD_MSG l4_load_msg
#define B3V_STORE_CVS l4_store_cvs
#define B3V_KERNEL lanes4
#define B3V_ROUND round4
#include "crypto/blake3_lanes.h"

void crypto__b3_lanes_portable(const uint8_t *in, size_t stride, size_t n,
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
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = in + i * stride;
        uint64_t ctr = counter + (inc ? i : 0);
        uint32_t cv[8];
        memcpy(cv, key, 32);
        for (size_t b = 0; b < blocks; b++) {
            uint8_t f = flags;
            if (b == 0)
                f |= flags_start;
            if (b + 1 == blocks)
                f |= flags_end;
            crypto__b3_compress_portable(cv, p + 64 * b, 64, ctr, f);
        }
        for (int w = 0; w < 8; w++)
            crypto__b3_store32(out + 32 * i + 4 * w, cv[w]);
    }
}
