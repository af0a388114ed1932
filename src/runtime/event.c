/*
 * event.c — event envelopes: the `{service}:{action}:v{version}:{state}`
 * name grammar, deterministic 128-bit ids, metadata (user_id, device_id,
 * trace_context, security_token), payload, and the strict length-prefixed
 * little-endian wire form with bounded sizes.
 *
 * Design: docs/events.md (grammar, byte table, why not protobuf-c).
 */
#include "runtime/runtime_int.h"

#include <stdlib.h>
#include <string.h>

#define EV_MAGIC "GEV1"
#define EV_FORMAT 1u

static const char *const k_states[] = {"requested", "processing", "completed",
                                       "failed"};

/* ---- little endian ------------------------------------------------------ */

void event__put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void event__put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void event__put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t event__get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t event__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

uint64_t event__get_u64(const uint8_t *p)
{
    return (uint64_t)event__get_u32(p) |
           ((uint64_t)event__get_u32(p + 4) << 32);
}

/* ---- name grammar ------------------------------------------------------- */

const char *gosr_event_state_name(gosr_event_state s)
{
    return (unsigned)s < 4 ? k_states[s] : "invalid";
}

/* Parses [a-z][a-z0-9_]* up to ':' into out; returns the end or NULL. */
static const char *parse_ident(const char *s, char *out)
{
    size_t n = 0;
    if (!(*s >= 'a' && *s <= 'z'))
        return NULL;
    while ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_') {
        if (n == GOSR_EVENT_PART_MAX)
            return NULL;
        out[n++] = *s++;
    }
    out[n] = '\0';
    return *s == ':' ? s + 1 : NULL;
}

/* Parses v[1-9][0-9]* (<= 65535) up to ':'. */
static const char *parse_version(const char *s, uint32_t *v)
{
    if (*s++ != 'v' || !(*s >= '1' && *s <= '9'))
        return NULL;
    uint32_t n = 0;
    while (*s >= '0' && *s <= '9') {
        n = n * 10 + (uint32_t)(*s++ - '0');
        if (n > 65535)
            return NULL;
    }
    *v = n;
    return *s == ':' ? s + 1 : NULL;
}

int gosr_event_name_parse(const char *s, gosr_event_name *out, gosr_error *err)
{
    gosr_event_name n = {0};
    if (!s || strnlen(s, GOSR_EVENT_NAME_MAX + 1) > GOSR_EVENT_NAME_MAX)
        return gosr_error_set(err, GOSR_EINVAL, "event_name_too_long",
                              "event name missing or over %d bytes",
                              GOSR_EVENT_NAME_MAX);
    const char *p = parse_ident(s, n.service);
    if (!p)
        return gosr_error_set(err, GOSR_EINVAL, "event_name_bad_service",
                              "'%s': service must be [a-z][a-z0-9_]*", s);
    if (!(p = parse_ident(p, n.action)))
        return gosr_error_set(err, GOSR_EINVAL, "event_name_bad_action",
                              "'%s': action must be [a-z][a-z0-9_]*", s);
    if (!(p = parse_version(p, &n.version)))
        return gosr_error_set(err, GOSR_EINVAL, "event_name_bad_version",
                              "'%s': version must be v1..v65535", s);
    for (int i = 0; i < 4; i++) {
        if (strcmp(p, k_states[i]) == 0) {
            n.state = (gosr_event_state)i;
            if (out)
                *out = n;
            return GOSR_OK;
        }
    }
    return gosr_error_set(err, GOSR_EINVAL, "event_name_bad_state",
                          "'%s': state must be requested, processing, "
                          "completed or failed",
                          s);
}

bool gosr_event_name_valid(const char *s)
{
    return gosr_event_name_parse(s, NULL, NULL) == GOSR_OK;
}

/* ---- building ----------------------------------------------------------- */

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF)
 * without NUL bytes. */
static bool utf8_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        if (c == 0 || len == 0 || i + len > n)
            return false;
        uint32_t cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

