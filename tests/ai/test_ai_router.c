/*
 * test_ai_router.c — the router end to end against the loopback LLM server
 * (a real libmicrohttpd server on 127.0.0.1, ephemeral port): every tier
 * answers when every tier above it fails (timeout, 5xx, 429, malformed
 * JSON, truncated body and stream, schema-invalid and unsafe output, a
 * model that follows injected instructions), the ghost tier answers when
 * all fail, breakers skip a dead provider and recover through half-open,
 * cooldowns after 429, tier model-size gating, kill switches, rate limits,
 * input rejection, streaming in both protocols, provenance, and shutdown
 * with requests in flight.
 */
#include "harness.h"
#include "ai/ai_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static ai_mock *g_mock;
static char g_url[64];
static uint64_t g_now = 1000000000000ull;
static uint64_t fake_clock(void *ud) { (void)ud; return g_now; }

static void mock_up(void)
{
    gosr_error e;
    if (!g_mock) {
        if (ai__mock_start(0, &g_mock, &e))
            gosr_test_fail(__FILE__, __LINE__, "mock: %s", e.detail);
        snprintf(g_url, sizeof g_url, "http://127.0.0.1:%u", ai__mock_port(g_mock));
    }
}

__attribute__((destructor)) static void mock_down(void) { ai__mock_stop(g_mock); }

/* "name=kind:model[:stream][:large]" entries build providers; every
 * capability's chain is all of them in order. */
static gosr_ai_router *mkr(const char *const *specs, bool fake)
{
    gosr_ai_router_config c = {0};
    static char names[GOSR_AI_MAX_PROVIDERS][32], models[GOSR_AI_MAX_PROVIDERS][32];
    mock_up();
    for (int i = 0; specs[i]; i++) {
        char kind[16] = "", extra[32] = "";
        sscanf(specs[i], "%31[^=]=%15[^:]:%31[^:]:%31s", names[i], kind,
               models[i], extra);
        c.providers[i] = (gosr_ai_provider_config){
            .name = names[i], .url = g_url, .model = models[i],
            .kind = !strcmp(kind, "openai") ? GOSR_AI_PROVIDER_OPENAI
                                            : GOSR_AI_PROVIDER_OLLAMA,
            .timeout_ms = 300, .stream = strstr(extra, "stream") != NULL,
            .size = strstr(extra, "large") ? GOSR_AI_SIZE_LARGE : GOSR_AI_SIZE_SMALL};
        c.nproviders++;
    }
    c.breaker = (gosr_ai_breaker_config){.minimum_calls = 3, .window_size = 10,
                                         .wait_open_ns = 1000000000ull,
                                         .half_open_calls = 2,
                                         .slow_call_ns = 10000000000ull};
    c.cooldown = (gosr_ai_cooldown){.allowed_fails = 1000};
    if (fake)
        c.clock = fake_clock;
    gosr_ai_router *r = NULL;
    gosr_error e;
    if (gosr_ai_router_create(&c, &r, &e))
        gosr_test_fail(__FILE__, __LINE__, "router: %s %s", e.reason, e.detail);
    return r;
}

typedef struct got {
    int status;         /* result status */
    char provider[64];  /* who answered */
    char fails[256];    /* failure list */
    char *out;          /* output copy */
} got;

static void grab(void *ud, const gosr_ai_result *res)
{
    got *g = ud;
    snprintf(g->provider, sizeof g->provider, "%s", res->provider ? res->provider : "");
    snprintf(g->fails, sizeof g->fails, "%s", res->fail_reasons);
    g->out = res->output ? gosr_strdup(res->output) : NULL;
    __atomic_store_n(&g->status, res->status == GOSR_OK ? 1 : res->status, __ATOMIC_RELEASE);
}

/* Submits and polls until the callback ran. Returns 1 for OK. */
static int ask(gosr_ai_router *r, gosr_ai_cap cap, const char *user,
               gosr_ai_tier tier, const char *input, got *g)
{
    memset(g, 0, sizeof *g);
    gosr_ai_request q = {.cap = cap, .user = user, .tier = tier, .input = input,
                         .seed = 42};
    gosr_error e;
    int rc = gosr_ai_router_submit(r, &q, grab, g, NULL, &e);
    if (rc)
        return rc;
    while (!__atomic_load_n(&g->status, __ATOMIC_ACQUIRE))
        usleep(1000);
    return g->status;
}

