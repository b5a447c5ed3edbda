/*
 * record.h - the WAL record codec. Normative layout: docs/wal-format.md.
 *
 * A record (all integers little-endian):
 *   off  size  field
 *   0    4     total length, header included (>= 32); 0 marks the end of
 *              the written part of a zero-filled segment
 *   4    4     CRC-32C of bytes 8 .. total length
 *   8    8     LSN (dense: each record's is the previous one's + 1)
 *   16   8     wall-clock time, ms since the epoch
 *   24   2     flags: bit 0 = payload LZ4-compressed; others must be 0
 *   26   2     reserved, must be 0
 *   28   4     payload length before compression
 *   32   ...   payload: db index (u32 LE), command count (u32 LE), then that
 *              many commands, each a RESP array of bulk strings
 *
 * The decoder trusts nothing: lengths are bounded, the CRC is checked before
 * any payload byte is interpreted, unknown flags and non-zero reserved bits
 * are refused, and a record cut short is reported as torn, not corrupt.
 *
 * Thread: any. Allocates only through the buffers it is given.
 */
#ifndef LODE_WAL_RECORD_H
#define LODE_WAL_RECORD_H

#include "engine/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAL_REC_HEADER  32
#define WAL_FLAG_LZ4    0x0001u
#define WAL_FLAGS_KNOWN WAL_FLAG_LZ4
/* Largest payload a record may hold (a single command can carry a 512 MB
 * value; a transaction several). */
#define WAL_MAX_PAYLOAD (1024ULL * 1024 * 1024)
/* Payloads at least this large are offered to LZ4. */
#define WAL_LZ4_THRESHOLD 1024

struct wal_record {
    uint64_t lsn;
    uint64_t time_ms;
    uint32_t db;
    uint32_t ncmds;
    const char *cmds; /* the commands (RESP arrays), borrowed */
    size_t cmds_len;
};

/* Appends one record to out. cmds holds ncmds RESP arrays (the caller
 * built them with wal_append_command). Compresses when that saves space
 * and the payload is at least WAL_LZ4_THRESHOLD bytes. */
void wal_record_encode(struct buf *out, uint64_t lsn, uint64_t time_ms, uint32_t db, uint32_t ncmds,
                       const char *cmds, size_t cmds_len);

/* Appends argv as a RESP array of bulk strings. */
void wal_append_command(struct buf *cmds, int argc, const char *const *argv, const size_t *lens);

enum wal_decode_status {
    WAL_DEC_OK = 1,       /* a record was decoded */
    WAL_DEC_END = 0,      /* zero length word: nothing written here yet */
    WAL_DEC_TORN = -1,    /* the bytes end inside a record */
    WAL_DEC_CORRUPT = -2, /* checksum, length, flags or payload invalid */
};

/* Decodes the record at p (avail bytes). On WAL_DEC_OK fills rec and
 * *used; rec->cmds points into p or into scratch (when decompressed),
 * valid until either changes. On WAL_DEC_CORRUPT, *why names the reason. */
int wal_record_decode(const uint8_t *p, size_t avail, struct wal_record *rec, size_t *used,
                      struct buf *scratch, const char **why);

/* Walks the commands of a decoded record: fills argv/lens for the command
 * at *off and advances *off. Returns argc; 0 at the end; -1 when the
 * command is malformed. When argc > cap nothing is filled, *off stays, and
 * the caller retries with room for the returned argc. */
int wal_next_command(const struct wal_record *rec, size_t *off, const char **argv, size_t *lens,
                     int cap);

#endif
