/*
 * blake3.c — BLAKE3 hashing: the compression function (portable C), chunk
 * state, the incremental tree hasher with its merge stack, extendable output
 * and the three modes (hash, keyed_hash, derive_key).
 * Design: docs/blake3.md. Specification: the BLAKE3 paper (2020), section 2.
 */
#include "gosr/crypto.h"

#include <string.h>

/* Domain-separation flags (BLAKE3 spec, table 3). */
enum {
    CHUNK_START = 1 << 0,
    CHUNK_END = 1 << 1,
    PARENT = 1 << 2,
    ROOT = 1 << 3,
    KEYED_HASH = 1 << 4,
    DERIVE_KEY_CONTEXT = 1 << 5,
    DERIVE_KEY_MATERIAL = 1 << 6,
};

static const uint32_t IV[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372,
                               0xA54FF53A, 0x510E527F, 0x9B05688C,
                               0x1F83D9AB, 0x5BE0CD19};

static const uint8_t MSG_SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t rotr32(uint32_t w, unsigned c)
{
    return (w >> c) | (w << (32 - c));
}

static inline uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void store32(uint8_t *p, uint32_t w)
{
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
}

static inline void g(uint32_t *s, int a, int b, int c, int d, uint32_t x,
                     uint32_t y)
{
    s[a] = s[a] + s[b] + x;
    s[d] = rotr32(s[d] ^ s[a], 16);
    s[c] = s[c] + s[d];
    s[b] = rotr32(s[b] ^ s[c], 12);
    s[a] = s[a] + s[b] + y;
    s[d] = rotr32(s[d] ^ s[a], 8);
    s[c] = s[c] + s[d];
    s[b] = rotr32(s[b] ^ s[c], 7);
}

/* The compression function: 7 rounds over the 16-word state. Writes the
 * full 16-word output (the first 8 words are the new chaining value). */
static void compress(const uint32_t cv[8], const uint8_t block[64],
                     uint8_t block_len, uint64_t counter, uint8_t flags,
                     uint32_t out[16])
{
    uint32_t m[16], s[16];
    for (int i = 0; i < 16; i++)
        m[i] = load32(block + 4 * i);
    memcpy(s, cv, 32);
    memcpy(s + 8, IV, 16);
    s[12] = (uint32_t)counter;
    s[13] = (uint32_t)(counter >> 32);
    s[14] = block_len;
    s[15] = flags;
    for (int r = 0; r < 7; r++) {
        const uint8_t *k = MSG_SCHEDULE[r];
        g(s, 0, 4, 8, 12, m[k[0]], m[k[1]]);
        g(s, 1, 5, 9, 13, m[k[2]], m[k[3]]);
        g(s, 2, 6, 10, 14, m[k[4]], m[k[5]]);
        g(s, 3, 7, 11, 15, m[k[6]], m[k[7]]);
        g(s, 0, 5, 10, 15, m[k[8]], m[k[9]]);
        g(s, 1, 6, 11, 12, m[k[10]], m[k[11]]);
        g(s, 2, 7, 8, 13, m[k[12]], m[k[13]]);
        g(s, 3, 4, 9, 14, m[k[14]], m[k[15]]);
    }
    for (int i = 0; i < 8; i++) {
        out[i] = s[i] ^ s[i + 8];
        out[i + 8] = s[i + 8] ^ cv[i];
    }
}

/* An "output": the inputs of a final compression, kept so the root can be
 * extended to any length. */
typedef struct output {
    uint32_t cv[8];
    uint8_t block[64];
    uint8_t block_len;
    uint64_t counter;
    uint8_t flags;
} output;

static void output_cv(const output *o, uint8_t cv[32])
{
    uint32_t w[16];
    compress(o->cv, o->block, o->block_len, o->counter, o->flags, w);
    for (int i = 0; i < 8; i++)
        store32(cv + 4 * i, w[i]);
}

static void output_root_bytes(const output *o, uint64_t seek, uint8_t *out,
                              size_t len)
{
    uint64_t counter = seek / 64;
    size_t skip = (size_t)(seek % 64);
    while (len > 0) {
        uint32_t w[16];
        uint8_t block[64];
        compress(o->cv, o->block, o->block_len, counter++, o->flags | ROOT, w);
        for (int i = 0; i < 16; i++)
            store32(block + 4 * i, w[i]);
        size_t n = 64 - skip < len ? 64 - skip : len;
        memcpy(out, block + skip, n);
        out += n;
        len -= n;
        skip = 0;
    }
}

static size_t chunk_len(const gosr_blake3 *h)
{
    return (size_t)h->blocks_compressed * 64 + h->buf_len;
}

static uint8_t chunk_start_flag(const gosr_blake3 *h)
{
    return h->blocks_compressed == 0 ? CHUNK_START : 0;
}

/* Absorbs input into the current chunk (never past its 1024 bytes). */
static void chunk_update(gosr_blake3 *h, const uint8_t *in, size_t len)
{
    while (len > 0) {
        if (h->buf_len == 64) {
            uint32_t w[16];
            compress(h->cv, h->buf, 64, h->chunk_counter,
                     h->flags | chunk_start_flag(h), w);
            memcpy(h->cv, w, 32);
            h->blocks_compressed++;
            h->buf_len = 0;
            memset(h->buf, 0, 64);
        }
        size_t room = 64u - h->buf_len;
        size_t n = room < len ? room : len;
        memcpy(h->buf + h->buf_len, in, n);
        h->buf_len = (uint8_t)(h->buf_len + n);
        in += n;
        len -= n;
    }
}