static void check_answer(gosr_ai_cap cap, got *g)
{
    json_t *o = g->out ? json_loads(g->out, 0, NULL) : NULL;
    gosr_error e;
    if (!o || gosr_ai_schema_validate(gosr_ai_cap_output_schema(cap), o, &e))
        gosr_test_fail(__FILE__, __LINE__, "answer invalid: %s", g->out ? g->out : "(null)");
    json_decref(o);
    gosr_free(g->out);
    g->out = NULL;
}

typedef struct mode_case {
    const char *spec;   /* failing provider */
    const char *reason; /* expected failure reason prefix */
} mode_case;

static const mode_case k_modes[] = {
    {"bad=openai:slow-2000", "timeout"},
    {"bad=ollama:500", "http_5xx"},
    {"bad=openai:429", "http_429"},
    {"bad=openai:malformed", "response_malformed"},
    {"bad=ollama:truncated", "response_truncated"},
    {"bad=openai:truncated:stream", "stream_truncated"},
    {"bad=ollama:truncated:stream", "stream_truncated"},
    {"bad=openai:invalid", "schema_"},
    {"bad=ollama:unsafe", "policy_banned_term"},
    {"bad=openai:echo", "policy_injection"},
};

GOSR_TEST(next_tier_answers_for_every_failure_mode)
{
    for (size_t i = 0; i < sizeof k_modes / sizeof k_modes[0]; i++) {
        const char *specs[] = {k_modes[i].spec, "good=openai:ok", NULL};
        gosr_ai_router *r = mkr(specs, false);
        got g;
        CHECK_EQ(ask(r, GOSR_AI_NPC_DIALOG, "u1", GOSR_AI_TIER_FREE, "{}", &g), 1);
        CHECK_STR(g.provider, "good");
        char want[80];
        snprintf(want, sizeof want, "bad:%s", k_modes[i].reason);
        if (strncmp(g.fails, want, strlen(want)) != 0)
            gosr_test_fail(__FILE__, __LINE__, "mode %s: fails '%s', want '%s'",
                           k_modes[i].spec, g.fails, want);
        check_answer(GOSR_AI_NPC_DIALOG, &g);
        gosr_ai_router_destroy(r);
    }
}

GOSR_TEST(ghost_answers_when_every_provider_fails)
{
    const char *specs[] = {"a=openai:slow-2000", "b=ollama:500",
                           "c=openai:malformed", "d=ollama:truncated:stream",
                           "e=openai:invalid", "f=ollama:unsafe", NULL};
    gosr_ai_router *r = mkr(specs, false);
    for (int c = 0; c < GOSR_AI_CAP_COUNT; c++) {
        got g;
        CHECK_EQ(ask(r, (gosr_ai_cap)c, "u1", GOSR_AI_TIER_ENTERPRISE, "{}", &g), 1);
        CHECK_STR(g.provider, "ghost");
        CHECK(strstr(g.fails, "a:timeout;b:http_5xx;c:response_malformed;"
                              "d:stream_truncated;e:schema_") == g.fails);
        CHECK(strstr(g.fails, "f:policy_banned_term;") != NULL);
        check_answer((gosr_ai_cap)c, &g);
    }
    gosr_ai_router_destroy(r);
}

GOSR_TEST(each_protocol_and_stream_form_answers)
{
    static const char *const specs[][2] = {{"p=openai:ok", NULL},
                                           {"p=openai:ok:stream", NULL},
                                           {"p=ollama:ok", NULL},
                                           {"p=ollama:ok:stream", NULL}};
    for (int i = 0; i < 4; i++) {
        gosr_ai_router *r = mkr(specs[i], false);
        for (int c = 0; c < GOSR_AI_CAP_COUNT; c++) {
            got g;
            CHECK_EQ(ask(r, (gosr_ai_cap)c, "u1", GOSR_AI_TIER_ENTERPRISE, "{}", &g), 1);
            CHECK_STR(g.provider, "p");
            CHECK_STR(g.fails, "");
            check_answer((gosr_ai_cap)c, &g);
        }
        gosr_ai_router_destroy(r);
    }
}

