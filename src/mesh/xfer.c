/*
 * xfer.c — chunk exchange: serving GET with CHUNK pieces (one-object read
 * cache, fault injection for tests), and fetch jobs that pull a whole root
 * (root object, file nodes, chunks) from every peer that holds it in
 * parallel, verify each object's BLAKE3 before storing it, penalise and
 * avoid peers that send bad data, resume a half-received object at its
 * offset from another peer, and drop pieces slower than the minimum rate.
 * Design: docs/mesh.md ("Chunk exchange", "Fetch jobs").
 */
#include "node.h"

#include <string.h>

#define INFLIGHT_MAX 8 /* GETs outstanding per link */

/* ---- serving
 * ---------------------------------------------------------------------- */

static bool fault_dropped(gosr_mesh_node *n, const gosr_hash *id)
{
    if (!(n->cfg.faults & GOSR_MESH_FAULT_DROP))
        return false;
    for (size_t i = 0; i < n->nroots; i++)
        if (n->roots[i].dropped_set &&
            gosr_hash_equal(&n->roots[i].dropped, id))
            return true;
    return false;
}

/* Loads object id into the one-entry read cache. */
static int cache_load(gosr_mesh_node *n, const gosr_hash *id)
{
    if (n->cache_valid && gosr_hash_equal(&n->cache_id, id))
        return GOSR_OK;
    n->cache_valid = false;
    n->cache.len = 0;
    if (fault_dropped(n, id) || !gosr_store_has(n->store, id))
        return GOSR_ENOENT;
    gosr_obj_kind kind;
    int rc = gosr_store_get_object(n->store, id, &kind, &n->cache, NULL);
    if (rc != GOSR_OK)
        return rc;
    n->cache_id = *id;
    n->cache_kind = (uint8_t)kind;
    n->cache_valid = true;
    return GOSR_OK;
}

static void count_request(gosr_mesh_node *n, const gosr_hash *id)
{
    mesh_root *r = NULL;
    for (size_t i = 0; i < n->nroots; i++)
        if (gosr_hash_equal(&n->roots[i].id, id))
            r = &n->roots[i];
    if (!r)
        return;
    uint64_t now = gosr_time_mono_ns();
    if (now - r->window_ns > 60000000000ull) {
        r->hot = r->requests >= n->cfg.hot_threshold;
        r->requests = 0;
        r->window_ns = now;
    }
    if (++r->requests >= n->cfg.hot_threshold)
        r->hot = true;
}

void mesh__serve_get(mesh_link *l, const mesh_msg *m)
{
    gosr_mesh_node *n = l->node;
    if (m->off == 0)
        count_request(n, &m->id);
    int rc = cache_load(n, &m->id);
    if (rc != GOSR_OK || m->off > n->cache.len ||
        (m->off == n->cache.len && n->cache.len != 0)) {
        mesh_msg r = {.type = MESH_MISSING,
                      .req = m->req,
                      .id = m->id,
                      .status = rc == GOSR_OK ? 2 : 1};
        mesh__send(l, &r);
        return;
    }
    size_t len = n->cache.len - m->off;
    if (len > m->len)
        len = m->len;
    mesh_msg r = {.type = MESH_CHUNK,
                  .req = m->req,
                  .id = m->id,
                  .kind = n->cache_kind,
                  .off = m->off,
                  .total = (uint32_t)n->cache.len,
                  .data = n->cache.data + m->off,
                  .data_len = len};
    uint8_t *copy = NULL;
    if ((n->cfg.faults & GOSR_MESH_FAULT_CORRUPT) && len > 0 &&
        n->cache_kind == GOSR_OBJ_CHUNK && (copy = gosr_malloc(len))) {
        memcpy(copy, r.data, len);
        copy[len / 2] ^= 0x5a; /* test-only fault: corrupt what we send */
        r.data = copy;
    }
    if (mesh__send(l, &r) == GOSR_OK) {
        mesh_rep *rep = mesh__rep(n, &l->peer_id);
        if (rep)
            rep->bytes_served += len;
    }
    gosr_free(copy);
}

/* ---- jobs: items
 * -------------------------------------------------------------------- */

static mesh_item *item_find(mesh_job *j, const gosr_hash *id)
{
    for (size_t i = 0; i < j->n; i++)
        if (gosr_hash_equal(&j->items[i].id, id))
            return &j->items[i];
    return NULL;
}

static int item_add(mesh_job *j, const gosr_hash *id)
{
    if (item_find(j, id))
        return GOSR_OK;
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        mesh_item *p = gosr_realloc(j->items, cap * sizeof *p);
        if (!p)
            return GOSR_ENOMEM;
        j->items = p;
        j->cap = cap;
    }
    mesh_item *it = &j->items[j->n++];
    memset(it, 0, sizeof *it);
    it->id = *id;
    j->pending++;
    return GOSR_OK;
}

