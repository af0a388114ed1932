/*
 * writer.c — building bundles: the signed head (header, index, signature
 * block) and `gosr pack`: walk the source tree in byte order of paths,
 * chunk every file with FastCDC, store each distinct chunk once
 * (compressed with zstd at a fixed level unless that does not pay), spool
 * the chunk records to a temporary file, then write head + records and
 * rename into place. Nothing time- or host-dependent enters the bundle.
 * Design: docs/gmod.md ("Packing").
 */
#include "gmod/gmod_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PACK_DEFAULT_LEVEL 3

/* ---- the signed head ----------------------------------------------------- */

int gmod__write_head(const gmod__index *x, const gosr_keypair *kp,
                     const gosr_cert *chain, size_t nchain, gosr_buf *out,
                     gosr_error *err)
{
    if (nchain < 1 || nchain > GOSR_GMOD_MAX_CHAIN)
        return gosr_error_set(err, GOSR_EINVAL, "bad_chain",
                              "a bundle carries 1 to %d certificates",
                              GOSR_GMOD_MAX_CHAIN);
    gmod__sigblock sb = {.nchain = (uint32_t)nchain};
    memcpy(sb.signer_pk, kp->pk, 32);
    memcpy(sb.chain, chain, nchain * sizeof *chain);
    gosr_buf idx = {0}, sig = {0};
    int rc = gmod__index_encode(x, &idx);
    if (rc == GOSR_OK)
        rc = gmod__sigblock_encode(&sb, &sig); /* length is what matters */
    if (rc != GOSR_OK)
        goto out_bufs;
    gmod__header h = {
        (uint32_t)idx.len, (uint32_t)sig.len, x->nchunks, x->nfiles, 0, 0};
    for (uint32_t i = 0; i < x->nchunks; i++)
        h.chunk_bytes += x->chunks[i].stored_len;
    h.total = GMOD__HEADER_LEN + idx.len + sig.len + h.chunk_bytes;
    uint8_t head[GMOD__HEADER_LEN], msg[48];
    gmod__header_encode(&h, head);
    gmod__sig_message(head, idx.data, idx.len, msg);
    gosr_sign(kp, msg, sizeof msg, sig.data + sig.len - GOSR_SIGN_LEN);
    rc = gosr_buf_append(out, head, sizeof head);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, idx.data, idx.len);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, sig.data, sig.len);
out_bufs:
    gosr_buf_free(&idx);
    gosr_buf_free(&sig);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "out_of_memory", "building the head");
    return GOSR_OK;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Rewrites each chunk entry's stored_id from the record bytes that follow
 * the head (entries whose record lies outside the buffer are left). */
static void rehash_stored(uint8_t *bundle, size_t len, uint64_t ilen,
                          uint64_t slen)
{
    uint8_t *idx = bundle + GMOD__HEADER_LEN;
    if (ilen < 12)
        return;
    uint64_t at = 12 + (uint64_t)rd32(idx + 8) + 32; /* chunk count */
    if (at + 4 > ilen)
        return;
    uint64_t n = rd32(idx + at), data = GMOD__HEADER_LEN + ilen + slen;
    at += 4;
    for (uint64_t i = 0; i < n && at + GMOD__CHUNK_ENTRY_LEN <= ilen; i++) {
        uint8_t *e = idx + at;
        uint64_t stored = rd32(e + 68);
        if (data + stored > len)
            return;
        gosr_hash h;
        gosr_blake3_hash(bundle + data, (size_t)stored, &h);
        memcpy(e + 32, h.b, 32);
        data += stored;
        at += GMOD__CHUNK_ENTRY_LEN;
    }
}

void gmod__resign(uint8_t *bundle, size_t len, const gosr_keypair *kp)
{
    if (len < GMOD__HEADER_LEN)
        return;
    uint64_t ilen = rd32(bundle + 16), slen = rd32(bundle + 20);
    if (slen < GOSR_SIGN_LEN || GMOD__HEADER_LEN + ilen + slen > len)
        return;
    rehash_stored(bundle, len, ilen, slen);
    uint8_t msg[48];
    gmod__sig_message(bundle, bundle + GMOD__HEADER_LEN, (size_t)ilen, msg);
    gosr_sign(kp, msg, sizeof msg,
              bundle + GMOD__HEADER_LEN + ilen + slen - GOSR_SIGN_LEN);
}

