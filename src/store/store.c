/*
 * store.c — the store handle: open (directory, lock, convergence secret,
 * SQLite index in WAL mode, recovery), close, transactions that fsync pack
 * data before committing the index, meta counters, refs and stats.
 * The public wrappers that lock the handle are in api.c; the functions
 * here are their unlocked store__ bodies.
 * Design: docs/store.md ("On-disk layout", "Index", "Crash safety",
 * "Encryption", "Threads").
 *
 * Sections: helpers, secret, schema, open/close, transactions, refs,
 * stats.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------
 */

int store__sql_error(gosr_store *st, gosr_error *err, const char *what)
{
    int code = sqlite3_errcode(st->db);
    int status = code == SQLITE_FULL      ? GOSR_ENOSPC
                 : code == SQLITE_BUSY    ? GOSR_EBUSY
                 : code == SQLITE_NOMEM   ? GOSR_ENOMEM
                 : code == SQLITE_CORRUPT ? GOSR_ECORRUPT
                                          : GOSR_EIO;
    return gosr_error_set(err, status, "sqlite_error", "%s: %s", what,
                          sqlite3_errmsg(st->db));
}

int store__exec(gosr_store *st, const char *sql, gosr_error *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store__sql_error(st, err, sql);
    return GOSR_OK;
}

char *store__pack_path(const gosr_store *st, int64_t pack)
{
    return gosr_asprintf("%s/packs/%08lld.pack", st->dir, (long long)pack);
}

/* ---- secret
 * -------------------------------------------------------------------- */

/* Derives the three store keys from the 32-byte convergence secret. */
static void derive_keys(gosr_store *st, const uint8_t secret[32])
{
    static const char *ctx[3] = {"gosr store v1 locator",
                                 "gosr store v1 id mask",
                                 "gosr store v1 chunk key"};
    uint8_t *dst[3] = {st->k_loc, st->k_mask, st->k_enc};
    for (int i = 0; i < 3; i++) {
        gosr_blake3 h;
        gosr_blake3_init_derive_key(&h, ctx[i]);
        gosr_blake3_update(&h, secret, 32);
        gosr_blake3_finalize(&h, dst[i], 32);
    }
}

/* Loads DIR/secret, creating it (random, mode 0600) when `create`. */
static int load_secret(gosr_store *st, bool create, gosr_error *err)
{
    char *path = gosr_asprintf("%s/secret", st->dir);
    if (!path)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "secret");
    uint8_t secret[32];
    int rc = GOSR_OK;
    struct stat sb;
    if (create && stat(path, &sb) != 0) {
        randombytes_buf(secret, sizeof secret);
        rc = gosr_file_write_atomic(path, secret, sizeof secret, 0600);
        if (rc != GOSR_OK)
            gosr_error_set(err, rc, "store_secret_write", "cannot write %s",
                           path);
    } else if (stat(path, &sb) != 0 || (sb.st_mode & 077)) {
        rc = gosr_error_set(err, GOSR_EDENIED, "store_secret_mode",
                            "%s is missing or readable by group/others", path);
    } else {
        uint8_t *p = NULL;
        size_t n = 0;
        rc = gosr_file_read_all(path, 64, &p, &n);
        if (rc == GOSR_OK && n == 32)
            memcpy(secret, p, 32);
        else
            rc = gosr_error_set(err, GOSR_EFORMAT, "store_secret_format",
                                "%s is not a 32-byte secret", path);
        if (p)
            sodium_memzero(p, n);
        gosr_free(p);
    }
    if (rc == GOSR_OK)
        derive_keys(st, secret);
    sodium_memzero(secret, sizeof secret);
    gosr_free(path);
    return rc;
}

/* ---- schema
 * --------------------------------------------------------------------- */

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER);"
    "CREATE TABLE IF NOT EXISTS packs(id INTEGER PRIMARY KEY,"
    " size INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects(loc BLOB PRIMARY KEY, kind INTEGER,"
    " codec INTEGER, flags INTEGER, plain_len INTEGER, stored_len INTEGER,"
    " idm BLOB, pack INTEGER, off INTEGER) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS objects_pack ON objects(pack, off);"
    "CREATE TABLE IF NOT EXISTS refs(name TEXT PRIMARY KEY, root BLOB,"
    " updated INTEGER);";

