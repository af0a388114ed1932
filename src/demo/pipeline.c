/*
 * pipeline.c — the demo's patch steps on the node's patch pipeline
 * (docs/patch.md): the AI core writes an arena.economy patch, it is
 * submitted (integrity, schema, static checks), replayed and canaried by
 * the pipeline's worker, approved by policy and rolled out 1 -> 10 -> 50 ->
 * 100 % while the bots play; then the operator rolls it back to the
 * previous known-good (no patch), and the kill switch is turned off, a new
 * AI patch is refused, and it is turned on again. Every transition is a
 * ledger row. Design: docs/demo.md ("Steps").
 */
#include "demo/demo_int.h"

#include <inttypes.h>
#include <string.h>

#define PATCH_GOAL "make ore a little cheaper"
#define PATCH_TIMEOUT_MS 60000

/* State and rollout of patch `id` (state "?" when unknown). */
static void patch_state(demo_run *d, const char *id, char *st, size_t cap,
                        int *pct, json_t **reasons)
{
    json_t *j = NULL;
    snprintf(st, cap, "?");
    *pct = 0;
    if (gosr_patch_status_json(d->pm, id, &j, NULL) != GOSR_OK)
        return;
    const json_t *p = json_object_get(j, "patch") ? json_object_get(j, "patch") : j;
    snprintf(st, cap, "%s", json_string_value(json_object_get(p, "state")) ?: "?");
    *pct = (int)json_integer_value(json_object_get(p, "rollout_pct"));
    if (reasons)
        *reasons = json_incref(json_object_get(p, "reasons"));
    json_decref(j);
}

/* Plays until patch `id` is active at 100 % or terminal. */
static void wait_rollout(demo_run *d, const char *id, char *st, size_t cap,
                         int *pct)
{
    uint64_t t0 = gosr_time_mono_ns();
    int last = -1;
    gosr_error err = {0};
    while ((gosr_time_mono_ns() - t0) / 1000000u < PATCH_TIMEOUT_MS) {
        patch_state(d, id, st, cap, pct, NULL);
        if (strcmp(st, "active") == 0 && *pct != last) {
            char label[64];
            snprintf(label, sizeof label, "rollout %d%%", *pct);
            demo__progress(d, "AI patch %.12s active, %s", id, label);
            if (last < 0)
                demo__mark(d, "patch", "AI patch active 1%");
            last = *pct;
        }
        if ((strcmp(st, "active") == 0 && *pct >= 100) ||
            strcmp(st, "rejected") == 0 || strcmp(st, "rolled_back") == 0)
            return;
        if (demo__play_for(d, 100, &err) != GOSR_OK)
            return;
    }
}

void demo__patch_to_active(demo_run *d)
{
    gosr_error err = {0};
    char *bundle = NULL, series[128], id[65] = "", st[32];
    int pct = 0;
    int rc = demo__ai_patch(d, PATCH_GOAL, "1.2.0", NULL, &bundle, series, &err);
    if (rc != GOSR_OK) {
        demo__step(d, "ai_patch", false, "%s: %s", err.reason, err.detail);
        return;
    }
    demo__step(d, "ai_patch", true,
               "the AI core's patch_author (ghost tier, offline) wrote %s "
               "1.2.0 (\"%s\"): packed as kind patch, signed, verified",
               series, PATCH_GOAL);
    json_object_set_new(d->facts, "ai_patch_series", json_string(series));
    demo__kpis(d, "before_patch");
    uint64_t tick0 = 0;
    gosr_node_counters c;
    gosr_node_get_counters(d->node, &c);
    tick0 = c.ticks;
    rc = gosr_patch_submit(d->pm, bundle, "ai:patch_author", id, &err);
    gosr_free(bundle);
    demo__mark(d, "patch", "AI patch submitted");
    if (rc != GOSR_OK) {
        json_object_set_new(d->facts, "patch_state", json_string("rejected"));
        demo__step(d, "canary_and_staged_rollout", false, "submit: %s: %s",
                   err.reason, err.detail);
        return;
    }
    json_object_set_new(d->facts, "patch_id", json_string(id));
    wait_rollout(d, id, st, sizeof st, &pct);
    gosr_node_get_counters(d->node, &c);
    json_object_set_new(d->facts, "patch_state", json_string(st));
    json_object_set_new(d->facts, "patch_rollout_pct", json_integer(pct));
    json_object_set_new(d->facts, "patch_ticks_to_full_rollout",
                        json_integer((json_int_t)(c.ticks - tick0)));
    bool ok = strcmp(st, "active") == 0 && pct == 100;
    if (ok)
        demo__mark(d, "patch", "AI patch at 100%");
    json_t *reasons = NULL;
    if (!ok)
        patch_state(d, id, st, sizeof st, &pct, &reasons);
    char *rs = reasons ? json_dumps(reasons, JSON_COMPACT) : NULL;
    demo__step(d, "canary_and_staged_rollout", ok,
               "patch %.12s: integrity, schema, static, determinism replay, "
               "canary, policy, rollout 1->10->50->100%% in %" PRIu64
               " ticks: %s at %d%%%s%s", id, c.ticks - tick0, st, pct,
               rs ? " " : "", rs ? rs : "");
    free(rs);
    json_decref(reasons);
    demo__play_for(d, 300, &err);
    demo__kpis(d, "after_patch");
}

