/*
 * txn_load.c - a load generator for MULTI/EXEC, which redis-benchmark
 * cannot send (it repeats single commands). Used by bench/txn_bench.py.
 *
 *   txn_load PORT CONNECTIONS TRANSACTIONS [KEYSPACE]
 *
 * Each connection sends MULTI, INCR a:<r>, INCR b:<r>, SET c:<r> <16 bytes>,
 * GET a:<r>, INCR d:<r>, EXEC (r random below KEYSPACE, default 100000) as
 * one write, waits for the transaction's 7 replies (the EXEC reply is an
 * array of 5), then sends the next, until TRANSACTIONS are done in all.
 * Prints "transactions/s" as a number on stdout; exits 1 on an error reply
 * or a closed connection. One thread, epoll, 127.0.0.1 only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define INBUF     65536

struct conn {
    int fd;
    char in[INBUF];
    size_t len;
    int replies;  /* top-level replies of the current transaction seen */
    int depth;    /* open arrays */
    long left[8]; /* items left in each open array */
};

static unsigned long long rng = 88172645463325252ull;

static unsigned long long next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int append_cmd(char *out, int argc, const char **argv)
{
    int n = sprintf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += sprintf(out + n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    return n;
}

static void send_txn(struct conn *c, long keyspace)
{
    char out[1024], a[32], b[32], cc[32], d[32];
    long r = (long)(next_rand() % (unsigned long long)keyspace);
    snprintf(a, sizeof(a), "a:%ld", r);
    snprintf(b, sizeof(b), "b:%ld", r);
    snprintf(cc, sizeof(cc), "c:%ld", r);
    snprintf(d, sizeof(d), "d:%ld", r);
    int n = 0;
    n += append_cmd(out + n, 1, (const char *[]){"MULTI"});
    n += append_cmd(out + n, 2, (const char *[]){"INCR", a});
    n += append_cmd(out + n, 2, (const char *[]){"INCR", b});
    n += append_cmd(out + n, 3, (const char *[]){"SET", cc, "vvvvvvvvvvvvvvvv"});
    n += append_cmd(out + n, 2, (const char *[]){"GET", a});
    n += append_cmd(out + n, 2, (const char *[]){"INCR", d});
    n += append_cmd(out + n, 1, (const char *[]){"EXEC"});
    for (int off = 0; off < n;) {
        ssize_t w = write(c->fd, out + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("write");
        off += (int)w;
    }
}

/* Consumes complete replies from c->in; returns how many transactions
 * (7 top-level replies each) completed. */
static int parse(struct conn *c)
{
    int done = 0;
    size_t pos = 0;
    for (;;) {
        char *nl = memchr(c->in + pos, '\n', c->len - pos);
        if (!nl) break;
        size_t line_end = (size_t)(nl - c->in) + 1;
        char type = c->in[pos];
        long v = strtol(c->in + pos + 1, NULL, 10);
        size_t next = line_end;
        if (type == '-') {
            fprintf(stderr, "error reply: %.*s\n", (int)(line_end - pos), c->in + pos);
            exit(1);
        }
        if (type == '$' && v >= 0) {
            if (c->len < line_end + (size_t)v + 2) break; /* the bulk is not all here */
            next = line_end + (size_t)v + 2;
        }
        pos = next;
        if (type == '*' && v > 0) {
            if (c->depth == 8) {
                fprintf(stderr, "nesting too deep\n");
                exit(1);
            }
            c->left[c->depth++] = v;
            continue;
        }
        /* one value ends: close the arrays it completes */
        while (c->depth && --c->left[c->depth - 1] == 0) c->depth--;
        if (c->depth) continue;
        if (++c->replies == 7) {
            c->replies = 0;
            done++;
        }
    }
    memmove(c->in, c->in + pos, c->len - pos);
    c->len -= pos;
    return done;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: txn_load PORT CONNECTIONS TRANSACTIONS [KEYSPACE]\n");
        return 2;
    }
    int port = atoi(argv[1]), nconn = atoi(argv[2]);
    long total = atol(argv[3]), keyspace = argc > 4 ? atol(argv[4]) : 100000;
    if (nconn < 1 || nconn > MAX_CONNS || total < 1 || keyspace < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    static struct conn conns[MAX_CONNS];
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conns[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long sent = 0, done = 0;
    for (int i = 0; i < nconn && sent < total; i++, sent++) send_txn(&conns[i], keyspace);
    struct epoll_event evs[256];
    while (done < total) {
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("epoll_wait (no reply for 10 s)");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) die("read (connection closed)");
            c->len += (size_t)r;
            int k = parse(c);
            done += k;
            for (int j = 0; j < k && sent < total; j++, sent++) send_txn(c, keyspace);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.0f\n", (double)done / s);
    for (int i = 0; i < nconn; i++) close(conns[i].fd);
    return 0;
}
