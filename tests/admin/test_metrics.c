/*
 * test_metrics.c — the Prometheus registry: exact exposition text for
 * counters, gauges and histograms with labels and escaping, a strict
 * parser of the 0.0.4 text format run over the output, description
 * validation, and exact totals after concurrent lock-free updates.
 * Design: docs/admin.md ("Metrics").
 */
#include "harness.h"
#include "gosr/admin.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

/* ---- a strict parser of the text format 0.0.4
 * --------------------------------- */

typedef struct parser {
    char family[128]; /* current family from # TYPE */
    char type[16];    /* its type */
    bool help_seen;   /* # HELP seen for the next family */
    double last_le;   /* last bucket bound of the current series */
    double last_cum;  /* last cumulative bucket count */
    double inf_count; /* the +Inf bucket value */
    int samples;      /* samples read */
} parser;

static bool is_name(const char *s, size_t n, bool colon)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              (colon && s[i] == ':')))
            return false;
    return true;
}

static bool parse_value(const char *s, double *v)
{
    if (strcmp(s, "+Inf") == 0) {
        *v = INFINITY;
        return true;
    }
    if (strcmp(s, "-Inf") == 0) {
        *v = -INFINITY;
        return true;
    }
    if (strcmp(s, "NaN") == 0) {
        *v = NAN;
        return true;
    }
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == '\0' && strchr(s, ' ') == NULL;
}

/* Parses {a="x",b="y"}; stores the le value if present. */
static const char *parse_labels(const char *p, char *le, size_t lecap)
{
    le[0] = '\0';
    if (*p != '{')
        return p;
    p++;
    while (*p != '}') {
        const char *eq = strchr(p, '=');
        if (!eq || !is_name(p, (size_t)(eq - p), false) || eq[1] != '"')
            return NULL;
        bool is_le = eq - p == 2 && strncmp(p, "le", 2) == 0;
        size_t k = 0;
        for (p = eq + 2; *p != '"'; p++) {
            if (*p == '\0' || *p == '\n')
                return NULL;
            if (*p == '\\') {
                p++;
                if (*p != '\\' && *p != '"' && *p != 'n')
                    return NULL;
            }
            if (is_le && k + 1 < lecap)
                le[k++] = *p;
        }
        if (is_le)
            le[k] = '\0';
        p++;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return NULL;
    }
    return p + 1;
}

static bool parse_sample(parser *ps, const char *line)
{
    size_t n = strcspn(line, "{ ");
    if (!is_name(line, n, true) || !ps->family[0])
        return false;
    char name[160];
    snprintf(name, sizeof name, "%.*s", (int)n, line);
    char le[64];
    const char *p = parse_labels(line + n, le, sizeof le);
    double v;
    if (!p || *p != ' ' || !parse_value(p + 1, &v))
        return false;
    ps->samples++;
    size_t fl = strlen(ps->family);
    if (strcmp(ps->type, "histogram") != 0)
        return strcmp(name, ps->family) == 0 && !le[0];
    if (strncmp(name, ps->family, fl) != 0)
        return false;
    const char *suf = name + fl;
    if (strcmp(suf, "_bucket") == 0) {
        double b;
        if (!le[0] || !parse_value(le, &b) || !(b > ps->last_le) ||
            v < ps->last_cum)
            return false;
        ps->last_le = b;
        ps->last_cum = v;
        if (isinf(b)) {
            ps->inf_count = v;
            ps->last_le = -INFINITY; /* next series starts over */
            ps->last_cum = 0;
        }
        return true;
    }
    if (strcmp(suf, "_count") == 0)
        return v == ps->inf_count;
    return strcmp(suf, "_sum") == 0;
}

