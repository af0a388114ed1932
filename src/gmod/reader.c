/*
 * reader.c — the streaming bundle reader: header, signed manifest and
 * signature block are read and checked first (bounds before allocation,
 * then signature, certificate chain, manifest structure, gmod.json, kind,
 * expiry), then chunk records are pulled one at a time, decoded with the
 * store codec bounded by the declared plaintext length and hash-checked
 * before being handed out. Also whole-file verify and unpack (extract into
 * a staging directory, rename at the end).
 * Design: docs/gmod.md ("Verification order", "Reason codes").
 */
#include "gmod/gmod_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct gosr_gmod_reader {
    gosr_gmod_read_fn read;  /* byte source */
    void *ud;                /* its state */
    gosr_gmod_verify_opts o; /* options (copied; revoked borrowed) */
    gmod__header h;          /* decoded header */
    gmod__index x;           /* decoded signed manifest */
    gmod__sigblock sb;       /* decoded signature block */
    gosr_gmod_manifest *m;   /* parsed gmod.json */
    uint32_t next;           /* next chunk record to read */
    bool done;               /* end reached and checked */
    gosr_buf stored;         /* current record's stored bytes */
    gosr_buf plain;          /* current record's plaintext */
    int fd;                  /* source fd for open_fd (borrowed), else -1 */
    const uint8_t *mem;      /* source bytes for open_mem (borrowed) */
    size_t mem_n, mem_at;    /* their length and read position */
};

/* ---- reading --------------------------------------------------------------
 */

static int read_exact(gosr_gmod_reader *r, void *p, size_t n, const char *what,
                      gosr_error *err)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = r->read(r->ud, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return gosr_error_set(err, GOSR_EIO, "bundle_io",
                                  "reading the %s: %s", what, strerror(errno));
        if (k == 0)
            return gosr_error_set(err, GOSR_EFORMAT, "bundle_truncated",
                                  "the bundle ends inside the %s", what);
        b += k;
        n -= (size_t)k;
    }
    return GOSR_OK;
}

static ssize_t fd_read(void *ud, void *buf, size_t n)
{
    return read(*(int *)ud, buf, n);
}

/* ---- trust ----------------------------------------------------------------
 */

static int check_signature(gosr_gmod_reader *r, const uint8_t *head,
                           const uint8_t *index, gosr_error *err)
{
    uint8_t msg[48];
    gmod__sig_message(head, index, r->h.index_len, msg);
    if (!gosr_sign_verify(r->sb.signer_pk, msg, sizeof msg, r->sb.sig))
        return gosr_error_set(err, GOSR_ESIGNATURE, "signature_invalid",
                              "the bundle signature does not verify");
    return GOSR_OK;
}

/* The chain runs signer cert -> ... -> a cert issued by the trust root.
 * Every link must allow the bundle's kind. */
static int check_chain(gosr_gmod_reader *r, uint32_t kind, int64_t now,
                       gosr_error *err)
{
    const gmod__sigblock *s = &r->sb;
    if (memcmp(s->chain[0].subject_pk, s->signer_pk, 32) != 0)
        return gosr_error_set(err, GOSR_ECERT, "signer_cert_mismatch",
                              "the first certificate is not for the signing "
                              "key");
    for (uint32_t i = 0; i < s->nchain; i++) {
        const uint8_t *issuer =
            i + 1 < s->nchain ? s->chain[i + 1].subject_pk : r->o.trust_pk;
        int rc = gosr_cert_verify(&s->chain[i], issuer, now, r->o.revoked, kind,
                                  err);
        if (rc != GOSR_OK)
            return gosr_error_wrap(err, rc, "cert_rejected",
                                   "certificate %u rejected", i);
    }
    return GOSR_OK;
}

int gmod__check_manifest_files(const gosr_gmod_manifest *m,
                               const char *const *paths, size_t n,
                               gosr_error *err)
{
    for (size_t i = 0; i <= m->nscripts; i++) {
        const char *want = i < m->nscripts ? m->scripts[i] : m->entry;
        bool found = want == NULL;
        for (size_t j = 0; !found && j < n; j++)
            found = strcmp(paths[j], want) == 0;
        if (!found)
            return gosr_error_set(
                err, GOSR_EFORMAT, "manifest_missing_file",
                "%s: '%.200s' is not in the bundle",
                i < m->nscripts ? "$.content.scripts" : "$.entry", want);
    }
    return GOSR_OK;
}

