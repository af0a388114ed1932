/*
 * html.c — report.html (one self-contained page: inline SVG plots drawn
 * here, a stylesheet, no scripts) and the terminal summary of a demo
 * report. Design: docs/demo.md ("Report").
 */
#include "gosr/demo.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HTML-escapes s into b. */
static void esc(gosr_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': gosr_buf_printf(b, "&lt;"); break;
        case '>': gosr_buf_printf(b, "&gt;"); break;
        case '&': gosr_buf_printf(b, "&amp;"); break;
        case '"': gosr_buf_printf(b, "&quot;"); break;
        default: gosr_buf_append(b, s, 1);
        }
    }
}

/* A JSON scalar as text into out. */
static void scalar(const json_t *v, char *out, size_t cap)
{
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%.3f", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_null(v) || !v)
        snprintf(out, cap, "%s", "null (not run)");
    else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(out, cap, "%s", t ? t : "?");
        free(t);
    }
}

static const char *marker_color(const char *kind)
{
    return strcmp(kind, "swap") == 0       ? "#1f6feb"
           : strcmp(kind, "rollback") == 0 ? "#d1242f"
           : strcmp(kind, "patch") == 0    ? "#1a7f37"
                                           : "#8250df";
}

/* Tick duration over ticks, markers as vertical lines, 33.3 ms budget. */
static void svg_ticks(gosr_buf *b, const json_t *r)
{
    const json_t *t = json_object_get(r, "ticks");
    size_t n = json_array_size(t), i;
    const double W = 900, H = 260, L = 50, B = 30;
    double t0 = n ? (double)json_integer_value(json_array_get(json_array_get(t, 0), 0)) : 0;
    double t1 = n ? (double)json_integer_value(json_array_get(json_array_get(t, n - 1), 0)) : 1;
    double ymax = 40;
    json_t *p;
    json_array_foreach(t, i, p) if (json_real_value(json_array_get(p, 1)) > ymax)
        ymax = json_real_value(json_array_get(p, 1));
    if (t1 <= t0)
        t1 = t0 + 1;
#define X(v) (L + ((v) - t0) / (t1 - t0) * (W - L - 10))
#define Y(v) (H - B - (v) / ymax * (H - B - 10))
    gosr_buf_printf(b, "<svg width='%.0f' height='%.0f' viewBox='0 0 %.0f %.0f'>"
                    "<rect x='%.0f' y='10' width='%.0f' height='%.0f' fill='#f6f8fa'/>",
                    W, H, W, H, L, W - L - 10, H - B - 10);
    gosr_buf_printf(b, "<line x1='%.0f' x2='%.0f' y1='%.1f' y2='%.1f' stroke='#bf8700' stroke-dasharray='4 3'/>"
                    "<text x='%.0f' y='%.1f' font-size='11' fill='#bf8700'>33.3 ms budget</text>",
                    L, W - 10, Y(33.3), Y(33.3), W - 110, Y(33.3) - 4);
    gosr_buf_printf(b, "<polyline fill='none' stroke='#24292f' stroke-width='1' points='");
    json_array_foreach(t, i, p)
        gosr_buf_printf(b, "%.1f,%.1f ", X((double)json_integer_value(json_array_get(p, 0))),
                        Y(json_real_value(json_array_get(p, 1))));
    gosr_buf_printf(b, "'/>");
    json_array_foreach(json_object_get(r, "markers"), i, p)
    {
        double x = X((double)json_integer_value(json_object_get(p, "tick")));
        const char *k = json_string_value(json_object_get(p, "kind"));
        gosr_buf_printf(b, "<line x1='%.1f' x2='%.1f' y1='10' y2='%.0f' stroke='%s' stroke-width='2'/>"
                        "<text x='%.1f' y='%.0f' font-size='11' fill='%s'>",
                        x, x, H - B, marker_color(k), x + 3, 22.0 + 12 * (double)(i % 3), marker_color(k));
        esc(b, k);
        gosr_buf_printf(b, "</text>");
    }
    gosr_buf_printf(b, "<text x='5' y='20' font-size='11'>%.0f ms</text><text x='5' y='%.0f' font-size='11'>0</text>"
                    "<text x='%.0f' y='%.0f' font-size='11'>tick %.0f</text><text x='%.0f' y='%.0f' font-size='11'>tick %.0f</text></svg>",
                    ymax, H - B, L, H - 10, t0, W - 80, H - 10, t1);
#undef X
#undef Y
}