static int meta_get(gosr_store *st, const char *key, int64_t *v)
{
    sqlite3_stmt *s = NULL;
    *v = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key=?", -1, &s,
                           NULL) != SQLITE_OK)
        return GOSR_EIO;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        *v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return r == SQLITE_ROW    ? GOSR_OK
           : r == SQLITE_DONE ? GOSR_ENOENT
                              : GOSR_EIO;
}

int store__meta_add(gosr_store *st, const char *key, int64_t delta,
                    gosr_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO meta(key,value) VALUES(?1,?2) "
                           "ON CONFLICT(key) DO UPDATE SET value=value+?2",
                           -1, &s, NULL) != SQLITE_OK)
        return store__sql_error(st, err, "meta");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, delta);
    int r = sqlite3_step(s);
    sqlite3_finalize(s);
    return r == SQLITE_DONE ? GOSR_OK : store__sql_error(st, err, "meta");
}

/* Opens the index, sets WAL + synchronous=FULL, creates the schema and
 * settles the format and encryption mode (stored at creation). */
static int open_index(gosr_store *st, gosr_error *err)
{
    char *path = gosr_asprintf("%s/index.db", st->dir);
    if (!path)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "index");
    int flags = st->cfg.read_only ? SQLITE_OPEN_READONLY
                                  : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int r = sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    gosr_free(path);
    if (r != SQLITE_OK)
        return store__sql_error(st, err, "open index");
    sqlite3_busy_timeout(st->db, 5000);
    int rc = store__exec(st, "PRAGMA synchronous=FULL;", err);
    if (rc == GOSR_OK && !st->cfg.read_only)
        rc = store__exec(st, "PRAGMA journal_mode=WAL;", err);
    if (rc == GOSR_OK && !st->cfg.read_only)
        rc = store__exec(st, SCHEMA, err);
    if (rc != GOSR_OK)
        return rc;
    int64_t fmt = 0, enc = 0;
    if (meta_get(st, "format", &fmt) == GOSR_ENOENT && !st->cfg.read_only) {
        enc = st->cfg.encrypt;
        if ((rc = store__meta_add(st, "format", 1, err)) != GOSR_OK ||
            (rc = store__meta_add(st, "encrypted", enc, err)) != GOSR_OK)
            return rc;
        fmt = 1;
    } else {
        meta_get(st, "encrypted", &enc);
    }
    if (fmt != 1)
        return gosr_error_set(err, GOSR_EFORMAT, "store_format",
                              "unknown store format %lld", (long long)fmt);
    st->encrypted = enc != 0;
    return GOSR_OK;
}

static int prepare_statements(gosr_store *st, gosr_error *err)
{
    if (sqlite3_prepare_v2(st->db,
                           "SELECT kind,codec,flags,plain_len,stored_len,idm,"
                           "pack,off FROM objects WHERE loc=?",
                           -1, &st->q_get, NULL) != SQLITE_OK ||
        (!st->cfg.read_only &&
         sqlite3_prepare_v2(
             st->db,
             "INSERT OR REPLACE INTO objects(loc,kind,codec,flags,"
             "plain_len,stored_len,idm,pack,off) "
             "VALUES(?,?,?,?,?,?,?,?,?)",
             -1, &st->q_put, NULL) != SQLITE_OK))
        return store__sql_error(st, err, "prepare");
    return GOSR_OK;
}

/* ---- open/close
 * ------------------------------------------------------------------ */

