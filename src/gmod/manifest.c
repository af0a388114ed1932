/*
 * manifest.c — strict parsing of gmod.json, the module manifest. Three
 * layers: (1) a byte pre-scan that rejects raw NUL bytes and nesting deeper
 * than GOSR_GMOD_MAX_DEPTH before jansson can recurse, and that can name the
 * JSON path at any byte offset (used to place jansson's syntax and
 * duplicate-key errors); (2) jansson with JSON_REJECT_DUPLICATES; (3) a
 * declarative schema walked generically, reporting the JSON path and a
 * manifest_* reason, followed by the cross-field rules.
 * Design: docs/manifest.md.
 *
 * Sections: error and path helpers; pre-scan; schema tables; generic
 * walker; cross-field rules and extraction; public entry points.
 */
#include "gmod/gmod_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- error and path helpers --------------------------------------------- */

/* Walk state: the error sink and the JSON path of the value in hand. */
typedef struct walk {
    gosr_error *err; /* caller's error, may be NULL */
    char path[512];  /* "$.content.quests[3].npc" */
    size_t plen;     /* bytes in use in path */
} walk;

static int fail(walk *w, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(walk *w, int status, const char *reason, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gosr_error_set(w->err, status, reason, "%s: %s", w->path, msg);
}

static void path_append(walk *w, const char *s, size_t n)
{
    if (w->plen + n >= sizeof w->path - 4) { /* keep a marker, never overflow */
        if (w->plen + 3 < sizeof w->path)
            w->plen += (size_t)snprintf(w->path + w->plen, 4, "...");
        return;
    }
    memcpy(w->path + w->plen, s, n);
    w->plen += n;
    w->path[w->plen] = '\0';
}

static bool is_ident_key(const char *k, size_t n)
{
    if (n == 0 || !((k[0] >= 'a' && k[0] <= 'z') ||
                    (k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Appends ["key"] with JSON escaping of quote, backslash and controls
 * (raw: the bytes are already JSON-escaped source text). */
static void path_key_bracket(walk *w, const char *k, size_t n, bool raw)
{
    path_append(w, "[\"", 2);
    for (size_t i = 0; i < n && i < 128; i++) {
        unsigned char c = (unsigned char)k[i];
        char e[8];
        if (!raw && (c == '"' || c == '\\'))
            snprintf(e, sizeof e, "\\%c", c);
        else if (c < 0x20)
            snprintf(e, sizeof e, "\\u%04x", c);
        else
            snprintf(e, sizeof e, "%c", c);
        path_append(w, e, strlen(e));
    }
    path_append(w, "\"]", 2);
}

/* Appends .key (identifier-like) or ["key"]; `map` forces brackets. */
static size_t path_push_key(walk *w, const char *k, size_t n, bool map)
{
    size_t saved = w->plen;
    if (!map && is_ident_key(k, n)) {
        path_append(w, ".", 1);
        path_append(w, k, n);
    } else {
        path_key_bracket(w, k, n, false);
    }
    return saved;
}

static size_t path_push_index(walk *w, size_t i)
{
    size_t saved = w->plen;
    char b[32];
    int n = snprintf(b, sizeof b, "[%zu]", i);
    path_append(w, b, (size_t)n);
    return saved;
}

static void path_pop(walk *w, size_t saved)
{
    w->plen = saved;
    w->path[saved] = '\0';
}

/* ---- pre-scan ------------------------------------------------------------ */

/* One open container met by the scanner. */
typedef struct scan_level {
    bool object;    /* object (else array) */
    bool want_key;  /* object: the next string is a key */
    size_t index;   /* array: current element index */
    size_t key_off; /* object: offset of the last key's first byte */
    size_t key_len; /* object: its raw length */
    bool has_key;   /* object: a key has been read */
} scan_level;

/* Skips a string starting after its opening quote; returns the offset of
 * the closing quote (or n). */
static size_t skip_string(const uint8_t *p, size_t n, size_t i)
{
    while (i < n && p[i] != '"')
        i += (p[i] == '\\') ? 2 : 1;
    return i < n ? i : n;
}

/* Scans p[0..stop) tracking containers. Sets *too_deep_at to the offset of
 * the first bracket beyond the depth bound (or SIZE_MAX) and, when `w` is
 * given, writes the path of the position `stop` into it. */
static void scan(const uint8_t *p, size_t stop, size_t *too_deep_at, walk *w)
{
    scan_level lv[GOSR_GMOD_MAX_DEPTH + 1];
    size_t depth = 0;
    *too_deep_at = SIZE_MAX;
    for (size_t i = 0; i < stop; i++) {
        scan_level *top = depth ? &lv[depth - 1] : NULL;
        uint8_t c = p[i];
        if (c == '"') {
            size_t end = skip_string(p, stop, i + 1);
            if (top && top->object && top->want_key)
                *top = (scan_level){.object = true,
                                    .key_off = i + 1,
                                    .key_len = end - i - 1,
                                    .has_key = true};
            i = end;
        } else if (c == '{' || c == '[') {
            if (depth == GOSR_GMOD_MAX_DEPTH) {
                *too_deep_at = i;
                break;
            }
            lv[depth++] =
                (scan_level){.object = c == '{', .want_key = c == '{'};
        } else if ((c == '}' || c == ']') && depth) {
            depth--;
        } else if (c == ',' && top) {
            top->want_key = top->object;
            top->index++;
        }
    }
    if (!w)
        return;
    for (size_t d = 0; d < depth; d++) {
        if (!lv[d].object)
            path_push_index(w, lv[d].index);
        else if (lv[d].has_key &&
                 is_ident_key((const char *)p + lv[d].key_off, lv[d].key_len))
            path_push_key(w, (const char *)p + lv[d].key_off, lv[d].key_len,
                          false);
        else if (lv[d].has_key)
            path_key_bracket(w, (const char *)p + lv[d].key_off, lv[d].key_len,
                             true);
    }
}

/* Sets w->path to the path at byte offset `off`. */
static void path_at(walk *w, const uint8_t *p, size_t n, size_t off)
{
    size_t unused;
    path_pop(w, 1);
    scan(p, off < n ? off : n, &unused, w);
}

static int prescan(walk *w, const uint8_t *p, size_t n)
{
    if (n > GOSR_GMOD_MANIFEST_MAX)
        return fail(w, GOSR_ETOOBIG, "manifest_too_large",
                    "gmod.json is %zu bytes, the limit is %u", n,
                    GOSR_GMOD_MANIFEST_MAX);
    const uint8_t *nul = memchr(p, 0, n);
    if (nul) {
        path_at(w, p, n, (size_t)(nul - p));
        return fail(w, GOSR_EFORMAT, "manifest_nul_byte",
                    "NUL byte at offset %zu", (size_t)(nul - p));
    }
    size_t deep;
    scan(p, n, &deep, NULL);
    if (deep != SIZE_MAX) {
        path_at(w, p, n, deep);
        return fail(w, GOSR_EFORMAT, "manifest_too_deep",
                    "nesting deeper than %d at offset %zu", GOSR_GMOD_MAX_DEPTH,
                    deep);
    }
    return GOSR_OK;
}

/* Maps a jansson load error to a reason, placing it by byte offset. */
static int load_error(walk *w, const uint8_t *p, size_t n,
                      const json_error_t *je)
{
    const char *reason = "manifest_syntax";
    int status = GOSR_EFORMAT;
    switch (json_error_code(je)) {
    case json_error_duplicate_key:
        reason = "manifest_duplicate_key";
        break;
    case json_error_null_character:
    case json_error_null_byte_in_key:
        reason = "manifest_nul_byte";
        break;
    case json_error_stack_overflow:
        reason = "manifest_too_deep";
        break;
    case json_error_numeric_overflow:
        reason = "manifest_bad_value";
        break;
    case json_error_invalid_utf8:
        reason = "manifest_bad_utf8";
        break;
    case json_error_out_of_memory:
        reason = "out_of_memory";
        status = GOSR_ENOMEM;
        break;
    case json_error_wrong_type:
        reason = "manifest_wrong_type";
        break;
    default:
        break;
    }
    /* position is just past the offending token: place the path before its
     * last byte, so a stray closing bracket is still inside its container */
    path_at(w, p, n, je->position > 0 ? (size_t)je->position - 1 : 0);
    return fail(w, status, reason, "%s (line %d, column %d)", je->text,
                je->line, je->column);
}

/* ---- schema tables ------------------------------------------------------- */

typedef enum node_kind {
    K_ID,          /* [a-z0-9][a-z0-9._-]{0,63} */
    K_NAME,        /* printable one-line text, up to hi bytes */
    K_TEXT,        /* text with newlines allowed, up to hi bytes */
    K_CAP,         /* capability: dotted lower-case words */
    K_LUA,         /* safe relative path ending in .lua */
    K_LOCALE,      /* "en" or "en-US" */
    K_SEMVER,      /* SemVer 2.0.0 version */
    K_RANGE,       /* version range */
    K_TIME,        /* RFC 3339 time */
    K_ENUM,        /* one of enumv */
    K_INT,         /* integer in [lo, hi] */
    K_NUM,         /* number (integer or real) in [lo, hi] */
    K_OBJECT,      /* fields, unknown keys rejected */
    K_ARRAY,       /* elem, count in [lo, hi] */
    K_MAP,         /* keys K_ID, values elem, count in [lo, hi] */
    K_NULLABLE_ID, /* K_ID or null */
} node_kind;

typedef struct node node;

/* One field of an object node. */
typedef struct field {
    const char *key;  /* member name */
    const node *type; /* its schema */
    bool required;    /* missing -> manifest_missing_field */
} field;

/* A schema node. */
struct node {
    node_kind k;              /* what the value must be */
    double lo, hi;            /* numeric bounds, or count/length bounds */
    const field *fields;      /* K_OBJECT: NULL-key-terminated */
    const node *elem;         /* K_ARRAY, K_MAP: element schema */
    const char *const *enumv; /* K_ENUM: NULL-terminated values */
    bool unique;              /* K_ARRAY: string elements, or objects'
                                 "id" members, must be unique */
    int (*check)(walk *w, json_t *v); /* extra rule, after the fields */
};

static const node n_id = {.k = K_ID};
static const node n_name = {.k = K_NAME, .lo = 0, .hi = 256};
static const node n_text = {.k = K_TEXT, .lo = 0, .hi = 4000};
static const node n_cap = {.k = K_CAP};
static const node n_lua = {.k = K_LUA};
static const node n_locale = {.k = K_LOCALE};
static const node n_semver = {.k = K_SEMVER};
static const node n_range = {.k = K_RANGE};
static const node n_time = {.k = K_TIME};
static const node n_nullable_id = {.k = K_NULLABLE_ID};

static const char *const kinds_enum[] = {"game", "mod", "patch", NULL};
static const char *const author_enum[] = {"human", "ai", NULL};
static const char *const objective_enum[] = {
    "kill", "collect", "talk", "reach", "deliver", "escort", NULL};
static const char *const schema_enum[] = {"1.0.0", NULL};
static const node n_kind = {.k = K_ENUM, .enumv = kinds_enum};
static const node n_author_type = {.k = K_ENUM, .enumv = author_enum};
static const node n_objective_type = {.k = K_ENUM, .enumv = objective_enum};
static const node n_schema = {.k = K_ENUM, .enumv = schema_enum};

static const node n_ids = {
    .k = K_ARRAY, .lo = 0, .hi = 64, .elem = &n_id, .unique = true};

/* quests */
static const field f_objective[] = {
    {"type", &n_objective_type, true},
    {"target", &n_id, true},
    {"count", &(node){.k = K_INT, .lo = 1, .hi = 10000}, true},
    {NULL, NULL, false}};
static const node n_objective = {.k = K_OBJECT, .fields = f_objective};
static const field f_reward_item[] = {
    {"id", &n_id, true},
    {"count", &(node){.k = K_INT, .lo = 1, .hi = 1000}, true},
    {NULL, NULL, false}};
static const field f_rewards[] = {
    {"xp", &(node){.k = K_INT, .lo = 0, .hi = 1000000}, false},
    {"gold", &(node){.k = K_INT, .lo = 0, .hi = 1000000}, false},
    {"items",
     &(node){.k = K_ARRAY,
             .lo = 0,
             .hi = 32,
             .elem = &(node){.k = K_OBJECT, .fields = f_reward_item},
             .unique = true},
     false},
    {NULL, NULL, false}};
static const field f_quest[] = {
    {"id", &n_id, true},
    {"title", &n_name, true},
    {"npc", &n_id, true},
    {"items", &n_ids, false},
    {"objectives",
     &(node){.k = K_ARRAY, .lo = 1, .hi = 32, .elem = &n_objective}, true},
    {"rewards", &(node){.k = K_OBJECT, .fields = f_rewards}, true},
    {"requires", &n_ids, false},
    {NULL, NULL, false}};

/* npc behaviours: a state machine whose references must resolve */
static int check_behavior(walk *w, json_t *v);
static const field f_transition[] = {{"from", &n_id, true},
                                     {"to", &n_id, true},
                                     {"on", &n_id, true},
                                     {NULL, NULL, false}};
static const field f_behavior[] = {
    {"id", &n_id, true},
    {"npc", &n_id, true},
    {"initial", &n_id, true},
    {"states",
     &(node){.k = K_ARRAY, .lo = 1, .hi = 64, .elem = &n_id, .unique = true},
     true},
    {"transitions",
     &(node){.k = K_ARRAY,
             .lo = 0,
             .hi = 256,
             .elem = &(node){.k = K_OBJECT, .fields = f_transition}},
     true},
    {NULL, NULL, false}};

/* economy tuning */
static const field f_economy[] = {
    {"multipliers",
     &(node){.k = K_MAP,
             .lo = 0,
             .hi = 256,
             .elem = &(node){.k = K_NUM, .lo = 0.25, .hi = 4.0}},
     false},
    {"prices",
     &(node){.k = K_MAP,
             .lo = 0,
             .hi = 4096,
             .elem = &(node){.k = K_INT, .lo = 0, .hi = 1000000000}},
     false},
    {"drop_rates",
     &(node){.k = K_MAP,
             .lo = 0,
             .hi = 4096,
             .elem = &(node){.k = K_NUM, .lo = 0, .hi = 1}},
     false},
    {NULL, NULL, false}};

/* dialogue */
static const field f_line[] = {
    {"speaker", &n_id, false}, {"text", &n_text, true}, {NULL, NULL, false}};
static const field f_dialogue[] = {
    {"id", &n_id, true},
    {"npc", &n_id, true},
    {"locale", &n_locale, false},
    {"lines",
     &(node){.k = K_ARRAY,
             .lo = 1,
             .hi = 256,
             .elem = &(node){.k = K_OBJECT, .fields = f_line}},
     true},
    {NULL, NULL, false}};

/* procedural generation rules with mandatory caps */
static const field f_caps[] = {
    {"max_spawn", &(node){.k = K_INT, .lo = 1, .hi = 10000}, true},
    {"max_density", &(node){.k = K_NUM, .lo = 0.001, .hi = 1000}, true},
    {"max_depth", &(node){.k = K_INT, .lo = 1, .hi = 64}, true},
    {NULL, NULL, false}};
static const field f_procgen[] = {
    {"id", &n_id, true},
    {"generator", &n_id, true},
    {"caps", &(node){.k = K_OBJECT, .fields = f_caps}, true},
    {"params",
     &(node){.k = K_MAP,
             .lo = 0,
             .hi = 64,
             .elem = &(node){.k = K_NUM, .lo = -1e9, .hi = 1e9}},
     false},
    {NULL, NULL, false}};

static const field f_content[] = {
    {"quests",
     &(node){.k = K_ARRAY,
             .lo = 0,
             .hi = 1024,
             .elem = &(node){.k = K_OBJECT, .fields = f_quest},
             .unique = true},
     false},
    {"npc_behaviors",
     &(node){.k = K_ARRAY,
             .lo = 0,
             .hi = 1024,
             .elem = &(node){.k = K_OBJECT,
                             .fields = f_behavior,
                             .check = check_behavior},
             .unique = true},
     false},
    {"economy_tuning", &(node){.k = K_OBJECT, .fields = f_economy}, false},
    {"dialogue",
     &(node){.k = K_ARRAY,
             .lo = 0,
             .hi = 1024,
             .elem = &(node){.k = K_OBJECT, .fields = f_dialogue},
             .unique = true},
     false},
    {"procgen_rules",
     &(node){.k = K_ARRAY,
             .lo = 0,
             .hi = 256,
             .elem = &(node){.k = K_OBJECT, .fields = f_procgen},
             .unique = true},
     false},
    {"scripts",
     &(node){.k = K_ARRAY, .lo = 0, .hi = 256, .elem = &n_lua, .unique = true},
     false},
    {NULL, NULL, false}};

static const field f_author[] = {
    {"type", &n_author_type, true}, {"name", &n_name, false},
    {"model", &n_name, false},      {"run_id", &n_name, false},
    {"contact", &n_name, false},    {NULL, NULL, false}};

static const field f_root[] = {
    {"schema_version", &n_schema, true},
    {"id", &n_id, true},
    {"version", &n_semver, true},
    {"kind", &n_kind, true},
    {"name", &n_name, false},
    {"description", &n_text, false},
    {"engine_compat", &n_range, true},
    {"depends", &(node){.k = K_MAP, .lo = 0, .hi = 256, .elem = &n_range},
     false},
    {"capabilities",
     &(node){.k = K_ARRAY, .lo = 0, .hi = 64, .elem = &n_cap, .unique = true},
     false},
    {"entry", &n_lua, false},
    {"author", &(node){.k = K_OBJECT, .fields = f_author}, true},
    {"created_at", &n_time, true},
    {"expires", &n_time, false},
    {"parent_patch_id", &n_nullable_id, false},
    {"content", &(node){.k = K_OBJECT, .fields = f_content}, false},
    {NULL, NULL, false}};
static const node n_root = {.k = K_OBJECT, .fields = f_root};

/* ---- generic walker ------------------------------------------------------ */

static int walk_node(walk *w, json_t *v, const node *n);

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static int wrong_type(walk *w, json_t *v, const char *want)
{
    return fail(w, GOSR_EFORMAT, "manifest_wrong_type", "expected %s, got %s",
                want, json_type_name(v));
}

bool gmod__id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

static bool cap_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool word_start = i == 0 || s[i - 1] == '.';
        if (c >= 'a' && c <= 'z')
            continue;
        if (!word_start && ((c >= '0' && c <= '9') || c == '_' || c == '.'))
            continue;
        return false;
    }
    return true;
}

static bool text_ok(const char *s, size_t n, size_t max, bool newlines)
{
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(newlines && (c == '\n' || c == '\t'))) || c == 0x7f)
            return false;
    }
    return true;
}

