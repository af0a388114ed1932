/*
 * test_cert.c — certificates and revocation lists: issue/encode/decode
 * roundtrip, strict decoding (every truncation, trailing bytes, each decode
 * reason), every reason code of gosr_cert_verify, revocation by serial and
 * by key, tampered/foreign/non-canonical/oversized revocation lists, kind
 * names, and out-of-memory while decoding.
 * Design under test: docs/certs.md.
 */
#include "harness.h"
#include "crypto/cert_int.h"

#include <stdio.h>

#define NOW 1800000000LL /* a fixed "now" well inside the test windows */

/* Deterministic keys: seed byte b repeated. */
static void key_from(gosr_keypair *kp, uint8_t b)
{
    uint8_t seed[32];
    memset(seed, b, sizeof seed);
    if (gosr_keypair_from_seed(kp, seed) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "keypair_from_seed failed");
}

/* A valid certificate from root (seed 1) for dev (seed 2), all kinds,
 * valid [NOW-100, NOW+100). */
static void sample_cert(gosr_cert *c, gosr_keypair *root, gosr_keypair *dev)
{
    key_from(root, 1);
    key_from(dev, 2);
    gosr_error err;
    if (gosr_cert_issue(root, dev->pk, "Acme Studio", GOSR_CERT_KIND_ALL,
                        NOW - 100, NOW + 100, c, &err) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "issue: %s", err.reason);
}

static void encode(const gosr_cert *c, gosr_buf *b)
{
    b->len = 0;
    if (gosr_cert_encode(c, b) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "encode failed");
}

GOSR_TEST(cert_issue_encode_decode_roundtrip)
{
    gosr_keypair root, dev;
    gosr_cert c, back;
    gosr_error err;
    sample_cert(&c, &root, &dev);
    CHECK_MEM(c.issuer_pk, root.pk, 32);
    CHECK_MEM(c.subject_pk, dev.pk, 32);
    CHECK_STR(c.name, "Acme Studio");
    gosr_buf b = {0};
    encode(&c, &b);
    CHECK_EQ(b.len, CRYPTO__CERT_HEAD_LEN + 11 + CRYPTO__CERT_TAIL_LEN + 64);
    CHECK_MEM(b.data, "GOSRCERT\x01", 9);
    CHECK_OK(gosr_cert_decode(b.data, b.len, &back, &err));
    CHECK_MEM(&back, &c, sizeof c);
    CHECK_OK(gosr_cert_verify(&back, root.pk, NOW, NULL, 0, &err));
    /* Encoding is canonical: decode then encode gives the same bytes. */
    gosr_buf b2 = {0};
    encode(&back, &b2);
    CHECK_EQ(b2.len, b.len);
    CHECK_MEM(b2.data, b.data, b.len);
    /* Serials are random per issue. */
    gosr_cert c2;
    CHECK_OK(gosr_cert_issue(&root, dev.pk, "Acme Studio", 1, 0, 1, &c2, &err));
    CHECK(c2.serial != c.serial);
    gosr_buf_free(&b);
    gosr_buf_free(&b2);
    gosr_keypair_wipe(&root);
    gosr_keypair_wipe(&dev);
}

GOSR_TEST(cert_decode_every_truncation_fails_cleanly)
{
    gosr_keypair root, dev;
    gosr_cert c, back;
    gosr_error err;
    sample_cert(&c, &root, &dev);
    gosr_buf b = {0};
    encode(&c, &b);
    for (size_t n = 0; n < b.len; n++) {
        /* A fresh heap copy of exactly n bytes so ASan sees overreads. */
        uint8_t *p = gosr_malloc(n ? n : 1);
        memcpy(p, b.data, n);
        gosr_error_clear(&err);
        CHECK_STATUS(gosr_cert_decode(p, n, &back, &err), GOSR_EFORMAT);
        CHECK(strcmp(err.reason, "cert_truncated") == 0);
        gosr_free(p);
    }
    CHECK_STATUS(gosr_cert_decode(NULL, 0, &back, &err), GOSR_EFORMAT);
    REQUIRE(gosr_buf_append(&b, "", 1) == GOSR_OK);
    CHECK_STATUS(gosr_cert_decode(b.data, b.len, &back, &err), GOSR_EFORMAT);
    CHECK_STR(err.reason, "cert_trailing_bytes");
    gosr_buf_free(&b);
}

