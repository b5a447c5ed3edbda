/*
 * blocking.c - clients blocked on keys (see blocking.h for the protocol).
 *
 * Structures: a table of waited keys (struct bkey, keyed by db index +
 * key bytes), each with a FIFO chain of waits (struct bwait); one struct
 * bstate per blocked client holding its waits (one per distinct key), its
 * deadline timer and the value type its command pops. A bkey lives while
 * someone waits on it, or while it sits in the ready queue or is being
 * served (it is freed once neither holds). An unblocked client's bstate
 * stays (inactive) until its pipelined input has run, so a client freed in
 * between is simply dropped from that queue.
 */
#include "server/blocking.h"
#include "server/server.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <string.h>

struct bstate;

struct bwait {
    struct bwait *prev, *next; /* the key's FIFO chain */
    struct bkey *k;
    struct bstate *st;
};

struct bkey {
    struct dnode node;
    struct bwait *head, *tail;
    struct bkey *rnext; /* ready queue link */
    bool ready;         /* in the ready queue */
    bool busy;          /* being served: not freed when it empties */
    size_t len;         /* bytes of id: 4-byte db index + key */
    char id[];
};

struct bstate {
    struct client *c;
    const struct cmd_def *cmd;
    int db, type;
    long long deadline_ms; /* 0 = none */
    ev_timer timer;
    bool active;          /* blocked (false: served, input pending) */
    bool queued;          /* in the unblocked queue */
    struct bstate *unext; /* unblocked queue link */
    bool late;            /* deadline passed while a script ran */
    struct bstate *lnext; /* late queue link */
    int nwaits;
    struct bwait waits[];
};

static uint64_t bkey_hash(const struct dnode *n)
{
    const struct bkey *k = (const struct bkey *)n;
    return util_hash(k->id, k->len);
}

static bool bkey_match(const struct dnode *n, const void *key, size_t len)
{
    const struct bkey *k = (const struct bkey *)n;
    return k->len == len && memcmp(k->id, key, len) == 0;
}

static const struct dict_type bkey_type = {bkey_hash, bkey_match};

static struct dict keys; /* struct bkey */
static struct bkey *ready_head, *ready_tail;
static struct bstate *unblocked_head, *unblocked_tail;
static struct bstate *late_head, *late_tail; /* timeouts waiting for a script's end */
static long long nblocked;
static bool handling;

void blocking_init(void)
{
    dict_init(&keys, &bkey_type);
    srv.eng.on_key_ready = blocking_signal_key;
}

/* The table key of <db, key>: 4 bytes of db index, then the key. Returns
 * the length; tmp must hold 4 + klen bytes. */
static size_t make_id(char *tmp, int db, const char *key, size_t klen)
{
    uint32_t d = (uint32_t)db;
    memcpy(tmp, &d, 4);
    memcpy(tmp + 4, key, klen);
    return 4 + klen;
}

static struct bkey *bkey_get(int db, const char *key, size_t klen, bool create)
{
    char small[256];
    char *tmp = klen + 4 <= sizeof(small) ? small : lode_malloc(klen + 4);
    size_t len = make_id(tmp, db, key, klen);
    uint64_t h = util_hash(tmp, len);
    struct bkey *k = (struct bkey *)dict_find(&keys, tmp, len, h);
    if (!k && create) {
        k = lode_calloc(sizeof(*k) + len);
        k->len = len;
        memcpy(k->id, tmp, len);
        dict_add(&keys, &k->node, h);
    }
    if (tmp != small) lode_free(tmp);
    return k;
}

static void bkey_maybe_free(struct bkey *k)
{
    if (k->head || k->ready || k->busy) return;
    dict_unlink(&keys, k->id, k->len, util_hash(k->id, k->len));
    lode_free(k);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents);

