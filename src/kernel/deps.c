/*
 * deps.c — dependency resolution over a whole set of module versions:
 * missing ids, versions outside a declared range, cycles (DFS with three
 * colours), engine_compat. The node checks the set it would have after a
 * switch before anything switches. Design: docs/kernel.md ("Dependencies").
 */
#include "gosr/gmod.h"
#include "gosr/kernel.h"

#include <string.h>

/* Index of `id` in the set, or -1. */
static long find_id(const gosr_dep_module *set, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i].id, id) == 0)
            return (long)i;
    return -1;
}

static int check_range(const char *range, const char *version, bool *ok,
                       gosr_error *err)
{
    gosr_semver_range *r = NULL;
    gosr_semver v;
    int rc = gosr_semver_range_parse(range, &r, err);
    if (rc != GOSR_OK)
        return gosr_error_set(err, GOSR_EFORMAT, "deps_bad_range",
                              "range '%s' does not parse", range);
    rc = gosr_semver_parse(version, &v, err);
    if (rc != GOSR_OK) {
        gosr_semver_range_free(r);
        return gosr_error_set(err, GOSR_EFORMAT, "deps_bad_range",
                              "version '%s' does not parse", version);
    }
    *ok = gosr_semver_range_satisfies(r, &v);
    gosr_semver_range_free(r);
    return GOSR_OK;
}

/* Presence, ranges and engine compatibility of every module. */
static int check_edges(const gosr_dep_module *set, size_t n,
                       const char *engine, gosr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const gosr_dep_module *m = &set[i];
        bool ok = true;
        if (find_id(set, i, m->id) >= 0)
            return gosr_error_set(err, GOSR_EDEPENDENCY, "deps_duplicate",
                                  "module %s appears twice in the set", m->id);
        if (m->engine_compat && engine) {
            int rc = check_range(m->engine_compat, engine, &ok, err);
            if (rc != GOSR_OK)
                return rc;
            if (!ok)
                return gosr_error_set(
                    err, GOSR_EDEPENDENCY, "engine_incompatible",
                    "%s@%s needs engine %s; this engine is %s", m->id,
                    m->version, m->engine_compat, engine);
        }
        for (size_t d = 0; d < m->ndeps; d++) {
            long j = find_id(set, n, m->dep_ids[d]);
            if (j < 0)
                return gosr_error_set(err, GOSR_EDEPENDENCY, "deps_missing",
                                      "%s@%s depends on %s %s, which is not "
                                      "active",
                                      m->id, m->version, m->dep_ids[d],
                                      m->dep_ranges[d]);
            int rc = check_range(m->dep_ranges[d], set[j].version, &ok, err);
            if (rc != GOSR_OK)
                return rc;
            if (!ok)
                return gosr_error_set(
                    err, GOSR_EDEPENDENCY, "deps_version_conflict",
                    "%s@%s needs %s %s but %s@%s would be active", m->id,
                    m->version, m->dep_ids[d], m->dep_ranges[d],
                    set[j].id, set[j].version);
        }
    }
    return GOSR_OK;
}

/* Depth-first search; colour 0 white, 1 on the stack, 2 done. */
static int visit(const gosr_dep_module *set, size_t n, size_t i,
                 unsigned char *colour, gosr_error *err)
{
    colour[i] = 1;
    for (size_t d = 0; d < set[i].ndeps; d++) {
        long j = find_id(set, n, set[i].dep_ids[d]);
        if (j < 0)
            continue;
        if (colour[j] == 1)
            return gosr_error_set(err, GOSR_EDEPENDENCY, "deps_cycle",
                                  "dependency cycle through %s -> %s",
                                  set[i].id, set[j].id);
        if (colour[j] == 0) {
            int rc = visit(set, n, (size_t)j, colour, err);
            if (rc != GOSR_OK)
                return rc;
        }
    }
    colour[i] = 2;
    return GOSR_OK;
}

int gosr_deps_check(const gosr_dep_module *set, size_t n, const char *engine,
                    gosr_error *err)
{
    if (n && !set)
        return gosr_error_set(err, GOSR_EINVAL, "deps_args", "no set");
    int rc = check_edges(set, n, engine, err);
    if (rc != GOSR_OK || n == 0)
        return rc;
    unsigned char *colour = gosr_calloc(n, 1);
    if (!colour)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "colours");
    for (size_t i = 0; i < n && rc == GOSR_OK; i++)
        if (colour[i] == 0)
            rc = visit(set, n, i, colour, err);
    gosr_free(colour);
    return rc;
}
