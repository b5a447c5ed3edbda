/*
 * notify.c - keyspace event classes and the engine's notification call
 * (see notify.h).
 */
#include "engine/notify.h"
#include "engine/db.h"

#include <stdbool.h>

static const struct {
    char letter;
    int flag;
} letters[] = {
    {'g', NOTIFY_GENERIC},  {'$', NOTIFY_STRING},   {'l', NOTIFY_LIST},    {'s', NOTIFY_SET},
    {'h', NOTIFY_HASH},     {'z', NOTIFY_ZSET},     {'x', NOTIFY_EXPIRED}, {'e', NOTIFY_EVICTED},
    {'t', NOTIFY_STREAM},   {'d', NOTIFY_MODULE},   {'n', NOTIFY_NEW},     {'K', NOTIFY_KEYSPACE},
    {'E', NOTIFY_KEYEVENT}, {'m', NOTIFY_KEY_MISS},
};
#define NLETTERS (sizeof(letters) / sizeof(letters[0]))

int notify_parse_flags(const char *s, size_t n)
{
    int flags = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == 'A') {
            flags |= NOTIFY_ALL;
            continue;
        }
        size_t k = 0;
        while (k < NLETTERS && letters[k].letter != s[i]) k++;
        if (k == NLETTERS) return -1;
        flags |= letters[k].flag;
    }
    return flags;
}

void notify_render_flags(int flags, struct buf *out)
{
    /* the table is in Redis's rendering order: classes, n, then K E m */
    bool all = (flags & NOTIFY_ALL) == NOTIFY_ALL;
    if (all) buf_putc(out, 'A');
    for (size_t k = 0; k < NLETTERS; k++) {
        int f = letters[k].flag;
        bool in_a_branch = f != NOTIFY_KEYSPACE && f != NOTIFY_KEYEVENT && f != NOTIFY_KEY_MISS;
        if (all && in_a_branch) continue; /* covered by 'A' (and 'n' is dropped, as Redis) */
        if (flags & f) buf_putc(out, letters[k].letter);
    }
}

void notify_keyspace_event(struct engine *eng, int type, const char *event, struct db *db,
                           const char *key, size_t klen)
{
    int flags = eng->notify_flags;
    if (!eng->on_notify || !(flags & type) || !(flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)))
        return;
    eng->on_notify(eng, type, event, db, key, klen);
}
