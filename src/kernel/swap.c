/*
 * swap.c — activation, hot swap, quarantine, automatic rollback and
 * retirement (docs/kernel.md, "Swap state machine"):
 *
 *   prepare  (tick thread, between ticks) safe mode, busy, registry,
 *            whole-set dependency check, snapshot of the old Lua state
 *   load     (caller's thread: HTTP worker or test) fresh sandbox, init,
 *            migrate / carry-over; then the ledger row "activate" (the
 *            ledger is the only record of which version is active, so the
 *            row is the commit point for crash consistency)
 *   switch   (tick thread, between ticks) re-migrate if the old state
 *            moved since prepare, world snapshot, pointer switch; the old
 *            sandbox stays loaded (quarantined)
 *   probation N ticks: a fault -> world restored, switch back, "rollback"
 *            row with the fault record; N healthy ticks -> "retire" row,
 *            old sandbox destroyed
 */
#include "kernel/kernel_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ledger helpers --------------------------------------------------------- */

int kernel__ledger_append(gosr_node *n, const char *actor, const char *action,
                          const char *id, const char *version,
                          const char *reason, json_t *evidence,
                          gosr_error *err)
{
    char *ev = evidence ? json_dumps(evidence, JSON_COMPACT | JSON_SORT_KEYS)
                        : NULL;
    gosr_ledger_row r = {.actor = (char *)actor,
                         .action = (char *)action,
                         .subject = (char *)id,
                         .version = (char *)version,
                         .reason = (char *)(reason ? reason : ""),
                         .evidence = ev};
    pthread_mutex_lock(&n->ledger_mu);
    int rc = gosr_ledger_append(n->ledger, &r, err);
    pthread_mutex_unlock(&n->ledger_mu);
    free(ev);
    json_decref(evidence);
    return rc;
}

/* Activation history as a stack: activate pushes; a rollback to V pops
 * back to V (or pushes V when it is not on the stack), so the entry below
 * the top is always what a plain rollback returns to. */
static void history_push(json_t *h, const char *action, const char *version)
{
    if (!strcmp(action, "rollback")) {
        size_t k = json_array_size(h);
        while (k > 0) {
            const char *v = json_string_value(json_array_get(h, k - 1));
            if (!strcmp(v, version))
                return;
            json_array_remove(h, --k);
        }
    }
    json_array_append_new(h, json_string(version));
}

/* Replays the ledger: {"id": "version"} of what is active, plus (for
 * rollback targets) {"id": ["v1","v2",...]} activation history. Stops at
 * the first broken row in safe mode. Caller frees *map. */
/* "probation": id -> the version an `activate` row replaced, until a
 * retire, rollback or deactivate row for the id ends that probation. A
 * first activation (nothing replaced) has no probation. */
static void probation_track(json_t *prob, json_t *act,
                            const gosr_ledger_row *r)
{
    const char *prev = json_string_value(json_object_get(act, r->subject));
    if (!strcmp(r->action, "activate") && prev && strcmp(prev, r->version))
        json_object_set_new(prob, r->subject, json_string(prev));
    else
        json_object_del(prob, r->subject);
}