GOSR_TEST(breaker_opens_skips_provider_and_recovers_half_open)
{
    const char *specs[] = {"f=openai:flaky", "good=ollama:ok", NULL};
    gosr_ai_router *r = mkr(specs, true);
    ai__mock_set_flaky(g_mock, true);
    uint64_t before = ai__mock_count(g_mock, "flaky");
    got g;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(ask(r, GOSR_AI_QUEST_GEN, "u1", GOSR_AI_TIER_ENTERPRISE, "{}", &g), 1);
        CHECK_STR(g.provider, "good");
        check_answer(GOSR_AI_QUEST_GEN, &g);
    }
    CHECK_UINT(ai__mock_count(g_mock, "flaky") - before, ==, 3);
    /* open: no request pays for the dead provider */
    CHECK_EQ(ask(r, GOSR_AI_QUEST_GEN, "u1", GOSR_AI_TIER_ENTERPRISE, "{}", &g), 1);
    CHECK_STR(g.fails, "f:breaker_open;");
    check_answer(GOSR_AI_QUEST_GEN, &g);
    CHECK_UINT(ai__mock_count(g_mock, "flaky") - before, ==, 3);
    /* other capabilities have their own breakers */
    CHECK_EQ(ask(r, GOSR_AI_MAP_GEN, "u1", GOSR_AI_TIER_ENTERPRISE, "{}", &g), 1);
    CHECK(strstr(g.fails, "breaker_open") == NULL);
    check_answer(GOSR_AI_MAP_GEN, &g);
    /* provider heals; after the wait, two trial calls close the breaker */
    ai__mock_set_flaky(g_mock, false);
    g_now += 1000000000ull;
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(ask(r, GOSR_AI_QUEST_GEN, "u1", GOSR_AI_TIER_ENTERPRISE, "{}", &g), 1);
        CHECK_STR(g.provider, "f");
        check_answer(GOSR_AI_QUEST_GEN, &g);
    }
    json_t *st = gosr_ai_router_status(r);
    const char *state = json_string_value(json_object_get(json_object_get(
        json_object_get(json_object_get(json_object_get(st, "capabilities"),
                                        "quest_gen"), "breakers"), "f"), "state"));
    CHECK_STR(state, "closed");
    json_decref(st);
    gosr_ai_router_destroy(r);
}

GOSR_TEST(cooldown_after_429_skips_deployment_for_all_capabilities)
{
    const char *specs[] = {"lim=openai:429", "good=ollama:ok", NULL};
    gosr_ai_router *r = mkr(specs, true);
    uint64_t before = ai__mock_count(g_mock, "429");
    got g;
    CHECK_EQ(ask(r, GOSR_AI_NPC_DIALOG, "u1", GOSR_AI_TIER_PREMIUM, "{}", &g), 1);
    CHECK_STR(g.fails, "lim:http_429;");
    check_answer(GOSR_AI_NPC_DIALOG, &g);
    CHECK_EQ(ask(r, GOSR_AI_ECONOMY_TUNE, "u1", GOSR_AI_TIER_PREMIUM, "{}", &g), 1);
    CHECK_STR(g.fails, "lim:cooldown;");
    check_answer(GOSR_AI_ECONOMY_TUNE, &g);
    CHECK_UINT(ai__mock_count(g_mock, "429") - before, ==, 1);
    g_now += 6000000000ull; /* Retry-After 1 s, cooldown default 5 s */
    CHECK_EQ(ask(r, GOSR_AI_ECONOMY_TUNE, "u1", GOSR_AI_TIER_PREMIUM, "{}", &g), 1);
    CHECK_STR(g.fails, "lim:http_429;");
    check_answer(GOSR_AI_ECONOMY_TUNE, &g);
    gosr_ai_router_destroy(r);
}

