/*
 * registry.c — the capability registry: names, input/output JSON schemas
 * (with defaults), the schema-lite validator, default filling and the
 * per-capability semantic checks that a schema cannot express (quest
 * targets exist in the world, map rows have the declared width and every
 * floor tile is reachable).
 *
 * Design: docs/ai.md ("Capabilities and schemas", "Schema subset").
 */
#include "ai/ai_int.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* ---- schema texts ------------------------------------------------------- */

#define ID "{\"type\":\"string\",\"format\":\"id\"}"
#define NAME(max) "{\"type\":\"string\",\"minLength\":1,\"maxLength\":" #max "}"

static const char *const k_names[GOSR_AI_CAP_COUNT] = {
    "npc_dialog", "quest_gen", "map_gen",
    "economy_tune", "moderation_classify", "patch_author"};

#define MOODS "[\"happy\",\"neutral\",\"angry\",\"afraid\",\"sad\"]"

static const char k_in_dialog[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"npc\",\"player\",\"topic\",\"max_lines\"],"
    "\"properties\":{"
    "\"npc\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"id\",\"name\",\"role\",\"mood\",\"relationship\"],"
    "\"default\":{\"id\":\"mira\",\"name\":\"Mira\",\"role\":\"merchant\","
    "\"mood\":\"neutral\",\"relationship\":0},"
    "\"properties\":{\"id\":" ID ",\"name\":" NAME(64) ","
    "\"role\":{\"type\":\"string\",\"enum\":[\"merchant\",\"guard\","
    "\"innkeeper\",\"blacksmith\",\"wizard\",\"farmer\",\"bandit\"]},"
    "\"mood\":{\"type\":\"string\",\"enum\":" MOODS "},"
    "\"relationship\":{\"type\":\"integer\",\"minimum\":-100,"
    "\"maximum\":100}}},"
    "\"player\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"name\"],\"default\":{\"name\":\"Traveller\"},"
    "\"properties\":{\"name\":" NAME(64) "}},"
    "\"topic\":{\"type\":\"string\",\"default\":\"greeting\",\"enum\":"
    "[\"greeting\",\"trade\",\"rumor\",\"quest\",\"farewell\"]},"
    "\"max_lines\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":8,"
    "\"default\":3},"
    "\"player_text\":{\"type\":\"string\",\"maxLength\":500}}}";

static const char k_out_dialog[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"npc\",\"lines\",\"mood_after\"],\"properties\":{"
    "\"npc\":" NAME(64) ","
    "\"lines\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":8,\"items\":"
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"speaker\",\"text\"],\"properties\":{"
    "\"speaker\":" NAME(64) ",\"text\":" NAME(400) "}}},"
    "\"mood_after\":{\"type\":\"string\",\"enum\":" MOODS "}}}";

static const char k_in_quest[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"world\",\"difficulty\",\"player_level\"],"
    "\"properties\":{"
    "\"world\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"items\",\"npcs\",\"locations\"],"
    "\"default\":{\"items\":[{\"id\":\"iron-ore\",\"name\":\"Iron Ore\","
    "\"value\":5},{\"id\":\"wolf-pelt\",\"name\":\"Wolf Pelt\",\"value\":12},"
    "{\"id\":\"healing-herb\",\"name\":\"Healing Herb\",\"value\":3}],"
    "\"npcs\":[{\"id\":\"mira\",\"name\":\"Mira\",\"role\":\"merchant\"},"
    "{\"id\":\"old-tom\",\"name\":\"Old Tom\",\"role\":\"farmer\"}],"
    "\"locations\":[\"north-mine\",\"dark-forest\",\"river-ford\"]},"
    "\"properties\":{"
    "\"items\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":256,\"items\":"
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"id\",\"name\",\"value\"],\"properties\":{\"id\":" ID ","
    "\"name\":" NAME(64) ",\"value\":{\"type\":\"integer\",\"minimum\":0,"
    "\"maximum\":1000000}}}},"
    "\"npcs\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":256,\"items\":"
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"id\",\"name\"],\"properties\":{\"id\":" ID ","
    "\"name\":" NAME(64) ",\"role\":" NAME(32) "}}},"
    "\"locations\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":256,"
    "\"items\":" ID "}}},"
    "\"difficulty\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":5,"
    "\"default\":2},"
    "\"player_level\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,"
    "\"default\":1}}}";

static const char k_out_quest[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"quest\",\"summary\"],\"properties\":{"
    "\"summary\":" NAME(600) ","
    "\"quest\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"id\",\"title\",\"npc\",\"objectives\",\"rewards\"],"
    "\"properties\":{\"id\":" ID ",\"title\":" NAME(120) ",\"npc\":" ID ","
    "\"objectives\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":8,"
    "\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"type\",\"target\",\"count\"],\"properties\":{"
    "\"type\":{\"type\":\"string\",\"enum\":[\"kill\",\"collect\",\"talk\","
    "\"reach\",\"deliver\",\"escort\"]},\"target\":" ID ","
    "\"count\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10000}}}},"
    "\"rewards\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{\"xp\":{\"type\":\"integer\",\"minimum\":0,"
    "\"maximum\":1000000},\"gold\":{\"type\":\"integer\",\"minimum\":0,"
    "\"maximum\":1000000},\"items\":{\"type\":\"array\",\"maxItems\":32,"
    "\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"id\",\"count\"],\"properties\":{\"id\":" ID ","
    "\"count\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000}}}}}}}}}}";

static const char k_in_map[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"width\",\"height\",\"biome\",\"spawns\",\"wall_pct\"],"
    "\"properties\":{"
    "\"width\":{\"type\":\"integer\",\"minimum\":8,\"maximum\":128,"
    "\"default\":48},"
    "\"height\":{\"type\":\"integer\",\"minimum\":8,\"maximum\":128,"
    "\"default\":32},"
    "\"biome\":{\"type\":\"string\",\"enum\":[\"cave\",\"forest\","
    "\"island\"],\"default\":\"cave\"},"
    "\"spawns\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":16,"
    "\"default\":4},"
    "\"wall_pct\":{\"type\":\"integer\",\"minimum\":30,\"maximum\":60,"
    "\"default\":45}}}";

static const char k_out_map[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"width\",\"height\",\"biome\",\"tiles\",\"legend\","
    "\"spawns\"],\"properties\":{"
    "\"width\":{\"type\":\"integer\",\"minimum\":8,\"maximum\":128},"
    "\"height\":{\"type\":\"integer\",\"minimum\":8,\"maximum\":128},"
    "\"biome\":{\"type\":\"string\",\"enum\":[\"cave\",\"forest\","
    "\"island\"]},"
    "\"tiles\":{\"type\":\"array\",\"minItems\":8,\"maxItems\":128,"
    "\"items\":{\"type\":\"string\",\"minLength\":8,\"maxLength\":128}},"
    "\"legend\":{\"type\":\"object\",\"additionalProperties\":"
    "{\"type\":\"string\",\"enum\":[\"wall\",\"floor\",\"water\",\"tree\","
    "\"grass\",\"sand\"]}},"
    "\"spawns\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":16,"
    "\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"x\",\"y\"],\"properties\":{"
    "\"x\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":127},"
    "\"y\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":127}}}}}}";

