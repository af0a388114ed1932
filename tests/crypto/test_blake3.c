/*
 * test_blake3.c — BLAKE3 against the official vectors in
 * ../shared/vectors/blake3/test_vectors.json: all three modes, full
 * extended output length, on every path the CPU supports.
 */
#include "harness.h"
#include "gosr/crypto.h"

#include <jansson.h>
#include <stdlib.h>

#define VECTORS GOSR_SHARED_DIR "/vectors/blake3/test_vectors.json"

static json_t *load_vectors(void)
{
    json_error_t je;
    json_t *v = json_load_file(VECTORS, 0, &je);
    if (!v)
        gosr_test_fail(__FILE__, __LINE__, "cannot load %s: %s", VECTORS,
                       je.text);
    return v;
}

static void fill_input(uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(i % 251);
}

/* Checks one mode's expected hex against the hasher, at full length and at
 * the default 32 bytes, feeding input in one call and in odd pieces. */
static void check_mode(const gosr_blake3 *init, const uint8_t *in, size_t n,
                       const char *want_hex, const char *what)
{
    size_t out_len = strlen(want_hex) / 2;
    uint8_t *want = malloc(out_len), *got = malloc(out_len);
    REQUIRE(gosr_hex_decode(want_hex, want, out_len) == GOSR_OK);
    gosr_blake3 h = *init;
    gosr_blake3_update(&h, in, n);
    gosr_blake3_finalize(&h, got, out_len);
    if (memcmp(got, want, out_len) != 0)
        gosr_test_fail(__FILE__, __LINE__, "%s len %zu path %s", what, n,
                       gosr_blake3_path_name(gosr_blake3_get_path()));
    gosr_blake3 p = *init;
    for (size_t off = 0; off < n;) {
        size_t step = 1 + (off * 7919) % 1543;
        step = step < n - off ? step : n - off;
        gosr_blake3_update(&p, in + off, step);
        off += step;
    }
    uint8_t short_out[32];
    gosr_blake3_finalize(&p, short_out, 32);
    if (memcmp(short_out, want, 32) != 0)
        gosr_test_fail(__FILE__, __LINE__, "%s (pieces) len %zu", what, n);
    free(want);
    free(got);
}

static void run_vectors_on_current_path(json_t *v)
{
    const char *key = json_string_value(json_object_get(v, "key"));
    const char *ctx = json_string_value(json_object_get(v, "context_string"));
    json_t *cases = json_object_get(v, "cases"), *c;
    size_t i;
    REQUIRE(key && ctx && json_array_size(cases) > 30);
    json_array_foreach(cases, i, c) {
        size_t n = (size_t)json_integer_value(json_object_get(c, "input_len"));
        uint8_t *in = malloc(n ? n : 1);
        fill_input(in, n);
        gosr_blake3 h;
        gosr_blake3_init(&h);
        check_mode(&h, in, n, json_string_value(json_object_get(c, "hash")),
                   "hash");
        gosr_blake3_init_keyed(&h, (const uint8_t *)key);
        check_mode(&h, in, n,
                   json_string_value(json_object_get(c, "keyed_hash")),
                   "keyed_hash");
        gosr_blake3_init_derive_key(&h, ctx);
        check_mode(&h, in, n,
                   json_string_value(json_object_get(c, "derive_key")),
                   "derive_key");
        free(in);
    }
}

GOSR_TEST(official_vectors_every_supported_path)
{
    json_t *v = load_vectors();
    REQUIRE(v);
    int paths = 0;
    for (int p = GOSR_BLAKE3_PORTABLE; p <= GOSR_BLAKE3_AVX512; p++) {
        if (!gosr_blake3_path_supported((gosr_blake3_path)p))
            continue;
        CHECK_OK(gosr_blake3_set_path((gosr_blake3_path)p));
        CHECK_EQ(gosr_blake3_get_path(), p);
        run_vectors_on_current_path(v);
        printf("  path %s: all vectors pass\n",
               gosr_blake3_path_name((gosr_blake3_path)p));
        paths++;
    }
    CHECK_OK(gosr_blake3_set_path(GOSR_BLAKE3_AUTO));
    CHECK(paths >= 1);
    json_decref(v);
}

GOSR_TEST(finalize_seek_matches_long_output)
{
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, "abc", 3);
    uint8_t full[300], part[100];
    gosr_blake3_finalize(&h, full, sizeof full);
    gosr_blake3_finalize_seek(&h, 137, part, sizeof part);
    CHECK_MEM(full + 137, part, sizeof part);
}
