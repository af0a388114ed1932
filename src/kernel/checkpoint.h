/*
 * checkpoint.h — private to src/kernel/: the in-memory form of a node
 * checkpoint and its file encoding (checkpoint.c), shared with the node's
 * open/stop code and the fuzz target. Design: docs/kernel.md
 * ("Checkpoints").
 */
#ifndef GOSR_KERNEL_CHECKPOINT_H
#define GOSR_KERNEL_CHECKPOINT_H

#include "gosr/runtime.h"
#include "gosr/sandbox.h"

#define CKPT_FILE "checkpoint"      /* DIR/checkpoint */
#define CKPT_PREV "checkpoint.prev" /* the one before it */
#define CKPT_MAGIC "GOSRCKPT"       /* 8 bytes */
#define CKPT_VERSION 1u             /* format version */
#define CKPT_HEADER 96u             /* fixed header bytes */
#define CKPT_MAX_MODULES 4096u      /* modules per checkpoint */
#define CKPT_NAME_MAX 63u           /* bytes of a module id or version */

/* One active module's part: its version and Lua `state` / STATE_SCHEMA. */
typedef struct ckpt_mod {
    char id[CKPT_NAME_MAX + 1];      /* module id */
    char version[CKPT_NAME_MAX + 1]; /* version that wrote the state */
    gosr_sbv state;                  /* the `state` global (owned) */
    gosr_sbv schema;                 /* the STATE_SCHEMA global (owned) */
} ckpt_mod;

/* A checkpoint: taken on the tick thread between two ticks, encoded and
 * written by the writer thread; or decoded from a file at open. */
typedef struct ckpt_data {
    uint64_t tick;         /* ticks completed when taken */
    uint64_t wall_ns;      /* wall clock when taken (Unix ns) */
    gosr_world_config wc;  /* the world's configuration */
    gosr_hash world_hash;  /* world hash at `tick` (filled by encode when
                              taken; read from the file when decoded) */
    gosr_world_snap *snap; /* entities and kv (owned) */
    ckpt_mod *mods;        /* active modules (owned array) */
    size_t nmods;          /* entries in mods */
} ckpt_data;

/* Frees everything a checkpoint owns and the struct. Accepts NULL. */
void kernel__ckpt_free(ckpt_data *c);
/* Computes c->world_hash from the snapshot and appends the file bytes
 * (byte table in docs/kernel.md) to out. */
int kernel__ckpt_encode(ckpt_data *c, gosr_buf *out, gosr_error *err);
/* Decodes a whole checkpoint file: checksum, header, world configuration
 * equal to `want` (checkpoint_config_mismatch otherwise), snapshot
 * bounded by it, modules, and the recorded world hash against the
 * snapshot's. *out: caller frees with kernel__ckpt_free. Reasons:
 * checkpoint_truncated, checkpoint_checksum, checkpoint_bad_magic,
 * checkpoint_config_mismatch, checkpoint_hash_mismatch,
 * checkpoint_invalid, and the snapshot / value decoders' reasons. */
int kernel__ckpt_decode(const uint8_t *p, size_t n,
                        const gosr_world_config *want, ckpt_data **out,
                        gosr_error *err);

#endif /* GOSR_KERNEL_CHECKPOINT_H */
