/*
 * manifest.c — Merkle manifests as stored objects: the file node (ordered
 * chunk list) and tree node (sorted entries) encodings, whose BLAKE3 is
 * exactly gosr_merkle_file_id / gosr_merkle_tree_id; strict decoders; and
 * the whole-file and whole-tree operations built on them (put a buffer,
 * descriptor, file or directory; get a file or tree back to disk).
 * The public calls here are the unlocked store__ bodies behind api.c.
 * Design: docs/store.md ("Merkle manifests").
 *
 * Sections: encodings, put, tree walk, get, iteration.
 */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAGIC "gosr-file-v1"
#define TREE_MAGIC "gosr-tree-v1"
#define MAGIC_LEN 12
#define FILE_ENTRY 36 /* id 32 + len 4 */

/* ---- encodings
 * --------------------------------------------------------------- */

static void le_put(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int store__file_decode(const uint8_t *p, size_t n, gosr_chunk_ref **chunks,
                       size_t *count, gosr_error *err)
{
    if (n < MAGIC_LEN + 8 || memcmp(p, FILE_MAGIC, MAGIC_LEN) != 0)
        return gosr_error_set(err, GOSR_EFORMAT, "file_node_bad_magic",
                              "not a file node");
    uint64_t k = le_get(p + MAGIC_LEN, 8);
    if (k > (n - MAGIC_LEN - 8) / FILE_ENTRY ||
        n != MAGIC_LEN + 8 + k * FILE_ENTRY)
        return gosr_error_set(err, GOSR_EFORMAT, "file_node_bad_length",
                              "file node of %zu bytes claims %llu chunks", n,
                              (unsigned long long)k);
    if (!chunks)
        return GOSR_OK;
    *chunks = gosr_malloc(k ? k * sizeof **chunks : 1);
    if (!*chunks)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "file node");
    for (uint64_t i = 0; i < k; i++) {
        const uint8_t *e = p + MAGIC_LEN + 8 + i * FILE_ENTRY;
        memcpy((*chunks)[i].id.b, e, 32);
        (*chunks)[i].len = (uint32_t)le_get(e + 32, 4);
    }
    *count = (size_t)k;
    return GOSR_OK;
}

void store__tree_entries_free(gosr_tree_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++)
        gosr_free((char *)e[i].path);
    gosr_free(e);
}

/* Decodes one tree entry at p[*pos..n). */
static int tree_entry_decode(const uint8_t *p, size_t n, size_t *pos,
                             gosr_tree_entry *e, gosr_error *err)
{
    if (n - *pos < 2)
        goto out_short;
    size_t plen = (size_t)le_get(p + *pos, 2);
    if (n - *pos < 2 + plen + 4 + 8 + 32)
        goto out_short;
    const char *path = (const char *)p + *pos + 2;
    if (!gosr_path_is_safe(path, plen))
        return gosr_error_set(err, GOSR_EFORMAT, "tree_node_bad_path",
                              "unsafe path in tree node");
    if (!(e->path = gosr_strndup(path, plen)))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "tree");
    const uint8_t *q = p + *pos + 2 + plen;
    e->mode = (uint32_t)le_get(q, 4);
    e->size = le_get(q + 4, 8);
    memcpy(e->file_id.b, q + 12, 32);
    if (e->mode != 0644 && e->mode != 0755)
        return gosr_error_set(err, GOSR_EFORMAT, "tree_node_bad_mode",
                              "mode %o in tree node", e->mode);
    *pos += 2 + plen + 44;
    return GOSR_OK;
out_short:
    return gosr_error_set(err, GOSR_EFORMAT, "tree_node_bad_length",
                          "tree node ends inside an entry");
}

int store__tree_decode(const uint8_t *p, size_t n, gosr_tree_entry **entries,
                       size_t *count, gosr_error *err)
{
    if (n < MAGIC_LEN + 8 || memcmp(p, TREE_MAGIC, MAGIC_LEN) != 0)
        return gosr_error_set(err, GOSR_EFORMAT, "tree_node_bad_magic",
                              "not a tree node");
    uint64_t k = le_get(p + MAGIC_LEN, 8);
    if (k > (n - MAGIC_LEN - 8) / 47) /* smallest entry is 47 bytes */
        return gosr_error_set(err, GOSR_EFORMAT, "tree_node_bad_length",
                              "tree node claims %llu entries",
                              (unsigned long long)k);
    gosr_tree_entry *e = gosr_calloc(k ? k : 1, sizeof *e);
    if (!e)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "tree");
    size_t pos = MAGIC_LEN + 8;
    int rc = GOSR_OK;
    for (uint64_t i = 0; i < k && rc == GOSR_OK; i++) {
        rc = tree_entry_decode(p, n, &pos, &e[i], err);
        if (rc == GOSR_OK && i > 0 && strcmp(e[i - 1].path, e[i].path) >= 0)
            rc = gosr_error_set(err, GOSR_EFORMAT, "tree_node_unsorted",
                                "tree entries not strictly sorted");
    }
    if (rc == GOSR_OK && pos != n)
        rc = gosr_error_set(err, GOSR_EFORMAT, "tree_node_bad_length",
                            "trailing bytes after tree entries");
    if (rc != GOSR_OK || !entries) {
        store__tree_entries_free(e, (size_t)k);
        return rc;
    }
    *entries = e;
    *count = (size_t)k;
    return GOSR_OK;
}

