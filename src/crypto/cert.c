/*
 * cert.c — certificates: issuing (a root key vouches for a developer key, a
 * name, the kinds of bundle it may sign and a validity window), the
 * canonical binary encoding and its strict decoder, loading a .cert file,
 * verification against a trust root and a revocation list, and the kind
 * names. Design: docs/certs.md ("Certificate encoding", "Verification").
 *
 * Sections: names, encoding, decoding, issue and load, verification, kinds.
 */
#include "crypto/cert_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* ---- names --------------------------------------------------------------- */

/* Length of the UTF-8 sequence starting at p (at most `left` bytes) and its
 * code point, or 0 when the sequence is invalid (bad lead or continuation,
 * overlong, surrogate, above U+10FFFF). */
static size_t utf8_decode(const uint8_t *p, size_t left, uint32_t *cp)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = p[0] < 0x80             ? 1
                 : (p[0] & 0xE0) == 0xC0 ? 2
                 : (p[0] & 0xF0) == 0xE0 ? 3
                 : (p[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (len == 0 || len > left)
        return 0;
    uint32_t v = len == 1 ? p[0] : p[0] & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3F);
    }
    if (v < min_cp[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

bool crypto__cert_name_valid(const uint8_t *name, size_t len)
{
    if (len < 1 || len > CRYPTO__CERT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(name + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            return false;
        i += n;
    }
    return true;
}

/* ---- encoding ------------------------------------------------------------ */

/* Writes the signed part of the encoding (everything before the signature)
 * into out[CRYPTO__CERT_MAX_LEN] and its length into *len. */
static int cert_body(const gosr_cert *c, uint8_t *out, size_t *len,
                     gosr_error *err)
{
    size_t nl = strnlen(c->name, sizeof c->name);
    if (nl == sizeof c->name ||
        !crypto__cert_name_valid((const uint8_t *)c->name, nl))
        return gosr_error_set(err, GOSR_EINVAL, "cert_bad_name",
                              "certificate name must be 1..63 bytes of "
                              "UTF-8 without control characters");
    uint8_t *p = out;
    memcpy(p, CRYPTO__CERT_MAGIC, 8), p += 8;
    *p++ = CRYPTO__CERT_VERSION;
    memcpy(p, c->subject_pk, 32), p += 32;
    memcpy(p, c->issuer_pk, 32), p += 32;
    *p++ = (uint8_t)nl;
    memcpy(p, c->name, nl), p += nl;
    crypto__put_u32(p, c->kinds), p += 4;
    crypto__put_u64(p, c->serial), p += 8;
    crypto__put_u64(p, (uint64_t)c->not_before), p += 8;
    crypto__put_u64(p, (uint64_t)c->not_after), p += 8;
    *len = (size_t)(p - out);
    return GOSR_OK;
}

/* Builds the message the issuer signs: context string || body. msg must
 * hold sizeof CRYPTO__CERT_SIG_CONTEXT - 1 + CRYPTO__CERT_MAX_LEN bytes. */
static int cert_signed_message(const gosr_cert *c, uint8_t *msg, size_t *len,
                               gosr_error *err)
{
    size_t ctx = sizeof CRYPTO__CERT_SIG_CONTEXT - 1;
    memcpy(msg, CRYPTO__CERT_SIG_CONTEXT, ctx);
    int rc = cert_body(c, msg + ctx, len, err);
    *len += ctx;
    return rc;
}

int gosr_cert_encode(const gosr_cert *c, gosr_buf *out)
{
    uint8_t body[CRYPTO__CERT_MAX_LEN];
    size_t len;
    int rc = cert_body(c, body, &len, NULL);
    if (rc == GOSR_OK)
        rc = gosr_buf_reserve(out, len + GOSR_SIGN_LEN);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, body, len);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, c->sig, GOSR_SIGN_LEN);
    return rc;
}

/* ---- decoding ------------------------------------------------------------ */

static int bad(gosr_error *err, const char *reason, const char *detail)
{
    return gosr_error_set(err, GOSR_EFORMAT, reason, "certificate: %s", detail);
}

/* Checks magic, version and the length implied by name_len; on success
 * *name_len holds it. */
static int cert_check_frame(const uint8_t *p, size_t n, size_t *name_len,
                            gosr_error *err)
{
    if (n == 0)
        return bad(err, "cert_truncated", "empty input");
    if (memcmp(p, CRYPTO__CERT_MAGIC, n < 8 ? n : 8) != 0)
        return bad(err, "cert_bad_magic", "does not start with GOSRCERT");
    if (n < CRYPTO__CERT_HEAD_LEN)
        return bad(err, "cert_truncated", "shorter than its fixed header");
    if (p[8] != CRYPTO__CERT_VERSION)
        return gosr_error_set(err, GOSR_EFORMAT, "cert_bad_version",
                              "certificate: version %u is not supported", p[8]);
    size_t nl = p[CRYPTO__CERT_HEAD_LEN - 1];
    if (nl < 1 || nl > CRYPTO__CERT_NAME_MAX)
        return bad(err, "cert_bad_name", "name length must be 1..63");
    size_t want =
        CRYPTO__CERT_HEAD_LEN + nl + CRYPTO__CERT_TAIL_LEN + GOSR_SIGN_LEN;
    if (n < want)
        return bad(err, "cert_truncated", "ends before its signature");
    if (n > want)
        return bad(err, "cert_trailing_bytes", "bytes follow the signature");
    *name_len = nl;
    return GOSR_OK;
}

int gosr_cert_decode(const uint8_t *p, size_t n, gosr_cert *out,
                     gosr_error *err)
{
    size_t nl = 0;
    int rc = cert_check_frame(p, n, &nl, err);
    if (rc != GOSR_OK)
        return rc;
    gosr_cert c;
    memset(&c, 0, sizeof c);
    const uint8_t *q = p + 9;
    memcpy(c.subject_pk, q, 32), q += 32;
    memcpy(c.issuer_pk, q, 32), q += 32 + 1;
    if (!crypto__cert_name_valid(q, nl))
        return bad(err, "cert_bad_name",
                   "name is not UTF-8 without control characters");
    memcpy(c.name, q, nl), q += nl;
    c.kinds = crypto__get_u32(q), q += 4;
    c.serial = crypto__get_u64(q), q += 8;
    c.not_before = (int64_t)crypto__get_u64(q), q += 8;
    c.not_after = (int64_t)crypto__get_u64(q), q += 8;
    memcpy(c.sig, q, GOSR_SIGN_LEN);
    if (c.kinds == 0 || (c.kinds & ~GOSR_CERT_KIND_ALL) != 0)
        return gosr_error_set(err, GOSR_EFORMAT, "cert_bad_kinds",
                              "certificate: kinds 0x%x are not a non-empty "
                              "subset of game,mod,patch",
                              c.kinds);
    if (c.not_before >= c.not_after)
        return bad(err, "cert_bad_validity",
                   "not_before is not earlier than not_after");
    *out = c;
    return GOSR_OK;
}

/* ---- issue and load ------------------------------------------------------ */

int gosr_cert_issue(const gosr_keypair *issuer,
                    const uint8_t subject_pk[GOSR_SIGN_PUBLIC_LEN],
                    const char *name, uint32_t kinds, int64_t not_before,
                    int64_t not_after, gosr_cert *out, gosr_error *err)
{
    int rc = gosr_crypto_init();
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "crypto_init_failed",
                              "libsodium failed to initialise");
    if (kinds == 0 || (kinds & ~GOSR_CERT_KIND_ALL) != 0)
        return gosr_error_set(err, GOSR_EINVAL, "cert_bad_kinds",
                              "kinds 0x%x are not a non-empty subset of "
                              "game,mod,patch",
                              kinds);
    if (not_before >= not_after)
        return gosr_error_set(err, GOSR_EINVAL, "cert_bad_validity",
                              "not_before must be earlier than not_after");
    gosr_cert c;
    memset(&c, 0, sizeof c);
    size_t nl = strlen(name);
    if (nl > CRYPTO__CERT_NAME_MAX)
        return gosr_error_set(err, GOSR_EINVAL, "cert_bad_name",
                              "name is %zu bytes; at most 63", nl);
    memcpy(c.name, name, nl);
    memcpy(c.subject_pk, subject_pk, 32);
    memcpy(c.issuer_pk, issuer->pk, 32);
    c.kinds = kinds;
    randombytes_buf(&c.serial, sizeof c.serial);
    c.not_before = not_before;
    c.not_after = not_after;
    uint8_t msg[sizeof CRYPTO__CERT_SIG_CONTEXT + CRYPTO__CERT_MAX_LEN];
    size_t len;
    if ((rc = cert_signed_message(&c, msg, &len, err)) != GOSR_OK)
        return rc;
    gosr_sign(issuer, msg, len, c.sig);
    *out = c;
    return GOSR_OK;
}

