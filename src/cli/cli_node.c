/*
 * cli_node.c — the CLI's client for a node's admin API: node resolution
 * (--node/--token or --data DIR via admin.json and admin.token), requests
 * over libcurl's easy API with connect and total timeouts, JSON replies,
 * and the mapping of HTTP errors to exit codes. Design: docs/admin.md
 * ("CLI client").
 */
#include "cli/cli_node.h"
#include "gosr/admin.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DISCOVERY_MAX 4096        /* admin.json is one short line */
#define REPLY_MAX (64u << 20)     /* refuse replies above 64 MiB */
#define CONNECT_TIMEOUT_MS 5000L  /* 127.0.0.1 answers at once or never */
#define REQUEST_TIMEOUT_MS 60000L /* JSON requests */
#define UPLOAD_TIMEOUT_MS 600000L /* uploads of up to 256 MiB */

/* ---- resolution -------------------------------------------------------------
 */

/* Reads the URL from DIR/admin.json. */
static int read_discovery(const char *dir, char **url, gosr_error *err)
{
    char *path = gosr_asprintf("%s/%s", dir, GOSR_ADMIN_DISCOVERY_FILE);
    if (!path)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "path");
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = gosr_file_read_all(path, DISCOVERY_MAX, &data, &len);
    if (rc == GOSR_ENOENT) {
        rc = gosr_error_set(err, GOSR_ENOENT, "node_not_running",
                            "%s is missing: is `gosr serve --data %s` "
                            "running?",
                            path, dir);
        goto out_free_path;
    }
    if (rc != GOSR_OK) {
        rc = gosr_error_set(err, rc, "discovery_unreadable",
                            "cannot read %s: %s", path, gosr_strerror(rc));
        goto out_free_path;
    }
    json_t *v = json_loadb((const char *)data, len, 0, NULL);
    const char *u = json_string_value(json_object_get(v, "url"));
    if (!u)
        rc = gosr_error_set(err, GOSR_EFORMAT, "discovery_malformed",
                            "%s has no \"url\" string", path);
    else if (!(*url = gosr_strdup(u)))
        rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "url");
    json_decref(v);
    gosr_free(data);
out_free_path:
    gosr_free(path);
    return rc;
}

static int resolve_url(const cli_node_args *a, cli_node *out, gosr_error *err)
{
    if (!a->node)
        return read_discovery(a->data, &out->url, err);
    if (strncmp(a->node, "http://", 7) != 0 || a->node[7] == '\0')
        return gosr_error_set(err, GOSR_EINVAL, "node_url",
                              "--node must be http://HOST:PORT, got '%s'",
                              a->node);
    out->url = gosr_strdup(a->node);
    if (!out->url)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "url");
    return GOSR_OK;
}

int cli_node_resolve(const cli_node_args *a, cli_node *out, gosr_error *err)
{
    memset(out, 0, sizeof *out);
    if ((!a->node && !a->data) || (!a->token && !a->data))
        return gosr_error_set(err, GOSR_EINVAL, "node_args",
                              "give --data DIR, or --node URL --token FILE");
    out->timeout_ms = a->timeout_ms ? a->timeout_ms : REQUEST_TIMEOUT_MS;
    int rc = resolve_url(a, out, err);
    if (rc == GOSR_OK) {
        size_t n = strlen(out->url);
        while (n > 0 && out->url[n - 1] == '/')
            out->url[--n] = '\0';
        char *tok =
            a->token ? gosr_strdup(a->token)
                     : gosr_asprintf("%s/%s", a->data, GOSR_ADMIN_TOKEN_FILE);
        rc = tok ? gosr_admin_token_load(tok, out->token, err)
                 : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "path");
        gosr_free(tok);
    }
    if (rc != GOSR_OK)
        cli_node_free(out);
    return rc;
}

void cli_node_free(cli_node *n)
{
    if (!n)
        return;
    gosr_free(n->url);
    n->url = NULL;
    sodium_memzero(n->token, sizeof n->token);
}

/* ---- requests ---------------------------------------------------------------
 */

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init = CURLE_FAILED_INIT;

