/*
 * test_aihost.c — the "ai" host group (docs/kernel.md, "AI host API"): a
 * module with the capability calls ai.dialog in tick and gets the
 * `ai:npc_dialog:v1:completed` event in on_event with a valid output; a
 * module without it sees no `ai` table; bad arguments are Lua errors; two
 * runs with one seed give the same payload; the session log replays.
 */
#include "kfix.h"

#include "ai/ai_int.h"
#include "gosr/ai.h"

#include <time.h>

/* Packs module `id` declaring `caps` (a JSON array text) with `lua`. */
static char *pack_mod(const kfix *f, const char *id, const char *caps,
                      const char *lua)
{
    char *dir = gosr_asprintf("%s/src-%s", gosr_test_tmpdir(), id);
    gosr_mkdir_p(dir, 0755);
    char *p = gosr_asprintf("%s/gmod.json", dir);
    char *json = gosr_asprintf(
        "{\"schema_version\":\"1.0.0\",\"id\":\"%s\",\"version\":\"1.0.0\","
        "\"kind\":\"mod\",\"engine_compat\":\">=0.1.0\",\"depends\":{},"
        "\"capabilities\":%s,\"entry\":\"main.lua\",\"author\":{\"type\":"
        "\"human\",\"name\":\"t\"},\"created_at\":\"2026-11-24T00:00:00Z\"}",
        id, caps);
    kfix_write(p, json);
    gosr_free(p);
    gosr_free(json);
    p = gosr_asprintf("%s/main.lua", dir);
    kfix_write(p, lua);
    gosr_free(p);
    char *out = kfix_pack(f, dir, id);
    gosr_free(dir);
    return out;
}

static const char AI_LUA[] =
    "state = {}\n"
    "function init(ctx) state = {ent = 0, req = 0} end\n"
    "function on_event(ctx, ev)\n"
    "  if ev.name == 'ai:npc_dialog:v1:completed' and ev.user == ctx.module\n"
    "     and string.find(ev.payload, '\"request_id\":' .. state.req .. '[,}]')\n"
    "     and string.find(ev.payload, '\"lines\":[', 1, true) then\n"
    "    world.kv_set(state.ent, 'got', 'ok ' .. state.req)\n"
    "  end\n"
    "end\n"
    "local function bad(...) local ok = pcall(...) return ok and 0 or 1 end\n"
    "function tick(ctx)\n"
    "  if state.ent ~= 0 then return end\n"
    "  state.ent = world.spawn(0, 0, 0, 0, 0, 0)\n"
    "  world.kv_set(state.ent, 'ai', type(ai))\n"
    "  local b = bad(ai.dialog, 'text') + bad(ai.dialog, {topic = 'dance'})\n"
    "    + bad(ai.dialog, {1, 2, x = 3}) + bad(ai.dialog, {f = print})\n"
    "    + bad(ai.dialog, {player_text = string.rep('a', 5000)})\n"
    "    + bad(ai.dialog, {}, {}) + bad(ai.map, {width = 4})\n"
    "    + bad(ai.quest, {difficulty = 9})\n"
    "  world.kv_set(state.ent, 'bad', tostring(b))\n"
    "  -- metamethods are never run: this is ai.quest({}), request 1\n"
    "  local q = ai.quest(setmetatable({}, {__pairs = function() error('x') end,\n"
    "                                      __index = function() return 1 end}))\n"
    "  world.kv_set(state.ent, 'q', math.type(q) .. ' ' .. q)\n"
    "  state.req = ai.dialog({npc = {id = 'bram', name = 'Bram',\n"
    "    role = 'guard', mood = 'angry', relationship = -10},\n"
    "    player = {name = 'Ada'}, topic = 'rumor', max_lines = 2})\n"
    "end\n";

static const char PLAIN_LUA[] =
    "state = {}\n"
    "function init(ctx) state = {ent = 0, seen = 0} end\n"
    "function on_event(ctx, ev)\n"
    "  if string.sub(ev.name, 1, 3) == 'ai:' then state.seen = state.seen + 1 end\n"
    "end\n"
    "function tick(ctx)\n"
    "  if state.ent ~= 0 then\n"
    "    world.kv_set(state.ent, 'seen', tostring(state.seen)) return\n"
    "  end\n"
    "  if state.ent ~= 0 then return end\n"
    "  state.ent = world.spawn(1, 0, 0, 0, 0, 0)\n"
    "  world.kv_set(state.ent, 'ai', type(ai))\n"
    "end\n";

