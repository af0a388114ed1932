/*
 * test_wire.c — the mesh wire codec and link crypto without sockets:
 * strict decoding of every message type (lengths, ranges, unknown types),
 * HELLO round trip, a full handshake between two sessions with AUTH
 * verification, tamper / replay / reorder / wrong-key rejection, frame
 * length bounds, the proof MAC, rendezvous scores and address parsing;
 * then one real node in-process (create, run on a thread, control
 * requests, publish, stop, destroy) so LeakSanitizer checks its lifetime.
 * Design: docs/mesh.md.
 */
#include "harness.h"
#include "mesh/mesh_int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void pair(mesh_sess *a, mesh_sess *b, gosr_keypair *ka, gosr_keypair *kb)
{
    uint8_t s1[32] = {1}, s2[32] = {2};
    gosr_keypair_from_seed(ka, s1);
    gosr_keypair_from_seed(kb, s2);
    mesh__sess_start(a, true, ka, MESH_ROLE_NODE, 0, 1000);
    mesh__sess_start(b, false, kb, MESH_ROLE_NODE, 1, 1001);
}

static int roundtrip(const mesh_msg *m, mesh_msg *out)
{
    gosr_buf b = {0};
    static gosr_buf keep;
    int rc = mesh__encode(m, &b);
    if (rc == GOSR_OK)
        rc = mesh__decode(b.data, b.len, out, NULL);
    gosr_buf_free(&keep);
    keep = b; /* out->data may point into it */
    return rc;
}

GOSR_TEST(messages_roundtrip)
{
    mesh_msg m = {.type = MESH_GET, .req = 7, .off = 10, .len = 4096}, o;
    memset(m.id.b, 0xab, 32);
    CHECK_OK(roundtrip(&m, &o));
    CHECK_EQ(o.req, 7);
    CHECK_EQ(o.off, 10);
    CHECK_EQ(o.len, 4096);
    CHECK_MEM(o.id.b, m.id.b, 32);
    const uint8_t data[5] = "hello";
    mesh_msg c = {.type = MESH_CHUNK,
                  .req = 3,
                  .kind = GOSR_OBJ_CHUNK,
                  .off = 2,
                  .total = 7,
                  .data = data,
                  .data_len = 5};
    CHECK_OK(roundtrip(&c, &o));
    CHECK_EQ(o.total, 7);
    CHECK_EQ(o.data_len, 5);
    CHECK_MEM(o.data, "hello", 5);
    mesh_msg ch = {.type = MESH_CHALLENGE, .req = 9, .off = 1, .len = 2};
    memset(ch.key, 0x5c, 32);
    CHECK_OK(roundtrip(&ch, &o));
    CHECK_MEM(o.key, ch.key, 32);
    mesh_msg h = {.type = MESH_HAVE, .rf = 3};
    CHECK_OK(roundtrip(&h, &o));
    CHECK_EQ(o.rf, 3);
    mesh_peer_entry e = {.ip = {127, 0, 0, 1}, .port = 4000, .tier = 1}, e2;
    gosr_buf b = {0};
    CHECK_OK(mesh__peers_encode(&e, 1, &b));
    CHECK_OK(mesh__decode(b.data, b.len, &o, NULL));
    CHECK_EQ(o.count, 1);
    mesh__peer_entry(&o, 0, &e2);
    CHECK_EQ(e2.port, 4000);
    CHECK_EQ(e2.tier, GOSR_MESH_TIER_HOT);
    gosr_buf_free(&b);
}

