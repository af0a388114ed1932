/*
 * world.c — the world: entity slots with generational ids, typed components
 * (fixed-point position and velocity, owner, health, inventory) and
 * per-module key/value entries, stored directly in the arena regions
 * "meta", "entities" and "kv" so other processes can watch them. Mutations
 * happen inside a batch (begin/commit); a region's seqlock window opens at
 * its first mutation in the batch and closes at commit, so a batch is one
 * epoch per touched region. The world hash is BLAKE3 over a canonical
 * little-endian encoding.
 *
 * Design: docs/runtime.md ("World", "Determinism", "World hash").
 */
#include "runtime/runtime_int.h"

#include <string.h>

_Static_assert(sizeof(gosr_entity_slot) == 128, "entity slot is 128 bytes");
_Static_assert(sizeof(gosr_kv_slot) == 128, "kv slot is 128 bytes");
_Static_assert(sizeof(gosr_world_meta) == 128, "meta is 128 bytes");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the arena layout and world hash assume a little-endian host");

#define WORLD_MAX_CAPACITY (1u << 22)
#define WORLD_MAX_KV (1u << 20)
#define KV_TOMB UINT32_MAX

struct gosr_world {
    gosr_world_config cfg;   /* effective configuration */
    gosr_arena *arena;       /* owned; writer handle */
    int r_meta, r_ent, r_kv; /* region indexes */
    gosr_world_meta *meta;   /* arena data of "meta" */
    gosr_entity_slot *slots; /* arena data of "entities" */
    gosr_kv_slot *kv;        /* arena data of "kv" */
    bool in_batch;           /* between begin and commit */
    uint32_t count;          /* live entities */
    uint32_t free_hint;      /* no free slot below this index */
    uint32_t high;           /* slots ever used: [0, high) */
    uint32_t kv_count;       /* used kv entries */
    uint32_t kv_high;        /* kv entries ever used: [0, kv_high) */
    uint32_t kv_free_hint;   /* no free kv slot below this index */
    uint32_t *kv_index;      /* private open-addressing index: slot + 1,
                                0 empty, KV_TOMB deleted; owned */
    uint32_t kv_mask;        /* index size - 1 (power of two) */
    uint32_t kv_tombs;       /* KV_TOMB cells in the index */
    uint64_t tick;           /* ticks committed */
};

static uint32_t idx_of(gosr_entity e)
{
    return (uint32_t)(e.id & 0xffffffffu);
}

static uint32_t gen_of(gosr_entity e)
{
    return (uint32_t)(e.id >> 32);
}

static gosr_entity make_id(uint32_t idx, uint32_t gen)
{
    return (gosr_entity){((uint64_t)gen << 32) | idx};
}

/* The live slot an id names, or NULL for invalid, stale or free ids. */
static gosr_entity_slot *lookup(const gosr_world *w, gosr_entity e)
{
    uint32_t i = idx_of(e);
    if (e.id == 0 || i >= w->cfg.capacity)
        return NULL;
    gosr_entity_slot *s = &w->slots[i];
    if (!(s->mask & GOSR_C_ALIVE) || s->generation != gen_of(e))
        return NULL;
    return s;
}

/* Opens the region's write window on first touch inside a batch. */
static int touch(gosr_world *w, int region)
{
    if (!w->in_batch)
        return GOSR_ESTATE;
    if (gosr_arena_writing(w->arena, region))
        return GOSR_OK;
    return gosr_arena_begin_write(w->arena, region);
}

/* Resolves a live entity for mutation and opens the entities window. */
static int mut(gosr_world *w, gosr_entity e, gosr_entity_slot **out)
{
    gosr_entity_slot *s = lookup(w, e);
    if (!s)
        return GOSR_ENOENT;
    int rc = touch(w, w->r_ent);
    if (rc != GOSR_OK)
        return rc;
    *out = s;
    return GOSR_OK;
}

/* ---- create / destroy --------------------------------------------------- */

int world__config_defaults(const gosr_world_config *in, gosr_world_config *c,
                          gosr_error *err)
{
    *c = in ? *in : (gosr_world_config){0};
    if (!c->capacity)
        c->capacity = 16384;
    if (!c->kv_capacity)
        c->kv_capacity = 4096;
    if (!c->rate_hz)
        c->rate_hz = 30;
    if (c->capacity > WORLD_MAX_CAPACITY || c->kv_capacity > WORLD_MAX_KV)
        return gosr_error_set(err, GOSR_EINVAL, "world_capacity_too_large",
                              "capacity %u (max %u), kv %u (max %u)",
                              c->capacity, WORLD_MAX_CAPACITY, c->kv_capacity,
                              WORLD_MAX_KV);
    return GOSR_OK;
}

