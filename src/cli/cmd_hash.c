/*
 * cmd_hash.c — `gosr hash`: BLAKE3 of files or standard input, printed as
 * b3sum does ("<hex>  <name>", names holding a backslash or newline escaped
 * and the line marked with a leading backslash). Plain, keyed (--keyed with
 * a 64-digit hex key) and derive-key (--derive-key CONTEXT) modes, any
 * output length (--length), and threads for large files (--threads, default
 * all CPUs). Regular files of 64 KiB and more are memory-mapped and hashed
 * with gosr_blake3_update_parallel; others are read in 256 KiB pieces.
 * Exit: 0 all hashed, 1 some file failed (the others are still printed),
 * 2 usage. Design: docs/blake3.md ("gosr hash").
 */
#include "cli/cli.h"
#include "gosr/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_USAGE                                                             \
    "gosr hash [--keyed HEX64 | --derive-key CONTEXT] [--length N] "          \
    "[--threads N] [FILE|-]..."
#define MMAP_MIN (64u << 10) /* smaller regular files are simply read */
#define READ_BUF (256u << 10)
#define POPULATE_MAX ((size_t)1 << 30) /* map larger files lazily */

/* What to compute, from the command line. */
typedef struct hash_opts {
    bool keyed;          /* --keyed given */
    uint8_t key[32];     /* the key when keyed */
    const char *context; /* --derive-key context, or NULL */
    uint64_t length;     /* output bytes (default 32) */
    unsigned threads;    /* hashing threads, 0 = all CPUs */
} hash_opts;

static void hasher_start(const hash_opts *o, gosr_blake3 *h)
{
    if (o->keyed)
        gosr_blake3_init_keyed(h, o->key);
    else if (o->context)
        gosr_blake3_init_derive_key(h, o->context);
    else
        gosr_blake3_init(h);
}

static int read_failed(gosr_error *err, const char *name)
{
    int e = errno;
    return gosr_error_set(err, gosr_status_from_errno(e), "file_read_failed",
                          "%s: %s", name, strerror(e));
}

/* Hashes everything readable from fd, in READ_BUF pieces. */
static int hash_stream(int fd, const char *name, gosr_blake3 *h,
                       gosr_error *err)
{
    uint8_t *buf = gosr_malloc(READ_BUF);
    if (!buf)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory",
                              "no memory for a read buffer");
    int rc = GOSR_OK;
    for (;;) {
        ssize_t n = gosr_io()->read(fd, buf, READ_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = read_failed(err, name);
            break;
        }
        if (n == 0)
            break;
        gosr_blake3_update(h, buf, (size_t)n);
    }
    gosr_free(buf);
    return rc;
}

/* Hashes a large regular file through a read-only mapping; falls back to
 * reading when the file cannot be mapped. Files up to POPULATE_MAX are
 * mapped in one go (cheaper than a page fault per 64 KiB); larger ones,
 * which may not fit in memory, are faulted in as the hash proceeds. */
static int hash_mapped(int fd, const char *name, size_t size,
                       const hash_opts *o, gosr_blake3 *h, gosr_error *err)
{
    int flags = MAP_PRIVATE | (size <= POPULATE_MAX ? MAP_POPULATE : 0);
    void *p = mmap(NULL, size, PROT_READ, flags, fd, 0);
    if (p == MAP_FAILED)
        return hash_stream(fd, name, h, err);
    madvise(p, size, MADV_SEQUENTIAL);
    gosr_blake3_update_parallel(h, p, size, o->threads);
    munmap(p, size);
    return GOSR_OK;
}

static int hash_named(const char *name, const hash_opts *o, gosr_blake3 *h,
                      gosr_error *err)
{
    hasher_start(o, h);
    if (strcmp(name, "-") == 0)
        return hash_stream(STDIN_FILENO, "-", h, err);
    int fd = gosr_io()->open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        return gosr_error_set(err, gosr_status_from_errno(e),
                              "file_open_failed", "%s: %s", name,
                              strerror(e));
    }
    struct stat st;
    int rc;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size >= MMAP_MIN && (uint64_t)st.st_size <= SIZE_MAX)
        rc = hash_mapped(fd, name, (size_t)st.st_size, o, h, err);
    else
        rc = hash_stream(fd, name, h, err);
    gosr_io()->close(fd);
    return rc;
}

