/*
 * test_swap.c — in-process node tests stepping ticks by hand: publish and
 * activate v1 of examples/mover, hot swap to v2 (migrate, behaviour changes
 * on the very next tick, retire after N healthy ticks), v3 that faults in
 * its probation rolls back to v2 with the world restored, the ledger shows
 * every step and verifies, a restart comes back with the same active
 * version, operator rollback, safe mode on a broken chain, and bad
 * requests that change nothing. Design under test: docs/kernel.md.
 */
#include "kfix.h"

#include <sqlite3.h>
#include <time.h>

#define Q 5 /* quarantine ticks in these tests */

static gosr_node *open_node(const kfix *f, const char *dir)
{
    gosr_node_config c = {.data_dir = dir,
                          .trust_pk = f->root.pk,
                          .no_admin = true,
                          .rate_hz = 200,
                          .quarantine_ticks = Q,
                          .capacity = 256,
                          .kv_capacity = 64};
    gosr_node *n = NULL;
    gosr_error err = {0};
    if (gosr_node_open(&c, &n, &err) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "open: %s: %s", err.reason,
                       err.detail);
    return n;
}

static void active_is(gosr_node *n, const char *want)
{
    char buf[64] = "";
    int rc = gosr_node_active_version(n, "mover", buf, sizeof buf);
    if (!want) {
        CHECK_EQ(rc, GOSR_ENOENT);
        return;
    }
    CHECK_OK(rc);
    CHECK_STR(buf, want);
}

/* The ledger's rows as "action subject version" lines. */
static char *ledger_text(gosr_node *n)
{
    gosr_ledger *l = gosr_node_ledger(n);
    int64_t count = 0;
    uint8_t head[32];
    gosr_ledger_head(l, &count, head);
    gosr_buf b = {0};
    for (int64_t s = 1; s <= count; s++) {
        gosr_ledger_row r;
        if (gosr_ledger_get(l, s, &r, NULL) != GOSR_OK)
            break;
        gosr_buf_printf(&b, "%s %s %s;", r.action, r.subject, r.version);
        gosr_ledger_row_clear(&r);
    }
    char *s = gosr_strdup(b.data ? (char *)b.data : "");
    gosr_buf_free(&b);
    return s;
}

