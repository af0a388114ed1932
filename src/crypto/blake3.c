/*
 * blake3.c — the incremental BLAKE3 hasher: the three modes (hash,
 * keyed_hash, derive_key), the chunk state, the merge stack of subtree
 * chaining values with lazy merging, wide subtree steps for large updates,
 * and the extendable output. The kernels it calls are picked at run time
 * (blake3_dispatch.c); whole subtrees are hashed by blake3_tree.c.
 * Design: docs/blake3.md. Specification: the BLAKE3 paper (2020), sec. 2, 5.
 *
 * Sections: output nodes; chunk state; merge stack; update; finalize;
 * one-shot helpers and hex.
 */
#include "crypto/blake3_impl.h"

/* ---- output nodes ------------------------------------------------------- */

/* The inputs of a node's last compression, kept so the root can be
 * extended to any length (or compressed to a chaining value otherwise). */
typedef struct output {
    uint32_t cv[8];    /* input chaining value */
    uint8_t block[64]; /* last block, zero padded */
    uint8_t block_len; /* bytes of block in use */
    uint64_t counter;  /* chunk counter (0 for parents) */
    uint8_t flags;     /* flags, without ROOT */
} output;

static void words_from_bytes(uint32_t w[8], const uint8_t b[32])
{
    for (int i = 0; i < 8; i++)
        w[i] = crypto__b3_load32(b + 4 * i);
}

static void bytes_from_words(uint8_t b[32], const uint32_t w[8])
{
    for (int i = 0; i < 8; i++)
        crypto__b3_store32(b + 4 * i, w[i]);
}

static void output_cv(const crypto__b3_ops *ops, const output *o,
                      uint8_t cv[32])
{
    uint32_t w[8];
    memcpy(w, o->cv, 32);
    ops->compress(w, o->block, o->block_len, o->counter, o->flags);
    bytes_from_words(cv, w);
}

/* Root output bytes from offset `seek`: block i of the XOF stream is the
 * root compression with counter i. */
static void output_root_bytes(const crypto__b3_ops *ops, const output *o,
                              uint64_t seek, uint8_t *out, size_t len)
{
    uint64_t counter = seek / 64;
    size_t skip = (size_t)(seek % 64);
    while (len > 0) {
        uint8_t block[64];
        ops->compress_xof(o->cv, o->block, o->block_len, counter++,
                          o->flags | B3_ROOT, block);
        size_t n = 64 - skip < len ? 64 - skip : len;
        memcpy(out, block + skip, n);
        out += n;
        len -= n;
        skip = 0;
    }
}

static output parent_output(const uint8_t block[64], const uint32_t key[8],
                            uint8_t flags)
{
    output o;
    memcpy(o.cv, key, 32);
    memcpy(o.block, block, 64);
    o.block_len = 64;
    o.counter = 0;
    o.flags = flags | B3_PARENT;
    return o;
}

/* ---- chunk state -------------------------------------------------------- */

static size_t chunk_len(const gosr_blake3 *h)
{
    return (size_t)h->blocks_compressed * 64 + h->buf_len;
}

static uint8_t chunk_start_flag(const gosr_blake3 *h)
{
    return h->blocks_compressed == 0 ? B3_CHUNK_START : 0;
}

/* Absorbs input into the current chunk (never past its 1024 bytes). A
 * full block is compressed only once more input follows it, since the
 * chunk's last block needs CHUNK_END. */
static void chunk_update(const crypto__b3_ops *ops, gosr_blake3 *h,
                         const uint8_t *in, size_t len)
{
    if (h->buf_len > 0) {
        size_t n = 64u - h->buf_len < len ? 64u - h->buf_len : len;
        memcpy(h->buf + h->buf_len, in, n);
        h->buf_len = (uint8_t)(h->buf_len + n);
        in += n;
        len -= n;
        if (len == 0)
            return;
        ops->compress(h->cv, h->buf, 64, h->chunk_counter,
                      h->flags | chunk_start_flag(h));
        h->blocks_compressed++;
        h->buf_len = 0;
        memset(h->buf, 0, 64);
    }
    while (len > 64) { /* whole blocks straight from the input */
        ops->compress(h->cv, in, 64, h->chunk_counter,
                      h->flags | chunk_start_flag(h));
        h->blocks_compressed++;
        in += 64;
        len -= 64;
    }
    memcpy(h->buf, in, len);
    h->buf_len = (uint8_t)len;
}

