/*
 * test_ops.c — operating the patch pipeline on a real in-process node:
 * rollback to the previous known-good patch in one pointer update (in
 * effect at the next tick), the kill switch off and on with its audit
 * trail, the emergency override at start, fail-safe on an inconsistent
 * control plane (privileged override only), a restart in the middle of
 * the canary and of a rollout, and a rollout whose KPIs breach a
 * threshold rolled back automatically with a webhook alert to a real
 * libmicrohttpd server on 127.0.0.1. Design under test: docs/patch.md.
 */
#include "pfix.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

static pfix F;

static char *dir_for(const char *name)
{
    char *d = gosr_asprintf("%s/node-%s", gosr_test_tmpdir(), name);
    gosr_test_system("rm -rf '%s'", d);
    return d;
}

static void step(pnode *p, uint64_t n)
{
    gosr_error err = {0};
    if (gosr_node_step(p->n, n, &err) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "step: %s", err.detail);
}

static int submit(pnode *p, const char *path, char id[65], gosr_error *err)
{
    int rc = gosr_patch_submit(p->m, path, "test", id, err);
    if (rc == GOSR_OK)
        CHECK_OK(gosr_patch_process(p->m, NULL));
    return rc;
}

static void good_active(pnode *p, char id[65])
{
    char *b = pfix_patch(&F, "good", "1.0.0", NULL, NULL, NULL, NULL);
    gosr_error err = {0};
    CHECK_OK(submit(p, b, id, &err));
    gosr_free(b);
    step(p, 4 * 4);
}

static uint32_t pct_of(pnode *p)
{
    char id[65];
    uint32_t pct = 0;
    gosr_patch_active(p->m, id, &pct);
    return pct;
}

static const char *reason_of(gosr_patch_mgr *m, const char *id)
{
    static char buf[64];
    json_t *o = NULL;
    buf[0] = '\0';
    if (gosr_patch_status_json(m, id, &o, NULL) == GOSR_OK)
        snprintf(buf, sizeof buf, "%s",
                 json_string_value(
                     json_array_get(json_object_get(o, "reasons"), 0)));
    json_decref(o);
    return buf;
}

GOSR_TEST(rollback_to_known_good_is_one_pointer_update)
{
    pfix_keys(&F);
    char *d = dir_for("rollback");
    pnode p;
    pnode_open(&p, &F, d, NULL);
    char v1[65], v2[65], cur[65];
    gosr_error err = {0};
    CHECK_EQ(gosr_patch_rollback(p.m, NULL, "operator", "x", &err),
             GOSR_ESTATE);
    good_active(&p, v1);
    char *b = pfix_patch(&F, "v2", "1.1.0", v1, NULL, NULL, NULL);
    CHECK_OK(submit(&p, b, v2, &err));
    step(&p, 16);
    CHECK_OK(gosr_patch_active(p.m, cur, NULL));
    CHECK(!strcmp(cur, v2));
    CHECK_EQ(pct_of(&p), 100);
    CHECK(!strcmp(pstate(p.m, v1), "superseded"));
    CHECK_OK(
        gosr_patch_rollback(p.m, NULL, "operator:bob", "bad balance", &err));
    /* in effect before the next tick: the live pointer already moved */
    CHECK_OK(gosr_patch_active(p.m, cur, NULL));
    CHECK(!strcmp(cur, v1));
    CHECK(!strcmp(pstate(p.m, v2), "rolled_back"));
    CHECK(!strcmp(pstate(p.m, v1), "active"));
    step(&p, 2);
    json_t *o = NULL;
    CHECK_OK(gosr_patch_list_json(p.m, &o, &err));
    CHECK(!strcmp(json_string_value(json_object_get(o, "active")), v1));
    CHECK_EQ(json_integer_value(json_object_get(o, "rollbacks_total")), 1);
    json_decref(o);
    /* the audit record: ledger row with actor and reason */
    gosr_ledger *l = gosr_node_ledger(p.n);
    int64_t count = 0;
    uint8_t head[32];
    gosr_ledger_head(l, &count, head);
    bool found = false;
    for (int64_t s = 1; s <= count; s++) {
        gosr_ledger_row r;
        if (gosr_ledger_get(l, s, &r, NULL) != GOSR_OK)
            continue;
        found |= !strcmp(r.action, "patch.rolled_back") &&
                 !strcmp(r.actor, "operator:bob") &&
                 !strcmp(r.reason, "bad balance") && !strcmp(r.subject, v2);
        gosr_ledger_row_clear(&r);
    }
    CHECK(found);
    /* a rolled-back patch cannot be a rollback target */
    CHECK_EQ(gosr_patch_rollback(p.m, v2, "operator", "x", &err), GOSR_ESTATE);
    gosr_free(b);
    pnode_close(&p);
    gosr_free(d);
}

