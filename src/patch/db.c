/*
 * db.c — the patch tables in DIR/patches.db (docs/patch.md, "Tables"):
 * patches, seen ids, the version pointer, the kill-switch control row and
 * the transition log, whose every row is mirrored into the node's
 * hash-chained ledger as action "patch.<state>".
 */
#include "patch/patch_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char SCHEMA[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS patches ("
    " id TEXT PRIMARY KEY, series TEXT NOT NULL, version TEXT NOT NULL,"
    " parent TEXT, state TEXT NOT NULL, reasons TEXT NOT NULL DEFAULT '[]',"
    " scope TEXT NOT NULL DEFAULT 'global',"
    " rollout_pct INTEGER NOT NULL DEFAULT 0,"
    " known_good INTEGER NOT NULL DEFAULT 0,"
    " awaiting_approval INTEGER NOT NULL DEFAULT 0,"
    " kpi TEXT, submitted_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL,"
    " activated_ns INTEGER);"
    "CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY,"
    " seen_ns INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS pointer (k INTEGER PRIMARY KEY CHECK (k = 1),"
    " active TEXT NOT NULL, prev TEXT NOT NULL, pct INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO pointer VALUES (1, '', '', 0);"
    "CREATE TABLE IF NOT EXISTS control (key TEXT PRIMARY KEY,"
    " value TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,"
    " time_ns INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO control VALUES ('ai_patch_ingest_enabled', '1',"
    " 'default', 'initial', 0);"
    "CREATE TABLE IF NOT EXISTS transitions (seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL, state TEXT NOT NULL, actor TEXT NOT NULL,"
    " reason TEXT NOT NULL, evidence TEXT NOT NULL, time_ns INTEGER NOT NULL);";

int patch__db_open(gosr_patch_mgr *m, gosr_error *err)
{
    char *p = gosr_asprintf("%s/patches.db", gosr_node_dir(m->node));
    if (!p)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "path");
    int rc = sqlite3_open(p, &m->db);
    gosr_free(p);
    if (rc == SQLITE_OK)
        sqlite3_busy_timeout(m->db, 5000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(m->db, SCHEMA, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return gosr_error_set(err, GOSR_EIO, "patch_db", "patches.db: %s",
                              sqlite3_errmsg(m->db));
    return GOSR_OK;
}

/* Runs one statement with printf-style %Q/%q quoting (sqlite3_vmprintf). */
int patch__exec(gosr_patch_mgr *m, gosr_error *err, const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    char *q = sqlite3_vmprintf(sql, ap);
    va_end(ap);
    if (!q)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "sql");
    int rc = sqlite3_exec(m->db, q, NULL, NULL, NULL);
    sqlite3_free(q);
    if (rc != SQLITE_OK)
        return gosr_error_set(err, GOSR_EIO, "patch_db", "patches.db: %s",
                              sqlite3_errmsg(m->db));
    return GOSR_OK;
}

