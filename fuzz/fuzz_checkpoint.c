/*
 * fuzz_checkpoint.c — fuzz target for the node checkpoint decoder: the
 * input is a checkpoint file. It is decoded as it is (almost every mutation
 * stops at the BLAKE3 check) and again with its trailing checksum
 * recomputed, so mutations reach the header, snapshot and module records.
 * The world configuration the decoder is held to is the input's own. A
 * decoded checkpoint must re-encode to exactly the input bytes (the format
 * is canonical). Design: docs/kernel.md ("Checkpoints");
 * docs/testing.md ("Fuzzing").
 */
#include "kernel/checkpoint.h"

#include "gosr/crypto.h"

#include <stdlib.h>
#include <string.h>

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void decode_one(const uint8_t *p, size_t n)
{
    gosr_world_config want = {0};
    if (n >= CKPT_HEADER) {
        want.capacity = (uint32_t)le(p + 32, 4);
        want.kv_capacity = (uint32_t)le(p + 36, 4);
        want.seed = le(p + 40, 8);
        want.rate_hz = (uint32_t)le(p + 48, 4);
    }
    ckpt_data *c = NULL;
    gosr_error err = {0};
    if (kernel__ckpt_decode(p, n, &want, &c, &err) != GOSR_OK) {
        if (!err.reason[0])
            abort(); /* every refusal says why */
        return;
    }
    gosr_buf b = {0};
    if (kernel__ckpt_encode(c, &b, NULL) != GOSR_OK || b.len != n ||
        memcmp(b.data, p, n) != 0)
        abort();
    gosr_buf_free(&b);
    kernel__ckpt_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_one(data, size);
    if (size < 32 || size > (64u << 20))
        return 0;
    uint8_t *p = malloc(size);
    if (!p)
        return 0;
    memcpy(p, data, size);
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, p, size - 32);
    gosr_blake3_finalize(&h, p + size - 32, 32);
    decode_one(p, size);
    free(p);
    return 0;
}