void demo__patch_rollback(demo_run *d)
{
    gosr_error err = {0};
    const char *id = json_string_value(json_object_get(d->facts, "patch_id"));
    char st[32], active[65] = "";
    int pct = 0;
    uint32_t apct = 0;
    if (!id || strcmp(json_string_value(json_object_get(d->facts, "patch_state")) ?: "", "active")) {
        demo__not_run(d, "patch_rollback", "no active AI patch to roll back");
        return;
    }
    int rc = gosr_patch_rollback(d->pm, NULL, "operator:demo",
                                 "demo: roll the AI patch back", &err);
    if (rc != GOSR_OK) {
        demo__step(d, "patch_rollback", false, "%s: %s", err.reason, err.detail);
        return;
    }
    demo__mark(d, "rollback", "AI patch rolled back");
    patch_state(d, id, st, sizeof st, &pct, NULL);
    bool none = gosr_patch_active(d->pm, active, &apct) == GOSR_ENOENT;
    json_object_set_new(d->facts, "patch_after_rollback", json_string(st));
    json_object_set_new(d->facts, "patch_rollback_restored",
                        json_string(none ? "no patch" : active));
    demo__step(d, "patch_rollback", strcmp(st, "rolled_back") == 0,
               "patch %.12s is %s; active now: %s (the previous known-good)",
               id, st, none ? "no patch" : active);
    demo__play_for(d, 200, &err);
}

void demo__killswitch(demo_run *d)
{
    gosr_error err = {0}, serr = {0};
    char *bundle = NULL, series[128], id[65] = "";
    int rc = gosr_patch_killswitch_set(d->pm, false, "operator:demo",
                                       "demo: stop AI patches", false, &err);
    if (rc != GOSR_OK) {
        demo__step(d, "kill_switch", false, "off: %s: %s", err.reason, err.detail);
        return;
    }
    demo__mark(d, "killswitch", "kill switch off");
    rc = demo__ai_patch(d, "make herbs a little dearer", "1.0.0", NULL, &bundle,
                        series, &err);
    int src = rc == GOSR_OK ? gosr_patch_submit(d->pm, bundle, "ai:patch_author",
                                                id, &serr)
                            : rc;
    gosr_free(bundle);
    bool refused = src == GOSR_EDENIED &&
                   strcmp(serr.reason, "policy_ingest_disabled") == 0;
    json_object_set_new(d->facts, "killswitch_refused", json_boolean(refused));
    json_object_set_new(d->facts, "killswitch_refusal_reason",
                        json_string(serr.reason));
    rc = gosr_patch_killswitch_set(d->pm, true, "operator:demo",
                                   "demo: AI patches allowed again", false, &err);
    json_t *ks = NULL;
    bool on = rc == GOSR_OK && gosr_patch_killswitch_json(d->pm, &ks, NULL) == GOSR_OK &&
              json_is_true(json_object_get(ks, "ai_patch_ingest_enabled"));
    json_decref(ks);
    json_object_set_new(d->facts, "killswitch_on_again", json_boolean(on));
    demo__step(d, "kill_switch", refused && on,
               "off -> a new AI patch (%s) was %s (%s) -> on again: %s", series,
               refused ? "refused" : "NOT refused", serr.reason,
               on ? "ingest enabled" : "still off");
}
