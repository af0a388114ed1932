/*
 * test_replay.c — session log and replay: a recorded session with spawn,
 * move and damage inputs replays with a matching hash after every tick;
 * replaying with a system that behaves differently from one tick on is
 * detected at exactly that tick; a corrupted record, a truncated tail, a
 * wrong magic and an unknown system set give clean results.
 */
#include "harness.h"
#include "gosr/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define TICKS 120

/* Records a session of TICKS ticks at `path`; returns the final hash. */
static void record(const char *path, gosr_hash *final)
{
    gosr_session_config sc = {.seed = 9,
                              .rate_hz = 30,
                              .capacity = 256,
                              .kv_capacity = 64,
                              .spawn = 40};
    snprintf(sc.systems, sizeof sc.systems, "builtin.v1");
    gosr_world_config wc = {.capacity = sc.capacity,
                            .kv_capacity = sc.kv_capacity,
                            .seed = sc.seed};
    gosr_world *w;
    gosr_tick *t;
    gosr_session *log;
    gosr_error err;
    REQUIRE(gosr_world_create(&wc, NULL, &w, &err) == GOSR_OK);
    REQUIRE(gosr_tick_create(w, &(gosr_tick_config){.no_sleep = true}, &t,
                             &err) == GOSR_OK);
    REQUIRE(gosr_session_create(path, &sc, &log, &err) == GOSR_OK);
    CHECK_OK(gosr_sim_setup(w, &sc, &err));
    CHECK_OK(gosr_sim_install(t, sc.systems, &err));
    gosr_tick_attach_log(t, log);
    for (int k = 1; k <= TICKS; k++) {
        gosr_event ev = {0};
        gosr_entity target = {(1ull << 32) | (uint64_t)(k % 40)};
        if (k % 7 == 0)
            gosr_sim_event_spawn(&ev, (gosr_vec3){k, k, 0},
                                 (gosr_vec3){1, -1, 0}, 3, 30);
        else if (k % 5 == 0)
            gosr_sim_event_damage(&ev, target, 60);
        else if (k % 3 == 0)
            gosr_sim_event_move(&ev, target, (gosr_vec3){k, 0, 0});
        if (ev.name[0]) {
            gosr_event_set_meta(&ev, "user_id", "player-1", NULL);
            CHECK_OK(gosr_tick_submit(t, &ev));
        }
        gosr_event_clear(&ev);
        CHECK_OK(gosr_tick_step(t, &err));
    }
    gosr_tick_last_hash(t, final);
    gosr_session_close(log);
    gosr_tick_destroy(t);
    gosr_world_destroy(w);
}

GOSR_TEST(replay_matches)
{
    char *path = gosr_asprintf("%s/s.log", gosr_test_tmpdir());
    gosr_hash final;
    record(path, &final);
    gosr_replay_result res;
    gosr_error err;
    CHECK_OK(gosr_replay_file(path, NULL, &res, &err));
    CHECK(!res.diverged);
    CHECK(!res.truncated_tail);
    CHECK_UINT(res.ticks_checked, ==, TICKS);
    CHECK_UINT(res.events, >, 50);
    CHECK_UINT(res.config.spawn, ==, 40);
    CHECK_STR(res.config.systems, "builtin.v1");
    CHECK(gosr_hash_equal(&res.actual, &final));
    /* A second log cannot overwrite the first. */
    gosr_session *s;
    gosr_session_config sc = {0};
    CHECK_STATUS(gosr_session_create(path, &sc, &s, &err), GOSR_EEXIST);
    gosr_free(path);
}

/* A movement system that drifts one unit on x from tick 37 on. */
static int drifting_movement(void *ud, gosr_world *w, uint64_t tick,
                             const gosr_event *ev, size_t n)
{
    (void)ud;
    (void)ev;
    (void)n;
    if (tick < 37 || gosr_world_count(w) == 0)
        return GOSR_OK;
    gosr_entity first = {(1ull << 32) | 0};
    gosr_entity_slot *s = gosr_world_slot_mut(w, first);
    if (s)
        s->pos.x += 1;
    return GOSR_OK;
}

