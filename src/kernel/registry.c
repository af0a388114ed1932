/*
 * registry.c — the node's module registry: published versions in
 * DIR/registry.db (SQLite), their files in the content store under
 * DIR/store. Publishing verifies the bundle against the trust root (and
 * revocation list) while unpacking it to a staging directory, stores the
 * tree content-addressed, then records the version. Which version is
 * active is not stored here: the activation ledger is the one record of
 * that (docs/kernel.md, "Registry" and "Crash consistency").
 */
#define _XOPEN_SOURCE 700
#include "kernel/kernel_int.h"

#include "gosr/gmod.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *REG_SCHEMA =
    "CREATE TABLE IF NOT EXISTS versions ("
    " id TEXT NOT NULL, version TEXT NOT NULL, root TEXT NOT NULL,"
    " manifest TEXT NOT NULL, published_ns INTEGER NOT NULL,"
    " package TEXT, PRIMARY KEY (id, version));";

/* Registries made before mesh packages lack the column: add it. */
static int add_package_column(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT package FROM versions LIMIT 0", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_finalize(st);
        return SQLITE_OK;
    }
    return sqlite3_exec(db, "ALTER TABLE versions ADD COLUMN package TEXT",
                        NULL, NULL, NULL);
}

int kernel__registry_open(gosr_node *n, gosr_error *err)
{
    char *path = gosr_asprintf("%s/%s", n->dir, GOSR_NODE_REGISTRY_FILE);
    if (!path)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "path");
    int rc = sqlite3_open(path, &n->reg);
    gosr_free(path);
    if (rc != SQLITE_OK)
        return gosr_error_set(err, GOSR_EIO, "sqlite_error",
                              "registry: %s", sqlite3_errmsg(n->reg));
    sqlite3_busy_timeout(n->reg, 10000);
    char *msg = NULL;
    rc = sqlite3_exec(n->reg,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
                      NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(n->reg, REG_SCHEMA, NULL, NULL, &msg);
    if (rc == SQLITE_OK && (rc = add_package_column(n->reg)) != SQLITE_OK)
        msg = sqlite3_mprintf("%s", sqlite3_errmsg(n->reg));
    if (rc != SQLITE_OK) {
        gosr_error_set(err, GOSR_EIO, "sqlite_error", "registry: %s",
                       msg ? msg : "?");
        sqlite3_free(msg);
        return GOSR_EIO;
    }
    return GOSR_OK;
}

void kernel__registry_close(gosr_node *n)
{
    if (n->reg)
        sqlite3_close(n->reg);
    n->reg = NULL;
}

void kernel__kver_free(kver *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->ndeps; i++) {
        gosr_free(v->dep_ids[i]);
        gosr_free(v->dep_ranges[i]);
    }
    gosr_free(v->dep_ids);
    gosr_free(v->dep_ranges);
    gosr_free(v->engine_compat);
    gosr_free(v->entry);
    gosr_free(v->caps);
    gosr_free(v);
}

