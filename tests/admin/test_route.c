/*
 * test_route.c — the pure parts of the admin router: request-target
 * parsing (segments, per-segment percent-decoding, query arguments, limits
 * and malformed input), route patterns, the status -> HTTP table and the
 * JSON body parser. Design: docs/admin.md ("Routing").
 */
#include "harness.h"
#include "admin/admin_int.h"

static int parse(const char *s, admin__uri *u, gosr_error *err)
{
    return admin__uri_parse(s, strlen(s), u, err);
}

GOSR_TEST(uri_segments_and_query)
{
    admin__uri u;
    gosr_error err;
    CHECK_OK(parse("/v1/modules/a%2Fb%20c/x+y?q=1+2&empty=&flag&n%3D=v%26w", &u,
                   &err));
    CHECK_STR(u.path, "/v1/modules/a%2Fb%20c/x+y");
    CHECK_EQ(u.nseg, 4);
    CHECK_STR(u.seg[2], "a/b c");
    CHECK_STR(u.seg[3], "x+y"); /* '+' is literal in a path */
    CHECK_EQ(u.nquery, 4);
    CHECK_STR(u.qname[0], "q");
    CHECK_STR(u.qvalue[0], "1 2");
    CHECK_STR(u.qname[1], "empty");
    CHECK_STR(u.qvalue[1], "");
    CHECK_STR(u.qname[2], "flag");
    CHECK_STR(u.qvalue[2], "");
    CHECK_STR(u.qname[3], "n=");
    CHECK_STR(u.qvalue[3], "v&w");
    admin__uri_free(&u);
    CHECK_OK(parse("/", &u, &err));
    CHECK_EQ(u.nseg, 0);
    admin__uri_free(&u);
    CHECK_OK(parse("/a//b/?&&x=1&", &u, &err));
    CHECK_EQ(u.nseg, 4);
    CHECK_STR(u.seg[1], "");
    CHECK_STR(u.seg[3], "");
    CHECK_EQ(u.nquery, 1);
    admin__uri_free(&u);
}