static int install_drifting(gosr_tick *t, const char *id, gosr_error *err)
{
    int rc = gosr_sim_install(t, id, err);
    return rc == GOSR_OK
               ? gosr_tick_add_system(t, "drift", drifting_movement, NULL)
               : rc;
}

GOSR_TEST(replay_detects_divergence)
{
    char *path = gosr_asprintf("%s/s.log", gosr_test_tmpdir());
    gosr_hash final;
    record(path, &final);
    gosr_replay_result res;
    gosr_error err;
    CHECK_OK(gosr_replay_file(path, install_drifting, &res, &err));
    CHECK(res.diverged);
    CHECK_UINT(res.first_divergent_tick, ==, 37);
    CHECK_UINT(res.ticks_checked, ==, 37);
    CHECK(!gosr_hash_equal(&res.expected, &res.actual));
    gosr_free(path);
}

static void rewrite(const char *path, const uint8_t *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, data, n) == (ssize_t)n);
    close(fd);
}

GOSR_TEST(replay_bad_logs)
{
    char *path = gosr_asprintf("%s/s.log", gosr_test_tmpdir());
    gosr_hash final;
    record(path, &final);
    uint8_t *img;
    size_t len;
    REQUIRE(gosr_file_read_all(path, 1 << 24, &img, &len) == GOSR_OK);
    gosr_replay_result res;
    gosr_error err;
    /* Torn final record (crash mid-append): replays what is complete. */
    rewrite(path, img, len - 5);
    CHECK_OK(gosr_replay_file(path, NULL, &res, &err));
    CHECK(res.truncated_tail);
    CHECK(!res.diverged);
    CHECK_UINT(res.ticks_checked, ==, TICKS - 1);
    /* A flipped byte inside a record: checksum mismatch. */
    img[len / 2] ^= 0x40;
    rewrite(path, img, len);
    CHECK_STATUS(gosr_replay_file(path, NULL, &res, &err), GOSR_ECORRUPT);
    CHECK_STR(err.reason, "session_record_corrupt");
    img[len / 2] ^= 0x40;
    /* Wrong magic. */
    img[0] = 'X';
    rewrite(path, img, len);
    CHECK_STATUS(gosr_replay_file(path, NULL, &res, &err), GOSR_EFORMAT);
    CHECK_STR(err.reason, "session_bad_magic");
    img[0] = 'G';
    /* Header only. */
    rewrite(path, img, 8);
    CHECK_STATUS(gosr_replay_file(path, NULL, &res, &err), GOSR_EFORMAT);
    gosr_free(img);
    char *none = gosr_asprintf("%s/none.log", gosr_test_tmpdir());
    CHECK_STATUS(gosr_replay_file(none, NULL, &res, &err), GOSR_ENOENT);
    gosr_free(none);
    gosr_free(path);
}

GOSR_TEST(unknown_system_set)
{
    char *path = gosr_asprintf("%s/u.log", gosr_test_tmpdir());
    gosr_session_config sc = {.seed = 1, .rate_hz = 30, .capacity = 8};
    snprintf(sc.systems, sizeof sc.systems, "lua.v9");
    gosr_session *s;
    gosr_error err;
    REQUIRE(gosr_session_create(path, &sc, &s, &err) == GOSR_OK);
    gosr_hash h = {{0}};
    CHECK_STATUS(gosr_session_append_tick(s, 2, NULL, 0, &h, &err),
                 GOSR_ESTATE);
    CHECK_OK(gosr_session_append_tick(s, 1, NULL, 0, &h, &err));
    gosr_session_close(s);
    gosr_replay_result res;
    CHECK_STATUS(gosr_replay_file(path, NULL, &res, &err), GOSR_EUNSUPPORTED);
    CHECK_STR(err.reason, "unknown_system_set");
    gosr_free(path);
}

/* Flips a byte of the logged hash of tick `tick` and re-seals the record's
 * check, giving a well-formed log whose hash is wrong at exactly that tick. */
