/*
 * test_ledger.c — the activation ledger: appends chain by hash; UPDATE and
 * DELETE are aborted by triggers; a row tampered with the sqlite3 CLI
 * fails verification at its seq and puts a reopened ledger in safe mode
 * (activations refused with ledger_chain_broken, rollbacks still logged);
 * evidence is validated and stored canonical; SIGKILL during appends (60
 * forked writers killed at random times) never leaves a partial row or a
 * broken chain.
 */
#include "harness.h"
#include "gosr/runtime.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char *db_path(void)
{
    return gosr_asprintf("%s/ledger.db", gosr_test_tmpdir());
}

static int append(gosr_ledger *l, const char *action, const char *subject,
                  const char *evidence, gosr_error *err)
{
    gosr_ledger_row r = {.actor = "operator:alice",
                         .action = (char *)action,
                         .subject = (char *)subject,
                         .version = "1.2.0",
                         .reason = "test",
                         .evidence = (char *)evidence};
    return gosr_ledger_append(l, &r, err);
}

GOSR_TEST(append_and_verify)
{
    char *path = db_path();
    gosr_ledger *l;
    gosr_error err;
    REQUIRE(gosr_ledger_open(path, &l, &err) == GOSR_OK);
    CHECK(!gosr_ledger_safe_mode(l));
    gosr_ledger_row r = {.actor = "pipeline",
                         .action = "activate",
                         .subject = "arena.combat",
                         .version = "1.0.0",
                         .evidence = "{\"b\": 2, \"a\": [1, 2]}"};
    CHECK_OK(gosr_ledger_append(l, &r, &err));
    CHECK_UINT(r.seq, ==, 1);
    uint8_t zero[32] = {0};
    CHECK_MEM(r.prev_hash, zero, 32);
    uint8_t first[32];
    memcpy(first, r.row_hash, 32);
    CHECK_OK(append(l, "rollback", "arena.combat", NULL, &err));
    CHECK_OK(append(l, "retire", "arena.combat", "{}", &err));
    gosr_ledger_row got;
    CHECK_OK(gosr_ledger_get(l, 1, &got, &err));
    CHECK_STR(got.evidence, "{\"a\":[1,2],\"b\":2}"); /* canonical */
    CHECK_STR(got.reason, "");
    CHECK_MEM(got.row_hash, first, 32);
    gosr_ledger_row_clear(&got);
    CHECK_OK(gosr_ledger_get(l, 2, &got, &err));
    CHECK_MEM(got.prev_hash, first, 32);
    CHECK_STR(got.action, "rollback");
    gosr_ledger_row_clear(&got);
    CHECK_STATUS(gosr_ledger_get(l, 9, &got, &err), GOSR_ENOENT);
    int64_t bad = -1, count = 0;
    CHECK_OK(gosr_ledger_verify(l, &bad, &err));
    CHECK_EQ(bad, 0);
    uint8_t head[32];
    CHECK_OK(gosr_ledger_head(l, &count, head));
    CHECK_EQ(count, 3);
    /* Invalid rows are refused before touching the database. */
    CHECK_STATUS(append(l, "activate", "m", "[1]", &err), GOSR_EINVAL);
    CHECK_STR(err.reason, "ledger_bad_evidence");
    CHECK_STATUS(append(l, "activate", "m", "{\"a\":1,\"a\":2}", &err),
                 GOSR_EINVAL);
    CHECK_STATUS(append(l, "", "m", NULL, &err), GOSR_EINVAL);
    CHECK_STATUS(append(l, "activate", "bad\x01", NULL, &err), GOSR_EINVAL);
    CHECK_OK(gosr_ledger_head(l, &count, head));
    CHECK_EQ(count, 3);
    gosr_ledger_close(l);
    /* Reopen: the chain verifies at start-up. */
    REQUIRE(gosr_ledger_open(path, &l, &err) == GOSR_OK);
    CHECK(!gosr_ledger_safe_mode(l));
    gosr_ledger_close(l);
    gosr_ledger_close(NULL);
    gosr_free(path);
}

GOSR_TEST(triggers_block_update_and_delete)
{
    char *path = db_path();
    gosr_ledger *l;
    REQUIRE(gosr_ledger_open(path, &l, NULL) == GOSR_OK);
    CHECK_OK(append(l, "activate", "m", NULL, NULL));
    gosr_ledger_close(l);
    sqlite3 *db;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE ledger SET reason='x'", NULL, NULL, NULL) ==
          SQLITE_CONSTRAINT);
    CHECK(sqlite3_exec(db, "DELETE FROM ledger", NULL, NULL, NULL) ==
          SQLITE_CONSTRAINT);
    sqlite3_close(db);
    REQUIRE(gosr_ledger_open(path, &l, NULL) == GOSR_OK);
    CHECK(!gosr_ledger_safe_mode(l));
    gosr_ledger_close(l);
    gosr_free(path);
}

