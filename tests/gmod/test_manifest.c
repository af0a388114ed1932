/*
 * test_manifest.c — strict gmod.json parsing: valid game and patch
 * manifests are accepted with every field extracted; a table of invalid
 * documents, one per rule, asserts the reason code AND the JSON path;
 * size, depth and NUL bounds; allocation failures never leak or crash.
 * Design under test: docs/manifest.md.
 */
#include "harness.h"

#include "gosr/gmod.h"

#include <jansson.h>
#include <stdlib.h>

#define GAME_HEAD                                                              \
    "{\"schema_version\":\"1.0.0\",\"id\":\"arena\",\"version\":\"1.2.0\","    \
    "\"kind\":\"game\",\"engine_compat\":\">=0.1.0 <1.0.0\","                  \
    "\"author\":{\"type\":\"human\",\"name\":\"Ada\"},"                        \
    "\"created_at\":\"2026-11-01T10:00:00Z\""

static const char game_ok[] =
    GAME_HEAD ",\"entry\":\"main.lua\",\"depends\":{\"core\":\"^1.0.0\","
              "\"ui.kit\":\"~2.1\"},\"capabilities\":[\"world.read\","
              "\"world.write\",\"log\"],\"expires\":\"2027-01-01T00:00:00Z\","
              "\"name\":\"Arena\",\"description\":\"A test game.\\nTwo "
              "lines.\"}";

#define PATCH_HEAD                                                             \
    "{\"schema_version\":\"1.0.0\",\"id\":\"patch-2026-02-16-001\","           \
    "\"version\":\"1.0.1\",\"kind\":\"patch\",\"engine_compat\":\">=2.4.0 "    \
    "<2.5.0\",\"author\":{\"type\":\"ai\",\"model\":\"m-1\",\"run_id\":"       \
    "\"r-9\"},\"created_at\":\"2026-02-16T10:23:00Z\","                        \
    "\"parent_patch_id\":\"patch-2026-02-15-019\""

#define QUEST                                                                  \
    "{\"id\":\"q1\",\"title\":\"Rats\",\"npc\":\"innkeeper\","                 \
    "\"items\":[\"cheese\"],\"objectives\":[{\"type\":\"kill\","               \
    "\"target\":\"rat\",\"count\":5}],\"rewards\":{\"xp\":100,\"gold\":5,"     \
    "\"items\":[{\"id\":\"cheese\",\"count\":1}]}}"
#define BEHAVIOR                                                               \
    "{\"id\":\"guard\",\"npc\":\"guard-1\",\"initial\":\"idle\","              \
    "\"states\":[\"idle\",\"chase\"],\"transitions\":[{\"from\":\"idle\","     \
    "\"to\":\"chase\",\"on\":\"player_seen\"}]}"
#define DIALOGUE                                                               \
    "{\"id\":\"d1\",\"npc\":\"innkeeper\",\"locale\":\"en-GB\",\"lines\":"     \
    "[{\"speaker\":\"innkeeper\",\"text\":\"Welcome!\"}]}"
#define PROCGEN                                                                \
    "{\"id\":\"caves\",\"generator\":\"cave\",\"caps\":{\"max_spawn\":50,"     \
    "\"max_density\":0.5,\"max_depth\":8},\"params\":{\"seed_bias\":0.1}}"

static const char patch_ok[] = PATCH_HEAD
    ",\"content\":{\"quests\":[" QUEST "],\"npc_behaviors\":[" BEHAVIOR
    "],\"economy_tuning\":{\"multipliers\":{\"xp\":1.5},"
    "\"prices\":{\"cheese\":3},\"drop_rates\":{\"cheese\":0.25}},"
    "\"dialogue\":[" DIALOGUE "],\"procgen_rules\":[" PROCGEN "],"
    "\"scripts\":[\"scripts/quest.lua\"]}}";

static int parse(const char *s, gosr_gmod_manifest **m, gosr_error *e)
{
    gosr_error_clear(e);
    return gosr_gmod_manifest_parse((const uint8_t *)s, strlen(s), m, e);
}