static bool locale_ok(const char *s)
{
    size_t n = strlen(s);
    bool lang =
        n >= 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z';
    if (n == 2)
        return lang;
    return n == 5 && lang && s[2] == '-' && s[3] >= 'A' && s[3] <= 'Z' &&
           s[4] >= 'A' && s[4] <= 'Z';
}

static int walk_enum(walk *w, const char *s, const node *n)
{
    for (const char *const *e = n->enumv; *e; e++)
        if (strcmp(s, *e) == 0)
            return GOSR_OK;
    return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                "'%.64s' is not an allowed value", s);
}

static int walk_string(walk *w, json_t *v, const node *n)
{
    if (n->k == K_NULLABLE_ID && json_is_null(v))
        return GOSR_OK;
    if (!json_is_string(v))
        return wrong_type(w, v, "string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    gosr_semver sv;
    gosr_semver_range *r;
    int64_t t;
    switch (n->k) {
    case K_ID:
    case K_NULLABLE_ID:
        if (gmod__id_ok(s))
            return GOSR_OK;
        return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "'%.64s' is not an id ([a-z0-9][a-z0-9._-]{0,63})", s);
    case K_NAME:
    case K_TEXT:
        if (text_ok(s, len, (size_t)n->hi, n->k == K_TEXT))
            return GOSR_OK;
        return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "text longer than %.0f bytes or with control characters",
                    n->hi);
    case K_CAP:
        if (cap_ok(s))
            return GOSR_OK;
        return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "'%.64s' is not a capability name", s);
    case K_LUA:
        if (gosr_path_is_safe(s, len) && len > 4 &&
            strcmp(s + len - 4, ".lua") == 0)
            return GOSR_OK;
        return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "'%.64s' is not a safe relative path to a .lua file", s);
    case K_LOCALE:
        if (locale_ok(s))
            return GOSR_OK;
        return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "'%.64s' is not a locale (\"en\" or \"en-US\")", s);
    case K_SEMVER:
        if (gosr_semver_parse(s, &sv, NULL) == GOSR_OK)
            return GOSR_OK;
        return fail(w, GOSR_EFORMAT, "manifest_bad_semver",
                    "'%.64s' is not a SemVer 2.0.0 version", s);
    case K_RANGE:
        if ((t = gosr_semver_range_parse(s, &r, NULL)) == GOSR_ENOMEM)
            return fail(w, GOSR_ENOMEM, "out_of_memory", "version range");
        if (t != GOSR_OK)
            return fail(w, GOSR_EFORMAT, "manifest_bad_semver",
                        "'%.64s' is not a version range", s);
        gosr_semver_range_free(r);
        return GOSR_OK;
    case K_TIME:
        if (gosr_time_parse_rfc3339(s, &t) == GOSR_OK)
            return GOSR_OK;
        return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "'%.64s' is not an RFC 3339 time", s);
    default:
        return walk_enum(w, s, n);
    }
}