/* The patch-layer hook sees every tick's inputs: keep the AI events. */
typedef struct capture {
    char name[128];  /* last ai: event name */
    char *payload;   /* its payload (owned) */
    char user[64];   /* its user */
    int count;       /* ai: events seen */
} capture;

static int layer_tick(void *ud, gosr_world *w, uint64_t tick,
                      const gosr_event *ev, size_t n)
{
    capture *c = ud;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(ev[i].name, "ai:", 3) != 0)
            continue;
        c->count++;
        if (strcmp(ev[i].name, "ai:npc_dialog:v1:completed") != 0)
            continue;
        snprintf(c->name, sizeof c->name, "%s", ev[i].name);
        snprintf(c->user, sizeof c->user, "%s",
                 ev[i].user_id ? ev[i].user_id : "");
        gosr_free(c->payload);
        c->payload = gosr_strndup((const char *)ev[i].payload,
                                  ev[i].payload_len);
    }
    return GOSR_OK;
}

/* kv `key` of module `mod` on the entity in slot `slot`, into buf. */
static void kv_of(gosr_node *n, uint32_t slot, const char *mod,
                  const char *key, char *buf, size_t cap)
{
    gosr_entity e;
    size_t len = 0;
    buf[0] = '\0';
    if (!gosr_world_slot_peek(gosr_node_world(n), slot, &e) ||
        gosr_world_kv_get(gosr_node_world(n), e, mod, key, buf, cap - 1,
                          &len) != GOSR_OK)
        len = 0;
    buf[len] = '\0';
}

/* One session: both modules, ticks until the AI answer arrived plus 3.
 * Returns the payload (caller frees); *ticks gets the ticks run. */