/* Mean script time per module and tick, horizontal bars. */
static void svg_modules(gosr_buf *b, const json_t *r)
{
    const json_t *m = json_object_get(r, "modules");
    const char *id;
    json_t *o;
    double mx = 0.001;
    json_object_foreach((json_t *)m, id, o) if (json_real_value(json_object_get(o, "mean_ms")) > mx)
        mx = json_real_value(json_object_get(o, "mean_ms"));
    size_t k = 0, n = json_object_size(m);
    gosr_buf_printf(b, "<svg width='900' height='%zu'>", 26 * n + 10);
    json_object_foreach((json_t *)m, id, o)
    {
        double v = json_real_value(json_object_get(o, "mean_ms"));
        double y = 5 + 26.0 * (double)k++;
        gosr_buf_printf(b, "<text x='0' y='%.0f' font-size='12'>", y + 15);
        esc(b, id);
        gosr_buf_printf(b, "</text><rect x='140' y='%.0f' width='%.1f' height='18' fill='#1f6feb'/>"
                        "<text x='%.1f' y='%.0f' font-size='12'>%.3f ms/tick (%.0f calls, %.2f s total)</text>",
                        y, v / mx * 500, 146 + v / mx * 500, y + 14, v,
                        json_real_value(json_object_get(o, "calls")),
                        json_real_value(json_object_get(o, "seconds")));
    }
    gosr_buf_printf(b, "</svg>");
}

static void table_obj(gosr_buf *b, const json_t *o)
{
    const char *k;
    json_t *v;
    char s[512];
    gosr_buf_printf(b, "<table>");
    json_object_foreach((json_t *)o, k, v)
    {
        scalar(v, s, sizeof s);
        gosr_buf_printf(b, "<tr><th>");
        esc(b, k);
        gosr_buf_printf(b, "</th><td>");
        esc(b, s);
        gosr_buf_printf(b, "</td></tr>");
    }
    gosr_buf_printf(b, "</table>");
}

/* Rows of objects as a table with the given columns. */
static void table_rows(gosr_buf *b, const json_t *rows, const char *const *cols,
                       size_t nc)
{
    size_t i;
    json_t *r;
    char s[512];
    gosr_buf_printf(b, "<table><tr>");
    for (size_t c = 0; c < nc; c++)
        gosr_buf_printf(b, "<th>%s</th>", cols[c]);
    gosr_buf_printf(b, "</tr>");
    json_array_foreach(rows, i, r)
    {
        gosr_buf_printf(b, "<tr>");
        for (size_t c = 0; c < nc; c++) {
            scalar(json_object_get(r, cols[c]), s, sizeof s);
            gosr_buf_printf(b, "<td class='%s'>", cols[c]);
            esc(b, s);
            gosr_buf_printf(b, "</td>");
        }
        gosr_buf_printf(b, "</tr>");
    }
    gosr_buf_printf(b, "</table>");
}

