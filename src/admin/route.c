/*
 * route.c — request target parsing (path segments and query arguments,
 * percent-decoded per segment so an encoded '/' stays inside its segment),
 * route patterns with {param} segments, the status -> HTTP mapping and the
 * JSON body parser. Pure functions, fuzzed by fuzz/fuzz_admin_route.c.
 * Design: docs/admin.md ("Routing", "Errors").
 */
#include "admin/admin_int.h"

#include <string.h>

/* ---- URI ------------------------------------------------------------------
 */

/* Value of a hex digit, or -1. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes src[0..n) into *dst (advancing it, NUL-terminated); '+' becomes
 * a space when `plus` (query strings). Refuses bad escapes and NUL. */
static int decode(const char *src, size_t n, bool plus, char **dst,
                  gosr_error *err)
{
    char *o = *dst;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= n)
                return gosr_error_set(err, GOSR_EFORMAT, "escape_malformed",
                                      "truncated %%-escape");
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return gosr_error_set(err, GOSR_EFORMAT, "escape_malformed",
                                      "bad %%-escape");
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == '\0')
            return gosr_error_set(err, GOSR_EFORMAT, "escape_malformed",
                                  "%%00 is not allowed");
        *o++ = c;
    }
    *o++ = '\0';
    *dst = o;
    return GOSR_OK;
}

/* Splits and decodes the path p[0..n) into u->seg, writing the decoded
 * strings at *o (inside u->buf). */
static int parse_path(const char *p, size_t n, admin__uri *u, char **o,
                      gosr_error *err)
{
    if (n == 0 || p[0] != '/')
        return gosr_error_set(err, GOSR_EFORMAT, "path_malformed",
                              "the path must start with '/'");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
            return gosr_error_set(err, GOSR_EFORMAT, "path_malformed",
                                  "control or space character in the path");
    if (n == 1)
        return GOSR_OK; /* "/" has no segments */
    size_t start = 1;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        if (u->nseg == ADMIN_MAX_SEGMENTS)
            return gosr_error_set(err, GOSR_EFORMAT, "too_many_segments",
                                  "more than %d path segments",
                                  ADMIN_MAX_SEGMENTS);
        u->seg[u->nseg] = *o;
        int rc = decode(p + start, i - start, false, o, err);
        if (rc != GOSR_OK)
            return rc;
        u->nseg++;
        start = i + 1;
    }
    return GOSR_OK;
}

/* Splits and decodes the query q[0..n) into u->qname/u->qvalue, writing
 * at *o (inside u->buf). */
static int parse_query(const char *q, size_t n, admin__uri *u, char **o,
                       gosr_error *err)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && q[i] != '&')
            continue;
        if (i > start) {
            if (u->nquery == ADMIN_MAX_QUERY)
                return gosr_error_set(err, GOSR_EFORMAT, "too_many_query_args",
                                      "more than %d query arguments",
                                      ADMIN_MAX_QUERY);
            const char *eq = memchr(q + start, '=', i - start);
            size_t nlen = eq ? (size_t)(eq - (q + start)) : i - start;
            u->qname[u->nquery] = *o;
            int rc = decode(q + start, nlen, true, o, err);
            u->qvalue[u->nquery] = *o;
            if (rc == GOSR_OK && eq)
                rc = decode(eq + 1, (size_t)(q + i - eq - 1), true, o, err);
            else if (rc == GOSR_OK)
                *(*o)++ = '\0';
            if (rc != GOSR_OK)
                return rc;
            u->nquery++;
        }
        start = i + 1;
    }
    return GOSR_OK;
}

int admin__uri_parse(const char *raw, size_t len, admin__uri *u,
                     gosr_error *err)
{
    memset(u, 0, sizeof *u);
    if (len > ADMIN_MAX_URI)
        return gosr_error_set(err, GOSR_ETOOBIG, "uri_too_long",
                              "request target over %d bytes", ADMIN_MAX_URI);
    const char *qm = memchr(raw, '?', len);
    size_t plen = qm ? (size_t)(qm - raw) : len;
    /* path copy + decoded segments + decoded query: each at most len+NULs */
    u->buf =
        gosr_malloc(3 * len + 2 * ADMIN_MAX_QUERY + ADMIN_MAX_SEGMENTS + 8);
    if (!u->buf)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "uri");
    u->path = u->buf;
    memcpy(u->path, raw, plen);
    u->path[plen] = '\0';
    char *o = u->buf + plen + 1;
    if (memchr(raw, '\0', len))
        return gosr_error_set(err, GOSR_EFORMAT, "path_malformed",
                              "NUL byte in the request target");
    int rc = parse_path(raw, plen, u, &o, err);
    if (rc == GOSR_OK && qm)
        rc = parse_query(qm + 1, len - plen - 1, u, &o, err);
    return rc;
}

void admin__uri_free(admin__uri *u)
{
    if (!u)
        return;
    gosr_free(u->buf);
    memset(u, 0, sizeof *u);
}

/* ---- patterns --------------------------------------------------------------
 */

/* Literal pattern segments: unreserved URI characters only. */
static bool literal_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' ||
              c == '-'))
            return false;
    }
    return true;
}

