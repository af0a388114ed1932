/*
 * ckptrestore.c — restoring a node checkpoint at open: DIR/checkpoint, or
 * DIR/checkpoint.prev when the first is missing or does not decode (a file
 * that does not decode is renamed checkpoint.bad-<unix time> and kept);
 * the world's entities, kv and tick counter come back inside one batch,
 * and each module's `state` is put back into its sandbox (through
 * migrate(old_state) when the active version changed since the checkpoint,
 * or left fresh with a warning when that fails). The open never fails
 * because of a checkpoint: the outcome is reported in the node status.
 *
 * Design: docs/kernel.md ("Checkpoints", "Restore at open").
 */
#include "kernel/checkpoint.h"
#include "kernel/kernel_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Renames a file that failed to decode to NAME.bad-<unix time>[-k] so the
 * next write cannot rotate it over a good .prev; the name goes to `bad`. */
static void keep_bad(gosr_node *n, const char *name, json_t *bad)
{
    char *from = gosr_asprintf("%s/%s", n->dir, name);
    long t = (long)(gosr_time_wall_ns() / 1000000000u);
    struct stat st;
    for (int k = 0; from && k < 100; k++) {
        char *to = k ? gosr_asprintf("%s.bad-%ld-%d", from, t, k)
                     : gosr_asprintf("%s.bad-%ld", from, t);
        bool taken = to && stat(to, &st) == 0;
        if (to && !taken && gosr_io()->rename(from, to) == 0) {
            json_array_append_new(bad, json_string(strrchr(to, '/') + 1));
            gosr_fsync_dir(to);
            gosr_free(to);
            break;
        }
        gosr_free(to);
        if (!taken)
            break;
    }
    gosr_free(from);
}

/* Reads and decodes DIR/name. GOSR_ENOENT when absent. */
static int load(gosr_node *n, const char *name, ckpt_data **out,
                gosr_error *err)
{
    const gosr_world_config *wc = gosr_world_get_config(n->world);
    char *p = gosr_asprintf("%s/%s", n->dir, name);
    uint8_t *buf = NULL;
    size_t len = 0;
    /* snapshot at most 128 bytes per slot; module states are bounded by
     * the value limits (16 MiB of strings each) */
    size_t max =
        ((size_t)wc->capacity + wc->kv_capacity) * 128 + ((size_t)1 << 30);
    int rc = p ? gosr_file_read_all(p, max, &buf, &len) : GOSR_ENOMEM;
    gosr_free(p);
    if (rc == GOSR_ENOENT)
        return gosr_error_set(err, GOSR_ENOENT, "no_checkpoint", "%s absent",
                              name);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "checkpoint_unreadable",
                              "reading %s: %s", name, gosr_strerror(rc));
    rc = kernel__ckpt_decode(buf, len, wc, out, err);
    gosr_free(buf);
    return rc;
}

/* Puts one module's state back; returns how ("restored", "migrated",
 * "fresh", "inactive"). */
static const char *restore_module(gosr_node *n, const ckpt_mod *m)
{
    kslot *s = kernel__slot_find(n, m->id);
    if (!s)
        return "inactive";
    gosr_error e = {0};
    if (!strcmp(s->ver->version, m->version)) {
        if (gosr_sandbox_set_global(s->sb, "state", &m->state, &e) == GOSR_OK)
            return "restored";
    } else if (kernel__module_migrate(s->sb, s->ver, &m->state, &m->schema,
                                      &e) == GOSR_OK) {
        return "migrated";
    }
    gosr_log(GOSR_LOG_WARN, "kernel",
             "checkpoint: %s@%s keeps its fresh "
             "state (checkpoint has %s): %s: %s",
             m->id, s->ver->version, m->version, e.reason, e.detail);
    return "fresh";
}

