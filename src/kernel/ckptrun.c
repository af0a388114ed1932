/*
 * ckptrun.c — the node's checkpoints at run time:
 *
 *   take     (tick thread, between two ticks) copy the world's slots
 *            (gosr_world_snapshot) and every active module's `state` and
 *            STATE_SCHEMA; no encoding, hashing or I/O here
 *   write    (writer thread) encode, BLAKE3, rename DIR/checkpoint to
 *            DIR/checkpoint.prev, gosr_file_write_atomic (temp, fsync,
 *            rename, fsync dir)
 *   when     every ckpt_every ticks (a round is skipped while a swap is
 *            loading or on probation) and once at clean stop
 *   restore  (gosr_node_open, after the active versions are loaded) read
 *            DIR/checkpoint, else DIR/checkpoint.prev; a file that fails
 *            to decode is renamed checkpoint.bad-<unix time>; put back the
 *            world, the tick counter and each module's state (migrate()
 *            when the active version changed since)
 *
 * Design: docs/kernel.md ("Checkpoints").
 */
#include "kernel/checkpoint.h"
#include "kernel/kernel_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CKPT_DEFAULT_EVERY 300

/* ---- take (tick thread) ---------------------------------------------------
 */

/* Copies one slot's version, state and schema into m. */
static int take_module(const kslot *s, ckpt_mod *m, gosr_error *err)
{
    snprintf(m->id, sizeof m->id, "%s", s->ver->id);
    snprintf(m->version, sizeof m->version, "%s", s->ver->version);
    int rc = gosr_sandbox_get_global(s->sb, "state", &m->state, err);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_get_global(s->sb, "STATE_SCHEMA", &m->schema, err);
    if (rc != GOSR_OK) {
        gosr_sbv_free(&m->state);
        gosr_sbv_free(&m->schema);
    }
    return rc;
}

/* A checkpoint of the world and the slots as they are now; NULL on
 * ENOMEM. A module whose state cannot be read is left out (logged). */
static ckpt_data *take(gosr_node *n)
{
    ckpt_data *c = gosr_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->tick = gosr_world_tick(n->world);
    c->wall_ns = gosr_time_wall_ns();
    c->wc = *gosr_world_get_config(n->world);
    c->mods = gosr_calloc(n->nslots ? n->nslots : 1, sizeof *c->mods);
    if (!c->mods || gosr_world_snapshot(n->world, &c->snap) != GOSR_OK) {
        kernel__ckpt_free(c);
        return NULL;
    }
    for (size_t i = 0; i < n->nslots; i++) {
        gosr_error e = {0};
        if (take_module(&n->slots[i], &c->mods[c->nmods], &e) == GOSR_OK)
            c->nmods++;
        else
            gosr_log(GOSR_LOG_WARN, "kernel",
                     "checkpoint leaves out %s: "
                     "%s: %s",
                     n->slots[i].ver->id, e.reason, e.detail);
    }
    return c;
}

/* Hands a checkpoint to the writer; a pending one it has not started yet
 * is replaced (the newer one supersedes it). */
static void submit(gosr_node *n, ckpt_data *c)
{
    pthread_mutex_lock(&n->ckpt_mu);
    if (n->ckpt_pending) {
        kernel__ckpt_free(n->ckpt_pending);
        n->ckpt_skipped++;
    }
    n->ckpt_pending = c;
    pthread_cond_broadcast(&n->ckpt_cv);
    pthread_mutex_unlock(&n->ckpt_mu);
}

static void take_and_submit(gosr_node *n)
{
    uint64_t t0 = gosr_time_mono_ns();
    ckpt_data *c = take(n);
    uint64_t dt = gosr_time_mono_ns() - t0;
    if (!c) {
        gosr_log(GOSR_LOG_ERROR, "kernel", "checkpoint: out of memory");
        return;
    }
    pthread_mutex_lock(&n->ckpt_mu);
    n->ckpt_take_ns = dt;
    pthread_mutex_unlock(&n->ckpt_mu);
    submit(n, c);
}

void kernel__ckpt_after_tick(gosr_node *n)
{
    if (!n->ckpt_running || ++n->ckpt_since < n->ckpt_every)
        return;
    n->ckpt_since = 0;
    if (atomic_load(&n->swap_busy)) { /* skip this round */
        pthread_mutex_lock(&n->ckpt_mu);
        n->ckpt_skipped++;
        pthread_mutex_unlock(&n->ckpt_mu);
        return;
    }
    take_and_submit(n);
}

/* ---- write (writer thread) ------------------------------------------------
 */

static char *path_of(gosr_node *n, const char *name)
{
    return gosr_asprintf("%s/%s", n->dir, name);
}

/* Encodes c, keeps the current file as .prev and replaces it atomically. */
static int write_one(gosr_node *n, ckpt_data *c, size_t *bytes, gosr_error *err)
{
    gosr_buf b = {0};
    char *cur = path_of(n, CKPT_FILE), *prev = path_of(n, CKPT_PREV);
    int rc = cur && prev ? kernel__ckpt_encode(c, &b, err) : GOSR_ENOMEM;
    if (rc == GOSR_OK && gosr_io()->rename(cur, prev) != 0 && errno != ENOENT)
        rc = gosr_error_set(err, gosr_status_from_errno(errno),
                            "checkpoint_write", "keeping %s as %s: %s", cur,
                            CKPT_PREV, strerror(errno));
    if (rc == GOSR_OK &&
        (rc = gosr_file_write_atomic(cur, b.data, b.len, 0600)) != GOSR_OK)
        gosr_error_set(err, rc, "checkpoint_write", "writing %s: %s", cur,
                       gosr_strerror(rc));
    *bytes = b.len;
    gosr_buf_free(&b);
    gosr_free(cur);
    gosr_free(prev);
    return rc;
}

