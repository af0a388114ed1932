/*
 * sign.c — ed25519 keys and detached signatures through libsodium: one-time
 * library initialisation, key generation (random or from a seed), the text
 * key files DIR/key.pub and DIR/key.sec (created without overwriting, secret
 * file mode 0600, refused when group/world accessible), and sign/verify.
 * Design: docs/certs.md ("Key files").
 *
 * Sections: initialisation, keypairs, key file text, saving, loading,
 * signatures.
 */
#include "gosr/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Text tags that open each key file (docs/certs.md). */
#define PUB_TAG "gosr-ed25519-public-v1 "
#define SEC_TAG "gosr-ed25519-secret-v1 "
/* Key files are one short line; anything bigger is not a key file. */
#define KEY_FILE_MAX 512

/* ---- initialisation ------------------------------------------------------ */

static pthread_once_t g_sodium_once = PTHREAD_ONCE_INIT;
static int g_sodium_status = GOSR_EINTERNAL; /* set once by sodium_once_fn */

static void sodium_once_fn(void)
{
    g_sodium_status = sodium_init() < 0 ? GOSR_EINTERNAL : GOSR_OK;
}

int gosr_crypto_init(void)
{
    pthread_once(&g_sodium_once, sodium_once_fn);
    return g_sodium_status;
}

/* ---- keypairs ------------------------------------------------------------ */

int gosr_keypair_generate(gosr_keypair *kp)
{
    int rc = gosr_crypto_init();
    if (rc != GOSR_OK)
        return rc;
    return crypto_sign_ed25519_keypair(kp->pk, kp->sk) == 0 ? GOSR_OK
                                                            : GOSR_EINTERNAL;
}

int gosr_keypair_from_seed(gosr_keypair *kp, const uint8_t seed[32])
{
    int rc = gosr_crypto_init();
    if (rc != GOSR_OK)
        return rc;
    return crypto_sign_ed25519_seed_keypair(kp->pk, kp->sk, seed) == 0
               ? GOSR_OK
               : GOSR_EINTERNAL;
}

void gosr_keypair_wipe(gosr_keypair *kp)
{
    if (kp)
        sodium_memzero(kp, sizeof *kp);
}

/* ---- key file text ------------------------------------------------------- */

/* Parses "TAG<2n hex>" followed only by optional ASCII whitespace (a
 * trailing newline, or "\r\n" after a paste) into out[n]. `text` is
 * NUL-terminated and `len` bytes long. */
static int parse_key_text(const char *text, size_t len, const char *tag,
                          uint8_t *out, size_t n)
{
    size_t tlen = strlen(tag);
    if (len < tlen + 2 * n || memcmp(text, tag, tlen) != 0 ||
        strlen(text) != len)
        return GOSR_EFORMAT;
    for (size_t i = tlen + 2 * n; i < len; i++)
        if (!strchr(" \t\r\n", text[i]))
            return GOSR_EFORMAT;
    char hex[2 * GOSR_SIGN_SECRET_LEN + 1];
    memcpy(hex, text + tlen, 2 * n);
    hex[2 * n] = '\0';
    int rc = gosr_hex_decode(hex, out, n);
    sodium_memzero(hex, sizeof hex);
    return rc;
}

/* Formats "TAG<2n hex>\n" into out (size >= strlen(tag) + 2n + 2). */
static void format_key_text(const char *tag, const uint8_t *in, size_t n,
                            char *out)
{
    size_t tlen = strlen(tag);
    memcpy(out, tag, tlen);
    gosr_hex_encode(in, n, out + tlen);
    out[tlen + 2 * n] = '\n';
    out[tlen + 2 * n + 1] = '\0';
}

static int path_join(char *out, size_t cap, const char *dir, const char *name,
                     gosr_error *err)
{
    if (snprintf(out, cap, "%s/%s", dir, name) >= (int)cap)
        return gosr_error_set(err, GOSR_EINVAL, "path_too_long",
                              "path %s/%s is too long", dir, name);
    return GOSR_OK;
}

