/*
 * check.c — fsck (read and verify every object, quarantine corrupt ones,
 * then walk every ref for missing objects) and GC (mark from refs into a
 * temporary table, sweep unreachable rows, compact packs with dead bytes:
 * copy live records to a fresh pack, switch the index in one transaction,
 * then unlink the old pack). The public calls here are the unlocked
 * store__ bodies behind api.c. Design: docs/store.md ("fsck", "GC").
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- marking from refs ----------------------------------------------------
 */

/* Walk state shared by fsck and GC. */
typedef struct mark_ctx {
    gosr_store *st;    /* the store */
    sqlite3_stmt *ins; /* INSERT OR IGNORE INTO live */
    uint64_t missing;  /* referenced objects absent (or unreadable) */
    uint64_t live;     /* distinct objects marked */
} mark_ctx;

/* Marks a locator; returns true when it was not yet marked. */
static bool mark_loc(mark_ctx *m, const gosr_hash *loc)
{
    sqlite3_reset(m->ins);
    sqlite3_bind_blob(m->ins, 1, loc->b, 32, SQLITE_TRANSIENT);
    if (sqlite3_step(m->ins) != SQLITE_DONE)
        return false;
    bool fresh = sqlite3_changes(m->st->db) > 0;
    m->live += fresh;
    return fresh;
}

static int mark_object(mark_ctx *m, const gosr_hash *id, gosr_error *err);

static int mark_children(mark_ctx *m, uint8_t kind, const gosr_buf *b,
                         gosr_error *err)
{
    gosr_chunk_ref *c = NULL;
    gosr_tree_entry *e = NULL;
    size_t n = 0;
    int rc = GOSR_OK;
    if (kind == GOSR_OBJ_FILE &&
        store__file_decode(b->data, b->len, &c, &n, NULL) == GOSR_OK) {
        for (size_t i = 0; i < n && rc == GOSR_OK; i++)
            rc = mark_object(m, &c[i].id, err);
        gosr_free(c);
    } else if (kind == GOSR_OBJ_TREE &&
               store__tree_decode(b->data, b->len, &e, &n, NULL) == GOSR_OK) {
        for (size_t i = 0; i < n && rc == GOSR_OK; i++)
            rc = mark_object(m, &e[i].file_id, err);
        store__tree_entries_free(e, n);
    } else if (kind != GOSR_OBJ_CHUNK) {
        m->missing++; /* a manifest that does not parse */
    }
    return rc;
}

/* Marks an object and, for manifests, everything under it. Missing or
 * unreadable objects are counted, not fatal. */
static int mark_object(mark_ctx *m, const gosr_hash *id, gosr_error *err)
{
    gosr_hash loc, got;
    store_row row;
    store__locator(m->st, id, &loc);
    int rc = store__row_get(m->st, &loc, &row);
    if (rc == GOSR_ENOENT) {
        m->missing++;
        return GOSR_OK;
    }
    if (rc != GOSR_OK)
        return store__sql_error(m->st, err, "mark");
    if (!mark_loc(m, &loc) || row.rec.kind == GOSR_OBJ_CHUNK)
        return GOSR_OK;
    gosr_buf b = {0};
    rc = store__row_read(m->st, &row, &got, &b, NULL);
    if (rc == GOSR_OK) {
        rc = mark_children(m, row.rec.kind, &b, err);
    } else if (rc == GOSR_ENOMEM) {
        rc = gosr_error_set(err, rc, "out_of_memory", "mark");
    } else {
        m->missing++; /* unreadable counts as missing, not fatal */
        rc = GOSR_OK;
    }
    gosr_buf_free(&b);
    return rc;
}

static int mark_ref(void *ud, const char *name, const gosr_hash *root)
{
    (void)name;
    return mark_object(ud, root, NULL);
}

/* Fills the temp table `live` from every ref. */
static int mark_all(gosr_store *st, mark_ctx *m, gosr_error *err)
{
    memset(m, 0, sizeof *m);
    m->st = st;
    int rc = store__exec(st,
                         "CREATE TEMP TABLE IF NOT EXISTS live(loc BLOB "
                         "PRIMARY KEY) WITHOUT ROWID; DELETE FROM live;",
                         err);
    if (rc != GOSR_OK)
        return rc;
    if (sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO live VALUES(?)", -1,
                           &m->ins, NULL) != SQLITE_OK)
        return store__sql_error(st, err, "mark");
    rc = store__ref_foreach(st, mark_ref, m, err);
    sqlite3_finalize(m->ins);
    m->ins = NULL;
    return rc;
}

