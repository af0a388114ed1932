/*
 * host.c — the host API modules call, by capability group (docs/kernel.md,
 * "Host API"): world.read (count, get, query in bulk), world.write
 * (set_pos, set_vel, set_health, set_batch, spawn, despawn, kv_set,
 * kv_del), kv_get under world.read, events.emit, log.info and rng.int
 * (the "ai" group is in aihost.c).
 * World functions work only for the sandbox the tick thread is running
 * right now (n->cur_sb); anywhere else (init or migrate while loading off
 * the tick thread) they fail with world_unavailable.
 */
#include "kernel/kernel_int.h"

#include <string.h>

#define COORD_MAX ((int64_t)1 << 46) /* |position| and |velocity| bound */
#define QUERY_MAX 4096               /* entities per world.query call */
#define HP_MAX 1000000000            /* |health| bound */

static int world_ok(gosr_sandbox_hcall *c, gosr_node *n)
{
    if (gosr_sandbox_hcall_owner(c) != n->cur_sb || !n->cur_sb)
        return GOSR_ESTATE;
    return GOSR_OK;
}

static int arg_id(gosr_sandbox_hcall *c, int i, gosr_entity *e)
{
    int64_t v;
    int rc = gosr_sandbox_arg_int(c, i, 1, INT64_MAX, &v);
    e->id = (uint64_t)v;
    return rc;
}

static int arg_vec(gosr_sandbox_hcall *c, int i, gosr_vec3 *v)
{
    int rc = gosr_sandbox_arg_int(c, i, -COORD_MAX, COORD_MAX, &v->x);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_arg_int(c, i + 1, -COORD_MAX, COORD_MAX, &v->y);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_arg_int(c, i + 2, -COORD_MAX, COORD_MAX, &v->z);
    return rc;
}

static int h_log(gosr_sandbox_hcall *c, void *ud)
{
    const char *s;
    size_t len;
    int rc = gosr_sandbox_arg_str(c, 1, 1024, &s, &len);
    (void)ud;
    if (rc != GOSR_OK)
        return rc;
    gosr_log(GOSR_LOG_INFO, "module", "%.*s", (int)len, s);
    return GOSR_OK;
}

static int h_count(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    int rc = world_ok(c, n);
    return rc ? rc : gosr_sandbox_ret_int(c, gosr_world_count(n->world));
}

/* Appends key=int to a table value. */
static int tset(gosr_sbv *t, const char *k, int64_t v)
{
    gosr_sbv key;
    int rc = gosr_sbv_str(&key, k, strlen(k));
    return rc ? rc : gosr_sbv_table_set(t, key, gosr_sbv_int(v));
}

static int h_get(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    gosr_entity e;
    gosr_entity_slot s;
    int rc = world_ok(c, n);
    if (rc == GOSR_OK)
        rc = arg_id(c, 1, &e);
    if (rc != GOSR_OK)
        return rc;
    if (gosr_world_get(n->world, e, &s) != GOSR_OK)
        return GOSR_OK; /* nil: no such entity */
    gosr_sbv t = {0};
    rc = tset(&t, "id", (int64_t)e.id);
    rc = rc ? rc : tset(&t, "x", s.pos.x);
    rc = rc ? rc : tset(&t, "y", s.pos.y);
    rc = rc ? rc : tset(&t, "z", s.pos.z);
    rc = rc ? rc : tset(&t, "vx", s.vel.x);
    rc = rc ? rc : tset(&t, "vy", s.vel.y);
    rc = rc ? rc : tset(&t, "vz", s.vel.z);
    rc = rc ? rc : tset(&t, "owner", (int64_t)s.owner);
    rc = rc ? rc : tset(&t, "health", s.health);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_ret_value(c, &t);
    gosr_sbv_free(&t);
    return rc;
}

/* world.query(cursor, max) -> {id,x,y,z,vx,vy,vz, id,...}, next cursor
 * (0 at the end): up to max live entities from slot `cursor` on. */
