/*
 * replay.h - applies WAL records to an engine: start-up recovery, the
 * inspector's offline view and point-in-time restore all replay the same
 * way. Each command runs through the engine's ordinary handlers with the
 * record's time as the current time, so expiry decisions repeat exactly;
 * effects collection is off so nothing is logged again.
 *
 * Thread: the engine's. Allocates argument arrays (kept between calls).
 */
#ifndef LODE_WAL_REPLAY_H
#define LODE_WAL_REPLAY_H

#include "engine/buf.h"
#include "engine/db.h"
#include "wal/record.h"

#include <stdint.h>

struct cmd_def;
struct reply;

struct replay_stats {
    /* Applies a logged write of the server layer (FUNCTION LOAD, DELETE,
     * FLUSH, RESTORE: the engine cannot run them), its reply to r; returns
     * 0, or -1 when cmd is not one it knows. NULL (replay_stats_init):
     * such commands are counted and skipped, as the keyspace does not
     * depend on them (tools). Set by the caller. */
    int (*server_cmd)(const struct cmd_def *cmd, int argc, const struct slice *argv,
                      struct reply *r);
    uint64_t records;
    uint64_t commands;
    uint64_t failed;       /* commands whose replay answered an error */
    struct buf last_error; /* owned: "LSN n: cmd answered -ERR ..." of the last failure */
};

void replay_stats_init(struct replay_stats *st);
void replay_stats_release(struct replay_stats *st);

/* Applies one record. Returns 0, or LODE_ECORRUPT when a command is
 * malformed, unknown, or not an engine command (the log is not ours).
 * A command that runs but answers an error counts in st->failed. */
int wal_replay_record(struct engine *eng, const struct wal_record *rec, struct replay_stats *st);

#endif