GOSR_TEST(decoder_is_strict)
{
    mesh_msg o;
    gosr_error err;
    uint8_t buf[128] = {0};
    buf[0] = MESH_PING;
    CHECK_STATUS(mesh__decode(buf, 8, &o, &err), GOSR_EPROTO); /* short */
    CHECK_STR(err.reason, "msg_length");
    CHECK_STATUS(mesh__decode(buf, 10, &o, &err), GOSR_EPROTO); /* long */
    CHECK_OK(mesh__decode(buf, 9, &o, &err));
    buf[0] = 0x7f;
    CHECK_STATUS(mesh__decode(buf, 9, &o, &err), GOSR_EPROTO);
    CHECK_STR(err.reason, "msg_type");
    CHECK_STATUS(mesh__decode(buf, 0, &o, &err), GOSR_EPROTO);
    /* GET with length 0 and above the piece limit */
    mesh_msg g = {.type = MESH_GET, .len = 1};
    gosr_buf b = {0};
    CHECK_OK(mesh__encode(&g, &b));
    b.data[41] = b.data[42] = b.data[43] = b.data[44] = 0;
    CHECK_STATUS(mesh__decode(b.data, b.len, &o, &err), GOSR_EPROTO);
    CHECK_STR(err.reason, "msg_len");
    b.data[41] = 0x7f;
    CHECK_STATUS(mesh__decode(b.data, b.len, &o, &err), GOSR_EPROTO);
    gosr_buf_free(&b);
    /* CHUNK whose range exceeds its total */
    const uint8_t d[4] = {1, 2, 3, 4};
    mesh_msg c = {
        .type = MESH_CHUNK, .off = 2, .total = 5, .data = d, .data_len = 4};
    CHECK_OK(mesh__encode(&c, &b));
    CHECK_STATUS(mesh__decode(b.data, b.len, &o, &err), GOSR_EPROTO);
    CHECK_STR(err.reason, "msg_range");
    gosr_buf_free(&b);
    /* HAVE with rf 0, PEERS whose count lies */
    mesh_msg h = {.type = MESH_HAVE, .rf = 0};
    CHECK_OK(mesh__encode(&h, &b));
    CHECK_STATUS(mesh__decode(b.data, b.len, &o, &err), GOSR_EPROTO);
    gosr_buf_free(&b);
    uint8_t peers[3 + 39] = {MESH_PEERS, 0, 2};
    CHECK_STATUS(mesh__decode(peers, sizeof peers, &o, &err), GOSR_EPROTO);
}

GOSR_TEST(frame_length_bounds)
{
    uint8_t p[4] = {0, 0, 0, 10};
    uint32_t len;
    gosr_error err;
    CHECK_STATUS(mesh__frame_len(p, 3, 17, 100, &len, NULL), GOSR_EAGAIN);
    CHECK_STATUS(mesh__frame_len(p, 4, 17, 100, &len, &err), GOSR_EPROTO);
    CHECK_STR(err.reason, "frame_length");
    p[3] = 50;
    CHECK_OK(mesh__frame_len(p, 4, 17, 100, &len, NULL));
    CHECK_EQ(len, 50);
    uint8_t big[4] = {0xff, 0xff, 0xff, 0xff};
    CHECK_STATUS(mesh__frame_len(big, 4, 17, MESH_FRAME_MAX, &len, NULL),
                 GOSR_EPROTO);
}

GOSR_TEST(hello_roundtrip_and_rejects)
{
    mesh_hello h = {.version = MESH_VERSION,
                    .role = MESH_ROLE_CLIENT,
                    .tier = 1,
                    .port = 4242},
               o;
    memset(h.eph_pk, 3, 32);
    memset(h.static_pk, 4, 32);
    uint8_t b[MESH_HELLO_LEN];
    mesh__hello_encode(&h, b);
    CHECK_OK(mesh__hello_decode(b, sizeof b, &o, NULL));
    CHECK_EQ(o.port, 4242);
    CHECK_EQ(o.role, MESH_ROLE_CLIENT);
    gosr_error err;
    b[0] = 'X';
    CHECK_STATUS(mesh__hello_decode(b, sizeof b, &o, &err), GOSR_EPROTO);
    CHECK_STR(err.reason, "hello_magic");
    b[0] = 'G';
    b[4] = 2;
    CHECK_STATUS(mesh__hello_decode(b, sizeof b, &o, &err), GOSR_EPROTO);
    CHECK_STR(err.reason, "hello_version");
    b[4] = 1;
    b[7] = 1;
    CHECK_STATUS(mesh__hello_decode(b, sizeof b, &o, &err), GOSR_EPROTO);
    CHECK_STATUS(mesh__hello_decode(b, 75, &o, &err), GOSR_EPROTO);
}