GOSR_TEST(tamper_with_sqlite3_cli)
{
    char *path = db_path();
    gosr_ledger *l;
    gosr_error err;
    REQUIRE(gosr_ledger_open(path, &l, &err) == GOSR_OK);
    for (int i = 0; i < 6; i++)
        CHECK_OK(append(l, i % 2 ? "rollback" : "activate", "arena.loot", NULL,
                        &err));
    gosr_ledger_close(l);
    /* An attacker with file access drops the trigger and edits row 4. */
    CHECK_EQ(gosr_test_system("sqlite3 '%s' \"DROP TRIGGER ledger_no_update; "
                              "UPDATE ledger SET version='6.6.6' WHERE "
                              "seq=4;\"",
                              path),
             0);
    REQUIRE(gosr_ledger_open(path, &l, &err) == GOSR_OK);
    CHECK(gosr_ledger_safe_mode(l));
    int64_t bad = 0;
    CHECK_STATUS(gosr_ledger_verify(l, &bad, &err), GOSR_ECORRUPT);
    CHECK_EQ(bad, 4);
    CHECK_STR(err.reason, "ledger_chain_broken");
    CHECK_STATUS(append(l, "activate", "arena.loot", NULL, &err), GOSR_EDENIED);
    CHECK_STR(err.reason, "ledger_chain_broken");
    CHECK_OK(append(l, "rollback", "arena.loot", NULL, &err));
    gosr_ledger_close(l);

    /* Deleting a middle row (trigger dropped) breaks the chain there. */
    char *p2 = gosr_asprintf("%s/ledger2.db", gosr_test_tmpdir());
    REQUIRE(gosr_ledger_open(p2, &l, &err) == GOSR_OK);
    for (int i = 0; i < 5; i++)
        append(l, "activate", "m", NULL, &err);
    gosr_ledger_close(l);
    CHECK_EQ(gosr_test_system("sqlite3 '%s' \"DROP TRIGGER ledger_no_delete; "
                              "DELETE FROM ledger WHERE seq=2;\"",
                              p2),
             0);
    REQUIRE(gosr_ledger_open(p2, &l, &err) == GOSR_OK);
    CHECK(gosr_ledger_safe_mode(l));
    CHECK_STATUS(gosr_ledger_verify(l, &bad, &err), GOSR_ECORRUPT);
    CHECK_EQ(bad, 2);
    gosr_ledger_close(l);
    /* A hash column replaced by text is caught too. */
    char *p3 = gosr_asprintf("%s/ledger3.db", gosr_test_tmpdir());
    REQUIRE(gosr_ledger_open(p3, &l, &err) == GOSR_OK);
    append(l, "activate", "m", NULL, &err);
    gosr_ledger_close(l);
    CHECK_EQ(gosr_test_system("sqlite3 '%s' \"DROP TRIGGER ledger_no_update; "
                              "UPDATE ledger SET row_hash='x' WHERE seq=1;\"",
                              p3),
             0);
    REQUIRE(gosr_ledger_open(p3, &l, &err) == GOSR_OK);
    CHECK(gosr_ledger_safe_mode(l));
    gosr_ledger_close(l);
    gosr_free(p3);
    gosr_free(p2);
    gosr_free(path);
}

/* Child: appends rows forever (until killed). */
static void append_forever(const char *path, int ready)
{
    gosr_ledger *l;
    if (gosr_ledger_open(path, &l, NULL) != GOSR_OK)
        _exit(10);
    char ok = 1;
    if (write(ready, &ok, 1) != 1)
        _exit(11);
    for (int i = 0;; i++) {
        const char *ev =
            i % 2 ? "{\"canary\":{\"errors\":0,\"p99_ms\":3}}" : NULL;
        if (append(l, i % 3 ? "activate" : "rollback", "arena.combat", ev,
                   NULL) != GOSR_OK)
            _exit(12);
    }
}

GOSR_TEST(sigkill_during_appends)
{
    char *path = db_path();
    uint64_t rng = (uint64_t)gosr_time_mono_ns() | 1;
    int64_t last = 0;
    for (int it = 0; it < 60; it++) {
        int p[2];
        REQUIRE(pipe(p) == 0);
        pid_t pid = fork();
        if (pid == 0)
            append_forever(path, p[1]);
        close(p[1]);
        char ok;
        CHECK(read(p[0], &ok, 1) == 1);
        close(p[0]);
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        usleep((useconds_t)(5000 + rng % 40000)); /* 5..45 ms of appends */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        gosr_ledger *l;
        gosr_error err;
        REQUIRE(gosr_ledger_open(path, &l, &err) == GOSR_OK);
        int64_t bad = 0, count = 0;
        uint8_t head[32];
        CHECK_OK(gosr_ledger_verify(l, &bad, &err));
        CHECK(!gosr_ledger_safe_mode(l));
        CHECK_OK(gosr_ledger_head(l, &count, head));
        CHECK_INT(count, >=, last);
        last = count;
        gosr_ledger_close(l);
        if (gosr_test_failures())
            break;
    }
    fprintf(stderr, "  60 kills, %lld rows, chain intact\n", (long long)last);
    gosr_free(path);
}
