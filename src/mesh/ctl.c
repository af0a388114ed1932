/*
 * ctl.c — control requests: JSON carried in CTL_REQ/CTL_RESP over an
 * authenticated link. The node side answers status, peers, replicas,
 * credits, providers (a DHT lookup), publish and fetch (all-or-nothing:
 * nothing is materialised unless every object arrived and verified). The
 * client side (gosr_mesh_ctl) is a small blocking implementation of the
 * same handshake for tools. Design: docs/mesh.md ("Control requests").
 */
#include "node.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- replies
 * ----------------------------------------------------------------------- */

void mesh__ctl_reply(gosr_mesh_node *n, uint64_t link, uint32_t req,
                     json_t *resp)
{
    mesh_link *l = mesh__link_by_serial(n, link);
    char *text = resp ? json_dumps(resp, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(resp);
    if (l && text) {
        mesh_msg m = {.type = MESH_CTL_RESP,
                      .req = req,
                      .data = (const uint8_t *)text,
                      .data_len = strlen(text)};
        if (m.data_len <= MESH_JSON_MAX)
            mesh__send(l, &m);
    }
    free(text);
}

void mesh__ctl_reply_error(gosr_mesh_node *n, uint64_t link, uint32_t req,
                           const char *reason, const char *detail)
{
    mesh__ctl_reply(n, link, req,
                    json_pack("{s:b,s:s,s:s}", "ok", 0, "reason", reason,
                              "detail", detail));
}

static void hex_of(const gosr_hash *h, char out[65])
{
    gosr_hash_hex(h, out);
}

/* ---- job results
 * -------------------------------------------------------------------- */

static int materialise(gosr_mesh_node *n, const gosr_hash *root,
                       const char *out, gosr_error *err)
{
    gosr_buf b = {0};
    gosr_obj_kind kind;
    int rc = gosr_store_get_object(n->store, root, &kind, &b, err);
    gosr_buf_free(&b);
    if (rc != GOSR_OK)
        return rc;
    if (kind == GOSR_OBJ_TREE)
        return gosr_store_get_tree(n->store, root, out, err);
    if (kind == GOSR_OBJ_FILE)
        return gosr_store_get_file(n->store, root, out, 0644, err);
    return gosr_error_set(err, GOSR_EINVAL, "not_a_root",
                          "object is a chunk, not a file or tree");
}

static void answer_waiter(gosr_mesh_node *n, mesh_job *j, mesh_waiter *w,
                          int status, const char *reason, const char *detail)
{
    char hex[65];
    hex_of(&j->root, hex);
    if (status != GOSR_OK) {
        mesh__ctl_reply(n, w->link, w->req,
                        json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "id", hex,
                                  "reason", reason, "detail", detail));
        return;
    }
    gosr_error err;
    gosr_error_clear(&err);
    if (w->out && materialise(n, &j->root, w->out, &err) != GOSR_OK) {
        mesh__ctl_reply_error(n, w->link, w->req, err.reason, err.detail);
        return;
    }
    double s = (double)(gosr_time_mono_ns() - j->start_ns) / 1e9;
    mesh__ctl_reply(n, w->link, w->req,
                    json_pack("{s:b,s:s,s:I,s:f}", "ok", 1, "id", hex,
                              "bytes_transferred", (json_int_t)j->bytes,
                              "seconds", s));
}