/* Returns the number of samples, or -1 with the bad line number. */
static int parse_exposition(const char *text, int *bad_line)
{
    parser ps = {.last_le = -INFINITY};
    int ln = 0;
    char line[1024];
    while (*text) {
        ln++;
        size_t n = strcspn(text, "\n");
        if (text[n] != '\n' || n >= sizeof line)
            goto bad; /* every line ends with \n */
        memcpy(line, text, n);
        line[n] = '\0';
        text += n + 1;
        char name[128], type[32];
        if (strncmp(line, "# HELP ", 7) == 0) {
            if (sscanf(line + 7, "%127s", name) != 1 || ps.help_seen)
                goto bad;
            ps.help_seen = true;
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            if (sscanf(line + 7, "%127s %31s", name, type) != 2 ||
                !ps.help_seen || strcmp(name, ps.family) == 0 ||
                (strcmp(type, "counter") && strcmp(type, "gauge") &&
                 strcmp(type, "histogram")))
                goto bad;
            strcpy(ps.family, name);
            strcpy(ps.type, type);
            ps.help_seen = false;
        } else if (!parse_sample(&ps, line)) {
            goto bad;
        }
    }
    return ps.samples;
bad:
    *bad_line = ln;
    return -1;
}

/* ---- tests
 * ------------------------------------------------------------------------ */

GOSR_TEST(exposition_exact_text)
{
    gosr_admin_metrics *m;
    gosr_error err;
    REQUIRE(gosr_admin_metrics_create(&m) == GOSR_OK);
    const char *lab[] = {"module"};
    const double b[] = {0.25, 0.5, 1};
    gosr_admin_metric *tick, *script, *active, *faults;
    gosr_admin_metric_desc dt = {
        "gosr_tick_seconds", "Tick time.", GOSR_ADMIN_HISTOGRAM, NULL, 0, b, 3};
    gosr_admin_metric_desc ds = {"gosr_script_seconds_total",
                                 "Script time per module\\n, in seconds.\nok",
                                 GOSR_ADMIN_COUNTER,
                                 lab,
                                 1,
                                 NULL,
                                 0};
    gosr_admin_metric_desc da = {"gosr_active_modules",
                                 "Active modules.",
                                 GOSR_ADMIN_GAUGE,
                                 NULL,
                                 0,
                                 NULL,
                                 0};
    gosr_admin_metric_desc df = {
        "gosr_faults_total", "Faults.", GOSR_ADMIN_COUNTER, lab, 1, NULL, 0};
    CHECK_OK(gosr_admin_metrics_add(m, &dt, &tick, &err));
    CHECK_OK(gosr_admin_metrics_add(m, &ds, &script, &err));
    CHECK_OK(gosr_admin_metrics_add(m, &da, &active, &err));
    CHECK_OK(gosr_admin_metrics_add(m, &df, &faults, &err));
    gosr_admin_series *t, *s1, *s2, *a;
    CHECK_OK(gosr_admin_metric_series(tick, NULL, &t, &err));
    gosr_admin_series_observe(t, 0.125);
    gosr_admin_series_observe(t, 0.25); /* le is inclusive */
    gosr_admin_series_observe(t, 0.75);
    gosr_admin_series_observe(t, 2.5);
    const char *v1[] = {"com.acme.chat"}, *v2[] = {"we\"ird\\mod\nx"};
    CHECK_OK(gosr_admin_metric_series(script, v1, &s1, &err));
    CHECK_OK(gosr_admin_metric_series(script, v2, &s2, &err));
    gosr_admin_series_add(s1, 0.25);
    gosr_admin_series_add(s1, 0.5);
    gosr_admin_series_add(s1, -3); /* counters never go down */
    gosr_admin_series_add(s2, 1e-7);
    CHECK_OK(gosr_admin_metric_series(active, NULL, &a, &err));
    gosr_admin_series_set(a, 7);
    gosr_admin_series_add(a, -2);
    gosr_buf out = {0};
    CHECK_OK(gosr_admin_metrics_render(m, &out));
    const char *want =
        "# HELP gosr_tick_seconds Tick time.\n"
        "# TYPE gosr_tick_seconds histogram\n"
        "gosr_tick_seconds_bucket{le=\"0.25\"} 2\n"
        "gosr_tick_seconds_bucket{le=\"0.5\"} 2\n"
        "gosr_tick_seconds_bucket{le=\"1\"} 3\n"
        "gosr_tick_seconds_bucket{le=\"+Inf\"} 4\n"
        "gosr_tick_seconds_sum 3.625\n"
        "gosr_tick_seconds_count 4\n"
        "# HELP gosr_script_seconds_total Script time per module\\\\n, in "
        "seconds.\\nok\n"
        "# TYPE gosr_script_seconds_total counter\n"
        "gosr_script_seconds_total{module=\"com.acme.chat\"} 0.75\n"
        "gosr_script_seconds_total{module=\"we\\\"ird\\\\mod\\nx\"} 1e-07\n"
        "# HELP gosr_active_modules Active modules.\n"
        "# TYPE gosr_active_modules gauge\n"
        "gosr_active_modules 5\n"
        "# HELP gosr_faults_total Faults.\n"
        "# TYPE gosr_faults_total counter\n";
    CHECK_STR((char *)out.data, want);
    int bad = 0;
    CHECK_EQ(parse_exposition((char *)out.data, &bad), 9);
    CHECK_EQ(bad, 0);
    CHECK(gosr_admin_series_value(t) == 4);
    gosr_buf_free(&out);
    gosr_admin_metrics_destroy(m);
}

