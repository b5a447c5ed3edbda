/*
 * fuzz_ckpt_value.c - libFuzzer target for the checkpoint value decoder
 * (engine/serialize.h).
 *
 * Asserts: decoding arbitrary bytes never reads out of bounds (ASan) and
 * answers only 0, LODE_ECORRUPT or LODE_EVERSION; a value that decodes
 * re-encodes to bytes that decode to the same key, value and expiry.
 */
#include "engine/lode.h"
#include "engine/serialize.h"
#include "engine/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
    char t1[UTIL_LLSTR_SIZE], t2[UTIL_LLSTR_SIZE];
    size_t l1, l2;
    const char *s1 = kv_str(kv, t1, &l1), *s2 = kv_str(kv2, t2, &l2);
    if (exp != exp2 || kv->klen != kv2->klen || memcmp(kv_key(kv), kv_key(kv2), kv->klen) != 0 ||
        l1 != l2 || memcmp(s1, s2, l1) != 0)
        abort();
    kv_free(kv);
    kv_free(kv2);
    buf_release(&b);
    return 0;
}
