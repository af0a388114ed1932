/*
 * replay.c — the session log and replay. A session log is an append-only
 * file: an 8-byte magic, then checksummed records — one CONFIG record
 * (seed, rate, capacities, scenario, system-set id, module table reserved
 * for the Lua integration), then one TICK record per tick with the inputs
 * admitted at that tick and the world hash after it. Replay rebuilds the
 * world from CONFIG, feeds each tick's logged inputs through a fresh tick
 * loop and compares the hash after every tick.
 *
 * Design: docs/runtime.md ("Session log", byte tables; "Replay").
 */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_MAGIC "GOSRSLG1"
#define REC_CONFIG 1u
#define REC_TICK 2u
#define REC_MAX_BODY (64u << 20)
#define REC_CHECK_LEN 8

struct gosr_session {
    int fd;             /* append-only file descriptor */
    uint64_t next_tick; /* tick number the next TICK record must carry */
    uint64_t end;       /* file size after the last complete record */
};

/* ---- writing ------------------------------------------------------------ */

/* Writes one record: u32 body length, u8 type, body, 8-byte check (first
 * bytes of BLAKE3 over type || body). One write() per record. */
static int write_record(int fd, uint8_t type, const gosr_buf *body,
                        gosr_error *err)
{
    gosr_buf rec = {0};
    uint8_t head[5];
    event__put_u32(head, (uint32_t)body->len);
    head[4] = type;
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, &type, 1);
    gosr_blake3_update(&h, body->data, body->len);
    uint8_t check[REC_CHECK_LEN];
    gosr_blake3_finalize(&h, check, sizeof check);
    int rc = gosr_buf_append(&rec, head, 5);
    if (rc == GOSR_OK && body->len)
        rc = gosr_buf_append(&rec, body->data, body->len);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(&rec, check, sizeof check);
    if (rc == GOSR_OK)
        rc = gosr_io_write_all(fd, rec.data, rec.len);
    gosr_buf_free(&rec);
    return rc == GOSR_OK
               ? GOSR_OK
               : gosr_error_set(err, rc, "session_write_failed",
                                "appending a record: %s", gosr_strerror(rc));
}

static int encode_config(const gosr_session_config *c, gosr_buf *b)
{
    uint8_t f[24];
    event__put_u64(f, c->seed);
    event__put_u32(f + 8, c->rate_hz);
    event__put_u32(f + 12, c->capacity);
    event__put_u32(f + 16, c->kv_capacity);
    event__put_u32(f + 20, c->spawn);
    size_t sl = strnlen(c->systems, sizeof c->systems - 1);
    uint8_t len = (uint8_t)sl, nmod[4] = {0, 0, 0, 0};
    int rc = gosr_buf_append(b, f, sizeof f);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(b, &len, 1);
    if (rc == GOSR_OK && sl)
        rc = gosr_buf_append(b, c->systems, sl);
    /* Module table: count, reserved for module id/version/hash entries
     * once Lua modules run in the kernel; always 0 in format 1. */
    if (rc == GOSR_OK)
        rc = gosr_buf_append(b, nmod, 4);
    return rc;
}

int gosr_session_create(const char *path, const gosr_session_config *cfg,
                        gosr_session **out, gosr_error *err)
{
    int fd =
        gosr_io()->open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0644);
    if (fd < 0)
        return gosr_error_set(err, gosr_status_from_errno(errno),
                              "session_create_failed", "%s: %s", path,
                              strerror(errno));
    gosr_session *s = gosr_calloc(1, sizeof *s);
    gosr_buf body = {0};
    int rc = s ? encode_config(cfg, &body) : GOSR_ENOMEM;
    if (rc != GOSR_OK)
        rc = gosr_error_set(err, rc, "out_of_memory", "session");
    if (rc == GOSR_OK)
        rc = gosr_io_write_all(fd, LOG_MAGIC, 8);
    if (rc == GOSR_OK)
        rc = write_record(fd, REC_CONFIG, &body, err);
    size_t body_len = body.len;
    gosr_buf_free(&body);
    if (rc != GOSR_OK) {
        gosr_free(s);
        gosr_io()->close(fd);
        unlink(path);
        return gosr_error_wrap(err, rc, "session_create_failed", "%s", path);
    }
    s->fd = fd;
    s->next_tick = 1;
    s->end = 8 + 5 + body_len + REC_CHECK_LEN;
    *out = s;
    return GOSR_OK;
}

