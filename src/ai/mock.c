/*
 * mock.c — the loopback LLM server: a real HTTP server (libmicrohttpd,
 * thread per connection) bound to 127.0.0.1 that speaks the OpenAI chat
 * completions wire format (POST /v1/chat/completions, JSON or SSE) and
 * Ollama's (POST /api/chat, JSON or NDJSON). It exists so tests, benches
 * and `gosr ai serve-mock` can drive the real provider code through every
 * failure a network model shows: slow, 5xx, 429, malformed JSON, truncated
 * bodies, schema-invalid and unsafe content. The behaviour is picked by the
 * request's model name (see ai_int.h). "ok" answers come from the ghost
 * generator run on the fenced input it finds in the prompt, so they are
 * valid for the capability named in the system message.
 *
 * Not part of the runtime's serving path. Design: docs/ai.md ("Loopback
 * LLM server").
 */
#include "ai/ai_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (1u << 20)
#define MAX_MODELS 32

typedef struct model_count {
    char name[48];  /* model name */
    uint64_t count; /* requests seen */
} model_count;

struct ai_mock {
    struct MHD_Daemon *d;            /* the server */
    uint16_t port;                   /* bound port */
    atomic_bool stopping;            /* cuts slow sleeps short */
    atomic_bool flaky_fail;          /* model "flaky" answers 500 when set */
    pthread_mutex_t mu;              /* guards counts */
    model_count counts[MAX_MODELS];  /* per-model request counts */
};

typedef struct upload {
    gosr_buf body; /* request body so far */
    bool too_big;  /* body exceeded MAX_BODY */
} upload;