GOSR_TEST(tiers_gate_model_size_not_capability)
{
    const char *specs[] = {"big=openai:ok:large", NULL};
    gosr_ai_router *r = mkr(specs, false);
    got g;
    for (int c = 0; c < GOSR_AI_CAP_COUNT; c++) {
        CHECK_EQ(ask(r, (gosr_ai_cap)c, "free-user", GOSR_AI_TIER_FREE, "{}", &g), 1);
        CHECK_STR(g.provider, "ghost"); /* answered, by the small tier */
        check_answer((gosr_ai_cap)c, &g);
    }
    CHECK_EQ(ask(r, GOSR_AI_MAP_GEN, "paid", GOSR_AI_TIER_PREMIUM, "{}", &g), 1);
    CHECK_STR(g.provider, "big");
    check_answer(GOSR_AI_MAP_GEN, &g);
    gosr_ai_router_destroy(r);
}

GOSR_TEST(kill_switches_per_user_session_and_capability)
{
    const char *specs[] = {"p=ollama:ok", NULL};
    gosr_ai_router *r = mkr(specs, false);
    gosr_error e;
    got g;
    CHECK_OK(gosr_ai_router_kill(r, GOSR_AI_KILL_USER, "mallory", true));
    CHECK_STATUS(ask(r, GOSR_AI_NPC_DIALOG, "mallory", GOSR_AI_TIER_FREE, "{}", &g),
                 GOSR_EDENIED);
    gosr_ai_request q = {.cap = GOSR_AI_NPC_DIALOG, .user = "alice",
                         .session = "s-9", .input = "{}"};
    CHECK_OK(gosr_ai_router_kill(r, GOSR_AI_KILL_SESSION, "s-9", true));
    CHECK_STATUS(gosr_ai_router_submit(r, &q, grab, &g, NULL, &e), GOSR_EDENIED);
    CHECK_STR(e.reason, "killed_session");
    CHECK_OK(gosr_ai_router_kill(r, GOSR_AI_KILL_CAPABILITY, "npc_dialog", true));
    CHECK_EQ(ask(r, GOSR_AI_NPC_DIALOG, "alice", GOSR_AI_TIER_FREE, "{}", &g), 1);
    CHECK_STR(g.provider, "ghost");
    check_answer(GOSR_AI_NPC_DIALOG, &g);
    CHECK_OK(gosr_ai_router_kill(r, GOSR_AI_KILL_CAPABILITY, "npc_dialog", false));
    CHECK_OK(gosr_ai_router_kill(r, GOSR_AI_KILL_USER, "mallory", false));
    CHECK_EQ(ask(r, GOSR_AI_NPC_DIALOG, "mallory", GOSR_AI_TIER_FREE, "{}", &g), 1);
    CHECK_STR(g.provider, "p");
    check_answer(GOSR_AI_NPC_DIALOG, &g);
    CHECK_STATUS(gosr_ai_router_kill(r, GOSR_AI_KILL_CAPABILITY, "nope", true),
                 GOSR_ENOENT);
    gosr_ai_router_destroy(r);
}

GOSR_TEST(admission_rejects_bad_input_and_rate_limits)
{
    const char *specs[] = {NULL};
    gosr_ai_router *r = mkr(specs, true);
    gosr_error e;
    got g;
    gosr_ai_request q = {.cap = GOSR_AI_MAP_GEN, .user = "u", .input = "{\"width\":"};
    CHECK_STATUS(gosr_ai_router_submit(r, &q, grab, &g, NULL, &e), GOSR_EFORMAT);
    CHECK_STR(e.reason, "input_not_json");
    q.input = "{\"width\":4000}";
    CHECK_STATUS(gosr_ai_router_submit(r, &q, grab, &g, NULL, &e), GOSR_EFORMAT);
    CHECK_STR(e.reason, "schema_range");
    q.input = "{\"colour\":\"red\"}";
    CHECK_STATUS(gosr_ai_router_submit(r, &q, grab, &g, NULL, &e), GOSR_EFORMAT);
    char *big = gosr_malloc(20000);
    memset(big, ' ', 19999);
    big[0] = '{', big[19998] = '}', big[19999] = 0;
    q.input = big;
    CHECK_STATUS(gosr_ai_router_submit(r, &q, grab, &g, NULL, &e), GOSR_ETOOBIG);
    gosr_free(big);
    q.user = "";
    q.input = "{}";
    CHECK_STATUS(gosr_ai_router_submit(r, &q, grab, &g, NULL, &e), GOSR_EINVAL);
    /* free tier: 4 per capability, then 429-style refusal */
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(ask(r, GOSR_AI_MODERATION_CLASSIFY, "f", GOSR_AI_TIER_FREE,
                     "{\"text\":\"hi\"}", &g), 1);
        gosr_free(g.out);
    }
    CHECK_STATUS(ask(r, GOSR_AI_MODERATION_CLASSIFY, "f", GOSR_AI_TIER_FREE,
                     "{\"text\":\"hi\"}", &g), GOSR_EAGAIN);
    g_now += 1000000000ull;
    CHECK_EQ(ask(r, GOSR_AI_MODERATION_CLASSIFY, "f", GOSR_AI_TIER_FREE,
                 "{\"text\":\"hi\"}", &g), 1);
    gosr_free(g.out);
    gosr_ai_router_destroy(r);
}