static int setup_dirs_and_lock(gosr_store *st, gosr_error *err)
{
    char *packs = gosr_asprintf("%s/packs", st->dir);
    char *lock = gosr_asprintf("%s/lock", st->dir);
    int rc = GOSR_OK;
    if (!packs || !lock) {
        rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "paths");
        goto out_free;
    }
    struct stat sb;
    if (st->cfg.read_only && stat(lock, &sb) != 0) {
        rc = gosr_error_set(err, GOSR_ENOENT, "store_not_found",
                            "%s is not a store", st->dir);
        goto out_free;
    }
    if (!st->cfg.read_only && (rc = gosr_mkdir_p(packs, 0755)) != GOSR_OK) {
        gosr_error_set(err, rc, "store_mkdir", "cannot create %s", packs);
        goto out_free;
    }
    st->lock_fd =
        open(lock, st->cfg.read_only ? O_RDONLY : O_RDWR | O_CREAT, 0644);
    if (st->lock_fd < 0) {
        rc = gosr_error_set(err, gosr_status_from_errno(errno), "store_open",
                            "cannot open %s: %s", lock, strerror(errno));
        goto out_free;
    }
    if (flock(st->lock_fd, (st->cfg.read_only ? LOCK_SH : LOCK_EX) | LOCK_NB))
        rc = gosr_error_set(err, GOSR_EBUSY, "store_locked",
                            "%s is in use by another process", st->dir);
out_free:
    gosr_free(packs);
    gosr_free(lock);
    return rc;
}

static int apply_config(gosr_store *st, const gosr_store_config *cfg,
                        gosr_error *err)
{
    if (cfg)
        st->cfg = *cfg;
    if (gosr_cdc_params_normalize(&st->cfg.cdc) != GOSR_OK)
        return gosr_error_set(err, GOSR_EINVAL, "cdc_params_invalid",
                              "chunk sizes min %u avg %u max %u are invalid",
                              st->cfg.cdc.min_size, st->cfg.cdc.avg_size,
                              st->cfg.cdc.max_size);
    st->codec = GOSR_CODEC_ZSTD;
    if (st->cfg.codec && gosr_codec_parse(st->cfg.codec, &st->codec))
        return gosr_error_set(err, GOSR_EINVAL, "codec_unknown",
                              "unknown codec '%s'", st->cfg.codec);
    st->cfg.codec = NULL; /* not kept: the caller's string is borrowed */
    if (!st->cfg.pack_max)
        st->cfg.pack_max = STORE_PACK_MAX_DEFAULT;
    return GOSR_OK;
}

/* Makes st->mu a recursive mutex: public calls made from inside the store
 * (internal code, and callbacks of the foreach walks and fsck that call
 * back into the same handle on the same thread) must not deadlock. */
static int init_mutex(gosr_store *st)
{
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a))
        return GOSR_EINTERNAL;
    int r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    if (r == 0)
        r = pthread_mutex_init(&st->mu, &a);
    pthread_mutexattr_destroy(&a);
    return r ? GOSR_EINTERNAL : GOSR_OK;
}

int gosr_store_open(const char *dir, const gosr_store_config *cfg,
                    gosr_store **out, gosr_error *err)
{
    if (!dir || !out)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "open");
    *out = NULL;
    gosr_store *st = gosr_calloc(1, sizeof *st);
    if (!st)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "open");
    st->lock_fd = st->w_fd = -1; /* close skips them on failure */
    if (init_mutex(st) != GOSR_OK) {
        gosr_free(st);
        return gosr_error_set(err, GOSR_EINTERNAL, "store_mutex",
                              "cannot create the handle's mutex");
    }
    if (!(st->dir = gosr_strdup(dir))) {
        gosr_store_close(st);
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "open");
    }
    int rc = apply_config(st, cfg, err);
    /* The AEAD and the random convergence secret need libsodium. */
    if (rc == GOSR_OK && gosr_crypto_init() != GOSR_OK)
        rc = gosr_error_set(err, GOSR_EINTERNAL, "sodium_init", "libsodium");
    if (rc == GOSR_OK && !st->cfg.read_only &&
        (rc = gosr_mkdir_p(dir, 0755)) != GOSR_OK)
        gosr_error_set(err, rc, "store_mkdir", "cannot create %s", dir);
    if (rc == GOSR_OK)
        rc = setup_dirs_and_lock(st, err);
    if (rc == GOSR_OK)
        rc = open_index(st, err);
    if (rc == GOSR_OK && st->encrypted)
        rc = load_secret(st, !st->cfg.read_only, err);
    if (rc == GOSR_OK)
        rc = prepare_statements(st, err);
    if (rc == GOSR_OK && !st->cfg.read_only)
        rc = store__pack_recover(st, err);
    if (rc != GOSR_OK) {
        gosr_store_close(st);
        return rc;
    }
    *out = st;
    return GOSR_OK;
}