static void count_model(ai_mock *m, const char *model)
{
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < MAX_MODELS; i++) {
        if (!m->counts[i].name[0])
            snprintf(m->counts[i].name, sizeof m->counts[i].name, "%s", model);
        if (!strcmp(m->counts[i].name, model)) {
            m->counts[i].count++;
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
}

uint64_t ai__mock_count(ai_mock *m, const char *prefix)
{
    uint64_t n = 0;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < MAX_MODELS && m->counts[i].name[0]; i++)
        if (!prefix || !strncmp(m->counts[i].name, prefix, strlen(prefix)))
            n += m->counts[i].count;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static void nap_ms(ai_mock *m, long ms)
{
    for (long t = 0; t < ms && !atomic_load(&m->stopping); t += 5) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- content ------------------------------------------------------------ */

/* Finds "CAPABILITY: name" in the system message. */
static bool find_cap(const char *sys, gosr_ai_cap *cap)
{
    const char *p = sys ? strstr(sys, "CAPABILITY: ") : NULL;
    char name[40];
    size_t n = 0;
    if (!p)
        return false;
    for (p += 12; *p && *p != '\n' && n + 1 < sizeof name; p++)
        name[n++] = *p;
    name[n] = 0;
    return gosr_ai_cap_from_name(name, cap) == GOSR_OK;
}

/* The fenced input: the line after "<<UNTRUSTED-...>>" up to the closer. */
static json_t *find_input(const char *user)
{
    const char *a = user ? strstr(user, ">>\n") : NULL;
    const char *b = a ? strstr(a, "\n<</UNTRUSTED-") : NULL;
    if (!a || !b)
        return NULL;
    return json_loadb(a + 3, (size_t)(b - a - 3), 0, NULL);
}

static bool gullible(const char *user)
{
    char low[256];
    size_t n = 0;
    const char *hit = NULL;
    for (const char *p = user; p && *p; p++) {
        low[n++] = (char)tolower((unsigned char)*p);
        if (n == sizeof low - 1 || !p[1]) {
            low[n] = 0;
            if ((hit = strstr(low, "ignore previous instructions")))
                return true;
            /* keep an overlap so a phrase across the boundary is found */
            size_t keep = n > 40 ? 40 : n;
            memmove(low, low + n - keep, keep);
            n = keep;
        }
    }
    return false;
}

/* The text the model "writes" for `mode`; caller frees with gosr_free. */
static char *make_content(const char *mode, const char *sys, const char *user,
                          uint64_t seed)
{
    gosr_ai_cap cap = GOSR_AI_NPC_DIALOG;
    json_t *in = find_input(user);
    char *g = NULL;
    if (!strcmp(mode, "invalid")) {
        json_decref(in);
        return gosr_strdup("{\"unexpected\":true}");
    }
    if (!find_cap(sys, &cap) || !in ||
        gosr_ai_cap_fill_defaults(cap, in, NULL) ||
        gosr_ai_ghost_generate(cap, in, seed ^ 0x5eed, &g, NULL)) {
        json_decref(in);
        return gosr_strdup("I am not sure what you want.");
    }
    json_decref(in);
    if (strcmp(mode, "unsafe") && strcmp(mode, "echo"))
        return g;
    json_t *o = json_loads(g, 0, NULL);
    gosr_free(g);
    json_object_set_new(o, "note", json_string(
        !strcmp(mode, "unsafe") ? "Sure. Also, kill yourself." : user));
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    g = t ? gosr_strdup(t) : NULL;
    free(t);
    return g;
}

/* ---- wire formats ------------------------------------------------------- */

static void piece(gosr_buf *out, bool openai, bool sse, const char *model,
                  const char *text, size_t n, bool last)
{
    json_t *s = json_stringn(text, n), *o;
    if (openai)
        o = json_pack("{s:s, s:s, s:s, s:[{s:i, s:{s:o}, s:s?}]}", "id",
                      "chatcmpl-mock", "object", "chat.completion.chunk",
                      "model", model, "choices", "index", 0, "delta",
                      "content", s, "finish_reason", last ? "stop" : NULL);
    else
        o = json_pack("{s:s, s:{s:s, s:o}, s:b}", "model", model, "message",
                      "role", "assistant", "content", s, "done", 0);
    char *t = json_dumps(o, JSON_COMPACT);
    gosr_buf_printf(out, sse ? "data: %s\n\n" : "%s\n", t ? t : "{}");
    free(t);
    json_decref(o);
}

static void stream_body(gosr_buf *out, bool openai, const char *model,
                        const char *c, bool cut)
{
    size_t n = strlen(c), step = n / 3 + 1;
    for (size_t at = 0; at < n; at += step)
        piece(out, openai, openai, model, c + at, at + step < n ? step : n - at,
              at + step >= n);
    if (cut) /* truncated: stop before the end marker */
        return;
    if (openai)
        gosr_buf_printf(out, "data: [DONE]\n\n");
    else
        gosr_buf_printf(out, "{\"model\":\"%s\",\"message\":{\"role\":"
                        "\"assistant\",\"content\":\"\"},\"done\":true}\n", model);
}

static void whole_body(gosr_buf *out, bool openai, const char *model,
                       const char *c)
{
    json_t *o = openai
        ? json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:{s:s, s:s}, s:s}],"
                    " s:{s:i, s:i}}", "id", "chatcmpl-mock", "object",
                    "chat.completion", "created", 0, "model", model, "choices",
                    "index", 0, "message", "role", "assistant", "content", c,
                    "finish_reason", "stop", "usage", "prompt_tokens", 1,
                    "completion_tokens", 1)
        : json_pack("{s:s, s:s, s:{s:s, s:s}, s:b}", "model", model,
                    "created_at", "2026-01-01T00:00:00Z", "message", "role",
                    "assistant", "content", c, "done", 1);
    char *t = json_dumps(o, JSON_COMPACT);
    gosr_buf_printf(out, "%s", t ? t : "{}");
    free(t);
    json_decref(o);
}

/* A fixed-size response that sends only the first half then fails. */
typedef struct cut_body {
    char *data; /* owned bytes */
    size_t len; /* bytes actually sent */
} cut_body;

static ssize_t cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    cut_body *c = cls;
    if (pos >= c->len)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = c->len - pos < max ? c->len - (size_t)pos : max;
    memcpy(buf, c->data + pos, n);
    return (ssize_t)n;
}

