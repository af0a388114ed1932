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

/* An open content store (opaque). One writing process per directory
 * (the handle holds an exclusive lock on it), so a process opens a store
 * once and its threads share that handle: every gosr_store_* call except
 * open and close locks the handle for its whole duration, so each call is
 * atomic with respect to the others on the same handle. Long calls
 * (put_tree, put_fd or put_file of a large file, get_tree, gc, fsck) hold
 * it throughout and the other threads wait until they return. Callbacks
 * (progress, the foreach walks, fsck) run with the handle locked: they may
 * call the same handle from their own thread, but must not wait for
 * another thread that is calling it. */
typedef struct gosr_store gosr_store;

/* What an object in the store is. Chunks are file data; file and tree
 * objects are the Merkle manifests (encodings in docs/store.md), stored
 * under their ids exactly like chunks so peers fetch them the same way. */
typedef enum gosr_obj_kind {
    GOSR_OBJ_CHUNK = 0, /* a chunk of file data */
    GOSR_OBJ_FILE = 1,  /* a file node: ordered chunk list */
    GOSR_OBJ_TREE = 2,  /* a tree node: sorted (path, mode, size, file id) */
} gosr_obj_kind;

/* Progress callback for long puts: bytes of input consumed so far. */
typedef void (*gosr_store_progress_fn)(void *ud, uint64_t bytes_done);

/* Store configuration; zero fields take defaults. */
typedef struct gosr_store_config {
    gosr_cdc_params cdc;  /* chunking for puts (zero = 256K/1M/4M) */
    const char *codec;    /* "zstd" (NULL = default), "brotli" or "raw" */
    int level;            /* codec level, 0 = codec default (zstd 3) */
    bool encrypt;         /* at creation only: encrypt chunks at rest with
                             convergent keys (a 0600 secret in DIR/secret);
                             an existing store keeps the mode it was made
                             with */
    bool read_only;       /* open without writing (shared lock, no
                             recovery) */
    uint64_t pack_max;    /* start a new pack past this size (0 = 1 GiB) */
    gosr_store_progress_fn progress; /* called during puts, may be NULL */
    void *progress_ud;    /* passed to progress */
} gosr_store_config;

/* Opens (creating if needed) the store in `dir`, recovering from any
 * interrupted write: pack tails beyond the committed index and pack files
 * the index does not know are removed. `cfg` may be NULL (all defaults).
 * Caller closes *out with gosr_store_close. Reasons: store_locked,
 * store_secret_mode, store_format, sqlite_error ... */
GOSR_API int gosr_store_open(const char *dir, const gosr_store_config *cfg,
                             gosr_store **out, gosr_error *err);
/* Closes the store and frees it. Accepts NULL. Not locked: the caller
 * makes sure no other thread is using or will use `st`. */
GOSR_API void gosr_store_close(gosr_store *st);

/* Stores one chunk of plaintext (copied; the caller keeps `data`) and
 * sets *id to its BLAKE3. Already-present chunks are not written again.
 * Durable when it returns. */
GOSR_API int gosr_store_put_chunk(gosr_store *st, const uint8_t *data,
                                  size_t len, gosr_hash *id, gosr_error *err);
/* Appends the chunk's verified plaintext to out (caller owns out).
 * GOSR_ENOENT when absent; GOSR_ECORRUPT (reason chunk_hash_mismatch,
 * record_header_bad, chunk_decrypt_failed, chunk_decode_failed) when the
 * stored bytes do not give back plaintext with this BLAKE3. */
GOSR_API int gosr_store_get_chunk(gosr_store *st, const gosr_hash *id,
                                  gosr_buf *out, gosr_error *err);
/* Appends bytes [off, off+len) of a verified chunk to out (storage
 * proofs). GOSR_EINVAL when the range exceeds the chunk. */
GOSR_API int gosr_store_read_range(gosr_store *st, const gosr_hash *id,
                                   uint64_t off, size_t len, gosr_buf *out,
                                   gosr_error *err);
/* True when an object with this id (any kind) is in the index. */
GOSR_API bool gosr_store_has(gosr_store *st, const gosr_hash *id);

