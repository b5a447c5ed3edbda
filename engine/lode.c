/*
 * lode.c - error names, panic, and the accounted allocator (see lode.h).
 */
#include "engine/lode.h"
#include "engine/buf.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LODE_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

static _Atomic size_t used_memory;

const char *lode_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case LODE_ENOMEM: return "out of memory";
    case LODE_EPROTO: return "protocol error";
    case LODE_ERANGE: return "value out of range";
    case LODE_ECORRUPT: return "data corrupted";
    case LODE_EVERSION: return "unknown format version";
    default: break;
    }
    if (err < 0 && err > LODE_EBASE) return strerror(-err);
    return "unknown error";
}

_Noreturn void lode_panic(const char *file, int line, const char *msg)
{
    fprintf(stderr, "lodestore panic at %s:%d: %s\n", file, line, msg);
    fflush(stderr);
    abort();
}

size_t lode_usable(const void *p)
{
    return p ? malloc_usable_size((void *)p) : 0;
}

static void *account(void *p)
{
    if (!p) LODE_PANIC("out of memory");
    atomic_fetch_add_explicit(&used_memory, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *lode_malloc(size_t n)
{
    return account(malloc(n ? n : 1));
}

void *lode_calloc(size_t n)
{
    return account(calloc(1, n ? n : 1));
}

void *lode_realloc(void *p, size_t n)
{
    if (!p) return lode_malloc(n);
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n ? n : 1);
    if (!q) LODE_PANIC("out of memory");
    atomic_fetch_sub_explicit(&used_memory, old, memory_order_relaxed);
    return account(q);
}

void lode_free(void *p)
{
    if (!p) return;
    atomic_fetch_sub_explicit(&used_memory, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

char *lode_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = lode_malloc(n);
    memcpy(d, s, n);
    return d;
}

size_t lode_used_memory(void)
{
    return atomic_load_explicit(&used_memory, memory_order_relaxed);
}

const char *lode_allocator_name(void)
{
#ifdef LODE_USE_JEMALLOC
    static char name[64];
    if (!name[0]) {
        const char *v = "unknown";
        size_t sz = sizeof(v);
        mallctl("version", &v, &sz, NULL, 0);
        snprintf(name, sizeof(name), "jemalloc-%.*s", (int)strcspn(v, "-"), v);
    }
    return name;
#else
    return "libc";
#endif
}

void lode_allocator_purge(void)
{
#ifdef LODE_USE_JEMALLOC
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    mallctl(cmd, NULL, NULL, NULL, 0);
#else
    malloc_trim(0);
#endif
}

#ifdef LODE_USE_JEMALLOC
static void stats_cb(void *opaque, const char *text)
{
    buf_append(opaque, text, strlen(text));
}
#endif

int lode_allocator_stats(struct buf *out)
{
#ifdef LODE_USE_JEMALLOC
    malloc_stats_print(stats_cb, out, NULL);
    return 0;
#else
    (void)out;
    return -1;
#endif
}
