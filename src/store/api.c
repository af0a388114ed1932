/*
 * api.c — the public gosr_store_* calls (all but open and close, which
 * are in store.c): each locks the handle's recursive mutex, calls its
 * unlocked store__ body and unlocks, so one open store may be shared by
 * the threads of a process and every call is atomic with respect to the
 * others on that handle. Recursive, because the callbacks of the walks
 * (tree_foreach, foreach, ref_foreach, fsck) and the put progress
 * callback run with the lock held and may call back into the same handle
 * on the same thread. Arguments, ownership and results of each call are
 * documented in gosr/store.h.
 * Design: docs/store.md ("Threads").
 */
#include "store_int.h"

/* A recursive mutex made by gosr_store_open fails to lock only when its
 * recursion count overflows or the handle is corrupt or closed (a
 * caller's bug); like the rest of the codebase we do not check. */
static void lock(gosr_store *st)
{
    pthread_mutex_lock(&st->mu);
}

static void unlock(gosr_store *st)
{
    pthread_mutex_unlock(&st->mu);
}

/* The result of a call made with a NULL handle. */
static int no_store(gosr_error *err, const char *call)
{
    return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "%s: no store",
                          call);
}

/* ---- objects ------------------------------------------------------------ */

int gosr_store_put_chunk(gosr_store *st, const uint8_t *data, size_t len,
                         gosr_hash *id, gosr_error *err)
{
    if (!st)
        return no_store(err, "put_chunk");
    lock(st);
    int rc = store__put_chunk(st, data, len, id, err);
    unlock(st);
    return rc;
}

int gosr_store_get_chunk(gosr_store *st, const gosr_hash *id, gosr_buf *out,
                         gosr_error *err)
{
    if (!st)
        return no_store(err, "get_chunk");
    lock(st);
    int rc = store__get_chunk(st, id, out, err);
    unlock(st);
    return rc;
}

int gosr_store_read_range(gosr_store *st, const gosr_hash *id, uint64_t off,
                          size_t len, gosr_buf *out, gosr_error *err)
{
    if (!st)
        return no_store(err, "read_range");
    lock(st);
    int rc = store__read_range(st, id, off, len, out, err);
    unlock(st);
    return rc;
}

bool gosr_store_has(gosr_store *st, const gosr_hash *id)
{
    if (!st)
        return false;
    lock(st);
    bool yes = store__has(st, id);
    unlock(st);
    return yes;
}

int gosr_store_put_object(gosr_store *st, gosr_obj_kind kind,
                          const uint8_t *data, size_t len, gosr_hash *id,
                          gosr_error *err)
{
    if (!st)
        return no_store(err, "put_object");
    lock(st);
    int rc = store__put_object(st, kind, data, len, id, err);
    unlock(st);
    return rc;
}

int gosr_store_get_object(gosr_store *st, const gosr_hash *id,
                          gosr_obj_kind *kind, gosr_buf *out, gosr_error *err)
{
    if (!st)
        return no_store(err, "get_object");
    lock(st);
    int rc = store__get_object(st, id, kind, out, err);
    unlock(st);
    return rc;
}

int gosr_store_foreach(gosr_store *st, gosr_store_obj_fn fn, void *ud,
                       gosr_error *err)
{
    if (!st)
        return no_store(err, "foreach");
    lock(st);
    int rc = store__foreach(st, fn, ud, err);
    unlock(st);
    return rc;
}

/* ---- files and trees ---------------------------------------------------- */

int gosr_store_put_buffer(gosr_store *st, const uint8_t *data, size_t len,
                          gosr_hash *file_id, gosr_error *err)
{
    if (!st)
        return no_store(err, "put_buffer");
    lock(st);
    int rc = store__put_buffer(st, data, len, file_id, err);
    unlock(st);
    return rc;
}

int gosr_store_put_fd(gosr_store *st, int fd, gosr_hash *file_id,
                      uint64_t *size, gosr_error *err)
{
    if (!st)
        return no_store(err, "put_fd");
    lock(st);
    int rc = store__put_fd(st, fd, file_id, size, err);
    unlock(st);
    return rc;
}

