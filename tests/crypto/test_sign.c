/*
 * test_sign.c — ed25519 keys and signatures: RFC 8032 vectors, sign/verify
 * roundtrip and tampering, key files (save/load, modes, overwrite refused,
 * permissions refused, key.pub/key.sec mismatch, malformed files).
 * Design under test: docs/certs.md ("Key files").
 */
#include "harness.h"
#include "gosr/crypto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void hex(const char *h, uint8_t *out, size_t n)
{
    if (gosr_hex_decode(h, out, n) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "bad hex in test: %s", h);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        gosr_test_fail(__FILE__, __LINE__, "cannot write %s", path);
    if (fd >= 0)
        close(fd);
    chmod(path, mode);
}

static char *path_in(const char *dir, const char *name)
{
    return gosr_asprintf("%s/%s", dir, name);
}

/* RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte). */
GOSR_TEST(rfc8032_vectors)
{
    static const struct {
        const char *seed, *pk, *msg, *sig;
    } v[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
         "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t seed[32], pk[32], sig[64], got[64], msg[1];
        size_t mlen = strlen(v[i].msg) / 2;
        hex(v[i].seed, seed, 32);
        hex(v[i].pk, pk, 32);
        hex(v[i].sig, sig, 64);
        hex(v[i].msg, msg, mlen);
        gosr_keypair kp;
        CHECK_OK(gosr_keypair_from_seed(&kp, seed));
        CHECK_MEM(kp.pk, pk, 32);
        gosr_sign(&kp, msg, mlen, got);
        CHECK_MEM(got, sig, 64);
        CHECK(gosr_sign_verify(pk, msg, mlen, sig));
        gosr_keypair_wipe(&kp);
    }
}