/* Decodes b with byte `at` set to v and checks the reason. */
static void check_decode_reason(const gosr_buf *b, size_t at, uint8_t v,
                                const char *reason, int line)
{
    uint8_t copy[CRYPTO__CERT_MAX_LEN + 1];
    gosr_cert back;
    gosr_error err;
    memcpy(copy, b->data, b->len);
    copy[at] = v;
    gosr_error_clear(&err);
    int rc = gosr_cert_decode(copy, b->len, &back, &err);
    if (rc != GOSR_EFORMAT || strcmp(err.reason, reason) != 0)
        gosr_test_fail(__FILE__, line, "byte %zu = 0x%02x: got %s/%s, want %s",
                       at, v, gosr_status_name(rc), err.reason, reason);
}

GOSR_TEST(cert_decode_reasons)
{
    gosr_keypair root, dev;
    gosr_cert c;
    sample_cert(&c, &root, &dev);
    gosr_buf b = {0};
    encode(&c, &b);
    const size_t name_at = CRYPTO__CERT_HEAD_LEN, nl_at = name_at - 1;
    const size_t kinds_at = name_at + 11, nb_at = kinds_at + 4 + 8;
    check_decode_reason(&b, 0, 'X', "cert_bad_magic", __LINE__);
    check_decode_reason(&b, 7, 'X', "cert_bad_magic", __LINE__);
    check_decode_reason(&b, 8, 2, "cert_bad_version", __LINE__);
    check_decode_reason(&b, 8, 0, "cert_bad_version", __LINE__);
    check_decode_reason(&b, nl_at, 0, "cert_bad_name", __LINE__);
    check_decode_reason(&b, nl_at, 64, "cert_bad_name", __LINE__);
    check_decode_reason(&b, nl_at, 12, "cert_truncated", __LINE__);
    check_decode_reason(&b, nl_at, 10, "cert_trailing_bytes", __LINE__);
    check_decode_reason(&b, name_at + 3, '\n', "cert_bad_name", __LINE__);
    check_decode_reason(&b, name_at + 3, 0x7f, "cert_bad_name", __LINE__);
    check_decode_reason(&b, name_at + 3, 0x00, "cert_bad_name", __LINE__);
    check_decode_reason(&b, name_at + 3, 0xff, "cert_bad_name", __LINE__);
    check_decode_reason(&b, name_at + 10, 0xc3, "cert_bad_name", __LINE__);
    check_decode_reason(&b, kinds_at, 0, "cert_bad_kinds", __LINE__);
    check_decode_reason(&b, kinds_at, 8, "cert_bad_kinds", __LINE__);
    check_decode_reason(&b, kinds_at + 3, 1, "cert_bad_kinds", __LINE__);
    /* not_before's top byte to 0x7f: far in the future, after not_after. */
    check_decode_reason(&b, nb_at + 7, 0x7f, "cert_bad_validity", __LINE__);
    gosr_buf_free(&b);
}