/* The world, the tick counter and the module states from c. */
static int apply(gosr_node *n, const ckpt_data *c, json_t *st, gosr_error *err)
{
    int rc = gosr_world_begin(n->world);
    if (rc == GOSR_OK && (rc = gosr_world_restore(n->world, c->snap)) == 0)
        rc = gosr_world_set_tick(n->world, c->tick);
    gosr_world_commit(n->world, false);
    gosr_hash h;
    gosr_world_hash(n->world, &h);
    if (rc == GOSR_OK && memcmp(h.b, c->world_hash.b, 32) != 0)
        rc = GOSR_EINTERNAL;
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "checkpoint_restore_failed",
                              "restoring the world: %s", gosr_strerror(rc));
    json_t *mods = json_object();
    for (size_t i = 0; i < c->nmods; i++)
        json_object_set_new(mods, c->mods[i].id,
                            json_string(restore_module(n, &c->mods[i])));
    json_object_set_new(st, "modules", mods);
    pthread_mutex_lock(&n->ctr_mu);
    n->world_tick = c->tick;
    n->world_count = gosr_world_count(n->world);
    n->last_hash = h;
    pthread_mutex_unlock(&n->ctr_mu);
    return GOSR_OK;
}

/* Fills the status object of a successful restore from `name`. */
static void report(json_t *st, const char *name, const ckpt_data *c)
{
    char hash[65];
    gosr_hash_hex(&c->world_hash, hash);
    uint64_t now = gosr_time_wall_ns();
    json_object_set_new(st, "restored", json_true());
    json_object_set_new(st, "source", json_string(name));
    json_object_set_new(st, "tick", json_integer((json_int_t)c->tick));
    json_object_set_new(st, "world_hash", json_string(hash));
    json_object_set_new(st, "entities",
                        json_integer(gosr_world_snap_count(c->snap)));
    json_object_set_new(
        st, "age_s",
        json_real(now > c->wall_ns ? (now - c->wall_ns) / 1e9 : 0));
    gosr_log(GOSR_LOG_INFO, "kernel",
             "checkpoint restored from %s: tick "
             "%llu world_hash %s",
             name, (unsigned long long)c->tick, hash);
}

/* Tries one file. GOSR_OK = restored; otherwise err says why. */
static int try_file(gosr_node *n, const char *name, json_t *st, json_t *bad,
                    gosr_error *err)
{
    ckpt_data *c = NULL;
    int rc = load(n, name, &c, err);
    if (rc == GOSR_OK && (rc = apply(n, c, st, err)) == GOSR_OK)
        report(st, name, c);
    kernel__ckpt_free(c);
    /* a file that is there but does not decode is kept aside; one for
     * another world configuration is left as it is */
    if (rc != GOSR_OK && rc != GOSR_ENOENT && rc != GOSR_ESTATE &&
        rc != GOSR_ENOMEM)
        keep_bad(n, name, bad);
    return rc;
}

static void restore_files(gosr_node *n, json_t *st)
{
    json_t *errors = json_object(), *bad = json_array();
    const char *names[2] = {CKPT_FILE, CKPT_PREV};
    const char *reason = NULL;
    for (int i = 0; i < 2; i++) {
        gosr_error e = {0};
        if (try_file(n, names[i], st, bad, &e) == GOSR_OK)
            break;
        json_object_set_new(errors, names[i], json_string(e.reason));
        if (!reason || !strcmp(reason, "no_checkpoint"))
            reason = json_string_value(json_object_get(errors, names[i]));
        if (strcmp(e.reason, "no_checkpoint") != 0)
            gosr_log(GOSR_LOG_ERROR, "kernel", "checkpoint %s: %s: %s",
                     names[i], e.reason, e.detail);
    }
    if (!json_is_true(json_object_get(st, "restored"))) {
        json_object_set_new(st, "restored", json_false());
        json_object_set_new(st, "reason", json_string(reason));
        if (strcmp(reason, "no_checkpoint") != 0)
            gosr_log(GOSR_LOG_ERROR, "kernel",
                     "no usable checkpoint (%s): "
                     "starting with a fresh world",
                     reason);
    }
    if (json_object_size(errors))
        json_object_set(st, "errors", errors);
    if (json_array_size(bad))
        json_object_set(st, "bad_files", bad);
    json_decref(errors);
    json_decref(bad);
}

void kernel__ckpt_restore(gosr_node *n)
{
    json_t *st = json_object();
    if (!st)
        return;
    if (!n->ckpt_every) {
        json_object_set_new(st, "restored", json_false());
        json_object_set_new(st, "reason", json_string("checkpoints_off"));
    } else if (n->session) {
        /* a session log starts from a fresh world so it replays from its
         * header alone (docs/kernel.md, "Checkpoints and session logs") */
        json_object_set_new(st, "restored", json_false());
        json_object_set_new(st, "reason", json_string("session_log"));
    } else {
        restore_files(n, st);
    }
    n->ckpt_restore = st;
}
