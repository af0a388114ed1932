/*
 * test_ckpt_node.c — node checkpoints with nodes stepped by hand: a close
 * writes the stop checkpoint and a reopen restores the world (same world
 * hash and tick) and the module's `state` (its tick counter goes on); a
 * checkpoint older than the active version goes through migrate(); rounds
 * are skipped while a swap is on probation; a session log starts fresh; a
 * checkpoint of another world configuration is not restored (and kept);
 * a write that fails is counted and the node runs on; the file format
 * round-trips and refuses corruption. Design under test: docs/kernel.md
 * ("Checkpoints").
 */
#include "kfix.h"

#include "kernel/checkpoint.h"
#include "kernel/kernel_int.h"

#include <errno.h>
#include <unistd.h>

static gosr_node *open_cfg(const kfix *f, const char *dir, uint32_t every,
                           uint32_t capacity, const char *session)
{
    gosr_node_config c = {.data_dir = dir,
                          .trust_pk = f->root.pk,
                          .no_admin = true,
                          .rate_hz = 200,
                          .quarantine_ticks = 5,
                          .capacity = capacity ? capacity : 256,
                          .kv_capacity = 64,
                          .checkpoint_ticks = every,
                          .session_log = session};
    gosr_node *n = NULL;
    gosr_error err = {0};
    if (gosr_node_open(&c, &n, &err) != GOSR_OK)
        gosr_test_fail(__FILE__, __LINE__, "open: %s: %s", err.reason,
                       err.detail);
    return n;
}

/* state.<key> of the mover module as an integer (INT64_MIN if absent). */
static int64_t mover_state(gosr_node *n, const char *key)
{
    kslot *s = kernel__slot_find(n, "mover");
    gosr_sbv st = {0};
    int64_t v = INT64_MIN;
    if (s && gosr_sandbox_get_global(s->sb, "state", &st, NULL) == GOSR_OK) {
        const gosr_sbv *x = gosr_sbv_table_get(&st, key);
        if (x && x->type == GOSR_SBV_INT)
            v = x->u.i;
    }
    gosr_sbv_free(&st);
    return v;
}

/* status.checkpoint.<key> (borrowed from *st, which the caller frees). */
static json_t *ckpt_field(gosr_node *n, json_t **st, const char *key)
{
    *st = NULL;
    if (gosr_node_status_json(n, st, NULL) != GOSR_OK)
        return NULL;
    return json_object_get(json_object_get(*st, "checkpoint"), key);
}

static void check_status_str(gosr_node *n, const char *key, const char *want)
{
    json_t *st;
    json_t *v = ckpt_field(n, &st, key);
    CHECK(json_is_string(v));
    if (json_is_string(v))
        CHECK_STR(json_string_value(v), want);
    json_decref(st);
}

static int64_t status_int(gosr_node *n, const char *key)
{
    json_t *st;
    json_t *v = ckpt_field(n, &st, key);
    int64_t r = json_is_integer(v) ? json_integer_value(v) : -1;
    json_decref(st);
    return r;
}

static bool status_restored(gosr_node *n)
{
    json_t *st;
    json_t *v = ckpt_field(n, &st, "restored"); /* json_is_true is a macro */
    bool r = json_is_true(v);
    json_decref(st);
    return r;
}

GOSR_TEST(restart_restores_world_tick_and_state)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1);
    gosr_error err = {0};
    gosr_node *n = open_cfg(&f, dir, 0, 0, NULL);
    REQUIRE(n);
    CHECK(!status_restored(n));
    check_status_str(n, "reason", "no_checkpoint");
    CHECK_OK(gosr_node_publish(n, v1, true, "test", NULL, &err));
    CHECK_OK(gosr_node_step(n, 50, &err));
    CHECK_EQ(mover_state(n, "ticks"), 50);
    gosr_hash at_stop, after;
    gosr_world_hash(gosr_node_world(n), &at_stop);
    uint64_t tick = gosr_world_tick(gosr_node_world(n));
    gosr_node_close(n);

    n = open_cfg(&f, dir, 0, 0, NULL);
    REQUIRE(n);
    CHECK(status_restored(n));
    check_status_str(n, "source", "checkpoint");
    CHECK_EQ(status_int(n, "tick"), (int64_t)tick);
    gosr_world_hash(gosr_node_world(n), &after);
    CHECK_MEM(at_stop.b, after.b, 32);
    CHECK_EQ(gosr_world_tick(gosr_node_world(n)), tick);
    CHECK_EQ(gosr_world_count(gosr_node_world(n)), 8);
    CHECK_EQ(mover_state(n, "ticks"), 50); /* the counter did not reset */
    CHECK_OK(gosr_node_step(n, 5, &err));
    CHECK_EQ(mover_state(n, "ticks"), 55);
    CHECK_EQ(gosr_world_count(gosr_node_world(n)), 8);
    CHECK_EQ(gosr_world_tick(gosr_node_world(n)), tick + 5);
    gosr_node_close(n);

    /* a node that ran no tick writes nothing at close: the files stay */
    char *cp = gosr_asprintf("%s/checkpoint", dir);
    struct stat a, b;
    REQUIRE(stat(cp, &a) == 0);
    n = open_cfg(&f, dir, 0, 0, NULL);
    gosr_node_close(n);
    REQUIRE(stat(cp, &b) == 0);
    CHECK(a.st_ino == b.st_ino);
    gosr_free(cp);
    gosr_free(v1);
    gosr_free(dir);
}

