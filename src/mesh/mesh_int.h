/*
 * mesh_int.h — private declarations of the mesh subsystem: the wire codec
 * (wire.c), the link session crypto (session.c), the node's internal
 * structures (node.c, fetch.c, repl.c, ctl.c) and the OpenDHT adapter
 * (dht.c). Design: docs/mesh.md.
 */
#ifndef GOSR_MESH_INT_H
#define GOSR_MESH_INT_H

#include "gosr/mesh.h"
#include "gosr/store.h"

#include <sodium.h>

/* ==== wire format (wire.c) =================================================
 */

#define MESH_MAGIC "GMSH"
#define MESH_VERSION 1
#define MESH_HELLO_LEN 76                  /* plaintext HELLO body */
#define MESH_TAG_LEN 16                    /* Poly1305 tag */
#define MESH_PIECE_MAX (1u << 20)          /* largest data in one CHUNK */
#define MESH_OBJECT_MAX (64u << 20)        /* largest object served */
#define MESH_JSON_MAX (256u << 10)         /* largest control JSON */
#define MESH_MSG_MAX (MESH_PIECE_MAX + 64) /* largest plaintext message */
#define MESH_FRAME_MAX (MESH_MSG_MAX + MESH_TAG_LEN) /* largest frame body */
#define MESH_HAVES_MAX 4096   /* roots remembered per peer link */
#define MESH_ROOTS_MAX 65536  /* roots a node tracks (held or seen) */
#define MESH_MEMBERS_MAX 1024 /* known nodes */
#define MESH_PEERS_MAX 256    /* entries in one PEERS message */

/* Roles announced in HELLO. */
enum { MESH_ROLE_NODE = 0, MESH_ROLE_CLIENT = 1 };

/* Message types (first byte of every encrypted message). */
typedef enum mesh_type {
    MESH_AUTH = 0x01,      /* sig[64] over the transcript */
    MESH_PING = 0x02,      /* nonce u64 */
    MESH_PONG = 0x03,      /* nonce u64 */
    MESH_HAVE = 0x04,      /* id[32] rf u8: I hold all of root id */
    MESH_GET = 0x10,       /* req u32 id[32] off u32 len u32 */
    MESH_CHUNK = 0x11,     /* req u32 id[32] kind u8 off u32 total u32 data */
    MESH_MISSING = 0x12,   /* req u32 id[32] status u8 */
    MESH_REPLICATE = 0x20, /* id[32] rf u8: please hold root id */
    MESH_CHALLENGE = 0x30, /* req u32 id[32] nonce[32] off u32 len u32 */
    MESH_PROOF = 0x31,     /* req u32 status u8 mac[32] */
    MESH_PEERS = 0x40,     /* count u16, count x (id[32] ip[4] port u16
                              tier u8) */
    MESH_CTL_REQ = 0x50,   /* req u32 json */
    MESH_CTL_RESP = 0x51,  /* req u32 json */
} mesh_type;

/* One entry of a PEERS message. */
typedef struct mesh_peer_entry {
    gosr_hash id;  /* node id */
    uint8_t ip[4]; /* IPv4 address, network order */
    uint16_t port; /* TCP port */
    uint8_t tier;  /* gosr_mesh_tier */
} mesh_peer_entry;

/* A decoded message. Only the fields of its type are meaningful; `data`
 * borrows from the decoded buffer. */
typedef struct mesh_msg {
    uint8_t type;        /* mesh_type */
    uint32_t req;        /* request number (GET, CHUNK, MISSING, CHALLENGE,
                            PROOF, CTL_*) */
    gosr_hash id;        /* chunk or root id */
    uint64_t nonce;      /* PING/PONG */
    uint32_t off;        /* byte offset in the object */
    uint32_t len;        /* requested length (GET, CHALLENGE) */
    uint32_t total;      /* object size (CHUNK) */
    uint8_t kind;        /* gosr_obj_kind (CHUNK) */
    uint8_t status;      /* MISSING / PROOF status (0 ok) */
    uint8_t rf;          /* HAVE / REPLICATE */
    uint8_t key[32];     /* CHALLENGE nonce, PROOF mac */
    uint8_t sig[64];     /* AUTH */
    const uint8_t *data; /* CHUNK data, CTL json, PEERS entries */
    size_t data_len;     /* bytes at data */
    uint16_t count;      /* PEERS entries */
} mesh_msg;

