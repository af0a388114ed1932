/*
 * object.c — objects (chunks and manifests) in the store: locators,
 * compression, convergent encryption (XChaCha20-Poly1305, libsodium),
 * appending a record and its index row, and reading one back with full
 * verification (header checksum, AEAD tag, exact-length decode, BLAKE3 of
 * the plaintext). The public calls here are the unlocked store__ bodies
 * behind api.c. Design: docs/store.md ("Objects", "Encryption").
 */
#include "store_int.h"

#include <sodium.h>
#include <string.h>

/* ---- ids, locators, keys ----------------------------------------------------
 */

/* The index key of an id: the id itself, or in an encrypted store a
 * keyed BLAKE3 of it, so holders of the index alone cannot confirm that
 * the store holds a chunk of a known file. */
void store__locator(const gosr_store *st, const gosr_hash *id, gosr_hash *loc)
{
    if (!st->encrypted) {
        *loc = *id;
        return;
    }
    gosr_blake3_keyed(st->k_loc, id->b, 32, loc);
}

/* idm = id XOR keyed-BLAKE3(k_mask, loc): lets fsck recover the id of
 * a record from its locator with the secret, and only with it. */
static void id_mask(const gosr_store *st, const gosr_hash *loc,
                    const gosr_hash *in, gosr_hash *out)
{
    gosr_hash m;
    gosr_blake3_keyed(st->k_mask, loc->b, 32, &m);
    for (int i = 0; i < 32; i++)
        out->b[i] = in->b[i] ^ m.b[i];
}

/* Convergent key and nonce: 56 bytes of keyed-BLAKE3(k_enc, id) XOF. */
static void chunk_key(const gosr_store *st, const gosr_hash *id,
                      uint8_t key[32], uint8_t nonce[24])
{
    uint8_t kn[56];
    gosr_blake3 h;
    gosr_blake3_init_keyed(&h, st->k_enc);
    gosr_blake3_update(&h, id->b, 32);
    gosr_blake3_finalize(&h, kn, sizeof kn);
    memcpy(key, kn, 32);
    memcpy(nonce, kn + 32, 24);
    sodium_memzero(kn, sizeof kn);
}

/* AEAD additional data: the id and the kind, so a record cannot be
 * replayed under another id or kind. */
static void aead_ad(const gosr_hash *id, uint8_t kind, uint8_t ad[33])
{
    memcpy(ad, id->b, 32);
    ad[32] = kind;
}

/* ---- index rows
 * ------------------------------------------------------------------ */

/* GOSR_OK with *row filled, GOSR_ENOENT, or GOSR_EIO. */
int store__row_get(gosr_store *st, const gosr_hash *loc, store_row *row)
{
    sqlite3_stmt *s = st->q_get;
    sqlite3_reset(s);
    sqlite3_bind_blob(s, 1, loc->b, 32, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r != SQLITE_ROW) {
        sqlite3_reset(s);
        return r == SQLITE_DONE ? GOSR_ENOENT : GOSR_EIO;
    }
    memset(row, 0, sizeof *row);
    row->loc = *loc;
    row->rec.loc = *loc;
    row->rec.kind = (uint8_t)sqlite3_column_int(s, 0);
    row->rec.codec = (uint8_t)sqlite3_column_int(s, 1);
    row->rec.flags = (uint8_t)sqlite3_column_int(s, 2);
    row->rec.plain_len = (uint32_t)sqlite3_column_int64(s, 3);
    row->rec.stored_len = (uint32_t)sqlite3_column_int64(s, 4);
    if (sqlite3_column_bytes(s, 5) == 32)
        memcpy(row->rec.idm.b, sqlite3_column_blob(s, 5), 32);
    row->pack = sqlite3_column_int64(s, 6);
    row->off = sqlite3_column_int64(s, 7);
    sqlite3_reset(s);
    return GOSR_OK;
}