int gosr_cert_load(const char *path, gosr_cert *out, gosr_error *err)
{
    uint8_t *data;
    size_t len;
    /* Read a little past the largest certificate so that trailing bytes
     * are reported as such rather than as a read limit. */
    int rc = gosr_file_read_all(path, 4096, &data, &len);
    if (rc == GOSR_ETOOBIG)
        return bad(err, "cert_trailing_bytes", "file is far too large");
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "cert_read_failed",
                              "cannot read certificate %s: %s", path,
                              gosr_strerror(rc));
    rc = gosr_cert_decode(data, len, out, err);
    gosr_free(data);
    return rc;
}

/* ---- verification -------------------------------------------------------- */

int gosr_cert_verify(const gosr_cert *c,
                     const uint8_t trust_pk[GOSR_SIGN_PUBLIC_LEN], int64_t now,
                     const gosr_revocations *rl, uint32_t need_kinds,
                     gosr_error *err)
{
    uint8_t msg[sizeof CRYPTO__CERT_SIG_CONTEXT + CRYPTO__CERT_MAX_LEN];
    size_t len;
    if (sodium_memcmp(c->issuer_pk, trust_pk, GOSR_SIGN_PUBLIC_LEN) != 0)
        return gosr_error_set(err, GOSR_ECERT, "cert_untrusted_issuer",
                              "certificate for '%.63s' was not issued by the "
                              "trusted root key",
                              c->name);
    if (cert_signed_message(c, msg, &len, NULL) != GOSR_OK ||
        !gosr_sign_verify(trust_pk, msg, len, c->sig))
        return gosr_error_set(err, GOSR_ESIGNATURE, "cert_signature_invalid",
                              "certificate signature does not verify");
    if (rl && gosr_revocations_contains(rl, c))
        return gosr_error_set(err, GOSR_EREVOKED, "cert_revoked",
                              "certificate serial %016llx for '%.63s' or its "
                              "key has been revoked",
                              (unsigned long long)c->serial, c->name);
    if (now < c->not_before)
        return gosr_error_set(err, GOSR_EEXPIRED, "cert_not_yet_valid",
                              "certificate is not valid before %lld (now %lld)",
                              (long long)c->not_before, (long long)now);
    if (now >= c->not_after)
        return gosr_error_set(err, GOSR_EEXPIRED, "cert_expired",
                              "certificate expired at %lld (now %lld)",
                              (long long)c->not_after, (long long)now);
    if ((need_kinds & ~c->kinds) != 0) {
        char have[32], need[32];
        gosr_cert_kinds_format(c->kinds, have);
        gosr_cert_kinds_format(need_kinds, need);
        return gosr_error_set(err, GOSR_ECERT, "cert_kind_not_allowed",
                              "certificate allows %s; %s needed", have, need);
    }
    return GOSR_OK;
}