static output chunk_output(const gosr_blake3 *h)
{
    output o;
    memcpy(o.cv, h->cv, 32);
    memcpy(o.block, h->buf, 64);
    o.block_len = h->buf_len;
    o.counter = h->chunk_counter;
    o.flags = h->flags | chunk_start_flag(h) | B3_CHUNK_END;
    return o;
}

static void chunk_reset(gosr_blake3 *h, uint64_t counter)
{
    memcpy(h->cv, h->key, 32);
    h->chunk_counter = counter;
    h->blocks_compressed = 0;
    h->buf_len = 0;
    memset(h->buf, 0, 64);
}

/* ---- merge stack --------------------------------------------------------
 * The stack holds chaining values of finished subtrees, left to right.
 * Merging is lazy: a pushed CV is merged with its left neighbour only when
 * later input proves it is not the rightmost node, so the root is never
 * compressed as a non-root. Before new input is pushed, the stack is
 * merged down to one entry per 1 bit of the number of chunks before it. */

static void merge_down(const crypto__b3_ops *ops, uint8_t *stack,
                       uint8_t *len, const uint32_t key[8], uint8_t flags,
                       uint64_t total_chunks)
{
    while (*len > __builtin_popcountll(total_chunks)) {
        uint8_t *pair = stack + 32 * (*len - 2);
        output o = parent_output(pair, key, flags);
        output_cv(ops, &o, pair);
        (*len)--;
    }
}

static void push_cv(gosr_blake3 *h, const uint8_t cv[32])
{
    memcpy(h->cv_stack + 32 * h->cv_stack_len, cv, 32);
    h->cv_stack_len++;
}

/* Finishes the full current chunk (more input follows it) and pushes it. */
static void complete_chunk(const crypto__b3_ops *ops, gosr_blake3 *h)
{
    uint8_t cv[32];
    output o = chunk_output(h);
    output_cv(ops, &o, cv);
    merge_down(ops, h->cv_stack, &h->cv_stack_len, h->key, h->flags,
               h->chunk_counter);
    push_cv(h, cv);
    chunk_reset(h, h->chunk_counter + 1);
}

/* ---- update ------------------------------------------------------------- */

static void hasher_init(gosr_blake3 *h, const uint32_t key[8], uint8_t flags)
{
    memset(h, 0, sizeof *h);
    memcpy(h->key, key, 32);
    memcpy(h->cv, key, 32);
    h->flags = flags;
}

void gosr_blake3_init(gosr_blake3 *h)
{
    hasher_init(h, B3_IV, 0);
}

void gosr_blake3_init_keyed(gosr_blake3 *h, const uint8_t key[32])
{
    uint32_t k[8];
    words_from_bytes(k, key);
    hasher_init(h, k, B3_KEYED_HASH);
}

void gosr_blake3_init_derive_key(gosr_blake3 *h, const char *context)
{
    gosr_blake3 ctx;
    uint8_t ctx_key[32];
    uint32_t k[8];
    hasher_init(&ctx, B3_IV, B3_DERIVE_KEY_CONTEXT);
    gosr_blake3_update(&ctx, context, strlen(context));
    gosr_blake3_finalize(&ctx, ctx_key, 32);
    words_from_bytes(k, ctx_key);
    hasher_init(h, k, B3_DERIVE_KEY_MATERIAL);
}

/* The wide step, taken at a chunk boundary with more than one chunk of
 * input: the largest power-of-two run of whole chunks that fits in the
 * input and starts at a multiple of its size is a complete subtree. Its
 * two children are pushed unmerged (they may be the root's children).
 * A single chunk is pushed as is, since more input follows it. Returns
 * the bytes consumed. */
