/*
 * node.c — the node: opens a data directory (store, registry, ledger with
 * its chain verified, world arena, optional session log), restores the
 * active module versions the ledger records, runs the fixed-step tick
 * thread (admin jobs between ticks, modules in their sandboxes, swap
 * probation after each tick) and stops cleanly (finish the tick, close the
 * ledger, stop the admin server). Design: docs/kernel.md ("Node").
 */
#include "kernel/kernel_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int open_world(gosr_node *n, gosr_error *err)
{
    char *arena = gosr_asprintf("%s/%s", n->dir, GOSR_ARENA_FILE);
    if (!arena)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "path");
    gosr_world_config wc = {.capacity = n->cfg.capacity,
                            .kv_capacity = n->cfg.kv_capacity,
                            .seed = n->cfg.seed,
                            .rate_hz = n->cfg.rate_hz};
    int rc = gosr_world_create(&wc, arena, &n->world, err);
    gosr_free(arena);
    if (rc != GOSR_OK)
        return rc;
    gosr_tick_config tc = {.rate_hz = n->cfg.rate_hz,
                           .hash_every_tick = n->cfg.session_log != NULL ||
                                              n->cfg.hash_ticks};
    rc = gosr_tick_create(n->world, &tc, &n->tick, err);
    if (rc == GOSR_OK)
        rc = gosr_tick_add_system(n->tick, "modules", kernel__system, n);
    if (rc != GOSR_OK || !n->cfg.session_log)
        return rc;
    const gosr_world_config *w = gosr_world_get_config(n->world);
    gosr_session_config sc = {.seed = w->seed,
                              .rate_hz = n->cfg.rate_hz,
                              .capacity = w->capacity,
                              .kv_capacity = w->kv_capacity};
    snprintf(sc.systems, sizeof sc.systems, "kernel.v1");
    rc = gosr_session_create(n->cfg.session_log, &sc, &n->session, err);
    if (rc == GOSR_OK)
        gosr_tick_attach_log(n->tick, n->session);
    return rc;
}

/* Loads one version recorded active by the ledger into a slot. */
static int restore_one(gosr_node *n, const char *id, const char *version,
                       gosr_error *err)
{
    kver *v = NULL;
    gosr_sandbox *sb = NULL;
    int rc = kernel__registry_get(n, id, version, &v, err);
    if (rc == GOSR_OK)
        rc = kernel__module_load(n, v, NULL, NULL, &sb, err);
    if (rc == GOSR_OK)
        rc = kernel__slot_add(n, v, sb, NULL);
    if (rc != GOSR_OK) {
        kernel__kver_free(v);
        gosr_sandbox_destroy(sb);
    }
    return rc;
}

/* Loads the active versions; *probation (caller decrefs) gets the
 * probations the ledger says were running (kernel__probation_resume). */
static int restore_active(gosr_node *n, json_t **probation, gosr_error *err)
{
    json_t *map = NULL, *v;
    const char *id;
    int rc = kernel__ledger_active(n, &map, err);
    if (rc != GOSR_OK)
        return rc;
    json_object_foreach(json_object_get(map, "active"), id, v)
    {
        gosr_error e = {0};
        if (restore_one(n, id, json_string_value(v), &e) != GOSR_OK)
            gosr_log(GOSR_LOG_ERROR, "kernel", "restoring %s@%s: %s: %s", id,
                     json_string_value(v), e.reason, e.detail);
    }
    *probation = json_incref(json_object_get(map, "probation"));
    json_decref(map);
    for (size_t i = 0; i < n->nslots; i++) /* replay starts from these */
        kernel__log_switch(n, "switch", n->slots[i].ver->id,
                           n->slots[i].ver->version);
    return GOSR_OK;
}