static const char k_in_econ[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"items\",\"min_multiplier\",\"max_multiplier\"],"
    "\"properties\":{"
    "\"items\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":256,"
    "\"default\":[{\"id\":\"iron-ore\",\"price\":5,\"supply\":400,"
    "\"demand\":900},{\"id\":\"wolf-pelt\",\"price\":12,\"supply\":300,"
    "\"demand\":100},{\"id\":\"healing-herb\",\"price\":3,\"supply\":500,"
    "\"demand\":500}],"
    "\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"id\",\"price\",\"supply\",\"demand\"],\"properties\":{"
    "\"id\":" ID ",\"price\":{\"type\":\"number\",\"minimum\":0,"
    "\"maximum\":1000000},\"supply\":{\"type\":\"integer\",\"minimum\":0,"
    "\"maximum\":1000000000},\"demand\":{\"type\":\"integer\",\"minimum\":0,"
    "\"maximum\":1000000000}}}},"
    "\"min_multiplier\":{\"type\":\"number\",\"minimum\":0.25,"
    "\"maximum\":4.0,\"default\":0.5},"
    "\"max_multiplier\":{\"type\":\"number\",\"minimum\":0.25,"
    "\"maximum\":4.0,\"default\":2.0}}}";

static const char k_out_econ[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"tuning\",\"summary\"],\"properties\":{"
    "\"summary\":" NAME(600) ","
    "\"tuning\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":256,"
    "\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"id\",\"multiplier\",\"price\"],\"properties\":{"
    "\"id\":" ID ",\"multiplier\":{\"type\":\"number\",\"minimum\":0.25,"
    "\"maximum\":4.0},\"price\":{\"type\":\"number\",\"minimum\":0,"
    "\"maximum\":4000000}}}}}}";

#define LABELS                                                                 \
    "[\"ok\",\"toxic\",\"spam\",\"injection\",\"sexual\",\"violence\"]"

static const char k_in_mod[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"text\"],\"properties\":{"
    "\"text\":{\"type\":\"string\",\"maxLength\":4000,\"default\":\"\"}}}";

static const char k_out_mod[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"label\",\"flagged\",\"score\",\"categories\"],"
    "\"properties\":{\"label\":{\"type\":\"string\",\"enum\":" LABELS "},"
    "\"flagged\":{\"type\":\"boolean\"},"
    "\"score\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1},"
    "\"categories\":{\"type\":\"array\",\"maxItems\":6,\"items\":"
    "{\"type\":\"string\",\"enum\":" LABELS "}}}}";

static const char k_in_patch[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"goal\",\"target_id\",\"version\"],\"properties\":{"
    "\"goal\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":500,"
    "\"default\":\"make iron ore a little cheaper\"},"
    "\"target_id\":{\"type\":\"string\",\"format\":\"id\","
    "\"default\":\"arena\"},"
    "\"version\":{\"type\":\"string\",\"minLength\":5,\"maxLength\":32,"
    "\"default\":\"0.1.1\"},"
    "\"created_at\":{\"type\":\"string\",\"minLength\":20,\"maxLength\":20}}}";

static const char k_out_patch[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"manifest\",\"files\"],\"properties\":{"
    "\"manifest\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"schema_version\",\"id\",\"version\",\"kind\","
    "\"engine_compat\",\"author\",\"created_at\",\"content\"],"
    "\"properties\":{"
    "\"schema_version\":{\"type\":\"string\",\"enum\":[\"1.0.0\"]},"
    "\"id\":" ID ",\"version\":" NAME(32) ","
    "\"kind\":{\"type\":\"string\",\"enum\":[\"patch\"]},"
    "\"name\":" NAME(256) ",\"description\":" NAME(4000) ","
    "\"engine_compat\":" NAME(64) ","
    "\"depends\":{\"type\":\"object\",\"additionalProperties\":" NAME(64) "},"
    "\"capabilities\":{\"type\":\"array\",\"maxItems\":16,\"items\":"
    "{\"type\":\"string\",\"enum\":[\"world.read\",\"world.write\","
    "\"log\",\"economy.write\"]}},"
    "\"entry\":" NAME(128) ","
    "\"author\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"type\"],\"properties\":{\"type\":{\"type\":\"string\","
    "\"enum\":[\"ai\"]},\"name\":" NAME(256) ",\"model\":" NAME(256) ","
    "\"run_id\":" NAME(256) "}},"
    "\"created_at\":" NAME(20) ","
    "\"content\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{\"scripts\":{\"type\":\"array\",\"maxItems\":8,"
    "\"items\":" NAME(128) "},"
    "\"economy_tuning\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{\"multipliers\":{\"type\":\"object\","
    "\"additionalProperties\":{\"type\":\"number\",\"minimum\":0.25,"
    "\"maximum\":4.0}}}}}}}},"
    "\"files\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":8,\"items\":"
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"path\",\"text\"],\"properties\":{\"path\":" NAME(128)
    ",\"text\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":16000}}}}"
    "}}";

static const char *const k_in_text[GOSR_AI_CAP_COUNT] = {
    k_in_dialog, k_in_quest, k_in_map, k_in_econ, k_in_mod, k_in_patch};
static const char *const k_out_text[GOSR_AI_CAP_COUNT] = {
    k_out_dialog, k_out_quest, k_out_map, k_out_econ, k_out_mod, k_out_patch};

static json_t *g_in[GOSR_AI_CAP_COUNT];
static json_t *g_out[GOSR_AI_CAP_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Parses the built-in schema texts once; they live for the process. */
static void load_schemas(void)
{
    for (int i = 0; i < GOSR_AI_CAP_COUNT; i++) {
        g_in[i] = json_loads(k_in_text[i], JSON_REJECT_DUPLICATES, NULL);
        g_out[i] = json_loads(k_out_text[i], JSON_REJECT_DUPLICATES, NULL);
        if (!g_in[i] || !g_out[i])
            gosr_log(GOSR_LOG_ERROR, "ai", "built-in schema %d failed", i);
    }
}

const char *gosr_ai_cap_name(gosr_ai_cap cap)
{
    return (unsigned)cap < GOSR_AI_CAP_COUNT ? k_names[cap] : "unknown";
}

int gosr_ai_cap_from_name(const char *name, gosr_ai_cap *out)
{
    for (int i = 0; name && i < GOSR_AI_CAP_COUNT; i++)
        if (strcmp(name, k_names[i]) == 0) {
            *out = (gosr_ai_cap)i;
            return GOSR_OK;
        }
    return GOSR_ENOENT;
}

const json_t *gosr_ai_cap_input_schema(gosr_ai_cap cap)
{
    pthread_once(&g_once, load_schemas);
    return (unsigned)cap < GOSR_AI_CAP_COUNT ? g_in[cap] : NULL;
}

const json_t *gosr_ai_cap_output_schema(gosr_ai_cap cap)
{
    pthread_once(&g_once, load_schemas);
    return (unsigned)cap < GOSR_AI_CAP_COUNT ? g_out[cap] : NULL;
}

/* ---- validator ---------------------------------------------------------- */

typedef struct vctx {
    gosr_error *err; /* where failures go */
    char path[256];  /* current location, "/npc/name" style */
} vctx;

static int vfail(vctx *c, const char *reason, const char *what)
{
    return gosr_error_set(c->err, GOSR_EFORMAT, reason, "%s at '%s'", what,
                          c->path[0] ? c->path : "/");
}

static bool known_keyword(const char *k)
{
    static const char *const kw[] = {
        "type", "properties", "required", "additionalProperties", "enum",
        "minimum", "maximum", "minLength", "maxLength", "items", "minItems",
        "maxItems", "format", "default", NULL};
    for (int i = 0; kw[i]; i++)
        if (strcmp(k, kw[i]) == 0)
            return true;
    return false;
}

static bool type_matches(const char *t, const json_t *v)
{
    if (strcmp(t, "object") == 0) return json_is_object(v);
    if (strcmp(t, "array") == 0) return json_is_array(v);
    if (strcmp(t, "string") == 0) return json_is_string(v);
    if (strcmp(t, "integer") == 0) return json_is_integer(v);
    if (strcmp(t, "number") == 0) return json_is_number(v);
    if (strcmp(t, "boolean") == 0) return json_is_boolean(v);
    if (strcmp(t, "null") == 0) return json_is_null(v);
    return false;
}

/* Counts UTF-8 code points; returns -1 for invalid UTF-8 (jansson already
 * rejects that on parse, so this only guards hand-built values). */
static long utf8_len(const char *s, size_t n)
{
    long cps = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cps++;
    return cps;
}

bool ai__id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-')))
            return false;
    }
    return true;
}

static int validate(vctx *c, const json_t *s, const json_t *v);

static int check_enum(vctx *c, const json_t *en, const json_t *v)
{
    size_t i;
    json_t *e;
    json_array_foreach(en, i, e) if (json_equal(e, v)) return GOSR_OK;
    return vfail(c, "schema_enum", "value not in enum");
}

static int check_number(vctx *c, const json_t *s, const json_t *v)
{
    double x = json_number_value(v);
    json_t *mn = json_object_get(s, "minimum");
    json_t *mx = json_object_get(s, "maximum");
    if (!isfinite(x))
        return vfail(c, "schema_range", "number not finite");
    if (mn && x < json_number_value(mn))
        return vfail(c, "schema_range", "number below minimum");
    if (mx && x > json_number_value(mx))
        return vfail(c, "schema_range", "number above maximum");
    return GOSR_OK;
}

static int check_string(vctx *c, const json_t *s, const json_t *v)
{
    long n = utf8_len(json_string_value(v), json_string_length(v));
    json_t *mn = json_object_get(s, "minLength");
    json_t *mx = json_object_get(s, "maxLength");
    json_t *fmt = json_object_get(s, "format");
    if (strlen(json_string_value(v)) != json_string_length(v))
        return vfail(c, "schema_nul_byte", "string holds a NUL byte");
    if (mn && n < json_integer_value(mn))
        return vfail(c, "schema_length", "string shorter than minLength");
    if (mx && n > json_integer_value(mx))
        return vfail(c, "schema_length", "string longer than maxLength");
    if (fmt && strcmp(json_string_value(fmt), "id") == 0 &&
        !ai__id_ok(json_string_value(v)))
        return vfail(c, "schema_format", "string is not an id");
    return GOSR_OK;
}

/* Runs `validate` on a child with the path extended by "/name". */
static int child(vctx *c, const char *name, const json_t *s, const json_t *v)
{
    size_t at = strlen(c->path);
    snprintf(c->path + at, sizeof c->path - at, "/%s", name);
    int rc = validate(c, s, v);
    c->path[at] = '\0';
    return rc;
}

static int check_array(vctx *c, const json_t *s, const json_t *v)
{
    json_t *mn = json_object_get(s, "minItems");
    json_t *mx = json_object_get(s, "maxItems");
    json_t *items = json_object_get(s, "items");
    size_t n = json_array_size(v), i;
    json_t *e;
    char idx[24];
    if (mn && (json_int_t)n < json_integer_value(mn))
        return vfail(c, "schema_items", "array shorter than minItems");
    if (mx && (json_int_t)n > json_integer_value(mx))
        return vfail(c, "schema_items", "array longer than maxItems");
    if (!items)
        return GOSR_OK;
    json_array_foreach(v, i, e)
    {
        snprintf(idx, sizeof idx, "%zu", i);
        int rc = child(c, idx, items, e);
        if (rc)
            return rc;
    }
    return GOSR_OK;
}

static int check_object(vctx *c, const json_t *s, const json_t *v)
{
    json_t *props = json_object_get(s, "properties");
    json_t *req = json_object_get(s, "required");
    json_t *addl = json_object_get(s, "additionalProperties");
    const char *k;
    json_t *e;
    size_t i;
    json_array_foreach(req, i, e) if (!json_object_get(v, json_string_value(e)))
    {
        char name[80];
        snprintf(name, sizeof name, "missing '%s'", json_string_value(e));
        return vfail(c, "schema_required", name);
    }
    json_object_foreach((json_t *)v, k, e)
    {
        json_t *ps = props ? json_object_get(props, k) : NULL;
        if (!ps && json_is_false(addl))
            return child(c, k, json_false(), e);
        if (!ps && json_is_object(addl))
            ps = addl;
        if (ps) {
            int rc = child(c, k, ps, e);
            if (rc)
                return rc;
        }
    }
    return GOSR_OK;
}

static int check_keywords(vctx *c, const json_t *s)
{
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)s, k, e) if (!known_keyword(k))
        return gosr_error_set(c->err, GOSR_EINVAL, "schema_keyword",
                              "unknown schema keyword '%s' at '%s'", k,
                              c->path);
    return GOSR_OK;
}