void mesh__job_finished(gosr_mesh_node *n, mesh_job *j, int status,
                        const char *reason, const char *detail)
{
    for (mesh_job **pp = &n->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    gosr_error err;
    gosr_error_clear(&err);
    if (status == GOSR_OK && !j->no_hold &&
        mesh__root_hold(n, &j->root, j->rf, &err) != GOSR_OK) {
        status = err.status;
        reason = err.reason;
        detail = err.detail;
    }
    char hex[65];
    hex_of(&j->root, hex);
    gosr_log(GOSR_LOG_INFO, "mesh", "fetch %.16s: %s (%llu bytes)", hex,
             status == GOSR_OK ? "complete" : reason,
             (unsigned long long)j->bytes);
    for (size_t i = 0; i < j->nwait; i++)
        answer_waiter(n, j, &j->waiters[i], status, reason, detail);
    mesh__job_free(j);
}

/* ---- requests
 * ------------------------------------------------------------------------- */

static json_t *root_json(gosr_mesh_node *n, const mesh_root *r)
{
    char hex[65];
    gosr_hash h[32];
    hex_of(&r->id, hex);
    unsigned k = mesh__holders(n, &r->id, h, 32);
    return json_pack("{s:s,s:i,s:b,s:b,s:I,s:I,s:i}", "id", hex, "rf", r->rf,
                     "held", r->held, "hot", r->hot, "bytes",
                     (json_int_t)r->bytes, "chunks", (json_int_t)r->nchunks,
                     "replicas", (int)k);
}

static json_t *do_status(gosr_mesh_node *n)
{
    char hex[65];
    hex_of(&n->id, hex);
    json_t *roots = json_array(), *jobs = json_array();
    for (size_t i = 0; i < n->nroots; i++)
        if (n->roots[i].held)
            json_array_append_new(roots, root_json(n, &n->roots[i]));
    for (mesh_job *j = n->jobs; j; j = j->next) {
        char rh[65];
        hex_of(&j->root, rh);
        json_array_append_new(jobs, json_pack("{s:s,s:I,s:I}", "root", rh,
                                              "pending", (json_int_t)j->pending,
                                              "bytes", (json_int_t)j->bytes));
    }
    int up = 0;
    for (mesh_link *l = n->links; l; l = l->next)
        up += l->state == LINK_UP && !l->is_client;
    return json_pack("{s:b,s:s,s:s,s:s,s:i,s:i,s:o,s:o,s:i}", "ok", 1,
                     "node_id", hex, "listen", n->listen_str, "tier",
                     n->cfg.tier == GOSR_MESH_TIER_HOT ? "hot" : "cold",
                     "links_up", up, "members", (int)n->nmembers, "roots",
                     roots, "jobs", jobs, "faults", (int)n->cfg.faults);
}

static json_t *do_peers(gosr_mesh_node *n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n->nmembers; i++) {
        mesh_member *m = &n->members[i];
        mesh_rep *r = mesh__rep(n, &m->id);
        json_t *e = r ? mesh__rep_json(r) : json_object();
        char addr[32];
        snprintf(addr, sizeof addr, "%u.%u.%u.%u:%u", m->ip[0], m->ip[1],
                 m->ip[2], m->ip[3], m->port);
        json_object_set_new(e, "addr", json_string(addr));
        json_object_set_new(e, "up", json_boolean(m->link != 0));
        json_object_set_new(e, "tier", json_string(m->tier ? "hot" : "cold"));
        json_array_append_new(a, e);
    }
    return json_pack("{s:b,s:o}", "ok", 1, "peers", a);
}

static json_t *do_replicas(gosr_mesh_node *n, const gosr_hash *id)
{
    gosr_hash h[32];
    unsigned k = mesh__holders(n, id, h, 32);
    json_t *a = json_array();
    for (unsigned i = 0; i < k; i++) {
        char hex[65];
        hex_of(&h[i], hex);
        json_array_append_new(a, json_string(hex));
    }
    unsigned rf = n->cfg.rf;
    for (size_t i = 0; i < n->nroots; i++)
        if (gosr_hash_equal(&n->roots[i].id, id) && n->roots[i].rf)
            rf = n->roots[i].rf;
    char hex[65];
    hex_of(id, hex);
    return json_pack("{s:b,s:s,s:i,s:i,s:o,s:b}", "ok", 1, "id", hex, "rf",
                     (int)rf, "count", (int)k, "holders", a, "available",
                     k > 0);
}

static json_t *do_credits(gosr_mesh_node *n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n->nreps; i++)
        json_array_append_new(a, mesh__rep_json(&n->reps[i]));
    return json_pack("{s:b,s:o}", "ok", 1, "credits", a);
}

/* The root a publish request names: "id" (an object already in the
 * store, e.g. put there by the embedding node) or "path" (stored now). */
static int publish_root(gosr_mesh_node *n, json_t *req, gosr_hash *root,
                        gosr_error *err)
{
    const char *path = json_string_value(json_object_get(req, "path"));
    const char *hex = json_string_value(json_object_get(req, "id"));
    struct stat st;
    uint64_t size = 0;
    if (hex) {
        if (gosr_hash_from_hex(hex, root) != GOSR_OK)
            return gosr_error_set(err, GOSR_EINVAL, "bad_id",
                                  "id must be 64 hex digits");
        if (!gosr_store_has(n->store, root))
            return gosr_error_set(err, GOSR_ENOENT, "root_missing",
                                  "%.16s is not in this node's store", hex);
        return GOSR_OK;
    }
    if (!path || stat(path, &st) != 0)
        return gosr_error_set(err, GOSR_EINVAL, "bad_request",
                              "publish needs an existing path or an id");
    if (S_ISDIR(st.st_mode))
        return gosr_store_put_tree(n->store, path, root, err);
    return gosr_store_put_file(n->store, path, root, &size, err);
}

