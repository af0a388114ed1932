/*
 * checkpoint.c — the checkpoint file format: a fixed header (magic,
 * version, tick, wall clock, world configuration, world hash), the encoded
 * world snapshot, one record per active module (id, version, encoded
 * `state` and STATE_SCHEMA values) and a BLAKE3 of everything before it.
 * The decoder checks the checksum first, then bounds every length by the
 * bytes left and by the node's world configuration, and finally checks
 * that the snapshot hashes to the recorded world hash.
 *
 * Design: docs/kernel.md ("Checkpoints", byte table).
 */
#include "kernel/checkpoint.h"

#include "gosr/crypto.h"

#include <string.h>

/* ---- little-endian helpers ----------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void kernel__ckpt_free(ckpt_data *c)
{
    if (!c)
        return;
    gosr_world_snap_free(c->snap);
    for (size_t i = 0; i < c->nmods; i++) {
        gosr_sbv_free(&c->mods[i].state);
        gosr_sbv_free(&c->mods[i].schema);
    }
    gosr_free(c->mods);
    gosr_free(c);
}

/* ---- encode -------------------------------------------------------------- */

static void header(const ckpt_data *c, uint64_t snap_len, uint8_t h[96])
{
    memset(h, 0, CKPT_HEADER);
    memcpy(h, CKPT_MAGIC, 8);
    put_le(h + 8, CKPT_VERSION, 4);
    put_le(h + 12, 0, 4); /* flags */
    put_le(h + 16, c->tick, 8);
    put_le(h + 24, c->wall_ns, 8);
    put_le(h + 32, c->wc.capacity, 4);
    put_le(h + 36, c->wc.kv_capacity, 4);
    put_le(h + 40, c->wc.seed, 8);
    put_le(h + 48, c->wc.rate_hz, 4);
    put_le(h + 52, (uint32_t)c->nmods, 4);
    memcpy(h + 56, c->world_hash.b, 32);
    put_le(h + 88, snap_len, 8);
}

/* A value as u32 length + its encoding. */
static int put_value(gosr_buf *out, const gosr_sbv *v)
{
    size_t at = out->len;
    uint8_t len[4] = {0};
    int rc = gosr_buf_append(out, len, 4);
    if (rc == GOSR_OK)
        rc = gosr_sbv_encode(v, out);
    if (rc != GOSR_OK)
        return rc;
    if (out->len - at - 4 > UINT32_MAX)
        return GOSR_ETOOBIG;
    put_le(out->data + at, out->len - at - 4, 4);
    return GOSR_OK;
}

static int put_module(gosr_buf *out, const ckpt_mod *m)
{
    uint8_t l = (uint8_t)strlen(m->id);
    int rc = gosr_buf_append(out, &l, 1);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, m->id, l);
    l = (uint8_t)strlen(m->version);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, &l, 1);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, m->version, l);
    if (rc == GOSR_OK)
        rc = put_value(out, &m->state);
    if (rc == GOSR_OK)
        rc = put_value(out, &m->schema);
    return rc;
}

int kernel__ckpt_encode(ckpt_data *c, gosr_buf *out, gosr_error *err)
{
    size_t start = out->len;
    gosr_world_snap_hash(c->snap, c->tick, c->wc.seed, &c->world_hash);
    uint8_t h[CKPT_HEADER];
    int rc = gosr_buf_append(out, h, CKPT_HEADER); /* filled below */
    if (rc == GOSR_OK)
        rc = gosr_world_snap_encode(c->snap, out);
    uint64_t snap_len = out->len - start - CKPT_HEADER;
    for (size_t i = 0; rc == GOSR_OK && i < c->nmods; i++)
        rc = put_module(out, &c->mods[i]);
    if (rc != GOSR_OK) {
        out->len = start;
        return gosr_error_set(err, rc, "checkpoint_encode",
                              "encoding the checkpoint: %s", gosr_strerror(rc));
    }
    header(c, snap_len, h);
    memcpy(out->data + start, h, CKPT_HEADER);
    uint8_t sum[32];
    gosr_blake3 b;
    gosr_blake3_init(&b);
    gosr_blake3_update(&b, out->data + start, out->len - start);
    gosr_blake3_finalize(&b, sum, 32);
    rc = gosr_buf_append(out, sum, 32);
    return rc == GOSR_OK ? rc
                         : gosr_error_set(err, rc, "out_of_memory", "ckpt");
}

/* ---- decode -------------------------------------------------------------- */

/* Input cursor over the module records. */
typedef struct rd {
    const uint8_t *p; /* next byte */
    size_t left;      /* bytes left */
} rd;

static int bad(gosr_error *err, const char *reason, const char *what)
{
    return gosr_error_set(err, GOSR_EFORMAT, reason, "checkpoint: %s", what);
}

static int rd_name(rd *r, char out[CKPT_NAME_MAX + 1], gosr_error *err)
{
    if (r->left < 1 || r->p[0] == 0 || r->p[0] > CKPT_NAME_MAX ||
        r->left - 1 < r->p[0])
        return bad(err, "checkpoint_invalid", "bad module name length");
    size_t n = r->p[0];
    if (memchr(r->p + 1, 0, n))
        return bad(err, "checkpoint_invalid", "NUL in a module name");
    memcpy(out, r->p + 1, n);
    out[n] = 0;
    r->p += 1 + n;
    r->left -= 1 + n;
    return GOSR_OK;
}