static int validate(vctx *c, const json_t *s, const json_t *v)
{
    if (json_is_false(s))
        return vfail(c, "schema_additional", "property not allowed");
    if (!json_is_object(s))
        return gosr_error_set(c->err, GOSR_EINVAL, "schema_keyword",
                              "schema is not an object at '%s'", c->path);
    int rc = check_keywords(c, s);
    if (rc)
        return rc;
    json_t *t = json_object_get(s, "type");
    if (t && !type_matches(json_string_value(t) ? json_string_value(t) : "",
                           v))
        return vfail(c, "schema_type", "wrong type");
    json_t *en = json_object_get(s, "enum");
    if (en && (rc = check_enum(c, en, v)))
        return rc;
    if (json_is_number(v))
        return check_number(c, s, v);
    if (json_is_string(v))
        return check_string(c, s, v);
    if (json_is_array(v))
        return check_array(c, s, v);
    if (json_is_object(v))
        return check_object(c, s, v);
    return GOSR_OK;
}

int gosr_ai_schema_validate(const json_t *schema, const json_t *value,
                            gosr_error *err)
{
    vctx c = {.err = err};
    if (!schema || !value)
        return gosr_error_set(err, GOSR_EINVAL, "schema_missing",
                              "no schema or no value");
    return validate(&c, schema, value);
}

