/*
 * bots.c — the demo's players: each bot reads a consistent snapshot of the
 * world arena (entities and kv, the same view any client reading the world
 * has), picks a goal (gather, fight, loot, sell, buy, quest, talk, trade)
 * and sends one input event through gosr_node_submit — the path a
 * networked client's input takes. Design: docs/demo.md ("Bots"), events
 * and entity conventions in docs/arena.md.
 */
#include "gosr/demo.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ONE 65536
#define REACH (2 * ONE)
#define NACT 11
#define MAX_SEEN 16384

enum { A_JOIN, A_MOVE, A_GATHER, A_ATTACK, A_LOOT, A_SELL, A_BUY, A_QUEST,
       A_TALK, A_TRADE, A_USE };

static const char *const ACTION_NAMES[NACT] = {
    "join", "move", "gather", "attack", "loot",
    "sell", "buy",  "quest",  "talk",   "trade", "use"};

/* One bot's memory between rounds. */
typedef struct bot {
    char name[16];     /* user id, "botNNNN" */
    uint64_t avatar;   /* entity id of its avatar, 0 until seen */
    uint64_t target;   /* entity it walks to, 0 = none */
    int64_t lastx;     /* position at the previous round */
    int64_t lasty;     /* ... */
    uint32_t stuck;    /* rounds without moving while having a target */
    uint32_t since_join; /* rounds since the join was sent */
    uint32_t role;     /* 0 gatherer, 1 fighter, 2 mixed */
} bot;

/* One entity of interest in a snapshot. */
typedef struct seen {
    uint64_t id;  /* entity id */
    int64_t x, y; /* position */
    int z;        /* layer (kind) */
    int sub;      /* vz: item kind / monster type */
    int32_t hp;   /* health */
} seen;

/* What a bot knows about its own avatar, from kv. */
typedef struct self_view {
    const seen *me;     /* its avatar entity */
    long gold;          /* economy kv "gold" */
    long inv[4];        /* ore herb wood potion */
    char quest[48];     /* quests kv "quest" */
} self_view;

struct gosr_demo_bots {
    bot *b;                     /* bots */
    uint32_t n;                 /* bots */
    uint64_t rng;               /* decision RNG state */
    gosr_demo_bot_stats st;     /* counters */
    gosr_entity_slot *ents;     /* snapshot buffer, entities region */
    gosr_kv_slot *kv;           /* snapshot buffer, kv region */
    size_t nent_slots, nkv_slots; /* buffer sizes (elements) */
    seen *seen;                 /* entities of interest this round */
    size_t nseen;               /* used */
    seen *by_index;             /* MAX_SEEN lookup by slot index (id 0 =
                                   absent) */
    int32_t *kv_head;           /* MAX_SEEN: first kv slot of an entity
                                   index, -1 = none */
    int32_t *kv_next;           /* per kv slot: next slot of that entity */
};

