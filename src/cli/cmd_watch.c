/*
 * cmd_watch.c — `gosr watch`: a second process that maps a node's arena
 * read-only, sleeps on a region's epoch (futex) or spins, and prints one
 * line per epoch change with the tick, entity count and a summary of the
 * region read through a consistent seqlock snapshot.
 * Design: docs/runtime.md ("gosr watch").
 */
#include "cli/cli.h"
#include "gosr/runtime.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_MAX_COPY (256u << 20) /* largest region watch will copy */

/* What the loop keeps between epochs. */
typedef struct watch_state {
    gosr_arena *a;         /* reader handle */
    int region;            /* watched region */
    int meta;              /* "meta" region or -1 */
    gosr_region_info info; /* watched region's layout */
    uint8_t *buf;          /* snapshot buffer (region size) */
    bool json;             /* --json output */
} watch_state;

static void summarize_entities(const watch_state *s, json_t *o)
{
    const gosr_entity_slot *e = (const gosr_entity_slot *)s->buf;
    uint64_t alive = 0;
    int64_t health = 0;
    double cx = 0, cy = 0;
    for (uint32_t i = 0; i < s->info.elem_count; i++) {
        if (!(e[i].mask & GOSR_C_ALIVE))
            continue;
        alive++;
        health += e[i].health;
        cx += (double)e[i].pos.x / GOSR_FIX_ONE;
        cy += (double)e[i].pos.y / GOSR_FIX_ONE;
    }
    json_object_set_new(o, "alive", json_integer((json_int_t)alive));
    json_object_set_new(o, "health_sum", json_integer(health));
    json_object_set_new(o, "centroid_x", json_real(alive ? cx / alive : 0));
    json_object_set_new(o, "centroid_y", json_real(alive ? cy / alive : 0));
}

static void summarize(const watch_state *s, json_t *o)
{
    uint32_t kind = s->info.kind;
    if (kind == GOSR_REGION_ENTITIES &&
        s->info.elem_size == sizeof(gosr_entity_slot)) {
        summarize_entities(s, o);
    } else if (kind == GOSR_REGION_KV &&
               s->info.elem_size == sizeof(gosr_kv_slot)) {
        const gosr_kv_slot *k = (const gosr_kv_slot *)s->buf;
        uint64_t used = 0;
        for (uint32_t i = 0; i < s->info.elem_count; i++)
            used += k[i].entity != 0;
        json_object_set_new(o, "kv_used", json_integer((json_int_t)used));
    } else if (kind == GOSR_REGION_META &&
               s->info.size >= sizeof(gosr_world_meta)) {
        const gosr_world_meta *m = (const gosr_world_meta *)s->buf;
        char hex[65];
        gosr_hex_encode(m->last_hash, 32, hex);
        hex[16] = '\0';
        json_object_set_new(o, "hash", json_string(hex));
        json_object_set_new(o, "kv_used", json_integer(m->kv_count));
    } else {
        gosr_hash h;
        char hex[65];
        gosr_blake3_hash(s->buf, s->info.size, &h);
        gosr_hash_hex(&h, hex);
        hex[16] = '\0';
        json_object_set_new(o, "blake3", json_string(hex));
    }
}

/* Prints one line for a new epoch. */
static int report(watch_state *s, uint64_t epoch, uint64_t skipped)
{
    uint64_t got;
    int rc =
        gosr_arena_read(s->a, s->region, s->buf, s->info.size, &got, 10000);
    if (rc != GOSR_OK)
        return rc;
    gosr_world_meta m = {0};
    if (s->meta >= 0)
        gosr_arena_read(s->a, s->meta, &m, sizeof m, NULL, 10000);
    json_t *o = json_object();
    json_object_set_new(o, "region", json_string(s->info.name));
    json_object_set_new(o, "epoch", json_integer((json_int_t)got));
    json_object_set_new(o, "skipped",
                        json_integer((json_int_t)(skipped + (got - epoch))));
    json_object_set_new(o, "tick", json_integer((json_int_t)m.tick));
    json_object_set_new(o, "entities", json_integer(m.entity_count));
    summarize(s, o);
    if (s->json) {
        cli_print_json(o);
    } else {
        char *line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        printf("epoch %" PRIu64 " tick %" PRIu64 " entities %u %s\n", got,
               m.tick, m.entity_count, line ? line : "");
        free(line);
        json_decref(o);
    }
    fflush(stdout);
    return GOSR_OK;
}