GOSR_TEST(parser_rejects_bad_text)
{
    static const char *const bad[] = {
        "x 1\n",                                          /* no TYPE */
        "# HELP a x\n# TYPE a counter\na 1",              /* no final \n */
        "# HELP a x\n# TYPE a counter\na{l=\"\\q\"} 1\n", /* bad escape */
        "# HELP a x\n# TYPE a counter\nb 1\n",            /* wrong family */
        "# HELP a x\n# TYPE a counter\na 1 2 3\n",        /* junk */
        "# HELP a x\n# TYPE a histogram\na_bucket{le=\"1\"} 2\n"
        "a_bucket{le=\"0.5\"} 2\n", /* le not rising */
        "# HELP a x\n# TYPE a histogram\na_bucket{le=\"+Inf\"} 2\n"
        "a_count 3\n", /* count != +Inf */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int line = 0;
        CHECK_EQ(parse_exposition(bad[i], &line), -1);
    }
}

GOSR_TEST(labelled_histogram_and_empty_family)
{
    gosr_admin_metrics *m;
    gosr_error err;
    REQUIRE(gosr_admin_metrics_create(&m) == GOSR_OK);
    const char *lab[] = {"module", "phase"};
    gosr_admin_metric *h;
    gosr_admin_metric_desc d = {.name = "gosr_call_seconds",
                                .help = "Calls.",
                                .type = GOSR_ADMIN_HISTOGRAM,
                                .labels = lab,
                                .nlabels = 2};
    CHECK_OK(gosr_admin_metrics_add(m, &d, &h, &err));
    gosr_buf out = {0};
    CHECK_OK(gosr_admin_metrics_render(m, &out));
    CHECK_STR((char *)out.data, "# HELP gosr_call_seconds Calls.\n"
                                "# TYPE gosr_call_seconds histogram\n");
    gosr_buf_free(&out);
    for (int i = 0; i < 6; i++) {
        char mod[8];
        snprintf(mod, sizeof mod, "m%d", i % 3);
        const char *v[] = {mod, i % 2 ? "tick" : "init"};
        gosr_admin_series *s;
        CHECK_OK(gosr_admin_metric_series(h, v, &s, &err));
        gosr_admin_series_observe(s, i * 0.01);
    }
    CHECK_OK(gosr_admin_metrics_render(m, &out));
    int bad = 0;
    /* 6 series x (12 default bounds + +Inf + sum + count) */
    CHECK_EQ(parse_exposition((char *)out.data, &bad), 6 * 15);
    CHECK_EQ(bad, 0);
    CHECK(strstr((char *)out.data,
                 "gosr_call_seconds_bucket{module=\"m1\",phase=\"tick\","
                 "le=\"0.016\"} 1\n") != NULL);
    gosr_buf_free(&out);
    const char *missing[] = {"m0", NULL};
    gosr_admin_series *s;
    CHECK_STATUS(gosr_admin_metric_series(h, missing, &s, &err), GOSR_EINVAL);
    CHECK_STATUS(gosr_admin_metric_series(h, NULL, &s, &err), GOSR_EINVAL);
    gosr_admin_metrics_destroy(m);
}