static uint64_t rnd(gosr_demo_bots *b)
{
    uint64_t z = (b->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

const char *gosr_demo_action_name(size_t i)
{
    return i < NACT ? ACTION_NAMES[i] : "?";
}

/* Ownership: *out owned by the caller (gosr_demo_bots_destroy). */
int gosr_demo_bots_create(uint32_t n, uint64_t seed, gosr_demo_bots **out,
                          gosr_error *err)
{
    gosr_demo_bots *b = gosr_calloc(1, sizeof *b);
    if (!b || !(b->b = gosr_calloc(n ? n : 1, sizeof *b->b)) ||
        !(b->by_index = gosr_calloc(MAX_SEEN, sizeof *b->by_index)) ||
        !(b->kv_head = gosr_calloc(MAX_SEEN, sizeof *b->kv_head))) {
        gosr_demo_bots_destroy(b);
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "bots");
    }
    b->n = n;
    b->rng = seed * 0x2545F4914F6CDD1Dull + 1;
    for (uint32_t i = 0; i < n; i++) {
        snprintf(b->b[i].name, sizeof b->b[i].name, "bot%04" PRIu32, i);
        b->b[i].role = i % 3;
    }
    *out = b;
    return GOSR_OK;
}

void gosr_demo_bots_destroy(gosr_demo_bots *b)
{
    if (!b)
        return;
    gosr_free(b->b);
    gosr_free(b->ents);
    gosr_free(b->kv);
    gosr_free(b->seen);
    gosr_free(b->by_index);
    gosr_free(b->kv_head);
    gosr_free(b->kv_next);
    gosr_free(b);
}

void gosr_demo_bots_stats(const gosr_demo_bots *b, gosr_demo_bot_stats *out)
{
    *out = b->st;
}

/* Copies the entities and kv regions of the view into the bot buffers. */
static int snapshot(gosr_demo_bots *b, const gosr_arena *view,
                    gosr_error *err)
{
    int re = gosr_arena_find(view, "entities"), rk = gosr_arena_find(view, "kv");
    gosr_region_info ie, ik;
    if (re < 0 || rk < 0 || gosr_arena_region_info(view, re, &ie) != GOSR_OK ||
        gosr_arena_region_info(view, rk, &ik) != GOSR_OK ||
        ie.elem_size != sizeof(gosr_entity_slot) ||
        ik.elem_size != sizeof(gosr_kv_slot))
        return gosr_error_set(err, GOSR_EFORMAT, "demo_view_bad",
                              "world arena lacks entities/kv regions");
    if (!b->ents) {
        b->nent_slots = ie.elem_count;
        b->nkv_slots = ik.elem_count;
        b->ents = gosr_malloc(ie.size);
        b->kv = gosr_malloc(ik.size);
        b->seen = gosr_calloc(ie.elem_count ? ie.elem_count : 1, sizeof *b->seen);
        b->kv_next = gosr_calloc(ik.elem_count ? ik.elem_count : 1,
                                 sizeof *b->kv_next);
        if (!b->ents || !b->kv || !b->seen || !b->kv_next)
            return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "view");
    }
    uint64_t ep;
    int rc = gosr_arena_read(view, re, b->ents, b->nent_slots * sizeof *b->ents,
                             &ep, 1000);
    if (rc == GOSR_OK)
        rc = gosr_arena_read(view, rk, b->kv, b->nkv_slots * sizeof *b->kv,
                             &ep, 1000);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "demo_view_read", "arena read failed");
    return GOSR_OK;
}

/* Indexes the snapshot's entities. */
static void index_entities(gosr_demo_bots *b)
{
    memset(b->by_index, 0, MAX_SEEN * sizeof *b->by_index);
    b->nseen = 0;
    for (size_t i = 0; i < b->nent_slots; i++) {
        const gosr_entity_slot *e = &b->ents[i];
        if (!(e->mask & GOSR_C_ALIVE))
            continue;
        seen s = {.id = ((uint64_t)e->generation << 32) | i,
                  .x = e->pos.x, .y = e->pos.y, .z = (int)(e->pos.z / ONE),
                  .sub = (int)e->vel.z, .hp = e->health};
        b->seen[b->nseen++] = s;
        if (i < MAX_SEEN)
            b->by_index[i] = s;
    }
}

static const seen *lookup(const gosr_demo_bots *b, uint64_t id)
{
    uint32_t i = (uint32_t)id;
    if (i >= MAX_SEEN || b->by_index[i].id != id)
        return NULL;
    return &b->by_index[i];
}

/* The kv value of (entity, module, key) as a NUL-terminated copy. */
static bool kv_find(const gosr_demo_bots *b, uint64_t ent, const char *mod,
                    const char *key, char *out, size_t cap)
{
    uint32_t idx = (uint32_t)ent;
    if (idx >= MAX_SEEN)
        return false;
    for (int32_t i = b->kv_head[idx]; i >= 0; i = b->kv_next[i]) {
        const gosr_kv_slot *k = &b->kv[i];
        if (k->entity != ent || strncmp(k->module, mod, sizeof k->module) ||
            strncmp(k->key, key, sizeof k->key))
            continue;
        size_t n = k->vlen < cap - 1 ? k->vlen : cap - 1;
        memcpy(out, k->value, n);
        out[n] = 0;
        return true;
    }
    return false;
}

