/*
 * fuzz_wal_record.c - libFuzzer target for the WAL record decoder.
 *
 * Asserts: decoding arbitrary bytes never reads out of bounds (ASan);
 * a record that decodes has commands that all walk cleanly; and
 * re-encoding a decoded record yields bytes that decode to the same
 * record (round trip).
 */
#include "engine/buf.h"
#include "wal/record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf scratch = BUF_INIT, again = BUF_INIT, scratch2 = BUF_INIT;
    size_t off = 0;
    while (off < size) {
        struct wal_record rec;
        size_t used = 0;
        const char *why = NULL;
        int rc = wal_record_decode(data + off, size - off, &rec, &used, &scratch, &why);
        if (rc == WAL_DEC_CORRUPT && !why) abort();
        if (rc != WAL_DEC_OK) break;
        if (used < WAL_REC_HEADER || used > size - off) abort();
        again.len = 0;
        wal_record_encode(&again, rec.lsn, rec.time_ms, rec.db, rec.ncmds, rec.cmds, rec.cmds_len);
        struct wal_record rec2;
        size_t used2;
        if (wal_record_decode((const uint8_t *)again.ptr, again.len, &rec2, &used2, &scratch2,
                              &why) != WAL_DEC_OK)
            abort();
        if (rec2.lsn != rec.lsn || rec2.db != rec.db || rec2.ncmds != rec.ncmds ||
            rec2.cmds_len != rec.cmds_len || memcmp(rec2.cmds, rec.cmds, rec.cmds_len) != 0)
            abort();
        off += used;
    }
    buf_release(&scratch);
    buf_release(&scratch2);
    buf_release(&again);
    return 0;
}
