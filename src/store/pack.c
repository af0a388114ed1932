/*
 * pack.c — pack files: append-only files of records (88-byte header with a
 * checksum, then the payload). Appends go to the newest pack; the index
 * row for a record is committed only after the pack is fsynced, and the
 * committed length of each pack lives in the index (`packs` table), so
 * recovery on open truncates every pack to its committed length and
 * deletes packs the index does not know. All file I/O goes through
 * gosr_io() for fault injection. Design: docs/store.md ("Pack files",
 * "Crash safety").
 */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- record header ----------------------------------------------------------
 */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

void store__rec_encode(const store_rec *r, uint8_t out[STORE_REC_HDR])
{
    memcpy(out, STORE_REC_MAGIC, 4);
    out[4] = STORE_REC_VERSION;
    out[5] = r->kind;
    out[6] = r->codec;
    out[7] = r->flags;
    put32(out + 8, r->plain_len);
    put32(out + 12, r->stored_len);
    memcpy(out + 16, r->loc.b, 32);
    memcpy(out + 48, r->idm.b, 32);
    gosr_hash check;
    gosr_blake3_hash(out, 80, &check);
    memcpy(out + 80, check.b, 8);
}

/* GOSR_ECORRUPT for a bad magic, version, checksum or field value. */
int store__rec_decode(const uint8_t in[STORE_REC_HDR], store_rec *r)
{
    gosr_hash check;
    gosr_blake3_hash(in, 80, &check);
    if (memcmp(in, STORE_REC_MAGIC, 4) != 0 || in[4] != STORE_REC_VERSION ||
        memcmp(in + 80, check.b, 8) != 0 || in[5] > GOSR_OBJ_TREE ||
        in[6] > GOSR_CODEC_BROTLI || (in[7] & ~STORE_FLAG_ENCRYPTED))
        return GOSR_ECORRUPT;
    r->kind = in[5];
    r->codec = in[6];
    r->flags = in[7];
    r->plain_len = get32(in + 8);
    r->stored_len = get32(in + 12);
    memcpy(r->loc.b, in + 16, 32);
    memcpy(r->idm.b, in + 48, 32);
    return GOSR_OK;
}

/* ---- low-level I/O
 * ------------------------------------------------------------ */

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = gosr_io()->pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return gosr_status_from_errno(errno);
        if (w == 0)
            return GOSR_EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return GOSR_OK;
}

static int pread_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t r = gosr_io()->pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return gosr_status_from_errno(errno);
        if (r == 0)
            return GOSR_ECORRUPT; /* the index points past the file end */
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return GOSR_OK;
}

/* ---- appends
 * --------------------------------------------------------------------- */

static int64_t max_pack_id(gosr_store *st)
{
    sqlite3_stmt *s = NULL;
    int64_t id = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT coalesce(max(id),0) FROM packs", -1,
                           &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return id;
}

/* Opens the pack to append to: the current one if it has room, else a
 * new one (after syncing the full one inside this transaction). */
static int open_writer(gosr_store *st, gosr_error *err)
{
    if (st->w_fd >= 0 && st->w_size < st->cfg.pack_max)
        return GOSR_OK;
    int rc = store__pack_sync(st, err);
    if (rc != GOSR_OK)
        return rc;
    if (st->w_fd >= 0) {
        gosr_io()->close(st->w_fd);
        st->w_fd = -1;
    }
    bool fresh = st->w_pack == 0 || st->w_committed >= st->cfg.pack_max ||
                 st->w_size >= st->cfg.pack_max;
    if (fresh) {
        int64_t next = max_pack_id(st);
        st->w_pack = (next > st->w_pack ? next : st->w_pack) + 1;
        st->w_size = st->w_committed = 0;
    }
    char *path = store__pack_path(st, st->w_pack);
    if (!path)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "pack");
    int fd =
        gosr_io()->open(path, O_WRONLY | O_CREAT | (fresh ? O_TRUNC : 0), 0644);
    if (fd < 0)
        rc = gosr_error_set(err, gosr_status_from_errno(errno), "pack_open",
                            "cannot open %s: %s", path, strerror(errno));
    gosr_free(path);
    if (rc != GOSR_OK)
        return rc;
    st->w_fd = fd;
    st->w_new_file = st->w_new_file || fresh;
    return GOSR_OK;
}

int store__pack_append(gosr_store *st, const store_rec *r,
                       const uint8_t *payload, int64_t *pack, int64_t *off,
                       gosr_error *err)
{
    int rc = open_writer(st, err);
    if (rc != GOSR_OK)
        return rc;
    uint8_t hdr[STORE_REC_HDR];
    store__rec_encode(r, hdr);
    rc = pwrite_all(st->w_fd, hdr, sizeof hdr, st->w_size);
    if (rc == GOSR_OK && r->stored_len)
        rc = pwrite_all(st->w_fd, payload, r->stored_len,
                        st->w_size + STORE_REC_HDR);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "pack_write_failed",
                              "writing pack %lld: %s", (long long)st->w_pack,
                              gosr_strerror(rc));
    *pack = st->w_pack;
    *off = (int64_t)st->w_size;
    st->w_size += STORE_REC_HDR + (uint64_t)r->stored_len;
    st->w_dirty = true;
    return GOSR_OK;
}

/* fsyncs the pack written in this transaction (and the packs directory
 * for a new file) and records its length in the index. */
