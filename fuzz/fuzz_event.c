/*
 * fuzz_event.c — fuzz target for the event envelope decoder: any input must
 * decode cleanly or fail with a status, never crash or leak; anything that
 * decodes must re-encode to the identical bytes (the wire form is
 * canonical) and carry a valid name.
 * Design: docs/events.md; docs/testing.md ("Fuzzing").
 */
#include "gosr/runtime.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gosr_event ev;
    if (gosr_event_decode(data, size, &ev, NULL) != GOSR_OK)
        return 0;
    if (!gosr_event_name_valid(ev.name))
        abort();
    gosr_buf b = {0};
    if (gosr_event_encode(&ev, &b, NULL) != GOSR_OK || b.len != size ||
        memcmp(b.data, data, size) != 0)
        abort();
    gosr_buf_free(&b);
    gosr_event_clear(&ev);
    return 0;
}