int gosr_event_set_name(gosr_event *ev, const char *name, gosr_error *err)
{
    int rc = gosr_event_name_parse(name, NULL, err);
    if (rc != GOSR_OK)
        return rc;
    memset(ev->name, 0, sizeof ev->name);
    memcpy(ev->name, name, strlen(name));
    return GOSR_OK;
}

int gosr_event_set_payload(gosr_event *ev, const void *p, size_t n)
{
    if (n > GOSR_EVENT_PAYLOAD_MAX)
        return GOSR_ETOOBIG;
    uint8_t *copy = NULL;
    if (n) {
        if (!(copy = gosr_malloc(n)))
            return GOSR_ENOMEM;
        memcpy(copy, p, n);
    }
    gosr_free(ev->payload);
    ev->payload = copy;
    ev->payload_len = (uint32_t)n;
    return GOSR_OK;
}

/* Replaces *slot with a checked copy of value ("" stores NULL). */
static int set_string(char **slot, const char *value, size_t max,
                      const char *what, gosr_error *err)
{
    size_t n = value ? strnlen(value, max + 1) : 0;
    if (n > max)
        return gosr_error_set(err, GOSR_ETOOBIG, "event_field_too_long",
                              "%s over %zu bytes", what, max);
    if (!utf8_ok((const uint8_t *)value, n))
        return gosr_error_set(err, GOSR_EINVAL, "event_field_not_utf8",
                              "%s is not valid UTF-8", what);
    char *copy = n ? gosr_strndup(value, n) : NULL;
    if (n && !copy)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "%s", what);
    gosr_free(*slot);
    *slot = copy;
    return GOSR_OK;
}

int gosr_event_set_meta(gosr_event *ev, const char *field, const char *value,
                        gosr_error *err)
{
    if (strcmp(field, "user_id") == 0)
        return set_string(&ev->user_id, value, GOSR_EVENT_STR_MAX, field, err);
    if (strcmp(field, "device_id") == 0)
        return set_string(&ev->device_id, value, GOSR_EVENT_STR_MAX, field,
                          err);
    if (strcmp(field, "security_token") == 0)
        return set_string(&ev->security_token, value, GOSR_EVENT_TOKEN_MAX,
                          field, err);
    return gosr_error_set(err, GOSR_EINVAL, "event_unknown_field",
                          "unknown metadata field '%s'", field);
}

int gosr_event_set_trace(gosr_event *ev, const char *key, const char *value,
                         gosr_error *err)
{
    if (!key || !*key || !value)
        return gosr_error_set(err, GOSR_EINVAL, "event_trace_bad_key",
                              "trace key must be non-empty");
    uint32_t i = 0;
    while (i < ev->ntrace && strcmp(ev->trace[i].key, key) < 0)
        i++;
    bool replace = i < ev->ntrace && strcmp(ev->trace[i].key, key) == 0;
    if (!replace && ev->ntrace == GOSR_EVENT_TRACE_MAX)
        return gosr_error_set(err, GOSR_ETOOBIG, "event_trace_too_many",
                              "over %d trace entries", GOSR_EVENT_TRACE_MAX);
    char *k = NULL, *v = NULL;
    int rc = set_string(&k, key, GOSR_EVENT_TRACE_KEY_MAX, "trace key", err);
    if (rc == GOSR_OK)
        rc =
            set_string(&v, value, GOSR_EVENT_TRACE_VAL_MAX, "trace value", err);
    if (rc == GOSR_OK && !v && !(v = gosr_strdup("")))
        rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "trace");
    gosr_trace_kv *arr =
        rc == GOSR_OK && !replace
            ? gosr_realloc(ev->trace, (ev->ntrace + 1) * sizeof *arr)
            : ev->trace;
    if (rc != GOSR_OK || !arr) {
        gosr_free(k);
        gosr_free(v);
        return rc != GOSR_OK
                   ? rc
                   : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "trace");
    }
    ev->trace = arr;
    if (replace) {
        gosr_free(arr[i].key);
        gosr_free(arr[i].value);
    } else {
        memmove(&arr[i + 1], &arr[i], (ev->ntrace - i) * sizeof *arr);
        ev->ntrace++;
    }
    arr[i] = (gosr_trace_kv){k, v};
    return GOSR_OK;
}

