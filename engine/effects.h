/*
 * effects.h - the deterministic form of what commands changed: the single
 * write path's output (DESIGN.md "The write path").
 *
 * While a command runs, every change is described here as commands that,
 * replayed in order against the state before it, reproduce the state after
 * it: the command itself when the table says `verbatim`, a rewritten form
 * when it says `rewrite` (relative expiry as PEXPIREAT, INCRBYFLOAT as
 * SET ... KEEPTTL, ...), and a DEL for every key expiry removed on the way.
 * A change in another database is preceded by SELECT. The server turns
 * each command's effects into one atomic WAL record.
 *
 * Thread: main. Allocates through the buffer; never blocks.
 */
#ifndef LODE_EFFECTS_H
#define LODE_EFFECTS_H

#include "engine/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct slice;

struct effects {
    struct buf cmds; /* RESP arrays of bulk strings */
    uint32_t n;      /* commands in cmds */
    int start_db;    /* db the first command applies to */
    int cur_db;      /* db of the last command appended */
    bool enabled;    /* false while replaying: replay must not log again */
};

void effects_init(struct effects *e);
void effects_release(struct effects *e);
/* Forgets what was collected (after the server logged it). */
void effects_reset(struct effects *e);
/* Appends one command that applies to db (argv borrowed). */
void effects_emit(struct effects *e, int db, int argc, const struct slice *argv);

#endif
