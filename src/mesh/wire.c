/*
 * wire.c — the mesh wire codec: the plaintext HELLO, the frame length
 * prefix, and every encrypted message (encode and a strict decode: exact
 * lengths per type, bounded sizes, no trailing bytes). Byte tables:
 * docs/mesh.md ("Frames" and "Messages").
 */
#include "mesh_int.h"

#include <string.h>

/* ---- big-endian helpers ----------------------------------------------------
 */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}
static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}
static uint64_t get64(const uint8_t *p)
{
    return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

/* ---- HELLO and frame length
 * -------------------------------------------------- */

void mesh__hello_encode(const mesh_hello *h, uint8_t out[MESH_HELLO_LEN])
{
    memcpy(out, MESH_MAGIC, 4);
    out[4] = h->version;
    out[5] = h->role;
    out[6] = h->tier;
    out[7] = 0;
    put16(out + 8, h->port);
    put16(out + 10, 0);
    memcpy(out + 12, h->eph_pk, 32);
    memcpy(out + 44, h->static_pk, 32);
}

int mesh__hello_decode(const uint8_t *p, size_t n, mesh_hello *h,
                       gosr_error *err)
{
    if (n != MESH_HELLO_LEN)
        return gosr_error_set(err, GOSR_EPROTO, "hello_length",
                              "HELLO is %zu bytes, want %d", n, MESH_HELLO_LEN);
    if (memcmp(p, MESH_MAGIC, 4) != 0)
        return gosr_error_set(err, GOSR_EPROTO, "hello_magic",
                              "HELLO does not start with GMSH");
    if (p[4] != MESH_VERSION)
        return gosr_error_set(err, GOSR_EPROTO, "hello_version",
                              "unsupported mesh version %u", p[4]);
    if (p[5] > MESH_ROLE_CLIENT || p[6] > GOSR_MESH_TIER_HOT || p[7] != 0 ||
        get16(p + 10) != 0)
        return gosr_error_set(err, GOSR_EPROTO, "hello_field",
                              "HELLO role, tier or reserved byte invalid");
    h->version = p[4];
    h->role = p[5];
    h->tier = p[6];
    h->port = get16(p + 8);
    memcpy(h->eph_pk, p + 12, 32);
    memcpy(h->static_pk, p + 44, 32);
    return GOSR_OK;
}

int mesh__frame_len(const uint8_t *p, size_t n, uint32_t min, uint32_t max,
                    uint32_t *len, gosr_error *err)
{
    if (n < 4)
        return GOSR_EAGAIN;
    uint32_t v = get32(p);
    if (v < min || v > max)
        return gosr_error_set(err, GOSR_EPROTO, "frame_length",
                              "frame length %u outside [%u, %u]", v, min, max);
    *len = v;
    return GOSR_OK;
}

/* ---- messages
 * ------------------------------------------------------------------ */

/* Fixed body length of each type (after the type byte); -1 = variable. */
static long fixed_len(uint8_t type)
{
    switch (type) {
    case MESH_AUTH:
        return 64;
    case MESH_PING:
    case MESH_PONG:
        return 8;
    case MESH_HAVE:
    case MESH_REPLICATE:
        return 33;
    case MESH_GET:
        return 44;
    case MESH_MISSING:
        return 37;
    case MESH_CHALLENGE:
        return 76;
    case MESH_PROOF:
        return 37;
    default:
        return -1;
    }
}

static int decode_fixed(const uint8_t *b, mesh_msg *m, gosr_error *err)
{
    switch (m->type) {
    case MESH_AUTH:
        memcpy(m->sig, b, 64);
        break;
    case MESH_PING:
    case MESH_PONG:
        m->nonce = get64(b);
        break;
    case MESH_HAVE:
    case MESH_REPLICATE:
        memcpy(m->id.b, b, 32);
        m->rf = b[32];
        if (m->rf == 0 || m->rf > 16)
            return gosr_error_set(err, GOSR_EPROTO, "msg_rf",
                                  "replication factor %u not in 1..16", m->rf);
        break;
    case MESH_GET:
        m->req = get32(b);
        memcpy(m->id.b, b + 4, 32);
        m->off = get32(b + 36);
        m->len = get32(b + 40);
        if (m->len == 0 || m->len > MESH_PIECE_MAX)
            return gosr_error_set(err, GOSR_EPROTO, "msg_len",
                                  "GET length %u not in 1..%u", m->len,
                                  MESH_PIECE_MAX);
        break;
    case MESH_MISSING:
        m->req = get32(b);
        memcpy(m->id.b, b + 4, 32);
        m->status = b[36];
        break;
    case MESH_CHALLENGE:
        m->req = get32(b);
        memcpy(m->id.b, b + 4, 32);
        memcpy(m->key, b + 36, 32);
        m->off = get32(b + 68);
        m->len = get32(b + 72);
        if (m->len == 0 || m->len > MESH_PIECE_MAX)
            return gosr_error_set(err, GOSR_EPROTO, "msg_len",
                                  "CHALLENGE length %u not in 1..%u", m->len,
                                  MESH_PIECE_MAX);
        break;
    case MESH_PROOF:
        m->req = get32(b);
        m->status = b[4];
        memcpy(m->key, b + 5, 32);
        break;
    }
    return GOSR_OK;
}

static int decode_chunk(const uint8_t *b, size_t n, mesh_msg *m,
                        gosr_error *err)
{
    if (n < 45)
        return gosr_error_set(err, GOSR_EPROTO, "msg_length",
                              "CHUNK header truncated");
    m->req = get32(b);
    memcpy(m->id.b, b + 4, 32);
    m->kind = b[36];
    m->off = get32(b + 37);
    m->total = get32(b + 41);
    m->data = b + 45;
    m->data_len = n - 45;
    if (m->kind > GOSR_OBJ_TREE)
        return gosr_error_set(err, GOSR_EPROTO, "msg_kind",
                              "CHUNK object kind %u unknown", m->kind);
    if (m->total > MESH_OBJECT_MAX || m->data_len > MESH_PIECE_MAX ||
        (uint64_t)m->off + m->data_len > m->total ||
        (m->data_len == 0 && m->total != 0))
        return gosr_error_set(err, GOSR_EPROTO, "msg_range",
                              "CHUNK range %u+%zu of %u invalid", m->off,
                              m->data_len, m->total);
    return GOSR_OK;
}

static int decode_var(const uint8_t *b, size_t n, mesh_msg *m, gosr_error *err)
{
    switch (m->type) {
    case MESH_CHUNK:
        return decode_chunk(b, n, m, err);
    case MESH_PEERS:
        if (n < 2 || (n - 2) % 39 != 0 || get16(b) != (n - 2) / 39 ||
            get16(b) > MESH_PEERS_MAX)
            return gosr_error_set(err, GOSR_EPROTO, "msg_length",
                                  "PEERS count does not match its length");
        m->count = get16(b);
        m->data = b + 2;
        m->data_len = n - 2;
        return GOSR_OK;
    case MESH_CTL_REQ:
    case MESH_CTL_RESP:
        if (n < 4 || n - 4 > MESH_JSON_MAX)
            return gosr_error_set(err, GOSR_EPROTO, "msg_length",
                                  "control message of %zu bytes", n);
        m->req = get32(b);
        m->data = b + 4;
        m->data_len = n - 4;
        return GOSR_OK;
    default:
        return gosr_error_set(err, GOSR_EPROTO, "msg_type",
                              "unknown message type 0x%02x", m->type);
    }
}

int mesh__decode(const uint8_t *p, size_t n, mesh_msg *m, gosr_error *err)
{
    memset(m, 0, sizeof *m);
    if (n == 0 || n > MESH_MSG_MAX)
        return gosr_error_set(err, GOSR_EPROTO, "msg_length",
                              "message of %zu bytes", n);
    m->type = p[0];
    long want = fixed_len(m->type);
    if (want < 0)
        return decode_var(p + 1, n - 1, m, err);
    if ((size_t)want != n - 1)
        return gosr_error_set(err, GOSR_EPROTO, "msg_length",
                              "message 0x%02x is %zu bytes, want %ld", m->type,
                              n - 1, want);
    return decode_fixed(p + 1, m, err);
}

void mesh__peer_entry(const mesh_msg *m, size_t i, mesh_peer_entry *e)
{
    const uint8_t *b = m->data + i * 39;
    memcpy(e->id.b, b, 32);
    memcpy(e->ip, b + 32, 4);
    e->port = get16(b + 36);
    e->tier = b[38] ? GOSR_MESH_TIER_HOT : GOSR_MESH_TIER_COLD;
}

int mesh__peers_encode(const mesh_peer_entry *e, size_t n, gosr_buf *out)
{
    if (n > MESH_PEERS_MAX)
        n = MESH_PEERS_MAX;
    uint8_t h[3] = {MESH_PEERS};
    put16(h + 1, (uint16_t)n);
    int rc = gosr_buf_append(out, h, 3);
    for (size_t i = 0; rc == GOSR_OK && i < n; i++) {
        uint8_t b[39];
        memcpy(b, e[i].id.b, 32);
        memcpy(b + 32, e[i].ip, 4);
        put16(b + 36, e[i].port);
        b[38] = e[i].tier;
        rc = gosr_buf_append(out, b, 39);
    }
    return rc;
}

static int encode_fixed(const mesh_msg *m, uint8_t *b)
{
    switch (m->type) {
    case MESH_AUTH:
        memcpy(b, m->sig, 64);
        break;
    case MESH_PING:
    case MESH_PONG:
        put64(b, m->nonce);
        break;
    case MESH_HAVE:
    case MESH_REPLICATE:
        memcpy(b, m->id.b, 32);
        b[32] = m->rf;
        break;
    case MESH_GET:
        put32(b, m->req);
        memcpy(b + 4, m->id.b, 32);
        put32(b + 36, m->off);
        put32(b + 40, m->len);
        break;
    case MESH_MISSING:
        put32(b, m->req);
        memcpy(b + 4, m->id.b, 32);
        b[36] = m->status;
        break;
    case MESH_CHALLENGE:
        put32(b, m->req);
        memcpy(b + 4, m->id.b, 32);
        memcpy(b + 36, m->key, 32);
        put32(b + 68, m->off);
        put32(b + 72, m->len);
        break;
    case MESH_PROOF:
        put32(b, m->req);
        b[4] = m->status;
        memcpy(b + 5, m->key, 32);
        break;
    default:
        return GOSR_EINVAL;
    }
    return GOSR_OK;
}

int mesh__encode(const mesh_msg *m, gosr_buf *out)
{
    uint8_t b[1 + 76];
    b[0] = m->type;
    long fl = fixed_len(m->type);
    if (fl >= 0) {
        int rc = encode_fixed(m, b + 1);
        return rc ? rc : gosr_buf_append(out, b, 1 + (size_t)fl);
    }
    if (m->type == MESH_CHUNK) {
        put32(b + 1, m->req);
        memcpy(b + 5, m->id.b, 32);
        b[37] = m->kind;
        put32(b + 38, m->off);
        put32(b + 42, m->total);
        int rc = gosr_buf_append(out, b, 46);
        return rc ? rc : gosr_buf_append(out, m->data, m->data_len);
    }
    if (m->type == MESH_CTL_REQ || m->type == MESH_CTL_RESP) {
        put32(b + 1, m->req);
        int rc = gosr_buf_append(out, b, 5);
        return rc ? rc : gosr_buf_append(out, m->data, m->data_len);
    }
    return GOSR_EINVAL;
}