static int walk_number(walk *w, json_t *v, const node *n)
{
    if (n->k == K_INT && !json_is_integer(v))
        return wrong_type(w, v, "integer");
    if (n->k == K_NUM && !json_is_number(v))
        return wrong_type(w, v, "number");
    double d = json_number_value(v);
    if (!isfinite(d) || d < n->lo || d > n->hi)
        return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "%g is outside [%g, %g]", d, n->lo, n->hi);
    return GOSR_OK;
}

static const field *find_field(const field *f, const char *key)
{
    for (; f->key; f++)
        if (strcmp(f->key, key) == 0)
            return f;
    return NULL;
}

static int walk_object(walk *w, json_t *v, const node *n)
{
    if (!json_is_object(v))
        return wrong_type(w, v, "object");
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        if (!find_field(n->fields, key)) {
            path_push_key(w, key, strlen(key), false);
            return fail(w, GOSR_EFORMAT, "manifest_unknown_field",
                        "unknown field");
        }
    }
    for (const field *f = n->fields; f->key; f++) {
        json_t *fv = json_object_get(v, f->key);
        size_t saved = path_push_key(w, f->key, strlen(f->key), false);
        int rc = GOSR_OK;
        if (!fv && f->required)
            rc = fail(w, GOSR_EFORMAT, "manifest_missing_field",
                      "required field is missing");
        else if (fv)
            rc = walk_node(w, fv, f->type);
        if (rc != GOSR_OK)
            return rc;
        path_pop(w, saved);
    }
    return n->check ? n->check(w, v) : GOSR_OK;
}

