/*
 * test_semver.c — SemVer 2.0.0 parsing (valid and invalid strings from the
 * spec), precedence (the spec's section 11 chain), formatting, and version
 * ranges: every operator, x-wildcards, AND, OR and the prerelease rule.
 * Design under test: docs/manifest.md ("Versions", "Version ranges").
 */
#include "harness.h"

#include "gosr/gmod.h"

GOSR_TEST(semver_parses_valid_versions)
{
    static const char *const ok[] = {
        "0.0.0",
        "1.2.3",
        "10.20.30",
        "1.1.2-prerelease+meta",
        "1.1.2+meta",
        "1.1.2+meta-valid",
        "1.0.0-alpha",
        "1.0.0-beta",
        "1.0.0-alpha.beta",
        "1.0.0-alpha.beta.1",
        "1.0.0-alpha.1",
        "1.0.0-alpha0.valid",
        "1.0.0-alpha.0valid",
        "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
        "1.0.0-rc.1+build.1",
        "2.0.0-rc.1+build.123",
        "1.2.3-beta",
        "10.2.3-DEV-SNAPSHOT",
        "1.2.3-SNAPSHOT-123",
        "2.0.0+build.1848",
        "2.0.1-alpha.1227",
        "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
        "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
        "1.0.0-0A.is.legal",
        "1.0.0+001"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        gosr_semver v;
        gosr_error e;
        int rc = gosr_semver_parse(ok[i], &v, &e);
        if (rc != GOSR_OK)
            gosr_test_fail(__FILE__, __LINE__, "rejected '%s'", ok[i]);
        char back[300];
        gosr_semver_format(&v, back, sizeof back);
        CHECK_STR(back, ok[i]);
    }
}

GOSR_TEST(semver_rejects_invalid_versions)
{
    static const char *const bad[] = {
        "",
        "1",
        "1.2",
        "1.2.3-0123",
        "1.2.3-0123.0123",
        "1.1.2+.123",
        "+invalid",
        "-invalid",
        "-invalid+invalid",
        "alpha",
        "alpha.beta",
        "1.0.0-alpha_beta",
        "1.0.0-alpha..",
        "1.0.0-alpha..1",
        "01.1.1",
        "1.01.1",
        "1.1.01",
        "1.2.3.DEV",
        "1.2-SNAPSHOT",
        "v1.2.3",
        "1.2.3-",
        "1.2.3+",
        " 1.2.3",
        "1.2.3 ",
        "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
        "99999999999999999999999.999999999999999999.99999999999999999",
        "1.2.3-@",
        "1.2.3+a+b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gosr_semver v;
        gosr_error e;
        gosr_error_clear(&e);
        if (gosr_semver_parse(bad[i], &v, &e) != GOSR_EFORMAT)
            gosr_test_fail(__FILE__, __LINE__, "accepted '%s'", bad[i]);
        else
            CHECK_STR(e.reason, "semver_invalid");
    }
}

GOSR_TEST(semver_precedence_follows_the_spec_chain)
{
    static const char *const chain[] = {
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
        "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
        "1.0.0-rc.1",  "1.0.0",         "1.0.1",
        "1.1.0",       "2.0.0",         "10.0.0"};
    size_t n = sizeof chain / sizeof chain[0];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            gosr_semver a, b;
            REQUIRE(gosr_semver_parse(chain[i], &a, NULL) == GOSR_OK);
            REQUIRE(gosr_semver_parse(chain[j], &b, NULL) == GOSR_OK);
            int want = (i > j) - (i < j);
            if (gosr_semver_compare(&a, &b) != want)
                gosr_test_fail(__FILE__, __LINE__, "compare(%s, %s) != %d",
                               chain[i], chain[j], want);
        }
    }
    gosr_semver a, b;
    REQUIRE(gosr_semver_parse("1.0.0+build.1", &a, NULL) == GOSR_OK);
    REQUIRE(gosr_semver_parse("1.0.0+build.2", &b, NULL) == GOSR_OK);
    CHECK_EQ(gosr_semver_compare(&a, &b), 0); /* build metadata ignored */
    REQUIRE(gosr_semver_parse("1.0.0-2", &a, NULL) == GOSR_OK);
    REQUIRE(gosr_semver_parse("1.0.0-10", &b, NULL) == GOSR_OK);
    CHECK_EQ(gosr_semver_compare(&a, &b), -1); /* numeric, not lexical */
}

