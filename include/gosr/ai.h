/*
 * gosr/ai.h — the AI core: the capability registry (the seed's "limbs") with
 * JSON-schema-lite contracts, circuit breakers and per-deployment cooldowns,
 * token-bucket rate tiers, providers (OpenAI-compatible and Ollama over
 * libcurl multi), prompt safety, per-user state (SQLite), the hash-chained
 * provenance log, kill switches, the deterministic last tier (the "ghost
 * limb") and the router that ties them together on its own thread.
 *
 * Design: docs/ai.md (schemas, protocols, breaker state table, tiers,
 * safety, provenance record format, kill switches, CLI, figures).
 */
#ifndef GOSR_AI_H
#define GOSR_AI_H

#include "gosr/base.h"

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- clock -------------------------------------------------------------- */

/* A monotonic clock in nanoseconds. Breakers, limiters and the router take
 * one so tests drive time deterministically; NULL means gosr_time_mono_ns. */
typedef uint64_t (*gosr_ai_clock_fn)(void *ud);

/* ---- capability registry ------------------------------------------------ */

typedef enum gosr_ai_cap {
    GOSR_AI_NPC_DIALOG = 0,        /* NPC dialogue lines */
    GOSR_AI_QUEST_GEN = 1,         /* a quest constrained by the world */
    GOSR_AI_MAP_GEN = 2,           /* a tile map with spawn points */
    GOSR_AI_ECONOMY_TUNE = 3,      /* bounded economy multipliers */
    GOSR_AI_MODERATION_CLASSIFY = 4, /* label a text */
    GOSR_AI_PATCH_AUTHOR = 5,      /* a patch bundle (manifest + Lua) */
    GOSR_AI_CAP_COUNT = 6
} gosr_ai_cap;

/* "npc_dialog", ...; "unknown" for an out-of-range value. */
GOSR_API const char *gosr_ai_cap_name(gosr_ai_cap cap);
/* Looks a capability up by name; GOSR_ENOENT when unknown. */
GOSR_API int gosr_ai_cap_from_name(const char *name, gosr_ai_cap *out);
/* The capability's input / output JSON schema (borrowed, process lifetime;
 * NULL only if the built-in schema text failed to load, which a test
 * guards). */
GOSR_API const json_t *gosr_ai_cap_input_schema(gosr_ai_cap cap);
GOSR_API const json_t *gosr_ai_cap_output_schema(gosr_ai_cap cap);

/* Validates `value` against a schema written in the subset documented in
 * docs/ai.md (type, properties, required, additionalProperties:false, enum,
 * minimum/maximum, minLength/maxLength, items, minItems/maxItems, pattern-
 * free). GOSR_EFORMAT with reason "schema_*" and a JSON-pointer-like path
 * in the detail; GOSR_EINVAL when the schema itself uses an unknown
 * keyword (reason "schema_keyword"). */
GOSR_API int gosr_ai_schema_validate(const json_t *schema, const json_t *value,
                                     gosr_error *err);

/* Fills the capability's defaults into `input` (an object, modified in
 * place) so every capability accepts {} and the result passes the input
 * schema. */
GOSR_API int gosr_ai_cap_fill_defaults(gosr_ai_cap cap, json_t *input,
                                       gosr_error *err);

/* ---- circuit breaker ---------------------------------------------------- */

typedef enum gosr_ai_breaker_state {
    GOSR_AI_BREAKER_CLOSED = 0,
    GOSR_AI_BREAKER_OPEN = 1,
    GOSR_AI_BREAKER_HALF_OPEN = 2,
} gosr_ai_breaker_state;

typedef enum gosr_ai_window_kind {
    GOSR_AI_WINDOW_COUNT = 0, /* the last N calls */
    GOSR_AI_WINDOW_TIME = 1,  /* calls in the last N seconds */
} gosr_ai_window_kind;

/* Breaker settings; zero fields take the defaults in brackets. */
typedef struct gosr_ai_breaker_config {
    gosr_ai_window_kind window;   /* [COUNT] */
    uint32_t window_size;         /* calls (COUNT) or seconds (TIME) [20] */
    uint32_t minimum_calls;       /* before rates are judged [5] */
    uint32_t failure_rate_pct;    /* open at >= this % failures [50] */
    uint32_t slow_rate_pct;       /* open at >= this % slow calls [80] */
    uint64_t slow_call_ns;        /* a call this long is slow [2 s] */
    uint64_t wait_open_ns;        /* stay open this long [5 s] */
    uint32_t half_open_calls;     /* trial calls in half-open [3] */
    gosr_ai_clock_fn clock;       /* [gosr_time_mono_ns] */
    void *clock_ud;               /* passed to clock */
} gosr_ai_breaker_config;