/* Copies a file (the test keeps an older checkpoint aside). */
static void copy_file(const char *from, const char *to)
{
    uint8_t *p = NULL;
    size_t n = 0;
    REQUIRE(gosr_file_read_all(from, 1u << 30, &p, &n) == GOSR_OK);
    REQUIRE(gosr_file_write_atomic(to, p, n, 0600) == GOSR_OK);
    gosr_free(p);
}

GOSR_TEST(version_changed_since_checkpoint_migrates)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *cp = gosr_asprintf("%s/checkpoint", dir);
    char *keep = gosr_asprintf("%s/kept", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1), *v2 = kfix_mover(&f, 2);
    gosr_error err = {0};
    gosr_node *n = open_cfg(&f, dir, 0, 0, NULL);
    REQUIRE(n);
    CHECK_OK(gosr_node_publish(n, v1, true, "test", NULL, &err));
    CHECK_OK(gosr_node_step(n, 20, &err));
    gosr_node_close(n);
    copy_file(cp, keep); /* v1's checkpoint at tick 20 */

    /* the swap commits (ledger row), then the node dies before any newer
     * checkpoint: put the v1 checkpoint back to simulate that */
    n = open_cfg(&f, dir, 0, 0, NULL);
    REQUIRE(n);
    CHECK_OK(gosr_node_publish(n, v2, true, "test", NULL, &err));
    CHECK_OK(gosr_node_step(n, 3, &err));
    gosr_node_close(n);
    copy_file(keep, cp);

    n = open_cfg(&f, dir, 0, 0, NULL);
    REQUIRE(n);
    CHECK(status_restored(n));
    json_t *st;
    json_t *how = json_object_get(ckpt_field(n, &st, "modules"), "mover");
    CHECK(json_is_string(how) && !strcmp(json_string_value(how), "migrated"));
    json_decref(st);
    CHECK_EQ(mover_state(n, "ticks"), 20);
    CHECK_EQ(mover_state(n, "migrated_from"), 1);
    CHECK_EQ(gosr_world_count(gosr_node_world(n)), 8);
    int64_t x = kfix_x(n, 0);
    CHECK_OK(gosr_node_step(n, 1, &err));
    CHECK_EQ(kfix_x(n, 0), x + 2); /* v2 behaviour on the v1 world */
    gosr_node_close(n);
    gosr_free(v1);
    gosr_free(v2);
    gosr_free(cp);
    gosr_free(keep);
    gosr_free(dir);
}

GOSR_TEST(rounds_skip_probation_and_count_failures)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1), *v2 = kfix_mover(&f, 2);
    gosr_error err = {0};
    gosr_node *n = open_cfg(&f, dir, 2, 0, NULL);
    REQUIRE(n);
    CHECK_OK(gosr_node_publish(n, v1, true, "test", NULL, &err));
    CHECK_OK(gosr_node_step(n, 4, &err));
    CHECK_OK(gosr_node_publish(n, v2, true, "test", NULL, &err));
    CHECK_OK(gosr_node_step(n, 4, &err)); /* probation: 5 ticks */
    CHECK(status_int(n, "skipped") >= 2);
    CHECK_OK(gosr_node_step(n, 6, &err));
    /* wait for the writer to catch up (it is asynchronous) */
    for (int i = 0; i < 500 && status_int(n, "last_tick") != 14; i++)
        usleep(2000);
    CHECK_EQ(status_int(n, "last_tick"), 14);
    CHECK(status_int(n, "written") >= 2);
    CHECK_EQ(status_int(n, "failed"), 0);
    gosr_node_close(n);
    gosr_free(v1);
    gosr_free(v2);
    gosr_free(dir);
}

/* ---- fault injection: every fsync fails ---------------------------------- */

static int failing_fsync(int fd)
{
    (void)fd;
    errno = EIO;
    return -1;
}