/* One range case: which versions must and must not satisfy it. */
typedef struct range_case {
    const char *range;  /* range text */
    const char *yes[6]; /* satisfying versions */
    const char *no[6];  /* non-satisfying versions */
} range_case;

static const range_case range_cases[] = {
    {"^1.2.3",
     {"1.2.3", "1.9.9", "1.2.4"},
     {"2.0.0", "1.2.2", "2.0.0-rc.1", "1.3.0-beta"}},
    {"^0.2.3", {"0.2.3", "0.2.9"}, {"0.3.0", "0.2.2", "1.0.0"}},
    {"^0.0.3", {"0.0.3"}, {"0.0.4", "0.0.2", "0.1.0"}},
    {"^1.2", {"1.2.0", "1.5.0"}, {"2.0.0", "1.1.9"}},
    {"^0.x", {"0.0.0", "0.9.9"}, {"1.0.0"}},
    {"^0.0", {"0.0.0", "0.0.9"}, {"0.1.0"}},
    {"^1.2.3-beta.2",
     {"1.2.3-beta.2", "1.2.3-beta.4", "1.2.3", "1.9.0"},
     {"1.2.3-beta.1", "1.2.4-beta.3", "2.0.0"}},
    {"~1.2.3", {"1.2.3", "1.2.9"}, {"1.3.0", "1.2.2"}},
    {"~1.2", {"1.2.0", "1.2.99"}, {"1.3.0"}},
    {"~1", {"1.0.0", "1.99.0"}, {"2.0.0", "0.9.0"}},
    {"~0.2", {"0.2.0", "0.2.5"}, {"0.3.0"}},
    {">=1.2.3", {"1.2.3", "5.0.0"}, {"1.2.2", "1.2.3-rc.1", "6.0.0-alpha"}},
    {">1.2.3", {"1.2.4"}, {"1.2.3"}},
    {">1.2", {"1.3.0"}, {"1.2.9", "1.2.0"}},
    {"<1.2.3", {"1.2.2", "0.0.1"}, {"1.2.3", "1.2.3-alpha"}},
    {"<1.2", {"1.1.9"}, {"1.2.0", "1.2.0-rc.1"}},
    {"<=1.2.3", {"1.2.3", "1.0.0"}, {"1.2.4"}},
    {"<=1.2", {"1.2.9"}, {"1.3.0"}},
    {"=1.2.3", {"1.2.3", "1.2.3+build"}, {"1.2.4", "1.2.3-rc.1"}},
    {"1.2.3", {"1.2.3"}, {"1.2.4"}},
    {"1.2.x", {"1.2.0", "1.2.7"}, {"1.3.0", "1.1.0"}},
    {"1.x", {"1.0.0", "1.9.0"}, {"2.0.0"}},
    {"1.2.*", {"1.2.5"}, {"1.3.0"}},
    {"*", {"0.0.0", "99.0.0"}, {"1.0.0-alpha"}},
    {"", {"0.0.1"}, {"1.0.0-rc.1"}},
    {">=2.4.0 <2.5.0", {"2.4.0", "2.4.9"}, {"2.5.0", "2.3.9", "2.5.0-rc.1"}},
    {">= 1.0.0  < 2.0.0", {"1.5.0"}, {"2.0.0"}},
    {"^1.0.0 || ^3.0.0", {"1.1.0", "3.2.0"}, {"2.0.0", "4.0.0"}},
    {"<1.0.0 || >=2.0.0 <2.1.0 || =5.0.0",
     {"0.5.0", "2.0.5", "5.0.0"},
     {"1.0.0", "2.1.0", "5.0.1"}},
    {">=1.0.0-rc.1 <2.0.0",
     {"1.0.0-rc.1", "1.0.0-rc.2", "1.0.0"},
     {"1.0.0-beta", "1.1.0-rc.1"}},
    {">*", {NULL}, {"0.0.0", "1.0.0"}},
};

