/*
 * userstate.c — per-user state (the seed's "user metabolism") in SQLite:
 * prompt tuning and small key/value notes. Isolation is structural: the
 * only way in is a gosr_ai_user handle bound to one user id, and every
 * statement binds that id as a parameter (never string-built SQL), so one
 * user's handle cannot name another user's rows.
 *
 * Design: docs/ai.md ("Per-user state").
 */
#include "ai/ai_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

struct gosr_ai_userstate {
    pthread_mutex_t mu; /* serialises every statement */
    sqlite3 *db;        /* the database */
};

struct gosr_ai_user {
    gosr_ai_userstate *us;        /* borrowed store */
    char id[GOSR_AI_MAX_ID + 1];  /* the bound user id */
};

static const char k_schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS user_kv("
    " user_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY(user_id, key)) WITHOUT ROWID;";

int gosr_ai_userstate_open(const char *path, gosr_ai_userstate **out,
                           gosr_error *err)
{
    gosr_ai_userstate *us = gosr_calloc(1, sizeof *us);
    if (!us)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "userstate");
    int rc = sqlite3_open_v2(path ? path : ":memory:", &us->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(us->db, k_schema, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        gosr_error_set(err, GOSR_EIO, "userstate_open", "%s: %s",
                       path ? path : ":memory:", sqlite3_errmsg(us->db));
        sqlite3_close(us->db);
        gosr_free(us);
        return GOSR_EIO;
    }
    sqlite3_busy_timeout(us->db, 2000);
    pthread_mutex_init(&us->mu, NULL);
    *out = us;
    return GOSR_OK;
}

void gosr_ai_userstate_close(gosr_ai_userstate *us)
{
    if (!us)
        return;
    sqlite3_close(us->db);
    pthread_mutex_destroy(&us->mu);
    gosr_free(us);
}

int gosr_ai_user_open(gosr_ai_userstate *us, const char *user_id,
                      gosr_ai_user **out, gosr_error *err)
{
    size_t n = user_id ? strlen(user_id) : 0;
    if (n == 0 || n > GOSR_AI_MAX_ID)
        return gosr_error_set(err, GOSR_EINVAL, "user_id_invalid",
                              "user id must be 1..%d bytes", GOSR_AI_MAX_ID);
    gosr_ai_user *u = gosr_calloc(1, sizeof *u);
    if (!u)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "user");
    u->us = us;
    memcpy(u->id, user_id, n + 1);
    *out = u;
    return GOSR_OK;
}

void gosr_ai_user_release(gosr_ai_user *u) { gosr_free(u); }

int gosr_ai_user_get(gosr_ai_user *u, const char *key, char **out,
                     gosr_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = GOSR_ENOENT;
    pthread_mutex_lock(&u->us->mu);
    if (sqlite3_prepare_v2(u->us->db,
                           "SELECT value FROM user_kv WHERE user_id=?1 AND key=?2",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = gosr_error_set(err, GOSR_EIO, "userstate_query", "%s",
                            sqlite3_errmsg(u->us->db));
        goto out_unlock;
    }
    sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = gosr_strdup((const char *)sqlite3_column_text(st, 0));
        rc = *out ? GOSR_OK : GOSR_ENOMEM;
    } else {
        gosr_error_set(err, GOSR_ENOENT, "userstate_no_key", "no such key");
    }
out_unlock:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&u->us->mu);
    return rc;
}

int gosr_ai_user_set(gosr_ai_user *u, const char *key, const char *value,
                     gosr_error *err)
{
    sqlite3_stmt *st = NULL;
    size_t kn = key ? strlen(key) : 0;
    if (kn == 0 || kn > 64 || !value || strlen(value) > 4096)
        return gosr_error_set(err, GOSR_EINVAL, "userstate_bad_key",
                              "key 1..64 bytes, value up to 4096 bytes");
    int rc = GOSR_OK;
    pthread_mutex_lock(&u->us->mu);
    if (sqlite3_prepare_v2(u->us->db,
                           "INSERT INTO user_kv(user_id,key,value) "
                           "VALUES(?1,?2,?3) ON CONFLICT(user_id,key) "
                           "DO UPDATE SET value=excluded.value",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = gosr_error_set(err, GOSR_EIO, "userstate_query", "%s",
                            sqlite3_errmsg(u->us->db));
        goto out_unlock;
    }
    sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = gosr_error_set(err, GOSR_EIO, "userstate_write", "%s",
                            sqlite3_errmsg(u->us->db));
out_unlock:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&u->us->mu);
    return rc;
}

static bool tuning_ok(const gosr_ai_tuning *t)
{
    static const char *const tones[] = {"neutral", "friendly", "grim",
                                        "whimsical", NULL};
    bool tone = false;
    for (int i = 0; tones[i]; i++)
        tone |= strcmp(t->tone, tones[i]) == 0;
    size_t n = strnlen(t->language, sizeof t->language);
    if (!tone || t->verbosity < 1 || t->verbosity > 3 || n < 2 ||
        n >= sizeof t->language)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t->language[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
            return false;
    }
    return true;
}

int gosr_ai_user_tuning_get(gosr_ai_user *u, gosr_ai_tuning *out,
                            gosr_error *err)
{
    char *s = NULL;
    *out = (gosr_ai_tuning){"neutral", 2, "en"};
    int rc = gosr_ai_user_get(u, "tuning", &s, NULL);
    if (rc == GOSR_ENOENT)
        return GOSR_OK;
    if (rc)
        return gosr_error_set(err, rc, "userstate_query", "tuning");
    json_t *o = json_loads(s, 0, NULL);
    gosr_free(s);
    gosr_ai_tuning t = *out;
    snprintf(t.tone, sizeof t.tone, "%s",
             json_string_value(json_object_get(o, "tone")) ?: "");
    t.verbosity = (int)json_integer_value(json_object_get(o, "verbosity"));
    snprintf(t.language, sizeof t.language, "%s",
             json_string_value(json_object_get(o, "language")) ?: "");
    json_decref(o);
    if (!tuning_ok(&t))
        return gosr_error_set(err, GOSR_ECORRUPT, "tuning_invalid",
                              "stored tuning is invalid");
    *out = t;
    return GOSR_OK;
}

int gosr_ai_user_tuning_set(gosr_ai_user *u, const gosr_ai_tuning *t,
                            gosr_error *err)
{
    if (!tuning_ok(t))
        return gosr_error_set(err, GOSR_EINVAL, "tuning_invalid",
                              "tone, verbosity 1..3 or language invalid");
    json_t *o = json_pack("{s:s, s:i, s:s}", "tone", t->tone, "verbosity",
                          t->verbosity, "language", t->language);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!s)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "tuning");
    int rc = gosr_ai_user_set(u, "tuning", s, err);
    free(s);
    return rc;
}
