/*
 * metrics.c — a small Prometheus registry: counter, gauge and histogram
 * families with labels, series updated lock-free with atomics from the
 * tick thread, and the text exposition format 0.0.4 (HELP/TYPE lines,
 * _bucket{le=...}/_sum/_count, label and HELP escaping).
 * Design: docs/admin.md ("Metrics").
 */
#include "admin/admin_int.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 8
#define MAX_BUCKETS 32

/* Default histogram bounds in seconds, suited to tick times. */
static const double DEFAULT_BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005,
                                         0.01,   0.016, 0.025,  0.05,
                                         0.1,    0.25,  0.5,    1.0};

struct gosr_admin_series {
    gosr_admin_series *next;   /* next series of the family (lock) */
    gosr_admin_metric *family; /* owning family */
    char **values;             /* label values, family->nlabels (owned) */
    _Atomic uint64_t value;    /* double bits: value, or histogram sum */
    _Atomic uint64_t *buckets; /* histogram: nbounds + 1 counts, not
                                  cumulative; the last is above all bounds */
};

struct gosr_admin_metric {
    gosr_admin_metric *next;     /* next family in the registry (lock) */
    gosr_admin_metrics *reg;     /* owning registry */
    char *name;                  /* metric name (owned) */
    char *help;                  /* HELP text (owned) */
    gosr_admin_metric_type type; /* counter, gauge or histogram */
    size_t nlabels;              /* number of label names */
    char *labels[MAX_LABELS];    /* label names (owned) */
    size_t nbounds;              /* histogram bucket bounds */
    double bounds[MAX_BUCKETS];  /* strictly rising, finite */
    char le[MAX_BUCKETS][40];    /* the bounds formatted for le="..." */
    gosr_admin_series *series;   /* first series (lock) */
    gosr_admin_series **tail;    /* where the next series links (lock) */
};

struct gosr_admin_metrics {
    pthread_mutex_t lock;     /* guards every list of the registry */
    gosr_admin_metric *first; /* first family */
    gosr_admin_metric **tail; /* where the next family links */
};

static void fmt_double(double v, char out[40]);

/* ---- atomic doubles --------------------------------------------------------
 */

/* Doubles travel through _Atomic uint64_t as their bit patterns. */
static uint64_t dbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void atomic_add_double(_Atomic uint64_t *a, double v)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        a, &old, dbits(bitsd(old) + v), memory_order_relaxed,
        memory_order_relaxed)) {
    }
}

/* ---- registry
 * ---------------------------------------------------------------- */

int gosr_admin_metrics_create(gosr_admin_metrics **out)
{
    gosr_admin_metrics *m = gosr_calloc(1, sizeof *m);
    if (!m)
        return GOSR_ENOMEM;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        gosr_free(m);
        return GOSR_EINTERNAL;
    }
    m->tail = &m->first;
    *out = m;
    return GOSR_OK;
}

/* Frees a series with its label values and buckets. Accepts NULL. */
static void series_free(gosr_admin_series *s, size_t nlabels)
{
    if (!s)
        return;
    for (size_t i = 0; s->values && i < nlabels; i++)
        gosr_free(s->values[i]);
    gosr_free(s->values);
    gosr_free((void *)s->buckets);
    gosr_free(s);
}

/* Frees a family and all its series. Accepts NULL. */
static void family_free(gosr_admin_metric *f)
{
    if (!f)
        return;
    for (gosr_admin_series *s = f->series, *n; s; s = n) {
        n = s->next;
        series_free(s, f->nlabels);
    }
    for (size_t i = 0; i < f->nlabels; i++)
        gosr_free(f->labels[i]);
    gosr_free(f->name);
    gosr_free(f->help);
    gosr_free(f);
}

void gosr_admin_metrics_destroy(gosr_admin_metrics *m)
{
    if (!m)
        return;
    for (gosr_admin_metric *f = m->first, *n; f; f = n) {
        n = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&m->lock);
    gosr_free(m);
}