typedef struct gosr_ai_breaker gosr_ai_breaker;

/* Snapshot of a breaker for status output. */
typedef struct gosr_ai_breaker_stats {
    gosr_ai_breaker_state state; /* current state */
    uint32_t calls;              /* calls in the window */
    uint32_t failures;           /* failed calls in the window */
    uint32_t slow;               /* slow calls in the window */
    uint64_t rejected;           /* calls refused since creation */
    uint64_t opened;             /* times it went to OPEN */
} gosr_ai_breaker_stats;

/* Creates a breaker; caller destroys with gosr_ai_breaker_destroy. Thread
 * safe (one mutex). */
GOSR_API int gosr_ai_breaker_create(const gosr_ai_breaker_config *cfg,
                                    gosr_ai_breaker **out);
GOSR_API void gosr_ai_breaker_destroy(gosr_ai_breaker *b);
/* Asks for permission to call. CLOSED: yes. OPEN: no until wait_open has
 * passed, then HALF_OPEN. HALF_OPEN: yes for half_open_calls trial calls,
 * then no until they are recorded. A caller that got `true` must call
 * gosr_ai_breaker_record exactly once. */
GOSR_API bool gosr_ai_breaker_allow(gosr_ai_breaker *b);
/* Records the outcome of a permitted call and its duration. */
GOSR_API void gosr_ai_breaker_record(gosr_ai_breaker *b, bool ok,
                                     uint64_t duration_ns);
/* Current state (applies the OPEN -> HALF_OPEN timeout first). */
GOSR_API gosr_ai_breaker_state gosr_ai_breaker_state_now(gosr_ai_breaker *b);
GOSR_API void gosr_ai_breaker_stats_get(gosr_ai_breaker *b,
                                        gosr_ai_breaker_stats *out);
/* "closed", "open", "half_open". */
GOSR_API const char *gosr_ai_breaker_state_name(gosr_ai_breaker_state s);

/* Per-deployment cooldown: after `allowed_fails` consecutive failures, or
 * on an explicit rate-limit answer (HTTP 429), a deployment is skipped by
 * every capability until the cooldown ends. Zero fields: [3], [5 s]. */
typedef struct gosr_ai_cooldown {
    uint32_t allowed_fails; /* consecutive failures before cooling [3] */
    uint64_t cooldown_ns;   /* how long to cool [5 s] */
    uint32_t consecutive;   /* current run of failures */
    uint64_t until_ns;      /* skip the deployment while now < until */
} gosr_ai_cooldown;

/* True while the deployment must be skipped. */
GOSR_API bool gosr_ai_cooldown_active(const gosr_ai_cooldown *c, uint64_t now);
/* Records an outcome; `retry_after_ns` > 0 (a 429) cools at once for that
 * long (at least cooldown_ns). */
GOSR_API void gosr_ai_cooldown_record(gosr_ai_cooldown *c, bool ok,
                                      uint64_t retry_after_ns, uint64_t now);

/* ---- rate tiers --------------------------------------------------------- */

typedef enum gosr_ai_tier {
    GOSR_AI_TIER_FREE = 0,
    GOSR_AI_TIER_PREMIUM = 1,
    GOSR_AI_TIER_ENTERPRISE = 2,
    GOSR_AI_TIER_COUNT = 3
} gosr_ai_tier;

typedef enum gosr_ai_model_size {
    GOSR_AI_SIZE_SMALL = 0,
    GOSR_AI_SIZE_LARGE = 1,
    GOSR_AI_SIZE_CUSTOM = 2,
} gosr_ai_model_size;

/* What a tier grants. Every capability is available on every tier; only
 * these numbers differ. */
typedef struct gosr_ai_tier_limits {
    double user_rate;            /* requests/second per user */
    double user_burst;           /* bucket size per user */
    double cap_rate;             /* requests/second per user and capability */
    double cap_burst;            /* bucket size per user and capability */
    uint32_t concurrency;        /* requests in flight per user */
    gosr_ai_model_size max_size; /* largest model size the tier may use */
} gosr_ai_tier_limits;

