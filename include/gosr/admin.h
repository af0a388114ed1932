/*
 * gosr/admin.h — the node's admin layer: an HTTP API server on 127.0.0.1
 * (libmicrohttpd) with a route table, bearer-token auth with roles, TOTP
 * (RFC 6238) as a second factor for privileged routes, the discovery file
 * DIR/admin.json, a request->reply queue that hands work from HTTP threads
 * to the tick thread, and a Prometheus metrics registry rendered at
 * GET /metrics.
 *
 * Design: docs/admin.md (endpoints, auth and roles, TOTP, admin.json,
 * metrics, threading contract).
 *
 * Sections: errors to HTTP, tokens, TOTP, metrics, queue, server.
 */
#ifndef GOSR_ADMIN_H
#define GOSR_ADMIN_H

#include "gosr/base.h"

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The fixed default listen address when none is given ("--admin"). */
#define GOSR_ADMIN_DEFAULT_PORT 7687
#define GOSR_ADMIN_DEFAULT_LISTEN "127.0.0.1:7687"
/* File names inside the node's data directory. */
#define GOSR_ADMIN_TOKEN_FILE "admin.token"
#define GOSR_ADMIN_PRIV_TOKEN_FILE "admin-privileged.token"
#define GOSR_ADMIN_TOTP_FILE "admin.totp"
#define GOSR_ADMIN_DISCOVERY_FILE "admin.json"
/* Request header carrying the TOTP code for routes that require one. */
#define GOSR_ADMIN_TOTP_HEADER "X-GOSR-TOTP"

/* ---- errors to HTTP ----------------------------------------------------- */

/* The HTTP status a gosr status maps to (GOSR_OK -> 200, GOSR_EFORMAT ->
 * 400, GOSR_ENOENT -> 404, GOSR_ETOOBIG -> 413, ...; table in
 * docs/admin.md). */
GOSR_API int gosr_admin_http_status(int status);
/* The reverse: the gosr status named `name` ("format", "not_found" ...),
 * or GOSR_EINTERNAL when no status has that name. */
GOSR_API int gosr_admin_status_from_name(const char *name);
/* Parses "127.0.0.1:PORT" (IPv4 literal and port 0..65535; NULL or "" =
 * GOSR_ADMIN_DEFAULT_LISTEN) into host[16] and *port. */
GOSR_API int gosr_admin_parse_listen(const char *s, char host[16],
                                     uint16_t *port, gosr_error *err);

/* ---- tokens ------------------------------------------------------------- */

/* A bearer token as written in a token file: 64 lower-case hex digits. */
#define GOSR_ADMIN_TOKEN_HEX 64

/* Writes DIR/admin.token: 32 random bytes as hex plus a newline, mode
 * 0600, atomically (replacing any old token). Copies the hex into
 * out[65] when out is not NULL. */
GOSR_API int gosr_admin_token_create(const char *dir, char out[65],
                                     gosr_error *err);
/* As gosr_admin_token_create, for any path (the privileged token). */
GOSR_API int gosr_admin_token_create_file(const char *path, char out[65],
                                          gosr_error *err);
/* Loads a token file into out[65]. Refuses (GOSR_EDENIED,
 * "token_file_mode") a file that group or others may read or write, and
 * (GOSR_EFORMAT, "token_malformed") anything but 64 hex digits with an
 * optional trailing newline. */
GOSR_API int gosr_admin_token_load(const char *path, char out[65],
                                   gosr_error *err);
/* Constant-time comparison of a presented token with an expected one
 * (sodium_memcmp over the same length; false when lengths differ). */
GOSR_API bool gosr_admin_token_equal(const char *presented,
                                     const char *expected);

/* ---- TOTP (RFC 6238, HMAC-SHA1 from OpenSSL libcrypto) --------------------
 */

/* Decodes RFC 4648 base32 (case-insensitive, '=' padding and spaces
 * ignored) into out[cap]; *len = bytes written. GOSR_EFORMAT on a bad
 * character, GOSR_ETOOBIG when cap is too small. */
GOSR_API int gosr_admin_base32_decode(const char *s, uint8_t *out, size_t cap,
                                      size_t *len);
/* Encodes n bytes as upper-case base32 without padding into out (size >=
 * (n * 8 + 4) / 5 + 1). */
GOSR_API void gosr_admin_base32_encode(const uint8_t *in, size_t n, char *out);
/* The HOTP value (RFC 4226) of `counter` with `digits` digits (6..8). */
GOSR_API int gosr_admin_hotp(const uint8_t *key, size_t keylen,
                             uint64_t counter, unsigned digits, uint32_t *code);
