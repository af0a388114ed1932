/*
 * session.c — the crypto of one mesh link: ephemeral X25519 (libsodium
 * crypto_kx) bound to a BLAKE3 transcript of both HELLOs, ed25519
 * signatures over that transcript (AUTH), and ChaCha20-Poly1305-IETF
 * frames with per-direction counters as nonces (ordering and replay
 * protection). Also the storage-proof MAC and rendezvous score.
 * Design: docs/mesh.md ("Handshake", "Frames").
 */
#include "mesh_int.h"

#include <stdio.h>
#include <string.h>

int mesh__sess_start(mesh_sess *s, bool initiator, const gosr_keypair *id,
                     uint8_t role, uint8_t tier, uint16_t port)
{
    if (gosr_crypto_init() != GOSR_OK)
        return GOSR_EINTERNAL;
    memset(s, 0, sizeof *s);
    s->initiator = initiator;
    crypto_kx_keypair(s->eph_pk, s->eph_sk);
    mesh_hello h = {
        .version = MESH_VERSION, .role = role, .tier = tier, .port = port};
    memcpy(h.eph_pk, s->eph_pk, 32);
    memcpy(h.static_pk, id->pk, 32);
    mesh__hello_encode(&h, s->hello_mine);
    return GOSR_OK;
}

/* Binds a crypto_kx key to the transcript: keyed BLAKE3(kx, transcript). */
static void bind_key(uint8_t key[32], const uint8_t transcript[32])
{
    gosr_hash h;
    gosr_blake3_keyed(key, transcript, 32, &h);
    memcpy(key, h.b, 32);
}

int mesh__sess_peer_hello(mesh_sess *s, const uint8_t *p, size_t n,
                          gosr_error *err)
{
    int rc = mesh__hello_decode(p, n, &s->peer, err);
    if (rc != GOSR_OK)
        return rc;
    memcpy(s->hello_peer, p, MESH_HELLO_LEN);
    gosr_blake3 b;
    gosr_blake3_init_derive_key(&b, "gosr mesh v1 transcript");
    gosr_blake3_update(&b, s->initiator ? s->hello_mine : s->hello_peer,
                       MESH_HELLO_LEN);
    gosr_blake3_update(&b, s->initiator ? s->hello_peer : s->hello_mine,
                       MESH_HELLO_LEN);
    gosr_blake3_finalize(&b, s->transcript, 32);
    rc = s->initiator ? crypto_kx_client_session_keys(s->rx, s->tx, s->eph_pk,
                                                      s->eph_sk, s->peer.eph_pk)
                      : crypto_kx_server_session_keys(
                            s->rx, s->tx, s->eph_pk, s->eph_sk, s->peer.eph_pk);
    if (rc != 0)
        return gosr_error_set(err, GOSR_EPROTO, "handshake_key",
                              "peer's ephemeral key is unusable");
    bind_key(s->tx, s->transcript);
    bind_key(s->rx, s->transcript);
    gosr_blake3_hash(s->peer.static_pk, 32, &s->peer_id);
    sodium_memzero(s->eph_sk, sizeof s->eph_sk);
    return GOSR_OK;
}

/* What AUTH signs: context, the signer's role (I or R), the transcript. */
static void auth_msg(const mesh_sess *s, bool signer_initiator, uint8_t out[50])
{
    memcpy(out, "gosr-mesh-auth-v1", 17);
    out[17] = signer_initiator ? 'I' : 'R';
    memcpy(out + 18, s->transcript, 32);
}

void mesh__sess_auth_sign(const mesh_sess *s, const gosr_keypair *id,
                          uint8_t sig[64])
{
    uint8_t m[50];
    auth_msg(s, s->initiator, m);
    gosr_sign(id, m, sizeof m, sig);
}

bool mesh__sess_auth_verify(const mesh_sess *s, const uint8_t sig[64])
{
    uint8_t m[50];
    auth_msg(s, !s->initiator, m);
    return gosr_sign_verify(s->peer.static_pk, m, sizeof m, sig);
}

static void nonce_of(uint64_t ctr, uint8_t n[12])
{
    memset(n, 0, 12);
    for (int i = 0; i < 8; i++)
        n[4 + i] = (uint8_t)(ctr >> (8 * i));
}