void blocking_block(struct client *c, const struct cmd_block *req)
{
    if (c->blk) blocking_client_gone(c); /* an earlier wait whose input is still queued */
    struct bstate *st = lode_calloc(sizeof(*st) + sizeof(struct bwait) * (size_t)req->nkeys);
    st->c = c;
    st->cmd = cmd_lookup(c->argv[0].ptr, c->argv[0].len);
    st->db = c->sess.db;
    st->type = req->type;
    st->deadline_ms = req->deadline_ms;
    st->active = true;
    for (int i = 0; i < req->nkeys; i++) {
        const struct slice *key = &c->argv[req->first_key + i];
        struct bkey *k = bkey_get(st->db, key->ptr, key->len, true);
        bool dup = false;
        for (int j = 0; j < st->nwaits; j++) dup |= st->waits[j].k == k;
        if (dup) continue;
        struct bwait *w = &st->waits[st->nwaits++];
        w->k = k;
        w->st = st;
        w->next = NULL;
        w->prev = k->tail;
        if (k->tail)
            k->tail->next = w;
        else
            k->head = w;
        k->tail = w;
    }
    if (st->deadline_ms) {
        double after = (double)(st->deadline_ms - srv.eng.now_ms) / 1000.0;
        ev_timer_init(&st->timer, on_timeout, after > 0 ? after : 0, 0);
        st->timer.data = st;
        ev_timer_start(srv.loop, &st->timer);
    }
    c->blk = st;
    c->flags |= CL_BLOCKED;
    nblocked++;
}

bool blocking_is_blocked(const struct client *c)
{
    return c->blk && c->blk->active;
}

long long blocking_count(void)
{
    return nblocked;
}

/* Ends the wait of st: unlinks its waits and stops the timer. The
 * client's command stays in c->argv for the caller to finish. */
static void stop_waiting(struct bstate *st)
{
    if (!st->active) return;
    st->active = false;
    for (int i = 0; i < st->nwaits; i++) {
        struct bwait *w = &st->waits[i];
        struct bkey *k = w->k;
        if (w->prev)
            w->prev->next = w->next;
        else
            k->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        else
            k->tail = w->prev;
        bkey_maybe_free(k);
    }
    st->nwaits = 0;
    if (st->deadline_ms) ev_timer_stop(srv.loop, &st->timer);
    if (st->late) {
        struct bstate *prev = NULL;
        for (struct bstate *s = late_head; s; prev = s, s = s->lnext) {
            if (s != st) continue;
            if (prev)
                prev->lnext = s->lnext;
            else
                late_head = s->lnext;
            if (late_tail == s) late_tail = prev;
            break;
        }
        st->late = false;
    }
    st->c->flags &= ~CL_BLOCKED;
    nblocked--;
}

/* The client's blocked command is over (served, timed out or unblocked):
 * forget it and queue the client so its pipelined input runs. */
static void finish(struct bstate *st)
{
    stop_waiting(st);
    struct client *c = st->c;
    c->argc = 0;
    resp_next(&c->parser);
    client_schedule_write(c);
    st->queued = true;
    st->unext = NULL;
    if (unblocked_tail)
        unblocked_tail->unext = st;
    else
        unblocked_head = st;
    unblocked_tail = st;
}

void blocking_client_gone(struct client *c)
{
    struct bstate *st = c->blk;
    if (!st) return;
    stop_waiting(st);
    if (st->queued) {
        struct bstate *prev = NULL;
        for (struct bstate *s = unblocked_head; s; prev = s, s = s->unext) {
            if (s != st) continue;
            if (prev)
                prev->unext = s->unext;
            else
                unblocked_head = s->unext;
            if (unblocked_tail == s) unblocked_tail = prev;
            break;
        }
    }
    c->blk = NULL;
    lode_free(st);
}