GOSR_TEST(killswitch_off_and_on_with_audit_trail)
{
    pfix_keys(&F);
    char *d = dir_for("ks");
    pnode p;
    pnode_open(&p, &F, d, NULL);
    char id[65];
    gosr_error err = {0};
    CHECK_EQ(gosr_patch_killswitch_set(p.m, false, "operator", "", false, &err),
             GOSR_EINVAL);
    CHECK_OK(gosr_patch_killswitch_set(p.m, false, "operator:carol",
                                       "incident 42", false, &err));
    char *b = pfix_patch(&F, "good", "1.0.0", NULL, NULL, NULL, NULL);
    CHECK_EQ(gosr_patch_submit(p.m, b, "test", id, &err), GOSR_EDENIED);
    CHECK(!strcmp(err.reason, "policy_ingest_disabled"));
    CHECK(strstr(err.detail, "dry run: stages 1-3 passed") != NULL);
    CHECK(!strcmp(pstate(p.m, id), "")); /* nothing recorded */
    char *bad = pfix_patch(&F, "dry-bad", "1.0.1", NULL, NULL, NULL,
                           "function tick() os.exit() end\n");
    CHECK_EQ(gosr_patch_submit(p.m, bad, "test", id, &err), GOSR_EDENIED);
    CHECK(strstr(err.detail, "dry run: static_forbidden_api") != NULL);
    gosr_free(bad);
    CHECK_OK(gosr_patch_killswitch_set(p.m, true, "operator:carol",
                                       "incident closed", false, &err));
    CHECK_OK(submit(&p, b, id, &err));
    CHECK(!strcmp(pstate(p.m, id), "active"));
    /* off again: the running patch keeps running, the rollout holds */
    CHECK_OK(gosr_patch_killswitch_set(p.m, false, "operator:carol", "freeze",
                                       false, &err));
    step(&p, 12);
    CHECK_EQ(pct_of(&p), 1);
    json_t *o = NULL;
    CHECK_OK(gosr_patch_killswitch_json(p.m, &o, &err));
    CHECK(json_is_false(json_object_get(o, "ai_patch_ingest_enabled")));
    json_t *a = json_object_get(o, "audit");
    CHECK_EQ(json_array_size(a), 3);
    json_t *first = json_array_get(a, 0);
    CHECK(!strcmp(json_string_value(json_object_get(first, "actor")),
                  "operator:carol"));
    CHECK(!strcmp(json_string_value(json_object_get(first, "reason")),
                  "incident 42"));
    CHECK(json_integer_value(json_object_get(first, "time_ns")) > 0);
    json_decref(o);
    pnode_close(&p);
    /* emergency override at start: off, audited */
    gosr_patch_config pc = {.no_worker = true, .ingest_off_at_start = true};
    pnode_open(&p, &F, d, &pc);
    CHECK_OK(gosr_patch_killswitch_json(p.m, &o, &err));
    CHECK(json_is_false(json_object_get(o, "ai_patch_ingest_enabled")));
    a = json_object_get(o, "audit");
    CHECK(!strcmp(json_string_value(json_object_get(
                      json_array_get(a, json_array_size(a) - 1), "actor")),
                  "config:override"));
    json_decref(o);
    pnode_close(&p);
    gosr_free(b);
    gosr_free(d);
}

