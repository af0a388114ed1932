/*
 * node.h — the mesh node's private structures, shared by node.c (loop,
 * links, handshake, dispatch), xfer.c (serving and fetch jobs), repl.c
 * (membership, repair, proofs, credits), ctl.c (control requests) and dht.c
 * (OpenDHT adapter). Everything here is owned by the node's loop thread
 * unless a field says otherwise. Design: docs/mesh.md.
 */
#ifndef GOSR_MESH_NODE_H
#define GOSR_MESH_NODE_H

#include "mesh_int.h"

#include <jansson.h>
#include <uv.h>

/* ==== OpenDHT adapter (dht.c) ==============================================
 */

typedef struct mesh_dht mesh_dht;

/* One result marshalled from the DHT's threads to the loop. */
typedef struct mesh_dht_event {
    uint64_t op; /* operation id given to get/listen (0 = membership) */
    bool done;   /* the operation finished (text is NULL) */
    bool ok;     /* with done: whether it succeeded */
    char *text;  /* a value's bytes as a NUL-terminated string (owned) */
} mesh_dht_event;

/* Starts a threaded runner on UDP `port` and bootstraps to each
 * "HOST:PORT" of the comma-separated list. `notify(ud)` is called from DHT
 * threads whenever an event is queued. */
int mesh__dht_start(uint16_t port, const char *bootstrap,
                    void (*notify)(void *), void *ud, mesh_dht **out,
                    gosr_error *err);
/* Announces a text value under key (kept alive by the runner). */
void mesh__dht_put(mesh_dht *d, const uint8_t key[20], const char *text);
/* Starts a get; values and a final done event arrive with `op`. */
void mesh__dht_get(mesh_dht *d, const uint8_t key[20], uint64_t op);
/* Listens on key for the runner's lifetime; values arrive with `op`. */
void mesh__dht_listen(mesh_dht *d, const uint8_t key[20], uint64_t op);
/* Pops the next event; false when the queue is empty. */
bool mesh__dht_poll(mesh_dht *d, mesh_dht_event *ev);
/* Stops calling notify (before the loop's async handle closes). */
void mesh__dht_mute(mesh_dht *d);
/* Stops the runner and frees everything. Accepts NULL. */
void mesh__dht_stop(mesh_dht *d);

/* ==== node structures =======================================================
 */

/* Reputation and credits of one remote node, kept across reconnects. */
typedef struct mesh_rep {
    gosr_hash id;            /* remote node id */
    int64_t score;           /* starts 0; penalties subtract */
    uint32_t bad_chunks;     /* chunks that failed hash verification */
    uint32_t slow;           /* pieces that missed the minimum rate */
    uint32_t proofs_ok;      /* storage proofs passed (retention credit) */
    uint32_t proofs_failed;  /* storage proofs failed or unanswered */
    uint64_t bytes_served;   /* bytes we served to it */
    uint64_t bytes_received; /* verified bytes it served to us (retrieval
                                credit) */
    bool banned;             /* bad_chunks reached ban_after: never used */
} mesh_rep;

/* A known node (from the DHT membership key, PEERS or an inbound link). */
typedef struct mesh_member {
    gosr_hash id;             /* node id */
    uint8_t ip[4];            /* IPv4 of its listener */
    uint16_t port;            /* TCP port of its listener */
    uint8_t tier;             /* gosr_mesh_tier */
    uint64_t known_ns;        /* when we learned of it */
    uint64_t next_connect_ns; /* earliest next dial */
    unsigned fails;           /* consecutive failed dials */
    uint64_t link;            /* serial of its UP link, 0 = none */
    bool dialing;             /* a dial is in progress */
} mesh_member;

/* What a peer told us it holds. */
typedef struct mesh_have {
    gosr_hash root;    /* root id from HAVE */
    bool proof_failed; /* its last proof for this root timed out (a
                          pass clears it; hard failures are kept in the
                          node's distrust list instead) */
} mesh_have;

enum { LINK_HELLO = 0, LINK_AUTH = 1, LINK_UP = 2, LINK_CLOSING = 3 };

/* One TCP link. Freed in the uv_close callback. */
typedef struct mesh_link {
    uv_tcp_t tcp;           /* the socket (data = this link) */
    gosr_mesh_node *node;   /* owner */
    uint64_t serial;        /* unique id, used for weak references */
    int state;              /* LINK_* */
    bool outbound;          /* we dialled */
    bool is_client;         /* a control client, not a node */
    mesh_sess sess;         /* crypto */
    gosr_buf rx;            /* undecoded inbound bytes */
    size_t rx_off;          /* consumed prefix of rx */
    uint64_t created_ns;    /* for the handshake timeout */
    uint64_t last_rx_ns;    /* last frame received (liveness) */
    uint64_t last_ping_ns;  /* last PING sent */
    uint8_t ip[4];          /* peer IPv4 */
    uint16_t port;          /* peer's listen port from HELLO */
    uint8_t tier;           /* peer's tier from HELLO */
    gosr_hash peer_id;      /* valid from LINK_AUTH */
    mesh_have *haves;       /* roots the peer holds */
    size_t nhave, caphave;  /* count and capacity of haves */
    unsigned inflight;      /* our GETs outstanding on this link */
    gosr_hash dialed;       /* outbound: the member we dialled */
    struct mesh_link *next; /* node's list */
} mesh_link;