static int h_query(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    int64_t cur, max;
    int rc = world_ok(c, n);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_arg_int(c, 1, 0, UINT32_MAX, &cur);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_arg_int(c, 2, 1, QUERY_MAX, &max);
    if (rc != GOSR_OK)
        return rc;
    uint32_t cap = gosr_world_get_config(n->world)->capacity;
    gosr_sbv t = {.type = GOSR_SBV_TABLE};
    t.u.t.items = gosr_malloc((size_t)max * 7 * sizeof(gosr_sbv_pair));
    if (!t.u.t.items)
        return GOSR_ENOMEM;
    int64_t k = 0, got = 0;
    uint32_t i = (uint32_t)cur;
    for (; i < cap && got < max; i++) {
        gosr_entity_slot s;
        gosr_entity e = {0};
        const gosr_entity_slot *p = gosr_world_slot_peek(n->world, i, &e);
        if (!p)
            continue;
        s = *p;
        int64_t vals[7] = {(int64_t)e.id, s.pos.x, s.pos.y, s.pos.z,
                           s.vel.x, s.vel.y, s.vel.z};
        for (int j = 0; j < 7; j++) {
            k++;
            t.u.t.items[k - 1].key = gosr_sbv_int(k);
            t.u.t.items[k - 1].val = gosr_sbv_int(vals[j]);
        }
        got++;
    }
    t.u.t.len = (size_t)k;
    rc = gosr_sandbox_ret_value(c, &t);
    gosr_sbv_free(&t);
    if (rc == GOSR_OK)
        rc = gosr_sandbox_ret_int(c, i < cap ? (int64_t)i : 0);
    return rc;
}

static void put_le64(uint8_t *p, int64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)((uint64_t)v >> (8 * i));
}

static int64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return (int64_t)v;
}

/* world.query_packed(cursor, max) -> bytes, next cursor: as world.query,
 * but each entity is 56 bytes (7 little-endian int64: id,x,y,z,vx,vy,vz)
 * for string.unpack("<i8i8i8i8i8i8i8"), with no table to build. */
static int h_query_packed(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    int64_t cur, max;
    int rc = world_ok(c, n);
    rc = rc ? rc : gosr_sandbox_arg_int(c, 1, 0, UINT32_MAX, &cur);
    rc = rc ? rc : gosr_sandbox_arg_int(c, 2, 1, QUERY_MAX, &max);
    if (rc != GOSR_OK)
        return rc;
    uint32_t cap = gosr_world_get_config(n->world)->capacity;
    uint8_t *buf = gosr_malloc((size_t)max * 56), *p = buf;
    if (!buf)
        return GOSR_ENOMEM;
    uint32_t i = (uint32_t)cur;
    for (int64_t got = 0; i < cap && got < max; i++) {
        gosr_entity e;
        const gosr_entity_slot *s = gosr_world_slot_peek(n->world, i, &e);
        if (!s)
            continue;
        int64_t v[7] = {(int64_t)e.id, s->pos.x, s->pos.y, s->pos.z,
                        s->vel.x,      s->vel.y, s->vel.z};
        for (int j = 0; j < 7; j++, p += 8)
            put_le64(p, v[j]);
        got++;
    }
    rc = gosr_sandbox_ret_str(c, (const char *)buf, (size_t)(p - buf));
    gosr_free(buf);
    return rc ? rc : gosr_sandbox_ret_int(c, i < cap ? (int64_t)i : 0);
}

/* world.set_packed(bytes) -> entities updated: 32 bytes per entity (4
 * little-endian int64: id,x,y,z), at most 4096 entities. */
static int h_set_packed(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    const char *s;
    size_t len;
    int rc = world_ok(c, n);
    rc = rc ? rc : gosr_sandbox_arg_str(c, 1, QUERY_MAX * 32, &s, &len);
    if (rc != GOSR_OK)
        return rc;
    if (len % 32)
        return GOSR_EINVAL;
    int64_t done = 0;
    for (const uint8_t *p = (const uint8_t *)s; p < (const uint8_t *)s + len;
         p += 32) {
        gosr_vec3 v = {get_le64(p + 8), get_le64(p + 16), get_le64(p + 24)};
        if (v.x < -COORD_MAX || v.x > COORD_MAX || v.y < -COORD_MAX ||
            v.y > COORD_MAX || v.z < -COORD_MAX || v.z > COORD_MAX)
            return GOSR_EINVAL;
        gosr_entity e = {(uint64_t)get_le64(p)};
        done += gosr_world_set_position(n->world, e, v) == GOSR_OK;
    }
    return gosr_sandbox_ret_int(c, done);
}

static int h_set_pos(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    gosr_entity e;
    gosr_vec3 v;
    int rc = world_ok(c, n);
    rc = rc ? rc : arg_id(c, 1, &e);
    rc = rc ? rc : arg_vec(c, 2, &v);
    if (rc != GOSR_OK)
        return rc;
    return gosr_sandbox_ret_bool(
        c, gosr_world_set_position(n->world, e, v) == GOSR_OK);
}