void gosr_store_close(gosr_store *st)
{
    if (!st)
        return;
    if (st->txn_depth > 0)
        store__rollback(st);
    store__pack_close_all(st);
    sqlite3_finalize(st->q_get);
    sqlite3_finalize(st->q_put);
    sqlite3_close(st->db);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    sodium_memzero(st->k_loc, sizeof st->k_loc);
    sodium_memzero(st->k_mask, sizeof st->k_mask);
    sodium_memzero(st->k_enc, sizeof st->k_enc);
    gosr_buf_free(&st->scratch);
    gosr_free(st->dir);
    /* Not locked: the caller guarantees no other thread uses st now. */
    pthread_mutex_destroy(&st->mu);
    gosr_free(st);
}

/* ---- transactions
 * ---------------------------------------------------------------- */

/* Nested begin/commit: only the outermost pair touches SQLite. */
int store__begin(gosr_store *st, gosr_error *err)
{
    if (st->cfg.read_only)
        return gosr_error_set(err, GOSR_EDENIED, "store_read_only",
                              "the store was opened read-only");
    if (st->txn_depth++ > 0)
        return GOSR_OK;
    int rc = store__exec(st, "BEGIN IMMEDIATE", err);
    if (rc != GOSR_OK)
        st->txn_depth = 0;
    return rc;
}

/* Commits the outermost transaction: pack data is fsynced first (and the
 * packs row updated), so a committed row never points at bytes that are
 * not on stable storage. */
int store__commit(gosr_store *st, gosr_error *err)
{
    if (st->txn_depth <= 0)
        return gosr_error_set(err, GOSR_ESTATE, "no_transaction", "commit");
    if (--st->txn_depth > 0)
        return GOSR_OK;
    int rc = store__pack_sync(st, err);
    if (rc == GOSR_OK)
        rc = store__exec(st, "COMMIT", err);
    if (rc != GOSR_OK) {
        st->txn_depth = 1;
        store__rollback(st);
        return rc;
    }
    st->w_committed = st->w_size;
    st->w_new_file = false;
    return GOSR_OK;
}

/* Rolls back the whole transaction (any depth) and puts the pack files
 * back to their committed state. */
void store__rollback(gosr_store *st)
{
    if (st->txn_depth <= 0)
        return;
    st->txn_depth = 0;
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    store__pack_close_all(st);
    store__pack_recover(st, NULL);
}

/* ---- refs
 * -----------------------------------------------------------------------------
 */

static bool ref_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x21 || name[i] == 0x7f)
            return false;
    return true;
}

int store__ref_set(gosr_store *st, const char *name, const gosr_hash *root,
                   gosr_error *err)
{
    if (!ref_name_ok(name) || !root)
        return gosr_error_set(err, GOSR_EINVAL, "ref_name_invalid",
                              "ref names are 1..255 printable bytes");
    if (!store__has(st, root))
        return gosr_error_set(err, GOSR_ENOENT, "ref_target_missing",
                              "the ref target is not in the store");
    int rc = store__begin(st, err);
    if (rc != GOSR_OK)
        return rc;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO refs(name,root,updated) "
                           "VALUES(?,?,strftime('%s','now'))",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = store__sql_error(st, err, "ref_set");
        store__rollback(st);
        return rc;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, root->b, 32, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store__sql_error(st, err, "ref_set");
    sqlite3_finalize(s);
    if (rc != GOSR_OK) {
        store__rollback(st);
        return rc;
    }
    return store__commit(st, err);
}