static int count_bounds(walk *w, size_t count, const node *n)
{
    if (count < (size_t)n->lo || count > (size_t)n->hi)
        return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "%zu entries, allowed %.0f to %.0f", count, n->lo, n->hi);
    return GOSR_OK;
}

/* The string that must be unique among an array's elements. */
static const char *unique_key(json_t *e)
{
    if (json_is_string(e))
        return json_string_value(e);
    return json_string_value(json_object_get(e, "id"));
}

static int check_unique(walk *w, json_t *v, size_t i)
{
    const char *ki = unique_key(json_array_get(v, i));
    for (size_t j = 0; ki && j < i; j++) {
        const char *kj = unique_key(json_array_get(v, j));
        if (kj && strcmp(ki, kj) == 0)
            return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                        "'%.64s' repeats element %zu", ki, j);
    }
    return GOSR_OK;
}

static int walk_array(walk *w, json_t *v, const node *n)
{
    if (!json_is_array(v))
        return wrong_type(w, v, "array");
    int rc = count_bounds(w, json_array_size(v), n);
    for (size_t i = 0; rc == GOSR_OK && i < json_array_size(v); i++) {
        size_t saved = path_push_index(w, i);
        rc = walk_node(w, json_array_get(v, i), n->elem);
        if (rc == GOSR_OK && n->unique)
            rc = check_unique(w, v, i);
        if (rc == GOSR_OK)
            path_pop(w, saved);
    }
    return rc;
}

