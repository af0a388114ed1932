/*
 * blake3_tree.c — hashing whole BLAKE3 subtrees wide and, for large ones,
 * on several threads. A subtree of 2^k chunks is hashed in batches of up
 * to LEAF_BATCH chunks through the path's many-lane kernel, and each level
 * of parent nodes of a batch goes through the same kernel (a level's CVs
 * lie side by side, so parent i's block is simply bytes 64i..64i+63).
 * Larger subtrees recurse on their halves. With threads, the subtree is
 * cut into equal aligned pieces that worker threads take from a shared
 * counter; the pieces' CVs are then merged level by level.
 * Design: docs/blake3.md ("Wide subtrees" and "Threads").
 */
#include "crypto/blake3_impl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define LEAF_BATCH 512        /* chunks per wide batch (16 KiB of CVs) */
#define PAR_MIN_CHUNKS 1024   /* subtrees below 1 MiB stay on one thread */
#define PIECE_MIN_CHUNKS 256  /* smallest piece a thread takes: 256 KiB */
#define MAX_PIECES 256        /* pieces per threaded subtree */
#define MAX_THREADS 64        /* threads per threaded subtree */

/* Merges `n` side-by-side CVs (a power of two) level by level down to
 * `stop` CVs, written to out. Each level is written over the one below it
 * (the kernels allow out == in for parent levels, see blake3_impl.h), so
 * `cvs` ends up holding scratch. */
static void reduce_levels(const crypto__b3_ops *ops, uint8_t *cvs, size_t n,
                          const uint32_t key[8], uint8_t flags, unsigned stop,
                          uint8_t *out)
{
    while (n > stop) {
        ops->hash_lanes(cvs, 64, n / 2, 1, key, 0, false, flags | B3_PARENT,
                        0, 0, cvs);
        n /= 2;
    }
    memcpy(out, cvs, 32 * (size_t)stop);
}

static void parent_cv(const crypto__b3_ops *ops, const uint8_t pair[64],
                      const uint32_t key[8], uint8_t flags, uint8_t out[32])
{
    uint32_t cv[8];
    memcpy(cv, key, 32);
    ops->compress(cv, pair, 64, 0, flags | B3_PARENT);
    for (int i = 0; i < 8; i++)
        crypto__b3_store32(out + 4 * i, cv[i]);
}

static void subtree_serial(const crypto__b3_ops *ops, const uint8_t *in,
                           uint64_t n, const uint32_t key[8], uint64_t counter,
                           uint8_t flags, unsigned stop, uint8_t *out)
{
    if (n <= LEAF_BATCH) {
        uint8_t cvs[LEAF_BATCH * 32];
        ops->hash_lanes(in, GOSR_BLAKE3_CHUNK_LEN, (size_t)n, 16, key,
                        counter, true, flags, B3_CHUNK_START, B3_CHUNK_END,
                        cvs);
        reduce_levels(ops, cvs, (size_t)n, key, flags, stop, out);
        return;
    }
    uint8_t pair[64];
    uint64_t half = n / 2;
    subtree_serial(ops, in, half, key, counter, flags, 1, pair);
    subtree_serial(ops, in + half * GOSR_BLAKE3_CHUNK_LEN, half, key,
                   counter + half, flags, 1, pair + 32);
    if (stop == 2)
        memcpy(out, pair, 64);
    else
        parent_cv(ops, pair, key, flags, out);
}

/* Work shared by the threads of one threaded subtree. */
typedef struct piece_pool {
    const crypto__b3_ops *ops; /* kernels (same for every thread) */
    const uint8_t *in;         /* first byte of the subtree */
    uint64_t piece;            /* chunks per piece (power of two) */
    size_t n_pieces;           /* pieces in the subtree */
    const uint32_t *key;       /* key words */
    uint64_t counter;          /* index of the subtree's first chunk */
    uint8_t flags;             /* mode flags */
    atomic_size_t next;        /* next piece to take (all threads) */
    uint8_t *cvs;              /* CV of piece i at 32 * i (slot i written
                                  only by the thread that took piece i) */
} piece_pool;

static void run_pieces(piece_pool *p)
{
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->n_pieces)
            return;
        subtree_serial(p->ops, p->in + i * p->piece * GOSR_BLAKE3_CHUNK_LEN,
                       p->piece, p->key, p->counter + i * p->piece, p->flags,
                       1, p->cvs + 32 * i);
    }
}

static void *piece_worker(void *arg)
{
    run_pieces(arg);
    return NULL;
}

/* Splits the subtree into pieces for `threads` threads. If a thread cannot
 * be started, the others (and the caller) take its pieces. */
static void subtree_threaded(const crypto__b3_ops *ops, const uint8_t *in,
                             uint64_t n, const uint32_t key[8],
                             uint64_t counter, uint8_t flags, unsigned threads,
                             unsigned stop, uint8_t *out)
{
    size_t pieces = 1;
    while (pieces < 4 * (size_t)threads && pieces < MAX_PIECES &&
           n / (pieces * 2) >= PIECE_MIN_CHUNKS)
        pieces *= 2;
    if (pieces < 2) {
        subtree_serial(ops, in, n, key, counter, flags, stop, out);
        return;
    }
    uint8_t cvs[MAX_PIECES * 32];
    piece_pool p = {.ops = ops, .in = in, .piece = n / pieces,
                    .n_pieces = pieces, .key = key, .counter = counter,
                    .flags = flags, .cvs = cvs};
    atomic_init(&p.next, 0);
    pthread_t tid[MAX_THREADS];
    unsigned started = 0;
    for (unsigned t = 1; t < threads && t < pieces; t++)
        if (pthread_create(&tid[started], NULL, piece_worker, &p) == 0)
            started++;
    run_pieces(&p);
    for (unsigned t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    reduce_levels(ops, cvs, pieces, key, flags, stop, out);
}

void crypto__b3_subtree(const crypto__b3_ops *ops, const uint8_t *in,
                        uint64_t n_chunks, const uint32_t key[8],
                        uint64_t counter, uint8_t flags, unsigned threads,
                        unsigned stop, uint8_t *out)
{
    if (threads > 1 && n_chunks >= PAR_MIN_CHUNKS)
        subtree_threaded(ops, in, n_chunks, key, counter, flags, threads,
                         stop, out);
    else
        subtree_serial(ops, in, n_chunks, key, counter, flags, stop, out);
}

unsigned crypto__b3_threads(unsigned requested)
{
    if (requested == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        requested = n > 0 ? (unsigned)n : 1;
    }
    return requested > MAX_THREADS ? MAX_THREADS : requested;
}