GOSR_TEST(handshake_and_frames)
{
    mesh_sess a, b;
    gosr_keypair ka, kb;
    pair(&a, &b, &ka, &kb);
    CHECK_OK(mesh__sess_peer_hello(&a, b.hello_mine, MESH_HELLO_LEN, NULL));
    CHECK_OK(mesh__sess_peer_hello(&b, a.hello_mine, MESH_HELLO_LEN, NULL));
    CHECK_MEM(a.transcript, b.transcript, 32);
    CHECK_MEM(a.tx, b.rx, 32);
    CHECK_MEM(a.rx, b.tx, 32);
    gosr_hash idb;
    gosr_blake3_hash(kb.pk, 32, &idb);
    CHECK(gosr_hash_equal(&a.peer_id, &idb));
    uint8_t sa[64], sb[64];
    mesh__sess_auth_sign(&a, &ka, sa);
    mesh__sess_auth_sign(&b, &kb, sb);
    CHECK(mesh__sess_auth_verify(&b, sa));
    CHECK(mesh__sess_auth_verify(&a, sb));
    CHECK(!mesh__sess_auth_verify(&a, sa)); /* role-separated: no reflection */
    /* frames: in order ok; tamper, replay and reorder fail */
    gosr_buf f1 = {0}, f2 = {0}, p = {0};
    gosr_error err;
    CHECK_OK(mesh__seal(&a, (const uint8_t *)"one", 3, &f1));
    CHECK_OK(mesh__seal(&a, (const uint8_t *)"two", 3, &f2));
    CHECK_STATUS(mesh__open(&b, f2.data, f2.data + 4, f2.len - 4, &p, &err),
                 GOSR_ECORRUPT); /* reordered */
    CHECK_STR(err.reason, "frame_auth_failed");
    CHECK_OK(mesh__open(&b, f1.data, f1.data + 4, f1.len - 4, &p, NULL));
    CHECK_MEM(p.data, "one", 3);
    CHECK_STATUS(mesh__open(&b, f1.data, f1.data + 4, f1.len - 4, &p, NULL),
                 GOSR_ECORRUPT); /* replayed */
    f2.data[6] ^= 1;
    CHECK_STATUS(mesh__open(&b, f2.data, f2.data + 4, f2.len - 4, &p, NULL),
                 GOSR_ECORRUPT); /* tampered */
    f2.data[6] ^= 1;
    p.len = 0;
    CHECK_OK(mesh__open(&b, f2.data, f2.data + 4, f2.len - 4, &p, NULL));
    CHECK_MEM(p.data, "two", 3);
    gosr_buf_free(&f1);
    gosr_buf_free(&f2);
    gosr_buf_free(&p);
    CHECK_STATUS(mesh__seal(&a, NULL, MESH_MSG_MAX + 1, &f1), GOSR_ETOOBIG);
    gosr_keypair_wipe(&ka);
    gosr_keypair_wipe(&kb);
}

GOSR_TEST(auth_from_another_key_fails)
{
    mesh_sess a, b;
    gosr_keypair ka, kb, evil;
    uint8_t s3[32] = {3};
    pair(&a, &b, &ka, &kb);
    gosr_keypair_from_seed(&evil, s3);
    CHECK_OK(mesh__sess_peer_hello(&a, b.hello_mine, MESH_HELLO_LEN, NULL));
    CHECK_OK(mesh__sess_peer_hello(&b, a.hello_mine, MESH_HELLO_LEN, NULL));
    uint8_t sig[64];
    mesh__sess_auth_sign(&b, &evil, sig); /* b claims kb's key in HELLO */
    CHECK(!mesh__sess_auth_verify(&a, sig));
    /* a man in the middle swapping b's ephemeral key breaks the transcript */
    mesh_sess c;
    mesh__sess_start(&c, false, &kb, MESH_ROLE_NODE, 1, 1001);
    mesh_sess a2;
    mesh__sess_start(&a2, true, &ka, MESH_ROLE_NODE, 0, 1000);
    CHECK_OK(mesh__sess_peer_hello(&a2, c.hello_mine, MESH_HELLO_LEN, NULL));
    mesh__sess_auth_sign(&b, &kb, sig); /* b's signature on b's transcript */
    CHECK(!mesh__sess_auth_verify(&a2, sig));
}