static int h_set_vel(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    gosr_entity e;
    gosr_vec3 v;
    int rc = world_ok(c, n);
    rc = rc ? rc : arg_id(c, 1, &e);
    rc = rc ? rc : arg_vec(c, 2, &v);
    if (rc != GOSR_OK)
        return rc;
    return gosr_sandbox_ret_bool(
        c, gosr_world_set_velocity(n->world, e, v) == GOSR_OK);
}

static int h_set_health(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    gosr_entity e;
    int64_t hp;
    int rc = world_ok(c, n);
    rc = rc ? rc : arg_id(c, 1, &e);
    rc = rc ? rc : gosr_sandbox_arg_int(c, 2, -HP_MAX, HP_MAX, &hp);
    if (rc != GOSR_OK)
        return rc;
    return gosr_sandbox_ret_bool(
        c, gosr_world_set_health(n->world, e, (int32_t)hp) == GOSR_OK);
}

/* world.set_batch({id,x,y,z, id,x,y,z, ...}) -> entities updated. */
static int h_set_batch(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    gosr_sbv t = {0};
    int rc = world_ok(c, n);
    rc = rc ? rc : gosr_sandbox_arg_value(c, 1, &t);
    if (rc != GOSR_OK)
        return rc;
    int64_t done = 0;
    if (t.type != GOSR_SBV_TABLE || t.u.t.len % 4 || t.u.t.len > QUERY_MAX * 4)
        rc = GOSR_EINVAL;
    for (size_t i = 0; rc == GOSR_OK && i < t.u.t.len; i += 4) {
        const gosr_sbv_pair *p = &t.u.t.items[i];
        for (int j = 0; j < 4; j++)
            if (p[j].val.type != GOSR_SBV_INT)
                rc = GOSR_EINVAL;
        if (rc != GOSR_OK)
            break;
        gosr_vec3 v = {p[1].val.u.i, p[2].val.u.i, p[3].val.u.i};
        if (v.x < -COORD_MAX || v.x > COORD_MAX || v.y < -COORD_MAX ||
            v.y > COORD_MAX || v.z < -COORD_MAX || v.z > COORD_MAX) {
            rc = GOSR_EINVAL;
            break;
        }
        gosr_entity e = {(uint64_t)p[0].val.u.i};
        done += gosr_world_set_position(n->world, e, v) == GOSR_OK;
    }
    gosr_sbv_free(&t);
    return rc ? rc : gosr_sandbox_ret_int(c, done);
}

static int h_spawn(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    gosr_entity_slot s = {0};
    int64_t hp = 100;
    int rc = world_ok(c, n);
    rc = rc ? rc : arg_vec(c, 1, &s.pos);
    rc = rc ? rc : arg_vec(c, 4, &s.vel);
    if (rc == GOSR_OK && gosr_sandbox_nargs(c) >= 7)
        rc = gosr_sandbox_arg_int(c, 7, -HP_MAX, HP_MAX, &hp);
    if (rc != GOSR_OK)
        return rc;
    uint32_t lim = n->cfg.max_spawn_per_tick ? n->cfg.max_spawn_per_tick : 256;
    if (n->spawns >= lim)
        return GOSR_EBUDGET;
    n->spawns++;
    s.health = (int32_t)hp;
    s.mask = GOSR_C_POSITION | GOSR_C_VELOCITY | GOSR_C_HEALTH;
    gosr_entity e;
    if (gosr_world_spawn(n->world, &s, &e) != GOSR_OK)
        return GOSR_OK; /* nil: world full */
    return gosr_sandbox_ret_int(c, (int64_t)e.id);
}

static int h_despawn(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    gosr_entity e;
    int rc = world_ok(c, n);
    rc = rc ? rc : arg_id(c, 1, &e);
    if (rc != GOSR_OK)
        return rc;
    return gosr_sandbox_ret_bool(
        c, gosr_world_destroy_entity(n->world, e) == GOSR_OK);
}

static int h_kv_set(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    gosr_entity e;
    const char *k, *v;
    size_t kl, vl;
    int rc = world_ok(c, n);
    rc = rc ? rc : arg_id(c, 1, &e);
    rc = rc ? rc : gosr_sandbox_arg_str(c, 2, GOSR_KV_KEY_MAX, &k, &kl);
    rc = rc ? rc : gosr_sandbox_arg_str(c, 3, GOSR_KV_VALUE_MAX, &v, &vl);
    if (rc != GOSR_OK)
        return rc;
    if (kl == 0 || memchr(k, 0, kl))
        return GOSR_EINVAL;
    char key[GOSR_KV_KEY_MAX + 1];
    memcpy(key, k, kl);
    key[kl] = '\0';
    rc = gosr_world_kv_set(n->world, e, n->cur_slot->ver->id, key, v, vl);
    return gosr_sandbox_ret_bool(c, rc == GOSR_OK);
}