/* The built-in tier table (docs/ai.md "Tiers"). */
GOSR_API const gosr_ai_tier_limits *gosr_ai_tier_limits_get(gosr_ai_tier t);
GOSR_API const char *gosr_ai_tier_name(gosr_ai_tier t);
GOSR_API int gosr_ai_tier_from_name(const char *name, gosr_ai_tier *out);
GOSR_API const char *gosr_ai_model_size_name(gosr_ai_model_size s);

typedef struct gosr_ai_limiter gosr_ai_limiter;

/* Limiter settings; zero fields take defaults. */
typedef struct gosr_ai_limiter_config {
    uint32_t max_users;       /* tracked users; idle ones are evicted [65536] */
    gosr_ai_clock_fn clock;   /* [gosr_time_mono_ns] */
    void *clock_ud;           /* passed to clock */
} gosr_ai_limiter_config;

/* Creates a limiter; destroy with gosr_ai_limiter_destroy. Thread safe. */
GOSR_API int gosr_ai_limiter_create(const gosr_ai_limiter_config *cfg,
                                    gosr_ai_limiter **out);
GOSR_API void gosr_ai_limiter_destroy(gosr_ai_limiter *l);
/* Takes one token from the user's bucket and the user's bucket for `cap`,
 * and one concurrency slot. GOSR_EAGAIN (reason "rate_limited" or
 * "concurrency_limited", *retry_after_ns filled when not NULL) when refused;
 * GOSR_EBUSY ("limiter_full") when the user table is full of active users.
 * A successful take must be paired with gosr_ai_limiter_release. */
GOSR_API int gosr_ai_limiter_take(gosr_ai_limiter *l, const char *user,
                                  gosr_ai_cap cap, gosr_ai_tier tier,
                                  uint64_t *retry_after_ns, gosr_error *err);
/* Returns the concurrency slot of a successful take. */
GOSR_API void gosr_ai_limiter_release(gosr_ai_limiter *l, const char *user);
/* Users currently tracked. */
GOSR_API size_t gosr_ai_limiter_users(gosr_ai_limiter *l);

/* ---- per-user state ----------------------------------------------------- */

/* Per-user prompt tuning, stored in SQLite. */
typedef struct gosr_ai_tuning {
    char tone[16];     /* "neutral", "friendly", "grim", "whimsical" */
    int verbosity;     /* 1 (terse) .. 3 (chatty) */
    char language[16]; /* BCP 47 tag, "en" by default */
} gosr_ai_tuning;

typedef struct gosr_ai_userstate gosr_ai_userstate;
/* A handle bound to one user: every query made through it is bound to that
 * user's id, so it can never read or write another user's rows. */
typedef struct gosr_ai_user gosr_ai_user;

/* Opens (creating) the per-user database at `path` (":memory:" allowed).
 * Caller closes with gosr_ai_userstate_close. Thread safe (serialised). */
GOSR_API int gosr_ai_userstate_open(const char *path, gosr_ai_userstate **out,
                                    gosr_error *err);
GOSR_API void gosr_ai_userstate_close(gosr_ai_userstate *us);
/* Binds a handle to `user_id` (1..128 bytes). Caller frees it with
 * gosr_ai_user_release before closing the store. */
GOSR_API int gosr_ai_user_open(gosr_ai_userstate *us, const char *user_id,
                               gosr_ai_user **out, gosr_error *err);
GOSR_API void gosr_ai_user_release(gosr_ai_user *u);
/* Reads the user's tuning; defaults when nothing is stored. */
GOSR_API int gosr_ai_user_tuning_get(gosr_ai_user *u, gosr_ai_tuning *out,
                                     gosr_error *err);
/* Stores the user's tuning after validating it (reason "tuning_invalid"). */
GOSR_API int gosr_ai_user_tuning_set(gosr_ai_user *u, const gosr_ai_tuning *t,
                                     gosr_error *err);
/* Per-user key/value notes (keys 1..64 bytes, values up to 4 KiB). *out is
 * a new string the caller frees with gosr_free; GOSR_ENOENT when absent. */
GOSR_API int gosr_ai_user_get(gosr_ai_user *u, const char *key, char **out,
                              gosr_error *err);
GOSR_API int gosr_ai_user_set(gosr_ai_user *u, const char *key,
                              const char *value, gosr_error *err);

/* ---- provenance log and kill switches ----------------------------------- */

