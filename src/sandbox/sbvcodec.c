/*
 * sbvcodec.c — the binary encoding of sandbox values (gosr_sbv): a tag byte
 * per value, little-endian scalars, length-prefixed strings, tables as a
 * pair count followed by key/value pairs in canonical key order. The
 * decoder is strict and bounded: every length is checked against the bytes
 * left before anything is allocated, depth, value count and string bytes
 * are capped by gosr_sbv_limits, keys must be valid Lua keys in strictly
 * increasing canonical order, and trailing bytes are refused. Used by node
 * checkpoints to carry a module's `state` table across restarts.
 *
 * Design: docs/sandbox.md ("Value encoding").
 */
#include "gosr/sandbox.h"

#include <math.h>
#include <string.h>

#define TAG_NIL 0
#define TAG_FALSE 1
#define TAG_TRUE 2
#define TAG_INT 3
#define TAG_NUM 4
#define TAG_STR 5
#define TAG_TABLE 6
#define DEPTH_HARD_MAX 200 /* recursion cap whatever the limits say */

/* ---- encode ------------------------------------------------------------- */

static int put_u32(gosr_buf *b, uint32_t v)
{
    uint8_t p[4];
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return gosr_buf_append(b, p, 4);
}

static int put_tag_u64(gosr_buf *b, uint8_t tag, uint64_t v)
{
    uint8_t p[9] = {tag};
    for (int i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)(v >> (8 * i));
    return gosr_buf_append(b, p, 9);
}

static bool key_ok(const gosr_sbv *k)
{
    return k->type == GOSR_SBV_BOOL || k->type == GOSR_SBV_INT ||
           k->type == GOSR_SBV_STR ||
           (k->type == GOSR_SBV_NUM && !isnan(k->u.n));
}

static int encode(const gosr_sbv *v, gosr_buf *out, uint32_t depth)
{
    uint64_t bits;
    uint8_t tag;
    if (depth > DEPTH_HARD_MAX)
        return GOSR_ETOOBIG;
    switch (v->type) {
    case GOSR_SBV_NIL:
        tag = TAG_NIL;
        return gosr_buf_append(out, &tag, 1);
    case GOSR_SBV_BOOL:
        tag = v->u.b ? TAG_TRUE : TAG_FALSE;
        return gosr_buf_append(out, &tag, 1);
    case GOSR_SBV_INT:
        return put_tag_u64(out, TAG_INT, (uint64_t)v->u.i);
    case GOSR_SBV_NUM:
        memcpy(&bits, &v->u.n, 8);
        return put_tag_u64(out, TAG_NUM, bits);
    case GOSR_SBV_STR:
        if (v->u.s.len > UINT32_MAX)
            return GOSR_ETOOBIG;
        tag = TAG_STR;
        if (gosr_buf_append(out, &tag, 1) != GOSR_OK ||
            put_u32(out, (uint32_t)v->u.s.len) != GOSR_OK)
            return GOSR_ENOMEM;
        return gosr_buf_append(out, v->u.s.p, v->u.s.len);
    case GOSR_SBV_TABLE:
        break;
    default:
        return GOSR_EINVAL;
    }
    tag = TAG_TABLE;
    if (v->u.t.len > UINT32_MAX)
        return GOSR_ETOOBIG;
    if (gosr_buf_append(out, &tag, 1) != GOSR_OK ||
        put_u32(out, (uint32_t)v->u.t.len) != GOSR_OK)
        return GOSR_ENOMEM;
    for (size_t i = 0; i < v->u.t.len; i++) {
        const gosr_sbv_pair *p = &v->u.t.items[i];
        if (!key_ok(&p->key))
            return GOSR_EINVAL;
        int rc = encode(&p->key, out, depth + 1);
        if (rc == GOSR_OK)
            rc = encode(&p->val, out, depth + 1);
        if (rc != GOSR_OK)
            return rc;
    }
    return GOSR_OK;
}

