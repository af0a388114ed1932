/*
 * test_auth.c — admin credentials: token files (mode 0600, refusal of
 * group/world access, malformed content), constant-time compare, base32
 * (RFC 4648 vectors), HOTP (RFC 4226 vectors), TOTP (RFC 6238 SHA-1
 * vectors) and agreement with Debian's oathtool. Design: docs/admin.md.
 */
#include "harness.h"
#include "gosr/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static const uint8_t RFC_KEY[] = "12345678901234567890"; /* 20 bytes */

GOSR_TEST(hotp_rfc4226_vectors)
{
    static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314,
                                    254676, 287922, 162583, 399871, 520489};
    for (uint64_t c = 0; c < 10; c++) {
        uint32_t code;
        CHECK_OK(gosr_admin_hotp(RFC_KEY, 20, c, 6, &code));
        CHECK_EQ(code, want[c]);
    }
    uint32_t code;
    CHECK_STATUS(gosr_admin_hotp(RFC_KEY, 20, 0, 5, &code), GOSR_EINVAL);
    CHECK_STATUS(gosr_admin_hotp(RFC_KEY, 20, 0, 9, &code), GOSR_EINVAL);
    CHECK_STATUS(gosr_admin_hotp(RFC_KEY, 0, 0, 6, &code), GOSR_EINVAL);
}

GOSR_TEST(totp_rfc6238_sha1_vectors)
{
    static const struct {
        uint64_t t;
        uint32_t code;
    } v[] = {{59, 94287082},         {1111111109, 7081804},
             {1111111111, 14050471}, {1234567890, 89005924},
             {2000000000, 69279037}, {20000000000ull, 65353130}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t code;
        CHECK_OK(gosr_admin_totp(RFC_KEY, 20, v[i].t, 30, 8, &code));
        CHECK_EQ(code, v[i].code);
        char s[16];
        snprintf(s, sizeof s, "%08u", v[i].code);
        uint64_t step = 0;
        CHECK(gosr_admin_totp_verify(RFC_KEY, 20, s, v[i].t, 30, 8, 0, &step));
        CHECK_EQ(step, v[i].t / 30);
    }
}

GOSR_TEST(totp_verify_window_and_format)
{
    uint64_t now = 1700000000;
    uint32_t prev, cur, old;
    CHECK_OK(gosr_admin_totp(RFC_KEY, 20, now - 30, 30, 6, &prev));
    CHECK_OK(gosr_admin_totp(RFC_KEY, 20, now, 30, 6, &cur));
    CHECK_OK(gosr_admin_totp(RFC_KEY, 20, now - 90, 30, 6, &old));
    char s[16];
    uint64_t step;
    snprintf(s, sizeof s, "%06u", prev);
    CHECK(gosr_admin_totp_verify(RFC_KEY, 20, s, now, 30, 6, 1, &step));
    CHECK_EQ(step, now / 30 - 1);
    CHECK(!gosr_admin_totp_verify(RFC_KEY, 20, s, now, 30, 6, 0, &step));
    snprintf(s, sizeof s, "%06u", old);
    if (old != cur && old != prev)
        CHECK(!gosr_admin_totp_verify(RFC_KEY, 20, s, now, 30, 6, 1, &step));
    snprintf(s, sizeof s, "%06u", cur);
    CHECK(gosr_admin_totp_verify(RFC_KEY, 20, s, now, 30, 6, 1, &step));
    CHECK(!gosr_admin_totp_verify(RFC_KEY, 20, "12345", now, 30, 6, 1, NULL));
    CHECK(!gosr_admin_totp_verify(RFC_KEY, 20, "1234567", now, 30, 6, 1, NULL));
    CHECK(!gosr_admin_totp_verify(RFC_KEY, 20, "12a456", now, 30, 6, 1, NULL));
    CHECK(!gosr_admin_totp_verify(RFC_KEY, 20, NULL, now, 30, 6, 1, NULL));
    CHECK(!gosr_admin_totp_verify(RFC_KEY, 20, "", now, 30, 6, 1, NULL));
    /* Near the epoch the window does not wrap below step 0. */
    CHECK_OK(gosr_admin_totp(RFC_KEY, 20, 0, 30, 6, &cur));
    snprintf(s, sizeof s, "%06u", cur);
    CHECK(gosr_admin_totp_verify(RFC_KEY, 20, s, 5, 30, 6, 2, &step));
    CHECK_EQ(step, 0);
}