/* Chains kv slots by entity index for kv_find. */
static void index_kv(gosr_demo_bots *b)
{
    for (size_t i = 0; i < MAX_SEEN; i++)
        b->kv_head[i] = -1;
    for (size_t i = b->nkv_slots; i-- > 0;) {
        uint32_t idx = (uint32_t)b->kv[i].entity;
        b->kv_next[i] = -1;
        if (!b->kv[i].entity || idx >= MAX_SEEN)
            continue;
        b->kv_next[i] = b->kv_head[idx];
        b->kv_head[idx] = (int32_t)i;
    }
}

/* Finds each bot's avatar through arena.world's kv "user" entries. */
static void bind_avatars(gosr_demo_bots *b)
{
    uint64_t joined = 0;
    for (size_t i = 0; i < b->nkv_slots; i++) {
        const gosr_kv_slot *k = &b->kv[i];
        if (!k->entity || strncmp(k->module, "arena.world", sizeof k->module) ||
            strncmp(k->key, "user", sizeof k->key) || k->vlen < 4 ||
            k->vlen > 15 || memcmp(k->value, "bot", 3) != 0)
            continue;
        char num[16] = {0};
        memcpy(num, k->value + 3, k->vlen - 3);
        unsigned long idx = strtoul(num, NULL, 10);
        if (idx < b->n && !b->b[idx].avatar)
            b->b[idx].avatar = k->entity;
    }
    for (uint32_t i = 0; i < b->n; i++)
        joined += b->b[i].avatar != 0;
    b->st.joined = joined;
}

/* Submits one input event for bot `bt`; counts it. */
static void send(gosr_demo_bots *b, gosr_node *n, const bot *bt, int act,
                 const char *payload)
{
    static const char *const NAMES[NACT] = {
        "arena:join:v1:requested",   "arena:move:v1:requested",
        "arena:gather:v1:requested", "arena:attack:v1:requested",
        "arena:loot:v1:requested",   "arena:sell:v1:requested",
        "arena:buy:v1:requested",    "arena:quest:v1:requested",
        "arena:talk:v1:requested",   "arena:trade:v1:requested",
        "arena:use:v1:requested"};
    gosr_event ev = {0};
    if (gosr_event_set_name(&ev, NAMES[act], NULL) != GOSR_OK ||
        gosr_event_set_meta(&ev, "user_id", bt->name, NULL) != GOSR_OK ||
        gosr_event_set_payload(&ev, payload, strlen(payload)) != GOSR_OK) {
        b->st.refused++;
        gosr_event_clear(&ev);
        return;
    }
    if (gosr_node_submit(n, &ev) == GOSR_OK) {
        b->st.sent++;
        b->st.by_action[act]++;
    } else {
        b->st.refused++;
    }
    gosr_event_clear(&ev);
}

static int64_t dist(const seen *a, const seen *e)
{
    int64_t dx = llabs(a->x - e->x), dy = llabs(a->y - e->y);
    return dx > dy ? dx : dy;
}

static bool within(const seen *a, const seen *e, int64_t r)
{
    return llabs(a->x - e->x) <= r && llabs(a->y - e->y) <= r;
}

/* Nearest entity of layer z (sub >= 0: that subtype; hp > 0 required for
 * resources) to `me`, or NULL. */
static const seen *nearest(const gosr_demo_bots *b, const seen *me, int z,
                           int sub)
{
    const seen *best = NULL;
    int64_t bd = INT64_MAX;
    for (size_t i = 0; i < b->nseen; i++) {
        const seen *e = &b->seen[i];
        if (e->z != z || (sub >= 0 && e->sub != sub) ||
            (z == GOSR_ARENA_Z_RESOURCE && e->hp <= 0))
            continue;
        int64_t d = dist(me, e);
        if (d < bd) {
            bd = d;
            best = e;
        }
    }
    return best;
}

