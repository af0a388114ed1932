/*
 * gosr/base.h — the base layer every subsystem stands on: status codes,
 * errors with machine-readable reasons, the replaceable allocator, logging,
 * monotonic time, hex, and file I/O routed through a fault-injectable ops
 * table.
 *
 * Design: docs/base.md (status table, error reasons, I/O fault injection).
 */
#ifndef GOSR_BASE_H
#define GOSR_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols of the public API are exported from libgosr.so; everything else is
 * hidden (the build uses -fvisibility=hidden). */
#define GOSR_API __attribute__((visibility("default")))

/* ---- status codes ------------------------------------------------------- */

/* X(NAME, value, "message"): the one table of status codes. 0 is success,
 * every error is negative. Names are stable and appear in --json output as
 * the table's names (GOSR_ECORRUPT -> "ECORRUPT"). */
#define GOSR_STATUS_MAP(X)                                                     \
    X(OK, 0, "success")                                                        \
    X(EINVAL, -1, "invalid argument")                                          \
    X(ENOMEM, -2, "out of memory")                                             \
    X(EIO, -3, "input/output error")                                           \
    X(ENOENT, -4, "not found")                                                 \
    X(EEXIST, -5, "already exists")                                            \
    X(ECORRUPT, -6, "data corrupt (hash or checksum mismatch)")                \
    X(EFORMAT, -7, "malformed input")                                          \
    X(ETOOBIG, -8, "size limit exceeded")                                      \
    X(ESIGNATURE, -9, "signature invalid")                                     \
    X(ECERT, -10, "certificate rejected")                                      \
    X(EREVOKED, -11, "key or certificate revoked")                             \
    X(EEXPIRED, -12, "expired or not yet valid")                               \
    X(EDENIED, -13, "not permitted")                                           \
    X(EUNSUPPORTED, -14, "not supported")                                      \
    X(EFAULT, -15, "script fault")                                             \
    X(EBUDGET, -16, "budget exhausted")                                        \
    X(ETIMEOUT, -17, "timed out")                                              \
    X(EBUSY, -18, "busy")                                                      \
    X(ECLOSED, -19, "closed")                                                  \
    X(EDEPENDENCY, -20, "dependency unresolved")                               \
    X(ESTATE, -21, "invalid state for this operation")                         \
    X(ENOSPC, -22, "no space left")                                            \
    X(EAGAIN, -23, "try again")                                                \
    X(EPROTO, -24, "protocol error")                                           \
    X(EINTERNAL, -25, "internal error")

typedef enum gosr_status {
#define GOSR__STATUS_ENUM(name, value, msg) GOSR_##name = value,
    GOSR_STATUS_MAP(GOSR__STATUS_ENUM)
#undef GOSR__STATUS_ENUM
} gosr_status;

/* Human message for a status ("out of memory"); never NULL. */
GOSR_API const char *gosr_strerror(int status);
/* Stable name of a status ("ENOMEM", "ECORRUPT"; "OK" for 0); never NULL. */
GOSR_API const char *gosr_status_name(int status);
/* Maps an errno value to the closest status (ENOSPC -> GOSR_ENOSPC ...). */
GOSR_API gosr_status gosr_status_from_errno(int err);

/* ---- errors with reasons ------------------------------------------------ */

/* Detail for a failure, filled by functions that take a `gosr_error *`.
 * `reason` is a machine-readable snake_case code (for example
 * "signature_invalid", "chunk_hash_mismatch"); `detail` is one human
 * sentence. Callers may pass NULL when they do not want detail. */
typedef struct gosr_error {
    int status;       /* the gosr_status returned alongside */
    char reason[64];  /* machine-readable reason code, NUL-terminated */
    char detail[384]; /* human sentence, NUL-terminated */
} gosr_error;

/* Clears an error to {OK, "", ""}. Accepts NULL. */
GOSR_API void gosr_error_clear(gosr_error *err);
/* Fills `err` (if not NULL) and returns `status`, so callers can write
 * `return gosr_error_set(err, GOSR_EFORMAT, "bad_magic", "...", ...)`. */