static int walk_map(walk *w, json_t *v, const node *n)
{
    if (!json_is_object(v))
        return wrong_type(w, v, "object");
    int rc = count_bounds(w, json_object_size(v), n);
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        if (rc != GOSR_OK)
            break;
        size_t saved = path_push_key(w, key, strlen(key), true);
        if (!gmod__id_ok(key))
            rc = fail(w, GOSR_EFORMAT, "manifest_bad_value",
                      "key is not an id ([a-z0-9][a-z0-9._-]{0,63})");
        else
            rc = walk_node(w, val, n->elem);
        if (rc == GOSR_OK)
            path_pop(w, saved);
    }
    return rc;
}

static int walk_node(walk *w, json_t *v, const node *n)
{
    switch (n->k) {
    case K_INT:
    case K_NUM:
        return walk_number(w, v, n);
    case K_OBJECT:
        return walk_object(w, v, n);
    case K_ARRAY:
        return walk_array(w, v, n);
    case K_MAP:
        return walk_map(w, v, n);
    default:
        return walk_string(w, v, n);
    }
}

/* ---- cross-field rules and extraction ------------------------------------ */

static bool array_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (s && strcmp(json_string_value(e), s) == 0)
            return true;
    }
    return false;
}

/* A behaviour's initial state and every transition end must be states. */
static int check_behavior(walk *w, json_t *v)
{
    json_t *states = json_object_get(v, "states");
    if (!array_has(states, json_string_value(json_object_get(v, "initial")))) {
        path_push_key(w, "initial", 7, false);
        return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "initial state is not listed in states");
    }
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(v, "transitions"), i, t)
    {
        static const char *const ends[] = {"from", "to"};
        for (int e = 0; e < 2; e++) {
            if (array_has(states,
                          json_string_value(json_object_get(t, ends[e]))))
                continue;
            path_push_key(w, "transitions", 11, false);
            path_push_index(w, i);
            path_push_key(w, ends[e], strlen(ends[e]), false);
            return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                        "state is not listed in states");
        }
    }
    return GOSR_OK;
}

