/*
 * fuzz_ai_response.c — fuzz target for the provider response parsers
 * (src/ai/proto.c): the first byte picks OpenAI JSON, Ollama JSON, an SSE
 * stream or an NDJSON stream; streams are fed in pieces whose sizes come
 * from the second byte, so line splitting across feeds is exercised.
 * Design: docs/ai.md ("Provider protocols"), docs/testing.md ("Fuzzing").
 */
#include "ai/ai_int.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int mode = data[0] % 4;
    size_t step = (size_t)data[1] % 64 + 1;
    const char *p = (const char *)data + 2;
    size_t n = size - 2;
    char *content = NULL;
    gosr_error e;
    if (mode == 0)
        ai__openai_parse(p, n, &content, &e);
    else if (mode == 1)
        ai__ollama_parse(p, n, &content, &e);
    else {
        ai_stream s;
        ai__stream_init(&s, mode == 3, 1u << 16);
        for (size_t at = 0; at < n; at += step)
            ai__stream_feed(&s, p + at, at + step < n ? step : n - at);
        ai__stream_finish(&s, &content, &e);
        ai__stream_free(&s);
    }
    gosr_free(content);
    return 0;
}