int gosr_sbv_encode(const gosr_sbv *v, gosr_buf *out)
{
    size_t mark = out->len;
    int rc = encode(v, out, 0);
    if (rc != GOSR_OK)
        out->len = mark; /* nothing half-written is left behind */
    return rc;
}

/* ---- decode ------------------------------------------------------------- */

/* One decode in progress: the input cursor and the running totals. */
typedef struct dec {
    const uint8_t *p;    /* next byte */
    size_t left;         /* bytes left */
    gosr_sbv_limits lim; /* effective limits */
    uint64_t nodes;      /* values decoded */
    uint64_t bytes;      /* string bytes decoded */
    gosr_error *err;     /* detail on failure */
} dec;

static int fail(dec *d, int status, const char *reason, const char *what)
{
    return gosr_error_set(d->err, status, reason,
                          "sandbox value: %s (%zu "
                          "bytes left)",
                          what, d->left);
}

static int take(dec *d, size_t n, const uint8_t **out)
{
    if (d->left < n)
        return fail(d, GOSR_EFORMAT, "sbv_truncated", "input ends early");
    *out = d->p;
    d->p += n;
    d->left -= n;
    return GOSR_OK;
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Canonical key order of the sandbox's copy-out (numbers, then strings,
 * then booleans); <0, 0, >0 like memcmp. */
static int key_cmp(const gosr_sbv *a, const gosr_sbv *b)
{
    int ra = a->type == GOSR_SBV_STR ? 1 : a->type == GOSR_SBV_BOOL ? 2 : 0;
    int rb = b->type == GOSR_SBV_STR ? 1 : b->type == GOSR_SBV_BOOL ? 2 : 0;
    if (ra != rb)
        return ra - rb;
    if (ra == 0) {
        if (a->type == GOSR_SBV_INT && b->type == GOSR_SBV_INT)
            return (a->u.i > b->u.i) - (a->u.i < b->u.i);
        double x = a->type == GOSR_SBV_INT ? (double)a->u.i : a->u.n;
        double y = b->type == GOSR_SBV_INT ? (double)b->u.i : b->u.n;
        return (x > y) - (x < y);
    }
    if (ra == 2)
        return (int)a->u.b - (int)b->u.b;
    size_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
    int c = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
    return c ? c : (a->u.s.len > b->u.s.len) - (a->u.s.len < b->u.s.len);
}

static int dec_value(dec *d, uint32_t depth, gosr_sbv *out);

static int dec_string(dec *d, gosr_sbv *out)
{
    const uint8_t *p = NULL;
    int rc = take(d, 4, &p);
    if (rc != GOSR_OK)
        return rc;
    uint32_t len = (uint32_t)get_le(p, 4);
    if (len > d->left)
        return fail(d, GOSR_EFORMAT, "sbv_truncated",
                    "string longer than "
                    "the input");
    if ((d->bytes += len) > d->lim.max_bytes)
        return fail(d, GOSR_ETOOBIG, "value_too_big",
                    "too many string "
                    "bytes");
    take(d, len, &p);
    if (gosr_sbv_str(out, (const char *)p, len) != GOSR_OK)
        return fail(d, GOSR_ENOMEM, "out_of_memory", "string");
    return GOSR_OK;
}

/* One key/value pair into the table's next item (t->u.t.len grows). */
static int dec_pair(dec *d, uint32_t depth, gosr_sbv *t)
{
    gosr_sbv_pair *pair = &t->u.t.items[t->u.t.len];
    int rc = dec_value(d, depth + 1, &pair->key);
    if (rc != GOSR_OK)
        return rc;
    t->u.t.len++; /* owned by the table from here on */
    if (!key_ok(&pair->key))
        return fail(d, GOSR_EFORMAT, "sbv_bad_key",
                    "table key is nil, NaN "
                    "or a table");
    if (t->u.t.len > 1 && key_cmp(&pair[-1].key, &pair->key) >= 0)
        return fail(d, GOSR_EFORMAT, "sbv_key_order",
                    "table keys not in "
                    "strictly increasing canonical order");
    rc = dec_value(d, depth + 1, &pair->val);
    if (rc == GOSR_OK && pair->val.type == GOSR_SBV_NIL)
        return fail(d, GOSR_EFORMAT, "sbv_nil_value", "table value is nil");
    return rc;
}

