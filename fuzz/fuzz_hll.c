/*
 * fuzz_hll.c - libFuzzer target for the HyperLogLog decoder (engine/t_hll.h)
 * and the PF* commands over arbitrary string values.
 *
 * The input is stored as a string key, then read and written by PFCOUNT,
 * PFADD, PFMERGE and PFDEBUG through the command table. Asserts: no
 * out-of-bounds access (ASan); hll_validate, hll_histogram and
 * hll_merge_regs agree on whether the body is corrupt; every reply is the
 * one the value's class calls for: "not a valid HyperLogLog" (WRONGTYPE)
 * when hll_kind refuses the header, "INVALIDOBJ Corrupted HLL object
 * detected" when the body is corrupt, a result otherwise; and every value a
 * successful write leaves behind is a valid HyperLogLog.
 */
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/t_hll.h"
#include "engine/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOT_HLL "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"
#define CORRUPT "-INVALIDOBJ Corrupted HLL object detected\r\n"

static struct engine eng;
static struct session sess;
static struct buf out;

static const char *run(int argc, const char *const *argv, const size_t *lens)
{
    struct slice a[8];
    for (int i = 0; i < argc; i++) a[i] = (struct slice){argv[i], lens ? lens[i] : strlen(argv[i])};
    out.len = 0;
    struct reply r;
    reply_init(&r, &out, 2);
    const struct cmd_def *c = cmd_resolve(argc, a, &r);
    if (!c || !c->fn) abort();
    struct cmd_ctx ctx = {
        .eng = &eng, .sess = &sess, .db = &eng.dbs[0], .argc = argc, .argv = a, .r = &r, .cmd = c};
    c->fn(&ctx);
    buf_append(&out, "", 1);
    effects_reset(&eng.eff);
    return out.ptr;
}

#define RUN(...)                                                                                   \
    run(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *),                              \
        (const char *[]){__VA_ARGS__}, NULL)

/* The value of key, which must be a valid HyperLogLog. */
static void expect_valid(const char *key)
{
    struct kv *kv = db_find(&eng.dbs[0], key, strlen(key));
    if (!kv) abort();
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    const uint8_t *p = (const uint8_t *)kv_str(kv, tmp, &n);
    if (!hll_kind(p, n) || hll_validate(p, n) != 0) abort();
}

/* A reply of the class the value calls for: 0 error-free, else the
 * expected error. */
static void expect(const char *got, int cls, char result_kind)
{
    if (cls == 1   ? strcmp(got, NOT_HLL) != 0
        : cls == 2 ? strcmp(got, CORRUPT) != 0
                   : got[0] != result_kind)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        cmd_table_init();
        engine_init(&eng, 1);
        buf_init(&out);
        ready = true;
    }
    sess.db = 0;
    sess.resp = 2;
    eng.now_ms = 1;
    db_flush(&eng, &eng.dbs[0]);
    /* a small limit so that PFADD crosses the sparse/dense line too */
    eng.lim.hll_sparse_max_bytes = size % 2 ? 3000 : 32;

    int kind = hll_kind(data, size);
    int cls = 0; /* 0 valid, 1 not an HLL, 2 corrupt */
    if (!kind) {
        cls = 1;
    } else {
        uint32_t histo[HLL_RANK_MAX + 1] = {0};
        uint8_t *regs = calloc(1, HLL_REGISTERS);
        int v = hll_validate(data, size);
        if (v != 0 && v != LODE_ECORRUPT) abort();
        if (hll_histogram(data, size, histo) != v || hll_merge_regs(data, size, regs) != v) abort();
        if (v == 0) {
            uint32_t sum = 0;
            for (int i = 0; i <= HLL_RANK_MAX; i++) sum += histo[i];
            if (sum != HLL_REGISTERS || hll_estimate(histo) != hll_estimate_regs(regs)) abort();
        }
        free(regs);
        cls = v == 0 ? 0 : 2;
    }

    const char *set[3] = {"SET", "k", (const char *)data};
    size_t setlen[3] = {3, 1, size};
    if (strcmp(run(3, set, setlen), "+OK\r\n") != 0) abort();
    RUN("PFADD", "other", "x", "y");

    expect(RUN("PFCOUNT", "k"), cls, ':');
    expect(RUN("PFCOUNT", "other", "k", "missing"), cls, ':');
    expect(RUN("PFDEBUG", "ENCODING", "k"), cls == 2 ? 0 : cls, '+');
    const char *dec = RUN("PFDEBUG", "DECODE", "k");
    if (kind == HLL_DENSE && cls != 1)
        expect(dec, 0, '-');
    else
        expect(dec, cls, '+');
    expect(RUN("PFMERGE", "dst", "other", "k"), cls, '+');
    if (cls == 0) expect_valid("dst");
    expect(RUN("PFADD", "k", "a", "b", "c", "d", "e"), cls, ':');
    if (cls == 0) expect_valid("k");
    /* GETREG reads a dense value's registers as they are, as Redis does */
    expect(RUN("PFDEBUG", "GETREG", "k"), cls == 2 && kind == HLL_DENSE ? 0 : cls, '*');
    if (cls == 0) {
        expect_valid("k");
        expect(RUN("PFCOUNT", "k", "dst"), 0, ':');
    }
    return 0;
}
