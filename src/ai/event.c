/*
 * event.c — a router result described as a runtime event, so the kernel can
 * log it and replays stay deterministic: the name follows the runtime's
 * envelope form "{service}:{action}:v{N}:{state}" ("ai:npc_dialog:v1:
 * completed" or ":failed") and the payload carries the output with its
 * BLAKE3, the provider that answered and the request id. On replay the
 * kernel feeds the logged payload instead of asking the router.
 *
 * Design: docs/ai.md ("Results as events").
 */
#include "ai/ai_int.h"
#include "gosr/crypto.h"

#include <string.h>

int gosr_ai_result_event(const gosr_ai_result *res, char name[128],
                         json_t **payload, gosr_error *err)
{
    bool ok = res->status == GOSR_OK && res->output;
    json_t *out = ok ? json_loads(res->output, 0, NULL) : NULL;
    if (ok && !out)
        return gosr_error_set(err, GOSR_EFORMAT, "event_output",
                              "result output is not JSON");
    snprintf(name, 128, "ai:%s:v1:%s", gosr_ai_cap_name(res->cap),
             ok ? "completed" : "failed");
    json_t *p = json_pack("{s:I, s:s, s:s, s:s, s:i}", "request_id",
                          (json_int_t)res->request_id, "capability",
                          gosr_ai_cap_name(res->cap), "provider",
                          res->provider ? res->provider : "", "model",
                          res->model ? res->model : "", "attempts",
                          (int)res->attempts);
    if (p && ok) {
        char hex[65];
        gosr_hash h;
        gosr_blake3_hash(res->output, strlen(res->output), &h);
        gosr_hash_hex(&h, hex);
        json_object_set_new(p, "output_hash", json_string(hex));
        json_object_set_new(p, "output", out);
        out = NULL;
    } else if (p) {
        json_object_set_new(p, "status", json_string(gosr_status_name(res->status)));
        json_object_set_new(p, "reason", json_string(res->reason));
    }
    json_decref(out);
    if (!p)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "event");
    *payload = p;
    return GOSR_OK;
}