static int open_parts(gosr_node *n, gosr_error *err)
{
    char *p = gosr_asprintf("%s/tmp", n->dir);
    int rc = p ? gosr_mkdir_p(p, 0700) : GOSR_ENOMEM;
    gosr_free(p);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "data_dir", "cannot create %s/tmp",
                              n->dir);
    if (n->cfg.revocations &&
        (rc = gosr_revocations_load(n->cfg.revocations, n->trust_pk,
                                    &n->revoked, err)) != GOSR_OK)
        return rc;
    p = gosr_asprintf("%s/%s", n->dir, GOSR_NODE_STORE_DIR);
    rc = p ? gosr_store_open(p, NULL, &n->store, err) : GOSR_ENOMEM;
    gosr_free(p);
    if (rc == GOSR_OK)
        rc = kernel__registry_open(n, err);
    if (rc == GOSR_OK)
        rc = kernel__mesh_open(n, err);
    if (rc != GOSR_OK)
        return rc;
    p = gosr_asprintf("%s/%s", n->dir, GOSR_NODE_LEDGER_FILE);
    rc = p ? gosr_ledger_open(p, &n->ledger, err) : GOSR_ENOMEM;
    gosr_free(p);
    if (rc != GOSR_OK)
        return rc;
    if (gosr_ledger_safe_mode(n->ledger))
        gosr_log(GOSR_LOG_ERROR, "kernel",
                 "ledger chain broken: safe mode, activations refused");
    if ((rc = kernel__metrics_init(n, err)) != GOSR_OK ||
        (rc = kernel__host_create(n, err)) != GOSR_OK ||
        (rc = kernel__ai_open(n, err)) != GOSR_OK ||
        (rc = open_world(n, err)) != GOSR_OK)
        return rc;
    if ((rc = gosr_admin_queue_create(&n->queue)) != GOSR_OK)
        return gosr_error_set(err, rc, "out_of_memory", "queue");
    json_t *probation = NULL;
    if ((rc = restore_active(n, &probation, err)) == GOSR_OK &&
        (rc = kernel__ckpt_open(n, err)) == GOSR_OK) {
        kernel__ckpt_restore(n);
        kernel__probation_resume(n, probation);
    }
    json_decref(probation);
    return rc;
}

int gosr_node_open(const gosr_node_config *cfg, gosr_node **out,
                   gosr_error *err)
{
    if (!cfg || !cfg->data_dir || (!cfg->trust_pk && !cfg->no_trust))
        return gosr_error_set(err, GOSR_EINVAL, "node_config",
                              "data_dir and trust_pk are required");
    gosr_node *n = gosr_calloc(1, sizeof *n);
    if (!n)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "node");
    n->cfg = *cfg;
    if (!n->cfg.rate_hz)
        n->cfg.rate_hz = 30;
    n->dir = gosr_strdup(cfg->data_dir);
    n->granted = gosr_strdup(cfg->granted_caps ? cfg->granted_caps
                                               : GOSR_NODE_DEFAULT_CAPS);
    n->cfg.data_dir = n->dir;
    n->cfg.granted_caps = n->granted;
    n->cfg.session_log = NULL;
    n->cfg.revocations = NULL;
    n->cfg.admin_listen = NULL;
    pthread_mutex_init(&n->db_mu, NULL);
    pthread_mutex_init(&n->ledger_mu, NULL);
    pthread_mutex_init(&n->ctr_mu, NULL);
    if (cfg->trust_pk)
        memcpy(n->trust_pk, cfg->trust_pk, 32);
    int rc = n->dir && n->granted ? GOSR_OK : GOSR_ENOMEM;
    n->cfg.session_log = cfg->session_log;
    n->cfg.revocations = cfg->revocations;
    if (rc == GOSR_OK && gosr_mkdir_p(n->dir, 0700) != GOSR_OK)
        rc = gosr_error_set(err, GOSR_EIO, "data_dir", "cannot create %s",
                            n->dir);
    if (rc == GOSR_OK)
        rc = open_parts(n, err);
    n->cfg.session_log = NULL;
    n->cfg.revocations = NULL;
    n->cfg.admin_listen = cfg->admin_listen; /* borrowed until start */
    if (rc != GOSR_OK) {
        gosr_node_close(n);
        return rc;
    }
    *out = n;
    return GOSR_OK;
}

/* ---- the tick thread ------------------------------------------------------ */

static void after_step(gosr_node *n, uint64_t t0)
{
    kernel__after_tick(n);
    uint64_t dt = gosr_time_mono_ns() - t0;
    if (n->m_tick)
        gosr_admin_series_observe(n->m_tick, (double)dt / 1e9);
    pthread_mutex_lock(&n->ctr_mu);
    n->ring_ns[n->ring_at++ & (KRING - 1)] = dt;
    n->ctr.ticks++;
    n->world_tick = gosr_world_tick(n->world);
    n->world_count = gosr_world_count(n->world);
    gosr_tick_last_hash(n->tick, &n->last_hash);
    pthread_mutex_unlock(&n->ctr_mu);
    kernel__ckpt_after_tick(n);
}