/* One generation, as recorded. Strings are borrowed for the call. */
typedef struct gosr_ai_provenance_rec {
    const char *capability;  /* capability name */
    const char *provider;    /* provider name, or "ghost" */
    const char *model;       /* model, or the generator's version */
    const char *user;        /* user id */
    const char *session;     /* session id ("" when none) */
    uint8_t prompt_hash[32]; /* BLAKE3 of the prompt (or canonical input) */
    uint8_t output_hash[32]; /* BLAKE3 of the output JSON bytes */
} gosr_ai_provenance_rec;

typedef struct gosr_ai_provenance gosr_ai_provenance;

/* Opens (creating) an append-only, hash-chained log file and checks its
 * chain. Caller closes with gosr_ai_provenance_close. Thread safe. */
GOSR_API int gosr_ai_provenance_open(const char *path, bool fsync_each,
                                     gosr_ai_provenance **out,
                                     gosr_error *err);
GOSR_API void gosr_ai_provenance_close(gosr_ai_provenance *p);
/* Appends one record linked to the previous one. */
GOSR_API int gosr_ai_provenance_append(gosr_ai_provenance *p,
                                       const gosr_ai_provenance_rec *r,
                                       gosr_error *err);
/* Records appended so far (including those found at open). */
GOSR_API uint64_t gosr_ai_provenance_count(gosr_ai_provenance *p);
/* Re-reads a log file and verifies every link; *count gets the number of
 * records. GOSR_ECORRUPT ("provenance_chain_broken" and the line) when a
 * record was altered, removed or reordered. */
GOSR_API int gosr_ai_provenance_verify(const char *path, uint64_t *count,
                                       gosr_error *err);

typedef enum gosr_ai_kill_scope {
    GOSR_AI_KILL_USER = 0,       /* refuse the user's requests */
    GOSR_AI_KILL_SESSION = 1,    /* refuse the session's requests */
    GOSR_AI_KILL_CAPABILITY = 2, /* capability served by the ghost tier only */
} gosr_ai_kill_scope;

/* ---- providers ---------------------------------------------------------- */

typedef enum gosr_ai_provider_kind {
    GOSR_AI_PROVIDER_OPENAI = 0, /* POST {url}/v1/chat/completions */
    GOSR_AI_PROVIDER_OLLAMA = 1, /* POST {url}/api/chat */
} gosr_ai_provider_kind;

/* One deployment (a provider endpoint and model). */
typedef struct gosr_ai_provider_config {
    const char *name;          /* unique, e.g. "local-ollama" */
    gosr_ai_provider_kind kind; /* wire protocol */
    const char *url;           /* base URL, e.g. "http://127.0.0.1:11434" */
    const char *model;         /* model name sent to the server */
    const char *api_key;       /* bearer token or NULL */
    uint32_t timeout_ms;       /* whole-request timeout [10000] */
    bool stream;               /* use the streaming form of the API */
    gosr_ai_model_size size;   /* size class, for tier gating */
} gosr_ai_provider_config;

/* ---- router ------------------------------------------------------------- */

#define GOSR_AI_MAX_PROVIDERS 16
#define GOSR_AI_MAX_CHAIN 8

/* Router settings; zero fields take defaults. Strings are copied. */
typedef struct gosr_ai_router_config {
    gosr_ai_provider_config providers[GOSR_AI_MAX_PROVIDERS]; /* deployments */
    uint32_t nproviders;                                /* used entries */
    /* Per capability: provider names in fallback order, NULL-terminated
     * within GOSR_AI_MAX_CHAIN; the ghost tier always follows. */
    const char *chains[GOSR_AI_CAP_COUNT][GOSR_AI_MAX_CHAIN];
    gosr_ai_breaker_config breaker; /* for every (capability, provider) */
    gosr_ai_cooldown cooldown;      /* template for every deployment */
    uint32_t max_queue;             /* queued + in-flight requests [1024] */
    uint32_t max_input_bytes;       /* request input cap [16384] */
    uint32_t max_response_bytes;    /* provider response cap [1 MiB] */
    const char *userstate_path;     /* SQLite path; NULL = in memory */
    const char *provenance_path;    /* log path; NULL = none kept */
    gosr_ai_clock_fn clock;         /* [gosr_time_mono_ns] */
    void *clock_ud;                 /* passed to clock */
} gosr_ai_router_config;