typedef struct expand_ctx {
    gosr_mesh_node *node; /* owner */
    mesh_job *job;        /* job being expanded */
    int rc;               /* first error */
} expand_ctx;

static int expand_file(gosr_mesh_node *n, mesh_job *j, const gosr_hash *fid);

static int expand_entry(void *ud, const gosr_tree_entry *e)
{
    expand_ctx *c = ud;
    c->rc = expand_file(c->node, c->job, &e->file_id);
    return c->rc;
}

/* Queues the missing chunks of a present file node (or the node itself). */
static int expand_file(gosr_mesh_node *n, mesh_job *j, const gosr_hash *fid)
{
    if (!gosr_store_has(n->store, fid))
        return item_add(j, fid);
    gosr_chunk_ref *ch = NULL;
    size_t nch = 0;
    int rc = gosr_store_file_chunks(n->store, fid, &ch, &nch, NULL);
    for (size_t i = 0; rc == GOSR_OK && i < nch; i++)
        if (!gosr_store_has(n->store, &ch[i].id))
            rc = item_add(j, &ch[i].id);
    gosr_free(ch);
    return rc;
}

/* Queues whatever of object `id` (of `kind`) is not in the store yet. */
static int expand(gosr_mesh_node *n, mesh_job *j, const gosr_hash *id, int kind)
{
    if (!gosr_store_has(n->store, id))
        return item_add(j, id);
    if (kind == GOSR_OBJ_FILE)
        return expand_file(n, j, id);
    if (kind != GOSR_OBJ_TREE)
        return GOSR_OK;
    expand_ctx c = {n, j, GOSR_OK};
    int rc = gosr_store_tree_foreach(n->store, id, expand_entry, &c, NULL);
    return c.rc ? c.rc : rc;
}

static int root_kind(gosr_mesh_node *n, const gosr_hash *id)
{
    gosr_buf b = {0};
    gosr_obj_kind k = GOSR_OBJ_CHUNK;
    if (gosr_store_get_object(n->store, id, &k, &b, NULL) != GOSR_OK)
        k = GOSR_OBJ_CHUNK;
    gosr_buf_free(&b);
    return (int)k;
}

mesh_job *mesh__job_start(gosr_mesh_node *n, const gosr_hash *root, uint8_t rf)
{
    for (mesh_job *j = n->jobs; j; j = j->next)
        if (gosr_hash_equal(&j->root, root))
            return j;
    mesh_job *j = gosr_calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->root = *root;
    j->rf = rf;
    j->start_ns = gosr_time_mono_ns();
    j->deadline_ns = j->start_ns + 10000000000ull;
    if (expand(n, j, root, root_kind(n, root)) != GOSR_OK) {
        mesh__job_free(j);
        return NULL;
    }
    j->next = n->jobs;
    n->jobs = j;
    return j;
}

void mesh__job_free(mesh_job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++)
        gosr_buf_free(&j->items[i].data);
    for (size_t i = 0; i < j->nwait; i++)
        gosr_free(j->waiters[i].out);
    gosr_free(j->waiters);
    gosr_free(j->items);
    gosr_free(j);
}

/* ---- jobs: receiving
 * -------------------------------------------------------------------- */

static mesh_item *item_by_req(gosr_mesh_node *n, uint64_t link, uint32_t req,
                              mesh_job **job)
{
    for (mesh_job *j = n->jobs; j; j = j->next)
        for (size_t i = 0; i < j->n; i++)
            if (j->items[i].state == 1 && j->items[i].req == req &&
                j->items[i].from == link) {
                *job = j;
                return &j->items[i];
            }
    return NULL;
}

/* Returns an item to the want state, remembering who failed it. */
static void item_release(mesh_link *l, mesh_item *it, bool avoid)
{
    it->state = 0;
    it->from = 0;
    if (l->inflight)
        l->inflight--;
    if (avoid) {
        it->avoid = l->peer_id;
        it->has_avoid = true;
    }
}

static void penalise_bad(mesh_link *l, mesh_item *it, const char *why)
{
    gosr_mesh_node *n = l->node;
    mesh_rep *r = mesh__rep(n, &l->peer_id);
    char hex[65];
    gosr_hash_hex(&it->id, hex);
    gosr_log(GOSR_LOG_WARN, "mesh", "peer %02x%02x.. sent bad object %.16s: %s",
             l->peer_id.b[0], l->peer_id.b[1], hex, why);
    it->data.len = 0;
    it->total_known = it->mixed = false;
    item_release(l, it, true);
    if (!r)
        return;
    r->bad_chunks++;
    r->score -= 10;
    if (r->bad_chunks >= n->cfg.ban_after && !r->banned) {
        r->banned = true;
        gosr_log(GOSR_LOG_WARN, "mesh", "peer %02x%02x.. banned (%u bad)",
                 l->peer_id.b[0], l->peer_id.b[1], r->bad_chunks);
        mesh__link_close(l, "banned");
    }
}