int gosr_node_step(gosr_node *n, uint64_t count, gosr_error *err)
{
    if (n->started)
        return gosr_error_set(err, GOSR_ESTATE, "node_running",
                              "the tick thread is running");
    for (uint64_t i = 0; i < count; i++) {
        gosr_admin_queue_drain(n->queue, 0);
        uint64_t t0 = gosr_time_mono_ns();
        int rc = gosr_tick_step(n->tick, err);
        if (rc != GOSR_OK)
            return rc;
        after_step(n, t0);
    }
    return GOSR_OK;
}

static void sleep_until(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
        ;
}

static void *tick_main(void *arg)
{
    gosr_node *n = arg;
    uint64_t period = 1000000000u / n->cfg.rate_hz;
    uint64_t next = gosr_time_mono_ns();
    while (!atomic_load(&n->stop)) {
        uint64_t now = gosr_time_mono_ns();
        if (now < next) {
            sleep_until(next);
        } else if (now > next + period / 10) {
            uint64_t behind = (now - next) / period;
            pthread_mutex_lock(&n->ctr_mu);
            n->ctr.late++;
            n->ctr.missed += behind;
            pthread_mutex_unlock(&n->ctr_mu);
            next += behind * period;
        }
        gosr_admin_queue_drain(n->queue, 0);
        uint64_t t0 = gosr_time_mono_ns();
        gosr_error err = {0};
        if (gosr_tick_step(n->tick, &err) != GOSR_OK) {
            gosr_log(GOSR_LOG_ERROR, "kernel", "tick failed: %s", err.detail);
            break;
        }
        after_step(n, t0);
        next += period;
    }
    gosr_admin_queue_drain(n->queue, 0);
    return NULL;
}

int gosr_node_start(gosr_node *n, gosr_error *err)
{
    if (n->started)
        return gosr_error_set(err, GOSR_ESTATE, "node_running", "started");
    int rc;
    if (!n->cfg.no_admin) {
        gosr_admin_config ac = {.data_dir = n->dir,
                                .max_upload = n->cfg.max_upload
                                                  ? n->cfg.max_upload
                                                  : (uint64_t)1 << 30,
                                .listen = n->cfg.admin_listen,
                                .metrics = n->metrics};
        rc = gosr_admin_server_create(&ac, &n->admin, err);
        if (rc == GOSR_OK)
            rc = kernel__api_register(n, err);
        for (size_t i = 0; rc == GOSR_OK && i < n->nxroutes; i++)
            rc = gosr_admin_server_route(n->admin, &n->xroutes[i], err);
        if (rc == GOSR_OK)
            rc = gosr_admin_server_start(n->admin, err);
        if (rc != GOSR_OK) {
            gosr_admin_server_destroy(n->admin);
            n->admin = NULL;
            return rc;
        }
    }
    if ((rc = kernel__mesh_start(n, err)) != GOSR_OK) {
        kernel__mesh_stop(n);
        gosr_admin_server_destroy(n->admin);
        n->admin = NULL;
        return rc;
    }
    atomic_store(&n->stop, false);
    n->started = true;
    n->via_queue = true;
    if (pthread_create(&n->thread, NULL, tick_main, n) != 0) {
        kernel__mesh_stop(n);
        n->started = false;
        gosr_admin_server_destroy(n->admin);
        n->admin = NULL;
        return gosr_error_set(err, GOSR_EIO, "thread", "pthread_create");
    }
    return GOSR_OK;
}

void gosr_node_request_stop(gosr_node *n)
{
    atomic_store(&n->stop, true);
}

void gosr_node_wait(gosr_node *n)
{
    if (!n->started)
        return;
    pthread_join(n->thread, NULL);
    n->started = false;
}

void gosr_node_stop(gosr_node *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, true);
    gosr_node_wait(n);
    kernel__ckpt_stop(n); /* after the last tick */
    kernel__mesh_stop(n); /* in-flight installs fail: link closed */
    if (n->via_queue)
        gosr_admin_queue_close(n->queue); /* fails late jobs: ECLOSED */
    if (n->admin)
        gosr_admin_server_stop(n->admin);
    if (n->session)
        gosr_session_sync(n->session);
}