static int dec_table(dec *d, uint32_t depth, gosr_sbv *out)
{
    const uint8_t *p = NULL;
    if (depth >= d->lim.max_depth || depth >= DEPTH_HARD_MAX)
        return fail(d, GOSR_ETOOBIG, "value_too_deep",
                    "tables nested too "
                    "deep");
    int rc = take(d, 4, &p);
    if (rc != GOSR_OK)
        return rc;
    uint32_t count = (uint32_t)get_le(p, 4);
    /* every pair is at least two tag bytes, and two values each */
    if (count > d->left / 2)
        return fail(d, GOSR_EFORMAT, "sbv_truncated",
                    "more pairs than the "
                    "input can hold");
    if (d->nodes + 2ull * count > d->lim.max_nodes)
        return fail(d, GOSR_ETOOBIG, "value_too_big", "too many values");
    *out = (gosr_sbv){.type = GOSR_SBV_TABLE};
    if (count == 0)
        return GOSR_OK;
    out->u.t.items = gosr_calloc(count, sizeof(gosr_sbv_pair));
    if (!out->u.t.items)
        return fail(d, GOSR_ENOMEM, "out_of_memory", "table");
    for (uint32_t i = 0; i < count && rc == GOSR_OK; i++)
        rc = dec_pair(d, depth, out);
    return rc;
}

static int dec_inner(dec *d, uint32_t depth, gosr_sbv *out)
{
    const uint8_t *p = NULL;
    if (++d->nodes > d->lim.max_nodes)
        return fail(d, GOSR_ETOOBIG, "value_too_big", "too many values");
    int rc = take(d, 1, &p);
    if (rc != GOSR_OK)
        return rc;
    switch (*p) {
    case TAG_NIL:
        return GOSR_OK;
    case TAG_FALSE:
        *out = gosr_sbv_bool(false);
        return GOSR_OK;
    case TAG_TRUE:
        *out = gosr_sbv_bool(true);
        return GOSR_OK;
    case TAG_INT:
    case TAG_NUM: {
        uint8_t tag = *p;
        if ((rc = take(d, 8, &p)) != GOSR_OK)
            return rc;
        uint64_t bits = get_le(p, 8);
        if (tag == TAG_INT) {
            *out = gosr_sbv_int((int64_t)bits);
        } else {
            double x;
            memcpy(&x, &bits, 8);
            *out = gosr_sbv_num(x);
        }
        return GOSR_OK;
    }
    case TAG_STR:
        return dec_string(d, out);
    case TAG_TABLE:
        return dec_table(d, depth, out);
    default:
        return fail(d, GOSR_EFORMAT, "sbv_bad_tag", "unknown tag");
    }
}

/* Decodes one value; on failure *out is freed back to nil. */
static int dec_value(dec *d, uint32_t depth, gosr_sbv *out)
{
    *out = (gosr_sbv){0};
    int rc = dec_inner(d, depth, out);
    if (rc != GOSR_OK)
        gosr_sbv_free(out);
    return rc;
}

int gosr_sbv_decode(const uint8_t *p, size_t n, const gosr_sbv_limits *lim,
                    gosr_sbv *out, gosr_error *err)
{
    dec d = {.p = p, .left = p ? n : 0, .err = err};
    d.lim = lim ? *lim : (gosr_sbv_limits){0};
    if (!d.lim.max_depth)
        d.lim.max_depth = 32;
    if (!d.lim.max_nodes)
        d.lim.max_nodes = 65536;
    if (!d.lim.max_bytes)
        d.lim.max_bytes = 16u << 20;
    int rc = dec_value(&d, 0, out);
    if (rc == GOSR_OK && d.left != 0)
        rc = fail(&d, GOSR_EFORMAT, "sbv_trailing_bytes",
                  "bytes after the "
                  "value");
    if (rc != GOSR_OK)
        gosr_sbv_free(out);
    return rc;
}
