/*
 * fuzz_mesh_wire.c — fuzz target for the mesh wire decoders. The first
 * input byte picks a mode: 0 = one plaintext message (mesh__decode; a
 * message that decodes must re-encode to exactly the input, except PEERS
 * which is checked entry by entry), 1 = a HELLO (decode, re-encode equal),
 * 2 = a byte stream cut into frames with mesh__frame_len and opened by a
 * real session pair (the input is first sealed by the sender, so decoding
 * runs on authenticated plaintext, then the raw input is opened too and
 * must fail authentication). Seeds: fuzz/corpus/fuzz_mesh_wire/.
 * Design: docs/mesh.md ("Frames", "Messages").
 */
#include "mesh/mesh_int.h"

#include <stdlib.h>
#include <string.h>

static void one_message(const uint8_t *p, size_t n)
{
    mesh_msg m;
    gosr_error err;
    if (mesh__decode(p, n, &m, &err) != GOSR_OK)
        return;
    gosr_buf b = {0};
    if (m.type == MESH_PEERS) {
        mesh_peer_entry e[MESH_PEERS_MAX];
        for (size_t i = 0; i < m.count; i++)
            mesh__peer_entry(&m, i, &e[i]);
        if (mesh__peers_encode(e, m.count, &b) != GOSR_OK)
            abort();
    } else if (mesh__encode(&m, &b) != GOSR_OK) {
        abort();
    }
    /* PEERS normalises the tier byte, so only the length must match. */
    if (b.len != n || (m.type != MESH_PEERS && memcmp(b.data, p, n) != 0))
        abort();
    gosr_buf_free(&b);
}

static void one_hello(const uint8_t *p, size_t n)
{
    mesh_hello h;
    uint8_t out[MESH_HELLO_LEN];
    if (mesh__hello_decode(p, n, &h, NULL) != GOSR_OK)
        return;
    mesh__hello_encode(&h, out);
    if (memcmp(out, p, MESH_HELLO_LEN) != 0)
        abort();
}

static void session_pair(mesh_sess *a, mesh_sess *b)
{
    static const uint8_t sa[32] = {1}, sb[32] = {2};
    gosr_keypair ka, kb;
    gosr_keypair_from_seed(&ka, sa);
    gosr_keypair_from_seed(&kb, sb);
    mesh__sess_start(a, true, &ka, MESH_ROLE_NODE, 0, 1000);
    mesh__sess_start(b, false, &kb, MESH_ROLE_NODE, 1, 1001);
    if (mesh__sess_peer_hello(a, b->hello_mine, MESH_HELLO_LEN, NULL) ||
        mesh__sess_peer_hello(b, a->hello_mine, MESH_HELLO_LEN, NULL))
        abort();
}

static void stream(const uint8_t *p, size_t n)
{
    mesh_sess a, b;
    session_pair(&a, &b);
    gosr_buf fr = {0}, plain = {0};
    while (n > 0) {
        uint32_t len = 0;
        size_t take = n < 300 ? n : 300;
        /* authenticated path: seal a slice, open it, decode it */
        fr.len = plain.len = 0;
        if (mesh__seal(&a, p, take, &fr) != GOSR_OK ||
            mesh__frame_len(fr.data, fr.len, 17, MESH_FRAME_MAX, &len, NULL) ||
            mesh__open(&b, fr.data, fr.data + 4, len, &plain, NULL) ||
            plain.len != take || memcmp(plain.data, p, take) != 0)
            abort();
        one_message(plain.data, plain.len);
        /* raw path: the input as a frame never authenticates */
        if (mesh__frame_len(p, n, 17, MESH_FRAME_MAX, &len, NULL) == GOSR_OK &&
            n >= 4 + (size_t)len) {
            plain.len = 0;
            if (mesh__open(&b, p, p + 4, len, &plain, NULL) == GOSR_OK)
                abort();
        }
        p += take;
        n -= take;
    }
    gosr_buf_free(&fr);
    gosr_buf_free(&plain);
    mesh__sess_wipe(&a);
    mesh__sess_wipe(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        one_message(data + 1, size - 1);
        break;
    case 1:
        one_hello(data + 1, size - 1);
        break;
    default:
        stream(data + 1, size - 1);
        break;
    }
    return 0;
}