GOSR_TEST(manifest_accepts_a_full_game)
{
    gosr_gmod_manifest *m;
    gosr_error e;
    int rc = parse(game_ok, &m, &e);
    if (rc != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "%s: %s", e.reason, e.detail);
    REQUIRE(rc == GOSR_OK);
    CHECK_STR(m->id, "arena");
    CHECK_EQ(m->kind, GOSR_GMOD_GAME);
    CHECK_EQ(m->version.minor, 2);
    CHECK_STR(m->entry, "main.lua");
    CHECK_EQ(m->ndeps, 2);
    CHECK_STR(m->deps[0].id, "core");
    CHECK_STR(m->deps[1].range_text, "~2.1");
    gosr_semver v;
    REQUIRE(gosr_semver_parse("2.1.7", &v, NULL) == GOSR_OK);
    CHECK(gosr_semver_range_satisfies(m->deps[1].range, &v));
    REQUIRE(gosr_semver_parse("0.4.0", &v, NULL) == GOSR_OK);
    CHECK(gosr_semver_range_satisfies(m->engine_range, &v));
    CHECK_EQ(m->ncapabilities, 3);
    CHECK_STR(m->capabilities[2], "log");
    CHECK_STR(m->author_type, "human");
    CHECK_STR(m->author_name, "Ada");
    CHECK(m->has_expires);
    CHECK_EQ(m->created_at, 1793527200);
    CHECK(m->content == NULL);
    CHECK(m->parent_patch_id == NULL);
    gosr_gmod_manifest_destroy(m);
    gosr_gmod_manifest_destroy(NULL);
}

GOSR_TEST(manifest_accepts_a_patch_with_a_full_content_envelope)
{
    gosr_gmod_manifest *m;
    gosr_error e;
    int rc = parse(patch_ok, &m, &e);
    if (rc != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "%s: %s", e.reason, e.detail);
    REQUIRE(rc == GOSR_OK);
    CHECK_EQ(m->kind, GOSR_GMOD_PATCH);
    CHECK_STR(m->parent_patch_id, "patch-2026-02-15-019");
    CHECK_STR(m->author_model, "m-1");
    CHECK(m->entry == NULL);
    CHECK_EQ(m->nscripts, 1);
    CHECK_STR(m->scripts[0], "scripts/quest.lua");
    CHECK(m->content != NULL);
    CHECK_EQ(json_array_size(json_object_get((json_t *)m->content, "quests")),
             1);
    gosr_gmod_manifest_destroy(m);
}

/* One rejection: the document, the reason and the JSON path expected. */
typedef struct bad_case {
    const char *doc;    /* gmod.json text */
    const char *reason; /* expected reason */
    const char *path;   /* expected JSON path (prefix of the detail) */
} bad_case;