static const char *opt_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key)); /* NULL if absent */
}

/* Rules that tie fields together (kind-specific fields, author, times). */
static int check_rules(walk *w, json_t *root, gosr_gmod_manifest *m)
{
    bool patch = m->kind == GOSR_GMOD_PATCH;
    static const char *const patch_only[] = {"parent_patch_id", "content"};
    for (int i = 0; i < 2; i++) {
        if (patch || !json_object_get(root, patch_only[i]))
            continue;
        path_push_key(w, patch_only[i], strlen(patch_only[i]), false);
        return fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "only allowed when kind is \"patch\"");
    }
    if (patch && !json_object_get(root, "content"))
        return path_push_key(w, "content", 7, false),
               fail(w, GOSR_EFORMAT, "manifest_missing_field",
                    "a patch must carry a content envelope");
    if (!patch && !m->entry)
        return path_push_key(w, "entry", 5, false),
               fail(w, GOSR_EFORMAT, "manifest_missing_field",
                    "a game or mod must name its entry script");
    bool ai = strcmp(m->author_type, "ai") == 0;
    if ((ai && !m->author_model) || (!ai && !m->author_name)) {
        path_push_key(w, "author", 6, false);
        path_push_key(w, ai ? "model" : "name", ai ? 5 : 4, false);
        return fail(w, GOSR_EFORMAT, "manifest_missing_field",
                    ai ? "an ai author names its model"
                       : "a human author gives a name");
    }
    if (m->has_expires && m->expires <= m->created_at)
        return path_push_key(w, "expires", 7, false),
               fail(w, GOSR_EFORMAT, "manifest_bad_value",
                    "expires must be later than created_at");
    return GOSR_OK;
}

