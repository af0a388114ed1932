/*
 * format.c — the bundle's binary pieces: fixed header, signed bundle
 * manifest ("index") and signature block — canonical encoders, strict
 * bounded decoders, the semantic checks of the index (safe, sorted,
 * non-conflicting paths; canonical chunk table; declared sizes; file ids and
 * tree root), and the signing digest.
 * Design: docs/gmod.md (byte tables, reason codes).
 */
#include "gmod/gmod_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- little-endian helpers ----------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

static int buf_u32(gosr_buf *b, uint32_t v)
{
    uint8_t t[4];
    put32(t, v);
    return gosr_buf_append(b, t, 4);
}

/* ---- header -------------------------------------------------------------- */

void gmod__header_encode(const gmod__header *h, uint8_t out[GMOD__HEADER_LEN])
{
    memset(out, 0, GMOD__HEADER_LEN);
    memcpy(out, GMOD__MAGIC, 8);
    put16(out + 8, GMOD__VERSION);
    put16(out + 10, 0);
    put32(out + 12, GMOD__HEADER_LEN);
    put32(out + 16, h->index_len);
    put32(out + 20, h->sig_len);
    put32(out + 24, h->nchunks);
    put32(out + 28, h->nfiles);
    put64(out + 32, h->chunk_bytes);
    put64(out + 40, h->total);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int gmod__header_decode(const uint8_t in[GMOD__HEADER_LEN], uint64_t max_bundle,
                        gmod__header *h, gosr_error *err)
{
    if (memcmp(in, GMOD__MAGIC, 8) != 0)
        return gosr_error_set(err, GOSR_EFORMAT, "bundle_bad_magic",
                              "not a .gmod bundle (bad magic)");
    if (get16(in + 8) != GMOD__VERSION)
        return gosr_error_set(err, GOSR_EUNSUPPORTED, "bundle_bad_version",
                              "bundle format version %u is not supported",
                              get16(in + 8));
    if (get16(in + 10) != 0 || get32(in + 12) != GMOD__HEADER_LEN ||
        !all_zero(in + 48, 16))
        return gosr_error_set(err, GOSR_EFORMAT, "bundle_bad_header",
                              "unknown flags, header length or reserved "
                              "bytes in the header");
    *h = (gmod__header){get32(in + 16), get32(in + 20), get32(in + 24),
                        get32(in + 28), get64(in + 32), get64(in + 40)};
    if (h->index_len > GOSR_GMOD_MAX_INDEX ||
        h->sig_len > GOSR_GMOD_MAX_SIGBLOCK ||
        h->nchunks > GOSR_GMOD_MAX_CHUNKS || h->nfiles > GOSR_GMOD_MAX_FILES ||
        h->total > max_bundle || h->chunk_bytes > max_bundle)
        return gosr_error_set(err, GOSR_ETOOBIG, "bundle_size_limit",
                              "declared sizes exceed the reader's bounds "
                              "(manifest %u, signature block %u, %u chunks, "
                              "%u files, total %llu)",
                              h->index_len, h->sig_len, h->nchunks, h->nfiles,
                              (unsigned long long)h->total);
    if (h->total !=
        GMOD__HEADER_LEN + (uint64_t)h->index_len + h->sig_len + h->chunk_bytes)
        return gosr_error_set(err, GOSR_EFORMAT, "size_mismatch",
                              "header total %llu does not add up",
                              (unsigned long long)h->total);
    return GOSR_OK;
}

/* ---- signing digest ------------------------------------------------------ */

void gmod__sig_message(const uint8_t header[GMOD__HEADER_LEN],
                       const uint8_t *index, size_t index_len, uint8_t msg[48])
{
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, header, GMOD__HEADER_LEN);
    gosr_blake3_update(&h, index, index_len);
    memcpy(msg, GMOD__SIG_DOMAIN, 16);
    gosr_blake3_finalize(&h, msg + 16, 32);
}

/* ---- index encoding ------------------------------------------------------ */