static const bad_case bad_cases[] = {
    /* syntax and the loader's bounds */
    {GAME_HEAD ",\"entry\":\"main.lua\"", "manifest_syntax", "$.entry"},
    {"{\"a\":[1,2,}", "manifest_syntax", "$.a[2]"},
    {"[1,2]", "manifest_wrong_type", "$"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"id\":\"dup\"}",
     "manifest_duplicate_key", "$.id"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"depends\":{\"core\":\"^1\","
               "\"core\":\"^2\"}}",
     "manifest_duplicate_key", "$.depends.core"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"name\":\"a\\u0000b\"}",
     "manifest_nul_byte", "$.name"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"name\":\"\xff\"}",
     "manifest_bad_utf8", "$.name"},
    {GAME_HEAD
     ",\"entry\":\"main.lua\",\"depends\":{\"x\":99999999999999999999}}",
     "manifest_bad_value", "$.depends.x"},
    /* schema */
    {GAME_HEAD ",\"entry\":\"main.lua\",\"colour\":\"red\"}",
     "manifest_unknown_field", "$.colour"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"author\":{\"type\":\"human\","
               "\"name\":\"A\",\"age\":3}}",
     "manifest_duplicate_key", "$.author"},
    {"{\"schema_version\":\"1.0.0\",\"id\":\"a\",\"version\":\"1.0.0\","
     "\"kind\":\"game\",\"engine_compat\":\"*\",\"entry\":\"m.lua\","
     "\"author\":{\"type\":\"human\",\"name\":\"A\",\"age\":3},"
     "\"created_at\":\"2026-01-01T00:00:00Z\"}",
     "manifest_unknown_field", "$.author.age"},
    {"{\"schema_version\":\"1.0.0\",\"id\":\"a\",\"version\":\"1.0.0\","
     "\"kind\":\"game\",\"engine_compat\":\"*\",\"entry\":\"m.lua\","
     "\"author\":{\"type\":\"human\",\"name\":\"A\"}}",
     "manifest_missing_field", "$.created_at"},
    {"{\"schema_version\":\"2.0.0\",\"id\":\"a\"}", "manifest_bad_value",
     "$.schema_version"},
    {"{\"schema_version\":\"1.0.0\",\"id\":7}", "manifest_wrong_type", "$.id"},
    {"{\"schema_version\":\"1.0.0\",\"id\":\"Big Name\"}", "manifest_bad_value",
     "$.id"},
    {"{\"schema_version\":\"1.0.0\",\"id\":\"a\",\"version\":\"1.0\"}",
     "manifest_bad_semver", "$.version"},
    {"{\"schema_version\":\"1.0.0\",\"id\":\"a\",\"version\":\"1.0.0\","
     "\"kind\":\"dlc\"}",
     "manifest_bad_value", "$.kind"},
    {"{\"schema_version\":\"1.0.0\",\"id\":\"a\",\"version\":\"1.0.0\","
     "\"kind\":\"game\",\"engine_compat\":\">>1\"}",
     "manifest_bad_semver", "$.engine_compat"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"depends\":{\"core\":\"^1.x.3\"}}",
     "manifest_bad_semver", "$.depends[\"core\"]"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"depends\":{\"Core!\":\"^1\"}}",
     "manifest_bad_value", "$.depends[\"Core!\"]"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"depends\":[\"core\"]}",
     "manifest_wrong_type", "$.depends"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"capabilities\":[\"log\",5]}",
     "manifest_wrong_type", "$.capabilities[1]"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"capabilities\":[\"log\",\"log\"]}",
     "manifest_bad_value", "$.capabilities[1]"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"capabilities\":[\"World.Read\"]}",
     "manifest_bad_value", "$.capabilities[0]"},
    {GAME_HEAD ",\"entry\":\"../main.lua\"}", "manifest_bad_value", "$.entry"},
    {GAME_HEAD ",\"entry\":\"/abs/main.lua\"}", "manifest_bad_value",
     "$.entry"},
    {GAME_HEAD ",\"entry\":\"main.py\"}", "manifest_bad_value", "$.entry"},
    {GAME_HEAD "}", "manifest_missing_field", "$.entry"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"created_at\":\"yesterday\"}",
     "manifest_duplicate_key", "$.created_at"},
    {"{\"schema_version\":\"1.0.0\",\"id\":\"a\",\"version\":\"1.0.0\","
     "\"kind\":\"game\",\"engine_compat\":\"*\",\"entry\":\"m.lua\","
     "\"author\":{\"type\":\"human\",\"name\":\"A\"},"
     "\"created_at\":\"yesterday\"}",
     "manifest_bad_value", "$.created_at"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"expires\":\"2020-01-01T00:00:00Z\"}",
     "manifest_bad_value", "$.expires"},
    {"{\"schema_version\":\"1.0.0\",\"id\":\"a\",\"version\":\"1.0.0\","
     "\"kind\":\"game\",\"engine_compat\":\"*\",\"entry\":\"m.lua\","
     "\"author\":{\"type\":\"robot\"},\"created_at\":\"2026-01-01T00:00:00Z\"}",
     "manifest_bad_value", "$.author.type"},
    {"{\"schema_version\":\"1.0.0\",\"id\":\"a\",\"version\":\"1.0.0\","
     "\"kind\":\"game\",\"engine_compat\":\"*\",\"entry\":\"m.lua\","
     "\"author\":{\"type\":\"ai\"},\"created_at\":\"2026-01-01T00:00:00Z\"}",
     "manifest_missing_field", "$.author.model"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"name\":\"bell\\u0007\"}",
     "manifest_bad_value", "$.name"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"parent_patch_id\":\"p1\"}",
     "manifest_bad_value", "$.parent_patch_id"},
    {GAME_HEAD ",\"entry\":\"main.lua\",\"content\":{}}", "manifest_bad_value",
     "$.content"},
    /* patch content envelope */
    {PATCH_HEAD "}", "manifest_missing_field", "$.content"},
    {PATCH_HEAD ",\"content\":{\"quests\":{}}}", "manifest_wrong_type",
     "$.content.quests"},
    {PATCH_HEAD ",\"content\":{\"quests\":[" QUEST ",{\"id\":\"q2\","
                "\"title\":\"T\",\"objectives\":[{\"type\":\"kill\","
                "\"target\":\"rat\",\"count\":1}],\"rewards\":{}}]}}",
     "manifest_missing_field", "$.content.quests[1].npc"},
    {PATCH_HEAD ",\"content\":{\"quests\":[" QUEST "," QUEST "]}}",
     "manifest_bad_value", "$.content.quests[1]"},
    {PATCH_HEAD ",\"content\":{\"quests\":[{\"id\":\"q1\",\"title\":\"T\","
                "\"npc\":\"n\",\"objectives\":[{\"type\":\"dance\","
                "\"target\":\"rat\",\"count\":1}],\"rewards\":{}}]}}",
     "manifest_bad_value", "$.content.quests[0].objectives[0].type"},
    {PATCH_HEAD ",\"content\":{\"quests\":[{\"id\":\"q1\",\"title\":\"T\","
                "\"npc\":\"n\",\"objectives\":[{\"type\":\"kill\","
                "\"target\":\"rat\",\"count\":1.5}],\"rewards\":{}}]}}",
     "manifest_wrong_type", "$.content.quests[0].objectives[0].count"},
    {PATCH_HEAD ",\"content\":{\"quests\":[{\"id\":\"q1\",\"title\":\"T\","
                "\"npc\":\"n\",\"objectives\":[{\"type\":\"kill\","
                "\"target\":\"rat\",\"count\":1}],\"rewards\":{\"xp\":"
                "5000000}}]}}",
     "manifest_bad_value", "$.content.quests[0].rewards.xp"},
    {PATCH_HEAD ",\"content\":{\"economy_tuning\":{\"multipliers\":"
                "{\"xp\":9.0}}}}",
     "manifest_bad_value", "$.content.economy_tuning.multipliers[\"xp\"]"},
    {PATCH_HEAD ",\"content\":{\"economy_tuning\":{\"multipliers\":"
                "{\"xp\":\"2\"}}}}",
     "manifest_wrong_type", "$.content.economy_tuning.multipliers[\"xp\"]"},
    {PATCH_HEAD ",\"content\":{\"npc_behaviors\":[{\"id\":\"g\",\"npc\":"
                "\"n\",\"initial\":\"sleep\",\"states\":[\"idle\"],"
                "\"transitions\":[]}]}}",
     "manifest_bad_value", "$.content.npc_behaviors[0].initial"},
    {PATCH_HEAD ",\"content\":{\"npc_behaviors\":[{\"id\":\"g\",\"npc\":"
                "\"n\",\"initial\":\"idle\",\"states\":[\"idle\"],"
                "\"transitions\":[{\"from\":\"idle\",\"to\":\"fly\","
                "\"on\":\"e\"}]}]}}",
     "manifest_bad_value", "$.content.npc_behaviors[0].transitions[0].to"},
    {PATCH_HEAD ",\"content\":{\"dialogue\":[{\"id\":\"d\",\"npc\":\"n\","
                "\"locale\":\"english\",\"lines\":[{\"text\":\"hi\"}]}]}}",
     "manifest_bad_value", "$.content.dialogue[0].locale"},
    {PATCH_HEAD ",\"content\":{\"dialogue\":[{\"id\":\"d\",\"npc\":\"n\","
                "\"lines\":[]}]}}",
     "manifest_bad_value", "$.content.dialogue[0].lines"},
    {PATCH_HEAD ",\"content\":{\"procgen_rules\":[{\"id\":\"c\","
                "\"generator\":\"g\",\"caps\":{\"max_spawn\":50,"
                "\"max_density\":0.5}}]}}",
     "manifest_missing_field", "$.content.procgen_rules[0].caps.max_depth"},
    {PATCH_HEAD ",\"content\":{\"procgen_rules\":[{\"id\":\"c\","
                "\"generator\":\"g\",\"caps\":{\"max_spawn\":0,"
                "\"max_density\":0.5,\"max_depth\":3}}]}}",
     "manifest_bad_value", "$.content.procgen_rules[0].caps.max_spawn"},
    {PATCH_HEAD ",\"content\":{\"scripts\":[\"a/../../etc.lua\"]}}",
     "manifest_bad_value", "$.content.scripts[0]"},
    {PATCH_HEAD ",\"content\":{\"sounds\":[]}}", "manifest_unknown_field",
     "$.content.sounds"},
    {PATCH_HEAD ",\"parent_patch_id\":5,\"content\":{}}",
     "manifest_duplicate_key", "$.parent_patch_id"},
};