/* Stores an object of any kind under BLAKE3(data), which is its id (a
 * file or tree node's bytes hash to its Merkle id). File and tree objects
 * are parsed first: a malformed manifest is GOSR_EFORMAT. */
GOSR_API int gosr_store_put_object(gosr_store *st, gosr_obj_kind kind,
                                   const uint8_t *data, size_t len,
                                   gosr_hash *id, gosr_error *err);
/* Appends an object's verified bytes to out and sets *kind (may be NULL). */
GOSR_API int gosr_store_get_object(gosr_store *st, const gosr_hash *id,
                                   gosr_obj_kind *kind, gosr_buf *out,
                                   gosr_error *err);

/* Chunks `len` bytes, stores the chunks and the file node, and sets
 * *file_id. One transaction: all or nothing. */
GOSR_API int gosr_store_put_buffer(gosr_store *st, const uint8_t *data,
                                   size_t len, gosr_hash *file_id,
                                   gosr_error *err);
/* As put_buffer, reading `fd` to its end; *size (may be NULL) gets the
 * byte count. The descriptor stays the caller's. */
GOSR_API int gosr_store_put_fd(gosr_store *st, int fd, gosr_hash *file_id,
                               uint64_t *size, gosr_error *err);
/* As put_fd for the regular file at `path`. */
GOSR_API int gosr_store_put_file(gosr_store *st, const char *path,
                                 gosr_hash *file_id, uint64_t *size,
                                 gosr_error *err);
/* Stores every regular file under `dir` (recursively; symlinks and
 * special files are GOSR_EUNSUPPORTED, reason tree_special_file), then the
 * tree node; sets *root. One transaction. */
GOSR_API int gosr_store_put_tree(gosr_store *st, const char *dir,
                                 gosr_hash *root, gosr_error *err);

/* Stores the tree node of `entries` (any order; sorted here) whose files
 * are already in the store, and sets *root — how a tree is made from
 * stored files without a directory on disk (a module's mesh package,
 * docs/kernel.md). GOSR_EINVAL (tree_bad_entries) for an unsafe or
 * repeated path, GOSR_ENOENT (tree_file_missing) for a file id not here.
 * One transaction. */
GOSR_API int gosr_store_put_tree_entries(gosr_store *st,
                                         const gosr_tree_entry *entries,
                                         size_t n, gosr_hash *root,
                                         gosr_error *err);

/* Writes the file `file_id` to `path` (temporary name, fsync, rename),
 * verifying every chunk. Mode 0644 unless `mode` has an executable bit. */
GOSR_API int gosr_store_get_file(gosr_store *st, const gosr_hash *file_id,
                                 const char *path, uint32_t mode,
                                 gosr_error *err);
/* Materialises the tree `root` under `dir` (created if needed). */
GOSR_API int gosr_store_get_tree(gosr_store *st, const gosr_hash *root,
                                 const char *dir, gosr_error *err);

/* Decodes the file node `file_id` into *chunks (caller frees with
 * gosr_free) and *n. */
GOSR_API int gosr_store_file_chunks(gosr_store *st, const gosr_hash *file_id,
                                    gosr_chunk_ref **chunks, size_t *n,
                                    gosr_error *err);
/* Calls fn for each entry of tree `root` in path order; a nonzero return
 * from fn stops the walk and is returned. Entries are borrowed for the
 * call. */
typedef int (*gosr_store_tree_fn)(void *ud, const gosr_tree_entry *e);
GOSR_API int gosr_store_tree_foreach(gosr_store *st, const gosr_hash *root,
                                     gosr_store_tree_fn fn, void *ud,
                                     gosr_error *err);

/* One object as listed by gosr_store_foreach. */
typedef struct gosr_store_obj_info {
    gosr_hash id;          /* object id (BLAKE3 of plaintext) */
    gosr_obj_kind kind;    /* chunk, file or tree */
    gosr_codec codec;      /* codec the payload was stored with */
    uint32_t plain_len;    /* plaintext bytes */
    uint32_t stored_len;   /* payload bytes on disk (after codec/AEAD) */
} gosr_store_obj_info;
/* Calls fn for every object in the index (id order for plain stores,
 * locator order for encrypted ones). A nonzero return stops the walk. */
