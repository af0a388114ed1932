/*
 * bench_mesh.c — the mesh on loopback with 5 real node processes
 * (`gosr mesh node`, each with its own OpenDHT runner): publishes a module
 * (default 256 MiB, argv[1] = MiB) on node 1 and measures time to RF=3 and
 * replication throughput, DHT provider lookup latency (p50/p99 over 50
 * lookups), heal time after one holder is killed, and for a node moving
 * from v1 to v2 of the module (1 % of bytes changed in place + 1 MiB
 * appended) the bytes transferred against the full size. Every node is
 * stopped (SIGTERM, then SIGKILL) and reaped before exit.
 * Design: docs/mesh.md ("Bench").
 */
#include "gosr/mesh.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NODES 5

static pid_t g_pid[NODES + 1];
static char g_addr[NODES + 1][32];
static char g_id[NODES + 1][65];
static char g_dir[256];
static int g_base;

static double now_s(void)
{
    return (double)gosr_time_mono_ns() / 1e9;
}

static json_t *ctl(int i, const char *fmt, ...)
{
    char req[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req, sizeof req, fmt, ap);
    va_end(ap);
    char *resp = NULL;
    gosr_error err;
    if (gosr_mesh_ctl(g_addr[i], req, 600000, &resp, &err) != GOSR_OK)
        return NULL;
    json_t *j = json_loads(resp, 0, NULL);
    gosr_free(resp);
    return j;
}

static long jint(json_t *j, const char *k)
{
    return j ? (long)json_integer_value(json_object_get(j, k)) : -1;
}

static void start_node(int i)
{
    char data[300], boot[200], out[300];
    snprintf(g_addr[i], sizeof g_addr[i], "127.0.0.1:%d", g_base + i);
    snprintf(data, sizeof data, "%s/n%d", g_dir, i);
    snprintf(out, sizeof out, "%s/n%d.log", g_dir, i);
    snprintf(boot, sizeof boot, "127.0.0.1:%d,127.0.0.1:%d", g_base + 1,
             g_base + 2);
    pid_t p = fork();
    if (p == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(GOSR_CLI_PATH, "gosr", "mesh", "node", "--data", data, "--listen",
              g_addr[i], "--bootstrap", boot, "--repair-ms", "300",
              "--proof-ms", "5000", (char *)NULL);
        _exit(127);
    }
    g_pid[i] = p;
    for (int t = 0; t < 200; t++) {
        json_t *j = ctl(i, "{\"op\":\"status\"}");
        if (j) {
            snprintf(g_id[i], 65, "%s",
                     json_string_value(json_object_get(j, "node_id")));
            json_decref(j);
            return;
        }
        usleep(50000);
    }
    fprintf(stderr, "node %d did not start\n", i);
}

static void stop_all(void)
{
    for (int i = 1; i <= NODES; i++)
        if (g_pid[i] > 0)
            kill(g_pid[i], SIGTERM);
    for (int i = 1; i <= NODES; i++)
        if (g_pid[i] > 0) {
            int st;
            for (int t = 0; t < 100 && waitpid(g_pid[i], &st, WNOHANG) == 0;
                 t++)
                usleep(100000);
            kill(g_pid[i], SIGKILL);
            waitpid(g_pid[i], &st, 0);
            g_pid[i] = 0;
        }
}

static long replicas(int at, const char *root)
{
    json_t *j = ctl(at, "{\"op\":\"replicas\",\"id\":\"%s\"}", root);
    long c = jint(j, "count");
    json_decref(j);
    return c;
}

/* Seconds until `root` has >= want replicas seen from node `at`. */
static double wait_rf(int at, const char *root, long want, double limit)
{
    double t0 = now_s();
    while (now_s() - t0 < limit) {
        if (replicas(at, root) >= want)
            return now_s() - t0;
        usleep(100000);
    }
    return -1;
}

static int write_random(const char *path, size_t mib, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    uint64_t *buf = malloc(1 << 20);
    for (size_t m = 0; m < mib && buf; m++) {
        for (size_t i = 0; i < (1 << 20) / 8; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = x;
        }
        fwrite(buf, 1, 1 << 20, f);
    }
    free(buf);
    return fclose(f);
}

