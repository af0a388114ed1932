/*
 * repl.c — replication and its bookkeeping: held roots and their pledges
 * (DIR/pledges), DHT announcements (membership and provider records) and
 * their results, the repair loop (rendezvous placement over live members,
 * tier-aware, hot roots get RF+1), storage proofs (keyed BLAKE3 over a
 * random range of a chunk), and the credits ledger (DIR/credits.json).
 * Design: docs/mesh.md ("Replication", "Storage proofs", "DHT records").
 */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROOF_TIMEOUT_NS 15000000000ull
#define PROOF_RANGE 4096u

/* ---- roots and pledges
 * ---------------------------------------------------------- */

mesh_root *mesh__root(gosr_mesh_node *n, const gosr_hash *id)
{
    for (size_t i = 0; i < n->nroots; i++)
        if (gosr_hash_equal(&n->roots[i].id, id))
            return &n->roots[i];
    if (n->nroots == n->caproots) {
        size_t cap = n->caproots ? n->caproots * 2 : 16;
        mesh_root *p = gosr_realloc(n->roots, cap * sizeof *p);
        if (!p)
            return NULL;
        n->roots = p;
        n->caproots = cap;
    }
    mesh_root *r = &n->roots[n->nroots++];
    memset(r, 0, sizeof *r);
    r->id = *id;
    return r;
}

typedef struct chunks_ctx {
    gosr_mesh_node *node; /* owner */
    mesh_root *root;      /* root being listed */
    int rc;               /* first error */
} chunks_ctx;

static int add_file_chunks(gosr_mesh_node *n, mesh_root *r,
                           const gosr_hash *fid)
{
    gosr_chunk_ref *ch = NULL;
    size_t nch = 0;
    int rc = gosr_store_file_chunks(n->store, fid, &ch, &nch, NULL);
    if (rc != GOSR_OK)
        return rc;
    gosr_chunk_ref *p =
        gosr_realloc(r->chunks, (r->nchunks + nch + 1) * sizeof *p);
    if (!p) {
        gosr_free(ch);
        return GOSR_ENOMEM;
    }
    r->chunks = p;
    for (size_t i = 0; i < nch; i++) {
        r->chunks[r->nchunks++] = ch[i];
        r->bytes += ch[i].len;
    }
    gosr_free(ch);
    return GOSR_OK;
}

static int chunks_entry(void *ud, const gosr_tree_entry *e)
{
    chunks_ctx *c = ud;
    c->rc = add_file_chunks(c->node, c->root, &e->file_id);
    return c->rc;
}

/* Lists every chunk of a held root (for proofs and sizes). */
static int root_list_chunks(gosr_mesh_node *n, mesh_root *r)
{
    gosr_buf b = {0};
    gosr_obj_kind kind;
    int rc = gosr_store_get_object(n->store, &r->id, &kind, &b, NULL);
    gosr_buf_free(&b);
    if (rc != GOSR_OK)
        return rc;
    r->kind = (uint8_t)kind;
    gosr_free(r->chunks);
    r->chunks = NULL;
    r->nchunks = 0;
    r->bytes = 0;
    if (kind == GOSR_OBJ_FILE)
        return add_file_chunks(n, r, &r->id);
    if (kind != GOSR_OBJ_TREE)
        return GOSR_OK;
    chunks_ctx c = {n, r, GOSR_OK};
    rc = gosr_store_tree_foreach(n->store, &r->id, chunks_entry, &c, NULL);
    return c.rc ? c.rc : rc;
}

static int pledges_save(gosr_mesh_node *n)
{
    gosr_buf b = {0};
    int rc = GOSR_OK;
    for (size_t i = 0; rc == GOSR_OK && i < n->nroots; i++) {
        if (!n->roots[i].held)
            continue;
        char hex[65];
        gosr_hash_hex(&n->roots[i].id, hex);
        rc = gosr_buf_printf(&b, "%s %u\n", hex, n->roots[i].rf);
    }
    char *path = gosr_asprintf("%s/pledges", n->data_dir);
    if (rc == GOSR_OK && path)
        rc = gosr_file_write_atomic(path, b.data ? (char *)b.data : "", b.len,
                                    0600);
    gosr_free(path);
    gosr_buf_free(&b);
    return rc;
}

