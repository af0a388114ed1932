/*
 * hooks.c — the kernel's hooks for the patch pipeline (docs/patch.md,
 * "Kernel hooks"; docs/kernel.md, "Host API"): a gameplay layer called
 * after the modules each tick, the host functions patch.get and
 * kpi.report that let game modules read the active patch and report KPIs,
 * extra admin routes, ledger appends, tick-thread jobs and world snapshots
 * for the canary's shadow world. Everything here is additive: a node
 * without a layer behaves exactly as before (patch.get answers nil,
 * kpi.report is a no-op).
 */
#include "kernel/kernel_int.h"

#include <string.h>

/* patch.get(key[, owner]) -> value or nil  [patch] */
static int h_patch_get(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    const char *k;
    size_t kl;
    int64_t owner = 0;
    int rc = gosr_sandbox_arg_str(c, 1, 63, &k, &kl);
    if (rc == GOSR_OK && gosr_sandbox_nargs(c) >= 2)
        rc = gosr_sandbox_arg_int(c, 2, 0, INT64_MAX, &owner);
    if (rc != GOSR_OK)
        return rc;
    char key[64];
    memcpy(key, k, kl);
    key[kl] = '\0';
    gosr_sbv v = {0};
    if (n->layer.get)
        rc = n->layer.get(n->layer.ud, key, (uint64_t)owner, &v);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_ret_value(c, &v);
    gosr_sbv_free(&v);
    return rc;
}

/* kpi.report(name, value)  [kpi] */
static int h_kpi_report(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    const char *k;
    size_t kl;
    double v;
    int rc = gosr_sandbox_arg_str(c, 1, 63, &k, &kl);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_arg_num(c, 2, -1e15, 1e15, &v);
    if (rc != GOSR_OK)
        return rc;
    char key[64];
    memcpy(key, k, kl);
    key[kl] = '\0';
    if (n->layer.kpi)
        n->layer.kpi(n->layer.ud, key, v);
    return GOSR_OK;
}

int kernel__hooks_host_add(gosr_node *n)
{
    int rc =
        gosr_sandbox_host_add(n->host, "patch", "patch.get", h_patch_get, n);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_host_add(n->host, "kpi", "kpi.report", h_kpi_report,
                                   n);
    return rc;
}

void gosr_node_set_layer(gosr_node *n, const gosr_node_layer *l)
{
    if (l)
        n->layer = *l;
    else
        memset(&n->layer, 0, sizeof n->layer);
}

int gosr_node_add_routes(gosr_node *n, const gosr_admin_route *r, size_t count,
                         gosr_error *err)
{
    if (n->started)
        return gosr_error_set(err, GOSR_ESTATE, "node_running",
                              "routes must be added before start");
    gosr_admin_route *a =
        gosr_realloc(n->xroutes, (n->nxroutes + count) * sizeof *a);
    if (!a)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "routes");
    memcpy(a + n->nxroutes, r, count * sizeof *a);
    n->xroutes = a;
    n->nxroutes += count;
    return GOSR_OK;
}

int gosr_node_ledger_append(gosr_node *n, const char *actor, const char *action,
                            const char *subject, const char *version,
                            const char *reason, json_t *evidence,
                            gosr_error *err)
{
    return kernel__ledger_append(n, actor, action, subject, version, reason,
                                 evidence, err);
}

int gosr_node_exec(gosr_node *n, gosr_admin_job_fn fn, void *arg,
                   gosr_error *err)
{
    return kernel__exec(n, fn, arg, err);
}

typedef struct snap_job {
    gosr_node *n;          /* the node */
    gosr_world_snap *snap; /* result */
} snap_job;

static int job_snap(void *arg, gosr_error *err)
{
    snap_job *j = arg;
    int rc = gosr_world_snapshot(j->n->world, &j->snap);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "world_snapshot", "snapshot failed");
    return GOSR_OK;
}

int gosr_node_world_snapshot(gosr_node *n, gosr_world_snap **out,
                             gosr_error *err)
{
    snap_job j = {.n = n};
    int rc = kernel__exec(n, job_snap, &j, err);
    *out = j.snap;
    return rc;
}

const char *gosr_node_dir(gosr_node *n)
{
    return n->dir;
}

gosr_admin_metrics *gosr_node_metrics(gosr_node *n)
{
    return n->metrics;
}