GOSR_TEST(uri_malformed)
{
    static const struct {
        const char *s;
        const char *reason;
    } bad[] = {
        {"", "path_malformed"},           {"v1/x", "path_malformed"},
        {"/a b", "path_malformed"},       {"/a\tb", "path_malformed"},
        {"/a%2", "escape_malformed"},     {"/a%", "escape_malformed"},
        {"/a%g0", "escape_malformed"},    {"/a%00b", "escape_malformed"},
        {"/a?x=%zz", "escape_malformed"}, {"/a?x%00=1", "escape_malformed"},
        {"http://h/x", "path_malformed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        admin__uri u;
        gosr_error err;
        gosr_error_clear(&err);
        CHECK_STATUS(parse(bad[i].s, &u, &err), GOSR_EFORMAT);
        CHECK_STR(err.reason, bad[i].reason);
        admin__uri_free(&u);
    }
}

GOSR_TEST(uri_limits)
{
    admin__uri u;
    gosr_error err;
    gosr_buf b = {0};
    for (int i = 0; i < ADMIN_MAX_SEGMENTS; i++)
        gosr_buf_printf(&b, "/s%d", i);
    CHECK_OK(parse((char *)b.data, &u, &err));
    CHECK_EQ(u.nseg, ADMIN_MAX_SEGMENTS);
    admin__uri_free(&u);
    gosr_buf_printf(&b, "/one-more");
    CHECK_STATUS(parse((char *)b.data, &u, &err), GOSR_EFORMAT);
    CHECK_STR(err.reason, "too_many_segments");
    admin__uri_free(&u);
    gosr_buf_free(&b);
    gosr_buf_printf(&b, "/q?");
    for (int i = 0; i <= ADMIN_MAX_QUERY; i++)
        gosr_buf_printf(&b, "a%d=%d&", i, i);
    CHECK_STATUS(parse((char *)b.data, &u, &err), GOSR_EFORMAT);
    CHECK_STR(err.reason, "too_many_query_args");
    admin__uri_free(&u);
    gosr_buf_free(&b);
    char *big = gosr_malloc(ADMIN_MAX_URI + 2);
    REQUIRE(big);
    memset(big, 'a', ADMIN_MAX_URI + 1);
    big[0] = '/';
    big[ADMIN_MAX_URI + 1] = '\0';
    CHECK_STATUS(parse(big, &u, &err), GOSR_ETOOBIG);
    CHECK_STR(err.reason, "uri_too_long");
    admin__uri_free(&u);
    big[ADMIN_MAX_URI] = '\0';
    CHECK_OK(parse(big, &u, &err));
    admin__uri_free(&u);
    gosr_free(big);
    CHECK_STATUS(admin__uri_parse("/a\0b", 4, &u, &err), GOSR_EFORMAT);
    admin__uri_free(&u);
}

GOSR_TEST(patterns_match_and_capture)
{
    admin__pattern p;
    gosr_error err;
    CHECK_OK(
        admin__pattern_compile("/v1/modules/{id}/versions/{ver}", &p, &err));
    CHECK_EQ(p.ncapture, 2);
    CHECK_STR(p.names[0], "id");
    CHECK_STR(p.names[1], "ver");
    admin__uri u;
    const char *v[ADMIN_MAX_SEGMENTS];
    CHECK_OK(parse("/v1/modules/com.acme%2Fx/versions/1.0", &u, &err));
    CHECK(admin__pattern_match(&p, &u, v));
    CHECK_STR(v[0], "com.acme/x");
    CHECK_STR(v[1], "1.0");
    admin__uri_free(&u);
    static const char *const nomatch[] = {
        "/v1/modules/x/versions", "/v1/modules/x/versions/1/2",
        "/v1/modules//versions/1", "/v1/Modules/x/versions/1", "/"};
    for (size_t i = 0; i < sizeof nomatch / sizeof nomatch[0]; i++) {
        CHECK_OK(parse(nomatch[i], &u, &err));
        CHECK(!admin__pattern_match(&p, &u, v));
        admin__uri_free(&u);
    }
    admin__pattern q;
    CHECK_OK(admin__pattern_compile("/v1/modules/{x}/versions/{y}", &q, &err));
    CHECK(admin__pattern_same(&p, &q));
    admin__pattern_free(&q);
    CHECK_OK(
        admin__pattern_compile("/v1/modules/{x}/versions/latest", &q, &err));
    CHECK(!admin__pattern_same(&p, &q));
    admin__pattern_free(&q);
    admin__pattern_free(&p);
    CHECK_OK(admin__pattern_compile("/", &p, &err));
    CHECK_OK(parse("/", &u, &err));
    CHECK(admin__pattern_match(&p, &u, v));
    admin__uri_free(&u);
    admin__pattern_free(&p);
    static const char *const bad[] = {"",    "x",     "/a//b",    "/a/",
                                      "/{}", "/{1a}", "/{a}/{a}", "/a b",
                                      "/{a", "/a%20", "/{a-b}",   NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(admin__pattern_compile(bad[i], &p, &err), GOSR_EINVAL);
        CHECK_STR(err.reason, "route_pattern");
    }
}

GOSR_TEST(status_to_http)
{
    CHECK_EQ(gosr_admin_http_status(GOSR_OK), 200);
    CHECK_EQ(gosr_admin_http_status(GOSR_EINVAL), 400);
    CHECK_EQ(gosr_admin_http_status(GOSR_EFORMAT), 400);
    CHECK_EQ(gosr_admin_http_status(GOSR_EDENIED), 403);
    CHECK_EQ(gosr_admin_http_status(GOSR_ENOENT), 404);
    CHECK_EQ(gosr_admin_http_status(GOSR_EEXIST), 409);
    CHECK_EQ(gosr_admin_http_status(GOSR_ESTATE), 409);
    CHECK_EQ(gosr_admin_http_status(GOSR_ETOOBIG), 413);
    CHECK_EQ(gosr_admin_http_status(GOSR_ESIGNATURE), 422);
    CHECK_EQ(gosr_admin_http_status(GOSR_EREVOKED), 422);
    CHECK_EQ(gosr_admin_http_status(GOSR_EBUSY), 503);
    CHECK_EQ(gosr_admin_http_status(GOSR_ETIMEOUT), 504);
    CHECK_EQ(gosr_admin_http_status(GOSR_EIO), 500);
    CHECK_EQ(gosr_admin_http_status(GOSR_EINTERNAL), 500);
    for (int s = 0; s >= GOSR_EINTERNAL; s--)
        CHECK_EQ(gosr_admin_status_from_name(gosr_status_name(s)), s);
    CHECK_EQ(gosr_admin_status_from_name("no_such"), GOSR_EINTERNAL);
    CHECK_EQ(gosr_admin_status_from_name(NULL), GOSR_EINTERNAL);
}

GOSR_TEST(json_body_parse)
{
    json_t *v;
    gosr_error err;
    CHECK_OK(admin__json_body((const uint8_t *)"", 0, &v, &err));
    CHECK(v == NULL);
    CHECK_OK(admin__json_body((const uint8_t *)" \r\n\t", 4, &v, &err));
    CHECK(v == NULL);
    CHECK_OK(admin__json_body((const uint8_t *)"{\"a\":1}", 7, &v, &err));
    CHECK_EQ(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
    CHECK_STATUS(admin__json_body((const uint8_t *)"{\"a\":\n", 6, &v, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "json_malformed");
    CHECK(strstr(err.detail, "line 2") != NULL);
    CHECK_STATUS(admin__json_body((const uint8_t *)"\"s\"", 3, &v, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "json_not_object");
    CHECK_STATUS(
        admin__json_body((const uint8_t *)"{\"a\":1,\"a\":1}", 13, &v, &err),
        GOSR_EFORMAT);
    CHECK_STATUS(admin__json_body((const uint8_t *)"{}\0{}", 5, &v, &err),
                 GOSR_EFORMAT);
}

GOSR_TEST(status_from_unknown_name)
{
    CHECK_EQ(gosr_admin_status_from_name(gosr_status_name(-100000)),
             GOSR_EINTERNAL);
    CHECK_EQ(gosr_admin_status_from_name(""), GOSR_EINTERNAL);
}

GOSR_TEST(out_of_memory_in_parsers)
{
    int n;
    for (n = 1; n < 100; n++) {
        admin__uri u;
        admin__pattern p;
        gosr_error err;
        gosr_alloc_fail_after(n);
        int rc = admin__pattern_compile("/v1/modules/{id}/versions/{v}", &p,
                                        &err);
        if (rc == GOSR_OK) {
            rc = parse("/v1/modules/a/versions/b?x=1", &u, &err);
            admin__uri_free(&u);
            admin__pattern_free(&p);
        }
        gosr_alloc_fail_after(0);
        if (rc == GOSR_OK)
            break;
        CHECK_STATUS(rc, GOSR_ENOMEM);
    }
    CHECK(n > 1 && n < 100);
}