int mesh__root_hold(gosr_mesh_node *n, const gosr_hash *id, uint8_t rf,
                    gosr_error *err)
{
    mesh_root *r = mesh__root(n, id);
    if (!r)
        return gosr_error_set(err, GOSR_ENOMEM, "oom", "out of memory");
    char name[80], hex[65];
    gosr_hash_hex(id, hex);
    snprintf(name, sizeof name, "mesh/%s", hex);
    int rc = gosr_store_ref_set(n->store, name, id, err);
    if (rc == GOSR_OK)
        rc = root_list_chunks(n, r);
    if (rc != GOSR_OK)
        return gosr_error_wrap(err, rc, "root_incomplete",
                               "cannot pin root %.16s", hex);
    bool was = r->held;
    r->held = true;
    r->rf = rf ? rf : (uint8_t)n->cfg.rf;
    if ((n->cfg.faults & GOSR_MESH_FAULT_DROP) && r->nchunks > 0 &&
        !r->dropped_set) {
        r->dropped = r->chunks[0].id; /* test-only: pretend it was lost */
        r->dropped_set = true;
        n->cache_valid = false;
    }
    if (n->dht) /* not while loading the pledges at create */
        rc = pledges_save(n);
    if (!was) {
        for (mesh_link *l = n->links; l; l = l->next)
            if (l->state == LINK_UP && !l->is_client) {
                mesh_msg h = {.type = MESH_HAVE, .id = *id, .rf = r->rf};
                mesh__send(l, &h);
            }
        if (n->dht)
            mesh__announce_root(n, r);
    }
    return rc;
}