GOSR_TEST(swap_migrate_probation_rollback_restart)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1), *v2 = kfix_mover(&f, 2),
         *v3 = kfix_mover(&f, 3);
    gosr_node *n = open_node(&f, dir);
    REQUIRE(n);
    gosr_error err = {0};
    json_t *info = NULL;
    CHECK_OK(gosr_node_publish(n, v1, true, "test", &info, &err));
    CHECK_STR(json_string_value(json_object_get(info, "version")), "1.0.0");
    json_decref(info);
    active_is(n, "1.0.0");
    CHECK_OK(gosr_node_step(n, 3, &err));
    CHECK_EQ(gosr_world_count(gosr_node_world(n)), 8);
    CHECK_EQ(kfix_x(n, 0), 3); /* +1 per tick */

    /* v2: switch between ticks, +2 from the very next tick */
    CHECK_OK(gosr_node_publish(n, v2, false, "test", NULL, &err));
    active_is(n, "1.0.0"); /* publish never activates unless asked */
    CHECK_OK(gosr_node_activate(n, "mover", "2.0.0", "test", &err));
    active_is(n, "2.0.0");
    CHECK_EQ(kfix_x(n, 0), 3);
    CHECK_OK(gosr_node_step(n, 1, &err));
    CHECK_EQ(kfix_x(n, 0), 5);
    /* a second swap while on probation is refused */
    CHECK_STATUS(gosr_node_activate(n, "mover", "1.0.0", "test", &err),
                 GOSR_EBUSY);
    CHECK_OK(gosr_node_step(n, Q, &err)); /* probation passes: retire v1 */
    CHECK_EQ(kfix_x(n, 0), 5 + 2 * Q);
    gosr_node_counters c;
    gosr_node_get_counters(n, &c);
    CHECK_EQ(c.swaps, 2);
    CHECK_EQ(c.retires, 1);

    /* v3 faults on its third tick: world back to the switch point, v2 */
    CHECK_OK(gosr_node_publish(n, v3, true, "test", NULL, &err));
    int64_t at_switch = kfix_x(n, 0);
    CHECK_OK(gosr_node_step(n, 2, &err));
    CHECK_EQ(kfix_x(n, 0), at_switch + 6);
    CHECK_OK(gosr_node_step(n, 1, &err)); /* the fault */
    active_is(n, "2.0.0");
    CHECK_EQ(kfix_x(n, 0), at_switch);
    CHECK_EQ(gosr_world_count(gosr_node_world(n)), 8);
    CHECK_OK(gosr_node_step(n, 1, &err));
    CHECK_EQ(kfix_x(n, 0), at_switch + 2); /* v2 runs on, state intact */
    gosr_node_get_counters(n, &c);
    CHECK_EQ(c.rollbacks, 1);
    CHECK_EQ(c.faults, 1);

    char *text = ledger_text(n);
    CHECK_STR(text, "activate mover 1.0.0;activate mover 2.0.0;retire mover "
                    "1.0.0;activate mover 3.0.0;rollback mover 2.0.0;");
    gosr_free(text);
    gosr_ledger_row r;
    CHECK_OK(gosr_ledger_get(gosr_node_ledger(n), 5, &r, &err));
    CHECK(strstr(r.evidence, "\"failed\":\"3.0.0\"") != NULL);
    CHECK(strstr(r.evidence, "broken on its third tick") != NULL);
    gosr_ledger_row_clear(&r);
    int64_t bad = -1;
    CHECK_OK(gosr_ledger_verify(gosr_node_ledger(n), &bad, &err));
    int64_t at_close = kfix_x(n, 0);
    gosr_node_close(n);

    /* restart: the same active version, chain intact */
    n = open_node(&f, dir);
    REQUIRE(n);
    active_is(n, "2.0.0");
    CHECK(!gosr_ledger_safe_mode(gosr_node_ledger(n)));
    CHECK_OK(gosr_node_step(n, 2, &err));
    /* the world comes back from the stop checkpoint (docs/kernel.md,
     * "Checkpoints"), v2 behaviour */
    CHECK_EQ(kfix_x(n, 0), at_close + 4);
    CHECK_EQ(gosr_world_count(gosr_node_world(n)), 8);
    gosr_node_close(n);
    gosr_free(v1);
    gosr_free(v2);
    gosr_free(v3);
    gosr_free(dir);
}

GOSR_TEST(operator_rollback_and_probation_rollback)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1), *v2 = kfix_mover(&f, 2);
    gosr_node *n = open_node(&f, dir);
    REQUIRE(n);
    gosr_error err = {0};
    CHECK_OK(gosr_node_publish(n, v1, true, "t", NULL, &err));
    CHECK_OK(gosr_node_publish(n, v2, true, "t", NULL, &err));
    CHECK_OK(gosr_node_step(n, 2, &err));
    /* on probation: operator rollback returns to the quarantined v1 */
    CHECK_OK(gosr_node_rollback(n, "mover", NULL, "t", &err));
    active_is(n, "1.0.0");
    /* not on probation: rollback to the previous version from the ledger */
    CHECK_STATUS(gosr_node_rollback(n, "mover", "9.9.9", "t", &err),
                 GOSR_ENOENT);
    CHECK_STR(err.reason, "version_unknown");
    CHECK_OK(gosr_node_activate(n, "mover", "2.0.0", "t", &err));
    CHECK_OK(gosr_node_step(n, Q, &err));
    CHECK_OK(gosr_node_rollback(n, "mover", NULL, "t", &err));
    active_is(n, "1.0.0");
    CHECK_STATUS(gosr_node_rollback(n, "nothing", NULL, "t", &err),
                 GOSR_ENOENT);
    gosr_node_close(n);
    gosr_free(v1);
    gosr_free(v2);
    gosr_free(dir);
}

