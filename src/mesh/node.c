/*
 * node.c — the mesh node: lifecycle (create, run, stop, destroy), the libuv
 * TCP listener and dialler, the link state machine (HELLO -> AUTH -> UP ->
 * CLOSING), frame reassembly and message dispatch, heartbeats and the
 * 100 ms housekeeping tick. Design: docs/mesh.md ("Link state machine").
 *
 * Sections: identity and create; links (alloc, close, write); reading and
 * the handshake; dispatch; dialling and tick; run/stop/destroy.
 */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define HS_TIMEOUT_NS 5000000000ull
#define READ_CHUNK 65536

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* ---- small lookups
 * ------------------------------------------------------------- */

uint32_t mesh__req(gosr_mesh_node *n)
{
    if (++n->next_req == 0)
        n->next_req = 1;
    return n->next_req;
}

mesh_link *mesh__link_by_serial(gosr_mesh_node *n, uint64_t serial)
{
    for (mesh_link *l = n->links; l && serial; l = l->next)
        if (l->serial == serial && l->state != LINK_CLOSING)
            return l;
    return NULL;
}

bool mesh__link_has(const mesh_link *l, const gosr_hash *root)
{
    for (size_t i = 0; i < l->nhave; i++)
        if (gosr_hash_equal(&l->haves[i].root, root))
            return true;
    return false;
}

mesh_rep *mesh__rep(gosr_mesh_node *n, const gosr_hash *id)
{
    for (size_t i = 0; i < n->nreps; i++)
        if (gosr_hash_equal(&n->reps[i].id, id))
            return &n->reps[i];
    if (n->nreps == n->capreps) {
        size_t cap = n->capreps ? n->capreps * 2 : 16;
        mesh_rep *p = gosr_realloc(n->reps, cap * sizeof *p);
        if (!p)
            return NULL;
        n->reps = p;
        n->capreps = cap;
    }
    mesh_rep *r = &n->reps[n->nreps++];
    memset(r, 0, sizeof *r);
    r->id = *id;
    return r;
}

mesh_member *mesh__member_add(gosr_mesh_node *n, const gosr_hash *id,
                              const uint8_t ip[4], uint16_t port, uint8_t tier)
{
    if (gosr_hash_equal(id, &n->id) || port == 0)
        return NULL;
    for (size_t i = 0; i < n->nmembers; i++) {
        mesh_member *m = &n->members[i];
        if (gosr_hash_equal(&m->id, id)) {
            if (m->port != port || memcmp(m->ip, ip, 4) != 0)
                m->fails = 0; /* restarted elsewhere: dial again soon */
            memcpy(m->ip, ip, 4);
            m->port = port;
            m->tier = tier;
            return m;
        }
    }
    if (n->nmembers >= MESH_MEMBERS_MAX)
        return NULL; /* bounded: records and PEERS are unauthenticated */
    if (n->nmembers == n->capmembers) {
        size_t cap = n->capmembers ? n->capmembers * 2 : 16;
        mesh_member *p = gosr_realloc(n->members, cap * sizeof *p);
        if (!p)
            return NULL;
        n->members = p;
        n->capmembers = cap;
    }
    mesh_member *m = &n->members[n->nmembers++];
    memset(m, 0, sizeof *m);
    m->id = *id;
    memcpy(m->ip, ip, 4);
    m->port = port;
    m->tier = tier;
    m->known_ns = gosr_time_mono_ns();
    gosr_log(GOSR_LOG_INFO, "mesh", "member %02x%02x.. at %u.%u.%u.%u:%u",
             id->b[0], id->b[1], ip[0], ip[1], ip[2], ip[3], port);
    return m;
}

static mesh_member *member_by_id(gosr_mesh_node *n, const gosr_hash *id)
{
    for (size_t i = 0; i < n->nmembers; i++)
        if (gosr_hash_equal(&n->members[i].id, id))
            return &n->members[i];
    return NULL;
}

/* ---- links: alloc, close, write
 * ------------------------------------------------- */