/* ---- saving -------------------------------------------------------------- */

/* Creates `path` holding n bytes with `mode`, never replacing an existing
 * file: the bytes go to a private temporary file that is fsynced and then
 * hard-linked to `path` (link(2) fails with EEXIST instead of replacing). */
static int write_new_file(const char *path, const void *p, size_t n,
                          mode_t mode)
{
    const gosr_io_ops *io = gosr_io();
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >=
        (int)sizeof tmp)
        return GOSR_EINVAL;
    int fd = io->open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return gosr_status_from_errno(errno);
    int rc = fchmod(fd, mode) == 0 ? GOSR_OK : gosr_status_from_errno(errno);
    if (rc == GOSR_OK)
        rc = gosr_io_write_all(fd, p, n);
    if (rc == GOSR_OK && io->fsync(fd) != 0)
        rc = gosr_status_from_errno(errno);
    if (io->close(fd) != 0 && rc == GOSR_OK)
        rc = gosr_status_from_errno(errno);
    if (rc == GOSR_OK && link(tmp, path) != 0)
        rc = gosr_status_from_errno(errno);
    io->unlink(tmp);
    return rc;
}

static int refuse_existing(const char *path, gosr_error *err)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        return gosr_error_set(err, GOSR_EEXIST, "key_exists",
                              "%s already exists; refusing to overwrite a key",
                              path);
    return GOSR_OK;
}

int gosr_keypair_save(const gosr_keypair *kp, const char *dir, gosr_error *err)
{
    char pub_path[PATH_MAX], sec_path[PATH_MAX];
    char sec_text[sizeof SEC_TAG + 2 * GOSR_SIGN_SECRET_LEN + 2];
    char pub_text[sizeof PUB_TAG + 2 * GOSR_SIGN_PUBLIC_LEN + 2];
    int rc;
    if ((rc = path_join(pub_path, sizeof pub_path, dir, "key.pub", err)) ||
        (rc = path_join(sec_path, sizeof sec_path, dir, "key.sec", err)))
        return rc;
    if ((rc = gosr_mkdir_p(dir, 0700)) != GOSR_OK)
        return gosr_error_set(err, rc, "key_dir_create_failed",
                              "cannot create key directory %s: %s", dir,
                              gosr_strerror(rc));
    if ((rc = refuse_existing(sec_path, err)) ||
        (rc = refuse_existing(pub_path, err)))
        return rc;
    format_key_text(SEC_TAG, kp->sk, GOSR_SIGN_SECRET_LEN, sec_text);
    rc = write_new_file(sec_path, sec_text, strlen(sec_text), 0600);
    sodium_memzero(sec_text, sizeof sec_text);
    if (rc != GOSR_OK)
        goto out_error;
    format_key_text(PUB_TAG, kp->pk, GOSR_SIGN_PUBLIC_LEN, pub_text);
    rc = write_new_file(pub_path, pub_text, strlen(pub_text), 0644);
    if (rc != GOSR_OK) {
        unlink(sec_path); /* ours: created just above */
        goto out_error;
    }
    return gosr_fsync_dir(dir);
out_error:
    return gosr_error_set(
        err, rc, rc == GOSR_EEXIST ? "key_exists" : "key_write_failed",
        "cannot write key files in %s: %s", dir, gosr_strerror(rc));
}

/* ---- loading ------------------------------------------------------------- */

/* The reasons a key file's problems are reported with (docs/certs.md). */
static const gosr_secret_reasons KEY_REASONS = {
    .unreadable = "key_read_failed",
    .not_file = "key_file_format",
    .mode = "key_file_permissions",
    .too_big = "key_file_format",
};

/* Checks that sk is seed || pk for its own seed, and that pk matches the
 * public key file's. */
