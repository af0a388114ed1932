/*
 * codec.c — per-chunk codecs: raw, zstd (libzstd) and brotli
 * (libbrotlienc/libbrotlidec). Compression falls back to raw when it does
 * not pay; decompression is bounded by the caller's plaintext length and
 * anything that does not decode to exactly that length is corrupt.
 * Design: docs/store.md ("Codecs").
 *
 * zstd compression and decompression contexts are cached per thread
 * (pthread key with a destructor), because creating a level-3 context for
 * every 64 KiB chunk costs more than compressing it.
 */
#include "gosr/store.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <pthread.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#define CODEC_ZSTD_LEVEL 3
#define CODEC_BROTLI_LEVEL 5
#define CODEC_MAX_PLAIN (1u << 30) /* sanity bound on any plaintext length */

/* ---- names --------------------------------------------------------------- */

const char *gosr_codec_name(gosr_codec c)
{
    switch (c) {
    case GOSR_CODEC_RAW:
        return "raw";
    case GOSR_CODEC_ZSTD:
        return "zstd";
    case GOSR_CODEC_BROTLI:
        return "brotli";
    }
    return "unknown";
}

int gosr_codec_parse(const char *name, gosr_codec *out)
{
    static const gosr_codec all[] = {GOSR_CODEC_RAW, GOSR_CODEC_ZSTD,
                                     GOSR_CODEC_BROTLI};
    if (!name || !out)
        return GOSR_EINVAL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, gosr_codec_name(all[i])) == 0) {
            *out = all[i];
            return GOSR_OK;
        }
    }
    return GOSR_EINVAL;
}

/* ---- per-thread zstd contexts -------------------------------------------- */

/* The contexts one thread reuses; freed by the key destructor at thread
 * exit (and reachable from thread-specific data until then). */
typedef struct zstd_ctx {
    ZSTD_CCtx *cctx; /* compression context, NULL until first use */
    ZSTD_DCtx *dctx; /* decompression context, NULL until first use */
} zstd_ctx;

static pthread_key_t g_zkey;
static pthread_once_t g_zonce = PTHREAD_ONCE_INIT;

static void zstd_ctx_free(void *p)
{
    zstd_ctx *z = p;
    if (!z)
        return;
    ZSTD_freeCCtx(z->cctx);
    ZSTD_freeDCtx(z->dctx);
    gosr_free(z);
}

static void zkey_init(void)
{
    pthread_key_create(&g_zkey, zstd_ctx_free);
}

/* Borrowed per-thread contexts; NULL on out of memory. */
static zstd_ctx *zstd_ctx_get(void)
{
    pthread_once(&g_zonce, zkey_init);
    zstd_ctx *z = pthread_getspecific(g_zkey);
    if (!z) {
        z = gosr_calloc(1, sizeof *z);
        if (!z)
            return NULL;
        if (pthread_setspecific(g_zkey, z) != 0) {
            gosr_free(z);
            return NULL;
        }
    }
    return z;
}

/* ---- compression ------------------------------------------------------------
 */

/* Compresses into out's spare room of at most n-1 bytes; returns the
 * compressed size, 0 when it did not fit (does not pay), or a negative
 * status. */
static long compress_zstd(int level, const uint8_t *in, size_t n, uint8_t *dst)
{
    zstd_ctx *z = zstd_ctx_get();
    if (!z)
        return GOSR_ENOMEM;
    if (!z->cctx && !(z->cctx = ZSTD_createCCtx()))
        return GOSR_ENOMEM;
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
        return GOSR_EINVAL;
    size_t r = ZSTD_compressCCtx(z->cctx, dst, n - 1, in, n,
                                 level ? level : CODEC_ZSTD_LEVEL);
    if (ZSTD_isError(r))
        return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall
                   ? 0
                   : GOSR_EINTERNAL;
    return (long)r;
}

static long compress_brotli(int level, const uint8_t *in, size_t n,
                            uint8_t *dst)
{
    if (level < 0 || level > BROTLI_MAX_QUALITY)
        return GOSR_EINVAL;
    size_t cap = n - 1;
    /* The one-shot encoder returns false both for "too small" and for
     * errors; with valid parameters the only failure is a full buffer. */
    if (!BrotliEncoderCompress(level ? level : CODEC_BROTLI_LEVEL,
                               BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, n,
                               in, &cap, dst))
        return 0;
    return (long)cap;
}