/* ---- fsck
 * ------------------------------------------------------------------------ */

/* Loads every index row (so the table can change while we check). */
static int load_rows(gosr_store *st, const char *where, store_row **rows,
                     size_t *n, gosr_error *err)
{
    char *sql =
        gosr_asprintf("SELECT loc FROM objects %s ORDER BY pack, off", where);
    sqlite3_stmt *s = NULL;
    if (!sql || sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        gosr_free(sql);
        return store__sql_error(st, err, "load rows");
    }
    gosr_free(sql);
    gosr_buf b = {0};
    int rc = GOSR_OK;
    while (rc == GOSR_OK && sqlite3_step(s) == SQLITE_ROW) {
        store_row row;
        gosr_hash loc = {{0}};
        if (sqlite3_column_bytes(s, 0) == 32)
            memcpy(loc.b, sqlite3_column_blob(s, 0), 32);
        if (store__row_get(st, &loc, &row) == GOSR_OK)
            rc = gosr_buf_append(&b, &row, sizeof row);
    }
    sqlite3_finalize(s);
    if (rc != GOSR_OK) {
        gosr_buf_free(&b);
        return gosr_error_set(err, rc, "out_of_memory", "load rows");
    }
    *rows = (store_row *)b.data;
    *n = b.len / sizeof(store_row);
    return GOSR_OK;
}

/* Copies whatever is readable of a record to DIR/quarantine/<loc>.rec. */
static void quarantine(gosr_store *st, const store_row *row)
{
    char hex[65];
    gosr_hash_hex(&row->loc, hex);
    char *dir = gosr_asprintf("%s/quarantine", st->dir);
    char *path = gosr_asprintf("%s/quarantine/%s.rec", st->dir, hex);
    size_t n = STORE_REC_HDR + (size_t)row->rec.stored_len;
    uint8_t *p = gosr_malloc(n);
    if (dir && path && p && gosr_mkdir_p(dir, 0700) == GOSR_OK) {
        char *pack = store__pack_path(st, row->pack);
        int fd = pack ? open(pack, O_RDONLY | O_CLOEXEC) : -1;
        ssize_t r = fd >= 0 ? pread(fd, p, n, row->off) : -1;
        if (fd >= 0)
            close(fd);
        gosr_file_write_atomic(path, p, r > 0 ? (size_t)r : 0, 0600);
        gosr_free(pack);
    }
    gosr_free(p);
    gosr_free(dir);
    gosr_free(path);
}

/* Verifies one row completely (manifests also parse). */
static int check_row(gosr_store *st, const store_row *row, gosr_buf *b,
                     gosr_error *why)
{
    gosr_hash id;
    b->len = 0;
    int rc = store__row_read(st, row, &id, b, why);
    if (rc == GOSR_OK && row->rec.kind != GOSR_OBJ_CHUNK)
        rc = store__object_validate(row->rec.kind, b->data, b->len, why);
    return rc;
}