/* Metric names allow ':', label names do not. */
static bool metric_name_ok(const char *s, bool colon)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || (colon && *s == ':')))
            return false;
    return true;
}

/* Checks a description and resolves its bucket bounds. */
static int desc_check(const gosr_admin_metric_desc *d, const double **b,
                      size_t *nb, gosr_error *err)
{
    if (!metric_name_ok(d->name, true))
        return gosr_error_set(err, GOSR_EINVAL, "metric_name",
                              "bad metric name '%s'", d->name ? d->name : "");
    if (d->type > GOSR_ADMIN_HISTOGRAM || d->nlabels > MAX_LABELS ||
        (d->nlabels && !d->labels))
        return gosr_error_set(err, GOSR_EINVAL, "metric_desc",
                              "bad type or label count for %s", d->name);
    for (size_t i = 0; i < d->nlabels; i++) {
        const char *l = d->labels[i];
        if (!metric_name_ok(l, false) || strncmp(l, "__", 2) == 0 ||
            (d->type == GOSR_ADMIN_HISTOGRAM && strcmp(l, "le") == 0))
            return gosr_error_set(err, GOSR_EINVAL, "label_name",
                                  "bad label name '%s'", l ? l : "");
    }
    *b = d->buckets ? d->buckets : DEFAULT_BUCKETS;
    *nb = d->buckets ? d->nbuckets
                     : sizeof DEFAULT_BUCKETS / sizeof DEFAULT_BUCKETS[0];
    if (d->type != GOSR_ADMIN_HISTOGRAM)
        return GOSR_OK;
    if (*nb == 0 || *nb > MAX_BUCKETS)
        return gosr_error_set(err, GOSR_EINVAL, "buckets",
                              "a histogram needs 1..%d buckets", MAX_BUCKETS);
    for (size_t i = 0; i < *nb; i++)
        if (!isfinite((*b)[i]) || (i > 0 && !((*b)[i] > (*b)[i - 1])))
            return gosr_error_set(err, GOSR_EINVAL, "buckets",
                                  "bucket bounds must be finite and rising");
    return GOSR_OK;
}

/* Copies a checked description into a new family (NULL on ENOMEM);
 * freed with family_free. */
static gosr_admin_metric *family_new(const gosr_admin_metric_desc *d,
                                     const double *b, size_t nb)
{
    gosr_admin_metric *f = gosr_calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->name = gosr_strdup(d->name);
    f->help = gosr_strdup(d->help ? d->help : "");
    f->type = d->type;
    f->tail = &f->series;
    bool ok = f->name && f->help;
    for (size_t i = 0; i < d->nlabels; i++, f->nlabels++)
        ok = ok && (f->labels[i] = gosr_strdup(d->labels[i])) != NULL;
    if (d->type == GOSR_ADMIN_HISTOGRAM) {
        f->nbounds = nb;
        memcpy(f->bounds, b, nb * sizeof *b);
        for (size_t i = 0; i < nb; i++) /* formatted once, not per scrape */
            fmt_double(b[i], f->le[i]);
    }
    if (!ok) {
        family_free(f);
        return NULL;
    }
    return f;
}

int gosr_admin_metrics_add(gosr_admin_metrics *m,
                           const gosr_admin_metric_desc *d,
                           gosr_admin_metric **out, gosr_error *err)
{
    const double *b = NULL;
    size_t nb = 0;
    int rc = desc_check(d, &b, &nb, err);
    if (rc != GOSR_OK)
        return rc;
    gosr_admin_metric *f = family_new(d, b, nb);
    if (!f)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "metric");
    f->reg = m;
    pthread_mutex_lock(&m->lock);
    for (gosr_admin_metric *g = m->first; g; g = g->next) {
        if (strcmp(g->name, f->name) == 0) {
            pthread_mutex_unlock(&m->lock);
            family_free(f);
            return gosr_error_set(err, GOSR_EEXIST, "metric_exists",
                                  "metric %s already registered", d->name);
        }
    }
    *m->tail = f;
    m->tail = &f->next;
    pthread_mutex_unlock(&m->lock);
    if (out)
        *out = f;
    if (f->nlabels == 0) /* a label-less family shows 0 from the start */
        return gosr_admin_metric_series(f, NULL, NULL, err);
    return GOSR_OK;
}