int kernel__ledger_active(gosr_node *n, json_t **map, gosr_error *err)
{
    int64_t count = 0, bad = 0;
    uint8_t head[32];
    json_t *m = json_pack("{s:{}, s:{}, s:{}}", "active", "history",
                          "probation");
    if (!m)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "map");
    pthread_mutex_lock(&n->ledger_mu);
    gosr_ledger_head(n->ledger, &count, head);
    if (gosr_ledger_safe_mode(n->ledger) &&
        gosr_ledger_verify(n->ledger, &bad, NULL) != GOSR_OK && bad > 0)
        count = bad - 1;
    int rc = GOSR_OK;
    json_t *act = json_object_get(m, "active");
    json_t *hist = json_object_get(m, "history");
    json_t *prob = json_object_get(m, "probation");
    for (int64_t seq = 1; seq <= count && rc == GOSR_OK; seq++) {
        gosr_ledger_row r;
        rc = gosr_ledger_get(n->ledger, seq, &r, err);
        if (rc != GOSR_OK)
            break;
        if (!strcmp(r.action, "activate") || !strcmp(r.action, "rollback")) {
            probation_track(prob, act, &r);
            json_object_set_new(act, r.subject, json_string(r.version));
            json_t *h = json_object_get(hist, r.subject);
            if (!h)
                json_object_set_new(hist, r.subject, h = json_array());
            history_push(h, r.action, r.version);
        } else if (!strcmp(r.action, "deactivate")) {
            json_object_del(act, r.subject);
            json_object_del(prob, r.subject);
        } else if (!strcmp(r.action, "retire")) {
            json_object_del(prob, r.subject);
        }
        gosr_ledger_row_clear(&r);
    }
    pthread_mutex_unlock(&n->ledger_mu);
    if (rc != GOSR_OK) {
        json_decref(m);
        return rc;
    }
    *map = m;
    return GOSR_OK;
}

/* ---- running work on the tick thread ------------------------------------------- */

int kernel__exec(gosr_node *n, gosr_admin_job_fn fn, void *arg,
                 gosr_error *err)
{
    if (n->via_queue)
        return gosr_admin_queue_call(n->queue, fn, arg, 30000, err);
    return fn(arg, err);
}

/* ---- activation ---------------------------------------------------------------- */

/* One activation in flight (lives on the caller's stack). */
typedef struct act_job {
    gosr_node *n;          /* the node */
    const char *id;        /* module id */
    const char *version;   /* target version */
    const char *actor;     /* ledger actor */
    const char *action;    /* "activate" or "rollback" */
    kver *v;               /* target version (owned until switched) */
    char from[KVER_MAX];   /* running version, "" when none */
    gosr_sbv old_state;    /* running version's state at prepare */
    gosr_sbv old_schema;   /* its STATE_SCHEMA */
    gosr_sandbox *sb;      /* the loaded new sandbox (owned until switch) */
    uint32_t quarantine;   /* probation ticks; 0 = the node's setting */
} act_job;

static void retire_old(gosr_node *n, kslot *s);

static int job_prepare(void *arg, gosr_error *err)
{
    act_job *j = arg;
    gosr_node *n = j->n;
    if (gosr_ledger_safe_mode(n->ledger))
        return gosr_error_set(err, GOSR_EDENIED, "ledger_chain_broken",
                              "the activation ledger failed verification; "
                              "the node is in safe mode");
    if (atomic_load(&n->swap_busy))
        return gosr_error_set(err, GOSR_EBUSY, "swap_in_progress",
                              "another swap is loading or on probation");
    int rc;
    kslot *s = kernel__slot_find(n, j->id);
    if (s && strcmp(s->ver->version, j->version) == 0)
        return gosr_error_set(err, GOSR_EEXIST, "already_active",
                              "%s@%s is already active", j->id, j->version);
    rc = kernel__deps_with(n, j->v, err);
    if (rc != GOSR_OK)
        return rc;
    if (s) {
        snprintf(j->from, sizeof j->from, "%s", s->ver->version);
        rc = gosr_sandbox_get_global(s->sb, "state", &j->old_state, err);
        if (rc == GOSR_OK)
            rc = gosr_sandbox_get_global(s->sb, "STATE_SCHEMA",
                                         &j->old_schema, err);
        if (rc != GOSR_OK)
            return gosr_error_wrap(err, rc, "state_unreadable",
                                   "reading %s's state", j->id);
    }
    atomic_store(&n->swap_busy, true);
    return GOSR_OK;
}