static int check_secret_consistent(const gosr_keypair *kp,
                                   const uint8_t file_pk[32], const char *dir,
                                   gosr_error *err)
{
    gosr_keypair derived;
    int rc = gosr_keypair_from_seed(&derived, kp->sk);
    if (rc == GOSR_OK && sodium_memcmp(derived.sk, kp->sk, 64) != 0)
        rc = gosr_error_set(err, GOSR_ECORRUPT, "key_secret_inconsistent",
                            "%s/key.sec: the public half does not match the "
                            "seed",
                            dir);
    else if (rc == GOSR_OK && memcmp(file_pk, kp->pk, 32) != 0)
        rc = gosr_error_set(err, GOSR_ECORRUPT, "key_mismatch",
                            "%s/key.pub does not belong to %s/key.sec", dir,
                            dir);
    gosr_keypair_wipe(&derived);
    return rc;
}

int gosr_keypair_load(const char *dir, gosr_keypair *kp, gosr_error *err)
{
    char sec_path[PATH_MAX], pub_path[PATH_MAX], text[KEY_FILE_MAX];
    uint8_t file_pk[GOSR_SIGN_PUBLIC_LEN];
    size_t len = 0;
    int rc;
    if ((rc = path_join(sec_path, sizeof sec_path, dir, "key.sec", err)) ||
        (rc = path_join(pub_path, sizeof pub_path, dir, "key.pub", err)))
        return rc;
    rc = gosr_secret_read(sec_path, false, &KEY_REASONS, text, sizeof text,
                          &len, err);
    if (rc == GOSR_OK &&
        parse_key_text(text, len, SEC_TAG, kp->sk, GOSR_SIGN_SECRET_LEN) != 0)
        rc = gosr_error_set(err, GOSR_EFORMAT, "key_file_format",
                            "%s is not a gosr-ed25519-secret-v1 key file",
                            sec_path);
    sodium_memzero(text, sizeof text);
    if (rc != GOSR_OK)
        goto out_wipe;
    memcpy(kp->pk, kp->sk + 32, 32);
    if ((rc = gosr_pubkey_load(pub_path, file_pk, err)) != GOSR_OK ||
        (rc = check_secret_consistent(kp, file_pk, dir, err)) != GOSR_OK)
        goto out_wipe;
    return GOSR_OK;
out_wipe:
    gosr_keypair_wipe(kp);
    return rc;
}

int gosr_pubkey_load(const char *path, uint8_t pk[GOSR_SIGN_PUBLIC_LEN],
                     gosr_error *err)
{
    char joined[PATH_MAX];
    struct stat st;
    int rc;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if ((rc = path_join(joined, sizeof joined, path, "key.pub", err)))
            return rc;
        path = joined;
    }
    uint8_t *text;
    size_t len;
    rc = gosr_file_read_all(path, KEY_FILE_MAX, &text, &len);
    if (rc != GOSR_OK)
        return gosr_error_set(
            err, rc, rc == GOSR_ETOOBIG ? "key_file_format" : "key_read_failed",
            "cannot read public key %s: %s", path, gosr_strerror(rc));
    rc = parse_key_text((const char *)text, len, PUB_TAG, pk,
                        GOSR_SIGN_PUBLIC_LEN);
    gosr_free(text);
    if (rc != GOSR_OK)
        return gosr_error_set(err, GOSR_EFORMAT, "key_file_format",
                              "%s is not a gosr-ed25519-public-v1 key file",
                              path);
    return GOSR_OK;
}

/* ---- signatures ---------------------------------------------------------- */

void gosr_sign(const gosr_keypair *kp, const void *msg, size_t len,
               uint8_t sig[GOSR_SIGN_LEN])
{
    (void)gosr_crypto_init(); /* signing itself needs no runtime state */
    crypto_sign_ed25519_detached(sig, NULL, msg, len, kp->sk);
}

bool gosr_sign_verify(const uint8_t pk[GOSR_SIGN_PUBLIC_LEN], const void *msg,
                      size_t len, const uint8_t sig[GOSR_SIGN_LEN])
{
    if (gosr_crypto_init() != GOSR_OK)
        return false;
    return crypto_sign_ed25519_verify_detached(sig, msg, len, pk) == 0;
}
