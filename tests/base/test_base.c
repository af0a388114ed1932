/*
 * test_base.c — tests for the base layer: status table, errors, allocator
 * fault injection, buffers, hex, RFC 3339 time, atomic file replace.
 */
#include "harness.h"

#include <sys/stat.h>

GOSR_TEST(status_names_and_messages)
{
    CHECK_STR(gosr_status_name(GOSR_OK), "OK");
    CHECK_STR(gosr_status_name(GOSR_ECORRUPT), "ECORRUPT");
    CHECK_STR(gosr_strerror(GOSR_ENOMEM), "out of memory");
    CHECK_STR(gosr_strerror(-9999), "unknown status");
}

GOSR_TEST(error_set_and_wrap_keep_inner_reason)
{
    gosr_error e;
    gosr_error_clear(&e);
    CHECK_EQ(gosr_error_set(&e, GOSR_EFORMAT, "bad_magic", "magic %x", 7),
             GOSR_EFORMAT);
    CHECK_STR(e.reason, "bad_magic");
    CHECK_STR(e.detail, "magic 7");
    gosr_error_wrap(&e, GOSR_EIO, "outer", "outer detail");
    CHECK_STR(e.reason, "bad_magic");
    CHECK_EQ(e.status, GOSR_EIO);
    CHECK_EQ(gosr_error_set(NULL, GOSR_EIO, "x", NULL), GOSR_EIO);
}

GOSR_TEST(alloc_fail_after_fails_exactly_the_nth)
{
    gosr_alloc_fail_after(2);
    void *a = gosr_malloc(8);
    void *b = gosr_malloc(8);
    void *c = gosr_malloc(8);
    CHECK(a != NULL);
    CHECK(b == NULL);
    CHECK(c != NULL);
    gosr_free(a);
    gosr_free(c);
    gosr_alloc_fail_after(0);
}

GOSR_TEST(buf_grows_and_stays_nul_terminated)
{
    gosr_buf b = {0};
    for (int i = 0; i < 1000; i++)
        CHECK_OK(gosr_buf_printf(&b, "%d,", i));
    CHECK_EQ(b.data[b.len], '\0');
    CHECK(strncmp((char *)b.data, "0,1,2,", 6) == 0);
    gosr_buf_free(&b);
    CHECK(b.data == NULL);
}

GOSR_TEST(hex_roundtrip_and_rejects_bad_digits)
{
    uint8_t in[4] = {0x00, 0xab, 0x7f, 0xff}, out[4];
    char hex[9];
    gosr_hex_encode(in, 4, hex);
    CHECK_STR(hex, "00ab7fff");
    CHECK_OK(gosr_hex_decode(hex, out, 4));
    CHECK_MEM(in, out, 4);
    CHECK_STATUS(gosr_hex_decode("00ab7fgf", out, 4), GOSR_EFORMAT);
    CHECK_STATUS(gosr_hex_decode("00ab7f", out, 4), GOSR_EFORMAT);
}

GOSR_TEST(rfc3339_parse_and_format)
{
    int64_t t;
    CHECK_OK(gosr_time_parse_rfc3339("2026-11-24T06:00:00Z", &t));
    char s[21];
    gosr_time_format_rfc3339(t, s);
    CHECK_STR(s, "2026-11-24T06:00:00Z");
    CHECK_OK(gosr_time_parse_rfc3339("2026-11-24T08:00:00.5+02:00", &t));
    gosr_time_format_rfc3339(t, s);
    CHECK_STR(s, "2026-11-24T06:00:00Z");
    CHECK_OK(gosr_time_parse_rfc3339("1970-01-01T00:00:00Z", &t));
    CHECK_EQ(t, 0);
    CHECK_STATUS(gosr_time_parse_rfc3339("2026-13-01T00:00:00Z", &t),
                 GOSR_EFORMAT);
    CHECK_STATUS(gosr_time_parse_rfc3339("2026-11-24", &t), GOSR_EFORMAT);
    CHECK_STATUS(gosr_time_parse_rfc3339("2026-11-24T06:00:00", &t),
                 GOSR_EFORMAT);
}

GOSR_TEST(atomic_write_replaces_whole_file)
{
    char path[600];
    snprintf(path, sizeof path, "%s/a/b/file", gosr_test_tmpdir());
    char dir[600];
    snprintf(dir, sizeof dir, "%s/a/b", gosr_test_tmpdir());
    CHECK_OK(gosr_mkdir_p(dir, 0755));
    CHECK_OK(gosr_file_write_atomic(path, "hello", 5, 0600));
    CHECK_OK(gosr_file_write_atomic(path, "bye", 3, 0600));
    uint8_t *data;
    size_t len;
    CHECK_OK(gosr_file_read_all(path, 100, &data, &len));
    CHECK_EQ(len, 3);
    CHECK_STR((char *)data, "bye");
    gosr_free(data);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_STATUS(gosr_file_read_all(path, 2, &data, &len), GOSR_ETOOBIG);
    CHECK_STATUS(gosr_file_read_all("/nonexistent/x", 2, &data, &len),
                 GOSR_ENOENT);
}