void gosr_event_derive_id(uint64_t seed, uint64_t tick, uint32_t seq,
                          uint8_t id[GOSR_EVENT_ID_LEN])
{
    uint8_t in[20];
    event__put_u64(in, seed);
    event__put_u64(in + 8, tick);
    event__put_u32(in + 16, seq);
    gosr_blake3 h;
    gosr_blake3_init_derive_key(&h, "gosr 2026 event id v1");
    gosr_blake3_update(&h, in, sizeof in);
    gosr_blake3_finalize(&h, id, GOSR_EVENT_ID_LEN);
}

void gosr_event_clear(gosr_event *ev)
{
    if (!ev)
        return;
    gosr_free(ev->user_id);
    gosr_free(ev->device_id);
    gosr_free(ev->security_token);
    for (uint32_t i = 0; i < ev->ntrace; i++) {
        gosr_free(ev->trace[i].key);
        gosr_free(ev->trace[i].value);
    }
    gosr_free(ev->trace);
    gosr_free(ev->payload);
    memset(ev, 0, sizeof *ev);
}

int gosr_event_copy(gosr_event *dst, const gosr_event *src)
{
    gosr_buf b = {0};
    int rc = gosr_event_encode(src, &b, NULL);
    if (rc == GOSR_OK)
        rc = gosr_event_decode(b.data, b.len, dst, NULL);
    gosr_buf_free(&b);
    return rc;
}

/* ---- encode ------------------------------------------------------------- */

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

static int check_limits(const gosr_event *ev, gosr_error *err)
{
    if (gosr_event_name_parse(ev->name, NULL, err) != GOSR_OK)
        return GOSR_EINVAL;
    if (slen(ev->user_id) > GOSR_EVENT_STR_MAX ||
        slen(ev->device_id) > GOSR_EVENT_STR_MAX ||
        slen(ev->security_token) > GOSR_EVENT_TOKEN_MAX ||
        ev->ntrace > GOSR_EVENT_TRACE_MAX ||
        ev->payload_len > GOSR_EVENT_PAYLOAD_MAX ||
        (ev->payload_len && !ev->payload))
        return gosr_error_set(err, GOSR_EINVAL, "event_limit_exceeded",
                              "an event field exceeds its limit");
    for (uint32_t i = 0; i < ev->ntrace; i++) {
        size_t kl = slen(ev->trace[i].key), vl = slen(ev->trace[i].value);
        if (kl == 0 || kl > GOSR_EVENT_TRACE_KEY_MAX ||
            vl > GOSR_EVENT_TRACE_VAL_MAX ||
            (i && strcmp(ev->trace[i - 1].key, ev->trace[i].key) >= 0))
            return gosr_error_set(err, GOSR_EINVAL, "event_trace_invalid",
                                  "trace entry %u invalid or out of order", i);
    }
    return GOSR_OK;
}

static int put_str(gosr_buf *b, const char *s, int width)
{
    uint8_t len[2];
    size_t n = slen(s);
    if (width == 1)
        len[0] = (uint8_t)n;
    else
        event__put_u16(len, (uint16_t)n);
    int rc = gosr_buf_append(b, len, (size_t)width);
    return rc == GOSR_OK && n ? gosr_buf_append(b, s, n) : rc;
}

