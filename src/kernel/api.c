/*
 * api.c — the node's admin endpoints on the admin layer (docs/kernel.md,
 * "Endpoints"): publish, list modules, activate, roll back, read the
 * ledger, status, input events, install from the mesh and pledge; and the kernel's Prometheus metrics. Handlers run on
 * HTTP threads; every change of node state goes through the admin queue to
 * the tick thread (kernel__exec), so it happens between two ticks.
 */
#include "kernel/kernel_int.h"

#include <stdlib.h>
#include <string.h>

int kernel__metrics_init(gosr_node *n, gosr_error *err)
{
    static const char *const mod_label[] = {"module"};
    int rc = gosr_admin_metrics_create(&n->metrics);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "out_of_memory", "metrics");
    n->own_metrics = true;
    gosr_admin_metric *f;
    gosr_admin_metric_desc d[] = {
        {.name = "gosr_tick_seconds", .help = "Tick duration",
         .type = GOSR_ADMIN_HISTOGRAM},
        {.name = "gosr_module_script_seconds",
         .help = "Script time per module and tick",
         .type = GOSR_ADMIN_HISTOGRAM, .labels = mod_label, .nlabels = 1},
        {.name = "gosr_swaps_total", .help = "Module version switches",
         .type = GOSR_ADMIN_COUNTER},
        {.name = "gosr_rollbacks_total",
         .help = "Rollbacks (automatic and operator)",
         .type = GOSR_ADMIN_COUNTER},
        {.name = "gosr_faults_total", .help = "Module sandbox faults",
         .type = GOSR_ADMIN_COUNTER},
        {.name = "gosr_retires_total", .help = "Quarantined versions retired",
         .type = GOSR_ADMIN_COUNTER},
    };
    gosr_admin_series **dst[] = {&n->m_tick, NULL, &n->m_swaps,
                                 &n->m_rollbacks, &n->m_faults, &n->m_retires};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        rc = gosr_admin_metrics_add(n->metrics, &d[i], &f, err);
        if (rc != GOSR_OK)
            return rc;
        if (dst[i])
            rc = gosr_admin_metric_series(f, NULL, dst[i], err);
        else
            n->m_script = f;
        if (rc != GOSR_OK)
            return rc;
    }
    return GOSR_OK;
}

static const char *actor_of(const gosr_admin_request *r)
{
    return r->role == GOSR_ADMIN_ROLE_PRIVILEGED ? "operator:privileged"
                                                 : "operator";
}

static int h_publish(void *ud, const gosr_admin_request *r,
                     gosr_admin_reply *rep, gosr_error *err)
{
    const char *a = gosr_admin_query(r, "activate");
    bool activate = a && (!strcmp(a, "1") || !strcmp(a, "true"));
    if (!r->body_path || r->body_len == 0)
        return gosr_error_set(err, GOSR_EINVAL, "body_missing",
                              "POST the .gmod bundle as the request body");
    const char *rf_text = gosr_admin_query(r, "rf");
    char *end = NULL;
    unsigned long rf = rf_text ? strtoul(rf_text, &end, 10) : 0;
    if (rf_text && (!*rf_text || *end || rf > 16))
        return gosr_error_set(err, GOSR_EINVAL, "bad_rf", "rf is 0..16");
    json_t *info = NULL;
    int rc = gosr_node_publish(ud, r->body_path, activate, actor_of(r), &info,
                               err);
    if (rc != GOSR_OK)
        return rc;
    gosr_error perr = {0};
    if (rf && json_is_true(json_object_get(info, "pledged")) &&
        gosr_node_pledge(ud, json_string_value(json_object_get(info,
                                                               "package")),
                         (unsigned)rf, &perr) != GOSR_OK)
        json_object_set_new(info, "pledged", json_false());
    if (rf)
        json_object_set_new(info, "rf", json_integer((json_int_t)rf));
    rep->http_status = 201;
    rep->json = info;
    return GOSR_OK;
}

/* POST /v1/packages {"package", "activate"?, "wait_ms"?}: install a
 * module version from the mesh (docs/kernel.md, "Mesh packages"). */
static int h_install(void *ud, const gosr_admin_request *r,
                     gosr_admin_reply *rep, gosr_error *err)
{
    json_t *pkg = r->json ? json_object_get(r->json, "package") : NULL;
    json_t *act = r->json ? json_object_get(r->json, "activate") : NULL;
    json_t *wait = r->json ? json_object_get(r->json, "wait_ms") : NULL;
    if (!json_is_string(pkg) || (act && !json_is_boolean(act)) ||
        (wait && (!json_is_integer(wait) || json_integer_value(wait) < 0 ||
                  json_integer_value(wait) > 600000)))
        return gosr_error_set(err, GOSR_EINVAL, "body_field",
                              "body needs \"package\" (64 hex), optional "
                              "boolean \"activate\" and \"wait_ms\" "
                              "0..600000");
    json_t *info = NULL;
    int rc = gosr_node_install(ud, json_string_value(pkg), json_is_true(act),
                               (unsigned)json_integer_value(wait),
                               actor_of(r), &info, err);
    if (rc == GOSR_OK) {
        rep->http_status = 201;
        rep->json = info;
    }
    return rc;
}