static mesh_link *link_new(gosr_mesh_node *n, bool outbound)
{
    mesh_link *l = gosr_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->node = n;
    l->serial = ++n->next_serial;
    l->outbound = outbound;
    l->created_ns = l->last_rx_ns = gosr_time_mono_ns();
    uv_tcp_init(&n->loop, &l->tcp);
    l->tcp.data = l;
    l->next = n->links;
    n->links = l;
    return l;
}

static void on_link_closed(uv_handle_t *h)
{
    mesh_link *l = h->data;
    gosr_mesh_node *n = l->node;
    for (mesh_link **pp = &n->links; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    gosr_buf_free(&l->rx);
    gosr_free(l->haves);
    mesh__sess_wipe(&l->sess);
    gosr_free(l);
}

void mesh__link_close(mesh_link *l, const char *why)
{
    if (l->state == LINK_CLOSING)
        return;
    gosr_mesh_node *n = l->node;
    if (l->state == LINK_UP && !l->is_client)
        gosr_log(GOSR_LOG_INFO, "mesh", "link to %02x%02x.. closed: %s",
                 l->peer_id.b[0], l->peer_id.b[1], why);
    l->state = LINK_CLOSING;
    for (size_t i = 0; i < n->nmembers; i++)
        if (n->members[i].link == l->serial)
            n->members[i].link = 0;
    mesh__jobs_link_gone(n, l->serial);
    uv_close((uv_handle_t *)&l->tcp, on_link_closed);
}

typedef struct write_req {
    uv_write_t req; /* libuv request (data = this) */
    gosr_buf buf;   /* bytes being written (owned) */
} write_req;

static void on_written(uv_write_t *req, int status)
{
    write_req *w = req->data;
    gosr_buf_free(&w->buf);
    gosr_free(w);
    (void)status; /* a failed write also fails the read side: closed there */
}

/* Queues the bytes of buf (taken: buf is zeroed) on the link. */
static int link_write(mesh_link *l, gosr_buf *buf)
{
    write_req *w = gosr_calloc(1, sizeof *w);
    if (!w) {
        gosr_buf_free(buf);
        return GOSR_ENOMEM;
    }
    w->buf = *buf;
    memset(buf, 0, sizeof *buf);
    w->req.data = w;
    uv_buf_t b = uv_buf_init((char *)w->buf.data, (unsigned)w->buf.len);
    int rc = uv_write(&w->req, (uv_stream_t *)&l->tcp, &b, 1, on_written);
    if (rc != 0) {
        gosr_buf_free(&w->buf);
        gosr_free(w);
        mesh__link_close(l, "write failed");
        return GOSR_ECLOSED;
    }
    return GOSR_OK;
}

int mesh__send_raw(mesh_link *l, const uint8_t *msg, size_t n)
{
    if (l->state != LINK_UP && l->state != LINK_AUTH)
        return GOSR_ECLOSED;
    gosr_buf out = {0};
    int rc = mesh__seal(&l->sess, msg, n, &out);
    if (rc != GOSR_OK) {
        gosr_buf_free(&out);
        return rc;
    }
    return link_write(l, &out);
}

int mesh__send(mesh_link *l, const mesh_msg *m)
{
    gosr_buf msg = {0};
    int rc = mesh__encode(m, &msg);
    if (rc == GOSR_OK)
        rc = mesh__send_raw(l, msg.data, msg.len);
    gosr_buf_free(&msg);
    return rc;
}

static void send_hello(mesh_link *l)
{
    gosr_mesh_node *n = l->node;
    mesh__sess_start(&l->sess, l->outbound, &n->key, MESH_ROLE_NODE,
                     (uint8_t)n->cfg.tier, n->port);
    gosr_buf out = {0};
    uint8_t hdr[4] = {0, 0, 0, MESH_HELLO_LEN};
    if (gosr_buf_append(&out, hdr, 4) != GOSR_OK ||
        gosr_buf_append(&out, l->sess.hello_mine, MESH_HELLO_LEN) != GOSR_OK) {
        gosr_buf_free(&out);
        mesh__link_close(l, "out of memory");
        return;
    }
    link_write(l, &out);
}

/* ---- handshake and reading
 * ---------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    mesh_link *l = h->data;
    (void)hint;
    if (l->rx_off > 0 && l->rx_off == l->rx.len)
        l->rx.len = l->rx_off = 0;
    if (gosr_buf_reserve(&l->rx, READ_CHUNK + 1) != GOSR_OK) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)l->rx.data + l->rx.len,
                       (unsigned)(l->rx.cap - l->rx.len - 1));
}

static int on_hello(mesh_link *l, const uint8_t *p, size_t n)
{
    gosr_error err;
    if (mesh__sess_peer_hello(&l->sess, p, n, &err) != GOSR_OK) {
        gosr_log(GOSR_LOG_WARN, "mesh", "bad HELLO: %s", err.detail);
        return GOSR_EPROTO;
    }
    l->peer_id = l->sess.peer_id;
    l->is_client = l->sess.peer.role == MESH_ROLE_CLIENT;
    l->port = l->sess.peer.port;
    l->tier = l->sess.peer.tier;
    if (gosr_hash_equal(&l->peer_id, &l->node->id))
        return GOSR_EPROTO; /* dialled ourselves */
    l->state = LINK_AUTH;
    mesh_msg m = {.type = MESH_AUTH};
    mesh__sess_auth_sign(&l->sess, &l->node->key, m.sig);
    return mesh__send(l, &m);
}

