/*
 * fuzz_gmod_bundle.c — libFuzzer target for the .gmod bundle reader. The
 * first input byte picks a layer, the rest is the input:
 *   0: full streaming verification, as is, against the fixed fuzz trust
 *      root (seeds are validly signed bundles, so it reaches the chunks);
 *   1: the same after re-hashing stored chunk bytes and re-signing with the
 *      fixed signer key (gmod__resign), so mutations of the manifest and
 *      chunk records get past the signature to the structural checks,
 *      gmod.json, certificates and the codecs;
 *   2: the signed-manifest (index) decoder and its semantic checks alone;
 *   3: the signature-block decoder alone (certificate decoding included);
 *   4: the header decoder alone.
 * Seeds: fuzz/corpus/fuzz_gmod_bundle/ (written by
 * tests/gmod/test_fuzz_seeds.c). Design: docs/gmod.md.
 */
#include "gmod/gmod_internal.h"

#include <stdlib.h>
#include <string.h>

static gosr_keypair g_root, g_dev;

static void init_keys(void)
{
    static int done;
    if (done)
        return;
    uint8_t seed[32];
    memset(seed, GMOD__FUZZ_ROOT_SEED, 32);
    gosr_keypair_from_seed(&g_root, seed);
    memset(seed, GMOD__FUZZ_DEV_SEED, 32);
    gosr_keypair_from_seed(&g_dev, seed);
    done = 1;
}

static void verify(const uint8_t *p, size_t n)
{
    gosr_gmod_verify_opts o = {
        .trust_pk = g_root.pk, .now = GMOD__FUZZ_NOW, .max_bundle = 1u << 24};
    gosr_gmod_reader *r = NULL;
    gosr_error err;
    int rc = gosr_gmod_reader_open_mem(p, n, &o, &r, &err);
    bool done = false;
    while (rc == GOSR_OK && !done) {
        uint32_t i;
        const uint8_t *d;
        size_t len;
        rc = gosr_gmod_reader_next(r, &done, &i, &d, &len, &err);
        if (rc == GOSR_OK && !done) {
            gosr_gmod_chunk c;
            gosr_gmod_reader_chunk(r, i, &c);
            if (len != c.plain_len)
                abort(); /* a chunk handed out has its declared length */
        }
    }
    if (rc != GOSR_OK && err.reason[0] == '\0')
        abort(); /* every rejection carries a reason */
    gosr_gmod_reader_destroy(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    init_keys();
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    gosr_error err;
    switch (data[0] % 5) {
    case 0:
        verify(p, n);
        break;
    case 1: {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, p, n);
        gmod__resign(copy, n, &g_dev);
        verify(copy, n);
        free(copy);
        break;
    }
    case 2: {
        gmod__index x;
        gmod__index_decode(p, n, &x, &err);
        gmod__index_free(&x);
        break;
    }
    case 3: {
        gmod__sigblock sb;
        gmod__sigblock_decode(p, n, &sb, &err);
        break;
    }
    default: {
        gmod__header h;
        if (n >= GMOD__HEADER_LEN)
            gmod__header_decode(p, GOSR_GMOD_MAX_BUNDLE, &h, &err);
        break;
    }
    }
    return 0;
}