/* A complete object arrived: verify, store, expand. */
static void item_complete(mesh_link *l, mesh_job *j, mesh_item *it)
{
    gosr_mesh_node *n = l->node;
    gosr_hash h;
    gosr_blake3_hash(it->data.data, it->data.len, &h);
    if (!gosr_hash_equal(&h, &it->id) && it->mixed) {
        /* Bytes from several peers: we cannot tell who lied. Start over
         * from one peer so a second failure has a single culprit. */
        it->data.len = 0;
        it->total_known = it->mixed = false;
        item_release(l, it, false);
        return;
    }
    if (!gosr_hash_equal(&h, &it->id)) {
        penalise_bad(l, it, "chunk_hash_mismatch");
        return;
    }
    gosr_error err;
    int rc = it->kind == GOSR_OBJ_CHUNK
                 ? gosr_store_put_chunk(n->store, it->data.data, it->data.len,
                                        &h, &err)
                 : gosr_store_put_object(n->store, it->kind, it->data.data,
                                         it->data.len, &h, &err);
    if (rc == GOSR_EFORMAT) {
        penalise_bad(l, it, "object_malformed");
        return;
    }
    if (rc != GOSR_OK) {
        gosr_log(GOSR_LOG_ERROR, "mesh", "store put: %s", err.detail);
        item_release(l, it, false);
        return;
    }
    mesh_rep *r = mesh__rep(n, &l->peer_id);
    if (r)
        r->bytes_received += it->data.len;
    j->bytes += it->data.len;
    gosr_buf_free(&it->data);
    it->state = 2;
    j->pending--;
    if (l->inflight)
        l->inflight--;
    if (it->kind != GOSR_OBJ_CHUNK) {
        gosr_hash id = it->id; /* items may move when expanding */
        if (expand(n, j, &id, it->kind) != GOSR_OK)
            gosr_log(GOSR_LOG_ERROR, "mesh", "cannot expand object");
    }
}

static void send_get(mesh_link *l, mesh_item *it)
{
    uint32_t want = MESH_PIECE_MAX;
    if (it->total_known && it->total - it->data.len < want)
        want = it->total - (uint32_t)it->data.len;
    mesh_msg g = {.type = MESH_GET,
                  .req = mesh__req(l->node),
                  .id = it->id,
                  .off = (uint32_t)it->data.len,
                  .len = want ? want : 1};
    it->req = g.req;
    it->from = l->serial;
    it->sent_ns = gosr_time_mono_ns();
    it->state = 1;
    l->inflight++;
    if (mesh__send(l, &g) != GOSR_OK)
        item_release(l, it, false);
}

void mesh__on_chunk(mesh_link *l, const mesh_msg *m)
{
    mesh_job *j = NULL;
    mesh_item *it = item_by_req(l->node, l->serial, m->req, &j);
    if (!it)
        return; /* late answer to a request we gave up */
    if (!gosr_hash_equal(&m->id, &it->id) || m->off != it->data.len ||
        (it->total_known && m->total != it->total) ||
        (it->kind != m->kind && it->data.len > 0)) {
        penalise_bad(l, it, "chunk_range_mismatch");
        return;
    }
    if (it->data.len == 0)
        it->src = l->peer_id;
    else if (!gosr_hash_equal(&it->src, &l->peer_id))
        it->mixed = true;
    it->total = m->total;
    it->total_known = true;
    it->kind = m->kind;
    if (gosr_buf_append(&it->data, m->data, m->data_len) != GOSR_OK) {
        item_release(l, it, false);
        return;
    }
    if (it->data.len == it->total) {
        item_complete(l, j, it);
    } else {
        l->inflight--;
        send_get(l, it); /* next piece from the same peer */
    }
    if (j->pending == 0)
        mesh__job_finished(l->node, j, GOSR_OK, NULL, NULL);
}

void mesh__on_missing(mesh_link *l, const mesh_msg *m)
{
    mesh_job *j = NULL;
    mesh_item *it = item_by_req(l->node, l->serial, m->req, &j);
    if (!it)
        return;
    /* It claimed the root but lacks a piece of it: treat like a failed
     * proof for this root so repair does not count it. */
    mesh__distrust(l->node, &l->peer_id, &j->root);
    item_release(l, it, true);
}

/* ---- jobs: scheduling
 * --------------------------------------------------------------------- */