GOSR_TEST(bad_requests_change_nothing)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1);
    gosr_node *n = open_node(&f, dir);
    REQUIRE(n);
    gosr_error err = {0};
    CHECK_OK(gosr_node_publish(n, v1, true, "t", NULL, &err));
    CHECK_STATUS(gosr_node_activate(n, "mover", "1.0.0", "t", &err),
                 GOSR_EEXIST);
    CHECK_STATUS(gosr_node_activate(n, "mover", "7.0.0", "t", &err),
                 GOSR_ENOENT);

    /* a tampered bundle is refused, nothing recorded */
    char *bad = gosr_asprintf("%s/tampered.gmod", gosr_test_tmpdir());
    CHECK_EQ(gosr_test_system("cp %s %s && printf 'X' | dd of=%s bs=1 "
                              "seek=300 conv=notrunc 2>/dev/null",
                              v1, bad, bad),
             0);
    CHECK(gosr_node_publish(n, bad, true, "t", NULL, &err) != GOSR_OK);
    CHECK(err.reason[0] != '\0');
    /* untrusted signer */
    kfix other;
    kfix_keys(&other);
    memset(other.root.pk, 0x55, 32);

    /* dependencies */
    const char *lua = "function tick(ctx) end\n";
    char *m1 = kfix_module(&f, "addon", "1.0.0", "{\"mover\":\"^9.0.0\"}",
                           ">=0.1.0", lua);
    CHECK_STATUS(gosr_node_publish(n, m1, true, "t", NULL, &err),
                 GOSR_EDEPENDENCY);
    CHECK_STR(err.reason, "deps_version_conflict");
    char *m2 = kfix_module(&f, "addon", "1.1.0", "{\"physics\":\"^1.0.0\"}",
                           ">=0.1.0", lua);
    CHECK_STATUS(gosr_node_publish(n, m2, true, "t", NULL, &err),
                 GOSR_EDEPENDENCY);
    CHECK_STR(err.reason, "deps_missing");
    char *m3 = kfix_module(&f, "addon", "1.2.0", "{}", ">=2.0.0", lua);
    CHECK_STATUS(gosr_node_publish(n, m3, true, "t", NULL, &err),
                 GOSR_EDEPENDENCY);
    CHECK_STR(err.reason, "engine_incompatible");
    char *m4 = kfix_module(&f, "addon", "1.3.0", "{\"mover\":\"^1.0.0\"}",
                           ">=0.1.0",
                           "STATE_SCHEMA = 1\nstate = {n = 1}\n"
                           "function tick(ctx) end\n");
    CHECK_OK(gosr_node_publish(n, m4, true, "t", NULL, &err));
    /* a version that does not load: old one keeps running */
    char *m5 = kfix_module(&f, "addon", "1.4.0", "{}", ">=0.1.0",
                           "function tick(ctx) end end end\n");
    CHECK_STATUS(gosr_node_publish(n, m5, true, "t", NULL, &err),
                 GOSR_ESTATE);
    CHECK_STR(err.reason, "validation_failed");
    char *m6 = kfix_module(&f, "addon", "1.5.0", "{}", ">=0.1.0",
                           "STATE_SCHEMA = 2\nstate = {}\n"
                           "function tick(ctx) end\n");
    CHECK_STATUS(gosr_node_publish(n, m6, true, "t", NULL, &err),
                 GOSR_ESTATE);
    CHECK(strstr(err.detail, "state_schema_mismatch") != NULL);
    char buf[64];
    CHECK_OK(gosr_node_active_version(n, "addon", buf, sizeof buf));
    CHECK_STR(buf, "1.3.0");
    /* mover 2 would break addon's ^1.0.0 */
    char *v2 = kfix_mover(&f, 2);
    CHECK_STATUS(gosr_node_publish(n, v2, true, "t", NULL, &err),
                 GOSR_EDEPENDENCY);
    CHECK_STR(err.reason, "deps_version_conflict");
    active_is(n, "1.0.0");
    CHECK_OK(gosr_node_step(n, 2, &err));
    CHECK_EQ(kfix_x(n, 0), 2);
    char *text = ledger_text(n);
    CHECK_STR(text, "activate mover 1.0.0;activate addon 1.3.0;");
    gosr_free(text);
    gosr_node_close(n);
    char *items[] = {v1, bad, m1, m2, m3, m4, m5, m6, v2, dir};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        gosr_free(items[i]);
}