/* KPIs: one column per phase. */
static void table_kpis(gosr_buf *b, const json_t *kpis)
{
    static const char *const ROWS[][2] = {
        {"economy", "ver"},     {"economy", "supply"},  {"economy", "minted"},
        {"economy", "sunk"},    {"economy", "prices"},  {"economy", "flows"},
        {"economy", "players"}, {"quests", "stats"},    {"entities", "avatars"},
        {"entities", "monsters"}, {"entities", "loot"}, {"", "tick"}};
    const char *ph;
    json_t *o;
    char s[256];
    gosr_buf_printf(b, "<table><tr><th>KPI</th>");
    json_object_foreach((json_t *)kpis, ph, o) gosr_buf_printf(b, "<th>%s</th>", ph);
    gosr_buf_printf(b, "</tr>");
    for (size_t i = 0; i < sizeof ROWS / sizeof *ROWS; i++) {
        gosr_buf_printf(b, "<tr><th>%s%s%s</th>", ROWS[i][0], ROWS[i][0][0] ? "." : "", ROWS[i][1]);
        json_object_foreach((json_t *)kpis, ph, o)
        {
            const json_t *v = ROWS[i][0][0] ? json_object_get(json_object_get(o, ROWS[i][0]), ROWS[i][1])
                                            : json_object_get(o, ROWS[i][1]);
            scalar(v, s, sizeof s);
            gosr_buf_printf(b, "<td>");
            esc(b, s);
            gosr_buf_printf(b, "</td>");
        }
        gosr_buf_printf(b, "</tr>");
    }
    gosr_buf_printf(b, "</table><p class='note'>supply/minted/sunk in milli-gold; prices: ore herb wood potion (milli-gold); "
                    "flows: sales trades gathers loot-pickups potions; quests.stats: accepted completed gold-rewarded.</p>");
}

int gosr_demo_write_html(const json_t *r, const char *dir, gosr_error *err)
{
    static const char *const STEP_COLS[] = {"name", "result", "detail"};
    static const char *const LEDGER_COLS[] = {"seq", "actor", "action", "subject", "version", "reason"};
    gosr_buf b = {0};
    gosr_buf_printf(&b, "<!DOCTYPE html><html><head><meta charset='utf-8'><title>GOSR demo report</title><style>"
                    "body{font-family:sans-serif;margin:24px;color:#24292f}table{border-collapse:collapse;margin:8px 0}"
                    "td,th{border:1px solid #d0d7de;padding:3px 8px;font-size:13px;text-align:left}"
                    "td.result{font-weight:bold}.note{font-size:12px;color:#57606a}h2{margin-top:28px}</style></head><body>");
    gosr_buf_printf(&b, "<h1>GOSR demo: arena</h1><p>engine %s, seed %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT
                    " ms of play at %" JSON_INTEGER_FORMAT " Hz, %" JSON_INTEGER_FORMAT " bots.</p>",
                    json_string_value(json_object_get(r, "engine")), json_integer_value(json_object_get(r, "seed")),
                    json_integer_value(json_object_get(r, "duration_ms")), json_integer_value(json_object_get(r, "rate_hz")),
                    json_integer_value(json_object_get(json_object_get(r, "bots"), "count")));
    gosr_buf_printf(&b, "<h2>Steps</h2>");
    table_rows(&b, json_object_get(r, "steps"), STEP_COLS, 3);
    gosr_buf_printf(&b, "<h2>Facts</h2>");
    table_obj(&b, json_object_get(r, "facts"));
    gosr_buf_printf(&b, "<h2>Tick time over the run</h2>");
    svg_ticks(&b, r);
    static const char *const MARK_COLS[] = {"tick", "kind", "label"};
    table_rows(&b, json_object_get(r, "markers"), MARK_COLS, 3);
    table_obj(&b, json_object_get(r, "tick_stats"));
    gosr_buf_printf(&b, "<h2>Script time per module</h2>");
    svg_modules(&b, r);
    gosr_buf_printf(&b, "<h2>Economy KPIs</h2>");
    table_kpis(&b, json_object_get(r, "kpis"));
    gosr_buf_printf(&b, "<h2>Bots and node</h2>");
    table_obj(&b, json_object_get(r, "bots"));
    table_obj(&b, json_object_get(r, "node"));
    gosr_buf_printf(&b, "<h2>Ledger</h2>");
    table_rows(&b, json_object_get(r, "ledger"), LEDGER_COLS, 6);
    gosr_buf_printf(&b, "</body></html>\n");
    char *path = gosr_asprintf("%s/report.html", dir);
    int rc = (path && b.data) ? gosr_file_write_atomic(path, b.data, b.len, 0644) : GOSR_ENOMEM;
    if (rc != GOSR_OK)
        gosr_error_set(err, rc, "demo_report", "cannot write %s", path ? path : dir);
    gosr_free(path);
    gosr_buf_free(&b);
    return rc;
}

