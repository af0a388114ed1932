/*
 * report.c — the demo's report: script time per module (read from the
 * node's own /metrics endpoint over loopback HTTP, as an operator would),
 * the ledger rows, report.json, report.html (inline SVG plots, no
 * scripts) and the terminal summary. Design: docs/demo.md ("Report").
 */
#include "demo/demo_int.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- /metrics ------------------------------------------------------------ */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    gosr_buf *b = ud;
    return gosr_buf_append(b, p, sz * n) == GOSR_OK ? sz * n : 0;
}

/* GET http://127.0.0.1:PORT/metrics with the operator token into body. */
static int fetch_metrics(demo_run *d, gosr_buf *body, gosr_error *err)
{
    char *tp = gosr_asprintf("%s/admin.token", d->node_dir);
    uint8_t *tok = NULL;
    size_t tlen = 0;
    int rc = tp ? gosr_file_read_all(tp, 256, &tok, &tlen) : GOSR_ENOMEM;
    gosr_free(tp);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "demo_token", "cannot read admin.token");
    while (tlen && (tok[tlen - 1] == '\n' || tok[tlen - 1] == '\r'))
        tlen--;
    char url[64], auth[320];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics",
             gosr_node_admin_port(d->node));
    snprintf(auth, sizeof auth, "Authorization: Bearer %.*s", (int)tlen,
             (const char *)tok);
    gosr_free(tok);
    CURL *c = curl_easy_init();
    if (!c)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "curl");
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK || code != 200)
        return gosr_error_set(err, GOSR_EIO, "demo_metrics",
                              "GET %s: %s, HTTP %ld", url,
                              curl_easy_strerror(cc), code);
    return GOSR_OK;
}

/* Adds `v` under modules[module][field] for a line
 * `gosr_module_script_seconds_{sum|count}{module="ID"} V`. */
static void metric_line(demo_run *d, const char *line)
{
    static const char P[] = "gosr_module_script_seconds_";
    if (strncmp(line, P, sizeof P - 1) != 0)
        return;
    const char *f = line + sizeof P - 1;
    const char *field = strncmp(f, "sum{", 4) == 0     ? "seconds"
                        : strncmp(f, "count{", 6) == 0 ? "calls"
                                                       : NULL;
    const char *m = strstr(f, "module=\"");
    if (!field || !m)
        return;
    m += 8;
    const char *e = strchr(m, '"');
    const char *sp = strrchr(line, ' ');
    if (!e || !sp || e - m > 63)
        return;
    char id[64];
    memcpy(id, m, (size_t)(e - m));
    id[e - m] = 0;
    json_t *o = json_object_get(d->modules, id);
    if (!o) {
        o = json_object();
        json_object_set_new(d->modules, id, o);
    }
    json_object_set_new(o, field, json_real(strtod(sp + 1, NULL)));
}

int demo__script_times(demo_run *d, gosr_error *err)
{
    gosr_buf body = {0};
    int rc = fetch_metrics(d, &body, err);
    if (rc == GOSR_OK && body.data) {
        char *save = NULL;
        for (char *l = strtok_r((char *)body.data, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save))
            metric_line(d, l);
    }
    gosr_buf_free(&body);
    const char *id;
    json_t *o;
    json_object_foreach(d->modules, id, o)
    {
        double s = json_real_value(json_object_get(o, "seconds"));
        double n = json_real_value(json_object_get(o, "calls"));
        json_object_set_new(o, "mean_ms", json_real(n > 0 ? s * 1e3 / n : 0));
    }
    return rc;
}

