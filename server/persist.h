/*
 * persist.h - the server's side of durability: opens the WAL at start-up
 * and replays it into the engine, logs each command's effects as one
 * record, holds replies until what they depend on is durable (durability
 * always), refuses writes after a WAL failure, and owns the data
 * directory's lock.
 *
 * Thread: main (the WAL's writer thread only calls persist's notifier).
 */
#ifndef LODE_PERSIST_H
#define LODE_PERSIST_H

#include "engine/buf.h"

#include <stdbool.h>
#include <stdint.h>

struct client;

/* A held reply: its end offset in the client's output buffer and the LSN
 * that must be durable before it leaves. */
struct hold_mark {
    size_t end;
    uint64_t lsn;
};

/* Locks the data directory, opens the WAL and replays it. Returns 0, or -1
 * after logging why the server cannot start. */
int persist_open(void);
/* Final seal and sync; releases the lock. */
void persist_close(void);
/* After a command (or a cron step) ran: logs the engine's effects, if any,
 * as one WAL record. */
void persist_log_effects(void);
/* Called once per loop turn before sleeping: hands the batch to the writer
 * and tells it whether the turn appended records (wal_loop_busy). */
void persist_before_sleep(void);
/* `always`: the WAL writer holds a group open while the loop reports turns
 * that append records (wal.h, wal_loop_busy), so the loop may sleep only
 * once its last report was quiet and nothing was appended since. */
bool persist_may_sleep(void);
/* The loop polled without sleeping and found nothing, and nothing was
 * appended since the last report: reports a quiet turn at once. */
void persist_found_nothing(void);
/* The reply the client's last command appended from offset start must wait
 * for the WAL (durability always, writes in flight): remember it. */
void persist_hold_reply(struct client *c, size_t start);
/* Bytes of c->out that may be sent now. */
size_t persist_sendable(const struct client *c);
/* The WAL's sticky failure (0 or -errno); writes are refused after one. */
int persist_failed(void);
/* Text for a refused write ("MISCONF ..."). */
const char *persist_error_reply(void);
/* Applies the durability setting (CONFIG SET durability). */
void persist_set_durability(int mode);
/* wal-spare-segments: how many trimmed WAL segments are kept for reuse. */
void persist_set_wal_spares(long long n);
/* wal-prefill: zeros written ahead of the WAL writer in fresh segments
 * (`always`), from the next segment on. */
void persist_set_wal_prefill(bool on);
/* Checkpoints (docs/architecture.md, "Checkpoints"). A checkpoint forks:
 * the child writes the keys changed since the last one to DIR/checkpoint
 * at LSN L = the last LSN at fork time; when it succeeds the WAL segments
 * at or below L are removed. */
/* Starts a background checkpoint. Returns 0 (started, or deferred to the
 * end of this loop turn when the current command's effects are not logged
 * yet), -EBUSY when one is running, or -errno when fork fails. */
int persist_bgsave(void);
/* Whether a checkpoint child is running. */
bool persist_bgsave_in_progress(void);
/* Asks for a checkpoint as soon as the running one ends (BGSAVE SCHEDULE). */
void persist_schedule_bgsave(void);
/* A checkpoint in the foreground (SAVE): forks and waits. 0, -EBUSY (one
 * runs), -EAGAIN (this command's transaction has unlogged writes) or an
 * error. */
int persist_save(void);
/* Unix seconds of the last successful checkpoint (start time if none). */
long long persist_lastsave(void);
/* Cron: starts a checkpoint when the WAL grew or time passed. */
void persist_cron(void);
/* At shutdown: stops a running child and writes a final checkpoint. */
void persist_final_checkpoint(void);
/* Keys (and whole dbs) changed since the last successful checkpoint. */
uint64_t persist_changes_since_save(void);
/* INFO persistence section. */
void persist_info(struct buf *b);
/* A client is going away: forget its held replies. */
void persist_client_gone(struct client *c);

/* DEBUG CHECKPOINT-EPOCH: the change-tracking epoch now, after setting it to
 * `set` when set > the current one (tests of the 16-bit wrap; a lower value
 * could make a kv claim a dirty set it is not in, so it is refused: -1). */
long persist_debug_epoch(long set);

#endif
