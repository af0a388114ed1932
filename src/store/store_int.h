/*
 * store_int.h — private to src/store/: the store handle, pack records,
 * the index (SQLite) and the helpers the store's files share (prefix
 * store__). Design: docs/store.md ("On-disk layout", "Crash safety").
 */
#ifndef GOSR_STORE_INT_H
#define GOSR_STORE_INT_H

#include "gosr/store.h"

#include <pthread.h>
#include <sqlite3.h>

#define STORE_REC_MAGIC "GOSC"  /* pack record magic */
#define STORE_REC_VERSION 1     /* pack record version */
#define STORE_REC_HDR 88        /* pack record header bytes */
#define STORE_FLAG_ENCRYPTED 1u /* record flag: payload is AEAD ciphertext */
#define STORE_AEAD_TAG 16       /* XChaCha20-Poly1305 tag bytes */
#define STORE_MAX_OBJECT (256u << 20) /* largest manifest object */
#define STORE_PACK_MAX_DEFAULT ((uint64_t)1 << 30)
#define STORE_NFD 8 /* cached read descriptors of packs */

/* One pack record header, decoded (byte table in docs/store.md). */
typedef struct store_rec {
    uint8_t kind;        /* gosr_obj_kind */
    uint8_t codec;       /* gosr_codec of the payload before encryption */
    uint8_t flags;       /* STORE_FLAG_* */
    uint32_t plain_len;  /* plaintext bytes */
    uint32_t stored_len; /* payload bytes after the header */
    gosr_hash loc;       /* locator: id, or keyed hash of id when encrypted */
    gosr_hash idm;       /* masked id when encrypted, else zero */
} store_rec;

/* One index row (table `objects`). */
typedef struct store_row {
    gosr_hash loc; /* locator (primary key) */
    store_rec rec; /* the record header fields */
    int64_t pack;  /* pack file id */
    int64_t off;   /* byte offset of the record header in the pack */
} store_row;

/* A cached read descriptor of one pack. */
typedef struct store_fd {
    int64_t pack; /* pack id, 0 = slot empty */
    int fd;       /* read-only descriptor */
} store_fd;

/* The open store. May be shared by the threads of one process: every
 * public call (api.c) holds `mu` for its whole duration, so all the other
 * fields are owned by whichever thread holds `mu` (the SQLite connection
 * is opened NOMUTEX and relies on this). One writer process per directory
 * (exclusive flock on DIR/lock). */
struct gosr_store {
    pthread_mutex_t mu;      /* recursive; guards every field below, held
                                by each public call (not by open/close) */
    char *dir;               /* store directory (owned) */
    gosr_store_config cfg;   /* config with defaults filled */
    gosr_codec codec;        /* parsed cfg.codec */
    int lock_fd;             /* DIR/lock, flocked */
    sqlite3 *db;             /* the index */
    sqlite3_stmt *q_get;     /* SELECT row by locator */
    sqlite3_stmt *q_put;     /* INSERT row */
    bool encrypted;          /* store-wide encryption (fixed at creation) */
    uint8_t k_loc[32];       /* locator key (encrypted stores) */
    uint8_t k_mask[32];      /* id-mask key (encrypted stores) */
    uint8_t k_enc[32];       /* per-chunk key derivation key */
    int txn_depth;           /* nesting of store__begin */
    int64_t w_pack;          /* pack being appended to, 0 = none yet */
    int w_fd;                /* its write descriptor, -1 = closed */
    uint64_t w_size;         /* bytes written to it (in this txn too) */
    uint64_t w_committed;    /* its size as committed in the index */
    bool w_dirty;            /* written since the last fsync */
    bool w_new_file;         /* created in this txn (fsync the dir) */
    store_fd fds[STORE_NFD]; /* read descriptor cache */
    unsigned fd_next;        /* next cache slot to evict */
    gosr_buf scratch;        /* compression / encryption scratch */
};

/* ---- the unlocked bodies of the public calls ------------------------------
 * Each gosr_store_X in api.c locks st->mu and calls store__X, which
 * assumes the caller holds it. Same arguments, ownership and results as
 * documented for gosr_store_X in gosr/store.h. Store code calls these
 * directly, never the public wrappers. */
int store__put_chunk(gosr_store *st, const uint8_t *data, size_t len,
                     gosr_hash *id, gosr_error *err);
int store__get_chunk(gosr_store *st, const gosr_hash *id, gosr_buf *out,
                     gosr_error *err);
int store__read_range(gosr_store *st, const gosr_hash *id, uint64_t off,
                      size_t len, gosr_buf *out, gosr_error *err);