/* ---- defaults ----------------------------------------------------------- */

static int fill(const json_t *s, json_t *v)
{
    json_t *props = json_object_get(s, "properties");
    const char *k;
    json_t *ps;
    if (!json_is_object(v))
        return GOSR_OK;
    json_object_foreach(props, k, ps)
    {
        json_t *have = json_object_get(v, k);
        json_t *def = json_object_get(ps, "default");
        if (!have && def) {
            if (json_object_set_new(v, k, json_deep_copy(def)))
                return GOSR_ENOMEM;
        } else if (have && json_is_object(have)) {
            int rc = fill(ps, have);
            if (rc)
                return rc;
        }
    }
    return GOSR_OK;
}

int gosr_ai_cap_fill_defaults(gosr_ai_cap cap, json_t *input, gosr_error *err)
{
    const json_t *s = gosr_ai_cap_input_schema(cap);
    if (!s)
        return gosr_error_set(err, GOSR_EINVAL, "unknown_capability",
                              "capability %d", (int)cap);
    if (!json_is_object(input))
        return gosr_error_set(err, GOSR_EFORMAT, "input_not_object",
                              "capability input must be a JSON object");
    if (fill(s, input))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory",
                              "filling defaults");
    return GOSR_OK;
}

/* ---- semantic checks ---------------------------------------------------- */

