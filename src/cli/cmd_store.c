/*
 * cmd_store.c — `gosr store put|get|ls|stat|fsck|gc|ref --store DIR ...`:
 * the content store from the command line, with --json everywhere and
 * progress on stderr for long puts. Design: docs/store.md ("CLI").
 */
#include "cli.h"
#include "gosr/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_USAGE                                                            \
    "gosr store SUBCOMMAND --store DIR [--json] ...\n"                         \
    "  put PATH|- [--ref NAME] [--no-ref] [--codec zstd|brotli|raw]\n"         \
    "      [--level N] [--avg SIZE] [--min SIZE] [--max SIZE] [--encrypt]\n"   \
    "      [--progress]          store a file or tree, print its root id\n"    \
    "  get ID|REF OUT|-          write a file (or tree into dir OUT)\n"        \
    "  ls [ID|REF] [--objects]   refs; a tree's entries; a file's chunks\n"    \
    "  stat                      logical/stored bytes, dedup, compression\n"   \
    "  fsck                      verify every object, quarantine corrupt\n"    \
    "  gc                        remove objects no ref reaches\n"              \
    "  ref NAME [ID] [--delete]  show, set or delete a ref"

/* Options shared by every subcommand (pointers into argv). */
typedef struct store_opts {
    const char *store;  /* --store DIR (required) */
    const char *ref;    /* put: --ref NAME to pin the root under */
    const char *codec;  /* put: --codec zstd|brotli|raw */
    const char *level;  /* put: --level N (may be negative for zstd) */
    const char *avg;    /* put: --avg SIZE, average chunk size */
    const char *min;    /* put: --min SIZE */
    const char *max;    /* put: --max SIZE */
    bool json;          /* --json: one JSON object on stdout */
    bool no_ref;        /* put: --no-ref, do not pin the root */
    bool encrypt;       /* put: --encrypt, when creating the store */
    bool progress;      /* put: --progress even when stderr is no tty */
    bool objects;       /* ls: --objects, list every object */
    bool del;           /* ref: --delete */
    const char *pos[3]; /* positional arguments */
    int npos;           /* how many */
} store_opts;

static int parse(int argc, char **argv, store_opts *o)
{
    const cli_opt opts[] = {
        {"store", &o->store, NULL},       {"json", NULL, &o->json},
        {"ref", &o->ref, NULL},           {"no-ref", NULL, &o->no_ref},
        {"codec", &o->codec, NULL},       {"level", &o->level, NULL},
        {"avg", &o->avg, NULL},           {"min", &o->min, NULL},
        {"max", &o->max, NULL},           {"encrypt", NULL, &o->encrypt},
        {"progress", NULL, &o->progress}, {"objects", NULL, &o->objects},
        {"delete", NULL, &o->del},        {NULL, NULL, NULL},
    };
    int rc = cli_parse(argc, argv, opts, o->pos, 3, &o->npos);
    if (rc == CLI_EXIT_OK && !o->store)
        rc = cli_usage_error("--store DIR is required");
    return rc;
}

/* ---- progress --------------------------------------------------------------
 */

typedef struct progress {
    uint64_t start_ns; /* when the put began */
    uint64_t last_ns;  /* last line printed */
} progress;

static void progress_cb(void *ud, uint64_t done)
{
    progress *p = ud;
    uint64_t now = gosr_time_mono_ns();
    if (now - p->last_ns < 200000000ull)
        return;
    p->last_ns = now;
    double s = (double)(now - p->start_ns) / 1e9;
    fprintf(stderr, "\r%.1f MiB  %.1f MB/s   ", (double)done / 1048576.0,
            s > 0 ? (double)done / 1e6 / s : 0.0);
}

/* ---- open
 * ------------------------------------------------------------------------ */

static int size_opt(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (!s)
        return GOSR_OK;
    if (cli_parse_size(s, &v) != GOSR_OK || v > UINT32_MAX)
        return GOSR_EINVAL;
    *out = (uint32_t)v;
    return GOSR_OK;
}