/* ---- walking the source tree ----------------------------------------------
 */

/* The files found under the source directory. */
typedef struct file_list {
    char **paths; /* relative paths (owned) */
    size_t n;     /* entries in use */
    size_t cap;   /* entries allocated */
} file_list;

static void file_list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        gosr_free(l->paths[i]);
    gosr_free(l->paths);
}

static int list_add(file_list *l, char *p)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        char **np = gosr_realloc(l->paths, nc * sizeof *np);
        if (!np)
            return GOSR_ENOMEM;
        l->paths = np;
        l->cap = nc;
    }
    l->paths[l->n++] = p;
    return GOSR_OK;
}

static int walk_dir(const char *root, const char *rel, file_list *l,
                    gosr_error *err);

static int walk_entry(const char *root, const char *rel, const char *name,
                      file_list *l, gosr_error *err)
{
    char *sub = rel[0] ? gosr_asprintf("%s/%s", rel, name) : gosr_strdup(name);
    char *full = sub ? gosr_asprintf("%s/%s", root, sub) : NULL;
    struct stat st;
    int rc = GOSR_OK;
    if (!sub || !full)
        rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "paths");
    else if (lstat(full, &st) != 0)
        rc = gosr_error_set(err, gosr_status_from_errno(errno), "pack_io",
                            "%s: %s", full, strerror(errno));
    else if (!gosr_path_is_safe(sub, strlen(sub)))
        rc = gosr_error_set(err, GOSR_EINVAL, "path_unsafe",
                            "unsafe file name '%.200s'", sub);
    else if (S_ISDIR(st.st_mode))
        rc = walk_dir(root, sub, l, err);
    else if (!S_ISREG(st.st_mode))
        rc = gosr_error_set(err, GOSR_EUNSUPPORTED, "pack_unsupported_file",
                            "'%.200s' is not a regular file or directory", sub);
    else if (list_add(l, sub) == GOSR_OK)
        sub = NULL; /* now owned by the list */
    else
        rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "paths");
    gosr_free(full);
    gosr_free(sub);
    return rc;
}

static int walk_dir(const char *root, const char *rel, file_list *l,
                    gosr_error *err)
{
    char *dir = rel[0] ? gosr_asprintf("%s/%s", root, rel) : gosr_strdup(root);
    DIR *d = dir ? opendir(dir) : NULL;
    int rc = GOSR_OK;
    if (!d) {
        rc = gosr_error_set(
            err, dir ? gosr_status_from_errno(errno) : GOSR_ENOMEM, "pack_io",
            "cannot open directory '%.200s'", dir ? dir : rel);
        gosr_free(dir);
        return rc;
    }
    struct dirent *e;
    while (rc == GOSR_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = walk_entry(root, rel, e->d_name, l, err);
    }
    closedir(d);
    gosr_free(dir);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- chunking and dedup ----------------------------------------------------
 */

/* The pack in progress. */
typedef struct packer {
    const gosr_gmod_pack_opts *o; /* options (borrowed) */
    gosr_cdc_params cdc;          /* normalized chunking bounds */
    gmod__index x;                /* index being built */
    uint32_t chunk_cap;           /* allocated entries of x.chunks */
    uint32_t *slots;              /* open-addressing table: chunk index+1 */
    uint32_t nslots;              /* size of slots (power of two) */
    int spool;                    /* fd of the chunk-record spool file */
    gosr_buf z;                   /* compression scratch */
} packer;

static int grow_slots(packer *pk)
{
    uint32_t n = pk->nslots ? pk->nslots * 2 : 1024;
    uint32_t *s = gosr_calloc(n, sizeof *s);
    if (!s)
        return GOSR_ENOMEM;
    for (uint32_t i = 0; i < pk->x.nchunks; i++) {
        uint32_t h = rd32(pk->x.chunks[i].id.b) & (n - 1);
        while (s[h])
            h = (h + 1) & (n - 1);
        s[h] = i + 1;
    }
    gosr_free(pk->slots);
    pk->slots = s;
    pk->nslots = n;
    return GOSR_OK;
}

/* Finds the chunk with id `id`; returns its slot (empty if absent). */
static uint32_t *find_slot(packer *pk, const gosr_hash *id)
{
    uint32_t h = rd32(id->b) & (pk->nslots - 1);
    while (pk->slots[h] &&
           !gosr_hash_equal(&pk->x.chunks[pk->slots[h] - 1].id, id))
        h = (h + 1) & (pk->nslots - 1);
    return &pk->slots[h];
}

/* Stores a new chunk: compress, spool, record. */
static int add_chunk(packer *pk, const uint8_t *p, size_t n,
                     const gosr_hash *id, uint32_t *index, gosr_error *err)
{
    gosr_codec used = GOSR_CODEC_RAW;
    pk->z.len = 0;
    int rc = gosr_codec_compress(
        pk->o->raw ? GOSR_CODEC_RAW : GOSR_CODEC_ZSTD,
        pk->o->level ? pk->o->level : PACK_DEFAULT_LEVEL, p, n, &pk->z, &used);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "pack_codec", "compressing a chunk");
    if ((rc = gosr_io_write_all(pk->spool, pk->z.data, pk->z.len)) != GOSR_OK)
        return gosr_error_set(err, rc, "pack_io", "writing the spool file");
    if (pk->x.nchunks == pk->chunk_cap) {
        uint32_t nc = pk->chunk_cap ? pk->chunk_cap * 2 : 256;
        gosr_gmod_chunk *nk = gosr_realloc(pk->x.chunks, nc * sizeof *nk);
        if (!nk)
            return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "chunks");
        pk->x.chunks = nk;
        pk->chunk_cap = nc;
    }
    *index = pk->x.nchunks;
    gosr_gmod_chunk *c = &pk->x.chunks[pk->x.nchunks++];
    *c = (gosr_gmod_chunk){.id = *id,
                           .plain_len = (uint32_t)n,
                           .stored_len = (uint32_t)pk->z.len,
                           .codec = used};
    gosr_blake3_hash(pk->z.data, pk->z.len, &c->stored_id);
    return GOSR_OK;
}