static int extract_lists(gosr_gmod_manifest *m, json_t *root)
{
    json_t *deps = json_object_get(root, "depends");
    json_t *caps = json_object_get(root, "capabilities");
    json_t *scripts =
        json_object_get(json_object_get(root, "content"), "scripts");
    m->ndeps = json_object_size(deps);
    m->ncapabilities = json_array_size(caps);
    m->nscripts = json_array_size(scripts);
    m->deps = gosr_calloc(m->ndeps + 1, sizeof *m->deps);
    m->capabilities = gosr_calloc(m->ncapabilities + 1, sizeof(char *));
    m->scripts = gosr_calloc(m->nscripts + 1, sizeof(char *));
    if (!m->deps || !m->capabilities || !m->scripts)
        return GOSR_ENOMEM;
    size_t i = 0;
    const char *key;
    json_t *val;
    json_object_foreach(deps, key, val)
    {
        m->deps[i] = (gosr_gmod_dep){key, json_string_value(val), NULL};
        if (gosr_semver_range_parse(m->deps[i].range_text, &m->deps[i].range,
                                    NULL) != GOSR_OK)
            return GOSR_ENOMEM; /* validated above: only ENOMEM remains */
        i++;
    }
    json_array_foreach(caps, i, val)
    {
        m->capabilities[i] = json_string_value(val);
    }
    json_array_foreach(scripts, i, val)
    {
        m->scripts[i] = json_string_value(val);
    }
    return GOSR_OK;
}

