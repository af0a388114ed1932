/*
 * aihost.c — the "ai" capability group of the host API (docs/kernel.md,
 * "AI host API"): ai.dialog, ai.quest and ai.map validate a Lua table as
 * the capability's input, submit it to the node's AI router (docs/ai.md)
 * and return a request id at once; the router's answer comes back on the
 * router thread and enters the simulation as a logged input event
 * (`ai:CAP:v1:completed|failed`) at the next tick boundary. A replay never
 * calls the router: the answers are read from the session log.
 */
#include "kernel/kernel_int.h"

#include "gosr/ai.h"

#include <string.h>
#include <time.h>

#define AI_DEPTH_MAX 8        /* table nesting in an input */
#define AI_NODES_MAX 4096     /* values in an input */
#define AI_STR_MAX 4096       /* bytes of one string in an input */
#define AI_INPUT_MAX 16384    /* bytes of the input JSON (router's cap) */
#define AI_SUBMIT_TRIES 1000  /* input queue full: 1 ms retries */

/* One request in flight (owned by the router callback, which frees it). */
typedef struct kai_req {
    gosr_node *n;          /* the node (borrowed; outlives the router) */
    uint64_t id;           /* the id returned to the module */
    char module[KID_MAX];  /* requesting module id (event user) */
} kai_req;

static int to_json(const gosr_sbv *v, int depth, uint32_t *nodes, json_t **o);

/* A table as a JSON array (keys 1..n in order) or object (string keys). */
static int table_json(const gosr_sbv *t, int depth, uint32_t *nodes,
                      json_t **out)
{
    bool arr = t->u.t.len > 0 && t->u.t.items[0].key.type == GOSR_SBV_INT;
    json_t *o = arr ? json_array() : json_object();
    if (!o)
        return GOSR_ENOMEM;
    for (size_t i = 0; i < t->u.t.len; i++) {
        const gosr_sbv_pair *p = &t->u.t.items[i];
        json_t *v = NULL;
        int rc = GOSR_EINVAL;
        if (arr ? p->key.type == GOSR_SBV_INT && p->key.u.i == (int64_t)i + 1
                : p->key.type == GOSR_SBV_STR &&
                      !memchr(p->key.u.s.p, 0, p->key.u.s.len) &&
                      p->key.u.s.len <= 64)
            rc = to_json(&p->val, depth + 1, nodes, &v);
        if (rc == GOSR_OK)
            rc = (arr ? json_array_append_new(o, v)
                      : json_object_set_new(o, p->key.u.s.p, v))
                     ? GOSR_EINVAL
                     : GOSR_OK;
        if (rc != GOSR_OK) {
            json_decref(o);
            return rc;
        }
    }
    *out = o;
    return GOSR_OK;
}

/* Converts a copied Lua value into JSON within the bounds above. */
static int to_json(const gosr_sbv *v, int depth, uint32_t *nodes, json_t **o)
{
    if (depth > AI_DEPTH_MAX || ++*nodes > AI_NODES_MAX)
        return GOSR_ETOOBIG;
    switch (v->type) {
    case GOSR_SBV_BOOL: *o = json_boolean(v->u.b); break;
    case GOSR_SBV_INT: *o = json_integer((json_int_t)v->u.i); break;
    case GOSR_SBV_NUM: *o = json_real(v->u.n); break; /* NULL for NaN/inf */
    case GOSR_SBV_STR:
        if (v->u.s.len > AI_STR_MAX)
            return GOSR_ETOOBIG;
        *o = json_stringn(v->u.s.p, v->u.s.len); /* NULL unless UTF-8 */
        break;
    case GOSR_SBV_TABLE: return table_json(v, depth, nodes, o);
    default: return GOSR_EINVAL;
    }
    return *o ? GOSR_OK : GOSR_EINVAL;
}

/* The call's input as compact JSON with defaults filled, valid for the
 * capability's input schema (caller frees *text). */
static int input_text(gosr_sandbox_hcall *c, gosr_ai_cap cap, char **text)
{
    gosr_sbv v = {0};
    json_t *in = NULL;
    uint32_t nodes = 0;
    int rc = GOSR_OK;
    if (gosr_sandbox_nargs(c) > 1)
        return GOSR_EINVAL;
    if (gosr_sandbox_nargs(c) == 1)
        rc = gosr_sandbox_arg_value(c, 1, &v);
    if (rc == GOSR_OK && v.type != GOSR_SBV_NIL && v.type != GOSR_SBV_TABLE)
        rc = GOSR_EINVAL;
    if (rc == GOSR_OK)
        rc = v.type == GOSR_SBV_TABLE && v.u.t.len
                 ? to_json(&v, 0, &nodes, &in)
                 : ((in = json_object()) ? GOSR_OK : GOSR_ENOMEM);
    gosr_sbv_free(&v);
    if (rc == GOSR_OK && !json_is_object(in))
        rc = GOSR_EINVAL;
    if (rc == GOSR_OK && (gosr_ai_cap_fill_defaults(cap, in, NULL) != GOSR_OK ||
                          gosr_ai_schema_validate(gosr_ai_cap_input_schema(cap),
                                                  in, NULL) != GOSR_OK))
        rc = GOSR_EINVAL;
    if (rc == GOSR_OK) {
        *text = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
        rc = !*text ? GOSR_ENOMEM
                    : strlen(*text) > AI_INPUT_MAX ? GOSR_ETOOBIG : GOSR_OK;
        if (rc != GOSR_OK)
            free(*text);
    }
    json_decref(in);
    return rc;
}

/* Queues the event on the node's input path; retries a full queue for up
 * to a second (router thread, never the tick thread's budget). */