/* Between two ticks: re-migrate if needed, snapshot, switch. */
static int job_switch(void *arg, gosr_error *err)
{
    act_job *j = arg;
    gosr_node *n = j->n;
    uint64_t t0 = gosr_time_mono_ns();
    kslot *s = kernel__slot_find(n, j->id);
    int rc = GOSR_OK;
    kernel__log_switch(n, "switch", j->id, j->version);
    if (!s) {
        rc = kernel__slot_add(n, j->v, j->sb, NULL);
        if (rc != GOSR_OK)
            return gosr_error_set(err, rc, "out_of_memory", "slot");
        j->v = NULL;
        j->sb = NULL;
        atomic_store(&n->swap_busy, false);
        goto out_count;
    }
    gosr_sbv now = {0};
    rc = gosr_sandbox_get_global(s->sb, "state", &now, err);
    if (rc == GOSR_OK && !gosr_sbv_equal(&now, &j->old_state))
        rc = kernel__module_migrate(j->sb, j->v, &now, &j->old_schema, err);
    gosr_sbv_free(&now);
    if (rc == GOSR_OK)
        rc = gosr_world_snapshot(n->world, &s->snap);
    if (rc != GOSR_OK)
        return rc;
    if (s->old_sb) /* replay of a log whose probation ended early */
        retire_old(n, s);
    s->old_ver = s->ver;
    s->old_sb = s->sb;
    s->ver = j->v;
    s->sb = j->sb;
    s->probation = true;
    s->healthy = 0;
    s->quarantine = j->quarantine ? j->quarantine
                    : n->cfg.quarantine_ticks ? n->cfg.quarantine_ticks
                                              : 30;
    s->dead = false;
    j->v = NULL;
    j->sb = NULL;
out_count:
    pthread_mutex_lock(&n->ctr_mu);
    n->ctr.swaps++;
    n->ctr.last_swap_commit_ns = gosr_time_mono_ns() - t0;
    pthread_mutex_unlock(&n->ctr_mu);
    if (n->m_swaps)
        gosr_admin_series_add(n->m_swaps, 1);
    if (!strcmp(j->action, "rollback")) {
        pthread_mutex_lock(&n->ctr_mu);
        n->ctr.rollbacks++;
        pthread_mutex_unlock(&n->ctr_mu);
        if (n->m_rollbacks)
            gosr_admin_series_add(n->m_rollbacks, 1);
    }
    return GOSR_OK;
}

static void job_release(act_job *j)
{
    kernel__kver_free(j->v);
    gosr_sandbox_destroy(j->sb);
    gosr_sbv_free(&j->old_state);
    gosr_sbv_free(&j->old_schema);
}

/* Load failures become 409 validation_failed: the old version runs on. */
static int load_new(act_job *j, gosr_error *err)
{
    int rc = kernel__module_load(j->n, j->v, j->from[0] ? &j->old_state : NULL,
                                 &j->old_schema, &j->sb, err);
    if (rc == GOSR_OK)
        return rc;
    if (rc == GOSR_EFAULT || rc == GOSR_EBUDGET || rc == GOSR_EDENIED ||
        rc == GOSR_EFORMAT || rc == GOSR_ESTATE) {
        char d[sizeof err->detail + sizeof err->reason + 4];
        snprintf(d, sizeof d, "%s (%s)", err->detail, err->reason);
        return gosr_error_set(err, GOSR_ESTATE, "validation_failed", "%.300s",
                              d);
    }
    return rc;
}

int kernel__activate(gosr_node *n, const char *id, const char *version,
                     const char *actor, const char *action, gosr_error *err)
{
    act_job j = {.n = n, .id = id, .version = version,
                 .actor = actor ? actor : "operator", .action = action};
    /* registry lookup on the caller's thread: a publish holding the store
     * lock must never stall the tick thread */
    int rc = kernel__registry_get(n, id, version, &j.v, err);
    if (rc == GOSR_OK)
        rc = kernel__exec(n, job_prepare, &j, err);
    if (rc != GOSR_OK)
        goto out_release;
    rc = load_new(&j, err);
    if (rc == GOSR_OK)
        rc = kernel__ledger_append(
            n, j.actor, action, id, version, "",
            json_pack("{s:s?, s:s}", "from", j.from[0] ? j.from : NULL,
                      "root", j.v->root),
            err);
    if (rc == GOSR_OK) {
        rc = kernel__exec(n, job_switch, &j, err);
        if (rc != GOSR_OK) /* the row said activate: record the undo */
            kernel__ledger_append(
                n, "kernel", "rollback", id, j.from[0] ? j.from : version,
                "switch failed",
                json_pack("{s:s, s:s}", "failed", version, "reason",
                          err->reason),
                NULL);
    }
    if (rc != GOSR_OK)
        atomic_store(&n->swap_busy, false);
out_release:
    job_release(&j);
    return rc;
}

