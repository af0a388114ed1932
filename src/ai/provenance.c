/*
 * provenance.c — the provenance log: every generation (capability,
 * provider, model, user, session, prompt hash, output hash) appended as one
 * JSON line to an append-only file, each line carrying the BLAKE3 of the
 * previous line's record ("prev") and of its own canonical record ("hash"),
 * so altering, dropping or reordering a line breaks the chain. Opening a
 * log verifies it and continues the chain.
 *
 * Design: docs/ai.md ("Provenance record format").
 */
#include "ai/ai_int.h"
#include "gosr/crypto.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>

#define MAX_LOG (256u * 1024u * 1024u)

struct gosr_ai_provenance {
    pthread_mutex_t mu; /* guards the fields below and the file */
    int fd;             /* O_APPEND file */
    bool fsync_each;    /* fsync after every record */
    uint64_t count;     /* records in the file */
    char last[65];      /* hash of the last record, hex */
};

/* Hex BLAKE3 of the record's canonical form (compact, sorted, no "hash"). */
static int record_hash(json_t *rec, char out[65])
{
    char *s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return GOSR_ENOMEM;
    gosr_hash h;
    gosr_blake3_hash(s, strlen(s), &h);
    gosr_hash_hex(&h, out);
    free(s);
    return GOSR_OK;
}

/* Checks one line against the chain; advances last/count. */
static int verify_line(const char *line, size_t n, char last[65],
                       uint64_t *count, gosr_error *err)
{
    json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
    char want[65];
    const char *hash = json_string_value(json_object_get(o, "hash"));
    const char *prev = json_string_value(json_object_get(o, "prev"));
    json_int_t seq = json_integer_value(json_object_get(o, "seq"));
    int rc = GOSR_OK;
    if (!o || !hash || !prev || strlen(hash) != 64 || seq != (json_int_t)*count ||
        strcmp(prev, last) != 0) {
        rc = GOSR_ECORRUPT;
    } else {
        char keep[65];
        snprintf(keep, sizeof keep, "%s", hash);
        json_object_del(o, "hash");
        if (record_hash(o, want) || strcmp(want, keep) != 0)
            rc = GOSR_ECORRUPT;
        else
            memcpy(last, keep, 65), (*count)++;
    }
    json_decref(o);
    if (rc)
        gosr_error_set(err, rc, "provenance_chain_broken",
                       "record %llu does not continue the chain",
                       (unsigned long long)*count + 1);
    return rc;
}

static int verify_buf(const char *p, size_t n, char last[65], uint64_t *count,
                      gosr_error *err)
{
    memset(last, '0', 64);
    last[64] = 0;
    *count = 0;
    for (size_t at = 0; at < n;) {
        const char *nl = memchr(p + at, '\n', n - at);
        if (!nl)
            return gosr_error_set(err, GOSR_ECORRUPT, "provenance_torn_line",
                                  "last record has no newline");
        int rc = verify_line(p + at, (size_t)(nl - (p + at)), last, count, err);
        if (rc)
            return rc;
        at = (size_t)(nl - p) + 1;
    }
    return GOSR_OK;
}

int gosr_ai_provenance_verify(const char *path, uint64_t *count,
                              gosr_error *err)
{
    uint8_t *data = NULL;
    size_t n = 0;
    char last[65];
    uint64_t c = 0;
    int rc = gosr_file_read_all(path, MAX_LOG, &data, &n);
    if (rc)
        return gosr_error_set(err, rc, "provenance_read", "%s", path);
    rc = verify_buf((const char *)data, n, last, &c, err);
    gosr_free(data);
    if (count)
        *count = c;
    return rc;
}

int gosr_ai_provenance_open(const char *path, bool fsync_each,
                            gosr_ai_provenance **out, gosr_error *err)
{
    gosr_ai_provenance *p = gosr_calloc(1, sizeof *p);
    uint8_t *data = NULL;
    size_t n = 0;
    if (!p)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "provenance");
    int rc = gosr_file_read_all(path, MAX_LOG, &data, &n);
    if (rc == GOSR_ENOENT || rc == GOSR_OK)
        rc = verify_buf(data ? (const char *)data : "", n, p->last, &p->count,
                        err);
    else
        gosr_error_set(err, rc, "provenance_read", "%s", path);
    gosr_free(data);
    if (!rc) {
        p->fd = gosr_io()->open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                                0644);
        if (p->fd < 0)
            rc = gosr_error_set(err, GOSR_EIO, "provenance_open", "%s", path);
    }
    if (rc) {
        gosr_free(p);
        return rc;
    }
    p->fsync_each = fsync_each;
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return GOSR_OK;
}

void gosr_ai_provenance_close(gosr_ai_provenance *p)
{
    if (!p)
        return;
    gosr_io()->close(p->fd);
    pthread_mutex_destroy(&p->mu);
    gosr_free(p);
}

uint64_t gosr_ai_provenance_count(gosr_ai_provenance *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

static json_t *make_record(const gosr_ai_provenance_rec *r, uint64_t seq,
                           const char *prev)
{
    char ph[65], oh[65];
    gosr_hex_encode(r->prompt_hash, 32, ph);
    gosr_hex_encode(r->output_hash, 32, oh);
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                     "seq", (json_int_t)seq, "time_ns",
                     (json_int_t)gosr_time_wall_ns(), "capability",
                     r->capability, "provider", r->provider, "model",
                     r->model ? r->model : "", "user", r->user, "session",
                     r->session ? r->session : "", "prompt_hash", ph,
                     "output_hash", oh, "prev", prev);
}

int gosr_ai_provenance_append(gosr_ai_provenance *p,
                              const gosr_ai_provenance_rec *r, gosr_error *err)
{
    char h[65];
    int rc = GOSR_ENOMEM;
    pthread_mutex_lock(&p->mu);
    json_t *rec = make_record(r, p->count, p->last);
    char *line = NULL;
    if (rec && !record_hash(rec, h) &&
        !json_object_set_new(rec, "hash", json_string(h)))
        line = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (!line) {
        gosr_error_set(err, rc, "out_of_memory", "provenance record");
        goto out_unlock;
    }
    /* One write per record, newline included, so lines never interleave. */
    gosr_buf b = {0};
    rc = gosr_buf_printf(&b, "%s\n", line);
    if (!rc)
        rc = gosr_io_write_all(p->fd, b.data, b.len);
    gosr_buf_free(&b);
    if (!rc && p->fsync_each)
        rc = gosr_io()->fsync(p->fd) ? GOSR_EIO : GOSR_OK;
    if (rc) {
        gosr_error_set(err, rc, "provenance_write", "append failed");
    } else {
        memcpy(p->last, h, 65);
        p->count++;
    }
out_unlock:
    free(line);
    json_decref(rec);
    pthread_mutex_unlock(&p->mu);
    return rc;
}
