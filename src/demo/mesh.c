/*
 * mesh.c — the demo's second node and the mesh between the two: a pair of
 * loopback ports free for both TCP (mesh links) and UDP (the OpenDHT
 * runner, same port), the mesh configs of OUT/node and OUT/node2 (rf 2),
 * the `mesh_install` step (node2, which never saw a bundle, installs and
 * activates arena v1 from node1's packages through the mesh: every object
 * fetched hash-verified, the signed head checked against the trust root)
 * and the `mesh_replicas` step (both nodes hold a package). Figures come
 * from the mesh's own control answers (status, peers/credits, replicas),
 * never estimated. Design: docs/demo.md ("Steps", "Mesh").
 */
#include "demo/demo_int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PORT_LO 20000u     /* below the ephemeral range, as pick_base */
#define PORT_SPAN 12000u
#define LINK_WAIT_MS 20000u   /* node2's link to node1 */
#define INSTALL_WAIT_MS 10000u /* per package: a provider must answer */
#define REPLICAS_WAIT_MS 5000u
#define CTL_MS 3000u
#define NODE2_HZ 10

/* True when `port` can be bound on 127.0.0.1 for socket type `type`. */
static bool bindable(uint16_t port, int type)
{
    int fd = socket(AF_INET, type, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int demo__mesh_ports(uint16_t out[2], gosr_error *err)
{
    uint64_t st = gosr_time_wall_ns() ^ ((uint64_t)getpid() << 32);
    unsigned got = 0;
    for (int tries = 0; tries < 400 && got < 2; tries++) {
        uint16_t p = (uint16_t)(PORT_LO + gosr_splitmix64(&st) % PORT_SPAN);
        if (got == 1 && p == out[0])
            continue;
        if (bindable(p, SOCK_STREAM) && bindable(p, SOCK_DGRAM))
            out[got++] = p;
    }
    if (got < 2)
        return gosr_error_set(err, GOSR_EIO, "demo_no_free_port",
                              "no two ports in %u..%u free for both TCP and "
                              "UDP on 127.0.0.1",
                              PORT_LO, PORT_LO + PORT_SPAN - 1);
    return GOSR_OK;
}

void demo__mesh_config(const demo_run *d, int which, gosr_mesh_config *mc)
{
    *mc = (gosr_mesh_config){
        .listen = which == 1 ? d->mesh1 : d->mesh2,
        .bootstrap = which == 1 ? NULL : d->mesh1,
        .rf = 2,            /* two nodes: every package on both */
        .heartbeat_ms = 300,
        .repair_ms = 500,
        .proof_ms = 5000,
    };
}

/* One control request to the mesh at addr; *out the answer when it says
 * ok (caller json_decref), else err holds the reason. */
static int ctl(const char *addr, json_t *req, json_t **out, gosr_error *err)
{
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL, *ans = NULL;
    json_decref(req);
    if (!text)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "request");
    int rc = gosr_mesh_ctl(addr, text, CTL_MS, &ans, err);
    free(text);
    if (rc != GOSR_OK)
        return rc;
    json_t *o = json_loads(ans, 0, NULL);
    gosr_free(ans);
    if (!json_is_true(json_object_get(o, "ok"))) {
        const char *r = json_string_value(json_object_get(o, "reason"));
        json_decref(o);
        return gosr_error_set(err, GOSR_EIO, r ? r : "mesh_answer",
                              "mesh at %s refused the request", addr);
    }
    *out = o;
    return GOSR_OK;
}

static json_t *status_of(const char *addr, gosr_error *err)
{
    json_t *o = NULL;
    return ctl(addr, json_pack("{s:s}", "op", "status"), &o, err) == GOSR_OK
               ? o
               : NULL;
}

static void nap_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Opens and starts OUT/node2: same trust root, no admin server, no patch
 * pipeline, no bots, 10 Hz, a mesh bootstrapped to node1's. */
static int open_node2(demo_run *d, gosr_error *err)
{
    gosr_mesh_config mc;
    demo__mesh_config(d, 2, &mc);
    gosr_node_config nc = {.data_dir = d->node2_dir, .trust_pk = d->root.pk,
                           .no_admin = true, .rate_hz = NODE2_HZ,
                           .capacity = 4096, .kv_capacity = 4096,
                           .seed = d->cfg.seed, .mesh = &mc};
    int rc = gosr_node_open(&nc, &d->node2, err);
    if (rc == GOSR_OK)
        rc = gosr_node_start(d->node2, err);
    return rc;
}

/* Polls node2's mesh until it has a link up; ms waited into *waited. */
static int wait_link(demo_run *d, uint64_t *waited, gosr_error *err)
{
    uint64_t t0 = gosr_time_mono_ns();
    for (;;) {
        gosr_error e = {0};
        json_t *s = status_of(d->mesh2, &e);
        json_int_t up = json_integer_value(json_object_get(s, "links_up"));
        json_decref(s);
        *waited = (gosr_time_mono_ns() - t0) / 1000000u;
        if (up >= 1)
            return GOSR_OK;
        if (*waited >= LINK_WAIT_MS)
            return gosr_error_set(err, GOSR_ETIMEOUT, "demo_mesh_no_link",
                                  "node2's mesh (%s) had no link to node1 "
                                  "(%s) after %u ms (last: %s)",
                                  d->mesh2, d->mesh1, LINK_WAIT_MS,
                                  e.reason[0] ? e.reason : "links_up 0");
        nap_ms(100);
    }
}

/* node2's credits entry for node1: bytes node2 received from it. */
static json_int_t received_from_node1(demo_run *d)
{
    json_t *s1 = status_of(d->mesh1, NULL), *p = NULL, *e;
    const char *id1 = json_string_value(json_object_get(s1, "node_id"));
    json_int_t got = -1;
    size_t i;
    if (id1 && ctl(d->mesh2, json_pack("{s:s}", "op", "peers"), &p, NULL) ==
                   GOSR_OK)
        json_array_foreach(json_object_get(p, "peers"), i, e)
            if (strcmp(json_string_value(json_object_get(e, "id")) ?: "",
                       id1) == 0)
                got = json_integer_value(json_object_get(e, "bytes_received"));
    json_decref(p);
    json_decref(s1);
    return got;
}

/* Packages of `pkgs` (hex roots) that the mesh at addr holds (status
 * roots), and the sum of their sizes into *bytes. */
static int held_packages(const json_t *pkgs, const char *addr,
                         json_int_t *bytes)
{
    json_t *s = status_of(addr, NULL), *r;
    size_t i, j;
    json_t *p;
    int n = 0;
    *bytes = 0;
    json_array_foreach(pkgs, j, p)
        json_array_foreach(json_object_get(s, "roots"), i, r)
            if (json_equal(json_object_get(r, "id"), p)) {
                n++;
                *bytes += json_integer_value(json_object_get(r, "bytes"));
            }
    json_decref(s);
    return n;
}

/* Installs every v1 package on node2 in publish order; *n installed,
 * *pre how many node2's mesh already held when their install began
 * (node1's repair loop replicates them at rf 2 meanwhile). */
static int install_all(demo_run *d, size_t *n, int *pre, gosr_error *err)
{
    size_t i;
    json_t *p;
    *n = 0;
    *pre = 0;
    json_array_foreach(d->packages, i, p)
    {
        json_t *info = NULL, *one = json_pack("[O]", p);
        json_int_t b;
        int had = held_packages(one, d->mesh2, &b);
        json_decref(one);
        uint64_t t0 = gosr_time_mono_ns();
        int rc = gosr_node_install(d->node2, json_string_value(p), true,
                                   INSTALL_WAIT_MS, "operator:demo", &info,
                                   err);
        if (rc != GOSR_OK)
            return rc;
        *pre += had;
        demo__progress(d, "node2 installed %s@%s from the mesh (package "
                       "%.12s, %s) in %.0f ms",
                       json_string_value(json_object_get(info, "id")),
                       json_string_value(json_object_get(info, "version")),
                       json_string_value(p),
                       had ? "already replicated" : "fetched",
                       (double)(gosr_time_mono_ns() - t0) / 1e6);
        json_decref(info);
        (*n)++;
    }
    return GOSR_OK;
}

/* Number of v1 modules whose active version is the same on both nodes. */
static size_t same_active(demo_run *d, const char *const *ids, size_t nids)
{
    size_t same = 0;
    for (size_t i = 0; i < nids; i++) {
        char a[64] = "", b[64] = "";
        if (gosr_node_active_version(d->node, ids[i], a, sizeof a) ==
                GOSR_OK &&
            gosr_node_active_version(d->node2, ids[i], b, sizeof b) ==
                GOSR_OK &&
            strcmp(a, b) == 0)
            same++;
    }
    return same;
}

static void install_failed(demo_run *d, const char *what, gosr_error *err)
{
    json_object_set_new(d->facts, "mesh_install_reason",
                        json_string(err->reason));
    demo__step(d, "mesh_install", false, "%s: %s: %s", what, err->reason,
               err->detail);
}

/* What the mesh_install step measured. */
typedef struct install_figs {
    uint64_t link_ms;     /* node2 start until a link was up */
    size_t n;             /* packages installed */
    int pre;              /* held by node2 when their install began */
    double ms;            /* wall time of the installs */
    json_int_t pkg_bytes; /* sum of the packages' sizes (node1's status) */
    json_int_t recv;      /* bytes node2 received from node1 (credits) */
    int held;             /* packages node2 holds afterwards */
    size_t same;          /* modules with equal active versions */
} install_figs;

static void install_facts(demo_run *d, const install_figs *f, size_t nids)
{
    json_t *o = d->facts;
    json_object_set_new(o, "mesh_link_ms", json_integer((json_int_t)f->link_ms));
    json_object_set_new(o, "mesh_installed_modules", json_integer((json_int_t)f->n));
    json_object_set_new(o, "mesh_install_ms", json_real(f->ms));
    json_object_set_new(o, "mesh_package_bytes", json_integer(f->pkg_bytes));
    json_object_set_new(o, "mesh_bytes_received", json_integer(f->recv));
    json_object_set_new(o, "mesh_held_before_install", json_integer(f->pre));
    json_object_set_new(o, "mesh_node2_held", json_integer(f->held));
    json_object_set_new(o, "mesh_node2_same_active", json_boolean(f->same == nids));
}

void demo__mesh_install(demo_run *d, const char *const *ids, size_t nids)
{
    gosr_error err = {0};
    install_figs f = {0};
    json_int_t held_bytes = 0;
    if (d->mesh_why[0]) {
        demo__step(d, "mesh_install", false, "node1 has no mesh: %s",
                   d->mesh_why);
        return;
    }
    if (open_node2(d, &err) != GOSR_OK) {
        install_failed(d, "node2", &err);
        return;
    }
    demo__progress(d, "node2 in %s, mesh on %s bootstrapped to %s, %d Hz",
                   d->node2_dir, d->mesh2, d->mesh1, NODE2_HZ);
    if (wait_link(d, &f.link_ms, &err) != GOSR_OK) {
        install_failed(d, "link", &err);
        return;
    }
    uint64_t t0 = gosr_time_mono_ns();
    int rc = install_all(d, &f.n, &f.pre, &err);
    f.ms = (double)(gosr_time_mono_ns() - t0) / 1e6;
    held_packages(d->packages, d->mesh1, &f.pkg_bytes);
    f.held = held_packages(d->packages, d->mesh2, &held_bytes);
    f.recv = received_from_node1(d);
    f.same = same_active(d, ids, nids);
    install_facts(d, &f, nids);
    if (rc != GOSR_OK) {
        install_failed(d, "install", &err);
        return;
    }
    demo__step(d, "mesh_install",
               f.n == nids && f.same == nids && f.held == (int)nids,
               "node2 (%s, mesh %s) linked to node1 in %" PRIu64 " ms, "
               "installed and activated %zu/%zu modules from the mesh in "
               "%.0f ms (%d already there when their install began: node1's "
               "repair replicates at rf 2 meanwhile); packages "
               "%" JSON_INTEGER_FORMAT " bytes, node2 received "
               "%" JSON_INTEGER_FORMAT " bytes from node1 and now holds "
               "%d/%zu packages; active versions equal on both nodes: "
               "%zu/%zu",
               d->node2_dir, d->mesh2, f.link_ms, f.n, nids, f.ms, f.pre,
               f.pkg_bytes, f.recv, f.held, nids, f.same, nids);
}

void demo__mesh_replicas(demo_run *d)
{
    gosr_error err = {0};
    const char *p = json_string_value(json_array_get(d->packages, 0));
    if (!d->node2 || !p) {
        demo__not_run(d, "mesh_replicas", "no second node on the mesh");
        return;
    }
    uint64_t t0 = gosr_time_mono_ns();
    json_t *o = NULL;
    json_int_t count = 0;
    for (;;) {
        json_decref(o);
        o = NULL;
        if (ctl(d->mesh1, json_pack("{s:s, s:s}", "op", "replicas", "id", p),
                &o, &err) == GOSR_OK)
            count = json_integer_value(json_object_get(o, "count"));
        if (count >= 2 ||
            (gosr_time_mono_ns() - t0) / 1000000u >= REPLICAS_WAIT_MS)
            break;
        nap_ms(200);
    }
    json_object_set_new(d->facts, "mesh_replicas", json_integer(count));
    if (!o)
        demo__step(d, "mesh_replicas", false, "replicas of %.12s: %s: %s", p,
                   err.reason, err.detail);
    else
        demo__step(d, "mesh_replicas", count == 2,
                   "node1's mesh sees %" JSON_INTEGER_FORMAT " holders of "
                   "package %.12s (arena.world 1.0.0; rf %" JSON_INTEGER_FORMAT
                   ")",
                   count, p, json_integer_value(json_object_get(o, "rf")));
    json_decref(o);
}
