/*
 * log.c — leveled logging to a replaceable sink (stderr by default), with
 * the level taken from GOSR_LOG. Design: docs/base.md ("Logging").
 */
#include "gosr/base.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* Guarded by g_log_lock: the sink and level. */
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static gosr_log_fn g_sink;
static void *g_sink_ud;
static int g_level = -1; /* -1 = not yet read from the environment */

static int level_from_env(void)
{
    const char *e = getenv("GOSR_LOG");
    if (e)
        for (int i = 0; i < 4; i++)
            if (strcmp(e, level_names[i]) == 0)
                return i;
    return GOSR_LOG_WARN;
}

void gosr_log_set_level(gosr_log_level level)
{
    pthread_mutex_lock(&g_log_lock);
    g_level = (int)level;
    pthread_mutex_unlock(&g_log_lock);
}

void gosr_log_set_sink(gosr_log_fn fn, void *ud)
{
    pthread_mutex_lock(&g_log_lock);
    g_sink = fn;
    g_sink_ud = ud;
    pthread_mutex_unlock(&g_log_lock);
}

void gosr_log(gosr_log_level level, const char *sub, const char *fmt, ...)
{
    pthread_mutex_lock(&g_log_lock);
    if (g_level < 0)
        g_level = level_from_env();
    if ((int)level > g_level) {
        pthread_mutex_unlock(&g_log_lock);
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_sink)
        g_sink(g_sink_ud, level, sub, msg);
    else
        fprintf(stderr, "gosr %s [%s] %s\n", level_names[level], sub, msg);
    pthread_mutex_unlock(&g_log_lock);
}