static void submit_event(gosr_node *n, const char *name, const char *module,
                         json_t *payload)
{
    gosr_event ev = {0};
    char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = text ? gosr_event_set_name(&ev, name, NULL) : GOSR_ENOMEM;
    rc = rc ? rc : gosr_event_set_payload(&ev, text, strlen(text));
    rc = rc ? rc : gosr_event_set_meta(&ev, "user_id", module, NULL);
    for (int i = 0; rc == GOSR_OK && i < AI_SUBMIT_TRIES; i++) {
        if ((rc = gosr_node_submit(n, &ev)) != GOSR_EBUSY)
            break;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    if (rc != GOSR_OK)
        gosr_log(GOSR_LOG_ERROR, "kernel", "ai event %s for %s lost: %s",
                 name, module, gosr_strerror(rc));
    gosr_event_clear(&ev);
    free(text);
}

/* Router callback (router thread): the result as an input event. */
static void on_result(void *ud, const gosr_ai_result *res)
{
    kai_req *q = ud;
    char name[128];
    json_t *p = NULL;
    if (res->status != GOSR_ECLOSED && /* closing: nobody left to tell */
        gosr_ai_result_event(res, name, &p, NULL) == GOSR_OK) {
        json_object_set_new(p, "request_id", json_integer((json_int_t)q->id));
        json_object_set_new(p, "module", json_string(q->module));
        submit_event(q->n, name, q->module, p);
    }
    json_decref(p);
    gosr_free(q);
}

/* A refusal decided at submit still reaches the module as a logged
 * `ai:CAP:v1:failed` event, so the Lua-visible result never depends on
 * wall-clock rate limits (replays stay exact). */
static void submit_refused(gosr_node *n, kai_req *q, gosr_ai_cap cap,
                           int rc, const gosr_error *err)
{
    char name[128];
    snprintf(name, sizeof name, "ai:%s:v1:failed", gosr_ai_cap_name(cap));
    json_t *p = json_pack("{s:I, s:s, s:s, s:i, s:s}", "request_id",
                          (json_int_t)q->id, "module", q->module,
                          "capability", gosr_ai_cap_name(cap), "status", rc,
                          "reason", err->reason[0] ? err->reason : "refused");
    if (p)
        submit_event(n, name, q->module, p);
    json_decref(p);
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Sends the request to the router (not in a replay); *id is the module's
 * request id, decided on the tick thread in module order. */
static int send(gosr_node *n, gosr_ai_cap cap, const char *input, uint64_t id)
{
    if (n->replay || !n->ai_router)
        return GOSR_OK; /* replay: the answer is in the session log */
    kai_req *q = gosr_calloc(1, sizeof *q);
    if (!q)
        return GOSR_ENOMEM;
    q->n = n;
    q->id = id;
    snprintf(q->module, sizeof q->module, "%s", n->cur_slot->ver->id);
    gosr_ai_request req = {.cap = cap, .user = q->module,
                           .tier = GOSR_AI_TIER_ENTERPRISE, .input = input,
                           .seed = mix64(n->cfg.seed ^ mix64(id))};
    gosr_error err = {0};
    int rc = gosr_ai_router_submit(n->ai_router, &req, on_result, q, NULL,
                                   &err);
    if (rc != GOSR_OK) {
        submit_refused(n, q, cap, rc, &err);
        gosr_free(q);
    }
    return GOSR_OK;
}

static int h_ai(gosr_sandbox_hcall *c, gosr_node *n, gosr_ai_cap cap)
{
    char *input = NULL;
    if (gosr_sandbox_hcall_owner(c) != n->cur_sb || !n->cur_sb)
        return GOSR_ESTATE; /* only from on_event/tick on the tick thread */
    int rc = input_text(c, cap, &input);
    if (rc != GOSR_OK)
        return rc;
    uint64_t id = ++n->ai_next;
    rc = send(n, cap, input, id);
    free(input);
    return rc ? rc : gosr_sandbox_ret_int(c, (int64_t)id);
}

static int h_dialog(gosr_sandbox_hcall *c, void *ud)
{
    return h_ai(c, ud, GOSR_AI_NPC_DIALOG);
}

static int h_quest(gosr_sandbox_hcall *c, void *ud)
{
    return h_ai(c, ud, GOSR_AI_QUEST_GEN);
}

static int h_map(gosr_sandbox_hcall *c, void *ud)
{
    return h_ai(c, ud, GOSR_AI_MAP_GEN);
}

int kernel__aihost_add(gosr_node *n)
{
    int rc = gosr_sandbox_host_add(n->host, "ai", "ai.dialog", h_dialog, n);
    rc = rc ? rc : gosr_sandbox_host_add(n->host, "ai", "ai.quest", h_quest, n);
    return rc ? rc : gosr_sandbox_host_add(n->host, "ai", "ai.map", h_map, n);
}

int kernel__ai_open(gosr_node *n, gosr_error *err)
{
    gosr_ai_router_config rc = {0}; /* no providers: the ghost tier only */
    json_t *keep = NULL;            /* the config's strings live in it */
    const char *path = n->cfg.ai_config;
    n->cfg.ai_config = NULL; /* borrowed for open only */
    int st = path ? gosr_ai_config_load(path, &rc, &keep, err) : GOSR_OK;
    if (st == GOSR_OK)
        st = gosr_ai_router_create(&rc, &n->ai_router, err);
    json_decref(keep);
    return st;
}

void kernel__ai_close(gosr_node *n)
{
    gosr_ai_router_destroy(n->ai_router); /* joins; pending get ECLOSED */
    n->ai_router = NULL;
}

bool kernel__ai_event_for(const gosr_event *ev, const char *module)
{
    if (strncmp(ev->name, "ai:", 3) != 0)
        return true;
    return ev->user_id && strcmp(ev->user_id, module) == 0;
}