static int open_store(const store_opts *o, bool read_only, progress *pr,
                      gosr_store **st)
{
    gosr_store_config cfg = {
        .codec = o->codec, .encrypt = o->encrypt, .read_only = read_only};
    gosr_error err;
    gosr_error_clear(&err);
    uint64_t level = 0;
    bool neg = o->level && o->level[0] == '-';
    if ((o->level && cli_parse_u64(o->level + neg, &level) != GOSR_OK) ||
        size_opt(o->avg, &cfg.cdc.avg_size) ||
        size_opt(o->min, &cfg.cdc.min_size) ||
        size_opt(o->max, &cfg.cdc.max_size))
        return cli_usage_error("bad --level, --avg, --min or --max value");
    cfg.level = neg ? -(int)level : (int)level;
    if (pr && (o->progress || isatty(2))) {
        pr->start_ns = gosr_time_mono_ns();
        cfg.progress = progress_cb;
        cfg.progress_ud = pr;
    }
    int rc = gosr_store_open(o->store, &cfg, st, &err);
    if (rc != GOSR_OK)
        return cli_report_error(o->json, &err, rc, CLI_EXIT_FAIL);
    return CLI_EXIT_OK;
}

/* Resolves a 64-hex id or a ref name. */
static int resolve(gosr_store *st, const char *s, gosr_hash *id,
                   gosr_error *err)
{
    if (strlen(s) == 64 && gosr_hash_from_hex(s, id) == GOSR_OK)
        return GOSR_OK;
    return gosr_store_ref_get(st, s, id, err);
}

static const char *kind_name(gosr_obj_kind k)
{
    return k == GOSR_OBJ_CHUNK ? "chunk" : k == GOSR_OBJ_FILE ? "file" : "tree";
}

/* ---- put
 * -------------------------------------------------------------------------- */

static int do_put_path(gosr_store *st, const char *path, gosr_hash *id,
                       bool *tree, uint64_t *size, gosr_error *err)
{
    struct stat sb;
    *tree = false;
    if (strcmp(path, "-") == 0)
        return gosr_store_put_fd(st, 0, id, size, err);
    if (stat(path, &sb) != 0)
        return gosr_error_set(err, GOSR_ENOENT, "put_open_failed",
                              "cannot stat %s", path);
    if (S_ISDIR(sb.st_mode)) {
        *tree = true;
        *size = 0;
        return gosr_store_put_tree(st, path, id, err);
    }
    return gosr_store_put_file(st, path, id, size, err);
}

static int cmd_put(const store_opts *o)
{
    if (o->npos != 1)
        return cli_usage_error("put takes one PATH");
    progress pr = {0};
    gosr_store *st = NULL;
    int ex = open_store(o, false, &pr, &st);
    if (ex != CLI_EXIT_OK)
        return ex;
    gosr_error err;
    gosr_error_clear(&err);
    gosr_hash id;
    bool tree;
    uint64_t size = 0, t0 = gosr_time_mono_ns();
    gosr_store_stats before, after;
    gosr_store_stat(st, &before, NULL);
    int rc = do_put_path(st, o->pos[0], &id, &tree, &size, &err);
    double secs = (double)(gosr_time_mono_ns() - t0) / 1e9;
    if (pr.last_ns)
        fputc('\n', stderr);
    char hex[65];
    gosr_hash_hex(&id, hex);
    const char *ref = o->no_ref ? NULL : o->ref ? o->ref : hex;
    if (rc == GOSR_OK && ref)
        rc = gosr_store_ref_set(st, ref, &id, &err);
    if (rc != GOSR_OK) {
        gosr_store_close(st);
        return cli_report_error(o->json, &err, rc, CLI_EXIT_FAIL);
    }
    gosr_store_stat(st, &after, NULL);
    uint64_t logical = after.logical_bytes - before.logical_bytes;
    if (o->json)
        cli_print_json(json_pack(
            "{s:b, s:s, s:s, s:s?, s:I, s:I, s:f, s:f}", "ok", 1, "id", hex,
            "kind", tree ? "tree" : "file", "ref", ref, "bytes",
            (json_int_t)logical, "new_stored_bytes",
            (json_int_t)(after.stored_bytes - before.stored_bytes), "seconds",
            secs, "mb_per_s", secs > 0 ? (double)logical / 1e6 / secs : 0.0));
    else
        printf("%s\n", hex);
    gosr_store_close(st);
    return CLI_EXIT_OK;
}