/* Runs oathtool and returns its code, or -1. */
static long oathtool(const char *b32, const char *now, int digits)
{
    char out[512];
    snprintf(out, sizeof out, "%s/oath.out", gosr_test_tmpdir());
    int rc = gosr_test_system("oathtool --totp -d %d -b %s %s%s%s > '%s'",
                              digits, b32, now ? "--now '" : "", now ? now : "",
                              now ? "'" : "", out);
    if (rc != 0)
        return -1;
    FILE *f = fopen(out, "r");
    long v = -1;
    if (f && fscanf(f, "%ld", &v) != 1)
        v = -1;
    if (f)
        fclose(f);
    return v;
}

GOSR_TEST(totp_matches_oathtool)
{
    char path[512], b32[33];
    gosr_error err;
    snprintf(path, sizeof path, "%s/admin.totp", gosr_test_tmpdir());
    CHECK_OK(gosr_admin_totp_secret_create(path, b32, &err));
    CHECK_EQ(strlen(b32), 32);
    uint8_t key[32];
    size_t klen = 0;
    CHECK_OK(gosr_admin_base32_decode(b32, key, sizeof key, &klen));
    CHECK_EQ(klen, 20);
    static const struct {
        const char *now;
        uint64_t t;
    } at[] = {{"@0", 0},
              {"@1767225600", 1767225600},
              {"@1767225629", 1767225629},
              {"@1767225630", 1767225630},
              {"@4102444800", 4102444800ull}};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        for (int d = 6; d <= 8; d++) {
            uint32_t code;
            CHECK_OK(
                gosr_admin_totp(key, klen, at[i].t, 30, (unsigned)d, &code));
            CHECK_EQ(oathtool(b32, at[i].now, d), code);
        }
    }
    /* The code oathtool prints now verifies now (window 1 absorbs a step
     * boundary between the two clocks). */
    long now_code = oathtool(b32, NULL, 6);
    REQUIRE(now_code >= 0);
    char s[32];
    snprintf(s, sizeof s, "%06ld", now_code);
    CHECK(gosr_admin_totp_verify(
        key, klen, s, gosr_time_wall_ns() / 1000000000ull, 30, 6, 1, NULL));
}