typedef int (*gosr_store_obj_fn)(void *ud, const gosr_store_obj_info *o);
GOSR_API int gosr_store_foreach(gosr_store *st, gosr_store_obj_fn fn, void *ud,
                                gosr_error *err);

/* ---- refs (GC roots) ----------------------------------------------------- */

/* Pins `root` (a file or tree id present in the store) under `name`
 * (1..255 printable bytes), replacing any previous value. GOSR_ENOENT if
 * the object is absent. */
GOSR_API int gosr_store_ref_set(gosr_store *st, const char *name,
                                const gosr_hash *root, gosr_error *err);
GOSR_API int gosr_store_ref_get(gosr_store *st, const char *name,
                                gosr_hash *root, gosr_error *err);
/* GOSR_ENOENT if there was no such ref. */
GOSR_API int gosr_store_ref_delete(gosr_store *st, const char *name,
                                   gosr_error *err);
/* Calls fn for every ref in name order; `name` borrowed for the call. */
typedef int (*gosr_store_ref_fn)(void *ud, const char *name,
                                 const gosr_hash *root);
GOSR_API int gosr_store_ref_foreach(gosr_store *st, gosr_store_ref_fn fn,
                                    void *ud, gosr_error *err);

/* ---- stats, fsck, gc ------------------------------------------------------ */

typedef struct gosr_store_stats {
    uint64_t logical_bytes;  /* sum of the sizes of all files ever put */
    uint64_t files_put;      /* number of file puts */
    uint64_t chunk_count;    /* distinct chunks */
    uint64_t object_count;   /* distinct file and tree objects */
    uint64_t unique_bytes;   /* plaintext bytes of distinct chunks */
    uint64_t stored_bytes;   /* bytes of live records (headers+payloads) */
    uint64_t pack_bytes;     /* bytes of all pack files (incl. garbage) */
    uint64_t index_bytes;    /* bytes of the SQLite index files */
    uint64_t ref_count;      /* pinned refs */
    double dedup_ratio;      /* logical_bytes / unique_bytes */
    double compression_ratio;/* unique plaintext / stored payload bytes */
    bool encrypted;          /* chunks encrypted at rest */
} gosr_store_stats;
GOSR_API int gosr_store_stat(gosr_store *st, gosr_store_stats *out,
                             gosr_error *err);

/* Called by fsck for each corrupt object found (before quarantine). */
typedef void (*gosr_store_fsck_fn)(void *ud, const gosr_hash *loc,
                                   const gosr_error *why);
typedef struct gosr_store_fsck_report {
    uint64_t checked;      /* objects read and verified */
    uint64_t corrupt;      /* objects that failed and were quarantined */
    uint64_t missing;      /* objects referenced from refs but absent */
    uint64_t refs_checked; /* refs walked */
    uint64_t bytes_checked;/* plaintext bytes verified */
} gosr_store_fsck_report;
/* Reads and verifies every object; a corrupt one has its record copied
 * to DIR/quarantine/<locator hex>.rec and its index row dropped, so a
 * later put or a peer can restore it. Then walks every ref and counts
 * missing objects. Returns GOSR_OK when nothing was corrupt or missing,
 * else GOSR_ECORRUPT (reason fsck_failed) with the report filled. */
GOSR_API int gosr_store_fsck(gosr_store *st, gosr_store_fsck_fn fn, void *ud,
                             gosr_store_fsck_report *rep, gosr_error *err);

typedef struct gosr_store_gc_report {
    uint64_t live_objects;   /* objects reachable from refs */
    uint64_t removed_objects;/* objects dropped from the index */
    uint64_t removed_bytes;  /* record bytes they occupied */
    uint64_t packs_rewritten;/* packs compacted */
    uint64_t bytes_freed;    /* pack bytes returned to the file system */
} gosr_store_gc_report;
/* Removes every object not reachable from a ref and compacts packs
 * (live records copied to a new pack, index switched in one transaction,
 * old pack unlinked). A ref whose walk finds a missing object stops GC
 * with GOSR_ECORRUPT (reason gc_missing_object) before anything is
 * removed. */
GOSR_API int gosr_store_gc(gosr_store *st, gosr_store_gc_report *rep,
                           gosr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_STORE_H */
