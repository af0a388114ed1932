/*
 * stages.c — stages 1-3 of the patch pipeline (docs/patch.md, "Stages and
 * reason codes"): integrity and authenticity (bundle, signature, kind,
 * lineage, version policy, replay), schema and compatibility (engine,
 * target modules, referential integrity), static safety (Lua scan,
 * content lint, domain caps). Pure checks: nothing here changes state.
 */
#include "patch/patch_int.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- stage 1: integrity and authenticity ----------------------------------
 */

/* Re-labels a verifier reason: manifest_* is a schema problem, anything
 * else an integrity one. */
static int relabel(gosr_error *err, int rc)
{
    char r[96];
    if (!strncmp(err->reason, "manifest_", 9))
        snprintf(r, sizeof r, "schema_%.50s", err->reason + 9);
    else
        snprintf(r, sizeof r, "integrity_%.50s", err->reason);
    r[63] = '\0';
    memcpy(err->reason, r, 64);
    return rc;
}

static void file_id(const char *path, char id[65])
{
    uint8_t *p = NULL;
    size_t n = 0;
    gosr_hash h;
    memset(&h, 0, sizeof h);
    if (gosr_file_read_all(path, 64u << 20, &p, &n) == GOSR_OK)
        gosr_blake3_hash(p, n, &h);
    gosr_free(p);
    gosr_hash_hex(&h, id);
}

/* Lineage and version policy against the series' history. */
static int lineage(gosr_patch_mgr *m, const gosr_gmod_manifest *man,
                   gosr_error *err)
{
    char active[65], prev[65];
    uint32_t pct;
    patch__pointer_get(m, active, prev, &pct);
    const char *parent = man->parent_patch_id ? man->parent_patch_id : "";
    if (strcmp(parent, active) != 0)
        return gosr_error_set(err, GOSR_EDENIED, "integrity_lineage",
                              "parent_patch_id '%s' is not the active patch "
                              "'%s'",
                              parent, active[0] ? active : "(none)");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->db,
                           "SELECT version FROM patches WHERE series = ? AND"
                           " state NOT IN ('rejected')",
                           -1, &st, NULL) != SQLITE_OK)
        return gosr_error_set(err, GOSR_EIO, "patch_db", "lineage");
    sqlite3_bind_text(st, 1, man->id, -1, SQLITE_STATIC);
    gosr_semver top;
    char top_text[64] = "";
    while (sqlite3_step(st) == SQLITE_ROW) { /* the newest of the series */
        gosr_semver v;
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (gosr_semver_parse(t, &v, NULL) == GOSR_OK &&
            (!top_text[0] || gosr_semver_compare(&v, &top) > 0)) {
            top = v;
            snprintf(top_text, sizeof top_text, "%s", t);
        }
    }
    int rc = GOSR_OK;
    if (top_text[0] && gosr_semver_compare(&man->version, &top) <= 0)
        rc = gosr_error_set(err, GOSR_EDENIED, "integrity_version_rollback",
                            "version %s is not newer than %s",
                            man->version_text, top_text);
    else if (top_text[0] && man->version.major > top.major + 1)
        rc = gosr_error_set(err, GOSR_EDENIED, "integrity_version_fast_forward",
                            "version %s skips a major version after %s",
                            man->version_text, top_text);
    sqlite3_finalize(st);
    return rc;
}

/* Opens the bundle's head to learn its root (the patch id). */
static int bundle_root(gosr_patch_mgr *m, const char *path, char id[65],
                       gosr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gosr_error_set(err, GOSR_EIO, "integrity_unreadable",
                              "cannot open the bundle");
    gosr_gmod_verify_opts o = {.trust_pk = m->trust_pk,
                               .revoked = m->cfg.revoked};
    gosr_gmod_reader *r = NULL;
    int rc = gosr_gmod_reader_open_fd(fd, &o, &r, err);
    if (rc == GOSR_OK)
        gosr_hash_hex(gosr_gmod_reader_root(r), id);
    gosr_gmod_reader_destroy(r);
    close(fd);
    return rc;
}

