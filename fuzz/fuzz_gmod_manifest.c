/*
 * fuzz_gmod_manifest.c — libFuzzer target for the strict gmod.json parser
 * (pre-scan, jansson, schema walker, cross-field rules) and, on the same
 * bytes as a string, the SemVer version and range parsers. A parsed
 * manifest's invariants are checked. Seeds: fuzz/corpus/fuzz_gmod_manifest/.
 * Design: docs/manifest.md.
 */
#include "gosr/gmod.h"

#include <stdlib.h>
#include <string.h>

static void check_manifest(const gosr_gmod_manifest *m)
{
    if (!m->id || !m->version_text || !m->engine_range || !m->author_type)
        abort();
    for (size_t i = 0; i < m->ndeps; i++)
        if (!m->deps[i].range || !m->deps[i].id)
            abort();
    if (m->kind != GOSR_GMOD_PATCH && !m->entry)
        abort();
    gosr_semver_range_satisfies(m->engine_range, &m->version);
}

static void fuzz_semver(const uint8_t *data, size_t size)
{
    if (size > 512)
        return;
    char s[513];
    memcpy(s, data, size);
    s[size] = '\0';
    gosr_semver v;
    gosr_semver_range *r = NULL;
    bool have_v = gosr_semver_parse(s, &v, NULL) == GOSR_OK;
    if (gosr_semver_range_parse(s, &r, NULL) == GOSR_OK) {
        gosr_semver zero = {0};
        gosr_semver_range_satisfies(r, have_v ? &v : &zero);
        gosr_semver_range_free(r);
    }
    if (have_v) {
        char back[300];
        gosr_semver_format(&v, back, sizeof back);
        gosr_semver w;
        if (gosr_semver_parse(back, &w, NULL) != GOSR_OK ||
            gosr_semver_compare(&v, &w) != 0)
            abort(); /* format must round-trip */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gosr_gmod_manifest *m = NULL;
    gosr_error err;
    if (gosr_gmod_manifest_parse(data, size, &m, &err) == GOSR_OK) {
        check_manifest(m);
        gosr_gmod_manifest_destroy(m);
    } else if (err.reason[0] == '\0' || err.detail[0] != '$') {
        abort(); /* every rejection names a reason and a JSON path */
    }
    fuzz_semver(data, size);
    return 0;
}