int gosr_store_put_file(gosr_store *st, const char *path, gosr_hash *file_id,
                        uint64_t *size, gosr_error *err)
{
    if (!st)
        return no_store(err, "put_file");
    lock(st);
    int rc = store__put_file(st, path, file_id, size, err);
    unlock(st);
    return rc;
}

int gosr_store_put_tree(gosr_store *st, const char *dir, gosr_hash *root,
                        gosr_error *err)
{
    if (!st)
        return no_store(err, "put_tree");
    lock(st);
    int rc = store__put_tree(st, dir, root, err);
    unlock(st);
    return rc;
}

int gosr_store_put_tree_entries(gosr_store *st,
                                const gosr_tree_entry *entries, size_t n,
                                gosr_hash *root, gosr_error *err)
{
    if (!st)
        return no_store(err, "put_tree_entries");
    lock(st);
    int rc = store__put_tree_entries(st, entries, n, root, err);
    unlock(st);
    return rc;
}

int gosr_store_get_file(gosr_store *st, const gosr_hash *file_id,
                        const char *path, uint32_t mode, gosr_error *err)
{
    if (!st)
        return no_store(err, "get_file");
    lock(st);
    int rc = store__get_file(st, file_id, path, mode, err);
    unlock(st);
    return rc;
}

int gosr_store_get_tree(gosr_store *st, const gosr_hash *root, const char *dir,
                        gosr_error *err)
{
    if (!st)
        return no_store(err, "get_tree");
    lock(st);
    int rc = store__get_tree(st, root, dir, err);
    unlock(st);
    return rc;
}

int gosr_store_file_chunks(gosr_store *st, const gosr_hash *file_id,
                           gosr_chunk_ref **chunks, size_t *n, gosr_error *err)
{
    if (!st)
        return no_store(err, "file_chunks");
    lock(st);
    int rc = store__file_chunks(st, file_id, chunks, n, err);
    unlock(st);
    return rc;
}

int gosr_store_tree_foreach(gosr_store *st, const gosr_hash *root,
                            gosr_store_tree_fn fn, void *ud, gosr_error *err)
{
    if (!st)
        return no_store(err, "tree_foreach");
    lock(st);
    int rc = store__tree_foreach(st, root, fn, ud, err);
    unlock(st);
    return rc;
}

/* ---- refs --------------------------------------------------------------- */

int gosr_store_ref_set(gosr_store *st, const char *name, const gosr_hash *root,
                       gosr_error *err)
{
    if (!st)
        return no_store(err, "ref_set");
    lock(st);
    int rc = store__ref_set(st, name, root, err);
    unlock(st);
    return rc;
}

int gosr_store_ref_get(gosr_store *st, const char *name, gosr_hash *root,
                       gosr_error *err)
{
    if (!st)
        return no_store(err, "ref_get");
    lock(st);
    int rc = store__ref_get(st, name, root, err);
    unlock(st);
    return rc;
}

int gosr_store_ref_delete(gosr_store *st, const char *name, gosr_error *err)
{
    if (!st)
        return no_store(err, "ref_delete");
    lock(st);
    int rc = store__ref_delete(st, name, err);
    unlock(st);
    return rc;
}

int gosr_store_ref_foreach(gosr_store *st, gosr_store_ref_fn fn, void *ud,
                           gosr_error *err)
{
    if (!st)
        return no_store(err, "ref_foreach");
    lock(st);
    int rc = store__ref_foreach(st, fn, ud, err);
    unlock(st);
    return rc;
}

/* ---- stats, fsck, gc ---------------------------------------------------- */

int gosr_store_stat(gosr_store *st, gosr_store_stats *out, gosr_error *err)
{
    if (!st)
        return no_store(err, "stat");
    lock(st);
    int rc = store__stat(st, out, err);
    unlock(st);
    return rc;
}

int gosr_store_fsck(gosr_store *st, gosr_store_fsck_fn fn, void *ud,
                    gosr_store_fsck_report *rep, gosr_error *err)
{
    if (!st)
        return no_store(err, "fsck");
    lock(st);
    int rc = store__fsck(st, fn, ud, rep, err);
    unlock(st);
    return rc;
}

int gosr_store_gc(gosr_store *st, gosr_store_gc_report *rep, gosr_error *err)
{
    if (!st)
        return no_store(err, "gc");
    lock(st);
    int rc = store__gc(st, rep, err);
    unlock(st);
    return rc;
}