void gosr_demo_print_summary(const json_t *r, FILE *fp)
{
    size_t i;
    json_t *v;
    const char *k;
    char s[512];
    fprintf(fp, "\nGOSR demo summary (%s)\n", json_string_value(json_object_get(r, "out_dir")));
    json_array_foreach(json_object_get(r, "steps"), i, v)
        fprintf(fp, "  %-8s %-26s %s\n", json_string_value(json_object_get(v, "result")),
                json_string_value(json_object_get(v, "name")), json_string_value(json_object_get(v, "detail")));
    fprintf(fp, "facts:\n");
    json_object_foreach(json_object_get(r, "facts"), k, v)
    {
        scalar(v, s, sizeof s);
        fprintf(fp, "  %-26s %s\n", k, s);
    }
    const json_t *ts = json_object_get(r, "tick_stats"), *b = json_object_get(r, "bots");
    fprintf(fp, "ticks: %" JSON_INTEGER_FORMAT " sampled, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
            json_integer_value(json_object_get(ts, "count")), json_real_value(json_object_get(ts, "p50_ms")),
            json_real_value(json_object_get(ts, "p99_ms")), json_real_value(json_object_get(ts, "max_ms")));
    fprintf(fp, "bots: %" JSON_INTEGER_FORMAT " in world, %" JSON_INTEGER_FORMAT " inputs sent, %" JSON_INTEGER_FORMAT " refused\n",
            json_integer_value(json_object_get(b, "in_world")), json_integer_value(json_object_get(b, "inputs_sent")),
            json_integer_value(json_object_get(b, "inputs_refused")));
    fprintf(fp, "script time per module (mean per tick):");
    json_object_foreach(json_object_get(r, "modules"), k, v)
        fprintf(fp, " %s %.3f ms;", k, json_real_value(json_object_get(v, "mean_ms")));
    fprintf(fp, "\neconomy KPIs:\n");
    json_object_foreach(json_object_get(r, "kpis"), k, v)
    {
        const json_t *e = json_object_get(v, "economy");
        fprintf(fp, "  %-12s ver %s supply %s minted %s sunk %s prices [%s] quests [%s]\n", k,
                json_string_value(json_object_get(e, "ver")), json_string_value(json_object_get(e, "supply")),
                json_string_value(json_object_get(e, "minted")), json_string_value(json_object_get(e, "sunk")),
                json_string_value(json_object_get(e, "prices")),
                json_string_value(json_object_get(json_object_get(v, "quests"), "stats")));
    }
    fprintf(fp, "ledger: %zu rows\n", json_array_size(json_object_get(r, "ledger")));
    json_array_foreach(json_object_get(r, "ledger"), i, v)
        fprintf(fp, "  #%-3" JSON_INTEGER_FORMAT " %-18s %-17s %-15.15s %s\n", json_integer_value(json_object_get(v, "seq")),
                json_string_value(json_object_get(v, "actor")), json_string_value(json_object_get(v, "action")),
                json_string_value(json_object_get(v, "subject")), json_string_value(json_object_get(v, "version")));
    fprintf(fp, "report: %s/report.html, %s/report.json\n", json_string_value(json_object_get(r, "out_dir")),
            json_string_value(json_object_get(r, "out_dir")));
}