/* The TOTP code for Unix time `now` (T0 = 0, step 30 s unless `step` > 0). */
GOSR_API int gosr_admin_totp(const uint8_t *key, size_t keylen, uint64_t now,
                             unsigned step, unsigned digits, uint32_t *code);
/* Verifies a code string of exactly `digits` decimal digits against the
 * steps now-window .. now+window. On success stores the matching time
 * step in *step_out (callers refuse a step <= the last one accepted, so a
 * code works once). Compares every candidate in constant time. */
GOSR_API bool gosr_admin_totp_verify(const uint8_t *key, size_t keylen,
                                     const char *code, uint64_t now,
                                     unsigned step, unsigned digits,
                                     unsigned window, uint64_t *step_out);
/* Writes a new 20-byte TOTP secret as base32 plus newline to `path` (mode
 * 0600); copies the base32 into out[33] when not NULL. */
GOSR_API int gosr_admin_totp_secret_create(const char *path, char out[33],
                                           gosr_error *err);

/* ---- metrics (Prometheus text exposition 0.0.4) ---------------------------
 */

typedef struct gosr_admin_metrics gosr_admin_metrics; /* a registry */
typedef struct gosr_admin_metric gosr_admin_metric;   /* a metric family */
typedef struct gosr_admin_series gosr_admin_series;   /* one label set */

typedef enum gosr_admin_metric_type {
    GOSR_ADMIN_COUNTER = 0,   /* only goes up */
    GOSR_ADMIN_GAUGE = 1,     /* set, add, subtract */
    GOSR_ADMIN_HISTOGRAM = 2, /* observations into fixed buckets */
} gosr_admin_metric_type;

/* Describes a metric family; zero fields take defaults. */
typedef struct gosr_admin_metric_desc {
    const char *name;            /* [a-zA-Z_:][a-zA-Z0-9_:]*, unique */
    const char *help;            /* HELP text (any bytes; escaped on output) */
    gosr_admin_metric_type type; /* counter, gauge or histogram */
    const char *const *labels;   /* label names, or NULL */
    size_t nlabels;              /* number of labels, 0..8 */
    const double *buckets;       /* histogram upper bounds, strictly rising,
                                    finite; NULL = the default tick buckets */
    size_t nbuckets;             /* number of bounds, 1..32 */
} gosr_admin_metric_desc;

/* Creates an empty registry. Destroy with gosr_admin_metrics_destroy. */
GOSR_API int gosr_admin_metrics_create(gosr_admin_metrics **out);
/* Frees the registry and every family and series in it. Accepts NULL. */
GOSR_API void gosr_admin_metrics_destroy(gosr_admin_metrics *m);
/* Adds a family. *out is owned by the registry, valid until it is
 * destroyed. GOSR_EINVAL (reason metric_name, label_name, buckets) on a
 * bad description, GOSR_EEXIST on a duplicate name. Thread safe. */
GOSR_API int gosr_admin_metrics_add(gosr_admin_metrics *m,
                                    const gosr_admin_metric_desc *d,
                                    gosr_admin_metric **out, gosr_error *err);
/* Gets or creates the series for `values` (one per label; any UTF-8; may
 * be NULL when the family has no labels). *out is owned by the registry.
 * Takes the registry lock: look series up once and keep the handle. */
GOSR_API int gosr_admin_metric_series(gosr_admin_metric *f,
                                      const char *const *values,
                                      gosr_admin_series **out, gosr_error *err);
/* Updates a series without locks (atomics): add to a counter (negative
 * amounts ignored) or gauge, set a gauge, observe into a histogram.
 * Calling the wrong kind of update for the family type does nothing. */
GOSR_API void gosr_admin_series_add(gosr_admin_series *s, double v);
GOSR_API void gosr_admin_series_set(gosr_admin_series *s, double v);
GOSR_API void gosr_admin_series_observe(gosr_admin_series *s, double v);
/* Current value of a counter or gauge, or the count of a histogram. */
GOSR_API double gosr_admin_series_value(const gosr_admin_series *s);
/* Appends the text exposition (format 0.0.4) of every family, in the
 * order added, to `out`. Thread safe against updates and additions. */
GOSR_API int gosr_admin_metrics_render(gosr_admin_metrics *m, gosr_buf *out);

/* ---- request -> reply queue (HTTP threads to the tick thread) -------------
 */

typedef struct gosr_admin_queue gosr_admin_queue;
/* A unit of work run on the draining (tick) thread. Returns a status and
 * fills err on failure. `arg` is borrowed from the caller of
 * gosr_admin_queue_call. */