/* Prints a name as b3sum does: backslash and newline escaped. */
static void print_name(const char *name)
{
    for (const char *c = name; *c; c++) {
        if (*c == '\\')
            fputs("\\\\", stdout);
        else if (*c == '\n')
            fputs("\\n", stdout);
        else
            putchar(*c);
    }
}

/* Prints "<hex>  <name>", the output streamed in 512-byte pieces so any
 * --length works in constant memory. */
static void print_line(const gosr_blake3 *h, uint64_t length, const char *name)
{
    if (strpbrk(name, "\\\n"))
        putchar('\\');
    uint8_t out[512];
    char hex[2 * sizeof out + 1];
    for (uint64_t off = 0; off < length;) {
        size_t n = length - off < sizeof out ? (size_t)(length - off)
                                              : sizeof out;
        gosr_blake3_finalize_seek(h, off, out, n);
        gosr_hex_encode(out, n, hex);
        fputs(hex, stdout);
        off += n;
    }
    fputs("  ", stdout);
    print_name(name);
    putchar('\n');
}

/* Fills opts from the option strings; prints a usage error (exit 2) for
 * anything malformed. */
static int parse_opts(const char *keyed, const char *derive,
                      const char *length, const char *threads, hash_opts *o)
{
    *o = (hash_opts){.length = GOSR_BLAKE3_OUT_LEN};
    if (keyed && derive)
        return cli_usage_error("--keyed and --derive-key exclude each other");
    if (keyed) {
        if (strlen(keyed) != 64 || gosr_hex_decode(keyed, o->key, 32) != GOSR_OK)
            return cli_usage_error("--keyed needs 64 hex digits (32 bytes)");
        o->keyed = true;
    }
    o->context = derive;
    if (length && cli_parse_u64(length, &o->length) != GOSR_OK)
        return cli_usage_error("--length needs a byte count, not '%s'", length);
    uint64_t t = 0;
    if (threads && (cli_parse_u64(threads, &t) != GOSR_OK || t > 1024))
        return cli_usage_error("--threads needs a count 0..1024 (0 = all "
                               "CPUs), not '%s'", threads);
    o->threads = (unsigned)t;
    return CLI_EXIT_OK;
}

static int cmd_hash(int argc, char **argv)
{
    const char *keyed = NULL, *derive = NULL, *length = NULL, *threads = NULL;
    const cli_opt opts[] = {{"keyed", &keyed, NULL},
                            {"derive-key", &derive, NULL},
                            {"length", &length, NULL},
                            {"threads", &threads, NULL},
                            {NULL, NULL, NULL}};
    const char **files = gosr_calloc((size_t)argc + 1, sizeof *files);
    if (!files) {
        fprintf(stderr, "gosr hash: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    int nfiles, rc = cli_parse(argc, argv, opts, files, argc, &nfiles);
    hash_opts o;
    if (rc == CLI_EXIT_OK)
        rc = parse_opts(keyed, derive, length, threads, &o);
    if (rc == CLI_EXIT_OK && nfiles == 0)
        files[nfiles++] = "-";
    for (int i = 0; rc != CLI_EXIT_USAGE && i < nfiles; i++) {
        gosr_blake3 h;
        gosr_error err;
        gosr_error_clear(&err);
        int st = hash_named(files[i], &o, &h, &err);
        if (st == GOSR_OK) {
            print_line(&h, o.length, files[i]);
        } else {
            fflush(stdout);
            rc = cli_report_error(false, &err, st, CLI_EXIT_FAIL);
        }
    }
    gosr_free(files);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
        fprintf(stderr, "gosr hash: cannot write output: %s\n",
                strerror(errno));
        rc = CLI_EXIT_FAIL;
    }
    return rc;
}

GOSR_CLI_COMMAND(hash, "hash", cmd_hash,
                 "BLAKE3 of files or stdin, printed as b3sum does",
                 HASH_USAGE)
