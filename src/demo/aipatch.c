/*
 * aipatch.c — the demo's AI step: the AI core's patch_author capability,
 * answered by its deterministic ghost tier (offline, no model server),
 * writes a patch for arena.economy (gmod.json of kind patch + Lua); the
 * demo writes it out as a module directory, packs and signs it and
 * verifies the bundle against the node's trust root. The AI output is
 * untrusted input: file paths are checked before anything is written.
 * Design: docs/demo.md ("Steps").
 */
#include "demo/demo_int.h"

#include "gosr/ai.h"
#include "gosr/gmod.h"

#include <stdlib.h>
#include <string.h>


/* A single safe file name: [A-Za-z0-9._-]{1,64}, not "." or "..". */
static bool safe_name(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    if (n == 0 || n > 64 || strcmp(p, ".") == 0 || strcmp(p, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int write_text(const char *dir, const char *name, const char *text,
                      gosr_error *err)
{
    char *p = gosr_asprintf("%s/%s", dir, name);
    int rc = p ? gosr_file_write_atomic(p, text, strlen(text), 0644)
               : GOSR_ENOMEM;
    if (rc != GOSR_OK)
        gosr_error_set(err, rc, "demo_ai_patch", "cannot write %s", p);
    gosr_free(p);
    return rc;
}

/* Writes the AI output {manifest, files} as a module directory. */
static int write_patch_dir(const json_t *out, const char *dir, gosr_error *err)
{
    const json_t *files = json_object_get(out, "files"), *f;
    char *man = json_dumps(json_object_get(out, "manifest"),
                           JSON_INDENT(2) | JSON_SORT_KEYS);
    size_t i;
    int rc = man ? GOSR_OK : gosr_error_set(err, GOSR_EFORMAT, "demo_ai_patch",
                                            "AI output has no manifest");
    if (rc == GOSR_OK && (rc = gosr_mkdir_p(dir, 0755)) != GOSR_OK)
        gosr_error_set(err, rc, "demo_ai_patch", "cannot create %s", dir);
    if (rc == GOSR_OK)
        rc = write_text(dir, "gmod.json", man, err);
    free(man);
    json_array_foreach(files, i, f)
    {
        const char *path = json_string_value(json_object_get(f, "path"));
        const char *text = json_string_value(json_object_get(f, "text"));
        if (rc != GOSR_OK)
            break;
        if (!safe_name(path) || !text || strcmp(path, "gmod.json") == 0)
            return gosr_error_set(err, GOSR_EFORMAT, "demo_ai_patch_path",
                                  "AI output file path refused");
        rc = write_text(dir, path, text, err);
    }
    return rc;
}

/* Asks patch_author (ghost tier) for a patch; *out owned by the caller. */
static int author(demo_run *d, const char *goal, const char *version,
                  const char *parent, json_t **out, gosr_error *err)
{
    json_t *in = json_pack("{s:s, s:s, s:s}", "goal", goal, "target_id",
                           "arena.economy", "version", version);
    char *text = NULL;
    int rc = in ? gosr_ai_cap_fill_defaults(GOSR_AI_PATCH_AUTHOR, in, err)
                : GOSR_ENOMEM;
    if (rc == GOSR_OK)
        rc = gosr_ai_ghost_generate(GOSR_AI_PATCH_AUTHOR, in, d->cfg.seed,
                                    &text, err);
    json_decref(in);
    if (rc != GOSR_OK)
        return rc;
    *out = json_loads(text, 0, NULL);
    gosr_free(text);
    if (!*out || !json_is_object(json_object_get(*out, "manifest")))
        return gosr_error_set(err, GOSR_EFORMAT, "demo_ai_patch",
                              "AI output is not a patch");
    /* lineage: the pipeline wants the active patch as parent */
    json_object_set_new(json_object_get(*out, "manifest"), "parent_patch_id",
                        parent ? json_string(parent) : json_null());
    return GOSR_OK;
}

/* Ownership: *bundle owned by the caller. */
int demo__ai_patch(demo_run *d, const char *goal, const char *version,
                   const char *parent, char **bundle, char id[128],
                   gosr_error *err)
{
    json_t *out = NULL;
    char *dir = gosr_asprintf("%s/ai-patch-%s", d->cfg.out_dir, version);
    char *dst = gosr_asprintf("%s/bundles/arena-ai-patch-%s.gmod",
                              d->cfg.out_dir, version);
    gosr_gmod_pack_opts po = {.key = &d->dev, .chain = &d->cert, .nchain = 1};
    gosr_gmod_verify_opts vo = {.trust_pk = d->root.pk};
    int rc = (dir && dst) ? author(d, goal, version, parent, &out, err)
                          : GOSR_ENOMEM;
    if (rc == GOSR_OK)
        rc = write_patch_dir(out, dir, err);
    if (rc == GOSR_OK)
        rc = gosr_gmod_pack(dir, &po, dst, err);
    if (rc == GOSR_OK)
        rc = gosr_gmod_verify_file(dst, &vo, err);
    if (rc == GOSR_OK) {
        const char *mid = json_string_value(
            json_object_get(json_object_get(out, "manifest"), "id"));
        snprintf(id, 128, "%s", mid ? mid : "?");
        *bundle = dst;
        dst = NULL;
    }
    json_decref(out);
    gosr_free(dir);
    gosr_free(dst);
    return rc;
}