/* Initiator's node id of a link (lower initiator wins a duplicate). */
static const gosr_hash *initiator_of(const mesh_link *l)
{
    return l->outbound ? &l->node->id : &l->peer_id;
}

/* Keeps one UP link per peer node: the one dialled by the lower id. */
static bool link_dedup(mesh_link *l)
{
    gosr_mesh_node *n = l->node;
    for (mesh_link *o = n->links; o; o = o->next) {
        if (o == l || o->state != LINK_UP || o->is_client ||
            !gosr_hash_equal(&o->peer_id, &l->peer_id))
            continue;
        int c = memcmp(initiator_of(l)->b, initiator_of(o)->b, 32);
        if (c == 0) /* same dialler twice: both ends see the transcripts */
            c = memcmp(l->sess.transcript, o->sess.transcript, 32);
        if (c < 0) {
            mesh__link_close(o, "duplicate link");
            continue;
        }
        mesh__link_close(l, "duplicate link");
        return false;
    }
    return true;
}

/* Tells a new peer about every member we have a live link to (gossip
 * that complements DHT discovery). */
static void send_peers(mesh_link *l)
{
    gosr_mesh_node *n = l->node;
    mesh_peer_entry *e = gosr_calloc(n->nmembers + 1, sizeof *e);
    size_t k = 0;
    for (size_t i = 0; e && i < n->nmembers && k < MESH_PEERS_MAX; i++) {
        mesh_member *m = &n->members[i];
        if (!m->link || m->link == l->serial)
            continue;
        e[k++] =
            (mesh_peer_entry){.id = m->id, .port = m->port, .tier = m->tier};
        memcpy(e[k - 1].ip, m->ip, 4);
    }
    gosr_buf msg = {0};
    if (e && k > 0 && mesh__peers_encode(e, k, &msg) == GOSR_OK)
        mesh__send_raw(l, msg.data, msg.len);
    gosr_buf_free(&msg);
    gosr_free(e);
}

static void link_up(mesh_link *l)
{
    gosr_mesh_node *n = l->node;
    l->state = LINK_UP;
    if (l->is_client)
        return;
    mesh_rep *rep = mesh__rep(n, &l->peer_id);
    if (rep && rep->banned) {
        mesh__link_close(l, "banned peer");
        return;
    }
    if (!link_dedup(l))
        return;
    mesh_member *m = mesh__member_add(n, &l->peer_id, l->ip, l->port, l->tier);
    if (m) {
        m->link = l->serial;
        m->fails = 0;
    }
    mesh__rep(n, &l->peer_id);
    send_peers(l);
    for (size_t i = 0; i < n->nroots; i++) {
        if (!n->roots[i].held)
            continue;
        mesh_msg h = {
            .type = MESH_HAVE, .id = n->roots[i].id, .rf = n->roots[i].rf};
        mesh__send(l, &h);
    }
}