static int row_insert(gosr_store *st, const store_row *row, gosr_error *err)
{
    sqlite3_stmt *s = st->q_put;
    const store_rec *r = &row->rec;
    sqlite3_reset(s);
    sqlite3_bind_blob(s, 1, row->loc.b, 32, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, r->kind);
    sqlite3_bind_int(s, 3, r->codec);
    sqlite3_bind_int(s, 4, r->flags);
    sqlite3_bind_int64(s, 5, r->plain_len);
    sqlite3_bind_int64(s, 6, r->stored_len);
    if (r->flags & STORE_FLAG_ENCRYPTED)
        sqlite3_bind_blob(s, 7, r->idm.b, 32, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 7);
    sqlite3_bind_int64(s, 8, row->pack);
    sqlite3_bind_int64(s, 9, row->off);
    int rc = sqlite3_step(s) == SQLITE_DONE
                 ? GOSR_OK
                 : store__sql_error(st, err, "insert object");
    sqlite3_reset(s);
    return rc;
}

/* ---- writing
 * ---------------------------------------------------------------------- */

/* Compresses (and encrypts) `data` into st->scratch and fills r. */
static int encode_payload(gosr_store *st, gosr_obj_kind kind,
                          const gosr_hash *id, const uint8_t *data, size_t len,
                          store_rec *r, gosr_error *err)
{
    gosr_codec used;
    st->scratch.len = 0;
    int rc = gosr_codec_compress(st->codec, st->cfg.level, data, len,
                                 &st->scratch, &used);
    if (rc != GOSR_OK)
        return gosr_error_set(err, rc, "compress_failed", "compress: %s",
                              gosr_strerror(rc));
    memset(r, 0, sizeof *r);
    r->kind = (uint8_t)kind;
    r->codec = (uint8_t)used;
    r->plain_len = (uint32_t)len;
    store__locator(st, id, &r->loc);
    if (st->encrypted) {
        uint8_t key[32], nonce[24], ad[33];
        if ((rc = gosr_buf_reserve(&st->scratch, STORE_AEAD_TAG)) != GOSR_OK)
            return gosr_error_set(err, rc, "out_of_memory", "encrypt");
        chunk_key(st, id, key, nonce);
        aead_ad(id, r->kind, ad);
        unsigned long long clen = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            st->scratch.data, &clen, st->scratch.data, st->scratch.len, ad,
            sizeof ad, NULL, nonce, key);
        sodium_memzero(key, sizeof key);
        st->scratch.len = (size_t)clen;
        r->flags = STORE_FLAG_ENCRYPTED;
        id_mask(st, &r->loc, id, &r->idm);
    }
    r->stored_len = (uint32_t)st->scratch.len;
    return GOSR_OK;
}

/* Stores an object whose id the caller computed (BLAKE3 of data) inside
 * the current transaction. *added (may be NULL) tells whether it was new. */
int store__put_hashed(gosr_store *st, gosr_obj_kind kind, const gosr_hash *id,
                      const uint8_t *data, size_t len, bool *added,
                      gosr_error *err)
{
    store_row row;
    gosr_hash loc;
    store__locator(st, id, &loc);
    if (added)
        *added = false;
    int rc = store__row_get(st, &loc, &row);
    /* Already stored: dedup. The one exception is a manifest whose bytes
     * were first stored as a plain chunk (same id): it is re-stored with
     * its manifest kind, or GC would not see what it references. */
    if (rc == GOSR_OK && (row.rec.kind == kind || kind == GOSR_OBJ_CHUNK))
        return GOSR_OK;
    if (rc != GOSR_OK && rc != GOSR_ENOENT)
        return store__sql_error(st, err, "lookup");
    if (len > UINT32_MAX - STORE_AEAD_TAG)
        return gosr_error_set(err, GOSR_ETOOBIG, "object_too_large",
                              "object of %zu bytes", len);
    if ((rc = encode_payload(st, kind, id, data, len, &row.rec, err)))
        return rc;
    row.loc = loc;
    rc = store__pack_append(st, &row.rec, st->scratch.data, &row.pack, &row.off,
                            err);
    if (rc == GOSR_OK)
        rc = row_insert(st, &row, err);
    if (rc == GOSR_OK && added)
        *added = true;
    return rc;
}

