/*
 * fuzz_arena.c — fuzz target for arena validation: the input is written as
 * an arena file and opened read-only; a reader must refuse it cleanly or
 * accept a layout whose every region it can then snapshot, never crash.
 * Design: docs/runtime.md ("Arena file"); docs/testing.md ("Fuzzing").
 */
#include "gosr/runtime.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/fuzz-arena-%d.arena", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    close(fd);
    gosr_arena *a = NULL;
    if (gosr_arena_open_reader(path, &a, NULL) == GOSR_OK) {
        for (size_t i = 0; i < gosr_arena_region_count(a); i++) {
            gosr_region_info in;
            if (gosr_arena_region_info(a, (int)i, &in) != GOSR_OK)
                abort();
            uint8_t *buf = malloc(in.size ? in.size : 1);
            uint64_t e;
            /* A header claiming an open window just times out. */
            gosr_arena_read(a, (int)i, buf, in.size, &e, 1);
            free(buf);
        }
        gosr_arena_close(a);
    }
    unlink(path);
    return 0;
}