GOSR_TEST(proof_mac_and_rendezvous)
{
    uint8_t nonce[32] = {9}, nonce2[32] = {8};
    gosr_hash id = {{1}}, m1, m2, m3;
    const uint8_t bytes[4] = {1, 2, 3, 4}, other[4] = {1, 2, 3, 5};
    mesh__proof_mac(nonce, &id, 0, 4, bytes, &m1);
    mesh__proof_mac(nonce, &id, 0, 4, other, &m2);
    mesh__proof_mac(nonce2, &id, 0, 4, bytes, &m3);
    CHECK(!gosr_hash_equal(&m1, &m2));
    CHECK(!gosr_hash_equal(&m1, &m3)); /* fresh nonce, fresh answer */
    mesh__proof_mac(nonce, &id, 0, 4, bytes, &m2);
    CHECK(gosr_hash_equal(&m1, &m2));
    gosr_hash r = {{7}}, a = {{1}}, b = {{2}};
    CHECK(mesh__rendezvous(&r, &a) != mesh__rendezvous(&r, &b));
    CHECK_EQ(mesh__rendezvous(&r, &a), mesh__rendezvous(&r, &a));
    uint8_t ip[4];
    uint16_t port;
    CHECK_OK(mesh__parse_addr("127.0.0.1:4000", ip, &port));
    CHECK_EQ(port, 4000);
    CHECK_STATUS(mesh__parse_addr("127.0.0.1", ip, &port), GOSR_EINVAL);
    CHECK_STATUS(mesh__parse_addr("127.0.0.1:0", ip, &port), GOSR_EINVAL);
    CHECK_STATUS(mesh__parse_addr("300.0.0.1:80", ip, &port), GOSR_EINVAL);
    CHECK_STATUS(mesh__parse_addr("127.0.0.1:80x", ip, &port), GOSR_EINVAL);
    uint8_t k1[20], k2[20];
    gosr_mesh_provider_key(&a, k1);
    gosr_mesh_provider_key(&b, k2);
    CHECK(memcmp(k1, k2, 20) != 0);
}

/* ---- one node in-process ------------------------------------------------ */

static void *run_thread(void *p)
{
    gosr_mesh_node_run(p);
    return NULL;
}

static int ctl_json(const char *addr, const char *req, json_t **out)
{
    char *resp = NULL;
    gosr_error err;
    int rc = gosr_mesh_ctl(addr, req, 20000, &resp, &err);
    if (rc == GOSR_OK)
        *out = json_loads(resp, 0, NULL);
    gosr_free(resp);
    return rc;
}

GOSR_TEST(node_lifecycle_in_process)
{
    char dir[512], addr[64], file[600];
    snprintf(dir, sizeof dir, "%s/node", gosr_test_tmpdir());
    gosr_mesh_node *node = NULL;
    gosr_error err;
    int rc = GOSR_EIO;
    for (int tries = 0; tries < 20 && rc != GOSR_OK; tries++) {
        snprintf(addr, sizeof addr, "127.0.0.1:%d", 20000 + rand() % 12000);
        gosr_mesh_config cfg = {.data_dir = dir, .listen = addr};
        rc = gosr_mesh_node_create(&cfg, &node, &err);
    }
    REQUIRE(rc == GOSR_OK);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, run_thread, node) == 0);
    json_t *j = NULL;
    CHECK_OK(ctl_json(addr, "{\"op\":\"status\"}", &j));
    CHECK(json_is_true(json_object_get(j, "ok")));
    gosr_hash id;
    char hex[65];
    gosr_mesh_node_id(node, &id);
    gosr_hash_hex(&id, hex);
    CHECK_STR(json_string_value(json_object_get(j, "node_id")), hex);
    json_decref(j);
    snprintf(file, sizeof file, "%s/blob", gosr_test_tmpdir());
    uint8_t data[100000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    CHECK_OK(gosr_file_write_atomic(file, data, sizeof data, 0644));
    char req[800];
    snprintf(req, sizeof req, "{\"op\":\"publish\",\"path\":\"%s\",\"rf\":2}",
             file);
    CHECK_OK(ctl_json(addr, req, &j));
    CHECK(json_is_true(json_object_get(j, "ok")));
    CHECK_EQ(json_integer_value(json_object_get(j, "rf")), 2);
    json_decref(j);
    CHECK_OK(ctl_json(addr, "{\"op\":\"nope\"}", &j));
    CHECK_STR(json_string_value(json_object_get(j, "reason")), "unknown_op");
    json_decref(j);
    CHECK_OK(ctl_json(addr, "{\"op\":\"replicas\",\"id\":\"zz\"}", &j));
    CHECK_STR(json_string_value(json_object_get(j, "reason")), "bad_id");
    json_decref(j);
    char *resp = NULL;
    CHECK_STATUS(gosr_mesh_ctl("127.0.0.1:1", "{}", 2000, &resp, &err),
                 GOSR_ECLOSED);
    CHECK_STR(err.reason, "connect_failed");
    gosr_mesh_node_stop(node);
    pthread_join(t, NULL);
    gosr_mesh_node_destroy(node);
    gosr_mesh_node_destroy(NULL);
}