int store__put_object(gosr_store *st, gosr_obj_kind kind, const uint8_t *data,
                      size_t len, gosr_hash *id, gosr_error *err)
{
    if (!st || (len && !data) || !id || kind > GOSR_OBJ_TREE)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "put");
    if (kind == GOSR_OBJ_CHUNK && len > (64u << 20))
        return gosr_error_set(err, GOSR_ETOOBIG, "chunk_too_large",
                              "chunk of %zu bytes", len);
    int rc = kind == GOSR_OBJ_CHUNK
                 ? GOSR_OK
                 : store__object_validate(kind, data, len, err);
    if (rc != GOSR_OK)
        return rc;
    gosr_blake3_hash(data, len, id);
    if ((rc = store__begin(st, err)) != GOSR_OK)
        return rc;
    rc = store__put_hashed(st, kind, id, data, len, NULL, err);
    if (rc != GOSR_OK) {
        store__rollback(st);
        return rc;
    }
    return store__commit(st, err);
}

int store__put_chunk(gosr_store *st, const uint8_t *data, size_t len,
                     gosr_hash *id, gosr_error *err)
{
    return store__put_object(st, GOSR_OBJ_CHUNK, data, len, id, err);
}

/* ---- reading
 * ------------------------------------------------------------------------ */

/* Decrypts st->scratch in place for record r with plaintext id `id`. */
static int decrypt_payload(gosr_store *st, const store_rec *r,
                           const gosr_hash *id, gosr_error *err)
{
    uint8_t key[32], nonce[24], ad[33];
    unsigned long long mlen = 0;
    if (r->stored_len < STORE_AEAD_TAG)
        return gosr_error_set(err, GOSR_ECORRUPT, "chunk_decrypt_failed",
                              "ciphertext shorter than its tag");
    chunk_key(st, id, key, nonce);
    aead_ad(id, r->kind, ad);
    int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(
        st->scratch.data, &mlen, NULL, st->scratch.data, r->stored_len, ad,
        sizeof ad, nonce, key);
    sodium_memzero(key, sizeof key);
    if (bad)
        return gosr_error_set(err, GOSR_ECORRUPT, "chunk_decrypt_failed",
                              "authentication tag mismatch");
    st->scratch.len = (size_t)mlen;
    return GOSR_OK;
}

/* Reads and checks the record header against the index row. */
static int read_record(gosr_store *st, const store_row *row, gosr_error *err)
{
    uint8_t hdr[STORE_REC_HDR];
    store_rec r;
    int rc = store__pack_read(st, row->pack, row->off, sizeof hdr, hdr, err);
    if (rc != GOSR_OK)
        return rc;
    if (store__rec_decode(hdr, &r) != GOSR_OK ||
        !gosr_hash_equal(&r.loc, &row->loc) || r.kind != row->rec.kind ||
        r.codec != row->rec.codec || r.flags != row->rec.flags ||
        r.plain_len != row->rec.plain_len ||
        r.stored_len != row->rec.stored_len)
        return gosr_error_set(err, GOSR_ECORRUPT, "record_header_bad",
                              "pack %lld offset %lld: header does not match "
                              "the index",
                              (long long)row->pack, (long long)row->off);
    st->scratch.len = 0;
    if ((rc = gosr_buf_reserve(&st->scratch, r.stored_len)) != GOSR_OK)
        return gosr_error_set(err, rc, "out_of_memory", "read");
    rc = store__pack_read(st, row->pack, row->off + STORE_REC_HDR, r.stored_len,
                          st->scratch.data, err);
    if (rc == GOSR_OK)
        st->scratch.len = r.stored_len;
    return rc;
}

/* Reads the object of `row`, verifies it completely and appends its
 * plaintext to out; *id gets its id (recovered from idm when encrypted).
 * out keeps its length on failure. */