/* POST /v1/packages/{package}/pledge {"rf"}: the package's replication
 * factor on the mesh. */
static int h_pledge(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    const char *pkg = gosr_admin_param(r, "package");
    json_t *rf = r->json ? json_object_get(r->json, "rf") : NULL;
    if (!json_is_integer(rf))
        return gosr_error_set(err, GOSR_EINVAL, "body_field",
                              "body needs integer \"rf\" (0..16)");
    json_int_t v = json_integer_value(rf);
    int rc = v < 0 || v > 16 ? gosr_error_set(err, GOSR_EINVAL, "bad_rf",
                                              "rf is 0..16")
                             : gosr_node_pledge(ud, pkg, (unsigned)v, err);
    if (rc == GOSR_OK)
        rep->json = json_pack("{s:s, s:I}", "package", pkg, "rf", v);
    return rc;
}

static int h_modules(void *ud, const gosr_admin_request *r,
                     gosr_admin_reply *rep, gosr_error *err)
{
    (void)r;
    return gosr_node_modules_json(ud, &rep->json, err);
}

/* Reads an optional string member of the JSON body. */
static int body_str(const gosr_admin_request *r, const char *key,
                    bool required, const char **out, gosr_error *err)
{
    json_t *v = r->json ? json_object_get(r->json, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return gosr_error_set(err, GOSR_EINVAL, "body_field",
                                  "body needs \"%s\"", key);
        return GOSR_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) >= KVER_MAX)
        return gosr_error_set(err, GOSR_EINVAL, "body_field",
                              "\"%s\" must be a version string", key);
    *out = json_string_value(v);
    return GOSR_OK;
}

static int h_activate(void *ud, const gosr_admin_request *r,
                      gosr_admin_reply *rep, gosr_error *err)
{
    const char *id = gosr_admin_param(r, "id"), *ver;
    int rc = body_str(r, "version", true, &ver, err);
    if (rc == GOSR_OK)
        rc = gosr_node_activate(ud, id, ver, actor_of(r), err);
    if (rc == GOSR_OK)
        rep->json = json_pack("{s:s, s:s}", "id", id, "active", ver);
    return rc;
}

static int h_rollback(void *ud, const gosr_admin_request *r,
                      gosr_admin_reply *rep, gosr_error *err)
{
    const char *id = gosr_admin_param(r, "id"), *to;
    char now[KVER_MAX];
    int rc = body_str(r, "to", false, &to, err);
    if (rc == GOSR_OK)
        rc = gosr_node_rollback(ud, id, to, actor_of(r), err);
    if (rc == GOSR_OK &&
        gosr_node_active_version(ud, id, now, sizeof now) == GOSR_OK)
        rep->json = json_pack("{s:s, s:s}", "id", id, "active", now);
    return rc;
}

static json_t *row_json(const gosr_ledger_row *r)
{
    char prev[65], hash[65];
    gosr_hex_encode(r->prev_hash, 32, prev);
    gosr_hex_encode(r->row_hash, 32, hash);
    json_t *ev = json_loads(r->evidence, 0, NULL);
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}",
                     "seq", (json_int_t)r->seq, "time_ns",
                     (json_int_t)r->time_ns, "actor", r->actor, "action",
                     r->action, "subject", r->subject, "version", r->version,
                     "reason", r->reason, "evidence", ev ? ev : json_null(),
                     "prev_hash", prev, "row_hash", hash);
}

