/*
 * mgr.c — the patch manager (docs/patch.md, "State machine", "Restart",
 * "Kill switch"): open and resume, submit (stages 1-3), the worker that
 * runs stages 4-6, the policy gate (approve, reject), rollback and
 * advance commands, queries, and the kill switch.
 */
#include "patch/patch_int.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>

const char *gosr_patch_state_name(gosr_patch_state s)
{
    static const char *const N[] = {"draft",    "validated",  "canary",
                                    "approved", "active",     "superseded",
                                    "rejected", "rolled_back"};
    return (unsigned)s < 8 ? N[s] : "unknown";
}

static void defaults(gosr_patch_config *c)
{
    if (!c->replay_ticks)
        c->replay_ticks = 100;
    if (!c->canary_ticks)
        c->canary_ticks = 100;
    if (!c->seed)
        c->seed = 42;
    if (!c->tick_fuel)
        c->tick_fuel = 10000000;
    if (!c->mem_limit)
        c->mem_limit = 32u << 20;
    if (!c->tick_time_ns)
        c->tick_time_ns = 50000000;
    if (c->th.max_economy_drift <= 0)
        c->th.max_economy_drift = 0.5;
    if (c->th.max_quest_deviation <= 0)
        c->th.max_quest_deviation = 0.5;
    if (c->th.min_quest_samples <= 0)
        c->th.min_quest_samples = 20;
    if (!c->stage_ticks)
        c->stage_ticks = 30;
    if (!c->keep_known_good)
        c->keep_known_good = 5;
    if (!c->max_spawn_cap)
        c->max_spawn_cap = 1000;
    if (!c->max_depth_cap)
        c->max_depth_cap = 16;
}

/* ---- worker ----------------------------------------------------------------
 */

