/*
 * gosr/store.h — the content store: content-defined chunking (FastCDC),
 * per-chunk codecs (zstd, brotli, raw), convergent encryption at rest,
 * Merkle ids for files and trees, and the on-disk chunk store (packs or
 * fan-out files, SQLite index in WAL mode) with fsck and GC.
 *
 * Design: docs/store.md (chunking parameters, codec framing, Merkle
 * encodings, on-disk layout, crash safety).
 */
#ifndef GOSR_STORE_H
#define GOSR_STORE_H

#include "gosr/base.h"
#include "gosr/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== content-defined chunking =========================================== */

/* Chunk size bounds. Zero fields take the defaults: min 256 KiB, avg 1 MiB,
 * max 4 MiB (when only avg is given: min avg/4, max 4*avg, capped at
 * 64 MiB). avg must be a power of two in [64, 64 MiB]; min <= avg <= max. */
typedef struct gosr_cdc_params {
    uint32_t min_size; /* no cut before this many bytes */
    uint32_t avg_size; /* target average chunk size (power of two) */
    uint32_t max_size; /* forced cut at this many bytes */
} gosr_cdc_params;

/* Fills zero fields with defaults and checks the bounds. GOSR_EINVAL when
 * inconsistent. */
GOSR_API int gosr_cdc_params_normalize(gosr_cdc_params *p);

/* Returns the length of the next chunk at the start of data[0..len): a
 * content-defined cut point, or max_size, or len when len <= min_size or no
 * cut point is found before len (callers at end of input take that as the
 * last chunk; streaming callers with more input to come should refill so
 * that len >= max_size before calling). `p` must be normalized. */
GOSR_API size_t gosr_cdc_next(const gosr_cdc_params *p, const uint8_t *data,
                              size_t len);

/* ==== codecs ============================================================= */

typedef enum gosr_codec {
    GOSR_CODEC_RAW = 0,
    GOSR_CODEC_ZSTD = 1,
    GOSR_CODEC_BROTLI = 2,
} gosr_codec;

/* "raw", "zstd", "brotli". */
GOSR_API const char *gosr_codec_name(gosr_codec c);
GOSR_API int gosr_codec_parse(const char *name, gosr_codec *out);

/* Compresses n bytes with codec `c` at `level` (0 = codec default),
 * appending to out. With GOSR_CODEC_RAW copies. Sets *used to the codec
 * actually used: RAW when compression does not pay (output >= input). */
GOSR_API int gosr_codec_compress(gosr_codec c, int level, const uint8_t *in,
                                 size_t n, gosr_buf *out, gosr_codec *used);
/* Decompresses exactly to `plain_len` bytes, appending to out. A stream
 * that decodes to any other length, or fails, is GOSR_ECORRUPT. Never
 * allocates more than plain_len (+ slack) whatever the input claims. */
GOSR_API int gosr_codec_decompress(gosr_codec c, const uint8_t *in, size_t n,
                                   size_t plain_len, gosr_buf *out);

/* ==== Merkle ids ========================================================= */

/* One chunk of a file: its id (BLAKE3 of the plaintext) and length. */
typedef struct gosr_chunk_ref {
    gosr_hash id;  /* BLAKE3 of the chunk's plaintext */
    uint32_t len;  /* plaintext length in bytes */
} gosr_chunk_ref;

/* A file's id: BLAKE3 over its ordered chunk list (encoding in
 * docs/store.md, "file node"). */
GOSR_API void gosr_merkle_file_id(const gosr_chunk_ref *chunks, size_t n,
                                  gosr_hash *out);

/* One entry of a tree (a directory of files, flattened). */
typedef struct gosr_tree_entry {
    const char *path;  /* relative path, '/'-separated, no "." or ".." */
    uint32_t mode;     /* 0644 or 0755 (only the executable bit is kept) */
    uint64_t size;     /* file size in bytes */
    gosr_hash file_id; /* gosr_merkle_file_id of its chunks */
} gosr_tree_entry;

/* A tree's root id: BLAKE3 over its entries sorted by path bytes
 * (encoding in docs/store.md, "tree node"). GOSR_EINVAL if entries are not
 * strictly sorted (duplicates) or a path is invalid. */
GOSR_API int gosr_merkle_tree_id(const gosr_tree_entry *entries, size_t n,
                                 gosr_hash *out);

/* True for a safe relative path: non-empty, at most 4096 bytes, no NUL,
 * no leading '/', no empty, "." or ".." segments, no backslash. */
GOSR_API bool gosr_path_is_safe(const char *path, size_t len);

/* ==== the chunk store ===================================================== */
/* (Declared by the store implementation below this line.) */

#ifdef __cplusplus
}
#endif
#endif /* GOSR_STORE_H */