int patch__state(gosr_patch_mgr *m, const char *id, char *buf, size_t cap)
{
    sqlite3_stmt *st;
    int rc = GOSR_ENOENT;
    if (sqlite3_prepare_v2(m->db, "SELECT state FROM patches WHERE id = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return GOSR_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = GOSR_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int patch__transition(gosr_patch_mgr *m, const char *id, const char *to,
                      const char *actor, const char *reason, json_t *evidence,
                      gosr_error *err)
{
    if (!evidence)
        evidence = json_object();
    char *ev = json_dumps(evidence, JSON_COMPACT | JSON_SORT_KEYS);
    char version[64] = "";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->db, "SELECT version FROM patches WHERE id = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(version, sizeof version, "%s",
                     (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    uint64_t now = gosr_time_wall_ns();
    int rc = patch__exec(
        m, err,
        "BEGIN; UPDATE patches SET state = %Q, updated_ns = %lld WHERE id = %Q;"
        "INSERT INTO transitions (id, state, actor, reason, evidence, time_ns)"
        " VALUES (%Q, %Q, %Q, %Q, %Q, %lld); COMMIT;",
        to, (long long)now, id, id, to, actor, reason ? reason : "",
        ev ? ev : "{}", (long long)now);
    if (rc != GOSR_OK)
        sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
    char action[48];
    snprintf(action, sizeof action, "patch.%s", to);
    if (rc == GOSR_OK)
        rc = gosr_node_ledger_append(m->node, actor, action, id,
                                     version[0] ? version : "-",
                                     reason ? reason : "", evidence, err);
    else
        json_decref(evidence);
    free(ev);
    return rc;
}

int patch__pointer_get(gosr_patch_mgr *m, char active[65], char prev[65],
                       uint32_t *pct)
{
    sqlite3_stmt *st;
    active[0] = prev[0] = '\0';
    *pct = 0;
    if (sqlite3_prepare_v2(m->db,
                           "SELECT active, prev, pct FROM pointer WHERE k = 1",
                           -1, &st, NULL) != SQLITE_OK)
        return GOSR_EIO;
    int rc = GOSR_EIO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(active, 65, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(prev, 65, "%s", (const char *)sqlite3_column_text(st, 1));
        *pct = (uint32_t)sqlite3_column_int(st, 2);
        rc = GOSR_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int patch__pointer_set(gosr_patch_mgr *m, const char *active, const char *prev,
                       uint32_t pct, gosr_error *err)
{
    return patch__exec(m, err,
                       "UPDATE pointer SET active = %Q, prev = %Q, pct = %d"
                       " WHERE k = 1; UPDATE patches SET rollout_pct = %d"
                       " WHERE id = %Q;",
                       active, prev, (int)pct, (int)pct, active);
}

/* The value of the last kill-switch transition, or -1 when there is none. */
static int ks_last_audit(gosr_patch_mgr *m)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(m->db,
                           "SELECT state FROM transitions WHERE id ="
                           " 'killswitch' ORDER BY seq DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return -2;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = !strcmp((const char *)sqlite3_column_text(st, 0), "on") ? 1 : 0;
    sqlite3_finalize(st);
    return v;
}

int patch__ks_load(gosr_patch_mgr *m)
{
    sqlite3_stmt *st;
    m->fail_safe = true; /* until proven consistent */
    m->ingest = false;
    if (sqlite3_prepare_v2(m->db,
                           "SELECT value FROM control WHERE key ="
                           " 'ai_patch_ingest_enabled'",
                           -1, &st, NULL) != SQLITE_OK)
        return GOSR_EIO;
    int val = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        val = !strcmp(v, "1") ? 1 : !strcmp(v, "0") ? 0 : -1;
    }
    sqlite3_finalize(st);
    int audit = ks_last_audit(m);
    if (val < 0 || audit == -2 || (audit >= 0 && audit != val))
        return GOSR_ECORRUPT; /* fail safe: deny */
    m->ingest = val == 1;
    m->fail_safe = false;
    return GOSR_OK;
}

int patch__ks_store(gosr_patch_mgr *m, bool on, const char *actor,
                    const char *reason, gosr_error *err)
{
    uint64_t now = gosr_time_wall_ns();
    const char *state = on ? "on" : "off";
    json_t *ev = json_pack("{s:b, s:b}", "ai_patch_ingest_enabled", on,
                           "was_fail_safe", m->fail_safe);
    char *evs = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = patch__exec(
        m, err,
        "BEGIN; UPDATE control SET value = %Q, actor = %Q, reason = %Q,"
        " time_ns = %lld WHERE key = 'ai_patch_ingest_enabled';"
        "INSERT INTO transitions (id, state, actor, reason, evidence, time_ns)"
        " VALUES ('killswitch', %Q, %Q, %Q, %Q, %lld); COMMIT;",
        on ? "1" : "0", actor, reason, (long long)now, state, actor, reason,
        evs ? evs : "{}", (long long)now);
    free(evs);
    if (rc != GOSR_OK) {
        sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
        json_decref(ev);
        return rc;
    }
    m->ingest = on;
    m->fail_safe = false;
    return gosr_node_ledger_append(m->node, actor, "patch.killswitch",
                                   "ai_patch_ingest_enabled", state, reason, ev,
                                   err);
}

json_t *patch__row_json(gosr_patch_mgr *m, sqlite3_stmt *st)
{
    (void)m;
    const char *kpi = (const char *)sqlite3_column_text(st, 10);
    json_t *reasons =
        json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
    json_t *k = kpi ? json_loads(kpi, 0, NULL) : NULL;
    const char *parent = (const char *)sqlite3_column_text(st, 3);
    return json_pack(
        "{s:s, s:s, s:s, s:s?, s:s, s:o, s:s, s:i, s:b, s:b, s:o, s:I, s:I}",
        "id", sqlite3_column_text(st, 0), "series", sqlite3_column_text(st, 1),
        "version", sqlite3_column_text(st, 2), "parent", parent, "state",
        sqlite3_column_text(st, 4), "reasons", reasons ? reasons : json_array(),
        "scope", sqlite3_column_text(st, 6), "rollout_pct",
        sqlite3_column_int(st, 7), "known_good", sqlite3_column_int(st, 8) != 0,
        "awaiting_approval", sqlite3_column_int(st, 9) != 0, "kpi",
        k ? k : json_null(), "submitted_ns",
        (json_int_t)sqlite3_column_int64(st, 11), "updated_ns",
        (json_int_t)sqlite3_column_int64(st, 12));
}