/* Records one chunk of file f (deduplicated). */
static int take_chunk(packer *pk, gmod__file *f, const uint8_t *p, size_t n,
                      gosr_error *err)
{
    gosr_hash id;
    gosr_blake3_hash(p, n, &id);
    if ((pk->x.nchunks + 1) * 2 > pk->nslots && grow_slots(pk) != GOSR_OK)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "slots");
    uint32_t *slot = find_slot(pk, &id), index = 0;
    if (*slot) {
        index = *slot - 1;
    } else {
        int rc = add_chunk(pk, p, n, &id, &index, err);
        if (rc != GOSR_OK)
            return rc;
        *slot = index + 1;
    }
    uint32_t *c = gosr_realloc(f->chunks, (f->nchunks + 1) * sizeof *c);
    if (!c)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "refs");
    f->chunks = c;
    f->chunks[f->nchunks++] = index;
    f->size += n;
    return GOSR_OK;
}

/* Streams one file through the chunker with a 2*max window. */
static int chunk_file(packer *pk, int fd, gmod__file *f, uint8_t *win,
                      gosr_error *err)
{
    size_t cap = 2 * (size_t)pk->cdc.max_size, len = 0;
    bool eof = false;
    for (;;) {
        while (!eof && len < cap) {
            ssize_t r = read(fd, win + len, cap - len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return gosr_error_set(err, gosr_status_from_errno(errno),
                                      "pack_io", "reading '%.200s'", f->path);
            eof = r == 0;
            len += (size_t)r;
        }
        if (len == 0)
            return GOSR_OK;
        size_t cut = gosr_cdc_next(&pk->cdc, win, len);
        int rc = take_chunk(pk, f, win, cut, err);
        if (rc != GOSR_OK)
            return rc;
        memmove(win, win + cut, len - cut);
        len -= cut;
    }
}

static int chunk_all(packer *pk, const char *src, const file_list *l,
                     gosr_error *err)
{
    uint8_t *win = gosr_malloc(2 * (size_t)pk->cdc.max_size);
    if (!win)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "window");
    int rc = GOSR_OK;
    for (size_t i = 0; rc == GOSR_OK && i < l->n; i++) {
        gmod__file *f = &pk->x.files[i];
        char *full = gosr_asprintf("%s/%s", src, l->paths[i]);
        struct stat st;
        int fd = full ? open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
        f->path = gosr_strdup(l->paths[i]);
        if (!full || !f->path)
            rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "paths");
        else if (fd < 0 || fstat(fd, &st) != 0)
            rc = gosr_error_set(err, GOSR_EIO, "pack_io",
                                "cannot read '%.200s'", l->paths[i]);
        else
            f->mode = (st.st_mode & 0111) ? 0755 : 0644;
        if (rc == GOSR_OK)
            rc = chunk_file(pk, fd, f, win, err);
        if (rc == GOSR_OK) {
            gosr_chunk_ref *refs = gosr_calloc(f->nchunks + 1, sizeof *refs);
            for (uint32_t j = 0; refs && j < f->nchunks; j++)
                refs[j] =
                    (gosr_chunk_ref){pk->x.chunks[f->chunks[j]].id,
                                     pk->x.chunks[f->chunks[j]].plain_len};
            if (!refs)
                rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "refs");
            else
                gosr_merkle_file_id(refs, f->nchunks, &f->file_id);
            gosr_free(refs);
        }
        if (fd >= 0)
            close(fd);
        gosr_free(full);
    }
    gosr_free(win);
    return rc;
}