int gosr_session_append_tick(gosr_session *s, uint64_t tick,
                             const gosr_event *events, size_t n,
                             const gosr_hash *hash, gosr_error *err)
{
    if (tick != s->next_tick)
        return gosr_error_set(err, GOSR_ESTATE, "session_tick_out_of_order",
                              "tick %llu logged, expected %llu",
                              (unsigned long long)tick,
                              (unsigned long long)s->next_tick);
    gosr_buf body = {0}, ev = {0};
    uint8_t f[12];
    event__put_u64(f, tick);
    event__put_u32(f + 8, (uint32_t)n);
    int rc = gosr_buf_append(&body, f, sizeof f);
    for (size_t i = 0; rc == GOSR_OK && i < n; i++) {
        ev.len = 0;
        rc = gosr_event_encode(&events[i], &ev, err);
        uint8_t len[4];
        event__put_u32(len, (uint32_t)ev.len);
        if (rc == GOSR_OK)
            rc = gosr_buf_append(&body, len, 4);
        if (rc == GOSR_OK)
            rc = gosr_buf_append(&body, ev.data, ev.len);
    }
    if (rc == GOSR_OK)
        rc = gosr_buf_append(&body, hash->b, 32);
    if (rc == GOSR_OK && body.len > REC_MAX_BODY)
        rc = gosr_error_set(err, GOSR_ETOOBIG, "session_record_too_big",
                            "tick %llu record over %u bytes",
                            (unsigned long long)tick, REC_MAX_BODY);
    if (rc == GOSR_OK) {
        rc = write_record(s->fd, REC_TICK, &body, err);
        if (rc == GOSR_OK) {
            s->next_tick++;
            s->end += 5 + body.len + REC_CHECK_LEN;
        } else {
            /* A failed write may have left part of the record: cut it off
             * so the log stays a sequence of whole records. */
            gosr_io()->ftruncate(s->fd, (off_t)s->end);
        }
    }
    gosr_buf_free(&ev);
    gosr_buf_free(&body);
    return rc;
}

int gosr_session_sync(gosr_session *s)
{
    return gosr_io()->fsync(s->fd) == 0 ? GOSR_OK
                                        : gosr_status_from_errno(errno);
}

void gosr_session_close(gosr_session *s)
{
    if (!s)
        return;
    gosr_io()->fsync(s->fd);
    gosr_io()->close(s->fd);
    gosr_free(s);
}

/* ---- reading ------------------------------------------------------------ */

/* Reads the next record into body. GOSR_ENOENT at a clean end of file;
 * GOSR_EAGAIN for a partial record at the end (a crash mid-append). */
static int read_record(FILE *f, uint8_t *type, gosr_buf *body, gosr_error *err)
{
    uint8_t head[5], check[REC_CHECK_LEN], want[REC_CHECK_LEN];
    size_t got = fread(head, 1, 5, f);
    if (got == 0 && feof(f))
        return GOSR_ENOENT;
    if (got < 5)
        return GOSR_EAGAIN;
    uint32_t len = event__get_u32(head);
    *type = head[4];
    if (len > REC_MAX_BODY)
        return gosr_error_set(err, GOSR_EFORMAT, "session_record_too_big",
                              "record of %u bytes", len);
    body->len = 0;
    if (gosr_buf_reserve(body, len) != GOSR_OK)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "record");
    if (fread(body->data, 1, len, f) != len ||
        fread(check, 1, sizeof check, f) != sizeof check)
        return GOSR_EAGAIN;
    body->len = len;
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, type, 1);
    gosr_blake3_update(&h, body->data, len);
    gosr_blake3_finalize(&h, want, sizeof want);
    if (memcmp(check, want, sizeof want) != 0)
        return gosr_error_set(err, GOSR_ECORRUPT, "session_record_corrupt",
                              "record checksum mismatch");
    return GOSR_OK;
}

static int decode_config(const gosr_buf *b, gosr_session_config *c,
                         gosr_error *err)
{
    memset(c, 0, sizeof *c);
    if (b->len < 25)
        goto bad;
    c->seed = event__get_u64(b->data);
    c->rate_hz = event__get_u32(b->data + 8);
    c->capacity = event__get_u32(b->data + 12);
    c->kv_capacity = event__get_u32(b->data + 16);
    c->spawn = event__get_u32(b->data + 20);
    size_t sl = b->data[24];
    if (sl >= sizeof c->systems || b->len != 25 + sl + 4)
        goto bad;
    memcpy(c->systems, b->data + 25, sl);
    if (event__get_u32(b->data + 25 + sl) != 0)
        return gosr_error_set(err, GOSR_EUNSUPPORTED,
                              "session_modules_unsupported",
                              "log records Lua modules; this build replays "
                              "only builtin systems");
    return GOSR_OK;
bad:
    return gosr_error_set(err, GOSR_EFORMAT, "session_bad_config",
                          "malformed CONFIG record");
}

/* ---- replay ------------------------------------------------------------- */

typedef struct replay_ctx {
    gosr_world *w; /* rebuilt world */
    gosr_tick *t;  /* fresh loop over it */
    gosr_buf body; /* record scratch */
} replay_ctx;