/* v2: 1 % of the bytes rewritten in 64 KiB patches, plus 1 MiB appended. */
static int make_v2(const char *v1, const char *v2, size_t mib)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp %s %s", v1, v2);
    if (system(cmd) != 0)
        return -1;
    FILE *f = fopen(v2, "r+b");
    if (!f)
        return -1;
    size_t patches = mib * 1048576 / 100 / 65536 + 1;
    uint8_t *p = calloc(1, 65536 + 1048576);
    for (size_t i = 0; i < patches && p; i++) {
        memset(p, (int)(i + 1), 65536);
        fseek(f, (long)((i * 7919 % (mib * 16)) * 65536), SEEK_SET);
        fwrite(p, 1, 65536, f);
    }
    fseek(f, 0, SEEK_END);
    if (p)
        fwrite(p, 1, 1048576, f);
    free(p);
    return fclose(f);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void lookups(const char *root)
{
    double ms[50];
    int n = 0;
    for (int i = 0; i < 50; i++) {
        json_t *j = ctl(5, "{\"op\":\"providers\",\"id\":\"%s\"}", root);
        json_t *v = json_object_get(j, "lookup_ms");
        if (v && json_array_size(json_object_get(j, "providers")) > 0)
            ms[n++] = json_real_value(v);
        json_decref(j);
    }
    qsort(ms, (size_t)n, sizeof ms[0], cmp_d);
    if (n > 0)
        printf("provider lookup (DHT get, %d ok of 50): p50 %.2f ms, "
               "p99 %.2f ms\n",
               n, ms[n / 2], ms[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]);
}

static int holder_to_kill(const char *root)
{
    json_t *j = ctl(1, "{\"op\":\"replicas\",\"id\":\"%s\"}", root);
    json_t *h = json_object_get(j, "holders");
    int victim = 0;
    for (size_t k = 0; k < json_array_size(h) && !victim; k++)
        for (int i = 2; i <= NODES; i++)
            if (!strcmp(json_string_value(json_array_get(h, k)), g_id[i]))
                victim = i;
    json_decref(j);
    return victim;
}

static void run(size_t mib)
{
    char v1[300], v2[300];
    snprintf(v1, sizeof v1, "%s/v1.bin", g_dir);
    snprintf(v2, sizeof v2, "%s/v2.bin", g_dir);
    write_random(v1, mib, 1);
    make_v2(v1, v2, mib);
    double t0 = now_s();
    json_t *j = ctl(1, "{\"op\":\"publish\",\"path\":\"%s\",\"rf\":3}", v1);
    char root[65];
    snprintf(root, sizeof root, "%s",
             json_string_value(json_object_get(j, "id")));
    printf("publish %zu MiB on node 1 (chunk+store): %.2f s, %ld chunks\n", mib,
           now_s() - t0, jint(j, "chunks"));
    json_decref(j);
    double rf = wait_rf(1, root, 3, 1800);
    printf("time to RF=3: %.2f s; replication throughput %.1f MB/s "
           "(2 copies x %zu MiB)\n",
           rf, rf > 0 ? 2.0 * (double)mib * 1048576 / 1e6 / rf : 0, mib);
    lookups(root);
    int victim = holder_to_kill(root);
    kill(g_pid[victim], SIGKILL);
    waitpid(g_pid[victim], NULL, 0);
    g_pid[victim] = 0;
    double heal = wait_rf(1, root, 3, 1800);
    printf("heal after killing node %d (a holder): back at RF=3 in %.2f s\n",
           victim, heal);
    int mover = 0;
    json_t *h = json_object_get(
        j = ctl(1, "{\"op\":\"replicas\",\"id\":\"%s\"}", root), "holders");
    for (size_t k = 0; k < json_array_size(h); k++)
        for (int i = 2; i <= NODES; i++)
            if (!strcmp(json_string_value(json_array_get(h, k)), g_id[i]))
                mover = i;
    json_decref(j);
    j = ctl(1, "{\"op\":\"publish\",\"path\":\"%s\",\"rf\":1}", v2);
    char root2[65];
    snprintf(root2, sizeof root2, "%s",
             json_string_value(json_object_get(j, "id")));
    long full = jint(j, "bytes");
    json_decref(j);
    j = ctl(mover, "{\"op\":\"fetch\",\"id\":\"%s\"}", root2);
    long moved = jint(j, "bytes_transferred");
    printf(
        "v1 -> v2 on node %d: %ld bytes transferred of %ld (%.2f %%), %.2f s\n",
        mover, moved, full, full > 0 ? 100.0 * (double)moved / (double)full : 0,
        json_real_value(json_object_get(j, "seconds")));
    json_decref(j);
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 256;
    snprintf(g_dir, sizeof g_dir, "/tmp/gosr-bench-mesh-%d", (int)getpid());
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    g_base = 20000 + rand() % 12000;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_dir);
    if (system(cmd) != 0)
        return 1;
    printf("bench_mesh: %d node processes on 127.0.0.1:%d.., module %zu MiB, "
           "%ld CPUs online\n",
           NODES, g_base + 1, mib, sysconf(_SC_NPROCESSORS_ONLN));
    for (int i = 1; i <= NODES; i++)
        start_node(i);
    for (int t = 0; t < 300; t++) {
        json_t *j = ctl(1, "{\"op\":\"status\"}");
        long up = jint(j, "links_up");
        json_decref(j);
        if (up >= NODES - 1)
            break;
        usleep(100000);
    }
    run(mib);
    stop_all();
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : 1;
}