int store__object_validate(gosr_obj_kind kind, const uint8_t *p, size_t n,
                           gosr_error *err)
{
    if (n > STORE_MAX_OBJECT)
        return gosr_error_set(err, GOSR_ETOOBIG, "object_too_large",
                              "manifest of %zu bytes", n);
    if (kind == GOSR_OBJ_FILE)
        return store__file_decode(p, n, NULL, NULL, err);
    return store__tree_decode(p, n, NULL, NULL, err);
}

/* Encodes a tree node for sorted entries into out. */
static int tree_encode(const gosr_tree_entry *e, size_t n, gosr_buf *out)
{
    uint8_t hdr[MAGIC_LEN + 8];
    memcpy(hdr, TREE_MAGIC, MAGIC_LEN);
    le_put(hdr + MAGIC_LEN, n, 8);
    int rc = gosr_buf_append(out, hdr, sizeof hdr);
    for (size_t i = 0; i < n && rc == GOSR_OK; i++) {
        size_t plen = strlen(e[i].path);
        uint8_t fix[44];
        le_put(fix, plen, 2);
        rc = gosr_buf_append(out, fix, 2);
        if (rc == GOSR_OK)
            rc = gosr_buf_append(out, e[i].path, plen);
        le_put(fix, (e[i].mode & 0111) ? 0755 : 0644, 4);
        le_put(fix + 4, e[i].size, 8);
        memcpy(fix + 12, e[i].file_id.b, 32);
        if (rc == GOSR_OK)
            rc = gosr_buf_append(out, fix, 44);
    }
    return rc;
}

/* ---- put
 * ----------------------------------------------------------------------------
 */

/* Input for a streaming put: either a whole buffer or a descriptor read
 * through a window of at least 4*max_size bytes. */
typedef struct put_src {
    const uint8_t *mem; /* whole input when not NULL */
    size_t mem_len;     /* its length */
    int fd;             /* else: descriptor to read */
    uint8_t *win;       /* window buffer (owned) */
    size_t win_cap;     /* its capacity */
    size_t win_off;     /* start of unread data in win */
    size_t win_len;     /* end of data in win */
    bool eof;           /* fd reached its end */
} put_src;

