/*
 * unpack.c — extraction of a bundle while it is verified: every file is
 * created empty in a fresh staging directory beside the target, each chunk
 * (already decoded and hash-checked by the reader) is written at every
 * offset where the manifest places it, and only when the whole bundle has
 * verified (end included) is the staging directory renamed to the target.
 * The bundle is never held in memory as a whole.
 * Design: docs/gmod.md ("Unpacking").
 */
#include "gmod/gmod_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where one chunk goes: a file and an offset in it. */
typedef struct place {
    uint32_t file; /* file index */
    uint64_t off;  /* byte offset */
} place;

/* The extraction in progress. */
typedef struct unpacker {
    gosr_gmod_reader *r; /* verifying reader (owned) */
    char *staging;       /* staging directory (owned) */
    uint32_t *first;     /* per chunk: start in places (nchunks + 1) */
    place *places;       /* occurrences grouped by chunk */
} unpacker;

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Builds the chunk -> places table (counting sort by chunk). */
static int build_places(unpacker *u, gosr_error *err)
{
    size_t nf = gosr_gmod_reader_nfiles(u->r);
    size_t nc = gosr_gmod_reader_nchunks(u->r), total = 0;
    gosr_gmod_file f;
    u->first = gosr_calloc(nc + 2, sizeof *u->first);
    for (size_t i = 0; u->first && i < nf; i++) {
        gosr_gmod_reader_file(u->r, i, &f);
        for (uint32_t j = 0; j < f.nchunks; j++)
            u->first[f.chunks[j] + 2]++;
        total += f.nchunks;
    }
    u->places = gosr_calloc(total + 1, sizeof *u->places);
    if (!u->first || !u->places)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "places");
    for (size_t c = 2; c < nc + 2; c++)
        u->first[c] += u->first[c - 1];
    for (size_t i = 0; i < nf; i++) {
        gosr_gmod_reader_file(u->r, i, &f);
        uint64_t off = 0;
        for (uint32_t j = 0; j < f.nchunks; j++) {
            gosr_gmod_chunk c;
            gosr_gmod_reader_chunk(u->r, f.chunks[j], &c);
            u->places[u->first[f.chunks[j] + 1]++] = (place){(uint32_t)i, off};
            off += c.plain_len;
        }
    }
    return GOSR_OK;
}

static char *staged(const unpacker *u, uint32_t file)
{
    gosr_gmod_file f;
    gosr_gmod_reader_file(u->r, file, &f);
    return gosr_asprintf("%s/%s", u->staging, f.path);
}

/* Creates every file (and its directories) empty. */
static int create_files(unpacker *u, gosr_error *err)
{
    for (uint32_t i = 0; i < gosr_gmod_reader_nfiles(u->r); i++) {
        char *p = staged(u, i);
        char *slash = p ? strrchr(p, '/') : NULL;
        int rc = p ? GOSR_OK : GOSR_ENOMEM;
        if (rc == GOSR_OK) {
            *slash = '\0';
            rc = gosr_mkdir_p(p, 0755);
            *slash = '/';
        }
        int fd =
            rc == GOSR_OK
                ? open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                       0600)
                : -1;
        if (fd < 0 && rc == GOSR_OK)
            rc = gosr_status_from_errno(errno);
        if (fd >= 0)
            close(fd);
        if (rc != GOSR_OK) {
            gosr_error_set(err, rc, "unpack_io", "cannot create %.200s",
                           p ? p : "(nomem)");
            gosr_free(p);
            return rc;
        }
        gosr_free(p);
    }
    return GOSR_OK;
}

static int write_at(const char *path, const uint8_t *d, size_t n, uint64_t off)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return gosr_status_from_errno(errno);
    int rc = GOSR_OK;
    while (rc == GOSR_OK && n > 0) {
        ssize_t w = pwrite(fd, d, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = w < 0 ? gosr_status_from_errno(errno) : GOSR_EIO;
        else {
            d += w;
            n -= (size_t)w;
            off += (uint64_t)w;
        }
    }
    close(fd);
    return rc;
}

/* Pulls every chunk and writes it at each of its places. */
static int fill_files(unpacker *u, gosr_error *err)
{
    for (;;) {
        bool done;
        uint32_t c;
        const uint8_t *d;
        size_t n;
        int rc = gosr_gmod_reader_next(u->r, &done, &c, &d, &n, err);
        if (rc != GOSR_OK || done)
            return rc;
        for (uint32_t k = u->first[c]; k < u->first[c + 1]; k++) {
            char *p = staged(u, u->places[k].file);
            rc = p ? write_at(p, d, n, u->places[k].off) : GOSR_ENOMEM;
            gosr_free(p);
            if (rc != GOSR_OK)
                return gosr_error_set(err, rc, "unpack_io",
                                      "writing chunk %u: %s", c,
                                      gosr_strerror(rc));
        }
    }
}

static int set_modes(unpacker *u, gosr_error *err)
{
    for (uint32_t i = 0; i < gosr_gmod_reader_nfiles(u->r); i++) {
        gosr_gmod_file f;
        gosr_gmod_reader_file(u->r, i, &f);
        char *p = staged(u, i);
        int rc = !p ? GOSR_ENOMEM : chmod(p, f.mode) == 0 ? GOSR_OK : GOSR_EIO;
        gosr_free(p);
        if (rc != GOSR_OK)
            return gosr_error_set(err, rc, "unpack_io", "chmod %.200s", f.path);
    }
    return GOSR_OK;
}

static int extract(unpacker *u, const char *out_dir, gosr_error *err)
{
    int rc = build_places(u, err);
    if (rc == GOSR_OK)
        rc = create_files(u, err);
    if (rc == GOSR_OK)
        rc = fill_files(u, err);
    if (rc == GOSR_OK)
        rc = set_modes(u, err);
    if (rc == GOSR_OK && chmod(u->staging, 0755) != 0) /* mkdtemp gave 0700 */
        rc = gosr_error_set(err, gosr_status_from_errno(errno), "unpack_io",
                            "chmod %s: %s", u->staging, strerror(errno));
    if (rc == GOSR_OK && rename(u->staging, out_dir) != 0)
        rc = gosr_error_set(err, gosr_status_from_errno(errno), "unpack_io",
                            "rename to %s: %s", out_dir, strerror(errno));
    if (rc == GOSR_OK)
        gosr_fsync_dir(out_dir);
    return rc;
}

int gosr_gmod_unpack(const char *path, const char *out_dir,
                     const gosr_gmod_verify_opts *o, gosr_error *err)
{
    struct stat st;
    if (lstat(out_dir, &st) == 0)
        return gosr_error_set(err, GOSR_EEXIST, "unpack_target_exists",
                              "%s already exists", out_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gosr_error_set(err, gosr_status_from_errno(errno), "bundle_io",
                              "cannot open %s: %s", path, strerror(errno));
    unpacker u = {0};
    int rc = gosr_gmod_reader_open_fd(fd, o, &u.r, err);
    if (rc == GOSR_OK) {
        u.staging = gosr_asprintf("%s.unpack-XXXXXX", out_dir);
        if (!u.staging || !mkdtemp(u.staging))
            rc = gosr_error_set(err, u.staging ? GOSR_EIO : GOSR_ENOMEM,
                                "unpack_io",
                                "cannot create a staging directory beside "
                                "%s",
                                out_dir);
        else if ((rc = extract(&u, out_dir, err)) != GOSR_OK)
            rm_tree(u.staging);
    }
    gosr_free(u.staging);
    gosr_free(u.first);
    gosr_free(u.places);
    gosr_gmod_reader_destroy(u.r);
    close(fd);
    return rc;
}