GOSR_TEST(cert_names_utf8_rules)
{
    static const struct {
        const char *name;
        bool ok;
    } v[] = {
        {"a", true},
        {"Studio \xc3\x9cnic\xc3\xb8"
         "de \xe2\x9c\x93",
         true},
        {"\xf0\x9f\x8e\xae games", true},
        {"", false},
        {"tab\there", false},
        {"\xc0\xaf", false},         /* overlong '/' */
        {"\xe0\x80\xaf", false},     /* overlong, 3 bytes */
        {"\xed\xa0\x80", false},     /* surrogate D800 */
        {"\xf4\x90\x80\x80", false}, /* above U+10FFFF */
        {"\xc2\x85", false},         /* C1 control NEL */
        {"\xe2\x9c", false},         /* cut sequence */
        {"\x80", false},             /* lone continuation */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (crypto__cert_name_valid((const uint8_t *)v[i].name,
                                    strlen(v[i].name)) != v[i].ok)
            gosr_test_fail(__FILE__, __LINE__, "name %zu: want %d", i, v[i].ok);
    char long_name[65];
    memset(long_name, 'x', 64);
    long_name[64] = '\0';
    CHECK(!crypto__cert_name_valid((const uint8_t *)long_name, 64));
    CHECK(crypto__cert_name_valid((const uint8_t *)long_name, 63));
}

GOSR_TEST(cert_issue_rejects_bad_arguments)
{
    gosr_keypair root, dev;
    gosr_cert c;
    gosr_error err;
    key_from(&root, 1);
    key_from(&dev, 2);
    char long_name[80];
    memset(long_name, 'n', 79);
    long_name[79] = '\0';
    CHECK_STATUS(gosr_cert_issue(&root, dev.pk, long_name, 1, 0, 1, &c, &err),
                 GOSR_EINVAL);
    CHECK_STR(err.reason, "cert_bad_name");
    CHECK_STATUS(gosr_cert_issue(&root, dev.pk, "", 1, 0, 1, &c, &err),
                 GOSR_EINVAL);
    CHECK_STR(err.reason, "cert_bad_name");
    CHECK_STATUS(gosr_cert_issue(&root, dev.pk, "a\x01", 1, 0, 1, &c, &err),
                 GOSR_EINVAL);
    CHECK_STR(err.reason, "cert_bad_name");
    CHECK_STATUS(gosr_cert_issue(&root, dev.pk, "a", 0, 0, 1, &c, &err),
                 GOSR_EINVAL);
    CHECK_STR(err.reason, "cert_bad_kinds");
    CHECK_STATUS(gosr_cert_issue(&root, dev.pk, "a", 16, 0, 1, &c, &err),
                 GOSR_EINVAL);
    CHECK_STR(err.reason, "cert_bad_kinds");
    CHECK_STATUS(gosr_cert_issue(&root, dev.pk, "a", 1, 5, 5, &c, &err),
                 GOSR_EINVAL);
    CHECK_STR(err.reason, "cert_bad_validity");
}

/* Verifies and checks the status and reason. */
#define CHECK_VERIFY(c, pk, now, rl, kinds, want_rc, want_reason)              \
    do {                                                                       \
        gosr_error e_;                                                         \
        gosr_error_clear(&e_);                                                 \
        CHECK_STATUS(gosr_cert_verify(c, pk, now, rl, kinds, &e_), want_rc);   \
        CHECK_STR(e_.reason, want_reason);                                     \
    } while (0)

GOSR_TEST(cert_verify_every_reason)
{
    gosr_keypair root, dev, other;
    gosr_cert c, t;
    gosr_error err;
    sample_cert(&c, &root, &dev);
    key_from(&other, 3);
    CHECK_OK(
        gosr_cert_verify(&c, root.pk, NOW, NULL, GOSR_CERT_KIND_ALL, &err));
    /* Untrusted issuer: another root, or a cert the subject self-issued. */
    CHECK_VERIFY(&c, other.pk, NOW, NULL, 0, GOSR_ECERT,
                 "cert_untrusted_issuer");
    gosr_cert self;
    CHECK_OK(
        gosr_cert_issue(&other, other.pk, "self", 7, 0, NOW * 2, &self, &err));
    CHECK_VERIFY(&self, root.pk, NOW, NULL, 0, GOSR_ECERT,
                 "cert_untrusted_issuer");
    /* Signature: any signed field changed, or the signature itself. */
    t = c, t.name[0] = 'B';
    CHECK_VERIFY(&t, root.pk, NOW, NULL, 0, GOSR_ESIGNATURE,
                 "cert_signature_invalid");
    t = c, t.kinds = GOSR_CERT_KIND_GAME;
    CHECK_VERIFY(&t, root.pk, NOW, NULL, 0, GOSR_ESIGNATURE,
                 "cert_signature_invalid");
    t = c, t.not_after++;
    CHECK_VERIFY(&t, root.pk, NOW, NULL, 0, GOSR_ESIGNATURE,
                 "cert_signature_invalid");
    t = c, t.serial ^= 1;
    CHECK_VERIFY(&t, root.pk, NOW, NULL, 0, GOSR_ESIGNATURE,
                 "cert_signature_invalid");
    t = c, t.subject_pk[5] ^= 1;
    CHECK_VERIFY(&t, root.pk, NOW, NULL, 0, GOSR_ESIGNATURE,
                 "cert_signature_invalid");
    t = c, t.sig[63] ^= 0x10;
    CHECK_VERIFY(&t, root.pk, NOW, NULL, 0, GOSR_ESIGNATURE,
                 "cert_signature_invalid");
    t = c, t.name[0] = '\0'; /* unencodable: still a signature failure */
    CHECK_VERIFY(&t, root.pk, NOW, NULL, 0, GOSR_ESIGNATURE,
                 "cert_signature_invalid");
    /* Validity window is [not_before, not_after). */
    CHECK_OK(gosr_cert_verify(&c, root.pk, NOW - 100, NULL, 0, &err));
    CHECK_OK(gosr_cert_verify(&c, root.pk, NOW + 99, NULL, 0, &err));
    CHECK_VERIFY(&c, root.pk, NOW - 101, NULL, 0, GOSR_EEXPIRED,
                 "cert_not_yet_valid");
    CHECK_VERIFY(&c, root.pk, NOW + 100, NULL, 0, GOSR_EEXPIRED,
                 "cert_expired");
    /* Kinds. */
    gosr_cert mods;
    CHECK_OK(gosr_cert_issue(&root, dev.pk, "modder", GOSR_CERT_KIND_MOD,
                             NOW - 1, NOW + 1, &mods, &err));
    CHECK_OK(
        gosr_cert_verify(&mods, root.pk, NOW, NULL, GOSR_CERT_KIND_MOD, &err));
    CHECK_VERIFY(&mods, root.pk, NOW, NULL, GOSR_CERT_KIND_GAME, GOSR_ECERT,
                 "cert_kind_not_allowed");
    CHECK_VERIFY(&mods, root.pk, NOW, NULL,
                 GOSR_CERT_KIND_MOD | GOSR_CERT_KIND_PATCH, GOSR_ECERT,
                 "cert_kind_not_allowed");
    /* Revoked (by serial); fuller revocation tests below. */
    gosr_revocations *rl = crypto__revocations_new(root.pk);
    REQUIRE(rl != NULL);
    CHECK_OK(crypto__revocations_add_serial(rl, c.issuer_pk, c.serial, NULL));
    CHECK_VERIFY(&c, root.pk, NOW, rl, 0, GOSR_EREVOKED, "cert_revoked");
    CHECK_OK(gosr_cert_verify(&mods, root.pk, NOW, rl, 0, &err));
    gosr_revocations_free(rl);
    gosr_revocations_free(NULL);
}

/* Signs rl with root, writes it to DIR/name and returns the path (caller
 * frees with gosr_free). */
static char *write_list(gosr_revocations *rl, const gosr_keypair *root,
                        const char *name)
{
    gosr_buf b = {0};
    char *path = gosr_asprintf("%s/%s", gosr_test_tmpdir(), name);
    if (crypto__revocations_sign_encode(rl, root, &b) != GOSR_OK ||
        gosr_file_write_atomic(path, b.data, b.len, 0644) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "cannot write list %s", path);
    gosr_buf_free(&b);
    return path;
}

GOSR_TEST(revocation_by_serial_and_by_key)
{
    gosr_keypair root, dev, dev2;
    gosr_cert c, c_other, c_dev2;
    gosr_error err;
    sample_cert(&c, &root, &dev);
    key_from(&dev2, 4);
    CHECK_OK(gosr_cert_issue(&root, dev.pk, "Acme again", 7, 0, NOW * 2,
                             &c_other, &err));
    CHECK_OK(
        gosr_cert_issue(&root, dev2.pk, "Beta", 7, 0, NOW * 2, &c_dev2, &err));
    gosr_revocations *rl = crypto__revocations_new(root.pk);
    REQUIRE(rl != NULL);
    rl->sequence = 7;
    rl->issued_at = NOW;
    bool added;
    CHECK_OK(crypto__revocations_add_serial(rl, c.issuer_pk, c.serial, &added));
    CHECK(added);
    CHECK_OK(crypto__revocations_add_serial(rl, c.issuer_pk, c.serial, &added));
    CHECK(!added);                       /* idempotent */
    for (uint64_t s = 1; s < 40; s += 3) /* more entries, sorted inserts */
        CHECK_OK(crypto__revocations_add_serial(rl, root.pk, s * 0x1234567ull,
                                                NULL));
    CHECK_OK(crypto__revocations_add_key(rl, dev2.pk, &added));
    CHECK(added);
    char *path = write_list(rl, &root, "revoked.rvkl");
    gosr_revocations_free(rl);

    gosr_revocations *loaded = NULL;
    REQUIRE(gosr_revocations_load(path, root.pk, &loaded, &err) == GOSR_OK);
    CHECK_EQ(loaded->sequence, 7);
    CHECK_EQ(loaded->issued_at, NOW);
    CHECK_EQ(loaded->n_keys, 1);
    CHECK(gosr_revocations_contains(loaded, &c));        /* by serial */
    CHECK(!gosr_revocations_contains(loaded, &c_other)); /* same key, ok */
    CHECK(gosr_revocations_contains(loaded, &c_dev2));   /* by key */
    CHECK_VERIFY(&c, root.pk, NOW, loaded, 0, GOSR_EREVOKED, "cert_revoked");
    CHECK_VERIFY(&c_dev2, root.pk, NOW, loaded, 0, GOSR_EREVOKED,
                 "cert_revoked");
    CHECK_OK(gosr_cert_verify(&c_other, root.pk, NOW, loaded, 0, &err));
    CHECK(!gosr_revocations_contains(NULL, &c));
    gosr_revocations_free(loaded);
    gosr_free(path);
}

GOSR_TEST(revocation_list_tampered_or_foreign_is_rejected)
{
    gosr_keypair root, dev, other;
    gosr_cert c;
    gosr_error err;
    sample_cert(&c, &root, &dev);
    key_from(&other, 3);
    gosr_revocations *rl = crypto__revocations_new(root.pk), *out = NULL;
    REQUIRE(rl != NULL);
    CHECK_OK(crypto__revocations_add_serial(rl, c.issuer_pk, c.serial, NULL));
    CHECK_OK(crypto__revocations_add_key(rl, other.pk, NULL));
    gosr_buf b = {0};
    REQUIRE(crypto__revocations_sign_encode(rl, &root, &b) == GOSR_OK);
    gosr_revocations_free(rl);
    CHECK_OK(crypto__revocations_decode(b.data, b.len, root.pk, &out, &err));
    gosr_revocations_free(out);
    /* Signed by another key. */
    CHECK_STATUS(
        crypto__revocations_decode(b.data, b.len, other.pk, &out, &err),
        GOSR_ESIGNATURE);
    CHECK_STR(err.reason, "revocation_signature_invalid");
    /* Every single-byte change after the version byte breaks the
     * signature or the frame; none is accepted. */
    for (size_t i = 9; i < b.len; i++) {
        b.data[i] ^= 0x01;
        out = NULL;
        int rc = crypto__revocations_decode(b.data, b.len, root.pk, &out, &err);
        if (rc == GOSR_OK)
            gosr_test_fail(__FILE__, __LINE__, "byte %zu flip accepted", i);
        gosr_revocations_free(out);
        b.data[i] ^= 0x01;
    }
    /* Every truncation, and a trailing byte. */
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *p = gosr_malloc(n ? n : 1);
        memcpy(p, b.data, n);
        CHECK_STATUS(crypto__revocations_decode(p, n, root.pk, &out, &err),
                     GOSR_EFORMAT);
        gosr_free(p);
    }
    REQUIRE(gosr_buf_append(&b, "x", 1) == GOSR_OK);
    CHECK_STATUS(crypto__revocations_decode(b.data, b.len, root.pk, &out, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "revocation_trailing_bytes");
    b.data[0] = 'X';
    CHECK_STATUS(crypto__revocations_decode(b.data, b.len, root.pk, &out, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "revocation_bad_magic");
    gosr_buf_free(&b);
}

GOSR_TEST(revocation_list_strict_frame)
{
    gosr_keypair root;
    gosr_error err;
    gosr_revocations *out = NULL;
    key_from(&root, 1);
    gosr_revocations *rl = crypto__revocations_new(root.pk);
    REQUIRE(rl != NULL);
    gosr_buf b = {0};
    REQUIRE(crypto__revocations_sign_encode(rl, &root, &b) == GOSR_OK);
    CHECK_EQ(b.len, CRYPTO__RVKL_HEAD_LEN + 64);
    b.data[8] = 2;
    CHECK_STATUS(crypto__revocations_decode(b.data, b.len, root.pk, &out, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "revocation_bad_version");
    b.data[8] = 1;
    /* Huge counts are refused from the header alone, before allocating. */
    crypto__put_u32(b.data + 57, 0xffffffffu);
    CHECK_STATUS(crypto__revocations_decode(b.data, b.len, root.pk, &out, &err),
                 GOSR_ETOOBIG);
    CHECK_STR(err.reason, "revocation_too_many_entries");
    crypto__put_u32(b.data + 57, 600000);
    crypto__put_u32(b.data + 61, 400001);
    CHECK_STATUS(crypto__revocations_decode(b.data, b.len, root.pk, &out, &err),
                 GOSR_ETOOBIG);
    crypto__put_u32(b.data + 61, 0);
    CHECK_STATUS(crypto__revocations_decode(b.data, b.len, root.pk, &out, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "revocation_truncated");
    gosr_revocations_free(rl);
    gosr_buf_free(&b);
}

GOSR_TEST(revocation_list_must_be_canonical)
{
    gosr_keypair root, a, bk;
    gosr_error err;
    gosr_revocations *out = NULL;
    key_from(&root, 1);
    key_from(&a, 5);
    key_from(&bk, 6);
    gosr_revocations *rl = crypto__revocations_new(root.pk);
    REQUIRE(rl != NULL);
    CHECK_OK(crypto__revocations_add_key(rl, a.pk, NULL));
    CHECK_OK(crypto__revocations_add_key(rl, bk.pk, NULL));
    /* Swap the sorted keys, then sign: a validly signed, unsorted list. */
    uint8_t tmp[32];
    memcpy(tmp, rl->keys[0], 32);
    memcpy(rl->keys[0], rl->keys[1], 32);
    memcpy(rl->keys[1], tmp, 32);
    gosr_buf b = {0};
    REQUIRE(crypto__revocations_sign_encode(rl, &root, &b) == GOSR_OK);
    CHECK_STATUS(crypto__revocations_decode(b.data, b.len, root.pk, &out, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "revocation_not_canonical");
    /* A duplicate is not canonical either. */
    memcpy(rl->keys[1], rl->keys[0], 32);
    b.len = 0;
    REQUIRE(crypto__revocations_sign_encode(rl, &root, &b) == GOSR_OK);
    CHECK_STATUS(crypto__revocations_decode(b.data, b.len, root.pk, &out, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "revocation_not_canonical");
    gosr_revocations_free(rl);
    gosr_buf_free(&b);
}

GOSR_TEST(revocation_load_errors_and_oom)
{
    gosr_keypair root;
    gosr_error err;
    gosr_revocations *out = NULL;
    key_from(&root, 1);
    CHECK_STATUS(
        gosr_revocations_load("/nonexistent/x.rvkl", root.pk, &out, &err),
        GOSR_ENOENT);
    CHECK_STR(err.reason, "revocation_read_failed");
    gosr_revocations *rl = crypto__revocations_new(root.pk);
    REQUIRE(rl != NULL);
    CHECK_OK(crypto__revocations_add_key(rl, root.pk, NULL));
    CHECK_OK(crypto__revocations_add_serial(rl, root.pk, 9, NULL));
    gosr_buf b = {0};
    REQUIRE(crypto__revocations_sign_encode(rl, &root, &b) == GOSR_OK);
    gosr_revocations_free(rl);
    /* Fail each allocation of decode in turn: clean ENOMEM, no leak. */
    int failures = 0;
    for (long n = 1; n < 10; n++) {
        gosr_alloc_fail_after(n);
        out = NULL;
        int rc = crypto__revocations_decode(b.data, b.len, root.pk, &out, &err);
        gosr_alloc_fail_after(0);
        if (rc == GOSR_OK) {
            gosr_revocations_free(out);
            break;
        }
        CHECK_STATUS(rc, GOSR_ENOMEM);
        failures++;
    }
    CHECK_INT(failures, >=, 3);
    gosr_buf_free(&b);
}

GOSR_TEST(cert_load_from_file)
{
    gosr_keypair root, dev;
    gosr_cert c, back;
    gosr_error err;
    sample_cert(&c, &root, &dev);
    gosr_buf b = {0};
    encode(&c, &b);
    char *path = gosr_asprintf("%s/dev.cert", gosr_test_tmpdir());
    REQUIRE(gosr_file_write_atomic(path, b.data, b.len, 0644) == GOSR_OK);
    CHECK_OK(gosr_cert_load(path, &back, &err));
    CHECK_MEM(&back, &c, sizeof c);
    CHECK_STATUS(gosr_cert_load("/nonexistent.cert", &back, &err), GOSR_ENOENT);
    CHECK_STR(err.reason, "cert_read_failed");
    gosr_free(path);
    gosr_buf_free(&b);
}

GOSR_TEST(cert_kinds_parse_and_format)
{
    uint32_t k = 0;
    char s[32];
    CHECK_OK(gosr_cert_kinds_parse("game,mod,patch", &k));
    CHECK_EQ(k, GOSR_CERT_KIND_ALL);
    CHECK_OK(gosr_cert_kinds_parse("patch", &k));
    CHECK_EQ(k, GOSR_CERT_KIND_PATCH);
    CHECK_OK(gosr_cert_kinds_parse("mod,game", &k));
    CHECK_EQ(k, GOSR_CERT_KIND_MOD | GOSR_CERT_KIND_GAME);
    CHECK_OK(gosr_cert_kinds_parse("all", &k));
    CHECK_EQ(k, GOSR_CERT_KIND_ALL);
    CHECK_STATUS(gosr_cert_kinds_parse("", &k), GOSR_EINVAL);
    CHECK_STATUS(gosr_cert_kinds_parse("games", &k), GOSR_EINVAL);
    CHECK_STATUS(gosr_cert_kinds_parse("game,", &k), GOSR_EINVAL);
    CHECK_STATUS(gosr_cert_kinds_parse("game, mod", &k), GOSR_EINVAL);
    gosr_cert_kinds_format(GOSR_CERT_KIND_ALL, s);
    CHECK_STR(s, "game,mod,patch");
    gosr_cert_kinds_format(GOSR_CERT_KIND_MOD | GOSR_CERT_KIND_PATCH, s);
    CHECK_STR(s, "mod,patch");
    gosr_cert_kinds_format(0, s);
    CHECK_STR(s, "none");
    gosr_cert_kinds_format(0xffffffffu, s);
    CHECK_STR(s, "game,mod,patch,0xfffffff8");
}