static int drop_rows(gosr_store *st, const gosr_hash *locs, size_t n,
                     gosr_error *err)
{
    int rc = store__begin(st, err);
    sqlite3_stmt *s = NULL;
    if (rc == GOSR_OK &&
        sqlite3_prepare_v2(st->db, "DELETE FROM objects WHERE loc=?", -1, &s,
                           NULL) != SQLITE_OK)
        rc = store__sql_error(st, err, "drop");
    for (size_t i = 0; i < n && rc == GOSR_OK; i++) {
        sqlite3_reset(s);
        sqlite3_bind_blob(s, 1, locs[i].b, 32, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = store__sql_error(st, err, "drop");
    }
    sqlite3_finalize(s);
    if (rc == GOSR_OK)
        return store__commit(st, err);
    store__rollback(st);
    return rc;
}

/* Pass 1 of fsck: verifies every row, quarantines and drops bad ones. */
static int fsck_objects(gosr_store *st, gosr_store_fsck_fn fn, void *ud,
                        gosr_store_fsck_report *rep, gosr_error *err)
{
    store_row *rows = NULL;
    size_t n = 0;
    int rc = load_rows(st, "", &rows, &n, err);
    if (rc != GOSR_OK)
        return rc;
    gosr_buf b = {0}, bad = {0};
    for (size_t i = 0; i < n && rc == GOSR_OK; i++) {
        gosr_error why;
        gosr_error_clear(&why);
        int r = check_row(st, &rows[i], &b, &why);
        rep->checked++;
        if (r == GOSR_ENOMEM) {
            rc = gosr_error_set(err, r, "out_of_memory", "fsck");
        } else if (r != GOSR_OK) {
            rep->corrupt++;
            if (fn)
                fn(ud, &rows[i].loc, &why);
            if (!st->cfg.read_only)
                quarantine(st, &rows[i]);
            rc = gosr_buf_append(&bad, rows[i].loc.b, 32);
        } else {
            rep->bytes_checked += rows[i].rec.plain_len;
        }
    }
    if (rc == GOSR_OK && bad.len && !st->cfg.read_only)
        rc = drop_rows(st, (const gosr_hash *)bad.data, bad.len / 32, err);
    gosr_buf_free(&b);
    gosr_buf_free(&bad);
    gosr_free(rows);
    return rc;
}

static int count_ref(void *ud, const char *name, const gosr_hash *root)
{
    (void)name;
    (void)root;
    (*(uint64_t *)ud)++;
    return GOSR_OK;
}

int store__fsck(gosr_store *st, gosr_store_fsck_fn fn, void *ud,
                gosr_store_fsck_report *rep, gosr_error *err)
{
    gosr_store_fsck_report local;
    rep = rep ? rep : &local;
    memset(rep, 0, sizeof *rep);
    if (!st)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "fsck");
    int rc = fsck_objects(st, fn, ud, rep, err);
    mark_ctx m;
    if (rc == GOSR_OK)
        rc = mark_all(st, &m, err);
    if (rc == GOSR_OK)
        rc = store__ref_foreach(st, count_ref, &rep->refs_checked, err);
    if (rc != GOSR_OK)
        return rc;
    rep->missing = m.missing;
    if (rep->corrupt || rep->missing)
        return gosr_error_set(err, GOSR_ECORRUPT, "fsck_failed",
                              "%llu corrupt, %llu missing of %llu objects",
                              (unsigned long long)rep->corrupt,
                              (unsigned long long)rep->missing,
                              (unsigned long long)rep->checked);
    return GOSR_OK;
}

/* ---- gc
 * ---------------------------------------------------------------------------
 */

