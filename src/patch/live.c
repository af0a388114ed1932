/*
 * live.c — the active patch on the running node (docs/patch.md, "How a
 * patch reaches the game", "Staged rollout", "Rollback"): the node layer
 * (patch scripts after the modules each tick, patch.get for modules by
 * cohort, kpi.report), activation as one pointer update, staged rollout
 * 1/10/50/100 % with KPI checks, automatic and operator rollback, alerts
 * (log, counter, webhook via libcurl).
 */
#include "patch/patch_int.h"

#include <curl/curl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t STAGES[] = {1, 10, 50, 100};

/* ---- the node layer (tick thread) ------------------------------------------
 */

static int layer_get(void *ud, const char *key, uint64_t owner, gosr_sbv *out);

/* Next rollout percentage after pct. */
static uint32_t next_pct(uint32_t pct)
{
    for (size_t i = 0; i + 1 < sizeof STAGES / sizeof STAGES[0]; i++)
        if (STAGES[i] == pct)
            return STAGES[i + 1];
    return 100;
}

static bool activations_allowed(const gosr_patch_mgr *m)
{
    return m->ingest && !m->fail_safe;
}

/* Stage end or breach: the work that needs the database (mu, taken
 * without waiting when called from the tick thread). */
void patch__rollout_act(gosr_patch_mgr *m, const char *breach,
                        const char *detail, const char *id, json_t *kpi,
                        bool wait)
{
    gosr_error e = {0};
    if (wait)
        pthread_mutex_lock(&m->mu);
    else if (pthread_mutex_trylock(&m->mu) != 0) {
        /* a submit or command holds the database: the tick thread never
         * waits for it; the same decision comes up again next tick */
        json_decref(kpi);
        return;
    }
    char active[65], prev[65];
    uint32_t pct;
    patch__pointer_get(m, active, prev, &pct);
    if (strcmp(active, id) != 0) { /* changed meanwhile */
        json_decref(kpi);
        pthread_mutex_unlock(&m->mu);
        return;
    }
    if (breach) {
        json_t *ev =
            json_pack("{s:s, s:s, s:i, s:o}", "breach", breach, "detail",
                      detail, "rollout_pct", (int)pct, "kpi", kpi);
        if (patch__rollback_locked(m, NULL, "kernel:rollout", breach, ev, &e) !=
            GOSR_OK)
            gosr_log(GOSR_LOG_ERROR, "patch", "automatic rollback failed: %s",
                     e.detail);
    } else if (activations_allowed(m)) {
        uint32_t np = next_pct(pct);
        patch__pointer_set(m, id, prev, np, &e);
        char why[48];
        snprintf(why, sizeof why, "rollout %u%% -> %u%%", pct, np);
        patch__transition(
            m, id, "active", "kernel:rollout", why,
            json_pack("{s:i, s:o}", "rollout_pct", (int)np, "kpi", kpi), &e);
        if (np == 100)
            patch__exec(m, &e,
                        "UPDATE patches SET known_good = 1 WHERE id"
                        " = %Q",
                        id);
        if (m->m_pct)
            gosr_admin_series_set(m->m_pct, np);
        pthread_mutex_lock(&m->live_mu);
        m->pct = np;
        m->stage_ticks = 0;
        memset(&m->live_kpi, 0, sizeof m->live_kpi);
        memset(&m->game_kpi, 0, sizeof m->game_kpi);
        pthread_mutex_unlock(&m->live_mu);
    } else {
        json_decref(kpi); /* kill switch off: the rollout holds */
    }
    pthread_mutex_unlock(&m->mu);
}

const char *patch__live_breach(gosr_patch_mgr *m, char *detail, size_t cap)
{
    const char *b = patch__kpi_breach(m, &m->live_kpi, &m->canary_kpi,
                                      "rollout", detail, cap);
    if (!b && m->game_ref.ticks > 0)
        b = patch__kpi_breach(m, &m->game_kpi, &m->game_ref, "rollout", detail,
                              cap);
    return b;
}

json_t *patch__live_kpi_json(gosr_patch_mgr *m)
{
    return json_pack("{s:o, s:o}", "patch", patch__kpi_json(&m->live_kpi),
                     "game", patch__kpi_json(&m->game_kpi));
}