static int extract(gosr_gmod_manifest *m, json_t *root)
{
    json_t *author = json_object_get(root, "author");
    const char *kind = opt_str(root, "kind");
    m->schema_version = opt_str(root, "schema_version");
    m->id = opt_str(root, "id");
    m->version_text = opt_str(root, "version");
    m->kind = !strcmp(kind, "game")  ? GOSR_GMOD_GAME
              : !strcmp(kind, "mod") ? GOSR_GMOD_MOD
                                     : GOSR_GMOD_PATCH;
    m->engine_compat = opt_str(root, "engine_compat");
    m->entry = opt_str(root, "entry");
    m->name = opt_str(root, "name");
    m->description = opt_str(root, "description");
    m->author_type = opt_str(author, "type");
    m->author_name = opt_str(author, "name");
    m->author_model = opt_str(author, "model");
    m->author_run_id = opt_str(author, "run_id");
    m->parent_patch_id = opt_str(root, "parent_patch_id");
    m->content = json_object_get(root, "content");
    m->has_expires = json_object_get(root, "expires") != NULL;
    if (gosr_semver_parse(m->version_text, &m->version, NULL) != GOSR_OK ||
        gosr_time_parse_rfc3339(opt_str(root, "created_at"), &m->created_at) !=
            GOSR_OK ||
        (m->has_expires && gosr_time_parse_rfc3339(opt_str(root, "expires"),
                                                   &m->expires) != GOSR_OK))
        return GOSR_EINTERNAL; /* validated by the walker */
    if (gosr_semver_range_parse(m->engine_compat, &m->engine_range, NULL) !=
        GOSR_OK)
        return GOSR_ENOMEM;
    return extract_lists(m, root);
}

/* ---- public entry points ------------------------------------------------- */

static int load(walk *w, const uint8_t *p, size_t n, json_t **out)
{
    int rc = prescan(w, p, n);
    if (rc != GOSR_OK)
        return rc;
    json_error_t je;
    json_t *root = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return load_error(w, p, n, &je);
    if (!json_is_object(root)) {
        rc = wrong_type(w, root, "object");
        json_decref(root);
        return rc;
    }
    *out = root;
    return GOSR_OK;
}

int gosr_gmod_manifest_parse(const uint8_t *p, size_t n,
                             gosr_gmod_manifest **out, gosr_error *err)
{
    walk w = {.err = err, .path = "$", .plen = 1};
    json_t *root = NULL;
    *out = NULL;
    int rc = load(&w, p, n, &root);
    if (rc != GOSR_OK)
        return rc;
    if ((rc = walk_node(&w, root, &n_root)) != GOSR_OK)
        goto out_root;
    gosr_gmod_manifest *m = gosr_calloc(1, sizeof *m);
    if (!m) {
        rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory",
                            "no memory for the manifest");
        goto out_root;
    }
    m->priv_ = root;
    if ((rc = extract(m, root)) != GOSR_OK) {
        gosr_gmod_manifest_destroy(m);
        return gosr_error_set(err, rc, "out_of_memory",
                              "no memory for the manifest");
    }
    path_pop(&w, 1);
    if ((rc = check_rules(&w, root, m)) != GOSR_OK) {
        gosr_gmod_manifest_destroy(m);
        return rc;
    }
    *out = m;
    return GOSR_OK;
out_root:
    json_decref(root);
    return rc;
}

void gosr_gmod_manifest_destroy(gosr_gmod_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->deps && i < m->ndeps; i++)
        gosr_semver_range_free(m->deps[i].range);
    gosr_semver_range_free(m->engine_range);
    gosr_free(m->deps);
    gosr_free(m->capabilities);
    gosr_free(m->scripts);
    json_decref((json_t *)m->priv_);
    gosr_free(m);
}

const char *gosr_gmod_kind_name(gosr_gmod_kind k)
{
    switch (k) {
    case GOSR_GMOD_GAME:
        return "game";
    case GOSR_GMOD_MOD:
        return "mod";
    case GOSR_GMOD_PATCH:
        return "patch";
    }
    return "unknown";
}
