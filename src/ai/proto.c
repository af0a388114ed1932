/*
 * proto.c — the wire formats of the two provider protocols: request bodies
 * for OpenAI-compatible POST /v1/chat/completions and Ollama POST /api/chat,
 * and strict parsers for their answers: a whole JSON body, an SSE stream
 * (OpenAI, stream: true, ended by "data: [DONE]") and an NDJSON stream
 * (Ollama, ended by a line with "done": true). A body or stream that is
 * malformed, truncated or reports an error is a failure with a reason.
 *
 * Design: docs/ai.md ("Provider protocols").
 */
#include "ai/ai_int.h"

#include <string.h>

#define MAX_LINE (64u * 1024u)

int ai__provider_body(const gosr_ai_provider_config *p, const ai_prompt *pr,
                      uint64_t seed, char **body, gosr_error *err)
{
    json_t *msgs = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system",
                             "content", pr->system, "role", "user", "content",
                             pr->user);
    json_t *b;
    json_int_t s = (json_int_t)(seed & 0x7fffffff);
    if (p->kind == GOSR_AI_PROVIDER_OPENAI)
        b = json_pack("{s:s, s:o, s:f, s:I, s:b, s:{s:s}}", "model", p->model,
                      "messages", msgs, "temperature", 0.7, "seed", s,
                      "stream", p->stream, "response_format", "type",
                      "json_object");
    else
        b = json_pack("{s:s, s:o, s:b, s:s, s:{s:I, s:f}}", "model", p->model,
                      "messages", msgs, "stream", p->stream, "format", "json",
                      "options", "seed", s, "temperature", 0.7);
    char *t = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    *body = t ? gosr_strdup(t) : NULL;
    free(t);
    return *body ? GOSR_OK
                 : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "body");
}

static json_t *load_obj(const char *p, size_t n, gosr_error *err)
{
    json_error_t je;
    json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        gosr_error_set(err, GOSR_EPROTO, "response_malformed",
                       "response is not JSON: %s", je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        gosr_error_set(err, GOSR_EPROTO, "response_malformed",
                       "response is not a JSON object");
        return NULL;
    }
    return o;
}

static int provider_error(const json_t *o, gosr_error *err)
{
    json_t *e = json_object_get(o, "error");
    const char *m = json_string_value(e);
    if (!m)
        m = json_string_value(json_object_get(e, "message"));
    return gosr_error_set(err, GOSR_EPROTO, "provider_error", "%.200s",
                          m ? m : "error object");
}

static int take_content(const json_t *s, char **content, gosr_error *err)
{
    if (!json_is_string(s))
        return gosr_error_set(err, GOSR_EPROTO, "response_no_content",
                              "no string content in the answer");
    *content = gosr_strndup(json_string_value(s), json_string_length(s));
    return *content ? GOSR_OK
                    : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "content");
}

int ai__openai_parse(const char *body, size_t n, char **content, gosr_error *err)
{
    json_t *o = load_obj(body, n, err);
    if (!o)
        return GOSR_EPROTO;
    int rc;
    json_t *c0 = json_array_get(json_object_get(o, "choices"), 0);
    const char *fin = json_string_value(json_object_get(c0, "finish_reason"));
    if (json_object_get(o, "error"))
        rc = provider_error(o, err);
    else if (!json_is_object(c0))
        rc = gosr_error_set(err, GOSR_EPROTO, "response_no_choices",
                            "choices[0] missing");
    else if (fin && strcmp(fin, "stop") != 0)
        rc = gosr_error_set(err, GOSR_EPROTO, "response_incomplete",
                            "finish_reason %.40s", fin);
    else
        rc = take_content(json_object_get(json_object_get(c0, "message"),
                                          "content"), content, err);
    json_decref(o);
    return rc;
}

int ai__ollama_parse(const char *body, size_t n, char **content, gosr_error *err)
{
    json_t *o = load_obj(body, n, err);
    if (!o)
        return GOSR_EPROTO;
    int rc;
    if (json_object_get(o, "error"))
        rc = provider_error(o, err);
    else if (!json_is_true(json_object_get(o, "done")))
        rc = gosr_error_set(err, GOSR_EPROTO, "response_incomplete",
                            "answer not marked done");
    else
        rc = take_content(json_object_get(json_object_get(o, "message"),
                                          "content"), content, err);
    json_decref(o);
    return rc;
}

/* ---- streams ------------------------------------------------------------ */