/* Outside a rollout the game's KPIs are kept per window of stage_ticks
 * ticks, so a rollout has a "before" to compare with. */
static void game_window(gosr_patch_mgr *m)
{
    uint32_t win = m->cfg.stage_ticks == UINT32_MAX ? 30 : m->cfg.stage_ticks;
    if (m->game_kpi.ticks >= win) {
        m->game_win = m->game_kpi;
        memset(&m->game_kpi, 0, sizeof m->game_kpi);
    }
}

static int layer_tick(void *ud, gosr_world *w, uint64_t tick,
                      const gosr_event *ev, size_t nev)
{
    gosr_patch_mgr *m = ud;
    char id[65] = "", detail[256] = "";
    const char *breach = NULL;
    bool stage_end = false;
    json_t *kpi = NULL;
    pthread_mutex_lock(&m->live_mu);
    m->game_kpi.ticks++;
    if (m->cur) {
        m->live_run =
            (prun){.w = w, .p = m->cur, .pct = m->pct, .kpi = &m->live_kpi};
        patch__tick(m, &m->live_run, tick, ev, nev);
    }
    if (m->cur && m->pct < 100) {
        m->stage_ticks++;
        breach = patch__live_breach(m, detail, sizeof detail);
        stage_end = m->cfg.stage_ticks != UINT32_MAX &&
                    m->stage_ticks >= m->cfg.stage_ticks;
        if (breach && strcmp(breach, "rollout_fault_rate") && !stage_end)
            breach = NULL; /* drift is judged at the stage end */
        if (breach || stage_end) {
            snprintf(id, sizeof id, "%s", m->cur->id);
            kpi = patch__live_kpi_json(m);
        }
    } else {
        game_window(m);
    }
    pthread_mutex_unlock(&m->live_mu);
    if (id[0])
        patch__rollout_act(m, breach, detail, id, kpi, false);
    return GOSR_OK;
}

static void layer_kpi(void *ud, const char *name, double v)
{
    gosr_patch_mgr *m = ud;
    pthread_mutex_lock(&m->live_mu);
    patch__kpi_live(m, name, v);
    pthread_mutex_unlock(&m->live_mu);
}

void patch__layer_install(gosr_patch_mgr *m)
{
    gosr_node_layer l = {
        .tick = layer_tick, .get = layer_get, .kpi = layer_kpi, .ud = m};
    gosr_node_set_layer(m->node, &l);
}

/* ---- patch.get for game modules ----------------------------------------- */

static int layer_get(void *ud, const char *key, uint64_t owner, gosr_sbv *out)
{
    gosr_patch_mgr *m = ud;
    int rc = GOSR_OK;
    pthread_mutex_lock(&m->live_mu);
    plive *p = m->cur;
    if (p && owner != 0 && m->pct < 100 && patch__cohort(owner) >= m->pct)
        p = m->prev; /* not in the cohort yet: the previous patch */
    if (p)
        rc = patch__content_value(p, key, out);
    pthread_mutex_unlock(&m->live_mu);
    return rc;
}

void patch__live_set(gosr_patch_mgr *m, plive *cur, plive *prev, uint32_t pct)
{
    pthread_mutex_lock(&m->live_mu);
    plive *oc = m->cur, *op = m->prev;
    m->cur = cur;
    m->prev = prev;
    m->pct = pct;
    m->stage_ticks = 0;
    memset(&m->live_kpi, 0, sizeof m->live_kpi);
    if (cur && pct < 100) /* a rollout starts: the game's "before" */
        m->game_ref = m->game_win.ticks ? m->game_win : m->game_kpi;
    memset(&m->game_kpi, 0, sizeof m->game_kpi);
    m->live_run = (prun){0};
    pthread_mutex_unlock(&m->live_mu);
    if (m->m_pct)
        gosr_admin_series_set(m->m_pct, cur ? pct : 0);
    if (oc != cur && oc != prev)
        patch__free(oc);
    if (op != cur && op != prev)
        patch__free(op);
}

/* ---- activation ------------------------------------------------------------
 */