/* ---- series
 * ------------------------------------------------------------------- */

/* True when a series has exactly these label values. */
static bool values_equal(const gosr_admin_series *s, const char *const *v,
                         size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], v[i]) != 0)
            return false;
    return true;
}

/* A new zeroed series with copies of `values` (NULL on ENOMEM); freed
 * with series_free. */
static gosr_admin_series *series_new(gosr_admin_metric *f,
                                     const char *const *values)
{
    gosr_admin_series *s = gosr_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->family = f;
    bool ok = (s->values = gosr_calloc(f->nlabels + 1, sizeof *s->values));
    for (size_t i = 0; ok && i < f->nlabels; i++)
        ok = (s->values[i] = gosr_strdup(values[i])) != NULL;
    if (ok && f->type == GOSR_ADMIN_HISTOGRAM)
        ok = (s->buckets = gosr_calloc(f->nbounds + 1, sizeof *s->buckets));
    atomic_init(&s->value, dbits(0.0));
    if (!ok) {
        series_free(s, f->nlabels);
        return NULL;
    }
    return s;
}

int gosr_admin_metric_series(gosr_admin_metric *f, const char *const *values,
                             gosr_admin_series **out, gosr_error *err)
{
    for (size_t i = 0; i < f->nlabels; i++)
        if (!values || !values[i])
            return gosr_error_set(err, GOSR_EINVAL, "label_value",
                                  "missing value for label %s", f->labels[i]);
    pthread_mutex_lock(&f->reg->lock);
    gosr_admin_series *s = f->series;
    while (s && !values_equal(s, values, f->nlabels))
        s = s->next;
    if (!s && (s = series_new(f, values)) != NULL) {
        *f->tail = s;
        f->tail = &s->next;
    }
    pthread_mutex_unlock(&f->reg->lock);
    if (!s)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "series");
    if (out)
        *out = s;
    return GOSR_OK;
}

void gosr_admin_series_add(gosr_admin_series *s, double v)
{
    if (!s || s->family->type == GOSR_ADMIN_HISTOGRAM || isnan(v))
        return;
    if (s->family->type == GOSR_ADMIN_COUNTER && !(v >= 0))
        return;
    atomic_add_double(&s->value, v);
}

void gosr_admin_series_set(gosr_admin_series *s, double v)
{
    if (!s || s->family->type != GOSR_ADMIN_GAUGE)
        return;
    atomic_store_explicit(&s->value, dbits(v), memory_order_relaxed);
}

void gosr_admin_series_observe(gosr_admin_series *s, double v)
{
    if (!s || s->family->type != GOSR_ADMIN_HISTOGRAM || isnan(v))
        return;
    const gosr_admin_metric *f = s->family;
    size_t i = 0;
    while (i < f->nbounds && v > f->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&s->value, v);
}

double gosr_admin_series_value(const gosr_admin_series *s)
{
    if (!s)
        return 0;
    if (s->family->type != GOSR_ADMIN_HISTOGRAM)
        return bitsd(atomic_load_explicit(&s->value, memory_order_relaxed));
    uint64_t n = 0;
    for (size_t i = 0; i <= s->family->nbounds; i++)
        n += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    return (double)n;
}

/* ---- exposition
 * ------------------------------------------------------------------ */

/* Formats a sample value as Go's ParseFloat reads it: integers plainly,
 * others in the shortest form that reads back exactly; +Inf, -Inf, NaN. */