static int sweep(gosr_store *st, gosr_store_gc_report *rep, gosr_error *err)
{
    sqlite3_stmt *s = NULL;
    static const char *q = "SELECT count(*), coalesce(sum(stored_len+88),0) "
                           "FROM objects WHERE loc NOT IN (SELECT loc FROM "
                           "temp.live)";
    if (sqlite3_prepare_v2(st->db, q, -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return store__sql_error(st, err, "sweep");
    }
    rep->removed_objects = (uint64_t)sqlite3_column_int64(s, 0);
    rep->removed_bytes = (uint64_t)sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    return store__exec(st,
                       "DELETE FROM objects WHERE loc NOT IN (SELECT loc "
                       "FROM temp.live)",
                       err);
}

/* Copies the live records of pack `old` into the writer's pack and
 * repoints their rows. Inside the caller's transaction. */
static int compact_pack(gosr_store *st, int64_t old, gosr_error *err)
{
    char where[64];
    snprintf(where, sizeof where, "WHERE pack=%lld", (long long)old);
    store_row *rows = NULL;
    size_t n = 0;
    int rc = load_rows(st, where, &rows, &n, err);
    sqlite3_stmt *u = NULL;
    if (rc == GOSR_OK &&
        sqlite3_prepare_v2(st->db,
                           "UPDATE objects SET pack=?, off=? WHERE "
                           "loc=?",
                           -1, &u, NULL) != SQLITE_OK)
        rc = store__sql_error(st, err, "compact");
    gosr_buf b = {0};
    for (size_t i = 0; i < n && rc == GOSR_OK; i++) {
        int64_t pack, off;
        b.len = 0;
        rc = gosr_buf_reserve(&b, rows[i].rec.stored_len);
        if (rc == GOSR_OK)
            rc = store__pack_read(st, rows[i].pack, rows[i].off + STORE_REC_HDR,
                                  rows[i].rec.stored_len, b.data, err);
        if (rc == GOSR_OK)
            rc = store__pack_append(st, &rows[i].rec, b.data, &pack, &off, err);
        if (rc != GOSR_OK)
            break;
        sqlite3_reset(u);
        sqlite3_bind_int64(u, 1, pack);
        sqlite3_bind_int64(u, 2, off);
        sqlite3_bind_blob(u, 3, rows[i].loc.b, 32, SQLITE_STATIC);
        if (sqlite3_step(u) != SQLITE_DONE)
            rc = store__sql_error(st, err, "compact");
    }
    sqlite3_finalize(u);
    gosr_buf_free(&b);
    gosr_free(rows);
    return rc;
}

/* Packs whose committed size exceeds their live bytes, into ids. */
static int dirty_packs(gosr_store *st, gosr_buf *ids, gosr_error *err)
{
    sqlite3_stmt *s = NULL;
    static const char *q =
        "SELECT p.id FROM packs p WHERE p.size > (SELECT "
        "coalesce(sum(stored_len+88),0) FROM objects o WHERE o.pack=p.id)";
    if (sqlite3_prepare_v2(st->db, q, -1, &s, NULL) != SQLITE_OK)
        return store__sql_error(st, err, "gc packs");
    int rc = GOSR_OK;
    while (rc == GOSR_OK && sqlite3_step(s) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        rc = gosr_buf_append(ids, &id, sizeof id);
    }
    sqlite3_finalize(s);
    return rc;
}

/* Rewrites dirty packs into fresh ones; unlinks the old after commit. */
static int compact(gosr_store *st, gosr_store_gc_report *rep, gosr_error *err)
{
    gosr_buf ids = {0};
    int rc = dirty_packs(st, &ids, err);
    size_t n = ids.len / sizeof(int64_t);
    const int64_t *id = (const int64_t *)ids.data;
    if (rc != GOSR_OK || n == 0)
        goto out_free;
    store__pack_close_all(st);
    st->w_size = st->w_committed = st->cfg.pack_max; /* force a new pack */
    rc = store__begin(st, err);
    for (size_t i = 0; i < n && rc == GOSR_OK; i++) {
        rc = compact_pack(st, id[i], err);
        char sql[64];
        snprintf(sql, sizeof sql, "DELETE FROM packs WHERE id=%lld",
                 (long long)id[i]);
        if (rc == GOSR_OK)
            rc = store__exec(st, sql, err);
    }
    if (rc != GOSR_OK) {
        store__rollback(st);
        goto out_free;
    }
    if ((rc = store__commit(st, err)) != GOSR_OK)
        goto out_free;
    store__pack_close_all(st);
    for (size_t i = 0; i < n; i++) {
        char *path = store__pack_path(st, id[i]);
        if (path)
            gosr_io()->unlink(path);
        gosr_free(path);
    }
    rep->packs_rewritten = n;
out_free:
    gosr_buf_free(&ids);
    return rc;
}

int store__gc(gosr_store *st, gosr_store_gc_report *rep, gosr_error *err)
{
    gosr_store_gc_report local;
    rep = rep ? rep : &local;
    memset(rep, 0, sizeof *rep);
    if (!st)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "gc");
    gosr_store_stats before, after;
    int rc = store__stat(st, &before, err);
    if (rc == GOSR_OK)
        rc = store__begin(st, err);
    if (rc != GOSR_OK)
        return rc;
    mark_ctx m;
    rc = mark_all(st, &m, err);
    if (rc == GOSR_OK && m.missing)
        rc = gosr_error_set(err, GOSR_ECORRUPT, "gc_missing_object",
                            "%llu referenced objects are missing; run fsck",
                            (unsigned long long)m.missing);
    if (rc == GOSR_OK)
        rc = sweep(st, rep, err);
    if (rc != GOSR_OK) {
        store__rollback(st);
        return rc;
    }
    rep->live_objects = m.live;
    if ((rc = store__commit(st, err)) == GOSR_OK)
        rc = compact(st, rep, err);
    if (rc == GOSR_OK && store__stat(st, &after, NULL) == GOSR_OK)
        rep->bytes_freed = before.pack_bytes > after.pack_bytes
                               ? before.pack_bytes - after.pack_bytes
                               : 0;
    return rc;
}
