/*
 * effects.c - the effects buffer (see effects.h).
 */
#include "engine/effects.h"
#include "engine/cmd.h"
#include "engine/util.h"

void effects_init(struct effects *e)
{
    buf_init(&e->cmds);
    e->n = 0;
    e->start_db = e->cur_db = 0;
    e->enabled = true;
}

void effects_release(struct effects *e)
{
    buf_release(&e->cmds);
    e->n = 0;
}

void effects_reset(struct effects *e)
{
    e->cmds.len = 0;
    e->n = 0;
    /* a big transaction's buffer is not kept around */
    if (e->cmds.cap > (1u << 20)) buf_release(&e->cmds);
}

static void append_array(struct buf *b, int argc, const struct slice *argv)
{
    char num[UTIL_LLSTR_SIZE];
    buf_putc(b, '*');
    buf_append(b, num, (size_t)util_ll2str(num, argc));
    buf_append(b, "\r\n", 2);
    for (int i = 0; i < argc; i++) {
        buf_putc(b, '$');
        buf_append(b, num, (size_t)util_ll2str(num, (long long)argv[i].len));
        buf_append(b, "\r\n", 2);
        buf_append(b, argv[i].ptr, argv[i].len);
        buf_append(b, "\r\n", 2);
    }
}

void effects_emit(struct effects *e, int db, int argc, const struct slice *argv)
{
    if (!e->enabled) return;
    if (e->n == 0) {
        e->start_db = e->cur_db = db;
    } else if (db != e->cur_db) {
        char num[UTIL_LLSTR_SIZE];
        struct slice sel[2] = {{"SELECT", 6}, {num, (size_t)util_ll2str(num, db)}};
        append_array(&e->cmds, 2, sel);
        e->n++;
        e->cur_db = db;
    }
    append_array(&e->cmds, argc, argv);
    e->n++;
}