static int check_module(gosr_gmod_reader *r, int64_t now, gosr_error *err)
{
    int rc = gosr_gmod_manifest_parse(r->x.json, r->x.json_len, &r->m, err);
    if (rc != GOSR_OK)
        return rc;
    const char **paths = gosr_calloc(r->x.nfiles + 1, sizeof(char *));
    if (!paths)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "paths");
    for (uint32_t i = 0; i < r->x.nfiles; i++)
        paths[i] = r->x.files[i].path;
    rc = gmod__check_manifest_files(r->m, paths, r->x.nfiles, err);
    gosr_free(paths);
    if (rc != GOSR_OK || r->o.no_trust)
        return rc;
    if ((rc = check_chain(r, r->m->kind, now, err)) != GOSR_OK)
        return rc;
    if (r->m->has_expires && now >= r->m->expires)
        return gosr_error_set(err, GOSR_EEXPIRED, "bundle_expired",
                              "gmod.json expires is in the past");
    return GOSR_OK;
}

/* ---- open -----------------------------------------------------------------
 */

static int check_counts(gosr_gmod_reader *r, gosr_error *err)
{
    uint64_t stored = 0;
    for (uint32_t i = 0; i < r->x.nchunks; i++)
        stored += r->x.chunks[i].stored_len;
    if (r->x.nchunks != r->h.nchunks || r->x.nfiles != r->h.nfiles ||
        stored != r->h.chunk_bytes)
        return gosr_error_set(err, GOSR_EFORMAT, "size_mismatch",
                              "header counts (%u chunks, %u files, %llu "
                              "bytes) disagree with the manifest",
                              r->h.nchunks, r->h.nfiles,
                              (unsigned long long)r->h.chunk_bytes);
    return GOSR_OK;
}

/* Reads the three head regions; `index` and `sig` receive owned copies. */
static int read_head(gosr_gmod_reader *r, uint8_t head[GMOD__HEADER_LEN],
                     uint8_t **index, uint8_t **sig, gosr_error *err)
{
    int rc = read_exact(r, head, GMOD__HEADER_LEN, "header", err);
    if (rc == GOSR_OK)
        rc = gmod__header_decode(head, r->o.max_bundle, &r->h, err);
    if (rc != GOSR_OK)
        return rc;
    *index = gosr_malloc(r->h.index_len + 1u);
    *sig = gosr_malloc(r->h.sig_len + 1u);
    if (!*index || !*sig)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "head");
    rc = read_exact(r, *index, r->h.index_len, "manifest", err);
    if (rc == GOSR_OK)
        rc = read_exact(r, *sig, r->h.sig_len, "signature block", err);
    return rc;
}

static int open_checks(gosr_gmod_reader *r, gosr_error *err)
{
    uint8_t head[GMOD__HEADER_LEN], *index = NULL, *sig = NULL;
    int64_t now =
        r->o.now ? r->o.now : (int64_t)(gosr_time_wall_ns() / 1000000000u);
    int rc = read_head(r, head, &index, &sig, err);
    if (rc == GOSR_OK)
        rc = gmod__sigblock_decode(sig, r->h.sig_len, &r->sb, err);
    if (rc == GOSR_OK && !r->o.no_trust)
        rc = check_signature(r, head, index, err);
    if (rc == GOSR_OK)
        rc = gmod__index_decode(index, r->h.index_len, &r->x, err);
    if (rc == GOSR_OK)
        rc = check_counts(r, err);
    if (rc == GOSR_OK)
        rc = check_module(r, now, err);
    gosr_free(index);
    gosr_free(sig);
    return rc;
}

/* Allocates a reader; NULL (with err set) on bad arguments or ENOMEM. */
static gosr_gmod_reader *reader_new(gosr_gmod_read_fn read, void *ud,
                                    const gosr_gmod_verify_opts *o,
                                    gosr_error *err)
{
    if (!read || !o || (!o->trust_pk && !o->no_trust)) {
        gosr_error_set(err, GOSR_EINVAL, "bad_argument",
                       "a reader needs a source and a trust root (or "
                       "no_trust)");
        return NULL;
    }
    gosr_gmod_reader *r = gosr_calloc(1, sizeof *r);
    if (!r) {
        gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "reader");
        return NULL;
    }
    *r = (gosr_gmod_reader){.read = read, .ud = ud, .o = *o, .fd = -1};
    if (!r->o.max_bundle)
        r->o.max_bundle = GOSR_GMOD_MAX_BUNDLE;
    return r;
}