/* ---- probation ------------------------------------------------------------------ */

/* Tick thread: switch back to the quarantined version, world restored. */
void kernel__roll_back_slot(gosr_node *n, kslot *s, const char *actor,
                            const char *why)
{
    json_t *ev = json_pack("{s:s, s:I}", "failed", s->ver->version, "tick",
                           (json_int_t)gosr_world_tick(n->world));
    if (s->faulted)
        json_object_set_new(
            ev, "fault",
            json_pack("{s:s, s:s, s:s}", "reason",
                      gosr_sandbox_reason_name(s->fault.reason), "where",
                      s->fault.where, "message", s->fault.message));
    if (gosr_world_begin(n->world) == GOSR_OK) {
        gosr_world_restore(n->world, s->snap);
        gosr_world_commit(n->world, false);
    } else { /* replay: inside the next tick's batch already */
        gosr_world_restore(n->world, s->snap);
    }
    gosr_sandbox_destroy(s->sb);
    kernel__kver_free(s->ver);
    s->ver = s->old_ver;
    s->sb = s->old_sb;
    s->old_ver = NULL;
    s->old_sb = NULL;
    gosr_world_snap_free(s->snap);
    s->snap = NULL;
    s->probation = false;
    s->faulted = false;
    gosr_error e = {0};
    if (n->replay)
        json_decref(ev);
    else if (kernel__ledger_append(n, actor, "rollback", s->ver->id,
                                   s->ver->version, why, ev, &e) != GOSR_OK)
        gosr_log(GOSR_LOG_ERROR, "kernel", "ledger rollback row: %s",
                 e.detail);
    pthread_mutex_lock(&n->ctr_mu);
    n->ctr.rollbacks++;
    pthread_mutex_unlock(&n->ctr_mu);
    if (n->m_rollbacks)
        gosr_admin_series_add(n->m_rollbacks, 1);
    atomic_store(&n->swap_busy, false);
}

/* Puts one module back on probation after a restart: the version it
 * replaced is loaded as the quarantined one and the world as restored is
 * the rollback point. */
static int resume_one(gosr_node *n, kslot *s, const char *old,
                      gosr_error *err)
{
    kver *v = NULL;
    gosr_sandbox *sb = NULL;
    int rc = kernel__registry_get(n, s->ver->id, old, &v, err);
    if (rc == GOSR_OK)
        rc = kernel__module_load(n, v, NULL, NULL, &sb, err);
    if (rc == GOSR_OK)
        rc = gosr_world_snapshot(n->world, &s->snap);
    if (rc != GOSR_OK) {
        kernel__kver_free(v);
        gosr_sandbox_destroy(sb);
        return rc;
    }
    s->old_ver = v;
    s->old_sb = sb;
    s->probation = true;
    s->healthy = 0;
    s->quarantine = n->cfg.quarantine_ticks ? n->cfg.quarantine_ticks : 30;
    atomic_store(&n->swap_busy, true);
    return GOSR_OK;
}