static void on_have(mesh_link *l, const mesh_msg *m)
{
    for (size_t i = 0; i < l->nhave; i++)
        if (gosr_hash_equal(&l->haves[i].root, &m->id)) {
            l->haves[i].proof_failed = false; /* re-announced */
            return;
        }
    if (l->nhave >= MESH_HAVES_MAX)
        return; /* a peer cannot grow our memory without bound */
    if (l->nhave == l->caphave) {
        size_t cap = l->caphave ? l->caphave * 2 : 8;
        mesh_have *p = gosr_realloc(l->haves, cap * sizeof *p);
        if (!p)
            return;
        l->haves = p;
        l->caphave = cap;
    }
    l->haves[l->nhave++] = (mesh_have){.root = m->id};
    /* Track the root so replica counts know its RF. */
    mesh_root *r =
        l->node->nroots < MESH_ROOTS_MAX ? mesh__root(l->node, &m->id) : NULL;
    if (r && !r->held && r->rf == 0)
        r->rf = m->rf;
}

static int dispatch(mesh_link *l, const mesh_msg *m)
{
    if (l->is_client && m->type != MESH_CTL_REQ && m->type != MESH_PING)
        return GOSR_EPROTO;
    switch (m->type) {
    case MESH_PING: {
        mesh_msg p = {.type = MESH_PONG, .nonce = m->nonce};
        return mesh__send(l, &p);
    }
    case MESH_PONG:
        return GOSR_OK;
    case MESH_HAVE:
        on_have(l, m);
        return GOSR_OK;
    case MESH_GET:
        mesh__serve_get(l, m);
        return GOSR_OK;
    case MESH_CHUNK:
        mesh__on_chunk(l, m);
        return GOSR_OK;
    case MESH_MISSING:
        mesh__on_missing(l, m);
        return GOSR_OK;
    case MESH_REPLICATE:
        mesh__on_replicate(l, m);
        return GOSR_OK;
    case MESH_CHALLENGE:
        mesh__on_challenge(l, m);
        return GOSR_OK;
    case MESH_PROOF:
        mesh__on_proof(l, m);
        return GOSR_OK;
    case MESH_PEERS:
        for (size_t i = 0; i < m->count; i++) {
            mesh_peer_entry e;
            mesh__peer_entry(m, i, &e);
            mesh__member_add(l->node, &e.id, e.ip, e.port, e.tier);
        }
        return GOSR_OK;
    case MESH_CTL_REQ:
        mesh__on_ctl(l, m);
        return GOSR_OK;
    default:
        return GOSR_EPROTO; /* AUTH twice, CTL_RESP to a node */
    }
}

/* Handles one encrypted frame body. */
static int on_frame(mesh_link *l, const uint8_t *hdr, const uint8_t *ct,
                    size_t n)
{
    gosr_error err;
    gosr_buf plain = {0};
    mesh_msg m;
    int rc = mesh__open(&l->sess, hdr, ct, n, &plain, &err);
    if (rc == GOSR_OK)
        rc = mesh__decode(plain.data, plain.len, &m, &err);
    if (rc == GOSR_OK && l->state == LINK_AUTH) {
        if (m.type != MESH_AUTH || !mesh__sess_auth_verify(&l->sess, m.sig))
            rc = gosr_error_set(&err, GOSR_EPROTO, "auth_failed",
                                "peer AUTH signature invalid");
        else
            link_up(l);
    } else if (rc == GOSR_OK) {
        rc = dispatch(l, &m);
        if (rc != GOSR_OK)
            gosr_error_set(&err, rc, "unexpected_message",
                           "message 0x%02x not allowed here", m.type);
    }
    if (rc != GOSR_OK)
        gosr_log(GOSR_LOG_WARN, "mesh", "link %02x%02x..: %s: %s",
                 l->peer_id.b[0], l->peer_id.b[1], err.reason, err.detail);
    gosr_buf_free(&plain);
    return rc;
}