/* Makes at least max_size bytes (or all remaining) available. */
static int src_fill(put_src *s, size_t want)
{
    if (s->mem || s->eof || s->win_len - s->win_off >= want)
        return GOSR_OK;
    memmove(s->win, s->win + s->win_off, s->win_len - s->win_off);
    s->win_len -= s->win_off;
    s->win_off = 0;
    while (!s->eof && s->win_len < s->win_cap) {
        ssize_t r = gosr_io()->read(s->fd, s->win + s->win_len,
                                    s->win_cap - s->win_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return gosr_status_from_errno(errno);
        if (r == 0)
            s->eof = true;
        s->win_len += (size_t)r;
    }
    return GOSR_OK;
}

/* Chunks and stores one chunk; appends its ref to the file node. */
static int put_one_chunk(gosr_store *st, const uint8_t *p, size_t n,
                         gosr_buf *node, gosr_error *err)
{
    gosr_hash id;
    gosr_blake3_hash(p, n, &id);
    int rc = store__put_hashed(st, GOSR_OBJ_CHUNK, &id, p, n, NULL, err);
    uint8_t ref[FILE_ENTRY];
    memcpy(ref, id.b, 32);
    le_put(ref + 32, n, 4);
    if (rc == GOSR_OK && (rc = gosr_buf_append(node, ref, sizeof ref)))
        gosr_error_set(err, rc, "out_of_memory", "file node");
    return rc;
}

/* Chunks the whole source into the open transaction; writes the file
 * node and sets *file_id and *size. */
static int put_stream(gosr_store *st, put_src *s, gosr_hash *file_id,
                      uint64_t *size, gosr_error *err)
{
    gosr_buf node = {0};
    uint8_t hdr[MAGIC_LEN + 8] = FILE_MAGIC;
    int rc = gosr_buf_append(&node, hdr, sizeof hdr);
    uint64_t total = 0, nchunks = 0;
    for (;;) {
        if (rc != GOSR_OK || (rc = src_fill(s, st->cfg.cdc.max_size)))
            break;
        const uint8_t *p = s->mem ? s->mem + total : s->win + s->win_off;
        size_t avail = s->mem ? s->mem_len - total : s->win_len - s->win_off;
        if (avail == 0)
            break;
        size_t c = gosr_cdc_next(&st->cfg.cdc, p, avail);
        if ((rc = put_one_chunk(st, p, c, &node, err)) != GOSR_OK)
            break;
        s->win_off += s->mem ? 0 : c;
        total += c;
        nchunks++;
        if (st->cfg.progress)
            st->cfg.progress(st->cfg.progress_ud, total);
    }
    if (rc == GOSR_OK) {
        le_put(node.data + MAGIC_LEN, nchunks, 8);
        gosr_blake3_hash(node.data, node.len, file_id);
        rc = store__put_hashed(st, GOSR_OBJ_FILE, file_id, node.data, node.len,
                               NULL, err);
    } else if (!err || !err->reason[0]) {
        gosr_error_set(err, rc, "put_read_failed", "reading input: %s",
                       gosr_strerror(rc));
    }
    if (rc == GOSR_OK &&
        (rc = store__meta_add(st, "logical_bytes", (int64_t)total, err)) == 0)
        rc = store__meta_add(st, "files_put", 1, err);
    if (size)
        *size = total;
    gosr_buf_free(&node);
    return rc;
}

/* Runs put_stream in its own (possibly nested) transaction. */
static int put_txn(gosr_store *st, put_src *s, gosr_hash *file_id,
                   uint64_t *size, gosr_error *err)
{
    int rc = store__begin(st, err);
    if (rc != GOSR_OK)
        return rc;
    rc = put_stream(st, s, file_id, size, err);
    if (rc != GOSR_OK) {
        store__rollback(st);
        return rc;
    }
    return store__commit(st, err);
}

int store__put_buffer(gosr_store *st, const uint8_t *data, size_t len,
                      gosr_hash *file_id, gosr_error *err)
{
    if (!st || (len && !data) || !file_id)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "put");
    put_src s = {.mem = data ? data : (const uint8_t *)"", .mem_len = len};
    return put_txn(st, &s, file_id, NULL, err);
}

int store__put_fd(gosr_store *st, int fd, gosr_hash *file_id, uint64_t *size,
                  gosr_error *err)
{
    if (!st || fd < 0 || !file_id)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "put");
    /* A window of 4*max (at least 8 MiB): refills move at most max bytes
     * back to the front per 3*max consumed, and reads stay large. */
    size_t cap = (size_t)st->cfg.cdc.max_size * 4;
    put_src s = {.fd = fd, .win_cap = cap > (8u << 20) ? cap : (8u << 20)};
    if (!(s.win = gosr_malloc(s.win_cap)))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "window");
    int rc = put_txn(st, &s, file_id, size, err);
    gosr_free(s.win);
    return rc;
}

int store__put_file(gosr_store *st, const char *path, gosr_hash *file_id,
                    uint64_t *size, gosr_error *err)
{
    int fd = gosr_io()->open(path, O_RDONLY, 0);
    if (fd < 0)
        return gosr_error_set(err, gosr_status_from_errno(errno),
                              "put_open_failed", "cannot open %s: %s", path,
                              strerror(errno));
    int rc = store__put_fd(st, fd, file_id, size, err);
    gosr_io()->close(fd);
    return rc;
}

/* ---- tree walk
 * ------------------------------------------------------------------------- */

/* Files found under a directory: relative paths and modes. */
typedef struct walk {
    gosr_tree_entry *e; /* entries (paths owned) */
    size_t n, cap;      /* used and allocated */
} walk;

static int walk_add(walk *w, const char *rel, uint32_t mode)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        gosr_tree_entry *e = gosr_realloc(w->e, cap * sizeof *e);
        if (!e)
            return GOSR_ENOMEM;
        w->e = e;
        w->cap = cap;
    }
    memset(&w->e[w->n], 0, sizeof w->e[0]);
    if (!(w->e[w->n].path = gosr_strdup(rel)))
        return GOSR_ENOMEM;
    w->e[w->n++].mode = (mode & 0111) ? 0755 : 0644;
    return GOSR_OK;
}