/* ---- get
 * -------------------------------------------------------------------------- */

static int get_to_stdout(gosr_store *st, const gosr_hash *id, gosr_error *err)
{
    gosr_chunk_ref *c = NULL;
    size_t n = 0;
    int rc = gosr_store_file_chunks(st, id, &c, &n, err);
    gosr_buf b = {0};
    for (size_t i = 0; i < n && rc == GOSR_OK; i++) {
        b.len = 0;
        rc = gosr_store_get_chunk(st, &c[i].id, &b, err);
        if (rc == GOSR_OK && fwrite(b.data, 1, b.len, stdout) != b.len)
            rc = gosr_error_set(err, GOSR_EIO, "get_write_failed", "stdout");
    }
    gosr_buf_free(&b);
    gosr_free(c);
    return rc;
}

static int cmd_get(const store_opts *o)
{
    if (o->npos != 2)
        return cli_usage_error("get takes ID|REF and OUT");
    gosr_store *st = NULL;
    int ex = open_store(o, true, NULL, &st);
    if (ex != CLI_EXIT_OK)
        return ex;
    gosr_error err;
    gosr_error_clear(&err);
    gosr_hash id;
    gosr_obj_kind kind = GOSR_OBJ_CHUNK;
    gosr_buf obj = {0};
    int rc = resolve(st, o->pos[0], &id, &err);
    if (rc == GOSR_OK)
        rc = gosr_store_get_object(st, &id, &kind, &obj, &err);
    gosr_buf_free(&obj);
    bool to_stdout = strcmp(o->pos[1], "-") == 0;
    if (rc == GOSR_OK && kind == GOSR_OBJ_TREE && !to_stdout)
        rc = gosr_store_get_tree(st, &id, o->pos[1], &err);
    else if (rc == GOSR_OK && kind == GOSR_OBJ_FILE && to_stdout)
        rc = get_to_stdout(st, &id, &err);
    else if (rc == GOSR_OK && kind == GOSR_OBJ_FILE)
        rc = gosr_store_get_file(st, &id, o->pos[1], 0644, &err);
    else if (rc == GOSR_OK)
        rc = gosr_error_set(&err, GOSR_EINVAL, "object_wrong_kind",
                            "a %s cannot be written to %s", kind_name(kind),
                            o->pos[1]);
    gosr_store_close(st);
    if (rc != GOSR_OK)
        return cli_report_error(o->json, &err, rc,
                                rc == GOSR_ECORRUPT ? CLI_EXIT_REJECTED
                                                    : CLI_EXIT_FAIL);
    if (o->json)
        cli_print_json(json_pack("{s:b, s:s, s:s}", "ok", 1, "kind",
                                 kind_name(kind), "out", o->pos[1]));
    return CLI_EXIT_OK;
}

/* ---- ls
 * -----------------------------------------------------------------------------
 */

/* Listing state: either a JSON array or text lines. */
typedef struct ls_ctx {
    gosr_store *st; /* the store */
    json_t *arr;    /* JSON output, or NULL for text */
} ls_ctx;

static int ls_ref(void *ud, const char *name, const gosr_hash *root)
{
    ls_ctx *c = ud;
    char hex[65];
    gosr_hash_hex(root, hex);
    if (c->arr)
        json_array_append_new(
            c->arr, json_pack("{s:s, s:s}", "name", name, "root", hex));
    else
        printf("%s %s\n", hex, name);
    return 0;
}

