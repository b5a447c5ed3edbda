/*
 * object.c - key entries and string values (see object.h).
 */
#include "engine/object.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <string.h>

static const struct obj_ops *type_ops[OBJ_NTYPES];

void obj_register(int type, const struct obj_ops *ops)
{
    lode_assert(type > OBJ_STRING && type < OBJ_NTYPES);
    type_ops[type] = ops;
}

const struct obj_ops *obj_get_ops(int type)
{
    return type > OBJ_STRING && type < OBJ_NTYPES ? type_ops[type] : NULL;
}

int obj_type_of_ser(int ser_type)
{
    for (int t = OBJ_STRING + 1; t < OBJ_NTYPES; t++)
        if (type_ops[t] && type_ops[t]->ser_type == ser_type) return t;
    return -1;
}

static struct kv *kv_alloc(const char *key, size_t klen, size_t extra)
{
    lode_assert(klen <= UINT32_MAX);
    struct kv *kv = lode_malloc(offsetof(struct kv, data) + klen + extra);
    kv->node.next = NULL;
    kv->klen = (uint32_t)klen;
    kv->lru = 0;
    kv->epoch = 0;
    kv->flags = 0;
    memcpy(kv->data, key, klen);
    return kv;
}

struct kv *kv_new_int(const char *key, size_t klen, long long v)
{
    struct kv *kv = kv_alloc(key, klen, 0);
    kv->type = OBJ_STRING;
    kv->enc = ENC_INT;
    kv->v.i = v;
    return kv;
}

static struct rawstr *rawstr_new(const char *p, size_t n, size_t cap)
{
    if (cap < n) cap = n;
    struct rawstr *s = lode_malloc(sizeof(struct rawstr) + cap);
    s->len = n;
    if (n) memcpy(s->data, p, n);
    return s;
}

struct kv *kv_new_str(const char *key, size_t klen, const char *val, size_t vlen)
{
    long long iv;
    if (vlen <= 20 && util_str2ll(val, vlen, &iv)) return kv_new_int(key, klen, iv);
    return kv_new_bytes(key, klen, val, vlen);
}

struct kv *kv_new_bytes(const char *key, size_t klen, const char *val, size_t vlen)
{
    struct kv *kv;
    if (vlen <= OBJ_EMBSTR_MAX) {
        kv = kv_alloc(key, klen, vlen);
        kv->enc = ENC_EMBSTR;
        kv->v.i = (long long)vlen;
        memcpy(kv->data + klen, val, vlen);
    } else {
        kv = kv_alloc(key, klen, 0);
        kv->enc = ENC_RAW;
        kv->v.ptr = rawstr_new(val, vlen, vlen);
    }
    kv->type = OBJ_STRING;
    return kv;
}

struct kv *kv_new_obj(const char *key, size_t klen, int type, int enc, void *ptr)
{
    struct kv *kv = kv_alloc(key, klen, 0);
    kv->type = (uint8_t)type;
    kv->enc = (uint8_t)enc;
    kv->v.ptr = ptr;
    return kv;
}

void kv_free(struct kv *kv)
{
    if (!kv) return;
    if (kv->type == OBJ_STRING) {
        if (kv->enc == ENC_RAW) lode_free(kv->v.ptr);
    } else if (type_ops[kv->type]) {
        type_ops[kv->type]->free(kv->v.ptr, kv->enc);
    }
    lode_free(kv);
}

struct kv *kv_dup(const struct kv *kv, const char *key, size_t klen)
{
    if (kv->type == OBJ_STRING) {
        if (kv->enc == ENC_INT) return kv_new_int(key, klen, kv->v.i);
        if (kv->enc == ENC_EMBSTR) {
            struct kv *n = kv_alloc(key, klen, (size_t)kv->v.i);
            n->type = OBJ_STRING;
            n->enc = ENC_EMBSTR;
            n->v.i = kv->v.i;
            memcpy(n->data + klen, kv->data + kv->klen, (size_t)kv->v.i);
            return n;
        }
        const struct rawstr *s = kv->v.ptr;
        struct kv *n = kv_alloc(key, klen, 0);
        n->type = OBJ_STRING;
        n->enc = ENC_RAW;
        n->v.ptr = rawstr_new(s->data, s->len, s->len);
        return n;
    }
    lode_assert(type_ops[kv->type]);
    return kv_new_obj(key, klen, kv->type, kv->enc, type_ops[kv->type]->dup(kv->v.ptr, kv->enc));
}