/* Builds a kver from parsed manifest fields. Caller frees. */
static kver *kver_from_manifest(const gosr_gmod_manifest *m, const char *root)
{
    kver *v = gosr_calloc(1, sizeof *v);
    if (!v)
        return NULL;
    snprintf(v->id, sizeof v->id, "%s", m->id);
    snprintf(v->version, sizeof v->version, "%s", m->version_text);
    snprintf(v->root, sizeof v->root, "%s", root);
    gosr_buf caps = {0};
    for (size_t i = 0; i < m->ncapabilities; i++)
        gosr_buf_printf(&caps, "%s%s", i ? "," : "", m->capabilities[i]);
    v->caps = gosr_strdup(caps.len ? (char *)caps.data : "");
    gosr_buf_free(&caps);
    v->entry = gosr_strdup(m->entry ? m->entry : "");
    v->engine_compat = m->engine_compat ? gosr_strdup(m->engine_compat) : NULL;
    v->ndeps = m->ndeps;
    v->dep_ids = gosr_calloc(m->ndeps ? m->ndeps : 1, sizeof(char *));
    v->dep_ranges = gosr_calloc(m->ndeps ? m->ndeps : 1, sizeof(char *));
    bool ok = v->caps && v->entry && v->dep_ids && v->dep_ranges;
    for (size_t i = 0; ok && i < m->ndeps; i++) {
        v->dep_ids[i] = gosr_strdup(m->deps[i].id);
        v->dep_ranges[i] = gosr_strdup(m->deps[i].range_text);
        ok = v->dep_ids[i] && v->dep_ranges[i];
    }
    if (!ok) {
        if (!v->dep_ids || !v->dep_ranges)
            v->ndeps = 0;
        kernel__kver_free(v);
        return NULL;
    }
    return v;
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
                    struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    remove(p);
    return 0;
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Records (id, version) -> root; same root again is not an error, another
 * root for the same version is (version_exists). */
static int reg_insert(gosr_node *n, const kver *v, const char *manifest,
                      gosr_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        n->reg, "SELECT root FROM versions WHERE id=?1 AND version=?2", -1,
        &st, NULL);
    if (rc != SQLITE_OK)
        return gosr_error_set(err, GOSR_EIO, "sqlite_error", "%s",
                              sqlite3_errmsg(n->reg));
    sqlite3_bind_text(st, 1, v->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v->version, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        bool same = strcmp((const char *)sqlite3_column_text(st, 0),
                           v->root) == 0;
        sqlite3_finalize(st);
        if (same)
            return GOSR_OK;
        return gosr_error_set(err, GOSR_EEXIST, "version_exists",
                              "%s@%s is already published with other "
                              "content; publish a new version",
                              v->id, v->version);
    }
    sqlite3_finalize(st);
    rc = sqlite3_prepare_v2(n->reg,
                            "INSERT INTO versions (id, version, root, "
                            "manifest, published_ns, package) VALUES "
                            "(?1,?2,?3,?4,?5,?6)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return gosr_error_set(err, GOSR_EIO, "sqlite_error", "%s",
                              sqlite3_errmsg(n->reg));
    sqlite3_bind_text(st, 1, v->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, v->root, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, manifest, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)gosr_time_wall_ns());
    sqlite3_bind_text(st, 6, v->package, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return gosr_error_set(err, GOSR_EIO, "sqlite_error", "%s",
                              sqlite3_errmsg(n->reg));
    return GOSR_OK;
}

/* Pins a recorded version's tree and package in the store (refs
 * module/ID@VERSION and package/ID@VERSION) so `gosr store gc` keeps them.
 * The registry row is the record; a failed pin is logged, not fatal. */
static void pin_version(gosr_node *n, const kver *v, const gosr_hash *root,
                        const gosr_hash *pkg)
{
    char name[KID_MAX + KVER_MAX + 16];
    gosr_error e = {0};
    snprintf(name, sizeof name, "module/%s@%s", v->id, v->version);
    int rc = gosr_store_ref_set(n->store, name, root, &e);
    snprintf(name, sizeof name, "package/%s@%s", v->id, v->version);
    if (rc == GOSR_OK)
        rc = gosr_store_ref_set(n->store, name, pkg, &e);
    if (rc != GOSR_OK)
        gosr_log(GOSR_LOG_WARN, "kernel", "%s@%s not pinned: %s: %s", v->id,
                 v->version, e.reason, e.detail);
}

/* Parses gmod.json (mbytes), refuses patch bundles, records the version
 * with its tree root and mesh package (hex). *out: caller frees. */