static int ls_entry(void *ud, const gosr_tree_entry *e)
{
    ls_ctx *c = ud;
    char hex[65];
    gosr_hash_hex(&e->file_id, hex);
    if (c->arr)
        json_array_append_new(c->arr,
                              json_pack("{s:s, s:i, s:I, s:s}", "path", e->path,
                                        "mode", (int)e->mode, "size",
                                        (json_int_t)e->size, "file_id", hex));
    else
        printf("%04o %12llu %s %s\n", e->mode, (unsigned long long)e->size, hex,
               e->path);
    return 0;
}

static int ls_object(void *ud, const gosr_store_obj_info *i)
{
    ls_ctx *c = ud;
    char hex[65];
    gosr_hash_hex(&i->id, hex);
    if (c->arr)
        json_array_append_new(c->arr,
                              json_pack("{s:s, s:s, s:s, s:I, s:I}", "id", hex,
                                        "kind", kind_name(i->kind), "codec",
                                        gosr_codec_name(i->codec), "plain_len",
                                        (json_int_t)i->plain_len, "stored_len",
                                        (json_int_t)i->stored_len));
    else
        printf("%s %-5s %-6s %10u %10u\n", hex, kind_name(i->kind),
               gosr_codec_name(i->codec), i->plain_len, i->stored_len);
    return 0;
}

static int ls_file(ls_ctx *c, const gosr_hash *id, gosr_error *err)
{
    gosr_chunk_ref *ch = NULL;
    size_t n = 0;
    int rc = gosr_store_file_chunks(c->st, id, &ch, &n, err);
    for (size_t i = 0; rc == GOSR_OK && i < n; i++) {
        char hex[65];
        gosr_hash_hex(&ch[i].id, hex);
        if (c->arr)
            json_array_append_new(c->arr,
                                  json_pack("{s:s, s:I}", "id", hex, "len",
                                            (json_int_t)ch[i].len));
        else
            printf("%s %u\n", hex, ch[i].len);
    }
    gosr_free(ch);
    return rc;
}

static int cmd_ls(const store_opts *o)
{
    gosr_store *st = NULL;
    int ex = open_store(o, true, NULL, &st);
    if (ex != CLI_EXIT_OK)
        return ex;
    gosr_error err;
    gosr_error_clear(&err);
    ls_ctx c = {st, o->json ? json_array() : NULL};
    gosr_hash id;
    gosr_obj_kind kind;
    gosr_buf obj = {0};
    int rc = GOSR_OK;
    if (o->objects)
        rc = gosr_store_foreach(st, ls_object, &c, &err);
    else if (o->npos == 0)
        rc = gosr_store_ref_foreach(st, ls_ref, &c, &err);
    else if ((rc = resolve(st, o->pos[0], &id, &err)) == GOSR_OK &&
             (rc = gosr_store_get_object(st, &id, &kind, &obj, &err)) == 0)
        rc = kind == GOSR_OBJ_TREE
                 ? gosr_store_tree_foreach(st, &id, ls_entry, &c, &err)
             : kind == GOSR_OBJ_FILE
                 ? ls_file(&c, &id, &err)
                 : gosr_error_set(&err, GOSR_EINVAL, "object_wrong_kind",
                                  "a chunk has no listing");
    gosr_buf_free(&obj);
    gosr_store_close(st);
    if (rc != GOSR_OK) {
        json_decref(c.arr);
        return cli_report_error(o->json, &err, rc, CLI_EXIT_FAIL);
    }
    if (c.arr)
        cli_print_json(json_pack("{s:b, s:o}", "ok", 1, "items", c.arr));
    return CLI_EXIT_OK;
}

/* ---- stat, fsck, gc, ref
 * -------------------------------------------------------------- */