/* A root this node holds or tracks. */
typedef struct mesh_root {
    gosr_hash id;           /* root (file or tree object) id */
    uint8_t rf;             /* pledged replication factor */
    uint8_t kind;           /* gosr_obj_kind of the root object */
    bool held;              /* complete and pinned here */
    gosr_chunk_ref *chunks; /* every chunk of the root (for proofs) */
    size_t nchunks;         /* entries in chunks */
    uint64_t bytes;         /* sum of chunk lengths */
    uint32_t requests;      /* root GETs served in the current window */
    uint64_t window_ns;     /* start of the request window */
    bool hot;               /* requests crossed hot_threshold last window */
    uint32_t proof_round;   /* proof rounds run: picks holder and chunk */
    bool dropped_set;       /* fault DROP: `dropped` is "lost" */
    gosr_hash dropped;      /* fault DROP: the chunk pretended lost */
} mesh_root;

/* One object a fetch job needs. */
typedef struct mesh_item {
    gosr_hash id;     /* object id */
    int state;        /* 0 want, 1 inflight, 2 done */
    gosr_buf data;    /* bytes received so far (resume point = len) */
    uint32_t total;   /* object size once known */
    bool total_known; /* a CHUNK told us total */
    uint8_t kind;     /* object kind from CHUNK */
    uint64_t from;    /* serial of the link serving it */
    uint32_t req;     /* request number of the GET in flight */
    uint64_t sent_ns; /* when that GET was sent */
    gosr_hash src;    /* peer that sent the first held byte */
    bool mixed;       /* held bytes came from more than one peer (a
                         resume): a hash mismatch then blames nobody */
    gosr_hash avoid;  /* a peer that failed this item */
    bool has_avoid;   /* avoid is set */
} mesh_item;

/* A control client waiting for a job or DHT lookup. */
typedef struct mesh_waiter {
    uint64_t link;        /* serial of the client's link */
    uint32_t req;         /* its request number */
    char *out;            /* fetch: path to materialise, or NULL (owned) */
    uint64_t deadline_ns; /* give up (unavailable) at this time */
} mesh_waiter;

/* Fetch of a whole root: root object, then file nodes, then chunks. */
typedef struct mesh_job {
    gosr_hash root;        /* what is fetched */
    uint8_t rf;            /* pledge to record when complete */
    mesh_item *items;      /* wanted objects */
    size_t n, cap;         /* items used and allocated */
    size_t pending;        /* items not done */
    mesh_waiter *waiters;  /* clients to answer */
    size_t nwait;          /* waiters used */
    uint64_t start_ns;     /* job start */
    uint64_t deadline_ns;  /* fail when no provider by then */
    uint64_t bytes;        /* bytes received */
    bool dht_asked;        /* a provider lookup was started */
    bool no_hold;          /* every waiter asked "hold": false: objects are
                              stored, the root is not pledged */
    struct mesh_job *next; /* node's list */
} mesh_job;

/* A peer caught without data it announced (failed proof with missing
 * data or a bad MAC, or MISSING for part of the root): not counted or
 * used as a holder of that root until `until_ns`, whatever it announces. */
typedef struct mesh_distrust {
    gosr_hash peer;    /* node id */
    gosr_hash root;    /* root it failed */
    uint64_t until_ns; /* expiry (10 minutes after the failure) */
} mesh_distrust;

/* A storage proof we are waiting for. */
typedef struct mesh_pending_proof {
    uint32_t req;     /* request number */
    uint64_t link;    /* link serial */
    gosr_hash peer;   /* challenged node */
    gosr_hash root;   /* root the chunk belongs to */
    gosr_hash expect; /* MAC we computed */
    uint64_t sent_ns; /* for the timeout */
} mesh_pending_proof;

/* A DHT provider lookup for a control client. */
typedef struct mesh_lookup {
    uint64_t op;              /* DHT op id */
    uint64_t link;            /* client link serial (0 = internal for a job) */
    uint32_t req;             /* client request number */
    gosr_hash root;           /* looked-up root */
    uint64_t start_ns;        /* for the latency figure */
    json_t *found;            /* array of provider records (owned) */
    struct mesh_lookup *next; /* node's list */
} mesh_lookup;

