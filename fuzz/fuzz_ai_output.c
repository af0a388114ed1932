/*
 * fuzz_ai_output.c — fuzz target for output acceptance (src/ai/safety.c,
 * src/ai/registry.c): the first byte picks a capability, the rest is the
 * text a provider returned; it goes through fence stripping, strict JSON,
 * the content policy, the capability's schema and its semantic checks
 * (quest world, map connectivity, patch Lua compile). Must never crash.
 * Design: docs/ai.md ("Prompt safety"), docs/testing.md ("Fuzzing").
 */
#include "ai/ai_int.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    gosr_ai_cap cap = (gosr_ai_cap)(data[0] % GOSR_AI_CAP_COUNT);
    char *text = gosr_strndup((const char *)data + 1, size - 1);
    json_t *in = json_object();
    char *out = NULL;
    gosr_error e;
    if (text && in && !gosr_ai_cap_fill_defaults(cap, in, &e))
        ai__accept_output(cap, in, text, "0123456789abcdef0123456789abcdef",
                          &out, &e);
    gosr_free(out);
    gosr_free(text);
    json_decref(in);
    return 0;
}
