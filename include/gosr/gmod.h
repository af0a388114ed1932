/*
 * gosr/gmod.h — GOSR modules: semantic versions and ranges (SemVer 2.0.0),
 * the strict `gmod.json` module manifest, and the signed `.gmod` bundle
 * (pack, streaming verify, inspect, unpack).
 *
 * Design: docs/manifest.md (gmod.json schema, reason codes, JSON paths),
 *         docs/gmod.md (bundle byte table, signature, verify order and
 *         reason codes).
 */
#ifndef GOSR_GMOD_H
#define GOSR_GMOD_H

#include "gosr/base.h"
#include "gosr/crypto.h"
#include "gosr/store.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_t; /* jansson value (content envelope), see <jansson.h> */

/* ==== semantic versions (SemVer 2.0.0) ==================================== */

/* Longest version string accepted (bytes, without the NUL). */
#define GOSR_SEMVER_MAX_LEN 255

/* A parsed version. Build metadata is kept but ignored by comparisons. */
typedef struct gosr_semver {
    uint64_t major;  /* MAJOR */
    uint64_t minor;  /* MINOR */
    uint64_t patch;  /* PATCH */
    char pre[128];   /* prerelease ("alpha.1"), "" when none */
    char build[128]; /* build metadata ("exp.sha.5114f85"), "" when none */
} gosr_semver;

/* Parses a strict SemVer 2.0.0 string (no leading "v", no leading zeros in
 * numeric parts, no empty identifiers). GOSR_EFORMAT with reason
 * "semver_invalid" otherwise. */
GOSR_API int gosr_semver_parse(const char *s, gosr_semver *out,
                               gosr_error *err);
/* -1, 0 or 1: precedence per SemVer 2.0.0 section 11 (a version with a
 * prerelease sorts before the same version without one; identifiers
 * compare numerically when both are numeric, numeric < alphanumeric). */
GOSR_API int gosr_semver_compare(const gosr_semver *a, const gosr_semver *b);
/* Formats "MAJOR.MINOR.PATCH[-pre][+build]" into out (truncated to n). */
GOSR_API void gosr_semver_format(const gosr_semver *v, char *out, size_t n);

/* A parsed version range (opaque): comparator sets joined by "||", each a
 * space-separated AND of comparators: "=V", "V", ">V", ">=V", "<V",
 * "<=V", "^V", "~V", with x-wildcards ("1.x", "1.2.*", "*", "") in any of
 * them. Exact desugaring in docs/manifest.md ("Version ranges"). */
typedef struct gosr_semver_range gosr_semver_range;

/* Parses a range. Caller frees *out with gosr_semver_range_free.
 * GOSR_EFORMAT with reason "semver_range_invalid" on bad syntax. */
GOSR_API int gosr_semver_range_parse(const char *s, gosr_semver_range **out,
                                     gosr_error *err);
GOSR_API void gosr_semver_range_free(gosr_semver_range *r);
/* True when v satisfies some comparator set. A prerelease version only
 * satisfies a set in which some comparator names the same MAJOR.MINOR.PATCH
 * with a prerelease (the npm rule: "^1.2.3-beta" admits 1.2.3-rc, never
 * 1.3.0-rc). */
GOSR_API bool gosr_semver_range_satisfies(const gosr_semver_range *r,
                                          const gosr_semver *v);
/* Convenience: parses both and tests; false when either fails to parse. */
GOSR_API bool gosr_semver_satisfies(const char *range, const char *version);

/* ==== the module manifest (gmod.json) ===================================== */

/* Module kinds; the values are the certificate kind bits. */
typedef enum gosr_gmod_kind {
    GOSR_GMOD_GAME = GOSR_CERT_KIND_GAME,
    GOSR_GMOD_MOD = GOSR_CERT_KIND_MOD,
    GOSR_GMOD_PATCH = GOSR_CERT_KIND_PATCH,
} gosr_gmod_kind;

/* Bounds of gmod.json: bytes and container nesting. */
#define GOSR_GMOD_MANIFEST_MAX (1u << 20)
#define GOSR_GMOD_MAX_DEPTH 32

/* One dependency: module id and the version range it must satisfy. */
typedef struct gosr_gmod_dep {
    const char *id;           /* module id (borrowed from the manifest) */
    const char *range_text;   /* the range as written */
    gosr_semver_range *range; /* parsed range (owned by the manifest) */
} gosr_gmod_dep;

/* A validated gmod.json. Strings are borrowed from the manifest and live
 * until gosr_gmod_manifest_destroy. */
