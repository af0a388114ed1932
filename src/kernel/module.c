/*
 * module.c — module slots: loading a version into a fresh sandbox (entry
 * script from the store, init, migrate or carry-over of the state table),
 * the tick system that calls every active module's on_event and tick
 * inside its sandbox, and the whole-set dependency check.
 * Design: docs/kernel.md ("Module Lua contract", "Swap").
 */
#include "kernel/kernel_int.h"

#include <stdio.h>
#include <string.h>

/* ctx = {tick=, module=, version=} (caller frees). */
static int make_ctx(const kver *v, uint64_t tick, gosr_sbv *ctx)
{
    gosr_sbv k, s;
    int rc;
    *ctx = (gosr_sbv){0};
    if ((rc = gosr_sbv_str(&k, "tick", 4)) ||
        (rc = gosr_sbv_table_set(ctx, k, gosr_sbv_int((int64_t)tick))))
        return rc;
    if ((rc = gosr_sbv_str(&k, "module", 6)) ||
        (rc = gosr_sbv_str(&s, v->id, strlen(v->id))) ||
        (rc = gosr_sbv_table_set(ctx, k, s)))
        return rc;
    if ((rc = gosr_sbv_str(&k, "version", 7)) ||
        (rc = gosr_sbv_str(&s, v->version, strlen(v->version))) ||
        (rc = gosr_sbv_table_set(ctx, k, s)))
        return rc;
    return GOSR_OK;
}

/* Calls fn if the module defines it; a missing function is not an error. */
static int call_opt(gosr_sandbox *sb, const char *fn, const gosr_sbv *args,
                    size_t nargs, gosr_sbv *ret, gosr_error *err)
{
    gosr_error e = {0};
    int rc = gosr_sandbox_call(sb, fn, args, nargs, ret, ret ? 1 : 0, &e);
    if (rc == GOSR_ENOENT && strcmp(e.reason, "no_such_function") == 0)
        return GOSR_ENOENT;
    if (rc != GOSR_OK && err)
        *err = e;
    return rc;
}

/* State hand-over: migrate(old) if defined, else carry the table over
 * when both versions declare the same STATE_SCHEMA. */
int kernel__module_migrate(gosr_sandbox *sb, const kver *v,
                           const gosr_sbv *old_state,
                           const gosr_sbv *old_schema, gosr_error *err)
{
    gosr_sbv ret = {0};
    int rc = call_opt(sb, "migrate", old_state, 1, &ret, err);
    if (rc == GOSR_OK) {
        rc = gosr_sandbox_set_global(sb, "state", &ret, err);
        gosr_sbv_free(&ret);
        return rc;
    }
    if (rc != GOSR_ENOENT)
        return gosr_error_wrap(err, rc, "migration_failed",
                               "%s@%s migrate() failed", v->id, v->version);
    if (old_state->type == GOSR_SBV_NIL)
        return GOSR_OK;
    gosr_sbv schema = {0};
    rc = gosr_sandbox_get_global(sb, "STATE_SCHEMA", &schema, err);
    bool same = rc == GOSR_OK && schema.type != GOSR_SBV_NIL && old_schema &&
                gosr_sbv_equal(&schema, old_schema);
    gosr_sbv_free(&schema);
    if (!same)
        return gosr_error_set(err, GOSR_ESTATE, "state_schema_mismatch",
                              "%s@%s has no migrate() and its STATE_SCHEMA "
                              "differs from the running version's",
                              v->id, v->version);
    return gosr_sandbox_set_global(sb, "state", old_state, err);
}