int patch__stage_integrity(gosr_patch_mgr *m, const char *path,
                           const char *staging, char id[65],
                           gosr_gmod_manifest **man, gosr_error *err)
{
    *man = NULL;
    file_id(path, id);
    int rc = bundle_root(m, path, id, err);
    if (rc != GOSR_OK)
        return relabel(err, rc);
    sqlite3_stmt *st;
    bool seen = false;
    if (sqlite3_prepare_v2(m->db, "SELECT 1 FROM seen WHERE id = ?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        seen = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    if (seen)
        return gosr_error_set(err, GOSR_EEXIST, "integrity_replay",
                              "patch %.16s... was submitted before", id);
    gosr_gmod_verify_opts o = {.trust_pk = m->trust_pk,
                               .revoked = m->cfg.revoked};
    rc = gosr_gmod_unpack(path, staging, &o, err);
    if (rc != GOSR_OK)
        return relabel(err, rc);
    char *mp = gosr_asprintf("%s/gmod.json", staging);
    uint8_t *p = NULL;
    size_t n = 0;
    rc = gosr_file_read_all(mp, GOSR_GMOD_MANIFEST_MAX, &p, &n);
    gosr_free(mp);
    if (rc == GOSR_OK)
        rc = gosr_gmod_manifest_parse(p, n, man, err);
    gosr_free(p);
    if (rc != GOSR_OK)
        return relabel(err, rc);
    if ((*man)->kind != GOSR_GMOD_PATCH)
        return gosr_error_set(err, GOSR_EDENIED, "integrity_kind",
                              "bundle kind is %s, not patch",
                              gosr_gmod_kind_name((*man)->kind));
    return lineage(m, *man, err);
}

/* ---- stage 2: schema and compatibility ------------------------------------
 */

/* Adds every string member `field` of the array `key` of content c. */
static void collect(json_t *set, const json_t *c, const char *key,
                    const char *field)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(c, key), i, o)
    {
        json_t *v = json_object_get(o, field);
        if (json_is_string(v))
            json_object_set_new(set, json_string_value(v), json_true());
    }
}

/* Known ids: this patch's and the active patch's NPCs, items, quests. */
static void known_ids(gosr_patch_mgr *m, const json_t *c, json_t *npcs,
                      json_t *items, json_t *quests)
{
    const json_t *src[2] = {c, NULL};
    pthread_mutex_lock(&m->live_mu);
    json_t *act = m->cur ? json_incref(m->cur->content) : NULL;
    pthread_mutex_unlock(&m->live_mu);
    src[1] = act;
    for (int k = 0; k < 2; k++) {
        if (!src[k])
            continue;
        collect(npcs, src[k], "npc_behaviors", "npc");
        collect(npcs, src[k], "dialogue", "npc");
        collect(quests, src[k], "quests", "id");
        const char *key;
        json_t *v;
        json_t *eco = json_object_get(src[k], "economy_tuning");
        json_object_foreach(json_object_get(eco, "prices"), key, v)
            json_object_set_new(items, key, json_true());
    }
    json_decref(act);
}

static int refs(const json_t *c, json_t *npcs, json_t *items, json_t *quests,
                gosr_error *err)
{
    size_t i, j;
    json_t *q, *x;
    json_array_foreach(json_object_get(c, "quests"), i, q)
    {
        const char *qid = json_string_value(json_object_get(q, "id"));
        const char *npc = json_string_value(json_object_get(q, "npc"));
        if (npc && !json_object_get(npcs, npc))
            return gosr_error_set(err, GOSR_EDENIED, "schema_ref_npc",
                                  "quest '%s' names unknown npc '%s'", qid,
                                  npc);
        json_array_foreach(json_object_get(q, "items"), j, x) if (
            !json_object_get(
                items, json_string_value(
                           x))) return gosr_error_set(err, GOSR_EDENIED,
                                                      "schema_ref_item",
                                                      "quest '%s' names "
                                                      "unknown item '%s'",
                                                      qid,
                                                      json_string_value(x));
        json_t *rew = json_object_get(json_object_get(q, "rewards"), "items");
        json_array_foreach(rew, j, x)
        {
            const char *it = json_string_value(json_object_get(x, "id"));
            if (it && !json_object_get(items, it))
                return gosr_error_set(err, GOSR_EDENIED, "schema_ref_item",
                                      "quest '%s' rewards unknown item '%s'",
                                      qid, it);
        }
        json_array_foreach(json_object_get(q, "requires"), j, x) if (
            !json_object_get(
                quests, json_string_value(
                            x))) return gosr_error_set(err, GOSR_EDENIED,
                                                       "schema_ref_quest",
                                                       "quest '%s' requires "
                                                       "unknown quest '%s'",
                                                       qid,
                                                       json_string_value(x));
    }
    return GOSR_OK;
}

