/*
 * gmod_internal.h — private to src/gmod (and white-box tests): the decoded
 * forms of the bundle header, signed bundle manifest ("index") and signature
 * block, their encoders and strict decoders, and the signing digest.
 * Design: docs/gmod.md (byte tables).
 */
#ifndef GOSR_GMOD_INTERNAL_H
#define GOSR_GMOD_INTERNAL_H

#include "gosr/gmod.h"

#define GMOD__MAGIC "GOSRGMOD"
#define GMOD__VERSION 1
#define GMOD__HEADER_LEN 64
#define GMOD__INDEX_MAGIC "GMAN"
#define GMOD__SIG_MAGIC "GSIG"
#define GMOD__SIG_DOMAIN "gosr-gmod-sig-v1" /* 16 bytes, no NUL */
#define GMOD__CHUNK_ENTRY_LEN 76
#define GMOD__MAX_CERT_LEN 1024

/* The fixed header, decoded. */
typedef struct gmod__header {
    uint32_t index_len;   /* bytes of the signed bundle manifest */
    uint32_t sig_len;     /* bytes of the signature block */
    uint32_t nchunks;     /* chunk records after the signature block */
    uint32_t nfiles;      /* files listed by the manifest */
    uint64_t chunk_bytes; /* sum of the records' stored lengths */
    uint64_t total;       /* whole bundle: 64 + index + sig + chunk_bytes */
} gmod__header;

/* One file of the index. */
typedef struct gmod__file {
    char *path;        /* NUL-terminated safe path (owned) */
    uint32_t mode;     /* 0644 or 0755 */
    uint64_t size;     /* bytes */
    gosr_hash file_id; /* Merkle file id */
    uint32_t nchunks;  /* entries in chunks */
    uint32_t *chunks;  /* chunk-table indices (owned) */
} gmod__file;

/* The signed bundle manifest, decoded. */
typedef struct gmod__index {
    uint8_t *json;           /* gmod.json bytes (owned) */
    uint32_t json_len;       /* their length */
    gosr_hash root;          /* gosr_merkle_tree_id of files */
    gosr_gmod_chunk *chunks; /* chunk table, first-reference order (owned) */
    uint32_t nchunks;        /* entries in chunks */
    gmod__file *files;       /* files sorted by path bytes (owned) */
    uint32_t nfiles;         /* entries in files */
} gmod__index;

/* The signature block, decoded. */
typedef struct gmod__sigblock {
    uint8_t signer_pk[GOSR_SIGN_PUBLIC_LEN]; /* key that signed */
    gosr_cert chain[GOSR_GMOD_MAX_CHAIN];    /* signer's cert first */
    uint32_t nchain;                         /* certificates in chain */
    uint8_t sig[GOSR_SIGN_LEN];              /* ed25519 signature */
} gmod__sigblock;

/* Header: encode into out[64]; decode checks magic, version, flags,
 * reserved bytes, bounds and length consistency. */
void gmod__header_encode(const gmod__header *h, uint8_t out[GMOD__HEADER_LEN]);
int gmod__header_decode(const uint8_t in[GMOD__HEADER_LEN], uint64_t max_bundle,
                        gmod__header *h, gosr_error *err);

/* Index: canonical encoding appended to out. decode parses exactly n bytes
 * with every count checked against the bytes left before allocating, then
 * checks semantics (paths, order, sizes, ids, root). Caller frees with
 * gmod__index_free. */
int gmod__index_encode(const gmod__index *x, gosr_buf *out);
int gmod__index_decode(const uint8_t *p, size_t n, gmod__index *x,
                       gosr_error *err);
/* The semantic checks alone (also used by the writer on what it built). */
int gmod__index_check(const gmod__index *x, gosr_error *err);
void gmod__index_free(gmod__index *x);

/* Signature block. */
int gmod__sigblock_encode(const gmod__sigblock *s, gosr_buf *out);
int gmod__sigblock_decode(const uint8_t *p, size_t n, gmod__sigblock *s,
                          gosr_error *err);

/* The 48-byte message the signature covers:
 * "gosr-gmod-sig-v1" || BLAKE3(header[64] || index). */
void gmod__sig_message(const uint8_t header[GMOD__HEADER_LEN],
                       const uint8_t *index, size_t index_len, uint8_t msg[48]);

/* Builds header + index + signature block for `x` (whose chunk table
 * carries the stored lengths) into out. Used by pack and by tests that
 * sign hand-made (even malicious) manifests. */
int gmod__write_head(const gmod__index *x, const gosr_keypair *kp,
                     const gosr_cert *chain, size_t nchain, gosr_buf *out,
                     gosr_error *err);

/* Fuzzing aid: recomputes every chunk entry's stored_id from the record
 * bytes present, then re-signs the head in place with kp, so mutated
 * manifests and chunk records get past hashing and signature to the deeper
 * checks and the codecs. No-op when the head does not fit in len. */
void gmod__resign(uint8_t *bundle, size_t len, const gosr_keypair *kp);

/* Every script gmod.json names (entry, content.scripts) must be one of the
 * bundle's files: reason manifest_missing_file otherwise. */
int gmod__check_manifest_files(const gosr_gmod_manifest *m,
                               const char *const *paths, size_t n,
                               gosr_error *err);

/* The fixed keys of the bundle fuzz target and of its seed generator
 * (tests/gmod/test_fuzz_seeds.c): ed25519 seeds, certificate window and
 * the verification time. Never use outside fuzzing and tests. */
#define GMOD__FUZZ_ROOT_SEED 0xA1
#define GMOD__FUZZ_DEV_SEED 0xB2
#define GMOD__FUZZ_NOT_BEFORE 1767225600 /* 2026-01-01 */
#define GMOD__FUZZ_NOT_AFTER 2082758400  /* 2036-01-01 */
#define GMOD__FUZZ_NOW 1795478400        /* 2026-11-24 */

/* True for a module id ([a-z0-9][a-z0-9._-]{0,63}). */
bool gmod__id_ok(const char *s);

#endif /* GOSR_GMOD_INTERNAL_H */