int gosr_world_create(const gosr_world_config *cfg, const char *arena_path,
                      gosr_world **out, gosr_error *err)
{
    gosr_world *w = gosr_calloc(1, sizeof *w);
    if (!w)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "world");
    int rc = world__config_defaults(cfg, &w->cfg, err);
    if (rc != GOSR_OK)
        goto out_free;
    gosr_region_spec specs[3] = {
        {.name = "meta",
         .kind = GOSR_REGION_META,
         .elem_size = sizeof(gosr_world_meta),
         .elem_count = 1},
        {.name = "entities",
         .kind = GOSR_REGION_ENTITIES,
         .elem_size = sizeof(gosr_entity_slot),
         .elem_count = w->cfg.capacity},
        {.name = "kv",
         .kind = GOSR_REGION_KV,
         .elem_size = sizeof(gosr_kv_slot),
         .elem_count = w->cfg.kv_capacity},
    };
    uint32_t cells = 16;
    while (cells < 2 * w->cfg.kv_capacity)
        cells *= 2;
    w->kv_mask = cells - 1;
    if (!(w->kv_index = gosr_calloc(cells, sizeof *w->kv_index))) {
        rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "kv index");
        goto out_free;
    }
    if ((rc = gosr_arena_create(arena_path, specs, 3, &w->arena, err)) !=
        GOSR_OK)
        goto out_free;
    w->r_meta = 0;
    w->r_ent = 1;
    w->r_kv = 2;
    w->meta = gosr_arena_data(w->arena, w->r_meta);
    w->slots = gosr_arena_data(w->arena, w->r_ent);
    w->kv = gosr_arena_data(w->arena, w->r_kv);
    /* The initial meta is published as epoch 1 of "meta". */
    gosr_arena_begin_write(w->arena, w->r_meta);
    w->meta->seed = w->cfg.seed;
    w->meta->capacity = w->cfg.capacity;
    w->meta->kv_capacity = w->cfg.kv_capacity;
    w->meta->rate_hz = w->cfg.rate_hz;
    gosr_arena_end_write(w->arena, w->r_meta);
    *out = w;
    return GOSR_OK;
out_free:
    gosr_free(w->kv_index);
    gosr_free(w);
    return rc;
}

void gosr_world_destroy(gosr_world *w)
{
    if (!w)
        return;
    gosr_arena_close(w->arena);
    gosr_free(w->kv_index);
    gosr_free(w);
}

gosr_arena *gosr_world_arena(gosr_world *w)
{
    return w->arena;
}

const gosr_world_config *gosr_world_get_config(const gosr_world *w)
{
    return &w->cfg;
}

uint64_t gosr_world_tick(const gosr_world *w)
{
    return w->tick;
}

uint32_t gosr_world_count(const gosr_world *w)
{
    return w->count;
}

/* ---- batches ------------------------------------------------------------ */

int gosr_world_begin(gosr_world *w)
{
    if (w->in_batch)
        return GOSR_ESTATE;
    w->in_batch = true;
    return GOSR_OK;
}

int gosr_world_commit(gosr_world *w, bool advance_tick)
{
    if (!w->in_batch)
        return GOSR_ESTATE;
    if (advance_tick)
        w->tick++;
    int rc = touch(w, w->r_meta);
    if (rc != GOSR_OK)
        return rc;
    w->meta->tick = w->tick;
    w->meta->entity_count = w->count;
    w->meta->kv_count = w->kv_count;
    w->meta->commit_wall_ns = gosr_time_wall_ns();
    int regions[3] = {w->r_ent, w->r_kv, w->r_meta};
    for (int i = 0; i < 3; i++)
        if (gosr_arena_writing(w->arena, regions[i]))
            gosr_arena_end_write(w->arena, regions[i]);
    w->in_batch = false;
    return GOSR_OK;
}

int world__advance_tick(gosr_world *w)
{
    if (!w->in_batch)
        return GOSR_ESTATE;
    w->tick++;
    return GOSR_OK;
}

/* Publishes the last hash into meta (as part of the next meta epoch when
 * called inside a batch, or as its own epoch otherwise). */
