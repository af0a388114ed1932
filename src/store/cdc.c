/*
 * cdc.c — content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016)
 * with normalized chunking (level 2) over a gear rolling hash. The gear
 * table is generated here, deterministically, from BLAKE3's extendable
 * output of the string "gosr-gear-v1" (so it is nobody's copied table and
 * every build cuts at the same points). Design: docs/store.md
 * ("Chunking").
 */
#include "gosr/store.h"

#include <pthread.h>
#include <string.h>

#define CDC_DEFAULT_AVG (1u << 20)
#define CDC_MIN_AVG 64u          /* smallest average accepted */
#define CDC_MAX_MAX (64u << 20)  /* largest max_size accepted (64 MiB) */
#define CDC_NORMAL_LEVEL 2       /* mask bits added/removed around avg */

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

size_t gosr_cdc_next(const gosr_cdc_params *p, const uint8_t *data,
                     size_t len)
{
    if (len <= p->min_size)
        return len;
    pthread_once(&g_gear_once, gear_init);
    unsigned bits = log2u(p->avg_size);
    uint64_t mask_s = top_mask(bits + CDC_NORMAL_LEVEL);
    uint64_t mask_l = top_mask(bits > CDC_NORMAL_LEVEL ? bits - CDC_NORMAL_LEVEL
                                                       : 1);
    size_t end = len < p->max_size ? len : p->max_size;
    size_t normal = p->avg_size < end ? p->avg_size : end;
    uint64_t h = 0;
    size_t i = p->min_size;
    /* Before the normal point: a harder mask (fewer early cuts). */
    for (; i < normal; i++) {
        h = (h << 1) + g_gear[data[i]];
        if (!(h & mask_s))
            return i + 1;
    }
    /* After it: an easier mask (cuts come sooner than max). */
    for (; i < end; i++) {
        h = (h << 1) + g_gear[data[i]];
        if (!(h & mask_l))
            return i + 1;
    }
    return end;
}