static int cmd_stat(const store_opts *o)
{
    gosr_store *st = NULL;
    int ex = open_store(o, true, NULL, &st);
    if (ex != CLI_EXIT_OK)
        return ex;
    gosr_error err;
    gosr_store_stats s;
    int rc = gosr_store_stat(st, &s, &err);
    gosr_store_close(st);
    if (rc != GOSR_OK)
        return cli_report_error(o->json, &err, rc, CLI_EXIT_FAIL);
    if (o->json) {
        cli_print_json(json_pack(
            "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, "
            "s:b}",
            "ok", 1, "logical_bytes", (json_int_t)s.logical_bytes, "files_put",
            (json_int_t)s.files_put, "chunk_count", (json_int_t)s.chunk_count,
            "object_count", (json_int_t)s.object_count, "unique_bytes",
            (json_int_t)s.unique_bytes, "stored_bytes",
            (json_int_t)s.stored_bytes, "pack_bytes", (json_int_t)s.pack_bytes,
            "index_bytes", (json_int_t)s.index_bytes, "ref_count",
            (json_int_t)s.ref_count, "dedup_ratio", s.dedup_ratio,
            "compression_ratio", s.compression_ratio, "encrypted",
            s.encrypted));
        return CLI_EXIT_OK;
    }
    printf(
        "logical bytes      %llu (%llu file puts)\n"
        "unique bytes       %llu in %llu chunks (+%llu manifests)\n"
        "stored bytes       %llu (packs %llu, index %llu)\n"
        "dedup ratio        %.3f\ncompression ratio  %.3f\n"
        "refs               %llu\nencrypted          %s\n",
        (unsigned long long)s.logical_bytes, (unsigned long long)s.files_put,
        (unsigned long long)s.unique_bytes, (unsigned long long)s.chunk_count,
        (unsigned long long)s.object_count, (unsigned long long)s.stored_bytes,
        (unsigned long long)s.pack_bytes, (unsigned long long)s.index_bytes,
        s.dedup_ratio, s.compression_ratio, (unsigned long long)s.ref_count,
        s.encrypted ? "yes" : "no");
    return CLI_EXIT_OK;
}

/* fsck callback: one line (or JSON item) per corrupt object. */
static void fsck_bad(void *ud, const gosr_hash *loc, const gosr_error *why)
{
    json_t *arr = ud;
    char hex[65];
    gosr_hash_hex(loc, hex);
    if (arr)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "locator", hex,
                                             "reason", why->reason, "detail",
                                             why->detail));
    else
        fprintf(stderr, "corrupt %s: %s: %s (quarantined)\n", hex, why->reason,
                why->detail);
}

static int cmd_fsck(const store_opts *o)
{
    gosr_store *st = NULL;
    int ex = open_store(o, false, NULL, &st);
    if (ex != CLI_EXIT_OK)
        return ex;
    gosr_error err;
    gosr_error_clear(&err);
    gosr_store_fsck_report r;
    json_t *bad = o->json ? json_array() : NULL;
    int rc = gosr_store_fsck(st, fsck_bad, bad, &r, &err);
    gosr_store_close(st);
    if (o->json)
        cli_print_json(json_pack(
            "{s:b, s:I, s:I, s:I, s:I, s:I, s:o, s:s}", "ok", rc == GOSR_OK,
            "checked", (json_int_t)r.checked, "corrupt", (json_int_t)r.corrupt,
            "missing", (json_int_t)r.missing, "refs_checked",
            (json_int_t)r.refs_checked, "bytes_checked",
            (json_int_t)r.bytes_checked, "bad", bad, "reason",
            rc == GOSR_OK ? "" : err.reason));
    else
        printf("checked %llu objects (%llu bytes), %llu refs: %llu corrupt, "
               "%llu missing\n",
               (unsigned long long)r.checked,
               (unsigned long long)r.bytes_checked,
               (unsigned long long)r.refs_checked,
               (unsigned long long)r.corrupt, (unsigned long long)r.missing);
    if (rc == GOSR_ECORRUPT)
        return CLI_EXIT_REJECTED;
    return rc == GOSR_OK ? CLI_EXIT_OK
                         : cli_report_error(false, &err, rc, CLI_EXIT_FAIL);
}