int kernel__module_load(gosr_node *n, const kver *v, const gosr_sbv *old_state,
                        const gosr_sbv *old_schema, gosr_sandbox **out,
                        gosr_error *err)
{
    gosr_buf src = {0};
    gosr_sandbox *sb = NULL;
    gosr_sbv ctx = {0};
    int rc = kernel__registry_source(n, v, &src, err);
    if (rc != GOSR_OK)
        return rc;
    gosr_sandbox_config c = {.mode = n->cfg.mode,
                             .fuel = n->cfg.fuel,
                             .mem_limit = n->cfg.mem_limit,
                             .seed = gosr_world_get_config(n->world)->seed,
                             .name = v->id,
                             .host = n->host,
                             .declared_caps = v->caps,
                             .granted_caps = n->granted};
    rc = gosr_sandbox_create(&c, &sb, err);
    if (rc != GOSR_OK)
        goto out_src;
    rc = gosr_sandbox_load(sb, (const char *)src.data, src.len, v->entry,
                           NULL, err);
    if (rc == GOSR_OK)
        rc = make_ctx(v, 0, &ctx);
    if (rc == GOSR_OK) {
        rc = call_opt(sb, "init", &ctx, 1, NULL, err);
        rc = rc == GOSR_ENOENT ? GOSR_OK : rc;
    }
    if (rc == GOSR_OK && old_state)
        rc = kernel__module_migrate(sb, v, old_state, old_schema, err);
    if (rc != GOSR_OK) {
        gosr_error_wrap(err, rc, "module_load_failed", "%s@%s: load failed",
                        v->id, v->version);
        gosr_sandbox_destroy(sb);
        sb = NULL;
    }
    *out = sb;
    gosr_sbv_free(&ctx);
out_src:
    gosr_buf_free(&src);
    return rc;
}

/* ---- slots ---------------------------------------------------------------- */

kslot *kernel__slot_find(gosr_node *n, const char *id)
{
    for (size_t i = 0; i < n->nslots; i++)
        if (strcmp(n->slots[i].ver->id, id) == 0)
            return &n->slots[i];
    return NULL;
}

/* Takes ownership of v and sb; slots stay sorted by id. */
int kernel__slot_add(gosr_node *n, kver *v, gosr_sandbox *sb, kslot **out)
{
    kslot *s = gosr_realloc(n->slots, (n->nslots + 1) * sizeof *s);
    if (!s)
        return GOSR_ENOMEM;
    n->slots = s;
    size_t at = 0;
    while (at < n->nslots && strcmp(n->slots[at].ver->id, v->id) < 0)
        at++;
    memmove(&n->slots[at + 1], &n->slots[at],
            (n->nslots - at) * sizeof *n->slots);
    n->nslots++;
    memset(&n->slots[at], 0, sizeof *n->slots);
    n->slots[at].ver = v;
    n->slots[at].sb = sb;
    if (n->m_script) {
        const char *lv[1] = {v->id};
        gosr_admin_metric_series(n->m_script, lv, &n->slots[at].script_ns,
                                 NULL);
    }
    if (out)
        *out = &n->slots[at];
    return GOSR_OK;
}

void kernel__slot_clear(kslot *s)
{
    gosr_sandbox_destroy(s->sb);
    gosr_sandbox_destroy(s->old_sb);
    kernel__kver_free(s->ver);
    kernel__kver_free(s->old_ver);
    gosr_world_snap_free(s->snap);
    memset(s, 0, sizeof *s);
}

void kernel__slot_remove(gosr_node *n, kslot *s)
{
    size_t at = (size_t)(s - n->slots);
    kernel__slot_clear(s);
    memmove(&n->slots[at], &n->slots[at + 1],
            (n->nslots - at - 1) * sizeof *n->slots);
    n->nslots--;
}

/* ---- the tick system ------------------------------------------------------ */

/* ev = {name=, payload=, user=, tick=} (caller frees). */
static int event_value(const gosr_event *e, gosr_sbv *out)
{
    gosr_sbv k, s;
    int rc;
    *out = (gosr_sbv){0};
    if ((rc = gosr_sbv_str(&k, "name", 4)) ||
        (rc = gosr_sbv_str(&s, e->name, strlen(e->name))) ||
        (rc = gosr_sbv_table_set(out, k, s)))
        return rc;
    if ((rc = gosr_sbv_str(&k, "payload", 7)) ||
        (rc = gosr_sbv_str(&s, (const char *)e->payload, e->payload_len)) ||
        (rc = gosr_sbv_table_set(out, k, s)))
        return rc;
    const char *u = e->user_id ? e->user_id : "";
    if ((rc = gosr_sbv_str(&k, "user", 4)) ||
        (rc = gosr_sbv_str(&s, u, strlen(u))) ||
        (rc = gosr_sbv_table_set(out, k, s)))
        return rc;
    if ((rc = gosr_sbv_str(&k, "tick", 4)) ||
        (rc = gosr_sbv_table_set(out, k, gosr_sbv_int((int64_t)e->tick))))
        return rc;
    return GOSR_OK;
}

