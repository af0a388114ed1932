/*
 * mesh.c — the node's embedded mesh (gosr serve --listen): a
 * gosr_mesh_node on DIR/mesh sharing the node's store, its loop on its own
 * thread, DIR/mesh.json for tools, and the two things the node asks of it —
 * pledge a published package, fetch a package before install. The node
 * talks to it through the mesh's control protocol (gosr_mesh_ctl over an
 * authenticated link to its own address), the same requests `gosr mesh`
 * sends, so the mesh keeps one entry point. Design: docs/kernel.md ("Mesh
 * packages"), docs/mesh.md ("Embedded in gosr serve").
 */
#include "kernel/kernel_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KMESH_FILE "mesh.json"        /* discovery file in DIR */
#define KMESH_CTL_MS 5000u            /* pledge: a local store walk */
#define KMESH_FETCH_MS (30u * 60000u) /* fetch: whole transfer, 30 min */

int kernel__mesh_open(gosr_node *n, gosr_error *err)
{
    const gosr_mesh_config *mc = n->cfg.mesh;
    n->cfg.mesh = NULL; /* borrowed for this call only */
    if (!mc)
        return GOSR_OK;
    gosr_mesh_config c = *mc;
    char *dir = gosr_asprintf("%s/mesh", n->dir);
    if (!dir)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "mesh dir");
    c.data_dir = dir;
    c.store = n->store;
    int rc = gosr_mesh_node_create(&c, &n->mesh, err);
    gosr_free(dir);
    if (rc == GOSR_OK) {
        n->mesh_addr = gosr_strdup(gosr_mesh_node_addr(n->mesh));
        if (!n->mesh_addr)
            rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "addr");
    }
    return rc;
}

static void *mesh_main(void *arg)
{
    gosr_mesh_node_run(arg);
    return NULL;
}

/* DIR/mesh.json: {"listen", "node_id"} for `gosr mesh ... --data DIR`. */
static int write_discovery(gosr_node *n, gosr_error *err)
{
    gosr_hash id;
    char hex[65];
    gosr_mesh_node_id(n->mesh, &id);
    gosr_hash_hex(&id, hex);
    json_t *o = json_pack("{s:s, s:s}", "listen", n->mesh_addr, "node_id",
                          hex);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *path = gosr_asprintf("%s/%s", n->dir, KMESH_FILE);
    int rc = text && path ? gosr_file_write_atomic(path, text, strlen(text),
                                                   0644)
                          : GOSR_ENOMEM;
    json_decref(o);
    free(text);
    gosr_free(path);
    return rc == GOSR_OK ? GOSR_OK
                         : gosr_error_set(err, rc, "mesh_discovery",
                                          "cannot write %s/%s", n->dir,
                                          KMESH_FILE);
}

int kernel__mesh_start(gosr_node *n, gosr_error *err)
{
    if (!n->mesh || n->mesh_running)
        return GOSR_OK;
    if (pthread_create(&n->mesh_thread, NULL, mesh_main, n->mesh) != 0)
        return gosr_error_set(err, GOSR_EIO, "thread", "mesh thread");
    n->mesh_running = true;
    return write_discovery(n, err);
}

void kernel__mesh_stop(gosr_node *n)
{
    if (!n->mesh_running)
        return;
    gosr_mesh_node_stop(n->mesh);
    pthread_join(n->mesh_thread, NULL);
    n->mesh_running = false;
    char *path = gosr_asprintf("%s/%s", n->dir, KMESH_FILE);
    if (path)
        unlink(path);
    gosr_free(path);
}

void kernel__mesh_close(gosr_node *n)
{
    kernel__mesh_stop(n);
    gosr_mesh_node_destroy(n->mesh);
    n->mesh = NULL;
    gosr_free(n->mesh_addr);
    n->mesh_addr = NULL;
}

/* One control request to the embedded node; *resp is its answer when it
 * says ok (caller json_decref), else err holds its reason and detail. */
static int ctl(gosr_node *n, json_t *req, unsigned timeout_ms, json_t **resp,
               gosr_error *err)
{
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    char *answer = NULL;
    json_decref(req);
    if (!text)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "request");
    int rc = gosr_mesh_ctl(n->mesh_addr, text, timeout_ms, &answer, err);
    free(text);
    if (rc != GOSR_OK)
        return rc;
    json_t *o = json_loads(answer, 0, NULL);
    gosr_free(answer);
    if (!o)
        return gosr_error_set(err, GOSR_EPROTO, "mesh_answer",
                              "the mesh answered something not JSON");
    if (json_is_true(json_object_get(o, "ok"))) {
        *resp = o;
        return GOSR_OK;
    }
    const char *reason = json_string_value(json_object_get(o, "reason"));
    const char *detail = json_string_value(json_object_get(o, "detail"));
    gosr_error_set(err, GOSR_EIO, reason ? reason : "mesh_error", "%s",
                   detail ? detail : "the mesh refused the request");
    json_decref(o);
    return GOSR_EIO;
}

static int mesh_off(gosr_error *err)
{
    return gosr_error_set(err, GOSR_ESTATE, "mesh_off",
                          "this node is not on a mesh (start it with "
                          "gosr serve --listen IP:PORT)");
}

/* A request about one root: {"op", "id"} plus the members of `extra`
 * (taken; may be NULL). */
static int root_request(gosr_node *n, const char *op, const gosr_hash *root,
                        json_t *extra, unsigned timeout_ms, json_t **resp,
                        gosr_error *err)
{
    char hex[65];
    if (!n->mesh_running) {
        json_decref(extra);
        return mesh_off(err);
    }
    gosr_hash_hex(root, hex);
    json_t *req = json_pack("{s:s, s:s}", "op", op, "id", hex);
    if (req && extra)
        json_object_update(req, extra);
    json_decref(extra);
    return ctl(n, req, timeout_ms, resp, err);
}

int kernel__mesh_pledge(gosr_node *n, const gosr_hash *pkg, unsigned rf,
                        gosr_error *err)
{
    json_t *resp = NULL;
    int rc = root_request(n, "publish", pkg, json_pack("{s:i}", "rf", (int)rf),
                          KMESH_CTL_MS, &resp, err);
    json_decref(resp);
    return rc;
}

int kernel__mesh_fetch(gosr_node *n, const gosr_hash *pkg, unsigned wait_ms,
                       gosr_error *err)
{
    char hex[65];
    gosr_hash_hex(pkg, hex);
    json_t *resp = NULL;
    /* not held yet: the node pledges it once verified and recorded */
    int rc = root_request(n, "fetch", pkg,
                          json_pack("{s:i, s:b}", "timeout_ms", (int)wait_ms,
                                    "hold", 0),
                          KMESH_FETCH_MS, &resp, err);
    if (rc == GOSR_OK)
        gosr_log(GOSR_LOG_INFO, "kernel", "package %.16s fetched: %lld bytes",
                 hex,
                 (long long)json_integer_value(
                     json_object_get(resp, "bytes_transferred")));
    else if (!strcmp(err->reason, "unavailable"))
        rc = gosr_error_set(err, GOSR_EAGAIN, "module_unavailable",
                            "no live node holds package %.16s; nothing was "
                            "installed",
                            hex);
    else if (strcmp(err->reason, "mesh_off") != 0)
        rc = gosr_error_wrap(err, rc, "module_fetch_failed",
                             "fetching package %.16s", hex);
    json_decref(resp);
    return rc;
}