/* ---- pack ------------------------------------------------------------------
 */

static int load_manifest(const char *src, const file_list *l, gmod__index *x,
                         gosr_error *err)
{
    char *path = gosr_asprintf("%s/gmod.json", src);
    uint8_t *json = NULL;
    size_t len = 0;
    int rc = path
                 ? gosr_file_read_all(path, GOSR_GMOD_MANIFEST_MAX, &json, &len)
                 : GOSR_ENOMEM;
    gosr_free(path);
    if (rc != GOSR_OK)
        return gosr_error_set(
            err, rc,
            rc == GOSR_ETOOBIG ? "manifest_too_large" : "manifest_missing",
            "cannot read %s/gmod.json (%s)", src, gosr_strerror(rc));
    gosr_gmod_manifest *m = NULL;
    rc = gosr_gmod_manifest_parse(json, len, &m, err);
    if (rc == GOSR_OK)
        rc = gmod__check_manifest_files(m, (const char *const *)l->paths, l->n,
                                        err);
    gosr_gmod_manifest_destroy(m);
    if (rc != GOSR_OK) {
        gosr_free(json);
        return rc;
    }
    x->json = json;
    x->json_len = (uint32_t)len;
    return GOSR_OK;
}

static int tree_root(gmod__index *x, gosr_error *err)
{
    gosr_tree_entry *e = gosr_calloc(x->nfiles + 1, sizeof *e);
    if (!e)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "entries");
    for (uint32_t i = 0; i < x->nfiles; i++)
        e[i] = (gosr_tree_entry){x->files[i].path, x->files[i].mode,
                                 x->files[i].size, x->files[i].file_id};
    int rc = gosr_merkle_tree_id(e, x->nfiles, &x->root);
    gosr_free(e);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "path_unsafe",
                              "tree id refused the "
                              "file list");
    return gmod__index_check(x, err);
}

/* Creates a temporary file beside `path` (suffix "tag"); unlinks it at once
 * when `anonymous`. Returns the fd, or -1 with *status set. When not
 * anonymous, *tmp receives the name (caller frees with gosr_free);
 * otherwise *tmp is NULL. */
static int temp_beside(const char *path, const char *tag, bool anonymous,
                       char **tmp, int *status)
{
    *tmp = gosr_asprintf("%s.%s-XXXXXX", path, tag);
    if (!*tmp) {
        *status = GOSR_ENOMEM;
        return -1;
    }
    int fd = mkstemp(*tmp);
    if (fd < 0)
        *status = gosr_status_from_errno(errno);
    else if (anonymous)
        unlink(*tmp);
    if (fd < 0 || anonymous) {
        gosr_free(*tmp);
        *tmp = NULL;
    }
    return fd;
}