static int open_state(watch_state *s, const char *node, const char *region,
                      gosr_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", node, GOSR_ARENA_FILE);
    int rc = gosr_arena_open_reader(path, &s->a, err);
    if (rc != GOSR_OK)
        return rc;
    if ((s->region = gosr_arena_find(s->a, region)) < 0)
        return gosr_error_set(err, GOSR_ENOENT, "region_not_found",
                              "no region '%s' in %s", region, path);
    s->meta = gosr_arena_find(s->a, "meta");
    gosr_arena_region_info(s->a, s->region, &s->info);
    if (s->info.size > WATCH_MAX_COPY)
        return gosr_error_set(err, GOSR_ETOOBIG, "region_too_big",
                              "region of %llu bytes",
                              (unsigned long long)s->info.size);
    if (!(s->buf = gosr_malloc(s->info.size ? s->info.size : 1)))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "snapshot");
    return GOSR_OK;
}

static int watch_loop(watch_state *s, uint64_t count, bool spin,
                      uint32_t timeout_ms, gosr_error *err)
{
    uint64_t last = gosr_arena_epoch(s->a, s->region);
    for (uint64_t seen = 0; count == 0 || seen < count; seen++) {
        uint64_t now;
        int rc = gosr_arena_wait(s->a, s->region, last, spin, timeout_ms, &now);
        if (rc == GOSR_ECLOSED)
            return gosr_error_set(err, rc, "writer_closed",
                                  "the writer closed the arena after %llu "
                                  "epochs",
                                  (unsigned long long)seen);
        if (rc == GOSR_ETIMEOUT)
            return gosr_error_set(err, rc, "watch_timeout",
                                  "no new epoch within %u ms", timeout_ms);
        if (rc == GOSR_OK)
            rc = report(s, now, now - last - 1);
        if (rc != GOSR_OK)
            return gosr_error_wrap(err, rc, "snapshot_failed", "%s",
                                   gosr_strerror(rc));
        last = gosr_arena_epoch(s->a, s->region);
        if (last < now)
            last = now;
    }
    return GOSR_OK;
}

static int cmd_watch(int argc, char **argv)
{
    const char *node = NULL, *region = NULL, *count_s = NULL, *timeout_s = NULL,
               *pos[1];
    bool spin = false, json = false;
    int npos;
    cli_opt opts[] = {{"node", &node, NULL},     {"region", &region, NULL},
                      {"count", &count_s, NULL}, {"timeout", &timeout_s, NULL},
                      {"spin", NULL, &spin},     {"json", NULL, &json},
                      {NULL, NULL, NULL}};
    if (cli_parse(argc, argv, opts, pos, 0, &npos) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    uint64_t count = 0, timeout = 0;
    if (!node || !region)
        return cli_usage_error("--node and --region are required");
    if ((count_s && cli_parse_u64(count_s, &count) != GOSR_OK) ||
        (timeout_s && (cli_parse_u64(timeout_s, &timeout) != GOSR_OK ||
                       timeout > UINT32_MAX)))
        return cli_usage_error("bad --count or --timeout");
    watch_state s = {.json = json, .meta = -1};
    gosr_error err = {0};
    int rc = open_state(&s, node, region, &err);
    if (rc == GOSR_OK)
        rc = watch_loop(&s, count, spin, (uint32_t)timeout, &err);
    gosr_free(s.buf);
    gosr_arena_close(s.a);
    return rc == GOSR_OK ? CLI_EXIT_OK
                         : cli_report_error(json, &err, rc, CLI_EXIT_FAIL);
}

GOSR_CLI_COMMAND(watch, "watch", cmd_watch,
                 "print a region's epochs as a node's world changes",
                 "gosr watch --node DIR --region NAME [--count N] "
                 "[--timeout MS] [--spin] [--json]")