typedef int (*gosr_admin_job_fn)(void *arg, gosr_error *err);

/* Creates a queue. Destroy with gosr_admin_queue_destroy (after close). */
GOSR_API int gosr_admin_queue_create(gosr_admin_queue **out);
/* Closes (if not already) and frees. Accepts NULL. No caller may still be
 * blocked in gosr_admin_queue_call: stop the server first. */
GOSR_API void gosr_admin_queue_destroy(gosr_admin_queue *q);
/* Called from an HTTP handler: queues fn(arg) and blocks until the tick
 * thread has run it (returns fn's status and err) or `timeout_ms` passes
 * while the job is still waiting (GOSR_ETIMEOUT, "tick_timeout"; the job
 * is withdrawn and never runs). A job that has started is always waited
 * for, because `arg` is borrowed. GOSR_ECLOSED once the queue is closed. */
GOSR_API int gosr_admin_queue_call(gosr_admin_queue *q, gosr_admin_job_fn fn,
                                   void *arg, unsigned timeout_ms,
                                   gosr_error *err);
/* Called by the tick thread between ticks: runs up to `max` waiting jobs
 * (0 = all that are waiting now) and returns how many ran. */
GOSR_API size_t gosr_admin_queue_drain(gosr_admin_queue *q, size_t max);
/* Blocks the tick thread until a job waits or `timeout_ms` passes; true
 * when a job waits. Lets an idle node sleep without missing requests. */
GOSR_API bool gosr_admin_queue_wait(gosr_admin_queue *q, unsigned timeout_ms);
/* Number of jobs waiting now (for a queue-depth gauge, and tests). */
GOSR_API size_t gosr_admin_queue_pending(gosr_admin_queue *q);
/* Refuses new jobs and fails waiting ones with GOSR_ECLOSED. */
GOSR_API void gosr_admin_queue_close(gosr_admin_queue *q);

/* ---- server ---------------------------------------------------------------
 */

typedef struct gosr_admin_server gosr_admin_server;

/* Who the caller authenticated as. Ordered: a higher role may do all a
 * lower one may. */
typedef enum gosr_admin_role {
    GOSR_ADMIN_ROLE_NONE = 0,       /* no token (only open routes) */
    GOSR_ADMIN_ROLE_OPERATOR = 1,   /* DIR/admin.token */
    GOSR_ADMIN_ROLE_PRIVILEGED = 2, /* DIR/admin-privileged.token */
} gosr_admin_role;

/* What a route accepts as a request body. */
typedef enum gosr_admin_body {
    GOSR_ADMIN_BODY_NONE = 0, /* no body; a non-empty body gets 400 */
    GOSR_ADMIN_BODY_JSON = 1, /* JSON object, at most max_json bytes */
    GOSR_ADMIN_BODY_FILE = 2, /* raw bytes streamed to a temp file in DIR,
                                 at most max_upload bytes */
} gosr_admin_body;

/* One request as a handler sees it; everything is borrowed for the
 * duration of the handler call only. */
typedef struct gosr_admin_request {
    const char *method;              /* "GET", "POST", ... */
    const char *path;                /* the raw path, without the query */
    size_t nparams;                  /* number of {param} captures */
    const char *const *param_names;  /* names as in the pattern */
    const char *const *param_values; /* percent-decoded values */
    size_t nquery;                   /* number of query arguments */
    const char *const *query_names;  /* decoded names, in order */
    const char *const *query_values; /* decoded values ("" when no '=') */
    json_t *json;          /* BODY_JSON: the parsed object, or NULL for
                              an empty body; borrowed */
    const char *body_path; /* BODY_FILE: temp file holding the body; the
                              handler may rename it away, otherwise it
                              is deleted after the handler returns */
    uint64_t body_len;     /* bytes of body received */
    gosr_admin_role role;  /* the caller's role */
    void *conn;            /* internal: the MHD connection (headers) */
} gosr_admin_request;

/* Value of a {param} (NULL when the pattern has no such name). */
GOSR_API const char *gosr_admin_param(const gosr_admin_request *r,
                                      const char *name);
/* Value of the first query argument `name`, or NULL. */
GOSR_API const char *gosr_admin_query(const gosr_admin_request *r,
                                      const char *name);
/* Value of a request header (case-insensitive name), or NULL. */
GOSR_API const char *gosr_admin_header(const gosr_admin_request *r,
                                       const char *name);