int store__pack_sync(gosr_store *st, gosr_error *err)
{
    if (!st->w_dirty)
        return GOSR_OK;
    int rc = GOSR_OK;
    if (gosr_io()->fsync(st->w_fd) != 0)
        rc = gosr_status_from_errno(errno);
    if (rc == GOSR_OK && st->w_new_file) {
        char *path = store__pack_path(st, st->w_pack);
        rc = path ? gosr_fsync_dir(path) : GOSR_ENOMEM;
        gosr_free(path);
    }
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "pack_sync_failed", "fsync pack: %s",
                              gosr_strerror(rc));
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO packs(id,size) VALUES(?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return store__sql_error(st, err, "packs");
    sqlite3_bind_int64(s, 1, st->w_pack);
    sqlite3_bind_int64(s, 2, (int64_t)st->w_size);
    int r = sqlite3_step(s);
    sqlite3_finalize(s);
    if (r != SQLITE_DONE)
        return store__sql_error(st, err, "packs");
    st->w_dirty = false;
    return GOSR_OK;
}

/* ---- reads
 * ---------------------------------------------------------------------------
 */

static int reader_fd(gosr_store *st, int64_t pack, int *fd, gosr_error *err)
{
    for (unsigned i = 0; i < STORE_NFD; i++) {
        if (st->fds[i].pack == pack) {
            *fd = st->fds[i].fd;
            return GOSR_OK;
        }
    }
    char *path = store__pack_path(st, pack);
    if (!path)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "pack");
    int f = gosr_io()->open(path, O_RDONLY, 0);
    int e = errno;
    gosr_free(path);
    if (f < 0)
        return gosr_error_set(err, GOSR_ECORRUPT, "pack_missing",
                              "pack %lld cannot be opened: %s", (long long)pack,
                              strerror(e));
    store_fd *slot = &st->fds[st->fd_next++ % STORE_NFD];
    if (slot->pack)
        gosr_io()->close(slot->fd);
    slot->pack = pack;
    slot->fd = f;
    *fd = f;
    return GOSR_OK;
}

int store__pack_read(gosr_store *st, int64_t pack, int64_t off, size_t n,
                     uint8_t *out, gosr_error *err)
{
    int fd = -1, rc = reader_fd(st, pack, &fd, err);
    if (rc != GOSR_OK)
        return rc;
    rc = pread_all(fd, out, n, (uint64_t)off);
    if (rc == GOSR_ECORRUPT)
        return gosr_error_set(err, rc, "pack_truncated",
                              "pack %lld ends before offset %lld+%zu",
                              (long long)pack, (long long)off, n);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "pack_read_failed", "pack %lld: %s",
                              (long long)pack, gosr_strerror(rc));
    return GOSR_OK;
}

void store__pack_close_all(gosr_store *st)
{
    for (unsigned i = 0; i < STORE_NFD; i++) {
        if (st->fds[i].pack)
            gosr_io()->close(st->fds[i].fd);
        st->fds[i].pack = 0;
    }
    if (st->w_fd >= 0)
        gosr_io()->close(st->w_fd);
    st->w_fd = -1;
    st->w_dirty = false;
    st->w_new_file = false;
}

/* ---- recovery
 * ------------------------------------------------------------------------- */

/* Committed size of pack `id`, or -1 when the index does not know it. */
static int64_t committed_size(gosr_store *st, int64_t id)
{
    sqlite3_stmt *s = NULL;
    int64_t size = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT size FROM packs WHERE id=?", -1, &s,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, id);
        if (sqlite3_step(s) == SQLITE_ROW)
            size = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return size;
}

/* Brings one pack file back to its committed state. */
static int recover_one(gosr_store *st, const char *name, gosr_error *err)
{
    char *end = NULL;
    long long id = strtoll(name, &end, 10);
    char *path = gosr_asprintf("%s/packs/%s", st->dir, name);
    if (!path)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "recover");
    int rc = GOSR_OK;
    int64_t want = (end && strcmp(end, ".pack") == 0 && id > 0)
                       ? committed_size(st, id)
                       : -1;
    struct stat sb;
    if (want < 0) {
        /* Unknown pack, temp file or GC leftover: never committed. */
        if (gosr_io()->unlink(path) != 0 && errno != ENOENT)
            rc = gosr_error_set(err, gosr_status_from_errno(errno),
                                "recover_unlink", "cannot remove %s", path);
    } else if (stat(path, &sb) == 0 && sb.st_size > want) {
        int fd = gosr_io()->open(path, O_WRONLY, 0);
        if (fd < 0 || gosr_io()->ftruncate(fd, (off_t)want) != 0 ||
            gosr_io()->fsync(fd) != 0)
            rc = gosr_error_set(err, gosr_status_from_errno(errno),
                                "recover_truncate", "cannot truncate %s", path);
        if (fd >= 0)
            gosr_io()->close(fd);
    }
    gosr_free(path);
    return rc;
}

int store__pack_recover(gosr_store *st, gosr_error *err)
{
    char *dirpath = gosr_asprintf("%s/packs", st->dir);
    if (!dirpath)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "recover");
    DIR *d = opendir(dirpath);
    gosr_free(dirpath);
    if (!d)
        return gosr_error_set(err, gosr_status_from_errno(errno), "store_open",
                              "cannot list packs");
    int rc = GOSR_OK;
    struct dirent *de;
    while (rc == GOSR_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.')
            rc = recover_one(st, de->d_name, err);
    }
    closedir(d);
    st->w_pack = max_pack_id(st);
    int64_t size = st->w_pack ? committed_size(st, st->w_pack) : 0;
    st->w_size = st->w_committed = size > 0 ? (uint64_t)size : 0;
    return rc;
}