/* Decoded HELLO. */
typedef struct mesh_hello {
    uint8_t version;       /* MESH_VERSION */
    uint8_t role;          /* MESH_ROLE_* */
    uint8_t tier;          /* gosr_mesh_tier */
    uint16_t port;         /* sender's TCP listen port (0 for clients) */
    uint8_t eph_pk[32];    /* ephemeral X25519 public key */
    uint8_t static_pk[32]; /* long-term ed25519 public key */
} mesh_hello;

/* Strict decoders: exact lengths, known types, bounded fields. EPROTO with
 * a reason otherwise. */
int mesh__decode(const uint8_t *p, size_t n, mesh_msg *m, gosr_error *err);
int mesh__hello_decode(const uint8_t *p, size_t n, mesh_hello *h,
                       gosr_error *err);
void mesh__hello_encode(const mesh_hello *h, uint8_t out[MESH_HELLO_LEN]);
/* Encoders append the plaintext message to out. */
int mesh__encode(const mesh_msg *m, gosr_buf *out);
/* Decodes PEERS entry i (i < m->count). */
void mesh__peer_entry(const mesh_msg *m, size_t i, mesh_peer_entry *e);
int mesh__peers_encode(const mesh_peer_entry *e, size_t n, gosr_buf *out);
/* Reads the 4-byte length prefix of a frame: GOSR_EAGAIN when fewer than
 * 4 bytes, EPROTO when the length is out of [min, max]. */
int mesh__frame_len(const uint8_t *p, size_t n, uint32_t min, uint32_t max,
                    uint32_t *len, gosr_error *err);

/* ==== link session (session.c) =============================================
 */

/* The crypto state of one link. Plain data, wiped by mesh__sess_wipe. */
typedef struct mesh_sess {
    bool initiator;                     /* we connected */
    uint8_t eph_pk[32];                 /* our ephemeral X25519 public key */
    uint8_t eph_sk[32];                 /* our ephemeral X25519 secret key */
    uint8_t hello_mine[MESH_HELLO_LEN]; /* our HELLO body */
    uint8_t hello_peer[MESH_HELLO_LEN]; /* the peer's HELLO body */
    mesh_hello peer;                    /* decoded peer HELLO */
    uint8_t transcript[32];             /* BLAKE3 over both HELLOs */
    uint8_t tx[32];                     /* key for frames we send */
    uint8_t rx[32];                     /* key for frames we receive */
    uint64_t tx_ctr;   /* nonce counter of the next frame sent */
    uint64_t rx_ctr;   /* nonce counter expected next */
    gosr_hash peer_id; /* BLAKE3(peer static pk) */
} mesh_sess;

/* Generates the ephemeral key and our HELLO. */
int mesh__sess_start(mesh_sess *s, bool initiator, const gosr_keypair *id,
                     uint8_t role, uint8_t tier, uint16_t port);
/* Takes the peer's HELLO body: derives the transcript and session keys. */
int mesh__sess_peer_hello(mesh_sess *s, const uint8_t *p, size_t n,
                          gosr_error *err);
/* Our AUTH signature over the transcript (role-separated). */
void mesh__sess_auth_sign(const mesh_sess *s, const gosr_keypair *id,
                          uint8_t sig[64]);
bool mesh__sess_auth_verify(const mesh_sess *s, const uint8_t sig[64]);
/* Appends a frame [len u32 BE][ciphertext+tag] carrying plaintext msg. */
int mesh__seal(mesh_sess *s, const uint8_t *msg, size_t n, gosr_buf *out);
/* Opens a frame body (ct with tag; hdr = its 4 length bytes) into plain
 * (appended). ECORRUPT (reason frame_auth_failed) on any tamper, replay or
 * reordering. */
int mesh__open(mesh_sess *s, const uint8_t hdr[4], const uint8_t *ct, size_t n,
               gosr_buf *plain, gosr_error *err);
void mesh__sess_wipe(mesh_sess *s);

/* ==== helpers shared by the node files =====================================
 */

/* Proof MAC: keyed BLAKE3 (key = nonce) over id || off || len || bytes. */
void mesh__proof_mac(const uint8_t nonce[32], const gosr_hash *id, uint32_t off,
                     uint32_t len, const uint8_t *bytes, gosr_hash *out);
/* Rendezvous score of node for root: BLAKE3(root || node) as u64. */
uint64_t mesh__rendezvous(const gosr_hash *root, const gosr_hash *node);
/* Parses "A.B.C.D:PORT". */
int mesh__parse_addr(const char *s, uint8_t ip[4], uint16_t *port);

#endif /* GOSR_MESH_INT_H */