static int cmd_gc(const store_opts *o)
{
    gosr_store *st = NULL;
    int ex = open_store(o, false, NULL, &st);
    if (ex != CLI_EXIT_OK)
        return ex;
    gosr_error err;
    gosr_error_clear(&err);
    gosr_store_gc_report r;
    int rc = gosr_store_gc(st, &r, &err);
    gosr_store_close(st);
    if (rc != GOSR_OK)
        return cli_report_error(o->json, &err, rc, CLI_EXIT_FAIL);
    if (o->json)
        cli_print_json(json_pack("{s:b, s:I, s:I, s:I, s:I, s:I}", "ok", 1,
                                 "live_objects", (json_int_t)r.live_objects,
                                 "removed_objects",
                                 (json_int_t)r.removed_objects, "removed_bytes",
                                 (json_int_t)r.removed_bytes, "packs_rewritten",
                                 (json_int_t)r.packs_rewritten, "bytes_freed",
                                 (json_int_t)r.bytes_freed));
    else
        printf("live %llu objects; removed %llu objects (%llu bytes); "
               "rewrote %llu packs; freed %llu bytes\n",
               (unsigned long long)r.live_objects,
               (unsigned long long)r.removed_objects,
               (unsigned long long)r.removed_bytes,
               (unsigned long long)r.packs_rewritten,
               (unsigned long long)r.bytes_freed);
    return CLI_EXIT_OK;
}

static int cmd_ref(const store_opts *o)
{
    if (o->npos < 1 || o->npos > 2 || (o->del && o->npos != 1))
        return cli_usage_error("ref takes NAME [ID], or NAME --delete");
    gosr_store *st = NULL;
    bool write = o->del || o->npos == 2;
    int ex = open_store(o, !write, NULL, &st);
    if (ex != CLI_EXIT_OK)
        return ex;
    gosr_error err;
    gosr_error_clear(&err);
    gosr_hash id = {{0}};
    int rc = GOSR_OK;
    if (o->del)
        rc = gosr_store_ref_delete(st, o->pos[0], &err);
    else if (o->npos == 2 && (rc = resolve(st, o->pos[1], &id, &err)) == 0)
        rc = gosr_store_ref_set(st, o->pos[0], &id, &err);
    else if (o->npos == 1)
        rc = gosr_store_ref_get(st, o->pos[0], &id, &err);
    gosr_store_close(st);
    if (rc != GOSR_OK)
        return cli_report_error(o->json, &err, rc, CLI_EXIT_FAIL);
    char hex[65];
    gosr_hash_hex(&id, hex);
    if (o->json)
        cli_print_json(json_pack("{s:b, s:s, s:s?}", "ok", 1, "name", o->pos[0],
                                 "root", o->del ? NULL : hex));
    else if (!o->del)
        printf("%s\n", hex);
    return CLI_EXIT_OK;
}

/* ---- dispatch
 * ---------------------------------------------------------------------------
 */

static int run_store(int argc, char **argv)
{
    static const struct {
        const char *name;              /* subcommand */
        int (*fn)(const store_opts *); /* its handler */
    } subs[] = {{"put", cmd_put},   {"get", cmd_get},   {"ls", cmd_ls},
                {"stat", cmd_stat}, {"fsck", cmd_fsck}, {"gc", cmd_gc},
                {"ref", cmd_ref}};
    if (argc < 2)
        return cli_usage_error("missing subcommand");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(argv[1], subs[i].name) != 0)
            continue;
        store_opts o = {0};
        int rc = parse(argc - 1, argv + 1, &o);
        return rc != CLI_EXIT_OK ? rc : subs[i].fn(&o);
    }
    return cli_usage_error("unknown subcommand '%s'", argv[1]);
}

GOSR_CLI_COMMAND(store, "store", run_store,
                 "content store: put, get, ls, stat, fsck, gc, ref",
                 STORE_USAGE)