void gosr_node_close(gosr_node *n)
{
    if (!n)
        return;
    gosr_node_stop(n);
    kernel__ckpt_close(n);
    gosr_admin_server_destroy(n->admin);
    gosr_admin_queue_destroy(n->queue);
    gosr_free(n->xroutes);
    kernel__ai_close(n); /* before the tick loop its callbacks submit to */
    for (size_t i = 0; i < n->nslots; i++)
        kernel__slot_clear(&n->slots[i]);
    gosr_free(n->slots);
    gosr_tick_destroy(n->tick);
    gosr_session_close(n->session);
    gosr_world_destroy(n->world);
    gosr_ledger_close(n->ledger);
    kernel__registry_close(n);
    kernel__mesh_close(n); /* uses the store */
    gosr_store_close(n->store);
    gosr_sandbox_host_destroy(n->host);
    if (n->own_metrics)
        gosr_admin_metrics_destroy(n->metrics);
    gosr_revocations_free(n->revoked);
    pthread_mutex_destroy(&n->db_mu);
    pthread_mutex_destroy(&n->ledger_mu);
    pthread_mutex_destroy(&n->ctr_mu);
    gosr_free(n->dir);
    gosr_free(n->granted);
    gosr_free(n);
}

/* ---- operations ----------------------------------------------------------- */

/* {"id","version","root","package","activated"} of a recorded version. */
static json_t *version_info(const kver *v, bool activated)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", v->id, "version",
                     v->version, "root", v->root, "package", v->package,
                     "activated", activated);
}

int gosr_node_publish(gosr_node *n, const char *path, bool activate,
                      const char *actor, json_t **info, gosr_error *err)
{
    kver *v = NULL;
    gosr_hash pkg;
    gosr_error perr = {0};
    int rc = kernel__registry_publish(n, path, &v, err);
    if (rc != GOSR_OK)
        return rc;
    bool pledged = n->mesh_running &&
                   gosr_hash_from_hex(v->package, &pkg) == GOSR_OK &&
                   kernel__mesh_pledge(n, &pkg, 0, &perr) == GOSR_OK;
    if (n->mesh_running && !pledged) /* published here all the same */
        gosr_log(GOSR_LOG_WARN, "kernel", "%s@%s not pledged: %s: %s", v->id,
                 v->version, perr.reason, perr.detail);
    if (activate)
        rc = kernel__activate(n, v->id, v->version, actor, "activate", err);
    if (rc == GOSR_OK && info) {
        *info = version_info(v, activate);
        json_object_set_new(*info, "pledged", json_boolean(pledged));
    }
    kernel__kver_free(v);
    return rc;
}

int gosr_node_pledge(gosr_node *n, const char *package, unsigned rf,
                     gosr_error *err)
{
    gosr_hash pkg;
    if (!package || gosr_hash_from_hex(package, &pkg) != GOSR_OK)
        return gosr_error_set(err, GOSR_EINVAL, "bad_package",
                              "a package is 64 hex digits");
    if (rf > 16)
        return gosr_error_set(err, GOSR_EINVAL, "bad_rf", "rf is 0..16");
    return kernel__mesh_pledge(n, &pkg, rf, err);
}

int gosr_node_install(gosr_node *n, const char *package, bool activate,
                      unsigned wait_ms, const char *actor, json_t **info,
                      gosr_error *err)
{
    gosr_hash pkg;
    kver *v = NULL;
    if (!package || gosr_hash_from_hex(package, &pkg) != GOSR_OK)
        return gosr_error_set(err, GOSR_EINVAL, "bad_package",
                              "a package is 64 hex digits");
    gosr_error perr = {0};
    int rc = kernel__mesh_fetch(n, &pkg, wait_ms ? wait_ms : 10000, err);
    if (rc == GOSR_OK)
        rc = kernel__registry_install(n, &pkg, &v, err);
    if (rc == GOSR_OK && kernel__mesh_pledge(n, &pkg, 0, &perr) != GOSR_OK)
        gosr_log(GOSR_LOG_WARN, "kernel", "%s@%s installed, not pledged: "
                 "%s: %s", v->id, v->version, perr.reason, perr.detail);
    if (rc == GOSR_OK && activate)
        rc = kernel__activate(n, v->id, v->version, actor, "activate", err);
    if (rc == GOSR_OK && info)
        *info = version_info(v, activate);
    kernel__kver_free(v);
    return rc;
}