static void *worker_main(void *arg)
{
    gosr_patch_mgr *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        if (m->pending == 0) {
            pthread_cond_wait(&m->cv, &m->mu);
            continue;
        }
        m->pending = 0;
        m->busy = true;
        pthread_mutex_unlock(&m->mu);
        gosr_error e = {0};
        gosr_patch_process(m, &e);
        pthread_mutex_lock(&m->mu);
        patch__send_alerts(m);
        m->busy = false;
        pthread_cond_broadcast(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static void wake(gosr_patch_mgr *m)
{
    m->pending++;
    pthread_cond_broadcast(&m->cv);
}

bool gosr_patch_idle_wait(gosr_patch_mgr *m, unsigned timeout_ms)
{
    uint64_t end = gosr_time_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    pthread_mutex_lock(&m->mu);
    bool idle = false;
    while (!(idle = (!m->busy && m->pending == 0)) &&
           gosr_time_mono_ns() < end) {
        pthread_mutex_unlock(&m->mu);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return idle;
}

/* ---- open / resume ------------------------------------------------------- */

/* Interrupted work: drafts fail safe, canaries start again. */
static void resume(gosr_patch_mgr *m)
{
    sqlite3_stmt *st;
    json_t *ids = json_array(), *v;
    size_t i;
    if (sqlite3_prepare_v2(m->db,
                           "SELECT id, state FROM patches WHERE state IN"
                           " ('draft', 'canary') AND awaiting_approval = 0",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(ids,
                                  json_pack("[s,s]", sqlite3_column_text(st, 0),
                                            sqlite3_column_text(st, 1)));
        sqlite3_finalize(st);
    }
    json_array_foreach(ids, i, v)
    {
        const char *id = json_string_value(json_array_get(v, 0));
        bool draft = !strcmp(json_string_value(json_array_get(v, 1)), "draft");
        if (draft)
            patch__exec(m, NULL,
                        "UPDATE patches SET reasons ="
                        " '[\"integrity_interrupted\"]' WHERE id = %Q",
                        id);
        patch__transition(m, id, draft ? "rejected" : "validated", "kernel",
                          draft ? "integrity_interrupted"
                                : "canary resumed after restart",
                          NULL, NULL);
        if (!draft)
            m->pending++;
    }
    json_decref(ids);
}

static int restore_live(gosr_patch_mgr *m, gosr_error *err)
{
    char active[65], prev[65];
    uint32_t pct;
    plive *cur = NULL, *prv = NULL;
    if (patch__pointer_get(m, active, prev, &pct) != GOSR_OK)
        return gosr_error_set(err, GOSR_EIO, "patch_db", "pointer row");
    int rc = active[0] ? patch__load(m, active, &cur, err) : GOSR_OK;
    if (rc == GOSR_OK && prev[0] && pct < 100)
        rc = patch__load(m, prev, &prv, err);
    if (rc != GOSR_OK) {
        patch__free(cur);
        return rc;
    }
    patch__live_set(m, cur, prv, pct);
    if (cur) {
        pkpi k;
        patch__load_canary_kpi(m, active, &k);
        pthread_mutex_lock(&m->live_mu);
        m->canary_kpi = k;
        pthread_mutex_unlock(&m->live_mu);
    }
    return GOSR_OK;
}

/* Prometheus families on the node's registry (absent when a previous
 * manager on this node registered them already). */
static void metrics(gosr_patch_mgr *m)
{
    gosr_admin_metric_desc d[] = {
        {.name = "gosr_patch_rollbacks_total",
         .help = "Patch rollbacks (operator and automatic)",
         .type = GOSR_ADMIN_COUNTER},
        {.name = "gosr_patch_rollout_percent",
         .help = "Rollout percentage of the active patch",
         .type = GOSR_ADMIN_GAUGE},
    };
    gosr_admin_series **dst[] = {&m->m_rollbacks, &m->m_pct};
    gosr_admin_metrics *reg = gosr_node_metrics(m->node);
    for (size_t i = 0; reg && i < 2; i++) {
        gosr_admin_metric *f = NULL;
        if (gosr_admin_metrics_add(reg, &d[i], &f, NULL) == GOSR_OK)
            gosr_admin_metric_series(f, NULL, dst[i], NULL);
    }
}

static int open_parts(gosr_patch_mgr *m, gosr_error *err)
{
    metrics(m);
    int rc = patch__db_open(m, err);
    if (rc == GOSR_OK)
        rc = patch__host_create(m, err);
    if (rc == GOSR_OK && gosr_mkdir_p(m->dir, 0700) != GOSR_OK)
        rc = gosr_error_set(err, GOSR_EIO, "patch_dir", "cannot create %s",
                            m->dir);
    if (rc != GOSR_OK)
        return rc;
    if (patch__ks_load(m) != GOSR_OK)
        gosr_log(GOSR_LOG_ERROR, "patch",
                 "kill switch state inconsistent: new activations denied "
                 "until a privileged override");
    if (m->cfg.ingest_off_at_start)
        rc = patch__ks_store(m, false, "config:override",
                             "emergency override at process start", err);
    if (rc == GOSR_OK)
        rc = restore_live(m, err);
    if (rc == GOSR_OK)
        resume(m);
    return rc;
}

int gosr_patch_open(gosr_node *n, const gosr_patch_config *cfg,
                    gosr_patch_mgr **out, gosr_error *err)
{
    *out = NULL;
    if (!cfg || !cfg->trust_pk)
        return gosr_error_set(err, GOSR_EINVAL, "patch_config",
                              "trust_pk is required");
    gosr_patch_mgr *m = gosr_calloc(1, sizeof *m);
    if (!m)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "manager");
    m->node = n;
    m->cfg = *cfg;
    defaults(&m->cfg);
    memcpy(m->trust_pk, cfg->trust_pk, 32);
    m->webhook = cfg->webhook_url ? gosr_strdup(cfg->webhook_url) : NULL;
    m->dir = gosr_asprintf("%s/patches", gosr_node_dir(n));
    m->alerts = json_array();
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->live_mu, NULL);
    pthread_mutex_init(&m->sim_mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    pthread_mutex_lock(&m->mu);
    int rc = open_parts(m, err);
    pthread_mutex_unlock(&m->mu);
    if (rc == GOSR_OK)
        patch__layer_install(m);
    if (rc == GOSR_OK)
        rc = patch__routes(m, err);
    if (rc == GOSR_OK && !m->cfg.no_worker) {
        if (pthread_create(&m->worker, NULL, worker_main, m) != 0)
            rc = gosr_error_set(err, GOSR_EINTERNAL, "thread", "worker");
        else
            m->has_worker = true;
    }
    if (rc != GOSR_OK) {
        gosr_patch_close(m);
        return rc;
    }
    *out = m;
    return GOSR_OK;
}

void gosr_patch_close(gosr_patch_mgr *m)
{
    if (!m)
        return;
    if (m->has_worker) {
        pthread_mutex_lock(&m->mu);
        m->stop = true;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->worker, NULL);
    }
    gosr_node_set_layer(m->node, NULL);
    patch__live_set(m, NULL, NULL, 0);
    if (m->db)
        sqlite3_close(m->db);
    gosr_sandbox_host_destroy(m->host);
    json_decref(m->alerts);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->live_mu);
    pthread_mutex_destroy(&m->sim_mu);
    gosr_free(m->webhook);
    gosr_free(m->dir);
    gosr_free(m);
}

/* ---- submit: stages 1-3
 * ------------------------------------------------------ */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static void reject(gosr_patch_mgr *m, const char *id, const char *actor,
                   const gosr_error *e)
{
    json_t *r = json_pack("[s]", e->reason);
    char *rs = json_dumps(r, JSON_COMPACT);
    patch__exec(m, NULL, "UPDATE patches SET reasons = %Q WHERE id = %Q", rs,
                id);
    free(rs);
    json_decref(r);
    patch__transition(
        m, id, "rejected", actor, e->reason,
        json_pack("{s:s, s:s}", "reason", e->reason, "detail", e->detail),
        NULL);
}

static int stages_1_3(gosr_patch_mgr *m, const char *path, const char *actor,
                      const char *staging, char id[65], gosr_error *err)
{
    gosr_gmod_manifest *man = NULL;
    gosr_error e = {0};
    int rc = patch__stage_integrity(m, path, staging, id, &man, &e);
    uint64_t now = gosr_time_wall_ns();
    patch__exec(m, NULL, "INSERT OR IGNORE INTO seen VALUES (%Q, %lld)", id,
                (long long)now);
    if (!(rc != GOSR_OK && !strcmp(e.reason, "integrity_replay")))
        patch__exec(m, NULL,
                    "INSERT OR IGNORE INTO patches (id, series, version,"
                    " parent, state, submitted_ns, updated_ns) VALUES"
                    " (%Q, %Q, %Q, %Q, 'draft', %lld, %lld)",
                    id, man ? man->id : "-", man ? man->version_text : "-",
                    man ? man->parent_patch_id : NULL, (long long)now,
                    (long long)now);
    if (rc == GOSR_OK || strcmp(e.reason, "integrity_replay"))
        patch__transition(m, id, "draft", actor, "received", NULL, NULL);
    if (rc == GOSR_OK)
        rc = patch__stage_schema(m, man, &e);
    if (rc == GOSR_OK)
        rc = patch__stage_static(m, man, staging, &e);
    gosr_gmod_manifest_destroy(man);
    if (rc != GOSR_OK) {
        if (strcmp(e.reason, "integrity_replay") != 0)
            reject(m, id, actor, &e);
        *err = e;
        return rc;
    }
    return GOSR_OK;
}

/* Kill switch off: stages 1-3 as a dry run (nothing recorded, nothing
 * kept); the answer is always policy_ingest_disabled, with the dry run's
 * outcome in the detail. Caller holds mu. */
static int dry_run(gosr_patch_mgr *m, const char *path, const char *staging,
                   char id[65], gosr_error *err)
{
    gosr_gmod_manifest *man = NULL;
    gosr_error e = {0};
    int rc = patch__stage_integrity(m, path, staging, id, &man, &e);
    if (rc == GOSR_OK)
        rc = patch__stage_schema(m, man, &e);
    if (rc == GOSR_OK)
        rc = patch__stage_static(m, man, staging, &e);
    gosr_gmod_manifest_destroy(man);
    nftw(staging, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (rc == GOSR_OK)
        return gosr_error_set(err, GOSR_EDENIED, "policy_ingest_disabled",
                              "ai_patch_ingest_enabled is %s; dry run: "
                              "stages 1-3 passed",
                              m->fail_safe ? "in fail-safe" : "off");
    return gosr_error_set(err, GOSR_EDENIED, "policy_ingest_disabled",
                          "ai_patch_ingest_enabled is %s; dry run: %s: %.200s",
                          m->fail_safe ? "in fail-safe" : "off", e.reason,
                          e.detail);
}

int gosr_patch_submit(gosr_patch_mgr *m, const char *path, const char *actor,
                      char *idout, gosr_error *err)
{
    char id[65] = "";
    pthread_mutex_lock(&m->mu);
    int rc = GOSR_OK;
    char *staging = gosr_asprintf("%s/.stage-%llu", m->dir,
                                  (unsigned long long)gosr_time_mono_ns());
    if (m->fail_safe || !m->ingest)
        rc = dry_run(m, path, staging, id, err);
    if (rc == GOSR_OK)
        rc = stages_1_3(m, path, actor, staging, id, err);
    char *final = gosr_asprintf("%s/%s", m->dir, id);
    if (rc == GOSR_OK && rename(staging, final) != 0)
        rc = gosr_error_set(err, GOSR_EIO, "patch_store", "keeping bundle");
    if (rc == GOSR_OK) {
        rc = patch__transition(m, id, "validated", actor, "stages 1-3 passed",
                               NULL, err);
        wake(m);
    }
    nftw(staging, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    pthread_mutex_unlock(&m->mu);
    if (idout)
        memcpy(idout, id, 65);
    gosr_free(staging);
    gosr_free(final);
    return rc;
}

/* ---- stages 4-6
 * ---------------------------------------------------------------- */

/* The policy gate after a passed canary. Caller holds mu. */
static void gate(gosr_patch_mgr *m, const char *id, json_t *cev)
{
    const char *breach = json_string_value(json_object_get(cev, "breach"));
    gosr_error e = {0};
    if (breach || m->cfg.manual_approval) {
        patch__exec(m, NULL,
                    "UPDATE patches SET awaiting_approval = 1 WHERE"
                    " id = %Q",
                    id);
        patch__transition(m, id, "canary", "policy", "policy_needs_approval",
                          json_pack("{s:s?}", "breach", breach), NULL);
        return;
    }
    char active[65], prev[65], parent[65] = "";
    uint32_t pct;
    patch__pointer_get(m, active, prev, &pct);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->db, "SELECT parent FROM patches WHERE id = ?", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(parent, sizeof parent, "%s",
                     (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    if (strcmp(parent, active) != 0) {
        gosr_error_set(&e, GOSR_EDENIED, "policy_lineage_stale",
                       "the active patch changed since submission");
        reject(m, id, "policy", &e);
        return;
    }
    if (patch__activate(m, id, "policy:auto", &e) != GOSR_OK) {
        patch__exec(m, NULL,
                    "UPDATE patches SET awaiting_approval = 1 WHERE"
                    " id = %Q",
                    id);
        patch__transition(m, id, "canary", "policy", e.reason,
                          json_pack("{s:s}", "detail", e.detail), NULL);
    }
}

static void process_one(gosr_patch_mgr *m, const char *id)
{
    gosr_error e = {0};
    json_t *dev = NULL, *cev = NULL;
    pkpi cand;
    pthread_mutex_lock(&m->mu);
    patch__transition(m, id, "canary", "pipeline", "stages 4-5 started", NULL,
                      NULL);
    pthread_mutex_unlock(&m->mu);
    int rc = patch__stage_determinism(m, id, &dev, &e);
    if (rc == GOSR_OK)
        rc = patch__stage_canary(m, id, &cand, &cev, &e);
    pthread_mutex_lock(&m->mu);
    char state[32] = "";
    patch__state(m, id, state, sizeof state);
    if (strcmp(state, "canary") != 0) { /* rejected meanwhile */
        json_decref(dev);
        json_decref(cev);
    } else if (rc != GOSR_OK && strncmp(e.reason, "determinism_", 12) &&
               strncmp(e.reason, "canary_", 7)) {
        /* not the patch's fault (node stopping, snapshot failed): it stays
         * in canary and is resumed after a restart */
        json_decref(dev);
        json_decref(cev);
        gosr_log(GOSR_LOG_WARN, "patch", "canary of %.12s interrupted: %s", id,
                 e.reason);
    } else if (rc != GOSR_OK) {
        json_decref(dev);
        json_decref(cev);
        reject(m, id, "pipeline", &e);
    } else {
        json_object_set_new(cev, "determinism", dev);
        char *s = json_dumps(cev, JSON_COMPACT | JSON_SORT_KEYS);
        patch__exec(m, NULL, "UPDATE patches SET kpi = %Q WHERE id = %Q", s,
                    id);
        free(s);
        gate(m, id, cev);
        json_decref(cev);
    }
    pthread_mutex_unlock(&m->mu);
}

int gosr_patch_process(gosr_patch_mgr *m, gosr_error *err)
{
    (void)err;
    for (;;) {
        char id[65] = "";
        sqlite3_stmt *st;
        pthread_mutex_lock(&m->mu);
        if (sqlite3_prepare_v2(m->db,
                               "SELECT id FROM patches WHERE state ="
                               " 'validated' ORDER BY submitted_ns LIMIT 1",
                               -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                snprintf(id, sizeof id, "%s",
                         (const char *)sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
        }
        if (!m->has_worker)
            patch__send_alerts(m);
        pthread_mutex_unlock(&m->mu);
        if (!id[0])
            return GOSR_OK;
        process_one(m, id);
    }
}

/* ---- commands
 * ----------------------------------------------------------------- */

int gosr_patch_approve(gosr_patch_mgr *m, const char *id, const char *actor,
                       const char *reason, gosr_error *err)
{
    char state[32] = "";
    pthread_mutex_lock(&m->mu);
    int rc = patch__state(m, id, state, sizeof state);
    if (rc != GOSR_OK)
        rc = gosr_error_set(err, GOSR_ENOENT, "patch_unknown", "no patch %s",
                            id);
    else if (strcmp(state, "canary") != 0)
        rc = gosr_error_set(err, GOSR_ESTATE, "policy_not_awaiting",
                            "patch is %s, not awaiting approval", state);
    if (rc == GOSR_OK)
        rc = patch__transition(m, id, "approved", actor,
                               reason ? reason : "approved by a person", NULL,
                               err);
    if (rc == GOSR_OK)
        rc = patch__activate(m, id, actor, err);
    if (!m->has_worker)
        patch__send_alerts(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int gosr_patch_reject(gosr_patch_mgr *m, const char *id, const char *actor,
                      const char *reason, gosr_error *err)
{
    char state[32] = "";
    pthread_mutex_lock(&m->mu);
    int rc = patch__state(m, id, state, sizeof state);
    if (rc != GOSR_OK)
        rc = gosr_error_set(err, GOSR_ENOENT, "patch_unknown", "no patch %s",
                            id);
    else if (strcmp(state, "draft") && strcmp(state, "validated") &&
             strcmp(state, "canary") && strcmp(state, "approved"))
        rc = gosr_error_set(err, GOSR_ESTATE, "policy_not_pending",
                            "patch is %s", state);
    if (rc == GOSR_OK) {
        gosr_error e = {0};
        gosr_error_set(&e, GOSR_EDENIED, "policy_rejected", "%s",
                       reason ? reason : "rejected by a person");
        reject(m, id, actor, &e);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int gosr_patch_rollback(gosr_patch_mgr *m, const char *to, const char *actor,
                        const char *reason, gosr_error *err)
{
    pthread_mutex_lock(&m->mu);
    int rc = patch__rollback_locked(
        m, to, actor, reason ? reason : "operator rollback", NULL, err);
    if (!m->has_worker)
        patch__send_alerts(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int gosr_patch_advance(gosr_patch_mgr *m, const char *actor, gosr_error *err)
{
    (void)actor;
    pthread_mutex_lock(&m->live_mu);
    bool ok = m->cur && m->pct < 100;
    if (ok)
        m->stage_ticks =
            m->cfg.stage_ticks == UINT32_MAX ? 0 : m->cfg.stage_ticks;
    uint32_t st = m->cfg.stage_ticks;
    pthread_mutex_unlock(&m->live_mu);
    if (!ok)
        return gosr_error_set(err, GOSR_ESTATE, "rollout_not_in_progress",
                              "no rollout in progress");
    if (st == UINT32_MAX) { /* command-only rollouts: act right here */
        char id[65];
        pthread_mutex_lock(&m->live_mu);
        snprintf(id, sizeof id, "%s", m->cur ? m->cur->id : "");
        char detail[256];
        const char *b = patch__live_breach(m, detail, sizeof detail);
        json_t *k = patch__live_kpi_json(m);
        pthread_mutex_unlock(&m->live_mu);
        patch__rollout_act(m, b, detail, id, k, true);
    }
    return GOSR_OK;
}

/* ---- queries
 * ------------------------------------------------------------------- */

static const char COLS[] =
    "SELECT id, series, version, parent, state, reasons, scope, rollout_pct,"
    " known_good, awaiting_approval, kpi, submitted_ns, updated_ns FROM"
    " patches";

int gosr_patch_list_json(gosr_patch_mgr *m, json_t **out, gosr_error *err)
{
    sqlite3_stmt *st;
    char *q = gosr_asprintf("%s ORDER BY submitted_ns", COLS);
    pthread_mutex_lock(&m->mu);
    int rc = sqlite3_prepare_v2(m->db, q, -1, &st, NULL);
    gosr_free(q);
    if (rc != SQLITE_OK) {
        pthread_mutex_unlock(&m->mu);
        return gosr_error_set(err, GOSR_EIO, "patch_db", "list");
    }
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, patch__row_json(m, st));
    sqlite3_finalize(st);
    char active[65], prev[65];
    uint32_t pct;
    patch__pointer_get(m, active, prev, &pct);
    *out = json_pack("{s:o, s:s, s:s, s:i, s:I}", "patches", a, "active",
                     active, "previous", prev, "rollout_pct", (int)pct,
                     "rollbacks_total", (json_int_t)m->rollbacks);
    pthread_mutex_unlock(&m->mu);
    return GOSR_OK;
}

static json_t *transitions(gosr_patch_mgr *m, const char *id)
{
    sqlite3_stmt *st;
    json_t *a = json_array();
    if (sqlite3_prepare_v2(m->db,
                           "SELECT seq, state, actor, reason, evidence,"
                           " time_ns FROM transitions WHERE id = ? ORDER BY"
                           " seq",
                           -1, &st, NULL) != SQLITE_OK)
        return a;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *ev =
            json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:s, s:s, s:o, s:I}", "seq",
                         (json_int_t)sqlite3_column_int64(st, 0), "state",
                         sqlite3_column_text(st, 1), "actor",
                         sqlite3_column_text(st, 2), "reason",
                         sqlite3_column_text(st, 3), "evidence",
                         ev ? ev : json_object(), "time_ns",
                         (json_int_t)sqlite3_column_int64(st, 5)));
    }
    sqlite3_finalize(st);
    return a;
}

int gosr_patch_status_json(gosr_patch_mgr *m, const char *id, json_t **out,
                           gosr_error *err)
{
    sqlite3_stmt *st;
    char *q = gosr_asprintf("%s WHERE id = ?", COLS);
    pthread_mutex_lock(&m->mu);
    int rc = sqlite3_prepare_v2(m->db, q, -1, &st, NULL);
    gosr_free(q);
    if (rc != SQLITE_OK) {
        pthread_mutex_unlock(&m->mu);
        return gosr_error_set(err, GOSR_EIO, "patch_db", "status");
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = GOSR_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = patch__row_json(m, st);
        json_object_set_new(*out, "transitions", transitions(m, id));
    } else {
        rc = gosr_error_set(err, GOSR_ENOENT, "patch_unknown", "no patch %s",
                            id);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int gosr_patch_active(gosr_patch_mgr *m, char *id, uint32_t *pct)
{
    pthread_mutex_lock(&m->live_mu);
    int rc = m->cur ? GOSR_OK : GOSR_ENOENT;
    if (m->cur) {
        memcpy(id, m->cur->id, 65);
        if (pct)
            *pct = m->pct;
    }
    pthread_mutex_unlock(&m->live_mu);
    return rc;
}

/* ---- kill switch
 * ------------------------------------------------------------- */

int gosr_patch_killswitch_set(gosr_patch_mgr *m, bool enabled,
                              const char *actor, const char *reason,
                              bool privileged, gosr_error *err)
{
    if (!reason || !reason[0])
        return gosr_error_set(err, GOSR_EINVAL, "killswitch_reason",
                              "a reason is required");
    pthread_mutex_lock(&m->mu);
    int rc = GOSR_OK;
    if (m->fail_safe && !privileged)
        rc = gosr_error_set(err, GOSR_EDENIED, "killswitch_override_required",
                            "the kill switch is in fail-safe: a privileged "
                            "role with TOTP must override");
    if (rc == GOSR_OK)
        rc = patch__ks_store(m, enabled, actor, reason, err);
    if (rc == GOSR_OK && enabled)
        wake(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int gosr_patch_killswitch_json(gosr_patch_mgr *m, json_t **out, gosr_error *err)
{
    sqlite3_stmt *st;
    pthread_mutex_lock(&m->mu);
    json_t *o = json_pack("{s:b, s:b, s:b}", "ai_patch_ingest_enabled",
                          m->ingest && !m->fail_safe, "fail_safe", m->fail_safe,
                          "override_at_start", m->cfg.ingest_off_at_start);
    json_t *audit = json_array();
    if (sqlite3_prepare_v2(m->db,
                           "SELECT state, actor, reason, time_ns FROM"
                           " transitions WHERE id = 'killswitch' ORDER BY seq",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(
                audit, json_pack("{s:s, s:s, s:s, s:I}", "state",
                                 sqlite3_column_text(st, 0), "actor",
                                 sqlite3_column_text(st, 1), "reason",
                                 sqlite3_column_text(st, 2), "time_ns",
                                 (json_int_t)sqlite3_column_int64(st, 3)));
        sqlite3_finalize(st);
    }
    json_object_set_new(o, "audit", audit);
    pthread_mutex_unlock(&m->mu);
    (void)err;
    *out = o;
    return GOSR_OK;
}