GOSR_TEST(failed_write_is_counted_and_the_node_runs_on)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    gosr_error err = {0};
    gosr_node *n = open_cfg(&f, dir, 1, 0, NULL);
    REQUIRE(n);
    gosr_io_ops ops = *gosr_io();
    ops.fsync = failing_fsync;
    gosr_io_set_ops(&ops);
    CHECK_OK(gosr_node_step(n, 3, &err));
    for (int i = 0; i < 500 && status_int(n, "failed") < 1; i++)
        usleep(2000);
    gosr_io_set_ops(NULL);
    CHECK(status_int(n, "failed") >= 1);
    CHECK_OK(gosr_node_step(n, 2, &err));
    gosr_node_close(n);
    /* the stop checkpoint, written with working I/O, restores */
    n = open_cfg(&f, dir, 1, 0, NULL);
    CHECK(status_restored(n));
    CHECK_EQ(gosr_world_tick(gosr_node_world(n)), 5);
    gosr_node_close(n);
    gosr_free(dir);
}

GOSR_TEST(session_log_and_config_change_start_fresh)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *log = gosr_asprintf("%s/session.log", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1);
    gosr_error err = {0};
    gosr_node *n = open_cfg(&f, dir, 0, 0, NULL);
    REQUIRE(n);
    CHECK_OK(gosr_node_publish(n, v1, true, "test", NULL, &err));
    CHECK_OK(gosr_node_step(n, 10, &err));
    gosr_node_close(n);

    /* a session log records from a fresh world: it replays from its header */
    n = open_cfg(&f, dir, 0, 0, log);
    REQUIRE(n);
    CHECK(!status_restored(n));
    check_status_str(n, "reason", "session_log");
    CHECK_EQ(gosr_world_tick(gosr_node_world(n)), 0);
    CHECK_OK(gosr_node_step(n, 12, &err));
    gosr_node_close(n);
    gosr_replay_result res;
    CHECK_OK(gosr_node_replay(dir, log, &res, &err));
    CHECK(!res.diverged);
    CHECK_EQ(res.ticks_checked, 12);

    /* another capacity: not restored, and the file is left in place */
    n = open_cfg(&f, dir, 0, 512, NULL);
    REQUIRE(n);
    CHECK(!status_restored(n));
    check_status_str(n, "reason", "checkpoint_config_mismatch");
    gosr_node_close(n);
    char *cp = gosr_asprintf("%s/checkpoint", dir);
    CHECK(access(cp, F_OK) == 0);
    gosr_free(cp);
    /* and back at the original capacity it restores (tick 12) */
    n = open_cfg(&f, dir, 0, 0, NULL);
    CHECK(status_restored(n));
    CHECK_EQ(gosr_world_tick(gosr_node_world(n)), 12);
    gosr_node_close(n);
    gosr_free(v1);
    gosr_free(log);
    gosr_free(dir);
}

GOSR_TEST(file_format_round_trip_and_corruption)
{
    kfix f;
    kfix_keys(&f);
    char *dir = gosr_asprintf("%s/node", gosr_test_tmpdir());
    char *v1 = kfix_mover(&f, 1);
    gosr_error err = {0};
    gosr_node *n = open_cfg(&f, dir, 0, 0, NULL);
    REQUIRE(n);
    CHECK_OK(gosr_node_publish(n, v1, true, "test", NULL, &err));
    CHECK_OK(gosr_node_step(n, 7, &err));
    gosr_world_config wc = *gosr_world_get_config(gosr_node_world(n));
    gosr_node_close(n);
    char *cp = gosr_asprintf("%s/checkpoint", dir);
    uint8_t *p = NULL;
    size_t len = 0;
    REQUIRE(gosr_file_read_all(cp, 1u << 30, &p, &len) == GOSR_OK);
    ckpt_data *c = NULL;
    CHECK_OK(kernel__ckpt_decode(p, len, &wc, &c, &err));
    REQUIRE(c != NULL);
    CHECK_EQ(c->tick, 7);
    CHECK_EQ(c->nmods, 1);
    CHECK_STR(c->mods[0].id, "mover");
    CHECK_STR(c->mods[0].version, "1.0.0");
    gosr_buf b = {0};
    CHECK_OK(kernel__ckpt_encode(c, &b, &err));
    CHECK(b.len == len && memcmp(b.data, p, len) == 0);
    kernel__ckpt_free(c);
    gosr_buf_free(&b);
    for (size_t i = 0; i < len; i += 7) { /* truncations */
        c = NULL;
        CHECK(kernel__ckpt_decode(p, i, &wc, &c, &err) != GOSR_OK);
        CHECK(c == NULL);
    }
    for (size_t i = 0; i < len; i += 13) { /* every flip: checksum */
        p[i] ^= 0x10;
        CHECK_STATUS(kernel__ckpt_decode(p, len, &wc, &c, &err), GOSR_ECORRUPT);
        CHECK_STR(err.reason, "checkpoint_checksum");
        p[i] ^= 0x10;
    }
    gosr_free(p);
    gosr_free(cp);
    gosr_free(v1);
    gosr_free(dir);
}