void ai__stream_init(ai_stream *s, bool ndjson, size_t max)
{
    memset(s, 0, sizeof *s);
    s->ndjson = ndjson;
    s->max = max ? max : (1u << 20);
}

void ai__stream_free(ai_stream *s)
{
    gosr_buf_free(&s->line);
    gosr_buf_free(&s->content);
}

static int sfail(ai_stream *s, int status, const char *reason, const char *d)
{
    if (!s->status)
        s->status = gosr_error_set(&s->err, status, reason, "%s", d);
    return s->status;
}

static int append_delta(ai_stream *s, const json_t *c)
{
    if (!c || json_is_null(c))
        return GOSR_OK;
    if (!json_is_string(c))
        return sfail(s, GOSR_EPROTO, "stream_malformed", "content not a string");
    if (s->content.len + json_string_length(c) > s->max)
        return sfail(s, GOSR_ETOOBIG, "response_too_large", "stream too large");
    return gosr_buf_append(&s->content, json_string_value(c),
                           json_string_length(c))
               ? sfail(s, GOSR_ENOMEM, "out_of_memory", "stream")
               : GOSR_OK;
}

static int sse_event(ai_stream *s, const char *data, size_t n)
{
    if (n == 6 && !memcmp(data, "[DONE]", 6)) {
        s->done = true;
        return GOSR_OK;
    }
    json_t *o = load_obj(data, n, &s->err);
    if (!o)
        return sfail(s, GOSR_EPROTO, "stream_malformed", "event not JSON");
    int rc;
    json_t *c0 = json_array_get(json_object_get(o, "choices"), 0);
    if (json_object_get(o, "error"))
        rc = sfail(s, GOSR_EPROTO, "provider_error", "error event");
    else if (!json_is_object(c0))
        rc = sfail(s, GOSR_EPROTO, "stream_malformed", "chunk without choices");
    else
        rc = append_delta(s, json_object_get(json_object_get(c0, "delta"),
                                             "content"));
    json_decref(o);
    return rc;
}

static int ndjson_line(ai_stream *s, const char *line, size_t n)
{
    json_t *o = load_obj(line, n, &s->err);
    if (!o)
        return sfail(s, GOSR_EPROTO, "stream_malformed", "line not JSON");
    int rc;
    if (json_object_get(o, "error"))
        rc = sfail(s, GOSR_EPROTO, "provider_error", "error line");
    else
        rc = append_delta(s, json_object_get(json_object_get(o, "message"),
                                             "content"));
    if (!rc && json_is_true(json_object_get(o, "done")))
        s->done = true;
    json_decref(o);
    return rc;
}

static int one_line(ai_stream *s, const char *l, size_t n)
{
    if (n && l[n - 1] == '\r')
        n--;
    if (s->done && n)
        return sfail(s, GOSR_EPROTO, "stream_malformed", "data after the end");
    if (s->ndjson)
        return n ? ndjson_line(s, l, n) : GOSR_OK;
    if (n == 0 || l[0] == ':')
        return GOSR_OK; /* event separator or comment */
    if (n >= 5 && !memcmp(l, "data:", 5)) {
        size_t off = (n > 5 && l[5] == ' ') ? 6 : 5;
        return sse_event(s, l + off, n - off);
    }
    return GOSR_OK; /* event:, id:, retry: fields are ignored */
}

int ai__stream_feed(ai_stream *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !s->status; i++) {
        if (p[i] != '\n') {
            if (s->line.len >= MAX_LINE)
                return sfail(s, GOSR_ETOOBIG, "stream_line_too_long", "line");
            if (gosr_buf_append(&s->line, &p[i], 1))
                return sfail(s, GOSR_ENOMEM, "out_of_memory", "line");
            continue;
        }
        one_line(s, s->line.data ? (char *)s->line.data : "", s->line.len);
        s->line.len = 0;
    }
    return s->status;
}

int ai__stream_finish(ai_stream *s, char **content, gosr_error *err)
{
    if (!s->status && s->line.len)
        one_line(s, (char *)s->line.data, s->line.len), s->line.len = 0;
    if (!s->status && !s->done)
        sfail(s, GOSR_EPROTO, "stream_truncated", "stream ended before its end marker");
    if (s->status) {
        if (err)
            *err = s->err;
        return s->status;
    }
    *content = gosr_strndup(s->content.data ? (char *)s->content.data : "",
                            s->content.len);
    return *content ? GOSR_OK
                    : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "content");
}