typedef struct gosr_gmod_manifest {
    const char *schema_version;      /* "1.0.0" */
    const char *id;                  /* module id, [a-z0-9][a-z0-9._-]{0,63} */
    const char *version_text;        /* version as written */
    gosr_semver version;             /* parsed version */
    gosr_gmod_kind kind;             /* game, mod or patch */
    const char *engine_compat;       /* engine version range as written */
    gosr_semver_range *engine_range; /* parsed engine_compat (owned) */
    gosr_gmod_dep *deps;             /* dependencies, in file order (owned) */
    size_t ndeps;                    /* entries in deps */
    const char **capabilities;       /* capability names (array owned) */
    size_t ncapabilities;            /* entries in capabilities */
    const char *entry;               /* entry script path; NULL for a patch
                                        without one */
    const char *name;                /* display name or NULL */
    const char *description;         /* description or NULL */
    const char *author_type;         /* "human" or "ai" */
    const char *author_name;         /* author.name or NULL */
    const char *author_model;        /* author.model (ai) or NULL */
    const char *author_run_id;       /* author.run_id (ai) or NULL */
    int64_t created_at;              /* Unix seconds */
    int64_t expires;              /* Unix seconds; valid only if has_expires */
    bool has_expires;             /* whether `expires` was given */
    const char *parent_patch_id;  /* patch lineage; NULL for a root patch or
                                     a game/mod */
    const char **scripts;         /* content.scripts paths (array owned) */
    size_t nscripts;              /* entries in scripts */
    const struct json_t *content; /* validated content envelope (patch) or
                                     NULL; borrowed from the manifest */
    void *priv_;                  /* private: the parsed JSON document */
} gosr_gmod_manifest;

/* Parses and validates gmod.json bytes strictly (docs/manifest.md). On
 * failure returns GOSR_EFORMAT (GOSR_ETOOBIG for size) with reason
 * manifest_* and detail "<JSON path>: <sentence>", e.g.
 * "$.depends[\"core\"]: ...". Caller frees *out with
 * gosr_gmod_manifest_destroy. */
GOSR_API int gosr_gmod_manifest_parse(const uint8_t *p, size_t n,
                                      gosr_gmod_manifest **out,
                                      gosr_error *err);
GOSR_API void gosr_gmod_manifest_destroy(gosr_gmod_manifest *m);
/* "game", "mod", "patch". */
GOSR_API const char *gosr_gmod_kind_name(gosr_gmod_kind k);

/* ==== bundles ============================================================= */

/* Default bounds enforced by readers before anything is allocated. */
#define GOSR_GMOD_MAX_BUNDLE (4ull << 30)  /* whole bundle */
#define GOSR_GMOD_MAX_INDEX (16u << 20)    /* signed bundle manifest */
#define GOSR_GMOD_MAX_SIGBLOCK (16u << 10) /* signature block */
#define GOSR_GMOD_MAX_CHUNKS (1u << 20)    /* chunk records */
#define GOSR_GMOD_MAX_FILES (1u << 16)     /* files */
#define GOSR_GMOD_MAX_CHUNK (16u << 20)    /* plaintext bytes per chunk */
#define GOSR_GMOD_MAX_CHAIN 4              /* certificates per chain */

/* What `gosr pack` needs. Zero fields take defaults. */
typedef struct gosr_gmod_pack_opts {
    const gosr_keypair *key; /* signer key (required) */
    const gosr_cert *chain;  /* signer's certificate first, then any
                                intermediates up to the trust root */
    size_t nchain;           /* certificates in chain (1..4) */
    gosr_cdc_params cdc;     /* chunking bounds; zero = store defaults */
    bool raw;                /* store chunks uncompressed (else zstd) */
    int level;               /* zstd level; 0 = 3 */
} gosr_gmod_pack_opts;

/* Packs directory `src` (which holds gmod.json) into a bundle at
 * `out_path` (written atomically). Deterministic: the same tree, key,
 * chain and options give byte-identical output. Regular files only;
 * symlinks, special files and unsafe names are refused. */
GOSR_API int gosr_gmod_pack(const char *src, const gosr_gmod_pack_opts *o,
                            const char *out_path, gosr_error *err);

/* How to verify. Zero fields take defaults. */
typedef struct gosr_gmod_verify_opts {
    const uint8_t *trust_pk;         /* trust root public key (32 bytes);
                                        required unless no_trust */
    const gosr_revocations *revoked; /* revocation list or NULL */
    int64_t now;                     /* Unix seconds; 0 = wall clock */
    bool no_trust;       /* skip signature, certificates, revocation, kind and
                            expiry (unpack --no-verify); structure, paths, sizes
                            and every chunk hash are still checked */
    uint64_t max_bundle; /* bundle size limit; 0 = GOSR_GMOD_MAX_BUNDLE */
} gosr_gmod_verify_opts;

/* Reads up to n bytes into buf; returns bytes read, 0 at end, -1 on error
 * (errno set). */
typedef ssize_t (*gosr_gmod_read_fn)(void *ud, void *buf, size_t n);

/* One file of a bundle, as listed by its signed manifest. */
typedef struct gosr_gmod_file {
    const char *path;       /* safe relative path (borrowed from the reader) */
    uint32_t mode;          /* 0644 or 0755 */
    uint64_t size;          /* bytes */
    gosr_hash file_id;      /* gosr_merkle_file_id of its chunks */
    uint32_t nchunks;       /* chunks in the file */
    const uint32_t *chunks; /* chunk indices (borrowed from the reader) */
} gosr_gmod_file;