static int encode_file(const gmod__file *f, gosr_buf *out)
{
    size_t plen = strlen(f->path);
    uint8_t t[8];
    if (plen == 0 || plen > 4096)
        return GOSR_EINVAL;
    put16(t, (uint16_t)plen);
    int rc = gosr_buf_append(out, t, 2);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, f->path, plen);
    if (rc == GOSR_OK)
        rc = buf_u32(out, f->mode);
    put64(t, f->size);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, t, 8);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, f->file_id.b, 32);
    if (rc == GOSR_OK)
        rc = buf_u32(out, f->nchunks);
    for (uint32_t i = 0; rc == GOSR_OK && i < f->nchunks; i++)
        rc = buf_u32(out, f->chunks[i]);
    return rc;
}

int gmod__index_encode(const gmod__index *x, gosr_buf *out)
{
    int rc = gosr_buf_append(out, GMOD__INDEX_MAGIC, 4);
    if (rc == GOSR_OK)
        rc = buf_u32(out, GMOD__VERSION);
    if (rc == GOSR_OK)
        rc = buf_u32(out, x->json_len);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, x->json, x->json_len);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, x->root.b, 32);
    if (rc == GOSR_OK)
        rc = buf_u32(out, x->nchunks);
    for (uint32_t i = 0; rc == GOSR_OK && i < x->nchunks; i++) {
        uint8_t e[GMOD__CHUNK_ENTRY_LEN] = {0};
        memcpy(e, x->chunks[i].id.b, 32);
        memcpy(e + 32, x->chunks[i].stored_id.b, 32);
        put32(e + 64, x->chunks[i].plain_len);
        put32(e + 68, x->chunks[i].stored_len);
        e[72] = (uint8_t)x->chunks[i].codec;
        rc = gosr_buf_append(out, e, sizeof e);
    }
    if (rc == GOSR_OK)
        rc = buf_u32(out, x->nfiles);
    for (uint32_t i = 0; rc == GOSR_OK && i < x->nfiles; i++)
        rc = encode_file(&x->files[i], out);
    return rc;
}

/* ---- index decoding ------------------------------------------------------ */

/* A bounded cursor over the index bytes. */
typedef struct cursor {
    const uint8_t *p; /* bytes */
    size_t n;         /* length */
    size_t off;       /* next byte */
} cursor;

static bool take(cursor *c, size_t k, const uint8_t **out)
{
    if (c->n - c->off < k)
        return false;
    *out = c->p + c->off;
    c->off += k;
    return true;
}

static bool take32(cursor *c, uint32_t *v)
{
    const uint8_t *q = NULL;
    if (!take(c, 4, &q))
        return false;
    *v = get32(q);
    return true;
}

static int malformed(gosr_error *err, const char *what)
{
    return gosr_error_set(err, GOSR_EFORMAT, "bundle_manifest_malformed",
                          "bundle manifest: %s", what);
}

static int decode_chunks(cursor *c, gmod__index *x, gosr_error *err)
{
    const uint8_t *q = NULL;
    if (!take32(c, &x->nchunks))
        return malformed(err, "truncated chunk count");
    if (x->nchunks > GOSR_GMOD_MAX_CHUNKS ||
        (uint64_t)x->nchunks * GMOD__CHUNK_ENTRY_LEN > c->n - c->off)
        return malformed(err, "chunk count exceeds the bytes present");
    x->chunks = gosr_calloc(x->nchunks + 1, sizeof *x->chunks);
    if (!x->chunks)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "chunks");
    for (uint32_t i = 0; i < x->nchunks; i++) {
        if (!take(c, GMOD__CHUNK_ENTRY_LEN, &q))
            return malformed(err, "truncated chunk entry");
        gosr_gmod_chunk *k = &x->chunks[i];
        memcpy(k->id.b, q, 32);
        memcpy(k->stored_id.b, q + 32, 32);
        k->plain_len = get32(q + 64);
        k->stored_len = get32(q + 68);
        k->codec = (gosr_codec)q[72];
        if (q[72] > GOSR_CODEC_BROTLI || !all_zero(q + 73, 3))
            return malformed(err, "unknown codec or nonzero padding");
    }
    return GOSR_OK;
}

