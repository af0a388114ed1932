/*
 * blake3_lanes.h — template for a many-lane BLAKE3 kernel, included by
 * blake3_portable.c, blake3_sse41.c, blake3_avx2.c and blake3_avx512.c,
 * once per vector width. Design: docs/blake3.md ("Kernels").
 *
 * Layout: vector v[i] holds state word i of every lane, so one G call on
 * vectors runs G in all lanes at once and the rounds need no shuffles.
 * Messages are transposed on load (m[w] = word w of every lane) and the
 * chaining values transposed back on store.
 *
 * The including file defines, before including:
 *   B3V                 the vector type
 *   B3V_LANES           lanes per vector
 *   B3V_SET1(x)         broadcast a uint32_t
 *   B3V_LOADU(p)        load B3V_LANES uint32_t from p
 *   B3V_ADD, B3V_XOR    lane-wise 32-bit add and xor
 *   B3V_ROT16 .. ROT7   lane-wise 32-bit right rotations
 *   B3V_LOAD_MSG(m, p, stride)  m[16] = transposed block at p + i*stride
 *   B3V_STORE_CVS(h, out)       lane i's words h[0..7][i] to out + 32*i
 *   B3V_KERNEL          the name of the kernel function to define
 *   B3V_ROUND           the name of the round function to define
 *   B3V_INTERLEAVED     (optional) step-interleaved round order
 *   B3V_PREFETCH_GROUPS (optional, default 1) how many groups of
 *                       B3V_LANES lanes ahead to prefetch
 *   B3V_LOAD_MSG_PART(m, p, stride, q)  (optional) m[4q..4q+3] only; then
 *                       the next block's message is loaded a quarter after
 *                       each of rounds 0-3 of the current block, so its
 *                       loads and shuffles overlap the rounds instead of
 *                       stalling at the block's start (AVX-512 kernels:
 *                       16-lane +2 %, 256 MiB hash +2.5 %)
 * and this file #undefs all of them afterwards, so a file may include it
 * again for another width.
 */

#ifdef B3V_INTERLEAVED
/* One round, all four column G's then all four diagonal G's, each step
 * written across the four G's so independent operations sit together
 * (best with 32 vector registers: AVX-512). */
static inline __attribute__((always_inline)) void
B3V_ROUND(B3V v[16], const B3V m[16], int r)
{
    const uint8_t *k = B3_SCHEDULE[r];
    /* columns: G(0,4,8,12) G(1,5,9,13) G(2,6,10,14) G(3,7,11,15) */
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[i] = B3V_ADD(B3V_ADD(v[i], m[k[2 * i]]), v[i + 4]);
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[i + 12] = B3V_ROT16(B3V_XOR(v[i + 12], v[i]));
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[i + 8] = B3V_ADD(v[i + 8], v[i + 12]);
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[i + 4] = B3V_ROT12(B3V_XOR(v[i + 4], v[i + 8]));
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[i] = B3V_ADD(B3V_ADD(v[i], m[k[2 * i + 1]]), v[i + 4]);
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[i + 12] = B3V_ROT8(B3V_XOR(v[i + 12], v[i]));
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[i + 8] = B3V_ADD(v[i + 8], v[i + 12]);
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[i + 4] = B3V_ROT7(B3V_XOR(v[i + 4], v[i + 8]));
    /* diagonals: G(0,5,10,15) G(1,6,11,12) G(2,7,8,13) G(3,4,9,14):
     * G i uses a = i, b = 4 + (i+1)%4, c = 8 + (i+2)%4, d = 12 + (i+3)%4 */
#define B_(i) (4 + (((i) + 1) & 3))
#define C_(i) (8 + (((i) + 2) & 3))
#define D_(i) (12 + (((i) + 3) & 3))
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[i] = B3V_ADD(B3V_ADD(v[i], m[k[8 + 2 * i]]), v[B_(i)]);
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[D_(i)] = B3V_ROT16(B3V_XOR(v[D_(i)], v[i]));
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[C_(i)] = B3V_ADD(v[C_(i)], v[D_(i)]);
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[B_(i)] = B3V_ROT12(B3V_XOR(v[B_(i)], v[C_(i)]));
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[i] = B3V_ADD(B3V_ADD(v[i], m[k[9 + 2 * i]]), v[B_(i)]);
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[D_(i)] = B3V_ROT8(B3V_XOR(v[D_(i)], v[i]));
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[C_(i)] = B3V_ADD(v[C_(i)], v[D_(i)]);
    B3_UNROLL for (int i = 0; i < 4; i++)
        v[B_(i)] = B3V_ROT7(B3V_XOR(v[B_(i)], v[C_(i)]));
#undef B_
#undef C_
#undef D_
}

#else
/* The quarter-round G on vectors a, b, c, d with message vectors x, y. */
#define B3V_G(a, b, c, d, x, y)                                                \
    do {                                                                       \
        v[a] = B3V_ADD(B3V_ADD(v[a], x), v[b]);                                \
        v[d] = B3V_ROT16(B3V_XOR(v[d], v[a]));                                 \
        v[c] = B3V_ADD(v[c], v[d]);                                            \
        v[b] = B3V_ROT12(B3V_XOR(v[b], v[c]));                                 \
        v[a] = B3V_ADD(B3V_ADD(v[a], y), v[b]);                                \
        v[d] = B3V_ROT8(B3V_XOR(v[d], v[a]));                                  \
        v[c] = B3V_ADD(v[c], v[d]);                                            \
        v[b] = B3V_ROT7(B3V_XOR(v[b], v[c]));                                  \
    } while (0)