static void fmt_double(double v, char out[40])
{
    if (isnan(v)) {
        strcpy(out, "NaN");
    } else if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, 40, "%.0f", v);
    } else {
        for (int p = 1; p <= 17; p++) {
            snprintf(out, 40, "%.*g", p, v);
            if (strtod(out, NULL) == v)
                return;
        }
    }
}

/* Appends s with the escapes of `quoted` (label values: \\ \" \n) or
 * HELP text (\\ \n). */
static int append_escaped(gosr_buf *b, const char *s, bool quoted)
{
    int rc = GOSR_OK;
    for (; *s && rc == GOSR_OK; s++) {
        if (*s == '\\')
            rc = gosr_buf_append(b, "\\\\", 2);
        else if (*s == '\n')
            rc = gosr_buf_append(b, "\\n", 2);
        else if (*s == '"' && quoted)
            rc = gosr_buf_append(b, "\\\"", 2);
        else
            rc = gosr_buf_append(b, s, 1);
    }
    return rc;
}

/* Appends `name{labels[,le="x"]} value\n`. */
static int append_sample(gosr_buf *b, const gosr_admin_series *s,
                         const char *suffix, const char *le, double v)
{
    const gosr_admin_metric *f = s->family;
    int rc = gosr_buf_printf(b, "%s%s", f->name, suffix);
    bool any = f->nlabels > 0 || le;
    if (rc == GOSR_OK && any)
        rc = gosr_buf_append(b, "{", 1);
    for (size_t i = 0; rc == GOSR_OK && i < f->nlabels; i++) {
        rc = gosr_buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (rc == GOSR_OK)
            rc = append_escaped(b, s->values[i], true);
        if (rc == GOSR_OK)
            rc = gosr_buf_append(b, "\"", 1);
    }
    if (rc == GOSR_OK && le)
        rc = gosr_buf_printf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    if (rc == GOSR_OK && any)
        rc = gosr_buf_append(b, "}", 1);
    char num[40];
    fmt_double(v, num);
    return rc == GOSR_OK ? gosr_buf_printf(b, " %s\n", num) : rc;
}

static int render_histogram(gosr_buf *b, const gosr_admin_series *s)
{
    const gosr_admin_metric *f = s->family;
    uint64_t cum = 0;
    int rc = GOSR_OK;
    for (size_t i = 0; rc == GOSR_OK && i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        rc = append_sample(b, s, "_bucket", i < f->nbounds ? f->le[i] : "+Inf",
                           (double)cum);
    }
    double sum = bitsd(atomic_load_explicit(&s->value, memory_order_relaxed));
    if (rc == GOSR_OK)
        rc = append_sample(b, s, "_sum", NULL, sum);
    if (rc == GOSR_OK)
        rc = append_sample(b, s, "_count", NULL, (double)cum);
    return rc;
}

static int render_family(gosr_buf *b, const gosr_admin_metric *f)
{
    static const char *const TYPES[] = {"counter", "gauge", "histogram"};
    int rc = gosr_buf_printf(b, "# HELP %s ", f->name);
    if (rc == GOSR_OK)
        rc = append_escaped(b, f->help, false);
    if (rc == GOSR_OK)
        rc = gosr_buf_printf(b, "\n# TYPE %s %s\n", f->name, TYPES[f->type]);
    for (const gosr_admin_series *s = f->series; rc == GOSR_OK && s;
         s = s->next) {
        if (f->type == GOSR_ADMIN_HISTOGRAM)
            rc = render_histogram(b, s);
        else
            rc = append_sample(b, s, "", NULL, gosr_admin_series_value(s));
    }
    return rc;
}

int gosr_admin_metrics_render(gosr_admin_metrics *m, gosr_buf *out)
{
    int rc = GOSR_OK;
    pthread_mutex_lock(&m->lock);
    for (const gosr_admin_metric *f = m->first; rc == GOSR_OK && f; f = f->next)
        rc = render_family(out, f);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