static int walk_dir(walk *w, const char *root, const char *rel, gosr_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d)
        return gosr_error_set(err, gosr_status_from_errno(errno),
                              "put_open_failed", "cannot list %s", path);
    int rc = GOSR_OK;
    struct dirent *de;
    while (rc == GOSR_OK && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char sub[PATH_MAX], full[2 * PATH_MAX + 2];
        struct stat sb;
        int ls = snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "",
                          de->d_name);
        int lf = snprintf(full, sizeof full, "%s/%s", root, sub);
        if (ls < 0 || (size_t)ls >= sizeof sub || lf < 0 ||
            (size_t)lf >= sizeof full)
            rc = gosr_error_set(err, GOSR_ETOOBIG, "tree_bad_path",
                                "path under %s is too long", root);
        else if (lstat(full, &sb) != 0)
            rc = gosr_error_set(err, gosr_status_from_errno(errno),
                                "put_open_failed", "cannot stat %s", full);
        else if (S_ISDIR(sb.st_mode))
            rc = walk_dir(w, root, sub, err);
        else if (!S_ISREG(sb.st_mode))
            rc = gosr_error_set(err, GOSR_EUNSUPPORTED, "tree_special_file",
                                "%s is not a regular file or directory", full);
        else if (!gosr_path_is_safe(sub, strlen(sub)))
            rc = gosr_error_set(err, GOSR_EINVAL, "tree_bad_path",
                                "path %s cannot be stored", sub);
        else if ((rc = walk_add(w, sub, sb.st_mode)) != GOSR_OK)
            gosr_error_set(err, rc, "out_of_memory", "tree walk");
    }
    closedir(d);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const gosr_tree_entry *)a)->path,
                  ((const gosr_tree_entry *)b)->path);
}

/* Puts every walked file and the tree node, inside a transaction. */
static int put_walked(gosr_store *st, const char *dir, walk *w, gosr_hash *root,
                      gosr_error *err)
{
    int rc = GOSR_OK;
    for (size_t i = 0; i < w->n && rc == GOSR_OK; i++) {
        char *full = gosr_asprintf("%s/%s", dir, w->e[i].path);
        if (!full)
            return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "tree");
        rc = store__put_file(st, full, &w->e[i].file_id, &w->e[i].size, err);
        gosr_free(full);
    }
    gosr_buf node = {0};
    if (rc == GOSR_OK && (rc = tree_encode(w->e, w->n, &node)) != GOSR_OK)
        gosr_error_set(err, rc, "out_of_memory", "tree node");
    if (rc == GOSR_OK) {
        gosr_blake3_hash(node.data, node.len, root);
        rc = store__put_hashed(st, GOSR_OBJ_TREE, root, node.data, node.len,
                               NULL, err);
    }
    gosr_buf_free(&node);
    return rc;
}

int store__put_tree(gosr_store *st, const char *dir, gosr_hash *root,
                    gosr_error *err)
{
    if (!st || !dir || !root)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "put");
    walk w = {0};
    int rc = walk_dir(&w, dir, "", err);
    if (rc == GOSR_OK) {
        qsort(w.e, w.n, sizeof *w.e, entry_cmp);
        rc = store__begin(st, err);
        if (rc == GOSR_OK) {
            rc = put_walked(st, dir, &w, root, err);
            if (rc == GOSR_OK)
                rc = store__commit(st, err);
            else
                store__rollback(st);
        }
    }
    store__tree_entries_free(w.e, w.n);
    return rc;
}

/* Checks sorted entries: strictly increasing safe paths, files present. */
static int check_entries(gosr_store *st, const gosr_tree_entry *e, size_t n,
                         gosr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!gosr_path_is_safe(e[i].path, strlen(e[i].path)) ||
            (i > 0 && strcmp(e[i - 1].path, e[i].path) >= 0))
            return gosr_error_set(err, GOSR_EINVAL, "tree_bad_entries",
                                  "entry '%s' is unsafe or repeated",
                                  e[i].path);
        if (!store__has(st, &e[i].file_id))
            return gosr_error_set(err, GOSR_ENOENT, "tree_file_missing",
                                  "the file of '%s' is not in the store",
                                  e[i].path);
    }
    return GOSR_OK;
}

int store__put_tree_entries(gosr_store *st, const gosr_tree_entry *entries,
                            size_t n, gosr_hash *root, gosr_error *err)
{
    if (!st || (!entries && n) || !root)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "put");
    gosr_tree_entry *e = gosr_malloc((n ? n : 1) * sizeof *e);
    gosr_buf node = {0};
    if (!e)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "entries");
    if (n)
        memcpy(e, entries, n * sizeof *e);
    qsort(e, n, sizeof *e, entry_cmp);
    int rc = check_entries(st, e, n, err);
    if (rc == GOSR_OK && (rc = tree_encode(e, n, &node)) != GOSR_OK)
        gosr_error_set(err, rc, "out_of_memory", "tree node");
    if (rc == GOSR_OK) {
        gosr_blake3_hash(node.data, node.len, root);
        rc = store__begin(st, err);
    }
    if (rc == GOSR_OK) {
        rc = store__put_hashed(st, GOSR_OBJ_TREE, root, node.data, node.len,
                               NULL, err);
        if (rc == GOSR_OK)
            rc = store__commit(st, err);
        else
            store__rollback(st);
    }
    gosr_buf_free(&node);
    gosr_free(e);
    return rc;
}