static void write_and_count(gosr_node *n, ckpt_data *c)
{
    gosr_error e = {0};
    size_t bytes = 0;
    uint64_t t0 = gosr_time_mono_ns();
    int rc = write_one(n, c, &bytes, &e);
    uint64_t dt = gosr_time_mono_ns() - t0;
    char hash[65];
    gosr_hash_hex(&c->world_hash, hash);
    if (rc == GOSR_OK)
        gosr_log(GOSR_LOG_INFO, "kernel",
                 "checkpoint written: tick %llu "
                 "world_hash %s (%zu bytes, %llu us)",
                 (unsigned long long)c->tick, hash, bytes,
                 (unsigned long long)(dt / 1000));
    else
        gosr_log(GOSR_LOG_ERROR, "kernel",
                 "checkpoint at tick %llu not "
                 "written: %s: %s",
                 (unsigned long long)c->tick, e.reason, e.detail);
    pthread_mutex_lock(&n->ckpt_mu);
    if (rc == GOSR_OK) {
        n->ckpt_written++;
        n->ckpt_last_tick = c->tick;
        n->ckpt_last_wall_ns = c->wall_ns;
        n->ckpt_last_bytes = bytes;
        n->ckpt_write_ns = dt;
    } else {
        n->ckpt_failed++;
    }
    pthread_mutex_unlock(&n->ckpt_mu);
}

static void *writer_main(void *arg)
{
    gosr_node *n = arg;
    pthread_mutex_lock(&n->ckpt_mu);
    for (;;) {
        while (!n->ckpt_pending && !n->ckpt_quit)
            pthread_cond_wait(&n->ckpt_cv, &n->ckpt_mu);
        ckpt_data *c = n->ckpt_pending;
        if (!c)
            break; /* quit and nothing left */
        n->ckpt_pending = NULL;
        n->ckpt_writing = true;
        pthread_mutex_unlock(&n->ckpt_mu);
        write_and_count(n, c);
        kernel__ckpt_free(c);
        pthread_mutex_lock(&n->ckpt_mu);
        n->ckpt_writing = false;
        pthread_cond_broadcast(&n->ckpt_cv);
    }
    pthread_mutex_unlock(&n->ckpt_mu);
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------------
 */

int kernel__ckpt_open(gosr_node *n, gosr_error *err)
{
    uint32_t every = n->cfg.checkpoint_ticks;
    n->ckpt_every = every == GOSR_NODE_CHECKPOINT_OFF ? 0
                    : every                           ? every
                                                      : CKPT_DEFAULT_EVERY;
    if (n->replay || !n->ckpt_every)
        return GOSR_OK;
    pthread_mutex_init(&n->ckpt_mu, NULL);
    pthread_cond_init(&n->ckpt_cv, NULL);
    if (pthread_create(&n->ckpt_thread, NULL, writer_main, n) != 0) {
        pthread_cond_destroy(&n->ckpt_cv);
        pthread_mutex_destroy(&n->ckpt_mu);
        return gosr_error_set(err, GOSR_EIO, "thread",
                              "checkpoint writer: pthread_create");
    }
    n->ckpt_running = true;
    return GOSR_OK;
}

void kernel__ckpt_stop(gosr_node *n)
{
    if (!n->ckpt_running || n->ckpt_final)
        return;
    n->ckpt_final = true;
    pthread_mutex_lock(&n->ctr_mu);
    bool ran = n->ctr.ticks > 0;
    pthread_mutex_unlock(&n->ctr_mu);
    if (!ran) /* the world is the one restored at open (or fresh) */
        return;
    take_and_submit(n);
    pthread_mutex_lock(&n->ckpt_mu);
    while (n->ckpt_pending || n->ckpt_writing)
        pthread_cond_wait(&n->ckpt_cv, &n->ckpt_mu);
    pthread_mutex_unlock(&n->ckpt_mu);
}

void kernel__ckpt_close(gosr_node *n)
{
    json_decref(n->ckpt_restore);
    n->ckpt_restore = NULL;
    if (!n->ckpt_running)
        return;
    pthread_mutex_lock(&n->ckpt_mu);
    n->ckpt_quit = true;
    pthread_cond_broadcast(&n->ckpt_cv);
    pthread_mutex_unlock(&n->ckpt_mu);
    pthread_join(n->ckpt_thread, NULL);
    n->ckpt_running = false;
    kernel__ckpt_free(n->ckpt_pending);
    n->ckpt_pending = NULL;
    pthread_cond_destroy(&n->ckpt_cv);
    pthread_mutex_destroy(&n->ckpt_mu);
}

json_t *kernel__ckpt_status(gosr_node *n)
{
    json_t *o =
        n->ckpt_restore ? json_deep_copy(n->ckpt_restore) : json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "every", json_integer(n->ckpt_every));
    if (!n->ckpt_running)
        return o;
    pthread_mutex_lock(&n->ckpt_mu);
    json_t *w = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "written",
        (json_int_t)n->ckpt_written, "failed", (json_int_t)n->ckpt_failed,
        "skipped", (json_int_t)n->ckpt_skipped, "last_tick",
        (json_int_t)n->ckpt_last_tick, "last_bytes",
        (json_int_t)n->ckpt_last_bytes, "take_ns", (json_int_t)n->ckpt_take_ns,
        "write_ns", (json_int_t)n->ckpt_write_ns);
    uint64_t last = n->ckpt_last_wall_ns;
    pthread_mutex_unlock(&n->ckpt_mu);
    if (w && last) {
        uint64_t now = gosr_time_wall_ns();
        json_object_set_new(w, "last_age_s",
                            json_real(now > last ? (now - last) / 1e9 : 0));
    }
    json_object_update(o, w);
    json_decref(w);
    return o;
}
