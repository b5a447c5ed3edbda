/*
 * common.h - shared by lode-inspect and lode-recover: argument helpers,
 * quoting, and loading a data directory's state into an engine by
 * replaying its WAL (read-only).
 */
#ifndef LODE_TOOLS_COMMON_H
#define LODE_TOOLS_COMMON_H

#include "engine/buf.h"
#include "engine/db.h"
#include "wal/reader.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cmd_def;
struct reply;

/* Appends s quoted like redis-cli shows strings ("a\x00b"). */
void tool_repr(struct buf *b, const char *s, size_t n);
/* Loads DIR/checkpoint (when present) and replays the records of DIR/wal
 * above its LSN into eng (initialised with ndbs databases), up to and
 * including to_lsn (0: all). Prints the reader's end state to stderr when
 * verbose. Returns the reader status end code, or -1 when the log cannot be
 * read at all (message printed). */
int tool_load(const char *dir, struct engine *eng, uint64_t to_lsn, bool verbose,
              struct wal_reader_status *out);
/* How tool_load_with hands over the FUNCTION libraries (the engine does
 * not hold them). */
struct tool_functions {
    /* The checkpoint's "functions" payload (docs/functions-format.md);
     * not called when the checkpoint has none. Returns 0, or -1 with the
     * reason in err: the load then fails. */
    int (*load)(const char *p, size_t n, struct buf *err);
    /* A logged FUNCTION LOAD / DELETE / FLUSH / RESTORE above the
     * checkpoint, its reply (or error) written to r. Returns 0. */
    int (*replay)(const struct cmd_def *cmd, int argc, const struct slice *argv, struct reply *r);
};
/* tool_load, also giving the libraries to fn (NULL: they are skipped, as
 * tool_load does). */
int tool_load_with(const char *dir, struct engine *eng, uint64_t to_lsn, bool verbose,
                   struct wal_reader_status *out, const struct tool_functions *fn);
/* Point lookup without loading the dataset: answers from the checkpoint
 * when no WAL record above it can have touched (db, key). Returns 1 with
 * *out (owned, kv_free) and *expire_ms, 0 when absent, -1 when it can't
 * decide (no checkpoint, or the tail may touch the key): load instead. */
int tool_point_get(const char *dir, int db, const char *key, size_t klen, struct kv **out,
                   long long *expire_ms);
/* Parses a time for --to-time: Unix ms, or "YYYY-MM-DDTHH:MM:SS[.mmm]Z". */
bool tool_parse_time(const char *s, long long *ms);
/* The LSN of the checkpoint in ckdir (DIR/checkpoint), 0 if there is none
 * or it can't be read: where a trimmed WAL may start (up to it + 1). */
uint64_t tool_checkpoint_lsn(const char *ckdir);
/* Opens a reader of DIR/wal starting from DIR's checkpoint (after one, the
 * segments below it are trimmed). 0, or -1 with the reason printed. */
int tool_open_wal(const char *dir, struct wal_reader **out);
/* "YYYY-MM-DD HH:MM:SS.mmm UTC" */
void tool_fmt_time(long long ms, char *out, size_t cap);

#endif
