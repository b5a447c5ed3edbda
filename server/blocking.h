/*
 * blocking.h - clients blocked on keys (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
 * BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP): who waits for which key, in
 * which order, until when, and serving them when a key becomes ready.
 *
 * Protocol with the engine (cmd.h, "blocking commands"): a blocking
 * handler that finds nothing to pop calls ctx_block (keys, the value type
 * it pops, an absolute deadline) and replies nothing; dispatch then calls
 * blocking_block. The engine reports keys that may serve someone through
 * eng->on_key_ready (db_signal_ready: a push, a new list or sorted set
 * under a key, RENAME/MOVE/COPY onto it, SWAPDB for a whole db), which
 * lands in blocking_signal_key: the key is queued as ready when some
 * client waits for it.
 *
 * Serving (blocking_handle_ready, run after each top-level command, like
 * Redis's handleClientsBlockedOnKeys): for each ready key, the clients
 * blocked on it are tried in the order they blocked (FIFO). A client is
 * tried only while the key holds a value of the type its command pops;
 * otherwise it keeps waiting (a key that became a string does not wake a
 * BLPOP, as in Redis 7.0). Trying a client re-runs its command with
 * ctx->serve_key = the ready key (dispatch_serve): the handler pops, replies
 * and emits the deterministic form of what it did (LPOP key, LMOVE ...),
 * which becomes its own WAL record, and the reply is held until durable
 * like any write's. A served command may make other keys ready (BLMOVE
 * pushes); the loop runs until no key is ready. An unblocked client's
 * pipelined commands run after the loop.
 *
 * Timeouts: each blocked client has a libev timer; at its deadline the
 * client gets the null array (Redis's timeout reply for every blocking
 * list and sorted-set command, RESP2 "*-1"). CLIENT UNBLOCK ends the wait
 * with that reply (TIMEOUT) or "-UNBLOCKED client unblocked via CLIENT
 * UNBLOCK" (ERROR). A blocked client that disconnects is forgotten.
 *
 * Busy scripts: while a script runs (and lets the loop turn to answer
 * BUSY), nothing is served and no timeout is answered; both happen after
 * the script's command, ready keys first, as in Redis.
 *
 * Thread: main. Allocates per blocked client and per waited key.
 */
#ifndef LODE_BLOCKING_H
#define LODE_BLOCKING_H

#include "engine/cmd.h"

#include <stdbool.h>

struct client;

/* Installs the engine hook (eng->on_key_ready). Call once at start-up. */
void blocking_init(void);

/* Blocks c (whose current command, still in c->argv, asked for it with
 * ctx_block) on the keys req names, in c's selected db. The client's
 * input is not processed until it is served, times out or is unblocked. */
void blocking_block(struct client *c, const struct cmd_block *req);

/* Whether c is blocked. */
bool blocking_is_blocked(const struct client *c);

/* The engine's on_key_ready hook: queues <key, klen> of db (NULL: every
 * waited key of db) when some client waits for it. */
void blocking_signal_key(struct engine *eng, struct db *db, const char *key, size_t klen);

/* Serves the clients waiting for ready keys, then runs the pipelined input
 * of the clients that were unblocked. Called after every top-level command
 * (not inside one); re-entrant calls return at once. */
void blocking_handle_ready(void);

/* CLIENT UNBLOCK: ends c's wait with the timeout reply, or the UNBLOCKED
 * error when as_error. Returns false when c is not blocked. */
bool blocking_unblock(struct client *c, bool as_error);

/* c is going away: forgets its wait (called by client_free). */
void blocking_client_gone(struct client *c);

/* Number of blocked clients (INFO blocked_clients). */
long long blocking_count(void);

#endif