/* Feeds one TICK record's events, runs the tick and compares hashes. */
static int replay_tick(replay_ctx *x, gosr_replay_result *res, gosr_error *err)
{
    const uint8_t *p = x->body.data, *end = p + x->body.len;
    if (x->body.len < 12 + 32)
        goto bad;
    uint64_t tick = event__get_u64(p);
    uint32_t n = event__get_u32(p + 8);
    if (tick != res->ticks_checked + 1)
        return gosr_error_set(err, GOSR_EFORMAT, "session_tick_gap",
                              "record for tick %llu, expected %llu",
                              (unsigned long long)tick,
                              (unsigned long long)(res->ticks_checked + 1));
    p += 12;
    for (uint32_t i = 0; i < n; i++) {
        if (end - p < 4 + 32 || event__get_u32(p) > (size_t)(end - p - 4 - 32))
            goto bad;
        uint32_t len = event__get_u32(p);
        gosr_event ev;
        uint8_t id[GOSR_EVENT_ID_LEN];
        int rc = gosr_event_decode(p + 4, len, &ev, err);
        gosr_event_derive_id(res->config.seed, tick, i, id);
        if (rc == GOSR_OK &&
            (ev.tick != tick || memcmp(ev.id, id, sizeof id) != 0))
            rc = gosr_error_set(err, GOSR_EFORMAT, "session_event_mismatch",
                                "event %u of tick %llu has another tick or "
                                "id than its admission gives",
                                i, (unsigned long long)tick);
        if (rc == GOSR_OK)
            rc = gosr_tick_submit(x->t, &ev);
        gosr_event_clear(&ev);
        if (rc != GOSR_OK)
            return gosr_error_wrap(err, rc, "session_bad_event",
                                   "tick %llu event %u",
                                   (unsigned long long)tick, i);
        p += 4 + len;
    }
    if (end - p != 32)
        goto bad;
    int rc = gosr_tick_step(x->t, err);
    if (rc != GOSR_OK)
        return rc;
    res->ticks_checked++;
    res->events += n;
    memcpy(res->expected.b, p, 32);
    gosr_tick_last_hash(x->t, &res->actual);
    if (!gosr_hash_equal(&res->expected, &res->actual)) {
        res->diverged = true;
        res->first_divergent_tick = tick;
    }
    return GOSR_OK;
bad:
    return gosr_error_set(err, GOSR_EFORMAT, "session_bad_tick_record",
                          "malformed TICK record after tick %llu",
                          (unsigned long long)res->ticks_checked);
}

static int replay_setup(replay_ctx *x, const gosr_session_config *c,
                        gosr_systems_install_fn install, gosr_error *err)
{
    gosr_world_config wc = {.capacity = c->capacity,
                            .kv_capacity = c->kv_capacity,
                            .seed = c->seed,
                            .rate_hz = c->rate_hz};
    gosr_tick_config tc = {.rate_hz = c->rate_hz,
                           .hash_every_tick = true,
                           .no_sleep = true,
                           .max_events = 4096,
                           .max_queue = 4096};
    int rc = gosr_world_create(&wc, NULL, &x->w, err);
    if (rc == GOSR_OK)
        rc = gosr_tick_create(x->w, &tc, &x->t, err);
    if (rc == GOSR_OK)
        rc = gosr_sim_setup(x->w, c, err);
    if (rc == GOSR_OK)
        rc = (install ? install : gosr_sim_install)(x->t, c->systems, err);
    return rc;
}

static int replay_records(FILE *f, gosr_systems_install_fn install,
                          gosr_replay_result *res, gosr_error *err)
{
    replay_ctx x = {0};
    uint8_t type;
    int rc = read_record(f, &type, &x.body, err);
    if (rc == GOSR_OK && type != REC_CONFIG)
        rc = GOSR_EFORMAT;
    if (rc != GOSR_OK) {
        rc = gosr_error_wrap(err, rc == GOSR_ECORRUPT ? rc : GOSR_EFORMAT,
                             "session_bad_config", "no CONFIG record");
        goto out;
    }
    if ((rc = decode_config(&x.body, &res->config, err)) != GOSR_OK ||
        (rc = replay_setup(&x, &res->config, install, err)) != GOSR_OK)
        goto out;
    while (!res->diverged) {
        rc = read_record(f, &type, &x.body, err);
        if (rc == GOSR_ENOENT || rc == GOSR_EAGAIN) {
            res->truncated_tail = rc == GOSR_EAGAIN;
            rc = GOSR_OK;
            break;
        }
        if (rc == GOSR_OK && type != REC_TICK)
            rc = gosr_error_set(err, GOSR_EFORMAT, "session_bad_record_type",
                                "record type %u", type);
        if (rc == GOSR_OK)
            rc = replay_tick(&x, res, err);
        if (rc != GOSR_OK)
            break;
    }
out:
    gosr_tick_destroy(x.t);
    gosr_world_destroy(x.w);
    gosr_buf_free(&x.body);
    return rc;
}

int gosr_replay_file(const char *path, gosr_systems_install_fn install,
                     gosr_replay_result *res, gosr_error *err)
{
    memset(res, 0, sizeof *res);
    FILE *f = fopen(path, "rb");
    if (!f)
        return gosr_error_set(err, gosr_status_from_errno(errno),
                              "session_open_failed", "%s: %s", path,
                              strerror(errno));
    char magic[8];
    int rc;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, LOG_MAGIC, 8) != 0)
        rc = gosr_error_set(err, GOSR_EFORMAT, "session_bad_magic",
                            "%s is not a GOSR session log", path);
    else
        rc = replay_records(f, install, res, err);
    fclose(f);
    return rc;
}