/* Consumes every complete frame in l->rx. */
static int drain(mesh_link *l)
{
    while (l->state != LINK_CLOSING) {
        const uint8_t *p = l->rx.data + l->rx_off;
        size_t avail = l->rx.len - l->rx_off;
        uint32_t len = 0;
        bool hello = l->state == LINK_HELLO;
        int rc = mesh__frame_len(p, avail, hello ? MESH_HELLO_LEN : 17,
                                 hello ? MESH_HELLO_LEN : MESH_FRAME_MAX, &len,
                                 NULL);
        if (rc == GOSR_EAGAIN || (rc == GOSR_OK && avail < 4 + (size_t)len))
            break;
        if (rc != GOSR_OK)
            return rc;
        l->rx_off += 4 + (size_t)len;
        l->last_rx_ns = gosr_time_mono_ns();
        rc = hello ? on_hello(l, p + 4, len) : on_frame(l, p, p + 4, len);
        if (rc != GOSR_OK)
            return rc;
    }
    if (l->rx_off > 0 && l->rx_off < l->rx.len) {
        memmove(l->rx.data, l->rx.data + l->rx_off, l->rx.len - l->rx_off);
        l->rx.len -= l->rx_off;
        l->rx_off = 0;
    }
    return GOSR_OK;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    mesh_link *l = s->data;
    (void)buf;
    if (nread < 0) {
        mesh__link_close(l, nread == UV_EOF ? "peer closed" : "read error");
        return;
    }
    if (l->state == LINK_CLOSING)
        return;
    l->rx.len += (size_t)nread;
    if (drain(l) != GOSR_OK)
        mesh__link_close(l, "protocol error");
}

static void start_link(mesh_link *l)
{
    struct sockaddr_in sa;
    int len = sizeof sa;
    if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&sa, &len) == 0)
        memcpy(l->ip, &sa.sin_addr, 4);
    uv_tcp_nodelay(&l->tcp, 1);
    uv_read_start((uv_stream_t *)&l->tcp, on_alloc, on_read);
    send_hello(l);
}

static void on_connection(uv_stream_t *srv, int status)
{
    gosr_mesh_node *n = srv->data;
    if (status < 0 || n->stopping)
        return;
    mesh_link *l = link_new(n, false);
    if (!l)
        return;
    if (uv_accept(srv, (uv_stream_t *)&l->tcp) != 0) {
        mesh__link_close(l, "accept failed");
        return;
    }
    start_link(l);
}

/* ---- dialling and the tick
 * ------------------------------------------------------ */

typedef struct dial_req {
    uv_connect_t req; /* libuv request (data = this) */
    mesh_link *link;  /* the link being dialled */
    gosr_hash member; /* member id */
} dial_req;

static void on_connect(uv_connect_t *req, int status)
{
    dial_req *d = req->data;
    mesh_link *l = d->link;
    gosr_mesh_node *n = l->node;
    mesh_member *m = member_by_id(n, &d->member);
    if (m)
        m->dialing = false;
    gosr_free(d);
    if (l->state == LINK_CLOSING)
        return;
    if (status < 0) {
        if (m) {
            m->fails++;
            unsigned back = m->fails > 10 ? 5000 : 500 * m->fails;
            m->next_connect_ns = gosr_time_mono_ns() + back * 1000000ull;
        }
        mesh__link_close(l, "connect failed");
        return;
    }
    start_link(l);
}

static void dial(gosr_mesh_node *n, mesh_member *m)
{
    dial_req *d = gosr_calloc(1, sizeof *d);
    mesh_link *l = d ? link_new(n, true) : NULL;
    if (!l) {
        gosr_free(d);
        return;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(m->port)};
    memcpy(&sa.sin_addr, m->ip, 4);
    d->link = l;
    d->member = m->id;
    l->dialed = m->id;
    d->req.data = d;
    m->dialing = true;
    m->next_connect_ns = gosr_time_mono_ns() + 1000000000ull;
    if (uv_tcp_connect(&d->req, &l->tcp, (struct sockaddr *)&sa, on_connect)) {
        m->dialing = false;
        gosr_free(d);
        mesh__link_close(l, "connect failed");
    }
}