bool store__has(gosr_store *st, const gosr_hash *id);
int store__put_object(gosr_store *st, gosr_obj_kind kind, const uint8_t *data,
                      size_t len, gosr_hash *id, gosr_error *err);
int store__get_object(gosr_store *st, const gosr_hash *id, gosr_obj_kind *kind,
                      gosr_buf *out, gosr_error *err);
int store__foreach(gosr_store *st, gosr_store_obj_fn fn, void *ud,
                   gosr_error *err);
int store__put_buffer(gosr_store *st, const uint8_t *data, size_t len,
                      gosr_hash *file_id, gosr_error *err);
int store__put_fd(gosr_store *st, int fd, gosr_hash *file_id, uint64_t *size,
                  gosr_error *err);
int store__put_file(gosr_store *st, const char *path, gosr_hash *file_id,
                    uint64_t *size, gosr_error *err);
int store__put_tree(gosr_store *st, const char *dir, gosr_hash *root,
                    gosr_error *err);
int store__put_tree_entries(gosr_store *st, const gosr_tree_entry *entries,
                            size_t n, gosr_hash *root, gosr_error *err);
int store__get_file(gosr_store *st, const gosr_hash *file_id, const char *path,
                    uint32_t mode, gosr_error *err);
int store__get_tree(gosr_store *st, const gosr_hash *root, const char *dir,
                    gosr_error *err);
int store__file_chunks(gosr_store *st, const gosr_hash *file_id,
                       gosr_chunk_ref **chunks, size_t *n, gosr_error *err);
int store__tree_foreach(gosr_store *st, const gosr_hash *root,
                        gosr_store_tree_fn fn, void *ud, gosr_error *err);
int store__ref_set(gosr_store *st, const char *name, const gosr_hash *root,
                   gosr_error *err);
int store__ref_get(gosr_store *st, const char *name, gosr_hash *root,
                   gosr_error *err);
int store__ref_delete(gosr_store *st, const char *name, gosr_error *err);
int store__ref_foreach(gosr_store *st, gosr_store_ref_fn fn, void *ud,
                       gosr_error *err);
int store__stat(gosr_store *st, gosr_store_stats *out, gosr_error *err);
int store__fsck(gosr_store *st, gosr_store_fsck_fn fn, void *ud,
                gosr_store_fsck_report *rep, gosr_error *err);
int store__gc(gosr_store *st, gosr_store_gc_report *rep, gosr_error *err);

/* ---- store.c ------------------------------------------------------------ */
int store__exec(gosr_store *st, const char *sql, gosr_error *err);
int store__begin(gosr_store *st, gosr_error *err);
int store__commit(gosr_store *st, gosr_error *err);
void store__rollback(gosr_store *st);
int store__meta_add(gosr_store *st, const char *key, int64_t delta,
                    gosr_error *err);
int store__sql_error(gosr_store *st, gosr_error *err, const char *what);
char *store__pack_path(const gosr_store *st, int64_t pack);

/* ---- pack.c ------------------------------------------------------------- */
void store__rec_encode(const store_rec *r, uint8_t out[STORE_REC_HDR]);
int store__rec_decode(const uint8_t in[STORE_REC_HDR], store_rec *r);
int store__pack_append(gosr_store *st, const store_rec *r,
                       const uint8_t *payload, int64_t *pack, int64_t *off,
                       gosr_error *err);
int store__pack_sync(gosr_store *st, gosr_error *err);
int store__pack_read(gosr_store *st, int64_t pack, int64_t off, size_t n,
                     uint8_t *out, gosr_error *err);
void store__pack_close_all(gosr_store *st);
int store__pack_recover(gosr_store *st, gosr_error *err);

/* ---- object.c ----------------------------------------------------------- */
void store__locator(const gosr_store *st, const gosr_hash *id, gosr_hash *loc);
int store__row_get(gosr_store *st, const gosr_hash *loc, store_row *row);
int store__row_read(gosr_store *st, const store_row *row, gosr_hash *id,
                    gosr_buf *out, gosr_error *err);
int store__put_hashed(gosr_store *st, gosr_obj_kind kind, const gosr_hash *id,
                      const uint8_t *data, size_t len, bool *added,
                      gosr_error *err);

/* ---- manifest.c --------------------------------------------------------- */
int store__file_decode(const uint8_t *p, size_t n, gosr_chunk_ref **chunks,
                       size_t *count, gosr_error *err);
int store__tree_decode(const uint8_t *p, size_t n, gosr_tree_entry **entries,
                       size_t *count, gosr_error *err);
void store__tree_entries_free(gosr_tree_entry *e, size_t n);
int store__object_validate(gosr_obj_kind kind, const uint8_t *p, size_t n,
                           gosr_error *err);

#endif /* GOSR_STORE_INT_H */