int world__publish_hash(gosr_world *w, const gosr_hash *h)
{
    bool own = !w->in_batch;
    if (own)
        w->in_batch = true;
    int rc = touch(w, w->r_meta);
    if (rc == GOSR_OK)
        memcpy(w->meta->last_hash, h->b, 32);
    if (own) {
        gosr_arena_end_write(w->arena, w->r_meta);
        w->in_batch = false;
    }
    return rc;
}

/* ---- entities ----------------------------------------------------------- */

int gosr_world_spawn(gosr_world *w, const gosr_entity_slot *init,
                     gosr_entity *out)
{
    uint32_t i = w->free_hint;
    while (i < w->cfg.capacity && (w->slots[i].mask & GOSR_C_ALIVE))
        i++;
    if (i >= w->cfg.capacity)
        return GOSR_ENOSPC;
    int rc = touch(w, w->r_ent);
    if (rc != GOSR_OK)
        return rc;
    gosr_entity_slot *s = &w->slots[i];
    uint32_t gen = s->generation ? s->generation : 1;
    if (init) {
        *s = *init;
        if (s->inv_count > GOSR_INV_SLOTS)
            s->inv_count = GOSR_INV_SLOTS;
        /* Unused inventory entries stay zero: the hash covers them. */
        for (uint32_t k = s->inv_count; k < GOSR_INV_SLOTS; k++)
            s->inv[k] = (gosr_item){0, 0};
    } else {
        memset(s, 0, sizeof *s);
    }
    s->generation = gen;
    s->mask = (s->mask & GOSR_C_ALL) | GOSR_C_ALIVE;
    w->free_hint = i + 1;
    if (i + 1 > w->high)
        w->high = i + 1;
    w->count++;
    *out = make_id(i, gen);
    return GOSR_OK;
}

static void kv_drop_entity(gosr_world *w, uint64_t id);

int gosr_world_destroy_entity(gosr_world *w, gosr_entity e)
{
    gosr_entity_slot *s;
    int rc = mut(w, e, &s);
    if (rc != GOSR_OK)
        return rc;
    uint32_t gen = s->generation + 1;
    memset(s, 0, sizeof *s);
    s->generation = gen ? gen : 1; /* 0 is reserved for "never used" */
    if (idx_of(e) < w->free_hint)
        w->free_hint = idx_of(e);
    w->count--;
    kv_drop_entity(w, e.id);
    return GOSR_OK;
}

bool gosr_world_alive(const gosr_world *w, gosr_entity e)
{
    return lookup(w, e) != NULL;
}

int gosr_world_get(const gosr_world *w, gosr_entity e, gosr_entity_slot *out)
{
    const gosr_entity_slot *s = lookup(w, e);
    if (!s)
        return GOSR_ENOENT;
    *out = *s;
    return GOSR_OK;
}

gosr_entity_slot *gosr_world_slot_mut(gosr_world *w, gosr_entity e)
{
    gosr_entity_slot *s;
    return mut(w, e, &s) == GOSR_OK ? s : NULL;
}

int gosr_world_set_position(gosr_world *w, gosr_entity e, gosr_vec3 p)
{
    gosr_entity_slot *s;
    int rc = mut(w, e, &s);
    if (rc == GOSR_OK) {
        s->pos = p;
        s->mask |= GOSR_C_POSITION;
    }
    return rc;
}

int gosr_world_set_velocity(gosr_world *w, gosr_entity e, gosr_vec3 v)
{
    gosr_entity_slot *s;
    int rc = mut(w, e, &s);
    if (rc == GOSR_OK) {
        s->vel = v;
        s->mask |= GOSR_C_VELOCITY;
    }
    return rc;
}

int gosr_world_set_owner(gosr_world *w, gosr_entity e, uint64_t owner)
{
    gosr_entity_slot *s;
    int rc = mut(w, e, &s);
    if (rc == GOSR_OK) {
        s->owner = owner;
        s->mask |= GOSR_C_OWNER;
    }
    return rc;
}

int gosr_world_set_health(gosr_world *w, gosr_entity e, int32_t hp)
{
    gosr_entity_slot *s;
    int rc = mut(w, e, &s);
    if (rc == GOSR_OK) {
        s->health = hp;
        s->mask |= GOSR_C_HEALTH;
    }
    return rc;
}