int gosr_node_activate(gosr_node *n, const char *id, const char *version,
                       const char *actor, gosr_error *err)
{
    if (!id || !version || !*id || !*version)
        return gosr_error_set(err, GOSR_EINVAL, "activate_args",
                              "module id and version are required");
    return kernel__activate(n, id, version, actor, "activate", err);
}

int gosr_node_rollback(gosr_node *n, const char *id, const char *to,
                       const char *actor, gosr_error *err)
{
    if (!id || !*id)
        return gosr_error_set(err, GOSR_EINVAL, "rollback_args",
                              "module id is required");
    return kernel__rollback(n, id, to, actor, err);
}

int gosr_node_submit(gosr_node *n, const gosr_event *ev)
{
    return gosr_tick_submit(n->tick, ev);
}

/* Tick thread job: copies the slot view into a JSON object. */
typedef struct mod_job {
    gosr_node *n;  /* node */
    json_t *out;   /* {"id": {...slot view}} */
} mod_job;

static int job_modules(void *arg, gosr_error *err)
{
    mod_job *j = arg;
    (void)err;
    for (size_t i = 0; i < j->n->nslots; i++) {
        kslot *s = &j->n->slots[i];
        const char *state = s->probation ? "probation"
                            : s->dead    ? "faulted"
                                         : "running";
        json_object_set_new(
            j->out, s->ver->id,
            json_pack("{s:s, s:s, s:s?, s:i}", "active", s->ver->version,
                      "state", state, "quarantined",
                      s->old_ver ? s->old_ver->version : NULL,
                      "healthy_ticks", (int)s->healthy));
    }
    return GOSR_OK;
}

int gosr_node_modules_json(gosr_node *n, json_t **out, gosr_error *err)
{
    json_t *mods = json_object();
    mod_job j = {.n = n, .out = json_object()};
    int rc = kernel__registry_list(n, mods, err);
    if (rc == GOSR_OK)
        rc = kernel__exec(n, job_modules, &j, err);
    if (rc != GOSR_OK) {
        json_decref(mods);
        json_decref(j.out);
        return rc;
    }
    json_t *arr = json_array(), *m;
    const char *id;
    json_object_foreach(mods, id, m)
    {
        json_t *a = json_object_get(j.out, id);
        json_object_update(m, a ? a : json_pack("{s:n, s:s}", "active",
                                                "state", "inactive"));
        json_array_append(arr, m);
    }
    json_decref(mods);
    json_decref(j.out);
    *out = json_pack("{s:o}", "modules", arr);
    return GOSR_OK;
}

void gosr_node_get_counters(gosr_node *n, gosr_node_counters *out)
{
    pthread_mutex_lock(&n->ctr_mu);
    *out = n->ctr;
    pthread_mutex_unlock(&n->ctr_mu);
}

int gosr_node_status_json(gosr_node *n, json_t **out, gosr_error *err)
{
    gosr_node_counters c;
    char hash[65];
    pthread_mutex_lock(&n->ctr_mu);
    c = n->ctr;
    gosr_hash_hex(&n->last_hash, hash);
    uint64_t tick = n->world_tick;
    uint32_t count = n->world_count;
    pthread_mutex_unlock(&n->ctr_mu);
    pthread_mutex_lock(&n->ledger_mu);
    bool safe = gosr_ledger_safe_mode(n->ledger);
    pthread_mutex_unlock(&n->ledger_mu);
    *out = json_pack(
        "{s:s, s:I, s:i, s:i, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:b}",
        "engine", GOSR_ENGINE_VERSION, "tick", (json_int_t)tick, "entities",
        (int)count, "rate_hz", (int)n->cfg.rate_hz, "world_hash", hash,
        "safe_mode", safe, "ticks",
        (json_int_t)c.ticks, "swaps", (json_int_t)c.swaps, "rollbacks",
        (json_int_t)c.rollbacks, "retires", (json_int_t)c.retires, "faults",
        (json_int_t)c.faults, "late", (json_int_t)c.late, "missed",
        (json_int_t)c.missed, "last_swap_commit_ns",
        (json_int_t)c.last_swap_commit_ns, "swap_in_progress",
        atomic_load(&n->swap_busy));
    if (*out)
        json_object_set_new(*out, "checkpoint", kernel__ckpt_status(n));
    return *out ? GOSR_OK
                : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "status");
}