static int rd_value(rd *r, gosr_sbv *out, gosr_error *err)
{
    if (r->left < 4)
        return bad(err, "checkpoint_truncated", "module record ends early");
    uint64_t n = get_le(r->p, 4);
    if (n > r->left - 4)
        return bad(err, "checkpoint_truncated", "value longer than the file");
    int rc = gosr_sbv_decode(r->p + 4, (size_t)n, NULL, out, err);
    r->p += 4 + n;
    r->left -= 4 + (size_t)n;
    return rc;
}

static int rd_modules(rd *r, ckpt_data *c, size_t count, gosr_error *err)
{
    /* each record is at least 1+1+1+1+4+1+4+1 bytes */
    if (count > CKPT_MAX_MODULES || count > r->left / 14)
        return bad(err, "checkpoint_invalid", "module count too large");
    c->mods = gosr_calloc(count ? count : 1, sizeof *c->mods);
    if (!c->mods)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "mods");
    for (size_t i = 0; i < count; i++) {
        ckpt_mod *m = &c->mods[i];
        c->nmods = i + 1;
        int rc = rd_name(r, m->id, err);
        if (rc == GOSR_OK)
            rc = rd_name(r, m->version, err);
        if (rc == GOSR_OK)
            rc = rd_value(r, &m->state, err);
        if (rc == GOSR_OK)
            rc = rd_value(r, &m->schema, err);
        if (rc != GOSR_OK)
            return rc;
        if (i > 0 && strcmp(c->mods[i - 1].id, m->id) >= 0)
            return bad(err, "checkpoint_invalid", "modules not sorted by id");
    }
    return r->left == 0 ? GOSR_OK
                        : bad(err, "checkpoint_invalid", "trailing bytes");
}

/* Checksum, magic and version; the body is p[0, n-32). */
static int check_frame(const uint8_t *p, size_t n, gosr_error *err)
{
    if (!p || n < CKPT_HEADER + 32)
        return bad(err, "checkpoint_truncated", "shorter than its header");
    uint8_t sum[32];
    gosr_blake3 b;
    gosr_blake3_init(&b);
    gosr_blake3_update(&b, p, n - 32);
    gosr_blake3_finalize(&b, sum, 32);
    if (memcmp(sum, p + n - 32, 32) != 0)
        return gosr_error_set(err, GOSR_ECORRUPT, "checkpoint_checksum",
                              "checkpoint: BLAKE3 mismatch");
    if (memcmp(p, CKPT_MAGIC, 8) != 0 || get_le(p + 8, 4) != CKPT_VERSION ||
        get_le(p + 12, 4) != 0)
        return bad(err, "checkpoint_bad_magic", "bad magic, version or flags");
    return GOSR_OK;
}

static int read_config(const uint8_t *p, const gosr_world_config *want,
                       ckpt_data *c, gosr_error *err)
{
    c->tick = get_le(p + 16, 8);
    c->wall_ns = get_le(p + 24, 8);
    c->wc.capacity = (uint32_t)get_le(p + 32, 4);
    c->wc.kv_capacity = (uint32_t)get_le(p + 36, 4);
    c->wc.seed = get_le(p + 40, 8);
    c->wc.rate_hz = (uint32_t)get_le(p + 48, 4);
    memcpy(c->world_hash.b, p + 56, 32);
    if (c->wc.capacity != want->capacity ||
        c->wc.kv_capacity != want->kv_capacity || c->wc.seed != want->seed ||
        c->wc.rate_hz != want->rate_hz)
        return gosr_error_set(
            err, GOSR_ESTATE, "checkpoint_config_mismatch",
            "checkpoint world (capacity %u, kv %u, seed %llu, rate %u) is "
            "not this node's (capacity %u, kv %u, seed %llu, rate %u)",
            c->wc.capacity, c->wc.kv_capacity, (unsigned long long)c->wc.seed,
            c->wc.rate_hz, want->capacity, want->kv_capacity,
            (unsigned long long)want->seed, want->rate_hz);
    return GOSR_OK;
}

static int decode_body(const uint8_t *p, size_t body,
                       const gosr_world_config *want, ckpt_data *c,
                       gosr_error *err)
{
    int rc = read_config(p, want, c, err);
    if (rc != GOSR_OK)
        return rc;
    uint64_t snap_len = get_le(p + 88, 8);
    if (snap_len > body - CKPT_HEADER)
        return bad(err, "checkpoint_truncated", "snapshot longer than file");
    rc = gosr_world_snap_decode(p + CKPT_HEADER, (size_t)snap_len, want,
                                &c->snap, err);
    if (rc != GOSR_OK)
        return rc;
    gosr_hash h;
    gosr_world_snap_hash(c->snap, c->tick, c->wc.seed, &h);
    if (memcmp(h.b, c->world_hash.b, 32) != 0)
        return gosr_error_set(err, GOSR_ECORRUPT, "checkpoint_hash_mismatch",
                              "checkpoint: the snapshot does not hash to the "
                              "recorded world hash");
    rd r = {p + CKPT_HEADER + snap_len, body - CKPT_HEADER - (size_t)snap_len};
    return rd_modules(&r, c, (size_t)get_le(p + 52, 4), err);
}

int kernel__ckpt_decode(const uint8_t *p, size_t n,
                        const gosr_world_config *want, ckpt_data **out,
                        gosr_error *err)
{
    int rc = check_frame(p, n, err);
    if (rc != GOSR_OK)
        return rc;
    ckpt_data *c = gosr_calloc(1, sizeof *c);
    if (!c)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "ckpt");
    rc = decode_body(p, n - 32, want, c, err);
    if (rc != GOSR_OK) {
        kernel__ckpt_free(c);
        return rc;
    }
    *out = c;
    return GOSR_OK;
}