int gosr_world_inv_add(gosr_world *w, gosr_entity e, uint32_t item,
                       uint32_t count)
{
    gosr_entity_slot *s = lookup(w, e);
    if (!s)
        return GOSR_ENOENT;
    if (item == 0)
        return GOSR_EINVAL;
    uint32_t i = 0;
    while (i < s->inv_count && s->inv[i].item != item)
        i++;
    if (i == GOSR_INV_SLOTS)
        return GOSR_ENOSPC;
    if (i < s->inv_count && s->inv[i].count > UINT32_MAX - count)
        return GOSR_ETOOBIG;
    int rc = touch(w, w->r_ent);
    if (rc != GOSR_OK)
        return rc;
    if (i == s->inv_count) {
        s->inv[i] = (gosr_item){item, 0};
        s->inv_count++;
    }
    s->inv[i].count += count;
    s->mask |= GOSR_C_INVENTORY;
    return GOSR_OK;
}

int gosr_world_inv_remove(gosr_world *w, gosr_entity e, uint32_t item,
                          uint32_t count)
{
    gosr_entity_slot *s = lookup(w, e);
    if (!s)
        return GOSR_ENOENT;
    uint32_t i = 0;
    while (i < s->inv_count && s->inv[i].item != item)
        i++;
    if (i == s->inv_count || item == 0)
        return GOSR_ENOENT;
    int rc = touch(w, w->r_ent);
    if (rc != GOSR_OK)
        return rc;
    if (s->inv[i].count > count) {
        s->inv[i].count -= count;
        return GOSR_OK;
    }
    /* Keep entries packed in order so the encoding stays canonical. */
    memmove(&s->inv[i], &s->inv[i + 1],
            (s->inv_count - i - 1) * sizeof s->inv[0]);
    s->inv_count--;
    s->inv[s->inv_count] = (gosr_item){0, 0};
    return GOSR_OK;
}

int gosr_world_each(gosr_world *w, gosr_world_visit_fn fn, void *ud)
{
    if (w->in_batch) {
        int rc = touch(w, w->r_ent);
        if (rc != GOSR_OK)
            return rc;
    }
    for (uint32_t i = 0; i < w->high; i++) {
        gosr_entity_slot *s = &w->slots[i];
        if (s->mask & GOSR_C_ALIVE)
            fn(ud, make_id(i, s->generation), s);
    }
    return GOSR_OK;
}

/* ---- key/value ---------------------------------------------------------- */

static bool kv_name_ok(const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max + 1) : 0;
    return n > 0 && n <= max;
}