/* The candidate's canary KPIs from its row (the rollout reference). */
void patch__load_canary_kpi(gosr_patch_mgr *m, const char *id, pkpi *k)
{
    sqlite3_stmt *st;
    memset(k, 0, sizeof *k);
    if (sqlite3_prepare_v2(m->db, "SELECT kpi FROM patches WHERE id = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        json_t *j =
            json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        json_t *c = json_object_get(j, "candidate");
        k->ticks = (uint64_t)json_integer_value(json_object_get(c, "ticks"));
        k->faults = (uint64_t)json_integer_value(json_object_get(c, "faults"));
        k->eco_sum = json_number_value(json_object_get(c, "eco_sum"));
        k->eco_n = (uint64_t)json_integer_value(json_object_get(c, "eco_n"));
        k->q_started = json_number_value(json_object_get(c, "quest_started"));
        k->q_completed =
            json_number_value(json_object_get(c, "quest_completed"));
        json_decref(j);
    }
    sqlite3_finalize(st);
}

int patch__activate(gosr_patch_mgr *m, const char *id, const char *actor,
                    gosr_error *err)
{
    if (m->fail_safe)
        return gosr_error_set(err, GOSR_EDENIED, "policy_fail_safe",
                              "control plane inconsistent: activations denied");
    if (!m->ingest)
        return gosr_error_set(err, GOSR_EDENIED, "policy_ingest_disabled",
                              "ai_patch_ingest_enabled is off");
    char active[65], prev[65], state[32] = "";
    uint32_t pct;
    patch__pointer_get(m, active, prev, &pct);
    plive *np = NULL, *op = NULL;
    int rc = patch__load(m, id, &np, err);
    if (rc == GOSR_OK && active[0])
        rc = patch__load(m, active, &op, err);
    if (rc == GOSR_OK)
        rc = patch__pointer_set(m, id, active, STAGES[0], err);
    if (rc != GOSR_OK) {
        patch__free(np);
        patch__free(op);
        return rc;
    }
    pkpi ck;
    patch__load_canary_kpi(m, id, &ck);
    patch__live_set(m, np, op, STAGES[0]);
    pthread_mutex_lock(&m->live_mu);
    m->canary_kpi = ck;
    pthread_mutex_unlock(&m->live_mu);
    patch__exec(m, NULL,
                "UPDATE patches SET activated_ns = %lld, awaiting_approval = 0"
                " WHERE id = %Q",
                (long long)gosr_time_wall_ns(), id);
    patch__state(m, id, state, sizeof state);
    if (strcmp(state, "approved") != 0)
        patch__transition(m, id, "approved", actor, "policy gate passed", NULL,
                          NULL);
    if (active[0])
        patch__transition(m, active, "superseded", actor, "new patch active",
                          json_pack("{s:s}", "successor", id), NULL);
    return patch__transition(m, id, "active", actor, "rollout 1%",
                             json_pack("{s:i, s:s}", "rollout_pct",
                                       (int)STAGES[0], "scope", "global"),
                             err);
}

/* ---- rollback ----------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

/* Removes the kept bundles beyond the newest N known-good ones. */
static void prune(gosr_patch_mgr *m, const char *active, const char *prev)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->db,
                           "SELECT id FROM patches WHERE known_good = 1 OR"
                           " state IN ('rolled_back', 'superseded')"
                           " ORDER BY known_good DESC, activated_ns DESC"
                           " LIMIT -1 OFFSET ?",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int(st, 1, (int)m->cfg.keep_known_good);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (!strcmp(id, active) || !strcmp(id, prev))
            continue;
        char *d = gosr_asprintf("%s/%s", m->dir, id);
        if (d)
            nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        gosr_free(d);
    }
    sqlite3_finalize(st);
}

/* The loaded rollback target: the previous patch is normally still loaded
 * (it served the owners outside the cohort); *reused says so. */