int patch__stage_schema(gosr_patch_mgr *m, const gosr_gmod_manifest *man,
                        gosr_error *err)
{
    if (strcmp(man->schema_version, "1.0.0") != 0)
        return gosr_error_set(err, GOSR_EDENIED, "schema_version",
                              "schema_version %s", man->schema_version);
    if (!gosr_semver_satisfies(man->engine_compat, GOSR_ENGINE_VERSION))
        return gosr_error_set(err, GOSR_EDENIED, "schema_engine_incompatible",
                              "engine_compat '%s' does not admit engine %s",
                              man->engine_compat, GOSR_ENGINE_VERSION);
    for (size_t i = 0; i < man->ndeps; i++) {
        char v[64];
        if (gosr_node_active_version(m->node, man->deps[i].id, v, sizeof v) !=
                GOSR_OK ||
            !gosr_semver_satisfies(man->deps[i].range_text, v))
            return gosr_error_set(err, GOSR_EDENIED, "schema_target",
                                  "target module %s %s is not active",
                                  man->deps[i].id, man->deps[i].range_text);
    }
    json_t *npcs = json_object(), *items = json_object(),
           *quests = json_object();
    known_ids(m, man->content, npcs, items, quests);
    int rc = refs(man->content, npcs, items, quests, err);
    json_decref(npcs);
    json_decref(items);
    json_decref(quests);
    return rc;
}

/* ---- stage 3: static safety ---------------------------------------------- */

/* Names a patch script may not mention (docs/patch.md). */
static const char *const FORBIDDEN[] = {
    "load",         "loadstring",  "dofile",   "loadfile", "require",
    "io",           "os",          "debug",    "package",  "collectgarbage",
    "rawset",       "rawget",      "_G",       "_ENV",     "setmetatable",
    "getmetatable", "string.dump", "coroutine"};
/* Banned terms (content policy) and unsafe prompt patterns. */
static const char *const BANNED[] = {"fuck",  "shit",    "cunt",
                                     "bitch", "asshole", "faggot"};
static const char *const PROMPTS[] = {"ignore previous instructions",
                                      "ignore all previous",
                                      "system prompt",
                                      "jailbreak",
                                      "developer mode",
                                      "you are now"};

static bool ident_char(int c)
{
    return isalnum(c) || c == '_';
}

/* Finds a forbidden name used as an identifier (not inside a longer one;
 * `x.os` and `obj:load` do not count, `os.exit` and `load(` do). */
static const char *scan_lua(const char *src, size_t n, int *line)
{
    *line = 1;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\n')
            (*line)++;
        if (i > 0 && (ident_char((unsigned char)src[i - 1]) ||
                      src[i - 1] == '.' || src[i - 1] == ':'))
            continue;
        for (size_t k = 0; k < sizeof FORBIDDEN / sizeof FORBIDDEN[0]; k++) {
            size_t l = strlen(FORBIDDEN[k]);
            if (i + l <= n && !memcmp(src + i, FORBIDDEN[k], l) &&
                (i + l == n || !ident_char((unsigned char)src[i + l])))
                return FORBIDDEN[k];
        }
    }
    return NULL;
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t l = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, l))
            return true;
    return false;
}

/* Placeholders are {name} with name [a-z_][a-z0-9_]*, braces balanced. */
static bool placeholders_ok(const char *s)
{
    for (; *s; s++) {
        if (*s == '}')
            return false;
        if (*s != '{')
            continue;
        s++;
        if (!(islower((unsigned char)*s) || *s == '_'))
            return false;
        while (islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
               *s == '_')
            s++;
        if (*s != '}')
            return false;
    }
    return true;
}

/* Every text of the content: dialogue lines and quest titles. */
static int lint_text(const char *where, const char *t, gosr_error *err)
{
    for (size_t k = 0; k < sizeof BANNED / sizeof BANNED[0]; k++)
        if (contains_ci(t, BANNED[k]))
            return gosr_error_set(err, GOSR_EDENIED, "static_banned_term",
                                  "%s: banned term", where);
    for (size_t k = 0; k < sizeof PROMPTS / sizeof PROMPTS[0]; k++)
        if (contains_ci(t, PROMPTS[k]))
            return gosr_error_set(err, GOSR_EDENIED, "static_unsafe_prompt",
                                  "%s: unsafe prompt pattern '%s'", where,
                                  PROMPTS[k]);
    if (!placeholders_ok(t))
        return gosr_error_set(err, GOSR_EDENIED, "static_placeholder",
                              "%s: malformed localization placeholder", where);
    return GOSR_OK;
}

