/*
 * auth.c — admin credentials: bearer token files (create, load with a
 * permission check, constant-time compare), RFC 4648 base32, and HOTP/TOTP
 * (RFC 4226 / RFC 6238) over HMAC-SHA1 from OpenSSL's libcrypto (libsodium
 * has no SHA-1). Design: docs/admin.md ("Auth and roles", "TOTP").
 */
#include "admin/admin_int.h"
#include "gosr/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Token files are one short line; anything bigger is not a token file. */
#define TOKEN_FILE_MAX 256

/* ---- tokens ---------------------------------------------------------------
 */

/* Writes `text` to `path` with mode 0600 atomically. */
static int write_secret_file(const char *path, const char *text,
                             gosr_error *err)
{
    int rc = gosr_file_write_atomic(path, text, strlen(text), 0600);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "secret_write_failed",
                              "cannot write %s: %s", path, gosr_strerror(rc));
    return GOSR_OK;
}

int gosr_admin_token_create_file(const char *path, char out[65],
                                 gosr_error *err)
{
    if (!path)
        return gosr_error_set(err, GOSR_EINVAL, "token_path", "no token path");
    if (gosr_crypto_init() != GOSR_OK)
        return gosr_error_set(err, GOSR_EINTERNAL, "sodium_init",
                              "libsodium failed to initialise");
    uint8_t raw[32];
    char line[GOSR_ADMIN_TOKEN_HEX + 2];
    randombytes_buf(raw, sizeof raw);
    gosr_hex_encode(raw, sizeof raw, line);
    sodium_memzero(raw, sizeof raw);
    if (out)
        memcpy(out, line, GOSR_ADMIN_TOKEN_HEX + 1);
    line[GOSR_ADMIN_TOKEN_HEX] = '\n';
    line[GOSR_ADMIN_TOKEN_HEX + 1] = '\0';
    int rc = write_secret_file(path, line, err);
    sodium_memzero(line, sizeof line);
    return rc;
}

int gosr_admin_token_create(const char *dir, char out[65], gosr_error *err)
{
    if (!dir)
        return gosr_error_set(err, GOSR_EINVAL, "data_dir", "no directory");
    char *path = gosr_asprintf("%s/%s", dir, GOSR_ADMIN_TOKEN_FILE);
    if (!path)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "token path");
    int rc = gosr_admin_token_create_file(path, out, err);
    gosr_free(path);
    return rc;
}

/* The reasons a token file's problems are reported with (docs/admin.md). */
static const gosr_secret_reasons TOKEN_REASONS = {
    .unreadable = "secret_unreadable",
    .not_file = "secret_not_file",
    .mode = "token_file_mode",
    .too_big = "token_malformed",
};

int gosr_admin_token_load(const char *path, char out[65], gosr_error *err)
{
    char data[TOKEN_FILE_MAX + 1];
    size_t len = 0;
    int rc = gosr_secret_read(path, true, &TOKEN_REASONS, data, sizeof data,
                              &len, err);
    if (rc != GOSR_OK) {
        sodium_memzero(data, sizeof data);
        return rc;
    }
    if (len == GOSR_ADMIN_TOKEN_HEX + 1 && data[len - 1] == '\n')
        len--;
    uint8_t raw[32];
    if (len != GOSR_ADMIN_TOKEN_HEX) {
        rc = GOSR_EFORMAT;
    } else {
        data[len] = '\0';
        rc = gosr_hex_decode((const char *)data, raw, sizeof raw);
    }
    if (rc == GOSR_OK) {
        gosr_hex_encode(raw, sizeof raw, out); /* normalised lower case */
        sodium_memzero(raw, sizeof raw);
    } else {
        rc = gosr_error_set(err, GOSR_EFORMAT, "token_malformed",
                            "%s does not hold 64 hex digits", path);
    }
    sodium_memzero(data, sizeof data);
    return rc;
}

bool gosr_admin_token_equal(const char *presented, const char *expected)
{
    if (!presented || !expected)
        return false;
    size_t n = strlen(expected);
    if (n == 0 || strlen(presented) != n)
        return false;
    return sodium_memcmp(presented, expected, n) == 0;
}