int mesh__seal(mesh_sess *s, const uint8_t *msg, size_t n, gosr_buf *out)
{
    if (n == 0 || n > MESH_MSG_MAX)
        return GOSR_ETOOBIG;
    int rc = gosr_buf_reserve(out, 4 + n + MESH_TAG_LEN);
    if (rc != GOSR_OK)
        return rc;
    uint8_t *hdr = out->data + out->len;
    uint32_t L = (uint32_t)(n + MESH_TAG_LEN);
    hdr[0] = (uint8_t)(L >> 24);
    hdr[1] = (uint8_t)(L >> 16);
    hdr[2] = (uint8_t)(L >> 8);
    hdr[3] = (uint8_t)L;
    uint8_t nonce[12];
    nonce_of(s->tx_ctr++, nonce);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(hdr + 4, &clen, msg, n, hdr, 4,
                                              NULL, nonce, s->tx);
    out->len += 4 + (size_t)clen;
    return GOSR_OK;
}

int mesh__open(mesh_sess *s, const uint8_t hdr[4], const uint8_t *ct, size_t n,
               gosr_buf *plain, gosr_error *err)
{
    if (n <= MESH_TAG_LEN || n > MESH_FRAME_MAX)
        return gosr_error_set(err, GOSR_EPROTO, "frame_length",
                              "encrypted frame of %zu bytes", n);
    int rc = gosr_buf_reserve(plain, n);
    if (rc != GOSR_OK)
        return rc;
    uint8_t nonce[12];
    nonce_of(s->rx_ctr, nonce);
    unsigned long long mlen = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(plain->data + plain->len,
                                                  &mlen, NULL, ct, n, hdr, 4,
                                                  nonce, s->rx) != 0)
        return gosr_error_set(err, GOSR_ECORRUPT, "frame_auth_failed",
                              "frame %llu failed authentication (tampered, "
                              "replayed or reordered)",
                              (unsigned long long)s->rx_ctr);
    s->rx_ctr++;
    plain->len += (size_t)mlen;
    return GOSR_OK;
}

void mesh__sess_wipe(mesh_sess *s)
{
    sodium_memzero(s, sizeof *s);
}

/* ---- proofs, rendezvous, addresses
 * ---------------------------------------------- */

void mesh__proof_mac(const uint8_t nonce[32], const gosr_hash *id, uint32_t off,
                     uint32_t len, const uint8_t *bytes, gosr_hash *out)
{
    gosr_blake3 b;
    uint8_t hdr[40];
    memcpy(hdr, id->b, 32);
    for (int i = 0; i < 4; i++) {
        hdr[32 + i] = (uint8_t)(off >> (24 - 8 * i));
        hdr[36 + i] = (uint8_t)(len >> (24 - 8 * i));
    }
    gosr_blake3_init_keyed(&b, nonce);
    gosr_blake3_update(&b, hdr, sizeof hdr);
    if (bytes)
        gosr_blake3_update(&b, bytes, len);
    gosr_blake3_finalize(&b, out->b, 32);
}

uint64_t mesh__rendezvous(const gosr_hash *root, const gosr_hash *node)
{
    uint8_t in[64];
    gosr_hash h;
    memcpy(in, root->b, 32);
    memcpy(in + 32, node->b, 32);
    gosr_blake3_hash(in, sizeof in, &h);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | h.b[i];
    return v;
}

int mesh__parse_addr(const char *s, uint8_t ip[4], uint16_t *port)
{
    unsigned a, b, c, d, p;
    char tail;
    if (!s || sscanf(s, "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &p, &tail) != 5 ||
        a > 255 || b > 255 || c > 255 || d > 255 || p == 0 || p > 65535)
        return GOSR_EINVAL;
    ip[0] = (uint8_t)a;
    ip[1] = (uint8_t)b;
    ip[2] = (uint8_t)c;
    ip[3] = (uint8_t)d;
    *port = (uint16_t)p;
    return GOSR_OK;
}

static void derive20(const char *ctx, const void *in, size_t n, uint8_t out[20])
{
    gosr_blake3 b;
    gosr_blake3_init_derive_key(&b, ctx);
    gosr_blake3_update(&b, in, n);
    gosr_blake3_finalize(&b, out, 20);
}

GOSR_API void gosr_mesh_provider_key(const gosr_hash *root, uint8_t out[20])
{
    derive20("gosr mesh v1 provider", root->b, 32, out);
}

GOSR_API void gosr_mesh_members_key(uint8_t out[20])
{
    derive20("gosr mesh v1 members", "members", 7, out);
}