int store__ref_get(gosr_store *st, const char *name, gosr_hash *root,
                   gosr_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT root FROM refs WHERE name=?", -1, &s,
                           NULL) != SQLITE_OK)
        return store__sql_error(st, err, "ref_get");
    sqlite3_bind_text(s, 1, name ? name : "", -1, SQLITE_STATIC);
    int rc = GOSR_OK;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32)
        memcpy(root->b, sqlite3_column_blob(s, 0), 32);
    else
        rc = gosr_error_set(err, GOSR_ENOENT, "ref_not_found",
                            "no ref named '%s'", name ? name : "");
    sqlite3_finalize(s);
    return rc;
}

int store__ref_delete(gosr_store *st, const char *name, gosr_error *err)
{
    int rc = store__begin(st, err);
    if (rc != GOSR_OK)
        return rc;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "DELETE FROM refs WHERE name=?", -1, &s,
                           NULL) != SQLITE_OK) {
        rc = store__sql_error(st, err, "ref_delete");
        store__rollback(st);
        return rc;
    }
    sqlite3_bind_text(s, 1, name ? name : "", -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store__sql_error(st, err, "ref_delete");
    else if (sqlite3_changes(st->db) == 0)
        rc = gosr_error_set(err, GOSR_ENOENT, "ref_not_found",
                            "no ref named '%s'", name ? name : "");
    sqlite3_finalize(s);
    if (rc != GOSR_OK) {
        store__rollback(st);
        return rc;
    }
    return store__commit(st, err);
}

int store__ref_foreach(gosr_store *st, gosr_store_ref_fn fn, void *ud,
                       gosr_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT name,root FROM refs ORDER BY name",
                           -1, &s, NULL) != SQLITE_OK)
        return store__sql_error(st, err, "ref_foreach");
    int rc = GOSR_OK, r;
    while (rc == GOSR_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        gosr_hash h = {{0}};
        if (sqlite3_column_bytes(s, 1) == 32)
            memcpy(h.b, sqlite3_column_blob(s, 1), 32);
        rc = fn(ud, (const char *)sqlite3_column_text(s, 0), &h);
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- stats
 * -----------------------------------------------------------------------------
 */

static uint64_t file_size(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

int store__stat(gosr_store *st, gosr_store_stats *out, gosr_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = NULL;
    static const char *q =
        "SELECT (SELECT count(*) FROM objects WHERE kind=0),"
        " (SELECT count(*) FROM objects WHERE kind<>0),"
        " (SELECT coalesce(sum(plain_len),0) FROM objects WHERE kind=0),"
        " (SELECT coalesce(sum(stored_len),0) FROM objects WHERE kind=0),"
        " (SELECT coalesce(sum(stored_len+88),0) FROM objects),"
        " (SELECT coalesce(sum(size),0) FROM packs),"
        " (SELECT count(*) FROM refs)";
    if (sqlite3_prepare_v2(st->db, q, -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return store__sql_error(st, err, "stat");
    }
    out->chunk_count = (uint64_t)sqlite3_column_int64(s, 0);
    out->object_count = (uint64_t)sqlite3_column_int64(s, 1);
    out->unique_bytes = (uint64_t)sqlite3_column_int64(s, 2);
    uint64_t payload = (uint64_t)sqlite3_column_int64(s, 3);
    out->stored_bytes = (uint64_t)sqlite3_column_int64(s, 4);
    out->pack_bytes = (uint64_t)sqlite3_column_int64(s, 5);
    out->ref_count = (uint64_t)sqlite3_column_int64(s, 6);
    sqlite3_finalize(s);
    int64_t v = 0;
    meta_get(st, "logical_bytes", &v);
    out->logical_bytes = (uint64_t)v;
    meta_get(st, "files_put", &v);
    out->files_put = (uint64_t)v;
    out->index_bytes =
        file_size(st->dir, "index.db") + file_size(st->dir, "index.db-wal");
    out->dedup_ratio =
        out->unique_bytes ? (double)out->logical_bytes / out->unique_bytes : 0;
    out->compression_ratio = payload ? (double)out->unique_bytes / payload : 0;
    out->encrypted = st->encrypted;
    return GOSR_OK;
}
