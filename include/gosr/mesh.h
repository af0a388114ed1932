/*
 * gosr/mesh.h — GOSR's peer-to-peer layer: node identity (ed25519), links
 * authenticated and encrypted with an X25519 handshake and
 * ChaCha20-Poly1305 frames, discovery and provider records through OpenDHT,
 * chunk exchange over libuv TCP, replication to a pledged factor with
 * self-healing, storage proofs and a credits ledger.
 *
 * A node is one process (or one thread of `gosr serve`): create it, run it,
 * stop it from a signal or another thread, destroy it. Tools talk to a
 * running node through gosr_mesh_ctl (an authenticated link carrying JSON
 * control requests).
 *
 * Design: docs/mesh.md (handshake and frame byte tables, messages, state
 * machines, replication, proofs, DHT records).
 */
#ifndef GOSR_MESH_H
#define GOSR_MESH_H

#include "gosr/base.h"
#include "gosr/crypto.h"
#include "gosr/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Test-only fault flags (documented in docs/mesh.md, "Fault injection").
 * Never set them on a real node. */
#define GOSR_MESH_FAULT_CORRUPT 0x1u /* flip a byte of every chunk served */
#define GOSR_MESH_FAULT_DROP                                                   \
    0x2u /* silently "lose" the first chunk of                                 \
            every root replicated to this node:                                \
            GET and proofs fail for it, HAVE is                                \
            still announced */

/* Storage tier of a node: hot nodes serve bandwidth, cold nodes capacity. */
typedef enum gosr_mesh_tier {
    GOSR_MESH_TIER_COLD = 0,
    GOSR_MESH_TIER_HOT = 1,
} gosr_mesh_tier;

/* Node configuration; zero fields take the defaults shown. */
typedef struct gosr_mesh_config {
    const char *data_dir;      /* required: DIR/key (identity), DIR/store,
                                  DIR/pledges, DIR/credits.json */
    gosr_store *store;         /* borrowed: use this open store instead of
                                  opening DIR/store (an embedding node
                                  shares its own; docs/mesh.md "Embedded
                                  in gosr serve"). NULL = own store */
    const char *listen;        /* required: "127.0.0.1:PORT" (TCP, IPv4) */
    const char *bootstrap;     /* DHT peers "HOST:PORT,..." (may be NULL) */
    uint16_t dht_port;         /* UDP port of the DHT runner (0 = TCP port) */
    gosr_mesh_tier tier;       /* storage tier (default cold) */
    unsigned rf;               /* default replication factor (0 = 3) */
    unsigned heartbeat_ms;     /* PING interval (0 = 500) */
    unsigned dead_ms;          /* silence before a peer is dead (0 = 10000);
                                  a killed peer is seen at once (EOF) */
    unsigned repair_ms;        /* repair loop interval (0 = 1000) */
    unsigned proof_ms;         /* storage proof round interval (0 = 10000) */
    unsigned piece_timeout_ms; /* a 1 MiB piece must arrive within this,
                                  i.e. the minimum rate (0 = 10000) */
    unsigned ban_after;        /* bad chunks before a peer is banned (0 = 3) */
    unsigned hot_threshold;    /* root requests per minute that make it hot
                                  (RF + 1, hot tier first) (0 = 16) */
    unsigned announce_ms;      /* DHT re-announce interval (0 = 20000) */
    unsigned faults;           /* GOSR_MESH_FAULT_* (tests only) */
} gosr_mesh_config;

/* A running mesh node (opaque). */
typedef struct gosr_mesh_node gosr_mesh_node;

/* Creates a node: loads or creates the identity in DIR/key, opens the
 * store in DIR/store, binds the TCP listener and starts the DHT runner.
 * Caller destroys *out with gosr_mesh_node_destroy. Reasons: bad_listen,
 * listen_failed, dht_failed, store_locked ... */
GOSR_API int gosr_mesh_node_create(const gosr_mesh_config *cfg,
                                   gosr_mesh_node **out, gosr_error *err);
/* Runs the node's event loop until gosr_mesh_node_stop. */
GOSR_API int gosr_mesh_node_run(gosr_mesh_node *node);
/* Asks the loop to stop; safe from any thread or a signal handler's
 * thread (uses uv_async). */
GOSR_API void gosr_mesh_node_stop(gosr_mesh_node *node);
/* Saves the credits ledger, shuts the DHT down and frees the node.
 * Accepts NULL. */
GOSR_API void gosr_mesh_node_destroy(gosr_mesh_node *node);
/* The node id: BLAKE3 of the node's ed25519 public key. */
GOSR_API void gosr_mesh_node_id(const gosr_mesh_node *node, gosr_hash *out);
/* The node's listen address "IP:PORT" (also its control address).
 * Borrowed until destroy. */
GOSR_API const char *gosr_mesh_node_addr(const gosr_mesh_node *node);

/* Sends one JSON control request to the node at `addr` ("HOST:PORT") over
 * an authenticated link (an ephemeral client identity) and waits up to
 * timeout_ms (0 = 30000) for the answer. *resp is a NUL-terminated JSON
 * text the caller frees with gosr_free. Requests are listed in
 * docs/mesh.md ("Control requests"). Reasons: connect_failed,
 * handshake_failed, ctl_timeout ... */
GOSR_API int gosr_mesh_ctl(const char *addr, const char *req,
                           unsigned timeout_ms, char **resp, gosr_error *err);

/* DHT key (the 20-byte InfoHash) under which providers of `root` are
 * announced: the first 20 bytes of BLAKE3 derive_key("gosr mesh v1
 * provider", root). Third-party DHT clients look them up with this. */
GOSR_API void gosr_mesh_provider_key(const gosr_hash *root, uint8_t out[20]);
/* DHT key of the membership records (well-known). */
GOSR_API void gosr_mesh_members_key(uint8_t out[20]);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_MESH_H */