int gosr_codec_compress(gosr_codec c, int level, const uint8_t *in, size_t n,
                        gosr_buf *out, gosr_codec *used)
{
    if (!out || !used || (n && !in) || n > CODEC_MAX_PLAIN)
        return GOSR_EINVAL;
    if (c != GOSR_CODEC_RAW && c != GOSR_CODEC_ZSTD && c != GOSR_CODEC_BROTLI)
        return GOSR_EINVAL;
    int rc = gosr_buf_reserve(out, n);
    if (rc != GOSR_OK)
        return rc;
    long clen = 0; /* 0 = store raw */
    if (n > 1 && c == GOSR_CODEC_ZSTD)
        clen = compress_zstd(level, in, n, out->data + out->len);
    else if (n > 1 && c == GOSR_CODEC_BROTLI)
        clen = compress_brotli(level, in, n, out->data + out->len);
    if (clen < 0)
        return (int)clen;
    if (clen > 0) {
        out->len += (size_t)clen;
        *used = c;
    } else {
        if (n)
            memcpy(out->data + out->len, in, n);
        out->len += n;
        *used = GOSR_CODEC_RAW;
    }
    out->data[out->len] = 0;
    return GOSR_OK;
}

/* ---- decompression
 * ----------------------------------------------------------- */

static int decompress_zstd(const uint8_t *in, size_t n, size_t plain_len,
                           uint8_t *dst)
{
    zstd_ctx *z = zstd_ctx_get();
    if (!z)
        return GOSR_ENOMEM;
    if (!z->dctx && !(z->dctx = ZSTD_createDCtx()))
        return GOSR_ENOMEM;
    /* A declared content size must match before any work is done. */
    unsigned long long fcs = ZSTD_getFrameContentSize(in, n);
    if (fcs == ZSTD_CONTENTSIZE_ERROR ||
        (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != plain_len))
        return GOSR_ECORRUPT;
    /* ZSTD_decompressDCtx consumes every frame in `in`, fails on trailing
     * garbage, and never writes beyond plain_len. */
    size_t r = ZSTD_decompressDCtx(z->dctx, dst, plain_len, in, n);
    if (ZSTD_isError(r) || r != plain_len)
        return GOSR_ECORRUPT;
    return GOSR_OK;
}

static int decompress_brotli(const uint8_t *in, size_t n, size_t plain_len,
                             uint8_t *dst)
{
    BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (!s)
        return GOSR_ENOMEM;
    size_t avail_in = n, avail_out = plain_len;
    const uint8_t *next_in = in;
    uint8_t *next_out = dst;
    BrotliDecoderResult r = BrotliDecoderDecompressStream(
        s, &avail_in, &next_in, &avail_out, &next_out, NULL);
    /* Exactly plain_len bytes, the stream finished, and no input left. */
    bool ok =
        r == BROTLI_DECODER_RESULT_SUCCESS && avail_in == 0 && avail_out == 0;
    BrotliDecoderDestroyInstance(s);
    return ok ? GOSR_OK : GOSR_ECORRUPT;
}

int gosr_codec_decompress(gosr_codec c, const uint8_t *in, size_t n,
                          size_t plain_len, gosr_buf *out)
{
    if (!out || (n && !in))
        return GOSR_EINVAL;
    if (plain_len > CODEC_MAX_PLAIN)
        return GOSR_ETOOBIG;
    int rc = gosr_buf_reserve(out, plain_len);
    if (rc != GOSR_OK)
        return rc;
    uint8_t *dst = out->data + out->len;
    switch (c) {
    case GOSR_CODEC_RAW:
        if (n != plain_len)
            return GOSR_ECORRUPT;
        if (n)
            memcpy(dst, in, n);
        break;
    case GOSR_CODEC_ZSTD:
        rc = decompress_zstd(in, n, plain_len, dst);
        break;
    case GOSR_CODEC_BROTLI:
        rc = decompress_brotli(in, n, plain_len, dst);
        break;
    default:
        return GOSR_EINVAL;
    }
    if (rc != GOSR_OK)
        return rc;
    out->len += plain_len;
    out->data[out->len] = 0;
    return GOSR_OK;
}