GOSR_TEST(provenance_records_every_answer)
{
    char path[] = "/tmp/gosr-ai-rprov-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    mock_up();
    gosr_ai_router_config c = {.nproviders = 1, .provenance_path = path};
    c.providers[0] = (gosr_ai_provider_config){.name = "p", .url = g_url,
                                               .model = "ok", .timeout_ms = 2000};
    gosr_ai_router *r = NULL;
    gosr_error e;
    REQUIRE(gosr_ai_router_create(&c, &r, &e) == GOSR_OK);
    char *out = NULL, prov[64];
    gosr_ai_request q = {.cap = GOSR_AI_QUEST_GEN, .user = "alice", .seed = 9};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(gosr_ai_router_ask(r, &q, &out, prov, &e));
        CHECK_STR(prov, "p");
        gosr_free(out);
    }
    CHECK_OK(gosr_ai_router_kill(r, GOSR_AI_KILL_CAPABILITY, "quest_gen", true));
    CHECK_OK(gosr_ai_router_ask(r, &q, &out, prov, &e));
    CHECK_STR(prov, "ghost");
    gosr_free(out);
    gosr_ai_router_destroy(r);
    uint64_t n = 0;
    CHECK_OK(gosr_ai_provenance_verify(path, &n, &e));
    CHECK_UINT(n, ==, 4);
    uint8_t *d = NULL;
    size_t len = 0;
    REQUIRE(gosr_file_read_all(path, 1 << 20, &d, &len) == GOSR_OK);
    CHECK(strstr((char *)d, "\"provider\":\"ghost\"") != NULL);
    CHECK(strstr((char *)d, "\"user\":\"alice\"") != NULL);
    gosr_free(d);
    unlink(path);
}

static void count_cb(void *ud, const gosr_ai_result *res)
{
    if (res->status == GOSR_ECLOSED)
        __atomic_add_fetch((int *)ud, 1, __ATOMIC_RELAXED);
}

GOSR_TEST(destroy_cancels_in_flight_requests)
{
    const char *specs[] = {"slow=openai:slow-3000", NULL};
    gosr_ai_router *r = mkr(specs, false);
    int closed = 0;
    gosr_ai_request q = {.cap = GOSR_AI_NPC_DIALOG, .user = "u", .tier = GOSR_AI_TIER_ENTERPRISE};
    gosr_error e;
    for (int i = 0; i < 3; i++)
        CHECK_OK(gosr_ai_router_submit(r, &q, count_cb, &closed, NULL, &e));
    usleep(50000);
    gosr_ai_router_destroy(r);
    CHECK_EQ(closed, 3);
}

/* ---- front door ---------------------------------------------------------- */

#include <curl/curl.h>

static bool dir_fn(void *ud, const char *user, gosr_ai_tier *tier)
{
    (void)ud;
    *tier = GOSR_AI_TIER_FREE;
    return !strncmp(user, "known", 5);
}

static size_t keep_body(char *p, size_t sz, size_t n, void *ud)
{
    gosr_buf_append(ud, p, sz * n);
    return sz * n;
}

