/*
 * revoke.c — signed revocation lists: the strict decoder (signature checked
 * against the trust root before anything is allocated, entry count bounded,
 * canonical sorted order required), loading from a file, lookup of a
 * certificate by (issuer, serial) or by subject key, and building, signing
 * and encoding a list for `gosr cert revoke`.
 * Design: docs/certs.md ("Revocation list").
 *
 * Sections: ordering, lookup, building, encoding, decoding, loading.
 */
#include "crypto/cert_int.h"

#include <sodium.h>
#include <string.h>

/* ---- ordering ------------------------------------------------------------ */

static int serial_cmp(const uint8_t issuer[32], uint64_t serial,
                      const crypto__revoked_serial *e)
{
    int c = memcmp(issuer, e->issuer_pk, 32);
    if (c != 0)
        return c;
    return serial < e->serial ? -1 : serial > e->serial ? 1 : 0;
}

/* Index of the first serial entry not less than (issuer, serial). */
static uint32_t serial_lower_bound(const gosr_revocations *rl,
                                   const uint8_t issuer[32], uint64_t serial)
{
    uint32_t lo = 0, hi = rl->n_serials;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (serial_cmp(issuer, serial, &rl->serials[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Index of the first key entry not less than pk. */
static uint32_t key_lower_bound(const gosr_revocations *rl,
                                const uint8_t pk[32])
{
    uint32_t lo = 0, hi = rl->n_keys;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(pk, rl->keys[mid], 32) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- lookup -------------------------------------------------------------- */

bool gosr_revocations_contains(const gosr_revocations *rl, const gosr_cert *c)
{
    if (!rl || !c)
        return false;
    uint32_t k = key_lower_bound(rl, c->subject_pk);
    if (k < rl->n_keys && memcmp(rl->keys[k], c->subject_pk, 32) == 0)
        return true;
    uint32_t s = serial_lower_bound(rl, c->issuer_pk, c->serial);
    return s < rl->n_serials &&
           serial_cmp(c->issuer_pk, c->serial, &rl->serials[s]) == 0;
}

void gosr_revocations_free(gosr_revocations *rl)
{
    if (!rl)
        return;
    gosr_free(rl->serials);
    gosr_free(rl->keys);
    gosr_free(rl);
}

/* ---- building ------------------------------------------------------------ */

gosr_revocations *
crypto__revocations_new(const uint8_t issuer_pk[GOSR_SIGN_PUBLIC_LEN])
{
    gosr_revocations *rl = gosr_calloc(1, sizeof *rl);
    if (rl)
        memcpy(rl->issuer_pk, issuer_pk, 32);
    return rl;
}

static bool list_full(const gosr_revocations *rl)
{
    return (uint64_t)rl->n_serials + rl->n_keys >= CRYPTO__RVKL_MAX_ENTRIES;
}

int crypto__revocations_add_serial(gosr_revocations *rl,
                                   const uint8_t issuer_pk[32], uint64_t serial,
                                   bool *added)
{
    uint32_t at = serial_lower_bound(rl, issuer_pk, serial);
    if (added)
        *added = false;
    if (at < rl->n_serials &&
        serial_cmp(issuer_pk, serial, &rl->serials[at]) == 0)
        return GOSR_OK;
    if (list_full(rl))
        return GOSR_ETOOBIG;
    crypto__revoked_serial *grown =
        gosr_realloc(rl->serials, ((size_t)rl->n_serials + 1) * sizeof *grown);
    if (!grown)
        return GOSR_ENOMEM;
    rl->serials = grown;
    memmove(&grown[at + 1], &grown[at], (rl->n_serials - at) * sizeof *grown);
    memcpy(grown[at].issuer_pk, issuer_pk, 32);
    grown[at].serial = serial;
    rl->n_serials++;
    if (added)
        *added = true;
    return GOSR_OK;
}

int crypto__revocations_add_key(gosr_revocations *rl, const uint8_t pk[32],
                                bool *added)
{
    uint32_t at = key_lower_bound(rl, pk);
    if (added)
        *added = false;
    if (at < rl->n_keys && memcmp(rl->keys[at], pk, 32) == 0)
        return GOSR_OK;
    if (list_full(rl))
        return GOSR_ETOOBIG;
    uint8_t(*grown)[32] =
        gosr_realloc(rl->keys, ((size_t)rl->n_keys + 1) * sizeof *grown);
    if (!grown)
        return GOSR_ENOMEM;
    rl->keys = grown;
    memmove(&grown[at + 1], &grown[at], (rl->n_keys - at) * sizeof *grown);
    memcpy(grown[at], pk, 32);
    rl->n_keys++;
    if (added)
        *added = true;
    return GOSR_OK;
}

/* ---- encoding ------------------------------------------------------------ */

/* Appends the signed part (everything before the signature) to out. */
static int rvkl_body(const gosr_revocations *rl, gosr_buf *out)
{
    uint8_t head[CRYPTO__RVKL_HEAD_LEN], *p = head;
    memcpy(p, CRYPTO__RVKL_MAGIC, 8), p += 8;
    *p++ = CRYPTO__RVKL_VERSION;
    memcpy(p, rl->issuer_pk, 32), p += 32;
    crypto__put_u64(p, rl->sequence), p += 8;
    crypto__put_u64(p, (uint64_t)rl->issued_at), p += 8;
    crypto__put_u32(p, rl->n_serials), p += 4;
    crypto__put_u32(p, rl->n_keys);
    size_t total =
        sizeof head + (size_t)rl->n_serials * CRYPTO__RVKL_SERIAL_ENTRY_LEN +
        (size_t)rl->n_keys * CRYPTO__RVKL_KEY_ENTRY_LEN + GOSR_SIGN_LEN;
    int rc = gosr_buf_reserve(out, total);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, head, sizeof head);
    for (uint32_t i = 0; rc == GOSR_OK && i < rl->n_serials; i++) {
        uint8_t e[CRYPTO__RVKL_SERIAL_ENTRY_LEN];
        memcpy(e, rl->serials[i].issuer_pk, 32);
        crypto__put_u64(e + 32, rl->serials[i].serial);
        rc = gosr_buf_append(out, e, sizeof e);
    }
    for (uint32_t i = 0; rc == GOSR_OK && i < rl->n_keys; i++)
        rc = gosr_buf_append(out, rl->keys[i], 32);
    return rc;
}

/* Checks sig over context || body for pk: GOSR_OK, GOSR_ESIGNATURE, or
 * GOSR_ENOMEM when the message cannot be assembled. */
static int rvkl_sig_check(const uint8_t pk[32], const uint8_t *body, size_t len,
                          const uint8_t sig[64])
{
    size_t ctx = sizeof CRYPTO__RVKL_SIG_CONTEXT - 1;
    uint8_t *msg = gosr_malloc(ctx + len);
    if (!msg)
        return GOSR_ENOMEM;
    memcpy(msg, CRYPTO__RVKL_SIG_CONTEXT, ctx);
    memcpy(msg + ctx, body, len);
    bool ok = gosr_sign_verify(pk, msg, ctx + len, sig);
    gosr_free(msg);
    return ok ? GOSR_OK : GOSR_ESIGNATURE;
}

int crypto__revocations_sign_encode(gosr_revocations *rl,
                                    const gosr_keypair *issuer, gosr_buf *out)
{
    size_t ctx = sizeof CRYPTO__RVKL_SIG_CONTEXT - 1;
    gosr_buf msg = {0};
    memcpy(rl->issuer_pk, issuer->pk, 32);
    int rc = gosr_buf_append(&msg, CRYPTO__RVKL_SIG_CONTEXT, ctx);
    if (rc == GOSR_OK)
        rc = rvkl_body(rl, &msg);
    if (rc == GOSR_OK) {
        gosr_sign(issuer, msg.data, msg.len, rl->sig);
        rc = gosr_buf_append(out, msg.data + ctx, msg.len - ctx);
    }
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, rl->sig, GOSR_SIGN_LEN);
    gosr_buf_free(&msg);
    return rc;
}

/* ---- decoding ------------------------------------------------------------ */

static int rbad(gosr_error *err, int status, const char *reason,
                const char *detail)
{
    return gosr_error_set(err, status, reason, "revocation list: %s", detail);
}

/* Checks magic, version, entry counts and the exact length they imply. */
static int rvkl_check_frame(const uint8_t *p, size_t n, gosr_error *err)
{
    if (n == 0)
        return rbad(err, GOSR_EFORMAT, "revocation_truncated", "empty input");
    if (memcmp(p, CRYPTO__RVKL_MAGIC, n < 8 ? n : 8) != 0)
        return rbad(err, GOSR_EFORMAT, "revocation_bad_magic",
                    "does not start with GOSRRVKL");
    if (n < CRYPTO__RVKL_HEAD_LEN)
        return rbad(err, GOSR_EFORMAT, "revocation_truncated",
                    "shorter than its fixed header");
    if (p[8] != CRYPTO__RVKL_VERSION)
        return rbad(err, GOSR_EFORMAT, "revocation_bad_version",
                    "version is not supported");
    uint64_t ns = crypto__get_u32(p + 57), nk = crypto__get_u32(p + 61);
    if (ns + nk > CRYPTO__RVKL_MAX_ENTRIES)
        return rbad(err, GOSR_ETOOBIG, "revocation_too_many_entries",
                    "more than 1000000 entries");
    uint64_t want = CRYPTO__RVKL_HEAD_LEN + ns * CRYPTO__RVKL_SERIAL_ENTRY_LEN +
                    nk * CRYPTO__RVKL_KEY_ENTRY_LEN + GOSR_SIGN_LEN;
    if (n < want)
        return rbad(err, GOSR_EFORMAT, "revocation_truncated",
                    "ends before its signature");
    if (n > want)
        return rbad(err, GOSR_EFORMAT, "revocation_trailing_bytes",
                    "bytes follow the signature");
    return GOSR_OK;
}

/* Copies the entries out of the verified bytes, requiring strictly
 * ascending order (sorted, no duplicates). */
static int rvkl_read_entries(gosr_revocations *rl, const uint8_t *q,
                             gosr_error *err)
{
    if (rl->n_serials &&
        !(rl->serials = gosr_malloc(rl->n_serials * sizeof *rl->serials)))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", NULL);
    if (rl->n_keys && !(rl->keys = gosr_malloc(rl->n_keys * sizeof *rl->keys)))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", NULL);
    for (uint32_t i = 0; i < rl->n_serials; i++, q += 40) {
        memcpy(rl->serials[i].issuer_pk, q, 32);
        rl->serials[i].serial = crypto__get_u64(q + 32);
        if (i > 0 &&
            serial_cmp(q, rl->serials[i].serial, &rl->serials[i - 1]) <= 0)
            return rbad(err, GOSR_EFORMAT, "revocation_not_canonical",
                        "serial entries are not strictly ascending");
    }
    for (uint32_t i = 0; i < rl->n_keys; i++, q += 32) {
        memcpy(rl->keys[i], q, 32);
        if (i > 0 && memcmp(rl->keys[i], rl->keys[i - 1], 32) <= 0)
            return rbad(err, GOSR_EFORMAT, "revocation_not_canonical",
                        "key entries are not strictly ascending");
    }
    return GOSR_OK;
}

int crypto__revocations_decode(const uint8_t *p, size_t n,
                               const uint8_t *trust_pk, gosr_revocations **out,
                               gosr_error *err)
{
    int rc = rvkl_check_frame(p, n, err);
    if (rc != GOSR_OK)
        return rc;
    const uint8_t *sig = p + n - GOSR_SIGN_LEN;
    if (trust_pk) {
        rc = sodium_memcmp(p + 9, trust_pk, 32) != 0
                 ? GOSR_ESIGNATURE
                 : rvkl_sig_check(trust_pk, p, n - GOSR_SIGN_LEN, sig);
        if (rc == GOSR_ENOMEM)
            return gosr_error_set(err, rc, "out_of_memory", NULL);
        if (rc != GOSR_OK)
            return rbad(err, rc, "revocation_signature_invalid",
                        "not signed by the trusted root key");
    }
    gosr_revocations *rl = crypto__revocations_new(p + 9);
    if (!rl)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", NULL);
    rl->sequence = crypto__get_u64(p + 41);
    rl->issued_at = (int64_t)crypto__get_u64(p + 49);
    rl->n_serials = crypto__get_u32(p + 57);
    rl->n_keys = crypto__get_u32(p + 61);
    memcpy(rl->sig, sig, GOSR_SIGN_LEN);
    if ((rc = rvkl_read_entries(rl, p + CRYPTO__RVKL_HEAD_LEN, err))) {
        gosr_revocations_free(rl);
        return rc;
    }
    *out = rl;
    return GOSR_OK;
}

/* ---- loading ------------------------------------------------------------- */

int gosr_revocations_load(const char *path,
                          const uint8_t trust_pk[GOSR_SIGN_PUBLIC_LEN],
                          gosr_revocations **out, gosr_error *err)
{
    uint8_t *data;
    size_t len;
    int rc = gosr_file_read_all(path, CRYPTO__RVKL_MAX_LEN, &data, &len);
    if (rc == GOSR_ETOOBIG)
        return rbad(err, rc, "revocation_too_many_entries",
                    "file is larger than the largest allowed list");
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "revocation_read_failed",
                              "cannot read revocation list %s: %s", path,
                              gosr_strerror(rc));
    rc = crypto__revocations_decode(data, len, trust_pk, out, err);
    gosr_free(data);
    return rc;
}
