/*
 * ai_int.h — hidden cross-file API of the AI core (prefix ai__): the clock
 * helper, the seeded PRNG, semantic checks, response parsers, prompt
 * safety, the provider transfer layer and the loopback servers (the mock
 * LLM used by tests and benches, and the HTTP front door of the load run).
 *
 * Design: docs/ai.md.
 */
#ifndef GOSR_AI_INT_H
#define GOSR_AI_INT_H

#include "gosr/ai.h"

#include <stdio.h>

#define GOSR_AI_MAX_ID 128

/* ---- shared helpers ----------------------------------------------------- */

/* clock(ud), or gosr_time_mono_ns when clock is NULL. */
uint64_t ai__now(gosr_ai_clock_fn clock, void *ud);
/* True for [a-z0-9][a-z0-9._-]{0,63} (the gmod id rule). */
bool ai__id_ok(const char *s);
/* Checks what a schema cannot: quest targets in the world, map geometry
 * and connectivity, patch files and Lua syntax. */
int ai__cap_semantic_check(gosr_ai_cap cap, const json_t *in,
                           const json_t *out, gosr_error *err);
/* grid is w*h tile chars; checks spawns are on walkable tiles and every
 * walkable tile is reachable from the first spawn. */
int ai__map_check_grid(const char *grid, int w, int h, const json_t *legend,
                       const json_t *spawns, gosr_error *err);
/* Patch bundle checks: entry and scripts name files present, the Lua
 * compiles (text chunks only), ids valid. */
int ai__patch_check(const json_t *out, gosr_error *err);

/* ---- PRNG: xoshiro256** seeded by SplitMix64 from a BLAKE3 digest ------- */

typedef struct ai_rng {
    uint64_t s[4]; /* xoshiro256** state */
} ai_rng;

/* Seeds from BLAKE3("gosr-ai-ghost-v1" || cap || seed(le64) || input). */
void ai__rng_seed(ai_rng *r, gosr_ai_cap cap, uint64_t seed,
                  const char *input, size_t n);
uint64_t ai__rng_next(ai_rng *r);
/* Uniform in [0, n) (n > 0), by rejection, so no modulo bias. */
uint32_t ai__rng_below(ai_rng *r, uint32_t n);
/* Uniform double in [0, 1). */
double ai__rng_unit(ai_rng *r);

/* ---- response parsers (fuzzed) ------------------------------------------ */

/* Parses a complete OpenAI chat completions body; *content gets
 * choices[0].message.content (caller frees with gosr_free). */
int ai__openai_parse(const char *body, size_t n, char **content,
                     gosr_error *err);
/* Parses a complete Ollama /api/chat body (non-streaming). */
int ai__ollama_parse(const char *body, size_t n, char **content,
                     gosr_error *err);

/* Incremental stream parser for SSE (OpenAI stream: true) or NDJSON
 * (Ollama stream). Feed bytes as they arrive; finish checks the stream
 * ended properly ("data: [DONE]" / a line with "done": true). */
typedef struct ai_stream {
    bool ndjson;       /* NDJSON (Ollama) instead of SSE (OpenAI) */
    gosr_buf line;     /* partial line carried between feeds */
    gosr_buf content;  /* accumulated content deltas */
    size_t max;        /* content cap in bytes */
    bool done;         /* the terminator was seen */
    int status;        /* first error, sticky */
    gosr_error err;    /* its detail */
} ai_stream;

void ai__stream_init(ai_stream *s, bool ndjson, size_t max);
int ai__stream_feed(ai_stream *s, const char *p, size_t n);
/* On OK, *content is the text (caller frees with gosr_free). */
int ai__stream_finish(ai_stream *s, char **content, gosr_error *err);
void ai__stream_free(ai_stream *s);

/* ---- prompt safety ------------------------------------------------------ */

/* A prompt ready to send: system and user messages. */
typedef struct ai_prompt {
    char *system;   /* owned */
    char *user;     /* owned; holds the fenced untrusted input */
    char token[33]; /* per-request safety token (hex) */
} ai_prompt;

/* Builds the prompt for a capability from its template, the user's tuning
 * and the (already validated) input. The input is serialised as JSON with
 * '<' and '>' escaped as \u003c / \u003e, so it can never contain the
 * fence; the fence carries a random token. */
int ai__prompt_build(gosr_ai_cap cap, const gosr_ai_tuning *tuning,
                     const json_t *input, ai_prompt *out, gosr_error *err);
void ai__prompt_free(ai_prompt *p);
/* Checks a candidate output against the content policy: banned terms,
 * injection markers, the safety token, size caps. GOSR_EDENIED with reason
 * "policy_*". */
int ai__policy_check(const json_t *out, const char *token, gosr_error *err);
/* Parses provider text into the capability's output: strips one ```json
 * fence, parses strictly, validates schema + semantics + policy. *out is
 * the compact sorted JSON (caller frees with gosr_free). */
int ai__accept_output(gosr_ai_cap cap, const json_t *input, const char *text,
                      const char *token, char **out, gosr_error *err);
/* True if `text` contains a banned term (lower-cased match). Used by the
 * moderation classifier too. */
const char *ai__policy_banned(const char *text);
const char *ai__policy_injection(const char *text);

/* ---- provider transfers ------------------------------------------------- */

/* One HTTP exchange with a provider, driven by the router's curl multi. */
typedef struct ai_xfer ai_xfer;

/* Builds the request body for a provider (caller frees *body). */
int ai__provider_body(const gosr_ai_provider_config *p, const ai_prompt *pr,
                      uint64_t seed, char **body, gosr_error *err);

/* ---- loopback servers (tests, benches, `gosr ai serve-mock`) ------------ */

/* The mock LLM: a real HTTP server (libmicrohttpd) on 127.0.0.1 speaking
 * POST /v1/chat/completions and POST /api/chat. The model name picks the
 * behaviour: "ok", "slow-MS" (sleep MS then ok), "500", "429",
 * "malformed", "truncated", "invalid" (schema-invalid content), "flaky" (500 or ok, switched by
 * ai__mock_set_flaky), "unsafe"
 * (banned term), "echo" (echoes the untrusted input, i.e. a model that
 * follows injected instructions). Any other model answers "ok", except
 * that every model echoes when the prompt contains "ignore previous
 * instructions" (a gullible model). */
typedef struct ai_mock ai_mock;

int ai__mock_start(uint16_t port, ai_mock **out, gosr_error *err);
uint16_t ai__mock_port(ai_mock *m);
/* Model "flaky" answers 500 while `fail` is set, "ok" otherwise. */
void ai__mock_set_flaky(ai_mock *m, bool fail);
/* Requests received so far whose model starts with `model_prefix` (NULL:
 * all). */
uint64_t ai__mock_count(ai_mock *m, const char *model_prefix);
void ai__mock_stop(ai_mock *m);

/* The front door of the load run: POST /ai/CAPABILITY with header
 * X-Gosr-User; the tier comes from the server-side directory callback
 * (zero trust: the client cannot claim a tier). */
typedef bool (*ai_directory_fn)(void *ud, const char *user,
                                gosr_ai_tier *tier);
typedef struct ai_frontdoor ai_frontdoor;

int ai__frontdoor_start(gosr_ai_router *r, ai_directory_fn dir, void *ud,
                        uint16_t port, ai_frontdoor **out, gosr_error *err);
uint16_t ai__frontdoor_port(ai_frontdoor *f);
void ai__frontdoor_stop(ai_frontdoor *f);

#endif /* GOSR_AI_INT_H */