static int encode(const gosr_event *ev, gosr_buf *out, bool canonical,
                  gosr_error *err)
{
    int rc = check_limits(ev, err);
    if (rc != GOSR_OK)
        return rc;
    uint8_t fixed[32];
    memcpy(fixed, EV_MAGIC, 4);
    fixed[4] = EV_FORMAT;
    fixed[5] = 0;
    rc = gosr_buf_append(out, fixed, 6);
    if (rc == GOSR_OK)
        rc = put_str(out, ev->name, 1);
    memcpy(fixed, ev->id, 16);
    event__put_u64(fixed + 16, ev->tick);
    event__put_u64(fixed + 24, canonical ? 0 : ev->wall_ns);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, fixed, 32);
    if (rc == GOSR_OK)
        rc = put_str(out, ev->user_id, 1);
    if (rc == GOSR_OK)
        rc = put_str(out, ev->device_id, 1);
    uint8_t cnt = (uint8_t)ev->ntrace;
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, &cnt, 1);
    for (uint32_t i = 0; rc == GOSR_OK && i < ev->ntrace; i++) {
        rc = put_str(out, ev->trace[i].key, 1);
        if (rc == GOSR_OK)
            rc = put_str(out, ev->trace[i].value, 2);
    }
    if (rc == GOSR_OK)
        rc = put_str(out, ev->security_token, 2);
    uint8_t pl[4];
    event__put_u32(pl, ev->payload_len);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, pl, 4);
    if (rc == GOSR_OK && ev->payload_len)
        rc = gosr_buf_append(out, ev->payload, ev->payload_len);
    return rc == GOSR_OK ? GOSR_OK
                         : gosr_error_set(err, rc, "out_of_memory", "encode");
}

int gosr_event_encode(const gosr_event *ev, gosr_buf *out, gosr_error *err)
{
    return encode(ev, out, false, err);
}

int gosr_event_encode_canonical(const gosr_event *ev, gosr_buf *out,
                                gosr_error *err)
{
    return encode(ev, out, true, err);
}

/* ---- decode ------------------------------------------------------------- */

/* A bounds-checked cursor over the input. */
typedef struct cursor {
    const uint8_t *p; /* next byte */
    size_t left;      /* bytes remaining */
} cursor;

static const uint8_t *take(cursor *c, size_t n)
{
    if (c->left < n)
        return NULL;
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

/* Reads a length-prefixed string (width 1 or 2) of at most max bytes into
 * a new NUL-terminated copy (NULL when empty). */
static int take_str(cursor *c, int width, size_t max, char **out,
                    const char *what, gosr_error *err)
{
    const uint8_t *lp = take(c, (size_t)width);
    if (!lp)
        return gosr_error_set(err, GOSR_EFORMAT, "event_truncated",
                              "input ends inside %s length", what);
    size_t n = width == 1 ? lp[0] : event__get_u16(lp);
    if (n > max)
        return gosr_error_set(err, GOSR_ETOOBIG, "event_field_too_long",
                              "%s of %zu bytes (max %zu)", what, n, max);
    const uint8_t *s = take(c, n);
    if (!s)
        return gosr_error_set(err, GOSR_EFORMAT, "event_truncated",
                              "input ends inside %s", what);
    if (!utf8_ok(s, n))
        return gosr_error_set(err, GOSR_EFORMAT, "event_field_not_utf8",
                              "%s is not valid UTF-8", what);
    *out = NULL;
    if (n && !(*out = gosr_strndup((const char *)s, n)))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "%s", what);
    return GOSR_OK;
}

static int decode_head(cursor *c, gosr_event *ev, gosr_error *err)
{
    const uint8_t *h = take(c, 6);
    if (!h || memcmp(h, EV_MAGIC, 4) != 0)
        return gosr_error_set(err, GOSR_EFORMAT, "event_bad_magic",
                              "not an event envelope");
    if (h[4] != EV_FORMAT || h[5] != 0)
        return gosr_error_set(err, GOSR_EFORMAT, "event_bad_format",
                              "format %u flags %u unsupported", h[4], h[5]);
    char *name = NULL;
    int rc = take_str(c, 1, GOSR_EVENT_NAME_MAX, &name, "name", err);
    if (rc != GOSR_OK)
        return rc;
    rc = gosr_event_set_name(ev, name ? name : "", err);
    gosr_free(name);
    if (rc != GOSR_OK)
        return GOSR_EFORMAT;
    const uint8_t *f = take(c, 32);
    if (!f)
        return gosr_error_set(err, GOSR_EFORMAT, "event_truncated",
                              "input ends inside id/timestamps");
    memcpy(ev->id, f, 16);
    ev->tick = event__get_u64(f + 16);
    ev->wall_ns = event__get_u64(f + 24);
    return GOSR_OK;
}