void blocking_signal_key(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    (void)eng;
    if (!nblocked) return;
    if (!key) {
        struct dict_iter it;
        dict_iter_init(&it, &keys);
        for (struct dnode *n; (n = dict_iter_next(&it));) {
            struct bkey *k = (struct bkey *)n;
            uint32_t d;
            memcpy(&d, k->id, 4);
            if ((int)d == db->id && k->head) blocking_signal_key(eng, db, k->id + 4, k->len - 4);
        }
        dict_iter_release(&it);
        return;
    }
    struct bkey *k = bkey_get(db->id, key, klen, false);
    if (!k || k->ready || !k->head) return;
    k->ready = true;
    k->rnext = NULL;
    if (ready_tail)
        ready_tail->rnext = k;
    else
        ready_head = k;
    ready_tail = k;
}

/* Writes the timeout (null array) or the CLIENT UNBLOCK error to c. */
static void reply_unblocked(struct client *c, bool as_error)
{
    static struct buf discard;
    bool skip = (c->flags & CL_REPLY_OFF) != 0;
    size_t start = c->out.len;
    struct reply r;
    reply_init(&r, skip ? &discard : &c->out, c->sess.resp);
    if (as_error) {
        reply_error(&r, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
        srv.stat_total_error_replies++;
        stats_count_error("UNBLOCKED");
    } else {
        reply_null_array(&r);
    }
    discard.len = 0;
    /* a reply after held ones must not overtake them */
    if (!skip) persist_hold_reply(c, start);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    struct bstate *st = w->data;
    if (scripting_running()) {
        /* the loop turns inside a busy script: as Redis, the timeout is
         * served after the script (which may yet serve the client) */
        st->late = true;
        st->lnext = NULL;
        if (late_tail)
            late_tail->lnext = st;
        else
            late_head = st;
        late_tail = st;
        return;
    }
    reply_unblocked(st->c, false);
    finish(st);
    blocking_handle_ready();
}

bool blocking_unblock(struct client *c, bool as_error)
{
    if (!blocking_is_blocked(c)) return false;
    reply_unblocked(c, as_error);
    finish(c->blk);
    return true;
}

/* Serves the clients waiting for k, in order, while k holds a value. */
static void serve_key(struct bkey *k)
{
    uint32_t dbi;
    memcpy(&dbi, k->id, 4);
    struct db *db = &srv.eng.dbs[dbi];
    struct slice key = {k->id + 4, k->len - 4};
    k->busy = true;
    for (struct bwait *w = k->head, *next; w; w = next) {
        next = w->next;
        srv.eng.now_ms = util_ms_now();
        struct kv *kv = db_find(db, key.ptr, key.len);
        if (!kv || db_is_expired(&srv.eng, db, kv)) break;
        struct bstate *st = w->st;
        if (kv->type != st->type) continue; /* keeps waiting, as in Redis 7.0 */
        if (!dispatch_serve(st->c, st->cmd, &key)) finish(st);
    }
    k->busy = false;
    bkey_maybe_free(k);
}

void blocking_handle_ready(void)
{
    /* a busy script lets the loop turn (other clients get BUSY): serving
     * now would pop in the middle of the script and log its partial
     * effects; the script's own command serves after it ends */
    if (handling || scripting_running()) return;
    handling = true;
    for (;;) {
        while (ready_head) {
            struct bkey *k = ready_head;
            ready_head = k->rnext;
            if (!ready_head) ready_tail = NULL;
            k->ready = false;
            serve_key(k);
        }
        while (late_head) { /* timeouts that passed during a script */
            struct bstate *st = late_head;
            reply_unblocked(st->c, false);
            finish(st);
        }
        if (!unblocked_head) break;
        struct bstate *st = unblocked_head;
        unblocked_head = st->unext;
        if (!unblocked_head) unblocked_tail = NULL;
        struct client *c = st->c;
        c->blk = NULL;
        lode_free(st);
        /* its pipelined commands; they may block it again or make keys ready */
        client_process_input(c);
        client_schedule_write(c);
    }
    handling = false;
}
