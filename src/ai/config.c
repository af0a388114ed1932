/*
 * config.c — the router config file (JSON): providers (name, kind, url,
 * model, key_file, timeout_ms, stream, size), per-capability chains,
 * breaker and cooldown settings, and paths of the per-user database and
 * the provenance log. Unknown keys are rejected so typos do not silently
 * change behaviour.
 *
 * Design: docs/ai.md ("Config").
 */
#include "ai/ai_int.h"

#include <string.h>

static int cfail(gosr_error *err, const char *what)
{
    return gosr_error_set(err, GOSR_EFORMAT, "config_invalid", "%s", what);
}

static bool only_keys(json_t *o, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        bool ok = false;
        for (int i = 0; keys[i]; i++)
            ok |= !strcmp(k, keys[i]);
        if (!ok)
            return false;
    }
    return true;
}

/* Reads a key file (first line, whitespace trimmed) into `keep`. */
static const char *read_key(json_t *keep, const char *path, gosr_error *err)
{
    uint8_t *d = NULL;
    size_t n = 0;
    if (gosr_file_read_all(path, 4096, &d, &n)) {
        gosr_error_set(err, GOSR_EIO, "config_key_file", "cannot read %s", path);
        return NULL;
    }
    while (n && (d[n - 1] == '\n' || d[n - 1] == '\r' || d[n - 1] == ' '))
        n--;
    json_t *s = json_stringn((char *)d, n);
    gosr_free(d);
    if (!s) {
        gosr_error_set(err, GOSR_EFORMAT, "config_key_file", "key not UTF-8");
        return NULL;
    }
    json_array_append_new(json_object_get(keep, "_keys"), s);
    return json_string_value(s);
}

static int load_provider(json_t *keep, json_t *p, gosr_ai_provider_config *c,
                         gosr_error *err)
{
    static const char *const keys[] = {"name", "kind", "url", "model",
                                       "key_file", "timeout_ms", "stream",
                                       "size", NULL};
    const char *kind = json_string_value(json_object_get(p, "kind"));
    const char *size = json_string_value(json_object_get(p, "size"));
    const char *kf = json_string_value(json_object_get(p, "key_file"));
    if (!json_is_object(p) || !only_keys(p, keys))
        return cfail(err, "provider has unknown keys");
    c->name = json_string_value(json_object_get(p, "name"));
    c->url = json_string_value(json_object_get(p, "url"));
    c->model = json_string_value(json_object_get(p, "model"));
    if (!c->name || !c->url || !c->model || !kind)
        return cfail(err, "provider needs name, kind, url and model");
    if (!strcmp(kind, "openai")) c->kind = GOSR_AI_PROVIDER_OPENAI;
    else if (!strcmp(kind, "ollama")) c->kind = GOSR_AI_PROVIDER_OLLAMA;
    else return cfail(err, "kind must be openai or ollama");
    c->size = !size || !strcmp(size, "small") ? GOSR_AI_SIZE_SMALL
            : !strcmp(size, "large") ? GOSR_AI_SIZE_LARGE : GOSR_AI_SIZE_CUSTOM;
    json_int_t t = json_integer_value(json_object_get(p, "timeout_ms"));
    if (t < 0 || t > 600000)
        return cfail(err, "timeout_ms out of range");
    c->timeout_ms = (uint32_t)t;
    c->stream = json_is_true(json_object_get(p, "stream"));
    if (kf && !(c->api_key = read_key(keep, kf, err)))
        return GOSR_EIO;
    return GOSR_OK;
}

static int load_chains(json_t *chains, gosr_ai_router_config *cfg,
                       gosr_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(chains, k, v)
    {
        gosr_ai_cap cap;
        if (gosr_ai_cap_from_name(k, &cap) || !json_is_array(v) ||
            json_array_size(v) > GOSR_AI_MAX_CHAIN - 1)
            return cfail(err, "chains: unknown capability or chain too long");
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!(cfg->chains[cap][i] = json_string_value(json_array_get(v, i))))
                return cfail(err, "chains: names must be strings");
    }
    return GOSR_OK;
}

static void load_breaker(json_t *b, gosr_ai_router_config *cfg)
{
    gosr_ai_breaker_config *c = &cfg->breaker;
    c->window = !strcmp(json_string_value(json_object_get(b, "window")) ?: "",
                        "time") ? GOSR_AI_WINDOW_TIME : GOSR_AI_WINDOW_COUNT;
    c->window_size = (uint32_t)json_integer_value(json_object_get(b, "window_size"));
    c->minimum_calls = (uint32_t)json_integer_value(json_object_get(b, "minimum_calls"));
    c->failure_rate_pct = (uint32_t)json_integer_value(json_object_get(b, "failure_rate_pct"));
    c->slow_rate_pct = (uint32_t)json_integer_value(json_object_get(b, "slow_rate_pct"));
    c->slow_call_ns = (uint64_t)json_integer_value(json_object_get(b, "slow_call_ms")) * 1000000ull;
    c->wait_open_ns = (uint64_t)json_integer_value(json_object_get(b, "wait_open_ms")) * 1000000ull;
    c->half_open_calls = (uint32_t)json_integer_value(json_object_get(b, "half_open_calls"));
    cfg->cooldown.allowed_fails = (uint32_t)json_integer_value(json_object_get(b, "allowed_fails"));
    cfg->cooldown.cooldown_ns = (uint64_t)json_integer_value(json_object_get(b, "cooldown_ms")) * 1000000ull;
}

int gosr_ai_config_load(const char *path, gosr_ai_router_config *cfg,
                        json_t **keep, gosr_error *err)
{
    static const char *const keys[] = {"providers", "chains", "breaker",
                                       "userstate", "provenance", NULL};
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    memset(cfg, 0, sizeof *cfg);
    if (!root)
        return gosr_error_set(err, GOSR_EFORMAT, "config_syntax", "%s:%d: %s",
                              path, je.line, je.text);
    json_object_set_new(root, "_keys", json_array());
    json_t *provs = json_object_get(root, "providers");
    int rc = GOSR_OK;
    json_object_del(root, "_keys");
    if (!json_is_object(root) || !only_keys(root, keys) ||
        json_array_size(provs) > GOSR_AI_MAX_PROVIDERS)
        rc = cfail(err, "top level: unknown keys or too many providers");
    json_object_set_new(root, "_keys", json_array());
    for (size_t i = 0; !rc && i < json_array_size(provs); i++, cfg->nproviders++)
        rc = load_provider(root, json_array_get(provs, i), &cfg->providers[i], err);
    if (!rc)
        rc = load_chains(json_object_get(root, "chains"), cfg, err);
    if (!rc) {
        load_breaker(json_object_get(root, "breaker"), cfg);
        cfg->userstate_path = json_string_value(json_object_get(root, "userstate"));
        cfg->provenance_path = json_string_value(json_object_get(root, "provenance"));
    }
    if (rc) {
        json_decref(root);
        memset(cfg, 0, sizeof *cfg);
        return rc;
    }
    *keep = root;
    return GOSR_OK;
}
