/*
 * api.c — the patch pipeline's admin endpoints (docs/patch.md,
 * "Endpoints"): upload, list, status, approve, reject, rollback, advance,
 * and the kill switch (with its privileged + TOTP override). Handlers run
 * on HTTP threads; the manager's own mutex serialises them, and the live
 * pointer is swapped under the layer's lock, so a change takes effect at
 * the next tick.
 */
#include "patch/patch_int.h"

#include <string.h>

static const char *actor_of(const gosr_admin_request *r)
{
    return r->role == GOSR_ADMIN_ROLE_PRIVILEGED ? "operator:privileged"
                                                 : "operator";
}

static const char *body_s(const gosr_admin_request *r, const char *k)
{
    json_t *v = r->json ? json_object_get(r->json, k) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int h_submit(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    char id[65];
    if (!r->body_path || r->body_len == 0)
        return gosr_error_set(err, GOSR_EINVAL, "body_missing",
                              "POST the patch .gmod as the request body");
    int rc = gosr_patch_submit(ud, r->body_path, actor_of(r), id, err);
    if (rc != GOSR_OK)
        return rc;
    rep->http_status = 202;
    rep->json = json_pack("{s:s, s:s}", "id", id, "state", "validated");
    return GOSR_OK;
}

static int h_list(void *ud, const gosr_admin_request *r, gosr_admin_reply *rep,
                  gosr_error *err)
{
    (void)r;
    return gosr_patch_list_json(ud, &rep->json, err);
}

static int h_status(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    return gosr_patch_status_json(ud, gosr_admin_param(r, "id"), &rep->json,
                                  err);
}

static int h_approve(void *ud, const gosr_admin_request *r,
                     gosr_admin_reply *rep, gosr_error *err)
{
    const char *id = gosr_admin_param(r, "id");
    int rc = gosr_patch_approve(ud, id, actor_of(r), body_s(r, "reason"), err);
    if (rc == GOSR_OK)
        rep->json = json_pack("{s:s, s:s}", "id", id, "state", "active");
    return rc;
}

static int h_reject(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    const char *id = gosr_admin_param(r, "id");
    int rc = gosr_patch_reject(ud, id, actor_of(r), body_s(r, "reason"), err);
    if (rc == GOSR_OK)
        rep->json = json_pack("{s:s, s:s}", "id", id, "state", "rejected");
    return rc;
}

static int h_rollback(void *ud, const gosr_admin_request *r,
                      gosr_admin_reply *rep, gosr_error *err)
{
    char id[65] = "";
    int rc = gosr_patch_rollback(ud, body_s(r, "to"), actor_of(r),
                                 body_s(r, "reason"), err);
    if (rc == GOSR_OK) {
        gosr_patch_active(ud, id, NULL);
        rep->json = json_pack("{s:s}", "active", id);
    }
    return rc;
}

static int h_advance(void *ud, const gosr_admin_request *r,
                     gosr_admin_reply *rep, gosr_error *err)
{
    char id[65] = "";
    uint32_t pct = 0;
    int rc = gosr_patch_advance(ud, actor_of(r), err);
    if (rc == GOSR_OK) {
        gosr_patch_active(ud, id, &pct);
        rep->json =
            json_pack("{s:s, s:i}", "active", id, "rollout_pct", (int)pct);
    }
    return rc;
}

static int ks_set(void *ud, const gosr_admin_request *r, gosr_admin_reply *rep,
                  bool privileged, gosr_error *err)
{
    json_t *en = r->json ? json_object_get(r->json, "enabled") : NULL;
    if (!json_is_boolean(en))
        return gosr_error_set(err, GOSR_EINVAL, "body_field",
                              "body needs \"enabled\": true|false");
    int rc = gosr_patch_killswitch_set(ud, json_is_true(en), actor_of(r),
                                       body_s(r, "reason"), privileged, err);
    return rc ? rc : gosr_patch_killswitch_json(ud, &rep->json, err);
}

static int h_ks_set(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    return ks_set(ud, r, rep, false, err);
}

static int h_ks_override(void *ud, const gosr_admin_request *r,
                         gosr_admin_reply *rep, gosr_error *err)
{
    return ks_set(ud, r, rep, true, err); /* route: privileged + TOTP */
}

static int h_ks_get(void *ud, const gosr_admin_request *r,
                    gosr_admin_reply *rep, gosr_error *err)
{
    (void)r;
    return gosr_patch_killswitch_json(ud, &rep->json, err);
}

int patch__routes(gosr_patch_mgr *m, gosr_error *err)
{
    const gosr_admin_role OP = GOSR_ADMIN_ROLE_OPERATOR;
    const gosr_admin_route routes[] = {
        {"POST", "/v1/patches", h_submit, m, OP, GOSR_ADMIN_BODY_FILE, false},
        {"GET", "/v1/patches", h_list, m, OP, GOSR_ADMIN_BODY_NONE, false},
        {"GET", "/v1/patches/{id}", h_status, m, OP, GOSR_ADMIN_BODY_NONE,
         false},
        {"POST", "/v1/patches/{id}/approve", h_approve, m, OP,
         GOSR_ADMIN_BODY_JSON, false},
        {"POST", "/v1/patches/{id}/reject", h_reject, m, OP,
         GOSR_ADMIN_BODY_JSON, false},
        {"POST", "/v1/patches/rollback", h_rollback, m, OP,
         GOSR_ADMIN_BODY_JSON, false},
        {"POST", "/v1/patches/advance", h_advance, m, OP, GOSR_ADMIN_BODY_JSON,
         false},
        {"GET", "/v1/killswitch", h_ks_get, m, OP, GOSR_ADMIN_BODY_NONE, false},
        {"POST", "/v1/killswitch", h_ks_set, m, OP, GOSR_ADMIN_BODY_JSON,
         false},
        {"POST", "/v1/killswitch/override", h_ks_override, m,
         GOSR_ADMIN_ROLE_PRIVILEGED, GOSR_ADMIN_BODY_JSON, true},
    };
    gosr_error e = {0};
    int rc = gosr_node_add_routes(m->node, routes,
                                  sizeof routes / sizeof routes[0], &e);
    if (rc == GOSR_ESTATE) /* node already started: no HTTP endpoints */
        return GOSR_OK;
    if (rc != GOSR_OK && err)
        *err = e;
    return rc;
}
