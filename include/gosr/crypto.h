/*
 * gosr/crypto.h — GOSR's cryptography: BLAKE3 (written here: portable C plus
 * SSE4.1, AVX2 and AVX-512 paths with runtime dispatch, and multi-threaded
 * hashing of large inputs), ed25519 keys and signatures (libsodium), and
 * certificates with revocation lists.
 *
 * Design: docs/blake3.md (BLAKE3 implementation and dispatch),
 *         docs/certs.md (key files, certificate and revocation formats).
 */
#ifndef GOSR_CRYPTO_H
#define GOSR_CRYPTO_H

#include "gosr/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== BLAKE3 ============================================================== */

#define GOSR_BLAKE3_OUT_LEN 32
#define GOSR_BLAKE3_KEY_LEN 32
#define GOSR_BLAKE3_BLOCK_LEN 64
#define GOSR_BLAKE3_CHUNK_LEN 1024
#define GOSR_BLAKE3_MAX_DEPTH 54

/* A 32-byte BLAKE3 digest used as a content address (chunk ids, file ids,
 * manifest roots). */
typedef struct gosr_hash {
    uint8_t b[32]; /* digest bytes */
} gosr_hash;

/* Implementation paths. AUTO picks the best the CPU supports. */
typedef enum gosr_blake3_path {
    GOSR_BLAKE3_AUTO = 0,
    GOSR_BLAKE3_PORTABLE = 1,
    GOSR_BLAKE3_SSE41 = 2,
    GOSR_BLAKE3_AVX2 = 3,
    GOSR_BLAKE3_AVX512 = 4,
} gosr_blake3_path;

/* Incremental hasher state. Plain data: may live on the stack, be copied,
 * and needs no destroy. Fields are private to src/crypto/blake3*.c. */
typedef struct gosr_blake3 {
    uint32_t key[8];            /* key words (IV, user key or derived key) */
    uint32_t cv[8];             /* chaining value of the current chunk */
    uint64_t chunk_counter;     /* index of the current chunk */
    uint8_t buf[GOSR_BLAKE3_BLOCK_LEN]; /* partial block of the chunk */
    uint8_t buf_len;            /* bytes in buf */
    uint8_t blocks_compressed;  /* full blocks compressed in this chunk */
    uint8_t flags;              /* mode flags (KEYED_HASH, DERIVE_KEY_*) */
    uint8_t cv_stack_len;       /* entries in cv_stack */
    uint8_t cv_stack[(GOSR_BLAKE3_MAX_DEPTH + 1) * GOSR_BLAKE3_OUT_LEN];
                                /* merge stack of subtree chaining values */
} gosr_blake3;

/* Starts a plain hash. */
GOSR_API void gosr_blake3_init(gosr_blake3 *h);
/* Starts a keyed hash (MAC) with a 32-byte key. */
GOSR_API void gosr_blake3_init_keyed(gosr_blake3 *h,
                                     const uint8_t key[GOSR_BLAKE3_KEY_LEN]);
/* Starts key derivation for a context string (NUL-terminated). */
GOSR_API void gosr_blake3_init_derive_key(gosr_blake3 *h, const char *context);
/* Absorbs len bytes. */
GOSR_API void gosr_blake3_update(gosr_blake3 *h, const void *data, size_t len);
/* Absorbs len bytes, hashing whole subtrees on up to `threads` threads
 * (0 = one per online CPU). Same result as gosr_blake3_update. */
GOSR_API void gosr_blake3_update_parallel(gosr_blake3 *h, const void *data,
                                          size_t len, unsigned threads);
/* Writes out_len bytes of extendable output (any length). Does not modify
 * the state, so more input may follow. */
GOSR_API void gosr_blake3_finalize(const gosr_blake3 *h, uint8_t *out,
                                   size_t out_len);
/* As finalize, starting at output byte offset `seek`. */
GOSR_API void gosr_blake3_finalize_seek(const gosr_blake3 *h, uint64_t seek,
                                        uint8_t *out, size_t out_len);