/* ---- base32 (RFC 4648) ----------------------------------------------------
 */

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Value of a base32 digit, or -1. */
static int b32_value(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int gosr_admin_base32_decode(const char *s, uint8_t *out, size_t cap,
                             size_t *len)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (; *s; s++) {
        if (*s == '=' || *s == ' ' || *s == '\n' || *s == '\r' || *s == '-')
            continue;
        int v = b32_value(*s);
        if (v < 0)
            return GOSR_EFORMAT;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (n == cap)
                return GOSR_ETOOBIG;
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    *len = n;
    return GOSR_OK;
}

void gosr_admin_base32_encode(const uint8_t *in, size_t n, char *out)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            *out++ = B32[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        *out++ = B32[(acc << (5 - bits)) & 31];
    *out = '\0';
}

/* ---- HOTP / TOTP ----------------------------------------------------------
 */

static const uint32_t POW10[] = {1,      10,      100,      1000,     10000,
                                 100000, 1000000, 10000000, 100000000};

int gosr_admin_hotp(const uint8_t *key, size_t keylen, uint64_t counter,
                    unsigned digits, uint32_t *code)
{
    if (digits < 6 || digits > 8 || keylen == 0 || keylen > 1024)
        return GOSR_EINVAL;
    uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    if (!HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof msg, mac, &maclen) ||
        maclen != 20)
        return GOSR_EINTERNAL;
    unsigned off = mac[19] & 0x0f; /* dynamic truncation, RFC 4226 5.3 */
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) |
                   ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
    *code = bin % POW10[digits];
    sodium_memzero(mac, sizeof mac);
    return GOSR_OK;
}

int gosr_admin_totp(const uint8_t *key, size_t keylen, uint64_t now,
                    unsigned step, unsigned digits, uint32_t *code)
{
    return gosr_admin_hotp(key, keylen, now / (step ? step : 30), digits, code);
}

bool gosr_admin_totp_verify(const uint8_t *key, size_t keylen, const char *code,
                            uint64_t now, unsigned step, unsigned digits,
                            unsigned window, uint64_t *step_out)
{
    if (!code || digits < 6 || digits > 8 || strlen(code) != digits ||
        window > 10)
        return false;
    for (unsigned i = 0; i < digits; i++)
        if (code[i] < '0' || code[i] > '9')
            return false;
    uint64_t t = now / (step ? step : 30);
    bool found = false;
    for (uint64_t c = t > window ? t - window : 0; c <= t + window; c++) {
        uint32_t v;
        char want[9];
        if (gosr_admin_hotp(key, keylen, c, digits, &v) != GOSR_OK)
            return false;
        snprintf(want, sizeof want, "%0*u", (int)digits, (unsigned)v);
        if (sodium_memcmp(want, code, digits) == 0 && !found) {
            found = true;
            if (step_out)
                *step_out = c;
        }
    }
    return found;
}

int gosr_admin_totp_secret_create(const char *path, char out[33],
                                  gosr_error *err)
{
    if (gosr_crypto_init() != GOSR_OK)
        return gosr_error_set(err, GOSR_EINTERNAL, "sodium_init",
                              "libsodium failed to initialise");
    uint8_t raw[20];
    char line[34];
    randombytes_buf(raw, sizeof raw);
    gosr_admin_base32_encode(raw, sizeof raw, line); /* 32 characters */
    sodium_memzero(raw, sizeof raw);
    if (out)
        memcpy(out, line, 33);
    line[32] = '\n';
    line[33] = '\0';
    int rc = write_secret_file(path, line, err);
    sodium_memzero(line, sizeof line);
    return rc;
}

/* Loads a base32 TOTP secret file (mode checked like a token). */
int admin__totp_secret_load(const char *path, uint8_t *key, size_t cap,
                            size_t *keylen, gosr_error *err)
{
    char data[TOKEN_FILE_MAX + 1];
    size_t len = 0;
    int rc = gosr_secret_read(path, true, &TOKEN_REASONS, data, sizeof data,
                              &len, err);
    if (rc != GOSR_OK) {
        sodium_memzero(data, sizeof data);
        return rc;
    }
    rc = gosr_admin_base32_decode((const char *)data, key, cap, keylen);
    if (rc == GOSR_OK && *keylen < 10)
        rc = GOSR_EFORMAT;
    if (rc != GOSR_OK)
        rc = gosr_error_set(err, GOSR_EFORMAT, "totp_secret_malformed",
                            "%s does not hold a base32 secret of 10..64 bytes",
                            path);
    sodium_memzero(data, sizeof data);
    return rc;
}