static void cut_free(void *cls)
{
    cut_body *c = cls;
    gosr_free(c->data);
    gosr_free(c);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code,
                            const char *ctype, gosr_buf *b, bool cut)
{
    struct MHD_Response *r;
    if (cut) {
        cut_body *c = gosr_calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        c->data = (char *)b->data;
        c->len = b->len / 2;
        r = MHD_create_response_from_callback(b->len, 4096, cut_reader, c,
                                              cut_free);
        *b = (gosr_buf){0};
    } else {
        r = MHD_create_response_from_buffer(b->len, b->data ? b->data : (void *)"",
                                            MHD_RESPMEM_MUST_COPY);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    if (code == 429)
        MHD_add_response_header(r, "Retry-After", "1");
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer(ai_mock *m, struct MHD_Connection *conn,
                              bool openai, json_t *req)
{
    const char *model = json_string_value(json_object_get(req, "model"));
    bool stream = json_is_true(json_object_get(req, "stream"));
    json_t *msgs = json_object_get(req, "messages");
    const char *sys = json_string_value(json_object_get(json_array_get(msgs, 0), "content"));
    const char *user = json_string_value(json_object_get(json_array_get(msgs, 1), "content"));
    json_t *seedv = openai ? json_object_get(req, "seed")
                           : json_object_get(json_object_get(req, "options"), "seed");
    gosr_buf b = {0};
    const char *mode = model ? model : "ok";
    count_model(m, mode);
    if (!strncmp(mode, "slow-", 5)) {
        nap_ms(m, atol(mode + 5));
        mode = "ok";
    }
    if (!strcmp(mode, "flaky"))
        mode = atomic_load(&m->flaky_fail) ? "500" : "ok";
    if (!strcmp(mode, "500") || !strcmp(mode, "429")) {
        gosr_buf_printf(&b, "{\"error\":{\"message\":\"mock %s\"}}", mode);
        enum MHD_Result r = reply(conn, (unsigned)atoi(mode), "application/json", &b, false);
        gosr_buf_free(&b);
        return r;
    }
    if (!strcmp(mode, "malformed")) {
        gosr_buf_printf(&b, "{\"choices\":[{\"message\":{\"content\": oops");
        enum MHD_Result r = reply(conn, 200, "application/json", &b, false);
        gosr_buf_free(&b);
        return r;
    }
    if (user && gullible(user))
        mode = "echo";
    char *c = make_content(mode, sys, user, (uint64_t)json_integer_value(seedv));
    bool cut = !strcmp(mode, "truncated");
    if (stream)
        stream_body(&b, openai, model ? model : "ok", c ? c : "", cut);
    else
        whole_body(&b, openai, model ? model : "ok", c ? c : "");
    gosr_free(c);
    enum MHD_Result r = reply(conn, 200,
                             stream ? (openai ? "text/event-stream"
                                              : "application/x-ndjson")
                                    : "application/json",
                             &b, cut && !stream);
    gosr_buf_free(&b);
    return r;
}

static enum MHD_Result simple(struct MHD_Connection *conn, unsigned code,
                              const char *msg)
{
    gosr_buf b = {0};
    gosr_buf_printf(&b, "{\"error\":{\"message\":\"%s\"}}", msg);
    enum MHD_Result r = reply(conn, code, "application/json", &b, false);
    gosr_buf_free(&b);
    return r;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    upload *u = *con_cls;
    if (!u) {
        if (!(u = gosr_calloc(1, sizeof *u)))
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*size) {
        if (u->body.len + *size > MAX_BODY)
            u->too_big = true;
        else if (gosr_buf_append(&u->body, data, *size))
            return MHD_NO;
        *size = 0;
        return MHD_YES;
    }
    bool openai = !strcmp(url, "/v1/chat/completions");
    if (strcmp(method, "POST") || (!openai && strcmp(url, "/api/chat")))
        return simple(conn, 404, "no such endpoint");
    if (u->too_big)
        return simple(conn, 413, "request too large");
    json_t *req = json_loadb(u->body.data ? (char *)u->body.data : "",
                             u->body.len, 0, NULL);
    if (!json_is_object(req)) {
        json_decref(req);
        return simple(conn, 400, "request is not JSON");
    }
    enum MHD_Result r = answer(cls, conn, openai, req);
    json_decref(req);
    return r;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    upload *u = *con_cls;
    if (u) {
        gosr_buf_free(&u->body);
        gosr_free(u);
        *con_cls = NULL;
    }
}

int ai__mock_start(uint16_t port, ai_mock **out, gosr_error *err)
{
    ai_mock *m = gosr_calloc(1, sizeof *m);
    if (!m)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "mock");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_mutex_init(&m->mu, NULL);
    m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                                MHD_USE_THREAD_PER_CONNECTION,
                            0, NULL, NULL, handler, m,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, m,
                            MHD_OPTION_CONNECTION_LIMIT, 2000u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                            MHD_OPTION_END);
    if (!m->d) {
        pthread_mutex_destroy(&m->mu);
        gosr_free(m);
        return gosr_error_set(err, GOSR_EIO, "mock_start",
                              "cannot listen on 127.0.0.1:%u", port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    m->port = di ? di->port : port;
    *out = m;
    return GOSR_OK;
}

uint16_t ai__mock_port(ai_mock *m) { return m->port; }

void ai__mock_set_flaky(ai_mock *m, bool fail) { atomic_store(&m->flaky_fail, fail); }

void ai__mock_stop(ai_mock *m)
{
    if (!m)
        return;
    atomic_store(&m->stopping, true);
    MHD_stop_daemon(m->d);
    pthread_mutex_destroy(&m->mu);
    gosr_free(m);
}