static json_t *do_publish(gosr_mesh_node *n, json_t *req)
{
    json_int_t rf = json_integer_value(json_object_get(req, "rf"));
    gosr_error err;
    gosr_error_clear(&err);
    gosr_hash root;
    int rc = rf < 0 || rf > 16 ? gosr_error_set(&err, GOSR_EINVAL,
                                                "bad_request", "rf is 0..16")
                               : publish_root(n, req, &root, &err);
    if (rc == GOSR_OK)
        rc = mesh__root_hold(n, &root, (uint8_t)rf, &err);
    if (rc != GOSR_OK)
        return json_pack("{s:b,s:s,s:s}", "ok", 0, "reason", err.reason,
                         "detail", err.detail);
    char hex[65];
    hex_of(&root, hex);
    mesh_root *r = mesh__root(n, &root);
    return json_pack("{s:b,s:s,s:i,s:I,s:I}", "ok", 1, "id", hex, "rf",
                     r ? r->rf : 0, "bytes", (json_int_t)(r ? r->bytes : 0),
                     "chunks", (json_int_t)(r ? r->nchunks : 0));
}

static bool do_fetch(mesh_link *l, uint32_t req, json_t *j, const gosr_hash *id)
{
    gosr_mesh_node *n = l->node;
    const char *out = json_string_value(json_object_get(j, "out"));
    json_int_t tmo = json_integer_value(json_object_get(j, "timeout_ms"));
    bool hold = !json_is_false(json_object_get(j, "hold"));
    bool fresh = true; /* no job for this root yet (repair jobs hold) */
    for (mesh_job *k = n->jobs; k; k = k->next)
        fresh = fresh && !gosr_hash_equal(&k->root, id);
    mesh_job *job = mesh__job_start(n, id, (uint8_t)n->cfg.rf);
    if (!job)
        return false;
    job->no_hold = hold ? false : fresh || job->no_hold;
    mesh_waiter *w = gosr_realloc(job->waiters, (job->nwait + 1) * sizeof *w);
    if (!w)
        return false;
    job->waiters = w;
    w = &job->waiters[job->nwait++];
    *w = (mesh_waiter){
        .link = l->serial, .req = req, .out = out ? gosr_strdup(out) : NULL};
    if (tmo > 0)
        job->deadline_ns = gosr_time_mono_ns() + (uint64_t)tmo * 1000000ull;
    if (job->pending == 0) /* everything is here already: answer now */
        mesh__job_finished(n, job, GOSR_OK, NULL, NULL);
    return true;
}

static bool do_providers(mesh_link *l, uint32_t req, const gosr_hash *id)
{
    gosr_mesh_node *n = l->node;
    mesh_lookup *k = gosr_calloc(1, sizeof *k);
    if (!k)
        return false;
    k->op = ++n->next_op;
    k->link = l->serial;
    k->req = req;
    k->root = *id;
    k->start_ns = gosr_time_mono_ns();
    k->found = json_array();
    k->next = n->lookups;
    n->lookups = k;
    uint8_t key[20];
    gosr_mesh_provider_key(id, key);
    mesh__dht_get(n->dht, key, k->op);
    return true;
}

/* Answers requests that need an id; returns NULL when answered later. */
static json_t *with_id(mesh_link *l, uint32_t req, const char *op, json_t *j)
{
    gosr_mesh_node *n = l->node;
    gosr_hash id;
    const char *hex = json_string_value(json_object_get(j, "id"));
    if (!hex || gosr_hash_from_hex(hex, &id) != GOSR_OK)
        return json_pack("{s:b,s:s,s:s}", "ok", 0, "reason", "bad_id", "detail",
                         "id must be 64 hex digits");
    if (strcmp(op, "replicas") == 0)
        return do_replicas(n, &id);
    bool queued = strcmp(op, "fetch") == 0 ? do_fetch(l, req, j, &id)
                                           : do_providers(l, req, &id);
    return queued ? NULL
                  : json_pack("{s:b,s:s,s:s}", "ok", 0, "reason", "oom",
                              "detail", "out of memory");
}