void kernel__probation_resume(gosr_node *n, const json_t *probation)
{
    const char *id;
    json_t *v;
    json_object_foreach((json_t *)probation, id, v) {
        kslot *s = kernel__slot_find(n, id);
        gosr_error e = {0};
        if (!s || s->old_ver || atomic_load(&n->swap_busy))
            continue; /* one probation at a time, as at run time */
        if (resume_one(n, s, json_string_value(v), &e) == GOSR_OK)
            gosr_log(GOSR_LOG_WARN, "kernel",
                     "%s@%s was on probation when the node stopped: "
                     "probation restarts (rollback to %s, world as restored)",
                     id, s->ver->version, json_string_value(v));
        else
            gosr_log(GOSR_LOG_ERROR, "kernel",
                     "%s: probation not resumed: %s: %s", id, e.reason,
                     e.detail);
    }
}

static void retire_old(gosr_node *n, kslot *s)
{
    gosr_error e = {0};
    json_t *ev = json_pack("{s:s, s:I}", "successor", s->ver->version,
                           "healthy_ticks", (json_int_t)s->healthy);
    if (n->replay)
        json_decref(ev);
    else if (kernel__ledger_append(n, "kernel", "retire", s->old_ver->id,
                              s->old_ver->version, "probation passed", ev,
                              &e) != GOSR_OK)
        gosr_log(GOSR_LOG_ERROR, "kernel", "ledger retire row: %s", e.detail);
    gosr_sandbox_destroy(s->old_sb);
    kernel__kver_free(s->old_ver);
    s->old_sb = NULL;
    s->old_ver = NULL;
    gosr_world_snap_free(s->snap);
    s->snap = NULL;
    s->probation = false;
    pthread_mutex_lock(&n->ctr_mu);
    n->ctr.retires++;
    pthread_mutex_unlock(&n->ctr_mu);
    if (n->m_retires)
        gosr_admin_series_add(n->m_retires, 1);
    atomic_store(&n->swap_busy, false);
}

void kernel__after_tick(gosr_node *n)
{
    for (size_t i = 0; i < n->nslots; i++) {
        kslot *s = &n->slots[i];
        if (!s->probation)
            continue;
        if (s->faulted) {
            kernel__roll_back_slot(n, s, "kernel", "fault during probation");
            continue;
        }
        if (++s->healthy >= s->quarantine)
            retire_old(n, s);
    }
}

/* ---- session log: switches as logged kernel events ---------------------------- */

#define EV_SWITCH "kernel:switch:v1:completed"
#define EV_ROLLBACK "kernel:rollback:v1:completed"

void kernel__log_switch(gosr_node *n, const char *action, const char *id,
                        const char *version)
{
    if (n->replay || !n->session)
        return;
    gosr_event ev = {0};
    char payload[KID_MAX + KVER_MAX + 16];
    uint32_t q = n->cfg.quarantine_ticks ? n->cfg.quarantine_ticks : 30;
    int len = snprintf(payload, sizeof payload, "%s %s %u", id, version, q);
    gosr_event_set_name(&ev, strcmp(action, "switch") ? EV_ROLLBACK
                                                      : EV_SWITCH, NULL);
    gosr_event_set_payload(&ev, payload, (size_t)len);
    if (gosr_tick_submit(n->tick, &ev) != GOSR_OK)
        gosr_log(GOSR_LOG_ERROR, "kernel", "session: cannot log %s %s",
                 action, payload);
    gosr_event_clear(&ev);
}

/* Replay of a logged switch: load with the current state, switch. */
static int replay_switch(gosr_node *n, const char *id, const char *version,
                         uint32_t quarantine, gosr_error *err)
{
    act_job j = {.n = n, .id = id, .version = version, .actor = "replay",
                 .action = "activate", .quarantine = quarantine};
    int rc = kernel__registry_get(n, id, version, &j.v, err);
    kslot *s = rc == GOSR_OK ? kernel__slot_find(n, id) : NULL;
    if (s) {
        snprintf(j.from, sizeof j.from, "%s", s->ver->version);
        gosr_sandbox_get_global(s->sb, "state", &j.old_state, NULL);
        gosr_sandbox_get_global(s->sb, "STATE_SCHEMA", &j.old_schema, NULL);
    }
    if (rc == GOSR_OK)
        rc = load_new(&j, err);
    if (rc == GOSR_OK)
        rc = job_switch(&j, err);
    job_release(&j);
    return rc;
}