/* True while an outbound link to member id is still in its handshake. */
static bool dial_pending(gosr_mesh_node *n, const gosr_hash *id)
{
    for (mesh_link *l = n->links; l; l = l->next)
        if (l->outbound && l->state != LINK_CLOSING && l->state != LINK_UP &&
            gosr_hash_equal(&l->dialed, id))
            return true;
    return false;
}

static void dial_members(gosr_mesh_node *n, uint64_t now)
{
    for (size_t i = 0; i < n->nmembers; i++) {
        mesh_member *m = &n->members[i];
        if (m->link || m->dialing || now < m->next_connect_ns ||
            dial_pending(n, &m->id))
            continue;
        mesh_rep *r = mesh__rep(n, &m->id);
        if (r && r->banned)
            continue;
        /* The lower id dials; the higher one dials too after 3 s of
         * waiting, in case the lower has not discovered it yet. */
        bool lower = memcmp(n->id.b, m->id.b, 32) < 0;
        if (lower || now - m->known_ns > 3000000000ull)
            dial(n, m);
    }
}

static void links_tick(gosr_mesh_node *n, uint64_t now)
{
    uint64_t hb = n->cfg.heartbeat_ms * 1000000ull;
    uint64_t dead = n->cfg.dead_ms * 1000000ull;
    /* After our own loop stalled (a slow fsync), frames may be waiting in
     * the sockets: do not blame peers for our silence. */
    uint64_t stall = n->last_tick_ns && now - n->last_tick_ns > 500000000ull
                         ? now - n->last_tick_ns
                         : 0;
    n->last_tick_ns = now;
    for (mesh_link *l = n->links, *next; l; l = next) {
        next = l->next;
        if (l->state == LINK_CLOSING)
            continue;
        l->last_rx_ns += stall;
        if (l->last_rx_ns > now)
            l->last_rx_ns = now;
        if (l->state != LINK_UP && now - l->created_ns > HS_TIMEOUT_NS) {
            mesh__link_close(l, "handshake timeout");
        } else if (l->state == LINK_UP && !l->is_client &&
                   now - l->last_rx_ns > dead) {
            mesh__link_close(l, "heartbeat lost");
        } else if (l->state == LINK_UP && !l->is_client &&
                   now - l->last_ping_ns >= hb) {
            l->last_ping_ns = now;
            mesh_msg p = {.type = MESH_PING, .nonce = now};
            mesh__send(l, &p);
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    gosr_mesh_node *n = t->data;
    uint64_t now = gosr_time_mono_ns();
    if (n->stopping)
        return;
    mesh__dht_events(n);
    links_tick(n, now);
    dial_members(n, now);
    mesh__jobs_tick(n);
    if (now - n->last_repair_ns >= n->cfg.repair_ms * 1000000ull) {
        n->last_repair_ns = now;
        mesh__repair_tick(n);
    }
    if (now - n->last_proof_ns >= n->cfg.proof_ms * 1000000ull) {
        n->last_proof_ns = now;
        mesh__proof_tick(n);
    }
    if (now - n->last_save_ns >= 10000000000ull) {
        n->last_save_ns = now;
        mesh__credits_save(n);
    }
}

static void on_dht_async(uv_async_t *a)
{
    mesh__dht_events(a->data);
}

static void dht_notify(void *ud)
{
    gosr_mesh_node *n = ud;
    uv_async_send(&n->dht_async);
}

/* ---- create
 * ----------------------------------------------------------------------- */

static void fill_defaults(gosr_mesh_config *c)
{
    if (!c->rf)
        c->rf = 3;
    if (c->rf > 16)
        c->rf = 16;
    if (!c->heartbeat_ms)
        c->heartbeat_ms = 500;
    if (!c->dead_ms)
        c->dead_ms = 10000;
    if (!c->repair_ms)
        c->repair_ms = 1000;
    if (!c->proof_ms)
        c->proof_ms = 10000;
    if (!c->piece_timeout_ms)
        c->piece_timeout_ms = 10000;
    if (!c->ban_after)
        c->ban_after = 3;
    if (!c->hot_threshold)
        c->hot_threshold = 16;
    if (!c->announce_ms)
        c->announce_ms = 20000;
}

static int load_identity(gosr_mesh_node *n, gosr_error *err)
{
    char *dir = gosr_asprintf("%s/key", n->data_dir);
    if (!dir)
        return gosr_error_set(err, GOSR_ENOMEM, "oom", "out of memory");
    struct stat st;
    int rc;
    if (stat(dir, &st) == 0) {
        rc = gosr_keypair_load(dir, &n->key, err);
    } else {
        rc = gosr_keypair_generate(&n->key);
        if (rc == GOSR_OK)
            rc = gosr_keypair_save(&n->key, dir, err);
    }
    gosr_free(dir);
    if (rc == GOSR_OK)
        gosr_blake3_hash(n->key.pk, 32, &n->id);
    return rc;
}

static int open_store(gosr_mesh_node *n, gosr_error *err)
{
    if (n->cfg.store) { /* embedded: the node's own store, shared */
        n->store = n->cfg.store;
        return GOSR_OK;
    }
    n->own_store = true;
    char *dir = gosr_asprintf("%s/store", n->data_dir);
    if (!dir)
        return gosr_error_set(err, GOSR_ENOMEM, "oom", "out of memory");
    int rc = gosr_store_open(dir, NULL, &n->store, err);
    gosr_free(dir);
    return rc;
}

static int start_listener(gosr_mesh_node *n, gosr_error *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(n->port)};
    memcpy(&sa.sin_addr, n->ip, 4);
    uv_tcp_init(&n->loop, &n->listener);
    n->listener.data = n;
    int rc = uv_tcp_bind(&n->listener, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&n->listener, 64, on_connection);
    if (rc != 0)
        return gosr_error_set(err, GOSR_EIO, "listen_failed",
                              "cannot listen on %s: %s", n->listen_str,
                              uv_strerror(rc));
    return GOSR_OK;
}

static int init_loop(gosr_mesh_node *n, gosr_error *err)
{
    if (uv_loop_init(&n->loop) != 0)
        return gosr_error_set(err, GOSR_EINTERNAL, "uv_loop", "uv_loop_init");
    uv_timer_init(&n->loop, &n->tick);
    n->tick.data = n;
    uv_async_init(&n->loop, &n->stop_async, NULL);
    n->stop_async.data = n;
    uv_async_init(&n->loop, &n->dht_async, on_dht_async);
    n->dht_async.data = n;
    return start_listener(n, err);
}

static void on_stop_async(uv_async_t *a);

GOSR_API int gosr_mesh_node_create(const gosr_mesh_config *cfg,
                                   gosr_mesh_node **out, gosr_error *err)
{
    gosr_error_clear(err);
    *out = NULL;
    if (!cfg || !cfg->data_dir || !cfg->listen)
        return gosr_error_set(err, GOSR_EINVAL, "bad_config",
                              "data_dir and listen are required");
    gosr_mesh_node *n = gosr_calloc(1, sizeof *n);
    if (!n)
        return gosr_error_set(err, GOSR_ENOMEM, "oom", "out of memory");
    n->cfg = *cfg;
    fill_defaults(&n->cfg);
    n->data_dir = gosr_strdup(cfg->data_dir);
    n->listen_str = gosr_strdup(cfg->listen);
    int rc = GOSR_ENOMEM;
    if (!n->data_dir || !n->listen_str)
        goto out_free;
    rc = mesh__parse_addr(cfg->listen, n->ip, &n->port);
    if (rc != GOSR_OK) {
        gosr_error_set(err, rc, "bad_listen",
                       "listen address '%s' is not "
                       "IPv4:PORT",
                       cfg->listen);
        goto out_free;
    }
    if (!n->cfg.dht_port)
        n->cfg.dht_port = n->port;
    n->cfg.data_dir = n->data_dir;
    n->cfg.listen = n->listen_str;
    n->cfg.bootstrap = NULL;
    if ((rc = gosr_mkdir_p(n->data_dir, 0700)) != GOSR_OK ||
        (rc = load_identity(n, err)) != GOSR_OK ||
        (rc = open_store(n, err)) != GOSR_OK ||
        (rc = mesh__pledges_load(n, err)) != GOSR_OK)
        goto out_free;
    mesh__credits_load(n);
    if ((rc = init_loop(n, err)) != GOSR_OK)
        goto out_loop;
    n->stop_async.async_cb = on_stop_async;
    rc = mesh__dht_start(n->cfg.dht_port, cfg->bootstrap, dht_notify, n,
                         &n->dht, err);
    if (rc != GOSR_OK)
        goto out_loop;
    *out = n;
    return GOSR_OK;
out_loop:
    n->stopping = true;
    uv_close((uv_handle_t *)&n->listener, NULL);
    uv_close((uv_handle_t *)&n->tick, NULL);
    uv_close((uv_handle_t *)&n->stop_async, NULL);
    uv_close((uv_handle_t *)&n->dht_async, NULL);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    uv_loop_close(&n->loop);
out_free:
    if (n->own_store)
        gosr_store_close(n->store);
    gosr_free(n->roots);
    gosr_free(n->reps);
    gosr_free(n->data_dir);
    gosr_free(n->listen_str);
    gosr_keypair_wipe(&n->key);
    gosr_free(n);
    if (rc == GOSR_ENOMEM)
        gosr_error_wrap(err, rc, "oom", "out of memory");
    return rc;
}

/* ---- run, stop, destroy
 * ------------------------------------------------------------ */

static void close_all(gosr_mesh_node *n)
{
    n->stopping = true;
    mesh__dht_mute(n->dht);
    for (mesh_link *l = n->links; l; l = l->next)
        mesh__link_close(l, "node stopping");
    uv_timer_stop(&n->tick);
    uv_close((uv_handle_t *)&n->listener, NULL);
    uv_close((uv_handle_t *)&n->tick, NULL);
    uv_close((uv_handle_t *)&n->stop_async, NULL);
    uv_close((uv_handle_t *)&n->dht_async, NULL);
}

static void on_stop_async(uv_async_t *a)
{
    gosr_mesh_node *n = a->data;
    if (!n->stopping)
        close_all(n);
}

GOSR_API int gosr_mesh_node_run(gosr_mesh_node *node)
{
    uint8_t key[20];
    gosr_mesh_members_key(key);
    mesh__dht_listen(node->dht, key, 0);
    mesh__announce_member(node);
    for (size_t i = 0; i < node->nroots; i++)
        if (node->roots[i].held)
            mesh__announce_root(node, &node->roots[i]);
    uv_timer_start(&node->tick, on_tick, 100, 100);
    uv_run(&node->loop, UV_RUN_DEFAULT);
    return GOSR_OK;
}

GOSR_API void gosr_mesh_node_stop(gosr_mesh_node *node)
{
    if (node)
        uv_async_send(&node->stop_async);
}

GOSR_API void gosr_mesh_node_id(const gosr_mesh_node *node, gosr_hash *out)
{
    *out = node->id;
}

GOSR_API const char *gosr_mesh_node_addr(const gosr_mesh_node *node)
{
    return node->listen_str;
}

GOSR_API void gosr_mesh_node_destroy(gosr_mesh_node *n)
{
    if (!n)
        return;
    if (!n->stopping)
        close_all(n);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    uv_loop_close(&n->loop);
    mesh__dht_stop(n->dht);
    mesh__credits_save(n);
    while (n->jobs) {
        mesh_job *j = n->jobs;
        n->jobs = j->next;
        mesh__job_free(j);
    }
    while (n->lookups) {
        mesh_lookup *k = n->lookups;
        n->lookups = k->next;
        json_decref(k->found);
        gosr_free(k);
    }
    for (size_t i = 0; i < n->nroots; i++)
        gosr_free(n->roots[i].chunks);
    gosr_free(n->roots);
    gosr_free(n->members);
    gosr_free(n->reps);
    gosr_free(n->proofs);
    gosr_buf_free(&n->cache);
    if (n->own_store)
        gosr_store_close(n->store);
    gosr_keypair_wipe(&n->key);
    gosr_free(n->data_dir);
    gosr_free(n->listen_str);
    gosr_free(n);
}
