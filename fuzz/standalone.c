/*
 * standalone.c — runs a libFuzzer target without libFuzzer, for the smoke
 * test in CTest (gcc + ASan/UBSan): feeds every file of a seed corpus
 * directory, then N deterministic mutations of those seeds (bit flips, byte
 * sets, truncation, insertion, duplication, splicing).
 * Usage: fuzz_X_smoke CORPUS_DIR [ITERATIONS] | fuzz_X_smoke FILE...
 * Design: docs/testing.md ("Fuzzing").
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEDS 256
#undef MAX_INPUT /* <limits.h> (linux/limits.h) defines it as 255 */
#define MAX_INPUT (1u << 20)

typedef struct seed {
    uint8_t *data; /* owned bytes */
    size_t len;    /* length */
} seed;

static seed g_seeds[MAX_SEEDS];
static int g_nseeds;
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static void load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f || g_nseeds == MAX_SEEDS) {
        if (f)
            fclose(f);
        return;
    }
    uint8_t *buf = malloc(MAX_INPUT);
    size_t n = fread(buf, 1, MAX_INPUT, f);
    fclose(f);
    g_seeds[g_nseeds++] = (seed){buf, n};
}

static void load_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        load_file(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        load_file(p);
    }
    if (d)
        closedir(d);
}

/* Mutates buf (len bytes, capacity MAX_INPUT) in place; returns new len. */
static size_t mutate(uint8_t *buf, size_t len)
{
    int rounds = 1 + (int)(rnd() % 4);
    for (int r = 0; r < rounds; r++) {
        size_t pos = len ? rnd() % len : 0;
        switch (rnd() % 7) {
        case 0: if (len) buf[pos] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 1: if (len) buf[pos] = (uint8_t)rnd(); break;
        case 2: if (len) len = pos; break;
        case 3:
            if (len < MAX_INPUT) {
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = (uint8_t)rnd();
                len++;
            }
            break;
        case 4: if (len) buf[pos] = (uint8_t)"\0\xff\x7f\x80{}[]\":,"[rnd() % 12]; break;
        case 5: {
            size_t n = len - pos < 64 ? len - pos : 64;
            if (len + n <= MAX_INPUT) {
                memmove(buf + pos + n, buf + pos, len - pos);
                len += n;
            }
            break;
        }
        default: {
            seed *s = &g_seeds[rnd() % (uint64_t)g_nseeds];
            size_t n = s->len - (s->len ? rnd() % s->len : 0);
            if (pos + n <= MAX_INPUT && n) {
                memcpy(buf + pos, s->data + (s->len - n), n);
                len = pos + n > len ? pos + n : len;
            }
        }
        }
    }
    return len;
}

int main(int argc, char **argv)
{
    long iters = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS]\n", argv[0]);
        return 2;
    }
    if (argc == 3 && strspn(argv[2], "0123456789") == strlen(argv[2]))
        iters = atol(argv[2]), load_path(argv[1]);
    else
        for (int i = 1; i < argc; i++)
            load_path(argv[i]);
    if (g_nseeds == 0)
        g_seeds[g_nseeds++] = (seed){calloc(1, 1), 0};
    for (int i = 0; i < g_nseeds; i++)
        LLVMFuzzerTestOneInput(g_seeds[i].data, g_seeds[i].len);
    uint8_t *buf = malloc(MAX_INPUT);
    for (long i = 0; i < iters; i++) {
        seed *s = &g_seeds[i % g_nseeds];
        memcpy(buf, s->data, s->len);
        size_t n = mutate(buf, s->len);
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz smoke: %d seeds, %ld mutations, no finding\n", g_nseeds, iters);
    printf("%ld passed, 0 failed\n", (long)g_nseeds + iters);
    free(buf);
    for (int i = 0; i < g_nseeds; i++)
        free(g_seeds[i].data);
    return 0;
}