/* Runs the head checks; on failure destroys r. */
static int reader_start(gosr_gmod_reader *r, gosr_gmod_reader **out,
                        gosr_error *err)
{
    int rc = open_checks(r, err);
    if (rc != GOSR_OK) {
        gosr_gmod_reader_destroy(r);
        return rc;
    }
    *out = r;
    return GOSR_OK;
}

int gosr_gmod_reader_open(gosr_gmod_read_fn read, void *ud,
                          const gosr_gmod_verify_opts *o,
                          gosr_gmod_reader **out, gosr_error *err)
{
    *out = NULL;
    gosr_gmod_reader *r = reader_new(read, ud, o, err);
    return r ? reader_start(r, out, err) : err ? err->status : GOSR_EINVAL;
}

int gosr_gmod_reader_open_fd(int fd, const gosr_gmod_verify_opts *o,
                             gosr_gmod_reader **out, gosr_error *err)
{
    *out = NULL;
    gosr_gmod_reader *r = reader_new(fd_read, NULL, o, err);
    if (!r)
        return err ? err->status : GOSR_EINVAL;
    r->fd = fd; /* fd_read reads through ud = &r->fd */
    r->ud = &r->fd;
    return reader_start(r, out, err);
}

void gosr_gmod_reader_destroy(gosr_gmod_reader *r)
{
    if (!r)
        return;
    gmod__index_free(&r->x);
    gosr_gmod_manifest_destroy(r->m);
    gosr_buf_free(&r->stored);
    gosr_buf_free(&r->plain);
    gosr_free(r);
}

/* ---- chunks ---------------------------------------------------------------
 */

static int check_end(gosr_gmod_reader *r, gosr_error *err)
{
    uint8_t b;
    ssize_t k;
    do
        k = r->read(r->ud, &b, 1);
    while (k < 0 && errno == EINTR);
    if (k < 0)
        return gosr_error_set(err, GOSR_EIO, "bundle_io", "reading: %s",
                              strerror(errno));
    if (k > 0)
        return gosr_error_set(err, GOSR_EFORMAT, "trailing_bytes",
                              "bytes follow the last chunk record");
    r->done = true;
    return GOSR_OK;
}

int gosr_gmod_reader_next(gosr_gmod_reader *r, bool *done, uint32_t *index,
                          const uint8_t **data, size_t *len, gosr_error *err)
{
    *done = false;
    if (r->next == r->x.nchunks) {
        int rc = r->done ? GOSR_OK : check_end(r, err);
        *done = rc == GOSR_OK;
        return rc;
    }
    const gosr_gmod_chunk *c = &r->x.chunks[r->next];
    r->stored.len = r->plain.len = 0;
    int rc = gosr_buf_reserve(&r->stored, c->stored_len);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "out_of_memory", "chunk");
    rc = read_exact(r, r->stored.data, c->stored_len, "chunk records", err);
    if (rc != GOSR_OK)
        return rc;
    r->stored.len = c->stored_len;
    gosr_hash h;
    gosr_blake3_hash(r->stored.data, r->stored.len, &h);
    if (!gosr_hash_equal(&h, &c->stored_id))
        return gosr_error_set(err, GOSR_ECORRUPT, "chunk_hash_mismatch",
                              "chunk %u: stored bytes do not match their "
                              "hash",
                              r->next);
    rc = gosr_codec_decompress(c->codec, r->stored.data, r->stored.len,
                               c->plain_len, &r->plain);
    if (rc != GOSR_OK || r->plain.len != c->plain_len)
        return gosr_error_set(
            err, rc == GOSR_ENOMEM ? rc : GOSR_ECORRUPT, "chunk_decode_failed",
            "chunk %u does not decode to %u bytes", r->next, c->plain_len);
    gosr_blake3_hash(r->plain.data, r->plain.len, &h);
    if (!gosr_hash_equal(&h, &c->id))
        return gosr_error_set(err, GOSR_ECORRUPT, "chunk_hash_mismatch",
                              "chunk %u does not match its hash", r->next);
    *index = r->next++;
    *data = r->plain.data;
    *len = r->plain.len;
    return GOSR_OK;
}

/* ---- accessors ------------------------------------------------------------
 */

const gosr_gmod_manifest *gosr_gmod_reader_manifest(const gosr_gmod_reader *r)
{
    return r->m;
}

size_t gosr_gmod_reader_nfiles(const gosr_gmod_reader *r)
{
    return r->x.nfiles;
}

void gosr_gmod_reader_file(const gosr_gmod_reader *r, size_t i,
                           gosr_gmod_file *out)
{
    const gmod__file *f = &r->x.files[i];
    *out = (gosr_gmod_file){f->path,    f->mode,    f->size,
                            f->file_id, f->nchunks, f->chunks};
}