static int decode_file(cursor *c, gmod__file *f, gosr_error *err)
{
    const uint8_t *q = NULL;
    if (!take(c, 2, &q))
        return malformed(err, "truncated file entry");
    uint16_t plen = get16(q);
    if (!take(c, plen, &q))
        return malformed(err, "truncated path");
    if (!gosr_path_is_safe((const char *)q, plen))
        return gosr_error_set(err, GOSR_EFORMAT, "path_unsafe",
                              "unsafe path '%.*s' (absolute, '..', empty "
                              "segment, backslash or NUL)",
                              (int)(plen > 200 ? 200 : plen), q);
    if (!(f->path = gosr_strndup((const char *)q, plen)))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "path");
    if (!take32(c, &f->mode) || !take(c, 8, &q))
        return malformed(err, "truncated file entry");
    f->size = get64(q);
    if (!take(c, 32, &q) || !take32(c, &f->nchunks))
        return malformed(err, "truncated file entry");
    memcpy(f->file_id.b, q, 32);
    if ((uint64_t)f->nchunks * 4 > c->n - c->off)
        return malformed(err, "file chunk count exceeds the bytes present");
    if (!(f->chunks = gosr_calloc(f->nchunks + 1, 4)))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "chunks");
    for (uint32_t i = 0; i < f->nchunks; i++)
        take32(c, &f->chunks[i]);
    return GOSR_OK;
}

static int decode_files(cursor *c, gmod__index *x, gosr_error *err)
{
    if (!take32(c, &x->nfiles))
        return malformed(err, "truncated file count");
    /* the smallest file entry is 51 bytes (1-byte path, no chunks) */
    if (x->nfiles > GOSR_GMOD_MAX_FILES ||
        (uint64_t)x->nfiles * 51 > c->n - c->off)
        return malformed(err, "file count exceeds the bytes present");
    x->files = gosr_calloc(x->nfiles + 1, sizeof *x->files);
    if (!x->files)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "files");
    for (uint32_t i = 0; i < x->nfiles; i++) {
        int rc = decode_file(c, &x->files[i], err);
        if (rc != GOSR_OK)
            return rc;
    }
    return GOSR_OK;
}

int gmod__index_decode(const uint8_t *p, size_t n, gmod__index *x,
                       gosr_error *err)
{
    cursor c = {p, n, 0};
    const uint8_t *q = NULL;
    uint32_t ver;
    memset(x, 0, sizeof *x);
    if (!take(&c, 4, &q) || memcmp(q, GMOD__INDEX_MAGIC, 4) != 0 ||
        !take32(&c, &ver) || ver != GMOD__VERSION)
        return malformed(err, "bad magic or version");
    if (!take32(&c, &x->json_len) || x->json_len > GOSR_GMOD_MANIFEST_MAX ||
        !take(&c, x->json_len, &q))
        return malformed(err, "gmod.json length out of bounds");
    if (!(x->json = gosr_malloc(x->json_len + 1)))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "json");
    memcpy(x->json, q, x->json_len);
    x->json[x->json_len] = 0;
    if (!take(&c, 32, &q))
        return malformed(err, "truncated tree root");
    memcpy(x->root.b, q, 32);
    int rc = decode_chunks(&c, x, err);
    if (rc == GOSR_OK)
        rc = decode_files(&c, x, err);
    if (rc == GOSR_OK && c.off != n)
        rc = malformed(err, "trailing bytes after the file list");
    if (rc == GOSR_OK)
        rc = gmod__index_check(x, err);
    return rc;
}

void gmod__index_free(gmod__index *x)
{
    if (!x)
        return;
    for (uint32_t i = 0; x->files && i < x->nfiles; i++) {
        gosr_free(x->files[i].path);
        gosr_free(x->files[i].chunks);
    }
    gosr_free(x->files);
    gosr_free(x->chunks);
    gosr_free(x->json);
    memset(x, 0, sizeof *x);
}

/* ---- index semantics ----------------------------------------------------- */

static int cmp_path_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Duplicates first (so they get their own reason whatever the order), then
 * byte order, then file/directory conflicts ("a" and "a/b"). */