/* FNV-1a over (entity id, module, NUL, key): the private index's hash. */
static uint32_t kv_hash(uint64_t id, const char *module, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 8; i++)
        h = (h ^ ((id >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    for (const char *p = module; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 32));
}

/* Finds the index cell holding (id, module, key), or NULL; *free_cell (if
 * given) receives the first empty or deleted cell on the probe path. */
static uint32_t *kv_probe(const gosr_world *w, uint64_t id, const char *module,
                          const char *key, uint32_t **free_cell)
{
    for (uint32_t h = kv_hash(id, module, key) & w->kv_mask;;
         h = (h + 1) & w->kv_mask) {
        uint32_t *c = &w->kv_index[h], v = *c;
        if (v != 0 && v != KV_TOMB) {
            const gosr_kv_slot *k = &w->kv[v - 1];
            if (k->entity == id && strcmp(k->module, module) == 0 &&
                strcmp(k->key, key) == 0)
                return c;
            continue;
        }
        if (free_cell && !*free_cell)
            *free_cell = c;
        if (v == 0)
            return NULL;
    }
}

static gosr_kv_slot *kv_find(const gosr_world *w, uint64_t id,
                             const char *module, const char *key)
{
    uint32_t *c = kv_probe(w, id, module, key, NULL);
    return c ? &w->kv[*c - 1] : NULL;
}

/* Rebuilds the index from the slots once deleted cells pile up (keeps
 * probes short; there is always an empty cell since cells >= 2 x slots). */
static void kv_reindex(gosr_world *w)
{
    memset(w->kv_index, 0, ((size_t)w->kv_mask + 1) * sizeof *w->kv_index);
    w->kv_tombs = 0;
    for (uint32_t i = 0; i < w->kv_high; i++) {
        const gosr_kv_slot *k = &w->kv[i];
        uint32_t *cell = NULL;
        if (k->entity && !kv_probe(w, k->entity, k->module, k->key, &cell))
            *cell = i + 1;
    }
}

static void kv_release(gosr_world *w, gosr_kv_slot *k)
{
    uint32_t *c = kv_probe(w, k->entity, k->module, k->key, NULL);
    uint32_t i = (uint32_t)(k - w->kv);
    if (c) {
        *c = KV_TOMB;
        w->kv_tombs++;
    }
    memset(k, 0, sizeof *k);
    w->kv_count--;
    if (i < w->kv_free_hint)
        w->kv_free_hint = i;
    if (w->kv_tombs > (w->kv_mask + 1) / 4)
        kv_reindex(w);
}

static void kv_drop_entity(gosr_world *w, uint64_t id)
{
    for (uint32_t i = 0; i < w->kv_high && w->kv_count; i++) {
        if (w->kv[i].entity != id)
            continue;
        if (touch(w, w->r_kv) != GOSR_OK)
            return;
        kv_release(w, &w->kv[i]);
    }
}

/* Fills the lowest free slot with a new (entity, module, key) entry and
 * indexes it. The caller checked that one is free and opened the window. */
static gosr_kv_slot *kv_insert(gosr_world *w, uint32_t i, uint64_t id,
                               const char *module, const char *key)
{
    gosr_kv_slot *k = &w->kv[i];
    uint32_t *cell = NULL;
    kv_probe(w, id, module, key, &cell);
    if (*cell == KV_TOMB)
        w->kv_tombs--;
    *cell = i + 1;
    memset(k, 0, sizeof *k);
    k->entity = id;
    memcpy(k->module, module, strlen(module));
    memcpy(k->key, key, strlen(key));
    w->kv_count++;
    w->kv_free_hint = i + 1;
    if (i + 1 > w->kv_high)
        w->kv_high = i + 1;
    return k;
}

int gosr_world_kv_set(gosr_world *w, gosr_entity e, const char *module,
                      const char *key, const void *value, size_t len)
{
    if (!kv_name_ok(module, GOSR_KV_MODULE_MAX) ||
        !kv_name_ok(key, GOSR_KV_KEY_MAX) || (len && !value))
        return GOSR_EINVAL;
    if (len > GOSR_KV_VALUE_MAX)
        return GOSR_ETOOBIG;
    if (!lookup(w, e))
        return GOSR_ENOENT;
    gosr_kv_slot *k = kv_find(w, e.id, module, key);
    uint32_t i = w->kv_free_hint;
    if (!k) {
        while (i < w->cfg.kv_capacity && w->kv[i].entity != 0)
            i++;
        if (i == w->cfg.kv_capacity)
            return GOSR_ENOSPC;
    }
    int rc = touch(w, w->r_kv);
    if (rc != GOSR_OK)
        return rc;
    if (!k)
        k = kv_insert(w, i, e.id, module, key);
    memset(k->value, 0, sizeof k->value);
    if (len)
        memcpy(k->value, value, len);
    k->vlen = (uint32_t)len;
    return GOSR_OK;
}

int gosr_world_kv_get(const gosr_world *w, gosr_entity e, const char *module,
                      const char *key, void *buf, size_t cap, size_t *len)
{
    if (!kv_name_ok(module, GOSR_KV_MODULE_MAX) ||
        !kv_name_ok(key, GOSR_KV_KEY_MAX))
        return GOSR_EINVAL;
    const gosr_kv_slot *k = lookup(w, e) ? kv_find(w, e.id, module, key) : NULL;
    if (!k)
        return GOSR_ENOENT;
    if (len)
        *len = k->vlen;
    if (cap < k->vlen)
        return GOSR_ETOOBIG;
    if (k->vlen)
        memcpy(buf, k->value, k->vlen);
    return GOSR_OK;
}

int gosr_world_kv_del(gosr_world *w, gosr_entity e, const char *module,
                      const char *key)
{
    if (!kv_name_ok(module, GOSR_KV_MODULE_MAX) ||
        !kv_name_ok(key, GOSR_KV_KEY_MAX))
        return GOSR_EINVAL;
    gosr_kv_slot *k = lookup(w, e) ? kv_find(w, e.id, module, key) : NULL;
    if (!k)
        return GOSR_ENOENT;
    int rc = touch(w, w->r_kv);
    if (rc == GOSR_OK)
        kv_release(w, k);
    return rc;
}

/* ---- hash --------------------------------------------------------------- */

static void put_u64(gosr_blake3 *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    gosr_blake3_update(h, b, 8);
}

void world__hash_parts(uint64_t tick, uint64_t seed, uint32_t high,
                       uint32_t kv_high, const gosr_entity_slot *slots,
                       const gosr_kv_slot *kv, gosr_hash *out)
{
    gosr_blake3 h;
    gosr_blake3_init_derive_key(&h, "gosr 2026 world hash v1");
    put_u64(&h, tick);
    put_u64(&h, seed);
    put_u64(&h, high);
    put_u64(&h, kv_high);
    /* Slots are fixed-layout little-endian structs without padding, so
     * their memory is their canonical encoding (docs/runtime.md). Slots at
     * and above `high` were never used and are all zero. */
    gosr_blake3_update(&h, slots, (size_t)high * sizeof *slots);
    gosr_blake3_update(&h, kv, (size_t)kv_high * sizeof *kv);
    gosr_blake3_finalize(&h, out->b, 32);
}

void gosr_world_hash(const gosr_world *w, gosr_hash *out)
{
    world__hash_parts(w->tick, w->cfg.seed, w->high, w->kv_high, w->slots,
                      w->kv, out);
}

int gosr_world_set_tick(gosr_world *w, uint64_t tick)
{
    if (!w->in_batch)
        return GOSR_ESTATE;
    w->tick = tick;
    return GOSR_OK;
}

/* ---- snapshots (kernel hot-swap rollback) -------------------------------- */

/* struct gosr_world_snap is in runtime_int.h (worldsnap.c encodes it). */

int gosr_world_snapshot(const gosr_world *w, gosr_world_snap **out)
{
    gosr_world_snap *s = gosr_calloc(1, sizeof *s);
    if (!s)
        return GOSR_ENOMEM;
    s->count = w->count;
    s->free_hint = w->free_hint;
    s->high = w->high;
    s->kv_count = w->kv_count;
    s->kv_high = w->kv_high;
    s->kv_free_hint = w->kv_free_hint;
    s->slots = gosr_malloc((size_t)(s->high ? s->high : 1) * sizeof *s->slots);
    s->kv = gosr_malloc((size_t)(s->kv_high ? s->kv_high : 1) * sizeof *s->kv);
    if (!s->slots || !s->kv) {
        gosr_world_snap_free(s);
        return GOSR_ENOMEM;
    }
    memcpy(s->slots, w->slots, (size_t)s->high * sizeof *s->slots);
    memcpy(s->kv, w->kv, (size_t)s->kv_high * sizeof *s->kv);
    *out = s;
    return GOSR_OK;
}

int gosr_world_restore(gosr_world *w, const gosr_world_snap *s)
{
    if (!w->in_batch)
        return GOSR_ESTATE;
    if (s->high > w->cfg.capacity || s->kv_high > w->cfg.kv_capacity)
        return GOSR_EINVAL; /* a snapshot of a bigger world */
    int rc = touch(w, w->r_ent);
    if (rc == GOSR_OK)
        rc = touch(w, w->r_kv);
    if (rc != GOSR_OK)
        return rc;
    uint32_t hi = w->high > s->high ? w->high : s->high;
    memset(w->slots + s->high, 0, (size_t)(hi - s->high) * sizeof *w->slots);
    memcpy(w->slots, s->slots, (size_t)s->high * sizeof *w->slots);
    /* Slots past the snapshot's high mark were never used before it, so
     * zeroing them is exact (generation 0 = never used). */
    uint32_t khi = w->kv_high > s->kv_high ? w->kv_high : s->kv_high;
    memset(w->kv + s->kv_high, 0, (size_t)(khi - s->kv_high) * sizeof *w->kv);
    memcpy(w->kv, s->kv, (size_t)s->kv_high * sizeof *w->kv);
    w->count = s->count;
    w->free_hint = s->free_hint;
    w->high = s->high;
    w->kv_count = s->kv_count;
    w->kv_high = s->kv_high;
    w->kv_free_hint = s->kv_free_hint;
    kv_reindex(w);
    return GOSR_OK;
}

void gosr_world_snap_free(gosr_world_snap *s)
{
    if (!s)
        return;
    gosr_free(s->slots);
    gosr_free(s->kv);
    gosr_free(s);
}

const gosr_entity_slot *gosr_world_slot_peek(const gosr_world *w,
                                             uint32_t index, gosr_entity *id)
{
    if (index >= w->high)
        return NULL;
    const gosr_entity_slot *s = &w->slots[index];
    if (!(s->mask & GOSR_C_ALIVE))
        return NULL;
    if (id)
        *id = make_id(index, s->generation);
    return s;
}