/* One round, G after G: with 16 vector registers this order keeps fewer
 * values live than the interleaved one and spills less (measured: AVX2
 * +24 %, SSE4.1 +20 % with GCC 12). */
static inline __attribute__((always_inline)) void
B3V_ROUND(B3V v[16], const B3V m[16], int r)
{
    const uint8_t *k = B3_SCHEDULE[r];
    B3V_G(0, 4, 8, 12, m[k[0]], m[k[1]]);
    B3V_G(1, 5, 9, 13, m[k[2]], m[k[3]]);
    B3V_G(2, 6, 10, 14, m[k[4]], m[k[5]]);
    B3V_G(3, 7, 11, 15, m[k[6]], m[k[7]]);
    B3V_G(0, 5, 10, 15, m[k[8]], m[k[9]]);
    B3V_G(1, 6, 11, 12, m[k[10]], m[k[11]]);
    B3V_G(2, 7, 8, 13, m[k[12]], m[k[13]]);
    B3V_G(3, 4, 9, 14, m[k[14]], m[k[15]]);
}
#undef B3V_G
#endif

/* Hashes B3V_LANES lanes of `blocks` blocks each (see blake3_impl.h for
 * the lane contract) and writes their chaining values to out. */
static void B3V_KERNEL(const uint8_t *in, size_t stride, size_t blocks,
                       const uint32_t key[8], uint64_t counter, bool inc,
                       uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                       uint8_t *out)
{
    uint32_t lo[B3V_LANES], hi[B3V_LANES];
    crypto__b3_lane_counters(counter, inc, B3V_LANES, lo, hi);
    const B3V ctr_lo = B3V_LOADU(lo), ctr_hi = B3V_LOADU(hi);
    B3V h[8];
    B3_UNROLL for (int i = 0; i < 8; i++)
        h[i] = B3V_SET1(key[i]);
#ifndef B3V_PREFETCH_GROUPS
#define B3V_PREFETCH_GROUPS 1
#endif
#ifdef B3V_LOAD_MSG_PART
    B3V mn[16]; /* the next block's message, loaded during this block */
    B3_UNROLL for (int q = 0; q < 4; q++)
        B3V_LOAD_MSG_PART(mn, in, stride, q);
#endif
    for (size_t b = 0; b < blocks; b++) {
        uint32_t f = flags;
        if (b == 0)
            f |= flags_start;
        if (b + 1 == blocks)
            f |= flags_end;
        B3V m[16], v[16];
        /* the same block of the group of lanes B3V_PREFETCH_GROUPS
         * ahead, which a later kernel call over a contiguous input will
         * want (16 or 32 streams
         * are more than the hardware prefetchers follow on their own).
         * Into L2 only: lanes 1 KiB apart all fall in 4 sets of the L1
         * per block, so fetching the next group into L1 too would evict
         * the current one (measured: +6 % at 128 KiB, +5 % at 1 MiB). */
        B3_UNROLL for (int l = 0; l < B3V_LANES; l++)
            __builtin_prefetch(
                in + (B3V_PREFETCH_GROUPS * B3V_LANES + l) * stride + 64 * b,
                0, 2);
#ifdef B3V_LOAD_MSG_PART
        B3_UNROLL for (int i = 0; i < 16; i++)
            m[i] = mn[i];
        /* block b+1, or block b again after the last (never read) */
        const uint8_t *pn = in + 64 * (b + 1 < blocks ? b + 1 : b);
#else
        B3V_LOAD_MSG(m, in + 64 * b, stride);
#endif
        B3_UNROLL for (int i = 0; i < 8; i++)
            v[i] = h[i];
        B3_UNROLL for (int i = 0; i < 4; i++)
            v[8 + i] = B3V_SET1(B3_IV[i]);
        v[12] = ctr_lo;
        v[13] = ctr_hi;
        v[14] = B3V_SET1(64);
        v[15] = B3V_SET1(f);
#ifdef B3V_LOAD_MSG_PART
        B3V_ROUND(v, m, 0);
        B3V_LOAD_MSG_PART(mn, pn, stride, 0);
        B3V_ROUND(v, m, 1);
        B3V_LOAD_MSG_PART(mn, pn, stride, 1);
        B3V_ROUND(v, m, 2);
        B3V_LOAD_MSG_PART(mn, pn, stride, 2);
        B3V_ROUND(v, m, 3);
        B3V_LOAD_MSG_PART(mn, pn, stride, 3);
#else
        B3V_ROUND(v, m, 0);
        B3V_ROUND(v, m, 1);
        B3V_ROUND(v, m, 2);
        B3V_ROUND(v, m, 3);
#endif
        B3V_ROUND(v, m, 4);
        B3V_ROUND(v, m, 5);
        B3V_ROUND(v, m, 6);
        B3_UNROLL for (int i = 0; i < 8; i++)
            h[i] = B3V_XOR(v[i], v[i + 8]);
    }
    B3V_STORE_CVS(h, out);
}

#undef B3V
#undef B3V_LANES
#undef B3V_SET1
#undef B3V_LOADU
#undef B3V_ADD
#undef B3V_XOR
#undef B3V_ROT16
#undef B3V_ROT12
#undef B3V_ROT8
#undef B3V_ROT7
#undef B3V_LOAD_MSG
#undef B3V_LOAD_MSG_PART
#undef B3V_STORE_CVS
#undef B3V_KERNEL
#undef B3V_ROUND
#undef B3V_INTERLEAVED
#undef B3V_PREFETCH_GROUPS