static int check_paths(const gmod__index *x, gosr_error *err)
{
    int rc = GOSR_OK;
    char **sorted = gosr_calloc(x->nfiles + 1, sizeof(char *));
    if (!sorted)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "paths");
    for (uint32_t i = 0; i < x->nfiles; i++)
        sorted[i] = x->files[i].path;
    qsort(sorted, x->nfiles, sizeof(char *), cmp_path_ptr);
    for (uint32_t i = 1; rc == GOSR_OK && i < x->nfiles; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            rc = gosr_error_set(err, GOSR_EFORMAT, "path_duplicate",
                                "path '%.200s' is listed twice", sorted[i]);
    for (uint32_t i = 1; rc == GOSR_OK && i < x->nfiles; i++)
        if (strcmp(x->files[i - 1].path, x->files[i].path) > 0)
            rc = malformed(err, "files are not sorted by path");
    char prefix[4097];
    for (uint32_t i = 0; rc == GOSR_OK && i < x->nfiles; i++) {
        const char *p = x->files[i].path, *key = prefix;
        for (const char *s = strchr(p, '/'); rc == GOSR_OK && s;
             s = strchr(s + 1, '/')) {
            size_t n = (size_t)(s - p); /* look the directory up as a file */
            memcpy(prefix, p, n);
            prefix[n] = '\0';
            if (bsearch(&key, sorted, x->nfiles, sizeof(char *), cmp_path_ptr))
                rc = gosr_error_set(err, GOSR_EFORMAT, "path_conflict",
                                    "'%.200s' is both a file and a "
                                    "directory",
                                    prefix);
        }
    }
    gosr_free(sorted);
    return rc;
}

static int check_chunk_table(const gmod__index *x, gosr_error *err)
{
    for (uint32_t i = 0; i < x->nchunks; i++) {
        const gosr_gmod_chunk *k = &x->chunks[i];
        uint64_t bound = (uint64_t)k->plain_len + k->plain_len / 8 + 1024;
        if (k->plain_len == 0 || k->plain_len > GOSR_GMOD_MAX_CHUNK ||
            k->stored_len == 0 || k->stored_len > bound ||
            (k->codec == GOSR_CODEC_RAW &&
             (k->stored_len != k->plain_len ||
              !gosr_hash_equal(&k->id, &k->stored_id))))
            return malformed(err, "chunk lengths out of bounds");
    }
    gosr_hash *ids = gosr_calloc(x->nchunks + 1, sizeof *ids);
    if (!ids)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "ids");
    for (uint32_t i = 0; i < x->nchunks; i++)
        ids[i] = x->chunks[i].id;
    qsort(ids, x->nchunks, sizeof *ids, cmp_hash);
    int rc = GOSR_OK;
    for (uint32_t i = 1; rc == GOSR_OK && i < x->nchunks; i++)
        if (memcmp(&ids[i - 1], &ids[i], 32) == 0)
            rc = malformed(err, "a chunk is listed twice");
    gosr_free(ids);
    return rc;
}

/* Each file: mode, references in canonical first-use order, size = sum of
 * its chunks, file id = Merkle id of its chunks. */
static int check_file(const gmod__index *x, const gmod__file *f,
                      uint32_t *next_new, gosr_error *err)
{
    if (f->mode != 0644 && f->mode != 0755)
        return malformed(err, "file mode is not 0644 or 0755");
    uint64_t sum = 0;
    gosr_chunk_ref *refs = gosr_calloc(f->nchunks + 1, sizeof *refs);
    if (!refs)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "refs");
    int rc = GOSR_OK;
    for (uint32_t j = 0; rc == GOSR_OK && j < f->nchunks; j++) {
        uint32_t c = f->chunks[j];
        if (c > *next_new || c >= x->nchunks)
            rc = malformed(err, "chunk reference out of canonical order");
        else if (c == *next_new)
            (*next_new)++;
        if (rc == GOSR_OK) {
            refs[j] = (gosr_chunk_ref){x->chunks[c].id, x->chunks[c].plain_len};
            sum += x->chunks[c].plain_len;
        }
    }
    gosr_hash id;
    if (rc == GOSR_OK && sum != f->size)
        rc = gosr_error_set(err, GOSR_EFORMAT, "size_mismatch",
                            "'%.200s' declares %llu bytes, its chunks hold "
                            "%llu",
                            f->path, (unsigned long long)f->size,
                            (unsigned long long)sum);
    if (rc == GOSR_OK) {
        gosr_merkle_file_id(refs, f->nchunks, &id);
        if (!gosr_hash_equal(&id, &f->file_id))
            rc = gosr_error_set(err, GOSR_EFORMAT, "file_id_mismatch",
                                "'%.200s': file id does not match its "
                                "chunks",
                                f->path);
    }
    gosr_free(refs);
    return rc;
}

