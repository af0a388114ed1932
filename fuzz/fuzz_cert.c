/*
 * fuzz_cert.c — fuzz target for the certificate decoder (gosr_cert_decode)
 * and the revocation list decoder (crypto__revocations_decode, with the
 * signature check skipped so the fuzzer reaches the entry parser, and with
 * a fixed trust key so the signature path runs too). A certificate that
 * decodes must re-encode to exactly the input bytes (the encoding is
 * canonical) and must verify without crashing; a list that decodes must be
 * sorted. Seeds: fuzz/corpus/fuzz_cert/. Design: docs/certs.md.
 */
#include "crypto/cert_int.h"

#include <stdlib.h>
#include <string.h>

static void check_cert(const uint8_t *data, size_t size)
{
    gosr_cert c;
    gosr_error err;
    if (gosr_cert_decode(data, size, &c, &err) != GOSR_OK)
        return;
    gosr_buf b = {0};
    if (gosr_cert_encode(&c, &b) != GOSR_OK || b.len != size ||
        memcmp(b.data, data, size) != 0)
        abort(); /* decode accepted a non-canonical encoding */
    gosr_buf_free(&b);
    (void)gosr_cert_verify(&c, c.issuer_pk, c.not_before, NULL,
                           GOSR_CERT_KIND_MOD, &err);
    char kinds[32];
    gosr_cert_kinds_format(c.kinds, kinds);
}

static void check_list(const uint8_t *data, size_t size)
{
    static const uint8_t trust[32] = {1, 2, 3};
    gosr_revocations *rl = NULL;
    gosr_error err;
    if (crypto__revocations_decode(data, size, trust, &rl, &err) == GOSR_OK)
        abort(); /* nobody holds the secret key of `trust` */
    if (crypto__revocations_decode(data, size, NULL, &rl, &err) != GOSR_OK)
        return;
    for (uint32_t i = 1; i < rl->n_keys; i++)
        if (memcmp(rl->keys[i - 1], rl->keys[i], 32) >= 0)
            abort();
    gosr_cert probe;
    memset(&probe, 0, sizeof probe);
    if (rl->n_serials) {
        memcpy(probe.issuer_pk, rl->serials[0].issuer_pk, 32);
        probe.serial = rl->serials[0].serial;
        if (!gosr_revocations_contains(rl, &probe))
            abort();
    }
    gosr_revocations_free(rl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_cert(data, size);
    check_list(data, size);
    return 0;
}