/* Walks toward e (a move event) unless already there. */
static void go_to(gosr_demo_bots *b, gosr_node *n, bot *bt, const seen *me,
                  int64_t x, int64_t y)
{
    char p[48];
    (void)me;
    snprintf(p, sizeof p, "%" PRId64 " %" PRId64, (x + ONE / 2) / ONE,
             (y + ONE / 2) / ONE);
    send(b, n, bt, A_MOVE, p);
}

/* Acts on `e` of the given kind when in reach, else walks there. */
static void reach_and(gosr_demo_bots *b, gosr_node *n, bot *bt,
                      const seen *me, const seen *e, int act, const char *extra)
{
    char p[96];
    if (!within(me, e, REACH)) {
        bt->target = e->id;
        go_to(b, n, bt, me, e->x, e->y);
        return;
    }
    if (act == A_QUEST)
        snprintf(p, sizeof p, "%" PRIu64 " %s %" PRIu64, bt->avatar, extra,
                 e->id);
    else
        snprintf(p, sizeof p, "%" PRIu64 " %" PRIu64 "%s%s", bt->avatar,
                 e->id, extra[0] ? " " : "", extra);
    send(b, n, bt, act, p);
}

static void read_self(const gosr_demo_bots *b, const bot *bt, self_view *sv)
{
    char v[64];
    memset(sv, 0, sizeof *sv);
    sv->me = lookup(b, bt->avatar);
    if (kv_find(b, bt->avatar, "arena.economy", "gold", v, sizeof v))
        sv->gold = strtol(v, NULL, 10);
    if (kv_find(b, bt->avatar, "arena.economy", "inv", v, sizeof v))
        sscanf(v, "%ld %ld %ld %ld", &sv->inv[0], &sv->inv[1], &sv->inv[2],
               &sv->inv[3]);
    if (!kv_find(b, bt->avatar, "arena.quests", "quest", sv->quest,
                 sizeof sv->quest))
        strcpy(sv->quest, "none");
}

/* Quest handling; true when the bot acted. */
static bool quest_step(gosr_demo_bots *b, gosr_node *n, bot *bt,
                       const self_view *sv, uint64_t r)
{
    char kind[16] = "";
    long a = 0, c = 0, need = 0, have = 0;
    const seen *me = sv->me;
    if (strcmp(sv->quest, "none") == 0) {
        const seen *g = nearest(b, me, GOSR_ARENA_Z_GIVER, -1);
        if (!g || (r % 100 >= 15 && !within(me, g, REACH)))
            return false;
        reach_and(b, n, bt, me, g, A_QUEST, "accept");
        return true;
    }
    if (sscanf(sv->quest, "%15s %ld %ld %ld %ld", kind, &a, &c, &need,
               &have) != 5)
        return false;
    if (strcmp(kind, "explore") == 0 && r % 100 < 60) {
        go_to(b, n, bt, me, (int64_t)a * ONE, (int64_t)c * ONE);
        return true;
    }
    if (have >= need && strcmp(kind, "explore") != 0) {
        const seen *g = nearest(b, me, GOSR_ARENA_Z_GIVER, -1);
        if (g) {
            reach_and(b, n, bt, me, g, A_QUEST, "turnin");
            return true;
        }
    }
    if (strcmp(kind, "gather") == 0) {
        const seen *e = nearest(b, me, GOSR_ARENA_Z_RESOURCE, (int)a);
        if (e) {
            reach_and(b, n, bt, me, e, A_GATHER, "");
            return true;
        }
    }
    return false;
}

