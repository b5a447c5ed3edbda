/*
 * reader.h - a read-only walk over a data directory's WAL, for recovery
 * tools and the inspector. Never writes, never locks: it may run while a
 * server appends to the same directory (a record being written then reads
 * as a torn tail, and the walk ends there).
 *
 * Thread: any (one reader per thread). Allocates.
 */
#ifndef LODE_WAL_READER_H
#define LODE_WAL_READER_H

#include "engine/buf.h"
#include "wal/record.h"

#include <stdbool.h>
#include <stdint.h>

enum wal_reader_end {
    WAL_END_CLEAN = 0,   /* every segment read to its written end */
    WAL_END_TORN = 1,    /* the last segment ends in a torn or corrupt record */
    WAL_END_CORRUPT = 2, /* corruption before the last segment's tail */
};

struct wal_reader_status {
    int end;                      /* enum wal_reader_end, meaningful at the end */
    char segment[4096];           /* the segment being read, or where it ended */
    uint64_t offset;              /* while reading: end of the last record read in
                                   * `segment`; at the end: offset of the bad record
                                   * or of the written end */
    uint64_t bad_lsn;             /* LSN expected at the bad record */
    const char *why;              /* static text, NULL when clean */
    uint64_t first_lsn, last_lsn; /* of the records read (0 when none) */
    uint64_t records, segments, bytes;
};

struct wal_reader;

/* Opens the WAL directory dir (DIR/wal). Returns 0 or a negative code with
 * the reason in err. An empty or missing directory reads as no records. */
int wal_reader_open(struct wal_reader **out, const char *dir, struct buf *err);
/* The next record: 1 with rec filled (borrowed until the next call), 0 at
 * the end of the log (see the status for how it ended). */
int wal_reader_next(struct wal_reader *r, struct wal_record *rec);
/* The LSN of the checkpoint the walk starts from (before the first
 * wal_reader_next): the first segment may then start at any LSN up to
 * base + 1 instead of exactly 1. Records at or below base are still
 * returned; callers skip them. */
void wal_reader_set_base(struct wal_reader *r, uint64_t base);
const struct wal_reader_status *wal_reader_status(const struct wal_reader *r);
/* First LSN of every segment, sorted (borrowed). */
const uint64_t *wal_reader_segments(const struct wal_reader *r, size_t *n);
void wal_reader_close(struct wal_reader *r);

#endif
