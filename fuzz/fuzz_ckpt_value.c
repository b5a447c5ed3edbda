/*
 * fuzz_ckpt_value.c - libFuzzer target for the checkpoint value decoder
 * (engine/serialize.h).
 *
 * Asserts: decoding arbitrary bytes never reads out of bounds (ASan) and
 * answers only 0, LODE_ECORRUPT or LODE_EVERSION; a value that decodes
 * re-encodes to bytes that decode to the same key, value (compared by its
 * digest, so every type is covered) and expiry.
 */
#include "engine/digest.h"
#include "engine/lode.h"
#include "engine/serialize.h"
#include "engine/types.h"
#include "engine/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    types_init();
    struct kv *kv = NULL;
    long long exp = 0;
    int rc = serialize_parse_kv(data, size, &kv, &exp);
    if (rc != 0) {
        if ((rc != LODE_ECORRUPT && rc != LODE_EVERSION) || kv) abort();
        return 0;
    }
    struct buf b = BUF_INIT;
    if (serialize_kv(&b, kv, exp) != 0) abort();
    struct kv *kv2 = NULL;
    long long exp2 = 0;
    if (serialize_parse_kv(b.ptr, b.len, &kv2, &exp2) != 0) abort();
    uint8_t d1[DIGEST_LEN], d2[DIGEST_LEN];
    if (digest_value(kv, d1) != 0 || digest_value(kv2, d2) != 0) abort();
    if (exp != exp2 || kv->type != kv2->type || kv->klen != kv2->klen ||
        memcmp(kv_key(kv), kv_key(kv2), kv->klen) != 0 || memcmp(d1, d2, DIGEST_LEN) != 0)
        abort();
    kv_free(kv);
    kv_free(kv2);
    buf_release(&b);
    return 0;
}
