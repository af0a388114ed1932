/*
 * test_deps.c — the dependency resolver as a table: each row a set of
 * module versions and the reason (or success) gosr_deps_check must give.
 * Design under test: docs/kernel.md ("Dependencies").
 */
#include "harness.h"

#include "gosr/kernel.h"

#define M(id, ver, eng, n, ids, ranges)                                        \
    {id, ver, eng, (const char *const *)ids, (const char *const *)ranges, n}

static const char *core_id[] = {"core"}, *core_1[] = {"^1.0.0"},
                  *core_2[] = {"^2.0.0"};
static const char *a_id[] = {"a"}, *any[] = {">=0.0.0"};
static const char *b_id[] = {"b"};
static const char *c_id[] = {"c"};
static const char *two_ids[] = {"core", "a"}, *two_rng[] = {"~1.2.0", "*"};
static const char *bad_rng[] = {"^1.x.3 garbage"};

typedef struct row {
    const char *name;          /* what the row shows */
    gosr_dep_module set[4];    /* the set */
    size_t n;                  /* modules in it */
    int status;                /* expected status */
    const char *reason;        /* expected reason ("" on success) */
} row;

static const row ROWS[] = {
    {"empty set", {{0}}, 0, GOSR_OK, ""},
    {"single, no deps", {M("core", "1.0.0", ">=0.1.0", 0, NULL, NULL)}, 1,
     GOSR_OK, ""},
    {"dep satisfied",
     {M("core", "1.4.2", NULL, 0, NULL, NULL),
      M("game", "0.3.0", ">=0.1.0 <1.0.0", 1, core_id, core_1)},
     2, GOSR_OK, ""},
    {"dep missing", {M("game", "0.3.0", NULL, 1, core_id, core_1)}, 1,
     GOSR_EDEPENDENCY, "deps_missing"},
    {"dep version conflict",
     {M("core", "1.4.2", NULL, 0, NULL, NULL),
      M("game", "0.3.0", NULL, 1, core_id, core_2)},
     2, GOSR_EDEPENDENCY, "deps_version_conflict"},
    {"two ranges, one fails (tilde)",
     {M("core", "1.3.0", NULL, 0, NULL, NULL),
      M("a", "5.0.0", NULL, 0, NULL, NULL),
      M("game", "1.0.0", NULL, 2, two_ids, two_rng)},
     3, GOSR_EDEPENDENCY, "deps_version_conflict"},
    {"engine incompatible", {M("core", "1.0.0", ">=0.2.0", 0, NULL, NULL)},
     1, GOSR_EDEPENDENCY, "engine_incompatible"},
    {"self cycle", {M("a", "1.0.0", NULL, 1, a_id, any)}, 1,
     GOSR_EDEPENDENCY, "deps_cycle"},
    {"three-cycle",
     {M("a", "1.0.0", NULL, 1, b_id, any), M("b", "1.0.0", NULL, 1, c_id, any),
      M("c", "1.0.0", NULL, 1, a_id, any)},
     3, GOSR_EDEPENDENCY, "deps_cycle"},
    {"diamond is fine",
     {M("a", "1.0.0", NULL, 1, b_id, any), M("b", "1.0.0", NULL, 1, c_id, any),
      M("c", "1.0.0", NULL, 0, NULL, NULL),
      M("d", "1.0.0", NULL, 1, c_id, any)},
     4, GOSR_OK, ""},
    {"duplicate id",
     {M("a", "1.0.0", NULL, 0, NULL, NULL),
      M("a", "2.0.0", NULL, 0, NULL, NULL)},
     2, GOSR_EDEPENDENCY, "deps_duplicate"},
    {"unparsable range",
     {M("core", "1.0.0", NULL, 0, NULL, NULL),
      M("g", "1.0.0", NULL, 1, core_id, bad_rng)},
     2, GOSR_EFORMAT, "deps_bad_range"},
};

GOSR_TEST(deps_table)
{
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        gosr_error err = {0};
        int rc = gosr_deps_check(ROWS[i].set, ROWS[i].n, GOSR_ENGINE_VERSION,
                                 &err);
        if (rc != ROWS[i].status || strcmp(err.reason, ROWS[i].reason) != 0)
            gosr_test_fail(__FILE__, __LINE__,
                           "%s: got %s/%s, want %s/%s (%s)", ROWS[i].name,
                           gosr_status_name(rc), err.reason,
                           gosr_status_name(ROWS[i].status), ROWS[i].reason,
                           err.detail);
    }
}
