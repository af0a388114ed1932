/*
 * test_ckpt_codec.c — the two encodings a node checkpoint is made of: world
 * snapshots (gosr_world_snap_encode/decode) and sandbox values
 * (gosr_sbv_encode/decode). Round trips are exact (same world hash after
 * restore, equal values), every truncation and random corruption gives a
 * clean error or a value that still satisfies the invariants, each world
 * invariant the decoder guards is refused with snapshot_invalid, and the
 * limits hold. Design under test: docs/runtime.md ("World snapshot
 * encoding"), docs/sandbox.md ("Value encoding").
 */
#include "harness.h"

#include "gosr/runtime.h"
#include "gosr/sandbox.h"

#include <math.h>

/* A world with live and dead entities, inventories and kv entries. */
static gosr_world *make_world(void)
{
    gosr_world_config c = {.capacity = 64, .kv_capacity = 32, .seed = 9};
    gosr_world *w = NULL;
    if (gosr_world_create(&c, NULL, &w, NULL) != GOSR_OK)
        return NULL;
    gosr_entity ids[12];
    gosr_world_begin(w);
    for (int i = 0; i < 12; i++) {
        gosr_entity_slot s = {.mask = GOSR_C_POSITION | GOSR_C_HEALTH,
                              .pos = {i * 65536, -i, 7},
                              .health = 100 - i};
        gosr_world_spawn(w, &s, &ids[i]);
        gosr_world_kv_set(w, ids[i], "mod", "k", "value", 5);
        gosr_world_kv_set(w, ids[i], "mod", "k2", "", 0);
    }
    gosr_world_inv_add(w, ids[2], 5, 3);
    gosr_world_inv_add(w, ids[2], 6, 1);
    gosr_world_destroy_entity(w, ids[3]);
    gosr_world_destroy_entity(w, ids[11]);
    gosr_world_kv_del(w, ids[0], "mod", "k");
    gosr_world_commit(w, true);
    return w;
}

static void encode_world(gosr_world *w, gosr_buf *b)
{
    gosr_world_snap *s = NULL;
    REQUIRE(gosr_world_snapshot(w, &s) == GOSR_OK);
    REQUIRE(gosr_world_snap_encode(s, b) == GOSR_OK);
    gosr_world_snap_free(s);
}

GOSR_TEST(world_snap_round_trip_restores_the_same_hash)
{
    gosr_world *w = make_world();
    REQUIRE(w != NULL);
    gosr_buf b = {0};
    encode_world(w, &b);
    gosr_hash before, after, predicted;
    gosr_world_hash(w, &before);
    gosr_world_snap *s = NULL;
    gosr_error err = {0};
    CHECK_OK(gosr_world_snap_decode(b.data, b.len, gosr_world_get_config(w), &s,
                                    &err));
    REQUIRE(s != NULL);
    CHECK_EQ(gosr_world_snap_count(s), 10);
    gosr_world_snap_hash(s, gosr_world_tick(w), 9, &predicted);
    CHECK_MEM(before.b, predicted.b, 32);
    /* into a fresh world of the same config, at the same tick */
    gosr_world_config c = *gosr_world_get_config(w);
    gosr_world *w2 = NULL;
    REQUIRE(gosr_world_create(&c, NULL, &w2, NULL) == GOSR_OK);
    CHECK_STATUS(gosr_world_set_tick(w2, 1), GOSR_ESTATE);
    gosr_world_begin(w2);
    CHECK_OK(gosr_world_restore(w2, s));
    CHECK_OK(gosr_world_set_tick(w2, gosr_world_tick(w)));
    gosr_world_commit(w2, false);
    gosr_world_hash(w2, &after);
    CHECK_MEM(before.b, after.b, 32);
    /* re-encoding gives the same bytes */
    gosr_buf b2 = {0};
    encode_world(w2, &b2);
    CHECK_EQ(b2.len, b.len);
    CHECK(b2.len == b.len && memcmp(b.data, b2.data, b.len) == 0);
    /* the restored world keeps working: kv lookups and spawns reuse slot 3 */
    gosr_world_begin(w2);
    gosr_entity e;
    CHECK_OK(gosr_world_spawn(w2, NULL, &e));
    CHECK_EQ(e.id & 0xffffffffu, 3);
    gosr_world_commit(w2, false);
    gosr_world_snap_free(s);
    gosr_buf_free(&b);
    gosr_buf_free(&b2);
    gosr_world_destroy(w2);
    gosr_world_destroy(w);
}

