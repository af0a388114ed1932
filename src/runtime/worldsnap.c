/*
 * worldsnap.c — the binary encoding of a world snapshot (entities, kv
 * entries and the allocator counters) for node checkpoints, its strict
 * decoder, and the world hash of a snapshot. The decoder trusts nothing:
 * the length must match the counters exactly, the counters must fit the
 * configured capacities, and every slot must satisfy the invariants the
 * world keeps (live slots well formed, free slots zero, the free hints and
 * counts true, every kv entry owned by a live entity with NUL-padded names
 * and no duplicates), because gosr_world_restore copies the slots in as
 * they are and the world's allocator relies on them.
 *
 * Design: docs/runtime.md ("World snapshot encoding").
 */
#include "runtime/runtime_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_MAGIC "GWSN"
#define SNAP_VERSION 1u
#define SNAP_HEADER 32u /* magic, version, six u32 counters */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

int gosr_world_snap_encode(const gosr_world_snap *s, gosr_buf *out)
{
    size_t ent = (size_t)s->high * sizeof(gosr_entity_slot);
    size_t kv = (size_t)s->kv_high * sizeof(gosr_kv_slot);
    uint8_t h[SNAP_HEADER];
    memcpy(h, SNAP_MAGIC, 4);
    put_u32(h + 4, SNAP_VERSION);
    uint32_t f[6] = {s->count,    s->free_hint, s->high,
                     s->kv_count, s->kv_high,   s->kv_free_hint};
    for (int i = 0; i < 6; i++)
        put_u32(h + 8 + 4 * i, f[i]);
    /* Slots are fixed-layout little-endian structs without padding (the
     * arena layout, docs/runtime.md): their memory is their encoding. */
    if (gosr_buf_reserve(out, SNAP_HEADER + ent + kv) != GOSR_OK)
        return GOSR_ENOMEM;
    gosr_buf_append(out, h, SNAP_HEADER);
    gosr_buf_append(out, s->slots, ent);
    gosr_buf_append(out, s->kv, kv);
    return GOSR_OK;
}

void gosr_world_snap_hash(const gosr_world_snap *s, uint64_t tick,
                          uint64_t seed, gosr_hash *out)
{
    world__hash_parts(tick, seed, s->high, s->kv_high, s->slots, s->kv, out);
}

uint32_t gosr_world_snap_count(const gosr_world_snap *s)
{
    return s->count;
}

/* ---- validation ---------------------------------------------------------- */

static int bad(gosr_error *err, const char *fmt, uint32_t a)
    __attribute__((format(printf, 2, 0)));
static int bad(gosr_error *err, const char *fmt, uint32_t a)
{
    char d[160];
    snprintf(d, sizeof d, fmt, a);
    return gosr_error_set(err, GOSR_EFORMAT, "snapshot_invalid",
                          "world snapshot: %s", d);
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* A live slot: known component bits, a packed inventory of distinct
 * non-zero items with zero entries past inv_count. */
static bool live_slot_ok(const gosr_entity_slot *e)
{
    if (e->mask & ~(uint32_t)GOSR_C_ALL || e->inv_count > GOSR_INV_SLOTS)
        return false;
    for (uint32_t k = 0; k < GOSR_INV_SLOTS; k++) {
        const gosr_item *it = &e->inv[k];
        if (k >= e->inv_count) {
            if (it->item || it->count)
                return false;
            continue;
        }
        if (it->item == 0)
            return false;
        for (uint32_t j = 0; j < k; j++)
            if (e->inv[j].item == it->item)
                return false;
    }
    return true;
}

static int check_slots(const gosr_world_snap *s, gosr_error *err)
{
    uint32_t alive = 0;
    for (uint32_t i = 0; i < s->high; i++) {
        const gosr_entity_slot *e = &s->slots[i];
        if (e->generation == 0)
            return bad(err, "slot %u below the high mark was never used", i);
        if (!(e->mask & GOSR_C_ALIVE)) {
            if (i < s->free_hint)
                return bad(err, "free slot %u below the free hint", i);
            if (!all_zero((const uint8_t *)e + 4, sizeof *e - 4))
                return bad(err, "free slot %u is not cleared", i);
            continue;
        }
        if (!live_slot_ok(e))
            return bad(err, "live slot %u is malformed", i);
        alive++;
    }
    if (alive != s->count)
        return bad(err, "entity count says %u live slots", s->count);
    return GOSR_OK;
}

/* A NUL-terminated, NUL-padded name of 1..cap-1 bytes. */
static bool name_ok(const char *p, size_t cap)
{
    size_t n = strnlen(p, cap);
    return n > 0 && n < cap && all_zero(p + n, cap - n);
}

static int kv_entry_ok(const gosr_world_snap *s, const gosr_kv_slot *k)
{
    uint32_t idx = (uint32_t)(k->entity & 0xffffffffu);
    uint32_t gen = (uint32_t)(k->entity >> 32);
    if (idx >= s->high || !(s->slots[idx].mask & GOSR_C_ALIVE) ||
        s->slots[idx].generation != gen)
        return false;
    if (!name_ok(k->module, sizeof k->module) ||
        !name_ok(k->key, sizeof k->key))
        return false;
    return k->vlen <= GOSR_KV_VALUE_MAX && k->reserved == 0 &&
           all_zero(k->value + k->vlen, GOSR_KV_VALUE_MAX - k->vlen);
}

static int kv_cmp(const void *a, const void *b)
{
    const gosr_kv_slot *x = *(const gosr_kv_slot *const *)a;
    const gosr_kv_slot *y = *(const gosr_kv_slot *const *)b;
    if (x->entity != y->entity)
        return x->entity < y->entity ? -1 : 1;
    int c = memcmp(x->module, y->module, sizeof x->module);
    return c ? c : memcmp(x->key, y->key, sizeof x->key);
}

/* No (entity, module, key) twice: sort the used entries and compare. */
static int check_kv_unique(const gosr_world_snap *s, gosr_error *err)
{
    if (s->kv_count < 2)
        return GOSR_OK;
    const gosr_kv_slot **ix = gosr_malloc((size_t)s->kv_count * sizeof *ix);
    if (!ix)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "kv index");
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->kv_high; i++)
        if (s->kv[i].entity)
            ix[n++] = &s->kv[i];
    qsort(ix, n, sizeof *ix, kv_cmp);
    long dup = -1;
    for (uint32_t i = 1; i < n && dup < 0; i++)
        if (kv_cmp(&ix[i - 1], &ix[i]) == 0)
            dup = ix[i] - s->kv;
    gosr_free(ix);
    return dup < 0 ? GOSR_OK
                   : bad(err, "kv entry %u is a duplicate", (uint32_t)dup);
}