GOSR_TEST(sign_verify_roundtrip_and_tamper)
{
    gosr_keypair kp, other;
    REQUIRE(gosr_keypair_generate(&kp) == GOSR_OK);
    REQUIRE(gosr_keypair_generate(&other) == GOSR_OK);
    CHECK(memcmp(kp.pk, other.pk, 32) != 0);
    uint8_t msg[100], sig[64];
    for (int i = 0; i < 100; i++)
        msg[i] = (uint8_t)(i * 7);
    gosr_sign(&kp, msg, sizeof msg, sig);
    CHECK(gosr_sign_verify(kp.pk, msg, sizeof msg, sig));
    CHECK(!gosr_sign_verify(other.pk, msg, sizeof msg, sig));
    CHECK(!gosr_sign_verify(kp.pk, msg, sizeof msg - 1, sig));
    for (int bit = 0; bit < 8 * 64; bit += 37) {
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(!gosr_sign_verify(kp.pk, msg, sizeof msg, sig));
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    msg[50] ^= 1;
    CHECK(!gosr_sign_verify(kp.pk, msg, sizeof msg, sig));
    gosr_keypair_wipe(&kp);
    gosr_keypair_wipe(&other);
    uint8_t zero[sizeof kp] = {0};
    CHECK_MEM(&kp, zero, sizeof kp);
}

GOSR_TEST(keypair_save_load_roundtrip_and_modes)
{
    char *dir = path_in(gosr_test_tmpdir(), "a/b/key");
    char *sec = path_in(dir, "key.sec"), *pub = path_in(dir, "key.pub");
    gosr_keypair kp, back;
    gosr_error err;
    REQUIRE(gosr_keypair_generate(&kp) == GOSR_OK);
    CHECK_OK(gosr_keypair_save(&kp, dir, &err));
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(stat(sec, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(stat(pub, &st) == 0 && (st.st_mode & 0777) == 0644);
    CHECK_OK(gosr_keypair_load(dir, &back, &err));
    CHECK_MEM(back.pk, kp.pk, 32);
    CHECK_MEM(back.sk, kp.sk, 64);
    uint8_t pk[32];
    CHECK_OK(gosr_pubkey_load(dir, pk, &err)); /* directory form */
    CHECK_MEM(pk, kp.pk, 32);
    CHECK_OK(gosr_pubkey_load(pub, pk, &err)); /* file form */
    CHECK_MEM(pk, kp.pk, 32);
    /* The file is one line: tag, hex, newline. */
    uint8_t *text;
    size_t len;
    CHECK_OK(gosr_file_read_all(pub, 4096, &text, &len));
    CHECK_EQ(len, strlen("gosr-ed25519-public-v1 ") + 64 + 1);
    CHECK(strncmp((char *)text, "gosr-ed25519-public-v1 ", 23) == 0);
    CHECK_EQ(text[len - 1], '\n');
    gosr_free(text);
    gosr_keypair_wipe(&kp);
    gosr_keypair_wipe(&back);
    gosr_free(sec);
    gosr_free(pub);
    gosr_free(dir);
}

GOSR_TEST(keypair_save_refuses_overwrite)
{
    const char *dir = gosr_test_tmpdir();
    gosr_keypair a, b, back;
    gosr_error err;
    REQUIRE(gosr_keypair_generate(&a) == GOSR_OK);
    REQUIRE(gosr_keypair_generate(&b) == GOSR_OK);
    CHECK_OK(gosr_keypair_save(&a, dir, &err));
    CHECK_STATUS(gosr_keypair_save(&b, dir, &err), GOSR_EEXIST);
    CHECK_STR(err.reason, "key_exists");
    CHECK_OK(gosr_keypair_load(dir, &back, &err));
    CHECK_MEM(back.pk, a.pk, 32); /* the first key survived */
    /* Only key.pub present (key.sec deleted) is still refused. */
    char *sec = path_in(dir, "key.sec");
    unlink(sec);
    CHECK_STATUS(gosr_keypair_save(&b, dir, &err), GOSR_EEXIST);
    gosr_free(sec);
    gosr_keypair_wipe(&a);
    gosr_keypair_wipe(&b);
    gosr_keypair_wipe(&back);
}

GOSR_TEST(keypair_load_refuses_loose_permissions)
{
    const char *dir = gosr_test_tmpdir();
    char *sec = path_in(dir, "key.sec");
    gosr_keypair kp, back;
    gosr_error err;
    REQUIRE(gosr_keypair_generate(&kp) == GOSR_OK);
    REQUIRE(gosr_keypair_save(&kp, dir, &err) == GOSR_OK);
    static const mode_t bad[] = {0640, 0604, 0644, 0660, 0620};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        REQUIRE(chmod(sec, bad[i]) == 0);
        gosr_error_clear(&err);
        CHECK_STATUS(gosr_keypair_load(dir, &back, &err), GOSR_EDENIED);
        CHECK_STR(err.reason, "key_file_permissions");
    }
    REQUIRE(chmod(sec, 0400) == 0);
    CHECK_OK(gosr_keypair_load(dir, &back, &err));
    gosr_free(sec);
    gosr_keypair_wipe(&kp);
    gosr_keypair_wipe(&back);
}

GOSR_TEST(keypair_load_detects_mismatch_and_inconsistency)
{
    char *d1 = path_in(gosr_test_tmpdir(), "k1");
    char *d2 = path_in(gosr_test_tmpdir(), "k2");
    char *pub1 = path_in(d1, "key.pub"), *pub2 = path_in(d2, "key.pub");
    char *sec1 = path_in(d1, "key.sec");
    gosr_keypair a, b, back;
    gosr_error err;
    REQUIRE(gosr_keypair_generate(&a) == GOSR_OK);
    REQUIRE(gosr_keypair_generate(&b) == GOSR_OK);
    REQUIRE(gosr_keypair_save(&a, d1, &err) == GOSR_OK);
    REQUIRE(gosr_keypair_save(&b, d2, &err) == GOSR_OK);
    REQUIRE(rename(pub2, pub1) == 0); /* d1 now has b's public key */
    CHECK_STATUS(gosr_keypair_load(d1, &back, &err), GOSR_ECORRUPT);
    CHECK_STR(err.reason, "key_mismatch");
    /* A secret file whose embedded public half is not its seed's. */
    char text[200], hx[129];
    uint8_t sk[64];
    memcpy(sk, a.sk, 32);
    memcpy(sk + 32, b.pk, 32);
    gosr_hex_encode(sk, 64, hx);
    snprintf(text, sizeof text, "gosr-ed25519-secret-v1 %s\n", hx);
    write_text(sec1, text, 0600);
    CHECK_STATUS(gosr_keypair_load(d1, &back, &err), GOSR_ECORRUPT);
    CHECK_STR(err.reason, "key_secret_inconsistent");
    gosr_free(d1), gosr_free(d2), gosr_free(pub1), gosr_free(pub2);
    gosr_free(sec1);
    gosr_keypair_wipe(&a);
    gosr_keypair_wipe(&b);
}

GOSR_TEST(key_files_malformed_are_rejected)
{
    const char *dir = gosr_test_tmpdir();
    char *pub = path_in(dir, "key.pub"), *sec = path_in(dir, "key.sec");
    uint8_t pk[32];
    gosr_error err;
    gosr_keypair kp;
    static const char *bad_pub[] = {
        "",
        "gosr-ed25519-public-v1 \n",
        "gosr-ed25519-public-v1 d75a980182b10ab7d54bfed3c964073a0ee172f3daa6"
        "2325af021a68f70751\n", /* short */
        "gosr-ed25519-public-v1 d75a980182b10ab7d54bfed3c964073a0ee172f3daa6"
        "2325af021a68f707511a00\n", /* long */
        "gosr-ed25519-public-v1 z75a980182b10ab7d54bfed3c964073a0ee172f3daa6"
        "2325af021a68f707511a\n", /* bad digit */
        "gosr-ed25519-secret-v1 d75a980182b10ab7d54bfed3c964073a0ee172f3daa6"
        "2325af021a68f707511a\n", /* wrong tag */
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\n",
    };
    for (size_t i = 0; i < sizeof bad_pub / sizeof bad_pub[0]; i++) {
        write_text(pub, bad_pub[i], 0644);
        CHECK_STATUS(gosr_pubkey_load(pub, pk, &err), GOSR_EFORMAT);
        CHECK_STR(err.reason, "key_file_format");
    }
    write_text(pub,
               "gosr-ed25519-public-v1 d75a980182b10ab7d54bfed3c964073a0ee172"
               "f3daa62325af021a68f707511a\r\n",
               0644);
    CHECK_OK(gosr_pubkey_load(pub, pk, &err)); /* pasted with CRLF */
    write_text(sec, "gosr-ed25519-secret-v1 00\n", 0600);
    CHECK_STATUS(gosr_keypair_load(dir, &kp, &err), GOSR_EFORMAT);
    CHECK_STR(err.reason, "key_file_format");
    CHECK_STATUS(gosr_pubkey_load("/nonexistent/key.pub", pk, &err),
                 GOSR_ENOENT);
    CHECK_STR(err.reason, "key_read_failed");
    gosr_free(pub);
    gosr_free(sec);
}

/* ---- I/O fault injection ------------------------------------------------ */

static int g_write_calls;   /* write() calls seen by failing_write */
static int g_fail_write_at; /* the call number that fails with ENOSPC */

static ssize_t failing_write(int fd, const void *p, size_t n)
{
    if (++g_write_calls == g_fail_write_at) {
        errno = ENOSPC;
        return -1;
    }
    return write(fd, p, n);
}

/* Counts the entries of dir other than "." and "..". */
static int count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

GOSR_TEST(keypair_save_write_failure_leaves_nothing_behind)
{
    gosr_io_ops ops = *gosr_io();
    ops.write = failing_write;
    gosr_keypair kp, back;
    gosr_error err;
    REQUIRE(gosr_keypair_generate(&kp) == GOSR_OK);
    /* Call 1 writes key.sec, call 2 key.pub: fail each in turn. */
    for (int at = 1; at <= 2; at++) {
        char *dir = gosr_asprintf("%s/k%d", gosr_test_tmpdir(), at);
        g_write_calls = 0;
        g_fail_write_at = at;
        gosr_io_set_ops(&ops);
        int rc = gosr_keypair_save(&kp, dir, &err);
        gosr_io_set_ops(NULL);
        CHECK_STATUS(rc, GOSR_ENOSPC);
        CHECK_STR(err.reason, "key_write_failed");
        CHECK_EQ(count_entries(dir), 0); /* no half key, no temp file */
        CHECK_OK(gosr_keypair_save(&kp, dir, &err)); /* retry works */
        CHECK_OK(gosr_keypair_load(dir, &back, &err));
        CHECK_MEM(back.pk, kp.pk, 32);
        gosr_free(dir);
    }
    gosr_keypair_wipe(&kp);
    gosr_keypair_wipe(&back);
}

GOSR_TEST(keypair_save_modes_ignore_umask)
{
    char *dir = path_in(gosr_test_tmpdir(), "k");
    char *sec = path_in(dir, "key.sec"), *pub = path_in(dir, "key.pub");
    gosr_keypair kp;
    gosr_error err;
    REQUIRE(gosr_keypair_generate(&kp) == GOSR_OK);
    mode_t old = umask(0);
    CHECK_OK(gosr_keypair_save(&kp, dir, &err));
    umask(old);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(stat(sec, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(stat(pub, &st) == 0 && (st.st_mode & 0777) == 0644);
    gosr_keypair_wipe(&kp);
    gosr_free(dir), gosr_free(sec), gosr_free(pub);
}
