/*
 * multi.h - transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH with
 * Redis 7.0's semantics and replies.
 *
 * A client in MULTI has its commands checked (unknown command, arity,
 * no-multi flag, refused writes) and queued by dispatch; a check that fails
 * flags the transaction and EXEC then answers EXECABORT. EXEC runs the
 * queue in one go on the main thread (nothing else runs in between), with
 * session.in_exec set, at one instant (the engine's now_ms is not moved).
 * Every queued command's effects collect in the engine's effects buffer and
 * the dispatcher logs them once, after EXEC, as one WAL record: a
 * transaction is all or nothing on disk too (docs/wal-format.md).
 *
 * WATCH hangs off the engine's on_key_changed and on_db_reset hooks
 * (chained in front of whatever the hooks did before, see multi_init):
 * any change to a watched key (value, TTL, deletion, expiry, FLUSHDB,
 * FLUSHALL, SWAPDB) flags the watching clients, and their next EXEC
 * answers a null array. A key already expired when WATCH ran only counts
 * as changed when it comes back to life, as in Redis 7.0.
 *
 * Per-client state is allocated on the first MULTI or WATCH and freed when
 * neither is left (EXEC, DISCARD, UNWATCH, RESET, disconnect).
 *
 * Thread: main. Never blocks, never touches disk.
 */
#ifndef LODE_MULTI_H
#define LODE_MULTI_H

#include "engine/cmd.h"

#include <stdbool.h>
#include <stddef.h>

struct client;

/* Chains the watch hooks onto srv.eng's on_key_changed / on_db_reset (the
 * previous hooks still run, first). Call once, after persist_open, so that
 * replaying the WAL does not pay for it. */
void multi_init(void);

/* Whether c is between MULTI and EXEC/DISCARD. */
bool multi_active(const struct client *c);
/* Whether cmd runs at once inside MULTI instead of being queued (EXEC,
 * DISCARD, MULTI, WATCH, QUIT, RESET, as in Redis). */
bool multi_runs_now(const struct cmd_def *cmd);
/* Queues a copy of argv for EXEC (argv borrowed). Replies nothing: the
 * caller answers +QUEUED. A flagged transaction stores nothing. Returns
 * false, queuing nothing, when the transaction would exceed 512 MiB of
 * arguments (its effects must fit one WAL record): the caller refuses the
 * command, which flags the transaction. */
bool multi_queue(struct client *c, const struct cmd_def *cmd, int argc, const struct slice *argv);
/* A command was refused while c was in MULTI: EXEC will answer EXECABORT.
 * No-op outside MULTI. */
void multi_flag_error(struct client *c);
/* Whether a queued command is a write (EXEC is then refused as a write). */
bool multi_has_writes(const struct client *c);
/* Whether c's transaction queues a write or a command that may replicate
 * (PUBLISH, EVAL, ...): CLIENT PAUSE WRITE holds its EXEC. */
bool multi_may_replicate(const struct client *c);
/* EXEC itself was refused: discards the transaction and replies
 * "EXECABORT Transaction discarded because of: <why>" (why without '-'). */
void multi_abort_exec(struct client *c, struct reply *r, const char *why);
/* Queued commands (CLIENT LIST multi=), -1 outside MULTI. */
long long multi_queued(const struct client *c);
/* Bytes of queued arguments (CLIENT LIST multi-mem=). */
size_t multi_mem(const struct client *c);
/* Whether a watched key changed (CLIENT LIST flag d). */
bool multi_dirty(const struct client *c);
/* Discards the transaction, forgets every watched key and frees the state
 * (DISCARD, RESET, disconnect). */
void multi_client_reset(struct client *c);

#endif