int kernel__replay_event(gosr_node *n, const gosr_event *ev)
{
    bool sw = strcmp(ev->name, EV_SWITCH) == 0;
    if (!sw && strcmp(ev->name, EV_ROLLBACK) != 0)
        return GOSR_OK;
    char id[KID_MAX], ver[KVER_MAX], fmt[32];
    unsigned q = 0;
    snprintf(fmt, sizeof fmt, "%%%ds %%%ds %%u", KID_MAX - 1, KVER_MAX - 1);
    char *p = gosr_strndup((const char *)ev->payload, ev->payload_len);
    int got = p ? sscanf(p, fmt, id, ver, &q) : 0;
    gosr_free(p);
    if (got != 3 || q == 0 || q > 1000000)
        return GOSR_EFORMAT;
    gosr_error err = {0};
    if (sw) {
        int rc = replay_switch(n, id, ver, q, &err);
        if (rc != GOSR_OK)
            gosr_log(GOSR_LOG_ERROR, "kernel", "replay switch %s@%s: %s",
                     id, ver, err.detail);
        return rc;
    }
    kslot *s = kernel__slot_find(n, id);
    if (s && s->probation)
        kernel__roll_back_slot(n, s, "replay", "operator rollback");
    return GOSR_OK;
}

/* ---- operator rollback ---------------------------------------------------------- */

typedef struct rb_job {
    gosr_node *n;        /* the node */
    const char *id;      /* module */
    const char *actor;   /* who */
    bool done;           /* rolled back to the quarantined version */
    char target[KVER_MAX]; /* otherwise: version to activate */
    const char *to;      /* requested target or NULL */
} rb_job;

static int job_rollback(void *arg, gosr_error *err)
{
    rb_job *j = arg;
    kslot *s = kernel__slot_find(j->n, j->id);
    if (!s)
        return gosr_error_set(err, GOSR_ENOENT, "module_inactive",
                              "%s is not active", j->id);
    if (gosr_ledger_safe_mode(j->n->ledger))
        return gosr_error_set(err, GOSR_EDENIED, "ledger_chain_broken",
                              "safe mode: no activations");
    if (s->probation &&
        (!j->to || strcmp(j->to, s->old_ver->version) == 0)) {
        kernel__log_switch(j->n, "rollback", j->id, s->old_ver->version);
        kernel__roll_back_slot(j->n, s, j->actor, "operator rollback");
        j->done = true;
        return GOSR_OK;
    }
    if (s->probation)
        return gosr_error_set(err, GOSR_EBUSY, "swap_in_progress",
                              "%s is on probation; roll back to %s first",
                              j->id, s->old_ver->version);
    if (j->to) {
        snprintf(j->target, sizeof j->target, "%s", j->to);
        return GOSR_OK;
    }
    json_t *map = NULL;
    int rc = kernel__ledger_active(j->n, &map, err);
    if (rc != GOSR_OK)
        return rc;
    json_t *h = json_object_get(json_object_get(map, "history"), j->id);
    size_t k = json_array_size(h);
    if (k >= 2)
        snprintf(j->target, sizeof j->target, "%s",
                 json_string_value(json_array_get(h, k - 2)));
    json_decref(map);
    if (!j->target[0])
        return gosr_error_set(err, GOSR_ENOENT, "no_previous_version",
                              "%s has no earlier version to roll back to",
                              j->id);
    return GOSR_OK;
}

int kernel__rollback(gosr_node *n, const char *id, const char *to,
                     const char *actor, gosr_error *err)
{
    rb_job j = {.n = n, .id = id, .to = to,
                .actor = actor ? actor : "operator"};
    int rc = kernel__exec(n, job_rollback, &j, err);
    if (rc != GOSR_OK || j.done)
        return rc;
    return kernel__activate(n, id, j.target, j.actor, "rollback", err);
}