/* One-shot 32-byte hash. */
GOSR_API void gosr_blake3_hash(const void *data, size_t len, gosr_hash *out);
/* One-shot 32-byte keyed hash. */
GOSR_API void gosr_blake3_keyed(const uint8_t key[GOSR_BLAKE3_KEY_LEN],
                                const void *data, size_t len, gosr_hash *out);

/* Forces an implementation path for this process (tests and benches).
 * GOSR_EUNSUPPORTED if the CPU lacks it. AUTO restores detection. */
GOSR_API int gosr_blake3_set_path(gosr_blake3_path path);
/* The path in force. */
GOSR_API gosr_blake3_path gosr_blake3_get_path(void);
/* Whether the CPU (and the build) supports a path. */
GOSR_API bool gosr_blake3_path_supported(gosr_blake3_path path);
/* "portable", "sse41", "avx2", "avx512" ("auto" for AUTO). */
GOSR_API const char *gosr_blake3_path_name(gosr_blake3_path path);

/* Hex of a hash into out[65]. */
GOSR_API void gosr_hash_hex(const gosr_hash *h, char out[65]);
/* Parses 64 hex digits. GOSR_EFORMAT otherwise. */
GOSR_API int gosr_hash_from_hex(const char *hex, gosr_hash *out);
GOSR_API bool gosr_hash_equal(const gosr_hash *a, const gosr_hash *b);

/* ==== ed25519 keys and signatures (libsodium) ============================= */

#define GOSR_SIGN_PUBLIC_LEN 32
#define GOSR_SIGN_SECRET_LEN 64
#define GOSR_SIGN_LEN 64

/* An ed25519 keypair. The secret half must be wiped with
 * gosr_keypair_wipe when no longer needed. */
typedef struct gosr_keypair {
    uint8_t pk[GOSR_SIGN_PUBLIC_LEN]; /* public key */
    uint8_t sk[GOSR_SIGN_SECRET_LEN]; /* libsodium secret key (seed || pk) */
} gosr_keypair;

/* Initialises libsodium once (thread safe). GOSR_EINTERNAL on failure.
 * Every crypto function below calls it; exported for other subsystems. */
GOSR_API int gosr_crypto_init(void);

GOSR_API int gosr_keypair_generate(gosr_keypair *kp);
/* Derives a keypair from a 32-byte seed (deterministic tests). */
GOSR_API int gosr_keypair_from_seed(gosr_keypair *kp, const uint8_t seed[32]);
GOSR_API void gosr_keypair_wipe(gosr_keypair *kp);
/* Writes DIR/key.pub (mode 0644) and DIR/key.sec (mode 0600), creating DIR
 * (mode 0700). Formats in docs/certs.md. GOSR_EEXIST if a key is there. */
GOSR_API int gosr_keypair_save(const gosr_keypair *kp, const char *dir,
                               gosr_error *err);
/* Loads DIR/key.sec (checks its mode is not group/world readable and that
 * it matches DIR/key.pub). */
GOSR_API int gosr_keypair_load(const char *dir, gosr_keypair *kp,
                               gosr_error *err);
/* Loads a public key from a key.pub file, or from DIR/key.pub when `path`
 * is a directory. */
GOSR_API int gosr_pubkey_load(const char *path,
                              uint8_t pk[GOSR_SIGN_PUBLIC_LEN],
                              gosr_error *err);

/* Detached ed25519 signature over msg. */
GOSR_API void gosr_sign(const gosr_keypair *kp, const void *msg, size_t len,
                        uint8_t sig[GOSR_SIGN_LEN]);
GOSR_API bool gosr_sign_verify(const uint8_t pk[GOSR_SIGN_PUBLIC_LEN],
                               const void *msg, size_t len,
                               const uint8_t sig[GOSR_SIGN_LEN]);

/* ==== certificates and revocation ========================================= */