int demo__ledger(demo_run *d, gosr_error *err)
{
    gosr_ledger *l = gosr_node_ledger(d->node);
    int64_t count = 0;
    uint8_t head[32];
    int rc = gosr_ledger_head(l, &count, head);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "demo_ledger", "ledger head");
    for (int64_t s = 1; s <= count; s++) {
        gosr_ledger_row r = {0};
        if ((rc = gosr_ledger_get(l, s, &r, err)) != GOSR_OK)
            return rc;
        char hex[65];
        gosr_hex_encode(r.row_hash, 32, hex);
        json_array_append_new(
            d->ledger,
            json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "seq",
                      (json_int_t)r.seq, "time_ns", (json_int_t)r.time_ns,
                      "actor", r.actor, "action", r.action, "subject",
                      r.subject, "version", r.version, "reason",
                      r.reason ? r.reason : "", "row_hash", hex));
        gosr_ledger_row_clear(&r);
    }
    int64_t bad = 0;
    rc = gosr_ledger_verify(l, &bad, NULL);
    json_object_set_new(d->facts, "ledger_rows", json_integer(count));
    json_object_set_new(d->facts, "ledger_intact", json_boolean(rc == GOSR_OK));
    return GOSR_OK;
}

/* Tick time statistics over d->ticks. */
static json_t *tick_stats(const json_t *ticks)
{
    size_t n = json_array_size(ticks), i;
    double *v = n ? gosr_malloc(n * sizeof *v) : NULL, sum = 0;
    json_t *t;
    if (!v)
        return json_pack("{s:i}", "count", 0);
    json_array_foreach(ticks, i, t)
    {
        v[i] = json_real_value(json_array_get(t, 1));
        sum += v[i];
    }
    for (size_t a = 1; a < n; a++) /* insertion sort: n <= a few thousand */
        for (size_t b = a; b > 0 && v[b - 1] > v[b]; b--) {
            double x = v[b];
            v[b] = v[b - 1];
            v[b - 1] = x;
        }
    json_t *o = json_pack("{s:I, s:f, s:f, s:f, s:f}", "count", (json_int_t)n,
                          "mean_ms", sum / (double)n, "p50_ms", v[n / 2],
                          "p99_ms", v[(n * 99) / 100], "max_ms", v[n - 1]);
    gosr_free(v);
    return o;
}

json_t *demo__report(demo_run *d)
{
    gosr_demo_bot_stats bs = {0};
    gosr_node_counters c = {0};
    if (d->bots)
        gosr_demo_bots_stats(d->bots, &bs);
    if (d->node)
        gosr_node_get_counters(d->node, &c);
    json_t *acts = json_object();
    for (size_t i = 0; i < 11; i++)
        json_object_set_new(acts, gosr_demo_action_name(i),
                            json_integer((json_int_t)bs.by_action[i]));
    json_t *bots = json_pack("{s:i, s:I, s:I, s:I, s:I, s:o}", "count",
                             (int)d->cfg.bots, "in_world", (json_int_t)bs.joined,
                             "rounds", (json_int_t)bs.rounds, "inputs_sent",
                             (json_int_t)bs.sent, "inputs_refused",
                             (json_int_t)bs.refused, "by_action", acts);
    json_t *node = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ticks",
                             (json_int_t)c.ticks, "swaps", (json_int_t)c.swaps,
                             "rollbacks", (json_int_t)c.rollbacks, "retires",
                             (json_int_t)c.retires, "faults",
                             (json_int_t)c.faults, "late", (json_int_t)c.late,
                             "missed", (json_int_t)c.missed);
    return json_pack(
        "{s:s, s:I, s:I, s:i, s:s, s:O, s:O, s:o, s:o, s:o, s:O, s:O, s:O, "
        "s:O, s:O}",
        "engine", GOSR_ENGINE_VERSION, "seed", (json_int_t)d->cfg.seed,
        "duration_ms", (json_int_t)d->cfg.duration_ms, "rate_hz", 30,
        "out_dir", d->cfg.out_dir, "steps", d->steps, "facts", d->facts,
        "bots", bots, "node", node, "tick_stats", tick_stats(d->ticks),
        "ticks", d->ticks, "markers", d->markers, "kpis", d->kpis,
        "modules", d->modules, "ledger", d->ledger);
}