/* Capture names: C identifiers. */
static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Adds one pattern segment s[0..n). */
static int add_segment(admin__pattern *p, const char *s, size_t n,
                       gosr_error *err)
{
    if (p->nseg == ADMIN_MAX_SEGMENTS)
        return gosr_error_set(err, GOSR_EINVAL, "route_pattern",
                              "too many segments");
    bool cap = n >= 2 && s[0] == '{' && s[n - 1] == '}';
    if (cap ? !name_ok(s + 1, n - 2) : !literal_ok(s, n))
        return gosr_error_set(err, GOSR_EINVAL, "route_pattern",
                              "bad segment '%.*s'", (int)n, s);
    char *seg = cap ? gosr_strndup(s + 1, n - 2) : gosr_strndup(s, n);
    if (!seg)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "pattern");
    p->seg[p->nseg] = seg;
    p->capture[p->nseg++] = cap;
    if (!cap)
        return GOSR_OK;
    for (size_t i = 0; i < p->ncapture; i++)
        if (strcmp(p->names[i], seg) == 0)
            return gosr_error_set(err, GOSR_EINVAL, "route_pattern",
                                  "parameter {%s} appears twice", seg);
    p->names[p->ncapture++] = seg;
    return GOSR_OK;
}

int admin__pattern_compile(const char *pattern, admin__pattern *p,
                           gosr_error *err)
{
    memset(p, 0, sizeof *p);
    if (!pattern || pattern[0] != '/')
        return gosr_error_set(err, GOSR_EINVAL, "route_pattern",
                              "a pattern must start with '/'");
    if (pattern[1] == '\0')
        return GOSR_OK;
    const char *s = pattern + 1;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        int rc = add_segment(p, s, n, err);
        if (rc != GOSR_OK) {
            admin__pattern_free(p);
            return rc;
        }
        if (!slash)
            return GOSR_OK;
        s = slash + 1;
    }
}

void admin__pattern_free(admin__pattern *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nseg; i++)
        gosr_free(p->seg[i]);
    memset(p, 0, sizeof *p);
}

bool admin__pattern_match(const admin__pattern *p, const admin__uri *u,
                          const char **values)
{
    if (p->nseg != u->nseg)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < p->nseg; i++) {
        if (p->capture[i]) {
            if (u->seg[i][0] == '\0')
                return false;
            values[k++] = u->seg[i];
        } else if (strcmp(p->seg[i], u->seg[i]) != 0) {
            return false;
        }
    }
    return true;
}

bool admin__pattern_same(const admin__pattern *a, const admin__pattern *b)
{
    if (a->nseg != b->nseg)
        return false;
    for (size_t i = 0; i < a->nseg; i++) {
        if (a->capture[i] != b->capture[i])
            return false;
        if (!a->capture[i] && strcmp(a->seg[i], b->seg[i]) != 0)
            return false;
    }
    return true;
}

/* ---- statuses and bodies
 * ----------------------------------------------------- */

int gosr_admin_http_status(int status)
{
    switch (status) {
    case GOSR_OK:
        return 200;
    case GOSR_EINVAL:
    case GOSR_EFORMAT:
    case GOSR_EPROTO:
        return 400;
    case GOSR_EDENIED:
        return 403;
    case GOSR_ENOENT:
        return 404;
    case GOSR_EEXIST:
    case GOSR_ESTATE:
        return 409;
    case GOSR_ETOOBIG:
        return 413;
    case GOSR_ECORRUPT:
    case GOSR_ESIGNATURE:
    case GOSR_ECERT:
    case GOSR_EREVOKED:
    case GOSR_EEXPIRED:
    case GOSR_EDEPENDENCY:
        return 422;
    case GOSR_EUNSUPPORTED:
        return 501;
    case GOSR_EBUSY:
    case GOSR_EAGAIN:
    case GOSR_ECLOSED:
        return 503;
    case GOSR_ETIMEOUT:
        return 504;
    case GOSR_ENOSPC:
        return 507;
    default:
        return 500;
    }
}

int gosr_admin_status_from_name(const char *name)
{
    /* Scan well past the last code so codes added to base.h are found;
     * gosr_status_name answers "UNKNOWN" for values that are no code. */
    if (!name || strcmp(name, gosr_status_name(-100000)) == 0)
        return GOSR_EINTERNAL;
    for (int s = 0; s >= -256; s--)
        if (name && strcmp(gosr_status_name(s), name) == 0)
            return s;
    return GOSR_EINTERNAL;
}

int admin__json_body(const uint8_t *data, size_t len, json_t **out,
                     gosr_error *err)
{
    *out = NULL;
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' ||
                       data[i] == '\r'))
        i++;
    if (i == len)
        return GOSR_OK;
    json_error_t je;
    json_t *v = json_loadb((const char *)data, len,
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v)
        return gosr_error_set(err, GOSR_EFORMAT, "json_malformed",
                              "line %d column %d: %s", je.line, je.column,
                              je.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return gosr_error_set(err, GOSR_EFORMAT, "json_not_object",
                              "the request body must be a JSON object");
    }
    *out = v;
    return GOSR_OK;
}