GOSR_TEST(broken_chain_is_safe_mode)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1), *v2 = kfix_mover(&f, 2);
    gosr_node *n = open_node(&f, dir);
    REQUIRE(n);
    gosr_error err = {0};
    CHECK_OK(gosr_node_publish(n, v1, true, "t", NULL, &err));
    CHECK_OK(gosr_node_publish(n, v2, false, "t", NULL, &err));
    gosr_node_close(n);
    /* tamper with the ledger behind the node's back */
    char *db = gosr_asprintf("%s/ledger.db", dir);
    sqlite3 *h;
    REQUIRE(sqlite3_open(db, &h) == SQLITE_OK);
    CHECK_EQ(sqlite3_exec(h,
                          "DROP TRIGGER ledger_no_update;"
                          "UPDATE ledger SET actor='mallory' WHERE seq=1;",
                          NULL, NULL, NULL),
             SQLITE_OK);
    sqlite3_close(h);
    n = open_node(&f, dir);
    REQUIRE(n);
    CHECK(gosr_ledger_safe_mode(gosr_node_ledger(n)));
    CHECK_STATUS(gosr_node_activate(n, "mover", "2.0.0", "t", &err),
                 GOSR_EDENIED);
    CHECK_STR(err.reason, "ledger_chain_broken");
    gosr_node_close(n);
    gosr_free(db);
    gosr_free(v1);
    gosr_free(v2);
    gosr_free(dir);
}

GOSR_TEST(threaded_node_swaps_between_ticks)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1), *v2 = kfix_mover(&f, 2);
    gosr_node *n = open_node(&f, dir);
    REQUIRE(n);
    gosr_error err = {0};
    CHECK_OK(gosr_node_publish(n, v1, true, "t", NULL, &err));
    CHECK_OK(gosr_node_start(n, &err));
    CHECK_OK(gosr_node_publish(n, v2, true, "t", NULL, &err));
    char buf[64];
    CHECK_OK(gosr_node_active_version(n, "mover", buf, sizeof buf));
    CHECK_STR(buf, "2.0.0");
    json_t *st = NULL;
    for (int i = 0; i < 500; i++) { /* wait for the retire */
        gosr_node_counters c;
        gosr_node_get_counters(n, &c);
        if (c.retires == 1)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    CHECK_OK(gosr_node_status_json(n, &st, &err));
    CHECK_EQ(json_integer_value(json_object_get(st, "retires")), 1);
    CHECK_EQ(json_integer_value(json_object_get(st, "swaps")), 2);
    json_decref(st);
    gosr_node_stop(n);
    gosr_node_close(n);
    gosr_free(v1);
    gosr_free(v2);
    gosr_free(dir);
}

GOSR_TEST(session_with_lua_modules_replays)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *log = gosr_asprintf("%s/session.log", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1), *v2 = kfix_mover(&f, 2),
         *v3 = kfix_mover(&f, 3);
    gosr_node *n = open_node(&f, dir);
    REQUIRE(n);
    gosr_error err = {0};
    CHECK_OK(gosr_node_publish(n, v1, true, "t", NULL, &err));
    gosr_node_close(n);
    /* a session: restored v1, swap to v2, v3 faults and rolls back, and
     * an input event every few ticks */
    gosr_node_config c = {.data_dir = dir,
                          .trust_pk = f.root.pk,
                          .no_admin = true,
                          .rate_hz = 200,
                          .quarantine_ticks = Q,
                          .capacity = 256,
                          .kv_capacity = 64,
                          .seed = 42,
                          .session_log = log};
    REQUIRE(gosr_node_open(&c, &n, &err) == GOSR_OK);
    CHECK_OK(gosr_node_step(n, 4, &err));
    CHECK_OK(gosr_node_publish(n, v2, true, "t", NULL, &err));
    CHECK_OK(gosr_node_step(n, Q + 2, &err));
    CHECK_OK(gosr_node_publish(n, v3, true, "t", NULL, &err));
    CHECK_OK(gosr_node_step(n, 6, &err));
    CHECK_OK(gosr_node_rollback(n, "mover", "1.0.0", "t", &err));
    CHECK_OK(gosr_node_step(n, 2, &err));
    CHECK_OK(gosr_node_rollback(n, "mover", NULL, "t", &err)); /* probation */
    CHECK_OK(gosr_node_step(n, 3, &err));
    gosr_node_counters k;
    gosr_node_get_counters(n, &k);
    CHECK_EQ(k.rollbacks, 3);
    gosr_node_close(n);

    gosr_replay_result r;
    CHECK_OK(gosr_node_replay(dir, log, &r, &err));
    CHECK(!r.diverged);
    CHECK_EQ(r.ticks_checked, 4 + Q + 2 + 6 + 2 + 3);
    CHECK_STR(r.config.systems, "kernel.v1");
    /* the same log against a node whose mover 2.0.0 behaves otherwise
     * diverges at the first tick of 2.0.0 */
    char *dir2 = gosr_asprintf("%s/node2", gosr_test_tmpdir());
    char *fake = kfix_module(
        &f, "mover", "2.0.0", "{}", ">=0.1.0",
        "STATE_SCHEMA = 1\nfunction init(ctx) state = {} end\n"
        "function migrate(old) return old end\n"
        "function tick(ctx) world.set_pos(1, 99, 0, 0) end\n");
    n = open_node(&f, dir2);
    REQUIRE(n);
    CHECK_OK(gosr_node_publish(n, v1, false, "t", NULL, &err));
    CHECK_OK(gosr_node_publish(n, fake, false, "t", NULL, &err));
    CHECK_OK(gosr_node_publish(n, v3, false, "t", NULL, &err));
    gosr_node_close(n);
    CHECK_OK(gosr_node_replay(dir2, log, &r, &err));
    CHECK(r.diverged);
    CHECK_EQ(r.first_divergent_tick, 5);
    gosr_free(fake);
    gosr_free(dir2);
    /* and through the CLI */
    CHECK_EQ(gosr_test_system("%s replay %s --data %s >/dev/null",
                              GOSR_CLI_PATH, log, dir),
             0);
    gosr_free(v1);
    gosr_free(v2);
    gosr_free(v3);
    gosr_free(log);
    gosr_free(dir);
}