GOSR_TEST(manifest_rejects_each_rule_with_reason_and_path)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        gosr_gmod_manifest *m = NULL;
        gosr_error e;
        int rc = parse(c->doc, &m, &e);
        if (rc == GOSR_OK) {
            gosr_test_fail(__FILE__, __LINE__, "case %zu accepted", i);
            gosr_gmod_manifest_destroy(m);
            continue;
        }
        CHECK(m == NULL);
        size_t pl = strlen(c->path);
        if (strcmp(e.reason, c->reason) != 0 ||
            strncmp(e.detail, c->path, pl) != 0 || e.detail[pl] != ':')
            gosr_test_fail(__FILE__, __LINE__,
                           "case %zu: got %s '%s', want %s at %s", i, e.reason,
                           e.detail, c->reason, c->path);
    }
}

GOSR_TEST(manifest_rejects_raw_nul_depth_and_size)
{
    gosr_gmod_manifest *m = NULL;
    gosr_error e;
    char doc[] = "{\"schema_version\":\"1.0.0\",\"id\":\"a\x00\"}";
    CHECK_STATUS(
        gosr_gmod_manifest_parse((const uint8_t *)doc, sizeof doc - 1, &m, &e),
        GOSR_EFORMAT);
    CHECK_STR(e.reason, "manifest_nul_byte");
    CHECK(strncmp(e.detail, "$.id:", 5) == 0);

    /* 100 000 nested arrays: rejected by the pre-scan, no recursion. */
    size_t n = 200000;
    char *deep = malloc(n + 64);
    REQUIRE(deep != NULL);
    size_t k = (size_t)sprintf(deep, "{\"content\":");
    for (size_t i = 0; i < n / 2; i++)
        deep[k++] = '[';
    for (size_t i = 0; i < n / 2; i++)
        deep[k++] = ']';
    deep[k++] = '}';
    CHECK_STATUS(gosr_gmod_manifest_parse((uint8_t *)deep, k, &m, &e),
                 GOSR_EFORMAT);
    CHECK_STR(e.reason, "manifest_too_deep");
    CHECK(strncmp(e.detail, "$.content[0][0]", 15) == 0);
    free(deep);

    size_t big = GOSR_GMOD_MANIFEST_MAX + 1;
    char *huge = calloc(1, big);
    REQUIRE(huge != NULL);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    CHECK_STATUS(gosr_gmod_manifest_parse((uint8_t *)huge, big, &m, &e),
                 GOSR_ETOOBIG);
    CHECK_STR(e.reason, "manifest_too_large");
    free(huge);

    /* exactly at the depth bound is fine syntactically */
    char ok[200];
    k = (size_t)sprintf(ok, "%s", "{\"content\":");
    for (int i = 0; i < GOSR_GMOD_MAX_DEPTH - 1; i++)
        ok[k++] = '[';
    for (int i = 0; i < GOSR_GMOD_MAX_DEPTH - 1; i++)
        ok[k++] = ']';
    ok[k++] = '}';
    CHECK_STATUS(gosr_gmod_manifest_parse((uint8_t *)ok, k, &m, &e),
                 GOSR_EFORMAT);
    CHECK_STR(e.reason, "manifest_missing_field"); /* not too deep */
}

GOSR_TEST(manifest_parse_survives_every_allocation_failure)
{
    for (long n = 1; n < 200; n++) {
        gosr_gmod_manifest *m = NULL;
        gosr_error e;
        gosr_alloc_fail_after(n);
        int rc = parse(patch_ok, &m, &e);
        gosr_alloc_fail_after(0);
        if (rc == GOSR_OK) {
            gosr_gmod_manifest_destroy(m);
            break;
        }
        CHECK_EQ(rc, GOSR_ENOMEM);
        CHECK(m == NULL);
    }
}