GOSR_TEST(world_snap_every_truncation_is_refused)
{
    gosr_world *w = make_world();
    REQUIRE(w != NULL);
    gosr_buf b = {0};
    encode_world(w, &b);
    for (size_t n = 0; n < b.len; n++) {
        gosr_world_snap *s = NULL;
        gosr_error err = {0};
        int rc = gosr_world_snap_decode(b.data, n, gosr_world_get_config(w), &s,
                                        &err);
        CHECK(rc != GOSR_OK);
        CHECK(s == NULL);
        CHECK(err.reason[0] != 0);
    }
    /* a trailing byte is refused too */
    gosr_buf_append(&b, "x", 1);
    gosr_world_snap *s = NULL;
    gosr_error err = {0};
    CHECK_STATUS(gosr_world_snap_decode(b.data, b.len, gosr_world_get_config(w),
                                        &s, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "snapshot_trailing");
    gosr_buf_free(&b);
    gosr_world_destroy(w);
}

GOSR_TEST(world_snap_random_corruption_is_clean)
{
    gosr_world *w = make_world();
    REQUIRE(w != NULL);
    gosr_buf b = {0};
    encode_world(w, &b);
    uint64_t rng = 42;
    int refused = 0;
    gosr_world_config c = *gosr_world_get_config(w);
    for (int round = 0; round < 3000; round++) {
        uint8_t *p = gosr_malloc(b.len);
        memcpy(p, b.data, b.len);
        int flips = 1 + (int)(gosr_splitmix64(&rng) % 4);
        for (int k = 0; k < flips; k++)
            p[gosr_splitmix64(&rng) % b.len] ^=
                (uint8_t)(1u << (gosr_splitmix64(&rng) % 8));
        gosr_world_snap *s = NULL;
        gosr_error err = {0};
        if (gosr_world_snap_decode(p, b.len, &c, &s, &err) != GOSR_OK) {
            refused++;
            CHECK(err.reason[0] != 0);
        } else { /* accepted: it must restore into a world cleanly */
            gosr_world *w2 = NULL;
            REQUIRE(gosr_world_create(&c, NULL, &w2, NULL) == GOSR_OK);
            gosr_world_begin(w2);
            CHECK_OK(gosr_world_restore(w2, s));
            gosr_entity e;
            gosr_world_spawn(w2, NULL, &e);
            gosr_world_commit(w2, false);
            gosr_world_destroy(w2);
            gosr_world_snap_free(s);
        }
        gosr_free(p);
    }
    CHECK(refused > 100); /* most flips hit a guarded field */
    gosr_buf_free(&b);
    gosr_world_destroy(w);
}

/* Decodes b after `edit` changed one field; expects snapshot_invalid. */
static void expect_invalid(const gosr_buf *b, size_t off, const void *v,
                           size_t n, const char *want)
{
    uint8_t *p = gosr_malloc(b->len);
    memcpy(p, b->data, b->len);
    memcpy(p + off, v, n);
    gosr_world_config c = {.capacity = 64, .kv_capacity = 32};
    gosr_world_snap *s = NULL;
    gosr_error err = {0};
    int rc = gosr_world_snap_decode(p, b->len, &c, &s, &err);
    CHECK(rc != GOSR_OK);
    CHECK_STR(err.reason, want);
    gosr_world_snap_free(s);
    gosr_free(p);
}

GOSR_TEST(world_snap_invariants_are_checked)
{
    gosr_world *w = make_world();
    REQUIRE(w != NULL);
    gosr_buf b = {0};
    encode_world(w, &b);
    const size_t H = 32, E = 128, high = 12;
    const size_t KV = H + high * E; /* first kv slot */
    uint32_t u;
    uint64_t id;
    expect_invalid(&b, 0, "XXXX", 4, "snapshot_bad_magic");
    u = 11; /* count */
    expect_invalid(&b, 8, &u, 4, "snapshot_invalid");
    u = 13; /* free_hint > high */
    expect_invalid(&b, 12, &u, 4, "snapshot_invalid");
    u = 5; /* free_hint above the free slot 3 */
    expect_invalid(&b, 12, &u, 4, "snapshot_invalid");
    u = 0; /* generation 0 below high */
    expect_invalid(&b, H + 5 * E, &u, 4, "snapshot_invalid");
    u = 0x41; /* unknown component bit */
    expect_invalid(&b, H + 5 * E + 4, &u, 4, "snapshot_invalid");
    u = 8; /* inventory count > 7 */
    expect_invalid(&b, H + 2 * E + 68, &u, 4, "snapshot_invalid");
    u = 1; /* stray inventory entry past inv_count */
    expect_invalid(&b, H + 2 * E + 72 + 8 * 5, &u, 4, "snapshot_invalid");
    u = 5; /* duplicate item */
    expect_invalid(&b, H + 2 * E + 72 + 8, &u, 4, "snapshot_invalid");
    u = 1; /* dead slot 3 with a leftover position */
    expect_invalid(&b, H + 3 * E + 8, &u, 4, "snapshot_invalid");
    /* kv slot 1 belongs to entity 0: point it at dead entity 3 */
    id = 3 | (2ull << 32);
    expect_invalid(&b, KV + E, &id, 8, "snapshot_invalid");
    expect_invalid(&b, KV + E + 8 + 4, "x", 1, "snapshot_invalid"); /* pad */
    expect_invalid(&b, KV + E + 40, "", 1, "snapshot_invalid"); /* empty key */
    u = 49;                                                     /* vlen */
    expect_invalid(&b, KV + E + 72, &u, 4, "snapshot_invalid");
    u = 1; /* reserved */
    expect_invalid(&b, KV + E + 76, &u, 4, "snapshot_invalid");
    /* duplicate: kv slot 5 (entity 2, "k2") renamed to "k" like slot 4 */
    expect_invalid(&b, KV + 5 * E + 40, "k\0", 2, "snapshot_invalid");
    gosr_buf_free(&b);
    gosr_world_destroy(w);
}

GOSR_TEST(world_snap_limits)
{
    gosr_world *w = make_world();
    REQUIRE(w != NULL);
    gosr_buf b = {0};
    encode_world(w, &b);
    gosr_world_config small = {.capacity = 8, .kv_capacity = 32};
    gosr_world_snap *s = NULL;
    gosr_error err = {0};
    CHECK_STATUS(gosr_world_snap_decode(b.data, b.len, &small, &s, &err),
                 GOSR_ETOOBIG);
    CHECK_STR(err.reason, "snapshot_invalid");
    small = (gosr_world_config){.capacity = 64, .kv_capacity = 4};
    CHECK_STATUS(gosr_world_snap_decode(b.data, b.len, &small, &s, &err),
                 GOSR_ETOOBIG);
    /* a header claiming 1<<22 slots with few bytes is refused before any
     * allocation of that size */
    uint32_t big = 1u << 22;
    memcpy(b.data + 16, &big, 4);
    gosr_world_config huge = {.capacity = 1u << 22, .kv_capacity = 32};
    CHECK_STATUS(gosr_world_snap_decode(b.data, b.len, &huge, &s, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "snapshot_truncated");
    CHECK(s == NULL);
    /* restore refuses a snapshot bigger than the world */
    gosr_world *tiny = NULL;
    gosr_world_config tc = {.capacity = 4, .kv_capacity = 32};
    REQUIRE(gosr_world_create(&tc, NULL, &tiny, NULL) == GOSR_OK);
    gosr_world_snap *full = NULL;
    REQUIRE(gosr_world_snapshot(w, &full) == GOSR_OK);
    gosr_world_begin(tiny);
    CHECK_STATUS(gosr_world_restore(tiny, full), GOSR_EINVAL);
    gosr_world_commit(tiny, false);
    gosr_world_snap_free(full);
    gosr_world_destroy(tiny);
    gosr_buf_free(&b);
    gosr_world_destroy(w);
}

/* ---- sandbox values -------------------------------------------------------
 */

static gosr_sbv sample_value(void)
{
    gosr_sbv t = {0}, inner = {0}, k, v;
    gosr_sbv_str(&k, "name", 4);
    gosr_sbv_str(&v, "mo\0ver", 6);
    gosr_sbv_table_set(&inner, gosr_sbv_int(1), gosr_sbv_num(2.5));
    gosr_sbv_table_set(&inner, gosr_sbv_int(2), gosr_sbv_bool(false));
    gosr_sbv_table_set(&t, gosr_sbv_int(-7), gosr_sbv_int(INT64_MIN));
    gosr_sbv_table_set(&t, gosr_sbv_num(0.5), gosr_sbv_num(-0.0));
    gosr_sbv_table_set(&t, k, v);
    gosr_sbv_str(&k, "sub", 3);
    gosr_sbv_table_set(&t, k, inner);
    gosr_sbv_str(&k, "ticks", 5);
    gosr_sbv_table_set(&t, k, gosr_sbv_int(123456789));
    gosr_sbv_table_set(&t, gosr_sbv_bool(true), gosr_sbv_num(INFINITY));
    return t;
}

GOSR_TEST(sbv_round_trip)
{
    gosr_sbv t = sample_value(), back = {0};
    gosr_buf b = {0};
    CHECK_OK(gosr_sbv_encode(&t, &b));
    gosr_error err = {0};
    CHECK_OK(gosr_sbv_decode(b.data, b.len, NULL, &back, &err));
    CHECK(gosr_sbv_equal(&t, &back));
    gosr_buf b2 = {0};
    CHECK_OK(gosr_sbv_encode(&back, &b2));
    CHECK(b2.len == b.len && memcmp(b.data, b2.data, b.len) == 0);
    /* scalars and nil on their own */
    gosr_sbv scal[4] = {
        {0}, gosr_sbv_int(5), gosr_sbv_bool(true), gosr_sbv_num(1e300)};
    for (int i = 0; i < 4; i++) {
        gosr_buf s = {0};
        gosr_sbv x = {0};
        CHECK_OK(gosr_sbv_encode(&scal[i], &s));
        CHECK_OK(gosr_sbv_decode(s.data, s.len, NULL, &x, NULL));
        CHECK(gosr_sbv_equal(&scal[i], &x));
        gosr_sbv_free(&x);
        gosr_buf_free(&s);
    }
    gosr_sbv_free(&t);
    gosr_sbv_free(&back);
    gosr_buf_free(&b);
    gosr_buf_free(&b2);
}

GOSR_TEST(sbv_truncation_and_corruption)
{
    gosr_sbv t = sample_value();
    gosr_buf b = {0};
    REQUIRE(gosr_sbv_encode(&t, &b) == GOSR_OK);
    for (size_t n = 0; n < b.len; n++) {
        gosr_sbv x = {0};
        gosr_error err = {0};
        CHECK(gosr_sbv_decode(b.data, n, NULL, &x, &err) != GOSR_OK);
        CHECK(x.type == GOSR_SBV_NIL);
        CHECK(err.reason[0] != 0);
    }
    uint64_t rng = 7;
    int refused = 0;
    for (int round = 0; round < 5000; round++) {
        uint8_t *p = gosr_malloc(b.len);
        memcpy(p, b.data, b.len);
        p[gosr_splitmix64(&rng) % b.len] = (uint8_t)gosr_splitmix64(&rng);
        gosr_sbv x = {0};
        gosr_error err = {0};
        if (gosr_sbv_decode(p, b.len, NULL, &x, &err) != GOSR_OK) {
            refused++;
            CHECK(err.reason[0] != 0);
        } else { /* accepted values re-encode to the same bytes */
            gosr_buf r = {0};
            CHECK_OK(gosr_sbv_encode(&x, &r));
            CHECK(r.len == b.len && memcmp(r.data, p, b.len) == 0);
            gosr_buf_free(&r);
        }
        gosr_sbv_free(&x);
        gosr_free(p);
    }
    CHECK(refused > 500);
    gosr_sbv_free(&t);
    gosr_buf_free(&b);
}

GOSR_TEST(sbv_strictness_and_limits)
{
    gosr_sbv x = {0};
    gosr_error err = {0};
    /* keys out of order: {2=true, 1=true} */
    const uint8_t order[] = {6, 2, 0, 0, 0, 3, 2, 0, 0, 0, 0, 0, 0,
                             0, 2, 3, 1, 0, 0, 0, 0, 0, 0, 0, 2};
    CHECK_STATUS(gosr_sbv_decode(order, sizeof order, NULL, &x, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "sbv_key_order");
    const uint8_t nilval[] = {6, 1, 0, 0, 0, 2, 0};
    CHECK_STATUS(gosr_sbv_decode(nilval, sizeof nilval, NULL, &x, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "sbv_nil_value");
    const uint8_t tabkey[] = {6, 1, 0, 0, 0, 6, 0, 0, 0, 0, 2};
    CHECK_STATUS(gosr_sbv_decode(tabkey, sizeof tabkey, NULL, &x, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "sbv_bad_key");
    const uint8_t tag[] = {9};
    CHECK_STATUS(gosr_sbv_decode(tag, 1, NULL, &x, &err), GOSR_EFORMAT);
    CHECK_STR(err.reason, "sbv_bad_tag");
    const uint8_t trail[] = {2, 2};
    CHECK_STATUS(gosr_sbv_decode(trail, 2, NULL, &x, &err), GOSR_EFORMAT);
    CHECK_STR(err.reason, "sbv_trailing_bytes");
    /* a pair count bigger than the input: refused before allocating */
    const uint8_t many[] = {6, 0xff, 0xff, 0xff, 0x7f, 3};
    CHECK_STATUS(gosr_sbv_decode(many, sizeof many, NULL, &x, &err),
                 GOSR_EFORMAT);
    CHECK_STR(err.reason, "sbv_truncated");
    /* a string longer than the input */
    const uint8_t str[] = {5, 0xff, 0xff, 0xff, 0xff, 'a'};
    CHECK_STATUS(gosr_sbv_decode(str, sizeof str, NULL, &x, &err),
                 GOSR_EFORMAT);
    /* depth: {[1]={[1]={[1]=true}}} under max_depth 2 */
    gosr_sbv a = {0}, bb = {0}, c = {0};
    gosr_sbv_table_set(&c, gosr_sbv_int(1), gosr_sbv_bool(true));
    gosr_sbv_table_set(&bb, gosr_sbv_int(1), c);
    gosr_sbv_table_set(&a, gosr_sbv_int(1), bb);
    gosr_buf enc = {0};
    REQUIRE(gosr_sbv_encode(&a, &enc) == GOSR_OK);
    gosr_sbv_limits lim = {.max_depth = 2};
    CHECK_STATUS(gosr_sbv_decode(enc.data, enc.len, &lim, &x, &err),
                 GOSR_ETOOBIG);
    CHECK_STR(err.reason, "value_too_deep");
    lim = (gosr_sbv_limits){.max_nodes = 4};
    CHECK_STATUS(gosr_sbv_decode(enc.data, enc.len, &lim, &x, &err),
                 GOSR_ETOOBIG);
    CHECK_STR(err.reason, "value_too_big");
    lim = (gosr_sbv_limits){.max_depth = 3};
    CHECK_OK(gosr_sbv_decode(enc.data, enc.len, &lim, &x, &err));
    CHECK(gosr_sbv_equal(&a, &x));
    gosr_sbv_free(&x);
    gosr_buf_free(&enc);
    gosr_sbv s = {0};
    gosr_sbv_str(&s, "0123456789", 10);
    REQUIRE(gosr_sbv_encode(&s, &enc) == GOSR_OK);
    lim = (gosr_sbv_limits){.max_bytes = 9};
    CHECK_STATUS(gosr_sbv_decode(enc.data, enc.len, &lim, &x, &err),
                 GOSR_ETOOBIG);
    /* encode refuses a key no sandbox could hold, leaving out untouched */
    gosr_sbv bad = {.type = GOSR_SBV_TABLE}; /* {[nil] = 1}, built by hand */
    bad.u.t.items = gosr_calloc(1, sizeof(gosr_sbv_pair));
    REQUIRE(bad.u.t.items != NULL);
    bad.u.t.items[0].val = gosr_sbv_int(1);
    bad.u.t.len = 1;
    size_t before = enc.len;
    CHECK_STATUS(gosr_sbv_encode(&bad, &enc), GOSR_EINVAL);
    CHECK_EQ(enc.len, before);
    gosr_sbv_free(&bad);
    gosr_sbv_free(&s);
    gosr_sbv_free(&a);
    gosr_buf_free(&enc);
}