GOSR_TEST(descriptions_validated)
{
    gosr_admin_metrics *m;
    gosr_error err;
    REQUIRE(gosr_admin_metrics_create(&m) == GOSR_OK);
    const char *le[] = {"le"}, *dunder[] = {"__x"}, *bad[] = {"a-b"};
    const double down[] = {1, 0.5}, nan_b[] = {NAN}, ok_b[] = {1};
    const struct {
        gosr_admin_metric_desc d;
        const char *reason;
    } cases[] = {
        {{.name = ""}, "metric_name"},
        {{.name = "9abc"}, "metric_name"},
        {{.name = "a b"}, "metric_name"},
        {{.name = "h",
          .type = GOSR_ADMIN_HISTOGRAM,
          .labels = le,
          .nlabels = 1},
         "label_name"},
        {{.name = "c", .labels = dunder, .nlabels = 1}, "label_name"},
        {{.name = "c", .labels = bad, .nlabels = 1}, "label_name"},
        {{.name = "h",
          .type = GOSR_ADMIN_HISTOGRAM,
          .buckets = down,
          .nbuckets = 2},
         "buckets"},
        {{.name = "h",
          .type = GOSR_ADMIN_HISTOGRAM,
          .buckets = nan_b,
          .nbuckets = 1},
         "buckets"},
        {{.name = "h",
          .type = GOSR_ADMIN_HISTOGRAM,
          .buckets = ok_b,
          .nbuckets = 0},
         "buckets"},
        {{.name = "t", .type = (gosr_admin_metric_type)7}, "metric_desc"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_STATUS(gosr_admin_metrics_add(m, &cases[i].d, NULL, &err),
                     GOSR_EINVAL);
        CHECK_STR(err.reason, cases[i].reason);
    }
    gosr_admin_metric_desc d = {.name = "ns:dup_total", .help = "x"};
    CHECK_OK(gosr_admin_metrics_add(m, &d, NULL, &err));
    CHECK_STATUS(gosr_admin_metrics_add(m, &d, NULL, &err), GOSR_EEXIST);
    gosr_admin_metrics_destroy(m);
    gosr_admin_metrics_destroy(NULL);
}

GOSR_TEST(wrong_update_kind_is_ignored)
{
    gosr_admin_metrics *m;
    gosr_error err;
    REQUIRE(gosr_admin_metrics_create(&m) == GOSR_OK);
    gosr_admin_metric *c, *h;
    gosr_admin_metric_desc dc = {.name = "c_total"};
    gosr_admin_metric_desc dh = {.name = "h", .type = GOSR_ADMIN_HISTOGRAM};
    CHECK_OK(gosr_admin_metrics_add(m, &dc, &c, &err));
    CHECK_OK(gosr_admin_metrics_add(m, &dh, &h, &err));
    gosr_admin_series *sc, *sh;
    CHECK_OK(gosr_admin_metric_series(c, NULL, &sc, &err));
    CHECK_OK(gosr_admin_metric_series(h, NULL, &sh, &err));
    gosr_admin_series_set(sc, 10);    /* set is for gauges */
    gosr_admin_series_observe(sc, 1); /* observe is for histograms */
    gosr_admin_series_add(sh, 5);     /* add is not for histograms */
    gosr_admin_series_add(sc, NAN);
    gosr_admin_series_observe(sh, NAN);
    CHECK(gosr_admin_series_value(sc) == 0);
    CHECK(gosr_admin_series_value(sh) == 0);
    gosr_admin_series_add(NULL, 1);
    gosr_admin_metrics_destroy(m);
}

/* ---- concurrent updates
 * -------------------------------------------------------------- */

typedef struct upd {
    gosr_admin_series *c;  /* counter to add to */
    gosr_admin_series *h;  /* histogram to observe into */
    gosr_admin_metrics *m; /* registry to render meanwhile */
    pthread_t th;          /* thread */
} upd;

static void *upd_main(void *arg)
{
    upd *u = arg;
    for (int i = 0; i < 50000; i++) {
        gosr_admin_series_add(u->c, 0.5);
        gosr_admin_series_observe(u->h, (i % 4) * 0.25);
        if (i % 10000 == 0) {
            gosr_buf b = {0};
            gosr_admin_metrics_render(u->m, &b);
            gosr_buf_free(&b);
        }
    }
    return NULL;
}

GOSR_TEST(concurrent_updates_are_exact)
{
    gosr_admin_metrics *m;
    gosr_error err;
    REQUIRE(gosr_admin_metrics_create(&m) == GOSR_OK);
    gosr_admin_metric *c, *h;
    const double b[] = {0.3, 0.6};
    gosr_admin_metric_desc dc = {.name = "c_total"};
    gosr_admin_metric_desc dh = {
        .name = "h", .type = GOSR_ADMIN_HISTOGRAM, .buckets = b, .nbuckets = 2};
    CHECK_OK(gosr_admin_metrics_add(m, &dc, &c, &err));
    CHECK_OK(gosr_admin_metrics_add(m, &dh, &h, &err));
    upd u[4];
    for (int i = 0; i < 4; i++) {
        u[i].m = m;
        CHECK_OK(gosr_admin_metric_series(c, NULL, &u[i].c, &err));
        CHECK_OK(gosr_admin_metric_series(h, NULL, &u[i].h, &err));
        REQUIRE(pthread_create(&u[i].th, NULL, upd_main, &u[i]) == 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(u[i].th, NULL);
    CHECK(gosr_admin_series_value(u[0].c) == 100000.0);
    gosr_buf out = {0};
    CHECK_OK(gosr_admin_metrics_render(m, &out));
    /* per thread: 12500 each of 0, 0.25, 0.5, 0.75 -> sum 18750 */
    CHECK(strstr((char *)out.data, "h_bucket{le=\"0.3\"} 100000\n"));
    CHECK(strstr((char *)out.data, "h_bucket{le=\"0.6\"} 150000\n"));
    CHECK(strstr((char *)out.data, "h_bucket{le=\"+Inf\"} 200000\n"));
    CHECK(strstr((char *)out.data, "h_sum 75000\n"));
    CHECK(strstr((char *)out.data, "h_count 200000\n"));
    CHECK(strstr((char *)out.data, "c_total 100000\n"));
    int bad = 0;
    CHECK_EQ(parse_exposition((char *)out.data, &bad), 6);
    gosr_buf_free(&out);
    gosr_admin_metrics_destroy(m);
}

/* Builds and renders a small registry; returns the first failure. */
static int build_and_render(void)
{
    gosr_admin_metrics *m = NULL;
    int rc = gosr_admin_metrics_create(&m);
    if (rc != GOSR_OK)
        return rc;
    const char *lab[] = {"module"};
    gosr_admin_metric *h = NULL, *c = NULL;
    gosr_admin_metric_desc dh = {.name = "h", .type = GOSR_ADMIN_HISTOGRAM,
                                 .labels = lab, .nlabels = 1};
    gosr_admin_metric_desc dc = {.name = "c_total", .help = "x"};
    rc = gosr_admin_metrics_add(m, &dh, &h, NULL);
    if (rc == GOSR_OK)
        rc = gosr_admin_metrics_add(m, &dc, &c, NULL);
    const char *v[] = {"mod"};
    gosr_admin_series *s = NULL;
    if (rc == GOSR_OK)
        rc = gosr_admin_metric_series(h, v, &s, NULL);
    if (rc == GOSR_OK)
        gosr_admin_series_observe(s, 0.01);
    gosr_buf b = {0};
    if (rc == GOSR_OK)
        rc = gosr_admin_metrics_render(m, &b);
    gosr_buf_free(&b);
    gosr_admin_metrics_destroy(m);
    return rc;
}

GOSR_TEST(out_of_memory_at_every_allocation)
{
    int n;
    for (n = 1; n < 500; n++) {
        gosr_alloc_fail_after(n);
        int rc = build_and_render();
        gosr_alloc_fail_after(0);
        if (rc == GOSR_OK)
            break;
        CHECK_STATUS(rc, GOSR_ENOMEM);
    }
    CHECK(n > 5 && n < 500); /* it did fail early, and it did finish */
}