static void curl_once(void)
{
    g_curl_init = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* CURLOPT_WRITEFUNCTION: collects the reply, refusing more than REPLY_MAX. */
static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    gosr_buf *b = ud;
    if (b->len + n > REPLY_MAX || gosr_buf_append(b, p, n) != GOSR_OK)
        return 0; /* curl aborts with CURLE_WRITE_ERROR */
    return size * n;
}

/* Status for an error reply without a JSON envelope. */
static int status_from_http(long http)
{
    switch (http) {
    case 400:
        return GOSR_EFORMAT;
    case 401:
    case 403:
        return GOSR_EDENIED;
    case 404:
        return GOSR_ENOENT;
    case 409:
        return GOSR_ESTATE;
    case 413:
        return GOSR_ETOOBIG;
    case 422:
        return GOSR_ESIGNATURE;
    case 503:
        return GOSR_EBUSY;
    case 504:
        return GOSR_ETIMEOUT;
    default:
        return GOSR_EPROTO;
    }
}

/* Turns an HTTP error reply into a status and error detail. */
static int reply_error(long http, const gosr_buf *b, gosr_error *err)
{
    json_t *v =
        json_loadb(b->data ? (const char *)b->data : "", b->len, 0, NULL);
    const char *st = json_string_value(json_object_get(v, "status"));
    const char *reason = json_string_value(json_object_get(v, "reason"));
    const char *detail = json_string_value(json_object_get(v, "detail"));
    int status = st ? gosr_admin_status_from_name(st) : status_from_http(http);
    if (status == GOSR_OK)
        status = GOSR_EPROTO;
    char fallback[32];
    snprintf(fallback, sizeof fallback, "http_%ld", http);
    gosr_error_set(err, status, reason ? reason : fallback, "%s (HTTP %ld)",
                   detail ? detail : "the node refused the request", http);
    json_decref(v);
    return status;
}

/* Sets up the easy handle for one request. */
static int setup(CURL *c, const cli_node *n, const char *method,
                 const char *path, struct curl_slist **hdrs, gosr_buf *out)
{
    char *url = gosr_asprintf("%s%s", n->url, path);
    char *auth = gosr_asprintf("Authorization: Bearer %s", n->token);
    if (!url || !auth) {
        gosr_free(url);
        gosr_free(auth);
        return GOSR_ENOMEM;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     n->timeout_ms ? n->timeout_ms : REQUEST_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    *hdrs = curl_slist_append(*hdrs, auth);
    sodium_memzero(auth, strlen(auth));
    gosr_free(auth);
    gosr_free(url); /* curl copies string options */
    return *hdrs ? GOSR_OK : GOSR_ENOMEM;
}

/* Runs the request; transport failures become statuses with reasons. */
static int perform(CURL *c, const cli_node *n, long *http, gosr_error *err)
{
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return gosr_error_set(err, GOSR_ETIMEOUT, "node_timeout",
                              "%s did not answer in time", n->url);
    if (cc != CURLE_OK)
        return gosr_error_set(err, GOSR_EIO, "node_unreachable", "%s: %s",
                              n->url, curl_easy_strerror(cc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
    return GOSR_OK;
}

/* Attaches a JSON body or a file upload. *json_text / *fp are released by
 * the caller after the transfer. */
static int attach_body(CURL *c, const json_t *body, const char *upload,
                       struct curl_slist **hdrs, char **json_text, FILE **fp,
                       gosr_error *err)
{
    if (body) {
        *json_text = json_dumps(body, JSON_COMPACT);
        if (!*json_text)
            return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "body");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, *json_text);
        *hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
    } else if (upload) {
        struct stat st;
        if (!(*fp = fopen(upload, "rb")) || fstat(fileno(*fp), &st) != 0)
            return gosr_error_set(err, GOSR_ENOENT, "upload_unreadable",
                                  "cannot open %s", upload);
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READDATA, *fp);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, UPLOAD_TIMEOUT_MS);
        *hdrs =
            curl_slist_append(*hdrs, "Content-Type: application/octet-stream");
    }
    return *hdrs ? GOSR_OK
                 : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "hdr");
}