static bool forge_hash(uint8_t *img, size_t len, uint64_t tick)
{
    size_t off = 8;
    while (off + 5 <= len) {
        uint32_t n = (uint32_t)img[off] | (uint32_t)img[off + 1] << 8 |
                     (uint32_t)img[off + 2] << 16 |
                     (uint32_t)img[off + 3] << 24;
        uint8_t *body = img + off + 5;
        uint64_t t = 0;
        for (int i = 7; i >= 0; i--)
            t = t << 8 | body[i];
        if (img[off + 4] == 2 && t == tick) {
            body[n - 1] ^= 1;
            gosr_blake3 h;
            gosr_blake3_init(&h);
            gosr_blake3_update(&h, img + off + 4, 1 + (size_t)n);
            gosr_blake3_finalize(&h, body + n, 8);
            return true;
        }
        off += 5 + (size_t)n + 8;
    }
    return false;
}

GOSR_TEST(forged_hash_diverges_via_cli)
{
    char *path = gosr_asprintf("%s/s.log", gosr_test_tmpdir());
    gosr_hash final;
    record(path, &final);
    uint8_t *img;
    size_t len;
    REQUIRE(gosr_file_read_all(path, 1 << 24, &img, &len) == GOSR_OK);
    REQUIRE(forge_hash(img, len, 50));
    rewrite(path, img, len);
    gosr_replay_result res;
    gosr_error err;
    CHECK_OK(gosr_replay_file(path, NULL, &res, &err));
    CHECK(res.diverged);
    CHECK_UINT(res.first_divergent_tick, ==, 50);
    CHECK_EQ(gosr_test_system("%s replay --json %s > %s/out.json",
                              GOSR_CLI_PATH, path, gosr_test_tmpdir()),
             3);
    CHECK_EQ(gosr_test_system("grep -q '\"first_divergent_tick\":50' "
                              "%s/out.json",
                              gosr_test_tmpdir()),
             0);
    gosr_free(img);
    gosr_free(path);
}

/* Write hook: fails with ENOSPC after `g_budget` more bytes when armed. */
static long g_budget = -1;

static ssize_t failing_write(int fd, const void *p, size_t n)
{
    if (g_budget >= 0) {
        if ((long)n > g_budget) {
            n = (size_t)g_budget; /* short write, then ENOSPC */
            g_budget = 0;
            if (n == 0) {
                errno = ENOSPC;
                return -1;
            }
        } else {
            g_budget -= (long)n;
        }
    }
    return write(fd, p, n);
}

GOSR_TEST(failed_append_leaves_whole_records)
{
    char *path = gosr_asprintf("%s/g.log", gosr_test_tmpdir());
    gosr_session_config sc = {.seed = 3,
                              .rate_hz = 30,
                              .capacity = 64,
                              .kv_capacity = 8,
                              .spawn = 10};
    snprintf(sc.systems, sizeof sc.systems, "builtin.v1");
    gosr_world_config wc = {.capacity = 64, .kv_capacity = 8, .seed = 3};
    gosr_world *w;
    gosr_tick *t;
    gosr_session *log;
    gosr_error err;
    REQUIRE(gosr_world_create(&wc, NULL, &w, &err) == GOSR_OK);
    REQUIRE(gosr_tick_create(w, &(gosr_tick_config){.no_sleep = true}, &t,
                             &err) == GOSR_OK);
    REQUIRE(gosr_session_create(path, &sc, &log, &err) == GOSR_OK);
    CHECK_OK(gosr_sim_setup(w, &sc, &err));
    CHECK_OK(gosr_sim_install(t, sc.systems, &err));
    gosr_tick_attach_log(t, log);
    CHECK_OK(gosr_tick_run(t, 3, &err));
    /* The 4th record hits a short write then ENOSPC. */
    gosr_io_ops ops = *gosr_io();
    ops.write = failing_write;
    gosr_io_set_ops(&ops);
    g_budget = 20;
    CHECK_STATUS(gosr_tick_step(t, &err), GOSR_ENOSPC);
    CHECK_STR(err.reason, "session_write_failed");
    gosr_io_set_ops(NULL);
    g_budget = -1;
    gosr_tick_destroy(t);
    gosr_world_destroy(w);
    gosr_session_close(log);
    /* The log holds exactly ticks 1..3, whole, and replays cleanly. */
    gosr_replay_result res;
    CHECK_OK(gosr_replay_file(path, NULL, &res, &err));
    CHECK(!res.truncated_tail);
    CHECK(!res.diverged);
    CHECK_UINT(res.ticks_checked, ==, 3);
    gosr_free(path);
}