static int check_root(const gmod__index *x, gosr_error *err)
{
    gosr_tree_entry *e = gosr_calloc(x->nfiles + 1, sizeof *e);
    if (!e)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "entries");
    for (uint32_t i = 0; i < x->nfiles; i++)
        e[i] = (gosr_tree_entry){x->files[i].path, x->files[i].mode,
                                 x->files[i].size, x->files[i].file_id};
    gosr_hash root;
    int rc = gosr_merkle_tree_id(e, x->nfiles, &root);
    gosr_free(e);
    if (rc != GOSR_OK || !gosr_hash_equal(&root, &x->root))
        return gosr_error_set(err, GOSR_EFORMAT, "tree_root_mismatch",
                              "tree root does not match the file list");
    return GOSR_OK;
}

int gmod__index_check(const gmod__index *x, gosr_error *err)
{
    int rc = check_paths(x, err);
    if (rc == GOSR_OK)
        rc = check_chunk_table(x, err);
    uint32_t next_new = 0;
    for (uint32_t i = 0; rc == GOSR_OK && i < x->nfiles; i++)
        rc = check_file(x, &x->files[i], &next_new, err);
    if (rc == GOSR_OK && next_new != x->nchunks)
        rc = malformed(err, "chunk table lists unreferenced chunks");
    if (rc == GOSR_OK)
        rc = check_root(x, err);
    return rc;
}

/* ---- signature block ----------------------------------------------------- */

int gmod__sigblock_encode(const gmod__sigblock *s, gosr_buf *out)
{
    uint8_t t[8] = {0};
    int rc = gosr_buf_append(out, GMOD__SIG_MAGIC, 4);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, s->signer_pk, 32);
    t[0] = (uint8_t)s->nchain;
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, t, 4);
    for (uint32_t i = 0; rc == GOSR_OK && i < s->nchain; i++) {
        size_t at = out->len;
        rc = buf_u32(out, 0);
        if (rc == GOSR_OK)
            rc = gosr_cert_encode(&s->chain[i], out);
        if (rc == GOSR_OK)
            put32(out->data + at, (uint32_t)(out->len - at - 4));
    }
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, s->sig, GOSR_SIGN_LEN);
    return rc;
}

static int sig_malformed(gosr_error *err, const char *what)
{
    return gosr_error_set(err, GOSR_EFORMAT, "sigblock_malformed",
                          "signature block: %s", what);
}

int gmod__sigblock_decode(const uint8_t *p, size_t n, gmod__sigblock *s,
                          gosr_error *err)
{
    cursor c = {p, n, 0};
    const uint8_t *q = NULL;
    memset(s, 0, sizeof *s);
    if (!take(&c, 4, &q) || memcmp(q, GMOD__SIG_MAGIC, 4) != 0)
        return sig_malformed(err, "bad magic");
    if (!take(&c, 32, &q))
        return sig_malformed(err, "truncated");
    memcpy(s->signer_pk, q, 32);
    if (!take(&c, 4, &q) || q[0] < 1 || q[0] > GOSR_GMOD_MAX_CHAIN ||
        !all_zero(q + 1, 3))
        return sig_malformed(err, "certificate count out of bounds");
    s->nchain = q[0];
    for (uint32_t i = 0; i < s->nchain; i++) {
        uint32_t len;
        if (!take32(&c, &len) || len > GMOD__MAX_CERT_LEN || !take(&c, len, &q))
            return sig_malformed(err, "certificate length out of bounds");
        int rc = gosr_cert_decode(q, len, &s->chain[i], err);
        if (rc != GOSR_OK)
            return gosr_error_wrap(err, rc, "sigblock_malformed",
                                   "certificate %u does not decode", i);
    }
    if (!take(&c, GOSR_SIGN_LEN, &q) || c.off != n)
        return sig_malformed(err, "signature missing or trailing bytes");
    memcpy(s->sig, q, GOSR_SIGN_LEN);
    return GOSR_OK;
}