GOSR_API int gosr_error_set(gosr_error *err, int status, const char *reason,
                            const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* As gosr_error_set, but keeps an existing reason when `err` already holds
 * one (lets an inner layer's precise reason survive an outer wrapper). */
GOSR_API int gosr_error_wrap(gosr_error *err, int status, const char *reason,
                             const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- allocator ---------------------------------------------------------- */

/* A Lua-style allocator: nsize == 0 frees and returns NULL; otherwise it
 * behaves as realloc. `osize` is the old size when known, else 0. */
typedef void *(*gosr_realloc_fn)(void *ud, void *ptr, size_t osize,
                                 size_t nsize);
typedef struct gosr_allocator {
    gosr_realloc_fn fn; /* NULL = the C library's allocator */
    void *ud;           /* passed back to fn */
} gosr_allocator;

/* Replaces the process-wide allocator used by every subsystem. Not thread
 * safe: call before any other GOSR function, or from tests. NULL restores
 * the default. */
GOSR_API void gosr_set_allocator(const gosr_allocator *a);
/* Test hook: makes the Nth allocation from now fail (1 = the next one);
 * 0 disables. Counts across threads. */
GOSR_API void gosr_alloc_fail_after(long n);

/* Allocation through the current allocator. All return NULL on failure and
 * never abort. Memory from these is released with gosr_free. */
GOSR_API void *gosr_malloc(size_t n);
GOSR_API void *gosr_calloc(size_t count, size_t size);
GOSR_API void *gosr_realloc(void *p, size_t n);
GOSR_API void gosr_free(void *p);
/* Copies a string; caller frees with gosr_free. NULL on ENOMEM. */
GOSR_API char *gosr_strdup(const char *s);
GOSR_API char *gosr_strndup(const char *s, size_t n);
/* printf into a new string; caller frees with gosr_free. */
GOSR_API char *gosr_asprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* ---- growable byte buffer ----------------------------------------------- */

/* A growable byte buffer; zero-initialise, then append. Owns `data`. */
typedef struct gosr_buf {
    uint8_t *data; /* heap bytes, NULL when empty; NUL-terminated past len */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
} gosr_buf;

GOSR_API int gosr_buf_reserve(gosr_buf *b, size_t extra);
GOSR_API int gosr_buf_append(gosr_buf *b, const void *p, size_t n);
GOSR_API int gosr_buf_printf(gosr_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Frees the bytes and zeroes the buffer. Accepts NULL. */
GOSR_API void gosr_buf_free(gosr_buf *b);

/* ---- logging ------------------------------------------------------------ */

typedef enum gosr_log_level {
    GOSR_LOG_ERROR = 0,
    GOSR_LOG_WARN = 1,
    GOSR_LOG_INFO = 2,
    GOSR_LOG_DEBUG = 3,
} gosr_log_level;

/* Log sink: receives every record at or below the current level. */
typedef void (*gosr_log_fn)(void *ud, gosr_log_level level, const char *sub,
                            const char *msg);

/* Level defaults to WARN, or the GOSR_LOG environment variable
 * (error|warn|info|debug). Thread safe. */
GOSR_API void gosr_log_set_level(gosr_log_level level);
GOSR_API void gosr_log_set_sink(gosr_log_fn fn, void *ud);
GOSR_API void gosr_log(gosr_log_level level, const char *sub, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));

/* ---- time --------------------------------------------------------------- */

/* Monotonic nanoseconds (CLOCK_MONOTONIC). */
GOSR_API uint64_t gosr_time_mono_ns(void);
/* Wall-clock nanoseconds since the Unix epoch (CLOCK_REALTIME). */
GOSR_API uint64_t gosr_time_wall_ns(void);
/* Formats a Unix time (seconds) as RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ"
 * into out[21]. */
GOSR_API void gosr_time_format_rfc3339(int64_t unix_s, char out[21]);
/* Parses RFC 3339 ("2026-01-31T12:00:00Z", offsets and fractions
 * accepted) into Unix seconds. */
GOSR_API int gosr_time_parse_rfc3339(const char *s, int64_t *unix_s);

/* ---- hex ---------------------------------------------------------------- */

/* Writes 2*n lower-case hex digits and a NUL into out (size >= 2*n+1). */
GOSR_API void gosr_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly 2*n hex digits from `hex` (which must be that long and
 * NUL-terminated there) into out[n]. GOSR_EFORMAT otherwise. */
GOSR_API int gosr_hex_decode(const char *hex, uint8_t *out, size_t n);

/* ---- deterministic pseudo-random numbers -------------------------------- */

/* SplitMix64: advances *state and returns the next output. Used to expand a
 * seed into generator state. */
GOSR_API uint64_t gosr_splitmix64(uint64_t *state);
/* xoshiro256** (Blackman & Vigna): advances the 4-word state s and returns
 * the next output. The state must not be all zero (seed it through
 * gosr_splitmix64). Same sequence on every machine: the simulation, the
 * sandbox RNG and the AI core's offline generators all draw from it. */
GOSR_API uint64_t gosr_xoshiro256ss(uint64_t s[4]);

/* Value of one hex digit (0-9, a-f, A-F), or -1. */
GOSR_API int gosr_hex_digit(char c);

/* ---- file I/O with fault injection -------------------------------------- */

/* Every file operation of the store and the ledgers goes through this table
 * so tests can inject faults (short writes, ENOSPC, EIO, crashes at a
 * chosen call). Fields mirror the POSIX calls of the same name. */
typedef struct gosr_io_ops {
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*read)(int fd, void *buf, size_t n);
    ssize_t (*write)(int fd, const void *buf, size_t n);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    int (*fsync)(int fd);
    int (*close)(int fd);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*ftruncate)(int fd, off_t len);
} gosr_io_ops;

/* The table in force (never NULL). */
GOSR_API const gosr_io_ops *gosr_io(void);
/* Replaces the table; NULL restores the POSIX one. Tests only. */
GOSR_API void gosr_io_set_ops(const gosr_io_ops *ops);

/* Writes all n bytes (retrying short writes and EINTR). */
GOSR_API int gosr_io_write_all(int fd, const void *p, size_t n);
/* Reads exactly n bytes; GOSR_EFORMAT on early end of file. */
GOSR_API int gosr_io_read_exact(int fd, void *p, size_t n);
/* Reads a whole file up to `max` bytes into *out (NUL-terminated, caller
 * frees with gosr_free). GOSR_ETOOBIG when larger than max. */
GOSR_API int gosr_file_read_all(const char *path, size_t max, uint8_t **out,
                                size_t *len);
/* The reason codes a secret file's reader reports (each caller keeps its
 * own vocabulary: admin token, signing key ...). */
typedef struct gosr_secret_reasons {
    const char *unreadable; /* open, stat or read failed */
    const char *not_file;   /* not a regular file (GOSR_EFORMAT) */
    const char *mode;       /* group or others have access (GOSR_EDENIED) */
    const char *too_big;    /* more than cap-1 bytes (GOSR_EFORMAT) */
} gosr_secret_reasons;
/* Reads a small secret file into buf (at most cap-1 bytes, NUL-terminated;
 * the caller wipes it) after checking, on the open descriptor (no window
 * between check and read), that it is a regular file that group and
 * others cannot access. no_follow refuses a symlink at `path` itself. */
GOSR_API int gosr_secret_read(const char *path, bool no_follow,
                              const gosr_secret_reasons *why, char *buf,
                              size_t cap, size_t *len, gosr_error *err);
/* Replaces `path` atomically: writes a temporary file beside it, fsyncs it,
 * renames it over `path` and fsyncs the directory. Readers see the old or
 * the new content, never a mix. */
GOSR_API int gosr_file_write_atomic(const char *path, const void *p, size_t n,
                                    mode_t mode);
/* fsyncs the directory that holds `path` (or `path` itself if a dir). */
GOSR_API int gosr_fsync_dir(const char *path);
/* mkdir -p with mode. */
GOSR_API int gosr_mkdir_p(const char *path, mode_t mode);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_BASE_H */