/* One chunk record as listed by the signed manifest. */
typedef struct gosr_gmod_chunk {
    gosr_hash id;        /* BLAKE3 of the plaintext */
    gosr_hash stored_id; /* BLAKE3 of the stored (compressed) bytes: they
                            are authenticated before any decoding */
    uint32_t plain_len;  /* plaintext bytes */
    uint32_t stored_len; /* bytes in the bundle */
    gosr_codec codec;    /* how it is stored */
} gosr_gmod_chunk;

/* A streaming bundle reader (opaque). */
typedef struct gosr_gmod_reader gosr_gmod_reader;

/* Reads and checks the header, signed manifest and signature block (in
 * that order: bounds, signature, certificate chain, manifest structure,
 * paths, sizes, gmod.json, kind, expiry) from `read`. Chunks are then
 * pulled with gosr_gmod_reader_next. Nothing is allocated before its
 * declared size has been checked against the bounds. `o` is copied;
 * o->revoked is borrowed until destroy. Caller frees *out with
 * gosr_gmod_reader_destroy. Reason codes in docs/gmod.md. */
GOSR_API int gosr_gmod_reader_open(gosr_gmod_read_fn read, void *ud,
                                   const gosr_gmod_verify_opts *o,
                                   gosr_gmod_reader **out, gosr_error *err);
/* As open, reading from a file descriptor (borrowed, not closed). */
GOSR_API int gosr_gmod_reader_open_fd(int fd, const gosr_gmod_verify_opts *o,
                                      gosr_gmod_reader **out, gosr_error *err);
/* As open, reading n bytes at p (borrowed until destroy). */
GOSR_API int gosr_gmod_reader_open_mem(const uint8_t *p, size_t n,
                                       const gosr_gmod_verify_opts *o,
                                       gosr_gmod_reader **out,
                                       gosr_error *err);
GOSR_API void gosr_gmod_reader_destroy(gosr_gmod_reader *r);

/* Reads, decodes and hash-checks the next chunk record. Sets *done at the
 * end (after checking there are no trailing bytes); otherwise *index and
 * the plaintext (*data, *len, borrowed until the next call). */
GOSR_API int gosr_gmod_reader_next(gosr_gmod_reader *r, bool *done,
                                   uint32_t *index, const uint8_t **data,
                                   size_t *len, gosr_error *err);

/* Accessors (borrowed until destroy). */
GOSR_API const gosr_gmod_manifest *
gosr_gmod_reader_manifest(const gosr_gmod_reader *r);
GOSR_API size_t gosr_gmod_reader_nfiles(const gosr_gmod_reader *r);
GOSR_API void gosr_gmod_reader_file(const gosr_gmod_reader *r, size_t i,
                                    gosr_gmod_file *out);
GOSR_API size_t gosr_gmod_reader_nchunks(const gosr_gmod_reader *r);
GOSR_API void gosr_gmod_reader_chunk(const gosr_gmod_reader *r, size_t i,
                                     gosr_gmod_chunk *out);
/* Tree root (gosr_merkle_tree_id of the files) and the signer. */
GOSR_API const gosr_hash *gosr_gmod_reader_root(const gosr_gmod_reader *r);
GOSR_API const gosr_cert *gosr_gmod_reader_signer(const gosr_gmod_reader *r);
/* Total bundle bytes as declared by the header. */
GOSR_API uint64_t gosr_gmod_reader_total(const gosr_gmod_reader *r);

/* The signed head of the bundle at `path` (header, signed manifest and
 * signature block: everything before the chunk records), appended to
 * *out after the header's bounds are checked.
 * The head travels on its own in a module's mesh package
 * (docs/kernel.md, "Mesh packages"). */
GOSR_API int gosr_gmod_head_read(const char *path, gosr_buf *out,
                                 gosr_error *err);
/* Verifies a head alone (n bytes, exactly the head) with the checks of
 * gosr_gmod_reader_open: signature, chain, revocation, kind, expiry,
 * manifest structure and tree root. The reader gives the manifest, files
 * and root; reading chunk records from it fails (bundle_truncated): the
 * records are not there.
 * Reasons as for open, plus head_trailing. */
GOSR_API int gosr_gmod_head_open(const uint8_t *p, size_t n,
                                 const gosr_gmod_verify_opts *o,
                                 gosr_gmod_reader **out, gosr_error *err);

/* Fully verifies the bundle at `path`: open + every chunk + end. */
GOSR_API int gosr_gmod_verify_file(const char *path,
                                   const gosr_gmod_verify_opts *o,
                                   gosr_error *err);
/* Verifies while extracting into a fresh staging directory beside
 * `out_dir`, then renames it to `out_dir` (which must not exist). On any
 * failure nothing is left at `out_dir`. */
GOSR_API int gosr_gmod_unpack(const char *path, const char *out_dir,
                              const gosr_gmod_verify_opts *o, gosr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* GOSR_GMOD_H */
