/*
 * dht.c — the OpenDHT adapter (Debian's libopendht-c): a threaded
 * DhtRunner on one UDP port, bootstrap, text records put under 20-byte
 * keys, gets and listens whose results are marshalled to the node's loop
 * through a mutex-protected queue and a notify callback (uv_async_send).
 * Design: docs/mesh.md ("DHT records").
 */
#include "node.h"

#include <opendht/opendht_c.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_MAX 1024 /* longest value we accept as a record */

/* One get or listen in flight (user_data of OpenDHT callbacks). */
typedef struct dht_ctx {
    struct mesh_dht *dht; /* owner */
    uint64_t op;          /* operation id */
    dht_op_token *token;  /* listen token, NULL for gets */
    dht_infohash key;     /* listened key (for cancel) */
    struct dht_ctx *next; /* owner's list (freed at stop) */
} dht_ctx;

typedef struct ev_node {
    mesh_dht_event ev;    /* the event */
    struct ev_node *next; /* queue link */
} ev_node;

struct mesh_dht {
    dht_runner *runner;     /* OpenDHT runner (its own threads) */
    pthread_mutex_t mu;     /* guards head/tail */
    ev_node *head, *tail;   /* event queue (mu) */
    void (*notify)(void *); /* wakes the loop */
    void *ud;               /* passed to notify */
    dht_ctx *ctxs;          /* every ctx, loop thread only */
};

static void push(mesh_dht *d, uint64_t op, bool done, bool ok, char *text)
{
    ev_node *e = calloc(1, sizeof *e);
    if (!e) {
        free(text);
        return;
    }
    e->ev = (mesh_dht_event){.op = op, .done = done, .ok = ok, .text = text};
    pthread_mutex_lock(&d->mu);
    if (d->tail)
        d->tail->next = e;
    else
        d->head = e;
    d->tail = e;
    if (d->notify)
        d->notify(d->ud);
    pthread_mutex_unlock(&d->mu);
}

void mesh__dht_mute(mesh_dht *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->notify = NULL;
    pthread_mutex_unlock(&d->mu);
}

/* Copies a value's bytes as text when they are printable and short. */
static char *value_text(const dht_value *v)
{
    dht_data_view dv = dht_value_get_data(v);
    if (!dv.data || dv.size == 0 || dv.size > RECORD_MAX)
        return NULL;
    for (size_t i = 0; i < dv.size; i++)
        if (dv.data[i] < 0x20 || dv.data[i] > 0x7e)
            return NULL;
    char *s = malloc(dv.size + 1);
    if (s) {
        memcpy(s, dv.data, dv.size);
        s[dv.size] = 0;
    }
    return s;
}

static bool on_get_value(const dht_value *v, void *ud)
{
    dht_ctx *c = ud;
    char *t = value_text(v);
    if (t)
        push(c->dht, c->op, false, true, t);
    return true;
}

static void on_get_done(bool ok, void *ud)
{
    dht_ctx *c = ud;
    push(c->dht, c->op, true, ok, NULL);
}

static bool on_listen_value(const dht_value *v, bool expired, void *ud)
{
    if (!expired)
        on_get_value(v, ud);
    return true;
}

static void on_put_done(bool ok, void *ud)
{
    (void)ok;
    (void)ud;
}

static void bootstrap_list(mesh_dht *d, const char *list)
{
    char *copy = list ? strdup(list) : NULL, *save = NULL;
    for (char *a = copy ? strtok_r(copy, ",", &save) : NULL; a;
         a = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(a, ':');
        if (!colon)
            continue;
        *colon = 0;
        dht_runner_bootstrap(d->runner, a, colon + 1);
    }
    free(copy);
}

int mesh__dht_start(uint16_t port, const char *bootstrap,
                    void (*notify)(void *), void *ud, mesh_dht **out,
                    gosr_error *err)
{
    mesh_dht *d = gosr_calloc(1, sizeof *d);
    if (!d)
        return gosr_error_set(err, GOSR_ENOMEM, "oom", "out of memory");
    pthread_mutex_init(&d->mu, NULL);
    d->notify = notify;
    d->ud = ud;
    d->runner = dht_runner_new();
    dht_runner_config cfg;
    dht_runner_config_default(&cfg);
    cfg.threaded = true;
    cfg.peer_discovery = false; /* no multicast: loopback peers only */
    cfg.peer_publish = false;
    cfg.log = false;
    int rc = d->runner ? dht_runner_run_config(d->runner, port, &cfg) : -1;
    if (rc != 0) {
        mesh__dht_stop(d);
        return gosr_error_set(err, GOSR_EIO, "dht_failed",
                              "cannot start the DHT on UDP port %u (%d)", port,
                              rc);
    }
    bootstrap_list(d, bootstrap);
    *out = d;
    return GOSR_OK;
}

static void key_of(const uint8_t key[20], dht_infohash *h)
{
    memset(h, 0, sizeof *h);
    memcpy(h->d, key, 20);
}

void mesh__dht_put(mesh_dht *d, const uint8_t key[20], const char *text)
{
    dht_infohash h;
    key_of(key, &h);
    dht_value *v = dht_value_new((const uint8_t *)text, strlen(text));
    if (!v)
        return;
    dht_value_set_user_type(v, "gosr-mesh");
    dht_runner_put(d->runner, &h, v, on_put_done, NULL, true);
    dht_value_unref(v);
}

static dht_ctx *ctx_new(mesh_dht *d, uint64_t op)
{
    dht_ctx *c = gosr_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->dht = d;
    c->op = op;
    c->next = d->ctxs;
    d->ctxs = c;
    return c;
}

void mesh__dht_get(mesh_dht *d, const uint8_t key[20], uint64_t op)
{
    dht_ctx *c = ctx_new(d, op);
    if (!c) {
        push(d, op, true, false, NULL);
        return;
    }
    key_of(key, &c->key);
    dht_runner_get(d->runner, &c->key, on_get_value, on_get_done, c);
}

void mesh__dht_listen(mesh_dht *d, const uint8_t key[20], uint64_t op)
{
    dht_ctx *c = ctx_new(d, op);
    if (!c)
        return;
    key_of(key, &c->key);
    c->token = dht_runner_listen(d->runner, &c->key, on_listen_value, NULL, c);
}

bool mesh__dht_poll(mesh_dht *d, mesh_dht_event *ev)
{
    pthread_mutex_lock(&d->mu);
    ev_node *e = d->head;
    if (e) {
        d->head = e->next;
        if (!d->head)
            d->tail = NULL;
    }
    pthread_mutex_unlock(&d->mu);
    if (!e)
        return false;
    *ev = e->ev;
    free(e);
    return true;
}

void mesh__dht_stop(mesh_dht *d)
{
    if (!d)
        return;
    for (dht_ctx *c = d->ctxs; c && d->runner; c = c->next)
        if (c->token) {
            dht_runner_cancel_listen(d->runner, &c->key, c->token);
            dht_op_token_delete(c->token);
            c->token = NULL;
        }
    if (d->runner)
        dht_runner_delete(d->runner); /* joins the runner's threads */
    mesh_dht_event ev;
    while (mesh__dht_poll(d, &ev))
        free(ev.text);
    while (d->ctxs) {
        dht_ctx *c = d->ctxs;
        d->ctxs = c->next;
        gosr_free(c);
    }
    pthread_mutex_destroy(&d->mu);
    gosr_free(d);
}
