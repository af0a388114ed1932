/*
 * fuzz_store_objects.c — fuzz target for the store's parsers of untrusted
 * bytes: file and tree node decoders, the pack record header, the codec
 * decoders (bounded by a claimed plaintext length) and the chunker's
 * bounds. The first input byte picks the parser; the rest is its input.
 * Invariants (abort on violation): decoded trees hash with
 * gosr_merkle_tree_id, record headers re-encode to the same bytes,
 * decoders return exactly plain_len bytes or an error, cuts stay in
 * bounds. Design: docs/store.md.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

static void fuzz_tree(const uint8_t *p, size_t n)
{
    gosr_tree_entry *e = NULL;
    size_t k = 0;
    if (store__tree_decode(p, n, &e, &k, NULL) != GOSR_OK)
        return;
    gosr_hash id, raw;
    if (gosr_merkle_tree_id(e, k, &id) != GOSR_OK)
        abort(); /* the decoder accepted what the id function rejects */
    gosr_blake3_hash(p, n, &raw);
    if (!gosr_hash_equal(&id, &raw))
        abort(); /* object id must equal the Merkle id */
    store__tree_entries_free(e, k);
}

static void fuzz_file(const uint8_t *p, size_t n)
{
    gosr_chunk_ref *c = NULL;
    size_t k = 0;
    if (store__file_decode(p, n, &c, &k, NULL) != GOSR_OK)
        return;
    gosr_hash id, raw;
    gosr_merkle_file_id(c, k, &id);
    gosr_blake3_hash(p, n, &raw);
    if (!gosr_hash_equal(&id, &raw))
        abort();
    gosr_free(c);
}

static void fuzz_record(const uint8_t *p, size_t n)
{
    uint8_t hdr[STORE_REC_HDR] = {0}, again[STORE_REC_HDR];
    memcpy(hdr, p, n < sizeof hdr ? n : sizeof hdr);
    store_rec r;
    if (store__rec_decode(hdr, &r) != GOSR_OK)
        return;
    store__rec_encode(&r, again);
    if (memcmp(hdr, again, sizeof hdr) != 0)
        abort();
}

static void fuzz_codec(gosr_codec c, const uint8_t *p, size_t n)
{
    if (n < 2)
        return;
    size_t plain = (size_t)p[0] | (size_t)p[1] << 8;
    gosr_buf out = {0};
    int rc = gosr_codec_decompress(c, p + 2, n - 2, plain, &out);
    if (rc == GOSR_OK && out.len != plain)
        abort();
    if (rc != GOSR_OK && rc != GOSR_ECORRUPT && rc != GOSR_ENOMEM)
        abort();
    gosr_buf_free(&out);
}

static void fuzz_cdc(const uint8_t *p, size_t n)
{
    if (n < 3)
        return;
    gosr_cdc_params cp = {.min_size = p[0],
                          .avg_size = 64u << (p[1] % 6),
                          .max_size = (uint32_t)p[2] * 64};
    if (gosr_cdc_params_normalize(&cp) != GOSR_OK)
        return;
    for (size_t off = 3; off < n;) {
        size_t c = gosr_cdc_next(&cp, p + off, n - off);
        if (c == 0 || c > n - off || c > cp.max_size)
            abort();
        off += c;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0:
        fuzz_file(p, n);
        break;
    case 1:
        fuzz_tree(p, n);
        break;
    case 2:
        fuzz_record(p, n);
        break;
    case 3:
        fuzz_codec(GOSR_CODEC_ZSTD, p, n);
        break;
    case 4:
        fuzz_codec(GOSR_CODEC_BROTLI, p, n);
        break;
    default:
        fuzz_cdc(p, n);
        break;
    }
    return 0;
}
