/*
 * cli_node.h — the CLI's client side for talking to a running node's admin
 * API: find the node (--node URL --token FILE, or --data DIR which reads
 * DIR/admin.json and DIR/admin.token), make requests with libcurl (JSON
 * bodies or a file upload, timeouts), and turn HTTP errors into CLI exit
 * codes and cli_report_error output. Design: docs/admin.md ("CLI client").
 */
#ifndef GOSR_CLI_NODE_H
#define GOSR_CLI_NODE_H

#include "cli/cli.h"

/* The node-addressing options every node command takes; fill with
 * CLI_NODE_OPTS inside a cli_opt table. Strings are borrowed from argv. */
typedef struct cli_node_args {
    const char *node;  /* --node URL (http://127.0.0.1:PORT) */
    const char *token; /* --token FILE */
    const char *data;  /* --data DIR */
    long timeout_ms;   /* JSON request timeout; 0 = 60 s (set by commands
                          whose work takes longer, e.g. install) */
    void (*on_reply)(void *ud); /* cli_node_call: run when the request
                                   returned, before anything is printed
                                   (stops a progress line); may be NULL */
    void *on_reply_ud;          /* passed to on_reply */
} cli_node_args;

#define CLI_NODE_OPTS(a)                                                       \
    {"node", &(a).node, NULL}, {"token", &(a).token, NULL},                    \
    {                                                                          \
        "data", &(a).data, NULL                                                \
    }

/* A resolved node. */
typedef struct cli_node {
    char *url;      /* base URL without a trailing '/' (owned) */
    char token[65]; /* bearer token, hex */
    long timeout_ms; /* JSON request timeout (from cli_node_args) */
} cli_node;

/* Resolves a node: the URL from --node or DIR/admin.json, the token from
 * --token or DIR/admin.token (both files must be mode 0600). GOSR_EINVAL
 * (node_args) when neither source is given; GOSR_ENOENT (node_not_running)
 * when DIR/admin.json is missing. Free with cli_node_free. */
int cli_node_resolve(const cli_node_args *a, cli_node *out, gosr_error *err);
/* Frees the URL and wipes the token. Accepts NULL. */
void cli_node_free(cli_node *n);

/* One request. `body` (borrowed, may be NULL) is sent as JSON; or
 * `upload_path` names a file sent as the raw body. On a 2xx reply returns
 * GOSR_OK and *reply (caller releases with json_decref; {} for an empty
 * body). On an error reply returns the status named in the reply's
 * "status" field with err holding its reason and detail; on a transport
 * failure GOSR_EIO (node_unreachable) or GOSR_ETIMEOUT (node_timeout).
 * *http gets the HTTP status (0 without a reply). */
int cli_node_request(const cli_node *n, const char *method, const char *path,
                     const json_t *body, const char *upload_path, long *http,
                     json_t **reply, gosr_error *err);
/* Raw variant for non-JSON endpoints (/metrics): the reply body as bytes
 * in *out (caller frees with gosr_buf_free). Same statuses. */
int cli_node_request_raw(const cli_node *n, const char *method,
                         const char *path, long *http, gosr_buf *out,
                         gosr_error *err);

/* The mesh control address ("IP:PORT") of a `gosr serve --listen` node
 * running on data directory `dir`, from DIR/mesh.json, into out[cap].
 * GOSR_ENOENT (mesh_not_running) without it. */
int cli_mesh_addr(const char *dir, char *out, size_t cap, gosr_error *err);

/* The exit code for a failed request: 3 (rejected) for HTTP 422, 2
 * (usage) for node_args, else 1. */
int cli_node_exit_code(int status, long http, const gosr_error *err);

/* Convenience for commands: resolves the node from `a`, performs the
 * request and, on failure, reports it (cli_report_error, --json aware).
 * Returns CLI_EXIT_OK with *reply set, or the exit code. */
int cli_node_call(const cli_node_args *a, bool json, const char *method,
                  const char *path, const json_t *body, const char *upload_path,
                  json_t **reply);

#endif /* GOSR_CLI_NODE_H */