static size_t wide_step(const crypto__b3_ops *ops, gosr_blake3 *h,
                        const uint8_t *in, size_t len, unsigned threads)
{
    uint64_t n = 1;
    while (n * 2 <= len / GOSR_BLAKE3_CHUNK_LEN)
        n *= 2;
    while (h->chunk_counter & (n - 1))
        n /= 2;
    uint8_t cvs[64];
    if (n == 1) {
        ops->hash_lanes(in, GOSR_BLAKE3_CHUNK_LEN, 1, 16, h->key,
                        h->chunk_counter, true, h->flags, B3_CHUNK_START,
                        B3_CHUNK_END, cvs);
    } else {
        crypto__b3_subtree(ops, in, n, h->key, h->chunk_counter, h->flags,
                           threads, 2, cvs);
    }
    merge_down(ops, h->cv_stack, &h->cv_stack_len, h->key, h->flags,
               h->chunk_counter);
    push_cv(h, cvs);
    if (n > 1)
        push_cv(h, cvs + 32);
    chunk_reset(h, h->chunk_counter + n);
    return (size_t)n * GOSR_BLAKE3_CHUNK_LEN;
}

static void update(gosr_blake3 *h, const uint8_t *in, size_t len,
                   unsigned threads)
{
    const crypto__b3_ops *ops = crypto__b3_ops_current();
    while (len > 0) {
        if (chunk_len(h) == GOSR_BLAKE3_CHUNK_LEN)
            complete_chunk(ops, h);
        size_t n;
        if (chunk_len(h) == 0 && len > GOSR_BLAKE3_CHUNK_LEN) {
            n = wide_step(ops, h, in, len, threads);
        } else {
            size_t want = GOSR_BLAKE3_CHUNK_LEN - chunk_len(h);
            n = want < len ? want : len;
            chunk_update(ops, h, in, n);
        }
        in += n;
        len -= n;
    }
}

void gosr_blake3_update(gosr_blake3 *h, const void *data, size_t len)
{
    update(h, data, len, 1);
}

void gosr_blake3_update_parallel(gosr_blake3 *h, const void *data, size_t len,
                                 unsigned threads)
{
    update(h, data, len, crypto__b3_threads(threads));
}

/* ---- finalize ----------------------------------------------------------- */

void gosr_blake3_finalize_seek(const gosr_blake3 *h, uint64_t seek,
                               uint8_t *out, size_t out_len)
{
    const crypto__b3_ops *ops = crypto__b3_ops_current();
    uint8_t stack[sizeof h->cv_stack];
    uint8_t n = h->cv_stack_len;
    memcpy(stack, h->cv_stack, 32 * (size_t)n);
    output o;
    if (chunk_len(h) > 0 || n == 0) {
        /* the current chunk is the rightmost node */
        merge_down(ops, stack, &n, h->key, h->flags, h->chunk_counter);
        o = chunk_output(h);
    } else {
        /* input ended on a wide step: its two children are on top */
        o = parent_output(stack + 32 * (n - 2), h->key, h->flags);
        n -= 2;
    }
    while (n > 0) {
        uint8_t block[64];
        memcpy(block, stack + 32 * (n - 1), 32);
        output_cv(ops, &o, block + 32);
        o = parent_output(block, h->key, h->flags);
        n--;
    }
    output_root_bytes(ops, &o, seek, out, out_len);
}

void gosr_blake3_finalize(const gosr_blake3 *h, uint8_t *out, size_t out_len)
{
    gosr_blake3_finalize_seek(h, 0, out, out_len);
}

/* ---- one-shot helpers and hex ------------------------------------------- */

void gosr_blake3_hash(const void *data, size_t len, gosr_hash *out)
{
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, data, len);
    gosr_blake3_finalize(&h, out->b, 32);
}

void gosr_blake3_keyed(const uint8_t key[32], const void *data, size_t len,
                       gosr_hash *out)
{
    gosr_blake3 h;
    gosr_blake3_init_keyed(&h, key);
    gosr_blake3_update(&h, data, len);
    gosr_blake3_finalize(&h, out->b, 32);
}

void gosr_hash_hex(const gosr_hash *h, char out[65])
{
    gosr_hex_encode(h->b, 32, out);
}

int gosr_hash_from_hex(const char *hex, gosr_hash *out)
{
    return gosr_hex_decode(hex, out->b, 32);
}

bool gosr_hash_equal(const gosr_hash *a, const gosr_hash *b)
{
    return memcmp(a->b, b->b, 32) == 0;
}