/* Kinds of bundle a certificate allows its subject to sign. */
#define GOSR_CERT_KIND_GAME 0x1u
#define GOSR_CERT_KIND_MOD 0x2u
#define GOSR_CERT_KIND_PATCH 0x4u
#define GOSR_CERT_KIND_ALL 0x7u

/* A certificate: the issuer vouches that `subject_pk` belongs to `name` and
 * may sign bundles of `kinds` between not_before and not_after (Unix
 * seconds). Encoded form (what the signature covers) in docs/certs.md. */
typedef struct gosr_cert {
    uint8_t subject_pk[GOSR_SIGN_PUBLIC_LEN]; /* key being certified */
    uint8_t issuer_pk[GOSR_SIGN_PUBLIC_LEN];  /* key that signed this */
    char name[64];      /* subject name, NUL-terminated, printable UTF-8 */
    uint32_t kinds;     /* GOSR_CERT_KIND_* bits */
    uint64_t serial;    /* issuer-unique serial (random at issue) */
    int64_t not_before; /* validity start, Unix seconds */
    int64_t not_after;  /* validity end, Unix seconds (exclusive) */
    uint8_t sig[GOSR_SIGN_LEN]; /* issuer's signature over the encoding */
} gosr_cert;

/* Issues a certificate signed by `issuer`. `name` is copied (max 63
 * bytes, printable). */
GOSR_API int gosr_cert_issue(const gosr_keypair *issuer,
                             const uint8_t subject_pk[GOSR_SIGN_PUBLIC_LEN],
                             const char *name, uint32_t kinds,
                             int64_t not_before, int64_t not_after,
                             gosr_cert *out, gosr_error *err);
/* Appends the certificate's canonical binary encoding (signature
 * included) to out. */
GOSR_API int gosr_cert_encode(const gosr_cert *c, gosr_buf *out);
/* Decodes exactly n bytes. Strict: bad magic, version, lengths or
 * trailing bytes are GOSR_EFORMAT with a reason. */
GOSR_API int gosr_cert_decode(const uint8_t *p, size_t n, gosr_cert *out,
                              gosr_error *err);
/* Reads and decodes a certificate file. */
GOSR_API int gosr_cert_load(const char *path, gosr_cert *out, gosr_error *err);

/* A signed revocation list (opaque). */
typedef struct gosr_revocations gosr_revocations;

/* Loads a revocation list and checks it was signed by `trust_pk`.
 * Caller frees with gosr_revocations_free. */
GOSR_API int gosr_revocations_load(const char *path,
                                   const uint8_t trust_pk[GOSR_SIGN_PUBLIC_LEN],
                                   gosr_revocations **out, gosr_error *err);
GOSR_API void gosr_revocations_free(gosr_revocations *rl);
/* True when the key (any certificate for it) or the (issuer, serial)
 * certificate has been revoked. */
GOSR_API bool gosr_revocations_contains(const gosr_revocations *rl,
                                        const gosr_cert *c);

/* Verifies one certificate: issued by `trust_pk`, signature valid, `now`
 * inside its validity window, not in `rl` (may be NULL), and allowing
 * every bit of `need_kinds` (0 = no kind check). Reason codes:
 * cert_untrusted_issuer, cert_signature_invalid, cert_expired,
 * cert_not_yet_valid, cert_revoked, cert_kind_not_allowed. */
GOSR_API int gosr_cert_verify(const gosr_cert *c,
                              const uint8_t trust_pk[GOSR_SIGN_PUBLIC_LEN],
                              int64_t now, const gosr_revocations *rl,
                              uint32_t need_kinds, gosr_error *err);

/* Parses "game,mod,patch" into kind bits; GOSR_EINVAL on unknown names. */
GOSR_API int gosr_cert_kinds_parse(const char *s, uint32_t *kinds);
/* Formats kind bits as "game,mod,patch" into out[32]. */
GOSR_API void gosr_cert_kinds_format(uint32_t kinds, char out[32]);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_CRYPTO_H */
