/*
 * fuzz_resp.c - libFuzzer target for the RESP request parser.
 *
 * Asserts: the parser never reads outside the buffer (ASan), never returns
 * an argument outside the query buffer, and parses the same commands
 * whether the input arrives at once or split into pieces at arbitrary
 * points (the first byte of the input picks the piece size), with the
 * buffer compacted between pieces as the server does.
 */
#include "engine/buf.h"
#include "engine/lode.h"
#include "server/resp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CMDS 256

struct outcome {
    int ncmd;
    int status; /* last status: error or not */
    uint64_t digest[MAX_CMDS];
};

static uint64_t fold(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

static void run(const uint8_t *data, size_t size, size_t piece, struct outcome *o)
{
    struct resp_parser p;
    struct buf q = BUF_INIT;
    struct resp_limits lim = {1024 * 1024, true};
    resp_parser_init(&p);
    memset(o, 0, sizeof(*o));
    size_t fed = 0;
    struct slice *argv = NULL;
    int cap = 0;
    bool done = false;
    while (!done) {
        size_t n = size - fed < piece ? size - fed : piece;
        buf_append(&q, data + fed, n);
        fed += n;
        for (;;) {
            const char *err = NULL;
            int rc = resp_parse(&p, &q, &lim, &err);
            if (rc == RESP_NEED_MORE) break;
            if (rc == RESP_ERROR) {
                if (!err || strncmp(err, "ERR Protocol error", 18) != 0) abort();
                o->status = -1;
                done = true;
                break;
            }
            if (rc == RESP_COMMAND) {
                if (p.argc > cap) {
                    cap = p.argc;
                    argv = realloc(argv, sizeof(*argv) * (size_t)cap);
                }
                int argc = resp_args(&p, &q, argv);
                uint64_t h = 0xcbf29ce484222325ULL;
                for (int i = 0; i < argc; i++) {
                    if (!p.is_inline &&
                        (argv[i].ptr < q.ptr || argv[i].ptr + argv[i].len > q.ptr + q.len))
                        abort();
                    h = fold(h, &argv[i].len, sizeof(argv[i].len));
                    h = fold(h, argv[i].ptr, argv[i].len);
                }
                if (o->ncmd < MAX_CMDS) o->digest[o->ncmd] = h;
                o->ncmd++;
            }
            resp_next(&p);
        }
        resp_compact(&p, &q);
        if (fed == size) done = true;
    }
    free(argv);
    resp_parser_release(&p);
    buf_release(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t piece = (size_t)(data[0] % 17) + 1;
    struct outcome whole, split;
    run(data + 1, size - 1, size, &whole);
    run(data + 1, size - 1, piece, &split);
    /* an error may surface after a different number of commands only if
     * it happens; otherwise the command streams must be identical */
    if (whole.status == 0 && split.status == 0) {
        if (whole.ncmd != split.ncmd) abort();
        int n = whole.ncmd < MAX_CMDS ? whole.ncmd : MAX_CMDS;
        if (memcmp(whole.digest, split.digest, sizeof(uint64_t) * (size_t)n) != 0) abort();
    }
    return 0;
}
