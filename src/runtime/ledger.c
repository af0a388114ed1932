/*
 * ledger.c — the activation ledger: an append-only, hash-chained table in
 * SQLite (WAL, synchronous=FULL). Each row carries the previous row's hash
 * and its own hash = BLAKE3(prev_hash || canonical row encoding). The API
 * has no update or delete path and triggers abort UPDATE/DELETE from any
 * other client; the chain is verified at open, and a broken chain puts the
 * ledger in safe mode, which refuses new activations.
 *
 * Design: docs/ledger.md (schema, canonical encoding, safe mode).
 */
#include "gosr/runtime.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_MAGIC "GOSRLDG1"
#define FIELD_MAX 255
#define REASON_MAX 4096
#define EVIDENCE_MAX (1u << 20)

struct gosr_ledger {
    sqlite3 *db;    /* connection; one thread at a time */
    bool safe_mode; /* chain broken: activations refused */
};

static const char k_schema[] =
    "CREATE TABLE IF NOT EXISTS ledger ("
    " seq INTEGER PRIMARY KEY,"
    " time_ns INTEGER NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,"
    " version TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL,"
    " prev_hash BLOB NOT NULL, row_hash BLOB NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger"
    " BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger"
    " BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;";

static int db_error(sqlite3 *db, gosr_error *err, const char *what)
{
    return gosr_error_set(err, GOSR_EIO, "ledger_sqlite_error", "%s: %s", what,
                          db ? sqlite3_errmsg(db) : "no connection");
}

/* ---- canonical encoding ------------------------------------------------- */

static int put_i64(gosr_buf *b, int64_t v)
{
    uint8_t p[8];
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)((uint64_t)v >> (8 * i));
    return gosr_buf_append(b, p, 8);
}

static int put_text(gosr_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    uint8_t p[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16),
                    (uint8_t)(n >> 24)};
    int rc = gosr_buf_append(b, p, 4);
    return rc == GOSR_OK && n ? gosr_buf_append(b, s, n) : rc;
}

int gosr_ledger_row_encode(const gosr_ledger_row *r, gosr_buf *out)
{
    int rc = gosr_buf_append(out, ROW_MAGIC, 8);
    if (rc == GOSR_OK)
        rc = put_i64(out, r->seq);
    if (rc == GOSR_OK)
        rc = put_i64(out, r->time_ns);
    const char *f[6] = {r->actor,   r->action, r->subject,
                        r->version, r->reason, r->evidence};
    for (int i = 0; i < 6 && rc == GOSR_OK; i++)
        rc = put_text(out, f[i]);
    return rc;
}

static int row_hash(const gosr_ledger_row *r, uint8_t out[32])
{
    gosr_buf b = {0};
    int rc = gosr_buf_append(&b, r->prev_hash, 32);
    if (rc == GOSR_OK)
        rc = gosr_ledger_row_encode(r, &b);
    if (rc == GOSR_OK) {
        gosr_hash h;
        gosr_blake3_hash(b.data, b.len, &h);
        memcpy(out, h.b, 32);
    }
    gosr_buf_free(&b);
    return rc;
}

/* ---- open / close ------------------------------------------------------- */

int gosr_ledger_open(const char *path, gosr_ledger **out, gosr_error *err)
{
    gosr_ledger *l = gosr_calloc(1, sizeof *l);
    if (!l)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "ledger");
    int rc = GOSR_OK;
    if (sqlite3_open_v2(path, &l->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        rc = db_error(l->db, err, "open");
        goto out_close;
    }
    sqlite3_busy_timeout(l->db, 10000);
    if (sqlite3_exec(l->db,
                     "PRAGMA journal_mode=WAL;"
                     "PRAGMA synchronous=FULL;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(l->db, k_schema, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(l->db, err, "schema");
        goto out_close;
    }
    int64_t bad = 0;
    gosr_error verr;
    rc = gosr_ledger_verify(l, &bad, &verr);
    if (rc == GOSR_ECORRUPT) {
        l->safe_mode = true;
        gosr_log(GOSR_LOG_ERROR, "ledger",
                 "%s: chain broken at seq %lld (%s); safe mode: activations "
                 "refused",
                 path, (long long)bad, verr.detail);
        rc = GOSR_OK;
    } else if (rc != GOSR_OK) {
        if (err)
            *err = verr;
        goto out_close;
    }
    *out = l;
    return GOSR_OK;
out_close:
    sqlite3_close(l->db);
    gosr_free(l);
    return rc;
}

void gosr_ledger_close(gosr_ledger *l)
{
    if (!l)
        return;
    sqlite3_close(l->db);
    gosr_free(l);
}

bool gosr_ledger_safe_mode(const gosr_ledger *l)
{
    return l->safe_mode;
}

/* ---- append ------------------------------------------------------------- */

static bool field_ok(const char *s, size_t max, bool allow_empty)
{
    if (!s)
        return allow_empty;
    size_t n = strnlen(s, max + 1);
    if (n > max || (!allow_empty && n == 0))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n')
            return false;
    return true;
}

/* Canonical evidence text: compact JSON, sorted keys; caller frees with
 * free() (jansson's allocator). */
static int canonical_evidence(const char *in, char **out, gosr_error *err)
{
    json_error_t je;
    json_t *v = json_loads(in ? in : "{}", JSON_REJECT_DUPLICATES, &je);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        return gosr_error_set(err, GOSR_EINVAL, "ledger_bad_evidence",
                              "evidence must be a JSON object%s%s",
                              v ? "" : ": ", v ? "" : je.text);
    }
    *out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(v);
    if (!*out)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "evidence");
    if (strlen(*out) > EVIDENCE_MAX) {
        free(*out);
        return gosr_error_set(err, GOSR_ETOOBIG, "ledger_evidence_too_big",
                              "evidence over %u bytes", EVIDENCE_MAX);
    }
    return GOSR_OK;
}

