/*
 * get.c — reading manifests back: decode a file node into its chunk list,
 * iterate a tree node, and materialise a file or a whole tree on disk
 * (each file written to a temporary name, fsynced and renamed, every
 * chunk verified on the way). The public calls here are the unlocked
 * store__ bodies behind api.c. Design: docs/store.md ("Merkle manifests").
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Fetches an object and checks it is of kind `want`. */
static int get_kind(gosr_store *st, const gosr_hash *id, gosr_obj_kind want,
                    gosr_buf *out, gosr_error *err)
{
    gosr_obj_kind kind;
    int rc = store__get_object(st, id, &kind, out, err);
    if (rc == GOSR_OK && kind != want)
        rc = gosr_error_set(err, GOSR_EINVAL, "object_wrong_kind",
                            "object is a %s, not a %s",
                            kind == GOSR_OBJ_CHUNK  ? "chunk"
                            : kind == GOSR_OBJ_FILE ? "file"
                                                    : "tree",
                            want == GOSR_OBJ_FILE ? "file" : "tree");
    return rc;
}

int store__file_chunks(gosr_store *st, const gosr_hash *file_id,
                       gosr_chunk_ref **chunks, size_t *n, gosr_error *err)
{
    gosr_buf b = {0};
    int rc = get_kind(st, file_id, GOSR_OBJ_FILE, &b, err);
    if (rc == GOSR_OK)
        rc = store__file_decode(b.data, b.len, chunks, n, err);
    gosr_buf_free(&b);
    return rc;
}

int store__tree_foreach(gosr_store *st, const gosr_hash *root,
                        gosr_store_tree_fn fn, void *ud, gosr_error *err)
{
    gosr_buf b = {0};
    gosr_tree_entry *e = NULL;
    size_t n = 0;
    int rc = get_kind(st, root, GOSR_OBJ_TREE, &b, err);
    if (rc == GOSR_OK)
        rc = store__tree_decode(b.data, b.len, &e, &n, err);
    for (size_t i = 0; rc == GOSR_OK && i < n; i++)
        rc = fn(ud, &e[i]);
    store__tree_entries_free(e, n);
    gosr_buf_free(&b);
    return rc;
}

/* Writes every chunk of the file to fd; checks lengths (and the total
 * against want_size unless it is UINT64_MAX). */
static int write_chunks(gosr_store *st, const gosr_chunk_ref *c, size_t n,
                        int fd, uint64_t want_size, gosr_error *err)
{
    gosr_buf b = {0};
    uint64_t total = 0;
    int rc = GOSR_OK;
    for (size_t i = 0; i < n && rc == GOSR_OK; i++) {
        b.len = 0;
        rc = store__get_chunk(st, &c[i].id, &b, err);
        if (rc == GOSR_OK && b.len != c[i].len)
            rc = gosr_error_set(err, GOSR_ECORRUPT, "chunk_length_mismatch",
                                "chunk %zu is %zu bytes, node says %u", i,
                                b.len, c[i].len);
        if (rc == GOSR_OK && (rc = gosr_io_write_all(fd, b.data, b.len)))
            gosr_error_set(err, rc, "get_write_failed", "write: %s",
                           gosr_strerror(rc));
        total += b.len;
    }
    if (rc == GOSR_OK && want_size != UINT64_MAX && total != want_size)
        rc = gosr_error_set(err, GOSR_ECORRUPT, "file_size_mismatch",
                            "file is %llu bytes, tree says %llu",
                            (unsigned long long)total,
                            (unsigned long long)want_size);
    gosr_buf_free(&b);
    return rc;
}

static int get_file_sized(gosr_store *st, const gosr_hash *file_id,
                          const char *path, uint32_t mode, uint64_t want_size,
                          gosr_error *err)
{
    gosr_chunk_ref *c = NULL;
    size_t n = 0;
    int rc = store__file_chunks(st, file_id, &c, &n, err);
    if (rc != GOSR_OK)
        return rc;
    char *tmp = gosr_asprintf("%s.gosr-tmp.%d", path, (int)getpid());
    int fd = tmp ? gosr_io()->open(tmp, O_WRONLY | O_CREAT | O_TRUNC,
                                   (mode & 0111) ? 0755 : 0644)
                 : -1;
    if (fd < 0) {
        rc = gosr_error_set(err,
                            tmp ? gosr_status_from_errno(errno) : GOSR_ENOMEM,
                            "get_open_failed", "cannot create %s", path);
        goto out_free;
    }
    rc = write_chunks(st, c, n, fd, want_size, err);
    if (rc == GOSR_OK && gosr_io()->fsync(fd) != 0)
        rc = gosr_error_set(err, gosr_status_from_errno(errno),
                            "get_write_failed", "fsync %s", tmp);
    gosr_io()->close(fd);
    if (rc == GOSR_OK && gosr_io()->rename(tmp, path) != 0)
        rc = gosr_error_set(err, gosr_status_from_errno(errno),
                            "get_write_failed", "rename to %s", path);
    if (rc == GOSR_OK)
        gosr_fsync_dir(path);
    else
        gosr_io()->unlink(tmp);
out_free:
    gosr_free(tmp);
    gosr_free(c);
    return rc;
}

int store__get_file(gosr_store *st, const gosr_hash *file_id, const char *path,
                    uint32_t mode, gosr_error *err)
{
    if (!st || !file_id || !path)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "get");
    return get_file_sized(st, file_id, path, mode, UINT64_MAX, err);
}

/* State for materialising a tree. */
typedef struct get_tree_ctx {
    gosr_store *st;  /* the store */
    const char *dir; /* destination directory */
    gosr_error *err; /* where failures go */
} get_tree_ctx;

static int get_tree_entry(void *ud, const gosr_tree_entry *e)
{
    get_tree_ctx *g = ud;
    char *path = gosr_asprintf("%s/%s", g->dir, e->path);
    if (!path)
        return gosr_error_set(g->err, GOSR_ENOMEM, "out_of_memory", "tree");
    char *slash = strrchr(path, '/');
    int rc = GOSR_OK;
    *slash = 0;
    if ((rc = gosr_mkdir_p(path, 0755)) != GOSR_OK)
        gosr_error_set(g->err, rc, "get_mkdir_failed", "cannot create %s",
                       path);
    *slash = '/';
    if (rc == GOSR_OK)
        rc = get_file_sized(g->st, &e->file_id, path, e->mode, e->size, g->err);
    gosr_free(path);
    return rc;
}

int store__get_tree(gosr_store *st, const gosr_hash *root, const char *dir,
                    gosr_error *err)
{
    if (!st || !root || !dir)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "get");
    int rc = gosr_mkdir_p(dir, 0755);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "get_mkdir_failed", "cannot create %s",
                              dir);
    get_tree_ctx g = {st, dir, err};
    return store__tree_foreach(st, root, get_tree_entry, &g, err);
}