/* Trading, selling and buying; true when the bot acted. */
static bool market_step(gosr_demo_bots *b, gosr_node *n, bot *bt,
                        const self_view *sv, uint64_t r)
{
    const seen *me = sv->me;
    long goods = sv->inv[0] + sv->inv[1] + sv->inv[2];
    char p[96];
    if (r % 100 < 3 && goods > 0) { /* sell one item to another player */
        const bot *other = &b->b[(r >> 8) % b->n];
        int item = sv->inv[0] ? 1 : sv->inv[1] ? 2 : 3;
        snprintf(p, sizeof p, "%" PRIu64 " %s %d 1 %d", bt->avatar,
                 other->name, item, 4000 + (int)((r >> 16) % 4000));
        send(b, n, bt, A_TRADE, p);
        return true;
    }
    bool potion = sv->inv[3] == 0 && sv->gold > 30 &&
                  (sv->me->hp < 70 || bt->role == 1);
    if (goods < 6 && !potion)
        return false;
    const seen *m = nearest(b, me, GOSR_ARENA_Z_MERCHANT, -1);
    if (!m)
        return false;
    if (goods >= 6) {
        int item = 1;
        for (int i = 1; i < 3; i++)
            if (sv->inv[i] > sv->inv[item - 1])
                item = i + 1;
        snprintf(p, sizeof p, "%d %ld", item, sv->inv[item - 1]);
        reach_and(b, n, bt, me, m, A_SELL, p);
    } else {
        reach_and(b, n, bt, me, m, A_BUY, "4 1");
    }
    return true;
}

/* One bot's decision. */
static void decide(gosr_demo_bots *b, gosr_node *n, bot *bt)
{
    uint64_t r = rnd(b);
    char p[64];
    if (!bt->avatar) {
        if (bt->since_join++ % 60 == 0)
            send(b, n, bt, A_JOIN, "");
        return;
    }
    self_view sv;
    read_self(b, bt, &sv);
    if (!sv.me)
        return;
    const seen *me = sv.me;
    bt->stuck = (me->x == bt->lastx && me->y == bt->lasty) ? bt->stuck + 1 : 0;
    bt->lastx = me->x;
    bt->lasty = me->y;
    if (bt->stuck > 25 && bt->target) { /* walled off: wander elsewhere */
        bt->target = 0;
        bt->stuck = 0;
        go_to(b, n, bt, me, me->x + (int64_t)(r % 17) * ONE - 8 * ONE,
              me->y + (int64_t)((r >> 8) % 17) * ONE - 8 * ONE);
        return;
    }
    if (me->hp < 50 && sv.inv[3] > 0) {
        snprintf(p, sizeof p, "%" PRIu64, bt->avatar);
        send(b, n, bt, A_USE, p);
        return;
    }
    const seen *l = nearest(b, me, GOSR_ARENA_Z_LOOT, -1);
    if (l && dist(me, l) < 6 * ONE) {
        reach_and(b, n, bt, me, l, A_LOOT, "");
        return;
    }
    if (market_step(b, n, bt, &sv, r) || quest_step(b, n, bt, &sv, r >> 20))
        return;
    if ((r >> 40) % 100 < 4) {
        const seen *t = nearest(b, me, GOSR_ARENA_Z_MERCHANT + 2 * ((r >> 48) & 1), -1);
        if (t) {
            reach_and(b, n, bt, me, t, A_TALK, "");
            return;
        }
    }
    bool fight = bt->role == 1 || (bt->role == 2 && (r >> 32) % 2);
    const seen *e = fight ? nearest(b, me, GOSR_ARENA_Z_MONSTER, -1)
                          : nearest(b, me, GOSR_ARENA_Z_RESOURCE, -1);
    if (e)
        reach_and(b, n, bt, me, e, fight ? A_ATTACK : A_GATHER, "");
}

int gosr_demo_bots_round(gosr_demo_bots *b, gosr_node *n,
                         const gosr_arena *view, uint32_t act_pct,
                         gosr_error *err)
{
    int rc = snapshot(b, view, err);
    if (rc != GOSR_OK)
        return rc;
    index_entities(b);
    index_kv(b);
    bind_avatars(b);
    b->st.rounds++;
    for (uint32_t i = 0; i < b->n; i++)
        if (rnd(b) % 100 < act_pct)
            decide(b, n, &b->b[i]);
    return GOSR_OK;
}