static int check_row(const gosr_ledger *l, const gosr_ledger_row *r,
                     gosr_error *err)
{
    if (!field_ok(r->actor, FIELD_MAX, false) ||
        !field_ok(r->action, FIELD_MAX, false) ||
        !field_ok(r->subject, FIELD_MAX, false) ||
        !field_ok(r->version, FIELD_MAX, false) ||
        !field_ok(r->reason, REASON_MAX, true))
        return gosr_error_set(err, GOSR_EINVAL, "ledger_bad_field",
                              "actor, action, subject, version: 1..%d bytes; "
                              "reason up to %d; no control characters",
                              FIELD_MAX, REASON_MAX);
    if (l->safe_mode && strcmp(r->action, "activate") == 0)
        return gosr_error_set(err, GOSR_EDENIED, "ledger_chain_broken",
                              "the ledger chain is broken; the node is in "
                              "safe mode and refuses activations");
    return GOSR_OK;
}

/* Reads the head (last seq and row_hash) inside the open transaction. */
static int read_head(sqlite3 *db, int64_t *seq, uint8_t hash[32])
{
    sqlite3_stmt *st;
    *seq = 0;
    memset(hash, 0, 32);
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, row_hash FROM ledger "
                           "ORDER BY seq DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return GOSR_EIO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        if (sqlite3_column_bytes(st, 1) == 32)
            memcpy(hash, sqlite3_column_blob(st, 1), 32);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? GOSR_OK : GOSR_EIO;
}

static int insert_row(sqlite3 *db, const gosr_ledger_row *r)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO ledger VALUES "
                           "(?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return GOSR_EIO;
    sqlite3_bind_int64(st, 1, r->seq);
    sqlite3_bind_int64(st, 2, r->time_ns);
    const char *f[6] = {r->actor,
                        r->action,
                        r->subject,
                        r->version,
                        r->reason ? r->reason : "",
                        r->evidence};
    for (int i = 0; i < 6; i++)
        sqlite3_bind_text(st, 3 + i, f[i], -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, r->prev_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 10, r->row_hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? GOSR_OK : GOSR_EIO;
}

int gosr_ledger_append(gosr_ledger *l, gosr_ledger_row *row, gosr_error *err)
{
    int rc = check_row(l, row, err);
    if (rc != GOSR_OK)
        return rc;
    char *ev = NULL;
    if ((rc = canonical_evidence(row->evidence, &ev, err)) != GOSR_OK)
        return rc;
    gosr_ledger_row r = *row;
    r.evidence = ev;
    r.reason = row->reason ? row->reason : "";
    if (!r.time_ns)
        r.time_ns = (int64_t)gosr_time_wall_ns();
    if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(l->db, err, "begin");
        goto out_free;
    }
    if ((rc = read_head(l->db, &r.seq, r.prev_hash)) == GOSR_OK) {
        r.seq++;
        rc = row_hash(&r, r.row_hash);
    }
    if (rc == GOSR_OK)
        rc = insert_row(l->db, &r);
    if (rc == GOSR_OK &&
        sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = GOSR_EIO;
    if (rc != GOSR_OK) {
        db_error(l->db, err, "append");
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        goto out_free;
    }
    row->seq = r.seq;
    row->time_ns = r.time_ns;
    memcpy(row->prev_hash, r.prev_hash, 32);
    memcpy(row->row_hash, r.row_hash, 32);
out_free:
    free(ev);
    return rc;
}

/* ---- read / verify ------------------------------------------------------ */