static int copy_spool(int spool, int out)
{
    uint8_t buf[65536];
    if (lseek(spool, 0, SEEK_SET) != 0)
        return gosr_status_from_errno(errno);
    for (;;) {
        ssize_t r = read(spool, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return gosr_status_from_errno(errno);
        if (r == 0)
            return GOSR_OK;
        int rc = gosr_io_write_all(out, buf, (size_t)r);
        if (rc != GOSR_OK)
            return rc;
    }
}

/* Writes head + spooled records to a temporary file and renames it. */
static int write_out(packer *pk, const char *out_path, gosr_error *err)
{
    gosr_buf head = {0};
    char *tmp = NULL;
    int rc = gmod__write_head(&pk->x, pk->o->key, pk->o->chain, pk->o->nchain,
                              &head, err);
    if (rc != GOSR_OK)
        goto out_head;
    int fd = temp_beside(out_path, "tmp", false, &tmp, &rc);
    if (fd < 0) {
        gosr_error_set(err, rc, "pack_io", "cannot create %s.tmp", out_path);
        goto out_head;
    }
    rc = gosr_io_write_all(fd, head.data, head.len);
    if (rc == GOSR_OK)
        rc = copy_spool(pk->spool, fd);
    if (rc == GOSR_OK && (fchmod(fd, 0644) != 0 || fsync(fd) != 0))
        rc = gosr_status_from_errno(errno);
    close(fd);
    if (rc == GOSR_OK && rename(tmp, out_path) != 0)
        rc = gosr_status_from_errno(errno);
    if (rc == GOSR_OK)
        gosr_fsync_dir(out_path);
    else {
        unlink(tmp);
        gosr_error_set(err, rc, "pack_io", "writing %s: %s", out_path,
                       gosr_strerror(rc));
    }
    gosr_free(tmp);
out_head:
    gosr_buf_free(&head);
    return rc;
}

static int pack_files(packer *pk, const char *src, const char *out_path,
                      gosr_error *err)
{
    file_list l = {0};
    char *tmp = NULL;
    int rc = walk_dir(src, "", &l, err);
    if (rc != GOSR_OK)
        goto out_list;
    qsort(l.paths, l.n, sizeof(char *), cmp_str);
    if (l.n > GOSR_GMOD_MAX_FILES) {
        rc = gosr_error_set(err, GOSR_ETOOBIG, "bundle_size_limit",
                            "%zu files, the limit is %u", l.n,
                            GOSR_GMOD_MAX_FILES);
        goto out_list;
    }
    if ((rc = load_manifest(src, &l, &pk->x, err)) != GOSR_OK)
        goto out_list;
    pk->x.files = gosr_calloc(l.n + 1, sizeof *pk->x.files);
    if (!pk->x.files) {
        rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "files");
        goto out_list;
    }
    pk->x.nfiles = (uint32_t)l.n;
    if ((pk->spool = temp_beside(out_path, "spool", true, &tmp, &rc)) < 0) {
        gosr_error_set(err, rc, "pack_io",
                       "cannot create a spool file beside %s", out_path);
        goto out_list;
    }
    rc = chunk_all(pk, src, &l, err);
    if (rc == GOSR_OK)
        rc = tree_root(&pk->x, err);
    if (rc == GOSR_OK)
        rc = write_out(pk, out_path, err);
    close(pk->spool);
out_list:
    file_list_free(&l);
    return rc;
}

int gosr_gmod_pack(const char *src, const gosr_gmod_pack_opts *o,
                   const char *out_path, gosr_error *err)
{
    if (!src || !o || !o->key || !o->chain || !out_path)
        return gosr_error_set(err, GOSR_EINVAL, "bad_argument",
                              "pack needs a source, a key, a chain and an "
                              "output path");
    if (o->nchain < 1 || memcmp(o->chain[0].subject_pk, o->key->pk, 32) != 0)
        return gosr_error_set(err, GOSR_EINVAL, "signer_cert_mismatch",
                              "the certificate is not for this key");
    packer pk = {.o = o, .cdc = o->cdc, .spool = -1};
    if (gosr_cdc_params_normalize(&pk.cdc) != GOSR_OK)
        return gosr_error_set(err, GOSR_EINVAL, "bad_argument",
                              "inconsistent chunking bounds");
    if (pk.cdc.max_size > GOSR_GMOD_MAX_CHUNK)
        return gosr_error_set(err, GOSR_EINVAL, "bad_argument",
                              "chunks larger than %u bytes",
                              GOSR_GMOD_MAX_CHUNK);
    int rc = pack_files(&pk, src, out_path, err);
    gmod__index_free(&pk.x);
    gosr_free(pk.slots);
    gosr_buf_free(&pk.z);
    return rc;
}