static bool in_world(const json_t *world, const char *id)
{
    static const char *const lists[] = {"items", "npcs", NULL};
    size_t i;
    json_t *e;
    for (int l = 0; lists[l]; l++)
        json_array_foreach(json_object_get(world, lists[l]), i, e)
        {
            const char *x = json_string_value(json_object_get(e, "id"));
            if (x && strcmp(x, id) == 0)
                return true;
        }
    json_array_foreach(json_object_get(world, "locations"), i, e)
    {
        if (strcmp(json_string_value(e), id) == 0)
            return true;
    }
    return false;
}

static int quest_check(const json_t *in, const json_t *out, gosr_error *err)
{
    const json_t *world = json_object_get(in, "world");
    const json_t *q = json_object_get(out, "quest");
    size_t i;
    json_t *e;
    if (!in_world(world, json_string_value(json_object_get(q, "npc"))))
        return gosr_error_set(err, GOSR_EFORMAT, "semantic_unknown_npc",
                              "quest giver is not in the world");
    json_array_foreach(json_object_get(q, "objectives"), i, e)
    {
        const char *t = json_string_value(json_object_get(e, "target"));
        if (!in_world(world, t))
            return gosr_error_set(err, GOSR_EFORMAT, "semantic_unknown_target",
                                  "objective target '%s' is not in the world",
                                  t);
    }
    json_array_foreach(json_object_get(json_object_get(q, "rewards"), "items"),
                       i, e)
    {
        if (!in_world(world, json_string_value(json_object_get(e, "id"))))
            return gosr_error_set(err, GOSR_EFORMAT, "semantic_unknown_item",
                                  "reward item is not in the world");
    }
    return GOSR_OK;
}