static int h_kv_get(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    gosr_entity e;
    const char *k;
    size_t kl, len;
    int rc = world_ok(c, n);
    rc = rc ? rc : arg_id(c, 1, &e);
    rc = rc ? rc : gosr_sandbox_arg_str(c, 2, GOSR_KV_KEY_MAX, &k, &kl);
    if (rc != GOSR_OK)
        return rc;
    if (kl == 0 || memchr(k, 0, kl))
        return GOSR_EINVAL;
    char key[GOSR_KV_KEY_MAX + 1];
    uint8_t buf[GOSR_KV_VALUE_MAX];
    memcpy(key, k, kl);
    key[kl] = '\0';
    if (gosr_world_kv_get(n->world, e, n->cur_slot->ver->id, key, buf,
                          sizeof buf, &len) != GOSR_OK)
        return GOSR_OK; /* nil */
    return gosr_sandbox_ret_str(c, (const char *)buf, len);
}

static int h_emit(gosr_sandbox_hcall *c, void *ud)
{
    gosr_node *n = ud;
    const char *name, *p = "";
    size_t nl, pl = 0;
    int rc = world_ok(c, n);
    rc = rc ? rc : gosr_sandbox_arg_str(c, 1, GOSR_EVENT_NAME_MAX, &name, &nl);
    if (rc == GOSR_OK && gosr_sandbox_nargs(c) >= 2)
        rc = gosr_sandbox_arg_str(c, 2, 4096, &p, &pl);
    if (rc != GOSR_OK)
        return rc;
    char buf[GOSR_EVENT_NAME_MAX + 1];
    memcpy(buf, name, nl);
    buf[nl] = '\0';
    if (!gosr_event_name_valid(buf))
        return GOSR_EINVAL;
    n->emitted++;
    return GOSR_OK;
}

static int h_rng(gosr_sandbox_hcall *c, void *ud)
{
    int64_t lo, hi;
    (void)ud;
    int rc = gosr_sandbox_arg_int(c, 1, INT32_MIN, INT32_MAX, &lo);
    rc = rc ? rc : gosr_sandbox_arg_int(c, 2, lo, INT32_MAX, &hi);
    if (rc != GOSR_OK)
        return rc;
    uint64_t r = gosr_sandbox_rng_next(gosr_sandbox_hcall_owner(c));
    return gosr_sandbox_ret_int(c, lo + (int64_t)(r % (uint64_t)(hi - lo + 1)));
}

/* The registration table. */
static const struct {
    const char *group, *name;
    gosr_sandbox_host_fn fn;
} HOST[] = {
    {"log", "log.info", h_log},
    {"world.read", "world.count", h_count},
    {"world.read", "world.get", h_get},
    {"world.read", "world.query", h_query},
    {"world.read", "world.kv_get", h_kv_get},
    {"world.read", "world.query_packed", h_query_packed},
    {"world.write", "world.set_packed", h_set_packed},
    {"world.write", "world.set_pos", h_set_pos},
    {"world.write", "world.set_vel", h_set_vel},
    {"world.write", "world.set_health", h_set_health},
    {"world.write", "world.set_batch", h_set_batch},
    {"world.write", "world.spawn", h_spawn},
    {"world.write", "world.despawn", h_despawn},
    {"world.write", "world.kv_set", h_kv_set},
    {"events.emit", "events.emit", h_emit},
    {"rng", "rng.int", h_rng},
};

int kernel__host_create(gosr_node *n, gosr_error *err)
{
    int rc = gosr_sandbox_host_create(&n->host);
    for (size_t i = 0; rc == GOSR_OK && i < sizeof HOST / sizeof HOST[0]; i++)
        rc = gosr_sandbox_host_add(n->host, HOST[i].group, HOST[i].name,
                                   HOST[i].fn, n);
    if (rc == GOSR_OK)
        rc = kernel__hooks_host_add(n); /* patch.get, kpi.report */
    if (rc == GOSR_OK)
        rc = kernel__aihost_add(n); /* ai.dialog, ai.quest, ai.map */
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "host_api", "registering host API");
    return GOSR_OK;
}