int store__row_read(gosr_store *st, const store_row *row, gosr_hash *id,
                    gosr_buf *out, gosr_error *err)
{
    const store_rec *r = &row->rec;
    if (r->flags & STORE_FLAG_ENCRYPTED) {
        if (!st->encrypted)
            return gosr_error_set(err, GOSR_ECORRUPT, "record_header_bad",
                                  "encrypted record in a plain store");
        id_mask(st, &row->loc, &r->idm, id);
        gosr_hash loc;
        store__locator(st, id, &loc);
        if (!gosr_hash_equal(&loc, &row->loc))
            return gosr_error_set(err, GOSR_ECORRUPT, "chunk_hash_mismatch",
                                  "masked id does not match the locator");
    } else {
        *id = row->loc;
    }
    int rc = read_record(st, row, err);
    if (rc == GOSR_OK && (r->flags & STORE_FLAG_ENCRYPTED))
        rc = decrypt_payload(st, r, id, err);
    if (rc != GOSR_OK)
        return rc;
    size_t before = out->len;
    rc = gosr_codec_decompress(r->codec, st->scratch.data, st->scratch.len,
                               r->plain_len, out);
    if (rc == GOSR_ENOMEM)
        return gosr_error_set(err, rc, "out_of_memory", "decode");
    if (rc != GOSR_OK)
        return gosr_error_set(err, GOSR_ECORRUPT, "chunk_decode_failed",
                              "%s payload does not decode to %u bytes",
                              gosr_codec_name(r->codec), r->plain_len);
    gosr_hash got;
    gosr_blake3_hash(out->data + before, r->plain_len, &got);
    if (!gosr_hash_equal(&got, id)) {
        out->len = before;
        return gosr_error_set(err, GOSR_ECORRUPT, "chunk_hash_mismatch",
                              "plaintext BLAKE3 differs from the id");
    }
    return GOSR_OK;
}

int store__get_object(gosr_store *st, const gosr_hash *id, gosr_obj_kind *kind,
                      gosr_buf *out, gosr_error *err)
{
    if (!st || !id || !out)
        return gosr_error_set(err, GOSR_EINVAL, "invalid_argument", "get");
    store_row row;
    gosr_hash loc, got;
    store__locator(st, id, &loc);
    int rc = store__row_get(st, &loc, &row);
    if (rc == GOSR_ENOENT) {
        char hex[65];
        gosr_hash_hex(id, hex);
        return gosr_error_set(err, rc, "object_not_found", "%s", hex);
    }
    if (rc != GOSR_OK)
        return store__sql_error(st, err, "lookup");
    rc = store__row_read(st, &row, &got, out, err);
    if (rc == GOSR_OK && kind)
        *kind = (gosr_obj_kind)row.rec.kind;
    return rc;
}

int store__get_chunk(gosr_store *st, const gosr_hash *id, gosr_buf *out,
                     gosr_error *err)
{
    return store__get_object(st, id, NULL, out, err);
}

int store__read_range(gosr_store *st, const gosr_hash *id, uint64_t off,
                      size_t len, gosr_buf *out, gosr_error *err)
{
    gosr_buf tmp = {0};
    int rc = store__get_object(st, id, NULL, &tmp, err);
    if (rc == GOSR_OK && (off > tmp.len || len > tmp.len - off))
        rc = gosr_error_set(err, GOSR_EINVAL, "range_out_of_bounds",
                            "range %llu+%zu beyond %zu bytes",
                            (unsigned long long)off, len, tmp.len);
    if (rc == GOSR_OK)
        rc = gosr_buf_append(out, tmp.data + off, len);
    gosr_buf_free(&tmp);
    return rc;
}

bool store__has(gosr_store *st, const gosr_hash *id)
{
    store_row row;
    gosr_hash loc;
    if (!st || !id)
        return false;
    store__locator(st, id, &loc);
    return store__row_get(st, &loc, &row) == GOSR_OK;
}

int store__foreach(gosr_store *st, gosr_store_obj_fn fn, void *ud,
                   gosr_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT loc,kind,codec,plain_len,stored_len,idm "
                           "FROM objects ORDER BY loc",
                           -1, &s, NULL) != SQLITE_OK)
        return store__sql_error(st, err, "foreach");
    int rc = GOSR_OK;
    while (rc == GOSR_OK && sqlite3_step(s) == SQLITE_ROW) {
        gosr_store_obj_info o = {.kind = sqlite3_column_int(s, 1),
                                 .codec = sqlite3_column_int(s, 2),
                                 .plain_len = sqlite3_column_int64(s, 3),
                                 .stored_len = sqlite3_column_int64(s, 4)};
        gosr_hash loc = {{0}}, idm = {{0}};
        if (sqlite3_column_bytes(s, 0) == 32)
            memcpy(loc.b, sqlite3_column_blob(s, 0), 32);
        if (sqlite3_column_bytes(s, 5) == 32) {
            memcpy(idm.b, sqlite3_column_blob(s, 5), 32);
            id_mask(st, &loc, &idm, &o.id);
        } else {
            o.id = loc;
        }
        rc = fn(ud, &o);
    }
    sqlite3_finalize(s);
    return rc;
}
