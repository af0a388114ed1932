/*
 * cdc.c — content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016)
 * over a gear rolling hash, with cut-point skipping below min_size and
 * normalized chunking: a mask of log2(avg) bits before the avg point and
 * one bit fewer after it. (Classic level 2 NC cut chunks ~25% above avg
 * and resynchronised worse after edits; this choice puts the mean at avg
 * — measured in bench/bench_store.c, reasoning in docs/store.md.) The gear
 * table is generated here, deterministically, from BLAKE3's extendable
 * output of the string "gosr-gear-v1" (so it is nobody's copied table and
 * every build cuts at the same points). Design: docs/store.md
 * ("Chunking").
 */
#include "gosr/store.h"

#include <pthread.h>
#include <string.h>

#define CDC_DEFAULT_AVG (1u << 20)
#define CDC_MIN_AVG 64u         /* smallest average accepted */
#define CDC_MAX_MAX (64u << 20) /* largest max_size accepted (64 MiB) */
#define CDC_BITS_BEFORE 0       /* mask bits added to log2(avg) before avg */
#define CDC_BITS_AFTER 1        /* mask bits removed from log2(avg) after it */

/* The gear table: 256 pseudo-random 64-bit words, filled once. */
static uint64_t g_gear[256];
static pthread_once_t g_gear_once = PTHREAD_ONCE_INIT;

/* Fills g_gear from the first 2048 bytes of BLAKE3-XOF("gosr-gear-v1"),
 * little-endian words. */
static void gear_init(void)
{
    uint8_t raw[256 * 8];
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, "gosr-gear-v1", 12);
    gosr_blake3_finalize(&h, raw, sizeof raw);
    for (int i = 0; i < 256; i++) {
        uint64_t w = 0;
        for (int j = 7; j >= 0; j--)
            w = (w << 8) | raw[i * 8 + j];
        g_gear[i] = w;
    }
}

static bool is_pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

int gosr_cdc_params_normalize(gosr_cdc_params *p)
{
    if (!p)
        return GOSR_EINVAL;
    if (p->avg_size == 0)
        p->avg_size = CDC_DEFAULT_AVG;
    if (!is_pow2(p->avg_size) || p->avg_size < CDC_MIN_AVG ||
        p->avg_size > CDC_MAX_MAX)
        return GOSR_EINVAL;
    if (p->min_size == 0)
        p->min_size = p->avg_size / 4;
    if (p->max_size == 0) {
        uint64_t m = (uint64_t)p->avg_size * 4;
        p->max_size = m > CDC_MAX_MAX ? CDC_MAX_MAX : (uint32_t)m;
    }
    if (p->min_size > p->avg_size || p->avg_size > p->max_size ||
        p->max_size > CDC_MAX_MAX)
        return GOSR_EINVAL;
    pthread_once(&g_gear_once, gear_init);
    return GOSR_OK;
}

/* A mask of the top `bits` bits of a 64-bit word. The gear hash shifts
 * left, so its top bits depend on the most recent 64 bytes. */
static uint64_t top_mask(unsigned bits)
{
    return bits == 0 ? 0 : ~(uint64_t)0 << (64 - bits);
}

static unsigned log2u(uint32_t v)
{
    unsigned r = 0;
    while (v >>= 1)
        r++;
    return r;
}

size_t gosr_cdc_next(const gosr_cdc_params *p, const uint8_t *data, size_t len)
{
    if (len <= p->min_size)
        return len;
    pthread_once(&g_gear_once, gear_init);
    unsigned bits = log2u(p->avg_size);
    uint64_t mask_s = top_mask(bits + CDC_BITS_BEFORE);
    uint64_t mask_l = top_mask(bits - CDC_BITS_AFTER);
    size_t end = len < p->max_size ? len : p->max_size;
    size_t normal = p->avg_size < end ? p->avg_size : end;
    uint64_t h = 0;
    size_t i = p->min_size;
    /* Before the normal point: the full mask (cut probability 1/avg). */
    for (; i < normal; i++) {
        h = (h << 1) + g_gear[data[i]];
        if (!(h & mask_s))
            return i + 1;
    }
    /* After it: one bit fewer (2/avg), so cuts come well before max. */
    for (; i < end; i++) {
        h = (h << 1) + g_gear[data[i]];
        if (!(h & mask_l))
            return i + 1;
    }
    return end;
}