static int decode_trace(cursor *c, gosr_event *ev, gosr_error *err)
{
    const uint8_t *np = take(c, 1);
    if (!np)
        return gosr_error_set(err, GOSR_EFORMAT, "event_truncated",
                              "input ends before trace count");
    if (*np > GOSR_EVENT_TRACE_MAX)
        return gosr_error_set(err, GOSR_ETOOBIG, "event_trace_too_many",
                              "%u trace entries (max %d)", *np,
                              GOSR_EVENT_TRACE_MAX);
    if (*np && !(ev->trace = gosr_calloc(*np, sizeof *ev->trace)))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "trace");
    for (uint32_t i = 0; i < *np; i++) {
        gosr_trace_kv *kv = &ev->trace[i];
        int rc = take_str(c, 1, GOSR_EVENT_TRACE_KEY_MAX, &kv->key, "trace key",
                          err);
        if (rc != GOSR_OK)
            return rc;
        ev->ntrace++;
        if ((rc = take_str(c, 2, GOSR_EVENT_TRACE_VAL_MAX, &kv->value,
                           "trace value", err)) != GOSR_OK)
            return rc;
        if (!kv->value && !(kv->value = gosr_strdup("")))
            return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "trace");
        if (!kv->key || (i && strcmp(ev->trace[i - 1].key, kv->key) >= 0))
            return gosr_error_set(err, GOSR_EFORMAT, "event_trace_not_sorted",
                                  "trace keys must be non-empty, unique and "
                                  "ascending");
    }
    return GOSR_OK;
}

static int decode_tail(cursor *c, gosr_event *ev, gosr_error *err)
{
    int rc = take_str(c, 2, GOSR_EVENT_TOKEN_MAX, &ev->security_token,
                      "security_token", err);
    if (rc != GOSR_OK)
        return rc;
    const uint8_t *lp = take(c, 4);
    if (!lp)
        return gosr_error_set(err, GOSR_EFORMAT, "event_truncated",
                              "input ends before payload length");
    uint32_t n = event__get_u32(lp);
    if (n > GOSR_EVENT_PAYLOAD_MAX)
        return gosr_error_set(err, GOSR_ETOOBIG, "event_payload_too_big",
                              "payload of %u bytes (max %u)", n,
                              GOSR_EVENT_PAYLOAD_MAX);
    const uint8_t *p = take(c, n);
    if (!p)
        return gosr_error_set(err, GOSR_EFORMAT, "event_truncated",
                              "input ends inside payload");
    if ((rc = gosr_event_set_payload(ev, p, n)) != GOSR_OK)
        return gosr_error_set(err, rc, "out_of_memory", "payload");
    if (c->left != 0)
        return gosr_error_set(err, GOSR_EFORMAT, "event_trailing_bytes",
                              "%zu bytes after the payload", c->left);
    return GOSR_OK;
}

int gosr_event_decode(const uint8_t *p, size_t n, gosr_event *ev,
                      gosr_error *err)
{
    memset(ev, 0, sizeof *ev);
    cursor c = {p, n};
    int rc = decode_head(&c, ev, err);
    if (rc == GOSR_OK)
        rc = take_str(&c, 1, GOSR_EVENT_STR_MAX, &ev->user_id, "user_id", err);
    if (rc == GOSR_OK)
        rc = take_str(&c, 1, GOSR_EVENT_STR_MAX, &ev->device_id, "device_id",
                      err);
    if (rc == GOSR_OK)
        rc = decode_trace(&c, ev, err);
    if (rc == GOSR_OK)
        rc = decode_tail(&c, ev, err);
    if (rc != GOSR_OK)
        gosr_event_clear(ev);
    return rc;
}