static int register_version(gosr_node *n, const uint8_t *mbytes, size_t mlen,
                            const gosr_hash *root, const gosr_hash *pkg,
                            kver **out, gosr_error *err)
{
    gosr_gmod_manifest *m = NULL;
    char hex[65];
    int rc = gosr_gmod_manifest_parse(mbytes, mlen, &m, err);
    if (rc == GOSR_OK && (m->kind == GOSR_GMOD_PATCH || !m->entry))
        rc = gosr_error_set(err, GOSR_EUNSUPPORTED, "module_no_entry",
                            "%s is a patch bundle without an entry script; "
                            "the node runs game and mod bundles",
                            m->id);
    if (rc == GOSR_OK) {
        gosr_hash_hex(root, hex);
        *out = kver_from_manifest(m, hex);
        rc = *out ? GOSR_OK
                  : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "kver");
    }
    if (rc == GOSR_OK) {
        gosr_hash_hex(pkg, (*out)->package);
        char *text = gosr_strndup((const char *)mbytes, mlen);
        rc = text ? reg_insert(n, *out, text, err) : GOSR_ENOMEM;
        gosr_free(text);
        if (rc != GOSR_OK) {
            kernel__kver_free(*out);
            *out = NULL;
        }
    }
    if (rc == GOSR_OK)
        pin_version(n, *out, root, pkg);
    gosr_gmod_manifest_destroy(m);
    return rc;
}

/* Stores the unpacked tree and its mesh package, records the version. */
static int publish_unpacked(gosr_node *n, const char *bundle, const char *tmp,
                            kver **out, gosr_error *err)
{
    char *mpath = gosr_asprintf("%s/gmod.json", tmp);
    uint8_t *mbytes = NULL;
    size_t mlen = 0;
    gosr_hash root, pkg;
    int rc = mpath ? gosr_file_read_all(mpath, 1 << 20, &mbytes, &mlen)
                   : GOSR_ENOMEM;
    gosr_free(mpath);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "manifest_unreadable",
                              "gmod.json of the unpacked bundle");
    rc = gosr_store_put_tree(n->store, tmp, &root, err);
    if (rc == GOSR_OK)
        rc = kernel__package_build(n, bundle, &root, &pkg, err);
    if (rc == GOSR_OK)
        rc = register_version(n, mbytes, mlen, &root, &pkg, out, err);
    gosr_free(mbytes);
    return rc;
}

int kernel__registry_install(gosr_node *n, const gosr_hash *pkg, kver **out,
                             gosr_error *err)
{
    gosr_buf manifest = {0};
    gosr_hash root;
    pthread_mutex_lock(&n->db_mu);
    int rc = kernel__package_verify(n, pkg, &root, &manifest, err);
    if (rc == GOSR_OK)
        rc = register_version(n, manifest.data, manifest.len, &root, pkg, out,
                              err);
    pthread_mutex_unlock(&n->db_mu);
    gosr_buf_free(&manifest);
    return rc;
}

int kernel__registry_publish(gosr_node *n, const char *path, kver **out,
                             gosr_error *err)
{
    static atomic_uint seq;
    gosr_gmod_verify_opts o = {.trust_pk = n->trust_pk,
                               .revoked = n->revoked,
                               .no_trust = n->cfg.no_trust};
    char *tmp = gosr_asprintf("%s/tmp/publish-%ld-%u", n->dir, (long)getpid(),
                              atomic_fetch_add(&seq, 1));
    if (!tmp)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "path");
    rm_tree(tmp);
    int rc = gosr_gmod_unpack(path, tmp, &o, err);
    if (rc == GOSR_OK) {
        pthread_mutex_lock(&n->db_mu);
        rc = publish_unpacked(n, path, tmp, out, err);
        pthread_mutex_unlock(&n->db_mu);
    }
    rm_tree(tmp);
    gosr_free(tmp);
    return rc;
}

