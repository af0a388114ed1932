/*
 * test_event.c — event envelopes: the name grammar (valid and invalid
 * names), metadata and trace handling, deterministic ids, wire round trip,
 * canonical form, and the strict decoder against truncation, trailing
 * bytes, bad lengths, unsorted trace keys and invalid UTF-8.
 */
#include "harness.h"
#include "gosr/runtime.h"

#include <stdlib.h>

GOSR_TEST(name_grammar)
{
    const char *good[] = {"storage:fetch_chunk:v1:requested",
                          "ai:answer:v2:completed", "a:b:v65535:failed",
                          "world:spawn:v1:processing", "x1_y:a_2:v10:failed"};
    const char *bad[] = {"",
                         "storage",
                         "storage:fetch:v1",
                         "Storage:fetch:v1:requested",
                         "storage:Fetch:v1:requested",
                         "storage:fetch:1:requested",
                         "storage:fetch:v0:requested",
                         "storage:fetch:v01:requested",
                         "storage:fetch:v65536:requested",
                         "storage:fetch:v1:done",
                         "storage:fetch:v1:requested:",
                         "storage:fetch:v1:requestedx",
                         ":fetch:v1:requested",
                         "1st:fetch:v1:requested",
                         "st-x:fetch:v1:requested",
                         "s::v1:requested",
                         "storage:fetch:v:requested"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!gosr_event_name_valid(good[i]))
            gosr_test_fail(__FILE__, __LINE__, "rejected %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (gosr_event_name_valid(bad[i]))
            gosr_test_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
    gosr_event_name n;
    gosr_error err;
    CHECK_OK(gosr_event_name_parse("ai:answer:v12:failed", &n, &err));
    CHECK_STR(n.service, "ai");
    CHECK_STR(n.action, "answer");
    CHECK_UINT(n.version, ==, 12);
    CHECK_EQ(n.state, GOSR_EVENT_FAILED);
    CHECK_STATUS(gosr_event_name_parse("ai:answer:v1:done", &n, &err),
                 GOSR_EINVAL);
    CHECK_STR(err.reason, "event_name_bad_state");
    char longname[200];
    memset(longname, 'a', sizeof longname);
    longname[199] = 0;
    CHECK(!gosr_event_name_valid(longname));
    CHECK_STR(gosr_event_state_name(GOSR_EVENT_PROCESSING), "processing");
}

static void fill(gosr_event *ev)
{
    gosr_error err;
    CHECK_OK(gosr_event_set_name(ev, "storage:fetch_chunk:v1:requested", &err));
    gosr_event_derive_id(1, 2, 3, ev->id);
    ev->tick = 99;
    ev->wall_ns = 123456789;
    CHECK_OK(gosr_event_set_meta(ev, "user_id", "user-7", &err));
    CHECK_OK(gosr_event_set_meta(ev, "device_id", "dev\xc3\xa9", &err));
    CHECK_OK(gosr_event_set_meta(ev, "security_token", "tok", &err));
    CHECK_OK(gosr_event_set_trace(ev, "traceparent", "00-abc-01", &err));
    CHECK_OK(gosr_event_set_trace(ev, "baggage", "k=v", &err));
    CHECK_OK(gosr_event_set_trace(ev, "traceparent", "00-def-01", &err));
    CHECK_OK(gosr_event_set_payload(ev, "\x00\x01\x02", 3));
}

GOSR_TEST(round_trip)
{
    gosr_event ev = {0}, back;
    fill(&ev);
    CHECK_UINT(ev.ntrace, ==, 2);
    CHECK_STR(ev.trace[0].key, "baggage"); /* kept sorted */
    gosr_buf b = {0};
    gosr_error err;
    CHECK_OK(gosr_event_encode(&ev, &b, &err));
    CHECK_OK(gosr_event_decode(b.data, b.len, &back, &err));
    CHECK_STR(back.name, ev.name);
    CHECK_MEM(back.id, ev.id, 16);
    CHECK_UINT(back.tick, ==, 99);
    CHECK_UINT(back.wall_ns, ==, 123456789);
    CHECK_STR(back.user_id, "user-7");
    CHECK_STR(back.device_id, "dev\xc3\xa9");
    CHECK_STR(back.security_token, "tok");
    CHECK_STR(back.trace[1].value, "00-def-01");
    CHECK_UINT(back.payload_len, ==, 3);
    CHECK_MEM(back.payload, "\x00\x01\x02", 3);
    /* Re-encoding gives identical bytes (canonical form). */
    gosr_buf b2 = {0};
    CHECK_OK(gosr_event_encode(&back, &b2, &err));
    CHECK_UINT(b2.len, ==, b.len);
    CHECK_MEM(b2.data, b.data, b.len);
    /* The canonical form drops the wall clock. */
    gosr_buf c = {0};
    CHECK_OK(gosr_event_encode_canonical(&ev, &c, &err));
    gosr_event cv;
    CHECK_OK(gosr_event_decode(c.data, c.len, &cv, &err));
    CHECK_UINT(cv.wall_ns, ==, 0);
    gosr_event_clear(&cv);
    gosr_event cp = {0};
    CHECK_OK(gosr_event_copy(&cp, &ev));
    CHECK_STR(cp.trace[0].key, "baggage");
    gosr_event_clear(&cp);
    /* An empty envelope round trips too. */
    gosr_event e2 = {0}, e2b;
    gosr_event_set_name(&e2, "a:b:v1:completed", NULL);
    b2.len = 0;
    CHECK_OK(gosr_event_encode(&e2, &b2, &err));
    CHECK_OK(gosr_event_decode(b2.data, b2.len, &e2b, &err));
    CHECK(e2b.user_id == NULL && e2b.payload == NULL && e2b.ntrace == 0);
    gosr_event_clear(&e2b);
    gosr_event_clear(&e2);
    gosr_buf_free(&b);
    gosr_buf_free(&b2);
    gosr_buf_free(&c);
    gosr_event_clear(&back);
    gosr_event_clear(&ev);
    gosr_event_clear(NULL);
}

GOSR_TEST(builder_limits)
{
    gosr_event ev = {0};
    gosr_error err;
    CHECK_STATUS(gosr_event_set_name(&ev, "bad", &err), GOSR_EINVAL);
    CHECK_STATUS(gosr_event_set_meta(&ev, "colour", "x", &err), GOSR_EINVAL);
    CHECK_STATUS(gosr_event_set_meta(&ev, "user_id", "\xff", &err),
                 GOSR_EINVAL);
    CHECK_STR(err.reason, "event_field_not_utf8");
    char big[300];
    memset(big, 'u', sizeof big);
    big[299] = 0;
    CHECK_STATUS(gosr_event_set_meta(&ev, "user_id", big, &err), GOSR_ETOOBIG);
    CHECK_STATUS(gosr_event_set_trace(&ev, "", "v", &err), GOSR_EINVAL);
    char key[8];
    for (int i = 0; i < GOSR_EVENT_TRACE_MAX; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        CHECK_OK(gosr_event_set_trace(&ev, key, "v", &err));
    }
    CHECK_STATUS(gosr_event_set_trace(&ev, "zz", "v", &err), GOSR_ETOOBIG);
    CHECK_STATUS(gosr_event_set_payload(&ev, big, GOSR_EVENT_PAYLOAD_MAX + 1),
                 GOSR_ETOOBIG);
    gosr_buf b = {0};
    CHECK_STATUS(gosr_event_encode(&ev, &b, &err), GOSR_EINVAL); /* no name */
    gosr_event_clear(&ev);
    gosr_buf_free(&b);
}

GOSR_TEST(deterministic_ids)
{
    uint8_t a[16], b[16], c[16], d[16];
    gosr_event_derive_id(7, 100, 0, a);
    gosr_event_derive_id(7, 100, 0, b);
    gosr_event_derive_id(7, 100, 1, c);
    gosr_event_derive_id(8, 100, 0, d);
    CHECK_MEM(a, b, 16);
    CHECK(memcmp(a, c, 16) != 0);
    CHECK(memcmp(a, d, 16) != 0);
}

/* Decodes a mutated copy; must fail with the given status. */
static void expect_bad(const gosr_buf *b, size_t off, uint8_t val, size_t len,
                       int want, const char *reason)
{
    uint8_t *copy = malloc(b->len + 1);
    memcpy(copy, b->data, b->len);
    if (off < b->len)
        copy[off] = val;
    gosr_event ev;
    gosr_error err = {0};
    int rc = gosr_event_decode(copy, len, &ev, &err);
    if (rc != want)
        gosr_test_fail(__FILE__, __LINE__, "off %zu: %s, want %s", off,
                       gosr_status_name(rc), gosr_status_name(want));
    else if (reason && strcmp(err.reason, reason) != 0)
        gosr_test_fail(__FILE__, __LINE__, "reason %s, want %s", err.reason,
                       reason);
    if (rc == GOSR_OK)
        gosr_event_clear(&ev);
    free(copy);
}

GOSR_TEST(strict_decoder)
{
    gosr_event ev = {0};
    fill(&ev);
    gosr_buf b = {0};
    REQUIRE(gosr_event_encode(&ev, &b, NULL) == GOSR_OK);
    /* Every proper prefix is rejected without reading past it. */
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *prefix = malloc(n ? n : 1);
        memcpy(prefix, b.data, n);
        gosr_event out;
        int rc = gosr_event_decode(prefix, n, &out, NULL);
        if (rc == GOSR_OK) {
            gosr_test_fail(__FILE__, __LINE__, "prefix %zu accepted", n);
            gosr_event_clear(&out);
        }
        free(prefix);
    }
    gosr_buf_reserve(&b, 1);
    b.data[b.len] = 0;
    expect_bad(&b, b.len, 0, b.len + 1, GOSR_EFORMAT, "event_trailing_bytes");
    expect_bad(&b, 0, 'X', b.len, GOSR_EFORMAT, "event_bad_magic");
    expect_bad(&b, 4, 2, b.len, GOSR_EFORMAT, "event_bad_format");
    expect_bad(&b, 5, 1, b.len, GOSR_EFORMAT, "event_bad_format");
    expect_bad(&b, 7, 'S', b.len, GOSR_EFORMAT, "event_name_bad_service");
    size_t name_len = b.data[6];
    size_t user = 7 + name_len + 32;
    expect_bad(&b, user + 1, 0xff, b.len, GOSR_EFORMAT, "event_field_not_utf8");
    expect_bad(&b, user + 1, 0x00, b.len, GOSR_EFORMAT, "event_field_not_utf8");
    size_t dev = user + 1 + b.data[user];
    size_t ntrace = dev + 1 + b.data[dev];
    expect_bad(&b, ntrace, 17, b.len, GOSR_ETOOBIG, "event_trace_too_many");
    /* Swap the first key's first letter so keys are out of order. */
    expect_bad(&b, ntrace + 2, 'z', b.len, GOSR_EFORMAT,
               "event_trace_not_sorted");
    /* Payload length beyond the limit, and beyond the input. */
    size_t plen = b.len - 3 - 4;
    expect_bad(&b, plen + 3, 0x7f, b.len, GOSR_ETOOBIG,
               "event_payload_too_big");
    expect_bad(&b, plen, 4, b.len, GOSR_EFORMAT, "event_truncated");
    gosr_buf_free(&b);
    gosr_event_clear(&ev);
}

GOSR_TEST(empty_trace_value_is_empty_string)
{
    gosr_event ev = {0}, back;
    gosr_error err;
    gosr_event_set_name(&ev, "a:b:v1:requested", NULL);
    CHECK_OK(gosr_event_set_trace(&ev, "k", "", &err));
    REQUIRE(ev.trace && ev.trace[0].value);
    CHECK_STR(ev.trace[0].value, "");
    gosr_buf b = {0};
    CHECK_OK(gosr_event_encode(&ev, &b, &err));
    CHECK_OK(gosr_event_decode(b.data, b.len, &back, &err));
    REQUIRE(back.ntrace == 1 && back.trace[0].value);
    CHECK_STR(back.trace[0].value, "");
    gosr_event_clear(&back);
    gosr_event_clear(&ev);
    gosr_buf_free(&b);
}