static long http_post(uint16_t port, const char *path, const char *user,
                      const char *body, size_t len, gosr_buf *resp)
{
    CURL *c = curl_easy_init();
    char url[128], hdr[128];
    struct curl_slist *h = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    if (user) {
        snprintf(hdr, sizeof hdr, "X-Gosr-User: %s", user);
        h = curl_slist_append(h, hdr);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long code = 0;
    resp->len = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return code;
}

GOSR_TEST(front_door_maps_outcomes_to_http)
{
    const char *specs[] = {"p=ollama:ok:stream", NULL};
    gosr_ai_router *r = mkr(specs, false);
    ai_frontdoor *f = NULL;
    gosr_error e;
    REQUIRE(ai__frontdoor_start(r, dir_fn, NULL, 0, &f, &e) == GOSR_OK);
    uint16_t port = ai__frontdoor_port(f);
    gosr_buf b = {0};
    CHECK_EQ(http_post(port, "/ai/npc_dialog", "known-1", "{}", 2, &b), 200);
    json_t *o = json_loadb((char *)b.data, b.len, 0, NULL);
    CHECK(o && gosr_ai_schema_validate(gosr_ai_cap_output_schema(GOSR_AI_NPC_DIALOG),
                                       o, &e) == GOSR_OK);
    json_decref(o);
    CHECK_EQ(http_post(port, "/ai/npc_dialog", "stranger", "{}", 2, &b), 401);
    CHECK_EQ(http_post(port, "/ai/npc_dialog", NULL, "{}", 2, &b), 401);
    CHECK_EQ(http_post(port, "/ai/telepathy", "known-1", "{}", 2, &b), 404);
    CHECK_EQ(http_post(port, "/ai/map_gen", "known-1", "{\"width\":", 9, &b), 400);
    CHECK(strstr((char *)b.data, "input_not_json") != NULL);
    size_t big = 100 * 1024;
    char *body = gosr_malloc(big);
    memset(body, 'x', big);
    long code = http_post(port, "/ai/map_gen", "known-1", body, big, &b);
    CHECK(code == 413 || code == 0); /* 413, or the link dropped mid-send */
    gosr_free(body);
    int limited = 0;
    for (int i = 0; i < 8; i++)
        limited += http_post(port, "/ai/quest_gen", "known-2", "{}", 2, &b) == 429;
    CHECK_INT(limited, >=, 3); /* free tier: 4 per capability */
    ai__frontdoor_stop(f);
    gosr_buf_free(&b);
    gosr_ai_router_destroy(r);
}

typedef struct ev_seen {
    gosr_buf text; /* "NAME PAYLOAD" */
    int done;      /* set (release) when the callback ran */
} ev_seen;

static void event_cb(void *ud, const gosr_ai_result *res)
{
    ev_seen *v = ud;
    char name[128];
    json_t *p = NULL;
    if (gosr_ai_result_event(res, name, &p, NULL) == GOSR_OK) {
        char *t = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
        gosr_buf_printf(&v->text, "%s %s", name, t ? t : "");
        free(t);
    }
    json_decref(p);
    __atomic_store_n(&v->done, 1, __ATOMIC_RELEASE);
}

GOSR_TEST(results_become_runtime_events)
{
    const char *specs[] = {NULL};
    gosr_ai_router *r = mkr(specs, false);
    ev_seen v = {0};
    gosr_ai_request q = {.cap = GOSR_AI_ECONOMY_TUNE, .user = "u", .seed = 4};
    gosr_error e;
    CHECK_OK(gosr_ai_router_submit(r, &q, event_cb, &v, NULL, &e));
    while (!__atomic_load_n(&v.done, __ATOMIC_ACQUIRE))
        usleep(1000);
    REQUIRE(v.text.data);
    CHECK(strncmp((char *)v.text.data, "ai:economy_tune:v1:completed {", 30) == 0);
    CHECK(strstr((char *)v.text.data, "\"output_hash\":\"") != NULL);
    CHECK(strstr((char *)v.text.data, "\"provider\":\"ghost\"") != NULL);
    gosr_buf_free(&v.text);
    gosr_ai_router_destroy(r);
}