GOSR_TEST(killswitch_fail_safe_needs_privileged_override)
{
    pfix_keys(&F);
    char *d = dir_for("failsafe");
    pnode p;
    pnode_open(&p, &F, d, NULL);
    pnode_close(&p);
    /* an inconsistent control plane: the flag row says something odd */
    char *db = gosr_asprintf("%s/patches.db", d);
    sqlite3 *s = NULL;
    REQUIRE(sqlite3_open(db, &s) == SQLITE_OK);
    CHECK_EQ(
        sqlite3_exec(s, "UPDATE control SET value = 'maybe'", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(s);
    pnode_open(&p, &F, d, NULL);
    json_t *o = NULL;
    gosr_error err = {0};
    CHECK_OK(gosr_patch_killswitch_json(p.m, &o, &err));
    CHECK(json_is_true(json_object_get(o, "fail_safe")));
    CHECK(json_is_false(json_object_get(o, "ai_patch_ingest_enabled")));
    json_decref(o);
    char id[65];
    char *b = pfix_patch(&F, "good", "1.0.0", NULL, NULL, NULL, NULL);
    CHECK_EQ(gosr_patch_submit(p.m, b, "test", id, &err), GOSR_EDENIED);
    CHECK_EQ(
        gosr_patch_killswitch_set(p.m, true, "operator", "try", false, &err),
        GOSR_EDENIED);
    CHECK(!strcmp(err.reason, "killswitch_override_required"));
    CHECK_OK(gosr_patch_killswitch_set(p.m, true, "operator:privileged",
                                       "verified flag", true, &err));
    CHECK_OK(submit(&p, b, id, &err));
    CHECK(!strcmp(pstate(p.m, id), "active"));
    gosr_free(b);
    gosr_free(db);
    pnode_close(&p);
    gosr_free(d);
}

GOSR_TEST(restart_in_the_middle_of_the_canary_resumes)
{
    pfix_keys(&F);
    char *d = dir_for("mid-canary");
    pnode p;
    pnode_open(&p, &F, d, NULL);
    char id[65];
    gosr_error err = {0};
    char *b = pfix_patch(&F, "good", "1.0.0", NULL, NULL, NULL, NULL);
    CHECK_OK(gosr_patch_submit(p.m, b, "test", id, &err));
    pnode_close(&p);
    /* what a crash inside stage 4/5 leaves: the row says canary */
    char *db = gosr_asprintf("%s/patches.db", d);
    sqlite3 *s = NULL;
    REQUIRE(sqlite3_open(db, &s) == SQLITE_OK);
    CHECK_EQ(sqlite3_exec(s, "UPDATE patches SET state = 'canary'", NULL, NULL,
                          NULL),
             SQLITE_OK);
    sqlite3_close(s);
    pnode_open(&p, &F, d, NULL);
    CHECK(!strcmp(pstate(p.m, id), "validated"));
    CHECK_OK(gosr_patch_process(p.m, &err));
    CHECK(!strcmp(pstate(p.m, id), "active"));
    gosr_free(db);
    gosr_free(b);
    pnode_close(&p);
    gosr_free(d);
}

GOSR_TEST(restart_in_the_middle_of_a_rollout_resumes_at_its_stage)
{
    pfix_keys(&F);
    char *d = dir_for("mid-rollout");
    pnode p;
    pnode_open(&p, &F, d, NULL);
    char id[65], cur[65];
    gosr_error err = {0};
    char *b = pfix_patch(&F, "good", "1.0.0", NULL, NULL, NULL, NULL);
    CHECK_OK(submit(&p, b, id, &err));
    step(&p, 4);
    CHECK_EQ(pct_of(&p), 10);
    pnode_close(&p);
    pnode_open(&p, &F, d, NULL);
    CHECK_OK(gosr_patch_active(p.m, cur, NULL));
    CHECK(!strcmp(cur, id));
    CHECK_EQ(pct_of(&p), 10);
    step(&p, 4);
    CHECK_EQ(pct_of(&p), 50);
    /* off across a restart: the rollout holds (fails safe) */
    CHECK_OK(
        gosr_patch_killswitch_set(p.m, false, "operator", "hold", false, &err));
    pnode_close(&p);
    pnode_open(&p, &F, d, NULL);
    step(&p, 8);
    CHECK_EQ(pct_of(&p), 50);
    gosr_free(b);
    pnode_close(&p);
    gosr_free(d);
}

/* ---- webhook receiver ---------------------------------------------------- */

typedef struct hook {
    pthread_mutex_t mu; /* guards body */
    char body[4096];    /* last POST body */
    size_t len;         /* bytes in body */
    int posts;          /* completed POSTs */
} hook;

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *data,
                              size_t *size, void **st)
{
    hook *h = cls;
    (void)url;
    (void)method;
    (void)version;
    if (!*st) {
        *st = h;
        pthread_mutex_lock(&h->mu);
        h->len = 0;
        pthread_mutex_unlock(&h->mu);
        return MHD_YES;
    }
    if (*size) {
        pthread_mutex_lock(&h->mu);
        size_t n = *size < sizeof h->body - 1 - h->len
                       ? *size
                       : sizeof h->body - 1 - h->len;
        memcpy(h->body + h->len, data, n);
        h->len += n;
        h->body[h->len] = '\0';
        pthread_mutex_unlock(&h->mu);
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&h->mu);
    h->posts++;
    pthread_mutex_unlock(&h->mu);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

GOSR_TEST(rollout_kpi_breach_rolls_back_automatically_with_webhook)
{
    pfix_keys(&F);
    hook h = {.posts = 0};
    pthread_mutex_init(&h.mu, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *md = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_req, &h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    REQUIRE(md != NULL);
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(md, MHD_DAEMON_INFO_BIND_PORT);
    char *url = gosr_asprintf("http://127.0.0.1:%u/alert", (unsigned)di->port);
    char *d = dir_for("breach");
    gosr_patch_config pc = {.webhook_url = url};
    pnode p;
    pnode_open(&p, &F, d, &pc);
    char v1[65], v2[65], cur[65];
    gosr_error err = {0};
    char *b = pfix_patch(&F, "good", "1.0.0", NULL, NULL, NULL, NULL);
    CHECK_OK(gosr_patch_submit(p.m, b, "test", v1, &err));
    CHECK(gosr_patch_idle_wait(p.m, 20000));
    step(&p, 16);
    CHECK_EQ(pct_of(&p), 100);
    gosr_free(b);
    /* v2 faults on a live input the canary's bots never send */
    char *src = NULL;
    size_t n = 0;
    char *lp = gosr_asprintf("%s/examples/patches/good/scripts/main.lua",
                             GOSR_SOURCE_DIR);
    gosr_file_read_all(lp, 1 << 20, (uint8_t **)&src, &n);
    char *lua = gosr_asprintf("POISON = true\n%.*s", (int)n, src);
    b = pfix_patch(&F, "poison", "1.1.0", v1, NULL, NULL, lua);
    CHECK_OK(gosr_patch_submit(p.m, b, "test", v2, &err));
    CHECK(gosr_patch_idle_wait(p.m, 20000));
    CHECK_OK(gosr_patch_active(p.m, cur, NULL));
    CHECK(!strcmp(cur, v2));
    CHECK_EQ(pct_of(&p), 1);
    gosr_event ev;
    memset(&ev, 0, sizeof ev);
    CHECK_OK(gosr_event_set_name(&ev, "test:poison:v1:requested", &err));
    CHECK_OK(gosr_node_submit(p.n, &ev));
    gosr_event_clear(&ev);
    step(&p, 2);
    CHECK_OK(gosr_patch_active(p.m, cur, NULL));
    CHECK(!strcmp(cur, v1));
    CHECK(!strcmp(pstate(p.m, v2), "rolled_back"));
    json_t *o = NULL;
    CHECK_OK(gosr_patch_status_json(p.m, v2, &o, &err));
    json_t *tr = json_object_get(o, "transitions");
    json_t *last = json_array_get(tr, json_array_size(tr) - 1);
    CHECK(!strcmp(json_string_value(json_object_get(last, "reason")),
                  "rollout_fault_rate"));
    CHECK(!strcmp(json_string_value(json_object_get(last, "actor")),
                  "kernel:rollout"));
    json_decref(o);
    (void)reason_of;
    /* the alert reached the webhook */
    for (int i = 0; i < 400; i++) {
        pthread_mutex_lock(&h.mu);
        int posts = h.posts;
        pthread_mutex_unlock(&h.mu);
        if (posts > 0)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&h.mu);
    CHECK_EQ(h.posts, 1);
    CHECK(strstr(h.body, "\"event\":\"patch_rollback\"") != NULL);
    CHECK(strstr(h.body, "rollout_fault_rate") != NULL);
    pthread_mutex_unlock(&h.mu);
    pnode_close(&p);
    MHD_stop_daemon(md);
    pthread_mutex_destroy(&h.mu);
    gosr_free(lua);
    gosr_free(lp);
    gosr_free(src);
    gosr_free(b);
    gosr_free(url);
    gosr_free(d);
}

GOSR_TEST(rollout_economy_drift_at_stage_end_rolls_back)
{
    pfix_keys(&F);
    char *d = dir_for("drift");
    pnode p;
    pnode_open(&p, &F, d, NULL);
    char v1[65], v2[65], cur[65];
    gosr_error err = {0};
    good_active(&p, v1);
    /* in the shadow runs (rollout 100) it looks like v1; live at 1 % its
     * economy jumps tenfold */
    char *b = pfix_patch(&F, "inflate", "1.1.0", v1, NULL, NULL,
                         "function tick(ctx)\n"
                         "  local e = 150\n"
                         "  if ctx.rollout < 100 then e = 1500 end\n"
                         "  kpi.report('economy', e)\n"
                         "end\n");
    CHECK_OK(submit(&p, b, v2, &err));
    CHECK(!strcmp(pstate(p.m, v2), "active"));
    step(&p, 4); /* one stage */
    CHECK_OK(gosr_patch_active(p.m, cur, NULL));
    CHECK(!strcmp(cur, v1));
    CHECK(!strcmp(pstate(p.m, v2), "rolled_back"));
    json_t *o = NULL;
    CHECK_OK(gosr_patch_status_json(p.m, v2, &o, &err));
    json_t *tr = json_object_get(o, "transitions");
    json_t *last = json_array_get(tr, json_array_size(tr) - 1);
    CHECK(!strcmp(json_string_value(json_object_get(last, "reason")),
                  "rollout_economy_drift"));
    json_decref(o);
    /* the metric counts it */
    gosr_buf mb = {0};
    CHECK_OK(gosr_admin_metrics_render(gosr_node_metrics(p.n), &mb));
    CHECK(strstr((const char *)mb.data, "gosr_patch_rollbacks_total 1") !=
          NULL);
    gosr_buf_free(&mb);
    gosr_free(b);
    pnode_close(&p);
    gosr_free(d);
}

GOSR_TEST(rollout_advanced_by_command_only)
{
    pfix_keys(&F);
    char *d = dir_for("advance");
    gosr_patch_config pc = {.no_worker = true, .stage_ticks = UINT32_MAX};
    pnode p;
    pnode_open(&p, &F, d, &pc);
    char id[65];
    gosr_error err = {0};
    char *b = pfix_patch(&F, "good", "1.0.0", NULL, NULL, NULL, NULL);
    CHECK_OK(submit(&p, b, id, &err));
    step(&p, 50);
    CHECK_EQ(pct_of(&p), 1);
    CHECK_OK(gosr_patch_advance(p.m, "operator", &err));
    CHECK_EQ(pct_of(&p), 10);
    CHECK_OK(gosr_patch_advance(p.m, "operator", &err));
    CHECK_OK(gosr_patch_advance(p.m, "operator", &err));
    CHECK_EQ(pct_of(&p), 100);
    CHECK_EQ(gosr_patch_advance(p.m, "operator", &err), GOSR_ESTATE);
    CHECK(!strcmp(err.reason, "rollout_not_in_progress"));
    gosr_free(b);
    pnode_close(&p);
    gosr_free(d);
}