GOSR_TEST(base32_rfc4648_vectors)
{
    static const struct {
        const char *raw, *b32;
    } v[] = {{"", ""},
             {"f", "MY"},
             {"fo", "MZXQ"},
             {"foo", "MZXW6"},
             {"foob", "MZXW6YQ"},
             {"fooba", "MZXW6YTB"},
             {"foobar", "MZXW6YTBOI"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[32];
        gosr_admin_base32_encode((const uint8_t *)v[i].raw, strlen(v[i].raw),
                                 out);
        CHECK_STR(out, v[i].b32);
        uint8_t dec[16];
        size_t n = 99;
        CHECK_OK(gosr_admin_base32_decode(v[i].b32, dec, sizeof dec, &n));
        CHECK_EQ(n, strlen(v[i].raw));
        CHECK_MEM(dec, v[i].raw, n);
    }
    uint8_t dec[16];
    size_t n;
    CHECK_OK(gosr_admin_base32_decode("mzxw6ytboi======", dec, 16, &n));
    CHECK_EQ(n, 6);
    CHECK_MEM(dec, "foobar", 6);
    CHECK_STATUS(gosr_admin_base32_decode("MZX1", dec, 16, &n), GOSR_EFORMAT);
    CHECK_STATUS(gosr_admin_base32_decode("MZXW6YTBOI", dec, 3, &n),
                 GOSR_ETOOBIG);
}

GOSR_TEST(token_file_create_and_load)
{
    const char *dir = gosr_test_tmpdir();
    char tok[65], back[65], path[512];
    gosr_error err;
    CHECK_OK(gosr_admin_token_create(dir, tok, &err));
    CHECK_EQ(strlen(tok), 64);
    snprintf(path, sizeof path, "%s/admin.token", dir);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(st.st_size, 65);
    CHECK_OK(gosr_admin_token_load(path, back, &err));
    CHECK_STR(tok, back);
    /* A new token replaces the old one. */
    char tok2[65];
    CHECK_OK(gosr_admin_token_create(dir, tok2, &err));
    CHECK(strcmp(tok, tok2) != 0);
    static const char *const modes[] = {"0640", "0604", "0660", "0644", "0602"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        CHECK_EQ(gosr_test_system("chmod %s '%s'", modes[i], path), 0);
        CHECK_STATUS(gosr_admin_token_load(path, back, &err), GOSR_EDENIED);
        CHECK_STR(err.reason, "token_file_mode");
    }
    CHECK_EQ(gosr_test_system("chmod 0400 '%s'", path), 0);
    CHECK_OK(gosr_admin_token_load(path, back, &err)); /* read-only is fine */
    CHECK_STR(back, tok2);
}

GOSR_TEST(token_file_malformed)
{
    const char *dir = gosr_test_tmpdir();
    char path[512], back[65];
    gosr_error err;
    snprintf(path, sizeof path, "%s/t", dir);
    static const char *const bodies[] = {
        "",
        "abc\n",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefg",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n\n",
        "zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        CHECK_OK(
            gosr_file_write_atomic(path, bodies[i], strlen(bodies[i]), 0600));
        CHECK_STATUS(gosr_admin_token_load(path, back, &err), GOSR_EFORMAT);
        CHECK_STR(err.reason, "token_malformed");
    }
    const char *upper =
        "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef";
    CHECK_OK(gosr_file_write_atomic(path, upper, 64, 0600));
    CHECK_OK(gosr_admin_token_load(path, back, &err));
    CHECK_EQ(strncmp(back, "0123456789abcdef", 16), 0); /* normalised */
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK_STATUS(gosr_admin_token_load(path, back, &err), GOSR_ENOENT);
    CHECK_STATUS(gosr_admin_token_load(dir, back, &err), GOSR_EFORMAT);
}

GOSR_TEST(token_equal_constant_time)
{
    const char *a =
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char b[65];
    memcpy(b, a, 65);
    CHECK(gosr_admin_token_equal(b, a));
    b[63] = '0';
    CHECK(!gosr_admin_token_equal(b, a));
    CHECK(!gosr_admin_token_equal("0123", a));
    CHECK(!gosr_admin_token_equal("", ""));
    CHECK(!gosr_admin_token_equal(NULL, a));
    CHECK(!gosr_admin_token_equal(a, NULL));
}

GOSR_TEST(totp_secret_file)
{
    char path[512], b32[33];
    gosr_error err;
    snprintf(path, sizeof path, "%s/admin.totp", gosr_test_tmpdir());
    CHECK_OK(gosr_admin_totp_secret_create(path, b32, &err));
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(st.st_size, 33);
    /* A server refuses a TOTP file others can read. */
    CHECK_EQ(gosr_test_system("chmod 0644 '%s'", path), 0);
    gosr_admin_config cfg = {.data_dir = gosr_test_tmpdir(),
                             .listen = "127.0.0.1:0"};
    gosr_admin_server *s = NULL;
    CHECK_STATUS(gosr_admin_server_create(&cfg, &s, &err), GOSR_EDENIED);
    CHECK_STR(err.reason, "token_file_mode");
    CHECK_OK(gosr_file_write_atomic(path, "AB1\n", 4, 0600));
    CHECK_STATUS(gosr_admin_server_create(&cfg, &s, &err), GOSR_EFORMAT);
    CHECK_STR(err.reason, "totp_secret_malformed");
}