static int check_kv(const gosr_world_snap *s, gosr_error *err)
{
    uint32_t used = 0;
    for (uint32_t i = 0; i < s->kv_high; i++) {
        const gosr_kv_slot *k = &s->kv[i];
        if (k->entity == 0) {
            if (i < s->kv_free_hint)
                return bad(err, "free kv entry %u below the free hint", i);
            if (!all_zero(k, sizeof *k))
                return bad(err, "free kv entry %u is not cleared", i);
            continue;
        }
        if (!kv_entry_ok(s, k))
            return bad(err, "kv entry %u is malformed or orphaned", i);
        used++;
    }
    if (used != s->kv_count)
        return bad(err, "kv count says %u used entries", s->kv_count);
    return check_kv_unique(s, err);
}

/* ---- decode -------------------------------------------------------------- */

/* Reads and bounds the header; *need gets the exact total length. */
static int read_header(const uint8_t *p, size_t n, const gosr_world_config *c,
                       gosr_world_snap *s, gosr_error *err)
{
    if (n < SNAP_HEADER)
        return gosr_error_set(err, GOSR_EFORMAT, "snapshot_truncated",
                              "world snapshot: %zu bytes, header is %u", n,
                              SNAP_HEADER);
    if (memcmp(p, SNAP_MAGIC, 4) != 0 || get_u32(p + 4) != SNAP_VERSION)
        return gosr_error_set(err, GOSR_EFORMAT, "snapshot_bad_magic",
                              "world snapshot: bad magic or version");
    s->count = get_u32(p + 8);
    s->free_hint = get_u32(p + 12);
    s->high = get_u32(p + 16);
    s->kv_count = get_u32(p + 20);
    s->kv_high = get_u32(p + 24);
    s->kv_free_hint = get_u32(p + 28);
    if (s->high > c->capacity || s->kv_high > c->kv_capacity)
        return gosr_error_set(err, GOSR_ETOOBIG, "snapshot_invalid",
                              "world snapshot: %u slots / %u kv entries "
                              "exceed capacity %u / %u",
                              s->high, s->kv_high, c->capacity, c->kv_capacity);
    if (s->free_hint > s->high || s->count > s->high ||
        s->kv_free_hint > s->kv_high || s->kv_count > s->kv_high)
        return bad(err, "counters inconsistent (high %u)", s->high);
    uint64_t need = SNAP_HEADER + (uint64_t)s->high * sizeof(gosr_entity_slot) +
                    (uint64_t)s->kv_high * sizeof(gosr_kv_slot);
    if (need != n)
        return gosr_error_set(err, GOSR_EFORMAT,
                              need > n ? "snapshot_truncated"
                                       : "snapshot_trailing",
                              "world snapshot: %zu bytes, counters say %llu", n,
                              (unsigned long long)need);
    return GOSR_OK;
}

int gosr_world_snap_decode(const uint8_t *p, size_t n,
                           const gosr_world_config *limits,
                           gosr_world_snap **out, gosr_error *err)
{
    gosr_world_config c;
    int rc = world__config_defaults(limits, &c, err);
    if (rc != GOSR_OK)
        return rc;
    gosr_world_snap *s = gosr_calloc(1, sizeof *s);
    if (!s)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "snapshot");
    if ((rc = read_header(p, p ? n : 0, &c, s, err)) != GOSR_OK)
        goto out_free;
    size_t ent = (size_t)s->high * sizeof *s->slots;
    size_t kv = (size_t)s->kv_high * sizeof *s->kv;
    s->slots = gosr_malloc(ent ? ent : 1);
    s->kv = gosr_malloc(kv ? kv : 1);
    if (!s->slots || !s->kv) {
        rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "snapshot");
        goto out_free;
    }
    memcpy(s->slots, p + SNAP_HEADER, ent);
    memcpy(s->kv, p + SNAP_HEADER + ent, kv);
    if ((rc = check_slots(s, err)) != GOSR_OK ||
        (rc = check_kv(s, err)) != GOSR_OK)
        goto out_free;
    *out = s;
    return GOSR_OK;
out_free:
    gosr_world_snap_free(s);
    return rc;
}