/* Best link to fetch an item of root from: holds root, not banned, room
 * in its window, not the peer that failed this item when others exist. */
/* The link to ask for `it`: a holder that is up, not banned, not
 * distrusted for the root and not full; among them the least loaded one
 * that never sent a bad chunk, and only when there is none, a suspect (a
 * peer with bad chunks, or the one that sent this item bad data): a
 * corrupting peer is avoided from its first bad chunk on. */
static mesh_link *pick(gosr_mesh_node *n, const gosr_hash *root,
                       const mesh_item *it)
{
    mesh_link *best = NULL, *suspect = NULL;
    for (mesh_link *l = n->links; l; l = l->next) {
        if (l->state != LINK_UP || l->is_client || !mesh__link_has(l, root) ||
            l->inflight >= INFLIGHT_MAX)
            continue;
        bool failed = false;
        for (size_t i = 0; i < l->nhave; i++)
            if (gosr_hash_equal(&l->haves[i].root, root))
                failed = l->haves[i].proof_failed;
        failed = failed || mesh__distrusted(n, &l->peer_id, root);
        mesh_rep *r = mesh__rep(n, &l->peer_id);
        if (failed || (r && r->banned))
            continue;
        mesh_link **slot = (r && r->bad_chunks > 0) ||
                                   (it->has_avoid &&
                                    gosr_hash_equal(&it->avoid, &l->peer_id))
                               ? &suspect
                               : &best;
        if (!*slot || l->inflight < (*slot)->inflight)
            *slot = l;
    }
    return best ? best : suspect;
}

static bool has_provider(gosr_mesh_node *n, const gosr_hash *root)
{
    for (mesh_link *l = n->links; l; l = l->next)
        if (l->state == LINK_UP && !l->is_client && mesh__link_has(l, root))
            return true;
    return false;
}

static void ask_dht(gosr_mesh_node *n, mesh_job *j)
{
    mesh_lookup *k = gosr_calloc(1, sizeof *k);
    if (!k)
        return;
    k->op = ++n->next_op;
    k->root = j->root;
    k->start_ns = gosr_time_mono_ns();
    k->found = json_array();
    k->next = n->lookups;
    n->lookups = k;
    uint8_t key[20];
    gosr_mesh_provider_key(&j->root, key);
    mesh__dht_get(n->dht, key, k->op);
    j->dht_asked = true;
}

static void job_timeouts(gosr_mesh_node *n, mesh_job *j, uint64_t now)
{
    uint64_t limit = n->cfg.piece_timeout_ms * 1000000ull;
    for (size_t i = 0; i < j->n; i++) {
        mesh_item *it = &j->items[i];
        if (it->state != 1 || now - it->sent_ns < limit)
            continue;
        mesh_link *l = mesh__link_by_serial(n, it->from);
        if (!l) {
            it->state = 0;
            continue;
        }
        mesh_rep *r = mesh__rep(n, &l->peer_id);
        if (r) {
            r->slow++;
            r->score -= 1;
        }
        item_release(l, it, true); /* resume at it->data.len elsewhere */
    }
}

/* Runs one job's scheduling; returns false when it was finished. */
static bool job_tick(gosr_mesh_node *n, mesh_job *j, uint64_t now)
{
    if (j->pending == 0) {
        mesh__job_finished(n, j, GOSR_OK, NULL, NULL);
        return false;
    }
    job_timeouts(n, j, now);
    if (!has_provider(n, &j->root)) {
        if (!j->dht_asked)
            ask_dht(n, j);
        if (now > j->deadline_ns) {
            mesh__job_finished(n, j, GOSR_ENOENT, "unavailable",
                               "no live node holds this root");
            return false;
        }
        return true;
    }
    j->deadline_ns = now + 10000000000ull;
    for (size_t i = 0; i < j->n; i++) {
        if (j->items[i].state != 0)
            continue;
        mesh_link *l = pick(n, &j->root, &j->items[i]);
        if (!l)
            break;
        send_get(l, &j->items[i]);
    }
    return true;
}

void mesh__jobs_tick(gosr_mesh_node *n)
{
    uint64_t now = gosr_time_mono_ns();
    mesh_job *j = n->jobs;
    while (j) {
        mesh_job *next = j->next;
        job_tick(n, j, now);
        j = next;
    }
}

void mesh__jobs_link_gone(gosr_mesh_node *n, uint64_t serial)
{
    for (mesh_job *j = n->jobs; j; j = j->next)
        for (size_t i = 0; i < j->n; i++)
            if (j->items[i].state == 1 && j->items[i].from == serial) {
                j->items[i].state = 0; /* resume from data.len elsewhere */
                j->items[i].from = 0;
            }
}