static output chunk_output(const gosr_blake3 *h)
{
    output o;
    memcpy(o.cv, h->cv, 32);
    memcpy(o.block, h->buf, 64);
    o.block_len = h->buf_len;
    o.counter = h->chunk_counter;
    o.flags = h->flags | chunk_start_flag(h) | CHUNK_END;
    return o;
}

static output parent_output(const uint8_t left[32], const uint8_t right[32],
                            const uint32_t key[8], uint8_t flags)
{
    output o;
    memcpy(o.cv, key, 32);
    memcpy(o.block, left, 32);
    memcpy(o.block + 32, right, 32);
    o.block_len = 64;
    o.counter = 0;
    o.flags = flags | PARENT;
    return o;
}

/* Pushes a finished chunk's CV, merging completed subtrees: after chunk
 * number total_chunks, one merge per trailing zero bit. */
static void push_chunk_cv(gosr_blake3 *h, uint8_t cv[32], uint64_t total)
{
    while ((total & 1) == 0) {
        h->cv_stack_len--;
        output o = parent_output(h->cv_stack + 32 * h->cv_stack_len, cv,
                                 h->key, h->flags);
        output_cv(&o, cv);
        total >>= 1;
    }
    memcpy(h->cv_stack + 32 * h->cv_stack_len, cv, 32);
    h->cv_stack_len++;
}

static void hasher_init(gosr_blake3 *h, const uint32_t key[8], uint8_t flags)
{
    memset(h, 0, sizeof *h);
    memcpy(h->key, key, 32);
    memcpy(h->cv, key, 32);
    h->flags = flags;
}

void gosr_blake3_init(gosr_blake3 *h)
{
    hasher_init(h, IV, 0);
}

void gosr_blake3_init_keyed(gosr_blake3 *h, const uint8_t key[32])
{
    uint32_t k[8];
    for (int i = 0; i < 8; i++)
        k[i] = load32(key + 4 * i);
    hasher_init(h, k, KEYED_HASH);
}

void gosr_blake3_init_derive_key(gosr_blake3 *h, const char *context)
{
    gosr_blake3 ctx;
    uint8_t ctx_key[32];
    uint32_t k[8];
    hasher_init(&ctx, IV, DERIVE_KEY_CONTEXT);
    gosr_blake3_update(&ctx, context, strlen(context));
    gosr_blake3_finalize(&ctx, ctx_key, 32);
    for (int i = 0; i < 8; i++)
        k[i] = load32(ctx_key + 4 * i);
    hasher_init(h, k, DERIVE_KEY_MATERIAL);
}

void gosr_blake3_update(gosr_blake3 *h, const void *data, size_t len)
{
    const uint8_t *in = data;
    while (len > 0) {
        if (chunk_len(h) == GOSR_BLAKE3_CHUNK_LEN) {
            uint8_t cv[32];
            output o = chunk_output(h);
            output_cv(&o, cv);
            uint64_t total = h->chunk_counter + 1;
            push_chunk_cv(h, cv, total);
            memcpy(h->cv, h->key, 32);
            h->chunk_counter = total;
            h->blocks_compressed = 0;
            h->buf_len = 0;
            memset(h->buf, 0, 64);
        }
        size_t want = GOSR_BLAKE3_CHUNK_LEN - chunk_len(h);
        size_t n = want < len ? want : len;
        chunk_update(h, in, n);
        in += n;
        len -= n;
    }
}

void gosr_blake3_update_parallel(gosr_blake3 *h, const void *data, size_t len,
                                 unsigned threads)
{
    (void)threads; /* the threaded tree path lives in blake3_tree.c */
    gosr_blake3_update(h, data, len);
}

void gosr_blake3_finalize_seek(const gosr_blake3 *h, uint64_t seek,
                               uint8_t *out, size_t out_len)
{
    output o = chunk_output(h);
    for (size_t i = h->cv_stack_len; i > 0; i--) {
        uint8_t cv[32];
        output_cv(&o, cv);
        o = parent_output(h->cv_stack + 32 * (i - 1), cv, h->key, h->flags);
    }
    output_root_bytes(&o, seek, out, out_len);
}

void gosr_blake3_finalize(const gosr_blake3 *h, uint8_t *out, size_t out_len)
{
    gosr_blake3_finalize_seek(h, 0, out, out_len);
}

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

int gosr_blake3_set_path(gosr_blake3_path path)
{
    return path == GOSR_BLAKE3_AUTO || path == GOSR_BLAKE3_PORTABLE
               ? GOSR_OK
               : GOSR_EUNSUPPORTED;
}

gosr_blake3_path gosr_blake3_get_path(void)
{
    return GOSR_BLAKE3_PORTABLE;
}

bool gosr_blake3_path_supported(gosr_blake3_path path)
{
    return path == GOSR_BLAKE3_PORTABLE;
}

const char *gosr_blake3_path_name(gosr_blake3_path path)
{
    static const char *const names[] = {"auto", "portable", "sse41", "avx2",
                                        "avx512"};
    return (unsigned)path < 5 ? names[path] : "unknown";
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