struct gosr_mesh_node {
    gosr_mesh_config cfg;  /* copy, defaults filled */
    char *data_dir;        /* owned copy of cfg.data_dir */
    char *listen_str;      /* owned "ip:port" */
    uint8_t ip[4];         /* listen IPv4 */
    uint16_t port;         /* listen port */
    gosr_keypair key;      /* identity */
    gosr_hash id;          /* BLAKE3(key.pk) */
    gosr_store *store;     /* DIR/store, or the embedder's (cfg.store) */
    bool own_store;        /* store opened here (closed at destroy) */
    uv_loop_t loop;        /* the event loop */
    uv_tcp_t listener;     /* TCP listener */
    uv_timer_t tick;       /* 100 ms housekeeping */
    uv_async_t stop_async; /* stop request from any thread */
    uv_async_t dht_async;  /* DHT events ready */
    mesh_dht *dht;         /* OpenDHT runner */
    bool stopping;         /* shutting down */
    mesh_link *links;      /* all links */
    uint64_t next_serial;  /* link serials */
    uint32_t next_req;     /* request numbers */
    uint64_t next_op;      /* DHT op ids */
    mesh_member *members;  /* known nodes */
    size_t nmembers, capmembers;
    mesh_rep *reps; /* reputation/credits per node */
    size_t nreps, capreps;
    mesh_root *roots; /* held roots */
    size_t nroots, caproots;
    mesh_job *jobs;             /* fetch jobs */
    mesh_pending_proof *proofs; /* outstanding challenges */
    size_t nproofs, capproofs;
    mesh_lookup *lookups;        /* DHT provider lookups */
    mesh_distrust distrust[256]; /* ring of hard proof failures */
    size_t ndistrust;            /* entries ever added (ring index) */
    uint64_t last_repair_ns, last_proof_ns, last_save_ns; /* loop clocks */
    uint64_t last_tick_ns; /* previous tick (stall detection) */
    gosr_hash cache_id;    /* serving cache: last object read */
    uint8_t cache_kind;    /* its kind */
    gosr_buf cache;        /* its bytes */
    bool cache_valid;      /* cache holds cache_id */
};

/* ---- node.c ---- */
mesh_link *mesh__link_by_serial(gosr_mesh_node *n, uint64_t serial);
/* Encrypts and queues a message on an UP (or AUTH) link. */
int mesh__send(mesh_link *l, const mesh_msg *m);
int mesh__send_raw(mesh_link *l, const uint8_t *msg, size_t n);
void mesh__link_close(mesh_link *l, const char *why);
bool mesh__link_has(const mesh_link *l, const gosr_hash *root);
mesh_rep *mesh__rep(gosr_mesh_node *n, const gosr_hash *id);
mesh_member *mesh__member_add(gosr_mesh_node *n, const gosr_hash *id,
                              const uint8_t ip[4], uint16_t port, uint8_t tier);
uint32_t mesh__req(gosr_mesh_node *n);

/* ---- xfer.c ---- */
void mesh__serve_get(mesh_link *l, const mesh_msg *m);
void mesh__on_chunk(mesh_link *l, const mesh_msg *m);
void mesh__on_missing(mesh_link *l, const mesh_msg *m);
mesh_job *mesh__job_start(gosr_mesh_node *n, const gosr_hash *root, uint8_t rf);
void mesh__jobs_tick(gosr_mesh_node *n);
void mesh__jobs_link_gone(gosr_mesh_node *n, uint64_t serial);
void mesh__job_free(mesh_job *j);

/* ---- repl.c ---- */
mesh_root *mesh__root(gosr_mesh_node *n, const gosr_hash *id);
int mesh__root_hold(gosr_mesh_node *n, const gosr_hash *id, uint8_t rf,
                    gosr_error *err);
int mesh__pledges_load(gosr_mesh_node *n, gosr_error *err);
void mesh__announce_root(gosr_mesh_node *n, const mesh_root *r);
void mesh__announce_member(gosr_mesh_node *n);
void mesh__repair_tick(gosr_mesh_node *n);
void mesh__proof_tick(gosr_mesh_node *n);
void mesh__on_challenge(mesh_link *l, const mesh_msg *m);
void mesh__on_proof(mesh_link *l, const mesh_msg *m);
void mesh__on_replicate(mesh_link *l, const mesh_msg *m);
void mesh__distrust(gosr_mesh_node *n, const gosr_hash *peer,
                    const gosr_hash *root);
bool mesh__distrusted(gosr_mesh_node *n, const gosr_hash *peer,
                      const gosr_hash *root);
unsigned mesh__holders(gosr_mesh_node *n, const gosr_hash *root, gosr_hash *out,
                       unsigned max);
void mesh__credits_save(gosr_mesh_node *n);
void mesh__credits_load(gosr_mesh_node *n);
void mesh__dht_events(gosr_mesh_node *n);
json_t *mesh__rep_json(const mesh_rep *r);

/* ---- ctl.c ---- */
void mesh__on_ctl(mesh_link *l, const mesh_msg *m);
void mesh__ctl_reply(gosr_mesh_node *n, uint64_t link, uint32_t req,
                     json_t *resp);
void mesh__ctl_reply_error(gosr_mesh_node *n, uint64_t link, uint32_t req,
                           const char *reason, const char *detail);
void mesh__job_finished(gosr_mesh_node *n, mesh_job *j, int status,
                        const char *reason, const char *detail);

#endif /* GOSR_MESH_NODE_H */
