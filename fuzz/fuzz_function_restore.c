/*
 * fuzz_function_restore.c - libFuzzer target for FUNCTION RESTORE: the
 * payload decoder (engine/fdump.h) and the restore that loads each library's
 * code again (lua/script.h).
 *
 * The input is restored with each policy into an engine holding one
 * library. Asserts: no crash or out-of-bounds access (ASan); a payload
 * fdump_decode refuses is refused by the restore with "ERR DUMP payload
 * version or checksum are wrong"; a failed restore leaves the libraries as
 * they were (the same DUMP); a decoded payload re-encodes to the same bytes;
 * and a successful FLUSH restore dumps back to the same libraries.
 */
#include "engine/lode.h"
#include "engine/fdump.h"
#include "lua/script.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char BASE[] = "#!lua name=base\nredis.register_function('b', function() return 1 end)";

static long long no_call(void *priv, const struct cmd_def *cmd, int argc, const struct slice *argv,
                         int resp, struct buf *out)
{
    (void)priv, (void)cmd, (void)argc, (void)argv, (void)resp, (void)out;
    abort(); /* load-time code cannot reach redis.call */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct script_host host = {.call = no_call};
    struct script_engine *se = script_new(&host);
    struct buf name = BUF_INIT, err = BUF_INIT, before = BUF_INIT, after = BUF_INIT;
    if (script_function_load(se, BASE, sizeof(BASE) - 1, false, &name, &err) != 0) abort();
    const char *p = (const char *)data;
    struct fdump_lib *libs;
    int n;
    bool decodes = fdump_decode(p, size, &libs, &n) == 0;
    if (decodes) {
        struct buf again = BUF_INIT;
        fdump_encode(&again, n, libs);
        if (again.len != size || memcmp(again.ptr, p, size) != 0) abort();
        buf_release(&again);
        lode_free(libs);
    }
    for (int policy = SCRIPT_RESTORE_APPEND; policy <= SCRIPT_RESTORE_FLUSH; policy++) {
        before.len = after.len = err.len = 0;
        script_function_dump(se, &before);
        int rc = script_function_restore(se, p, size, (enum script_restore_policy)policy, &err);
        script_function_dump(se, &after);
        if (!decodes && (rc == 0 || strcmp(err.ptr, "ERR DUMP payload version or checksum are "
                                                    "wrong") != 0))
            abort();
        if (rc != 0 && (before.len != after.len || memcmp(before.ptr, after.ptr, after.len) != 0))
            abort();
        if (rc == 0 && policy == SCRIPT_RESTORE_FLUSH &&
            (after.len != size || memcmp(after.ptr, p, size) != 0))
            abort();
    }
    buf_release(&name);
    buf_release(&err);
    buf_release(&before);
    buf_release(&after);
    script_free(se);
    return 0;
}