static int lint_content(const json_t *c, gosr_error *err)
{
    size_t i, j;
    json_t *d, *l;
    char where[96];
    json_array_foreach(json_object_get(c, "dialogue"), i, d)
        json_array_foreach(json_object_get(d, "lines"), j, l)
    {
        snprintf(where, sizeof where, "$.content.dialogue[%zu].lines[%zu]", i,
                 j);
        int rc = lint_text(where, json_string_value(json_object_get(l, "text")),
                           err);
        if (rc != GOSR_OK)
            return rc;
    }
    json_array_foreach(json_object_get(c, "quests"), i, d)
    {
        snprintf(where, sizeof where, "$.content.quests[%zu].title", i);
        int rc = lint_text(where,
                           json_string_value(json_object_get(d, "title")), err);
        if (rc != GOSR_OK)
            return rc;
    }
    return GOSR_OK;
}

/* Epsilon transitions (on = "auto") fire without input: a cycle of them
 * would never settle, so they must be acyclic (DFS, three colours). */
static bool auto_cycle(const json_t *b, const char *s, json_t *colour)
{
    json_t *c = json_object_get(colour, s);
    if (c)
        return json_integer_value(c) == 1;
    json_object_set_new(colour, s, json_integer(1));
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(b, "transitions"), i, t)
    {
        const char *on = json_string_value(json_object_get(t, "on"));
        const char *from = json_string_value(json_object_get(t, "from"));
        if (on && from && !strcmp(on, "auto") && !strcmp(from, s) &&
            auto_cycle(b, json_string_value(json_object_get(t, "to")), colour))
            return true;
    }
    json_object_set_new(colour, s, json_integer(2));
    return false;
}

static int domain(gosr_patch_mgr *m, const json_t *c, gosr_error *err)
{
    size_t i, j;
    json_t *r, *s;
    json_array_foreach(json_object_get(c, "procgen_rules"), i, r)
    {
        json_t *caps = json_object_get(r, "caps");
        json_int_t sp = json_integer_value(json_object_get(caps, "max_spawn"));
        json_int_t dp = json_integer_value(json_object_get(caps, "max_depth"));
        if (sp > (json_int_t)m->cfg.max_spawn_cap ||
            dp > (json_int_t)m->cfg.max_depth_cap)
            return gosr_error_set(err, GOSR_EDENIED, "static_procgen_cap",
                                  "$.content.procgen_rules[%zu].caps: over the "
                                  "node's caps (spawn %u, depth %u)",
                                  i, m->cfg.max_spawn_cap,
                                  m->cfg.max_depth_cap);
    }
    json_array_foreach(json_object_get(c, "npc_behaviors"), i, r)
    {
        json_t *colour = json_object();
        bool cyc = false;
        json_array_foreach(json_object_get(r, "states"), j, s) if (!cyc) cyc =
            auto_cycle(r, json_string_value(s), colour);
        json_decref(colour);
        if (cyc)
            return gosr_error_set(err, GOSR_EDENIED, "static_npc_cycle",
                                  "$.content.npc_behaviors[%zu]: a cycle of "
                                  "\"auto\" transitions",
                                  i);
    }
    return GOSR_OK;
}

int patch__stage_static(gosr_patch_mgr *m, const gosr_gmod_manifest *man,
                        const char *dir, gosr_error *err)
{
    for (size_t i = 0; i < man->nscripts; i++) {
        char *p = gosr_asprintf("%s/%s", dir, man->scripts[i]);
        uint8_t *src = NULL;
        size_t n = 0;
        int rc = gosr_file_read_all(p, 1u << 20, &src, &n);
        gosr_free(p);
        if (rc != GOSR_OK)
            return gosr_error_set(err, GOSR_EDENIED, "static_script_size",
                                  "%s: unreadable or over 1 MiB",
                                  man->scripts[i]);
        int line;
        const char *bad = scan_lua((const char *)src, n, &line);
        bool nul = memchr(src, 0, n) != NULL || (n > 0 && src[0] == 0x1b);
        gosr_free(src);
        if (nul)
            return gosr_error_set(err, GOSR_EDENIED, "static_binary_chunk",
                                  "%s: not Lua source text", man->scripts[i]);
        if (bad)
            return gosr_error_set(err, GOSR_EDENIED, "static_forbidden_api",
                                  "%s:%d: '%s' is not allowed in a patch",
                                  man->scripts[i], line, bad);
    }
    int rc = lint_content(man->content, err);
    return rc ? rc : domain(m, man->content, err);
}