static char *run(const kfix *f, const char *tag, const char *log,
                 const char *ai_config, uint64_t *ticks)
{
    char *dir = gosr_asprintf("%s/node-%s", gosr_test_tmpdir(), tag);
    char *m1 = pack_mod(f, "aimod", "[\"world.read\",\"world.write\",\"ai\"]",
                        AI_LUA);
    char *m2 = pack_mod(f, "plain", "[\"world.read\",\"world.write\"]",
                        PLAIN_LUA);
    gosr_node_config c = {.data_dir = dir, .trust_pk = f->root.pk,
                          .no_admin = true, .capacity = 64, .kv_capacity = 64,
                          .seed = 7, .session_log = log,
                          .ai_config = ai_config};
    gosr_node *n = NULL;
    gosr_error err = {0};
    if (gosr_node_open(&c, &n, &err) != GOSR_OK) {
        gosr_test_fail(__FILE__, __LINE__, "open: %s", err.reason);
        return NULL;
    }
    CHECK_OK(gosr_node_publish(n, m1, true, "t", NULL, &err));
    CHECK_OK(gosr_node_publish(n, m2, true, "t", NULL, &err));
    capture cap = {0};
    gosr_node_set_layer(n, &(gosr_node_layer){.tick = layer_tick, .ud = &cap});
    *ticks = 0;
    char got[64] = "";
    for (int i = 0; i < 5000 && cap.count < 2; i++, ++*ticks) {
        CHECK_OK(gosr_node_step(n, 1, &err));
        if (cap.count < 2)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    CHECK_EQ(cap.count, 2); /* the quest's answer and the dialogue's */
    CHECK_STR(cap.name, "ai:npc_dialog:v1:completed");
    CHECK_STR(cap.user, "aimod");
    /* aimod ran first (id order): slot 0 is its entity, slot 1 plain's */
    kv_of(n, 0, "aimod", "got", got, sizeof got);
    CHECK_STR(got, "ok 2"); /* on_event saw the answer to request 2 */
    kv_of(n, 0, "aimod", "q", got, sizeof got);
    CHECK_STR(got, "integer 1");
    kv_of(n, 0, "aimod", "ai", got, sizeof got);
    CHECK_STR(got, "table");
    kv_of(n, 0, "aimod", "bad", got, sizeof got);
    CHECK_STR(got, "8"); /* every bad call was a Lua error */
    kv_of(n, 1, "plain", "ai", got, sizeof got);
    CHECK_STR(got, "nil"); /* no capability: no ai table */
    kv_of(n, 1, "plain", "seen", got, sizeof got);
    CHECK_STR(got, "0"); /* answers go to the requester only */
    CHECK_OK(gosr_node_step(n, 3, &err));
    *ticks += 3;
    gosr_node_counters k;
    gosr_node_get_counters(n, &k);
    CHECK_EQ(k.faults, 0);
    gosr_node_close(n);
    gosr_free(m1);
    gosr_free(m2);
    gosr_free(dir);
    return cap.payload;
}

/* The payload is the router's result plus request id and module, with an
 * output valid for the capability's schema. */
static void check_payload(const char *payload)
{
    json_t *p = payload ? json_loads(payload, 0, NULL) : NULL;
    REQUIRE(p);
    CHECK_EQ(json_integer_value(json_object_get(p, "request_id")), 2);
    CHECK_STR(json_string_value(json_object_get(p, "module")), "aimod");
    CHECK_STR(json_string_value(json_object_get(p, "provider")), "ghost");
    CHECK_STR(json_string_value(json_object_get(p, "capability")),
              "npc_dialog");
    json_t *out = json_object_get(p, "output");
    gosr_error err = {0};
    CHECK_OK(gosr_ai_schema_validate(
        gosr_ai_cap_output_schema(GOSR_AI_NPC_DIALOG), out, &err));
    size_t lines = json_array_size(json_object_get(out, "lines"));
    CHECK(lines >= 1 && lines <= 2);
    json_decref(p);
}

GOSR_TEST(ai_dialog_answer_arrives_as_logged_event_and_replays)
{
    kfix f;
    kfix_keys(&f);
    char *log1 = gosr_asprintf("%s/s1.log", gosr_test_tmpdir());
    char *log2 = gosr_asprintf("%s/s2.log", gosr_test_tmpdir());
    uint64_t t1 = 0, t2 = 0;
    char *p1 = run(&f, "a", log1, NULL, &t1);
    char *p2 = run(&f, "b", log2, NULL, &t2);
    check_payload(p1);
    REQUIRE(p1 && p2);
    CHECK_STR(p1, p2); /* the ghost tier is deterministic per seed */
    /* the replay reads the answer from the log (no router in a replay) */
    gosr_replay_result r;
    gosr_error err = {0};
    char *dir = gosr_asprintf("%s/node-a", gosr_test_tmpdir());
    CHECK_OK(gosr_node_replay(dir, log1, &r, &err));
    CHECK(!r.diverged);
    CHECK_EQ(r.ticks_checked, t1);
    CHECK_UINT(r.events, >=, 4); /* two switches and two AI answers */
    CHECK_EQ(gosr_test_system("%s replay %s --data %s >/dev/null",
                              GOSR_CLI_PATH, log1, dir),
             0);
    gosr_free(dir);
    gosr_free(p1);
    gosr_free(p2);
    gosr_free(log1);
    gosr_free(log2);
}

/* With an AI config the node's router asks real providers (the loopback
 * mock LLM over HTTP): the first in the chain answers 500, the second
 * answers; the module gets the provider's answer as a logged event and
 * the session still replays without any router. */
GOSR_TEST(node_ai_config_uses_providers_with_fallback)
{
    kfix f;
    kfix_keys(&f);
    ai_mock *m = NULL;
    gosr_error err = {0};
    REQUIRE(ai__mock_start(0, &m, &err) == GOSR_OK);
    char *cfg = gosr_asprintf("%s/ai.json", gosr_test_tmpdir());
    char *text = gosr_asprintf(
        "{\"providers\":[{\"name\":\"down\",\"kind\":\"openai\","
        "\"url\":\"http://127.0.0.1:%u\",\"model\":\"500\"},"
        "{\"name\":\"local\",\"kind\":\"ollama\",\"url\":"
        "\"http://127.0.0.1:%u\",\"model\":\"ok\"}],"
        "\"chains\":{\"npc_dialog\":[\"down\",\"local\"]}}",
        ai__mock_port(m), ai__mock_port(m));
    CHECK_OK(gosr_file_write_atomic(cfg, text, strlen(text), 0600));
    char *log = gosr_asprintf("%s/s3.log", gosr_test_tmpdir());
    uint64_t t = 0;
    char *p = run(&f, "c", log, cfg, &t);
    json_t *j = p ? json_loads(p, 0, NULL) : NULL;
    REQUIRE(j);
    CHECK_STR(json_string_value(json_object_get(j, "provider")), "local");
    CHECK_EQ(json_integer_value(json_object_get(j, "attempts")), 2);
    CHECK_UINT(ai__mock_count(m, "500"), >=, 1);
    CHECK_UINT(ai__mock_count(m, "ok"), >=, 1);
    gosr_replay_result r;
    char *dir = gosr_asprintf("%s/node-c", gosr_test_tmpdir());
    CHECK_OK(gosr_node_replay(dir, log, &r, &err));
    CHECK(!r.diverged);
    /* a config that does not load refuses to open the node */
    CHECK_OK(gosr_file_write_atomic(cfg, "{\"nope\":1}", 10, 0600));
    gosr_node_config c = {.data_dir = dir, .trust_pk = f.root.pk,
                          .no_admin = true, .ai_config = cfg};
    gosr_node *n = NULL;
    CHECK_STATUS(gosr_node_open(&c, &n, &err), GOSR_EFORMAT);
    CHECK_STR(err.reason, "config_invalid");
    json_decref(j);
    ai__mock_stop(m);
    gosr_free(p);
    gosr_free(dir);
    gosr_free(log);
    gosr_free(text);
    gosr_free(cfg);
}

static const char MAP_LUA[] =
    "state = {}\n"
    "init_ok = pcall(ai.dialog, {})\n"
    "function init(ctx) state = {ent = 0} end\n"
    "function tick(ctx)\n"
    "  if state.ent ~= 0 then return end\n"
    "  state.ent = world.spawn(0, 0, 0, 0, 0, 0)\n"
    "  world.kv_set(state.ent, 'init', tostring(init_ok))\n"
    "  ai.quest({difficulty = 3, player_level = 5, world = {\n"
    "    items = {{id = 'ore', name = 'Iron ore', value = 4},\n"
    "             {id = 'gem', name = 'Gem', value = 90}},\n"
    "    npcs = {{id = 'bram', name = 'Bram'}, {id = 'ola', name = 'Ola'}},\n"
    "    locations = {'mine', 'town'}}})\n"
    "  ai.map({width = 16, height = 12, biome = 'forest', spawns = 2})\n"
    "end\n";

/* Every ai: event's payload, by capability. */
typedef struct capture2 {
    char *quest, *map; /* payloads (owned) */
    int failed;        /* :failed events */
} capture2;

static int layer_tick2(void *ud, gosr_world *w, uint64_t tick,
                       const gosr_event *ev, size_t n)
{
    capture2 *c = ud;
    for (size_t i = 0; i < n; i++) {
        char **slot = !strcmp(ev[i].name, "ai:quest_gen:v1:completed") ? &c->quest
                      : !strcmp(ev[i].name, "ai:map_gen:v1:completed") ? &c->map
                                                                       : NULL;
        c->failed += strncmp(ev[i].name, "ai:", 3) == 0 && !slot;
        if (slot) {
            gosr_free(*slot);
            *slot = gosr_strndup((const char *)ev[i].payload,
                                 ev[i].payload_len);
        }
    }
    return GOSR_OK;
}

static void check_output(const char *payload, gosr_ai_cap cap)
{
    json_t *p = payload ? json_loads(payload, 0, NULL) : NULL;
    REQUIRE(p);
    gosr_error err = {0};
    CHECK_OK(gosr_ai_schema_validate(gosr_ai_cap_output_schema(cap),
                                     json_object_get(p, "output"), &err));
    if (cap == GOSR_AI_MAP_GEN)
        CHECK_EQ(json_integer_value(
                     json_object_get(json_object_get(p, "output"), "width")),
                 16);
    json_decref(p);
}

GOSR_TEST(ai_quest_and_map_take_nested_tables_and_init_cannot_call)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node-map", gosr_test_tmpdir());
    char *m = pack_mod(&f, "mapper", "[\"world.write\",\"ai\"]", MAP_LUA);
    gosr_node_config c = {.data_dir = dir, .trust_pk = f.root.pk,
                          .no_admin = true, .capacity = 64, .kv_capacity = 64};
    gosr_node *n = NULL;
    gosr_error err = {0};
    REQUIRE(gosr_node_open(&c, &n, &err) == GOSR_OK);
    CHECK_OK(gosr_node_publish(n, m, true, "t", NULL, &err));
    capture2 cap = {0};
    gosr_node_set_layer(n, &(gosr_node_layer){.tick = layer_tick2, .ud = &cap});
    for (int i = 0; i < 5000 && !(cap.quest && cap.map) && !cap.failed; i++) {
        CHECK_OK(gosr_node_step(n, 1, &err));
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    CHECK_EQ(cap.failed, 0);
    check_output(cap.quest, GOSR_AI_QUEST_GEN);
    check_output(cap.map, GOSR_AI_MAP_GEN);
    char got[64];
    kv_of(n, 0, "mapper", "init", got, sizeof got);
    CHECK_STR(got, "false"); /* not from the chunk / init (off the tick) */
    gosr_node_close(n);
    gosr_free(cap.quest);
    gosr_free(cap.map);
    gosr_free(m);
    gosr_free(dir);
}