static int take_target(gosr_patch_mgr *m, const char *target, plive **tp,
                       bool *reused, gosr_error *err)
{
    char state[32];
    *tp = NULL;
    *reused = false;
    if (!target[0])
        return GOSR_OK; /* roll back to "no patch" */
    if (patch__state(m, target, state, sizeof state) != GOSR_OK ||
        (strcmp(state, "superseded") && strcmp(state, "active")))
        return gosr_error_set(err, GOSR_ESTATE, "rollout_target_not_known_good",
                              "rollback target is not a known-good patch");
    pthread_mutex_lock(&m->live_mu);
    if (m->prev && !strcmp(m->prev->id, target)) {
        *tp = m->prev;
        *reused = true;
    }
    pthread_mutex_unlock(&m->live_mu);
    return *tp ? GOSR_OK : patch__load(m, target, tp, err);
}

/* Audit and alert after the switch: transitions (ledger rows), counter,
 * log line, webhook payload, pruning of old bundles. */
static int announce(gosr_patch_mgr *m, const char *from, const char *target,
                    const char *actor, const char *reason, json_t *evidence,
                    gosr_error *err)
{
    json_t *alert =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "event", "patch_rollback",
                  "from", from, "to", target, "actor", actor, "reason", reason,
                  "evidence", evidence);
    int rc =
        patch__transition(m, from, "rolled_back", actor, reason, evidence, err);
    if (target[0])
        patch__transition(m, target, "active", actor, "rollback target",
                          json_pack("{s:s}", "rolled_back", from), NULL);
    m->rollbacks++;
    if (m->m_rollbacks)
        gosr_admin_series_add(m->m_rollbacks, 1);
    gosr_log(GOSR_LOG_WARN, "patch", "ROLLBACK %.12s -> %.12s by %s: %s", from,
             target[0] ? target : "(none)", actor, reason);
    patch__alert(m, alert);
    prune(m, target, "");
    return rc;
}

int patch__rollback_locked(gosr_patch_mgr *m, const char *to, const char *actor,
                           const char *reason, json_t *evidence,
                           gosr_error *err)
{
    char active[65], prev[65];
    uint32_t pct;
    patch__pointer_get(m, active, prev, &pct);
    const char *target = to ? to : prev;
    plive *tp = NULL;
    bool reused = false;
    int rc = GOSR_OK;
    if (!active[0] || !strcmp(target, active))
        rc = gosr_error_set(err, GOSR_ESTATE, "rollout_nothing_to_roll_back",
                            "no active patch to roll back from");
    if (rc == GOSR_OK)
        rc = take_target(m, target, &tp, &reused, err);
    uint64_t t0 = gosr_time_mono_ns();
    if (rc == GOSR_OK) /* the one pointer update: the commit point */
        rc = patch__pointer_set(m, target, "", 100, err);
    if (rc != GOSR_OK) {
        json_decref(evidence);
        if (!reused)
            patch__free(tp);
        return rc;
    }
    patch__live_set(m, tp, NULL, 100); /* a reused prev becomes cur */
    uint64_t t1 = gosr_time_mono_ns();
    if (!evidence)
        evidence = json_object();
    json_object_set_new(evidence, "to", json_string(target));
    json_object_set_new(evidence, "switch_ns",
                        json_integer((json_int_t)(t1 - t0)));
    return announce(m, active, target, actor, reason, evidence, err);
}

/* ---- alerts ---------------------------------------------------------------
 */

void patch__alert(gosr_patch_mgr *m, json_t *alert)
{
    if (!m->webhook) {
        json_decref(alert);
        return;
    }
    json_array_append_new(m->alerts, alert);
    m->pending++;
    pthread_cond_broadcast(&m->cv);
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static void post(const char *url, const char *body)
{
    CURL *c = curl_easy_init();
    if (!c)
        return;
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        gosr_log(GOSR_LOG_WARN, "patch", "webhook %s: %s", url,
                 curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

/* Sends queued alerts (caller holds mu; it is released while posting). */
void patch__send_alerts(gosr_patch_mgr *m)
{
    while (m->webhook && json_array_size(m->alerts) > 0) {
        json_t *a = json_incref(json_array_get(m->alerts, 0));
        json_array_remove(m->alerts, 0);
        char *body = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(a);
        pthread_mutex_unlock(&m->mu);
        if (body)
            post(m->webhook, body);
        free(body);
        pthread_mutex_lock(&m->mu);
    }
}
