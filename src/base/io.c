/*
 * io.c — file I/O routed through a replaceable ops table (so tests can
 * inject short writes, ENOSPC, EIO or a crash at a chosen call), plus the
 * helpers built on it: write-all, read-exact, read-whole-file, atomic
 * replace, directory fsync and mkdir -p. Design: docs/base.md ("File I/O").
 */
#include "gosr/base.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int posix_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags | O_CLOEXEC, mode);
}

static const gosr_io_ops posix_ops = {
    .open = posix_open,
    .read = read,
    .write = write,
    .pread = pread,
    .pwrite = pwrite,
    .fsync = fsync,
    .close = close,
    .rename = rename,
    .unlink = unlink,
    .ftruncate = ftruncate,
};

static const gosr_io_ops *g_ops = &posix_ops;

const gosr_io_ops *gosr_io(void)
{
    return g_ops;
}

void gosr_io_set_ops(const gosr_io_ops *ops)
{
    g_ops = ops ? ops : &posix_ops;
}

int gosr_io_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = g_ops->write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return gosr_status_from_errno(errno);
        }
        if (w == 0)
            return GOSR_EIO;
        b += w;
        n -= (size_t)w;
    }
    return GOSR_OK;
}

int gosr_io_read_exact(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = g_ops->read(fd, b, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return gosr_status_from_errno(errno);
        }
        if (r == 0)
            return GOSR_EFORMAT;
        b += r;
        n -= (size_t)r;
    }
    return GOSR_OK;
}

/* Reads fd into buf up to cap-1 bytes; more is why->too_big. */
static int read_capped(int fd, const char *path, const gosr_secret_reasons *why,
                       char *buf, size_t cap, size_t *len, gosr_error *err)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = gosr_io()->read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return gosr_error_set(err, gosr_status_from_errno(errno),
                                  why->unreadable, "cannot read %s: %s", path,
                                  strerror(errno));
        n += (size_t)r;
        if (r == 0 || n == cap)
            break;
    }
    if (n == cap) { /* cap-1 bytes plus at least one more */
        buf[cap - 1] = '\0';
        return gosr_error_set(err, GOSR_EFORMAT, why->too_big,
                              "%s is too large to be a secret file", path);
    }
    buf[n] = '\0';
    *len = n;
    return GOSR_OK;
}

int gosr_secret_read(const char *path, bool no_follow,
                     const gosr_secret_reasons *why, char *buf, size_t cap,
                     size_t *len, gosr_error *err)
{
    *len = 0;
    if (cap < 2)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "cap");
    buf[0] = '\0';
    int fd = gosr_io()->open(path, O_RDONLY | (no_follow ? O_NOFOLLOW : 0), 0);
    if (fd < 0)
        return gosr_error_set(err, gosr_status_from_errno(errno),
                              why->unreadable, "cannot open %s: %s", path,
                              strerror(errno));
    struct stat st;
    int rc = GOSR_OK;
    if (fstat(fd, &st) != 0)
        rc = gosr_error_set(err, gosr_status_from_errno(errno),
                            why->unreadable, "cannot stat %s: %s", path,
                            strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = gosr_error_set(err, GOSR_EFORMAT, why->not_file,
                            "%s is not a regular file", path);
    else if (st.st_mode & 077)
        rc = gosr_error_set(err, GOSR_EDENIED, why->mode,
                            "%s has mode %04o; a secret must not be "
                            "accessible to group or others (chmod 600)",
                            path, (unsigned)(st.st_mode & 07777));
    if (rc == GOSR_OK)
        rc = read_capped(fd, path, why, buf, cap, len, err);
    gosr_io()->close(fd);
    return rc;
}

int gosr_file_read_all(const char *path, size_t max, uint8_t **out,
                       size_t *len)
{
    int fd = g_ops->open(path, O_RDONLY, 0);
    if (fd < 0)
        return gosr_status_from_errno(errno);
    gosr_buf b = {0};
    int rc = GOSR_OK;
    for (;;) {
        if ((rc = gosr_buf_reserve(&b, 65536)) != GOSR_OK)
            break;
        ssize_t r = g_ops->read(fd, b.data + b.len, 65536);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = gosr_status_from_errno(errno);
            break;
        }
        if (r == 0)
            break;
        b.len += (size_t)r;
        if (b.len > max) {
            rc = GOSR_ETOOBIG;
            break;
        }
    }
    g_ops->close(fd);
    if (rc == GOSR_OK && (rc = gosr_buf_reserve(&b, 0)) == GOSR_OK) {
        b.data[b.len] = '\0';
        *out = b.data;
        *len = b.len;
        return GOSR_OK;
    }
    gosr_buf_free(&b);
    return rc;
}

int gosr_fsync_dir(const char *path)
{
    char tmp[PATH_MAX];
    struct stat st;
    snprintf(tmp, sizeof tmp, "%s", path);
    const char *dir = tmp;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        dir = dirname(tmp);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return gosr_status_from_errno(errno);
    int rc = g_ops->fsync(fd) == 0 ? GOSR_OK : gosr_status_from_errno(errno);
    close(fd);
    return rc;
}

int gosr_file_write_atomic(const char *path, const void *p, size_t n,
                           mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >=
        (int)sizeof tmp)
        return GOSR_EINVAL;
    int fd = g_ops->open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return gosr_status_from_errno(errno);
    int rc = gosr_io_write_all(fd, p, n);
    if (rc == GOSR_OK && g_ops->fsync(fd) != 0)
        rc = gosr_status_from_errno(errno);
    if (g_ops->close(fd) != 0 && rc == GOSR_OK)
        rc = gosr_status_from_errno(errno);
    if (rc == GOSR_OK && g_ops->rename(tmp, path) != 0)
        rc = gosr_status_from_errno(errno);
    if (rc != GOSR_OK) {
        g_ops->unlink(tmp);
        return rc;
    }
    return gosr_fsync_dir(path);
}

int gosr_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof tmp)
        return GOSR_EINVAL;
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return gosr_status_from_errno(errno);
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return gosr_status_from_errno(errno);
    return GOSR_OK;
}