static int map_check(const json_t *out, gosr_error *err)
{
    int w = (int)json_integer_value(json_object_get(out, "width"));
    int h = (int)json_integer_value(json_object_get(out, "height"));
    const json_t *tiles = json_object_get(out, "tiles");
    const json_t *legend = json_object_get(out, "legend");
    if ((int)json_array_size(tiles) != h)
        return gosr_error_set(err, GOSR_EFORMAT, "semantic_map_height",
                              "tile rows differ from height");
    char *grid = gosr_malloc((size_t)w * (size_t)h);
    if (!grid)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "map check");
    int rc = GOSR_OK;
    for (int y = 0; y < h && !rc; y++) {
        const char *row = json_string_value(json_array_get(tiles, (size_t)y));
        if ((int)strlen(row) != w) {
            rc = gosr_error_set(err, GOSR_EFORMAT, "semantic_map_width",
                                "row %d has the wrong width", y);
            break;
        }
        for (int x = 0; x < w && !rc; x++) {
            char key[2] = {row[x], 0};
            if (!json_object_get(legend, key))
                rc = gosr_error_set(err, GOSR_EFORMAT, "semantic_map_tile",
                                    "tile '%c' not in legend", row[x]);
            grid[y * w + x] = row[x];
        }
    }
    if (!rc)
        rc = ai__map_check_grid(grid, w, h, legend,
                                json_object_get(out, "spawns"), err);
    gosr_free(grid);
    return rc;
}

int ai__cap_semantic_check(gosr_ai_cap cap, const json_t *in,
                           const json_t *out, gosr_error *err)
{
    switch (cap) {
    case GOSR_AI_QUEST_GEN: return quest_check(in, out, err);
    case GOSR_AI_MAP_GEN: return map_check(out, err);
    case GOSR_AI_PATCH_AUTHOR: return ai__patch_check(out, err);
    default: return GOSR_OK;
    }
}