static int h_ledger(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    gosr_node *n = ud;
    const char *v = gosr_admin_query(r, "verify");
    int64_t count = 0, bad = 0;
    uint8_t head[32];
    char hex[65];
    json_t *rows = json_array();
    int rc = GOSR_OK, vrc = GOSR_OK;
    gosr_error verr = {0};
    pthread_mutex_lock(&n->ledger_mu);
    if (v && strcmp(v, "0") != 0)
        vrc = gosr_ledger_verify(n->ledger, &bad, &verr);
    gosr_ledger_head(n->ledger, &count, head);
    for (int64_t seq = 1; seq <= count && rc == GOSR_OK; seq++) {
        gosr_ledger_row row;
        rc = gosr_ledger_get(n->ledger, seq, &row, err);
        if (rc == GOSR_OK) {
            json_array_append_new(rows, row_json(&row));
            gosr_ledger_row_clear(&row);
        }
    }
    bool safe = gosr_ledger_safe_mode(n->ledger);
    pthread_mutex_unlock(&n->ledger_mu);
    if (rc != GOSR_OK) {
        json_decref(rows);
        return rc;
    }
    gosr_hex_encode(head, 32, hex);
    rep->json = json_pack("{s:o, s:I, s:s, s:b}", "rows", rows, "count",
                          (json_int_t)count, "head", hex, "safe_mode", safe);
    if (v && strcmp(v, "0") != 0) {
        json_object_set_new(rep->json, "intact", json_boolean(vrc == GOSR_OK));
        if (vrc != GOSR_OK) {
            json_object_set_new(rep->json, "first_bad_seq", json_integer(bad));
            json_object_set_new(rep->json, "detail",
                                json_string(verr.detail));
        }
    }
    return GOSR_OK;
}

/* POST /v1/events {"name", "payload"?, "user"?}: an input event for the
 * next tick (logged in the session, delivered to on_event). */
static int h_event(void *ud, const gosr_admin_request *r,
                   gosr_admin_reply *rep, gosr_error *err)
{
    json_t *name = r->json ? json_object_get(r->json, "name") : NULL;
    json_t *pl = r->json ? json_object_get(r->json, "payload") : NULL;
    json_t *user = r->json ? json_object_get(r->json, "user") : NULL;
    if (!json_is_string(name) || (pl && !json_is_string(pl)) ||
        (user && !json_is_string(user)))
        return gosr_error_set(err, GOSR_EINVAL, "body_field",
                              "body needs \"name\" and optional string "
                              "\"payload\" and \"user\"");
    gosr_event ev = {0};
    int rc = gosr_event_set_name(&ev, json_string_value(name), err);
    if (rc == GOSR_OK && pl)
        rc = json_string_length(pl) > 65536
                 ? gosr_error_set(err, GOSR_ETOOBIG, "payload_too_big",
                                  "payload over 64 KiB")
                 : gosr_event_set_payload(&ev, json_string_value(pl),
                                          json_string_length(pl));
    if (rc == GOSR_OK && user)
        rc = gosr_event_set_meta(&ev, "user_id", json_string_value(user),
                                 err);
    if (rc == GOSR_OK && (rc = gosr_node_submit(ud, &ev)) != GOSR_OK)
        gosr_error_set(err, rc, "input_queue_full",
                       "the tick's input queue is full; retry");
    gosr_event_clear(&ev);
    if (rc == GOSR_OK) {
        rep->http_status = 202;
        rep->json = json_pack("{s:s}", "queued", json_string_value(name));
    }
    return rc;
}

static int status_fn(void *ud, json_t **out, gosr_error *err)
{
    return gosr_node_status_json(ud, out, err);
}

int kernel__api_register(gosr_node *n, gosr_error *err)
{
    const gosr_admin_route routes[] = {
        {"POST", "/v1/modules", h_publish, n, GOSR_ADMIN_ROLE_OPERATOR,
         GOSR_ADMIN_BODY_FILE, false},
        {"GET", "/v1/modules", h_modules, n, GOSR_ADMIN_ROLE_OPERATOR,
         GOSR_ADMIN_BODY_NONE, false},
        {"POST", "/v1/modules/{id}/activate", h_activate, n,
         GOSR_ADMIN_ROLE_OPERATOR, GOSR_ADMIN_BODY_JSON, false},
        {"POST", "/v1/modules/{id}/rollback", h_rollback, n,
         GOSR_ADMIN_ROLE_OPERATOR, GOSR_ADMIN_BODY_JSON, false},
        {"GET", "/v1/ledger", h_ledger, n, GOSR_ADMIN_ROLE_OPERATOR,
         GOSR_ADMIN_BODY_NONE, false},
        {"POST", "/v1/events", h_event, n, GOSR_ADMIN_ROLE_OPERATOR,
         GOSR_ADMIN_BODY_JSON, false},
        {"POST", "/v1/packages", h_install, n, GOSR_ADMIN_ROLE_OPERATOR,
         GOSR_ADMIN_BODY_JSON, false},
        {"POST", "/v1/packages/{package}/pledge", h_pledge, n,
         GOSR_ADMIN_ROLE_OPERATOR, GOSR_ADMIN_BODY_JSON, false},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = gosr_admin_server_route(n->admin, &routes[i], err);
        if (rc != GOSR_OK)
            return rc;
    }
    gosr_admin_server_set_status(n->admin, status_fn, n);
    return GOSR_OK;
}
