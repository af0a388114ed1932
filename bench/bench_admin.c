/*
 * bench_admin.c — figures for the admin layer: HTTP round trips over
 * 127.0.0.1 (keep-alive, one and four client threads) for /healthz and
 * the authenticated /v1/status, a round trip through the tick queue, and
 * metrics update and render costs. Prints figures; asserts nothing.
 * Design: docs/admin.md.
 */
#include "gosr/admin.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    return s * n;
}

typedef struct client {
    const char *url;  /* full URL */
    const char *auth; /* Authorization header or NULL */
    int n;            /* requests to make */
    int failures;     /* non-200 replies */
    pthread_t th;     /* thread */
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = c->auth ? curl_slist_append(NULL, c->auth) : NULL;
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    for (int i = 0; i < c->n; i++) {
        long code = 0;
        if (curl_easy_perform(h) == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        c->failures += code != 200;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

static void bench_http(const char *base, const char *path, const char *auth,
                       int threads, int per_thread)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    client c[8];
    uint64_t t0 = gosr_time_mono_ns();
    for (int i = 0; i < threads; i++) {
        c[i] = (client){.url = url, .auth = auth, .n = per_thread};
        pthread_create(&c[i].th, NULL, client_main, &c[i]);
    }
    int fail = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(c[i].th, NULL);
        fail += c[i].failures;
    }
    double s = (double)(gosr_time_mono_ns() - t0) / 1e9;
    int total = threads * per_thread;
    printf("http %-12s %d thread(s) x %d: %8.0f req/s, %7.1f us/req "
           "(wall), %d failures\n",
           path, threads, per_thread, total / s, s * 1e6 / total, fail);
}

static int job_nop(void *arg, gosr_error *err)
{
    return GOSR_OK;
}

static atomic_bool g_stop;

static void *ticker(void *q)
{
    while (!atomic_load(&g_stop)) {
        gosr_admin_queue_wait(q, 10);
        gosr_admin_queue_drain(q, 0);
    }
    return NULL;
}

static void bench_queue(void)
{
    gosr_admin_queue *q;
    gosr_admin_queue_create(&q);
    pthread_t th;
    pthread_create(&th, NULL, ticker, q);
    int n = 20000;
    uint64_t t0 = gosr_time_mono_ns();
    for (int i = 0; i < n; i++)
        gosr_admin_queue_call(q, job_nop, NULL, 1000, NULL);
    double us = (double)(gosr_time_mono_ns() - t0) / 1e3 / n;
    printf("queue call round trip (idle tick thread): %.2f us\n", us);
    atomic_store(&g_stop, true);
    pthread_join(th, NULL);
    gosr_admin_queue_destroy(q);
}

static void bench_metrics(void)
{
    gosr_admin_metrics *m;
    gosr_admin_metrics_create(&m);
    const char *lab[] = {"module"};
    gosr_admin_metric *h, *c;
    gosr_admin_metric_desc dh = {.name = "tick_seconds",
                                 .type = GOSR_ADMIN_HISTOGRAM,
                                 .labels = lab,
                                 .nlabels = 1};
    gosr_admin_metric_desc dc = {
        .name = "script_seconds_total", .labels = lab, .nlabels = 1};
    gosr_admin_metrics_add(m, &dh, &h, NULL);
    gosr_admin_metrics_add(m, &dc, &c, NULL);
    gosr_admin_series *hs = NULL, *cs = NULL;
    for (int i = 0; i < 100; i++) {
        char mod[16];
        snprintf(mod, sizeof mod, "mod%03d", i);
        const char *v[] = {mod};
        gosr_admin_metric_series(h, v, &hs, NULL);
        gosr_admin_metric_series(c, v, &cs, NULL);
    }
    int n = 10000000;
    uint64_t t0 = gosr_time_mono_ns();
    for (int i = 0; i < n; i++)
        gosr_admin_series_observe(hs, (i & 1023) * 1e-5);
    double obs = (double)(gosr_time_mono_ns() - t0) / n;
    t0 = gosr_time_mono_ns();
    for (int i = 0; i < n; i++)
        gosr_admin_series_add(cs, 1e-4);
    double add = (double)(gosr_time_mono_ns() - t0) / n;
    gosr_buf b = {0};
    t0 = gosr_time_mono_ns();
    for (int i = 0; i < 100; i++) {
        b.len = 0;
        gosr_admin_metrics_render(m, &b);
    }
    double render = (double)(gosr_time_mono_ns() - t0) / 100 / 1e3;
    printf("metrics: observe %.1f ns, counter add %.1f ns, render 200 "
           "series (%zu bytes) %.0f us\n",
           obs, add, b.len, render);
    gosr_buf_free(&b);
    gosr_admin_metrics_destroy(m);
}

int main(void)
{
    char dir[] = "/tmp/gosr-bench-admin-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gosr_admin_config cfg = {.data_dir = dir, .listen = "127.0.0.1:0"};
    gosr_admin_server *s;
    gosr_error err;
    char tok[65], auth[128], path[512];
    if (gosr_admin_server_create(&cfg, &s, &err) != GOSR_OK ||
        gosr_admin_server_start(s, &err) != GOSR_OK) {
        fprintf(stderr, "server: %s: %s\n", err.reason, err.detail);
        return 1;
    }
    snprintf(path, sizeof path, "%s/admin.token", dir);
    gosr_admin_token_load(path, tok, &err);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    const char *url = gosr_admin_server_url(s);
    bench_http(url, "/healthz", NULL, 1, 5000);
    bench_http(url, "/v1/status", auth, 1, 5000);
    bench_http(url, "/v1/status", auth, 4, 2500);
    bench_queue();
    bench_metrics();
    gosr_admin_server_destroy(s);
    unlink(path);
    rmdir(dir);
    curl_global_cleanup();
    return 0;
}