size_t gosr_gmod_reader_nchunks(const gosr_gmod_reader *r)
{
    return r->x.nchunks;
}

void gosr_gmod_reader_chunk(const gosr_gmod_reader *r, size_t i,
                            gosr_gmod_chunk *out)
{
    *out = r->x.chunks[i];
}

const gosr_hash *gosr_gmod_reader_root(const gosr_gmod_reader *r)
{
    return &r->x.root;
}

const gosr_cert *gosr_gmod_reader_signer(const gosr_gmod_reader *r)
{
    return &r->sb.chain[0];
}

uint64_t gosr_gmod_reader_total(const gosr_gmod_reader *r)
{
    return r->h.total;
}

/* ---- whole-file verify ----------------------------------------------------
 */

static int open_path(const char *path, gosr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        gosr_error_set(err, gosr_status_from_errno(errno), "bundle_io",
                       "cannot open %s: %s", path, strerror(errno));
    return fd;
}

/* ---- the signed head alone ------------------------------------------------
 */

static ssize_t mem_read(void *ud, void *buf, size_t n)
{
    gosr_gmod_reader *r = ud;
    size_t k = r->mem_n - r->mem_at < n ? r->mem_n - r->mem_at : n;
    memcpy(buf, r->mem + r->mem_at, k);
    r->mem_at += k;
    return (ssize_t)k;
}

int gosr_gmod_reader_open_mem(const uint8_t *p, size_t n,
                              const gosr_gmod_verify_opts *o,
                              gosr_gmod_reader **out, gosr_error *err)
{
    *out = NULL;
    gosr_gmod_reader *r = reader_new(mem_read, NULL, o, err);
    if (!r)
        return err ? err->status : GOSR_EINVAL;
    r->ud = r;
    r->mem = p;
    r->mem_n = n;
    return reader_start(r, out, err);
}

int gosr_gmod_head_open(const uint8_t *p, size_t n,
                        const gosr_gmod_verify_opts *o, gosr_gmod_reader **out,
                        gosr_error *err)
{
    int rc = gosr_gmod_reader_open_mem(p, n, o, out, err);
    if (rc == GOSR_OK && (*out)->mem_at != n) {
        size_t extra = n - (*out)->mem_at;
        gosr_gmod_reader_destroy(*out);
        *out = NULL;
        return gosr_error_set(err, GOSR_EFORMAT, "head_trailing",
                              "%zu bytes follow the signed head", extra);
    }
    return rc;
}

int gosr_gmod_head_read(const char *path, gosr_buf *out, gosr_error *err)
{
    int fd = open_path(path, err);
    if (fd < 0)
        return err ? err->status : GOSR_EIO;
    gosr_gmod_reader r = {.read = fd_read, .ud = &fd};
    uint8_t head[GMOD__HEADER_LEN];
    int rc = read_exact(&r, head, sizeof head, "header", err);
    if (rc == GOSR_OK)
        rc = gmod__header_decode(head, GOSR_GMOD_MAX_BUNDLE, &r.h, err);
    size_t len = GMOD__HEADER_LEN + (size_t)r.h.index_len + r.h.sig_len;
    if (rc == GOSR_OK)
        rc = gosr_buf_reserve(out, len);
    uint8_t *dst = rc == GOSR_OK ? out->data + out->len : NULL;
    if (rc == GOSR_OK) {
        memcpy(dst, head, sizeof head);
        rc = read_exact(&r, dst + sizeof head, len - sizeof head,
                        "signed head", err);
    }
    if (rc == GOSR_OK)
        out->len += len;
    close(fd);
    return rc == GOSR_ENOMEM
               ? gosr_error_set(err, rc, "out_of_memory", "bundle head")
               : rc;
}

int gosr_gmod_verify_file(const char *path, const gosr_gmod_verify_opts *o,
                          gosr_error *err)
{
    int fd = open_path(path, err);
    if (fd < 0)
        return err ? err->status : GOSR_EIO;
    gosr_gmod_reader *r = NULL;
    int rc = gosr_gmod_reader_open_fd(fd, o, &r, err);
    bool done = false;
    while (rc == GOSR_OK && !done) {
        uint32_t i;
        const uint8_t *d;
        size_t n;
        rc = gosr_gmod_reader_next(r, &done, &i, &d, &n, err);
    }
    gosr_gmod_reader_destroy(r);
    close(fd);
    return rc;
}