/* ---- kinds --------------------------------------------------------------- */

static const struct {
    const char *name; /* word used on the command line and in JSON */
    uint32_t bit;     /* GOSR_CERT_KIND_* */
} KINDS[] = {
    {"game", GOSR_CERT_KIND_GAME},
    {"mod", GOSR_CERT_KIND_MOD},
    {"patch", GOSR_CERT_KIND_PATCH},
};

static uint32_t kind_bit(const char *word, size_t len)
{
    if (len == 3 && memcmp(word, "all", 3) == 0)
        return GOSR_CERT_KIND_ALL;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strlen(KINDS[i].name) == len &&
            memcmp(KINDS[i].name, word, len) == 0)
            return KINDS[i].bit;
    return 0;
}

int gosr_cert_kinds_parse(const char *s, uint32_t *kinds)
{
    uint32_t k = 0;
    if (!s || !*s)
        return GOSR_EINVAL;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        uint32_t bit = kind_bit(s, len);
        if (bit == 0)
            return GOSR_EINVAL;
        k |= bit;
        if (!comma)
            break;
        s = comma + 1;
    }
    *kinds = k;
    return GOSR_OK;
}

void gosr_cert_kinds_format(uint32_t kinds, char out[32])
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (kinds & KINDS[i].bit)
            n += (size_t)snprintf(out + n, 32 - n, "%s%s", n ? "," : "",
                                  KINDS[i].name);
    if (kinds & ~GOSR_CERT_KIND_ALL)
        snprintf(out + n, 32 - n, "%s0x%x", n ? "," : "",
                 kinds & ~GOSR_CERT_KIND_ALL);
    else if (kinds == 0)
        snprintf(out, 32, "none");
}