/* One request. Strings are copied at submit. */
typedef struct gosr_ai_request {
    gosr_ai_cap cap;     /* which capability */
    const char *user;    /* user id (1..128 bytes) */
    const char *session; /* session id or NULL */
    gosr_ai_tier tier;   /* the user's tier, decided by the caller's auth */
    const char *input;   /* input JSON text; NULL or "" means {} */
    uint64_t seed;       /* seed for the deterministic tier and providers */
} gosr_ai_request;

/* One answer, delivered on the router thread. All strings are borrowed for
 * the duration of the callback only. */
typedef struct gosr_ai_result {
    int status;             /* GOSR_OK or why the request was refused */
    char reason[64];        /* reason code when status != OK */
    gosr_ai_cap cap;        /* the capability asked */
    const char *output;     /* output JSON (valid for the schema) or NULL */
    const char *provider;   /* who answered: a provider name or "ghost" */
    const char *model;      /* that provider's model */
    uint32_t attempts;      /* providers tried before the answer */
    char fail_reasons[256]; /* "prov:reason;..." for each failed attempt */
    uint64_t latency_ns;    /* submit to delivery */
    uint64_t request_id;    /* as returned by submit */
} gosr_ai_result;

typedef void (*gosr_ai_result_fn)(void *ud, const gosr_ai_result *res);

typedef struct gosr_ai_router gosr_ai_router;

/* Creates a router and starts its thread (curl multi loop). Caller destroys
 * with gosr_ai_router_destroy, which cancels queued work (callbacks get
 * GOSR_ECLOSED) and joins the thread. */
GOSR_API int gosr_ai_router_create(const gosr_ai_router_config *cfg,
                                   gosr_ai_router **out, gosr_error *err);
GOSR_API void gosr_ai_router_destroy(gosr_ai_router *r);
/* Queues a request; `cb` runs exactly once on the router thread (unless
 * this returns an error, when it never runs). Refusals decided at once
 * return here: GOSR_EAGAIN (rate/concurrency), GOSR_EDENIED (kill switch),
 * GOSR_EFORMAT/GOSR_ETOOBIG (bad input), GOSR_EBUSY (queue full). */
GOSR_API int gosr_ai_router_submit(gosr_ai_router *r,
                                   const gosr_ai_request *req,
                                   gosr_ai_result_fn cb, void *ud,
                                   uint64_t *request_id, gosr_error *err);
/* Submits and waits. On GOSR_OK, *output is the output JSON (caller frees
 * with gosr_free) and *provider the answering provider name (copied into
 * provider[64]). */
GOSR_API int gosr_ai_router_ask(gosr_ai_router *r, const gosr_ai_request *req,
                                char **output, char provider[64],
                                gosr_error *err);
/* Sets or clears a kill switch. */
GOSR_API int gosr_ai_router_kill(gosr_ai_router *r, gosr_ai_kill_scope scope,
                                 const char *id, bool killed);
/* Breakers, cooldowns, counters and tiers as a new JSON object (caller
 * decrefs). */
GOSR_API json_t *gosr_ai_router_status(gosr_ai_router *r);
/* The user state store (borrowed, router lifetime). */
GOSR_API gosr_ai_userstate *gosr_ai_router_userstate(gosr_ai_router *r);

/* Describes a result as a runtime event for the kernel's log: `name` gets
 * "ai:CAPABILITY:v1:completed" (or ":failed"), *payload a new JSON object
 * {request_id, capability, provider, model, attempts, output, output_hash}
 * or, on failure, {..., status, reason}. Caller decrefs *payload. */
GOSR_API int gosr_ai_result_event(const gosr_ai_result *res, char name[128],
                                  json_t **payload, gosr_error *err);

/* Parses a router config file (docs/ai.md "Config"). Strings in *cfg point
 * into *keep, which the caller releases with json_decref after the router
 * is created. Key files are read into strings owned by *keep too. */
GOSR_API int gosr_ai_config_load(const char *path, gosr_ai_router_config *cfg,
                                 json_t **keep, gosr_error *err);

/* ---- the deterministic tier ("ghost limb") ------------------------------ */

/* Generates the capability's output from `input` (must already pass the
 * input schema after defaults) and `seed`; same inputs give byte-identical
 * output. *out is compact JSON with sorted keys; caller frees with
 * gosr_free. */
GOSR_API int gosr_ai_ghost_generate(gosr_ai_cap cap, const json_t *input,
                                    uint64_t seed, char **out,
                                    gosr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GOSR_AI_H */
