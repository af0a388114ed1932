/*
 * cert_int.h — private to src/crypto (and the `gosr cert` command and the
 * certificate fuzz target): the byte layout constants of certificates and
 * revocation lists, little-endian helpers, the revocation list structure and
 * the functions that build, encode and decode it.
 * Design: docs/certs.md ("Certificate encoding", "Revocation list").
 */
#ifndef GOSR_CRYPTO_CERT_INT_H
#define GOSR_CRYPTO_CERT_INT_H

#include "gosr/crypto.h"

/* ---- certificate layout -------------------------------------------------- */

#define CRYPTO__CERT_MAGIC "GOSRCERT" /* 8 bytes, no NUL */
#define CRYPTO__CERT_VERSION 1
#define CRYPTO__CERT_NAME_MAX 63
/* Fixed bytes before the name: magic, version, subject, issuer, name_len. */
#define CRYPTO__CERT_HEAD_LEN (8 + 1 + 32 + 32 + 1)
/* Fixed bytes after the name, before the signature: kinds, serial,
 * not_before, not_after. */
#define CRYPTO__CERT_TAIL_LEN (4 + 8 + 8 + 8)
#define CRYPTO__CERT_MIN_LEN                                                   \
    (CRYPTO__CERT_HEAD_LEN + 1 + CRYPTO__CERT_TAIL_LEN + GOSR_SIGN_LEN)
#define CRYPTO__CERT_MAX_LEN                                                   \
    (CRYPTO__CERT_HEAD_LEN + CRYPTO__CERT_NAME_MAX + CRYPTO__CERT_TAIL_LEN +   \
     GOSR_SIGN_LEN)
/* Signed message = context string (no NUL) || encoding before signature. */
#define CRYPTO__CERT_SIG_CONTEXT "gosr-cert-v1"

/* ---- revocation list layout ---------------------------------------------- */

#define CRYPTO__RVKL_MAGIC "GOSRRVKL" /* 8 bytes, no NUL */
#define CRYPTO__RVKL_VERSION 1
/* magic, version, issuer_pk, sequence, issued_at, n_serials, n_keys. */
#define CRYPTO__RVKL_HEAD_LEN (8 + 1 + 32 + 8 + 8 + 4 + 4)
#define CRYPTO__RVKL_SERIAL_ENTRY_LEN (32 + 8) /* issuer_pk, serial */
#define CRYPTO__RVKL_KEY_ENTRY_LEN 32          /* subject public key */
/* Most entries (serials + keys) one list may hold; bounds the file size
 * and every allocation made while decoding. */
#define CRYPTO__RVKL_MAX_ENTRIES 1000000u
#define CRYPTO__RVKL_MAX_LEN                                                   \
    ((size_t)CRYPTO__RVKL_HEAD_LEN +                                           \
     (size_t)CRYPTO__RVKL_MAX_ENTRIES * CRYPTO__RVKL_SERIAL_ENTRY_LEN +        \
     GOSR_SIGN_LEN)
#define CRYPTO__RVKL_SIG_CONTEXT "gosr-rvkl-v1"

/* One revoked certificate, named by its issuer and serial. */
typedef struct crypto__revoked_serial {
    uint8_t issuer_pk[GOSR_SIGN_PUBLIC_LEN]; /* issuer of the certificate */
    uint64_t serial;                         /* its serial */
} crypto__revoked_serial;

/* A decoded (or being-built) revocation list. Both arrays are kept sorted
 * ascending without duplicates (serials by issuer_pk bytes then serial
 * value; keys by bytes), which is also the canonical encoded order. */
struct gosr_revocations {
    uint8_t issuer_pk[GOSR_SIGN_PUBLIC_LEN]; /* root key that signs the list */
    uint64_t sequence;  /* grows by one per reissue; newer supersedes */
    int64_t issued_at;  /* Unix seconds when signed */
    uint32_t n_serials; /* entries in serials */
    uint32_t n_keys;    /* entries in keys */
    crypto__revoked_serial *serials; /* gosr_malloc'd, n_serials entries */
    uint8_t (*keys)[GOSR_SIGN_PUBLIC_LEN]; /* gosr_malloc'd, n_keys entries */
    uint8_t sig[GOSR_SIGN_LEN]; /* issuer's signature (valid after decode or
                                   crypto__revocations_sign_encode) */
};

/* ---- little-endian helpers ----------------------------------------------- */

static inline void crypto__put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void crypto__put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t crypto__get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline uint64_t crypto__get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- revocation lists ---------------------------------------------------- */

/* Decodes exactly n bytes of a revocation list. When trust_pk is not NULL
 * the list must be signed by it (GOSR_ESIGNATURE,
 * revocation_signature_invalid); NULL skips the signature check (for
 * display and fuzzing only). Caller frees *out with gosr_revocations_free. */
int crypto__revocations_decode(const uint8_t *p, size_t n,
                               const uint8_t *trust_pk, gosr_revocations **out,
                               gosr_error *err);

/* A new empty list (sequence 0) for issuer_pk. Caller frees with
 * gosr_revocations_free. NULL when out of memory. */
gosr_revocations *
crypto__revocations_new(const uint8_t issuer_pk[GOSR_SIGN_PUBLIC_LEN]);

/* Adds the certificate's (issuer, serial) / a subject key. *added (may be
 * NULL) tells whether it was new. GOSR_ETOOBIG past the entry limit. */
int crypto__revocations_add_serial(gosr_revocations *rl,
                                   const uint8_t issuer_pk[32], uint64_t serial,
                                   bool *added);
int crypto__revocations_add_key(gosr_revocations *rl, const uint8_t pk[32],
                                bool *added);

/* Signs the list with `issuer` (which becomes its issuer_pk), keeping the
 * sequence and issued_at already set in rl, and appends the encoding to
 * out. */
int crypto__revocations_sign_encode(gosr_revocations *rl,
                                    const gosr_keypair *issuer, gosr_buf *out);

/* Whether name is a valid certificate name: 1..63 bytes of UTF-8 (shortest
 * form, no surrogates) without control characters (C0, DEL, C1). */
bool crypto__cert_name_valid(const uint8_t *name, size_t len);

#endif /* GOSR_CRYPTO_CERT_INT_H */