GOSR_TEST(semver_ranges_match_the_documented_desugaring)
{
    for (size_t i = 0; i < sizeof range_cases / sizeof range_cases[0]; i++) {
        const range_case *c = &range_cases[i];
        gosr_semver_range *r;
        gosr_error e;
        if (gosr_semver_range_parse(c->range, &r, &e) != GOSR_OK) {
            gosr_test_fail(__FILE__, __LINE__, "range '%s' rejected: %s",
                           c->range, e.detail);
            continue;
        }
        for (int k = 0; k < 6 && c->yes[k]; k++) {
            gosr_semver v;
            REQUIRE(gosr_semver_parse(c->yes[k], &v, NULL) == GOSR_OK);
            if (!gosr_semver_range_satisfies(r, &v))
                gosr_test_fail(__FILE__, __LINE__, "'%s' should satisfy '%s'",
                               c->yes[k], c->range);
        }
        for (int k = 0; k < 6 && c->no[k]; k++) {
            gosr_semver v;
            REQUIRE(gosr_semver_parse(c->no[k], &v, NULL) == GOSR_OK);
            if (gosr_semver_range_satisfies(r, &v))
                gosr_test_fail(__FILE__, __LINE__,
                               "'%s' should not satisfy '%s'", c->no[k],
                               c->range);
        }
        gosr_semver_range_free(r);
    }
}

GOSR_TEST(semver_rejects_bad_ranges)
{
    static const char *const bad[] = {
        "^",       "~",        ">=",        "1.2.3.4",       "^v1.2.3",
        "1.x.3",   "1.2-rc.1", ">=1.0.0 |", "| 1.0.0",       "1.0.0 ||| 2.0.0",
        "=>1.0.0", "1.0.0-",   "^01.2.3",   "1.2.3 - 2.0.0", ">=1.0.0,<2.0.0",
        "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gosr_semver_range *r = NULL;
        gosr_error e;
        gosr_error_clear(&e);
        if (gosr_semver_range_parse(bad[i], &r, &e) != GOSR_EFORMAT) {
            gosr_test_fail(__FILE__, __LINE__, "accepted range '%s'", bad[i]);
            gosr_semver_range_free(r);
        } else {
            CHECK_STR(e.reason, "semver_range_invalid");
            CHECK(r == NULL);
        }
    }
    /* Too many comparators after desugaring is refused, not truncated. */
    char many[1100] = "";
    for (int i = 0; i < 70; i++)
        strcat(many, "^1.0.0 ");
    gosr_semver_range *r = NULL;
    CHECK_STATUS(gosr_semver_range_parse(many, &r, NULL), GOSR_EFORMAT);
}

GOSR_TEST(semver_satisfies_convenience)
{
    CHECK(gosr_semver_satisfies("^1.2.0", "1.4.2"));
    CHECK(!gosr_semver_satisfies("^1.2.0", "2.0.0"));
    CHECK(!gosr_semver_satisfies("^1.2.0", "not-a-version"));
    CHECK(!gosr_semver_satisfies("^^1", "1.0.0"));
}

GOSR_TEST(semver_range_parse_survives_allocation_failure)
{
    gosr_semver_range *r = (gosr_semver_range *)1;
    gosr_error e;
    gosr_alloc_fail_after(1);
    CHECK_STATUS(gosr_semver_range_parse("^1.0.0", &r, &e), GOSR_ENOMEM);
    gosr_alloc_fail_after(0);
    CHECK(r == NULL);
}