int gosr_node_active_version(gosr_node *n, const char *id, char *buf,
                             size_t cap)
{
    kslot *s = n->started ? NULL : kernel__slot_find(n, id);
    if (n->started) {
        json_t *m = NULL;
        if (gosr_node_modules_json(n, &m, NULL) != GOSR_OK)
            return GOSR_EIO;
        json_t *a, *x;
        size_t i;
        int rc = GOSR_ENOENT;
        json_array_foreach(json_object_get(m, "modules"), i, x)
        {
            a = json_object_get(x, "active");
            if (!strcmp(json_string_value(json_object_get(x, "id")), id) &&
                json_is_string(a)) {
                snprintf(buf, cap, "%s", json_string_value(a));
                rc = GOSR_OK;
            }
        }
        json_decref(m);
        return rc;
    }
    if (!s)
        return GOSR_ENOENT;
    snprintf(buf, cap, "%s", s->ver->version);
    return GOSR_OK;
}

size_t gosr_node_recent_ticks(gosr_node *n, uint64_t *out, size_t max)
{
    pthread_mutex_lock(&n->ctr_mu);
    size_t have = n->ring_at < KRING ? (size_t)n->ring_at : KRING;
    size_t k = have < max ? have : max;
    for (size_t i = 0; i < k; i++)
        out[i] = n->ring_ns[(n->ring_at - k + i) & (KRING - 1)];
    pthread_mutex_unlock(&n->ctr_mu);
    return k;
}

gosr_world *gosr_node_world(gosr_node *n)
{
    return n->world;
}

gosr_ledger *gosr_node_ledger(gosr_node *n)
{
    return n->ledger;
}

uint16_t gosr_node_admin_port(gosr_node *n)
{
    return n->admin ? gosr_admin_server_port(n->admin) : 0;
}

/* ---- replay ---------------------------------------------------------------- */

/* gosr_replay_file's install hook has no user pointer; replays are
 * serialised by this lock and find their node here. */
static pthread_mutex_t replay_mu = PTHREAD_MUTEX_INITIALIZER;
static gosr_node *replay_node;

static int replay_install(gosr_tick *t, const char *systems_id,
                          gosr_error *err)
{
    if (strcmp(systems_id, "kernel.v1") != 0)
        return gosr_sim_install(t, systems_id, err);
    return gosr_tick_add_system(t, "modules", kernel__system, replay_node);
}

int gosr_node_replay(const char *dir, const char *log,
                     gosr_replay_result *res, gosr_error *err)
{
    gosr_node *n = gosr_calloc(1, sizeof *n);
    if (!n)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "node");
    n->replay = true;
    n->cfg.no_trust = true;
    n->cfg.rate_hz = 30;
    pthread_mutex_init(&n->db_mu, NULL);
    pthread_mutex_init(&n->ledger_mu, NULL);
    pthread_mutex_init(&n->ctr_mu, NULL);
    n->dir = gosr_strdup(dir);
    n->granted = gosr_strdup(GOSR_NODE_DEFAULT_CAPS);
    char *p = gosr_asprintf("%s/%s", dir, GOSR_NODE_STORE_DIR);
    gosr_store_config sc = {.read_only = true};
    int rc = n->dir && n->granted && p ? GOSR_OK : GOSR_ENOMEM;
    if (rc == GOSR_OK)
        rc = gosr_store_open(p, &sc, &n->store, err);
    gosr_free(p);
    if (rc == GOSR_OK)
        rc = kernel__registry_open(n, err);
    if (rc == GOSR_OK)
        rc = kernel__host_create(n, err);
    if (rc == GOSR_OK) {
        pthread_mutex_lock(&replay_mu);
        replay_node = n;
        rc = gosr_replay_file(log, replay_install, res, err);
        replay_node = NULL;
        pthread_mutex_unlock(&replay_mu);
    }
    n->world = NULL; /* the replay's world, already destroyed */
    gosr_node_close(n);
    return rc;
}