void mesh__on_ctl(mesh_link *l, const mesh_msg *m)
{
    gosr_mesh_node *n = l->node;
    json_t *j = json_loadb((const char *)m->data, m->data_len, 0, NULL);
    const char *op = json_string_value(json_object_get(j, "op"));
    json_t *resp = NULL;
    /* publish/fetch name local paths: loopback or the node's own address */
    if (l->ip[0] != 127 && memcmp(l->ip, n->ip, 4) != 0)
        resp = json_pack("{s:b,s:s,s:s}", "ok", 0, "reason", "ctl_not_local",
                         "detail",
                         "control requests are accepted from "
                         "127.0.0.0/8 and the node's own address only");
    else if (!op)
        resp = json_pack("{s:b,s:s,s:s}", "ok", 0, "reason", "bad_request",
                         "detail", "request must be a JSON object with op");
    else if (strcmp(op, "status") == 0)
        resp = do_status(n);
    else if (strcmp(op, "peers") == 0)
        resp = do_peers(n);
    else if (strcmp(op, "credits") == 0)
        resp = do_credits(n);
    else if (strcmp(op, "publish") == 0)
        resp = do_publish(n, j);
    else if (!strcmp(op, "replicas") || !strcmp(op, "fetch") ||
             !strcmp(op, "providers"))
        resp = with_id(l, m->req, op, j);
    else
        resp = json_pack("{s:b,s:s,s:s}", "ok", 0, "reason", "unknown_op",
                         "detail", op);
    if (resp)
        mesh__ctl_reply(n, l->serial, m->req, resp);
    json_decref(j);
}

/* ==== client
 * ===============================================================================
 */

typedef struct client {
    int fd;               /* connected socket */
    uint64_t deadline_ns; /* overall deadline */
    mesh_sess sess;       /* crypto */
    gosr_keypair key;     /* ephemeral client identity */
} client;

static int c_read(client *c, uint8_t *p, size_t n, gosr_error *err)
{
    while (n > 0) {
        uint64_t now = gosr_time_mono_ns();
        if (now >= c->deadline_ns)
            return gosr_error_set(err, GOSR_ETIMEOUT, "ctl_timeout",
                                  "no answer from the node in time");
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        int ms = (int)((c->deadline_ns - now) / 1000000ull) + 1;
        if (poll(&pf, 1, ms) < 0 && errno != EINTR)
            return gosr_error_set(err, GOSR_EIO, "ctl_io", "poll failed");
        if (!(pf.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t k = read(c->fd, p, n);
        if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN))
            return gosr_error_set(err, GOSR_ECLOSED, "ctl_closed",
                                  "the node closed the link");
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        }
    }
    return GOSR_OK;
}

/* Reads one frame body into out (replacing its content). */
static int c_frame(client *c, bool hello, uint8_t hdr[4], gosr_buf *out,
                   gosr_error *err)
{
    uint32_t len;
    int rc = c_read(c, hdr, 4, err);
    if (rc == GOSR_OK)
        rc =
            mesh__frame_len(hdr, 4, hello ? MESH_HELLO_LEN : 17,
                            hello ? MESH_HELLO_LEN : MESH_FRAME_MAX, &len, err);
    out->len = 0;
    if (rc == GOSR_OK)
        rc = gosr_buf_reserve(out, len);
    if (rc == GOSR_OK)
        rc = c_read(c, out->data, len, err);
    if (rc == GOSR_OK)
        out->len = len;
    return rc;
}

/* Reads and decrypts one message into plain; decodes into m. */
static int c_msg(client *c, gosr_buf *ct, gosr_buf *plain, mesh_msg *m,
                 gosr_error *err)
{
    uint8_t hdr[4];
    int rc = c_frame(c, false, hdr, ct, err);
    plain->len = 0;
    if (rc == GOSR_OK)
        rc = mesh__open(&c->sess, hdr, ct->data, ct->len, plain, err);
    if (rc == GOSR_OK)
        rc = mesh__decode(plain->data, plain->len, m, err);
    return rc;
}

