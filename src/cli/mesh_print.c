/*
 * mesh_print.c — what `gosr mesh status|peers|credits|replicas|fetch|
 * publish|providers` print for a person (without --json): the control
 * answers of docs/mesh.md ("Control requests") as short lines and tables.
 */
#include "cli/mesh_print.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "?";
}

static long long num(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static bool flag(const json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k));
}

/* Bytes as B / KiB / MiB / GiB with one decimal. */
static void human_bytes(long long b, char *out, size_t cap)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void print_status(const json_t *j)
{
    printf("node %s  listen %s  tier %s\n", str(j, "node_id"), str(j, "listen"),
           str(j, "tier"));
    printf("links up %lld, members %lld%s\n", num(j, "links_up"),
           num(j, "members"), num(j, "faults") ? "  (TEST FAULTS ON)" : "");
    const json_t *roots = json_object_get(j, "roots"), *r;
    size_t i;
    printf("held roots: %zu\n", json_array_size(roots));
    json_array_foreach(roots, i, r) {
        char b[32];
        human_bytes(num(r, "bytes"), b, sizeof b);
        printf("  %.16s  rf %lld  replicas %lld  %s  %lld chunks%s\n",
               str(r, "id"), num(r, "rf"), num(r, "replicas"), b,
               num(r, "chunks"), flag(r, "hot") ? "  hot" : "");
    }
    const json_t *jobs = json_object_get(j, "jobs");
    json_array_foreach(jobs, i, r)
        printf("  fetching %.16s: %lld objects pending, %lld bytes so far\n",
               str(r, "root"), num(r, "pending"), num(r, "bytes"));
}

static void print_peers(const json_t *a, bool with_addr)
{
    const json_t *p;
    size_t i;
    printf("%-16s  %-21s %-4s %-4s %6s %5s %9s %9s %6s\n", "peer",
           with_addr ? "address" : "", "up", "tier", "score", "bad",
           "proofs ok", "failed", "banned");
    json_array_foreach(a, i, p)
        printf("%.16s  %-21s %-4s %-4s %6lld %5lld %9lld %9lld %6s\n",
               str(p, "id"), with_addr ? str(p, "addr") : "",
               with_addr ? (flag(p, "up") ? "yes" : "no") : "",
               with_addr ? str(p, "tier") : "", num(p, "score"),
               num(p, "bad_chunks"), num(p, "proofs_ok"),
               num(p, "proofs_failed"), flag(p, "banned") ? "yes" : "no");
}

static void print_replicas(const json_t *j)
{
    printf("%s: %lld of rf %lld live holders%s\n", str(j, "id"),
           num(j, "count"), num(j, "rf"),
           flag(j, "available") ? "" : "  UNAVAILABLE");
    const json_t *h;
    size_t i;
    json_array_foreach(json_object_get(j, "holders"), i, h)
        printf("  %s\n", json_string_value(h));
}

void mesh_print(const char *op, const json_t *j)
{
    char b[32];
    if (!strcmp(op, "status")) {
        print_status(j);
    } else if (!strcmp(op, "peers")) {
        print_peers(json_object_get(j, "peers"), true);
    } else if (!strcmp(op, "credits")) {
        print_peers(json_object_get(j, "credits"), false);
    } else if (!strcmp(op, "replicas")) {
        print_replicas(j);
    } else if (!strcmp(op, "fetch")) {
        human_bytes(num(j, "bytes_transferred"), b, sizeof b);
        printf("fetched %s: %s transferred in %.2f s\n", str(j, "id"), b,
               json_real_value(json_object_get(j, "seconds")));
    } else if (!strcmp(op, "publish")) {
        human_bytes(num(j, "bytes"), b, sizeof b);
        printf("%s\npledged at rf %lld (%s, %lld chunks)\n", str(j, "id"),
               num(j, "rf"), b, num(j, "chunks"));
    } else if (!strcmp(op, "providers")) {
        const json_t *p;
        size_t i;
        printf("%zu provider records in %.1f ms%s\n",
               json_array_size(json_object_get(j, "providers")),
               json_number_value(json_object_get(j, "lookup_ms")),
               flag(j, "dht_ok") ? "" : " (DHT error)");
        json_array_foreach(json_object_get(j, "providers"), i, p)
            printf("  %s\n", json_string_value(p));
    }
}
