/*
 * merkle.c — Merkle ids: a file id over its ordered chunk list, a tree
 * root over its sorted entries, and the safe-path predicate shared by the
 * store and the bundle reader. Design: docs/store.md ("Merkle ids").
 */
#include "gosr/store.h"

#include <string.h>

static void put_u16(gosr_blake3 *h, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    gosr_blake3_update(h, b, 2);
}

static void put_u32(gosr_blake3 *h, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    gosr_blake3_update(h, b, 4);
}

static void put_u64(gosr_blake3 *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    gosr_blake3_update(h, b, 8);
}

void gosr_merkle_file_id(const gosr_chunk_ref *chunks, size_t n,
                         gosr_hash *out)
{
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, "gosr-file-v1", 12);
    put_u64(&h, (uint64_t)n);
    for (size_t i = 0; i < n; i++) {
        gosr_blake3_update(&h, chunks[i].id.b, 32);
        put_u32(&h, chunks[i].len);
    }
    gosr_blake3_finalize(&h, out->b, 32);
}

bool gosr_path_is_safe(const char *path, size_t len)
{
    if (len == 0 || len > 4096 || path[0] == '/' || memchr(path, 0, len) ||
        memchr(path, '\\', len))
        return false;
    size_t seg = 0; /* start of the current segment */
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        size_t sl = i - seg;
        if (sl == 0 || (sl == 1 && path[seg] == '.') ||
            (sl == 2 && path[seg] == '.' && path[seg + 1] == '.'))
            return false;
        seg = i + 1;
    }
    return true;
}

/* Byte-wise path order (memcmp, shorter prefix first). */
static int path_cmp(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

int gosr_merkle_tree_id(const gosr_tree_entry *entries, size_t n,
                        gosr_hash *out)
{
    gosr_blake3 h;
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, "gosr-tree-v1", 12);
    put_u64(&h, (uint64_t)n);
    for (size_t i = 0; i < n; i++) {
        const char *p = entries[i].path;
        size_t len = strlen(p);
        if (!gosr_path_is_safe(p, len) || len > UINT16_MAX)
            return GOSR_EINVAL;
        if (i > 0 && path_cmp(entries[i - 1].path, p) >= 0)
            return GOSR_EINVAL;
        put_u16(&h, (uint16_t)len);
        gosr_blake3_update(&h, p, len);
        put_u32(&h, (entries[i].mode & 0111) ? 0755 : 0644);
        put_u64(&h, entries[i].size);
        gosr_blake3_update(&h, entries[i].file_id.b, 32);
    }
    gosr_blake3_finalize(&h, out->b, 32);
    return GOSR_OK;
}