int kernel__registry_get(gosr_node *n, const char *id, const char *version,
                         kver **out, gosr_error *err)
{
    sqlite3_stmt *st = NULL;
    gosr_gmod_manifest *m = NULL;
    int rc;
    pthread_mutex_lock(&n->db_mu);
    if (sqlite3_prepare_v2(n->reg,
                           "SELECT root, manifest FROM versions WHERE id=?1 "
                           "AND version=?2",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = gosr_error_set(err, GOSR_EIO, "sqlite_error", "%s",
                            sqlite3_errmsg(n->reg));
        goto out_unlock;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = gosr_error_set(err, GOSR_ENOENT, "version_unknown",
                            "%s@%s is not published on this node", id,
                            version);
        goto out_finalize;
    }
    const char *text = (const char *)sqlite3_column_text(st, 1);
    rc = gosr_gmod_manifest_parse((const uint8_t *)text, strlen(text), &m,
                                  err);
    if (rc == GOSR_OK) {
        *out = kver_from_manifest(
            m, (const char *)sqlite3_column_text(st, 0));
        rc = *out ? GOSR_OK : GOSR_ENOMEM;
        gosr_gmod_manifest_destroy(m);
    }
out_finalize:
    sqlite3_finalize(st);
out_unlock:
    pthread_mutex_unlock(&n->db_mu);
    return rc;
}

int kernel__registry_list(gosr_node *n, json_t *modules, gosr_error *err)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&n->db_mu);
    int rc = sqlite3_prepare_v2(n->reg,
                                "SELECT id, version, root, package FROM versions "
                                "ORDER BY id, published_ns",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        pthread_mutex_unlock(&n->db_mu);
        return gosr_error_set(err, GOSR_EIO, "sqlite_error", "%s",
                              sqlite3_errmsg(n->reg));
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        json_t *mod = json_object_get(modules, id);
        if (!mod) {
            mod = json_pack("{s:s, s:[]}", "id", id, "versions");
            json_object_set_new(modules, id, mod);
        }
        const char *pkg = (const char *)sqlite3_column_text(st, 3);
        json_array_append_new(
            json_object_get(mod, "versions"),
            json_pack("{s:s, s:s, s:s?}", "version",
                      sqlite3_column_text(st, 1), "root",
                      sqlite3_column_text(st, 2), "package", pkg));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&n->db_mu);
    return GOSR_OK;
}

/* Tree walk callback: finds the entry file's id. */
typedef struct find_entry {
    const char *path; /* entry path to find */
    gosr_hash id;     /* its file id when found */
    uint64_t size;    /* its size */
    bool found;       /* whether it was found */
} find_entry;

static int on_entry(void *ud, const gosr_tree_entry *e)
{
    find_entry *f = ud;
    if (strcmp(e->path, f->path) != 0)
        return 0;
    f->id = e->file_id;
    f->size = e->size;
    f->found = true;
    return 1;
}

int kernel__registry_source(gosr_node *n, const kver *v, gosr_buf *out,
                            gosr_error *err)
{
    gosr_hash root;
    find_entry f = {.path = v->entry};
    if (gosr_hex_decode(v->root, root.b, 32) != GOSR_OK)
        return gosr_error_set(err, GOSR_ECORRUPT, "registry_root",
                              "bad root for %s@%s", v->id, v->version);
    pthread_mutex_lock(&n->db_mu);
    int rc = gosr_store_tree_foreach(n->store, &root, on_entry, &f, err);
    if (rc >= 0 && !f.found)
        rc = gosr_error_set(err, GOSR_ENOENT, "entry_missing",
                            "%s@%s has no file %s", v->id, v->version,
                            v->entry);
    else if (rc > 0)
        rc = GOSR_OK;
    if (rc == GOSR_OK && f.size > (1u << 20))
        rc = gosr_error_set(err, GOSR_ETOOBIG, "entry_too_big",
                            "entry script over 1 MiB");
    if (rc == GOSR_OK)
        rc = kernel__store_read_file(n, &f.id, f.size, 1u << 20, out, err);
    pthread_mutex_unlock(&n->db_mu);
    return rc;
}