static int c_send(client *c, const mesh_msg *m)
{
    gosr_buf msg = {0}, fr = {0};
    int rc = mesh__encode(m, &msg);
    if (rc == GOSR_OK)
        rc = mesh__seal(&c->sess, msg.data, msg.len, &fr);
    if (rc == GOSR_OK)
        rc = gosr_io_write_all(c->fd, fr.data, fr.len);
    gosr_buf_free(&msg);
    gosr_buf_free(&fr);
    return rc;
}

static int c_connect(client *c, const char *addr, gosr_error *err)
{
    uint8_t ip[4];
    uint16_t port;
    if (mesh__parse_addr(addr, ip, &port) != GOSR_OK)
        return gosr_error_set(err, GOSR_EINVAL, "bad_addr",
                              "'%s' is not IPv4:PORT", addr);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    memcpy(&sa.sin_addr, ip, 4);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return gosr_error_set(err, GOSR_ECLOSED, "connect_failed",
                              "cannot connect to %s: %s", addr,
                              strerror(errno));
    return GOSR_OK;
}

static int c_handshake(client *c, gosr_buf *b1, gosr_buf *b2, gosr_error *err)
{
    uint8_t hdr[4] = {0, 0, 0, MESH_HELLO_LEN};
    int rc = gosr_keypair_generate(&c->key);
    if (rc == GOSR_OK)
        rc = mesh__sess_start(&c->sess, true, &c->key, MESH_ROLE_CLIENT, 0, 0);
    if (rc == GOSR_OK)
        rc = gosr_io_write_all(c->fd, hdr, 4);
    if (rc == GOSR_OK)
        rc = gosr_io_write_all(c->fd, c->sess.hello_mine, MESH_HELLO_LEN);
    if (rc == GOSR_OK)
        rc = c_frame(c, true, hdr, b1, err);
    if (rc == GOSR_OK)
        rc = mesh__sess_peer_hello(&c->sess, b1->data, b1->len, err);
    mesh_msg m = {.type = MESH_AUTH};
    if (rc == GOSR_OK) {
        mesh__sess_auth_sign(&c->sess, &c->key, m.sig);
        rc = c_send(c, &m);
    }
    if (rc == GOSR_OK)
        rc = c_msg(c, b1, b2, &m, err);
    if (rc == GOSR_OK &&
        (m.type != MESH_AUTH || !mesh__sess_auth_verify(&c->sess, m.sig)))
        rc = gosr_error_set(err, GOSR_EPROTO, "handshake_failed",
                            "node's AUTH is invalid");
    return rc == GOSR_OK ? rc
                         : gosr_error_wrap(err, rc, "handshake_failed",
                                           "handshake with the node failed");
}

GOSR_API int gosr_mesh_ctl(const char *addr, const char *req,
                           unsigned timeout_ms, char **resp, gosr_error *err)
{
    gosr_error_clear(err);
    *resp = NULL;
    client c = {.fd = -1};
    c.deadline_ns = gosr_time_mono_ns() +
                    (uint64_t)(timeout_ms ? timeout_ms : 30000) * 1000000ull;
    gosr_buf b1 = {0}, b2 = {0};
    size_t rl = strlen(req);
    int rc = rl > MESH_JSON_MAX
                 ? gosr_error_set(err, GOSR_ETOOBIG, "ctl_too_big", "request")
                 : c_connect(&c, addr, err);
    if (rc == GOSR_OK)
        rc = c_handshake(&c, &b1, &b2, err);
    mesh_msg m = {.type = MESH_CTL_REQ,
                  .req = 1,
                  .data = (const uint8_t *)req,
                  .data_len = rl};
    if (rc == GOSR_OK)
        rc = c_send(&c, &m);
    while (rc == GOSR_OK) {
        rc = c_msg(&c, &b1, &b2, &m, err);
        if (rc == GOSR_OK && m.type == MESH_CTL_RESP && m.req == 1)
            break;
    }
    if (rc == GOSR_OK) {
        *resp = gosr_strndup((const char *)m.data, m.data_len);
        if (!*resp)
            rc = gosr_error_set(err, GOSR_ENOMEM, "oom", "out of memory");
    }
    if (c.fd >= 0)
        close(c.fd);
    gosr_buf_free(&b1);
    gosr_buf_free(&b2);
    mesh__sess_wipe(&c.sess);
    gosr_keypair_wipe(&c.key);
    return rc;
}