/* What a handler answers. The server pre-fills http_status = 200. */
typedef struct gosr_admin_reply {
    int http_status;          /* 2xx; errors come from the return status */
    json_t *json;             /* reply object (owned: the server releases
                                 it); "ok":true is added when missing */
    gosr_buf text;            /* or a raw body when json is NULL (owned) */
    const char *content_type; /* for `text`; static string */
} gosr_admin_reply;

/* A route handler. Runs on an HTTP thread (see the threading contract in
 * docs/admin.md: touch node state only through a gosr_admin_queue).
 * Returns GOSR_OK with the reply filled, or an error status with err
 * filled: the server answers {"ok":false,"status","reason","detail"} with
 * gosr_admin_http_status(status). */
typedef int (*gosr_admin_handler)(void *ud, const gosr_admin_request *req,
                                  gosr_admin_reply *reply, gosr_error *err);

/* One entry of the route table. */
typedef struct gosr_admin_route {
    const char *method;    /* "GET", "POST", "PUT", "DELETE" */
    const char *pattern;   /* "/v1/modules/{id}/activate": literal
                              segments and whole-segment {name} captures */
    gosr_admin_handler fn; /* the handler */
    void *ud;              /* passed to fn */
    gosr_admin_role role;  /* least role required; NONE = no auth */
    gosr_admin_body body;  /* what body the route takes */
    bool totp;             /* also require a valid X-GOSR-TOTP code */
} gosr_admin_route;

/* Builds the node status object for GET /v1/status (caller-owned *out, a
 * JSON object merged into the reply). Runs on an HTTP thread. */
typedef int (*gosr_admin_status_fn)(void *ud, json_t **out, gosr_error *err);

/* Server configuration; zero fields take the defaults. */
typedef struct gosr_admin_config {
    const char *data_dir;        /* node directory (required): tokens,
                                    admin.json, upload temp files */
    const char *listen;          /* "127.0.0.1:PORT"; NULL = default
                                    127.0.0.1:7687; port 0 = ephemeral */
    uint64_t max_upload;         /* BODY_FILE limit; 0 = 256 MiB */
    size_t max_json;             /* BODY_JSON limit; 0 = 1 MiB */
    unsigned threads;            /* HTTP thread pool size; 0 = 4 */
    unsigned conn_timeout_s;     /* idle connection timeout; 0 = 30 s */
    gosr_admin_metrics *metrics; /* registry for /metrics (borrowed); NULL
                                    = the server makes its own */
    bool no_discovery;           /* true = do not write DIR/admin.json */
} gosr_admin_config;

/* Creates a stopped server: loads DIR/admin.token (creating it when
 * missing), DIR/admin-privileged.token and DIR/admin.totp when present,
 * and registers GET /healthz, GET /metrics and GET /v1/status. Caller
 * destroys with gosr_admin_server_destroy. */
GOSR_API int gosr_admin_server_create(const gosr_admin_config *cfg,
                                      gosr_admin_server **out, gosr_error *err);
/* Adds a route (copied). Only before gosr_admin_server_start
 * (GOSR_ESTATE after). GOSR_EINVAL on a bad pattern or method,
 * GOSR_EEXIST when the same method and pattern are already routed. */
GOSR_API int gosr_admin_server_route(gosr_admin_server *s,
                                     const gosr_admin_route *r,
                                     gosr_error *err);
/* Sets the GET /v1/status callback (before start). */
GOSR_API void gosr_admin_server_set_status(gosr_admin_server *s,
                                           gosr_admin_status_fn fn, void *ud);
/* Binds and starts the HTTP threads, then writes DIR/admin.json
 * atomically. GOSR_EIO ("listen_failed") when the address is taken. */
GOSR_API int gosr_admin_server_start(gosr_admin_server *s, gosr_error *err);
/* The bound port (the real one after an ephemeral bind), 0 when stopped. */
GOSR_API uint16_t gosr_admin_server_port(const gosr_admin_server *s);
/* The base URL "http://127.0.0.1:PORT" (borrowed; "" when stopped). */
GOSR_API const char *gosr_admin_server_url(const gosr_admin_server *s);
/* The registry rendered at /metrics (borrowed). */
GOSR_API gosr_admin_metrics *gosr_admin_server_metrics(gosr_admin_server *s);
/* Stops accepting, waits for running handlers, removes DIR/admin.json.
 * Safe to call twice. */
GOSR_API void gosr_admin_server_stop(gosr_admin_server *s);
/* Stops (if running) and frees. Accepts NULL. */
GOSR_API void gosr_admin_server_destroy(gosr_admin_server *s);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_ADMIN_H */