GOSR_TEST(hello_example_runs_with_events)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char src[512];
    snprintf(src, sizeof src, "%s/examples/hello", GOSR_SOURCE_DIR);
    char *b = kfix_pack(&f, src, "hello");
    gosr_node *n = open_node(&f, dir);
    REQUIRE(n);
    gosr_error err = {0};
    CHECK_OK(gosr_node_publish(n, b, true, "t", NULL, &err));
    gosr_event ev = {0};
    CHECK_OK(gosr_event_set_name(&ev, "game:player_joined:v1:completed",
                                 &err));
    CHECK_OK(gosr_event_set_meta(&ev, "user_id", "ada", &err));
    /* events enter through the tick loop's input queue */
    CHECK_OK(gosr_node_submit(n, &ev));
    gosr_event_clear(&ev);
    CHECK_OK(gosr_node_step(n, 3, &err));
    gosr_node_counters c;
    gosr_node_get_counters(n, &c);
    CHECK_EQ(c.faults, 0);
    CHECK_EQ(c.ticks, 3);
    gosr_node_close(n);
    gosr_free(b);
    gosr_free(dir);
}

GOSR_TEST(packed_bulk_host_api)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *b = kfix_module(
        &f, "packer", "1.0.0", "{}", ">=0.1.0",
        "function init(ctx) state = { n = 0 } end\n"
        "function tick(ctx)\n"
        "  if state.n == 0 then\n"
        "    for i = 1, 3 do world.spawn(0, 0, 0, 0, 0, 0) end\n"
        "    state.n = 3\n"
        "  end\n"
        "  local b, nxt = world.query_packed(0, 4096)\n"
        "  assert(nxt == 0 and #b == 3 * 56)\n"
        "  local out, pos = {}, 1\n"
        "  for i = 1, 3 do\n"
        "    local id, x, y, z, vx, vy, vz, np =\n"
        "      string.unpack('<i8i8i8i8i8i8i8', b, pos)\n"
        "    out[i] = string.pack('<i8i8i8i8', id, x + 65536 * i, y, z)\n"
        "    pos = np\n"
        "  end\n"
        "  assert(world.set_packed(table.concat(out)) == 3)\n"
        "  assert(not pcall(world.set_packed, 'odd length'))\n"
        "end\n");
    gosr_node *n = open_node(&f, dir);
    REQUIRE(n);
    gosr_error err = {0};
    CHECK_OK(gosr_node_publish(n, b, true, "t", NULL, &err));
    CHECK_OK(gosr_node_step(n, 2, &err));
    gosr_node_counters c;
    gosr_node_get_counters(n, &c);
    CHECK_EQ(c.faults, 0);
    CHECK_EQ(kfix_x(n, 0), 2);
    CHECK_EQ(kfix_x(n, 2), 6);
    gosr_node_close(n);
    gosr_free(b);
    gosr_free(dir);
}