int mesh__pledges_load(gosr_mesh_node *n, gosr_error *err)
{
    char *path = gosr_asprintf("%s/pledges", n->data_dir);
    uint8_t *text = NULL;
    size_t len = 0;
    if (!path)
        return gosr_error_set(err, GOSR_ENOMEM, "oom", "out of memory");
    int rc = gosr_file_read_all(path, 16u << 20, &text, &len);
    gosr_free(path);
    if (rc == GOSR_ENOENT || rc != GOSR_OK)
        return GOSR_OK; /* no pledges yet */
    char *save = NULL;
    for (char *line = strtok_r((char *)text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char hex[65];
        unsigned rf = 0;
        gosr_hash id;
        if (sscanf(line, "%64s %u", hex, &rf) != 2 ||
            gosr_hash_from_hex(hex, &id) != GOSR_OK || rf == 0 || rf > 16)
            continue;
        if (mesh__root_hold(n, &id, (uint8_t)rf, NULL) != GOSR_OK)
            gosr_log(GOSR_LOG_WARN, "mesh", "pledged root %.16s incomplete",
                     hex);
    }
    gosr_free(text);
    return GOSR_OK;
}

/* ---- DHT records
 * ---------------------------------------------------------------------- */

static void id_hex(const gosr_hash *h, char out[65])
{
    gosr_hash_hex(h, out);
}

void mesh__announce_member(gosr_mesh_node *n)
{
    char id[65], text[160];
    uint8_t key[20];
    id_hex(&n->id, id);
    snprintf(text, sizeof text, "gosr-mesh/1 member %s %u.%u.%u.%u:%u %s", id,
             n->ip[0], n->ip[1], n->ip[2], n->ip[3], n->port,
             n->cfg.tier == GOSR_MESH_TIER_HOT ? "hot" : "cold");
    gosr_mesh_members_key(key);
    mesh__dht_put(n->dht, key, text);
}

void mesh__announce_root(gosr_mesh_node *n, const mesh_root *r)
{
    char id[65], root[65], text[256];
    uint8_t key[20];
    id_hex(&n->id, id);
    id_hex(&r->id, root);
    snprintf(text, sizeof text, "gosr-mesh/1 provider %s %s %u.%u.%u.%u:%u %s",
             root, id, n->ip[0], n->ip[1], n->ip[2], n->ip[3], n->port,
             n->cfg.tier == GOSR_MESH_TIER_HOT ? "hot" : "cold");
    gosr_mesh_provider_key(&r->id, key);
    mesh__dht_put(n->dht, key, text);
}

/* Parses "... <nodehex> A.B.C.D:PORT hot|cold" (the last three words) of
 * a member or provider record into a member. */
static void record_member(gosr_mesh_node *n, const char *text)
{
    char w[4][80];
    int k =
        sscanf(text, "gosr-mesh/1 %79s %79s %79s %79s", w[0], w[1], w[2], w[3]);
    const char *idh = NULL, *addr = NULL, *tier = NULL;
    if (k == 4 && strcmp(w[0], "member") == 0) {
        idh = w[1], addr = w[2], tier = w[3];
    } else if (strncmp(text, "gosr-mesh/1 provider ", 21) == 0) {
        char a[80], b[80], c[80], d[80];
        if (sscanf(text + 21, "%79s %79s %79s %79s", a, b, c, d) != 4)
            return;
        strcpy(w[1], b), strcpy(w[2], c), strcpy(w[3], d);
        idh = w[1], addr = w[2], tier = w[3];
    }
    gosr_hash id;
    uint8_t ip[4];
    uint16_t port;
    if (!idh || gosr_hash_from_hex(idh, &id) != GOSR_OK ||
        mesh__parse_addr(addr, ip, &port) != GOSR_OK)
        return;
    /* Records are unauthenticated; the link handshake proves the id. */
    mesh__member_add(n, &id, ip, port,
                     strcmp(tier, "hot") == 0 ? GOSR_MESH_TIER_HOT
                                              : GOSR_MESH_TIER_COLD);
}

static void lookup_event(gosr_mesh_node *n, const mesh_dht_event *ev)
{
    mesh_lookup **pp = &n->lookups;
    while (*pp && (*pp)->op != ev->op)
        pp = &(*pp)->next;
    mesh_lookup *k = *pp;
    if (!k)
        return;
    if (!ev->done) {
        json_array_append_new(k->found, json_string(ev->text));
        return;
    }
    *pp = k->next;
    if (k->link) {
        double ms = (double)(gosr_time_mono_ns() - k->start_ns) / 1e6;
        json_t *r = json_pack("{s:b,s:O,s:f,s:b}", "ok", 1, "providers",
                              k->found, "lookup_ms", ms, "dht_ok", ev->ok);
        mesh__ctl_reply(n, k->link, k->req, r);
    }
    json_decref(k->found);
    gosr_free(k);
}

void mesh__dht_events(gosr_mesh_node *n)
{
    mesh_dht_event ev;
    while (n->dht && mesh__dht_poll(n->dht, &ev)) {
        if (ev.text)
            record_member(n, ev.text);
        if (ev.op != 0)
            lookup_event(n, &ev);
        free(ev.text);
    }
}

/* ---- holders and repair
 * --------------------------------------------------------------- */

static bool link_counts(gosr_mesh_node *n, mesh_link *l, const gosr_hash *root)
{
    if (l->state != LINK_UP || l->is_client)
        return false;
    mesh_rep *r = mesh__rep(n, &l->peer_id);
    if (r && r->banned)
        return false;
    for (size_t i = 0; i < l->nhave; i++)
        if (gosr_hash_equal(&l->haves[i].root, root))
            return !l->haves[i].proof_failed &&
                   !mesh__distrusted(n, &l->peer_id, root);
    return false;
}

unsigned mesh__holders(gosr_mesh_node *n, const gosr_hash *root, gosr_hash *out,
                       unsigned max)
{
    unsigned k = 0;
    mesh_root *r = NULL;
    for (size_t i = 0; i < n->nroots; i++)
        if (gosr_hash_equal(&n->roots[i].id, root))
            r = &n->roots[i];
    if (r && r->held && k < max)
        out[k++] = n->id;
    for (mesh_link *l = n->links; l && k < max; l = l->next)
        if (link_counts(n, l, root))
            out[k++] = l->peer_id;
    return k;
}

/* Candidate order: preferred tier first (hot roots -> hot nodes, others
 * -> cold nodes), then highest rendezvous score. */
static bool better(const mesh_root *r, const mesh_link *a, const mesh_link *b)
{
    uint8_t want = r->hot ? GOSR_MESH_TIER_HOT : GOSR_MESH_TIER_COLD;
    bool ta = a->tier == want, tb = b->tier == want;
    if (ta != tb)
        return ta;
    return mesh__rendezvous(&r->id, &a->peer_id) >
           mesh__rendezvous(&r->id, &b->peer_id);
}

static void repair_root(gosr_mesh_node *n, mesh_root *r)
{
    gosr_hash h[32];
    unsigned have = mesh__holders(n, &r->id, h, 32);
    unsigned want = r->rf + (r->hot ? 1u : 0u);
    if (have >= want)
        return;
    mesh_link *cand[64];
    unsigned nc = 0;
    for (mesh_link *l = n->links; l && nc < 64; l = l->next) {
        mesh_rep *rep = l->state == LINK_UP && !l->is_client
                            ? mesh__rep(n, &l->peer_id)
                            : NULL;
        if (l->state != LINK_UP || l->is_client || mesh__link_has(l, &r->id) ||
            (rep && rep->banned))
            continue;
        unsigned at = nc++;
        while (at > 0 && better(r, l, cand[at - 1])) {
            cand[at] = cand[at - 1];
            at--;
        }
        cand[at] = l;
    }
    for (unsigned i = 0; i < nc && i < want - have; i++) {
        mesh_msg m = {.type = MESH_REPLICATE, .id = r->id, .rf = r->rf};
        mesh__send(cand[i], &m);
    }
}

void mesh__repair_tick(gosr_mesh_node *n)
{
    for (size_t i = 0; i < n->nroots; i++)
        if (n->roots[i].held)
            repair_root(n, &n->roots[i]);
}

void mesh__on_replicate(mesh_link *l, const mesh_msg *m)
{
    gosr_mesh_node *n = l->node;
    for (size_t i = 0; i < n->nroots; i++)
        if (n->roots[i].held && gosr_hash_equal(&n->roots[i].id, &m->id)) {
            mesh_msg h = {.type = MESH_HAVE, .id = m->id, .rf = n->roots[i].rf};
            mesh__send(l, &h);
            return;
        }
    mesh_job *j = mesh__job_start(n, &m->id, m->rf);
    if (j && j->rf == 0)
        j->rf = m->rf;
}

/* ---- storage proofs
 * --------------------------------------------------------------------- */

static void challenge(gosr_mesh_node *n, mesh_link *l, mesh_root *r,
                      size_t chunk)
{
    const gosr_chunk_ref *c = &r->chunks[chunk % r->nchunks];
    uint32_t len = c->len < PROOF_RANGE ? c->len : PROOF_RANGE;
    if (len == 0)
        return;
    uint32_t off = randombytes_uniform(c->len - len + 1);
    gosr_buf bytes = {0};
    if (gosr_store_read_range(n->store, &c->id, off, len, &bytes, NULL) !=
        GOSR_OK) {
        gosr_buf_free(&bytes);
        return; /* we cannot verify what we do not have */
    }
    if (n->nproofs == n->capproofs) {
        size_t cap = n->capproofs ? n->capproofs * 2 : 16;
        mesh_pending_proof *p = gosr_realloc(n->proofs, cap * sizeof *p);
        if (!p) {
            gosr_buf_free(&bytes);
            return;
        }
        n->proofs = p;
        n->capproofs = cap;
    }
    mesh_msg m = {.type = MESH_CHALLENGE,
                  .req = mesh__req(n),
                  .id = c->id,
                  .off = off,
                  .len = len};
    randombytes_buf(m.key, 32);
    mesh_pending_proof *pp = &n->proofs[n->nproofs++];
    *pp = (mesh_pending_proof){.req = m.req,
                               .link = l->serial,
                               .peer = l->peer_id,
                               .root = r->id,
                               .sent_ns = gosr_time_mono_ns()};
    mesh__proof_mac(m.key, &c->id, off, len, bytes.data, &pp->expect);
    gosr_buf_free(&bytes);
    mesh__send(l, &m);
}

/* Records a proof outcome; `why` is NULL on success. A failure takes the
 * peer out of the root's holders (repair replaces it); a later pass puts
 * it back. */
static void proof_result(gosr_mesh_node *n, const mesh_pending_proof *p,
                         const char *why)
{
    mesh_rep *rep = mesh__rep(n, &p->peer);
    mesh_link *l = mesh__link_by_serial(n, p->link);
    if (rep && !why)
        rep->proofs_ok++;
    if (rep && why) {
        rep->proofs_failed++;
        rep->score -= 5;
        gosr_log(GOSR_LOG_WARN, "mesh",
                 "peer %02x%02x.. failed a storage proof: %s", p->peer.b[0],
                 p->peer.b[1], why);
    }
    bool hard = why && strcmp(why, "proof_timeout") != 0;
    if (hard)
        mesh__distrust(n, &p->peer, &p->root);
    for (size_t i = 0; l && i < l->nhave; i++)
        if (gosr_hash_equal(&l->haves[i].root, &p->root))
            l->haves[i].proof_failed = why != NULL && !hard;
}

void mesh__distrust(gosr_mesh_node *n, const gosr_hash *peer,
                    const gosr_hash *root)
{
    size_t cap = sizeof n->distrust / sizeof n->distrust[0];
    mesh_distrust *d = &n->distrust[n->ndistrust++ % cap];
    d->peer = *peer;
    d->root = *root;
    d->until_ns = gosr_time_mono_ns() + 600000000000ull;
}

bool mesh__distrusted(gosr_mesh_node *n, const gosr_hash *peer,
                      const gosr_hash *root)
{
    size_t cap = sizeof n->distrust / sizeof n->distrust[0];
    size_t k = n->ndistrust < cap ? n->ndistrust : cap;
    uint64_t now = gosr_time_mono_ns();
    for (size_t i = 0; i < k; i++)
        if (n->distrust[i].until_ns > now &&
            gosr_hash_equal(&n->distrust[i].peer, peer) &&
            gosr_hash_equal(&n->distrust[i].root, root))
            return true;
    return false;
}

static bool proof_pending(gosr_mesh_node *n, const mesh_link *l,
                          const gosr_hash *root)
{
    for (size_t i = 0; i < n->nproofs; i++)
        if (n->proofs[i].link == l->serial &&
            gosr_hash_equal(&n->proofs[i].root, root))
            return true;
    return false;
}

void mesh__proof_tick(gosr_mesh_node *n)
{
    uint64_t now = gosr_time_mono_ns();
    for (size_t i = 0; i < n->nproofs;) {
        bool gone = !mesh__link_by_serial(n, n->proofs[i].link);
        if (gone || now - n->proofs[i].sent_ns > PROOF_TIMEOUT_NS) {
            mesh_pending_proof p = n->proofs[i];
            n->proofs[i] = n->proofs[--n->nproofs];
            if (!gone) /* a closed link is not a failed proof */
                proof_result(n, &p, "proof_timeout");
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < n->nroots; i++) {
        mesh_root *r = &n->roots[i];
        if (!r->held || r->nchunks == 0)
            continue;
        /* One holder per root per round (round-robin over holders, then
         * over chunks): proofs cost a chunk decode on both ends. */
        mesh_link *pick[64];
        unsigned k = 0;
        for (mesh_link *l = n->links; l && k < 64; l = l->next)
            if (l->state == LINK_UP && !l->is_client &&
                mesh__link_has(l, &r->id) && !proof_pending(n, l, &r->id))
                pick[k++] = l;
        /* holder = round mod k, chunk = round div k: every holder is asked
         * for every chunk in turn (k * nchunks rounds). */
        if (k > 0)
            challenge(n, pick[r->proof_round % k], r, r->proof_round / k);
        r->proof_round++;
    }
}

void mesh__on_challenge(mesh_link *l, const mesh_msg *m)
{
    gosr_mesh_node *n = l->node;
    mesh_msg p = {.type = MESH_PROOF, .req = m->req, .status = 1};
    bool dropped = false;
    for (size_t i = 0; i < n->nroots; i++)
        if (n->roots[i].dropped_set &&
            gosr_hash_equal(&n->roots[i].dropped, &m->id))
            dropped = true;
    gosr_buf bytes = {0};
    if (!dropped && gosr_store_read_range(n->store, &m->id, m->off, m->len,
                                          &bytes, NULL) == GOSR_OK) {
        gosr_hash mac;
        mesh__proof_mac(m->key, &m->id, m->off, m->len, bytes.data, &mac);
        memcpy(p.key, mac.b, 32);
        p.status = 0;
    }
    gosr_buf_free(&bytes);
    mesh__send(l, &p);
}

void mesh__on_proof(mesh_link *l, const mesh_msg *m)
{
    gosr_mesh_node *n = l->node;
    for (size_t i = 0; i < n->nproofs; i++) {
        mesh_pending_proof *p = &n->proofs[i];
        if (p->req != m->req || p->link != l->serial)
            continue;
        const char *why = NULL;
        if (m->status != 0)
            why = "proof_chunk_missing";
        else if (sodium_memcmp(p->expect.b, m->key, 32) != 0)
            why = "proof_mac_mismatch";
        mesh_pending_proof copy = *p;
        n->proofs[i] = n->proofs[--n->nproofs];
        proof_result(n, &copy, why);
        return;
    }
}

/* ---- credits ledger
 * ----------------------------------------------------------------------- */

json_t *mesh__rep_json(const mesh_rep *r)
{
    char hex[65];
    gosr_hash_hex(&r->id, hex);
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "id", hex,
                     "score", (json_int_t)r->score, "bad_chunks",
                     (json_int_t)r->bad_chunks, "slow", (json_int_t)r->slow,
                     "proofs_ok", (json_int_t)r->proofs_ok, "proofs_failed",
                     (json_int_t)r->proofs_failed, "bytes_served",
                     (json_int_t)r->bytes_served, "bytes_received",
                     (json_int_t)r->bytes_received, "banned", r->banned);
}

void mesh__credits_save(gosr_mesh_node *n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n->nreps; i++)
        json_array_append_new(a, mesh__rep_json(&n->reps[i]));
    char *text = a ? json_dumps(a, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    char *path = gosr_asprintf("%s/credits.json", n->data_dir);
    if (text && path)
        gosr_file_write_atomic(path, text, strlen(text), 0600);
    free(text);
    gosr_free(path);
    json_decref(a);
}

void mesh__credits_load(gosr_mesh_node *n)
{
    char *path = gosr_asprintf("%s/credits.json", n->data_dir);
    json_t *a = path ? json_load_file(path, 0, NULL) : NULL;
    gosr_free(path);
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        gosr_hash id;
        const char *hex = json_string_value(json_object_get(e, "id"));
        if (!hex || gosr_hash_from_hex(hex, &id) != GOSR_OK)
            continue;
        mesh_rep *r = mesh__rep(n, &id);
        if (!r)
            break;
        r->score = json_integer_value(json_object_get(e, "score"));
        r->bad_chunks =
            (uint32_t)json_integer_value(json_object_get(e, "bad_chunks"));
        r->slow = (uint32_t)json_integer_value(json_object_get(e, "slow"));
        r->proofs_ok =
            (uint32_t)json_integer_value(json_object_get(e, "proofs_ok"));
        r->proofs_failed =
            (uint32_t)json_integer_value(json_object_get(e, "proofs_failed"));
        r->bytes_served =
            (uint64_t)json_integer_value(json_object_get(e, "bytes_served"));
        r->bytes_received =
            (uint64_t)json_integer_value(json_object_get(e, "bytes_received"));
        r->banned = json_is_true(json_object_get(e, "banned"));
    }
    json_decref(a);
}
