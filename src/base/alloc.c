/*
 * alloc.c — the replaceable process-wide allocator, the fail-the-Nth-
 * allocation test hook, string helpers and the growable byte buffer.
 * Design: docs/base.md ("Allocation").
 */
#include "gosr/base.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *default_realloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

/* The allocator in force; replaced only before threads start (see header). */
static gosr_allocator g_alloc = {default_realloc, NULL};
/* Countdown for gosr_alloc_fail_after: 0 = disabled. */
static atomic_long g_fail_countdown;

void gosr_set_allocator(const gosr_allocator *a)
{
    if (a && a->fn)
        g_alloc = *a;
    else
        g_alloc = (gosr_allocator){default_realloc, NULL};
}

void gosr_alloc_fail_after(long n)
{
    atomic_store(&g_fail_countdown, n);
}

/* True when the fault-injection countdown says this allocation fails. */
static bool alloc_should_fail(void)
{
    long c = atomic_load(&g_fail_countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&g_fail_countdown, &c, c - 1))
            return c == 1;
    }
    return false;
}

void *gosr_realloc(void *p, size_t n)
{
    if (n == 0)
        n = 1;
    if (alloc_should_fail())
        return NULL;
    return g_alloc.fn(g_alloc.ud, p, 0, n);
}

void *gosr_malloc(size_t n)
{
    return gosr_realloc(NULL, n);
}

void *gosr_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = gosr_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void gosr_free(void *p)
{
    if (p)
        g_alloc.fn(g_alloc.ud, p, 0, 0);
}

char *gosr_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = gosr_malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *gosr_strdup(const char *s)
{
    return gosr_strndup(s, SIZE_MAX);
}

char *gosr_asprintf(const char *fmt, ...)
{
    gosr_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || gosr_buf_reserve(&b, (size_t)n + 1) != GOSR_OK)
        return NULL;
    va_start(ap, fmt);
    vsnprintf((char *)b.data, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return (char *)b.data;
}

int gosr_buf_reserve(gosr_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return GOSR_ETOOBIG;
    size_t need = b->len + extra + 1; /* +1 keeps room for a NUL */
    if (need <= b->cap)
        return GOSR_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *d = gosr_realloc(b->data, cap);
    if (!d)
        return GOSR_ENOMEM;
    b->data = d;
    b->cap = cap;
    return GOSR_OK;
}

int gosr_buf_append(gosr_buf *b, const void *p, size_t n)
{
    int rc = gosr_buf_reserve(b, n);
    if (rc != GOSR_OK)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return GOSR_OK;
}

int gosr_buf_printf(gosr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return GOSR_EINVAL;
    int rc = gosr_buf_reserve(b, (size_t)n);
    if (rc != GOSR_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return GOSR_OK;
}

void gosr_buf_free(gosr_buf *b)
{
    if (!b)
        return;
    gosr_free(b->data);
    *b = (gosr_buf){0};
}