/* The shared body of both request variants. */
static int transfer(const cli_node *n, const char *method, const char *path,
                    const json_t *body, const char *upload, long *http,
                    gosr_buf *out, gosr_error *err)
{
    *http = 0;
    pthread_once(&g_curl_once, curl_once);
    if (g_curl_init != CURLE_OK)
        return gosr_error_set(err, GOSR_EINTERNAL, "curl_init",
                              "libcurl failed to initialise");
    CURL *c = curl_easy_init();
    if (!c)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "curl");
    struct curl_slist *hdrs = NULL;
    char *json_text = NULL;
    FILE *fp = NULL;
    int rc = setup(c, n, method, path, &hdrs, out);
    if (rc != GOSR_OK)
        rc = gosr_error_set(err, rc, "out_of_memory", "request");
    if (rc == GOSR_OK)
        rc = attach_body(c, body, upload, &hdrs, &json_text, &fp, err);
    if (rc == GOSR_OK) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        rc = perform(c, n, http, err);
    }
    if (rc == GOSR_OK && (*http < 200 || *http >= 300))
        rc = reply_error(*http, out, err);
    if (fp)
        fclose(fp);
    free(json_text);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

int cli_node_request_raw(const cli_node *n, const char *method,
                         const char *path, long *http, gosr_buf *out,
                         gosr_error *err)
{
    int rc = transfer(n, method, path, NULL, NULL, http, out, err);
    if (rc != GOSR_OK)
        gosr_buf_free(out);
    return rc;
}

int cli_node_request(const cli_node *n, const char *method, const char *path,
                     const json_t *body, const char *upload_path, long *http,
                     json_t **reply, gosr_error *err)
{
    *reply = NULL;
    gosr_buf b = {0};
    int rc = transfer(n, method, path, body, upload_path, http, &b, err);
    if (rc == GOSR_OK) {
        json_error_t je;
        *reply = b.len ? json_loadb((const char *)b.data, b.len, 0, &je)
                       : json_object();
        if (!*reply)
            rc = gosr_error_set(err, GOSR_EPROTO, "reply_malformed",
                                "the node's reply is not JSON: %s", je.text);
    }
    gosr_buf_free(&b);
    return rc;
}

int cli_node_exit_code(int status, long http, const gosr_error *err)
{
    if (status == GOSR_OK)
        return CLI_EXIT_OK;
    if (http == 422)
        return CLI_EXIT_REJECTED;
    if (err && strcmp(err->reason, "node_args") == 0)
        return CLI_EXIT_USAGE;
    return CLI_EXIT_FAIL;
}

int cli_mesh_addr(const char *dir, char *out, size_t cap, gosr_error *err)
{
    char *path = gosr_asprintf("%s/mesh.json", dir);
    json_t *j = path ? json_load_file(path, 0, NULL) : NULL;
    gosr_free(path);
    const char *addr = json_string_value(json_object_get(j, "listen"));
    int rc = addr && strlen(addr) < cap ? GOSR_OK : GOSR_ENOENT;
    if (rc == GOSR_OK)
        snprintf(out, cap, "%s", addr);
    else
        gosr_error_set(err, rc, "mesh_not_running",
                       "no %s/mesh.json: is gosr serve running there with "
                       "--listen?",
                       dir);
    json_decref(j);
    return rc;
}

int cli_node_call(const cli_node_args *a, bool json, const char *method,
                  const char *path, const json_t *body, const char *upload_path,
                  json_t **reply)
{
    cli_node n;
    gosr_error err;
    gosr_error_clear(&err);
    long http = 0;
    *reply = NULL;
    int rc = cli_node_resolve(a, &n, &err);
    if (rc == GOSR_OK) {
        rc = cli_node_request(&n, method, path, body, upload_path, &http, reply,
                              &err);
        cli_node_free(&n);
    }
    if (a->on_reply)
        a->on_reply(a->on_reply_ud);
    if (rc == GOSR_OK)
        return CLI_EXIT_OK;
    if (strcmp(err.reason, "node_args") == 0)
        return cli_usage_error("%s", err.detail);
    return cli_report_error(json, &err, rc, cli_node_exit_code(rc, http, &err));
}