static const char k_select[] =
    "SELECT seq, time_ns, actor, action, subject, version, reason, evidence,"
    " prev_hash, row_hash FROM ledger";

/* Copies a column's text (NULL for SQL NULL or non-text). */
static char *col_text(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) != SQLITE_TEXT)
        return NULL;
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? gosr_strndup((const char *)s,
                            (size_t)sqlite3_column_bytes(st, i))
             : NULL;
}

/* Fills a row from the statement; false when a column has the wrong type
 * or size (a tampered or partial row). */
static bool load_row(sqlite3_stmt *st, gosr_ledger_row *r)
{
    memset(r, 0, sizeof *r);
    r->seq = sqlite3_column_int64(st, 0);
    r->time_ns = sqlite3_column_int64(st, 1);
    char **f[6] = {&r->actor,   &r->action, &r->subject,
                   &r->version, &r->reason, &r->evidence};
    bool ok = sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
              sqlite3_column_type(st, 1) == SQLITE_INTEGER;
    for (int i = 0; i < 6; i++)
        ok = (*f[i] = col_text(st, 2 + i)) != NULL && ok;
    for (int i = 8; i < 10; i++) {
        bool blob = sqlite3_column_type(st, i) == SQLITE_BLOB &&
                    sqlite3_column_bytes(st, i) == 32;
        if (blob)
            memcpy(i == 8 ? r->prev_hash : r->row_hash,
                   sqlite3_column_blob(st, i), 32);
        ok = ok && blob;
    }
    return ok;
}

void gosr_ledger_row_clear(gosr_ledger_row *r)
{
    if (!r)
        return;
    gosr_free(r->actor);
    gosr_free(r->action);
    gosr_free(r->subject);
    gosr_free(r->version);
    gosr_free(r->reason);
    gosr_free(r->evidence);
    memset(r, 0, sizeof *r);
}

/* Checks one row against the expected seq and previous hash. */
static const char *check_link(const gosr_ledger_row *r, bool loaded,
                              int64_t want_seq, const uint8_t prev[32])
{
    uint8_t h[32];
    if (!loaded)
        return "row has a missing or mistyped column";
    if (r->seq != want_seq)
        return "sequence gap";
    if (memcmp(r->prev_hash, prev, 32) != 0)
        return "prev_hash does not match the previous row";
    if (row_hash(r, h) != GOSR_OK || memcmp(h, r->row_hash, 32) != 0)
        return "row_hash does not match the row's content";
    return NULL;
}

int gosr_ledger_verify(gosr_ledger *l, int64_t *first_bad, gosr_error *err)
{
    sqlite3_stmt *st;
    char sql[256];
    snprintf(sql, sizeof sql, "%s ORDER BY seq", k_select);
    *first_bad = 0;
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(l->db, err, "verify");
    uint8_t prev[32] = {0};
    int64_t want = 1;
    int rc = GOSR_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        gosr_ledger_row r;
        bool loaded = load_row(st, &r);
        const char *why = check_link(&r, loaded, want, prev);
        memcpy(prev, r.row_hash, 32);
        gosr_ledger_row_clear(&r);
        if (why) {
            *first_bad = want;
            rc = gosr_error_set(err, GOSR_ECORRUPT, "ledger_chain_broken",
                                "seq %lld: %s", (long long)want, why);
            break;
        }
        want++;
    }
    if (rc == GOSR_OK && step != SQLITE_DONE)
        rc = db_error(l->db, err, "verify");
    sqlite3_finalize(st);
    if (rc == GOSR_ECORRUPT)
        l->safe_mode = true;
    return rc;
}

int gosr_ledger_head(gosr_ledger *l, int64_t *count, uint8_t head[32])
{
    return read_head(l->db, count, head);
}

int gosr_ledger_get(gosr_ledger *l, int64_t seq, gosr_ledger_row *out,
                    gosr_error *err)
{
    sqlite3_stmt *st;
    char sql[256];
    snprintf(sql, sizeof sql, "%s WHERE seq = ?", k_select);
    memset(out, 0, sizeof *out);
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(l->db, err, "get");
    sqlite3_bind_int64(st, 1, seq);
    int rc = GOSR_OK, step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        rc = gosr_error_set(err, GOSR_ENOENT, "ledger_no_such_row",
                            "no row %lld", (long long)seq);
    else if (step != SQLITE_ROW)
        rc = db_error(l->db, err, "get");
    else if (!load_row(st, out))
        rc = gosr_error_set(err, GOSR_ECORRUPT, "ledger_row_malformed",
                            "row %lld has a mistyped column", (long long)seq);
    if (rc != GOSR_OK)
        gosr_ledger_row_clear(out);
    sqlite3_finalize(st);
    return rc;
}