/* Records a fault of the slot's sandbox for after_tick to act on. */
static void note_fault(gosr_node *n, kslot *s)
{
    const gosr_sandbox_fault *f = gosr_sandbox_fault_get(s->sb);
    if (!s->faulted)
        s->fault = *f;
    s->faulted = true;
    pthread_mutex_lock(&n->ctr_mu);
    n->ctr.faults++;
    pthread_mutex_unlock(&n->ctr_mu);
    if (n->m_faults)
        gosr_admin_series_add(n->m_faults, 1);
    gosr_log(GOSR_LOG_WARN, "kernel", "%s@%s fault: %s at %s: %s",
             s->ver->id, s->ver->version,
             gosr_sandbox_reason_name(f->reason), f->where, f->message);
}

static void run_slot(gosr_node *n, kslot *s, uint64_t tick,
                     const gosr_event *events, size_t nevents)
{
    gosr_sbv args[2] = {{0}, {0}};
    uint64_t t0 = gosr_time_mono_ns();
    n->cur_sb = s->sb;
    n->cur_slot = s;
    n->spawns = 0;
    gosr_sandbox_tick_begin(s->sb, tick);
    if (make_ctx(s->ver, tick, &args[0]) != GOSR_OK)
        goto out;
    for (size_t i = 0; i < nevents && !s->faulted; i++) {
        if (!kernel__ai_event_for(&events[i], s->ver->id))
            continue; /* an AI answer goes to its requester only */
        if (event_value(&events[i], &args[1]) == GOSR_OK) {
            int rc = call_opt(s->sb, "on_event", args, 2, NULL, NULL);
            if (rc != GOSR_OK && rc != GOSR_ENOENT)
                note_fault(n, s);
        }
        gosr_sbv_free(&args[1]);
    }
    if (!s->faulted) {
        int rc = call_opt(s->sb, "tick", args, 1, NULL, NULL);
        if (rc != GOSR_OK && rc != GOSR_ENOENT)
            note_fault(n, s);
    }
out:
    gosr_sbv_free(&args[0]);
    n->cur_sb = NULL;
    n->cur_slot = NULL;
    if (s->script_ns)
        gosr_admin_series_observe(s->script_ns,
                                  (double)(gosr_time_mono_ns() - t0) / 1e9);
}

int kernel__system(void *ud, gosr_world *w, uint64_t tick,
                   const gosr_event *events, size_t nevents)
{
    gosr_node *n = ud;
    if (n->replay) {
        n->world = w;
        if (n->pending_after)
            kernel__after_tick(n);
        n->pending_after = true;
        for (size_t i = 0; i < nevents; i++)
            if (kernel__replay_event(n, &events[i]) != GOSR_OK)
                return GOSR_EFORMAT;
    }
    for (size_t i = 0; i < n->nslots; i++) {
        kslot *s = &n->slots[i];
        s->faulted = false;
        if (s->dead)
            continue;
        run_slot(n, s, tick, events, nevents);
        if (s->faulted && !s->probation && gosr_sandbox_is_dead(s->sb))
            s->dead = true; /* killed: stays loaded, no longer run */
    }
    if (n->layer.tick && /* the patch layer (docs/patch.md) */
        n->layer.tick(n->layer.ud, w, tick, events, nevents) != GOSR_OK)
        gosr_log(GOSR_LOG_WARN, "kernel", "patch layer failed at tick %llu",
                 (unsigned long long)tick);
    return GOSR_OK;
}

/* ---- dependency check of the set after a switch --------------------------- */

static void fill_dep(gosr_dep_module *d, const kver *v)
{
    d->id = v->id;
    d->version = v->version;
    d->engine_compat = v->engine_compat;
    d->dep_ids = (const char *const *)v->dep_ids;
    d->dep_ranges = (const char *const *)v->dep_ranges;
    d->ndeps = v->ndeps;
}

int kernel__deps_with(gosr_node *n, const kver *cand, gosr_error *err)
{
    gosr_dep_module *set = gosr_calloc(n->nslots + 1, sizeof *set);
    if (!set)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "deps");
    size_t k = 0;
    for (size_t i = 0; i < n->nslots; i++)
        if (strcmp(n->slots[i].ver->id, cand->id) != 0)
            fill_dep(&set[k++], n->slots[i].ver);
    fill_dep(&set[k++], cand);
    int rc = gosr_deps_check(set, k, GOSR_ENGINE_VERSION, err);
    gosr_free(set);
    return rc;
}
