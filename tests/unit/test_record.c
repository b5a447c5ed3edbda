/*
 * test_record.c - the WAL record codec: round trips with and without LZ4,
 * torn records at every byte offset, corruption detection, and the CRC-32C
 * against known check values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine/crc32c.h"
#include "wal/record.h"

static void test_crc32c_known_values(void **state)
{
    (void)state;
    /* the standard check value of CRC-32C */
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
    /* incremental equals one-shot, at unaligned splits */
    char buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (char)(i * 7);
    uint32_t whole = crc32c(0, buf, sizeof(buf));
    for (size_t split = 0; split < 20; split++)
        assert_int_equal(crc32c(crc32c(0, buf, split), buf + split, sizeof(buf) - split), whole);
}

static void make_cmds(struct buf *cmds, int n, size_t vlen)
{
    char val[4096];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < n; i++) {
        const char *argv[3] = {"SET", "key", val};
        size_t lens[3] = {3, 3, vlen};
        wal_append_command(cmds, 3, argv, lens);
    }
}

static void round_trip(int n, size_t vlen, bool expect_lz4)
{
    struct buf cmds = BUF_INIT, out = BUF_INIT, scratch = BUF_INIT;
    make_cmds(&cmds, n, vlen);
    wal_record_encode(&out, 42, 1700000000123ULL, 3, (uint32_t)n, cmds.ptr, cmds.len);
    assert_int_equal(((uint8_t)out.ptr[24] & 1) != 0, expect_lz4);
    struct wal_record rec;
    size_t used;
    const char *why = NULL;
    assert_int_equal(wal_record_decode((uint8_t *)out.ptr, out.len, &rec, &used, &scratch, &why),
                     WAL_DEC_OK);
    assert_int_equal(used, out.len);
    assert_int_equal(rec.lsn, 42);
    assert_int_equal(rec.time_ms, 1700000000123ULL);
    assert_int_equal(rec.db, 3);
    assert_int_equal(rec.ncmds, n);
    assert_int_equal(rec.cmds_len, cmds.len);
    assert_memory_equal(rec.cmds, cmds.ptr, cmds.len);
    size_t off = 0;
    const char *argv[4];
    size_t lens[4];
    for (int i = 0; i < n; i++) {
        assert_int_equal(wal_next_command(&rec, &off, argv, lens, 4), 3);
        assert_int_equal(lens[2], vlen);
        assert_memory_equal(argv[0], "SET", 3);
    }
    assert_int_equal(wal_next_command(&rec, &off, argv, lens, 4), 0);
    buf_release(&cmds);
    buf_release(&out);
    buf_release(&scratch);
}

static void test_round_trip(void **state)
{
    (void)state;
    round_trip(1, 5, false);   /* small: stored as is */
    round_trip(50, 100, true); /* repetitive and large: compressed */
    round_trip(1, 0, false);   /* empty value */
}

static void test_torn_at_every_offset(void **state)
{
    (void)state;
    struct buf cmds = BUF_INIT, out = BUF_INIT, scratch = BUF_INIT;
    make_cmds(&cmds, 2, 20);
    wal_record_encode(&out, 7, 1, 0, 2, cmds.ptr, cmds.len);
    for (size_t cut = 1; cut < out.len; cut++) {
        struct wal_record rec;
        size_t used;
        const char *why = NULL;
        int rc = wal_record_decode((uint8_t *)out.ptr, cut, &rec, &used, &scratch, &why);
        /* under 4 bytes no record fits: that is the end of a segment */
        assert_int_equal(rc, cut < 4 ? WAL_DEC_END : WAL_DEC_TORN);
    }
    struct wal_record rec;
    size_t used;
    const char *why;
    assert_int_equal(wal_record_decode((uint8_t *)out.ptr, 0, &rec, &used, &scratch, &why),
                     WAL_DEC_END);
    buf_release(&cmds);
    buf_release(&out);
    buf_release(&scratch);
}

static void test_corruption_detected(void **state)
{
    (void)state;
    struct buf cmds = BUF_INIT, out = BUF_INIT, scratch = BUF_INIT;
    make_cmds(&cmds, 1, 10);
    wal_record_encode(&out, 9, 1, 0, 1, cmds.ptr, cmds.len);
    /* flip each bit past the length word: every flip is caught */
    for (size_t i = 4; i < out.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            out.ptr[i] ^= (char)(1 << bit);
            struct wal_record rec;
            size_t used;
            const char *why = NULL;
            int rc = wal_record_decode((uint8_t *)out.ptr, out.len, &rec, &used, &scratch, &why);
            assert_int_equal(rc, WAL_DEC_CORRUPT);
            assert_non_null(why);
            out.ptr[i] ^= (char)(1 << bit);
        }
    }
    buf_release(&cmds);
    buf_release(&out);
    buf_release(&scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_values),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_torn_at_every_offset),
        cmocka_unit_test(test_corruption_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
