/*
 * package.c — a module version's mesh package: a store tree holding the
 * bundle's files plus the bundle's signed head at KPKG_HEAD_PATH. A node
 * publishes the package to the mesh; a node that fetches it verifies the
 * head (signature, certificate chain, revocation, expiry) and checks that
 * the files are exactly the signed tree before anything is registered.
 * Design: docs/kernel.md ("Mesh packages").
 */
#include "kernel/kernel_int.h"

#include "gosr/gmod.h"

#include <stdlib.h>
#include <string.h>

/* The largest signed head: header + 16 MiB manifest + 16 KiB signatures. */
#define KPKG_HEAD_MAX (64u + (16u << 20) + (16u << 10))

/* The entries of one tree, copied out of a store walk (paths owned). */
typedef struct kentries {
    gosr_tree_entry *e; /* entries in path order */
    size_t n, cap;      /* used and allocated */
} kentries;

static void entries_free(kentries *k)
{
    for (size_t i = 0; i < k->n; i++)
        gosr_free((char *)k->e[i].path);
    gosr_free(k->e);
    *k = (kentries){0};
}

static int entries_add(kentries *k, const gosr_tree_entry *e)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 16;
        gosr_tree_entry *p = gosr_realloc(k->e, cap * sizeof *p);
        if (!p)
            return GOSR_ENOMEM;
        k->e = p;
        k->cap = cap;
    }
    k->e[k->n] = *e;
    k->e[k->n].path = gosr_strdup(e->path);
    if (!k->e[k->n].path)
        return GOSR_ENOMEM;
    k->n++;
    return GOSR_OK;
}

static int on_entry(void *ud, const gosr_tree_entry *e)
{
    return entries_add(ud, e) == GOSR_OK ? 0 : 1;
}

/* Copies the entries of tree `root` into *k (caller entries_free). */
static int entries_of(gosr_node *n, const gosr_hash *root, kentries *k,
                      gosr_error *err)
{
    int rc = gosr_store_tree_foreach(n->store, root, on_entry, k, err);
    if (rc > 0)
        rc = gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "entries");
    if (rc != GOSR_OK)
        entries_free(k);
    return rc;
}

int kernel__store_read_file(gosr_node *n, const gosr_hash *file_id,
                            uint64_t size, uint64_t max, gosr_buf *out,
                            gosr_error *err)
{
    gosr_chunk_ref *chunks = NULL;
    size_t nchunks = 0;
    if (size > max)
        return gosr_error_set(err, GOSR_ETOOBIG, "file_too_big",
                              "%llu bytes, the limit is %llu",
                              (unsigned long long)size,
                              (unsigned long long)max);
    int rc = gosr_store_file_chunks(n->store, file_id, &chunks, &nchunks, err);
    for (size_t i = 0; rc == GOSR_OK && i < nchunks; i++)
        rc = gosr_store_get_chunk(n->store, &chunks[i].id, out, err);
    gosr_free(chunks);
    return rc;
}

int kernel__package_build(gosr_node *n, const char *bundle,
                          const gosr_hash *root, gosr_hash *pkg,
                          gosr_error *err)
{
    kentries k = {0};
    gosr_buf head = {0};
    gosr_tree_entry he = {.path = KPKG_HEAD_PATH, .mode = 0644};
    int rc = entries_of(n, root, &k, err);
    if (rc != GOSR_OK)
        return rc;
    for (size_t i = 0; i < k.n && rc == GOSR_OK; i++)
        if (strcmp(k.e[i].path, KPKG_HEAD_PATH) == 0)
            rc = gosr_error_set(err, GOSR_EFORMAT, "module_reserved_path",
                                "the bundle has a file at %s, a path the "
                                "node reserves for the signed head",
                                KPKG_HEAD_PATH);
    if (rc == GOSR_OK)
        rc = gosr_gmod_head_read(bundle, &head, err);
    if (rc == GOSR_OK)
        rc = gosr_store_put_buffer(n->store, head.data, head.len, &he.file_id,
                                   err);
    he.size = head.len;
    if (rc == GOSR_OK)
        rc = entries_add(&k, &he) == GOSR_OK
                 ? gosr_store_put_tree_entries(n->store, k.e, k.n, pkg, err)
                 : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "pkg");
    gosr_buf_free(&head);
    entries_free(&k);
    return rc;
}

/* Splits the package's entries into the head's file id and the module's
 * own entries (kept in k, head removed). */
static int take_head(kentries *k, gosr_tree_entry *head, gosr_error *err)
{
    for (size_t i = 0; i < k->n; i++) {
        if (strcmp(k->e[i].path, KPKG_HEAD_PATH) != 0)
            continue;
        *head = k->e[i];
        head->path = NULL;
        gosr_free((char *)k->e[i].path);
        memmove(&k->e[i], &k->e[i + 1], (k->n - i - 1) * sizeof k->e[0]);
        k->n--;
        return GOSR_OK;
    }
    return gosr_error_set(err, GOSR_EFORMAT, "package_no_head",
                          "the tree has no %s: not a module package",
                          KPKG_HEAD_PATH);
}

/* Checks the module's entries are exactly the tree the head signed, and
 * stores that tree (the registry's root). */
static int check_tree(gosr_node *n, const kentries *k,
                      const gosr_gmod_reader *r, gosr_hash *root,
                      gosr_error *err)
{
    int rc = gosr_merkle_tree_id(k->e, k->n, root);
    if (rc != GOSR_OK)
        return gosr_error_set(err, GOSR_EFORMAT, "package_tree",
                              "the package's entries are not a valid tree");
    if (!gosr_hash_equal(root, gosr_gmod_reader_root(r)))
        return gosr_error_set(err, GOSR_ECORRUPT, "package_root_mismatch",
                              "the package's files are not the files its "
                              "signed head lists");
    return gosr_store_put_tree_entries(n->store, k->e, k->n, root, err);
}

/* The gmod.json bytes of the module (covered by the checked root). */
static int read_manifest(gosr_node *n, const kentries *k, gosr_buf *out,
                         gosr_error *err)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->e[i].path, "gmod.json") == 0)
            return kernel__store_read_file(n, &k->e[i].file_id, k->e[i].size,
                                           1u << 20, out, err);
    return gosr_error_set(err, GOSR_EFORMAT, "manifest_unreadable",
                          "the package has no gmod.json");
}

int kernel__package_verify(gosr_node *n, const gosr_hash *pkg,
                           gosr_hash *root, gosr_buf *manifest,
                           gosr_error *err)
{
    kentries k = {0};
    gosr_tree_entry he = {0};
    gosr_buf head = {0};
    gosr_gmod_reader *r = NULL;
    gosr_gmod_verify_opts o = {.trust_pk = n->trust_pk,
                               .revoked = n->revoked,
                               .no_trust = n->cfg.no_trust};
    int rc = entries_of(n, pkg, &k, err);
    if (rc == GOSR_OK)
        rc = take_head(&k, &he, err);
    if (rc == GOSR_OK)
        rc = kernel__store_read_file(n, &he.file_id, he.size, KPKG_HEAD_MAX,
                                     &head, err);
    if (rc == GOSR_OK)
        rc = gosr_gmod_head_open(head.data, head.len, &o, &r, err);
    if (rc == GOSR_OK)
        rc = check_tree(n, &k, r, root, err);
    if (rc == GOSR_OK)
        rc = read_manifest(n, &k, manifest, err);
    gosr_gmod_reader_destroy(r);
    gosr_buf_free(&head);
    entries_free(&k);
    return rc;
}