struct kv *kv_rekey(struct kv *kv, const char *key, size_t klen)
{
    /* an embedded value lives inside the header: copy it with the key */
    size_t extra = kv->type == OBJ_STRING && kv->enc == ENC_EMBSTR ? (size_t)kv->v.i : 0;
    struct kv *n = kv_alloc(key, klen, extra);
    n->type = kv->type;
    n->enc = kv->enc;
    n->lru = kv->lru;
    n->v = kv->v;
    if (extra) memcpy(n->data + klen, kv->data + kv->klen, extra);
    /* the value (if separately allocated) now belongs to n: free the header only */
    lode_free(kv);
    return n;
}

const char *kv_str(const struct kv *kv, char *tmp, size_t *len)
{
    switch (kv->enc) {
    case ENC_INT: *len = (size_t)util_ll2str(tmp, kv->v.i); return tmp;
    case ENC_EMBSTR: *len = (size_t)kv->v.i; return kv->data + kv->klen;
    default: {
        const struct rawstr *s = kv->v.ptr;
        *len = s->len;
        return s->data;
    }
    }
}

size_t kv_strlen(const struct kv *kv)
{
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    kv_str(kv, tmp, &n);
    return n;
}

bool kv_str_ll(const struct kv *kv, long long *out)
{
    if (kv->enc == ENC_INT) {
        *out = kv->v.i;
        return true;
    }
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    const char *p = kv_str(kv, tmp, &n);
    return util_str2ll(p, n, out);
}

struct rawstr *kv_raw_reserve(struct kv *kv, size_t cap)
{
    lode_assert(kv->enc == ENC_RAW);
    struct rawstr *s = kv->v.ptr;
    size_t have = lode_usable(s) - sizeof(struct rawstr);
    if (have >= cap) return s;
    /* grow geometrically so that repeated APPENDs are amortised O(1) */
    size_t want = cap < (1u << 20) ? cap * 2 : cap + (1u << 20);
    s = lode_realloc(s, sizeof(struct rawstr) + want);
    kv->v.ptr = s;
    return s;
}

struct kv *kv_to_raw(const struct kv *kv, size_t cap)
{
    lode_assert(kv->type == OBJ_STRING && kv->enc != ENC_RAW);
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    const char *p = kv_str(kv, tmp, &n);
    struct kv *nkv = kv_alloc(kv->data, kv->klen, 0);
    nkv->type = OBJ_STRING;
    nkv->enc = ENC_RAW;
    nkv->lru = kv->lru;
    nkv->flags = kv->flags;
    nkv->v.ptr = rawstr_new(p, n, cap);
    return nkv;
}

size_t kv_mem_usage(const struct kv *kv)
{
    size_t n = lode_usable(kv);
    if (kv->type == OBJ_STRING) {
        if (kv->enc == ENC_RAW) n += lode_usable(kv->v.ptr);
    } else if (type_ops[kv->type] && type_ops[kv->type]->mem) {
        n += type_ops[kv->type]->mem(kv->v.ptr, kv->enc);
    }
    return n;
}

const char *obj_type_name(int type)
{
    static const char *names[] = {"string", "list", "set", "zset", "hash", "stream"};
    return type >= 0 && type < OBJ_NTYPES ? names[type] : "unknown";
}

const char *kv_encoding_name(const struct kv *kv)
{
    if (kv->type == OBJ_STRING) {
        switch (kv->enc) {
        case ENC_INT: return "int";
        case ENC_EMBSTR: return "embstr";
        default: return "raw";
        }
    }
    if (type_ops[kv->type] && type_ops[kv->type]->enc_name)
        return type_ops[kv->type]->enc_name(kv->enc);
    return "unknown";
}
